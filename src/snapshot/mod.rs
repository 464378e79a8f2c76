//! StudioState: the studio's daily state, computed from the cloud's records, with provenance.
//! It is derived and disposable, never the truth: every screen that shows it says so.
//!
//! The computation is a pure fold: [`Builder::add`] takes one document at a time (so memory does
//! not grow with the number of documents read), [`Builder::finish`] yields the state. Which
//! records count how is written down here once:
//!
//! | collection | counted as |
//! |---|---|
//! | `batches` | active unless `status` starts with `CLOSED` |
//! | `reservations` | open unless `status` is cancelled, completed, declined or closed |
//! | `kilnFirings` | in progress from `scheduled` through `ready` (scheduled, loading, firing, cooling, ready) |
//! | `communityReports` | open unless resolved, dismissed or closed; high severity when `severity` is high or critical |
//! | `agentRequests` | pending when `status` is pending (or pending review) |
//! | `materialsOrders` | pending when `status` is pending, ordered or submitted |
//! | Stripe payment intents | unsettled unless succeeded or canceled |
//! | Stripe payouts | recent when created within the last 7 days |
//!
//! Status comparisons ignore case; a record's age comes from `createdAt` (or `created` for
//! Stripe), its time from `scheduledAt` / `startAt` for firings.
//!
//! Architecture Invariant: no I/O here. A read error never becomes a zero: a collection that
//! failed or was truncated is named in the provenance and the snapshot is partial.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the StudioState shape.
pub const SCHEMA_VERSION: u32 = 1;

/// The Firestore collections StudioState reads.
pub const COLLECTIONS: &[&str] = &[
    "batches",
    "reservations",
    "kilnFirings",
    "communityReports",
    "agentRequests",
    "materialsOrders",
];

/// The Stripe lists StudioState reads.
pub const STRIPE_LISTS: &[&str] = &["payment_intents", "payouts"];

/// A count of open items and when the oldest was created. The time, not an age, is kept, so a
/// snapshot of unchanged records has the same content (and hash) whenever it is computed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Queue {
    pub open: u64,
    /// Creation time of the oldest open item (RFC 3339), when any has one.
    pub oldest_open_since: Option<String>,
}

impl Queue {
    fn add(&mut self, created: Option<DateTime<Utc>>) {
        self.open += 1;
        if let Some(created) = created {
            let created = crate::clock::format_time(created);
            if self
                .oldest_open_since
                .as_ref()
                .is_none_or(|oldest| created < *oldest)
            {
                self.oldest_open_since = Some(created);
            }
        }
    }

    /// Seconds since the oldest open item was created, at `now`.
    pub fn oldest_age_seconds(&self, now: DateTime<Utc>) -> Option<i64> {
        let oldest = crate::clock::parse_time(self.oldest_open_since.as_deref()?)?;
        Some((now - oldest).num_seconds().max(0))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Batches {
    pub active: Queue,
    pub closed: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Firings {
    /// Firings from scheduled through ready.
    pub in_progress: Queue,
    /// Firings whose scheduled time is within the next 24 hours.
    pub next_24h: u64,
    pub by_status: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reports {
    pub open: Queue,
    pub open_high_severity: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Payments {
    pub unsettled: u64,
    /// Sum of unsettled amounts by currency, in minor units.
    pub unsettled_amount: BTreeMap<String, i64>,
    pub recent_payouts: u64,
    pub recent_payout_amount: BTreeMap<String, i64>,
}

/// The studio's state at one moment, derived from the cloud.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StudioState {
    pub schema_version: u32,
    pub batches: Batches,
    pub reservations: Queue,
    pub kiln_firings: Firings,
    pub community_reports: Reports,
    pub agent_requests: Queue,
    pub materials_orders: Queue,
    pub payments: Payments,
    /// The studio's devices by connector id, from the connectors' latest readings (their own
    /// observation time, not the cloud's); empty when no connector has read yet.
    #[serde(default)]
    pub devices: BTreeMap<String, ConnectorDevices>,
}

/// Where the daemon keeps each connector's latest readings (`<prefix><connector id>`, a
/// [`ConnectorDevices`] as JSON) for snapshots to include.
pub const DEVICES_KV_PREFIX: &str = "connector.readings:";

/// One connector's devices as its latest successful read saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectorDevices {
    /// `hubitat`, `roborock`.
    pub kind: String,
    /// When the read was made (RFC 3339).
    pub observed_at: String,
    /// The connector's health at that read: `healthy`, `degraded`, ...
    pub health: String,
    /// Device id → its label, type and values.
    pub devices: BTreeMap<String, DeviceState>,
    /// Connector-wide facts (`mode`, `hsm`).
    #[serde(default)]
    pub facts: BTreeMap<String, Value>,
    /// Items of that read that could not be parsed.
    pub unparseable: u64,
}

/// One device's values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceState {
    pub label: String,
    #[serde(rename = "type")]
    pub device_type: String,
    pub values: BTreeMap<String, Value>,
}

/// What one collection's read produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CollectionProvenance {
    pub collection: String,
    pub documents_read: u64,
    /// The newest `updateTime` among the documents read.
    pub newest_update_time: Option<String>,
    /// Read fully; otherwise `problem` says why not.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Where one source's data came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SourceProvenance {
    /// `fixtures`, `firestore`, `stripe`.
    pub source: String,
    /// What was read: the fixture directory, the Firestore project, the Stripe base URL.
    pub location: String,
    pub read_time: String,
    pub newest_update_time: Option<String>,
    pub documents_read: u64,
    /// `full` or `partial`.
    pub completeness: String,
    /// Collections that failed or were truncated.
    pub failed: Vec<String>,
    pub collections: Vec<CollectionProvenance>,
}

/// Every source of a snapshot, and the hash of its content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Provenance {
    pub sources: Vec<SourceProvenance>,
    /// SHA-256 of the canonical StudioState.
    pub content_hash: String,
}

impl Provenance {
    pub fn complete(&self) -> bool {
        !self.sources.is_empty()
            && self
                .sources
                .iter()
                .all(|source| source.completeness == "full")
    }
}

/// A field that changed between two snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    /// Dotted path, such as `reservations.open`.
    pub field: String,
    pub from: Value,
    pub to: Value,
}

/// A local count that disagrees with the cloud's own count beyond the tolerance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Drift {
    pub collection: String,
    /// Documents brain read.
    pub local: u64,
    /// Documents the cloud counts (its aggregation query).
    pub cloud: u64,
    pub difference: u64,
}

/// One document as a source hands it over: plain JSON fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: String,
    pub fields: Value,
    pub update_time: Option<DateTime<Utc>>,
}

fn text<'a>(fields: &'a Value, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|name| fields.get(*name).and_then(Value::as_str))
}

fn time(fields: &Value, names: &[&str]) -> Option<DateTime<Utc>> {
    names.iter().find_map(|name| match fields.get(*name)? {
        Value::String(text) => DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&Utc)),
        // Stripe's `created` is seconds since the epoch.
        Value::Number(number) => DateTime::from_timestamp(number.as_i64()?, 0),
        _ => None,
    })
}

fn status(fields: &Value) -> String {
    text(fields, &["status", "state"])
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Folds records into a [`StudioState`], one at a time.
pub struct Builder {
    now: DateTime<Utc>,
    state: StudioState,
}

impl Builder {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now,
            state: StudioState {
                schema_version: SCHEMA_VERSION,
                ..StudioState::default()
            },
        }
    }

    /// Count one record of `collection` (a Firestore collection or `stripe:<list>`).
    pub fn add(&mut self, collection: &str, record: &Record) {
        let fields = &record.fields;
        let created = time(fields, &["createdAt", "created_at", "created"]);
        let status = status(fields);
        let now = self.now;
        let state = &mut self.state;
        let amount = || {
            Some((
                fields.get("amount").and_then(Value::as_i64)?,
                text(fields, &["currency"])?.to_ascii_lowercase(),
            ))
        };
        let status = status.as_str();
        match collection {
            "batches" if status.starts_with("closed") => state.batches.closed += 1,
            "batches" => state.batches.active.add(created),
            "reservations"
                if !matches!(
                    status,
                    "cancelled" | "canceled" | "completed" | "declined" | "closed"
                ) =>
            {
                state.reservations.add(created);
            }
            "kilnFirings" => {
                let key = if status.is_empty() { "unknown" } else { status };
                *state
                    .kiln_firings
                    .by_status
                    .entry(key.to_string())
                    .or_default() += 1;
                if matches!(
                    status,
                    "scheduled" | "loading" | "firing" | "cooling" | "ready"
                ) {
                    state.kiln_firings.in_progress.add(created);
                    if let Some(at) = time(fields, &["scheduledAt", "startAt", "scheduled_at"])
                        && at >= now
                        && at < now + chrono::Duration::hours(24)
                    {
                        state.kiln_firings.next_24h += 1;
                    }
                }
            }
            "communityReports" if !matches!(status, "resolved" | "dismissed" | "closed") => {
                state.community_reports.open.add(created);
                let severity = text(fields, &["severity"])
                    .unwrap_or("")
                    .to_ascii_lowercase();
                if matches!(severity.as_str(), "high" | "critical") {
                    state.community_reports.open_high_severity += 1;
                }
            }
            "agentRequests" if matches!(status, "pending" | "pending_review") => {
                state.agent_requests.add(created);
            }
            "materialsOrders" if matches!(status, "pending" | "ordered" | "submitted") => {
                state.materials_orders.add(created);
            }
            "stripe:payment_intents" if !matches!(status, "succeeded" | "canceled") => {
                state.payments.unsettled += 1;
                if let Some((amount, currency)) = amount() {
                    *state.payments.unsettled_amount.entry(currency).or_default() += amount;
                }
            }
            "stripe:payouts"
                if created.is_some_and(|created| now - created <= chrono::Duration::days(7)) =>
            {
                state.payments.recent_payouts += 1;
                if let Some((amount, currency)) = amount() {
                    *state
                        .payments
                        .recent_payout_amount
                        .entry(currency)
                        .or_default() += amount;
                }
            }
            _ => {}
        }
    }

    /// Add connector `id`'s latest readings.
    pub fn devices(&mut self, id: &str, devices: ConnectorDevices) {
        self.state.devices.insert(id.to_string(), devices);
    }

    pub fn finish(self) -> StudioState {
        self.state
    }
}

/// SHA-256 of the state's canonical JSON.
pub fn content_hash(state: &StudioState) -> String {
    let value = serde_json::to_value(state).unwrap_or(Value::Null);
    crate::audit::sha256_hex(crate::audit::canonical_json(&value).as_bytes())
}

/// Every leaf that differs between `from` and `to`, by dotted path, in path order.
pub fn diff(from: &StudioState, to: &StudioState) -> Vec<FieldChange> {
    let from = serde_json::to_value(from).unwrap_or(Value::Null);
    let to = serde_json::to_value(to).unwrap_or(Value::Null);
    let mut changes = Vec::new();
    diff_values("", &from, &to, &mut changes);
    changes
}

fn diff_values(path: &str, from: &Value, to: &Value, changes: &mut Vec<FieldChange>) {
    match (from, to) {
        (Value::Object(left), Value::Object(right)) => {
            let keys: std::collections::BTreeSet<&String> =
                left.keys().chain(right.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff_values(
                    &child,
                    left.get(key).unwrap_or(&Value::Null),
                    right.get(key).unwrap_or(&Value::Null),
                    changes,
                );
            }
        }
        (left, right) if left != right => changes.push(FieldChange {
            field: path.to_string(),
            from: left.clone(),
            to: right.clone(),
        }),
        _ => {}
    }
}

/// Collections whose local count differs from the cloud's count by more than `tolerance`.
pub fn drift(
    local: &BTreeMap<String, u64>,
    cloud: &BTreeMap<String, u64>,
    tolerance: u64,
) -> Vec<Drift> {
    cloud
        .iter()
        .filter_map(|(collection, &cloud_count)| {
            let local_count = local.get(collection).copied().unwrap_or(0);
            let difference = local_count.abs_diff(cloud_count);
            (difference > tolerance).then(|| Drift {
                collection: collection.clone(),
                local: local_count,
                cloud: cloud_count,
                difference,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn record(fields: Value) -> Record {
        Record {
            id: "x".into(),
            fields,
            update_time: None,
        }
    }

    #[test]
    fn records_count_by_the_rules_and_ages_come_from_creation() {
        let now = at("2026-12-01T12:00:00Z");
        let mut builder = Builder::new(now);
        for status in ["ACTIVE", "CLOSED_COMPLETE", "CLOSED_CANCELLED", "glazing"] {
            builder.add(
                "batches",
                &record(
                    serde_json::json!({ "status": status, "createdAt": "2026-12-01T10:00:00Z" }),
                ),
            );
        }
        for status in ["requested", "Cancelled", "confirmed", "completed"] {
            builder.add(
                "reservations",
                &record(serde_json::json!({ "status": status })),
            );
        }
        builder.add(
            "kilnFirings",
            &record(
                serde_json::json!({ "status": "scheduled", "scheduledAt": "2026-12-02T08:00:00Z" }),
            ),
        );
        builder.add(
            "kilnFirings",
            &record(serde_json::json!({ "status": "unloaded" })),
        );
        builder.add("communityReports", &record(serde_json::json!({ "status": "open", "severity": "HIGH", "createdAt": "2026-11-30T12:00:00Z" })));
        builder.add("stripe:payment_intents", &record(serde_json::json!({ "status": "processing", "amount": 4500, "currency": "USD", "created": 1_764_500_000 })));
        builder.add(
            "stripe:payment_intents",
            &record(serde_json::json!({ "status": "succeeded", "amount": 100, "currency": "usd" })),
        );
        let state = builder.finish();
        assert_eq!(state.batches.active.open, 2);
        assert_eq!(state.batches.closed, 2);
        assert_eq!(state.batches.active.oldest_age_seconds(now), Some(7200));
        assert_eq!(state.reservations.open, 2);
        assert_eq!(state.kiln_firings.in_progress.open, 1);
        assert_eq!(state.kiln_firings.next_24h, 1);
        assert_eq!(state.community_reports.open_high_severity, 1);
        assert_eq!(
            state.community_reports.open.oldest_age_seconds(now),
            Some(86_400)
        );
        assert_eq!(state.payments.unsettled, 1);
        assert_eq!(state.payments.unsettled_amount.get("usd"), Some(&4500));
    }

    #[test]
    fn diffs_name_each_changed_leaf_and_drift_respects_the_tolerance() {
        let mut before = StudioState::default();
        let mut after = before.clone();
        after.reservations.open = 3;
        after.batches.closed = 1;
        let changes = diff(&before, &after);
        let fields: Vec<&str> = changes.iter().map(|change| change.field.as_str()).collect();
        assert_eq!(fields, vec!["batches.closed", "reservations.open"]);
        before = after.clone();
        assert!(diff(&before, &after).is_empty());
        let local = BTreeMap::from([("batches".to_string(), 10), ("reservations".to_string(), 5)]);
        let cloud = BTreeMap::from([("batches".to_string(), 12), ("reservations".to_string(), 5)]);
        assert_eq!(drift(&local, &cloud, 1).len(), 1);
        assert!(drift(&local, &cloud, 2).is_empty());
    }
}
