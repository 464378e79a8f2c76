//! Resilience drills (`brain drill`): each scenario runs against a sandbox the drill builds
//! itself, so a drill never touches the studio's data; only its outcome is recorded in the
//! studio's audit log.
//!
//! Four scenarios run in-process against a sandbox brain (a new SQLite store in a temporary
//! directory, the studio's policy set plus one drill capability, a new signing key):
//! `kill-switch`, `token-compromise`, `delegation-revocation-race`, `local-db-corruption`.
//! `connector-timeout-storm` runs in-process too, against the device simulators
//! (`connector_storm.rs`). `store-outage` and `leader-loss` run real `brain serve` processes
//! (this binary) on a PostgreSQL database the drill creates on the server `--database-url`
//! names, or on the studio's own Postgres server, and drops afterwards (`daemons.rs`): the
//! outage is the server refusing and ending the daemon's connections, the leader loss a
//! `kill -9`. They need PostgreSQL: SQLite is one daemon per file, and a SQLite file cannot be
//! taken away from a process that holds it open (see `store_outage.rs`), so on a SQLite studio
//! without `--database-url` they fail with that fix instead of passing without proof.
//!
//! What a drill killed with `kill -9` leaves behind (a sandbox directory, a scratch database)
//! is removed by a later drill (`leftovers.rs`).
//!
//! A scenario returns its checks (each passed or not, with what was seen) and, where it has one,
//! how long recovery took.

mod connector_storm;
mod daemons;
mod leader_loss;
mod leftovers;
mod store_outage;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use crate::audit::AuditEvent;
use crate::audit::checkpoint::AuditSigner;
use crate::config::LoadedConfig;
use crate::engine::{
    Caller, Engine, EngineError, EngineSettings, Executors, PolicyBundle, ProposeRequest,
};
use crate::store::{AuditFilter, Store, StoreTarget};

/// A scenario brain can run.
pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "kill-switch",
        summary: "`global` turned on while executions are in flight: nothing executes after the switch committed; turning it off lets approved work run again",
    },
    Scenario {
        name: "token-compromise",
        summary: "a staff token revoked: every request made with it is refused at once",
    },
    Scenario {
        name: "delegation-revocation-race",
        summary: "a delegation revoked while its agent keeps proposing and executing: nothing the agent does after the revocation committed is allowed",
    },
    Scenario {
        name: "local-db-corruption",
        summary: "the local store destroyed: a rebuild from the newest backup restores it and the audit chain verifies",
    },
    Scenario {
        name: "store-outage",
        summary: "the database goes away under traffic (PostgreSQL): every decision is refused, /readyz 503; it comes back: brain recovers by itself, nothing half-written",
    },
    Scenario {
        name: "leader-loss",
        summary: "the leading daemon of two is killed with kill -9 (PostgreSQL): the other takes over within 15 s, no scheduled job runs twice",
    },
    Scenario {
        name: "connector-timeout-storm",
        summary: "every device times out: breakers open, requests stay within budget, the cockpit shows degraded; devices answer: connectors recover",
    },
];

/// What a drill may need beyond the studio: the PostgreSQL server the daemon drills create
/// their database on (else the studio's own, when it is Postgres).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub database_url: Option<String>,
}

/// One check of a drill.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// A drill's report.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub scenario: String,
    pub started_at: String,
    pub finished_at: String,
    /// `passed` when every check passed.
    pub outcome: &'static str,
    pub recovery_seconds: Option<f64>,
    pub checks: Vec<Check>,
}

impl DrillReport {
    pub fn passed(&self) -> bool {
        self.outcome == "passed"
    }
}

/// The capability the sandbox adds to the studio's policy set, for work to stop and start.
const DRILL_CAPABILITY: &str = "id: drill.note.draft
title: A drill's note (sandbox only)
owner: staff:drill-lead
risk_tier: low
mode: draft
target: brain
class: internal
approval: { required: 1, approver_types: [staff], valid_for: 1h }
limits:
  - { per: actor, max: 10000, window: 1h }
failure_mode: Nothing outside the sandbox exists.
rollback: { strategy: discard_draft, how: The sandbox is deleted with its drill. }
input_schema: { type: object }
";

const DRILL_CAPABILITY_ID: &str = "drill.note.draft";

/// A sandbox brain: its own store in a temporary directory (removed when dropped).
pub struct Sandbox {
    pub dir: PathBuf,
    pub engine: Arc<Engine>,
    pub lead: Caller,
    pub approver: Caller,
    signer: Arc<AuditSigner>,
    bundle: Arc<PolicyBundle>,
    settings: EngineSettings,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn problem(message: impl Into<String>) -> EngineError {
    EngineError::invalid(
        message,
        "the drill could not build its sandbox; check the studio's policy set with `brain lint`",
    )
}

async fn open_store(path: &std::path::Path) -> Result<Arc<dyn Store>, EngineError> {
    crate::store::open_and_migrate(&StoreTarget::Sqlite(path.to_path_buf()))
        .await
        .map_err(EngineError::from)
}

impl Sandbox {
    /// A sandbox with the studio's policy set, a lead (`staff:drill-lead`) and an approver.
    pub async fn build(studio: &LoadedConfig) -> Result<Self, EngineError> {
        let mut bundle = PolicyBundle::load(studio).map_err(|error| problem(error.to_string()))?;
        let parsed = crate::capability::parse_manifest(crate::diagnostic::SourceFile::new(
            "drill.note.draft.yaml",
            DRILL_CAPABILITY,
        ));
        let manifest = parsed
            .value
            .ok_or_else(|| problem("the drill capability does not parse"))?;
        bundle.manifests.insert(manifest.id.clone(), manifest);
        let dir = leftovers::new_directory()?;
        std::fs::create_dir_all(&dir)
            .map_err(|error| problem(format!("cannot create `{}`: {error}", dir.display())))?;
        let store = open_store(&dir.join("brain.db")).await?;
        let signer = Arc::new(AuditSigner::generate().map_err(problem)?);
        let bundle = Arc::new(bundle);
        let settings = EngineSettings::from_config(studio);
        let engine = Arc::new(Engine::new(
            store,
            bundle.clone(),
            settings.clone(),
            signer.clone(),
            Executors::new(),
        ));
        let issued = engine.bootstrap_admin("drill-lead").await?;
        let lead = engine.authenticate(&issued.token).await?;
        let issued = engine
            .add_actor(&lead, "staff:drill-approver", None)
            .await?;
        let approver = engine.authenticate(&issued.token).await?;
        Ok(Self {
            dir,
            engine,
            lead,
            approver,
            signer,
            bundle,
            settings,
        })
    }

    /// A proposal of the drill capability by `caller`, approved by the approver.
    async fn approved(&self, text: &str) -> Result<String, EngineError> {
        let proposal = self.propose(&self.lead, text).await?;
        self.engine.approve(&self.approver, &proposal, None).await?;
        Ok(proposal)
    }

    async fn propose(&self, caller: &Caller, text: &str) -> Result<String, EngineError> {
        Ok(self
            .engine
            .propose(
                caller,
                &ProposeRequest {
                    capability: DRILL_CAPABILITY_ID.into(),
                    input: serde_json::json!({ "text": text }),
                    rationale: format!("drill: {text}"),
                    idempotency_key: None,
                    owner: Some(self.lead.id.clone()),
                    draft: false,
                    swarm: None,
                },
            )
            .await?
            .proposal
            .id)
    }

    /// Every event of the sandbox's log, oldest first.
    async fn events(&self) -> Result<Vec<AuditEvent>, EngineError> {
        let mut events = self
            .engine
            .store()
            .audit_filtered(&AuditFilter {
                limit: 100_000,
                ..AuditFilter::default()
            })
            .await?;
        events.sort_by_key(|event| event.seq);
        Ok(events)
    }

    async fn chain_verifies(&self) -> Check {
        match self.engine.audit_verify(&self.lead).await {
            Ok(verification) => check(
                "the audit chain verifies",
                verification.report.ok,
                format!(
                    "{} events, {} problem(s)",
                    verification.report.events,
                    verification.report.problems.len()
                ),
            ),
            Err(error) => check("the audit chain verifies", false, error.to_string()),
        }
    }
}

/// The event at `seq`, if the store has it.
async fn event_at(store: &dyn Store, seq: i64) -> Result<Option<AuditEvent>, EngineError> {
    Ok(store
        .audit_events(seq - 1, 1)
        .await?
        .into_iter()
        .find(|event| event.seq == seq))
}

fn check(name: &str, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        passed,
        detail: detail.into(),
    }
}

fn reasons(error: &EngineError) -> Vec<String> {
    crate::engine::ErrorBody::from_error(error, false).reason_codes
}

/// Run `scenario` in a new sandbox built from `studio`'s policy set.
pub async fn run(
    scenario: &str,
    studio: &LoadedConfig,
    options: &Options,
) -> Result<DrillReport, EngineError> {
    if !SCENARIOS.iter().any(|known| known.name == scenario) {
        return Err(EngineError::invalid(
            format!("no drill named `{scenario}`"),
            format!(
                "`brain drill list` lists them: {}",
                SCENARIOS
                    .iter()
                    .map(|known| known.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    // Refuse a daemon drill without a server before anything is built.
    let server = match scenario {
        "store-outage" | "leader-loss" => Some(daemons::postgres_server(
            scenario,
            studio,
            options.database_url.as_deref(),
        )?),
        _ => None,
    };
    let started_at = crate::clock::format_time(crate::clock::now());
    let (mut checks, recovery) = match (scenario, server) {
        ("store-outage", Some(server)) => boxed(store_outage::run(studio, server)).await?,
        ("leader-loss", Some(server)) => boxed(leader_loss::run(studio, server)).await?,
        ("connector-timeout-storm", _) => boxed(connector_storm::run()).await?,
        _ => boxed(in_process(scenario, studio)).await?,
    };
    if checks.is_empty() {
        checks.push(check("the drill ran", false, "no check was made"));
    }
    let passed = checks.iter().all(|check| check.passed);
    Ok(DrillReport {
        scenario: scenario.to_string(),
        started_at,
        finished_at: crate::clock::format_time(crate::clock::now()),
        outcome: if passed { "passed" } else { "failed" },
        recovery_seconds: recovery,
        checks,
    })
}

type Outcome = Result<(Vec<Check>, Option<f64>), EngineError>;

/// A scenario's future, boxed so each is checked to be `Send` on its own.
fn boxed<'a>(
    future: impl std::future::Future<Output = Outcome> + Send + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>> {
    Box::pin(future)
}

/// The scenarios that run in a sandbox brain in this process.
async fn in_process(scenario: &str, studio: &LoadedConfig) -> Outcome {
    let sandbox = Sandbox::build(studio).await?;
    match scenario {
        "kill-switch" => kill_switch(&sandbox).await,
        "token-compromise" => token_compromise(&sandbox).await,
        "delegation-revocation-race" => delegation_race(&sandbox).await,
        _ => local_db_corruption(sandbox).await,
    }
}

async fn kill_switch(sandbox: &Sandbox) -> Outcome {
    const IN_FLIGHT: usize = 24;
    let mut ids = Vec::new();
    for index in 0..IN_FLIGHT + 1 {
        ids.push(sandbox.approved(&format!("restock shelf {index}")).await?);
    }
    let held_back = ids.pop().unwrap_or_default();
    let engine = sandbox.engine.clone();
    let lead = sandbox.lead.clone();
    // Executions in flight, and the switch turned on among them.
    let mut tasks = Vec::new();
    for id in ids {
        let engine = engine.clone();
        let lead = lead.clone();
        tasks.push(tokio::spawn(
            async move { engine.execute(&lead, &id).await },
        ));
    }
    let switched = engine
        .set_kill_switch(&lead, "global", true, "drill: stop everything")
        .await;
    for task in tasks {
        let _ = task.await;
    }
    let mut checks = vec![check(
        "the switch turns on while executions are in flight",
        switched.is_ok(),
        match &switched {
            Ok(_) => "global on".to_string(),
            Err(error) => error.to_string(),
        },
    )];
    let events = sandbox.events().await?;
    let switch_seq = events
        .iter()
        .find(|event| event.action == "set_kill_switch" && event.decision == "allow")
        .map(|event| event.seq);
    let late: Vec<i64> = events
        .iter()
        .filter(|event| {
            event.action == "execute"
                && event.decision == "allow"
                && switch_seq.is_some_and(|seq| event.seq > seq)
        })
        .map(|event| event.seq)
        .collect();
    let before = events
        .iter()
        .filter(|event| {
            event.action == "execute"
                && event.decision == "allow"
                && switch_seq.is_some_and(|seq| event.seq < seq)
        })
        .count();
    checks.push(check(
        "nothing executes after the switch committed",
        switch_seq.is_some() && late.is_empty(),
        format!(
            "{before} execution(s) committed before the switch (event {}), {} after{}",
            switch_seq.map_or_else(|| "none".into(), |seq| seq.to_string()),
            late.len(),
            if late.is_empty() {
                String::new()
            } else {
                format!(": events {late:?}")
            }
        ),
    ));
    let refused = engine.execute(&lead, &held_back).await;
    checks.push(check(
        "an execution after the switch is refused with KILL_SWITCH_ACTIVE",
        refused.as_ref().err().is_some_and(|error| {
            reasons(error)
                .iter()
                .any(|code| code == "KILL_SWITCH_ACTIVE")
        }),
        match &refused {
            Ok(_) => "it executed".into(),
            Err(error) => format!("refused: {}", reasons(error).join(", ")),
        },
    ));
    let off = Instant::now();
    engine
        .set_kill_switch(&lead, "global", false, "drill: all clear")
        .await?;
    let resumed = engine.execute(&lead, &held_back).await;
    let recovery = off.elapsed().as_secs_f64();
    checks.push(check(
        "turning the switch off lets approved work execute again",
        resumed.is_ok(),
        match &resumed {
            Ok(view) => format!(
                "proposal {} {}",
                view.proposal.id,
                view.proposal.state.as_str()
            ),
            Err(error) => error.to_string(),
        },
    ));
    checks.push(sandbox.chain_verifies().await);
    Ok((checks, Some(recovery)))
}

async fn token_compromise(sandbox: &Sandbox) -> Outcome {
    let engine = &sandbox.engine;
    let issued = engine
        .add_actor(&sandbox.lead, "staff:drill-compromised", None)
        .await?;
    let before = engine.authenticate(&issued.token).await;
    let mut checks = vec![check(
        "the token works before it is revoked",
        before.is_ok(),
        match &before {
            Ok(caller) => format!("authenticated as {}", caller.id),
            Err(error) => error.to_string(),
        },
    )];
    let revoked_at = Instant::now();
    engine
        .revoke_actor(&sandbox.lead, "staff:drill-compromised")
        .await?;
    let after = engine.authenticate(&issued.token).await;
    let recovery = revoked_at.elapsed().as_secs_f64();
    checks.push(check(
        "the token is refused at once after revocation",
        after.is_err(),
        match &after {
            Ok(caller) => format!("still authenticated as {}", caller.id),
            Err(error) => error.to_string(),
        },
    ));
    // A request already holding the revoked actor (authenticated a moment before) is refused
    // too: every step re-reads the actor.
    let in_flight = match before {
        Ok(caller) => sandbox.propose(&caller, "after revocation").await,
        Err(error) => Err(error),
    };
    checks.push(check(
        "a request in flight with the revoked actor is refused",
        in_flight.is_err(),
        match &in_flight {
            Ok(id) => format!("proposal {id} was created"),
            Err(error) => error.to_string(),
        },
    ));
    let events = sandbox.events().await?;
    checks.push(check(
        "the revocation is audited",
        events.iter().any(|event| {
            event.action == "manage_actors"
                && event.decision == "allow"
                && event.detail["operation"] == "revoke"
        }),
        "a `manage_actors` revoke event".to_string(),
    ));
    checks.push(sandbox.chain_verifies().await);
    Ok((checks, Some(recovery)))
}

async fn delegation_race(sandbox: &Sandbox) -> Outcome {
    const ATTEMPTS: usize = 30;
    let engine = sandbox.engine.clone();
    let issued = engine
        .add_actor(&sandbox.lead, "agent:drill-agent", None)
        .await?;
    let agent = engine.authenticate(&issued.token).await?;
    let delegation = engine
        .delegate(
            &sandbox.lead,
            &agent.id,
            &sandbox.lead.id,
            &["drill.*".to_string()],
            crate::clock::now() + chrono::Duration::hours(1),
        )
        .await?;
    // Work the agent may execute once approved: one per attempt, and one kept for after.
    let mut ready = Vec::new();
    for index in 0..=ATTEMPTS {
        let id = sandbox
            .propose(&agent, &format!("agent task {index}"))
            .await?;
        engine.approve(&sandbox.approver, &id, None).await?;
        ready.push(id);
    }
    let kept = ready.pop().unwrap_or_default();
    let working = {
        let engine = engine.clone();
        let agent = agent.clone();
        let owner = sandbox.lead.id.clone();
        tokio::spawn(async move {
            let (mut proposed, mut executed) = (0, 0);
            for (index, approved) in ready.iter().enumerate() {
                let result = engine
                    .propose(
                        &agent,
                        &ProposeRequest {
                            capability: DRILL_CAPABILITY_ID.into(),
                            input: serde_json::json!({ "text": format!("agent note {index}") }),
                            rationale: "drill: an agent at work".into(),
                            idempotency_key: None,
                            owner: Some(owner.clone()),
                            draft: true,
                            swarm: None,
                        },
                    )
                    .await;
                proposed += usize::from(result.is_ok());
                executed += usize::from(engine.execute(&agent, approved).await.is_ok());
                tokio::task::yield_now().await;
            }
            (proposed, executed)
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let revoked_at = Instant::now();
    let revoked = engine
        .revoke_delegation(&sandbox.lead, &delegation.id)
        .await;
    let (proposed, executed) = working.await.unwrap_or((0, 0));
    let mut checks = vec![check(
        "the delegation is revoked while its agent proposes and executes",
        revoked.is_ok(),
        format!(
            "{proposed} of {ATTEMPTS} proposals and {executed} of {ATTEMPTS} executions were allowed in all"
        ),
    )];
    let events = sandbox.events().await?;
    let revoke_seq = events
        .iter()
        .find(|event| {
            event.action == "delegate"
                && event.decision == "allow"
                && event.detail["operation"] == "revoke"
        })
        .map(|event| event.seq);
    let late: Vec<String> = events
        .iter()
        .filter(|event| {
            event.actor == agent.id
                && (event.action == "propose" || event.action == "execute")
                && event.decision == "allow"
                && revoke_seq.is_some_and(|seq| event.seq > seq)
        })
        .map(|event| format!("{} at {}", event.action, event.seq))
        .collect();
    checks.push(check(
        "nothing the agent does after the revocation committed is allowed",
        revoke_seq.is_some() && late.is_empty(),
        format!(
            "revocation at event {}; allowed agent proposals and executions after it: {late:?}",
            revoke_seq.map_or_else(|| "none".into(), |seq| seq.to_string())
        ),
    ));
    // `done` says what happened when the step was allowed.
    let refused_with_revoked = |name: &str, done: Result<String, &EngineError>| match done {
        Ok(done) => check(name, false, done),
        Err(error) => check(
            name,
            reasons(error)
                .iter()
                .any(|code| code == "DELEGATION_REVOKED"),
            format!("refused: {}", reasons(error).join(", ")),
        ),
    };
    let execution = engine.execute(&agent, &kept).await;
    checks.push(refused_with_revoked(
        "an execution after the revocation is refused with DELEGATION_REVOKED",
        execution
            .as_ref()
            .map(|_| format!("proposal {kept} was executed")),
    ));
    let after = sandbox.propose(&agent, "after revocation").await;
    let recovery = revoked_at.elapsed().as_secs_f64();
    checks.push(refused_with_revoked(
        "a proposal after the revocation is refused with DELEGATION_REVOKED",
        after
            .as_ref()
            .map(|id| format!("proposal {id} was created")),
    ));
    checks.push(sandbox.chain_verifies().await);
    Ok((checks, Some(recovery)))
}

async fn local_db_corruption(sandbox: Sandbox) -> Outcome {
    for index in 0..5 {
        let id = sandbox.approved(&format!("firing log {index}")).await?;
        sandbox.engine.execute(&sandbox.lead, &id).await?;
    }
    let backups = sandbox.dir.join("backups");
    let written = sandbox.engine.backup_to(&sandbox.lead, &backups, 3).await?;
    let backed_up = event_at(&**sandbox.engine.store(), written.to_seq).await?;
    let mut checks = vec![check(
        "a backup is written",
        written.events > 0 && backed_up.is_some(),
        format!(
            "events {}..{} in {}",
            written.from_seq, written.to_seq, written.dir
        ),
    )];
    // Destroy the store.
    sandbox.engine.store().close().await;
    let database = sandbox.dir.join("brain.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut path = database.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(path));
    }
    let gone = !database.exists();
    checks.push(check(
        "the store is destroyed",
        gone,
        format!("`{}` removed", database.display()),
    ));
    // Rebuild from the newest bundle into a new, empty store, with the key that signed it.
    let started = Instant::now();
    let store = open_store(&database).await?;
    let engine = Engine::new(
        store,
        sandbox.bundle.clone(),
        sandbox.settings.clone(),
        sandbox.signer.clone(),
        Executors::new(),
    );
    let newest = crate::engine::backup::bundles_in(&backups)?
        .pop()
        .ok_or_else(|| problem("the backup bundle is missing"))?;
    let files = crate::engine::backup::read_bundle_dir(&newest)?;
    let restored = engine
        .restore(
            &files.manifest,
            &files.events,
            files.records.as_deref(),
            |_| {},
        )
        .await;
    let recovery = started.elapsed().as_secs_f64();
    checks.push(check(
        "the rebuild restores the newest backup",
        restored.is_ok(),
        match &restored {
            Ok(_) => format!("restored from `{}`", newest.display()),
            Err(error) => error.to_string(),
        },
    ));
    let restored_event = event_at(&**engine.store(), written.to_seq).await?;
    checks.push(check(
        "the restored chain holds every backed-up event unchanged",
        restored_event.is_some()
            && restored_event.as_ref().map(|event| &event.hash)
                == backed_up.as_ref().map(|event| &event.hash),
        format!(
            "event {} {}",
            written.to_seq,
            if restored_event.is_some() {
                "restored"
            } else {
                "missing"
            }
        ),
    ));
    let verified = engine.audit_verify(&sandbox.lead).await;
    checks.push(check(
        "the audit chain verifies",
        verified
            .as_ref()
            .is_ok_and(|verification| verification.report.ok),
        match &verified {
            Ok(verification) => format!("{} events", verification.report.events),
            Err(error) => error.to_string(),
        },
    ));
    engine.store().close().await;
    Ok((checks, Some(recovery)))
}
