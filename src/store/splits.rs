//! Checks split by key across shards: the split of a check's date into N key ranges (planned
//! once, read by every shard), each range's result as its shard stored it, and which run
//! records the whole check once every range is in. Every change is written with its audit entry.

use chrono::{NaiveDate, Utc};
use serde_json::json;
use sqlx::Row;

use super::audit::NewEntry;
use super::{BeginWrite, Store, StorePool, i64_of, run_actor};
use crate::day::Partition;
use crate::discrepancy::Discrepancy;
use crate::error::{Error, Result};
use crate::run_id::RunId;

/// One split of a check's business date into key ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split {
    pub(crate) id: i64,
    pub(crate) range_count: u32,
    /// The boundaries as the integrity side wrote them (typed canonical keys, JSON).
    pub(crate) boundaries: String,
    /// The run that stored the last range and so records the whole check; `None` while open.
    pub(crate) combined_run_id: Option<RunId>,
    /// The ranges stored so far, ascending.
    pub(crate) ranges_in: Vec<u32>,
}

impl Split {
    /// The ranges not stored yet, ascending.
    pub(crate) fn missing(&self) -> Vec<u32> {
        (0..self.range_count)
            .filter(|i| !self.ranges_in.contains(i))
            .collect()
    }
}

/// What one shard's range of a split check came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RangeResult {
    pub(crate) index: u32,
    pub(crate) run_id: RunId,
    pub(crate) left_rows: u64,
    pub(crate) right_rows: u64,
    pub(crate) in_flight: u64,
    pub(crate) attempts: u32,
    pub(crate) duration_ms: u64,
    pub(crate) found: Vec<Discrepancy>,
    /// The shard's re-verification of earlier sealed days, recorded with the whole check.
    pub(crate) sealed_days: Vec<DayVerification>,
    /// The shared columns the range did not compare (as its check's `accept_uncompared` allowed).
    pub(crate) not_compared: Vec<crate::check::NotCompared>,
}

/// What one shard's re-verification of one sealed day found, in the part it verified: the day
/// whole, or some key ranges of the split that sealed it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct DayVerification {
    pub(crate) partition: Partition,
    /// Verified whole (it was sealed whole, or by a split of another range count).
    pub(crate) whole: bool,
    /// The ranges of the sealing split verified (none when whole).
    pub(crate) ranges: Vec<u32>,
    pub(crate) found: Vec<Discrepancy>,
}

const SPLIT_COLUMNS: &str = "id, range_count, boundaries, combined_run_id";

impl Store {
    /// The open split of `check`'s `date` into `range_count` ranges, if a shard planned one.
    pub(crate) async fn open_split(
        &self,
        check: &str,
        date: NaiveDate,
        range_count: u32,
    ) -> Result<Option<Split>> {
        let sql = format!(
            "SELECT {SPLIT_COLUMNS} FROM key_splits
             WHERE check_name = $1 AND business_date = $2 AND range_count = $3 AND status = 'open'"
        );
        let id: Option<i64> = on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(check)
                .bind(date)
                .bind(i64::from(range_count))
                .fetch_optional(pool)
                .await
                .map_err(Error::from_store)?;
            row.map(|r| r.try_get::<i64, _>("id")).transpose().map_err(Error::from_store)?
        });
        match id {
            Some(id) => self.split(id).await.map(Some),
            None => Ok(None),
        }
    }

    /// Records `boundaries` as the open split of `check`'s `date` into `range_count` ranges,
    /// unless another shard recorded one first: either way, returns the split that stands, which
    /// every shard then compares by.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn plan_split(
        &self,
        run_id: RunId,
        check: &str,
        date: NaiveDate,
        partition: &str,
        range_count: u32,
        boundaries: &str,
    ) -> Result<Split> {
        let id: i64 = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO key_splits (check_name, business_date, partition_key, range_count, boundaries, status,
                                         planned_run_id, planned_at)
                 VALUES ($1, $2, $3, $4, $5, 'open', $6, $7)
                 ON CONFLICT (check_name, business_date, range_count) WHERE status = 'open' DO NOTHING
                 RETURNING id",
            )
            .bind(check)
            .bind(date)
            .bind(partition)
            .bind(i64::from(range_count))
            .bind(boundaries)
            .bind(run_id)
            .bind(Utc::now())
            .fetch_optional(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let id = match inserted {
                Some(id) => {
                    let entry = NewEntry::new(
                        "key_split_planned",
                        &run_actor(),
                        Some(run_id),
                        json!({ "check": check, "partition": partition, "split": id, "ranges": range_count, "boundaries": boundaries }),
                    );
                    append_audit!(tx, [entry]);
                    id
                }
                None => sqlx::query_scalar(
                    "SELECT id FROM key_splits
                     WHERE check_name = $1 AND business_date = $2 AND range_count = $3 AND status = 'open'",
                )
                .bind(check)
                .bind(date)
                .bind(i64::from(range_count))
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::from_store)?
                .ok_or_else(|| {
                    Error::unavailable(format!(
                        "the key split of {check} for {date} completed while this shard joined it; rerun the shard"
                    ))
                })?,
            };
            tx.commit().await.map_err(Error::from_store)?;
            id
        });
        self.split(id).await
    }

    /// The split whose range `run_id` stored for `check`, with that range's index: what a
    /// resumed run of a shard picks up instead of comparing its range again.
    pub(crate) async fn split_of_run(
        &self,
        run_id: RunId,
        check: &str,
    ) -> Result<Option<(Split, u32)>> {
        let found: Option<(i64, i64)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT r.split_id, r.range_index FROM key_split_ranges r JOIN key_splits s ON s.id = r.split_id
             WHERE r.run_id = $1 AND s.check_name = $2 ORDER BY r.split_id DESC LIMIT 1",
        )
        .bind(run_id)
        .bind(check)
        .fetch_optional(pool)
        .await)
        .map_err(Error::from_store)?;
        match found {
            Some((id, index)) => Ok(Some((self.split(id).await?, index_of(index)?))),
            None => Ok(None),
        }
    }

    /// The split as it stands now.
    pub(crate) async fn split(&self, id: i64) -> Result<Split> {
        let sql = format!("SELECT {SPLIT_COLUMNS} FROM key_splits WHERE id = $1");
        on_pool!(self, pool => {
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_one(pool)
                .await
                .map_err(Error::from_store)?;
            let ranges_in: Vec<i64> = sqlx::query_scalar(
                "SELECT range_index FROM key_split_ranges WHERE split_id = $1 ORDER BY range_index",
            )
            .bind(id)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            split_of(
                id,
                row.try_get("range_count").map_err(Error::from_store)?,
                row.try_get("boundaries").map_err(Error::from_store)?,
                row.try_get("combined_run_id").map_err(Error::from_store)?,
                ranges_in,
            )
        })
    }

    /// Stores one range's result in the open split `split_id` (replacing an earlier result of
    /// the same range) and returns the split as it stood when the range was stored (read in the
    /// same transaction: a shard that did not store the last range reports the ranges still
    /// missing then, whatever another shard stores a moment later). The split's row is locked
    /// first, so of shards finishing at once exactly one sees the last range arrive: that one's
    /// run is named to record the whole check, and the split is closed.
    pub(crate) async fn record_range(
        &self,
        split_id: i64,
        check: &str,
        result: &RangeResult,
    ) -> Result<Split> {
        let findings = serde_json::to_string(&result.found)
            .map_err(|e| Error::internal(format!("findings of a key range: {e}")))?;
        let sealed_days = serde_json::to_string(&result.sealed_days)
            .map_err(|e| Error::internal(format!("sealed days of a key range: {e}")))?;
        let not_compared = serde_json::to_string(&result.not_compared)
            .map_err(|e| Error::internal(format!("columns a key range did not compare: {e}")))?;
        let (left_rows, right_rows, in_flight) = (
            i64_of(result.left_rows)?,
            i64_of(result.right_rows)?,
            i64_of(result.in_flight)?,
        );
        let duration = i64_of(result.duration_ms)?;
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let locked = sqlx::query(
                "UPDATE key_splits SET status = status WHERE id = $1 RETURNING status, range_count, partition_key",
            )
            .bind(split_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let status: String = locked.try_get("status").map_err(Error::from_store)?;
            let range_count: i64 = locked.try_get("range_count").map_err(Error::from_store)?;
            let partition: String = locked.try_get("partition_key").map_err(Error::from_store)?;
            if status != "open" {
                return Err(Error::unavailable(format!(
                    "the key split of {check} completed before range {} was stored; rerun the shard",
                    result.index
                )));
            }
            sqlx::query(
                "INSERT INTO key_split_ranges (split_id, range_index, run_id, left_rows, right_rows, in_flight,
                                               attempts, duration_ms, findings, finished_at, sealed_days, not_compared)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (split_id, range_index) DO UPDATE SET
                     run_id = excluded.run_id, left_rows = excluded.left_rows, right_rows = excluded.right_rows,
                     in_flight = excluded.in_flight, attempts = excluded.attempts,
                     duration_ms = excluded.duration_ms, findings = excluded.findings,
                     finished_at = excluded.finished_at, sealed_days = excluded.sealed_days,
                     not_compared = excluded.not_compared",
            )
            .bind(split_id)
            .bind(i64::from(result.index))
            .bind(result.run_id)
            .bind(left_rows)
            .bind(right_rows)
            .bind(in_flight)
            .bind(i64::from(result.attempts))
            .bind(duration)
            .bind(&findings)
            .bind(Utc::now())
            .bind(&sealed_days)
            .bind(&not_compared)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM key_split_ranges WHERE split_id = $1")
                .bind(split_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let complete = stored == range_count;
            if complete {
                sqlx::query("UPDATE key_splits SET status = 'complete', combined_run_id = $2 WHERE id = $1")
                    .bind(split_id)
                    .bind(result.run_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
            }
            let entry = NewEntry::new(
                "key_range_compared",
                &run_actor(),
                Some(result.run_id),
                json!({
                    "check": check,
                    "partition": partition,
                    "split": split_id,
                    "range": format!("{}/{range_count}", result.index),
                    "left_rows": result.left_rows,
                    "right_rows": result.right_rows,
                    "discrepancies": result.found.len(),
                    "ranges_stored": stored,
                    "completes_the_check": complete,
                }),
            );
            append_audit!(tx, [entry]);
            let sql = format!("SELECT {SPLIT_COLUMNS} FROM key_splits WHERE id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(split_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let ranges_in: Vec<i64> = sqlx::query_scalar(
                "SELECT range_index FROM key_split_ranges WHERE split_id = $1 ORDER BY range_index",
            )
            .bind(split_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let split = split_of(
                split_id,
                row.try_get("range_count").map_err(Error::from_store)?,
                row.try_get("boundaries").map_err(Error::from_store)?,
                row.try_get("combined_run_id").map_err(Error::from_store)?,
                ranges_in,
            )?;
            tx.commit().await.map_err(Error::from_store)?;
            Ok::<Split, Error>(split)
        })
    }

    /// Every stored range of the split, in range order, with its findings.
    pub(crate) async fn range_results(&self, split_id: i64) -> Result<Vec<RangeResult>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT range_index, run_id, left_rows, right_rows, in_flight, attempts, duration_ms, findings, sealed_days,
                        not_compared
                 FROM key_split_ranges WHERE split_id = $1 ORDER BY range_index",
            )
            .bind(split_id)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            rows.iter()
                .map(|row| {
                    let count = |name: &str| -> Result<u64> {
                        let n: i64 = row.try_get(name).map_err(Error::from_store)?;
                        u64::try_from(n).map_err(|_| Error::internal(format!("a negative {name} in the store")))
                    };
                    let findings: String = row.try_get("findings").map_err(Error::from_store)?;
                    let sealed_days: String = row.try_get("sealed_days").map_err(Error::from_store)?;
                    let not_compared: String = row.try_get("not_compared").map_err(Error::from_store)?;
                    Ok(RangeResult {
                        index: index_of(row.try_get("range_index").map_err(Error::from_store)?)?,
                        run_id: row.try_get("run_id").map_err(Error::from_store)?,
                        left_rows: count("left_rows")?,
                        right_rows: count("right_rows")?,
                        in_flight: count("in_flight")?,
                        attempts: u32::try_from(count("attempts")?).unwrap_or(u32::MAX),
                        duration_ms: count("duration_ms")?,
                        found: serde_json::from_str(&findings)
                            .map_err(|e| Error::internal(format!("the store holds bad key-range findings: {e}")))?,
                        sealed_days: serde_json::from_str(&sealed_days)
                            .map_err(|e| Error::internal(format!("the store holds bad key-range seal verifications: {e}")))?,
                        not_compared: serde_json::from_str(&not_compared)
                            .map_err(|e| Error::internal(format!("the store holds bad key-range uncompared columns: {e}")))?,
                    })
                })
                .collect()
        })
    }

    /// Gives run `run_id` the result of `check` that run `from` recorded for the whole split
    /// check (its check result and the discrepancies it saw), without moving any discrepancy
    /// along its life again: a shard that finished before the last range sees the check complete.
    /// Returns false when `from` recorded no result for the check (it died before it could).
    pub(crate) async fn adopt_check_result(
        &self,
        run_id: RunId,
        from: RunId,
        check: &str,
    ) -> Result<bool> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM check_results WHERE run_id = $1 AND check_name = $2")
                .bind(run_id)
                .bind(check)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let copied = sqlx::query(
                "INSERT INTO check_results (run_id, check_name, check_type, partition_key, status, left_rows, right_rows,
                                            left_digest, right_digest, discrepancies, error, duration_ms,
                                            left_source, left_table, right_source, right_table, exit_code, attempts,
                                            accounting, not_compared)
                 SELECT $1, check_name, check_type, partition_key, status, left_rows, right_rows,
                        left_digest, right_digest, discrepancies, error, duration_ms,
                        left_source, left_table, right_source, right_table, exit_code, attempts, accounting,
                        not_compared
                 FROM check_results WHERE run_id = $2 AND check_name = $3",
            )
            .bind(run_id)
            .bind(from)
            .bind(check)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?
            .rows_affected();
            if copied == 0 {
                return Ok(false);
            }
            let linked = sqlx::query(
                "INSERT INTO run_discrepancies (run_id, discrepancy_id)
                 SELECT $1, rd.discrepancy_id FROM run_discrepancies rd JOIN discrepancies d ON d.id = rd.discrepancy_id
                 WHERE rd.run_id = $2 AND d.check_name = $3
                 ON CONFLICT DO NOTHING",
            )
            .bind(run_id)
            .bind(from)
            .bind(check)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?
            .rows_affected();
            let entry = NewEntry::new(
                "check_result_adopted",
                &run_actor(),
                Some(run_id),
                json!({ "check": check, "recorded_by_run": from, "discrepancies": linked }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(true)
        })
    }
}

/// A split as its row and its stored ranges give it.
fn split_of(
    id: i64,
    range_count: i64,
    boundaries: String,
    combined_run_id: Option<RunId>,
    ranges_in: Vec<i64>,
) -> Result<Split> {
    Ok(Split {
        id,
        range_count: index_of(range_count)?,
        boundaries,
        combined_run_id,
        ranges_in: ranges_in.into_iter().map(index_of).collect::<Result<_>>()?,
    })
}

fn index_of(n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::internal(format!("range {n} out of bounds in the store")))
}
