//! Runs and their check results, and how each result moves its discrepancies along their life.
//! Every change is written together with its audit entries, in one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::Row;

use super::audit::NewEntry;
use super::discrepancies::recorded_from_row;
use super::{
    CheckChanges, CheckRecord, CheckStatus, RunRow, Store, StorePool, hostname, i64_of, run_actor,
};
use crate::discrepancy::{Discrepancy, Recorded, Status};
use crate::error::{Error, Result};
use crate::exit::Exit;

/// `INSERT … ON CONFLICT`: a discrepancy seen again is carried (or stays acknowledged); one that
/// had been resolved opens again with this run as its first sighting.
const UPSERT_DISCREPANCY: &str = "
    INSERT INTO discrepancies (fingerprint, check_name, partition_key, kind, key_json, columns_json,
                               detail_json, status, first_run_id, last_run_id, first_seen_at, last_seen_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8, $9, $9)
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
    RETURNING id, status, first_run_id";

impl Store {
    /// Records the start of a run and returns its id; a run for a date that already has runs
    /// is recorded in the audit trail as a rerun.
    pub async fn begin_run(
        &self,
        business_date: NaiveDate,
        config_digest: &str,
        started_at: DateTime<Utc>,
    ) -> Result<i64> {
        let host = hostname();
        let pid = i64::from(std::process::id());
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(Error::from_store)?;
            let rerun_of: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM runs WHERE business_date = $1")
                .bind(business_date)
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let run_id: i64 = sqlx::query_scalar(
                "INSERT INTO runs (business_date, started_at, status, host, pid, config_digest, recon_version)
                 VALUES ($1, $2, 'running', $3, $4, $5, $6) RETURNING id",
            )
            .bind(business_date)
            .bind(started_at)
            .bind(&host)
            .bind(pid)
            .bind(config_digest)
            .bind(env!("CARGO_PKG_VERSION"))
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let entry = NewEntry::new(
                "run_started",
                &run_actor(),
                Some(run_id),
                json!({
                    "business_date": business_date.to_string(),
                    "config_digest": config_digest,
                    "host": host,
                    "pid": pid,
                    "recon_version": env!("CARGO_PKG_VERSION"),
                    "rerun_of": rerun_of,
                }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(run_id)
        })
    }

    /// Records one check's result and moves its discrepancies along their life, in one
    /// transaction: new ones open, ones seen before carried, ones gone resolved.
    pub async fn record_check(
        &self,
        run_id: i64,
        record: &CheckRecord,
        found: &[Discrepancy],
    ) -> Result<CheckChanges> {
        let now = Utc::now();
        let left_rows = record.left_rows.map(i64_of).transpose()?;
        let right_rows = record.right_rows.map(i64_of).transpose()?;
        let count = i64_of(found.len() as u64)?;
        let duration = i64_of(record.duration_ms)?;
        let fingerprints = unique_fingerprints(found);
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(Error::from_store)?;
            sqlx::query(
                "INSERT INTO check_results (run_id, check_name, check_type, partition_key, status, left_rows, right_rows,
                                            left_digest, right_digest, discrepancies, error, duration_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(run_id)
            .bind(&record.check)
            .bind(record.check_type)
            .bind(&record.partition)
            .bind(record.status.as_str())
            .bind(left_rows)
            .bind(right_rows)
            .bind(&record.left_digest)
            .bind(&record.right_digest)
            .bind(count)
            .bind(&record.error)
            .bind(duration)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;

            let mut changes = CheckChanges::default();
            if record.status != CheckStatus::Failed {
                for (d, fingerprint) in found.iter().zip(&fingerprints) {
                    let row = sqlx::query(UPSERT_DISCREPANCY)
                        .bind(fingerprint)
                        .bind(&d.check)
                        .bind(&d.partition)
                        .bind(d.kind.as_str())
                        .bind(d.key_json().to_string())
                        .bind(serde_json::Value::from(d.columns.clone()).to_string())
                        .bind(super::discrepancies::detail_json(d))
                        .bind(run_id)
                        .bind(now)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(Error::from_store)?;
                    let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                    let status: String = row.try_get("status").map_err(Error::from_store)?;
                    sqlx::query("INSERT INTO run_discrepancies (run_id, discrepancy_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(run_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::from_store)?;
                    changes.seen.push(Recorded {
                        id,
                        status: super::discrepancies::parse_status(&status)?,
                        first_run_id: row.try_get("first_run_id").map_err(Error::from_store)?,
                        discrepancy: d.clone(),
                    });
                }
                let still_open = sqlx::query(
                    "SELECT id, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id
                     FROM discrepancies
                     WHERE check_name = $1 AND partition_key = $2 AND status IN ('open', 'carried', 'acknowledged')
                     ORDER BY id",
                )
                .bind(&record.check)
                .bind(&record.partition)
                .fetch_all(&mut *tx)
                .await
                .map_err(Error::from_store)?;
                for row in still_open {
                    let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                    if changes.seen.iter().any(|r| r.id == id) {
                        continue;
                    }
                    sqlx::query("UPDATE discrepancies SET status = 'resolved', resolved_run_id = $1, resolved_at = $2 WHERE id = $3")
                        .bind(run_id)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::from_store)?;
                    let mut recorded = recorded_from_row(&row)?;
                    recorded.status = Status::Resolved;
                    changes.resolved.push(recorded);
                }
            }
            let entries = check_entries(run_id, record, &changes);
            append_audit!(tx, entries);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(changes)
        })
    }

    /// Closes a run with its outcome; earlier finished runs of the same date are superseded by it.
    pub async fn finish_run(
        &self,
        run_id: i64,
        exit: Exit,
        finished_at: DateTime<Utc>,
    ) -> Result<()> {
        let status = if matches!(exit, Exit::Internal) {
            "failed"
        } else {
            "finished"
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(Error::from_store)?;
            sqlx::query("UPDATE runs SET finished_at = $1, status = $2, outcome = $3, exit_code = $4 WHERE id = $5")
                .bind(finished_at)
                .bind(status)
                .bind(exit.as_str())
                .bind(i32::from(exit.code()))
                .bind(run_id)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            let superseded: Vec<i64> = sqlx::query_scalar(
                "UPDATE runs SET superseded_by = $1
                 WHERE business_date = (SELECT business_date FROM runs WHERE id = $1)
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
            tx.commit().await.map_err(Error::from_store)
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

/// Fingerprints for this batch; two discrepancies that mask to the same identity (two card
/// numbers sharing their first six and last four digits) are told apart by their order.
fn unique_fingerprints(found: &[Discrepancy]) -> Vec<String> {
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
fn check_entries(run_id: i64, record: &CheckRecord, changes: &CheckChanges) -> Vec<NewEntry> {
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
            "left_rows": record.left_rows,
            "right_rows": record.right_rows,
            "left_digest": record.left_digest,
            "right_digest": record.right_digest,
            "discrepancies": changes.seen.len(),
            "error": record.error,
        }),
    )];
    let describe = |r: &Recorded| {
        json!({
            "id": r.id,
            "check": r.discrepancy.check,
            "partition": r.discrepancy.partition,
            "kind": r.discrepancy.kind.as_str(),
            "key": r.discrepancy.key_json(),
            "columns": r.discrepancy.columns,
        })
    };
    for r in changes.seen.iter().filter(|r| r.status == Status::Open) {
        entries.push(NewEntry::new(
            "discrepancy_opened",
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
