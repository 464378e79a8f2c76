//! Embedded migrations, one list per backend, and their status.
//!
//! A migration is applied in its own transaction together with its row in `brain_migrations`,
//! so a failure leaves the database at the previous version. Checksums detect a migration that
//! was edited after it was applied.

use serde::Serialize;

use super::Backend;

/// One embedded migration.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    pub fn checksum(&self) -> String {
        crate::audit::sha256_hex(self.sql.as_bytes())
    }
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../../migrations/sqlite/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "engine",
        sql: include_str!("../../migrations/sqlite/0002_engine.sql"),
    },
    Migration {
        version: 3,
        name: "snapshots",
        sql: include_str!("../../migrations/sqlite/0003_snapshots.sql"),
    },
    Migration {
        version: 4,
        name: "retention",
        sql: include_str!("../../migrations/sqlite/0004_retention.sql"),
    },
    Migration {
        version: 5,
        name: "chain_head_trigger",
        sql: include_str!("../../migrations/sqlite/0005_chain_head_trigger.sql"),
    },
    Migration {
        version: 6,
        name: "write_path_indexes",
        sql: include_str!("../../migrations/sqlite/0006_write_path_indexes.sql"),
    },
    Migration {
        version: 7,
        name: "chain_head_forward",
        sql: include_str!("../../migrations/sqlite/0007_chain_head_forward.sql"),
    },
    Migration {
        version: 8,
        name: "swarms",
        sql: include_str!("../../migrations/sqlite/0008_swarms.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sql: include_str!("../../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "engine",
        sql: include_str!("../../migrations/postgres/0002_engine.sql"),
    },
    Migration {
        version: 3,
        name: "snapshots",
        sql: include_str!("../../migrations/postgres/0003_snapshots.sql"),
    },
    Migration {
        version: 4,
        name: "retention",
        sql: include_str!("../../migrations/postgres/0004_retention.sql"),
    },
    Migration {
        version: 5,
        name: "chain_head_trigger",
        sql: include_str!("../../migrations/postgres/0005_chain_head_trigger.sql"),
    },
    Migration {
        version: 6,
        name: "write_path_indexes",
        sql: include_str!("../../migrations/postgres/0006_write_path_indexes.sql"),
    },
    Migration {
        version: 7,
        name: "chain_head_forward",
        sql: include_str!("../../migrations/postgres/0007_chain_head_forward.sql"),
    },
    Migration {
        version: 8,
        name: "swarms",
        sql: include_str!("../../migrations/postgres/0008_swarms.sql"),
    },
];

/// The embedded migrations of a backend, in order.
pub fn migrations_for(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    }
}

/// What is applied, what is pending, and what the database has that this binary does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MigrationStatus {
    pub applied: Vec<i64>,
    pub pending: Vec<i64>,
    pub unknown: Vec<i64>,
}

pub(super) const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS brain_migrations (
    version     BIGINT PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TEXT NOT NULL
)";

/// Compare what the database recorded with what is embedded.
pub(super) fn status(
    backend: Backend,
    recorded: &[(i64, String)],
) -> Result<MigrationStatus, super::StoreError> {
    let embedded = migrations_for(backend);
    let mut status = MigrationStatus::default();
    for (version, checksum) in recorded {
        match embedded
            .iter()
            .find(|migration| migration.version == *version)
        {
            Some(migration) if &migration.checksum() != checksum => {
                return Err(super::StoreError::Migration(format!(
                    "migration {version} ({}) was changed after it was applied",
                    migration.name
                )));
            }
            Some(_) => status.applied.push(*version),
            None => status.unknown.push(*version),
        }
    }
    if let Some(found) = status.unknown.iter().max() {
        let known = embedded.last().map_or(0, |migration| migration.version);
        return Err(super::StoreError::TooNew {
            found: *found,
            known,
        });
    }
    status.pending = embedded
        .iter()
        .map(|migration| migration.version)
        .filter(|version| !status.applied.contains(version))
        .collect();
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every migration file on disk is embedded, in order, for both backends.
    #[test]
    fn every_migration_file_is_embedded() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(backend.as_str());
            let mut files: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|name| name.ends_with(".sql"))
                .collect();
            files.sort();
            let embedded: Vec<String> = migrations_for(backend)
                .iter()
                .map(|migration| format!("{:04}_{}.sql", migration.version, migration.name))
                .collect();
            assert_eq!(
                files,
                embedded,
                "migrations/{} and the embedded list differ",
                backend.as_str()
            );
        }
    }

    #[test]
    fn sqlite_and_postgres_have_the_same_versions() {
        let versions = |backend| {
            migrations_for(backend)
                .iter()
                .map(|migration| migration.version)
                .collect::<Vec<_>>()
        };
        assert_eq!(versions(Backend::Sqlite), versions(Backend::Postgres));
    }
}
