//! A spec without the sections every RFC-lite spec needs.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

/// The sections a spec must have, as `##` headings.
pub const REQUIRED_SECTIONS: &[&str] = &[
    "Owner",
    "Risk tier",
    "Failure mode",
    "Rollback",
    "Test coverage",
    "Escalation path",
];

pub static RULE: Rule = Rule {
    id: "spec-missing-sections",
    category: Category::Spec,
    severity: Severity::Error,
    summary: "a spec lacks one of the sections owner, risk tier, failure mode, rollback, test coverage, escalation path",
    why: "The RFC-lite spec is where a high-risk capability's owner, blast radius, undo and \
          escalation are agreed before it ships; each of them is a `##` section.",
    failing: &[(
        "specs/studio.example.note.md",
        "---\ncapability: studio.example.note\n---\n\n# Example\n\n## Owner\n\nThe studio manager.\n",
    )],
    passing: &[(
        "specs/studio.example.note.md",
        "---\ncapability: studio.example.note\n---\n\n# Example\n\n## Owner\n\nx\n\n## Risk tier\n\nx\n\n## Failure mode\n\nx\n\n## Rollback\n\nx\n\n## Test coverage\n\nx\n\n## Escalation path\n\nx\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for spec in &context.specs {
        let missing: Vec<&str> = REQUIRED_SECTIONS
            .iter()
            .copied()
            .filter(|section| !spec.has_heading(section))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let first_line = spec
            .source
            .text()
            .find('\n')
            .unwrap_or(spec.source.text().len());
        findings.push(
            Finding::error(
                "",
                format!(
                    "spec `{}` lacks the section(s): {}",
                    spec.relative,
                    missing.join(", ")
                ),
            )
            .at(&spec.source, 0..first_line, "incomplete spec")
            .with_help(format!(
                "add a `## {}` section (see specs/README.md)",
                missing.first().copied().unwrap_or_default()
            )),
        );
    }
}
