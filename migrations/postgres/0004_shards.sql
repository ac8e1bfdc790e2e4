-- A sharded run (`recon run --shard I/N`) takes part of the checks; runs of different shards of a
-- date neither lock nor supersede each other. NULL: an unsharded run.
ALTER TABLE runs ADD COLUMN shard TEXT;
