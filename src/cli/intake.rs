//! `brain intake classify|queue|override`: the compliance intake gate.
//!
//! `classify` runs the gate's lists over a text (or a proposal's input and rationale) and
//! changes nothing; `queue` lists the proposals and agent requests routed to mandatory human
//! review; `override` records a staff member's decision on one (never the proposer's), audited.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::Cli;
use super::output::{self, Format};
use super::session::{Paint, on_local_store, paint};
use crate::engine::EngineError;
use crate::intake::Classification;

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Classify a text, or a proposal's input and rationale: `{category, disposition,
    /// reason_code, confidence, matched}`. Changes nothing.
    Classify(ClassifyArgs),
    /// The proposals and agent requests routed to mandatory human review.
    Queue,
    /// Record a staff decision on a routed proposal or agent request (`agentRequests/ID`):
    /// `--grant` lets it go on, `--deny` keeps it blocked. Never by its proposer; audited.
    Override(OverrideArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["text", "proposal"])))]
pub struct ClassifyArgs {
    /// The text to classify.
    #[arg(long)]
    pub text: Option<String>,
    /// A proposal whose input and rationale to classify.
    #[arg(long, value_name = "ID")]
    pub proposal: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("decision").required(true).args(["grant", "deny"])))]
pub struct OverrideArgs {
    /// A proposal id, or `agentRequests/<id>`.
    pub id: String,
    /// It may go on: approvals and execution are decided as for any proposal.
    #[arg(long)]
    pub grant: bool,
    /// It stays blocked.
    #[arg(long)]
    pub deny: bool,
    /// Why, as a code in capitals (`PROP_ONLY`, `LICENSED_DESIGN`, `SUSPECTED_FRAUD`).
    #[arg(long, value_name = "CODE")]
    pub reason_code: String,
    /// Why, in words (recorded in the audit log).
    #[arg(long)]
    pub note: String,
}

fn print_classification(classification: &Classification) {
    let mut out = std::io::stdout().lock();
    let disposition = if classification.needs_review() {
        paint(Paint::Red, "manual_review")
    } else {
        paint(Paint::Green, "allow")
    };
    let _ = writeln!(
        out,
        "{} {disposition} ({}, confidence {:.0}%)",
        paint(Paint::Bold, &classification.category),
        classification.reason_code,
        classification.confidence * 100.0
    );
    if classification.matched.is_empty() {
        let _ = writeln!(out, "  no term of the lists matched");
    } else {
        let _ = writeln!(out, "  matched: {}", classification.matched.join(", "));
    }
    let _ = writeln!(
        out,
        "  lists: {} v{}",
        classification.rule_set.id, classification.rule_set.version
    );
}

pub fn run(cli: &Cli, command: &IntakeCommand) -> miette::Result<ExitCode> {
    on_local_store(cli, "`brain intake`", |engine, _loaded, caller| {
        Box::pin(async move {
            match command {
                IntakeCommand::Classify(args) => {
                    engine
                        .authorize_area(&caller, crate::policy::decide::Action::View)
                        .await?;
                    let text = match (&args.text, &args.proposal) {
                        (Some(text), _) => text.clone(),
                        (None, Some(id)) => {
                            let view = engine.proposal(&caller, id).await?;
                            format!(
                                "{}\n{}",
                                view.proposal.rationale,
                                crate::intake::text_of(&view.proposal.input)
                            )
                        }
                        (None, None) => {
                            return Err(EngineError::invalid(
                                "nothing to classify",
                                "pass `--text TEXT` or `--proposal ID`",
                            ));
                        }
                    };
                    let classification = engine.policy().intake.classify(&text);
                    if cli.format == Format::Json {
                        let _ = output::print_json(&classification);
                    } else {
                        print_classification(&classification);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                IntakeCommand::Queue => {
                    let queue = engine.intake_queue(&caller).await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&queue);
                        return Ok(ExitCode::SUCCESS);
                    }
                    let mut out = std::io::stdout().lock();
                    if queue.is_empty() {
                        let _ = writeln!(out, "nothing was routed to review");
                    }
                    for queued in &queue {
                        let record = &queued.record;
                        let state = match (&record.r#override, queued.blocked) {
                            (None, _) => paint(Paint::Red, "waiting for review"),
                            (Some(done), true) => paint(
                                Paint::Red,
                                &format!("denied by {} ({})", done.by, done.reason_code),
                            ),
                            (Some(done), false) => paint(
                                Paint::Green,
                                &format!("granted by {} ({})", done.by, done.reason_code),
                            ),
                        };
                        let _ = writeln!(
                            out,
                            "{:<28} {:<16} {state}\n  {} at {}; matched: {}",
                            record.subject,
                            record.classification.category,
                            record.summary,
                            record.classified_at,
                            record.classification.matched.join(", ")
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                IntakeCommand::Override(args) => {
                    let record = engine
                        .intake_override(
                            &caller,
                            &args.id,
                            args.grant,
                            &args.reason_code,
                            &args.note,
                        )
                        .await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&record);
                    } else {
                        output::success(&format!(
                            "{} for `{}` ({}): {}",
                            if args.grant {
                                "override granted"
                            } else {
                                "override denied"
                            },
                            record.subject,
                            record.classification.category,
                            if args.grant {
                                "it may be approved and executed as any proposal"
                            } else {
                                "it stays blocked"
                            }
                        ));
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        })
    })
}
