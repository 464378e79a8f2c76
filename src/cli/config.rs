//! `brain config check` and `brain schema`.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::{self, Format};
use super::{Cli, SchemaKind};
use crate::config::{self, ConfigError, Environment, Fallback, LoadedConfig};
use crate::diagnostic::{Finding, Findings, plural};
use crate::workspace::{self, WorkspaceError};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config (and the policy set it points at); print the effective config.
    Check,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which schema to print.
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

/// Say on stderr what a command works on when no config was given or found.
pub(super) fn announce_fallback(loaded: &LoadedConfig) {
    if let Some(notice) = loaded.fallback_notice() {
        output::warning(&notice);
    }
}

/// Load the config alone, printing every problem; `None` when it is invalid. `fallback` says
/// what to work on when no config file is given or found.
pub(super) fn load_config_only(cli: &Cli, fallback: Fallback) -> Option<LoadedConfig> {
    match config::load_or(cli.config.as_deref(), &Environment::process(), fallback) {
        Ok(loaded) => {
            announce_fallback(&loaded);
            for warning in &loaded.warnings {
                output::print_diagnostic(warning);
            }
            Some(loaded)
        }
        Err(error) => {
            report_config_error(cli, &error);
            None
        }
    }
}

/// Load the config and the policy set and run the contract checks; print every problem.
/// Returns `None` (after printing) when anything is wrong.
pub(super) fn load_checked(
    cli: &Cli,
) -> Result<(LoadedConfig, crate::policy::PolicySet), ExitCode> {
    load_checked_or(cli, cli.config.as_deref(), Fallback::Demo)
}

/// [`load_checked`] for the config at `path` (or the default search when `None`).
pub(super) fn load_checked_from(
    cli: &Cli,
    path: Option<&std::path::Path>,
) -> Result<(LoadedConfig, crate::policy::PolicySet), ExitCode> {
    load_checked_or(cli, path, Fallback::Demo)
}

/// [`load_checked_from`], with `fallback` deciding what to work on without a config file.
pub(super) fn load_checked_or(
    cli: &Cli,
    path: Option<&std::path::Path>,
    fallback: Fallback,
) -> Result<(LoadedConfig, crate::policy::PolicySet), ExitCode> {
    let environment = Environment::process();
    let mut loaded = match config::load_or(path, &environment, fallback) {
        Ok(loaded) => loaded,
        Err(error) => {
            report_config_error(cli, &error);
            return Err(ExitCode::from(2));
        }
    };
    announce_fallback(&loaded);
    for warning in &loaded.warnings {
        output::print_diagnostic(warning);
    }
    let policies = match workspace::load_policy_set(&loaded) {
        Ok(policies) => policies,
        Err(error) => {
            report_workspace_error(cli, &error);
            return Err(ExitCode::from(2));
        }
    };
    let contract = workspace::check_contract(&loaded, &policies);
    if !contract.is_empty() {
        let findings = Findings::new(
            format!(
                "{} has {}",
                loaded.source.name,
                plural(contract.len(), "problem")
            ),
            contract,
        );
        report_findings(cli, &findings);
        return Err(ExitCode::from(2));
    }
    let unread = workspace::check_read_capabilities(&loaded);
    for warning in &unread {
        output::print_diagnostic(warning);
    }
    loaded.warnings.extend(unread);
    Ok((loaded, policies))
}

fn report_findings(cli: &Cli, findings: &Findings) {
    if cli.format != Format::Human {
        let list: Vec<_> = findings.findings.iter().map(Finding::to_json).collect();
        let _ = output::print_json(&json!({ "valid": false, "findings": list }));
    }
    output::print_diagnostic(findings);
}

pub(super) fn report_config_error(cli: &Cli, error: &ConfigError) {
    match error {
        ConfigError::Invalid(findings) => report_findings(cli, findings),
        other => {
            if cli.format != Format::Human {
                let code = miette::Diagnostic::code(other)
                    .map_or_else(|| "config::unreadable".to_string(), |code| code.to_string());
                let _ = output::print_json(&json!({
                    "valid": false,
                    "findings": [{ "code": code, "severity": "error", "message": other.to_string() }],
                }));
            }
            output::print_diagnostic(other);
        }
    }
}

pub(super) fn report_workspace_error(cli: &Cli, error: &WorkspaceError) {
    match error {
        WorkspaceError::Invalid(findings) => report_findings(cli, findings),
        other => {
            if cli.format != Format::Human {
                let _ = output::print_json(&json!({
                    "valid": false,
                    "findings": [{ "code": "workspace::unreadable", "severity": "error", "message": other.to_string() }],
                }));
            }
            output::print_diagnostic(other);
        }
    }
}

pub fn run(cli: &Cli, command: &ConfigCommand) -> miette::Result<ExitCode> {
    match command {
        ConfigCommand::Check => {
            let (loaded, policies) = match load_checked(cli) {
                Ok(loaded) => loaded,
                Err(code) => return Ok(code),
            };
            let (model, model_warning) = match workspace::load_state_model(&loaded) {
                Ok(found) => found,
                Err(error) => {
                    report_workspace_error(cli, &error);
                    return Ok(ExitCode::from(2));
                }
            };
            let mut warnings: Vec<&Finding> = loaded.warnings.iter().collect();
            if let Some(warning) = &model_warning {
                output::print_diagnostic(warning);
                warnings.push(warning);
            }
            let effective = loaded.effective_json();
            match cli.format {
                Format::Json | Format::Sarif | Format::Github | Format::Markdown => {
                    output::print_json(&json!({
                        "valid": true,
                        "config_file": loaded.origin_name(),
                        "policies": policies.policies.len(),
                        "kill_switches": policies.kill_switches(),
                        "state_model": {
                            "id": model.model.id,
                            "version": model.model.version,
                            "hash": model.hash,
                            "origin": model.origin,
                        },
                        "warnings": warnings.iter().map(|warning| warning.to_json()).collect::<Vec<_>>(),
                        "effective": effective,
                    }))?
                }
                Format::Human => {
                    print!("{}", crate::yaml::emit(&effective));
                    output::success(&format!(
                        "config is valid: {}; {} policies; kill switches: {}; state model {} v{} ({})",
                        loaded.origin_name(),
                        policies.policies.len(),
                        policies.kill_switches().join(", "),
                        model.model.id,
                        model.model.version,
                        model.origin
                    ));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn schema(_cli: &Cli, args: &SchemaArgs) -> miette::Result<ExitCode> {
    let schema = match args.kind {
        SchemaKind::Config => config::config_schema(),
        SchemaKind::Capability => crate::capability::manifest_schema(),
        SchemaKind::Exemption => crate::capability::exemption_schema(),
        SchemaKind::PolicyTest => crate::policy::testing::suite_schema(),
        SchemaKind::StateModel => crate::snapshot::model::schema(),
    };
    output::print_json(&schema)?;
    Ok(ExitCode::SUCCESS)
}
