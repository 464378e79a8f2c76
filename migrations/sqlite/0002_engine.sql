-- The Engine: delegations, proposals and their approvals, runtime exemptions, and the signed
-- checkpoints of the audit chain. Times are RFC 3339 UTC text, as everywhere.

CREATE TABLE delegations (
    id          TEXT PRIMARY KEY,
    agent       TEXT NOT NULL REFERENCES actors (id),
    owner       TEXT NOT NULL REFERENCES actors (id),
    scopes      TEXT NOT NULL,                -- JSON array of capability ids or `prefix.*`
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT,
    revoked_by  TEXT
);
CREATE INDEX delegations_agent ON delegations (agent);

CREATE TABLE proposals (
    id                TEXT PRIMARY KEY,
    capability        TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('draft', 'pending_approval', 'approved',
                          'rejected', 'expired', 'cancelled', 'executing', 'succeeded', 'failed',
                          'rolled_back')),
    input             TEXT NOT NULL,          -- JSON, validated against the input schema
    input_hash        TEXT NOT NULL,          -- SHA-256 of the canonical input
    rationale         TEXT NOT NULL,
    plan              TEXT,                   -- JSON: the target's dry-run plan
    proposer          TEXT NOT NULL,
    owner             TEXT NOT NULL,          -- owner scope
    delegation_id     TEXT,
    idempotency_key   TEXT,
    policy_set_hash   TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    closed_by         TEXT,                   -- who rejected or cancelled it
    closed_reason     TEXT,
    execution_started_at   TEXT,
    execution_finished_at  TEXT,
    executed_by       TEXT,
    outcome           TEXT,                   -- JSON: what the executor reported
    failure           TEXT,
    UNIQUE (capability, idempotency_key)
);
CREATE INDEX proposals_state ON proposals (state, created_at);

CREATE TABLE approvals (
    id           TEXT PRIMARY KEY,
    proposal_id  TEXT NOT NULL REFERENCES proposals (id),
    approver     TEXT NOT NULL,
    input_hash   TEXT NOT NULL,               -- the input this approval is bound to
    comment      TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    UNIQUE (proposal_id, approver, input_hash)
);

-- Runtime exemptions are append-only: a revocation is a new row that names the revoked one.
CREATE TABLE exemptions (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL CHECK (kind IN ('grant', 'revoke')),
    revokes        TEXT,                      -- for `revoke`: the id of the revoked exemption
    capability     TEXT,
    owner          TEXT,
    starts         TEXT,
    expires        TEXT,
    justification  TEXT NOT NULL,
    requested_by   TEXT NOT NULL,
    approved_by    TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TRIGGER exemptions_no_update BEFORE UPDATE ON exemptions
BEGIN
    SELECT RAISE(ABORT, 'exemptions is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER exemptions_no_delete BEFORE DELETE ON exemptions
BEGIN
    SELECT RAISE(ABORT, 'exemptions is append-only: DELETE is not allowed');
END;

-- Signed checkpoints of the audit chain head.
CREATE TABLE audit_checkpoints (
    seq         INTEGER PRIMARY KEY,
    hash        TEXT NOT NULL,
    at          TEXT NOT NULL,
    public_key  TEXT NOT NULL,                -- hex Ed25519 public key
    signature   TEXT NOT NULL                 -- hex Ed25519 signature
);

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE is not allowed');
END;

CREATE INDEX audit_events_quota ON audit_events (capability, action, at);
