//! Logs and metrics.
//!
//! Logs go to stderr through `tracing`: human-readable on a terminal, JSON lines otherwise (or
//! when asked). Metrics are a small in-process registry rendered in the Prometheus text format;
//! label values are escaped and label sets are bounded (routes are the router's patterns, never
//! raw paths).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use tracing_subscriber::EnvFilter;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    Auto,
    Human,
    Json,
}

/// Install the global subscriber. `RUST_LOG` / `BRAIN_LOG` refine the level (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("BRAIN_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let terminal = std::io::stderr().is_terminal();
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !terminal,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let result = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
        builder.with_ansi(color).try_init()
    };
    // A second initialisation (tests) keeps the first subscriber.
    let _ = result;
}

/// The daemon's metrics.
pub struct Metrics {
    started: Instant,
    http: Mutex<BTreeMap<(String, String, u16), HttpSeries>>,
    store_up: AtomicI64,
    store_migrated: AtomicI64,
    policies_loaded: AtomicI64,
    snapshot: Mutex<SnapshotSeries>,
    /// This daemon's instance id, and whether it holds the leader lease.
    instance: std::sync::OnceLock<String>,
    leader: AtomicI64,
    slos: Mutex<SloSeries>,
}

/// The last SLO evaluation of `brain serve` and its notifications.
#[derive(Default)]
struct SloSeries {
    /// (id, indicator, unit, value, status, target, warning, critical) per objective.
    objectives: Vec<SloGauge>,
    evaluations: u64,
    /// Notifications by sink and result (`delivered`, `dead_letter`).
    deliveries: BTreeMap<(String, String), u64>,
}

struct SloGauge {
    id: String,
    indicator: &'static str,
    unit: &'static str,
    value: Option<f64>,
    status: i64,
    target: f64,
    warning: f64,
    critical: f64,
}

/// The snapshotter's figures.
#[derive(Default, Clone, Copy)]
struct SnapshotSeries {
    runs: u64,
    failures: u64,
    partial: u64,
    last_duration_seconds: f64,
    last_documents: u64,
    last_drift: u64,
    /// Seconds since the newest snapshot, set at scrape time; -1 without one.
    age_seconds: i64,
}

#[derive(Default, Clone, Copy)]
struct HttpSeries {
    count: u64,
    seconds: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            http: Mutex::new(BTreeMap::new()),
            store_up: AtomicI64::new(0),
            store_migrated: AtomicI64::new(0),
            policies_loaded: AtomicI64::new(0),
            snapshot: Mutex::new(SnapshotSeries {
                age_seconds: -1,
                ..SnapshotSeries::default()
            }),
            instance: std::sync::OnceLock::new(),
            leader: AtomicI64::new(0),
            slos: Mutex::new(SloSeries::default()),
        }
    }

    /// Keep an evaluation's objectives for `/metrics`.
    pub fn set_slos(&self, scorecard: &crate::scorecard::Scorecard) {
        if let Ok(mut series) = self.slos.lock() {
            series.evaluations += 1;
            series.objectives = scorecard
                .slos
                .iter()
                .map(|slo| SloGauge {
                    id: slo.id.clone(),
                    indicator: slo.indicator.as_str(),
                    unit: slo.indicator.unit(),
                    value: slo.value.0,
                    status: slo.status.metric_value(),
                    target: slo.target,
                    warning: slo.warning,
                    critical: slo.critical,
                })
                .collect();
        }
    }

    /// Count one notification's fate at `sink`: `delivered` or `dead_letter`.
    pub fn record_alert_delivery(&self, sink: &str, result: &str) {
        if let Ok(mut series) = self.slos.lock() {
            *series
                .deliveries
                .entry((sink.to_string(), result.to_string()))
                .or_default() += 1;
        }
    }

    /// The SLO families: each objective's value (absent without data), status (0 ok, 1
    /// warning, 2 critical, -1 no data) and thresholds, and the notifications' fates.
    pub fn render_slos(&self, out: &mut String) {
        let Ok(series) = self.slos.lock() else {
            return;
        };
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            out,
            "brain_slo_evaluations_total",
            "counter",
            "SLO evaluations brain serve ran.",
        );
        let _ = writeln!(out, "brain_slo_evaluations_total {}", series.evaluations);
        family(
            out,
            "brain_slo_value",
            "gauge",
            "Each objective's value over the alert window, in its unit; absent without data.",
        );
        for gauge in &series.objectives {
            if let Some(value) = gauge.value {
                let _ = writeln!(
                    out,
                    "brain_slo_value{{slo=\"{}\",indicator=\"{}\",unit=\"{}\"}} {value}",
                    escape(&gauge.id),
                    gauge.indicator,
                    gauge.unit
                );
            }
        }
        family(
            out,
            "brain_slo_status",
            "gauge",
            "Each objective's status: 0 ok, 1 warning, 2 critical, -1 no data.",
        );
        for gauge in &series.objectives {
            let _ = writeln!(
                out,
                "brain_slo_status{{slo=\"{}\"}} {}",
                escape(&gauge.id),
                gauge.status
            );
        }
        for (name, help, pick) in [
            ("brain_slo_target", "Each objective's target.", 0),
            (
                "brain_slo_warning_threshold",
                "Past this an objective warns.",
                1,
            ),
            (
                "brain_slo_critical_threshold",
                "Past this an objective is critical.",
                2,
            ),
        ] {
            family(out, name, "gauge", help);
            for gauge in &series.objectives {
                let value = [gauge.target, gauge.warning, gauge.critical][pick];
                let _ = writeln!(out, "{name}{{slo=\"{}\"}} {value}", escape(&gauge.id));
            }
        }
        family(
            out,
            "brain_slo_notifications_total",
            "counter",
            "SLO notifications by sink and result (delivered, dead_letter).",
        );
        for ((sink, result), count) in &series.deliveries {
            let _ = writeln!(
                out,
                "brain_slo_notifications_total{{sink=\"{}\",result=\"{result}\"}} {count}",
                escape(sink)
            );
        }
    }

    /// Name the daemon whose figures these are (`brain_leader{instance=...}`).
    pub fn set_instance(&self, instance: &str) {
        let _ = self.instance.set(instance.to_string());
    }

    /// Whether this daemon holds the leader lease now. The objectives' figures are the
    /// leader's (it evaluates them): a daemon that stops leading stops exporting them, so no
    /// daemon exports figures that are no longer evaluated.
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(i64::from(leader), Ordering::Relaxed);
        if !leader && let Ok(mut series) = self.slos.lock() {
            series.objectives.clear();
        }
    }

    /// Record one snapshot run: how long it took, what it read, and how it ended.
    pub fn record_snapshot(&self, seconds: f64, documents: u64, drift: u64, complete: bool) {
        if let Ok(mut series) = self.snapshot.lock() {
            series.runs += 1;
            series.partial += u64::from(!complete);
            series.last_duration_seconds = seconds;
            series.last_documents = documents;
            series.last_drift = drift;
        }
    }

    /// Record a snapshot run that failed before it could record anything.
    pub fn record_snapshot_failure(&self) {
        if let Ok(mut series) = self.snapshot.lock() {
            series.runs += 1;
            series.failures += 1;
        }
    }

    /// The newest snapshot's age in seconds (`None` without one).
    pub fn set_snapshot_age(&self, age: Option<i64>) {
        if let Ok(mut series) = self.snapshot.lock() {
            series.age_seconds = age.unwrap_or(-1);
        }
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Count one HTTP request by route pattern, method and status.
    pub fn record_http(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        if let Ok(mut http) = self.http.lock() {
            let series = http
                .entry((route.to_string(), method.to_string(), status))
                .or_default();
            series.count += 1;
            series.seconds += elapsed.as_secs_f64();
        }
    }

    pub fn set_store(&self, up: bool, migrated: bool) {
        self.store_up.store(i64::from(up), Ordering::Relaxed);
        self.store_migrated
            .store(i64::from(migrated), Ordering::Relaxed);
    }

    pub fn set_policies_loaded(&self, count: usize) {
        self.policies_loaded
            .store(i64::try_from(count).unwrap_or(i64::MAX), Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, backend: &str) -> String {
        let mut out = String::new();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            &mut out,
            "brain_build_info",
            "gauge",
            "Build information; always 1.",
        );
        let _ = writeln!(
            out,
            "brain_build_info{{version=\"{}\",store=\"{}\"}} 1",
            escape(env!("CARGO_PKG_VERSION")),
            escape(backend)
        );
        family(
            &mut out,
            "brain_uptime_seconds",
            "gauge",
            "Seconds since the process started.",
        );
        let _ = writeln!(
            out,
            "brain_uptime_seconds {:.3}",
            self.uptime().as_secs_f64()
        );
        family(
            &mut out,
            "brain_store_up",
            "gauge",
            "1 when the last store check reached the store.",
        );
        let _ = writeln!(
            out,
            "brain_store_up {}",
            self.store_up.load(Ordering::Relaxed)
        );
        family(
            &mut out,
            "brain_store_migrated",
            "gauge",
            "1 when every embedded migration is applied.",
        );
        let _ = writeln!(
            out,
            "brain_store_migrated {}",
            self.store_migrated.load(Ordering::Relaxed)
        );
        if let Some(instance) = self.instance.get() {
            family(
                &mut out,
                "brain_leader",
                "gauge",
                "1 while this daemon holds the leader lease and runs the scheduled work.",
            );
            let _ = writeln!(
                out,
                "brain_leader{{instance=\"{}\"}} {}",
                escape(instance),
                self.leader.load(Ordering::Relaxed)
            );
        }
        family(
            &mut out,
            "brain_policies_loaded",
            "gauge",
            "Number of policies in the loaded policy set.",
        );
        let _ = writeln!(
            out,
            "brain_policies_loaded {}",
            self.policies_loaded.load(Ordering::Relaxed)
        );
        let snapshot = self
            .snapshot
            .lock()
            .map(|series| *series)
            .unwrap_or_default();
        for (name, kind, help, value) in [
            (
                "brain_snapshot_age_seconds",
                "gauge",
                "Seconds since the newest StudioState snapshot; -1 without one.",
                snapshot.age_seconds.to_string(),
            ),
            (
                "brain_snapshot_runs_total",
                "counter",
                "Snapshot runs, failed ones included.",
                snapshot.runs.to_string(),
            ),
            (
                "brain_snapshot_failures_total",
                "counter",
                "Snapshot runs that could not record a snapshot.",
                snapshot.failures.to_string(),
            ),
            (
                "brain_snapshot_partial_total",
                "counter",
                "Snapshots recorded partial (a source failed or was denied).",
                snapshot.partial.to_string(),
            ),
            (
                "brain_snapshot_duration_seconds",
                "gauge",
                "How long the last snapshot run took.",
                format!("{:.3}", snapshot.last_duration_seconds),
            ),
            (
                "brain_snapshot_documents",
                "gauge",
                "Documents the last snapshot read.",
                snapshot.last_documents.to_string(),
            ),
            (
                "brain_snapshot_drift",
                "gauge",
                "Collections whose count drifted beyond the tolerance in the last snapshot.",
                snapshot.last_drift.to_string(),
            ),
        ] {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        let http = self
            .http
            .lock()
            .map(|http| http.clone())
            .unwrap_or_default();
        family(
            &mut out,
            "brain_http_requests_total",
            "counter",
            "HTTP requests by route, method and status.",
        );
        for ((route, method, status), series) in &http {
            let _ = writeln!(
                out,
                "brain_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                escape(method),
                series.count
            );
        }
        family(
            &mut out,
            "brain_http_request_duration_seconds_sum",
            "counter",
            "Total seconds spent answering HTTP requests, by route, method and status.",
        );
        for ((route, method, status), series) in &http {
            let _ = writeln!(
                out,
                "brain_http_request_duration_seconds_sum{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {:.6}",
                escape(route),
                escape(method),
                series.seconds
            );
        }
        out
    }
}

/// Escape a Prometheus label value.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::new();
        metrics.record_http("/healthz", "GET", 200, Duration::from_millis(2));
        metrics.record_http("/healthz", "GET", 200, Duration::from_millis(2));
        metrics.set_store(true, true);
        let text = metrics.render("sqlite");
        assert!(
            text.contains(
                "brain_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("brain_store_up 1"));
        assert!(text.contains("# TYPE brain_uptime_seconds gauge"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
