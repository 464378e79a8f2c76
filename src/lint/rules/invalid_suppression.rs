//! A suppression comment that names no rule, or an unknown one.

use crate::diagnostic::{Finding, Severity, did_you_mean};
use crate::lint::suppress::{MARKER, suppressions};
use crate::lint::{Category, Context, RULES, Rule};

pub static RULE: Rule = Rule {
    id: "invalid-suppression",
    category: Category::Manifest,
    severity: Severity::Error,
    summary: "a `brain-lint: allow` comment names no rule, or a rule that does not exist",
    why: "Suppressions must say exactly what they silence, so a reviewer can see what was waived \
          and why; a blanket or misspelled suppression hides more, or less, than intended.",
    failing: &[(
        "capabilities/studio.example.note.yaml",
        "# brain-lint: allow\nid: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\n",
    )],
    passing: &[(
        "capabilities/studio.example.note.yaml",
        "# brain-lint: allow approval-validity-too-long\nid: studio.example.note\ntitle: Example capability\nowner: staff:studio-manager\nrisk_tier: low\nmode: draft\ntarget: brain\nclass: internal\nlimits:\n  - per: actor\n    max: 10\n    window: 1d\nfailure_mode: Nothing is created.\nrollback:\n  strategy: discard_draft\n  how: Discard the draft.\ntests: [tests/it/example.rs]\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for source in context.workspace.files() {
        for suppression in suppressions(source) {
            if suppression.rules.is_empty() {
                findings.push(
                    Finding::error("", "suppression names no rule")
                        .at(source, suppression.span.clone(), "which rule?")
                        .with_help(format!(
                            "write `{MARKER} RULE-ID`; `brain lint --list` lists the rules"
                        )),
                );
            }
            for rule in &suppression.rules {
                if RULES.iter().any(|known| known.id == rule) {
                    continue;
                }
                let help = match did_you_mean(rule, RULES.iter().map(|known| known.id)) {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => "`brain lint --list` lists the rules".to_string(),
                };
                findings.push(
                    Finding::error("", format!("suppression names unknown rule `{rule}`"))
                        .at(source, suppression.span.clone(), "unknown rule")
                        .with_help(help),
                );
            }
        }
    }
}
