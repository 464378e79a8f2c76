//! `brain propose`, `brain proposals`, `brain approve|reject|cancel|execute|rollback`.
//!
//! Every command prints for people (aligned, colour on a terminal) or, with `--format json`, one
//! stable JSON document: a proposal view, a list of them, or a dry run (see README).

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::Cli;
use super::output::{self, Format};
use super::session::{Control, Paint, human_duration, paint, with_control};
use crate::engine::lifecycle::ProposalState;
use crate::engine::{DryRun, EngineError, ProposalView, ProposeRequest};
use crate::policy::decide::Action;
use crate::store::ProposalFilter;

#[derive(Debug, Args)]
pub struct ProposeArgs {
    /// The capability id, such as `firestore.ops_note.append`.
    pub capability: String,
    /// The input: a JSON object, a file holding one, or `-` for stdin.
    #[arg(long, value_name = "FILE|JSON")]
    pub input: String,
    /// Why; approvers read it.
    #[arg(long)]
    pub rationale: String,
    /// Makes retries safe: the same key and input return the first proposal.
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Whose resources it concerns (default: you, or an agent's delegating owner).
    #[arg(long, value_name = "ACTOR")]
    pub owner: Option<String>,
    /// Keep it a draft until someone submits it (`brain proposals submit ID`).
    #[arg(long)]
    pub draft: bool,
}

#[derive(Debug, Args)]
pub struct ProposalsArgs {
    #[command(subcommand)]
    pub command: Option<ProposalsCommand>,
    #[command(flatten)]
    pub filter: ListArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only proposals in this state (draft, pending_approval, approved, rejected, expired,
    /// cancelled, executing, succeeded, failed, rolled_back).
    #[arg(long, value_name = "STATE", global = true)]
    pub state: Option<String>,
    /// Only proposals on this capability.
    #[arg(long, value_name = "ID", global = true)]
    pub capability: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 50, global = true)]
    pub limit: i64,
}

#[derive(Debug, Subcommand)]
pub enum ProposalsCommand {
    /// List proposals, newest first (the default).
    List,
    /// One proposal with its approvals, plan and outcome.
    Show { id: String },
    /// Send a draft to the approval queue.
    Submit { id: String },
    /// Resolve executions a crash interrupted, by asking their targets (what `brain serve`
    /// does when it starts); never executes anything again. Staff only.
    Recover,
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    pub id: String,
    /// A note for the record.
    #[arg(long)]
    pub comment: Option<String>,
}

#[derive(Debug, Args)]
pub struct RejectArgs {
    pub id: String,
    /// Why; the proposer reads it.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    pub id: String,
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExecuteArgs {
    pub id: String,
    /// Show the decision and exactly what would be done, without doing it.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    pub id: String,
}

/// Read `--input`: inline JSON, `-` for stdin, or a file.
fn read_input(text: &str) -> Result<Value, EngineError> {
    let (source, body) = if text == "-" {
        let mut body = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut body).map_err(|error| {
            EngineError::invalid(
                format!("cannot read the input from stdin: {error}"),
                "pipe a JSON object in",
            )
        })?;
        ("stdin".to_string(), body)
    } else if text.trim_start().starts_with('{') {
        ("--input".to_string(), text.to_string())
    } else {
        let body = std::fs::read_to_string(text).map_err(|error| {
            EngineError::invalid(
                format!("cannot read the input file `{text}`: {error}"),
                "pass a JSON object inline (`--input '{\"text\": \"...\"}'`) or a readable file",
            )
        })?;
        (format!("`{text}`"), body)
    };
    serde_json::from_str(&body).map_err(|error| {
        EngineError::invalid(
            format!("the input in {source} is not JSON: {error}"),
            "write a JSON object such as `{\"text\": \"Kiln 2 lid latch is loose\"}`",
        )
    })
}

fn state_text(state: ProposalState) -> String {
    let text = state.as_str().replace('_', " ");
    let style = match state {
        ProposalState::Succeeded | ProposalState::Approved => Paint::Green,
        ProposalState::Rejected | ProposalState::Failed | ProposalState::Expired => Paint::Red,
        ProposalState::PendingApproval | ProposalState::Executing | ProposalState::Draft => {
            Paint::Yellow
        }
        ProposalState::Cancelled | ProposalState::RolledBack => Paint::Dim,
    };
    paint(style, &text)
}

/// A proposal for people.
pub(super) fn print_proposal(view: &ProposalView, headline: &str) {
    let proposal = &view.proposal;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{headline} {}  {}  ({} risk)",
        paint(Paint::Bold, &proposal.id),
        proposal.capability,
        view.risk_tier
    );
    let mut row = |key: &str, value: String| {
        let _ = writeln!(out, "  {key:<12} {value}");
    };
    let approvals = if view.required_approvals > 0 {
        format!(
            " ({} of {} approvals)",
            view.valid_approvals, view.required_approvals
        )
    } else {
        String::new()
    };
    row(
        "state",
        format!("{}{approvals}", state_text(proposal.state)),
    );
    row("title", view.capability_title.clone());
    row("proposer", proposal.proposer.clone());
    row("owner", proposal.owner.clone());
    row("rationale", proposal.rationale.clone());
    row("input", crate::audit::canonical_json(&proposal.input));
    row("input hash", proposal.input_hash.clone());
    if let Some(plan) = &proposal.plan {
        row("plan", crate::audit::canonical_json(plan));
    }
    for approval in &view.approvals {
        let comment = approval
            .comment
            .as_deref()
            .map_or_else(String::new, |comment| format!(": {comment}"));
        row(
            "approval",
            format!(
                "{} by {} at {}{comment}",
                approval.id, approval.approver, approval.created_at
            ),
        );
    }
    if let Some(seconds) = view.seconds_left {
        row("expires", format!("in {}", human_duration(seconds)));
    }
    if let (Some(by), Some(reason)) = (&proposal.closed_by, &proposal.closed_reason) {
        row("closed", format!("by {by}: {reason}"));
    }
    if let Some(outcome) = &proposal.outcome {
        row("outcome", crate::audit::canonical_json(outcome));
    }
    if let Some(failure) = &proposal.failure {
        row("failure", paint(Paint::Red, failure));
    }
    if view.interrupted {
        row(
            "note",
            "executing, or interrupted: brain serve resolves it by asking the target".into(),
        );
    }
}

fn print_list(views: &[ProposalView]) {
    let mut out = std::io::stdout().lock();
    if views.is_empty() {
        let _ = writeln!(out, "no proposals");
        return;
    }
    let width = views
        .iter()
        .map(|view| view.proposal.capability.len())
        .max()
        .unwrap_or(10)
        .max(10);
    let _ = writeln!(
        out,
        "{}",
        paint(
            Paint::Bold,
            &format!(
                "{:<16} {:<18} {:<width$} {:<8} {:<9} {}",
                "ID", "STATE", "CAPABILITY", "RISK", "APPROVALS", "PROPOSER"
            )
        )
    );
    for view in views {
        let proposal = &view.proposal;
        let state = proposal.state.as_str().replace('_', " ");
        let _ = writeln!(
            out,
            "{:<16} {:<18} {:<width$} {:<8} {:<9} {}",
            proposal.id,
            state,
            proposal.capability,
            view.risk_tier,
            format!("{}/{}", view.valid_approvals, view.required_approvals),
            proposal.proposer
        );
    }
}

fn print_dry_run(dry_run: &DryRun) {
    let mut out = std::io::stdout().lock();
    let verdict = if dry_run.would_execute {
        paint(Paint::Green, "would execute")
    } else {
        paint(Paint::Red, "would be refused")
    };
    let _ = writeln!(out, "dry run of {}: {verdict}", dry_run.proposal_id);
    let _ = writeln!(out, "  {:<12} {}", "state", state_text(dry_run.state));
    if !dry_run.decision.policy_ids.is_empty() {
        let _ = writeln!(
            out,
            "  {:<12} {}",
            "decided by",
            dry_run.decision.policy_ids.join(", ")
        );
    }
    if !dry_run.decision.reasons.is_empty() {
        let _ = writeln!(
            out,
            "  {:<12} {}",
            "reasons",
            dry_run.decision.reasons.join(", ")
        );
    }
    if let Some(problem) = &dry_run.state_problem {
        let _ = writeln!(out, "  {:<12} {problem}", "state check");
    }
    match (&dry_run.plan, &dry_run.plan_error) {
        (Some(plan), _) => {
            let pretty = serde_json::to_string_pretty(plan).unwrap_or_default();
            let _ = writeln!(out, "  plan:");
            for line in pretty.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        (None, Some(error)) => {
            let _ = writeln!(out, "  {:<12} {error}", "plan");
        }
        (None, None) => {}
    }
}

/// Print one proposal as asked, with an exit code of 0.
fn show(cli: &Cli, view: &ProposalView, headline: &str) -> Result<ExitCode, EngineError> {
    if cli.format == Format::Json {
        let _ = output::print_json(view);
    } else {
        print_proposal(view, headline);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn propose(cli: &Cli, args: &ProposeArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let request = ProposeRequest {
                capability: args.capability.clone(),
                input: read_input(&args.input)?,
                rationale: args.rationale.clone(),
                idempotency_key: args.idempotency_key.clone(),
                owner: args.owner.clone(),
                draft: args.draft,
                swarm: None,
            };
            let view = control.propose(&request).await?;
            show(cli, &view, "proposed")
        })
    })
}

/// What `brain proposals` asks of the engine (local or remote); `recover` runs on the local store.
enum ProposalsStep<'a> {
    List,
    Show(&'a str),
    Submit(&'a str),
}

pub fn proposals(cli: &Cli, args: &ProposalsArgs) -> miette::Result<ExitCode> {
    let step = match &args.command {
        Some(ProposalsCommand::Recover) => return recover(cli),
        None | Some(ProposalsCommand::List) => ProposalsStep::List,
        Some(ProposalsCommand::Show { id }) => ProposalsStep::Show(id),
        Some(ProposalsCommand::Submit { id }) => ProposalsStep::Submit(id),
    };
    let state = match args.filter.state.as_deref() {
        None => None,
        Some(text) => match ProposalState::parse(text) {
            Some(state) => Some(state),
            None => {
                output::print_report(&miette::miette!(
                    code = "usage::state",
                    help = format!(
                        "use one of {}",
                        ProposalState::ALL.map(ProposalState::as_str).join(", ")
                    ),
                    "unknown state `{text}`"
                ));
                return Ok(ExitCode::from(2));
            }
        },
    };
    let filter = ProposalFilter {
        state,
        capability: args.filter.capability.clone(),
        proposer: None,
        limit: args.filter.limit.max(1),
    };
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            match step {
                ProposalsStep::List => {
                    let views = control.proposals(&filter).await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&views);
                    } else {
                        print_list(&views);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                ProposalsStep::Show(id) => {
                    let view = control.proposal(id).await?;
                    show(cli, &view, "proposal")
                }
                ProposalsStep::Submit(id) => {
                    let view = control.submit(id).await?;
                    show(cli, &view, "submitted")
                }
            }
        })
    })
}

pub fn approve(cli: &Cli, args: &ApproveArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let view = control.approve(&args.id, args.comment.as_deref()).await?;
            show(cli, &view, "approved")
        })
    })
}

pub fn reject(cli: &Cli, args: &RejectArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let view = control
                .close(&args.id, Action::Reject, Some(&args.reason))
                .await?;
            show(cli, &view, "rejected")
        })
    })
}

pub fn cancel(cli: &Cli, args: &CancelArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let view = control
                .close(&args.id, Action::Cancel, args.reason.as_deref())
                .await?;
            show(cli, &view, "cancelled")
        })
    })
}

pub fn execute(cli: &Cli, args: &ExecuteArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            if args.dry_run {
                let dry_run = control.dry_run(&args.id).await?;
                if cli.format == Format::Json {
                    let _ = output::print_json(&dry_run);
                } else {
                    print_dry_run(&dry_run);
                }
                return Ok(if dry_run.would_execute {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(1)
                });
            }
            let view = control.execute(&args.id).await?;
            show(cli, &view, "executed")
        })
    })
}

pub fn rollback(cli: &Cli, args: &IdArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let view = control.rollback(&args.id).await?;
            show(cli, &view, "rolled back")
        })
    })
}

/// `brain proposals recover`: on the local store, as `system:recovery`, for a staff caller.
fn recover(cli: &Cli) -> miette::Result<ExitCode> {
    super::session::on_local_store(cli, "`brain proposals recover`", |engine, _, caller| {
        Box::pin(async move {
            engine.authorize_area(&caller, Action::Audit).await?;
            let recoveries = engine.recover_interrupted().await?;
            if cli.format == Format::Json {
                let _ = output::print_json(&recoveries);
            } else {
                let mut out = std::io::stdout().lock();
                if recoveries.is_empty() {
                    let _ = writeln!(out, "no interrupted executions");
                }
                for recovery in &recoveries {
                    let word = match recovery.result.as_str() {
                        "succeeded" => paint(Paint::Green, "succeeded"),
                        "failed" => paint(Paint::Red, "failed"),
                        other => paint(Paint::Yellow, other),
                    };
                    let _ = writeln!(
                        out,
                        "{}  {word}  {}",
                        recovery.proposal_id, recovery.message
                    );
                }
            }
            Ok(
                if recoveries
                    .iter()
                    .any(|recovery| recovery.result == "unresolved")
                {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                },
            )
        })
    })
}
