//! The Engine through the real binary, on SQLite and (when `BRAIN_TEST_DATABASE_URL` is set)
//! Postgres: the whole lifecycle, every denial reason, self-approval, the two-person rule,
//! exemptions, kill switches flipped by another process, and audit tampering behind brain's back.
//!
//! Every scenario runs on each backend and must print the same transcript on both (one insta
//! snapshot per scenario).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::{PgDatabase, brain, copy_dir, repo, run, scrub, temp_dir};

/// Capabilities the scenarios need beyond the repository's own set.
const TEST_CAPABILITIES: &[(&str, &str)] = &[
    (
        "test.note.draft",
        "id: test.note.draft
title: Draft a studio note
owner: staff:owner
risk_tier: low
mode: draft
target: brain
class: internal
approval: { required: 1, approver_types: [staff], valid_for: 1h }
limits:
  - { per: actor, max: 3, window: 1h }
failure_mode: The draft is not recorded.
rollback: { strategy: discard_draft, how: Reject or cancel the draft. }
tests: [tests/it/engine.rs]
input_schema:
  type: object
  required: [text]
  additionalProperties: false
  properties: { text: { type: string, minLength: 1 } }
enabled: true
",
    ),
    (
        "test.critical.draft",
        "id: test.critical.draft
title: Draft a change to the firing schedule
owner: staff:owner
risk_tier: high
mode: draft
target: brain
class: internal
approval: { required: 2, approver_types: [staff], valid_for: 1h }
limits:
  - { per: actor, max: 10, window: 1h }
failure_mode: The draft is not recorded.
rollback: { strategy: discard_draft, how: Reject or cancel the draft. }
tests: [tests/it/engine.rs]
spec: specs/test.critical.draft.md
input_schema: { type: object }
enabled: true
",
    ),
    (
        "test.fresh.draft",
        "id: test.fresh.draft
title: Draft that needs fresh StudioState
owner: staff:owner
risk_tier: low
mode: draft
target: brain
class: internal
limits:
  - { per: actor, max: 10, window: 1h }
requires_fresh_state: true
failure_mode: The draft is not recorded.
rollback: { strategy: discard_draft, how: Reject or cancel the draft. }
tests: [tests/it/engine.rs]
input_schema: { type: object }
enabled: true
",
    ),
    (
        "test.quick.draft",
        "id: test.quick.draft
title: Draft whose approvals lapse after a second
owner: staff:owner
risk_tier: low
mode: draft
target: brain
class: internal
approval: { required: 1, approver_types: [staff], valid_for: 1s }
limits:
  - { per: actor, max: 10, window: 1h }
failure_mode: The draft is not recorded.
rollback: { strategy: discard_draft, how: Reject or cancel the draft. }
tests: [tests/it/engine.rs]
input_schema: { type: object }
enabled: true
",
    ),
    (
        "test.disabled.draft",
        "id: test.disabled.draft
title: A capability switched off in its manifest
owner: staff:owner
risk_tier: low
mode: draft
target: brain
class: internal
limits:
  - { per: actor, max: 10, window: 1h }
failure_mode: Nothing happens.
rollback: { strategy: discard_draft, how: Nothing to undo. }
tests: [tests/it/engine.rs]
input_schema: { type: object }
enabled: false
",
    ),
    (
        "test.vacuum.start",
        "id: test.vacuum.start
title: Start a vacuum run
owner: staff:owner
risk_tier: medium
mode: write
target: roborock
class: physical
approval: { required: 1, approver_types: [staff], valid_for: 1h }
limits:
  - { per: actor, max: 10, window: 1h }
failure_mode: The vacuum stays docked.
rollback: { strategy: manual, how: Send it back to the dock by hand. }
tests: [tests/it/engine.rs]
input_schema: { type: object }
enabled: true
",
    ),
    (
        "test.remote.write",
        "id: test.remote.write
title: Write a record in the cloud
owner: staff:owner
risk_tier: low
mode: write
target: firestore
class: cloud
approval: { required: 1, approver_types: [staff], valid_for: 1h }
limits:
  - { per: actor, max: 10, window: 1h }
failure_mode: The record is not written.
rollback: { strategy: delete_created_document, how: Delete the record. }
tests: [tests/it/engine.rs]
input_schema: { type: object }
enabled: true
",
    ),
];

pub enum Backend {
    Sqlite,
    Postgres(PgDatabase),
}

/// A studio repository in a temp dir (the repository's policy set plus the test capabilities),
/// with its store bootstrapped and the admin's token at hand.
pub struct Studio {
    pub dir: tempfile::TempDir,
    pub name: &'static str,
    pub database_url: Option<String>,
    _database: Option<PgDatabase>,
    pub admin: String,
    /// A daemon serving this studio, when commands go through its API (`BRAIN_SERVER`).
    pub daemon: Option<crate::support::Daemon>,
    /// Environment every command (and the daemon) gets, such as `FIRESTORE_EMULATOR_HOST`.
    pub envs: Vec<(String, String)>,
}

impl Studio {
    /// Every backend available here.
    pub fn all() -> Vec<Studio> {
        let mut studios = vec![Studio::new(Backend::Sqlite, "")];
        match PgDatabase::create() {
            Some(database) => studios.push(Studio::new(Backend::Postgres(database), "")),
            None => {
                eprintln!("note: BRAIN_TEST_DATABASE_URL is not set; Postgres scenarios skipped")
            }
        }
        studios
    }

    /// A studio on `backend`; `config_extra` is appended to brain.yaml.
    pub fn new(backend: Backend, config_extra: &str) -> Studio {
        Studio::with_env(backend, config_extra, Vec::new())
    }

    /// [`Studio::new`] with `envs` given to every command and daemon.
    pub fn with_env(backend: Backend, config_extra: &str, envs: Vec<(String, String)>) -> Studio {
        let dir = temp_dir();
        for folder in ["policies", "capabilities", "specs"] {
            copy_dir(&repo().join(folder), &dir.path().join(folder));
        }
        for (id, text) in TEST_CAPABILITIES {
            std::fs::write(dir.path().join(format!("capabilities/{id}.yaml")), text).unwrap();
        }
        let (name, store, database_url, database) = match backend {
            Backend::Sqlite => (
                "sqlite",
                "store:\n  sqlite:\n    path: brain.db\n".to_string(),
                None,
                None,
            ),
            Backend::Postgres(database) => (
                "postgres",
                "store:\n  postgres:\n    url: { env: BRAIN_DATABASE_URL }\n".to_string(),
                Some(database.url.clone()),
                Some(database),
            ),
        };
        let expiry = if config_extra.contains("proposal_expires_after") {
            ""
        } else {
            "  proposal_expires_after: 7d\n"
        };
        std::fs::write(
            dir.path().join("brain.yaml"),
            format!(
                "studio:\n  name: Engine test studio\ndata_dir: data\n{store}thresholds:\n{expiry}{config_extra}"
            ),
        )
        .unwrap();
        let mut studio = Studio {
            dir,
            name,
            database_url,
            _database: database,
            admin: String::new(),
            daemon: None,
            envs,
        };
        let output = studio.run(None, &["--format", "json", "actor", "bootstrap"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            studio.transcript(&output)
        );
        let issued: Value = serde_json::from_slice(&output.stdout).unwrap();
        studio.admin = issued["token"].as_str().unwrap().to_string();
        studio
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `brain` in the studio, as the holder of `token`.
    pub fn command(&self, token: Option<&str>) -> Command {
        let mut command = brain(self.path());
        command.env_remove("BRAIN_TOKEN");
        if let Some(token) = token {
            command.env("BRAIN_TOKEN", token);
        }
        if let Some(url) = &self.database_url {
            command.env("BRAIN_DATABASE_URL", url);
        }
        for (key, value) in &self.envs {
            command.env(key, value);
        }
        match &self.daemon {
            Some(daemon) => command.env("BRAIN_SERVER", daemon.url("")),
            None => command.env_remove("BRAIN_SERVER"),
        };
        command
    }

    /// From now on, run commands through a `brain serve` of this studio.
    pub fn through_daemon(&mut self) {
        self.daemon = Some(self.start_daemon());
    }

    /// A `brain serve` of this studio, with the studio's environment.
    pub fn start_daemon(&self) -> crate::support::Daemon {
        let mut envs: Vec<(&str, &str)> = self
            .envs
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        if let Some(url) = self.database_url.as_deref() {
            envs.push(("BRAIN_DATABASE_URL", url));
        }
        crate::support::Daemon::start(self.path(), &[], &envs)
    }

    /// Every backend, each twice: commands on the local store, then through a daemon.
    pub fn all_local_and_remote() -> Vec<Studio> {
        let mut studios = Vec::new();
        for local in Studio::all() {
            let backend = match local.name {
                "postgres" => Backend::Postgres(PgDatabase::create().unwrap()),
                _ => Backend::Sqlite,
            };
            let mut remote = Studio::new(backend, "");
            remote.through_daemon();
            studios.push(local);
            studios.push(remote);
        }
        studios
    }

    /// `sqlite`, `postgres via daemon`, ...
    pub fn label(&self) -> String {
        match &self.daemon {
            Some(_) => format!("{} via daemon", self.name),
            None => self.name.to_string(),
        }
    }

    pub fn run(&self, token: Option<&str>, args: &[&str]) -> Output {
        run(self.command(token).args(args))
    }

    /// Run with `--format json`: the exit code and the JSON printed.
    pub fn json(&self, token: &str, args: &[&str]) -> (i32, Value) {
        let output = self.run(Some(token), &[&["--format", "json"], args].concat());
        let value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("no JSON from {args:?}: {}", self.transcript(&output)));
        (output.status.code().unwrap_or(-1), value)
    }

    /// Like [`Studio::json`] with an optional token, for refusals.
    pub fn run_json(&self, token: Option<&str>, args: &[&str]) -> (i32, Value) {
        let output = self.run(token, &[&["--format", "json"], args].concat());
        let value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("no JSON from {args:?}: {}", self.transcript(&output)));
        (output.status.code().unwrap_or(-1), value)
    }

    /// Add an actor and return its token.
    pub fn add(&self, id: &str) -> String {
        let (code, issued) = self.json(&self.admin, &["actor", "add", id]);
        assert_eq!(code, 0, "{issued}");
        issued["token"].as_str().unwrap().to_string()
    }

    /// Propose `capability` with `input` as the holder of `token`; the new proposal's id.
    pub fn propose(&self, token: &str, capability: &str, input: &str) -> String {
        let (code, view) = self.json(
            token,
            &[
                "propose",
                capability,
                "--input",
                input,
                "--rationale",
                "scenario",
            ],
        );
        assert_eq!(code, 0, "{view}");
        view["id"].as_str().unwrap().to_string()
    }

    /// Exit code, stdout and stderr, with everything that differs between runs replaced.
    pub fn transcript(&self, output: &Output) -> String {
        scrub(&crate::support::transcript(output, self.path()))
    }

    /// A transcript of one command, headed by the command line, for scenario snapshots; scrub
    /// the whole scenario at the end (ids are numbered across it).
    pub fn step(&self, who: &str, token: Option<&str>, args: &[&str]) -> String {
        let output = self.run(token, args);
        format!(
            "$ [{who}] brain {}\n{}\n",
            args.join(" "),
            crate::support::transcript(&output, self.path())
        )
    }

    /// The newest audit event.
    pub fn last_event(&self) -> Value {
        let (code, events) = self.json(&self.admin, &["audit", "tail", "-n", "1"]);
        assert_eq!(code, 0, "{events}");
        events[0].clone()
    }

    /// SQL straight into the store, behind brain's back (several statements allowed).
    pub fn sql(&self, statements: &str) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            match &self.database_url {
                Some(url) => {
                    let pool = sqlx::PgPool::connect(url).await.unwrap();
                    sqlx::raw_sql(statements).execute(&pool).await.unwrap();
                    pool.close().await;
                }
                None => {
                    let path = self.path().join("data/brain.db");
                    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
                    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
                    sqlx::raw_sql(statements).execute(&pool).await.unwrap();
                    pool.close().await;
                }
            }
        });
    }
}

pub fn reasons(value: &Value) -> Vec<String> {
    value["error"]["reason_codes"]
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .map(|code| code.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_whole_lifecycle_is_decided_and_audited() {
    // Through a daemon (`--server`), the output is identical: one snapshot for all.
    for studio in Studio::all_local_and_remote() {
        let bob = studio.add("staff:bob");
        let admin = studio.admin.clone();
        let mut text = String::new();
        text += &studio.step(
            "admin",
            Some(&admin),
            &[
                "propose",
                "test.note.draft",
                "--input",
                r#"{"text": "Kiln 2 lid latch is loose"}"#,
                "--rationale",
                "spotted during the morning walk-through",
                "--idempotency-key",
                "note-1",
            ],
        );
        let id = {
            let (_, list) = studio.json(&admin, &["proposals", "list"]);
            list[0]["id"].as_str().unwrap().to_string()
        };
        text += &studio.step("admin", Some(&admin), &["proposals", "list"]);
        text += &studio.step("admin", Some(&admin), &["execute", &id, "--dry-run"]);
        text += &studio.step("admin", Some(&admin), &["approve", &id]);
        text += &studio.step(
            "bob",
            Some(&bob),
            &["approve", &id, "--comment", "checked the latch myself"],
        );
        text += &studio.step("bob", Some(&bob), &["execute", &id, "--dry-run"]);
        text += &studio.step("bob", Some(&bob), &["execute", &id]);
        text += &studio.step("bob", Some(&bob), &["execute", &id]);
        text += &studio.step("admin", Some(&admin), &["rollback", &id]);
        text += &studio.step("admin", Some(&admin), &["proposals", "show", &id]);
        text += &studio.step("admin", Some(&admin), &["audit", "tail", "-n", "30"]);
        text += &studio.step("admin", Some(&admin), &["audit", "verify"]);
        insta::assert_snapshot!("lifecycle", scrub(&text));
        eprintln!("lifecycle on {}: ok", studio.label());
    }
}

/// One refusal: what was run, the exit code, and the reason codes it must name.
struct Refusal<'a> {
    name: &'a str,
    token: Option<&'a str>,
    args: Vec<String>,
    expect: &'a [&'a str],
    /// Whether the refusal leaves an audit event with these reasons.
    audited: bool,
}

fn refusal<'a>(
    name: &'a str,
    token: Option<&'a str>,
    args: &[&str],
    expect: &'a [&'a str],
    audited: bool,
) -> Refusal<'a> {
    Refusal {
        name,
        token,
        args: args.iter().map(|arg| arg.to_string()).collect(),
        expect,
        audited,
    }
}

#[test]
fn every_denial_names_its_reason_and_writes_only_its_audit_event() {
    for studio in Studio::all_local_and_remote() {
        let admin = studio.admin.clone();
        let bob = studio.add("staff:bob");
        let hana = studio.add("human:hana");
        let carol = studio.add("staff:carol");
        let bot = studio.add("agent:bot");
        let scoped = studio.add("agent:scoped");
        let lapsed = studio.add("agent:lapsed");
        let cut = studio.add("agent:cut");
        let run_ok = |token: &str, args: &[&str]| {
            let (code, value) = studio.json(token, args);
            assert_eq!(code, 0, "{args:?}: {value}");
            value
        };
        run_ok(&admin, &["actor", "revoke", "staff:carol"]);
        run_ok(
            &admin,
            &[
                "delegate",
                "--agent",
                "agent:scoped",
                "--owner",
                "staff:bob",
                "--scopes",
                "marketing.*",
                "--expires",
                "7d",
            ],
        );
        run_ok(
            &admin,
            &[
                "delegate",
                "--agent",
                "agent:lapsed",
                "--owner",
                "staff:bob",
                "--scopes",
                "test.note.draft",
                "--expires",
                "1s",
            ],
        );
        let revoked = run_ok(
            &admin,
            &[
                "delegate",
                "--agent",
                "agent:cut",
                "--owner",
                "staff:bob",
                "--scopes",
                "test.note.draft",
                "--expires",
                "7d",
            ],
        );
        run_ok(
            &admin,
            &["delegations", "revoke", revoked["id"].as_str().unwrap()],
        );
        let pending = studio.propose(&admin, "test.note.draft", r#"{"text": "pending"}"#);
        let remote = studio.propose(&admin, "test.remote.write", "{}");
        run_ok(&bob, &["approve", &remote]);
        let rejected = studio.propose(&admin, "test.note.draft", r#"{"text": "to reject"}"#);
        run_ok(&bob, &["reject", &rejected, "--reason", "not needed"]);
        run_ok(
            &admin,
            &[
                "propose",
                "test.note.draft",
                "--input",
                r#"{"text": "keyed"}"#,
                "--rationale",
                "r",
                "--idempotency-key",
                "k-1",
            ],
        );
        // Use up the per-actor quota of test.note.draft (3 executions an hour) as bob.
        for n in 0..3 {
            let id = studio.propose(
                &bob,
                "test.note.draft",
                &format!(r#"{{"text": "quota {n}"}}"#),
            );
            run_ok(&admin, &["approve", &id]);
            run_ok(&admin, &["execute", &id]);
        }
        std::thread::sleep(std::time::Duration::from_millis(1_100)); // agent:lapsed's delegation ends

        let refusals = vec![
            refusal(
                "no token",
                None,
                &["proposals", "list"],
                &["UNAUTHENTICATED"],
                false,
            ),
            refusal(
                "unknown token",
                Some("brn_0000"),
                &["proposals", "list"],
                &["UNAUTHENTICATED"],
                false,
            ),
            refusal(
                "revoked actor",
                Some(&carol),
                &["proposals", "list"],
                &["ACTOR_REVOKED"],
                true,
            ),
            refusal(
                "unknown capability",
                Some(&admin),
                &[
                    "propose",
                    "test.note.drafts",
                    "--input",
                    "{}",
                    "--rationale",
                    "r",
                ],
                &["UNKNOWN_CAPABILITY"],
                true,
            ),
            refusal(
                "input fails the schema",
                Some(&admin),
                &[
                    "propose",
                    "test.note.draft",
                    "--input",
                    r#"{"txt": 1}"#,
                    "--rationale",
                    "r",
                ],
                &["INPUT_INVALID"],
                true,
            ),
            refusal(
                "input is not JSON",
                Some(&admin),
                &[
                    "propose",
                    "test.note.draft",
                    "--input",
                    "{nope",
                    "--rationale",
                    "r",
                ],
                &["INPUT_INVALID"],
                false,
            ),
            refusal(
                "unknown proposal",
                Some(&bob),
                &["approve", "p_000000000000"],
                &["NOT_FOUND"],
                true,
            ),
            refusal(
                "default deny",
                Some(&hana),
                &[
                    "propose",
                    "test.critical.draft",
                    "--input",
                    "{}",
                    "--rationale",
                    "r",
                ],
                &["NO_PERMIT"],
                true,
            ),
            refusal(
                "approver type",
                Some(&hana),
                &["approve", &pending],
                &["APPROVER_NOT_ALLOWED"],
                true,
            ),
            refusal(
                "self-approval",
                Some(&admin),
                &["approve", &pending],
                &["SELF_APPROVAL_FORBIDDEN"],
                true,
            ),
            refusal(
                "execute before approval",
                Some(&bob),
                &["execute", &pending],
                &["APPROVAL_REQUIRED"],
                true,
            ),
            refusal(
                "disabled capability",
                Some(&admin),
                &[
                    "propose",
                    "test.disabled.draft",
                    "--input",
                    "{}",
                    "--rationale",
                    "r",
                ],
                &["CAPABILITY_DISABLED"],
                true,
            ),
            refusal(
                "physical write",
                Some(&admin),
                &[
                    "propose",
                    "test.vacuum.start",
                    "--input",
                    "{}",
                    "--rationale",
                    "r",
                ],
                &["READ_ONLY_TARGET"],
                true,
            ),
            refusal(
                "stale state",
                Some(&admin),
                &[
                    "propose",
                    "firestore.ops_note.append",
                    "--input",
                    r#"{"text": "Kiln 2 lid latch is loose"}"#,
                    "--rationale",
                    "r",
                ],
                &["SNAPSHOT_STALE"],
                true,
            ),
            refusal(
                "quota",
                Some(&bob),
                &[
                    "propose",
                    "test.note.draft",
                    "--input",
                    r#"{"text": "one more"}"#,
                    "--rationale",
                    "r",
                ],
                &["QUOTA_EXCEEDED"],
                true,
            ),
            refusal(
                "agent without delegation",
                Some(&bot),
                &[
                    "propose",
                    "marketing.post.draft",
                    "--input",
                    r#"{"channel": "website", "body": "b"}"#,
                    "--rationale",
                    "r",
                ],
                &["DELEGATION_MISSING"],
                true,
            ),
            refusal(
                "agent out of scope",
                Some(&scoped),
                &[
                    "propose",
                    "test.note.draft",
                    "--input",
                    r#"{"text": "t"}"#,
                    "--rationale",
                    "r",
                ],
                &["DELEGATION_SCOPE"],
                true,
            ),
            refusal(
                "agent's delegation expired",
                Some(&lapsed),
                &[
                    "propose",
                    "test.note.draft",
                    "--input",
                    r#"{"text": "t"}"#,
                    "--rationale",
                    "r",
                ],
                &["DELEGATION_EXPIRED"],
                true,
            ),
            refusal(
                "agent's delegation revoked",
                Some(&cut),
                &[
                    "propose",
                    "test.note.draft",
                    "--input",
                    r#"{"text": "t"}"#,
                    "--rationale",
                    "r",
                ],
                &["DELEGATION_REVOKED"],
                true,
            ),
            refusal(
                "agent for another owner",
                Some(&scoped),
                &[
                    "propose",
                    "marketing.post.draft",
                    "--input",
                    r#"{"channel": "website", "body": "b"}"#,
                    "--rationale",
                    "r",
                    "--owner",
                    "staff:admin",
                ],
                &["OWNER_MISMATCH"],
                true,
            ),
            refusal(
                "wrong state",
                Some(&bob),
                &["approve", &rejected],
                &["INVALID_STATE"],
                true,
            ),
            refusal(
                "idempotency key reused",
                Some(&admin),
                &[
                    "propose",
                    "test.note.draft",
                    "--input",
                    r#"{"text": "other"}"#,
                    "--rationale",
                    "r",
                    "--idempotency-key",
                    "k-1",
                ],
                &["IDEMPOTENCY_CONFLICT"],
                true,
            ),
            refusal(
                "target not configured",
                Some(&bob),
                &["execute", &remote],
                &["TARGET_NOT_CONFIGURED"],
                true,
            ),
        ];
        let mut text = String::new();
        for case in &refusals {
            let args: Vec<&str> = case.args.iter().map(String::as_str).collect();
            let before = studio.last_event();
            let proposals_before = studio
                .json(&admin, &["proposals", "list", "--limit", "500"])
                .1;
            let (code, value) = studio.run_json(case.token, &args);
            assert_eq!(code, 1, "{} on {}: {value}", case.name, studio.label());
            let got = reasons(&value);
            for expected in case.expect {
                assert!(
                    got.iter().any(|code| code == expected),
                    "{} on {}: {got:?} in {value}",
                    case.name,
                    studio.label()
                );
            }
            let after = studio.last_event();
            if case.audited {
                assert_ne!(
                    after["seq"], before["seq"],
                    "{}: the refusal is audited",
                    case.name
                );
                assert_eq!(
                    after["decision"]
                        .as_str()
                        .map(|d| d == "deny" || d == "error"),
                    Some(true),
                    "{}: {after}",
                    case.name
                );
                for expected in case.expect {
                    assert!(
                        after["reason_codes"].to_string().contains(expected),
                        "{}: {after}",
                        case.name
                    );
                }
                assert_eq!(
                    after["seq"].as_i64().unwrap(),
                    before["seq"].as_i64().unwrap() + 1,
                    "{}: exactly one event",
                    case.name
                );
            } else {
                assert_eq!(
                    after["seq"], before["seq"],
                    "{}: nothing is written",
                    case.name
                );
            }
            let proposals_after = studio
                .json(&admin, &["proposals", "list", "--limit", "500"])
                .1;
            assert_eq!(
                strip_volatile(&proposals_before),
                strip_volatile(&proposals_after),
                "{}: no proposal changed",
                case.name
            );
            let output = studio.run(case.token, &args);
            text += &format!(
                "## {}\n$ brain {}\n{}\n",
                case.name,
                args.join(" "),
                crate::support::transcript(&output, studio.path())
            );
        }
        insta::assert_snapshot!("denials", scrub(&text));
    }
}

/// A proposal list without what moves with the clock.
fn strip_volatile(list: &Value) -> Value {
    let mut list = list.clone();
    if let Some(items) = list.as_array_mut() {
        for item in items {
            if let Some(object) = item.as_object_mut() {
                object.remove("seconds_left");
            }
        }
    }
    list
}

#[test]
fn two_person_rule_needs_distinct_approvers_other_than_the_proposer() {
    for studio in Studio::all() {
        let admin = studio.admin.clone();
        let bob = studio.add("staff:bob");
        let dana = studio.add("staff:dana");
        let id = studio.propose(
            &admin,
            "test.critical.draft",
            r#"{"kiln": 2, "move_to": "friday"}"#,
        );
        let mut text = String::new();
        text += &studio.step("admin", Some(&admin), &["approve", &id]);
        text += &studio.step("bob", Some(&bob), &["approve", &id]);
        text += &studio.step("bob", Some(&bob), &["approve", &id]);
        text += &studio.step("bob", Some(&bob), &["execute", &id]);
        text += &studio.step(
            "dana",
            Some(&dana),
            &["approve", &id, "--comment", "second pair of eyes"],
        );
        text += &studio.step("dana", Some(&dana), &["execute", &id]);
        insta::assert_snapshot!("two_person_rule", scrub(&text));
        let (_, view) = studio.json(&admin, &["proposals", "show", &id]);
        assert_eq!(view["state"], "succeeded");
        assert_eq!(view["valid_approvals"], 2);
    }
}

#[test]
fn exemptions_in_force_stand_in_for_approvals_until_they_expire_or_are_revoked() {
    for studio in Studio::all() {
        let admin = studio.admin.clone();
        let bob = studio.add("staff:bob");
        // A declared exemption that ended yesterday never applies.
        std::fs::create_dir_all(studio.path().join("capabilities/exemptions")).unwrap();
        std::fs::write(
            studio.path().join("capabilities/exemptions/old-window.yaml"),
            "capability: test.note.draft\nstarts: 2026-01-01T00:00:00Z\nexpires: 2026-01-02T00:00:00Z\njustification: The January kiln outage needed fast notes.\nrequested_by: staff:bob\napproved_by: staff:admin\n",
        )
        .unwrap();
        let mut text = String::new();
        let propose = |text: &str| {
            studio.propose(&bob, "test.note.draft", &format!(r#"{{"text": "{text}"}}"#))
        };

        let before = propose("no exemption yet");
        text += &studio.step("bob", Some(&bob), &["execute", &before]);
        text += &studio.step(
            "bob",
            Some(&bob),
            &[
                "exempt",
                "--capability",
                "test.note.draft",
                "--expires",
                "1h",
                "--justification",
                "Kiln outage: notes must go out fast",
                "--requested-by",
                "staff:bob",
            ],
        );
        let (code, granted) = studio.json(
            &admin,
            &[
                "exempt",
                "--capability",
                "test.note.draft",
                "--expires",
                "1h",
                "--justification",
                "Kiln outage: notes must go out fast",
                "--requested-by",
                "staff:bob",
            ],
        );
        assert_eq!(code, 0, "{granted}");
        assert_eq!(granted["in_force"], true);
        let exemption = granted["id"].as_str().unwrap().to_string();
        text += &studio.step("bob", Some(&bob), &["exemptions", "list"]);
        let during = propose("under the exemption");
        text += &studio.step("bob", Some(&bob), &["execute", &during]);
        text += &studio.step(
            "admin",
            Some(&admin),
            &["exemptions", "revoke", &exemption, "--reason", "kiln fixed"],
        );
        let after = propose("after the revocation");
        text += &studio.step("bob", Some(&bob), &["execute", &after]);

        // A runtime exemption that runs out.
        let (code, short) = studio.json(
            &admin,
            &[
                "exempt",
                "--capability",
                "test.note.draft",
                "--expires",
                "1s",
                "--justification",
                "One second of grace for the test",
                "--requested-by",
                "staff:bob",
            ],
        );
        assert_eq!(code, 0, "{short}");
        std::thread::sleep(std::time::Duration::from_millis(1_200));
        let lapsed = propose("after the exemption ran out");
        text += &studio.step("bob", Some(&bob), &["execute", &lapsed]);
        text += &studio.step("bob", Some(&bob), &["exemptions", "list"]);
        insta::assert_snapshot!("exemptions", scrub(&text));

        let state = |id: &str| studio.json(&admin, &["proposals", "show", id]).1["state"].clone();
        assert_eq!(state(&before), "pending_approval");
        assert_eq!(state(&during), "succeeded");
        assert_eq!(state(&after), "pending_approval");
        assert_eq!(state(&lapsed), "pending_approval");
    }
}

#[test]
fn proposals_and_approvals_expire() {
    for backend in backends() {
        let studio = Studio::new(backend, "  proposal_expires_after: 2s\n");
        let admin = studio.admin.clone();
        let bob = studio.add("staff:bob");
        let quick = studio.propose(&admin, "test.quick.draft", "{}");
        let (code, _) = studio.json(&bob, &["approve", &quick]);
        assert_eq!(code, 0);
        let stale = studio.propose(&admin, "test.note.draft", r#"{"text": "waits too long"}"#);
        std::thread::sleep(std::time::Duration::from_millis(1_200));
        let mut text = studio.step("bob", Some(&bob), &["execute", &quick]);
        std::thread::sleep(std::time::Duration::from_millis(1_000));
        text += &studio.step("bob", Some(&bob), &["approve", &stale]);
        text += &studio.step("bob", Some(&bob), &["proposals", "list"]);
        insta::assert_snapshot!("expiry", scrub(&text));
        let (_, view) = studio.json(&admin, &["proposals", "show", &stale]);
        assert_eq!(view["state"], "expired");
        let (_, events) = studio.json(&admin, &["audit", "tail", "--actor", "system:clock"]);
        assert_eq!(
            events.as_array().map(Vec::len),
            Some(2),
            "both expiries are audited: {events}"
        );
    }
}

/// Every backend available here, for scenarios that need their own config.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if let Some(database) = PgDatabase::create() {
        all.push(Backend::Postgres(database));
    }
    all
}

/// Approve `count` fresh proposals of test.note.draft by distinct proposers (so no quota
/// interferes) and return their ids.
fn approved_proposals(studio: &Studio, count: usize, approver: &str) -> Vec<String> {
    (0..count)
        .map(|n| {
            let proposer = studio.add(&format!("staff:p{n}"));
            let id = studio.propose(
                &proposer,
                "test.note.draft",
                &format!(r#"{{"text": "note {n}"}}"#),
            );
            let (code, view) = studio.json(approver, &["approve", &id]);
            assert_eq!(code, 0, "{view}");
            id
        })
        .collect()
}

#[test]
fn a_kill_switch_flipped_by_another_process_stops_executions_at_once() {
    for studio in Studio::all() {
        let admin = studio.admin.clone();
        let bob = studio.add("staff:bob");
        let hana = studio.add("human:hana");
        let ids = approved_proposals(&studio, 12, &bob);

        // Only staff flip switches, and a switch needs a reason.
        let mut text = studio.step(
            "hana",
            Some(&hana),
            &["kill-switch", "on", "--reason", "smoke in the kiln room"],
        );
        text += &studio.step(
            "admin",
            Some(&admin),
            &["kill-switch", "on", "nonsense", "--reason", "x"],
        );

        // Executions race one process turning the global switch on.
        let executors: Vec<std::process::Child> = ids
            .iter()
            .map(|id| {
                studio
                    .command(Some(&bob))
                    .args(["--format", "json", "execute", id])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(150));
        let (code, switch) = studio.json(
            &admin,
            &["kill-switch", "on", "--reason", "smoke in the kiln room"],
        );
        assert_eq!(code, 0, "{switch}");
        for mut child in executors {
            child.wait().unwrap();
        }
        let (_, events) = studio.json(&admin, &["audit", "tail", "-n", "500"]);
        let events = events.as_array().unwrap().clone();
        let switched_at = events
            .iter()
            .find(|event| event["action"] == "set_kill_switch" && event["decision"] == "allow")
            .and_then(|event| event["seq"].as_i64())
            .expect("the switch is audited");
        let mut executed = 0;
        for event in events.iter().filter(|event| event["action"] == "execute") {
            let seq = event["seq"].as_i64().unwrap();
            if event["decision"] == "allow" {
                executed += 1;
                assert!(
                    seq < switched_at,
                    "execution {seq} was allowed after the switch ({switched_at}) went on"
                );
            } else if seq > switched_at {
                assert!(
                    event["reason_codes"]
                        .to_string()
                        .contains("KILL_SWITCH_ACTIVE"),
                    "{event}"
                );
            }
        }
        let (_, succeeded) = studio.json(&admin, &["proposals", "list", "--state", "succeeded"]);
        assert_eq!(
            succeeded.as_array().unwrap().len(),
            executed,
            "every allowed execution and no other succeeded"
        );

        // While it is on, nothing executes; off again, the rest go through.
        let (_, approved) = studio.json(&admin, &["proposals", "list", "--state", "approved"]);
        let remaining: Vec<String> = approved
            .as_array()
            .unwrap()
            .iter()
            .map(|view| view["id"].as_str().unwrap().to_string())
            .collect();
        if let Some(first) = remaining.first() {
            let (code, value) = studio.json(&bob, &["execute", first]);
            assert_eq!(code, 1);
            assert_eq!(reasons(&value), vec!["KILL_SWITCH_ACTIVE"]);
        }
        text += &studio.step(
            "bob",
            Some(&bob),
            &[
                "propose",
                "test.note.draft",
                "--input",
                r#"{"text": "during"}"#,
                "--rationale",
                "r",
            ],
        );
        text += &studio.step("admin", Some(&admin), &["kill-switch", "status"]);
        text += &studio.step(
            "admin",
            Some(&admin),
            &["kill-switch", "off", "--reason", "all clear"],
        );
        for id in &remaining {
            let (code, value) = studio.json(&bob, &["execute", id]);
            assert_eq!(code, 0, "{value}");
        }
        // A target switch stops its target only.
        text += &studio.step(
            "admin",
            Some(&admin),
            &[
                "kill-switch",
                "on",
                "target:brain",
                "--reason",
                "pause brain-side effects",
            ],
        );
        text += &studio.step(
            "bob",
            Some(&bob),
            &[
                "propose",
                "test.note.draft",
                "--input",
                r#"{"text": "paused"}"#,
                "--rationale",
                "r",
            ],
        );
        insta::assert_snapshot!("kill_switch", scrub(&text));
    }
}

#[test]
fn fifty_concurrent_executes_of_one_proposal_execute_it_exactly_once() {
    for studio in Studio::all() {
        let bob = studio.add("staff:bob");
        let id = approved_proposals(&studio, 1, &bob).remove(0);
        let children: Vec<std::process::Child> = (0..50)
            .map(|_| {
                studio
                    .command(Some(&bob))
                    .args(["--format", "json", "execute", &id])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut succeeded = 0;
        for child in children {
            let output = child.wait_with_output().unwrap();
            match output.status.code() {
                Some(0) => succeeded += 1,
                Some(1) => {
                    let value: Value = serde_json::from_slice(&output.stdout).unwrap();
                    assert_eq!(reasons(&value), vec!["INVALID_STATE"], "{value}");
                }
                other => panic!(
                    "execute exited with {other:?}: {}",
                    String::from_utf8_lossy(&output.stdout)
                ),
            }
        }
        assert_eq!(
            succeeded, 1,
            "{}: exactly one execute succeeds",
            studio.name
        );
        let (_, events) = studio.json(
            &studio.admin,
            &["audit", "tail", "-n", "500", "--proposal", &id],
        );
        let outcomes = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|event| event["action"] == "execute" && event["decision"] == "allow")
            .count();
        assert_eq!(
            outcomes, 1,
            "{}: one allowed execution in the audit log",
            studio.name
        );
        let (code, verified) = studio.json(&studio.admin, &["audit", "verify"]);
        assert_eq!(code, 0, "{verified}");
    }
}

/// SQL that lets an attacker with database access change the audit table.
fn drop_audit_triggers(studio: &Studio) -> &'static str {
    if studio.name == "postgres" {
        "DROP TRIGGER audit_events_no_update_delete ON audit_events;"
    } else {
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
    }
}

#[test]
fn audit_tampering_behind_brains_back_is_named_by_its_first_bad_sequence_number() {
    let cases: &[(&str, &str, i64)] = &[
        ("update", "UPDATE audit_events SET actor = 'staff:mallory' WHERE seq = 5;", 5),
        ("delete in the middle", "DELETE FROM audit_events WHERE seq = 4;", 4),
        ("delete the tail", "DELETE FROM audit_events WHERE seq > 10;", 11),
        (
            "delete the tail and rewrite the head",
            "DELETE FROM audit_events WHERE seq > 10;
             UPDATE audit_head SET seq = 10, hash = (SELECT hash FROM audit_events WHERE seq = 10);",
            11,
        ),
        (
            "insert a forged event",
            "INSERT INTO audit_events (seq, at, actor, action, capability, proposal_id, decision, reason_codes, policy_ids, policy_set_hash, input_hash, output_hash, detail, prev_hash, hash)
             SELECT seq + 1, at, 'staff:mallory', action, capability, proposal_id, 'allow', reason_codes, policy_ids, policy_set_hash, input_hash, output_hash, detail, hash, CASE WHEN substr(hash, 1, 1) = 'f' THEN 'e' ELSE 'f' END || substr(hash, 2)
             FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events);
             UPDATE audit_head SET seq = seq + 1;",
            13,
        ),
        (
            "reorder two events",
            "UPDATE audit_events SET seq = -1 WHERE seq = 6; UPDATE audit_events SET seq = 6 WHERE seq = 7; UPDATE audit_events SET seq = 7 WHERE seq = -1;",
            6,
        ),
    ];
    for backend in backends() {
        let mut text = String::new();
        for (name, tamper, first_bad) in cases {
            let studio = Studio::new(
                match &backend {
                    Backend::Sqlite => Backend::Sqlite,
                    Backend::Postgres(_) => Backend::Postgres(PgDatabase::create().unwrap()),
                },
                "audit:\n  checkpoint_every: 4\n",
            );
            let bob = studio.add("staff:bob");
            for id in approved_proposals(&studio, 2, &bob) {
                let (code, _) = studio.json(&bob, &["execute", &id]);
                assert_eq!(code, 0);
            }
            let (code, clean) = studio.json(&studio.admin, &["audit", "verify"]);
            assert_eq!(code, 0, "{clean}");
            assert_eq!(clean["head_seq"], 12, "the scenario writes twelve events");
            assert_eq!(clean["checkpoints"], 3, "{clean}");

            studio.sql(&format!("{}\n{tamper}", drop_audit_triggers(&studio)));
            let (code, report) = studio.json(&studio.admin, &["audit", "verify"]);
            assert_eq!(code, 1, "{name} on {}: {report}", studio.name);
            assert_eq!(report["ok"], false);
            assert_eq!(
                report["first_bad_seq"], *first_bad,
                "{name} on {}: {report}",
                studio.name
            );
            text += &format!(
                "## {name}\n{}",
                studio.step("admin", Some(&studio.admin), &["audit", "verify"])
            );
        }
        insta::assert_snapshot!("audit_tampering", scrub(&text));
    }
}

#[test]
fn export_bundles_verify_offline_and_name_tampering() {
    for studio in Studio::all() {
        let bob = studio.add("staff:bob");
        for id in approved_proposals(&studio, 2, &bob) {
            assert_eq!(studio.json(&bob, &["execute", &id]).0, 0);
        }
        let (code, verified) = studio.json(&studio.admin, &["audit", "verify"]);
        assert_eq!(code, 0);
        let public_key = verified["public_key"].as_str().unwrap().to_string();
        let head = verified["head_seq"].as_i64().unwrap();

        let (code, export) = studio.json(&studio.admin, &["audit", "export", "--out", "bundle"]);
        assert_eq!(code, 0, "{export}");
        let bundle = studio.path().join("bundle");
        for file in ["events.jsonl", "manifest.json"] {
            assert!(bundle.join(file).is_file(), "{file} in {export}");
        }
        // Exporting is itself audited, after the events it exported.
        assert_eq!(studio.last_event()["action"], "audit");

        let (code, report) = studio.json(
            &studio.admin,
            &[
                "audit",
                "verify",
                "--bundle",
                "bundle",
                "--public-key",
                &public_key,
            ],
        );
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["head_seq"], head);
        // Offline: the bundle verifies with no store and no token at all.
        let offline = studio.run(
            None,
            &["--format", "json", "audit", "verify", "--bundle", "bundle"],
        );
        assert_eq!(
            offline.status.code(),
            Some(0),
            "{}",
            studio.transcript(&offline)
        );

        let wrong_key = "0".repeat(64);
        let (code, report) = studio.json(
            &studio.admin,
            &[
                "audit",
                "verify",
                "--bundle",
                "bundle",
                "--public-key",
                &wrong_key,
            ],
        );
        assert_eq!(
            code, 1,
            "a bundle signed by another key is refused: {report}"
        );

        let (code, partial) = studio.json(
            &studio.admin,
            &["audit", "export", "--out", "partial", "--since", "5"],
        );
        assert_eq!(code, 0, "{partial}");
        let (code, report) =
            studio.json(&studio.admin, &["audit", "verify", "--bundle", "partial"]);
        assert_eq!(code, 0, "{report}");

        // Change one event in the bundle: verify names it.
        let events_path = bundle.join("events.jsonl");
        let events = std::fs::read_to_string(&events_path).unwrap();
        let tampered = events.replacen("\"actor\":\"staff:bob\"", "\"actor\":\"staff:mallory\"", 1);
        assert_ne!(events, tampered);
        std::fs::write(&events_path, tampered).unwrap();
        let output = studio.run(None, &["audit", "verify", "--bundle", "bundle"]);
        assert_eq!(output.status.code(), Some(1));
        insta::assert_snapshot!("bundle_tampered", studio.transcript(&output));

        let refused = studio.run(Some(&studio.admin), &["audit", "export", "--out", "bundle"]);
        assert_eq!(
            refused.status.code(),
            Some(1),
            "an existing directory is never overwritten: {}",
            studio.transcript(&refused)
        );
    }
}

#[test]
fn the_daemon_signs_a_checkpoint_of_the_chain_head_on_shutdown() {
    for studio in Studio::all() {
        let bob = studio.add("staff:bob");
        approved_proposals(&studio, 1, &bob);
        let (_, before) = studio.json(&studio.admin, &["audit", "verify"]);
        assert_eq!(before["checkpoints"], 0, "{before}");
        let envs: Vec<(&str, &str)> = studio
            .database_url
            .as_deref()
            .map(|url| vec![("BRAIN_DATABASE_URL", url)])
            .unwrap_or_default();
        let daemon = crate::support::Daemon::start(studio.path(), &[], &envs);
        let (status, logs) = daemon.terminate_with_logs();
        assert_eq!(status.code(), Some(0), "{logs}");
        let (code, after) = studio.json(&studio.admin, &["audit", "verify"]);
        assert_eq!(code, 0, "{after}");
        assert_eq!(after["checkpoints"], 1, "{after}\n{logs}");
        assert_eq!(
            after["latest_checkpoint"], after["head_seq"],
            "{after}\n{logs}"
        );
    }
}
