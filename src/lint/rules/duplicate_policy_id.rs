//! Two policies with the same `@id`.

use std::collections::HashMap;

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::head;

pub static RULE: Rule = Rule {
    id: "duplicate-policy-id",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "two policies share one `@id`",
    why: "A decision names the policies that decided it; two policies with one id make the audit \
          log ambiguous, and brain refuses to load such a set.",
    failing: &[(
        "policies/example.cedar",
        "@id(\"staff.reject\")\npermit (principal is Staff, action == Action::\"reject\", resource);\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.staff-reject\")\npermit (principal is Staff, action == Action::\"reject\", resource);\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let mut first: HashMap<&str, &str> = HashMap::new();
    for (file, statement) in context.statements() {
        let Some(id) = statement.id.as_deref() else {
            continue;
        };
        match first.get(id) {
            Some(first_file) => findings.push(
                Finding::error("", format!("policy id `{id}` is used twice"))
                    .at(file, head(file, &statement.span), "second use")
                    .with_help(format!(
                        "the first use is in `{first_file}`; give each policy its own `@id`"
                    )),
            ),
            None => {
                first.insert(id, &file.name);
            }
        }
    }
}
