-- recon's own state on PostgreSQL: runs, per-check results, discrepancies with their life.
-- JSON columns are text so the SQLite and PostgreSQL stores hold the same bytes.

CREATE TABLE runs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_date  DATE        NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    finished_at    TIMESTAMPTZ,
    status         TEXT        NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    outcome        TEXT,
    exit_code      INTEGER,
    host           TEXT        NOT NULL,
    pid            BIGINT      NOT NULL,
    config_digest  TEXT        NOT NULL,
    recon_version  TEXT        NOT NULL,
    superseded_by  BIGINT REFERENCES runs (id)
);
CREATE INDEX runs_by_business_date ON runs (business_date, id);

CREATE TABLE check_results (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         BIGINT  NOT NULL REFERENCES runs (id),
    check_name     TEXT    NOT NULL,
    check_type     TEXT    NOT NULL,
    partition_key  TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('clean', 'discrepancies', 'failed')),
    left_rows      BIGINT,
    right_rows     BIGINT,
    left_digest    TEXT,
    right_digest   TEXT,
    discrepancies  BIGINT  NOT NULL,
    error          TEXT,
    duration_ms    BIGINT  NOT NULL,
    UNIQUE (run_id, check_name)
);

CREATE TABLE discrepancies (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint      TEXT        NOT NULL UNIQUE,
    check_name       TEXT        NOT NULL,
    partition_key    TEXT        NOT NULL,
    kind             TEXT        NOT NULL,
    key_json         TEXT        NOT NULL,
    columns_json     TEXT        NOT NULL,
    detail_json      TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('open', 'carried', 'resolved', 'acknowledged')),
    first_run_id     BIGINT      NOT NULL REFERENCES runs (id),
    last_run_id      BIGINT      NOT NULL REFERENCES runs (id),
    resolved_run_id  BIGINT REFERENCES runs (id),
    first_seen_at    TIMESTAMPTZ NOT NULL,
    last_seen_at     TIMESTAMPTZ NOT NULL,
    resolved_at      TIMESTAMPTZ
);
CREATE INDEX discrepancies_by_check ON discrepancies (check_name, partition_key, status);

CREATE TABLE run_discrepancies (
    run_id          BIGINT NOT NULL REFERENCES runs (id),
    discrepancy_id  BIGINT NOT NULL REFERENCES discrepancies (id),
    PRIMARY KEY (run_id, discrepancy_id)
);
