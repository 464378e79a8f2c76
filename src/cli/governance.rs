//! `brain actor`, `brain delegate`, `brain delegations`, `brain exempt`, `brain exemptions`,
//! `brain kill-switch`.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::Cli;
use super::output::{self, Format};
use super::session::{
    Control, Paint, human_duration, local_only, open_engine, paint, report_error, with_control,
};
use crate::engine::exemptions::ExemptionRequest;
use crate::engine::{EngineError, ExemptionView, Issued, KillSwitchState};
use crate::store::{Actor, Delegation};

#[derive(Debug, Subcommand)]
pub enum ActorCommand {
    /// Create the first staff admin of an empty store and print its token (once).
    Bootstrap {
        /// The admin's name: the actor is `staff:NAME`.
        #[arg(long, default_value = "admin")]
        name: String,
    },
    /// Add an actor (`staff:NAME`, `human:NAME` or `agent:NAME`) and print its token (once).
    Add {
        id: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List actors.
    List,
    /// Revoke an actor: its token stops working at once.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct DelegateArgs {
    /// The agent, `agent:NAME`.
    #[arg(long)]
    pub agent: String,
    /// The person it acts for, `staff:NAME` or `human:NAME`.
    #[arg(long)]
    pub owner: String,
    /// Capability ids or prefixes (`marketing.*`), comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub scopes: Vec<String>,
    /// When it ends: a duration (`7d`) or a time (`2026-12-01T00:00:00Z`).
    #[arg(long)]
    pub expires: String,
}

#[derive(Debug, Subcommand)]
pub enum DelegationsCommand {
    /// List delegations.
    List {
        #[arg(long)]
        agent: Option<String>,
    },
    /// Revoke a delegation.
    Revoke { id: String },
}

#[derive(Debug, Args)]
pub struct ExemptArgs {
    /// The one capability it covers.
    #[arg(long)]
    pub capability: String,
    /// Only this owner's proposals.
    #[arg(long)]
    pub owner: Option<String>,
    /// When it ends: a duration (`2d`) or a time.
    #[arg(long)]
    pub expires: String,
    /// When it starts (default: now).
    #[arg(long)]
    pub starts: Option<String>,
    /// Why the rule should not apply.
    #[arg(long)]
    pub justification: String,
    /// Who asked for it; you approve it, so it cannot be you.
    #[arg(long)]
    pub requested_by: String,
}

#[derive(Debug, Subcommand)]
pub enum ExemptionsCommand {
    /// List declared and runtime exemptions and whether each is in force.
    List,
    /// Revoke an exemption (appends a revocation record).
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Args)]
pub struct KillSwitchArgs {
    #[command(subcommand)]
    pub command: KillSwitchCommand,
}

#[derive(Debug, Subcommand)]
pub enum KillSwitchCommand {
    /// Turn a switch on (default `global`): effective at the next decision everywhere.
    On {
        #[arg(default_value = "global")]
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Turn a switch off (default `global`).
    Off {
        #[arg(default_value = "global")]
        name: String,
        #[arg(long)]
        reason: String,
    },
    /// Show the switches (or one).
    Status { name: Option<String> },
}

fn print_issued(cli: &Cli, issued: &Issued) {
    if cli.format == Format::Json {
        let _ = output::print_json(issued);
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "created {}", paint(Paint::Bold, &issued.actor.id));
    let _ = writeln!(out, "token   {}", issued.token);
    let _ = writeln!(
        out,
        "{}",
        paint(
            Paint::Yellow,
            "the token is shown only now: store it (for example in a file for --token-file)"
        )
    );
}

fn print_actors(cli: &Cli, actors: &[Actor]) {
    if cli.format == Format::Json {
        let _ = output::print_json(&actors);
        return;
    }
    let mut out = std::io::stdout().lock();
    let width = actors
        .iter()
        .map(|actor| actor.id.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(
        out,
        "{}",
        paint(
            Paint::Bold,
            &format!(
                "{:<width$} {:<8} {:<28} {}",
                "ACTOR", "STATUS", "CREATED", "BY"
            )
        )
    );
    for actor in actors {
        let status = if actor.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        let _ = writeln!(
            out,
            "{:<width$} {:<8} {:<28} {}",
            actor.id,
            status,
            actor.created_at,
            actor.created_by.as_deref().unwrap_or("-")
        );
    }
}

fn print_delegations(cli: &Cli, delegations: &[Delegation]) {
    if cli.format == Format::Json {
        let _ = output::print_json(&delegations);
        return;
    }
    let mut out = std::io::stdout().lock();
    if delegations.is_empty() {
        let _ = writeln!(out, "no delegations");
        return;
    }
    let now = crate::clock::format_time(crate::clock::now());
    for delegation in delegations {
        let status = if delegation.revoked_at.is_some() {
            paint(Paint::Red, "revoked")
        } else if delegation.expires_at <= now {
            paint(Paint::Dim, "expired")
        } else {
            paint(Paint::Green, "live")
        };
        let _ = writeln!(
            out,
            "{}  {} for {}  [{}]  {status}  until {}",
            paint(Paint::Bold, &delegation.id),
            delegation.agent,
            delegation.owner,
            delegation.scopes.join(", "),
            delegation.expires_at
        );
    }
}

/// One exemption: the object itself for machines, a one-row table for people.
fn print_exemption(cli: &Cli, exemption: &ExemptionView) {
    if cli.format == Format::Json {
        let _ = output::print_json(exemption);
    } else {
        print_exemptions(cli, std::slice::from_ref(exemption));
    }
}

fn print_exemptions(cli: &Cli, exemptions: &[ExemptionView]) {
    if cli.format == Format::Json {
        let _ = output::print_json(&exemptions);
        return;
    }
    let mut out = std::io::stdout().lock();
    if exemptions.is_empty() {
        let _ = writeln!(out, "no exemptions");
        return;
    }
    for exemption in exemptions {
        let status = if exemption.revoked {
            paint(Paint::Red, "revoked")
        } else if exemption.in_force {
            let left = exemption.seconds_left.map_or_else(String::new, |seconds| {
                format!(", {} left", human_duration(seconds))
            });
            paint(Paint::Green, &format!("in force{left}"))
        } else {
            let now = crate::clock::now();
            let parse = |text: &str| crate::capability::Timestamp::parse(text).ok();
            let ended = exemption
                .expires
                .as_deref()
                .and_then(parse)
                .is_some_and(|expires| expires.0 <= now);
            let not_started = parse(&exemption.starts).is_some_and(|starts| starts.0 > now);
            let word = if ended {
                "expired"
            } else if not_started {
                "not started"
            } else {
                "not in force"
            };
            paint(Paint::Dim, word)
        };
        let _ = writeln!(
            out,
            "{}  {}{}  {status}",
            paint(Paint::Bold, &exemption.id),
            exemption.capability.as_deref().unwrap_or("(no capability)"),
            exemption
                .owner
                .as_deref()
                .map_or_else(String::new, |owner| format!(" for {owner}")),
        );
        let _ = writeln!(
            out,
            "    {} → {}  requested by {}, approved by {}",
            exemption.starts,
            exemption.expires.as_deref().unwrap_or("(no expiry)"),
            exemption.requested_by,
            exemption.approved_by
        );
        if let Some(justification) = &exemption.justification {
            let _ = writeln!(out, "    {justification}");
        }
    }
}

fn print_switches(cli: &Cli, switches: &[KillSwitchState], declared: &[String]) {
    if cli.format == Format::Json {
        let _ =
            output::print_json(&serde_json::json!({ "switches": switches, "declared": declared }));
        return;
    }
    let mut out = std::io::stdout().lock();
    let on: Vec<&KillSwitchState> = switches.iter().filter(|switch| switch.on).collect();
    if on.is_empty() {
        let _ = writeln!(
            out,
            "policy mode: {}",
            paint(Paint::Green, "normal (no kill switch on)")
        );
    } else {
        let _ = writeln!(out, "policy mode: {}", paint(Paint::Red, "KILL SWITCH ON"));
    }
    for switch in switches {
        let state = if switch.on {
            paint(Paint::Red, "on ")
        } else {
            paint(Paint::Green, "off")
        };
        let _ = writeln!(
            out,
            "  {:<32} {state}  since {} by {}: {}",
            switch.name, switch.updated_at, switch.updated_by, switch.reason
        );
    }
    let _ = writeln!(out, "declared: {}", declared.join(", "));
}

pub fn actor(cli: &Cli, command: &ActorCommand) -> miette::Result<ExitCode> {
    if let ActorCommand::Bootstrap { name } = command {
        if let Some(code) = local_only(cli, "`brain actor bootstrap`") {
            return Ok(code);
        }
        let runtime = super::runtime()?;
        return runtime.block_on(async {
            let (engine, _) = match open_engine(cli).await {
                Ok(opened) => opened,
                Err(code) => return Ok(code),
            };
            let result = engine.bootstrap_admin(name).await;
            engine.store().close().await;
            Ok(match result {
                Ok(issued) => {
                    print_issued(cli, &issued);
                    ExitCode::SUCCESS
                }
                Err(error) => report_error(cli, &error),
            })
        });
    }
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            match command {
                ActorCommand::Bootstrap { .. } => Ok(ExitCode::from(2)),
                ActorCommand::Add { id, display_name } => {
                    let issued = control.add_actor(id, display_name.as_deref()).await?;
                    print_issued(cli, &issued);
                    Ok(ExitCode::SUCCESS)
                }
                ActorCommand::List => {
                    print_actors(cli, &control.actors().await?);
                    Ok(ExitCode::SUCCESS)
                }
                ActorCommand::Revoke { id } => {
                    let actor = control.revoke_actor(id).await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&actor);
                    } else {
                        let _ = writeln!(std::io::stdout(), "revoked {}", actor.id);
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        })
    })
}

fn parse_time_arg(flag: &str, text: &str) -> Result<chrono::DateTime<chrono::Utc>, EngineError> {
    crate::engine::proposals::parse_expiry(text, crate::clock::now()).map_err(|problem| {
        EngineError::invalid(
            format!("`--{flag}`: {problem}"),
            "write a duration such as `7d` or a time such as `2026-12-01T09:00:00Z`",
        )
    })
}

pub fn delegate(cli: &Cli, args: &DelegateArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let expires = parse_time_arg("expires", &args.expires)?;
            let delegation = control
                .delegate(&args.agent, &args.owner, &args.scopes, expires)
                .await?;
            if cli.format == Format::Json {
                let _ = output::print_json(&delegation);
            } else {
                print_delegations(cli, std::slice::from_ref(&delegation));
            }
            Ok(ExitCode::SUCCESS)
        })
    })
}

pub fn delegations(cli: &Cli, command: &DelegationsCommand) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            match command {
                DelegationsCommand::List { agent } => {
                    print_delegations(cli, &control.delegations(agent.as_deref()).await?);
                }
                DelegationsCommand::Revoke { id } => {
                    let delegation = control.revoke_delegation(id).await?;
                    if cli.format == Format::Json {
                        let _ = output::print_json(&delegation);
                    } else {
                        print_delegations(cli, std::slice::from_ref(&delegation));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    })
}

pub fn exempt(cli: &Cli, args: &ExemptArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let request = ExemptionRequest {
                capability: args.capability.clone(),
                owner: args.owner.clone(),
                starts: args
                    .starts
                    .as_deref()
                    .map(|text| parse_time_arg("starts", text))
                    .transpose()?,
                expires: parse_time_arg("expires", &args.expires)?,
                justification: args.justification.clone(),
                requested_by: args.requested_by.clone(),
            };
            let exemption = control.grant_exemption(&request).await?;
            print_exemption(cli, &exemption);
            Ok(ExitCode::SUCCESS)
        })
    })
}

pub fn exemptions(cli: &Cli, command: &ExemptionsCommand) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            match command {
                ExemptionsCommand::List => print_exemptions(cli, &control.exemptions().await?),
                ExemptionsCommand::Revoke { id, reason } => {
                    let exemption = control.revoke_exemption(id, reason).await?;
                    print_exemption(cli, &exemption);
                }
            }
            Ok(ExitCode::SUCCESS)
        })
    })
}

pub fn kill_switch(cli: &Cli, args: &KillSwitchArgs) -> miette::Result<ExitCode> {
    with_control(cli, |control: Arc<dyn Control>| {
        Box::pin(async move {
            let (name, on, reason) = match &args.command {
                KillSwitchCommand::On { name, reason } => (name, true, reason),
                KillSwitchCommand::Off { name, reason } => (name, false, reason),
                KillSwitchCommand::Status { name } => {
                    let mut switches = control.kill_switches().await?;
                    if let Some(name) = name {
                        switches.retain(|switch| &switch.name == name);
                    }
                    let declared = control_declared(&*control).await;
                    print_switches(cli, &switches, &declared);
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let switch = control.set_kill_switch(name, on, reason).await?;
            if cli.format == Format::Json {
                let _ = output::print_json(&switch);
            } else {
                let word = if on {
                    paint(Paint::Red, "ON")
                } else {
                    paint(Paint::Green, "off")
                };
                let _ = writeln!(
                    std::io::stdout(),
                    "kill switch {} is {word}: {}",
                    switch.name,
                    switch.reason
                );
            }
            Ok(ExitCode::SUCCESS)
        })
    })
}

/// The switch names the policy set declares, as the Control reports them.
async fn control_declared(control: &dyn Control) -> Vec<String> {
    control.declared_switches().await.unwrap_or_default()
}
