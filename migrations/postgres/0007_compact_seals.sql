-- Compact seals: a sealed day is kept as its segments (rows in key order, cut where a key's
-- boundary hash says, so an insert or delete moves only its own segment), each with its full
-- SHA-256 digest and row count and one compressed blob of (shown key, 8-byte row fingerprint)
-- per row: a few hundred SQL rows per million data rows, where seal_rows kept one per row.
-- seal_rows stays for days sealed before this migration; they age out of the look-back window.

CREATE TABLE seal_segments (
    check_name     TEXT    NOT NULL,
    partition_key  TEXT    NOT NULL,
    segment_no     BIGINT NOT NULL,
    end_key        TEXT    NOT NULL,
    row_count      BIGINT NOT NULL,
    digest         TEXT    NOT NULL,
    rows_blob      BYTEA NOT NULL,
    PRIMARY KEY (check_name, partition_key, segment_no)
);
