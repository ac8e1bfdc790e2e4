-- Sealed days: when a business day of a check is reconciled clean, its digest, row count and
-- every row's key and hash are kept, so a later edit of that closed day is caught and named.
-- Keys are kept hashed (key_hash) and shown masked (key_json): no card number is stored.

CREATE TABLE seals (
    check_name     TEXT    NOT NULL,
    partition_key  TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    row_count      INTEGER NOT NULL,
    sealed_run_id  INTEGER NOT NULL REFERENCES runs (id),
    sealed_at      TEXT NOT NULL,
    PRIMARY KEY (check_name, partition_key)
);

CREATE TABLE seal_rows (
    check_name     TEXT NOT NULL,
    partition_key  TEXT NOT NULL,
    key_hash       TEXT NOT NULL,
    key_json       TEXT NOT NULL,
    row_hash       TEXT NOT NULL,
    PRIMARY KEY (check_name, partition_key, key_hash)
);
