//! The JSON API under `/api/v1`: every Engine operation the CLI has, and read endpoints for the
//! policy set. Each call authenticates its `Authorization: Bearer <token>` and then asks the
//! Engine, whose Cedar decision authorizes it; handlers only translate HTTP to Engine calls.
//!
//! Errors have one shape, `{code, message, reason_codes, policy_ids, retry_after}`, with the
//! status that fits (400, 401, 403, 404, 409, 429, 503). Internal causes (store errors) are
//! logged with the request id, never sent.
//!
//! Architecture Invariant: a handler never decides anything itself; an operation the Engine has
//! no decision for does not exist here.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::AppState;
use crate::engine::exemptions::ExemptionRequest;
use crate::engine::explain::ExplainRequest;
use crate::engine::lifecycle::ProposalState;
use crate::engine::{Caller, EngineError, ErrorBody, ProposeRequest};
use crate::policy::decide::Action;
use crate::store::{AuditFilter, ProposalFilter};

/// An API failure: an Engine refusal, or a request brain could not read.
#[derive(Debug)]
pub enum ApiError {
    Engine(EngineError),
    /// The request itself is malformed (JSON body, query string, path).
    BadRequest(String),
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        ApiError::Engine(error)
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Engine(error) => match error {
                EngineError::Denied(denial)
                    if denial
                        .reason_codes
                        .iter()
                        .any(|code| code == "QUOTA_EXCEEDED") =>
                {
                    StatusCode::TOO_MANY_REQUESTS
                }
                EngineError::Denied(denial)
                    if denial.reason_codes.iter().any(|code| code == "NOT_FOUND") =>
                {
                    StatusCode::NOT_FOUND
                }
                EngineError::Denied(denial)
                    if denial
                        .reason_codes
                        .iter()
                        .any(|code| code == "ACTOR_REVOKED") =>
                {
                    StatusCode::UNAUTHORIZED
                }
                EngineError::Denied(_) => StatusCode::FORBIDDEN,
                EngineError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
                EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
                EngineError::InvalidInput { .. } => StatusCode::BAD_REQUEST,
                EngineError::Conflict { .. } | EngineError::Suppressed { .. } => {
                    StatusCode::CONFLICT
                }
                EngineError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
                EngineError::Remote(_) => StatusCode::BAD_GATEWAY,
            },
        }
    }

    pub fn body(&self) -> ErrorBody {
        match self {
            ApiError::BadRequest(message) => ErrorBody {
                code: "bad_request".into(),
                message: message.clone(),
                reason_codes: vec!["BAD_REQUEST".into()],
                policy_ids: Vec::new(),
                retry_after: None,
                help: Some("see /api/v1/openapi.json for the request shapes".into()),
            },
            ApiError::Engine(error) => ErrorBody::from_error(error, false),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Engine(EngineError::Store(cause)) = &self {
            // The cause stays in the log (with the request id), never in the response.
            tracing::error!(cause = %cause, "store error answering an API call");
        }
        let status = self.status();
        let body = self.body();
        let mut response = (status, Json(&body)).into_response();
        if let Some(seconds) = body.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"brain\""),
            );
        }
        response
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The caller, from `Authorization: Bearer <token>`.
pub struct Authed(pub Caller);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                EngineError::Unauthenticated(
                    "no `Authorization: Bearer <token>` header was sent".into(),
                )
            })?
            .to_str()
            .map_err(|_| {
                EngineError::Unauthenticated("the Authorization header is not text".into())
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                EngineError::Unauthenticated(
                    "the Authorization header is not `Bearer <token>`".into(),
                )
            })?;
        Ok(Authed(state.engine.authenticate(token).await?))
    }
}

/// A JSON body; a malformed one is a 400 in the API's error shape.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::BadRequest(json_problem(&rejection))),
        }
    }
}

fn json_problem(rejection: &JsonRejection) -> String {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            "the body must be JSON with `Content-Type: application/json`".into()
        }
        other => format!("the JSON body is not valid: {}", other.body_text()),
    }
}

/// A query string; a malformed one is a 400.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::BadRequest(query_problem(&rejection))),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> String {
    format!("the query string is not valid: {}", rejection.body_text())
}

/// `GET /api/v1/proposals` filters.
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalQuery {
    pub state: Option<String>,
    pub capability: Option<String>,
    pub limit: Option<i64>,
}

impl ProposalQuery {
    pub fn filter(&self) -> Result<ProposalFilter, ApiError> {
        let state = match &self.state {
            None => None,
            Some(text) => Some(ProposalState::parse(text).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "`state={text}` is not a state; use one of {}",
                    ProposalState::ALL.map(ProposalState::as_str).join(", ")
                ))
            })?),
        };
        Ok(ProposalFilter {
            state,
            capability: self.capability.clone(),
            proposer: None,
            limit: self.limit.unwrap_or(50).clamp(1, 1_000),
        })
    }
}

/// `POST /api/v1/proposals`.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeBody {
    pub capability: String,
    pub input: serde_json::Value,
    pub rationale: String,
    #[serde(default)]
    pub idempotency_key: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub draft: bool,
}

#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /api/v1/exemptions`; times are RFC 3339 or durations from now (`2d`).
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExemptBody {
    pub capability: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub starts: Option<String>,
    pub expires: String,
    pub justification: String,
    pub requested_by: String,
}

/// `POST /api/v1/kill-switches/{name}`.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchBody {
    pub on: bool,
    pub reason: String,
}

/// `POST /api/v1/intake/classify`: a text, or a proposal whose input and rationale to classify.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyBody {
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub proposal: Option<String>,
}

/// `POST /api/v1/intake/override`.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    /// A proposal id, or `agentRequests/<id>`.
    pub subject: String,
    /// `true` lets it go on; `false` keeps it blocked.
    pub grant: bool,
    pub reason_code: String,
    pub note: String,
}

/// `POST /api/v1/actors`.
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActorBody {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// `POST /api/v1/delegations`; `expires` is RFC 3339 or a duration from now (`7d`).
#[derive(Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegateBody {
    pub agent: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub expires: String,
}

#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationQuery {
    pub agent: Option<String>,
}

/// `GET /api/v1/scorecard`: the period as `brain scorecard --period` takes it (default `7d`),
/// and whether to compute the period just before it instead.
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScorecardQuery {
    pub period: Option<String>,
    pub previous: Option<bool>,
}

/// The studio's objectives over a period, computed from brain's own records.
async fn scorecard(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Params(query): Params<ScorecardQuery>,
) -> ApiResult<crate::scorecard::Scorecard> {
    Ok(Json(
        state
            .engine
            .configured_scorecard(
                &caller,
                &state.config.config,
                query.period.as_deref().unwrap_or("7d"),
                query.previous.unwrap_or(false),
            )
            .await?,
    ))
}

/// `GET /api/v1/audit` filters; `before` pages back from a sequence number.
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub capability: Option<String>,
    pub decision: Option<String>,
    pub proposal: Option<String>,
    pub before: Option<i64>,
    pub limit: Option<i64>,
}

impl AuditQuery {
    pub fn filter(&self) -> AuditFilter {
        AuditFilter {
            actor: self.actor.clone(),
            capability: self.capability.clone(),
            decision: self.decision.clone(),
            proposal_id: self.proposal.clone(),
            before: self.before,
            limit: self.limit.unwrap_or(50).clamp(1, 1_000),
        }
    }
}

/// `GET /api/v1/snapshots` paging.
#[derive(Debug, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    pub limit: Option<i64>,
}

/// A kill switch and the switches the policy set declares.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
pub struct SwitchList {
    pub switches: Vec<crate::engine::KillSwitchState>,
    pub declared: Vec<String>,
}

/// One policy of the loaded set.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
pub struct PolicyView {
    pub id: String,
    pub effect: String,
    pub reason: Option<String>,
    pub kill_switch: Option<String>,
    pub file: String,
}

/// The loaded policy set.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
pub struct PolicyList {
    pub hash: String,
    pub policies: Vec<PolicyView>,
}

/// One reason code of the catalogue.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
pub struct ReasonView {
    pub code: String,
    pub meaning: String,
    pub fix: String,
}

fn parse_time(field: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, ApiError> {
    crate::engine::proposals::parse_expiry(text, crate::clock::now()).map_err(|problem| {
        ApiError::Engine(EngineError::invalid(
            format!("`{field}`: {problem}"),
            "write a duration such as `7d` or a time such as `2026-12-01T09:00:00Z`",
        ))
    })
}

/// Every `/api/v1` route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/proposals", get(list_proposals).post(propose))
        .route("/api/v1/proposals/{id}", get(show_proposal))
        .route("/api/v1/proposals/{id}/submit", post(submit))
        .route("/api/v1/proposals/{id}/approve", post(approve))
        .route("/api/v1/proposals/{id}/reject", post(reject))
        .route("/api/v1/proposals/{id}/cancel", post(cancel))
        .route("/api/v1/proposals/{id}/dry-run", post(dry_run))
        .route("/api/v1/proposals/{id}/execute", post(execute))
        .route("/api/v1/proposals/{id}/rollback", post(rollback))
        .route("/api/v1/exemptions", get(list_exemptions).post(exempt))
        .route("/api/v1/exemptions/{id}/revoke", post(revoke_exemption))
        .route("/api/v1/cluster", get(cluster))
        .route("/api/v1/scorecard", get(scorecard))
        .route("/api/v1/kill-switches", get(list_switches))
        .route("/api/v1/kill-switches/{name}", post(set_switch))
        .route("/api/v1/actors", get(list_actors).post(add_actor))
        .route("/api/v1/actors/{id}/revoke", post(revoke_actor))
        .route("/api/v1/delegations", get(list_delegations).post(delegate))
        .route("/api/v1/delegations/{id}/revoke", post(revoke_delegation))
        .route("/api/v1/audit", get(audit_tail))
        .route("/api/v1/audit/verify", get(audit_verify))
        .route("/api/v1/decisions/explain", post(explain))
        .route("/api/v1/capabilities", get(capabilities))
        .route("/api/v1/policies", get(policies))
        .route("/api/v1/reason-codes", get(reason_codes))
        .route("/api/v1/snapshots", get(list_snapshots))
        .route("/api/v1/snapshots/{id}", get(show_snapshot))
        .route("/api/v1/freshness", get(freshness))
        .route("/api/v1/connectors", get(list_connectors))
        .route("/api/v1/connectors/{id}", get(show_connector))
        .route("/api/v1/intake/classify", post(intake_classify))
        .route("/api/v1/intake/queue", get(intake_queue))
        .route("/api/v1/intake/override", post(intake_override))
}

async fn intake_classify(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Body(body): Body<ClassifyBody>,
) -> ApiResult<crate::intake::Classification> {
    state
        .engine
        .authorize_area(&caller, crate::policy::decide::Action::View)
        .await?;
    let text = match (body.text, body.proposal) {
        (Some(text), None) => text,
        (None, Some(id)) => {
            let view = state.engine.proposal(&caller, &id).await?;
            format!(
                "{}\n{}",
                view.proposal.rationale,
                crate::intake::text_of(&view.proposal.input)
            )
        }
        _ => {
            return Err(ApiError::BadRequest(
                "send exactly one of `text` and `proposal`".into(),
            ));
        }
    };
    Ok(Json(state.engine.policy().intake.classify(&text)))
}

async fn intake_queue(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<Vec<crate::engine::intake::Queued>> {
    Ok(Json(state.engine.intake_queue(&caller).await?))
}

async fn intake_override(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Body(body): Body<OverrideBody>,
) -> ApiResult<crate::intake::IntakeRecord> {
    Ok(Json(
        state
            .engine
            .intake_override(
                &caller,
                &body.subject,
                body.grant,
                &body.reason_code,
                &body.note,
            )
            .await?,
    ))
}

async fn openapi(Authed(_): Authed) -> Json<serde_json::Value> {
    Json(super::openapi::document())
}

async fn whoami(Authed(caller): Authed) -> Json<Caller> {
    Json(caller)
}

async fn list_proposals(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Params(query): Params<ProposalQuery>,
) -> ApiResult<Vec<crate::engine::ProposalView>> {
    Ok(Json(
        state.engine.proposals(&caller, &query.filter()?).await?,
    ))
}

async fn propose(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Body(body): Body<ProposeBody>,
) -> ApiResult<crate::engine::ProposalView> {
    let request = ProposeRequest {
        capability: body.capability,
        input: body.input,
        rationale: body.rationale,
        idempotency_key: body.idempotency_key,
        owner: body.owner,
        draft: body.draft,
        swarm: None,
    };
    Ok(Json(state.engine.propose(&caller, &request).await?))
}

async fn show_proposal(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::engine::ProposalView> {
    Ok(Json(state.engine.proposal(&caller, &id).await?))
}

async fn submit(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::engine::ProposalView> {
    Ok(Json(state.engine.submit(&caller, &id).await?))
}

async fn approve(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    Body(body): Body<CommentBody>,
) -> ApiResult<crate::engine::ProposalView> {
    Ok(Json(
        state
            .engine
            .approve(&caller, &id, body.comment.as_deref())
            .await?,
    ))
}

async fn reject(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    Body(body): Body<ReasonBody>,
) -> ApiResult<crate::engine::ProposalView> {
    Ok(Json(
        state
            .engine
            .close(&caller, &id, Action::Reject, body.reason.as_deref())
            .await?,
    ))
}

async fn cancel(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    Body(body): Body<ReasonBody>,
) -> ApiResult<crate::engine::ProposalView> {
    Ok(Json(
        state
            .engine
            .close(&caller, &id, Action::Cancel, body.reason.as_deref())
            .await?,
    ))
}

async fn dry_run(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::engine::DryRun> {
    Ok(Json(state.engine.dry_run(&caller, &id).await?))
}

async fn execute(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::engine::ProposalView> {
    Ok(Json(state.engine.execute(&caller, &id).await?))
}

async fn rollback(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::engine::ProposalView> {
    Ok(Json(state.engine.rollback(&caller, &id).await?))
}

async fn list_exemptions(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<Vec<crate::engine::ExemptionView>> {
    Ok(Json(state.engine.exemptions(&caller).await?))
}

async fn exempt(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Body(body): Body<ExemptBody>,
) -> ApiResult<crate::engine::ExemptionView> {
    let request = ExemptionRequest {
        capability: body.capability,
        owner: body.owner,
        starts: body
            .starts
            .as_deref()
            .map(|text| parse_time("starts", text))
            .transpose()?,
        expires: parse_time("expires", &body.expires)?,
        justification: body.justification,
        requested_by: body.requested_by,
    };
    Ok(Json(state.engine.grant_exemption(&caller, &request).await?))
}

async fn revoke_exemption(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    Body(body): Body<ReasonBody>,
) -> ApiResult<crate::engine::ExemptionView> {
    let reason = body.reason.unwrap_or_default();
    Ok(Json(
        state.engine.revoke_exemption(&caller, &id, &reason).await?,
    ))
}

/// `GET /api/v1/cluster`: this daemon, the leader lease and every daemon sharing the store
/// (staff: the `audit` area).
async fn cluster(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<super::cluster::ClusterView> {
    state.engine.authorize_area(&caller, Action::Audit).await?;
    Ok(Json(
        state
            .cluster
            .view(&*state.store)
            .await
            .map_err(EngineError::from)?,
    ))
}

async fn list_switches(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<SwitchList> {
    state.engine.authorize_area(&caller, Action::View).await?;
    Ok(Json(SwitchList {
        switches: state.engine.kill_switches().await?,
        declared: state
            .engine
            .policy()
            .decider
            .policies()
            .kill_switches()
            .into_iter()
            .map(str::to_string)
            .collect(),
    }))
}

async fn set_switch(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(name): Path<String>,
    Body(body): Body<SwitchBody>,
) -> ApiResult<crate::engine::KillSwitchState> {
    Ok(Json(
        state
            .engine
            .set_kill_switch(&caller, &name, body.on, &body.reason)
            .await?,
    ))
}

async fn list_actors(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<Vec<crate::store::Actor>> {
    Ok(Json(state.engine.actors(&caller).await?))
}

async fn add_actor(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Body(body): Body<ActorBody>,
) -> ApiResult<crate::engine::Issued> {
    Ok(Json(
        state
            .engine
            .add_actor(&caller, &body.id, body.display_name.as_deref())
            .await?,
    ))
}

async fn revoke_actor(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::store::Actor> {
    Ok(Json(state.engine.revoke_actor(&caller, &id).await?))
}

async fn list_delegations(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Params(query): Params<DelegationQuery>,
) -> ApiResult<Vec<crate::store::Delegation>> {
    Ok(Json(
        state
            .engine
            .delegations(&caller, query.agent.as_deref())
            .await?,
    ))
}

async fn delegate(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Body(body): Body<DelegateBody>,
) -> ApiResult<crate::store::Delegation> {
    let expires = parse_time("expires", &body.expires)?;
    Ok(Json(
        state
            .engine
            .delegate(&caller, &body.agent, &body.owner, &body.scopes, expires)
            .await?,
    ))
}

async fn revoke_delegation(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::store::Delegation> {
    Ok(Json(state.engine.revoke_delegation(&caller, &id).await?))
}

async fn audit_tail(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Params(query): Params<AuditQuery>,
) -> ApiResult<Vec<crate::audit::AuditEvent>> {
    Ok(Json(
        state.engine.audit_tail(&caller, &query.filter()).await?,
    ))
}

async fn audit_verify(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<crate::engine::AuditVerification> {
    Ok(Json(state.engine.audit_verify(&caller).await?))
}

async fn explain(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Body(body): Body<ExplainRequest>,
) -> ApiResult<crate::engine::explain::Explanation> {
    Ok(Json(state.engine.explain(&caller, &body).await?))
}

async fn capabilities(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<Vec<crate::capability::Manifest>> {
    state.engine.authorize_area(&caller, Action::View).await?;
    Ok(Json(
        state.engine.policy().manifests.values().cloned().collect(),
    ))
}

async fn policies(State(state): State<AppState>, Authed(caller): Authed) -> ApiResult<PolicyList> {
    state.engine.authorize_area(&caller, Action::View).await?;
    let set = state.engine.policy().decider.policies();
    Ok(Json(PolicyList {
        hash: set.hash.clone(),
        policies: set
            .policies
            .iter()
            .map(|policy| PolicyView {
                id: policy.id.clone(),
                effect: if policy.effect == cedar_policy::Effect::Permit {
                    "permit".into()
                } else {
                    "forbid".into()
                },
                reason: policy.reason.clone(),
                kill_switch: policy.kill_switch.clone(),
                file: policy.file.clone(),
            })
            .collect(),
    }))
}

async fn reason_codes(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<Vec<ReasonView>> {
    state.engine.authorize_area(&caller, Action::View).await?;
    Ok(Json(
        crate::policy::reasons::CATALOGUE
            .iter()
            .map(|reason| ReasonView {
                code: reason.code.into(),
                meaning: reason.meaning.into(),
                fix: reason.fix.into(),
            })
            .collect(),
    ))
}

async fn list_snapshots(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Params(query): Params<SnapshotQuery>,
) -> ApiResult<Vec<crate::store::SnapshotRecord>> {
    Ok(Json(
        state
            .engine
            .snapshots(&caller, query.limit.unwrap_or(20))
            .await?,
    ))
}

/// One snapshot by id, or `latest`.
async fn show_snapshot(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::store::SnapshotRecord> {
    let id = (id != "latest").then_some(id);
    Ok(Json(state.engine.snapshot(&caller, id.as_deref()).await?))
}

async fn freshness(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<crate::engine::snapshots::Freshness> {
    state.engine.authorize_area(&caller, Action::View).await?;
    Ok(Json(state.engine.freshness().await?))
}

/// The device connectors with their health, breaker, counters and latest readings.
async fn list_connectors(
    State(state): State<AppState>,
    Authed(caller): Authed,
) -> ApiResult<Vec<crate::connectors::guard::ConnectorStatus>> {
    state.engine.authorize_area(&caller, Action::View).await?;
    Ok(Json(super::connector_statuses(&state).await))
}

async fn show_connector(
    State(state): State<AppState>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> ApiResult<crate::connectors::guard::ConnectorStatus> {
    state.engine.authorize_area(&caller, Action::View).await?;
    super::connector_statuses(&state)
        .await
        .into_iter()
        .find(|status| status.id == id)
        .map(Json)
        .ok_or(EngineError::NotFound {
            what: "connector",
            id,
        })
        .map_err(Into::into)
}
