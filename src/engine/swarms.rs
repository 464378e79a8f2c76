//! The Engine's side of the swarms: proposing a finding as a draft (throttled per rule and
//! subject inside the proposal's own write transaction, so two runs never draft the same thing
//! twice), recording a run's audited summary, and reading runs, drafts and dispositions.
//!
//! Architecture Invariant: a swarm's finding row commits in the same transaction as its draft
//! proposal and the proposal's audit event; a run's summary row commits with its audit event.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Caller, Engine, EngineError, event};
use crate::policy::decide::Action;
use crate::store::{SwarmDraft, SwarmDraftFilter, SwarmRunRecord};

/// A swarm finding to propose as a draft (the `swarm` of a [`super::ProposeRequest`]).
#[derive(Debug, Clone)]
pub struct SwarmProposal {
    pub swarm: String,
    pub rule: String,
    pub rule_version: u32,
    pub subject: String,
    pub severity: String,
    pub confidence: f64,
    pub run_id: String,
    /// After a rejected draft for the same rule and subject, stay quiet this long.
    pub cooldown: chrono::Duration,
}

/// Why a finding is held back, given the newest draft for its rule and subject: `(the draft,
/// why)`, or `None` when it may be proposed.
pub fn throttled(
    latest: Option<&SwarmDraft>,
    cooldown: chrono::Duration,
    now: DateTime<Utc>,
) -> Option<(String, String)> {
    let latest = latest?;
    let id = latest.finding.proposal_id.clone();
    if latest.state.is_open() {
        return Some((
            id.clone(),
            format!("draft `{id}` for it is still open ({})", latest.state),
        ));
    }
    if latest.state == crate::engine::lifecycle::ProposalState::Rejected {
        let quiet_until =
            crate::clock::parse_time(&latest.updated_at).map(|rejected| rejected + cooldown)?;
        if quiet_until > now {
            return Some((
                id.clone(),
                format!(
                    "draft `{id}` for it was rejected; the rule stays quiet until {}",
                    crate::clock::format_time(quiet_until)
                ),
            ));
        }
    }
    None
}

/// How staff disposed of one rule's drafts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Disposition {
    pub swarm: String,
    pub rule: String,
    pub drafts: u64,
    pub open: u64,
    /// Approved (for marketing: approved for publishing), even if it expired since.
    pub accepted: u64,
    pub rejected: u64,
    pub expired: u64,
    pub cancelled: u64,
    /// `accepted / (accepted + rejected + expired)`, when any was decided.
    pub acceptance_rate: Option<f64>,
    /// Median hours from the draft to its disposition, over the decided ones.
    pub median_hours_to_disposition: Option<f64>,
}

/// What became of a draft, as staff see it and the acceptance rates count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DraftOutcome {
    /// Waiting for a person.
    Open,
    /// Approved (for marketing: approved for publishing), even if it expired since.
    Accepted,
    Rejected,
    Expired,
    Cancelled,
}

impl DraftOutcome {
    pub const ALL: [DraftOutcome; 5] = [
        DraftOutcome::Open,
        DraftOutcome::Accepted,
        DraftOutcome::Rejected,
        DraftOutcome::Expired,
        DraftOutcome::Cancelled,
    ];

    /// A draft's outcome from its proposal's state and whether it has an approval.
    pub fn of(draft: &SwarmDraft) -> DraftOutcome {
        use crate::engine::lifecycle::ProposalState as S;
        if draft.approved {
            return DraftOutcome::Accepted;
        }
        match draft.state {
            S::Rejected => DraftOutcome::Rejected,
            S::Expired => DraftOutcome::Expired,
            S::Cancelled => DraftOutcome::Cancelled,
            _ => DraftOutcome::Open,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DraftOutcome::Open => "open",
            DraftOutcome::Accepted => "accepted",
            DraftOutcome::Rejected => "rejected",
            DraftOutcome::Expired => "expired",
            DraftOutcome::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<DraftOutcome> {
        DraftOutcome::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }

    /// Staff decided it (or let it lapse): it counts toward the acceptance rate.
    pub fn decided(self) -> bool {
        matches!(
            self,
            DraftOutcome::Accepted | DraftOutcome::Rejected | DraftOutcome::Expired
        )
    }
}

/// Dispositions per swarm and rule, from drafts with their proposals' states.
pub fn dispositions(drafts: &[SwarmDraft]) -> Vec<Disposition> {
    let mut by_rule: BTreeMap<(String, String), (Disposition, Vec<u64>)> = BTreeMap::new();
    for draft in drafts {
        let (entry, hours) = by_rule
            .entry((draft.finding.swarm.clone(), draft.finding.rule.clone()))
            .or_insert_with(|| {
                (
                    Disposition {
                        swarm: draft.finding.swarm.clone(),
                        rule: draft.finding.rule.clone(),
                        ..Disposition::default()
                    },
                    Vec::new(),
                )
            });
        entry.drafts += 1;
        let outcome = DraftOutcome::of(draft);
        *match outcome {
            DraftOutcome::Open => &mut entry.open,
            DraftOutcome::Accepted => &mut entry.accepted,
            DraftOutcome::Rejected => &mut entry.rejected,
            DraftOutcome::Expired => &mut entry.expired,
            DraftOutcome::Cancelled => &mut entry.cancelled,
        } += 1;
        if outcome.decided()
            && let (Some(created), Some(updated)) = (
                crate::clock::parse_time(&draft.finding.created_at),
                crate::clock::parse_time(&draft.updated_at),
            )
        {
            hours.push(u64::try_from((updated - created).num_minutes().max(0)).unwrap_or(0));
        }
    }
    by_rule
        .into_values()
        .map(|(mut disposition, mut minutes)| {
            let decided = disposition.accepted + disposition.rejected + disposition.expired;
            disposition.acceptance_rate =
                (decided > 0).then(|| disposition.accepted as f64 / decided as f64);
            disposition.median_hours_to_disposition =
                crate::swarms::median(&mut minutes).map(|minutes| minutes / 60.0);
            disposition
        })
        .collect()
}

impl Engine {
    /// Whether a configured swarm may run now: its agent exists and is live, and it holds a live
    /// delegation from its owner covering its draft capability. `Err` names the reason code and
    /// says why in words.
    pub async fn swarm_delegation(
        &self,
        agent: &str,
        owner: &str,
        draft_capability: &str,
    ) -> Result<crate::store::Delegation, (String, String)> {
        let missing = |code: &str, why: String| Err((code.to_string(), why));
        let actor = match self.store.actor(agent).await {
            Ok(actor) => actor,
            Err(error) => return missing("STORE_UNAVAILABLE", error.to_string()),
        };
        match actor {
            None => {
                return missing(
                    "DELEGATION_MISSING",
                    format!("the agent `{agent}` does not exist"),
                );
            }
            Some(actor) if actor.revoked_at.is_some() => {
                return missing(
                    "DELEGATION_REVOKED",
                    format!("the agent `{agent}` was revoked"),
                );
            }
            Some(_) => {}
        }
        let delegations = match self.store.delegations(Some(agent)).await {
            Ok(delegations) => delegations,
            Err(error) => return missing("STORE_UNAVAILABLE", error.to_string()),
        };
        let now = crate::clock::now();
        let Some((delegation, resolved)) = super::identity::resolve_delegation(
            &delegations,
            Some(draft_capability),
            Some(owner),
            now,
        ) else {
            return missing(
                "DELEGATION_MISSING",
                format!("`{agent}` holds no delegation from `{owner}`"),
            );
        };
        if resolved.revoked {
            missing(
                "DELEGATION_REVOKED",
                format!("the delegation `{}` was revoked", delegation.id),
            )
        } else if resolved.expired {
            missing(
                "DELEGATION_EXPIRED",
                format!(
                    "the delegation `{}` expired at {}",
                    delegation.id, delegation.expires_at
                ),
            )
        } else if !resolved.in_scope {
            missing(
                "DELEGATION_SCOPE",
                format!(
                    "the delegation `{}` does not cover `{draft_capability}`",
                    delegation.id
                ),
            )
        } else if delegation.owner != owner {
            missing(
                "OWNER_MISMATCH",
                format!(
                    "the delegation `{}` is from `{}`, not the swarm's owner `{owner}`",
                    delegation.id, delegation.owner
                ),
            )
        } else {
            Ok(delegation)
        }
    }

    /// Record a swarm run's summary and its audit event, as the swarm's agent, in one
    /// transaction.
    pub async fn record_swarm_run(&self, run: &SwarmRunRecord) -> Result<(), EngineError> {
        let mut tx = self.store.begin().await?;
        tx.insert_swarm_run(run).await?;
        self.append(
            &mut *tx,
            event(&run.agent, "swarm.run", &run.outcome).detail(serde_json::json!({
                "run": run.id,
                "swarm": run.swarm,
                "trigger": run.trigger,
                "requested_by": run.requested_by,
                "dry_run": run.dry_run,
                "snapshot": run.snapshot_id,
                "records_read": run.records_read,
                "summary": run.summary,
            })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether a finding would be held back now, read outside any transaction (dry runs; the
    /// proposal itself decides again inside its transaction).
    pub async fn swarm_throttle(
        &self,
        swarm: &str,
        rule: &str,
        subject: &str,
        cooldown: chrono::Duration,
    ) -> Result<Option<(String, String)>, EngineError> {
        let latest = self
            .store
            .swarm_drafts(&SwarmDraftFilter {
                swarm: Some(swarm.to_string()),
                rule: Some(rule.to_string()),
                subject: Some(subject.to_string()),
                limit: 1,
                ..SwarmDraftFilter::default()
            })
            .await?;
        Ok(throttled(latest.first(), cooldown, crate::clock::now()))
    }

    /// Swarm runs, newest first.
    pub async fn swarm_runs(
        &self,
        caller: &Caller,
        swarm: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SwarmRunRecord>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        Ok(self.store.swarm_runs(swarm, limit.clamp(1, 1_000)).await?)
    }

    /// The proposals behind `drafts` (each finding as it was proposed: title, rationale,
    /// evidence, post), by proposal id; a draft whose proposal is gone is left out.
    pub async fn swarm_draft_proposals(
        &self,
        caller: &Caller,
        drafts: &[SwarmDraft],
    ) -> Result<BTreeMap<String, crate::store::Proposal>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        let mut proposals = BTreeMap::new();
        for draft in drafts {
            if let Some(proposal) = self.store.proposal(&draft.finding.proposal_id).await? {
                proposals.insert(proposal.id.clone(), proposal);
            }
        }
        Ok(proposals)
    }

    /// Swarm drafts, newest first, with their proposals' states.
    pub async fn swarm_drafts(
        &self,
        caller: &Caller,
        filter: &SwarmDraftFilter,
    ) -> Result<Vec<SwarmDraft>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        Ok(self.store.swarm_drafts(filter).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::lifecycle::ProposalState;
    use crate::store::SwarmFindingRecord;

    fn draft(state: ProposalState, approved: bool, updated_at: &str) -> SwarmDraft {
        SwarmDraft {
            finding: SwarmFindingRecord {
                id: "f_1".into(),
                swarm: "ops".into(),
                rule: "stalled_batch".into(),
                rule_version: 1,
                subject: "batches/b-1".into(),
                severity: "medium".into(),
                confidence: 0.9,
                run_id: "r_1".into(),
                proposal_id: "p_1".into(),
                created_at: "2026-12-01T00:00:00.000000Z".into(),
            },
            state,
            approved,
            updated_at: updated_at.into(),
            closed_reason: None,
            closed_by: None,
        }
    }

    #[test]
    fn open_drafts_hold_findings_back_and_rejections_only_for_the_cooldown() {
        let now = crate::clock::parse_time("2026-12-03T00:00:00.000000Z").unwrap();
        let day = chrono::Duration::days(1);
        assert!(throttled(None, day, now).is_none());
        for state in [
            ProposalState::Draft,
            ProposalState::PendingApproval,
            ProposalState::Approved,
        ] {
            let held = throttled(
                Some(&draft(state, false, "2026-12-01T00:00:00.000000Z")),
                day,
                now,
            );
            assert_eq!(held.unwrap().0, "p_1", "{state:?}");
        }
        let rejected = draft(
            ProposalState::Rejected,
            false,
            "2026-12-02T12:00:00.000000Z",
        );
        assert!(
            throttled(Some(&rejected), day, now).is_some(),
            "inside the cooldown"
        );
        assert!(
            throttled(Some(&rejected), chrono::Duration::hours(11), now).is_none(),
            "after the cooldown"
        );
        for state in [
            ProposalState::Expired,
            ProposalState::Cancelled,
            ProposalState::Succeeded,
        ] {
            assert!(
                throttled(
                    Some(&draft(state, false, "2026-12-02T23:00:00.000000Z")),
                    day,
                    now
                )
                .is_none()
            );
        }
    }

    #[test]
    fn a_drafts_outcome_follows_its_approval_first_then_its_state() {
        let at = "2026-12-01T02:00:00.000000Z";
        for (state, approved, outcome) in [
            (ProposalState::PendingApproval, false, DraftOutcome::Open),
            (ProposalState::Draft, false, DraftOutcome::Open),
            (ProposalState::Approved, true, DraftOutcome::Accepted),
            (ProposalState::Expired, true, DraftOutcome::Accepted),
            (ProposalState::Rejected, true, DraftOutcome::Accepted),
            (ProposalState::Rejected, false, DraftOutcome::Rejected),
            (ProposalState::Expired, false, DraftOutcome::Expired),
            (ProposalState::Cancelled, false, DraftOutcome::Cancelled),
        ] {
            assert_eq!(
                DraftOutcome::of(&draft(state, approved, at)),
                outcome,
                "{state:?}, approved: {approved}"
            );
        }
        for outcome in DraftOutcome::ALL {
            assert_eq!(DraftOutcome::parse(outcome.as_str()), Some(outcome));
        }
        assert_eq!(DraftOutcome::parse("all"), None);
    }

    #[test]
    fn dispositions_count_approvals_even_after_expiry() {
        let drafts = vec![
            draft(ProposalState::Approved, true, "2026-12-01T02:00:00.000000Z"),
            draft(ProposalState::Expired, true, "2026-12-01T04:00:00.000000Z"),
            draft(
                ProposalState::Rejected,
                false,
                "2026-12-01T06:00:00.000000Z",
            ),
            draft(ProposalState::Expired, false, "2026-12-08T00:00:00.000000Z"),
            draft(
                ProposalState::PendingApproval,
                false,
                "2026-12-01T00:00:00.000000Z",
            ),
        ];
        let found = dispositions(&drafts);
        assert_eq!(found.len(), 1);
        let rule = &found[0];
        assert_eq!(
            (
                rule.drafts,
                rule.open,
                rule.accepted,
                rule.rejected,
                rule.expired
            ),
            (5, 1, 2, 1, 1)
        );
        assert_eq!(rule.acceptance_rate, Some(0.5));
        assert_eq!(rule.median_hours_to_disposition, Some(5.0));
    }
}
