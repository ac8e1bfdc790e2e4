-- Settlement checks: the reports each result fetched from the processor (source, kept file,
-- SHA-256, size, attempts, Adyen batch), as a JSON array, so summary.json can name them and a
-- later day knows which Adyen settlement batches are taken.

ALTER TABLE check_results ADD COLUMN downloads TEXT;
