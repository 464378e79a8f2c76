//! A fixture directory as a cloud source, for the demo studio and tests:
//!
//! ```text
//! DIR/<collection>/<document id>.json   one Firestore-style document: its fields as plain JSON,
//!                                        optionally with "__updateTime__" (RFC 3339)
//! DIR/stripe/<list>.json                 a JSON array of Stripe objects (payment_intents, payouts)
//! ```
//!
//! A collection without a folder is an error (the snapshot is partial), not an empty one.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ReadSummary, Source, SourceError};
use crate::snapshot::{COLLECTIONS, Record, STRIPE_LISTS};

/// Records from a directory.
pub struct FixtureSource {
    dir: PathBuf,
}

impl FixtureSource {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
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
            for item in items {
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
                let fields = Self::read_json(&path)?;
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
