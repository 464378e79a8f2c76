//! `brain connectors list|health|test [ID]`: the configured device connectors.
//!
//! - `list` prints each connector with its read capability and the readings the daemon last
//!   recorded;
//! - `health` checks each one live: the read is authorized by the Engine as
//!   `system:connector:<id>` (and audited), then the device's health check and one read run
//!   through the connector's breaker; exit 1 when any is not healthy or is denied;
//! - `test` runs the contract harness for each connector's kind against its simulator (never
//!   the real device); exit 1 when any case fails. `--format json` prints the summary.
//!
//! `list` and `health` act for the caller's token (viewing studio state); with `--server` they
//! show a daemon's connectors as its polling sees them, without a new read. `test` touches
//! neither the store nor a device and needs no token.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::Subcommand;
use serde::Serialize;

use super::Cli;
use super::config::load_checked;
use super::output::{self, Format};
use super::session::{Paint, open_engine, paint, report_error, token};
use crate::config::{ConnectorConfig, LoadedConfig};
use crate::connectors::fleet::{Fleet, PollOutcome, read_capability};
use crate::connectors::guard::ConnectorStatus;
use crate::connectors::harness::{self, HarnessReport, Timings};
use crate::connectors::{Health, registry};
use crate::engine::EngineError;
use crate::policy::decide::Action;
use crate::snapshot::{ConnectorDevices, DEVICES_KV_PREFIX};

#[derive(Debug, Subcommand)]
pub enum ConnectorsCommand {
    /// The configured connectors, their read capability and last recorded readings.
    List,
    /// Check each connector (or one) against its device now: exit 1 if any is not healthy.
    Health { id: Option<String> },
    /// Run the contract harness for each connector's kind (or one) on its simulator.
    Test { id: Option<String> },
}

/// The connectors `id` selects (all device connectors without one); exit 2 for an unknown id.
fn selected<'a>(
    loaded: &'a LoadedConfig,
    id: Option<&str>,
) -> Result<Vec<&'a ConnectorConfig>, ExitCode> {
    let devices: Vec<&ConnectorConfig> = loaded
        .config
        .connectors
        .iter()
        .filter(|connector| registry::spec(connector.kind).is_some())
        .collect();
    match id {
        None => Ok(devices),
        Some(id) => match devices.iter().find(|connector| connector.id == id) {
            Some(connector) => Ok(vec![connector]),
            None => {
                let known: Vec<String> = devices
                    .iter()
                    .map(|connector| format!("`{}`", connector.id))
                    .collect();
                output::print_report(&miette::miette!(
                    code = "usage::unknown_connector",
                    help = if known.is_empty() {
                        "brain.yaml configures no device connector (`connectors`, kind `hubitat` or `roborock`)".to_string()
                    } else {
                        format!(
                            "the device connectors in brain.yaml are {}",
                            known.join(", ")
                        )
                    },
                    "no device connector `{id}` is configured"
                ));
                Err(ExitCode::from(2))
            }
        },
    }
}

pub fn run(cli: &Cli, command: &ConnectorsCommand) -> miette::Result<ExitCode> {
    match (command, &cli.server) {
        // The harness runs here whatever `--server` says: it touches no store and no device.
        (ConnectorsCommand::Test { id }, _) => test(cli, id.as_deref()),
        (ConnectorsCommand::List, Some(server)) => daemon_view(cli, server, None, false),
        (ConnectorsCommand::Health { id }, Some(server)) => {
            daemon_view(cli, server, id.as_deref(), true)
        }
        (ConnectorsCommand::List, None) => with_engine(cli, None, false),
        (ConnectorsCommand::Health { id }, None) => with_engine(cli, id.as_deref(), true),
    }
}

/// `list` and `health` through a daemon: its connectors as its polling sees them now (no new
/// device read is made). `health` exits 1 unless every one is healthy.
fn daemon_view(
    cli: &Cli,
    server: &str,
    id: Option<&str>,
    health: bool,
) -> miette::Result<ExitCode> {
    let runtime = super::runtime()?;
    let result = runtime.block_on(async {
        let remote = super::remote::Remote::new(server, token(cli)?)?;
        match id {
            Some(id) => {
                let path = format!("/api/v1/connectors/{}", crate::server::encode_segment(id));
                remote
                    .get::<ConnectorStatus>(&path, &[])
                    .await
                    .map(|status| vec![status])
            }
            None => {
                remote
                    .get::<Vec<ConnectorStatus>>("/api/v1/connectors", &[])
                    .await
            }
        }
    });
    let statuses = match result {
        Ok(statuses) => statuses,
        Err(EngineError::Remote(body)) if body.code == "not_found" => {
            output::print_report(&miette::miette!(
                code = "usage::unknown_connector",
                help = "`brain --server URL connectors list` shows the daemon's connectors",
                "{}",
                body.message
            ));
            return Ok(ExitCode::from(2));
        }
        Err(error) => return Ok(report_error(cli, &error)),
    };
    let healthy = statuses
        .iter()
        .all(|status| status.health == Health::Healthy && status.paused.is_none());
    if cli.format == Format::Json {
        if health {
            output::print_json(&serde_json::json!({ "healthy": healthy, "connectors": statuses }))?;
        } else {
            output::print_json(&statuses)?;
        }
    } else {
        let mut out = std::io::stdout().lock();
        if statuses.is_empty() {
            let _ = writeln!(out, "the daemon polls no device connector");
        }
        for status in &statuses {
            let badge = match status.health {
                Health::Healthy => paint(Paint::Green, "healthy"),
                Health::Degraded => paint(Paint::Yellow, "degraded"),
                Health::Down => paint(Paint::Red, "down"),
                Health::Unknown => paint(Paint::Yellow, "not read yet"),
            };
            let devices = status
                .readings
                .as_ref()
                .map_or(0, |readings| readings.devices.len());
            let read = status.last_success_age_seconds.map_or_else(
                || "never read".to_string(),
                |age| format!("read {} ago", crate::clock::human_duration(age)),
            );
            let _ = writeln!(
                out,
                "{} ({}) {badge}: {devices} devices, {read}, breaker {}, {} requests",
                paint(Paint::Bold, &status.id),
                status.kind,
                status.breaker.as_str(),
                status.requests
            );
            if let Some(paused) = &status.paused {
                let _ = writeln!(out, "  {} {paused}", paint(Paint::Red, "paused:"));
            }
            if let Some(reason) = &status.reason {
                let _ = writeln!(out, "  {reason}");
            }
        }
    }
    Ok(if healthy || !health {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn test(cli: &Cli, id: Option<&str>) -> miette::Result<ExitCode> {
    let (loaded, _) = match load_checked(cli) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let chosen = match selected(&loaded, id) {
        Ok(chosen) => chosen,
        Err(code) => return Ok(code),
    };
    let runtime = super::runtime()?;
    let reports: Vec<HarnessReport> = runtime.block_on(async {
        let mut reports = Vec::new();
        for connector in chosen {
            if cli.format == Format::Human {
                let _ = writeln!(
                    std::io::stderr(),
                    "testing {} ({}) on its simulator…",
                    connector.id,
                    connector.kind.as_str()
                );
            }
            reports.push(harness::run(&connector.id, connector.kind, &Timings::default()).await);
        }
        reports
    });
    let passed = reports.iter().all(|report| report.passed);
    if cli.format == Format::Json {
        output::print_json(&serde_json::json!({ "passed": passed, "connectors": reports }))?;
    } else {
        let mut out = std::io::stdout().lock();
        if reports.is_empty() {
            let _ = writeln!(out, "no device connector is configured: nothing to test");
        }
        for report in &reports {
            let _ = writeln!(
                out,
                "{} ({}) {:.1}s",
                paint(Paint::Bold, &report.connector),
                report.kind,
                report.seconds
            );
            for case in &report.cases {
                let mark = if case.passed {
                    paint(Paint::Green, "pass")
                } else {
                    paint(Paint::Red, "FAIL")
                };
                let _ = writeln!(out, "  {mark} {:<34} {}", case.case, case.detail);
            }
        }
        let failed: usize = reports
            .iter()
            .map(|report| report.cases.iter().filter(|case| !case.passed).count())
            .sum();
        let total: usize = reports.iter().map(|report| report.cases.len()).sum();
        let _ = writeln!(out, "{} passed, {failed} failed", total - failed);
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Serialize)]
struct ListedConnector {
    id: String,
    kind: String,
    class: String,
    mode: String,
    enabled: bool,
    base_url: Option<String>,
    poll_interval: String,
    timeout: String,
    read_capability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capability_problem: Option<String>,
    /// What the daemon last recorded, if it has polled.
    last_reading: Option<ConnectorDevices>,
}

#[derive(Serialize)]
struct HealthRow {
    id: String,
    kind: String,
    health: Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Set when the policy set denied the read (nothing was sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    denied: Option<String>,
    /// `enabled: false` in brain.yaml: not checked, and not counted against the exit code.
    disabled: bool,
    location: String,
    devices: usize,
    unparseable: u64,
    seconds: f64,
}

fn with_engine(cli: &Cli, id: Option<&str>, live: bool) -> miette::Result<ExitCode> {
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let (engine, loaded) = match open_engine(cli).await {
            Ok(opened) => opened,
            Err(code) => return Ok(code),
        };
        let chosen: Vec<ConnectorConfig> = match selected(&loaded, id) {
            Ok(chosen) => chosen.into_iter().cloned().collect(),
            Err(code) => {
                engine.store().close().await;
                return Ok(code);
            }
        };
        let result = async {
            let caller = engine.authenticate(&token(cli)?).await?;
            engine.authorize_area(&caller, Action::View).await?;
            if live {
                health(cli, &engine, &loaded, &chosen).await
            } else {
                list(cli, &engine, &loaded).await
            }
        }
        .await;
        engine.store().close().await;
        Ok(match result {
            Ok(code) => code,
            Err(error) => report_error(cli, &error),
        })
    })
}

async fn list(
    cli: &Cli,
    engine: &crate::engine::Engine,
    loaded: &LoadedConfig,
) -> Result<ExitCode, EngineError> {
    let recorded = engine.store().kv_list(DEVICES_KV_PREFIX).await?;
    let rows: Vec<ListedConnector> = loaded
        .config
        .connectors
        .iter()
        .map(|connector| {
            let capability = read_capability(&engine.policy().manifests, &connector.id);
            let last_reading = recorded
                .iter()
                .find(|entry| {
                    entry.key.strip_prefix(DEVICES_KV_PREFIX) == Some(connector.id.as_str())
                })
                .and_then(|entry| serde_json::from_str(&entry.value).ok());
            ListedConnector {
                id: connector.id.clone(),
                kind: connector.kind.as_str().to_string(),
                class: if connector.kind.is_physical() {
                    "physical"
                } else {
                    "cloud"
                }
                .into(),
                mode: if connector.mode == crate::config::ConnectorMode::Write {
                    "write"
                } else {
                    "read"
                }
                .into(),
                enabled: connector.enabled,
                base_url: connector.base_url.clone(),
                poll_interval: crate::clock::human_duration(
                    connector.poll_interval.as_secs() as i64
                ),
                timeout: crate::clock::human_duration(connector.timeout.as_secs() as i64),
                read_capability: capability.as_ref().ok().cloned(),
                capability_problem: capability.err(),
                last_reading,
            }
        })
        .collect();
    if cli.format == Format::Json {
        let _ = output::print_json(&rows);
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    if rows.is_empty() {
        let _ = writeln!(
            out,
            "no connectors configured (`connectors` in {})",
            loaded.origin_name()
        );
    }
    for row in &rows {
        let state = if row.enabled { "" } else { " (disabled)" };
        let _ = writeln!(
            out,
            "{} {} {} {}{state}",
            paint(Paint::Bold, &row.id),
            row.kind,
            row.class,
            row.mode
        );
        let _ = writeln!(
            out,
            "  device API    {}",
            row.base_url.as_deref().unwrap_or("—")
        );
        let _ = writeln!(
            out,
            "  polled every  {} (timeout {})",
            row.poll_interval, row.timeout
        );
        match (&row.read_capability, &row.capability_problem) {
            (Some(capability), _) => {
                let _ = writeln!(
                    out,
                    "  reads as      system:connector:{} under `{capability}`",
                    row.id
                );
            }
            (None, Some(problem)) => {
                let _ = writeln!(
                    out,
                    "  reads as      {} {problem}",
                    paint(Paint::Red, "never:")
                );
            }
            (None, None) => {}
        }
        match &row.last_reading {
            Some(reading) => {
                let _ = writeln!(
                    out,
                    "  last reading  {} devices at {} ({})",
                    reading.devices.len(),
                    reading.observed_at,
                    reading.health
                );
            }
            None => {
                let _ = writeln!(out, "  last reading  none recorded (`brain serve` polls)");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn health(
    cli: &Cli,
    engine: &crate::engine::Engine,
    loaded: &LoadedConfig,
    chosen: &[ConnectorConfig],
) -> Result<ExitCode, EngineError> {
    let fleet = Fleet::from_config(loaded, &engine.policy().manifests).await;
    let mut rows = Vec::new();
    for config in chosen {
        let started = Instant::now();
        let Some(member) = fleet.get(&config.id) else {
            rows.push(HealthRow {
                id: config.id.clone(),
                kind: config.kind.as_str().to_string(),
                health: Health::Unknown,
                reason: Some("disabled in brain.yaml".into()),
                denied: None,
                disabled: true,
                location: config.base_url.clone().unwrap_or_default(),
                devices: 0,
                unparseable: 0,
                seconds: 0.0,
            });
            continue;
        };
        let outcome = member.poll_once(engine).await?;
        let mut status = member.status();
        let mut denied = None;
        match &outcome {
            PollOutcome::Denied(reason) => denied = Some(reason.clone()),
            PollOutcome::Read(_) => {
                if let Ok(connector) = &member.connector
                    && let Err(error) = connector.health_check().await
                {
                    status = member.status();
                    status.reason = Some(format!("the health check failed: {error}"));
                }
            }
            PollOutcome::Failed(_) => {}
        }
        rows.push(HealthRow {
            id: status.id.clone(),
            kind: status.kind.clone(),
            health: if denied.is_some() {
                Health::Unknown
            } else {
                status.health
            },
            reason: status.reason.clone(),
            denied,
            disabled: false,
            location: status.location.clone(),
            devices: status
                .readings
                .as_ref()
                .map_or(0, |readings| readings.devices.len()),
            unparseable: status
                .readings
                .as_ref()
                .map_or(0, |readings| readings.unparseable),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let healthy = rows
        .iter()
        .filter(|row| !row.disabled)
        .all(|row| row.health == Health::Healthy);
    if cli.format == Format::Json {
        let _ = output::print_json(&serde_json::json!({ "healthy": healthy, "connectors": rows }));
    } else {
        let mut out = std::io::stdout().lock();
        if rows.is_empty() {
            let _ = writeln!(out, "no device connector is configured");
        }
        for row in &rows {
            if row.disabled {
                let _ = writeln!(
                    out,
                    "{} ({}) disabled in brain.yaml: not checked",
                    paint(Paint::Bold, &row.id),
                    row.kind
                );
                continue;
            }
            let badge = match row.health {
                Health::Healthy => paint(Paint::Green, "healthy"),
                Health::Degraded => paint(Paint::Yellow, "degraded"),
                Health::Down => paint(Paint::Red, "down"),
                Health::Unknown => paint(Paint::Yellow, "not checked"),
            };
            let _ = writeln!(
                out,
                "{} ({}) {badge}: {} devices in {:.1}s from {}",
                paint(Paint::Bold, &row.id),
                row.kind,
                row.devices,
                row.seconds,
                row.location
            );
            if let Some(denied) = &row.denied {
                let _ = writeln!(
                    out,
                    "  {} {denied}: nothing was sent",
                    paint(Paint::Red, "denied:")
                );
            }
            if let Some(reason) = &row.reason {
                let _ = writeln!(out, "  {reason}");
            }
            if row.unparseable > 0 {
                let _ = writeln!(
                    out,
                    "  {} items of the answer could not be read",
                    row.unparseable
                );
            }
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
