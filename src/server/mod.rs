//! `brain serve`: the HTTP surface (health, readiness, metrics) and the daemon's life cycle,
//! with its background tasks: on every daemon the store monitor, the cluster heartbeat
//! (`cluster.rs`) and its own run's heartbeat; on the leader only, the scheduled work
//! (snapshots, swarms, proposal expiry, connector polling, backups, retention, SLO evaluation
//! and alerts, `alerts.rs`).
//!
//! `router(state)` builds every route over shared [`AppState`]; tests drive it with `oneshot`
//! without binding a port. Every request gets a request id (the caller's `x-request-id` when it
//! is sane, else a new one), echoed in the response and attached to its log lines.
//!
//! Architecture Invariant: handlers hold no policy logic; decisions belong to the engine.
//! Architecture Invariant: internal error causes are logged, never sent to clients.

pub mod alerts;
pub mod api;
pub mod charts;
pub mod cluster;
pub mod console;
pub mod openapi;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::config::LoadedConfig;
use crate::engine::Engine;
use crate::policy::PolicySet;
use crate::store::Store;
use crate::telemetry::Metrics;

/// How long a readiness probe waits for the store.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// How long the first snapshot waits for the connectors' first reads.
const CONNECTOR_FIRST_READ_WAIT: Duration = Duration::from_secs(5);

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Everything handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Every decision and state change goes through it.
    pub engine: Arc<Engine>,
    /// Console sessions (kept in the store, valid on every daemon sharing it).
    pub sessions: Arc<console::Sessions>,
    pub policies: Arc<PolicySet>,
    pub config: Arc<LoadedConfig>,
    pub metrics: Arc<Metrics>,
    /// The configured device connectors, their health and latest readings.
    pub connectors: Arc<crate::connectors::fleet::Fleet>,
    /// The configured swarms: their runs, locks and snapshot trigger.
    pub swarms: Arc<crate::swarms::runtime::Runner>,
    /// This daemon among the daemons sharing the store, and the leader lease.
    pub cluster: Arc<cluster::Cluster>,
}

/// Percent-encode one URL path segment or query value (unreserved bytes stay as they are).
pub fn encode_segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Every route of the daemon.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api::routes())
        .merge(console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Request id, metrics and a log line for every request.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |path| path.as_str().to_string());
    let method = request.method().to_string();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_sane_request_id(value))
        .map_or_else(new_request_id, str::to_string);
    let span =
        tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state.metrics.record_http(&route, &method, status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    response
}

fn is_sane_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

fn new_request_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy: fall back to the clock; ids only correlate log lines.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    hex::encode(bytes)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
}

async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.metrics.uptime().as_secs(),
    })
}

/// One readiness check.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: Vec<Check>,
    not_ready: Vec<String>,
}

async fn readyz(State(state): State<AppState>) -> Response {
    let checks = readiness_checks(&state).await;
    let not_ready: Vec<String> = checks
        .iter()
        .filter(|check| !check.ok)
        .map(|check| match &check.detail {
            Some(detail) => format!("{}: {detail}", check.name),
            None => check.name.to_string(),
        })
        .collect();
    let (status, code) = if not_ready.is_empty() {
        ("ready", StatusCode::OK)
    } else {
        ("not_ready", StatusCode::SERVICE_UNAVAILABLE)
    };
    (
        code,
        Json(Readiness {
            status,
            checks,
            not_ready,
        }),
    )
        .into_response()
}

/// The checks behind `/readyz`; also used by the store monitor.
pub async fn readiness_checks(state: &AppState) -> Vec<Check> {
    let health = tokio::time::timeout(STORE_CHECK_TIMEOUT, state.store.health()).await;
    let (reachable, migrated, problem) = match health {
        Ok(health) => (health.reachable, health.migrated, health.problem),
        Err(_) => (
            false,
            false,
            Some("the store did not answer within 3s".to_string()),
        ),
    };
    state.metrics.set_store(reachable, migrated);
    if let Some(problem) = &problem {
        tracing::warn!(problem = %problem, "store check failed");
    }
    vec![
        Check {
            name: "store_reachable",
            ok: reachable,
            detail: (!reachable).then(|| "the store cannot be reached".to_string()),
        },
        Check {
            name: "store_migrated",
            ok: migrated,
            detail: (reachable && !migrated).then(|| {
                problem
                    .clone()
                    .unwrap_or_else(|| "migrations pending".into())
            }),
        },
        Check {
            name: "policies_loaded",
            ok: !state.policies.policies.is_empty(),
            detail: state
                .policies
                .policies
                .is_empty()
                .then(|| "the policy set is empty: every decision would deny".to_string()),
        },
    ]
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Refresh the store gauges so a scrape reflects the store now.
    let _ = readiness_checks(&state).await;
    if let Ok(freshness) = state.engine.freshness().await {
        state.metrics.set_snapshot_age(freshness.age_seconds);
    }
    let mut text = state.metrics.render(state.store.backend().as_str());
    state.connectors.render_metrics(&mut text);
    state.metrics.render_slos(&mut text);
    state.swarms.render_metrics(&state.engine, &mut text).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

async fn not_found(request: Request) -> api::ApiError {
    let path: String = request.uri().path().chars().take(200).collect();
    api::ApiError::Engine(crate::engine::EngineError::NotFound {
        what: "route",
        id: format!("{} {path}", request.method()),
    })
}

async fn method_not_allowed(request: Request) -> Response {
    let body = api::ApiError::BadRequest(format!(
        "`{}` is not allowed on this route; see /api/v1/openapi.json",
        request.method()
    ))
    .body();
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

/// Why the daemon could not start serving.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ServeError {
    #[error("cannot listen on `{address}`: {cause}")]
    #[diagnostic(
        code(serve::bind),
        help(
            "another process may hold the port: stop it, or choose another address with --listen or `server.listen`"
        )
    )]
    Bind { address: SocketAddr, cause: String },
    #[error("the server stopped with an error: {0}")]
    #[diagnostic(code(serve::io))]
    Io(String),
}

/// Bind `address`. A taken port is an error naming the address and what to do.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(address)
        .await
        .map_err(|error| ServeError::Bind {
            address,
            cause: error.to_string(),
        })
}

/// What ends [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT or SIGTERM.
    OnSignal,
    /// SIGINT, SIGTERM, or the end of standard input (`--stop-when-stdin-closes`).
    OnSignalOrStdinClosed,
}

/// Serve until `stop`; in-flight requests finish, then this returns.
pub async fn serve(listener: TcpListener, state: AppState, stop: Stop) -> Result<(), ServeError> {
    let address = listener
        .local_addr()
        .map_err(|error| ServeError::Io(error.to_string()))?;
    recover_interrupted(&state.engine).await;
    // The scorecard reads brain's downtime from its runs: the start, a heartbeat a minute, the
    // stop.
    let run = match state.engine.daemon_started().await {
        Ok(run) => Some(run),
        Err(error) => {
            tracing::warn!(error = %error, "could not record the daemon's start");
            None
        }
    };
    // Install the signal handlers before announcing the address: a SIGTERM that arrives right
    // after start-up must still shut down gracefully, not kill the process.
    let shutdown = shutdown_signal(stop)?;
    let app = router(state.clone());
    let monitor = tokio::spawn(monitor_store(state.clone()));
    let cluster_beat = {
        let state = state.clone();
        tokio::spawn(async move { state.cluster.run(&*state.store).await })
    };
    let daemon_beat = tokio::spawn(heartbeat(state.engine.clone(), run.clone()));
    // The scheduled work runs on the lease holder only.
    let leading = tokio::spawn(lead(state.clone()));
    tracing::info!(address = %address, instance = %state.cluster.instance_id, "listening on http://{address}");
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|error| ServeError::Io(error.to_string()));
    monitor.abort();
    leading.abort();
    cluster_beat.abort();
    daemon_beat.abort();
    let _ = leading.await;
    // Each step is bounded: a store that stopped answering must not keep the daemon from
    // stopping (the lease then expires by itself, and `brain audit verify` reports the head as
    // not yet checkpointed).
    finish(
        "release the leader lease",
        state.cluster.release(&*state.store),
    )
    .await;
    if let Some(run) = &run
        && let Some(Err(error)) = finish(
            "record the daemon's stop",
            state.engine.daemon_heartbeat(run, true),
        )
        .await
    {
        tracing::warn!(error = %error, "could not record the daemon's stop");
    }
    // Sign the chain head, so truncating the log behind brain's back is detectable.
    match finish(
        "sign the shutdown audit checkpoint",
        state.engine.checkpoint_now(),
    )
    .await
    {
        Some(Ok(Some(checkpoint))) => {
            tracing::info!(seq = checkpoint.seq, "signed an audit checkpoint")
        }
        Some(Ok(None)) | None => {}
        Some(Err(error)) => {
            tracing::error!(error = %error, "could not sign the shutdown audit checkpoint")
        }
    }
    tracing::info!("shut down cleanly");
    result
}

/// How long one step of the shutdown may take.
const SHUTDOWN_STEP: Duration = Duration::from_secs(10);

/// Run one step of the shutdown for at most [`SHUTDOWN_STEP`]; `None` (and an error naming the
/// step) when it did not finish.
async fn finish<T>(step: &str, work: impl std::future::Future<Output = T>) -> Option<T> {
    match tokio::time::timeout(SHUTDOWN_STEP, work).await {
        Ok(done) => Some(done),
        Err(_) => {
            tracing::error!(
                "could not {step} within {}s: stopping without it",
                SHUTDOWN_STEP.as_secs()
            );
            None
        }
    }
}

/// Tasks aborted when dropped: the scheduled work of one leadership.
struct Tasks(Vec<tokio::task::JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// The scheduled work: started when this daemon takes the leader lease, stopped when it loses
/// it (or the daemon stops).
fn scheduled_work(state: &AppState) -> Tasks {
    let mut tasks = vec![tokio::spawn(expire_proposals(state.engine.clone()))];
    // Polling starts first, so the first snapshot can carry the devices' first readings.
    tasks.extend(state.connectors.spawn_polling(state.engine.clone()));
    tasks.push(tokio::spawn(snapshot_schedule(state.clone())));
    tasks.push(tokio::spawn(backup_schedule(state.clone())));
    tasks.push(tokio::spawn(retention_schedule(state.clone())));
    tasks.push(tokio::spawn(alerts::evaluate_schedule(state.clone())));
    tasks.extend(
        state
            .config
            .config
            .swarms
            .each()
            .iter()
            .filter(|swarm| swarm.enabled)
            .map(|swarm| tokio::spawn(swarm_schedule(state.clone(), swarm.info.name))),
    );
    Tasks(tasks)
}

/// Follow the lease: run the scheduled work while this daemon holds it.
async fn lead(state: AppState) {
    let mut leading = state.cluster.subscribe();
    loop {
        while !*leading.borrow_and_update() {
            if leading.changed().await.is_err() {
                return;
            }
        }
        state.metrics.set_leader(true);
        let work = scheduled_work(&state);
        while *leading.borrow_and_update() {
            if leading.changed().await.is_err() {
                return;
            }
        }
        drop(work);
        state.metrics.set_leader(false);
    }
}

/// The daemon's heartbeat on its run, once a minute.
async fn heartbeat(engine: Arc<Engine>, run: Option<String>) {
    let Some(run) = run else { return };
    loop {
        tokio::time::sleep(Duration::from_secs(60)).await;
        if let Err(error) = engine.daemon_heartbeat(&run, false).await {
            tracing::warn!(error = %error, "could not record the daemon's heartbeat");
        }
    }
}

/// Resolve executions a crash interrupted, by asking their targets; never re-executes.
async fn recover_interrupted(engine: &Engine) {
    match engine.recover_interrupted().await {
        Ok(recoveries) => {
            for recovery in recoveries {
                tracing::warn!(
                    proposal = %recovery.proposal_id,
                    result = %recovery.result,
                    "interrupted execution: {}",
                    recovery.message
                );
            }
        }
        Err(error) => tracing::error!(error = %error, "could not check for interrupted executions"),
    }
}

/// The studio's time zone, in which `daily_at` times are read.
/// The connectors as every daemon should show them: this daemon's own view while it polls them
/// (it holds the lease), the poller's recorded view otherwise, so a follower's pages, API and
/// cockpit show the same health and readings as the leader's.
pub(crate) async fn connector_statuses(
    state: &AppState,
) -> Vec<crate::connectors::guard::ConnectorStatus> {
    if state.cluster.is_leader() {
        state.connectors.statuses()
    } else {
        state.connectors.recorded_statuses(&*state.store).await
    }
}

fn studio_zone(state: &AppState) -> chrono_tz::Tz {
    // The config check refuses an unknown zone; UTC only guards against a config built in code.
    state
        .config
        .config
        .studio
        .timezone
        .parse::<chrono_tz::Tz>()
        .unwrap_or(chrono_tz::UTC)
}

/// Run `job` on `schedule`: right away when `first_now`, else at the first planned time; then at
/// each `every` and `daily_at` (in the studio's time zone), each delayed by a random part of
/// `jitter`. Runs never overlap: the next is planned when the last has finished. Each run is a
/// task of its own that runs to its end even when the schedule is aborted (the daemon stops, or
/// loses the leader lease): a write transaction in flight commits or rolls back instead of being
/// dropped while it holds the store's write lock.
async fn on_schedule<F, Fut>(
    schedule: crate::config::Schedule,
    zone: chrono_tz::Tz,
    first_now: bool,
    what: &str,
    mut job: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut due_now = first_now;
    loop {
        if !due_now {
            let now = crate::clock::now();
            let Some(next) = schedule.next_run(zone, now) else {
                return;
            };
            tracing::debug!(next = %crate::clock::format_time(next), "next {what} planned");
            tokio::time::sleep((next - now).to_std().unwrap_or(Duration::from_secs(1))).await;
        }
        due_now = false;
        let jitter = schedule.jitter.0.as_secs_f64();
        if jitter > 0.0 {
            let fraction = crate::clock::random_fraction();
            tokio::time::sleep(Duration::from_secs_f64(jitter * fraction)).await;
        }
        if let Err(error) = tokio::spawn(job()).await {
            tracing::warn!(error = %error, "{what} stopped");
        }
    }
}

/// Compute StudioState snapshots on `schedules.snapshot`, the first right after start-up.
async fn snapshot_schedule(state: AppState) {
    let sources = crate::cloud::configured(&state.config);
    if sources.is_empty() {
        tracing::info!("no cloud source configured: no snapshots are scheduled");
        return;
    }
    let schedule = state.config.config.schedules.snapshot.clone();
    let tolerance = state.config.config.thresholds.drift_tolerance;
    // The first snapshot waits briefly for the connectors' first readings.
    state
        .connectors
        .first_reads(CONNECTOR_FIRST_READ_WAIT)
        .await;
    let zone = studio_zone(&state);
    on_schedule(schedule, zone, true, "snapshot", || {
        let state = state.clone();
        let sources = sources.clone();
        async move {
        let started = Instant::now();
        match state
            .engine
            .take_snapshot(&sources, tolerance, |_, _| {})
            .await
        {
            Ok(record) => {
                let documents = record.documents_read();
                let drift = record.drift.as_array().map_or(0, Vec::len) as u64;
                state.metrics.record_snapshot(
                    started.elapsed().as_secs_f64(),
                    documents,
                    drift,
                    record.complete,
                );
                if record.complete {
                    tracing::info!(snapshot = %record.id, documents, "snapshot recorded");
                } else {
                    tracing::warn!(snapshot = %record.id, documents, "snapshot recorded PARTIAL: decisions that need fresh state deny");
                }
                state.swarms.snapshot_recorded();
            }
            Err(error) => {
                state.metrics.record_snapshot_failure();
                tracing::error!(error = %error, "snapshot run failed");
            }
        }
        }
    })
    .await;
}

/// Run swarm `name` after each new snapshot (when `on_snapshot`) and on its own schedule; runs
/// of one swarm never overlap (the runner skips a run while one is under way).
async fn swarm_schedule(state: AppState, name: &'static str) {
    use crate::swarms::runtime::{RunOptions, Trigger};
    let Some(settings) = state.config.config.swarms.get(name) else {
        return;
    };
    let schedule = settings.schedule.cloned();
    let on_snapshot = settings.on_snapshot;
    let zone = studio_zone(&state);
    let mut snapshots = state.swarms.subscribe();
    loop {
        let now = crate::clock::now();
        let next = schedule
            .as_ref()
            .and_then(|schedule| schedule.next_run(zone, now));
        let wait = next
            .map(|next| (next - now).to_std().unwrap_or(Duration::from_secs(1)))
            .unwrap_or(Duration::MAX);
        let trigger = tokio::select! {
            () = tokio::time::sleep(wait), if next.is_some() => Trigger::Schedule,
            changed = snapshots.changed(), if on_snapshot => {
                if changed.is_err() {
                    return;
                }
                Trigger::Snapshot
            }
            else => return,
        };
        if trigger == Trigger::Schedule
            && let Some(jitter) = schedule
                .as_ref()
                .map(|schedule| schedule.jitter.0.as_secs_f64())
            && jitter > 0.0
        {
            tokio::time::sleep(Duration::from_secs_f64(
                jitter * crate::clock::random_fraction(),
            ))
            .await;
        }
        let options = RunOptions {
            trigger,
            requested_by: "system:scheduler".into(),
            dry_run: false,
        };
        // The run is a task of its own, so aborting the schedule never drops it mid-transaction.
        let run = {
            let state = state.clone();
            tokio::spawn(async move { state.swarms.run(&state.engine, name, &options).await })
        };
        let Ok(result) = run.await else {
            tracing::warn!(swarm = name, "swarm run stopped");
            continue;
        };
        match result {
            Some(Ok(report)) if report.outcome == "completed" => tracing::info!(
                swarm = name,
                run = %report.run_id,
                trigger = trigger.as_str(),
                emitted = report.rules.values().map(|tally| tally.emitted).sum::<u64>(),
                suppressed = report.rules.values().map(|tally| tally.suppressed).sum::<u64>(),
                "swarm run completed"
            ),
            Some(Ok(report)) => tracing::warn!(
                swarm = name,
                run = %report.run_id,
                outcome = %report.outcome,
                reasons = %report.reasons.join(", "),
                problem = report.problem.as_deref().unwrap_or(""),
                "swarm run did not complete"
            ),
            Some(Err(error)) => tracing::error!(swarm = name, error = %error, "swarm run failed"),
            None => {}
        }
    }
}

/// Write backup bundles on `schedules.backup` into `backup.dir`, as `system:backup`.
async fn backup_schedule(state: AppState) {
    let Some(schedule) = state.config.config.schedules.backup.clone() else {
        return;
    };
    let caller = crate::engine::Caller::system("backup");
    let dir = state.config.backup_dir();
    let keep = state.config.config.backup.keep;
    let zone = studio_zone(&state);
    on_schedule(schedule, zone, false, "backup", || {
        let (state, caller, dir) = (state.clone(), caller.clone(), dir.clone());
        async move {
            match state.engine.backup_to(&caller, &dir, keep).await {
                Ok(written) => tracing::info!(
                    bundle = %written.dir,
                    to_seq = written.to_seq,
                    removed = written.removed.len(),
                    "backup bundle written"
                ),
                Err(error) => tracing::error!(error = %error, "backup failed"),
            }
        }
    })
    .await;
}

/// Apply the retention TTLs on `schedules.retention`, as `system:retention`.
async fn retention_schedule(state: AppState) {
    let Some(schedule) = state.config.config.schedules.retention.clone() else {
        return;
    };
    let caller = crate::engine::Caller::system("retention");
    let dir = state.config.backup_dir();
    let zone = studio_zone(&state);
    on_schedule(schedule, zone, false, "retention run", || {
        let (state, caller, dir) = (state.clone(), caller.clone(), dir.clone());
        async move {
            match state
                .engine
                .retention(&caller, &state.config.config.retention, &dir, false)
                .await
            {
                Ok(report) => tracing::info!(
                    snapshots = report.snapshots_deleted,
                    diffs = report.diffs_cleared,
                    payloads = report.proposal_payloads_pruned,
                    audit_events = report.audit.events_pruned,
                    held_back = report.audit.held_back.as_deref().unwrap_or(""),
                    "retention applied"
                ),
                Err(error) => tracing::error!(error = %error, "retention run failed"),
            }
        }
    })
    .await;
}

/// Mark open proposals past their expiry as expired, once a minute.
async fn expire_proposals(engine: Arc<Engine>) {
    loop {
        // A task of its own, so aborting this loop never drops the write mid-transaction.
        let due = {
            let engine = engine.clone();
            tokio::spawn(async move { engine.expire_due().await })
        };
        match due.await {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => tracing::info!(count, "expired proposals"),
            Ok(Err(error)) => tracing::warn!(error = %error, "could not expire proposals"),
            Err(error) => tracing::warn!(error = %error, "proposal expiry stopped"),
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

/// Keep the store gauges current and log when the store goes away or comes back.
async fn monitor_store(state: AppState) {
    let mut was_up = true;
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let up = tokio::time::timeout(STORE_CHECK_TIMEOUT, state.store.ping())
            .await
            .is_ok_and(|result| result.is_ok());
        if up != was_up {
            if up {
                tracing::info!("the store is reachable again");
            } else {
                tracing::error!("the store is unreachable: /readyz reports 503 until it returns");
            }
            was_up = up;
        }
        if !up {
            state.metrics.set_store(false, false);
        }
    }
}

/// A future that resolves on SIGINT or SIGTERM (and, for [`Stop::OnSignalOrStdinClosed`], at
/// the end of standard input); the handlers are installed now.
fn shutdown_signal(stop: Stop) -> Result<impl std::future::Future<Output = ()>, ServeError> {
    let stdin_closed = stdin_closed(stop);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let install = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|error| ServeError::Io(format!("cannot handle {name}: {error}")))
        };
        let mut interrupt = install(SignalKind::interrupt(), "SIGINT")?;
        let mut terminate = install(SignalKind::terminate(), "SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT received: finishing in-flight requests"),
                _ = terminate.recv() => tracing::info!("SIGTERM received: finishing in-flight requests"),
                () = stdin_closed => tracing::info!("standard input closed: finishing in-flight requests"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received: finishing in-flight requests"),
                () = stdin_closed => tracing::info!("standard input closed: finishing in-flight requests"),
            }
        })
    }
}

/// A future that resolves when standard input reaches its end (or cannot be read), read on a
/// thread of its own; for [`Stop::OnSignal`] it never resolves and standard input is not read.
fn stdin_closed(stop: Stop) -> impl std::future::Future<Output = ()> {
    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    if stop == Stop::OnSignalOrStdinClosed {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = sender.send(());
        });
    }
    // Without a reader the sender is dropped here, and the future waits forever.
    async move {
        if receiver.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
