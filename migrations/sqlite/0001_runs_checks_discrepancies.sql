-- recon's own state on SQLite: runs, per-check results, discrepancies with their life.
-- Timestamps are RFC 3339 text in UTC; JSON columns are text.

CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    business_date  TEXT    NOT NULL,
    started_at     TEXT    NOT NULL,
    finished_at    TEXT,
    status         TEXT    NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    outcome        TEXT,
    exit_code      INTEGER,
    host           TEXT    NOT NULL,
    pid            INTEGER NOT NULL,
    config_digest  TEXT    NOT NULL,
    recon_version  TEXT    NOT NULL,
    superseded_by  INTEGER REFERENCES runs (id)
);
CREATE INDEX runs_by_business_date ON runs (business_date, id);

CREATE TABLE check_results (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER NOT NULL REFERENCES runs (id),
    check_name     TEXT    NOT NULL,
    check_type     TEXT    NOT NULL,
    partition_key  TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('clean', 'discrepancies', 'failed')),
    left_rows      INTEGER,
    right_rows     INTEGER,
    left_digest    TEXT,
    right_digest   TEXT,
    discrepancies  INTEGER NOT NULL,
    error          TEXT,
    duration_ms    INTEGER NOT NULL,
    UNIQUE (run_id, check_name)
);

CREATE TABLE discrepancies (
    id               INTEGER PRIMARY KEY,
    fingerprint      TEXT    NOT NULL UNIQUE,
    check_name       TEXT    NOT NULL,
    partition_key    TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    key_json         TEXT    NOT NULL,
    columns_json     TEXT    NOT NULL,
    detail_json      TEXT    NOT NULL,
    status           TEXT    NOT NULL CHECK (status IN ('open', 'carried', 'resolved', 'acknowledged')),
    first_run_id     INTEGER NOT NULL REFERENCES runs (id),
    last_run_id      INTEGER NOT NULL REFERENCES runs (id),
    resolved_run_id  INTEGER REFERENCES runs (id),
    first_seen_at    TEXT    NOT NULL,
    last_seen_at     TEXT    NOT NULL,
    resolved_at      TEXT
);
CREATE INDEX discrepancies_by_check ON discrepancies (check_name, partition_key, status);

CREATE TABLE run_discrepancies (
    run_id          INTEGER NOT NULL REFERENCES runs (id),
    discrepancy_id  INTEGER NOT NULL REFERENCES discrepancies (id),
    PRIMARY KEY (run_id, discrepancy_id)
);
