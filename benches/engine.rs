//! Engine benchmarks: full propose → approve → execute lifecycles with the durable chained audit,
//! next to a bare loop of the same number of durable commits on the same store (the ceiling),
//! `brain audit verify` throughput, and the scorecard's scan of the audit log against a raw
//! SQLite read of the same rows. Run with `cargo bench --bench engine`; BENCHMARKS.md explains
//! the figures.
//!
//! SQLite always (a file in a temp dir, `synchronous = FULL`: every commit is durable); Postgres
//! too when `BRAIN_BENCH_DATABASE_URL` names a database the benchmark may fill.

use std::sync::{Arc, OnceLock};

use brain::audit::checkpoint::AuditSigner;
use brain::config::Environment;
use brain::engine::{Caller, Engine, EngineSettings, Executors, PolicyBundle, ProposeRequest};
use brain::store::{KvEntry, PostgresStore, SqliteStore, Store};

mod support;

fn main() {
    divan::main();
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    engines: Vec<(&'static str, Arc<Engine>)>,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for folder in ["policies", "capabilities", "specs"] {
            support::copy_dir(&repo.join(folder), &dir.path().join(folder));
        }
        std::fs::write(
            dir.path().join("capabilities/bench.note.draft.yaml"),
            support::bench_capability("engine"),
        )
        .unwrap();
        std::fs::write(dir.path().join("brain.yaml"), "studio:\n  name: Bench\n").unwrap();
        let loaded = brain::config::load(
            Some(&dir.path().join("brain.yaml")),
            &Environment::process(),
        )
        .unwrap();
        let bundle = Arc::new(PolicyBundle::load(&loaded).unwrap());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let engines = runtime.block_on(async {
            let mut stores: Vec<(&'static str, Arc<dyn Store>)> = vec![(
                "sqlite",
                Arc::new(
                    SqliteStore::open(&dir.path().join("brain.db"))
                        .await
                        .unwrap(),
                ),
            )];
            if let Ok(url) = std::env::var("BRAIN_BENCH_DATABASE_URL") {
                let store = PostgresStore::connect(&url, 8, std::time::Duration::from_secs(5))
                    .await
                    .unwrap();
                stores.push(("postgres", Arc::new(store)));
            }
            let mut engines = Vec::new();
            for (name, store) in stores {
                store.migrate().await.unwrap();
                let engine = Engine::new(
                    store,
                    bundle.clone(),
                    EngineSettings::default(),
                    Arc::new(AuditSigner::generate().unwrap()),
                    Executors::new(),
                );
                let _ = engine.bootstrap_admin("admin").await;
                let admin = caller("staff:admin");
                let _ = engine.add_actor(&admin, "staff:approver", None).await;
                engines.push((name, Arc::new(engine)));
            }
            engines
        });
        Fixture {
            runtime,
            engines,
            _dir: dir,
        }
    })
}

fn caller(id: &str) -> Caller {
    let (kind, name) = id.split_once(':').unwrap();
    Caller {
        id: id.into(),
        actor_type: brain::capability::ActorType::parse(kind).unwrap(),
        name: name.into(),
    }
}

fn backends() -> Vec<&'static str> {
    fixture().engines.iter().map(|(name, _)| *name).collect()
}

fn engine(name: &str) -> &'static Arc<Engine> {
    &fixture()
        .engines
        .iter()
        .find(|(backend, _)| *backend == name)
        .expect("backend")
        .1
}

/// One full lifecycle: propose (staff:admin), approve (staff:approver), execute: three
/// decisions, three state changes, four chained audit events, three durable commits.
#[divan::bench(args = backends(), sample_count = 30, sample_size = 10)]
fn lifecycle(bencher: divan::Bencher, backend: &str) {
    let engine = engine(backend);
    let proposer = caller("staff:admin");
    let approver = caller("staff:approver");
    let runtime = &fixture().runtime;
    bencher.bench_local(|| {
        runtime.block_on(async {
            let view = engine
                .propose(
                    &proposer,
                    &ProposeRequest {
                        capability: "bench.note.draft".into(),
                        input: serde_json::json!({ "text": "bench" }),
                        rationale: "benchmark".into(),
                        ..ProposeRequest::default()
                    },
                )
                .await
                .unwrap();
            let id = view.proposal.id;
            engine.approve(&approver, &id, None).await.unwrap();
            engine.execute(&approver, &id).await.unwrap();
        })
    });
}

/// The ceiling: three bare durable commits (one small write each) on the same store. Every
/// write changes its row (a running count): SQLite skips writing a row rewritten with the same
/// bytes, and a commit that writes nothing is not a durable commit.
#[divan::bench(args = backends(), sample_count = 30, sample_size = 10)]
fn bare_commits(bencher: divan::Bencher, backend: &str) {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let store = engine(backend).store().clone();
    let runtime = &fixture().runtime;
    bencher.bench_local(|| {
        runtime.block_on(async {
            for n in 0..3 {
                let count = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let mut tx = store.begin().await.unwrap();
                tx.kv_set(&KvEntry {
                    key: format!("bench:{n}"),
                    value: format!("{{\"n\": {n}, \"count\": {count}}}"),
                    updated_at: "2026-01-01T00:00:00.000000Z".into(),
                    updated_by: "system:bench".into(),
                })
                .await
                .unwrap();
                tx.commit().await.unwrap();
            }
        })
    });
}

/// How many events the verify benchmark's log holds.
const VERIFY_EVENTS: usize = 20_000;

/// An Engine over a log of [`VERIFY_EVENTS`] chained events (appended in large transactions).
fn verify_engine(backend: &str) -> Arc<Engine> {
    static ENGINES: OnceLock<Vec<(String, Arc<Engine>)>> = OnceLock::new();
    let engines = ENGINES.get_or_init(|| {
        let fixture = fixture();
        fixture.runtime.block_on(async {
            let mut engines = Vec::new();
            for (name, base) in &fixture.engines {
                let store: Arc<dyn Store> = match *name {
                    "sqlite" => Arc::new(
                        SqliteStore::open(&fixture._dir.path().join("verify.db"))
                            .await
                            .unwrap(),
                    ),
                    _ => base.store().clone(),
                };
                store.migrate().await.unwrap();
                let (head, _) = store.audit_head().await.unwrap();
                let mut missing = VERIFY_EVENTS.saturating_sub(usize::try_from(head).unwrap_or(0));
                while missing > 0 {
                    let mut tx = store.begin().await.unwrap();
                    for n in 0..missing.min(1_000) {
                        tx.append_audit(brain::audit::NewAuditEvent {
                            at: brain::clock::format_time(brain::clock::now()),
                            actor: "staff:admin".into(),
                            action: "propose".into(),
                            capability: Some("bench.note.draft".into()),
                            proposal_id: Some(format!("p_bench{n}")),
                            decision: "allow".into(),
                            reason_codes: Vec::new(),
                            policy_ids: vec!["staff.propose".into()],
                            policy_set_hash: Some("bench".into()),
                            input_hash: Some("0".repeat(64)),
                            output_hash: None,
                            detail: serde_json::json!({ "rationale": "benchmark", "n": n }),
                        })
                        .await
                        .unwrap();
                    }
                    tx.commit().await.unwrap();
                    missing = missing.saturating_sub(1_000);
                }
                let engine = Engine::new(
                    store,
                    Arc::new(PolicyBundle::new(
                        base.policy().decider.shared_policies(),
                        base.policy().manifests.values().cloned().collect(),
                        Vec::new(),
                        base.policy().state_model.clone(),
                        base.policy().intake.clone(),
                    )),
                    EngineSettings::default(),
                    base.signer().clone(),
                    Executors::new(),
                );
                engines.push((name.to_string(), Arc::new(engine)));
            }
            engines
        })
    });
    engines
        .iter()
        .find(|(name, _)| name == backend)
        .expect("backend")
        .1
        .clone()
}

/// `brain audit verify` over the whole log: recompute every hash, check checkpoints and head.
/// Throughput is reported as events per second.
#[divan::bench(args = backends(), sample_count = 10)]
fn verify(bencher: divan::Bencher, backend: &str) {
    let engine = verify_engine(backend);
    let runtime = &fixture().runtime;
    let first = runtime.block_on(async { engine.verify_log(|_, _| {}).await.unwrap() });
    assert!(first.report.ok, "{:?}", first.report.problems);
    bencher
        .counter(divan::counter::ItemsCount::new(
            usize::try_from(first.report.events).unwrap_or(0),
        ))
        .bench_local(|| runtime.block_on(async { engine.verify_log(|_, _| {}).await.unwrap() }));
}

/// The daemon's HTTP API on loopback over the SQLite fixture, for the load benchmark.
fn http_base() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let fixture = fixture();
        let engine = engine("sqlite").clone();
        fixture.runtime.block_on(async move {
            let dir = fixture._dir.path();
            let loaded =
                brain::config::load(Some(&dir.join("brain.yaml")), &Environment::process())
                    .unwrap();
            let config = Arc::new(loaded);
            let state = brain::server::AppState {
                store: engine.store().clone(),
                policies: engine.policy().decider.shared_policies(),
                engine,
                sessions: Arc::default(),
                swarms: Arc::new(brain::swarms::runtime::Runner::new(
                    config.clone(),
                    Vec::new(),
                    brain::swarms::runtime::SwarmFiles::load(&config).unwrap().0,
                )),
                config,
                metrics: Arc::new(brain::telemetry::Metrics::new()),
                connectors: Arc::default(),
                cluster: Arc::new(brain::server::cluster::Cluster::new(
                    "127.0.0.1:0".into(),
                    brain::server::cluster::Mode::Single,
                )),
            };
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = listener.local_addr().unwrap();
            tokio::spawn(async move {
                let _ = axum::serve(listener, brain::server::router(state)).await;
            });
            format!("http://{address}")
        })
    })
}

/// Tokens for the load benchmark: the proposer and the approver.
fn http_tokens() -> &'static (String, String) {
    static TOKENS: OnceLock<(String, String)> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let engine = engine("sqlite").clone();
        fixture().runtime.block_on(async move {
            let admin = caller("staff:admin");
            let proposer = engine
                .add_actor(&admin, "staff:http-proposer", None)
                .await
                .unwrap();
            let approver = engine
                .add_actor(&admin, "staff:http-approver", None)
                .await
                .unwrap();
            (proposer.token, approver.token)
        })
    })
}

/// Concurrent approve and execute over HTTP on loopback: ten proposals, each approved once and
/// then executed by five concurrent requests; exactly one execution per proposal must succeed.
/// Throughput is requests (approve + execute attempts) per second.
#[divan::bench(sample_count = 20)]
fn http_concurrent_approve_execute(bencher: divan::Bencher) {
    const PROPOSALS: usize = 10;
    const RACERS: usize = 5;
    let base = http_base();
    let (proposer, approver) = http_tokens();
    let runtime = &fixture().runtime;
    let client = reqwest::Client::new();
    bencher
        .counter(divan::counter::ItemsCount::new(PROPOSALS * (1 + RACERS)))
        .with_inputs(|| {
            runtime.block_on(async {
                let mut ids = Vec::new();
                for n in 0..PROPOSALS {
                    let view: serde_json::Value = client
                        .post(format!("{base}/api/v1/proposals"))
                        .bearer_auth(proposer)
                        .json(&serde_json::json!({
                            "capability": "bench.note.draft",
                            "input": { "text": format!("load {n}") },
                            "rationale": "load benchmark",
                        }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    ids.push(view["id"].as_str().unwrap().to_string());
                }
                ids
            })
        })
        .bench_local_values(|ids: Vec<String>| {
            runtime.block_on(async {
                let mut tasks = Vec::new();
                for id in ids {
                    let client = client.clone();
                    let base = base.to_string();
                    let approver = approver.clone();
                    tasks.push(tokio::spawn(async move {
                        let approved = client
                            .post(format!("{base}/api/v1/proposals/{id}/approve"))
                            .bearer_auth(&approver)
                            .json(&serde_json::json!({}))
                            .send()
                            .await
                            .unwrap();
                        assert!(approved.status().is_success());
                        let racers: Vec<_> = (0..RACERS)
                            .map(|_| {
                                let request = client
                                    .post(format!("{base}/api/v1/proposals/{id}/execute"))
                                    .bearer_auth(&approver)
                                    .json(&serde_json::json!({}));
                                tokio::spawn(async move { request.send().await.unwrap().status() })
                            })
                            .collect();
                        let mut succeeded = 0;
                        for racer in racers {
                            let status = racer.await.unwrap();
                            if status.is_success() {
                                succeeded += 1;
                            } else {
                                assert_eq!(status.as_u16(), 409, "a losing racer is refused");
                            }
                        }
                        assert_eq!(succeeded, 1, "exactly one execution of {id}");
                    }));
                }
                for task in tasks {
                    task.await.unwrap();
                }
            })
        });
}

/// A second connection to the SQLite file of the benchmark's store, outside brain: the raw
/// SQLite baseline.
fn raw_sqlite_connection() -> &'static tokio::sync::Mutex<sqlx::SqliteConnection> {
    static CONN: OnceLock<tokio::sync::Mutex<sqlx::SqliteConnection>> = OnceLock::new();
    CONN.get_or_init(|| {
        use sqlx::ConnectOptions;
        let f = fixture();
        let path = f._dir.path().join("brain.db");
        let conn = f.runtime.block_on(async {
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(std::time::Duration::from_secs(10))
                .connect()
                .await
                .unwrap()
        });
        tokio::sync::Mutex::new(conn)
    })
}

/// The raw SQLite baseline: three durable commits of one small write each, sent straight through
/// sqlx on its own connection to the same file, each as one query (`BEGIN IMMEDIATE; ...;
/// COMMIT`): the fewest hand-offs a durable commit through sqlx can take.
#[divan::bench(sample_count = 30, sample_size = 10)]
fn raw_sqlite_commits(bencher: divan::Bencher) {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let runtime = &fixture().runtime;
    let conn = raw_sqlite_connection();
    bencher.bench_local(|| {
        runtime.block_on(async {
            let mut conn = conn.lock().await;
            for n in 0..3 {
                let count = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) as i64;
                sqlx::query("BEGIN IMMEDIATE; INSERT INTO runtime_kv (key, value, updated_at, updated_by) VALUES ($1, $2, 'x', 'y') ON CONFLICT (key) DO UPDATE SET value = excluded.value; COMMIT")
                    .bind(format!("raw:{n}")).bind(count.to_string()).execute(&mut *conn).await.unwrap();
            }
        })
    });
}

/// Lifecycles in the scorecard's log: four events each.
const SCORECARD_LIFECYCLES: usize = 5_000;

/// An Engine over a SQLite log of [`SCORECARD_LIFECYCLES`] real lifecycles (propose, approve,
/// execute through the Engine), in a file of its own, for the scorecard's scan.
fn scorecard_engine() -> &'static Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let fixture = fixture();
        let base = engine("sqlite");
        fixture.runtime.block_on(async {
            let store: Arc<dyn Store> = Arc::new(
                SqliteStore::open(&fixture._dir.path().join("scorecard.db"))
                    .await
                    .unwrap(),
            );
            store.migrate().await.unwrap();
            let engine = Engine::new(
                store,
                Arc::new(PolicyBundle::new(
                    base.policy().decider.shared_policies(),
                    base.policy().manifests.values().cloned().collect(),
                    Vec::new(),
                    base.policy().state_model.clone(),
                    base.policy().intake.clone(),
                )),
                EngineSettings::default(),
                base.signer().clone(),
                Executors::new(),
            );
            let _ = engine.bootstrap_admin("admin").await;
            let _ = engine
                .add_actor(&caller("staff:admin"), "staff:approver", None)
                .await;
            let (proposer, approver) = (caller("staff:admin"), caller("staff:approver"));
            for n in 0..SCORECARD_LIFECYCLES {
                let view = engine
                    .propose(
                        &proposer,
                        &ProposeRequest {
                            capability: "bench.note.draft".into(),
                            input: serde_json::json!({ "text": format!("note {n}") }),
                            rationale: "benchmark".into(),
                            ..ProposeRequest::default()
                        },
                    )
                    .await
                    .unwrap();
                engine
                    .approve(&approver, &view.proposal.id, None)
                    .await
                    .unwrap();
                engine.execute(&approver, &view.proposal.id).await.unwrap();
            }
            Arc::new(engine)
        })
    })
}

/// The scorecard of the default objectives over the last 30 days, the whole log inside it: the
/// paged read of the audit log, decoding every event and the computation. Throughput is
/// reported as events per second; compare `raw_sqlite_audit_scan`.
#[divan::bench(sample_count = 10)]
fn scorecard_30d(bencher: divan::Bencher) {
    let engine = scorecard_engine();
    let runtime = &fixture().runtime;
    let objectives: Vec<brain::scorecard::Objective> = brain::config::slos::default_objectives()
        .iter()
        .map(brain::config::slos::SloConfig::objective)
        .collect();
    let settings = brain::scorecard::Settings::default();
    let (events, _) = runtime.block_on(engine.store().audit_head()).unwrap();
    bencher
        .counter(divan::counter::ItemsCount::new(
            usize::try_from(events).unwrap_or(0),
        ))
        .bench_local(|| {
            runtime.block_on(async {
                let now = brain::clock::now();
                let period = brain::scorecard::Period::parse("30d", now, chrono_tz::UTC).unwrap();
                let scorecard = engine
                    .compute_scorecard(&objectives, &period, &settings, now)
                    .await
                    .unwrap();
                assert!(
                    scorecard
                        .slo("review-median-low")
                        .unwrap()
                        .value
                        .0
                        .is_some()
                );
                scorecard
            })
        });
}

/// The baseline: the same events read straight through sqlx on a connection of its own, every
/// column of an audit event, its JSON columns decoded, in chain order, in one query.
#[divan::bench(sample_count = 10)]
fn raw_sqlite_audit_scan(bencher: divan::Bencher) {
    use sqlx::{ConnectOptions, Row};
    let engine = scorecard_engine();
    let runtime = &fixture().runtime;
    let (events, _) = runtime.block_on(engine.store().audit_head()).unwrap();
    let mut conn = runtime.block_on(async {
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(fixture()._dir.path().join("scorecard.db"))
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .connect()
            .await
            .unwrap()
    });
    bencher
        .counter(divan::counter::ItemsCount::new(
            usize::try_from(events).unwrap_or(0),
        ))
        .bench_local(|| {
            runtime.block_on(async {
                let rows = sqlx::query(
                    "SELECT seq, at, actor, action, capability, proposal_id, decision, reason_codes, \
                     policy_ids, policy_set_hash, input_hash, output_hash, detail, prev_hash, hash \
                     FROM audit_events ORDER BY seq",
                )
                .fetch_all(&mut conn)
                .await
                .unwrap();
                let mut fields = 0usize;
                for row in &rows {
                    for column in ["reason_codes", "policy_ids"] {
                        let list: Vec<String> =
                            serde_json::from_str(row.get::<&str, _>(column)).unwrap();
                        fields += list.len();
                    }
                    let detail: serde_json::Value =
                        serde_json::from_str(row.get::<&str, _>("detail")).unwrap();
                    fields += detail.as_object().map_or(0, serde_json::Map::len);
                    let texts: [Option<String>; 4] = [
                        row.get("at"),
                        row.get("actor"),
                        row.get("capability"),
                        row.get("hash"),
                    ];
                    fields += texts.iter().flatten().count();
                }
                (rows.len(), fields)
            })
        });
}
