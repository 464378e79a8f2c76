//! The command line: clap types and one module per subcommand. No policy logic lives here; each
//! command loads what it needs, calls the library, and prints for people or for machines.
//!
//! Exit codes: 0 done or allowed; 1 denied, refused, or findings at error level; 2 usage or
//! internal error (including an invalid config).

mod config;
mod init;
mod lint;
mod migrate;
mod output;
mod policy;
mod serve;

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
  BRAIN_LOG        log filter, such as `debug` or `info,sqlx=warn`
  NO_COLOR         disable colour";

/// brain: policy-as-code engine and local control plane for a studio.
///
/// The cloud stays authoritative; brain computes and proposes; irreversible actions need
/// approval; everything is auditable; the system fails safe.
#[derive(Debug, Parser)]
#[command(name = "brain", version, about, long_about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// Config file (default: ./brain.yaml if present, else the demo studio in examples/).
    #[arg(long, global = true, env = "BRAIN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output for people (`human`) or for machines (`json`).
    #[arg(long, global = true, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: health, readiness, metrics (and, as they land, API, console, scheduler).
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
    Lint(lint::LintArgs),
    /// Run the policy test cases (YAML) and report `N passed, N failed`.
    Test(policy::TestArgs),
    /// Decide one question against the policy set: exit 0 allow, 1 deny.
    Eval(policy::EvalArgs),
    /// Format Cedar policy files with Cedar's own formatter.
    Fmt(policy::FmtArgs),
}

/// Parse arguments, run the command, and return the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    output::install_miette_hook();
    if matches!(cli.format, Format::Sarif | Format::Github)
        && !matches!(cli.command, Command::Lint(_))
    {
        output::print_report(&miette::miette!(
            code = "usage::format",
            help = "use `--format human` or `--format json` with this command",
            "`--format sarif` and `--format github` are only for `brain lint`"
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
