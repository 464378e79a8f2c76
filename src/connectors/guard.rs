//! [`Guarded`]: one configured connector with the shared policy around its device client: the
//! circuit breaker (open after N consecutive failures, a half-open probe once the cooldown has
//! passed, the cooldown doubling up to a cap), the stop after an auth failure, stale-data
//! detection, health, and the refusal of write intents before any I/O.
//!
//! Health is logged on transitions only, so a connector that stays down does not flood the log.
//!
//! Architecture Invariant: after an auth failure this connector sends nothing more until the
//! process is restarted (an operator fixed the token): retrying refused credentials is what
//! gets accounts banned.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::http::Counters;
use super::{ConnectorClass, ConnectorError, Device, ErrorKind, Health, Readings, WriteIntent};
use crate::config::ConnectorKind;

/// When the breaker opens and how long it stays open.
#[derive(Debug, Clone)]
pub struct BreakerPolicy {
    /// Consecutive failed reads that open the breaker.
    pub failure_threshold: u32,
    /// The first cooldown; each failed half-open probe doubles it.
    pub cooldown_floor: Duration,
    pub cooldown_cap: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failure_threshold: 3,
            cooldown_floor: Duration::from_secs(1),
            cooldown_cap: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Breaker {
    /// Closed is `None`: reads go through.
    Open { until: Instant, cooldown: Duration },
}

/// The breaker as reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    /// Reads are refused without I/O until the cooldown passes.
    Open,
    /// The cooldown passed: the next read is the probe.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    /// 0 closed, 1 half-open, 2 open (the Prometheus gauge).
    pub fn gauge(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    breaker: Option<Breaker>,
    consecutive_failures: u32,
    auth_failure: Option<ConnectorError>,
    last_success: Option<(Instant, DateTime<Utc>)>,
    last_change: Option<(Instant, DateTime<Utc>)>,
    fingerprint: Option<String>,
    last_error: Option<(DateTime<Utc>, ConnectorError)>,
    last_health: Option<Health>,
    readings: Option<Readings>,
    unparseable_total: u64,
    paused: Option<String>,
    polls: u64,
}

/// What a connector looks like now, for the CLI, the API, the console and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ConnectorStatus {
    pub id: String,
    pub kind: String,
    pub class: ConnectorClass,
    /// The device API's address (never with credentials).
    pub location: String,
    pub health: Health,
    /// Why it is not healthy, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub breaker: BreakerState,
    pub consecutive_failures: u32,
    /// Set after an auth failure: polling stopped until an operator acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_stopped: Option<String>,
    /// Set while the policy set denies the reads (a kill switch, a disabled capability).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<String>,
    pub polls: u64,
    pub last_success_at: Option<String>,
    pub last_success_age_seconds: Option<i64>,
    /// When the data last changed (stale once this is older than `stale_after`).
    pub last_change_at: Option<String>,
    pub last_error: Option<ConnectorError>,
    pub last_error_at: Option<String>,
    pub requests: u64,
    /// Errors by taxonomy kind.
    pub errors: BTreeMap<String, u64>,
    /// Items of device answers that could not be read, since start.
    pub unparseable_total: u64,
    pub readings: Option<Readings>,
}

/// One connector with its breaker, health and staleness.
pub struct Guarded {
    id: String,
    device: Box<dyn Device>,
    breaker_policy: BreakerPolicy,
    stale_after: Duration,
    counters: Arc<Counters>,
    state: Mutex<State>,
}

impl Guarded {
    pub fn new(
        id: &str,
        device: Box<dyn Device>,
        counters: Arc<Counters>,
        breaker_policy: BreakerPolicy,
        stale_after: Duration,
    ) -> Self {
        Self {
            id: id.to_string(),
            device,
            breaker_policy,
            stale_after,
            counters,
            state: Mutex::new(State::default()),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn kind(&self) -> ConnectorKind {
        self.device.kind()
    }

    pub fn class(&self) -> ConnectorClass {
        self.device.class()
    }

    pub fn counters(&self) -> &Arc<Counters> {
        &self.counters
    }

    /// Refuse a write intent. Physical connectors (every kind registered here) are read-only
    /// by construction: this never reaches the device client, which has no write path anyway.
    pub fn write(&self, intent: &WriteIntent) -> Result<(), ConnectorError> {
        self.counters.record_error(ErrorKind::ReadOnlyViolation);
        tracing::warn!(connector = %self.id, operation = %intent.operation, "write intent refused: READ_ONLY_TARGET");
        Err(ConnectorError::read_only(&self.id))
    }

    /// One read through the breaker. Without I/O it refuses while polling is stopped after an
    /// auth failure, and while the breaker is open.
    pub async fn poll(&self) -> Result<Readings, ConnectorError> {
        self.pass_breaker()?;
        let result = self.device.poll().await;
        self.settle(result)
    }

    /// The device's cheapest check through the same breaker and bookkeeping (no readings kept).
    pub async fn health_check(&self) -> Result<(), ConnectorError> {
        self.pass_breaker()?;
        let result = self.device.health_check().await;
        let outcome = result.clone().map(|()| None);
        self.record(outcome);
        result
    }

    fn pass_breaker(&self) -> Result<(), ConnectorError> {
        let state = self.lock();
        if let Some(auth) = &state.auth_failure {
            return Err(ConnectorError::new(
                ErrorKind::Auth,
                format!(
                    "polling stopped after the credentials were refused ({}); fix the token and restart brain",
                    auth.message
                ),
            ));
        }
        if let Some(Breaker::Open { until, .. }) = state.breaker {
            let now = Instant::now();
            if now < until {
                return Err(ConnectorError::new(
                    ErrorKind::Unavailable,
                    format!(
                        "the circuit breaker is open after {} failed reads; next probe in {}s",
                        state.consecutive_failures,
                        (until - now).as_secs().max(1)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn settle(&self, result: Result<Readings, ConnectorError>) -> Result<Readings, ConnectorError> {
        match result {
            Ok(readings) => {
                self.record(Ok(Some(readings.clone())));
                Ok(readings)
            }
            Err(error) => {
                self.record(Err(error.clone()));
                Err(error)
            }
        }
    }

    fn record(&self, outcome: Result<Option<Readings>, ConnectorError>) {
        let mut state = self.lock();
        let now = Instant::now();
        let wall = crate::clock::now();
        state.polls += 1;
        match outcome {
            Ok(readings) => {
                state.breaker = None;
                state.consecutive_failures = 0;
                state.last_success = Some((now, wall));
                if let Some(readings) = readings {
                    let fingerprint = readings.fingerprint();
                    if state.fingerprint.as_deref() != Some(fingerprint.as_str()) {
                        state.fingerprint = Some(fingerprint);
                        state.last_change = Some((now, wall));
                    }
                    state.unparseable_total += readings.unparseable;
                    state.readings = Some(readings);
                }
            }
            Err(error) => {
                state.consecutive_failures += 1;
                if error.kind == ErrorKind::Auth {
                    state.auth_failure = Some(error.clone());
                } else {
                    let was_probe = matches!(state.breaker, Some(Breaker::Open { .. }));
                    let cooldown = match state.breaker {
                        Some(Breaker::Open { cooldown, .. }) if was_probe => cooldown
                            .saturating_mul(2)
                            .min(self.breaker_policy.cooldown_cap),
                        _ => self.breaker_policy.cooldown_floor,
                    };
                    if was_probe
                        || state.consecutive_failures >= self.breaker_policy.failure_threshold
                    {
                        state.breaker = Some(Breaker::Open {
                            until: now + cooldown,
                            cooldown,
                        });
                    }
                }
                state.last_error = Some((wall, error));
            }
        }
        let (health, reason) = self.health_of(&state, now);
        if state.last_health != Some(health) {
            match health {
                Health::Healthy if state.last_health.is_some() => {
                    tracing::info!(connector = %self.id, "connector recovered: healthy")
                }
                Health::Healthy | Health::Unknown => {}
                Health::Degraded | Health::Down => tracing::warn!(
                    connector = %self.id,
                    health = health.as_str(),
                    reason = reason.as_deref().unwrap_or(""),
                    "connector health changed"
                ),
            }
            state.last_health = Some(health);
        }
    }

    /// Mark the connector paused by the policy set (`reason`), or clear it with `None`.
    pub fn set_paused(&self, reason: Option<String>) {
        let mut state = self.lock();
        if state.paused != reason {
            match &reason {
                Some(reason) => {
                    tracing::warn!(connector = %self.id, reason = %reason, "connector polling paused by the policy set")
                }
                None => tracing::info!(connector = %self.id, "connector polling resumed"),
            }
        }
        state.paused = reason;
    }

    /// Reads attempted so far, and whether the policy set pauses them.
    pub fn polls_and_paused(&self) -> (u64, bool) {
        let state = self.lock();
        (state.polls, state.paused.is_some())
    }

    /// True once an auth failure stopped this connector.
    pub fn stopped(&self) -> bool {
        self.lock().auth_failure.is_some()
    }

    /// How long to wait before the next poll: the interval, or until the breaker's probe.
    pub fn next_delay(&self, interval: Duration) -> Duration {
        match self.lock().breaker {
            Some(Breaker::Open { until, .. }) => {
                // The next read is the half-open probe: not before the cooldown ends.
                until
                    .saturating_duration_since(Instant::now())
                    .max(interval)
            }
            _ => interval,
        }
    }

    pub fn health(&self) -> Health {
        self.health_of(&self.lock(), Instant::now()).0
    }

    fn health_of(&self, state: &State, now: Instant) -> (Health, Option<String>) {
        if let Some(auth) = &state.auth_failure {
            return (
                Health::Down,
                Some(format!(
                    "credentials refused, polling stopped: {}",
                    auth.message
                )),
            );
        }
        match state.breaker {
            Some(Breaker::Open { until, .. }) if now < until => {
                return (
                    Health::Down,
                    Some(format!(
                        "circuit breaker open after {} failed reads",
                        state.consecutive_failures
                    )),
                );
            }
            Some(Breaker::Open { .. }) => {
                return (
                    Health::Degraded,
                    Some("circuit breaker half-open: the next read is a probe".into()),
                );
            }
            None => {}
        }
        if state.consecutive_failures > 0 {
            let message = state
                .last_error
                .as_ref()
                .map_or_else(String::new, |(_, error)| error.to_string());
            return (
                Health::Down,
                Some(format!("the last read failed: {message}")),
            );
        }
        let Some((_, _)) = state.last_success else {
            return (Health::Unknown, Some("not read yet".into()));
        };
        if let Some((changed, _)) = state.last_change
            && now.duration_since(changed) > self.stale_after
            && state.readings.is_some()
        {
            return (
                Health::Degraded,
                Some(format!(
                    "stale: reads succeed but the data has not changed for {}",
                    crate::clock::human_duration(now.duration_since(changed).as_secs() as i64)
                )),
            );
        }
        if let Some(readings) = &state.readings
            && readings.unparseable > 0
        {
            return (
                Health::Degraded,
                Some(format!(
                    "{} items of the last read could not be parsed",
                    readings.unparseable
                )),
            );
        }
        (Health::Healthy, None)
    }

    pub fn breaker_state(&self) -> BreakerState {
        match self.lock().breaker {
            Some(Breaker::Open { until, .. }) if Instant::now() < until => BreakerState::Open,
            Some(Breaker::Open { .. }) => BreakerState::HalfOpen,
            None => BreakerState::Closed,
        }
    }

    pub fn status(&self) -> ConnectorStatus {
        let state = self.lock();
        let now = Instant::now();
        let (health, reason) = self.health_of(&state, now);
        let breaker = match state.breaker {
            Some(Breaker::Open { until, .. }) if now < until => BreakerState::Open,
            Some(Breaker::Open { .. }) => BreakerState::HalfOpen,
            None => BreakerState::Closed,
        };
        ConnectorStatus {
            id: self.id.clone(),
            kind: self.device.kind().as_str().to_string(),
            class: self.device.class(),
            location: self.device.location(),
            health,
            reason,
            breaker,
            consecutive_failures: state.consecutive_failures,
            polling_stopped: state.auth_failure.as_ref().map(|_| {
                "the credentials were refused: fix the token and restart brain".to_string()
            }),
            paused: state.paused.clone(),
            polls: state.polls,
            last_success_at: state
                .last_success
                .map(|(_, at)| crate::clock::format_time(at)),
            last_success_age_seconds: state
                .last_success
                .map(|(at, _)| now.duration_since(at).as_secs() as i64),
            last_change_at: state
                .last_change
                .map(|(_, at)| crate::clock::format_time(at)),
            last_error: state.last_error.as_ref().map(|(_, error)| error.clone()),
            last_error_at: state
                .last_error
                .as_ref()
                .map(|(at, _)| crate::clock::format_time(*at)),
            requests: self.counters.requests(),
            errors: ErrorKind::ALL
                .iter()
                .map(|kind| (kind.as_str().to_string(), self.counters.errors(*kind)))
                .collect(),
            unparseable_total: state.unparseable_total,
            readings: state.readings.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic elsewhere mid-update; the state is still readable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
