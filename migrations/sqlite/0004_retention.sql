-- Retention. Audit events may be pruned only at and below a recorded prune point: a signed
-- record naming a signed checkpoint and the verified backup bundle that holds the pruned
-- events. Prune points themselves are append-only; `brain audit verify` starts from the newest.

CREATE TABLE audit_prunes (
    through_seq  INTEGER PRIMARY KEY,        -- events with seq <= this may be deleted
    hash         TEXT NOT NULL,              -- the hash of event `through_seq` (a checkpoint's)
    record       TEXT NOT NULL,              -- JSON: the signed prune record
    at           TEXT NOT NULL
);

CREATE TRIGGER audit_prunes_no_update BEFORE UPDATE ON audit_prunes
BEGIN
    SELECT RAISE(ABORT, 'audit_prunes is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER audit_prunes_no_delete BEFORE DELETE ON audit_prunes
BEGIN
    SELECT RAISE(ABORT, 'audit_prunes is append-only: DELETE is not allowed');
END;

DROP TRIGGER audit_events_no_delete;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT MAX(through_seq) FROM audit_prunes), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed above the prune point');
END;
