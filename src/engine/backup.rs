//! Backups and rebuilds: local state is disposable. A backup is an audit export bundle that also
//! carries the Engine's records (`records.json`: actors with their token hashes, delegations,
//! proposals, approvals, exemption records, runtime state such as kill switches, and every
//! signed checkpoint), all read at one audit head. A rebuild verifies such a bundle with this
//! brain's signing key and writes it into an empty store in one transaction; the snapshot is
//! then recomputed from the cloud.
//!
//! Architecture Invariant: a bundle is restored only after it verified (signature by this
//! brain's key, file hashes, the whole chain), only into an empty store, and in one transaction:
//! a failed rebuild leaves the store as empty as it found it.

use serde::{Deserialize, Serialize};

use super::{AuditExport, Caller, Engine, EngineError, event};
use crate::audit::bundle;
use crate::store::{
    Actor, Approval, AuditPrune, Checkpoint, Delegation, ExemptionRecord, KvEntry, Proposal,
    ProposalFilter,
};

pub const RECORDS_FORMAT: &str = "brain-records/1";

/// How many times a backup re-reads when the log moved while it read.
const CONSISTENT_READ_ATTEMPTS: usize = 5;

/// An actor with its token hash (the API's `Actor` never shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRecord {
    #[serde(flatten)]
    pub actor: Actor,
    pub token_hash: Option<String>,
}

/// `records.json`: the Engine's records at the bundle's audit head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Records {
    pub format: String,
    /// The audit head the records were read at (`to_seq` of the bundle).
    pub at_seq: i64,
    pub actors: Vec<ActorRecord>,
    pub delegations: Vec<Delegation>,
    pub proposals: Vec<Proposal>,
    pub approvals: Vec<Approval>,
    pub exemptions: Vec<ExemptionRecord>,
    /// Runtime state: kill switches and the like.
    pub runtime: Vec<KvEntry>,
    pub checkpoints: Vec<Checkpoint>,
    /// Retention's prune points: a bundle of a pruned log starts above the newest.
    #[serde(default)]
    pub prunes: Vec<AuditPrune>,
}

impl Records {
    /// Counts by kind, for people.
    pub fn counts(&self) -> serde_json::Value {
        serde_json::json!({
            "actors": self.actors.len(),
            "delegations": self.delegations.len(),
            "proposals": self.proposals.len(),
            "approvals": self.approvals.len(),
            "exemptions": self.exemptions.len(),
            "runtime": self.runtime.len(),
            "checkpoints": self.checkpoints.len(),
        })
    }
}

/// What a rebuild restored.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Restored {
    pub from_seq: i64,
    pub to_seq: i64,
    pub events: i64,
    pub records: serde_json::Value,
    pub head_hash: String,
}

/// The steps of a rebuild, for progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreStep {
    Verified,
    Records,
    Events { restored: i64, total: i64 },
    Committed,
}

impl Engine {
    /// The Engine's records as of the current audit head.
    async fn records_at_head(&self) -> Result<Records, EngineError> {
        for _ in 0..CONSISTENT_READ_ATTEMPTS {
            let (seq, hash) = self.store.audit_head().await?;
            let records = self.read_records(seq).await?;
            // Every record change commits with an audit event, so an unmoved head means the
            // records are those of that head.
            if self.store.audit_head().await? == (seq, hash) {
                return Ok(records);
            }
        }
        Err(EngineError::Conflict {
            message: "the audit log kept moving while the backup read it".into(),
            help: Some("run the backup again, or at a quieter moment".into()),
        })
    }

    async fn read_records(&self, at_seq: i64) -> Result<Records, EngineError> {
        let store = &self.store;
        let actors = store
            .actors()
            .await?
            .into_iter()
            .map(|actor| ActorRecord {
                token_hash: actor.token_hash.clone(),
                actor,
            })
            .collect();
        let proposals = store.proposals(&ProposalFilter::default()).await?;
        let mut approvals = Vec::new();
        for proposal in &proposals {
            approvals.extend(store.approvals(&proposal.id).await?);
        }
        let checkpoints = store
            .checkpoints()
            .await?
            .into_iter()
            .filter(|checkpoint| checkpoint.seq <= at_seq)
            .collect();
        Ok(Records {
            format: RECORDS_FORMAT.into(),
            at_seq,
            actors,
            delegations: store.delegations(None).await?,
            proposals,
            approvals,
            exemptions: store.exemptions().await?,
            // Device readings are derived and refreshed by the next poll: not backed up.
            runtime: store
                .kv_list("")
                .await?
                .into_iter()
                .filter(|entry| !entry.key.starts_with(crate::snapshot::DEVICES_KV_PREFIX))
                .collect(),
            checkpoints,
            prunes: {
                // Checked first: a backup never carries a forged prune point.
                self.newest_prune().await?;
                store.audit_prunes().await?
            },
        })
    }

    /// A backup: the whole audit log and the records, in one signed bundle. Staff only (the
    /// audit area's policy); audited as an export.
    pub async fn backup(&self, caller: &Caller) -> Result<AuditExport, EngineError> {
        self.authorize_area(caller, crate::policy::decide::Action::Audit)
            .await?;
        let records = self.records_at_head().await?;
        let at_seq = records.at_seq;
        let value = serde_json::to_value(&records).map_err(|error| EngineError::Conflict {
            message: format!("the records cannot be encoded: {error}"),
            help: None,
        })?;
        let expected_from = records
            .prunes
            .last()
            .map_or(1, |prune| prune.through_seq + 1);
        let export = self
            .export_bundle(caller, 1, Some(at_seq), Some(value))
            .await?;
        if export.bundle.manifest.from_seq != expected_from {
            return Err(EngineError::Conflict {
                message: "retention pruned the log while the backup read it".into(),
                help: Some("run the backup again".into()),
            });
        }
        Ok(export)
    }

    /// Restore a bundle's records and events into this Engine's empty store. `progress` hears
    /// each step. The bundle must verify with this brain's signing key.
    pub async fn restore(
        &self,
        manifest_text: &str,
        events_text: &str,
        records_text: Option<&str>,
        mut progress: impl FnMut(RestoreStep),
    ) -> Result<Restored, EngineError> {
        let public_key = self.signer.public_key_hex();
        let (manifest, events, report) =
            bundle::verify(manifest_text, events_text, records_text, Some(&public_key)).map_err(
                |problem| {
                    EngineError::invalid(problem, "point `--from` at a bundle `brain backup` wrote")
                },
            )?;
        if !report.log.ok {
            return Err(EngineError::invalid(
                format!(
                    "the bundle does not verify, so nothing was restored: {}",
                    report.log.problems.join("; ")
                ),
                "use an earlier bundle; if the key differs, restore this brain's `audit-signing.key` first",
            ));
        }
        let (Some(records_text), Some(_)) = (records_text, &manifest.records_sha256) else {
            return Err(EngineError::invalid(
                format!(
                    "the bundle's signed manifest covers no `{}`",
                    bundle::RECORDS_FILE
                ),
                "use a bundle written by `brain backup`; `brain audit export` holds events only",
            ));
        };
        let records: Records = serde_json::from_str(records_text).map_err(|error| {
            EngineError::invalid(
                format!("`{}` is not brain's records: {error}", bundle::RECORDS_FILE),
                "use a bundle written by `brain backup`",
            )
        })?;
        if records.format != RECORDS_FORMAT || records.at_seq != manifest.to_seq {
            return Err(EngineError::invalid(
                format!(
                    "`{}` is format `{}` at event {}, but this brain reads `{RECORDS_FORMAT}` at the bundle's head {}",
                    bundle::RECORDS_FILE,
                    records.format,
                    records.at_seq,
                    manifest.to_seq
                ),
                "use a bundle written by this version of `brain backup`",
            ));
        }
        // A pruned log starts at its newest prune point, which must be signed by this brain.
        for prune in &records.prunes {
            super::retention::check_prune(prune, &public_key)
                .map_err(|problem| EngineError::invalid(problem, "use an earlier bundle"))?;
        }
        let start = match records.prunes.last() {
            Some(prune) if manifest.from_seq > 1 => {
                if prune.through_seq != manifest.from_seq - 1 || prune.hash != manifest.prev_hash {
                    return Err(EngineError::invalid(
                        format!(
                            "the bundle starts at event {}, but its newest prune point is at {}",
                            manifest.from_seq, prune.through_seq
                        ),
                        "use a bundle written by `brain backup`",
                    ));
                }
                Some(prune)
            }
            _ if manifest.from_seq != 1 => {
                return Err(EngineError::invalid(
                    format!(
                        "the bundle starts at event {}, but a rebuild needs the whole log (from event 1, or from a prune point)",
                        manifest.from_seq
                    ),
                    "use a bundle written by `brain backup` (it holds the whole log)",
                ));
            }
            _ => None,
        };
        progress(RestoreStep::Verified);

        let mut tx = self.store.begin().await?;
        let (head, _) = tx.audit_head().await?;
        if head != 0 || !self.store.actors().await?.is_empty() {
            return Err(EngineError::Conflict {
                message: format!(
                    "the store is not empty (its audit log has {head} events), so nothing was restored"
                ),
                help: Some(
                    "a rebuild restores into an empty store only: move the old database aside (or point `store` at a new one) and run it again"
                        .into(),
                ),
            });
        }
        for record in &records.actors {
            let mut actor = record.actor.clone();
            actor.token_hash = record.token_hash.clone();
            tx.insert_actor(&actor).await?;
        }
        for delegation in &records.delegations {
            tx.insert_delegation(delegation).await?;
        }
        for proposal in &records.proposals {
            tx.insert_proposal(proposal).await?;
        }
        for approval in &records.approvals {
            tx.insert_approval(approval).await?;
        }
        for exemption in &records.exemptions {
            tx.insert_exemption(exemption).await?;
        }
        for entry in &records.runtime {
            tx.kv_set(entry).await?;
        }
        progress(RestoreStep::Records);
        if let Some(prune) = start {
            tx.restore_prune(prune).await?;
        }
        let total = i64::try_from(events.len()).unwrap_or(i64::MAX);
        for (index, restored) in events.iter().enumerate() {
            tx.restore_audit(restored).await?;
            let done = i64::try_from(index + 1).unwrap_or(i64::MAX);
            if done % 1_000 == 0 || done == total {
                progress(RestoreStep::Events {
                    restored: done,
                    total,
                });
            }
        }
        for checkpoint in &records.checkpoints {
            tx.insert_checkpoint(checkpoint).await?;
        }
        self.append(
            &mut *tx,
            event("system:rebuild", "rebuild", "succeeded").detail(serde_json::json!({
                "bundle_created_at": manifest.created_at,
                "to_seq": manifest.to_seq,
                "head_hash": manifest.head_hash,
                "events_sha256": manifest.events_sha256,
                "records": records.counts(),
            })),
        )
        .await?;
        tx.commit().await?;
        progress(RestoreStep::Committed);
        Ok(Restored {
            from_seq: manifest.from_seq,
            to_seq: manifest.to_seq,
            events: total,
            records: records.counts(),
            head_hash: manifest.head_hash,
        })
    }
}

/// The prefix of every backup bundle's directory name.
pub const BUNDLE_PREFIX: &str = "brain-backup-";

/// A bundle's files as read from its directory.
#[derive(Debug, Clone)]
pub struct BundleFiles {
    pub dir: std::path::PathBuf,
    pub manifest: String,
    pub events: String,
    pub records: Option<String>,
}

fn io_problem(what: &str, path: &std::path::Path, error: &std::io::Error) -> EngineError {
    EngineError::invalid(
        format!("cannot {what} `{}`: {error}", path.display()),
        "check that the directory exists and is readable and writable by brain",
    )
}

/// Write a bundle into the new directory `out`, all or nothing: the files go to
/// `out.partial` first, are synced, and the directory is renamed into place.
pub fn write_bundle_dir(out: &std::path::Path, bundle: &bundle::Bundle) -> Result<(), EngineError> {
    use std::io::Write as _;
    if out.exists() {
        return Err(EngineError::invalid(
            format!("`{}` already exists", out.display()),
            "write into a new directory; bundles are never overwritten",
        ));
    }
    let mut files = vec![
        (bundle::MANIFEST_FILE, bundle.manifest_json.as_str()),
        (bundle::EVENTS_FILE, bundle.events_jsonl.as_str()),
    ];
    if let Some(records) = &bundle.records_json {
        files.push((bundle::RECORDS_FILE, records.as_str()));
    }
    let staging = out.with_extension("partial");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|error| io_problem("create", &staging, &error))?;
    for (name, content) in files {
        let path = staging.join(name);
        let mut file =
            std::fs::File::create(&path).map_err(|error| io_problem("create", &path, &error))?;
        file.write_all(content.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|error| io_problem("write", &path, &error))?;
    }
    std::fs::rename(&staging, out).map_err(|error| io_problem("move into place", out, &error))
}

/// Read a bundle directory's files.
pub fn read_bundle_dir(dir: &std::path::Path) -> Result<BundleFiles, EngineError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|error| io_problem("read", &path, &error))
    };
    Ok(BundleFiles {
        dir: dir.to_path_buf(),
        manifest: read(bundle::MANIFEST_FILE)?,
        events: read(bundle::EVENTS_FILE)?,
        records: std::fs::read_to_string(dir.join(bundle::RECORDS_FILE)).ok(),
    })
}

/// The backup bundles in `dir`, oldest first (their names sort by time).
pub fn bundles_in(dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>, EngineError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(io_problem("read", dir, &error)),
    };
    let mut bundles: Vec<std::path::PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_dir()
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| {
                        name.starts_with(BUNDLE_PREFIX) && !name.ends_with(".partial")
                    })
        })
        .collect();
    bundles.sort();
    Ok(bundles)
}

/// The directory name of a new backup bundle: its time, then its last event.
pub fn bundle_name(manifest: &bundle::BundleManifest) -> String {
    let time: String = manifest
        .created_at
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{BUNDLE_PREFIX}{time}-{:010}", manifest.to_seq.max(0))
}

/// A backup written to disk.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BackupWritten {
    pub dir: String,
    pub from_seq: i64,
    pub to_seq: i64,
    pub events: i64,
    pub records: serde_json::Value,
    /// Older bundles removed to keep `backup.keep`.
    pub removed: Vec<String>,
}

impl Engine {
    /// Write a backup bundle into `dir`, check it by reading it back, then remove bundles
    /// beyond the newest `keep`.
    pub async fn backup_to(
        &self,
        caller: &Caller,
        dir: &std::path::Path,
        keep: usize,
    ) -> Result<BackupWritten, EngineError> {
        let export = self.backup(caller).await?;
        let manifest = &export.bundle.manifest;
        std::fs::create_dir_all(dir).map_err(|error| io_problem("create", dir, &error))?;
        let out = dir.join(bundle_name(manifest));
        write_bundle_dir(&out, &export.bundle)?;
        let files = read_bundle_dir(&out)?;
        let (_, _, report) = bundle::verify(
            &files.manifest,
            &files.events,
            files.records.as_deref(),
            Some(&self.signer.public_key_hex()),
        )
        .map_err(|problem| EngineError::Conflict {
            message: format!(
                "the bundle written to `{}` does not read back: {problem}",
                out.display()
            ),
            help: Some("check the disk; older bundles were left in place".into()),
        })?;
        if !report.log.ok {
            return Err(EngineError::Conflict {
                message: format!(
                    "the bundle written to `{}` does not verify: {}",
                    out.display(),
                    report.log.problems.join("; ")
                ),
                help: Some("check the disk; older bundles were left in place".into()),
            });
        }
        let mut removed = Vec::new();
        // A bundle a prune point names is the only copy of the events pruned there: kept.
        let held: Vec<std::path::PathBuf> = self
            .store
            .audit_prunes()
            .await?
            .into_iter()
            .map(|prune| std::path::PathBuf::from(prune.bundle))
            .collect();
        let all: Vec<std::path::PathBuf> = bundles_in(dir)?
            .into_iter()
            .filter(|bundle| !held.contains(bundle))
            .collect();
        let excess = all.len().saturating_sub(keep.max(1));
        for old in all.into_iter().take(excess) {
            if old != out && std::fs::remove_dir_all(&old).is_ok() {
                removed.push(old.display().to_string());
            }
        }
        let records: Records = files
            .records
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or_else(|| EngineError::Conflict {
                message: "the bundle's records do not read back".into(),
                help: None,
            })?;
        Ok(BackupWritten {
            dir: out.display().to_string(),
            from_seq: manifest.from_seq,
            to_seq: manifest.to_seq,
            events: manifest.count,
            records: records.counts(),
            removed,
        })
    }
}
