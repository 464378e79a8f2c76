//! The KPI scorecard: the studio's service-level objectives computed over a period from what
//! brain already records (audit events, swarm drafts), never from a second source.
//!
//! The computation is pure: [`compute`] takes the objectives, a [`Period`], the time it is
//! computed at and the [`Evidence`] the Engine gathered, and returns a [`Scorecard`]. An
//! objective with nothing to measure in the period is `no_data`, never a number made up to fill
//! the gap. Records from several processes may disagree about the time (clock skew): a review
//! that seems to end before it started counts as zero and is reported, never as a negative.
//!
//! Architecture Invariant: this module does no I/O; `engine/scorecard.rs` reads the store and
//! `cli/scorecard.rs` prints.

pub mod alerts;
pub mod markdown;
mod period;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Value, json};

use crate::audit::AuditEvent;
use crate::capability::RiskTier;
use crate::clock::{format_time, parse_time};
use crate::engine::lifecycle::ProposalState;
use crate::store::SwarmDraft;
pub use period::Period;

/// The runtime entries of the daemon's runs, one per start (`daemon.run:<started_at>`).
pub const DAEMON_RUN_KV_PREFIX: &str = "daemon.run:";
/// The action of a connector's health change (decision: the new health).
pub const CONNECTOR_HEALTH_ACTION: &str = "connector_health";
/// The action of the SLO evaluation's events (breach, recovery, the daily computation).
pub const SLO_ACTION: &str = "slo";

/// What an objective measures. Each has a fixed unit and direction.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Indicator {
    /// Share of scheduled snapshot windows with a complete snapshot (percent).
    SnapshotFreshness,
    /// Median time from `pending_approval` to approve or reject (hours), per risk tier.
    ReviewMedian,
    /// 90th percentile of the same (hours).
    ReviewP90,
    /// Share of external write attempts whose events link capability, approval and outcome
    /// (percent).
    AuditCompleteness,
    /// Share of observed time a connector was healthy or degraded (percent); without
    /// `connector`, the worst connector.
    ConnectorAvailability,
    /// Mean time from a connector going down to healthy again (minutes).
    ConnectorMttr,
    /// Share of decided swarm drafts that were approved (percent).
    SwarmAcceptance,
    /// Share of time brain's daemon was up (percent), from its start and stop events and
    /// missing heartbeats.
    BrainUptime,
    /// External writes recorded while brain's daemon was down (count; it should be zero).
    CloudWritesDuringDowntime,
}

impl Indicator {
    pub const ALL: [Indicator; 9] = [
        Indicator::SnapshotFreshness,
        Indicator::ReviewMedian,
        Indicator::ReviewP90,
        Indicator::AuditCompleteness,
        Indicator::ConnectorAvailability,
        Indicator::ConnectorMttr,
        Indicator::SwarmAcceptance,
        Indicator::BrainUptime,
        Indicator::CloudWritesDuringDowntime,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::SnapshotFreshness => "snapshot_freshness",
            Indicator::ReviewMedian => "review_median",
            Indicator::ReviewP90 => "review_p90",
            Indicator::AuditCompleteness => "audit_completeness",
            Indicator::ConnectorAvailability => "connector_availability",
            Indicator::ConnectorMttr => "connector_mttr",
            Indicator::SwarmAcceptance => "swarm_acceptance",
            Indicator::BrainUptime => "brain_uptime",
            Indicator::CloudWritesDuringDowntime => "cloud_writes_during_downtime",
        }
    }

    /// The unit of its values and thresholds.
    pub fn unit(self) -> &'static str {
        match self {
            Indicator::SnapshotFreshness
            | Indicator::AuditCompleteness
            | Indicator::ConnectorAvailability
            | Indicator::SwarmAcceptance
            | Indicator::BrainUptime => "percent",
            Indicator::ReviewMedian | Indicator::ReviewP90 => "hours",
            Indicator::ConnectorMttr => "minutes",
            Indicator::CloudWritesDuringDowntime => "count",
        }
    }

    /// Whether a larger value is better (a share) or worse (a latency, a count).
    pub fn higher_is_better(self) -> bool {
        self.unit() == "percent"
    }

    pub fn default_title(self) -> &'static str {
        match self {
            Indicator::SnapshotFreshness => "Snapshot freshness",
            Indicator::ReviewMedian => "Proposal review time (median)",
            Indicator::ReviewP90 => "Proposal review time (p90)",
            Indicator::AuditCompleteness => "Audit completeness of external writes",
            Indicator::ConnectorAvailability => "Connector availability",
            Indicator::ConnectorMttr => "Connector time to recover",
            Indicator::SwarmAcceptance => "Swarm draft acceptance",
            Indicator::BrainUptime => "brain uptime",
            Indicator::CloudWritesDuringDowntime => "Cloud writes while brain was down",
        }
    }
}

/// One objective as the scorecard needs it (the config's `slos.objectives` entry, resolved).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Objective {
    pub id: String,
    pub title: String,
    pub indicator: Indicator,
    pub target: f64,
    pub warning: f64,
    pub critical: f64,
    pub owner: String,
    pub on_call: Option<String>,
    /// Only proposals of capabilities of this tier (review indicators).
    pub risk_tier: Option<RiskTier>,
    /// Only this connector (connector indicators).
    pub connector: Option<String>,
    /// Only this swarm (`swarm_acceptance`).
    pub swarm: Option<String>,
}

/// Where an objective stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Warning,
    Critical,
    NoData,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Critical => "critical",
            Status::NoData => "no_data",
        }
    }

    /// Whether the objective is breached (warning or critical).
    pub fn is_breach(self) -> bool {
        matches!(self, Status::Warning | Status::Critical)
    }

    /// For `/metrics`: 0 ok, 1 warning, 2 critical, -1 no data.
    pub fn metric_value(self) -> i64 {
        match self {
            Status::Ok => 0,
            Status::Warning => 1,
            Status::Critical => 2,
            Status::NoData => -1,
        }
    }
}

impl Objective {
    /// The status of `value` against this objective's thresholds.
    pub fn status(&self, value: Option<f64>) -> Status {
        let Some(value) = value else {
            return Status::NoData;
        };
        if self.indicator.higher_is_better() {
            if value < self.critical {
                Status::Critical
            } else if value < self.warning {
                Status::Warning
            } else {
                Status::Ok
            }
        } else if value > self.critical {
            Status::Critical
        } else if value > self.warning {
            Status::Warning
        } else {
            Status::Ok
        }
    }
}

/// What a capability is, as far as the scorecard cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityFacts {
    pub risk_tier: Option<RiskTier>,
    /// `mode: write` on a target other than brain itself.
    pub external_write: bool,
    pub approvals_required: u32,
}

/// What the Engine read from the store for one computation.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// Audit events of the period and the look-back before it (any order).
    pub events: Vec<AuditEvent>,
    /// The daemon's runs (any order): when each started, was last seen, and stopped.
    pub runs: Vec<DaemonRun>,
    /// When brain recorded its first event at all (windows before it are not counted).
    pub first_event_at: Option<DateTime<Utc>>,
    /// Swarm drafts (any order).
    pub drafts: Vec<SwarmDraft>,
    pub capabilities: BTreeMap<String, CapabilityFacts>,
}

/// One run of `brain serve`, as it records itself (a runtime entry, not an audit event: a
/// start is not a decision, and a daemon must not change the log its clients read by
/// starting). `last_seen` is its heartbeat, written every minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonRun {
    pub started_at: String,
    pub last_seen: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    #[serde(default)]
    pub version: String,
}

/// How the computation reads time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The snapshot schedule's interval (seconds): one window each.
    pub snapshot_every: i64,
    /// The schedule's jitter (seconds): a snapshot this late or early still covers its window.
    pub snapshot_jitter: i64,
    /// The daemon is taken to be down when it recorded nothing for longer than this.
    pub heartbeat_gap: i64,
    /// An execution without an outcome younger than this is in flight, not a gap.
    pub in_flight_grace: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            snapshot_every: 15 * 60,
            snapshot_jitter: 30,
            heartbeat_gap: 5 * 60,
            in_flight_grace: 10 * 60,
        }
    }
}

/// A value or `no_data`: serialized as a number or the string `"no_data"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Value64(pub Option<f64>);

impl<'de> Deserialize<'de> for Value64 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Number(number) => Ok(Value64(number.as_f64())),
            Value::String(text) if text == "no_data" => Ok(Value64(None)),
            other => Err(serde::de::Error::custom(format!(
                "a value is a number or \"no_data\", not {other}"
            ))),
        }
    }
}

impl Serialize for Value64 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(value) => serializer.serialize_f64(value),
            None => serializer.serialize_str("no_data"),
        }
    }
}

/// One objective's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SloResult {
    pub id: String,
    pub title: String,
    pub indicator: Indicator,
    pub target: f64,
    pub warning: f64,
    pub critical: f64,
    /// A number, or `"no_data"` when nothing in the period measures it.
    #[schemars(with = "Value")]
    pub value: Value64,
    pub unit: String,
    pub status: Status,
    /// The newest audited `SLO_BREACH` of this objective, when one was recorded.
    pub last_breach_at: Option<String>,
    pub owner: String,
    pub on_call: Option<String>,
    /// Why there is no value, or what the value is made of.
    pub note: String,
}

/// The period as printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PeriodView {
    pub label: String,
    pub start: String,
    pub end: String,
}

/// The whole scorecard: `{period, computed_at, slos, details}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Scorecard {
    /// The studio's name (`studio.name`), for the review's title; empty when not known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub studio: String,
    pub period: PeriodView,
    pub computed_at: String,
    pub slos: Vec<SloResult>,
    pub details: Value,
}

impl Scorecard {
    /// The objective `id`'s result.
    pub fn slo(&self, id: &str) -> Option<&SloResult> {
        self.slos.iter().find(|slo| slo.id == id)
    }
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_seconds()
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn percent(part: f64, whole: f64) -> Option<f64> {
    (whole > 0.0).then(|| round2(part * 100.0 / whole))
}

/// The median (mean of the two middle values for an even count) of sorted values.
fn median(sorted: &[f64]) -> Option<f64> {
    let count = sorted.len();
    if count == 0 {
        return None;
    }
    Some(if count % 2 == 1 {
        sorted[count / 2]
    } else {
        (sorted[count / 2 - 1] + sorted[count / 2]) / 2.0
    })
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], fraction: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// An event with its parsed time.
struct Timed<'a> {
    at: DateTime<Utc>,
    event: &'a AuditEvent,
}

/// A half-open interval of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

impl Span {
    /// Its length in seconds, to the millisecond (a daemon up for half a second was up).
    fn seconds(self) -> f64 {
        (self.to - self.from).num_milliseconds().max(0) as f64 / 1000.0
    }

    fn clip(self, within: Span) -> Option<Span> {
        let from = self.from.max(within.from);
        let to = self.to.min(within.to);
        (from < to).then_some(Span { from, to })
    }

    fn contains(self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

/// A window in which brain's daemon was down.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Downtime {
    from: String,
    to: String,
    minutes: f64,
    /// `stopped` (a clean stop), `crashed` (started again without a stop, down from its last
    /// heartbeat), `no_heartbeat` (no heartbeat for longer than the gap, and no start since).
    cause: &'static str,
}

/// Compute the scorecard.
pub fn compute(
    objectives: &[Objective],
    period: &Period,
    now: DateTime<Utc>,
    evidence: &Evidence,
    settings: &Settings,
) -> Scorecard {
    let mut timed: Vec<Timed<'_>> = evidence
        .events
        .iter()
        .filter_map(|event| parse_time(&event.at).map(|at| Timed { at, event }))
        .collect();
    // The chain's order is the order things happened in: appends are serialized, while the
    // clocks of several processes writing to one store may disagree.
    timed.sort_by_key(|item| item.event.seq);
    let observed = Span {
        from: period.start,
        to: period.end.min(now),
    };
    let uptime = uptime(evidence, observed, settings);
    let freshness = snapshot_freshness(&timed, evidence, observed, settings);
    let reviews = reviews(&timed, evidence, observed);
    let completeness = audit_completeness(&timed, evidence, observed, now, settings);
    let connectors = connectors(&timed, observed, &uptime);
    let swarms = swarms(&evidence.drafts, observed);
    let cloud_writes = cloud_writes_during_downtime(&timed, evidence, &uptime);

    let mut last_breach: BTreeMap<String, String> = BTreeMap::new();
    // The breaches and recoveries audited in the period, in the chain's order.
    let mut alerts = Vec::new();
    for item in &timed {
        if item.event.action != SLO_ACTION {
            continue;
        }
        let Some(id) = item.event.detail["slo"].as_str() else {
            continue;
        };
        let code = |wanted: &str| item.event.reason_codes.iter().any(|code| code == wanted);
        let (breach, recovered) = (code("SLO_BREACH"), code("SLO_RECOVERED"));
        if breach {
            last_breach.insert(id.to_string(), item.event.at.clone());
        }
        if (breach || recovered) && observed.contains(item.at) {
            alerts.push(json!({
                "slo": id,
                "event": if breach { "breach" } else { "recovered" },
                "at": item.event.at,
                "status": item.event.detail["status"],
                "value": item.event.detail["value"],
                "seq": item.event.seq,
            }));
        }
    }

    let slos = objectives
        .iter()
        .map(|objective| {
            let (value, note) = match objective.indicator {
                Indicator::SnapshotFreshness => freshness.value(),
                Indicator::ReviewMedian => reviews.value(objective.risk_tier, false),
                Indicator::ReviewP90 => reviews.value(objective.risk_tier, true),
                Indicator::AuditCompleteness => completeness.value(),
                Indicator::ConnectorAvailability => {
                    connectors.availability(objective.connector.as_deref())
                }
                Indicator::ConnectorMttr => connectors.mttr(objective.connector.as_deref()),
                Indicator::SwarmAcceptance => swarms.acceptance(objective.swarm.as_deref()),
                Indicator::BrainUptime => uptime.value(),
                Indicator::CloudWritesDuringDowntime => cloud_writes.value(&uptime),
            };
            SloResult {
                id: objective.id.clone(),
                title: objective.title.clone(),
                indicator: objective.indicator,
                target: objective.target,
                warning: objective.warning,
                critical: objective.critical,
                value: Value64(value),
                unit: objective.indicator.unit().to_string(),
                status: objective.status(value),
                last_breach_at: last_breach.get(&objective.id).cloned(),
                owner: objective.owner.clone(),
                on_call: objective.on_call.clone(),
                note,
            }
        })
        .collect();

    Scorecard {
        studio: String::new(),
        period: PeriodView {
            label: period.label.clone(),
            start: format_time(period.start),
            end: format_time(period.end),
        },
        computed_at: format_time(now),
        slos,
        details: json!({
            "snapshot_freshness": freshness.details(),
            "proposal_review": reviews.details(),
            "audit_completeness": completeness.details(),
            "connectors": connectors.details(),
            "swarms": swarms.details(),
            "alerts": alerts,
            "local_failure": {
                "uptime_percent": Value64(uptime.value().0),
                "downtime": uptime.downtime,
                "cloud_writes_during_downtime": cloud_writes.writes,
            },
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Local failure tolerance: when was the daemon up?

struct Uptime {
    /// The time the daemon's record covers in the period (from its first start).
    covered: Option<Span>,
    alive: Vec<Span>,
    down: Vec<Span>,
    downtime: Vec<Downtime>,
}

impl Uptime {
    fn value(&self) -> (Option<f64>, String) {
        let Some(covered) = self.covered else {
            return (
                None,
                "brain's daemon recorded no run in or before the period".into(),
            );
        };
        let alive: f64 = self.alive.iter().map(|span| span.seconds()).sum();
        let value = percent(alive, covered.seconds());
        let note = format!(
            "{} downtime window(s) since {}",
            self.downtime.len(),
            format_time(covered.from)
        );
        (value, note)
    }

    fn is_down(&self, at: DateTime<Utc>) -> bool {
        self.down.iter().any(|span| span.contains(at))
    }
}

fn uptime(evidence: &Evidence, observed: Span, settings: &Settings) -> Uptime {
    let gap = settings.heartbeat_gap.max(1);
    let none = Uptime {
        covered: None,
        alive: Vec::new(),
        down: Vec::new(),
        downtime: Vec::new(),
    };
    // (started, last seen, stopped) of each run.
    type Run = (DateTime<Utc>, DateTime<Utc>, Option<DateTime<Utc>>);
    let mut runs: Vec<Run> = evidence
        .runs
        .iter()
        .filter_map(|run| {
            let started = parse_time(&run.started_at)?;
            let seen = parse_time(&run.last_seen).unwrap_or(started).max(started);
            let stopped = run
                .stopped_at
                .as_deref()
                .and_then(parse_time)
                .map(|stopped| stopped.max(started));
            Some((started, seen, stopped))
        })
        .filter(|(started, _, _)| *started < observed.to)
        .collect();
    runs.sort_by_key(|run| run.0);
    let Some(first) = runs.first() else {
        return none;
    };
    let Some(covered) = (Span {
        from: first.0,
        to: observed.to,
    })
    .clip(observed) else {
        return none;
    };
    let mut alive = Vec::new();
    let mut down: Vec<(Span, &'static str)> = Vec::new();
    for (index, (started, seen, stopped)) in runs.iter().enumerate() {
        let next_start = runs.get(index + 1).map(|run| run.0);
        let (end, cause) = match (stopped, next_start) {
            (Some(stopped), _) => (*stopped, "stopped"),
            // Started again without a stop: it crashed after its last heartbeat.
            (None, Some(_)) => (*seen, "crashed"),
            (None, None) if seconds_between(*seen, observed.to) > gap => (*seen, "no_heartbeat"),
            (None, None) => (observed.to, "running"),
        };
        // Two daemons sharing a store overlap: each counts until the next one started.
        let end = next_start.map_or(end, |next| end.min(next));
        alive.push(Span {
            from: *started,
            to: end,
        });
        let down_until = next_start.unwrap_or(observed.to);
        if down_until > end {
            down.push((
                Span {
                    from: end,
                    to: down_until,
                },
                cause,
            ));
        }
    }
    let alive: Vec<Span> = alive
        .into_iter()
        .filter_map(|span| span.clip(covered))
        .collect();
    let down: Vec<(Span, &'static str)> = down
        .into_iter()
        .filter_map(|(span, cause)| span.clip(covered).map(|span| (span, cause)))
        .collect();
    Uptime {
        covered: Some(covered),
        alive,
        downtime: down
            .iter()
            .map(|(span, cause)| Downtime {
                from: format_time(span.from),
                to: format_time(span.to),
                minutes: round2(span.seconds() / 60.0),
                cause,
            })
            .collect(),
        down: down.into_iter().map(|(span, _)| span).collect(),
    }
}

struct CloudWrites {
    writes: Vec<Value>,
}

impl CloudWrites {
    fn value(&self, uptime: &Uptime) -> (Option<f64>, String) {
        if uptime.covered.is_none() {
            return (
                None,
                "no daemon record to tell when brain was down".to_string(),
            );
        }
        (
            Some(self.writes.len() as f64),
            format!("{} downtime window(s) checked", uptime.downtime.len()),
        )
    }
}

fn cloud_writes_during_downtime(
    timed: &[Timed<'_>],
    evidence: &Evidence,
    uptime: &Uptime,
) -> CloudWrites {
    let writes = timed
        .iter()
        .filter(|item| {
            matches!(
                item.event.action.as_str(),
                "execute" | "execution" | "rollback_result"
            ) && item.event.decision != "deny"
                && item
                    .event
                    .capability
                    .as_ref()
                    .and_then(|capability| evidence.capabilities.get(capability))
                    .is_some_and(|facts| facts.external_write)
                && uptime.is_down(item.at)
        })
        .map(|item| {
            json!({
                "seq": item.event.seq,
                "at": item.event.at,
                "action": item.event.action,
                "capability": item.event.capability,
                "proposal": item.event.proposal_id,
            })
        })
        .collect();
    CloudWrites { writes }
}

// ---------------------------------------------------------------------------------------------
// Snapshot freshness.

struct Freshness {
    every: i64,
    windows: i64,
    covered: i64,
    missed: Vec<String>,
    complete: i64,
    partial: i64,
}

impl Freshness {
    fn value(&self) -> (Option<f64>, String) {
        if self.windows == 0 {
            return (
                None,
                "no snapshot was recorded in or shortly before the period, or no whole window of the snapshot schedule has passed".into(),
            );
        }
        (
            percent(self.covered as f64, self.windows as f64),
            format!(
                "{} of {} windows of {} had a complete snapshot",
                self.covered,
                self.windows,
                crate::clock::human_duration(self.every)
            ),
        )
    }

    fn details(&self) -> Value {
        json!({
            "window_seconds": self.every,
            "windows": self.windows,
            "covered": self.covered,
            "complete_snapshots": self.complete,
            "partial_snapshots": self.partial,
            "missed_windows": self.missed,
        })
    }
}

fn snapshot_freshness(
    timed: &[Timed<'_>],
    evidence: &Evidence,
    observed: Span,
    settings: &Settings,
) -> Freshness {
    let every = settings.snapshot_every.max(1);
    let jitter = chrono::Duration::seconds(settings.snapshot_jitter.max(0));
    let start = evidence
        .first_event_at
        .map_or(observed.from, |first| first.max(observed.from));
    let snapshots: Vec<(DateTime<Utc>, bool)> = timed
        .iter()
        .filter(|item| item.event.action == "snapshot")
        .map(|item| (item.at, item.event.decision == "succeeded"))
        .collect();
    let complete: Vec<DateTime<Utc>> = snapshots
        .iter()
        .filter(|(_, complete)| *complete)
        .map(|(at, _)| *at)
        .collect();
    let in_period = |at: &DateTime<Utc>| observed.contains(*at);
    // A studio whose snapshots never ran (no cloud source, no daemon) has nothing to measure;
    // one whose snapshots stopped still has the ones before, in the look-back.
    let windows = if observed.to > start && !snapshots.is_empty() {
        seconds_between(start, observed.to) / every
    } else {
        0
    };
    let mut covered = 0;
    let mut missed = Vec::new();
    for index in 0..windows {
        let from = start + chrono::Duration::seconds(index * every);
        let to = from + chrono::Duration::seconds(every);
        // A snapshot up to the jitter early still counts for its window; each snapshot
        // covers the window it falls in, so one snapshot never covers two.
        let hit = complete.iter().any(|at| *at >= from - jitter && *at < to);
        if hit {
            covered += 1;
        } else if missed.len() < 50 {
            missed.push(format_time(from));
        }
    }
    Freshness {
        every,
        windows,
        covered,
        missed,
        complete: snapshots
            .iter()
            .filter(|(at, complete)| *complete && in_period(at))
            .count() as i64,
        partial: snapshots
            .iter()
            .filter(|(at, complete)| !*complete && in_period(at))
            .count() as i64,
    }
}

// ---------------------------------------------------------------------------------------------
// Proposal review latency.

struct Reviews {
    /// Completed reviews in the period: (tier, hours).
    done: Vec<(Option<RiskTier>, f64)>,
    /// Still waiting at the period's end: (proposal, capability, tier, hours waiting).
    open: Vec<(String, String, Option<RiskTier>, f64)>,
    clock_skew: Vec<String>,
}

fn tier_name(tier: Option<RiskTier>) -> &'static str {
    tier.map_or("unknown", RiskTier::as_str)
}

impl Reviews {
    fn hours(&self, tier: Option<RiskTier>) -> Vec<f64> {
        let mut hours: Vec<f64> = self
            .done
            .iter()
            .filter(|(of, _)| tier.is_none() || *of == tier)
            .map(|(_, hours)| *hours)
            .collect();
        hours.sort_by(f64::total_cmp);
        hours
    }

    fn value(&self, tier: Option<RiskTier>, p90: bool) -> (Option<f64>, String) {
        let hours = self.hours(tier);
        let which = tier.map_or_else(
            || "any tier".to_string(),
            |tier| format!("{} tier", tier.as_str()),
        );
        if hours.is_empty() {
            return (
                None,
                format!("no proposal of {which} was approved or rejected in the period"),
            );
        }
        let value = if p90 {
            percentile(&hours, 0.9)
        } else {
            median(&hours)
        };
        // Four decimals: a review of seconds is not a review of zero hours.
        (
            value.map(|hours| (hours * 10_000.0).round() / 10_000.0),
            format!("{} review(s) of {which}", hours.len()),
        )
    }

    fn details(&self) -> Value {
        let mut tiers = serde_json::Map::new();
        let present: BTreeSet<Option<RiskTier>> = self.done.iter().map(|(tier, _)| *tier).collect();
        for tier in present {
            let hours = self.hours(tier);
            // `hours(None)` is every tier; an unknown tier is listed with its own rows only.
            let hours = if tier.is_none() {
                let mut only: Vec<f64> = self
                    .done
                    .iter()
                    .filter(|(of, _)| of.is_none())
                    .map(|(_, hours)| *hours)
                    .collect();
                only.sort_by(f64::total_cmp);
                only
            } else {
                hours
            };
            tiers.insert(
                tier_name(tier).into(),
                json!({
                    "reviews": hours.len(),
                    "median_hours": Value64(median(&hours).map(round2)),
                    "p90_hours": Value64(percentile(&hours, 0.9).map(round2)),
                }),
            );
        }
        let mut open = self.open.clone();
        open.sort_by(|a, b| b.3.total_cmp(&a.3));
        json!({
            "tiers": tiers,
            "waiting": open.iter().take(20).map(|(proposal, capability, tier, hours)| json!({
                "proposal": proposal,
                "capability": capability,
                "risk_tier": tier_name(*tier),
                "waiting_hours": round2(*hours),
            })).collect::<Vec<_>>(),
            "waiting_total": open.len(),
            "clock_skew": self.clock_skew,
        })
    }
}

/// Whether a `propose` allow event put its proposal in `pending_approval` (a proposal made
/// as a draft waits for its submit).
fn enters_review(event: &AuditEvent) -> bool {
    event.action == "propose"
        && event.decision == "allow"
        && (event.detail["operation"] == "submit" || event.detail["draft"] != Value::Bool(true))
}

fn reviews(timed: &[Timed<'_>], evidence: &Evidence, observed: Span) -> Reviews {
    let mut waiting: BTreeMap<&str, (DateTime<Utc>, &str)> = BTreeMap::new();
    let mut done = Vec::new();
    let mut clock_skew = Vec::new();
    let tier_of = |capability: &str| {
        evidence
            .capabilities
            .get(capability)
            .and_then(|facts| facts.risk_tier)
    };
    for item in timed {
        let event = item.event;
        let (Some(proposal), Some(capability)) = (&event.proposal_id, &event.capability) else {
            continue;
        };
        let needs_review = evidence
            .capabilities
            .get(capability)
            .is_none_or(|facts| facts.approvals_required > 0);
        if !needs_review {
            continue;
        }
        if enters_review(event) {
            waiting.insert(proposal.as_str(), (item.at, capability.as_str()));
            continue;
        }
        let decided = event.decision == "allow"
            && match event.action.as_str() {
                "reject" => true,
                "approve" => {
                    event.detail["approvals"].as_u64().unwrap_or(0)
                        >= event.detail["required"].as_u64().unwrap_or(1)
                }
                _ => false,
            };
        let closed = decided
            || (matches!(event.action.as_str(), "cancel" | "expire") && event.decision != "deny");
        if !closed {
            continue;
        }
        let Some((since, _)) = waiting.remove(proposal.as_str()) else {
            continue;
        };
        if decided && observed.contains(item.at) {
            let seconds = seconds_between(since, item.at);
            if seconds < 0 {
                clock_skew.push(proposal.clone());
            }
            done.push((tier_of(capability), seconds.max(0) as f64 / 3600.0));
        }
    }
    let open = waiting
        .into_iter()
        .filter(|(_, (since, _))| *since < observed.to)
        .map(|(proposal, (since, capability))| {
            (
                proposal.to_string(),
                capability.to_string(),
                tier_of(capability),
                seconds_between(since, observed.to).max(0) as f64 / 3600.0,
            )
        })
        .collect();
    Reviews {
        done,
        open,
        clock_skew,
    }
}

// ---------------------------------------------------------------------------------------------
// Audit completeness of external writes.

struct Completeness {
    attempts: i64,
    linked: i64,
    in_flight: Vec<String>,
    gaps: Vec<Value>,
}

impl Completeness {
    fn value(&self) -> (Option<f64>, String) {
        if self.attempts == 0 {
            return (None, "no external write was attempted in the period".into());
        }
        let names: Vec<&str> = self
            .gaps
            .iter()
            .filter_map(|gap| gap["proposal"].as_str())
            .collect();
        let note = if names.is_empty() {
            format!(
                "{} of {} external write attempts fully linked",
                self.linked, self.attempts
            )
        } else {
            format!(
                "{} of {} linked; gaps: {}",
                self.linked,
                self.attempts,
                names.join(", ")
            )
        };
        (percent(self.linked as f64, self.attempts as f64), note)
    }

    fn details(&self) -> Value {
        json!({
            "attempts": self.attempts,
            "linked": self.linked,
            "in_flight": self.in_flight,
            "gaps": self.gaps,
        })
    }
}

fn audit_completeness(
    timed: &[Timed<'_>],
    evidence: &Evidence,
    observed: Span,
    now: DateTime<Utc>,
    settings: &Settings,
) -> Completeness {
    let mut outcomes: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
    for item in timed {
        if item.event.action == "execution"
            && let Some(proposal) = &item.event.proposal_id
        {
            outcomes.entry(proposal.as_str()).or_default().push(item.at);
        }
    }
    let mut result = Completeness {
        attempts: 0,
        linked: 0,
        in_flight: Vec::new(),
        gaps: Vec::new(),
    };
    for item in timed {
        let event = item.event;
        if event.action != "execute" || event.decision != "allow" || !observed.contains(item.at) {
            continue;
        }
        let facts = event
            .capability
            .as_ref()
            .and_then(|capability| evidence.capabilities.get(capability));
        // An attempt on a capability the policy set no longer knows is still an attempt: its
        // capability cannot be linked.
        if facts.is_some_and(|facts| !facts.external_write) {
            continue;
        }
        let mut missing = Vec::new();
        if facts.is_none() {
            missing.push("capability");
        }
        let approvals = event.detail["approvals"]
            .as_array()
            .is_some_and(|approvals| !approvals.is_empty());
        let exempted = event.detail["exemption_in_force"] == Value::Bool(true);
        let none_needed = facts.is_some_and(|facts| facts.approvals_required == 0);
        if !(approvals || exempted || none_needed) {
            missing.push("approval");
        }
        let proposal = event.proposal_id.clone().unwrap_or_default();
        if proposal.is_empty() {
            missing.push("proposal");
        }
        // Clock skew: an outcome recorded by another process may carry an earlier time; any
        // outcome of the proposal links it.
        let has_outcome = outcomes.contains_key(proposal.as_str());
        if !has_outcome {
            if seconds_between(item.at, now) < settings.in_flight_grace && missing.is_empty() {
                result.in_flight.push(proposal);
                continue;
            }
            missing.push("outcome");
        }
        result.attempts += 1;
        if missing.is_empty() {
            result.linked += 1;
        } else {
            result.gaps.push(json!({
                "proposal": proposal,
                "capability": event.capability,
                "seq": event.seq,
                "at": event.at,
                "missing": missing,
            }));
        }
    }
    result
}

// ---------------------------------------------------------------------------------------------
// Connector health.

#[derive(Default)]
struct ConnectorHealth {
    healthy: f64,
    degraded: f64,
    down: f64,
    incidents: i64,
    /// Minutes from down to healthy, per resolved incident.
    recoveries: Vec<f64>,
    open_since: Option<String>,
}

struct Connectors {
    by_id: BTreeMap<String, ConnectorHealth>,
}

impl Connectors {
    fn availability_of(health: &ConnectorHealth) -> Option<f64> {
        let observed = health.healthy + health.degraded + health.down;
        percent(health.healthy + health.degraded, observed)
    }

    fn availability(&self, connector: Option<&str>) -> (Option<f64>, String) {
        let candidates: Vec<(&String, f64)> = self
            .by_id
            .iter()
            .filter(|(id, _)| connector.is_none_or(|wanted| wanted == id.as_str()))
            .filter_map(|(id, health)| Self::availability_of(health).map(|value| (id, value)))
            .collect();
        let worst = candidates
            .iter()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .copied();
        match worst {
            None => (
                None,
                match connector {
                    Some(id) => format!("no health of connector `{id}` was recorded in the period"),
                    None => "no connector health was recorded in the period".into(),
                },
            ),
            Some((id, value)) => (
                Some(value),
                if connector.is_some() {
                    format!("{} observed while brain was up", id)
                } else {
                    format!("worst of {} connector(s): {id}", candidates.len())
                },
            ),
        }
    }

    fn mttr(&self, connector: Option<&str>) -> (Option<f64>, String) {
        let recoveries: Vec<f64> = self
            .by_id
            .iter()
            .filter(|(id, _)| connector.is_none_or(|wanted| wanted == id.as_str()))
            .flat_map(|(_, health)| health.recoveries.iter().copied())
            .collect();
        if recoveries.is_empty() {
            return (
                None,
                "no connector went down and recovered in the period".into(),
            );
        }
        let mean = recoveries.iter().sum::<f64>() / recoveries.len() as f64;
        (
            Some(round2(mean)),
            format!("{} recovered incident(s)", recoveries.len()),
        )
    }

    fn details(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (id, health) in &self.by_id {
            let mut recoveries = health.recoveries.clone();
            recoveries.sort_by(f64::total_cmp);
            out.insert(
                id.clone(),
                json!({
                    "availability_percent": Value64(Self::availability_of(health)),
                    "healthy_seconds": round2(health.healthy),
                    "degraded_seconds": round2(health.degraded),
                    "down_seconds": round2(health.down),
                    "incidents": health.incidents,
                    "resolved": recoveries.len(),
                    "mttr_minutes": Value64((!recoveries.is_empty()).then(|| {
                        round2(recoveries.iter().sum::<f64>() / recoveries.len() as f64)
                    })),
                    "down_since": health.open_since,
                }),
            );
        }
        Value::Object(out)
    }
}

fn connectors(timed: &[Timed<'_>], observed: Span, uptime: &Uptime) -> Connectors {
    let mut by_id: BTreeMap<String, ConnectorHealth> = BTreeMap::new();
    // (since, health) of each connector's current state.
    let mut current: BTreeMap<String, (DateTime<Utc>, String)> = BTreeMap::new();
    let mut down_since: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    let alive = &uptime.alive;
    let credit = |health: &mut ConnectorHealth, state: &str, span: Span| {
        // Only time brain was up and watching counts; before the daemon's first start there
        // is no uptime record, so the span counts as observed.
        let seconds: f64 = if uptime.covered.is_some() {
            alive
                .iter()
                .filter_map(|up| span.clip(*up))
                .map(Span::seconds)
                .sum()
        } else {
            span.clip(observed).map_or(0.0, Span::seconds)
        };
        match state {
            "healthy" => health.healthy += seconds,
            "degraded" => health.degraded += seconds,
            "down" => health.down += seconds,
            _ => {}
        }
    };
    for item in timed {
        let event = item.event;
        if event.action != CONNECTOR_HEALTH_ACTION {
            continue;
        }
        let Some(id) = event.actor.strip_prefix("system:connector:") else {
            continue;
        };
        let health = by_id.entry(id.to_string()).or_default();
        if let Some((since, state)) = current.remove(id) {
            credit(
                health,
                &state,
                Span {
                    from: since,
                    to: item.at,
                },
            );
        }
        let state = event.decision.as_str();
        if state == "down" {
            if !down_since.contains_key(id) {
                down_since.insert(id.to_string(), item.at);
                if observed.contains(item.at) {
                    health.incidents += 1;
                }
            }
        } else if state == "healthy"
            && let Some(since) = down_since.remove(id)
            && observed.contains(since)
        {
            health
                .recoveries
                .push(round2(seconds_between(since, item.at).max(0) as f64 / 60.0));
        }
        current.insert(id.to_string(), (item.at, state.to_string()));
    }
    for (id, (since, state)) in current {
        let health = by_id.entry(id).or_default();
        if since < observed.to {
            credit(
                health,
                &state,
                Span {
                    from: since,
                    to: observed.to,
                },
            );
        }
    }
    for (id, since) in down_since {
        by_id.entry(id).or_default().open_since = Some(format_time(since));
    }
    // A connector seen only before the period has nothing to say about it.
    by_id.retain(|_, health| {
        health.healthy + health.degraded + health.down > 0.0
            || health.incidents > 0
            || health.open_since.is_some()
    });
    Connectors { by_id }
}

// ---------------------------------------------------------------------------------------------
// Swarm signal.

#[derive(Default)]
struct Tally {
    drafts: i64,
    accepted: i64,
    rejected: i64,
    /// Hours from draft to its disposition, per decided draft.
    disposition_hours: Vec<f64>,
}

impl Tally {
    fn acceptance(&self) -> Option<f64> {
        percent(self.accepted as f64, (self.accepted + self.rejected) as f64)
    }

    fn json(&self) -> Value {
        let mut hours = self.disposition_hours.clone();
        hours.sort_by(f64::total_cmp);
        json!({
            "drafts": self.drafts,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "pending": self.drafts - self.accepted - self.rejected,
            "acceptance_percent": Value64(self.acceptance()),
            "median_disposition_hours": Value64(median(&hours).map(round2)),
        })
    }
}

struct Swarms {
    by_swarm: BTreeMap<String, (Tally, BTreeMap<String, Tally>)>,
}

impl Swarms {
    fn acceptance(&self, swarm: Option<&str>) -> (Option<f64>, String) {
        let mut total = Tally::default();
        for (name, (tally, _)) in &self.by_swarm {
            if swarm.is_none_or(|wanted| wanted == name) {
                total.drafts += tally.drafts;
                total.accepted += tally.accepted;
                total.rejected += tally.rejected;
            }
        }
        match total.acceptance() {
            None => (
                None,
                format!(
                    "no draft {}was approved or rejected in the period",
                    swarm.map_or(String::new(), |name| format!("of swarm `{name}` "))
                ),
            ),
            Some(value) => (
                Some(value),
                format!(
                    "{} accepted, {} rejected of {} draft(s)",
                    total.accepted, total.rejected, total.drafts
                ),
            ),
        }
    }

    fn details(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (name, (tally, rules)) in &self.by_swarm {
            let mut entry = tally.json();
            entry["rules"] = Value::Object(
                rules
                    .iter()
                    .map(|(rule, tally)| (rule.clone(), tally.json()))
                    .collect(),
            );
            out.insert(name.clone(), entry);
        }
        Value::Object(out)
    }
}

fn swarms(drafts: &[SwarmDraft], observed: Span) -> Swarms {
    let mut by_swarm: BTreeMap<String, (Tally, BTreeMap<String, Tally>)> = BTreeMap::new();
    for draft in drafts {
        let Some(created) = parse_time(&draft.finding.created_at) else {
            continue;
        };
        if !observed.contains(created) {
            continue;
        }
        let accepted = draft.approved;
        let rejected = !accepted && draft.state == ProposalState::Rejected;
        let hours = (accepted || rejected)
            .then(|| parse_time(&draft.updated_at))
            .flatten()
            .map(|updated| seconds_between(created, updated).max(0) as f64 / 3600.0);
        let (swarm, rules) = by_swarm.entry(draft.finding.swarm.clone()).or_default();
        let rule = rules.entry(draft.finding.rule.clone()).or_default();
        for tally in [swarm, rule] {
            tally.drafts += 1;
            tally.accepted += i64::from(accepted);
            tally.rejected += i64::from(rejected);
            tally.disposition_hours.extend(hours);
        }
    }
    Swarms { by_swarm }
}

#[cfg(test)]
mod tests;
