-- Sealed days of checks split by key: each key range of a split seals its own part of the day
-- (its own segments, cut from the range's first row), stored as a seal whose partition_key is
-- "<date> split <split id> range <index>" (split_id, range_index set); the day's own seal is
-- written when every range of that split came out clean and names the split (split_id set,
-- range_index NULL). A day sealed whole has neither. Each shard's re-verification of earlier
-- sealed days is kept with its range (sealed_days, JSON) until the shard storing the last range
-- records every day's findings together.

ALTER TABLE seals ADD COLUMN split_id INTEGER;
ALTER TABLE seals ADD COLUMN range_index INTEGER;
ALTER TABLE key_split_ranges ADD COLUMN sealed_days TEXT NOT NULL DEFAULT '[]';
