-- `recon serve`, the triage page: a finding assigned to a person with a note (rows of their own,
-- so a reassignment keeps the earlier one; the latest is the current one), and the per-user
-- tokens of `identity = "tokens"`, kept only as the SHA-256 of the token.

CREATE TABLE assignments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    discrepancy_id  INTEGER NOT NULL REFERENCES discrepancies (id),
    at              TEXT    NOT NULL,
    actor           TEXT    NOT NULL,
    display_name    TEXT,
    assignee        TEXT    NOT NULL,
    note            TEXT    NOT NULL
);
CREATE INDEX assignments_discrepancy ON assignments (discrepancy_id);

CREATE TABLE serve_tokens (
    token_sha256  TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'approver')),
    created_at    TEXT NOT NULL
);
