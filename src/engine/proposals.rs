//! Proposals through their lifecycle: propose, submit, approve, reject, cancel, execute (and its
//! dry run), roll back, expire, and recovery of executions a crash interrupted.
//!
//! Each step is one transaction holding the decision, the state change and the audit event;
//! refusals (unknown ids, wrong states, denials) are audited too. An execution on an external
//! target is split in two transactions around the target call: the first moves the proposal to
//! `executing` (so a second caller is refused), the second records the outcome. A crash in
//! between leaves `executing`, which [`Engine::recover_interrupted`] resolves by asking the
//! target, never by acting again.
//!
//! Architecture Invariant: no step acts on a proposal without reading it, deciding, and writing
//! its new state inside one write transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::facts::{Decided, Subject, valid_approvals};
use super::lifecycle::{self, ProposalState, Step};
use super::{Caller, Denial, Engine, EngineError, PolicyBundle, event, new_id};
use crate::audit::{AuditEvent, canonical_json, sha256_hex};
use crate::capability::{Manifest, Mode, Timestamp};
use crate::policy::decide::{Action, Decision};
use crate::store::{
    Approval, AuditFilter, DecisionFacts, ExemptionRecord, Proposal, ProposalFilter, WriteTx,
};

/// The brain's own target: drafts, exemptions and kill switches.
pub const BRAIN_TARGET: &str = "brain";

/// What `brain propose` asks for.
#[derive(Debug, Clone, Default)]
pub struct ProposeRequest {
    pub capability: String,
    pub input: Value,
    pub rationale: String,
    pub idempotency_key: Option<String>,
    /// Whose resources it concerns; defaults to the caller (an agent's delegating owner).
    pub owner: Option<String>,
    /// Keep it a draft until someone submits it.
    pub draft: bool,
    /// A swarm's finding: held back when a draft for its rule and subject is open or was
    /// rejected within the cooldown, else recorded with the proposal in its transaction.
    pub swarm: Option<super::swarms::SwarmProposal>,
}

/// A proposal with what staff need to judge it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ProposalView {
    #[serde(flatten)]
    pub proposal: Proposal,
    pub capability_title: String,
    pub risk_tier: String,
    pub capability_owner: Option<String>,
    pub required_approvals: u32,
    /// Approvals that count now (bound to the input, unexpired, distinct approvers).
    pub valid_approvals: usize,
    pub approvals: Vec<Approval>,
    /// Seconds until it expires, while it is open.
    pub seconds_left: Option<i64>,
    /// It was executing when brain stopped: `brain serve` (or `brain proposals recover`)
    /// resolves it by asking the target.
    pub interrupted: bool,
}

/// What `brain execute --dry-run` shows.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DryRun {
    pub proposal_id: String,
    pub state: ProposalState,
    /// Whether executing now would be allowed (decision and state both).
    pub would_execute: bool,
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_problem: Option<String>,
    /// Exactly what execution would do.
    pub plan: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_error: Option<String>,
}

/// How an interrupted execution was resolved.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Recovery {
    pub proposal_id: String,
    /// `succeeded`, `failed`, or `unresolved`.
    pub result: String,
    pub message: String,
}

fn input_hash(input: &Value) -> String {
    sha256_hex(canonical_json(input).as_bytes())
}

fn output_hash(outcome: &Value) -> String {
    sha256_hex(canonical_json(outcome).as_bytes())
}

fn denied_with_retry(action: Action, manifest: &Manifest, decided: &Decided) -> EngineError {
    match super::denied(action, Some(&manifest.id), &decided.decision) {
        EngineError::Denied(denial) => EngineError::Denied(Box::new(Denial {
            retry_after: decided.retry_after,
            ..*denial
        })),
        other => other,
    }
}

/// Check a proposal input against the manifest's input schema; every problem in one message.
fn validate_input(policy: &PolicyBundle, manifest: &Manifest, input: &Value) -> Result<(), String> {
    if !input.is_object() {
        return Err("the input must be a JSON object".into());
    }
    let Some(validator) = policy
        .input_validator(manifest)
        .map_err(|error| format!("the capability's input schema is invalid: {error}"))?
    else {
        return Ok(());
    };
    let problems: Vec<String> = validator
        .iter_errors(input)
        .map(|error| {
            let path = error.instance_path().to_string();
            if path.is_empty() {
                error.to_string()
            } else {
                format!("`{path}`: {error}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

impl Engine {
    fn view(
        &self,
        proposal: Proposal,
        approvals: Vec<Approval>,
        now: DateTime<Utc>,
    ) -> ProposalView {
        let manifest = self.policy.manifest(&proposal.capability);
        let valid = valid_approvals(&approvals, &proposal, now).len();
        let seconds_left = proposal
            .state
            .is_open()
            .then(|| crate::clock::parse_time(&proposal.expires_at))
            .flatten()
            .map(|expires| (expires - now).num_seconds().max(0));
        ProposalView {
            capability_title: manifest.map_or_else(String::new, |m| m.title.clone()),
            risk_tier: manifest
                .map_or("unknown", |m| m.tier().as_str())
                .to_string(),
            capability_owner: manifest.and_then(|m| m.owner.clone()),
            required_approvals: manifest.map_or(0, |m| m.approval.required),
            valid_approvals: valid,
            interrupted: proposal.state == ProposalState::Executing,
            seconds_left,
            approvals,
            proposal,
        }
    }

    /// One proposal with its approvals.
    pub async fn proposal(&self, caller: &Caller, id: &str) -> Result<ProposalView, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        let proposal = self
            .store
            .proposal(id)
            .await?
            .ok_or_else(|| EngineError::NotFound {
                what: "proposal",
                id: id.to_string(),
            })?;
        let approvals = self.store.approvals(id).await?;
        Ok(self.view(proposal, approvals, crate::clock::now()))
    }

    /// Proposals matching `filter`, newest first. Expired ones are marked expired first.
    pub async fn proposals(
        &self,
        caller: &Caller,
        filter: &ProposalFilter,
    ) -> Result<Vec<ProposalView>, EngineError> {
        self.authorize_area(caller, Action::View).await?;
        self.expire_due().await?;
        let now = crate::clock::now();
        let mut views = Vec::new();
        for proposal in self.store.proposals(filter).await? {
            let approvals = self.store.approvals(&proposal.id).await?;
            views.push(self.view(proposal, approvals, now));
        }
        Ok(views)
    }

    /// Audit a refusal about a proposal that does not exist, and say so.
    async fn refuse_missing(
        &self,
        tx: Box<dyn WriteTx>,
        caller: &Caller,
        action: Action,
        id: &str,
    ) -> EngineError {
        let refusal = event(&caller.id, action.as_str(), "deny")
            .reasons(&["NOT_FOUND"])
            .detail(serde_json::json!({ "proposal_id": id }));
        let error = EngineError::NotFound {
            what: "proposal",
            id: id.to_string(),
        };
        self.refuse(tx, refusal, error).await
    }

    /// Audit a step the proposal's state does not allow, and say so.
    async fn refuse_state(
        &self,
        tx: Box<dyn WriteTx>,
        caller: &Caller,
        action: Action,
        proposal: &Proposal,
        problem: lifecycle::IllegalTransition,
    ) -> EngineError {
        let message = problem.message(&proposal.id);
        let refusal = event(&caller.id, action.as_str(), "deny")
            .capability(&proposal.capability)
            .proposal(&proposal.id)
            .reasons(&["INVALID_STATE"])
            .detail(serde_json::json!({ "state": proposal.state, "message": message }));
        let error = EngineError::Conflict {
            message,
            help: Some(problem.help()),
        };
        self.refuse(tx, refusal, error).await
    }

    /// Decide `action` by `caller` on an existing proposal: about its owner's resources, with
    /// its proposer standing as the proposer.
    #[allow(clippy::too_many_arguments)]
    async fn decide_on(
        &self,
        tx: &mut dyn WriteTx,
        caller: &Caller,
        action: Action,
        proposal: &Proposal,
        manifest: &Manifest,
        facts: &DecisionFacts,
        now: DateTime<Utc>,
    ) -> Result<Decided, EngineError> {
        let subject = Subject {
            manifest,
            proposal: Some(proposal),
            owner: &proposal.owner,
            proposer: None,
            facts: Some(facts),
        };
        self.decide_in(tx, caller, action, &subject, now).await
    }

    /// Load a proposal and its manifest for a step, inside `tx`. Refusals are audited and
    /// committed, and returned as the error.
    async fn load_for_step(
        &self,
        mut tx: Box<dyn WriteTx>,
        caller: &Caller,
        action: Action,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<(Box<dyn WriteTx>, Proposal, Manifest, DecisionFacts), EngineError> {
        // The proposal and the decision's runtime facts: one round trip.
        let mut facts = tx
            .decision_facts(
                Some(id),
                super::switches::PREFIX,
                super::identity::actor_record_of(caller),
            )
            .await?;
        let Some(mut proposal) = facts.proposal.take() else {
            return Err(self.refuse_missing(tx, caller, action, id).await);
        };
        let Some(manifest) = self.policy.manifest(&proposal.capability).cloned() else {
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, action.as_str(), "deny")
                        .capability(&proposal.capability)
                        .proposal(id)
                        .reasons(&["UNKNOWN_CAPABILITY"]),
                    EngineError::refused(
                        action.as_str(),
                        Some(&proposal.capability),
                        "UNKNOWN_CAPABILITY",
                        format!(
                            "the policy set no longer declares capability `{}`",
                            proposal.capability
                        ),
                    ),
                )
                .await);
        };
        let expired = proposal.state.is_open()
            && crate::clock::parse_time(&proposal.expires_at).is_some_and(|expires| expires <= now);
        if expired && action != Action::Cancel && action != Action::Reject {
            self.expire_in(&mut *tx, &mut proposal, now).await?;
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, action.as_str(), "deny")
                        .capability(&proposal.capability)
                        .proposal(id)
                        .reasons(&["PROPOSAL_EXPIRED"]),
                    EngineError::refused(
                        action.as_str(),
                        Some(&proposal.capability),
                        "PROPOSAL_EXPIRED",
                        format!(
                            "proposal `{id}` expired at {} before it was executed",
                            proposal.expires_at
                        ),
                    ),
                )
                .await);
        }
        Ok((tx, proposal, manifest, facts))
    }

    async fn expire_in(
        &self,
        tx: &mut dyn WriteTx,
        proposal: &mut Proposal,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let Ok(state) = lifecycle::next(proposal.state, Step::Expire) else {
            return Ok(());
        };
        proposal.state = state;
        proposal.updated_at = crate::clock::format_time(now);
        tx.update_proposal(proposal).await?;
        self.append(
            tx,
            event("system:clock", "expire", "expired")
                .capability(&proposal.capability)
                .proposal(&proposal.id)
                .detail(serde_json::json!({ "expires_at": proposal.expires_at })),
        )
        .await?;
        Ok(())
    }

    /// Mark every open proposal past its expiry as expired (audited as `system:clock`).
    pub async fn expire_due(&self) -> Result<usize, EngineError> {
        let now = crate::clock::now();
        let now_text = crate::clock::format_time(now);
        let mut expired = 0;
        for state in [
            ProposalState::Draft,
            ProposalState::PendingApproval,
            ProposalState::Approved,
        ] {
            let due: Vec<Proposal> = self
                .store
                .proposals(&ProposalFilter {
                    state: Some(state),
                    ..ProposalFilter::default()
                })
                .await?
                .into_iter()
                .filter(|proposal| proposal.expires_at <= now_text)
                .collect();
            for proposal in due {
                let mut tx = self.store.begin().await?;
                let Some(mut current) = tx.proposal(&proposal.id).await? else {
                    continue;
                };
                if current.state.is_open() && current.expires_at <= now_text {
                    self.expire_in(&mut *tx, &mut current, now).await?;
                    tx.commit().await?;
                    expired += 1;
                }
            }
        }
        Ok(expired)
    }

    /// Propose an action on a capability. The input is checked against the manifest's input
    /// schema, the target's dry-run plan is recorded, and the proposal goes to the approval
    /// queue (or straight to approved when the capability needs no approval).
    pub async fn propose(
        &self,
        caller: &Caller,
        request: &ProposeRequest,
    ) -> Result<ProposalView, EngineError> {
        if request.rationale.trim().is_empty() {
            return Err(EngineError::invalid(
                "a proposal needs a rationale",
                "say why with `--rationale \"...\"`; approvers read it",
            ));
        }
        if let Some(key) = &request.idempotency_key
            && (key.trim().is_empty() || key.len() > 200)
        {
            return Err(EngineError::invalid(
                "the idempotency key must be 1 to 200 characters",
                "use a stable id of the request, such as `ops-note-2026-11-25`",
            ));
        }
        if let Some(owner) = &request.owner {
            super::identity::parse_actor_id(owner)?;
        }
        let now = crate::clock::now();
        let Some(manifest) = self.policy.manifest(&request.capability).cloned() else {
            let mut tx = self.store.begin().await?;
            self.append(
                &mut *tx,
                event(&caller.id, "propose", "deny")
                    .capability(&request.capability)
                    .reasons(&["UNKNOWN_CAPABILITY"]),
            )
            .await?;
            tx.commit().await?;
            let suggestion = crate::diagnostic::did_you_mean(
                &request.capability,
                self.policy.manifests.keys().map(String::as_str),
            )
            .map_or_else(String::new, |found| format!(" (did you mean `{found}`?)"));
            return Err(EngineError::refused(
                "propose",
                Some(&request.capability),
                "UNKNOWN_CAPABILITY",
                format!(
                    "no capability `{}` is declared{suggestion}",
                    request.capability
                ),
            ));
        };
        let hash = input_hash(&request.input);
        if let Err(problem) = validate_input(&self.policy, &manifest, &request.input) {
            let tx = self.store.begin().await?;
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, "propose", "deny")
                        .capability(&manifest.id)
                        .input_hash(&hash)
                        .reasons(&["INPUT_INVALID"])
                        .detail(serde_json::json!({ "problem": problem })),
                    EngineError::refused(
                        "propose",
                        Some(&manifest.id),
                        "INPUT_INVALID",
                        format!("the input does not fit `{}`: {problem}", manifest.id),
                    ),
                )
                .await);
        }
        let id = new_id("p")?;
        let mut proposal = Proposal {
            id: id.clone(),
            capability: manifest.id.clone(),
            state: ProposalState::Draft,
            input: request.input.clone(),
            input_hash: hash.clone(),
            rationale: request.rationale.trim().to_string(),
            plan: None,
            proposer: caller.id.clone(),
            owner: request.owner.clone().unwrap_or_else(|| caller.id.clone()),
            delegation_id: None,
            idempotency_key: request.idempotency_key.clone(),
            policy_set_hash: self.policy.hash().to_string(),
            created_at: crate::clock::format_time(now),
            updated_at: crate::clock::format_time(now),
            expires_at: crate::clock::format_time(now + self.settings.proposal_expires_after),
            closed_by: None,
            closed_reason: None,
            execution_started_at: None,
            execution_finished_at: None,
            executed_by: None,
            outcome: None,
            failure: None,
        };
        // The plan comes from the target, outside the transaction: no lock is held over I/O.
        let (plan, plan_error) = self.plan(&proposal, &manifest, &[]).await;
        proposal.plan = plan.or_else(|| {
            plan_error
                .as_ref()
                .map(|error| serde_json::json!({ "unavailable": error }))
        });

        let mut tx = self.store.begin().await?;
        if request.owner.is_none() && caller.actor_type == crate::capability::ActorType::Agent {
            let delegations = tx.delegations(Some(&caller.id)).await?;
            if let Some((delegation, _)) =
                super::identity::resolve_delegation(&delegations, Some(&manifest.id), None, now)
            {
                proposal.owner = delegation.owner;
            }
        }
        if let Some(key) = &request.idempotency_key
            && let Some(existing) = tx.proposal_by_key(&manifest.id, key).await?
        {
            if existing.input_hash == hash && existing.proposer == caller.id {
                let approvals = tx.approvals(&existing.id).await?;
                return Ok(self.view(existing, approvals, now));
            }
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, "propose", "deny")
                        .capability(&manifest.id)
                        .input_hash(&hash)
                        .reasons(&["IDEMPOTENCY_CONFLICT"])
                        .detail(serde_json::json!({ "idempotency_key": key, "existing": existing.id })),
                    EngineError::refused(
                "propose",
                Some(&manifest.id),
                "IDEMPOTENCY_CONFLICT",
                format!(
                    "idempotency key `{key}` was already used for `{}` by proposal `{}` with a different input or proposer",
                    manifest.id, existing.id
                ),
            ),
                )
                .await);
        }
        // A swarm's finding is held back while a draft for its rule and subject is open, or
        // within the rule's cooldown after one was rejected: decided here, inside the write
        // transaction, so two runs (in any process) never draft the same thing twice.
        if let Some(swarm) = &request.swarm {
            let latest = tx
                .swarm_drafts(&crate::store::SwarmDraftFilter {
                    swarm: Some(swarm.swarm.clone()),
                    rule: Some(swarm.rule.clone()),
                    subject: Some(swarm.subject.clone()),
                    limit: 1,
                    ..Default::default()
                })
                .await?;
            if let Some((by, message)) =
                super::swarms::throttled(latest.first(), swarm.cooldown, now)
            {
                return Err(EngineError::Suppressed { by, message });
            }
        }
        let decided = self
            .decide_in(
                &mut *tx,
                caller,
                Action::Propose,
                &Subject {
                    manifest: &manifest,
                    proposal: None,
                    owner: &proposal.owner.clone(),
                    proposer: None,
                    facts: None,
                },
                now,
            )
            .await?;
        let detail = serde_json::json!({
            "trace": decided.trace.to_json(),
            "rationale": proposal.rationale,
            "owner": proposal.owner,
            "idempotency_key": proposal.idempotency_key,
            "draft": request.draft,
            "retry_after": decided.retry_after,
            "swarm": request.swarm.as_ref().map(|swarm| serde_json::json!({
                "swarm": swarm.swarm,
                "rule": swarm.rule,
                "rule_version": swarm.rule_version,
                "subject": swarm.subject,
                "run": swarm.run_id,
            })),
        });
        if !decided.decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, "propose", "deny")
                        .capability(&manifest.id)
                        .input_hash(&hash)
                        .decision(&decided.decision)
                        .detail(detail),
                    denied_with_retry(Action::Propose, &manifest, &decided),
                )
                .await);
        }
        proposal.delegation_id = decided.delegation_id.clone();
        if !request.draft {
            proposal.state = lifecycle::next(
                ProposalState::Draft,
                Step::Submit {
                    approvals_needed: manifest.approval.required > 0,
                },
            )
            .map_err(|problem| EngineError::Conflict {
                message: problem.message(&id),
                help: None,
            })?;
        }
        tx.insert_proposal(&proposal).await?;
        if let Some(swarm) = &request.swarm {
            tx.insert_swarm_finding(&crate::store::SwarmFindingRecord {
                id: new_id("f")?,
                swarm: swarm.swarm.clone(),
                rule: swarm.rule.clone(),
                rule_version: i64::from(swarm.rule_version),
                subject: swarm.subject.clone(),
                severity: swarm.severity.clone(),
                confidence: swarm.confidence,
                run_id: swarm.run_id.clone(),
                proposal_id: id.clone(),
                created_at: crate::clock::format_time(now),
            })
            .await?;
        }
        self.append(
            &mut *tx,
            event(&caller.id, "propose", "allow")
                .capability(&manifest.id)
                .proposal(&id)
                .input_hash(&hash)
                .decision(&decided.decision)
                .detail(detail),
        )
        .await?;
        // The compliance intake gate: a high-risk input or rationale is recorded and routed to
        // mandatory human review (`intake.review-required` forbids approving or executing it
        // until a staff member grants an override), audited with a hash and a summary.
        let intake_text = format!(
            "{}\n{}",
            proposal.rationale,
            crate::intake::text_of(&proposal.input)
        );
        let classification = self.policy.intake.classify(&intake_text);
        if classification.needs_review() {
            let record = crate::intake::IntakeRecord::new(
                &id,
                classification,
                &intake_text,
                &caller.id,
                &crate::clock::format_time(now),
            );
            self.record_intake(&mut *tx, &caller.id, &record).await?;
        }
        tx.commit().await?;
        Ok(self.view(proposal, Vec::new(), now))
    }

    /// Send a draft to the approval queue. Decided as a `propose` by the caller, so whoever may
    /// propose the capability may submit a draft of it (staff submitting a swarm's draft).
    pub async fn submit(&self, caller: &Caller, id: &str) -> Result<ProposalView, EngineError> {
        let now = crate::clock::now();
        let tx = self.store.begin().await?;
        let (mut tx, mut proposal, manifest, facts) = self
            .load_for_step(tx, caller, Action::Propose, id, now)
            .await?;
        let step = Step::Submit {
            approvals_needed: manifest.approval.required > 0,
        };
        let next = match lifecycle::next(proposal.state, step) {
            Ok(next) => next,
            Err(problem) => {
                return Err(self
                    .refuse_state(tx, caller, Action::Propose, &proposal, problem)
                    .await);
            }
        };
        let decided = self
            .decide_in(
                &mut *tx,
                caller,
                Action::Propose,
                &Subject {
                    manifest: &manifest,
                    proposal: Some(&proposal),
                    owner: &proposal.owner.clone(),
                    proposer: Some(&caller.id),
                    facts: Some(&facts),
                },
                now,
            )
            .await?;
        let detail = serde_json::json!({ "operation": "submit", "trace": decided.trace.to_json() });
        if !decided.decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, "propose", "deny")
                        .capability(&manifest.id)
                        .proposal(id)
                        .decision(&decided.decision)
                        .detail(detail),
                    denied_with_retry(Action::Propose, &manifest, &decided),
                )
                .await);
        }
        proposal.state = next;
        proposal.updated_at = crate::clock::format_time(now);
        tx.update_proposal(&proposal).await?;
        self.append(
            &mut *tx,
            event(&caller.id, "propose", "allow")
                .capability(&manifest.id)
                .proposal(id)
                .input_hash(&proposal.input_hash)
                .decision(&decided.decision)
                .detail(detail),
        )
        .await?;
        let approvals = decided.approvals.clone();
        tx.commit().await?;
        Ok(self.view(proposal, approvals, now))
    }

    /// Approve a proposal. The approval is bound to the proposal's input hash and expires after
    /// the manifest's validity window; the proposer never approves their own proposal.
    pub async fn approve(
        &self,
        caller: &Caller,
        id: &str,
        comment: Option<&str>,
    ) -> Result<ProposalView, EngineError> {
        let now = crate::clock::now();
        let tx = self.store.begin().await?;
        let (mut tx, mut proposal, manifest, facts) = self
            .load_for_step(tx, caller, Action::Approve, id, now)
            .await?;
        if let Err(problem) = lifecycle::next(proposal.state, Step::Approve { enough: false }) {
            return Err(self
                .refuse_state(tx, caller, Action::Approve, &proposal, problem)
                .await);
        }
        let decided = self
            .decide_on(
                &mut *tx,
                caller,
                Action::Approve,
                &proposal,
                &manifest,
                &facts,
                now,
            )
            .await?;
        let mut detail = serde_json::json!({
            "trace": decided.trace.to_json(),
            "comment": comment,
            "proposer": proposal.proposer,
        });
        if !decided.decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, "approve", "deny")
                        .capability(&manifest.id)
                        .proposal(id)
                        .input_hash(&proposal.input_hash)
                        .decision(&decided.decision)
                        .detail(detail),
                    denied_with_retry(Action::Approve, &manifest, &decided),
                )
                .await);
        }
        if decided
            .valid_approvals
            .iter()
            .any(|approval| approval.approver == caller.id)
        {
            return Err(EngineError::Conflict {
                message: format!("you already approved proposal `{id}`"),
                help: Some(format!(
                    "it needs {} distinct approvers; ask someone else",
                    manifest.approval.required
                )),
            });
        }
        let validity = chrono::Duration::seconds(
            i64::try_from(manifest.approval.valid_for.as_secs()).unwrap_or(i64::MAX / 4),
        );
        let approval = Approval {
            id: new_id("a")?,
            proposal_id: id.to_string(),
            approver: caller.id.clone(),
            input_hash: proposal.input_hash.clone(),
            comment: comment
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_string),
            created_at: crate::clock::format_time(now),
            expires_at: crate::clock::format_time(now + validity),
        };
        tx.insert_approval(&approval).await?;
        let count = decided.valid_approvals.len() + 1;
        let enough = count >= manifest.approval.required as usize;
        proposal.state =
            lifecycle::next(proposal.state, Step::Approve { enough }).map_err(|problem| {
                EngineError::Conflict {
                    message: problem.message(id),
                    help: None,
                }
            })?;
        proposal.updated_at = crate::clock::format_time(now);
        tx.update_proposal(&proposal).await?;
        detail["approval_id"] = Value::from(approval.id.clone());
        detail["approvals"] = Value::from(count);
        detail["required"] = Value::from(manifest.approval.required);
        self.append(
            &mut *tx,
            event(&caller.id, "approve", "allow")
                .capability(&manifest.id)
                .proposal(id)
                .input_hash(&proposal.input_hash)
                .decision(&decided.decision)
                .detail(detail),
        )
        .await?;
        let mut approvals = decided.approvals.clone();
        approvals.push(approval);
        tx.commit().await?;
        Ok(self.view(proposal, approvals, now))
    }

    /// Reject (staff) or cancel (the proposer, or staff) an open proposal.
    pub async fn close(
        &self,
        caller: &Caller,
        id: &str,
        action: Action,
        reason: Option<&str>,
    ) -> Result<ProposalView, EngineError> {
        let step = match action {
            Action::Reject => Step::Reject,
            Action::Cancel => Step::Cancel,
            _ => {
                return Err(EngineError::invalid(
                    "only reject and cancel close a proposal",
                    "use `brain reject` or `brain cancel`",
                ));
            }
        };
        if action == Action::Reject && reason.is_none_or(|reason| reason.trim().is_empty()) {
            return Err(EngineError::invalid(
                "a rejection needs a reason",
                "pass `--reason \"...\"`; the proposer reads it",
            ));
        }
        let now = crate::clock::now();
        let tx = self.store.begin().await?;
        let (mut tx, mut proposal, manifest, facts) =
            self.load_for_step(tx, caller, action, id, now).await?;
        let next = match lifecycle::next(proposal.state, step) {
            Ok(next) => next,
            Err(problem) => {
                return Err(self
                    .refuse_state(tx, caller, action, &proposal, problem)
                    .await);
            }
        };
        let decided = self
            .decide_on(&mut *tx, caller, action, &proposal, &manifest, &facts, now)
            .await?;
        let detail = serde_json::json!({ "trace": decided.trace.to_json(), "reason": reason });
        if !decided.decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, action.as_str(), "deny")
                        .capability(&manifest.id)
                        .proposal(id)
                        .decision(&decided.decision)
                        .detail(detail),
                    denied_with_retry(action, &manifest, &decided),
                )
                .await);
        }
        proposal.state = next;
        proposal.updated_at = crate::clock::format_time(now);
        proposal.closed_by = Some(caller.id.clone());
        proposal.closed_reason = reason.map(|reason| reason.trim().to_string());
        tx.update_proposal(&proposal).await?;
        self.append(
            &mut *tx,
            event(&caller.id, action.as_str(), "allow")
                .capability(&manifest.id)
                .proposal(id)
                .decision(&decided.decision)
                .detail(detail),
        )
        .await?;
        let approvals = decided.approvals.clone();
        tx.commit().await?;
        Ok(self.view(proposal, approvals, now))
    }

    /// The plan of a proposal: brain's own for its own target, else the target executor's.
    async fn plan(
        &self,
        proposal: &Proposal,
        manifest: &Manifest,
        approval_ids: &[String],
    ) -> (Option<Value>, Option<String>) {
        if manifest.target == BRAIN_TARGET {
            return (Some(internal_plan(proposal, manifest)), None);
        }
        if manifest.mode == Mode::Read {
            return (
                Some(serde_json::json!({ "effect": "none: a read changes nothing" })),
                None,
            );
        }
        match self.executors.get(&manifest.target) {
            None => (
                None,
                Some(format!(
                    "target `{}` is not configured, so there is no plan",
                    manifest.target
                )),
            ),
            Some(executor) => match executor.plan(proposal, manifest, approval_ids).await {
                Ok(plan) => (Some(plan), None),
                Err(error) => (None, Some(error.message)),
            },
        }
    }

    /// What executing would do now, and whether it would be allowed; audited as a `plan`
    /// event (it counts toward no quota).
    pub async fn dry_run(&self, caller: &Caller, id: &str) -> Result<DryRun, EngineError> {
        let now = crate::clock::now();
        let tx = self.store.begin().await?;
        let (mut tx, proposal, manifest, facts) = self
            .load_for_step(tx, caller, Action::Execute, id, now)
            .await?;
        let decided = self
            .decide_on(
                &mut *tx,
                caller,
                Action::Execute,
                &proposal,
                &manifest,
                &facts,
                now,
            )
            .await?;
        let state_problem = lifecycle::next(proposal.state, Step::StartExecution)
            .err()
            .filter(|_| {
                !(proposal.state == ProposalState::PendingApproval
                    && decided.facts.exemption_in_force)
            })
            .map(|problem| problem.message(id));
        self.append(
            &mut *tx,
            event(
                &caller.id,
                "plan",
                if decided.decision.allowed {
                    "allow"
                } else {
                    "deny"
                },
            )
            .capability(&manifest.id)
            .proposal(id)
            .input_hash(&proposal.input_hash)
            .decision(&decided.decision)
            .detail(serde_json::json!({ "trace": decided.trace.to_json(), "dry_run": true })),
        )
        .await?;
        tx.commit().await?;
        let approval_ids = approval_ids_of(&decided.valid_approvals);
        let (plan, plan_error) = self.plan(&proposal, &manifest, &approval_ids).await;
        Ok(DryRun {
            proposal_id: id.to_string(),
            state: proposal.state,
            would_execute: decided.decision.allowed && state_problem.is_none(),
            decision: decided.decision,
            retry_after: decided.retry_after,
            state_problem,
            plan,
            plan_error,
        })
    }

    /// Execute an approved proposal. Everything is re-checked now, in the transaction that
    /// moves the proposal to `executing`: kill switches, approvals and their validity,
    /// exemptions, delegation, quotas, StudioState freshness.
    pub async fn execute(&self, caller: &Caller, id: &str) -> Result<ProposalView, EngineError> {
        let now = crate::clock::now();
        let tx = self.store.begin().await?;
        let (mut tx, mut proposal, manifest, facts) = self
            .load_for_step(tx, caller, Action::Execute, id, now)
            .await?;
        let decided = self
            .decide_on(
                &mut *tx,
                caller,
                Action::Execute,
                &proposal,
                &manifest,
                &facts,
                now,
            )
            .await?;
        // An exemption in force stands in for the approvals, so a pending proposal may run.
        let exempted =
            proposal.state == ProposalState::PendingApproval && decided.facts.exemption_in_force;
        let from = if exempted {
            ProposalState::Approved
        } else {
            proposal.state
        };
        // A proposal still waiting for approvals is refused by the policies (APPROVAL_REQUIRED
        // names what is missing); any other state that cannot start is refused by the lifecycle.
        let waiting_for_approvals =
            proposal.state == ProposalState::PendingApproval && !decided.decision.allowed;
        if let Err(problem) = lifecycle::next(from, Step::StartExecution)
            && !waiting_for_approvals
        {
            let problem = lifecycle::IllegalTransition {
                from: proposal.state,
                ..problem
            };
            return Err(self
                .refuse_state(tx, caller, Action::Execute, &proposal, problem)
                .await);
        }
        let approval_ids: Vec<String> = decided
            .valid_approvals
            .iter()
            .map(|approval| approval.id.clone())
            .collect();
        let mut detail = serde_json::json!({
            "trace": decided.trace.to_json(),
            "proposer": proposal.proposer,
            "approvals": approval_ids,
            "exemption_in_force": decided.facts.exemption_in_force,
            "retry_after": decided.retry_after,
        });
        if !decided.decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, "execute", "deny")
                        .capability(&manifest.id)
                        .proposal(id)
                        .input_hash(&proposal.input_hash)
                        .decision(&decided.decision)
                        .detail(detail),
                    denied_with_retry(Action::Execute, &manifest, &decided),
                )
                .await);
        }
        let executor = if manifest.target == BRAIN_TARGET {
            None
        } else {
            match self.executors.get(&manifest.target) {
                Some(executor) => Some(executor.clone()),
                None => {
                    detail["problem"] =
                        Value::from(format!("target `{}` is not configured", manifest.target));
                    return Err(self
                        .refuse(
                            tx,
                            event(&caller.id, "execute", "error")
                                .capability(&manifest.id)
                                .proposal(id)
                                .input_hash(&proposal.input_hash)
                                .reasons(&["TARGET_NOT_CONFIGURED"])
                                .detail(detail),
                            EngineError::refused(
                        "execute",
                        Some(&manifest.id),
                        "TARGET_NOT_CONFIGURED",
                        format!(
                            "target `{}` is not configured, so `{}` cannot execute; nothing was done",
                            manifest.target, manifest.id
                        ),
                    ),
                        )
                        .await);
                }
            }
        };
        let allowed = self
            .append(
                &mut *tx,
                event(&caller.id, "execute", "allow")
                    .capability(&manifest.id)
                    .proposal(id)
                    .input_hash(&proposal.input_hash)
                    .decision(&decided.decision)
                    .detail(detail),
            )
            .await?;
        proposal.state = ProposalState::Executing;
        proposal.execution_started_at = Some(crate::clock::format_time(now));
        proposal.executed_by = Some(caller.id.clone());
        proposal.updated_at = crate::clock::format_time(now);

        let Some(executor) = executor else {
            // brain's own target: the effect is written in this same transaction.
            let result = self
                .internal_effect(
                    &mut *tx,
                    caller,
                    &proposal,
                    &manifest,
                    &decided.valid_approvals,
                    now,
                )
                .await?;
            self.finish_in(&mut *tx, caller, &mut proposal, result, false)
                .await?;
            let approvals = decided.approvals.clone();
            tx.commit().await?;
            return self.outcome(proposal, approvals);
        };
        tx.update_proposal(&proposal).await?;
        tx.commit().await?;

        let request = super::ExecutionRequest {
            proposal: &proposal,
            manifest: &manifest,
            approval_ids: approval_ids_of(&decided.valid_approvals),
            audit_event_hash: allowed.hash.clone(),
        };
        let result = executor.execute(&request).await;
        if let Err(error) = &result
            && error.indeterminate
        {
            return Err(self.indeterminate(caller, &proposal, &error.message).await);
        }
        let result = result.map_err(|error| error.message);
        if std::env::var_os("BRAIN_FAULT_CRASH_AFTER_EXECUTE").is_some() {
            // A failpoint for recovery drills: die between the target's effect and the local
            // record of it, as a power cut would.
            std::process::exit(137);
        }
        let mut tx = self.store.begin().await?;
        let Some(mut current) = tx.proposal(id).await? else {
            return Err(EngineError::NotFound {
                what: "proposal",
                id: id.to_string(),
            });
        };
        if current.state != ProposalState::Executing {
            return Err(EngineError::Conflict {
                message: format!(
                    "proposal `{id}` changed to {} while it executed",
                    current.state
                ),
                help: Some("`brain proposals show ID` shows what happened".into()),
            });
        }
        self.finish_in(&mut *tx, caller, &mut current, result, false)
            .await?;
        let approvals = tx.approvals(id).await?;
        tx.commit().await?;
        self.outcome(current, approvals)
    }

    /// The target could not tell whether the execution took effect: audit that, leave the
    /// proposal `executing` for recovery to resolve by asking the target, and say so.
    async fn indeterminate(
        &self,
        caller: &Caller,
        proposal: &Proposal,
        cause: &str,
    ) -> EngineError {
        let tx = match self.store.begin().await {
            Ok(tx) => tx,
            Err(error) => return error.into(),
        };
        let error = EngineError::Conflict {
            message: format!(
                "proposal `{}` may or may not have taken effect: {cause}; it stays executing",
                proposal.id
            ),
            help: Some(
                "once the target answers again, `brain proposals recover` (or restarting `brain serve`) asks it and records the result; do not execute it again"
                    .into(),
            ),
        };
        self.refuse(
            tx,
            event(&caller.id, "execution", "indeterminate")
                .capability(&proposal.capability)
                .proposal(&proposal.id)
                .input_hash(&proposal.input_hash)
                .detail(serde_json::json!({ "cause": cause })),
            error,
        )
        .await
    }

    fn outcome(
        &self,
        proposal: Proposal,
        approvals: Vec<Approval>,
    ) -> Result<ProposalView, EngineError> {
        let failure = proposal.failure.clone();
        let view = self.view(proposal, approvals, crate::clock::now());
        match failure {
            Some(failure) if view.proposal.state == ProposalState::Failed => {
                Err(EngineError::Conflict {
                    message: format!(
                        "proposal `{}` failed while executing: {failure}",
                        view.proposal.id
                    ),
                    help: Some(
                        "the cause is recorded on the proposal and in the audit log; propose again once it is fixed"
                            .into(),
                    ),
                })
            }
            _ => Ok(view),
        }
    }

    /// Record the end of an execution: succeeded with its outcome, or failed with its cause.
    async fn finish_in(
        &self,
        tx: &mut dyn WriteTx,
        actor: &Caller,
        proposal: &mut Proposal,
        result: Result<Value, String>,
        reconciled: bool,
    ) -> Result<(), EngineError> {
        let now = crate::clock::format_time(crate::clock::now());
        let (step, word) = match &result {
            Ok(_) => (Step::Succeed, "succeeded"),
            Err(_) => (Step::Fail, "failed"),
        };
        proposal.state =
            lifecycle::next(proposal.state, step).map_err(|problem| EngineError::Conflict {
                message: problem.message(&proposal.id),
                help: None,
            })?;
        proposal.execution_finished_at = Some(now.clone());
        proposal.updated_at = now;
        let (hash, detail) = match result {
            Ok(outcome) => {
                let hash = output_hash(&outcome);
                proposal.outcome = Some(outcome.clone());
                (
                    Some(hash),
                    serde_json::json!({ "outcome": outcome, "reconciled": reconciled }),
                )
            }
            Err(cause) => {
                proposal.failure = Some(cause.clone());
                (
                    None,
                    serde_json::json!({ "failure": cause, "reconciled": reconciled }),
                )
            }
        };
        tx.update_proposal(proposal).await?;
        self.append(
            tx,
            event(&actor.id, "execution", word)
                .capability(&proposal.capability)
                .proposal(&proposal.id)
                .input_hash(&proposal.input_hash)
                .output_hash(hash)
                .detail(detail),
        )
        .await?;
        Ok(())
    }

    /// Roll back a succeeded execution; policy-gated and audited like every step.
    pub async fn rollback(&self, caller: &Caller, id: &str) -> Result<ProposalView, EngineError> {
        let now = crate::clock::now();
        let tx = self.store.begin().await?;
        let (mut tx, mut proposal, manifest, facts) = self
            .load_for_step(tx, caller, Action::Rollback, id, now)
            .await?;
        if let Err(problem) = lifecycle::next(proposal.state, Step::Rollback) {
            return Err(self
                .refuse_state(tx, caller, Action::Rollback, &proposal, problem)
                .await);
        }
        let decided = self
            .decide_on(
                &mut *tx,
                caller,
                Action::Rollback,
                &proposal,
                &manifest,
                &facts,
                now,
            )
            .await?;
        let detail = serde_json::json!({ "trace": decided.trace.to_json() });
        if !decided.decision.allowed {
            return Err(self
                .refuse(
                    tx,
                    event(&caller.id, "rollback", "deny")
                        .capability(&manifest.id)
                        .proposal(id)
                        .decision(&decided.decision)
                        .detail(detail),
                    denied_with_retry(Action::Rollback, &manifest, &decided),
                )
                .await);
        }
        self.append(
            &mut *tx,
            event(&caller.id, "rollback", "allow")
                .capability(&manifest.id)
                .proposal(id)
                .decision(&decided.decision)
                .detail(detail),
        )
        .await?;
        if manifest.target == BRAIN_TARGET {
            let undone = self.internal_undo(&mut *tx, caller, &proposal, now).await;
            let undone = match undone {
                Ok(undone) => undone,
                Err(error) => {
                    drop(tx);
                    return Err(self.rollback_failed(caller, &proposal, error).await);
                }
            };
            self.rolled_back_in(&mut *tx, caller, &mut proposal, undone, now)
                .await?;
            let approvals = tx.approvals(id).await?;
            tx.commit().await?;
            return Ok(self.view(proposal, approvals, now));
        }
        let Some(executor) = self.executors.get(&manifest.target).cloned() else {
            drop(tx);
            return Err(self
                .rollback_failed(
                    caller,
                    &proposal,
                    EngineError::invalid(
                        format!("target `{}` is not configured", manifest.target),
                        "configure the target's connector in brain.yaml, then roll back",
                    ),
                )
                .await);
        };
        tx.commit().await?;
        match executor.rollback(&proposal, &manifest).await {
            Ok(undone) => {
                let mut tx = self.store.begin().await?;
                let Some(mut current) = tx.proposal(id).await? else {
                    return Err(EngineError::NotFound {
                        what: "proposal",
                        id: id.to_string(),
                    });
                };
                self.rolled_back_in(&mut *tx, caller, &mut current, undone, now)
                    .await?;
                let approvals = tx.approvals(id).await?;
                tx.commit().await?;
                Ok(self.view(current, approvals, now))
            }
            Err(error) => Err(self
                .rollback_failed(
                    caller,
                    &proposal,
                    EngineError::Conflict {
                        message: format!("the rollback of `{id}` failed: {}", error.message),
                        help: Some(
                            "nothing was changed on brain's side; the proposal stays succeeded"
                                .into(),
                        ),
                    },
                )
                .await),
        }
    }

    async fn rolled_back_in(
        &self,
        tx: &mut dyn WriteTx,
        caller: &Caller,
        proposal: &mut Proposal,
        undone: Value,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        proposal.state = lifecycle::next(proposal.state, Step::Rollback).map_err(|problem| {
            EngineError::Conflict {
                message: problem.message(&proposal.id),
                help: None,
            }
        })?;
        proposal.updated_at = crate::clock::format_time(now);
        tx.update_proposal(proposal).await?;
        self.append(
            tx,
            event(&caller.id, "rollback_result", "succeeded")
                .capability(&proposal.capability)
                .proposal(&proposal.id)
                .output_hash(Some(output_hash(&undone)))
                .detail(serde_json::json!({ "undone": undone })),
        )
        .await?;
        Ok(())
    }

    /// Audit a failed rollback (in its own transaction) and return the error to report.
    async fn rollback_failed(
        &self,
        caller: &Caller,
        proposal: &Proposal,
        error: EngineError,
    ) -> EngineError {
        let result = async {
            let mut tx = self.store.begin().await?;
            self.append(
                &mut *tx,
                event(&caller.id, "rollback_result", "failed")
                    .capability(&proposal.capability)
                    .proposal(&proposal.id)
                    .detail(serde_json::json!({ "failure": error.to_string() })),
            )
            .await?;
            tx.commit().await?;
            Ok::<(), EngineError>(())
        }
        .await;
        match result {
            Ok(()) => error,
            Err(store) => store,
        }
    }

    /// Resolve proposals a crash left `executing`: ask each target whether the effect exists,
    /// and record succeeded or failed accordingly. Never executes anything again.
    pub async fn recover_interrupted(&self) -> Result<Vec<Recovery>, EngineError> {
        let system = Caller::system("recovery");
        let interrupted = self
            .store
            .proposals(&ProposalFilter {
                state: Some(ProposalState::Executing),
                ..ProposalFilter::default()
            })
            .await?;
        let mut recoveries = Vec::new();
        for proposal in interrupted {
            let unresolved = |message: String| Recovery {
                proposal_id: proposal.id.clone(),
                result: "unresolved".into(),
                message,
            };
            let Some(manifest) = self.policy.manifest(&proposal.capability).cloned() else {
                recoveries.push(unresolved(format!(
                    "capability `{}` is no longer declared",
                    proposal.capability
                )));
                continue;
            };
            let Some(executor) = self.executors.get(&manifest.target).cloned() else {
                recoveries.push(unresolved(format!(
                    "target `{}` is not configured, so brain cannot ask it",
                    manifest.target
                )));
                continue;
            };
            let events = self
                .store
                .audit_filtered(&AuditFilter {
                    proposal_id: Some(proposal.id.clone()),
                    decision: Some("allow".into()),
                    limit: 1000,
                    ..AuditFilter::default()
                })
                .await?;
            let allowed: Option<&AuditEvent> =
                events.iter().find(|event| event.action == "execute");
            let approvals = self.store.approvals(&proposal.id).await?;
            let approval_ids = allowed
                .and_then(|event| event.detail.get("approvals"))
                .and_then(|ids| serde_json::from_value::<Vec<String>>(ids.clone()).ok())
                .unwrap_or_else(|| approval_ids_of(&approvals));
            let request = super::ExecutionRequest {
                proposal: &proposal,
                manifest: &manifest,
                approval_ids,
                audit_event_hash: allowed.map(|event| event.hash.clone()).unwrap_or_default(),
            };
            let answer = executor.reconcile(&request).await;
            let result = match answer {
                Err(error) => {
                    recoveries.push(unresolved(format!(
                        "the target cannot tell now: {}",
                        error.message
                    )));
                    continue;
                }
                Ok(Some(outcome)) => Ok(outcome),
                Ok(None) if recently_started(&proposal) => {
                    recoveries.push(unresolved(format!(
                        "the target holds no effect yet, but the execution started less than {} ago and may still be running; recover again later",
                        crate::clock::human_duration(EXECUTION_GRACE.num_seconds())
                    )));
                    continue;
                }
                Ok(None) => Err(
                    "the execution was interrupted before the target recorded it; nothing was written"
                        .to_string(),
                ),
            };
            let mut tx = self.store.begin().await?;
            let Some(mut current) = tx.proposal(&proposal.id).await? else {
                continue;
            };
            if current.state != ProposalState::Executing {
                continue;
            }
            let word = if result.is_ok() {
                "succeeded"
            } else {
                "failed"
            };
            let message = match &result {
                Ok(_) => "the target holds the effect; recorded as succeeded".to_string(),
                Err(cause) => cause.clone(),
            };
            self.finish_in(&mut *tx, &system, &mut current, result, true)
                .await?;
            tx.commit().await?;
            recoveries.push(Recovery {
                proposal_id: proposal.id.clone(),
                result: word.into(),
                message,
            });
        }
        Ok(recoveries)
    }

    /// brain's own effects, written inside the execution's transaction.
    async fn internal_effect(
        &self,
        tx: &mut dyn WriteTx,
        caller: &Caller,
        proposal: &Proposal,
        manifest: &Manifest,
        approvals: &[Approval],
        now: DateTime<Utc>,
    ) -> Result<Result<Value, String>, EngineError> {
        if manifest.mode == Mode::Draft {
            return Ok(Ok(serde_json::json!({
                "draft": proposal.input,
                "accepted_by": caller.id,
            })));
        }
        match manifest.id.as_str() {
            "brain.exemption.grant" => {
                let field = |name: &str| proposal.input.get(name).and_then(Value::as_str);
                let Some(capability) = field("capability") else {
                    return Ok(Err("the input names no `capability`".into()));
                };
                if self.policy.manifest(capability).is_none() {
                    return Ok(Err(format!("no capability `{capability}` is declared")));
                }
                let expires = match field("expires").map(|text| parse_expiry(text, now)) {
                    Some(Ok(expires)) => expires,
                    Some(Err(problem)) => return Ok(Err(problem)),
                    None => return Ok(Err("the input names no `expires`".into())),
                };
                if expires - now > self.settings.max_exemption {
                    return Ok(Err(format!(
                        "the exemption would last longer than the configured maximum of {} days",
                        self.settings.max_exemption.num_days()
                    )));
                }
                let approved_by = approvals
                    .first()
                    .map_or_else(|| caller.id.clone(), |approval| approval.approver.clone());
                if approved_by == proposal.proposer {
                    return Ok(Err("an exemption's requester cannot also approve it".into()));
                }
                let record = ExemptionRecord {
                    id: new_id("x")?,
                    kind: "grant".into(),
                    revokes: None,
                    capability: Some(capability.to_string()),
                    owner: field("owner").map(str::to_string),
                    starts: Some(Timestamp(now).to_string()),
                    expires: Some(Timestamp(expires).to_string()),
                    justification: field("justification").unwrap_or_default().to_string(),
                    requested_by: proposal.proposer.clone(),
                    approved_by,
                    created_at: crate::clock::format_time(now),
                };
                tx.insert_exemption(&record).await?;
                Ok(Ok(serde_json::json!({ "exemption": record.id })))
            }
            "brain.kill_switch.set" => {
                let name = proposal.input.get("name").and_then(Value::as_str);
                let on = proposal.input.get("on").and_then(Value::as_bool);
                let (Some(name), Some(on)) = (name, on) else {
                    return Ok(Err("the input needs `name` and `on`".into()));
                };
                let declared = self.policy.decider.policies().kill_switches();
                if !super::valid_switch_name(&declared, name) {
                    return Ok(Err(format!(
                        "no policy keys on a kill switch named `{name}`"
                    )));
                }
                let previous = super::switches::get_in(tx, name)
                    .await?
                    .is_some_and(|s| s.on);
                let at = crate::clock::format_time(now);
                tx.kv_set(&super::switches::entry(
                    name,
                    on,
                    &proposal.rationale,
                    &at,
                    &caller.id,
                ))
                .await?;
                Ok(Ok(
                    serde_json::json!({ "switch": name, "on": on, "was_on": previous }),
                ))
            }
            other => Ok(Err(format!("brain has no built-in effect for `{other}`"))),
        }
    }

    /// Undo brain's own effects.
    async fn internal_undo(
        &self,
        tx: &mut dyn WriteTx,
        caller: &Caller,
        proposal: &Proposal,
        now: DateTime<Utc>,
    ) -> Result<Value, EngineError> {
        let outcome = proposal.outcome.clone().unwrap_or(Value::Null);
        if let Some(exemption) = outcome.get("exemption").and_then(Value::as_str) {
            tx.insert_exemption(&ExemptionRecord {
                id: new_id("x")?,
                kind: "revoke".into(),
                revokes: Some(exemption.to_string()),
                capability: proposal
                    .input
                    .get("capability")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                owner: None,
                starts: None,
                expires: None,
                justification: format!("rollback of proposal {}", proposal.id),
                requested_by: caller.id.clone(),
                approved_by: caller.id.clone(),
                created_at: crate::clock::format_time(now),
            })
            .await?;
            return Ok(serde_json::json!({ "revoked_exemption": exemption }));
        }
        if let (Some(name), Some(was_on)) = (
            outcome.get("switch").and_then(Value::as_str),
            outcome.get("was_on").and_then(Value::as_bool),
        ) {
            let at = crate::clock::format_time(now);
            tx.kv_set(&super::switches::entry(
                name,
                was_on,
                &format!("rollback of proposal {}", proposal.id),
                &at,
                &caller.id,
            ))
            .await?;
            return Ok(serde_json::json!({ "switch": name, "on": was_on }));
        }
        Ok(serde_json::json!({ "discarded": proposal.id }))
    }
}

/// How long an execution may still be running in another process: an absent effect is
/// recorded as a failure only after this (a target's retries and timeouts fit well inside).
const EXECUTION_GRACE: chrono::Duration = chrono::Duration::minutes(10);

fn recently_started(proposal: &Proposal) -> bool {
    proposal
        .execution_started_at
        .as_deref()
        .and_then(crate::clock::parse_time)
        .is_some_and(|started| crate::clock::now() - started < EXECUTION_GRACE)
}

fn approval_ids_of(approvals: &[Approval]) -> Vec<String> {
    approvals
        .iter()
        .map(|approval| approval.id.clone())
        .collect()
}

/// An expiry written as a time (`2026-12-01T00:00:00Z`, `2026-12-01`) or a duration from now
/// (`7d`).
pub fn parse_expiry(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(duration) = crate::config::Duration::parse(text) {
        return Ok(now
            + chrono::Duration::seconds(
                i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 4),
            ));
    }
    Timestamp::parse(text).map(|time| time.0).map_err(|_| {
        format!("`{text}` is neither a time (`2026-12-01T09:00:00Z`) nor a duration (`7d`)")
    })
}

/// What brain's own target would do.
fn internal_plan(proposal: &Proposal, manifest: &Manifest) -> Value {
    if manifest.mode == Mode::Draft {
        return serde_json::json!({
            "target": BRAIN_TARGET,
            "effect": "record the draft inside brain; nothing outside brain changes",
            "draft": proposal.input,
        });
    }
    match manifest.id.as_str() {
        "brain.exemption.grant" => serde_json::json!({
            "target": BRAIN_TARGET,
            "effect": "grant a runtime exemption from the named capability's approval rule",
            "exemption": proposal.input,
        }),
        "brain.kill_switch.set" => serde_json::json!({
            "target": BRAIN_TARGET,
            "effect": "set a kill switch",
            "switch": proposal.input,
        }),
        other => serde_json::json!({
            "target": BRAIN_TARGET,
            "effect": format!("none: brain has no built-in effect for `{other}`"),
        }),
    }
}
