//! The SQL both backends share. `$N` placeholders work on SQLite and Postgres alike, so one
//! body serves both; the macro stamps it out per backend so each implementation is concrete.

/// Implement [`Store`](super::Store) for `$store` and [`WriteTx`](super::WriteTx) for `$tx` over
/// the sqlx database `$db`. `$store` must have a `pool` field, a `BACKEND` constant, a
/// `close_pools` method and `begin_write` / `begin_migration` methods returning an open
/// transaction `$inner`: a type that derefs to the backend's connection, has
/// `commit(self) -> Result<(), sqlx::Error>`, and rolls back when dropped uncommitted.
macro_rules! sql_store {
    (store = $store:ty, tx = $tx:ident, inner = $inner:ty, db = $db:ty) => {
        /// A write transaction on this backend.
        pub struct $tx {
            tx: $inner,
            /// The chain head as this transaction last saw or made it. The schema's trigger
            /// moves the head row with every inserted event; appends advance this copy, so a
            /// transaction reads the head row at most once.
            head: Option<(i64, String)>,
            /// The head was set without an event (a restored prune point): `commit` writes it.
            head_changed: bool,
            /// Writes not sent yet (see `store/batch.rs`).
            pending: $crate::store::batch::WriteBatch,
            /// Why a batch of this transaction failed: its earlier statements may have applied,
            /// so the transaction refuses every later statement and its commit.
            failed: Option<String>,
        }

        impl $tx {
            /// The connection, for a statement whose result this transaction needs: the queued
            /// writes go first, so the statement sees them.
            async fn conn(
                &mut self,
            ) -> Result<&mut <$db as sqlx::Database>::Connection, $crate::store::StoreError> {
                self.send_batch().await?;
                Ok(&mut *self.tx)
            }

            /// Send the queued writes as one statement and check that each changed its row.
            async fn send_batch(&mut self) -> Result<(), $crate::store::StoreError> {
                use $crate::store::batch::Bound;
                if let Some(cause) = &self.failed {
                    return Err($crate::store::StoreError::Rejected(format!(
                        "an earlier write of this transaction failed ({cause}); nothing of it was committed: run the step again once the cause is fixed"
                    )));
                }
                let Some(statement) = self.pending.take(<$store>::BACKEND) else {
                    return Ok(());
                };
                let mut query = sqlx::query(&statement.sql);
                for value in statement.values {
                    query = match value {
                        Bound::Text(text) => query.bind(text),
                        Bound::Int(number) => query.bind(number),
                        Bound::Bool(flag) => query.bind(flag),
                        Bound::Float(number) => query.bind(number),
                    };
                }
                let sent = match query.execute(&mut *self.tx).await {
                    Ok(done) if done.rows_affected() == statement.rows => Ok(()),
                    Ok(done) => Err($crate::store::StoreError::Corrupt(format!(
                        "{} write(s) changed {} row(s): a row this transaction read is gone; nothing was committed. Something changed the database outside brain: run `brain audit verify`",
                        statement.rows,
                        done.rows_affected()
                    ))),
                    Err(error) => Err($crate::store::StoreError::from(error)),
                };
                if let Err(error) = &sent {
                    self.failed = Some(error.to_string());
                }
                sent
            }

            /// Queue a write that changes exactly one row; it is sent with the next statement
            /// whose result is needed, or at commit.
            async fn queue(
                &mut self,
                write: $crate::store::batch::Write,
            ) -> Result<(), $crate::store::StoreError> {
                if self.pending.must_send_before(&write) {
                    self.send_batch().await?;
                }
                self.pending.push(write);
                Ok(())
            }

            async fn insert_prune(&mut self, prune: &$crate::store::AuditPrune) -> Result<(), $crate::store::StoreError> {
                let record = serde_json::to_string(prune).map_err(|error| {
                    $crate::store::StoreError::Corrupt(format!("cannot encode a prune record: {error}"))
                })?;
                sqlx::query("INSERT INTO audit_prunes (through_seq, hash, record, at) VALUES ($1, $2, $3, $4)")
                    .bind(prune.through_seq)
                    .bind(&prune.hash)
                    .bind(record)
                    .bind(&prune.at)
                    .execute(self.conn().await?)
                    .await?;
                Ok(())
            }

            /// Insert a sealed event, whose detail is `detail` in canonical encoding, and make it
            /// the chain head.
            async fn insert_sealed(
                &mut self,
                sealed: &$crate::audit::AuditEvent,
                detail: String,
            ) -> Result<(), $crate::store::StoreError> {
                let list = $crate::audit::json_list;
                let write = $crate::store::batch::Write::new(
                    format!(
                        "INSERT INTO audit_events ({AUDIT_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                    ),
                    "audit_events",
                    &sealed.seq.to_string(),
                )
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
                .bind(detail)
                .bind(&sealed.prev_hash)
                .bind(&sealed.hash);
                self.queue(write).await?;
                // The trigger `audit_events_move_head` moves the head row when the insert is sent.
                self.head = Some((sealed.seq, sealed.hash.clone()));
                Ok(())
            }
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


        const DELEGATION_COLUMNS: &str =
            "id, agent, owner, scopes, created_at, created_by, expires_at, revoked_at, revoked_by";
        const PROPOSAL_COLUMNS: &str = "id, capability, state, input, input_hash, rationale, plan, proposer, owner, \
             delegation_id, idempotency_key, policy_set_hash, created_at, updated_at, expires_at, closed_by, \
             closed_reason, execution_started_at, execution_finished_at, executed_by, outcome, failure";
        const APPROVAL_COLUMNS: &str =
            "id, proposal_id, approver, input_hash, comment, created_at, expires_at";
        const EXEMPTION_COLUMNS: &str = "id, kind, revokes, capability, owner, starts, expires, justification, \
             requested_by, approved_by, created_at";
        const CHECKPOINT_COLUMNS: &str = "seq, hash, at, public_key, signature";

        fn json_column<T: serde::de::DeserializeOwned>(
            row: &<$db as sqlx::Database>::Row,
            column: &str,
        ) -> Result<T, $crate::store::StoreError> {
            use sqlx::Row;
            let text: String = row.try_get(column)?;
            serde_json::from_str(&text).map_err(|error| {
                $crate::store::StoreError::Corrupt(format!("column `{column}` is not the JSON expected: {error}"))
            })
        }

        fn optional_json_column(
            row: &<$db as sqlx::Database>::Row,
            column: &str,
        ) -> Result<Option<serde_json::Value>, $crate::store::StoreError> {
            use sqlx::Row;
            let text: Option<String> = row.try_get(column)?;
            text.map(|text| {
                serde_json::from_str(&text).map_err(|error| {
                    $crate::store::StoreError::Corrupt(format!("column `{column}` is not JSON: {error}"))
                })
            })
            .transpose()
        }

        fn delegation_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::Delegation, $crate::store::StoreError> {
            use sqlx::Row;
            Ok($crate::store::Delegation {
                id: row.try_get("id")?,
                agent: row.try_get("agent")?,
                owner: row.try_get("owner")?,
                scopes: json_column(row, "scopes")?,
                created_at: row.try_get("created_at")?,
                created_by: row.try_get("created_by")?,
                expires_at: row.try_get("expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
                revoked_by: row.try_get("revoked_by")?,
            })
        }

        fn proposal_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::Proposal, $crate::store::StoreError> {
            use sqlx::Row;
            let state: String = row.try_get("state")?;
            Ok($crate::store::Proposal {
                id: row.try_get("id")?,
                capability: row.try_get("capability")?,
                state: $crate::engine::lifecycle::ProposalState::parse(&state).ok_or_else(|| {
                    $crate::store::StoreError::Corrupt(format!("unknown proposal state `{state}`"))
                })?,
                input: json_column(row, "input")?,
                input_hash: row.try_get("input_hash")?,
                rationale: row.try_get("rationale")?,
                plan: optional_json_column(row, "plan")?,
                proposer: row.try_get("proposer")?,
                owner: row.try_get("owner")?,
                delegation_id: row.try_get("delegation_id")?,
                idempotency_key: row.try_get("idempotency_key")?,
                policy_set_hash: row.try_get("policy_set_hash")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                expires_at: row.try_get("expires_at")?,
                closed_by: row.try_get("closed_by")?,
                closed_reason: row.try_get("closed_reason")?,
                execution_started_at: row.try_get("execution_started_at")?,
                execution_finished_at: row.try_get("execution_finished_at")?,
                executed_by: row.try_get("executed_by")?,
                outcome: optional_json_column(row, "outcome")?,
                failure: row.try_get("failure")?,
            })
        }

        /// A proposal from the facts query's two rows (see `decision_facts`).
        fn proposal_from_halves(
            first: Vec<Option<String>>,
            second: Vec<Option<String>>,
        ) -> Result<$crate::store::Proposal, $crate::store::StoreError> {
            let mut first = first.into_iter();
            let mut second = second.into_iter();
            let next = |half: &mut std::vec::IntoIter<Option<String>>| half.next().flatten();
            let required = |value: Option<String>, what: &str| {
                value.ok_or_else(|| $crate::store::StoreError::Corrupt(format!("a proposal has no {what}")))
            };
            let json = |value: Option<String>, what: &str| -> Result<Option<serde_json::Value>, $crate::store::StoreError> {
                value
                    .map(|text| {
                        serde_json::from_str(&text).map_err(|error| {
                            $crate::store::StoreError::Corrupt(format!("a proposal's {what} is not JSON: {error}"))
                        })
                    })
                    .transpose()
            };
            let id = required(next(&mut first), "id")?;
            let capability = required(next(&mut first), "capability")?;
            let state_text = required(next(&mut first), "state")?;
            let state = $crate::engine::lifecycle::ProposalState::parse(&state_text).ok_or_else(|| {
                $crate::store::StoreError::Corrupt(format!("unknown proposal state `{state_text}`"))
            })?;
            let input = json(next(&mut first), "input")?.ok_or_else(|| {
                $crate::store::StoreError::Corrupt("a proposal has no input".into())
            })?;
            Ok($crate::store::Proposal {
                id,
                capability,
                state,
                input,
                input_hash: required(next(&mut first), "input hash")?,
                rationale: required(next(&mut first), "rationale")?,
                plan: json(next(&mut first), "plan")?,
                proposer: required(next(&mut first), "proposer")?,
                owner: required(next(&mut first), "owner")?,
                delegation_id: next(&mut first),
                idempotency_key: next(&mut first),
                policy_set_hash: required(next(&mut second), "policy set hash")?,
                created_at: required(next(&mut second), "creation time")?,
                updated_at: required(next(&mut second), "update time")?,
                expires_at: required(next(&mut second), "expiry")?,
                closed_by: next(&mut second),
                closed_reason: next(&mut second),
                execution_started_at: next(&mut second),
                execution_finished_at: next(&mut second),
                executed_by: next(&mut second),
                outcome: json(next(&mut second), "outcome")?,
                failure: next(&mut second),
            })
        }

        fn approval_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::Approval, sqlx::Error> {
            use sqlx::Row;
            Ok($crate::store::Approval {
                id: row.try_get("id")?,
                proposal_id: row.try_get("proposal_id")?,
                approver: row.try_get("approver")?,
                input_hash: row.try_get("input_hash")?,
                comment: row.try_get("comment")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        }

        fn exemption_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::ExemptionRecord, sqlx::Error> {
            use sqlx::Row;
            Ok($crate::store::ExemptionRecord {
                id: row.try_get("id")?,
                kind: row.try_get("kind")?,
                revokes: row.try_get("revokes")?,
                capability: row.try_get("capability")?,
                owner: row.try_get("owner")?,
                starts: row.try_get("starts")?,
                expires: row.try_get("expires")?,
                justification: row.try_get("justification")?,
                requested_by: row.try_get("requested_by")?,
                approved_by: row.try_get("approved_by")?,
                created_at: row.try_get("created_at")?,
            })
        }

        fn checkpoint_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::Checkpoint, sqlx::Error> {
            use sqlx::Row;
            Ok($crate::store::Checkpoint {
                seq: row.try_get("seq")?,
                hash: row.try_get("hash")?,
                at: row.try_get("at")?,
                public_key: row.try_get("public_key")?,
                signature: row.try_get("signature")?,
            })
        }

        const SNAPSHOT_COLUMNS: &str = "id, computed_at, schema_version, complete, content_hash, state, \
             provenance, previous_id, diff, drift";

        fn snapshot_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::SnapshotRecord, $crate::store::StoreError> {
            use sqlx::Row;
            let json = |column: &str| -> Result<serde_json::Value, $crate::store::StoreError> {
                let text: String = row.try_get(column)?;
                serde_json::from_str(&text).map_err(|error| {
                    $crate::store::StoreError::Corrupt(format!("snapshot column `{column}` is not JSON: {error}"))
                })
            };
            Ok($crate::store::SnapshotRecord {
                id: row.try_get("id")?,
                computed_at: row.try_get("computed_at")?,
                schema_version: row.try_get("schema_version")?,
                complete: row.try_get("complete")?,
                content_hash: row.try_get("content_hash")?,
                state: json("state")?,
                provenance: json("provenance")?,
                previous_id: row.try_get("previous_id")?,
                diff: json("diff")?,
                drift: json("drift")?,
            })
        }

        const SWARM_RUN_COLUMNS: &str = "id, swarm, agent, trigger, requested_by, dry_run, started_at, \
             finished_at, outcome, snapshot_id, records_read, summary";

        fn swarm_run_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::SwarmRunRecord, $crate::store::StoreError> {
            use sqlx::Row;
            Ok($crate::store::SwarmRunRecord {
                id: row.try_get("id")?,
                swarm: row.try_get("swarm")?,
                agent: row.try_get("agent")?,
                trigger: row.try_get("trigger")?,
                requested_by: row.try_get("requested_by")?,
                dry_run: row.try_get("dry_run")?,
                started_at: row.try_get("started_at")?,
                finished_at: row.try_get("finished_at")?,
                outcome: row.try_get("outcome")?,
                snapshot_id: row.try_get("snapshot_id")?,
                records_read: row.try_get("records_read")?,
                summary: json_column(row, "summary")?,
            })
        }

        fn swarm_draft_from_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::store::SwarmDraft, $crate::store::StoreError> {
            use sqlx::Row;
            let state: String = row.try_get("state")?;
            let approvals: i64 = row.try_get("approvals")?;
            Ok($crate::store::SwarmDraft {
                finding: $crate::store::SwarmFindingRecord {
                    id: row.try_get("id")?,
                    swarm: row.try_get("swarm")?,
                    rule: row.try_get("rule")?,
                    rule_version: row.try_get("rule_version")?,
                    subject: row.try_get("subject")?,
                    severity: row.try_get("severity")?,
                    confidence: row.try_get("confidence")?,
                    run_id: row.try_get("run_id")?,
                    proposal_id: row.try_get("proposal_id")?,
                    created_at: row.try_get("created_at")?,
                },
                state: $crate::engine::lifecycle::ProposalState::parse(&state).ok_or_else(|| {
                    $crate::store::StoreError::Corrupt(format!("unknown proposal state `{state}`"))
                })?,
                approved: approvals > 0,
                updated_at: row.try_get("updated_at")?,
                closed_reason: row.try_get("closed_reason")?,
                closed_by: row.try_get("closed_by")?,
            })
        }

        /// Reads shared by the pool and write transactions.
        mod reads {
            use super::*;

            pub async fn swarm_runs<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                swarm: Option<&str>,
                limit: i64,
            ) -> Result<Vec<$crate::store::SwarmRunRecord>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {SWARM_RUN_COLUMNS} FROM swarm_runs WHERE ($1 IS NULL OR swarm = $1) \
                     ORDER BY started_at DESC, id DESC LIMIT $2"
                ))
                .bind(swarm)
                .bind(if limit > 0 { limit } else { i64::MAX })
                .fetch_all(executor)
                .await?;
                rows.iter().map(swarm_run_from_row).collect()
            }

            pub async fn swarm_drafts<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                filter: &$crate::store::SwarmDraftFilter,
            ) -> Result<Vec<$crate::store::SwarmDraft>, $crate::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT f.id, f.swarm, f.rule, f.rule_version, f.subject, f.severity, f.confidence, \
                     f.run_id, f.proposal_id, f.created_at, p.state, p.updated_at, p.closed_reason, \
                     p.closed_by, (SELECT COUNT(*) FROM approvals a WHERE a.proposal_id = p.id) AS approvals \
                     FROM swarm_findings f JOIN proposals p ON p.id = f.proposal_id \
                     WHERE ($1 IS NULL OR f.swarm = $1) AND ($2 IS NULL OR f.rule = $2) \
                     AND ($3 IS NULL OR f.subject = $3) AND ($4 IS NULL OR f.severity = $4) \
                     AND ($5 IS NULL OR p.state = $5) \
                     ORDER BY f.created_at DESC, f.id DESC LIMIT $6",
                )
                .bind(filter.swarm.as_deref())
                .bind(filter.rule.as_deref())
                .bind(filter.subject.as_deref())
                .bind(filter.severity.as_deref())
                .bind(filter.state.map(|state| state.as_str()))
                .bind(if filter.limit > 0 { filter.limit } else { i64::MAX })
                .fetch_all(executor)
                .await?;
                rows.iter().map(swarm_draft_from_row).collect()
            }

            pub async fn snapshots<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                limit: i64,
            ) -> Result<Vec<$crate::store::SnapshotRecord>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {SNAPSHOT_COLUMNS} FROM snapshots ORDER BY computed_at DESC, id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(executor)
                .await?;
                rows.iter().map(snapshot_from_row).collect()
            }

            pub async fn actor<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                id: &str,
            ) -> Result<Option<$crate::store::Actor>, $crate::store::StoreError> {
                let row = sqlx::query(&format!("SELECT {ACTOR_COLUMNS} FROM actors WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(executor)
                    .await?;
                Ok(row.as_ref().map(actor_from_row).transpose()?)
            }

            pub async fn delegations<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                agent: Option<&str>,
            ) -> Result<Vec<$crate::store::Delegation>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {DELEGATION_COLUMNS} FROM delegations WHERE ($1 IS NULL OR agent = $1) \
                     ORDER BY created_at, id"
                ))
                .bind(agent)
                .fetch_all(executor)
                .await?;
                rows.iter().map(delegation_from_row).collect()
            }

            pub async fn proposal<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                id: &str,
            ) -> Result<Option<$crate::store::Proposal>, $crate::store::StoreError> {
                let row = sqlx::query(&format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(executor)
                    .await?;
                row.as_ref().map(proposal_from_row).transpose()
            }

            pub async fn proposal_by_key<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                capability: &str,
                key: &str,
            ) -> Result<Option<$crate::store::Proposal>, $crate::store::StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE capability = $1 AND idempotency_key = $2"
                ))
                .bind(capability)
                .bind(key)
                .fetch_optional(executor)
                .await?;
                row.as_ref().map(proposal_from_row).transpose()
            }

            pub async fn proposals<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                filter: &$crate::store::ProposalFilter,
            ) -> Result<Vec<$crate::store::Proposal>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {PROPOSAL_COLUMNS} FROM proposals \
                     WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR capability = $2) \
                     AND ($3 IS NULL OR proposer = $3) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                ))
                .bind(filter.state.map(|state| state.as_str()))
                .bind(filter.capability.as_deref())
                .bind(filter.proposer.as_deref())
                .bind(if filter.limit > 0 { filter.limit } else { i64::MAX })
                .fetch_all(executor)
                .await?;
                rows.iter().map(proposal_from_row).collect()
            }

            pub async fn approvals<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                proposal_id: &str,
            ) -> Result<Vec<$crate::store::Approval>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {APPROVAL_COLUMNS} FROM approvals WHERE proposal_id = $1 ORDER BY created_at, id"
                ))
                .bind(proposal_id)
                .fetch_all(executor)
                .await?;
                Ok(rows.iter().map(approval_from_row).collect::<Result<_, _>>()?)
            }

            pub async fn exemptions<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
            ) -> Result<Vec<$crate::store::ExemptionRecord>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {EXEMPTION_COLUMNS} FROM exemptions ORDER BY created_at, id"
                ))
                .fetch_all(executor)
                .await?;
                Ok(rows.iter().map(exemption_from_row).collect::<Result<_, _>>()?)
            }

            pub async fn audit_prunes<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
            ) -> Result<Vec<$crate::store::AuditPrune>, $crate::store::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query("SELECT through_seq, hash, record FROM audit_prunes ORDER BY through_seq")
                    .fetch_all(executor)
                    .await?;
                rows.iter()
                    .map(|row| {
                        let text: String = row.try_get("record")?;
                        let through_seq: i64 = row.try_get("through_seq")?;
                        let hash: String = row.try_get("hash")?;
                        let prune: $crate::store::AuditPrune = serde_json::from_str(&text).map_err(|error| {
                            $crate::store::StoreError::Corrupt(format!("an audit prune record is not JSON: {error}"))
                        })?;
                        // The trigger trusts the columns; they must say what the signed record says.
                        if prune.through_seq != through_seq || prune.hash != hash {
                            return Err($crate::store::StoreError::Corrupt(format!(
                                "the audit prune point at event {through_seq} does not match its signed record"
                            )));
                        }
                        Ok(prune)
                    })
                    .collect()
            }

            pub async fn checkpoints<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
            ) -> Result<Vec<$crate::store::Checkpoint>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq"
                ))
                .fetch_all(executor)
                .await?;
                Ok(rows.iter().map(checkpoint_from_row).collect::<Result<_, _>>()?)
            }

            /// Events of one capability and action at or after `since`, oldest first (quotas).
            pub async fn audit_since<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                capability: &str,
                action: &str,
                since: &str,
            ) -> Result<Vec<$crate::audit::AuditEvent>, $crate::store::StoreError> {
                let rows = sqlx::query(&format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_events \
                     WHERE capability = $1 AND action = $2 AND at >= $3 ORDER BY seq"
                ))
                .bind(capability)
                .bind(action)
                .bind(since)
                .fetch_all(executor)
                .await?;
                rows.iter().map(audit_from_row).collect()
            }

            pub async fn audit_filtered<'e, E: sqlx::Executor<'e, Database = $db>>(
                executor: E,
                filter: &$crate::store::AuditFilter,
            ) -> Result<Vec<$crate::audit::AuditEvent>, $crate::store::StoreError> {
                // Only the filters given, so the planner can walk `audit_events_proposal` for a
                // proposal's history instead of the whole log.
                let mut query = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE 1 = 1"
                ));
                for (column, value) in [
                    ("actor", &filter.actor),
                    ("capability", &filter.capability),
                    ("decision", &filter.decision),
                    ("proposal_id", &filter.proposal_id),
                ] {
                    if let Some(value) = value {
                        query.push(format!(" AND {column} = ")).push_bind(value.clone());
                    }
                }
                if let Some(before) = filter.before {
                    query.push(" AND seq < ").push_bind(before);
                }
                query
                    .push(" ORDER BY seq DESC LIMIT ")
                    .push_bind(if filter.limit > 0 { filter.limit } else { i64::MAX });
                let rows = query.build().fetch_all(executor).await?;
                rows.iter().map(audit_from_row).collect()
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::WriteTx for $tx {
            async fn insert_actor(&mut self, actor: &$crate::store::Actor) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(&format!(
                    "INSERT INTO actors ({ACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ), "actors", &actor.id)
                .bind(&actor.id)
                .bind(&actor.kind)
                .bind(&actor.name)
                .bind(&actor.display_name)
                .bind(&actor.token_hash)
                .bind(&actor.created_at)
                .bind(&actor.created_by)
                .bind(&actor.revoked_at)
                .bind(&actor.revoked_by);
                self.queue(write).await
            }

            async fn revoke_actor(&mut self, id: &str, at: &str, by: &str) -> Result<bool, $crate::store::StoreError> {
                let result =
                    sqlx::query("UPDATE actors SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL")
                        .bind(at)
                        .bind(by)
                        .bind(id)
                        .execute(self.conn().await?)
                        .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn kv_get(&mut self, key: &str) -> Result<Option<$crate::store::KvEntry>, $crate::store::StoreError> {
                let row = sqlx::query("SELECT key, value, updated_at, updated_by FROM runtime_kv WHERE key = $1")
                    .bind(key)
                    .fetch_optional(self.conn().await?)
                    .await?;
                Ok(row.as_ref().map(kv_from_row).transpose()?)
            }

            async fn kv_list(&mut self, prefix: &str) -> Result<Vec<$crate::store::KvEntry>, $crate::store::StoreError> {
                let rows = sqlx::query(
                    "SELECT key, value, updated_at, updated_by FROM runtime_kv \
                     WHERE substr(key, 1, length($1)) = $1 ORDER BY key",
                )
                .bind(prefix)
                .fetch_all(self.conn().await?)
                .await?;
                Ok(rows.iter().map(kv_from_row).collect::<Result<_, _>>()?)
            }

            async fn kv_set(&mut self, entry: &$crate::store::KvEntry) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(
                    "INSERT INTO runtime_kv (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
                     updated_by = excluded.updated_by",
                "runtime_kv", &entry.key)
                .bind(&entry.key)
                .bind(&entry.value)
                .bind(&entry.updated_at)
                .bind(&entry.updated_by);
                self.queue(write).await
            }

            async fn append_audit(
                &mut self,
                event: $crate::audit::NewAuditEvent,
            ) -> Result<$crate::audit::AuditEvent, $crate::store::StoreError> {
                let (head_seq, head_hash) = $crate::store::WriteTx::audit_head(self).await?;
                let (sealed, detail) = event.seal_encoded(head_seq + 1, &head_hash);
                self.insert_sealed(&sealed, detail).await?;
                Ok(sealed)
            }

            async fn restore_audit(
                &mut self,
                event: &$crate::audit::AuditEvent,
            ) -> Result<(), $crate::store::StoreError> {
                let (head_seq, head_hash) = $crate::store::WriteTx::audit_head(self).await?;
                if event.seq != head_seq + 1 || event.prev_hash != head_hash {
                    return Err($crate::store::StoreError::Conflict(format!(
                        "audit event {} does not follow the chain head {head_seq}",
                        event.seq
                    )));
                }
                self.insert_sealed(event, $crate::audit::canonical_json(&event.detail)).await
            }

            async fn actor(&mut self, id: &str) -> Result<Option<$crate::store::Actor>, $crate::store::StoreError> {
                reads::actor(self.conn().await?, id).await
            }

            async fn count_live_actors(&mut self, kind: &str) -> Result<i64, $crate::store::StoreError> {
                let count: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM actors WHERE kind = $1 AND revoked_at IS NULL",
                )
                .bind(kind)
                .fetch_one(self.conn().await?)
                .await?;
                Ok(count)
            }

            async fn insert_delegation(&mut self, delegation: &$crate::store::Delegation) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(&format!(
                    "INSERT INTO delegations ({DELEGATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ), "delegations", &delegation.id)
                .bind(&delegation.id)
                .bind(&delegation.agent)
                .bind(&delegation.owner)
                .bind(serde_json::Value::from(delegation.scopes.clone()).to_string())
                .bind(&delegation.created_at)
                .bind(&delegation.created_by)
                .bind(&delegation.expires_at)
                .bind(&delegation.revoked_at)
                .bind(&delegation.revoked_by);
                self.queue(write).await
            }

            async fn delegations(&mut self, agent: Option<&str>) -> Result<Vec<$crate::store::Delegation>, $crate::store::StoreError> {
                reads::delegations(self.conn().await?, agent).await
            }

            async fn revoke_delegation(&mut self, id: &str, at: &str, by: &str) -> Result<bool, $crate::store::StoreError> {
                let result = sqlx::query(
                    "UPDATE delegations SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(by)
                .bind(id)
                .execute(self.conn().await?)
                .await?;
                Ok(result.rows_affected() == 1)
            }

            async fn insert_proposal(&mut self, proposal: &$crate::store::Proposal) -> Result<(), $crate::store::StoreError> {
                let json = |value: &Option<serde_json::Value>| value.as_ref().map($crate::audit::canonical_json);
                let write = $crate::store::batch::Write::new(&format!(
                    "INSERT INTO proposals ({PROPOSAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                     $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
                ), "proposals", &proposal.id)
                .bind(&proposal.id)
                .bind(&proposal.capability)
                .bind(proposal.state.as_str())
                .bind($crate::audit::canonical_json(&proposal.input))
                .bind(&proposal.input_hash)
                .bind(&proposal.rationale)
                .bind(json(&proposal.plan))
                .bind(&proposal.proposer)
                .bind(&proposal.owner)
                .bind(&proposal.delegation_id)
                .bind(&proposal.idempotency_key)
                .bind(&proposal.policy_set_hash)
                .bind(&proposal.created_at)
                .bind(&proposal.updated_at)
                .bind(&proposal.expires_at)
                .bind(&proposal.closed_by)
                .bind(&proposal.closed_reason)
                .bind(&proposal.execution_started_at)
                .bind(&proposal.execution_finished_at)
                .bind(&proposal.executed_by)
                .bind(json(&proposal.outcome))
                .bind(&proposal.failure);
                self.queue(write).await
            }

            async fn update_proposal(&mut self, proposal: &$crate::store::Proposal) -> Result<(), $crate::store::StoreError> {
                let json = |value: &Option<serde_json::Value>| value.as_ref().map($crate::audit::canonical_json);
                // A proposal that is not there fails the batch's row count.
                let write = $crate::store::batch::Write::new(
                    "UPDATE proposals SET state = $1, plan = $2, updated_at = $3, closed_by = $4, closed_reason = $5, \
                     execution_started_at = $6, execution_finished_at = $7, executed_by = $8, outcome = $9, \
                     failure = $10 WHERE id = $11",
                    "proposals",
                    &proposal.id,
                )
                .bind(proposal.state.as_str())
                .bind(json(&proposal.plan))
                .bind(&proposal.updated_at)
                .bind(&proposal.closed_by)
                .bind(&proposal.closed_reason)
                .bind(&proposal.execution_started_at)
                .bind(&proposal.execution_finished_at)
                .bind(&proposal.executed_by)
                .bind(json(&proposal.outcome))
                .bind(&proposal.failure)
                .bind(&proposal.id);
                self.queue(write).await
            }

            async fn proposal(&mut self, id: &str) -> Result<Option<$crate::store::Proposal>, $crate::store::StoreError> {
                reads::proposal(self.conn().await?, id).await
            }

            async fn proposal_by_key(&mut self, capability: &str, key: &str) -> Result<Option<$crate::store::Proposal>, $crate::store::StoreError> {
                reads::proposal_by_key(self.conn().await?, capability, key).await
            }

            async fn insert_approval(&mut self, approval: &$crate::store::Approval) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(&format!(
                    "INSERT INTO approvals ({APPROVAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ), "approvals", &approval.id)
                .bind(&approval.id)
                .bind(&approval.proposal_id)
                .bind(&approval.approver)
                .bind(&approval.input_hash)
                .bind(&approval.comment)
                .bind(&approval.created_at)
                .bind(&approval.expires_at);
                self.queue(write).await
            }

            async fn approvals(&mut self, proposal_id: &str) -> Result<Vec<$crate::store::Approval>, $crate::store::StoreError> {
                reads::approvals(self.conn().await?, proposal_id).await
            }

            async fn insert_exemption(&mut self, record: &$crate::store::ExemptionRecord) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(&format!(
                    "INSERT INTO exemptions ({EXEMPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                ), "exemptions", &record.id)
                .bind(&record.id)
                .bind(&record.kind)
                .bind(&record.revokes)
                .bind(&record.capability)
                .bind(&record.owner)
                .bind(&record.starts)
                .bind(&record.expires)
                .bind(&record.justification)
                .bind(&record.requested_by)
                .bind(&record.approved_by)
                .bind(&record.created_at);
                self.queue(write).await
            }

            async fn exemptions(&mut self) -> Result<Vec<$crate::store::ExemptionRecord>, $crate::store::StoreError> {
                reads::exemptions(self.conn().await?).await
            }

            async fn audit_since(
                &mut self,
                capability: &str,
                action: &str,
                since: &str,
            ) -> Result<Vec<$crate::audit::AuditEvent>, $crate::store::StoreError> {
                reads::audit_since(self.conn().await?, capability, action, since).await
            }

            async fn insert_checkpoint(&mut self, checkpoint: &$crate::store::Checkpoint) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(&format!(
                    "INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
                ), "audit_checkpoints", &checkpoint.seq.to_string())
                .bind(checkpoint.seq)
                .bind(&checkpoint.hash)
                .bind(&checkpoint.at)
                .bind(&checkpoint.public_key)
                .bind(&checkpoint.signature);
                self.queue(write).await
            }

            async fn insert_snapshot(&mut self, snapshot: &$crate::store::SnapshotRecord) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(&format!(
                    "INSERT INTO snapshots ({SNAPSHOT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                ), "snapshots", &snapshot.id)
                .bind(&snapshot.id)
                .bind(&snapshot.computed_at)
                .bind(snapshot.schema_version)
                .bind(snapshot.complete)
                .bind(&snapshot.content_hash)
                .bind(snapshot.state.to_string())
                .bind(snapshot.provenance.to_string())
                .bind(&snapshot.previous_id)
                .bind(snapshot.diff.to_string())
                .bind(snapshot.drift.to_string());
                self.queue(write).await
            }

            async fn insert_swarm_run(&mut self, run: &$crate::store::SwarmRunRecord) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(&format!(
                    "INSERT INTO swarm_runs ({SWARM_RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                ), "swarm_runs", &run.id)
                .bind(&run.id)
                .bind(&run.swarm)
                .bind(&run.agent)
                .bind(&run.trigger)
                .bind(&run.requested_by)
                .bind(run.dry_run)
                .bind(&run.started_at)
                .bind(&run.finished_at)
                .bind(&run.outcome)
                .bind(&run.snapshot_id)
                .bind(run.records_read)
                .bind(run.summary.to_string());
                self.queue(write).await
            }

            async fn insert_swarm_finding(&mut self, finding: &$crate::store::SwarmFindingRecord) -> Result<(), $crate::store::StoreError> {
                let write = $crate::store::batch::Write::new(
                    "INSERT INTO swarm_findings (id, swarm, rule, rule_version, subject, severity, confidence, \
                     run_id, proposal_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    "swarm_findings", &finding.id)
                .bind(&finding.id)
                .bind(&finding.swarm)
                .bind(&finding.rule)
                .bind(finding.rule_version)
                .bind(&finding.subject)
                .bind(&finding.severity)
                .bind(finding.confidence)
                .bind(&finding.run_id)
                .bind(&finding.proposal_id)
                .bind(&finding.created_at);
                self.queue(write).await
            }

            async fn swarm_drafts(&mut self, filter: &$crate::store::SwarmDraftFilter) -> Result<Vec<$crate::store::SwarmDraft>, $crate::store::StoreError> {
                reads::swarm_drafts(self.conn().await?, filter).await
            }

            async fn latest_snapshot(&mut self) -> Result<Option<$crate::store::SnapshotRecord>, $crate::store::StoreError> {
                Ok(reads::snapshots(self.conn().await?, 1).await?.into_iter().next())
            }

            async fn prune_snapshots(&mut self, before: &str) -> Result<u64, $crate::store::StoreError> {
                // The newest snapshot always stays: decisions read it.
                let doomed = "computed_at < $1 AND id <> (SELECT id FROM snapshots ORDER BY computed_at DESC, id DESC LIMIT 1)";
                sqlx::query(&format!(
                    "UPDATE snapshots SET previous_id = NULL WHERE previous_id IN (SELECT id FROM snapshots WHERE {doomed})"
                ))
                .bind(before)
                .execute(self.conn().await?)
                .await?;
                let result = sqlx::query(&format!("DELETE FROM snapshots WHERE {doomed}"))
                    .bind(before)
                    .execute(self.conn().await?)
                    .await?;
                Ok(result.rows_affected())
            }

            async fn clear_snapshot_diffs(&mut self, before: &str) -> Result<u64, $crate::store::StoreError> {
                let result = sqlx::query("UPDATE snapshots SET diff = '[]' WHERE computed_at < $1 AND diff <> '[]'")
                    .bind(before)
                    .execute(self.conn().await?)
                    .await?;
                Ok(result.rows_affected())
            }

            async fn prune_proposal_payloads(&mut self, before: &str, marker: &str) -> Result<u64, $crate::store::StoreError> {
                let result = sqlx::query(
                    "UPDATE proposals SET input = $2, plan = NULL WHERE updated_at < $1 AND input <> $2 \
                     AND state IN ('rejected', 'expired', 'cancelled', 'succeeded', 'failed', 'rolled_back')",
                )
                .bind(before)
                .bind(marker)
                .execute(self.conn().await?)
                .await?;
                Ok(result.rows_affected())
            }

            async fn audit_prunes(&mut self) -> Result<Vec<$crate::store::AuditPrune>, $crate::store::StoreError> {
                reads::audit_prunes(self.conn().await?).await
            }

            async fn prune_runtime(&mut self, prefix: &str, before: &str) -> Result<u64, $crate::store::StoreError> {
                let result = sqlx::query(
                    "DELETE FROM runtime_kv WHERE substr(key, 1, length($1)) = $1 AND updated_at < $2",
                )
                .bind(prefix)
                .bind(before)
                .execute(self.conn().await?)
                .await?;
                Ok(result.rows_affected())
            }

            async fn prune_audit(&mut self, prune: &$crate::store::AuditPrune) -> Result<u64, $crate::store::StoreError> {
                self.insert_prune(prune).await?;
                let result = sqlx::query("DELETE FROM audit_events WHERE seq <= $1")
                    .bind(prune.through_seq)
                    .execute(self.conn().await?)
                    .await?;
                Ok(result.rows_affected())
            }

            async fn restore_prune(&mut self, prune: &$crate::store::AuditPrune) -> Result<(), $crate::store::StoreError> {
                let (head_seq, _) = $crate::store::WriteTx::audit_head(self).await?;
                if head_seq != 0 {
                    return Err($crate::store::StoreError::Conflict(
                        "a prune point is restored only into an empty audit log".into(),
                    ));
                }
                self.insert_prune(prune).await?;
                self.head = Some((prune.through_seq, prune.hash.clone()));
                self.head_changed = true;
                Ok(())
            }

            async fn decision_facts(
                &mut self,
                proposal_id: Option<&str>,
                runtime_prefix: &str,
                caller: Option<&str>,
            ) -> Result<$crate::store::DecisionFacts, $crate::store::StoreError> {
                use sqlx::Row;
                // One statement, one round trip: each branch tags its rows and pads to the
                // same eleven text columns.
                const FACTS: &str = "\
                    SELECT 'h' AS k, CAST(seq AS TEXT) AS c1, hash AS c2, CAST(NULL AS TEXT) AS c3, \
                      CAST(NULL AS TEXT) AS c4, CAST(NULL AS TEXT) AS c5, CAST(NULL AS TEXT) AS c6, \
                      CAST(NULL AS TEXT) AS c7, CAST(NULL AS TEXT) AS c8, CAST(NULL AS TEXT) AS c9, \
                      CAST(NULL AS TEXT) AS c10, CAST(NULL AS TEXT) AS c11 \
                      FROM audit_head WHERE id = 1 \
                    UNION ALL SELECT 'k', key, value, updated_at, updated_by, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
                      FROM runtime_kv WHERE substr(key, 1, length($1)) = $1 \
                    UNION ALL SELECT 'i', key, value, updated_at, updated_by, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
                      FROM runtime_kv WHERE key = 'intake:' || $2 \
                    UNION ALL SELECT 'a', id, proposal_id, approver, input_hash, comment, created_at, expires_at, \
                      NULL, NULL, NULL, NULL FROM approvals WHERE proposal_id = $2 \
                    UNION ALL SELECT 'e', id, kind, revokes, capability, owner, starts, expires, justification, \
                      requested_by, approved_by, created_at FROM exemptions \
                    UNION ALL SELECT 'p1', id, capability, state, input, input_hash, rationale, plan, \
                      proposer, owner, delegation_id, idempotency_key FROM proposals WHERE id = $2 \
                    UNION ALL SELECT 'p2', policy_set_hash, created_at, updated_at, expires_at, closed_by, \
                      closed_reason, execution_started_at, execution_finished_at, executed_by, outcome, \
                      failure FROM proposals WHERE id = $2 \
                    UNION ALL SELECT 's', id, computed_at, CASE WHEN complete THEN '1' ELSE '0' END, \
                      NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
                      FROM (SELECT id, computed_at, complete FROM snapshots \
                            ORDER BY computed_at DESC, id DESC LIMIT 1) AS newest \
                    UNION ALL SELECT 'r', revoked_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
                      FROM actors WHERE id = $3 AND revoked_at IS NOT NULL";
                let rows = sqlx::query(FACTS)
                    .bind(runtime_prefix)
                    .bind(proposal_id)
                    .bind(caller)
                    .fetch_all(self.conn().await?)
                    .await?;
                let mut facts = $crate::store::DecisionFacts::default();
                // A proposal arrives as two rows of eleven columns.
                let mut first_half: Option<Vec<Option<String>>> = None;
                let mut second_half: Option<Vec<Option<String>>> = None;
                let text = |row: &<$db as sqlx::Database>::Row, column: &str| -> Result<String, sqlx::Error> {
                    Ok(row.try_get::<Option<String>, _>(column)?.unwrap_or_default())
                };
                let optional = |row: &<$db as sqlx::Database>::Row, column: &str| -> Result<Option<String>, sqlx::Error> {
                    row.try_get::<Option<String>, _>(column)
                };
                for row in &rows {
                    let kind: String = row.try_get("k")?;
                    match kind.as_str() {
                        // The head this transaction already knows wins (it may have appended).
                        "h" if self.head.is_none() => {
                            let seq = text(row, "c1")?.parse::<i64>().map_err(|error| {
                                $crate::store::StoreError::Corrupt(format!("the chain head's seq: {error}"))
                            })?;
                            self.head = Some((seq, text(row, "c2")?));
                        }
                        "k" => facts.runtime.push($crate::store::KvEntry {
                            key: text(row, "c1")?,
                            value: text(row, "c2")?,
                            updated_at: text(row, "c3")?,
                            updated_by: text(row, "c4")?,
                        }),
                        "i" => facts.intake = Some($crate::store::KvEntry {
                            key: text(row, "c1")?,
                            value: text(row, "c2")?,
                            updated_at: text(row, "c3")?,
                            updated_by: text(row, "c4")?,
                        }),
                        "a" => facts.approvals.push($crate::store::Approval {
                            id: text(row, "c1")?,
                            proposal_id: text(row, "c2")?,
                            approver: text(row, "c3")?,
                            input_hash: text(row, "c4")?,
                            comment: optional(row, "c5")?,
                            created_at: text(row, "c6")?,
                            expires_at: text(row, "c7")?,
                        }),
                        "e" => facts.exemptions.push($crate::store::ExemptionRecord {
                            id: text(row, "c1")?,
                            kind: text(row, "c2")?,
                            revokes: optional(row, "c3")?,
                            capability: optional(row, "c4")?,
                            owner: optional(row, "c5")?,
                            starts: optional(row, "c6")?,
                            expires: optional(row, "c7")?,
                            justification: text(row, "c8")?,
                            requested_by: text(row, "c9")?,
                            approved_by: text(row, "c10")?,
                            created_at: text(row, "c11")?,
                        }),
                        "p1" | "p2" => {
                            let columns = (1..=11)
                                .map(|n| optional(row, &format!("c{n}")))
                                .collect::<Result<Vec<_>, _>>()?;
                            if kind == "p1" {
                                first_half = Some(columns);
                            } else {
                                second_half = Some(columns);
                            }
                        }
                        "r" => facts.caller_revoked = true,
                        "s" => {
                            facts.newest_snapshot = Some($crate::store::SnapshotMeta {
                                id: text(row, "c1")?,
                                computed_at: text(row, "c2")?,
                                complete: text(row, "c3")? == "1",
                            })
                        }
                        _ => {}
                    }
                }
                if let (Some(a), Some(b)) = (first_half, second_half) {
                    facts.proposal = Some(proposal_from_halves(a, b)?);
                }
                // The order the single-table reads give.
                facts.runtime.sort_by(|a, b| a.key.cmp(&b.key));
                facts
                    .approvals
                    .sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
                facts
                    .exemptions
                    .sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
                Ok(facts)
            }

            async fn latest_checkpoint(&mut self) -> Result<Option<$crate::store::Checkpoint>, $crate::store::StoreError> {
                let row = sqlx::query(&format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"
                ))
                .fetch_optional(self.conn().await?)
                .await?;
                Ok(row.as_ref().map(checkpoint_from_row).transpose()?)
            }

            async fn audit_head(&mut self) -> Result<(i64, String), $crate::store::StoreError> {
                use sqlx::Row;
                if let Some(head) = &self.head {
                    return Ok(head.clone());
                }
                let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                    .fetch_one(self.conn().await?)
                    .await?;
                let head: (i64, String) = (row.try_get("seq")?, row.try_get("hash")?);
                self.head = Some(head.clone());
                Ok(head)
            }

            async fn commit(mut self: Box<Self>) -> Result<(), $crate::store::StoreError> {
                // A head set without an event (the trigger moves it for every event).
                if self.head_changed
                    && let Some((seq, hash)) = self.head.take()
                {
                    let write = $crate::store::batch::Write::new(
                        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
                        "audit_head",
                        "1",
                    )
                    .bind(seq)
                    .bind(hash);
                    self.queue(write).await?;
                }
                self.send_batch().await?;
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
                    head: None,
                    head_changed: false,
                    pending: Default::default(),
                    failed: None,
                }))
            }

            async fn actor(&self, id: &str) -> Result<Option<$crate::store::Actor>, $crate::store::StoreError> {
                reads::actor(&self.pool, id).await
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

            async fn delegations(&self, agent: Option<&str>) -> Result<Vec<$crate::store::Delegation>, $crate::store::StoreError> {
                reads::delegations(&self.pool, agent).await
            }

            async fn proposal(&self, id: &str) -> Result<Option<$crate::store::Proposal>, $crate::store::StoreError> {
                reads::proposal(&self.pool, id).await
            }

            async fn proposals(&self, filter: &$crate::store::ProposalFilter) -> Result<Vec<$crate::store::Proposal>, $crate::store::StoreError> {
                reads::proposals(&self.pool, filter).await
            }

            async fn approvals(&self, proposal_id: &str) -> Result<Vec<$crate::store::Approval>, $crate::store::StoreError> {
                reads::approvals(&self.pool, proposal_id).await
            }

            async fn exemptions(&self) -> Result<Vec<$crate::store::ExemptionRecord>, $crate::store::StoreError> {
                reads::exemptions(&self.pool).await
            }

            async fn checkpoints(&self) -> Result<Vec<$crate::store::Checkpoint>, $crate::store::StoreError> {
                reads::checkpoints(&self.pool).await
            }

            async fn audit_prunes(&self) -> Result<Vec<$crate::store::AuditPrune>, $crate::store::StoreError> {
                reads::audit_prunes(&self.pool).await
            }

            async fn swarm_runs(&self, swarm: Option<&str>, limit: i64) -> Result<Vec<$crate::store::SwarmRunRecord>, $crate::store::StoreError> {
                reads::swarm_runs(&self.pool, swarm, limit).await
            }

            async fn swarm_drafts(&self, filter: &$crate::store::SwarmDraftFilter) -> Result<Vec<$crate::store::SwarmDraft>, $crate::store::StoreError> {
                reads::swarm_drafts(&self.pool, filter).await
            }

            async fn snapshots(&self, limit: i64) -> Result<Vec<$crate::store::SnapshotRecord>, $crate::store::StoreError> {
                reads::snapshots(&self.pool, limit).await
            }

            async fn snapshot(&self, id: &str) -> Result<Option<$crate::store::SnapshotRecord>, $crate::store::StoreError> {
                let row = sqlx::query(&format!("SELECT {SNAPSHOT_COLUMNS} FROM snapshots WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(snapshot_from_row).transpose()
            }

            async fn audit_filtered(&self, filter: &$crate::store::AuditFilter) -> Result<Vec<$crate::audit::AuditEvent>, $crate::store::StoreError> {
                reads::audit_filtered(&self.pool, filter).await
            }

            async fn close(&self) {
                self.close_pools().await;
            }
        }
    };
}

pub(crate) use sql_store;
