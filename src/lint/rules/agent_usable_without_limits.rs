//! A draft or write capability agents can use, without quotas.

use crate::capability::{ActorType, Mode};
use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_key;
use crate::lint::{Category, Context, Rule};
use crate::policy::decide::Action;

use super::support::{DelegationState, decide, facts, principal};

pub static RULE: Rule = Rule {
    id: "agent-usable-without-limits",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "agents can propose a draft or write capability that has no quota",
    why: "Swarms run unattended. A capability an agent can propose needs `limits` so a runaway \
          agent floods nobody's queue; the policy set decides whether agents can use it, and this \
          rule asks it.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        super::support::EXAMPLE_CAPABILITY,
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let Some(decider) = &context.decider else {
        return;
    };
    for (parsed, manifest) in context.valid_manifests() {
        if manifest.mode == Mode::Read || !manifest.limits.is_empty() || !manifest.enabled {
            continue;
        }
        let agent = principal(ActorType::Agent, DelegationState::Live, &manifest.id);
        let decision = decide(
            decider,
            &agent,
            Action::Propose,
            manifest,
            &facts(&[], 0, false, false),
        );
        if decision.allowed {
            findings.push(
                at_key(
                    parsed,
                    Finding::error(
                        "",
                        format!(
                            "agents may propose `{}` ({}), but it has no `limits`",
                            manifest.id,
                            super::support::permitted_by(&decision)
                        ),
                    ),
                    "/mode",
                    "agent-usable without quotas",
                )
                .with_help("add `limits: [{ per: actor, max: 20, window: 1d }]`"),
            );
        }
    }
}
