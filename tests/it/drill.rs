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
