//! Dates as the text bank formats write them (MT940's and BAI2's YYMMDD), read one way for both.

use chrono::NaiveDate;

/// A date YYMMDD, years 00–79 read as 2000–2079 and 80–99 as 1980–1999.
pub(crate) fn yymmdd(text: &str) -> Option<NaiveDate> {
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let yy: i32 = text.get(..2)?.parse().ok()?;
    let month: u32 = text.get(2..4)?.parse().ok()?;
    let day: u32 = text.get(4..6)?.parse().ok()?;
    let year = if yy < 80 { 2000 + yy } else { 1900 + yy };
    NaiveDate::from_ymd_opt(year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yymmdd_in_its_century() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(yymmdd("261231"), date(2026, 12, 31));
        assert_eq!(yymmdd("791231"), date(2079, 12, 31));
        assert_eq!(yymmdd("800101"), date(1980, 1, 1));
        assert_eq!(yymmdd("260230"), None);
        assert_eq!(yymmdd("26123"), None);
        assert_eq!(yymmdd("2612310"), None);
        assert_eq!(yymmdd("26-231"), None);
    }
}
