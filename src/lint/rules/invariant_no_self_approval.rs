//! Invariant: a proposer can never approve their own proposal.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::decide::Action;

use super::support::{facts, principals, prove};

pub static RULE: Rule = Rule {
    id: "invariant-no-self-approval",
    category: Category::Invariant,
    severity: Severity::Error,
    summary: "some actor could approve a proposal they made themselves",
    why: "No self-approval: an approval is a second person's judgement. Lint proves on the real \
          policy set that `approve` is denied whenever the approver is the proposer, for every \
          capability and actor.",
    failing: &[(
        "policies/base.cedar",
        "@id(\"staff.approve\")\npermit (principal is Staff, action == Action::\"approve\", resource);\n\n@id(\"staff.propose\")\npermit (principal is Staff, action == Action::\"propose\", resource);\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n\n@id(\"agent.delegation-missing\")\n@reason(\"DELEGATION_MISSING\")\nforbid (principal is Agent, action, resource)\nunless { principal has delegation };\n",
    )],
    passing: &[(
        "policies/base.cedar",
        "@id(\"staff.approve\")\npermit (principal is Staff, action == Action::\"approve\", resource);\n\n@id(\"staff.propose\")\npermit (principal is Staff, action == Action::\"propose\", resource);\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n\n@id(\"agent.delegation-missing\")\n@reason(\"DELEGATION_MISSING\")\nforbid (principal is Agent, action, resource)\nunless { principal has delegation };\n\n@id(\"approval.no-self-approval\")\n@reason(\"SELF_APPROVAL_FORBIDDEN\")\nforbid (principal, action == Action::\"approve\", resource)\nwhen { context.actor == context.proposer };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    prove(
        context,
        findings,
        |_| true,
        |manifest| {
            let mut cases = Vec::new();
            for (principal, state) in principals(&manifest.id) {
                for exemption in [false, true] {
                    let mut situation = facts(&[], 0, exemption, false);
                    situation.proposer = principal.id();
                    cases.push((principal.clone(), state, Action::Approve, situation));
                }
            }
            cases
        },
        |manifest| {
            format!(
                "a proposer could approve their own proposal of `{}`",
                manifest.id
            )
        },
        "forbid approve when `context.actor == context.proposer`",
    );
}
