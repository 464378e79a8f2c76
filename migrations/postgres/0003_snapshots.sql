-- StudioState snapshots: derived from the cloud, never authoritative. Each row holds the state,
-- its provenance per source, its content hash and the field-by-field diff from the previous one.

CREATE TABLE snapshots (
    id              TEXT PRIMARY KEY,         -- "s_<hex>"
    computed_at     TEXT NOT NULL,            -- RFC 3339 UTC, microseconds
    schema_version  INTEGER NOT NULL,
    complete        BOOLEAN NOT NULL,
    content_hash    TEXT NOT NULL,            -- SHA-256 of the canonical state
    state           TEXT NOT NULL,            -- JSON: the StudioState
    provenance      TEXT NOT NULL,            -- JSON: per source read time, documents, completeness
    previous_id     TEXT REFERENCES snapshots (id),
    diff            TEXT NOT NULL,            -- JSON: [{field, from, to}] against previous_id
    drift           TEXT NOT NULL             -- JSON: [{collection, local, cloud, difference}] beyond tolerance
);

CREATE INDEX snapshots_computed ON snapshots (computed_at);
