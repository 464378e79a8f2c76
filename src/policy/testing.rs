//! Policy tests (`brain test`): YAML cases that state a question and the expected decision.
//!
//! ```yaml
//! tests:
//!   - name: the global kill switch stops the ops-note pilot
//!     principal: staff:alice
//!     action: execute
//!     capability: firestore.ops_note.append
//!     context: { kill_switches: [global], approvals: 1 }
//!     expect: deny
//!     reasons: [KILL_SWITCH_ACTIVE]
//!     policies: [kill-switch.global]
//! ```
//!
//! Architecture Invariant: no I/O; the CLI reads the files.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::decide::{
    Action, Decider, Decision, Delegation, Facts, Principal, Question, Resource, scope_covers,
};
use crate::capability::Manifest;

/// A file of policy tests.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "policy tests", description = "Cases for `brain test`.")]
pub struct Suite {
    pub tests: Vec<Case>,
}

/// One case.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// `staff:alice`, `agent:drafter`, ...
    pub principal: String,
    /// The agent's delegation (agents only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<DelegationInput>,
    /// The agent is one of brain.yaml's swarms (agents only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub swarm: bool,
    /// propose, approve, reject, cancel, execute, rollback, read, exempt, revoke_exemption,
    /// set_kill_switch, manage_actors, delegate, view, audit
    pub action: String,
    /// The capability id (for the actions on capabilities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<String>,
    /// The kill switch name (for `set_kill_switch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<String>,
    #[serde(default)]
    pub context: ContextInput,
    pub expect: Expect,
    /// Expected reason codes (exactly these), for denials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    /// Expected determining policy ids (exactly these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Allow,
    Deny,
}

/// An agent's delegation as a test states it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelegationInput {
    pub owner: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expired: bool,
    #[serde(default)]
    pub revoked: bool,
}

/// The decision context; every field has a neutral default.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextInput {
    #[serde(default)]
    pub now: i64,
    /// Defaults to nobody (`""`), so the principal is not the proposer.
    #[serde(default)]
    pub proposer: Option<String>,
    /// Defaults to the agent's delegating owner, else the principal.
    #[serde(default)]
    pub resource_owner: Option<String>,
    #[serde(default)]
    pub kill_switches: BTreeSet<String>,
    #[serde(default)]
    pub approvals: i64,
    #[serde(default)]
    pub approvers: BTreeSet<String>,
    #[serde(default)]
    pub exemption_in_force: bool,
    #[serde(default)]
    pub snapshot_stale: bool,
    #[serde(default)]
    pub snapshot_age_seconds: i64,
    #[serde(default)]
    pub quota_exceeded: bool,
    #[serde(default)]
    pub intake_review_required: bool,
}

/// Turn a stated question into a principal and facts.
pub fn principal_and_facts(
    principal: &str,
    delegation: Option<&DelegationInput>,
    capability: Option<&str>,
    context: &ContextInput,
) -> Result<(Principal, Facts), String> {
    let mut resolved = Principal::parse(principal).ok_or_else(|| {
        format!("`{principal}` is not an actor id: write `staff:NAME`, `human:NAME`, `agent:NAME` or `system:NAME`")
    })?;
    if let Some(delegation) = delegation {
        resolved.delegation = Some(Delegation {
            owner: delegation.owner.clone(),
            scopes: delegation.scopes.clone(),
            expired: delegation.expired,
            revoked: delegation.revoked,
            in_scope: capability
                .is_some_and(|capability| scope_covers(&delegation.scopes, capability)),
        });
    }
    let owner = context.resource_owner.clone().unwrap_or_else(|| {
        delegation.map_or_else(|| resolved.id(), |delegation| delegation.owner.clone())
    });
    let facts = Facts {
        now: context.now,
        proposer: context.proposer.clone().unwrap_or_default(),
        resource_owner: owner,
        kill_switches: context.kill_switches.clone(),
        approvals: context.approvals,
        approvers: context.approvers.clone(),
        exemption_in_force: context.exemption_in_force,
        snapshot_stale: context.snapshot_stale,
        snapshot_age_seconds: context.snapshot_age_seconds,
        quota_exceeded: context.quota_exceeded,
        intake_review_required: context.intake_review_required,
    };
    Ok((resolved, facts))
}

/// The outcome of one case.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub name: String,
    pub passed: bool,
    /// Why it failed, in words.
    pub problems: Vec<String>,
    pub decision: Option<Decision>,
}

/// Run one case against the decider.
pub fn run_case(case: &Case, decider: &Decider, manifests: &[Manifest]) -> Outcome {
    let fail = |problem: String| Outcome {
        name: case.name.clone(),
        passed: false,
        problems: vec![problem],
        decision: None,
    };
    let Some(action) = Action::parse(&case.action) else {
        return fail(format!(
            "unknown action `{}`: use one of {}",
            case.action,
            Action::ALL.map(Action::as_str).join(", ")
        ));
    };
    let (mut principal, facts) = match principal_and_facts(
        &case.principal,
        case.delegation.as_ref(),
        case.capability.as_deref(),
        &case.context,
    ) {
        Ok(resolved) => resolved,
        Err(problem) => return fail(problem),
    };
    principal.swarm = case.swarm;
    let switch_name;
    let resource = if action.on_kill_switch() {
        switch_name = case.kill_switch.clone().unwrap_or_else(|| "global".into());
        Resource::KillSwitch(&switch_name)
    } else if let Some(area) = Resource::of_area(action) {
        area
    } else {
        let Some(id) = case.capability.as_deref() else {
            return fail(format!("action `{}` needs `capability:`", case.action));
        };
        match manifests.iter().find(|manifest| manifest.id == id) {
            Some(manifest) => Resource::Capability(manifest),
            None => return fail(format!("no capability manifest has the id `{id}`")),
        }
    };
    let decision = decider.decide(&Question {
        principal: &principal,
        action,
        resource,
        facts: &facts,
    });
    let mut problems = Vec::new();
    let expected_allow = case.expect == Expect::Allow;
    if decision.allowed != expected_allow {
        problems.push(format!(
            "expected {}, got {}",
            if expected_allow { "allow" } else { "deny" },
            if decision.allowed { "allow" } else { "deny" }
        ));
    }
    if let Some(reasons) = &case.reasons {
        let mut expected = reasons.clone();
        expected.sort();
        if expected != decision.reasons {
            problems.push(format!(
                "expected reasons [{}], got [{}]",
                expected.join(", "),
                decision.reasons.join(", ")
            ));
        }
    }
    if let Some(policies) = &case.policies {
        let mut expected = policies.clone();
        expected.sort();
        if expected != decision.policy_ids {
            problems.push(format!(
                "expected policies [{}], got [{}]",
                expected.join(", "),
                decision.policy_ids.join(", ")
            ));
        }
    }
    Outcome {
        name: case.name.clone(),
        passed: problems.is_empty(),
        problems,
        decision: Some(decision),
    }
}

/// The JSON Schema of policy test files.
pub fn suite_schema() -> serde_json::Value {
    static SCHEMA: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(crate::config::schema_errors::schema_value::<Suite>)
        .clone()
}
