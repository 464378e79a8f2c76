//! The ops anomaly detector (`ops`): record-level rules over batches, firings, reservations,
//! queues, devices and the snapshot itself. Each rule is data ([`RuleInfo`], thresholds in
//! [`OpsRules`] with defaults) plus a pure function; its findings become
//! `ops.recommendation.draft` proposals.
//!
//! Findings on closed, cancelled or completed records are defects: every record rule first
//! asks the state model for the record's class and looks only at open and in-progress records
//! (a value the model does not know is not flagged either: it is shown on the StudioState page
//! instead).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    Collector, Evidence, Finding, RuleInfo, RunContext, Seen, Severity, Swarm, SwarmInfo,
    chrono_of, median, spoken,
};
use crate::config::Duration;
use crate::snapshot::model::{self, Class};

pub static STALLED_BATCH: RuleInfo = RuleInfo {
    id: "stalled_batch",
    version: 1,
    title: "Stalled batch",
    summary: "a batch not closed whose state has not changed for longer than that state's limit",
};
pub static OVERDUE_FIRING: RuleInfo = RuleInfo {
    id: "overdue_firing",
    version: 1,
    title: "Overdue firing",
    summary: "a firing still scheduled well after its start, or still loading, firing or cooling well after its end",
};
pub static OVERDUE_RESERVATION: RuleInfo = RuleInfo {
    id: "overdue_reservation",
    version: 1,
    title: "Overdue reservation",
    summary: "an open reservation whose requested window has ended",
};
pub static QUEUE_SPIKE: RuleInfo = RuleInfo {
    id: "queue_spike",
    version: 1,
    title: "Queue spike",
    summary: "a queue whose open count is at least the factor times its median over recent snapshots and above a minimum",
};
pub static AGING_QUEUE: RuleInfo = RuleInfo {
    id: "aging_queue",
    version: 1,
    title: "Aging queue",
    summary: "a queue whose oldest open item is older than its limit",
};
pub static DEVICE_ALERT: RuleInfo = RuleInfo {
    id: "device_alert",
    version: 1,
    title: "Device alert",
    summary: "a room over its temperature limit, a wet leak sensor, a vacuum in error, a connector stale past its limit",
};
pub static STATE_QUALITY: RuleInfo = RuleInfo {
    id: "state_quality",
    version: 1,
    title: "StudioState quality",
    summary: "the snapshot the run starts from is missing, partial, stale, or drifts from the cloud's own counts",
};

pub static INFO: SwarmInfo = SwarmInfo {
    name: "ops",
    title: "Ops anomaly detector",
    draft_capability: "ops.recommendation.draft",
    default_agent: "agent:ops-swarm",
    rules: &[
        &STALLED_BATCH,
        &OVERDUE_FIRING,
        &OVERDUE_RESERVATION,
        &QUEUE_SPIKE,
        &AGING_QUEUE,
        &DEVICE_ALERT,
        &STATE_QUALITY,
    ],
};

fn days(count: u64) -> Duration {
    Duration::from_secs(count * 86_400)
}

fn hours(count: u64) -> Duration {
    Duration::from_secs(count * 3_600)
}

fn yes() -> bool {
    true
}

/// The ops rules' thresholds (`swarms.ops.rules` in brain.yaml); every key has a default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OpsRules {
    pub stalled_batch: StalledBatch,
    pub overdue_firing: OverdueFiring,
    pub overdue_reservation: OverdueReservation,
    pub queue_spike: QueueSpike,
    pub aging_queue: AgingQueue,
    pub device_alert: DeviceAlert,
    pub state_quality: StateQuality,
}

impl OpsRules {
    /// Each rule's id, whether it is on, and how long after a rejected draft it stays quiet.
    pub fn each(&self) -> [(&'static RuleInfo, bool, Duration); 7] {
        [
            (
                &STALLED_BATCH,
                self.stalled_batch.enabled,
                self.stalled_batch.cooldown,
            ),
            (
                &OVERDUE_FIRING,
                self.overdue_firing.enabled,
                self.overdue_firing.cooldown,
            ),
            (
                &OVERDUE_RESERVATION,
                self.overdue_reservation.enabled,
                self.overdue_reservation.cooldown,
            ),
            (
                &QUEUE_SPIKE,
                self.queue_spike.enabled,
                self.queue_spike.cooldown,
            ),
            (
                &AGING_QUEUE,
                self.aging_queue.enabled,
                self.aging_queue.cooldown,
            ),
            (
                &DEVICE_ALERT,
                self.device_alert.enabled,
                self.device_alert.cooldown,
            ),
            (
                &STATE_QUALITY,
                self.state_quality.enabled,
                self.state_quality.cooldown,
            ),
        ]
    }
}

/// `stalled_batch`: how long a batch may sit in each state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StalledBatch {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// After a rejected draft about a batch, stay quiet about it this long.
    pub cooldown: Duration,
    /// State (as the portal writes it) → the longest it may last.
    pub limits: BTreeMap<String, Duration>,
    /// The limit of every state not listed.
    pub default_limit: Duration,
}

impl Default for StalledBatch {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(3),
            limits: BTreeMap::from([
                ("SUBMITTED".to_string(), days(7)),
                ("SHELVED".to_string(), days(7)),
                ("LOADED".to_string(), days(5)),
                ("FIRED".to_string(), days(5)),
                ("READY_FOR_PICKUP".to_string(), days(14)),
            ]),
            default_limit: days(10),
        }
    }
}

/// `overdue_firing`: how long past its start or end a firing may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OverdueFiring {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
    /// A firing still scheduled this long after its `startAt`.
    pub start_grace: Duration,
    /// A firing still in progress this long after its `endAt`.
    pub end_grace: Duration,
}

impl Default for OverdueFiring {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(1),
            start_grace: hours(12),
            end_grace: hours(24),
        }
    }
}

/// `overdue_reservation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OverdueReservation {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
}

impl Default for OverdueReservation {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(2),
        }
    }
}

/// `queue_spike`: a queue this many times its recent median, and at least this long.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSpike {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
    pub factor: f64,
    pub minimum: u64,
    /// How many earlier snapshots the median is taken over.
    pub history: usize,
    /// The queues watched (collections).
    pub queues: Vec<String>,
}

impl Default for QueueSpike {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(1),
            factor: 2.0,
            minimum: 5,
            history: 14,
            queues: watched_queues(),
        }
    }
}

fn watched_queues() -> Vec<String> {
    [
        "reservations",
        "agentRequests",
        "communityReports",
        "materialsOrders",
    ]
    .iter()
    .map(|name| name.to_string())
    .collect()
}

/// `aging_queue`: how old a queue's oldest open item may be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AgingQueue {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
    /// Collection → the oldest an open item may be.
    pub limits: BTreeMap<String, Duration>,
}

impl Default for AgingQueue {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: days(1),
            limits: BTreeMap::from([
                ("reservations".to_string(), days(14)),
                ("agentRequests".to_string(), days(3)),
                ("communityReports".to_string(), days(7)),
                ("materialsOrders".to_string(), days(7)),
            ]),
        }
    }
}

/// `device_alert`: the devices' limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceAlert {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
    /// Room (as the hub names it) → the highest temperature allowed, in the device's unit.
    pub temperature_limits: BTreeMap<String, f64>,
    /// A connector whose newest reading is older than this is stale.
    pub stale_after: Duration,
}

impl Default for DeviceAlert {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: hours(6),
            temperature_limits: BTreeMap::new(),
            stale_after: Duration::from_secs(30 * 60),
        }
    }
}

/// `state_quality`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StateQuality {
    #[serde(default = "yes")]
    pub enabled: bool,
    pub cooldown: Duration,
    /// A snapshot older than this is stale for this rule.
    pub stale_after: Duration,
    /// Drift (brain's count against the cloud's) beyond this many records is flagged.
    pub drift_tolerance: u64,
}

impl Default for StateQuality {
    fn default() -> Self {
        Self {
            enabled: true,
            cooldown: hours(6),
            stale_after: hours(1),
            drift_tolerance: 0,
        }
    }
}

/// The oldest open item of a queue seen so far.
#[derive(Debug, Clone)]
struct Oldest {
    path: String,
    source: String,
    created: DateTime<Utc>,
    update_time: Option<String>,
    field: String,
    value: Value,
}

/// One run of the ops swarm.
pub struct Ops {
    rules: OpsRules,
    /// Open records per queue collection, counted as this run read them.
    open: BTreeMap<String, u64>,
    oldest: BTreeMap<String, Oldest>,
}

impl Ops {
    pub fn new(rules: OpsRules) -> Self {
        Self {
            rules,
            open: BTreeMap::new(),
            oldest: BTreeMap::new(),
        }
    }

    fn stalled_batch(
        &self,
        context: &RunContext<'_>,
        seen: &Seen<'_>,
        value: &str,
        out: &mut Collector,
    ) {
        let settings = &self.rules.stalled_batch;
        let rule = context.model.rule("batches");
        let updated_field = rule.and_then(|rule| {
            rule.updated
                .iter()
                .find(|path| model::field(&seen.record.fields, path).is_some())
        });
        let (since, certain) = match updated_field
            .and_then(|path| model::first_time(&seen.record.fields, std::slice::from_ref(path)))
        {
            Some(time) => (time, true),
            // Without `updatedAt`, the document's own update time: any field's change moves
            // it, so a batch may have sat longer than it shows.
            None => match seen.record.update_time {
                Some(time) => (time, false),
                None => return,
            },
        };
        let limit = settings
            .limits
            .iter()
            .find(|(state, _)| model::normalize(state) == model::normalize(value))
            .map_or(settings.default_limit, |(_, limit)| *limit);
        let limit = chrono_of(limit);
        let waited = context.now - since;
        if waited <= limit {
            return;
        }
        let title_of = seen
            .record
            .fields
            .get("title")
            .and_then(Value::as_str)
            .map_or_else(String::new, |title| format!(" ({title})"));
        let mut evidence = vec![seen.evidence("state")];
        if let Some(path) = updated_field {
            evidence.push(seen.evidence(path));
        }
        out.push(Finding {
            rule: STALLED_BATCH.reference(),
            subject: seen.path(),
            severity: if waited > limit * 2 {
                Severity::High
            } else {
                Severity::Medium
            },
            confidence: if certain { 0.9 } else { 0.6 },
            title: format!("Batch {}{title_of} stalled in {value}", seen.record.id),
            rationale: format!(
                "Batch {} has been {value} for {} (since {}); the limit for {value} is {}.{}",
                seen.record.id,
                spoken(waited),
                crate::clock::format_time(since),
                spoken(limit),
                if certain {
                    ""
                } else {
                    " The batch has no `updatedAt`; the document's own update time was used."
                }
            ),
            recommendation: format!(
                "Check where batch {} is and move it on (or close it) in the portal.",
                seen.record.id
            ),
            evidence,
            post: None,
            suggestion: None,
        });
    }

    fn overdue_firing(
        &self,
        context: &RunContext<'_>,
        seen: &Seen<'_>,
        value: &str,
        class: Class,
        out: &mut Collector,
    ) {
        let settings = &self.rules.overdue_firing;
        let Some(rule) = context.model.rule("kilnFirings") else {
            return;
        };
        let fields = &seen.record.fields;
        let kiln = fields
            .get("kilnName")
            .or_else(|| fields.get("kilnId"))
            .and_then(Value::as_str)
            .unwrap_or("a kiln");
        let scheduled =
            model::normalize(value) == "scheduled" || model::normalize(value) == "queued";
        let (field, at, grace, what) = if class == Class::Open && scheduled {
            let Some(at) = model::first_time(fields, &rule.starts) else {
                return;
            };
            (
                present(fields, &rule.starts),
                at,
                chrono_of(settings.start_grace),
                "start",
            )
        } else if class == Class::InProgress {
            let Some(at) = model::first_time(fields, &rule.ends) else {
                return;
            };
            (
                present(fields, &rule.ends),
                at,
                chrono_of(settings.end_grace),
                "end",
            )
        } else {
            return;
        };
        let late = context.now - at;
        if late <= grace {
            return;
        }
        let recommendation = if what == "start" {
            format!(
                "Confirm whether the firing on {kiln} ran; mark it in progress, completed or cancelled in the portal."
            )
        } else {
            format!(
                "Check {kiln}: the firing should have ended; unload it and mark it completed, or fix its end time."
            )
        };
        out.push(Finding {
            rule: OVERDUE_FIRING.reference(),
            subject: seen.path(),
            severity: if what == "end" {
                Severity::High
            } else {
                Severity::Medium
            },
            confidence: 0.85,
            title: format!("Firing {} on {kiln} is {value} past its {what}", seen.record.id),
            rationale: format!(
                "Firing {} is still {value}; its {what} ({}) passed {} ago, more than the {} allowed.",
                seen.record.id,
                crate::clock::format_time(at),
                spoken(late),
                spoken(grace)
            ),
            recommendation,
            evidence: vec![seen.evidence("status"), seen.evidence(&field)],
            post: None,
            suggestion: None,
        });
    }

    fn overdue_reservation(&self, context: &RunContext<'_>, seen: &Seen<'_>, out: &mut Collector) {
        let Some(rule) = context.model.rule("reservations") else {
            return;
        };
        let fields = &seen.record.fields;
        let Some(end) = model::first_time(fields, &rule.window_end) else {
            return;
        };
        if end >= context.now {
            return;
        }
        let value = model::first_text(fields, &rule.lifecycle).unwrap_or("?");
        out.push(Finding {
            rule: OVERDUE_RESERVATION.reference(),
            subject: seen.path(),
            severity: Severity::Low,
            confidence: 0.9,
            title: format!(
                "Reservation {} is {value} after its window ended",
                seen.record.id
            ),
            rationale: format!(
                "Reservation {} is still {value}, but its requested window ended {} ago ({}).",
                seen.record.id,
                spoken(context.now - end),
                crate::clock::format_time(end)
            ),
            recommendation:
                "Close it in the portal (completed, cancelled) or offer the member a new window."
                    .into(),
            evidence: vec![
                seen.evidence(rule.lifecycle.first().map_or("status", String::as_str)),
                seen.evidence(&present(fields, &rule.window_end)),
            ],
            post: None,
            suggestion: None,
        });
    }

    /// Count a queued record and keep the queue's oldest.
    fn track_queue(&mut self, context: &RunContext<'_>, seen: &Seen<'_>) {
        *self.open.entry(seen.collection.to_string()).or_default() += 1;
        let Some(rule) = context.model.rule(seen.collection) else {
            return;
        };
        let Some(created) = model::first_time(&seen.record.fields, &rule.created) else {
            return;
        };
        let older = self
            .oldest
            .get(seen.collection)
            .is_none_or(|oldest| created < oldest.created);
        if older {
            let field = present(&seen.record.fields, &rule.created);
            self.oldest.insert(
                seen.collection.to_string(),
                Oldest {
                    path: seen.path(),
                    source: seen.source.to_string(),
                    created,
                    update_time: seen.update_time(),
                    value: model::field(&seen.record.fields, &field)
                        .cloned()
                        .unwrap_or(Value::Null),
                    field,
                },
            );
        }
    }

    fn queue_spike(&self, context: &RunContext<'_>, out: &mut Collector) {
        let settings = &self.rules.queue_spike;
        let earlier: Vec<&crate::store::SnapshotRecord> =
            context.history.iter().take(settings.history).collect();
        let mut spikes = Vec::new();
        let mut evidence = Vec::new();
        for queue in &settings.queues {
            let now_open = self.open.get(queue).copied().unwrap_or(0);
            let mut counts: Vec<u64> = earlier
                .iter()
                .filter_map(|snapshot| {
                    snapshot.state["collections"][queue.as_str()]["queue"]["count"].as_u64()
                })
                .collect();
            // Too little history says nothing about what is normal.
            if counts.len() < 3 {
                continue;
            }
            let Some(typical) = median(&mut counts) else {
                continue;
            };
            if now_open >= settings.minimum && now_open as f64 >= settings.factor * typical {
                spikes.push(format!(
                    "{} has {now_open} open (median {typical} over the last {} snapshots)",
                    context.model.title(queue),
                    counts.len()
                ));
                evidence.push(Evidence {
                    source: "snapshot".into(),
                    path: format!("collections/{queue}"),
                    field: "queue.count".into(),
                    value: Value::from(now_open),
                    update_time: None,
                });
            }
        }
        if spikes.is_empty() {
            return;
        }
        let depth = earlier.len().min(settings.history);
        out.push(Finding {
            rule: QUEUE_SPIKE.reference(),
            subject: "studio".into(),
            severity: Severity::Medium,
            confidence: (0.5 + depth as f64 / 28.0).min(0.9),
            title: format!("Queue spike: {}", spikes.len()),
            rationale: format!(
                "{}; a spike is {}× the median and at least {}.",
                spikes.join("; "),
                settings.factor,
                settings.minimum
            ),
            recommendation: "Look for a cause (a class ending, a broken form, a payment outage) and add staff time to the queue.".into(),
            evidence,
            post: None,
            suggestion: None,
        });
    }

    fn aging_queue(&self, context: &RunContext<'_>, out: &mut Collector) {
        for (queue, limit) in &self.rules.aging_queue.limits {
            let Some(oldest) = self.oldest.get(queue) else {
                continue;
            };
            let limit = chrono_of(*limit);
            let age = context.now - oldest.created;
            if age <= limit {
                continue;
            }
            let title = context.model.title(queue);
            out.push(Finding {
                rule: AGING_QUEUE.reference(),
                subject: oldest.path.clone(),
                severity: if age > limit * 2 {
                    Severity::High
                } else {
                    Severity::Medium
                },
                confidence: 0.8,
                title: format!("{title}: the oldest open item is {} old", spoken(age)),
                rationale: format!(
                    "{} is the oldest open item of {title} ({} open), waiting {}; the limit is {}.",
                    oldest.path,
                    self.open.get(queue).copied().unwrap_or(0),
                    spoken(age),
                    spoken(limit)
                ),
                recommendation: format!(
                    "Work the {title} queue from the oldest item, starting with {}.",
                    oldest.path
                ),
                evidence: vec![Evidence {
                    source: oldest.source.clone(),
                    path: oldest.path.clone(),
                    field: oldest.field.clone(),
                    value: oldest.value.clone(),
                    update_time: oldest.update_time.clone(),
                }],
                post: None,
                suggestion: None,
            });
        }
    }

    fn device_alert(&self, context: &RunContext<'_>, out: &mut Collector) {
        let settings = &self.rules.device_alert;
        for (connector, readings) in context.devices {
            let observed = crate::clock::parse_time(&readings.observed_at);
            let stale_for = observed.map(|observed| context.now - observed);
            if stale_for.is_none_or(|age| age > chrono_of(settings.stale_after)) {
                out.push(Finding {
                    rule: DEVICE_ALERT.reference(),
                    subject: format!("connector:{connector}"),
                    severity: Severity::Medium,
                    confidence: 0.9,
                    title: format!("Connector {connector} has no fresh reading"),
                    rationale: format!(
                        "The newest reading of {connector} is from {} ({}); readings older than {} are stale.",
                        readings.observed_at,
                        stale_for.map_or_else(|| "unknown age".to_string(), |age| format!("{} ago", spoken(age))),
                        spoken(chrono_of(settings.stale_after))
                    ),
                    recommendation: format!(
                        "Check the {} device API and the network; `brain connectors health {connector}` reads it now.",
                        readings.kind
                    ),
                    evidence: vec![Evidence {
                        source: format!("connector:{connector}"),
                        path: format!("connector:{connector}"),
                        field: "observed_at".into(),
                        value: Value::from(readings.observed_at.clone()),
                        update_time: Some(readings.observed_at.clone()),
                    }],
                    post: None,
                    suggestion: None,
                });
                continue;
            }
            for (id, device) in &readings.devices {
                let evidence = |field: &str| Evidence {
                    source: format!("connector:{connector}"),
                    path: format!("connector:{connector}/{id}"),
                    field: field.to_string(),
                    value: device.values.get(field).cloned().unwrap_or(Value::Null),
                    update_time: Some(readings.observed_at.clone()),
                };
                let mut alert = |severity: Severity,
                                 title: String,
                                 rationale: String,
                                 recommendation: String,
                                 field: &str| {
                    out.push(Finding {
                        rule: DEVICE_ALERT.reference(),
                        subject: format!("connector:{connector}/{id}"),
                        severity,
                        confidence: 0.9,
                        title,
                        rationale,
                        recommendation,
                        evidence: vec![evidence(field)],
                        post: None,
                        suggestion: None,
                    });
                };
                if let (Some(room), Some(temperature)) = (
                    device.room.as_deref(),
                    number(device.values.get("temperature")),
                ) && let Some(limit) = settings.temperature_limits.get(room)
                    && temperature > *limit
                {
                    alert(
                        Severity::High,
                        format!("{room} is at {temperature} (limit {limit})"),
                        format!(
                            "{} in {room} reads {temperature} at {}, above the room's limit of {limit}.",
                            device.label, readings.observed_at
                        ),
                        format!("Check ventilation and any kiln firing in {room}."),
                        "temperature",
                    );
                }
                if device
                    .values
                    .get("water")
                    .and_then(Value::as_str)
                    .is_some_and(|water| water.eq_ignore_ascii_case("wet"))
                {
                    alert(
                        Severity::High,
                        format!("{} is wet", device.label),
                        format!(
                            "Leak sensor {} reports water at {}.",
                            device.label, readings.observed_at
                        ),
                        "Find and stop the leak; move clay and materials off the floor.".into(),
                        "water",
                    );
                }
                if let Some(error) = vacuum_error(&device.values) {
                    alert(
                        Severity::Medium,
                        format!("{} is in error: {error}", device.label),
                        format!(
                            "Vacuum {} reports an error ({error}) at {}.",
                            device.label, readings.observed_at
                        ),
                        "Clear the fault on the vacuum (brush, bin, wheels) and restart it from its app.".into(),
                        if device.values.contains_key("error") { "error" } else { "state" },
                    );
                }
            }
        }
    }

    fn state_quality(&self, context: &RunContext<'_>, out: &mut Collector) {
        let settings = &self.rules.state_quality;
        let Some(latest) = context.latest() else {
            out.push(Finding {
                rule: STATE_QUALITY.reference(),
                subject: "studio".into(),
                severity: Severity::High,
                confidence: 1.0,
                title: "No StudioState snapshot yet".into(),
                rationale: "There is no snapshot, so every capability that needs fresh state is denied (SNAPSHOT_STALE).".into(),
                recommendation: "Configure a cloud source and run `brain snapshot run`; `brain serve` snapshots on its schedule.".into(),
                evidence: Vec::new(),
                post: None,
                suggestion: None,
            });
            return;
        };
        let mut problems = Vec::new();
        let mut evidence = Vec::new();
        let snapshot_evidence = |field: &str, value: Value| Evidence {
            source: "snapshot".into(),
            path: format!("snapshots/{}", latest.id),
            field: field.to_string(),
            value,
            update_time: Some(latest.computed_at.clone()),
        };
        let provenance: crate::snapshot::Provenance =
            serde_json::from_value(latest.provenance.clone()).unwrap_or_default();
        if !latest.complete {
            let failed: Vec<String> = provenance
                .sources
                .iter()
                .flat_map(|source| source.failed.iter().cloned())
                .collect();
            problems.push(format!(
                "it is partial: {} could not be read",
                failed.join(", ")
            ));
            evidence.push(snapshot_evidence("complete", Value::Bool(false)));
        }
        if let Some(computed) = crate::clock::parse_time(&latest.computed_at) {
            let age = context.now - computed;
            if age > chrono_of(settings.stale_after) {
                problems.push(format!(
                    "it is {} old (stale after {})",
                    spoken(age),
                    spoken(chrono_of(settings.stale_after))
                ));
                evidence.push(snapshot_evidence(
                    "computed_at",
                    Value::from(latest.computed_at.clone()),
                ));
            }
        }
        let drift: Vec<crate::snapshot::Drift> =
            serde_json::from_value(latest.drift.clone()).unwrap_or_default();
        let drifting: Vec<String> = drift
            .iter()
            .filter(|item| item.difference > settings.drift_tolerance)
            .map(|item| {
                format!(
                    "{} (brain read {}, the cloud counts {})",
                    item.collection, item.local, item.cloud
                )
            })
            .collect();
        if !drifting.is_empty() {
            problems.push(format!(
                "its counts drift from the cloud's: {}",
                drifting.join(", ")
            ));
            evidence.push(snapshot_evidence("drift", latest.drift.clone()));
        }
        if problems.is_empty() {
            return;
        }
        out.push(Finding {
            rule: STATE_QUALITY.reference(),
            subject: "studio".into(),
            severity: if latest.complete && drifting.len() == problems.len() {
                Severity::Medium
            } else {
                Severity::High
            },
            confidence: 0.95,
            title: format!("StudioState {} cannot be trusted as it is", latest.id),
            rationale: format!("Snapshot {}: {}.", latest.id, problems.join("; ")),
            recommendation: "Fix the failing source (credentials, kill switches, the network) and run `brain snapshot run`; decisions that need fresh state deny until then.".into(),
            evidence,
            post: None,
            suggestion: None,
        });
    }
}

/// The first of `paths` the record holds (for evidence), else the first path.
fn present(fields: &Value, paths: &[String]) -> String {
    paths
        .iter()
        .find(|path| model::field(fields, path).is_some())
        .or_else(|| paths.first())
        .cloned()
        .unwrap_or_default()
}

/// A number written as a number or as text (`"81.7"`, as Hubitat sends them).
fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A vacuum's error, from its `state` (`error`) or its `error` attribute (anything but none).
fn vacuum_error(values: &BTreeMap<String, Value>) -> Option<String> {
    let error = values
        .get("error")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|error| {
            !error.is_empty()
                && !matches!(
                    error.to_ascii_lowercase().as_str(),
                    "none" | "no_error" | "ok" | "0" | "unknown" | "unavailable"
                )
        });
    if let Some(error) = error {
        return Some(error.to_string());
    }
    values
        .get("state")
        .and_then(Value::as_str)
        .filter(|state| state.eq_ignore_ascii_case("error"))
        .map(|_| "error".to_string())
}

impl Swarm for Ops {
    fn info(&self) -> &'static SwarmInfo {
        &INFO
    }

    fn collections(&self) -> Vec<&'static str> {
        let mut all = Vec::new();
        if self.rules.stalled_batch.enabled {
            all.push("batches");
        }
        if self.rules.overdue_firing.enabled {
            all.push("kilnFirings");
        }
        if self.rules.overdue_reservation.enabled {
            all.push("reservations");
        }
        if self.rules.queue_spike.enabled || self.rules.aging_queue.enabled {
            for queue in self
                .rules
                .queue_spike
                .queues
                .iter()
                .chain(self.rules.aging_queue.limits.keys())
            {
                if let Some(known) = model::KNOWN_COLLECTIONS
                    .iter()
                    .find(|known| **known == queue.as_str())
                {
                    all.push(known);
                }
            }
        }
        all.sort_unstable();
        all.dedup();
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
        if found.class == Class::Closed {
            return;
        }
        let queued = context.model.in_queue(seen.collection, found.class);
        let watched = self
            .rules
            .queue_spike
            .queues
            .iter()
            .any(|queue| queue == seen.collection)
            || self.rules.aging_queue.limits.contains_key(seen.collection);
        if queued && watched {
            self.track_queue(context, seen);
        }
        match seen.collection {
            "batches" if self.rules.stalled_batch.enabled => {
                self.stalled_batch(context, seen, value, out);
            }
            "kilnFirings" if self.rules.overdue_firing.enabled => {
                self.overdue_firing(context, seen, value, found.class, out);
            }
            "reservations" if self.rules.overdue_reservation.enabled => {
                self.overdue_reservation(context, seen, out);
            }
            _ => {}
        }
    }

    fn finish(&mut self, context: &RunContext<'_>, out: &mut Collector) {
        if self.rules.queue_spike.enabled {
            self.queue_spike(context, out);
        }
        if self.rules.aging_queue.enabled {
            self.aging_queue(context, out);
        }
        if self.rules.device_alert.enabled {
            self.device_alert(context, out);
        }
        if self.rules.state_quality.enabled {
            self.state_quality(context, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::snapshot::{ConnectorDevices, DeviceState, Model, Record};
    use crate::store::SnapshotRecord;

    fn now() -> DateTime<Utc> {
        crate::clock::parse_time("2026-12-03T12:00:00.000000Z").unwrap()
    }

    fn ago(hours: i64) -> String {
        crate::clock::format_time(now() - chrono::Duration::hours(hours))
    }

    struct Run {
        model: Model,
        history: Vec<SnapshotRecord>,
        devices: BTreeMap<String, ConnectorDevices>,
    }

    impl Run {
        fn new() -> Self {
            Self {
                model: Model::built_in(),
                history: Vec::new(),
                devices: BTreeMap::new(),
            }
        }

        /// Run the ops rules over `records` and return the findings' (rule, subject).
        fn findings(
            &self,
            rules: OpsRules,
            records: &[(&str, &str, serde_json::Value)],
        ) -> Vec<Finding> {
            let context = RunContext {
                now: now(),
                model: &self.model,
                history: &self.history,
                devices: &self.devices,
                intake: &crate::intake::Classifier::built_in(),
            };
            let mut ops = Ops::new(rules);
            let mut out = Collector::new(100);
            for (collection, id, fields) in records {
                let record = Record {
                    id: id.to_string(),
                    fields: fields.clone(),
                    update_time: None,
                };
                ops.observe(
                    &context,
                    &Seen {
                        source: "fixtures",
                        collection,
                        record: &record,
                    },
                    &mut out,
                );
            }
            ops.finish(&context, &mut out);
            out.into_findings()
        }
    }

    fn only(rule: &str) -> OpsRules {
        let mut rules = OpsRules::default();
        rules.stalled_batch.enabled = rule == "stalled_batch";
        rules.overdue_firing.enabled = rule == "overdue_firing";
        rules.overdue_reservation.enabled = rule == "overdue_reservation";
        rules.queue_spike.enabled = rule == "queue_spike";
        rules.aging_queue.enabled = rule == "aging_queue";
        rules.device_alert.enabled = rule == "device_alert";
        rules.state_quality.enabled = rule == "state_quality";
        rules
    }

    fn subjects(findings: &[Finding]) -> Vec<&str> {
        findings
            .iter()
            .map(|finding| finding.subject.as_str())
            .collect()
    }

    #[test]
    fn stalled_batch_fires_past_its_states_limit_and_never_on_closed_batches() {
        let run = Run::new();
        let batch = |state: &str, hours: i64| json!({ "state": state, "updatedAt": ago(hours) });
        let found = run.findings(
            only("stalled_batch"),
            &[
                ("batches", "at-limit", batch("SUBMITTED", 7 * 24)),
                ("batches", "past-limit", batch("SUBMITTED", 7 * 24 + 1)),
                ("batches", "loaded-ok", batch("LOADED", 4 * 24)),
                ("batches", "loaded-late", batch("LOADED", 5 * 24 + 1)),
                ("batches", "pickup-ok", batch("READY_FOR_PICKUP", 13 * 24)),
                ("batches", "draft-default", batch("DRAFT", 10 * 24 + 1)),
                ("batches", "closed", batch("CLOSED_PICKED_UP", 90 * 24)),
                ("batches", "unknown", batch("GLAZED", 90 * 24)),
                ("batches", "twice-late", batch("SHELVED", 15 * 24)),
            ],
        );
        assert_eq!(
            subjects(&found),
            vec![
                "batches/twice-late",
                "batches/draft-default",
                "batches/loaded-late",
                "batches/past-limit"
            ]
        );
        assert_eq!(
            found[0].severity,
            Severity::High,
            "more than twice the limit"
        );
        let late = &found[3];
        assert!(
            late.rationale
                .contains("has been SUBMITTED for 7 days 1 hour")
                && late
                    .rationale
                    .contains("the limit for SUBMITTED is 7 days."),
            "{}",
            late.rationale
        );
        assert_eq!(late.evidence[0].field, "state");
        assert_eq!(late.evidence[0].value, json!("SUBMITTED"));
        assert_eq!(late.evidence[1].field, "updatedAt");
        assert_eq!(late.confidence, 0.9);
    }

    #[test]
    fn overdue_firing_looks_at_the_start_of_scheduled_ones_and_the_end_of_running_ones() {
        let run = Run::new();
        let found = run.findings(
            only("overdue_firing"),
            &[
                (
                    "kilnFirings",
                    "sched-ok",
                    json!({ "status": "scheduled", "startAt": ago(12) }),
                ),
                (
                    "kilnFirings",
                    "sched-late",
                    json!({ "status": "scheduled", "startAt": ago(13) }),
                ),
                (
                    "kilnFirings",
                    "firing-ok",
                    json!({ "status": "firing", "endAt": ago(24) }),
                ),
                (
                    "kilnFirings",
                    "cooling-late",
                    json!({ "status": "cooling", "endAt": ago(25) }),
                ),
                (
                    "kilnFirings",
                    "in-progress-late",
                    json!({ "status": "in-progress", "endAt": ago(48) }),
                ),
                (
                    "kilnFirings",
                    "done",
                    json!({ "status": "completed", "endAt": ago(300) }),
                ),
                (
                    "kilnFirings",
                    "cancelled",
                    json!({ "status": "cancelled", "startAt": ago(300) }),
                ),
                ("kilnFirings", "no-times", json!({ "status": "scheduled" })),
            ],
        );
        assert_eq!(
            subjects(&found),
            vec![
                "kilnFirings/cooling-late",
                "kilnFirings/in-progress-late",
                "kilnFirings/sched-late"
            ]
        );
        assert_eq!(found[0].severity, Severity::High);
        assert_eq!(found[2].evidence[1].field, "startAt");
    }

    #[test]
    fn overdue_reservation_fires_once_the_window_ended_and_only_while_open() {
        let run = Run::new();
        let reservation = |status: &str, end_hours: i64| json!({ "status": status, "preferredWindow": { "earliestDate": null, "latestDate": ago(end_hours) } });
        let found = run.findings(
            only("overdue_reservation"),
            &[
                ("reservations", "ended", reservation("REQUESTED", 1)),
                ("reservations", "future", reservation("CONFIRMED", -24)),
                ("reservations", "cancelled", reservation("CANCELLED", 48)),
                ("reservations", "completed", reservation("completed", 48)),
                ("reservations", "no-window", json!({ "status": "booked" })),
            ],
        );
        assert_eq!(subjects(&found), vec!["reservations/ended"]);
        assert_eq!(found[0].severity, Severity::Low);
    }

    fn snapshot_with_queue(id: &str, collection: &str, count: u64) -> SnapshotRecord {
        SnapshotRecord {
            id: id.into(),
            computed_at: ago(1),
            schema_version: 2,
            complete: true,
            content_hash: "h".into(),
            state: json!({ "collections": { collection: { "queue": { "count": count } } } }),
            provenance: json!({ "sources": [] }),
            previous_id: None,
            diff: json!([]),
            drift: json!([]),
        }
    }

    #[test]
    fn queue_spike_needs_history_the_factor_and_the_minimum() {
        let open = |count: usize| -> Vec<(&'static str, String, serde_json::Value)> {
            (0..count)
                .map(|index| {
                    (
                        "agentRequests",
                        format!("a{index}"),
                        json!({ "status": "new" }),
                    )
                })
                .collect()
        };
        let records = |count: usize| open(count);
        let check = |history: &[u64], now_open: usize| -> Vec<Finding> {
            let mut run = Run::new();
            run.history = history
                .iter()
                .enumerate()
                .map(|(index, count)| {
                    snapshot_with_queue(&format!("s{index}"), "agentRequests", *count)
                })
                .collect();
            let owned = records(now_open);
            let borrowed: Vec<(&str, &str, serde_json::Value)> = owned
                .iter()
                .map(|(collection, id, fields)| (*collection, id.as_str(), fields.clone()))
                .collect();
            run.findings(only("queue_spike"), &borrowed)
        };
        assert!(
            check(&[3, 3], 20).is_empty(),
            "two snapshots are too little history"
        );
        assert!(check(&[3, 3, 3], 5).is_empty(), "below twice the median");
        let spike = check(&[3, 3, 3], 6);
        assert_eq!(
            subjects(&spike),
            vec!["studio"],
            "at twice the median and the minimum"
        );
        assert!(
            spike[0]
                .rationale
                .contains("Agent requests has 6 open (median 3"),
            "{}",
            spike[0].rationale
        );
        assert!(
            check(&[1, 1, 1], 4).is_empty(),
            "four times the median, but under the minimum of 5"
        );
    }

    #[test]
    fn aging_queue_names_the_oldest_open_item_past_its_limit() {
        let run = Run::new();
        let found = run.findings(
            only("aging_queue"),
            &[
                (
                    "agentRequests",
                    "newer",
                    json!({ "status": "new", "createdAt": ago(24) }),
                ),
                (
                    "agentRequests",
                    "oldest",
                    json!({ "status": "triaged", "createdAt": ago(73) }),
                ),
                (
                    "agentRequests",
                    "older-but-done",
                    json!({ "status": "fulfilled", "createdAt": ago(500) }),
                ),
                (
                    "communityReports",
                    "fresh",
                    json!({ "status": "open", "createdAt": ago(7 * 24) }),
                ),
            ],
        );
        assert_eq!(subjects(&found), vec!["agentRequests/oldest"]);
        assert!(
            found[0].rationale.contains("(2 open)"),
            "{}",
            found[0].rationale
        );
    }

    #[test]
    fn device_alerts_cover_heat_leaks_vacuum_errors_and_stale_connectors() {
        let mut run = Run::new();
        let device = |room: Option<&str>, values: serde_json::Value| DeviceState {
            label: "Device".into(),
            device_type: "t".into(),
            room: room.map(str::to_string),
            values: serde_json::from_value(values).unwrap(),
        };
        run.devices.insert(
            "hubitat".into(),
            ConnectorDevices {
                kind: "hubitat".into(),
                observed_at: ago(0),
                health: "healthy".into(),
                devices: BTreeMap::from([
                    (
                        "1".to_string(),
                        device(Some("Kiln Room"), json!({ "temperature": "88.5" })),
                    ),
                    (
                        "2".to_string(),
                        device(Some("Kiln Room"), json!({ "temperature": "88.0" })),
                    ),
                    (
                        "3".to_string(),
                        device(Some("Glaze Room"), json!({ "temperature": 120 })),
                    ),
                    ("4".to_string(), device(None, json!({ "water": "wet" }))),
                    ("5".to_string(), device(None, json!({ "water": "dry" }))),
                ]),
                ..ConnectorDevices::default()
            },
        );
        run.devices.insert(
            "roborock".into(),
            ConnectorDevices {
                kind: "roborock".into(),
                observed_at: ago(0),
                health: "healthy".into(),
                devices: BTreeMap::from([
                    (
                        "q5".to_string(),
                        device(
                            None,
                            json!({ "state": "error", "error": "main_brush_jammed" }),
                        ),
                    ),
                    (
                        "s7".to_string(),
                        device(None, json!({ "state": "docked", "error": "none" })),
                    ),
                ]),
                ..ConnectorDevices::default()
            },
        );
        run.devices.insert(
            "old-hub".into(),
            ConnectorDevices {
                kind: "hubitat".into(),
                observed_at: ago(1),
                ..ConnectorDevices::default()
            },
        );
        let mut rules = only("device_alert");
        rules.device_alert.temperature_limits = BTreeMap::from([("Kiln Room".to_string(), 88.0)]);
        let found = run.findings(rules, &[]);
        let mut found = subjects(&found);
        found.sort_unstable();
        assert_eq!(
            found,
            vec![
                "connector:hubitat/1",
                "connector:hubitat/4",
                "connector:old-hub",
                "connector:roborock/q5"
            ],
            "88.0 is at the limit, the glaze room has none, the dry sensor and the docked vacuum are fine"
        );
    }

    #[test]
    fn state_quality_reports_no_snapshot_partial_stale_and_drift() {
        let mut run = Run::new();
        let found = run.findings(only("state_quality"), &[]);
        assert_eq!(found[0].title, "No StudioState snapshot yet");
        let mut fine = snapshot_with_queue("s_fine", "batches", 1);
        fine.computed_at = ago(0);
        run.history = vec![fine.clone()];
        assert!(run.findings(only("state_quality"), &[]).is_empty());
        let mut partial = fine.clone();
        partial.complete = false;
        partial.provenance = json!({ "sources": [{ "source": "fixtures", "location": "x", "read_time": "t", "newest_update_time": null, "documents_read": 0, "completeness": "partial", "failed": ["kilnFirings"], "collections": [] }], "content_hash": "h" });
        run.history = vec![partial];
        let found = run.findings(only("state_quality"), &[]);
        assert!(
            found[0].rationale.contains("kilnFirings could not be read"),
            "{}",
            found[0].rationale
        );
        assert_eq!(found[0].severity, Severity::High);
        let mut drifting = fine.clone();
        drifting.drift =
            json!([{ "collection": "batches", "local": 3, "cloud": 5, "difference": 2 }]);
        run.history = vec![drifting];
        let found = run.findings(only("state_quality"), &[]);
        assert_eq!(found[0].severity, Severity::Medium, "drift alone");
        let mut stale = fine;
        stale.computed_at = ago(2);
        run.history = vec![stale];
        assert!(
            run.findings(only("state_quality"), &[])[0]
                .rationale
                .contains("old (stale after 1 hour)")
        );
    }
}
