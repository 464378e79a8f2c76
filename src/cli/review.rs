//! `brain policy diff` and `brain policy replay`: what a change of the policy set does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};

use super::Cli;
use super::config::{report_config_error, report_workspace_error};
use super::output::{self, Format};
use super::progress::Progress;
use super::session::{Control, Paint, paint, with_control};
use crate::review::diff::{Change, DecisionChange, PolicyDiff};
use crate::review::replay::Replay;
use crate::review::{self, LoadError, render};
use crate::store::AuditFilter;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// What a change of the policy set does: every question whose answer changes.
    ///
    /// Both policy sets (policies, manifests, declared exemptions, state model) are asked the
    /// same questions: every capability, action, principal class (lint's invariant classes) and
    /// situation (kill switches, approvals, exemptions, freshness, quotas, the intake gate). The
    /// answers that differ are listed by capability with the policies that decide them on each
    /// side. `--format markdown` writes a pull request comment, `--format github` annotations.
    Diff(DiffArgs),
    /// Decide the audit log's recorded decisions again under a candidate policy set, and list
    /// each one whose outcome would change.
    ///
    /// Reads the local store, or a daemon's log with `--server` (a token allowed to read the
    /// audit log). Events written before brain recorded decision requests are counted, not
    /// replayed.
    Replay(ReplayArgs),
}

/// When a review fails the command (exit 1), for CI gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Anything denied before is allowed now.
    NewlyAllowed,
    /// Any difference at all.
    Any,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The policy set before the change: a directory, or a git revision of the repository
    /// (`origin/main`, `HEAD~1`) read without touching the working tree.
    #[arg(long, value_name = "DIR_OR_GIT_REV")]
    pub base: String,
    /// The policy set after the change (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub head: Option<PathBuf>,
    /// Exit 1 when the change newly allows something, or changes anything.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The candidate policy set: a studio repository directory.
    #[arg(long, value_name = "DIR")]
    pub candidate: PathBuf,
    /// Only decisions recorded within this long (`30d`, `12h`); default: the whole log.
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// Exit 1 when a recorded decision would be newly allowed, or would change at all.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub fail_on: Option<FailOn>,
}

pub fn run(cli: &Cli, command: &PolicyCommand) -> miette::Result<ExitCode> {
    match command {
        PolicyCommand::Diff(args) => Ok(diff(cli, args)),
        PolicyCommand::Replay(args) => replay(cli, args),
    }
}

fn report_load_error(cli: &Cli, error: &LoadError) -> ExitCode {
    match error {
        LoadError::NotFound { message, help } => output::print_report(&miette::miette!(
            code = "policy::not_found",
            help = help.clone(),
            "{message}"
        )),
        LoadError::Config(error) => report_config_error(cli, error),
        LoadError::Workspace(error) => report_workspace_error(cli, error),
    }
    ExitCode::from(2)
}

/// The config path to read on each side: `--config` made relative to the head directory.
fn config_relative(cli: &Cli, head: &Path) -> Option<PathBuf> {
    let path = cli.config.as_deref()?;
    if path.is_relative() {
        return Some(path.to_path_buf());
    }
    let head = std::fs::canonicalize(head).ok()?;
    path.strip_prefix(&head).ok().map(Path::to_path_buf)
}

fn diff(cli: &Cli, args: &DiffArgs) -> ExitCode {
    let head_dir = args.head.clone().unwrap_or_else(|| PathBuf::from("."));
    let config = config_relative(cli, &head_dir);
    let progress = Progress::spinner(cli, "loading both policy sets");
    let head = match review::load_dir(
        &head_dir,
        config.as_deref(),
        &head_dir.display().to_string(),
    ) {
        Ok(head) => head,
        Err(error) => return report_load_error(cli, &error),
    };
    let base = match review::load_base(&args.base, &head_dir, config.as_deref()) {
        Ok(base) => base,
        Err(error) => return report_load_error(cli, &error),
    };
    progress.set_message("asking both policy sets every question");
    let diff = review::diff::diff(&base.side(), &head.side(), crate::clock::now());
    drop(progress);
    match cli.format {
        Format::Json => {
            let _ = output::print_json(&diff);
        }
        Format::Markdown => print!("{}", render::diff_markdown(&diff)),
        Format::Github => {
            let locator = Locator::new(&head);
            print!(
                "{}",
                render::diff_github(&diff, &|change| locator.locate(change))
            );
        }
        Format::Human | Format::Sarif => print_diff(&diff),
    }
    let failing = match args.fail_on {
        Some(FailOn::NewlyAllowed) => diff.newly_allowed(),
        Some(FailOn::Any) => !diff.is_empty(),
        None => false,
    };
    if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Where a change is decided on the head side: the first deciding policy's file and line, else
/// the capability's manifest. Each policy file is read once, however many changes it decides.
struct Locator<'a> {
    head: &'a review::Loaded,
    cwd: Option<std::path::PathBuf>,
    /// A policy file's line starts (byte offsets), or `None` when it cannot be read.
    lines: std::cell::RefCell<std::collections::HashMap<String, Option<Vec<usize>>>>,
}

impl<'a> Locator<'a> {
    fn new(head: &'a review::Loaded) -> Self {
        Self {
            head,
            cwd: std::env::current_dir().ok(),
            lines: Default::default(),
        }
    }

    fn locate(&self, change: &DecisionChange) -> render::Location {
        let head = self.head;
        let policies = head.bundle.decider.policies();
        let found = change
            .policies_after
            .iter()
            .find_map(|id| policies.policy(id))
            .and_then(|policy| {
                let mut cache = self.lines.borrow_mut();
                let starts = cache.entry(policy.file.clone()).or_insert_with(|| {
                    std::fs::read_to_string(head.root.join(&policy.file))
                        .or_else(|_| std::fs::read_to_string(&policy.file))
                        .ok()
                        .map(|text| text.match_indices('\n').map(|(at, _)| at).collect())
                });
                let line = starts
                    .as_ref()?
                    .partition_point(|&newline| newline < policy.span.start)
                    + 1;
                let path = if Path::new(&policy.file).is_absolute() {
                    review::diff::relative_to(&head.root, Path::new(&policy.file))
                } else {
                    review::diff::relative_to(&head.root, &self.cwd.as_ref()?.join(&policy.file))
                };
                Some((path, line))
            });
        found.or_else(|| {
            let path = head
                .config
                .capabilities_dir()
                .join(format!("{}.yaml", change.capability));
            path.is_file()
                .then(|| (review::diff::relative_to(&head.root, &path), 1))
        })
    }
}

fn marker(change: Change) -> String {
    let padded = format!("{:<15}", change.as_str());
    match change {
        Change::NewlyAllowed => paint(Paint::Red, &padded),
        Change::NewlyDenied => paint(Paint::Yellow, &padded),
        Change::ReasonsChanged => paint(Paint::Dim, &padded),
    }
}

fn print_diff(diff: &PolicyDiff) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} {} → {}",
        paint(Paint::Bold, "policy diff"),
        diff.base.label,
        diff.head.label
    );
    let mut ordered: Vec<&DecisionChange> = diff.decisions.iter().collect();
    ordered.sort_by(|a, b| (&a.capability, a.change).cmp(&(&b.capability, b.change)));
    let mut capability = None;
    for change in ordered {
        if capability != Some(&change.capability) {
            let _ = writeln!(out, "\n  {}", paint(Paint::Bold, &change.capability));
            capability = Some(&change.capability);
        }
        let _ = writeln!(
            out,
            "    {} {:<16} {:<40} {:>4}/{:<4} e.g. {}",
            marker(change.change),
            change.action,
            change.principal,
            change.situations,
            change.of,
            change.example.describe()
        );
        let _ = writeln!(out, "    {:<15} before: {}", "", change.before.describe());
        let _ = writeln!(out, "    {:<15} after:  {}", "", change.after.describe());
    }
    if !diff.approvals.is_empty() {
        let _ = writeln!(
            out,
            "\n  {}",
            paint(Paint::Bold, "approvals needed to execute")
        );
        let needed = |value| render::approvals_needed(value, "never");
        for change in &diff.approvals {
            let _ = writeln!(
                out,
                "    {:<32} {:<40} {} → {}",
                change.capability,
                change.principal,
                needed(change.before),
                needed(change.after)
            );
        }
    }
    if !diff.manifests.is_empty() {
        let _ = writeln!(out, "\n  {}", paint(Paint::Bold, "capability manifests"));
        for change in &diff.manifests {
            let fields: Vec<&str> = change
                .fields
                .iter()
                .map(|field| field.field.as_str())
                .collect();
            let _ = writeln!(
                out,
                "    {:<32} {:<8} {}",
                change.capability,
                change.kind,
                fields.join(", ")
            );
        }
    }
    if !diff.exemptions.is_empty() {
        let _ = writeln!(out, "\n  {}", paint(Paint::Bold, "declared exemptions"));
        for change in &diff.exemptions {
            let _ = writeln!(
                out,
                "    {:<32} {:<8} {} (in force now: {} → {})",
                change.file,
                change.kind,
                change.capability.as_deref().unwrap_or("-"),
                change.in_force_before,
                change.in_force_after
            );
        }
    }
    if let Some(model) = &diff.state_model {
        let _ = writeln!(
            out,
            "\n  {} {} → {} (snapshots under the two are not compared field by field)",
            paint(Paint::Bold, "state model"),
            model.before,
            model.after
        );
        for value in &model.values {
            let _ = writeln!(
                out,
                "    {:<24} {:<24} {} → {}",
                value.collection,
                value.value,
                value.before.unwrap_or("unclassified"),
                value.after.unwrap_or("unclassified")
            );
        }
        if !model.collections.is_empty() {
            let _ = writeln!(
                out,
                "    other rules changed: {}",
                model.collections.join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "\n{} ({} asked of {})",
        render::diff_headline(diff),
        crate::diagnostic::plural(diff.summary.questions, "question"),
        crate::diagnostic::plural(diff.summary.capabilities_reevaluated, "capability")
    );
}

/// Page backwards through the audit log until `since` (or its start).
async fn read_events(
    control: &dyn Control,
    since: Option<chrono::DateTime<chrono::Utc>>,
    progress: &Progress,
) -> Result<Vec<crate::audit::AuditEvent>, crate::engine::EngineError> {
    const PAGE: i64 = 500;
    let mut events = Vec::new();
    let mut before = None;
    loop {
        let page = control
            .audit_tail(&AuditFilter {
                before,
                limit: PAGE,
                ..AuditFilter::default()
            })
            .await?;
        let Some(oldest) = page.iter().map(|event| event.seq).min() else {
            break;
        };
        let full = i64::try_from(page.len()).unwrap_or(0) >= PAGE;
        let mut reached = false;
        for event in page {
            let inside = since.is_none_or(|since| {
                crate::clock::parse_time(&event.at).is_none_or(|at| at >= since)
            });
            if inside {
                events.push(event);
            } else {
                reached = true;
            }
        }
        progress.set_message(format!("reading the audit log ({} events)", events.len()));
        if reached || !full || oldest <= 1 {
            break;
        }
        before = Some(oldest);
    }
    Ok(events)
}

fn replay(cli: &Cli, args: &ReplayArgs) -> miette::Result<ExitCode> {
    if matches!(cli.format, Format::Github | Format::Sarif) {
        output::print_report(&miette::miette!(
            code = "usage::format",
            help = "use `--format human`, `json` or `markdown`",
            "`brain policy replay` prints no annotations"
        ));
        return Ok(ExitCode::from(2));
    }
    let since = match args.since.as_deref().map(crate::config::Duration::parse) {
        None => None,
        Some(Ok(duration)) => Some(
            crate::clock::now()
                - chrono::Duration::seconds(
                    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX / 4),
                ),
        ),
        Some(Err(problem)) => {
            output::print_report(&miette::miette!(
                code = "usage::since",
                help = "write a number and a unit, such as `--since 30d` or `--since 12h`",
                "--since: {problem}"
            ));
            return Ok(ExitCode::from(2));
        }
    };
    let candidate =
        match review::load_dir(&args.candidate, None, &args.candidate.display().to_string()) {
            Ok(candidate) => candidate,
            Err(error) => return Ok(report_load_error(cli, &error)),
        };
    let candidate = Arc::new(candidate);
    let fail_on = args.fail_on;
    with_control(cli, move |control: Arc<dyn Control>| {
        Box::pin(async move {
            let progress = Progress::spinner(cli, "reading the audit log");
            let events = read_events(&*control, since, &progress).await?;
            progress.set_message(format!("replaying {} events", events.len()));
            let replay = review::replay::replay(
                &candidate.bundle,
                &candidate.label,
                since.map(crate::clock::format_time),
                &events,
            );
            drop(progress);
            match cli.format {
                Format::Json => {
                    let _ = output::print_json(&replay);
                }
                Format::Markdown => print!("{}", render::replay_markdown(&replay)),
                _ => print_replay(&replay),
            }
            let failing = match fail_on {
                Some(FailOn::NewlyAllowed) => replay.newly_allowed(),
                Some(FailOn::Any) => !replay.changes.is_empty(),
                None => false,
            };
            Ok(if failing {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        })
    })
}

fn print_replay(replay: &Replay) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} under {}",
        paint(Paint::Bold, "policy replay"),
        replay.candidate
    );
    for change in &replay.changes {
        let _ = writeln!(
            out,
            "  {:>6}  {}  {:<24} {:<16} {:<32} {}",
            change.seq,
            marker(change.change),
            change.actor,
            change.action,
            change.capability.as_deref().unwrap_or("-"),
            change.at
        );
        let _ = writeln!(out, "          before: {}", change.before.describe());
        let _ = writeln!(out, "          after:  {}", change.after.describe());
    }
    for problem in &replay.problems {
        let _ = writeln!(
            out,
            "  {:>6}  not replayed: {}",
            problem.seq, problem.problem
        );
    }
    let _ = writeln!(out, "\n{}", render::replay_headline(replay));
    if replay.summary.without_request > 0 {
        let _ = writeln!(
            out,
            "{} without a recorded request (older, or not decisions) were not replayed",
            crate::diagnostic::plural(replay.summary.without_request, "event")
        );
    }
}
