//! A forbid without `@reason`.

use cedar_policy::Effect;

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::head;

pub static RULE: Rule = Rule {
    id: "forbid-without-reason",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "a forbid policy has no `@reason(\"CODE\")` annotation",
    why: "Every denial tells the person denied why, with a stable reason code from the catalogue; \
          a forbid without a reason denies without explanation.",
    failing: &[(
        "policies/example.cedar",
        "@id(\"example.no-weekend-writes\")\nforbid (principal, action == Action::\"execute\", resource)\nwhen { context.quota_exceeded };\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.no-weekend-writes\")\n@reason(\"QUOTA_EXCEEDED\")\nforbid (principal, action == Action::\"execute\", resource)\nwhen { context.quota_exceeded };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (file, statement) in context.statements() {
        if statement.policy.effect() == Effect::Forbid
            && !statement.annotations.contains_key("reason")
        {
            findings.push(
                Finding::error(
                    "",
                    format!("forbid `{}` has no `@reason`", statement.id.as_deref().unwrap_or("(no id)")),
                )
                .at(file, head(file, &statement.span), "no @reason")
                .with_help("add `@reason(\"CODE\")` with a code from the catalogue (`brain lint --explain unknown-reason-code` lists them)"),
            );
        }
    }
}
