//! When an objective's evaluation becomes an alert: the state kept per objective between
//! evaluations, and the pure transition from one evaluation to the next (a breach, a recovery,
//! a throttled reminder, or nothing).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{SloResult, Status};
use crate::clock::{format_time, parse_time};

/// What brain remembers of an objective between evaluations (the runtime entry
/// `slo.alert:<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertState {
    pub status: Status,
    /// When the objective entered `status`.
    pub since: String,
    /// When a notification about the current breach was last sent (queued).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notified_at: Option<String>,
}

/// What an evaluation calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// It became a breach, or a warning became critical: audited `SLO_BREACH`, notified.
    Breach,
    /// A breach ended with a value back within the objective: audited `SLO_RECOVERED`,
    /// notified.
    Recovered,
    /// Still breached, and the last notification is older than the repeat interval: notified
    /// again, not audited again.
    Reminder,
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Breach => "breach",
            Transition::Recovered => "recovered",
            Transition::Reminder => "reminder",
        }
    }

    /// The reason code of its audit event (reminders have none: they are not audited).
    pub fn reason_code(self) -> Option<&'static str> {
        match self {
            Transition::Breach => Some("SLO_BREACH"),
            Transition::Recovered => Some("SLO_RECOVERED"),
            Transition::Reminder => None,
        }
    }
}

/// The transition from `previous` to `result` at `now`, and the state to keep. Without data
/// nothing changes: a breach is not called recovered for want of a value.
pub fn transition(
    previous: Option<&AlertState>,
    result: &SloResult,
    now: DateTime<Utc>,
    repeat_after_seconds: i64,
) -> (Option<Transition>, AlertState) {
    let now_text = format_time(now);
    let was = previous.map_or(Status::NoData, |state| state.status);
    let status = result.status;
    if status == Status::NoData {
        let kept = previous.cloned().unwrap_or(AlertState {
            status: Status::NoData,
            since: now_text,
            notified_at: None,
        });
        return (None, kept);
    }
    let since = match previous {
        Some(state) if state.status == status => state.since.clone(),
        _ => now_text.clone(),
    };
    let fresh = |notified: bool| AlertState {
        status,
        since: since.clone(),
        notified_at: notified.then(|| now_text.clone()),
    };
    match (was.is_breach(), status.is_breach()) {
        (false, true) => (Some(Transition::Breach), fresh(true)),
        (true, false) => (Some(Transition::Recovered), fresh(false)),
        (true, true) if was == Status::Warning && status == Status::Critical => {
            (Some(Transition::Breach), fresh(true))
        }
        (true, true) => {
            let notified_at = previous.and_then(|state| state.notified_at.clone());
            let due = notified_at
                .as_deref()
                .and_then(parse_time)
                .is_none_or(|at| (now - at).num_seconds() >= repeat_after_seconds);
            if due {
                (Some(Transition::Reminder), fresh(true))
            } else {
                (
                    None,
                    AlertState {
                        status,
                        since,
                        notified_at,
                    },
                )
            }
        }
        (false, false) => (None, fresh(false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorecard::{Indicator, Value64};

    fn result(status: Status) -> SloResult {
        SloResult {
            id: "fresh".into(),
            title: "Fresh".into(),
            indicator: Indicator::SnapshotFreshness,
            target: 95.0,
            warning: 95.0,
            critical: 90.0,
            value: Value64((status != Status::NoData).then_some(50.0)),
            unit: "percent".into(),
            status,
            last_breach_at: None,
            owner: "staff:admin".into(),
            on_call: None,
            note: String::new(),
        }
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        parse_time("2026-11-10T12:00:00Z").unwrap() + chrono::Duration::minutes(minutes)
    }

    #[test]
    fn a_breach_is_announced_once_then_reminded_after_the_repeat_interval() {
        let hour = 3600;
        let (first, state) = transition(None, &result(Status::Ok), at(0), hour);
        assert_eq!(first, None);
        let (breach, state) = transition(Some(&state), &result(Status::Warning), at(1), hour);
        assert_eq!(breach, Some(Transition::Breach));
        assert_eq!(state.notified_at, Some(format_time(at(1))));
        // Still breached within the hour: quiet.
        let (quiet, state) = transition(Some(&state), &result(Status::Warning), at(30), hour);
        assert_eq!(quiet, None);
        assert_eq!(state.since, format_time(at(1)));
        // Worse: a new breach at once.
        let (worse, state) = transition(Some(&state), &result(Status::Critical), at(31), hour);
        assert_eq!(worse, Some(Transition::Breach));
        let (quiet, state) = transition(Some(&state), &result(Status::Critical), at(60), hour);
        assert_eq!(quiet, None);
        let (reminder, state) = transition(Some(&state), &result(Status::Critical), at(91), hour);
        assert_eq!(reminder, Some(Transition::Reminder));
        // No data says nothing, and keeps the breach.
        let (nothing, state) = transition(Some(&state), &result(Status::NoData), at(92), hour);
        assert_eq!(nothing, None);
        assert_eq!(state.status, Status::Critical);
        let (recovered, state) = transition(Some(&state), &result(Status::Ok), at(93), hour);
        assert_eq!(recovered, Some(Transition::Recovered));
        assert_eq!(state.notified_at, None);
        let (nothing, _) = transition(Some(&state), &result(Status::Ok), at(94), hour);
        assert_eq!(nothing, None);
    }

    #[test]
    fn a_first_evaluation_in_breach_is_a_breach_and_without_data_is_nothing() {
        let (breach, _) = transition(None, &result(Status::Critical), at(0), 60);
        assert_eq!(breach, Some(Transition::Breach));
        let (nothing, state) = transition(None, &result(Status::NoData), at(0), 60);
        assert_eq!(nothing, None);
        assert_eq!(state.status, Status::NoData);
    }
}
