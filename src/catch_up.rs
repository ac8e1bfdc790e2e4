//! What a nightly run says beside its own result: the business dates no run completed since the
//! last completed one, and when the newest business date last completed.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::error::Result;
use crate::store::Store;

/// The newest business date a run completed (clean or with discrepancies), and when. A rerun of
/// an older date does not move it, so an alert on its age speaks of the nightly.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LastSuccess {
    pub business_date: NaiveDate,
    pub finished_at: DateTime<Utc>,
}

/// The nightly's standing after a run: the dates it missed and its last success.
#[derive(Debug, Default)]
pub struct Standing {
    pub missed_dates: Vec<NaiveDate>,
    pub last_success: Option<LastSuccess>,
}

/// The standing of `shard` after a run for `date`. Missed dates are looked for only by a
/// nightly run (no explicit date): those after the newest date completed before `date`, up to
/// the day before it. A store with no completed run yet has missed nothing.
pub async fn standing(
    store: &Store,
    date: NaiveDate,
    shard: &str,
    nightly: bool,
) -> Result<Standing> {
    let missed_dates = if nightly {
        match store.last_completed(shard, Some(date)).await? {
            Some((last, _)) => dates_between(last, date),
            None => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let last_success =
        store
            .last_completed(shard, None)
            .await?
            .map(|(business_date, finished_at)| LastSuccess {
                business_date,
                finished_at,
            });
    Ok(Standing {
        missed_dates,
        last_success,
    })
}

/// The dates strictly between `after` and `before`, oldest first.
fn dates_between(after: NaiveDate, before: NaiveDate) -> Vec<NaiveDate> {
    after
        .iter_days()
        .skip(1)
        .take_while(|d| *d < before)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn the_dates_between_two_dates_exclude_both() {
        assert_eq!(
            dates_between(date("2026-02-27"), date("2026-03-02")),
            [date("2026-02-28"), date("2026-03-01")]
        );
        assert_eq!(dates_between(date("2026-03-01"), date("2026-03-02")), []);
        assert_eq!(dates_between(date("2026-03-05"), date("2026-03-02")), []);
    }
}
