//! Connectors: brain's read-only links to the studio's devices (the Hubitat hub through its
//! Maker API, the Roborock vacuums through a Home Assistant bridge).
//!
//! A connector has an id, a kind, a class (cloud or physical), a health check and typed reads
//! ([`Device::poll`]). Everything around the device call is shared and lives here once:
//! timeouts, retries with jittered backoff (never after an auth failure), the circuit breaker,
//! the per-connector request budget and the error taxonomy ([`ErrorKind`]), all in
//! [`guard::Guarded`]; the HTTP layer ([`http::HttpTransport`]) only sends GETs to paths on an
//! explicit allowlist. [`sim`] holds local simulators of both devices that speak the real wire
//! formats, with fault injection; [`harness`] is the contract suite every registered kind passes.
//! [`fleet`] runs the connectors inside `brain serve`: each poll authorized by the Engine as
//! `system:connector:<id>` under the connector's read capability.
//!
//! Architecture Invariant: a physical connector has no write path. A write intent is refused
//! with [`ErrorKind::ReadOnlyViolation`] (`READ_ONLY_TARGET`) before any I/O, and the HTTP layer
//! refuses any path that is not on its kind's read allowlist before sending anything.
//! Architecture Invariant: a secret (access token, bearer token) never appears in an error, a
//! log line, a reading or a page: errors are built without URLs and scrubbed of the secret.

pub mod fleet;
pub mod guard;
pub mod harness;
pub mod homeassistant;
pub mod http;
pub mod hubitat;
pub mod registry;
pub mod roborock;
pub mod sim;

use std::collections::BTreeMap;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::ConnectorKind;

/// The one error taxonomy of every connector.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The device refused the credentials (401/403, or an auth error body). Never retried;
    /// polling stops until an operator fixes the token and restarts brain.
    Auth,
    /// No answer within the connector's `timeout`.
    Timeout,
    /// Connection refused, 5xx, 408, or the circuit breaker is open.
    Unavailable,
    /// 429, or the connector's own request budget is spent.
    RateLimited,
    /// An answer brain cannot read (not JSON, wrong shape, an `error` body with status 200).
    BadResponse,
    /// A write was asked of a read-only target (`READ_ONLY_TARGET`); nothing was sent.
    ReadOnlyViolation,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Auth,
        ErrorKind::Timeout,
        ErrorKind::Unavailable,
        ErrorKind::RateLimited,
        ErrorKind::BadResponse,
        ErrorKind::ReadOnlyViolation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::BadResponse => "bad_response",
            ErrorKind::ReadOnlyViolation => "read_only_violation",
        }
    }

    /// The stable code printed with the error.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Auth => "CONNECTOR_AUTH",
            ErrorKind::Timeout => "CONNECTOR_TIMEOUT",
            ErrorKind::Unavailable => "CONNECTOR_UNAVAILABLE",
            ErrorKind::RateLimited => "CONNECTOR_RATE_LIMITED",
            ErrorKind::BadResponse => "CONNECTOR_BAD_RESPONSE",
            ErrorKind::ReadOnlyViolation => "READ_ONLY_TARGET",
        }
    }

    /// Worth another attempt within the same read.
    pub fn retryable(self) -> bool {
        matches!(self, ErrorKind::Timeout | ErrorKind::Unavailable)
    }
}

/// A connector failure: its kind and a message that never holds a secret or a URL with one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize, JsonSchema)]
#[error("{} ({}): {message}", .kind.code(), .kind.as_str())]
pub struct ConnectorError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ConnectorError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// The refusal of a write intent on a read-only target.
    pub fn read_only(connector: &str) -> Self {
        Self::new(
            ErrorKind::ReadOnlyViolation,
            format!(
                "connector `{connector}` is read-only by construction: the write was refused and nothing was sent"
            ),
        )
    }
}

/// Cloud or physical. Physical connectors are read-only by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorClass {
    Cloud,
    Physical,
}

impl ConnectorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorClass::Cloud => "cloud",
            ConnectorClass::Physical => "physical",
        }
    }
}

/// Health of one connector.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// The last read succeeded and its data is changing.
    Healthy,
    /// Reads succeed but the data stopped changing (stale), or the breaker is half-open.
    Degraded,
    /// The last read failed, the breaker is open, or the credentials were refused.
    Down,
    /// Not read yet.
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// One device as brain normalises it, whatever shape the device API sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceReading {
    pub id: String,
    pub label: String,
    /// `switch`, `contact sensor`, `vacuum`, ... (the device type or driver name).
    #[serde(rename = "type")]
    pub device_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Attribute name → value (numbers stay numbers; units beside them).
    pub attributes: BTreeMap<String, Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// When the device itself last reported, as the device API wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<String>,
}

/// One attribute's value, with its data type and unit when the device gave them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Attribute {
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl Attribute {
    pub fn of(value: impl Into<Value>) -> Self {
        Self {
            value: value.into(),
            ..Self::default()
        }
    }

    pub fn with_unit(value: impl Into<Value>, unit: &str) -> Self {
        Self {
            value: value.into(),
            data_type: None,
            unit: Some(unit.to_string()),
        }
    }
}

/// What one poll read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Readings {
    pub devices: Vec<DeviceReading>,
    /// Connector-wide facts (`mode`, `hsm` on Hubitat).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub facts: BTreeMap<String, Value>,
    /// Items of the answers that could not be read (counted, named in `problems`).
    pub unparseable: u64,
    /// What could not be read, in words (a skipped item, an optional endpoint that failed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl Readings {
    /// A fingerprint of what the devices reported, to tell fresh data from stale.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(serde_json::to_vec(&self.devices).unwrap_or_default());
        hasher.update(serde_json::to_vec(&self.facts).unwrap_or_default());
        hex::encode(hasher.finalize())
    }

    pub(crate) fn skip(&mut self, problem: String) {
        self.unparseable += 1;
        // Counted and named in the readings and metrics; the health change to degraded is
        // what gets logged, once, not every item of every poll.
        tracing::debug!(problem = %problem, "unparseable item in a device answer");
        self.problems.push(problem);
    }
}

/// A request to change something through a connector. Physical connectors refuse every one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WriteIntent {
    /// What the write would do (`devices/5/on`, `hsm/disarm`, `services/vacuum/start`).
    pub operation: String,
    #[serde(default)]
    pub input: Value,
}

/// A device API client: typed reads only. Implementations build every request from their own
/// closed set of read endpoints; none has a method that could send a command.
#[async_trait]
pub trait Device: Send + Sync {
    fn kind(&self) -> ConnectorKind;
    fn class(&self) -> ConnectorClass;
    /// The cheapest call that proves the device answers and accepts the credentials.
    async fn health_check(&self) -> Result<(), ConnectorError>;
    /// Read everything the connector reports.
    async fn poll(&self) -> Result<Readings, ConnectorError>;
    /// What the device API is, for display (the base URL without credentials).
    fn location(&self) -> String;
    /// The request and error counts of its HTTP layer.
    fn counters(&self) -> std::sync::Arc<http::Counters>;
}
