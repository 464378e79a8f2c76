//! A thin Firestore REST v1 client of brain's own (reqwest + serde), and the StudioState source
//! built on it.
//!
//! - Values: Firestore's typed `Value` JSON decodes to plain JSON (`integerValue` arrives as a
//!   string or a number and becomes a number; timestamps stay RFC 3339 strings).
//! - Reads: `list` pages until a page has no documents or no token (the emulator may send a
//!   token with its last page), bounded by a page limit; `runQuery` and `batchGet` answer one
//!   JSON array (an empty query still holds a `{readTime, done}` element); counts come from
//!   `runAggregationQuery`.
//! - Errors: the `google.rpc.Status` body becomes one [`FirestoreError`]; only ABORTED,
//!   UNAVAILABLE, RESOURCE_EXHAUSTED and DEADLINE_EXCEEDED are retried, with jittered backoff.
//! - Auth: with `FIRESTORE_EMULATOR_HOST`, plain HTTP and `Authorization: Bearer owner`;
//!   otherwise a service account's RS256 JWT exchanged for an access token, cached and renewed
//!   five minutes before it expires.
//!
//! - Writes: `commit` exists for the ops-note target (`ops_notes.rs`) alone.
//!
//! Architecture Invariant: the source built here only reads; the one write (`commit`) is
//! called only by the ops-note executor, and no credential ever appears in an error or a log
//! line.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use super::{ReadSummary, Source, SourceError};
use crate::snapshot::{COLLECTIONS, Record};

/// A Firestore error, from its `google.rpc.Status` body or the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Firestore {status} ({http}): {message}")]
pub struct FirestoreError {
    /// The HTTP status (0 when the request never got an answer).
    pub http: u16,
    /// The canonical code name: `NOT_FOUND`, `ALREADY_EXISTS`, `ABORTED`, `UNAVAILABLE`, ...
    pub status: String,
    pub message: String,
}

impl FirestoreError {
    fn new(http: u16, status: &str, message: impl Into<String>) -> Self {
        Self {
            http,
            status: status.to_string(),
            message: message.into(),
        }
    }

    /// Whether a retry may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self.status.as_str(),
            "ABORTED" | "UNAVAILABLE" | "RESOURCE_EXHAUSTED" | "DEADLINE_EXCEEDED"
        )
    }

    fn into_source(self) -> SourceError {
        match self.status.as_str() {
            "UNAUTHENTICATED" | "PERMISSION_DENIED" => SourceError::Auth(self.to_string()),
            "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "RESOURCE_EXHAUSTED" | "ABORTED" => {
                SourceError::Unavailable(self.to_string())
            }
            _ => SourceError::BadResponse(self.to_string()),
        }
    }
}

/// The canonical code name for an HTTP status, when the body says none.
fn status_for_http(http: u16) -> &'static str {
    match http {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

/// Decode one Firestore `Value` into plain JSON.
pub fn decode_value(value: &Value) -> Value {
    let Some(object) = value.as_object() else {
        return Value::Null;
    };
    let Some((kind, inner)) = object.iter().next() else {
        return Value::Null;
    };
    match kind.as_str() {
        "nullValue" => Value::Null,
        "booleanValue" => inner.as_bool().map_or(Value::Null, Value::Bool),
        "integerValue" => match inner {
            Value::String(text) => text.parse::<i64>().map_or(Value::Null, Value::from),
            Value::Number(number) => number.as_i64().map_or(Value::Null, Value::from),
            _ => Value::Null,
        },
        "doubleValue" => match inner {
            Value::Number(_) => inner.clone(),
            // NaN and the infinities arrive as strings and have no JSON number.
            Value::String(text) => Value::String(text.clone()),
            _ => Value::Null,
        },
        "timestampValue" | "stringValue" | "bytesValue" | "referenceValue" => inner.clone(),
        "geoPointValue" => inner.clone(),
        "arrayValue" => Value::Array(
            inner
                .get("values")
                .and_then(Value::as_array)
                .map(|values| values.iter().map(decode_value).collect())
                .unwrap_or_default(),
        ),
        "mapValue" => decode_fields(inner.get("fields").unwrap_or(&Value::Null)),
        _ => Value::Null,
    }
}

/// Decode a document's `fields` map into a plain JSON object.
pub fn decode_fields(fields: &Value) -> Value {
    let mut out = Map::new();
    if let Some(fields) = fields.as_object() {
        for (name, value) in fields {
            out.insert(name.clone(), decode_value(value));
        }
    }
    Value::Object(out)
}

/// Encode plain JSON as a Firestore `Value` (integers as strings, as the API emits them).
pub fn encode_value(value: &Value) -> Value {
    match value {
        Value::Null => json!({ "nullValue": null }),
        Value::Bool(flag) => json!({ "booleanValue": flag }),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => json!({ "integerValue": integer.to_string() }),
            None => json!({ "doubleValue": number }),
        },
        Value::String(text) => json!({ "stringValue": text }),
        Value::Array(items) => {
            json!({ "arrayValue": { "values": items.iter().map(encode_value).collect::<Vec<_>>() } })
        }
        Value::Object(fields) => json!({ "mapValue": { "fields": encode_fields(fields) } }),
    }
}

/// Encode a plain JSON object as a document's `fields`.
pub fn encode_fields(fields: &Map<String, Value>) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(name, value)| (name.clone(), encode_value(value)))
            .collect(),
    )
}

/// A document as the API returns it, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The full resource name.
    pub name: String,
    pub id: String,
    pub fields: Value,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl Document {
    fn from_api(value: &Value) -> Option<Self> {
        let name = value.get("name")?.as_str()?.to_string();
        let id = name.rsplit('/').next()?.to_string();
        Some(Self {
            id,
            fields: decode_fields(value.get("fields").unwrap_or(&Value::Null)),
            create_time: value
                .get("createTime")
                .and_then(Value::as_str)
                .map(str::to_string),
            update_time: value
                .get("updateTime")
                .and_then(Value::as_str)
                .map(str::to_string),
            name,
        })
    }

    fn update_time(&self) -> Option<DateTime<Utc>> {
        self.update_time
            .as_deref()
            .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
            .map(|time| time.with_timezone(&Utc))
    }
}

/// A service account's key file (the fields brain needs).
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".into()
}

const SCOPE: &str = "https://www.googleapis.com/auth/datastore";

/// Base64url without padding.
fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl ServiceAccount {
    /// The RS256 JWT assertion for the token exchange, issued at `now`.
    pub fn assertion(&self, now: i64) -> Result<String, String> {
        let der = pem_body(&self.private_key)?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(&der)
            .map_err(|_| "the service account's private key is not a PKCS#8 RSA key".to_string())?;
        let mut header = json!({ "alg": "RS256", "typ": "JWT" });
        if let Some(kid) = &self.private_key_id {
            header["kid"] = Value::from(kid.clone());
        }
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        let signing_input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let mut signature = vec![0u8; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| "signing the token request failed".to_string())?;
        Ok(format!("{signing_input}.{}", b64(&signature)))
    }
}

/// The DER bytes of a PEM block.
fn pem_body(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("-----") && !line.is_empty())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "the service account's private key is not PEM".to_string())
}

/// How requests are authorized.
enum Auth {
    /// The emulator: `Bearer owner`.
    Emulator,
    ServiceAccount {
        account: ServiceAccount,
        cached: Mutex<Option<(String, DateTime<Utc>)>>,
    },
}

/// Retries and bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
    pub page_size: u32,
    /// A list stops with an error after this many pages.
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            page_size: 300,
            max_pages: 10_000,
        }
    }
}

/// A Firestore client for one database.
pub struct FirestoreClient {
    http: reqwest::Client,
    /// `https://firestore.googleapis.com/v1` or `http://HOST:PORT/v1`.
    base: String,
    project: String,
    database: String,
    auth: Auth,
    limits: Limits,
    /// Query parameters added to every request (for fakes that shape their answers by them).
    extra_query: Vec<(String, String)>,
}

impl FirestoreClient {
    /// Add `key=value` to every request's query string.
    pub fn with_extra_query(mut self, key: &str, value: &str) -> Self {
        self.extra_query.push((key.to_string(), value.to_string()));
        self
    }

    /// A client for the emulator at `host` (`127.0.0.1:8080`).
    pub fn emulator(host: &str, project: &str, limits: Limits) -> Result<Self, FirestoreError> {
        Self::build(
            format!("http://{host}/v1"),
            project,
            "(default)",
            Auth::Emulator,
            limits,
        )
    }

    /// A client for production Firestore with a service account.
    pub fn with_service_account(
        project: &str,
        database: &str,
        account: ServiceAccount,
        limits: Limits,
    ) -> Result<Self, FirestoreError> {
        Self::build(
            "https://firestore.googleapis.com/v1".into(),
            project,
            database,
            Auth::ServiceAccount {
                account,
                cached: Mutex::new(None),
            },
            limits,
        )
    }

    /// A client at an explicit base URL (a local fake), with a service account.
    pub fn at(
        base: &str,
        project: &str,
        account: Option<ServiceAccount>,
        limits: Limits,
    ) -> Result<Self, FirestoreError> {
        let auth = match account {
            None => Auth::Emulator,
            Some(account) => Auth::ServiceAccount {
                account,
                cached: Mutex::new(None),
            },
        };
        Self::build(
            base.trim_end_matches('/').to_string(),
            project,
            "(default)",
            auth,
            limits,
        )
    }

    fn build(
        base: String,
        project: &str,
        database: &str,
        auth: Auth,
        limits: Limits,
    ) -> Result<Self, FirestoreError> {
        let http = reqwest::Client::builder()
            .timeout(limits.timeout)
            .build()
            .map_err(|error| FirestoreError::new(0, "INTERNAL", error.to_string()))?;
        Ok(Self {
            http,
            base,
            project: project.to_string(),
            database: database.to_string(),
            auth,
            limits,
            extra_query: Vec::new(),
        })
    }

    /// `projects/P/databases/D`.
    pub fn database_path(&self) -> String {
        format!("projects/{}/databases/{}", self.project, self.database)
    }

    /// `projects/P/databases/D/documents`.
    pub fn documents_path(&self) -> String {
        format!("{}/documents", self.database_path())
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    async fn bearer(&self) -> Result<String, FirestoreError> {
        match &self.auth {
            Auth::Emulator => Ok("owner".into()),
            Auth::ServiceAccount { account, cached } => {
                let mut cached = cached.lock().await;
                let now = crate::clock::now();
                if let Some((token, expires)) = cached.as_ref()
                    && *expires - chrono::Duration::minutes(5) > now
                {
                    return Ok(token.clone());
                }
                let assertion = account
                    .assertion(now.timestamp())
                    .map_err(|problem| FirestoreError::new(0, "UNAUTHENTICATED", problem))?;
                let response = self
                    .http
                    .post(&account.token_uri)
                    .form(&[
                        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                        ("assertion", assertion.as_str()),
                    ])
                    .send()
                    .await
                    .map_err(|error| {
                        FirestoreError::new(
                            0,
                            "UNAVAILABLE",
                            format!("the token endpoint is unreachable: {}", without_url(&error)),
                        )
                    })?;
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let Some(token) = body.get("access_token").and_then(Value::as_str) else {
                    return Err(FirestoreError::new(
                        status,
                        "UNAUTHENTICATED",
                        format!(
                            "the token endpoint refused the service account ({})",
                            body.get("error")
                                .and_then(Value::as_str)
                                .unwrap_or("no access_token")
                        ),
                    ));
                };
                let lifetime = body
                    .get("expires_in")
                    .and_then(Value::as_i64)
                    .unwrap_or(3600);
                *cached = Some((token.to_string(), now + chrono::Duration::seconds(lifetime)));
                Ok(token.to_string())
            }
        }
    }

    /// One request with the retry policy; the answer's JSON.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, FirestoreError> {
        let url = format!("{}/{path}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.attempt(method.clone(), &url, query, body).await;
            match result {
                Err(error) if error.retryable() && attempt < self.limits.attempts => {
                    let backoff = backoff(&self.limits, attempt);
                    tracing::debug!(attempt, status = %error.status, "Firestore call retried");
                    tokio::time::sleep(backoff).await;
                }
                other => return other,
            }
        }
    }

    async fn attempt(
        &self,
        method: reqwest::Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, FirestoreError> {
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.bearer().await?)
            .query(query)
            .query(&self.extra_query);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| {
            if error.is_timeout() {
                FirestoreError::new(
                    0,
                    "DEADLINE_EXCEEDED",
                    format!("no answer within {}s", self.limits.timeout.as_secs()),
                )
            } else {
                FirestoreError::new(
                    0,
                    "UNAVAILABLE",
                    format!("cannot reach Firestore: {}", without_url(&error)),
                )
            }
        })?;
        let http = response.status().as_u16();
        let text = response.text().await.map_err(|error| {
            FirestoreError::new(
                http,
                "UNAVAILABLE",
                format!("the answer broke off: {}", without_url(&error)),
            )
        })?;
        if (200..300).contains(&http) {
            if text.trim().is_empty() {
                return Ok(json!({}));
            }
            return serde_json::from_str(&text).map_err(|error| {
                FirestoreError::new(
                    http,
                    "BAD_RESPONSE",
                    format!("the answer is not JSON: {error}"),
                )
            });
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let error = body.get("error");
        let status = error
            .and_then(|error| error.get("status"))
            .and_then(Value::as_str)
            .unwrap_or_else(|| status_for_http(http));
        let message = error
            .and_then(|error| error.get("message"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("HTTP {http}"), str::to_string);
        Err(FirestoreError::new(http, status, message))
    }

    /// One document by path relative to the documents root (`batches/b1`); `None` when missing.
    pub async fn get(&self, relative: &str) -> Result<Option<Document>, FirestoreError> {
        match self
            .call(
                reqwest::Method::GET,
                &format!("{}/{relative}", self.documents_path()),
                &[],
                None,
            )
            .await
        {
            Ok(value) => Ok(Document::from_api(&value)),
            Err(error) if error.status == "NOT_FOUND" => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Every document of `collection`, page by page, handed to `each`; returns how many.
    pub async fn list(
        &self,
        collection: &str,
        each: &mut (dyn FnMut(Document) + Send),
    ) -> Result<u64, FirestoreError> {
        let path = format!("{}/{collection}", self.documents_path());
        let mut token: Option<String> = None;
        let mut count = 0;
        for _ in 0..self.limits.max_pages {
            let mut query = vec![("pageSize", self.limits.page_size.to_string())];
            if let Some(token) = &token {
                query.push(("pageToken", token.clone()));
            }
            let page = self.call(reqwest::Method::GET, &path, &query, None).await?;
            let documents = page.get("documents").and_then(Value::as_array);
            let Some(documents) = documents.filter(|documents| !documents.is_empty()) else {
                return Ok(count);
            };
            for document in documents {
                let document = Document::from_api(document).ok_or_else(|| {
                    FirestoreError::new(200, "BAD_RESPONSE", "a listed document has no name")
                })?;
                count += 1;
                each(document);
            }
            match page.get("nextPageToken").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(count),
            }
        }
        Err(FirestoreError::new(
            200,
            "TRUNCATED",
            format!(
                "`{collection}` still had pages after {} of them",
                self.limits.max_pages
            ),
        ))
    }

    /// A structured query over the documents root; the documents it matched.
    pub async fn run_query(
        &self,
        structured_query: &Value,
    ) -> Result<Vec<Document>, FirestoreError> {
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("{}:runQuery", self.documents_path()),
                &[],
                Some(&json!({ "structuredQuery": structured_query })),
            )
            .await?;
        let items = answer.as_array().ok_or_else(|| {
            FirestoreError::new(200, "BAD_RESPONSE", "runQuery did not answer a JSON array")
        })?;
        // Items without a document (the `{readTime, done}` tail) carry nothing to read.
        Ok(items
            .iter()
            .filter_map(|item| item.get("document"))
            .filter_map(Document::from_api)
            .collect())
    }

    /// Several documents at once by relative path; missing ones are `None`, in request order.
    pub async fn batch_get(
        &self,
        relative: &[String],
    ) -> Result<Vec<Option<Document>>, FirestoreError> {
        let names: Vec<String> = relative
            .iter()
            .map(|path| format!("{}/{path}", self.documents_path()))
            .collect();
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("{}:batchGet", self.documents_path()),
                &[],
                Some(&json!({ "documents": names })),
            )
            .await?;
        let items = answer.as_array().ok_or_else(|| {
            FirestoreError::new(200, "BAD_RESPONSE", "batchGet did not answer a JSON array")
        })?;
        let mut found = std::collections::HashMap::new();
        for item in items {
            if let Some(document) = item.get("found").and_then(Document::from_api) {
                found.insert(document.name.clone(), document);
            }
        }
        Ok(names.iter().map(|name| found.remove(name)).collect())
    }

    /// The full resource name of a document by its path relative to the documents root.
    pub fn document_name(&self, relative: &str) -> String {
        format!("{}/{relative}", self.documents_path())
    }

    /// One atomic `:commit` of `writes` (Firestore `Write` objects); the answer's
    /// `writeResults` and `commitTime`. Only the ops-note write target calls it.
    pub async fn commit(&self, writes: &[Value]) -> Result<Value, FirestoreError> {
        self.call(
            reqwest::Method::POST,
            &format!("{}:commit", self.documents_path()),
            &[],
            Some(&json!({ "writes": writes })),
        )
        .await
    }

    /// The number of documents in `collection`, counted by Firestore itself.
    pub async fn count(&self, collection: &str) -> Result<u64, FirestoreError> {
        let body = json!({
            "structuredAggregationQuery": {
                "structuredQuery": { "from": [{ "collectionId": collection }] },
                "aggregations": [{ "alias": "count", "count": {} }]
            }
        });
        let answer = self
            .call(
                reqwest::Method::POST,
                &format!("{}:runAggregationQuery", self.documents_path()),
                &[],
                Some(&body),
            )
            .await?;
        answer
            .as_array()
            .and_then(|items| {
                items.iter().find_map(|item| {
                    let count = item.pointer("/result/aggregateFields/count")?;
                    decode_value(count).as_u64()
                })
            })
            .ok_or_else(|| {
                FirestoreError::new(200, "BAD_RESPONSE", "the count query answered no count")
            })
    }
}

/// A transport error's text without the URL (which could hold credentials for other APIs).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    text
}

/// Jittered exponential backoff for `attempt` (1-based).
fn backoff(limits: &Limits, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    let base = limits
        .first_backoff
        .saturating_mul(1 << exponent)
        .min(limits.max_backoff);
    let fraction = crate::clock::random_fraction();
    // Half fixed, half random: never zero, never in lockstep with other clients.
    base.mul_f64(0.5 + 0.5 * fraction)
}

/// StudioState's Firestore collections, read through a [`FirestoreClient`].
pub struct FirestoreSource {
    client: Arc<FirestoreClient>,
}

impl FirestoreSource {
    pub fn new(client: Arc<FirestoreClient>) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Source for FirestoreSource {
    fn name(&self) -> &str {
        "firestore"
    }

    fn location(&self) -> String {
        format!("{} ({})", self.client.database_path(), self.client.base())
    }

    fn collections(&self) -> Vec<String> {
        COLLECTIONS.iter().map(|name| name.to_string()).collect()
    }

    async fn read(
        &self,
        collection: &str,
        each: &mut (dyn FnMut(Record) + Send),
    ) -> Result<ReadSummary, SourceError> {
        let mut newest: Option<DateTime<Utc>> = None;
        let mut hand = |document: Document| {
            let update_time = document.update_time();
            if let Some(time) = update_time {
                newest = Some(newest.map_or(time, |current| current.max(time)));
            }
            each(Record {
                id: document.id,
                fields: document.fields,
                update_time,
            });
        };
        let documents = self
            .client
            .list(collection, &mut hand)
            .await
            .map_err(|error| {
                if error.status == "TRUNCATED" {
                    SourceError::Truncated {
                        limit: self.client.limits.max_pages,
                    }
                } else {
                    error.into_source()
                }
            })?;
        Ok(ReadSummary {
            documents,
            newest_update_time: newest.map(crate::clock::format_time),
        })
    }

    async fn count(&self, collection: &str) -> Result<Option<u64>, SourceError> {
        self.client
            .count(collection)
            .await
            .map(Some)
            .map_err(FirestoreError::into_source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode_to_plain_json_and_integers_accept_strings_and_numbers() {
        let fields = json!({
            "n": { "integerValue": "42" },
            "m": { "integerValue": 7 },
            "d": { "doubleValue": 1.5 },
            "nan": { "doubleValue": "NaN" },
            "t": { "timestampValue": "2026-12-01T10:00:00.000001Z" },
            "s": { "stringValue": "ACTIVE" },
            "b": { "booleanValue": true },
            "z": { "nullValue": null },
            "a": { "arrayValue": { "values": [{ "integerValue": "1" }, { "stringValue": "x" }] } },
            "e": { "arrayValue": {} },
            "map": { "mapValue": { "fields": { "inner": { "booleanValue": false } } } },
        });
        let decoded = decode_fields(&fields);
        assert_eq!(decoded["n"], 42);
        assert_eq!(decoded["m"], 7);
        assert_eq!(decoded["d"], 1.5);
        assert_eq!(decoded["nan"], "NaN");
        assert_eq!(decoded["t"], "2026-12-01T10:00:00.000001Z");
        assert_eq!(decoded["a"], json!([1, "x"]));
        assert_eq!(decoded["e"], json!([]));
        assert_eq!(decoded["map"]["inner"], false);
        assert_eq!(decoded["z"], Value::Null);
        let plain = json!({ "count": 3, "name": "x", "tags": ["a"], "nested": { "ok": true } });
        let encoded = encode_fields(plain.as_object().unwrap());
        assert_eq!(encoded["count"], json!({ "integerValue": "3" }));
        assert_eq!(decode_fields(&encoded), plain);
    }

    #[test]
    fn only_the_transient_codes_are_retried() {
        for code in [
            "ABORTED",
            "UNAVAILABLE",
            "RESOURCE_EXHAUSTED",
            "DEADLINE_EXCEEDED",
        ] {
            assert!(FirestoreError::new(0, code, "").retryable());
        }
        for code in [
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "FAILED_PRECONDITION",
            "PERMISSION_DENIED",
            "INVALID_ARGUMENT",
        ] {
            assert!(!FirestoreError::new(0, code, "").retryable());
        }
        let limits = Limits::default();
        assert!(backoff(&limits, 1) >= Duration::from_millis(100));
        assert!(backoff(&limits, 30) <= limits.max_backoff);
    }
}
