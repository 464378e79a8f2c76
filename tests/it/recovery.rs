//! Local state is disposable: the DR drill (run a workload, back up, delete the database,
//! rebuild, and find the same proposals, exemptions, actors, switches, a verifying audit log and
//! the same StudioState) on SQLite and Postgres, the refusals that keep a rebuild safe, and
//! retention (TTLs, audit pruning covered by a verified bundle and a signed checkpoint).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::engine::{Backend, Studio};
use crate::support::{PgDatabase, repo};

fn config(extra: &str) -> String {
    let fixtures = repo().join("examples/studio/cloud");
    format!(
        "  snapshot_stale_after: 1h
audit:
  checkpoint_every: 5
cloud:
  fixtures:
    dir: {}
{extra}",
        fixtures.display()
    )
}

fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if let Some(database) = PgDatabase::create() {
        all.push(Backend::Postgres(database));
    }
    all
}

fn ok(studio: &Studio, token: &str, args: &[&str]) -> Value {
    let (code, value) = studio.json(token, args);
    assert_eq!(code, 0, "{args:?} on {}: {value}", studio.label());
    value
}

/// A little of everything: actors, a delegation, proposals in several states, an exemption,
/// a kill switch, snapshots.
fn workload(studio: &Studio) {
    let admin = studio.admin.clone();
    let bob = studio.add("staff:bob");
    studio.add("agent:drafter");
    ok(
        studio,
        &admin,
        &[
            "delegate",
            "--agent",
            "agent:drafter",
            "--owner",
            "staff:bob",
            "--scopes",
            "test.*",
            "--expires",
            "7d",
        ],
    );
    let done = studio.propose(&admin, "test.note.draft", r#"{"text": "glaze day"}"#);
    ok(studio, &bob, &["approve", &done]);
    ok(studio, &admin, &["execute", &done]);
    let rejected = studio.propose(&admin, "test.note.draft", r#"{"text": "no"}"#);
    ok(
        studio,
        &bob,
        &["reject", &rejected, "--reason", "duplicate"],
    );
    studio.propose(&admin, "test.note.draft", r#"{"text": "pending"}"#);
    ok(
        studio,
        &admin,
        &[
            "exempt",
            "--capability",
            "test.note.draft",
            "--expires",
            "1d",
            "--justification",
            "Kiln outage: notes must go out fast",
            "--requested-by",
            "staff:bob",
        ],
    );
    ok(
        studio,
        &admin,
        &[
            "kill-switch",
            "on",
            "capability:test.critical.draft",
            "--reason",
            "two-person drafts paused",
        ],
    );
    ok(studio, &admin, &["snapshot", "run"]);
}

/// What a rebuild must give back, read through the CLI (without the countdowns, which move).
fn state(studio: &Studio) -> Value {
    fn timeless(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("seconds_left");
                map.values_mut().for_each(timeless);
            }
            Value::Array(items) => items.iter_mut().for_each(timeless),
            _ => {}
        }
    }
    let admin = studio.admin.clone();
    let mut state = json!({
        "proposals": ok(studio, &admin, &["proposals", "list", "--limit", "500"]),
        "exemptions": ok(studio, &admin, &["exemptions", "list"]),
        "actors": ok(studio, &admin, &["actor", "list"]),
        "delegations": ok(studio, &admin, &["delegations", "list"]),
        "switches": ok(studio, &admin, &["kill-switch", "status"]),
    });
    timeless(&mut state);
    state
}

/// Throw the database away: the SQLite file, or every table of the Postgres database.
fn delete_database(studio: &Studio) {
    match &studio.database_url {
        Some(_) => studio.sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"),
        None => {
            for entry in std::fs::read_dir(studio.path().join("data"))
                .unwrap()
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with("brain.db") {
                    std::fs::remove_file(entry.path()).unwrap();
                }
            }
        }
    }
}

/// Equal JSON, or a panic naming the first path that differs.
fn assert_same(got: &Value, want: &Value, label: &str) {
    fn walk(path: String, got: &Value, want: &Value) -> Option<String> {
        match (got, want) {
            (Value::Object(a), Value::Object(b)) => {
                for key in a.keys().chain(b.keys()) {
                    let missing = Value::Null;
                    let (x, y) = (
                        a.get(key).unwrap_or(&missing),
                        b.get(key).unwrap_or(&missing),
                    );
                    if let Some(found) = walk(format!("{path}/{key}"), x, y) {
                        return Some(found);
                    }
                }
                None
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
                .iter()
                .zip(b)
                .enumerate()
                .find_map(|(index, (x, y))| walk(format!("{path}/{index}"), x, y)),
            _ if got == want => None,
            _ => Some(format!("{path}: {got} != {want}")),
        }
    }
    if let Some(difference) = walk(String::new(), got, want) {
        panic!("{label}: the rebuilt state differs at {difference}");
    }
}

fn rebuild(studio: &Studio, args: &[&str]) -> (i32, Value) {
    studio.run_json(None, &[&["rebuild"], args].concat())
}

fn copy_bundle(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

#[test]
fn the_dr_drill_rebuilds_the_same_state_from_the_latest_backup() {
    for backend in backends() {
        let studio = Studio::new(backend, &config(""));
        let admin = studio.admin.clone();
        let label = studio.label();
        workload(&studio);
        let before = state(&studio);
        let snapshot = ok(&studio, &admin, &["snapshot", "show"]);
        let backup = ok(&studio, &admin, &["backup"]);
        let dir = PathBuf::from(backup["dir"].as_str().unwrap());
        assert!(
            dir.starts_with(studio.path().join("data/backups")),
            "{label}: {backup}"
        );
        assert_eq!(backup["records"]["proposals"], 3, "{label}: {backup}");
        let verified = ok(
            &studio,
            &admin,
            &["audit", "verify", "--bundle", dir.to_str().unwrap()],
        );
        assert_eq!(verified["ok"], true);

        // A damaged copy is refused and leaves the new store empty.
        delete_database(&studio);
        let damaged = studio.path().join("damaged");
        copy_bundle(&dir, &damaged);
        let events = std::fs::read_to_string(damaged.join("events.jsonl")).unwrap();
        std::fs::write(
            damaged.join("events.jsonl"),
            events.replacen("staff:bob", "staff:eve", 1),
        )
        .unwrap();
        let (code, refused) = rebuild(&studio, &["--from", damaged.to_str().unwrap()]);
        assert_eq!(code, 1, "{label}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("does not verify"),
            "{label}: {refused}"
        );

        // The real drill: rebuild from the newest bundle in `backup.dir`.
        let (code, rebuilt) = rebuild(&studio, &[]);
        assert_eq!(code, 0, "{label}: {rebuilt}");
        assert_eq!(rebuilt["verification"]["ok"], true, "{label}: {rebuilt}");
        assert_eq!(rebuilt["restored"]["to_seq"], backup["to_seq"]);
        assert_eq!(
            rebuilt["snapshot"]["content_hash"], snapshot["content_hash"],
            "{label}: a fresh compute matches"
        );
        // The old tokens work again (their hashes came back) and everything is as before.
        assert_same(&state(&studio), &before, &label);
        let verify = ok(&studio, &admin, &["audit", "verify"]);
        assert_eq!(verify["ok"], true, "{label}: {verify}");
        let (_, events) = studio.json(
            &admin,
            &["audit", "tail", "-n", "1", "--actor", "system:rebuild"],
        );
        assert!(
            events
                .as_array()
                .unwrap()
                .iter()
                .any(|event| event["actor"] == "system:rebuild" && event["action"] == "rebuild"),
            "{label}: the rebuild is audited: {events}"
        );

        // A rebuild never writes over a store that holds anything.
        let (code, refused) = rebuild(&studio, &[]);
        assert_eq!(code, 1, "{label}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not empty"),
            "{label}: {refused}"
        );
    }
}

#[test]
fn a_rebuild_without_the_signing_key_or_a_bundle_says_what_to_restore() {
    let studio = Studio::new(Backend::Sqlite, &config(""));
    let admin = studio.admin.clone();
    ok(&studio, &admin, &["backup"]);
    delete_database(&studio);
    std::fs::rename(
        studio.path().join("data/audit-signing.key"),
        studio.path().join("key.saved"),
    )
    .unwrap();
    let (code, refused) = rebuild(&studio, &[]);
    assert_eq!(code, 1, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no audit signing key"),
        "{refused}"
    );
    assert!(
        !studio.path().join("data/audit-signing.key").exists(),
        "no new key was made"
    );
    std::fs::rename(
        studio.path().join("key.saved"),
        studio.path().join("data/audit-signing.key"),
    )
    .unwrap();
    let empty = studio.path().join("nothing-here");
    let (code, refused) = rebuild(&studio, &["--from", empty.to_str().unwrap()]);
    assert_eq!(code, 1, "{refused}");
    let (code, rebuilt) = rebuild(&studio, &["--no-snapshot"]);
    assert_eq!(code, 0, "{rebuilt}");
    assert_eq!(rebuilt["snapshot"], Value::Null);
}

#[test]
fn retention_prunes_what_its_ttls_allow_and_the_log_still_verifies() {
    for backend in backends() {
        let studio = Studio::new(
            backend,
            &config(
                "retention:
  snapshots: 1s
  diffs: 1s
  proposal_payloads: 1s
  connector_readings: 1s
  audit_events: 1s
",
            ),
        );
        let admin = studio.admin.clone();
        let label = studio.label();
        workload(&studio);
        ok(&studio, &admin, &["snapshot", "run"]);
        ok(&studio, &admin, &["snapshot", "run"]);
        // A connector's readings, as the daemon's polling records them, last seen long ago.
        studio.sql(
            "INSERT INTO runtime_kv (key, value, updated_at, updated_by) VALUES \
             ('connector.readings:hub', '{}', '2026-01-01T00:00:00.000000Z', 'system:connector:hub')",
        );
        std::thread::sleep(std::time::Duration::from_millis(1_100));

        // Without a backup, no audit event goes.
        let report = ok(&studio, &admin, &["retention", "run", "--dry-run"]);
        assert_eq!(report["audit"]["events_pruned"], 0, "{label}: {report}");
        assert!(
            report["audit"]["held_back"]
                .as_str()
                .unwrap()
                .contains("brain backup"),
            "{label}: {report}"
        );
        let backup = ok(&studio, &admin, &["backup"]);
        let records = std::fs::read_to_string(
            Path::new(backup["dir"].as_str().unwrap()).join("records.json"),
        )
        .unwrap();
        assert!(
            !records.contains("connector.readings:"),
            "derived readings are not backed up"
        );
        std::thread::sleep(std::time::Duration::from_millis(1_100));

        // A dry run counts and changes nothing.
        let head_before = ok(&studio, &admin, &["audit", "verify"])["head_seq"].clone();
        let dry = ok(&studio, &admin, &["retention", "run", "--dry-run"]);
        assert_eq!(dry["dry_run"], true);
        assert_eq!(dry["snapshots_deleted"], 2, "{label}: {dry}");
        assert_eq!(dry["proposal_payloads_pruned"], 2, "{label}: {dry}");
        assert_eq!(dry["connector_readings_deleted"], 1, "{label}: {dry}");
        let pruned_through = dry["audit"]["through_seq"].as_i64().unwrap();
        assert!(pruned_through >= 5, "{label}: {dry}");
        assert_eq!(
            ok(&studio, &admin, &["audit", "verify"])["head_seq"],
            head_before,
            "{label}: a dry run writes nothing"
        );
        assert_eq!(
            ok(&studio, &admin, &["snapshot", "history"])
                .as_array()
                .unwrap()
                .len(),
            3
        );

        // The real run: the same counts, the newest snapshot kept, closed payloads gone.
        let report = ok(&studio, &admin, &["retention", "run"]);
        assert_eq!(report["snapshots_deleted"], dry["snapshots_deleted"]);
        assert_eq!(report["audit"]["through_seq"], pruned_through);
        assert_eq!(
            report["audit"]["events_pruned"].as_i64(),
            Some(pruned_through),
            "{label}: {report}"
        );
        assert_eq!(
            ok(&studio, &admin, &["snapshot", "history"])
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let proposals = ok(&studio, &admin, &["proposals", "list", "--limit", "500"]);
        let pruned: Vec<&Value> = proposals
            .as_array()
            .unwrap()
            .iter()
            .filter(|proposal| proposal["input"] == json!({ "$pruned": "retention" }))
            .collect();
        assert_eq!(pruned.len(), 2, "{label}: {proposals}");
        assert!(
            pruned
                .iter()
                .all(|proposal| proposal["state"] != "pending_approval"),
            "open proposals keep their input"
        );
        let verify = ok(&studio, &admin, &["audit", "verify"]);
        assert_eq!(verify["ok"], true, "{label}: {verify}");
        assert_eq!(verify["pruned_through"], pruned_through);
        let last = studio.last_event();
        assert_eq!(last["action"], "retention");

        // A pruned log backs up from its prune point and rebuilds from it.
        let backup = ok(&studio, &admin, &["backup"]);
        assert_eq!(backup["from_seq"].as_i64(), Some(pruned_through + 1));
        let before = state(&studio);
        delete_database(&studio);
        let (code, rebuilt) = rebuild(&studio, &[]);
        assert_eq!(code, 0, "{label}: {rebuilt}");
        assert_eq!(
            rebuilt["verification"]["pruned_through"], pruned_through,
            "{label}: {rebuilt}"
        );
        assert_same(&state(&studio), &before, &label);
    }
}

#[test]
fn brain_serve_writes_backups_and_applies_retention_on_their_schedules() {
    let studio = Studio::new(
        Backend::Sqlite,
        &config(
            "backup:
  keep: 2
schedules:
  backup:
    every: 1s
  retention:
    every: 1s
retention:
  snapshots: 1s
",
        ),
    );
    let admin = studio.admin.clone();
    let daemon = studio.start_daemon();
    let backups = studio.path().join("data/backups");
    let bundles = || {
        std::fs::read_dir(&backups)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|entry| {
                        let name = entry.file_name().to_string_lossy().to_string();
                        name.starts_with("brain-backup-") && !name.ends_with(".partial")
                    })
                    .map(|entry| entry.path())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert!(
        crate::support::eventually(std::time::Duration::from_secs(30), || bundles().len() >= 2),
        "no scheduled backups: {}",
        daemon.logs()
    );
    // Old bundles beyond `backup.keep` are removed.
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    assert!(bundles().len() <= 2, "{:?}", bundles());
    let newest = bundles().into_iter().max().unwrap();
    let verified = ok(
        &studio,
        &admin,
        &["audit", "verify", "--bundle", newest.to_str().unwrap()],
    );
    assert_eq!(verified["ok"], true);
    let (_, events) = studio.json(
        &admin,
        &["audit", "tail", "-n", "1", "--actor", "system:retention"],
    );
    assert_eq!(events[0]["action"], "retention", "{events}");
    let (_, exports) = studio.json(
        &admin,
        &["audit", "tail", "-n", "1", "--actor", "system:backup"],
    );
    assert_eq!(exports[0]["detail"]["operation"], "export", "{exports}");
    drop(daemon);
}

#[test]
fn forged_prune_points_and_unsigned_records_are_refused() {
    let studio = Studio::new(Backend::Sqlite, &config(""));
    let admin = studio.admin.clone();
    workload(&studio);

    // records.json added to a plain export (its signed manifest does not cover it).
    let export = studio.path().join("export");
    ok(
        &studio,
        &admin,
        &["audit", "export", "--out", export.to_str().unwrap()],
    );
    let backup = ok(&studio, &admin, &["backup"]);
    let real = Path::new(backup["dir"].as_str().unwrap()).join("records.json");
    std::fs::copy(&real, export.join("records.json")).unwrap();
    let (code, checked) = studio.run_json(
        Some(&admin),
        &["audit", "verify", "--bundle", export.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{checked}");
    delete_database(&studio);
    let (code, refused) = rebuild(&studio, &["--from", export.to_str().unwrap()]);
    assert_eq!(code, 1, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not covered by the signed manifest"),
        "{refused}"
    );
    let (code, rebuilt) = rebuild(&studio, &[]);
    assert_eq!(code, 0, "{rebuilt}");

    // A prune point nobody signed, inserted behind brain's back: verify says so, and neither
    // a backup nor retention builds on it.
    let head = ok(&studio, &admin, &["audit", "tail", "-n", "1"]);
    let seq = head[0]["seq"].as_i64().unwrap() - 3;
    let (_, events) = studio.json(&admin, &["audit", "tail", "-n", "500"]);
    let hash = events
        .as_array()
        .unwrap()
        .iter()
        .find(|event| event["seq"] == seq)
        .unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_string();
    let forged = json!({
        "through_seq": seq, "hash": hash,
        "checkpoint": { "seq": seq, "hash": hash, "at": "2026-01-01T00:00:00.000000Z",
                        "public_key": "00", "signature": "00" },
        "bundle": "/nowhere", "bundle_events_sha256": "00", "at": "2026-01-01T00:00:00.000000Z",
        "by": "staff:mallory", "public_key": "00", "signature": "00"
    });
    studio.sql(&format!(
        "INSERT INTO audit_prunes (through_seq, hash, record, at) VALUES ({seq}, '{hash}', '{forged}', 'x'); \
         DELETE FROM audit_events WHERE seq <= {seq};"
    ));
    let (code, verify) = studio.run_json(Some(&admin), &["audit", "verify"]);
    assert_eq!(code, 1, "{verify}");
    assert_eq!(verify["ok"], false);
    let (code, refused) = studio.run_json(Some(&admin), &["backup"]);
    assert_eq!(code, 1, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("prune point"),
        "{refused}"
    );
}
