-- `recon serve`, the triage page: a finding assigned to a person with a note (rows of their own,
-- so a reassignment keeps the earlier one; the latest is the current one), and the per-user
-- tokens of `identity = "tokens"`, kept only as the SHA-256 of the token. An assignment's actor
-- is the session's role, set by the database as an acknowledgement's is (migration 0016); the
-- person the server acted for is the display name beside it.

CREATE TABLE assignments (
    id              BIGSERIAL   PRIMARY KEY,
    discrepancy_id  BIGINT      NOT NULL REFERENCES discrepancies (id),
    at              TIMESTAMPTZ NOT NULL,
    actor           TEXT        NOT NULL,
    display_name    TEXT,
    assignee        TEXT        NOT NULL,
    note            TEXT        NOT NULL
);
CREATE INDEX assignments_discrepancy ON assignments (discrepancy_id);

CREATE TRIGGER assignment_actor BEFORE INSERT ON assignments
    FOR EACH ROW EXECUTE FUNCTION recon_acknowledgement_actor();

CREATE TABLE serve_tokens (
    token_sha256  TEXT        PRIMARY KEY,
    user_name     TEXT        NOT NULL,
    role          TEXT        NOT NULL CHECK (role IN ('viewer', 'analyst', 'approver')),
    created_at    TIMESTAMPTZ NOT NULL
);
