//! Invariant: no approval-required capability executes short of its approvals without an
//! exemption in force.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::decide::Action;

use super::support::{facts, principals, prove};

pub static RULE: Rule = Rule {
    id: "invariant-approval-required",
    category: Category::Invariant,
    severity: Severity::Error,
    summary: "a capability that needs approvals could execute with fewer and no exemption in force",
    why: "Irreversible actions need approval. Lint proves on the real policy set that every \
          capability with `approval.required: N` denies execute for every actor with 0..N-1 \
          approvals unless an exemption is in force.",
    failing: &[(
        "policies/base.cedar",
        "@id(\"staff.execute\")\npermit (principal is Staff, action == Action::\"execute\", resource);\n\n@id(\"staff.propose\")\npermit (principal is Staff, action == Action::\"propose\", resource);\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n",
    )],
    passing: &[(
        "policies/base.cedar",
        "@id(\"staff.execute\")\npermit (principal is Staff, action == Action::\"execute\", resource);\n\n@id(\"staff.propose\")\npermit (principal is Staff, action == Action::\"propose\", resource);\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n\n@id(\"approval.required-before-execute\")\n@reason(\"APPROVAL_REQUIRED\")\nforbid (principal, action == Action::\"execute\", resource)\nwhen { context.approvals < resource.required_approvals && !context.exemption_in_force };\n\n@id(\"agent.delegation-missing\")\n@reason(\"DELEGATION_MISSING\")\nforbid (principal is Agent, action, resource)\nunless { principal has delegation };\n\n@id(\"approval.no-self-approval\")\n@reason(\"SELF_APPROVAL_FORBIDDEN\")\nforbid (principal, action == Action::\"approve\", resource)\nwhen { context.actor == context.proposer };\n\n@id(\"state.fresh-snapshot-required\")\n@reason(\"SNAPSHOT_STALE\")\nforbid (principal, action in [Action::\"propose\", Action::\"execute\"], resource)\nwhen { resource.requires_fresh_state && context.snapshot_stale };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    prove(
        context,
        findings,
        |manifest| manifest.approval.required > 0,
        |manifest| {
            let mut cases = Vec::new();
            for (principal, state) in principals(&manifest.id) {
                for approvals in 0..i64::from(manifest.approval.required) {
                    for stale in [false, true] {
                        let situation = facts(&[], approvals, false, stale);
                        cases.push((principal.clone(), state, Action::Execute, situation));
                    }
                }
            }
            cases
        },
        |manifest| {
            format!(
                "`{}` could execute with fewer than {} approval(s) and no exemption",
                manifest.id, manifest.approval.required
            )
        },
        "forbid execute while `context.approvals < resource.required_approvals && !context.exemption_in_force`",
    );
}
