//! Swarms: department agents that read the studio's records and propose **drafts** through the
//! Engine, so staff review high-signal work instead of hunting for it. Nothing a swarm makes is
//! executed without a person.
//!
//! A swarm is rules as data plus pure functions: [`Swarm::observe`] looks at one record at a
//! time (memory stays flat with document count, as the snapshot fold's does) and
//! [`Swarm::finish`] looks at what the whole run saw, the snapshot history and the devices'
//! readings. Both hand [`Finding`]s to a [`Collector`], which counts every hit and keeps a
//! bounded number per rule. The runtime ([`runtime`]) does the I/O: it reads the configured
//! sources as the swarm's agent, proposes each kept finding as a draft under the swarm's draft
//! capability (throttled per rule and subject inside the proposal's own transaction), and
//! records one audited run summary.
//!
//! Architecture Invariant: no module here but `runtime` does I/O; a swarm acts only through
//! the Engine, as its `agent:` under a live delegation, and only proposes its draft capability.

pub mod finance;
pub mod marketing;
pub mod ops;
pub mod pii;
pub mod runtime;
pub mod text;
pub mod trust_safety;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::snapshot::{ConnectorDevices, Model, Record};
use crate::store::SnapshotRecord;

/// How much a finding matters.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Low, Severity::Medium, Severity::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Severity::ALL
            .into_iter()
            .find(|severity| severity.as_str() == text)
    }
}

/// A rule and the version of its logic that made a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RuleRef {
    pub id: String,
    pub version: u32,
}

/// A pointer to the exact document and field a finding rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// `firestore`, `fixtures`, `stripe`, `connector:hubitat`, `snapshot`.
    pub source: String,
    /// `batches/b-2026-041`, `connector:hubitat/4`, `snapshots/s_...`.
    pub path: String,
    pub field: String,
    pub value: Value,
    /// When the document last changed, as the source said.
    pub update_time: Option<String>,
}

/// A post a marketing finding drafts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Post {
    /// `newsletter`, `instagram` or `website`.
    pub channel: String,
    pub body: String,
    /// The template it was written from.
    pub template: TemplateRef,
    /// The records it is about (`kilnFirings/f-1`).
    pub source_refs: Vec<String>,
    /// What a reviewer should check before it goes out.
    pub confidence_notes: Vec<String>,
}

/// A template's id and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TemplateRef {
    pub id: String,
    pub version: u32,
}

/// What a swarm found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub rule: RuleRef,
    /// `<collection>/<document id>`, `connector:<id>/<device id>`, `connector:<id>` or `studio`.
    pub subject: String,
    pub severity: Severity,
    /// How sure the rule is, 0 to 1.
    pub confidence: f64,
    pub title: String,
    /// Why, in plain words, with the numbers that triggered it.
    pub rationale: String,
    pub recommendation: String,
    pub evidence: Vec<Evidence>,
    /// The drafted post (marketing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post: Option<Post>,
    /// The suggested triage (trust & safety): suggestion only, it acts on nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<trust_safety::Suggestion>,
}

/// A rule's description: its id, the version of its logic, and what it looks for.
#[derive(Debug)]
pub struct RuleInfo {
    pub id: &'static str,
    pub version: u32,
    pub title: &'static str,
    /// What it flags, in a sentence.
    pub summary: &'static str,
}

impl RuleInfo {
    pub fn reference(&self) -> RuleRef {
        RuleRef {
            id: self.id.to_string(),
            version: self.version,
        }
    }
}

/// A swarm's fixed facts.
#[derive(Debug)]
pub struct SwarmInfo {
    /// `ops`, `marketing`: the key under `swarms:` in brain.yaml.
    pub name: &'static str,
    pub title: &'static str,
    /// The one capability its findings are proposed under.
    pub draft_capability: &'static str,
    /// The agent it acts as unless brain.yaml names another.
    pub default_agent: &'static str,
    pub rules: &'static [&'static RuleInfo],
}

/// Every swarm brain has.
pub static SWARMS: &[&SwarmInfo] = &[
    &ops::INFO,
    &marketing::INFO,
    &finance::INFO,
    &trust_safety::INFO,
];

/// The swarm named `name`.
pub fn info(name: &str) -> Option<&'static SwarmInfo> {
    SWARMS.iter().copied().find(|swarm| swarm.name == name)
}

/// What a run can see besides the records: the time, the state model, the snapshot it starts
/// from and the ones before it, and the devices' latest readings.
pub struct RunContext<'a> {
    pub now: DateTime<Utc>,
    pub model: &'a Model,
    /// Snapshots, newest first; the first is the one the run starts from.
    pub history: &'a [SnapshotRecord],
    /// Each connector's latest readings.
    pub devices: &'a BTreeMap<String, ConnectorDevices>,
    /// The compliance intake gate's classifier (the triage classifies agent requests with it).
    pub intake: &'a crate::intake::Classifier,
}

impl RunContext<'_> {
    pub fn latest(&self) -> Option<&SnapshotRecord> {
        self.history.first()
    }
}

/// One record as a swarm sees it: where it came from and what it holds.
pub struct Seen<'a> {
    /// The source's name (`firestore`, `fixtures`).
    pub source: &'a str,
    pub collection: &'a str,
    pub record: &'a Record,
}

impl Seen<'_> {
    /// `batches/b-2026-041`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.collection, self.record.id)
    }

    pub fn update_time(&self) -> Option<String> {
        self.record.update_time.map(crate::clock::format_time)
    }

    /// A pointer to `field` of this record (its value as the record holds it).
    pub fn evidence(&self, field: &str) -> Evidence {
        Evidence {
            source: self.source.to_string(),
            path: self.path(),
            field: field.to_string(),
            value: crate::snapshot::model::field(&self.record.fields, field)
                .cloned()
                .unwrap_or(Value::Null),
            update_time: self.update_time(),
        }
    }
}

/// Counts and keeps what the rules find: every hit is counted, at most `keep_per_rule` findings
/// of each rule are kept (the rest are counted as hits, not held), so a run's memory does not
/// grow with the number of records that match.
#[derive(Debug, Default)]
pub struct Collector {
    keep_per_rule: usize,
    hits: BTreeMap<String, u64>,
    kept: BTreeMap<String, usize>,
    findings: Vec<Finding>,
    /// Drafts refused before they were proposed (the personal-data check), by rule.
    refused: BTreeMap<String, u64>,
    /// Records the intake gate routed to review (agent requests), to record after the run.
    intake: Vec<crate::intake::IntakeRecord>,
}

impl Collector {
    pub fn new(keep_per_rule: usize) -> Self {
        Self {
            keep_per_rule,
            ..Self::default()
        }
    }

    /// Make sure `rule` shows in the tallies even when it finds nothing.
    pub fn rule(&mut self, rule: &str) {
        self.hits.entry(rule.to_string()).or_default();
    }

    pub fn push(&mut self, finding: Finding) {
        let rule = finding.rule.id.clone();
        *self.hits.entry(rule.clone()).or_default() += 1;
        let kept = self.kept.entry(rule).or_default();
        if *kept < self.keep_per_rule {
            *kept += 1;
            self.findings.push(finding);
        }
    }

    /// A draft of `rule` that failed a check before it could be proposed.
    pub fn refuse(&mut self, rule: &str) {
        *self.hits.entry(rule.to_string()).or_default() += 1;
        *self.refused.entry(rule.to_string()).or_default() += 1;
    }

    /// A record the intake gate routed to review.
    pub fn route(&mut self, record: crate::intake::IntakeRecord) {
        self.intake.push(record);
    }

    /// The records routed to review, taken out.
    pub fn take_routed(&mut self) -> Vec<crate::intake::IntakeRecord> {
        std::mem::take(&mut self.intake)
    }

    pub fn hits(&self) -> &BTreeMap<String, u64> {
        &self.hits
    }

    pub fn refused(&self) -> &BTreeMap<String, u64> {
        &self.refused
    }

    /// The kept findings, most severe first, then by rule and subject.
    pub fn into_findings(mut self) -> Vec<Finding> {
        self.findings.sort_by(|left, right| {
            right
                .severity
                .cmp(&left.severity)
                .then_with(|| left.rule.id.cmp(&right.rule.id))
                .then_with(|| left.subject.cmp(&right.subject))
        });
        self.findings
    }
}

/// A swarm's rules over one run.
pub trait Swarm: Send {
    fn info(&self) -> &'static SwarmInfo;
    /// The collections its enabled rules read.
    fn collections(&self) -> Vec<&'static str>;
    /// Look at one record.
    fn observe(&mut self, context: &RunContext<'_>, seen: &Seen<'_>, out: &mut Collector);
    /// After every record: what the whole run, the history and the devices show.
    fn finish(&mut self, context: &RunContext<'_>, out: &mut Collector);
}

/// A duration in words for rationales: `9 days`, `13 hours`.
pub fn spoken(duration: chrono::Duration) -> String {
    let hours = duration.num_hours();
    if hours >= 48 {
        // Whole days and the hours past them, so 7 days 1 hour is not read as a 7-day limit.
        let (days, rest) = (hours / 24, hours % 24);
        match rest {
            0 => format!("{days} days"),
            1 => format!("{days} days 1 hour"),
            rest => format!("{days} days {rest} hours"),
        }
    } else if hours >= 1 {
        format!("{hours} hour{}", if hours == 1 { "" } else { "s" })
    } else {
        let minutes = duration.num_minutes().max(0);
        format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
    }
}

/// `1 batch`, `3 batches`: a count with its noun.
pub fn counted(count: u64, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// A config duration as chrono's.
pub fn chrono_of(duration: crate::config::Duration) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 4))
}

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &mut [u64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let middle = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) as f64 / 2.0
    } else {
        values[middle] as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: &str, subject: &str, severity: Severity) -> Finding {
        Finding {
            rule: RuleRef {
                id: rule.into(),
                version: 1,
            },
            subject: subject.into(),
            severity,
            confidence: 0.5,
            title: String::new(),
            rationale: String::new(),
            recommendation: String::new(),
            evidence: Vec::new(),
            post: None,
            suggestion: None,
        }
    }

    #[test]
    fn the_collector_counts_every_hit_and_keeps_a_bounded_number_per_rule() {
        let mut collector = Collector::new(2);
        collector.rule("quiet");
        for index in 0..5 {
            collector.push(finding("loud", &format!("batches/b{index}"), Severity::Low));
        }
        collector.push(finding("other", "studio", Severity::High));
        collector.refuse("other");
        assert_eq!(collector.hits()["loud"], 5);
        assert_eq!(collector.hits()["quiet"], 0);
        assert_eq!(collector.hits()["other"], 2);
        assert_eq!(collector.refused()["other"], 1);
        let kept = collector.into_findings();
        assert_eq!(kept.len(), 3);
        assert_eq!(kept[0].rule.id, "other", "most severe first");
    }

    #[test]
    fn medians_and_spoken_durations() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3, 1, 2]), Some(2.0));
        assert_eq!(median(&mut [4, 1, 2, 3]), Some(2.5));
        assert_eq!(spoken(chrono::Duration::hours(48)), "2 days");
        assert_eq!(spoken(chrono::Duration::hours(50)), "2 days 2 hours");
        assert_eq!(spoken(chrono::Duration::hours(169)), "7 days 1 hour");
        assert_eq!(counted(1, "batch", "batches"), "1 batch");
        assert_eq!(counted(0, "batch", "batches"), "0 batches");
        assert_eq!(spoken(chrono::Duration::hours(13)), "13 hours");
        assert_eq!(spoken(chrono::Duration::minutes(1)), "1 minute");
    }
}
