//! `brain drill list|run`: resilience drills in a sandbox brain, recorded in the audit log.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use super::Cli;
use super::output::{self, Format};
use super::progress::Progress;
use super::session::{Paint, on_local_store, paint};
use crate::drill::{self, DrillReport, SCENARIOS};

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// The scenarios brain can run.
    List,
    /// Run a scenario against a sandbox brain the drill builds itself (its own temporary store,
    /// or for `store-outage` and `leader-loss` real daemons on its own PostgreSQL database; this
    /// studio's policy set), so it never touches the studio's data; the outcome is recorded in
    /// the studio's audit log (a token allowed to read the audit log). Exit 1 when a check
    /// fails.
    Run {
        /// The scenario, such as `kill-switch` (`brain drill list` lists them).
        scenario: String,
        /// The PostgreSQL server `store-outage` and `leader-loss` create their own database on
        /// (and drop afterwards), with a role that may create databases; default: the studio's
        /// store, when it is Postgres.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
}

pub fn run(cli: &Cli, command: &DrillCommand) -> miette::Result<ExitCode> {
    match command {
        DrillCommand::List => {
            if cli.format == Format::Json {
                output::print_json(
                    &SCENARIOS
                        .iter()
                        .map(|scenario| {
                            serde_json::json!({ "scenario": scenario.name, "summary": scenario.summary })
                        })
                        .collect::<Vec<_>>(),
                )?;
            } else {
                let mut out = std::io::stdout().lock();
                for scenario in SCENARIOS {
                    let _ = writeln!(out, "{:<28} {}", scenario.name, scenario.summary);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DrillCommand::Run {
            scenario,
            database_url,
        } => {
            on_local_store(cli, "`brain drill run`", |engine, loaded, caller| {
                Box::pin(async move {
                    // Only someone allowed to read the audit log may record a drill in it;
                    // refuse before building anything.
                    engine
                        .authorize_area(&caller, crate::policy::decide::Action::Audit)
                        .await?;
                    let progress =
                        Progress::spinner(cli, format!("drill `{scenario}`: running in a sandbox"));
                    let options = drill::Options {
                        database_url: database_url.clone(),
                    };
                    let report = drill::run(scenario, &loaded, &options).await;
                    drop(progress);
                    let report = report?;
                    let value = serde_json::to_value(&report).unwrap_or_default();
                    let event = engine
                        .record_drill(&caller, &report.scenario, report.passed(), value)
                        .await?;
                    if cli.format == Format::Json {
                        let mut value = serde_json::to_value(&report).unwrap_or_default();
                        value["audit_seq"] = serde_json::json!(event.seq);
                        let _ = output::print_json(&value);
                    } else {
                        print_report(&report, event.seq);
                    }
                    Ok(if report.passed() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    })
                })
            })
        }
    }
}

fn print_report(report: &DrillReport, seq: i64) {
    let mut out = std::io::stdout().lock();
    let outcome = if report.passed() {
        paint(Paint::Green, "passed")
    } else {
        paint(Paint::Red, "FAILED")
    };
    let _ = writeln!(out, "drill {} {outcome}", report.scenario);
    for check in &report.checks {
        let mark = if check.passed {
            paint(Paint::Green, "ok  ")
        } else {
            paint(Paint::Red, "FAIL")
        };
        let _ = writeln!(out, "  {mark} {}: {}", check.name, check.detail);
    }
    if let Some(seconds) = report.recovery_seconds {
        let _ = writeln!(out, "recovered in {seconds:.3}s");
    }
    let _ = writeln!(out, "recorded in the audit log as event {seq}");
}
