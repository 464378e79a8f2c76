//! The embedded default store: one SQLite file in WAL mode with foreign keys on, a busy timeout,
//! and `synchronous = FULL` so a commit is durable when it returns.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{Backend, StoreError, ensure_parent_dir, sql::sql_store};

/// A store in a SQLite file.
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;

    /// Open (creating it if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        ensure_parent_dir(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options)
            .await
            .map_err(|error| {
                StoreError::Unavailable(format!(
                    "cannot open the SQLite database `{}`: {error}",
                    path.display()
                ))
            })?;
        Ok(Self {
            pool,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying pool, for tests and benchmarks that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// `BEGIN IMMEDIATE` takes the write lock up front: a transaction that reads and then writes
    /// cannot fail to upgrade its lock half-way.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn begin_migration(&self) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        self.begin_write().await
    }

    async fn migrations_table_exists(&self) -> Result<bool, StoreError> {
        let found: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'brain_migrations'",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }
}

sql_store!(store = SqliteStore, tx = SqliteWriteTx, db = Sqlite);
