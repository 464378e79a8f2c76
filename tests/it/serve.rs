//! `brain serve` and `brain migrate` through the real binary: probes, graceful shutdown,
//! start-up refusals, and readiness following the store.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Daemon, PgDatabase, brain, eventually, get, run, temp_dir, transcript};

fn postgres_config(dir: &Path) {
    let repo = crate::support::repo();
    std::fs::write(
        dir.join("brain.yaml"),
        format!(
            "store:\n  postgres:\n    url: {{ env: BRAIN_DATABASE_URL }}\n    connect_timeout: 2s\npolicy:\n  policies: {0}/policies\n  capabilities: {0}/capabilities\n",
            repo.display()
        ),
    )
    .unwrap();
}

#[test]
fn serve_answers_health_readiness_and_metrics_then_stops_cleanly() {
    let dir = temp_dir();
    let daemon = Daemon::start(dir.path(), &[], &[]);

    let (status, body) = get(&daemon.url("/healthz"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["status"],
        "ok"
    );

    let (status, body) = get(&daemon.url("/readyz"));
    assert_eq!(status, 200, "{body}");
    let readiness: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(readiness["status"], "ready");
    assert_eq!(readiness["not_ready"], serde_json::json!([]));

    let (status, body) = get(&daemon.url("/no/such/route"));
    assert_eq!(status, 404);
    assert!(body.contains("not_found"));

    let (status, metrics) = get(&daemon.url("/metrics"));
    assert_eq!(status, 200);
    for expected in [
        "brain_build_info{version=",
        "brain_uptime_seconds ",
        "brain_store_up 1",
        "brain_store_migrated 1",
        "brain_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1",
        "brain_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1",
    ] {
        assert!(
            metrics.contains(expected),
            "metrics lack `{expected}`:\n{metrics}"
        );
    }

    // A sane request id is echoed; one that is not is replaced.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (echoed, replaced) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let echoed = client
            .get(daemon.url("/healthz"))
            .header("x-request-id", "probe-123")
            .send()
            .await
            .unwrap();
        let replaced = client
            .get(daemon.url("/healthz"))
            .header("x-request-id", "bad id with spaces")
            .send()
            .await
            .unwrap();
        (
            echoed.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string(),
            replaced.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_string(),
        )
    });
    assert_eq!(echoed, "probe-123");
    assert_eq!(replaced.len(), 16);
    assert!(eventually(Duration::from_secs(5), || daemon
        .logs()
        .contains("probe-123")));

    let logs_before = daemon.logs();
    assert!(
        logs_before.contains("\"level\":\"INFO\""),
        "logs are JSON lines: {logs_before}"
    );
    let stderr = daemon.stderr.clone();
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(stderr.lock().unwrap().contains("shut down cleanly"));
}

#[test]
fn serve_stops_cleanly_when_its_standard_input_closes_only_when_asked_to() {
    let dir = temp_dir();
    let mut command = brain(dir.path());
    command
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0"])
        .arg("--stop-when-stdin-closes")
        .stdin(Stdio::piped());
    let mut supervised = Daemon::spawn(command);
    // Without the flag a daemon whose standard input is already at its end keeps serving.
    let other = temp_dir();
    let unsupervised = Daemon::start(other.path(), &[], &[]);
    let (status, body) = get(&supervised.url("/healthz"));
    assert_eq!(status, 200, "{body}");

    // The supervisor goes away: its end of the pipe closes.
    drop(supervised.child.stdin.take());
    let stderr = supervised.stderr.clone();
    let status = supervised.exit_status("its standard input closed");
    assert_eq!(status.code(), Some(0));
    let logs = stderr.lock().unwrap().clone();
    assert!(logs.contains("standard input closed"), "{logs}");
    assert!(logs.contains("shut down cleanly"), "{logs}");

    let (status, body) = get(&unsupervised.url("/healthz"));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_taken_port_refuses_to_start() {
    let dir = temp_dir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = run(brain(dir.path()).args(["serve", "--listen", &address]));
    assert_eq!(output.status.code(), Some(2));
    let text = transcript(&output, dir.path()).replace(&address, "127.0.0.1:[PORT]");
    assert!(!text.contains("listening on"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn an_unreachable_postgres_refuses_to_start() {
    let dir = temp_dir();
    postgres_config(dir.path());
    let url = "postgres://brain:hunter2@127.0.0.1:1/brain";
    for command in [vec!["serve", "--listen", "127.0.0.1:0"], vec!["migrate"]] {
        let output = run(brain(dir.path())
            .args(&command)
            .env("BRAIN_DATABASE_URL", url));
        let text = transcript(&output, dir.path());
        assert_eq!(output.status.code(), Some(2), "{command:?}: {text}");
        assert!(text.contains("cannot open the store"), "{text}");
        assert!(text.contains("store.postgres.url"), "{text}");
        assert!(!text.contains("hunter2"), "the password leaked: {text}");
        assert!(!text.contains("listening on"), "{text}");
    }
}

#[test]
fn migrate_applies_once_then_reports_up_to_date() {
    let dir = temp_dir();
    let first = run(brain(dir.path()).args(["migrate"]));
    assert_eq!(first.status.code(), Some(0));
    let second = run(brain(dir.path()).args(["--format", "json", "migrate"]));
    assert_eq!(second.status.code(), Some(0));
    insta::assert_snapshot!(format!(
        "{}\n{}",
        transcript(&first, dir.path()),
        transcript(&second, dir.path())
    ));
}

#[test]
fn serve_runs_on_postgres() {
    let Some(database) = PgDatabase::create() else {
        eprintln!("note: BRAIN_TEST_DATABASE_URL is not set; skipping serve on Postgres");
        return;
    };
    let dir = temp_dir();
    postgres_config(dir.path());
    let daemon = Daemon::start(dir.path(), &[], &[("BRAIN_DATABASE_URL", &database.url)]);
    let (status, body) = get(&daemon.url("/readyz"));
    assert_eq!(status, 200, "{body}");
    let (_, metrics) = get(&daemon.url("/metrics"));
    assert!(metrics.contains("store=\"postgres\""), "{metrics}");
    assert_eq!(daemon.terminate().code(), Some(0));
}

/// A private Postgres cluster this test can stop and start.
struct PrivateCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivateCluster {
    fn create() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .find(|bin| bin.join("pg_ctl").is_file())?;
        let dir =
            std::env::temp_dir().join(format!("brain-pg-{}", crate::support::random_suffix()));
        std::fs::create_dir_all(&dir).ok()?;
        let as_postgres = Command::new("id").arg("-u").output().ok()?.stdout == b"0\n";
        if as_postgres {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .ok()?;
            assert!(status.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let cluster = Self {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = cluster.dir.join("data");
        let initdb = cluster.bin.join("initdb");
        let args = ["-D", data.to_str()?, "-A", "trust", "-U", "postgres"];
        assert!(
            cluster.command(&initdb, &args).status().ok()?.success(),
            "initdb failed"
        );
        cluster.start();
        Some(cluster)
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        let mut command = if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        };
        command
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    }

    fn pg_ctl(&self, args: &[&str]) -> bool {
        let data = self.dir.join("data");
        let mut all = vec!["-D", data.to_str().unwrap(), "-w", "-t", "60"];
        all.extend_from_slice(args);
        self.command(&self.bin.join("pg_ctl"), &all)
            .status()
            .is_ok_and(|status| status.success())
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log");
        assert!(
            self.pg_ctl(&["-o", &options, "-l", log.to_str().unwrap(), "start"]),
            "pg_ctl start failed"
        );
    }

    fn stop(&self) {
        assert!(self.pg_ctl(&["-m", "fast", "stop"]), "pg_ctl stop failed");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn readiness_turns_503_when_postgres_stops_and_recovers_when_it_returns() {
    let Some(cluster) = PrivateCluster::create() else {
        assert!(
            std::env::var("BRAIN_TEST_DATABASE_URL").is_err(),
            "PostgreSQL server binaries are required when BRAIN_TEST_DATABASE_URL is set"
        );
        eprintln!("note: no PostgreSQL server binaries; skipping the readiness stop/start test");
        return;
    };
    let dir = temp_dir();
    postgres_config(dir.path());
    let url = cluster.url();
    let daemon = Daemon::start(dir.path(), &[], &[("BRAIN_DATABASE_URL", &url)]);
    assert_eq!(get(&daemon.url("/readyz")).0, 200);

    cluster.stop();
    let mut last = String::new();
    let went_down = eventually(Duration::from_secs(30), || {
        let (status, body) = get(&daemon.url("/readyz"));
        last = body;
        status == 503
    });
    assert!(went_down, "readyz stayed up after Postgres stopped: {last}");
    let body: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["not_ready"].to_string().contains("store_reachable"),
        "{body}"
    );
    assert_eq!(
        get(&daemon.url("/healthz")).0,
        200,
        "the process stays alive"
    );

    cluster.start();
    let came_back = eventually(Duration::from_secs(60), || {
        get(&daemon.url("/readyz")).0 == 200
    });
    assert!(came_back, "readyz did not recover: {}", daemon.logs());
    assert_eq!(daemon.terminate().code(), Some(0));
}
