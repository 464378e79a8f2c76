//! The command line: clap types and one module per subcommand. No policy logic lives here; each
//! command loads what it needs, calls the library, and prints for people or for machines.
//!
//! Exit codes: 0 done or allowed; 1 denied, refused, or findings at error level; 2 usage or
//! internal error (including an invalid config).

mod audit;
mod backup;
mod config;
mod connectors;
mod drill;
mod generate;
mod governance;
mod init;
mod intake;
mod lifecycle;
mod lint;
mod migrate;
mod output;
mod policy;
mod progress;
mod remote;
mod review;
mod scorecard;
mod serve;
mod session;
mod snapshot;
mod swarm;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::telemetry::LogFormat;
pub use output::Format;

const AFTER_HELP: &str = "\
Exit codes:
  0  done, allowed, or clean
  1  denied or refused (with reason codes), or findings at error level
  2  usage error, invalid config, or internal error

Environment:
  BRAIN_CONFIG     config file (same as --config)
  BRAIN_DATA_DIR   directory for local state when brain.yaml sets no `data_dir`
  BRAIN_TOKEN      the caller's token (same as --token-file with the token in a file)
  BRAIN_SERVER     a daemon's URL (same as --server)
  BRAIN_LOG        log filter, such as `debug` or `info,sqlx=warn`
  NO_COLOR         disable colour";

/// brain: policy-as-code engine and local control plane for a studio.
///
/// The cloud stays authoritative; brain computes and proposes; irreversible actions need
/// approval; everything is auditable; the system fails safe.
#[derive(Debug, Parser)]
#[command(name = "brain", version, about, long_about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Config file (default: ./brain.yaml if present, else the built-in demo studio).
    #[arg(long, global = true, env = "BRAIN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output for people (`human`) or for machines (`json`); `markdown` is for
    /// `brain scorecard` only.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    /// File holding the caller's token (default: the `BRAIN_TOKEN` environment variable).
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Run lifecycle and governance commands against a `brain serve` daemon through its API
    /// (default: the local store).
    #[arg(long, global = true, env = "BRAIN_SERVER", value_name = "URL")]
    pub server: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: the staff console, the JSON API, health, readiness and metrics.
    ///
    /// While it runs it polls the device connectors, computes StudioState snapshots and writes
    /// backups and retention runs on their schedules, expires proposals, resolves executions a
    /// crash interrupted (at start), and signs an audit checkpoint when it stops (Ctrl-C or
    /// SIGTERM).
    Serve(serve::ServeArgs),
    /// Validate brain.yaml and print the effective config, secrets redacted.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print a JSON Schema for one of brain's file formats.
    Schema(config::SchemaArgs),
    /// Apply the embedded store migrations.
    Migrate,
    /// Scaffold a studio repository: brain.yaml, capabilities/, policies/, specs/.
    Init(init::InitArgs),
    /// Check capabilities, policies, exemptions and specs (for CI: exit 1 on errors).
    ///
    /// Without a brain.yaml (here or given with --config), `lint`, `test`, `eval` and `fmt` work
    /// on the policy tree in the current directory (`policies/`, `capabilities/`, `specs/`) when
    /// it has one, else on the built-in demo studio; stderr says which.
    Lint(lint::LintArgs),
    /// Run the policy test cases (YAML) and report `N passed, N failed`.
    Test(policy::TestArgs),
    /// Decide one question against the policy set: exit 0 allow, 1 deny.
    Eval(policy::EvalArgs),
    /// What a change of the policy set does: `diff` two policy sets, `replay` the audit log's
    /// decisions under a candidate.
    #[command(subcommand)]
    Policy(review::PolicyCommand),
    /// Format Cedar policy files with Cedar's own formatter.
    Fmt(policy::FmtArgs),
    /// Manage actors and their tokens: bootstrap, add, list, revoke.
    #[command(subcommand)]
    Actor(governance::ActorCommand),
    /// Delegate part of a person's authority to an agent.
    Delegate(governance::DelegateArgs),
    /// List or revoke delegations.
    #[command(subcommand)]
    Delegations(governance::DelegationsCommand),
    /// Propose an action on a capability.
    Propose(lifecycle::ProposeArgs),
    /// List proposals, show one, or submit a draft.
    Proposals(lifecycle::ProposalsArgs),
    /// Approve a proposal (never your own).
    Approve(lifecycle::ApproveArgs),
    /// Reject a proposal, with a reason.
    Reject(lifecycle::RejectArgs),
    /// Cancel a proposal (the proposer, or staff).
    Cancel(lifecycle::CancelArgs),
    /// Execute an approved proposal, or show what it would do with `--dry-run`.
    Execute(lifecycle::ExecuteArgs),
    /// Roll back a succeeded execution.
    Rollback(lifecycle::IdArgs),
    /// Grant a time-bounded exemption from a capability's approval rule.
    Exempt(governance::ExemptArgs),
    /// List or revoke exemptions.
    #[command(subcommand)]
    Exemptions(governance::ExemptionsCommand),
    /// Turn kill switches on or off, or show them.
    KillSwitch(governance::KillSwitchArgs),
    /// Read, verify and export the tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Compute and inspect StudioState snapshots (derived from the cloud).
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Write a signed backup bundle: the audit log and the Engine's records.
    Backup(backup::BackupArgs),
    /// Recreate local state in an empty store from a backup bundle, then recompute StudioState.
    Rebuild(backup::RebuildArgs),
    /// Remove derived artifacts past their TTL (`retention` in brain.yaml).
    #[command(subcommand)]
    Retention(backup::RetentionCommand),
    /// List the device connectors, check their health now, or run the contract harness.
    #[command(subcommand)]
    Connectors(connectors::ConnectorsCommand),
    /// The department swarms: list them, run one (drafts only), read their runs, enroll one.
    #[command(subcommand)]
    Swarm(swarm::SwarmCommand),
    /// The service-level objectives over a period: `--period 7d|30d|month:2026-11`, with
    /// `--format json` for machines and `--format markdown` for the monthly review.
    Scorecard(scorecard::ScorecardArgs),
    /// The compliance intake gate: classify a text, list what waits for review, override.
    #[command(subcommand)]
    Intake(intake::IntakeCommand),
    /// Resilience drills against a sandbox brain: list them, run one (recorded in the audit log).
    #[command(subcommand)]
    Drill(drill::DrillCommand),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    ///
    /// For example `brain completions bash > ~/.local/share/bash-completion/completions/brain`,
    /// or `brain completions zsh > "${fpath[1]}/_brain"`.
    Completions(generate::CompletionsArgs),
    /// Print the man page (roff), or write one per subcommand with `--dir`.
    ///
    /// For example `brain man --dir ~/.local/share/man/man1`, then `man brain`.
    Man(generate::ManArgs),
}

/// Parse arguments, run the command, and return the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    output::install_miette_hook();
    let diff = matches!(cli.command, Command::Policy(review::PolicyCommand::Diff(_)));
    let replay = matches!(
        cli.command,
        Command::Policy(review::PolicyCommand::Replay(_))
    );
    let lint = matches!(cli.command, Command::Lint(_));
    let scorecard = matches!(cli.command, Command::Scorecard(_));
    let refused = match cli.format {
        Format::Human | Format::Json => None,
        Format::Sarif => (!lint).then_some("`--format sarif` is only for `brain lint`"),
        Format::Github => (!lint && !diff)
            .then_some("`--format github` is only for `brain lint` and `brain policy diff`"),
        Format::Markdown => (!diff && !replay && !scorecard).then_some(
            "`--format markdown` is only for `brain policy diff`, `brain policy replay` and `brain scorecard`",
        ),
    };
    if let Some(message) = refused {
        output::print_report(&miette::miette!(
            code = "usage::format",
            help = "use `--format human` or `--format json` with this command",
            "{message}"
        ));
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Serve(ref args) => serve::run(&cli, args),
        Command::Config(ref command) => config::run(&cli, command),
        Command::Schema(ref args) => config::schema(&cli, args),
        Command::Migrate => migrate::run(&cli),
        Command::Init(ref args) => init::run(&cli, args),
        Command::Lint(ref args) => lint::run(&cli, args),
        Command::Test(ref args) => policy::test(&cli, args),
        Command::Eval(ref args) => policy::eval(&cli, args),
        Command::Fmt(ref args) => policy::fmt(&cli, args),
        Command::Policy(ref command) => review::run(&cli, command),
        Command::Actor(ref command) => governance::actor(&cli, command),
        Command::Delegate(ref args) => governance::delegate(&cli, args),
        Command::Delegations(ref command) => governance::delegations(&cli, command),
        Command::Propose(ref args) => lifecycle::propose(&cli, args),
        Command::Proposals(ref args) => lifecycle::proposals(&cli, args),
        Command::Approve(ref args) => lifecycle::approve(&cli, args),
        Command::Reject(ref args) => lifecycle::reject(&cli, args),
        Command::Cancel(ref args) => lifecycle::cancel(&cli, args),
        Command::Execute(ref args) => lifecycle::execute(&cli, args),
        Command::Rollback(ref args) => lifecycle::rollback(&cli, args),
        Command::Exempt(ref args) => governance::exempt(&cli, args),
        Command::Exemptions(ref command) => governance::exemptions(&cli, command),
        Command::KillSwitch(ref args) => governance::kill_switch(&cli, args),
        Command::Audit(ref command) => audit::run(&cli, command),
        Command::Snapshot(ref command) => snapshot::run(&cli, command),
        Command::Backup(ref args) => backup::backup(&cli, args),
        Command::Rebuild(ref args) => backup::rebuild(&cli, args),
        Command::Retention(ref command) => backup::retention(&cli, command),
        Command::Connectors(ref command) => connectors::run(&cli, command),
        Command::Swarm(ref command) => swarm::run(&cli, command),
        Command::Scorecard(ref args) => scorecard::run(&cli, args),
        Command::Intake(ref command) => intake::run(&cli, command),
        Command::Drill(ref command) => drill::run(&cli, command),
        Command::Completions(ref args) => generate::completions(args),
        Command::Man(ref args) => generate::man(&cli, args),
    };
    match result {
        Ok(code) => code,
        Err(report) => {
            output::print_report(&report);
            ExitCode::from(2)
        }
    }
}

/// A kind of file whose JSON Schema `brain schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// brain.yaml
    Config,
    /// capabilities/<id>.yaml
    Capability,
    /// capabilities/exemptions/*.yaml
    Exemption,
    /// policies/tests/*.yaml (`brain test`)
    PolicyTest,
    /// The state model (`specs/studio-state.yaml`): how records count into StudioState.
    StateModel,
}

/// Build the async runtime for commands that need one.
fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|error| {
            miette::miette!(
                code = "internal::runtime",
                "cannot start the async runtime: {error}"
            )
        })
}
