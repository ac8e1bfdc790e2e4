-- An acknowledgement holds for the finding as it was acknowledged, and for as long as the
-- operator said: `ack_digest` is the SHA-256 of the finding's shown values and money at stake
-- when it was acknowledged (a later run seeing other values reopens it), `ack_until` the last
-- day it holds (`ack --until`; NULL: until the finding changes or resolves). `reopened` says why
-- an acknowledged finding needs someone again ('changed' or 'expired'), NULL otherwise.
-- Acknowledgements made before this migration have no digest and hold as they did.

ALTER TABLE discrepancies ADD COLUMN ack_digest TEXT;
ALTER TABLE discrepancies ADD COLUMN ack_until DATE;
ALTER TABLE discrepancies ADD COLUMN reopened TEXT;
CREATE INDEX discrepancies_by_ack_until ON discrepancies (ack_until) WHERE status = 'acknowledged';
