//! Device simulators: local fakes of the Hubitat Maker API and of Home Assistant's REST API that
//! speak the real wire formats (shapes, quirks, auth), with fault injection ([`Fault`]: slow,
//! 5xx, 401, 429, malformed, an error body with status 200, stale data, drifted shapes) and a
//! log of every
//! request received, so tests can prove that no write path was ever called.
//!
//! They serve the tests and the demo studio: a connector whose `base_url` is `sim://hubitat` or
//! `sim://homeassistant` gets a simulator started inside brain on an ephemeral loopback port,
//! and talks to it over real HTTP like it would to a device. Their data moves at each poll
//! (temperatures drift, vacuums clean and charge) unless the `stale` fault freezes it.
//!
//! Architecture Invariant: a simulator only binds loopback addresses and never forwards
//! anything to a real device.

pub mod homeassistant;
pub mod hubitat;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::secret::Secret;

/// Which device API a simulator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SimKind {
    Hubitat,
    HomeAssistant,
}

impl SimKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SimKind::Hubitat => "hubitat",
            SimKind::HomeAssistant => "homeassistant",
        }
    }

    /// The kind a `sim://NAME` URL names.
    pub fn from_url(url: &str) -> Option<Self> {
        match url.strip_prefix("sim://")?.trim_end_matches('/') {
            "hubitat" => Some(SimKind::Hubitat),
            "homeassistant" => Some(SimKind::HomeAssistant),
            _ => None,
        }
    }
}

/// A fault the simulator injects into every answer until cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// Answer after this long.
    Slow(Duration),
    /// Answer this status (500, 502, 503, 408).
    Status(u16),
    /// 401, whatever token was sent.
    Unauthorized,
    /// 429.
    RateLimited,
    /// Status 200 with a body cut off mid-JSON.
    Malformed,
    /// Status 200 with an error object instead of the data.
    ErrorBody,
    /// Answer normally, but the data never changes.
    Stale,
    /// Answer the data with items a parser cannot read mixed in (an item without an id, a
    /// state name no table knows), as firmware drift does.
    Drift,
}

/// One request the simulator received, with the credential removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The query string with `access_token` removed.
    pub query: String,
    /// The right credential came with it.
    pub authorized: bool,
}

pub(crate) struct Shared {
    pub token: String,
    pub app_id: String,
    pub fault: Mutex<Fault>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// Advances at each full read unless the data is stale.
    pub generation: AtomicU64,
    pub started: chrono::DateTime<chrono::Utc>,
}

impl Shared {
    pub fn fault(&self) -> Fault {
        self.fault
            .lock()
            .map(|fault| fault.clone())
            .unwrap_or_default()
    }

    /// The generation for a full read, advancing it unless the data is stale.
    pub fn advance(&self) -> u64 {
        if self.fault() == Fault::Stale {
            self.generation.load(Ordering::Relaxed)
        } else {
            self.generation.fetch_add(1, Ordering::Relaxed) + 1
        }
    }

    pub fn current(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The simulated report time of generation `generation` (ten seconds apart).
    pub fn time_of(&self, generation: u64) -> chrono::DateTime<chrono::Utc> {
        self.started + chrono::Duration::seconds(i64::try_from(generation).unwrap_or(0) * 10)
    }
}

/// A running simulator; stops when dropped.
pub struct Simulator {
    kind: SimKind,
    address: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Simulator {
    /// Start a simulator of `kind` on `address` (a loopback address; port 0 picks one).
    pub async fn start(kind: SimKind, address: SocketAddr) -> Result<Self, String> {
        if !address.ip().is_loopback() {
            return Err(format!(
                "a simulator only listens on loopback, not `{address}`"
            ));
        }
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|error| format!("cannot listen on `{address}`: {error}"))?;
        let address = listener
            .local_addr()
            .map_err(|error| format!("cannot read the simulator's address: {error}"))?;
        let shared = Arc::new(Shared {
            token: random_token(),
            app_id: "7".into(),
            fault: Mutex::new(Fault::None),
            requests: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            started: crate::clock::now(),
        });
        let routes = match kind {
            SimKind::Hubitat => hubitat::routes(),
            SimKind::HomeAssistant => homeassistant::routes(),
        };
        let app: Router = routes
            .layer(middleware::from_fn_with_state(shared.clone(), faults))
            .layer(middleware::from_fn_with_state(
                (shared.clone(), kind),
                record,
            ))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            kind,
            address,
            shared,
            task,
        })
    }

    pub fn kind(&self) -> SimKind {
        self.kind
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// `http://127.0.0.1:PORT` (Home Assistant) or the Maker API instance's base
    /// `http://127.0.0.1:PORT/apps/api/APP_ID` (Hubitat).
    pub fn base_url(&self) -> String {
        match self.kind {
            SimKind::Hubitat => format!("http://{}/apps/api/{}", self.address, self.shared.app_id),
            SimKind::HomeAssistant => format!("http://{}", self.address),
        }
    }

    /// The hub's address without the Maker API path (what `base_url` holds in brain.yaml).
    pub fn host_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn app_id(&self) -> &str {
        &self.shared.app_id
    }

    pub fn token(&self) -> Secret {
        Secret::new(self.shared.token.clone())
    }

    pub fn set_fault(&self, fault: Fault) {
        if let Ok(mut current) = self.shared.fault.lock() {
            *current = fault;
        }
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .map(|requests| requests.clone())
            .unwrap_or_default()
    }

    pub fn clear_requests(&self) {
        if let Ok(mut requests) = self.shared.requests.lock() {
            requests.clear();
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    format!("sim-{}", hex::encode(bytes))
}

/// Record every request, whatever route answers it.
async fn record(
    State((shared, kind)): State<(Arc<Shared>, SimKind)>,
    request: Request,
    next: Next,
) -> Response {
    let mut authorized = false;
    let query: Vec<String> = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            if let Some(token) = pair.strip_prefix("access_token=") {
                authorized |= token == shared.token;
                None
            } else {
                Some(pair.to_string())
            }
        })
        .collect();
    if kind == SimKind::HomeAssistant {
        authorized = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value == format!("Bearer {}", shared.token));
    }
    let entry = RecordedRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        query: query.join("&"),
        authorized,
    };
    if let Ok(mut requests) = shared.requests.lock() {
        requests.push(entry);
    }
    let mut request = request;
    request.extensions_mut().insert(Authorized(authorized));
    next.run(request).await
}

/// Whether the request carried the right credential (set by [`record`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Authorized(pub bool);

/// Apply the active fault, and refuse requests without the right credential.
async fn faults(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let authorized = request
        .extensions()
        .get::<Authorized>()
        .is_some_and(|authorized| authorized.0);
    match shared.fault() {
        Fault::Slow(delay) => tokio::time::sleep(delay).await,
        Fault::Status(status) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return (status, "simulated failure").into_response();
        }
        Fault::Unauthorized => return unauthorized(),
        Fault::RateLimited => return (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response(),
        Fault::Malformed => {
            return json_text(StatusCode::OK, "[{\"id\":\"1\",\"name\":\"Kiln".into());
        }
        Fault::None | Fault::ErrorBody | Fault::Stale | Fault::Drift => {}
    }
    if !authorized {
        return unauthorized();
    }
    next.run(request).await
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, "401: Unauthorized").into_response()
}

/// JSON labelled `text/html`, as the Hubitat hub sends it.
pub(crate) fn json_text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "text/html;charset=utf-8")],
        body,
    )
        .into_response()
}
