//! The audit log as staff and auditors use it: tail, verify (chain, checkpoints, head), export
//! bundles, and the checkpoint signed on shutdown.

use serde::Serialize;

use super::{Caller, Engine, EngineError, event};
use crate::audit::bundle::{self, Bundle};
use crate::audit::checkpoint::{LogVerifier, VerifyReport};
use crate::audit::{AuditEvent, GENESIS_HASH};
use crate::policy::decide::Action;
use crate::store::{AuditFilter, Checkpoint};

const PAGE: i64 = 2_000;

/// `brain audit verify` on the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct AuditVerification {
    #[serde(flatten)]
    pub report: VerifyReport,
    /// The public key checkpoints must be signed with.
    pub public_key: String,
    /// Events at and below this were pruned by retention; the chain is verified from the
    /// signed prune point there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned_through: Option<i64>,
}

/// An export, ready to be written to a directory.
#[derive(Debug, Clone)]
pub struct AuditExport {
    pub bundle: Bundle,
}

/// Where the newest run of each drill scenario is kept (`drill.last:<scenario>`).
pub const DRILL_KV_PREFIX: &str = "drill.last:";

/// The newest run of one drill scenario: its audit event and the drill's report.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct DrillRun {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub report: serde_json::Value,
}

impl Engine {
    /// The newest run of each drill scenario, by scenario name, for anyone who may read the
    /// audit log.
    pub async fn drill_history(&self, caller: &Caller) -> Result<Vec<DrillRun>, EngineError> {
        self.authorize_area(caller, Action::Audit).await?;
        Ok(self
            .store
            .kv_list(DRILL_KV_PREFIX)
            .await?
            .into_iter()
            .filter_map(|entry| serde_json::from_str(&entry.value).ok())
            .collect())
    }

    /// Record a drill's outcome (`brain drill run`) as `caller`, who must be allowed to read
    /// the audit log: an event `drill` whose decision is the outcome and whose detail is the
    /// drill's report. The newest run of each scenario is also kept in the runtime table
    /// (`drill.last:<scenario>`, with the event's sequence number), written in the same
    /// transaction, so the cockpit shows the drill history without scanning the log.
    pub async fn record_drill(
        &self,
        caller: &Caller,
        scenario: &str,
        passed: bool,
        report: serde_json::Value,
    ) -> Result<AuditEvent, EngineError> {
        let tx = self.store.begin().await?;
        let (mut tx, decision) = self
            .area_step(
                tx,
                caller,
                Action::Audit,
                &serde_json::json!({ "drill": scenario }),
            )
            .await?;
        let sealed = self
            .append(
                &mut *tx,
                event(
                    &caller.id,
                    "drill",
                    if passed { "passed" } else { "failed" },
                )
                .decision(&decision)
                .detail(report.clone()),
            )
            .await?;
        let last = DrillRun {
            seq: sealed.seq,
            at: sealed.at.clone(),
            actor: caller.id.clone(),
            report,
        };
        tx.kv_set(&crate::store::KvEntry {
            key: format!("{DRILL_KV_PREFIX}{scenario}"),
            value: serde_json::to_string(&last).unwrap_or_default(),
            updated_at: sealed.at.clone(),
            updated_by: caller.id.clone(),
        })
        .await?;
        tx.commit().await?;
        Ok(sealed)
    }

    /// The newest events matching `filter`.
    pub async fn audit_tail(
        &self,
        caller: &Caller,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, EngineError> {
        self.authorize_area(caller, Action::Audit).await?;
        Ok(self.store.audit_filtered(filter).await?)
    }

    /// Verify the store's log as `caller`.
    pub async fn audit_verify(&self, caller: &Caller) -> Result<AuditVerification, EngineError> {
        self.audit_verify_reporting(caller, |_, _| {}).await
    }

    /// [`Engine::audit_verify`], calling `progress(checked, head)` after every page (see
    /// [`Engine::verify_log`]).
    pub async fn audit_verify_reporting(
        &self,
        caller: &Caller,
        progress: impl FnMut(i64, i64),
    ) -> Result<AuditVerification, EngineError> {
        self.authorize_area(caller, Action::Audit).await?;
        self.verify_log(progress).await
    }

    /// Recompute the whole chain, check every checkpoint's signature (by this brain's key) and
    /// the recorded head. `progress(checked, total)` is called after every page.
    pub async fn verify_log(
        &self,
        mut progress: impl FnMut(i64, i64),
    ) -> Result<AuditVerification, EngineError> {
        let public_key = self.signer.public_key_hex();
        let (prunes, mut prune_problem) = match self.store.audit_prunes().await {
            Ok(prunes) => (prunes, None),
            Err(crate::store::StoreError::Corrupt(problem)) => (Vec::new(), Some(problem)),
            Err(error) => return Err(error.into()),
        };
        for older in &prunes {
            if prune_problem.is_none() {
                prune_problem = super::retention::check_prune(older, &public_key).err();
            }
        }
        let prune = prunes.into_iter().last();
        let (start_seq, start_hash) = match &prune {
            Some(prune) => (prune.through_seq, prune.hash.clone()),
            None => (0, GENESIS_HASH.to_string()),
        };
        let checkpoints: Vec<Checkpoint> = self
            .store
            .checkpoints()
            .await?
            .into_iter()
            .filter(|checkpoint| checkpoint.seq > start_seq)
            .collect();
        let (head_seq, head_hash) = self.store.audit_head().await?;
        let mut verifier = LogVerifier::new(start_seq, &start_hash, &checkpoints);
        let mut after = start_seq;
        loop {
            let page = self.store.audit_events(after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            verifier.feed(&page);
            progress(after, head_seq);
            if i64::try_from(page.len()).unwrap_or(0) < PAGE {
                break;
            }
        }
        let mut report = verifier.finish(
            &checkpoints,
            Some(&public_key),
            Some((head_seq, head_hash.as_str())),
        );
        if let Some(problem) = prune_problem {
            report.ok = false;
            report.first_bad_seq = report.first_bad_seq.or(Some(start_seq));
            report.problems.insert(0, problem);
        }
        Ok(AuditVerification {
            report,
            public_key,
            pruned_through: prune.map(|prune| prune.through_seq),
        })
    }

    /// Build an export bundle of the events with `seq >= from_seq` (all of them by default),
    /// signed with this brain's key. Staff only; audited.
    pub async fn audit_export(
        &self,
        caller: &Caller,
        from_seq: Option<i64>,
        records: Option<serde_json::Value>,
    ) -> Result<AuditExport, EngineError> {
        self.authorize_area(caller, Action::Audit).await?;
        self.export_bundle(caller, from_seq.unwrap_or(1).max(1), None, records)
            .await
    }

    /// The bundle of events `from_seq..=to_seq` (to the head by default) with `records`,
    /// audited as an export by `caller`, who was authorized already.
    pub(super) async fn export_bundle(
        &self,
        caller: &Caller,
        from_seq: i64,
        to_seq: Option<i64>,
        records: Option<serde_json::Value>,
    ) -> Result<AuditExport, EngineError> {
        // After pruning, the log starts above the newest prune point (checked, so a forged one
        // cannot start a signed bundle).
        let prune = self.newest_prune().await?;
        let from_seq = match &prune {
            Some(prune) => from_seq.max(prune.through_seq + 1),
            None => from_seq,
        };
        let prev_hash = if let Some(prune) = prune.filter(|prune| prune.through_seq == from_seq - 1)
        {
            prune.hash
        } else if from_seq == 1 {
            GENESIS_HASH.to_string()
        } else {
            self.store
                .audit_events(from_seq - 2, 1)
                .await?
                .into_iter()
                .next()
                .filter(|event| event.seq == from_seq - 1)
                .map(|event| event.hash)
                .ok_or_else(|| EngineError::NotFound {
                    what: "audit event",
                    id: (from_seq - 1).to_string(),
                })?
        };
        let mut events = Vec::new();
        let mut after = from_seq - 1;
        loop {
            let page = self.store.audit_events(after, PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.seq;
            let full = i64::try_from(page.len()).unwrap_or(0) == PAGE;
            events.extend(page);
            if let Some(to_seq) = to_seq
                && after >= to_seq
            {
                events.retain(|event| event.seq <= to_seq);
                break;
            }
            if !full {
                break;
            }
        }
        let to_seq = events.last().map_or(from_seq - 1, |event| event.seq);
        let checkpoint: Option<Checkpoint> = self
            .store
            .checkpoints()
            .await?
            .into_iter()
            .rfind(|checkpoint| checkpoint.seq >= from_seq && checkpoint.seq <= to_seq);
        let created_at = crate::clock::format_time(crate::clock::now());
        let bundle = bundle::build(
            &events,
            from_seq,
            &prev_hash,
            checkpoint,
            records.as_ref(),
            &self.signer,
            &created_at,
        );
        let mut tx = self.store.begin().await?;
        self.append(
            &mut *tx,
            event(&caller.id, "audit", "allow").detail(serde_json::json!({
                "operation": "export",
                "from_seq": from_seq,
                "to_seq": to_seq,
                "events_sha256": bundle.manifest.events_sha256,
            })),
        )
        .await?;
        tx.commit().await?;
        Ok(AuditExport { bundle })
    }

    /// Sign a checkpoint of the current head unless one already covers it (on shutdown).
    pub async fn checkpoint_now(&self) -> Result<Option<Checkpoint>, EngineError> {
        let mut tx = self.store.begin().await?;
        let (seq, hash) = tx.audit_head().await?;
        let latest = tx.latest_checkpoint().await?;
        if seq == 0 || latest.is_some_and(|latest| latest.seq >= seq) {
            return Ok(None);
        }
        let at = crate::clock::format_time(crate::clock::now());
        let checkpoint = self.signer.checkpoint(seq, &hash, &at);
        tx.insert_checkpoint(&checkpoint).await?;
        tx.commit().await?;
        Ok(Some(checkpoint))
    }
}
