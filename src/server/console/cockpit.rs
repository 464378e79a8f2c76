//! The cockpit's panels beyond its facts table: the service-level objectives as tiles (value,
//! status, thresholds, last audited breach, why there is no data), and the recent audit
//! timeline. Each panel has explicit empty and failed states: it never leaves a blank.

use super::{AppState, Viewer, esc};
use crate::engine::ErrorBody;
use crate::scorecard::markdown::{unit_text, value_text};
use crate::scorecard::{Indicator, Objective, Period, Status};
use crate::server::charts::{LineChart, Point};
use crate::store::AuditFilter;

/// A panel that could not be read: its heading and the reason in words (`what` is the subject
/// and its verb, as `The audit log is`), then `after`.
pub(super) fn panel_error(
    id: &str,
    heading: &str,
    what: &str,
    error: &crate::engine::EngineError,
    after: &str,
) -> String {
    format!(
        "<section id=\"{id}\">{heading}<p class=\"state-note state-error\" id=\"{id}-error\">{what} not shown: {}.</p>{after}</section>",
        esc(&ErrorBody::from_error(error, false).message)
    )
}

/// The objectives over `slos.alert_window` (what the daemon alerts on), as tiles.
pub(super) async fn slo_panel(state: &AppState) -> String {
    let slos = &state.config.config.slos;
    let window = slos.alert_window;
    let heading = format!(
        "<h2>Objectives <span class=\"derived\">from brain's audit log, the last {}</span></h2>",
        esc(&window.to_string())
    );
    let objectives = slos.objectives();
    if objectives.is_empty() {
        return format!(
            "<section id=\"slos\">{heading}<p class=\"state-note state-empty\" id=\"slos-empty\">No objectives are configured: add them under <code>slos.objectives</code> in brain.yaml (<code>brain scorecard</code> reports them).</p></section>"
        );
    }
    let now = crate::clock::now();
    let period = Period {
        label: format!("last {window}"),
        start: now - chrono::Duration::seconds(i64::try_from(window.as_secs()).unwrap_or(86_400)),
        end: now,
        zone: super::super::studio_zone(state),
    };
    let settings = slos.settings(&state.config.config);
    let scorecard = match state
        .engine
        .compute_scorecard(&objectives, &period, &settings, now)
        .await
    {
        Ok(scorecard) => scorecard,
        Err(error) => {
            return format!(
                "<section id=\"slos\">{heading}<div class=\"state-note state-error\" id=\"slos-error\" role=\"alert\"><p>The objectives cannot be computed: {}.</p><p>They are read from brain's store; until it answers, no value is shown rather than a guess.</p></div></section>",
                esc(&ErrorBody::from_error(&error, false).message)
            );
        }
    };
    let tiles: String = scorecard
        .slos
        .iter()
        .map(|slo| {
            let direction = if slo.indicator.higher_is_better() {
                "under"
            } else {
                "over"
            };
            let breach = match &slo.last_breach_at {
                Some(at) => {
                    let ago = crate::clock::parse_time(at)
                        .map(|time| crate::clock::human_duration((now - time).num_seconds()))
                        .unwrap_or_default();
                    format!(
                        "<p class=\"breach\">last breach <time datetime=\"{at}\">{ago} ago</time></p>",
                        at = esc(at)
                    )
                }
                None => "<p class=\"breach none\">no breach recorded</p>".to_string(),
            };
            format!(
                "<div class=\"tile slo-{status}\" id=\"slo-{id}\" data-status=\"{status}\"><h3>{title} <code>{id}</code></h3><p class=\"value\">{value}</p><p class=\"status\">{status_words}</p><p class=\"thresholds\">target {target}; warning {direction} {warning}, critical {direction} {critical}</p>{breach}<p class=\"note\">{note}</p><p class=\"owner\">owner {owner}</p></div>",
                status = slo.status.as_str(),
                id = esc(&slo.id),
                title = esc(&slo.title),
                value = esc(&value_text(slo)),
                status_words = match slo.status {
                    Status::Ok => "ok",
                    Status::Warning => "WARNING",
                    Status::Critical => "CRITICAL",
                    Status::NoData => "no data",
                },
                target = esc(&unit_text(slo.target, &slo.unit)),
                warning = esc(&unit_text(slo.warning, &slo.unit)),
                critical = esc(&unit_text(slo.critical, &slo.unit)),
                note = esc(&slo.note),
                owner = esc(&slo.owner),
            )
        })
        .collect();
    let breached = scorecard
        .slos
        .iter()
        .filter(|slo| slo.status.is_breach())
        .count();
    let summary = if breached == 0 {
        "<p id=\"slos-summary\">No objective is breached.</p>".to_string()
    } else {
        format!(
            "<p id=\"slos-summary\" class=\"bad\">{breached} objective(s) breached: the monthly review (<code>brain scorecard --format markdown</code>) lists what to do.</p>"
        )
    };
    format!("<section id=\"slos\">{heading}{summary}<div class=\"tiles\">{tiles}</div></section>")
}

/// The newest audit events, newest first.
pub(super) async fn timeline_panel(state: &AppState, viewer: &Viewer) -> String {
    let heading = "<h2>Recent audit events <a href=\"/audit\">all</a></h2>";
    let events = state
        .engine
        .audit_tail(
            &viewer.caller,
            &AuditFilter {
                limit: 12,
                ..AuditFilter::default()
            },
        )
        .await;
    let events = match events {
        Ok(events) => events,
        Err(error) => return panel_error("timeline", heading, "The audit log is", &error, ""),
    };
    if events.is_empty() {
        return format!(
            "<section id=\"timeline\">{heading}<p class=\"state-note state-empty\" id=\"timeline-empty\">Nothing was recorded yet.</p></section>"
        );
    }
    let now = crate::clock::now();
    let rows: String = events
        .iter()
        .map(|event| {
            let ago = crate::clock::parse_time(&event.at)
                .map(|time| crate::clock::human_duration((now - time).num_seconds()))
                .unwrap_or_default();
            format!(
                "<tr><td><time datetime=\"{at}\">{ago} ago</time></td><td><code>{actor}</code></td><td>{action}</td><td class=\"decision-{decision}\">{decision}</td><td>{subject}</td><td>{reasons}</td></tr>",
                at = esc(&event.at),
                actor = esc(&event.actor),
                action = esc(&event.action),
                decision = esc(&event.decision),
                subject = match (&event.proposal_id, &event.capability) {
                    (Some(id), _) => format!(
                        "<a href=\"/proposals/{}\"><code>{}</code></a>",
                        crate::server::encode_segment(id),
                        esc(id)
                    ),
                    (None, Some(capability)) => format!("<code>{}</code>", esc(capability)),
                    (None, None) => event.detail["slo"]
                        .as_str()
                        .map(|slo| format!("objective <code>{}</code>", esc(slo)))
                        .unwrap_or_default(),
                },
                reasons = esc(&event.reason_codes.join(", ")),
            )
        })
        .collect();
    format!(
        "<section id=\"timeline\">{heading}<table class=\"list\"><thead><tr><th>When</th><th>Actor</th><th>Action</th><th>Decision</th><th>About</th><th>Reasons</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )
}

/// How many days the cockpit's charts cover.
const TREND_DAYS: u32 = 14;

/// An objective computed for a chart only: no thresholds, owner or alert reads it.
fn charted(id: &str, indicator: Indicator, connector: Option<&str>) -> Objective {
    Objective {
        id: id.to_string(),
        title: indicator.default_title().to_string(),
        indicator,
        target: 0.0,
        warning: 0.0,
        critical: 0.0,
        owner: String::new(),
        on_call: None,
        risk_tier: None,
        connector: connector.map(str::to_string),
        swarm: None,
    }
}

/// The charts a person would rather look at than read: proposal review time, snapshot
/// freshness and each connector's availability, one point per day over the last two weeks.
pub(super) async fn trends_panel(state: &AppState) -> String {
    let heading = format!(
        "<h2>Trends <span class=\"derived\">per day, the last {TREND_DAYS} days, from brain's audit log</span></h2>"
    );
    let now = crate::clock::now();
    let days = Period::days(TREND_DAYS, now, super::super::studio_zone(state));
    let connectors: Vec<String> = state
        .connectors
        .statuses()
        .into_iter()
        .map(|status| status.id)
        .collect();
    let mut objectives = vec![
        charted("review", Indicator::ReviewMedian, None),
        charted("freshness", Indicator::SnapshotFreshness, None),
    ];
    objectives.extend(
        connectors
            .iter()
            .map(|id| charted(id, Indicator::ConnectorAvailability, Some(id))),
    );
    let settings = state.config.config.slos.settings(&state.config.config);
    let series = match state
        .engine
        .scorecard_series(&objectives, &days, &settings, now)
        .await
    {
        Ok(series) => series,
        Err(error) => {
            return format!(
                "<section id=\"trends\">{heading}<p class=\"state-note state-error\" id=\"trends-error\" role=\"alert\">The charts cannot be drawn: {}. They are computed from brain's store; until it answers, no line is drawn rather than a guess.</p></section>",
                esc(&ErrorBody::from_error(&error, false).message)
            );
        }
    };
    let points = |index: usize| -> Vec<Point> {
        days.iter()
            .zip(&series)
            .map(|(day, card)| {
                let label = day.label.get(5..).unwrap_or(&day.label).to_string();
                Point::new(label, card.slos.get(index).and_then(|slo| slo.value.0))
            })
            .collect()
    };
    // Without any value, the newest day's note says why (what the scorecard found missing).
    let why_empty = |index: usize| -> String {
        series
            .last()
            .and_then(|card| card.slos.get(index))
            .map(|slo| slo.note.clone())
            .unwrap_or_default()
    };
    let figure = |id: &str, title: &str, unit: &str, points: Vec<Point>, empty: &str| {
        let latest = points
            .iter()
            .rev()
            .find_map(|point| point.value.map(|value| (point.label.clone(), value)));
        let caption = match latest {
            Some((label, value)) => format!(
                "{} {unit} on {}",
                esc(&crate::server::charts::number(value)),
                esc(&label)
            ),
            None => esc(empty),
        };
        let chart = LineChart::with_axes(title, unit).of("days");
        format!(
            "<figure class=\"trend\" id=\"trend-{id}\" data-points=\"{count}\"><figcaption><strong>{title}</strong> <span class=\"latest\">{caption}</span></figcaption>{svg}</figure>",
            id = esc(id),
            count = points.iter().filter(|point| point.value.is_some()).count(),
            title = esc(title),
            svg = chart.render(&points),
        )
    };
    let mut figures = figure(
        "review",
        "Proposal review time, median",
        "hours",
        points(0),
        &why_empty(0),
    );
    figures.push_str(&figure(
        "freshness",
        "Snapshot windows with a complete snapshot",
        "%",
        points(1),
        &why_empty(1),
    ));
    if connectors.is_empty() {
        figures.push_str("<p class=\"state-note state-empty\" id=\"trend-connectors-empty\">No device connector is configured, so there is no availability to chart.</p>");
    }
    for (offset, id) in connectors.iter().enumerate() {
        figures.push_str(&figure(
            &format!("connector-{id}"),
            &format!("Connector {id}: available"),
            "%",
            points(2 + offset),
            &why_empty(2 + offset),
        ));
    }
    format!("<section id=\"trends\">{heading}<div class=\"trends\">{figures}</div></section>")
}

/// The daemons serving this store: which leads (and runs the scheduled work), each one's last
/// heartbeat and version. For those allowed to read the audit log, as `GET /api/v1/cluster`.
pub(super) async fn cluster_panel(state: &AppState, viewer: &Viewer) -> String {
    let heading = "<h2>Daemons <span class=\"derived\">heartbeats and the leader lease, from the store</span></h2>";
    let this = esc(&state.cluster.instance_id);
    let own = format!(
        "<p class=\"note\">This page came from <code>{this}</code>, which {}.</p>",
        if state.cluster.is_leader() {
            "leads: it runs the scheduled work"
        } else {
            "does not lead"
        }
    );
    let view = async {
        state
            .engine
            .authorize_area(&viewer.caller, crate::policy::decide::Action::Audit)
            .await?;
        Ok(state.cluster.view(&*state.store).await?)
    };
    let view = match view.await {
        Ok(view) => view,
        Err(error) => return panel_error("cluster", heading, "The daemons are", &error, &own),
    };
    let now = crate::clock::now();
    let ago = |at: &str| super::studio_state::ago(at, now);
    let leader_id = view
        .leader
        .as_ref()
        .map(|leader| leader.instance_id.as_str());
    let lease = match &view.leader {
        Some(leader) => {
            let expires = crate::clock::parse_time(&leader.lease_expires_at);
            let state_text = match expires {
                Some(expires) if expires > now => format!(
                    "held, renewed until <time datetime=\"{at}\">{left} from now</time>",
                    at = esc(&leader.lease_expires_at),
                    left = crate::clock::human_duration((expires - now).num_seconds())
                ),
                _ => "<span class=\"bad\">expired</span>: the next heartbeat of a daemon takes it"
                    .to_string(),
            };
            format!(
                "<p id=\"cluster-leader\">Leader <code>{}</code> since {}: {state_text}.</p>",
                esc(&leader.instance_id),
                ago(&leader.since)
            )
        }
        None => "<p class=\"state-note state-stale\" id=\"cluster-leader\">No daemon holds the leader lease: nothing runs the scheduled work until one takes it (within a heartbeat of starting).</p>".to_string(),
    };
    let rows: String = view
        .members
        .iter()
        .map(|member| {
            let mut badges = String::new();
            if Some(member.instance_id.as_str()) == leader_id {
                badges.push_str(" <span class=\"badge\">leader</span>");
            }
            if member.instance_id == view.instance_id {
                badges.push_str(" <span class=\"badge\">this page</span>");
            }
            format!(
                "<tr data-instance=\"{id}\"><td><code>{id}</code>{badges}</td><td><code>{address}</code></td><td>{beat}</td><td>{started}</td><td>{version}</td></tr>",
                id = esc(&member.instance_id),
                address = esc(&member.address),
                beat = ago(&member.last_heartbeat_at),
                started = ago(&member.started_at),
                version = esc(&member.version),
            )
        })
        .collect();
    let members = if view.members.is_empty() {
        "<p class=\"state-note state-empty\" id=\"cluster-empty\">No daemon has written a heartbeat in the last 30 seconds.</p>".to_string()
    } else {
        format!(
            "<table class=\"list\" id=\"cluster-members\"><tr><th>Daemon</th><th>Address</th><th>Last heartbeat</th><th>Started</th><th>Version</th></tr>{rows}</table>"
        )
    };
    format!("<section id=\"cluster\">{heading}{lease}{members}{own}</section>")
}

/// The newest run of each drill scenario (`brain drill run`), and the ones never run.
pub(super) async fn drills_panel(state: &AppState, viewer: &Viewer) -> String {
    let heading =
        "<h2>Drills <span class=\"derived\">the newest run of each, from the audit log</span></h2>";
    let runs = match state.engine.drill_history(&viewer.caller).await {
        Ok(runs) => runs,
        Err(error) => return panel_error("drills", heading, "The drill history is", &error, ""),
    };
    let now = crate::clock::now();
    let tiles: String = crate::drill::SCENARIOS
        .iter()
        .map(|scenario| {
            let run = runs
                .iter()
                .find(|run| run.report["scenario"].as_str() == Some(scenario.name));
            let (status, body) = match run {
                None => (
                    "never",
                    format!(
                        "<p class=\"value\">never run</p><p class=\"note\">run it with <code>brain drill run {}</code></p>",
                        esc(scenario.name)
                    ),
                ),
                Some(run) => {
                    let passed = run.report["outcome"].as_str() == Some("passed");
                    let ago = crate::clock::parse_time(&run.at)
                        .map(|time| crate::clock::human_duration((now - time).num_seconds()))
                        .unwrap_or_default();
                    let checks = run.report["checks"].as_array().map(Vec::len).unwrap_or(0);
                    let failed: Vec<String> = run.report["checks"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|check| check["passed"].as_bool() != Some(true))
                        .filter_map(|check| check["name"].as_str().map(esc))
                        .collect();
                    let recovery = run.report["recovery_seconds"]
                        .as_f64()
                        .map(|seconds| {
                            format!(
                                "<p class=\"note\">recovered in {} s</p>",
                                crate::server::charts::number(seconds)
                            )
                        })
                        .unwrap_or_default();
                    let outcome = if passed {
                        format!("<p class=\"value\">passed</p><p class=\"note\">{checks} checks passed</p>")
                    } else {
                        format!(
                            "<p class=\"value\">FAILED</p><p class=\"note\">failed: {}</p>",
                            failed.join(", ")
                        )
                    };
                    (
                        if passed { "passed" } else { "failed" },
                        format!(
                            "{outcome}{recovery}<p class=\"breach\"><time datetime=\"{at}\">{ago} ago</time> by <code>{actor}</code>, audit event {seq}</p>",
                            at = esc(&run.at),
                            actor = esc(&run.actor),
                            seq = run.seq,
                        ),
                    )
                }
            };
            format!(
                "<div class=\"tile drill-{status}\" id=\"drill-{name}\" data-outcome=\"{status}\"><h3>{name}</h3>{body}<p class=\"note\">{summary}</p></div>",
                name = esc(scenario.name),
                summary = esc(scenario.summary),
            )
        })
        .collect();
    let summary = if runs.is_empty() {
        "<p class=\"state-note state-empty\" id=\"drills-empty\">No drill was run yet: <code>brain drill list</code> shows them, <code>docs/runbooks/drills.md</code> says when to run each.</p>".to_string()
    } else {
        String::new()
    };
    format!("<section id=\"drills\">{heading}{summary}<div class=\"tiles\">{tiles}</div></section>")
}

/// Each connector as a tile: its health with the degraded and down states named, its breaker,
/// its last good read and why polling paused or stopped.
pub(super) async fn connectors_panel(state: &AppState) -> String {
    let heading = "<h2>Connectors <a href=\"/devices\">devices</a></h2>";
    let statuses = crate::server::connector_statuses(state).await;
    if statuses.is_empty() {
        return format!(
            "<section id=\"connectors\">{heading}<p class=\"state-note state-empty\" id=\"connectors-empty\">No device connector is configured: add one under <code>connectors:</code> in brain.yaml (<code>brain connectors list</code> shows the kinds).</p></section>"
        );
    }
    let tiles: String = statuses
        .iter()
        .map(|status| {
            let health = status.health.as_str();
            let mut notes = Vec::new();
            if let Some(reason) = &status.reason {
                notes.push(esc(reason));
            }
            if let Some(paused) = &status.paused {
                notes.push(format!("paused: {}", esc(paused)));
            }
            if let Some(stopped) = &status.polling_stopped {
                notes.push(format!("polling stopped: {}", esc(stopped)));
            }
            let last = match status.last_success_age_seconds {
                Some(age) => format!("last good read {} ago", crate::clock::human_duration(age)),
                None => "no good read yet".to_string(),
            };
            format!(
                "<div class=\"tile connector-{health}\" id=\"connector-tile-{id}\" data-health=\"{health}\"><h3>{id} <code>{kind}</code></h3><p class=\"value\">{health}</p><p class=\"status\">breaker {breaker}</p><p class=\"note\">{last}; {requests} requests</p><p class=\"note\">{notes}</p></div>",
                id = esc(&status.id),
                kind = esc(&status.kind),
                breaker = esc(status.breaker.as_str()),
                requests = status.requests,
                notes = notes.join("<br>"),
            )
        })
        .collect();
    let degraded = statuses
        .iter()
        .filter(|status| status.health != crate::connectors::Health::Healthy)
        .count();
    let summary = if degraded == 0 {
        "<p id=\"connectors-summary\">Every connector is healthy.</p>".to_string()
    } else {
        format!(
            "<p id=\"connectors-summary\" class=\"bad\">{degraded} of {} connector(s) not healthy: readings from them may be old or missing, and capabilities that need them are denied.</p>",
            statuses.len()
        )
    };
    format!(
        "<section id=\"connectors\">{heading}{summary}<div class=\"tiles\">{tiles}</div></section>"
    )
}
