//! Invariant: a swarm (an agent brain.yaml names under `swarms:`) can only draft.

use crate::capability::{ActorType, Mode};
use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::decide::Action;

use super::support::{DelegationState, facts, principal, prove};

pub static RULE: Rule = Rule {
    id: "invariant-swarm-draft-only",
    category: Category::Invariant,
    severity: Severity::Error,
    summary: "a swarm could propose, approve, execute or roll back a capability that is not a draft",
    why: "Swarms read the studio and draft; a person decides and acts. Lint proves on the real \
          policy set that a swarm's agent, even with a live delegation that covers the \
          capability, approvals in place and an exemption in force, is denied every step on \
          every capability whose mode is not `draft` (writes, reads, enforcement).",
    failing: &[(
        "policies/base.cedar",
        "@id(\"agent.propose-delegated\")\npermit (principal is Agent, action == Action::\"propose\", resource)\nwhen { principal has delegation && principal.delegation.in_scope };\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n",
    )],
    passing: &[(
        "policies/base.cedar",
        "@id(\"agent.propose-delegated\")\npermit (principal is Agent, action == Action::\"propose\", resource)\nwhen { principal has delegation && principal.delegation.in_scope };\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n\n@id(\"swarm.draft-only\")\n@reason(\"SWARM_DRAFT_ONLY\")\nforbid (principal is Agent, action in [Action::\"propose\", Action::\"approve\", Action::\"execute\", Action::\"rollback\"], resource)\nwhen { principal has swarm && principal.swarm && resource.mode != \"draft\" };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    prove(
        context,
        findings,
        |manifest| manifest.mode != Mode::Draft,
        |manifest| {
            let required = i64::from(manifest.approval.required);
            let mut swarm = principal(ActorType::Agent, DelegationState::Live, &manifest.id);
            swarm.swarm = true;
            let mut cases = Vec::new();
            for action in [
                Action::Propose,
                Action::Approve,
                Action::Execute,
                Action::Rollback,
            ] {
                for exemption in [false, true] {
                    cases.push((
                        swarm.clone(),
                        DelegationState::Live,
                        action,
                        facts(&[], required, exemption, false),
                    ));
                }
            }
            cases
        },
        |manifest| {
            format!(
                "a swarm could act on `{}`, which is not a draft",
                manifest.id
            )
        },
        "forbid agents with `principal.swarm` every step on capabilities whose mode is not `draft`",
    );
}
