-- Swarms: each run's summary, and an index of the findings each run proposed as drafts. The
-- finding itself is the draft proposal's input; a row here ties the proposal to its swarm,
-- rule and subject, so throttling and per-rule acceptance read one table joined with the
-- proposal's state.

CREATE TABLE swarm_runs (
    id            TEXT PRIMARY KEY,          -- "r_<hex>"
    swarm         TEXT NOT NULL,             -- ops, marketing, ...
    agent         TEXT NOT NULL,             -- the agent the run acted as
    trigger       TEXT NOT NULL,             -- schedule | snapshot | manual
    requested_by  TEXT NOT NULL,             -- who started it (an actor, or system:scheduler)
    dry_run       INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
    started_at    TEXT NOT NULL,             -- RFC 3339 UTC, microseconds
    finished_at   TEXT NOT NULL,
    outcome       TEXT NOT NULL,             -- completed | denied | failed
    snapshot_id   TEXT,                      -- the snapshot the run started from
    records_read  BIGINT NOT NULL,
    summary       TEXT NOT NULL              -- JSON: {rules: {RULE: {hits, emitted, suppressed, refused}}, reasons, problem}
);

CREATE INDEX swarm_runs_swarm ON swarm_runs (swarm, started_at);

CREATE TABLE swarm_findings (
    id            TEXT PRIMARY KEY,          -- "f_<hex>"
    swarm         TEXT NOT NULL,
    rule          TEXT NOT NULL,
    rule_version  BIGINT NOT NULL,
    subject       TEXT NOT NULL,             -- batches/b-1, connector:hubitat/4, studio
    severity      TEXT NOT NULL,             -- low | medium | high
    confidence    REAL NOT NULL,
    run_id        TEXT NOT NULL,
    proposal_id   TEXT NOT NULL REFERENCES proposals (id),
    created_at    TEXT NOT NULL
);

CREATE INDEX swarm_findings_key ON swarm_findings (swarm, rule, subject);
CREATE INDEX swarm_findings_proposal ON swarm_findings (proposal_id);
