//! Decisions: build the Cedar request (principal, action, resource, context) from brain's
//! facts, evaluate it through the policy index, and report allow/deny with the determining
//! policy ids and reason codes.
//!
//! The index slices the policy set by action and resource at load: a decision evaluates only
//! the policies whose scope can match it. Scopes brain cannot resolve without the entity
//! hierarchy (`in` constraints, action groups) are kept in every slice, so a sliced decision is
//! always identical to the decision over the whole set.
//!
//! Architecture Invariant: a policy that fails to evaluate turns the decision into a deny with
//! `POLICY_ERROR`; errors never let a forbid drop out silently.
//! Architecture Invariant: no I/O.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, Policy, PolicyId, PrincipalConstraint, Request, ResourceConstraint,
    RestrictedExpression,
};
use serde::Serialize;

use super::PolicySet;
use crate::capability::{ActorType, Manifest};

/// A lifecycle or governance step, one Cedar action each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Propose,
    Approve,
    Reject,
    Cancel,
    Execute,
    Rollback,
    Read,
    Exempt,
    RevokeExemption,
    SetKillSwitch,
    ManageActors,
    Delegate,
    View,
    Audit,
    ReviewIntake,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::Propose,
        Action::Approve,
        Action::Reject,
        Action::Cancel,
        Action::Execute,
        Action::Rollback,
        Action::Read,
        Action::Exempt,
        Action::RevokeExemption,
        Action::SetKillSwitch,
        Action::ManageActors,
        Action::Delegate,
        Action::View,
        Action::Audit,
        Action::ReviewIntake,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Propose => "propose",
            Action::Approve => "approve",
            Action::Reject => "reject",
            Action::Cancel => "cancel",
            Action::Execute => "execute",
            Action::Rollback => "rollback",
            Action::Read => "read",
            Action::Exempt => "exempt",
            Action::RevokeExemption => "revoke_exemption",
            Action::SetKillSwitch => "set_kill_switch",
            Action::ManageActors => "manage_actors",
            Action::Delegate => "delegate",
            Action::View => "view",
            Action::Audit => "audit",
            Action::ReviewIntake => "review_intake",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == text)
    }

    /// Whether the action's resource is a kill switch rather than a capability.
    pub fn on_kill_switch(self) -> bool {
        self == Action::SetKillSwitch
    }

    /// The area an administrative action is about (its resource is `Area::"<area>"`); `None`
    /// for actions on capabilities and kill switches.
    pub fn area(self) -> Option<&'static str> {
        match self {
            Action::ManageActors => Some("actors"),
            Action::Delegate => Some("delegations"),
            Action::View => Some("studio"),
            Action::Audit => Some("audit"),
            Action::ReviewIntake => Some("intake"),
            _ => None,
        }
    }
}

/// An agent's delegation as resolved for one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Delegation {
    pub owner: String,
    pub scopes: Vec<String>,
    pub expired: bool,
    pub revoked: bool,
    pub in_scope: bool,
}

/// Whether `capability` is inside delegation `scopes` (exact ids, `prefix.*`, or `*`).
pub fn scope_covers(scopes: &[String], capability: &str) -> bool {
    scopes.iter().any(|scope| {
        scope == "*"
            || scope == capability
            || scope.strip_suffix(".*").is_some_and(|prefix| {
                capability.starts_with(prefix) && capability[prefix.len()..].starts_with('.')
            })
    })
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Principal {
    pub actor_type: ActorType,
    pub name: String,
    #[serde(default)]
    pub delegation: Option<Delegation>,
    /// An agent that is one of the configured swarms (its entity's `swarm` attribute).
    #[serde(default)]
    pub swarm: bool,
}

impl Principal {
    pub fn new(actor_type: ActorType, name: impl Into<String>) -> Self {
        Self {
            actor_type,
            name: name.into(),
            delegation: None,
            swarm: false,
        }
    }

    /// Parse `staff:alice`.
    pub fn parse(id: &str) -> Option<Self> {
        let (kind, name) = id.split_once(':')?;
        let actor_type = ActorType::parse(kind)?;
        (!name.is_empty()).then(|| Self::new(actor_type, name))
    }

    /// `staff:alice`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.actor_type.as_str(), self.name)
    }
}

/// What the decision is about.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    Capability(&'a Manifest),
    KillSwitch(&'a str),
    /// One of brain's own areas (see [`Action::area`]).
    Area(&'a str),
}

impl<'a> Resource<'a> {
    /// The resource of an administrative action, which the action alone determines.
    pub fn of_area(action: Action) -> Option<Resource<'static>> {
        action.area().map(Resource::Area)
    }
}

/// What is true at the moment of the decision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Facts {
    pub now: i64,
    pub proposer: String,
    pub resource_owner: String,
    pub kill_switches: BTreeSet<String>,
    pub approvals: i64,
    pub approvers: BTreeSet<String>,
    pub exemption_in_force: bool,
    pub snapshot_stale: bool,
    pub snapshot_age_seconds: i64,
    pub quota_exceeded: bool,
    /// The compliance intake gate routed the proposal to review and no override granted it.
    pub intake_review_required: bool,
}

/// One question to the policy set.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    pub principal: &'a Principal,
    pub action: Action,
    pub resource: Resource<'a>,
    pub facts: &'a Facts,
}

/// The answer: allow or deny, with the policies that decided it and their reason codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Decision {
    pub allowed: bool,
    /// `@id`s of the determining policies (the permits that allowed, or the forbids that denied).
    pub policy_ids: Vec<String>,
    /// Reason codes of a denial (`NO_PERMIT` when nothing permitted); empty when allowed.
    pub reasons: Vec<String>,
    /// Evaluation errors, when a policy failed (the decision is then a deny).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The request as the audit log records it, when the Engine decided with
    /// [`Decider::decide_recorded`]; the event builder writes it into the event's detail.
    #[serde(skip)]
    #[schemars(skip)]
    pub request: Option<Arc<super::request::RecordedRequest>>,
}

impl Decision {
    pub fn deny(reason: &str, message: impl Into<String>) -> Self {
        Self {
            allowed: false,
            policy_ids: Vec::new(),
            reasons: vec![reason.to_string()],
            errors: vec![message.into()],
            request: None,
        }
    }
}

/// Which slice of the policy set a question needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum SliceKey {
    Capability(Action, String),
    KillSwitch,
    Area(Action),
}

/// What a policy's scope says about which questions it can match.
#[derive(Debug, Clone)]
struct Scope {
    /// `None`: any principal (or not resolvable without the hierarchy).
    principals: Option<HashSet<ActorType>>,
    /// `None`: any action (or not resolvable without the hierarchy).
    actions: Option<HashSet<Action>>,
    resource: ResourceScope,
}

#[derive(Debug, Clone)]
enum ResourceScope {
    /// Any resource, or not resolvable without the hierarchy.
    Any,
    /// Only capabilities (any of them).
    Capabilities,
    /// Only this capability.
    Capability(String),
    /// Only kill switches.
    KillSwitches,
    /// Only areas.
    Areas,
    /// Nothing brain asks about.
    Nothing,
}

impl Scope {
    fn of(policy: &Policy) -> Self {
        // A principal's entity type is exactly its actor type's (no namespace), so a policy
        // scoped to another type matches none of brain's principals.
        let actor_types = |type_name: &EntityTypeName| -> HashSet<ActorType> {
            let name = type_name.to_string();
            ActorType::ALL
                .into_iter()
                .filter(|kind| kind.entity_type() == name)
                .collect()
        };
        let principals = match policy.principal_constraint() {
            PrincipalConstraint::Any | PrincipalConstraint::In(_) => None,
            PrincipalConstraint::Eq(uid) => Some(actor_types(uid.type_name())),
            PrincipalConstraint::Is(type_name) | PrincipalConstraint::IsIn(type_name, _) => {
                Some(actor_types(&type_name))
            }
        };
        let actions = match policy.action_constraint() {
            ActionConstraint::Any => None,
            ActionConstraint::Eq(uid) => Some(action_of(&uid).into_iter().collect()),
            ActionConstraint::In(uids) => {
                let known: Vec<Option<Action>> = uids.iter().map(action_of).collect();
                // An unknown id may be an action group: keep the policy everywhere.
                if known.iter().any(Option::is_none) {
                    None
                } else {
                    Some(known.into_iter().flatten().collect())
                }
            }
        };
        let resource = match policy.resource_constraint() {
            ResourceConstraint::Any | ResourceConstraint::In(_) | ResourceConstraint::IsIn(..) => {
                ResourceScope::Any
            }
            ResourceConstraint::Is(type_name) => match type_name.basename() {
                "Capability" => ResourceScope::Capabilities,
                "KillSwitch" => ResourceScope::KillSwitches,
                "Area" => ResourceScope::Areas,
                _ => ResourceScope::Nothing,
            },
            ResourceConstraint::Eq(uid) => match uid.type_name().basename() {
                "Capability" => ResourceScope::Capability(uid.id().unescaped().to_string()),
                "KillSwitch" => ResourceScope::KillSwitches,
                "Area" => ResourceScope::Areas,
                _ => ResourceScope::Nothing,
            },
        };
        Self {
            principals,
            actions,
            resource,
        }
    }

    /// Whether the policy can match a question with `key` asked by a principal of type
    /// `principal` (`None`: of any type).
    fn matches(&self, key: &SliceKey, principal: Option<ActorType>) -> bool {
        if let (Some(principal), Some(principals)) = (principal, &self.principals)
            && !principals.contains(&principal)
        {
            return false;
        }
        let action = match key {
            SliceKey::Capability(action, _) | SliceKey::Area(action) => *action,
            SliceKey::KillSwitch => Action::SetKillSwitch,
        };
        if let Some(actions) = &self.actions
            && !actions.contains(&action)
        {
            return false;
        }
        match (&self.resource, key) {
            (ResourceScope::Any, _) => true,
            (ResourceScope::Nothing, _) => false,
            (ResourceScope::Capabilities, SliceKey::Capability(..)) => true,
            (ResourceScope::Capability(id), SliceKey::Capability(_, wanted)) => id == wanted,
            (ResourceScope::KillSwitches, SliceKey::KillSwitch) => true,
            (ResourceScope::Areas, SliceKey::Area(_)) => true,
            _ => false,
        }
    }
}

fn action_of(uid: &EntityUid) -> Option<Action> {
    (uid.type_name().basename() == "Action")
        .then(|| Action::parse(uid.id().unescaped()))
        .flatten()
}

/// Decides questions against a loaded policy set, through the index.
pub struct Decider {
    policies: Arc<PolicySet>,
    scoped: Vec<(Scope, Policy)>,
    /// Slices by key and principal type.
    slices: RwLock<HashMap<(SliceKey, ActorType), Arc<cedar_policy::PolicySet>>>,
    reasons: HashMap<String, Option<String>>,
    authorizer: Authorizer,
    /// Indices into `scoped` of the policies not scoped to one capability.
    general: Vec<usize>,
    /// Indices into `scoped` of the policies scoped to one capability, by its id.
    specific: HashMap<String, Vec<usize>>,
    /// Each policy's text without annotations (as JSON), by index into `scoped`; built on first
    /// use by [`Decider::equivalence_key`].
    normalized: std::sync::OnceLock<Vec<Option<String>>>,
    /// Equivalence keys by capability id.
    keys: RwLock<HashMap<String, Option<Arc<str>>>>,
    /// Capabilities' Cedar entities by id, built on first use.
    capabilities: RwLock<HashMap<String, Arc<CachedCapability>>>,
}

/// A capability's Cedar entity and the manifest it was built from: reused only while a manifest
/// with that id still has the same [`CapabilityFields`].
struct CachedCapability {
    manifest: Manifest,
    uid: EntityUid,
    entity: Entity,
}

/// The manifest fields a capability's Cedar entity is made of, and all it is made of
/// ([`capability_entity`] reads nothing else), so equal fields mean an equal entity.
#[derive(PartialEq)]
struct CapabilityFields<'a> {
    id: &'a str,
    title: &'a str,
    owner: Option<&'a str>,
    tier: crate::capability::RiskTier,
    mode: crate::capability::Mode,
    target: &'a str,
    class: crate::capability::Class,
    enabled: bool,
    required: u32,
    approver_types: &'a [ActorType],
    requires_fresh_state: bool,
}

impl<'a> CapabilityFields<'a> {
    fn of(manifest: &'a Manifest) -> Self {
        Self {
            id: &manifest.id,
            title: &manifest.title,
            owner: manifest.owner.as_deref(),
            tier: manifest.tier(),
            mode: manifest.mode,
            target: &manifest.target,
            class: manifest.class,
            enabled: manifest.enabled,
            required: manifest.approval.required,
            approver_types: &manifest.approval.approver_types,
            requires_fresh_state: manifest.requires_fresh_state,
        }
    }
}

impl Decider {
    pub fn new(policies: Arc<PolicySet>) -> Self {
        let scoped: Vec<(Scope, Policy)> = policies
            .cedar
            .policies()
            .map(|policy| (Scope::of(policy), policy.clone()))
            .collect();
        let reasons = policies
            .policies
            .iter()
            .map(|info| (info.id.clone(), info.reason.clone()))
            .collect();
        let mut general = Vec::new();
        let mut specific: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, (scope, _)) in scoped.iter().enumerate() {
            match &scope.resource {
                ResourceScope::Capability(id) => {
                    specific.entry(id.clone()).or_default().push(index)
                }
                _ => general.push(index),
            }
        }
        Self {
            policies,
            scoped,
            general,
            specific,
            slices: RwLock::new(HashMap::new()),
            reasons,
            authorizer: Authorizer::new(),
            normalized: std::sync::OnceLock::new(),
            keys: RwLock::new(HashMap::new()),
            capabilities: RwLock::new(HashMap::new()),
        }
    }

    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// The policy set, shared.
    pub fn shared_policies(&self) -> Arc<PolicySet> {
        self.policies.clone()
    }

    /// A key under which capabilities decide alike: two capabilities with the same key get the
    /// same decision (allow or deny; the determining policy ids may differ in name) for every
    /// principal and context that does not name them. Lint's invariant proofs evaluate one
    /// capability per key instead of all of them.
    ///
    /// The key holds, for every capability action, the policies of the slice for any principal
    /// type (the principal-type slices `decide` uses are subsets of it; annotations dropped)
    /// with the capability's own id replaced by a placeholder, and the capability's attributes
    /// with it replaced too (`title` and `owner` only when some policy in the slices reads them).
    /// Renaming one id consistently everywhere cannot change a Cedar decision, so equal keys
    /// decide alike. `None` when that argument does not hold: a slice policy uses `like` (a
    /// pattern can tell ids apart), the id appears in a policy that is not the capability's own,
    /// or a text already holds the placeholder.
    pub fn equivalence_key(&self, manifest: &Manifest) -> Option<Arc<str>> {
        if let Ok(keys) = self.keys.read()
            && let Some(key) = keys.get(&manifest.id)
        {
            return key.clone();
        }
        // A digest keeps the cache small; the full key runs to hundreds of kilobytes.
        let key = self
            .compute_equivalence_key(manifest)
            .map(|key| Arc::<str>::from(crate::audit::sha256_hex(key.as_bytes())));
        if let Ok(mut keys) = self.keys.write() {
            keys.insert(manifest.id.clone(), key.clone());
        }
        key
    }

    /// Whether any policy that can decide `action` on capability `id` (for any principal type)
    /// mentions `word` (a context or entity attribute's name) anywhere in its text. `true` when a
    /// policy's text cannot be read, so that callers who skip what no policy reads stay sound.
    pub fn slice_mentions(&self, id: &str, action: Action, word: &str) -> bool {
        let normalized = self.normalized_texts();
        let quoted = format!("\"{word}\"");
        self.members(&SliceKey::Capability(action, id.to_string()), None)
            .into_iter()
            .any(|index| {
                normalized
                    .get(index)
                    .and_then(Option::as_ref)
                    .is_none_or(|text| text.contains(&quoted))
            })
    }

    /// The id and reason code of every policy that can decide an action on capability `id`
    /// (for any principal type): what an equivalence key leaves out.
    pub fn capability_annotations(&self, id: &str) -> BTreeSet<(String, Option<String>)> {
        Action::ALL
            .into_iter()
            .filter(|action| !action.on_kill_switch() && action.area().is_none())
            .flat_map(|action| self.members(&SliceKey::Capability(action, id.to_string()), None))
            .map(|index| {
                let policy = self.scoped[index].1.id().to_string();
                let reason = self.reasons.get(&policy).cloned().flatten();
                (policy, reason)
            })
            .collect()
    }

    /// Each policy's text without annotations (as JSON), by index into `scoped`.
    fn normalized_texts(&self) -> &Vec<Option<String>> {
        self.normalized.get_or_init(|| {
            self.scoped
                .iter()
                .map(|(_, policy)| {
                    let mut json = policy.to_json().ok()?;
                    if let Some(object) = json.as_object_mut() {
                        object.remove("annotations");
                    }
                    Some(json.to_string())
                })
                .collect()
        })
    }

    fn compute_equivalence_key(&self, manifest: &Manifest) -> Option<String> {
        const PLACEHOLDER: &str = "\u{1}capability\u{1}";
        let id = manifest.id.as_str();
        if id.is_empty() {
            return None;
        }
        let normalized = self.normalized_texts();
        let mut key = String::new();
        let mut reads_title = false;
        let mut reads_owner = false;
        for action in Action::ALL {
            if action.on_kill_switch() || action.area().is_some() {
                continue;
            }
            let slice_key = SliceKey::Capability(action, manifest.id.clone());
            let mut texts = Vec::new();
            for index in self.members(&slice_key, None) {
                let text = normalized.get(index)?.as_ref()?;
                if text.contains("\"like\"") || text.contains(PLACEHOLDER) {
                    return None;
                }
                let own = matches!(&self.scoped[index].0.resource, ResourceScope::Capability(only) if only == id);
                if !own && text.contains(id) {
                    return None;
                }
                reads_title |= text.contains("\"title\"");
                reads_owner |= text.contains("\"owner\"");
                texts.push(if own {
                    text.replace(id, PLACEHOLDER)
                } else {
                    text.clone()
                });
            }
            texts.sort();
            key.push_str(action.as_str());
            key.push('\n');
            for text in texts {
                key.push_str(&text);
                key.push('\n');
            }
        }
        let attributes = serde_json::json!({
            "title": reads_title.then(|| manifest.title.replace(id, PLACEHOLDER)),
            "owner": reads_owner.then(|| manifest.owner.clone()),
            "risk_tier": manifest.tier().as_str(),
            "mode": manifest.mode.as_str(),
            "target": manifest.target,
            "class": manifest.class.as_str(),
            "enabled": manifest.enabled,
            "required_approvals": manifest.approval.required,
            "approver_types": manifest.approval.approver_types.iter().map(|kind| kind.as_str()).collect::<Vec<_>>(),
            "requires_fresh_state": manifest.requires_fresh_state,
        });
        key.push_str(&attributes.to_string());
        Some(key)
    }

    /// Decide through the index.
    pub fn decide(&self, question: &Question<'_>) -> Decision {
        let slice = self.slice(question);
        self.evaluate(question, &slice)
    }

    /// [`Decider::decide`], keeping the request for the audit log (see
    /// [`super::request::RecordedRequest`]); `runtime_exemption` says whether an exemption in
    /// force came from the store rather than the declared files.
    pub fn decide_recorded(&self, question: &Question<'_>, runtime_exemption: bool) -> Decision {
        let mut decision = self.decide(question);
        decision.request = Some(Arc::new(super::request::RecordedRequest::of(
            question,
            runtime_exemption,
        )));
        decision
    }

    /// Decide against the whole set (the baseline the index must match).
    pub fn decide_unindexed(&self, question: &Question<'_>) -> Decision {
        self.evaluate(question, &self.policies.cedar)
    }

    /// The slice of the set a question evaluates through the index (for benchmarks).
    pub fn slice_of(&self, question: &Question<'_>) -> Arc<cedar_policy::PolicySet> {
        self.slice(question)
    }

    /// How many policies a question evaluates through the index.
    pub fn slice_len(&self, question: &Question<'_>) -> usize {
        self.slice(question).policies().count()
    }

    /// The resource's entity; a capability's comes from the cache while its manifest's fields
    /// are unchanged (the entity is the same function of them either way).
    fn resource_entity(&self, resource: Resource<'_>) -> Result<(EntityUid, Entity), String> {
        let Resource::Capability(manifest) = resource else {
            return resource_entity(resource);
        };
        let cached = self
            .capabilities
            .read()
            .ok()
            .and_then(|cache| cache.get(&manifest.id).cloned())
            .filter(|cached| {
                CapabilityFields::of(&cached.manifest) == CapabilityFields::of(manifest)
            });
        if let Some(cached) = cached {
            return Ok((cached.uid.clone(), cached.entity.clone()));
        }
        let (uid, entity) = capability_entity(manifest)?;
        if let Ok(mut cache) = self.capabilities.write() {
            cache.insert(
                manifest.id.clone(),
                Arc::new(CachedCapability {
                    manifest: manifest.clone(),
                    uid: uid.clone(),
                    entity: entity.clone(),
                }),
            );
        }
        Ok((uid, entity))
    }

    fn slice(&self, question: &Question<'_>) -> Arc<cedar_policy::PolicySet> {
        let key = match question.resource {
            Resource::Capability(manifest) => {
                SliceKey::Capability(question.action, manifest.id.clone())
            }
            Resource::KillSwitch(_) => SliceKey::KillSwitch,
            Resource::Area(_) => SliceKey::Area(question.action),
        };
        self.slice_for(key, question.principal.actor_type)
    }

    /// Indices into `scoped` of the policies a question with `key` can match, asked by a
    /// principal of type `principal` (`None`: of any type), in set order.
    fn members(&self, key: &SliceKey, principal: Option<ActorType>) -> Vec<usize> {
        let own = match key {
            SliceKey::Capability(_, id) => self.specific.get(id).map_or(&[][..], Vec::as_slice),
            _ => &[],
        };
        let mut members: Vec<usize> = self
            .general
            .iter()
            .chain(own)
            .copied()
            .filter(|index| self.scoped[*index].0.matches(key, principal))
            .collect();
        members.sort_unstable();
        members
    }

    fn slice_for(&self, key: SliceKey, principal: ActorType) -> Arc<cedar_policy::PolicySet> {
        let key = (key, principal);
        if let Ok(slices) = self.slices.read()
            && let Some(slice) = slices.get(&key)
        {
            return slice.clone();
        }
        let policies = self
            .members(&key.0, Some(principal))
            .into_iter()
            .map(|index| self.scoped[index].1.clone());
        // Every policy already sits in a valid set, so a subset is valid too; should it not be,
        // fall back to the whole set rather than decide on less.
        let slice = cedar_policy::PolicySet::from_policies(policies)
            .map(Arc::new)
            .unwrap_or_else(|_| Arc::new(self.policies.cedar.clone()));
        if let Ok(mut slices) = self.slices.write() {
            slices.insert(key, slice.clone());
        }
        slice
    }

    fn evaluate(&self, question: &Question<'_>, set: &cedar_policy::PolicySet) -> Decision {
        let built = self
            .resource_entity(question.resource)
            .and_then(|resource| assemble_request(question, resource));
        let (request, entities) = match built {
            Ok(built) => built,
            Err(message) => return Decision::deny("POLICY_ERROR", message),
        };
        let response = self.authorizer.is_authorized(&request, set, &entities);
        let diagnostics = response.diagnostics();
        let mut policy_ids: Vec<String> = diagnostics.reason().map(PolicyId::to_string).collect();
        policy_ids.sort();
        let errors: Vec<String> = diagnostics.errors().map(ToString::to_string).collect();
        if !errors.is_empty() {
            return Decision {
                allowed: false,
                policy_ids,
                reasons: vec!["POLICY_ERROR".into()],
                errors,
                request: None,
            };
        }
        match response.decision() {
            CedarDecision::Allow => Decision {
                allowed: true,
                policy_ids,
                reasons: Vec::new(),
                errors,
                request: None,
            },
            CedarDecision::Deny => {
                let mut reasons: Vec<String> = policy_ids
                    .iter()
                    .filter_map(|id| self.reasons.get(id).cloned().flatten())
                    .collect();
                reasons.sort();
                reasons.dedup();
                if reasons.is_empty() {
                    reasons.push("NO_PERMIT".into());
                }
                Decision {
                    allowed: false,
                    policy_ids,
                    reasons,
                    errors,
                    request: None,
                }
            }
        }
    }
}

fn uid(type_name: &str, id: &str) -> Result<EntityUid, String> {
    Ok(EntityUid::from_type_name_and_id(
        entity_type(type_name)?,
        EntityId::new(id),
    ))
}

/// The entity types brain's requests name (principals, actions, resources), parsed once; any
/// other name is parsed when asked.
fn entity_type(name: &str) -> Result<EntityTypeName, String> {
    static PARSED: std::sync::OnceLock<Vec<(&'static str, EntityTypeName)>> =
        std::sync::OnceLock::new();
    let parse = |name: &str| {
        EntityTypeName::from_str(name).map_err(|error| format!("bad entity type: {error}"))
    };
    let parsed = PARSED.get_or_init(|| {
        ActorType::ALL
            .map(ActorType::entity_type)
            .into_iter()
            .chain(["Action", "Capability", "Area", "KillSwitch"])
            .filter_map(|known| Some((known, parse(known).ok()?)))
            .collect()
    });
    match parsed.iter().find(|(known, _)| *known == name) {
        Some((_, type_name)) => Ok(type_name.clone()),
        None => parse(name),
    }
}

fn string(value: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(value.to_string())
}

fn strings<'a>(values: impl IntoIterator<Item = &'a str>) -> RestrictedExpression {
    RestrictedExpression::new_set(values.into_iter().map(string))
}

fn record(fields: Vec<(&str, RestrictedExpression)>) -> Result<RestrictedExpression, String> {
    RestrictedExpression::new_record(
        fields
            .into_iter()
            .map(|(key, value)| (key.to_string(), value)),
    )
    .map_err(|error| error.to_string())
}

/// The Cedar request and entities for a question (public for benchmarks that time raw Cedar).
pub fn build_request(question: &Question<'_>) -> Result<(Request, Entities), String> {
    let resource = resource_entity(question.resource)?;
    assemble_request(question, resource)
}

/// A capability's Cedar entity: its uid and attributes, all read from the manifest's
/// [`CapabilityFields`].
fn capability_entity(manifest: &Manifest) -> Result<(EntityUid, Entity), String> {
    let fields = CapabilityFields::of(manifest);
    let resource_uid = uid("Capability", fields.id)?;
    let attrs = HashMap::from([
        ("id".to_string(), string(fields.id)),
        ("title".to_string(), string(fields.title)),
        ("owner".to_string(), string(fields.owner.unwrap_or(""))),
        ("risk_tier".to_string(), string(fields.tier.as_str())),
        (
            "tier_rank".to_string(),
            RestrictedExpression::new_long(fields.tier.rank()),
        ),
        ("mode".to_string(), string(fields.mode.as_str())),
        ("target".to_string(), string(fields.target)),
        ("class".to_string(), string(fields.class.as_str())),
        (
            "enabled".to_string(),
            RestrictedExpression::new_bool(fields.enabled),
        ),
        (
            "required_approvals".to_string(),
            RestrictedExpression::new_long(i64::from(fields.required)),
        ),
        (
            "approver_types".to_string(),
            strings(fields.approver_types.iter().map(|kind| kind.as_str())),
        ),
        (
            "requires_fresh_state".to_string(),
            RestrictedExpression::new_bool(fields.requires_fresh_state),
        ),
        (
            "target_switch".to_string(),
            string(&format!("target:{}", fields.target)),
        ),
        (
            "capability_switch".to_string(),
            string(&format!("capability:{}", fields.id)),
        ),
    ]);
    let entity = Entity::new(resource_uid.clone(), attrs, HashSet::new())
        .map_err(|error| error.to_string())?;
    Ok((resource_uid, entity))
}

/// The resource's Cedar uid and entity.
fn resource_entity(resource: Resource<'_>) -> Result<(EntityUid, Entity), String> {
    let (type_name, name) = match resource {
        Resource::Capability(manifest) => return capability_entity(manifest),
        Resource::Area(name) => ("Area", name),
        Resource::KillSwitch(name) => ("KillSwitch", name),
    };
    let resource_uid = uid(type_name, name)?;
    let attrs = HashMap::from([("name".to_string(), string(name))]);
    let entity = Entity::new(resource_uid.clone(), attrs, HashSet::new())
        .map_err(|error| error.to_string())?;
    Ok((resource_uid, entity))
}

/// The request and entities for a question whose resource entity is already built.
fn assemble_request(
    question: &Question<'_>,
    (resource_uid, resource_entity): (EntityUid, Entity),
) -> Result<(Request, Entities), String> {
    let principal = question.principal;
    let principal_uid = uid(principal.actor_type.entity_type(), &principal.name)?;
    let mut principal_attrs = HashMap::from([("name".to_string(), string(&principal.name))]);
    if let Some(delegation) = &principal.delegation {
        principal_attrs.insert(
            "delegation".to_string(),
            record(vec![
                ("owner", string(&delegation.owner)),
                (
                    "scopes",
                    strings(delegation.scopes.iter().map(String::as_str)),
                ),
                (
                    "expired",
                    RestrictedExpression::new_bool(delegation.expired),
                ),
                (
                    "revoked",
                    RestrictedExpression::new_bool(delegation.revoked),
                ),
                (
                    "in_scope",
                    RestrictedExpression::new_bool(delegation.in_scope),
                ),
            ])?,
        );
    }
    if principal.swarm && principal.actor_type == ActorType::Agent {
        principal_attrs.insert("swarm".to_string(), RestrictedExpression::new_bool(true));
    }
    let principal_entity = Entity::new(principal_uid.clone(), principal_attrs, HashSet::new())
        .map_err(|error| error.to_string())?;
    let facts = question.facts;
    let context = Context::from_pairs([
        ("now".to_string(), RestrictedExpression::new_long(facts.now)),
        ("actor".to_string(), string(&principal.id())),
        (
            "actor_type".to_string(),
            string(principal.actor_type.as_str()),
        ),
        ("proposer".to_string(), string(&facts.proposer)),
        ("resource_owner".to_string(), string(&facts.resource_owner)),
        (
            "kill_switches".to_string(),
            strings(facts.kill_switches.iter().map(String::as_str)),
        ),
        (
            "approvals".to_string(),
            RestrictedExpression::new_long(facts.approvals),
        ),
        (
            "approvers".to_string(),
            strings(facts.approvers.iter().map(String::as_str)),
        ),
        (
            "exemption_in_force".to_string(),
            RestrictedExpression::new_bool(facts.exemption_in_force),
        ),
        (
            "snapshot_stale".to_string(),
            RestrictedExpression::new_bool(facts.snapshot_stale),
        ),
        (
            "snapshot_age_seconds".to_string(),
            RestrictedExpression::new_long(facts.snapshot_age_seconds),
        ),
        (
            "intake_review_required".to_string(),
            RestrictedExpression::new_bool(facts.intake_review_required),
        ),
        (
            "quota_exceeded".to_string(),
            RestrictedExpression::new_bool(facts.quota_exceeded),
        ),
    ])
    .map_err(|error| error.to_string())?;
    let action_uid = uid("Action", question.action.as_str())?;
    let request = Request::new(principal_uid, action_uid, resource_uid, context, None)
        .map_err(|error| error.to_string())?;
    let entities = Entities::from_entities([principal_entity, resource_entity], None)
        .map_err(|error| error.to_string())?;
    Ok((request, entities))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delegation_scopes_cover_exact_ids_prefixes_and_everything() {
        let scopes = vec![
            "marketing.*".to_string(),
            "ops.recommendation.draft".to_string(),
        ];
        assert!(scope_covers(&scopes, "marketing.post.draft"));
        assert!(scope_covers(&scopes, "ops.recommendation.draft"));
        assert!(!scope_covers(&scopes, "marketingx.post"));
        assert!(!scope_covers(&scopes, "firestore.ops_note.append"));
        assert!(scope_covers(&["*".to_string()], "anything.at.all"));
    }

    #[test]
    fn principals_parse_from_actor_ids() {
        assert_eq!(
            Principal::parse("agent:drafter").unwrap().actor_type,
            ActorType::Agent
        );
        assert!(Principal::parse("robot:x").is_none());
        assert!(Principal::parse("staff:").is_none());
    }
}
