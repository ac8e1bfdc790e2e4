-- The hash-chained audit log, its head (which serialises appends), and acknowledgements.
-- `at` is canonical UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ): the hash covers exactly these bytes.

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    run_id     INTEGER,
    payload    TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

ALTER TABLE discrepancies ADD COLUMN ack_note TEXT;
ALTER TABLE discrepancies ADD COLUMN ack_actor TEXT;
ALTER TABLE discrepancies ADD COLUMN ack_at TEXT;
