//! Sealed days: a clean business day's digest and its segments (each with its digest and a
//! compressed list of row fingerprints), kept so a later quiet edit of a closed day is caught
//! (and named, row by row) when later runs re-verify it.

use chrono::Utc;
use serde_json::json;

use super::audit::NewEntry;
use super::runs::unique_fingerprints;
use super::{BeginWrite, CheckChanges, Store, StorePool, run_actor};
use crate::canonical::SegmentHead;
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

/// The open sealed-day discrepancies of a partition: the only ones a verification settles.
const STILL_OPEN_SEAL: &str = "
    SELECT id, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id
    FROM discrepancies
    WHERE check_name = $1 AND partition_key = $2 AND status IN ('open', 'carried', 'acknowledged')
      AND kind = 'closed_period_modified'
    ORDER BY id";

impl Store {
    /// Seals a clean partition, once, from its segments (head and compressed row list, in key
    /// order, read one at a time): a later clean rerun does not move an existing seal.
    /// Returns whether this call sealed it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn seal(
        &self,
        run_id: RunId,
        check: &str,
        partition: &str,
        digest: &str,
        rows: u64,
        segments: impl Iterator<Item = Result<(SegmentHead, Vec<u8>)>>,
    ) -> Result<bool> {
        let count = i64::try_from(rows).map_err(|_| Error::internal("too many rows to seal"))?;
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
            let mut stored: i64 = 0;
            let mut bytes: u64 = 0;
            for segment in segments {
                let (head, blob) = segment?;
                let segment_rows = i64::try_from(head.rows)
                    .map_err(|_| Error::internal("too many rows in a seal segment"))?;
                bytes += blob.len() as u64;
                sqlx::query(
                    "INSERT INTO seal_segments (check_name, partition_key, segment_no, end_key, row_count, digest, rows_blob)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(check)
                .bind(partition)
                .bind(stored)
                .bind(&head.end_key)
                .bind(segment_rows)
                .bind(&head.digest)
                .bind(blob)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
                stored += 1;
            }
            let entry = NewEntry::new(
                "day_sealed",
                &run_actor(),
                Some(run_id),
                json!({
                    "check": check,
                    "partition": partition,
                    "digest": digest,
                    "rows": count,
                    "segments": stored,
                    "bytes": bytes,
                }),
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

    /// The segments of a sealed partition, numbered, in key order, without their row lists;
    /// none for a day sealed before seals had segments.
    pub(crate) async fn seal_segments(
        &self,
        check: &str,
        partition: &str,
    ) -> Result<Vec<(i64, SegmentHead)>> {
        on_pool!(self, pool => {
            let rows: Vec<(i64, String, i64, String)> = sqlx::query_as(
                "SELECT segment_no, end_key, row_count, digest FROM seal_segments
                 WHERE check_name = $1 AND partition_key = $2 ORDER BY segment_no",
            )
            .bind(check)
            .bind(partition)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            rows.into_iter()
                .map(|(no, end_key, rows, digest)| {
                    let rows = u64::try_from(rows)
                        .map_err(|_| Error::internal("a seal segment with a negative row count"))?;
                    Ok((no, SegmentHead { end_key, rows, digest }))
                })
                .collect()
        })
    }

    /// The compressed row list of one sealed segment.
    pub(crate) async fn seal_segment_rows(
        &self,
        check: &str,
        partition: &str,
        segment_no: i64,
    ) -> Result<Vec<u8>> {
        on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT rows_blob FROM seal_segments
                 WHERE check_name = $1 AND partition_key = $2 AND segment_no = $3",
            )
            .bind(check)
            .bind(partition)
            .bind(segment_no)
            .fetch_one(pool)
            .await
            .map_err(Error::from_store)
        })
    }

    /// The rows of a day sealed before seals had segments: each row's key hash, shown key and
    /// row hash (hex).
    pub(crate) async fn legacy_sealed_rows(
        &self,
        check: &str,
        partition: &str,
    ) -> Result<Vec<(String, String, String)>> {
        on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT key_hash, key_json, row_hash FROM seal_rows WHERE check_name = $1 AND partition_key = $2",
            )
            .bind(check)
            .bind(partition)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)
        })
    }

    /// Prunes the check's seals of partitions before `before` (a `YYYY-MM-DD` date) with their
    /// segments and rows, in one transaction with a `seals_pruned` audit entry naming them.
    /// Returns the partitions pruned.
    pub(crate) async fn prune_seals(
        &self,
        run_id: RunId,
        check: &str,
        before: &str,
    ) -> Result<Vec<String>> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let partitions: Vec<(String, i64)> = sqlx::query_as(
                "SELECT partition_key, row_count FROM seals
                 WHERE check_name = $1 AND partition_key < $2 ORDER BY partition_key",
            )
            .bind(check)
            .bind(before)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            if partitions.is_empty() {
                return Ok(Vec::new());
            }
            for table in ["seal_segments", "seal_rows", "seals"] {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE check_name = $1 AND partition_key < $2"
                )))
                .bind(check)
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            }
            let entry = NewEntry::new(
                "seals_pruned",
                &run_actor(),
                Some(run_id),
                json!({
                    "check": check,
                    "before": before,
                    "partitions": partitions.iter().map(|(p, rows)| json!({ "partition": p, "rows": rows })).collect::<Vec<_>>(),
                }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(partitions.into_iter().map(|(p, _)| p).collect())
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
