//! A `@reason` that is not in the reason-code catalogue.

use crate::diagnostic::{Finding, Severity, did_you_mean};
use crate::lint::{Category, Context, Rule};
use crate::policy::{head, reasons};

pub static RULE: Rule = Rule {
    id: "unknown-reason-code",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "a policy's `@reason` is not a code from brain's reason-code catalogue",
    why: "Reason codes are a stable contract: the CLI, the API and the console explain them in \
          words, and scripts match on them. A code outside the catalogue explains nothing.",
    failing: &[(
        "policies/example.cedar",
        "@id(\"example.quota\")\n@reason(\"QUOTA_USED_UP\")\nforbid (principal, action == Action::\"execute\", resource)\nwhen { context.quota_exceeded };\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.quota\")\n@reason(\"QUOTA_EXCEEDED\")\nforbid (principal, action == Action::\"execute\", resource)\nwhen { context.quota_exceeded };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (file, statement) in context.statements() {
        let Some(code) = statement.annotations.get("reason") else {
            continue;
        };
        if reasons::lookup(code).is_none() {
            let help = match did_you_mean(code, reasons::CATALOGUE.iter().map(|reason| reason.code))
            {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!(
                    "use one of: {}",
                    reasons::CATALOGUE
                        .iter()
                        .map(|reason| reason.code)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            findings.push(
                Finding::error("", format!("reason code `{code}` is not in the catalogue"))
                    .at(file, head(file, &statement.span), "unknown reason code")
                    .with_help(help),
            );
        }
    }
}
