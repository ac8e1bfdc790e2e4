//! The generations of the idempotency keys a check sends a processor (Stripe's report runs), so
//! that a retry reuses its key and a key Stripe would only answer with a replayed failure is
//! never sent again — on the day it failed, or by a rerun (see migration 0012).

use chrono::{NaiveDate, Utc};
use futures_util::future::BoxFuture;

use super::{BeginWrite, Store, StorePool};
use crate::check::IdempotencyGenerations;
use crate::error::{Error, Result};

impl Store {
    /// The generation in use for `check`'s `date`: the highest recorded, 1 when none is.
    pub(crate) async fn idempotency_generation(&self, check: &str, date: NaiveDate) -> Result<u32> {
        let highest: Option<i64> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT MAX(generation) FROM idempotency_generations WHERE check_name = $1 AND business_date = $2",
        )
        .bind(check)
        .bind(date)
        .fetch_one(pool)
        .await)
        .map_err(Error::from_store)?;
        generation_of(highest.unwrap_or(1))
    }

    /// Records generation `spent` of `check`'s `date` as spent and the next one as started, in
    /// one transaction; returns the highest generation (a later one another run moved to stays).
    pub(crate) async fn spend_idempotency_generation(
        &self,
        check: &str,
        date: NaiveDate,
        spent: u32,
        reason: &str,
    ) -> Result<u32> {
        let now = Utc::now();
        // Stripe's own words (a failed run's `error`): text a processor controls, masked as
        // every other message recon keeps.
        let reason = crate::mask::mask_card_numbers(reason);
        let highest: i64 = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            for generation in [spent, spent.saturating_add(1)] {
                sqlx::query(
                    "INSERT INTO idempotency_generations (check_name, business_date, generation, started_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (check_name, business_date, generation) DO NOTHING",
                )
                .bind(check)
                .bind(date)
                .bind(i64::from(generation))
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            }
            sqlx::query(
                "UPDATE idempotency_generations SET spent_at = $4, spent_reason = $5
                 WHERE check_name = $1 AND business_date = $2 AND generation = $3 AND spent_at IS NULL",
            )
            .bind(check)
            .bind(date)
            .bind(i64::from(spent))
            .bind(now)
            .bind(reason.as_ref())
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            let highest: i64 = sqlx::query_scalar(
                "SELECT MAX(generation) FROM idempotency_generations WHERE check_name = $1 AND business_date = $2",
            )
            .bind(check)
            .bind(date)
            .fetch_one(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            tx.commit().await.map_err(Error::from_store)?;
            highest
        });
        generation_of(highest)
    }
}

fn generation_of(n: i64) -> Result<u32> {
    u32::try_from(n)
        .map_err(|_| Error::internal(format!("idempotency generation {n} is out of range")))
}

impl IdempotencyGenerations for Store {
    fn current<'a>(&'a self, check: &'a str, date: NaiveDate) -> BoxFuture<'a, Result<u32>> {
        Box::pin(self.idempotency_generation(check, date))
    }

    fn advance<'a>(
        &'a self,
        check: &'a str,
        date: NaiveDate,
        spent: u32,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<u32>> {
        Box::pin(self.spend_idempotency_generation(check, date, spent, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_spent_generation_moves_on_once_and_is_kept_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = Store::open(&url).await.unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(store.current("stripe", day).await.unwrap(), 1);
        assert_eq!(
            store
                .advance("stripe", day, 1, "replayed 500")
                .await
                .unwrap(),
            2
        );
        // a second spender of generation 1 (another attempt that saw the same replay) moves nothing
        assert_eq!(store.advance("stripe", day, 1, "again").await.unwrap(), 2);
        assert_eq!(store.current("stripe", day).await.unwrap(), 2);
        assert_eq!(store.current("other", day).await.unwrap(), 1);
        // a reason quoting a card number is kept masked
        let failed = "Stripe report run frr_2 failed: card 4111111111111111 declined";
        assert_eq!(store.advance("stripe", day, 2, failed).await.unwrap(), 3);
        let reasons: Vec<(i64, Option<String>)> = on_pool!(store, pool => sqlx::query_as(
            "SELECT generation, spent_reason FROM idempotency_generations ORDER BY generation",
        )
        .fetch_all(pool)
        .await)
        .unwrap();
        assert_eq!(
            reasons,
            [
                (1, Some("replayed 500".to_string())),
                (
                    2,
                    Some(
                        "Stripe report run frr_2 failed: card 411111******1111 declined"
                            .to_string()
                    )
                ),
                (3, None)
            ]
        );
    }
}
