//! A state model entry repeats a value, misplaces a `*`, or queues a class it leaves out.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "state-model-malformed",
    category: Category::StateModel,
    severity: Severity::Error,
    summary: "a state model entry repeats a value, misplaces a `*`, or queues a class it leaves out",
    why: "A repeated value hides a typo nearby, a `*` anywhere but the end matches nothing the \
          author meant, and a queue counting a class with no values is always zero.",
    failing: &[(
        "specs/studio-state.yaml",
        "id: studio-os-portal\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes:\n      open: [SUBMITTED, submitted]\n      closed: [\"CLOSED_*\"]\n",
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
