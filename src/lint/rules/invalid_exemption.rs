//! An exemption record that does not parse or does not match the exemption schema.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "invalid-exemption",
    category: Category::Exemption,
    severity: Severity::Error,
    summary: "an exemption file is not valid YAML or does not match the exemption schema",
    why: "An exemption brain cannot read is never in force, which is safe, but the people relying \
          on it would be surprised; lint says so before they are.",
    failing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: next monday\nexpires: 2026-11-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    passing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2026-11-01\nexpires: 2026-11-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for parsed in &context.exemptions {
        findings.extend(parsed.findings.iter().cloned());
    }
}
