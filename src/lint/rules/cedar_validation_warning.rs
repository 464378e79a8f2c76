//! Warnings of Cedar's validator (and of the schema parser).

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "cedar-validation-warning",
    category: Category::Cedar,
    severity: Severity::Warning,
    summary: "Cedar's validator warns about a policy (or the schema)",
    why: "Validator warnings flag policies that are legal but almost certainly not what was \
          meant, such as confusable Unicode in strings or identifiers.",
    failing: &[(
        "policies/example.cedar",
        "@id(\"example.confusable\")\npermit (principal is Staff, action == Action::\"reject\", resource)\nwhen { resource.title == \"\u{0441}lay\" };\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.confusable\")\npermit (principal is Staff, action == Action::\"reject\", resource)\nwhen { resource.title == \"clay\" };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    findings.extend(
        context
            .policy_findings
            .iter()
            .filter(|finding| {
                finding.code == "cedar::validation_warning"
                    || finding.code == "cedar::schema_warning"
            })
            .cloned(),
    );
}
