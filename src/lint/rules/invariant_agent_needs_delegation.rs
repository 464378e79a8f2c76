//! Invariant: an agent without a valid delegation can neither propose nor execute.

use crate::capability::ActorType;
use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::decide::Action;

use super::support::{DelegationState, facts, principal, prove};

pub static RULE: Rule = Rule {
    id: "invariant-agent-needs-delegation",
    category: Category::Invariant,
    severity: Severity::Error,
    summary: "an agent with a missing, expired, revoked, out-of-scope or other-owner delegation could propose or execute",
    why: "Agents act only inside a live delegation from an owner, and only on that owner's \
          resources (no confused deputy). Lint proves on the real policy set that every other \
          delegation state denies propose and execute for every capability.",
    failing: &[(
        "policies/base.cedar",
        "@id(\"staff.propose\")\npermit (principal is Staff, action == Action::\"propose\", resource);\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n\n@id(\"agent.propose-drafts\")\npermit (principal is Agent, action == Action::\"propose\", resource)\nwhen { resource.mode == \"draft\" };\n",
    )],
    passing: &[(
        "policies/base.cedar",
        "@id(\"staff.propose\")\npermit (principal is Staff, action == Action::\"propose\", resource);\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n\n@id(\"agent.propose-drafts\")\npermit (principal is Agent, action == Action::\"propose\", resource)\nwhen {\n  resource.mode == \"draft\" &&\n  principal has delegation &&\n  principal.delegation.in_scope &&\n  !principal.delegation.expired &&\n  !principal.delegation.revoked &&\n  principal.delegation.owner == context.resource_owner\n};\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    prove(
        context,
        findings,
        |_| true,
        |manifest| {
            let required = i64::from(manifest.approval.required);
            let mut cases = Vec::new();
            for state in DelegationState::ALL {
                if state == DelegationState::Live {
                    continue;
                }
                let agent = principal(ActorType::Agent, state, &manifest.id);
                for action in [Action::Propose, Action::Execute] {
                    for exemption in [false, true] {
                        cases.push((
                            agent.clone(),
                            state,
                            action,
                            facts(&[], required, exemption, false),
                        ));
                    }
                }
            }
            cases
        },
        |manifest| {
            format!(
                "an agent without a valid delegation could act on `{}`",
                manifest.id
            )
        },
        "forbid agents whose delegation is missing, expired, revoked, out of scope or from another owner",
    );
}
