//! Policies that fail strict validation against the schema.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "cedar-validation",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "a policy fails strict validation against `brain.cedarschema`",
    why: "Strict validation catches misspelled attributes, wrong types and impossible scopes \
          before they reach a decision: a policy that errors at evaluation would otherwise be \
          skipped, and brain treats an erroring policy as a deny.",
    failing: &[(
        "policies/example.cedar",
        "@id(\"example.typo\")\npermit (principal is Staff, action == Action::\"reject\", resource)\nwhen { resource.risk_teir == \"low\" };\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.typo\")\npermit (principal is Staff, action == Action::\"reject\", resource)\nwhen { resource.risk_tier == \"low\" };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    findings.extend(
        context
            .policy_findings
            .iter()
            .filter(|finding| {
                finding.code == "cedar::validation" || finding.code == "cedar::policy_set"
            })
            .cloned(),
    );
}
