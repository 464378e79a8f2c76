//! A lifecycle value (or a prefix) of the state model is in two classes.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "state-model-value-in-two-classes",
    category: Category::StateModel,
    severity: Severity::Error,
    summary: "a lifecycle value (or a prefix) of the state model is in two classes",
    why: "A value in two classes makes a count depend on the order rules are read in; values \
          compare case-insensitively and `PREFIX*` entries match every value they start, so \
          `cancelled` and `CANCELLED`, or `CLOSED_X` and `CLOSED_*`, are the same value.",
    failing: &[(
        "specs/studio-state.yaml",
        "id: studio-os-portal\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes:\n      open: [SUBMITTED, CLOSED_PENDING]\n      closed: [\"CLOSED_*\"]\n",
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
