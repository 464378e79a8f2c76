//! The marketing drafter (`marketing`): drafts posts (newsletter, instagram, website) from what
//! actually happened in the studio: firings completed in the last two days, kilns back from
//! maintenance, open studio slots in the coming week, a weekly digest. Each draft is written
//! from a template in the studio repository (`swarms/marketing/*.yaml`, linted) whose
//! placeholders can only name facts that hold no personal data, and passes the personal-data
//! check ([`super::pii`]) before it is proposed as `marketing.post.draft`.
//!
//! Publishing is not a capability brain has: a draft goes `draft` → `needs_review` →
//! `approved_for_publish` ([`DraftStatus`]), and approval marks it ready for a person.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Collector, Evidence, Finding, Post, RuleInfo, RunContext, Seen, Severity, Swarm, SwarmInfo,
    TemplateRef, chrono_of,
};
use crate::config::Duration;
use crate::diagnostic::{Finding as Diagnostic, SourceFile};
use crate::engine::lifecycle::ProposalState;
use crate::snapshot::model::{self, Class};

pub static FIRING_COMPLETED: RuleInfo = RuleInfo {
    id: "firing_completed",
    version: 1,
    title: "Firing completed",
    summary: "a kiln firing that completed in the last two days, worth a post",
};
pub static KILN_BACK: RuleInfo = RuleInfo {
    id: "kiln_back",
    version: 1,
    title: "Kiln back from maintenance",
    summary: "a kiln in service again that a recent snapshot showed in maintenance",
};
pub static OPEN_STUDIO_SLOTS: RuleInfo = RuleInfo {
    id: "open_studio_slots",
    version: 1,
    title: "Open studio slots",
    summary: "days in the coming week with open studio slots",
};
pub static WEEKLY_DIGEST: RuleInfo = RuleInfo {
    id: "weekly_digest",
    version: 1,
    title: "Weekly digest",
    summary: "the week's firings, pickups and reservations, for the newsletter",
};

pub static INFO: SwarmInfo = SwarmInfo {
    name: "marketing",
    title: "Marketing drafter",
    draft_capability: "marketing.post.draft",
    default_agent: "agent:marketing-swarm",
    rules: &[
        &FIRING_COMPLETED,
        &KILN_BACK,
        &OPEN_STUDIO_SLOTS,
        &WEEKLY_DIGEST,
    ],
};

/// The placeholders each rule fills; a template may use only these. None holds personal
/// data: kiln names, cycle types, weekdays and counts.
pub fn placeholders(rule: &str) -> Option<&'static [&'static str]> {
    Some(match rule {
        "firing_completed" => &["kiln", "cycle", "day", "batches"],
        "kiln_back" => &["kiln", "day"],
        "open_studio_slots" => &["days", "free_total", "week_of"],
        "weekly_digest" => &[
            "week_of",
            "firings_completed",
            "batches_ready",
            "reservations_coming",
        ],
        _ => return None,
    })
}

/// The channels a post can be drafted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Newsletter,
    Instagram,
    Website,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Newsletter => "newsletter",
            Channel::Instagram => "instagram",
            Channel::Website => "website",
        }
    }
}

/// `swarms/marketing/<id>.yaml`: a post template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "marketing template",
    description = "A post template of the marketing swarm."
)]
pub struct Template {
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*$"), length(max = 80))]
    pub id: String,
    #[schemars(range(min = 1))]
    pub version: u32,
    /// The rule whose findings it writes (`firing_completed`, ...).
    pub rule: String,
    pub channel: Channel,
    /// The post, with `{placeholder}`s the rule fills.
    #[schemars(length(min = 1, max = 2000))]
    pub body: String,
}

impl Template {
    pub fn reference(&self) -> TemplateRef {
        TemplateRef {
            id: self.id.clone(),
            version: self.version,
        }
    }

    /// The body with every placeholder filled from `values`; `None` if one is missing.
    pub fn render(&self, values: &BTreeMap<&str, String>) -> Option<String> {
        let mut out = String::new();
        let mut rest = self.body.as_str();
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let end = after.find('}')?;
            out.push_str(values.get(&after[..end])?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(out.trim().to_string())
    }
}

/// The templates shipped with brain, used when a studio repository has none.
pub const BUILT_IN_TEMPLATES: &[(&str, &str)] = &[
    (
        "firing-completed.yaml",
        include_str!("../../swarms/marketing/firing-completed.yaml"),
    ),
    (
        "kiln-back.yaml",
        include_str!("../../swarms/marketing/kiln-back.yaml"),
    ),
    (
        "open-studio-slots.yaml",
        include_str!("../../swarms/marketing/open-studio-slots.yaml"),
    ),
    (
        "weekly-digest.yaml",
        include_str!("../../swarms/marketing/weekly-digest.yaml"),
    ),
];

/// The JSON Schema of a template.
pub fn template_schema() -> Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(crate::config::schema_errors::schema_value::<Template>)
        .clone()
}

/// Parse a template: schema problems, an unknown rule, and placeholders its rule does not fill
/// are findings with spans (lint rule `swarm-template-invalid`).
pub fn parse_template(source: SourceFile) -> crate::capability::Parsed<Template> {
    let mut parsed =
        crate::capability::parse_yaml::<Template>(source, &template_schema(), "swarm-template");
    let (Some(template), Some(document)) = (&parsed.value, &parsed.document) else {
        return parsed;
    };
    let mut problems = Vec::new();
    match placeholders(&template.rule) {
        None => problems.push(
            Diagnostic::error(
                "swarm-template::rule",
                format!("the marketing swarm has no rule `{}`", template.rule),
            )
            .at(&parsed.source, document.value_span("/rule"), "unknown rule")
            .with_help(format!(
                "rules: {}",
                INFO.rules
                    .iter()
                    .map(|rule| rule.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ),
        Some(allowed) => {
            let mut rest = template.body.as_str();
            while let Some(start) = rest.find('{') {
                let after = &rest[start + 1..];
                let Some(end) = after.find('}') else {
                    problems.push(
                        Diagnostic::error(
                            "swarm-template::placeholder",
                            "a `{` in the body is never closed",
                        )
                        .at(&parsed.source, document.value_span("/body"), "in this body")
                        .with_help("write placeholders as `{name}`"),
                    );
                    break;
                };
                let name = &after[..end];
                if !allowed.contains(&name) {
                    problems.push(
                        Diagnostic::error(
                            "swarm-template::placeholder",
                            format!(
                                "rule `{}` fills no placeholder `{{{name}}}`",
                                template.rule
                            ),
                        )
                        .at(&parsed.source, document.value_span("/body"), "in this body")
                        .with_help(format!(
                            "`{}` fills: {}; templates can only name facts that hold no personal data",
                            template.rule,
                            allowed
                                .iter()
                                .map(|name| format!("{{{name}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                }
                rest = &after[end + 1..];
            }
        }
    }
    if !problems.is_empty() {
        parsed.value = None;
        parsed.findings.extend(problems);
    }
    parsed
}

/// Where a marketing draft stands: `draft` → `needs_review` → `approved_for_publish`, or
/// rejected, expired, cancelled, or refused before it was proposed (personal data). It is read
/// off the proposal's state; [`DraftStatus::next`] is the table it moves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DraftStatus {
    Draft,
    NeedsReview,
    ApprovedForPublish,
    Rejected,
    Expired,
    Cancelled,
    Refused,
}

/// What happens to a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftEvent {
    /// It passed the checks and was proposed for review.
    Propose,
    /// A check refused it (personal data).
    Refuse,
    Approve,
    Reject,
    Expire,
    Cancel,
}

impl DraftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DraftStatus::Draft => "draft",
            DraftStatus::NeedsReview => "needs_review",
            DraftStatus::ApprovedForPublish => "approved_for_publish",
            DraftStatus::Rejected => "rejected",
            DraftStatus::Expired => "expired",
            DraftStatus::Cancelled => "cancelled",
            DraftStatus::Refused => "refused",
        }
    }

    /// The status after `event`, or `None` when the table does not allow it.
    pub fn next(self, event: DraftEvent) -> Option<DraftStatus> {
        use DraftEvent as E;
        use DraftStatus as S;
        Some(match (self, event) {
            (S::Draft, E::Propose) => S::NeedsReview,
            (S::Draft, E::Refuse) => S::Refused,
            (S::NeedsReview, E::Approve) => S::ApprovedForPublish,
            (S::Draft | S::NeedsReview | S::ApprovedForPublish, E::Reject) => S::Rejected,
            (S::Draft | S::NeedsReview | S::ApprovedForPublish, E::Expire) => S::Expired,
            (S::Draft | S::NeedsReview | S::ApprovedForPublish, E::Cancel) => S::Cancelled,
            _ => return None,
        })
    }

    /// A proposed draft's status from its proposal's state; `approved` when it has an approval
    /// (an approved draft that later expired was still approved for publishing).
    pub fn of(state: ProposalState, approved: bool) -> DraftStatus {
        match state {
            ProposalState::Draft => DraftStatus::Draft,
            ProposalState::PendingApproval => DraftStatus::NeedsReview,
            ProposalState::Approved
            | ProposalState::Executing
            | ProposalState::Succeeded
            | ProposalState::Failed
            | ProposalState::RolledBack => DraftStatus::ApprovedForPublish,
            ProposalState::Expired if approved => DraftStatus::ApprovedForPublish,
            ProposalState::Expired => DraftStatus::Expired,
            ProposalState::Rejected => DraftStatus::Rejected,
            ProposalState::Cancelled => DraftStatus::Cancelled,
        }
    }
}

fn days(count: u64) -> Duration {
    Duration::from_secs(count * 86_400)
}

fn yes() -> bool {
    true
}

/// The marketing rules' settings (`swarms.marketing.rules` in brain.yaml).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MarketingRules {
    pub firing_completed: FiringCompleted,
    pub kiln_back: KilnBack,
    pub open_studio_slots: OpenStudioSlots,
    pub weekly_digest: WeeklyDigest,
}

impl MarketingRules {
    /// Each rule, whether it is on, and its cooldown after a rejected draft.
    pub fn each(&self) -> [(&'static RuleInfo, bool, Duration); 4] {
        [
            (
                &FIRING_COMPLETED,
                self.firing_completed.enabled,
                self.firing_completed.cooldown,
            ),
            (&KILN_BACK, self.kiln_back.enabled, self.kiln_back.cooldown),
            (
                &OPEN_STUDIO_SLOTS,
                self.open_studio_slots.enabled,
                self.open_studio_slots.cooldown,
            ),
            (
                &WEEKLY_DIGEST,
                self.weekly_digest.enabled,
                self.weekly_digest.cooldown,
            ),
        ]
    }
}

/// `firing_completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct FiringCompleted {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
    /// Firings completed within this long are worth a post.
    pub within: Duration,
}

impl Default for FiringCompleted {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(7),
            within: Duration::from_secs(48 * 3_600),
        }
    }
}

/// `kiln_back`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KilnBack {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
    /// A kiln seen in maintenance in a snapshot this recent and in service now is back.
    pub within: Duration,
}

impl Default for KilnBack {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(7),
            within: days(7),
        }
    }
}

/// `open_studio_slots`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OpenStudioSlots {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
    /// Studio slots a day offers (wheels, tables).
    pub slots_per_day: u64,
    /// A day with at least this many free slots is worth mentioning.
    pub min_free: u64,
}

impl Default for OpenStudioSlots {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(6),
            slots_per_day: 6,
            min_free: 2,
        }
    }
}

/// `weekly_digest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct WeeklyDigest {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
}

impl Default for WeeklyDigest {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(6),
        }
    }
}

/// One run of the marketing swarm.
pub struct Marketing {
    rules: MarketingRules,
    templates: BTreeMap<String, Template>,
    zone: chrono_tz::Tz,
    /// Kilns a recent snapshot showed in maintenance (computed at the first kiln record).
    in_maintenance: Option<BTreeSet<String>>,
    /// Booked slots per local day of the coming week.
    booked: BTreeMap<chrono::NaiveDate, u64>,
    firings_completed_this_week: u64,
    batches_ready: u64,
    reservations_coming: u64,
}

impl Marketing {
    /// A run with `templates` (the first template of each rule, by id, is used).
    pub fn new(rules: MarketingRules, templates: Vec<Template>, zone: chrono_tz::Tz) -> Self {
        let mut by_rule = BTreeMap::new();
        let mut sorted = templates;
        sorted.sort_by(|left, right| left.id.cmp(&right.id));
        for template in sorted {
            by_rule.entry(template.rule.clone()).or_insert(template);
        }
        Self {
            rules,
            templates: by_rule,
            zone,
            in_maintenance: None,
            booked: BTreeMap::new(),
            firings_completed_this_week: 0,
            batches_ready: 0,
            reservations_coming: 0,
        }
    }

    fn weekday(&self, time: DateTime<Utc>) -> String {
        time.with_timezone(&self.zone).format("%A").to_string()
    }

    fn week_of(&self, now: DateTime<Utc>) -> String {
        now.with_timezone(&self.zone).format("%B %-d").to_string()
    }

    /// Render `rule`'s template and check it for personal data; push the finding, or count the
    /// refusal. `records` are the records the post was written from.
    #[allow(clippy::too_many_arguments)]
    fn draft(
        &self,
        rule: &RuleInfo,
        subject: String,
        values: BTreeMap<&str, String>,
        records: &[&Value],
        source_refs: Vec<String>,
        evidence: Vec<Evidence>,
        title: String,
        rationale: String,
        confidence: f64,
        out: &mut Collector,
    ) {
        let Some(template) = self.templates.get(rule.id) else {
            return;
        };
        let Some(body) = template.render(&values) else {
            out.refuse(rule.id);
            tracing::warn!(template = %template.id, "a marketing template names a placeholder its rule does not fill");
            return;
        };
        let found = super::pii::check(&body, records);
        if !found.is_empty() {
            out.refuse(rule.id);
            tracing::warn!(
                rule = rule.id,
                subject = %subject,
                found = %found.join(", "),
                "a marketing draft was refused before it was proposed: it holds personal data"
            );
            return;
        }
        let mut confidence_notes = vec![
            "Check dates, names of kilns and counts against the studio before publishing."
                .to_string(),
        ];
        if confidence < 0.8 {
            confidence_notes.push("Some facts behind this post are estimates.".into());
        }
        out.push(Finding {
            rule: rule.reference(),
            subject,
            severity: Severity::Low,
            confidence,
            title,
            rationale,
            recommendation: format!(
                "Review the {} post and approve it for publishing, or reject it with a reason.",
                template.channel.as_str()
            ),
            evidence,
            post: Some(Post {
                channel: template.channel.as_str().to_string(),
                body,
                template: template.reference(),
                source_refs,
                confidence_notes,
            }),
            suggestion: None,
        });
    }

    fn firing(
        &mut self,
        context: &RunContext<'_>,
        seen: &Seen<'_>,
        value: &str,
        out: &mut Collector,
    ) {
        if model::normalize(value) != "completed" {
            return;
        }
        let fields = &seen.record.fields;
        let Some(rule) = context.model.rule("kilnFirings") else {
            return;
        };
        let finished_fields = ["unloadedAt".to_string()]
            .into_iter()
            .chain(rule.ends.iter().cloned())
            .collect::<Vec<_>>();
        let Some(finished) = model::first_time(fields, &finished_fields) else {
            return;
        };
        let age = context.now - finished;
        if age < chrono::Duration::zero() {
            return;
        }
        if age <= chrono::Duration::days(7) {
            self.firings_completed_this_week += 1;
        }
        if !self.rules.firing_completed.enabled
            || age > chrono_of(self.rules.firing_completed.within)
        {
            return;
        }
        let kiln = text(fields, &["kilnName", "kilnId"]).unwrap_or("our kiln");
        let cycle = text(fields, &["cycleType"]).unwrap_or("kiln");
        let batches = fields
            .get("batchIds")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let day = self.weekday(finished);
        let field = finished_fields
            .iter()
            .find(|path| model::field(fields, path).is_some())
            .cloned()
            .unwrap_or_default();
        self.draft(
            &FIRING_COMPLETED,
            seen.path(),
            BTreeMap::from([
                ("kiln", kiln.to_string()),
                ("cycle", cycle.to_string()),
                ("day", day.clone()),
                ("batches", super::counted(batches as u64, "member batch", "member batches")),
            ]),
            &[fields],
            vec![seen.path()],
            vec![seen.evidence("status"), seen.evidence(&field)],
            format!("Post: {kiln} finished a {cycle} firing on {day}"),
            format!(
                "Firing {} on {kiln} completed {} ago ({}), within the {} a post stays timely; {} in it.",
                seen.record.id,
                super::spoken(age),
                crate::clock::format_time(finished),
                super::spoken(chrono_of(self.rules.firing_completed.within)),
                super::counted(batches as u64, "batch was", "batches were")
            ),
            if fields.get("confidence").and_then(Value::as_str) == Some("estimated") {
                0.7
            } else {
                0.9
            },
            out,
        );
    }

    /// Kiln ids a snapshot within `within` showed in maintenance (its value examples).
    fn maintenance_seen(&self, context: &RunContext<'_>) -> BTreeSet<String> {
        let since = context.now - chrono_of(self.rules.kiln_back.within);
        context
            .history
            .iter()
            .filter(|snapshot| {
                crate::clock::parse_time(&snapshot.computed_at).is_some_and(|at| at >= since)
            })
            .flat_map(|snapshot| {
                snapshot.state["collections"]["kilns"]["values"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(value, _)| model::normalize(value) == "maintenance")
                    .flat_map(|(_, count)| {
                        count["examples"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn kiln(
        &mut self,
        context: &RunContext<'_>,
        seen: &Seen<'_>,
        class: Class,
        out: &mut Collector,
    ) {
        if !self.rules.kiln_back.enabled || class == Class::Closed {
            return;
        }
        if self.in_maintenance.is_none() {
            self.in_maintenance = Some(self.maintenance_seen(context));
        }
        if !self
            .in_maintenance
            .as_ref()
            .is_some_and(|kilns| kilns.contains(&seen.record.id))
        {
            return;
        }
        let fields = &seen.record.fields;
        let kiln = text(fields, &["name", "kilnName"])
            .unwrap_or(&seen.record.id)
            .to_string();
        let day = self.weekday(context.now);
        self.draft(
            &KILN_BACK,
            seen.path(),
            BTreeMap::from([("kiln", kiln.clone()), ("day", day)]),
            &[fields],
            vec![seen.path()],
            vec![seen.evidence("status")],
            format!("Post: {kiln} is back in service"),
            format!(
                "{kiln} ({}) is {} now; a snapshot in the last {} showed it in maintenance.",
                seen.record.id,
                model::first_text(fields, &["status".to_string()]).unwrap_or("in service"),
                super::spoken(chrono_of(self.rules.kiln_back.within))
            ),
            0.8,
            out,
        );
    }

    fn reservation(&mut self, context: &RunContext<'_>, seen: &Seen<'_>, class: Class) {
        if class == Class::Closed {
            return;
        }
        let Some(rule) = context.model.rule("reservations") else {
            return;
        };
        let starts = ["preferredWindow.earliestDate".to_string()]
            .into_iter()
            .chain(rule.starts.iter().cloned())
            .collect::<Vec<_>>();
        let Some(start) = model::first_time(&seen.record.fields, &starts) else {
            return;
        };
        if start < context.now || start >= context.now + chrono::Duration::days(7) {
            return;
        }
        self.reservations_coming += 1;
        *self
            .booked
            .entry(start.with_timezone(&self.zone).date_naive())
            .or_default() += 1;
    }

    fn open_slots(&self, context: &RunContext<'_>, out: &mut Collector) {
        let settings = &self.rules.open_studio_slots;
        let today = context.now.with_timezone(&self.zone).date_naive();
        let mut open_days = Vec::new();
        let mut free_total = 0;
        for offset in 1..=7 {
            let Some(day) = today.checked_add_days(chrono::Days::new(offset)) else {
                continue;
            };
            let booked = self.booked.get(&day).copied().unwrap_or(0);
            let free = settings.slots_per_day.saturating_sub(booked);
            if free >= settings.min_free {
                free_total += free;
                open_days.push(format!("{} ({free} open)", day.weekday_name()));
            }
        }
        if open_days.is_empty() {
            return;
        }
        let days = join_words(&open_days);
        self.draft(
            &OPEN_STUDIO_SLOTS,
            "studio".into(),
            BTreeMap::from([
                ("days", days.clone()),
                (
                    "free_total",
                    super::counted(free_total, "open slot", "open slots"),
                ),
                ("week_of", self.week_of(context.now)),
            ]),
            &[],
            vec!["reservations".into()],
            vec![Evidence {
                source: "snapshot".into(),
                path: "reservations".into(),
                field: "preferredWindow.earliestDate".into(),
                value: Value::from(self.reservations_coming),
                update_time: None,
            }],
            format!(
                "Post: {} in the coming week",
                super::counted(free_total, "open studio slot", "open studio slots")
            ),
            format!(
                "The coming week has {} reservations against {} slots a day; open: {days}.",
                self.reservations_coming, settings.slots_per_day
            ),
            0.75,
            out,
        );
    }

    fn digest(&self, context: &RunContext<'_>, out: &mut Collector) {
        let week_of = self.week_of(context.now);
        self.draft(
            &WEEKLY_DIGEST,
            "studio".into(),
            BTreeMap::from([
                ("week_of", week_of.clone()),
                (
                    "firings_completed",
                    super::counted(self.firings_completed_this_week, "kiln firing", "kiln firings"),
                ),
                (
                    "batches_ready",
                    super::counted(self.batches_ready, "batch", "batches"),
                ),
                (
                    "reservations_coming",
                    super::counted(self.reservations_coming, "studio reservation", "studio reservations"),
                ),
            ]),
            &[],
            vec![
                "kilnFirings".into(),
                "batches".into(),
                "reservations".into(),
            ],
            Vec::new(),
            format!("Newsletter digest, week of {week_of}"),
            format!(
                "In the last 7 days: {} completed; {} ready for pickup; {} starting in the next 7 days.",
                super::counted(self.firings_completed_this_week, "firing", "firings"),
                super::counted(self.batches_ready, "batch", "batches"),
                super::counted(self.reservations_coming, "reservation", "reservations")
            ),
            0.9,
            out,
        );
    }
}

/// `a, b and c`.
fn join_words(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn text<'a>(fields: &'a Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| fields.get(*name).and_then(Value::as_str))
        .filter(|text| !text.trim().is_empty())
}

trait WeekdayName {
    fn weekday_name(&self) -> String;
}

impl WeekdayName for chrono::NaiveDate {
    fn weekday_name(&self) -> String {
        self.format("%A").to_string()
    }
}

impl Swarm for Marketing {
    fn info(&self) -> &'static SwarmInfo {
        &INFO
    }

    fn collections(&self) -> Vec<&'static str> {
        let mut all = Vec::new();
        if self.rules.firing_completed.enabled || self.rules.weekly_digest.enabled {
            all.push("kilnFirings");
        }
        if self.rules.kiln_back.enabled {
            all.push("kilns");
        }
        if self.rules.open_studio_slots.enabled || self.rules.weekly_digest.enabled {
            all.push("reservations");
        }
        if self.rules.weekly_digest.enabled {
            all.push("batches");
        }
        all
    }

    fn observe(&mut self, context: &RunContext<'_>, seen: &Seen<'_>, out: &mut Collector) {
        let Some(value) = context
            .model
            .lifecycle_value(seen.collection, &seen.record.fields)
        else {
            return;
        };
        let Some(found) = context.model.classify(seen.collection, value) else {
            return;
        };
        match seen.collection {
            "kilnFirings" => self.firing(context, seen, value, out),
            "kilns" => self.kiln(context, seen, found.class, out),
            "reservations" => self.reservation(context, seen, found.class),
            "batches" if model::normalize(value) == "ready_for_pickup" => {
                self.batches_ready += 1;
            }
            _ => {}
        }
    }

    fn finish(&mut self, context: &RunContext<'_>, out: &mut Collector) {
        if self.rules.open_studio_slots.enabled {
            self.open_slots(context, out);
        }
        if self.rules.weekly_digest.enabled {
            self.digest(context, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_draft_status_table_follows_the_proposal_lifecycle() {
        use crate::engine::lifecycle::{Step, next};
        let steps = [
            (
                Step::Submit {
                    approvals_needed: true,
                },
                DraftEvent::Propose,
            ),
            (Step::Approve { enough: true }, DraftEvent::Approve),
            (Step::Reject, DraftEvent::Reject),
            (Step::Expire, DraftEvent::Expire),
            (Step::Cancel, DraftEvent::Cancel),
        ];
        let mut checked = 0;
        for from in ProposalState::ALL {
            for (step, event) in steps {
                let Ok(to) = next(from, step) else { continue };
                let before = DraftStatus::of(from, false);
                let after = DraftStatus::of(to, matches!(event, DraftEvent::Approve));
                if before == after {
                    continue;
                }
                assert_eq!(
                    before.next(event),
                    Some(after),
                    "{from:?} --{step:?}--> {to:?}"
                );
                checked += 1;
            }
        }
        assert!(checked >= 6, "{checked}");
        // What the table forbids.
        assert_eq!(DraftStatus::Expired.next(DraftEvent::Approve), None);
        assert_eq!(DraftStatus::Refused.next(DraftEvent::Propose), None);
        assert_eq!(DraftStatus::Draft.next(DraftEvent::Approve), None);
        assert_eq!(DraftStatus::Rejected.next(DraftEvent::Approve), None);
        assert_eq!(
            DraftStatus::of(ProposalState::Expired, true),
            DraftStatus::ApprovedForPublish
        );
    }

    #[test]
    fn templates_render_only_their_rules_placeholders() {
        for (name, text) in BUILT_IN_TEMPLATES {
            let parsed = parse_template(SourceFile::new(*name, *text));
            assert!(parsed.findings.is_empty(), "{name}: {:?}", parsed.findings);
        }
        let parsed = parse_template(SourceFile::new(
            "t.yaml",
            "id: t\nversion: 1\nrule: firing_completed\nchannel: instagram\nbody: \"Thanks {owner} for {kiln}\"\n",
        ));
        assert!(parsed.value.is_none());
        assert!(
            parsed.findings[0]
                .message
                .contains("fills no placeholder `{owner}`"),
            "{:?}",
            parsed.findings
        );
        let parsed = parse_template(SourceFile::new(
            "t.yaml",
            "id: t\nversion: 1\nrule: nope\nchannel: tiktok\nbody: x\n",
        ));
        assert!(parsed.value.is_none());
        let template = Template {
            id: "t".into(),
            version: 1,
            rule: "kiln_back".into(),
            channel: Channel::Website,
            body: "{kiln} is back {day}".into(),
        };
        let values = BTreeMap::from([("kiln", "Skutt".to_string()), ("day", "Monday".to_string())]);
        assert_eq!(
            template.render(&values).as_deref(),
            Some("Skutt is back Monday")
        );
        assert_eq!(template.render(&BTreeMap::new()), None);
    }

    use std::collections::BTreeMap as Map;

    use serde_json::json;

    use crate::snapshot::{Model, Record};
    use crate::store::SnapshotRecord;
    use crate::swarms::{Collector, RunContext, Seen};

    fn now() -> DateTime<Utc> {
        crate::clock::parse_time("2026-12-03T12:00:00.000000Z").unwrap()
    }

    fn ago(hours: i64) -> String {
        crate::clock::format_time(now() - chrono::Duration::hours(hours))
    }

    fn templates() -> Vec<Template> {
        BUILT_IN_TEMPLATES
            .iter()
            .map(|(name, text)| parse_template(SourceFile::new(*name, *text)).value.unwrap())
            .collect()
    }

    fn run(
        rules: MarketingRules,
        history: &[SnapshotRecord],
        records: &[(&str, &str, Value)],
    ) -> (Vec<crate::swarms::Finding>, Map<String, u64>) {
        let model = Model::built_in();
        let devices = Map::new();
        let context = RunContext {
            now: now(),
            model: &model,
            history,
            devices: &devices,
            intake: &crate::intake::Classifier::built_in(),
        };
        let mut marketing = Marketing::new(rules, templates(), chrono_tz::UTC);
        let mut out = Collector::new(50);
        for (collection, id, fields) in records {
            let record = Record {
                id: id.to_string(),
                fields: fields.clone(),
                update_time: None,
            };
            marketing.observe(
                &context,
                &Seen {
                    source: "fixtures",
                    collection,
                    record: &record,
                },
                &mut out,
            );
        }
        marketing.finish(&context, &mut out);
        let refused = out.refused().clone();
        (out.into_findings(), refused)
    }

    fn only(rule: &str) -> MarketingRules {
        let mut rules = MarketingRules::default();
        rules.firing_completed.enabled = rule == "firing_completed";
        rules.kiln_back.enabled = rule == "kiln_back";
        rules.open_studio_slots.enabled = rule == "open_studio_slots";
        rules.weekly_digest.enabled = rule == "weekly_digest";
        rules
    }

    fn firing(hours_ago: i64) -> Value {
        json!({
            "status": "completed",
            "kilnName": "Skutt 1027",
            "cycleType": "glaze",
            "endAt": ago(hours_ago),
            "batchIds": ["b1", "b2"],
            "ownerUid": "m-ana-7731",
            "unloadedByUid": "staff-lee",
            "notes": "Call Ana about the pickup on Friday"
        })
    }

    #[test]
    fn a_firing_completed_within_two_days_is_drafted_as_a_post_without_personal_data() {
        let (found, _) = run(
            only("firing_completed"),
            &[],
            &[
                ("kilnFirings", "at-limit", firing(48)),
                ("kilnFirings", "too-old", firing(49)),
                (
                    "kilnFirings",
                    "running",
                    json!({ "status": "firing", "endAt": ago(1) }),
                ),
                (
                    "kilnFirings",
                    "cancelled",
                    json!({ "status": "cancelled", "endAt": ago(1) }),
                ),
            ],
        );
        assert_eq!(found.len(), 1);
        let post = found[0].post.as_ref().unwrap();
        assert_eq!(found[0].subject, "kilnFirings/at-limit");
        assert_eq!(post.channel, "instagram");
        assert_eq!(post.template.id, "firing-completed");
        assert!(
            post.body.contains(
                "Skutt 1027 finished a glaze firing on Tuesday, with 2 member batches inside"
            ),
            "{}",
            post.body
        );
        for private in ["m-ana", "staff-lee", "Call Ana", "Friday"] {
            assert!(!post.body.contains(private), "{private} in {}", post.body);
        }
    }

    #[test]
    fn a_draft_holding_personal_data_is_refused_before_it_is_proposed() {
        let mut leaky = firing(2);
        leaky["kilnName"] = json!("ana@example.com's kiln");
        let mut named = firing(2);
        named["kilnName"] = json!("m-ana-7731");
        let mut phone = firing(2);
        phone["cycleType"] = json!("call 555 123 4567");
        let (found, refused) = run(
            only("firing_completed"),
            &[],
            &[
                ("kilnFirings", "email", leaky),
                ("kilnFirings", "uid", named),
                ("kilnFirings", "phone", phone),
                ("kilnFirings", "clean", firing(2)),
            ],
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].subject, "kilnFirings/clean");
        assert_eq!(refused.get("firing_completed"), Some(&3));
    }

    #[test]
    fn a_kiln_back_from_maintenance_is_found_in_the_snapshot_history() {
        let snapshot = |hours: i64, kiln: &str| SnapshotRecord {
            id: format!("s{hours}"),
            computed_at: ago(hours),
            schema_version: 2,
            complete: true,
            content_hash: "h".into(),
            state: json!({ "collections": { "kilns": { "values": { "maintenance": { "class": "closed", "count": 1, "examples": [kiln] } } } } }),
            provenance: json!({}),
            previous_id: None,
            diff: json!([]),
            drift: json!([]),
        };
        let history = [snapshot(24, "kiln-2"), snapshot(24 * 9, "kiln-1")];
        let (found, _) = run(
            only("kiln_back"),
            &history,
            &[
                (
                    "kilns",
                    "kiln-1",
                    json!({ "name": "L&L", "status": "idle" }),
                ),
                (
                    "kilns",
                    "kiln-2",
                    json!({ "name": "Skutt 1027", "status": "idle" }),
                ),
                (
                    "kilns",
                    "kiln-3",
                    json!({ "name": "Raku", "status": "maintenance" }),
                ),
            ],
        );
        assert_eq!(found.len(), 1, "kiln-1's maintenance is older than a week");
        assert_eq!(found[0].subject, "kilns/kiln-2");
        assert!(
            found[0]
                .post
                .as_ref()
                .unwrap()
                .body
                .starts_with("Skutt 1027 is back in service")
        );
    }

    #[test]
    fn open_slots_and_the_digest_count_the_coming_week() {
        let reservation = |status: &str, day: i64| json!({ "status": status, "preferredWindow": { "earliestDate": crate::clock::format_time(now() + chrono::Duration::days(day)) } });
        let mut records = Vec::new();
        for index in 0..6 {
            records.push((
                "reservations",
                format!("full{index}"),
                reservation("CONFIRMED", 1),
            ));
        }
        records.push((
            "reservations",
            "cancelled".to_string(),
            reservation("CANCELLED", 2),
        ));
        records.push((
            "reservations",
            "later".to_string(),
            reservation("booked", 9),
        ));
        records.push((
            "batches",
            "ready".to_string(),
            json!({ "state": "READY_FOR_PICKUP" }),
        ));
        records.push(("kilnFirings", "done".to_string(), firing(30)));
        let borrowed: Vec<(&str, &str, Value)> = records
            .iter()
            .map(|(collection, id, fields)| (*collection, id.as_str(), fields.clone()))
            .collect();
        let mut rules = only("open_studio_slots");
        rules.weekly_digest.enabled = true;
        let (found, _) = run(rules, &[], &borrowed);
        let slots = found
            .iter()
            .find(|finding| finding.rule.id == "open_studio_slots")
            .unwrap();
        let body = &slots.post.as_ref().unwrap().body;
        assert!(
            !body.contains("Friday"),
            "Friday (tomorrow) is full: {body}"
        );
        assert!(
            body.contains("36 open slots across Saturday (6 open)"),
            "{body}"
        );
        let digest = found
            .iter()
            .find(|finding| finding.rule.id == "weekly_digest")
            .unwrap();
        assert!(
            digest.post.as_ref().unwrap().body.contains("1 kiln firing completed, 1 batch waiting on the pickup shelf, and 6 studio reservations coming up"),
            "{}",
            digest.post.as_ref().unwrap().body
        );
    }
}
