//! Executors: how an approved proposal acts on its target. One executor per external target
//! (the Firestore write pilot is one); brain's own target (`brain`: drafts, exemptions, kill
//! switches) is executed by the Engine itself, inside the transaction that records it.
//!
//! Architecture Invariant: an executor is called only after the Engine moved the proposal to
//! `executing` in a committed transaction, so it runs at most once per proposal; `reconcile`
//! answers whether an interrupted execution took effect, so a restart never repeats a write.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::capability::Manifest;
use crate::store::Proposal;

/// Why an executor could not do its work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExecError {
    pub message: String,
    /// The target could not say whether the effect happened (no answer, a timeout). The
    /// proposal then stays `executing` until `reconcile` can tell; it is never marked failed on
    /// a guess.
    pub indeterminate: bool,
}

impl ExecError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            indeterminate: false,
        }
    }

    pub fn indeterminate(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            indeterminate: true,
        }
    }
}

/// What an execution carries to the target: the proposal, its manifest, and the audit linkage
/// the target's record should hold.
#[derive(Debug, Clone)]
pub struct ExecutionRequest<'a> {
    pub proposal: &'a Proposal,
    pub manifest: &'a Manifest,
    pub approval_ids: Vec<String>,
    /// Hash of the audit event that allowed the execution.
    pub audit_event_hash: String,
}

/// An external target brain can act on.
#[async_trait]
pub trait Executor: Send + Sync {
    /// The target id capabilities name (`firestore`).
    fn target(&self) -> &str;

    /// The dry-run plan: exactly what `execute` would do, without doing it, with the approvals
    /// in force now (none yet when the proposal is made).
    async fn plan(
        &self,
        proposal: &Proposal,
        manifest: &Manifest,
        approval_ids: &[String],
    ) -> Result<Value, ExecError>;

    /// Do it. Returns what the target reports (ids, times), kept as the proposal's outcome.
    async fn execute(&self, request: &ExecutionRequest<'_>) -> Result<Value, ExecError>;

    /// After an interrupted execution: `Some(outcome)` when the effect exists, `None` when it
    /// certainly does not, and an error when the target cannot tell now.
    async fn reconcile(&self, request: &ExecutionRequest<'_>) -> Result<Option<Value>, ExecError>;

    /// Undo a succeeded execution, given its outcome.
    async fn rollback(&self, proposal: &Proposal, manifest: &Manifest) -> Result<Value, ExecError>;
}

/// The configured executors by target.
#[derive(Clone, Default)]
pub struct Executors {
    by_target: BTreeMap<String, Arc<dyn Executor>>,
}

impl Executors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, executor: Arc<dyn Executor>) -> Self {
        self.by_target
            .insert(executor.target().to_string(), executor);
        self
    }

    pub fn get(&self, target: &str) -> Option<&Arc<dyn Executor>> {
        self.by_target.get(target)
    }

    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.by_target.keys().map(String::as_str)
    }
}
