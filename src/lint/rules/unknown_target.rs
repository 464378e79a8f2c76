//! A capability whose target is no known connector.

use crate::diagnostic::{Finding, Severity, did_you_mean};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "unknown-target",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a capability names a target that is neither built in nor a configured connector",
    why: "The target decides which connector reads or executes the capability and which kill \
          switch covers it; an unknown target is a capability nothing can run and no switch stops.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: read\ntarget: firestor\nclass: cloud\nfailure_mode: Nothing is read.\nrollback:\n  strategy: none\n  how: Reads change nothing.\ntests: [tests/it/example.rs]\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: read\ntarget: firestore\nclass: cloud\nfailure_mode: Nothing is read.\nrollback:\n  strategy: none\n  how: Reads change nothing.\ntests: [tests/it/example.rs]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let known = &context.workspace.known_targets;
    for (parsed, manifest) in context.valid_manifests() {
        if !known.contains(&manifest.target) {
            let help = match did_you_mean(&manifest.target, known.iter().map(String::as_str)) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!(
                    "use one of {}, or add a connector with this id to brain.yaml",
                    known
                        .iter()
                        .map(|target| format!("`{target}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!(
                            "capability `{}` targets unknown `{}`",
                            manifest.id, manifest.target
                        ),
                    ),
                    "/target",
                    "unknown target",
                )
                .with_help(help),
            );
        }
    }
}
