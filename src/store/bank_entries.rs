//! The entries aggregator syncs returned, kept by transaction id and encrypted at rest (migration 0023), so a day's run reads the entries booked that day whichever sync brought them.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::audit::NewEntry;
use super::{BeginWrite, Store, StorePool};
use crate::at_rest::{self, DataKeys};
use crate::bank::{BankEntry, Direction, EntryStatus};
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::settlement::SourceLine;

/// Parameters of one upserted row.
const ROW_PARAMS: usize = 5;

/// Bodies re-encrypted per transaction by a rewrap.
const REWRAP_BATCH: i64 = 500;

/// A bank entry as its `body` holds it (JSON, sealed when the store has data keys): every field,
/// with the place it was read at in the sync that brought it.
#[derive(Debug, Serialize, Deserialize)]
struct KeptEntry {
    account: String,
    amount_minor: i64,
    currency: String,
    /// `credit` or `debit`.
    direction: String,
    reversal: bool,
    /// `booked` or `pending`.
    status: String,
    booking_date: NaiveDate,
    value_date: Option<NaiveDate>,
    bank_ref: Option<String>,
    customer_ref: Option<String>,
    end_to_end_id: Option<String>,
    remittance: Option<String>,
    bank_tx_code: Option<String>,
    path: String,
    line: u64,
    pointer: Option<String>,
}

impl KeptEntry {
    fn of(e: &BankEntry) -> KeptEntry {
        KeptEntry {
            account: e.account.to_string(),
            amount_minor: e.amount_minor,
            currency: e.currency.code().to_string(),
            direction: match e.direction {
                Direction::Credit => "credit",
                Direction::Debit => "debit",
            }
            .to_string(),
            reversal: e.reversal,
            status: match e.status {
                EntryStatus::Booked => "booked",
                EntryStatus::Pending => "pending",
            }
            .to_string(),
            booking_date: e.booking_date,
            value_date: e.value_date,
            bank_ref: e.bank_ref.clone(),
            customer_ref: e.customer_ref.clone(),
            end_to_end_id: e.end_to_end_id.clone(),
            remittance: e.remittance.clone(),
            bank_tx_code: e.bank_tx_code.clone(),
            path: e.source.path.to_string(),
            line: e.source.line,
            pointer: e.pointer.clone(),
        }
    }

    /// The entry back; `what` names the row in the error when a field is not one recon writes.
    fn entry(self, what: &str) -> Result<BankEntry> {
        let bad = |field: &str| {
            Error::internal(format!("the store holds a malformed {what} (its {field})"))
        };
        Ok(BankEntry {
            account: Arc::from(self.account),
            amount_minor: self.amount_minor,
            currency: Currency::parse(&self.currency).map_err(|_| bad("currency"))?,
            direction: match self.direction.as_str() {
                "credit" => Direction::Credit,
                "debit" => Direction::Debit,
                _ => return Err(bad("direction")),
            },
            reversal: self.reversal,
            status: match self.status.as_str() {
                "booked" => EntryStatus::Booked,
                "pending" => EntryStatus::Pending,
                _ => return Err(bad("status")),
            },
            booking_date: self.booking_date,
            value_date: self.value_date,
            bank_ref: self.bank_ref,
            customer_ref: self.customer_ref,
            end_to_end_id: self.end_to_end_id,
            remittance: self.remittance,
            bank_tx_code: self.bank_tx_code,
            source: SourceLine {
                path: Arc::from(self.path),
                line: self.line,
            },
            pointer: self.pointer,
        })
    }
}

/// What a body is bound to: its column and its row's identity and day, so a body moved to
/// another row or another day does not decrypt.
fn body_place(source: &str, item: &str, transaction_id: &str, booking_date: &str) -> Vec<u8> {
    [
        "bank_synced_entries.body",
        source,
        item,
        transaction_id,
        booking_date,
    ]
    .join("\0")
    .into_bytes()
}

/// The day as the `booking_date` column holds it.
fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// `entry`'s body as stored: its JSON, sealed for its row when `keys` are given.
fn stored_body(
    keys: Option<&DataKeys>,
    source: &str,
    item: &str,
    transaction_id: &str,
    entry: &BankEntry,
) -> Result<String> {
    let json = serde_json::to_string(&KeptEntry::of(entry))
        .map_err(|e| Error::internal(format!("writing a bank entry as JSON: {e}")))?;
    let Some(keys) = keys else {
        return Ok(json);
    };
    let place = body_place(source, item, transaction_id, &day_text(entry.booking_date));
    keys.seal_field(&place, json.as_bytes()).map_err(|e| {
        Error::internal(format!(
            "encrypting {source} entry {transaction_id} of {item}: {e}"
        ))
    })
}

/// The JSON a stored body holds, opened with `keys` when it is sealed; without keys, or with
/// keys that do not open it, an error in one line saying so.
fn open_body(
    keys: Option<&DataKeys>,
    source: &str,
    item: &str,
    transaction_id: &str,
    booking_date: &str,
    stored: String,
) -> Result<String> {
    if !at_rest::is_sealed_field(&stored) {
        return Ok(stored);
    }
    let what = format!("{source} entry {transaction_id} of {item}");
    let Some(keys) = keys else {
        return Err(Error::bad_input(format!(
            "{what} is encrypted at rest under data key {:?} and no data key is configured (set {})",
            at_rest::field_key_id(&stored).unwrap_or("?"),
            at_rest::DEFAULT_DATA_KEY_ENV
        )));
    };
    let place = body_place(source, item, transaction_id, booking_date);
    let plain = keys
        .open_field(&place, &stored)
        .map_err(|e| Error::bad_input(format!("{what} cannot be read: {e}")))?;
    String::from_utf8(plain)
        .map_err(|_| Error::internal(format!("{what} is not UTF-8 once decrypted")))
}

/// The entry a stored body holds, opened with `keys` when it is sealed.
fn entry_of_body(
    keys: Option<&DataKeys>,
    source: &str,
    item: &str,
    transaction_id: &str,
    booking_date: &str,
    stored: String,
) -> Result<BankEntry> {
    let what = format!("{source} entry {transaction_id} of {item}");
    let json = open_body(keys, source, item, transaction_id, booking_date, stored)?;
    let kept: KeptEntry = serde_json::from_str(&json)
        .map_err(|_| Error::internal(format!("the store holds a malformed {what} (not JSON)")))?;
    let entry = kept.entry(&what)?;
    if day_text(entry.booking_date) != booking_date {
        return Err(Error::internal(format!(
            "the store holds {what} under {booking_date} but booked on {}",
            entry.booking_date
        )));
    }
    Ok(entry)
}

impl Store {
    /// Keeps one sync of `source`'s `item` in one transaction: `upserts` (its added and modified
    /// entries, each under its transaction id, `bank_ref`; the last of an id wins) replace what
    /// is kept under their ids, `removed` ids are deleted, and `next_cursor` becomes where the
    /// item resumes. A failure keeps none of it, the cursor included.
    pub(crate) async fn keep_plaid_sync(
        &self,
        source: &str,
        item: &str,
        upserts: &[BankEntry],
        removed: &[String],
        next_cursor: &str,
    ) -> Result<()> {
        let mut by_id: HashMap<&str, &BankEntry> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        for entry in upserts {
            let id = entry.bank_ref.as_deref().ok_or_else(|| {
                Error::internal(format!(
                    "a {source} entry of {item} at {} has no transaction id to be kept under",
                    entry.source
                ))
            })?;
            if by_id.insert(id, entry).is_none() {
                order.push(id);
            }
        }
        let mut rows: Vec<(&str, String, String)> = Vec::with_capacity(order.len());
        for id in order {
            let entry = by_id[id];
            let body = stored_body(self.data_keys(), source, item, id, entry)?;
            rows.push((id, day_text(entry.booking_date), body));
        }
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for chunk in rows.chunks(super::batch_rows(&tx, ROW_PARAMS)) {
                let sql = format!(
                    "INSERT INTO bank_synced_entries (source, item, transaction_id, booking_date, body) VALUES {}
                     ON CONFLICT (source, item, transaction_id) DO UPDATE SET booking_date = excluded.booking_date, body = excluded.body",
                    super::value_rows("($1, $2, $3, $4, $5)", ROW_PARAMS, chunk.len(), 0)
                );
                let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (id, day, body) in chunk {
                    insert = insert.bind(source).bind(item).bind(*id).bind(day).bind(body);
                }
                insert.execute(&mut *tx).await.map_err(Error::from_store)?;
            }
            for chunk in removed.chunks(super::batch_rows(&tx, 1) - 2) {
                let sql = format!(
                    "DELETE FROM bank_synced_entries WHERE source = $1 AND item = $2 AND transaction_id IN ({})",
                    super::value_rows("$1", 1, chunk.len(), 2)
                );
                let mut delete = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(source).bind(item);
                for id in chunk {
                    delete = delete.bind(id);
                }
                delete.execute(&mut *tx).await.map_err(Error::from_store)?;
            }
            sqlx::query(super::bank_sync::SAVE_CURSOR)
                .bind(source)
                .bind(item)
                .bind(next_cursor)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            tx.commit().await.map_err(Error::from_store)
        })
    }

    /// The entries kept for `source`'s `item` booked on `day` (posted and pending), by
    /// transaction id, each with the place it was read at.
    pub(crate) async fn synced_entries_booked_on(
        &self,
        source: &str,
        item: &str,
        day: NaiveDate,
    ) -> Result<Vec<BankEntry>> {
        let day = day_text(day);
        let rows = on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT transaction_id, booking_date, body FROM bank_synced_entries
                 WHERE source = $1 AND item = $2 AND booking_date = $3
                 ORDER BY booking_date, transaction_id",
            )
            .bind(source)
            .bind(item)
            .bind(&day)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            rows.iter()
                .map(|row| -> Result<(String, String, String)> {
                    let get = |name: &str| row.try_get::<String, _>(name).map_err(Error::from_store);
                    Ok((get("transaction_id")?, get("booking_date")?, get("body")?))
                })
                .collect::<Result<Vec<_>>>()?
        });
        rows.into_iter()
            .map(|(id, booked, body)| {
                entry_of_body(self.data_keys(), source, item, &id, &booked, body)
            })
            .collect()
    }

    /// Re-encrypts under the current data key every kept entry's body not already under it
    /// (those in clear, or under the previous key), in batches, with a `data_rewrapped` audit
    /// entry naming each batch's rows; returns how many it moved (0 when run again).
    pub(crate) async fn rewrap_synced_entries(&self, actor: &str) -> Result<u64> {
        let keys = self.data_keys().ok_or_else(|| {
            Error::bad_input(format!(
                "no data key is configured: set {} to the key to encrypt under",
                at_rest::DEFAULT_DATA_KEY_ENV
            ))
        })?;
        // A key id may hold `_`, a LIKE wildcard: escaped, so only this id's bodies match.
        let current = format!("aes256gcm:v1:{}:%", keys.current_id().replace('_', "\\_"));
        let mut moved = 0u64;
        loop {
            let done = on_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                let rows = sqlx::query(
                    "SELECT source, item, transaction_id, booking_date, body FROM bank_synced_entries
                     WHERE body NOT LIKE $1 ESCAPE '\\' ORDER BY source, item, transaction_id LIMIT $2",
                )
                .bind(&current)
                .bind(REWRAP_BATCH)
                .fetch_all(&mut *tx)
                .await
                .map_err(Error::from_store)?;
                let mut named = Vec::with_capacity(rows.len());
                for row in &rows {
                    let get = |name: &str| -> Result<String> {
                        row.try_get::<String, _>(name).map_err(Error::from_store)
                    };
                    let (source, item, id, booked) = (get("source")?, get("item")?, get("transaction_id")?, get("booking_date")?);
                    let json = open_body(Some(keys), &source, &item, &id, &booked, get("body")?)?;
                    let sealed = keys
                        .seal_field(&body_place(&source, &item, &id, &booked), json.as_bytes())
                        .map_err(|e| Error::internal(format!("encrypting {source} entry {id} of {item}: {e}")))?;
                    sqlx::query("UPDATE bank_synced_entries SET body = $1 WHERE source = $2 AND item = $3 AND transaction_id = $4")
                        .bind(sealed)
                        .bind(&source)
                        .bind(&item)
                        .bind(&id)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::from_store)?;
                    named.push(json!({ "source": source, "item": item, "transaction_id": id }));
                }
                if !named.is_empty() {
                    let entry = NewEntry::new(
                        "data_rewrapped",
                        actor,
                        None,
                        json!({ "key_id": keys.current_id(), "bank_entries": named }),
                    );
                    append_audit!(tx, [entry]);
                }
                tx.commit().await.map_err(Error::from_store)?;
                moved += rows.len() as u64;
                rows.len() < REWRAP_BATCH as usize
            });
            if done {
                return Ok(moved);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:6b33792d666f722d74657374732d6f6e6c792d30313233343536373839616263";

    const K2: &str = "k2:0000000000000000000000000000000000000000000000000000000000000002";

    fn keys() -> DataKeys {
        let env = |name: &str| (name == "RECON_DATA_KEY").then(|| K1.to_string());
        DataKeys::from_env(at_rest::DEFAULT_DATA_KEY_ENV, &env)
            .unwrap()
            .unwrap()
    }

    /// k2 current, k1 kept for reading: a rotation.
    fn rotated() -> DataKeys {
        let env = |name: &str| match name {
            "RECON_DATA_KEY" => Some(K2.to_string()),
            "RECON_DATA_KEY_PREVIOUS" => Some(K1.to_string()),
            _ => None,
        };
        DataKeys::from_env(at_rest::DEFAULT_DATA_KEY_ENV, &env)
            .unwrap()
            .unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    fn entry(id: &str, booked: NaiveDate, amount_minor: i64, text: &str) -> BankEntry {
        BankEntry {
            account: Arc::from("acc-chk"),
            amount_minor,
            currency: Currency::parse("USD").unwrap(),
            direction: if amount_minor < 0 {
                Direction::Debit
            } else {
                Direction::Credit
            },
            reversal: false,
            status: EntryStatus::Booked,
            booking_date: booked,
            value_date: Some(booked),
            bank_ref: Some(id.to_string()),
            customer_ref: Some("REF-77".to_string()),
            end_to_end_id: None,
            remittance: Some(text.to_string()),
            bank_tx_code: Some("purchase".to_string()),
            source: SourceLine {
                path: Arc::from("plaid:main/2"),
                line: 3,
            },
            pointer: Some("added[2]".to_string()),
        }
    }

    async fn bodies(store: &Store) -> Vec<(String, String)> {
        on_pool!(store, pool => sqlx::query_as(
            "SELECT transaction_id, body FROM bank_synced_entries ORDER BY transaction_id",
        )
        .fetch_all(pool)
        .await
        .unwrap())
    }

    #[tokio::test]
    async fn a_sync_is_kept_whole_and_read_back_by_booking_day() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url)
            .await
            .unwrap()
            .with_data_keys(Some(keys()));

        let mut pending = entry("P9", day(2), -700, "COFFEE");
        pending.status = EntryStatus::Pending;
        let first = [
            entry("T2", day(1), 50000, "STRIPE PAYOUT"),
            entry("T1", day(1), -1230, "Uber 063015"),
            entry("T3", day(2), -4250, "ACME SUPPLIES"),
            pending.clone(),
        ];
        store
            .keep_plaid_sync("plaid", "main", &first, &[], "c1")
            .await
            .unwrap();
        assert_eq!(
            store.bank_sync_cursor("plaid", "main").await.unwrap(),
            Some("c1".to_string())
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(1))
                .await
                .unwrap(),
            [first[1].clone(), first[0].clone()]
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(2))
                .await
                .unwrap(),
            [pending.clone(), first[2].clone()]
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "other", day(1))
                .await
                .unwrap(),
            []
        );
        // Each body is sealed: no account, amount or text of an entry in it.
        let stored = bodies(&store).await;
        assert_eq!(stored.len(), 4);
        for (id, body) in &stored {
            assert!(body.starts_with("aes256gcm:v1:k1:"), "{id}: {body}");
            for clear in [
                "acc-chk", "50000", "1230", "STRIPE", "Uber", "REF-77", "plaid:",
            ] {
                assert!(!body.contains(clear), "{id} holds {clear}");
            }
        }

        // The next sync: T2 modified (a later day), T1 removed, a pending one posted.
        let modified = entry("T2", day(3), 50000, "STRIPE PAYOUT po_1Qx");
        store
            .keep_plaid_sync(
                "plaid",
                "main",
                std::slice::from_ref(&modified),
                &["T1".to_string(), "P9".to_string(), "never-kept".to_string()],
                "c2",
            )
            .await
            .unwrap();
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(1))
                .await
                .unwrap(),
            []
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(2))
                .await
                .unwrap(),
            [first[2].clone()]
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(3))
                .await
                .unwrap(),
            [modified]
        );
        assert_eq!(
            store.bank_sync_cursor("plaid", "main").await.unwrap(),
            Some("c2".to_string())
        );

        // Without the key the entries are not read, and say why.
        let keyless = Store::open(&url).await.unwrap();
        assert_eq!(
            keyless
                .synced_entries_booked_on("plaid", "main", day(2))
                .await
                .unwrap_err()
                .to_string(),
            "plaid entry T3 of main is encrypted at rest under data key \"k1\" and no data key is configured (set RECON_DATA_KEY)"
        );
    }

    #[tokio::test]
    async fn without_data_keys_bodies_are_json_and_a_refused_sync_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.unwrap();
        let kept = entry("T1", day(1), -1230, "Uber 063015");
        store
            .keep_plaid_sync("plaid", "main", std::slice::from_ref(&kept), &[], "c1")
            .await
            .unwrap();
        assert_eq!(
            bodies(&store).await,
            [(
                "T1".to_string(),
                r#"{"account":"acc-chk","amount_minor":-1230,"currency":"USD","direction":"debit","reversal":false,"status":"booked","booking_date":"2026-12-01","value_date":"2026-12-01","bank_ref":"T1","customer_ref":"REF-77","end_to_end_id":null,"remittance":"Uber 063015","bank_tx_code":"purchase","path":"plaid:main/2","line":3,"pointer":"added[2]"}"#
                    .to_string()
            )]
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(1))
                .await
                .unwrap(),
            std::slice::from_ref(&kept)
        );

        // An entry without a transaction id refuses the whole sync: the removal and the
        // cursor are not kept either.
        let mut nameless = entry("T2", day(1), 100, "x");
        nameless.bank_ref = None;
        let refused = store
            .keep_plaid_sync(
                "plaid",
                "main",
                &[entry("T3", day(1), 5, "y"), nameless],
                &["T1".to_string()],
                "c2",
            )
            .await
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "a plaid entry of main at plaid:main/2:3 has no transaction id to be kept under"
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(1))
                .await
                .unwrap(),
            [kept]
        );
        assert_eq!(
            store.bank_sync_cursor("plaid", "main").await.unwrap(),
            Some("c1".to_string())
        );
    }

    #[tokio::test]
    async fn a_rewrap_moves_every_body_under_the_current_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let clear = entry("T1", day(1), -1230, "Uber 063015");
        let sealed = entry("T2", day(1), 50000, "STRIPE PAYOUT");
        Store::open(&url)
            .await
            .unwrap()
            .keep_plaid_sync("plaid", "main", std::slice::from_ref(&clear), &[], "c1")
            .await
            .unwrap();
        Store::open(&url)
            .await
            .unwrap()
            .with_data_keys(Some(keys()))
            .keep_plaid_sync("plaid", "main", std::slice::from_ref(&sealed), &[], "c2")
            .await
            .unwrap();
        let store = Store::open(&url)
            .await
            .unwrap()
            .with_data_keys(Some(rotated()));
        assert_eq!(store.rewrap_synced_entries("ops").await.unwrap(), 2);
        assert_eq!(store.rewrap_synced_entries("ops").await.unwrap(), 0);
        for (id, body) in bodies(&store).await {
            assert!(body.starts_with("aes256gcm:v1:k2:"), "{id}: {body}");
        }
        // k1 dropped: both read under k2 alone.
        let env = |name: &str| (name == "RECON_DATA_KEY").then(|| K2.to_string());
        let k2_only = DataKeys::from_env(at_rest::DEFAULT_DATA_KEY_ENV, &env)
            .unwrap()
            .unwrap();
        let store = Store::open(&url)
            .await
            .unwrap()
            .with_data_keys(Some(k2_only));
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(1))
                .await
                .unwrap(),
            [clear, sealed]
        );
        let audited: Vec<String> = on_pool!(store, pool => sqlx::query_scalar(
            "SELECT payload FROM audit_log WHERE action = 'data_rewrapped'",
        )
        .fetch_all(pool)
        .await
        .unwrap());
        assert_eq!(
            audited,
            [
                r#"{"key_id":"k2","bank_entries":[{"source":"plaid","item":"main","transaction_id":"T1"},{"source":"plaid","item":"main","transaction_id":"T2"}]}"#
            ]
        );
    }

    #[tokio::test]
    async fn a_body_moved_to_another_row_does_not_decrypt() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url)
            .await
            .unwrap()
            .with_data_keys(Some(keys()));
        store
            .keep_plaid_sync(
                "plaid",
                "main",
                &[entry("T1", day(1), 1, "a"), entry("T2", day(1), 2, "b")],
                &[],
                "c1",
            )
            .await
            .unwrap();
        on_pool!(store, pool => sqlx::query(
            "UPDATE bank_synced_entries SET body = (SELECT body FROM bank_synced_entries WHERE transaction_id = 'T2') WHERE transaction_id = 'T1'",
        )
        .execute(pool)
        .await
        .map(|_| ())
        .unwrap());
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(1))
                .await
                .unwrap_err()
                .to_string(),
            "plaid entry T1 of main cannot be read: it does not decrypt where it is: it was moved from another row or altered"
        );
    }
}
