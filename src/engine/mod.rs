//! The Engine: every decision brain makes about the world goes through here. It owns the loaded
//! policy set (Cedar policies, capability manifests, declared exemptions) and the store, gathers
//! the facts of a decision inside the write transaction that acts on it, and writes the audit
//! event in that same transaction.
//!
//! The CLI and the HTTP API are thin adapters over the Engine; background work (the snapshotter,
//! connector polling, swarms) goes through it too, as `system:` or `agent:` actors.
//!
//! Architecture Invariant: a state change, the decision that allowed it and its audit event
//! commit together or not at all; if the audit event cannot be written, nothing happens.
//! Architecture Invariant: facts that can change at runtime (kill switches, approvals,
//! delegations, exemptions, quotas) are read inside the transaction that acts on the decision.

mod switches;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::audit::NewAuditEvent;
use crate::capability::{Exemption, Manifest};
use crate::config::LoadedConfig;
use crate::policy::decide::{Action, Decider, Decision, Facts, Principal, Question, Resource};
use crate::store::{Store, StoreError, WriteTx};
use crate::workspace::{self, WorkspaceError};

pub use switches::{KillSwitchState, valid_switch_name};

/// The policy set as the Engine uses it: the decider (Cedar set + index), the manifests by id,
/// and the exemptions declared under version control.
pub struct PolicyBundle {
    pub decider: Decider,
    pub manifests: BTreeMap<String, Manifest>,
    pub declared_exemptions: Vec<DeclaredExemption>,
}

/// An exemption from `capabilities/exemptions/*.yaml`.
#[derive(Debug, Clone)]
pub struct DeclaredExemption {
    pub file: String,
    pub exemption: Exemption,
}

impl PolicyBundle {
    /// Load and validate the config's policy set; any error refuses to build the bundle.
    pub fn load(config: &LoadedConfig) -> Result<Self, WorkspaceError> {
        let policies = workspace::load_policy_set(config)?;
        let manifests = workspace::load_manifests(config)?;
        let declared_exemptions = workspace::load_exemptions(config)?;
        Ok(Self::new(
            Arc::new(policies),
            manifests,
            declared_exemptions,
        ))
    }

    pub fn new(
        policies: Arc<crate::policy::PolicySet>,
        manifests: Vec<Manifest>,
        declared_exemptions: Vec<DeclaredExemption>,
    ) -> Self {
        Self {
            decider: Decider::new(policies),
            manifests: manifests
                .into_iter()
                .map(|manifest| (manifest.id.clone(), manifest))
                .collect(),
            declared_exemptions,
        }
    }

    pub fn manifest(&self, id: &str) -> Option<&Manifest> {
        self.manifests.get(id)
    }

    /// SHA-256 of the policy files, stamped on every audit event.
    pub fn hash(&self) -> &str {
        &self.decider.policies().hash
    }
}

/// Engine settings from `brain.yaml`.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// A StudioState snapshot older than this is stale.
    pub snapshot_stale_after: chrono::Duration,
}

impl EngineSettings {
    pub fn from_config(config: &LoadedConfig) -> Self {
        let seconds = config.config.thresholds.snapshot_stale_after.as_secs();
        Self {
            snapshot_stale_after: chrono::Duration::seconds(
                i64::try_from(seconds).unwrap_or(i64::MAX / 2),
            ),
        }
    }
}

/// A decision that went against the caller, with what decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Denial {
    pub action: String,
    pub capability: Option<String>,
    pub reason_codes: Vec<String>,
    pub policy_ids: Vec<String>,
    /// Seconds until a retry can succeed (quotas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    pub message: String,
}

/// Everything an Engine operation can answer other than success.
#[derive(Debug, Clone, thiserror::Error, miette::Diagnostic)]
pub enum EngineError {
    #[error("denied: {}", .0.message)]
    #[diagnostic(code(engine::denied))]
    Denied(Denial),
    #[error("{0}")]
    #[diagnostic(
        code(engine::unauthenticated),
        help("pass a token with `BRAIN_TOKEN` or `--token-file` (`brain actor add` issues one)")
    )]
    Unauthenticated(String),
    #[error("{what} `{id}` does not exist")]
    #[diagnostic(code(engine::not_found))]
    NotFound { what: &'static str, id: String },
    #[error("{message}")]
    #[diagnostic(code(engine::invalid_input))]
    InvalidInput {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("{message}")]
    #[diagnostic(code(engine::conflict))]
    Conflict {
        message: String,
        #[help]
        help: Option<String>,
    },
    #[error("the store is unavailable, so nothing was allowed: {0}")]
    #[diagnostic(
        code(engine::store_unavailable),
        help("check the database; brain denies every action while it cannot record the decision")
    )]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        EngineError::Store(error)
    }
}

impl EngineError {
    /// The reason codes to report (a denial's own, or one describing the error).
    pub fn reason_codes(&self) -> Vec<String> {
        match self {
            EngineError::Denied(denial) => denial.reason_codes.clone(),
            EngineError::Unauthenticated(_) => vec!["UNAUTHENTICATED".into()],
            EngineError::NotFound { .. } => vec!["NOT_FOUND".into()],
            EngineError::InvalidInput { .. } => vec!["INVALID_INPUT".into()],
            EngineError::Conflict { .. } => vec!["ILLEGAL_TRANSITION".into()],
            EngineError::Store(_) => vec!["STORE_UNAVAILABLE".into()],
        }
    }

    pub fn invalid(message: impl Into<String>, help: impl Into<String>) -> Self {
        EngineError::InvalidInput {
            message: message.into(),
            help: Some(help.into()),
        }
    }
}

/// The one Engine.
pub struct Engine {
    store: Arc<dyn Store>,
    policy: Arc<PolicyBundle>,
    settings: EngineSettings,
}

impl Engine {
    pub fn new(store: Arc<dyn Store>, policy: Arc<PolicyBundle>, settings: EngineSettings) -> Self {
        Self {
            store,
            policy,
            settings,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn policy(&self) -> &PolicyBundle {
        &self.policy
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Decide whether a background reader (`system:snapshotter`, `system:connector:hubitat`)
    /// may read through `capability` now, and audit the decision. A denial is an
    /// [`EngineError::Denied`] naming its reason codes; so is an unknown capability.
    pub async fn authorize_read(
        &self,
        actor: &str,
        capability: &str,
        detail: Value,
    ) -> Result<Decision, EngineError> {
        let principal = Principal::parse(actor).ok_or_else(|| {
            EngineError::invalid(
                format!("`{actor}` is not an actor id"),
                "write actors as `<type>:<name>`, such as `system:snapshotter`",
            )
        })?;
        let mut tx = self.store.begin().await?;
        let now = crate::clock::now();
        let Some(manifest) = self.policy.manifest(capability) else {
            let decision = Decision::deny(
                "UNKNOWN_CAPABILITY",
                format!("no manifest declares `{capability}`"),
            );
            self.audit_decision(
                &mut *tx,
                &principal,
                Action::Read,
                Some(capability),
                &decision,
                detail,
            )
            .await?;
            tx.commit().await?;
            return Err(denied(Action::Read, Some(capability), &decision));
        };
        let facts = Facts {
            now: now.timestamp(),
            resource_owner: manifest.owner.clone().unwrap_or_default(),
            kill_switches: switches::active_in(&mut *tx).await?,
            ..Facts::default()
        };
        let decision = self.policy.decider.decide(&Question {
            principal: &principal,
            action: Action::Read,
            resource: Resource::Capability(manifest),
            facts: &facts,
        });
        self.audit_decision(
            &mut *tx,
            &principal,
            Action::Read,
            Some(capability),
            &decision,
            detail,
        )
        .await?;
        tx.commit().await?;
        if decision.allowed {
            Ok(decision)
        } else {
            Err(denied(Action::Read, Some(capability), &decision))
        }
    }

    /// Every kill switch the policy set declares a name for and that was ever set, with its
    /// state; switches never set are off.
    pub async fn kill_switches(&self) -> Result<Vec<KillSwitchState>, EngineError> {
        Ok(switches::list(&*self.store).await?)
    }

    /// The names of the switches that are on, read outside any transaction (for display).
    pub async fn active_kill_switches(&self) -> Result<BTreeSet<String>, EngineError> {
        Ok(self
            .kill_switches()
            .await?
            .into_iter()
            .filter(|switch| switch.on)
            .map(|switch| switch.name)
            .collect())
    }

    /// Turn kill switch `name` on or off as `principal`, with a reason. Decided by the policy set
    /// (`set_kill_switch`), effective at the next decision of every process sharing the store,
    /// and audited either way.
    pub async fn set_kill_switch(
        &self,
        principal: &Principal,
        name: &str,
        on: bool,
        reason: &str,
    ) -> Result<KillSwitchState, EngineError> {
        let declared = self.policy.decider.policies().kill_switches();
        if !valid_switch_name(&declared, name) {
            return Err(EngineError::invalid(
                format!("no policy keys on a kill switch named `{name}`"),
                format!(
                    "the policy set declares: {} (a `*` stands for a target or capability id)",
                    declared.join(", ")
                ),
            ));
        }
        if reason.trim().is_empty() {
            return Err(EngineError::invalid(
                "a kill switch needs a reason",
                "pass `--reason \"...\"`; it is recorded in the audit log",
            ));
        }
        let mut tx = self.store.begin().await?;
        let now = crate::clock::now();
        let at = crate::clock::format_time(now);
        let facts = Facts {
            now: now.timestamp(),
            kill_switches: switches::active_in(&mut *tx).await?,
            ..Facts::default()
        };
        let decision = self.policy.decider.decide(&Question {
            principal,
            action: Action::SetKillSwitch,
            resource: Resource::KillSwitch(name),
            facts: &facts,
        });
        let detail = serde_json::json!({ "switch": name, "on": on, "reason": reason });
        self.audit_decision(
            &mut *tx,
            principal,
            Action::SetKillSwitch,
            None,
            &decision,
            detail,
        )
        .await?;
        if !decision.allowed {
            tx.commit().await?;
            return Err(denied(Action::SetKillSwitch, None, &decision));
        }
        tx.kv_set(&switches::entry(name, on, reason, &at, &principal.id()))
            .await?;
        let state = switches::get_in(&mut *tx, name).await?.ok_or_else(|| {
            EngineError::Store(StoreError::Corrupt(
                "the kill switch vanished inside its own transaction".into(),
            ))
        })?;
        tx.commit().await?;
        Ok(state)
    }

    /// Append the audit event of a decision.
    async fn audit_decision(
        &self,
        tx: &mut dyn WriteTx,
        principal: &Principal,
        action: Action,
        capability: Option<&str>,
        decision: &Decision,
        detail: Value,
    ) -> Result<(), EngineError> {
        tx.append_audit(NewAuditEvent {
            at: crate::clock::format_time(crate::clock::now()),
            actor: principal.id(),
            action: action.as_str().to_string(),
            capability: capability.map(str::to_string),
            proposal_id: None,
            decision: decision_word(decision).to_string(),
            reason_codes: decision.reasons.clone(),
            policy_ids: decision.policy_ids.clone(),
            policy_set_hash: Some(self.policy.hash().to_string()),
            input_hash: None,
            output_hash: None,
            detail,
        })
        .await?;
        Ok(())
    }
}

fn decision_word(decision: &Decision) -> &'static str {
    if decision.allowed { "allow" } else { "deny" }
}

/// The error for a denied decision.
fn denied(action: Action, capability: Option<&str>, decision: &Decision) -> EngineError {
    let subject = capability.map_or_else(String::new, |id| format!(" on `{id}`"));
    EngineError::Denied(Denial {
        action: action.as_str().to_string(),
        capability: capability.map(str::to_string),
        reason_codes: decision.reasons.clone(),
        policy_ids: decision.policy_ids.clone(),
        retry_after: None,
        message: format!(
            "{}{subject} was denied ({})",
            action.as_str(),
            decision.reasons.join(", ")
        ),
    })
}
