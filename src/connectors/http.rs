//! The HTTP layer every device connector shares: GET only, to paths on the kind's explicit read
//! allowlist, with the connector's timeout, retries with jittered backoff on timeouts and
//! unavailability (never on auth failures), the per-connector request budget, and the mapping of
//! every failure onto the one [`ErrorKind`] taxonomy.
//!
//! Architecture Invariant: a path that matches no allowlist template is refused before anything
//! is sent; there is no method here that sends anything but a GET.
//! Architecture Invariant: error messages never hold a URL, and the credential's value is
//! scrubbed from every message that leaves this module.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ConnectorError, ErrorKind};
use crate::config::secret::Secret;

/// How a device API takes its credential.
#[derive(Clone)]
pub enum Credential {
    /// `?access_token=...` (Hubitat Maker API).
    QueryToken(Secret),
    /// `Authorization: Bearer ...` (Home Assistant).
    Bearer(Secret),
}

impl Credential {
    fn secret(&self) -> &Secret {
        match self {
            Credential::QueryToken(secret) | Credential::Bearer(secret) => secret,
        }
    }
}

/// The read paths a kind may call, as templates: literal segments, `{n}` for a segment of
/// digits, `{name}` for any one non-empty segment.
#[derive(Debug, Clone, Copy)]
pub struct Allowlist(pub &'static [&'static str]);

impl Allowlist {
    /// The template `path` matches, if any.
    pub fn matching(&self, path: &str) -> Option<&'static str> {
        self.0
            .iter()
            .copied()
            .find(|template| template_matches(template, path))
    }
}

fn template_matches(template: &str, path: &str) -> bool {
    let wanted: Vec<&str> = template.split('/').collect();
    let got: Vec<&str> = path.split('/').collect();
    wanted.len() == got.len()
        && wanted.iter().zip(&got).all(|(want, segment)| match *want {
            "{n}" => !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_digit()),
            "{name}" => {
                !segment.is_empty()
                    && segment.bytes().all(|byte| {
                        byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'%')
                    })
            }
            literal => literal == *segment,
        })
}

/// Retry and budget settings of one connector.
#[derive(Debug, Clone)]
pub struct RequestPolicy {
    pub timeout: Duration,
    /// Attempts per request, the first included.
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Requests allowed per rolling hour (0: no limit).
    pub budget_per_hour: u32,
}

impl RequestPolicy {
    pub fn new(timeout: Duration, budget_per_hour: u32) -> Self {
        Self {
            timeout,
            attempts: 3,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
            budget_per_hour,
        }
    }
}

/// Request and error counts of one connector, for metrics and status.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    errors: [AtomicU64; 6],
}

impl Counters {
    pub fn record_error(&self, kind: ErrorKind) {
        self.errors[index(kind)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn errors(&self, kind: ErrorKind) -> u64 {
        self.errors[index(kind)].load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

fn index(kind: ErrorKind) -> usize {
    ErrorKind::ALL
        .iter()
        .position(|candidate| *candidate == kind)
        .unwrap_or(0)
}

/// Requests sent in the last hour, to keep a connector inside its budget.
#[derive(Debug, Default)]
struct Budget {
    sent: Mutex<VecDeque<Instant>>,
}

impl Budget {
    fn take(&self, per_hour: u32) -> bool {
        if per_hour == 0 {
            return true;
        }
        let Ok(mut sent) = self.sent.lock() else {
            return false;
        };
        let now = Instant::now();
        while sent
            .front()
            .is_some_and(|at| now.duration_since(*at) >= Duration::from_secs(3600))
        {
            sent.pop_front();
        }
        if sent.len() >= per_hour as usize {
            return false;
        }
        sent.push_back(now);
        true
    }
}

/// A GET-only client bound to one device API.
pub struct HttpTransport {
    client: reqwest::Client,
    base: String,
    credential: Credential,
    allowlist: Allowlist,
    policy: RequestPolicy,
    budget: Budget,
    pub counters: std::sync::Arc<Counters>,
}

impl HttpTransport {
    /// `base` is the URL every allowlisted path is joined to (`http://hub/apps/api/12`).
    pub fn new(
        base: &str,
        credential: Credential,
        allowlist: Allowlist,
        policy: RequestPolicy,
    ) -> Result<Self, ConnectorError> {
        let client = reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            // A redirect could lead off the allowlist: a 3xx is an answer, never followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| {
                ConnectorError::new(
                    ErrorKind::Unavailable,
                    format!("cannot build the HTTP client: {error}"),
                )
            })?;
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            credential,
            allowlist,
            policy,
            budget: Budget::default(),
            counters: Default::default(),
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn policy(&self) -> &RequestPolicy {
        &self.policy
    }

    /// GET `path` (relative to the base, no leading slash) and parse the body as JSON whatever
    /// its Content-Type says. Retries timeouts and unavailability with jittered backoff.
    pub async fn get_json(&self, path: &str) -> Result<Value, ConnectorError> {
        let result = self.get_json_inner(path).await;
        if let Err(error) = &result {
            self.counters.record_error(error.kind);
        }
        result.map_err(|error| self.scrub(error))
    }

    async fn get_json_inner(&self, path: &str) -> Result<Value, ConnectorError> {
        if self.allowlist.matching(path).is_none() {
            return Err(ConnectorError::new(
                ErrorKind::ReadOnlyViolation,
                format!("`{path}` is not on the read allowlist: nothing was sent"),
            ));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(path).await {
                Err(error) if error.kind.retryable() && attempt < self.policy.attempts => {
                    tracing::debug!(
                        attempt,
                        kind = error.kind.as_str(),
                        path,
                        "device read retried"
                    );
                    tokio::time::sleep(backoff(&self.policy, attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn attempt(&self, path: &str) -> Result<Value, ConnectorError> {
        if !self.budget.take(self.policy.budget_per_hour) {
            return Err(ConnectorError::new(
                ErrorKind::RateLimited,
                format!(
                    "the request budget of {} an hour is spent: nothing was sent",
                    self.policy.budget_per_hour
                ),
            ));
        }
        let url = format!("{}/{path}", self.base);
        let mut request = self.client.get(&url);
        request = match &self.credential {
            Credential::QueryToken(secret) => request.query(&[("access_token", secret.expose())]),
            Credential::Bearer(secret) => request.bearer_auth(secret.expose()),
        };
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let response = request
            .send()
            .await
            .map_err(|error| transport_error(&error, &self.policy))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|error| transport_error(&error, &self.policy))?;
        match status {
            200..=299 => serde_json::from_str(&text).map_err(|error| {
                ConnectorError::new(
                    ErrorKind::BadResponse,
                    format!("`{path}` answered something that is not JSON ({error})"),
                )
            }),
            401 | 403 => Err(ConnectorError::new(
                ErrorKind::Auth,
                format!(
                    "`{path}` refused the credentials (HTTP {status}): fix the token and restart brain"
                ),
            )),
            429 => Err(ConnectorError::new(
                ErrorKind::RateLimited,
                format!("`{path}` asked brain to slow down (HTTP 429)"),
            )),
            408 | 500..=599 => Err(ConnectorError::new(
                ErrorKind::Unavailable,
                format!("`{path}` answered HTTP {status}"),
            )),
            _ => Err(ConnectorError::new(
                ErrorKind::BadResponse,
                format!("`{path}` answered HTTP {status}"),
            )),
        }
    }

    /// The message without the credential's value, however it got there.
    fn scrub(&self, mut error: ConnectorError) -> ConnectorError {
        let value = self.credential.secret().expose();
        if !value.is_empty() {
            error.message = error
                .message
                .replace(value, crate::config::secret::REDACTED);
        }
        error
    }
}

fn transport_error(error: &reqwest::Error, policy: &RequestPolicy) -> ConnectorError {
    if error.is_timeout() {
        return ConnectorError::new(
            ErrorKind::Timeout,
            format!("no answer within {}", human(policy.timeout)),
        );
    }
    // The innermost cause names what happened (`Connection refused (os error 111)`); the outer
    // layers repeat the URL, which is left out.
    let mut innermost: &dyn std::error::Error = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    let mut text = innermost.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    let what = if error.is_connect() {
        "cannot connect to the device"
    } else {
        "the request to the device failed"
    };
    ConnectorError::new(ErrorKind::Unavailable, format!("{what}: {text}"))
}

fn human(duration: Duration) -> String {
    if duration.as_millis() < 1000 {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs())
    }
}

/// Jittered exponential backoff for `attempt` (1-based): half fixed, half random.
pub fn backoff(policy: &RequestPolicy, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    let base = policy
        .first_backoff
        .saturating_mul(1 << exponent)
        .min(policy.max_backoff);
    base.mul_f64(0.5 + 0.5 * crate::clock::random_fraction())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: Allowlist = Allowlist(&[
        "devices",
        "devices/all",
        "devices/{n}",
        "devices/{n}/events",
    ]);

    #[test]
    fn only_allowlisted_paths_match() {
        for path in ["devices", "devices/all", "devices/12", "devices/12/events"] {
            assert!(LIST.matching(path).is_some(), "{path}");
        }
        for path in [
            "devices/12/on",
            "devices/12/refresh",
            "devices/abc",
            "devices/12/events/extra",
            "modes/1",
            "",
            "devices/",
            "../hub/reboot",
        ] {
            assert!(LIST.matching(path).is_none(), "{path}");
        }
    }

    #[test]
    fn backoff_is_bounded() {
        let policy = RequestPolicy::new(Duration::from_secs(1), 0);
        assert!(backoff(&policy, 1) >= Duration::from_millis(250));
        assert!(backoff(&policy, 40) <= policy.max_backoff);
    }

    #[test]
    fn the_budget_refuses_past_its_limit() {
        let budget = Budget::default();
        assert!(budget.take(2) && budget.take(2));
        assert!(!budget.take(2));
        assert!(budget.take(0));
    }
}
