-- Retention. Audit events may be pruned only at and below a recorded prune point: a signed
-- record naming a signed checkpoint and the verified backup bundle that holds the pruned
-- events. Prune points themselves are append-only; `brain audit verify` starts from the newest.

CREATE TABLE audit_prunes (
    through_seq  BIGINT PRIMARY KEY,         -- events with seq <= this may be deleted
    hash         TEXT NOT NULL,              -- the hash of event `through_seq` (a checkpoint's)
    record       TEXT NOT NULL,              -- JSON: the signed prune record
    at           TEXT NOT NULL
);

CREATE FUNCTION brain_audit_prunes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_prunes is append-only: % is not allowed', TG_OP;
END
$$;

CREATE TRIGGER audit_prunes_no_update_delete BEFORE UPDATE OR DELETE ON audit_prunes
    FOR EACH ROW EXECUTE FUNCTION brain_audit_prunes_append_only();
CREATE TRIGGER audit_prunes_no_truncate BEFORE TRUNCATE ON audit_prunes
    FOR EACH STATEMENT EXECUTE FUNCTION brain_audit_prunes_append_only();

CREATE OR REPLACE FUNCTION brain_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.seq <= COALESCE((SELECT MAX(through_seq) FROM audit_prunes), 0) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: DELETE is not allowed above the prune point';
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP;
END
$$;

-- Snapshot schema versions are read as 64-bit integers, as on SQLite.
ALTER TABLE snapshots ALTER COLUMN schema_version TYPE BIGINT;
