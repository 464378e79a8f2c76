//! Several `brain serve` on one PostgreSQL store: one leader at a time, failover after `kill -9`
//! within the target, console sessions and decisions valid across daemons, exactly one execution
//! when 50 executes race across two daemons, a kill switch turned on through one stopping an
//! execution on the other; and one daemon per SQLite file.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::{Backend, Studio};
use crate::support::{Daemon, Partition, PgDatabase, brain, eventually, run, sign_in};

/// The failover target: a new leader within this long after the old one is killed.
const FAILOVER_TARGET: Duration = Duration::from_secs(15);

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn get_json(daemon: &Daemon, token: &str, path: &str) -> (u16, Value) {
    let response = client()
        .get(daemon.url(path))
        .bearer_auth(token)
        .send()
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn post_json(daemon: &Daemon, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = client()
        .post(daemon.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

/// Turn kill switch `name` on or off through `daemon`; it must be accepted.
fn set_switch(daemon: &Daemon, token: &str, name: &str, on: bool, reason: &str) {
    let (status, switched) = post_json(
        daemon,
        token,
        &format!("/api/v1/kill-switches/{name}"),
        serde_json::json!({ "on": on, "reason": reason }),
    );
    assert_eq!(status, 200, "{switched}");
}

fn cluster(daemon: &Daemon, token: &str) -> Value {
    let (status, view) = get_json(daemon, token, "/api/v1/cluster");
    assert_eq!(status, 200, "{view}");
    view
}

fn leading(daemon: &Daemon, token: &str) -> bool {
    cluster(daemon, token)["leading"] == true
}

fn postgres_studio() -> Option<Studio> {
    match PgDatabase::create() {
        Some(database) => Some(Studio::new(Backend::Postgres(database), "")),
        None => {
            eprintln!(
                "note: BRAIN_TEST_DATABASE_URL is not set; the multi-daemon tests are skipped"
            );
            None
        }
    }
}

/// `brain_leader{instance="..."} N` from a daemon's metrics.
fn leader_gauge(daemon: &Daemon) -> i64 {
    let text = client()
        .get(daemon.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find(|line| line.starts_with("brain_leader{"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no brain_leader in\n{text}"))
}

#[test]
fn one_of_three_daemons_leads_and_another_takes_over_within_the_target_after_kill_9() {
    let Some(studio) = postgres_studio() else {
        return;
    };
    let token = studio.admin.clone();
    let daemons: Vec<Daemon> = (0..3).map(|_| studio.start_daemon()).collect();
    let leaders = |daemons: &[Daemon]| {
        daemons
            .iter()
            .filter(|daemon| leading(daemon, &token))
            .count()
    };
    assert!(
        eventually(Duration::from_secs(20), || {
            let views: Vec<Value> = daemons
                .iter()
                .map(|daemon| cluster(daemon, &token))
                .collect();
            views[0]["members"]
                .as_array()
                .is_some_and(|members| members.len() == 3)
                && views
                    .iter()
                    .all(|view| view["leader"]["instance_id"] == views[0]["leader"]["instance_id"])
                && leaders(&daemons) == 1
        }),
        "no single leader: {:?}",
        daemons
            .iter()
            .map(|daemon| cluster(daemon, &token))
            .collect::<Vec<_>>()
    );
    assert!(eventually(Duration::from_secs(5), || daemons
        .iter()
        .map(leader_gauge)
        .sum::<i64>()
        == 1));
    let view = cluster(&daemons[0], &token);
    for member in view["members"].as_array().unwrap() {
        assert_eq!(member["version"], env!("CARGO_PKG_VERSION"));
        assert!(
            member["address"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:")
        );
    }
    let (first, second) = (&daemons[0], &daemons[1]);
    // The cluster view is for staff: a human is refused.
    let (code, human) = studio.json(&token, &["actor", "add", "human:hana"]);
    assert_eq!(code, 0, "{human}");
    let (status, _) = get_json(first, human["token"].as_str().unwrap(), "/api/v1/cluster");
    assert_eq!(status, 403);

    // Audit events name the daemon that wrote them.
    set_switch(second, &token, "physical", true, "cluster drill");
    let second_id = cluster(second, &token)["instance_id"].clone();
    let (_, events) = get_json(first, &token, "/api/v1/audit?limit=5");
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|event| event["action"] == "set_kill_switch"
                && event["detail"]["instance"] == second_id),
        "{events:#}"
    );

    // Kill the leader without a chance to release its lease: one of the other two takes over.
    let mut daemons = daemons;
    let index = daemons
        .iter()
        .position(|daemon| leading(daemon, &token))
        .expect("a leader");
    let mut leader = daemons.remove(index);
    let killed_at = Instant::now();
    leader.child.kill().unwrap();
    let _ = leader.child.wait();
    assert!(
        eventually(FAILOVER_TARGET + Duration::from_secs(5), || leaders(
            &daemons
        ) == 1),
        "no takeover: {:?}",
        daemons
            .iter()
            .map(|daemon| cluster(daemon, &token))
            .collect::<Vec<_>>()
    );
    let took = killed_at.elapsed();
    assert!(
        took <= FAILOVER_TARGET,
        "the takeover took {took:?}, over the {FAILOVER_TARGET:?} target"
    );
    assert_eq!(daemons.iter().map(leader_gauge).sum::<i64>(), 1);
    let new_leader = daemons
        .iter()
        .find(|daemon| leading(daemon, &token))
        .unwrap();
    let view = cluster(new_leader, &token);
    assert_eq!(
        view["leader"]["instance_id"], view["instance_id"],
        "{view:#}"
    );
    // Stay a while: the lease stays with one daemon (no flapping between the survivors).
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(leaders(&daemons), 1);
    assert_eq!(
        cluster(&daemons[0], &token)["leader"],
        cluster(&daemons[1], &token)["leader"]
    );
}

fn approved_draft(studio: &Studio, approver: &str, text: &str) -> String {
    let (code, proposal) = studio.json(
        &studio.admin,
        &[
            "propose",
            "test.note.draft",
            "--input",
            &serde_json::json!({ "text": text }).to_string(),
            "--rationale",
            "cluster test",
        ],
    );
    assert_eq!(code, 0, "{proposal}");
    let id = proposal["id"].as_str().unwrap().to_string();
    let (code, approved) = studio.json(approver, &["approve", &id]);
    assert_eq!(code, 0, "{approved}");
    id
}

#[test]
fn sessions_executions_kill_switches_and_quotas_hold_across_daemons() {
    let Some(studio) = postgres_studio() else {
        return;
    };
    let token = studio.admin.clone();
    let (code, bob) = studio.json(&token, &["actor", "add", "staff:bob"]);
    assert_eq!(code, 0, "{bob}");
    let bob = bob["token"].as_str().unwrap().to_string();
    let first = studio.start_daemon();
    let second = studio.start_daemon();
    assert!(
        eventually(Duration::from_secs(20), || {
            let view = cluster(&second, &token);
            view["members"]
                .as_array()
                .is_some_and(|members| members.len() == 2)
                && view["leader"]["instance_id"].is_string()
        }),
        "{}",
        cluster(&second, &token)
    );

    // A console session made on one daemon is valid on the other, and signing out on the
    // other ends it everywhere.
    let session = sign_in(&first, &token);
    let page = client()
        .get(second.url("/"))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("staff:admin"), "{html}");
    // The cockpit lists both daemons, names the leader and the daemon that served the page.
    let view = cluster(&second, &token);
    let panel = &html[html.find("id=\"cluster\"").expect("a cluster panel")..];
    let panel = &panel[..panel.find("</section>").unwrap()];
    let leader_id = view["leader"]["instance_id"].as_str().unwrap();
    assert!(
        panel.contains(&format!("Leader <code>{leader_id}</code>")),
        "{panel}"
    );
    for daemon in [&first, &second] {
        let id = cluster(daemon, &token)["instance_id"]
            .as_str()
            .unwrap()
            .to_string();
        let row = &panel[panel
            .find(&format!("data-instance=\"{id}\""))
            .unwrap_or_else(|| panic!("no row for {id}: {panel}"))..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert_eq!(row.contains(">leader<"), id == leader_id, "{row}");
        assert_eq!(
            row.contains(">this page<"),
            id == view["instance_id"].as_str().unwrap(),
            "{row}"
        );
    }
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a csrf field")
        .to_string();
    let out = client()
        .post(second.url("/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    let after = client()
        .get(first.url("/"))
        .header("cookie", &session)
        .send()
        .unwrap();
    assert_eq!(after.status().as_u16(), 303, "signed out on every daemon");

    // 50 concurrent executes of one approved proposal, split between the daemons: one runs.
    let id = approved_draft(&studio, &bob, "Restock the glaze shelf");
    let urls = [
        first.url(&format!("/api/v1/proposals/{id}/execute")),
        second.url(&format!("/api/v1/proposals/{id}/execute")),
    ];
    let statuses: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..50)
            .map(|index| {
                let url = urls[index % 2].clone();
                let token = token.clone();
                scope.spawn(move || {
                    let response = client()
                        .post(url)
                        .bearer_auth(token)
                        .json(&serde_json::json!({}))
                        .send()
                        .expect("POST execute");
                    let status = response.status().as_u16();
                    (status, response.json().unwrap_or(Value::Null))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    let succeeded = statuses
        .iter()
        .filter(|(status, body)| *status == 200 && body["state"] == "succeeded")
        .count();
    assert_eq!(succeeded, 1, "{statuses:#?}");
    for (status, body) in &statuses {
        assert!(
            *status == 200 || *status == 409,
            "an execute answered {status}: {body}"
        );
    }
    let (code, events) = studio.json(
        &token,
        &[
            "audit",
            "tail",
            "-n",
            "500",
            "--proposal",
            &id,
            "--decision",
            "allow",
        ],
    );
    assert_eq!(code, 0);
    let executions = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"] == "execute")
        .count();
    assert_eq!(executions, 1, "{events:#}");

    // A token revoked through one daemon is refused at once by the other.
    let (code, carol) = studio.json(&token, &["actor", "add", "staff:carol"]);
    assert_eq!(code, 0, "{carol}");
    let carol = carol["token"].as_str().unwrap().to_string();
    assert_eq!(get_json(&second, &carol, "/api/v1/whoami").0, 200);
    let (status, revoked) = post_json(
        &first,
        &token,
        "/api/v1/actors/staff:carol/revoke",
        serde_json::json!({}),
    );
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(get_json(&second, &carol, "/api/v1/whoami").0, 401);

    // A kill switch turned on through one daemon stops an execution on the other.
    let id = approved_draft(&studio, &bob, "Order more cone 6 clay");
    set_switch(&first, &token, "global", true, "stop everything");
    let (status, refused) = post_json(
        &second,
        &token,
        &format!("/api/v1/proposals/{id}/execute"),
        serde_json::json!({}),
    );
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused.to_string().contains("KILL_SWITCH_ACTIVE"),
        "{refused}"
    );

    // Quotas are counted from the one audit log: executions split between the daemons stop at
    // the capability's limit (test.note.draft: 3 executions an hour per actor).
    set_switch(&second, &token, "global", false, "all clear");
    let (code, dave) = studio.json(&token, &["actor", "add", "staff:dave"]);
    assert_eq!(code, 0, "{dave}");
    let dave = dave["token"].as_str().unwrap().to_string();
    let daemon = |index: usize| {
        if index.is_multiple_of(2) {
            &first
        } else {
            &second
        }
    };
    // Four proposals, approved before any runs; then executed through the daemons in turn.
    let ids: Vec<String> = (0..4)
        .map(|index| {
            let (status, proposal) = post_json(
                daemon(index + 1),
                &dave,
                "/api/v1/proposals",
                serde_json::json!({
                    "capability": "test.note.draft",
                    "input": { "text": format!("Quota {index}") },
                    "rationale": "cluster quota",
                }),
            );
            assert_eq!(status, 200, "{proposal}");
            let id = proposal["id"].as_str().unwrap().to_string();
            let (code, approved) = studio.json(&bob, &["approve", &id]);
            assert_eq!(code, 0, "{approved}");
            id
        })
        .collect();
    let outcomes: Vec<(u16, Value)> = ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            post_json(
                daemon(index),
                &dave,
                &format!("/api/v1/proposals/{id}/execute"),
                serde_json::json!({}),
            )
        })
        .collect();
    for (status, body) in &outcomes[..3] {
        assert_eq!(*status, 200, "{body}");
    }
    assert_eq!(outcomes[3].0, 429, "{outcomes:?}");
    assert!(
        outcomes[3].1.to_string().contains("QUOTA_EXCEEDED"),
        "{outcomes:?}"
    );
}

#[test]
fn a_second_daemon_on_one_sqlite_file_refuses_to_start() {
    let studio = Studio::new(Backend::Sqlite, "");
    let daemon = studio.start_daemon();
    let output = run(brain(studio.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("BRAIN_SERVER"));
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        studio.transcript(&output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another `brain serve` is already serving the SQLite store"),
        "{stderr}"
    );
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    // The first daemon is untouched, and leads on its own.
    assert!(eventually(Duration::from_secs(10), || leading(
        &daemon,
        &studio.admin
    )));
    drop(daemon);
    // Once it is gone, a daemon starts again.
    let again = studio.start_daemon();
    assert!(eventually(Duration::from_secs(10), || leading(
        &again,
        &studio.admin
    )));
}

#[test]
fn a_follower_shows_the_connectors_as_the_leader_reads_them() {
    let Some(database) = PgDatabase::create() else {
        eprintln!("note: BRAIN_TEST_DATABASE_URL is not set; the multi-daemon tests are skipped");
        return;
    };
    let studio = Studio::new(
        Backend::Postgres(database),
        "connectors:\n  - id: hubitat\n    kind: hubitat\n    base_url: sim://hubitat\n    poll_interval: 1s\n",
    );
    let token = studio.admin.clone();
    let daemons: Vec<Daemon> = (0..2).map(|_| studio.start_daemon()).collect();
    assert!(
        eventually(Duration::from_secs(20), || daemons
            .iter()
            .filter(|daemon| leading(daemon, &token))
            .count()
            == 1),
        "no leader"
    );
    let follower = daemons
        .iter()
        .find(|daemon| !leading(daemon, &token))
        .unwrap();
    // Only the leader polls; the follower shows what it recorded: healthy, with readings.
    let seen = eventually(Duration::from_secs(20), || {
        let (status, connectors) = get_json(follower, &token, "/api/v1/connectors");
        status == 200
            && connectors[0]["health"] == "healthy"
            && connectors[0]["readings"]["devices"]
                .as_array()
                .is_some_and(|devices| !devices.is_empty())
    });
    assert!(
        seen,
        "{}",
        get_json(follower, &token, "/api/v1/connectors").1
    );
    let (status, one) = get_json(follower, &token, "/api/v1/connectors/hubitat");
    assert_eq!(status, 200, "{one}");
    assert!(one["polls"].as_u64().unwrap() > 0, "{one}");
    assert!(
        one["last_success_age_seconds"].as_i64().unwrap() < 30,
        "{one}"
    );
    let (status, missing) = get_json(follower, &token, "/api/v1/connectors/nothing");
    assert_eq!(status, 404, "{missing}");
}

/// `brain_slo_status` series in a daemon's metrics: the objectives it exports.
fn slo_series(daemon: &Daemon) -> usize {
    client()
        .get(daemon.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap()
        .lines()
        .filter(|line| line.starts_with("brain_slo_status{"))
        .count()
}

#[test]
fn a_leader_cut_off_from_its_database_stops_its_work_before_another_daemon_takes_the_lease() {
    let Some(mut studio) = postgres_studio() else {
        return;
    };
    let token = studio.admin.clone();
    let direct = studio.database_url.clone().unwrap();
    // The first daemon reaches the database through a forwarder the test can cut.
    let (partition, through) = Partition::to_database(&direct);
    studio.database_url = Some(through);
    let cut_off = studio.start_daemon();
    assert!(eventually(Duration::from_secs(20), || leader_gauge(
        &cut_off
    ) == 1));
    assert!(
        eventually(Duration::from_secs(20), || slo_series(&cut_off) > 0),
        "the leader exports no objectives"
    );
    studio.database_url = Some(direct);
    let other = studio.start_daemon();
    assert!(eventually(Duration::from_secs(20), || cluster(
        &other, &token
    )["members"]
        .as_array()
        .is_some_and(|members| members.len() == 2)));
    assert!(!leading(&other, &token));
    assert_eq!(slo_series(&other), 0, "a follower exports no objectives");

    partition.cut();
    let cut_at = Instant::now();
    let (mut stopped, mut taken) = (None, None);
    while (stopped.is_none() || taken.is_none()) && cut_at.elapsed() < Duration::from_secs(40) {
        if stopped.is_none() && leader_gauge(&cut_off) == 0 {
            stopped = Some(cut_at.elapsed());
        }
        if taken.is_none() && leading(&other, &token) {
            taken = Some(cut_at.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stopped = stopped.expect("the cut-off leader kept running the scheduled work");
    let taken = taken.expect("no daemon took the lease over");
    assert!(
        stopped < taken,
        "the cut-off leader stopped its work after {stopped:?}, but another took over after {taken:?}"
    );
    assert!(taken <= FAILOVER_TARGET, "the takeover took {taken:?}");
    assert_eq!(
        slo_series(&cut_off),
        0,
        "a daemon that lost the lease still exports objectives it no longer evaluates"
    );
    assert!(
        eventually(Duration::from_secs(20), || slo_series(&other) > 0),
        "the new leader exports no objectives"
    );

    // Mended: the cut-off daemon comes back as a follower; the lease stays where it is.
    partition.mend();
    assert!(
        eventually(Duration::from_secs(20), || {
            let view = cluster(&cut_off, &token);
            view["members"]
                .as_array()
                .is_some_and(|members| members.len() == 2)
        }),
        "the mended daemon did not rejoin"
    );
    assert!(!leading(&cut_off, &token));
    assert!(leading(&other, &token));
    assert_eq!(leader_gauge(&cut_off) + leader_gauge(&other), 1);
}
