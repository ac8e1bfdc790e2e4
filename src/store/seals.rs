//! Sealed days: a clean business day's digest and row hashes, kept so a later quiet edit of a
//! closed day is caught (and named, row by row) when later runs re-verify it.

use std::collections::HashMap;

use chrono::Utc;
use serde_json::json;

use super::audit::NewEntry;
use super::runs::unique_fingerprints;
use super::{BeginWrite, CheckChanges, Store, StorePool, run_actor};
use crate::discrepancy::{Discrepancy, Recorded};
use crate::error::{Error, Result};
use crate::run_id::RunId;

/// A sealed partition of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seal {
    pub(crate) partition: String,
    pub(crate) digest: String,
    pub(crate) row_count: i64,
    pub(crate) sealed_run_id: RunId,
}

/// One sealed row: its key hashed (to match) and masked (to show), and its row hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SealedRow {
    pub(crate) key_hash: String,
    pub(crate) key_json: String,
    pub(crate) row_hash: String,
}

/// The open sealed-day discrepancies of a partition: the only ones a verification settles.
const STILL_OPEN_SEAL: &str = "
    SELECT id, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id
    FROM discrepancies
    WHERE check_name = $1 AND partition_key = $2 AND status IN ('open', 'carried', 'acknowledged')
      AND kind = 'closed_period_modified'
    ORDER BY id";

impl Store {
    /// Seals a clean partition, once: a later clean rerun does not move an existing seal.
    /// Returns whether this call sealed it.
    pub(crate) async fn seal(
        &self,
        run_id: RunId,
        check: &str,
        partition: &str,
        digest: &str,
        rows: &[SealedRow],
    ) -> Result<bool> {
        let count =
            i64::try_from(rows.len()).map_err(|_| Error::internal("too many rows to seal"))?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted = sqlx::query(
                "INSERT INTO seals (check_name, partition_key, digest, row_count, sealed_run_id, sealed_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(check)
            .bind(partition)
            .bind(digest)
            .bind(count)
            .bind(run_id)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?
            .rows_affected();
            if inserted == 0 {
                return Ok(false);
            }
            for row in rows {
                sqlx::query(
                    "INSERT INTO seal_rows (check_name, partition_key, key_hash, key_json, row_hash) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(check)
                .bind(partition)
                .bind(&row.key_hash)
                .bind(&row.key_json)
                .bind(&row.row_hash)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            }
            let entry = NewEntry::new(
                "day_sealed",
                &run_actor(),
                Some(run_id),
                json!({ "check": check, "partition": partition, "digest": digest, "rows": count }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(true)
        })
    }

    /// The check's seals with partitions in `[from, to)` (dates as `YYYY-MM-DD`), oldest first.
    pub(crate) async fn seals(&self, check: &str, from: &str, to: &str) -> Result<Vec<Seal>> {
        on_pool!(self, pool => {
            let rows: Vec<(String, String, i64, RunId)> = sqlx::query_as(
                "SELECT partition_key, digest, row_count, sealed_run_id FROM seals
                 WHERE check_name = $1 AND partition_key >= $2 AND partition_key < $3 ORDER BY partition_key",
            )
            .bind(check)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            Ok(rows
                .into_iter()
                .map(|(partition, digest, row_count, sealed_run_id)| Seal { partition, digest, row_count, sealed_run_id })
                .collect())
        })
    }

    /// The sealed rows of a partition, by key hash.
    pub(crate) async fn sealed_rows(
        &self,
        check: &str,
        partition: &str,
    ) -> Result<HashMap<String, SealedRow>> {
        on_pool!(self, pool => {
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT key_hash, key_json, row_hash FROM seal_rows WHERE check_name = $1 AND partition_key = $2",
            )
            .bind(check)
            .bind(partition)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            Ok(rows
                .into_iter()
                .map(|(key_hash, key_json, row_hash)| (key_hash.clone(), SealedRow { key_hash, key_json, row_hash }))
                .collect())
        })
    }

    /// Records a re-verification of a sealed partition: `found` are its rows changed since the
    /// seal; earlier findings no longer there are resolved.
    pub(crate) async fn record_seal_verification(
        &self,
        run_id: RunId,
        seal: &Seal,
        check: &str,
        found: &[Discrepancy],
    ) -> Result<CheckChanges> {
        let now = Utc::now();
        let fingerprints = unique_fingerprints(found);
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let changes = move_along_life!(tx, run_id, now, check, &seal.partition, found, &fingerprints, STILL_OPEN_SEAL);
            let describe = |r: &Recorded| json!({ "id": r.id, "key": r.discrepancy.key_json(), "detail": r.discrepancy.detail });
            let entry = NewEntry::new(
                "seal_verified",
                &run_actor(),
                Some(run_id),
                json!({
                    "check": check,
                    "partition": seal.partition,
                    "sealed_by_run": seal.sealed_run_id,
                    "intact": found.is_empty(),
                    "changed_rows": changes.seen.iter().map(describe).collect::<Vec<_>>(),
                    "resolved": changes.resolved.iter().map(describe).collect::<Vec<_>>(),
                }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(changes)
        })
    }
}
