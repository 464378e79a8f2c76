//! The first real write: the Firestore target of `firestore.ops_note.append`, which appends one
//! staff-visible ops note per executed proposal.
//!
//! - The note's document id is derived from the proposal id and its idempotency key, and it is
//!   created by one atomic `:commit` with the precondition `exists: false`: a replay finds the
//!   note already there (ALREADY_EXISTS), recognises its own linkage and never writes twice.
//! - The note carries the audit linkage (proposal id, approval ids, the hash of the audit event
//!   that allowed the execution), so the cloud record points back at the proof.
//! - A rollback deletes exactly that document, with an `updateTime` precondition equal to the
//!   time brain wrote it: a note edited since is left alone and the rollback fails.
//! - An interrupted execution is reconciled by reading the document, never by writing again.
//!
//! Architecture Invariant: this is the only code that writes to the cloud, and it only creates
//! and deletes documents in the configured ops-note collection, with preconditions.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::firestore::{Document, FirestoreClient, FirestoreError, encode_fields};
use crate::capability::Manifest;
use crate::config::OpsNotesConfig;
use crate::engine::{ExecError, ExecutionRequest, Executor};
use crate::store::Proposal;

/// What a plan says about the linkage fields that only exist once execution is allowed.
const SET_AT_EXECUTION: &str = "(set when the execution is allowed)";

/// The Firestore write target for ops notes.
pub struct OpsNoteExecutor {
    target: String,
    client: Arc<FirestoreClient>,
    notes: OpsNotesConfig,
}

impl OpsNoteExecutor {
    pub fn new(target: &str, client: Arc<FirestoreClient>, notes: OpsNotesConfig) -> Self {
        Self {
            target: target.to_string(),
            client,
            notes,
        }
    }

    /// The note's document id: the same proposal and key always give the same id.
    pub fn document_id(proposal: &Proposal) -> String {
        let key = proposal.idempotency_key.as_deref().unwrap_or("");
        let digest = crate::audit::sha256_hex(format!("{}\n{key}", proposal.id).as_bytes());
        format!("brain-{}", &digest[..40])
    }

    fn relative_path(&self, proposal: &Proposal) -> String {
        format!("{}/{}", self.notes.collection, Self::document_id(proposal))
    }

    /// The note's fields as plain JSON; `written_at` is the execution's time (a placeholder
    /// in a plan).
    fn fields(
        &self,
        proposal: &Proposal,
        approval_ids: Option<&[String]>,
        audit_event_hash: Option<&str>,
        written_at: Option<&str>,
    ) -> Result<Map<String, Value>, ExecError> {
        let names = &self.notes.fields;
        let text = proposal
            .input
            .get("text")
            .and_then(Value::as_str)
            .ok_or_else(|| ExecError::new("the proposal's input has no `text`"))?;
        let mut fields = Map::new();
        fields.insert(names.text.clone(), json!(text));
        if let Some(batch) = proposal.input.get("batch_id").and_then(Value::as_str) {
            fields.insert(names.batch_id.clone(), json!(batch));
        }
        fields.insert(names.author.clone(), json!(proposal.proposer));
        fields.insert(
            names.created_at.clone(),
            json!(written_at.unwrap_or("(the time of the execution)")),
        );
        fields.insert(
            names.linkage.clone(),
            json!({
                "proposalId": proposal.id,
                "capability": proposal.capability,
                "inputHash": proposal.input_hash,
                "approvalIds": approval_ids.map_or_else(|| json!(SET_AT_EXECUTION), |ids| json!(ids)),
                "auditEventHash": audit_event_hash.unwrap_or(SET_AT_EXECUTION),
            }),
        );
        Ok(fields)
    }

    /// The outcome recorded on the proposal: which document, and the time brain wrote it (the
    /// rollback's precondition).
    fn outcome(&self, name: &str, proposal: &Proposal, written: &str, replayed: bool) -> Value {
        json!({
            "target": self.target,
            "document": name,
            "collection": self.notes.collection,
            "document_id": Self::document_id(proposal),
            "update_time": written,
            "already_existed": replayed,
        })
    }

    /// One commit of the note: done (written now, or found as this proposal's own), failed for
    /// certain, or unknown.
    async fn commit_once(&self, write: &Value, name: &str, proposal: &Proposal) -> Commit {
        match self.client.commit(std::slice::from_ref(write)).await {
            Ok(answer) => match answer
                .pointer("/writeResults/0/updateTime")
                .or_else(|| answer.get("commitTime"))
                .and_then(Value::as_str)
            {
                Some(written) => Commit::Done(self.outcome(name, proposal, written, false)),
                None => Commit::Unknown(ExecError::new(
                    "Firestore committed but answered no update time",
                )),
            },
            Err(error) if error.status == "ALREADY_EXISTS" => {
                // A replay: the note is there. It must be this proposal's own.
                match self.client.get(&self.relative_path(proposal)).await {
                    Ok(Some(document)) => match self.owned_by(&document, proposal) {
                        Ok(written) => Commit::Done(self.outcome(name, proposal, written, true)),
                        Err(error) => Commit::Failed(error),
                    },
                    Ok(None) => Commit::Unknown(ExecError::new(format!(
                        "Firestore said `{name}` exists, then that it does not"
                    ))),
                    Err(error) => Commit::Unknown(cause(&error)),
                }
            }
            Err(error) if may_have_landed(&error) => Commit::Unknown(cause(&error)),
            Err(error) => Commit::Failed(cause(&error)),
        }
    }

    /// The note as Firestore holds it, when it is this proposal's own.
    fn owned_by<'a>(
        &self,
        document: &'a Document,
        proposal: &Proposal,
    ) -> Result<&'a str, ExecError> {
        let linked = document
            .fields
            .get(&self.notes.fields.linkage)
            .and_then(|linkage| linkage.get("proposalId"))
            .and_then(Value::as_str);
        if linked != Some(proposal.id.as_str()) {
            return Err(ExecError::new(format!(
                "`{}` exists but is not the note of proposal `{}`; nothing was written",
                document.name, proposal.id
            )));
        }
        // Firestore sets createTime and updateTime alike when a document is created; the create
        // time is when brain wrote it, even if the note was edited since (never the update
        // time: after an edit that would let a rollback delete the edited note).
        document
            .create_time
            .as_deref()
            .ok_or_else(|| ExecError::new(format!("`{}` has no create time", document.name)))
    }
}

/// What one commit attempt established.
enum Commit {
    Done(Value),
    Failed(ExecError),
    Unknown(ExecError),
}

fn cause(error: &FirestoreError) -> ExecError {
    ExecError::new(error.to_string())
}

/// Whether a failed commit may still have been applied: anything but a definite rejection (a
/// 4xx that is not transient). No answer, a timeout, a 5xx or an unreadable 2xx may all hide a
/// commit that landed.
fn may_have_landed(error: &FirestoreError) -> bool {
    let rejected = (400..500).contains(&error.http) && !error.retryable();
    !rejected
}

#[async_trait]
impl Executor for OpsNoteExecutor {
    fn target(&self) -> &str {
        &self.target
    }

    async fn plan(
        &self,
        proposal: &Proposal,
        _manifest: &Manifest,
        approval_ids: &[String],
    ) -> Result<Value, ExecError> {
        let approvals = (!approval_ids.is_empty()).then_some(approval_ids);
        let fields = self.fields(proposal, approvals, None, None)?;
        Ok(json!({
            "effect": "create one ops note document",
            "target": self.target,
            "commit": {
                "document": self.client.document_name(&self.relative_path(proposal)),
                "precondition": { "exists": false },
                "fields": fields,
            },
            "replay": "a second execution finds the document and writes nothing",
            "rollback": "delete this document only while its update time is the one brain wrote",
        }))
    }

    async fn execute(&self, request: &ExecutionRequest<'_>) -> Result<Value, ExecError> {
        let proposal = request.proposal;
        let name = self.client.document_name(&self.relative_path(proposal));
        let written_at = crate::clock::format_time(crate::clock::now());
        let plain = self.fields(
            proposal,
            Some(&request.approval_ids),
            Some(&request.audit_event_hash),
            Some(&written_at),
        )?;
        let mut fields = encode_fields(&plain);
        // The creation time is a Firestore timestamp, not a string.
        fields[&self.notes.fields.created_at] = json!({ "timestampValue": written_at });
        let write = json!({
            "update": { "name": name, "fields": fields },
            "currentDocument": { "exists": false },
        });
        let first = match self.commit_once(&write, &name, proposal).await {
            Commit::Done(outcome) => return Ok(outcome),
            Commit::Failed(error) => return Err(error),
            Commit::Unknown(error) => error,
        };
        // The commit may have landed. The same commit again is safe (the id is fixed and the
        // precondition is `exists: false`), and its answer says which it was.
        match self.commit_once(&write, &name, proposal).await {
            Commit::Done(outcome) => Ok(outcome),
            Commit::Failed(error) => Err(error),
            Commit::Unknown(again) => Err(ExecError::indeterminate(format!(
                "{}, and again {}; whether the note was written cannot be told now",
                first.message, again.message
            ))),
        }
    }

    async fn reconcile(&self, request: &ExecutionRequest<'_>) -> Result<Option<Value>, ExecError> {
        let proposal = request.proposal;
        let Some(document) = self
            .client
            .get(&self.relative_path(proposal))
            .await
            .map_err(|error| cause(&error))?
        else {
            return Ok(None);
        };
        let written = self.owned_by(&document, proposal)?;
        Ok(Some(self.outcome(&document.name, proposal, written, true)))
    }

    async fn rollback(
        &self,
        proposal: &Proposal,
        _manifest: &Manifest,
    ) -> Result<Value, ExecError> {
        let outcome = proposal
            .outcome
            .as_ref()
            .ok_or_else(|| ExecError::new("the proposal recorded no outcome to roll back"))?;
        let (Some(name), Some(written)) = (
            outcome.get("document").and_then(Value::as_str),
            outcome.get("update_time").and_then(Value::as_str),
        ) else {
            return Err(ExecError::new(
                "the proposal's outcome names no document and update time",
            ));
        };
        let write = json!({
            "delete": name,
            "currentDocument": { "updateTime": written },
        });
        match self.client.commit(&[write]).await {
            Ok(_) => Ok(json!({ "deleted": name, "update_time": written })),
            Err(error) if matches!(error.status.as_str(), "FAILED_PRECONDITION" | "NOT_FOUND") => {
                // Gone already (an earlier attempt of this very delete may have landed before a
                // retry): the rollback's end state holds. Still there: edited since, kept.
                let relative = name
                    .strip_prefix(&format!("{}/", self.client.documents_path()))
                    .unwrap_or(name);
                match self.client.get(relative).await {
                    Ok(None) => {
                        Ok(json!({ "deleted": name, "update_time": written, "already_gone": true }))
                    }
                    Ok(Some(_)) => Err(ExecError::new(format!(
                        "the note `{name}` was edited since brain wrote it at {written}, so it was not deleted"
                    ))),
                    Err(read) => Err(cause(&read)),
                }
            }
            Err(error) => Err(cause(&error)),
        }
    }
}
