//! Business days of the bank: weekends and holidays on which no money is booked, so a payout's arrival window is counted in the days banks work.
//!
//! A [`BusinessCalendar`] deserializes from a TOML table such as
//!
//! ```toml
//! [bank.calendar]
//! weekend = ["Sat", "Sun"]              # the default
//! holidays = ["2026-12-25", "2026-12-26"]
//! ```
//!
//! Weekday names are chrono's (`Mon`…`Sun` or in full, any case). A calendar whose weekend
//! covers every day of the week is refused: no day would ever be a business day.

use std::collections::BTreeSet;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::Deserialize;

/// Which days are business days: every day but the weekend days and the holidays.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "CalendarTable")]
pub(crate) struct BusinessCalendar {
    weekend: BTreeSet<u32>,
    holidays: BTreeSet<NaiveDate>,
}

/// The calendar as configured, before it is checked.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct CalendarTable {
    weekend: Vec<Weekday>,
    holidays: Vec<NaiveDate>,
}

impl Default for CalendarTable {
    fn default() -> Self {
        CalendarTable {
            weekend: vec![Weekday::Sat, Weekday::Sun],
            holidays: Vec::new(),
        }
    }
}

impl TryFrom<CalendarTable> for BusinessCalendar {
    type Error = String;

    fn try_from(table: CalendarTable) -> Result<BusinessCalendar, String> {
        BusinessCalendar::new(&table.weekend, table.holidays)
    }
}

impl Default for BusinessCalendar {
    /// Saturday and Sunday off, no holidays.
    fn default() -> Self {
        BusinessCalendar {
            weekend: [Weekday::Sat, Weekday::Sun]
                .iter()
                .map(|d| d.num_days_from_monday())
                .collect(),
            holidays: BTreeSet::new(),
        }
    }
}

impl BusinessCalendar {
    /// `Err` when `weekend` names all seven days.
    pub(crate) fn new(
        weekend: &[Weekday],
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<BusinessCalendar, String> {
        let weekend: BTreeSet<u32> = weekend.iter().map(|d| d.num_days_from_monday()).collect();
        if weekend.len() >= 7 {
            return Err("weekend: every day of the week is a weekend day, so no day would ever be a business day".to_owned());
        }
        Ok(BusinessCalendar {
            weekend,
            holidays: holidays.into_iter().collect(),
        })
    }

    /// `weekend Sat, Sun; 2 holiday(s)`, for `config check`.
    pub(crate) fn describe(&self) -> String {
        let weekend: Vec<String> = self
            .weekend
            .iter()
            .filter_map(|&n| Weekday::try_from(u8::try_from(n).ok()?).ok())
            .map(|d| format!("{d}"))
            .collect();
        format!(
            "weekend {}; {} holiday(s)",
            weekend.join(", "),
            self.holidays.len()
        )
    }

    /// Not a weekend day and not a holiday.
    pub(crate) fn is_business_day(&self, date: NaiveDate) -> bool {
        !self.is_weekend(date) && !self.holidays.contains(&date)
    }

    fn is_weekend(&self, date: NaiveDate) -> bool {
        self.weekend
            .contains(&date.weekday().num_days_from_monday())
    }

    /// The `n`-th business day after `date` (`date` itself is not counted; `n = 0` gives
    /// `date`). Saturates at the last date chrono knows. Work: one step per calendar day
    /// passed, at most `n` weeks' worth of days plus the holidays met.
    pub(crate) fn add_business_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut day = date;
        let mut left = n;
        while left > 0 {
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => return day,
            }
            if self.is_business_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// How many business days lie after `from` up to and including `to`: 0 for the same day,
    /// 1 from a Friday to the next Monday (no holiday between), negative when `to` is earlier.
    /// Counted by whole weeks, the days left over and the holidays in the span: no walk day
    /// by day. The tests' oracle for [`BusinessCalendar::add_business_days`].
    #[cfg(test)]
    pub(crate) fn business_days_between(&self, from: NaiveDate, to: NaiveDate) -> i64 {
        if to < from {
            return -self.business_days_between(to, from);
        }
        let span = (to - from).num_days();
        let workdays_a_week = 7 - self.weekend.len() as i64;
        let mut count = span / 7 * workdays_a_week;
        // The last `span % 7` days of the span, each checked for the weekend.
        let rest = span % 7;
        for back in 0..rest {
            if let Some(day) = to.checked_sub_days(Days::new(back as u64))
                && !self.is_weekend(day)
            {
                count += 1;
            }
        }
        let holidays_on_workdays = self
            .holidays
            .range((
                std::ops::Bound::Excluded(from),
                std::ops::Bound::Included(to),
            ))
            .filter(|day| !self.is_weekend(**day))
            .count() as i64;
        count - holidays_on_workdays
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).expect("date")
    }

    /// Christmas 2026 is a Friday and Boxing Day a Saturday: from Thursday 24 December the next
    /// business day is Monday 28 December.
    fn christmas() -> BusinessCalendar {
        BusinessCalendar::new(&[Weekday::Sat, Weekday::Sun], [d(12, 25), d(12, 26)])
            .expect("calendar")
    }

    #[test]
    fn business_days_around_a_weekend_and_a_holiday() {
        let cal = christmas();
        assert!(cal.is_business_day(d(12, 24)));
        assert!(!cal.is_business_day(d(12, 25)), "holiday");
        assert!(!cal.is_business_day(d(12, 26)), "Saturday and holiday");
        assert!(!cal.is_business_day(d(12, 27)), "Sunday");
        assert!(cal.is_business_day(d(12, 28)));

        assert_eq!(cal.add_business_days(d(12, 24), 0), d(12, 24));
        assert_eq!(cal.add_business_days(d(12, 24), 1), d(12, 28));
        assert_eq!(cal.add_business_days(d(12, 24), 2), d(12, 29));
        // from a day off, the first business day after it
        assert_eq!(cal.add_business_days(d(12, 26), 1), d(12, 28));
        assert_eq!(cal.add_business_days(d(12, 23), 5), d(12, 31));

        assert_eq!(cal.business_days_between(d(12, 24), d(12, 24)), 0);
        assert_eq!(cal.business_days_between(d(12, 24), d(12, 27)), 0);
        assert_eq!(cal.business_days_between(d(12, 24), d(12, 28)), 1);
        assert_eq!(cal.business_days_between(d(12, 28), d(12, 24)), -1);
        // 1 December (Tuesday) to 31 December (Thursday): 22 weekdays after the 1st, less
        // Christmas (Boxing Day falls on a Saturday and is not counted twice)
        assert_eq!(cal.business_days_between(d(12, 1), d(12, 31)), 21);
        // the same spans without holidays
        let plain = BusinessCalendar::default();
        assert_eq!(plain.business_days_between(d(12, 24), d(12, 28)), 2);
        assert_eq!(plain.business_days_between(d(12, 1), d(12, 31)), 22);
        assert_eq!(plain.add_business_days(d(12, 24), 1), d(12, 25));
    }

    /// Counting by weeks agrees with walking day by day, over every pair of a few months.
    #[test]
    fn counting_agrees_with_adding() {
        let cal = christmas();
        let start = d(11, 1);
        for from_offset in 0..70u64 {
            let from = start + Days::new(from_offset);
            for n in 0..30u32 {
                let to = cal.add_business_days(from, n);
                assert_eq!(
                    cal.business_days_between(from, to),
                    i64::from(n),
                    "{from} + {n}"
                );
            }
        }
    }

    #[test]
    fn configured_from_toml_and_checked() {
        let cal: BusinessCalendar =
            toml::from_str("weekend = [\"Fri\", \"saturday\"]\nholidays = [\"2026-12-25\"]")
                .expect("calendar");
        assert!(cal.is_business_day(d(12, 27)), "Sunday works here");
        assert!(!cal.is_business_day(d(12, 26)));
        assert!(cal.is_business_day(d(12, 24)), "Thursday");
        let default: BusinessCalendar = toml::from_str("").expect("default");
        assert_eq!(default, BusinessCalendar::default());
        let all = "weekend = [\"Mon\",\"Tue\",\"Wed\",\"Thu\",\"Fri\",\"Sat\",\"Sun\"]";
        let err = toml::from_str::<BusinessCalendar>(all).expect_err("no business day");
        assert!(
            err.to_string()
                .contains("no day would ever be a business day"),
            "{err}"
        );
        assert!(toml::from_str::<BusinessCalendar>("holidays = [\"25/12/2026\"]").is_err());
        assert!(toml::from_str::<BusinessCalendar>("holiday = []").is_err());
    }
}
