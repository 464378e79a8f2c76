//! `brain snapshot run|show|diff|history`: StudioState, derived from the cloud.
//!
//! `run` reads the sources `brain.yaml` configures (`cloud.fixtures`, ...) or the one named on
//! the command line (`--source fixtures --dir D`), shows each collection as it finishes, and
//! records the snapshot; the others read what is recorded. With `--format json` each prints the
//! snapshot record (or a list of them, or the list of changes).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::Value;

use super::Cli;
use super::output::{self, Format};
use super::progress::Progress;
use super::session::{Paint, on_local_store, paint};
use crate::cloud::Source;
use crate::cloud::fixtures::FixtureSource;
use crate::config::LoadedConfig;
use crate::engine::EngineError;
use crate::snapshot::{FieldChange, Provenance, StudioState};
use crate::store::SnapshotRecord;

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Compute a snapshot now and record it.
    Run(RunArgs),
    /// The newest snapshot (or one by id), with its provenance.
    Show { id: Option<String> },
    /// What changed in a snapshot (the newest by default) since the one before it.
    Diff { id: Option<String> },
    /// Recorded snapshots, newest first.
    History {
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// A directory of JSON documents per collection (`--dir`).
    Fixtures,
    /// Firestore (`--project`): the emulator when `FIRESTORE_EMULATOR_HOST` is set, else the
    /// service account of `cloud.firestore.credentials`.
    Firestore,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Read this source instead of the ones brain.yaml configures.
    #[arg(long, value_enum)]
    pub source: Option<SourceKind>,
    /// The fixture directory, with `--source fixtures`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// The Firestore project id, with `--source firestore` (default: `cloud.firestore.project_id`).
    #[arg(long, value_name = "ID")]
    pub project: Option<String>,
}

/// The sources a run reads.
fn sources(loaded: &LoadedConfig, args: &RunArgs) -> Result<Vec<Arc<dyn Source>>, EngineError> {
    match args.source {
        Some(SourceKind::Fixtures) => {
            let Some(dir) = &args.dir else {
                return Err(EngineError::invalid(
                    "`--source fixtures` needs `--dir DIR`",
                    "name the directory holding one folder of JSON documents per collection",
                ));
            };
            if !dir.is_dir() {
                return Err(EngineError::invalid(
                    format!("`{}` is not a directory", dir.display()),
                    "pass the fixture directory, such as `examples/studio/cloud`",
                ));
            }
            Ok(vec![Arc::new(FixtureSource::new(dir))])
        }
        Some(SourceKind::Firestore) => {
            let project = args
                .project
                .clone()
                .or_else(|| {
                    loaded
                        .config
                        .cloud
                        .firestore
                        .as_ref()
                        .map(|firestore| firestore.project_id.clone())
                })
                .ok_or_else(|| {
                    EngineError::invalid(
                        "`--source firestore` needs a project",
                        "pass `--project ID` or set `cloud.firestore.project_id` in brain.yaml",
                    )
                })?;
            let mut firestore =
                loaded
                    .config
                    .cloud
                    .firestore
                    .clone()
                    .unwrap_or(crate::config::FirestoreConfig {
                        project_id: project.clone(),
                        database: "(default)".into(),
                        credentials: None,
                    });
            firestore.project_id = project;
            let client = crate::cloud::firestore_client(&firestore).map_err(|problem| {
                EngineError::invalid(problem, "set `FIRESTORE_EMULATOR_HOST`, or `cloud.firestore.credentials` to a service-account key")
            })?;
            Ok(vec![Arc::new(
                crate::cloud::firestore::FirestoreSource::new(client),
            )])
        }
        None => {
            let all = crate::cloud::configured(loaded);
            if all.is_empty() {
                return Err(EngineError::invalid(
                    "brain.yaml configures no cloud source",
                    "set `cloud.fixtures.dir` in brain.yaml, or pass `--source fixtures --dir DIR`",
                ));
            }
            Ok(all)
        }
    }
}

fn age(queue: &crate::snapshot::Queue) -> String {
    queue
        .oldest_age_seconds(crate::clock::now())
        .map_or_else(|| "—".into(), crate::clock::human_duration)
}

fn print_state(record: &SnapshotRecord) {
    let mut out = std::io::stdout().lock();
    let state: StudioState = serde_json::from_value(record.state.clone()).unwrap_or_default();
    let completeness = if record.complete {
        paint(Paint::Green, "complete")
    } else {
        paint(Paint::Red, "PARTIAL")
    };
    let _ = writeln!(
        out,
        "StudioState {} (derived from cloud, not the record of truth)",
        paint(Paint::Bold, &record.id)
    );
    let _ = writeln!(out, "  computed     {}  {completeness}", record.computed_at);
    let _ = writeln!(out, "  content hash {}", record.content_hash);
    let mut row = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<24} {value}");
    };
    row(
        "batches",
        format!(
            "{} active (oldest {}), {} closed",
            state.batches.active.open,
            age(&state.batches.active),
            state.batches.closed
        ),
    );
    row(
        "reservations",
        format!(
            "{} open (oldest {})",
            state.reservations.open,
            age(&state.reservations)
        ),
    );
    row(
        "kiln firings",
        format!(
            "{} scheduled through ready, {} in the next 24h",
            state.kiln_firings.in_progress.open, state.kiln_firings.next_24h
        ),
    );
    row(
        "community reports",
        format!(
            "{} open ({} high severity, oldest {})",
            state.community_reports.open.open,
            state.community_reports.open_high_severity,
            age(&state.community_reports.open)
        ),
    );
    row(
        "agent requests",
        format!(
            "{} pending (oldest {})",
            state.agent_requests.open,
            age(&state.agent_requests)
        ),
    );
    row(
        "materials orders",
        format!(
            "{} pending (oldest {})",
            state.materials_orders.open,
            age(&state.materials_orders)
        ),
    );
    let money = |amounts: &std::collections::BTreeMap<String, i64>| {
        if amounts.is_empty() {
            return "none".to_string();
        }
        amounts
            .iter()
            .map(|(currency, minor)| {
                format!(
                    "{}.{:02} {}",
                    minor / 100,
                    (minor % 100).abs(),
                    currency.to_uppercase()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    row(
        "payments",
        format!(
            "{} unsettled ({}), {} payouts in the last 7 days ({})",
            state.payments.unsettled,
            money(&state.payments.unsettled_amount),
            state.payments.recent_payouts,
            money(&state.payments.recent_payout_amount)
        ),
    );
    // Devices come from the connectors' own readings, observed at their own time.
    for (id, devices) in &state.devices {
        let unparseable = if devices.unparseable > 0 {
            format!(", {} unreadable items", devices.unparseable)
        } else {
            String::new()
        };
        row(
            &format!("devices: {id}"),
            format!(
                "{} from {}, {} when observed at {}{unparseable}",
                devices.devices.len(),
                devices.kind,
                devices.health,
                devices.observed_at
            ),
        );
    }
    let provenance: Provenance =
        serde_json::from_value(record.provenance.clone()).unwrap_or_default();
    for source in &provenance.sources {
        let _ = writeln!(
            out,
            "  source {} at {}: {} documents, read {}, newest update {}, {}",
            source.source,
            source.location,
            source.documents_read,
            source.read_time,
            source.newest_update_time.as_deref().unwrap_or("—"),
            source.completeness
        );
        for read in source.collections.iter().filter(|read| !read.complete) {
            let _ = writeln!(
                out,
                "    {} {}: {}",
                paint(Paint::Red, "failed"),
                read.collection,
                read.problem.as_deref().unwrap_or("unknown")
            );
        }
    }
    if let Some(drift) = record.drift.as_array().filter(|drift| !drift.is_empty()) {
        for item in drift {
            let _ = writeln!(
                out,
                "  {} {}: brain read {}, the cloud counts {}",
                paint(Paint::Yellow, "drift"),
                item["collection"].as_str().unwrap_or("?"),
                item["local"],
                item["cloud"]
            );
        }
    }
}

fn print_changes(record: &SnapshotRecord) {
    let changes: Vec<FieldChange> = serde_json::from_value(record.diff.clone()).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    match &record.previous_id {
        None => {
            let _ = writeln!(
                out,
                "{} is the first snapshot: nothing to compare",
                record.id
            );
        }
        Some(previous) if changes.is_empty() => {
            let _ = writeln!(out, "{} is unchanged since {previous}", record.id);
        }
        Some(previous) => {
            let _ = writeln!(out, "{} since {previous}:", record.id);
            for change in &changes {
                let _ = writeln!(
                    out,
                    "  {:<44} {} → {}",
                    change.field, change.from, change.to
                );
            }
        }
    }
}

pub fn run(cli: &Cli, command: &SnapshotCommand) -> miette::Result<ExitCode> {
    on_local_store(cli, "`brain snapshot`", |engine, loaded, caller| {
        Box::pin(async move {
            match command {
                SnapshotCommand::Run(args) => {
                    engine
                        .authorize_area(&caller, crate::policy::decide::Action::View)
                        .await?;
                    let sources = sources(&loaded, args)?;
                    let human = cli.format == Format::Human;
                    let progress = Progress::spinner(cli, "computing StudioState");
                    let mut collections = 0;
                    let record = engine
                        .take_snapshot(
                            &sources,
                            loaded.config.thresholds.drift_tolerance,
                            |collection, documents| {
                                if human {
                                    progress.println(&format!(
                                        "  read {collection}: {documents} documents"
                                    ));
                                }
                                collections += 1;
                                progress.set_message(format!(
                                    "computing StudioState: {} read",
                                    crate::diagnostic::plural(collections, "collection")
                                ));
                            },
                        )
                        .await?;
                    drop(progress);
                    if human {
                        print_state(&record);
                        print_changes(&record);
                    } else {
                        let _ = output::print_json(&record);
                    }
                    Ok(if record.complete {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    })
                }
                SnapshotCommand::Show { id } => {
                    let record = engine.snapshot(&caller, id.as_deref()).await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&record);
                    } else {
                        print_state(&record);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                SnapshotCommand::Diff { id } => {
                    let record = engine.snapshot(&caller, id.as_deref()).await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&serde_json::json!({
                            "snapshot": record.id,
                            "previous": record.previous_id,
                            "changes": record.diff,
                        }));
                    } else {
                        print_changes(&record);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                SnapshotCommand::History { limit } => {
                    let records = engine.snapshots(&caller, *limit).await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&records);
                    } else {
                        let mut out = std::io::stdout().lock();
                        if records.is_empty() {
                            let _ = writeln!(out, "no snapshots yet: run `brain snapshot run`");
                        } else {
                            let _ = writeln!(
                                out,
                                "{:<16} {:<29} {:<9} {:>9} {:>8} {:>6}",
                                "SNAPSHOT", "COMPUTED", "STATUS", "DOCUMENTS", "CHANGES", "DRIFT"
                            );
                        }
                        for record in &records {
                            let documents: u64 = record.documents_read();
                            let count = |value: &Value| value.as_array().map_or(0, Vec::len);
                            let _ = writeln!(
                                out,
                                "{:<16} {:<29} {:<9} {:>9} {:>8} {:>6}",
                                record.id,
                                record.computed_at,
                                if record.complete {
                                    "complete"
                                } else {
                                    "partial"
                                },
                                documents,
                                count(&record.diff),
                                count(&record.drift)
                            );
                        }
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        })
    })
}
