-- Stripe report runs are created under an Idempotency-Key that carries a generation, one row per
-- generation of a check's business date. A generation is spent (spent_at, spent_reason) when
-- Stripe would answer its key only with a result that cannot succeed: an error it replays
-- (Idempotent-Replayed: true), or a report run that failed. The generation in use is the highest;
-- a retry within it (a create whose answer was lost, a rerun of a run still pending) resends its
-- key and so never creates a second report run.

CREATE TABLE idempotency_generations (
    check_name     TEXT        NOT NULL,
    business_date  DATE        NOT NULL,
    generation     BIGINT      NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    spent_at       TIMESTAMPTZ,
    spent_reason   TEXT,
    PRIMARY KEY (check_name, business_date, generation)
);
