//! Exemptions: declared ones (YAML under version control) and runtime ones (append-only records
//! in the store, created with `brain exempt`). Whether one is in force is decided by the shared
//! [`crate::capability::exemption_in_force`]; a revocation record switches one off for good.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::facts::Subject;
use super::{Caller, DeclaredExemption, Engine, EngineError, new_id};
use crate::capability::{Exemption, Timestamp, exemption_in_force};
use crate::policy::decide::Action;
use crate::store::ExemptionRecord;

/// One exemption as staff see it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ExemptionView {
    /// `x_...` for runtime ones, `declared:<file>` for declared ones.
    pub id: String,
    /// `runtime` or `declared`.
    pub source: String,
    pub capability: Option<String>,
    pub owner: Option<String>,
    pub starts: String,
    pub expires: Option<String>,
    pub justification: Option<String>,
    pub requested_by: String,
    pub approved_by: String,
    pub revoked: bool,
    pub in_force: bool,
    /// Seconds left while in force.
    pub seconds_left: Option<i64>,
}

fn declared_id(declared: &DeclaredExemption) -> String {
    format!("declared:{}", declared.file)
}

/// A runtime grant as an [`Exemption`], for the shared in-force check.
fn as_exemption(record: &ExemptionRecord) -> Option<Exemption> {
    Some(Exemption {
        capability: record.capability.clone(),
        owner: record.owner.clone(),
        starts: Timestamp::parse(record.starts.as_deref()?).ok()?,
        expires: record
            .expires
            .as_deref()
            .and_then(|text| Timestamp::parse(text).ok()),
        justification: Some(record.justification.clone()),
        requested_by: record.requested_by.clone(),
        approved_by: record.approved_by.clone(),
    })
}

/// Every exemption with its state at `now`.
pub(crate) fn views(
    declared: &[DeclaredExemption],
    records: &[ExemptionRecord],
    now: DateTime<Utc>,
) -> Vec<ExemptionView> {
    let revoked: std::collections::BTreeSet<&str> = records
        .iter()
        .filter(|record| record.kind == "revoke")
        .filter_map(|record| record.revokes.as_deref())
        .collect();
    let view = |id: String, source: &str, exemption: &Exemption| {
        let is_revoked = revoked.contains(id.as_str());
        let in_force = !is_revoked
            && exemption.capability.as_deref().is_some_and(|capability| {
                exemption_in_force(exemption, capability, exemption.owner.as_deref(), now)
            });
        ExemptionView {
            source: source.to_string(),
            capability: exemption.capability.clone(),
            owner: exemption.owner.clone(),
            starts: exemption.starts.to_string(),
            expires: exemption.expires.map(|time| time.to_string()),
            justification: exemption.justification.clone(),
            requested_by: exemption.requested_by.clone(),
            approved_by: exemption.approved_by.clone(),
            revoked: is_revoked,
            in_force,
            seconds_left: in_force
                .then(|| {
                    exemption
                        .expires
                        .map(|expires| (expires.0 - now).num_seconds())
                })
                .flatten(),
            id,
        }
    };
    let mut all: Vec<ExemptionView> = declared
        .iter()
        .map(|declared| view(declared_id(declared), "declared", &declared.exemption))
        .collect();
    for record in records.iter().filter(|record| record.kind == "grant") {
        if let Some(exemption) = as_exemption(record) {
            all.push(view(record.id.clone(), "runtime", &exemption));
        }
    }
    all
}

/// The id of an exemption in force for `capability` and `owner` at `now`, if any.
pub(crate) fn in_force(
    declared: &[DeclaredExemption],
    records: &[ExemptionRecord],
    capability: &str,
    owner: &str,
    now: DateTime<Utc>,
) -> Option<String> {
    let revoked: std::collections::BTreeSet<&str> = records
        .iter()
        .filter(|record| record.kind == "revoke")
        .filter_map(|record| record.revokes.as_deref())
        .collect();
    declared
        .iter()
        .map(|declared| (declared_id(declared), Some(declared.exemption.clone())))
        .chain(
            records
                .iter()
                .filter(|record| record.kind == "grant")
                .map(|record| (record.id.clone(), as_exemption(record))),
        )
        .find(|(id, exemption)| {
            !revoked.contains(id.as_str())
                && exemption.as_ref().is_some_and(|exemption| {
                    exemption_in_force(exemption, capability, Some(owner), now)
                })
        })
        .map(|(id, _)| id)
}

/// What `brain exempt` asks for.
#[derive(Debug, Clone)]
pub struct ExemptionRequest {
    pub capability: String,
    pub owner: Option<String>,
    pub starts: Option<DateTime<Utc>>,
    pub expires: DateTime<Utc>,
    pub justification: String,
    pub requested_by: String,
}

impl Engine {
    /// Every exemption, declared and runtime, with whether it is in force now.
    pub async fn exemptions(&self, caller: &Caller) -> Result<Vec<ExemptionView>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        let records = self.store.exemptions().await?;
        Ok(views(
            &self.policy.declared_exemptions,
            &records,
            crate::clock::now(),
        ))
    }

    /// Grant a runtime exemption: `caller` approves what `requested_by` asked for. Decided by
    /// the policy set (`exempt` on the capability; never by the requester), bounded by the
    /// configured maximum length, and audited.
    pub async fn grant_exemption(
        &self,
        caller: &Caller,
        request: &ExemptionRequest,
    ) -> Result<ExemptionView, EngineError> {
        let manifest = self
            .policy
            .manifest(&request.capability)
            .ok_or_else(|| EngineError::NotFound {
                what: "capability",
                id: request.capability.clone(),
            })?
            .clone();
        if request.justification.trim().len() < 10 {
            return Err(EngineError::invalid(
                "an exemption needs a justification of at least 10 characters",
                "say why the rule should not apply, for the audit log",
            ));
        }
        super::identity::parse_actor_id(&request.requested_by)?;
        let now = crate::clock::now();
        let starts = request.starts.unwrap_or(now);
        if request.expires <= starts {
            return Err(EngineError::invalid(
                "the exemption would expire before it starts",
                "pass a later `--expires`",
            ));
        }
        if request.expires - starts > self.settings.max_exemption {
            return Err(EngineError::invalid(
                format!(
                    "the exemption would last longer than the configured maximum of {} days",
                    self.settings.max_exemption.num_days()
                ),
                "shorten it (`thresholds.max_exemption` in brain.yaml sets the limit)",
            ));
        }
        let owner = request.owner.clone().unwrap_or_default();
        let mut tx = self.store.begin().await?;
        // The requester stands where a proposer would: the policies forbid self-granting.
        let decided = self
            .decide_in(
                &mut *tx,
                caller,
                Action::Exempt,
                &Subject {
                    manifest: &manifest,
                    proposal: None,
                    owner: &owner,
                    proposer: Some(&request.requested_by),
                    facts: None,
                },
                now,
            )
            .await?;
        let record = ExemptionRecord {
            id: new_id("x")?,
            kind: "grant".into(),
            revokes: None,
            capability: Some(manifest.id.clone()),
            owner: request.owner.clone(),
            starts: Some(Timestamp(starts).to_string()),
            expires: Some(Timestamp(request.expires).to_string()),
            justification: request.justification.trim().to_string(),
            requested_by: request.requested_by.clone(),
            approved_by: caller.id.clone(),
            created_at: crate::clock::format_time(now),
        };
        let detail = serde_json::json!({
            "exemption": record,
            "trace": decided.trace.to_json(),
        });
        if !decided.decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    super::event(&caller.id, "exempt", "deny")
                        .capability(&manifest.id)
                        .decision(&decided.decision)
                        .detail(detail),
                    super::denied(Action::Exempt, Some(&manifest.id), &decided.decision),
                )
                .await);
        }
        tx.insert_exemption(&record).await?;
        self.append(
            &mut *tx,
            super::event(&caller.id, "exempt", "allow")
                .capability(&manifest.id)
                .decision(&decided.decision)
                .detail(detail),
        )
        .await?;
        tx.commit().await?;
        views(&[], std::slice::from_ref(&record), now)
            .into_iter()
            .next()
            .ok_or_else(|| EngineError::NotFound {
                what: "exemption",
                id: record.id.clone(),
            })
    }

    /// Revoke an exemption (runtime `x_...` or declared `declared:<file>`) by appending a
    /// revocation record; it stops applying at the next decision.
    pub async fn revoke_exemption(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<ExemptionView, EngineError> {
        if reason.trim().is_empty() {
            return Err(EngineError::invalid(
                "revoking an exemption needs a reason",
                "pass `--reason \"...\"`; it is recorded in the audit log",
            ));
        }
        let now = crate::clock::now();
        let mut tx = self.store.begin().await?;
        let records = tx.exemptions().await?;
        let all = views(&self.policy.declared_exemptions, &records, now);
        let Some(target) = all.into_iter().find(|view| view.id == id) else {
            return Err(EngineError::NotFound {
                what: "exemption",
                id: id.to_string(),
            });
        };
        if target.revoked {
            return Err(EngineError::Conflict {
                message: format!("exemption `{id}` is already revoked"),
                help: None,
            });
        }
        let capability = target.capability.clone().unwrap_or_default();
        let Some(manifest) = self.policy.manifest(&capability).cloned() else {
            return Err(EngineError::NotFound {
                what: "capability",
                id: capability,
            });
        };
        let owner = target.owner.clone().unwrap_or_default();
        let decided = self
            .decide_in(
                &mut *tx,
                caller,
                Action::RevokeExemption,
                &Subject {
                    manifest: &manifest,
                    proposal: None,
                    owner: &owner,
                    proposer: None,
                    facts: None,
                },
                now,
            )
            .await?;
        let record = ExemptionRecord {
            id: new_id("x")?,
            kind: "revoke".into(),
            revokes: Some(id.to_string()),
            capability: target.capability.clone(),
            owner: target.owner.clone(),
            starts: None,
            expires: None,
            justification: reason.trim().to_string(),
            requested_by: caller.id.clone(),
            approved_by: caller.id.clone(),
            created_at: crate::clock::format_time(now),
        };
        let detail = serde_json::json!({ "revokes": id, "reason": reason, "trace": decided.trace.to_json() });
        if !decided.decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    super::event(&caller.id, "revoke_exemption", "deny")
                        .capability(&manifest.id)
                        .decision(&decided.decision)
                        .detail(detail),
                    super::denied(
                        Action::RevokeExemption,
                        Some(&manifest.id),
                        &decided.decision,
                    ),
                )
                .await);
        }
        tx.insert_exemption(&record).await?;
        self.append(
            &mut *tx,
            super::event(&caller.id, "revoke_exemption", "allow")
                .capability(&manifest.id)
                .decision(&decided.decision)
                .detail(detail),
        )
        .await?;
        tx.commit().await?;
        Ok(ExemptionView {
            revoked: true,
            in_force: false,
            seconds_left: None,
            ..target
        })
    }
}
