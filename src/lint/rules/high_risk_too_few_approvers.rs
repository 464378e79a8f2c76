//! A high or critical capability without the two-person rule.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_key;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "high-risk-too-few-approvers",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a high or critical capability requires fewer than two approvals",
    why: "High and critical capabilities follow the two-person rule: two distinct approvers, \
          neither of them the proposer, so one mistaken or compromised account cannot act alone.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: high\nmode: draft\ntarget: brain\nclass: internal\napproval:\n  required: 1\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\nspec: firestore.ops_note.append.md\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: high\nmode: draft\ntarget: brain\nclass: internal\napproval:\n  required: 2\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\nspec: firestore.ops_note.append.md\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (parsed, manifest) in context.valid_manifests() {
        let Some(tier) = manifest.risk_tier else {
            continue;
        };
        if tier.is_high() && manifest.approval.required < 2 {
            findings.push(
                at_key(
                    parsed,
                    Finding::error(
                        "",
                        format!(
                            "{} capability `{}` requires {} approval(s)",
                            tier.as_str(),
                            manifest.id,
                            manifest.approval.required
                        ),
                    ),
                    "/approval",
                    "two-person rule",
                )
                .with_help("set `approval.required: 2` or more"),
            );
        }
    }
}
