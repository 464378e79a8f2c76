//! A policy without `@id`.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::head;

pub static RULE: Rule = Rule {
    id: "policy-missing-id",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "a policy has no `@id(\"...\")` annotation",
    why: "brain reports every decision by the ids people wrote; Cedar's own `policy0`, `policy1` \
          change whenever a file is edited and mean nothing in an audit log.",
    failing: &[(
        "policies/example.cedar",
        "permit (principal is Staff, action == Action::\"reject\", resource);\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.staff-reject\")\npermit (principal is Staff, action == Action::\"reject\", resource);\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (file, statement) in context.statements() {
        if statement.id.is_none() {
            findings.push(
                Finding::error("", "policy has no `@id` annotation")
                    .at(file, head(file, &statement.span), "no @id")
                    .with_help("add `@id(\"area.what-it-does\")` above the policy"),
            );
        }
    }
}
