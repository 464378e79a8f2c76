//! The compliance intake gate in the Engine: recording a classification (with its audit event,
//! in the transaction that made the subject), listing what waits for review, and a staff
//! member's override, decided by Cedar (`review_intake`, never by the proposer) and audited as
//! `intake.override_granted` / `intake.override_denied`.
//!
//! Architecture Invariant: a subject's intake record is runtime state (`intake:<subject>`),
//! written only here, in the same transaction as its audit event; a decision on a proposal reads
//! it in the same round trip as the rest of its facts.

use serde::Serialize;

use super::{Caller, Engine, EngineError, event};
use crate::intake::{IntakeRecord, Override};
use crate::policy::decide::{Action, Facts, Question, Resource};
use crate::store::{KvEntry, WriteTx};

/// What `brain intake queue` lists: every subject routed to review, with where it stands.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Queued {
    #[serde(flatten)]
    pub record: IntakeRecord,
    /// Still blocked (no override, or one that denied it).
    pub blocked: bool,
}

impl Engine {
    /// Record `record` inside `tx` and audit it (`intake.classified`): the category, a summary
    /// and the text's hash, never the text.
    pub(crate) async fn record_intake(
        &self,
        tx: &mut dyn WriteTx,
        actor: &str,
        record: &IntakeRecord,
    ) -> Result<(), EngineError> {
        let value = serde_json::to_string(record).map_err(|error| {
            EngineError::Store(crate::store::StoreError::Corrupt(format!(
                "cannot encode an intake record: {error}"
            )))
        })?;
        tx.kv_set(&KvEntry {
            key: record.key(),
            value,
            updated_at: record.classified_at.clone(),
            updated_by: actor.to_string(),
        })
        .await?;
        let mut built = event(
            actor,
            "intake.classified",
            &record.classification.disposition,
        )
        .reasons(&[record.classification.reason_code.as_str()])
        .input_hash(&record.text_hash)
        .detail(serde_json::json!({
            "subject": record.subject,
            "category": record.classification.category,
            "confidence": record.classification.confidence,
            "matched": record.classification.matched.len(),
            "summary": record.summary,
            "rule_set": record.classification.rule_set,
        }));
        if record.subject.starts_with("p_") {
            built = built.proposal(&record.subject);
        }
        self.append(tx, built).await?;
        Ok(())
    }

    /// Record classifications of records read from the cloud (agent requests), each audited,
    /// in one transaction; a subject already recorded with the same text is left as it is (its
    /// override stays).
    pub async fn record_intakes(
        &self,
        actor: &str,
        records: &[IntakeRecord],
    ) -> Result<usize, EngineError> {
        if records.is_empty() {
            return Ok(0);
        }
        let mut tx = self.store.begin().await?;
        let known = tx.kv_list(crate::intake::KV_PREFIX).await?;
        let mut written = 0;
        for record in records {
            let same = known.iter().any(|entry| {
                entry.key == record.key()
                    && serde_json::from_str::<IntakeRecord>(&entry.value)
                        .is_ok_and(|stored| stored.text_hash == record.text_hash)
            });
            if !same {
                self.record_intake(&mut *tx, actor, record).await?;
                written += 1;
            }
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Everything the gate routed to review, newest first.
    pub async fn intake_queue(&self, caller: &Caller) -> Result<Vec<Queued>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        let mut queued: Vec<Queued> = self
            .store
            .kv_list(crate::intake::KV_PREFIX)
            .await?
            .iter()
            .filter_map(|entry| serde_json::from_str::<IntakeRecord>(&entry.value).ok())
            .map(|record| Queued {
                blocked: record.blocked(),
                record,
            })
            .collect();
        queued.sort_by(|left, right| right.record.classified_at.cmp(&left.record.classified_at));
        Ok(queued)
    }

    /// The intake record of `subject` (a proposal id, or `agentRequests/<id>`), if any.
    pub async fn intake_record(
        &self,
        caller: &Caller,
        subject: &str,
    ) -> Result<Option<IntakeRecord>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        Ok(self
            .store
            .kv_get(&format!("{}{subject}", crate::intake::KV_PREFIX))
            .await?
            .and_then(|entry| serde_json::from_str(&entry.value).ok()))
    }

    /// A staff member's override of the gate on `subject`: `grant` lets it go on, otherwise it
    /// stays blocked. Decided by Cedar (`review_intake`; never by whoever asked for it) and
    /// audited either way.
    pub async fn intake_override(
        &self,
        caller: &Caller,
        subject: &str,
        grant: bool,
        reason_code: &str,
        note: &str,
    ) -> Result<IntakeRecord, EngineError> {
        let code_ok = reason_code.len() >= 3
            && reason_code.len() <= 48
            && reason_code
                .bytes()
                .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
            && reason_code.as_bytes()[0].is_ascii_uppercase();
        if !code_ok {
            return Err(EngineError::invalid(
                format!("`{reason_code}` is not a reason code"),
                "write it in capitals with underscores, such as `PROP_ONLY` or `LICENSED_DESIGN`",
            ));
        }
        if note.trim().is_empty() {
            return Err(EngineError::invalid(
                "an override needs a note",
                "say why with `--note \"...\"`; it is recorded in the audit log",
            ));
        }
        let key = format!("{}{subject}", crate::intake::KV_PREFIX);
        let mut tx = self.store.begin().await?;
        let Some(entry) = tx.kv_get(&key).await? else {
            return Err(EngineError::NotFound {
                what: "intake record",
                id: subject.to_string(),
            });
        };
        let mut record: IntakeRecord = serde_json::from_str(&entry.value).map_err(|error| {
            EngineError::Store(crate::store::StoreError::Corrupt(format!(
                "the intake record of `{subject}` cannot be read: {error}"
            )))
        })?;
        let now = crate::clock::now();
        let mut principal = caller.principal();
        principal.swarm = self.settings.swarm_agents.contains(&caller.id);
        let facts = Facts {
            now: now.timestamp(),
            proposer: record.proposer.clone(),
            resource_owner: record.proposer.clone(),
            kill_switches: super::switches::active_in(&mut *tx).await?,
            ..Facts::default()
        };
        let decision = self.policy.decider.decide_recorded(
            &Question {
                principal: &principal,
                action: Action::ReviewIntake,
                resource: Resource::Area("intake"),
                facts: &facts,
            },
            false,
        );
        let action = if grant {
            "intake.override_granted"
        } else {
            "intake.override_denied"
        };
        let detail = serde_json::json!({
            "subject": subject,
            "category": record.classification.category,
            "reason_code": reason_code,
            "note": note.trim(),
        });
        let mut built = event(
            &caller.id,
            action,
            if decision.allowed { "allow" } else { "deny" },
        )
        .decision(&decision)
        .detail(detail);
        if subject.starts_with("p_") {
            built = built.proposal(subject);
        }
        if !decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    built,
                    super::denied(Action::ReviewIntake, None, &decision),
                )
                .await);
        }
        record.r#override = Some(Override {
            decision: if grant { "granted" } else { "denied" }.into(),
            by: caller.id.clone(),
            reason_code: reason_code.to_string(),
            note: note.trim().to_string(),
            at: crate::clock::format_time(now),
        });
        let value = serde_json::to_string(&record).map_err(|error| {
            EngineError::Store(crate::store::StoreError::Corrupt(format!(
                "cannot encode an intake record: {error}"
            )))
        })?;
        tx.kv_set(&KvEntry {
            key,
            value,
            updated_at: crate::clock::format_time(now),
            updated_by: caller.id.clone(),
        })
        .await?;
        self.append(&mut *tx, built).await?;
        tx.commit().await?;
        Ok(record)
    }
}
