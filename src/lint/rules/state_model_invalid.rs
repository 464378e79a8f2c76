//! The state model is not valid YAML or does not match its schema.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "state-model-invalid",
    category: Category::StateModel,
    severity: Severity::Error,
    summary: "the state model is not valid YAML or does not match its schema",
    why: "The state model decides every StudioState count; a model brain cannot read would leave \
          snapshots counted by rules nobody wrote down. Unknown keys are errors so a typo never \
          silently drops a rule (`brain schema state-model` documents the shape).",
    failing: &[(
        "specs/studio-state.yaml",
        "id: studio-os-portal\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    clases:\n      open: [SUBMITTED]\n",
    )],
    passing: &[(
        "specs/studio-state.yaml",
        "id: studio-os-portal\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes:\n      open: [SUBMITTED]\n      closed: [\"CLOSED_*\"]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    super::support::state_model_findings(context, findings, |code| {
        code.starts_with("state-model::")
    });
}
