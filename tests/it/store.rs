//! Store conformance: one suite over the `Store` trait, run on SQLite always and on Postgres
//! whenever `BRAIN_TEST_DATABASE_URL` is set.

use std::sync::Arc;
use std::time::Duration;

use brain::audit::{self, NewAuditEvent};
use brain::store::{Actor, Backend, KvEntry, PostgresStore, SqliteStore, Store, StoreError};
use serde_json::json;

use crate::support::{PgDatabase, temp_dir};

/// A store under test, with raw SQL access for tampering and the guards that keep it alive.
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub raw: Raw,
    _dir: Option<tempfile::TempDir>,
    _database: Option<PgDatabase>,
}

pub enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    /// Execute SQL directly, behind the store's back.
    pub async fn execute(&self, sql: &str) -> Result<u64, String> {
        match self {
            Raw::Sqlite(pool) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()),
            Raw::Postgres(pool) => sqlx::query(sql)
                .execute(pool)
                .await
                .map(|done| done.rows_affected()),
        }
        .map_err(|error| error.to_string())
    }
}

/// Every backend available here, migrated and empty.
pub async fn stores() -> Vec<TestStore> {
    let mut stores = Vec::new();
    let dir = temp_dir();
    let sqlite = SqliteStore::open(&dir.path().join("brain.db"))
        .await
        .unwrap();
    let raw = Raw::Sqlite(sqlite.pool().clone());
    let store: Arc<dyn Store> = Arc::new(sqlite);
    store.migrate().await.unwrap();
    stores.push(TestStore {
        store,
        raw,
        _dir: Some(dir),
        _database: None,
    });
    match PgDatabase::create() {
        Some(database) => {
            let postgres = PostgresStore::connect(&database.url, 10, Duration::from_secs(5))
                .await
                .unwrap();
            let raw = Raw::Postgres(postgres.pool().clone());
            let store: Arc<dyn Store> = Arc::new(postgres);
            store.migrate().await.unwrap();
            stores.push(TestStore {
                store,
                raw,
                _dir: None,
                _database: Some(database),
            });
        }
        None => eprintln!(
            "note: BRAIN_TEST_DATABASE_URL is not set; the Postgres half of the store suite is skipped"
        ),
    }
    stores
}

fn actor(id: &str, token_hash: Option<&str>) -> Actor {
    let (kind, name) = id.split_once(':').unwrap();
    Actor {
        id: id.into(),
        kind: kind.into(),
        name: name.into(),
        display_name: None,
        token_hash: token_hash.map(str::to_string),
        created_at: "2026-01-01T00:00:00.000000Z".into(),
        created_by: Some("system:test".into()),
        revoked_at: None,
        revoked_by: None,
    }
}

fn event(action: &str) -> NewAuditEvent {
    NewAuditEvent {
        at: brain::clock::format_time(brain::clock::now()),
        actor: "staff:alice".into(),
        action: action.into(),
        capability: Some("firestore.ops_note.append".into()),
        proposal_id: None,
        decision: "allow".into(),
        reason_codes: vec![],
        policy_ids: vec!["staff.propose".into()],
        policy_set_hash: Some("abc".into()),
        input_hash: None,
        output_hash: None,
        detail: json!({"zeta": 1, "alpha": {"nested": true}}),
    }
}

/// Each of `writers` appends `count` events, one transaction each, all writers at once.
async fn append_concurrently(writers: Vec<Arc<dyn Store>>, count: usize) {
    let tasks: Vec<_> = writers
        .into_iter()
        .enumerate()
        .map(|(writer, store)| {
            tokio::spawn(async move {
                for index in 0..count {
                    let mut tx = store.begin().await.unwrap();
                    tx.append_audit(event(&format!("w{writer}-{index}")))
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

#[tokio::test]
async fn migrations_are_applied_once_and_reported() {
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        assert!(
            store.migrate().await.unwrap().is_empty(),
            "{name}: second migrate applied something"
        );
        let status = store.migration_status().await.unwrap();
        let embedded: Vec<i64> = brain::store::migrations::migrations_for(store.backend())
            .iter()
            .map(|migration| migration.version)
            .collect();
        assert!(
            embedded.len() >= 2,
            "{name}: the engine migration is embedded"
        );
        assert_eq!(status.applied, embedded, "{name}");
        assert!(status.pending.is_empty(), "{name}");
        let health = store.health().await;
        assert!(health.reachable && health.migrated, "{name}: {health:?}");
    }
}

#[tokio::test]
async fn an_unmigrated_store_is_reachable_but_not_ready() {
    let dir = temp_dir();
    let store = SqliteStore::open(&dir.path().join("fresh.db"))
        .await
        .unwrap();
    let health = store.health().await;
    assert!(health.reachable);
    assert!(!health.migrated);
    assert!(health.problem.unwrap().contains("brain migrate"));
    if let Some(database) = PgDatabase::create() {
        let store = PostgresStore::connect(&database.url, 2, Duration::from_secs(5))
            .await
            .unwrap();
        let health = store.health().await;
        assert!(health.reachable && !health.migrated, "{health:?}");
        store.close().await;
    }
}

#[tokio::test]
async fn actors_round_trip_and_revoke() {
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        let mut tx = store.begin().await.unwrap();
        tx.insert_actor(&actor("staff:alice", Some("hash-a")))
            .await
            .unwrap();
        tx.insert_actor(&actor("agent:drafter", None))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        assert_eq!(
            store.actor("staff:alice").await.unwrap().unwrap().name,
            "alice",
            "{name}"
        );
        assert_eq!(
            store
                .actor_by_token_hash("hash-a")
                .await
                .unwrap()
                .unwrap()
                .id,
            "staff:alice",
            "{name}"
        );
        assert!(
            store.actor_by_token_hash("nope").await.unwrap().is_none(),
            "{name}"
        );
        let ids: Vec<String> = store
            .actors()
            .await
            .unwrap()
            .into_iter()
            .map(|actor| actor.id)
            .collect();
        assert_eq!(ids, vec!["agent:drafter", "staff:alice"], "{name}");

        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.revoke_actor("staff:alice", "2026-01-02T00:00:00.000000Z", "staff:root")
                .await
                .unwrap()
        );
        assert!(
            !tx.revoke_actor("staff:alice", "2026-01-03T00:00:00.000000Z", "staff:root")
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let revoked = store.actor("staff:alice").await.unwrap().unwrap();
        assert_eq!(revoked.revoked_by.as_deref(), Some("staff:root"), "{name}");

        // The insert is queued; its conflict surfaces when the transaction's writes are sent.
        let mut tx = store.begin().await.unwrap();
        tx.insert_actor(&actor("staff:alice", None)).await.unwrap();
        let error = tx.commit().await.unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict(_)),
            "{name}: {error:?}"
        );
    }
}

#[tokio::test]
async fn a_dropped_transaction_leaves_nothing_behind() {
    for test in stores().await {
        let store = &test.store;
        {
            let mut tx = store.begin().await.unwrap();
            tx.insert_actor(&actor("staff:ghost", None)).await.unwrap();
            tx.append_audit(event("ghost")).await.unwrap();
        }
        assert!(
            store.actor("staff:ghost").await.unwrap().is_none(),
            "{}",
            store.backend().as_str()
        );
        assert_eq!(store.audit_head().await.unwrap().0, 0);
        // The next writer starts clean: the dropped transaction's rollback ran first.
        let mut tx = store.begin().await.unwrap();
        tx.insert_actor(&actor("staff:after", None)).await.unwrap();
        tx.append_audit(event("after")).await.unwrap();
        tx.commit().await.unwrap();
        assert!(store.actor("staff:after").await.unwrap().is_some());
        assert!(store.actor("staff:ghost").await.unwrap().is_none());
        assert_eq!(store.audit_head().await.unwrap().0, 1);
    }
}

/// A write whose caller stops waiting while it starts (a client hung up, the daemon is stopping)
/// leaves nothing open behind it: the next writers start, and nothing waits on a lock the
/// abandoned start took.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_abandoned_while_it_starts_leaves_the_store_writable() {
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        for patience in 0..300 {
            // Give the start a different number of turns each time, so some are abandoned
            // before the `BEGIN` is sent, some while it runs, some after it answered.
            tokio::select! {
                biased;
                _ = store.begin() => {}
                () = async {
                    for _ in 0..patience % 60 {
                        tokio::task::yield_now().await;
                    }
                } => {}
            }
            let written = tokio::time::timeout(Duration::from_secs(5), async {
                let mut tx = store.begin().await?;
                tx.append_audit(event("after")).await?;
                tx.commit().await
            })
            .await;
            assert!(
                matches!(written, Ok(Ok(()))),
                "{name}: a write after an abandoned start (patience {patience}): {written:?}"
            );
        }
        let events = store.audit_events(0, 1000).await.unwrap();
        assert_eq!(events.len(), 300, "{name}");
        audit::verify_chain(&events, 0, audit::GENESIS_HASH.into()).unwrap();
    }
}

/// Two processes on one SQLite file (two stores, each with its own writer connection) interleave
/// their writes on the file lock; the chain stays one chain and each sees the other's writes.
#[tokio::test]
async fn two_sqlite_stores_on_one_file_share_one_chain() {
    let dir = temp_dir();
    let path = dir.path().join("brain.db");
    let first = Arc::new(SqliteStore::open(&path).await.unwrap());
    first.migrate().await.unwrap();
    let second = Arc::new(SqliteStore::open(&path).await.unwrap());
    let writers: Vec<Arc<dyn Store>> = vec![first.clone(), second.clone()];
    append_concurrently(writers, 20).await;
    for store in [&first, &second] {
        let events = store.audit_events(0, 1000).await.unwrap();
        assert_eq!(events.len(), 40);
        audit::verify_chain(&events, 0, audit::GENESIS_HASH.into()).unwrap();
        assert_eq!(store.audit_head().await.unwrap().0, 40);
    }
}

/// A closed store refuses a write at once (it does not wait for a writer that will not come).
#[tokio::test]
async fn a_closed_store_refuses_writes() {
    for test in stores().await {
        test.store.close().await;
        let Err(error) = test.store.begin().await else {
            panic!(
                "{}: a closed store began a write",
                test.store.backend().as_str()
            );
        };
        assert!(
            matches!(error, StoreError::Unavailable(_)),
            "{}: {error:?}",
            test.store.backend().as_str()
        );
    }
}

/// Filtered audit reads give exactly the matching events, newest first, on every backend.
#[tokio::test]
async fn filtered_audit_reads_match_every_filter() {
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        let mut tx = store.begin().await.unwrap();
        for index in 0..12 {
            let mut new = event(&format!("step{index}"));
            new.actor = if index % 2 == 0 {
                "staff:alice"
            } else {
                "staff:bob"
            }
            .into();
            new.proposal_id = Some(format!("p_{}", index % 3));
            new.decision = if index % 4 == 0 { "deny" } else { "allow" }.into();
            tx.append_audit(new).await.unwrap();
        }
        tx.commit().await.unwrap();
        let read = |filter: brain::store::AuditFilter| async move {
            store
                .audit_filtered(&filter)
                .await
                .unwrap()
                .iter()
                .map(|event| event.seq)
                .collect::<Vec<_>>()
        };
        let filter = brain::store::AuditFilter::default;
        assert_eq!(
            read(brain::store::AuditFilter {
                proposal_id: Some("p_1".into()),
                ..filter()
            })
            .await,
            vec![11, 8, 5, 2],
            "{name}"
        );
        assert_eq!(
            read(brain::store::AuditFilter {
                actor: Some("staff:bob".into()),
                proposal_id: Some("p_1".into()),
                ..filter()
            })
            .await,
            vec![8, 2],
            "{name}"
        );
        assert_eq!(
            read(brain::store::AuditFilter {
                decision: Some("deny".into()),
                capability: Some("firestore.ops_note.append".into()),
                before: Some(9),
                limit: 1,
                ..filter()
            })
            .await,
            vec![5],
            "{name}"
        );
        assert_eq!(
            read(brain::store::AuditFilter {
                capability: Some("other".into()),
                ..filter()
            })
            .await,
            Vec::<i64>::new(),
            "{name}"
        );
        assert_eq!(read(filter()).await.len(), 12, "{name}");
    }
}

#[tokio::test]
async fn runtime_switches_upsert_and_list_by_prefix() {
    for test in stores().await {
        let store = &test.store;
        let entry = |key: &str, value: &str| KvEntry {
            key: key.into(),
            value: value.into(),
            updated_at: "2026-01-01T00:00:00.000000Z".into(),
            updated_by: "staff:alice".into(),
        };
        let mut tx = store.begin().await.unwrap();
        tx.kv_set(&entry("kill_switch:global", "{\"on\":true}"))
            .await
            .unwrap();
        tx.kv_set(&entry("kill_switch:physical", "{\"on\":false}"))
            .await
            .unwrap();
        tx.kv_set(&entry("other", "1")).await.unwrap();
        tx.kv_set(&entry("kill_switch:global", "{\"on\":false}"))
            .await
            .unwrap();
        assert_eq!(
            tx.kv_get("kill_switch:global")
                .await
                .unwrap()
                .unwrap()
                .value,
            "{\"on\":false}"
        );
        tx.commit().await.unwrap();
        let keys: Vec<String> = store
            .kv_list("kill_switch:")
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.key)
            .collect();
        assert_eq!(keys, vec!["kill_switch:global", "kill_switch:physical"]);
        assert!(store.kv_get("missing").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn audit_events_form_a_verifiable_chain() {
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        for index in 0..5 {
            let mut tx = store.begin().await.unwrap();
            let sealed = tx
                .append_audit(event(&format!("step-{index}")))
                .await
                .unwrap();
            assert_eq!(sealed.seq, index + 1, "{name}");
            tx.commit().await.unwrap();
        }
        let events = store.audit_events(0, 100).await.unwrap();
        assert_eq!(events.len(), 5, "{name}");
        let (seq, hash) = audit::verify_chain(&events, 0, audit::GENESIS_HASH.into()).unwrap();
        assert_eq!((seq, hash), store.audit_head().await.unwrap(), "{name}");
        assert_eq!(
            events[0].detail,
            json!({"alpha": {"nested": true}, "zeta": 1}),
            "{name}"
        );
        assert_eq!(store.audit_events(3, 100).await.unwrap().len(), 2, "{name}");
    }
}

#[tokio::test]
async fn the_audit_table_rejects_update_and_delete() {
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        let mut tx = store.begin().await.unwrap();
        tx.append_audit(event("kept")).await.unwrap();
        tx.commit().await.unwrap();
        let update = test
            .raw
            .execute("UPDATE audit_events SET action = 'forged'")
            .await;
        assert!(
            update.unwrap_err().contains("append-only"),
            "{name}: UPDATE was allowed"
        );
        let delete = test.raw.execute("DELETE FROM audit_events").await;
        assert!(
            delete.unwrap_err().contains("append-only"),
            "{name}: DELETE was allowed"
        );
        if store.backend() == Backend::Postgres {
            let truncate = test.raw.execute("TRUNCATE audit_events").await;
            assert!(
                truncate.unwrap_err().contains("append-only"),
                "TRUNCATE was allowed"
            );
        }
        assert_eq!(
            store.audit_events(0, 10).await.unwrap()[0].action,
            "kept",
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_never_fork_the_chain() {
    for test in stores().await {
        let store = test.store.clone();
        let name = store.backend().as_str();
        append_concurrently(vec![store.clone(); 8], 10).await;
        let events = store.audit_events(0, 1000).await.unwrap();
        assert_eq!(events.len(), 80, "{name}");
        audit::verify_chain(&events, 0, audit::GENESIS_HASH.into()).unwrap();
    }
}

#[tokio::test]
async fn a_closed_store_reports_unreachable() {
    for test in stores().await {
        test.store.close().await;
        let health = test.store.health().await;
        assert!(
            !health.reachable,
            "{}: {health:?}",
            test.store.backend().as_str()
        );
        assert!(test.store.ping().await.is_err());
    }
}

/// The one-query facts read gives exactly what the single-table reads give, on every backend.
#[tokio::test]
async fn decision_facts_match_the_single_reads() {
    use brain::store::{Approval, ExemptionRecord, Proposal, SnapshotRecord};
    let proposal = |id: &str, outcome: serde_json::Value| -> Proposal {
        serde_json::from_value(json!({
            "id": id, "capability": "x.y", "state": "succeeded",
            "input": { "text": "a 'quoted' text, with commas" }, "input_hash": "h",
            "rationale": "r", "plan": { "effect": "none" }, "proposer": "staff:a",
            "owner": "staff:a", "delegation_id": null, "idempotency_key": format!("k-{id}"),
            "policy_set_hash": "p", "created_at": "2026-01-01T00:00:00.000000Z",
            "updated_at": "2026-01-01T00:00:01.000000Z", "expires_at": "2026-01-08T00:00:00.000000Z",
            "closed_by": null, "closed_reason": null,
            "execution_started_at": "2026-01-01T00:00:02.000000Z",
            "execution_finished_at": "2026-01-01T00:00:03.000000Z", "executed_by": "staff:b",
            "outcome": outcome, "failure": null
        }))
        .unwrap()
    };
    for test in stores().await {
        let store = &test.store;
        let mut tx = store.begin().await.unwrap();
        let wanted = proposal("p_1", json!({ "document": "d" }));
        tx.insert_proposal(&wanted).await.unwrap();
        tx.insert_actor(&actor("staff:present", None))
            .await
            .unwrap();
        tx.insert_actor(&Actor {
            revoked_at: Some("2026-01-01T00:00:09.000000Z".into()),
            revoked_by: Some("staff:a".into()),
            ..actor("staff:gone", None)
        })
        .await
        .unwrap();
        tx.insert_proposal(&proposal("p_2", serde_json::Value::Null))
            .await
            .unwrap();
        for (id, proposal_id, at) in [
            ("a_2", "p_1", "02"),
            ("a_1", "p_1", "01"),
            ("a_3", "p_2", "03"),
        ] {
            let approval: Approval = serde_json::from_value(json!({
                "id": id, "proposal_id": proposal_id, "approver": format!("staff:{id}"), "input_hash": "h",
                "comment": if id == "a_1" { json!(null) } else { json!("ok") },
                "created_at": format!("2026-01-01T00:00:{at}.000000Z"),
                "expires_at": "2026-01-02T00:00:00.000000Z"
            }))
            .unwrap();
            tx.insert_approval(&approval).await.unwrap();
        }
        for (id, kind, at) in [("e_1", "grant", "01"), ("e_2", "revoke", "02")] {
            let record: ExemptionRecord = serde_json::from_value(json!({
                "id": id, "kind": kind,
                "revokes": if kind == "revoke" { json!("e_1") } else { json!(null) },
                "capability": if kind == "grant" { json!("x.y") } else { json!(null) },
                "owner": null,
                "starts": if kind == "grant" { json!("2026-01-01T00:00:00.000000Z") } else { json!(null) },
                "expires": if kind == "grant" { json!("2026-01-02T00:00:00.000000Z") } else { json!(null) },
                "justification": "j", "requested_by": "staff:a", "approved_by": "staff:b",
                "created_at": format!("2026-01-01T00:00:{at}.000000Z")
            }))
            .unwrap();
            tx.insert_exemption(&record).await.unwrap();
        }
        for key in ["kill_switch:global", "kill_switch:capability:x.y", "other"] {
            tx.kv_set(&KvEntry {
                key: key.into(),
                value: "{\"on\":true}".into(),
                updated_at: "2026-01-01T00:00:00.000000Z".into(),
                updated_by: "staff:a".into(),
            })
            .await
            .unwrap();
        }
        let snapshot: SnapshotRecord = serde_json::from_value(json!({
            "id": "s_1", "computed_at": "2026-01-01T00:00:05.000000Z", "schema_version": 1,
            "complete": true, "content_hash": "c", "state": {}, "provenance": {},
            "previous_id": null, "diff": [], "drift": []
        }))
        .unwrap();
        tx.insert_snapshot(&snapshot).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let facts = tx
            .decision_facts(Some("p_1"), "kill_switch:", Some("staff:nobody"))
            .await
            .unwrap();
        let backend = store.backend().as_str();
        assert_eq!(facts.proposal.as_ref(), Some(&wanted), "{backend}");
        assert_eq!(
            facts.approvals,
            tx.approvals("p_1").await.unwrap(),
            "{backend}"
        );
        assert_eq!(facts.approvals.len(), 2);
        assert_eq!(
            facts.exemptions,
            tx.exemptions().await.unwrap(),
            "{backend}"
        );
        assert_eq!(
            facts.runtime,
            tx.kv_list("kill_switch:").await.unwrap(),
            "{backend}"
        );
        assert_eq!(facts.newest_snapshot, Some(snapshot.meta()), "{backend}");
        let none = tx.decision_facts(None, "kill_switch:", None).await.unwrap();
        assert_eq!((none.proposal, none.approvals.len()), (None, 0));
        let missing = tx.decision_facts(Some("p_9"), "x", None).await.unwrap();
        assert!(missing.proposal.is_none() && missing.runtime.is_empty());
        // The deciding caller's revocation comes with the facts, in the same round trip.
        assert!(!facts.caller_revoked, "an unknown caller is not revoked");
        for (caller, revoked) in [("staff:present", false), ("staff:gone", true)] {
            let read = tx
                .decision_facts(Some("p_1"), "kill_switch:", Some(caller))
                .await
                .unwrap();
            assert_eq!(read.caller_revoked, revoked, "{caller} on {backend}");
            assert_eq!(read.proposal.as_ref(), Some(&wanted));
        }
    }
}

/// A proposal record for the write-path tests.
fn plain_proposal(id: &str) -> brain::store::Proposal {
    serde_json::from_value(json!({
        "id": id, "capability": "x.y", "state": "pending_approval",
        "input": { "text": "t" }, "input_hash": "h", "rationale": "r", "plan": null,
        "proposer": "staff:a", "owner": "staff:a", "delegation_id": null,
        "idempotency_key": null, "policy_set_hash": "p",
        "created_at": "2026-01-01T00:00:00.000000Z", "updated_at": "2026-01-01T00:00:00.000000Z",
        "expires_at": "2026-01-08T00:00:00.000000Z", "closed_by": null, "closed_reason": null,
        "execution_started_at": null, "execution_finished_at": null, "executed_by": null,
        "outcome": null, "failure": null
    }))
    .unwrap()
}

/// Writes wait in the transaction and go as one statement; every read inside the transaction
/// still sees them, and a row written twice ends as the second write left it.
#[tokio::test]
async fn a_transaction_reads_its_own_queued_writes() {
    use brain::engine::lifecycle::ProposalState;
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        let mut tx = store.begin().await.unwrap();
        let mut proposal = plain_proposal("p_rw");
        tx.insert_proposal(&proposal).await.unwrap();
        assert_eq!(
            tx.proposal("p_rw").await.unwrap().as_ref(),
            Some(&proposal),
            "{name}"
        );
        proposal.state = ProposalState::Approved;
        tx.update_proposal(&proposal).await.unwrap();
        proposal.state = ProposalState::Executing;
        tx.update_proposal(&proposal).await.unwrap();
        for value in ["1", "2"] {
            tx.kv_set(&KvEntry {
                key: "kill_switch:global".into(),
                value: value.into(),
                updated_at: "2026-01-01T00:00:00.000000Z".into(),
                updated_by: "staff:a".into(),
            })
            .await
            .unwrap();
        }
        tx.append_audit(event("first")).await.unwrap();
        let second = tx.append_audit(event("second")).await.unwrap();
        let facts = tx
            .decision_facts(Some("p_rw"), "kill_switch:", None)
            .await
            .unwrap();
        assert_eq!(
            facts.proposal.map(|found| found.state),
            Some(ProposalState::Executing),
            "{name}"
        );
        assert_eq!(facts.runtime.len(), 1, "{name}");
        assert_eq!(facts.runtime[0].value, "2", "{name}");
        tx.commit().await.unwrap();
        assert_eq!(
            store.audit_head().await.unwrap(),
            (second.seq, second.hash.clone()),
            "{name}: the head is the newest event"
        );
        assert_eq!(
            store
                .proposal("p_rw")
                .await
                .unwrap()
                .map(|found| found.state),
            Some(ProposalState::Executing),
            "{name}"
        );
    }
}

/// When one queued write fails, none of the transaction's writes stay, and the store takes the
/// next transaction as usual.
#[tokio::test]
async fn a_failing_queued_write_undoes_its_whole_transaction() {
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        let mut tx = store.begin().await.unwrap();
        tx.insert_actor(&actor("staff:first", None)).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        tx.insert_actor(&actor("staff:second", None)).await.unwrap();
        tx.append_audit(event("doomed")).await.unwrap();
        tx.insert_actor(&actor("staff:first", None)).await.unwrap();
        let error = tx.commit().await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict(_)), "{name}: {error}");
        assert!(
            store.actor("staff:second").await.unwrap().is_none(),
            "{name}"
        );
        assert_eq!(store.audit_head().await.unwrap().0, 0, "{name}");

        // A proposal that is not there fails the batch's row count: nothing is kept either.
        let mut tx = store.begin().await.unwrap();
        tx.append_audit(event("also doomed")).await.unwrap();
        tx.update_proposal(&plain_proposal("p_missing"))
            .await
            .unwrap();
        let error = tx.commit().await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)), "{name}: {error}");
        assert_eq!(store.audit_head().await.unwrap().0, 0, "{name}");

        // A batch that failed under a read poisons its transaction: the commit is refused, even
        // though SQLite would let the transaction go on after a failed statement.
        let mut tx = store.begin().await.unwrap();
        tx.insert_actor(&actor("staff:third", None)).await.unwrap();
        tx.insert_actor(&actor("staff:first", None)).await.unwrap();
        let error = tx.actor("staff:third").await.unwrap_err();
        assert!(matches!(error, StoreError::Conflict(_)), "{name}: {error}");
        let error = tx.commit().await.unwrap_err();
        assert!(matches!(error, StoreError::Rejected(_)), "{name}: {error}");
        assert!(
            store.actor("staff:third").await.unwrap().is_none(),
            "{name}"
        );

        let mut tx = store.begin().await.unwrap();
        tx.append_audit(event("kept")).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.audit_head().await.unwrap().0, 1, "{name}");
    }
}

/// A transaction with more writes than one statement carries (a restored bundle, a long
/// retention run) sends them in several batches; the chain and its head come out whole.
#[tokio::test]
async fn a_long_transaction_sends_its_writes_in_several_batches() {
    for test in stores().await {
        let store = &test.store;
        let name = store.backend().as_str();
        let mut tx = store.begin().await.unwrap();
        let mut last = None;
        for index in 0..400 {
            last = Some(tx.append_audit(event(&format!("e{index}"))).await.unwrap());
        }
        tx.commit().await.unwrap();
        let last = last.unwrap();
        assert_eq!(
            store.audit_head().await.unwrap(),
            (400, last.hash),
            "{name}"
        );
        let events = store.audit_events(0, 1_000).await.unwrap();
        assert_eq!(events.len(), 400, "{name}");
        audit::verify_chain(&events, 0, audit::GENESIS_HASH.into()).unwrap();
    }
}
