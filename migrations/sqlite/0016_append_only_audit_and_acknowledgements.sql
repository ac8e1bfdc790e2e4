-- Least privilege. The audit log is append-only: triggers refuse UPDATE and DELETE (a SQLite file
-- has no roles: whoever can write the file can drop them, which the chain then has to catch).
-- Acknowledgements become rows of their own, so a second one adds a note beside the first; the
-- notes already given move over.

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused');
END;

CREATE TABLE acknowledgements (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    discrepancy_id  INTEGER NOT NULL REFERENCES discrepancies (id),
    at              TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    display_name    TEXT,
    note            TEXT    NOT NULL
);
CREATE INDEX acknowledgements_discrepancy ON acknowledgements (discrepancy_id);

INSERT INTO acknowledgements (discrepancy_id, at, actor, note)
SELECT id, COALESCE(ack_at, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), COALESCE(ack_actor, 'unknown'), ack_note
FROM discrepancies WHERE ack_note IS NOT NULL ORDER BY id;
