//! The embedded default store: one SQLite file in WAL mode with foreign keys on, a busy timeout,
//! and `synchronous = FULL` so a commit is durable when it returns.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous, SqliteTransactionManager,
};
use sqlx::{ConnectOptions, Sqlite, TransactionManager};
use tokio::sync::{Mutex, OwnedMappedMutexGuard, OwnedMutexGuard};

use super::{Backend, StoreError, ensure_parent_dir, sql::sql_store};

/// How long a write waits for this process's writer connection before it is refused.
const WRITER_WAIT: Duration = Duration::from_secs(15);

/// A store in a SQLite file.
///
/// Reads use a pool; every write transaction runs on the one writer connection. SQLite admits
/// one writer at a time anyway, and a connection discards its page cache whenever another
/// connection changed the file, so a single writer keeps its cache warm from one transaction to
/// the next. Writers of this process queue on the connection; other processes on the file's
/// lock (the busy timeout).
pub struct SqliteStore {
    pool: SqlitePool,
    writer: Arc<Mutex<Option<SqliteConnection>>>,
    options: SqliteConnectOptions,
    path: PathBuf,
}

/// The writer connection, held.
type WriterGuard = OwnedMappedMutexGuard<Option<SqliteConnection>, SqliteConnection>;

/// A write transaction on the writer connection: `BEGIN IMMEDIATE` when it starts, rolled back
/// when dropped without a commit.
pub struct WriterTx {
    conn: WriterGuard,
    open: bool,
}

impl WriterTx {
    /// Commit; the transaction ends either way.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        let result = SqliteTransactionManager::commit(&mut self.conn).await;
        self.open = false;
        if result.is_err() {
            // Whatever the file holds now, this connection must not stay inside a transaction.
            SqliteTransactionManager::start_rollback(&mut self.conn);
        }
        result
    }
}

impl Deref for WriterTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl DerefMut for WriterTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for WriterTx {
    fn drop(&mut self) {
        if self.open {
            // Queued on the connection's worker ahead of anything the next writer sends.
            SqliteTransactionManager::start_rollback(&mut self.conn);
        }
    }
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
        // The writer first: it creates the file and switches it to WAL before readers open it.
        let writer = Self::connect(&options, path).await?;
        // A connection to a local file cannot go stale: the pool need not ping before lending one.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(15))
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|error| Self::unavailable(path, &error))?;
        Ok(Self {
            pool,
            writer: Arc::new(Mutex::new(Some(writer))),
            options,
            path: path.to_path_buf(),
        })
    }

    fn unavailable(path: &Path, error: &sqlx::Error) -> StoreError {
        StoreError::Unavailable(format!(
            "cannot open the SQLite database `{}`: {error}",
            path.display()
        ))
    }

    async fn connect(
        options: &SqliteConnectOptions,
        path: &Path,
    ) -> Result<SqliteConnection, StoreError> {
        options
            .connect()
            .await
            .map_err(|error| Self::unavailable(path, &error))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying read pool, for tests and benchmarks that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// `BEGIN IMMEDIATE` on the writer connection takes the write lock up front: a transaction
    /// that reads and then writes cannot fail to upgrade its lock half-way. A writer whose
    /// connection broke (its worker stopped) is reopened once.
    async fn begin_write(&self) -> Result<WriterTx, StoreError> {
        // An idle writer is taken without arming a timer: a timer wakes the runtime's timer
        // thread for nothing when the wait never happens.
        let conn = match self.writer.clone().try_lock_owned() {
            Ok(conn) => conn,
            Err(_) => tokio::time::timeout(WRITER_WAIT, self.writer.clone().lock_owned())
                .await
                .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no write to `{}` could start within {} seconds: another write of this process still holds it (a long one, such as a rebuild or a retention run); try again once it ends",
                    self.path.display(),
                    WRITER_WAIT.as_secs()
                ))
            })?,
        };
        let conn = OwnedMutexGuard::try_map(conn, Option::as_mut).map_err(|_| {
            StoreError::Unavailable(format!(
                "the SQLite database `{}` is closed",
                self.path.display()
            ))
        })?;
        match Self::begin_on(WriterTx { conn, open: true }).await {
            Ok(tx) => Ok(tx),
            Err((mut tx, sqlx::Error::WorkerCrashed)) => {
                *tx.conn = Self::connect(&self.options, &self.path).await?;
                tx.open = true;
                Self::begin_on(tx).await.map_err(|(_, error)| error.into())
            }
            Err((_, error)) => Err(error.into()),
        }
    }

    /// `BEGIN IMMEDIATE` in `tx`, which is open (rolled back when dropped) before the `BEGIN` is
    /// sent. The connection's worker runs a `BEGIN` it was sent even when the caller stops
    /// waiting for the answer (a client hung up, the daemon is stopping); dropping `tx` then
    /// queues a rollback behind it, which ends that transaction (and does nothing when the
    /// `BEGIN` never ran), so the writer is never left inside a transaction nobody owns. On an
    /// error `tx` comes back closed, with its connection, for a retry.
    async fn begin_on(mut tx: WriterTx) -> Result<WriterTx, (WriterTx, sqlx::Error)> {
        match SqliteTransactionManager::begin(&mut tx.conn, Some("BEGIN IMMEDIATE".into())).await {
            Ok(()) => Ok(tx),
            Err(error) => {
                tx.open = false;
                Err((tx, error))
            }
        }
    }

    async fn begin_migration(&self) -> Result<WriterTx, StoreError> {
        self.begin_write().await
    }

    async fn close_pools(&self) {
        if let Some(conn) = self.writer.lock().await.take() {
            let _ = sqlx::Connection::close(conn).await;
        }
        self.pool.close().await;
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

sql_store!(
    store = SqliteStore,
    tx = SqliteWriteTx,
    inner = WriterTx,
    db = Sqlite
);
