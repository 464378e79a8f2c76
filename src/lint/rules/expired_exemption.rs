//! An exemption that has expired.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "expired-exemption",
    category: Category::Exemption,
    severity: Severity::Warning,
    summary: "an exemption's `expires` has passed",
    why: "An expired exemption no longer applies; keeping the file suggests otherwise to the next \
          reader. Delete it (the audit log keeps its history).",
    failing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2020-01-01\nexpires: 2020-01-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    passing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2099-01-01\nexpires: 2099-01-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for parsed in &context.exemptions {
        let Some(exemption) = &parsed.value else {
            continue;
        };
        let Some(expires) = exemption.expires else {
            continue;
        };
        if expires.0 <= context.workspace.now {
            findings.push(
                at_value(
                    parsed,
                    Finding::warning("", format!("exemption expired at {expires}")),
                    "/expires",
                    "expired",
                )
                .with_help("delete the file; it no longer applies"),
            );
        }
    }
}
