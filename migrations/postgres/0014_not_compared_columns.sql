-- Integrity checks: the shared columns a check did not compare (a type recon cannot compare
-- exactly, which its accept_uncompared allowed), as a JSON array of {column, reason}, so that
-- summary.json and the reports say what a clean result did not cover. A range of a check split
-- by key keeps its own until the shard storing the last range records the whole check.

ALTER TABLE check_results ADD COLUMN not_compared TEXT;
ALTER TABLE key_split_ranges ADD COLUMN not_compared TEXT NOT NULL DEFAULT '[]';
