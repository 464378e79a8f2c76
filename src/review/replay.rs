//! `brain policy replay`: the decisions the audit log recorded, decided again under a candidate
//! policy set.
//!
//! Each decision event since the Engine started recording requests carries its request
//! (`detail.request`, checked against `detail.request_hash`). Replay asks the candidate the same
//! question: the same principal (with its delegation as it was resolved), action and facts of the
//! moment (kill switches, approvals, freshness, quotas, the intake gate, runtime exemptions), with
//! what the candidate defines taken from the candidate: its policies, its manifest of the
//! capability (a capability it does not declare is denied `UNKNOWN_CAPABILITY`, as the Engine
//! would) and its declared exemptions. Events without a request (older ones, and events that are
//! not decisions) are counted, not guessed at.
//!
//! Architecture Invariant: no I/O; the caller reads the events.

use serde::Serialize;

use super::diff::{Change, Verdict};
use crate::audit::AuditEvent;
use crate::engine::PolicyBundle;
use crate::policy::decide::{Decision, Question, Resource};
use crate::policy::request::{RecordedRequest, RecordedResource};

/// A reason code the Engine adds beside the policies' own (approvals that lapsed); not part of
/// what a policy set decides, so left out on both sides.
const ENGINE_NOTES: &[&str] = &["APPROVAL_EXPIRED"];

/// One recorded decision whose outcome would change.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayChange {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub capability: Option<String>,
    pub change: Change,
    pub before: Verdict,
    pub after: Verdict,
}

/// An event whose recorded request brain could not use.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayProblem {
    pub seq: i64,
    pub problem: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplaySummary {
    /// Events read in the window.
    pub events: usize,
    /// Decisions decided again.
    pub replayed: usize,
    /// Events without a recorded request (written before requests were recorded, or not
    /// decisions).
    pub without_request: usize,
    pub newly_allowed: usize,
    pub newly_denied: usize,
    pub reasons_changed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Replay {
    pub candidate: String,
    pub candidate_hash: String,
    /// The window's start (RFC 3339), when one was given.
    pub since: Option<String>,
    pub summary: ReplaySummary,
    pub changes: Vec<ReplayChange>,
    pub problems: Vec<ReplayProblem>,
}

impl Replay {
    pub fn newly_allowed(&self) -> bool {
        self.summary.newly_allowed > 0
    }
}

fn without_notes(reasons: &[String]) -> Vec<String> {
    reasons
        .iter()
        .filter(|code| !ENGINE_NOTES.contains(&code.as_str()))
        .cloned()
        .collect()
}

/// Decide `request` under `candidate`.
pub fn decide(candidate: &PolicyBundle, request: &RecordedRequest) -> Result<Decision, String> {
    let action = request
        .action()
        .ok_or_else(|| format!("unknown action `{}`", request.action))?;
    let principal = &request.principal;
    let now = chrono::DateTime::from_timestamp(request.facts.now, 0)
        .ok_or_else(|| format!("time {} is out of range", request.facts.now))?;
    Ok(match &request.resource {
        RecordedResource::Capability(id) => match candidate.manifests.get(id) {
            None => Decision::deny(
                "UNKNOWN_CAPABILITY",
                format!("the candidate declares no capability `{id}`"),
            ),
            Some(manifest) => {
                let declared = candidate.declared_exemptions.iter().any(|declared| {
                    crate::capability::exemption_in_force(
                        &declared.exemption,
                        id,
                        Some(&request.facts.resource_owner),
                        now,
                    )
                });
                candidate.decider.decide(&Question {
                    principal,
                    action,
                    resource: Resource::Capability(manifest),
                    facts: &request.facts(declared),
                })
            }
        },
        RecordedResource::KillSwitch(name) => candidate.decider.decide(&Question {
            principal,
            action,
            resource: Resource::KillSwitch(name),
            facts: &request.facts(false),
        }),
        RecordedResource::Area(area) => candidate.decider.decide(&Question {
            principal,
            action,
            resource: Resource::Area(area),
            facts: &request.facts(false),
        }),
    })
}

/// Replay `events` (any order) under `candidate`, named `label`.
pub fn replay(
    candidate: &PolicyBundle,
    label: &str,
    since: Option<String>,
    events: &[AuditEvent],
) -> Replay {
    let mut summary = ReplaySummary {
        events: events.len(),
        ..ReplaySummary::default()
    };
    let mut changes = Vec::new();
    let mut problems = Vec::new();
    for event in events {
        let request = match RecordedRequest::from_detail(&event.detail) {
            None => {
                summary.without_request += 1;
                continue;
            }
            Some(Err(problem)) => {
                problems.push(ReplayProblem {
                    seq: event.seq,
                    problem,
                });
                continue;
            }
            Some(Ok(request)) => request,
        };
        let decision = match decide(candidate, &request) {
            Ok(decision) => decision,
            Err(problem) => {
                problems.push(ReplayProblem {
                    seq: event.seq,
                    problem,
                });
                continue;
            }
        };
        summary.replayed += 1;
        let before = Verdict {
            allowed: event.decision == "allow",
            reasons: without_notes(&event.reason_codes),
            policies: event.policy_ids.clone(),
        };
        let after = Verdict {
            allowed: decision.allowed,
            reasons: without_notes(&decision.reasons),
            policies: decision.policy_ids,
        };
        let change = match (before.allowed, after.allowed) {
            (false, true) => Change::NewlyAllowed,
            (true, false) => Change::NewlyDenied,
            _ if before != after => Change::ReasonsChanged,
            _ => continue,
        };
        match change {
            Change::NewlyAllowed => summary.newly_allowed += 1,
            Change::NewlyDenied => summary.newly_denied += 1,
            Change::ReasonsChanged => summary.reasons_changed += 1,
        }
        changes.push(ReplayChange {
            seq: event.seq,
            at: event.at.clone(),
            actor: event.actor.clone(),
            action: event.action.clone(),
            capability: event.capability.clone(),
            change,
            before,
            after,
        });
    }
    changes.sort_by_key(|change| change.seq);
    problems.sort_by_key(|problem| problem.seq);
    Replay {
        candidate: label.to_string(),
        candidate_hash: candidate.hash().to_string(),
        since,
        summary,
        changes,
        problems,
    }
}
