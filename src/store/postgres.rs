//! The production store: Postgres at `store.postgres.url`.

use std::time::Duration;

use sqlx::Postgres;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::{Backend, StoreError, sql::sql_store};

/// Key of the advisory lock that serializes migrations across processes.
const MIGRATION_LOCK: i64 = 0x6272_6169_6e00;

/// A store in a Postgres database.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    const BACKEND: Backend = Backend::Postgres;

    /// Connect; fails fast (within `connect_timeout`) when the server is unreachable.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        connect_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(connect_timeout)
            .connect(url)
            .await
            .map_err(|error| {
                StoreError::Unavailable(format!(
                    "cannot connect to Postgres at `{}`: {}",
                    super::redact_url(url),
                    scrub(&error.to_string(), url)
                ))
            })?;
        Ok(Self { pool })
    }

    /// The underlying pool, for tests and benchmarks that need raw SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Every write transaction locks the chain head row first, so writes are serialized and
    /// the audit chain never forks.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        // One round trip: the transaction starts holding the chain head's row lock.
        Ok(self
            .pool
            .begin_with("BEGIN; SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
            .await?)
    }

    async fn begin_migration(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn close_pools(&self) {
        self.pool.close().await;
    }

    async fn migrations_table_exists(&self) -> Result<bool, StoreError> {
        let found: Option<String> =
            sqlx::query_scalar("SELECT to_regclass('brain_migrations')::text")
                .fetch_one(&self.pool)
                .await?;
        Ok(found.is_some())
    }
}

/// Remove the URL (and so its password) from a driver message, should the driver echo it.
fn scrub(message: &str, url: &str) -> String {
    message.replace(url, "[redacted]")
}

sql_store!(
    store = PostgresStore,
    tx = PostgresWriteTx,
    inner = sqlx::Transaction<'static, Postgres>,
    db = Postgres
);
