//! A capability manifest that does not parse or does not match the manifest schema.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "invalid-manifest",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a capability manifest is not valid YAML or does not match the manifest schema",
    why: "A manifest brain cannot read is a capability nobody governs: it cannot be decided on, \
          linted further, or audited. Every key is checked, and unknown keys are errors so typos \
          never silently drop a setting.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nrisk_tier: extreme\nmode: draft\ntarget: brain\nclass: internal\naproval: {}\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        super::support::EXAMPLE_CAPABILITY,
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for parsed in &context.manifests {
        findings.extend(parsed.findings.iter().cloned());
    }
}
