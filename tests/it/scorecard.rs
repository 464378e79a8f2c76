//! The scorecard through the real binary: `slos:` in brain.yaml and its checks, `brain
//! scorecard` on a fresh studio (every objective `no_data`, never a made-up number) and after a
//! short `brain serve` run (the daemon's start and stop, snapshots and a review give values),
//! in JSON, for people and as the Markdown review; SQLite and Postgres.

use std::time::Duration;

use serde_json::Value;

use crate::engine::{Backend, Studio};
use crate::support::{brain, copy_dir, normalise, repo, run, scrub, temp_dir, transcript};

fn backends() -> Vec<Backend> {
    crate::engine::backends()
}

fn slo<'a>(scorecard: &'a Value, id: &str) -> &'a Value {
    scorecard["slos"]
        .as_array()
        .and_then(|slos| slos.iter().find(|slo| slo["id"] == id))
        .unwrap_or_else(|| panic!("no objective `{id}` in {scorecard:#}"))
}

#[test]
fn a_fresh_studio_has_no_data_for_any_objective() {
    for backend in backends() {
        let studio = Studio::new(backend, "");
        let (code, scorecard) = studio.json(&studio.admin, &["scorecard", "--period", "7d"]);
        assert_eq!(code, 0, "{scorecard:#}");
        assert_eq!(scorecard["period"]["label"], "7d");
        let slos = scorecard["slos"].as_array().unwrap();
        // The defaults: every indicator, each with an owner.
        assert_eq!(slos.len(), 9, "{scorecard:#}");
        for slo in slos {
            // Only actor bootstrap happened: nothing to measure, and nothing invented.
            assert_eq!(slo["status"], "no_data", "{} ({})", slo["id"], studio.name);
            assert_eq!(slo["value"], "no_data");
            assert_eq!(slo["owner"], "staff:admin");
            assert!(slo["note"].as_str().is_some_and(|note| !note.is_empty()));
        }
        for key in [
            "snapshot_freshness",
            "proposal_review",
            "audit_completeness",
            "connectors",
            "swarms",
            "local_failure",
        ] {
            assert!(scorecard["details"].get(key).is_some(), "details.{key}");
        }
    }
}

#[test]
fn the_scorecard_needs_a_token_and_a_period_it_understands() {
    let studio = Studio::new(Backend::Sqlite, "");
    let output = studio.run(None, &["scorecard"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        studio.transcript(&output)
    );
    let output = studio.run(Some(&studio.admin), &["scorecard", "--period", "fortnight"]);
    insta::assert_snapshot!(
        "bad_period",
        normalise(&studio.transcript(&output), studio.path())
    );
    let output = studio.run(
        Some(&studio.admin),
        &["scorecard", "--period", "month:2026-13"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("month:YYYY-MM"));
    // Markdown is for the scorecard and the policy reviews only.
    let output = studio.run(
        Some(&studio.admin),
        &["--format", "markdown", "proposals", "list"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`--format markdown` is only for"));
}

/// A studio reading the demo's fixtures, snapshotting every 2 seconds.
fn serving_studio(backend: Backend) -> (Studio, tempfile::TempDir) {
    let cloud = temp_dir();
    copy_dir(&repo().join("examples/studio/cloud"), cloud.path());
    let studio = Studio::new(
        backend,
        &format!(
            "cloud:\n  fixtures:\n    dir: {}\nschedules:\n  snapshot:\n    every: 2s\n    jitter: 0s\nslos:\n  heartbeat_gap: 1m\n",
            cloud.path().display()
        ),
    );
    (studio, cloud)
}

#[test]
fn after_a_short_serve_run_every_objective_has_a_value_or_no_data() {
    for backend in backends() {
        let (studio, _cloud) = serving_studio(backend);
        let admin = studio.admin.clone();
        // A low-risk proposal, reviewed while the daemon runs: one review time.
        let reviewer = studio.add("staff:reviewer");
        let id = studio.propose(&admin, "test.remote.write", "{}");
        let daemon = studio.start_daemon();
        let snapshotted = crate::support::eventually(Duration::from_secs(60), || {
            let (_, history) = studio.json(&admin, &["snapshot", "history"]);
            history.as_array().is_some_and(|items| items.len() >= 3)
        });
        assert!(snapshotted, "{}", daemon.logs());
        assert_eq!(studio.json(&reviewer, &["approve", &id]).0, 0);
        assert!(daemon.terminate().success());

        let (code, scorecard) = studio.json(&admin, &["scorecard", "--period", "day"]);
        assert_eq!(code, 0, "{scorecard:#}");
        for slo in scorecard["slos"].as_array().unwrap() {
            let value = &slo["value"];
            assert!(
                value.is_number() || value == "no_data",
                "{}: {value}",
                slo["id"]
            );
            assert_eq!(
                value == "no_data",
                slo["status"] == "no_data",
                "{} ({})",
                slo["id"],
                studio.name
            );
        }
        // The daemon ran and stopped cleanly: up all the time it was known to run, and no
        // cloud write while it was down.
        let uptime = slo(&scorecard, "brain-uptime");
        assert!(uptime["value"].is_number(), "{uptime:#}");
        assert_eq!(slo(&scorecard, "cloud-writes-while-down")["value"], 0.0);
        let downtime = &scorecard["details"]["local_failure"]["downtime"];
        assert!(
            downtime
                .as_array()
                .unwrap()
                .iter()
                .all(|window| window["cause"] == "stopped"),
            "{downtime:#}"
        );
        // Snapshots every 2 s: a share of whole windows, from the audit log.
        let freshness = slo(&scorecard, "snapshot-freshness");
        let share = freshness["value"].as_f64().expect("a number");
        assert!((0.0..=100.0).contains(&share), "{freshness:#}");
        assert!(
            scorecard["details"]["snapshot_freshness"]["complete_snapshots"]
                .as_i64()
                .unwrap()
                >= 3
        );
        // One low-tier review, decided within the test.
        let review = slo(&scorecard, "review-median-low");
        let hours = review["value"].as_f64().expect("a review time");
        assert!((0.0..0.5).contains(&hours), "{review:#}");
        assert_eq!(
            scorecard["details"]["proposal_review"]["tiers"]["low"]["reviews"],
            1
        );
        // Nothing was executed, no connector or swarm ran: no data, not 100% or 0.
        for id in [
            "audit-completeness",
            "connector-availability",
            "connector-mttr",
            "swarm-acceptance",
        ] {
            assert_eq!(slo(&scorecard, id)["status"], "no_data", "{id}");
        }

        // For people: an aligned table; the review in Markdown.
        let output = studio.run(Some(&admin), &["scorecard", "--period", "day"]);
        assert_eq!(output.status.code(), Some(0));
        let table = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(table.contains("SLO"), "{table}");
        assert!(table.contains("brain-uptime"), "{table}");
        let output = studio.run(
            Some(&admin),
            &["--format", "markdown", "scorecard", "--period", "day"],
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            studio.transcript(&output)
        );
        let review = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(
            review.starts_with("# Scorecard review: Engine test studio (day)"),
            "{review}"
        );
        for section in ["## Objectives", "## Breaches", "## Action items"] {
            assert!(review.contains(section), "{section}:\n{review}");
        }
        assert!(review.contains("`review-median-low`"), "{review}");
    }
}

#[test]
fn the_scorecard_of_a_fresh_studio_for_people_and_as_a_review() {
    let studio = Studio::new(Backend::Sqlite, "");
    let output = studio.run(Some(&studio.admin), &["scorecard", "--period", "30d"]);
    insta::assert_snapshot!(
        "fresh_table",
        scrub(&normalise(&studio.transcript(&output), studio.path()))
    );
    let output = studio.run(
        Some(&studio.admin),
        &["--format", "markdown", "scorecard", "--period", "30d"],
    );
    insta::assert_snapshot!(
        "fresh_review",
        scrub(&normalise(&studio.transcript(&output), studio.path()))
    );
}

/// `brain config check` of a config with the repository's policy set and `yaml`: it must fail.
fn check(yaml: &str) -> String {
    let dir = temp_dir();
    let repo = repo();
    std::fs::write(
        dir.path().join("brain.yaml"),
        format!(
            "policy:\n  policies: {0}/policies\n  capabilities: {0}/capabilities\n  specs: {0}/specs\n{yaml}",
            repo.display()
        ),
    )
    .unwrap();
    let output = run(brain(dir.path()).args(["config", "check"]));
    let text = transcript(&output, dir.path());
    assert_eq!(output.status.code(), Some(2), "{text}");
    text
}

#[test]
fn bad_objectives_are_named_with_their_place_in_the_file() {
    let output = check(
        "connectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: sim://hubitat\nslos:\n  heartbeat_gap: 10s\n  objectives:\n    - id: fresh\n      indicator: snapshot_freshness\n      target: 95\n      warning: 90\n      critical: 97\n      owner: staff:admin\n    - id: fresh\n      indicator: review_median\n      target: 4\n      critical: 2\n      owner: \"\"\n      connector: hubitat\n    - id: share\n      indicator: connector_availability\n      connector: hubitat-2\n      target: 120\n      critical: 90\n      owner: staff:admin\n    - id: acceptance\n      indicator: swarm_acceptance\n      swarm: sales\n      target: 30\n      critical: 10\n      owner: staff:admin\n    - id: Bad_Id\n      indicator: uptime\n      target: 1\n      critical: 1\n      owner: staff:admin\n",
    );
    let text = output;
    for expected in [
        "is critical at `97` before it warns at `90`",
        "two objectives have the id `fresh`",
        "is critical at `2` before it warns at `4`",
        "objective `fresh` has no owner",
        "measures `review_median`, which has no `connector`",
        "watches connector `hubitat-2`, which is not configured",
        "has target `120`, which is not a percent (0 to 100) value",
        "counts swarm `sales`, which does not exist",
        "a heartbeat gap of `10s`",
    ] {
        assert!(text.contains(expected), "{expected}:\n{text}");
    }
    insta::assert_snapshot!("bad_objectives", text);
}

#[test]
fn an_audit_gap_is_critical_whatever_the_objective_says() {
    let text = check(
        "slos:\n  objectives:\n    - id: audit\n      indicator: audit_completeness\n      target: 100\n      warning: 100\n      critical: 90\n      owner: staff:admin\n",
    );
    // The message, where in the file, and the fix (the renderer wraps long lines).
    assert!(
        text.contains("objective `audit` is critical only below `90`%"),
        "{text}"
    );
    assert!(text.contains("critical: 90\n"), "{text}");
    assert!(text.contains("must be 100"), "{text}");
    assert!(text.contains("write `critical: 100`"), "{text}");
}

#[test]
fn the_demo_declares_its_objectives_and_they_check_clean() {
    let dir = temp_dir();
    let output = run(brain(dir.path()).args(["--format", "json", "config", "check"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, dir.path())
    );
    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
    let objectives = value["effective"]["slos"]["objectives"].as_array().unwrap();
    let demo = std::fs::read_to_string(repo().join("examples/studio/brain.yaml")).unwrap();
    for objective in objectives {
        let id = objective["id"].as_str().unwrap();
        assert!(
            demo.contains(&format!("- id: {id}\n")),
            "{id} is declared in the demo"
        );
        assert!(objective["on_call"].is_string() || id == "connector-mttr");
    }
    assert_eq!(objectives.len(), 9);
}

/// A local webhook receiver: every POST body it got, answered 200.
struct Receiver {
    address: std::net::SocketAddr,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start() -> Receiver {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = bodies.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_ok()
                    && let Ok(value) = serde_json::from_slice::<Value>(&body)
                {
                    sink.lock().unwrap().push(value);
                }
                let mut stream = reader.into_inner();
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        Receiver { address, bodies }
    }

    fn events(&self, slo: &str) -> Vec<String> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .filter(|body| body["slo"] == slo)
            .map(|body| body["event"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn slo_events(studio: &Studio, after: i64) -> Vec<Value> {
    let (_, events) = studio.json(
        &studio.admin,
        &["audit", "tail", "--actor", "system:scorecard", "-n", "1000"],
    );
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"] == "slo" && event["seq"].as_i64().unwrap() > after)
        .cloned()
        .collect()
}

fn audit_head(studio: &Studio) -> i64 {
    let (_, events) = studio.json(&studio.admin, &["audit", "tail", "-n", "1"]);
    events[0]["seq"].as_i64().unwrap()
}

#[test]
fn snapshots_that_stop_breach_freshness_and_their_return_recovers_it() {
    for backend in backends() {
        let receiver = Receiver::start();
        let cloud = temp_dir();
        copy_dir(&repo().join("examples/studio/cloud"), cloud.path());
        // The webhook addresses are secrets: one carries a token that must never be printed.
        let studio = Studio::with_env(
            backend,
            &format!(
                "cloud:\n  fixtures:\n    dir: {}\nschedules:\n  snapshot:\n    every: 2s\n    jitter: 0s\nslos:\n  evaluate_every: 1s\n  alert_window: 20s\n  repeat_after: 1h\n  heartbeat_gap: 1m\n  console_url: http://studio.local:8787\n  webhooks:\n    - id: receiver\n      url: {{ env: RECEIVER_URL }}\n    - id: down\n      url: {{ env: DOWN_URL }}\n      timeout: 1s\n      attempts: 2\n  objectives:\n    - id: fresh\n      indicator: snapshot_freshness\n      target: 60\n      critical: 40\n      owner: staff:admin\n      on_call: page the front desk\n",
                cloud.path().display(),
            ),
            vec![
                (
                    "RECEIVER_URL".to_string(),
                    format!("http://{}/hook?token=hook-token-4411", receiver.address),
                ),
                (
                    "DOWN_URL".to_string(),
                    format!(
                        "http://127.0.0.1:{}/hook?token=hook-token-4411",
                        closed_port()
                    ),
                ),
            ],
        );
        let check = studio.run(None, &["config", "check"]);
        assert!(
            !studio.transcript(&check).contains("hook-token-4411"),
            "{}",
            studio.transcript(&check)
        );
        let daemon = studio.start_daemon();
        // Snapshots flow: the objective settles at ok.
        let metrics_say = |text: &str| {
            crate::support::eventually(Duration::from_secs(60), || {
                crate::support::get(&daemon.url("/metrics"))
                    .1
                    .contains(text)
            })
        };
        assert!(
            metrics_say("brain_slo_status{slo=\"fresh\"} 0"),
            "{}",
            daemon.logs()
        );
        let metrics = crate::support::get(&daemon.url("/metrics")).1;
        assert!(
            metrics.contains(
                "brain_slo_value{slo=\"fresh\",indicator=\"snapshot_freshness\",unit=\"percent\"}"
            ),
            "{metrics}"
        );
        assert!(
            metrics.contains("brain_slo_critical_threshold{slo=\"fresh\"} 40"),
            "{metrics}"
        );
        let before = audit_head(&studio);
        let delivered_before = receiver.events("fresh").len();

        // A collection the cloud source cannot read: every snapshot is partial.
        let firings = cloud.path().join("kilnFirings");
        let kept = temp_dir();
        copy_dir(&firings, kept.path());
        std::fs::remove_dir_all(&firings).unwrap();
        assert!(
            metrics_say("brain_slo_status{slo=\"fresh\"} 2"),
            "{}",
            daemon.logs()
        );
        let breached = crate::support::eventually(Duration::from_secs(30), || {
            slo_events(&studio, before)
                .iter()
                .any(|event| event["reason_codes"] == serde_json::json!(["SLO_BREACH"]))
        });
        assert!(breached, "{:#?}", slo_events(&studio, before));
        // The cockpit's tile turns critical with the breach.
        let cookie = crate::support::sign_in(&daemon, &studio.admin);
        let tile_is = |status: &str| {
            crate::support::eventually(Duration::from_secs(30), || {
                let (code, html) = crate::support::console_page(&daemon, &cookie, "/");
                code == 200 && html.contains(&format!("id=\"slo-fresh\" data-status=\"{status}\""))
            })
        };
        assert!(
            tile_is("critical"),
            "{}",
            crate::support::console_page(&daemon, &cookie, "/").1
        );

        // The source returns: recovered.
        copy_dir(kept.path(), &firings);
        assert!(
            metrics_say("brain_slo_status{slo=\"fresh\"} 0"),
            "{}",
            daemon.logs()
        );
        let recovered = crate::support::eventually(Duration::from_secs(30), || {
            slo_events(&studio, before)
                .iter()
                .any(|event| event["reason_codes"] == serde_json::json!(["SLO_RECOVERED"]))
        });
        assert!(recovered, "{:#?}", slo_events(&studio, before));
        assert!(
            tile_is("ok"),
            "{}",
            crate::support::console_page(&daemon, &cookie, "/").1
        );
        let events = slo_events(&studio, before);
        // Ok to warning, then warning to critical: each a breach.
        let breach = events
            .iter()
            .find(|event| {
                event["reason_codes"] == serde_json::json!(["SLO_BREACH"])
                    && event["detail"]["status"] == "critical"
            })
            .unwrap_or_else(|| panic!("a critical breach: {events:#?}"));
        assert_eq!(breach["actor"], "system:scorecard");
        assert_eq!(breach["decision"], "breach");
        assert_eq!(breach["detail"]["slo"], "fresh");
        assert_eq!(breach["detail"]["status"], "critical");

        // Both reached the receiver, with ids, values and the audit event's hash.
        let delivered = crate::support::eventually(Duration::from_secs(30), || {
            let events = receiver.events("fresh")[delivered_before..].to_vec();
            events.contains(&"breach".to_string()) && events.contains(&"recovered".to_string())
        });
        assert!(delivered, "{:?}", receiver.events("fresh"));
        let bodies = receiver.bodies.lock().unwrap().clone();
        let posted = bodies
            .iter()
            .find(|body| body["event"] == "breach" && body["audit"]["hash"] == breach["hash"])
            .unwrap_or_else(|| panic!("the breach's post: {bodies:#?}"));
        assert_eq!(posted["status"], "critical");
        assert_eq!(posted["target"], 60.0);
        assert_eq!(posted["unit"], "percent");
        assert_eq!(
            posted["links"]["cockpit"],
            "http://studio.local:8787/console"
        );
        assert!(posted["value"].is_number());
        // Nothing from the studio's records travels in a notification.
        assert!(!posted.to_string().contains("front desk"));

        // The sink that is down: each notification kept as a dead letter, audited.
        let dead = crate::support::eventually(Duration::from_secs(30), || {
            slo_events(&studio, before)
                .iter()
                .filter(|event| {
                    event["decision"] == "undelivered" && event["detail"]["sink"] == "down"
                })
                .count()
                >= 2
        });
        assert!(dead, "{:#?}", slo_events(&studio, before));
        assert!(metrics_say(
            "brain_slo_notifications_total{sink=\"down\",result=\"dead_letter\"}"
        ));
        assert!(metrics_say(
            "brain_slo_notifications_total{sink=\"receiver\",result=\"delivered\"}"
        ));
        // The daily computation is audited once.
        let daily = slo_events(&studio, 0)
            .iter()
            .filter(|event| event["decision"] == "computed")
            .count();
        assert_eq!(daily, 1);
        // The webhook's token shows nowhere: not in logs, not in the audit log.
        assert!(
            !daemon.logs().contains("hook-token-4411"),
            "{}",
            daemon.logs()
        );
        assert!(
            !slo_events(&studio, 0)
                .iter()
                .any(|event| event.to_string().contains("hook-token-4411"))
        );
        // The daemon answers the scorecard too (`--server`), the same objectives and breach.
        let remote = crate::support::run(
            studio
                .command(Some(&studio.admin))
                .env("BRAIN_SERVER", daemon.url(""))
                .args(["--format", "json", "scorecard", "--period", "day"]),
        );
        assert_eq!(
            remote.status.code(),
            Some(0),
            "{}",
            studio.transcript(&remote)
        );
        let remote: serde_json::Value = serde_json::from_slice(&remote.stdout).unwrap();
        assert_eq!(slo(&remote, "fresh")["last_breach_at"], breach["at"]);
        assert_eq!(remote["studio"], "Engine test studio");
        let review = crate::support::run(
            studio
                .command(Some(&studio.admin))
                .env("BRAIN_SERVER", daemon.url(""))
                .args(["--format", "markdown", "scorecard", "--period", "day"]),
        );
        let review = String::from_utf8_lossy(&review.stdout).to_string();
        assert!(
            review.contains("# Scorecard review: Engine test studio"),
            "{review}"
        );
        let bad = crate::support::get(&daemon.url("/api/v1/scorecard?period=fortnight"));
        assert_eq!(bad.0, 401, "unauthenticated first: {}", bad.1);
        assert!(daemon.terminate().success());

        // The scorecard names the breach.
        let (_, scorecard) = studio.json(&studio.admin, &["scorecard", "--period", "day"]);
        assert_eq!(slo(&scorecard, "fresh")["last_breach_at"], breach["at"]);
    }
}
