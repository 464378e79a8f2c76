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
use crate::diagnostic::plural;
use crate::engine::EngineError;
use crate::snapshot::{CollectionState, FieldChange, Provenance, StudioState};
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
    /// Which rule of the state model put which records where, for spot checks: counts per
    /// lifecycle value per class, with example record ids.
    Explain(ExplainArgs),
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The snapshot (default: the newest).
    pub id: Option<String>,
    /// The collection to explain (`batches`, `stripe:payment_intents`, ...).
    #[arg(long, value_name = "C")]
    pub collection: String,
    /// Only this lifecycle value (compared case-insensitively).
    #[arg(long, value_name = "V")]
    pub value: Option<String>,
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

/// Amounts in minor units by currency, as people write them: `45.00 USD, 3.50 EUR`.
pub(super) fn money(amounts: &std::collections::BTreeMap<String, i64>) -> String {
    amounts
        .iter()
        .map(|(currency, minor)| {
            let sign = if *minor < 0 { "-" } else { "" };
            format!(
                "{sign}{}.{:02} {}",
                minor.abs() / 100,
                minor.abs() % 100,
                currency.to_uppercase()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line about a collection: its queue, closed items and what else the model counts.
fn collection_line(collection: &CollectionState) -> String {
    let mut line = format!(
        "{} in queue (oldest {}), {} closed",
        collection.queue.count,
        age(&collection.queue),
        collection.closed
    );
    if let Some(high) = collection.high_severity {
        line.push_str(&format!(", {high} high severity"));
    }
    if let Some(starting) = collection.starting_next_24h {
        line.push_str(&format!(", {starting} starting in the next 24h"));
    }
    if !collection.queue_amount.is_empty() {
        line.push_str(&format!(" ({})", money(&collection.queue_amount)));
    }
    if let Some(recent) = &collection.recent {
        line.push_str(&format!(", {} in the last {}", recent.count, recent.within));
        if !recent.amount.is_empty() {
            line.push_str(&format!(" ({})", money(&recent.amount)));
        }
    }
    if collection.unclassified > 0 {
        line.push_str(&format!(
            ", {}",
            paint(
                Paint::Yellow,
                &format!("{} unclassified", collection.unclassified)
            )
        ));
    }
    line
}

/// Warn on stderr about records the model put in no class, naming their values.
fn warn_unclassified(state: &StudioState) {
    for (name, collection) in &state.collections {
        if collection.unclassified == 0 {
            continue;
        }
        let values: Vec<String> = collection
            .unclassified_values()
            .map(|(value, count)| format!("`{value}` ({})", count.count))
            .collect();
        output::warning(&format!(
            "{} unclassified in `{name}`: {}; the state model puts these values in no class (`brain snapshot explain --collection {name}` shows them; add them to the model to count them)",
            plural(
                usize::try_from(collection.unclassified).unwrap_or(usize::MAX),
                "record"
            ),
            values.join(", ")
        ));
    }
}

fn print_state(record: &SnapshotRecord) {
    let mut out = std::io::stdout().lock();
    let state: StudioState = serde_json::from_value(record.state.clone()).unwrap_or_default();
    let provenance: Provenance =
        serde_json::from_value(record.provenance.clone()).unwrap_or_default();
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
    if let Some(model) = &provenance.model {
        let _ = writeln!(out, "  state model  {model}");
    }
    let mut row = |label: &str, value: String| {
        let _ = writeln!(out, "  {label:<24} {value}");
    };
    for (name, collection) in &state.collections {
        let label = if collection.title.is_empty() {
            name.as_str()
        } else {
            collection.title.as_str()
        };
        row(label, collection_line(collection));
    }
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
            if let Some(change) = changes
                .first()
                .filter(|change| change.field == crate::snapshot::MODEL_CHANGE)
            {
                let name = |value: &Value| {
                    serde_json::from_value::<crate::snapshot::ModelRef>(value.clone())
                        .map_or_else(|_| "no model".to_string(), |model| model.to_string())
                };
                let _ = writeln!(
                    out,
                    "  {} the state model changed ({} → {}): counts below differ partly because the rules did, not only the records",
                    paint(Paint::Yellow, "note"),
                    name(&change.from),
                    name(&change.to)
                );
            }
            let shown: Vec<&FieldChange> = changes
                .iter()
                .filter(|change| change.field != crate::snapshot::MODEL_CHANGE)
                .collect();
            let width = shown
                .iter()
                .map(|change| change.field.chars().count())
                .max()
                .unwrap_or(0);
            for change in shown {
                let _ = writeln!(
                    out,
                    "  {:<width$} {} → {}",
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
                    if let Ok(state) = serde_json::from_value::<StudioState>(record.state.clone()) {
                        warn_unclassified(&state);
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
                SnapshotCommand::Explain(args) => {
                    let record = engine.snapshot(&caller, args.id.as_deref()).await?;
                    let explained = explain(&record, engine.policy().state_model.as_ref(), args)?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&explained);
                    } else {
                        print_explained(&explained);
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

/// What `brain snapshot explain` prints.
#[derive(Debug, serde::Serialize)]
struct Explained {
    snapshot: String,
    collection: String,
    title: String,
    /// The model the snapshot was computed with.
    model: Option<crate::snapshot::ModelRef>,
    /// The model brain loads now, when it differs from the snapshot's.
    current_model: Option<crate::snapshot::ModelRef>,
    lifecycle: Vec<String>,
    queue_classes: Vec<crate::snapshot::Class>,
    records: u64,
    classes: std::collections::BTreeMap<&'static str, u64>,
    unclassified: u64,
    values: Vec<ExplainedValue>,
    /// With `--value`: how the current model classifies it, seen or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    value_rule: Option<ValueRule>,
}

#[derive(Debug, serde::Serialize)]
struct ExplainedValue {
    value: String,
    /// `open`, `in_progress`, `closed` or `unclassified`.
    class: String,
    rule: Option<String>,
    count: u64,
    examples: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
struct ValueRule {
    value: String,
    class: String,
    rule: Option<String>,
}

fn class_name(class: Option<crate::snapshot::Class>) -> String {
    class.map_or_else(
        || "unclassified".to_string(),
        |class| class.as_str().to_string(),
    )
}

fn explain(
    record: &SnapshotRecord,
    model: &crate::snapshot::Model,
    args: &ExplainArgs,
) -> Result<Explained, EngineError> {
    let name = args.collection.as_str();
    let known = crate::snapshot::model::KNOWN_COLLECTIONS;
    if !known.contains(&name) {
        let suggestion = crate::diagnostic::did_you_mean(name, known.iter().copied())
            .map_or_else(String::new, |found| format!("did you mean `{found}`? "));
        return Err(EngineError::invalid(
            format!("brain reads no collection named `{name}`"),
            format!("{suggestion}collections: {}", known.join(", ")),
        ));
    }
    let state: StudioState = serde_json::from_value(record.state.clone()).unwrap_or_default();
    let provenance: Provenance =
        serde_json::from_value(record.provenance.clone()).unwrap_or_default();
    let Some(collection) = state.collection(name) else {
        let failed = provenance
            .sources
            .iter()
            .flat_map(|source| &source.collections)
            .find(|read| read.collection == name && !read.complete);
        let why = match failed {
            Some(read) => format!(
                "its read failed in that snapshot ({})",
                read.problem.as_deref().unwrap_or("unknown problem")
            ),
            None if model.rule(name).is_none() => "the state model does not cover it".to_string(),
            None => "no configured source read it".to_string(),
        };
        return Err(EngineError::invalid(
            format!("snapshot `{}` counts no `{name}`: {why}", record.id),
            "`brain snapshot show` lists what the snapshot holds and which reads failed",
        ));
    };
    let wanted = args.value.as_deref().map(crate::snapshot::model::normalize);
    let values = collection
        .values
        .iter()
        .filter(|(value, _)| {
            wanted
                .as_deref()
                .is_none_or(|wanted| crate::snapshot::model::normalize(value) == wanted)
        })
        .map(|(value, count)| ExplainedValue {
            value: value.clone(),
            class: class_name(count.class),
            rule: count.rule.clone(),
            count: count.count,
            examples: count.examples.clone(),
        })
        .collect();
    let rule = model.rule(name);
    let current = model.reference();
    Ok(Explained {
        snapshot: record.id.clone(),
        collection: name.to_string(),
        title: collection.title.clone(),
        current_model: (provenance.model.as_ref() != Some(&current)).then_some(current),
        model: provenance.model,
        lifecycle: rule.map(|rule| rule.lifecycle.clone()).unwrap_or_default(),
        queue_classes: rule
            .map(|rule| {
                rule.queue.clone().unwrap_or_else(|| {
                    vec![
                        crate::snapshot::Class::Open,
                        crate::snapshot::Class::InProgress,
                    ]
                })
            })
            .unwrap_or_default(),
        records: collection.records,
        classes: std::collections::BTreeMap::from([
            ("open", collection.open),
            ("in_progress", collection.in_progress),
            ("closed", collection.closed),
        ]),
        unclassified: collection.unclassified,
        values,
        value_rule: args.value.as_ref().map(|value| {
            let found = model.classify(name, value);
            ValueRule {
                value: value.clone(),
                class: class_name(found.as_ref().map(|found| found.class)),
                rule: found.map(|found| found.rule),
            }
        }),
    })
}

fn print_explained(explained: &Explained) {
    let mut out = std::io::stdout().lock();
    let model = explained
        .model
        .as_ref()
        .map_or_else(|| "no recorded model".to_string(), ToString::to_string);
    let _ = writeln!(
        out,
        "{} (`{}`) in snapshot {} (derived from cloud), counted under {model}",
        paint(Paint::Bold, &explained.title),
        explained.collection,
        explained.snapshot
    );
    if let Some(current) = &explained.current_model {
        let _ = writeln!(
            out,
            "  {} brain now loads {current}: the rules below are today's, the counts the snapshot's",
            paint(Paint::Yellow, "note")
        );
    }
    let _ = writeln!(
        out,
        "  lifecycle field {}; the queue counts {}",
        explained.lifecycle.join(", then "),
        explained
            .queue_classes
            .iter()
            .map(|class| class.as_str())
            .collect::<Vec<_>>()
            .join(" and ")
    );
    if explained.values.is_empty() {
        let _ = writeln!(out, "  no record carried that value");
    } else {
        let _ = writeln!(
            out,
            "  {:<13} {:<24} {:<20} {:>7}  EXAMPLES",
            "CLASS", "VALUE", "MODEL ENTRY", "RECORDS"
        );
    }
    let mut values: Vec<&ExplainedValue> = explained.values.iter().collect();
    let order = |class: &str| match class {
        "open" => 0,
        "in_progress" => 1,
        "closed" => 2,
        _ => 3,
    };
    values.sort_by_key(|value| (order(&value.class), value.value.clone()));
    for value in values {
        let class = if value.class == "unclassified" {
            paint(Paint::Yellow, &format!("{:<13}", value.class))
        } else {
            format!("{:<13}", value.class)
        };
        let _ = writeln!(
            out,
            "  {class} {:<24} {:<20} {:>7}  {}",
            value.value,
            value.rule.as_deref().unwrap_or("—"),
            value.count,
            value.examples.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "  {} records: {} open, {} in progress, {} closed, {} unclassified",
        explained.records,
        explained.classes["open"],
        explained.classes["in_progress"],
        explained.classes["closed"],
        explained.unclassified
    );
    if let Some(rule) = &explained.value_rule {
        let _ = writeln!(
            out,
            "  `{}` is {} under the current model{}",
            rule.value,
            rule.class,
            rule.rule
                .as_ref()
                .map_or_else(String::new, |entry| format!(" (entry `{entry}`)"))
        );
    }
}
