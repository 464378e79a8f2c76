//! The period a scorecard covers: `day`, `week`, `7d`, `30d`, `24h`, or a calendar month
//! `month:2026-11` in the studio's time zone.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// A span of time ending at `end` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// As written (`7d`, `month:2026-11`).
    pub label: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The zone months are read in.
    pub zone: chrono_tz::Tz,
}

impl Period {
    /// Parse a period ending now (rolling) or a calendar month in `zone`.
    pub fn parse(text: &str, now: DateTime<Utc>, zone: chrono_tz::Tz) -> Result<Period, String> {
        let text = text.trim();
        if let Some(month) = text.strip_prefix("month:") {
            return Self::month(month, zone).map(|(start, end)| Period {
                label: text.to_string(),
                start,
                end,
                zone,
            });
        }
        let seconds = match text {
            "day" => 86_400,
            "week" => 7 * 86_400,
            _ => {
                let split = text
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(text.len());
                let (number, unit) = text.split_at(split);
                let number: i64 = number.parse().map_err(|_| invalid(text))?;
                let unit_seconds = match unit {
                    "h" => 3_600,
                    "d" => 86_400,
                    "w" => 7 * 86_400,
                    _ => return Err(invalid(text)),
                };
                if number == 0 || number > 3_660 {
                    return Err(format!(
                        "`{text}` is not a period brain computes: use between 1h and 366d"
                    ));
                }
                number * unit_seconds
            }
        };
        if seconds > 366 * 86_400 {
            return Err(format!(
                "`{text}` is not a period brain computes: use between 1h and 366d"
            ));
        }
        Ok(Period {
            label: text.to_string(),
            start: now - chrono::Duration::seconds(seconds),
            end: now,
            zone,
        })
    }

    fn month(text: &str, zone: chrono_tz::Tz) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
        let bad = || {
            format!("`month:{text}` is not a month: write `month:YYYY-MM`, such as `month:2026-11`")
        };
        let (year, month) = text.split_once('-').ok_or_else(bad)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u32 = month.parse().map_err(|_| bad())?;
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)
        }
        .ok_or_else(bad)?;
        let midnight = |day: NaiveDate| {
            zone.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
                .earliest()
                .map(|time| time.with_timezone(&Utc))
                .ok_or_else(bad)
        };
        Ok((midnight(first)?, midnight(next)?))
    }

    /// The last `count` calendar days in `zone`, oldest first, each labelled with its date; the
    /// last one is today so far (it ends at `now`). A day that a daylight-saving change makes
    /// 23 or 25 hours long is that long here too.
    pub fn days(count: u32, now: DateTime<Utc>, zone: chrono_tz::Tz) -> Vec<Period> {
        let today = now.with_timezone(&zone).date_naive();
        let midnight = |day: NaiveDate| {
            zone.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
                .earliest()
                .map(|time| time.with_timezone(&Utc))
        };
        (0..count)
            .rev()
            .filter_map(|back| {
                let day = today.checked_sub_days(chrono::Days::new(u64::from(back)))?;
                let start = midnight(day)?;
                let end = match back {
                    0 => now,
                    _ => midnight(day.succ_opt()?)?,
                };
                Some(Period {
                    label: day.format("%Y-%m-%d").to_string(),
                    start,
                    end,
                    zone,
                })
            })
            .collect()
    }

    /// The period of the same length just before this one (the previous month for a month).
    pub fn previous(&self) -> Period {
        if let Some(month) = self.label.strip_prefix("month:")
            && let Some((year, number)) = month.split_once('-')
            && let (Ok(year), Ok(number)) = (year.parse::<i32>(), number.parse::<u32>())
        {
            let (year, number) = if number == 1 {
                (year - 1, 12)
            } else {
                (year, number - 1)
            };
            let label = format!("month:{year:04}-{number:02}");
            if let Ok((start, end)) = Self::month(&label["month:".len()..], self.zone) {
                return Period {
                    label,
                    start,
                    end,
                    zone: self.zone,
                };
            }
        }
        let length = self.end - self.start;
        Period {
            label: format!("previous {}", self.label),
            start: self.start - length,
            end: self.start,
            zone: self.zone,
        }
    }
}

fn invalid(text: &str) -> String {
    format!(
        "`{text}` is not a period: write `day`, `week`, a length such as `7d`, `30d` or `24h`, or a month such as `month:2026-11`"
    )
}
