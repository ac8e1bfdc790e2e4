//! Runs and their check results, and how each result moves its discrepancies along their life.
//! Every change is written together with its audit entries, in one transaction.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::Row;

use super::audit::NewEntry;
use super::discrepancies::recorded_from_row;
use super::{
    Acknowledgement, BeginWrite, CheckChanges, CheckKind, CheckRecord, CheckStatus, Reopened,
    RunPoint, RunRow, Store, StorePool, StoredRun, TableSide, hostname, i64_of, run_actor,
};
use crate::check::{CheckOutcome, Compared, Download};
use crate::day::Partition;
use crate::discrepancy::{Discrepancy, Recorded, Status};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::mask::MaskKey;
use crate::run_id::RunId;

/// The latest `$1` finished runs that stand, newest first: id, date, outcome, discrepancies seen.
const RECENT_RUNS: &str = "SELECT r.id, r.business_date, COALESCE(r.outcome, '') AS outcome,
        (SELECT COUNT(*) FROM run_discrepancies rd WHERE rd.run_id = r.id) AS discrepancies
     FROM runs r
     WHERE r.status = 'finished' AND r.superseded_by IS NULL
     ORDER BY r.id DESC LIMIT $1";

/// How many runs a report's history charts.
const RECENT_RUN_COUNT: i64 = 30;

/// The newest business date shard `$1` completed (before `$2`, when given), and when.
const LAST_COMPLETED: &str = "SELECT business_date, finished_at FROM runs
     WHERE COALESCE(shard, '') = $1 AND status = 'finished' AND outcome IN ('clean', 'discrepancies')
       AND ($2 IS NULL OR business_date < $2) AND finished_at IS NOT NULL
     ORDER BY business_date DESC, finished_at DESC LIMIT 1";

/// What a run's reports read of the store as it closes, seen from inside its closing transaction.
pub(crate) struct Closing {
    /// The audit chain's head (sequence, hash, and the key id and signature of a signed
    /// entry), the run's own `run_finished` entry included.
    pub(crate) audit_head: (i64, String, Option<String>, Option<String>),
    /// The runs that stand, oldest first, this one included.
    pub(crate) recent_runs: Vec<RunPoint>,
    /// The newest date the run's shard completed before the run's date, and when.
    pub(crate) completed_before: Option<(NaiveDate, DateTime<Utc>)>,
    /// The newest date the run's shard completed, and when.
    pub(crate) completed_last: Option<(NaiveDate, DateTime<Utc>)>,
}

/// Run points from [`RECENT_RUNS`] rows, oldest first.
fn run_points(rows: Vec<(RunId, NaiveDate, String, i64)>) -> Vec<RunPoint> {
    let mut points: Vec<RunPoint> = rows
        .into_iter()
        .map(|(run_id, business_date, outcome, discrepancies)| RunPoint {
            run_id,
            business_date,
            outcome,
            discrepancies,
        })
        .collect();
    points.reverse();
    points
}

/// Resolves the discrepancies `$ids` names (those still open, carried or acknowledged) by run
/// `$run_id` inside transaction `$tx`, in multi-row statements; evaluates to them, as recorded,
/// in the order of `$ids`.
macro_rules! resolve_in_order {
    ($tx:expr, $run_id:expr, $now:expr, $ids:expr, $keys:expr) => {{
        let ids: Vec<i64> = $ids;
        let order: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut resolved = Vec::new();
        for chunk in ids.chunks(super::batch_rows(&$tx, 1)) {
            let sql = format!(
                "UPDATE discrepancies SET status = 'resolved', resolved_run_id = $1, resolved_at = $2
                 WHERE id IN ({}) AND status IN ('open', 'carried', 'acknowledged')
                 RETURNING id, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id",
                super::value_rows("$1", 1, chunk.len(), 2)
            );
            let mut resolve = sqlx::query(sqlx::AssertSqlSafe(sql)).bind($run_id).bind($now);
            for id in chunk {
                resolve = resolve.bind(id);
            }
            for row in resolve.fetch_all(&mut *$tx).await.map_err(Error::from_store)? {
                resolved.push(super::discrepancies::recorded_from_row($keys, &row)?);
            }
        }
        resolved.sort_by_key(|r| order.get(&r.id).copied());
        resolved
    }};
}

/// `INSERT … ON CONFLICT`: a discrepancy seen again is carried (or stays acknowledged); one that
/// had been resolved opens again with this run as its first sighting.
/// A multi-row upsert of discrepancies: `UPSERT_DISCREPANCY_INTO`, then one
/// `UPSERT_DISCREPANCY_ROW` per discrepancy (renumbered by `value_rows`), then
/// `UPSERT_DISCREPANCY_ON_CONFLICT`: a fingerprint seen before is carried, or reopened when it
/// was resolved.
pub(super) const UPSERT_DISCREPANCY_INTO: &str = "
    INSERT INTO discrepancies (fingerprint, check_name, partition_key, kind, key_json, columns_json,
                               detail_json, status, first_run_id, last_run_id, first_seen_at, last_seen_at)
    VALUES";
pub(super) const UPSERT_DISCREPANCY_ROW: &str =
    "($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8, $9, $9)";
pub(super) const UPSERT_DISCREPANCY_ON_CONFLICT: &str = "
    ON CONFLICT (fingerprint) DO UPDATE SET
        status = CASE discrepancies.status
                     WHEN 'acknowledged' THEN 'acknowledged'
                     WHEN 'resolved' THEN 'open'
                     ELSE 'carried' END,
        first_run_id = CASE discrepancies.status WHEN 'resolved' THEN excluded.first_run_id
                           ELSE discrepancies.first_run_id END,
        first_seen_at = CASE discrepancies.status WHEN 'resolved' THEN excluded.first_seen_at
                            ELSE discrepancies.first_seen_at END,
        resolved_run_id = NULL,
        resolved_at = NULL,
        columns_json = excluded.columns_json,
        detail_json = excluded.detail_json,
        last_run_id = excluded.last_run_id,
        last_seen_at = excluded.last_seen_at
    RETURNING id, fingerprint, status, first_run_id";

/// The open discrepancies of a check's partition that a check result settles (all kinds but the
/// sealed-day ones, which only a seal verification settles).
const STILL_OPEN_RESULTS: &str = "
    SELECT id, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id
    FROM discrepancies
    WHERE check_name = $1 AND partition_key = $2 AND status IN ('open', 'carried', 'acknowledged')
      AND kind <> 'closed_period_modified'
    ORDER BY id";

impl Store {
    /// Records the start of a run and returns its id; a run for a date that already has runs
    /// is recorded in the audit trail as a rerun.
    pub async fn begin_run(
        &self,
        business_date: NaiveDate,
        shard: &str,
        config_digest: &str,
        started_at: DateTime<Utc>,
    ) -> Result<RunId> {
        let host = hostname();
        let pid = i64::from(std::process::id());
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let rerun_of: Option<i64> =
                sqlx::query_scalar("SELECT MAX(id) FROM runs WHERE business_date = $1 AND COALESCE(shard, '') = $2")
                .bind(business_date)
                .bind(shard)
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            // The caller holds the date's lock: any run still marked running for it has died.
            let abandoned: Vec<i64> = sqlx::query_scalar(
                "UPDATE runs SET status = 'failed', outcome = 'abandoned', finished_at = $2
                 WHERE business_date = $1 AND status = 'running' AND COALESCE(shard, '') = $3 RETURNING id",
            )
            .bind(business_date)
            .bind(started_at)
            .bind(shard)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let run_id: RunId = sqlx::query_scalar(
                "INSERT INTO runs (business_date, started_at, heartbeat_at, status, host, pid, config_digest, recon_version, shard)
                 VALUES ($1, $2, $2, 'running', $3, $4, $5, $6, NULLIF($7, '')) RETURNING id",
            )
            .bind(business_date)
            .bind(started_at)
            .bind(&host)
            .bind(pid)
            .bind(config_digest)
            .bind(env!("CARGO_PKG_VERSION"))
            .bind(shard)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let entry = NewEntry::new(
                "run_started",
                &run_actor(),
                Some(run_id),
                json!({
                    "business_date": business_date.to_string(),
                    "shard": (!shard.is_empty()).then_some(shard),
                    "config_digest": config_digest,
                    "host": host,
                    "pid": pid,
                    "recon_version": env!("CARGO_PKG_VERSION"),
                    "rerun_of": rerun_of,
                }),
            );
            let mut entries = Vec::new();
            if !abandoned.is_empty() {
                let payload = json!({ "business_date": business_date.to_string(), "runs": abandoned });
                entries.push(NewEntry::new("runs_abandoned", &run_actor(), Some(run_id), payload));
            }
            entries.push(entry);
            append_audit!(tx, entries);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(run_id)
        })
    }

    /// Records `outcome` as [`Store::record_check`] does and says in the current span what that
    /// changed. The caller caps it first ([`CheckOutcome::capped`]).
    pub(crate) async fn record_outcome(&self, run_id: RunId, outcome: &CheckOutcome) -> Result<()> {
        let changes = self.record_check(run_id, outcome).await?;
        let record = &outcome.record;
        tracing::info!(
            status = record.status.as_str(),
            discrepancies = changes.seen.len(),
            resolved = changes.resolved.len(),
            attempts = record.attempts,
            "check recorded"
        );
        Ok(())
    }

    /// Records one check's result and moves its discrepancies along their life, in one
    /// transaction: new ones open, ones seen before carried, ones gone resolved.
    /// `reexamined` names discrepancies of earlier partitions this check looked at again (a
    /// settlement check's in-flight rows): each one not found again is resolved by this run.
    pub async fn record_check(
        &self,
        run_id: RunId,
        outcome: &CheckOutcome,
    ) -> Result<CheckChanges> {
        let CheckOutcome {
            record,
            found,
            reexamined,
        } = outcome;
        let now = Utc::now();
        let left_rows = record.left.rows.map(i64_of).transpose()?;
        let right_rows = record.right.rows.map(i64_of).transpose()?;
        let count = i64_of(found.len() as u64)?;
        let duration = i64_of(record.duration_ms)?;
        let fingerprints = unique_fingerprints(found);
        let syncs = syncs_of(record);
        let downloads = encode::downloads(&record.downloads)?;
        let not_compared = encode::not_compared(&record.not_compared)?;
        let accounting = encode::accounting(record.accounting.as_ref())?;
        let (left_table, right_table) = (
            encode::compared(&record.left.compared)?,
            encode::compared(&record.right.compared)?,
        );
        let partition = record.partition.to_string();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // A retry replaces the failed result it completes; nothing is counted twice.
            sqlx::query("DELETE FROM check_results WHERE run_id = $1 AND check_name = $2")
                .bind(run_id)
                .bind(&record.check)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            sqlx::query(
                "INSERT INTO check_results (run_id, check_name, check_type, partition_key, status, left_rows, right_rows,
                                            left_digest, right_digest, discrepancies, error, duration_ms,
                                            left_source, left_table, right_source, right_table, exit_code, attempts,
                                            accounting, downloads, not_compared)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
            )
            .bind(run_id)
            .bind(&record.check)
            .bind(record.check_type.as_str())
            .bind(&partition)
            .bind(record.status.as_str())
            .bind(left_rows)
            .bind(right_rows)
            .bind(&record.left.digest)
            .bind(&record.right.digest)
            .bind(count)
            .bind(&record.error)
            .bind(duration)
            .bind(&record.left.source)
            .bind(&left_table)
            .bind(&record.right.source)
            .bind(&right_table)
            .bind(i32::from(record.exit.code()))
            .bind(i64::from(record.attempts))
            .bind(&accounting)
            .bind(&downloads)
            .bind(&not_compared)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            // The check's sync, and each report it downloaded as a sync of its own.
            for (unit, status, attempts, error) in &syncs {
                sqlx::query(
                    "INSERT INTO syncs (run_id, check_name, unit, status, attempts, last_error, finished_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (run_id, check_name, unit) DO UPDATE SET
                         status = excluded.status,
                         attempts = syncs.attempts + excluded.attempts,
                         last_error = excluded.last_error,
                         finished_at = excluded.finished_at",
                )
                .bind(run_id)
                .bind(&record.check)
                .bind(unit)
                .bind(*status)
                .bind(*attempts)
                .bind(error)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            }
            let changes = if record.status == CheckStatus::Failed {
                CheckChanges::default()
            } else {
                let mut changes = move_along_life!(tx, run_id, now, &record.check, &partition, found, &fingerprints, STILL_OPEN_RESULTS, self.data_keys(), self.mask_key());
                reopen_changed_acknowledgements!(tx, run_id, changes, self.mask_key());
                // Re-examined discrepancies not found again are resolved, in the order given.
                let seen: HashSet<i64> = changes.seen.iter().map(|r| r.id).collect();
                let settled: Vec<i64> = reexamined.iter().copied().filter(|id| !seen.contains(id)).collect();
                let resolved = resolve_in_order!(tx, run_id, now, settled, self.data_keys());
                changes.resolved.extend(resolved);
                changes
            };
            let entries = check_entries(self.mask_key(), run_id, record, &changes);
            append_audit!(tx, entries);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(changes)
        })
    }

    /// Closes a run as failed with `exit`, whatever it is (a run whose reports could not be written).
    pub(crate) async fn fail_run(
        &self,
        run_id: RunId,
        exit: Exit,
        finished_at: DateTime<Utc>,
    ) -> Result<()> {
        self.close_run(run_id, "failed", exit, finished_at, |_| Ok(()))
            .await
    }

    /// Closes a run with its outcome (failed when that is recon's own failure, else finished;
    /// earlier finished runs of the date are superseded by it), committed only once `write`,
    /// given the store as the closed run leaves it, succeeds: a run is never recorded finished
    /// without its reports. When `write` fails nothing is recorded and its error is returned.
    pub(crate) async fn finish_run_then<T>(
        &self,
        run_id: RunId,
        exit: Exit,
        finished_at: DateTime<Utc>,
        write: impl FnOnce(Closing) -> Result<T>,
    ) -> Result<T> {
        let status = if matches!(exit, Exit::Internal) {
            "failed"
        } else {
            "finished"
        };
        self.close_run(run_id, status, exit, finished_at, write)
            .await
    }

    /// Records run `run_id` closed with `status` and `exit` in one transaction (superseding the
    /// date's earlier runs, with its audit entry), committed only if `write` succeeds.
    async fn close_run<T>(
        &self,
        run_id: RunId,
        status: &str,
        exit: Exit,
        finished_at: DateTime<Utc>,
        write: impl FnOnce(Closing) -> Result<T>,
    ) -> Result<T> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Only a run still running is closed: one that another run marked abandoned while
            // this one's lock connection was down must not overwrite that.
            let closed = sqlx::query("UPDATE runs SET finished_at = $1, status = $2, outcome = $3, exit_code = $4 WHERE id = $5 AND status = 'running'")
                .bind(finished_at)
                .bind(status)
                .bind(exit.as_str())
                .bind(i32::from(exit.code()))
                .bind(run_id)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            if closed.rows_affected() == 0 {
                return Err(Error::unavailable(format!(
                    "run {run_id} is no longer running in the store (another run closed it as abandoned); its results stand recorded, and the date's newest run decides its outcome"
                )));
            }
            let superseded: Vec<i64> = sqlx::query_scalar(
                "UPDATE runs SET superseded_by = $1
                 WHERE business_date = (SELECT business_date FROM runs WHERE id = $1)
                   AND COALESCE(shard, '') = (SELECT COALESCE(shard, '') FROM runs WHERE id = $1)
                   AND id < $1 AND superseded_by IS NULL AND status <> 'running'
                 RETURNING id",
            )
            .bind(run_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let mut superseded = superseded;
            superseded.sort_unstable();
            let entry = NewEntry::new(
                "run_finished",
                &run_actor(),
                Some(run_id),
                json!({ "outcome": exit.as_str(), "exit_code": exit.code(), "superseded": superseded }),
            );
            append_audit!(tx, [entry]);
            let audit_head: (i64, String, Option<String>, Option<String>) = sqlx::query_as(
                "SELECT h.seq, h.hash, l.key_id, l.signature
                 FROM audit_head AS h LEFT JOIN audit_log AS l ON l.seq = h.seq WHERE h.id = 1",
            )
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let recent: Vec<(RunId, NaiveDate, String, i64)> = sqlx::query_as(RECENT_RUNS)
                .bind(RECENT_RUN_COUNT)
                .fetch_all(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let (business_date, shard): (NaiveDate, String) =
                sqlx::query_as("SELECT business_date, COALESCE(shard, '') FROM runs WHERE id = $1")
                    .bind(run_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
            let completed_before: Option<(NaiveDate, DateTime<Utc>)> = sqlx::query_as(LAST_COMPLETED)
                .bind(&shard)
                .bind(Some(business_date))
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let completed_last: Option<(NaiveDate, DateTime<Utc>)> = sqlx::query_as(LAST_COMPLETED)
                .bind(&shard)
                .bind(None::<NaiveDate>)
                .fetch_optional(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let written = write(Closing {
                audit_head,
                recent_runs: run_points(recent),
                completed_before,
                completed_last,
            })?;
            tx.commit().await.map_err(Error::from_store)?;
            Ok(written)
        })
    }

    /// The run whose results stand for a date (and shard): the newest one not superseded and
    /// not running, with its outcome.
    pub(crate) async fn latest_run(
        &self,
        business_date: NaiveDate,
        shard: &str,
    ) -> Result<Option<(RunId, Option<Exit>)>> {
        let found: Option<(RunId, String)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, COALESCE(outcome, '') FROM runs
             WHERE business_date = $1 AND COALESCE(shard, '') = $2 AND superseded_by IS NULL AND status = 'finished'
             ORDER BY id DESC LIMIT 1",
        )
        .bind(business_date)
        .bind(shard)
        .fetch_optional(pool)
        .await)
        .map_err(Error::from_store)?;
        Ok(found.map(|(id, outcome)| (id, Exit::parse(&outcome))))
    }

    /// True when run `run_id` is still recorded running (no other run closed it as abandoned).
    pub(crate) async fn is_running(&self, run_id: RunId) -> Result<bool> {
        let status: Option<String> =
            on_pool!(self, pool => sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(pool)
            .await)
            .map_err(Error::from_store)?;
        Ok(status.as_deref() == Some("running"))
    }

    /// Says run `run_id` is alive: its heartbeat, written every [`super::HEARTBEAT_EVERY`] while
    /// it runs (see [`Store::lock_date`]).
    pub(crate) async fn beat(&self, run_id: RunId) -> Result<()> {
        on_pool!(self, pool => sqlx::query("UPDATE runs SET heartbeat_at = $1 WHERE id = $2 AND status = 'running'")
            .bind(Utc::now())
            .bind(run_id)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(Error::from_store)
    }

    /// Reopens a finished run to complete the checks that failed in it; returns their names.
    pub(crate) async fn begin_retry(&self, run_id: RunId) -> Result<Vec<String>> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE runs SET status = 'running', host = $2, pid = $3, heartbeat_at = $4 WHERE id = $1")
                .bind(run_id)
                .bind(hostname())
                .bind(i64::from(std::process::id()))
                .bind(Utc::now())
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let failed: Vec<String> = sqlx::query_scalar(
                "SELECT check_name FROM check_results WHERE run_id = $1 AND status = 'failed' ORDER BY id",
            )
            .bind(run_id)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let entry = NewEntry::new("run_retried", &super::os_user(), Some(run_id), json!({ "checks": failed }));
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(failed)
        })
    }

    /// What every result of `check` fetched, by partition, in any run: the Adyen batches a
    /// later day must start after (see `settlement::fetch::adyen`).
    pub(crate) async fn recorded_downloads(
        &self,
        check: &str,
    ) -> Result<Vec<(Partition, Vec<Download>)>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT partition_key, downloads FROM check_results WHERE check_name = $1 AND downloads IS NOT NULL",
            )
            .bind(check)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            let mut recorded = Vec::new();
            for row in &rows {
                let partition: String = row.try_get("partition_key").map_err(Error::from_store)?;
                let downloads = encode::downloads_of(row.try_get("downloads").map_err(Error::from_store)?)?;
                if !downloads.is_empty() {
                    recorded.push((Partition::parse(&partition)?, downloads));
                }
            }
            Ok(recorded)
        })
    }

    /// Everything a run's report shows, read back from the store.
    pub(crate) async fn stored_run(&self, run_id: RunId) -> Result<StoredRun> {
        on_pool!(self, pool => {
            let run = sqlx::query("SELECT business_date, started_at, config_digest FROM runs WHERE id = $1")
                .bind(run_id)
                .fetch_one(pool)
                .await
                .map_err(Error::from_store)?;
            let checks = sqlx::query(
                "SELECT check_name, check_type, partition_key, status, left_rows, right_rows, left_digest, right_digest,
                        error, duration_ms, left_source, left_table, right_source, right_table, exit_code, attempts,
                        accounting, downloads, not_compared
                 FROM check_results WHERE run_id = $1 ORDER BY id",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            let seen = sqlx::query(
                "SELECT d.id, d.check_name, d.partition_key, d.kind, d.key_json, d.columns_json, d.detail_json,
                        d.status, d.first_run_id, d.ack_note, d.ack_actor, d.reopened
                 FROM run_discrepancies rd JOIN discrepancies d ON d.id = rd.discrepancy_id
                 WHERE rd.run_id = $1 ORDER BY d.id",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            let resolved = sqlx::query(
                "SELECT id, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id
                 FROM discrepancies WHERE resolved_run_id = $1 ORDER BY id",
            )
            .bind(run_id)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            let mut records = Vec::with_capacity(checks.len());
            for row in &checks {
                let get_u64 = |name: &str| -> Result<Option<u64>> {
                    let n: Option<i64> = row.try_get(name).map_err(Error::from_store)?;
                    Ok(n.map(|n| n.max(0) as u64))
                };
                let get = |name: &str| -> Result<String> {
                    let v: Option<String> = row.try_get(name).map_err(Error::from_store)?;
                    Ok(v.unwrap_or_default())
                };
                let status: String = row.try_get("status").map_err(Error::from_store)?;
                let exit_code: Option<i64> = row.try_get::<Option<i32>, _>("exit_code").map_err(Error::from_store)?.map(i64::from);
                let attempts: Option<i32> = row.try_get("attempts").map_err(Error::from_store)?;
                let check_type = {
                    let kind = get("check_type")?;
                    CheckKind::parse(&kind)
                        .ok_or_else(|| Error::internal(format!("store holds an unknown check type {kind:?}")))?
                };
                records.push(CheckRecord {
                    check: get("check_name")?,
                    check_type,
                    partition: Partition::parse(&get("partition_key")?)?,
                    status: CheckStatus::parse(&status)
                        .ok_or_else(|| Error::internal(format!("store holds an unknown check status {status:?}")))?,
                    left: TableSide {
                        source: get("left_source")?,
                        compared: encode::compared_of(&check_type, get("left_table")?),
                        rows: get_u64("left_rows")?,
                        digest: row.try_get("left_digest").map_err(Error::from_store)?,
                    },
                    right: TableSide {
                        source: get("right_source")?,
                        compared: Compared::Table(get("right_table")?),
                        rows: get_u64("right_rows")?,
                        digest: row.try_get("right_digest").map_err(Error::from_store)?,
                    },
                    error: row.try_get("error").map_err(Error::from_store)?,
                    exit: exit_code.and_then(Exit::from_code).unwrap_or(Exit::Internal),
                    attempts: attempts.map_or(1, |a| a.max(0) as u32),
                    duration_ms: get_u64("duration_ms")?.unwrap_or(0),
                    accounting: encode::accounting_of(row.try_get("accounting").map_err(Error::from_store)?),
                    downloads: encode::downloads_of(row.try_get("downloads").map_err(Error::from_store)?)?,
                    not_compared: encode::not_compared_of(row.try_get("not_compared").map_err(Error::from_store)?)?,
                });
            }
            Ok(StoredRun {
                id: run_id,
                business_date: run.try_get("business_date").map_err(Error::from_store)?,
                started_at: run.try_get("started_at").map_err(Error::from_store)?,
                config_digest: run.try_get("config_digest").map_err(Error::from_store)?,
                checks: records,
                acknowledgements: seen
                    .iter()
                    .map(|row| {
                        let note: Option<String> = row.try_get("ack_note").map_err(Error::from_store)?;
                        let actor: Option<String> = row.try_get("ack_actor").map_err(Error::from_store)?;
                        let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                        Ok(note.map(|note| (id, Acknowledgement { note, actor: actor.unwrap_or_default() })))
                    })
                    .filter_map(Result::transpose)
                    .collect::<Result<_>>()?,
                reopened: seen
                    .iter()
                    .map(|row| {
                        let reason: Option<String> = row.try_get("reopened").map_err(Error::from_store)?;
                        let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                        let reason = reason
                            .map(|r| {
                                Reopened::parse(&r).ok_or_else(|| {
                                    Error::internal(format!("store holds an unknown reason {r:?} an acknowledgement lapsed"))
                                })
                            })
                            .transpose()?;
                        Ok(reason.map(|r| (id, r)))
                    })
                    .filter_map(Result::transpose)
                    .collect::<Result<_>>()?,
                seen: seen.iter().map(|row| recorded_from_row(self.data_keys(), row)).collect::<Result<_>>()?,
                resolved: resolved.iter().map(|row| recorded_from_row(self.data_keys(), row)).collect::<Result<_>>()?,
            })
        })
    }

    /// When the newest run that completed (clean or with discrepancies, any date or shard)
    /// finished; `None` for a store with none.
    pub async fn last_successful_finish(&self) -> Result<Option<DateTime<Utc>>> {
        on_pool!(self, pool => {
            let row: Option<(DateTime<Utc>,)> = sqlx::query_as(
                "SELECT finished_at FROM runs WHERE status = 'finished' AND outcome IN ('clean', 'discrepancies') AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await
            .map_err(Error::from_store)?;
            Ok(row.map(|(at,)| at))
        })
    }

    /// The runs of a business date, oldest first.
    pub async fn runs_for(&self, business_date: NaiveDate) -> Result<Vec<RunRow>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, business_date, status, outcome, superseded_by FROM runs WHERE business_date = $1 ORDER BY id",
            )
            .bind(business_date)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            rows.iter()
                .map(|row| {
                    Ok(RunRow {
                        id: row.try_get("id").map_err(Error::from_store)?,
                        business_date: row.try_get("business_date").map_err(Error::from_store)?,
                        status: row.try_get("status").map_err(Error::from_store)?,
                        outcome: row.try_get("outcome").map_err(Error::from_store)?,
                        superseded_by: row.try_get("superseded_by").map_err(Error::from_store)?,
                    })
                })
                .collect()
        })
    }
}

/// The sync a check result stands for: both sides read and compared.
fn sync_unit(record: &CheckRecord) -> String {
    format!(
        "{}:{}.{}<>{}.{}",
        record.check_type.as_str(),
        record.left.source,
        record.left.compared,
        record.right.source,
        record.right.compared
    )
}

/// The syncs a check result stands for, each with its status, attempts and last error: the
/// check's own (both sides read and compared), and each report it downloaded
/// (`download:<source>`).
fn syncs_of(record: &CheckRecord) -> Vec<(String, &'static str, i64, Option<String>)> {
    let status = match record.status {
        CheckStatus::Failed => "failed",
        _ => "succeeded",
    };
    let own = (
        sync_unit(record),
        status,
        i64::from(record.attempts),
        record.error.clone(),
    );
    let downloads = record.downloads.iter().map(|d| {
        let unit = format!("download:{}", d.source);
        (unit, "succeeded", i64::from(d.attempts), None)
    });
    std::iter::once(own).chain(downloads).collect()
}

/// Fingerprints for this batch; two discrepancies that mask to the same identity (two card
/// numbers sharing their first six and last four digits) are told apart by their order.
pub(super) fn unique_fingerprints(found: &[Discrepancy]) -> Vec<String> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    found
        .iter()
        .map(|d| {
            let base = d.fingerprint();
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { base } else { format!("{base}#{n}") }
        })
        .collect()
}

/// The audit entries a check result writes: the result with its digests, then every
/// discrepancy it opened and every one it resolved.
fn check_entries(
    key: Option<&MaskKey>,
    run_id: RunId,
    record: &CheckRecord,
    changes: &CheckChanges,
) -> Vec<NewEntry> {
    let actor = run_actor();
    let mut entries = vec![NewEntry::new(
        "check_result",
        &actor,
        Some(run_id),
        json!({
            "check": record.check,
            "type": record.check_type,
            "partition": record.partition,
            "status": record.status.as_str(),
            "left": { "source": record.left.source, "table": record.left.compared.to_string(), "rows": record.left.rows, "digest": record.left.digest },
            "right": { "source": record.right.source, "table": record.right.compared.to_string(), "rows": record.right.rows, "digest": record.right.digest },
            "attempts": record.attempts,
            "discrepancies": changes.seen.len(),
            "error": record.error,
        }),
    )];
    entries.extend(discrepancy_entries(key, run_id, changes));
    entries
}

/// The audit entries of the discrepancies a check or a seal verification moved along their
/// life: each one opened, each carried one whose shown values changed, each one resolved, with
/// the state ([`super::bound_state::state`], digested under `key`) `audit verify` compares its
/// row with.
pub(super) fn discrepancy_entries(
    key: Option<&MaskKey>,
    run_id: RunId,
    changes: &CheckChanges,
) -> Vec<NewEntry> {
    let actor = run_actor();
    let describe = |r: &Recorded| {
        json!({
            "id": r.id,
            "check": r.discrepancy.check,
            "partition": r.discrepancy.partition,
            "kind": r.discrepancy.kind.as_str(),
            "key": r.discrepancy.key_json(),
            "key_digest": r.discrepancy.key.digest,
            "columns": r.discrepancy.columns,
            "state": super::bound_state::state(key, r.status, &r.discrepancy, None),
        })
    };
    let mut entries = Vec::new();
    for r in changes.seen.iter().filter(|r| r.status == Status::Open) {
        entries.push(NewEntry::new(
            "discrepancy_opened",
            &actor,
            Some(run_id),
            describe(r),
        ));
    }
    for r in changes.changed.iter().filter_map(|i| changes.seen.get(*i)) {
        entries.push(NewEntry::new(
            "discrepancy_changed",
            &actor,
            Some(run_id),
            describe(r),
        ));
    }
    for r in &changes.resolved {
        entries.push(NewEntry::new(
            "discrepancy_resolved",
            &actor,
            Some(run_id),
            describe(r),
        ));
    }
    entries
}

/// How a check result's typed parts are kept in their text columns, and read back.
mod encode {
    use crate::check::{AccountLine, Accounting, CheckKind, Compared, Download, NotCompared};
    use crate::error::{Error, Result};

    fn json<T: serde::Serialize>(value: &T, what: &str) -> Result<String> {
        serde_json::to_string(value)
            .map_err(|e| Error::internal(format!("cannot write a check's {what}: {e}")))
    }

    /// A table by its name; report files as a JSON array of their names.
    pub(super) fn compared(compared: &Compared) -> Result<String> {
        match compared {
            Compared::Table(table) => Ok(table.clone()),
            Compared::Reports(files) => json(files, "report files"),
        }
    }

    /// A settlement check's left side is its report files; a result stored before they were
    /// kept as a list holds their names as one text, kept as it was.
    pub(super) fn compared_of(check_type: &CheckKind, text: String) -> Compared {
        match check_type {
            CheckKind::Integrity => Compared::Table(text),
            CheckKind::Settlement => match serde_json::from_str::<Vec<String>>(&text) {
                Ok(files) => Compared::Reports(files),
                Err(_) if text.is_empty() => Compared::Reports(Vec::new()),
                Err(_) => Compared::Reports(vec![text]),
            },
        }
    }

    pub(super) fn accounting(accounting: Option<&Accounting>) -> Result<Option<String>> {
        accounting.map(|a| json(a, "accounting")).transpose()
    }

    /// The accounting as stored; a result stored before accounting was typed holds its line
    /// as text, kept as it was.
    pub(super) fn accounting_of(stored: Option<String>) -> Option<Accounting> {
        stored.map(|text| {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| Accounting(vec![AccountLine::Written { text }]))
        })
    }

    pub(super) fn downloads(downloads: &[Download]) -> Result<Option<String>> {
        match downloads.is_empty() {
            true => Ok(None),
            false => json(&downloads, "downloads").map(Some),
        }
    }

    pub(super) fn not_compared(columns: &[NotCompared]) -> Result<Option<String>> {
        match columns.is_empty() {
            true => Ok(None),
            false => json(&columns, "not_compared").map(Some),
        }
    }

    pub(super) fn not_compared_of(stored: Option<String>) -> Result<Vec<NotCompared>> {
        stored
            .map(|json| {
                serde_json::from_str(&json).map_err(|e| {
                    Error::internal(format!("store holds unreadable not_compared columns: {e}"))
                })
            })
            .transpose()
            .map(Option::unwrap_or_default)
    }

    pub(super) fn downloads_of(stored: Option<String>) -> Result<Vec<Download>> {
        stored
            .map(|json| {
                serde_json::from_str(&json)
                    .map_err(|e| Error::internal(format!("store holds unreadable downloads: {e}")))
            })
            .transpose()
            .map(Option::unwrap_or_default)
    }
}
