//! The contract harness: one suite every registered connector kind must pass, run by `cargo
//! test` for each entry of [`registry::KINDS`] and by `brain connectors test [ID]`.
//!
//! Each case builds a fresh connector of the kind against the kind's simulator, with short
//! timings ([`Timings`]) so the whole suite takes seconds, injects faults, and checks: health
//! reports correctly; failures map onto the taxonomy; timeouts are honoured; retries happen on
//! unavailability but stop on an auth failure, which stops polling; the breaker opens and
//! recovers through a half-open probe; stale data degrades health; unreadable items are counted
//! and named, never dropped silently; the request budget holds; write intents are refused with
//! no request sent; every request the device received was a GET on the read allowlist; and the
//! credential appears in no error or status. It never talks to a real device.

use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::guard::{BreakerPolicy, BreakerState, Guarded};
use super::http::RequestPolicy;
use super::registry::{self, KindSpec, Settings};
use super::sim::{Fault, Simulator};
use super::{Device, ErrorKind, Health, WriteIntent};
use crate::config::ConnectorKind;

/// The timings the suite runs with.
#[derive(Debug, Clone)]
pub struct Timings {
    pub timeout: Duration,
    pub attempts: u32,
    pub failure_threshold: u32,
    pub cooldown: Duration,
    pub stale_after: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_millis(300),
            attempts: 2,
            failure_threshold: 2,
            cooldown: Duration::from_millis(250),
            stale_after: Duration::from_millis(400),
        }
    }
}

/// One case's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CaseResult {
    pub case: String,
    pub passed: bool,
    /// What was checked, or what went wrong.
    pub detail: String,
}

/// The suite's result for one connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HarnessReport {
    pub connector: String,
    pub kind: String,
    pub passed: bool,
    pub cases: Vec<CaseResult>,
    pub seconds: f64,
}

/// Run the suite for a connector `id` of `kind`.
pub async fn run(id: &str, kind: ConnectorKind, timings: &Timings) -> HarnessReport {
    run_with(id, kind, timings, |device| device).await
}

/// [`run`] over device clients passed through `wrap`.
async fn run_with(
    id: &str,
    kind: ConnectorKind,
    timings: &Timings,
    wrap: fn(Box<dyn Device>) -> Box<dyn Device>,
) -> HarnessReport {
    let started = Instant::now();
    let mut cases = Vec::new();
    match registry::spec(kind) {
        None => cases.push(CaseResult {
            case: "registered".into(),
            passed: false,
            detail: format!("`{}` is not a registered connector kind", kind.as_str()),
        }),
        Some(spec) => {
            let mut suite = Suite {
                id: id.to_string(),
                spec,
                wrap,
                timings: timings.clone(),
                leaked: Vec::new(),
                tokens: Vec::new(),
                seen: Vec::new(),
            };
            for (name, result) in [
                ("health_reports_correctly", suite.health().await),
                ("errors_map_to_taxonomy", suite.taxonomy().await),
                ("timeouts_are_honoured", suite.timeouts().await),
                ("retries_on_unavailable", suite.retries().await),
                ("retries_stop_on_auth_failure", suite.auth_stops().await),
                ("breaker_opens_and_recovers", suite.breaker().await),
                ("stale_data_degrades", suite.stale().await),
                ("unparseable_items_counted", suite.drift().await),
                ("request_budget_enforced", suite.budget().await),
                ("write_intents_refused_without_io", suite.writes().await),
            ] {
                cases.push(case(name, result));
            }
            cases.push(case("only_allowlisted_reads_sent", suite.allowlist_held()));
            cases.push(case("secrets_never_in_errors", suite.secrets_held()));
        }
    }
    HarnessReport {
        connector: id.to_string(),
        kind: kind.as_str().to_string(),
        passed: cases.iter().all(|case| case.passed),
        cases,
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn case(name: &str, result: Result<String, String>) -> CaseResult {
    match result {
        Ok(detail) => CaseResult {
            case: name.into(),
            passed: true,
            detail,
        },
        Err(detail) => CaseResult {
            case: name.into(),
            passed: false,
            detail,
        },
    }
}

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

struct Suite {
    id: String,
    spec: &'static KindSpec,
    wrap: fn(Box<dyn Device>) -> Box<dyn Device>,
    timings: Timings,
    /// Every error text and status the cases produced, to search for the credential.
    leaked: Vec<String>,
    tokens: Vec<String>,
    /// Every request every simulator of the run received: (method, path relative to the API).
    seen: Vec<(String, String)>,
}

impl Suite {
    async fn fresh(&mut self) -> Result<(Simulator, Guarded), String> {
        self.fresh_with_budget(0).await
    }

    async fn fresh_with_budget(&mut self, budget: u32) -> Result<(Simulator, Guarded), String> {
        let simulator = Simulator::start(
            self.spec.simulator,
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await?;
        self.tokens.push(simulator.token().expose().to_string());
        let timings = &self.timings;
        let settings = Settings {
            id: self.id.clone(),
            kind: self.spec.kind,
            base_url: simulator.host_url(),
            app_id: Some(simulator.app_id().to_string()),
            token: simulator.token(),
            timeout: timings.timeout,
            poll_interval: Duration::from_secs(1),
            stale_after: timings.stale_after,
            request: RequestPolicy {
                timeout: timings.timeout,
                attempts: timings.attempts,
                first_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(50),
                budget_per_hour: budget,
            },
            breaker: BreakerPolicy {
                failure_threshold: timings.failure_threshold,
                cooldown_floor: timings.cooldown,
                cooldown_cap: timings.cooldown * 4,
            },
            display: None,
        };
        let connector =
            registry::build_wrapped(&settings, self.wrap).map_err(|error| error.to_string())?;
        Ok((simulator, connector))
    }

    fn keep(&mut self, simulator: &Simulator, connector: &Guarded) {
        let prefix = match self.spec.simulator {
            super::sim::SimKind::Hubitat => format!("/apps/api/{}/", simulator.app_id()),
            super::sim::SimKind::HomeAssistant => "/".to_string(),
        };
        for request in simulator.requests() {
            let path = request
                .path
                .strip_prefix(&prefix)
                .unwrap_or(&request.path)
                .to_string();
            self.seen.push((request.method, path));
        }
        self.leaked
            .push(serde_json::to_string(&connector.status()).unwrap_or_default());
    }

    fn note(&mut self, error: &super::ConnectorError) {
        self.leaked.push(format!("{error} {error:?}"));
    }

    async fn health(&mut self) -> Result<String, String> {
        let (simulator, connector) = self.fresh().await?;
        ensure!(
            connector.health() == Health::Unknown,
            "a connector never read reports {:?}, not unknown",
            connector.health()
        );
        connector
            .health_check()
            .await
            .map_err(|error| format!("health check failed: {error}"))?;
        let readings = connector
            .poll()
            .await
            .map_err(|error| format!("the first read failed: {error}"))?;
        ensure!(
            !readings.devices.is_empty(),
            "the simulator's devices were not read"
        );
        ensure!(
            readings.unparseable == 0,
            "{} items of a well-formed answer were counted unparseable: {:?}",
            readings.unparseable,
            readings.problems
        );
        ensure!(
            connector.health() == Health::Healthy,
            "after a good read the health is {:?}",
            connector.health()
        );
        simulator.set_fault(Fault::Status(503));
        let _ = connector.poll().await;
        ensure!(
            connector.health() == Health::Down,
            "after a failed read the health is {:?}, not down",
            connector.health()
        );
        self.keep(&simulator, &connector);
        Ok(format!(
            "unknown → healthy ({} devices) → down after a failed read",
            readings.devices.len()
        ))
    }

    async fn taxonomy(&mut self) -> Result<String, String> {
        let slow = Fault::Slow(self.timings.timeout * 3);
        let expectations = [
            (Fault::Status(500), ErrorKind::Unavailable),
            (Fault::Status(503), ErrorKind::Unavailable),
            (Fault::Status(408), ErrorKind::Unavailable),
            (Fault::Unauthorized, ErrorKind::Auth),
            (Fault::RateLimited, ErrorKind::RateLimited),
            (Fault::Malformed, ErrorKind::BadResponse),
            (Fault::ErrorBody, ErrorKind::BadResponse),
            (slow, ErrorKind::Timeout),
        ];
        let mut checked = Vec::new();
        for (fault, expected) in expectations {
            let (simulator, connector) = self.fresh().await?;
            simulator.set_fault(fault.clone());
            let error = match connector.poll().await {
                Ok(_) => return Err(format!("{fault:?} was read as a success")),
                Err(error) => error,
            };
            self.note(&error);
            ensure!(
                error.kind == expected,
                "{fault:?} mapped to `{}`, expected `{}` ({})",
                error.kind.as_str(),
                expected.as_str(),
                error.message
            );
            self.keep(&simulator, &connector);
            checked.push(format!("{fault:?} → {}", expected.as_str()));
        }
        // The device going away entirely.
        let (simulator, connector) = self.fresh().await?;
        drop(simulator);
        tokio::time::sleep(Duration::from_millis(50)).await;
        match connector.poll().await {
            Ok(_) => return Err("a read from a stopped device succeeded".into()),
            Err(error) => {
                self.note(&error);
                ensure!(
                    matches!(error.kind, ErrorKind::Unavailable | ErrorKind::Timeout),
                    "a refused connection mapped to `{}`",
                    error.kind.as_str()
                );
            }
        }
        checked.push("connection refused → unavailable".into());
        Ok(checked.join(", "))
    }

    async fn timeouts(&mut self) -> Result<String, String> {
        let (simulator, connector) = self.fresh().await?;
        simulator.set_fault(Fault::Slow(self.timings.timeout * 4));
        let started = Instant::now();
        let result = connector.poll().await;
        let elapsed = started.elapsed();
        let bound = self.timings.timeout * self.timings.attempts + Duration::from_millis(500);
        self.keep(&simulator, &connector);
        match result {
            Ok(_) => Err("a read slower than the timeout succeeded".into()),
            Err(error) => {
                self.note(&error);
                ensure!(
                    error.kind == ErrorKind::Timeout,
                    "a slow device mapped to `{}`",
                    error.kind.as_str()
                );
                ensure!(
                    elapsed < bound,
                    "the read took {elapsed:?}, more than {bound:?} ({} attempts of {:?})",
                    self.timings.attempts,
                    self.timings.timeout
                );
                ensure!(
                    elapsed >= self.timings.timeout,
                    "the read gave up after {elapsed:?}, before the timeout"
                );
                Ok(format!(
                    "gave up after {:.2}s with {} attempts of {:?}",
                    elapsed.as_secs_f64(),
                    self.timings.attempts,
                    self.timings.timeout
                ))
            }
        }
    }

    async fn retries(&mut self) -> Result<String, String> {
        let (simulator, connector) = self.fresh().await?;
        simulator.set_fault(Fault::Status(503));
        let _ = connector.poll().await;
        let sent = simulator.requests().len();
        self.keep(&simulator, &connector);
        ensure!(
            sent == self.timings.attempts as usize,
            "a 503 was sent {sent} times, expected {} attempts",
            self.timings.attempts
        );
        Ok(format!("a 503 was retried: {sent} attempts"))
    }

    async fn auth_stops(&mut self) -> Result<String, String> {
        let (simulator, connector) = self.fresh().await?;
        simulator.set_fault(Fault::Unauthorized);
        let first = connector.poll().await;
        let after_first = simulator.requests().len();
        simulator.set_fault(Fault::None);
        let second = connector.poll().await;
        let after_second = simulator.requests().len();
        let status = connector.status();
        self.keep(&simulator, &connector);
        for result in [&first, &second] {
            if let Err(error) = result {
                self.note(error);
            }
        }
        ensure!(
            matches!(&first, Err(error) if error.kind == ErrorKind::Auth),
            "a 401 gave {first:?}"
        );
        ensure!(
            after_first == 1,
            "a 401 was sent {after_first} times: auth failures must not be retried"
        );
        ensure!(
            matches!(&second, Err(error) if error.kind == ErrorKind::Auth),
            "after an auth failure the next read gave {second:?}"
        );
        ensure!(
            after_second == 1,
            "after an auth failure the connector sent {} more requests",
            after_second - 1
        );
        ensure!(
            status.polling_stopped.is_some() && status.health == Health::Down,
            "after an auth failure the status is {:?} / polling_stopped {:?}",
            status.health,
            status.polling_stopped
        );
        Ok("one request, no retry, polling stopped and down until an operator acts".into())
    }

    async fn breaker(&mut self) -> Result<String, String> {
        let (simulator, connector) = self.fresh().await?;
        simulator.set_fault(Fault::Status(503));
        for _ in 0..self.timings.failure_threshold {
            let _ = connector.poll().await;
        }
        ensure!(
            connector.breaker_state() == BreakerState::Open,
            "after {} failed reads the breaker is {:?}",
            self.timings.failure_threshold,
            connector.breaker_state()
        );
        ensure!(
            connector.health() == Health::Down,
            "with the breaker open the health is {:?}",
            connector.health()
        );
        let before = simulator.requests().len();
        let refused = connector.poll().await;
        ensure!(
            simulator.requests().len() == before,
            "a read went out while the breaker was open"
        );
        ensure!(
            matches!(&refused, Err(error) if error.kind == ErrorKind::Unavailable),
            "an open breaker answered {refused:?}"
        );
        // A failed probe reopens it for longer.
        tokio::time::sleep(self.timings.cooldown + Duration::from_millis(50)).await;
        ensure!(
            connector.breaker_state() == BreakerState::HalfOpen,
            "after the cooldown the breaker is {:?}, not half-open",
            connector.breaker_state()
        );
        ensure!(
            connector.health() == Health::Degraded,
            "with the breaker half-open the health is {:?}, not degraded",
            connector.health()
        );
        let _ = connector.poll().await;
        ensure!(
            connector.breaker_state() == BreakerState::Open,
            "a failed probe left the breaker {:?}",
            connector.breaker_state()
        );
        // The device recovers; the next probe closes the breaker.
        simulator.set_fault(Fault::None);
        tokio::time::sleep(self.timings.cooldown * 2 + Duration::from_millis(80)).await;
        ensure!(
            connector.breaker_state() == BreakerState::HalfOpen,
            "after the doubled cooldown the breaker is {:?}",
            connector.breaker_state()
        );
        connector
            .poll()
            .await
            .map_err(|error| format!("the probe after recovery failed: {error}"))?;
        ensure!(
            connector.breaker_state() == BreakerState::Closed,
            "a good probe left the breaker {:?}",
            connector.breaker_state()
        );
        ensure!(
            connector.health() == Health::Healthy,
            "after recovery the health is {:?}",
            connector.health()
        );
        self.keep(&simulator, &connector);
        Ok(format!(
            "opened after {} failures, refused without I/O, half-open after {:?}, failed probe reopened, good probe closed",
            self.timings.failure_threshold, self.timings.cooldown
        ))
    }

    async fn stale(&mut self) -> Result<String, String> {
        let (simulator, connector) = self.fresh().await?;
        connector
            .poll()
            .await
            .map_err(|error| format!("the first read failed: {error}"))?;
        tokio::time::sleep(Duration::from_millis(30)).await;
        connector
            .poll()
            .await
            .map_err(|error| format!("the second read failed: {error}"))?;
        ensure!(
            connector.health() == Health::Healthy,
            "moving data reads as {:?}",
            connector.health()
        );
        simulator.set_fault(Fault::Stale);
        connector
            .poll()
            .await
            .map_err(|error| format!("a read of stale data failed: {error}"))?;
        tokio::time::sleep(self.timings.stale_after + Duration::from_millis(100)).await;
        connector
            .poll()
            .await
            .map_err(|error| format!("a read of stale data failed: {error}"))?;
        let status = connector.status();
        ensure!(
            status.health == Health::Degraded,
            "data unchanged for longer than {:?} reads as {:?}",
            self.timings.stale_after,
            status.health
        );
        ensure!(
            status
                .reason
                .as_deref()
                .is_some_and(|reason| reason.contains("stale")),
            "the reason does not say stale: {:?}",
            status.reason
        );
        simulator.set_fault(Fault::None);
        connector
            .poll()
            .await
            .map_err(|error| format!("a read after staleness failed: {error}"))?;
        ensure!(
            connector.health() == Health::Healthy,
            "fresh data after staleness reads as {:?}",
            connector.health()
        );
        self.keep(&simulator, &connector);
        Ok(
            "requests succeeding with unchanged data → degraded (stale); changing again → healthy"
                .into(),
        )
    }

    async fn drift(&mut self) -> Result<String, String> {
        let (simulator, connector) = self.fresh().await?;
        simulator.set_fault(Fault::Drift);
        let readings = connector
            .poll()
            .await
            .map_err(|error| format!("a read with unreadable items failed as a whole: {error}"))?;
        let status = connector.status();
        self.keep(&simulator, &connector);
        ensure!(
            readings.unparseable >= 2,
            "{} unreadable items counted, expected at least 2: {:?}",
            readings.unparseable,
            readings.problems
        );
        ensure!(
            readings.problems.len() as u64 >= readings.unparseable,
            "unreadable items were counted but not named"
        );
        ensure!(
            !readings.devices.is_empty(),
            "the readable devices were dropped with the unreadable items"
        );
        ensure!(
            status.health == Health::Degraded && status.unparseable_total == readings.unparseable,
            "with unreadable items the status is {:?}, {} counted",
            status.health,
            status.unparseable_total
        );
        Ok(format!(
            "{} unreadable items counted and named, {} devices kept, health degraded",
            readings.unparseable,
            readings.devices.len()
        ))
    }

    async fn budget(&mut self) -> Result<String, String> {
        let budget = 4;
        let (simulator, connector) = self.fresh_with_budget(budget).await?;
        let mut limited = None;
        for _ in 0..budget + 2 {
            match connector.poll().await {
                Err(error) if error.kind == ErrorKind::RateLimited => {
                    limited = Some(error);
                    break;
                }
                Err(error) => return Err(format!("a read inside the budget failed: {error}")),
                Ok(_) => {}
            }
        }
        let sent = simulator.requests().len();
        self.keep(&simulator, &connector);
        let Some(error) = limited else {
            return Err(format!(
                "{} reads never hit a budget of {budget} requests",
                budget + 2
            ));
        };
        self.note(&error);
        ensure!(
            sent == budget as usize,
            "{sent} requests were sent under a budget of {budget}"
        );
        Ok(format!(
            "{budget} requests sent, then rate_limited without I/O"
        ))
    }

    async fn writes(&mut self) -> Result<String, String> {
        let (simulator, connector) = self.fresh().await?;
        let intents = [
            ("devices/3/on", serde_json::json!({})),
            ("hsm/disarm", serde_json::json!({})),
            (
                "services/vacuum/start",
                serde_json::json!({"entity_id": "vacuum.studio_floor_s7"}),
            ),
        ];
        for (operation, input) in intents {
            let refused = connector.write(&WriteIntent {
                operation: operation.into(),
                input,
            });
            match refused {
                Ok(()) => return Err(format!("the write `{operation}` was accepted")),
                Err(error) => {
                    self.note(&error);
                    ensure!(
                        error.kind == ErrorKind::ReadOnlyViolation
                            && error.kind.code() == "READ_ONLY_TARGET",
                        "the write `{operation}` was refused as `{}`",
                        error.kind.as_str()
                    );
                }
            }
        }
        let sent = simulator.requests();
        ensure!(
            sent.is_empty(),
            "write intents sent {} requests: {:?}",
            sent.len(),
            sent
        );
        self.keep(&simulator, &connector);
        Ok("3 write intents refused with READ_ONLY_TARGET, 0 requests sent".into())
    }

    fn allowlist_held(&self) -> Result<String, String> {
        ensure!(
            !self.seen.is_empty(),
            "no request was recorded, so nothing was checked"
        );
        for (method, path) in &self.seen {
            ensure!(method == "GET", "a `{method} {path}` was sent");
            ensure!(
                self.spec.allowlist.matching(path).is_some(),
                "`{path}` is not on the read allowlist but was sent"
            );
        }
        Ok(format!(
            "{} requests, all GETs on the read allowlist",
            self.seen.len()
        ))
    }

    fn secrets_held(&self) -> Result<String, String> {
        ensure!(
            !self.leaked.is_empty() && !self.tokens.is_empty(),
            "nothing was collected, so nothing was checked"
        );
        for text in &self.leaked {
            for token in &self.tokens {
                ensure!(
                    !text.contains(token.as_str()),
                    "the credential appears in: {text}"
                );
            }
        }
        Ok(format!(
            "{} errors and statuses searched for {} credentials",
            self.leaked.len(),
            self.tokens.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every registered kind passes the contract suite; a kind added to the registry is run
    /// here without anything else to remember.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_registered_kind_passes_the_contract_suite() {
        assert!(!registry::KINDS.is_empty());
        for spec in registry::KINDS {
            let report = run(spec.kind.as_str(), spec.kind, &Timings::default()).await;
            let failed: Vec<&CaseResult> =
                report.cases.iter().filter(|case| !case.passed).collect();
            assert!(report.passed, "{} failed: {failed:#?}", spec.kind.as_str());
            assert_eq!(report.cases.len(), 12);
        }
    }

    /// A client that retries refused credentials (what gets accounts banned).
    struct RetriesAuth(Box<dyn Device>);

    /// A client that reads every failure as an empty success.
    struct SwallowsErrors(Box<dyn Device>);

    #[async_trait::async_trait]
    impl Device for RetriesAuth {
        fn kind(&self) -> ConnectorKind {
            self.0.kind()
        }
        fn class(&self) -> super::super::ConnectorClass {
            self.0.class()
        }
        async fn health_check(&self) -> Result<(), super::super::ConnectorError> {
            self.0.health_check().await
        }
        async fn poll(&self) -> Result<super::super::Readings, super::super::ConnectorError> {
            match self.0.poll().await {
                Err(error) if error.kind == ErrorKind::Auth => self.0.poll().await,
                other => other,
            }
        }
        fn location(&self) -> String {
            self.0.location()
        }
        fn counters(&self) -> std::sync::Arc<super::super::http::Counters> {
            self.0.counters()
        }
    }

    #[async_trait::async_trait]
    impl Device for SwallowsErrors {
        fn kind(&self) -> ConnectorKind {
            self.0.kind()
        }
        fn class(&self) -> super::super::ConnectorClass {
            self.0.class()
        }
        async fn health_check(&self) -> Result<(), super::super::ConnectorError> {
            Ok(())
        }
        async fn poll(&self) -> Result<super::super::Readings, super::super::ConnectorError> {
            Ok(self.0.poll().await.unwrap_or_default())
        }
        fn location(&self) -> String {
            self.0.location()
        }
        fn counters(&self) -> std::sync::Arc<super::super::http::Counters> {
            self.0.counters()
        }
    }

    fn failed_cases(report: &HarnessReport) -> Vec<&str> {
        report
            .cases
            .iter()
            .filter(|case| !case.passed)
            .map(|case| case.case.as_str())
            .collect()
    }

    /// The suite catches broken clients: it can fail.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_suite_fails_clients_that_break_the_contract() {
        let report = run_with(
            "hub",
            ConnectorKind::Hubitat,
            &Timings::default(),
            |device| Box::new(RetriesAuth(device)),
        )
        .await;
        assert!(!report.passed);
        assert_eq!(failed_cases(&report), vec!["retries_stop_on_auth_failure"]);

        let report = run_with(
            "vacuums",
            ConnectorKind::Roborock,
            &Timings::default(),
            |device| Box::new(SwallowsErrors(device)),
        )
        .await;
        let failed = failed_cases(&report);
        for case in [
            "errors_map_to_taxonomy",
            "timeouts_are_honoured",
            "retries_stop_on_auth_failure",
            "breaker_opens_and_recovers",
        ] {
            assert!(
                failed.contains(&case),
                "{case} passed a client that swallows errors: {failed:?}"
            );
        }
    }

    /// Every physical kind of the config is registered (and so runs through the suite above).
    #[test]
    fn every_physical_kind_is_registered() {
        for kind in [
            ConnectorKind::Hubitat,
            ConnectorKind::Roborock,
            ConnectorKind::Firestore,
        ] {
            // A new variant fails to compile here until it is listed.
            match kind {
                ConnectorKind::Hubitat | ConnectorKind::Roborock | ConnectorKind::Firestore => {}
            }
            assert_eq!(
                kind.is_physical(),
                registry::spec(kind).is_some(),
                "{}",
                kind.as_str()
            );
        }
    }
}
