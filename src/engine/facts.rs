//! Gathering the facts of a decision on a capability, inside the transaction that acts on it:
//! the caller's delegation, kill switches, valid approvals, exemptions in force, StudioState
//! freshness and quota use. Also the decision trace recorded with every audit event.
//!
//! Architecture Invariant: every fact that can change at runtime is read through the `WriteTx`
//! the decision's effect is written in, so no other process can change it in between.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{Caller, Engine, EngineError, exemptions, identity, switches};
use crate::capability::{ActorType, Limit, LimitScope, Manifest};
use crate::policy::decide::{Action, Decision, Facts, Principal, Question, Resource};
use crate::store::{Approval, DecisionFacts, Proposal, WriteTx};

/// Who a decision was about, as resolved: recorded with every decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Trace {
    pub actor_type: ActorType,
    pub actor_id: String,
    pub owner: String,
    /// The delegation's scopes for agents; `["*"]` for people and brain's own actors.
    pub scopes: Vec<String>,
    pub delegation_id: Option<String>,
}

impl Trace {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// What a decision on a capability is about.
pub(crate) struct Subject<'a> {
    pub manifest: &'a Manifest,
    /// The proposal, for steps on one (its approvals count).
    pub proposal: Option<&'a Proposal>,
    /// Whose resources it concerns.
    pub owner: &'a str,
    /// Who stands as the proposer: the proposal's proposer by default, else the caller. An
    /// exemption's requester stands here, so the policies forbid granting one's own.
    pub proposer: Option<&'a str>,
    /// The runtime facts, when the step already read them (with the proposal, in this same
    /// transaction); else `decide_in` reads them.
    pub facts: Option<&'a DecisionFacts>,
}

/// A decision with everything that went into it.
pub(crate) struct Decided {
    pub decision: Decision,
    pub trace: Trace,
    pub facts: Facts,
    /// Seconds until a quota frees up, when one is used up.
    pub retry_after: Option<u64>,
    /// The approvals that count (valid, bound to the input, distinct approvers).
    pub valid_approvals: Vec<Approval>,
    /// Every approval of the proposal, as read for the decision (for the answer's view).
    pub approvals: Vec<Approval>,
    pub delegation_id: Option<String>,
}

/// The approvals that count now: bound to `input_hash`, not expired, not by the proposer, one
/// per approver.
pub(crate) fn valid_approvals(
    approvals: &[Approval],
    proposal: &Proposal,
    now: DateTime<Utc>,
) -> Vec<Approval> {
    let now = crate::clock::format_time(now);
    let mut seen = std::collections::BTreeSet::new();
    approvals
        .iter()
        .filter(|approval| {
            approval.input_hash == proposal.input_hash
                && approval.expires_at > now
                && approval.approver != proposal.proposer
                && seen.insert(approval.approver.clone())
        })
        .cloned()
        .collect()
}

/// How many approvals are bound to the input and not by the proposer, but past their validity
/// (and not renewed by the same approver since).
pub(crate) fn lapsed_approvals(
    approvals: &[Approval],
    proposal: &Proposal,
    now: DateTime<Utc>,
) -> usize {
    let valid: std::collections::BTreeSet<String> = valid_approvals(approvals, proposal, now)
        .into_iter()
        .map(|approval| approval.approver)
        .collect();
    let now = crate::clock::format_time(now);
    approvals
        .iter()
        .filter(|approval| {
            approval.input_hash == proposal.input_hash
                && approval.approver != proposal.proposer
                && approval.expires_at <= now
                && !valid.contains(&approval.approver)
        })
        .map(|approval| approval.approver.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .len()
}

/// Whether a quota is used up, and when it frees: `executions` are the `(time, actor, owner)` of
/// recorded executions of the capability, oldest first.
pub fn quota_state(
    limits: &[Limit],
    executions: &[(DateTime<Utc>, String, String)],
    actor: &str,
    owner: &str,
    now: DateTime<Utc>,
) -> Option<u64> {
    let mut retry_after: Option<u64> = None;
    for limit in limits {
        let window = chrono::Duration::seconds(
            i64::try_from(limit.window.as_secs()).unwrap_or(i64::MAX / 4),
        );
        let start = now - window;
        let counted: Vec<&DateTime<Utc>> = executions
            .iter()
            .filter(|(at, who, whose)| {
                *at > start
                    && match limit.per {
                        LimitScope::Actor => who == actor,
                        LimitScope::Owner => whose == owner,
                        LimitScope::Capability => true,
                    }
            })
            .map(|(at, _, _)| at)
            .collect();
        if counted.len() >= limit.max as usize {
            // The window frees a slot when the oldest counted execution leaves it.
            let frees_at = counted[counted.len() - limit.max as usize].to_owned() + window;
            let wait = u64::try_from((frees_at - now).num_seconds().max(1)).unwrap_or(1);
            retry_after = Some(retry_after.map_or(wait, |longest| longest.max(wait)));
        }
    }
    retry_after
}

/// The allowed `execute` events of `manifest` that its quotas count: those within the longest
/// window of its limits (none when it has no limits). Quotas decide from them; retention never
/// prunes them.
pub(crate) async fn counted_executions(
    tx: &mut dyn WriteTx,
    manifest: &Manifest,
    now: DateTime<Utc>,
) -> Result<Vec<crate::audit::AuditEvent>, EngineError> {
    let Some(window) = manifest
        .limits
        .iter()
        .map(|limit| limit.window.as_secs())
        .max()
    else {
        return Ok(Vec::new());
    };
    let since = now - chrono::Duration::seconds(i64::try_from(window).unwrap_or(i64::MAX / 4));
    Ok(tx
        .audit_since(&manifest.id, "execute", &crate::clock::format_time(since))
        .await?
        .into_iter()
        .filter(|event| event.decision == "allow")
        .collect())
}

impl Engine {
    /// Decide `action` by `caller` on `subject`, with every fact read inside `tx`.
    pub(crate) async fn decide_in(
        &self,
        tx: &mut dyn WriteTx,
        caller: &Caller,
        action: Action,
        subject: &Subject<'_>,
        now: DateTime<Utc>,
    ) -> Result<Decided, EngineError> {
        let Subject {
            manifest,
            proposal,
            owner,
            proposer,
            facts: prefetched,
        } = *subject;
        let mut principal: Principal = caller.principal();
        principal.swarm = self.settings.swarm_agents.contains(&caller.id);
        let mut trace = Trace {
            actor_type: caller.actor_type,
            actor_id: caller.id.clone(),
            owner: owner.to_string(),
            scopes: vec!["*".into()],
            delegation_id: None,
        };
        if caller.actor_type == ActorType::Agent {
            let delegations = tx.delegations(Some(&caller.id)).await?;
            trace.scopes = Vec::new();
            if let Some((delegation, resolved)) =
                identity::resolve_delegation(&delegations, Some(&manifest.id), Some(owner), now)
            {
                trace.scopes = delegation.scopes.clone();
                trace.delegation_id = Some(delegation.id.clone());
                principal.delegation = Some(resolved);
            }
        }
        // Kill switches, approvals, exemptions and the newest snapshot: one round trip, or none
        // when the step read them with the proposal.
        let fetched;
        let read: &DecisionFacts = match prefetched {
            Some(facts) => facts,
            None => {
                fetched = tx
                    .decision_facts(
                        proposal.map(|proposal| proposal.id.as_str()),
                        switches::PREFIX,
                        identity::actor_record_of(caller),
                    )
                    .await?;
                &fetched
            }
        };
        let (all_approvals, valid, approvers, lapsed) = match proposal {
            Some(proposal) => {
                let approvals = read.approvals.clone();
                let valid = valid_approvals(&approvals, proposal, now);
                let approvers = valid
                    .iter()
                    .map(|approval| approval.approver.clone())
                    .collect();
                let lapsed = lapsed_approvals(&approvals, proposal, now);
                (approvals, valid, approvers, lapsed)
            }
            None => (Vec::new(), Vec::new(), Default::default(), 0),
        };
        let exemption_in_force = exemptions::in_force(
            &self.policy.declared_exemptions,
            &read.exemptions,
            &manifest.id,
            owner,
            now,
        )
        .is_some();
        // Whether a runtime exemption alone would do: replay asks a candidate policy set's
        // declared exemptions instead of the ones in force here.
        let runtime_exemption = exemption_in_force
            && exemptions::in_force(&[], &read.exemptions, &manifest.id, owner, now).is_some();
        let freshness = self.freshness_of(read.newest_snapshot.as_ref(), now);
        let (snapshot_stale, snapshot_age_seconds) =
            (freshness.stale, freshness.age_seconds.unwrap_or(-1));
        let retry_after =
            if matches!(action, Action::Propose | Action::Execute) && !manifest.limits.is_empty() {
                let actor = match proposal {
                    Some(proposal) if action == Action::Execute => proposal.proposer.clone(),
                    _ => caller.id.clone(),
                };
                let executions = self.recorded_executions(tx, manifest, now).await?;
                quota_state(&manifest.limits, &executions, &actor, owner, now)
            } else {
                None
            };
        let facts = Facts {
            now: now.timestamp(),
            proposer: proposer
                .map(str::to_string)
                .or_else(|| proposal.map(|proposal| proposal.proposer.clone()))
                .unwrap_or_else(|| caller.id.clone()),
            resource_owner: owner.to_string(),
            kill_switches: switches::active_of(&read.runtime),
            approvals: i64::try_from(valid.len()).unwrap_or(i64::MAX),
            approvers,
            exemption_in_force,
            snapshot_stale,
            snapshot_age_seconds,
            quota_exceeded: retry_after.is_some(),
            intake_review_required: read
                .intake
                .as_ref()
                .and_then(|entry| {
                    serde_json::from_str::<crate::intake::IntakeRecord>(&entry.value).ok()
                })
                .is_some_and(|record| record.blocked()),
        };
        let decision = self.policy.decider.decide_recorded(
            &Question {
                principal: &principal,
                action,
                resource: Resource::Capability(manifest),
                facts: &facts,
            },
            runtime_exemption,
        );
        let mut decision = identity::refused_if_revoked(read.caller_revoked, caller, decision);
        // Approvals that would count but for their age: say so beside APPROVAL_REQUIRED.
        if !decision.allowed
            && lapsed > 0
            && decision
                .reasons
                .iter()
                .any(|code| code == "APPROVAL_REQUIRED")
        {
            decision.reasons.push("APPROVAL_EXPIRED".into());
        }
        Ok(Decided {
            decision,
            delegation_id: trace.delegation_id.clone(),
            trace,
            facts,
            retry_after,
            valid_approvals: valid,
            approvals: all_approvals,
        })
    }

    /// The executions quotas count: every allowed `execute` of the capability within the
    /// longest window of its limits, from the audit log itself.
    async fn recorded_executions(
        &self,
        tx: &mut dyn WriteTx,
        manifest: &Manifest,
        now: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, String, String)>, EngineError> {
        Ok(counted_executions(tx, manifest, now)
            .await?
            .into_iter()
            .filter_map(|event| {
                let at = crate::clock::parse_time(&event.at)?;
                let owner = event
                    .detail
                    .pointer("/trace/owner")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let proposer = event
                    .detail
                    .get("proposer")
                    .and_then(Value::as_str)
                    .unwrap_or(&event.actor)
                    .to_string();
                Some((at, proposer, owner))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Duration;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn quotas_count_the_window_and_say_when_they_free() {
        let limits = vec![Limit {
            per: LimitScope::Actor,
            max: 2,
            window: Duration::from_secs(100),
        }];
        let runs = vec![
            (at(0), "staff:a".to_string(), "staff:a".to_string()),
            (at(50), "staff:a".to_string(), "staff:a".to_string()),
            (at(60), "staff:b".to_string(), "staff:b".to_string()),
        ];
        assert_eq!(
            quota_state(&limits, &runs, "staff:a", "staff:a", at(70)),
            Some(30)
        );
        assert_eq!(
            quota_state(&limits, &runs, "staff:b", "staff:b", at(70)),
            None
        );
        assert_eq!(
            quota_state(&limits, &runs, "staff:a", "staff:a", at(101)),
            None
        );
        let shared = vec![Limit {
            per: LimitScope::Capability,
            max: 3,
            window: Duration::from_secs(100),
        }];
        assert_eq!(
            quota_state(&shared, &runs, "staff:c", "staff:c", at(70)),
            Some(30)
        );
    }
}
