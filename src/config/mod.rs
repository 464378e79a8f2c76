//! The config contract: `brain.yaml`, its typed sections, its JSON Schema, and its validation.
//!
//! Loading parses the file with spans, checks it against the JSON Schema generated from the
//! types below (so unknown keys and wrong types are found all at once), deserializes it, then
//! runs the semantic checks (unsafe settings, secrets, paths) and resolves secrets. Every problem
//! is a [`Finding`] pointing into the file; all of them are reported together.
//!
//! Architecture Invariant: a config that produced an error-level finding is never returned, so
//! nothing starts half-configured.

pub mod duration;
pub mod schema_errors;
pub mod secret;
pub mod slos;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostic::{Finding, Findings, Severity, SourceFile, plural};
use crate::yaml;
pub use duration::Duration;
pub use secret::{Secret, SecretRef};

/// The demo studio's config, used when no config is given or found. Its relative paths start at
/// `examples/studio/` of the demo's tree, which [`crate::demo::materialise`] writes under the data
/// directory.
pub const DEMO_CONFIG: &str = include_str!("../../examples/studio/brain.yaml");
/// Where the JSON Schema for `brain.yaml` is documented (used in `$schema` lines).
pub const CONFIG_SCHEMA_HINT: &str = "brain schema config";

/// `brain.yaml`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "brain.yaml",
    description = "Configuration of a brain studio deployment."
)]
pub struct Config {
    /// The studio this brain runs beside.
    #[serde(default)]
    pub studio: StudioConfig,
    /// Directory for local state (the SQLite file, exports). Defaults to `$BRAIN_DATA_DIR`, else
    /// `$XDG_DATA_HOME/brain`, else `~/.local/share/brain`. Relative to brain.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub cloud: CloudConfig,
    /// Connectors to devices and external systems.
    #[serde(default)]
    pub connectors: Vec<ConnectorConfig>,
    #[serde(default)]
    pub schedules: SchedulesConfig,
    #[serde(default)]
    pub thresholds: ThresholdsConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    /// The department swarms `brain serve` runs; each drafts through the Engine as its agent.
    #[serde(default)]
    pub swarms: SwarmsConfig,
    /// The service-level objectives of the scorecard (`brain scorecard`).
    #[serde(default)]
    pub slos: slos::SlosConfig,
    #[serde(default)]
    pub lint: LintConfig,
}

/// The swarms brain runs, by name. A swarm left out does not run.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwarmsConfig {
    /// The ops anomaly detector: drafts `ops.recommendation.draft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops: Option<SwarmConfig<crate::swarms::ops::OpsRules>>,
    /// The marketing drafter: drafts `marketing.post.draft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing: Option<SwarmConfig<crate::swarms::marketing::MarketingRules>>,
    /// Finance reconciliation: Stripe against the portal's orders, drafts `finance.flag.draft`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finance: Option<SwarmConfig<crate::swarms::finance::FinanceRules>>,
    /// The trust & safety triage assistant: drafts `trust_safety.triage.draft`.
    #[serde(
        default,
        rename = "trust-safety",
        skip_serializing_if = "Option::is_none"
    )]
    pub trust_safety: Option<SwarmConfig<crate::swarms::trust_safety::TrustSafetyRules>>,
}

/// One swarm: who it acts as, whose delegation it needs, when it runs, its rules' thresholds.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[serde(bound(deserialize = "R: Deserialize<'de> + Default"))]
#[schemars(bound = "R: JsonSchema + Default + Serialize")]
pub struct SwarmConfig<R> {
    /// The agent it acts as, `agent:NAME`; it runs only under a live delegation to it.
    pub agent: String,
    /// The person who owns it (`staff:NAME`): its delegation comes from them, and it never
    /// acts as them.
    pub owner: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Its own schedule, besides a run after each new snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Run after each new snapshot `brain serve` records.
    #[serde(default = "default_true")]
    pub on_snapshot: bool,
    /// At most this many findings of one rule are proposed per run; the rest are counted.
    #[serde(default = "default_max_findings")]
    pub max_findings_per_rule: u32,
    /// Rule thresholds; every rule has defaults, and `enabled: false` turns one off.
    #[serde(default = "Default::default")]
    #[schemars(default)]
    pub rules: R,
}

fn default_max_findings() -> u32 {
    20
}

/// What every swarm's config has, whatever its rules.
#[derive(Debug, Clone)]
pub struct SwarmSettings<'a> {
    pub info: &'static crate::swarms::SwarmInfo,
    pub agent: &'a str,
    pub owner: &'a str,
    pub enabled: bool,
    pub schedule: Option<&'a Schedule>,
    pub on_snapshot: bool,
    pub max_findings_per_rule: u32,
    /// Each rule, whether it is on, and its cooldown after a rejected draft.
    pub rules: Vec<(&'static crate::swarms::RuleInfo, bool, Duration)>,
}

impl SwarmsConfig {
    /// Every configured swarm's common settings, in catalogue order.
    pub fn each(&self) -> Vec<SwarmSettings<'_>> {
        let mut all = Vec::new();
        if let Some(ops) = &self.ops {
            all.push(ops.settings(&crate::swarms::ops::INFO, ops.rules.each().to_vec()));
        }
        if let Some(marketing) = &self.marketing {
            all.push(marketing.settings(
                &crate::swarms::marketing::INFO,
                marketing.rules.each().to_vec(),
            ));
        }
        if let Some(finance) = &self.finance {
            all.push(finance.settings(&crate::swarms::finance::INFO, finance.rules.each()));
        }
        if let Some(triage) = &self.trust_safety {
            all.push(triage.settings(&crate::swarms::trust_safety::INFO, triage.rules.each()));
        }
        all
    }

    /// The configured swarm named `name`.
    pub fn get(&self, name: &str) -> Option<SwarmSettings<'_>> {
        self.each()
            .into_iter()
            .find(|swarm| swarm.info.name == name)
    }
}

impl<R> SwarmConfig<R> {
    fn settings(
        &self,
        info: &'static crate::swarms::SwarmInfo,
        rules: Vec<(&'static crate::swarms::RuleInfo, bool, Duration)>,
    ) -> SwarmSettings<'_> {
        SwarmSettings {
            info,
            agent: &self.agent,
            owner: &self.owner,
            enabled: self.enabled,
            schedule: self.schedule.as_ref(),
            on_snapshot: self.on_snapshot,
            max_findings_per_rule: self.max_findings_per_rule,
            rules,
        }
    }
}

/// Backups: signed bundles of the audit log and the Engine's records (`brain backup`, and
/// `schedules.backup` inside `brain serve`), from which `brain rebuild` restores.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// Where bundles are written, one directory each. Defaults to `backups` in the data
    /// directory; relative to brain.yaml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// How many bundles to keep; older ones are removed after a new one is written.
    #[serde(default = "default_backup_keep")]
    #[schemars(range(min = 1))]
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: None,
            keep: default_backup_keep(),
        }
    }
}

fn default_backup_keep() -> usize {
    14
}

/// How long derived artifacts are kept (`brain retention run`, and `schedules.retention`
/// inside `brain serve`). Unset means kept forever.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// StudioState snapshots older than this are deleted (the newest is always kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<Duration>,
    /// Field-by-field diffs stored with snapshots older than this are cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diffs: Option<Duration>,
    /// Closed proposals older than this lose their input and plan (the input hash, the
    /// outcome and the audit trail stay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposal_payloads: Option<Duration>,
    /// A connector's latest device readings are removed once older than this (a connector
    /// that stopped reporting then shows no devices rather than old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_readings: Option<Duration>,
    /// Audit events older than this are pruned, but only up to a signed checkpoint covered by
    /// a verified backup bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_events: Option<Duration>,
}

/// The audit log's signed checkpoints.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The Ed25519 key that signs checkpoints of the chain head: 64 hex characters (the
    /// 32-byte seed), a secret. Defaults to `audit-signing.key` in the data directory, which
    /// brain creates (mode 0600) the first time it needs it; `brain init` creates one too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<SecretRef>,
    /// Sign a checkpoint every this many events (and on shutdown).
    #[serde(default = "default_checkpoint_every")]
    #[schemars(range(min = 1))]
    pub checkpoint_every: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            signing_key: None,
            checkpoint_every: default_checkpoint_every(),
        }
    }
}

fn default_checkpoint_every() -> u64 {
    100
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StudioConfig {
    /// Display name of the studio.
    #[serde(default = "default_studio_name")]
    pub name: String,
    /// IANA time zone of the studio, in which `daily_at` schedule times are read.
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

impl Default for StudioConfig {
    fn default() -> Self {
        Self {
            name: default_studio_name(),
            timezone: default_timezone(),
        }
    }
}

fn default_studio_name() -> String {
    "Studio".into()
}

fn default_timezone() -> String {
    "UTC".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address `brain serve` binds (`--listen` overrides it).
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub console: ConsoleConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            auth: AuthConfig::default(),
            console: ConsoleConfig::default(),
        }
    }
}

/// The staff console.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Show no action control and refuse every action route (a wall display, an auditor's
    /// view). The console is read-only while the `global` kill switch is on, too, except for
    /// turning the switches off.
    #[serde(default)]
    pub read_only: bool,
}

fn default_listen() -> String {
    "127.0.0.1:8787".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// `token`: every API call and console session needs an actor token brain issued.
    /// `none`: anonymous, read-only viewing; refused on any non-loopback address.
    #[serde(default)]
    pub mode: AuthMode,
    /// How long a console session lasts.
    #[serde(default = "default_session_ttl")]
    pub session_ttl: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Token,
            session_ttl: default_session_ttl(),
        }
    }
}

fn default_session_ttl() -> Duration {
    Duration::from_secs(12 * 3600)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    #[default]
    Token,
    None,
}

/// Where brain keeps its local (derived, disposable) state. Exactly one backend; SQLite when
/// neither is given.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqlite: Option<SqliteConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<PostgresConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    /// Path of the database file; relative paths are under the data directory.
    #[serde(default = "default_sqlite_path")]
    pub path: PathBuf,
}

fn default_sqlite_path() -> PathBuf {
    PathBuf::from("brain.db")
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// The connection URL (`postgres://user:password@host/db`), a secret.
    pub url: SecretRef,
    /// Largest number of pooled connections.
    #[serde(default = "default_max_connections")]
    #[schemars(range(min = 1, max = 200))]
    pub max_connections: u32,
    /// How long to wait for a connection before giving up.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Duration,
}

fn default_max_connections() -> u32 {
    10
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

/// Where the policy set lives; relative to brain.yaml.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    #[serde(default = "default_policies_dir")]
    pub policies: PathBuf,
    #[serde(default = "default_capabilities_dir")]
    pub capabilities: PathBuf,
    #[serde(default = "default_specs_dir")]
    pub specs: PathBuf,
    /// The state model (how records count into StudioState). Default: `studio-state.yaml` in
    /// the specs directory, else the model built into brain (with a warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_model: Option<PathBuf>,
    /// The swarms' files (the marketing drafter's post templates under `marketing/`).
    #[serde(default = "default_swarms_dir")]
    pub swarms: PathBuf,
    /// The compliance intake gate's term lists. Default: `intake.yaml` in the specs
    /// directory, else the lists built into brain (with a warning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<PathBuf>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            policies: default_policies_dir(),
            capabilities: default_capabilities_dir(),
            specs: default_specs_dir(),
            state_model: None,
            swarms: default_swarms_dir(),
            intake: None,
        }
    }
}

fn default_swarms_dir() -> PathBuf {
    PathBuf::from("swarms")
}

fn default_policies_dir() -> PathBuf {
    PathBuf::from("policies")
}

fn default_capabilities_dir() -> PathBuf {
    PathBuf::from("capabilities")
}

fn default_specs_dir() -> PathBuf {
    PathBuf::from("specs")
}

/// The cloud sources StudioState is derived from. The cloud stays authoritative.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CloudConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firestore: Option<FirestoreConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe: Option<StripeConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixtures: Option<FixturesConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FirestoreConfig {
    pub project_id: String,
    #[serde(default = "default_firestore_database")]
    pub database: String,
    /// Service-account JSON key, a secret. Not needed when `FIRESTORE_EMULATOR_HOST` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SecretRef>,
}

fn default_firestore_database() -> String {
    "(default)".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StripeConfig {
    /// A restricted, read-only API key, a secret.
    pub api_key: SecretRef,
    /// Override of Stripe's API base URL (for a local fake).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Only objects created within this long are read (`created[gte]`).
    #[serde(default = "default_stripe_window")]
    pub window: Duration,
}

fn default_stripe_window() -> Duration {
    Duration::from_secs(35 * 86_400)
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixturesConfig {
    /// Directory holding one folder of JSON documents per collection; relative to brain.yaml.
    pub dir: PathBuf,
}

/// One connector.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Unique id, used in capability targets and kill switch names.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_-]*$"))]
    pub id: String,
    pub kind: ConnectorKind,
    /// `read` (the default) or `write`. Physical kinds are read-only by construction.
    #[serde(default)]
    pub mode: ConnectorMode,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Base URL of the device API (hub, Home Assistant, Firestore override), or
    /// `sim://hubitat` / `sim://homeassistant` for a simulator started inside brain (demo, tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Hubitat Maker API app id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// Access token (Hubitat) or long-lived token (Home Assistant), a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretRef>,
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Duration,
    #[serde(default = "default_request_timeout")]
    pub timeout: Duration,
    /// Where the Firestore write target appends ops notes (kind `firestore`, mode `write`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ops_notes: Option<OpsNotesConfig>,
    /// Data that has not changed for this long, while reads succeed, is stale (default: ten
    /// poll intervals, at least 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_after: Option<Duration>,
    /// Requests the connector may send per rolling hour (default: 1200 Hubitat, 600 Roborock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub request_budget: Option<u32>,
}

impl ConnectorConfig {
    /// The simulator `base_url` names (`sim://hubitat`, `sim://homeassistant`), if any.
    pub fn simulator(&self) -> Option<&str> {
        self.base_url.as_deref()?.strip_prefix("sim://")
    }
}

/// The ops-note write pilot: the collection notes are appended to and the field names used.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpsNotesConfig {
    /// A top-level collection id.
    #[serde(default = "default_ops_notes_collection")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    pub collection: String,
    #[serde(default)]
    pub fields: OpsNoteFields,
}

impl Default for OpsNotesConfig {
    fn default() -> Self {
        Self {
            collection: default_ops_notes_collection(),
            fields: OpsNoteFields::default(),
        }
    }
}

fn default_ops_notes_collection() -> String {
    "opsNotes".into()
}

/// The field names of an ops note document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OpsNoteFields {
    /// The note's text.
    pub text: String,
    /// The batch the note is about, when the input names one.
    pub batch_id: String,
    /// Who proposed the note.
    pub author: String,
    /// When brain wrote it (a Firestore timestamp).
    pub created_at: String,
    /// The audit linkage: proposal id, approval ids, audit event hash.
    pub linkage: String,
}

impl Default for OpsNoteFields {
    fn default() -> Self {
        Self {
            text: "text".into(),
            batch_id: "batchId".into(),
            author: "author".into(),
            created_at: "createdAt".into(),
            linkage: "brain".into(),
        }
    }
}

impl OpsNoteFields {
    /// Every field name with its key, in document order.
    pub fn all(&self) -> [(&'static str, &str); 5] {
        [
            ("text", &self.text),
            ("batch_id", &self.batch_id),
            ("author", &self.author),
            ("created_at", &self.created_at),
            ("linkage", &self.linkage),
        ]
    }
}

fn default_true() -> bool {
    true
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(60)
}

fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Hubitat Elevation hub through the Maker API (physical, read-only).
    Hubitat,
    /// Roborock vacuums through a Home Assistant bridge (physical, read-only).
    Roborock,
    /// Firestore as a write target (the ops-note pilot).
    Firestore,
}

impl ConnectorKind {
    pub fn is_physical(self) -> bool {
        matches!(self, ConnectorKind::Hubitat | ConnectorKind::Roborock)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Hubitat => "hubitat",
            ConnectorKind::Roborock => "roborock",
            ConnectorKind::Firestore => "firestore",
        }
    }

    /// Requests a device connector may send per rolling hour when `request_budget` is unset.
    pub fn default_request_budget(self) -> u32 {
        match self {
            ConnectorKind::Hubitat => 1_200,
            ConnectorKind::Roborock | ConnectorKind::Firestore => 600,
        }
    }

    /// Requests one poll sends (Hubitat: devices, modes, HSM; Roborock: the states list).
    pub fn requests_per_poll(self) -> u32 {
        match self {
            ConnectorKind::Hubitat => 3,
            ConnectorKind::Roborock | ConnectorKind::Firestore => 1,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorMode {
    #[default]
    Read,
    Write,
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulesConfig {
    /// When StudioState snapshots are computed.
    #[serde(default = "default_snapshot_schedule")]
    pub snapshot: Schedule,
    /// When audit export bundles are written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<Schedule>,
    /// When the retention job runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Schedule>,
}

impl Default for SchedulesConfig {
    fn default() -> Self {
        Self {
            snapshot: default_snapshot_schedule(),
            backup: None,
            retention: None,
        }
    }
}

fn default_snapshot_schedule() -> Schedule {
    Schedule {
        every: Some(Duration::from_secs(15 * 60)),
        daily_at: None,
        jitter: Duration::from_secs(30),
    }
}

impl Schedule {
    /// When this schedule next fires after `now`: the sooner of `now + every` and the next
    /// `daily_at` in `zone`. `None` when it has neither (the config check refuses that).
    pub fn next_run(
        &self,
        zone: chrono_tz::Tz,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        use chrono::TimeZone;
        let by_interval = self.every.map(|every| {
            now + chrono::Duration::seconds(i64::try_from(every.as_secs()).unwrap_or(i64::MAX / 4))
        });
        let by_clock = self.daily_at.as_deref().and_then(|text| {
            let time = chrono::NaiveTime::parse_from_str(text, "%H:%M").ok()?;
            let local_today = now.with_timezone(&zone).date_naive();
            (0..3).find_map(|days| {
                let day = local_today + chrono::Days::new(days);
                // A time skipped by a DST change takes the earliest valid instant after it.
                let candidate = zone
                    .from_local_datetime(&day.and_time(time))
                    .earliest()
                    .or_else(|| {
                        zone.from_local_datetime(&(day.and_time(time) + chrono::Duration::hours(1)))
                            .earliest()
                    })?
                    .with_timezone(&chrono::Utc);
                (candidate > now).then_some(candidate)
            })
        });
        match (by_interval, by_clock) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// A schedule: an interval, a daily time, or both.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Duration>,
    /// Local time of day, `HH:MM`, in the studio's time zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub daily_at: Option<String>,
    /// Random delay added to each run so several daemons do not fire together.
    #[serde(default)]
    pub jitter: Duration,
}

impl Default for Duration {
    fn default() -> Self {
        Duration::from_secs(0)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdsConfig {
    /// A snapshot older than this is stale: decisions that need fresh state deny.
    #[serde(default = "default_stale_after")]
    pub snapshot_stale_after: Duration,
    /// Largest allowed difference between a local count and the cloud's own count.
    #[serde(default)]
    pub drift_tolerance: u64,
    /// Longest approval validity a capability may declare.
    #[serde(default = "default_max_approval_validity")]
    pub max_approval_validity: Duration,
    /// Longest an exemption may last.
    #[serde(default = "default_max_exemption")]
    pub max_exemption: Duration,
    /// A proposal not executed within this time expires.
    #[serde(default = "default_proposal_expires_after")]
    pub proposal_expires_after: Duration,
}

impl Default for ThresholdsConfig {
    fn default() -> Self {
        Self {
            snapshot_stale_after: default_stale_after(),
            drift_tolerance: 0,
            max_approval_validity: default_max_approval_validity(),
            max_exemption: default_max_exemption(),
            proposal_expires_after: default_proposal_expires_after(),
        }
    }
}

fn default_stale_after() -> Duration {
    Duration::from_secs(30 * 60)
}

fn default_max_approval_validity() -> Duration {
    Duration::from_secs(7 * 86_400)
}

fn default_max_exemption() -> Duration {
    Duration::from_secs(30 * 86_400)
}

fn default_proposal_expires_after() -> Duration {
    Duration::from_secs(7 * 86_400)
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// Per-rule severity overrides: `rule-id: error | warning | off`.
    #[serde(default)]
    pub severities: BTreeMap<String, LintLevel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LintLevel {
    Error,
    Warning,
    Off,
}

/// Where the config came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// A file given with `--config` / `BRAIN_CONFIG`, or `./brain.yaml`.
    File(PathBuf),
    /// No file, in a directory holding a policy tree (see [`Fallback::PolicyTree`]): that tree,
    /// with every setting at its default.
    PolicyTree(PathBuf),
    /// No file: the built-in demo studio.
    Demo,
}

/// What a command works on when no config is given and there is no `./brain.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The built-in demo studio.
    Demo,
    /// The policy tree in the current directory (it has a `policies/` or `capabilities/`
    /// directory) with the default settings, else the demo studio. For the commands that judge a
    /// policy set (`lint`, `test`, `eval`, `fmt`): run in a repository without brain.yaml, they
    /// must judge that repository, never pass on the demo instead.
    PolicyTree,
}

/// A validated config with secrets resolved and paths made absolute.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub origin: ConfigOrigin,
    /// Directory relative paths are resolved against.
    pub base_dir: PathBuf,
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Warnings found while loading (errors stop loading).
    pub warnings: Vec<Finding>,
    /// The file's text and spans, for checks that run after loading.
    pub source: SourceFile,
    pub document: yaml::Document,
}

/// `a/b/../c` → `a/c`, without touching the file system (paths need not exist).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl LoadedConfig {
    /// Where backup bundles go: `backup.dir`, else `backups` in the data directory.
    pub fn backup_dir(&self) -> PathBuf {
        match &self.config.backup.dir {
            Some(dir) => normalize(&self.base_dir.join(dir)),
            None => self.data_dir.join("backups"),
        }
    }

    pub fn policies_dir(&self) -> PathBuf {
        normalize(&self.base_dir.join(&self.config.policy.policies))
    }

    pub fn capabilities_dir(&self) -> PathBuf {
        normalize(&self.base_dir.join(&self.config.policy.capabilities))
    }

    pub fn specs_dir(&self) -> PathBuf {
        normalize(&self.base_dir.join(&self.config.policy.specs))
    }

    /// Where the intake gate's term lists are looked for: `policy.intake`, else `intake.yaml` in
    /// the specs directory.
    pub fn intake_path(&self) -> PathBuf {
        match &self.config.policy.intake {
            Some(path) => normalize(&self.base_dir.join(path)),
            None => self.specs_dir().join(crate::intake::FILE_NAME),
        }
    }

    pub fn swarms_dir(&self) -> PathBuf {
        normalize(&self.base_dir.join(&self.config.policy.swarms))
    }

    /// Where the state model is looked for: `policy.state_model`, else `studio-state.yaml` in
    /// the specs directory.
    pub fn state_model_path(&self) -> PathBuf {
        match &self.config.policy.state_model {
            Some(path) => normalize(&self.base_dir.join(path)),
            None => self.specs_dir().join(crate::snapshot::model::FILE_NAME),
        }
    }

    /// The SQLite file, when the store is SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        if self.config.store.postgres.is_some() {
            return None;
        }
        let relative = self
            .config
            .store
            .sqlite
            .as_ref()
            .map_or_else(default_sqlite_path, |sqlite| sqlite.path.clone());
        Some(normalize(&self.data_dir.join(relative)))
    }

    /// The studio repository's root, which paths a repository's files name (a manifest's
    /// `tests:`) are relative to: the config file's directory, or the policy tree's. `None` for
    /// the built-in demo: its manifests name brain's own test files, which a binary does not
    /// carry.
    pub fn repository_root(&self) -> Option<PathBuf> {
        match self.origin {
            ConfigOrigin::File(_) | ConfigOrigin::PolicyTree(_) => Some(self.base_dir.clone()),
            ConfigOrigin::Demo => None,
        }
    }

    /// A short name of the config's origin for messages.
    pub fn origin_name(&self) -> String {
        match &self.origin {
            ConfigOrigin::File(path) => path.display().to_string(),
            ConfigOrigin::PolicyTree(_) => {
                "no brain.yaml (the policy tree here, default settings)".into()
            }
            ConfigOrigin::Demo => "examples/studio/brain.yaml (the built-in demo studio)".into(),
        }
    }

    /// One line for stderr when no config was given or found, saying what the command works on
    /// instead; `None` for a config file.
    pub fn fallback_notice(&self) -> Option<String> {
        const NONE: &str = "no brain.yaml here or given with --config";
        match &self.origin {
            ConfigOrigin::File(_) => None,
            ConfigOrigin::PolicyTree(_) => Some(format!(
                "{NONE}: using the policy tree in this directory (`{}`, `{}`, `{}`) with default settings",
                self.config.policy.policies.display(),
                self.config.policy.capabilities.display(),
                self.config.policy.specs.display()
            )),
            ConfigOrigin::Demo => Some(format!("{NONE}: using the built-in demo studio")),
        }
    }

    /// The effective config as JSON, secrets redacted.
    pub fn effective_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut value {
            map.insert(
                "data_dir".into(),
                self.data_dir.display().to_string().into(),
            );
            map.entry("server").or_insert_with(|| serde_json::json!({}));
            if let Some(serde_json::Value::Object(server)) = map.get_mut("server") {
                server.insert("listen".into(), self.listen.to_string().into());
            }
            if let Some(path) = self.sqlite_path()
                && let Some(serde_json::Value::Object(store)) = map.get_mut("store")
            {
                store.insert(
                    "sqlite".into(),
                    serde_json::json!({ "path": path.display().to_string() }),
                );
            }
        }
        value
    }
}

/// Why loading failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    #[error("cannot read config file `{path}`: {cause}")]
    #[diagnostic(
        code(config::unreadable),
        help("check the path given with --config or BRAIN_CONFIG")
    )]
    Unreadable { path: String, cause: String },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Demo(#[from] crate::demo::DemoError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(#[from] Findings),
}

/// What loading needs from the outside world, so tests can control it.
pub struct Environment<'a> {
    pub var: &'a dyn Fn(&str) -> Option<String>,
    pub current_dir: PathBuf,
}

impl Environment<'_> {
    pub fn process() -> Environment<'static> {
        Environment {
            var: &|name| std::env::var(name).ok(),
            current_dir: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
        }
    }
}

/// Find and load the config: `explicit` (from `--config` / `BRAIN_CONFIG`), else `./brain.yaml`,
/// else the demo studio.
pub fn load(
    explicit: Option<&Path>,
    environment: &Environment<'_>,
) -> Result<LoadedConfig, ConfigError> {
    load_or(explicit, environment, Fallback::Demo)
}

/// [`load`], with `fallback` deciding what to work on when there is no config file.
pub fn load_or(
    explicit: Option<&Path>,
    environment: &Environment<'_>,
    fallback: Fallback,
) -> Result<LoadedConfig, ConfigError> {
    let candidate = explicit.map(Path::to_path_buf).or_else(|| {
        Some(PathBuf::from("brain.yaml"))
            .filter(|path| environment.current_dir.join(path).is_file())
    });
    match candidate {
        Some(path) => {
            let absolute = if path.is_absolute() {
                path.clone()
            } else {
                environment.current_dir.join(&path)
            };
            let text =
                std::fs::read_to_string(&absolute).map_err(|error| ConfigError::Unreadable {
                    path: path.display().to_string(),
                    cause: error.to_string(),
                })?;
            let base_dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
            parse_and_validate(
                &text,
                &path.display().to_string(),
                ConfigOrigin::File(path),
                base_dir,
                environment,
            )
        }
        None if fallback == Fallback::PolicyTree && holds_policy_tree(&environment.current_dir) => {
            parse_and_validate(
                "",
                "(default settings)",
                ConfigOrigin::PolicyTree(environment.current_dir.clone()),
                environment.current_dir.clone(),
                environment,
            )
        }
        None => load_demo(environment),
    }
}

/// Whether `dir` looks like a studio repository: it has the default policy or capability
/// directory.
fn holds_policy_tree(dir: &Path) -> bool {
    let defaults = PolicyConfig::default();
    dir.join(defaults.policies).is_dir() || dir.join(defaults.capabilities).is_dir()
}

/// The built-in demo studio, written first into the default data directory (the demo's config
/// sets no `data_dir`) so that its relative paths resolve there, not in a source tree.
fn load_demo(environment: &Environment<'_>) -> Result<LoadedConfig, ConfigError> {
    let data_dir = resolve_data_dir(&Config::default(), &environment.current_dir, environment);
    let root = crate::demo::materialise(&data_dir)?;
    let config_path = root.join(crate::demo::CONFIG_PATH);
    let base_dir = config_path
        .parent()
        .map_or_else(|| root.clone(), Path::to_path_buf);
    parse_and_validate(
        DEMO_CONFIG,
        crate::demo::CONFIG_PATH,
        ConfigOrigin::Demo,
        base_dir,
        environment,
    )
}

/// Parse, schema-check, deserialize and validate config text.
pub fn parse_and_validate(
    text: &str,
    display_name: &str,
    origin: ConfigOrigin,
    base_dir: PathBuf,
    environment: &Environment<'_>,
) -> Result<LoadedConfig, ConfigError> {
    let source = SourceFile::new(display_name, text);
    let fail = |findings: Vec<Finding>| {
        let errors = findings
            .iter()
            .filter(|finding| finding.severity == Severity::Error)
            .count();
        ConfigError::Invalid(Findings::new(
            format!("{display_name} has {}", plural(errors, "problem")),
            findings,
        ))
    };
    let document = match yaml::parse(text) {
        Ok(document) => document,
        Err(error) => {
            return Err(fail(vec![
                Finding::error("config::syntax", format!("invalid YAML: {}", error.message))
                    .at(&source, error.span, "here")
                    .with_help(
                        "fix the YAML syntax; `brain schema config` prints the expected shape",
                    ),
            ]));
        }
    };
    let mut value = document.value.clone();
    if value.is_null() {
        value = serde_json::json!({});
    }
    let (mut findings, offending) =
        schema_errors::check(&config_schema(), &value, &document, &source, "config");
    // Keep going past shape problems where the rest still makes a config, so that every
    // problem (a typo and a missing secret, say) is reported in one run.
    let mut pruned = schema_errors::prune(value, &offending);
    let mut offending = offending;
    for _ in 0..8 {
        // Pruning can leave an object without a required key: prune that object too.
        let (_, more) =
            schema_errors::check(&config_schema(), &pruned, &document, &source, "config");
        if more.is_empty() {
            break;
        }
        pruned = schema_errors::prune(pruned, &more);
        offending.extend(more);
    }
    let mut config: Config = match serde_json::from_value(pruned) {
        Ok(config) => config,
        Err(error) => {
            if findings.is_empty() {
                findings.push(
                    Finding::error("config::invalid", format!("invalid config: {error}"))
                        .at(&source, document.value_span(""), "in this file")
                        .with_help("`brain schema config` prints the expected shape"),
                );
            }
            return Err(fail(findings));
        }
    };
    let context = Check {
        source: &source,
        document: &document,
        base_dir: &base_dir,
        environment,
        offending: &offending,
    };
    let listen = context.check_server(&config, &mut findings);
    context.check_store(&mut config, &mut findings);
    context.check_paths(&config, &mut findings);
    context.check_cloud(&mut config, &mut findings);
    context.check_connectors(&mut config, &mut findings);
    context.check_schedules(&config, &mut findings);
    context.check_swarms(&config, &mut findings);
    for (index, webhook) in config.slos.webhooks.iter_mut().enumerate() {
        context.resolve_secret(
            &mut webhook.url,
            &format!("/slos/webhooks/{index}/url"),
            &mut findings,
        );
    }
    context.check_slos(&config, &mut findings);
    if let Some(key) = &mut config.audit.signing_key {
        context.resolve_secret(key, "/audit/signing_key", &mut findings);
    }
    let data_dir = resolve_data_dir(&config, &base_dir, environment);
    findings.sort_by_key(|finding| finding.span.as_ref().map_or(usize::MAX, |span| span.start));
    if findings
        .iter()
        .any(|finding| finding.severity == Severity::Error)
    {
        return Err(fail(findings));
    }
    Ok(LoadedConfig {
        config,
        origin,
        base_dir,
        data_dir,
        listen: listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8787))),
        warnings: findings,
        source,
        document,
    })
}

/// The JSON Schema of `brain.yaml`.
pub fn config_schema() -> serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(schema_errors::schema_value::<Config>)
        .clone()
}

fn resolve_data_dir(config: &Config, base_dir: &Path, environment: &Environment<'_>) -> PathBuf {
    if let Some(dir) = &config.data_dir {
        return normalize(&base_dir.join(dir));
    }
    if let Some(dir) = (environment.var)("BRAIN_DATA_DIR").filter(|dir| !dir.is_empty()) {
        return environment.current_dir.join(dir);
    }
    if let Some(dir) = (environment.var)("XDG_DATA_HOME").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir).join("brain");
    }
    if let Some(home) = (environment.var)("HOME").filter(|home| !home.is_empty()) {
        return PathBuf::from(home).join(".local/share/brain");
    }
    environment.current_dir.join(".brain")
}

struct Check<'a> {
    source: &'a SourceFile,
    document: &'a yaml::Document,
    base_dir: &'a Path,
    environment: &'a Environment<'a>,
    /// Nodes that failed the schema check; checks of what they held are skipped.
    offending: &'a [String],
}

impl Check<'_> {
    /// Whether a schema problem was already reported at or under `pointer`.
    fn already_reported(&self, pointer: &str) -> bool {
        self.offending.iter().any(|bad| {
            bad == pointer
                || bad.starts_with(&format!("{pointer}/"))
                || pointer.starts_with(&format!("{bad}/"))
        })
    }

    fn at_value(&self, finding: Finding, pointer: &str, label: &str) -> Finding {
        finding.at(self.source, self.document.value_span(pointer), label)
    }

    fn at_key(&self, finding: Finding, pointer: &str, label: &str) -> Finding {
        finding.at(self.source, self.document.key_span(pointer), label)
    }

    fn check_server(&self, config: &Config, findings: &mut Vec<Finding>) -> Option<SocketAddr> {
        if self.already_reported("/server") {
            return None;
        }
        let listen = match config.server.listen.parse::<SocketAddr>() {
            Ok(listen) => listen,
            Err(_) => {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::listen",
                            format!("`{}` is not an address to listen on", config.server.listen),
                        ),
                        "/server/listen",
                        "expected IP:PORT",
                    )
                    .with_help("write an IP address and a port, such as `127.0.0.1:8787`"),
                );
                return None;
            }
        };
        if !listen.ip().is_loopback() && config.server.auth.mode == AuthMode::None {
            let pointer = if self.document.contains("/server/auth/mode") {
                "/server/auth/mode"
            } else {
                "/server/listen"
            };
            findings.push(
                self.at_value(
                    Finding::error(
                        "config::unsafe_bind",
                        format!("refusing to serve `{listen}` without authentication"),
                    ),
                    pointer,
                    "anonymous access on a non-loopback address",
                )
                .with_help(
                    "set `server.auth.mode: token` (the default), or bind a loopback address such as `127.0.0.1:8787`",
                ),
            );
        }
        Some(listen)
    }

    fn check_store(&self, config: &mut Config, findings: &mut Vec<Finding>) {
        if config.store.sqlite.is_some() && config.store.postgres.is_some() {
            findings.push(
                self.at_key(
                    Finding::error(
                        "config::store",
                        "both `store.sqlite` and `store.postgres` are set",
                    ),
                    "/store/postgres",
                    "second backend",
                )
                .with_help(
                    "keep one backend: `sqlite` for a single machine, `postgres` for production",
                ),
            );
        }
        if let Some(postgres) = &mut config.store.postgres {
            self.resolve_secret(&mut postgres.url, "/store/postgres/url", findings);
        }
    }

    fn check_paths(&self, config: &Config, findings: &mut Vec<Finding>) {
        let policy = &config.policy;
        for (key, path) in [
            ("policies", &policy.policies),
            ("capabilities", &policy.capabilities),
        ] {
            let full = self.base_dir.join(path);
            if !full.is_dir() {
                let pointer = format!("/policy/{key}");
                let finding = Finding::error(
                    "config::path",
                    format!("the {key} directory `{}` does not exist", full.display()),
                );
                let finding = if self.document.contains(&pointer) {
                    self.at_value(finding, &pointer, "not a directory")
                } else {
                    finding.in_file(self.source)
                };
                findings.push(
                    finding
                    .with_help(format!(
                        "create it (`brain init` scaffolds one), or point `policy.{key}` at it; relative paths start at the config file's directory"
                    )),
                );
            }
        }
        if let Some(path) = &policy.state_model {
            let full = self.base_dir.join(path);
            if !full.is_file() {
                let finding = Finding::error(
                    "config::path",
                    format!("the state model `{}` does not exist", full.display()),
                );
                findings.push(
                    self.at_value(finding, "/policy/state_model", "no such file")
                        .with_help("point `policy.state_model` at the studio's state model, or leave it out to use `studio-state.yaml` in the specs directory"),
                );
            }
        }
    }

    fn check_cloud(&self, config: &mut Config, findings: &mut Vec<Finding>) {
        if let Some(firestore) = &mut config.cloud.firestore {
            if firestore.project_id.trim().is_empty() {
                findings.push(
                    self.at_value(
                        Finding::error("config::firestore", "`cloud.firestore.project_id` is empty"),
                        "/cloud/firestore/project_id",
                        "empty",
                    )
                    .with_help("write the Google Cloud project id that holds the studio's Firestore database"),
                );
            }
            let emulator = (self.environment.var)("FIRESTORE_EMULATOR_HOST")
                .is_some_and(|host| !host.is_empty());
            match &mut firestore.credentials {
                Some(credentials) => self.resolve_secret(credentials, "/cloud/firestore/credentials", findings),
                None if !emulator => findings.push(
                    self.at_key(
                        Finding::error("config::firestore", "Firestore needs credentials"),
                        "/cloud/firestore",
                        "no `credentials`",
                    )
                    .with_help(
                        "add `credentials: { file: PATH }` with a service-account key, or set FIRESTORE_EMULATOR_HOST to use the emulator",
                    ),
                ),
                None => {}
            }
        }
        if let Some(stripe) = &mut config.cloud.stripe {
            self.resolve_secret(&mut stripe.api_key, "/cloud/stripe/api_key", findings);
        }
        if let Some(fixtures) = &config.cloud.fixtures {
            let full = self.base_dir.join(&fixtures.dir);
            if !full.is_dir() {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::path",
                            format!("the fixtures directory `{}` does not exist", full.display()),
                        ),
                        "/cloud/fixtures/dir",
                        "not a directory",
                    )
                    .with_help("point `cloud.fixtures.dir` at a folder with one sub-folder of JSON documents per collection"),
                );
            }
        }
    }

    /// The Firestore write target: it writes through `cloud.firestore`, and its ops-note
    /// collection and field names must be usable as Firestore ids.
    fn check_ops_notes(
        &self,
        connector: &ConnectorConfig,
        pointer: &str,
        firestore_configured: bool,
        findings: &mut Vec<Finding>,
    ) {
        let is_write_target =
            connector.kind == ConnectorKind::Firestore && connector.mode == ConnectorMode::Write;
        if is_write_target && !firestore_configured {
            findings.push(
                self.at_value(
                    Finding::error(
                        "config::connector",
                        format!(
                            "connector `{}` writes to Firestore, but `cloud.firestore` is not configured",
                            connector.id
                        ),
                    ),
                    &format!("{pointer}/kind"),
                    "no Firestore project to write to",
                )
                .with_help("add `cloud.firestore.project_id` (and `credentials`, or set FIRESTORE_EMULATOR_HOST)"),
            );
        }
        let Some(notes) = &connector.ops_notes else {
            return;
        };
        if !is_write_target {
            findings.push(
                self.at_key(
                    Finding::error(
                        "config::connector",
                        format!(
                            "connector `{}` has `ops_notes`, which only a Firestore connector in `mode: write` uses",
                            connector.id
                        ),
                    ),
                    &format!("{pointer}/ops_notes"),
                    "not used here",
                )
                .with_help("remove `ops_notes`, or make this a `kind: firestore`, `mode: write` connector"),
            );
        }
        let mut names = HashSet::new();
        for (key, name) in notes.fields.all() {
            let valid = !name.is_empty()
                && !name.starts_with("__")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            let field_pointer = format!("{pointer}/ops_notes/fields/{key}");
            if !valid {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::connector",
                            format!("`{name}` is not a plain Firestore field name"),
                        ),
                        &field_pointer,
                        "letters, digits and `_`, not starting with a digit or `__`",
                    )
                    .with_help("use a simple name such as `createdAt`"),
                );
            } else if !names.insert(name.to_string()) {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::connector",
                            format!("the field name `{name}` is used twice in `ops_notes.fields`"),
                        ),
                        &field_pointer,
                        "used before",
                    )
                    .with_help("give every ops-note field its own name"),
                );
            }
        }
    }

    fn check_connectors(&self, config: &mut Config, findings: &mut Vec<Finding>) {
        let mut seen = HashSet::new();
        let firestore_configured = config.cloud.firestore.is_some();
        for (index, connector) in config.connectors.iter_mut().enumerate() {
            let pointer = format!("/connectors/{index}");
            if self.already_reported(&pointer) {
                continue;
            }
            if !seen.insert(connector.id.clone()) {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::connector",
                            format!("duplicate connector id `{}`", connector.id),
                        ),
                        &format!("{pointer}/id"),
                        "used before",
                    )
                    .with_help("give every connector its own id"),
                );
            }
            if connector.kind.is_physical() && connector.mode == ConnectorMode::Write {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::unsafe_connector",
                            format!(
                                "connector `{}` is a physical {} connector, which is read-only by construction",
                                connector.id,
                                connector.kind.as_str()
                            ),
                        ),
                        &format!("{pointer}/mode"),
                        "write on a physical device",
                    )
                    .with_help("remove `mode: write`; physical connectors start read-only and stay so"),
                );
            }
            let needs_url = connector.kind.is_physical();
            if needs_url && connector.base_url.is_none() {
                findings.push(
                    self.at_key(
                        Finding::error(
                            "config::connector",
                            format!("connector `{}` has no `base_url`", connector.id),
                        ),
                        &pointer,
                        "missing base_url",
                    )
                    .with_help(match connector.kind {
                        ConnectorKind::Hubitat => {
                            "add `base_url: http://HUB-ADDRESS` (the hub's local address)"
                        }
                        _ => "add `base_url: http://HOME-ASSISTANT:8123`",
                    }),
                );
            }
            let simulated = connector
                .simulator()
                .map(|name| name.trim_end_matches('/').to_string());
            let simulated = simulated.as_deref();
            let expected_simulator = match connector.kind {
                ConnectorKind::Hubitat => Some("hubitat"),
                ConnectorKind::Roborock => Some("homeassistant"),
                ConnectorKind::Firestore => None,
            };
            if let Some(name) = simulated
                && Some(name) != expected_simulator
            {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::connector",
                            format!(
                                "`sim://{name}` is no simulator of {} connectors",
                                connector.kind.as_str()
                            ),
                        ),
                        &format!("{pointer}/base_url"),
                        "unknown simulator",
                    )
                    .with_help(match expected_simulator {
                        Some(expected) => format!(
                            "write `base_url: sim://{expected}`, or the device's http(s) URL"
                        ),
                        None => "simulators exist for `hubitat` and `roborock` connectors only"
                            .to_string(),
                    }),
                );
            } else if let Some(url) = &connector.base_url
                && simulated.is_none()
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::connector",
                            format!("`{url}` is not an http(s) URL"),
                        ),
                        &format!("{pointer}/base_url"),
                        "expected http:// or https://",
                    )
                    .with_help("write the full URL, such as `http://192.168.1.20`"),
                );
            }
            if let Some(stale_after) = connector.stale_after
                && stale_after.0 <= connector.poll_interval.0
            {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::connector",
                            format!(
                                "connector `{}` would always read as stale: `stale_after` is not longer than `poll_interval`",
                                connector.id
                            ),
                        ),
                        &format!("{pointer}/stale_after"),
                        "not longer than the poll interval",
                    )
                    .with_help("set `stale_after` to several poll intervals, or remove it (default: ten, at least 5m)"),
                );
            }
            let budget = connector
                .request_budget
                .unwrap_or(connector.kind.default_request_budget());
            let polls_per_hour = 3600_u64.div_ceil(connector.poll_interval.as_secs().max(1));
            let hourly = polls_per_hour * u64::from(connector.kind.requests_per_poll());
            if connector.kind.is_physical() && hourly > u64::from(budget) {
                findings.push(
                    self.at_value(
                        Finding::warning(
                            "config::connector_budget",
                            format!(
                                "connector `{}` would send about {hourly} requests an hour, more than its budget of {budget}: reads past it are refused as rate limited",
                                connector.id
                            ),
                        ),
                        &format!("{pointer}/poll_interval"),
                        "polls too often for the budget",
                    )
                    .with_help("poll less often (`poll_interval`), or raise `request_budget`"),
                );
            }
            if connector.kind == ConnectorKind::Hubitat
                && connector.app_id.is_none()
                && simulated.is_none()
            {
                findings.push(
                    self.at_key(
                        Finding::error("config::connector", format!("connector `{}` has no `app_id`", connector.id)),
                        &pointer,
                        "missing app_id",
                    )
                    .with_help("add the Maker API app id shown in the hub's Maker API page, such as `app_id: \"12\"`"),
                );
            }
            self.check_ops_notes(connector, &pointer, firestore_configured, findings);
            match &mut connector.token {
                Some(token) => self.resolve_secret(token, &format!("{pointer}/token"), findings),
                None if connector.kind.is_physical() && simulated.is_none() => findings.push(
                    self.at_key(
                        Finding::error("config::connector", format!("connector `{}` has no `token`", connector.id)),
                        &pointer,
                        "missing token",
                    )
                    .with_help("add `token: { env: NAME }` naming the environment variable that holds the access token"),
                ),
                None => {}
            }
        }
    }

    fn check_schedules(&self, config: &Config, findings: &mut Vec<Finding>) {
        if config.studio.timezone.parse::<chrono_tz::Tz>().is_err()
            && !self.already_reported("/studio/timezone")
        {
            findings.push(
                self.at_value(
                    Finding::error(
                        "config::timezone",
                        format!("`{}` is not an IANA time zone", config.studio.timezone),
                    ),
                    "/studio/timezone",
                    "unknown time zone",
                )
                .with_help(
                    "write a zone name such as `America/Los_Angeles`, `Europe/Paris` or `UTC`",
                ),
            );
        }
        let schedules = &config.schedules;
        for (name, schedule) in [
            ("snapshot", Some(&schedules.snapshot)),
            ("backup", schedules.backup.as_ref()),
            ("retention", schedules.retention.as_ref()),
        ] {
            let Some(schedule) = schedule else { continue };
            let pointer = format!("/schedules/{name}");
            if self.already_reported(&pointer) {
                continue;
            }
            if schedule.every.is_none() && schedule.daily_at.is_none() {
                findings.push(
                    self.at_key(
                        Finding::error("config::schedule", format!("schedule `{name}` never runs")),
                        &pointer,
                        "neither `every` nor `daily_at`",
                    )
                    .with_help("add `every: 15m`, `daily_at: \"06:00\"`, or both"),
                );
            }
            if let Some(every) = schedule.every
                && every.as_secs() == 0
            {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::schedule",
                            format!("schedule `{name}` has a zero interval"),
                        ),
                        &format!("{pointer}/every"),
                        "zero",
                    )
                    .with_help("use an interval of at least one second, such as `15m`"),
                );
            }
        }
    }

    fn check_swarms(&self, config: &Config, findings: &mut Vec<Finding>) {
        let mut agents: BTreeMap<&str, &str> = BTreeMap::new();
        for swarm in config.swarms.each() {
            let name = swarm.info.name;
            let pointer = format!("/swarms/{name}");
            if self.already_reported(&pointer) {
                continue;
            }
            let agent_ok = swarm
                .agent
                .strip_prefix("agent:")
                .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace));
            if !agent_ok {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::swarm",
                            format!(
                                "swarm `{name}` acts as `{}`, which is not an agent",
                                swarm.agent
                            ),
                        ),
                        &format!("{pointer}/agent"),
                        "not `agent:NAME`",
                    )
                    .with_help(format!(
                        "a swarm acts as an agent under a delegation: write `agent: {}`",
                        swarm.info.default_agent
                    )),
                );
            } else if let Some(other) = agents.insert(swarm.agent, name) {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::swarm",
                            format!("swarms `{other}` and `{name}` act as the same agent `{}`", swarm.agent),
                        ),
                        &format!("{pointer}/agent"),
                        "shared agent",
                    )
                    .with_help("give each swarm its own agent, so its delegation, quotas and audit trail are its own"),
                );
            }
            let owner_ok = ["staff:", "human:"].iter().any(|prefix| {
                swarm
                    .owner
                    .strip_prefix(prefix)
                    .is_some_and(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
            });
            if !owner_ok {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::swarm",
                            format!(
                                "swarm `{name}` is owned by `{}`, which is not a person",
                                swarm.owner
                            ),
                        ),
                        &format!("{pointer}/owner"),
                        "not `staff:NAME`",
                    )
                    .with_help(
                        "the owner delegates to the swarm's agent: write `owner: staff:NAME`",
                    ),
                );
            }
            if let Some(schedule) = swarm.schedule {
                if schedule.every.is_none() && schedule.daily_at.is_none() {
                    findings.push(
                        self.at_key(
                            Finding::error("config::schedule", format!("the schedule of swarm `{name}` never runs")),
                            &format!("{pointer}/schedule"),
                            "neither `every` nor `daily_at`",
                        )
                        .with_help("add `every: 1h`, `daily_at: \"07:00\"`, or leave `schedule` out to run after each snapshot only"),
                    );
                }
                if schedule.every.is_some_and(|every| every.as_secs() == 0) {
                    findings.push(
                        self.at_value(
                            Finding::error(
                                "config::schedule",
                                format!("the schedule of swarm `{name}` has a zero interval"),
                            ),
                            &format!("{pointer}/schedule/every"),
                            "zero",
                        )
                        .with_help("use an interval of at least one second, such as `1h`"),
                    );
                }
            }
            if swarm.max_findings_per_rule == 0 {
                findings.push(
                    self.at_value(
                        Finding::error(
                            "config::swarm",
                            format!("swarm `{name}` may propose no finding"),
                        ),
                        &format!("{pointer}/max_findings_per_rule"),
                        "zero",
                    )
                    .with_help("set at least 1, or `enabled: false` to stop the swarm"),
                );
            }
        }
        if let Some(finance) = &config.swarms.finance {
            for (index, rule) in finance.rules.disabled.iter().enumerate() {
                if !crate::swarms::finance::INFO
                    .rules
                    .iter()
                    .any(|known| known.id == rule)
                {
                    findings.push(
                        self.at_value(
                            Finding::error(
                                "config::swarm",
                                format!("the finance swarm has no rule `{rule}`"),
                            ),
                            &format!("/swarms/finance/rules/disabled/{index}"),
                            "unknown rule",
                        )
                        .with_help(format!(
                            "rules: {}",
                            crate::swarms::finance::INFO
                                .rules
                                .iter()
                                .map(|rule| rule.id)
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                }
            }
        }
        if let Some(ops) = &config.swarms.ops {
            let rules = &ops.rules;
            let known = crate::snapshot::model::KNOWN_COLLECTIONS;
            for (index, queue) in rules.queue_spike.queues.iter().enumerate() {
                if !known.contains(&queue.as_str()) {
                    findings.push(
                        self.at_value(
                            Finding::error(
                                "config::swarm",
                                format!("`{queue}` is not a collection brain reads"),
                            ),
                            &format!("/swarms/ops/rules/queue_spike/queues/{index}"),
                            "unknown collection",
                        )
                        .with_help(format!("collections: {}", known.join(", "))),
                    );
                }
            }
            for queue in rules.aging_queue.limits.keys() {
                if !known.contains(&queue.as_str()) {
                    findings.push(
                        self.at_key(
                            Finding::error(
                                "config::swarm",
                                format!("`{queue}` is not a collection brain reads"),
                            ),
                            &format!(
                                "/swarms/ops/rules/aging_queue/limits/{}",
                                yaml::pointer_token(queue)
                            ),
                            "unknown collection",
                        )
                        .with_help(format!("collections: {}", known.join(", "))),
                    );
                }
            }
            if rules.queue_spike.factor.is_nan() || rules.queue_spike.factor <= 1.0 {
                findings.push(
                    self.at_value(
                        Finding::error("config::swarm", "a queue spike needs a factor above 1"),
                        "/swarms/ops/rules/queue_spike/factor",
                        "not above 1",
                    )
                    .with_help(
                        "a spike is the open count at least `factor` times its median, such as `2`",
                    ),
                );
            }
        }
    }

    fn resolve_secret(
        &self,
        reference: &mut SecretRef,
        pointer: &str,
        findings: &mut Vec<Finding>,
    ) {
        use secret::SecretProblem;
        let Err(problem) = secret::resolve(reference, self.base_dir, self.environment.var) else {
            return;
        };
        let finding = match problem {
            SecretProblem::Inline => schema_errors::inline_secret("config", self.source, self.document, pointer),
            SecretProblem::NoSource | SecretProblem::BothSources => self
                .at_value(
                    Finding::error("config::secret", "a secret needs exactly one source"),
                    pointer,
                    "expected `env` or `file`",
                )
                .with_help("write `{ env: NAME }` or `{ file: PATH }`"),
            SecretProblem::EnvMissing(name) => self
                .at_value(
                    Finding::error("config::secret", format!("environment variable `{name}` is not set")),
                    pointer,
                    "secret read from here",
                )
                .with_help(format!("export {name} before starting brain, or read the secret from a file with `{{ file: PATH }}`")),
            SecretProblem::EnvEmpty(name) => self
                .at_value(
                    Finding::error("config::secret", format!("environment variable `{name}` is empty")),
                    pointer,
                    "secret read from here",
                )
                .with_help(format!("set {name} to the secret's value")),
            SecretProblem::FileUnreadable(path, cause) => self
                .at_value(
                    Finding::error(
                        "config::secret",
                        format!("cannot read secret file `{}`: {cause}", path.display()),
                    ),
                    pointer,
                    "secret read from here",
                )
                .with_help("check the path (relative paths start at brain.yaml's directory) and its permissions"),
            SecretProblem::FileEmpty(path) => self
                .at_value(
                    Finding::error("config::secret", format!("secret file `{}` is empty", path.display())),
                    pointer,
                    "secret read from here",
                )
                .with_help("write the secret into the file"),
        };
        findings.push(finding);
    }
}

#[cfg(test)]
mod schedule_tests {
    use super::*;

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&chrono::Utc)
    }

    #[test]
    fn the_next_run_is_the_sooner_of_the_interval_and_the_daily_time_in_the_studios_zone() {
        let zone: chrono_tz::Tz = "America/Los_Angeles".parse().unwrap();
        let daily = Schedule {
            every: None,
            daily_at: Some("06:00".into()),
            jitter: Duration::from_secs(0),
        };
        // 06:00 in Los Angeles on 1 December is 14:00 UTC.
        assert_eq!(
            daily.next_run(zone, at("2026-12-01T10:00:00Z")),
            Some(at("2026-12-01T14:00:00Z"))
        );
        assert_eq!(
            daily.next_run(zone, at("2026-12-01T14:00:00Z")),
            Some(at("2026-12-02T14:00:00Z")),
            "the same instant is not the next run"
        );
        // In July (daylight time) it is 13:00 UTC.
        assert_eq!(
            daily.next_run(zone, at("2026-07-01T10:00:00Z")),
            Some(at("2026-07-01T13:00:00Z"))
        );
        let both = Schedule {
            every: Some(Duration::from_secs(3600)),
            ..daily.clone()
        };
        assert_eq!(
            both.next_run(zone, at("2026-12-01T13:30:00Z")),
            Some(at("2026-12-01T14:00:00Z"))
        );
        assert_eq!(
            both.next_run(zone, at("2026-12-01T10:00:00Z")),
            Some(at("2026-12-01T11:00:00Z"))
        );
        let never = Schedule {
            every: None,
            daily_at: None,
            jitter: Duration::from_secs(0),
        };
        assert_eq!(never.next_run(zone, at("2026-12-01T10:00:00Z")), None);
    }
}
