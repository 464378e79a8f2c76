//! Invariant: capabilities that need fresh state deny when the snapshot is stale.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};
use crate::policy::decide::Action;

use super::support::{facts, principals, prove};

pub static RULE: Rule = Rule {
    id: "invariant-fresh-state",
    category: Category::Invariant,
    severity: Severity::Error,
    summary: "a `requires_fresh_state` capability could be proposed or executed on a stale snapshot",
    why: "brain fails closed: a decision that depends on StudioState must not be taken on a stale \
          or partial snapshot. Lint proves on the real policy set that propose and execute deny \
          when the snapshot is stale, for every actor.",
    failing: &[
        (
            "capabilities/studio.example.note.yaml",
            "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nrequires_fresh_state: true\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\n",
        ),
        (
            "policies/example.cedar",
            "@id(\"example.fresh-override\")\n@reason(\"SNAPSHOT_STALE\")\nforbid (principal, action, resource == Capability::\"studio.example.note\")\nwhen { false };\n",
        ),
        (
            "policies/base.cedar",
            "@id(\"staff.propose\")\npermit (principal is Staff, action == Action::\"propose\", resource);\n\n@id(\"agent.delegation-missing\")\n@reason(\"DELEGATION_MISSING\")\nforbid (principal is Agent, action, resource)\nunless { principal has delegation };\n\n@id(\"approval.no-self-approval\")\n@reason(\"SELF_APPROVAL_FORBIDDEN\")\nforbid (principal, action == Action::\"approve\", resource)\nwhen { context.actor == context.proposer };\n\n@id(\"reads.staff-and-system\")\npermit (principal, action == Action::\"read\", resource)\nwhen { resource.mode == \"read\" && (principal is Staff || principal is System) };\n",
        ),
    ],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        "id: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nrequires_fresh_state: true\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    prove(
        context,
        findings,
        |manifest| manifest.requires_fresh_state,
        |manifest| {
            let required = i64::from(manifest.approval.required);
            let mut cases = Vec::new();
            for (principal, state) in principals(&manifest.id) {
                for action in [Action::Propose, Action::Execute] {
                    for exemption in [false, true] {
                        cases.push((
                            principal.clone(),
                            state,
                            action,
                            facts(&[], required, exemption, true),
                        ));
                    }
                }
            }
            cases
        },
        |manifest| format!("`{}` could be used on a stale snapshot", manifest.id),
        "forbid propose and execute when `resource.requires_fresh_state && context.snapshot_stale`",
    );
}
