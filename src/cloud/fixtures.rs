//! A fixture directory as a cloud source, for the demo studio and tests:
//!
//! ```text
//! DIR/<collection>/<document id>.json   one Firestore-style document: its fields as plain JSON,
//!                                        optionally with "__updateTime__" (RFC 3339)
//! DIR/stripe/<list>.json                 a JSON array of Stripe objects (payment_intents, payouts)
//! ```
//!
//! A collection without a folder is an error (the snapshot is partial), not an empty one.
//!
//! Times may be written relative to the day of the read, so a demo's records stay as recent
//! as they were written: a string value `{{today}}`, `{{today-3d}}` or `{{today-1d+9h30m}}` is
//! midnight UTC of the day the source reads, moved by the offsets; it becomes RFC 3339 text in
//! documents and seconds since the epoch in Stripe objects (Stripe's own shape).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ReadSummary, Source, SourceError};
use crate::snapshot::{COLLECTIONS, Record, STRIPE_LISTS};

/// Records from a directory.
pub struct FixtureSource {
    dir: PathBuf,
    /// The day relative times are read from (default: the day of each read).
    today: Option<DateTime<Utc>>,
}

/// Replace every `{{today±offsets}}` string in `value` with the time it names (midnight UTC of
/// `now`'s day, moved by the offsets): RFC 3339 text, or seconds since the epoch when
/// `as_seconds`. Strings that only look alike stay as they are.
pub fn resolve_relative_times(value: &mut Value, now: DateTime<Utc>, as_seconds: bool) {
    match value {
        Value::String(text) => {
            if let Some(time) = relative_time(text, now) {
                *value = if as_seconds {
                    Value::from(time.timestamp())
                } else {
                    Value::from(crate::clock::format_time(time))
                };
            }
        }
        Value::Array(items) => {
            for item in items {
                resolve_relative_times(item, now, as_seconds);
            }
        }
        Value::Object(fields) => {
            for (_, field) in fields.iter_mut() {
                resolve_relative_times(field, now, as_seconds);
            }
        }
        _ => {}
    }
}

/// The time `{{today-3d+9h}}` names, relative to `now`'s day.
fn relative_time(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let inner = text.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let mut rest = inner.strip_prefix("today")?;
    let mut time = now.date_naive().and_hms_opt(0, 0, 0)?.and_utc();
    while !rest.is_empty() {
        let sign = match rest.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let end = rest[1..]
            .find(['+', '-'])
            .map_or(rest.len(), |index| index + 1);
        time += chrono::Duration::seconds(sign * offset_seconds(&rest[1..end])?);
        rest = &rest[end..];
    }
    Some(time)
}

/// `1d`, `9h30m`, `45s`: whole units, largest first or not, in seconds.
fn offset_seconds(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    for character in text.chars() {
        if let Some(digit) = character.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(digit))?,
            );
            continue;
        }
        let unit = match character {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    (number.is_none() && !text.is_empty()).then_some(total)
}

impl FixtureSource {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            today: None,
        }
    }

    /// Resolve relative times (`{{today-3d}}`) from `now`'s day instead of the read's: for
    /// tests and benchmarks that need the same records whenever they run.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.today = Some(now);
        self
    }

    fn update_time(fields: &Value) -> Option<DateTime<Utc>> {
        fields
            .get("__updateTime__")
            .and_then(Value::as_str)
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.with_timezone(&Utc))
    }

    fn read_json(path: &Path) -> Result<Value, SourceError> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            SourceError::Unavailable(format!("cannot read `{}`: {error}", path.display()))
        })?;
        serde_json::from_str(&text).map_err(|error| {
            SourceError::BadResponse(format!("`{}` is not JSON: {error}", path.display()))
        })
    }

    fn documents(&self, collection: &str) -> Result<Vec<(String, PathBuf)>, SourceError> {
        let folder = self.dir.join(collection);
        let entries = std::fs::read_dir(&folder).map_err(|error| {
            SourceError::Unavailable(format!(
                "no fixture folder for `{collection}` at `{}`: {error}",
                folder.display()
            ))
        })?;
        let mut files: Vec<(String, PathBuf)> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.extension()
                    .is_some_and(|extension| extension == "json")
            })
            .filter_map(|path| {
                let id = path.file_stem()?.to_str()?.to_string();
                Some((id, path))
            })
            .collect();
        files.sort();
        Ok(files)
    }
}

#[async_trait]
impl Source for FixtureSource {
    fn name(&self) -> &str {
        "fixtures"
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    fn collections(&self) -> Vec<String> {
        let mut all: Vec<String> = COLLECTIONS.iter().map(|name| name.to_string()).collect();
        if self.dir.join("stripe").is_dir() {
            all.extend(STRIPE_LISTS.iter().map(|list| format!("stripe:{list}")));
        }
        all
    }

    async fn read(
        &self,
        collection: &str,
        each: &mut (dyn FnMut(Record) + Send),
    ) -> Result<ReadSummary, SourceError> {
        let mut summary = ReadSummary::default();
        let mut newest: Option<DateTime<Utc>> = None;
        let now = self.today.unwrap_or_else(crate::clock::now);
        let mut hand = |record: Record, summary: &mut ReadSummary| {
            summary.documents += 1;
            if let Some(time) = record.update_time {
                newest = Some(newest.map_or(time, |current| current.max(time)));
            }
            each(record);
        };
        if let Some(list) = collection.strip_prefix("stripe:") {
            let path = self.dir.join("stripe").join(format!("{list}.json"));
            let Value::Array(items) = Self::read_json(&path)? else {
                return Err(SourceError::BadResponse(format!(
                    "`{}` must hold a JSON array of Stripe objects",
                    path.display()
                )));
            };
            for mut item in items {
                resolve_relative_times(&mut item, now, true);
                let id = item
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let update_time = item
                    .get("created")
                    .and_then(Value::as_i64)
                    .and_then(|seconds| DateTime::from_timestamp(seconds, 0));
                hand(
                    Record {
                        id,
                        fields: item,
                        update_time,
                    },
                    &mut summary,
                );
            }
        } else {
            for (id, path) in self.documents(collection)? {
                let mut fields = Self::read_json(&path)?;
                resolve_relative_times(&mut fields, now, false);
                if !fields.is_object() {
                    return Err(SourceError::BadResponse(format!(
                        "`{}` must hold a JSON object (the document's fields)",
                        path.display()
                    )));
                }
                let update_time = Self::update_time(&fields);
                hand(
                    Record {
                        id,
                        fields,
                        update_time,
                    },
                    &mut summary,
                );
            }
        }
        summary.newest_update_time = newest.map(crate::clock::format_time);
        Ok(summary)
    }

    async fn count(&self, collection: &str) -> Result<Option<u64>, SourceError> {
        if collection.starts_with("stripe:") {
            return Ok(None);
        }
        Ok(Some(self.documents(collection)?.len() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_resolve_from_the_days_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-12-03T15:20:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut value = serde_json::json!({
            "a": "{{today}}",
            "b": ["{{today-3d+9h30m}}"],
            "c": { "d": "{{today+1d}}" },
            "e": "{{tomorrow}}",
            "f": "today-1d",
            "g": "{{today*2}}"
        });
        resolve_relative_times(&mut value, now, false);
        assert_eq!(value["a"], "2026-12-03T00:00:00.000000Z");
        assert_eq!(value["b"][0], "2026-11-30T09:30:00.000000Z");
        assert_eq!(value["c"]["d"], "2026-12-04T00:00:00.000000Z");
        assert_eq!(value["e"], "{{tomorrow}}");
        assert_eq!(value["f"], "today-1d");
        assert_eq!(value["g"], "{{today*2}}");
        let mut stripe = serde_json::json!({ "created": "{{today-1d}}" });
        resolve_relative_times(&mut stripe, now, true);
        assert_eq!(stripe["created"], 1_796_169_600);
    }
}
