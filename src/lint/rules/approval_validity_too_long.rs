//! An approval that stays valid longer than the configured maximum.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "approval-validity-too-long",
    category: Category::Manifest,
    severity: Severity::Warning,
    summary: "an approval stays valid longer than `thresholds.max_approval_validity` (default 7d)",
    why: "An approval vouches for the world as it was when it was given. One that lasts for weeks \
          lets an old yes execute into a changed studio.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\napproval:\n  valid_for: 90d\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\napproval:\n  valid_for: 24h\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let maximum = context.workspace.thresholds.max_approval_validity;
    for (parsed, manifest) in context.valid_manifests() {
        if manifest.approval.valid_for > maximum {
            findings.push(
                at_value(
                    parsed,
                    Finding::warning(
                        "",
                        format!(
                            "approvals of `{}` stay valid for {}, longer than the maximum {maximum}",
                            manifest.id, manifest.approval.valid_for
                        ),
                    ),
                    "/approval/valid_for",
                    "too long",
                )
                .with_help(format!("use `valid_for: {maximum}` or less, or raise `thresholds.max_approval_validity`")),
            );
        }
    }
}
