//! `brain completions SHELL` and `brain man`: shell completion scripts and man pages generated
//! from the clap definitions themselves (`clap_complete`, `clap_mangen`), so they list exactly the
//! commands and options this binary has. They read no config and touch no store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use serde_json::json;

use super::Cli;
use super::output::{self, Format};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `brain.1` and one page per subcommand (`brain-snapshot-run.1`, ...) into DIR
    /// instead of printing `brain.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

pub fn completions(args: &CompletionsArgs) -> miette::Result<ExitCode> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "brain", &mut script);
    write_stdout(&script)?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(cli: &Cli, args: &ManArgs) -> miette::Result<ExitCode> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let Some(dir) = &args.dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut page)
            .map_err(|error| miette::miette!(code = "man::render", "cannot render: {error}"))?;
        write_stdout(&page)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir).map_err(|error| unwritable(dir, &error))?;
    let mut written = Vec::new();
    write_pages(command, dir, &mut written)?;
    written.sort();
    match cli.format {
        Format::Human => {
            for path in &written {
                println!("{}", path.display());
            }
            output::success(&format!(
                "wrote {} man pages into `{}`",
                written.len(),
                dir.display()
            ));
        }
        _ => output::print_json(&json!({
            "written": written.iter().map(|path| path.display().to_string()).collect::<Vec<_>>(),
        }))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The page of `command` and of each of its visible subcommands, depth first.
fn write_pages(
    command: clap::Command,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> miette::Result<()> {
    for subcommand in command
        .get_subcommands()
        .filter(|subcommand| !subcommand.is_hide_set())
    {
        write_pages(subcommand.clone(), dir, written)?;
    }
    let path = clap_mangen::Man::new(command)
        .generate_to(dir)
        .map_err(|error| unwritable(dir, &error))?;
    written.push(path);
    Ok(())
}

fn unwritable(dir: &Path, error: &std::io::Error) -> miette::Report {
    miette::miette!(
        code = "man::unwritable",
        help = "pass a directory you can write to",
        "cannot write man pages into `{}`: {error}",
        dir.display()
    )
}

/// Write to stdout; a reader that stopped early (`brain man | head`) is not an error.
fn write_stdout(bytes: &[u8]) -> miette::Result<()> {
    match std::io::stdout().lock().write_all(bytes) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => Err(miette::miette!(
            code = "internal::stdout",
            "cannot write to stdout: {error}"
        )),
        _ => Ok(()),
    }
}
