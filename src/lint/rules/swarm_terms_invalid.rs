//! Trust & safety term lists that do not parse, name a category the portal does not use, have
//! an empty list, or list one term in two categories.

use crate::diagnostic::{Finding, Severity};
use crate::lint::{Category, Context, Rule};

pub static RULE: Rule = Rule {
    id: "swarm-terms-invalid",
    category: Category::Swarm,
    severity: Severity::Error,
    summary: "trust & safety term lists are not valid, name an unknown category, have an empty list, or list a term twice",
    why: "The term lists decide which category the triage suggests for a report. A category the \
          portal does not use can never be confirmed, an empty list suggests nothing, and a term \
          in two lists makes the suggestion depend on the order of the file.",
    failing: &[(
        "swarms/trust-safety/terms.yaml",
        "id: studio-trust-safety\nversion: 1\ncategories:\n  spam: { severity: low, reason_code: TS_SPAM, terms: [bot, promo code] }\n  scam: { severity: medium, reason_code: TS_SCAM, terms: [bot] }\n",
    )],
    passing: &[(
        "swarms/trust-safety/terms.yaml",
        "id: studio-trust-safety\nversion: 1\ncategories:\n  spam: { severity: low, reason_code: TS_SPAM, terms: [bot, promo code] }\n",
    )],
    check,
};

fn check(context: &Context<'_>, findings: &mut Vec<Finding>) {
    for parsed in &context.term_lists {
        findings.extend(parsed.findings.iter().cloned());
    }
}
