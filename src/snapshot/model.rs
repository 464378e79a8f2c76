//! The state model: the declarative rules that turn the studio's records into StudioState. For
//! each collection it names the field holding the lifecycle value, which values count as open,
//! in progress or closed, which classes form the collection's queue, and which fields hold
//! times, severities and amounts. It is a versioned YAML file in the studio repository
//! (`specs/studio-state.yaml`), linted, and hashed into the policy set's hash and every
//! snapshot's provenance.
//!
//! Values compare case-insensitively; a value ending in `*` is a prefix. A record whose value
//! matches no class is `unclassified`: counted and shown, never dropped.
//!
//! Architecture Invariant: no I/O here; the file is read by `workspace`. A model with an
//! error-level problem ([`problems`]) is never compiled into a [`Model`].

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diagnostic::{Finding, SourceFile};

/// The model the demo and the repository ship (`specs/studio-state.yaml`), used when a studio
/// repository has none.
pub const BUILT_IN: &str = include_str!("../../specs/studio-state.yaml");

/// The file name brain looks for in the specs directory.
pub const FILE_NAME: &str = "studio-state.yaml";

/// Collections brain knows how to read: the Firestore collections and the Stripe lists.
pub const KNOWN_COLLECTIONS: &[&str] = &[
    "batches",
    "reservations",
    "kilnFirings",
    "kilns",
    "communityReports",
    "agentRequests",
    "materialsOrders",
    "stripe:payment_intents",
    "stripe:payouts",
    "stripe:charges",
    "stripe:refunds",
    "stripe:checkout_sessions",
];

/// A lifecycle class.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Open,
    InProgress,
    Closed,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Open, Class::InProgress, Class::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Open => "open",
            Class::InProgress => "in_progress",
            Class::Closed => "closed",
        }
    }
}

/// `specs/studio-state.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "studio-state.yaml",
    description = "The state model: how the studio's records are counted into StudioState."
)]
pub struct StateModel {
    /// A stable name for the model, such as `studio-os-portal`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9._-]*$"), length(max = 80))]
    pub id: String,
    /// Bumped with every change; snapshots name the version they were computed with.
    #[schemars(range(min = 1))]
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Collection (`batches`, `stripe:payment_intents`, ...) → how its records count.
    pub collections: BTreeMap<String, CollectionRule>,
}

/// How one collection's records count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionRule {
    /// What people call it (`Kiln firings`); the collection's name when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Fields holding the lifecycle value, tried in order (the first present wins).
    #[schemars(length(min = 1))]
    pub lifecycle: Vec<String>,
    /// Which values count as open, in progress and closed.
    pub classes: ClassValues,
    /// The classes the collection's queue counts (default: open and in_progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<Vec<Class>>,
    /// When a record was created (its queue age); dotted paths reach nested fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub created: Vec<String>,
    /// When a record last changed (how long it has sat in its state).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub updated: Vec<String>,
    /// When it starts (firings): queue items starting in the next 24 hours are counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub starts: Vec<String>,
    /// When it ends (firings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ends: Vec<String>,
    /// When a requested window ends (reservations: `preferredWindow.latestDate`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub window_end: Vec<String>,
    /// Which queue items are high severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<SeverityRule>,
    /// Where a record's amount and currency are (payments): the queue's amounts are summed
    /// per currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<AmountRule>,
    /// Also count records created within this long, whatever their class (payouts: `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_within: Option<crate::config::Duration>,
}

/// Where an amount in minor units and its currency are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountRule {
    #[schemars(length(min = 1))]
    pub field: Vec<String>,
    #[schemars(length(min = 1))]
    pub currency: Vec<String>,
}

/// Values per class; a class left out has no values, a class written empty is a lint error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassValues {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Vec<String>>,
}

impl ClassValues {
    /// Each class with the values written for it (`None` when it is left out).
    pub fn each(&self) -> [(Class, Option<&Vec<String>>); 3] {
        [
            (Class::Open, self.open.as_ref()),
            (Class::InProgress, self.in_progress.as_ref()),
            (Class::Closed, self.closed.as_ref()),
        ]
    }
}

/// Which values of which field mark a high-severity item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityRule {
    #[schemars(length(min = 1))]
    pub field: Vec<String>,
    #[schemars(length(min = 1))]
    pub high: Vec<String>,
}

/// The JSON Schema of the state model (`brain schema state-model`).
pub fn schema() -> Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(crate::config::schema_errors::schema_value::<StateModel>)
        .clone()
}

/// What a problem in a model is about (each kind is one lint rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A collection brain does not read.
    UnknownCollection,
    /// A value (or a value and a prefix) in two classes.
    ValueInTwoClasses,
    /// A class written with no values, or a collection with no class at all.
    EmptyClass,
    /// A value listed twice in one class, `*` not at the end, a queue naming a class the
    /// collection leaves out.
    Malformed,
}

/// One problem, at a JSON pointer into the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub pointer: String,
    pub message: String,
    pub help: String,
}

fn pointer(collection: &str, rest: &str) -> String {
    format!(
        "/collections/{}{rest}",
        crate::yaml::pointer_token(collection)
    )
}

/// A value as the model compares it: trimmed, lower case.
pub fn normalize(value: &str) -> String {
    value.trim().to_lowercase()
}

/// Every semantic problem of a parsed model (its schema was checked when it was parsed).
pub fn problems(model: &StateModel) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (collection, rule) in &model.collections {
        if !KNOWN_COLLECTIONS.contains(&collection.as_str()) {
            let suggestion =
                crate::diagnostic::did_you_mean(collection, KNOWN_COLLECTIONS.iter().copied())
                    .map_or_else(String::new, |found| format!("did you mean `{found}`? "));
            problems.push(Problem {
                kind: ProblemKind::UnknownCollection,
                pointer: pointer(collection, ""),
                message: format!("brain reads no collection named `{collection}`"),
                help: format!(
                    "{suggestion}known collections: {}",
                    KNOWN_COLLECTIONS.join(", ")
                ),
            });
        }
        let mut exact: BTreeMap<String, (Class, &str)> = BTreeMap::new();
        let mut prefixes: Vec<(String, Class, usize, &str)> = Vec::new();
        let mut any_values = false;
        for (class, values) in rule.classes.each() {
            let Some(values) = values else { continue };
            let class_pointer = pointer(collection, &format!("/classes/{}", class.as_str()));
            if values.is_empty() {
                problems.push(Problem {
                    kind: ProblemKind::EmptyClass,
                    pointer: class_pointer.clone(),
                    message: format!(
                        "class `{}` of `{collection}` lists no values",
                        class.as_str()
                    ),
                    help: "list the values that belong to it, or leave the class out".into(),
                });
            }
            any_values |= !values.is_empty();
            for (index, value) in values.iter().enumerate() {
                let at = format!("{class_pointer}/{index}");
                let normalized = normalize(value);
                if normalized.is_empty() || normalized == "*" {
                    problems.push(Problem {
                        kind: ProblemKind::Malformed,
                        pointer: at,
                        message: format!("`{value}` matches nothing or everything"),
                        help: "write a lifecycle value, or a prefix followed by `*`".into(),
                    });
                    continue;
                }
                let star = normalized.find('*');
                if let Some(position) = star
                    && position != normalized.len() - 1
                {
                    problems.push(Problem {
                        kind: ProblemKind::Malformed,
                        pointer: at,
                        message: format!("`{value}` has a `*` before its end"),
                        help: "a `*` may only end a value, as in `CLOSED_*`".into(),
                    });
                    continue;
                }
                if let Some(prefix) = normalized.strip_suffix('*') {
                    prefixes.push((prefix.to_string(), class, index, value.as_str()));
                    continue;
                }
                match exact.get(&normalized) {
                    Some((other, _)) if *other == class => problems.push(Problem {
                        kind: ProblemKind::Malformed,
                        pointer: at,
                        message: format!(
                            "`{value}` is listed twice in class `{}` of `{collection}` (values compare case-insensitively)",
                            class.as_str()
                        ),
                        help: "remove the repeated value".into(),
                    }),
                    Some((other, _)) => problems.push(Problem {
                        kind: ProblemKind::ValueInTwoClasses,
                        pointer: at,
                        message: format!(
                            "`{value}` of `{collection}` is in class `{}` and in class `{}`",
                            other.as_str(),
                            class.as_str()
                        ),
                        help: "a value belongs to one class; remove it from one of them".into(),
                    }),
                    None => {
                        exact.insert(normalized, (class, value.as_str()));
                    }
                }
            }
        }
        for (prefix, class, index, written) in &prefixes {
            let at = pointer(collection, &format!("/classes/{}/{index}", class.as_str()));
            for (value, (other, other_written)) in &exact {
                if value.starts_with(prefix.as_str()) && other != class {
                    problems.push(Problem {
                        kind: ProblemKind::ValueInTwoClasses,
                        pointer: at.clone(),
                        message: format!(
                            "`{written}` of `{collection}` (class `{}`) also matches `{other_written}` (class `{}`)",
                            class.as_str(),
                            other.as_str()
                        ),
                        help: "a value belongs to one class; narrow the prefix or move the value"
                            .into(),
                    });
                }
            }
        }
        for (first, (prefix, class, index, written)) in prefixes.iter().enumerate() {
            for (other_prefix, other, _, other_written) in &prefixes[first + 1..] {
                let overlap = other_prefix.starts_with(prefix.as_str())
                    || prefix.starts_with(other_prefix.as_str());
                if overlap && other != class {
                    problems.push(Problem {
                        kind: ProblemKind::ValueInTwoClasses,
                        pointer: pointer(
                            collection,
                            &format!("/classes/{}/{index}", class.as_str()),
                        ),
                        message: format!(
                            "`{written}` of `{collection}` (class `{}`) overlaps `{other_written}` (class `{}`)",
                            class.as_str(),
                            other.as_str()
                        ),
                        help: "a value belongs to one class; make the prefixes disjoint".into(),
                    });
                }
            }
        }
        if !any_values {
            problems.push(Problem {
                kind: ProblemKind::EmptyClass,
                pointer: pointer(collection, "/classes"),
                message: format!("`{collection}` puts no value in any class"),
                help: "list the lifecycle values of at least one class".into(),
            });
        }
        if let Some(queue) = &rule.queue {
            if queue.is_empty() {
                problems.push(Problem {
                    kind: ProblemKind::EmptyClass,
                    pointer: pointer(collection, "/queue"),
                    message: format!("the queue of `{collection}` counts no class"),
                    help: "name the classes its queue counts, or leave `queue` out for open and in_progress".into(),
                });
            }
            for (index, class) in queue.iter().enumerate() {
                let declared = rule
                    .classes
                    .each()
                    .iter()
                    .any(|(each, values)| each == class && values.is_some());
                if !declared {
                    problems.push(Problem {
                        kind: ProblemKind::Malformed,
                        pointer: pointer(collection, &format!("/queue/{index}")),
                        message: format!(
                            "the queue of `{collection}` counts class `{}`, which it leaves out",
                            class.as_str()
                        ),
                        help: "list the class's values under `classes`, or drop it from `queue`"
                            .into(),
                    });
                }
            }
        }
    }
    problems
}

/// A model file parsed against the schema: the typed model when it parsed, and every finding
/// (schema and semantic problems with their spans).
pub fn parse(source: SourceFile) -> crate::capability::Parsed<StateModel> {
    let mut parsed = crate::capability::parse_yaml::<StateModel>(source, &schema(), "state-model");
    if let (Some(model), Some(document)) = (&parsed.value, &parsed.document) {
        for problem in problems(model) {
            parsed
                .findings
                .push(problem.finding(&parsed.source, document));
        }
    }
    parsed
}

impl ProblemKind {
    /// The lint rule that reports it.
    pub fn rule(self) -> &'static str {
        match self {
            ProblemKind::UnknownCollection => "state-model-unknown-collection",
            ProblemKind::ValueInTwoClasses => "state-model-value-in-two-classes",
            ProblemKind::EmptyClass => "state-model-empty-class",
            ProblemKind::Malformed => "state-model-malformed",
        }
    }
}

impl Problem {
    pub fn finding(&self, source: &SourceFile, document: &crate::yaml::Document) -> Finding {
        Finding::error(self.kind.rule(), self.message.clone())
            .at(source, document.value_span(&self.pointer), "here")
            .with_help(self.help.clone())
    }
}

/// A validated model, ready to classify records.
#[derive(Debug, Clone)]
pub struct Model {
    pub model: StateModel,
    /// SHA-256 of the model's canonical JSON (comments and layout do not change it).
    pub hash: String,
    /// Where it came from: the file's path, or `built-in`.
    pub origin: String,
    collections: HashMap<String, Compiled>,
}

#[derive(Debug, Clone)]
struct Compiled {
    /// Normalized value → its class and the entry as written.
    exact: HashMap<String, (Class, String)>,
    /// Normalized prefix → its class and the entry as written (`CLOSED_*`).
    prefixes: Vec<(String, Class, String)>,
    queue: Vec<Class>,
}

/// How a value was classified, for `brain snapshot explain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Match {
    pub class: Class,
    /// The entry of the model that matched: the value itself or a `PREFIX*`.
    pub rule: String,
}

/// The model's name as snapshots record it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ModelRef {
    pub id: String,
    pub version: u32,
    pub hash: String,
}

impl std::fmt::Display for ModelRef {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} v{} ({})",
            self.id,
            self.version,
            &self.hash[..12.min(self.hash.len())]
        )
    }
}

impl Model {
    /// Compile `model`; refuses one with problems (their messages joined).
    pub fn new(model: StateModel, origin: impl Into<String>) -> Result<Self, String> {
        let problems = problems(&model);
        if !problems.is_empty() {
            return Err(problems
                .iter()
                .map(|problem| problem.message.clone())
                .collect::<Vec<_>>()
                .join("; "));
        }
        let value = serde_json::to_value(&model).unwrap_or(Value::Null);
        let hash = crate::audit::sha256_hex(crate::audit::canonical_json(&value).as_bytes());
        let collections = model
            .collections
            .iter()
            .map(|(name, rule)| {
                let mut compiled = Compiled {
                    exact: HashMap::new(),
                    prefixes: Vec::new(),
                    queue: rule
                        .queue
                        .clone()
                        .unwrap_or_else(|| vec![Class::Open, Class::InProgress]),
                };
                for (class, values) in rule.classes.each() {
                    for value in values.into_iter().flatten() {
                        let normalized = normalize(value);
                        let written = value.trim().to_string();
                        match normalized.strip_suffix('*') {
                            Some(prefix) => {
                                compiled.prefixes.push((prefix.to_string(), class, written));
                            }
                            None => {
                                compiled.exact.insert(normalized, (class, written));
                            }
                        }
                    }
                }
                (name.clone(), compiled)
            })
            .collect();
        Ok(Self {
            model,
            hash,
            origin: origin.into(),
            collections,
        })
    }

    /// The model shipped with brain.
    pub fn built_in() -> Self {
        let parsed = parse(SourceFile::new("built-in studio-state.yaml", BUILT_IN));
        let model = parsed
            .value
            .filter(|_| parsed.findings.is_empty())
            .expect("the built-in state model is valid (tested)");
        Self::new(model, "built-in").expect("the built-in state model is valid (tested)")
    }

    pub fn reference(&self) -> ModelRef {
        ModelRef {
            id: self.model.id.clone(),
            version: self.model.version,
            hash: self.hash.clone(),
        }
    }

    pub fn rule(&self, collection: &str) -> Option<&CollectionRule> {
        self.model.collections.get(collection)
    }

    /// What people call `collection`.
    pub fn title<'a>(&'a self, collection: &'a str) -> &'a str {
        self.rule(collection)
            .and_then(|rule| rule.title.as_deref())
            .unwrap_or(collection)
    }

    /// The class of `value` in `collection`, with the entry that matched; `None` when the value
    /// is in no class (or the model does not cover the collection).
    pub fn classify(&self, collection: &str, value: &str) -> Option<Match> {
        let compiled = self.collections.get(collection)?;
        let normalized = normalize(value);
        if let Some((class, written)) = compiled.exact.get(&normalized) {
            return Some(Match {
                class: *class,
                rule: written.clone(),
            });
        }
        compiled
            .prefixes
            .iter()
            .filter(|(prefix, _, _)| normalized.starts_with(prefix.as_str()))
            .max_by_key(|(prefix, _, _)| prefix.len())
            .map(|(_, class, written)| Match {
                class: *class,
                rule: written.clone(),
            })
    }

    /// Whether `class` counts in the queue of `collection`.
    pub fn in_queue(&self, collection: &str, class: Class) -> bool {
        self.collections
            .get(collection)
            .is_some_and(|compiled| compiled.queue.contains(&class))
    }

    /// The lifecycle value of a record of `collection` (its first lifecycle field present),
    /// as written; `None` when the record has none.
    pub fn lifecycle_value<'a>(&self, collection: &str, fields: &'a Value) -> Option<&'a str> {
        let rule = self.rule(collection)?;
        first_text(fields, &rule.lifecycle)
    }

    /// Whether `fields` of a `collection` record mark it closed (or unknown to the model): the
    /// check swarms make before they flag a record.
    pub fn is_closed(&self, collection: &str, fields: &Value) -> bool {
        self.lifecycle_value(collection, fields)
            .and_then(|value| self.classify(collection, value))
            .is_some_and(|found| found.class == Class::Closed)
    }
}

/// The field at a dotted `path` (`preferredWindow.latestDate`).
pub fn field<'a>(fields: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = fields;
    for part in path.split('.') {
        current = current.get(part)?;
    }
    (!current.is_null()).then_some(current)
}

/// The first of `paths` that holds text.
pub fn first_text<'a>(fields: &'a Value, paths: &[String]) -> Option<&'a str> {
    paths
        .iter()
        .find_map(|path| field(fields, path).and_then(Value::as_str))
}

/// The first of `paths` that holds a time: RFC 3339 text, seconds since the epoch (Stripe), or
/// a Firestore timestamp written as `{seconds, nanos}` / `{_seconds}`.
pub fn first_time(fields: &Value, paths: &[String]) -> Option<chrono::DateTime<chrono::Utc>> {
    paths
        .iter()
        .find_map(|path| time_value(field(fields, path)?))
}

/// A time from one JSON value, in any of the shapes [`first_time`] accepts.
pub fn time_value(value: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    match value {
        Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|time| time.with_timezone(&chrono::Utc)),
        Value::Number(number) => chrono::DateTime::from_timestamp(number.as_i64()?, 0),
        Value::Object(object) => {
            let seconds = object
                .get("seconds")
                .or_else(|| object.get("_seconds"))?
                .as_i64()?;
            chrono::DateTime::from_timestamp(seconds, 0)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(yaml: &str) -> crate::capability::Parsed<StateModel> {
        parse(SourceFile::new("studio-state.yaml", yaml))
    }

    fn codes(yaml: &str) -> Vec<String> {
        model(yaml)
            .findings
            .iter()
            .map(|finding| finding.code.clone())
            .collect()
    }

    #[test]
    fn the_built_in_model_is_valid_and_covers_every_known_collection() {
        let parsed = model(BUILT_IN);
        assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
        let built_in = Model::built_in();
        for collection in KNOWN_COLLECTIONS {
            assert!(built_in.rule(collection).is_some(), "{collection}");
        }
    }

    #[test]
    fn values_classify_case_insensitively_and_by_the_longest_prefix() {
        let built_in = Model::built_in();
        let class = |collection: &str, value: &str| {
            built_in
                .classify(collection, value)
                .map(|found| found.class)
        };
        assert_eq!(class("batches", "CLOSED_PICKED_UP"), Some(Class::Closed));
        assert_eq!(class("batches", "closed_other"), Some(Class::Closed));
        assert_eq!(class("batches", "LOADED"), Some(Class::InProgress));
        assert_eq!(class("batches", "GLAZED"), None);
        assert_eq!(class("reservations", "booked"), Some(Class::Open));
        assert_eq!(class("reservations", "Cancelled"), Some(Class::Closed));
        assert_eq!(class("kilnFirings", "in-progress"), Some(Class::InProgress));
        assert_eq!(class("kilnFirings", "loaded"), Some(Class::InProgress));
        assert_eq!(class("agentRequests", "needs_review"), Some(Class::Open));
        assert_eq!(
            class("materialsOrders", "payment_pending"),
            Some(Class::Open)
        );
        assert_eq!(class("nope", "open"), None);
        assert_eq!(
            built_in.classify("batches", "CLOSED_OTHER").unwrap().rule,
            "CLOSED_*"
        );
        assert!(built_in.in_queue("agentRequests", Class::Open));
        assert!(!built_in.in_queue("agentRequests", Class::InProgress));
        assert!(built_in.in_queue("kilnFirings", Class::InProgress));
    }

    #[test]
    fn problems_name_unknown_collections_repeated_values_and_empty_classes() {
        let found = codes(
            "id: m\nversion: 1\ncollections:\n  batchez:\n    lifecycle: [state]\n    classes: { open: [A] }\n",
        );
        assert_eq!(found, vec!["state-model-unknown-collection"]);
        let found = codes(
            "id: m\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes: { open: [A, b], closed: [B] }\n",
        );
        assert_eq!(found, vec!["state-model-value-in-two-classes"]);
        let found = codes(
            "id: m\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes: { open: [CLOSED_X], closed: [\"CLOSED_*\"] }\n",
        );
        assert_eq!(found, vec!["state-model-value-in-two-classes"]);
        let found = codes(
            "id: m\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes: { open: [A], closed: [] }\n",
        );
        assert_eq!(found, vec!["state-model-empty-class"]);
        let found = codes(
            "id: m\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes: { open: [\"A*B\", a, A] }\n    queue: [closed]\n",
        );
        assert_eq!(
            found,
            vec![
                "state-model-malformed",
                "state-model-malformed",
                "state-model-malformed"
            ]
        );
        let found = codes("id: m\nversion: 0\ncollections: {}\n");
        assert_eq!(found.len(), 1, "{found:?}");
    }

    #[test]
    fn the_hash_ignores_comments_and_layout() {
        let one = model("id: m\nversion: 1\ncollections:\n  batches:\n    lifecycle: [state]\n    classes: { open: [A] }\n").value.unwrap();
        let two = model("# a comment\nid: m\nversion: 1\ncollections:\n  batches:\n    lifecycle:\n      - state\n    classes:\n      open: [A]\n").value.unwrap();
        assert_eq!(
            Model::new(one, "a").unwrap().hash,
            Model::new(two, "b").unwrap().hash
        );
    }

    #[test]
    fn times_read_text_epoch_seconds_and_firestore_timestamps() {
        let fields = serde_json::json!({
            "a": "2026-12-01T10:00:00Z",
            "b": 1_764_583_200,
            "c": { "seconds": 1_764_583_200, "nanos": 0 },
            "w": { "latestDate": "2026-12-02T00:00:00Z" }
        });
        let paths = |names: &[&str]| {
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>()
        };
        assert!(first_time(&fields, &paths(&["a"])).is_some());
        assert_eq!(
            first_time(&fields, &paths(&["b"])),
            first_time(&fields, &paths(&["c"]))
        );
        assert!(first_time(&fields, &paths(&["missing", "w.latestDate"])).is_some());
        assert!(first_time(&fields, &paths(&["missing"])).is_none());
    }
}
