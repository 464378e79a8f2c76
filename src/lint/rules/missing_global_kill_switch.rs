//! A policy set without the `global` kill switch.

use cedar_policy::Effect;

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "missing-global-kill-switch",
    category: Category::Cedar,
    severity: Severity::Error,
    summary: "no forbid policy declares `@kill_switch(\"global\")`",
    why: "The kill switch wins over everything: staff must always be able to stop every write at \
          once. brain refuses to start a write-capable connector without it.",
    failing: &[(
        "policies/kill_switches.cedar",
        "// The global switch was deleted here.\n@id(\"kill-switch.physical\")\n@reason(\"KILL_SWITCH_ACTIVE\")\n@kill_switch(\"physical\")\nforbid (principal, action in [Action::\"execute\", Action::\"read\"], resource)\nwhen { resource.class == \"physical\" && context.kill_switches.contains(\"physical\") };\n",
    )],
    passing: &[(
        "policies/kill_switches.cedar",
        "@id(\"kill-switch.global\")\n@reason(\"KILL_SWITCH_ACTIVE\")\n@kill_switch(\"global\")\nforbid (principal, action in [Action::\"propose\", Action::\"approve\", Action::\"execute\", Action::\"rollback\"], resource)\nwhen { context.kill_switches.contains(\"global\") };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    if context.workspace.policies.is_empty() {
        return;
    }
    let declared = context.statements().any(|(_, statement)| {
        statement.policy.effect() == Effect::Forbid
            && statement.annotations.get("kill_switch").map(String::as_str) == Some("global")
    });
    if !declared {
        let mut finding = Finding::error("", "the policy set declares no `global` kill switch").with_help(
            "add a forbid annotated `@kill_switch(\"global\")` that denies propose, approve, execute and rollback when `context.kill_switches.contains(\"global\")`",
        );
        if let Some(schema) = &context.workspace.schema {
            finding = finding.in_file(schema);
        }
        findings.push(finding);
    }
}
