//! Invariant: the global kill switch denies execute of every write capability, for every actor.

use crate::capability::Mode;
use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::decide::Action;

use super::support::{facts, principals, prove};

pub static RULE: Rule = Rule {
    id: "invariant-global-kill-switch",
    category: Category::Invariant,
    severity: Severity::Error,
    summary: "with the `global` kill switch on, some actor could still execute a write capability",
    why: "The kill switch wins over everything. Lint proves it on the real policy set: with \
          `global` on, execute is denied for every write capability, every actor type and \
          delegation state, any number of approvals, with or without an exemption, fresh or stale.",
    failing: &[(
        "policies/kill_switches.cedar",
        "@id(\"kill-switch.global\")\n@reason(\"KILL_SWITCH_ACTIVE\")\n@kill_switch(\"global\")\nforbid (principal, action == Action::\"propose\", resource)\nwhen { context.kill_switches.contains(\"global\") };\n",
    )],
    passing: &[(
        "policies/kill_switches.cedar",
        "@id(\"kill-switch.global\")\n@reason(\"KILL_SWITCH_ACTIVE\")\n@kill_switch(\"global\")\nforbid (principal, action in [Action::\"propose\", Action::\"execute\"], resource)\nwhen { context.kill_switches.contains(\"global\") };\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    prove(
        context,
        findings,
        |manifest| manifest.mode == Mode::Write,
        |manifest| {
            let required = i64::from(manifest.approval.required);
            let mut cases = Vec::new();
            for (principal, state) in principals(&manifest.id) {
                for approvals in [0, required, required + 1] {
                    for exemption in [false, true] {
                        for stale in [false, true] {
                            let situation = facts(&["global"], approvals, exemption, stale);
                            cases.push((principal.clone(), state, Action::Execute, situation));
                        }
                    }
                }
            }
            cases
        },
        |manifest| {
            format!(
                "the global kill switch does not stop `{}` from executing",
                manifest.id
            )
        },
        "make the `global` kill switch forbid cover `execute`",
    );
}
