//! The Engine's records as the store keeps them: delegations, proposals, approvals, runtime
//! exemption records and audit checkpoints.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::lifecycle::ProposalState;

/// An agent's delegation from an owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Delegation {
    pub id: String,
    pub agent: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
}

/// A proposal and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Proposal {
    pub id: String,
    pub capability: String,
    pub state: ProposalState,
    pub input: Value,
    pub input_hash: String,
    pub rationale: String,
    /// The target's dry-run plan at proposal time.
    pub plan: Option<Value>,
    pub proposer: String,
    /// Whose resources the proposal is about.
    pub owner: String,
    pub delegation_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub policy_set_hash: String,
    pub created_at: String,
    pub updated_at: String,
    pub expires_at: String,
    pub closed_by: Option<String>,
    pub closed_reason: Option<String>,
    pub execution_started_at: Option<String>,
    pub execution_finished_at: Option<String>,
    pub executed_by: Option<String>,
    pub outcome: Option<Value>,
    pub failure: Option<String>,
}

/// One approval, bound to the input it approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Approval {
    pub id: String,
    pub proposal_id: String,
    pub approver: String,
    pub input_hash: String,
    pub comment: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

/// A runtime exemption record: a grant, or the revocation of an earlier grant (or of a declared
/// exemption, by its `declared:<file>` id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ExemptionRecord {
    pub id: String,
    /// `grant` or `revoke`.
    pub kind: String,
    pub revokes: Option<String>,
    pub capability: Option<String>,
    pub owner: Option<String>,
    pub starts: Option<String>,
    pub expires: Option<String>,
    pub justification: String,
    pub requested_by: String,
    pub approved_by: String,
    pub created_at: String,
}

/// A signed checkpoint of the audit chain head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: String,
    pub public_key: String,
    pub signature: String,
}

/// A prune point: audit events at and below `through_seq` were removed by retention, after a
/// verified backup bundle held them. Signed with the audit key, so it cannot be forged to hide
/// a deletion; `brain audit verify` starts the chain from the newest one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditPrune {
    pub through_seq: i64,
    /// The hash of event `through_seq`, which `checkpoint` signs.
    pub hash: String,
    pub checkpoint: Checkpoint,
    /// The backup bundle that holds the pruned events.
    pub bundle: String,
    pub bundle_events_sha256: String,
    pub at: String,
    pub by: String,
    pub public_key: String,
    /// Signature over the record's canonical JSON without this field.
    pub signature: String,
}

/// Which proposals to list.
#[derive(Debug, Clone, Default)]
pub struct ProposalFilter {
    pub state: Option<ProposalState>,
    pub capability: Option<String>,
    pub proposer: Option<String>,
    pub limit: i64,
}

/// Which audit events to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub capability: Option<String>,
    pub decision: Option<String>,
    pub proposal_id: Option<String>,
    /// Only events with `seq < before`.
    pub before: Option<i64>,
    pub limit: i64,
}

/// A StudioState snapshot as stored: derived from the cloud, never authoritative.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SnapshotRecord {
    pub id: String,
    pub computed_at: String,
    pub schema_version: i64,
    /// Every source read fully.
    pub complete: bool,
    pub content_hash: String,
    pub state: Value,
    pub provenance: Value,
    pub previous_id: Option<String>,
    /// `[{field, from, to}]` against the previous snapshot.
    pub diff: Value,
    /// `[{collection, local, cloud, difference}]` beyond the configured tolerance.
    pub drift: Value,
}

/// What decisions need of the newest snapshot: which, when, whether complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub id: String,
    pub computed_at: String,
    pub complete: bool,
}

/// The runtime facts of one decision, read in one query: the runtime entries under a prefix
/// (kill switches), a proposal's approvals, every exemption record, the newest snapshot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionFacts {
    /// The proposal asked about, when one was.
    pub proposal: Option<Proposal>,
    pub runtime: Vec<crate::store::KvEntry>,
    pub approvals: Vec<Approval>,
    pub exemptions: Vec<ExemptionRecord>,
    pub newest_snapshot: Option<SnapshotMeta>,
    /// The proposal's compliance intake record (`intake:<proposal id>`), when it was routed.
    pub intake: Option<crate::store::KvEntry>,
    /// Whether the deciding caller's actor record is revoked (asked with `caller`).
    pub caller_revoked: bool,
}

impl SnapshotRecord {
    pub fn meta(&self) -> SnapshotMeta {
        SnapshotMeta {
            id: self.id.clone(),
            computed_at: self.computed_at.clone(),
            complete: self.complete,
        }
    }

    /// Documents the snapshot read, over all its sources.
    pub fn documents_read(&self) -> u64 {
        self.provenance["sources"]
            .as_array()
            .map(|sources| {
                sources
                    .iter()
                    .filter_map(|source| source["documents_read"].as_u64())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// One swarm run, as its audited summary records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SwarmRunRecord {
    pub id: String,
    pub swarm: String,
    pub agent: String,
    /// `schedule`, `snapshot` or `manual`.
    pub trigger: String,
    pub requested_by: String,
    pub dry_run: bool,
    pub started_at: String,
    pub finished_at: String,
    /// `completed`, `denied` or `failed`.
    pub outcome: String,
    pub snapshot_id: Option<String>,
    pub records_read: i64,
    /// `{rules: {RULE: {hits, emitted, suppressed, refused}}, reasons, problem}`.
    pub summary: Value,
}

/// A finding a swarm proposed as a draft: which rule, about what, and the draft's proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SwarmFindingRecord {
    pub id: String,
    pub swarm: String,
    pub rule: String,
    pub rule_version: i64,
    pub subject: String,
    pub severity: String,
    pub confidence: f64,
    pub run_id: String,
    pub proposal_id: String,
    pub created_at: String,
}

/// A swarm finding with where its draft stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SwarmDraft {
    #[serde(flatten)]
    pub finding: SwarmFindingRecord,
    pub state: ProposalState,
    /// The draft has an approval (an approved draft that later expired still counts).
    pub approved: bool,
    pub updated_at: String,
    pub closed_reason: Option<String>,
    pub closed_by: Option<String>,
}

/// Which swarm drafts to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct SwarmDraftFilter {
    pub swarm: Option<String>,
    pub rule: Option<String>,
    pub subject: Option<String>,
    pub severity: Option<String>,
    pub state: Option<ProposalState>,
    pub limit: i64,
}
