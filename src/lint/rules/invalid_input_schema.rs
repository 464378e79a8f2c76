//! A manifest whose `input_schema` is not a usable JSON Schema.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "invalid-input-schema",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a capability's `input_schema` is not a valid JSON Schema for an object",
    why: "Every proposal's input is validated against the manifest's schema before anything is \
          stored; a broken schema would reject every proposal, or accept anything.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\ninput_schema:\n  type: object\n  properties:\n    text: { type: sentence }\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\ninput_schema:\n  type: object\n  properties:\n    text: { type: string }\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (parsed, manifest) in context.valid_manifests() {
        let Some(schema) = &manifest.input_schema else {
            continue;
        };
        let problem = match jsonschema::validator_for(schema) {
            Err(error) => Some(format!("it is not a valid JSON Schema: {error}")),
            Ok(_) if schema.get("type").and_then(|kind| kind.as_str()) != Some("object") => Some(
                "its top level must be `type: object` (proposal input is a mapping)".to_string(),
            ),
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            findings.push(
                at_value(
                    parsed,
                    Finding::error("", format!("input schema of `{}`: {problem}", manifest.id)),
                    "/input_schema",
                    "invalid schema",
                )
                .with_help("write a JSON Schema (draft 2020-12) for an object, such as `{ type: object, properties: { text: { type: string } } }`"),
            );
        }
    }
}
