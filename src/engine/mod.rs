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

mod audit_ops;
pub mod backup;
pub mod executor;
pub mod exemptions;
pub mod explain;
mod facts;
pub mod identity;
pub mod intake;
pub mod keys;
pub mod lifecycle;
pub mod proposals;
pub mod retention;
pub mod scorecard;
pub mod snapshots;
pub mod swarms;
mod switches;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::audit::checkpoint::AuditSigner;
use crate::audit::{AuditEvent, NewAuditEvent};
use crate::capability::{ActorType, Exemption, Manifest};
use crate::config::LoadedConfig;
use crate::policy::decide::{Action, Decider, Decision, Facts, Principal, Question, Resource};
use crate::store::{Store, StoreError, WriteTx};
use crate::workspace::{self, WorkspaceError};

pub use audit_ops::{AuditExport, AuditVerification};
pub use executor::{ExecError, ExecutionRequest, Executor, Executors};
pub use exemptions::ExemptionView;
pub use identity::Issued;
pub use proposals::{DryRun, ProposalView, ProposeRequest};
pub use switches::{KillSwitchState, valid_switch_name};

/// The policy set as the Engine uses it: the decider (Cedar set + index), the manifests by id,
/// and the exemptions declared under version control.
pub struct PolicyBundle {
    pub decider: Decider,
    pub manifests: BTreeMap<String, Manifest>,
    pub declared_exemptions: Vec<DeclaredExemption>,
    /// How records count into StudioState; part of the policy set and of its hash.
    pub state_model: Arc<crate::snapshot::Model>,
    /// The compliance intake gate's classifier; part of the policy set and of its hash.
    pub intake: Arc<crate::intake::Classifier>,
    /// SHA-256 over the Cedar files', the state model's and the intake lists' hashes.
    hash: String,
    /// Each capability's compiled input schema, compiled at its first proposal and dropped
    /// with the bundle when the policy set is reloaded.
    input_validators:
        std::sync::Mutex<std::collections::HashMap<String, Arc<jsonschema::Validator>>>,
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
        let (state_model, _) = workspace::load_state_model(config)?;
        let (intake, _) = workspace::load_intake(config)?;
        Ok(Self::new(
            Arc::new(policies),
            manifests,
            declared_exemptions,
            Arc::new(state_model),
            Arc::new(intake),
        ))
    }

    pub fn new(
        policies: Arc<crate::policy::PolicySet>,
        manifests: Vec<Manifest>,
        declared_exemptions: Vec<DeclaredExemption>,
        state_model: Arc<crate::snapshot::Model>,
        intake: Arc<crate::intake::Classifier>,
    ) -> Self {
        let hash = crate::audit::sha256_hex(
            format!("{}\n{}\n{}", policies.hash, state_model.hash, intake.hash).as_bytes(),
        );
        Self {
            hash,
            state_model,
            intake,
            decider: Decider::new(policies),
            manifests: manifests
                .into_iter()
                .map(|manifest| (manifest.id.clone(), manifest))
                .collect(),
            declared_exemptions,
            input_validators: Default::default(),
        }
    }

    /// The compiled input schema of `manifest` (one of this bundle's), or `None` when it
    /// declares none.
    pub(crate) fn input_validator(
        &self,
        manifest: &Manifest,
    ) -> Result<Option<Arc<jsonschema::Validator>>, String> {
        let Some(schema) = &manifest.input_schema else {
            return Ok(None);
        };
        if let Ok(compiled) = self.input_validators.lock()
            && let Some(validator) = compiled.get(&manifest.id)
        {
            return Ok(Some(validator.clone()));
        }
        let validator = Arc::new(
            jsonschema::options()
                .should_validate_formats(true)
                .build(schema)
                .map_err(|error| error.to_string())?,
        );
        if let Ok(mut compiled) = self.input_validators.lock() {
            compiled.insert(manifest.id.clone(), validator.clone());
        }
        Ok(Some(validator))
    }

    pub fn manifest(&self, id: &str) -> Option<&Manifest> {
        self.manifests.get(id)
    }

    /// SHA-256 of the policy set (the Cedar files, the state model and the intake lists),
    /// stamped on every audit event and proposal.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// Engine settings from `brain.yaml`.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// A StudioState snapshot older than this is stale.
    pub snapshot_stale_after: chrono::Duration,
    /// A proposal not executed within this time expires.
    pub proposal_expires_after: chrono::Duration,
    /// The longest an exemption may last.
    pub max_exemption: chrono::Duration,
    /// Sign a checkpoint of the audit chain every this many events.
    pub checkpoint_every: i64,
    /// The agents of the configured swarms (`swarms.*.agent`): their principals carry
    /// `swarm: true`, which the policies confine to drafts.
    pub swarm_agents: BTreeSet<String>,
    /// The daemon this Engine serves in (`brain serve`'s instance id), named in every audit
    /// event it writes; `None` in a command-line process.
    pub instance: Option<String>,
}

fn chrono_duration(duration: crate::config::Duration) -> chrono::Duration {
    chrono::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 4))
}

impl EngineSettings {
    pub fn from_config(config: &LoadedConfig) -> Self {
        let thresholds = &config.config.thresholds;
        Self {
            snapshot_stale_after: chrono_duration(thresholds.snapshot_stale_after),
            proposal_expires_after: chrono_duration(thresholds.proposal_expires_after),
            max_exemption: chrono_duration(thresholds.max_exemption),
            checkpoint_every: i64::try_from(config.config.audit.checkpoint_every.max(1))
                .unwrap_or(i64::MAX),
            swarm_agents: config
                .config
                .swarms
                .each()
                .iter()
                .map(|swarm| swarm.agent.to_string())
                .collect(),
            instance: None,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            snapshot_stale_after: chrono::Duration::minutes(30),
            proposal_expires_after: chrono::Duration::days(7),
            max_exemption: chrono::Duration::days(30),
            checkpoint_every: 100,
            swarm_agents: BTreeSet::new(),
            instance: None,
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
    Denied(Box<Denial>),
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
    /// A swarm's finding was not proposed: a draft for the same rule and subject is open, or
    /// was rejected within the rule's cooldown. Counted in the run's summary, not audited alone.
    #[error("suppressed: {message}")]
    #[diagnostic(code(engine::suppressed))]
    Suppressed { by: String, message: String },
    /// A daemon's answer through the HTTP API (`--server`), kept as it was sent so the CLI
    /// prints exactly what it would print locally.
    #[error("{}", .0.message)]
    #[diagnostic(code(engine::remote))]
    Remote(Box<ErrorBody>),
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        EngineError::Store(error)
    }
}

impl EngineError {
    /// A refusal with one reason code that no policy decided (an unknown capability, an input
    /// that fails its schema, a missing target, ...).
    pub fn refused(
        action: &str,
        capability: Option<&str>,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        EngineError::Denied(Box::new(Denial {
            action: action.to_string(),
            capability: capability.map(str::to_string),
            reason_codes: vec![reason.to_string()],
            policy_ids: Vec::new(),
            retry_after: None,
            message: message.into(),
        }))
    }

    /// The reason codes to report (a denial's own, or one describing the error).
    pub fn reason_codes(&self) -> Vec<String> {
        match self {
            EngineError::Denied(denial) => denial.reason_codes.clone(),
            EngineError::Unauthenticated(_) => vec!["UNAUTHENTICATED".into()],
            EngineError::NotFound { .. } => vec!["NOT_FOUND".into()],
            EngineError::InvalidInput { .. } => vec!["INPUT_INVALID".into()],
            EngineError::Conflict { .. } => vec!["INVALID_STATE".into()],
            EngineError::Suppressed { .. } => vec!["SWARM_SUPPRESSED".into()],
            EngineError::Store(_) => vec!["STORE_UNAVAILABLE".into()],
            EngineError::Remote(body) => body.reason_codes.clone(),
        }
    }

    pub fn invalid(message: impl Into<String>, help: impl Into<String>) -> Self {
        EngineError::InvalidInput {
            message: message.into(),
            help: Some(help.into()),
        }
    }
}

/// The one error shape the CLI (`--format json`) and the HTTP API print:
/// `{code, message, reason_codes, policy_ids, retry_after}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// `denied`, `unauthenticated`, `not_found`, `invalid_input`, `conflict`,
    /// `store_unavailable` (and, over HTTP, `bad_request`, `csrf`, `internal`).
    pub code: String,
    pub message: String,
    pub reason_codes: Vec<String>,
    pub policy_ids: Vec<String>,
    /// Seconds to wait before a retry can succeed.
    pub retry_after: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl ErrorBody {
    /// The body for `error`; `expose_internal` keeps store causes (the local CLI), the HTTP API
    /// replaces them with a generic message (they are logged instead).
    pub fn from_error(error: &EngineError, expose_internal: bool) -> Self {
        if let EngineError::Remote(body) = error {
            return (**body).clone();
        }
        let (code, help) = match error {
            EngineError::Denied(_) => ("denied", None),
            EngineError::Unauthenticated(_) => (
                "unauthenticated",
                Some("pass a token with `BRAIN_TOKEN` or `--token-file`".to_string()),
            ),
            EngineError::NotFound { .. } => ("not_found", None),
            EngineError::InvalidInput { help, .. } => ("invalid_input", help.clone()),
            EngineError::Conflict { help, .. } => ("conflict", help.clone()),
            EngineError::Suppressed { .. } => ("conflict", None),
            EngineError::Store(_) => ("store_unavailable", None),
            EngineError::Remote(body) => (body.code.as_str(), body.help.clone()),
        };
        let (policy_ids, retry_after) = match error {
            EngineError::Denied(denial) => (denial.policy_ids.clone(), denial.retry_after),
            _ => (Vec::new(), None),
        };
        let message = match error {
            EngineError::Store(_) if !expose_internal => {
                "the store is unavailable, so nothing was allowed".to_string()
            }
            other => other.to_string(),
        };
        Self {
            code: code.to_string(),
            message,
            reason_codes: error.reason_codes(),
            policy_ids,
            retry_after,
            help,
        }
    }
}

/// Who is calling: an authenticated actor, or one of brain's own `system:` actors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Caller {
    /// `staff:alice`.
    pub id: String,
    pub actor_type: ActorType,
    pub name: String,
}

impl Caller {
    /// One of brain's own actors (`system:snapshotter`, `system:connector:hubitat`).
    pub fn system(name: &str) -> Self {
        Self {
            id: format!("system:{name}"),
            actor_type: ActorType::System,
            name: name.to_string(),
        }
    }

    fn from_actor(actor: &crate::store::Actor) -> Result<Self, EngineError> {
        let actor_type = ActorType::parse(&actor.kind).ok_or_else(|| {
            EngineError::Store(StoreError::Corrupt(format!(
                "actor `{}` has an unknown kind `{}`",
                actor.id, actor.kind
            )))
        })?;
        Ok(Self {
            id: actor.id.clone(),
            actor_type,
            name: actor.name.clone(),
        })
    }

    /// The principal of a decision (a delegation is added per decision).
    pub fn principal(&self) -> Principal {
        Principal::new(self.actor_type, self.name.clone())
    }
}

/// A fresh random id with a short prefix: `p_3f9a1c0b7d2e`.
pub(crate) fn new_id(prefix: &str) -> Result<String, EngineError> {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).map_err(|error| EngineError::Conflict {
        message: format!("no randomness available to make an id: {error}"),
        help: None,
    })?;
    Ok(format!("{prefix}_{}", hex::encode(bytes)))
}

/// An audit event under construction.
pub(crate) struct EventBuilder(
    NewAuditEvent,
    Option<Arc<crate::policy::request::RecordedRequest>>,
);

/// Start an audit event by `actor` for `action` with outcome `decision` (`allow`, `deny`,
/// `error`, `succeeded`, `failed`, ...).
pub(crate) fn event(actor: &str, action: &str, decision: &str) -> EventBuilder {
    EventBuilder(
        NewAuditEvent {
            at: crate::clock::format_time(crate::clock::now()),
            actor: actor.to_string(),
            action: action.to_string(),
            capability: None,
            proposal_id: None,
            decision: decision.to_string(),
            reason_codes: Vec::new(),
            policy_ids: Vec::new(),
            policy_set_hash: None,
            input_hash: None,
            output_hash: None,
            detail: Value::Object(Default::default()),
        },
        None,
    )
}

impl EventBuilder {
    pub(crate) fn capability(mut self, capability: &str) -> Self {
        self.0.capability = Some(capability.to_string());
        self
    }

    pub(crate) fn proposal(mut self, id: &str) -> Self {
        self.0.proposal_id = Some(id.to_string());
        self
    }

    /// The reason codes and determining policies of a decision.
    pub(crate) fn decision(mut self, decision: &Decision) -> Self {
        self.0.reason_codes = decision.reasons.clone();
        self.0.policy_ids = decision.policy_ids.clone();
        self.1 = decision.request.clone();
        self
    }

    pub(crate) fn reasons(mut self, reasons: &[&str]) -> Self {
        self.0.reason_codes = reasons.iter().map(|reason| reason.to_string()).collect();
        self
    }

    pub(crate) fn input_hash(mut self, hash: &str) -> Self {
        self.0.input_hash = Some(hash.to_string());
        self
    }

    pub(crate) fn output_hash(mut self, hash: Option<String>) -> Self {
        self.0.output_hash = hash;
        self
    }

    pub(crate) fn detail(mut self, detail: Value) -> Self {
        self.0.detail = detail;
        self
    }
}

/// The one Engine.
pub struct Engine {
    store: Arc<dyn Store>,
    policy: Arc<PolicyBundle>,
    settings: EngineSettings,
    signer: Arc<AuditSigner>,
    executors: Executors,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        policy: Arc<PolicyBundle>,
        settings: EngineSettings,
        signer: Arc<AuditSigner>,
        executors: Executors,
    ) -> Self {
        Self {
            store,
            policy,
            settings,
            signer,
            executors,
        }
    }

    /// The Engine of daemon `instance`: its audit events name it.
    pub fn for_instance(mut self, instance: &str) -> Self {
        self.settings.instance = Some(instance.to_string());
        self
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

    pub fn signer(&self) -> &Arc<AuditSigner> {
        &self.signer
    }

    /// Append an audit event inside `tx`, stamped with the policy set's hash, and sign a
    /// checkpoint of the chain head every `checkpoint_every` events.
    pub(crate) async fn append(
        &self,
        tx: &mut dyn WriteTx,
        event: EventBuilder,
    ) -> Result<AuditEvent, EngineError> {
        let EventBuilder(mut event, request) = event;
        if let (Some(instance), Value::Object(detail)) =
            (&self.settings.instance, &mut event.detail)
        {
            detail.insert("instance".into(), Value::String(instance.clone()));
        }
        if let Some(request) = request {
            // The decision's request, canonical and hashed, for `brain policy replay`.
            let (value, hash) = request.encode();
            if let Value::Object(detail) = &mut event.detail {
                detail.insert("request".into(), value);
                detail.insert("request_hash".into(), Value::String(hash));
            }
        }
        event.policy_set_hash = Some(self.policy.hash().to_string());
        let sealed = tx.append_audit(event).await?;
        if sealed.seq % self.settings.checkpoint_every == 0 {
            tx.insert_checkpoint(&self.signer.checkpoint(sealed.seq, &sealed.hash, &sealed.at))
                .await?;
        }
        Ok(sealed)
    }

    /// Audit a refusal in `tx` and commit it, then hand back `error` (or the store's error when
    /// the refusal itself could not be recorded).
    pub(crate) async fn refuse(
        &self,
        mut tx: Box<dyn WriteTx>,
        refusal: EventBuilder,
        error: EngineError,
    ) -> EngineError {
        let recorded = async {
            self.append(&mut *tx, refusal).await?;
            tx.commit().await?;
            Ok::<(), EngineError>(())
        }
        .await;
        match recorded {
            Ok(()) => error,
            Err(store) => store,
        }
    }

    /// Decide whether a background reader (`system:snapshotter`, `system:connector:hubitat`, a
    /// swarm's `agent:` under its delegation) may read through `capability` now, and audit the
    /// decision. A denial is an
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
        let decision = match self.policy.manifest(capability) {
            None => Decision::deny(
                "UNKNOWN_CAPABILITY",
                format!("no manifest declares `{capability}`"),
            ),
            Some(manifest) => {
                let mut principal = principal.clone();
                let mut resource_owner = manifest.owner.clone().unwrap_or_default();
                if principal.actor_type == ActorType::Agent {
                    // An agent (a swarm) reads for its delegating owner, inside its delegation.
                    principal.swarm = self.settings.swarm_agents.contains(actor);
                    let delegations = tx.delegations(Some(actor)).await?;
                    if let Some((delegation, resolved)) =
                        identity::resolve_delegation(&delegations, Some(capability), None, now)
                    {
                        resource_owner = delegation.owner;
                        principal.delegation = Some(resolved);
                    }
                }
                let facts = Facts {
                    now: now.timestamp(),
                    resource_owner,
                    kill_switches: switches::active_in(&mut *tx).await?,
                    ..Facts::default()
                };
                self.policy.decider.decide_recorded(
                    &Question {
                        principal: &principal,
                        action: Action::Read,
                        resource: Resource::Capability(manifest),
                        facts: &facts,
                    },
                    false,
                )
            }
        };
        self.append(
            &mut *tx,
            event(&principal.id(), "read", decision_word(&decision))
                .capability(capability)
                .decision(&decision)
                .detail(detail),
        )
        .await?;
        tx.commit().await?;
        if decision.allowed {
            Ok(decision)
        } else {
            Err(denied(Action::Read, Some(capability), &decision))
        }
    }

    /// Every kill switch ever set, with its state; switches never set are off.
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

    /// Turn kill switch `name` on or off as `caller`, with a reason. Decided by the policy set
    /// (`set_kill_switch`), effective at the next decision of every process sharing the store,
    /// and audited either way.
    pub async fn set_kill_switch(
        &self,
        caller: &Caller,
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
        let facts = Facts {
            now: now.timestamp(),
            kill_switches: switches::active_in(&mut *tx).await?,
            ..Facts::default()
        };
        let principal = caller.principal();
        let decision = self.policy.decider.decide_recorded(
            &Question {
                principal: &principal,
                action: Action::SetKillSwitch,
                resource: Resource::KillSwitch(name),
                facts: &facts,
            },
            false,
        );
        let detail = serde_json::json!({ "switch": name, "on": on, "reason": reason });
        self.append(
            &mut *tx,
            event(&caller.id, "set_kill_switch", decision_word(&decision))
                .decision(&decision)
                .detail(detail),
        )
        .await?;
        if !decision.allowed {
            tx.commit().await?;
            return Err(denied(Action::SetKillSwitch, None, &decision));
        }
        let at = crate::clock::format_time(now);
        tx.kv_set(&switches::entry(name, on, reason, &at, &caller.id))
            .await?;
        let state = switches::get_in(&mut *tx, name).await?.ok_or_else(|| {
            EngineError::Store(StoreError::Corrupt(
                "the kill switch vanished inside its own transaction".into(),
            ))
        })?;
        tx.commit().await?;
        Ok(state)
    }
}

fn decision_word(decision: &Decision) -> &'static str {
    if decision.allowed { "allow" } else { "deny" }
}

/// The error for a denied decision.
pub(crate) fn denied(action: Action, capability: Option<&str>, decision: &Decision) -> EngineError {
    let subject = capability.map_or_else(String::new, |id| format!(" on `{id}`"));
    let reasons: Vec<String> = decision
        .reasons
        .iter()
        .map(|code| match crate::policy::reasons::lookup(code) {
            Some(known) => format!("{code}: {}", known.meaning),
            None => code.clone(),
        })
        .collect();
    EngineError::Denied(Box::new(Denial {
        action: action.as_str().to_string(),
        capability: capability.map(str::to_string),
        reason_codes: decision.reasons.clone(),
        policy_ids: decision.policy_ids.clone(),
        retry_after: None,
        message: format!(
            "{}{subject} was denied ({})",
            action.as_str(),
            reasons.join("; ")
        ),
    }))
}
