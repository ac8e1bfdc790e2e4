-- Checks split by key (`split_by_key = true` under `recon run --shard I/N`): one row per split of
-- a check's business date into N key ranges, planned once by whichever shard gets there first
-- (boundaries: typed canonical key values, JSON), and one row per range a shard compared, with
-- its findings (JSON). At most one split of a check, date and N is open at a time; the shard whose
-- range completes it records the whole check (combined_run_id). Run ids are plain numbers, not
-- references, so that pruning old runs never has to reach into these tables first.

CREATE TABLE key_splits (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    check_name       TEXT        NOT NULL,
    business_date    TEXT        NOT NULL,
    partition_key    TEXT        NOT NULL,
    range_count      INTEGER     NOT NULL,
    boundaries       TEXT        NOT NULL,
    status           TEXT        NOT NULL CHECK (status IN ('open', 'complete')),
    planned_run_id   INTEGER     NOT NULL,
    planned_at       TEXT        NOT NULL,
    combined_run_id  INTEGER
);
CREATE UNIQUE INDEX key_splits_one_open ON key_splits (check_name, business_date, range_count)
    WHERE status = 'open';

CREATE TABLE key_split_ranges (
    split_id     INTEGER     NOT NULL REFERENCES key_splits (id),
    range_index  INTEGER     NOT NULL,
    run_id       INTEGER     NOT NULL,
    left_rows    INTEGER     NOT NULL,
    right_rows   INTEGER     NOT NULL,
    in_flight    INTEGER     NOT NULL,
    attempts     INTEGER     NOT NULL,
    duration_ms  INTEGER     NOT NULL,
    findings     TEXT        NOT NULL,
    finished_at  TEXT        NOT NULL,
    PRIMARY KEY (split_id, range_index)
);
CREATE INDEX key_split_ranges_by_run ON key_split_ranges (run_id);
