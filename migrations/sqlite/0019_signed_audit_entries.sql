-- Audit entries signed by their writer: `key_id` names the writer's Ed25519 key (its public half
-- is in the config's `[audit] trusted_keys`), `signature` is the base64 signature over the
-- entry's hash, whose fields then include the key id. Entries written before this migration,
-- or by a writer without a key, have neither and are reported as unsigned.

ALTER TABLE audit_log ADD COLUMN key_id TEXT;
ALTER TABLE audit_log ADD COLUMN signature TEXT;
