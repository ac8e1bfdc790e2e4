-- Why a finding was acknowledged, as a code beside the note: 'explained', 'write-off' or
-- 'adjustment-booked' (`ack --reason`). Acknowledgements made before this migration have none.

ALTER TABLE acknowledgements ADD COLUMN reason TEXT;
