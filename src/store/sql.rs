//! The SQL both backends share. `$N` placeholders work on SQLite and Postgres alike, so one
//! body serves both; the macro stamps it out per backend so each implementation is concrete.

/// Implement [`Store`](super::Store) for `$store` and [`WriteTx`](super::WriteTx) for `$tx` over
/// the sqlx database `$db`. `$store` must have a `pool` field, a `BACKEND` constant and
/// `begin_write` / `begin_migration` methods returning a `Transaction<'static, $db>`.
macro_rules! sql_store {
    (store = $store:ty, tx = $tx:ident, db = $db:ty) => {
        /// A write transaction on this backend.
        pub struct $tx {
            tx: sqlx::Transaction<'static, $db>,
        }

        fn actor_from_row(row: &<$db as sqlx::Database>::Row) -> Result<$crate::store::Actor, sqlx::Error> {
            use sqlx::Row;
            Ok($crate::store::Actor {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                name: row.try_get("name")?,
                display_name: row.try_get("display_name")?,
                token_hash: row.try_get("token_hash")?,
                created_at: row.try_get("created_at")?,
                created_by: row.try_get("created_by")?,
                revoked_at: row.try_get("revoked_at")?,
                revoked_by: row.try_get("revoked_by")?,
            })
        }

        fn kv_from_row(row: &<$db as sqlx::Database>::Row) -> Result<$crate::store::KvEntry, sqlx::Error> {
            use sqlx::Row;
            Ok($crate::store::KvEntry {
                key: row.try_get("key")?,
                value: row.try_get("value")?,
                updated_at: row.try_get("updated_at")?,
                updated_by: row.try_get("updated_by")?,
            })
        }

        fn audit_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::audit::AuditEvent, $crate::store::StoreError> {
            use sqlx::Row;
            let json_list = |column: &str| -> Result<Vec<String>, $crate::store::StoreError> {
                let text: String = row.try_get(column)?;
                serde_json::from_str(&text).map_err(|error| {
                    $crate::store::StoreError::Corrupt(format!("audit column `{column}` is not a JSON list: {error}"))
                })
            };
            let detail: String = row.try_get("detail")?;
            Ok($crate::audit::AuditEvent {
                seq: row.try_get("seq")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                action: row.try_get("action")?,
                capability: row.try_get("capability")?,
                proposal_id: row.try_get("proposal_id")?,
                decision: row.try_get("decision")?,
                reason_codes: json_list("reason_codes")?,
                policy_ids: json_list("policy_ids")?,
                policy_set_hash: row.try_get("policy_set_hash")?,
                input_hash: row.try_get("input_hash")?,
                output_hash: row.try_get("output_hash")?,
                detail: serde_json::from_str(&detail).map_err(|error| {
                    $crate::store::StoreError::Corrupt(format!("audit column `detail` is not JSON: {error}"))
                })?,
                prev_hash: row.try_get("prev_hash")?,
                hash: row.try_get("hash")?,
            })
        }

        const ACTOR_COLUMNS: &str =
            "id, kind, name, display_name, token_hash, created_at, created_by, revoked_at, revoked_by";
        const AUDIT_COLUMNS: &str = "seq, at, actor, action, capability, proposal_id, decision, reason_codes, \
             policy_ids, policy_set_hash, input_hash, output_hash, detail, prev_hash, hash";

        #[async_trait::async_trait]
        impl $crate::store::WriteTx for $tx {
            async fn insert_actor(&mut self, actor: &$crate::store::Actor) -> Result<(), $crate::store::StoreError> {
                sqlx::query(&format!(
                    "INSERT INTO actors ({ACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ))
                .bind(&actor.id)
                .bind(&actor.kind)
                .bind(&actor.name)
                .bind(&actor.display_name)
                .bind(&actor.token_hash)
                .bind(&actor.created_at)
                .bind(&actor.created_by)
                .bind(&actor.revoked_at)
                .bind(&actor.revoked_by)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn revoke_actor(&mut self, id: &str, at: &str, by: &str) -> Result<bool, $crate::store::StoreError> {
                let result =
                    sqlx::query("UPDATE actors SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL")
                        .bind(at)
                        .bind(by)
                        .bind(id)
                        .execute(&mut *self.tx)
                        .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn kv_get(&mut self, key: &str) -> Result<Option<$crate::store::KvEntry>, $crate::store::StoreError> {
                let row = sqlx::query("SELECT key, value, updated_at, updated_by FROM runtime_kv WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&mut *self.tx)
                    .await?;
                Ok(row.as_ref().map(kv_from_row).transpose()?)
            }

            async fn kv_list(&mut self, prefix: &str) -> Result<Vec<$crate::store::KvEntry>, $crate::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT key, value, updated_at, updated_by FROM runtime_kv \
                     WHERE substr(key, 1, length($1)) = $1 ORDER BY key",
                )
                .bind(prefix)
                .fetch_all(&mut *self.tx)
                .await?;
                Ok(rows.iter().map(kv_from_row).collect::<Result<_, _>>()?)
            }

            async fn kv_set(&mut self, entry: &$crate::store::KvEntry) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO runtime_kv (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
                     updated_by = excluded.updated_by",
                )
                .bind(&entry.key)
                .bind(&entry.value)
                .bind(&entry.updated_at)
                .bind(&entry.updated_by)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn append_audit(
                &mut self,
                event: $crate::audit::NewAuditEvent,
            ) -> Result<$crate::audit::AuditEvent, $crate::store::StoreError> {
                use sqlx::Row;
                let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_one(&mut *self.tx)
                    .await?;
                let head_seq: i64 = head.try_get("seq")?;
                let head_hash: String = head.try_get("hash")?;
                let sealed = event.seal(head_seq + 1, &head_hash);
                let list = |items: &[String]| serde_json::Value::from(items.to_vec()).to_string();
                sqlx::query(&format!(
                    "INSERT INTO audit_events ({AUDIT_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                ))
                .bind(sealed.seq)
                .bind(&sealed.at)
                .bind(&sealed.actor)
                .bind(&sealed.action)
                .bind(&sealed.capability)
                .bind(&sealed.proposal_id)
                .bind(&sealed.decision)
                .bind(list(&sealed.reason_codes))
                .bind(list(&sealed.policy_ids))
                .bind(&sealed.policy_set_hash)
                .bind(&sealed.input_hash)
                .bind(&sealed.output_hash)
                .bind($crate::audit::canonical_json(&sealed.detail))
                .bind(&sealed.prev_hash)
                .bind(&sealed.hash)
                .execute(&mut *self.tx)
                .await?;
                sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                    .bind(sealed.seq)
                    .bind(&sealed.hash)
                    .execute(&mut *self.tx)
                    .await?;
                Ok(sealed)
            }

            async fn commit(self: Box<Self>) -> Result<(), $crate::store::StoreError> {
                self.tx.commit().await?;
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn backend(&self) -> $crate::store::Backend {
                Self::BACKEND
            }

            async fn migrate(&self) -> Result<Vec<i64>, $crate::store::StoreError> {
                use sqlx::Row;
                let mut tx = self.begin_migration().await?;
                sqlx::Executor::execute(&mut *tx, $crate::store::migrations::CREATE_TABLE).await?;
                let recorded: Vec<(i64, String)> = sqlx::query("SELECT version, checksum FROM brain_migrations ORDER BY version")
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|row| Ok((row.try_get("version")?, row.try_get("checksum")?)))
                    .collect::<Result<_, sqlx::Error>>()?;
                let status = $crate::store::migrations::status(Self::BACKEND, &recorded)?;
                let now = $crate::clock::format_time($crate::clock::now());
                for version in &status.pending {
                    let Some(migration) = $crate::store::migrations_for(Self::BACKEND)
                        .iter()
                        .find(|migration| migration.version == *version)
                    else {
                        continue;
                    };
                    sqlx::Executor::execute(&mut *tx, migration.sql).await.map_err(|error| {
                        $crate::store::StoreError::Migration(format!(
                            "migration {} ({}): {error}",
                            migration.version, migration.name
                        ))
                    })?;
                    sqlx::query("INSERT INTO brain_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                        .bind(migration.version)
                        .bind(migration.name)
                        .bind(migration.checksum())
                        .bind(&now)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(status.pending)
            }

            async fn migration_status(&self) -> Result<$crate::store::MigrationStatus, $crate::store::StoreError> {
                use sqlx::Row;
                let exists = self.migrations_table_exists().await?;
                let recorded: Vec<(i64, String)> = if exists {
                    sqlx::query("SELECT version, checksum FROM brain_migrations ORDER BY version")
                        .fetch_all(&self.pool)
                        .await?
                        .iter()
                        .map(|row| Ok((row.try_get("version")?, row.try_get("checksum")?)))
                        .collect::<Result<_, sqlx::Error>>()?
                } else {
                    Vec::new()
                };
                $crate::store::migrations::status(Self::BACKEND, &recorded)
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn begin(&self) -> Result<Box<dyn $crate::store::WriteTx>, $crate::store::StoreError> {
                Ok(Box::new($tx {
                    tx: self.begin_write().await?,
                }))
            }

            async fn actor(&self, id: &str) -> Result<Option<$crate::store::Actor>, $crate::store::StoreError> {
                let row = sqlx::query(&format!("SELECT {ACTOR_COLUMNS} FROM actors WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(actor_from_row).transpose()?)
            }

            async fn actor_by_token_hash(
                &self,
                token_hash: &str,
            ) -> Result<Option<$crate::store::Actor>, $crate::store::StoreError> {
                let row = sqlx::query(&format!("SELECT {ACTOR_COLUMNS} FROM actors WHERE token_hash = $1"))
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(actor_from_row).transpose()?)
            }

            async fn actors(&self) -> Result<Vec<$crate::store::Actor>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!("SELECT {ACTOR_COLUMNS} FROM actors ORDER BY id"))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(actor_from_row).collect::<Result<_, _>>()?)
            }

            async fn kv_get(&self, key: &str) -> Result<Option<$crate::store::KvEntry>, $crate::store::StoreError> {
                let row = sqlx::query("SELECT key, value, updated_at, updated_by FROM runtime_kv WHERE key = $1")
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map(kv_from_row).transpose()?)
            }

            async fn kv_list(&self, prefix: &str) -> Result<Vec<$crate::store::KvEntry>, $crate::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT key, value, updated_at, updated_by FROM runtime_kv \
                     WHERE substr(key, 1, length($1)) = $1 ORDER BY key",
                )
                .bind(prefix)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.iter().map(kv_from_row).collect::<Result<_, _>>()?)
            }

            async fn audit_events(
                &self,
                after: i64,
                limit: i64,
            ) -> Result<Vec<$crate::audit::AuditEvent>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
                ))
                .bind(after)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(audit_from_row).collect()
            }

            async fn audit_head(&self) -> Result<(i64, String), $crate::store::StoreError> {
                use sqlx::Row;
                let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_one(&self.pool)
                    .await?;
                Ok((row.try_get("seq")?, row.try_get("hash")?))
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }
    };
}

pub(crate) use sql_store;
