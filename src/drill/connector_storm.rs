//! `connector-timeout-storm`: every device stops answering in time at once. One connector of
//! each registered kind (the same `Guarded` client the daemon polls with, built by the registry)
//! is polled the way the daemon's fleet polls (a read, then `next_delay`) against the kind's
//! simulator; every simulator then answers only after three times the timeout
//! (`Fault::Slow`). The breakers must open, the requests the devices received must stay within
//! each connector's request budget, and the cockpit's degraded banner (the lines
//! `console::connector_problems` renders from the connectors' status) must name every
//! connector; when the devices answer again, each connector must come back healthy by itself.
//! Timings are short (a 200 ms timeout, a 250 ms cooldown) so the drill takes seconds; the
//! simulators are real HTTP servers on loopback, so no device is ever touched.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Outcome, check, problem};
use crate::connectors::Health;
use crate::connectors::guard::{BreakerPolicy, BreakerState, Guarded};
use crate::connectors::http::RequestPolicy;
use crate::connectors::registry::{self, KINDS, Settings};
use crate::connectors::sim::{Fault, Simulator};

const TIMEOUT: Duration = Duration::from_millis(200);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Requests each connector may send per hour; the storm must stay inside it.
const BUDGET: u32 = 20;
/// How long every device stays slow.
const STORM: Duration = Duration::from_secs(3);
const RECOVERY_LIMIT: Duration = Duration::from_secs(15);

struct Member {
    simulator: Simulator,
    connector: Arc<Guarded>,
}

fn settings(id: &str, spec: &registry::KindSpec, simulator: &Simulator) -> Settings {
    Settings {
        id: id.to_string(),
        kind: spec.kind,
        base_url: simulator.host_url(),
        app_id: Some(simulator.app_id().to_string()),
        token: simulator.token(),
        timeout: TIMEOUT,
        poll_interval: POLL_INTERVAL,
        stale_after: Duration::from_secs(60),
        request: RequestPolicy {
            timeout: TIMEOUT,
            attempts: 2,
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(50),
            budget_per_hour: BUDGET,
        },
        breaker: BreakerPolicy {
            failure_threshold: 2,
            cooldown_floor: Duration::from_millis(250),
            cooldown_cap: Duration::from_secs(1),
        },
        display: None,
    }
}

/// Poll `connector` as the daemon's fleet does until `stop`; whether its breaker was seen open.
async fn poll_until(connector: Arc<Guarded>, stop: Arc<AtomicBool>) -> bool {
    let mut opened = false;
    while !stop.load(Ordering::Relaxed) {
        let _ = connector.poll().await;
        opened |= connector.breaker_state() == BreakerState::Open;
        tokio::time::sleep(connector.next_delay(POLL_INTERVAL)).await;
    }
    opened
}

fn banner(members: &[Member]) -> Vec<String> {
    let statuses: Vec<_> = members
        .iter()
        .map(|member| member.connector.status())
        .collect();
    crate::server::console::connector_problems(&statuses)
}

pub async fn run() -> Outcome {
    let mut members = Vec::new();
    for spec in KINDS {
        let simulator = Simulator::start(
            spec.simulator,
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        )
        .await
        .map_err(|error| problem(format!("cannot start a device simulator: {error}")))?;
        let id = format!("drill-{}", spec.kind.as_str());
        let connector = registry::build(&settings(&id, spec, &simulator))
            .map_err(|error| problem(error.to_string()))?;
        members.push(Member {
            simulator,
            connector: Arc::new(connector),
        });
    }
    // Every device answers at first.
    let mut first = Vec::new();
    for member in &members {
        first.push(match member.connector.poll().await {
            Ok(_) => format!("{} healthy", member.connector.id()),
            Err(error) => format!("{}: {error}", member.connector.id()),
        });
    }
    let healthy = members
        .iter()
        .all(|member| member.connector.health() == Health::Healthy);
    let mut checks = vec![check(
        "every connector reads its device before the storm",
        healthy,
        first.join(", "),
    )];

    // The storm.
    for member in &members {
        member.simulator.clear_requests();
        member.simulator.set_fault(Fault::Slow(TIMEOUT * 3));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let polling: Vec<_> = members
        .iter()
        .map(|member| tokio::spawn(poll_until(member.connector.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(STORM).await;
    let during = banner(&members);
    let statuses: Vec<_> = members
        .iter()
        .map(|member| member.connector.status())
        .collect();
    stop.store(true, Ordering::Relaxed);
    let mut opened = Vec::new();
    for task in polling {
        opened.push(task.await.unwrap_or(false));
    }
    let sent: Vec<usize> = members
        .iter()
        .map(|member| member.simulator.requests().len())
        .collect();
    checks.push(check(
        "every connector's breaker opens",
        opened.iter().all(|opened| *opened),
        members
            .iter()
            .zip(&opened)
            .zip(&statuses)
            .map(|((member, opened), status)| {
                format!(
                    "{}: {} ({} consecutive failures, last: {})",
                    member.connector.id(),
                    if *opened { "opened" } else { "never opened" },
                    status.consecutive_failures,
                    status
                        .last_error
                        .as_ref()
                        .map_or("none".to_string(), |error| error.kind.as_str().to_string())
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    ));
    checks.push(check(
        "the requests sent during the storm stay within each connector's budget",
        sent.iter().all(|sent| *sent <= BUDGET as usize),
        members
            .iter()
            .zip(&sent)
            .map(|(member, sent)| {
                format!(
                    "{}: {sent} request(s) in {}s (budget {BUDGET}/h)",
                    member.connector.id(),
                    STORM.as_secs()
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    ));
    let named = members.iter().all(|member| {
        during
            .iter()
            .any(|line| line.contains(&format!("`{}`", member.connector.id())))
    });
    checks.push(check(
        "the cockpit shows brain degraded, naming every connector",
        named && statuses.iter().all(|status| status.health == Health::Down),
        if during.is_empty() {
            "no degraded line".to_string()
        } else {
            during.join("; ")
        },
    ));

    // The devices answer again; the connectors come back by themselves.
    for member in &members {
        member.simulator.set_fault(Fault::None);
    }
    let cleared = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let polling: Vec<_> = members
        .iter()
        .map(|member| tokio::spawn(poll_until(member.connector.clone(), stop.clone())))
        .collect();
    let mut recovered = None;
    while cleared.elapsed() < RECOVERY_LIMIT {
        if members.iter().all(|member| {
            member.connector.health() == Health::Healthy
                && member.connector.breaker_state() == BreakerState::Closed
        }) {
            recovered = Some(cleared.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in polling {
        let _ = task.await;
    }
    let after = banner(&members);
    checks.push(check(
        "every connector recovers when the devices answer, and the cockpit clears",
        recovered.is_some() && after.is_empty(),
        match recovered {
            Some(seconds) => format!(
                "healthy with closed breakers {seconds:.2}s after the devices answered{}",
                if after.is_empty() {
                    String::new()
                } else {
                    format!("; still shown: {}", after.join("; "))
                }
            ),
            None => format!(
                "not recovered within {RECOVERY_LIMIT:?}: {}",
                members
                    .iter()
                    .map(|member| format!(
                        "{} {} / breaker {}",
                        member.connector.id(),
                        member.connector.health().as_str(),
                        member.connector.breaker_state().as_str()
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    ));
    Ok((checks, recovered))
}
