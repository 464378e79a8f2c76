//! Cedar files that do not parse, and a missing or broken schema.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "cedar-syntax",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "a Cedar policy or schema file does not parse, or the schema is missing",
    why: "A policy file that does not parse contributes nothing: its forbids would silently stop \
          protecting anything. brain refuses to load such a set, and lint points at the error.",
    failing: &[(
        "policies/example.cedar",
        "@id(\"example.broken\")\npermit (principal, action resource);\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.staff-reject\")\npermit (principal is Staff, action == Action::\"reject\", resource);\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    if context.workspace.schema.is_none() && !context.workspace.policies.is_empty() {
        let mut finding = Finding::error("", "no Cedar schema (`brain.cedarschema`) next to the policies")
            .with_help("add `policies/brain.cedarschema` (`brain init` writes one); policies are validated against it");
        if let Some(first) = context.workspace.policies.first() {
            finding = finding.in_file(first);
        }
        findings.push(finding);
    }
    for file in &context.policy_files {
        if let Err(errors) = &file.statements {
            findings.extend(errors.iter().cloned());
        }
    }
    findings.extend(
        context
            .policy_findings
            .iter()
            .filter(|finding| finding.code == "cedar::schema")
            .cloned(),
    );
}
