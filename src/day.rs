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

/// What one check result covers: the rows of one business day, or a whole table (a check
/// without a date column). Written `YYYY-MM-DD` or `all`, in the store and every report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Partition {
    WholeTable,
    Day(NaiveDate),
}

impl Partition {
    /// How a whole table is written.
    pub const WHOLE_TABLE: &'static str = "all";

    /// The partition written as `text` (`all` or `YYYY-MM-DD`), as [`Partition`]'s `Display`
    /// writes it.
    pub fn parse(text: &str) -> Result<Partition> {
        if text == Partition::WHOLE_TABLE {
            return Ok(Partition::WholeTable);
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(Partition::Day)
            .map_err(|_| Error::internal(format!("{text:?} is no partition (`all` or a date)")))
    }

    /// The business date, for a day's partition.
    pub fn date(self) -> Option<NaiveDate> {
        match self {
            Partition::Day(date) => Some(date),
            Partition::WholeTable => None,
        }
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Partition::WholeTable => f.write_str(Partition::WHOLE_TABLE),
            Partition::Day(date) => write!(f, "{}", date.format("%Y-%m-%d")),
        }
    }
}

impl serde::Serialize for Partition {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Partition {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Partition::parse(&text).map_err(serde::de::Error::custom)
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
