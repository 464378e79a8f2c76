//! StudioState: the studio's daily state, computed from the cloud's records, with provenance.
//! It is derived and disposable, never the truth: every screen that shows it says so.
//!
//! The computation is a pure fold: [`Builder::add`] takes one document at a time (so memory does
//! not grow with the number of documents read), [`Builder::finish`] yields the state. Which
//! records count how is not written here but in the state model ([`model`], the studio's
//! `specs/studio-state.yaml`): per collection, the lifecycle field, the values of each class
//! (open, in progress, closed), the classes its queue counts, and its time, severity and amount
//! fields. A value in no class is counted as `unclassified`, with the value named.
//!
//! Architecture Invariant: no I/O here. A read error never becomes a zero: a collection that
//! failed or was truncated is left out of the state ([`Builder::failed`]), named in the
//! provenance, and the snapshot is partial.

pub mod model;
pub mod seed;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use model::{Class, Model, ModelRef};

/// The version of the StudioState shape.
pub const SCHEMA_VERSION: u32 = 2;

/// The Firestore collections the sources read.
pub const COLLECTIONS: &[&str] = &[
    "batches",
    "reservations",
    "kilnFirings",
    "kilns",
    "communityReports",
    "agentRequests",
    "materialsOrders",
];

/// The Stripe lists the sources read.
pub const STRIPE_LISTS: &[&str] = &[
    "payment_intents",
    "payouts",
    "charges",
    "refunds",
    "checkout_sessions",
];

/// How many distinct lifecycle values a collection keeps apart; more are counted together
/// under [`OTHER_VALUES`], so a field full of free text cannot grow a snapshot without bound.
pub const MAX_VALUES: usize = 100;
/// Where values beyond [`MAX_VALUES`] are counted.
pub const OTHER_VALUES: &str = "(other values)";
/// The value recorded for a record without a lifecycle value.
pub const NO_VALUE: &str = "(none)";
/// How many record ids a value keeps as examples (the smallest ids, so the same records give
/// the same snapshot).
pub const EXAMPLES: usize = 5;

/// A count of queued items and when the oldest was created. The time, not an age, is kept, so
/// a snapshot of unchanged records has the same content (and hash) whenever it is computed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Queue {
    pub count: u64,
    /// Creation time of the oldest item (RFC 3339), when any has one.
    pub oldest_since: Option<String>,
}

impl Queue {
    fn add(&mut self, created: Option<DateTime<Utc>>) {
        self.count += 1;
        if let Some(created) = created {
            let created = crate::clock::format_time(created);
            if self
                .oldest_since
                .as_ref()
                .is_none_or(|oldest| created < *oldest)
            {
                self.oldest_since = Some(created);
            }
        }
    }

    /// Seconds since the oldest item was created, at `now`.
    pub fn oldest_age_seconds(&self, now: DateTime<Utc>) -> Option<i64> {
        let oldest = crate::clock::parse_time(self.oldest_since.as_deref()?)?;
        Some((now - oldest).num_seconds().max(0))
    }
}

/// How many records carried one lifecycle value, and where the model put them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ValueCount {
    /// `None`: the value is in no class (unclassified).
    pub class: Option<Class>,
    /// The model entry that matched, as written (`CLOSED_*`, `SUBMITTED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub count: u64,
    /// Ids of some records carrying it.
    pub examples: Vec<String>,
}

/// Records created recently, whatever their class (payouts in the last week).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Recent {
    /// The window, as written in the model (`7d`).
    pub within: String,
    pub count: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub amount: BTreeMap<String, i64>,
}

/// One collection under the state model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CollectionState {
    /// What people call it (from the model).
    pub title: String,
    /// Records read.
    pub records: u64,
    pub open: u64,
    pub in_progress: u64,
    pub closed: u64,
    /// Records whose lifecycle value is in no class (see `values` for which).
    pub unclassified: u64,
    /// The classes the model's `queue` counts.
    pub queue: Queue,
    /// Each lifecycle value as written, with its class and count.
    pub values: BTreeMap<String, ValueCount>,
    /// Queue items of high severity (when the model names a severity field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high_severity: Option<u64>,
    /// Queue items starting within the next 24 hours (when the model names start fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_next_24h: Option<u64>,
    /// Sum of the queue's amounts by currency, in minor units (when the model names amounts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub queue_amount: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent: Option<Recent>,
}

impl CollectionState {
    /// The records the model put in no class, by value.
    pub fn unclassified_values(&self) -> impl Iterator<Item = (&String, &ValueCount)> {
        self.values
            .iter()
            .filter(|(_, count)| count.class.is_none())
    }
}

/// The studio's state at one moment, derived from the cloud.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StudioState {
    pub schema_version: u32,
    /// Each collection the model covers and the sources read completely, by name
    /// (`batches`, `stripe:payment_intents`).
    #[serde(default)]
    pub collections: BTreeMap<String, CollectionState>,
    /// The studio's devices by connector id, from the connectors' latest readings (their own
    /// observation time, not the cloud's); empty when no connector has read yet.
    #[serde(default)]
    pub devices: BTreeMap<String, ConnectorDevices>,
}

impl StudioState {
    pub fn collection(&self, name: &str) -> Option<&CollectionState> {
        self.collections.get(name)
    }

    /// Unclassified records per collection (only collections that have any).
    pub fn unclassified(&self) -> BTreeMap<&str, u64> {
        self.collections
            .iter()
            .filter(|(_, collection)| collection.unclassified > 0)
            .map(|(name, collection)| (name.as_str(), collection.unclassified))
            .collect()
    }
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
    /// The room the hub places it in, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
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
    /// The state model the records were counted with (absent in snapshots made before models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRef>,
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

/// The `field` of the change a diff starts with when the two snapshots were computed under
/// different state models: their counts differ partly because the rules did.
pub const MODEL_CHANGE: &str = "(state model)";

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

/// Folds records into a [`StudioState`] under a state model, one at a time.
pub struct Builder {
    now: DateTime<Utc>,
    model: Arc<Model>,
    state: StudioState,
}

fn insert_example(examples: &mut Vec<String>, id: &str) {
    if examples.len() == EXAMPLES && examples.last().is_some_and(|last| id >= last.as_str()) {
        return;
    }
    if let Err(at) = examples.binary_search_by(|example| example.as_str().cmp(id)) {
        examples.insert(at, id.to_string());
        examples.truncate(EXAMPLES);
    }
}

impl Builder {
    pub fn new(now: DateTime<Utc>, model: Arc<Model>) -> Self {
        Self {
            now,
            model,
            state: StudioState {
                schema_version: SCHEMA_VERSION,
                ..StudioState::default()
            },
        }
    }

    /// A read of `collection` starts: a collection the model covers is counted from here, so a
    /// collection read completely shows even when it holds no records.
    pub fn begin(&mut self, collection: &str) {
        if let Some(rule) = self.model.rule(collection) {
            self.state
                .collections
                .entry(collection.to_string())
                .or_insert_with(|| CollectionState {
                    title: self.model.title(collection).to_string(),
                    high_severity: rule.severity.as_ref().map(|_| 0),
                    starting_next_24h: (!rule.starts.is_empty()).then_some(0),
                    recent: rule.recent_within.map(|within| Recent {
                        within: within.to_string(),
                        ..Recent::default()
                    }),
                    ..CollectionState::default()
                });
        }
    }

    /// The read of `collection` failed: what it counted so far is dropped, so a partial count
    /// never stands in for the real one (the provenance names the failure).
    pub fn failed(&mut self, collection: &str) {
        self.state.collections.remove(collection);
    }

    /// Count one record of `collection` (a Firestore collection or `stripe:<list>`); records
    /// of a collection the model does not cover are read but not counted.
    pub fn add(&mut self, collection: &str, record: &Record) {
        if self.model.rule(collection).is_none() {
            return;
        }
        if !self.state.collections.contains_key(collection) {
            self.begin(collection);
        }
        let model = &self.model;
        let Some(rule) = model.rule(collection) else {
            return;
        };
        let Some(counts) = self.state.collections.get_mut(collection) else {
            return;
        };
        let fields = &record.fields;
        counts.records += 1;
        let value = model::first_text(fields, &rule.lifecycle)
            .map(str::trim)
            .filter(|value| !value.is_empty());
        let found = value.and_then(|value| model.classify(collection, value));
        match found.as_ref().map(|found| found.class) {
            Some(Class::Open) => counts.open += 1,
            Some(Class::InProgress) => counts.in_progress += 1,
            Some(Class::Closed) => counts.closed += 1,
            None => counts.unclassified += 1,
        }
        let key = value.unwrap_or(NO_VALUE);
        let key = if counts.values.contains_key(key) || counts.values.len() < MAX_VALUES {
            key
        } else {
            OTHER_VALUES
        };
        let entry = counts
            .values
            .entry(key.to_string())
            .or_insert_with(|| ValueCount {
                class: found.as_ref().map(|found| found.class),
                rule: found.as_ref().map(|found| found.rule.clone()),
                ..ValueCount::default()
            });
        entry.count += 1;
        insert_example(&mut entry.examples, &record.id);

        let amount = || {
            let rule = rule.amount.as_ref()?;
            let amount = rule
                .field
                .iter()
                .find_map(|path| model::field(fields, path)?.as_i64())?;
            let currency = model::first_text(fields, &rule.currency)?.to_lowercase();
            Some((amount, currency))
        };
        let created = model::first_time(fields, &rule.created);
        if let (Some(recent), Some(within), Some(created)) =
            (counts.recent.as_mut(), rule.recent_within, created)
            && self.now - created
                <= chrono::Duration::seconds(
                    i64::try_from(within.as_secs()).unwrap_or(i64::MAX / 4),
                )
        {
            recent.count += 1;
            if let Some((amount, currency)) = amount() {
                *recent.amount.entry(currency).or_default() += amount;
            }
        }
        let queued = found
            .as_ref()
            .is_some_and(|found| model.in_queue(collection, found.class));
        if !queued {
            return;
        }
        counts.queue.add(created);
        if let (Some(severity), Some(high)) = (&rule.severity, counts.high_severity.as_mut())
            && model::first_text(fields, &severity.field).is_some_and(|value| {
                let value = model::normalize(value);
                severity
                    .high
                    .iter()
                    .any(|high| model::normalize(high) == value)
            })
        {
            *high += 1;
        }
        if let Some(starting) = counts.starting_next_24h.as_mut()
            && let Some(at) = model::first_time(fields, &rule.starts)
            && at >= self.now
            && at < self.now + chrono::Duration::hours(24)
        {
            *starting += 1;
        }
        if let Some((amount, currency)) = amount() {
            *counts.queue_amount.entry(currency).or_default() += amount;
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

/// Whether `path` names one lifecycle value's entry (`collections.batches.values.SUBMITTED`).
fn is_value_entry(path: &str) -> bool {
    let parts: Vec<&str> = path.splitn(4, '.').collect();
    parts.len() == 4 && parts[0] == "collections" && parts[2] == "values"
}

fn diff_values(path: &str, from: &Value, to: &Value, changes: &mut Vec<FieldChange>) {
    // A lifecycle value's entry changes by its count (0 when it appears or goes); its class
    // and rule follow the model, and its examples point at records.
    if is_value_entry(path) {
        let count = |entry: &Value| entry.get("count").cloned().unwrap_or(Value::from(0));
        let (from, to) = (count(from), count(to));
        if from != to {
            changes.push(FieldChange {
                field: path.to_string(),
                from,
                to,
            });
        }
        return;
    }
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

    fn record(id: &str, fields: Value) -> Record {
        Record {
            id: id.into(),
            fields,
            update_time: None,
        }
    }

    fn fold(now: DateTime<Utc>, records: &[(&str, &str, Value)]) -> StudioState {
        let mut builder = Builder::new(now, Arc::new(Model::built_in()));
        for (collection, id, fields) in records {
            builder.add(collection, &record(id, fields.clone()));
        }
        builder.finish()
    }

    #[test]
    fn records_count_by_the_model_with_the_portals_real_values() {
        let now = at("2026-12-01T12:00:00Z");
        use serde_json::json;
        let state = fold(
            now,
            &[
                (
                    "batches",
                    "b1",
                    json!({ "state": "SUBMITTED", "createdAt": "2026-12-01T10:00:00Z" }),
                ),
                ("batches", "b2", json!({ "state": "LOADED" })),
                (
                    "batches",
                    "b3",
                    json!({ "state": "CLOSED_PICKED_UP", "isClosed": true }),
                ),
                ("batches", "b4", json!({ "state": "GLAZED" })),
                ("batches", "b5", json!({ "title": "no state at all" })),
                ("reservations", "r1", json!({ "status": "REQUESTED" })),
                ("reservations", "r2", json!({ "status": "booked" })),
                ("reservations", "r3", json!({ "status": "cancelled" })),
                ("kilnFirings", "f1", json!({ "status": "loaded" })),
                ("kilnFirings", "f2", json!({ "status": "in-progress" })),
                (
                    "kilnFirings",
                    "f3",
                    json!({ "status": "scheduled", "startAt": "2026-12-02T08:00:00Z" }),
                ),
                ("kilnFirings", "f4", json!({ "status": "completed" })),
                (
                    "communityReports",
                    "c1",
                    json!({ "status": "triaged", "severity": "high", "createdAt": "2026-11-30T12:00:00Z" }),
                ),
                (
                    "communityReports",
                    "c2",
                    json!({ "status": "resolved", "severity": "high" }),
                ),
                ("agentRequests", "a1", json!({ "status": "new" })),
                ("agentRequests", "a2", json!({ "status": "needs_review" })),
                ("agentRequests", "a3", json!({ "status": "accepted" })),
                (
                    "materialsOrders",
                    "m1",
                    json!({ "status": "checkout_pending" }),
                ),
                (
                    "materialsOrders",
                    "m2",
                    json!({ "status": "payment_pending" }),
                ),
                (
                    "materialsOrders",
                    "m3",
                    json!({ "status": "awaiting_payment" }),
                ),
                ("materialsOrders", "m4", json!({ "status": "paid" })),
                (
                    "stripe:payment_intents",
                    "pi1",
                    json!({ "status": "processing", "amount": 4500, "currency": "USD", "created": 1_764_500_000 }),
                ),
                (
                    "stripe:payment_intents",
                    "pi2",
                    json!({ "status": "succeeded", "amount": 100, "currency": "usd" }),
                ),
                (
                    "stripe:payouts",
                    "po1",
                    json!({ "status": "paid", "amount": 900, "currency": "usd", "created": now.timestamp() - 86_400 }),
                ),
                (
                    "stripe:payouts",
                    "po2",
                    json!({ "status": "paid", "amount": 700, "currency": "usd", "created": now.timestamp() - 30 * 86_400 }),
                ),
            ],
        );
        let batches = state.collection("batches").unwrap();
        assert_eq!(
            (batches.open, batches.in_progress, batches.closed),
            (1, 1, 1)
        );
        assert_eq!(batches.unclassified, 2);
        assert_eq!(batches.queue.count, 2);
        assert_eq!(batches.queue.oldest_age_seconds(now), Some(7200));
        assert_eq!(batches.values["GLAZED"].class, None);
        assert_eq!(batches.values[NO_VALUE].examples, vec!["b5"]);
        assert_eq!(
            batches.values["CLOSED_PICKED_UP"].rule.as_deref(),
            Some("CLOSED_*")
        );
        assert_eq!(state.collection("reservations").unwrap().queue.count, 2);
        let firings = state.collection("kilnFirings").unwrap();
        assert_eq!(firings.queue.count, 3);
        assert_eq!(firings.starting_next_24h, Some(1));
        let reports = state.collection("communityReports").unwrap();
        assert_eq!((reports.queue.count, reports.high_severity), (1, Some(1)));
        assert_eq!(reports.queue.oldest_age_seconds(now), Some(86_400));
        assert_eq!(state.collection("agentRequests").unwrap().queue.count, 2);
        assert_eq!(state.collection("materialsOrders").unwrap().queue.count, 3);
        let intents = state.collection("stripe:payment_intents").unwrap();
        assert_eq!(intents.queue.count, 1);
        assert_eq!(intents.queue_amount.get("usd"), Some(&4500));
        let payouts = state.collection("stripe:payouts").unwrap();
        let recent = payouts.recent.as_ref().unwrap();
        assert_eq!((recent.count, recent.amount.get("usd")), (1, Some(&900)));
        assert_eq!(state.unclassified(), BTreeMap::from([("batches", 2)]));
    }

    #[test]
    fn a_failed_read_leaves_no_count_and_an_empty_read_counts_zero() {
        let mut builder = Builder::new(at("2026-12-01T12:00:00Z"), Arc::new(Model::built_in()));
        builder.begin("batches");
        builder.begin("reservations");
        builder.add(
            "reservations",
            &record("r1", serde_json::json!({ "status": "booked" })),
        );
        builder.failed("reservations");
        builder.begin("notModelled");
        let state = builder.finish();
        assert_eq!(state.collection("batches").unwrap().records, 0);
        assert!(state.collection("reservations").is_none());
        assert!(state.collection("notModelled").is_none());
    }

    #[test]
    fn values_and_examples_stay_bounded_and_deterministic() {
        let mut builder = Builder::new(at("2026-12-01T12:00:00Z"), Arc::new(Model::built_in()));
        for index in (0..300).rev() {
            builder.add(
                "batches",
                &record(
                    &format!("b{index:03}"),
                    serde_json::json!({ "state": format!("odd-{index}") }),
                ),
            );
        }
        let state = builder.finish();
        let batches = state.collection("batches").unwrap();
        assert_eq!(batches.values.len(), MAX_VALUES + 1);
        assert_eq!(batches.values[OTHER_VALUES].count, 200);
        assert_eq!(
            batches.values[OTHER_VALUES].examples,
            vec!["b000", "b001", "b002", "b003", "b004"]
        );
        assert_eq!(batches.unclassified, 300);
    }

    #[test]
    fn diffs_name_each_changed_leaf_and_drift_respects_the_tolerance() {
        let mut before = StudioState::default();
        let mut after = before.clone();
        after.collections.insert(
            "reservations".into(),
            CollectionState {
                open: 3,
                values: BTreeMap::from([(
                    "booked".to_string(),
                    ValueCount {
                        count: 3,
                        examples: vec!["r1".into()],
                        ..ValueCount::default()
                    },
                )]),
                ..CollectionState::default()
            },
        );
        before.collections.insert(
            "reservations".into(),
            CollectionState {
                values: BTreeMap::from([(
                    "booked".to_string(),
                    ValueCount {
                        examples: vec!["r2".into()],
                        ..ValueCount::default()
                    },
                )]),
                ..CollectionState::default()
            },
        );
        let changes = diff(&before, &after);
        let fields: Vec<&str> = changes.iter().map(|change| change.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "collections.reservations.open",
                "collections.reservations.values.booked"
            ]
        );
        before = after.clone();
        assert!(diff(&before, &after).is_empty());
        let local = BTreeMap::from([("batches".to_string(), 10), ("reservations".to_string(), 5)]);
        let cloud = BTreeMap::from([("batches".to_string(), 12), ("reservations".to_string(), 5)]);
        assert_eq!(drift(&local, &cloud, 1).len(), 1);
        assert!(drift(&local, &cloud, 2).is_empty());
    }
}
