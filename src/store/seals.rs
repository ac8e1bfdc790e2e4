//! Sealed days: a clean business day's digest and its segments (each with its digest and a
//! compressed list of row fingerprints), kept so a later quiet edit of a closed day is caught
//! (and named, row by row) when later runs re-verify it.

use chrono::Utc;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::audit::NewEntry;
use super::bound_state::state_digest;
use super::runs::unique_fingerprints;
use super::{BeginWrite, CheckChanges, Store, StorePool, run_actor};
use crate::canonical::SegmentHead;
use crate::day::Partition;
use crate::discrepancy::{Discrepancy, Recorded};
use crate::error::{Error, Result};
use crate::run_id::RunId;

/// A sealed partition of a check, or one key range's part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seal {
    /// The day the seal is of.
    pub(crate) partition: Partition,
    /// The partition key its segments are stored under: `partition` for a day's seal, a
    /// [`range_seal_key`] for a key range's part of it.
    pub(crate) stored_as: String,
    pub(crate) digest: String,
    pub(crate) row_count: i64,
    pub(crate) sealed_run_id: RunId,
    /// For a day sealed by a check split by key: the split whose ranges sealed it.
    pub(crate) split_id: Option<i64>,
}

/// Which part of a day a seal covers: the whole day, or one key range of a split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SealPart {
    Day,
    Range { split_id: i64, index: u32 },
}

/// The partition key a key range's seal is stored under: it starts with the day, so the day's
/// retention prunes it with the day.
pub(crate) fn range_seal_key(partition: &str, split_id: i64, index: u32) -> String {
    format!("{partition} split {split_id} range {index}")
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
    /// Returns whether this call sealed it. A key range's seal (`part`) is provisional until
    /// its day is sealed ([`Store::seal_split_day`]): a rerun of the range replaces it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn seal(
        &self,
        run_id: RunId,
        check: &str,
        partition: &str,
        part: SealPart,
        digest: &str,
        rows: u64,
        segments: impl Iterator<Item = Result<(SegmentHead, Vec<u8>)>>,
    ) -> Result<bool> {
        let count = i64::try_from(rows).map_err(|_| Error::internal("too many rows to seal"))?;
        let (stored_as, split_id, range_index, kind) = match part {
            SealPart::Day => (partition.to_string(), None, None, "day_sealed"),
            SealPart::Range { split_id, index } => (
                range_seal_key(partition, split_id, index),
                Some(split_id),
                Some(i64::from(index)),
                "key_range_sealed",
            ),
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if split_id.is_some() {
                for table in ["seal_segments", "seals"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM {table} WHERE check_name = $1 AND partition_key = $2"
                    )))
                    .bind(check)
                    .bind(&stored_as)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
                }
            }
            let inserted = sqlx::query(
                "INSERT INTO seals (check_name, partition_key, digest, row_count, sealed_run_id, sealed_at,
                                    split_id, range_index)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(check)
            .bind(&stored_as)
            .bind(digest)
            .bind(count)
            .bind(run_id)
            .bind(Utc::now())
            .bind(split_id)
            .bind(range_index)
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
                .bind(&stored_as)
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
            let mut details = json!({
                "check": check,
                "partition": partition,
                "digest": digest,
                "rows": count,
                "segments": stored,
                "bytes": bytes,
            });
            if let SealPart::Range { split_id, index } = part {
                details["split"] = json!(split_id);
                details["range"] = json!(index);
            }
            let entry = NewEntry::new(kind, &run_actor(), Some(run_id), details);
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(true)
        })
    }

    /// The check's sealed days with partitions in `[from, to)` (dates as `YYYY-MM-DD`), oldest
    /// first (not their key ranges' seals).
    pub(crate) async fn seals(&self, check: &str, from: &str, to: &str) -> Result<Vec<Seal>> {
        on_pool!(self, pool => {
            let rows: Vec<(String, String, i64, RunId, Option<i64>)> = sqlx::query_as(
                "SELECT partition_key, digest, row_count, sealed_run_id, split_id FROM seals
                 WHERE check_name = $1 AND partition_key >= $2 AND partition_key < $3 AND range_index IS NULL
                 ORDER BY partition_key",
            )
            .bind(check)
            .bind(from)
            .bind(to)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            rows.into_iter()
                .map(|(stored_as, digest, row_count, sealed_run_id, split_id)| {
                    Ok(Seal {
                        partition: Partition::parse(&stored_as)?,
                        stored_as,
                        digest,
                        row_count,
                        sealed_run_id,
                        split_id,
                    })
                })
                .collect()
        })
    }

    /// The seal of key range `index` of split `split_id` of the check's `partition`, if that
    /// range came out clean.
    pub(crate) async fn range_seal(
        &self,
        check: &str,
        partition: Partition,
        split_id: i64,
        index: u32,
    ) -> Result<Option<Seal>> {
        let stored_as = range_seal_key(&partition.to_string(), split_id, index);
        let row: Option<(String, i64, RunId)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT digest, row_count, sealed_run_id FROM seals WHERE check_name = $1 AND partition_key = $2",
        )
        .bind(check)
        .bind(&stored_as)
        .fetch_optional(pool)
        .await)
        .map_err(Error::from_store)?;
        Ok(row.map(|(digest, row_count, sealed_run_id)| Seal {
            partition,
            stored_as,
            digest,
            row_count,
            sealed_run_id,
            split_id: Some(split_id),
        }))
    }

    /// Whether the check's `partition` is sealed (whole, or by every range of a split).
    pub(crate) async fn is_sealed(&self, check: &str, partition: &str) -> Result<bool> {
        let found: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT row_count FROM seals WHERE check_name = $1 AND partition_key = $2",
        )
        .bind(check)
        .bind(partition)
        .fetch_optional(pool)
        .await)
        .map_err(Error::from_store)?;
        Ok(found.is_some())
    }

    /// Seals the check's `partition` as split `split_id` sealed it, range by range, when the
    /// whole check came out `clean` and every one of its `range_count` ranges is sealed: the day's seal names the
    /// split, its digest is the SHA-256 of the ranges' digests (in range order, each as hex) and
    /// its row count their sum. When a range is not sealed, or the day was sealed already, the
    /// split's range seals are discarded instead. Returns whether this call sealed the day.
    pub(crate) async fn seal_split_day(
        &self,
        run_id: RunId,
        check: &str,
        partition: &str,
        split_id: i64,
        range_count: u32,
        clean: bool,
    ) -> Result<bool> {
        let prefix = range_seal_key(partition, split_id, 0);
        let prefix = prefix.trim_end_matches('0');
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let ranges: Vec<(i64, String, i64)> = sqlx::query_as(
                "SELECT range_index, digest, row_count FROM seals
                 WHERE check_name = $1 AND split_id = $2 AND range_index IS NOT NULL ORDER BY range_index",
            )
            .bind(check)
            .bind(split_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let every_range = clean
                && ranges.len() == range_count as usize
                && ranges.iter().zip(0..).all(|((index, _, _), i)| *index == i);
            let mut sealed = false;
            if every_range {
                let mut digest = Sha256::new();
                for (_, range_digest, _) in &ranges {
                    digest.update(range_digest.as_bytes());
                }
                let digest = hex::encode(digest.finalize());
                let rows: i64 = ranges.iter().map(|(_, _, rows)| rows).sum();
                sealed = sqlx::query(
                    "INSERT INTO seals (check_name, partition_key, digest, row_count, sealed_run_id, sealed_at, split_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )
                .bind(check)
                .bind(partition)
                .bind(&digest)
                .bind(rows)
                .bind(run_id)
                .bind(Utc::now())
                .bind(split_id)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?
                .rows_affected() > 0;
                if sealed {
                    let entry = NewEntry::new(
                        "day_sealed",
                        &run_actor(),
                        Some(run_id),
                        json!({ "check": check, "partition": partition, "digest": digest, "rows": rows, "split": split_id, "ranges": range_count }),
                    );
                    append_audit!(tx, [entry]);
                }
            }
            if !sealed && !ranges.is_empty() {
                for table in ["seal_segments", "seals"] {
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DELETE FROM {table} WHERE check_name = $1 AND partition_key >= $2 AND partition_key < $3"
                    )))
                    .bind(check)
                    .bind(prefix)
                    .bind(format!("{prefix}~"))
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
                }
                let entry = NewEntry::new(
                    "key_range_seals_discarded",
                    &run_actor(),
                    Some(run_id),
                    json!({ "check": check, "partition": partition, "split": split_id, "ranges_sealed": ranges.len(), "ranges": range_count }),
                );
                append_audit!(tx, [entry]);
            }
            tx.commit().await.map_err(Error::from_store)?;
            Ok(sealed)
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
                 WHERE check_name = $1 AND partition_key < $2 AND range_index IS NULL ORDER BY partition_key",
            )
            .bind(check)
            .bind(before)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let ranges: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM seals WHERE check_name = $1 AND partition_key < $2 AND range_index IS NOT NULL",
            )
            .bind(check)
            .bind(before)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            if partitions.is_empty() && ranges == 0 {
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
            let mut details = json!({
                "check": check,
                "before": before,
                "partitions": partitions.iter().map(|(p, rows)| json!({ "partition": p, "rows": rows })).collect::<Vec<_>>(),
            });
            // The seals of key ranges go with their days (and a split's that never sealed one).
            if ranges > 0 {
                details["key_range_seals"] = json!(ranges);
            }
            let entry = NewEntry::new("seals_pruned", &run_actor(), Some(run_id), details);
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
            let partition = seal.partition.to_string();
            let mut changes = move_along_life!(tx, run_id, now, check, &partition, found, &fingerprints, STILL_OPEN_SEAL, self.data_keys(), self.mask_key());
            reopen_changed_acknowledgements!(tx, run_id, changes, self.mask_key());
            // What changed is named by a keyed digest of the detail (which may quote values),
            // beside a message that holds none.
            let describe = |r: &Recorded, message: &str| {
                let detail = r.discrepancy.detail.as_ref().map(|d| state_digest(self.mask_key(), d.as_str().as_bytes()));
                json!({
                    "id": r.id,
                    "key": r.discrepancy.key_json(),
                    "key_digest": r.discrepancy.key.digest,
                    "message": message,
                    "detail_digest": detail,
                })
            };
            let entry = NewEntry::new(
                "seal_verified",
                &run_actor(),
                Some(run_id),
                json!({
                    "check": check,
                    "partition": seal.partition,
                    "sealed_by_run": seal.sealed_run_id,
                    "intact": found.is_empty(),
                    "changed_rows": changes.seen.iter().map(|r| describe(r, "changed since the day was sealed")).collect::<Vec<_>>(),
                    "resolved": changes.resolved.iter().map(|r| describe(r, "as sealed again")).collect::<Vec<_>>(),
                }),
            );
            let mut entries = vec![entry];
            entries.extend(super::runs::discrepancy_entries(self.mask_key(), run_id, &changes));
            append_audit!(tx, entries);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(changes)
        })
    }
}
