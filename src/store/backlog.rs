//! The open backlog across every business date, read from the store for the metrics an alert
//! watches: what is still open (new, carried over or acknowledged), and since when.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::Row;

use super::{Store, StorePool};
use crate::discrepancy::{AtStake, Status};
use crate::error::{Error, Result};
use crate::run_id::RunId;

/// One finding of the backlog, as much of it as its metrics need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BacklogItem {
    pub(crate) status: Status,
    pub(crate) kind: String,
    pub(crate) at_stake: Option<AtStake>,
    pub(crate) first_seen_at: DateTime<Utc>,
}

/// The part of a stored finding's detail the backlog reads.
#[derive(serde::Deserialize)]
struct Stake {
    #[serde(default)]
    at_stake: Option<AtStake>,
}

impl Store {
    /// Every finding of any date still open, carried over or acknowledged, in id order.
    pub(crate) async fn open_backlog(&self) -> Result<Vec<BacklogItem>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT status, kind, detail_json, first_seen_at FROM discrepancies
                 WHERE status IN ('open', 'carried', 'acknowledged') ORDER BY id",
            )
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            rows.iter()
                .map(|row| {
                    let status: String = row.try_get("status").map_err(Error::from_store)?;
                    let detail: String = row.try_get("detail_json").map_err(Error::from_store)?;
                    let stake: Stake = serde_json::from_str(&detail).map_err(|_| {
                        Error::internal("store holds a malformed discrepancy (detail_json)")
                    })?;
                    Ok(BacklogItem {
                        status: super::discrepancies::parse_status(&status)?,
                        kind: row.try_get("kind").map_err(Error::from_store)?,
                        at_stake: stake.at_stake,
                        first_seen_at: row.try_get("first_seen_at").map_err(Error::from_store)?,
                    })
                })
                .collect()
        })
    }
}

impl Store {
    /// How many findings still needing someone (new or carried over) run `run_id` did not see:
    /// of other dates, or of checks it did not run.
    pub(crate) async fn needing_someone_unseen_by(&self, run_id: RunId) -> Result<usize> {
        let count: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM discrepancies
             WHERE status IN ('open', 'carried')
               AND id NOT IN (SELECT discrepancy_id FROM run_discrepancies WHERE run_id = $1)",
        )
        .bind(run_id)
        .fetch_one(pool)
        .await)
        .map_err(Error::from_store)?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// What keeps business day `date` from being closed, across every check: its findings
    /// that need someone (open or carried, not in flight), and those still in flight
    /// (`timing`, `payout_late`: acknowledged or not, the money has not arrived yet).
    pub(crate) async fn day_standing(&self, date: NaiveDate) -> Result<(usize, usize)> {
        let (needing, in_flight): (i64, i64) = on_pool!(self, pool => sqlx::query_as(
            "SELECT
               COALESCE(SUM(CASE WHEN kind NOT IN ('timing', 'payout_late')
                                  AND status IN ('open', 'carried') THEN 1 ELSE 0 END), 0),
               COALESCE(SUM(CASE WHEN kind IN ('timing', 'payout_late')
                                  AND status IN ('open', 'carried', 'acknowledged') THEN 1 ELSE 0 END), 0)
             FROM discrepancies WHERE partition_key = $1",
        )
        .bind(date.to_string())
        .fetch_one(pool)
        .await)
        .map_err(Error::from_store)?;
        Ok((
            usize::try_from(needing).unwrap_or(0),
            usize::try_from(in_flight).unwrap_or(0),
        ))
    }
}
