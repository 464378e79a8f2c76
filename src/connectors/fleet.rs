//! The configured connectors of one process ([`Fleet`]) and their polling inside `brain serve`.
//!
//! Each poll is first authorized by the Engine as `system:connector:<id>` under the connector's
//! read capability (the manifest with `mode: read` and `target: <id>`), and audited; a denial (a
//! kill switch on `target:<id>`, `physical` or the capability, or the capability disabled)
//! pauses the connector without any I/O. A successful read is kept in memory for the console,
//! the API and metrics, and recorded in the store's runtime table for StudioState snapshots.
//! After an auth failure the connector's polling task ends: nothing more is sent until an
//! operator fixes the token and restarts brain.
//!
//! Architecture Invariant: no device request is sent for a read the Engine did not allow.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::guard::{BreakerState, ConnectorStatus, Guarded};
use super::registry::{self, Settings};
use super::sim::{SimKind, Simulator};
use super::{ConnectorClass, ErrorKind, Health, Readings};
use crate::capability::Manifest;
use crate::config::{ConnectorConfig, LoadedConfig};
use crate::engine::{Engine, EngineError};
use crate::snapshot::{ConnectorDevices, DEVICES_KV_PREFIX, DeviceState};
use crate::store::{KvEntry, Store};

/// The actor a connector's reads are made and audited as.
pub fn actor(id: &str) -> String {
    format!("system:connector:{id}")
}

/// Whether `connector` is one a [`Fleet`] polls: enabled, of a registered device kind.
pub fn is_polled(connector: &ConnectorConfig) -> bool {
    connector.enabled && registry::spec(connector.kind).is_some()
}

/// The read capability of connector `id`: the one manifest with `mode: read` targeting it.
pub fn read_capability(manifests: &BTreeMap<String, Manifest>, id: &str) -> Result<String, String> {
    let found: Vec<&String> = manifests
        .iter()
        .filter(|(_, manifest)| manifest.target == id && manifest.mode.as_str() == "read")
        .map(|(capability, _)| capability)
        .collect();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "no read capability targets `{id}`: add a manifest with `target: {id}` and `mode: read` to the capabilities directory"
        )),
        many => Err(format!(
            "{} read capabilities target `{id}` ({}): keep one",
            many.len(),
            many.iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// One configured connector in this process.
pub struct Member {
    pub id: String,
    pub config: ConnectorConfig,
    pub poll_interval: Duration,
    /// Its read capability, or why it has none (then it is never polled).
    pub capability: Result<String, String>,
    /// The connector, or why it could not be built.
    pub connector: Result<Arc<Guarded>, String>,
    /// The simulator a `sim://` connector talks to; lives as long as the member.
    pub simulator: Option<Simulator>,
}

/// Every enabled device connector of the config.
#[derive(Default)]
pub struct Fleet {
    pub members: Vec<Member>,
}

impl Fleet {
    /// Build the config's enabled device connectors, starting the simulators `sim://` URLs ask
    /// for. A connector that cannot be built is kept with its problem, shown as down.
    pub async fn from_config(
        config: &LoadedConfig,
        manifests: &BTreeMap<String, Manifest>,
    ) -> Self {
        let mut members = Vec::new();
        for connector in config
            .config
            .connectors
            .iter()
            .filter(|connector| is_polled(connector))
        {
            members.push(Member::build(connector, manifests).await);
        }
        Self { members }
    }

    pub fn get(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|member| member.id == id)
    }

    pub fn statuses(&self) -> Vec<ConnectorStatus> {
        self.members.iter().map(Member::status).collect()
    }

    /// Start one polling task per connector that can be polled.
    pub fn spawn_polling(
        self: &Arc<Self>,
        engine: Arc<Engine>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.members.len())
            .filter(|index| self.members[*index].connector.is_ok())
            .map(|index| tokio::spawn(poll_forever(self.clone(), index, engine.clone())))
            .collect()
    }

    /// The connectors as the daemon that polls them sees them, for a daemon that does not
    /// poll (a follower): each member's status as the poller last recorded it in the store
    /// (`connector.status:<id>`), or this process's own where none is recorded. A store that
    /// cannot be read leaves this process's own view.
    pub async fn recorded_statuses(&self, store: &dyn Store) -> Vec<ConnectorStatus> {
        let recorded: BTreeMap<String, ConnectorStatus> = match store
            .kv_list(STATUS_KV_PREFIX)
            .await
        {
            Ok(entries) => entries
                .into_iter()
                .filter_map(|entry| serde_json::from_str::<ConnectorStatus>(&entry.value).ok())
                .map(|status| (status.id.clone(), status))
                .collect(),
            Err(error) => {
                tracing::warn!(error = %error, "could not read the recorded connector statuses");
                BTreeMap::new()
            }
        };
        let now = crate::clock::now();
        self.members
            .iter()
            .map(|member| match recorded.get(&member.id) {
                Some(status) => {
                    let mut status = status.clone();
                    status.last_success_age_seconds = status
                        .last_success_at
                        .as_deref()
                        .and_then(crate::clock::parse_time)
                        .map(|at| (now - at).num_seconds().max(0));
                    status
                }
                None => member.status(),
            })
            .collect()
    }

    /// Wait until every pollable connector has finished its first poll, at most `limit`.
    pub async fn first_reads(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            let waiting = self.members.iter().any(|member| {
                member.capability.is_ok()
                    && member
                        .connector
                        .as_ref()
                        .is_ok_and(|connector| connector.polls_and_paused() == (0, false))
            });
            if !waiting {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The connector metrics in the Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let statuses = self.statuses();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            out,
            "brain_connector_requests_total",
            "counter",
            "Requests a connector sent to its device API.",
        );
        for status in &statuses {
            let _ = writeln!(
                out,
                "brain_connector_requests_total{{connector=\"{}\"}} {}",
                escape(&status.id),
                status.requests
            );
        }
        family(
            out,
            "brain_connector_errors_total",
            "counter",
            "Connector failures by taxonomy kind.",
        );
        for status in &statuses {
            for kind in ErrorKind::ALL {
                let count = status.errors.get(kind.as_str()).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "brain_connector_errors_total{{connector=\"{}\",kind=\"{}\"}} {count}",
                    escape(&status.id),
                    kind.as_str()
                );
            }
        }
        family(
            out,
            "brain_connector_breaker_state",
            "gauge",
            "Circuit breaker: 0 closed, 1 half-open, 2 open.",
        );
        for status in &statuses {
            let _ = writeln!(
                out,
                "brain_connector_breaker_state{{connector=\"{}\"}} {}",
                escape(&status.id),
                status.breaker.gauge()
            );
        }
        family(
            out,
            "brain_connector_last_success_age_seconds",
            "gauge",
            "Seconds since the connector's last successful read; -1 before the first.",
        );
        for status in &statuses {
            let _ = writeln!(
                out,
                "brain_connector_last_success_age_seconds{{connector=\"{}\"}} {}",
                escape(&status.id),
                status.last_success_age_seconds.unwrap_or(-1)
            );
        }
        family(
            out,
            "brain_connector_healthy",
            "gauge",
            "1 healthy, 0.5 degraded, 0 down or not read yet.",
        );
        for status in &statuses {
            let value = match status.health {
                Health::Healthy => "1",
                Health::Degraded => "0.5",
                Health::Down | Health::Unknown => "0",
            };
            let _ = writeln!(
                out,
                "brain_connector_healthy{{connector=\"{}\"}} {value}",
                escape(&status.id)
            );
        }
        family(
            out,
            "brain_connector_unparseable_total",
            "counter",
            "Items of device answers that could not be parsed.",
        );
        for status in &statuses {
            let _ = writeln!(
                out,
                "brain_connector_unparseable_total{{connector=\"{}\"}} {}",
                escape(&status.id),
                status.unparseable_total
            );
        }
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// What one poll did.
#[derive(Debug, Clone, PartialEq)]
pub enum PollOutcome {
    Read(Readings),
    /// The Engine denied the read (reason in words); nothing was sent.
    Denied(String),
    Failed(super::ConnectorError),
}

impl Member {
    async fn build(config: &ConnectorConfig, manifests: &BTreeMap<String, Manifest>) -> Self {
        let capability = read_capability(manifests, &config.id);
        let mut simulator = None;
        let connector = async {
            if let Some(name) = config.simulator() {
                let kind = SimKind::from_url(&format!("sim://{name}"))
                    .ok_or_else(|| format!("`sim://{name}` names no simulator"))?;
                let started =
                    Simulator::start(kind, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await?;
                simulator = Some(started);
            }
            let settings = Settings::from_config(config, simulator.as_ref())?;
            registry::build(&settings)
                .map(Arc::new)
                .map_err(|error| error.message)
        }
        .await;
        if let Err(problem) = &connector {
            tracing::error!(connector = %config.id, problem = %problem, "connector cannot be built");
        }
        Self {
            id: config.id.clone(),
            config: config.clone(),
            poll_interval: config.poll_interval.0,
            capability,
            connector,
            simulator,
        }
    }

    pub fn status(&self) -> ConnectorStatus {
        match &self.connector {
            Ok(connector) => {
                let mut status = connector.status();
                if let Err(problem) = &self.capability {
                    status.paused = Some(problem.clone());
                }
                status
            }
            Err(problem) => ConnectorStatus {
                id: self.id.clone(),
                kind: self.config.kind.as_str().to_string(),
                class: ConnectorClass::Physical,
                location: self.config.base_url.clone().unwrap_or_default(),
                health: Health::Down,
                reason: Some(format!("cannot be built: {problem}")),
                breaker: BreakerState::Closed,
                consecutive_failures: 0,
                polling_stopped: Some(problem.clone()),
                paused: None,
                polls: 0,
                last_success_at: None,
                last_success_age_seconds: None,
                last_change_at: None,
                last_error: None,
                last_error_at: None,
                requests: 0,
                errors: BTreeMap::new(),
                unparseable_total: 0,
                readings: None,
            },
        }
    }

    /// One poll: ask the Engine, then read through the breaker.
    pub async fn poll_once(&self, engine: &Engine) -> Result<PollOutcome, EngineError> {
        let connector = match &self.connector {
            Ok(connector) => connector,
            Err(problem) => return Ok(PollOutcome::Denied(problem.clone())),
        };
        let capability = match &self.capability {
            Ok(capability) => capability,
            Err(problem) => {
                connector.set_paused(Some(problem.clone()));
                return Ok(PollOutcome::Denied(problem.clone()));
            }
        };
        let detail = serde_json::json!({ "connector": self.id, "kind": self.config.kind.as_str() });
        match engine
            .authorize_read(&actor(&self.id), capability, detail)
            .await
        {
            Ok(_) => connector.set_paused(None),
            Err(EngineError::Denied(denial)) => {
                let reason = format!("reading is denied ({})", denial.reason_codes.join(", "));
                connector.set_paused(Some(reason.clone()));
                return Ok(PollOutcome::Denied(reason));
            }
            Err(other) => {
                connector.set_paused(Some(format!("the read could not be decided: {other}")));
                return Err(other);
            }
        }
        match connector.poll().await {
            Ok(readings) => {
                self.record(engine.store().as_ref(), connector, &readings)
                    .await;
                Ok(PollOutcome::Read(readings))
            }
            Err(error) => Ok(PollOutcome::Failed(error)),
        }
    }

    /// Keep the readings for snapshots. A store failure is logged: the readings stay in memory.
    async fn record(&self, store: &dyn Store, connector: &Guarded, readings: &Readings) {
        let devices = ConnectorDevices {
            kind: self.config.kind.as_str().to_string(),
            observed_at: crate::clock::format_time(crate::clock::now()),
            health: connector.health().as_str().to_string(),
            devices: readings
                .devices
                .iter()
                .map(|device| {
                    (
                        device.id.clone(),
                        DeviceState {
                            label: device.label.clone(),
                            device_type: device.device_type.clone(),
                            room: device.room.clone(),
                            values: device
                                .attributes
                                .iter()
                                .map(|(name, attribute)| (name.clone(), attribute.value.clone()))
                                .collect(),
                        },
                    )
                })
                .collect(),
            facts: readings.facts.clone(),
            unparseable: readings.unparseable,
        };
        let entry = KvEntry {
            key: format!("{DEVICES_KV_PREFIX}{}", self.id),
            value: serde_json::to_string(&devices).unwrap_or_default(),
            updated_at: devices.observed_at.clone(),
            updated_by: actor(&self.id),
        };
        if let Err(error) = set_entry(store, &entry).await {
            tracing::warn!(connector = %self.id, error = %error, "could not record device readings");
        }
    }

    /// One poll and what it leaves in the store: the readings, a health change (audited:
    /// the scorecard reads availability and time to recover from these events) and the
    /// status other daemons show. Returns the outcome and the health now on record.
    async fn poll_and_record(
        &self,
        engine: &Engine,
        connector: &Guarded,
        recorded: Health,
    ) -> (Result<PollOutcome, EngineError>, Health) {
        let outcome = self.poll_once(engine).await;
        let mut now_recorded = recorded;
        let health = connector.health();
        if health != recorded && health != Health::Unknown {
            let reason = connector.status().reason;
            match engine
                .record_connector_health(&self.id, health.as_str(), reason.as_deref())
                .await
            {
                Ok(()) => now_recorded = health,
                Err(error) => {
                    tracing::warn!(connector = %self.id, error = %error, "could not record a health change")
                }
            }
        }
        self.record_status(engine.store().as_ref()).await;
        (outcome, now_recorded)
    }

    /// Keep this connector's status for the daemons that do not poll. A store failure is
    /// logged: they show what they last read.
    async fn record_status(&self, store: &dyn Store) {
        let status = self.status();
        let entry = KvEntry {
            key: format!("{STATUS_KV_PREFIX}{}", self.id),
            value: serde_json::to_string(&status).unwrap_or_default(),
            updated_at: crate::clock::format_time(crate::clock::now()),
            updated_by: actor(&self.id),
        };
        if let Err(error) = set_entry(store, &entry).await {
            tracing::warn!(connector = %self.id, error = %error, "could not record the connector's status");
        }
    }
}

/// Write one runtime entry in a transaction of its own.
async fn set_entry(store: &dyn Store, entry: &KvEntry) -> Result<(), crate::store::StoreError> {
    let mut tx = store.begin().await?;
    tx.kv_set(entry).await?;
    tx.commit().await
}

/// Where the polling daemon keeps each connector's status (`connector.status:<id>`).
pub const STATUS_KV_PREFIX: &str = "connector.status:";

/// Poll member `index` of `fleet` until its polling stops. Each poll (the decision, the read,
/// and what it records) runs to its end in a task of its own: aborting this loop (the daemon
/// stops, or loses the lease) never drops a write transaction midway, which on Postgres would
/// hold the audit chain head's lock.
async fn poll_forever(fleet: Arc<Fleet>, index: usize, engine: Arc<Engine>) {
    let member = &fleet.members[index];
    let Ok(connector) = &member.connector else {
        return;
    };
    tracing::info!(connector = %member.id, every = ?member.poll_interval, "connector polling started");
    let mut recorded = Health::Unknown;
    loop {
        let poll = {
            let (fleet, engine) = (fleet.clone(), engine.clone());
            tokio::spawn(async move {
                let member = &fleet.members[index];
                let Ok(connector) = &member.connector else {
                    return (Ok(PollOutcome::Denied("cannot be built".into())), recorded);
                };
                member.poll_and_record(&engine, connector, recorded).await
            })
        };
        let outcome = match poll.await {
            Ok((outcome, now_recorded)) => {
                recorded = now_recorded;
                outcome
            }
            Err(error) => {
                tracing::error!(connector = %member.id, error = %error, "a connector poll ended abnormally");
                Ok(PollOutcome::Denied("the poll ended abnormally".into()))
            }
        };
        match outcome {
            Ok(PollOutcome::Failed(error)) if error.kind == ErrorKind::Auth => {
                tracing::error!(
                    connector = %member.id,
                    "the device refused the credentials: polling stopped until the token is fixed and brain restarted"
                );
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::error!(connector = %member.id, error = %error, "connector read not decided")
            }
        }
        if connector.stopped() {
            return;
        }
        tokio::time::sleep(connector.next_delay(member.poll_interval)).await;
    }
}
