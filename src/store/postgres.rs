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
        self.begin_detached("BEGIN; SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
            .await
    }

    /// Start a transaction with `statement` on a task of its own. sqlx rolls back a dropped
    /// `Transaction`, but not a `BEGIN` it sent and whose answer its caller stopped waiting for
    /// (a client hung up, the daemon is stopping): that connection would go back to the pool
    /// inside an open transaction, holding the chain head's lock, and every other writer would
    /// wait on it. On a task of its own the start always finishes, and a transaction nobody
    /// awaits any more is dropped, so rolled back, like any other.
    async fn begin_detached(
        &self,
        statement: &'static str,
    ) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let pool = self.pool.clone();
        tokio::spawn(async move { pool.begin_with(statement).await })
            .await
            .map_err(|error| {
                StoreError::Unavailable(format!("starting a transaction failed: {error}"))
            })?
            .map_err(StoreError::from)
    }

    async fn begin_migration(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.begin_detached("BEGIN").await?;
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

/// Databases of their own on a Postgres server, for the drills that need a store they can take
/// away (`brain drill run store-outage`, `leader-loss`). `admin_url` names any database on the
/// server, with a role that may create databases; `name` is always one brain generated (a
/// plain identifier), never a user's text.
pub mod scratch {
    use super::{PgPool, PgPoolOptions, StoreError, scrub};

    async fn admin(admin_url: &str) -> Result<PgPool, StoreError> {
        PgPoolOptions::new()
            .max_connections(1)
            .connect(admin_url)
            .await
            .map_err(|error| {
                StoreError::Unavailable(format!(
                    "cannot connect to Postgres at `{}`: {}",
                    crate::store::redact_url(admin_url),
                    scrub(&error.to_string(), admin_url)
                ))
            })
    }

    async fn run(admin_url: &str, statements: &[String]) -> Result<(), StoreError> {
        let pool = admin(admin_url).await?;
        for statement in statements {
            sqlx::raw_sql(statement)
                .execute(&pool)
                .await
                .map_err(|error| {
                    StoreError::Rejected(format!(
                        "`{statement}` failed: {}",
                        scrub(&error.to_string(), admin_url)
                    ))
                })?;
        }
        pool.close().await;
        Ok(())
    }

    /// `admin_url` with its database replaced by `name` (the query string kept).
    pub fn url_of(admin_url: &str, name: &str) -> String {
        let (base, query) = admin_url
            .split_once('?')
            .map_or((admin_url, None), |(base, query)| (base, Some(query)));
        let scheme_end = base.find("://").map_or(0, |index| index + 3);
        let base = match base[scheme_end..].find('/') {
            Some(slash) => &base[..scheme_end + slash],
            None => base,
        };
        match query {
            Some(query) => format!("{base}/{name}?{query}"),
            None => format!("{base}/{name}"),
        }
    }

    /// Create the empty database `name`; its URL.
    pub async fn create(admin_url: &str, name: &str) -> Result<String, StoreError> {
        run(admin_url, &[format!("CREATE DATABASE {name}")]).await?;
        Ok(url_of(admin_url, name))
    }

    /// The databases on the server whose names start with `prefix`.
    pub async fn names(admin_url: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        let pool = admin(admin_url).await?;
        let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database")
            .fetch_all(&pool)
            .await?;
        pool.close().await;
        Ok(names
            .into_iter()
            .filter(|name| name.starts_with(prefix))
            .collect())
    }

    /// Drop `name`, ending every connection to it first.
    pub async fn drop(admin_url: &str, name: &str) -> Result<(), StoreError> {
        run(
            admin_url,
            &[format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")],
        )
        .await
    }

    /// Take `name` away from its clients: refuse new connections and end the open ones, as a
    /// server that went down does to a daemon's pool.
    /// Returns once no connection to it is left (`pg_terminate_backend` only signals).
    pub async fn take_away(admin_url: &str, name: &str) -> Result<(), StoreError> {
        run(
            admin_url,
            &[format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false")],
        )
        .await?;
        let pool = admin(admin_url).await?;
        let started = std::time::Instant::now();
        loop {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(name)
            .fetch_one(&pool)
            .await?;
            if left == 0 {
                break;
            }
            if started.elapsed() > std::time::Duration::from_secs(10) {
                return Err(StoreError::Unavailable(format!(
                    "{left} connection(s) to `{name}` did not end within 10s"
                )));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        pool.close().await;
        Ok(())
    }

    /// Let clients connect to `name` again.
    pub async fn give_back(admin_url: &str, name: &str) -> Result<(), StoreError> {
        run(
            admin_url,
            &[format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true")],
        )
        .await
    }
}
