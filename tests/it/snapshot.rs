//! StudioState: computed from the demo studio's fixture documents, recorded with provenance and
//! diffs, partial when a source fails or is denied, and fail-closed for decisions when stale.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use brain::cloud::fixtures::FixtureSource;
use brain::cloud::{ReadSummary, Source, SourceError};
use brain::snapshot::{Builder, Record};
use serde_json::Value;

use crate::engine::{Backend, Studio};
use crate::support::{copy_dir, repo, scrub};

fn fixtures() -> std::path::PathBuf {
    repo().join("examples/studio/cloud")
}

/// The demo's fixtures folded at a fixed time: the StudioState shape and counts, reviewed as a
/// snapshot.
#[tokio::test]
async fn the_demo_studio_state_is_computed_from_its_fixture_documents() {
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let source = FixtureSource::new(&fixtures()).at(now);
    let mut builder = Builder::new(now, Arc::new(brain::snapshot::Model::built_in()));
    let mut read = BTreeMap::new();
    for collection in source.collections() {
        let mut each = |record: Record| builder.add(&collection, &record);
        let summary = source.read(&collection, &mut each).await.unwrap();
        read.insert(collection.clone(), summary.documents);
    }
    let state = builder.finish();
    insta::assert_json_snapshot!("demo_studio_state", state);
    assert_eq!(read["batches"], 8);
    assert_eq!(read["stripe:payouts"], 2);
    // The demo's values are the portal's: nothing is left unclassified.
    assert!(
        state.unclassified().is_empty(),
        "{:?}",
        state.unclassified()
    );
}

fn studio_with_fixtures(extra: &str) -> (Studio, tempfile::TempDir) {
    let cloud = crate::support::temp_dir();
    copy_dir(&fixtures(), cloud.path());
    let studio = Studio::new(
        Backend::Sqlite,
        &format!(
            "{extra}cloud:\n  fixtures:\n    dir: {}\n",
            cloud.path().display()
        ),
    );
    (studio, cloud)
}

#[test]
fn snapshots_are_recorded_with_provenance_and_diffs_and_listed() {
    let (studio, cloud) = studio_with_fixtures("");
    let admin = studio.admin.clone();
    let (code, first) = studio.json(&admin, &["snapshot", "run"]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(first["complete"], true);
    assert_eq!(first["previous_id"], Value::Null);
    let source = &first["provenance"]["sources"][0];
    assert_eq!(source["source"], "fixtures");
    assert_eq!(source["completeness"], "full");
    assert_eq!(source["documents_read"], 88);
    let today = chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert_eq!(
        source["newest_update_time"],
        brain::clock::format_time(today),
        "the newest of the relative times, `{{{{today}}}}` (ar-60)"
    );
    assert_eq!(
        first["provenance"]["model"]["id"], "studio-os-portal",
        "the snapshot names its state model"
    );
    assert_eq!(first["content_hash"].as_str().unwrap().len(), 64);

    // The cloud changes: a reservation is cancelled, a new high-severity report arrives.
    let reservation = cloud.path().join("reservations/r-001.json");
    let text = std::fs::read_to_string(&reservation).unwrap();
    std::fs::write(&reservation, text.replace("\"REQUESTED\"", "\"CANCELLED\"")).unwrap();
    std::fs::write(
        cloud.path().join("communityReports/cr-0199.json"),
        r#"{"category": "safety", "note": "Kiln vent fan stopped", "severity": "high", "status": "open", "createdAt": "2026-12-01T08:00:00Z"}"#,
    )
    .unwrap();
    let (code, second) = studio.json(&admin, &["snapshot", "run"]);
    assert_eq!(code, 0);
    assert_eq!(second["previous_id"], first["id"]);
    let changed: Vec<&str> = second["diff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| change["field"].as_str().unwrap())
        .collect();
    for field in [
        "collections.reservations.queue.count",
        "collections.communityReports.queue.count",
        "collections.communityReports.high_severity",
    ] {
        assert!(changed.contains(&field), "{field} in {changed:?}");
    }
    let mut text = String::new();
    text += &studio.step("admin", Some(&admin), &["snapshot", "diff"]);
    text += &studio.step("admin", Some(&admin), &["snapshot", "history"]);
    let first_id = first["id"].as_str().unwrap();
    text += &studio.step("admin", Some(&admin), &["snapshot", "diff", first_id]);
    let scrubbed = scrub(&text);
    let digits = regex::Regex::new(r"(s_)[0-9a-f]{12}").unwrap();
    insta::assert_snapshot!(
        "snapshot_diff_and_history",
        digits.replace_all(&scrubbed, "${1}[ID]")
    );

    // Each run read under the read capabilities, as system:snapshotter, and is audited.
    let (_, reads) = studio.json(
        &admin,
        &["audit", "tail", "--actor", "system:snapshotter", "-n", "20"],
    );
    let reads = reads.as_array().unwrap();
    assert!(reads.iter().any(|event| event["action"] == "read"
        && event["capability"] == "firestore.studio.read"
        && event["decision"] == "allow"));
    assert!(reads.iter().any(|event| event["action"] == "read" && event["capability"] == "stripe.payments.read"));
    assert_eq!(
        reads
            .iter()
            .filter(|event| event["action"] == "snapshot")
            .count(),
        2
    );
    let (code, shown) = studio.json(&admin, &["snapshot", "show"]);
    assert_eq!(code, 0);
    assert_eq!(shown["id"], second["id"]);
    let (code, _) = studio.json(&admin, &["snapshot", "show", "s_000000000000"]);
    assert_eq!(code, 1);
}

#[test]
fn a_failed_read_makes_the_snapshot_partial_and_fresh_state_capabilities_deny() {
    let (studio, cloud) = studio_with_fixtures("");
    let admin = studio.admin.clone();
    let fresh_proposal = [
        "propose",
        "firestore.ops_note.append",
        "--input",
        r#"{"text": "Kiln 2 runs hot: cone 6 slumped"}"#,
        "--rationale",
        "anomaly",
    ];
    // No snapshot: stale, so denied.
    let (code, refused) = studio.json(&admin, &fresh_proposal);
    assert_eq!(code, 1);
    assert_eq!(
        refused["error"]["reason_codes"],
        serde_json::json!(["SNAPSHOT_STALE"])
    );

    // A complete snapshot: allowed.
    assert_eq!(studio.json(&admin, &["snapshot", "run"]).0, 0);
    let (code, proposed) = studio.json(&admin, &fresh_proposal);
    assert_eq!(code, 0, "{proposed}");

    // A collection that cannot be read: partial, named, never a zero, and denied again.
    std::fs::remove_dir_all(cloud.path().join("kilnFirings")).unwrap();
    let output = studio.run(Some(&admin), &["snapshot", "run"]);
    assert_eq!(output.status.code(), Some(1), "a partial snapshot exits 1");
    let (_, partial) = studio.json(&admin, &["snapshot", "show"]);
    assert_eq!(partial["complete"], false);
    assert_eq!(
        partial["provenance"]["sources"][0]["failed"],
        serde_json::json!(["kilnFirings"])
    );
    let (code, refused) = studio.json(&admin, &fresh_proposal);
    assert_eq!(code, 1);
    assert_eq!(
        refused["error"]["reason_codes"],
        serde_json::json!(["SNAPSHOT_STALE"])
    );
    let text = studio.step("admin", Some(&admin), &["snapshot", "show"]);
    assert!(text.contains("PARTIAL"), "{text}");
    assert!(text.contains("failed kilnFirings"), "{text}");

    // A kill switch on the target stops the reads too: the snapshot is partial with the reason.
    copy_dir(
        &fixtures().join("kilnFirings"),
        &cloud.path().join("kilnFirings"),
    );
    let (code, _) = studio.json(
        &admin,
        &[
            "kill-switch",
            "on",
            "target:firestore",
            "--reason",
            "cloud incident",
        ],
    );
    assert_eq!(code, 0);
    let (_, denied) = studio.json(&admin, &["snapshot", "run"]);
    let problems = denied["provenance"]["sources"][0]["collections"].to_string();
    assert!(problems.contains("KILL_SWITCH_ACTIVE"), "{problems}");
    assert_eq!(denied["complete"], false);
    let (_, reads) = studio.json(
        &admin,
        &[
            "audit",
            "tail",
            "--actor",
            "system:snapshotter",
            "--decision",
            "deny",
        ],
    );
    assert!(
        !reads.as_array().unwrap().is_empty(),
        "the denied read is audited"
    );
}

#[test]
fn an_old_snapshot_is_stale() {
    let (studio, _cloud) = studio_with_fixtures("  snapshot_stale_after: 1s\n");
    let admin = studio.admin.clone();
    assert_eq!(studio.json(&admin, &["snapshot", "run"]).0, 0);
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let (code, refused) = studio.json(
        &admin,
        &[
            "propose",
            "firestore.ops_note.append",
            "--input",
            r#"{"text": "t"}"#,
            "--rationale",
            "r",
        ],
    );
    assert_eq!(code, 1);
    assert_eq!(
        refused["error"]["reason_codes"],
        serde_json::json!(["SNAPSHOT_STALE"])
    );
}

/// A source whose own count disagrees with what it hands over.
struct Drifting;

#[async_trait]
impl Source for Drifting {
    fn name(&self) -> &str {
        "drifting"
    }
    fn location(&self) -> String {
        "memory".into()
    }
    fn collections(&self) -> Vec<String> {
        vec!["batches".into()]
    }
    async fn read(
        &self,
        _collection: &str,
        each: &mut (dyn FnMut(Record) + Send),
    ) -> Result<ReadSummary, SourceError> {
        for n in 0..3 {
            each(Record {
                id: format!("b{n}"),
                fields: serde_json::json!({ "state": "SUBMITTED" }),
                update_time: None,
            });
        }
        Ok(ReadSummary {
            documents: 3,
            newest_update_time: None,
        })
    }
    async fn count(&self, _collection: &str) -> Result<Option<u64>, SourceError> {
        Ok(Some(7))
    }
}

#[tokio::test]
async fn drift_beyond_the_tolerance_is_recorded() {
    let api = crate::api::Api::new().await;
    let sources: Vec<Arc<dyn Source>> = vec![Arc::new(Drifting)];
    let record = api
        .engine
        .take_snapshot(&sources, 2, |_, _| {})
        .await
        .unwrap();
    assert_eq!(
        record.drift,
        serde_json::json!([{ "collection": "batches", "local": 3, "cloud": 7, "difference": 4 }])
    );
    let record = api
        .engine
        .take_snapshot(&sources, 4, |_, _| {})
        .await
        .unwrap();
    assert_eq!(record.drift, serde_json::json!([]));
    // Through the API: the newest snapshot and its freshness.
    let (status, latest, _) = api
        .call("GET", "/api/v1/snapshots/latest", Some(&api.hana), None)
        .await;
    assert_eq!(status.as_u16(), 200, "{latest}");
    assert_eq!(latest["id"], record.id.as_str());
    let (status, freshness, _) = api
        .call("GET", "/api/v1/freshness", Some(&api.hana), None)
        .await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(freshness["stale"], false);
}

#[test]
fn the_daemon_snapshots_on_its_schedule_and_reports_it_in_metrics() {
    let (mut studio, _cloud) =
        studio_with_fixtures("schedules:\n  snapshot:\n    every: 1h\n    jitter: 0s\n");
    studio.through_daemon();
    let daemon = studio.daemon.as_ref().unwrap();
    let mut metrics = String::new();
    let ran = crate::support::eventually(std::time::Duration::from_secs(30), || {
        metrics = crate::support::get(&daemon.url("/metrics")).1;
        metrics.contains("brain_snapshot_runs_total 1")
    });
    assert!(
        ran,
        "the first scheduled run happens at start-up:\n{metrics}"
    );
    assert!(metrics.contains("brain_snapshot_documents 88"), "{metrics}");
    assert!(
        metrics.contains("brain_snapshot_failures_total 0"),
        "{metrics}"
    );
    let age: i64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("brain_snapshot_age_seconds "))
        .and_then(|value| value.parse().ok())
        .unwrap();
    assert!(age >= 0, "a snapshot exists: {age}");
    // Snapshot commands work on the local store, and say so when pointed at a daemon.
    let output = studio.run(Some(&studio.admin), &["snapshot", "history"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        studio
            .transcript(&output)
            .contains("works on the local store")
    );
}

/// A value the model does not know is counted as unclassified, named in a warning, listed by
/// `brain snapshot explain`; adding it to the model (a policy-set change) reclassifies it, and
/// the next diff says the model changed before it lists the counts.
#[test]
fn unknown_values_are_shown_explained_and_reclassified_by_a_model_change() {
    let (studio, cloud) = studio_with_fixtures("");
    let admin = studio.admin.clone();
    let batch = cloud.path().join("batches/b-2026-043.json");
    let text = std::fs::read_to_string(&batch).unwrap();
    std::fs::write(&batch, text.replace("\"SHELVED\"", "\"GLAZED\"")).unwrap();

    let output = studio.run(Some(&admin), &["snapshot", "run"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        studio.transcript(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 record unclassified in `batches`: `GLAZED` (1)"),
        "{stderr}"
    );
    let (_, first) = studio.json(&admin, &["snapshot", "show"]);
    let batches = &first["state"]["collections"]["batches"];
    assert_eq!(batches["unclassified"], 1);
    assert_eq!(batches["values"]["GLAZED"]["class"], Value::Null);
    assert_eq!(
        batches["values"]["GLAZED"]["examples"],
        serde_json::json!(["b-2026-043"])
    );

    let (code, explained) = studio.json(
        &admin,
        &[
            "snapshot",
            "explain",
            "--collection",
            "batches",
            "--value",
            "glazed",
        ],
    );
    assert_eq!(code, 0, "{explained}");
    assert_eq!(explained["values"][0]["value"], "GLAZED");
    assert_eq!(explained["values"][0]["class"], "unclassified");
    assert_eq!(explained["value_rule"]["class"], "unclassified");
    let text = studio.step(
        "admin",
        Some(&admin),
        &["snapshot", "explain", "--collection", "batches"],
    );
    let ids = regex::Regex::new(r"(s_)[0-9a-f]{12}").unwrap();
    let hashes = regex::Regex::new(r"\([0-9a-f]{12}\)").unwrap();
    insta::assert_snapshot!(
        "snapshot_explain_batches",
        hashes.replace_all(&ids.replace_all(&scrub(&text), "${1}[ID]"), "([HASH])")
    );
    let (code, refused) = studio.json(&admin, &["snapshot", "explain", "--collection", "batchez"]);
    assert_eq!(code, 1);
    assert!(
        refused["error"]["help"]
            .as_str()
            .unwrap()
            .contains("did you mean `batches`"),
        "{refused}"
    );

    // The studio adds the value to its model: a new model version, the record counted in
    // progress, and the diff names the model change first.
    let model_file = studio.path().join("specs/studio-state.yaml");
    let model = std::fs::read_to_string(&model_file).unwrap();
    std::fs::write(
        &model_file,
        model.replace("version: 1\n", "version: 2\n").replace(
            "in_progress: [LOADED, FIRED]",
            "in_progress: [LOADED, FIRED, GLAZED]",
        ),
    )
    .unwrap();
    let (code, second) = studio.json(&admin, &["snapshot", "run"]);
    assert_eq!(code, 0, "{second}");
    assert_eq!(second["provenance"]["model"]["version"], 2);
    assert_eq!(second["state"]["collections"]["batches"]["unclassified"], 0);
    assert_eq!(second["diff"][0]["field"], brain::snapshot::MODEL_CHANGE);
    assert_eq!(second["diff"][0]["from"]["version"], 1);
    let diff = studio.step("admin", Some(&admin), &["snapshot", "diff"]);
    assert!(diff.contains("the state model changed"), "{diff}");
    // The model is part of the policy set: its hash moved with it.
    assert_ne!(
        first["provenance"]["model"]["hash"],
        second["provenance"]["model"]["hash"]
    );

    // A broken model refuses to load, naming the problem, and nothing is recorded.
    std::fs::write(
        &model_file,
        model.replace(
            "closed: [\"CLOSED_*\"]",
            "closed: [\"CLOSED_*\", SUBMITTED]",
        ),
    )
    .unwrap();
    let output = studio.run(Some(&admin), &["snapshot", "run"]);
    assert_eq!(output.status.code(), Some(2));
    let transcript = studio.transcript(&output);
    assert!(
        transcript.contains("is in class `open` and in class `closed`"),
        "{transcript}"
    );
    let (_, history) = studio.json(&admin, &["snapshot", "history"]);
    assert!(
        history.as_array().is_none(),
        "no command runs on a broken policy set"
    );
}
