//! Resilience drills: every scenario `brain drill list` names runs in its own sandbox, passes on
//! the repository's policy set, and lands in the studio's audit log (SQLite and Postgres); the
//! studio's own records are untouched; who may not read the audit log may not run one. The
//! daemon drills (`store-outage`, `leader-loss`) run on a database of their own on the
//! `BRAIN_TEST_DATABASE_URL` server (skipped without it) and are refused, naming the fix, on a
//! SQLite studio without `--database-url`.

use serde_json::Value;

use crate::engine::{Backend, Studio};

/// Every scenario `brain drill list` must name.
const SCENARIOS: [&str; 7] = [
    "kill-switch",
    "token-compromise",
    "delegation-revocation-race",
    "local-db-corruption",
    "store-outage",
    "leader-loss",
    "connector-timeout-storm",
];

/// The scenarios that run real daemons on a PostgreSQL server; each has a test of its own.
const DAEMON_DRILLS: [&str; 2] = ["store-outage", "leader-loss"];

/// The scenarios with a test of their own.
const OWN_TESTS: [&str; 3] = ["store-outage", "leader-loss", "connector-timeout-storm"];

/// The check named `name` of `report`.
fn check<'r>(report: &'r Value, name: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|check| check["name"] == name))
        .unwrap_or_else(|| panic!("no check `{name}` in {report:#}"))
}

/// `brain drill run SCENARIO --format json` passed, recorded in the studio's audit log.
fn assert_passed_and_recorded(studio: &Studio, scenario: &str, code: i32, report: &Value) {
    assert_eq!(code, 0, "{scenario}: {report:#}");
    assert_eq!(report["scenario"], scenario);
    assert_eq!(report["outcome"], "passed", "{report:#}");
    let checks = report["checks"].as_array().unwrap();
    assert!(checks.len() >= 3, "{report:#}");
    assert!(checks.iter().all(|check| check["passed"] == true));
    assert!(report["recovery_seconds"].as_f64().is_some(), "{report:#}");
    let (_, events) = studio.json(
        &studio.admin,
        &["audit", "tail", "-n", "1", "--decision", "passed"],
    );
    let event = &events[0];
    assert_eq!(event["action"], "drill", "{events:#}");
    assert_eq!(event["seq"], report["audit_seq"]);
    assert_eq!(event["detail"]["checks"], report["checks"]);
}

/// The Postgres server of `BRAIN_TEST_DATABASE_URL`, or `None` (the test is skipped).
fn postgres_server() -> Option<String> {
    match std::env::var("BRAIN_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("note: BRAIN_TEST_DATABASE_URL is not set; the daemon drills are skipped");
            None
        }
    }
}

#[test]
fn every_drill_passes_in_a_sandbox_and_is_recorded_in_the_audit_log() {
    for studio in Studio::all() {
        let label = studio.label();
        let token = studio.admin.clone();
        let (code, listed) = studio.json(&token, &["drill", "list"]);
        assert_eq!(code, 0, "{label}: {listed}");
        let scenarios: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|scenario| scenario["scenario"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(scenarios, SCENARIOS, "{label}: {listed}");
        let (_, before) = studio.json(&token, &["proposals", "list"]);
        for scenario in scenarios
            .iter()
            .filter(|scenario| !OWN_TESTS.contains(&scenario.as_str()))
        {
            let (code, report) = studio.json(&token, &["drill", "run", scenario]);
            assert_eq!(code, 0, "{label}: {scenario}: {report:#}");
            assert_eq!(report["scenario"], scenario.as_str());
            assert_eq!(report["outcome"], "passed", "{label}: {report:#}");
            let checks = report["checks"].as_array().unwrap();
            assert!(checks.len() >= 3, "{label}: {report:#}");
            assert!(checks.iter().all(|check| check["passed"] == true));
            assert!(report["recovery_seconds"].as_f64().is_some());
            if scenario == "delegation-revocation-race" {
                // The agent proposes and executes during the race; both stop at the revocation.
                for name in [
                    "nothing the agent does after the revocation committed is allowed",
                    "an execution after the revocation is refused with DELEGATION_REVOKED",
                    "a proposal after the revocation is refused with DELEGATION_REVOKED",
                ] {
                    assert_eq!(check(&report, name)["passed"], true, "{report:#}");
                }
                let race = check(
                    &report,
                    "the delegation is revoked while its agent proposes and executes",
                );
                assert!(
                    race["detail"].as_str().unwrap().contains("executions"),
                    "{report:#}"
                );
            }
            assert!(
                report["started_at"].as_str().unwrap() <= report["finished_at"].as_str().unwrap()
            );
            // Recorded in the studio's own log, with the report.
            let (_, events) = studio.json(
                &token,
                &["audit", "tail", "-n", "1", "--decision", "passed"],
            );
            let event = &events[0];
            assert_eq!(event["action"], "drill", "{label}: {events:#}");
            assert_eq!(event["seq"], report["audit_seq"]);
            assert_eq!(event["detail"]["scenario"], scenario.as_str());
            assert_eq!(event["detail"]["checks"], report["checks"]);
        }
        // The sandbox's proposals, actors and switches never reach the studio.
        let (_, after) = studio.json(&token, &["proposals", "list"]);
        assert_eq!(before, after, "{label}");
        let (_, switches) = studio.json(&token, &["kill-switch", "status"]);
        assert!(
            switches["switches"]
                .as_array()
                .unwrap()
                .iter()
                .all(|switch| switch["on"] == false),
            "{label}: {switches}"
        );
        let (_, actors) = studio.json(&token, &["actor", "list"]);
        assert!(!actors.to_string().contains("drill-"), "{label}: {actors}");
        let (code, verified) = studio.json(&token, &["audit", "verify"]);
        assert_eq!(code, 0, "{label}: {verified}");
    }
}

#[test]
fn a_drill_is_refused_to_who_may_not_read_the_audit_log_and_unknown_ones_are_named() {
    let studio = Studio::new(crate::engine::Backend::Sqlite, "");
    let (code, human) = studio.json(&studio.admin, &["actor", "add", "human:hana"]);
    assert_eq!(code, 0);
    let human = human["token"].as_str().unwrap();
    let (code, refused) = studio.run_json(Some(human), &["drill", "run", "kill-switch"]);
    assert_eq!(code, 1, "{refused}");
    assert_eq!(refused["error"]["code"], "denied", "{refused}");
    let (_, events) = studio.json(&studio.admin, &["audit", "tail", "-n", "50"]);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|event: &Value| event["action"] != "drill"),
        "{events:#}"
    );
    let output = studio.run(Some(&studio.admin), &["drill", "run", "meteor-strike"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        studio.transcript(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no drill named `meteor-strike`"),
        "{stderr}"
    );
    assert!(stderr.contains("kill-switch"), "{stderr}");
}

#[test]
fn a_connector_timeout_storm_opens_every_breaker_within_budget_and_recovers() {
    let studio = Studio::new(Backend::Sqlite, "");
    let (code, report) = studio.json(&studio.admin, &["drill", "run", "connector-timeout-storm"]);
    assert_passed_and_recorded(&studio, "connector-timeout-storm", code, &report);
    let opened = check(&report, "every connector's breaker opens");
    assert!(
        opened["detail"].as_str().unwrap().contains("opened"),
        "{report:#}"
    );
    assert!(!opened["detail"].as_str().unwrap().contains("never opened"));
    let banner = check(
        &report,
        "the cockpit shows brain degraded, naming every connector",
    );
    assert!(
        banner["detail"]
            .as_str()
            .unwrap()
            .contains("connector `drill-hubitat` is down"),
        "{report:#}"
    );
    assert_eq!(
        check(
            &report,
            "the requests sent during the storm stay within each connector's budget"
        )["passed"],
        true
    );
}

#[test]
fn a_store_outage_refuses_every_decision_until_the_database_returns_and_brain_recovers_alone() {
    let Some(server) = postgres_server() else {
        return;
    };
    // The studio itself is on SQLite: the drill's daemon runs on a database of its own.
    let studio = Studio::new(Backend::Sqlite, "");
    let (code, report) = studio.json(
        &studio.admin,
        &["drill", "run", "store-outage", "--database-url", &server],
    );
    assert_passed_and_recorded(&studio, "store-outage", code, &report);
    // Fail-closed: requests were made while the store was away, and none was allowed.
    let refused = check(&report, "no decision is allowed while the store is away");
    let detail = refused["detail"].as_str().unwrap();
    assert!(detail.ends_with(", 0 allowed"), "{report:#}");
    assert!(!detail.starts_with("0 request"), "{report:#}");
    assert!(
        check(
            &report,
            "every refusal during the outage is a 5xx naming STORE_UNAVAILABLE"
        )["detail"]
            .as_str()
            .unwrap()
            .contains("STORE_UNAVAILABLE"),
        "{report:#}"
    );
    assert_eq!(
        check(&report, "/readyz reports 503 while the store is away")["passed"],
        true
    );
    // Approvals and executions are refused too, and what was refused did not happen.
    let probes = check(
        &report,
        "an approval and an execution are refused while the store is away",
    );
    assert_eq!(probes["passed"], true, "{report:#}");
    assert!(
        probes["detail"].as_str().unwrap().contains("approve: 503"),
        "{report:#}"
    );
    assert_eq!(
        check(&report, "what the outage refused did not happen")["detail"],
        "the proposal to approve is pending_approval, the one to execute is approved",
        "{report:#}"
    );
}

#[test]
fn a_killed_leader_is_replaced_within_the_target_and_no_scheduled_job_runs_twice() {
    let Some(server) = postgres_server() else {
        return;
    };
    let studio = Studio::new(Backend::Sqlite, "");
    let (code, report) = studio.json(
        &studio.admin,
        &["drill", "run", "leader-loss", "--database-url", &server],
    );
    assert_passed_and_recorded(&studio, "leader-loss", code, &report);
    assert!(
        report["recovery_seconds"].as_f64().unwrap() <= 15.0,
        "{report:#}"
    );
    assert_eq!(
        check(&report, "no singleton job ran on two daemons at once")["passed"],
        true
    );
}

#[test]
fn the_daemon_drills_on_sqlite_without_a_database_url_are_refused_naming_the_fix() {
    let studio = Studio::new(Backend::Sqlite, "");
    for scenario in DAEMON_DRILLS {
        let output = studio.run(Some(&studio.admin), &["drill", "run", scenario]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}",
            studio.transcript(&output)
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("the `{scenario}` drill needs a PostgreSQL server")),
            "{stderr}"
        );
        assert!(stderr.contains("--database-url postgres://"), "{stderr}");
    }
    let output = studio.run(
        Some(&studio.admin),
        &[
            "drill",
            "run",
            "leader-loss",
            "--database-url",
            "mysql://db/brain",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("must be a PostgreSQL URL"),
        "{}",
        studio.transcript(&output)
    );
    // Nothing was recorded: no drill ran.
    let (_, events) = studio.json(&studio.admin, &["audit", "tail", "-n", "50"]);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|event| event["action"] != "drill"),
        "{events:#}"
    );
}

/// The pids of the running (not yet reaped, not zombie) children of `parent` whose command
/// line contains `word`.
#[cfg(target_os = "linux")]
fn children_running(parent: u32, word: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if process_state(pid).is_some_and(|(state, ppid)| state != 'Z' && ppid == parent) {
            let command = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&command).contains(word) {
                found.push(pid);
            }
        }
    }
    found
}

/// The state letter and the parent of `pid`, or `None` when it is gone.
#[cfg(target_os = "linux")]
fn process_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// `NAME=value` from the environment of `pid`.
#[cfg(target_os = "linux")]
fn environment_of(pid: u32, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|byte| *byte == 0).find_map(|entry| {
        String::from_utf8_lossy(entry)
            .strip_prefix(&format!("{name}="))
            .map(str::to_string)
    })
}

#[test]
#[cfg(target_os = "linux")]
fn a_drill_killed_with_kill_9_leaves_no_daemon_running_and_a_later_drill_removes_what_it_left() {
    use crate::support::{psql, psql_column};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    let Some(server) = postgres_server() else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let databases = || psql_column(&server, "SELECT datname FROM pg_database");
    // What an interrupted drill two hours ago left, and what a drill running now has.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let hex = format!(
        "{:06x}{:06x}",
        std::process::id() & 0xff_ffff,
        nanos & 0xff_ffff
    );
    let stale = format!("brain_drill_{}_{hex}", now - 7200);
    let running = format!("brain_drill_{now}_{hex}");
    psql(&server, &format!("CREATE DATABASE {stale}"));
    psql(&server, &format!("CREATE DATABASE {running}"));
    let stale_dir = std::env::temp_dir().join(format!("brain-drill-{}-{hex}", now - 7200));
    std::fs::create_dir_all(stale_dir.join("data")).unwrap();
    std::fs::write(stale_dir.join("brain.yaml"), "studio: {}\n").unwrap();
    let named = format!("brain_drill_{}_0a1b2c3d4e5f_kept", now - 7200);
    psql(&server, &format!("CREATE DATABASE {named}"));

    let studio = Studio::new(Backend::Sqlite, "");
    let mut drill = studio
        .command(Some(&studio.admin))
        .args(["drill", "run", "leader-loss", "--database-url", &server])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let daemons = loop {
        let daemons = children_running(drill.id(), "serve");
        if daemons.len() == 2 {
            break daemons;
        }
        assert!(
            drill.try_wait().unwrap().is_none(),
            "the drill ended before it started its daemons"
        );
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the drill started no daemons"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let its_database = environment_of(daemons[0], "BRAIN_DATABASE_URL")
        .and_then(|url| url.rsplit('/').next().map(str::to_string))
        .unwrap();
    let its_dir = std::fs::read_link(format!("/proc/{}/cwd", daemons[0])).unwrap();

    drill.kill().unwrap();
    drill.wait().unwrap();
    let stopped = Instant::now();
    while daemons
        .iter()
        .any(|pid| process_state(*pid).is_some_and(|(state, _)| state != 'Z'))
    {
        assert!(
            stopped.elapsed() < Duration::from_secs(30),
            "the killed drill's daemons are still running"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let left = databases();
    let stale_dir_left = stale_dir.exists();
    let cleanup = |names: &[&str]| {
        for name in names {
            psql(
                &server,
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            );
        }
        let _ = std::fs::remove_dir_all(&its_dir);
        let _ = std::fs::remove_dir_all(&stale_dir);
    };
    cleanup(&[&running, &named, &its_database, &stale]);
    // The drill removed what was left behind an hour ago or more, and only that.
    assert!(!left.contains(&stale), "{left:?}");
    assert!(!stale_dir_left, "{}", stale_dir.display());
    assert!(left.contains(&running), "{left:?}");
    assert!(
        left.contains(&named),
        "a name of another shape is kept: {left:?}"
    );
    assert!(left.contains(&its_database), "{left:?}");
}
