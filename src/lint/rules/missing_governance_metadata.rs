//! A manifest without the governance metadata every capability needs.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_key;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "missing-governance-metadata",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a capability lacks an owner, risk tier, failure mode, rollback or tests",
    why: "Every capability needs someone who answers for it, a risk tier that decides how much \
          approval it needs, a written failure mode, a way to undo it, and tests. Without them a \
          reviewer cannot judge the capability and on-call staff cannot recover from it.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nmode: draft\ntarget: brain\nclass: internal\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        super::support::EXAMPLE_CAPABILITY,
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (parsed, manifest) in context.valid_manifests() {
        let mut missing = Vec::new();
        if manifest
            .owner
            .as_deref()
            .is_none_or(|owner| owner.trim().is_empty())
        {
            missing.push(("owner", "owner: staff:studio-manager"));
        }
        if manifest.risk_tier.is_none() {
            missing.push(("risk_tier", "risk_tier: low"));
        }
        if manifest
            .failure_mode
            .as_deref()
            .is_none_or(|text| text.trim().is_empty())
        {
            missing.push(("failure_mode", "failure_mode: what happens when it fails"));
        }
        if manifest.rollback.is_none() {
            missing.push(("rollback", "rollback: { strategy: ..., how: ... }"));
        }
        if manifest.tests.is_empty() {
            missing.push(("tests", "tests: [tests/it/...]"));
        }
        for (field, example) in missing {
            findings.push(
                at_key(
                    parsed,
                    Finding::error("", format!("capability `{}` has no `{field}`", manifest.id)),
                    &format!("/{field}"),
                    "governance metadata missing",
                )
                .with_help(format!("add `{example}`")),
            );
        }
    }
}
