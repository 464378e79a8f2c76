//! `brain audit tail|verify|export`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;

use super::Cli;
use super::output::{self, Format};
use super::progress::Progress;
use super::session::{Control, Paint, on_local_store, paint, report_error, with_control};
use crate::audit::AuditEvent;
use crate::audit::bundle::{self, BundleReport};
use crate::audit::checkpoint::VerifyReport;
use crate::engine::EngineError;
use crate::store::AuditFilter;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The newest events, newest last.
    Tail {
        /// How many.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: i64,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        capability: Option<String>,
        /// allow, deny, error, succeeded, failed, ...
        #[arg(long)]
        decision: Option<String>,
        #[arg(long)]
        proposal: Option<String>,
    },
    /// Recompute the hash chain and check the signed checkpoints (or check an export bundle
    /// offline with `--bundle DIR`). Exit 1 names the first bad sequence number.
    Verify {
        /// An export bundle directory to check instead of the store.
        #[arg(long, value_name = "DIR")]
        bundle: Option<PathBuf>,
        /// The public key the bundle must be signed with (hex), to pin the signer.
        #[arg(long, value_name = "HEX")]
        public_key: Option<String>,
    },
    /// Write an export bundle (events.jsonl + signed manifest.json) to a new directory.
    Export {
        /// The directory to create.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Start at this sequence number (default: the first event).
        #[arg(long, value_name = "SEQ")]
        since: Option<i64>,
    },
}

fn print_events(cli: &Cli, events: &[AuditEvent]) {
    if cli.format == Format::Json {
        let _ = output::print_json(&events);
        return;
    }
    let mut out = std::io::stdout().lock();
    if events.is_empty() {
        let _ = writeln!(out, "no audit events");
    }
    for event in events {
        // Pad before painting so colour codes do not break the columns.
        let padded = format!("{:<9}", event.decision);
        let decision = match event.decision.as_str() {
            "allow" | "succeeded" => paint(Paint::Green, &padded),
            "deny" | "failed" | "error" => paint(Paint::Red, &padded),
            _ => padded,
        };
        let subject = [event.capability.as_deref(), event.proposal_id.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let reasons = if event.reason_codes.is_empty() {
            String::new()
        } else {
            format!("  [{}]", event.reason_codes.join(", "))
        };
        let line = format!(
            "{:>6}  {}  {:<24} {:<16} {decision} {subject}{reasons}",
            event.seq, event.at, event.actor, event.action
        );
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn print_report(
    cli: &Cli,
    report: &VerifyReport,
    what: &str,
    extra: serde_json::Value,
) -> ExitCode {
    if cli.format == Format::Json {
        let mut value = serde_json::to_value(report).unwrap_or_default();
        if let (Some(map), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            map.extend(extra);
        }
        let _ = output::print_json(&value);
    } else {
        let mut out = std::io::stdout().lock();
        if report.ok {
            let _ = writeln!(
                out,
                "{} {what}: {} events, chain head {} ({}), {} signed checkpoints (latest {})",
                paint(Paint::Green, "verified"),
                report.events,
                report.head_seq,
                &report.head_hash[..report.head_hash.len().min(16)],
                report.checkpoints,
                report
                    .latest_checkpoint
                    .map_or_else(|| "none".to_string(), |seq| seq.to_string())
            );
        } else {
            let _ = writeln!(
                out,
                "{} {what}: first bad event {}",
                paint(Paint::Red, "TAMPERED"),
                report
                    .first_bad_seq
                    .map_or_else(|| "unknown".to_string(), |seq| seq.to_string())
            );
            for problem in &report.problems {
                let _ = writeln!(out, "  - {problem}");
            }
        }
    }
    if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn read_bundle_file(dir: &Path, name: &str) -> Result<String, EngineError> {
    std::fs::read_to_string(dir.join(name)).map_err(|error| {
        EngineError::invalid(
            format!("cannot read `{}`: {error}", dir.join(name).display()),
            "point `--bundle` at a directory written by `brain audit export`",
        )
    })
}

fn verify_bundle(cli: &Cli, dir: &Path, public_key: Option<&str>) -> ExitCode {
    let files = (|| {
        let manifest = read_bundle_file(dir, bundle::MANIFEST_FILE)?;
        let events = read_bundle_file(dir, bundle::EVENTS_FILE)?;
        let records = std::fs::read_to_string(dir.join(bundle::RECORDS_FILE)).ok();
        Ok::<_, EngineError>((manifest, events, records))
    })();
    let (manifest, events, records) = match files {
        Ok(files) => files,
        Err(error) => return report_error(cli, &error),
    };
    match bundle::verify(&manifest, &events, records.as_deref(), public_key) {
        Ok((_, _, report)) => {
            let BundleReport {
                log,
                from_seq,
                to_seq,
                public_key,
            } = report;
            print_report(
                cli,
                &log,
                &format!("bundle {} (events {from_seq}..{to_seq})", dir.display()),
                serde_json::json!({ "bundle": dir.display().to_string(), "from_seq": from_seq, "to_seq": to_seq, "public_key": public_key }),
            )
        }
        Err(problem) => report_error(
            cli,
            &EngineError::invalid(problem, "the bundle is damaged; export it again"),
        ),
    }
}

pub fn run(cli: &Cli, command: &AuditCommand) -> miette::Result<ExitCode> {
    match command {
        AuditCommand::Verify {
            bundle: Some(dir),
            public_key,
        } => Ok(verify_bundle(cli, dir, public_key.as_deref())),
        AuditCommand::Export { out, since } => {
            on_local_store(cli, "`brain audit export`", |engine, _, caller| {
                Box::pin(async move {
                    let export = engine.audit_export(&caller, *since, None).await?;
                    crate::engine::backup::write_bundle_dir(out, &export.bundle)?;
                    let manifest = &export.bundle.manifest;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&serde_json::json!({
                            "out": out.display().to_string(),
                            "manifest": manifest,
                        }));
                    } else {
                        let _ = writeln!(
                            std::io::stdout(),
                            "exported events {}..{} ({} events) to {}",
                            manifest.from_seq,
                            manifest.to_seq,
                            manifest.count,
                            out.display()
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                })
            })
        }
        AuditCommand::Tail {
            lines,
            actor,
            capability,
            decision,
            proposal,
        } => {
            let filter = AuditFilter {
                actor: actor.clone(),
                capability: capability.clone(),
                decision: decision.clone(),
                proposal_id: proposal.clone(),
                before: None,
                limit: (*lines).max(1),
            };
            with_control(cli, |control: Arc<dyn Control>| {
                Box::pin(async move {
                    let mut events = control.audit_tail(&filter).await?;
                    events.reverse();
                    print_events(cli, &events);
                    Ok(ExitCode::SUCCESS)
                })
            })
        }
        AuditCommand::Verify { bundle: None, .. } => {
            with_control(cli, |control: Arc<dyn Control>| {
                Box::pin(async move {
                    let progress = Progress::spinner(cli, "verifying the audit log");
                    let verification = control
                        .audit_verify(&|checked, head| {
                            progress.set_progress(
                                u64::try_from(checked).unwrap_or(0),
                                u64::try_from(head).unwrap_or(0),
                            )
                        })
                        .await;
                    drop(progress);
                    let verification = verification?;
                    Ok(print_report(
                        cli,
                        &verification.report,
                        "audit log",
                        serde_json::json!({
                            "public_key": verification.public_key,
                            "pruned_through": verification.pruned_through,
                        }),
                    ))
                })
            })
        }
    }
}
