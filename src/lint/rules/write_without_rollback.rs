//! A write whose rollback is "none".

use crate::capability::Mode;
use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "write-without-rollback",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a write capability declares no way to undo it",
    why: "Every write needs a rollback drill: what to run, or what to do, to undo it. \
          `strategy: none` is for reads, which change nothing.",
    failing: &[(
        "capabilities/firestore.example.write.yaml",
        "id: firestore.example.write\ntitle: Example write\nowner: staff:studio-manager\nrisk_tier: low\nmode: write\ntarget: firestore\nclass: cloud\napproval:\n  required: 1\nlimits:\n  - per: actor\n    max: 5\n    window: 1d\nfailure_mode: Nothing is written.\nrollback:\n  strategy: none\n  how: It cannot be undone.\ntests: [tests/it/example.rs]\n",
    )],
    passing: &[(
        "capabilities/firestore.example.write.yaml",
        "id: firestore.example.write\ntitle: Example write\nowner: staff:studio-manager\nrisk_tier: low\nmode: write\ntarget: firestore\nclass: cloud\napproval:\n  required: 1\nlimits:\n  - per: actor\n    max: 5\n    window: 1d\nfailure_mode: Nothing is written.\nrollback:\n  strategy: delete_created_document\n  how: Delete the document brain created.\ntests: [tests/it/example.rs]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (parsed, manifest) in context.valid_manifests() {
        let Some(rollback) = &manifest.rollback else {
            continue;
        };
        let undoable = !rollback.strategy.trim().eq_ignore_ascii_case("none")
            && !rollback.how.trim().is_empty();
        if manifest.mode == Mode::Write && !undoable {
            findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!("write capability `{}` cannot be rolled back", manifest.id),
                    ),
                    "/rollback/strategy",
                    "no rollback",
                )
                .with_help("name a rollback strategy and describe how to run it"),
            );
        }
    }
}
