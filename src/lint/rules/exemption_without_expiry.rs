//! An exemption with no expiry.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_key;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "exemption-without-expiry",
    category: Category::Exemption,
    severity: Severity::Error,
    summary: "an exemption has no `expires`",
    why: "Exemptions are time-bounded by definition; an open-ended one is a permanent change of \
          policy that skipped policy review. brain never treats it as in force.",
    failing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2026-11-01\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
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
        if exemption.expires.is_none() {
            findings.push(
                at_key(parsed, Finding::error("", "exemption has no expiry"), "/starts", "no `expires`")
                    .with_help("add `expires:` at most `thresholds.max_exemption` (30 days by default) after `starts`"),
            );
        }
    }
}
