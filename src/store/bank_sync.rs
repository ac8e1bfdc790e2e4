//! Where aggregator syncs of bank accounts stand (migration 0022): Plaid's cursor per item, and the calls spent of an account's daily budget, so a run resumes where the last one ended and never spends the call a bank keeps in reserve.

use chrono::{DateTime, NaiveDate, Utc};

use super::{BeginWrite, Store, StorePool};
use crate::error::{Error, Result};

/// What an account's daily call budget stands at on one UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CallsToday {
    /// Calls recon made on the account that day.
    pub(crate) calls: u32,
    /// What the bank last said is left of the day's budget, if it said.
    pub(crate) remaining: Option<u32>,
    /// When the bank said the budget resets, if it said.
    pub(crate) resets_at: Option<DateTime<Utc>>,
}

/// Keeps `$3` as the cursor of source `$1`'s account `$2`, at `$4`: also run by
/// [`Store::keep_plaid_sync`] in the transaction that keeps the sync's entries.
pub(super) const SAVE_CURSOR: &str = "INSERT INTO bank_sync_cursors (source, account, cursor, updated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (source, account) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at";

impl Store {
    /// The cursor the last handled sync of `source`'s `account` ended at; `None` before the first.
    pub(crate) async fn bank_sync_cursor(
        &self,
        source: &str,
        account: &str,
    ) -> Result<Option<String>> {
        on_pool!(self, pool => sqlx::query_scalar(
            "SELECT cursor FROM bank_sync_cursors WHERE source = $1 AND account = $2",
        )
        .bind(source)
        .bind(account)
        .fetch_optional(pool)
        .await)
        .map_err(Error::from_store)
    }

    /// Keeps `cursor` as where `source`'s `account` resumes: called once the entries of the
    /// sync that returned it are handled.
    pub(crate) async fn save_bank_sync_cursor(
        &self,
        source: &str,
        account: &str,
        cursor: &str,
    ) -> Result<()> {
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(SAVE_CURSOR)
            .bind(source)
            .bind(account)
            .bind(cursor)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            tx.commit().await.map_err(Error::from_store)
        })
    }

    /// The calls made on `source`'s `account` on `day` and what the bank said is left.
    pub(crate) async fn bank_calls_on(
        &self,
        source: &str,
        account: &str,
        day: NaiveDate,
    ) -> Result<CallsToday> {
        let row: Option<(i64, Option<i64>, Option<DateTime<Utc>>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT calls, remaining, resets_at FROM bank_sync_calls WHERE source = $1 AND account = $2 AND day = $3",
        )
        .bind(source)
        .bind(account)
        .bind(day)
        .fetch_optional(pool)
        .await)
        .map_err(Error::from_store)?;
        let Some((calls, remaining, resets_at)) = row else {
            return Ok(CallsToday::default());
        };
        let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        Ok(CallsToday {
            calls: count(calls),
            remaining: remaining.map(count),
            resets_at,
        })
    }

    /// Counts one call made on `source`'s `account` on `day`, with what the bank said is left
    /// of its budget (kept as last said when this answer said nothing).
    pub(crate) async fn count_bank_call(
        &self,
        source: &str,
        account: &str,
        day: NaiveDate,
        remaining: Option<u32>,
        resets_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO bank_sync_calls (source, account, day, calls, remaining, resets_at) VALUES ($1, $2, $3, 1, $4, $5)
                 ON CONFLICT (source, account, day) DO UPDATE SET
                     calls = bank_sync_calls.calls + 1,
                     remaining = COALESCE(excluded.remaining, bank_sync_calls.remaining),
                     resets_at = COALESCE(excluded.resets_at, bank_sync_calls.resets_at)",
            )
            .bind(source)
            .bind(account)
            .bind(day)
            .bind(remaining.map(i64::from))
            .bind(resets_at)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            tx.commit().await.map_err(Error::from_store)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cursor_is_replaced_and_calls_add_up_per_day() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.bank_sync_cursor("plaid", "item").await.unwrap(), None);
        store
            .save_bank_sync_cursor("plaid", "item", "c1")
            .await
            .unwrap();
        store
            .save_bank_sync_cursor("plaid", "item", "c2")
            .await
            .unwrap();
        assert_eq!(
            store.bank_sync_cursor("plaid", "item").await.unwrap(),
            Some("c2".to_string())
        );
        assert_eq!(
            store.bank_sync_cursor("plaid", "other").await.unwrap(),
            None
        );

        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let resets = DateTime::parse_from_rfc3339("2026-12-02T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        store
            .count_bank_call("gocardless", "acc", day, Some(3), Some(resets))
            .await
            .unwrap();
        store
            .count_bank_call("gocardless", "acc", day, None, None)
            .await
            .unwrap();
        assert_eq!(
            store.bank_calls_on("gocardless", "acc", day).await.unwrap(),
            CallsToday {
                calls: 2,
                remaining: Some(3),
                resets_at: Some(resets)
            }
        );
        let next = day.succ_opt().unwrap();
        assert_eq!(
            store
                .bank_calls_on("gocardless", "acc", next)
                .await
                .unwrap(),
            CallsToday::default()
        );
    }
}
