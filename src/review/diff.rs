//! `brain policy diff`: what a change of the policy set does, question by question.
//!
//! Both policy sets are asked the same finite set of questions: for every capability either side
//! declares, every capability action, every principal class lint's invariant proofs enumerate
//! (each actor type; agents with each delegation state) and every situation (no kill switch or
//! each switch the sets declare, 0 to one more than the required approvals, a runtime exemption
//! or none, a fresh or stale snapshot, a quota left or exceeded, the intake gate clear or
//! pending, proposed by someone else or by the asker). Declared exemptions are part of each
//! side: an exemption in force now on one side is in force in all its situations.
//!
//! A capability whose equivalence key (`Decider::equivalence_key`: its slices' policies and its
//! attributes) is the same on both sides, with the same declared exemptions in force and the same
//! ids and reason codes on the policies of its slices, decides alike on both sides; it is not
//! evaluated again. Everything else is, situation by situation, over the facts some policy of
//! its slices reads (a fact no policy mentions is asked at one value).
//!
//! Architecture Invariant: no I/O; the caller loads both sides.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::capability::{ActorType, Manifest};
use crate::engine::{DeclaredExemption, PolicyBundle};
use crate::lint::rules::support::{DelegationState, OWNER, principals};
use crate::policy::decide::{Action, Decider, Decision, Facts, Question, Resource};

/// One policy set, loaded, with where its files are.
pub struct Side<'a> {
    pub bundle: &'a PolicyBundle,
    /// What it was loaded from, as the user named it (`HEAD~1`, `../old`, `.`).
    pub label: String,
    /// The directory its relative paths are shown against.
    pub root: std::path::PathBuf,
    /// Where its manifests are.
    pub capabilities_dir: std::path::PathBuf,
}

/// How an answer changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Denied before, allowed after.
    NewlyAllowed,
    /// Allowed before, denied after.
    NewlyDenied,
    /// The same outcome for other reasons (reason codes or deciding policies).
    ReasonsChanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::NewlyAllowed => "newly allowed",
            Change::NewlyDenied => "newly denied",
            Change::ReasonsChanged => "reasons changed",
        }
    }
}

/// An answer on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub allowed: bool,
    pub reasons: Vec<String>,
    pub policies: Vec<String>,
}

impl From<&Decision> for Verdict {
    fn from(decision: &Decision) -> Self {
        Self {
            allowed: decision.allowed,
            reasons: decision.reasons.clone(),
            policies: decision.policy_ids.clone(),
        }
    }
}

impl Verdict {
    /// `allow (permit-a)` / `deny APPROVAL_REQUIRED (approval.required)`.
    pub fn describe(&self) -> String {
        let policies = if self.policies.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.policies.join(", "))
        };
        if self.allowed {
            format!("allow{policies}")
        } else {
            format!("deny {}{policies}", self.reasons.join(", "))
        }
    }
}

/// The situation of one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Situation {
    pub kill_switch: Option<String>,
    pub approvals: i64,
    pub runtime_exemption: bool,
    pub stale_snapshot: bool,
    pub quota_exceeded: bool,
    pub intake_review_required: bool,
    pub own_proposal: bool,
}

impl Situation {
    /// In words: `kill switch global on, 1 approval, stale snapshot`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match &self.kill_switch {
            Some(name) => parts.push(format!("kill switch `{name}` on")),
            None => parts.push("no kill switch".into()),
        }
        parts.push(crate::diagnostic::plural(
            usize::try_from(self.approvals).unwrap_or(0),
            "approval",
        ));
        if self.runtime_exemption {
            parts.push("a runtime exemption".into());
        }
        parts.push(if self.stale_snapshot {
            "stale snapshot".into()
        } else {
            "fresh snapshot".into()
        });
        if self.quota_exceeded {
            parts.push("quota exceeded".into());
        }
        if self.intake_review_required {
            parts.push("intake review pending".into());
        }
        if self.own_proposal {
            parts.push("its own proposal".into());
        }
        parts.join(", ")
    }
}

/// Every situation whose answer changed the same way, for one capability, action and principal
/// class.
#[derive(Debug, Clone, Serialize)]
pub struct DecisionChange {
    pub capability: String,
    pub action: &'static str,
    /// `staff`, `agent (a live delegation)`, ...
    pub principal: String,
    pub change: Change,
    /// How many situations changed this way, of how many asked.
    pub situations: usize,
    pub of: usize,
    /// The first situation that changed, with both answers.
    pub example: Situation,
    pub before: Verdict,
    pub after: Verdict,
    /// Every policy that decided a changed situation, on each side.
    pub policies_before: Vec<String>,
    pub policies_after: Vec<String>,
}

/// The approvals a capability's execution needs, when that changed.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalChange {
    pub capability: String,
    pub principal: String,
    /// The fewest approvals with which `execute` is allowed (no switch, fresh snapshot, no
    /// exemption); `None` when no number of approvals is enough.
    pub before: Option<i64>,
    pub after: Option<i64>,
}

/// A manifest added, removed or changed.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestChange {
    pub capability: String,
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    /// Changed fields with their values on each side (`null` when absent).
    pub fields: Vec<FieldChange>,
    /// The manifest's file on the head side (else the base side).
    pub file: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// A declared exemption added, removed or changed.
#[derive(Debug, Clone, Serialize)]
pub struct ExemptionChange {
    /// The file's name under `capabilities/exemptions/`.
    pub file: String,
    pub kind: &'static str,
    pub capability: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// Whether it is in force now, on each side.
    pub in_force_before: bool,
    pub in_force_after: bool,
}

/// How the state model changed.
#[derive(Debug, Clone, Serialize)]
pub struct StateModelChange {
    pub before: crate::snapshot::ModelRef,
    pub after: crate::snapshot::ModelRef,
    /// Lifecycle values that count in another class (or in none).
    pub values: Vec<ValueChange>,
    /// Collections whose rule changed otherwise (fields, queue, severity, ...), added or removed.
    pub collections: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ValueChange {
    pub collection: String,
    pub value: String,
    pub before: Option<&'static str>,
    pub after: Option<&'static str>,
}

/// Counts for the headline.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub questions: usize,
    pub capabilities_reevaluated: usize,
    pub newly_allowed: usize,
    pub newly_denied: usize,
    pub reasons_changed: usize,
    pub approval_changes: usize,
    pub manifest_changes: usize,
    pub exemption_changes: usize,
    pub state_model_changed: bool,
}

/// Where a side's policy set came from.
#[derive(Debug, Clone, Serialize)]
pub struct SideInfo {
    pub label: String,
    pub hash: String,
}

/// The whole difference.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyDiff {
    pub base: SideInfo,
    pub head: SideInfo,
    pub summary: Summary,
    pub decisions: Vec<DecisionChange>,
    pub approvals: Vec<ApprovalChange>,
    pub manifests: Vec<ManifestChange>,
    pub exemptions: Vec<ExemptionChange>,
    pub state_model: Option<StateModelChange>,
}

impl PolicyDiff {
    /// Whether anything at all differs.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
            && self.approvals.is_empty()
            && self.manifests.is_empty()
            && self.exemptions.is_empty()
            && self.state_model.is_none()
    }

    pub fn newly_allowed(&self) -> bool {
        self.decisions
            .iter()
            .any(|change| change.change == Change::NewlyAllowed)
    }
}

/// The actions asked about a capability.
fn capability_actions() -> impl Iterator<Item = Action> {
    Action::ALL
        .into_iter()
        .filter(|action| !action.on_kill_switch() && action.area().is_none())
}

/// A principal class in words.
fn principal_label(actor_type: ActorType, state: DelegationState) -> String {
    if actor_type == ActorType::Agent {
        format!("agent ({})", state.describe())
    } else {
        actor_type.as_str().to_string()
    }
}

/// The kill switches to try: each switch either side declares, a `prefix:*` one named for
/// `manifest`.
fn switches_for(declared: &BTreeSet<String>, manifest: &Manifest) -> Vec<String> {
    let mut names: Vec<String> = declared
        .iter()
        .map(|name| match name.as_str() {
            "target:*" => format!("target:{}", manifest.target),
            "capability:*" => format!("capability:{}", manifest.id),
            other => match other.strip_suffix(":*") {
                Some(prefix) => format!("{prefix}:{}", manifest.id),
                None => other.to_string(),
            },
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Whether one of `declared` is in force for `capability` and the probes' owner at `now`.
fn declared_in_force(declared: &[DeclaredExemption], capability: &str, now: DateTime<Utc>) -> bool {
    declared.iter().any(|declared| {
        crate::capability::exemption_in_force(&declared.exemption, capability, Some(OWNER), now)
    })
}

/// Which facts any policy deciding a question class reads, on either side: a fact no policy
/// mentions cannot change an answer, so it is asked at one value only.
struct Reads {
    kill_switches: bool,
    approvals: bool,
    exemption: bool,
    freshness: bool,
    quota: bool,
    intake: bool,
    proposer: bool,
}

impl Reads {
    fn of(deciders: &[&Decider], id: &str, action: Action) -> Self {
        let mentions = |words: &[&str]| {
            deciders.iter().any(|decider| {
                words
                    .iter()
                    .any(|word| decider.slice_mentions(id, action, word))
            })
        };
        Self {
            kill_switches: mentions(&["kill_switches"]),
            approvals: mentions(&["approvals", "approvers"]),
            exemption: mentions(&["exemption_in_force"]),
            freshness: mentions(&["snapshot_stale", "snapshot_age_seconds"]),
            quota: mentions(&["quota_exceeded"]),
            intake: mentions(&["intake_review_required"]),
            proposer: mentions(&["proposer", "actor"]),
        }
    }
}

/// The situations asked for a capability needing up to `max_required` approvals, over the facts
/// `reads` says a policy reads.
fn situations(switches: &[String], max_required: i64, reads: &Reads) -> Vec<Situation> {
    let mut all = Vec::new();
    let switch_options: Vec<Option<String>> = std::iter::once(None)
        .chain(
            switches
                .iter()
                .filter(|_| reads.kill_switches)
                .cloned()
                .map(Some),
        )
        .collect();
    let most_approvals = if reads.approvals { max_required + 1 } else { 0 };
    let flags = [
        reads.exemption,
        reads.freshness,
        reads.quota,
        reads.intake,
        reads.proposer,
    ];
    for kill_switch in &switch_options {
        for approvals in 0..=most_approvals {
            for bits in 0u8..32 {
                // Only combinations of the flags some policy reads.
                if (0..5).any(|flag| bits & (1 << flag) != 0 && !flags[flag]) {
                    continue;
                }
                all.push(Situation {
                    kill_switch: kill_switch.clone(),
                    approvals,
                    runtime_exemption: bits & 1 != 0,
                    stale_snapshot: bits & 2 != 0,
                    quota_exceeded: bits & 4 != 0,
                    intake_review_required: bits & 8 != 0,
                    own_proposal: bits & 16 != 0,
                });
            }
        }
    }
    all
}

fn facts_of(situation: &Situation, asker: &str, declared: bool, now: DateTime<Utc>) -> Facts {
    Facts {
        now: now.timestamp(),
        proposer: if situation.own_proposal {
            asker.to_string()
        } else {
            "staff:proposer".into()
        },
        resource_owner: OWNER.into(),
        kill_switches: situation.kill_switch.iter().cloned().collect(),
        approvals: situation.approvals,
        approvers: (0..situation.approvals)
            .map(|index| format!("staff:approver{index}"))
            .collect(),
        exemption_in_force: situation.runtime_exemption || declared,
        snapshot_stale: situation.stale_snapshot,
        snapshot_age_seconds: if situation.stale_snapshot { 86_400 } else { 60 },
        quota_exceeded: situation.quota_exceeded,
        intake_review_required: situation.intake_review_required,
    }
}

/// Decide on one side; a capability the side does not declare is denied as the Engine denies
/// it.
fn decide_on(
    decider: &Decider,
    manifest: Option<&Manifest>,
    principal: &crate::policy::decide::Principal,
    action: Action,
    facts: &Facts,
) -> Decision {
    match manifest {
        Some(manifest) => decider.decide(&Question {
            principal,
            action,
            resource: Resource::Capability(manifest),
            facts,
        }),
        None => Decision::deny("UNKNOWN_CAPABILITY", "no manifest declares it on this side"),
    }
}

/// Compare `base` with `head` as of `now` (declared exemptions in force now).
pub fn diff(base: &Side<'_>, head: &Side<'_>, now: DateTime<Utc>) -> PolicyDiff {
    let mut summary = Summary::default();
    let mut decisions = Vec::new();
    let mut approvals = Vec::new();
    let declared_switches: BTreeSet<String> = base
        .bundle
        .decider
        .policies()
        .kill_switches()
        .into_iter()
        .chain(head.bundle.decider.policies().kill_switches())
        .map(str::to_string)
        .collect();
    let ids: BTreeSet<&String> = base
        .bundle
        .manifests
        .keys()
        .chain(head.bundle.manifests.keys())
        .collect();
    for id in ids {
        let before = base.bundle.manifests.get(id);
        let after = head.bundle.manifests.get(id);
        let declared_before = declared_in_force(&base.bundle.declared_exemptions, id, now);
        let declared_after = declared_in_force(&head.bundle.declared_exemptions, id, now);
        if let (Some(before), Some(after)) = (before, after)
            && declared_before == declared_after
            && base.bundle.decider.capability_annotations(id)
                == head.bundle.decider.capability_annotations(id)
        {
            let key_before = base.bundle.decider.equivalence_key(before);
            let key_after = head.bundle.decider.equivalence_key(after);
            if key_before.is_some() && key_before == key_after {
                continue;
            }
        }
        let Some(probe) = after.or(before) else {
            continue;
        };
        summary.capabilities_reevaluated += 1;
        let max_required = [before, after]
            .into_iter()
            .flatten()
            .map(|manifest| i64::from(manifest.approval.required))
            .max()
            .unwrap_or(0);
        let switches = switches_for(&declared_switches, probe);
        let by_action: Vec<(Action, Vec<Situation>)> = capability_actions()
            .map(|action| {
                let reads = Reads::of(&[&base.bundle.decider, &head.bundle.decider], id, action);
                (action, situations(&switches, max_required, &reads))
            })
            .collect();
        for (principal, state) in principals(id) {
            let label = principal_label(principal.actor_type, state);
            let asker = principal.id();
            for (action, all) in &by_action {
                let (action, all) = (*action, all);
                let mut groups: BTreeMap<Change, DecisionChange> = BTreeMap::new();
                for situation in all {
                    summary.questions += 1;
                    let decided_before = decide_on(
                        &base.bundle.decider,
                        before,
                        &principal,
                        action,
                        &facts_of(situation, &asker, declared_before, now),
                    );
                    let decided_after = decide_on(
                        &head.bundle.decider,
                        after,
                        &principal,
                        action,
                        &facts_of(situation, &asker, declared_after, now),
                    );
                    let change = match (decided_before.allowed, decided_after.allowed) {
                        (false, true) => Change::NewlyAllowed,
                        (true, false) => Change::NewlyDenied,
                        _ if decided_before.reasons != decided_after.reasons
                            || decided_before.policy_ids != decided_after.policy_ids =>
                        {
                            Change::ReasonsChanged
                        }
                        _ => continue,
                    };
                    let group = groups.entry(change).or_insert_with(|| DecisionChange {
                        capability: id.clone(),
                        action: action.as_str(),
                        principal: label.clone(),
                        change,
                        situations: 0,
                        of: all.len(),
                        example: situation.clone(),
                        before: Verdict::from(&decided_before),
                        after: Verdict::from(&decided_after),
                        policies_before: Vec::new(),
                        policies_after: Vec::new(),
                    });
                    group.situations += 1;
                    group
                        .policies_before
                        .extend(decided_before.policy_ids.iter().cloned());
                    group
                        .policies_after
                        .extend(decided_after.policy_ids.iter().cloned());
                }
                for (_, mut group) in groups {
                    group.policies_before.sort();
                    group.policies_before.dedup();
                    group.policies_after.sort();
                    group.policies_after.dedup();
                    decisions.push(group);
                }
            }
            let fewest = |bundle: &PolicyBundle, manifest: Option<&Manifest>, declared: bool| {
                (0..=max_required + 1).find(|count| {
                    let plain = Situation {
                        kill_switch: None,
                        approvals: *count,
                        runtime_exemption: false,
                        stale_snapshot: false,
                        quota_exceeded: false,
                        intake_review_required: false,
                        own_proposal: false,
                    };
                    decide_on(
                        &bundle.decider,
                        manifest,
                        &principal,
                        Action::Execute,
                        &facts_of(&plain, &asker, declared, now),
                    )
                    .allowed
                })
            };
            let needed_before = fewest(base.bundle, before, declared_before);
            let needed_after = fewest(head.bundle, after, declared_after);
            if needed_before != needed_after {
                approvals.push(ApprovalChange {
                    capability: id.clone(),
                    principal: label,
                    before: needed_before,
                    after: needed_after,
                });
            }
        }
    }
    let manifests = manifest_changes(base, head);
    let exemptions = exemption_changes(base, head, now);
    let state_model = state_model_change(base.bundle, head.bundle);
    for change in &decisions {
        match change.change {
            Change::NewlyAllowed => summary.newly_allowed += 1,
            Change::NewlyDenied => summary.newly_denied += 1,
            Change::ReasonsChanged => summary.reasons_changed += 1,
        }
    }
    summary.approval_changes = approvals.len();
    summary.manifest_changes = manifests.len();
    summary.exemption_changes = exemptions.len();
    summary.state_model_changed = state_model.is_some();
    PolicyDiff {
        base: SideInfo {
            label: base.label.clone(),
            hash: base.bundle.hash().to_string(),
        },
        head: SideInfo {
            label: head.label.clone(),
            hash: head.bundle.hash().to_string(),
        },
        summary,
        decisions,
        approvals,
        manifests,
        exemptions,
        state_model,
    }
}

fn manifest_changes(base: &Side<'_>, head: &Side<'_>) -> Vec<ManifestChange> {
    let file_of = |side: &Side<'_>, id: &str| {
        let path = side.capabilities_dir.join(format!("{id}.yaml"));
        path.is_file().then(|| relative_to(&side.root, &path))
    };
    let ids: BTreeSet<&String> = base
        .bundle
        .manifests
        .keys()
        .chain(head.bundle.manifests.keys())
        .collect();
    let mut changes = Vec::new();
    for id in ids {
        let before = base
            .bundle
            .manifests
            .get(id)
            .map(|manifest| serde_json::to_value(manifest).unwrap_or(Value::Null));
        let after = head
            .bundle
            .manifests
            .get(id)
            .map(|manifest| serde_json::to_value(manifest).unwrap_or(Value::Null));
        let kind = match (&before, &after) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(before), Some(after)) if before != after => "changed",
            _ => continue,
        };
        let empty = serde_json::Map::new();
        let fields_before = before.as_ref().and_then(Value::as_object).unwrap_or(&empty);
        let fields_after = after.as_ref().and_then(Value::as_object).unwrap_or(&empty);
        let names: BTreeSet<&String> = fields_before.keys().chain(fields_after.keys()).collect();
        let fields = if kind == "changed" {
            names
                .into_iter()
                .filter(|name| fields_before.get(*name) != fields_after.get(*name))
                .map(|name| FieldChange {
                    field: name.clone(),
                    before: fields_before.get(name).cloned().unwrap_or(Value::Null),
                    after: fields_after.get(name).cloned().unwrap_or(Value::Null),
                })
                .collect()
        } else {
            Vec::new()
        };
        changes.push(ManifestChange {
            capability: id.clone(),
            kind,
            fields,
            file: if kind == "removed" {
                file_of(base, id)
            } else {
                file_of(head, id)
            },
        });
    }
    changes
}

/// `path` relative to `root` when it is inside it.
pub fn relative_to(root: &std::path::Path, path: &std::path::Path) -> String {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .display()
        .to_string()
}

fn exemption_changes(base: &Side<'_>, head: &Side<'_>, now: DateTime<Utc>) -> Vec<ExemptionChange> {
    fn by_name(declared: &[DeclaredExemption]) -> BTreeMap<String, &DeclaredExemption> {
        declared
            .iter()
            .map(|declared| {
                let name = std::path::Path::new(&declared.file)
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned())
                    .unwrap_or_else(|| declared.file.clone());
                (name, declared)
            })
            .collect()
    }
    let in_force = |declared: Option<&&DeclaredExemption>| {
        declared.is_some_and(|declared| {
            declared
                .exemption
                .capability
                .as_deref()
                .is_some_and(|capability| {
                    crate::capability::exemption_in_force(
                        &declared.exemption,
                        capability,
                        declared.exemption.owner.as_deref(),
                        now,
                    )
                })
        })
    };
    let before = by_name(&base.bundle.declared_exemptions);
    let after = by_name(&head.bundle.declared_exemptions);
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut changes = Vec::new();
    for name in names {
        let old = before.get(name);
        let new = after.get(name);
        let value = |declared: Option<&&DeclaredExemption>| {
            declared.map(|declared| serde_json::to_value(&declared.exemption).unwrap_or_default())
        };
        let (value_before, value_after) = (value(old), value(new));
        let kind = match (&value_before, &value_after) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            (Some(a), Some(b)) if a != b => "changed",
            _ => continue,
        };
        changes.push(ExemptionChange {
            file: name.clone(),
            kind,
            capability: new
                .or(old)
                .and_then(|declared| declared.exemption.capability.clone()),
            before: value_before,
            after: value_after,
            in_force_before: in_force(old),
            in_force_after: in_force(new),
        });
    }
    changes
}

fn state_model_change(base: &PolicyBundle, head: &PolicyBundle) -> Option<StateModelChange> {
    let (before, after) = (&base.state_model, &head.state_model);
    if before.hash == after.hash {
        return None;
    }
    let mut values = Vec::new();
    let mut collections = Vec::new();
    let names: BTreeSet<&String> = before
        .model
        .collections
        .keys()
        .chain(after.model.collections.keys())
        .collect();
    for name in names {
        let (old, new) = (
            before.model.collections.get(name),
            after.model.collections.get(name),
        );
        let listed = |rule: Option<&crate::snapshot::model::CollectionRule>| {
            rule.map(|rule| {
                rule.classes
                    .each()
                    .into_iter()
                    .flat_map(|(_, values)| values.into_iter().flatten().cloned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
        };
        let all: BTreeSet<String> = listed(old).into_iter().chain(listed(new)).collect();
        for value in all {
            let class_before = before
                .classify(name, &value)
                .map(|found| found.class.as_str());
            let class_after = after
                .classify(name, &value)
                .map(|found| found.class.as_str());
            if class_before != class_after {
                values.push(ValueChange {
                    collection: name.clone(),
                    value,
                    before: class_before,
                    after: class_after,
                });
            }
        }
        let stripped = |rule: Option<&crate::snapshot::model::CollectionRule>| {
            rule.map(|rule| {
                let mut rule = rule.clone();
                rule.classes = Default::default();
                serde_json::to_value(rule).unwrap_or_default()
            })
        };
        if stripped(old) != stripped(new) {
            collections.push(name.clone());
        }
    }
    Some(StateModelChange {
        before: before.reference(),
        after: after.reference(),
        values,
        collections,
    })
}
