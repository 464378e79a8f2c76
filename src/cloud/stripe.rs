//! A read-only Stripe client (restricted key) and the StudioState source built on it: list
//! endpoints paged with `starting_after` until `has_more` is false, bounded by a page limit and
//! a `created` window (`created[gte]`, default the last 35 days); 429 and 5xx retried with
//! jittered backoff; Stripe's error body turned into one error type. Objects are keyed by id:
//! one delivered twice in a read (pages that shift while listing) is handed over once.
//!
//! Architecture Invariant: only GET list endpoints are ever called, and the key is sent in the
//! `Authorization` header only: it never appears in a URL, an error or a log line.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{ReadSummary, Source, SourceError};
use crate::config::Secret;
use crate::snapshot::{Record, STRIPE_LISTS};

/// The list endpoints brain may call, by the name brain gives the list.
pub const LISTS: &[&str] = &[
    "charges",
    "payment_intents",
    "balance_transactions",
    "payouts",
    "refunds",
    "checkout_sessions",
];

/// The URL path of a list (`checkout_sessions` lives under `checkout/sessions`).
fn path_of(list: &str) -> &str {
    match list {
        "checkout_sessions" => "checkout/sessions",
        other => other,
    }
}

/// The API version brain speaks.
pub const API_VERSION: &str = "2025-04-30.basil";

/// A Stripe error: its type and code from the body, or the transport's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Stripe {kind} ({http}): {message}")]
pub struct StripeError {
    pub http: u16,
    /// `api_error`, `invalid_request_error`, ..., or `transport`, `truncated`, `bad_response`.
    pub kind: String,
    pub message: String,
}

impl StripeError {
    fn new(http: u16, kind: &str, message: impl Into<String>) -> Self {
        Self {
            http,
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    fn retryable(&self) -> bool {
        self.http == 429 || self.http >= 500 || self.kind == "transport"
    }
}

/// Retries and bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub timeout: Duration,
    pub page_size: u32,
    pub max_pages: usize,
    /// Only objects created within this long are listed (`created[gte]`); `None` lists all.
    pub window: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            attempts: 4,
            first_backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
            page_size: 100,
            max_pages: 1_000,
            window: Some(Duration::from_secs(35 * 86_400)),
        }
    }
}

/// A Stripe account, read with a restricted key.
pub struct StripeClient {
    http: reqwest::Client,
    base: String,
    key: Secret,
    limits: Limits,
}

impl StripeClient {
    /// `base` defaults to `https://api.stripe.com/v1`.
    pub fn new(base: Option<&str>, key: Secret, limits: Limits) -> Result<Self, StripeError> {
        let http = reqwest::Client::builder()
            .timeout(limits.timeout)
            .build()
            .map_err(|error| StripeError::new(0, "transport", error.to_string()))?;
        Ok(Self {
            http,
            base: base
                .unwrap_or("https://api.stripe.com/v1")
                .trim_end_matches('/')
                .to_string(),
            key,
            limits,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn page(
        &self,
        list: &str,
        after: Option<&str>,
        since: Option<i64>,
    ) -> Result<Value, StripeError> {
        let mut query = vec![("limit", self.limits.page_size.to_string())];
        if let Some(after) = after {
            query.push(("starting_after", after.to_string()));
        }
        if let Some(since) = since {
            query.push(("created[gte]", since.to_string()));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.attempt(list, &query).await;
            match result {
                Err(error) if error.retryable() && attempt < self.limits.attempts => {
                    let exponent = (attempt - 1).min(10);
                    let base = self.limits.first_backoff.saturating_mul(1 << exponent);
                    let fraction = crate::clock::random_fraction();
                    tokio::time::sleep(base.mul_f64(0.5 + 0.5 * fraction)).await;
                }
                other => return other,
            }
        }
    }

    async fn attempt(&self, list: &str, query: &[(&str, String)]) -> Result<Value, StripeError> {
        let response = self
            .http
            .get(format!("{}/{}", self.base, path_of(list)))
            .bearer_auth(self.key.expose())
            .header("Stripe-Version", API_VERSION)
            .query(query)
            .send()
            .await
            .map_err(|error| {
                let text = if error.is_timeout() {
                    format!("no answer within {}s", self.limits.timeout.as_secs())
                } else {
                    "cannot reach Stripe".to_string()
                };
                StripeError::new(0, "transport", text)
            })?;
        let http = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|_| StripeError::new(http, "transport", "the answer broke off"))?;
        let body: Value = serde_json::from_str(&text).map_err(|error| {
            StripeError::new(
                http,
                "bad_response",
                format!("the answer is not JSON: {error}"),
            )
        })?;
        if (200..300).contains(&http) {
            return Ok(body);
        }
        let error = body.get("error");
        let text = |key: &str| {
            error
                .and_then(|error| error.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Err(StripeError::new(
            http,
            &text("type").unwrap_or_else(|| "api_error".into()),
            text("message").unwrap_or_else(|| format!("HTTP {http}")),
        ))
    }

    /// Every object of `list` created within the window (newest first), each id once, handed
    /// to `each`; returns how many.
    pub async fn list(
        &self,
        list: &str,
        each: &mut (dyn FnMut(Value) + Send),
    ) -> Result<u64, StripeError> {
        if !LISTS.contains(&list) {
            return Err(StripeError::new(
                0,
                "invalid_request_error",
                format!("`{list}` is not a list brain reads"),
            ));
        }
        let mut after: Option<String> = None;
        let mut count = 0;
        let since = self.limits.window.map(|window| {
            crate::clock::now().timestamp()
                - i64::try_from(window.as_secs()).unwrap_or(i64::MAX / 4)
        });
        // Pages shift while listing when objects arrive: an id seen once is not handed over
        // again.
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        for _ in 0..self.limits.max_pages {
            let page = self.page(list, after.as_deref(), since).await?;
            let data = page.get("data").and_then(Value::as_array).ok_or_else(|| {
                StripeError::new(200, "bad_response", "a list answer has no `data`")
            })?;
            let last = data
                .last()
                .and_then(|item| item.get("id"))
                .and_then(Value::as_str)
                .map(str::to_string);
            for item in data {
                let id = item.get("id").and_then(Value::as_str).unwrap_or_default();
                if !id.is_empty() && !seen.insert(id.to_string()) {
                    continue;
                }
                count += 1;
                each(item.clone());
            }
            let more = page
                .get("has_more")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            match (more, last) {
                (true, Some(last)) => after = Some(last),
                _ => return Ok(count),
            }
        }
        Err(StripeError::new(
            200,
            "truncated",
            format!("`{list}` still had pages after {}", self.limits.max_pages),
        ))
    }
}

/// StudioState's Stripe lists, read through a [`StripeClient`].
pub struct StripeSource {
    client: StripeClient,
}

impl StripeSource {
    pub fn new(client: StripeClient) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Source for StripeSource {
    fn name(&self) -> &str {
        "stripe"
    }

    fn location(&self) -> String {
        self.client.base().to_string()
    }

    fn collections(&self) -> Vec<String> {
        STRIPE_LISTS
            .iter()
            .map(|list| format!("stripe:{list}"))
            .collect()
    }

    async fn read(
        &self,
        collection: &str,
        each: &mut (dyn FnMut(Record) + Send),
    ) -> Result<ReadSummary, SourceError> {
        let list = collection.strip_prefix("stripe:").unwrap_or(collection);
        let mut newest: Option<DateTime<Utc>> = None;
        let mut hand = |item: Value| {
            let created = item
                .get("created")
                .and_then(Value::as_i64)
                .and_then(|seconds| DateTime::from_timestamp(seconds, 0));
            if let Some(created) = created {
                newest = Some(newest.map_or(created, |current| current.max(created)));
            }
            each(Record {
                id: item
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                fields: item,
                update_time: created,
            });
        };
        let documents = self.client.list(list, &mut hand).await.map_err(|error| {
            match (error.http, error.kind.as_str()) {
                (_, "truncated") => SourceError::Truncated {
                    limit: self.client.limits.max_pages,
                },
                (401 | 403, _) => SourceError::Auth(error.to_string()),
                (_, "transport") => SourceError::Unavailable(error.to_string()),
                _ => SourceError::BadResponse(error.to_string()),
            }
        })?;
        Ok(ReadSummary {
            documents,
            newest_update_time: newest.map(crate::clock::format_time),
        })
    }

    async fn count(&self, _collection: &str) -> Result<Option<u64>, SourceError> {
        // Stripe has no count endpoint; drift is checked on Firestore's collections.
        Ok(None)
    }
}
