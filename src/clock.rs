//! Time: one format for every stored timestamp (RFC 3339, UTC, microseconds, `Z`), which sorts
//! as text on every backend.

use chrono::{DateTime, SecondsFormat, Utc};

/// The current time.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// `2026-11-24T21:55:00.123456Z`.
pub fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parse a stored timestamp.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.with_timezone(&Utc))
}

/// `3d 4h`, `12m`, `45s`.
pub fn human_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, minutes) => format!("{minutes}m"),
        (0, hours, minutes) => format!("{hours}h {minutes}m"),
        (days, hours, _) => format!("{days}d {hours}h"),
    }
}

/// A random number in `[0, 1]`, for jitter (0.5 when the system has no randomness to give).
pub fn random_fraction() -> f64 {
    let mut bytes = [0u8; 2];
    getrandom::fill(&mut bytes).map_or(0.5, |()| {
        f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_times_round_trip_and_sort_as_text() {
        let earlier = parse_time("2026-01-02T03:04:05.000006Z").unwrap();
        let later = parse_time("2026-01-02T03:04:05.100000Z").unwrap();
        assert_eq!(format_time(earlier), "2026-01-02T03:04:05.000006Z");
        assert!(format_time(earlier) < format_time(later));
    }
}
