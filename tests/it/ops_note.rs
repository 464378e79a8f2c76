//! The write pilot, `firestore.ops_note.append`, end to end against the official Firestore
//! emulator: propose → dry-run → approve → execute → the note is there with its audit linkage →
//! executing again writes nothing → rollback deletes it; an edited note is not rolled back; a
//! kill switch between approval and execution writes nothing; a crash between the commit and
//! the local record is reconciled at restart by reading the note, without a second write.

use std::time::Duration;

use brain::cloud::firestore::{FirestoreClient, Limits};
use serde_json::{Value, json};

use crate::engine::{Backend, Studio, reasons};
use crate::firestore::Emulator;
use crate::support::{PgDatabase, eventually, random_suffix};

const COLLECTION: &str = "studioOpsNotes";

fn config(project: &str) -> String {
    format!(
        "  snapshot_stale_after: 1h
cloud:
  firestore:
    project_id: {project}
connectors:
  - id: firestore
    kind: firestore
    mode: write
    ops_notes:
      collection: {COLLECTION}
      fields:
        text: body
        linkage: audit
"
    )
}

/// A studio writing to `project` on the emulator, with a fresh snapshot and a second staff
/// member (`staff:bob`) to approve.
fn studio(backend: Backend, emulator: &Emulator, project: &str) -> (Studio, String) {
    let studio = Studio::with_env(
        backend,
        &config(project),
        vec![("FIRESTORE_EMULATOR_HOST".into(), emulator.host.clone())],
    );
    let admin = studio.admin.clone();
    let (code, snapshot) = studio.json(&admin, &["snapshot", "run"]);
    assert_eq!(code, 0, "{snapshot}");
    let bob = studio.add("staff:bob");
    (studio, bob)
}

fn client(emulator: &Emulator, project: &str) -> FirestoreClient {
    FirestoreClient::emulator(&emulator.host, project, Limits::default()).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Every note in the collection, as (id, fields, update time).
fn notes(emulator: &Emulator, project: &str) -> Vec<(String, Value, String)> {
    let client = client(emulator, project);
    runtime().block_on(async {
        let mut all = Vec::new();
        client
            .list(COLLECTION, &mut |document| {
                all.push((
                    document.id,
                    document.fields,
                    document.update_time.unwrap_or_default(),
                ))
            })
            .await
            .unwrap();
        all
    })
}

fn propose(studio: &Studio, key: &str) -> String {
    let (code, view) = studio.json(
        &studio.admin,
        &[
            "propose",
            "firestore.ops_note.append",
            "--input",
            r#"{"text": "Kiln 2 thermocouple replaced", "batch_id": "b-17"}"#,
            "--rationale",
            "the glaze crew should know before tonight's firing",
            "--idempotency-key",
            key,
        ],
    );
    assert_eq!(code, 0, "{view}");
    view["id"].as_str().unwrap().to_string()
}

fn approve(studio: &Studio, approver: &str, id: &str) -> String {
    let (code, view) = studio.json(approver, &["approve", id, "--comment", "ok"]);
    assert_eq!(code, 0, "{view}");
    view["approvals"][0]["id"].as_str().unwrap().to_string()
}

fn show(studio: &Studio, id: &str) -> Value {
    let (code, view) = studio.json(&studio.admin, &["proposals", "show", id]);
    assert_eq!(code, 0, "{view}");
    view
}

#[test]
fn a_note_is_planned_written_once_with_its_linkage_and_rolled_back() {
    let Some(emulator) = Emulator::start() else {
        return;
    };
    let mut backends = vec![Backend::Sqlite];
    if let Some(database) = PgDatabase::create() {
        backends.push(Backend::Postgres(database));
    }
    for backend in backends {
        let project = format!("ops-{}", random_suffix().replace('_', "-"));
        let (studio, bob) = studio(backend, &emulator, &project);
        let admin = studio.admin.clone();
        let id = propose(&studio, "note-1");
        let label = studio.label();

        // Before approval: the exact document, the precondition, and what is not known yet.
        let view = show(&studio, &id);
        let planned = &view["plan"]["commit"];
        let document = planned["document"].as_str().unwrap().to_string();
        assert!(
            document.starts_with(&format!(
                "projects/{project}/databases/(default)/documents/{COLLECTION}/brain-"
            )),
            "{label}: {document}"
        );
        assert_eq!(planned["precondition"], json!({ "exists": false }));
        assert_eq!(planned["fields"]["body"], "Kiln 2 thermocouple replaced");
        assert_eq!(planned["fields"]["batchId"], "b-17");
        assert_eq!(planned["fields"]["audit"]["proposalId"], id.as_str());
        let (code, dry) = studio.json(&admin, &["execute", &id, "--dry-run"]);
        assert_eq!(code, 1, "{label}: pending, so it would not execute: {dry}");
        assert_eq!(dry["would_execute"], false);
        assert_eq!(dry["plan"]["commit"]["document"], document.as_str());

        // After approval: the dry run names the approval, and still nothing is written.
        let approval = approve(&studio, &bob, &id);
        let (code, dry) = studio.json(&admin, &["execute", &id, "--dry-run"]);
        assert_eq!(code, 0, "{label}: {dry}");
        assert_eq!(dry["would_execute"], true);
        assert_eq!(
            dry["plan"]["commit"]["fields"]["audit"]["approvalIds"],
            json!([approval])
        );
        assert!(
            notes(&emulator, &project).is_empty(),
            "{label}: a dry run writes nothing"
        );

        // Execute: one document, with the linkage back to the proposal and the audit log.
        let (code, done) = studio.json(&admin, &["execute", &id]);
        assert_eq!(code, 0, "{label}: {done}");
        assert_eq!(done["state"], "succeeded");
        assert_eq!(done["outcome"]["document"], document.as_str());
        let written = notes(&emulator, &project);
        assert_eq!(written.len(), 1, "{label}: {written:?}");
        let (note_id, fields, update_time) = &written[0];
        assert!(document.ends_with(note_id.as_str()));
        assert_eq!(fields["body"], "Kiln 2 thermocouple replaced");
        assert_eq!(fields["batchId"], "b-17");
        assert_eq!(fields["author"], "staff:admin");
        assert_eq!(fields["audit"]["proposalId"], id.as_str());
        assert_eq!(fields["audit"]["approvalIds"], json!([approval]));
        assert_eq!(done["outcome"]["update_time"], update_time.as_str());
        let (_, events) = studio.json(&admin, &["audit", "tail", "-n", "50"]);
        let allowed = events
            .as_array()
            .unwrap()
            .iter()
            .find(|event| {
                event["action"] == "execute"
                    && event["decision"] == "allow"
                    && event["proposal_id"] == id.as_str()
            })
            .unwrap_or_else(|| panic!("{label}: no execute allow event in {events}"));
        assert_eq!(fields["audit"]["auditEventHash"], allowed["hash"]);

        // Executing again is refused by the state machine and writes nothing.
        let (code, again) = studio.json(&admin, &["execute", &id]);
        assert_eq!(code, 1, "{label}: {again}");
        assert!(reasons(&again).contains(&"INVALID_STATE".to_string()));
        assert_eq!(
            notes(&emulator, &project)[0].2,
            *update_time,
            "{label}: untouched"
        );

        // Rollback deletes exactly that note, audited.
        let (code, rolled) = studio.json(&admin, &["rollback", &id]);
        assert_eq!(code, 0, "{label}: {rolled}");
        assert_eq!(rolled["state"], "rolled_back");
        assert!(notes(&emulator, &project).is_empty(), "{label}: gone");
        let last = studio.last_event();
        assert_eq!(last["action"], "rollback_result");
        assert_eq!(last["decision"], "succeeded");
        let (code, verified) = studio.json(&admin, &["audit", "verify"]);
        assert_eq!(code, 0, "{label}: {verified}");
    }
}

#[test]
fn an_edited_note_is_not_rolled_back_and_a_kill_switch_writes_nothing() {
    let Some(emulator) = Emulator::start() else {
        return;
    };
    let project = format!("ops-{}", random_suffix().replace('_', "-"));
    let (studio, bob) = studio(Backend::Sqlite, &emulator, &project);
    let admin = studio.admin.clone();

    // Edited since brain wrote it: the rollback's precondition fails, nothing is deleted.
    let id = propose(&studio, "edited");
    approve(&studio, &bob, &id);
    let (code, done) = studio.json(&admin, &["execute", &id]);
    assert_eq!(code, 0, "{done}");
    let note = done["outcome"]["document_id"].as_str().unwrap().to_string();
    runtime().block_on(emulator.seed(
        &project,
        &[(
            format!("{COLLECTION}/{note}"),
            json!({ "body": "Kiln 2 thermocouple replaced (checked by Ana)" }),
        )],
    ));
    let (code, refused) = studio.json(&admin, &["rollback", &id]);
    assert_eq!(code, 1, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("edited"), "{refused}");
    assert_eq!(show(&studio, &id)["state"], "succeeded");
    assert_eq!(notes(&emulator, &project).len(), 1, "the edited note stays");
    let last = studio.last_event();
    assert_eq!(
        (last["action"].as_str(), last["decision"].as_str()),
        (Some("rollback_result"), Some("failed"))
    );

    // A kill switch turned on between approval and execution: denied, nothing written.
    let id = propose(&studio, "switched");
    approve(&studio, &bob, &id);
    let (code, on) = studio.json(
        &admin,
        &[
            "kill-switch",
            "on",
            "target:firestore",
            "--reason",
            "Firestore incident drill",
        ],
    );
    assert_eq!(code, 0, "{on}");
    let (code, denied) = studio.json(&admin, &["execute", &id]);
    assert_eq!(code, 1, "{denied}");
    assert!(
        reasons(&denied).contains(&"KILL_SWITCH_ACTIVE".to_string()),
        "{denied}"
    );
    assert_eq!(show(&studio, &id)["state"], "approved");
    assert_eq!(
        notes(&emulator, &project).len(),
        1,
        "only the earlier, edited note"
    );
}

#[test]
fn a_crash_after_the_commit_is_reconciled_at_restart_without_a_second_write() {
    let Some(emulator) = Emulator::start() else {
        return;
    };
    let project = format!("ops-{}", random_suffix().replace('_', "-"));
    let (studio, bob) = studio(Backend::Sqlite, &emulator, &project);
    let admin = studio.admin.clone();
    let id = propose(&studio, "crash");
    approve(&studio, &bob, &id);

    let crashed = {
        let mut command = studio.command(Some(&admin));
        command
            .env("BRAIN_FAULT_CRASH_AFTER_EXECUTE", "1")
            .args(["execute", &id]);
        command.output().unwrap()
    };
    assert_eq!(
        crashed.status.code(),
        Some(137),
        "{}",
        studio.transcript(&crashed)
    );
    let written = notes(&emulator, &project);
    assert_eq!(written.len(), 1);
    let update_time = written[0].2.clone();
    let view = show(&studio, &id);
    assert_eq!(view["state"], "executing");
    assert_eq!(view["interrupted"], true);

    // Restart: the daemon asks Firestore, finds the note, and records the success.
    let daemon = studio.start_daemon();
    assert!(
        eventually(Duration::from_secs(30), || show(&studio, &id)["state"]
            == "succeeded"),
        "not reconciled: {}",
        daemon.logs()
    );
    let view = show(&studio, &id);
    assert_eq!(view["outcome"]["already_existed"], true);
    let written = notes(&emulator, &project);
    assert_eq!(written.len(), 1, "no second note");
    assert_eq!(written[0].2, update_time, "the note was not written again");
    let (_, events) = studio.json(&admin, &["audit", "tail", "-n", "5"]);
    let execution = events
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["action"] == "execution")
        .unwrap_or_else(|| panic!("{events}"));
    assert_eq!(execution["detail"]["reconciled"], true);
    assert_eq!(execution["actor"], "system:recovery");
    drop(daemon);

    // The same from the command line, without a daemon: `brain proposals recover`.
    let id = propose(&studio, "crash-again");
    approve(&studio, &bob, &id);
    let mut command = studio.command(Some(&admin));
    command
        .env("BRAIN_FAULT_CRASH_AFTER_EXECUTE", "1")
        .args(["execute", &id]);
    assert_eq!(command.output().unwrap().status.code(), Some(137));
    let (code, recovered) = studio.json(&admin, &["proposals", "recover"]);
    assert_eq!(code, 0, "{recovered}");
    assert_eq!(recovered[0]["proposal_id"], id.as_str());
    assert_eq!(recovered[0]["result"], "succeeded");
    assert_eq!(show(&studio, &id)["state"], "succeeded");
    assert_eq!(notes(&emulator, &project).len(), 2, "one note per proposal");
    let (code, none) = studio.json(&admin, &["proposals", "recover"]);
    assert_eq!((code, none), (0, json!([])));
}

#[test]
fn a_write_that_cannot_be_confirmed_stays_executing_until_the_target_answers() {
    let Some(emulator) = Emulator::start() else {
        return;
    };
    let project = format!("ops-{}", random_suffix().replace('_', "-"));
    let (mut studio, bob) = studio(Backend::Sqlite, &emulator, &project);
    let admin = studio.admin.clone();
    let id = propose(&studio, "outage");
    approve(&studio, &bob, &id);

    // Firestore goes away between approval and execution: no answer to the commit, nor to the
    // read that would tell. brain does not guess.
    drop(emulator);
    let (code, unknown) = studio.json(&admin, &["execute", &id]);
    assert_eq!(code, 1, "{unknown}");
    let message = unknown["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("stays executing"), "{unknown}");
    let view = show(&studio, &id);
    assert_eq!(view["state"], "executing");
    assert_eq!(view["failure"], Value::Null);
    let last = studio.last_event();
    assert_eq!(
        (last["action"].as_str(), last["decision"].as_str()),
        (Some("execution"), Some("indeterminate"))
    );
    // While it cannot answer, recovery leaves it unresolved (exit 1).
    let (code, pending) = studio.json(&admin, &["proposals", "recover"]);
    assert_eq!(code, 1, "{pending}");
    assert_eq!(pending[0]["result"], "unresolved");

    // A Firestore that answers (and holds no such note): recorded as failed, nothing written.
    let Some(back) = Emulator::start() else {
        return;
    };
    studio.envs = vec![("FIRESTORE_EMULATOR_HOST".into(), back.host.clone())];
    // An absent note right after the start may still be on its way: not yet a failure.
    let (code, early) = studio.json(&admin, &["proposals", "recover"]);
    assert_eq!(code, 1, "{early}");
    assert!(
        early[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("may still be running"),
        "{early}"
    );
    studio.sql(&format!(
        "UPDATE proposals SET execution_started_at = '2026-01-01T00:00:00.000000Z' WHERE id = '{id}'"
    ));
    let (code, recovered) = studio.json(&admin, &["proposals", "recover"]);
    assert_eq!(code, 0, "{recovered}");
    assert_eq!(recovered[0]["result"], "failed");
    assert_eq!(show(&studio, &id)["state"], "failed");
    assert!(notes(&back, &project).is_empty());
}

#[test]
fn a_replayed_commit_finds_its_own_note_and_writes_nothing() {
    use brain::cloud::ops_notes::OpsNoteExecutor;
    use brain::engine::{ExecutionRequest, Executor};

    let Some(emulator) = Emulator::start() else {
        return;
    };
    let project = format!("ops-{}", random_suffix().replace('_', "-"));
    let config = brain::config::load(
        Some(&crate::support::repo().join("examples/studio/brain.yaml")),
        &brain::config::Environment::process(),
    )
    .unwrap();
    let bundle = brain::engine::PolicyBundle::load(&config).unwrap();
    let manifest = bundle.manifest("firestore.ops_note.append").unwrap();
    let client = std::sync::Arc::new(client(&emulator, &project));
    let notes_config = brain::config::OpsNotesConfig {
        collection: COLLECTION.into(),
        ..Default::default()
    };
    let executor = OpsNoteExecutor::new("firestore", client, notes_config);
    let proposal: brain::store::Proposal = serde_json::from_value(json!({
        "id": "p_replay", "capability": "firestore.ops_note.append", "state": "executing",
        "input": { "text": "Glaze room humidifier refilled" }, "input_hash": "h",
        "rationale": "r", "plan": null, "proposer": "staff:ana", "owner": "staff:ana",
        "delegation_id": null, "idempotency_key": "k", "policy_set_hash": "p",
        "created_at": "2026-12-02T00:00:00.000000Z", "updated_at": "2026-12-02T00:00:00.000000Z",
        "expires_at": "2026-12-09T00:00:00.000000Z", "closed_by": null, "closed_reason": null,
        "execution_started_at": null, "execution_finished_at": null, "executed_by": null,
        "outcome": null, "failure": null
    }))
    .unwrap();
    let request = ExecutionRequest {
        proposal: &proposal,
        manifest,
        approval_ids: vec!["a_1".into()],
        audit_event_hash: "e".repeat(64),
    };
    let runtime = runtime();
    let first = runtime.block_on(executor.execute(&request)).unwrap();
    assert_eq!(first["already_existed"], false);
    // The same execution again (a retry after a lost answer): ALREADY_EXISTS, recognised.
    let second = runtime.block_on(executor.execute(&request)).unwrap();
    assert_eq!(second["already_existed"], true);
    assert_eq!(second["update_time"], first["update_time"]);
    assert_eq!(second["document"], first["document"]);
    let written = notes(&emulator, &project);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].2, first["update_time"].as_str().unwrap());

    // A note under that id that is not this proposal's is never taken for its own.
    let name = first["document_id"].as_str().unwrap();
    runtime.block_on(emulator.seed(
        &project,
        &[(
            format!("{COLLECTION}/{name}"),
            json!({ "text": "someone else's", "brain": { "proposalId": "p_other" } }),
        )],
    ));
    let error = runtime.block_on(executor.execute(&request)).unwrap_err();
    assert!(
        error.message.contains("is not the note of proposal"),
        "{error}"
    );
    assert!(!error.indeterminate);
}
