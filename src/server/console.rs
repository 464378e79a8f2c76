//! The staff console: server-rendered HTML pages over the Engine, usable without JavaScript.
//!
//! Login exchanges an actor token for a session cookie (HttpOnly, SameSite=Strict, expiring
//! after `server.auth.session_ttl`); sessions live in the store (keyed by a hash of the cookie
//! value), so every daemon sharing it honours them. Every form carries the session's CSRF token (the login form a pre-session one)
//! and every POST checks it before anything else. Each action is the Engine's decision for the
//! session's actor, exactly as through the CLI or the API; a refusal is shown with its reason
//! codes in words. Nothing secret is ever rendered: tokens are typed into a password field and
//! never echoed.
//!
//! Architecture Invariant: no page decides anything; it shows what the Engine answered.

use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::AppState;
use crate::engine::lifecycle::ProposalState;
use crate::engine::{Caller, EngineError, ErrorBody, ExemptionView};

mod cockpit;
use crate::policy::decide::Action;
use crate::store::{AuditFilter, ProposalFilter};

const SESSION_COOKIE: &str = "brain_session";
const LOGIN_COOKIE: &str = "brain_login";

/// What a finished action tells the next page.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
enum Flash {
    Done(String),
    Refused(ErrorBody),
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
struct Session {
    caller: Caller,
    csrf: String,
    expires: DateTime<Utc>,
    flash: Option<Flash>,
}

/// Console sessions live in the store's runtime table under `session:<SHA-256 of the cookie
/// value>`, so a session made on one daemon is valid on every daemon sharing the store (and
/// survives a restart until it expires); the cookie value itself is never stored. This also
/// holds a cached audit verification for the cockpit.
#[derive(Default)]
pub struct Sessions {
    verified: Mutex<Option<(std::time::Instant, Result<bool, String>)>>,
}

const SESSION_PREFIX: &str = "session:";

fn session_key(id: &str) -> String {
    format!(
        "{SESSION_PREFIX}{}",
        crate::audit::sha256_hex(id.as_bytes())
    )
}

fn random_hex(bytes: usize) -> Option<String> {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).ok()?;
    Some(hex::encode(buffer))
}

/// Byte-wise comparison whose time does not depend on where the inputs differ.
fn same_secret(left: &str, right: &str) -> bool {
    left.len() == right.len()
        && left
            .bytes()
            .zip(right.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// HTML-escape text for element content and quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

use super::encode_segment as url_encode;

impl Sessions {
    async fn write(
        store: &dyn crate::store::Store,
        key: String,
        session: &Session,
        prune_before: Option<String>,
    ) -> Result<(), crate::store::StoreError> {
        let mut tx = store.begin().await?;
        if let Some(before) = prune_before {
            tx.prune_runtime(SESSION_PREFIX, &before).await?;
        }
        tx.kv_set(&crate::store::KvEntry {
            key,
            value: serde_json::to_string(session).unwrap_or_default(),
            updated_at: crate::clock::format_time(crate::clock::now()),
            updated_by: session.caller.id.clone(),
        })
        .await?;
        tx.commit().await
    }

    /// Open a session for `caller`: its cookie value and CSRF token. Sessions whose last
    /// change is older than `ttl` (so expired) are removed on the way.
    async fn open(
        &self,
        store: &dyn crate::store::Store,
        caller: Caller,
        ttl: chrono::Duration,
    ) -> Option<(String, String)> {
        let id = random_hex(32)?;
        let csrf = random_hex(16)?;
        let now = crate::clock::now();
        let session = Session {
            caller,
            csrf: csrf.clone(),
            expires: now + ttl,
            flash: None,
        };
        let stale = crate::clock::format_time(now - ttl);
        match Self::write(store, session_key(&id), &session, Some(stale)).await {
            Ok(()) => Some((id, csrf)),
            Err(error) => {
                tracing::error!(cause = %error, "could not record a console session");
                None
            }
        }
    }

    async fn get(
        &self,
        store: &dyn crate::store::Store,
        id: &str,
    ) -> Result<Option<Session>, crate::store::StoreError> {
        Ok(store
            .kv_get(&session_key(id))
            .await?
            .and_then(|entry| serde_json::from_str::<Session>(&entry.value).ok())
            .filter(|session| session.expires > crate::clock::now()))
    }

    async fn close(&self, store: &dyn crate::store::Store, id: &str) {
        let closed = async {
            let mut tx = store.begin().await?;
            tx.prune_runtime(&session_key(id), "9999").await?;
            tx.commit().await
        }
        .await;
        if let Err(error) = closed {
            tracing::error!(cause = %error, "could not close a console session");
        }
    }

    async fn set_flash(&self, store: &dyn crate::store::Store, id: &str, flash: Flash) {
        if let Ok(Some(mut session)) = self.get(store, id).await {
            session.flash = Some(flash);
            if let Err(error) = Self::write(store, session_key(id), &session, None).await {
                tracing::error!(cause = %error, "could not record a console message");
            }
        }
    }

    /// The session's message for the next page, removed as it is read.
    async fn take_flash(
        &self,
        store: &dyn crate::store::Store,
        id: &str,
        session: &Session,
    ) -> Option<Flash> {
        let mut session = session.clone();
        let flash = session.flash.take()?;
        if let Err(error) = Self::write(store, session_key(id), &session, None).await {
            tracing::error!(cause = %error, "could not clear a console message");
        }
        Some(flash)
    }
}

/// A signed-in staff member (or anyone holding a token), for the pages.
struct Viewer {
    caller: Caller,
    csrf: String,
    session_id: String,
    flash: Option<Flash>,
    /// Why the console is read-only now, when it is.
    read_only: Option<ReadOnly>,
}

/// Why the console shows no action control and its action routes refuse.
#[derive(Debug, Clone)]
enum ReadOnly {
    /// `server.console.read_only`: nothing can be posted but signing out.
    Configured,
    /// The global kill switch is on (or the switches cannot be read): only the kill switches
    /// can be changed, since that is how this mode ends.
    GlobalSwitch(String),
    /// The store does not answer: nobody can be signed in or checked, nothing can be read or
    /// changed.
    StoreDown(String),
}

async fn read_only(state: &AppState) -> Option<ReadOnly> {
    if state.config.config.server.console.read_only {
        return Some(ReadOnly::Configured);
    }
    match state.engine.kill_switches().await {
        Ok(all) => all
            .into_iter()
            .find(|switch| switch.name == "global" && switch.on)
            .map(|switch| ReadOnly::GlobalSwitch(switch.reason)),
        Err(_) => Some(ReadOnly::GlobalSwitch(
            "the kill switches cannot be read, so they are treated as on".into(),
        )),
    }
}

fn read_only_refused(mode: &ReadOnly) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Refused: the console is read-only",
        &match mode {
            ReadOnly::Configured => {
                "`server.console.read_only` is set in brain.yaml: nothing can be changed from this console.".to_string()
            }
            ReadOnly::GlobalSwitch(reason) => format!(
                "The global kill switch is on ({reason}): nothing but the kill switches can be changed until it is off."
            ),
            ReadOnly::StoreDown(cause) => format!(
                "brain's store is unreachable ({cause}): nothing can be changed until it answers."
            ),
        },
    )
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/login").into_response();
        let session = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(id) => match state.sessions.get(&*state.store, &id).await {
                Ok(session) => session.map(|session| (id, session)),
                Err(error) => {
                    tracing::error!(cause = %error, "store error reading a console session");
                    return Err(store_down(parts, &error.to_string()));
                }
            },
            None => None,
        };
        let Some((id, session)) = session else {
            // `server.auth.mode: none` (loopback only): a wall display looks without signing
            // in, as a person with no token; its forms cannot post (there is no session).
            if state.config.config.server.auth.mode == crate::config::AuthMode::None
                && parts.method == axum::http::Method::GET
            {
                return Ok(Viewer {
                    caller: Caller {
                        id: "human:wall-display".into(),
                        actor_type: crate::capability::ActorType::Human,
                        name: "wall-display".into(),
                    },
                    csrf: String::new(),
                    session_id: String::new(),
                    flash: None,
                    read_only: read_only(state).await,
                });
            }
            return Err(to_login());
        };
        // A revoked actor loses its session at once.
        match state.engine.store().actor(&session.caller.id).await {
            Ok(Some(actor)) if actor.revoked_at.is_none() => {}
            Ok(_) => {
                state.sessions.close(&*state.store, &id).await;
                return Err(to_login());
            }
            Err(error) => {
                tracing::error!(cause = %error, "store error checking a console session");
                return Err(store_down(parts, &error.to_string()));
            }
        }
        let flash = state
            .sessions
            .take_flash(&*state.store, &id, &session)
            .await;
        Ok(Viewer {
            caller: session.caller,
            csrf: session.csrf,
            session_id: id,
            flash,
            read_only: read_only(state).await,
        })
    }
}

/// What the console answers while its store does not: a form post is refused; a page renders
/// (503) with the error named, every panel in its failed state and no action control, since
/// nobody can be signed in or checked and nothing can be read. It needs no store, so it never
/// waits on one; reloading once the store answers shows the page again.
fn store_down(parts: &Parts, cause: &str) -> Response {
    const MESSAGE: &str = "brain cannot check your session while its store is down; nothing can be decided until it returns.";
    if parts.method != axum::http::Method::GET {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The store is unavailable",
            MESSAGE,
        );
    }
    let viewer = Viewer {
        caller: Caller {
            id: "not signed in (the session cannot be checked)".into(),
            actor_type: crate::capability::ActorType::Human,
            name: String::new(),
        },
        csrf: String::new(),
        session_id: String::new(),
        flash: None,
        read_only: Some(ReadOnly::StoreDown(cause.to_string())),
    };
    let banner = vec![
        format!("the store is unreachable: {cause}"),
        "kill switches cannot be read (treated as on): every decision is denied until the store answers".to_string(),
    ];
    let failed = |id: &str, heading: &str, what: &str| {
        format!(
            "<section id=\"{id}\"><h2>{heading}</h2><p class=\"state-note state-error\" id=\"{id}-error\" role=\"alert\">{what} cannot be shown: it is read from brain's store, which does not answer ({cause}).</p></section>",
            cause = esc(cause)
        )
    };
    let path = parts.uri.path();
    let body = if path == "/" {
        let mut body = format!(
            "<table class=\"facts\"><tr><th>Policy mode</th><td><span class=\"bad\" id=\"policy-mode\">unknown (treated as kill switch on)</span></td></tr><tr><th>Store</th><td><span class=\"bad\" id=\"store-state\">unreachable</span>: {}</td></tr></table>",
            esc(cause)
        );
        for (id, heading, what) in [
            ("slos", "Objectives", "The objectives"),
            ("studio-state", "StudioState", "The snapshots"),
            ("connectors", "Connectors", "Connector health"),
            ("swarms", "Swarms", "The swarms' drafts"),
            ("trends", "Trends", "The charts"),
            ("drills", "Drills", "The drill history"),
            ("cluster", "Daemons", "The daemons and the leader lease"),
            ("timeline", "Recent audit events", "The audit log"),
        ] {
            body.push_str(&failed(id, heading, what));
        }
        body
    } else {
        failed("page", "Not available", "This page")
    };
    let body = format!(
        "{body}<p class=\"state-note\" id=\"store-down-next\">brain reconnects by itself: reload this page once the store is back. Nothing was changed while it was down; on the host, check the database named under <code>store:</code> in brain.yaml (<code>/readyz</code> answers 503 until it is back).</p>"
    );
    let title = if path == "/" {
        "Cockpit"
    } else {
        "Store unreachable"
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        layout(&banner, &viewer, title, path, &body),
    )
        .into_response()
}

/// A form body whose CSRF token matched the session's; anything else is refused first.
struct Checked<T> {
    viewer: Viewer,
    form: T,
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

impl<T: serde::de::DeserializeOwned + Send> FromRequest<AppState> for Checked<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let path = parts.uri.path().to_string();
        let request = Request::from_parts(parts, body);
        let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .map_err(|_| bad_form("the form is too large"))?;
        let csrf: CsrfOnly = serde_urlencoded_form(&bytes).map_err(|_| csrf_refused())?;
        match csrf.csrf {
            Some(token) if same_secret(&token, &viewer.csrf) => {}
            _ => return Err(csrf_refused()),
        }
        if let Some(mode) = &viewer.read_only {
            let allowed = path == "/logout"
                || (matches!(mode, ReadOnly::GlobalSwitch(_)) && path == "/kill-switches");
            if !allowed {
                return Err(read_only_refused(mode));
            }
        }
        let form: T = serde_urlencoded_form(&bytes)
            .map_err(|problem| bad_form(&format!("the form is not valid: {problem}")))?;
        Ok(Checked { viewer, form })
    }
}

/// Decode a URL-encoded form body.
fn serde_urlencoded_form<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_urlencoded::from_bytes(bytes).map_err(|error| error.to_string())
}

fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Refused: the form's CSRF token is missing or wrong",
        "Reload the page and submit the form again. Forms only work from brain's own pages.",
    )
}

fn bad_form(message: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "The form could not be read",
        message,
    )
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0} — brain</title><link rel=\"stylesheet\" href=\"/console.css\"></head><body><main><h1>{0}</h1><p class=\"refused\">{1}</p><p><a href=\"/\">Back to the cockpit</a></p></main></body></html>",
        esc(title),
        esc(message)
    );
    (status, Html(body)).into_response()
}

/// Every console route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(cockpit))
        .route("/console.css", get(stylesheet))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/approvals", get(approvals::page))
        .route("/proposals/new", get(propose::page).post(propose::post))
        .route("/proposals/{id}", get(proposal_page))
        .route("/proposals/{id}/approve", post(approve))
        .route("/proposals/{id}/reject", post(reject))
        .route("/proposals/{id}/execute", post(execute))
        .route("/proposals/{id}/cancel", post(cancel))
        .route("/kill-switches", get(switches_page).post(set_switch))
        .route("/exemptions", get(exemptions_page).post(exempt))
        .route("/exemptions/{id}/revoke", post(revoke_exemption))
        .route("/audit", get(audit_page))
        .route("/studio-state", get(studio_state_page))
        .route("/studio-state/history", get(studio_state::history))
        .route("/devices", get(devices_page))
        .route("/drafts", get(drafts_page))
        .route("/intake", get(intake_page))
        .route("/intake/override", post(intake_override))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("console.css"),
    )
}

/// The page frame: navigation, who is signed in, the degraded banner and the flash message.
fn layout(
    state_banner: &[String],
    viewer: &Viewer,
    title: &str,
    active: &str,
    body: &str,
) -> Html<String> {
    let nav: String = [
        ("/", "Cockpit"),
        ("/approvals", "Approvals"),
        ("/proposals/new", "New proposal"),
        ("/drafts", "Drafts"),
        ("/intake", "Intake"),
        ("/studio-state", "StudioState"),
        ("/devices", "Devices"),
        ("/kill-switches", "Kill switches"),
        ("/exemptions", "Exemptions"),
        ("/audit", "Audit"),
    ]
    .iter()
    .map(|(href, label)| {
        let current = if *href == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    })
    .collect();
    let banner = if state_banner.is_empty() {
        String::new()
    } else {
        let items: String = state_banner
            .iter()
            .map(|item| format!("<li>{}</li>", esc(item)))
            .collect();
        format!(
            "<div class=\"banner\" id=\"degraded\" role=\"alert\"><strong>brain is degraded</strong><ul>{items}</ul></div>"
        )
    };
    let flash = match &viewer.flash {
        None => String::new(),
        Some(Flash::Done(message)) => format!(
            "<p class=\"done\" id=\"flash\" role=\"status\">{}</p>",
            esc(message)
        ),
        Some(Flash::Refused(body)) => refusal_html(body),
    };
    // Read-only: every action form is hidden by the stylesheet and refused by `Checked`.
    let (body_class, read_only_note) = match &viewer.read_only {
        None => ("", String::new()),
        Some(ReadOnly::Configured) => (
            " class=\"read-only locked\"",
            "<div class=\"read-only-note\" id=\"read-only\" role=\"status\"><strong>Read-only console.</strong> <code>server.console.read_only</code> is set: nothing can be changed from here.</div>".to_string(),
        ),
        Some(ReadOnly::StoreDown(_)) => (
            " class=\"read-only locked\"",
            "<div class=\"read-only-note\" id=\"read-only\" role=\"status\"><strong>Read-only while brain's store is unreachable.</strong> Nobody can be signed in and nothing can be changed until it answers.</div>".to_string(),
        ),
        Some(ReadOnly::GlobalSwitch(reason)) => (
            " class=\"read-only\"",
            format!(
                "<div class=\"read-only-note\" id=\"read-only\" role=\"status\"><strong>Read-only while the global kill switch is on</strong> ({}): only the <a href=\"/kill-switches\">kill switches</a> can be changed.</div>",
                esc(reason)
            ),
        ),
    };
    let banner = format!("{banner}{read_only_note}");
    // Without a session (a wall display, or a store that cannot check one) there is nothing to
    // sign out of.
    let who = if viewer.session_id.is_empty() {
        format!(
            "<span class=\"who\"><span>{}</span></span>",
            esc(&viewer.caller.id)
        )
    } else {
        format!(
            "<form method=\"post\" action=\"/logout\" class=\"who\"><span>{}</span><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Sign out</button></form>",
            esc(&viewer.caller.id),
            esc(&viewer.csrf)
        )
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} — brain</title><link rel=\"stylesheet\" href=\"/console.css\"></head><body{body_class}><header><span class=\"brand\">brain</span><nav>{nav}</nav>{who}</header>{banner}<main><h1>{title}</h1>{flash}{body}</main><footer>The cloud stays authoritative; brain computes and proposes; irreversible actions need approval; everything is auditable; the system fails safe.</footer></body></html>",
        title = esc(title),
    ))
}

/// A refusal with each reason code in words.
fn refusal_html(body: &ErrorBody) -> String {
    let reasons: String = body
        .reason_codes
        .iter()
        .map(|code| {
            let words = crate::policy::reasons::lookup(code).map_or_else(String::new, |known| {
                format!(": {} — {}", known.meaning, known.fix)
            });
            format!("<li><code>{}</code>{}</li>", esc(code), esc(&words))
        })
        .collect();
    let policies = if body.policy_ids.is_empty() {
        String::new()
    } else {
        format!(
            "<p>Decided by {}</p>",
            body.policy_ids
                .iter()
                .map(|id| format!("<code>{}</code>", esc(id)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "<div class=\"refused\" id=\"flash\" role=\"alert\"><p><strong>Refused.</strong> {}</p><ul>{reasons}</ul>{policies}</div>",
        esc(&body.message)
    )
}

/// What makes brain degraded right now, for the red banner.
async fn degraded(state: &AppState) -> Vec<String> {
    let mut problems = Vec::new();
    let health = tokio::time::timeout(Duration::from_secs(3), state.store.health()).await;
    match health {
        Ok(health) if health.reachable && health.migrated => {}
        Ok(health) => problems.push(format!(
            "the store is unhealthy: {}",
            health.problem.unwrap_or_else(|| "unreachable".into())
        )),
        Err(_) => problems.push("the store did not answer within 3s".into()),
    }
    match state.engine.active_kill_switches().await {
        Ok(active) if !active.is_empty() => problems.push(format!(
            "kill switch on: {}",
            active.into_iter().collect::<Vec<_>>().join(", ")
        )),
        Ok(_) => {}
        Err(_) => problems.push("kill switches cannot be read (treated as on)".into()),
    }
    if let Ok(freshness) = state.engine.freshness().await
        && freshness.snapshot_id.is_some()
        && freshness.stale
    {
        problems.push(format!(
            "StudioState is stale: {}",
            freshness.reason.unwrap_or_default()
        ));
    }
    problems.extend(connector_problems(&super::connector_statuses(state).await));
    match audit_status(state).await {
        Ok(true) => {}
        Ok(false) => {
            problems.push("audit verify FAILS: the log was changed behind brain's back".into())
        }
        Err(problem) => problems.push(format!("audit verify could not run: {problem}")),
    }
    problems
}

/// The degraded banner's lines for the connectors: one per connector that is down (the
/// `connector-timeout-storm` drill checks these).
pub fn connector_problems(statuses: &[crate::connectors::guard::ConnectorStatus]) -> Vec<String> {
    statuses
        .iter()
        .filter(|status| status.health == crate::connectors::Health::Down)
        .map(|status| {
            format!(
                "connector `{}` is down: {}",
                status.id,
                status.reason.as_deref().unwrap_or_default()
            )
        })
        .collect()
}

/// The audit log's verification, at most a minute old.
async fn audit_status(state: &AppState) -> Result<bool, String> {
    if let Ok(cached) = state.sessions.verified.lock()
        && let Some((at, result)) = cached.as_ref()
        && at.elapsed() < Duration::from_secs(60)
    {
        return result.clone();
    }
    let result = match state.engine.verify_log(|_, _| {}).await {
        Ok(verification) => Ok(verification.report.ok),
        Err(error) => Err(ErrorBody::from_error(&error, false).message),
    };
    if let Ok(mut cached) = state.sessions.verified.lock() {
        *cached = Some((std::time::Instant::now(), result.clone()));
    }
    result
}

fn refused(error: &EngineError) -> Flash {
    if let EngineError::Store(cause) = error {
        tracing::error!(cause = %cause, "store error in the console");
    }
    Flash::Refused(ErrorBody::from_error(error, false))
}

fn left(expires_at: &str) -> String {
    crate::clock::parse_time(expires_at).map_or_else(String::new, |expires| {
        let seconds = (expires - crate::clock::now()).num_seconds();
        if seconds <= 0 {
            "expired".into()
        } else {
            format!("{} left", crate::clock::human_duration(seconds))
        }
    })
}

fn state_badge(state: ProposalState) -> String {
    format!(
        "<span class=\"state state-{0}\">{1}</span>",
        state.as_str(),
        state.as_str().replace('_', " ")
    )
}

// ---- Login -------------------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginForm {
    token: Option<String>,
    csrf: Option<String>,
}

fn login_html(csrf: &str, problem: Option<&str>) -> String {
    let problem = problem.map_or_else(String::new, |problem| {
        format!(
            "<p class=\"refused\" id=\"flash\" role=\"alert\">{}</p>",
            esc(problem)
        )
    });
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in — brain</title><link rel=\"stylesheet\" href=\"/console.css\"></head><body><main class=\"login\"><h1>brain</h1><p>The studio's control plane. Sign in with the token brain issued you (<code>brain actor add</code>); it is never shown again.</p>{problem}<form method=\"post\" action=\"/login\"><label for=\"token\">Token</label><input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" id=\"sign-in\">Sign in</button></form></main></body></html>",
        csrf = esc(csrf)
    )
}

fn login_cookie(value: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

async fn login_page() -> Response {
    let Some(csrf) = random_hex(16) else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "No randomness",
            "brain cannot make a login form without randomness.",
        );
    };
    let mut response = Html(login_html(&csrf, None)).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, login_cookie(&csrf));
    response
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: LoginForm = match serde_urlencoded_form(&body) {
        Ok(form) => form,
        Err(problem) => return bad_form(&problem),
    };
    let expected = cookie(&headers, LOGIN_COOKIE);
    let csrf_ok = matches!((&form.csrf, &expected), (Some(sent), Some(expected)) if same_secret(sent, expected));
    if !csrf_ok {
        return csrf_refused();
    }
    let retry = |problem: &str| {
        let csrf = random_hex(16).unwrap_or_default();
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Html(login_html(&csrf, Some(problem))),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::SET_COOKIE, login_cookie(&csrf));
        response
    };
    let token = form.token.unwrap_or_default();
    let caller = match state.engine.authenticate(&token).await {
        Ok(caller) => caller,
        Err(EngineError::Store(cause)) => {
            tracing::error!(cause = %cause, "store error at console sign-in");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is unavailable",
                "brain cannot sign you in while its store is down.",
            );
        }
        Err(error) => return retry(&ErrorBody::from_error(&error, false).message),
    };
    let ttl = chrono::Duration::seconds(
        i64::try_from(state.config.config.server.auth.session_ttl.as_secs()).unwrap_or(43_200),
    );
    let Some((id, _)) = state.sessions.open(&*state.store, caller, ttl).await else {
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "No session",
            "brain could not open a session.",
        );
    };
    let mut response = Redirect::to("/").into_response();
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        ttl.num_seconds()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn logout(State(state): State<AppState>, checked: Checked<CsrfOnly>) -> Response {
    state
        .sessions
        .close(&*state.store, &checked.viewer.session_id)
        .await;
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("brain_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

// ---- Cockpit -----------------------------------------------------------------------------

async fn cockpit(State(state): State<AppState>, viewer: Viewer) -> Response {
    let banner = degraded(&state).await;
    let mut body = String::new();
    let switches = state.engine.kill_switches().await;
    let mode = match &switches {
        Ok(all) => {
            let on: Vec<String> = all
                .iter()
                .filter(|s| s.on)
                .map(|s| {
                    format!(
                        "<code>{}</code> ({}, by <code>{}</code>)",
                        esc(&s.name),
                        if s.reason.trim().is_empty() {
                            "no reason given".to_string()
                        } else {
                            format!("&ldquo;{}&rdquo;", esc(&s.reason))
                        },
                        esc(&s.updated_by)
                    )
                })
                .collect();
            if on.is_empty() {
                "<span class=\"ok\" id=\"policy-mode\">normal</span>".to_string()
            } else {
                format!(
                    "<span class=\"bad\" id=\"policy-mode\">kill switch on: {}</span>",
                    on.join(", ")
                )
            }
        }
        Err(_) => {
            "<span class=\"bad\" id=\"policy-mode\">unknown (treated as kill switch on)</span>"
                .into()
        }
    };
    let pending = state
        .engine
        .proposals(
            &viewer.caller,
            &ProposalFilter {
                state: Some(ProposalState::PendingApproval),
                limit: 1_000,
                ..ProposalFilter::default()
            },
        )
        .await;
    let pending_text = match &pending {
        Ok(list) if list.is_empty() => "none waiting".to_string(),
        Ok(list) => {
            let oldest = list
                .iter()
                .filter_map(|view| crate::clock::parse_time(&view.proposal.created_at))
                .min()
                .map(|created| {
                    crate::clock::human_duration((crate::clock::now() - created).num_seconds())
                })
                .unwrap_or_default();
            // The queue by risk tier and by target system, each a link to it filtered.
            let manifests = &state.engine.policy().manifests;
            let mut tiers: std::collections::BTreeMap<&str, usize> = Default::default();
            let mut targets: std::collections::BTreeMap<&str, usize> = Default::default();
            for view in list {
                *tiers.entry(view.risk_tier.as_str()).or_default() += 1;
                if let Some(manifest) = manifests.get(&view.proposal.capability) {
                    *targets.entry(manifest.target.as_str()).or_default() += 1;
                }
            }
            let links = |counts: &std::collections::BTreeMap<&str, usize>, param: &str| {
                counts
                    .iter()
                    .map(|(value, count)| {
                        format!(
                            "<a href=\"/approvals?{param}={value}&amp;state=pending_approval\">{value} {count}</a>",
                            value = esc(value)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" · ")
            };
            format!(
                "<a href=\"/approvals\" id=\"pending-count\">{}</a> waiting, the oldest for {oldest}<br><span id=\"pending-by\">by risk: {}; by target: {}</span>",
                list.len(),
                links(&tiers, "risk"),
                links(&targets, "target")
            )
        }
        Err(error) => esc(&ErrorBody::from_error(error, false).message),
    };
    let exemptions = state.engine.exemptions(&viewer.caller).await;
    let exemption_text = match &exemptions {
        Ok(list) => {
            let active: Vec<&ExemptionView> = list.iter().filter(|view| view.in_force).collect();
            if active.is_empty() {
                "none in force".to_string()
            } else {
                active
                    .iter()
                    .map(|view| {
                        let left = view.seconds_left.unwrap_or(0);
                        format!(
                            "<code>{}</code> for <code>{}</code>, {} left{}",
                            esc(&view.id),
                            esc(view.capability.as_deref().unwrap_or("?")),
                            crate::clock::human_duration(left),
                            if left < 3 * 86_400 {
                                " <span class=\"badge expiring\">expires soon</span>"
                            } else {
                                ""
                            }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("<br>")
            }
        }
        Err(error) => esc(&ErrorBody::from_error(error, false).message),
    };
    let freshness = match state.engine.freshness().await {
        Ok(freshness) => match (&freshness.snapshot_id, freshness.stale) {
            (None, _) => {
                "no snapshot yet: capabilities that need fresh state are denied (fail closed)"
                    .to_string()
            }
            (Some(id), false) => format!(
                "<span class=\"ok\">fresh</span>: <a href=\"/studio-state\">{}</a>, {} old",
                esc(id),
                crate::clock::human_duration(freshness.age_seconds.unwrap_or(0))
            ),
            (Some(id), true) => format!(
                "<span class=\"bad\">stale</span>: <a href=\"/studio-state\">{}</a>, {} old — {}; capabilities that need fresh state are denied",
                esc(id),
                crate::clock::human_duration(freshness.age_seconds.unwrap_or(0)),
                esc(freshness.reason.as_deref().unwrap_or(""))
            ),
        },
        Err(error) => esc(&ErrorBody::from_error(&error, false).message),
    };
    let statuses = super::connector_statuses(&state).await;
    let connectors = if statuses.is_empty() {
        "none configured".to_string()
    } else {
        statuses
            .iter()
            .map(|status| {
                format!(
                    "<a href=\"/devices#connector-{id}\"><code>{id}</code></a>: {summary}",
                    id = esc(&status.id),
                    summary = connector_summary(status)
                )
            })
            .collect::<Vec<_>>()
            .join("<br>")
    };
    body.push_str(&format!(
        "<table class=\"facts\"><tr><th>Policy mode</th><td>{mode}</td></tr>\
         <tr><th>Pending approvals</th><td>{pending_text}</td></tr>\
         <tr><th>Exemptions</th><td>{exemption_text}</td></tr>\
         <tr><th>StudioState <span class=\"derived\">derived from cloud</span></th><td id=\"freshness\">{freshness}</td></tr>\
         <tr><th>Connectors</th><td>{connectors}</td></tr>\
         <tr><th>Policy set</th><td><code>{}</code>, {} policies</td></tr></table>",
        esc(&state.engine.policy().hash()[..12.min(state.engine.policy().hash().len())]),
        state.engine.policy().decider.policies().policies.len()
    ));
    body.push_str(&cockpit::slo_panel(&state).await);
    body.push_str(&studio_state::cockpit_panel(&state, &viewer).await);
    body.push_str(&cockpit::connectors_panel(&state).await);
    body.push_str(&drafts::cockpit_panel(&state, &viewer).await);
    body.push_str(&cockpit::trends_panel(&state).await);
    body.push_str(&cockpit::drills_panel(&state, &viewer).await);
    body.push_str(&cockpit::cluster_panel(&state, &viewer).await);
    body.push_str(&cockpit::timeline_panel(&state, &viewer).await);
    layout(&banner, &viewer, "Cockpit", "/", &body).into_response()
}

// ---- Approvals and new proposals ----------------------------------------------------------

mod approvals;
mod propose;
mod schema_form;

async fn proposal_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let banner = degraded(&state).await;
    let view = match state.engine.proposal(&viewer.caller, &id).await {
        Ok(view) => view,
        Err(error) => {
            let body = refusal_html(&ErrorBody::from_error(&error, false));
            return layout(&banner, &viewer, "Proposal", "/approvals", &body).into_response();
        }
    };
    let proposal = &view.proposal;
    let pretty =
        |value: &serde_json::Value| esc(&serde_json::to_string_pretty(value).unwrap_or_default());
    // Once approved, show again exactly what executing now would do (with the approvals that
    // count now); the dry run is audited as a `plan` event like any other.
    let execution_plan = if proposal.state == ProposalState::Approved {
        match state.engine.dry_run(&viewer.caller, &id).await {
            Ok(dry) => format!(
                "<tr><th>Executing now</th><td>{}<pre id=\"execution-plan\">{}</pre></td></tr>",
                if dry.would_execute {
                    "would be allowed:".to_string()
                } else {
                    format!(
                        "would be refused ({}):",
                        esc(&dry
                            .state_problem
                            .clone()
                            .unwrap_or_else(|| dry.decision.reasons.join(", ")))
                    )
                },
                dry.plan.as_ref().map_or_else(
                    || esc(dry.plan_error.as_deref().unwrap_or("no plan")),
                    pretty
                )
            ),
            Err(_) => String::new(),
        }
    } else {
        String::new()
    };
    let approvals: String = if view.approvals.is_empty() {
        "none yet".into()
    } else {
        view.approvals
            .iter()
            .map(|approval| {
                format!(
                    "<li><code>{}</code> by {} at {}{}</li>",
                    esc(&approval.id),
                    esc(&approval.approver),
                    esc(&approval.created_at),
                    approval
                        .comment
                        .as_deref()
                        .map_or_else(String::new, |comment| format!(": {}", esc(comment)))
                )
            })
            .collect::<String>()
    };
    let csrf = esc(&viewer.csrf);
    let path_id = url_encode(&proposal.id);
    let mut actions = String::new();
    if matches!(
        proposal.state,
        ProposalState::PendingApproval | ProposalState::Approved
    ) {
        if proposal.state == ProposalState::PendingApproval {
            actions.push_str(&format!("<form method=\"post\" action=\"/proposals/{path_id}/approve\" class=\"action\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label for=\"comment\">Comment</label><input type=\"text\" id=\"comment\" name=\"comment\" maxlength=\"500\"><button type=\"submit\" id=\"approve\">Approve</button></form>"));
        }
        actions.push_str(&format!("<form method=\"post\" action=\"/proposals/{path_id}/execute\" class=\"action\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" id=\"execute\">Execute</button></form>"));
        actions.push_str(&format!("<form method=\"post\" action=\"/proposals/{path_id}/reject\" class=\"action\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label for=\"reason\">Reason</label><input type=\"text\" id=\"reason\" name=\"reason\" required maxlength=\"500\"><button type=\"submit\" id=\"reject\" class=\"danger\">Reject</button></form>"));
        actions.push_str(&format!("<form method=\"post\" action=\"/proposals/{path_id}/cancel\" class=\"action\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label for=\"cancel-reason\">Why cancel (optional)</label><input type=\"text\" id=\"cancel-reason\" name=\"reason\" maxlength=\"500\"><button type=\"submit\" id=\"cancel\">Cancel the proposal</button></form>"));
    }
    let outcome = proposal
        .outcome
        .as_ref()
        .map_or_else(String::new, |outcome| {
            format!(
                "<tr><th>Outcome</th><td><pre>{}</pre></td></tr>",
                pretty(outcome)
            )
        });
    let failure = proposal
        .failure
        .as_ref()
        .map_or_else(String::new, |failure| {
            format!(
                "<tr><th>Failure</th><td class=\"bad\">{}</td></tr>",
                esc(failure)
            )
        });
    let closed = match (&proposal.closed_by, &proposal.closed_reason) {
        (Some(by), reason) => format!(
            "<tr><th>Closed by</th><td>{}{}</td></tr>",
            esc(by),
            reason
                .as_deref()
                .map_or_else(String::new, |reason| format!(": {}", esc(reason)))
        ),
        _ => String::new(),
    };
    // A proposal the compliance intake gate routed to review says so first.
    let intake = match state.engine.intake_record(&viewer.caller, &id).await {
        Ok(Some(record)) => intake::banner(&record),
        _ => String::new(),
    };
    let body = format!(
        "{intake}<table class=\"facts\" id=\"proposal\"><tr><th>State</th><td id=\"state\">{state}</td></tr>\
         <tr><th>Capability</th><td><code>{capability}</code> — {title}<br>risk tier <strong>{tier}</strong>, owned by {owner}</td></tr>\
         <tr><th>Proposer</th><td>{proposer} (for {resource_owner})</td></tr>\
         <tr><th>Rationale</th><td>{rationale}</td></tr>\
         <tr><th>Input</th><td><pre>{input}</pre></td></tr>\
         <tr><th>Dry-run plan</th><td><pre id=\"plan\">{plan}</pre></td></tr>{execution_plan}\
         <tr><th>Input hash</th><td><code>{input_hash}</code></td></tr>\
         <tr><th>Policy set</th><td><code>{policy_hash}</code></td></tr>\
         <tr><th>Approvals</th><td>{valid} of {required} valid<ul>{approvals}</ul></td></tr>\
         <tr><th>Time left</th><td>{left}</td></tr>{outcome}{failure}{closed}</table>{actions}",
        state = state_badge(proposal.state),
        capability = esc(&proposal.capability),
        title = esc(&view.capability_title),
        tier = esc(&view.risk_tier),
        owner = esc(view.capability_owner.as_deref().unwrap_or("—")),
        proposer = esc(&proposal.proposer),
        resource_owner = esc(&proposal.owner),
        rationale = esc(&proposal.rationale),
        input = pretty(&proposal.input),
        plan = proposal.plan.as_ref().map_or_else(|| "none".into(), pretty),
        input_hash = esc(&proposal.input_hash),
        policy_hash = esc(&proposal.policy_set_hash),
        valid = view.valid_approvals,
        required = view.required_approvals,
        left = if proposal.state.is_open() {
            esc(&left(&proposal.expires_at))
        } else {
            "—".into()
        },
    );
    layout(
        &banner,
        &viewer,
        &format!("Proposal {}", proposal.id),
        "/approvals",
        &body,
    )
    .into_response()
}

#[derive(Deserialize)]
struct CommentForm {
    comment: Option<String>,
    reason: Option<String>,
    /// A console path to come back to (the Drafts page) instead of the proposal's page.
    return_to: Option<String>,
}

/// Run an Engine step for the session, remember its outcome, and go back to `to`.
async fn finish<T>(
    state: &AppState,
    viewer: &Viewer,
    result: Result<T, EngineError>,
    done: String,
    to: String,
) -> Response {
    let flash = match result {
        Ok(_) => Flash::Done(done),
        Err(error) => refused(&error),
    };
    state
        .sessions
        .set_flash(&*state.store, &viewer.session_id, flash)
        .await;
    Redirect::to(&to).into_response()
}

async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    checked: Checked<CommentForm>,
) -> Response {
    let to = match drafts::return_to(
        checked.form.return_to.as_deref(),
        format!("/proposals/{}", url_encode(&id)),
    ) {
        Ok(to) => to,
        Err(problem) => return bad_form(problem),
    };
    let comment = checked
        .form
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let result = state
        .engine
        .approve(&checked.viewer.caller, &id, comment)
        .await;
    let done = match &result {
        Ok(view) => format!(
            "approved {}: it is {}",
            id,
            view.proposal.state.as_str().replace('_', " ")
        ),
        Err(_) => String::new(),
    };
    finish(&state, &checked.viewer, result, done, to).await
}

async fn reject(
    State(state): State<AppState>,
    Path(id): Path<String>,
    checked: Checked<CommentForm>,
) -> Response {
    close(&state, &id, checked, Action::Reject).await
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    checked: Checked<CommentForm>,
) -> Response {
    close(&state, &id, checked, Action::Cancel).await
}

/// Reject or cancel a proposal for the session, with the form's reason.
async fn close(
    state: &AppState,
    id: &str,
    checked: Checked<CommentForm>,
    action: Action,
) -> Response {
    let to = match drafts::return_to(
        checked.form.return_to.as_deref(),
        format!("/proposals/{}", url_encode(id)),
    ) {
        Ok(to) => to,
        Err(problem) => return bad_form(problem),
    };
    let result = state
        .engine
        .close(
            &checked.viewer.caller,
            id,
            action,
            checked.form.reason.as_deref(),
        )
        .await;
    let done = if action == Action::Reject {
        "rejected"
    } else {
        "cancelled"
    };
    finish(state, &checked.viewer, result, format!("{done} {id}"), to).await
}

async fn execute(
    State(state): State<AppState>,
    Path(id): Path<String>,
    checked: Checked<CsrfOnly>,
) -> Response {
    let result = state.engine.execute(&checked.viewer.caller, &id).await;
    let done = match &result {
        Ok(view) => format!(
            "executed {id}: it {}",
            if view.proposal.state == ProposalState::Succeeded {
                "succeeded".to_string()
            } else {
                format!("is {}", view.proposal.state.as_str())
            }
        ),
        Err(_) => String::new(),
    };
    finish(
        &state,
        &checked.viewer,
        result,
        done,
        format!("/proposals/{}", url_encode(&id)),
    )
    .await
}

// ---- Kill switches -----------------------------------------------------------------------

async fn switches_page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let banner = degraded(&state).await;
    let csrf = esc(&viewer.csrf);
    let declared = state.engine.policy().decider.policies().kill_switches();
    let current = state.engine.kill_switches().await.unwrap_or_default();
    let rows: String = current
        .iter()
        .map(|switch| {
            format!(
                "<tr><td><code>{}</code></td><td class=\"{}\">{}</td><td>{} by {}: {}</td></tr>",
                esc(&switch.name),
                if switch.on { "bad" } else { "ok" },
                if switch.on { "ON" } else { "off" },
                esc(&switch.updated_at),
                esc(&switch.updated_by),
                esc(&switch.reason)
            )
        })
        .collect();
    let global_on = current
        .iter()
        .any(|switch| switch.name == "global" && switch.on);
    let big_button = if global_on {
        format!(
            "<form method=\"post\" action=\"/kill-switches\" class=\"action switch-control\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"name\" value=\"global\"><input type=\"hidden\" name=\"on\" value=\"false\"><label for=\"off-reason\">Reason for turning it off</label><input type=\"text\" id=\"off-reason\" name=\"reason\" required maxlength=\"500\"><button type=\"submit\" id=\"global-off\">Turn the global switch off</button></form>"
        )
    } else {
        format!(
            "<form method=\"post\" action=\"/kill-switches\" class=\"action stop switch-control\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"name\" value=\"global\"><input type=\"hidden\" name=\"on\" value=\"true\"><label for=\"on-reason\">Reason</label><input type=\"text\" id=\"on-reason\" name=\"reason\" required maxlength=\"500\" value=\"\"><button type=\"submit\" id=\"global-on\" class=\"danger\">STOP: turn the global kill switch on</button></form>"
        )
    };
    let body = format!(
        "<p>A kill switch stops what its policy says, at the next decision of every process sharing the store. The global switch stops every propose, approve, execute and rollback.</p>{big_button}\
         <h2>Switches</h2>{table}\
         <h2>Another switch</h2><form method=\"post\" action=\"/kill-switches\" class=\"action switch-control\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label for=\"name\">Name</label><input type=\"text\" id=\"name\" name=\"name\" required placeholder=\"target:hubitat\"><label for=\"state\">State</label><select id=\"state\" name=\"on\"><option value=\"true\">on</option><option value=\"false\">off</option></select><label for=\"other-reason\">Reason</label><input type=\"text\" id=\"other-reason\" name=\"reason\" required maxlength=\"500\"><button type=\"submit\">Set</button></form><p>The policy set declares: {declared}</p>",
        table = if rows.is_empty() {
            "<p>No switch was ever set: all off.</p>".to_string()
        } else {
            format!(
                "<table class=\"list\"><thead><tr><th>Switch</th><th>State</th><th>Last change</th></tr></thead><tbody>{rows}</tbody></table>"
            )
        },
        declared = esc(&declared.join(", ")),
    );
    layout(&banner, &viewer, "Kill switches", "/kill-switches", &body).into_response()
}

#[derive(Deserialize)]
struct SwitchForm {
    name: String,
    on: String,
    reason: Option<String>,
}

async fn set_switch(State(state): State<AppState>, checked: Checked<SwitchForm>) -> Response {
    let on = checked.form.on == "true";
    let result = state
        .engine
        .set_kill_switch(
            &checked.viewer.caller,
            checked.form.name.trim(),
            on,
            checked.form.reason.as_deref().unwrap_or_default(),
        )
        .await;
    let done = format!(
        "kill switch {} is {}",
        checked.form.name.trim(),
        if on { "ON" } else { "off" }
    );
    finish(
        &state,
        &checked.viewer,
        result,
        done,
        "/kill-switches".into(),
    )
    .await
}

// ---- Exemptions --------------------------------------------------------------------------

async fn exemptions_page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let banner = degraded(&state).await;
    let csrf = esc(&viewer.csrf);
    let list = match state.engine.exemptions(&viewer.caller).await {
        Err(error) => refusal_html(&ErrorBody::from_error(&error, false)),
        Ok(list) if list.is_empty() => "<p>No exemptions.</p>".into(),
        Ok(list) => {
            let rows: String = list
                .iter()
                .map(|view| {
                    let status = if view.revoked {
                        "revoked".to_string()
                    } else if view.in_force {
                        format!("in force, {} left", crate::clock::human_duration(view.seconds_left.unwrap_or(0)))
                    } else {
                        "not in force".to_string()
                    };
                    let revoke = if view.revoked {
                        String::new()
                    } else {
                        format!(
                            "<form method=\"post\" action=\"/exemptions/{}/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"text\" name=\"reason\" required placeholder=\"reason\" aria-label=\"reason\"><button type=\"submit\">Revoke</button></form>",
                            url_encode(&view.id)
                        )
                    };
                    format!(
                        "<tr><td><code>{}</code><br><small>{}</small></td><td><code>{}</code>{}</td><td>{} → {}</td><td>{}</td><td>requested by {}, approved by {}</td><td>{status}</td><td>{revoke}</td></tr>",
                        esc(&view.id),
                        esc(&view.source),
                        esc(view.capability.as_deref().unwrap_or("?")),
                        view.owner.as_deref().map_or_else(String::new, |owner| format!(" for {}", esc(owner))),
                        esc(&view.starts),
                        esc(view.expires.as_deref().unwrap_or("(no expiry)")),
                        esc(view.justification.as_deref().unwrap_or("")),
                        esc(&view.requested_by),
                        esc(&view.approved_by),
                    )
                })
                .collect();
            format!(
                "<table class=\"list\"><thead><tr><th>Exemption</th><th>Capability</th><th>Window</th><th>Justification</th><th>Who</th><th>Status</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
            )
        }
    };
    let options: String = state
        .engine
        .policy()
        .manifests
        .keys()
        .map(|id| format!("<option value=\"{0}\">{0}</option>", esc(id)))
        .collect();
    let body = format!(
        "{list}<h2>Grant an exemption</h2><p>An exemption stands in for a capability's approvals for a while. You grant it; whoever asked for it cannot.</p>\
         <form method=\"post\" action=\"/exemptions\" class=\"action\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"capability\">Capability</label><select id=\"capability\" name=\"capability\">{options}</select>\
         <label for=\"owner\">Only for owner (optional)</label><input type=\"text\" id=\"owner\" name=\"owner\" placeholder=\"staff:alice\">\
         <label for=\"expires\">Expires</label><input type=\"text\" id=\"expires\" name=\"expires\" required placeholder=\"2d or 2026-12-24T18:00:00Z\">\
         <label for=\"justification\">Justification</label><input type=\"text\" id=\"justification\" name=\"justification\" required minlength=\"10\" maxlength=\"1000\">\
         <label for=\"requested_by\">Requested by</label><input type=\"text\" id=\"requested_by\" name=\"requested_by\" required placeholder=\"staff:bob\">\
         <button type=\"submit\">Grant</button></form>"
    );
    layout(&banner, &viewer, "Exemptions", "/exemptions", &body).into_response()
}

#[derive(Deserialize)]
struct ExemptForm {
    capability: String,
    owner: Option<String>,
    expires: String,
    justification: String,
    requested_by: String,
}

async fn exempt(State(state): State<AppState>, checked: Checked<ExemptForm>) -> Response {
    let form = &checked.form;
    let result =
        match crate::engine::proposals::parse_expiry(form.expires.trim(), crate::clock::now()) {
            Err(problem) => Err(EngineError::invalid(
                format!("`expires`: {problem}"),
                "write a duration such as `2d` or a time",
            )),
            Ok(expires) => {
                let request = crate::engine::exemptions::ExemptionRequest {
                    capability: form.capability.clone(),
                    owner: form
                        .owner
                        .as_deref()
                        .map(str::trim)
                        .filter(|owner| !owner.is_empty())
                        .map(str::to_string),
                    starts: None,
                    expires,
                    justification: form.justification.clone(),
                    requested_by: form.requested_by.trim().to_string(),
                };
                state
                    .engine
                    .grant_exemption(&checked.viewer.caller, &request)
                    .await
            }
        };
    let done = match &result {
        Ok(view) => format!("granted {} for {}", view.id, form.capability),
        Err(_) => String::new(),
    };
    finish(&state, &checked.viewer, result, done, "/exemptions".into()).await
}

async fn revoke_exemption(
    State(state): State<AppState>,
    Path(id): Path<String>,
    checked: Checked<CommentForm>,
) -> Response {
    let reason = checked.form.reason.clone().unwrap_or_default();
    let result = state
        .engine
        .revoke_exemption(&checked.viewer.caller, &id, &reason)
        .await;
    finish(
        &state,
        &checked.viewer,
        result,
        format!("revoked {id}"),
        "/exemptions".into(),
    )
    .await
}

// ---- Audit -------------------------------------------------------------------------------

#[derive(Deserialize, Default)]
struct AuditParams {
    actor: Option<String>,
    capability: Option<String>,
    decision: Option<String>,
    before: Option<i64>,
}

async fn audit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<AuditParams>,
) -> Response {
    let banner = degraded(&state).await;
    let clean = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let filter = AuditFilter {
        actor: clean(&params.actor),
        capability: clean(&params.capability),
        decision: clean(&params.decision),
        proposal_id: None,
        before: params.before,
        limit: 50,
    };
    let verify = match audit_status(&state).await {
        Ok(true) => "<p class=\"ok\" id=\"verify\">verify: the chain and its signed checkpoints check out</p>".to_string(),
        Ok(false) => "<p class=\"bad\" id=\"verify\">verify: FAILS — run <code>brain audit verify</code> for the first bad event</p>".to_string(),
        Err(problem) => format!("<p class=\"bad\" id=\"verify\">verify could not run: {}</p>", esc(&problem)),
    };
    let events = state.engine.audit_tail(&viewer.caller, &filter).await;
    let table = match events {
        Err(error) => refusal_html(&ErrorBody::from_error(&error, false)),
        Ok(events) => {
            let rows: String = events
                .iter()
                .map(|event| {
                    format!(
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"decision-{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        event.seq,
                        esc(&event.at),
                        esc(&event.actor),
                        esc(&event.action),
                        esc(&event.decision),
                        esc(&event.decision),
                        esc(event.capability.as_deref().unwrap_or("")),
                        event.proposal_id.as_deref().map_or_else(String::new, |id| format!("<a href=\"/proposals/{}\">{}</a>", url_encode(id), esc(id))),
                        esc(&event.reason_codes.join(", ")),
                    )
                })
                .collect();
            let older =
                events
                    .last()
                    .filter(|_| events.len() == 50)
                    .map_or_else(String::new, |last| {
                        let mut query = format!("before={}", last.seq);
                        for (key, value) in [
                            ("actor", &filter.actor),
                            ("capability", &filter.capability),
                            ("decision", &filter.decision),
                        ] {
                            if let Some(value) = value {
                                query.push_str(&format!("&{key}={}", url_encode(value)));
                            }
                        }
                        format!("<p><a href=\"/audit?{query}\" id=\"older\">Older events</a></p>")
                    });
            format!(
                "<table class=\"list\"><thead><tr><th>#</th><th>Time</th><th>Actor</th><th>Action</th><th>Decision</th><th>Capability</th><th>Proposal</th><th>Reasons</th></tr></thead><tbody>{rows}</tbody></table>{older}"
            )
        }
    };
    let value = |field: &Option<String>| esc(field.as_deref().unwrap_or(""));
    let body = format!(
        "{verify}<form method=\"get\" action=\"/audit\" class=\"filters\"><label for=\"actor\">Actor</label><input type=\"text\" id=\"actor\" name=\"actor\" value=\"{}\"><label for=\"capability\">Capability</label><input type=\"text\" id=\"capability\" name=\"capability\" value=\"{}\"><label for=\"decision\">Decision</label><input type=\"text\" id=\"decision\" name=\"decision\" value=\"{}\" placeholder=\"allow, deny, succeeded...\"><button type=\"submit\">Filter</button></form>{table}",
        value(&filter.actor),
        value(&filter.capability),
        value(&filter.decision),
    );
    layout(&banner, &viewer, "Audit", "/audit", &body).into_response()
}

// ---- StudioState -------------------------------------------------------------------------

mod studio_state;

async fn studio_state_page(State(state): State<AppState>, viewer: Viewer) -> Response {
    studio_state::overview(&state, &viewer).await
}

// ---- Drafts ------------------------------------------------------------------------------

mod drafts;

async fn drafts_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<drafts::DraftParams>,
) -> Response {
    drafts::page(&state, &viewer, &params).await
}

// ---- Intake review -----------------------------------------------------------------------

mod intake;

async fn intake_page(State(state): State<AppState>, viewer: Viewer) -> Response {
    intake::page(&state, &viewer).await
}

async fn intake_override(
    State(state): State<AppState>,
    checked: Checked<intake::OverrideForm>,
) -> Response {
    intake::override_post(&state, checked).await
}

// ---- Devices -----------------------------------------------------------------------------

/// A connector's health in one line: the badge, devices read, last read, why it is not healthy.
fn connector_summary(status: &crate::connectors::guard::ConnectorStatus) -> String {
    use crate::connectors::Health;
    let class = match status.health {
        Health::Healthy => "ok",
        Health::Degraded | Health::Unknown => "warn",
        Health::Down => "bad",
    };
    let mut parts = vec![format!(
        "<span class=\"{class} health\" data-health=\"{health}\">{health}</span>",
        health = status.health.as_str()
    )];
    if let Some(readings) = &status.readings {
        parts.push(format!("{} devices", readings.devices.len()));
    }
    match status.last_success_age_seconds {
        Some(age) => parts.push(format!("read {} ago", crate::clock::human_duration(age))),
        None => parts.push("not read yet".into()),
    }
    if let Some(paused) = &status.paused {
        parts.push(format!(
            "<span class=\"bad\">paused: {}</span>",
            esc(paused)
        ));
    }
    if let Some(reason) = &status.reason {
        parts.push(esc(reason));
    }
    parts.join(", ")
}

fn attribute_text(attribute: &crate::connectors::Attribute) -> String {
    let number = attribute.value.as_f64();
    // Durations in seconds read better as `212h 24m`.
    if attribute.unit.as_deref() == Some("s")
        && let Some(seconds) = number
    {
        return crate::clock::human_duration(seconds.round() as i64);
    }
    let value = match (&attribute.value, number) {
        (_, Some(number)) if number.fract() == 0.0 && number.abs() < 1e15 => {
            format!("{}", number as i64)
        }
        (serde_json::Value::String(text), _) => text.clone(),
        (serde_json::Value::Null, _) => "—".into(),
        (other, _) => other.to_string(),
    };
    match &attribute.unit {
        Some(unit) => format!("{value} {unit}"),
        None => value,
    }
}

async fn devices_page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let banner = degraded(&state).await;
    if let Err(error) = state
        .engine
        .authorize_area(&viewer.caller, Action::View)
        .await
    {
        let body = refusal_html(&ErrorBody::from_error(&error, false));
        return layout(&banner, &viewer, "Devices", "/devices", &body).into_response();
    }
    let statuses = super::connector_statuses(&state).await;
    let mut body = String::from(
        "<p>Read-only readings from the studio's devices, as each connector last read them. \
         Physical connectors never send commands.</p>",
    );
    if statuses.is_empty() {
        body.push_str("<p id=\"no-connectors\">No device connector is configured (<code>connectors</code> in brain.yaml).</p>");
    }
    for status in &statuses {
        let errors: Vec<String> = status
            .errors
            .iter()
            .filter(|(_, count)| **count > 0)
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        body.push_str(&format!(
            "<section class=\"connector\" id=\"connector-{id}\"><h2><code>{id}</code> <small>{kind}, {class}, read-only</small></h2>\
             <table class=\"facts\"><tr><th>Health</th><td>{summary}</td></tr>\
             <tr><th>Device API</th><td><code>{location}</code></td></tr>\
             <tr><th>Circuit breaker</th><td>{breaker}, {failures} consecutive failures</td></tr>\
             <tr><th>Requests</th><td>{requests} sent; errors: {errors}; unparseable items: {unparseable}</td></tr>\
             <tr><th>Last error</th><td>{last_error}</td></tr></table>",
            id = esc(&status.id),
            kind = esc(&status.kind),
            class = status.class.as_str(),
            summary = connector_summary(status),
            location = esc(&status.location),
            breaker = status.breaker.as_str(),
            failures = status.consecutive_failures,
            requests = status.requests,
            errors = if errors.is_empty() { "none".to_string() } else { esc(&errors.join(", ")) },
            unparseable = status.unparseable_total,
            last_error = status.last_error.as_ref().map_or_else(
                || "none".to_string(),
                |error| format!("{} <small>{}</small>", esc(&error.to_string()), esc(status.last_error_at.as_deref().unwrap_or(""))),
            ),
        ));
        if let Some(readings) = &status.readings {
            if !readings.facts.is_empty() {
                let facts: Vec<String> = readings
                    .facts
                    .iter()
                    .map(|(name, value)| {
                        format!(
                            "{} <code>{}</code>",
                            esc(name),
                            esc(value.as_str().map_or(&value.to_string(), |text| text))
                        )
                    })
                    .collect();
                body.push_str(&format!("<p class=\"facts\">{}</p>", facts.join(" · ")));
            }
            body.push_str("<table class=\"list devices\"><thead><tr><th>Device</th><th>Type</th><th>Room</th><th>Readings</th><th>Reported</th></tr></thead><tbody>");
            for device in &readings.devices {
                let values: Vec<String> = device
                    .attributes
                    .iter()
                    .map(|(name, attribute)| {
                        format!(
                            "{} <strong>{}</strong>",
                            esc(name),
                            esc(&attribute_text(attribute))
                        )
                    })
                    .collect();
                body.push_str(&format!(
                    "<tr data-device=\"{id}\"><td>{label}</td><td>{kind}</td><td>{room}</td><td>{values}</td><td>{reported}</td></tr>",
                    id = esc(&device.id),
                    label = esc(&device.label),
                    kind = esc(&device.device_type),
                    room = esc(device.room.as_deref().unwrap_or("—")),
                    values = values.join("<br>"),
                    reported = esc(device.reported_at.as_deref().unwrap_or("—")),
                ));
            }
            body.push_str("</tbody></table>");
            if !readings.problems.is_empty() {
                let problems: String = readings
                    .problems
                    .iter()
                    .map(|problem| format!("<li>{}</li>", esc(problem)))
                    .collect();
                body.push_str(&format!("<p class=\"warn\">Not read in the last poll:</p><ul class=\"problems\">{problems}</ul>"));
            }
        }
        body.push_str("</section>");
    }
    layout(&banner, &viewer, "Devices", "/devices", &body).into_response()
}
