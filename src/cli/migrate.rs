//! `brain migrate`.

use std::process::ExitCode;

use serde_json::json;

use super::Cli;
use super::output::{self, Format};
use super::serve::StoreOpenError;
use crate::config::{self, Environment};
use crate::store::{self, StoreTarget};

pub fn run(cli: &Cli) -> miette::Result<ExitCode> {
    let loaded = match config::load(cli.config.as_deref(), &Environment::process()) {
        Ok(loaded) => loaded,
        Err(error) => {
            output::print_diagnostic(&error);
            return Ok(ExitCode::from(2));
        }
    };
    super::config::announce_fallback(&loaded);
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let target =
            StoreTarget::from_config(&loaded).map_err(|error| miette::miette!("{error}"))?;
        let opened = store::open(&target).await;
        let migrated = match opened {
            Ok(store) => {
                let result = store
                    .migrate()
                    .await
                    .map(|applied| (store.clone(), applied));
                if result.is_err() {
                    store.close().await;
                }
                result
            }
            Err(error) => Err(error),
        };
        let (store, applied_now) = match migrated {
            Ok(done) => done,
            Err(cause) => {
                output::print_diagnostic(&StoreOpenError::new(&loaded, &target, cause));
                return Ok(ExitCode::from(2));
            }
        };
        let status = store
            .migration_status()
            .await
            .map_err(|error| miette::miette!("{error}"))?;
        store.close().await;
        let current = status.applied.last().copied().unwrap_or(0);
        let backend = store.backend().as_str();
        match cli.format {
            Format::Json | Format::Sarif | Format::Github | Format::Markdown => {
                output::print_json(&json!({
                    "backend": backend,
                    "applied_now": applied_now,
                    "current_version": current,
                }))?
            }
            Format::Human if applied_now.is_empty() => {
                output::success(&format!(
                    "{backend} store is up to date (migration {current})"
                ));
            }
            Format::Human => output::success(&format!(
                "applied {} to the {backend} store (now at migration {current})",
                crate::diagnostic::plural(applied_now.len(), "migration"),
            )),
        }
        Ok(ExitCode::SUCCESS)
    })
}
