//! An exemption longer than the configured maximum.

use crate::diagnostic::{Finding, Severity};
use crate::lint::context::at_value;
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "exemption-too-long",
    category: Category::Exemption,
    severity: Severity::Error,
    summary: "an exemption lasts longer than `thresholds.max_exemption` (default 30 days)",
    why: "Exemptions relieve approval fatigue for a short, named reason. One that lasts a season \
          should be a policy change, reviewed as one.",
    failing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2026-11-01\nexpires: 2027-03-01\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    passing: &[(
        "capabilities/exemptions/inventory-week.yaml",
        "capability: firestore.ops_note.append\nstarts: 2026-11-01\nexpires: 2026-11-08\njustification: Inventory week.\nrequested_by: staff:alice\napproved_by: staff:bob\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    let maximum = context.workspace.thresholds.max_exemption;
    for parsed in &context.exemptions {
        let Some(exemption) = &parsed.value else {
            continue;
        };
        let Some(expires) = exemption.expires else {
            continue;
        };
        let length = expires.0 - exemption.starts.0;
        let too_long = length
            .to_std()
            .is_ok_and(|length| length > maximum.as_std());
        if too_long {
            findings.push(
                at_value(
                    parsed,
                    Finding::error(
                        "",
                        format!(
                            "exemption lasts {} days, longer than the maximum {maximum}",
                            length.num_days()
                        ),
                    ),
                    "/expires",
                    "too long",
                )
                .with_help(format!(
                    "end it at most {maximum} after `starts`, or change the policy itself"
                )),
            );
        }
    }
}
