//! A swarm's post template that does not parse, names an unknown rule, or uses a placeholder
//! its rule does not fill.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "swarm-template-invalid",
    category: Category::Swarm,
    severity: Severity::Error,
    summary: "a marketing template is not valid, names an unknown rule, or uses a placeholder its rule does not fill",
    why: "Templates are how the marketing swarm writes posts, and their placeholders are the only \
          facts that reach a draft: each rule fills a fixed set that holds no personal data \
          (kiln names, weekdays, counts). A placeholder outside that set would either fail at \
          run time or ask for data a post must never carry.",
    failing: &[(
        "swarms/marketing/firing-completed.yaml",
        "id: firing-completed\nversion: 1\nrule: firing_completed\nchannel: instagram\nbody: \"Thanks {ownerUid} for the {cycle} firing\"\n",
    )],
    passing: &[(
        "swarms/marketing/firing-completed.yaml",
        "id: firing-completed\nversion: 1\nrule: firing_completed\nchannel: instagram\nbody: \"Fresh out of {kiln}: a {cycle} firing\"\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for parsed in &context.templates {
        findings.extend(parsed.findings.iter().cloned());
    }
}
