//! The swarms end to end through the real binary: delegations, runs on the demo studio's
//! fixtures, drafts and their suppression, kill switches, the draft-only rule, the daemon's
//! runs after each snapshot, and the Firestore emulator as the source; SQLite and Postgres.

use serde_json::Value;

use crate::engine::{Backend, Studio};
use crate::support::{copy_dir, repo};

/// brain.yaml lines for both swarms owned by the studio's first admin, reading `cloud`.
fn swarms_config(cloud: &std::path::Path) -> String {
    format!(
        "cloud:\n  fixtures:\n    dir: {}\nswarms:\n  ops:\n    agent: agent:ops-swarm\n    owner: staff:admin\n  marketing:\n    agent: agent:marketing-swarm\n    owner: staff:admin\n  finance:\n    agent: agent:finance-swarm\n    owner: staff:admin\n  trust-safety:\n    agent: agent:trust-safety-swarm\n    owner: staff:admin\n",
        cloud.display()
    )
}

/// A studio with both swarms configured over a copy of the demo's fixtures.
fn studio(backend: Backend) -> (Studio, tempfile::TempDir) {
    let cloud = crate::support::temp_dir();
    copy_dir(&repo().join("examples/studio/cloud"), cloud.path());
    let studio = Studio::new(backend, &swarms_config(cloud.path()));
    copy_dir(&repo().join("swarms"), &studio.path().join("swarms"));
    (studio, cloud)
}

fn backends() -> Vec<Backend> {
    crate::engine::backends()
}

fn subjects(report: &Value) -> Vec<String> {
    let mut subjects: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| finding["subject"].as_str().unwrap().to_string())
        .collect();
    subjects.sort();
    subjects
}

fn total(report: &Value, key: &str) -> u64 {
    report["rules"]
        .as_object()
        .unwrap()
        .values()
        .map(|tally| tally[key].as_u64().unwrap())
        .sum()
}

#[test]
fn a_swarm_without_a_live_delegation_does_not_run_and_says_so() {
    let (studio, _cloud) = studio(Backend::Sqlite);
    let admin = studio.admin.clone();
    let (code, list) = studio.json(&admin, &["swarm", "list"]);
    assert_eq!(code, 0, "{list}");
    assert_eq!(list[0]["name"], "ops");
    assert_eq!(list[0]["delegation_ok"], false);
    assert_eq!(
        list[0]["capabilities"],
        serde_json::json!(["ops.recommendation.draft", "firestore.studio.read"])
    );
    assert!(
        list[0]["problem"]
            .as_str()
            .unwrap()
            .contains("brain swarm enroll ops"),
        "{list}"
    );
    let (code, report) = studio.json(&admin, &["swarm", "run", "ops"]);
    assert_eq!(code, 1, "denied: {report}");
    assert_eq!(report["outcome"], "denied");
    assert_eq!(report["reasons"], serde_json::json!(["DELEGATION_MISSING"]));
    assert_eq!(report["records_read"], 0, "it read nothing");

    // A delegation from someone other than the swarm's owner does not count: it never acts as
    // anyone but its owner's deputy.
    assert_eq!(
        studio.json(&admin, &["actor", "add", "agent:ops-swarm"]).0,
        0
    );
    assert_eq!(studio.json(&admin, &["actor", "add", "staff:bob"]).0, 0);
    let (code, _) = studio.json(
        &admin,
        &[
            "delegate",
            "--agent",
            "agent:ops-swarm",
            "--owner",
            "staff:bob",
            "--scopes",
            "ops.recommendation.draft,firestore.studio.read",
            "--expires",
            "1d",
        ],
    );
    assert_eq!(code, 0);
    let (code, report) = studio.json(&admin, &["swarm", "run", "ops"]);
    assert_eq!(code, 1);
    assert_eq!(report["reasons"], serde_json::json!(["OWNER_MISMATCH"]));
    // Enrolled by its owner's name: it runs; revoked: it stops again.
    let (code, delegation) = studio.json(&admin, &["swarm", "enroll", "ops"]);
    assert_eq!(code, 0, "{delegation}");
    assert_eq!(delegation["owner"], "staff:admin");
    assert_eq!(studio.json(&admin, &["swarm", "run", "ops"]).0, 0);
    let id = delegation["id"].as_str().unwrap();
    assert_eq!(studio.json(&admin, &["delegations", "revoke", id]).0, 0);
    let (code, report) = studio.json(&admin, &["swarm", "run", "ops"]);
    assert_eq!(code, 1);
    assert_eq!(
        report["reasons"],
        serde_json::json!(["OWNER_MISMATCH"]),
        "what is left is bob's delegation, not its owner's"
    );
    let (_, runs) = studio.json(&admin, &["swarm", "runs", "ops"]);
    let outcomes: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|run| run["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["denied", "completed", "denied", "denied"]);
    // Every run is audited as the swarm's agent.
    let (_, events) = studio.json(
        &admin,
        &["audit", "tail", "--actor", "agent:ops-swarm", "-n", "50"],
    );
    assert_eq!(
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == "swarm.run")
            .count(),
        4
    );
}

#[test]
fn swarms_draft_from_the_demo_studio_once_and_hold_repeats_back() {
    for backend in backends() {
        let (studio, _cloud) = studio(backend);
        let admin = studio.admin.clone();
        for name in ["ops", "marketing"] {
            assert_eq!(studio.json(&admin, &["swarm", "enroll", name]).0, 0);
        }
        assert_eq!(studio.json(&admin, &["snapshot", "run"]).0, 0);

        // A dry run proposes nothing and writes only its run record.
        let (code, dry) = studio.json(&admin, &["swarm", "run", "ops", "--dry-run"]);
        assert_eq!(code, 0, "{dry}");
        assert_eq!(dry["dry_run"], true);
        assert_eq!(total(&dry, "emitted"), 0);
        let (_, proposals) = studio.json(&admin, &["proposals", "list"]);
        assert_eq!(
            proposals.as_array().unwrap().len(),
            0,
            "a dry run proposes nothing"
        );

        let (code, ops) = studio.json(&admin, &["swarm", "run", "ops"]);
        assert_eq!(code, 0, "{ops}");
        assert_eq!(
            subjects(&ops),
            vec![
                "agentRequests/ar-55",
                "batches/b-2026-041",
                "communityReports/cr-0098",
                "kilnFirings/f-bisque-1202",
                "reservations/r-006",
            ],
            "{ops}"
        );
        assert_eq!(ops["rules"]["stalled_batch"]["emitted"], 1);
        assert_eq!(total(&ops, "emitted"), 5);
        assert_eq!(ops["snapshot_id"], dry["snapshot_id"]);
        assert_eq!(ops["records_read"], 47);
        let stalled = ops["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|finding| finding["rule"]["id"] == "stalled_batch")
            .unwrap();
        assert_eq!(stalled["rule"]["version"], 1);
        assert_eq!(stalled["severity"], "medium");
        assert_eq!(stalled["evidence"][0]["path"], "batches/b-2026-041");
        assert_eq!(stalled["evidence"][0]["field"], "state");
        assert_eq!(stalled["evidence"][0]["value"], "SUBMITTED");
        let proposal_id = stalled["proposal_id"].as_str().unwrap();
        let (_, proposal) = studio.json(&admin, &["proposals", "show", proposal_id]);
        assert_eq!(proposal["state"], "pending_approval");
        assert_eq!(proposal["proposer"], "agent:ops-swarm");
        assert_eq!(proposal["owner"], "staff:admin");
        assert_eq!(proposal["capability"], "ops.recommendation.draft");
        assert_eq!(proposal["input"]["subject"], "batches/b-2026-041");
        assert_eq!(proposal["input"]["snapshot"]["id"], ops["snapshot_id"]);
        assert_eq!(proposal["input"]["run_id"], ops["run_id"]);

        // The same findings again: held back while their drafts are open.
        let (_, again) = studio.json(&admin, &["swarm", "run", "ops"]);
        assert_eq!(total(&again, "emitted"), 0);
        assert_eq!(total(&again, "suppressed"), 5);
        // Rejected with a reason: quiet for the rule's cooldown (3 days for stalled batches).
        let (code, _) = studio.json(
            &admin,
            &[
                "reject",
                proposal_id,
                "--reason",
                "the batch is on the shelf, not stalled",
            ],
        );
        assert_eq!(code, 0);
        let (_, after) = studio.json(&admin, &["swarm", "run", "ops"]);
        assert_eq!(after["rules"]["stalled_batch"]["suppressed"], 1);
        assert!(
            after["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|finding| finding["note"]
                    .as_str()
                    .is_some_and(|note| note.contains("was rejected; the rule stays quiet until"))),
            "{after}"
        );

        // Marketing: posts from what happened, approved for publishing by a person.
        let (code, marketing) = studio.json(&admin, &["swarm", "run", "marketing"]);
        assert_eq!(code, 0, "{marketing}");
        let post = marketing["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|finding| finding["rule"]["id"] == "firing_completed")
            .unwrap();
        assert_eq!(post["subject"], "kilnFirings/f-glaze-1201");
        let body = post["post"]["body"].as_str().unwrap();
        assert!(
            body.contains("Skutt 1027 finished a glaze firing"),
            "{body}"
        );
        assert!(
            !body.contains("Call Ana"),
            "the firing's note never reaches a post"
        );
        let post_id = post["proposal_id"].as_str().unwrap();
        let (code, approved) = studio.json(&admin, &["approve", post_id]);
        assert_eq!(code, 0, "{approved}");
        assert_eq!(approved["state"], "approved", "{}", studio.name);
    }
}

#[test]
fn kill_switches_stop_the_next_run_and_it_is_audited() {
    let (studio, _cloud) = studio(Backend::Sqlite);
    let admin = studio.admin.clone();
    assert_eq!(studio.json(&admin, &["swarm", "enroll", "ops"]).0, 0);
    assert_eq!(studio.json(&admin, &["snapshot", "run"]).0, 0);
    for (switch, reason) in [
        ("global", "KILL_SWITCH_ACTIVE"),
        ("capability:ops.recommendation.draft", "KILL_SWITCH_ACTIVE"),
        ("target:firestore", "KILL_SWITCH_ACTIVE"),
    ] {
        assert_eq!(
            studio
                .json(&admin, &["kill-switch", "on", switch, "--reason", "drill"])
                .0,
            0
        );
        let (code, report) = studio.json(&admin, &["swarm", "run", "ops"]);
        assert_eq!(code, 1, "{switch}: {report}");
        assert_eq!(report["outcome"], "denied");
        assert_eq!(report["reasons"], serde_json::json!([reason]), "{switch}");
        assert_eq!(total(&report, "emitted"), 0, "{switch}: nothing proposed");
        assert_eq!(
            studio
                .json(
                    &admin,
                    &["kill-switch", "off", switch, "--reason", "drill over"]
                )
                .0,
            0
        );
    }
    let (_, proposals) = studio.json(&admin, &["proposals", "list"]);
    assert_eq!(proposals.as_array().unwrap().len(), 0);
    let (_, denied) = studio.json(
        &admin,
        &[
            "audit",
            "tail",
            "--actor",
            "agent:ops-swarm",
            "--decision",
            "denied",
            "-n",
            "10",
        ],
    );
    assert_eq!(
        denied
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == "swarm.run")
            .count(),
        3,
        "each stopped run is audited"
    );
    // Switched off again, the next run drafts.
    let (code, report) = studio.json(&admin, &["swarm", "run", "ops"]);
    assert_eq!(code, 0);
    assert_eq!(total(&report, "emitted"), 5);
}

#[test]
fn a_swarm_never_proposes_anything_but_a_draft() {
    let (studio, _cloud) = studio(Backend::Sqlite);
    let admin = studio.admin.clone();
    let (_, swarm) = studio.json(&admin, &["actor", "add", "agent:ops-swarm"]);
    let (_, helper) = studio.json(&admin, &["actor", "add", "agent:helper"]);
    for agent in ["agent:ops-swarm", "agent:helper"] {
        let (code, _) = studio.json(
            &admin,
            &[
                "delegate",
                "--agent",
                agent,
                "--owner",
                "staff:admin",
                "--scopes",
                "*",
                "--expires",
                "1d",
            ],
        );
        assert_eq!(code, 0);
    }
    assert_eq!(studio.json(&admin, &["snapshot", "run"]).0, 0);
    let write = [
        "propose",
        "firestore.ops_note.append",
        "--input",
        r#"{"text": "Kiln 2 lid latch is loose"}"#,
        "--rationale",
        "seen by a swarm",
    ];
    let (code, refused) = studio.run_json(swarm["token"].as_str(), &write);
    assert_eq!(code, 1, "{refused}");
    assert_eq!(
        refused["error"]["reason_codes"],
        serde_json::json!(["SWARM_DRAFT_ONLY"])
    );
    assert_eq!(
        refused["error"]["policy_ids"],
        serde_json::json!(["swarm.draft-only"])
    );
    // Enforcement-shaped capabilities are out of reach as well: every non-draft one is.
    let (code, refused) = studio.run_json(
        swarm["token"].as_str(),
        &[
            "propose",
            "brain.kill_switch.set",
            "--input",
            r#"{"name": "global", "on": true}"#,
            "--rationale",
            "r",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        refused["error"]["reason_codes"]
            .as_array()
            .unwrap()
            .contains(&Value::from("SWARM_DRAFT_ONLY")),
        "{refused}"
    );
    // Its own draft capability: allowed. Another agent that is no swarm: the old rules.
    let (code, drafted) = studio.run_json(
        swarm["token"].as_str(),
        &[
            "propose",
            "marketing.post.draft",
            "--input",
            r#"{"channel": "website", "body": "Open studio on Saturday"}"#,
            "--rationale",
            "r",
        ],
    );
    assert_eq!(code, 0, "{drafted}");
    let (code, proposed) = studio.run_json(helper["token"].as_str(), &write);
    assert_eq!(
        code, 0,
        "an agent that is not a swarm proposes as before: {proposed}"
    );
}

#[test]
fn records_holding_personal_data_never_reach_a_draft() {
    let (studio, cloud) = studio(Backend::Sqlite);
    let admin = studio.admin.clone();
    assert_eq!(studio.json(&admin, &["swarm", "enroll", "marketing"]).0, 0);
    // The portal lets staff name kilns freely; one was named after a member's email.
    let firing = cloud.path().join("kilnFirings/f-glaze-1201.json");
    let mut fields: Value =
        serde_json::from_str(&std::fs::read_to_string(&firing).unwrap()).unwrap();
    fields["kilnName"] = Value::from("ana.lopez@example.com kiln");
    std::fs::write(&firing, fields.to_string()).unwrap();
    let (code, report) = studio.json(&admin, &["swarm", "run", "marketing"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["rules"]["firing_completed"]["refused"], 1);
    assert_eq!(report["rules"]["firing_completed"]["emitted"], 0);
    let (_, proposals) = studio.json(&admin, &["proposals", "list"]);
    let text = proposals.to_string();
    assert!(!text.contains("example.com"), "{text}");
    assert!(!text.contains("m-ana"), "no uid in any draft");
}

#[test]
fn the_daemon_runs_the_swarms_after_each_snapshot() {
    for backend in backends() {
        let cloud = crate::support::temp_dir();
        copy_dir(&repo().join("examples/studio/cloud"), cloud.path());
        let mut studio = Studio::new(
            backend,
            &format!(
                "{}schedules:\n  snapshot:\n    every: 1h\n    jitter: 0s\n",
                swarms_config(cloud.path())
            ),
        );
        let admin = studio.admin.clone();
        for name in ["ops", "marketing"] {
            assert_eq!(studio.json(&admin, &["swarm", "enroll", name]).0, 0);
        }
        studio.through_daemon();
        let daemon = studio.daemon.as_ref().unwrap();
        let mut metrics = String::new();
        let ran = crate::support::eventually(std::time::Duration::from_secs(60), || {
            metrics = crate::support::get(&daemon.url("/metrics")).1;
            metrics.contains("brain_swarm_runs_total{swarm=\"ops\",outcome=\"completed\"} 1")
                && metrics
                    .contains("brain_swarm_runs_total{swarm=\"marketing\",outcome=\"completed\"} 1")
        });
        assert!(ran, "both swarms run after the first snapshot:\n{metrics}");
        assert!(
            metrics.contains(
                "brain_swarm_findings_total{swarm=\"ops\",rule=\"stalled_batch\",result=\"emitted\"} 1"
            ),
            "{metrics}"
        );
        assert!(metrics.contains("brain_swarm_delegation_ok{swarm=\"ops\"} 1"));
        let (_, proposals) = studio.json(
            &admin,
            &["proposals", "list", "--state", "pending_approval"],
        );
        let drafts = proposals.as_array().unwrap();
        assert_eq!(
            drafts.len(),
            8,
            "5 ops recommendations and 3 marketing posts"
        );
        // Staff decide; the acceptance rate shows in the metrics.
        let ops_draft = drafts
            .iter()
            .find(|draft| draft["capability"] == "ops.recommendation.draft")
            .unwrap();
        let id = ops_draft["id"].as_str().unwrap();
        assert_eq!(studio.json(&admin, &["approve", id]).0, 0);
        let metrics = crate::support::get(&daemon.url("/metrics")).1;
        let rule = ops_draft["input"]["rule"]["id"].as_str().unwrap();
        assert!(
            metrics.contains(&format!(
                "brain_swarm_acceptance_ratio{{swarm=\"ops\",rule=\"{rule}\"}} 1"
            )),
            "{metrics}"
        );
    }
}

#[test]
fn a_swarm_reads_the_firestore_emulator_as_it_reads_fixtures() {
    let Some(emulator) = crate::firestore::Emulator::start() else {
        return;
    };
    let project = "brain-swarms";
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(emulator.seed_encoded(project, &crate::firestore::portal_documents()));
    let studio = Studio::with_env(
        Backend::Sqlite,
        &format!(
            "cloud:\n  firestore:\n    project_id: {project}\nswarms:\n  ops:\n    agent: agent:ops-swarm\n    owner: staff:admin\n"
        ),
        vec![("FIRESTORE_EMULATOR_HOST".into(), emulator.host.clone())],
    );
    let admin = studio.admin.clone();
    assert_eq!(studio.json(&admin, &["swarm", "enroll", "ops"]).0, 0);
    assert_eq!(studio.json(&admin, &["snapshot", "run"]).0, 0);
    let (code, report) = studio.json(&admin, &["swarm", "run", "ops"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(total(&report, "emitted"), 5, "{report}");
    let stalled = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["rule"]["id"] == "stalled_batch")
        .unwrap();
    assert_eq!(stalled["evidence"][0]["source"], "firestore");
    assert_eq!(stalled["subject"], "batches/b-2026-041");
}

#[test]
fn finance_reconciles_every_discrepancy_class_of_the_demo_and_nothing_clean() {
    for backend in backends() {
        let (studio, _cloud) = studio(backend);
        let admin = studio.admin.clone();
        assert_eq!(studio.json(&admin, &["swarm", "enroll", "finance"]).0, 0);
        let (code, report) = studio.json(&admin, &["swarm", "run", "finance"]);
        assert_eq!(code, 0, "{report}");
        let mut found: Vec<(String, String)> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|finding| {
                (
                    finding["rule"]["id"].as_str().unwrap().to_string(),
                    finding["subject"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        found.sort();
        let expected: Vec<(String, String)> = [
            ("amount_mismatch", "materialsOrders/mo-315"),
            ("duplicate_payment", "materialsOrders/mo-316"),
            ("orphan_payment", "stripe/pi_3Q330"),
            ("paid_without_payment", "materialsOrders/mo-313"),
            ("payment_not_recorded", "materialsOrders/mo-314"),
            ("refund_not_recorded", "materialsOrders/mo-317"),
            ("stuck_payment", "stripe/pi_3Q320"),
        ]
        .iter()
        .map(|(rule, subject)| (rule.to_string(), subject.to_string()))
        .collect();
        assert_eq!(
            found, expected,
            "{}: every class once, the clean orders never",
            studio.name
        );
        assert_eq!(report["summary"]["duplicate_payment"]["high"], 1);
        assert_eq!(report["summary"]["orphan_payment"]["low"], 1);
        // Evidence names both sides.
        let duplicate = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|finding| finding["rule"]["id"] == "duplicate_payment")
            .unwrap();
        let paths: Vec<&str> = duplicate["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .map(|evidence| evidence["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            vec![
                "stripe/pi_3Q316a",
                "stripe/pi_3Q316b",
                "materialsOrders/mo-316"
            ]
        );

        // Staff turn a flag into the correction brain can make: an ops note, proposed by them
        // (and, like any ops note, only on fresh StudioState).
        assert_eq!(studio.json(&admin, &["snapshot", "run"]).0, 0);
        let flag = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|finding| finding["rule"]["id"] == "paid_without_payment")
            .unwrap();
        let draft = flag["proposal_id"].as_str().unwrap();
        let (code, note) = studio.json(&admin, &["swarm", "note", draft]);
        assert_eq!(code, 0, "{note}");
        assert_eq!(note["capability"], "firestore.ops_note.append");
        assert_eq!(note["proposer"], "staff:admin");
        assert_eq!(note["state"], "pending_approval");
        assert!(
            note["input"]["text"]
                .as_str()
                .unwrap()
                .contains("materialsOrders/mo-313"),
            "{note}"
        );
        // The same draft twice: the same note proposal (idempotent), not a second one.
        let (_, again) = studio.json(&admin, &["swarm", "note", draft]);
        assert_eq!(again["id"], note["id"]);
        let (code, refused) = studio.json(&admin, &["swarm", "note", note["id"].as_str().unwrap()]);
        assert_eq!(code, 1, "an ops note is not a swarm's draft: {refused}");
    }
}

#[test]
fn trust_and_safety_suggests_a_category_for_every_open_report_and_acts_on_none() {
    let (studio, _cloud) = studio(Backend::Sqlite);
    let admin = studio.admin.clone();
    assert_eq!(
        studio.json(&admin, &["swarm", "enroll", "trust-safety"]).0,
        0
    );
    let (code, report) = studio.json(&admin, &["swarm", "run", "trust-safety"]);
    assert_eq!(code, 0, "{report}");
    let suggested: std::collections::BTreeMap<String, String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            assert_eq!(finding["suggestion"]["suggestion_only"], true);
            assert_eq!(
                finding["suggestion"]["rule_set"]["id"],
                "studio-trust-safety"
            );
            (
                finding["subject"].as_str().unwrap().to_string(),
                finding["suggestion"]["category"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let expected: std::collections::BTreeMap<String, String> = [
        ("communityReports/cr-0098", "incorrect_info"),
        ("communityReports/cr-0101", "safety"),
        ("communityReports/cr-0102", "broken_link"),
        ("communityReports/cr-0103", "spam"),
        ("communityReports/cr-0104", "harassment_hate"),
        ("communityReports/cr-0105", "copyright"),
        ("communityReports/cr-0106", "other"),
    ]
    .iter()
    .map(|(subject, category)| (subject.to_string(), category.to_string()))
    .collect();
    assert_eq!(
        suggested, expected,
        "the resolved report is left alone; bottle, shipping and scrapbook are no terms"
    );
    let safety = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["suggestion"]["category"] == "safety")
        .unwrap();
    assert_eq!(safety["severity"], "high");
    assert_eq!(safety["rule"]["id"], "triage_safety");
    // Confirming is approving the draft; overriding is rejecting it with the right category.
    // Each category is a rule, so acceptance and override rates are measured per category.
    let id = safety["proposal_id"].as_str().unwrap();
    assert_eq!(studio.json(&admin, &["approve", id]).0, 0);
    let other = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|finding| finding["suggestion"]["category"] == "other")
        .unwrap();
    let id = other["proposal_id"].as_str().unwrap();
    assert_eq!(
        studio
            .json(
                &admin,
                &["reject", id, "--reason", "category: incorrect_info"]
            )
            .0,
        0
    );
    // No report was touched: suggestions act on nothing, and the swarm cannot propose any
    // enforcement (every capability that is not a draft is out of its reach).
    let (_, events) = studio.json(
        &admin,
        &[
            "audit",
            "tail",
            "--actor",
            "agent:trust-safety-swarm",
            "-n",
            "50",
        ],
    );
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|event| event["action"] != "execute"),
        "{events}"
    );
}
