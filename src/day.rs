//! The business day: the calendar date a run is for, and the instants it spans in the job's zone.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

/// The rows of one business day: a date, and the instants it spans in the job's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusinessDay {
    pub(crate) date: NaiveDate,
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
}

impl BusinessDay {
    pub(crate) fn new(date: NaiveDate, tz: Tz) -> Result<BusinessDay> {
        let start = day_start(date, tz)?;
        let next = date
            .succ_opt()
            .ok_or_else(|| Error::bad_input(format!("{date} is out of range")))?;
        Ok(BusinessDay {
            date,
            start,
            end: day_start(next, tz)?,
        })
    }
}

fn day_start(date: NaiveDate, tz: Tz) -> Result<DateTime<Utc>> {
    use chrono::TimeZone;
    // The first instant of the day; where midnight falls in a DST gap, the earliest valid time.
    (0..=180)
        .find_map(|minutes| {
            let t = date.and_time(chrono::NaiveTime::MIN) + chrono::Duration::minutes(minutes);
            tz.from_local_datetime(&t).earliest()
        })
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Error::bad_input(format!("{date} has no start in {}", tz.name())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_business_day_spans_the_local_day_in_utc() {
        let day = BusinessDay::new(
            NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
            chrono_tz::Europe::Amsterdam,
        )
        .unwrap();
        assert_eq!(day.start.to_rfc3339(), "2026-11-19T23:00:00+00:00");
        assert_eq!(day.end.to_rfc3339(), "2026-11-20T23:00:00+00:00");
        // The day clocks go back lasts 25 hours.
        let fall = BusinessDay::new(
            NaiveDate::from_ymd_opt(2026, 10, 25).unwrap(),
            chrono_tz::Europe::Amsterdam,
        )
        .unwrap();
        assert_eq!((fall.end - fall.start).num_hours(), 25);
    }
}
