//! Two manifests with the same id.

use std::collections::HashMap;

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "duplicate-capability-id",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "two capability manifests declare the same id",
    why: "Decisions, quotas and the audit log key on the capability id; two manifests with one id \
          make it ambiguous which rules apply.",
    failing: &[
        (
            "capabilities/studio.example.note.yaml",
            super::support::EXAMPLE_CAPABILITY,
        ),
        (
            "capabilities/copy/studio.example.note.yaml",
            super::support::EXAMPLE_CAPABILITY,
        ),
    ],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        super::support::EXAMPLE_CAPABILITY,
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (parsed, manifest) in context.valid_manifests() {
        match first.get(manifest.id.as_str()) {
            Some(first_file) => findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!("capability id `{}` is declared twice", manifest.id),
                    ),
                    "/id",
                    "declared again here",
                )
                .with_help(format!(
                    "the first declaration is in `{first_file}`; keep one manifest per id"
                )),
            ),
            None => {
                first.insert(&manifest.id, &parsed.source.name);
            }
        }
    }
}
