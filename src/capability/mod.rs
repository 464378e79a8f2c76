//! Capability manifests (`capabilities/<id>.yaml`) and exemption records
//! (`capabilities/exemptions/*.yaml`): their types, their JSON Schemas, and parsing with spans.
//!
//! Governance metadata (owner, risk tier, failure mode, rollback, tests) is optional in the
//! type so that `brain lint` can name what is missing instead of failing the whole file.
//!
//! Architecture Invariant: no I/O here; callers hand in file texts.
//! Architecture Invariant: [`exemption_in_force`] is the one place that decides whether an
//! exemption applies; lint, the CLI and the daemon all call it.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::config::Duration;
use crate::config::schema_errors;
use crate::diagnostic::{Finding, SourceFile};
use crate::yaml;

/// How risky a capability is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum RiskTier {
    Low,
    Medium,
    High,
    Critical,
}

impl RiskTier {
    pub fn rank(self) -> i64 {
        match self {
            RiskTier::Low => 0,
            RiskTier::Medium => 1,
            RiskTier::High => 2,
            RiskTier::Critical => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RiskTier::Low => "low",
            RiskTier::Medium => "medium",
            RiskTier::High => "high",
            RiskTier::Critical => "critical",
        }
    }

    /// High and critical tiers need a spec and two distinct approvers.
    pub fn is_high(self) -> bool {
        self >= RiskTier::High
    }
}

/// What a capability does to the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Reads an external system.
    Read,
    /// Creates drafts inside brain only.
    Draft,
    /// Changes an external system (or brain's own governance state, for class `internal`).
    Write,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Read => "read",
            Mode::Draft => "draft",
            Mode::Write => "write",
        }
    }
}

/// Where the capability's target lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Cloud,
    Physical,
    Internal,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Cloud => "cloud",
            Class::Physical => "physical",
            Class::Internal => "internal",
        }
    }
}

/// Actor types.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ActorType {
    Staff,
    Human,
    Agent,
    System,
}

impl ActorType {
    pub const ALL: [ActorType; 4] = [
        ActorType::Staff,
        ActorType::Human,
        ActorType::Agent,
        ActorType::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::Staff => "staff",
            ActorType::Human => "human",
            ActorType::Agent => "agent",
            ActorType::System => "system",
        }
    }

    /// The Cedar entity type of this actor type.
    pub fn entity_type(self) -> &'static str {
        match self {
            ActorType::Staff => "Staff",
            ActorType::Human => "Human",
            ActorType::Agent => "Agent",
            ActorType::System => "System",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "staff" => Some(ActorType::Staff),
            "human" => Some(ActorType::Human),
            "agent" => Some(ActorType::Agent),
            "system" => Some(ActorType::System),
            _ => None,
        }
    }
}

impl fmt::Display for ActorType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Who must approve, and for how long an approval stays valid.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Distinct approvals needed before execution (0 for reads and drafts).
    #[serde(default)]
    pub required: u32,
    /// Actor types whose approvals count.
    #[serde(default = "default_approver_types")]
    pub approver_types: Vec<ActorType>,
    /// How long an approval stays valid.
    #[serde(default = "default_valid_for")]
    pub valid_for: Duration,
}

impl Default for Approval {
    fn default() -> Self {
        Self {
            required: 0,
            approver_types: default_approver_types(),
            valid_for: default_valid_for(),
        }
    }
}

fn default_approver_types() -> Vec<ActorType> {
    vec![ActorType::Staff]
}

fn default_valid_for() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// Whose use a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LimitScope {
    /// Each actor separately.
    Actor,
    /// Each owner (an agent counts against its delegating owner).
    Owner,
    /// Everyone together.
    Capability,
}

/// A quota: at most `max` executions per `per` scope in a sliding `window`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub per: LimitScope,
    #[schemars(range(min = 1))]
    pub max: u32,
    pub window: Duration,
}

/// How a capability's effect is undone.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rollback {
    /// A short name: `delete_created_document`, `discard_draft`, `none` (reads), ...
    pub strategy: String,
    /// How, in words a person on call can follow.
    pub how: String,
}

/// A capability manifest.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "capability manifest",
    description = "One capability brain can decide on."
)]
pub struct Manifest {
    /// Dotted id, such as `firestore.ops_note.append`; the file is named `<id>.yaml`.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"))]
    pub id: String,
    pub title: String,
    /// Who answers for it (an actor id such as `staff:studio-manager`, or a team).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_tier: Option<RiskTier>,
    pub mode: Mode,
    /// Connector id of the system it acts on: firestore, stripe, hubitat, roborock, brain, ...
    pub target: String,
    pub class: Class,
    #[serde(default)]
    pub approval: Approval,
    #[serde(default)]
    pub limits: Vec<Limit>,
    /// Decisions deny while the StudioState snapshot is stale or partial.
    #[serde(default)]
    pub requires_fresh_state: bool,
    /// What happens when it fails, and what it never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// Where its tests are.
    #[serde(default)]
    pub tests: Vec<String>,
    /// Path of its RFC-lite spec, relative to the specs directory; required for high and
    /// critical tiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    /// JSON Schema a proposal's input must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_enabled() -> bool {
    true
}

impl Manifest {
    /// The risk tier, defaulting to the strictest when missing (lint reports the gap).
    pub fn tier(&self) -> RiskTier {
        self.risk_tier.unwrap_or(RiskTier::Critical)
    }
}

/// A point in time written as RFC 3339 (`2026-11-01T09:00:00Z`) or a date (`2026-11-01`,
/// meaning midnight UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Ok(time) = DateTime::parse_from_rfc3339(text.trim()) {
            return Ok(Self(time.with_timezone(&Utc)));
        }
        if let Ok(date) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            && let Some(midnight) = date.and_hms_opt(0, 0, 0)
        {
            return Ok(Self(midnight.and_utc()));
        }
        Err(format!(
            "`{text}` is not a time: write RFC 3339 such as `2026-11-01T09:00:00Z`, or a date such as `2026-11-01`"
        ))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Timestamp".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2}))?$",
            "description": "RFC 3339 (`2026-11-01T09:00:00Z`) or a date (`2026-11-01`, midnight UTC)."
        })
    }
}

/// A declared exemption: narrow, time-bounded, justified and attributed.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "exemption",
    description = "A time-bounded exemption from a capability's approval rule."
)]
pub struct Exemption {
    /// The one capability it covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// Only this owner's proposals, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub starts: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    pub requested_by: String,
    pub approved_by: String,
}

/// Whether `exemption` covers `capability` for `owner` at `now`: it names exactly that
/// capability (and that owner, when it names one), it has started and not expired, it is
/// justified, and its requester is not its approver. Revocation is the caller's concern
/// (declared exemptions are revoked by deleting them; runtime ones by a revoke record).
pub fn exemption_in_force(
    exemption: &Exemption,
    capability: &str,
    owner: Option<&str>,
    now: DateTime<Utc>,
) -> bool {
    let Some(covered) = exemption.capability.as_deref() else {
        return false;
    };
    let Some(expires) = exemption.expires else {
        return false;
    };
    covered == capability
        && exemption
            .owner
            .as_deref()
            .is_none_or(|only| Some(only) == owner)
        && exemption.starts.0 <= now
        && now < expires.0
        && exemption
            .justification
            .as_deref()
            .is_some_and(|text| !text.trim().is_empty())
        && exemption.requested_by != exemption.approved_by
}

/// A parsed YAML file: its source and spans, and the typed value when it is valid.
#[derive(Debug, Clone)]
pub struct Parsed<T> {
    pub source: SourceFile,
    pub document: Option<yaml::Document>,
    pub value: Option<T>,
    pub findings: Vec<Finding>,
}

/// The JSON Schema of capability manifests.
pub fn manifest_schema() -> Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(schema_errors::schema_value::<Manifest>)
        .clone()
}

/// The JSON Schema of exemption records.
pub fn exemption_schema() -> Value {
    static SCHEMA: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(schema_errors::schema_value::<Exemption>)
        .clone()
}

/// Parse a YAML file against the schema of `T`; every problem is a finding with a span.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(
    source: SourceFile,
    schema: &Value,
    area: &str,
) -> Parsed<T> {
    let document = match yaml::parse(source.text()) {
        Ok(document) => document,
        Err(error) => {
            let finding = Finding::error(
                format!("{area}::syntax"),
                format!("invalid YAML: {}", error.message),
            )
            .at(&source, error.span, "here")
            .with_help("fix the YAML syntax");
            return Parsed {
                source,
                document: None,
                value: None,
                findings: vec![finding],
            };
        }
    };
    let (findings, _) = schema_errors::check(schema, &document.value, &document, &source, area);
    if !findings.is_empty() {
        return Parsed {
            source,
            document: Some(document),
            value: None,
            findings,
        };
    }
    match serde_json::from_value::<T>(document.value.clone()) {
        Ok(value) => Parsed {
            source,
            document: Some(document),
            value: Some(value),
            findings: Vec::new(),
        },
        Err(error) => {
            let finding = Finding::error(
                format!("{area}::invalid"),
                format!("invalid {area}: {error}"),
            )
            .at(&source, document.value_span(""), "in this file")
            .with_help(format!(
                "`brain schema {area}` documents the expected shape"
            ));
            Parsed {
                source,
                document: Some(document),
                value: None,
                findings: vec![finding],
            }
        }
    }
}

/// Parse a capability manifest.
pub fn parse_manifest(source: SourceFile) -> Parsed<Manifest> {
    parse_yaml(source, &manifest_schema(), "capability")
}

/// Parse an exemption record.
pub fn parse_exemption(source: SourceFile) -> Parsed<Exemption> {
    parse_yaml(source, &exemption_schema(), "exemption")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exemption() -> Exemption {
        Exemption {
            capability: Some("firestore.ops_note.append".into()),
            owner: None,
            starts: Timestamp::parse("2026-11-01").unwrap(),
            expires: Some(Timestamp::parse("2026-11-08T00:00:00Z").unwrap()),
            justification: Some("kiln room inventory week".into()),
            requested_by: "staff:alice".into(),
            approved_by: "staff:bob".into(),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        Timestamp::parse(text).unwrap().0
    }

    #[test]
    fn exemptions_are_in_force_only_inside_their_window_and_scope() {
        let exemption = exemption();
        let capability = "firestore.ops_note.append";
        assert!(exemption_in_force(
            &exemption,
            capability,
            None,
            at("2026-11-03")
        ));
        assert!(!exemption_in_force(
            &exemption,
            capability,
            None,
            at("2026-10-31")
        ));
        assert!(!exemption_in_force(
            &exemption,
            capability,
            None,
            at("2026-11-08")
        ));
        assert!(!exemption_in_force(
            &exemption,
            "other.capability",
            None,
            at("2026-11-03")
        ));

        let owned = Exemption {
            owner: Some("staff:carol".into()),
            ..exemption.clone()
        };
        assert!(exemption_in_force(
            &owned,
            capability,
            Some("staff:carol"),
            at("2026-11-03")
        ));
        assert!(!exemption_in_force(
            &owned,
            capability,
            Some("staff:dan"),
            at("2026-11-03")
        ));

        let self_approved = Exemption {
            approved_by: "staff:alice".into(),
            ..exemption.clone()
        };
        assert!(!exemption_in_force(
            &self_approved,
            capability,
            None,
            at("2026-11-03")
        ));
        let unjustified = Exemption {
            justification: Some("  ".into()),
            ..exemption.clone()
        };
        assert!(!exemption_in_force(
            &unjustified,
            capability,
            None,
            at("2026-11-03")
        ));
        let open_ended = Exemption {
            expires: None,
            ..exemption
        };
        assert!(!exemption_in_force(
            &open_ended,
            capability,
            None,
            at("2026-11-03")
        ));
    }

    #[test]
    fn the_repository_manifests_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities");
        let mut count = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path
                .extension()
                .is_some_and(|extension| extension == "yaml")
            {
                let parsed = parse_manifest(SourceFile::new(
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
                assert!(
                    parsed.findings.is_empty(),
                    "{}: {:?}",
                    path.display(),
                    parsed.findings
                );
                count += 1;
            }
        }
        assert!(count > 0);
    }
}
