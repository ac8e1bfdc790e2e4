-- The entries an aggregator sync returned, kept by transaction id, so a day's run reads the
-- entries booked that day whichever sync brought them (a sync returns every change since its
-- cursor, not one day's entries: the morning after D it also returns D+1's).
-- bank_synced_entries: one row per transaction of an item, replaced when the aggregator modifies
-- it and deleted when it removes it, in the transaction that moves the item's cursor. body is the
-- entry (account, amount, references, remittance text, its place in the sync) as JSON, sealed
-- under the store's data keys when they are configured; booking_date is YYYY-MM-DD.
-- transaction_id orders bytewise ("C"), as SQLite orders it, so both stores list a day alike.

CREATE TABLE bank_synced_entries (
    source          TEXT    NOT NULL,
    item            TEXT    NOT NULL,
    transaction_id  TEXT    COLLATE "C" NOT NULL,
    booking_date    TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    PRIMARY KEY (source, item, transaction_id)
);

CREATE INDEX bank_synced_entries_by_day ON bank_synced_entries (source, item, booking_date);
