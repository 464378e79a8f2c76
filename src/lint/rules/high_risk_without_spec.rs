//! A high or critical capability without an RFC-lite spec.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::{at_key, at_value};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "high-risk-without-spec",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a high or critical capability names no spec, or names one that does not exist",
    why: "New high-risk capabilities go through an RFC-lite spec that records the owner, the \
          failure mode, the rollback and the escalation path before anyone can use them.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: critical\nmode: draft\ntarget: brain\nclass: internal\napproval:\n  required: 2\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: critical\nmode: draft\ntarget: brain\nclass: internal\napproval:\n  required: 2\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\nspec: firestore.ops_note.append.md\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (parsed, manifest) in context.valid_manifests() {
        let Some(tier) = manifest.risk_tier else {
            continue;
        };
        if !tier.is_high() {
            continue;
        }
        match &manifest.spec {
            None => findings.push(
                at_key(
                    parsed,
                    Finding::error(
                        "",
                        format!("{} capability `{}` has no spec", tier.as_str(), manifest.id),
                    ),
                    "/risk_tier",
                    "needs `spec:`",
                )
                .with_help(format!(
                    "write `specs/{}.md` (see specs/README.md) and add `spec: {}.md`",
                    manifest.id, manifest.id
                )),
            ),
            Some(spec) if context.spec(spec).is_none() => findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!(
                            "spec `{spec}` of capability `{}` does not exist",
                            manifest.id
                        ),
                    ),
                    "/spec",
                    "no such spec",
                )
                .with_help(
                    "the path is relative to the specs directory; create the spec or fix the path",
                ),
            ),
            Some(_) => {}
        }
    }
}
