//! `brain swarm list|run|runs|enroll`: the department swarms on the local store.
//!
//! `run` reads the sources brain.yaml configures (`cloud.fixtures` works, so the demo and tests
//! can plant data) and proposes each finding as a draft, as the swarm's agent; `--dry-run`
//! proposes nothing. `enroll` is how a person lets a swarm run: it adds the swarm's agent and
//! delegates the swarm's capabilities to it from the swarm's owner.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::Cli;
use super::output::{self, Format};
use super::session::{Paint, on_local_store, paint};
use crate::config::LoadedConfig;
use crate::engine::EngineError;
use crate::swarms::runtime::{self, RunOptions, RunReport, SwarmFiles, SwarmStatus, Trigger};

#[derive(Debug, Subcommand)]
pub enum SwarmCommand {
    /// The configured swarms: agent, owner, capabilities, whether their delegation is live,
    /// schedule and last run.
    List,
    /// Run a swarm now and propose its findings as drafts (`--dry-run`: propose nothing).
    /// Exit 0 when the run completed (findings or not), 1 when it was denied, 2 on an error.
    Run(RunArgs),
    /// Recent runs' summaries, newest first.
    Runs(RunsArgs),
    /// Let a swarm run: add its agent (when missing) and delegate its capabilities to it from
    /// its owner, until `--expires`.
    Enroll(EnrollArgs),
    /// Turn a swarm's draft into a proposal of the cloud-side correction brain can make: an ops
    /// note (`firestore.ops_note.append`) about the record, proposed as you, to be approved and
    /// executed like any other. brain never changes a payment or an order itself.
    Note(NoteArgs),
}

#[derive(Debug, Args)]
pub struct NoteArgs {
    /// The swarm draft (a proposal id).
    pub id: String,
    /// The note's text (default: the finding's title and recommendation).
    #[arg(long)]
    pub text: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The swarm (`ops`, `marketing`).
    pub name: String,
    /// Show what it would propose; propose nothing (the run itself is still recorded).
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this swarm's runs.
    pub name: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: i64,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The swarm to enroll.
    pub name: String,
    /// When the delegation ends: a duration (`30d`) or a time.
    #[arg(long, default_value = "30d")]
    pub expires: String,
}

/// The configured swarm `name`, or a refusal naming the configured ones.
fn settings<'a>(
    loaded: &'a LoadedConfig,
    name: &str,
) -> Result<crate::config::SwarmSettings<'a>, EngineError> {
    let configured: Vec<&str> = loaded
        .config
        .swarms
        .each()
        .iter()
        .map(|swarm| swarm.info.name)
        .collect();
    loaded.config.swarms.get(name).ok_or_else(|| {
        let known = crate::swarms::info(name).is_some();
        EngineError::invalid(
            if known {
                format!("swarm `{name}` is not configured in brain.yaml")
            } else {
                format!("brain has no swarm named `{name}`")
            },
            if configured.is_empty() {
                "declare one under `swarms:` in brain.yaml (`brain schema config` shows the keys)"
                    .to_string()
            } else {
                format!("configured swarms: {}", configured.join(", "))
            },
        )
    })
}

/// The swarms' templates and term lists; a built-in fallback is said on stderr.
fn files(loaded: &LoadedConfig) -> Result<SwarmFiles, EngineError> {
    SwarmFiles::load(loaded)
        .map(|(files, warnings)| {
            for warning in &warnings {
                output::print_diagnostic(warning);
            }
            files
        })
        .map_err(|error| {
            EngineError::invalid(
                error.to_string(),
                "`brain lint` shows every problem of the swarms' files",
            )
        })
}

fn print_statuses(statuses: &[SwarmStatus]) {
    let mut out = std::io::stdout().lock();
    if statuses.is_empty() {
        let _ = writeln!(
            out,
            "no swarm is configured: declare them under `swarms:` in brain.yaml"
        );
        return;
    }
    for status in statuses {
        let state = match (&status.problem, status.delegation_ok) {
            (None, true) => paint(Paint::Green, "ready"),
            _ => paint(Paint::Red, "cannot run"),
        };
        let _ = writeln!(
            out,
            "{} ({}) {state}",
            paint(Paint::Bold, &status.name),
            status.title
        );
        let _ = writeln!(
            out,
            "  agent        {} (owner {})",
            status.agent, status.owner
        );
        let _ = writeln!(out, "  capabilities {}", status.capabilities.join(", "));
        if let Some(delegation) = &status.delegation {
            let _ = writeln!(
                out,
                "  delegation   {} until {}",
                delegation.id, delegation.expires_at
            );
        }
        if let Some(problem) = &status.problem {
            let _ = writeln!(out, "  {}      {problem}", paint(Paint::Red, "why"));
        }
        let schedule = status.schedule.as_ref().map_or_else(
            || "none".to_string(),
            |schedule| {
                [
                    schedule.every.map(|every| format!("every {every}")),
                    schedule
                        .daily_at
                        .as_ref()
                        .map(|at| format!("daily at {at}")),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", ")
            },
        );
        let _ = writeln!(
            out,
            "  runs         {schedule}{}",
            if status.on_snapshot {
                "; after each new snapshot"
            } else {
                ""
            }
        );
        match &status.last_run {
            Some(run) => {
                let _ = writeln!(
                    out,
                    "  last run     {} {} at {} ({} records)",
                    run.id, run.outcome, run.started_at, run.records_read
                );
            }
            None => {
                let _ = writeln!(out, "  last run     never");
            }
        }
    }
}

fn print_report(report: &RunReport) {
    let mut out = std::io::stdout().lock();
    let outcome = match report.outcome.as_str() {
        "completed" => paint(Paint::Green, "completed"),
        other => paint(Paint::Red, other),
    };
    let _ = writeln!(
        out,
        "swarm {} run {}{} {outcome} in {:.2}s: {} records read, snapshot {}",
        paint(Paint::Bold, &report.swarm),
        report.run_id,
        if report.dry_run { " (dry run)" } else { "" },
        report.seconds,
        report.records_read,
        report.snapshot_id.as_deref().unwrap_or("none"),
    );
    if let Some(problem) = &report.problem {
        let _ = writeln!(
            out,
            "  {} {problem}{}",
            paint(Paint::Red, "stopped:"),
            if report.reasons.is_empty() {
                String::new()
            } else {
                format!(" [{}]", report.reasons.join(", "))
            }
        );
    }
    let width = report
        .rules
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "  {:<width$}  {:>5}  {:>7}  {:>10}  {:>7}",
        "RULE", "HITS", "EMITTED", "SUPPRESSED", "REFUSED"
    );
    for (rule, tally) in &report.rules {
        let _ = writeln!(
            out,
            "  {rule:<width$}  {:>5}  {:>7}  {:>10}  {:>7}",
            tally.hits, tally.emitted, tally.suppressed, tally.refused
        );
    }
    for reported in &report.findings {
        let finding = &reported.finding;
        let status = match (&reported.proposal_id, reported.suppressed) {
            (Some(id), _) => format!("proposed {id}"),
            (None, true) => "suppressed".to_string(),
            (None, false) => "not proposed".to_string(),
        };
        let _ = writeln!(
            out,
            "  [{}] {} ({}, {:.0}%) — {status}",
            finding.severity.as_str(),
            finding.title,
            finding.subject,
            finding.confidence * 100.0
        );
        let _ = writeln!(out, "      {}", finding.rationale);
        if let Some(post) = &finding.post {
            let _ = writeln!(out, "      {} post: {}", post.channel, post.body);
        }
        if let Some(note) = &reported.note {
            let _ = writeln!(out, "      {note}");
        }
    }
}

pub fn run(cli: &Cli, command: &SwarmCommand) -> miette::Result<ExitCode> {
    on_local_store(cli, "`brain swarm`", |engine, loaded, caller| {
        Box::pin(async move {
            match command {
                SwarmCommand::List => {
                    engine
                        .authorize_area(&caller, crate::policy::decide::Action::View)
                        .await?;
                    let statuses = runtime::statuses(&engine, &loaded, &files(&loaded)?).await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&statuses);
                    } else {
                        print_statuses(&statuses);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                SwarmCommand::Run(args) => {
                    engine
                        .authorize_area(&caller, crate::policy::decide::Action::View)
                        .await?;
                    let settings = settings(&loaded, &args.name)?;
                    let files = files(&loaded)?;
                    let Some(swarm) = runtime::build(&loaded, &settings, &files) else {
                        return Err(EngineError::invalid(
                            format!("swarm `{}` cannot be built", args.name),
                            "check its section in brain.yaml with `brain config check`",
                        ));
                    };
                    let sources = crate::cloud::configured(&loaded);
                    if sources.is_empty() {
                        return Err(EngineError::invalid(
                            "brain.yaml configures no cloud source for the swarm to read",
                            "set `cloud.fixtures.dir`, `cloud.firestore` or `cloud.stripe` in brain.yaml",
                        ));
                    }
                    let progress = super::progress::Progress::spinner(
                        cli,
                        format!(
                            "swarm `{}`: reading records and proposing drafts",
                            args.name
                        ),
                    );
                    let report = runtime::run(
                        &engine,
                        &settings,
                        swarm,
                        &sources,
                        &RunOptions {
                            trigger: Trigger::Manual,
                            requested_by: caller.id.clone(),
                            dry_run: args.dry_run,
                        },
                    )
                    .await;
                    drop(progress);
                    let report = report?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&report);
                    } else {
                        print_report(&report);
                    }
                    Ok(match report.outcome.as_str() {
                        "completed" => ExitCode::SUCCESS,
                        "denied" => ExitCode::from(1),
                        _ => ExitCode::from(2),
                    })
                }
                SwarmCommand::Runs(args) => {
                    if let Some(name) = &args.name
                        && crate::swarms::info(name).is_none()
                    {
                        return Err(EngineError::invalid(
                            format!("brain has no swarm named `{name}`"),
                            format!(
                                "swarms: {}",
                                crate::swarms::SWARMS
                                    .iter()
                                    .map(|swarm| swarm.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                    let runs = engine
                        .swarm_runs(&caller, args.name.as_deref(), args.limit)
                        .await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&runs);
                    } else {
                        let mut out = std::io::stdout().lock();
                        if runs.is_empty() {
                            let _ = writeln!(out, "no swarm run yet: `brain swarm run NAME`");
                        } else {
                            let _ = writeln!(
                                out,
                                "{:<16} {:<10} {:<29} {:<9} {:<10} {:>8} {:>8} {:>10}",
                                "RUN",
                                "SWARM",
                                "STARTED",
                                "TRIGGER",
                                "OUTCOME",
                                "RECORDS",
                                "EMITTED",
                                "SUPPRESSED"
                            );
                        }
                        for run in &runs {
                            let total = |key: &str| -> u64 {
                                run.summary["rules"]
                                    .as_object()
                                    .map(|rules| {
                                        rules.values().filter_map(|tally| tally[key].as_u64()).sum()
                                    })
                                    .unwrap_or(0)
                            };
                            let _ = writeln!(
                                out,
                                "{:<16} {:<10} {:<29} {:<9} {:<10} {:>8} {:>8} {:>10}",
                                run.id,
                                run.swarm,
                                run.started_at,
                                if run.dry_run {
                                    "dry-run"
                                } else {
                                    run.trigger.as_str()
                                },
                                run.outcome,
                                run.records_read,
                                total("emitted"),
                                total("suppressed")
                            );
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
                SwarmCommand::Note(args) => {
                    let draft = engine.proposal(&caller, &args.id).await?;
                    let finding = &draft.proposal.input;
                    let is_swarm_draft = crate::swarms::SWARMS
                        .iter()
                        .any(|swarm| swarm.draft_capability == draft.proposal.capability)
                        && finding.get("rule").is_some();
                    if !is_swarm_draft {
                        return Err(EngineError::invalid(
                            format!("`{}` is not a swarm's draft", args.id),
                            "name a draft from `brain proposals list` whose capability is a swarm's draft capability",
                        ));
                    }
                    let field = |name: &str| {
                        finding
                            .get(name)
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or("")
                    };
                    let text = args.text.clone().unwrap_or_else(|| {
                        format!(
                            "{} ({}): {} [brain draft {}]",
                            field("title"),
                            field("subject"),
                            field("recommendation"),
                            draft.proposal.id
                        )
                    });
                    let view = engine
                        .propose(
                            &caller,
                            &crate::engine::ProposeRequest {
                                capability: "firestore.ops_note.append".into(),
                                input: serde_json::json!({ "text": text.chars().take(2000).collect::<String>() }),
                                rationale: format!(
                                    "the correction staff chose for swarm draft {} ({})",
                                    draft.proposal.id,
                                    field("subject")
                                ),
                                idempotency_key: Some(format!("swarm-note-{}", draft.proposal.id)),
                                ..crate::engine::ProposeRequest::default()
                            },
                        )
                        .await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&view);
                    } else {
                        output::success(&format!(
                            "proposed ops note {} ({}) for draft {}: approve and execute it like any proposal",
                            view.proposal.id, view.proposal.state, draft.proposal.id
                        ));
                    }
                    Ok(ExitCode::SUCCESS)
                }
                SwarmCommand::Enroll(args) => {
                    let settings = settings(&loaded, &args.name)?;
                    let files = files(&loaded)?;
                    let Some(swarm) = runtime::build(&loaded, &settings, &files) else {
                        return Err(EngineError::invalid(
                            format!("swarm `{}` cannot be built", args.name),
                            "check its section in brain.yaml with `brain config check`",
                        ));
                    };
                    let scopes = runtime::capabilities(&settings, swarm.as_ref());
                    let expires =
                        crate::engine::proposals::parse_expiry(&args.expires, crate::clock::now())
                            .map_err(|problem| {
                                EngineError::invalid(problem, "pass `--expires 30d` or a time")
                            })?;
                    if engine.store().actor(settings.agent).await?.is_none() {
                        // The swarm acts inside brain: the agent's token is never shown.
                        engine
                            .add_actor(&caller, settings.agent, Some(settings.info.title))
                            .await?;
                    }
                    let delegation = engine
                        .delegate(&caller, settings.agent, settings.owner, &scopes, expires)
                        .await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&delegation);
                    } else {
                        output::success(&format!(
                            "swarm `{}` enrolled: `{}` may draft for `{}` until {} ({})",
                            args.name,
                            settings.agent,
                            settings.owner,
                            delegation.expires_at,
                            scopes.join(", ")
                        ));
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        })
    })
}
