//! `store-outage`: the store goes away under traffic and comes back. A real `brain serve` runs on
//! a PostgreSQL database of the drill's own; decisions reach it through its HTTP API from a
//! client that keeps proposing. The outage is the server's, not a simulation: the database stops
//! accepting connections (`ALLOW_CONNECTIONS false`) and every open connection to it is ended
//! (`pg_terminate_backend`, waited for until none is left), so the daemon's pool loses what it
//! held and cannot open more. Then the database is given back, and nobody touches the daemon.
//!
//! SQLite cannot be taken away like this without root: a daemon's open file descriptors outlive
//! an unlink, a rename or a chmod, and another process's lock only holds writers back (reads go
//! on in WAL mode), so a SQLite "outage" would prove a lock wait, not fail-closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::daemons::{Answer, Client, SandboxStudio, ScratchDatabase};
use super::{Outcome, check};
use crate::config::{LoadedConfig, Secret};
use crate::engine::EngineError;
use crate::store::{AuditFilter, ProposalFilter, StoreTarget};

/// How long the store stays away.
const OUTAGE: Duration = Duration::from_secs(3);
/// The longest the drill waits for `/readyz` to change, or for recovery.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// One decision the traffic asked for.
struct Sent {
    sent: Instant,
    answered: Instant,
    answer: Answer,
}

pub async fn run(studio: &LoadedConfig, admin_url: String) -> Outcome {
    let database = ScratchDatabase::create(&admin_url).await?;
    let result = drill(studio, &database).await;
    database.remove().await;
    result
}

async fn readyz(client: &Client, base: &str) -> Answer {
    client.get(base, "/readyz").await
}

/// Poll `/readyz` until it answers `status`; the last answer and whether it matched.
async fn wait_for_readyz(client: &Client, base: &str, status: u16) -> (bool, Answer) {
    let started = Instant::now();
    loop {
        let answer = readyz(client, base).await;
        if answer.status == status {
            return (true, answer);
        }
        if started.elapsed() > WAIT_LIMIT {
            return (false, answer);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn allowed(answer: &Answer) -> bool {
    (200..300).contains(&answer.status)
}

async fn drill(studio: &LoadedConfig, database: &ScratchDatabase) -> Outcome {
    let sandbox = SandboxStudio::build(studio, database, "").await?;
    let mut daemon = sandbox.start_daemon().await?;
    let base = daemon.base();
    let client = Client::new(&sandbox.token)?;
    let (ready, first) = wait_for_readyz(&client, &base, 200).await;
    if !ready {
        return Err(super::problem(format!(
            "the sandbox's daemon never got ready: {}\n{}",
            first.body,
            daemon.logs()
        )));
    }
    // The other decisions: a proposal approved before the outage, to execute during it, and
    // one waiting, to approve during it.
    let (made, approver) = sandbox
        .cli_json(&["actor", "add", "staff:drill-approver"])
        .await?;
    let approver = Client::new(
        approver["token"]
            .as_str()
            .filter(|_| made)
            .ok_or_else(|| super::problem(format!("the sandbox's approver: {approver}")))?,
    )?;
    let proposed = |answer: Answer| {
        answer.body["id"]
            .as_str()
            .filter(|_| allowed(&answer))
            .map(str::to_string)
            .ok_or_else(|| super::problem(format!("a proposal before the outage: {}", answer.body)))
    };
    let waiting = proposed(client.propose(&base, "to approve during the outage").await)?;
    let approved = proposed(client.propose(&base, "to execute during the outage").await)?;
    let approval = approver.step(&base, &approved, "approve").await;
    if !allowed(&approval) {
        return Err(super::problem(format!(
            "an approval before the outage was refused: {}",
            approval.refusal()
        )));
    }
    let log: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    // Two clients proposing one after another for the whole drill.
    let mut traffic = Vec::new();
    for lane in 0..2 {
        let (client, log, stop, base) = (client.clone(), log.clone(), stop.clone(), base.clone());
        traffic.push(tokio::spawn(async move {
            let mut index = 0;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let answer = client
                    .propose(&base, &format!("order supplies {lane}-{index}"))
                    .await;
                log.lock().await.push(Sent {
                    sent,
                    answered: Instant::now(),
                    answer,
                });
                index += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;

    // The outage: from when the last connection to the database has ended.
    database.take_away().await?;
    let outage_from = Instant::now();
    let (went_unready, during) = wait_for_readyz(&client, &base, 503).await;
    let remaining = OUTAGE.saturating_sub(outage_from.elapsed());
    tokio::time::sleep(remaining).await;
    let probe = client.propose(&base, "during the outage").await;
    let approve_probe = approver.step(&base, &waiting, "approve").await;
    let execute_probe = client.step(&base, &approved, "execute").await;
    let outage_to = Instant::now();
    database.give_back().await?;

    // Recovery: nobody touches the daemon.
    let restored = Instant::now();
    let mut recovered = None;
    while restored.elapsed() < WAIT_LIMIT {
        if readyz(&client, &base).await.status == 200
            && allowed(&client.propose(&base, "after the outage").await)
        {
            recovered = Some(restored.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for lane in traffic {
        let _ = lane.await;
    }
    let still_running = daemon.still_running();
    let log = std::mem::take(&mut *log.lock().await);

    let mut checks = traffic_checks(&log, &probe, outage_from, outage_to);
    checks.push(check(
        "/readyz reports 503 while the store is away",
        went_unready,
        format!("{} {}", during.status, during.body["not_ready"]),
    ));
    checks.push(check(
        "brain recovers by itself: /readyz 200 and decisions allowed, without a restart",
        recovered.is_some() && still_running,
        match recovered {
            Some(seconds) => format!(
                "recovered {seconds:.2}s after the store came back; the daemon {}",
                if still_running {
                    "kept running"
                } else {
                    "exited"
                }
            ),
            None => format!("not recovered within {WAIT_LIMIT:?}"),
        },
    ));
    checks.push(check(
        "an approval and an execution are refused while the store is away",
        [&approve_probe, &execute_probe]
            .iter()
            .all(|answer| answer.status == 503 && answer.names_reason("STORE_UNAVAILABLE")),
        format!(
            "approve: {}; execute: {}",
            approve_probe.refusal(),
            execute_probe.refusal()
        ),
    ));
    // What the outage refused did not happen: the waiting proposal still waits, the approved
    // one was not executed.
    let mut states = Vec::new();
    for id in [&waiting, &approved] {
        let answer = client.get(&base, &format!("/api/v1/proposals/{id}")).await;
        states.push(
            answer.body["state"]
                .as_str()
                .unwrap_or("unreadable")
                .to_string(),
        );
    }
    checks.push(check(
        "what the outage refused did not happen",
        states == ["pending_approval", "approved"],
        format!(
            "the proposal to approve is {}, the one to execute is {}",
            states[0], states[1]
        ),
    ));
    checks.push(nothing_half_written(database, &log).await);
    let (verifies, detail) = client.chain_verifies(&base).await;
    checks.push(check("the audit chain verifies", verifies, detail));
    daemon.kill();
    Ok((checks, recovered))
}

/// Every proposal the store holds has its `propose` event, and every proposal the API allowed
/// is in the store: a decision is written whole or not at all.
async fn nothing_half_written(database: &ScratchDatabase, log: &[Sent]) -> super::Check {
    let name = "nothing is half-written: every proposal has its audit event";
    let target = StoreTarget::Postgres {
        url: Secret::new(database.url.clone()),
        max_connections: 2,
        connect_timeout: Duration::from_secs(5),
    };
    let result: Result<(usize, Vec<String>), EngineError> = async {
        let store = crate::store::open(&target).await?;
        let proposals = store
            .proposals(&ProposalFilter {
                limit: 100_000,
                ..ProposalFilter::default()
            })
            .await?;
        let events = store
            .audit_filtered(&AuditFilter {
                limit: 100_000,
                ..AuditFilter::default()
            })
            .await?;
        store.close().await;
        let missing = unwritten(&proposals, &events, log);
        Ok((proposals.len(), missing))
    }
    .await;
    match result {
        Ok((count, missing)) => check(
            name,
            missing.is_empty() && count > 0,
            if missing.is_empty() {
                format!("{count} proposals, each with its event")
            } else {
                missing.join("; ")
            },
        ),
        Err(error) => check(name, false, error.to_string()),
    }
}

/// What the traffic saw: allowed before the outage; refused, with a named reason, during it.
fn traffic_checks(
    log: &[Sent],
    probe: &Answer,
    outage_from: Instant,
    outage_to: Instant,
) -> Vec<super::Check> {
    let before = log
        .iter()
        .filter(|sent| sent.answered < outage_from && allowed(&sent.answer))
        .count();
    // Requests sent once the outage had begun and answered before the store came back.
    let mut inside: Vec<&Answer> = log
        .iter()
        .filter(|sent| sent.sent >= outage_from && sent.answered <= outage_to)
        .map(|sent| &sent.answer)
        .collect();
    inside.push(probe);
    let allowed_inside = inside.iter().filter(|answer| allowed(answer)).count();
    let unnamed = inside
        .iter()
        .filter(|answer| answer.status < 500 || !answer.names_reason("STORE_UNAVAILABLE"))
        .count();
    // The answers, counted by kind: `206 × 503 store_unavailable (STORE_UNAVAILABLE)`.
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for answer in &inside {
        *kinds.entry(answer.refusal()).or_default() += 1;
    }
    let kinds = kinds
        .into_iter()
        .map(|(kind, count)| format!("{count} × {kind}"))
        .collect::<Vec<_>>()
        .join("; ");
    vec![
        check(
            "decisions are allowed before the outage",
            before > 0,
            format!("{before} proposal(s) allowed through the API"),
        ),
        check(
            "no decision is allowed while the store is away",
            allowed_inside == 0,
            format!(
                "{} request(s) during the outage, {allowed_inside} allowed",
                inside.len()
            ),
        ),
        check(
            "every refusal during the outage is a 5xx naming STORE_UNAVAILABLE",
            unnamed == 0,
            kinds,
        ),
    ]
}

/// What is half-written: a stored proposal without its `propose` event, or a proposal the API
/// allowed that the store does not hold.
fn unwritten(
    proposals: &[crate::store::Proposal],
    events: &[crate::audit::AuditEvent],
    log: &[Sent],
) -> Vec<String> {
    let audited: std::collections::BTreeSet<&str> = events
        .iter()
        .filter(|event| event.action == "propose" && event.decision == "allow")
        .filter_map(|event| event.proposal_id.as_deref())
        .collect();
    let stored: std::collections::BTreeSet<&str> = proposals
        .iter()
        .map(|proposal| proposal.id.as_str())
        .collect();
    let mut missing: Vec<String> = stored
        .iter()
        .filter(|id| !audited.contains(*id))
        .map(|id| format!("proposal {id} has no propose event"))
        .collect();
    for sent in log.iter().filter(|sent| allowed(&sent.answer)) {
        if let Some(id) = sent.answer.body["proposal"]["id"].as_str()
            && !stored.contains(id)
        {
            missing.push(format!("allowed proposal {id} is not in the store"));
        }
    }
    missing
}
