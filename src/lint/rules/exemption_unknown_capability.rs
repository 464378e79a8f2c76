//! An exemption for a capability that has no manifest.

use crate::diagnostic::{Finding, Severity, did_you_mean};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "exemption-unknown-capability",
    category: Category::Exemption,
    severity: Severity::Error,
    summary: "an exemption names a capability that has no manifest",
    why: "An exemption for a capability that does not exist never applies, usually because of a \
          typo, and the staff relying on it will be denied.",
    failing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_notes.append\nstarts: 2026-11-01\nexpires: 2026-11-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    passing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2026-11-01\nexpires: 2026-11-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let known: Vec<&str> = context
        .valid_manifests()
        .map(|(_, manifest)| manifest.id.as_str())
        .collect();
    for parsed in &context.exemptions {
        let Some(exemption) = &parsed.value else {
            continue;
        };
        let Some(capability) = exemption.capability.as_deref() else {
            continue;
        };
        if capability.contains('*') || known.contains(&capability) {
            continue;
        }
        let help = match did_you_mean(capability, known.iter().copied()) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => "name an existing capability id".to_string(),
        };
        findings.push(
            at_value(
                parsed,
                Finding::error(
                    "",
                    format!("exemption names unknown capability `{capability}`"),
                ),
                "/capability",
                "no such capability",
            )
            .with_help(help),
        );
    }
}
