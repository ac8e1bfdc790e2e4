//! The entries aggregator syncs returned, kept by transaction id and encrypted at rest (migration 0023), so a day's run reads the entries booked that day whichever sync brought them.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use serde_json::json;
use sqlx::Row;

use super::audit::NewEntry;
use super::{BeginWrite, Store, StorePool};
use crate::at_rest::{self, DataKeys};
use crate::error::{Error, Result};

/// Parameters of one upserted row.
const ROW_PARAMS: usize = 5;

/// Bodies re-encrypted per transaction by a rewrap.
const REWRAP_BATCH: i64 = 500;

/// One synced entry as the store keeps it: its transaction id, the day it is booked on, and its
/// body, the entry written out by the bank leg (as plaintext here: sealed and opened by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncedEntry {
    pub(crate) transaction_id: String,
    pub(crate) booking_date: NaiveDate,
    pub(crate) body: String,
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

/// `entry`'s body as stored: as given, sealed for its row when `keys` are given.
fn stored_body(
    keys: Option<&DataKeys>,
    source: &str,
    item: &str,
    entry: &SyncedEntry,
) -> Result<String> {
    let Some(keys) = keys else {
        return Ok(entry.body.clone());
    };
    let id = &entry.transaction_id;
    let place = body_place(source, item, id, &day_text(entry.booking_date));
    keys.seal_field(&place, entry.body.as_bytes())
        .map_err(|e| Error::internal(format!("encrypting {source} entry {id} of {item}: {e}")))
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

impl Store {
    /// Keeps one sync of `source`'s `item` in one transaction: `upserts` (its added and modified
    /// entries; the last of a transaction id wins) replace what is kept under their ids,
    /// `removed` ids are deleted, and `next_cursor` becomes where the item resumes. A failure
    /// keeps none of it, the cursor included.
    pub(crate) async fn keep_plaid_sync(
        &self,
        source: &str,
        item: &str,
        upserts: &[SyncedEntry],
        removed: &[String],
        next_cursor: &str,
    ) -> Result<()> {
        let mut by_id: HashMap<&str, &SyncedEntry> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        for entry in upserts {
            if by_id.insert(&entry.transaction_id, entry).is_none() {
                order.push(&entry.transaction_id);
            }
        }
        let mut rows: Vec<(&str, String, String)> = Vec::with_capacity(order.len());
        for id in order {
            let entry = by_id[id];
            let body = stored_body(self.data_keys(), source, item, entry)?;
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

    /// The entries kept for `source`'s `item` booked on `day`, by transaction id (bytewise), their
    /// bodies opened.
    pub(crate) async fn synced_entries_booked_on(
        &self,
        source: &str,
        item: &str,
        day: NaiveDate,
    ) -> Result<Vec<SyncedEntry>> {
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
                let booking_date = NaiveDate::parse_from_str(&booked, "%Y-%m-%d").map_err(|_| {
                    Error::internal(format!(
                        "the store holds {source} entry {id} of {item} under a malformed booking date {booked:?}"
                    ))
                })?;
                let body = open_body(self.data_keys(), source, item, &id, &booked, body)?;
                Ok(SyncedEntry {
                    transaction_id: id,
                    booking_date,
                    body,
                })
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

    fn entry(id: &str, booked: NaiveDate, body: &str) -> SyncedEntry {
        SyncedEntry {
            transaction_id: id.to_string(),
            booking_date: booked,
            body: body.to_string(),
        }
    }

    async fn store(dir: &tempfile::TempDir) -> Store {
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        Store::open(&url).await.unwrap()
    }

    async fn bodies(store: &Store) -> Vec<(String, String)> {
        on_pool!(store, pool => sqlx::query_as(
            "SELECT transaction_id, body FROM bank_synced_entries ORDER BY transaction_id",
        )
        .fetch_all(pool)
        .await
        .unwrap())
    }

    async fn execute(store: &Store, sql: &'static str) {
        on_pool!(store, pool => sqlx::query(sql).execute(pool).await.map(|_| ()).unwrap());
    }

    #[tokio::test]
    async fn a_sync_is_kept_whole_and_read_back_by_booking_day() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await.with_data_keys(Some(keys()));
        let first = [
            entry(
                "T2",
                day(1),
                r#"{"account":"acc-chk","amount_minor":50000}"#,
            ),
            entry(
                "T1",
                day(1),
                r#"{"account":"acc-chk","amount_minor":-1230}"#,
            ),
            entry("T3", day(2), r#"{"remittance":"ACME SUPPLIES"}"#),
            entry("P9", day(2), r#"{"remittance":"COFFEE"}"#),
            // the last of an id wins
            entry("T3", day(2), r#"{"remittance":"ACME SUPPLIES 1234"}"#),
        ];
        store
            .keep_plaid_sync("plaid", "main", &first, &[], "c1")
            .await
            .unwrap();
        let booked_on = |d: u32| store.synced_entries_booked_on("plaid", "main", day(d));
        assert_eq!(
            store.bank_sync_cursor("plaid", "main").await.unwrap(),
            Some("c1".to_string())
        );
        assert_eq!(
            booked_on(1).await.unwrap(),
            [first[1].clone(), first[0].clone()]
        );
        assert_eq!(
            booked_on(2).await.unwrap(),
            [first[3].clone(), first[4].clone()]
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "other", day(1))
                .await
                .unwrap(),
            []
        );
        // Each body is sealed: nothing of an entry in clear.
        let stored = bodies(&store).await;
        assert_eq!(stored.len(), 4);
        for (id, body) in &stored {
            assert!(body.starts_with("aes256gcm:v1:k1:"), "{id}: {body}");
            for clear in ["acc-chk", "50000", "1230", "ACME", "COFFEE", "account"] {
                assert!(!body.contains(clear), "{id} holds {clear}");
            }
        }

        // The next sync: T2 modified (to a later day), T1 and P9 removed, one never kept.
        let modified = entry(
            "T2",
            day(3),
            r#"{"account":"acc-chk","amount_minor":50001}"#,
        );
        let gone = ["T1", "P9", "never-kept"].map(str::to_string);
        store
            .keep_plaid_sync(
                "plaid",
                "main",
                std::slice::from_ref(&modified),
                &gone,
                "c2",
            )
            .await
            .unwrap();
        assert_eq!(booked_on(1).await.unwrap(), []);
        assert_eq!(booked_on(2).await.unwrap(), [first[4].clone()]);
        assert_eq!(booked_on(3).await.unwrap(), [modified]);
        assert_eq!(
            store.bank_sync_cursor("plaid", "main").await.unwrap(),
            Some("c2".to_string())
        );

        // Without the key the entries are not read, and say why.
        let keyless = Store::open(&format!(
            "sqlite://{}",
            dir.path().join("store.db").display()
        ))
        .await
        .unwrap();
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
    async fn without_data_keys_a_body_is_kept_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let kept = entry("T1", day(1), r#"{"amount_minor":-1230}"#);
        store
            .keep_plaid_sync("plaid", "main", std::slice::from_ref(&kept), &[], "c1")
            .await
            .unwrap();
        assert_eq!(
            bodies(&store).await,
            [("T1".to_string(), r#"{"amount_minor":-1230}"#.to_string())]
        );
        assert_eq!(
            store
                .synced_entries_booked_on("plaid", "main", day(1))
                .await
                .unwrap(),
            [kept]
        );
    }

    /// The cursor is written last: a failure there leaves the entries and removals undone.
    #[tokio::test]
    async fn a_sync_that_fails_part_way_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let kept = entry("T1", day(1), "one");
        store
            .keep_plaid_sync("plaid", "main", std::slice::from_ref(&kept), &[], "c1")
            .await
            .unwrap();
        execute(
            &store,
            "CREATE TRIGGER refuse_c2 BEFORE UPDATE ON bank_sync_cursors WHEN NEW.cursor = 'c2'
             BEGIN SELECT RAISE(ABORT, 'cursor c2 refused'); END",
        )
        .await;
        let failed = store
            .keep_plaid_sync(
                "plaid",
                "main",
                &[
                    entry("T2", day(1), "two"),
                    entry("T1", day(1), "one, modified"),
                ],
                &["T1".to_string()],
                "c2",
            )
            .await
            .unwrap_err();
        assert!(failed.to_string().contains("cursor c2 refused"), "{failed}");
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
        let clear = entry("T1", day(1), "kept in clear");
        let sealed = entry("T2", day(1), "sealed under k1");
        store(&dir)
            .await
            .keep_plaid_sync("plaid", "main", std::slice::from_ref(&clear), &[], "c1")
            .await
            .unwrap();
        store(&dir)
            .await
            .with_data_keys(Some(keys()))
            .keep_plaid_sync("plaid", "main", std::slice::from_ref(&sealed), &[], "c2")
            .await
            .unwrap();
        let rotating = store(&dir).await.with_data_keys(Some(rotated()));
        assert_eq!(rotating.rewrap_synced_entries("ops").await.unwrap(), 2);
        assert_eq!(rotating.rewrap_synced_entries("ops").await.unwrap(), 0);
        for (id, body) in bodies(&rotating).await {
            assert!(body.starts_with("aes256gcm:v1:k2:"), "{id}: {body}");
        }
        // k1 dropped: both read under k2 alone.
        let env = |name: &str| (name == "RECON_DATA_KEY").then(|| K2.to_string());
        let k2_only = DataKeys::from_env(at_rest::DEFAULT_DATA_KEY_ENV, &env)
            .unwrap()
            .unwrap();
        let store = store(&dir).await.with_data_keys(Some(k2_only));
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
        let store = store(&dir).await.with_data_keys(Some(keys()));
        store
            .keep_plaid_sync(
                "plaid",
                "main",
                &[entry("T1", day(1), "a"), entry("T2", day(1), "b")],
                &[],
                "c1",
            )
            .await
            .unwrap();
        execute(
            &store,
            "UPDATE bank_synced_entries SET body = (SELECT body FROM bank_synced_entries WHERE transaction_id = 'T2') WHERE transaction_id = 'T1'",
        )
        .await;
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
