//! `brain test`, `brain eval` and `brain fmt`: working with the policy set directly.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde_json::json;

use super::Cli;
use super::config::load_checked_or;
use super::output::{self, Format};
use crate::capability::{self, Manifest};
use crate::config::Fallback;
use crate::diagnostic::{Findings, plural};
use crate::policy::decide::{Action, Decider, Decision, Question, Resource};
use crate::policy::reasons;
use crate::policy::testing::{self, ContextInput, DelegationInput, Suite};
use crate::workspace::{self, read_source};

/// Load the config, policy set and manifests, printing any problem; `Err(code)` to exit with.
fn load_decider(
    cli: &Cli,
) -> Result<(crate::config::LoadedConfig, Decider, Vec<Manifest>), ExitCode> {
    let (loaded, policies) = load_checked_or(cli, cli.config.as_deref(), Fallback::PolicyTree)?;
    let manifests = match workspace::load_manifests(&loaded) {
        Ok(manifests) => manifests,
        Err(error) => {
            output::print_diagnostic(&error);
            return Err(ExitCode::from(2));
        }
    };
    Ok((loaded, Decider::new(Arc::new(policies)), manifests))
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Test files or directories (default: `tests/` in the policies directory).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
}

pub fn test(cli: &Cli, args: &TestArgs) -> miette::Result<ExitCode> {
    let (loaded, decider, manifests) = match load_decider(cli) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let roots = if args.paths.is_empty() {
        vec![loaded.policies_dir().join("tests")]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for root in &roots {
        if root.is_file() {
            files.push(root.clone());
        } else {
            let found = workspace::files_with_extension(root, "yaml", true)
                .map_err(|error| miette::miette!("{error}"))?;
            files.extend(found);
        }
    }
    if files.is_empty() {
        output::print_report(&miette::miette!(
            code = "test::none",
            help = "write cases in `policies/tests/*.yaml` (`brain schema policy-test` documents them)",
            "no policy test files found in {}",
            roots
                .iter()
                .map(|root| format!("`{}`", workspace::display_path(root)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(ExitCode::from(2));
    }
    let schema = testing::suite_schema();
    let mut outcomes = Vec::new();
    let mut broken = Vec::new();
    for path in &files {
        let source = read_source(path).map_err(|error| miette::miette!("{error}"))?;
        let name = source.name.clone();
        let parsed = capability::parse_yaml::<Suite>(source, &schema, "policy-test");
        broken.extend(parsed.findings);
        if let Some(suite) = parsed.value {
            for case in &suite.tests {
                outcomes.push((name.clone(), testing::run_case(case, &decider, &manifests)));
            }
        }
    }
    if !broken.is_empty() {
        output::print_diagnostic(&Findings::new(
            format!(
                "{} in the policy test files",
                plural(broken.len(), "problem")
            ),
            broken,
        ));
        return Ok(ExitCode::from(2));
    }
    let passed = outcomes
        .iter()
        .filter(|(_, outcome)| outcome.passed)
        .count();
    let failed = outcomes.len() - passed;
    match cli.format {
        Format::Human => {
            for (file, outcome) in &outcomes {
                if outcome.passed {
                    continue;
                }
                println!("FAIL {file}: {}", outcome.name);
                for problem in &outcome.problems {
                    println!("     {problem}");
                }
                if let Some(decision) = &outcome.decision {
                    println!("     actual: {}", describe(decision));
                }
            }
            println!("{passed} passed, {failed} failed");
        }
        _ => output::print_json(&json!({
            "passed": passed,
            "failed": failed,
            "results": outcomes.iter().map(|(file, outcome)| json!({
                "file": file,
                "name": outcome.name,
                "passed": outcome.passed,
                "problems": outcome.problems,
                "decision": outcome.decision,
            })).collect::<Vec<_>>(),
        }))?,
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `deny (kill-switch.global: KILL_SWITCH_ACTIVE)`.
fn describe(decision: &Decision) -> String {
    let verdict = if decision.allowed { "allow" } else { "deny" };
    if decision.policy_ids.is_empty() {
        return format!("{verdict} [{}]", decision.reasons.join(", "));
    }
    format!(
        "{verdict} by {} [{}]",
        decision.policy_ids.join(", "),
        decision.reasons.join(", ")
    )
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The actor asking: `staff:alice`, `agent:drafter`, ...
    #[arg(long, value_name = "ACTOR")]
    pub principal: String,
    /// propose, approve, reject, cancel, execute, rollback, read, exempt, revoke_exemption, set_kill_switch
    #[arg(long)]
    pub action: String,
    /// The capability id (every action but `set_kill_switch`).
    #[arg(long, value_name = "ID")]
    pub capability: Option<String>,
    /// The kill switch name (for `set_kill_switch`).
    #[arg(long, value_name = "NAME")]
    pub kill_switch: Option<String>,
    /// Decision context as JSON, such as `{"approvals": 1, "kill_switches": ["global"]}`.
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
    /// The agent's delegation as JSON: `{"owner": "staff:bob", "scopes": ["marketing.*"]}`.
    #[arg(long, value_name = "JSON")]
    pub delegation: Option<String>,
}

pub fn eval(cli: &Cli, args: &EvalArgs) -> miette::Result<ExitCode> {
    let usage = |message: String, help: &str| {
        output::print_report(&miette::miette!(
            code = "eval::usage",
            help = help.to_string(),
            "{message}"
        ));
        Ok(ExitCode::from(2))
    };
    let Some(action) = Action::parse(&args.action) else {
        return usage(
            format!("unknown action `{}`", args.action),
            &format!("use one of {}", Action::ALL.map(Action::as_str).join(", ")),
        );
    };
    let context: ContextInput = match &args.context {
        None => ContextInput::default(),
        Some(text) => match serde_json::from_str(text) {
            Ok(context) => context,
            Err(error) => {
                return usage(
                    format!("--context is not a valid context: {error}"),
                    "pass a JSON object with keys such as now, proposer, resource_owner, kill_switches, approvals, approvers, exemption_in_force, snapshot_stale, snapshot_age_seconds, quota_exceeded",
                );
            }
        },
    };
    let delegation: Option<DelegationInput> = match &args.delegation {
        None => None,
        Some(text) => match serde_json::from_str(text) {
            Ok(delegation) => Some(delegation),
            Err(error) => {
                return usage(
                    format!("--delegation is not a valid delegation: {error}"),
                    "pass `{\"owner\": \"staff:NAME\", \"scopes\": [\"capability.id\"], \"expired\": false, \"revoked\": false}`",
                );
            }
        },
    };
    let (principal, facts) = match testing::principal_and_facts(
        &args.principal,
        delegation.as_ref(),
        args.capability.as_deref(),
        &context,
    ) {
        Ok(resolved) => resolved,
        Err(problem) => return usage(problem, "see `brain eval --help`"),
    };
    let (_, decider, manifests) = match load_decider(cli) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let switch_name = args.kill_switch.clone().unwrap_or_else(|| "global".into());
    let (resource, target) = if action.on_kill_switch() {
        (
            Resource::KillSwitch(&switch_name),
            format!("kill switch `{switch_name}`"),
        )
    } else if let Some(area) = action.area() {
        (Resource::Area(area), format!("area `{area}`"))
    } else {
        let Some(id) = args.capability.as_deref() else {
            return usage(
                format!("`--action {}` needs `--capability ID`", args.action),
                "name the capability",
            );
        };
        let Some(manifest) = manifests.iter().find(|manifest| manifest.id == id) else {
            let suggestion = crate::diagnostic::did_you_mean(
                id,
                manifests.iter().map(|manifest| manifest.id.as_str()),
            )
            .map_or_else(
                || "see `capabilities/`".to_string(),
                |found| format!("did you mean `{found}`?"),
            );
            return usage(
                format!("no capability manifest has the id `{id}`"),
                &suggestion,
            );
        };
        (Resource::Capability(manifest), format!("`{id}`"))
    };
    let decision = decider.decide(&Question {
        principal: &principal,
        action,
        resource,
        facts: &facts,
    });
    match cli.format {
        Format::Human => {
            let verdict = if decision.allowed { "ALLOW" } else { "DENY" };
            println!("{verdict}  {} {} {target}", principal.id(), action.as_str());
            let width = decision
                .policy_ids
                .iter()
                .map(String::len)
                .max()
                .unwrap_or(0);
            let policies = decider.policies();
            for id in &decision.policy_ids {
                let reason = policies.policy(id).and_then(|policy| policy.reason.clone());
                match reason {
                    Some(code) => println!("  {id:width$}  {code}: {}", reasons::describe(&code)),
                    None => println!("  {id:width$}  permits"),
                }
            }
            if decision.policy_ids.is_empty() {
                for code in &decision.reasons {
                    println!("  {code}: {}", reasons::describe(code));
                }
            }
            for error in &decision.errors {
                println!("  error: {error}");
            }
        }
        _ => output::print_json(&json!({
            "decision": if decision.allowed { "allow" } else { "deny" },
            "allowed": decision.allowed,
            "principal": principal.id(),
            "action": action.as_str(),
            "policy_ids": decision.policy_ids,
            "reasons": decision.reasons.iter().map(|code| json!({
                "code": code,
                "meaning": reasons::describe(code),
            })).collect::<Vec<_>>(),
            "errors": decision.errors,
        }))?,
    }
    Ok(if decision.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Cedar files or directories (default: the config's policies directory).
    #[arg(value_name = "PATHS")]
    pub paths: Vec<PathBuf>,
    /// Do not write; exit 1 when a file is not formatted.
    #[arg(long)]
    pub check: bool,
}

pub fn fmt(cli: &Cli, args: &FmtArgs) -> miette::Result<ExitCode> {
    let roots = if args.paths.is_empty() {
        let Some(loaded) = super::config::load_config_only(cli, Fallback::PolicyTree) else {
            return Ok(ExitCode::from(2));
        };
        vec![loaded.policies_dir()]
    } else {
        args.paths.clone()
    };
    let mut files = Vec::new();
    for root in &roots {
        if root.is_file() {
            files.push(root.clone());
        } else {
            files.extend(
                workspace::files_with_extension(root, "cedar", true)
                    .map_err(|error| miette::miette!("{error}"))?,
            );
        }
    }
    let config = cedar_policy_formatter::Config::default();
    let mut changed = Vec::new();
    let mut failed = false;
    for path in &files {
        let source = read_source(path).map_err(|error| miette::miette!("{error}"))?;
        let formatted = match cedar_policy_formatter::policies_str_to_pretty(source.text(), &config)
        {
            Ok(formatted) => formatted,
            Err(error) => {
                output::print_report(&miette::miette!(
                    code = "fmt::parse",
                    help = "fix the syntax first; `brain lint` points at it",
                    "cannot format `{}`: {error}",
                    source.name
                ));
                failed = true;
                continue;
            }
        };
        if formatted != source.text() {
            changed.push(source.name.clone());
            if !args.check {
                std::fs::write(path, &formatted).map_err(|error| {
                    miette::miette!(code = "fmt::io", "cannot write `{}`: {error}", source.name)
                })?;
            }
        }
    }
    match cli.format {
        Format::Human => {
            for name in &changed {
                if args.check {
                    println!("would reformat {name}");
                } else {
                    println!("reformatted {name}");
                }
            }
            let unchanged = files.len() - changed.len();
            let verb = if args.check {
                "would be reformatted"
            } else {
                "reformatted"
            };
            eprintln!("{} {verb}, {unchanged} already formatted", changed.len());
        }
        _ => output::print_json(&json!({
            "check": args.check,
            "changed": changed,
            "files": files.len(),
        }))?,
    }
    if failed {
        return Ok(ExitCode::from(2));
    }
    Ok(if args.check && !changed.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
