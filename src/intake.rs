//! The compliance intake gate's classifier: a proposal's input and rationale, or an agent
//! request's words, classified into `illegal_content`, `weaponization`, `ip_infringement`,
//! `fraud_risk` or `unknown`, with the terms that matched and a confidence. A high-risk
//! category routes the subject to mandatory human review: the Engine records the
//! classification, and `intake.review-required` forbids approving or executing a routed
//! proposal until a staff member other than the proposer records an override.
//!
//! The term lists are data in the studio repository (`specs/intake.yaml`, linted, part of the
//! policy set's hash); matching is on words, shared with the trust & safety triage
//! ([`crate::swarms::text`]).
//!
//! Architecture Invariant: no I/O. A classification keeps the matched terms, a hash of the text
//! and a short summary, never the text itself.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diagnostic::{Finding, SourceFile};
use crate::swarms::text::{Term, Text};

/// The high-risk categories, most serious first (ties in a match go to the first).
pub const CATEGORIES: &[&str] = &[
    "weaponization",
    "illegal_content",
    "fraud_risk",
    "ip_infringement",
];

/// What a text that matches no list is.
pub const UNKNOWN: &str = "unknown";

/// Where the runtime keeps a subject's classification (`intake:<proposal id>`,
/// `intake:agentRequests/<id>`).
pub const KV_PREFIX: &str = "intake:";

/// The intake gate's term lists (`specs/intake.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "intake term lists")]
pub struct IntakeTerms {
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9._-]*$"))]
    pub id: String,
    #[schemars(range(min = 1))]
    pub version: u32,
    /// Category → the words and phrases that suggest it.
    pub categories: BTreeMap<String, Vec<String>>,
}

/// The lists shipped with brain, used when a studio repository has none.
pub const BUILT_IN: &str = include_str!("../specs/intake.yaml");

/// The file name looked for in the specs directory.
pub const FILE_NAME: &str = "intake.yaml";

pub fn schema() -> Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(crate::config::schema_errors::schema_value::<IntakeTerms>)
        .clone()
}

/// Parse the lists: schema problems, an unknown category, an empty list, a term with no word or
/// in two categories are findings with spans (lint rule `intake-terms-invalid`).
pub fn parse(source: SourceFile) -> crate::capability::Parsed<IntakeTerms> {
    let mut parsed = crate::capability::parse_yaml::<IntakeTerms>(source, &schema(), "intake");
    let (Some(lists), Some(document)) = (&parsed.value, &parsed.document) else {
        return parsed;
    };
    let mut problems = Vec::new();
    let mut seen: BTreeMap<Vec<String>, &str> = BTreeMap::new();
    for (category, terms) in &lists.categories {
        let pointer = format!("/categories/{}", crate::yaml::pointer_token(category));
        if !CATEGORIES.contains(&category.as_str()) {
            problems.push(
                Finding::error(
                    "intake::category",
                    format!("`{category}` is not an intake category"),
                )
                .at(
                    &parsed.source,
                    document.key_span(&pointer),
                    "unknown category",
                )
                .with_help(format!(
                    "categories: {} (`unknown` is what matches nothing)",
                    CATEGORIES.join(", ")
                )),
            );
        }
        if terms.is_empty() {
            problems.push(
                Finding::error(
                    "intake::empty",
                    format!("the list of `{category}` has no term"),
                )
                .at(&parsed.source, document.value_span(&pointer), "empty")
                .with_help("list words or phrases, or leave the category out"),
            );
        }
        crate::swarms::text::check_terms(
            terms,
            category,
            &pointer,
            "intake",
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

/// What the gate decided about a text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Classification {
    /// A high-risk category, or `unknown`.
    pub category: String,
    /// `allow`, or `manual_review` for a high-risk category.
    pub disposition: String,
    /// `INTAKE_WEAPONIZATION`, ..., or `INTAKE_CLEAR`.
    pub reason_code: String,
    pub confidence: f64,
    /// The terms that matched, as the lists write them.
    pub matched: Vec<String>,
    /// The lists' id and version.
    pub rule_set: crate::swarms::TemplateRef,
}

impl Classification {
    pub fn needs_review(&self) -> bool {
        self.disposition == "manual_review"
    }
}

/// The compiled lists.
#[derive(Debug, Clone)]
pub struct Classifier {
    pub id: String,
    pub version: u32,
    /// SHA-256 of the lists' canonical JSON (part of the policy set's hash).
    pub hash: String,
    /// Where they came from: a path, or `built-in`.
    pub origin: String,
    categories: Vec<(String, Vec<Term>)>,
}

impl Classifier {
    pub fn new(lists: &IntakeTerms, origin: impl Into<String>) -> Self {
        let value = serde_json::to_value(lists).unwrap_or(Value::Null);
        let mut categories: Vec<(String, Vec<Term>)> = lists
            .categories
            .iter()
            .map(|(category, terms)| {
                (
                    category.clone(),
                    terms.iter().filter_map(|term| Term::new(term)).collect(),
                )
            })
            .collect();
        categories.sort_by_key(|(category, _)| {
            CATEGORIES
                .iter()
                .position(|known| known == category)
                .unwrap_or(CATEGORIES.len())
        });
        Self {
            id: lists.id.clone(),
            version: lists.version,
            hash: crate::audit::sha256_hex(crate::audit::canonical_json(&value).as_bytes()),
            origin: origin.into(),
            categories,
        }
    }

    pub fn built_in() -> Self {
        let parsed = parse(SourceFile::new("built-in intake.yaml", BUILT_IN));
        Self::new(
            &parsed
                .value
                .expect("the built-in intake lists are valid (tested)"),
            "built-in",
        )
    }

    /// Classify `text`: the category with the most matched terms (ties: the more serious).
    pub fn classify(&self, text: &str) -> Classification {
        let text = Text::new(text);
        let mut best: Option<(&String, Vec<&str>)> = None;
        for (category, terms) in &self.categories {
            let matched = text.matched(terms);
            if !matched.is_empty()
                && best
                    .as_ref()
                    .is_none_or(|(_, most)| matched.len() > most.len())
            {
                best = Some((category, matched));
            }
        }
        let rule_set = crate::swarms::TemplateRef {
            id: self.id.clone(),
            version: self.version,
        };
        match best {
            Some((category, matched)) => Classification {
                category: category.clone(),
                disposition: "manual_review".into(),
                reason_code: format!("INTAKE_{}", category.to_uppercase()),
                confidence: match matched.len() {
                    1 => 0.6,
                    2 => 0.8,
                    _ => 0.95,
                },
                matched: matched.iter().map(|term| term.to_string()).collect(),
                rule_set,
            },
            None => Classification {
                category: UNKNOWN.into(),
                disposition: "allow".into(),
                reason_code: "INTAKE_CLEAR".into(),
                confidence: 0.5,
                matched: Vec::new(),
                rule_set,
            },
        }
    }
}

/// Every string of `value` (a proposal's input), joined by new lines, keys left out.
pub fn text_of(value: &Value) -> String {
    fn collect(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(text) => out.push(text.clone()),
            Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
            Value::Object(map) => map.values().for_each(|item| collect(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    collect(value, &mut out);
    out.join("\n")
}

/// A staff member's decision on a routed subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Override {
    /// `granted` (it may go on) or `denied` (it stays blocked).
    pub decision: String,
    pub by: String,
    pub reason_code: String,
    pub note: String,
    pub at: String,
}

/// A subject's classification as the runtime keeps it (`intake:<subject>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IntakeRecord {
    /// A proposal id, or `agentRequests/<id>`.
    pub subject: String,
    #[serde(flatten)]
    pub classification: Classification,
    /// SHA-256 of the text classified (the text itself is not kept).
    pub text_hash: String,
    /// A short summary: the category and how many terms matched.
    pub summary: String,
    pub classified_at: String,
    /// Who asked for it (a proposal's proposer; empty for an agent request).
    pub proposer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#override: Option<Override>,
}

impl IntakeRecord {
    pub fn new(
        subject: &str,
        classification: Classification,
        text: &str,
        proposer: &str,
        at: &str,
    ) -> Self {
        let summary = format!(
            "{}: {} matched",
            classification.category,
            crate::diagnostic::plural(classification.matched.len(), "term")
        );
        Self {
            subject: subject.to_string(),
            classification,
            text_hash: crate::audit::sha256_hex(text.as_bytes()),
            summary,
            classified_at: at.to_string(),
            proposer: proposer.to_string(),
            r#override: None,
        }
    }

    /// Whether it still waits for (or was refused) a staff override.
    pub fn blocked(&self) -> bool {
        self.classification.needs_review()
            && self
                .r#override
                .as_ref()
                .is_none_or(|done| done.decision != "granted")
    }

    /// The runtime entry key.
    pub fn key(&self) -> String {
        format!("{KV_PREFIX}{}", self.subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lists_classify_on_words() {
        let parsed = parse(SourceFile::new("intake.yaml", BUILT_IN));
        assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
        let classifier = Classifier::built_in();
        let class = |text: &str| classifier.classify(text).category;
        assert_eq!(
            class("Make 200 ceramic grenade shells with a fuse"),
            "weaponization"
        );
        assert_eq!(
            class("Copy the Pikachu design onto mugs to sell"),
            "ip_infringement"
        );
        assert_eq!(
            class("Charge this card number my friend gave me"),
            "fraud_risk"
        );
        assert_eq!(
            class("glaze recipe for a mug with a gun metal finish"),
            UNKNOWN,
            "gun metal is a glaze"
        );
        for clean in [
            "Kiln 2 lid latch is loose",
            "Reorder cone 6 witness cones",
            "Post about Saturday open studio",
            "Quote for 40 wedding favour cups",
            "a bottle of wax resist and a scrapbook of tiles",
        ] {
            let classification = classifier.classify(clean);
            assert_eq!(
                classification.category, UNKNOWN,
                "{clean}: {:?}",
                classification.matched
            );
            assert_eq!(classification.disposition, "allow");
        }
        let routed = classifier.classify("sell counterfeit mugs with a copied logo");
        assert_eq!(routed.disposition, "manual_review");
        assert_eq!(routed.reason_code, "INTAKE_IP_INFRINGEMENT");
        assert!(routed.matched.len() >= 2, "{:?}", routed.matched);
    }

    #[test]
    fn a_record_keeps_a_hash_and_a_summary_never_the_text() {
        let classifier = Classifier::built_in();
        let text = "Make grenade shells that hold explosive powder";
        let record = IntakeRecord::new("p_1", classifier.classify(text), text, "staff:bob", "t");
        let stored = serde_json::to_string(&record).unwrap();
        assert!(!stored.contains("shells that hold"), "{stored}");
        assert!(
            record.summary.starts_with("weaponization: 3 terms matched"),
            "{}",
            record.summary
        );
        assert!(record.blocked());
        let mut granted = record.clone();
        granted.r#override = Some(Override {
            decision: "granted".into(),
            by: "staff:alice".into(),
            reason_code: "PROP_ONLY".into(),
            note: "a film prop, inert".into(),
            at: "t".into(),
        });
        assert!(!granted.blocked());
        let mut denied = granted;
        denied.r#override.as_mut().unwrap().decision = "denied".into();
        assert!(denied.blocked());
    }

    #[test]
    fn lists_name_known_categories_and_each_term_once() {
        let codes = |yaml: &str| -> Vec<String> {
            parse(SourceFile::new("intake.yaml", yaml))
                .findings
                .iter()
                .map(|finding| finding.code.clone())
                .collect()
        };
        assert_eq!(
            codes("id: i\nversion: 1\ncategories:\n  weapons: [gun]\n"),
            vec!["intake::category"]
        );
        assert_eq!(
            codes("id: i\nversion: 1\ncategories:\n  fraud_risk: []\n"),
            vec!["intake::empty"]
        );
        assert_eq!(
            codes(
                "id: i\nversion: 1\ncategories:\n  fraud_risk: [Card Number]\n  illegal_content: [card number]\n"
            ),
            vec!["intake::term"]
        );
    }
}
