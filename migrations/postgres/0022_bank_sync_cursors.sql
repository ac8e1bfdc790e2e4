-- Where each aggregator sync of a bank account stands, so the next run resumes from it.
-- bank_sync_cursors: Plaid's /transactions/sync cursor of an item, written only once the entries
-- of the sync that returned it were handled (a failed run leaves it, and nothing is lost). The
-- cursor is kept as Plaid gave it and never shown.
-- bank_sync_calls: the calls made on an account's transactions per UTC day and what the bank said
-- is left of its daily budget (GoCardless Bank Account Data's per-account limit), so a sync
-- refuses rather than spend the call the budget keeps in reserve.

CREATE TABLE bank_sync_cursors (
    source      TEXT        NOT NULL,
    account     TEXT        NOT NULL,
    cursor      TEXT        NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, account)
);

CREATE TABLE bank_sync_calls (
    source      TEXT        NOT NULL,
    account     TEXT        NOT NULL,
    day         DATE        NOT NULL,
    calls       BIGINT      NOT NULL,
    remaining   BIGINT,
    resets_at   TIMESTAMPTZ,
    PRIMARY KEY (source, account, day)
);
