-- Settlement checks: each result keeps its accounting line (rows read = matched + in
-- discrepancies + quarantined, per report and for the ledger), so every report of the run can
-- show that nothing was dropped.

ALTER TABLE check_results ADD COLUMN accounting TEXT;
