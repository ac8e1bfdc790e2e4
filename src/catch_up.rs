//! What a nightly run says beside its own result: the business dates no run completed since the
//! last completed one, and when the newest business date last completed.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

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

/// The standing of a shard after a run for `date`, from the newest date it completed before
/// `date` and the newest it completed at all (each with when). Missed dates are looked for only by a
/// nightly run (no explicit date): those after the newest date completed before `date`, up to
/// the day before it. A store with no completed run yet has missed nothing.
pub fn standing(
    date: NaiveDate,
    nightly: bool,
    completed_before: Option<(NaiveDate, DateTime<Utc>)>,
    completed_last: Option<(NaiveDate, DateTime<Utc>)>,
) -> Standing {
    let missed_dates = match completed_before {
        Some((last, _)) if nightly => dates_between(last, date),
        _ => Vec::new(),
    };
    let last_success = completed_last.map(|(business_date, finished_at)| LastSuccess {
        business_date,
        finished_at,
    });
    Standing {
        missed_dates,
        last_success,
    }
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
