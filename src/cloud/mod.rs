//! Cloud sources: where StudioState's records come from. Every source is read-only and hands
//! over one record at a time, so a snapshot's memory does not grow with the studio's size.
//!
//! - [`fixtures::FixtureSource`]: a directory of JSON documents per collection (the demo studio
//!   and tests);
//! - Firestore and Stripe readers speak their REST APIs.
//!
//! Architecture Invariant: no source has a method that writes; a read error is an error, never
//! an empty collection.

pub mod fixtures;

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

/// The read capability that covers `collection`.
pub fn capability_for(collection: &str) -> &'static str {
    if collection.starts_with("stripe:") {
        "stripe.payments.read"
    } else {
        "firestore.studio.read"
    }
}

/// The sources `brain.yaml` configures, in reading order.
pub fn configured(config: &crate::config::LoadedConfig) -> Vec<std::sync::Arc<dyn Source>> {
    let mut all: Vec<std::sync::Arc<dyn Source>> = Vec::new();
    if let Some(fixtures) = &config.config.cloud.fixtures {
        all.push(std::sync::Arc::new(fixtures::FixtureSource::new(
            &crate::config::normalize(&config.base_dir.join(&fixtures.dir)),
        )));
    }
    all
}
