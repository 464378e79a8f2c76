//! Several `brain serve` on one store: who this daemon is, who leads, and the leader lease that
//! keeps the scheduled work (snapshots, swarms, connector polling, proposal expiry, backups,
//! retention, SLO evaluation) on exactly one daemon at a time.
//!
//! The lease is a row of the store's runtime table (`cluster:leader`: holder, since, expiry),
//! taken and renewed inside a write transaction, so two daemons can never both take it (a
//! write transaction takes the store's write lock before it reads: `BEGIN IMMEDIATE` on SQLite,
//! the chain head's row lock on Postgres). The holder renews it every [`HEARTBEAT`]; a daemon
//! takes it when it is free or its expiry ([`LEASE_TTL`] after the last renewal) has passed. The
//! holder gives its work up on its own monotonic clock [`GIVE_UP_AFTER`] after its last
//! successful renewal, before anyone else can take the lease, so a partition or a stalled store
//! stops the work first; a daemon that stops cleanly releases the lease at once. Members write a
//! heartbeat row each (`cluster:member:<id>`) for `GET /api/v1/cluster`.
//!
//! On SQLite only one daemon may serve a store file (an exclusive lock on `<file>.serve.lock`):
//! that daemon leads from its first heartbeat.
//!
//! Architecture Invariant: the Engine's guarantees (one execution per proposal, kill switches
//! read in the deciding transaction) do not depend on the lease; the lease only keeps scheduled
//! jobs from running on two daemons at once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::store::{KvEntry, Store, StoreError};

/// How often each daemon writes its heartbeat and the leader renews its lease.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// How long a lease lasts after its last renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// When the holder stops its scheduled work without a successful renewal: early enough that it
/// has stopped before the lease expires, with room for clock skew between machines.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(6);
/// A heartbeat that has not finished in this long counts as failed.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(1500);

const LEADER_KEY: &str = "cluster:leader";
const MEMBER_PREFIX: &str = "cluster:member:";

/// The lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Leader {
    pub instance_id: String,
    pub since: String,
    pub lease_expires_at: String,
}

/// A daemon as its heartbeat row says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Member {
    pub instance_id: String,
    pub address: String,
    pub started_at: String,
    pub last_heartbeat_at: String,
    pub version: String,
}

/// `GET /api/v1/cluster`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterView {
    /// This daemon.
    pub instance_id: String,
    pub started_at: String,
    /// Whether this daemon holds the lease now.
    pub leading: bool,
    /// The lease as stored (`None` before anyone took it, or after a clean release).
    pub leader: Option<Leader>,
    /// Every daemon whose heartbeat is recent (within three lease lengths), newest first.
    pub members: Vec<Member>,
}

/// Whether the lease is contested (several daemons on one store) or this daemon's by
/// construction (SQLite, one daemon per file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Lease,
    Single,
}

/// This daemon's membership.
pub struct Cluster {
    pub instance_id: String,
    pub started_at: String,
    pub address: String,
    mode: Mode,
    leading: watch::Sender<bool>,
    /// When the last successful renewal started, while this daemon holds the lease.
    renewed: Mutex<Option<Instant>>,
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    crate::clock::parse_time(text)
}

impl Cluster {
    pub fn new(address: String, mode: Mode) -> Self {
        let mut suffix = [0u8; 6];
        let _ = getrandom::fill(&mut suffix);
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "brain".into());
        Self {
            instance_id: format!("{host}-{}", hex::encode(suffix)),
            started_at: crate::clock::format_time(crate::clock::now()),
            address,
            mode,
            leading: watch::channel(false).0,
            renewed: Mutex::new(None),
        }
    }

    /// Whether this daemon holds the lease now (on its own clock).
    pub fn is_leader(&self) -> bool {
        *self.leading.borrow()
    }

    /// Follows [`Cluster::is_leader`].
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leading.subscribe()
    }

    fn set_leading(&self, leading: bool) {
        self.leading.send_if_modified(|current| {
            let changed = *current != leading;
            *current = leading;
            changed
        });
    }

    /// One heartbeat: write this daemon's row, and take or renew the lease when it is free,
    /// expired or already ours. Returns whether this daemon holds it.
    async fn beat(&self, store: &dyn Store) -> Result<bool, StoreError> {
        let started = Instant::now();
        let now = crate::clock::now();
        let stamp = crate::clock::format_time(now);
        let mut tx = store.begin().await?;
        let current: Option<Leader> = tx
            .kv_get(LEADER_KEY)
            .await?
            .and_then(|entry| serde_json::from_str(&entry.value).ok());
        let ours = current
            .as_ref()
            .is_some_and(|leader| leader.instance_id == self.instance_id);
        let free = current.as_ref().is_none_or(|leader| {
            parse_time(&leader.lease_expires_at).is_none_or(|expires| expires <= now)
        });
        let take = ours || free || self.mode == Mode::Single;
        if take {
            let since = match &current {
                Some(leader) if ours => leader.since.clone(),
                _ => stamp.clone(),
            };
            let expires = now
                + chrono::Duration::from_std(LEASE_TTL).unwrap_or(chrono::Duration::seconds(10));
            let lease = Leader {
                instance_id: self.instance_id.clone(),
                since,
                lease_expires_at: crate::clock::format_time(expires),
            };
            tx.kv_set(&KvEntry {
                key: LEADER_KEY.into(),
                value: serde_json::to_string(&lease).unwrap_or_default(),
                updated_at: stamp.clone(),
                updated_by: self.instance_id.clone(),
            })
            .await?;
        }
        let member = Member {
            instance_id: self.instance_id.clone(),
            address: self.address.clone(),
            started_at: self.started_at.clone(),
            last_heartbeat_at: stamp.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
        };
        tx.kv_set(&KvEntry {
            key: format!("{MEMBER_PREFIX}{}", self.instance_id),
            value: serde_json::to_string(&member).unwrap_or_default(),
            updated_at: stamp,
            updated_by: self.instance_id.clone(),
        })
        .await?;
        tx.commit().await?;
        if take && let Ok(mut renewed) = self.renewed.lock() {
            *renewed = Some(started);
        }
        Ok(take)
    }

    /// Heartbeats until the process stops: takes, renews and gives up the lease. The work
    /// follows [`Cluster::subscribe`].
    pub async fn run(&self, store: &dyn Store) {
        let mut next_beat = Instant::now();
        loop {
            if Instant::now() >= next_beat {
                next_beat = Instant::now() + HEARTBEAT;
                match tokio::time::timeout(HEARTBEAT_TIMEOUT, self.beat(store)).await {
                    Ok(Ok(true)) => {
                        if !self.is_leader() {
                            tracing::info!(instance = %self.instance_id, "took the leader lease: this daemon runs the scheduled work");
                        }
                        self.set_leading(true);
                    }
                    Ok(Ok(false)) => {
                        if self.is_leader() {
                            tracing::warn!(instance = %self.instance_id, "another daemon holds the leader lease: stopping the scheduled work");
                        }
                        self.set_leading(false);
                    }
                    Ok(Err(error)) => {
                        tracing::warn!(error = %error, "cluster heartbeat failed")
                    }
                    Err(_) => tracing::warn!("cluster heartbeat timed out"),
                }
            }
            // Give the work up on this daemon's own clock, before the lease can expire.
            let lapsed = self
                .renewed
                .lock()
                .ok()
                .and_then(|renewed| *renewed)
                .is_none_or(|renewed| renewed.elapsed() >= GIVE_UP_AFTER);
            if lapsed && self.is_leader() {
                tracing::warn!(instance = %self.instance_id, "the leader lease could not be renewed: stopping the scheduled work");
                self.set_leading(false);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Release the lease (a clean shutdown), so another daemon takes over at its next heartbeat.
    pub async fn release(&self, store: &dyn Store) {
        self.set_leading(false);
        let released = async {
            let mut tx = store.begin().await?;
            let current: Option<Leader> = tx
                .kv_get(LEADER_KEY)
                .await?
                .and_then(|entry| serde_json::from_str(&entry.value).ok());
            if current.is_some_and(|leader| leader.instance_id == self.instance_id) {
                tx.prune_runtime(LEADER_KEY, "9999").await?;
            }
            tx.prune_runtime(&format!("{MEMBER_PREFIX}{}", self.instance_id), "9999")
                .await?;
            tx.commit().await
        }
        .await;
        if let Err(error) = released {
            tracing::warn!(error = %error, "could not release the leader lease; it expires by itself");
        }
    }

    /// The cluster as the store says now.
    pub async fn view(&self, store: &dyn Store) -> Result<ClusterView, StoreError> {
        let leader = store
            .kv_get(LEADER_KEY)
            .await?
            .and_then(|entry| serde_json::from_str(&entry.value).ok());
        let recent = crate::clock::now()
            - chrono::Duration::from_std(LEASE_TTL * 3).unwrap_or(chrono::Duration::seconds(30));
        let mut members: Vec<Member> = store
            .kv_list(MEMBER_PREFIX)
            .await?
            .into_iter()
            .filter_map(|entry| serde_json::from_str::<Member>(&entry.value).ok())
            .filter(|member| parse_time(&member.last_heartbeat_at).is_some_and(|at| at >= recent))
            .collect();
        members.sort_by(|a, b| b.last_heartbeat_at.cmp(&a.last_heartbeat_at));
        Ok(ClusterView {
            instance_id: self.instance_id.clone(),
            started_at: self.started_at.clone(),
            leading: self.is_leader(),
            leader,
            members,
        })
    }
}

/// The exclusive lock that keeps a second daemon off a SQLite file, held while it lives.
pub struct SqliteLock {
    _file: std::fs::File,
}

/// Lock `<database>.serve.lock`; a clear refusal when another daemon holds it.
pub fn lock_sqlite(database: &std::path::Path) -> Result<SqliteLock, String> {
    let mut name = database.as_os_str().to_owned();
    name.push(".serve.lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|error| format!("cannot open `{}`: {error}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(SqliteLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another `brain serve` is already serving the SQLite store `{}` (it holds `{}`)",
            database.display(),
            path.display()
        )),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(format!("cannot lock `{}`: {error}", path.display()))
        }
    }
}
