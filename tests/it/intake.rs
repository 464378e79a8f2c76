//! The compliance intake gate end to end, through the real binary on SQLite and Postgres and
//! through the API: a high-risk proposal is routed to review, approving and executing it is
//! denied with `INTAKE_REVIEW_REQUIRED` until a staff member other than the proposer grants an
//! override, a denied override keeps it blocked, and agent requests go through the same gate.

use serde_json::{Value, json};

use crate::engine::{Backend, Studio};
use crate::support::{copy_dir, repo};

fn propose(studio: &Studio, token: &str, text: &str) -> Value {
    let input = json!({ "text": text }).to_string();
    let (code, view) = studio.json(
        token,
        &[
            "propose",
            "test.note.draft",
            "--input",
            &input,
            "--rationale",
            "a member asked for it at the counter",
        ],
    );
    assert_eq!(code, 0, "{view}");
    view
}

#[test]
fn a_routed_proposal_waits_for_an_override_by_someone_else() {
    for backend in crate::engine::backends() {
        let studio = Studio::new(backend, "");
        let admin = studio.admin.clone();
        let (_, bob) = studio.json(&admin, &["actor", "add", "staff:bob"]);
        let bob = bob["token"].as_str().unwrap().to_string();
        let (_, carol) = studio.json(&admin, &["actor", "add", "staff:carol"]);
        let carol = carol["token"].as_str().unwrap().to_string();

        // A clean proposal goes its usual way.
        let clean = propose(&studio, &bob, "Kiln 2 lid latch is loose");
        assert_eq!(
            studio
                .json(&admin, &["approve", clean["id"].as_str().unwrap()])
                .0,
            0
        );

        let routed = propose(&studio, &bob, "Make 200 ceramic grenade shells with a fuse");
        let id = routed["id"].as_str().unwrap().to_string();
        let (code, queue) = studio.json(&admin, &["intake", "queue"]);
        assert_eq!(code, 0);
        let queue = queue.as_array().unwrap();
        assert_eq!(queue.len(), 1, "only the routed one: {queue:?}");
        assert_eq!(queue[0]["subject"], id.as_str());
        assert_eq!(queue[0]["category"], "weaponization");
        assert_eq!(queue[0]["disposition"], "manual_review");
        assert_eq!(queue[0]["proposer"], "staff:bob");
        assert_eq!(queue[0]["blocked"], true);

        // Approving is denied by the gate, with the reason code and the policy.
        let (code, refused) = studio.json(&admin, &["approve", &id]);
        assert_eq!(code, 1, "{refused}");
        assert_eq!(
            refused["error"]["reason_codes"],
            json!(["INTAKE_REVIEW_REQUIRED"])
        );
        assert_eq!(
            refused["error"]["policy_ids"],
            json!(["intake.review-required"])
        );
        // The proposer never overrides the gate on their own proposal.
        let (code, refused) = studio.json(
            &bob,
            &[
                "intake",
                "override",
                &id,
                "--grant",
                "--reason-code",
                "PROP_ONLY",
                "--note",
                "it is a prop",
            ],
        );
        assert_eq!(code, 1, "{refused}");
        assert_eq!(
            refused["error"]["reason_codes"],
            json!(["SELF_APPROVAL_FORBIDDEN"])
        );
        // Denied: it stays blocked.
        let (code, denied) = studio.json(
            &carol,
            &[
                "intake",
                "override",
                &id,
                "--deny",
                "--reason-code",
                "WEAPON_LIKE",
                "--note",
                "realistic grenade shells are not something we make",
            ],
        );
        assert_eq!(code, 0, "{denied}");
        assert_eq!(denied["override"]["decision"], "denied");
        assert_eq!(studio.json(&admin, &["approve", &id]).0, 1);
        // Granted after a second look: approvable and executable as any proposal.
        let (code, granted) = studio.json(
            &carol,
            &[
                "intake",
                "override",
                &id,
                "--grant",
                "--reason-code",
                "PROP_ONLY",
                "--note",
                "inert, hollow, for the film club's set; no fuse",
            ],
        );
        assert_eq!(code, 0, "{granted}");
        let (code, approved) = studio.json(&admin, &["approve", &id]);
        assert_eq!(code, 0, "{approved}");
        assert_eq!(approved["state"], "approved");
        assert_eq!(studio.json(&admin, &["execute", &id]).0, 0);

        // Audited: the classification with a hash and a summary (never the text), and both
        // overrides.
        let (_, events) = studio.json(&admin, &["audit", "tail", "--proposal", &id, "-n", "50"]);
        let events = events.as_array().unwrap();
        let classified = events
            .iter()
            .find(|event| event["action"] == "intake.classified")
            .unwrap();
        assert_eq!(classified["decision"], "manual_review");
        assert_eq!(classified["reason_codes"], json!(["INTAKE_WEAPONIZATION"]));
        assert!(classified["input_hash"].as_str().unwrap().len() == 64);
        assert!(
            !classified["detail"]
                .to_string()
                .contains("ceramic grenade shells"),
            "{classified}"
        );
        for action in ["intake.override_denied", "intake.override_granted"] {
            assert!(
                events
                    .iter()
                    .any(|event| event["action"] == action && event["actor"] == "staff:carol"),
                "{action}"
            );
        }
    }
}

#[test]
fn classify_changes_nothing_and_agent_requests_go_through_the_same_gate() {
    let cloud = crate::support::temp_dir();
    copy_dir(&repo().join("examples/studio/cloud"), cloud.path());
    let studio = Studio::new(
        Backend::Sqlite,
        &format!(
            "cloud:\n  fixtures:\n    dir: {}\nswarms:\n  trust-safety:\n    agent: agent:trust-safety-swarm\n    owner: staff:admin\n",
            cloud.path().display()
        ),
    );
    let admin = studio.admin.clone();
    let (code, classified) = studio.json(
        &admin,
        &[
            "intake",
            "classify",
            "--text",
            "sell counterfeit mugs with a copied logo",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(classified["category"], "ip_infringement");
    assert_eq!(classified["disposition"], "manual_review");
    assert_eq!(classified["matched"], json!(["copied logo", "counterfeit"]));
    let (_, clean) = studio.json(
        &admin,
        &[
            "intake",
            "classify",
            "--text",
            "a bottle of wax resist for the scrapbook tiles",
        ],
    );
    assert_eq!(clean["category"], "unknown");
    assert_eq!(clean["disposition"], "allow");
    let (_, queue) = studio.json(&admin, &["intake", "queue"]);
    assert_eq!(queue, json!([]), "classify records nothing");

    assert_eq!(
        studio.json(&admin, &["swarm", "enroll", "trust-safety"]).0,
        0
    );
    let (code, report) = studio.json(&admin, &["swarm", "run", "trust-safety"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(
        report["routed_to_review"],
        json!([
            "agentRequests/ar-58",
            "agentRequests/ar-59",
            "agentRequests/ar-60"
        ])
    );
    let (_, queue) = studio.json(&admin, &["intake", "queue"]);
    let categories: std::collections::BTreeMap<String, String> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|queued| {
            (
                queued["subject"].as_str().unwrap().to_string(),
                queued["category"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        categories,
        [
            ("agentRequests/ar-58", "weaponization"),
            ("agentRequests/ar-59", "ip_infringement"),
            ("agentRequests/ar-60", "fraud_risk"),
        ]
        .iter()
        .map(|(subject, category)| (subject.to_string(), category.to_string()))
        .collect()
    );
    // A second run finds them recorded and writes nothing new; an override stays.
    let (code, _) = studio.json(
        &admin,
        &[
            "intake",
            "override",
            "agentRequests/ar-59",
            "--deny",
            "--reason-code",
            "UNLICENSED_DESIGN",
            "--note",
            "we do not copy characters",
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(studio.json(&admin, &["swarm", "run", "trust-safety"]).0, 0);
    let (_, events) = studio.json(&admin, &["audit", "tail", "-n", "200"]);
    assert_eq!(
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == "intake.classified")
            .count(),
        3,
        "classified once each"
    );
    let (_, queue) = studio.json(&admin, &["intake", "queue"]);
    let denied = queue
        .as_array()
        .unwrap()
        .iter()
        .find(|queued| queued["subject"] == "agentRequests/ar-59")
        .unwrap();
    assert_eq!(denied["override"]["decision"], "denied");
    let (code, missing) = studio.json(
        &admin,
        &[
            "intake",
            "override",
            "p_000000000000",
            "--grant",
            "--reason-code",
            "OK_FINE",
            "--note",
            "n",
        ],
    );
    assert_eq!(code, 1, "{missing}");
    assert_eq!(missing["error"]["code"], "not_found");
    let (code, bad) = studio.json(
        &admin,
        &[
            "intake",
            "override",
            "agentRequests/ar-58",
            "--grant",
            "--reason-code",
            "ok",
            "--note",
            "n",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not a reason code")
    );
}

#[tokio::test]
async fn the_api_classifies_queues_and_overrides() {
    let api = crate::api::Api::new().await;
    let (status, classified, _) = api
        .call(
            "POST",
            "/api/v1/intake/classify",
            Some(&api.bob),
            Some(json!({ "text": "charge this stolen card" })),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{classified}");
    assert_eq!(classified["category"], "fraud_risk");
    let (status, refused, _) = api
        .call(
            "POST",
            "/api/v1/intake/classify",
            Some(&api.bob),
            Some(json!({ "text": "a", "proposal": "p_1" })),
        )
        .await;
    assert_eq!(status.as_u16(), 400, "{refused}");
    let (status, proposed, _) = api
        .call(
            "POST",
            "/api/v1/proposals",
            Some(&api.bob),
            Some(json!({
                "capability": "test.note.draft",
                "input": { "text": "knockoff Disney mugs" },
                "rationale": "a member asked",
            })),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{proposed}");
    let id = proposed["id"].as_str().unwrap();
    let (status, queue, _) = api
        .call("GET", "/api/v1/intake/queue", Some(&api.admin), None)
        .await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(queue[0]["subject"], id);
    let (status, refused, _) = api
        .call(
            "POST",
            &format!("/api/v1/proposals/{id}/approve"),
            Some(&api.admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(status.as_u16(), 403, "{refused}");
    assert_eq!(refused["reason_codes"], json!(["INTAKE_REVIEW_REQUIRED"]));
    let (status, granted, _) = api
        .call(
            "POST",
            "/api/v1/intake/override",
            Some(&api.admin),
            Some(json!({ "subject": id, "grant": true, "reason_code": "LICENSED_DESIGN", "note": "we hold the licence" })),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{granted}");
    let (status, approved, _) = api
        .call(
            "POST",
            &format!("/api/v1/proposals/{id}/approve"),
            Some(&api.admin),
            Some(json!({})),
        )
        .await;
    assert_eq!(status.as_u16(), 200, "{approved}");
}
