//! `recon keys rewrap` on the store: every discrepancy's values re-encrypted under the current
//! data key (those in clear, or under the previous key), so the previous key can be dropped.

use serde_json::json;
use sqlx::Row;

use super::audit::NewEntry;
use super::discrepancies::{detail_place, open_detail};
use super::{BeginWrite, Store, StorePool};
use crate::at_rest;
use crate::error::{Error, Result};

/// Rows re-encrypted per transaction.
const BATCH: i64 = 500;

impl Store {
    /// Re-encrypts under the current data key every discrepancy's values not already under it,
    /// in batches, with an audit entry per batch; returns how many it moved (0 when run again).
    pub(crate) async fn rewrap_details(&self, actor: &str) -> Result<u64> {
        let keys = self.data_keys().ok_or_else(|| {
            Error::bad_input(format!(
                "no data key is configured: set {} to the key to encrypt under",
                at_rest::DEFAULT_DATA_KEY_ENV
            ))
        })?;
        // A key id may hold `_`, a LIKE wildcard: escaped, so only this id's values match.
        let id = keys.current_id().replace('_', "\\_");
        let current = format!("aes256gcm:v1:{id}:%");
        let mut moved = 0u64;
        let mut after = 0i64;
        loop {
            let done = on_pool!(self, pool => {
                let mut tx = pool.begin_write().await?;
                let rows = sqlx::query(
                    "SELECT id, check_name, partition_key, kind, key_json, detail_json FROM discrepancies
                     WHERE id > $1 AND detail_json NOT LIKE $2 ESCAPE '\\' ORDER BY id LIMIT $3",
                )
                .bind(after)
                .bind(&current)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await
                .map_err(Error::from_store)?;
                let mut ids = Vec::with_capacity(rows.len());
                for row in &rows {
                    let get = |name: &str| -> Result<String> {
                        row.try_get::<String, _>(name).map_err(Error::from_store)
                    };
                    let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                    let stored = get("detail_json")?;
                    let place = detail_place(&get("check_name")?, &get("partition_key")?, &get("kind")?, &get("key_json")?);
                    let json = match at_rest::is_sealed_field(&stored) {
                        true => open_detail(Some(keys), id, &place, &stored)?,
                        false => stored,
                    };
                    let sealed = keys
                        .seal_field(&place, json.as_bytes())
                        .map_err(|e| Error::internal(format!("encrypting discrepancy {id}'s values: {e}")))?;
                    sqlx::query("UPDATE discrepancies SET detail_json = $1 WHERE id = $2")
                        .bind(sealed)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::from_store)?;
                    ids.push(id);
                    after = id;
                }
                if !ids.is_empty() {
                    let entry = NewEntry::new(
                        "data_rewrapped",
                        actor,
                        None,
                        json!({ "key_id": keys.current_id(), "discrepancies": ids }),
                    );
                    append_audit!(tx, [entry]);
                }
                tx.commit().await.map_err(Error::from_store)?;
                moved += ids.len() as u64;
                ids.len() < BATCH as usize
            });
            if done {
                return Ok(moved);
            }
        }
    }
}
