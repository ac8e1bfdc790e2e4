-- Least privilege. The audit log is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE for
-- every role (grants keep the job role to INSERT too; only the tables' owner, the migrator, can
-- disable the trigger, and that is an act its own audit trail sees). Acknowledgements become
-- rows of their own, so a second one adds a note beside the first; the acting database role is
-- `session_user`, set here by the database and not by the client (a `--actor` display name is
-- kept beside it). The notes already given move over, their actor as it was written.

CREATE FUNCTION recon_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION recon_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION recon_audit_log_append_only();

CREATE TABLE acknowledgements (
    id              BIGSERIAL   PRIMARY KEY,
    discrepancy_id  BIGINT      NOT NULL REFERENCES discrepancies (id),
    at              TIMESTAMPTZ NOT NULL,
    actor           TEXT        NOT NULL,
    display_name    TEXT,
    note            TEXT        NOT NULL
);
CREATE INDEX acknowledgements_discrepancy ON acknowledgements (discrepancy_id);

CREATE FUNCTION recon_acknowledgement_actor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.actor := session_user;
    RETURN NEW;
END
$$;

INSERT INTO acknowledgements (discrepancy_id, at, actor, note)
SELECT id, COALESCE(ack_at, now()), COALESCE(ack_actor, 'unknown'), ack_note
FROM discrepancies WHERE ack_note IS NOT NULL ORDER BY id;

CREATE TRIGGER acknowledgement_actor BEFORE INSERT ON acknowledgements
    FOR EACH ROW EXECUTE FUNCTION recon_acknowledgement_actor();
