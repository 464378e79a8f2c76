//! The cockpit's panels beyond its facts table: the service-level objectives as tiles (value,
//! status, thresholds, last audited breach, why there is no data), and the recent audit
//! timeline. Each panel has explicit empty and failed states: it never leaves a blank.

use super::{AppState, Viewer, esc};
use crate::engine::ErrorBody;
use crate::scorecard::markdown::{unit_text, value_text};
use crate::scorecard::{Period, Status};
use crate::store::AuditFilter;

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
                target = esc(&unit_text(slo.target, slo.unit)),
                warning = esc(&unit_text(slo.warning, slo.unit)),
                critical = esc(&unit_text(slo.critical, slo.unit)),
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
        Err(error) => {
            return format!(
                "<section id=\"timeline\">{heading}<p class=\"state-note state-error\" id=\"timeline-error\">The audit log is not shown: {}.</p></section>",
                esc(&ErrorBody::from_error(&error, false).message)
            );
        }
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
