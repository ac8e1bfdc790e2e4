//! History retention: old runs (with their check results, syncs and sightings) and resolved
//! discrepancies are pruned, in one transaction with a `history_pruned` audit entry; what is
//! still open, sealed or referred to is never pruned, and the audit chain never is. Kept
//! downloads removed past their retention are audited here too (`downloads_pruned`).

use chrono::NaiveDate;
use serde_json::json;

use super::audit::NewEntry;
use super::{BeginWrite, Store, StorePool, run_actor};
use crate::error::{Error, Result};
use crate::run_id::RunId;

/// What one pruning removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Pruned {
    /// The runs, by id.
    pub(crate) runs: Vec<i64>,
    pub(crate) check_results: u64,
    pub(crate) syncs: u64,
    /// Links of a discrepancy to a run that saw it, of the runs and discrepancies pruned.
    pub(crate) sightings: u64,
    /// The resolved discrepancies, by id.
    pub(crate) resolved: Vec<i64>,
}

impl Pruned {
    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.resolved.is_empty()
    }
}

/// The resolved discrepancies whose resolving run is of a business date before `$1`.
const PRUNABLE_RESOLVED: &str = "
    SELECT d.id FROM discrepancies d JOIN runs r ON r.id = d.resolved_run_id
    WHERE d.status = 'resolved' AND r.business_date < $1";

/// The runs of business dates before `$1` whose date (and shard) has no run still running, sealing
/// a day, or named by a discrepancy the store keeps: a date's runs go together, so no run is left
/// superseded by one that is gone.
const PRUNABLE_RUNS: &str = "
    SELECT r.id FROM runs r
    WHERE r.business_date < $1 AND NOT EXISTS (
        SELECT 1 FROM runs k
        WHERE k.business_date = r.business_date AND COALESCE(k.shard, '') = COALESCE(r.shard, '')
          AND (k.status = 'running'
               OR EXISTS (SELECT 1 FROM seals s WHERE s.sealed_run_id = k.id)
               OR EXISTS (SELECT 1 FROM discrepancies d WHERE d.first_run_id = k.id)
               OR EXISTS (SELECT 1 FROM discrepancies d WHERE d.last_run_id = k.id)
               OR EXISTS (SELECT 1 FROM discrepancies d WHERE d.resolved_run_id = k.id)))";

impl Store {
    /// Prunes the resolved discrepancies resolved by runs of dates before `before`, then the runs
    /// of dates before `before` that nothing kept refers to, with their check results, syncs and
    /// sightings: one transaction, with a `history_pruned` audit entry (by `run_id`) naming them.
    pub(crate) async fn prune_history(&self, run_id: RunId, before: NaiveDate) -> Result<Pruned> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut pruned = Pruned::default();
            pruned.sightings += sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM run_discrepancies WHERE discrepancy_id IN ({PRUNABLE_RESOLVED})"
            )))
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?
            .rows_affected();
            // Their notes go with them (each is in the audit trail, which is never pruned).
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM acknowledgements WHERE discrepancy_id IN ({PRUNABLE_RESOLVED})"
            )))
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            pruned.resolved = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "DELETE FROM discrepancies WHERE id IN ({PRUNABLE_RESOLVED}) RETURNING id"
            )))
            .bind(before)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            for (table, count) in [
                ("run_discrepancies", &mut pruned.sightings),
                ("check_results", &mut pruned.check_results),
                ("syncs", &mut pruned.syncs),
            ] {
                *count += sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE run_id IN ({PRUNABLE_RUNS})"
                )))
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?
                .rows_affected();
            }
            pruned.runs = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "DELETE FROM runs WHERE id IN ({PRUNABLE_RUNS}) RETURNING id"
            )))
            .bind(before)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            if pruned.is_empty() {
                return Ok(pruned);
            }
            pruned.runs.sort_unstable();
            pruned.resolved.sort_unstable();
            let entry = NewEntry::new(
                "history_pruned",
                &run_actor(),
                Some(run_id),
                json!({
                    "before": before.to_string(),
                    "runs": pruned.runs,
                    "check_results": pruned.check_results,
                    "syncs": pruned.syncs,
                    "sightings": pruned.sightings,
                    "resolved_discrepancies": pruned.resolved,
                }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(pruned)
        })
    }

    /// Records that run `run_id` removed the kept downloads `files` (their names under
    /// `<out>/downloads/`), those of business dates before `before`: a `downloads_pruned` audit
    /// entry.
    pub(crate) async fn audit_downloads_pruned(
        &self,
        run_id: RunId,
        before: NaiveDate,
        files: &[String],
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let entry = NewEntry::new(
                "downloads_pruned",
                &run_actor(),
                Some(run_id),
                json!({
                    "before": before.to_string(),
                    "count": files.len(),
                    "files": files,
                }),
            );
            append_audit!(tx, [entry]);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(())
        })
    }
}
