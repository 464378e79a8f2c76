//! `leader-loss`: two real `brain serve` share a PostgreSQL database of the drill's own; the one
//! holding the leader lease (found through `GET /api/v1/cluster`) is killed with `kill -9`, so it
//! releases nothing. The survivor must take the lease within the failover target and run the
//! scheduled work, which must never have run on both at once: the sandbox schedules a backup
//! every second (a singleton job that leaves an audited `export` event naming the daemon in
//! `detail.instance`), and the events must show one daemon at a time.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::daemons::{Client, SandboxStudio, ScratchDatabase};
use super::{Outcome, check, problem};
use crate::config::{LoadedConfig, Secret};
use crate::store::{AuditFilter, StoreTarget};

/// The failover target: a new leader within this long after the old one is killed.
pub const TAKEOVER_TARGET: Duration = Duration::from_secs(15);
/// How long the drill waits for a leader, or for the survivor to take over.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// A singleton job that runs often in the sandbox and leaves an event per run.
const SCHEDULES: &str = "schedules:\n  backup: { every: 1s }\nbackup:\n  keep: 2\n";

pub async fn run(studio: &LoadedConfig, admin_url: String) -> Outcome {
    let database = ScratchDatabase::create(&admin_url).await?;
    let result = drill(studio, &database).await;
    database.remove().await;
    result
}

/// Each daemon's view of the cluster (`Value::Null` when it did not answer).
async fn views(client: &Client, bases: &[String]) -> Vec<Value> {
    let mut views = Vec::new();
    for base in bases {
        let answer = client.get(base, "/api/v1/cluster").await;
        views.push(if answer.status == 200 {
            answer.body
        } else {
            Value::Null
        });
    }
    views
}

/// The instance id of the one daemon that leads, when exactly one does and every view agrees.
fn single_leader(views: &[Value]) -> Option<String> {
    let leading: Vec<&Value> = views
        .iter()
        .filter(|view| view["leading"] == true)
        .collect();
    let [leader] = leading.as_slice() else {
        return None;
    };
    let id = leader["instance_id"].as_str()?;
    views
        .iter()
        .all(|view| view["leader"]["instance_id"] == id)
        .then(|| id.to_string())
}

/// The backup runs recorded so far, oldest first: (seq, instance).
async fn backup_runs(database: &ScratchDatabase) -> Result<Vec<(i64, String)>, super::EngineError> {
    let target = StoreTarget::Postgres {
        url: Secret::new(database.url.clone()),
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
    };
    let store = crate::store::open(&target).await?;
    let events = store
        .audit_filtered(&AuditFilter {
            actor: Some("system:backup".into()),
            limit: 100_000,
            ..AuditFilter::default()
        })
        .await;
    store.close().await;
    let mut runs: Vec<(i64, String)> = events?
        .into_iter()
        .filter(|event| event.detail["operation"] == "export")
        .map(|event| {
            (
                event.seq,
                event.detail["instance"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    runs.sort();
    Ok(runs)
}

async fn drill(studio: &LoadedConfig, database: &ScratchDatabase) -> Outcome {
    let sandbox = SandboxStudio::build(studio, database, SCHEDULES).await?;
    let mut daemons = vec![sandbox.start_daemon().await?, sandbox.start_daemon().await?];
    let client = Client::new(&sandbox.token)?;
    let bases: Vec<String> = daemons.iter().map(|daemon| daemon.base()).collect();

    let started = Instant::now();
    let mut leader = None;
    let mut seen = Vec::new();
    while started.elapsed() < WAIT_LIMIT {
        seen = views(&client, &bases).await;
        let members = seen[0]["members"].as_array().map_or(0, Vec::len);
        if let Some(id) = single_leader(&seen).filter(|_| members == 2) {
            leader = Some(id);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let Some(leader) = leader else {
        return Err(problem(format!(
            "the sandbox's two daemons never agreed on one leader: {seen:?}"
        )));
    };
    let mut checks = vec![check(
        "exactly one of two daemons leads, and both name it",
        true,
        format!("leader {leader}"),
    )];
    let index = seen
        .iter()
        .position(|view| view["instance_id"] == leader.as_str())
        .unwrap_or(0);
    let survivor_base = bases[1 - index].clone();
    let survivor = seen[1 - index]["instance_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Let the leader run its scheduled work a few times first.
    let runs_started = Instant::now();
    while backup_runs(database).await?.len() < 2 && runs_started.elapsed() < WAIT_LIMIT {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    daemons[index].kill();
    let killed_at = Instant::now();
    let mut took_over = None;
    let mut after = Vec::new();
    while killed_at.elapsed() < WAIT_LIMIT {
        after = views(&client, std::slice::from_ref(&survivor_base)).await;
        if after[0]["leading"] == true && after[0]["leader"]["instance_id"] == survivor.as_str() {
            took_over = Some(killed_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    checks.push(check(
        "the survivor takes the lease within the target after the leader is killed with kill -9",
        took_over.is_some_and(|took| took <= TAKEOVER_TARGET),
        match took_over {
            Some(took) => format!(
                "{survivor} leads {:.2}s after the kill (target {}s)",
                took.as_secs_f64(),
                TAKEOVER_TARGET.as_secs()
            ),
            None => format!("no takeover within {WAIT_LIMIT:?}: {}", after[0]),
        },
    ));
    // The survivor runs the scheduled work.
    let mut runs = backup_runs(database).await?;
    let resumed = Instant::now();
    while !runs.iter().any(|(_, instance)| *instance == survivor)
        && took_over.is_some()
        && resumed.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
        runs = backup_runs(database).await?;
    }
    let by_survivor = runs
        .iter()
        .filter(|(_, instance)| *instance == survivor)
        .count();
    checks.push(check(
        "the new leader runs the scheduled work",
        by_survivor > 0,
        format!("{by_survivor} backup run(s) by {survivor} after the takeover"),
    ));
    checks.push(one_at_a_time(&runs, &leader, &survivor));
    let (verifies, detail) = client.chain_verifies(&survivor_base).await;
    checks.push(check("the audit chain verifies", verifies, detail));
    drop(daemons);
    Ok((checks, took_over.map(|took| took.as_secs_f64())))
}

/// One daemon at a time: the runs are the old leader's, then the survivor's, never mixed, and
/// nothing else ran them.
fn one_at_a_time(runs: &[(i64, String)], leader: &str, survivor: &str) -> super::Check {
    let by_leader = runs
        .iter()
        .filter(|(_, instance)| instance == leader)
        .count();
    let by_survivor = runs
        .iter()
        .filter(|(_, instance)| instance == survivor)
        .count();
    let handovers = runs
        .windows(2)
        .filter(|pair| pair[0].1 != pair[1].1)
        .count();
    let strangers: Vec<&str> = runs
        .iter()
        .map(|(_, instance)| instance.as_str())
        .filter(|instance| *instance != leader && *instance != survivor)
        .collect();
    let first_is_leader = runs.first().is_some_and(|(_, instance)| instance == leader);
    check(
        "no singleton job ran on two daemons at once",
        by_leader > 0 && first_is_leader && handovers <= 1 && strangers.is_empty(),
        format!(
            "{} backup runs: {by_leader} by the old leader, then {by_survivor} by the survivor; \
             {handovers} handover(s){}",
            runs.len(),
            if strangers.is_empty() {
                String::new()
            } else {
                format!("; runs by {strangers:?}")
            }
        ),
    )
}
