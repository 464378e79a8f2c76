//! An exemption approved by the person who requested it.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "self-approved-exemption",
    category: Category::Exemption,
    severity: Severity::Error,
    summary: "an exemption's requester is also its approver",
    why: "No self-approval, anywhere: an exemption waives approvals, so it needs a second person \
          even more than the actions it covers. brain never treats it as in force.",
    failing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2026-11-01\nexpires: 2026-11-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:alice\n",
    )],
    passing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2026-11-01\nexpires: 2026-11-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for parsed in &context.exemptions {
        let Some(exemption) = &parsed.value else {
            continue;
        };
        if exemption.requested_by == exemption.approved_by {
            findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!("`{}` approved their own exemption", exemption.approved_by),
                    ),
                    "/approved_by",
                    "same as requested_by",
                )
                .with_help("have someone other than the requester approve it"),
            );
        }
    }
}
