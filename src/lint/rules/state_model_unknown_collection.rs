//! The state model names a collection brain does not read.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "state-model-unknown-collection",
    category: Category::StateModel,
    severity: Severity::Error,
    summary: "the state model names a collection brain does not read",
    why: "A rule for a collection no source reads counts nothing, and a misspelt name (`batchs`) \
          leaves the real collection uncounted while the model looks complete.",
    failing: &[(
        "specs/studio-state.yaml",
        "id: studio-os-portal\nversion: 1\ncollections:\n  batchs:\n    lifecycle: [state]\n    classes:\n      open: [SUBMITTED]\n",
    )],
    passing: &[(
        "specs/studio-state.yaml",
        "id: studio-os-portal\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes:\n      open: [SUBMITTED]\n      closed: [\"CLOSED_*\"]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    super::support::state_model_findings(context, findings, |code| code == RULE.id);
}
