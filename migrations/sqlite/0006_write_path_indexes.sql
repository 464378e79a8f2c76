-- Indexes that cost every write and served no read.
--
-- No query reads audit events through `audit_events_actor` or `audit_events_capability`: the
-- console's filtered reads walk the log newest first (by proposal through
-- `audit_events_proposal`), and quotas read through `audit_events_quota`, whose first column is
-- the capability. Every appended event paid for both.
DROP INDEX audit_events_actor;
DROP INDEX audit_events_capability;

-- Every decision reads the newest snapshot (its freshness fact): found from the end of this
-- index instead of by sorting the table. Retention's `computed_at < ...` uses it too.
CREATE INDEX snapshots_newest ON snapshots (computed_at, id);
DROP INDEX snapshots_computed;
