//! The [`Control`] surface over a daemon's JSON API (`--server URL` or `BRAIN_SERVER`): the same
//! operations as the local Engine, sent as `/api/v1` calls with the caller's token. Answers and
//! refusals come back in the API's own shapes, so every command prints exactly what it prints
//! locally.
//!
//! Architecture Invariant: nothing here decides; the daemon's Engine does.

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::session::Control;
use crate::audit::AuditEvent;
use crate::engine::exemptions::ExemptionRequest;
use crate::engine::{
    AuditVerification, DryRun, EngineError, ErrorBody, ExemptionView, Issued, KillSwitchState,
    ProposalView, ProposeRequest,
};
use crate::policy::decide::Action;
use crate::server::api::SwitchList;
use crate::store::{Actor, AuditFilter, Delegation, ProposalFilter};

/// A daemon at `base` (`http://studio.local:8787`), called as the holder of `token`.
pub(super) struct Remote {
    client: reqwest::Client,
    base: String,
    token: String,
}

/// A failure before the daemon answered (unreachable, timed out, not brain).
fn unreachable(base: &str, detail: impl std::fmt::Display) -> EngineError {
    EngineError::Remote(Box::new(ErrorBody {
        code: "unreachable".into(),
        message: format!("cannot reach the brain daemon at `{base}`: {detail}"),
        reason_codes: vec!["DAEMON_UNREACHABLE".into()],
        policy_ids: Vec::new(),
        retry_after: None,
        help: Some(
            "check `--server` / `BRAIN_SERVER` and that `brain serve` is running there".into(),
        ),
    }))
}

use crate::server::encode_segment as segment;

impl Remote {
    pub(super) fn new(base: &str, token: String) -> Result<Self, EngineError> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(EngineError::invalid(
                format!("`{base}` is not an HTTP URL"),
                "pass the daemon's address, such as `--server http://127.0.0.1:8787`",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|error| unreachable(&base, error))?;
        Ok(Self {
            client,
            base,
            token,
        })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> Result<T, EngineError> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| unreachable(&self.base, error))?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|error| unreachable(&self.base, error))?;
        if status.is_success() {
            return serde_json::from_str(&text).map_err(|error| {
                unreachable(
                    &self.base,
                    format!("the answer is not what brain sends ({error})"),
                )
            });
        }
        match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => Err(EngineError::Remote(Box::new(body))),
            Err(_) => Err(unreachable(
                &self.base,
                format!("HTTP {status} without a brain error body"),
            )),
        }
    }

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, EngineError> {
        self.call(reqwest::Method::GET, path, query, None).await
    }

    async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, EngineError> {
        let body = serde_json::to_value(body).unwrap_or(Value::Null);
        self.call(reqwest::Method::POST, path, &[], Some(body))
            .await
    }
}

fn proposal_path(id: &str, step: &str) -> String {
    format!("/api/v1/proposals/{}/{step}", segment(id))
}

#[async_trait]
impl Control for Remote {
    async fn propose(&self, request: &ProposeRequest) -> Result<ProposalView, EngineError> {
        let body = json!({
            "capability": request.capability,
            "input": request.input,
            "rationale": request.rationale,
            "idempotency_key": request.idempotency_key,
            "owner": request.owner,
            "draft": request.draft,
        });
        self.post("/api/v1/proposals", &body).await
    }

    async fn proposals(&self, filter: &ProposalFilter) -> Result<Vec<ProposalView>, EngineError> {
        let mut query = vec![("limit", filter.limit.to_string())];
        if let Some(state) = filter.state {
            query.push(("state", state.as_str().to_string()));
        }
        if let Some(capability) = &filter.capability {
            query.push(("capability", capability.clone()));
        }
        self.get("/api/v1/proposals", &query).await
    }

    async fn proposal(&self, id: &str) -> Result<ProposalView, EngineError> {
        self.get(&format!("/api/v1/proposals/{}", segment(id)), &[])
            .await
    }

    async fn submit(&self, id: &str) -> Result<ProposalView, EngineError> {
        self.post(&proposal_path(id, "submit"), &json!({})).await
    }

    async fn approve(&self, id: &str, comment: Option<&str>) -> Result<ProposalView, EngineError> {
        self.post(
            &proposal_path(id, "approve"),
            &json!({ "comment": comment }),
        )
        .await
    }

    async fn close(
        &self,
        id: &str,
        action: Action,
        reason: Option<&str>,
    ) -> Result<ProposalView, EngineError> {
        let step = if action == Action::Reject {
            "reject"
        } else {
            "cancel"
        };
        self.post(&proposal_path(id, step), &json!({ "reason": reason }))
            .await
    }

    async fn execute(&self, id: &str) -> Result<ProposalView, EngineError> {
        self.post(&proposal_path(id, "execute"), &json!({})).await
    }

    async fn dry_run(&self, id: &str) -> Result<DryRun, EngineError> {
        self.post(&proposal_path(id, "dry-run"), &json!({})).await
    }

    async fn rollback(&self, id: &str) -> Result<ProposalView, EngineError> {
        self.post(&proposal_path(id, "rollback"), &json!({})).await
    }

    async fn exemptions(&self) -> Result<Vec<ExemptionView>, EngineError> {
        self.get("/api/v1/exemptions", &[]).await
    }

    async fn grant_exemption(
        &self,
        request: &ExemptionRequest,
    ) -> Result<ExemptionView, EngineError> {
        let body = json!({
            "capability": request.capability,
            "owner": request.owner,
            "starts": request.starts.map(|time| crate::capability::Timestamp(time).to_string()),
            "expires": crate::capability::Timestamp(request.expires).to_string(),
            "justification": request.justification,
            "requested_by": request.requested_by,
        });
        self.post("/api/v1/exemptions", &body).await
    }

    async fn revoke_exemption(&self, id: &str, reason: &str) -> Result<ExemptionView, EngineError> {
        self.post(
            &format!("/api/v1/exemptions/{}/revoke", segment(id)),
            &json!({ "reason": reason }),
        )
        .await
    }

    async fn kill_switches(&self) -> Result<Vec<KillSwitchState>, EngineError> {
        let list: SwitchList = self.get("/api/v1/kill-switches", &[]).await?;
        Ok(list.switches)
    }

    async fn declared_switches(&self) -> Result<Vec<String>, EngineError> {
        let list: SwitchList = self.get("/api/v1/kill-switches", &[]).await?;
        Ok(list.declared)
    }

    async fn set_kill_switch(
        &self,
        name: &str,
        on: bool,
        reason: &str,
    ) -> Result<KillSwitchState, EngineError> {
        self.post(
            &format!("/api/v1/kill-switches/{}", segment(name)),
            &json!({ "on": on, "reason": reason }),
        )
        .await
    }

    async fn actors(&self) -> Result<Vec<Actor>, EngineError> {
        self.get("/api/v1/actors", &[]).await
    }

    async fn add_actor(&self, id: &str, display_name: Option<&str>) -> Result<Issued, EngineError> {
        self.post(
            "/api/v1/actors",
            &json!({ "id": id, "display_name": display_name }),
        )
        .await
    }

    async fn revoke_actor(&self, id: &str) -> Result<Actor, EngineError> {
        self.post(
            &format!("/api/v1/actors/{}/revoke", segment(id)),
            &json!({}),
        )
        .await
    }

    async fn delegate(
        &self,
        agent: &str,
        owner: &str,
        scopes: &[String],
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Delegation, EngineError> {
        let body = json!({
            "agent": agent,
            "owner": owner,
            "scopes": scopes,
            "expires": crate::clock::format_time(expires_at),
        });
        self.post("/api/v1/delegations", &body).await
    }

    async fn delegations(&self, agent: Option<&str>) -> Result<Vec<Delegation>, EngineError> {
        let query: Vec<(&str, String)> = agent
            .map(|agent| vec![("agent", agent.to_string())])
            .unwrap_or_default();
        self.get("/api/v1/delegations", &query).await
    }

    async fn revoke_delegation(&self, id: &str) -> Result<Delegation, EngineError> {
        self.post(
            &format!("/api/v1/delegations/{}/revoke", segment(id)),
            &json!({}),
        )
        .await
    }

    async fn scorecard(
        &self,
        period: &str,
        previous: bool,
    ) -> Result<crate::scorecard::Scorecard, EngineError> {
        self.get(
            "/api/v1/scorecard",
            &[
                ("period", period.to_string()),
                ("previous", previous.to_string()),
            ],
        )
        .await
    }

    async fn audit_tail(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, EngineError> {
        let mut query = vec![("limit", filter.limit.to_string())];
        for (key, value) in [
            ("actor", &filter.actor),
            ("capability", &filter.capability),
            ("decision", &filter.decision),
            ("proposal", &filter.proposal_id),
        ] {
            if let Some(value) = value {
                query.push((key, value.clone()));
            }
        }
        if let Some(before) = filter.before {
            query.push(("before", before.to_string()));
        }
        self.get("/api/v1/audit", &query).await
    }

    async fn audit_verify(
        &self,
        _progress: &(dyn Fn(i64, i64) + Send + Sync),
    ) -> Result<AuditVerification, EngineError> {
        self.get("/api/v1/audit/verify", &[]).await
    }
}
