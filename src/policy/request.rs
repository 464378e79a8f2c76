//! A decision's request as the audit log records it: the principal, the action, the resource and
//! the facts, in a canonical form with its hash, so that `brain policy replay` can ask the same
//! question of another policy set.
//!
//! The record goes into the event's `detail` (`request`, `request_hash`), which the event's hash
//! already covers: events written before requests were recorded simply have none, and the chain
//! verifies as before.
//!
//! Architecture Invariant: no I/O.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::decide::{Action, Facts, Principal, Question, Resource};

/// A decision's request, recorded: the decision's own [`Principal`] and [`Facts`], with the
/// resource named by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub principal: Principal,
    pub action: String,
    pub resource: RecordedResource,
    pub facts: Facts,
    /// Whether the exemption in force (`facts.exemption_in_force`) came from the runtime
    /// (granted with `brain exempt`, in the store): a fact of the moment. A declared one is part
    /// of the policy set, so replay asks the candidate's declared exemptions instead.
    #[serde(default)]
    pub runtime_exemption: bool,
}

/// What the decision was about: a capability (by id: replay decides with the candidate's
/// manifest of that id), a kill switch, or one of brain's areas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum RecordedResource {
    Capability(String),
    KillSwitch(String),
    Area(String),
}

impl RecordedRequest {
    /// The record of `question`; `runtime_exemption` says whether an exemption in force came
    /// from the store rather than the policy set's declared files.
    pub fn of(question: &Question<'_>, runtime_exemption: bool) -> Self {
        Self {
            principal: question.principal.clone(),
            action: question.action.as_str().to_string(),
            resource: match question.resource {
                Resource::Capability(manifest) => RecordedResource::Capability(manifest.id.clone()),
                Resource::KillSwitch(name) => RecordedResource::KillSwitch(name.to_string()),
                Resource::Area(area) => RecordedResource::Area(area.to_string()),
            },
            facts: question.facts.clone(),
            runtime_exemption: runtime_exemption && question.facts.exemption_in_force,
        }
    }

    /// The record as JSON and the SHA-256 of its canonical encoding.
    pub fn encode(&self) -> (Value, String) {
        let value = serde_json::to_value(self).unwrap_or(Value::Null);
        let hash = crate::audit::sha256_hex(crate::audit::canonical_json(&value).as_bytes());
        (value, hash)
    }

    /// Read the record back from an event's detail, checking it against its hash. `None` when
    /// the event has none (it predates recorded requests, or it is not a decision); an error
    /// when it is there but does not parse or does not match its hash.
    pub fn from_detail(detail: &Value) -> Option<Result<Self, String>> {
        let value = detail.get("request")?;
        let recorded = detail.get("request_hash").and_then(Value::as_str);
        let hash = crate::audit::sha256_hex(crate::audit::canonical_json(value).as_bytes());
        if recorded != Some(hash.as_str()) {
            return Some(Err(
                "the recorded request does not match its `request_hash`".into(),
            ));
        }
        Some(
            serde_json::from_value(value.clone())
                .map_err(|error| format!("the recorded request does not parse: {error}")),
        )
    }

    /// The action, when it is one brain knows.
    pub fn action(&self) -> Option<Action> {
        Action::parse(&self.action)
    }

    /// The facts, with the exemption fact taken from `declared_in_force` (the candidate's
    /// declared exemptions) besides a runtime exemption.
    pub fn facts(&self, declared_in_force: bool) -> Facts {
        Facts {
            exemption_in_force: self.runtime_exemption || declared_in_force,
            ..self.facts.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::ActorType;
    use crate::policy::decide::Delegation;

    fn question_parts() -> (Principal, Facts) {
        let mut principal = Principal::new(ActorType::Agent, "ops-swarm");
        principal.swarm = true;
        principal.delegation = Some(Delegation {
            owner: "staff:alice".into(),
            scopes: vec!["ops.*".into()],
            expired: false,
            revoked: false,
            in_scope: true,
        });
        let facts = Facts {
            now: 1_800_000_000,
            proposer: "agent:ops-swarm".into(),
            resource_owner: "staff:alice".into(),
            kill_switches: ["target:firestore".to_string()].into(),
            approvals: 1,
            approvers: ["staff:bob".to_string()].into(),
            exemption_in_force: true,
            snapshot_stale: false,
            snapshot_age_seconds: 60,
            quota_exceeded: false,
            intake_review_required: false,
        };
        (principal, facts)
    }

    #[test]
    fn a_request_round_trips_through_its_record_and_hash() {
        let (principal, facts) = question_parts();
        let question = Question {
            principal: &principal,
            action: Action::SetKillSwitch,
            resource: Resource::KillSwitch("global"),
            facts: &facts,
        };
        let record = RecordedRequest::of(&question, true);
        let (value, hash) = record.encode();
        let detail = serde_json::json!({ "request": value, "request_hash": hash });
        let back = RecordedRequest::from_detail(&detail)
            .expect("present")
            .expect("valid");
        assert_eq!(back, record);
        assert_eq!(back.principal, principal);
        assert_eq!(
            back.facts(false),
            facts,
            "a runtime exemption stays in force"
        );
        assert_eq!(back.action(), Some(Action::SetKillSwitch));
    }

    #[test]
    fn a_declared_exemption_is_asked_of_the_candidate() {
        let (principal, facts) = question_parts();
        let question = Question {
            principal: &principal,
            action: Action::Execute,
            resource: Resource::Area("studio"),
            facts: &facts,
        };
        let record = RecordedRequest::of(&question, false);
        assert!(!record.facts(false).exemption_in_force);
        assert!(record.facts(true).exemption_in_force);
    }

    #[test]
    fn an_altered_request_fails_its_hash_and_an_event_without_one_has_none() {
        let (principal, facts) = question_parts();
        let question = Question {
            principal: &principal,
            action: Action::Approve,
            resource: Resource::Area("studio"),
            facts: &facts,
        };
        let (mut value, hash) = RecordedRequest::of(&question, false).encode();
        value["facts"]["approvals"] = serde_json::json!(2);
        let detail = serde_json::json!({ "request": value, "request_hash": hash });
        assert!(
            RecordedRequest::from_detail(&detail)
                .expect("present")
                .is_err()
        );
        assert!(RecordedRequest::from_detail(&serde_json::json!({"reason": "x"})).is_none());
    }
}
