//! A class or queue of the state model lists nothing.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "state-model-empty-class",
    category: Category::StateModel,
    severity: Severity::Error,
    summary: "a class or queue of the state model lists nothing",
    why: "An empty class (`closed: []`) looks like a decision but counts no record, so every value \
          meant for it lands in `unclassified`; leave a class out instead of writing it empty.",
    failing: &[(
        "specs/studio-state.yaml",
        "id: studio-os-portal\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes:\n      open: [SUBMITTED]\n      closed: []\n",
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
