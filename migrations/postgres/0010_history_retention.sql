-- History retention: runs (with their check results, syncs and sightings) and resolved
-- discrepancies older than `job.history_retention_days` are pruned. These indexes let the
-- pruning find what still refers to a run, and let the foreign keys be checked, without
-- scanning the discrepancies for every run deleted.

CREATE INDEX discrepancies_by_first_run ON discrepancies (first_run_id);
CREATE INDEX discrepancies_by_last_run ON discrepancies (last_run_id);
CREATE INDEX discrepancies_by_resolved_run ON discrepancies (resolved_run_id);
CREATE INDEX run_discrepancies_by_discrepancy ON run_discrepancies (discrepancy_id);
CREATE INDEX seals_by_sealed_run ON seals (sealed_run_id);
