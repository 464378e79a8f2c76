//! A policy that names a capability no manifest declares.

use cedar_policy::ResourceConstraint;

use crate::diagnostic::{Finding, Severity, did_you_mean};
use crate::lint::{Category, Context, Rule};
use crate::policy::head;

pub static RULE: Rule = Rule {
    id: "unknown-capability-in-policy",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "a policy's scope names `Capability::\"id\"` but no manifest has that id",
    why: "A policy about a capability that does not exist never applies: a typo in a forbid \
          silently removes a protection.",
    failing: &[(
        "policies/example.cedar",
        "@id(\"example.no-notes\")\n@reason(\"CAPABILITY_DISABLED\")\nforbid (principal, action, resource == Capability::\"firestore.ops_notes.append\");\n",
    )],
    passing: &[(
        "policies/example.cedar",
        "@id(\"example.no-notes\")\n@reason(\"CAPABILITY_DISABLED\")\nforbid (principal, action, resource == Capability::\"firestore.ops_note.append\");\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let known: Vec<&str> = context
        .valid_manifests()
        .map(|(_, manifest)| manifest.id.as_str())
        .collect();
    for (file, statement) in context.statements() {
        let uid = match statement.policy.resource_constraint() {
            ResourceConstraint::Eq(uid)
            | ResourceConstraint::In(uid)
            | ResourceConstraint::IsIn(_, uid) => uid,
            _ => continue,
        };
        if uid.type_name().basename() != "Capability" {
            continue;
        }
        let id = uid.id().unescaped();
        if !known.contains(&id) {
            let help = match did_you_mean(id, known.iter().copied()) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => "add the capability's manifest, or fix the id".to_string(),
            };
            findings.push(
                Finding::error(
                    "",
                    format!("policy names capability `{id}`, which has no manifest"),
                )
                .at(file, head(file, &statement.span), "unknown capability")
                .with_help(help),
            );
        }
    }
}
