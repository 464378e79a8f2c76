//! Resilience drills: every scenario `brain drill list` names runs in its own sandbox, passes on
//! the repository's policy set, and lands in the studio's audit log (SQLite and Postgres); the
//! studio's own records are untouched; who may not read the audit log may not run one.

use serde_json::Value;

use crate::engine::Studio;

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
        for wanted in [
            "kill-switch",
            "token-compromise",
            "delegation-revocation-race",
            "local-db-corruption",
        ] {
            assert!(
                scenarios.iter().any(|name| name == wanted),
                "{label}: {listed}"
            );
        }
        let (_, before) = studio.json(&token, &["proposals", "list"]);
        for scenario in &scenarios {
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
