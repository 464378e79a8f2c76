//! A permit on execute or approve with unconstrained principal and resource.

use cedar_policy::{ActionConstraint, Effect, PrincipalConstraint, ResourceConstraint};

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::head;

pub static RULE: Rule = Rule {
    id: "unconstrained-permit",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "a permit on `execute` or `approve` constrains neither principal nor resource",
    why: "Execution and approval are where irreversible actions happen. A permit whose scope \
          matches every actor and every capability relies entirely on its `when` clause; one \
          mistake there opens everything. Name the actor type (`principal is Staff`) or the \
          capability in the scope.",
    failing: &[(
        "policies/example.cedar",
        "@id(\"example.anyone-executes\")\npermit (principal, action == Action::\"execute\", resource)\nwhen { context.approvals > 0 };\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.anyone-executes\")\npermit (principal is Staff, action == Action::\"execute\", resource)\nwhen { context.approvals > 0 };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for (file, statement) in context.statements() {
        let policy = &statement.policy;
        if policy.effect() != Effect::Permit {
            continue;
        }
        let covers = |name: &str| match policy.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(uid) => uid.id().unescaped() == name,
            ActionConstraint::In(uids) => uids.iter().any(|uid| uid.id().unescaped() == name),
        };
        let open_principal = matches!(policy.principal_constraint(), PrincipalConstraint::Any);
        let open_resource = matches!(policy.resource_constraint(), ResourceConstraint::Any);
        if open_principal && open_resource && (covers("execute") || covers("approve")) {
            findings.push(
                Finding::error(
                    "",
                    format!(
                        "permit `{}` lets any principal act on any resource for execute or approve",
                        statement.id.as_deref().unwrap_or("(no id)")
                    ),
                )
                .at(file, head(file, &statement.span), "unconstrained scope")
                .with_help("constrain the principal (`principal is Staff`) or the resource (`resource == Capability::\"id\"`)"),
            );
        }
    }
}
