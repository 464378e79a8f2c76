use super::*;
use crate::store::SwarmFindingRecord;

fn at(text: &str) -> DateTime<Utc> {
    parse_time(text).expect("a test time")
}

fn plus(time: &str, minutes: i64) -> String {
    format_time(at(time) + chrono::Duration::minutes(minutes))
}

const T0: &str = "2026-11-10T12:00:00.000000Z";

fn event(seq: i64, at: &str, actor: &str, action: &str, decision: &str) -> AuditEvent {
    AuditEvent {
        seq,
        at: at.to_string(),
        actor: actor.to_string(),
        action: action.to_string(),
        capability: None,
        proposal_id: None,
        decision: decision.to_string(),
        reason_codes: Vec::new(),
        policy_ids: Vec::new(),
        policy_set_hash: None,
        input_hash: None,
        output_hash: None,
        detail: json!({}),
        prev_hash: String::new(),
        hash: String::new(),
    }
}

fn on(mut event: AuditEvent, capability: &str, proposal: &str, detail: Value) -> AuditEvent {
    event.capability = Some(capability.to_string());
    event.proposal_id = Some(proposal.to_string());
    event.detail = detail;
    event
}

fn objective(
    id: &str,
    indicator: Indicator,
    target: f64,
    warning: f64,
    critical: f64,
) -> Objective {
    Objective {
        id: id.to_string(),
        title: indicator.default_title().to_string(),
        indicator,
        target,
        warning,
        critical,
        owner: "staff:admin".into(),
        on_call: None,
        risk_tier: None,
        connector: None,
        swarm: None,
    }
}

fn every_objective() -> Vec<Objective> {
    Indicator::ALL
        .iter()
        .map(|indicator| {
            let (target, critical) = if indicator.higher_is_better() {
                (95.0, 90.0)
            } else {
                (4.0, 8.0)
            };
            objective(indicator.as_str(), *indicator, target, target, critical)
        })
        .collect()
}

fn capabilities() -> BTreeMap<String, CapabilityFacts> {
    BTreeMap::from([
        (
            "firestore.ops_note.append".to_string(),
            CapabilityFacts {
                risk_tier: Some(RiskTier::Low),
                external_write: true,
                approvals_required: 1,
            },
        ),
        (
            "brain.big.change".to_string(),
            CapabilityFacts {
                risk_tier: Some(RiskTier::High),
                external_write: false,
                approvals_required: 2,
            },
        ),
    ])
}

fn period(from: &str, to: &str) -> Period {
    Period {
        label: "test".into(),
        start: at(from),
        end: at(to),
        zone: chrono_tz::UTC,
    }
}

fn run(events: Vec<AuditEvent>, from: &str, to: &str) -> Scorecard {
    let first = events
        .iter()
        .filter_map(|event| parse_time(&event.at))
        .min();
    let evidence = Evidence {
        events,
        runs: Vec::new(),
        first_event_at: first,
        drafts: Vec::new(),
        capabilities: capabilities(),
    };
    compute(
        &every_objective(),
        &period(from, to),
        at(to),
        &evidence,
        &Settings::default(),
    )
}

fn value(scorecard: &Scorecard, id: &str) -> Option<f64> {
    scorecard.slo(id).expect("the objective").value.0
}

fn status(scorecard: &Scorecard, id: &str) -> Status {
    scorecard.slo(id).expect("the objective").status
}

#[test]
fn an_empty_period_has_no_data_for_any_objective() {
    let scorecard = run(Vec::new(), T0, &plus(T0, 7 * 24 * 60));
    for slo in &scorecard.slos {
        assert_eq!(slo.status, Status::NoData, "{}: {}", slo.id, slo.note);
        assert_eq!(slo.value.0, None);
        assert!(!slo.note.is_empty());
    }
    let json = serde_json::to_value(&scorecard).expect("serializes");
    assert_eq!(json["slos"][0]["value"], "no_data");
    assert_eq!(json["slos"][0]["status"], "no_data");
}

#[test]
fn a_single_snapshot_covers_one_window_of_the_period() {
    let events = vec![event(1, T0, "system:snapshotter", "snapshot", "succeeded")];
    let scorecard = run(events, T0, &plus(T0, 60));
    // Four 15-minute windows since the first record; one has its snapshot.
    assert_eq!(value(&scorecard, "snapshot_freshness"), Some(25.0));
    assert_eq!(status(&scorecard, "snapshot_freshness"), Status::Critical);
    assert_eq!(
        scorecard.details["snapshot_freshness"]["missed_windows"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // A partial snapshot covers nothing.
    let events = vec![
        event(1, T0, "system:snapshotter", "snapshot", "partial"),
        event(
            2,
            &plus(T0, 15),
            "system:snapshotter",
            "snapshot",
            "succeeded",
        ),
    ];
    let scorecard = run(events, T0, &plus(T0, 30));
    assert_eq!(value(&scorecard, "snapshot_freshness"), Some(50.0));
    // Less than one whole window: no data, not 0% or 100%.
    let events = vec![event(1, T0, "system:snapshotter", "snapshot", "succeeded")];
    let scorecard = run(events, T0, &plus(T0, 10));
    assert_eq!(value(&scorecard, "snapshot_freshness"), None);
}

#[test]
fn review_time_runs_from_pending_approval_to_the_deciding_step_per_tier() {
    let cap = "firestore.ops_note.append";
    let events = vec![
        on(
            event(1, T0, "staff:a", "propose", "allow"),
            cap,
            "p_1",
            json!({"draft": false}),
        ),
        on(
            event(2, &plus(T0, 120), "staff:b", "approve", "allow"),
            cap,
            "p_1",
            json!({"approvals": 1, "required": 1}),
        ),
        on(
            event(3, T0, "staff:a", "propose", "allow"),
            cap,
            "p_2",
            json!({"draft": false}),
        ),
        on(
            event(4, &plus(T0, 360), "staff:b", "reject", "allow"),
            cap,
            "p_2",
            json!({}),
        ),
        // A draft waits for its submit; only then is it reviewed.
        on(
            event(5, T0, "agent:x", "propose", "allow"),
            cap,
            "p_3",
            json!({"draft": true}),
        ),
        on(
            event(6, &plus(T0, 600), "staff:a", "propose", "allow"),
            cap,
            "p_3",
            json!({"operation": "submit"}),
        ),
        on(
            event(7, &plus(T0, 660), "staff:b", "approve", "allow"),
            cap,
            "p_3",
            json!({"approvals": 1, "required": 1}),
        ),
        // High tier: the first of two approvals does not end the review.
        on(
            event(8, T0, "staff:a", "propose", "allow"),
            "brain.big.change",
            "p_4",
            json!({}),
        ),
        on(
            event(9, &plus(T0, 60), "staff:b", "approve", "allow"),
            "brain.big.change",
            "p_4",
            json!({"approvals": 1, "required": 2}),
        ),
        on(
            event(10, &plus(T0, 600), "staff:c", "approve", "allow"),
            "brain.big.change",
            "p_4",
            json!({"approvals": 2, "required": 2}),
        ),
        // Still waiting at the end.
        on(
            event(11, &plus(T0, 30), "staff:a", "propose", "allow"),
            cap,
            "p_5",
            json!({}),
        ),
    ];
    let mut objectives = vec![
        objective("low-median", Indicator::ReviewMedian, 4.0, 4.0, 8.0),
        objective("low-p90", Indicator::ReviewP90, 4.0, 4.0, 8.0),
        objective("high-median", Indicator::ReviewMedian, 24.0, 24.0, 48.0),
    ];
    objectives[0].risk_tier = Some(RiskTier::Low);
    objectives[1].risk_tier = Some(RiskTier::Low);
    objectives[2].risk_tier = Some(RiskTier::High);
    let evidence = Evidence {
        events,
        capabilities: capabilities(),
        ..Evidence::default()
    };
    let end = plus(T0, 24 * 60);
    let scorecard = compute(
        &objectives,
        &period(T0, &end),
        at(&end),
        &evidence,
        &Settings::default(),
    );
    // Low: 2 h, 6 h and 1 h (p_3 from its submit).
    assert_eq!(value(&scorecard, "low-median"), Some(2.0));
    assert_eq!(value(&scorecard, "low-p90"), Some(6.0));
    assert_eq!(status(&scorecard, "low-median"), Status::Ok);
    assert_eq!(status(&scorecard, "low-p90"), Status::Warning);
    assert_eq!(value(&scorecard, "high-median"), Some(10.0));
    let waiting = &scorecard.details["proposal_review"]["waiting"];
    assert_eq!(waiting[0]["proposal"], "p_5");
    assert_eq!(waiting[0]["waiting_hours"], 23.5);
}

#[test]
fn clock_skew_between_records_never_gives_a_negative_review_time() {
    let cap = "firestore.ops_note.append";
    // The approving process's clock is an hour behind the proposing one.
    let events = vec![
        on(
            event(1, &plus(T0, 60), "staff:a", "propose", "allow"),
            cap,
            "p_1",
            json!({}),
        ),
        on(
            event(2, T0, "staff:b", "approve", "allow"),
            cap,
            "p_1",
            json!({"approvals": 1, "required": 1}),
        ),
    ];
    let mut objectives = vec![objective("median", Indicator::ReviewMedian, 4.0, 4.0, 8.0)];
    objectives[0].risk_tier = Some(RiskTier::Low);
    let evidence = Evidence {
        events,
        capabilities: capabilities(),
        ..Evidence::default()
    };
    let end = plus(T0, 120);
    let scorecard = compute(
        &objectives,
        &period(T0, &end),
        at(&end),
        &evidence,
        &Settings::default(),
    );
    // The chain's order says the approval came after the proposal: the review counts as
    // zero, never negative, and the proposal is named.
    assert_eq!(value(&scorecard, "median"), Some(0.0));
    assert_eq!(
        scorecard.details["proposal_review"]["clock_skew"],
        json!(["p_1"])
    );
}

#[test]
fn audit_completeness_names_the_proposals_with_gaps() {
    let cap = "firestore.ops_note.append";
    let events = vec![
        on(
            event(1, T0, "staff:a", "execute", "allow"),
            cap,
            "p_ok",
            json!({"approvals": ["a_1"]}),
        ),
        on(
            event(2, &plus(T0, 1), "staff:a", "execution", "succeeded"),
            cap,
            "p_ok",
            json!({}),
        ),
        // No approval and no outcome.
        on(
            event(3, &plus(T0, 5), "staff:a", "execute", "allow"),
            cap,
            "p_gap",
            json!({"approvals": []}),
        ),
        // Exempted, and its outcome recorded by a process whose clock is behind.
        on(
            event(4, &plus(T0, 10), "staff:a", "execute", "allow"),
            cap,
            "p_exempt",
            json!({"approvals": [], "exemption_in_force": true}),
        ),
        on(
            event(5, &plus(T0, 9), "staff:a", "execution", "failed"),
            cap,
            "p_exempt",
            json!({}),
        ),
        // In flight: too recent to call a gap.
        on(
            event(6, &plus(T0, 115), "staff:a", "execute", "allow"),
            cap,
            "p_running",
            json!({"approvals": ["a_2"]}),
        ),
        // Denied attempts and brain's own target do not count.
        on(
            event(7, &plus(T0, 20), "staff:a", "execute", "deny"),
            cap,
            "p_denied",
            json!({}),
        ),
        on(
            event(8, &plus(T0, 20), "staff:a", "execute", "allow"),
            "brain.big.change",
            "p_internal",
            json!({}),
        ),
    ];
    let scorecard = run(events, T0, &plus(T0, 120));
    assert_eq!(value(&scorecard, "audit_completeness"), Some(66.67));
    assert_eq!(status(&scorecard, "audit_completeness"), Status::Critical);
    let slo = scorecard.slo("audit_completeness").expect("present");
    assert!(slo.note.contains("p_gap"), "{}", slo.note);
    let gaps = &scorecard.details["audit_completeness"]["gaps"];
    assert_eq!(gaps.as_array().map(Vec::len), Some(1));
    assert_eq!(gaps[0]["missing"], json!(["approval", "outcome"]));
    assert_eq!(
        scorecard.details["audit_completeness"]["in_flight"],
        json!(["p_running"])
    );
}

fn daemon_run(started: &str, last_seen: &str, stopped: Option<&str>) -> DaemonRun {
    DaemonRun {
        started_at: started.to_string(),
        last_seen: last_seen.to_string(),
        stopped_at: stopped.map(str::to_string),
        version: "test".into(),
    }
}

fn with_runs(events: Vec<AuditEvent>, runs: Vec<DaemonRun>, from: &str, to: &str) -> Scorecard {
    let evidence = Evidence {
        events,
        runs,
        capabilities: capabilities(),
        ..Evidence::default()
    };
    compute(
        &every_objective(),
        &period(from, to),
        at(to),
        &evidence,
        &Settings::default(),
    )
}

#[test]
fn downtime_comes_from_stops_crashes_and_missing_heartbeats() {
    let runs = vec![
        daemon_run(T0, &plus(T0, 60), Some(&plus(T0, 60))),
        // Crashed after its last heartbeat at 175; started again at 200.
        daemon_run(&plus(T0, 120), &plus(T0, 175), None),
        daemon_run(&plus(T0, 200), &plus(T0, 239), None),
    ];
    let scorecard = with_runs(Vec::new(), runs, T0, &plus(T0, 240));
    let downtime = scorecard.details["local_failure"]["downtime"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let causes: Vec<&str> = downtime
        .iter()
        .filter_map(|window| window["cause"].as_str())
        .collect();
    assert_eq!(causes, ["stopped", "crashed"]);
    assert_eq!(downtime[0]["minutes"], 60.0);
    assert_eq!(downtime[1]["minutes"], 25.0);
    // 240 minutes, 85 of them down.
    assert_eq!(
        value(&scorecard, "brain_uptime"),
        Some(round2(155.0 * 100.0 / 240.0))
    );
    assert_eq!(value(&scorecard, "cloud_writes_during_downtime"), Some(0.0));
}

#[test]
fn a_silent_daemon_is_down_after_the_heartbeat_gap_and_writes_then_are_named() {
    let cap = "firestore.ops_note.append";
    // Its last heartbeat at 25, nothing since: down from 25 (the gap is 5 minutes).
    let runs = vec![daemon_run(T0, &plus(T0, 25), None)];
    let events = vec![on(
        event(50, &plus(T0, 60), "staff:a", "execution", "succeeded"),
        cap,
        "p_9",
        json!({}),
    )];
    let scorecard = with_runs(events, runs.clone(), T0, &plus(T0, 180));
    let downtime = &scorecard.details["local_failure"]["downtime"];
    assert_eq!(downtime.as_array().map(Vec::len), Some(1), "{downtime}");
    assert_eq!(downtime[0]["cause"], "no_heartbeat");
    assert_eq!(downtime[0]["from"], plus(T0, 25));
    assert_eq!(value(&scorecard, "cloud_writes_during_downtime"), Some(1.0));
    assert_eq!(
        scorecard.details["local_failure"]["cloud_writes_during_downtime"][0]["proposal"],
        "p_9"
    );
    // Within the gap it is up, and the same write is not during downtime.
    let scorecard = with_runs(Vec::new(), runs, T0, &plus(T0, 28));
    assert_eq!(value(&scorecard, "brain_uptime"), Some(100.0));
}

#[test]
fn a_daemon_started_before_the_period_is_known_to_be_running() {
    let runs = vec![daemon_run(
        "2026-10-01T00:00:00.000000Z",
        &plus(T0, 59),
        None,
    )];
    let scorecard = with_runs(Vec::new(), runs, T0, &plus(T0, 60));
    assert_eq!(value(&scorecard, "brain_uptime"), Some(100.0));
    // Runs only after the period: nothing to say about it.
    let runs = vec![daemon_run(&plus(T0, 90), &plus(T0, 95), None)];
    let scorecard = with_runs(Vec::new(), runs, T0, &plus(T0, 60));
    assert_eq!(value(&scorecard, "brain_uptime"), None);
}

#[test]
fn connector_availability_and_time_to_recover_come_from_health_changes() {
    let actor = "system:connector:hubitat";
    let events = vec![
        event(2, &plus(T0, 1), actor, CONNECTOR_HEALTH_ACTION, "healthy"),
        event(
            3,
            &plus(T0, 10),
            "system:snapshotter",
            "snapshot",
            "succeeded",
        ),
        event(4, &plus(T0, 21), actor, CONNECTOR_HEALTH_ACTION, "down"),
        event(
            5,
            &plus(T0, 25),
            "system:snapshotter",
            "snapshot",
            "succeeded",
        ),
        event(6, &plus(T0, 41), actor, CONNECTOR_HEALTH_ACTION, "healthy"),
        event(
            7,
            &plus(T0, 50),
            "system:snapshotter",
            "snapshot",
            "succeeded",
        ),
        event(
            8,
            &plus(T0, 60),
            "system:connector:roborock",
            CONNECTOR_HEALTH_ACTION,
            "down",
        ),
    ];
    let mut objectives = vec![
        objective(
            "hubitat",
            Indicator::ConnectorAvailability,
            99.0,
            99.0,
            95.0,
        ),
        objective("worst", Indicator::ConnectorAvailability, 99.0, 99.0, 95.0),
        objective("mttr", Indicator::ConnectorMttr, 30.0, 30.0, 60.0),
    ];
    objectives[0].connector = Some("hubitat".into());
    let evidence = Evidence {
        events,
        first_event_at: Some(at(T0)),
        ..Evidence::default()
    };
    let end = plus(T0, 61);
    let scorecard = compute(
        &objectives,
        &period(T0, &end),
        at(&end),
        &evidence,
        &Settings::default(),
    );
    // Hubitat: up 1–21 and 41–61 (40 min), down 21–41 (20 min).
    assert_eq!(value(&scorecard, "hubitat"), Some(66.67));
    assert_eq!(status(&scorecard, "hubitat"), Status::Critical);
    // Roborock: down its one observed minute.
    assert_eq!(value(&scorecard, "worst"), Some(0.0));
    assert_eq!(value(&scorecard, "mttr"), Some(20.0));
    assert_eq!(
        scorecard.details["connectors"]["roborock"]["down_since"],
        plus(T0, 60)
    );
}

fn draft(
    swarm: &str,
    rule: &str,
    created: &str,
    state: ProposalState,
    approved: bool,
    updated: &str,
) -> SwarmDraft {
    SwarmDraft {
        finding: SwarmFindingRecord {
            id: format!("f_{rule}_{created}"),
            swarm: swarm.into(),
            rule: rule.into(),
            rule_version: 1,
            subject: "s".into(),
            severity: "low".into(),
            confidence: 0.9,
            run_id: "r".into(),
            proposal_id: "p".into(),
            created_at: created.into(),
        },
        state,
        approved,
        updated_at: updated.into(),
        closed_reason: None,
        closed_by: None,
    }
}

#[test]
fn swarm_acceptance_counts_decided_drafts_per_swarm_and_rule() {
    let drafts = vec![
        draft(
            "ops",
            "queue_spike",
            &plus(T0, 1),
            ProposalState::Expired,
            true,
            &plus(T0, 61),
        ),
        draft(
            "ops",
            "queue_spike",
            &plus(T0, 2),
            ProposalState::Rejected,
            false,
            &plus(T0, 182),
        ),
        draft(
            "ops",
            "device_alert",
            &plus(T0, 3),
            ProposalState::Draft,
            false,
            &plus(T0, 3),
        ),
        draft(
            "marketing",
            "kiln_back",
            &plus(T0, 4),
            ProposalState::Approved,
            true,
            &plus(T0, 34),
        ),
        // Before the period.
        draft(
            "ops",
            "queue_spike",
            "2026-11-01T00:00:00.000000Z",
            ProposalState::Rejected,
            false,
            T0,
        ),
    ];
    let mut objectives = vec![
        objective("all", Indicator::SwarmAcceptance, 50.0, 50.0, 20.0),
        objective("ops", Indicator::SwarmAcceptance, 50.0, 50.0, 20.0),
    ];
    objectives[1].swarm = Some("ops".into());
    let evidence = Evidence {
        drafts,
        ..Evidence::default()
    };
    let end = plus(T0, 600);
    let scorecard = compute(
        &objectives,
        &period(T0, &end),
        at(&end),
        &evidence,
        &Settings::default(),
    );
    assert_eq!(value(&scorecard, "all"), Some(66.67));
    assert_eq!(value(&scorecard, "ops"), Some(50.0));
    let ops = &scorecard.details["swarms"]["ops"];
    assert_eq!(ops["drafts"], 3);
    assert_eq!(ops["pending"], 1);
    assert_eq!(ops["median_disposition_hours"], 2.0);
    assert_eq!(ops["rules"]["queue_spike"]["acceptance_percent"], 50.0);
}

#[test]
fn thresholds_read_in_the_indicators_direction() {
    let share = objective("share", Indicator::SnapshotFreshness, 95.0, 95.0, 90.0);
    assert_eq!(share.status(Some(95.0)), Status::Ok);
    assert_eq!(share.status(Some(94.9)), Status::Warning);
    assert_eq!(share.status(Some(89.0)), Status::Critical);
    assert_eq!(share.status(None), Status::NoData);
    let latency = objective("latency", Indicator::ReviewMedian, 4.0, 4.0, 8.0);
    assert_eq!(latency.status(Some(4.0)), Status::Ok);
    assert_eq!(latency.status(Some(5.0)), Status::Warning);
    assert_eq!(latency.status(Some(8.5)), Status::Critical);
    let count = objective("count", Indicator::CloudWritesDuringDowntime, 0.0, 0.0, 0.0);
    assert_eq!(count.status(Some(0.0)), Status::Ok);
    assert_eq!(count.status(Some(1.0)), Status::Critical);
}

#[test]
fn the_last_breach_is_the_newest_audited_breach_of_the_objective() {
    let mut first = event(1, T0, "system:scorecard", SLO_ACTION, "breach");
    first.reason_codes = vec!["SLO_BREACH".into()];
    first.detail = json!({"slo": "snapshot_freshness"});
    let mut second = first.clone();
    second.seq = 2;
    second.at = plus(T0, 30);
    let mut recovered = first.clone();
    recovered.seq = 3;
    recovered.at = plus(T0, 40);
    recovered.reason_codes = vec!["SLO_RECOVERED".into()];
    let scorecard = run(vec![first, second, recovered], T0, &plus(T0, 60));
    let slo = scorecard.slo("snapshot_freshness").expect("present");
    assert_eq!(slo.last_breach_at.as_deref(), Some(plus(T0, 30).as_str()));
}

#[test]
fn periods_parse_and_bad_ones_say_what_to_write() {
    let now = at(T0);
    let week = Period::parse("7d", now, chrono_tz::UTC).expect("7d");
    assert_eq!(week.end - week.start, chrono::Duration::days(7));
    assert_eq!(
        Period::parse("day", now, chrono_tz::UTC).map(|p| p.end - p.start),
        Ok(chrono::Duration::days(1))
    );
    let month =
        Period::parse("month:2026-11", now, chrono_tz::America::Los_Angeles).expect("month");
    assert_eq!(format_time(month.start), "2026-11-01T07:00:00.000000Z");
    assert_eq!(format_time(month.end), "2026-12-01T08:00:00.000000Z");
    let previous = month.previous();
    assert_eq!(previous.label, "month:2026-10");
    assert_eq!(previous.end, month.start);
    assert_eq!(format_time(previous.start), "2026-10-01T07:00:00.000000Z");
    let december = Period::parse("month:2026-12", now, chrono_tz::UTC).expect("december");
    assert_eq!(format_time(december.end), "2027-01-01T00:00:00.000000Z");
    for bad in [
        "",
        "7",
        "7x",
        "month:2026-13",
        "month:26-11",
        "0d",
        "9999d",
        "month:",
    ] {
        let error = Period::parse(bad, now, chrono_tz::UTC).expect_err(bad);
        assert!(error.contains('`'), "{bad}: {error}");
    }
}

#[test]
fn days_are_calendar_days_in_the_zone_ending_now() {
    // 2026-11-01 is the day the US leaves daylight saving time: 25 hours long in Los Angeles.
    let now = at("2026-11-02T20:00:00Z");
    let days = Period::days(3, now, chrono_tz::America::Los_Angeles);
    let labels: Vec<&str> = days.iter().map(|day| day.label.as_str()).collect();
    assert_eq!(labels, ["2026-10-31", "2026-11-01", "2026-11-02"]);
    assert_eq!(format_time(days[0].start), "2026-10-31T07:00:00.000000Z");
    assert_eq!(days[1].end - days[1].start, chrono::Duration::hours(25));
    assert_eq!(days[0].end, days[1].start);
    assert_eq!(days[2].end, now, "today ends now");
    assert!(Period::days(0, now, chrono_tz::UTC).is_empty());
}

#[test]
fn the_review_names_breaches_owners_and_trends() {
    let events = vec![event(1, T0, "system:snapshotter", "snapshot", "succeeded")];
    let mut scorecard = run(events.clone(), T0, &plus(T0, 60));
    scorecard.slos[0].on_call = Some("page the front desk".into());
    let previous = run(events, T0, &plus(T0, 30));
    let text = markdown::render("Clay | Kiln", &scorecard, Some(&previous));
    assert!(
        text.contains("# Scorecard review: Clay \\| Kiln (test)"),
        "{text}"
    );
    assert!(text.contains("| Snapshot freshness (`snapshot_freshness`) | 25% | 95% | **critical** | ↓ −25% (worse) |"), "{text}");
    assert!(text.contains("- [ ] staff:admin: bring `snapshot_freshness` back to 95% (on call: page the front desk)."), "{text}");
    assert!(
        text.contains("3 window(s) without a complete snapshot"),
        "{text}"
    );
    assert!(text.contains("## Without data"), "{text}");
}

#[test]
fn the_review_lists_every_breach_audited_in_the_period_with_its_recovery() {
    let alert = |seq: i64, minutes: i64, code: &str, decision: &str, status: &str, value: f64| {
        let mut event = event(
            seq,
            &plus(T0, minutes),
            "system:scorecard",
            SLO_ACTION,
            decision,
        );
        event.reason_codes = vec![code.to_string()];
        event.detail = json!({"slo": "audit_completeness", "status": status, "value": value});
        event
    };
    let events = vec![
        event(1, T0, "system:snapshotter", "snapshot", "succeeded"),
        alert(2, 5, "SLO_BREACH", "breach", "warning", 99.0),
        // Worse, then back: one breach.
        alert(3, 6, "SLO_BREACH", "breach", "critical", 80.0),
        alert(4, 9, "SLO_RECOVERED", "recovered", "ok", 100.0),
        alert(5, 20, "SLO_BREACH", "breach", "critical", 50.0),
        alert(6, 25, "SLO_RECOVERED", "recovered", "ok", 100.0),
    ];
    let scorecard = run(events, T0, &plus(T0, 60));
    assert_eq!(
        scorecard.details["alerts"].as_array().map(Vec::len),
        Some(5)
    );
    let text = markdown::render("Clay", &scorecard, None);
    assert!(
        text.contains("### Breaches audited in the period"),
        "{text}"
    );
    // A warning that turned critical is one breach, listed with its first status.
    for (status, from, to) in [("warning, 99%", 5, 9), ("critical, 50%", 20, 25)] {
        let line = format!(
            "- `audit_completeness` breached at {} ({status}), recovered at {}.",
            plus(T0, from),
            plus(T0, to)
        );
        assert!(text.contains(&line), "{line}\n{text}");
    }
    assert!(
        text.contains(&format!(
            "- [ ] staff:admin: find why `audit_completeness` breached 2 times in the period (last at {}) although it recovered.",
            plus(T0, 20)
        )),
        "{text}"
    );
    // Outside the period: not listed.
    let later = run(
        vec![alert(1, 5, "SLO_BREACH", "breach", "warning", 99.0)],
        &plus(T0, 30),
        &plus(T0, 60),
    );
    assert_eq!(later.details["alerts"], json!([]));
}
