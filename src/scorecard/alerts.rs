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
    /// When a breach of this objective was last announced (a breach or a reminder posted); kept
    /// across recoveries, so an objective that flaps is announced once per repeat interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach_announced_at: Option<String>,
    /// The current breach (or the recovery from it) is audited but not posted: it began within
    /// the repeat interval of the last announced breach.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
}

impl AlertState {
    /// Whether the transition into this state is posted to the webhooks.
    pub fn posts(&self, transition: Option<Transition>) -> bool {
        transition.is_some() && !self.held
    }
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
/// nothing changes: a breach is not called recovered for want of a value. Every breach and
/// recovery is a transition (audited); a breach that begins within `repeat_after_seconds` of the
/// last announced one is held (not posted), and so is its recovery, so an objective flapping
/// between breach and recovery is posted once per repeat interval; a held breach that stays
/// open is posted as a reminder when the interval has passed. Worsening to critical is posted
/// at once.
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
            breach_announced_at: None,
            held: false,
        });
        return (None, kept);
    }
    let since = match previous {
        Some(state) if state.status == status => state.since.clone(),
        _ => now_text.clone(),
    };
    let announced = previous.and_then(|state| state.breach_announced_at.clone());
    let within_repeat = |at: Option<&str>| {
        at.and_then(parse_time)
            .is_some_and(|at| (now - at).num_seconds() < repeat_after_seconds)
    };
    let held_before = previous.is_some_and(|state| state.held);
    let kept =
        |notified_at: Option<String>, breach_announced_at: Option<String>, held: bool| AlertState {
            status,
            since: since.clone(),
            notified_at,
            breach_announced_at,
            held,
        };
    // A breach announced now.
    let announce = || kept(Some(now_text.clone()), Some(now_text.clone()), false);
    match (was.is_breach(), status.is_breach()) {
        (false, true) if within_repeat(announced.as_deref()) => (
            Some(Transition::Breach),
            kept(announced.clone(), announced, true),
        ),
        (false, true) => (Some(Transition::Breach), announce()),
        (true, false) => (
            Some(Transition::Recovered),
            kept(None, announced, held_before),
        ),
        (true, true) if was == Status::Warning && status == Status::Critical => {
            (Some(Transition::Breach), announce())
        }
        (true, true) => {
            let notified_at = previous.and_then(|state| state.notified_at.clone());
            if within_repeat(notified_at.as_deref()) {
                (None, kept(notified_at, announced, held_before))
            } else {
                (Some(Transition::Reminder), announce())
            }
        }
        (false, false) => (None, kept(None, announced, false)),
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
    fn an_objective_that_flaps_is_audited_every_time_and_posted_once_per_repeat_interval() {
        let hour = 3600;
        let step = |state: Option<&AlertState>, status: Status, minute: i64| {
            let (transition, kept) = transition(state, &result(status), at(minute), hour);
            let posted = kept.posts(transition);
            (transition, posted, kept)
        };
        let (breach, posted, state) = step(None, Status::Warning, 0);
        assert_eq!((breach, posted), (Some(Transition::Breach), true));
        let (recovered, posted, state) = step(Some(&state), Status::Ok, 5);
        assert_eq!((recovered, posted), (Some(Transition::Recovered), true));
        // Breached again 10 minutes after the first was announced: audited, held.
        let (again, posted, state) = step(Some(&state), Status::Warning, 10);
        assert_eq!((again, posted), (Some(Transition::Breach), false));
        assert!(state.held);
        // Its recovery is held with it.
        let (recovered, posted, state) = step(Some(&state), Status::Ok, 15);
        assert_eq!((recovered, posted), (Some(Transition::Recovered), false));
        let (again, posted, state) = step(Some(&state), Status::Warning, 20);
        assert_eq!((again, posted), (Some(Transition::Breach), false));
        // Still breached an hour after the last announcement: posted as a reminder.
        let (quiet, posted, state) = step(Some(&state), Status::Warning, 50);
        assert_eq!((quiet, posted), (None, false));
        let (reminder, posted, state) = step(Some(&state), Status::Warning, 61);
        assert_eq!((reminder, posted), (Some(Transition::Reminder), true));
        assert!(!state.held);
        // The recovery of an announced breach is posted.
        let (recovered, posted, state) = step(Some(&state), Status::Ok, 62);
        assert_eq!((recovered, posted), (Some(Transition::Recovered), true));
        // Worse than the held breach: critical is posted at once.
        let (again, posted, state) = step(Some(&state), Status::Warning, 63);
        assert_eq!((again, posted), (Some(Transition::Breach), false));
        let (worse, posted, state) = step(Some(&state), Status::Critical, 64);
        assert_eq!((worse, posted), (Some(Transition::Breach), true));
        // A breach after the repeat interval is announced like a first one.
        let (recovered, _, state) = step(Some(&state), Status::Ok, 65);
        let (breach, posted, _) = step(Some(&state), Status::Warning, 64 + 61);
        assert_eq!(recovered, Some(Transition::Recovered));
        assert_eq!((breach, posted), (Some(Transition::Breach), true));
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
