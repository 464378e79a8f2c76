//! `brain lint`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::Cli;
use super::config::load_config_only;
use super::output::{self, Format};
use crate::config::Fallback;
use crate::lint::{self, output as lint_output};
use crate::workspace;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    /// Treat warnings as errors for the exit code.
    Warnings,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Files or directories to lint (default: the config's policies, capabilities and specs).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// List every rule and exit.
    #[arg(long)]
    pub list: bool,
    /// Print a rule's documentation and exit.
    #[arg(long, value_name = "RULE")]
    pub explain: Option<String>,
    /// Exit 1 on warnings too.
    #[arg(long, value_enum, value_name = "WARNINGS")]
    pub deny: Option<Deny>,
}

pub fn run(cli: &Cli, args: &LintArgs) -> miette::Result<ExitCode> {
    if args.list {
        match cli.format {
            Format::Json => output::print_json(
                &lint::RULES
                    .iter()
                    .map(|rule| {
                        serde_json::json!({
                            "id": rule.id,
                            "category": rule.category,
                            "severity": lint::severity_name(rule.severity),
                            "summary": rule.summary,
                        })
                    })
                    .collect::<Vec<_>>(),
            )?,
            _ => print!("{}", lint_output::list()),
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(id) = &args.explain {
        let Some(rule) = lint::rule(id) else {
            let suggestion =
                crate::diagnostic::did_you_mean(id, lint::RULES.iter().map(|rule| rule.id))
                    .map(|rule| format!("did you mean `{rule}`? "))
                    .unwrap_or_default();
            let help = format!("{suggestion}`brain lint --list` lists the rules");
            output::print_report(&miette::miette!(
                code = "lint::unknown_rule",
                help = help,
                "no lint rule named `{id}`"
            ));
            return Ok(ExitCode::from(2));
        };
        print!("{}", rule.explain());
        return Ok(ExitCode::SUCCESS);
    }
    let Some(loaded) = load_config_only(cli, Fallback::PolicyTree) else {
        return Ok(ExitCode::from(2));
    };
    let workspace = match workspace::lint_workspace(&loaded, &args.paths) {
        Ok(workspace) => workspace,
        Err(error) => {
            output::print_diagnostic(&error);
            return Ok(ExitCode::from(2));
        }
    };
    let findings = lint::run(&workspace, &loaded.config.lint.severities);
    let summary = lint::summarize(&findings, workspace.file_count());
    match cli.format {
        Format::Json => output::print_json(&lint_output::json(&findings, summary))?,
        Format::Sarif => output::print_json(&lint_output::sarif(&findings))?,
        Format::Github => print!("{}", lint_output::github(&findings)),
        Format::Human | Format::Markdown => {
            for finding in &findings {
                output::print_diagnostic(finding);
            }
            if findings.is_empty() {
                output::success(&format!("no problems in {} file(s)", summary.files));
            } else {
                eprintln!("{}", lint_output::summary_line(summary));
            }
        }
    }
    let failing = summary.errors > 0 || (args.deny == Some(Deny::Warnings) && summary.warnings > 0);
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
