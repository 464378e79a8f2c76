//! The trust & safety triage assistant (`trust-safety`): for every open community report, a
//! suggested category, severity and reason code, with provenance (the term lists' id and
//! version and what matched) and `suggestion_only: true`. Its findings become
//! `trust_safety.triage.draft` proposals on `communityReports/<id>`; staff confirm (approve) or
//! change (reject, naming the right category) each, so acceptance and override rates per
//! category are measured: each category is its own rule (`triage_spam`, ...).
//!
//! The term lists are data in the studio repository (`swarms/trust-safety/terms.yaml`, linted);
//! matching is on words ([`super::text`]). No enforcement capability exists for swarms: a
//! suggestion never unpublishes, bans or deletes anything.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::text::{Term, Text};
use super::{Collector, Evidence, Finding, RuleInfo, RunContext, Seen, Severity, Swarm, SwarmInfo};
use crate::config::Duration;
use crate::diagnostic::{Finding as Diagnostic, SourceFile};
use crate::snapshot::model::{self, Class};

/// The portal's report categories, most serious first (ties in a match go to the first).
pub const CATEGORIES: &[&str] = &[
    "safety",
    "harassment_hate",
    "copyright",
    "spam",
    "broken_link",
    "incorrect_info",
    "other",
];

macro_rules! triage_rules {
    ($($name:ident => $id:literal, $category:literal;)*) => {
        $(pub static $name: RuleInfo = RuleInfo {
            id: $id,
            version: 1,
            title: concat!("Triage: ", $category),
            summary: concat!("an open report whose words suggest the category `", $category, "`"),
        };)*
    };
}

triage_rules! {
    TRIAGE_SAFETY => "triage_safety", "safety";
    TRIAGE_HARASSMENT_HATE => "triage_harassment_hate", "harassment_hate";
    TRIAGE_COPYRIGHT => "triage_copyright", "copyright";
    TRIAGE_SPAM => "triage_spam", "spam";
    TRIAGE_BROKEN_LINK => "triage_broken_link", "broken_link";
    TRIAGE_INCORRECT_INFO => "triage_incorrect_info", "incorrect_info";
    TRIAGE_OTHER => "triage_other", "other";
}

pub static INFO: SwarmInfo = SwarmInfo {
    name: "trust-safety",
    title: "Trust & safety triage",
    draft_capability: "trust_safety.triage.draft",
    default_agent: "agent:trust-safety-swarm",
    rules: &[
        &TRIAGE_SAFETY,
        &TRIAGE_HARASSMENT_HATE,
        &TRIAGE_COPYRIGHT,
        &TRIAGE_SPAM,
        &TRIAGE_BROKEN_LINK,
        &TRIAGE_INCORRECT_INFO,
        &TRIAGE_OTHER,
    ],
};

fn rule_of(category: &str) -> &'static RuleInfo {
    INFO.rules
        .iter()
        .copied()
        .find(|rule| rule.id.strip_prefix("triage_") == Some(category))
        .unwrap_or(&TRIAGE_OTHER)
}

/// `swarms/trust-safety/terms.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "trust & safety term lists")]
pub struct TermLists {
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9._-]*$"))]
    pub id: String,
    #[schemars(range(min = 1))]
    pub version: u32,
    /// Category → its list.
    pub categories: BTreeMap<String, CategoryTerms>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryTerms {
    pub severity: Severity,
    /// The reason code staff record when they act on it (`TS_SPAM`).
    #[schemars(regex(pattern = r"^[A-Z][A-Z0-9_]*$"))]
    pub reason_code: String,
    pub terms: Vec<String>,
}

/// The term lists shipped with brain, used when a studio repository has none.
pub const BUILT_IN_TERMS: &str = include_str!("../../swarms/trust-safety/terms.yaml");

pub fn schema() -> Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(crate::config::schema_errors::schema_value::<TermLists>)
        .clone()
}

/// Parse term lists: schema problems, an unknown category, an empty list, a term that is only
/// symbols or sits in two categories are findings with spans (lint rule `swarm-terms-invalid`).
pub fn parse_terms(source: SourceFile) -> crate::capability::Parsed<TermLists> {
    let mut parsed = crate::capability::parse_yaml::<TermLists>(source, &schema(), "swarm-terms");
    let (Some(lists), Some(document)) = (&parsed.value, &parsed.document) else {
        return parsed;
    };
    let mut problems = Vec::new();
    let mut seen: BTreeMap<Vec<String>, &str> = BTreeMap::new();
    for (category, list) in &lists.categories {
        let pointer = format!("/categories/{}", crate::yaml::pointer_token(category));
        if !CATEGORIES.contains(&category.as_str()) || category == "other" {
            problems.push(
                Diagnostic::error(
                    "swarm-terms::category",
                    format!("`{category}` is not a report category the portal uses"),
                )
                .at(
                    &parsed.source,
                    document.key_span(&pointer),
                    "unknown category",
                )
                .with_help(format!(
                    "categories: {} (`other` is what matches nothing)",
                    CATEGORIES[..CATEGORIES.len() - 1].join(", ")
                )),
            );
        }
        if list.terms.is_empty() {
            problems.push(
                Diagnostic::error(
                    "swarm-terms::empty",
                    format!("the list of `{category}` has no term"),
                )
                .at(
                    &parsed.source,
                    document.value_span(&format!("{pointer}/terms")),
                    "empty",
                )
                .with_help("list words or phrases, or leave the category out"),
            );
        }
        super::text::check_terms(
            &list.terms,
            category,
            &format!("{pointer}/terms"),
            "swarm-terms",
            &parsed.source,
            document,
            &mut seen,
            &mut problems,
        );
    }
    if !problems.is_empty() {
        parsed.value = None;
        parsed.findings.extend(problems);
    }
    parsed
}

/// A suggestion the triage makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Suggestion {
    pub category: String,
    pub severity: Severity,
    pub reason_code: String,
    /// Always true: staff confirm or change it; it acts on nothing.
    pub suggestion_only: bool,
    /// The term lists it came from.
    pub rule_set: super::TemplateRef,
    /// The terms that matched, as the lists write them.
    pub matched: Vec<String>,
    /// The category the reporter chose.
    pub reported_category: Option<String>,
}

/// The compiled lists.
#[derive(Debug, Clone)]
pub struct Lists {
    pub id: String,
    pub version: u32,
    categories: Vec<(String, Severity, String, Vec<Term>)>,
}

impl Lists {
    pub fn new(lists: &TermLists) -> Self {
        let mut categories: Vec<(String, Severity, String, Vec<Term>)> = lists
            .categories
            .iter()
            .map(|(category, list)| {
                (
                    category.clone(),
                    list.severity,
                    list.reason_code.clone(),
                    list.terms
                        .iter()
                        .filter_map(|term| Term::new(term))
                        .collect(),
                )
            })
            .collect();
        categories.sort_by_key(|(category, _, _, _)| {
            CATEGORIES
                .iter()
                .position(|known| known == category)
                .unwrap_or(CATEGORIES.len())
        });
        Self {
            id: lists.id.clone(),
            version: lists.version,
            categories,
        }
    }

    pub fn built_in() -> Self {
        let parsed = parse_terms(SourceFile::new("built-in terms.yaml", BUILT_IN_TERMS));
        Self::new(
            &parsed
                .value
                .expect("the built-in term lists are valid (tested)"),
        )
    }

    /// The best category for `text`: the most severe with a match (ties: the more serious
    /// category), else `other`.
    pub fn suggest(&self, text: &str, reported: Option<&str>) -> Suggestion {
        let text = Text::new(text);
        let best = self
            .categories
            .iter()
            .map(|(category, severity, code, terms)| {
                (category, severity, code, text.matched(terms))
            })
            .filter(|(_, _, _, matched)| !matched.is_empty())
            .max_by(|left, right| {
                left.1.cmp(right.1).then_with(|| {
                    // Earlier (more serious) categories win ties: compare positions reversed.
                    let position = |category: &String| {
                        CATEGORIES
                            .iter()
                            .position(|known| known == category)
                            .unwrap_or(99)
                    };
                    position(right.0).cmp(&position(left.0))
                })
            });
        let rule_set = super::TemplateRef {
            id: self.id.clone(),
            version: self.version,
        };
        match best {
            Some((category, severity, code, matched)) => Suggestion {
                // A safety report is always high severity.
                severity: if category == "safety" {
                    Severity::High
                } else {
                    *severity
                },
                category: category.clone(),
                reason_code: code.clone(),
                suggestion_only: true,
                rule_set,
                matched: matched.iter().map(|term| term.to_string()).collect(),
                reported_category: reported.map(str::to_string),
            },
            None => Suggestion {
                category: "other".into(),
                severity: Severity::Low,
                reason_code: "TS_OTHER".into(),
                suggestion_only: true,
                rule_set,
                matched: Vec::new(),
                reported_category: reported.map(str::to_string),
            },
        }
    }
}

fn yes() -> bool {
    true
}

/// The triage's settings (`swarms.trust-safety.rules`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TrustSafetyRules {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// After staff change a suggestion (reject it), stay quiet about that report this long.
    pub cooldown: Duration,
}

impl Default for TrustSafetyRules {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: Duration::from_secs(30 * 86_400),
        }
    }
}

impl TrustSafetyRules {
    pub fn each(&self) -> Vec<(&'static RuleInfo, bool, Duration)> {
        INFO.rules
            .iter()
            .map(|rule| (*rule, self.enabled, self.cooldown))
            .collect()
    }
}

/// One run of the triage.
pub struct TrustSafety {
    rules: TrustSafetyRules,
    lists: Lists,
}

impl TrustSafety {
    pub fn new(rules: TrustSafetyRules, lists: Lists) -> Self {
        Self { rules, lists }
    }

    /// An open agent request through the compliance intake gate: a high-risk one is routed to
    /// mandatory human review (recorded after the run, audited; the queue shows it).
    fn intake(&self, context: &RunContext<'_>, seen: &Seen<'_>, out: &mut Collector) {
        let open = context
            .model
            .lifecycle_value(seen.collection, &seen.record.fields)
            .and_then(|value| context.model.classify(seen.collection, value))
            .is_some_and(|found| found.class != Class::Closed);
        if !open {
            return;
        }
        let fields = &seen.record.fields;
        let text = ["title", "request", "details", "description", "kind"]
            .iter()
            .filter_map(|name| fields.get(*name).and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n");
        let classification = context.intake.classify(&text);
        if classification.needs_review() {
            out.route(crate::intake::IntakeRecord::new(
                &seen.path(),
                classification,
                &text,
                "",
                &crate::clock::format_time(context.now),
            ));
        }
    }
}

impl Swarm for TrustSafety {
    fn info(&self) -> &'static SwarmInfo {
        &INFO
    }

    fn collections(&self) -> Vec<&'static str> {
        if self.rules.enabled {
            vec!["communityReports", "agentRequests"]
        } else {
            Vec::new()
        }
    }

    fn observe(&mut self, context: &RunContext<'_>, seen: &Seen<'_>, out: &mut Collector) {
        if seen.collection == "agentRequests" {
            self.intake(context, seen, out);
            return;
        }
        if seen.collection != "communityReports" {
            return;
        }
        let Some(value) = context
            .model
            .lifecycle_value(seen.collection, &seen.record.fields)
        else {
            return;
        };
        let open = context
            .model
            .classify(seen.collection, value)
            .is_some_and(|found| found.class != Class::Closed);
        if !open {
            return;
        }
        let fields = &seen.record.fields;
        let note = model::first_text(fields, &["note".to_string()]).unwrap_or("");
        let title = model::first_text(fields, &["targetSnapshot.title".to_string()]).unwrap_or("");
        let reported = model::first_text(fields, &["category".to_string()]);
        let suggestion = self.lists.suggest(&format!("{note}\n{title}"), reported);
        let rule = rule_of(&suggestion.category);
        let confidence: f64 = match suggestion.matched.len() {
            0 => 0.3,
            1 => 0.6,
            2 => 0.75,
            _ => 0.9,
        } + if reported == Some(suggestion.category.as_str()) {
            0.05
        } else {
            0.0
        };
        let matched = if suggestion.matched.is_empty() {
            "no term of the lists matched".to_string()
        } else {
            format!(
                "matched {}",
                suggestion
                    .matched
                    .iter()
                    .map(|term| format!("\"{term}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let agreement = match reported {
            Some(category) if category == suggestion.category => {
                format!("; the reporter chose `{category}` too")
            }
            Some(category) => format!("; the reporter chose `{category}`"),
            None => String::new(),
        };
        out.push(Finding {
            rule: rule.reference(),
            subject: seen.path(),
            severity: suggestion.severity,
            confidence: confidence.min(0.95),
            title: format!(
                "Report {}: suggested {} ({}, {})",
                seen.record.id,
                suggestion.category,
                suggestion.severity.as_str(),
                suggestion.reason_code
            ),
            rationale: format!(
                "The report's words {matched} ({} v{}){agreement}.",
                self.lists.id, self.lists.version
            ),
            recommendation: "Confirm the category (approve) or change it (reject, naming the right category), then act on the report in the portal; this suggestion changes nothing.".into(),
            evidence: vec![
                Evidence {
                    source: seen.source.to_string(),
                    path: seen.path(),
                    field: "note".into(),
                    // The reporter's words stay in the portal; the evidence names what matched.
                    value: Value::from(suggestion.matched.clone()),
                    update_time: seen.update_time(),
                },
                seen.evidence("category"),
            ],
            post: None,
            suggestion: Some(suggestion),
        });
    }

    fn finish(&mut self, _context: &RunContext<'_>, _out: &mut Collector) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lists_are_valid_and_suggest_by_words() {
        let parsed = parse_terms(SourceFile::new("terms.yaml", BUILT_IN_TERMS));
        assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
        let lists = Lists::built_in();
        let suggest = |text: &str| lists.suggest(text, None);
        assert_eq!(suggest("Buy cheap f0ll0wers, click here!").category, "spam");
        assert_eq!(
            suggest("The update says gloves are optional when unloading").category,
            "safety"
        );
        assert_eq!(
            suggest("The update says gloves are optional").severity,
            Severity::High
        );
        assert_eq!(
            suggest("This video uses my song without permission").category,
            "copyright"
        );
        assert_eq!(suggest("Video is private now").category, "broken_link");
        // Near misses: everyday studio words are not terms.
        for clean in [
            "Glaze dripped on the bottle kiln shelf",
            "Free shipping on clay this week",
            "My scrapbook of test tiles",
            "The trimming video is great",
        ] {
            let suggestion = suggest(clean);
            assert_eq!(
                suggestion.category, "other",
                "{clean}: {:?}",
                suggestion.matched
            );
            assert!(suggestion.matched.is_empty());
        }
        // The more severe category wins when several match.
        assert_eq!(suggest("spam from an idiot").category, "harassment_hate");
        let suggestion = lists.suggest("dead link", Some("broken_link"));
        assert!(suggestion.suggestion_only);
        assert_eq!(suggestion.reported_category.as_deref(), Some("broken_link"));
        assert_eq!(suggestion.rule_set.id, "studio-trust-safety");
    }

    #[test]
    fn term_lists_name_known_categories_and_each_term_once() {
        let codes = |yaml: &str| -> Vec<String> {
            parse_terms(SourceFile::new("terms.yaml", yaml))
                .findings
                .iter()
                .map(|finding| finding.code.clone())
                .collect()
        };
        assert_eq!(
            codes(
                "id: t\nversion: 1\ncategories:\n  spamm: { severity: low, reason_code: TS_SPAM, terms: [spam] }\n"
            ),
            vec!["swarm-terms::category"]
        );
        assert_eq!(
            codes(
                "id: t\nversion: 1\ncategories:\n  spam: { severity: low, reason_code: TS_SPAM, terms: [] }\n"
            ),
            vec!["swarm-terms::empty"]
        );
        assert_eq!(
            codes(
                "id: t\nversion: 1\ncategories:\n  spam: { severity: low, reason_code: TS_SPAM, terms: [Bot] }\n  safety: { severity: high, reason_code: TS_SAFETY, terms: [bot] }\n"
            ),
            vec!["swarm-terms::term"]
        );
    }
}
