//! Decision explain: answer a hypothetical question against the loaded policy set (who, which
//! action, which capability, under which context), with the determining policies and their
//! reasons. Nothing is changed and nothing is audited; the caller must be allowed to `view`.

use serde::{Deserialize, Serialize};

use super::{Caller, Engine, EngineError};
use crate::policy::decide::{Action, Decision, Question, Resource};
use crate::policy::testing::{self, ContextInput, DelegationInput};

/// A question to explain.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    /// `staff:alice`, `agent:marketing`, ...
    pub principal: String,
    /// `propose`, `approve`, `execute`, ...
    pub action: String,
    /// The capability id, for actions on a capability.
    #[serde(default)]
    pub capability: Option<String>,
    /// The kill switch, for `set_kill_switch` (default `global`).
    #[serde(default)]
    pub kill_switch: Option<String>,
    #[serde(default)]
    pub context: ContextInput,
    #[serde(default)]
    pub delegation: Option<DelegationInput>,
}

/// The answer, with each determining policy's reason code.
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
pub struct Explanation {
    pub decision: Decision,
    /// What the question was about, in words.
    pub subject: String,
    /// `(policy id, reason code)` for each determining policy.
    pub policies: Vec<ExplainedPolicy>,
}

#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
pub struct ExplainedPolicy {
    pub id: String,
    pub effect: String,
    pub reason: Option<String>,
}

impl Engine {
    /// Decide `request` without acting on it.
    pub async fn explain(
        &self,
        caller: &Caller,
        request: &ExplainRequest,
    ) -> Result<Explanation, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        self.decide_hypothetical(request)
    }

    /// Decide each of `requests` without acting on them, with one authorization of the caller
    /// (the console's New proposal page asks one question per capability).
    pub async fn explain_each(
        &self,
        caller: &Caller,
        requests: &[ExplainRequest],
    ) -> Result<Vec<Result<Explanation, EngineError>>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        Ok(requests
            .iter()
            .map(|request| self.decide_hypothetical(request))
            .collect())
    }

    fn decide_hypothetical(&self, request: &ExplainRequest) -> Result<Explanation, EngineError> {
        let action = Action::parse(&request.action).ok_or_else(|| {
            EngineError::invalid(
                format!("unknown action `{}`", request.action),
                format!("use one of {}", Action::ALL.map(Action::as_str).join(", ")),
            )
        })?;
        let (principal, facts) = testing::principal_and_facts(
            &request.principal,
            request.delegation.as_ref(),
            request.capability.as_deref(),
            &request.context,
        )
        .map_err(|problem| EngineError::invalid(problem, "write the principal as `staff:NAME`"))?;
        let switch = request
            .kill_switch
            .clone()
            .unwrap_or_else(|| "global".into());
        let manifest;
        let (resource, subject) = if action.on_kill_switch() {
            (
                Resource::KillSwitch(&switch),
                format!("kill switch `{switch}`"),
            )
        } else if let Some(area) = action.area() {
            (Resource::Area(area), format!("area `{area}`"))
        } else {
            let Some(id) = request.capability.as_deref() else {
                return Err(EngineError::invalid(
                    format!("`{}` needs a capability", request.action),
                    "name the capability id in `capability`",
                ));
            };
            manifest = self
                .policy
                .manifest(id)
                .ok_or_else(|| EngineError::NotFound {
                    what: "capability",
                    id: id.to_string(),
                })?;
            (Resource::Capability(manifest), format!("`{id}`"))
        };
        let decision = self.policy.decider.decide(&Question {
            principal: &principal,
            action,
            resource,
            facts: &facts,
        });
        let policies = decision
            .policy_ids
            .iter()
            .map(|id| {
                let info = self.policy.decider.policies().policy(id);
                ExplainedPolicy {
                    id: id.clone(),
                    effect: info
                        .map_or("unknown", |info| {
                            if info.effect == cedar_policy::Effect::Permit {
                                "permit"
                            } else {
                                "forbid"
                            }
                        })
                        .to_string(),
                    reason: info.and_then(|info| info.reason.clone()),
                }
            })
            .collect();
        Ok(Explanation {
            decision,
            subject,
            policies,
        })
    }
}
