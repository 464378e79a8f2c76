//! Retention: derived artifacts past their TTL are removed; the audit log is pruned only where a
//! verified backup bundle holds the events and a signed checkpoint marks the cut, so the chain
//! still verifies from there.
//!
//! Architecture Invariant: an audit event is deleted only at or below a signed prune point that
//! names a signed checkpoint and a backup bundle that verified with this brain's key and holds
//! that very event; the schema refuses every other delete.

use std::path::Path;

use serde::Serialize;

use super::backup::{bundles_in, read_bundle_dir};
use super::{Caller, Engine, EngineError, event};
use crate::audit::bundle;
use crate::audit::canonical_json;
use crate::audit::checkpoint::{verify_bytes, verify_checkpoint};
use crate::config::RetentionConfig;
use crate::policy::decide::Action;
use crate::store::{AuditPrune, Checkpoint};

/// What a closed proposal's input becomes once its payload is pruned.
pub const PRUNED_INPUT: &str = r#"{"$pruned":"retention"}"#;

/// What a retention run removed (or, in a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RetentionReport {
    pub dry_run: bool,
    pub snapshots_deleted: u64,
    pub diffs_cleared: u64,
    pub proposal_payloads_pruned: u64,
    pub connector_readings_deleted: u64,
    pub audit: AuditRetention,
}

/// The audit part of a retention run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, schemars::JsonSchema)]
pub struct AuditRetention {
    pub events_pruned: u64,
    /// The new prune point, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub through_seq: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// Why nothing (more) was pruned, when audit retention is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_back: Option<String>,
}

/// The bytes a prune point's signature covers.
pub fn prune_signed_bytes(prune: &AuditPrune) -> Vec<u8> {
    let mut value = serde_json::to_value(prune).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("signature");
    }
    canonical_json(&value).into_bytes()
}

/// Check a prune point against the key that must have signed it; the problem when it fails.
pub fn check_prune(prune: &AuditPrune, public_key: &str) -> Result<(), String> {
    if prune.public_key != public_key {
        return Err(format!(
            "the prune point at event {} was signed by a different key",
            prune.through_seq
        ));
    }
    verify_bytes(public_key, &prune_signed_bytes(prune), &prune.signature).map_err(|_| {
        format!(
            "the prune point at event {} has a bad signature",
            prune.through_seq
        )
    })?;
    if prune.checkpoint.seq != prune.through_seq || prune.checkpoint.hash != prune.hash {
        return Err(format!(
            "the prune point at event {} does not match its checkpoint",
            prune.through_seq
        ));
    }
    verify_checkpoint(&prune.checkpoint, Some(public_key)).map_err(|problem| {
        format!(
            "the prune point's checkpoint at event {}: {problem}",
            prune.through_seq
        )
    })
}

impl Engine {
    /// The newest prune point, after checking every one against this brain's key: a prune
    /// point nobody signed could otherwise let events be deleted and the gap laundered by the
    /// next backup and prune.
    pub(crate) async fn newest_prune(&self) -> Result<Option<AuditPrune>, EngineError> {
        let tampered = |problem: String| {
            EngineError::Conflict {
            message: format!("{problem}; nothing was exported or pruned"),
            help: Some(
                "the audit log's prune points were tampered with: run `brain audit verify` and see docs/runbooks/database-corruption.md"
                    .into(),
            ),
        }
        };
        let prunes = match self.store.audit_prunes().await {
            Ok(prunes) => prunes,
            Err(crate::store::StoreError::Corrupt(problem)) => return Err(tampered(problem)),
            Err(error) => return Err(error.into()),
        };
        let public_key = self.signer.public_key_hex();
        for prune in &prunes {
            check_prune(prune, &public_key).map_err(tampered)?;
        }
        Ok(prunes.into_iter().last())
    }

    /// Apply `config`'s TTLs now (or, with `dry_run`, count what would go). Staff only, through
    /// the audit area's policy; a real run is audited.
    pub async fn retention(
        &self,
        caller: &Caller,
        config: &RetentionConfig,
        backup_dir: &Path,
        dry_run: bool,
    ) -> Result<RetentionReport, EngineError> {
        self.authorize_area(caller, Action::Audit).await?;
        let now = crate::clock::now();
        let cutoff = |ttl: Option<crate::config::Duration>| {
            ttl.map(|ttl| {
                crate::clock::format_time(
                    now - chrono::Duration::from_std(ttl.as_std()).unwrap_or(chrono::Duration::MAX),
                )
            })
        };
        // Quotas count executions from the log itself, and recovery reads an interrupted
        // execution's events: never prune an execution a quota window still counts, nor while
        // an execution is unresolved.
        let keep_from = self.first_counted_execution(now).await?;
        let executing = !self
            .store
            .proposals(&crate::store::ProposalFilter {
                state: Some(crate::engine::lifecycle::ProposalState::Executing),
                limit: 1,
                ..Default::default()
            })
            .await?
            .is_empty();
        let audit_cut = match cutoff(config.audit_events) {
            Some(_) if executing => Some(Err(
                "an execution is unresolved (`brain proposals recover`); its events are kept"
                    .into(),
            )),
            Some(before) => Some(
                self.audit_prune_point(caller, &before, keep_from, backup_dir)
                    .await?,
            ),
            None => None,
        };
        let mut tx = self.store.begin().await?;
        let mut report = RetentionReport {
            dry_run,
            snapshots_deleted: 0,
            diffs_cleared: 0,
            proposal_payloads_pruned: 0,
            connector_readings_deleted: 0,
            audit: AuditRetention::default(),
        };
        if let Some(before) = cutoff(config.diffs) {
            report.diffs_cleared = tx.clear_snapshot_diffs(&before).await?;
        }
        if let Some(before) = cutoff(config.snapshots) {
            report.snapshots_deleted = tx.prune_snapshots(&before).await?;
        }
        if let Some(before) = cutoff(config.proposal_payloads) {
            report.proposal_payloads_pruned =
                tx.prune_proposal_payloads(&before, PRUNED_INPUT).await?;
        }
        if let Some(before) = cutoff(config.connector_readings) {
            report.connector_readings_deleted = tx
                .prune_runtime(crate::snapshot::DEVICES_KV_PREFIX, &before)
                .await?;
        }
        match audit_cut {
            Some(Ok((prune, bundle_dir))) => {
                report.audit.through_seq = Some(prune.through_seq);
                report.audit.bundle = Some(bundle_dir);
                report.audit.events_pruned = tx.prune_audit(&prune).await?;
            }
            Some(Err(held_back)) => report.audit.held_back = Some(held_back),
            None => {}
        }
        if dry_run {
            // Counted inside the transaction, then rolled back: nothing changes.
            drop(tx);
            return Ok(report);
        }
        self.append(
            &mut *tx,
            event(&caller.id, "retention", "succeeded")
                .detail(serde_json::to_value(&report).unwrap_or_default()),
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// The sequence number of the oldest allowed `execute` that a quota window still counts.
    async fn first_counted_execution(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<i64>, EngineError> {
        let mut tx = self.store.begin().await?;
        let mut first: Option<i64> = None;
        for manifest in self.policy.manifests.values() {
            let counted = super::facts::counted_executions(&mut *tx, manifest, now)
                .await?
                .into_iter()
                .map(|event| event.seq)
                .min();
            first = match (first, counted) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        drop(tx);
        Ok(first)
    }

    /// The newest prune point the audit TTL allows: the latest signed checkpoint whose event is
    /// older than `before`, held by the newest backup bundle that verifies, above the current
    /// prune point. `Err(reason)` says why there is none.
    async fn audit_prune_point(
        &self,
        caller: &Caller,
        before: &str,
        keep_from: Option<i64>,
        backup_dir: &Path,
    ) -> Result<Result<(AuditPrune, String), String>, EngineError> {
        let public_key = self.signer.public_key_hex();
        let pruned_through = self
            .newest_prune()
            .await?
            .map_or(0, |prune| prune.through_seq);
        let Some(dir) = bundles_in(backup_dir)?.pop() else {
            return Ok(Err(format!(
                "no backup bundle in `{}` holds the events; run `brain backup` first",
                backup_dir.display()
            )));
        };
        let files = read_bundle_dir(&dir)?;
        let verified = bundle::verify(
            &files.manifest,
            &files.events,
            files.records.as_deref(),
            Some(&public_key),
        );
        let (manifest, events) = match verified {
            Ok((manifest, events, report)) if report.log.ok => (manifest, events),
            Ok((_, _, report)) => {
                return Ok(Err(format!(
                    "the newest bundle `{}` does not verify ({}); nothing is pruned",
                    dir.display(),
                    report.log.problems.join("; ")
                )));
            }
            Err(problem) => {
                return Ok(Err(format!(
                    "the newest bundle `{}` cannot be read ({problem}); nothing is pruned",
                    dir.display()
                )));
            }
        };
        if manifest.from_seq > pruned_through + 1 {
            return Ok(Err(format!(
                "the newest bundle starts at event {}, after the events still kept from {}",
                manifest.from_seq,
                pruned_through + 1
            )));
        }
        let checkpoints: Vec<Checkpoint> = self.store.checkpoints().await?;
        for checkpoint in checkpoints.iter().rev() {
            if checkpoint.seq <= pruned_through
                || checkpoint.seq > manifest.to_seq
                || keep_from.is_some_and(|keep| checkpoint.seq >= keep)
            {
                continue;
            }
            if verify_checkpoint(checkpoint, Some(&public_key)).is_err() {
                continue;
            }
            let in_store = self
                .store
                .audit_events(checkpoint.seq - 1, 1)
                .await?
                .into_iter()
                .next()
                .filter(|event| event.seq == checkpoint.seq);
            let Some(in_store) = in_store else {
                continue;
            };
            let in_bundle = events.iter().find(|event| event.seq == checkpoint.seq);
            if in_store.at.as_str() >= before
                || in_store.hash != checkpoint.hash
                || in_bundle.map(|event| &event.hash) != Some(&checkpoint.hash)
            {
                continue;
            }
            let mut prune = AuditPrune {
                through_seq: checkpoint.seq,
                hash: checkpoint.hash.clone(),
                checkpoint: checkpoint.clone(),
                bundle: dir.display().to_string(),
                bundle_events_sha256: manifest.events_sha256.clone(),
                at: crate::clock::format_time(crate::clock::now()),
                by: caller.id.clone(),
                public_key: public_key.clone(),
                signature: String::new(),
            };
            prune.signature = self.signer.sign_bytes(&prune_signed_bytes(&prune));
            return Ok(Ok((prune, dir.display().to_string())));
        }
        Ok(Err(format!(
            "no signed checkpoint above event {pruned_through} is both older than the TTL and held by the newest bundle"
        )))
    }
}
