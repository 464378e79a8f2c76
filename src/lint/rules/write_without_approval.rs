//! A write to an external system that needs no approval.

use crate::capability::{Class, Mode};
use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_key;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "write-without-approval",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a capability writes to an external system without requiring an approval",
    why: "Irreversible actions need human approval: brain proposes, people approve. A write to the \
          cloud or a device with `approval.required: 0` would let a proposer act alone. Internal \
          governance writes (kill switches) are exempt: they must work instantly.",
    failing: &[(
        "capabilities/firestore.example.write.yaml",
        "id: firestore.example.write\ntitle: Example write\nowner: staff:studio-manager\nrisk_tier: low\nmode: write\ntarget: firestore\nclass: cloud\nlimits:\n  - per: actor\n    max: 5\n    window: 1d\nfailure_mode: Nothing is written.\nrollback:\n  strategy: delete_created_document\n  how: Delete the document.\ntests: [tests/it/example.rs]\n",
    )],
    passing: &[(
        "capabilities/firestore.example.write.yaml",
        "id: firestore.example.write\ntitle: Example write\nowner: staff:studio-manager\nrisk_tier: low\nmode: write\ntarget: firestore\nclass: cloud\napproval:\n  required: 1\nlimits:\n  - per: actor\n    max: 5\n    window: 1d\nfailure_mode: Nothing is written.\nrollback:\n  strategy: delete_created_document\n  how: Delete the document.\ntests: [tests/it/example.rs]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (parsed, manifest) in context.valid_manifests() {
        if manifest.mode == Mode::Write
            && manifest.class != Class::Internal
            && manifest.approval.required == 0
        {
            findings.push(
                at_key(
                    parsed,
                    Finding::error(
                        "",
                        format!(
                            "capability `{}` writes to `{}` without an approval",
                            manifest.id, manifest.target
                        ),
                    ),
                    "/approval",
                    "needs `approval.required: 1` or more",
                )
                .with_help("set `approval: { required: 1 }` (2 for high and critical tiers)"),
            );
        }
    }
}
