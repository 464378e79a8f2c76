//! Helpers rules share: example files, and the finite inputs the invariant rules enumerate.

use std::collections::BTreeSet;

use crate::capability::{ActorType, Manifest};
use crate::policy::decide::{
    Action, Decider, Decision, Delegation, Facts, Principal, Question, Resource,
};

/// A minimal valid capability, for examples.
pub const EXAMPLE_CAPABILITY: &str = "id: studio.example.note
title: Example capability
owner: staff:studio-manager
risk_tier: low
mode: draft
target: brain
class: internal
limits:
  - per: actor
    max: 10
    window: 1d
failure_mode: Nothing is created.
rollback:
  strategy: discard_draft
  how: Discard the draft.
tests:
  - tests/it/example.rs
";

/// The states an agent's delegation can be in, for enumerations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegationState {
    Live,
    Missing,
    Expired,
    Revoked,
    OutOfScope,
    OwnerMismatch,
}

impl DelegationState {
    pub const ALL: [DelegationState; 6] = [
        DelegationState::Live,
        DelegationState::Missing,
        DelegationState::Expired,
        DelegationState::Revoked,
        DelegationState::OutOfScope,
        DelegationState::OwnerMismatch,
    ];

    pub fn describe(self) -> &'static str {
        match self {
            DelegationState::Live => "a live delegation",
            DelegationState::Missing => "no delegation",
            DelegationState::Expired => "an expired delegation",
            DelegationState::Revoked => "a revoked delegation",
            DelegationState::OutOfScope => "a delegation that does not cover the capability",
            DelegationState::OwnerMismatch => {
                "a delegation from a different owner than the resource's"
            }
        }
    }
}

/// The owner every enumerated proposal belongs to.
pub const OWNER: &str = "staff:owner";

/// A probe principal of `actor_type` (agents with a delegation in `state`).
pub fn principal(actor_type: ActorType, state: DelegationState, capability: &str) -> Principal {
    let mut principal = Principal::new(actor_type, "probe");
    if actor_type == ActorType::Agent && state != DelegationState::Missing {
        principal.delegation = Some(Delegation {
            owner: if state == DelegationState::OwnerMismatch {
                "staff:someone-else".into()
            } else {
                OWNER.into()
            },
            scopes: if state == DelegationState::OutOfScope {
                vec!["other.*".into()]
            } else {
                vec![capability.to_string()]
            },
            expired: state == DelegationState::Expired,
            revoked: state == DelegationState::Revoked,
            in_scope: state != DelegationState::OutOfScope,
        });
    }
    principal
}

/// Every probe principal: one per actor type, and one agent per delegation state.
pub fn principals(capability: &str) -> Vec<(Principal, DelegationState)> {
    let mut all = Vec::new();
    for actor_type in ActorType::ALL {
        if actor_type == ActorType::Agent {
            for state in DelegationState::ALL {
                all.push((principal(actor_type, state, capability), state));
            }
        } else {
            all.push((
                principal(actor_type, DelegationState::Live, capability),
                DelegationState::Live,
            ));
        }
    }
    all
}

/// Facts with the given knobs; the proposer is someone else than the probe.
pub fn facts(kill_switches: &[&str], approvals: i64, exemption: bool, stale: bool) -> Facts {
    Facts {
        now: 1_800_000_000,
        proposer: "staff:proposer".into(),
        resource_owner: OWNER.into(),
        kill_switches: kill_switches
            .iter()
            .map(|name| name.to_string())
            .collect::<BTreeSet<_>>(),
        approvals,
        approvers: (0..approvals)
            .map(|index| format!("staff:approver{index}"))
            .collect(),
        exemption_in_force: exemption,
        snapshot_stale: stale,
        snapshot_age_seconds: if stale { 86_400 } else { 60 },
        quota_exceeded: false,
        intake_review_required: false,
    }
}

/// Decide `action` on `manifest` for `principal` with `facts`.
pub fn decide(
    decider: &Decider,
    principal: &Principal,
    action: Action,
    manifest: &Manifest,
    facts: &Facts,
) -> Decision {
    decider.decide(&Question {
        principal,
        action,
        resource: Resource::Capability(manifest),
        facts,
    })
}

/// `permitted by a, b`.
pub fn permitted_by(decision: &Decision) -> String {
    if decision.policy_ids.is_empty() {
        "no determining policy".into()
    } else {
        format!("permitted by {}", decision.policy_ids.join(", "))
    }
}

/// A counterexample, in words.
pub fn counterexample(
    principal: &Principal,
    state: DelegationState,
    action: Action,
    manifest: &Manifest,
    situation: &Facts,
    decision: &Decision,
) -> String {
    let who = if principal.actor_type == ActorType::Agent {
        format!("`{}` with {}", principal.id(), state.describe())
    } else {
        format!("`{}`", principal.id())
    };
    let switches: Vec<&str> = situation.kill_switches.iter().map(String::as_str).collect();
    format!(
        "counterexample: {who} may {} `{}` (kill switches: [{}], approvals: {}, exemption: {}, snapshot: {}, proposer: {}); {}",
        action.as_str(),
        manifest.id,
        switches.join(", "),
        situation.approvals,
        if situation.exemption_in_force {
            "in force"
        } else {
            "none"
        },
        if situation.snapshot_stale {
            "stale"
        } else {
            "fresh"
        },
        situation.proposer,
        permitted_by(decision)
    )
}

/// Run `cases` for every manifest `applies` selects; report the first allowed case of each.
pub fn prove(
    context: &crate::lint::Context<'_>,
    findings: &mut Vec<crate::diagnostic::Finding>,
    applies: impl Fn(&Manifest) -> bool,
    cases: impl Fn(&Manifest) -> Vec<(Principal, DelegationState, Action, Facts)>,
    message: impl Fn(&Manifest) -> String,
    help: &str,
) {
    let Some(decider) = &context.decider else {
        return;
    };
    // Capabilities that decide alike (see `Decider::equivalence_key`) share one proof: the
    // first of each class is evaluated case by case; the others reuse its verdict when it was
    // clean, and are evaluated themselves (for their own counterexample) when it was not.
    let mut clean_classes: std::collections::HashSet<std::sync::Arc<str>> =
        std::collections::HashSet::new();
    for (parsed, manifest) in context.valid_manifests() {
        if !applies(manifest) {
            continue;
        }
        let class = decider.equivalence_key(manifest);
        if class
            .as_ref()
            .is_some_and(|class| clean_classes.contains(class))
        {
            continue;
        }
        let found =
            cases(manifest)
                .into_iter()
                .find_map(|(principal, state, action, situation)| {
                    let decision = decide(decider, &principal, action, manifest, &situation);
                    decision.allowed.then(|| {
                        counterexample(&principal, state, action, manifest, &situation, &decision)
                    })
                });
        if found.is_none()
            && let Some(class) = class
        {
            clean_classes.insert(class);
        }
        if let Some(text) = found {
            findings.push(
                crate::lint::context::at_value(
                    parsed,
                    crate::diagnostic::Finding::error("", message(manifest)),
                    "/id",
                    "invariant violated",
                )
                .with_help(format!("{text}; {help}")),
            );
        }
    }
}

/// Forward the state model's findings whose code `wanted` accepts (parsing the model made them
/// all once; each state-model rule reports its own).
pub fn state_model_findings(
    context: &crate::lint::Context<'_>,
    findings: &mut Vec<crate::diagnostic::Finding>,
    wanted: impl Fn(&str) -> bool,
) {
    if let Some(parsed) = &context.state_model {
        findings.extend(
            parsed
                .findings
                .iter()
                .filter(|finding| wanted(&finding.code))
                .cloned(),
        );
    }
}
