//! `brain serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::Cli;
use super::config::load_checked;
use super::output;
use super::session::{engine_for, load_bundle};
use crate::config::{AuthMode, LoadedConfig};
use crate::server::{self, AppState};
use crate::store::{self, Store, StoreError, StoreTarget};
use crate::telemetry::{self, Metrics};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to bind, overriding `server.listen` (default 127.0.0.1:8787).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Also stop (as on SIGTERM) when standard input reaches end of file: for a supervisor
    /// that runs brain serve as its child, so the daemon cannot outlive it (a supervisor killed
    /// with `kill -9` closes the pipe too).
    #[arg(long)]
    pub stop_when_stdin_closes: bool,
}

/// The store could not be opened; names the config key to look at.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot open the store ({target})")]
#[diagnostic(code(serve::store), help("{help}"))]
pub struct StoreOpenError {
    target: String,
    help: String,
    #[source]
    #[diagnostic_source]
    cause: StoreError,
}

impl StoreOpenError {
    pub fn new(loaded: &LoadedConfig, target: &StoreTarget, cause: StoreError) -> Self {
        let key = if loaded.config.store.postgres.is_some() {
            "store.postgres.url"
        } else {
            "store.sqlite.path (or data_dir)"
        };
        Self {
            target: target.describe(),
            help: format!(
                "check `{key}` in {}; for Postgres, make sure the server is running and reachable",
                loaded.origin_name()
            ),
            cause,
        }
    }
}

/// Open the configured store and apply pending migrations.
pub(super) async fn open_store(loaded: &LoadedConfig) -> Result<Arc<dyn Store>, StoreOpenError> {
    let target = StoreTarget::from_config(loaded).map_err(|cause| StoreOpenError {
        target: "unresolved".into(),
        help: "check the `store` section of the config".into(),
        cause,
    })?;
    store::open_and_migrate(&target)
        .await
        .map_err(|cause| StoreOpenError::new(loaded, &target, cause))
}

pub fn run(cli: &Cli, args: &ServeArgs) -> miette::Result<ExitCode> {
    telemetry::init_logging(cli.log_format);
    let (loaded, policies) = match load_checked(cli) {
        Ok(loaded) => loaded,
        Err(code) => return Ok(code),
    };
    let listen = args.listen.unwrap_or(loaded.listen);
    if !listen.ip().is_loopback() && loaded.config.server.auth.mode == AuthMode::None {
        let error = miette::miette!(
            code = "config::unsafe_bind",
            help = "set `server.auth.mode: token` (the default), or bind a loopback address",
            "refusing to serve `{listen}` without authentication"
        );
        output::print_report(&error);
        return Ok(ExitCode::from(2));
    }
    let runtime = super::runtime()?;
    runtime.block_on(async move {
        // Bind first: a taken port stops start-up before anything else is touched.
        let listener = match server::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => {
                output::print_diagnostic(&error);
                return Ok(ExitCode::from(2));
            }
        };
        // One daemon per SQLite file; several share a PostgreSQL store under the leader lease.
        let (mode, _sqlite_lock) = match crate::store::StoreTarget::from_config(&loaded) {
            Ok(crate::store::StoreTarget::Sqlite(path)) => {
                let locked = crate::store::ensure_parent_dir(&path)
                    .map_err(|error| error.to_string())
                    .and_then(|()| server::cluster::lock_sqlite(&path));
                match locked {
                    Ok(lock) => (server::cluster::Mode::Single, Some(lock)),
                    Err(message) => {
                        output::print_report(&miette::miette!(
                            code = "serve::store_in_use",
                            help = "stop the other daemon first; to run several daemons on one store, use PostgreSQL (`store.postgres` in brain.yaml)",
                            "{message}"
                        ));
                        return Ok(ExitCode::from(2));
                    }
                }
            }
            _ => (server::cluster::Mode::Lease, None),
        };
        let address = listener
            .local_addr()
            .map_or_else(|_| listen.to_string(), |address| address.to_string());
        let cluster = Arc::new(server::cluster::Cluster::new(address, mode));
        let policy_count = policies.policies.len();
        let bundle = match load_bundle(cli, &loaded, policies) {
            Ok(bundle) => bundle,
            Err(code) => return Ok(code),
        };
        let store = match open_store(&loaded).await {
            Ok(store) => store,
            Err(error) => {
                output::print_diagnostic(&error);
                return Ok(ExitCode::from(2));
            }
        };
        let engine = match engine_for(&loaded, bundle, store.clone()) {
            Ok(engine) => Arc::new(engine.for_instance(&cluster.instance_id)),
            Err(code) => {
                store.close().await;
                return Ok(code);
            }
        };
        let metrics = Arc::new(Metrics::new());
        metrics.set_policies_loaded(policy_count);
        metrics.set_instance(&cluster.instance_id);
        metrics.set_store(true, true);
        tracing::info!(
            config = %loaded.origin_name(),
            store = store.backend().as_str(),
            policies = policy_count,
            version = env!("CARGO_PKG_VERSION"),
            "brain starting"
        );
        let connectors = Arc::new(
            crate::connectors::fleet::Fleet::from_config(&loaded, &engine.policy().manifests).await,
        );
        // The swarms' templates and term lists are part of the policy set: an invalid one
        // refuses to start.
        let files = match crate::swarms::runtime::SwarmFiles::load(&loaded) {
            Ok((files, warnings)) => {
                for warning in &warnings {
                    output::print_diagnostic(warning);
                }
                files
            }
            Err(error) => {
                output::print_diagnostic(&error);
                store.close().await;
                return Ok(ExitCode::from(2));
            }
        };
        let config = Arc::new(loaded);
        let swarms = Arc::new(crate::swarms::runtime::Runner::new(
            config.clone(),
            crate::cloud::configured(&config),
            files,
        ));
        let state = AppState {
            store: store.clone(),
            policies: engine.policy().decider.shared_policies(),
            engine,
            sessions: Arc::default(),
            config,
            metrics,
            connectors,
            swarms,
            cluster,
        };
        let stop = if args.stop_when_stdin_closes {
            server::Stop::OnSignalOrStdinClosed
        } else {
            server::Stop::OnSignal
        };
        let result = server::serve(listener, state, stop).await;
        store.close().await;
        match result {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(error) => {
                output::print_diagnostic(&error);
                Ok(ExitCode::from(2))
            }
        }
    })
}
