//! `brain backup`, `brain rebuild` and `brain retention run`: local state is disposable.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::Cli;
use super::output::{self, Format};
use super::progress::Progress;
use super::session::{Paint, local_only, on_local_store, open_engine, paint, report_error};
use crate::engine::EngineError;
use crate::engine::backup::{self, RestoreStep};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Write into this directory instead of `backup.dir` (a new bundle directory is created in
    /// it; older bundles there beyond `backup.keep` are removed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The bundle to restore (default: the newest in `backup.dir`).
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Do not recompute the StudioState snapshot from the cloud afterwards.
    #[arg(long)]
    pub no_snapshot: bool,
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Apply the TTLs of `retention` in brain.yaml now.
    Run {
        /// Report what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub fn backup(cli: &Cli, args: &BackupArgs) -> miette::Result<ExitCode> {
    on_local_store(cli, "`brain backup`", |engine, loaded, caller| {
        Box::pin(async move {
            let dir = args.out.clone().unwrap_or_else(|| loaded.backup_dir());
            let written = engine
                .backup_to(&caller, &dir, loaded.config.backup.keep)
                .await?;
            if cli.format == Format::Json {
                let _ = output::print_json(&written);
            } else {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{} events {}..{} and {} to {}",
                    paint(Paint::Green, "backed up"),
                    written.from_seq,
                    written.to_seq,
                    counts_line(&written.records),
                    written.dir
                );
                for removed in &written.removed {
                    let _ = writeln!(out, "  removed the older bundle {removed}");
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    })
}

fn counts_line(counts: &serde_json::Value) -> String {
    counts
        .as_object()
        .map(|counts| {
            counts
                .iter()
                .map(|(kind, count)| {
                    let count = count.as_u64().unwrap_or(0) as usize;
                    match (kind.as_str(), kind.strip_suffix('s')) {
                        ("runtime", _) if count == 1 => "1 runtime entry".to_string(),
                        ("runtime", _) => format!("{count} runtime entries"),
                        (_, Some(noun)) => crate::diagnostic::plural(count, noun),
                        (_, None) => format!("{count} {kind}"),
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// One numbered step of a long command, on stderr for people.
fn step(cli: &Cli, number: usize, total: usize, text: &str) {
    if cli.format == Format::Human {
        let _ = writeln!(std::io::stderr(), "[{number}/{total}] {text}");
    }
}

pub fn rebuild(cli: &Cli, args: &RebuildArgs) -> miette::Result<ExitCode> {
    if let Some(code) = local_only(cli, "`brain rebuild`") {
        return Ok(code);
    }
    // The bundle must verify with the key that signed it: never make a new one here.
    let (loaded, _) = match super::config::load_checked_from(cli, cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    if loaded.config.audit.signing_key.is_none() {
        let key = crate::engine::keys::default_key_path(&loaded.data_dir);
        if !key.exists() {
            return Ok(report_error(
                cli,
                &EngineError::invalid(
                    format!("there is no audit signing key at `{}`", key.display()),
                    "a rebuild verifies the bundle with the key that signed it: restore `audit-signing.key` from where you keep secrets (or set `audit.signing_key`), then run it again",
                ),
            ));
        }
    }
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let (engine, loaded) = match open_engine(cli).await {
            Ok(opened) => opened,
            Err(code) => return Ok(code),
        };
        let total = if args.no_snapshot { 3 } else { 4 };
        let result = async {
            let dir = match &args.from {
                Some(dir) => dir.clone(),
                None => {
                    let backups = loaded.backup_dir();
                    backup::bundles_in(&backups)?.pop().ok_or_else(|| {
                        EngineError::invalid(
                            format!("there is no backup bundle in `{}`", backups.display()),
                            "pass `--from DIR`, or set `backup.dir` to where `brain backup` writes",
                        )
                    })?
                }
            };
            step(cli, 1, total, &format!("verifying {}", dir.display()));
            let files = backup::read_bundle_dir(&dir)?;
            let progress = Progress::spinner(cli, "verifying the bundle");
            let restored = engine
                .restore(
                    &files.manifest,
                    &files.events,
                    files.records.as_deref(),
                    |step_done| match step_done {
                        RestoreStep::Verified => {
                            step(cli, 2, total, "restoring actors, delegations, proposals, approvals, exemptions and switches");
                            progress.set_message("restoring");
                        }
                        RestoreStep::Events { restored, total } => {
                            progress.set_message("audit events");
                            progress.set_progress(
                                u64::try_from(restored).unwrap_or(0),
                                u64::try_from(total).unwrap_or(0),
                            );
                        }
                        RestoreStep::Records | RestoreStep::Committed => {}
                    },
                )
                .await;
            drop(progress);
            let restored = restored?;
            step(cli, 3, total, "verifying the restored audit log");
            let progress = Progress::spinner(cli, "audit events verified");
            let verification = engine
                .verify_log(|checked, head| {
                    progress.set_progress(
                        u64::try_from(checked).unwrap_or(0),
                        u64::try_from(head).unwrap_or(0),
                    )
                })
                .await;
            drop(progress);
            let verification = verification?;
            if !verification.report.ok {
                return Err(EngineError::Conflict {
                    message: format!(
                        "the restored log does not verify: {}",
                        verification.report.problems.join("; ")
                    ),
                    help: Some("report this: a verified bundle must restore to a verified log".into()),
                });
            }
            let snapshot = if args.no_snapshot {
                None
            } else {
                step(cli, 4, total, "recomputing StudioState from the cloud");
                let sources = crate::cloud::configured(&loaded);
                if sources.is_empty() {
                    None
                } else {
                    let progress = Progress::spinner(cli, "computing StudioState");
                    let snapshot = engine
                        .take_snapshot(
                            &sources,
                            loaded.config.thresholds.drift_tolerance,
                            |collection, _| {
                                progress.set_message(format!("computing StudioState: read {collection}"))
                            },
                        )
                        .await;
                    drop(progress);
                    Some(snapshot?)
                }
            };
            Ok::<_, EngineError>((dir, restored, verification, snapshot))
        }
        .await;
        engine.store().close().await;
        Ok(match result {
            Ok((dir, restored, verification, snapshot)) => {
                let snapshot_json = snapshot.as_ref().map(|record| {
                    serde_json::json!({
                        "id": record.id,
                        "complete": record.complete,
                        "content_hash": record.content_hash,
                    })
                });
                if cli.format == Format::Json {
                    let _ = output::print_json(&serde_json::json!({
                        "bundle": dir.display().to_string(),
                        "restored": restored,
                        "verification": verification,
                        "snapshot": snapshot_json,
                    }));
                } else {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(
                        out,
                        "{} from {}: events {}..{}, {}",
                        paint(Paint::Green, "rebuilt"),
                        dir.display(),
                        restored.from_seq,
                        restored.to_seq,
                        counts_line(&restored.records)
                    );
                    let _ = writeln!(
                        out,
                        "  audit log verified: {} events, head {}",
                        verification.report.events, verification.report.head_seq
                    );
                    match &snapshot {
                        Some(record) => {
                            let _ = writeln!(
                                out,
                                "  StudioState {} ({}, content hash {})",
                                record.id,
                                if record.complete { "complete" } else { "PARTIAL" },
                                record.content_hash
                            );
                        }
                        None if args.no_snapshot => {}
                        None => {
                            let _ = writeln!(
                                out,
                                "  no cloud source is configured, so no snapshot was computed"
                            );
                        }
                    }
                }
                match &snapshot {
                    Some(record) if !record.complete => ExitCode::from(1),
                    _ => ExitCode::SUCCESS,
                }
            }
            Err(error) => report_error(cli, &error),
        })
    })
}

pub fn retention(cli: &Cli, command: &RetentionCommand) -> miette::Result<ExitCode> {
    let RetentionCommand::Run { dry_run } = command;
    on_local_store(cli, "`brain retention run`", |engine, loaded, caller| {
        Box::pin(async move {
            let report = engine
                .retention(
                    &caller,
                    &loaded.config.retention,
                    &loaded.backup_dir(),
                    *dry_run,
                )
                .await?;
            if cli.format == Format::Json {
                let _ = output::print_json(&report);
            } else {
                print_retention(&report);
            }
            Ok(ExitCode::SUCCESS)
        })
    })
}

fn print_retention(report: &crate::engine::retention::RetentionReport) {
    let mut out = std::io::stdout().lock();
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let _ = writeln!(
        out,
        "{}{verb}:",
        if report.dry_run {
            "dry run, nothing changed; "
        } else {
            ""
        }
    );
    let mut row = |label: &str, count: u64| {
        let _ = writeln!(out, "  {label:<28} {count:>8}");
    };
    row("snapshots", report.snapshots_deleted);
    row("snapshot diffs", report.diffs_cleared);
    row("proposal payloads", report.proposal_payloads_pruned);
    row("connector readings", report.connector_readings_deleted);
    row("audit events", report.audit.events_pruned);
    if let Some(seq) = report.audit.through_seq {
        let _ = writeln!(
            out,
            "  audit log now starts after the signed checkpoint at event {seq} (held by {})",
            report.audit.bundle.as_deref().unwrap_or("?")
        );
    }
    if let Some(reason) = &report.audit.held_back {
        let _ = writeln!(out, "  audit events kept: {reason}");
    }
}
