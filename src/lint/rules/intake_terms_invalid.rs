//! Intake term lists that do not parse, name an unknown category, have an empty list, or list
//! one term in two categories.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "intake-terms-invalid",
    category: Category::Spec,
    severity: Severity::Error,
    summary: "the intake gate's term lists are not valid, name an unknown category, have an empty list, or list a term twice",
    why: "The intake lists decide which proposals a policy blocks until a person overrides the \
          gate. A category brain does not know routes nothing, an empty list looks like a \
          decision but matches nothing, and a term in two lists makes the category depend on \
          the order of the file.",
    failing: &[(
        "specs/intake.yaml",
        "id: studio-intake\nversion: 1\ncategories:\n  weapons: [grenade]\n  fraud_risk: []\n",
    )],
    passing: &[(
        "specs/intake.yaml",
        "id: studio-intake\nversion: 1\ncategories:\n  weaponization: [grenade]\n  fraud_risk: [card number]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    if let Some(parsed) = &context.intake {
        findings.extend(parsed.findings.iter().cloned());
    }
}
