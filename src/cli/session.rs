//! What the Engine's commands share: opening the Engine from the config, finding the caller's
//! token, the [`Control`] surface every lifecycle command runs against (the local Engine here;
//! a daemon through the HTTP API with `--server`), and how refusals are printed.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use async_trait::async_trait;

use super::Cli;
use super::config::{load_checked_from, report_workspace_error};
use super::output::{self, Format};
use crate::audit::AuditEvent;
use crate::config::LoadedConfig;
use crate::engine::exemptions::ExemptionRequest;
use crate::engine::{
    AuditVerification, Caller, DryRun, Engine, EngineError, EngineSettings, ErrorBody, Executors,
    ExemptionView, Issued, KillSwitchState, PolicyBundle, ProposalView, ProposeRequest, keys,
};
use crate::policy::decide::Action;
use crate::scorecard::Scorecard;
use crate::store::{Actor, AuditFilter, Delegation, ProposalFilter};
use crate::workspace;

pub(super) use crate::clock::human_duration;

/// Open the Engine the config describes: policy set, store (migrated), signing key and the
/// configured executors. Problems are printed; the error is the exit code.
pub(super) async fn open_engine(cli: &Cli) -> Result<(Engine, LoadedConfig), ExitCode> {
    open_engine_from(cli, cli.config.as_deref()).await
}

/// [`open_engine`] for the config at `path`.
pub(super) async fn open_engine_from(
    cli: &Cli,
    path: Option<&std::path::Path>,
) -> Result<(Engine, LoadedConfig), ExitCode> {
    let (loaded, policies) = load_checked_from(cli, path)?;
    let bundle = load_bundle(cli, &loaded, policies)?;
    let store = super::serve::open_store(&loaded).await.map_err(|error| {
        output::print_diagnostic(&error);
        ExitCode::from(2)
    })?;
    let engine = engine_for(&loaded, bundle, store)?;
    Ok((engine, loaded))
}

/// The policy set with its manifests and declared exemptions. Problems are printed.
pub(super) fn load_bundle(
    cli: &Cli,
    loaded: &LoadedConfig,
    policies: crate::policy::PolicySet,
) -> Result<PolicyBundle, ExitCode> {
    let manifests = workspace::load_manifests(loaded).map_err(|error| {
        report_workspace_error(cli, &error);
        ExitCode::from(2)
    })?;
    let exemptions = workspace::load_exemptions(loaded).map_err(|error| {
        report_workspace_error(cli, &error);
        ExitCode::from(2)
    })?;
    let (state_model, _) = workspace::load_state_model(loaded).map_err(|error| {
        report_workspace_error(cli, &error);
        ExitCode::from(2)
    })?;
    let (intake, _) = workspace::load_intake(loaded).map_err(|error| {
        report_workspace_error(cli, &error);
        ExitCode::from(2)
    })?;
    Ok(PolicyBundle::new(
        Arc::new(policies),
        manifests,
        exemptions,
        Arc::new(state_model),
        Arc::new(intake),
    ))
}

/// The Engine over an opened store: the signing key and the configured executors added.
pub(super) fn engine_for(
    loaded: &LoadedConfig,
    bundle: PolicyBundle,
    store: Arc<dyn crate::store::Store>,
) -> Result<Engine, ExitCode> {
    let signer = keys::load_or_create(loaded).map_err(|error| {
        output::print_diagnostic(&error);
        ExitCode::from(2)
    })?;
    Ok(Engine::new(
        store,
        Arc::new(bundle),
        EngineSettings::from_config(loaded),
        Arc::new(signer),
        executors_for(loaded),
    ))
}

/// The executors of the targets the config sets up: a `kind: firestore`, `mode: write`
/// connector is the ops-note target, writing through `cloud.firestore`. A target whose client
/// cannot be built is left out, so its executions refuse with TARGET_NOT_CONFIGURED.
pub(crate) fn executors_for(config: &LoadedConfig) -> Executors {
    use crate::config::{ConnectorKind, ConnectorMode};
    let mut executors = Executors::new();
    let Some(firestore) = &config.config.cloud.firestore else {
        return executors;
    };
    for connector in &config.config.connectors {
        if connector.kind != ConnectorKind::Firestore
            || connector.mode != ConnectorMode::Write
            || !connector.enabled
        {
            continue;
        }
        match crate::cloud::firestore_client(firestore) {
            Ok(client) => {
                executors =
                    executors.with(Arc::new(crate::cloud::ops_notes::OpsNoteExecutor::new(
                        &connector.id,
                        client,
                        connector.ops_notes.clone().unwrap_or_default(),
                    )));
            }
            Err(problem) => {
                tracing::error!(target = %connector.id, problem = %problem, "the Firestore write target cannot be used");
            }
        }
    }
    executors
}

/// The caller's token: `--token-file`, else `BRAIN_TOKEN`.
pub(super) fn token(cli: &Cli) -> Result<String, EngineError> {
    if let Some(path) = &cli.token_file {
        return std::fs::read_to_string(path)
            .map(|text| text.trim().to_string())
            .map_err(|error| {
                EngineError::Unauthenticated(format!(
                    "cannot read the token file `{}`: {error}",
                    path.display()
                ))
            });
    }
    match std::env::var("BRAIN_TOKEN") {
        Ok(token) if !token.trim().is_empty() => Ok(token.trim().to_string()),
        _ => Err(EngineError::Unauthenticated(
            "no token: set `BRAIN_TOKEN` or pass `--token-file FILE`".into(),
        )),
    }
}

/// Everything a lifecycle command can ask of brain, whether the Engine runs in this process or
/// in a daemon reached over HTTP.
#[async_trait]
pub(super) trait Control: Send + Sync {
    async fn propose(&self, request: &ProposeRequest) -> Result<ProposalView, EngineError>;
    async fn proposals(&self, filter: &ProposalFilter) -> Result<Vec<ProposalView>, EngineError>;
    async fn proposal(&self, id: &str) -> Result<ProposalView, EngineError>;
    async fn submit(&self, id: &str) -> Result<ProposalView, EngineError>;
    async fn approve(&self, id: &str, comment: Option<&str>) -> Result<ProposalView, EngineError>;
    async fn close(
        &self,
        id: &str,
        action: Action,
        reason: Option<&str>,
    ) -> Result<ProposalView, EngineError>;
    async fn execute(&self, id: &str) -> Result<ProposalView, EngineError>;
    async fn dry_run(&self, id: &str) -> Result<DryRun, EngineError>;
    async fn rollback(&self, id: &str) -> Result<ProposalView, EngineError>;
    async fn exemptions(&self) -> Result<Vec<ExemptionView>, EngineError>;
    async fn grant_exemption(
        &self,
        request: &ExemptionRequest,
    ) -> Result<ExemptionView, EngineError>;
    async fn revoke_exemption(&self, id: &str, reason: &str) -> Result<ExemptionView, EngineError>;
    async fn kill_switches(&self) -> Result<Vec<KillSwitchState>, EngineError>;
    /// The switch names the policy set declares (`global`, `target:*`, ...).
    async fn declared_switches(&self) -> Result<Vec<String>, EngineError>;
    async fn set_kill_switch(
        &self,
        name: &str,
        on: bool,
        reason: &str,
    ) -> Result<KillSwitchState, EngineError>;
    async fn actors(&self) -> Result<Vec<Actor>, EngineError>;
    async fn add_actor(&self, id: &str, display_name: Option<&str>) -> Result<Issued, EngineError>;
    async fn revoke_actor(&self, id: &str) -> Result<Actor, EngineError>;
    async fn delegate(
        &self,
        agent: &str,
        owner: &str,
        scopes: &[String],
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Delegation, EngineError>;
    async fn delegations(&self, agent: Option<&str>) -> Result<Vec<Delegation>, EngineError>;
    async fn revoke_delegation(&self, id: &str) -> Result<Delegation, EngineError>;
    async fn audit_tail(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, EngineError>;
    /// Verify the audit log; `progress(checked, head)` is called as it goes where the log is
    /// read here (a daemon verifies on its side and reports only the result).
    async fn audit_verify(
        &self,
        progress: &(dyn Fn(i64, i64) + Send + Sync),
    ) -> Result<AuditVerification, EngineError>;
    /// The scorecard of the studio's objectives over `period`, or the period before it.
    async fn scorecard(&self, period: &str, previous: bool) -> Result<Scorecard, EngineError>;
}

/// The Engine in this process, acting for the authenticated caller.
pub(super) struct Local {
    pub engine: Engine,
    pub caller: Caller,
    pub config: LoadedConfig,
}

#[async_trait]
impl Control for Local {
    async fn propose(&self, request: &ProposeRequest) -> Result<ProposalView, EngineError> {
        self.engine.propose(&self.caller, request).await
    }
    async fn proposals(&self, filter: &ProposalFilter) -> Result<Vec<ProposalView>, EngineError> {
        self.engine.proposals(&self.caller, filter).await
    }
    async fn proposal(&self, id: &str) -> Result<ProposalView, EngineError> {
        self.engine.proposal(&self.caller, id).await
    }
    async fn submit(&self, id: &str) -> Result<ProposalView, EngineError> {
        self.engine.submit(&self.caller, id).await
    }
    async fn approve(&self, id: &str, comment: Option<&str>) -> Result<ProposalView, EngineError> {
        self.engine.approve(&self.caller, id, comment).await
    }
    async fn close(
        &self,
        id: &str,
        action: Action,
        reason: Option<&str>,
    ) -> Result<ProposalView, EngineError> {
        self.engine.close(&self.caller, id, action, reason).await
    }
    async fn execute(&self, id: &str) -> Result<ProposalView, EngineError> {
        self.engine.execute(&self.caller, id).await
    }
    async fn dry_run(&self, id: &str) -> Result<DryRun, EngineError> {
        self.engine.dry_run(&self.caller, id).await
    }
    async fn rollback(&self, id: &str) -> Result<ProposalView, EngineError> {
        self.engine.rollback(&self.caller, id).await
    }
    async fn exemptions(&self) -> Result<Vec<ExemptionView>, EngineError> {
        self.engine.exemptions(&self.caller).await
    }
    async fn grant_exemption(
        &self,
        request: &ExemptionRequest,
    ) -> Result<ExemptionView, EngineError> {
        self.engine.grant_exemption(&self.caller, request).await
    }
    async fn revoke_exemption(&self, id: &str, reason: &str) -> Result<ExemptionView, EngineError> {
        self.engine.revoke_exemption(&self.caller, id, reason).await
    }
    async fn kill_switches(&self) -> Result<Vec<KillSwitchState>, EngineError> {
        self.engine
            .authorize_area(&self.caller, Action::View)
            .await?;
        self.engine.kill_switches().await
    }
    async fn declared_switches(&self) -> Result<Vec<String>, EngineError> {
        Ok(self
            .engine
            .policy()
            .decider
            .policies()
            .kill_switches()
            .into_iter()
            .map(str::to_string)
            .collect())
    }
    async fn set_kill_switch(
        &self,
        name: &str,
        on: bool,
        reason: &str,
    ) -> Result<KillSwitchState, EngineError> {
        self.engine
            .set_kill_switch(&self.caller, name, on, reason)
            .await
    }
    async fn actors(&self) -> Result<Vec<Actor>, EngineError> {
        self.engine.actors(&self.caller).await
    }
    async fn add_actor(&self, id: &str, display_name: Option<&str>) -> Result<Issued, EngineError> {
        self.engine.add_actor(&self.caller, id, display_name).await
    }
    async fn revoke_actor(&self, id: &str) -> Result<Actor, EngineError> {
        self.engine.revoke_actor(&self.caller, id).await
    }
    async fn delegate(
        &self,
        agent: &str,
        owner: &str,
        scopes: &[String],
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Delegation, EngineError> {
        self.engine
            .delegate(&self.caller, agent, owner, scopes, expires_at)
            .await
    }
    async fn delegations(&self, agent: Option<&str>) -> Result<Vec<Delegation>, EngineError> {
        self.engine.delegations(&self.caller, agent).await
    }
    async fn revoke_delegation(&self, id: &str) -> Result<Delegation, EngineError> {
        self.engine.revoke_delegation(&self.caller, id).await
    }
    async fn audit_tail(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, EngineError> {
        self.engine.audit_tail(&self.caller, filter).await
    }
    async fn scorecard(&self, period: &str, previous: bool) -> Result<Scorecard, EngineError> {
        self.engine
            .configured_scorecard(&self.caller, &self.config.config, period, previous)
            .await
    }
    async fn audit_verify(
        &self,
        progress: &(dyn Fn(i64, i64) + Send + Sync),
    ) -> Result<AuditVerification, EngineError> {
        self.engine
            .audit_verify_reporting(&self.caller, progress)
            .await
    }
}

/// Run `body` against the Control the command line asks for: the local Engine (opened from the
/// config, acting for the token's actor). Prints refusals; returns the exit code.
// The body's future borrows `cli`; `'_` cannot name that lifetime inside a where clause.
#[allow(clippy::needless_lifetimes)]
pub(super) fn with_control<'c, F>(cli: &'c Cli, body: F) -> miette::Result<ExitCode>
where
    F: FnOnce(
        Arc<dyn Control>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<ExitCode, EngineError>> + Send + 'c>,
    >,
{
    let runtime = super::runtime()?;
    if let Some(server) = &cli.server {
        return runtime.block_on(async move {
            let result = async {
                let token = token(cli)?;
                let remote: Arc<dyn Control> = Arc::new(super::remote::Remote::new(server, token)?);
                body(remote).await
            }
            .await;
            Ok(match result {
                Ok(code) => code,
                Err(error) => report_error(cli, &error),
            })
        });
    }
    runtime.block_on(async move {
        let (engine, config) = match open_engine(cli).await {
            Ok(opened) => opened,
            Err(code) => return Ok(code),
        };
        let store = engine.store().clone();
        let result = async {
            let token = token(cli)?;
            let caller = engine.authenticate(&token).await?;
            let local: Arc<dyn Control> = Arc::new(Local {
                engine,
                caller,
                config,
            });
            body(local).await
        }
        .await;
        store.close().await;
        Ok(match result {
            Ok(code) => code,
            Err(error) => report_error(cli, &error),
        })
    })
}

/// Run `body` on the local store only (refused with `--server`): the Engine opened from the
/// config, the caller authenticated by their token. Prints refusals; returns the exit code.
#[allow(clippy::needless_lifetimes)]
pub(super) fn on_local_store<'c, F>(cli: &'c Cli, what: &str, body: F) -> miette::Result<ExitCode>
where
    F: FnOnce(
        Arc<Engine>,
        LoadedConfig,
        Caller,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<ExitCode, EngineError>> + Send + 'c>,
    >,
{
    if let Some(code) = local_only(cli, what) {
        return Ok(code);
    }
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        let (engine, loaded) = match open_engine(cli).await {
            Ok(opened) => opened,
            Err(code) => return Ok(code),
        };
        let engine = Arc::new(engine);
        let result = async {
            let caller = engine.authenticate(&token(cli)?).await?;
            body(engine.clone(), loaded, caller).await
        }
        .await;
        engine.store().close().await;
        Ok(match result {
            Ok(code) => code,
            Err(error) => report_error(cli, &error),
        })
    })
}

/// Print a refusal for people (stderr) or machines (the error body on stdout) and return its
/// exit code: 1 for refusals, 2 for internal errors.
pub(super) fn report_error(cli: &Cli, error: &EngineError) -> ExitCode {
    let body = ErrorBody::from_error(error, true);
    if cli.format == Format::Json {
        let _ = output::print_json(&serde_json::json!({ "error": body }));
    }
    let mut stderr = std::io::stderr().lock();
    let reasons = if body.reason_codes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", body.reason_codes.join(", "))
    };
    let _ = writeln!(
        stderr,
        "{}{reasons}: {}",
        paint(Paint::Red, "error"),
        body.message
    );
    if !body.policy_ids.is_empty() {
        let _ = writeln!(stderr, "  decided by: {}", body.policy_ids.join(", "));
    }
    if let Some(seconds) = body.retry_after {
        let _ = writeln!(stderr, "  retry after: {}", human_duration(seconds as i64));
    }
    // The error's own advice is the most specific; else each reason code's fix.
    match &body.help {
        Some(help) => {
            let _ = writeln!(stderr, "  help: {help}");
        }
        None => {
            for code in &body.reason_codes {
                if let Some(known) = crate::policy::reasons::lookup(code) {
                    let _ = writeln!(stderr, "  help: {}", known.fix);
                }
            }
        }
    }
    if body.code == "unreachable" {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// Refuse a command that works on the local store only when `--server` asks for a daemon.
pub(super) fn local_only(cli: &Cli, what: &str) -> Option<ExitCode> {
    cli.server.as_ref().map(|server| {
        output::print_report(&miette::miette!(
            code = "usage::local_only",
            help = "run it on the machine that holds the store, without `--server`",
            "{what} works on the local store, not through the daemon at `{server}`"
        ));
        ExitCode::from(2)
    })
}

/// Text styles for people's output on a terminal.
#[derive(Debug, Clone, Copy)]
pub(super) enum Paint {
    Bold,
    Dim,
    Red,
    Green,
    Yellow,
}

/// `text` styled, when stdout is a terminal and `NO_COLOR` is unset.
pub(super) fn paint(style: Paint, text: &str) -> String {
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    if !colour {
        return text.to_string();
    }
    let code = match style {
        Paint::Bold => "1",
        Paint::Dim => "2",
        Paint::Red => "31",
        Paint::Green => "32",
        Paint::Yellow => "33",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}
