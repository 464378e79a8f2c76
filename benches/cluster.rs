//! API throughput of one `brain serve` against two on one PostgreSQL store, in the same run: a
//! mixed load of reads (`GET /api/v1/proposals`), proposals, approvals and executions from
//! concurrent clients spread over the daemons. Run with
//! `BRAIN_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench cluster`
//! (without it the benchmark says so and measures nothing); BENCHMARKS.md explains the figures.
//!
//! One sample is [`LIFECYCLES`] full lifecycles (propose, approve, execute) plus [`READS`]
//! reads per lifecycle, by [`CLIENTS`] client threads, each sending to the daemons in turn.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

mod support;

fn main() {
    divan::main();
}

const LIFECYCLES: usize = 64;
const READS: usize = 4;
const CLIENTS: usize = 8;

struct Daemon {
    child: Child,
    url: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A studio on its own fresh database with `count` daemons, and the tokens of a proposer and
/// an approver.
struct Cluster {
    daemons: Vec<Daemon>,
    admin: String,
    approver: String,
    _dir: tempfile::TempDir,
}

fn brain(dir: &Path, database: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_brain"));
    command
        .current_dir(dir)
        .env("BRAIN_DATABASE_URL", database)
        .env_remove("BRAIN_CONFIG")
        .env_remove("BRAIN_SERVER")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

fn token(output: std::process::Output) -> String {
    let value: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)));
    value["token"].as_str().unwrap().to_string()
}

fn database_for(base: &str, name: &str) -> String {
    let admin = postgres_command(base, &format!("DROP DATABASE IF EXISTS {name}"));
    assert!(admin, "cannot reach {base}");
    assert!(postgres_command(base, &format!("CREATE DATABASE {name}")));
    match base.rfind('/') {
        Some(slash) => format!("{}/{name}", &base[..slash]),
        None => base.to_string(),
    }
}

fn postgres_command(url: &str, sql: &str) -> bool {
    Command::new("psql")
        .args([url, "-qtAc", sql])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn start(count: usize, base: &str) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for folder in ["policies", "capabilities", "specs"] {
        support::copy_dir(&repo.join(folder), &dir.path().join(folder));
    }
    std::fs::write(
        dir.path().join("capabilities/bench.note.draft.yaml"),
        support::bench_capability("cluster"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("brain.yaml"),
        "studio:\n  name: Cluster benchmark\ndata_dir: data\nstore:\n  postgres:\n    url: { env: BRAIN_DATABASE_URL }\n    max_connections: 8\nthresholds:\n  proposal_expires_after: 7d\n",
    )
    .unwrap();
    let database = database_for(base, &format!("brain_bench_cluster_{count}"));
    let admin = token(
        brain(dir.path(), &database)
            .args(["--format", "json", "actor", "bootstrap"])
            .output()
            .unwrap(),
    );
    let approver = token(
        brain(dir.path(), &database)
            .env("BRAIN_TOKEN", &admin)
            .args(["--format", "json", "actor", "add", "staff:approver"])
            .output()
            .unwrap(),
    );
    let daemons = (0..count)
        .map(|_| {
            let port = free_port();
            let child = brain(dir.path(), &database)
                .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let url = format!("http://127.0.0.1:{port}");
            let client = reqwest::blocking::Client::new();
            for _ in 0..200 {
                if client
                    .get(format!("{url}/readyz"))
                    .send()
                    .is_ok_and(|response| response.status().is_success())
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Daemon { child, url }
        })
        .collect();
    Cluster {
        daemons,
        admin,
        approver,
        _dir: dir,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn clusters() -> &'static Option<(String, [Cluster; 2])> {
    static CLUSTERS: OnceLock<Option<(String, [Cluster; 2])>> = OnceLock::new();
    CLUSTERS.get_or_init(|| {
        let Ok(base) = std::env::var("BRAIN_BENCH_DATABASE_URL") else {
            eprintln!(
                "BRAIN_BENCH_DATABASE_URL is not set: the cluster benchmark measures nothing"
            );
            return None;
        };
        let one = start(1, &base);
        let two = start(2, &base);
        Some((base, [one, two]))
    })
}

/// One client's share of a sample: whole lifecycles and their reads, each request to the
/// next daemon in turn.
fn client_work(cluster: &Cluster, client: usize, lifecycles: usize) {
    let http = reqwest::blocking::Client::new();
    let mut turn = client;
    let mut next = || {
        turn += 1;
        &cluster.daemons[turn % cluster.daemons.len()].url
    };
    for index in 0..lifecycles {
        for _ in 0..READS {
            let response = http
                .get(format!("{}/api/v1/proposals?limit=20", next()))
                .bearer_auth(&cluster.admin)
                .send()
                .unwrap();
            assert!(response.status().is_success());
        }
        let proposal: serde_json::Value = http
            .post(format!("{}/api/v1/proposals", next()))
            .bearer_auth(&cluster.admin)
            .json(&serde_json::json!({
                "capability": "bench.note.draft",
                "input": { "n": index, "client": client },
                "rationale": "benchmark"
            }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let id = proposal["id"].as_str().expect("a proposal id").to_string();
        let approved = http
            .post(format!("{}/api/v1/proposals/{id}/approve", next()))
            .bearer_auth(&cluster.approver)
            .json(&serde_json::json!({}))
            .send()
            .unwrap();
        assert!(approved.status().is_success());
        let executed = http
            .post(format!("{}/api/v1/proposals/{id}/execute", next()))
            .bearer_auth(&cluster.admin)
            .json(&serde_json::json!({}))
            .send()
            .unwrap();
        assert!(executed.status().is_success());
    }
}

/// A mixed load over `daemons` daemons (1 or 2) on one PostgreSQL store; throughput is in
/// requests (each lifecycle is 3 writes and 4 reads).
#[divan::bench(args = [1, 2], sample_count = 5, sample_size = 1)]
fn mixed_load(bencher: divan::Bencher, daemons: usize) {
    let Some((_, clusters)) = clusters() else {
        return;
    };
    let cluster = &clusters[daemons - 1];
    bencher
        .counter(divan::counter::ItemsCount::new(LIFECYCLES * (READS + 3)))
        .bench(|| {
            std::thread::scope(|scope| {
                for client in 0..CLIENTS {
                    scope.spawn(move || client_work(cluster, client, LIFECYCLES / CLIENTS));
                }
            });
        });
}
