//! Cloud sources: where StudioState's records come from. Every source is read-only and hands
//! over one record at a time, so a snapshot's memory does not grow with the studio's size.
//!
//! - [`fixtures::FixtureSource`]: a directory of JSON documents per collection (the demo studio
//!   and tests);
//! - Firestore and Stripe readers speak their REST APIs.
//!
//! The one write brain makes to the cloud lives apart from the sources, in [`ops_notes`]: the
//! Firestore target of the ops-note pilot, called only by the Engine's executions.
//!
//! Architecture Invariant: no source has a method that writes; a read error is an error, never
//! an empty collection.

pub mod firestore;
pub mod fixtures;
pub mod ops_notes;
pub mod stripe;

use async_trait::async_trait;

use crate::snapshot::Record;

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    BadResponse(String),
    #[error("{0}")]
    Auth(String),
    #[error("the read stopped after {limit} pages: the source kept returning more")]
    Truncated { limit: usize },
}

/// What reading one collection produced besides its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    pub documents: u64,
    /// The newest update time among the documents, as the source wrote it.
    pub newest_update_time: Option<String>,
}

/// One read-only source of records.
#[async_trait]
pub trait Source: Send + Sync {
    /// `fixtures`, `firestore`, `stripe`.
    fn name(&self) -> &str;
    /// What it reads, for provenance (a directory, a project, a base URL); never a secret.
    fn location(&self) -> String;
    /// The collections it can read (`batches`, ..., `stripe:payouts`).
    fn collections(&self) -> Vec<String>;
    /// Hand every record of `collection` to `each`, in pages.
    async fn read(
        &self,
        collection: &str,
        each: &mut (dyn FnMut(Record) + Send),
    ) -> Result<ReadSummary, SourceError>;
    /// The source's own count of `collection`, for drift checks; `None` when it cannot count.
    async fn count(&self, collection: &str) -> Result<Option<u64>, SourceError>;
}

/// The read capability of the Firestore-shaped collections.
pub const FIRESTORE_READ: &str = "firestore.studio.read";
/// The read capability of the Stripe lists (`stripe:<list>`).
pub const STRIPE_READ: &str = "stripe.payments.read";

/// The read capability that covers `collection`.
pub fn capability_for(collection: &str) -> &'static str {
    if collection.starts_with("stripe:") {
        STRIPE_READ
    } else {
        FIRESTORE_READ
    }
}

/// The read capabilities the configured sources read under, each with the config key that
/// configures the source (a JSON pointer: `/cloud/firestore`), in reading order. A fixture
/// directory reads Stripe lists only when it has a `stripe/` folder.
pub fn read_capabilities(
    config: &crate::config::LoadedConfig,
) -> Vec<(&'static str, &'static str)> {
    let cloud = &config.config.cloud;
    let mut sources: Vec<(&'static str, Vec<String>)> = Vec::new();
    if cloud.firestore.is_some() {
        let collections = crate::snapshot::COLLECTIONS
            .iter()
            .map(|name| name.to_string());
        sources.push(("/cloud/firestore", collections.collect()));
    }
    if cloud.stripe.is_some() {
        let lists = crate::snapshot::STRIPE_LISTS
            .iter()
            .map(|list| format!("stripe:{list}"));
        sources.push(("/cloud/stripe", lists.collect()));
    }
    if let Some(fixtures) = &cloud.fixtures {
        let dir = crate::config::normalize(&config.base_dir.join(&fixtures.dir));
        sources.push((
            "/cloud/fixtures",
            fixtures::FixtureSource::new(&dir).collections(),
        ));
    }
    let mut found = Vec::new();
    for (pointer, collections) in sources {
        for collection in collections {
            let capability = capability_for(&collection);
            if !found.contains(&(pointer, capability)) {
                found.push((pointer, capability));
            }
        }
    }
    found
}

/// A Firestore client for `config`: the emulator when `FIRESTORE_EMULATOR_HOST` is set, else
/// production with the configured service account.
pub fn firestore_client(
    config: &crate::config::FirestoreConfig,
) -> Result<std::sync::Arc<firestore::FirestoreClient>, String> {
    let limits = firestore::Limits::default();
    if let Ok(host) = std::env::var("FIRESTORE_EMULATOR_HOST")
        && !host.trim().is_empty()
    {
        return firestore::FirestoreClient::emulator(host.trim(), &config.project_id, limits)
            .map(std::sync::Arc::new)
            .map_err(|error| error.to_string());
    }
    let Some(secret) = config
        .credentials
        .as_ref()
        .and_then(|credentials| credentials.value())
    else {
        return Err("Firestore needs credentials: `cloud.firestore.credentials` is not set and `FIRESTORE_EMULATOR_HOST` is not set".into());
    };
    let account: firestore::ServiceAccount =
        serde_json::from_str(secret.expose()).map_err(|error| {
            format!("`cloud.firestore.credentials` is not a service-account key file: {error}")
        })?;
    firestore::FirestoreClient::with_service_account(
        &config.project_id,
        &config.database,
        account,
        limits,
    )
    .map(std::sync::Arc::new)
    .map_err(|error| error.to_string())
}

/// The sources `brain.yaml` configures, in reading order.
pub fn configured(config: &crate::config::LoadedConfig) -> Vec<std::sync::Arc<dyn Source>> {
    let mut all: Vec<std::sync::Arc<dyn Source>> = Vec::new();
    if let Some(firestore) = &config.config.cloud.firestore {
        match firestore_client(firestore) {
            Ok(client) => all.push(std::sync::Arc::new(firestore::FirestoreSource::new(client))),
            Err(problem) => {
                tracing::error!(problem = %problem, "the Firestore source cannot be used");
                // Not dropped: every read fails with the problem, so snapshots are partial.
                all.push(std::sync::Arc::new(Unusable {
                    name: "firestore",
                    collections: crate::snapshot::COLLECTIONS
                        .iter()
                        .map(|name| name.to_string())
                        .collect(),
                    problem,
                }));
            }
        }
    }
    if let Some(stripe_config) = &config.config.cloud.stripe {
        let client = stripe_config
            .api_key
            .value()
            .ok_or_else(|| "`cloud.stripe.api_key` has no value".to_string())
            .and_then(|key| {
                stripe::StripeClient::new(
                    stripe_config.base_url.as_deref(),
                    key.clone(),
                    stripe::Limits {
                        window: Some(stripe_config.window.as_std()),
                        ..stripe::Limits::default()
                    },
                )
                .map_err(|error| error.to_string())
            });
        match client {
            Ok(client) => all.push(std::sync::Arc::new(stripe::StripeSource::new(client))),
            Err(problem) => {
                tracing::error!(problem = %problem, "the Stripe source cannot be used");
                all.push(std::sync::Arc::new(Unusable {
                    name: "stripe",
                    collections: crate::snapshot::STRIPE_LISTS
                        .iter()
                        .map(|list| format!("stripe:{list}"))
                        .collect(),
                    problem,
                }));
            }
        }
    }
    if let Some(fixtures) = &config.config.cloud.fixtures {
        all.push(std::sync::Arc::new(fixtures::FixtureSource::new(
            &crate::config::normalize(&config.base_dir.join(&fixtures.dir)),
        )));
    }
    all
}

/// A configured source that cannot be used (bad credentials, say): it reads nothing and says why,
/// so a snapshot without it is partial instead of silently smaller.
struct Unusable {
    name: &'static str,
    collections: Vec<String>,
    problem: String,
}

#[async_trait]
impl Source for Unusable {
    fn name(&self) -> &str {
        self.name
    }

    fn location(&self) -> String {
        "(not configured correctly)".into()
    }

    fn collections(&self) -> Vec<String> {
        self.collections.clone()
    }

    async fn read(
        &self,
        _collection: &str,
        _each: &mut (dyn FnMut(Record) + Send),
    ) -> Result<ReadSummary, SourceError> {
        Err(SourceError::Auth(self.problem.clone()))
    }

    async fn count(&self, _collection: &str) -> Result<Option<u64>, SourceError> {
        Ok(None)
    }
}
