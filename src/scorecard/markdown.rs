//! The monthly review in Markdown (`brain scorecard --format markdown`): the objectives with
//! their trend against the previous period, the breaches (open at the period's end, and every
//! one audited in it with its recovery), and action items naming owners, on-call notes and the
//! records to look at.

use std::fmt::Write as _;

use super::{Scorecard, SloResult, Status};

/// A value with its unit, or `no data`.
pub fn value_text(slo: &SloResult) -> String {
    match slo.value.0 {
        None => "no data".into(),
        Some(value) => unit_text(value, &slo.unit),
    }
}

/// A number with its unit: `97.5%`, `3.2 h`, `12 min`, `0`.
pub fn unit_text(value: f64, unit: &str) -> String {
    let number = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        // Small values keep enough digits not to read as zero.
        let digits = if value.abs() < 0.01 { 4 } else { 2 };
        format!("{value:.digits$}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    };
    match unit {
        "percent" => format!("{number}%"),
        "hours" => format!("{number} h"),
        "minutes" => format!("{number} min"),
        _ => number,
    }
}

fn status_text(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Warning => "**warning**",
        Status::Critical => "**critical**",
        Status::NoData => "no data",
    }
}

/// Whether the value moved for the better, the worse, or not at all against `previous`.
fn trend(slo: &SloResult, previous: Option<&SloResult>) -> String {
    let (Some(now), Some(before)) = (slo.value.0, previous.and_then(|previous| previous.value.0))
    else {
        return "–".into();
    };
    let delta = now - before;
    if delta.abs() < 0.005 {
        return "= unchanged".into();
    }
    let better = (delta > 0.0) == slo.indicator.higher_is_better();
    let arrow = if delta > 0.0 { "↑" } else { "↓" };
    let sign = if delta > 0.0 { "+" } else { "−" };
    format!(
        "{arrow} {sign}{} ({})",
        unit_text(delta.abs(), &slo.unit),
        if better { "better" } else { "worse" }
    )
}

/// Markdown table cells must not hold pipes or line breaks.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Render the review.
pub fn render(studio: &str, scorecard: &Scorecard, previous: Option<&Scorecard>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Scorecard review: {} ({})\n",
        cell(studio),
        scorecard.period.label
    );
    let _ = writeln!(
        out,
        "Period {} to {}, computed {} from brain's audit log and records.",
        scorecard.period.start, scorecard.period.end, scorecard.computed_at
    );
    if let Some(previous) = previous {
        let _ = writeln!(
            out,
            "Trends compare with {} ({} to {}).",
            previous.period.label, previous.period.start, previous.period.end
        );
    }
    let _ = writeln!(out, "\n## Objectives\n");
    let _ = writeln!(
        out,
        "| objective | value | target | status | trend | owner | last breach |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for slo in &scorecard.slos {
        let before = previous.and_then(|previous| previous.slo(&slo.id));
        let _ = writeln!(
            out,
            "| {} (`{}`) | {} | {} | {} | {} | {} | {} |",
            cell(&slo.title),
            slo.id,
            value_text(slo),
            unit_text(slo.target, &slo.unit),
            status_text(slo.status),
            trend(slo, before),
            cell(&slo.owner),
            slo.last_breach_at.as_deref().unwrap_or("–"),
        );
    }
    let breaches: Vec<&SloResult> = scorecard
        .slos
        .iter()
        .filter(|slo| slo.status.is_breach())
        .collect();
    let _ = writeln!(out, "\n## Breaches\n");
    if breaches.is_empty() {
        let _ = writeln!(out, "None: every objective with data met its target.");
    }
    for slo in &breaches {
        let _ = writeln!(
            out,
            "- **{}** `{}` is {} ({}; warning at {}, critical at {}): {}.",
            slo.status.as_str(),
            slo.id,
            value_text(slo),
            if slo.indicator.higher_is_better() {
                "higher is better"
            } else {
                "lower is better"
            },
            unit_text(slo.warning, &slo.unit),
            unit_text(slo.critical, &slo.unit),
            cell(&slo.note)
        );
    }
    let audited = audited_breaches(scorecard);
    if !audited.is_empty() {
        let _ = writeln!(out, "\n### Breaches audited in the period\n");
        for breach in &audited {
            let _ = writeln!(
                out,
                "- `{}` breached at {} ({}, {}), {}.",
                breach.slo,
                breach.at,
                breach.status,
                breach.value,
                breach
                    .recovered_at
                    .as_deref()
                    .map_or("still open at the period's end".to_string(), |at| format!(
                        "recovered at {at}"
                    ))
            );
        }
    }
    let no_data: Vec<&SloResult> = scorecard
        .slos
        .iter()
        .filter(|slo| slo.status == Status::NoData)
        .collect();
    if !no_data.is_empty() {
        let _ = writeln!(out, "\n## Without data\n");
        for slo in no_data {
            let _ = writeln!(out, "- `{}`: {}.", slo.id, cell(&slo.note));
        }
    }
    let _ = writeln!(out, "\n## Action items\n");
    let mut items = 0;
    for slo in &breaches {
        items += 1;
        let _ = write!(
            out,
            "- [ ] {}: bring `{}` back to {}",
            cell(&slo.owner),
            slo.id,
            unit_text(slo.target, &slo.unit)
        );
        if let Some(on_call) = &slo.on_call {
            let _ = write!(out, " (on call: {})", cell(on_call.trim()));
        }
        let _ = writeln!(out, ".");
        for hint in hints(scorecard, slo) {
            let _ = writeln!(out, "  - {hint}");
        }
    }
    // Objectives that breached and recovered: nothing is wrong now, but something was.
    let mut recovered: Vec<&str> = audited
        .iter()
        .filter(|breach| breach.recovered_at.is_some())
        .map(|breach| breach.slo.as_str())
        .filter(|id| !breaches.iter().any(|slo| slo.id == *id))
        .collect();
    recovered.dedup();
    for id in recovered {
        let Some(slo) = scorecard.slos.iter().find(|slo| slo.id == id) else {
            continue;
        };
        let times: Vec<&str> = audited
            .iter()
            .filter(|breach| breach.slo == id)
            .map(|breach| breach.at.as_str())
            .collect();
        items += 1;
        let _ = writeln!(
            out,
            "- [ ] {}: find why `{id}` breached {} in the period (last at {}) although it recovered.",
            cell(&slo.owner),
            if times.len() == 1 {
                "once".to_string()
            } else {
                format!("{} times", times.len())
            },
            times.last().copied().unwrap_or("?")
        );
    }
    if items == 0 {
        let _ = writeln!(out, "None.");
    }
    out
}

/// One breach audited in the period, and when it recovered.
struct AuditedBreach {
    slo: String,
    at: String,
    status: String,
    value: String,
    recovered_at: Option<String>,
}

/// The `SLO_BREACH` events of the period (`details.alerts`), each with the `SLO_RECOVERED` that
/// ended it, ordered by objective then time.
fn audited_breaches(scorecard: &Scorecard) -> Vec<AuditedBreach> {
    let mut found: Vec<AuditedBreach> = Vec::new();
    for alert in scorecard.details["alerts"].as_array().into_iter().flatten() {
        let (Some(slo), Some(at)) = (alert["slo"].as_str(), alert["at"].as_str()) else {
            continue;
        };
        match alert["event"].as_str() {
            Some("breach") => {
                let unit = scorecard
                    .slos
                    .iter()
                    .find(|objective| objective.id == slo)
                    .map_or("", |objective| objective.unit.as_str());
                // A warning that turned critical is one breach: keep the first time.
                if found
                    .iter()
                    .any(|open| open.slo == slo && open.recovered_at.is_none())
                {
                    continue;
                }
                found.push(AuditedBreach {
                    slo: slo.to_string(),
                    at: at.to_string(),
                    status: alert["status"].as_str().unwrap_or("breach").to_string(),
                    value: alert["value"]
                        .as_f64()
                        .map_or("no value".to_string(), |value| unit_text(value, unit)),
                    recovered_at: None,
                });
            }
            Some("recovered") => {
                if let Some(open) = found
                    .iter_mut()
                    .rev()
                    .find(|open| open.slo == slo && open.recovered_at.is_none())
                {
                    open.recovered_at = Some(at.to_string());
                }
            }
            _ => {}
        }
    }
    found.sort_by(|a, b| a.slo.cmp(&b.slo).then_with(|| a.at.cmp(&b.at)));
    found
}

/// The records an action item points at.
fn hints(scorecard: &Scorecard, slo: &SloResult) -> Vec<String> {
    let details = &scorecard.details;
    let mut hints = Vec::new();
    match slo.indicator {
        super::Indicator::AuditCompleteness => {
            for gap in details["audit_completeness"]["gaps"]
                .as_array()
                .into_iter()
                .flatten()
            {
                hints.push(format!(
                    "proposal `{}` ({}) lacks: {}",
                    gap["proposal"].as_str().unwrap_or("?"),
                    gap["capability"].as_str().unwrap_or("?"),
                    gap["missing"]
                        .as_array()
                        .map(|missing| missing
                            .iter()
                            .filter_map(|item| item.as_str())
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                ));
            }
        }
        super::Indicator::SnapshotFreshness => {
            let missed = details["snapshot_freshness"]["missed_windows"]
                .as_array()
                .map_or(0, Vec::len);
            if missed > 0 {
                hints.push(format!(
                    "{missed} window(s) without a complete snapshot, the first at {}",
                    details["snapshot_freshness"]["missed_windows"][0]
                        .as_str()
                        .unwrap_or("?")
                ));
            }
        }
        super::Indicator::ConnectorAvailability | super::Indicator::ConnectorMttr => {
            if let Some(connectors) = details["connectors"].as_object() {
                for (id, connector) in connectors {
                    if let Some(since) = connector["down_since"].as_str() {
                        hints.push(format!("connector `{id}` is down since {since}"));
                    }
                }
            }
        }
        super::Indicator::ReviewMedian | super::Indicator::ReviewP90 => {
            for waiting in details["proposal_review"]["waiting"]
                .as_array()
                .into_iter()
                .flatten()
                .take(5)
            {
                hints.push(format!(
                    "proposal `{}` ({}) waits for review since {} h",
                    waiting["proposal"].as_str().unwrap_or("?"),
                    waiting["capability"].as_str().unwrap_or("?"),
                    waiting["waiting_hours"]
                ));
            }
        }
        super::Indicator::BrainUptime | super::Indicator::CloudWritesDuringDowntime => {
            for window in details["local_failure"]["downtime"]
                .as_array()
                .into_iter()
                .flatten()
                .take(5)
            {
                hints.push(format!(
                    "down {} to {} ({})",
                    window["from"].as_str().unwrap_or("?"),
                    window["to"].as_str().unwrap_or("?"),
                    window["cause"].as_str().unwrap_or("?")
                ));
            }
            for write in details["local_failure"]["cloud_writes_during_downtime"]
                .as_array()
                .into_iter()
                .flatten()
            {
                hints.push(format!(
                    "external write `{}` of proposal `{}` at {} while brain was down",
                    write["action"].as_str().unwrap_or("?"),
                    write["proposal"].as_str().unwrap_or("?"),
                    write["at"].as_str().unwrap_or("?")
                ));
            }
        }
        super::Indicator::SwarmAcceptance => {
            if let Some(swarms) = details["swarms"].as_object() {
                for (name, swarm) in swarms {
                    if let Some(rules) = swarm["rules"].as_object() {
                        for (rule, tally) in rules {
                            if tally["rejected"].as_i64().unwrap_or(0) > 0 {
                                hints.push(format!(
                                    "swarm `{name}` rule `{rule}`: {} of its drafts rejected",
                                    tally["rejected"]
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    hints
}
