-- Syncs (one per check and run: its attempts and last error), and what a check result needs so a
-- run's report can be rebuilt from the store alone after a `recon retry`.

CREATE TABLE syncs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id         BIGINT NOT NULL REFERENCES runs (id),
    check_name     TEXT    NOT NULL,
    unit           TEXT    NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('succeeded', 'failed')),
    attempts       INTEGER NOT NULL,
    last_error     TEXT,
    finished_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (run_id, check_name, unit)
);

ALTER TABLE check_results ADD COLUMN left_source TEXT;
ALTER TABLE check_results ADD COLUMN left_table TEXT;
ALTER TABLE check_results ADD COLUMN right_source TEXT;
ALTER TABLE check_results ADD COLUMN right_table TEXT;
ALTER TABLE check_results ADD COLUMN exit_code INTEGER;
ALTER TABLE check_results ADD COLUMN attempts INTEGER;
