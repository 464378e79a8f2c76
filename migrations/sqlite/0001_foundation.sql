-- Foundation: actors, the append-only audit log and its chain head, runtime switches.
-- Times are RFC 3339 UTC text with microseconds, so they sort as text on both backends.

CREATE TABLE actors (
    id            TEXT PRIMARY KEY,           -- "<kind>:<name>", e.g. "staff:alice"
    kind          TEXT NOT NULL CHECK (kind IN ('staff', 'human', 'agent', 'system')),
    name          TEXT NOT NULL,
    display_name  TEXT,
    token_hash    TEXT UNIQUE,                -- SHA-256 of the token; the token itself is never stored
    created_at    TEXT NOT NULL,
    created_by    TEXT,
    revoked_at    TEXT,
    revoked_by    TEXT
);

CREATE TABLE audit_events (
    seq              INTEGER PRIMARY KEY,
    at               TEXT NOT NULL,
    actor            TEXT NOT NULL,
    action           TEXT NOT NULL,
    capability       TEXT,
    proposal_id      TEXT,
    decision         TEXT NOT NULL,
    reason_codes     TEXT NOT NULL,           -- JSON array of reason codes
    policy_ids       TEXT NOT NULL,           -- JSON array of determining policy ids
    policy_set_hash  TEXT,
    input_hash       TEXT,
    output_hash      TEXT,
    detail           TEXT NOT NULL,           -- JSON object
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL UNIQUE
);

CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_capability ON audit_events (capability, seq);
CREATE INDEX audit_events_proposal ON audit_events (proposal_id, seq);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is not allowed');
END;

-- The head of the hash chain: one row, updated in the same transaction as every append, which
-- also serializes appends.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Runtime switches and other small runtime state (kill switches live here).
CREATE TABLE runtime_kv (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,                -- JSON
    updated_at  TEXT NOT NULL,
    updated_by  TEXT NOT NULL
);
