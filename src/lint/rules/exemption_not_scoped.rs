//! An exemption not scoped to one capability.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::{at_key, at_value};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "exemption-not-scoped",
    category: Category::Exemption,
    severity: Severity::Error,
    summary: "an exemption does not name exactly one capability",
    why: "Exemptions are narrow: one capability, optionally one owner. A missing or wildcard \
          capability would waive approvals for everything. brain never treats it as in force.",
    failing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.*\nstarts: 2026-11-01\nexpires: 2026-11-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
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
        match exemption.capability.as_deref() {
            None => findings.push(
                at_key(
                    parsed,
                    Finding::error("", "exemption names no capability"),
                    "/capability",
                    "no capability",
                )
                .with_help("add `capability: <id>` naming the one capability it covers"),
            ),
            Some(capability) if capability.contains('*') || capability.trim().is_empty() => {
                findings.push(
                    at_value(
                        parsed,
                        Finding::error(
                            "",
                            format!("exemption covers `{capability}`, not one capability"),
                        ),
                        "/capability",
                        "not one capability",
                    )
                    .with_help("name one capability id; write one exemption per capability"),
                )
            }
            Some(_) => {}
        }
    }
}
