//! StudioState snapshots through the Engine: each source's reads are authorized and audited as
//! `system:snapshotter` under their read capability (a kill switch on a target stops its reads),
//! the records are folded into a StudioState, and the snapshot, its diff from the previous one
//! and its audit event commit together. Freshness for decisions comes from the newest snapshot.
//!
//! Architecture Invariant: a source that could not be read (denied, failed, truncated) leaves
//! the snapshot partial with the reason named; nothing is counted as zero in its place.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Caller, Engine, EngineError, event, new_id};
use crate::cloud::{Source, capability_for};
use crate::policy::decide::Action;
use crate::snapshot::{
    self, Builder, CollectionProvenance, Provenance, SourceProvenance, StudioState,
};
use crate::store::SnapshotRecord;

/// The actor snapshot reads are made and audited as.
pub const SNAPSHOTTER: &str = "system:snapshotter";

/// How old the newest snapshot is, for decisions and the cockpit.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Freshness {
    /// Stale: no snapshot, a partial one, or one older than `thresholds.snapshot_stale_after`.
    pub stale: bool,
    /// Seconds since the newest snapshot was computed; `None` without one.
    pub age_seconds: Option<i64>,
    pub snapshot_id: Option<String>,
    pub complete: Option<bool>,
    /// Why it is stale, in words.
    pub reason: Option<String>,
}

impl Engine {
    /// Freshness of `latest` at `now`.
    pub(crate) fn freshness_of(
        &self,
        latest: Option<&crate::store::SnapshotMeta>,
        now: DateTime<Utc>,
    ) -> Freshness {
        let Some(latest) = latest else {
            return Freshness {
                stale: true,
                age_seconds: None,
                snapshot_id: None,
                complete: None,
                reason: Some("no snapshot yet".into()),
            };
        };
        let elapsed = crate::clock::parse_time(&latest.computed_at).map(|computed| now - computed);
        let age = elapsed.map(|elapsed| elapsed.num_seconds().max(0));
        let too_old = elapsed.is_none_or(|elapsed| elapsed > self.settings.snapshot_stale_after);
        let reason = if !latest.complete {
            Some("the newest snapshot is partial".to_string())
        } else if too_old {
            Some(format!(
                "the newest snapshot is older than {}",
                crate::clock::human_duration(self.settings.snapshot_stale_after.num_seconds())
            ))
        } else {
            None
        };
        Freshness {
            stale: reason.is_some(),
            age_seconds: age,
            snapshot_id: Some(latest.id.clone()),
            complete: Some(latest.complete),
            reason,
        }
    }

    /// Freshness now, for display.
    pub async fn freshness(&self) -> Result<Freshness, EngineError> {
        let latest = self.store.snapshots(1).await?.into_iter().next();
        Ok(self.freshness_of(
            latest.map(|record| record.meta()).as_ref(),
            crate::clock::now(),
        ))
    }

    /// Compute and record a snapshot from `sources`. `tolerance` is the drift allowed between a
    /// local count and the source's own count. `progress(collection, documents)` is called as
    /// each collection finishes.
    pub async fn take_snapshot(
        &self,
        sources: &[Arc<dyn Source>],
        tolerance: u64,
        mut progress: impl FnMut(&str, u64),
    ) -> Result<SnapshotRecord, EngineError> {
        let started = crate::clock::now();
        let model = self.policy.state_model.clone();
        let mut builder = Builder::new(started, model.clone());
        let mut provenance = Provenance {
            model: Some(model.reference()),
            ..Provenance::default()
        };
        let mut local_counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut cloud_counts: BTreeMap<String, u64> = BTreeMap::new();
        for source in sources {
            let mut source_provenance = SourceProvenance {
                source: source.name().to_string(),
                location: source.location(),
                read_time: crate::clock::format_time(crate::clock::now()),
                ..SourceProvenance::default()
            };
            let mut allowed: BTreeMap<&'static str, Result<(), String>> = BTreeMap::new();
            for collection in source.collections() {
                let capability = capability_for(&collection);
                let verdict = match allowed.get(capability) {
                    Some(verdict) => verdict.clone(),
                    None => {
                        let detail = serde_json::json!({ "source": source.name(), "location": source.location() });
                        let verdict =
                            match self.authorize_read(SNAPSHOTTER, capability, detail).await {
                                Ok(_) => Ok(()),
                                Err(EngineError::Denied(denial)) => Err(format!(
                                    "reading is denied ({})",
                                    denial.reason_codes.join(", ")
                                )),
                                Err(other) => return Err(other),
                            };
                        allowed.insert(capability, verdict.clone());
                        verdict
                    }
                };
                let mut read = CollectionProvenance {
                    collection: collection.clone(),
                    ..CollectionProvenance::default()
                };
                if let Err(problem) = verdict {
                    read.problem = Some(problem);
                    source_provenance.collections.push(read);
                    continue;
                }
                builder.begin(&collection);
                let mut each = |record: snapshot::Record| builder.add(&collection, &record);
                match source.read(&collection, &mut each).await {
                    Ok(summary) => {
                        read.documents_read = summary.documents;
                        read.newest_update_time = summary.newest_update_time;
                        read.complete = true;
                        local_counts.insert(collection.clone(), summary.documents);
                        if let Ok(Some(count)) = source.count(&collection).await {
                            cloud_counts.insert(collection.clone(), count);
                        }
                    }
                    Err(error) => {
                        builder.failed(&collection);
                        read.problem = Some(error.to_string());
                    }
                }
                progress(&collection, read.documents_read);
                source_provenance.collections.push(read);
            }
            source_provenance.documents_read = source_provenance
                .collections
                .iter()
                .map(|read| read.documents_read)
                .sum();
            source_provenance.newest_update_time = source_provenance
                .collections
                .iter()
                .filter_map(|read| read.newest_update_time.clone())
                .max();
            source_provenance.failed = source_provenance
                .collections
                .iter()
                .filter(|read| !read.complete)
                .map(|read| read.collection.clone())
                .collect();
            source_provenance.completeness = if source_provenance.failed.is_empty() {
                "full".into()
            } else {
                "partial".into()
            };
            provenance.sources.push(source_provenance);
        }
        // Device readings the connectors recorded (the daemon's polling) join the state as
        // they were observed; an unreadable record is left out and named in the log.
        for entry in self.store.kv_list(snapshot::DEVICES_KV_PREFIX).await? {
            let Some(id) = entry.key.strip_prefix(snapshot::DEVICES_KV_PREFIX) else {
                continue;
            };
            match serde_json::from_str::<snapshot::ConnectorDevices>(&entry.value) {
                Ok(devices) => builder.devices(id, devices),
                Err(error) => {
                    tracing::warn!(connector = %id, error = %error, "unreadable device readings left out of the snapshot")
                }
            }
        }
        let state = builder.finish();
        provenance.content_hash = snapshot::content_hash(&state);
        let drift = snapshot::drift(&local_counts, &cloud_counts, tolerance);
        let complete = provenance.complete();

        let mut tx = self.store.begin().await?;
        let previous = tx.latest_snapshot().await?;
        let changes = match previous.as_ref().and_then(|previous| {
            serde_json::from_value::<StudioState>(previous.state.clone())
                .ok()
                .map(|state| (previous, state))
        }) {
            Some((previous, before)) => {
                let mut changes = snapshot::diff(&before, &state);
                // Counts made under another model differ because the rules did: say so first.
                let before_model =
                    serde_json::from_value::<Provenance>(previous.provenance.clone())
                        .ok()
                        .and_then(|provenance| provenance.model);
                if before_model.as_ref() != provenance.model.as_ref() {
                    changes.insert(
                        0,
                        snapshot::FieldChange {
                            field: snapshot::MODEL_CHANGE.into(),
                            from: serde_json::to_value(&before_model).unwrap_or_default(),
                            to: serde_json::to_value(&provenance.model).unwrap_or_default(),
                        },
                    );
                }
                changes
            }
            None => Vec::new(),
        };
        let now = crate::clock::now();
        let record = SnapshotRecord {
            id: new_id("s")?,
            computed_at: crate::clock::format_time(now),
            schema_version: i64::from(snapshot::SCHEMA_VERSION),
            complete,
            content_hash: provenance.content_hash.clone(),
            state: serde_json::to_value(&state).unwrap_or_default(),
            provenance: serde_json::to_value(&provenance).unwrap_or_default(),
            previous_id: previous.map(|previous| previous.id),
            diff: serde_json::to_value(&changes).unwrap_or_default(),
            drift: serde_json::to_value(&drift).unwrap_or_default(),
        };
        tx.insert_snapshot(&record).await?;
        let failed: Vec<String> = provenance
            .sources
            .iter()
            .flat_map(|source| source.failed.iter().cloned())
            .collect();
        self.append(
            &mut *tx,
            event(SNAPSHOTTER, "snapshot", if complete { "succeeded" } else { "partial" })
                .output_hash(Some(record.content_hash.clone()))
                .detail(serde_json::json!({
                    "snapshot": record.id,
                    "documents": provenance.sources.iter().map(|source| source.documents_read).sum::<u64>(),
                    "failed": failed,
                    "changes": changes.len(),
                    "drift": drift.len(),
                    "seconds": (now - started).num_milliseconds() as f64 / 1000.0,
                })),
        )
        .await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Snapshots, newest first (derived from cloud).
    pub async fn snapshots(
        &self,
        caller: &Caller,
        limit: i64,
    ) -> Result<Vec<SnapshotRecord>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        Ok(self.store.snapshots(limit.clamp(1, 1_000)).await?)
    }

    /// One snapshot, or the newest.
    pub async fn snapshot(
        &self,
        caller: &Caller,
        id: Option<&str>,
    ) -> Result<SnapshotRecord, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        let found = match id {
            Some(id) => self.store.snapshot(id).await?,
            None => self.store.snapshots(1).await?.into_iter().next(),
        };
        found.ok_or_else(|| EngineError::NotFound {
            what: "snapshot",
            id: id.unwrap_or("latest").to_string(),
        })
    }
}
