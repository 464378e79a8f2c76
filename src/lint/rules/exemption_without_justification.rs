//! An exemption without a justification.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_key;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "exemption-without-justification",
    category: Category::Exemption,
    severity: Severity::Error,
    summary: "an exemption has no (or an empty) `justification`",
    why: "The quarterly policy review reads why each exemption exists; one without a reason cannot \
          be reviewed. brain never treats it as in force.",
    failing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2026-11-01\nexpires: 2026-11-08\nrequested_by: staff:alice\napproved_by: staff:bob\n",
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
        if exemption
            .justification
            .as_deref()
            .is_none_or(|text| text.trim().is_empty())
        {
            findings.push(
                at_key(
                    parsed,
                    Finding::error("", "exemption has no justification"),
                    "/justification",
                    "no justification",
                )
                .with_help(
                    "add `justification:` saying why approvals may be skipped, and until when",
                ),
            );
        }
    }
}
