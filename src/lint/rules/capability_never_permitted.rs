//! A capability no policy can ever permit anyone to use.

use crate::capability::Mode;
use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};
use crate::policy::decide::Action;

use super::support::{decide, facts, principals};

pub static RULE: Rule = Rule {
    id: "capability-never-permitted",
    category: Category::Cedar,
    severity: Severity::Warning,
    summary: "no actor can ever propose (or, for reads, read) an enabled capability",
    why: "A manifest no policy permits is dead weight at best, and at worst a sign that a permit \
          was deleted or mistyped. Lint asks the real policy set with the most favourable facts.",
    failing: &[
        (
            "capabilities/studio.example.note.yaml",
            "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: read\ntarget: firestore\nclass: cloud\nfailure_mode: Nothing is read.\nrollback:\n  strategy: none\n  how: Reads change nothing.\ntests: [tests/it/example.rs]\n",
        ),
        (
            "policies/example.cedar",
            "@id(\"example.retired\")\n@reason(\"CAPABILITY_DISABLED\")\nforbid (principal, action, resource == Capability::\"studio.example.note\");\n",
        ),
    ],
    passing: &[
        (
            "capabilities/studio.example.note.yaml",
            "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: read\ntarget: firestore\nclass: cloud\nfailure_mode: Nothing is read.\nrollback:\n  strategy: none\n  how: Reads change nothing.\ntests: [tests/it/example.rs]\nenabled: false\n",
        ),
        (
            "policies/example.cedar",
            "@id(\"example.retired\")\n@reason(\"CAPABILITY_DISABLED\")\nforbid (principal, action, resource == Capability::\"studio.example.note\");\n",
        ),
    ],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let Some(decider) = &context.decider else {
        return;
    };
    for (parsed, manifest) in context.valid_manifests() {
        if !manifest.enabled {
            continue;
        }
        let action = if manifest.mode == Mode::Read {
            Action::Read
        } else {
            Action::Propose
        };
        let favourable = facts(&[], i64::from(manifest.approval.required), false, false);
        let anyone = principals(&manifest.id).iter().any(|(principal, _)| {
            decide(decider, principal, action, manifest, &favourable).allowed
        });
        if !anyone {
            findings.push(
                at_value(
                    parsed,
                    Finding::warning(
                        "",
                        format!(
                            "no actor can ever {} capability `{}`",
                            action.as_str(),
                            manifest.id
                        ),
                    ),
                    "/id",
                    "never permitted",
                )
                .with_help("add a permit policy for it, or set `enabled: false` if it is retired"),
            );
        }
    }
}
