-- A running run's heartbeat: written every few seconds while it lives, so a run that finds the
-- date's lock free (its holder's store connection dropped) but the holder's heartbeat fresh
-- refuses to start instead of overlapping it.
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
