//! Time zones and timestamps as settlement reports write them: what the formats and the row reader share to turn a field's text into a UTC instant.

use chrono::offset::LocalResult;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::source::text::plain_datetime;

/// A time zone for timestamps written without an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    Fixed(FixedOffset),
    Named(Tz),
}

/// Common zone abbreviations as the fixed offsets they denote: reports write `CET` in winter and
/// `CEST` in summer, so an abbreviation is an offset, not a rule. `CST` is US Central.
const ABBREVIATIONS: &[(&str, i32)] = &[
    ("ACDT", 37_800),
    ("ACST", 34_200),
    ("AEDT", 39_600),
    ("AEST", 36_000),
    ("AKDT", -28_800),
    ("AKST", -32_400),
    ("AWST", 28_800),
    ("BST", 3_600),
    ("CDT", -18_000),
    ("CEST", 7_200),
    ("CET", 3_600),
    ("CST", -21_600),
    ("EDT", -14_400),
    ("EEST", 10_800),
    ("EET", 7_200),
    ("EST", -18_000),
    ("GMT", 0),
    ("HKT", 28_800),
    ("HST", -36_000),
    ("JST", 32_400),
    ("KST", 32_400),
    ("MDT", -21_600),
    ("MSK", 10_800),
    ("MST", -25_200),
    ("NZDT", 46_800),
    ("NZST", 43_200),
    ("PDT", -25_200),
    ("PST", -28_800),
    ("SGT", 28_800),
    ("UT", 0),
    ("UTC", 0),
    ("WEST", 3_600),
    ("WET", 0),
    ("Z", 0),
];

impl Zone {
    pub(crate) const UTC: Zone = match FixedOffset::east_opt(0) {
        Some(utc) => Zone::Fixed(utc),
        None => Zone::Named(Tz::UTC),
    };

    /// Reads an IANA name (`Europe/Amsterdam`), an abbreviation (`CET`, `PDT`, `UTC`) or an
    /// offset (`+01:00`, `-0530`, `UTC+1`, `GMT-03:00`).
    pub(crate) fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        if name.is_empty() {
            return None;
        }
        let upper = name.to_ascii_uppercase();
        if let Some((_, seconds)) = ABBREVIATIONS.iter().find(|(abbr, _)| *abbr == upper) {
            return FixedOffset::east_opt(*seconds).map(Zone::Fixed);
        }
        let offset = upper
            .strip_prefix("UTC")
            .or_else(|| upper.strip_prefix("GMT"))
            .unwrap_or(&upper);
        if let Some(fixed) = parse_offset(offset) {
            return Some(Zone::Fixed(fixed));
        }
        name.parse::<Tz>().ok().map(Zone::Named)
    }

    fn to_utc(self, local: NaiveDateTime) -> Result<DateTime<Utc>, String> {
        let resolved = match self {
            Zone::Fixed(offset) => offset.from_local_datetime(&local).map(|t| t.to_utc()),
            Zone::Named(tz) => tz.from_local_datetime(&local).map(|t| t.to_utc()),
        };
        match resolved {
            LocalResult::Single(utc) => Ok(utc),
            // the repeated hour when clocks go back: take the first occurrence
            LocalResult::Ambiguous(earliest, _) => Ok(earliest),
            LocalResult::None => Err(format!(
                "{local} does not exist in {} (skipped by a clock change)",
                self.name()
            )),
        }
    }

    fn name(self) -> String {
        match self {
            Zone::Fixed(offset) => offset.to_string(),
            Zone::Named(tz) => tz.name().to_owned(),
        }
    }
}

/// `+01:00`, `-0530`, `+1`, `-03`: a sign, 1–2 hour digits and optional minutes.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if !rest.is_ascii() {
        return None;
    }
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() > 2 => rest.split_at(rest.len() - 2),
        None => (rest, "00"),
    };
    let digits = |s: &str, max_len| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
    };
    let (hours, minutes) = (digits(hours, 2)?, digits(minutes, 2)?);
    if hours > 18 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

const NAIVE_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
];

/// Reads an ISO-like timestamp: `2024-03-01 12:34:56` (optional `T`, fraction, seconds), or a
/// date `2024-03-01` (midnight), in `zone`; an explicit offset (`+01:00`, `Z`, ` UTC`, `+0100`)
/// in the text wins over the zone.
pub(crate) fn parse_timestamp(text: &str, zone: &Zone) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    // Most reports write `YYYY-MM-DD HH:MM:SS[.f]` (or with `T` and `Z`): read it without
    // trying every format in turn. Anything else, or an invalid date, takes the general path below.
    if let Some(local) = plain_datetime(text) {
        return zone.to_utc(local);
    }
    if let Some(local) = text.strip_suffix('Z').and_then(plain_datetime) {
        return Zone::UTC.to_utc(local);
    }
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Ok(with_offset.to_utc());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(with_offset) = DateTime::parse_from_str(text, format) {
            return Ok(with_offset.to_utc());
        }
    }
    let (text, zone) = match text.strip_suffix(" UTC").or_else(|| text.strip_suffix('Z')) {
        Some(rest) => (rest.trim_end(), &Zone::UTC),
        None => (text, zone),
    };
    for format in NAIVE_FORMATS {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return zone.to_utc(local);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return zone.to_utc(date.and_time(chrono::NaiveTime::MIN));
    }
    Err("expected YYYY-MM-DD HH:MM:SS".to_owned())
}

/// Reads a month-first US timestamp as Braintree's Control Panel exports write them
/// (`03/01/2024 09:15:02`, `03/01/2024 09:15`, or a date `03/01/2024` at midnight) in `zone`;
/// anything else is read by [`parse_timestamp`] (ISO dates, as the API writes them).
pub(crate) fn parse_month_first(text: &str, zone: &Zone) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if !text.contains('/') {
        return parse_timestamp(text, zone)
            .map_err(|_| "expected MM/DD/YYYY HH:MM:SS or YYYY-MM-DD HH:MM:SS".to_owned());
    }
    for format in ["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format) {
            return zone.to_utc(local);
        }
    }
    match NaiveDate::parse_from_str(text, "%m/%d/%Y") {
        Ok(date) => zone.to_utc(date.and_time(chrono::NaiveTime::MIN)),
        Err(_) => Err("expected MM/DD/YYYY HH:MM:SS".to_owned()),
    }
}

/// Reads a timestamp with a strftime `format`: with an offset if the format has one (`%z`), else
/// a date-time in `zone`, else a date at midnight in `zone`.
pub(crate) fn parse_timestamp_with(
    text: &str,
    format: &str,
    zone: &Zone,
) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(with_offset) = DateTime::parse_from_str(text, format) {
        return Ok(with_offset.to_utc());
    }
    match NaiveDateTime::parse_from_str(text, format) {
        Ok(local) => zone.to_utc(local),
        Err(first) => match NaiveDate::parse_from_str(text, format) {
            Ok(date) => zone.to_utc(date.and_time(chrono::NaiveTime::MIN)),
            Err(_) => Err(format!("expected format `{format}`: {first}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::utc;
    use super::*;

    #[test]
    fn zones() {
        let fixed = |s| Zone::Fixed(FixedOffset::east_opt(s).unwrap());
        assert_eq!(Zone::parse("UTC"), Some(Zone::UTC));
        assert_eq!(Zone::parse("cet"), Some(fixed(3600)));
        assert_eq!(Zone::parse("CEST"), Some(fixed(7200)));
        assert_eq!(Zone::parse("PST"), Some(fixed(-8 * 3600)));
        assert_eq!(Zone::parse("+05:30"), Some(fixed(5 * 3600 + 1800)));
        assert_eq!(Zone::parse("-0300"), Some(fixed(-3 * 3600)));
        assert_eq!(Zone::parse("UTC+1"), Some(fixed(3600)));
        assert_eq!(Zone::parse("GMT-03:00"), Some(fixed(-3 * 3600)));
        assert_eq!(
            Zone::parse("Europe/Amsterdam"),
            Some(Zone::Named(chrono_tz::Europe::Amsterdam))
        );
        for bad in [
            "",
            "Mars/Olympus",
            "+25:00",
            "+1:75",
            "UTC+",
            "CETX",
            "+é1",
            "-1é",
        ] {
            assert_eq!(Zone::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        let ams = Zone::parse("Europe/Amsterdam").unwrap();
        let ok = |text, zone: &Zone| parse_timestamp(text, zone).expect(text);
        assert_eq!(
            ok("2024-03-01 12:34:56", &Zone::UTC),
            utc("2024-03-01T12:34:56Z")
        );
        assert_eq!(
            ok("2024-03-01T12:34:56.250", &Zone::UTC),
            utc("2024-03-01T12:34:56.25Z")
        );
        assert_eq!(ok("2024-03-01 12:34", &ams), utc("2024-03-01T11:34:00Z"));
        assert_eq!(ok("2024-07-01 12:00:00", &ams), utc("2024-07-01T10:00:00Z"));
        assert_eq!(ok("2024-07-01", &ams), utc("2024-06-30T22:00:00Z"));
        assert_eq!(
            ok("2024-07-01 12:00:00+01:00", &ams),
            utc("2024-07-01T11:00:00Z")
        );
        assert_eq!(
            ok("2024-07-01T12:00:00Z", &ams),
            utc("2024-07-01T12:00:00Z")
        );
        assert_eq!(
            ok("2024-07-01 12:00:00 UTC", &ams),
            utc("2024-07-01T12:00:00Z")
        );
        assert_eq!(
            ok("2024-07-01 12:00:00 -0500", &ams),
            utc("2024-07-01T17:00:00Z")
        );
        // the repeated hour takes its first occurrence (still summer time)
        assert_eq!(ok("2024-10-27 02:30:00", &ams), utc("2024-10-27T00:30:00Z"));
        assert_eq!(
            parse_timestamp("2024-03-31 02:30:00", &ams),
            Err("2024-03-31 02:30:00 does not exist in Europe/Amsterdam (skipped by a clock change)".into())
        );
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "01/03/2024",
            "2024-02-30 10:00:00",
            "1709296496",
        ] {
            assert!(parse_timestamp(bad, &Zone::UTC).is_err(), "{bad}");
        }
    }

    #[test]
    fn month_first_timestamps() {
        let cst = Zone::parse("CST").expect("zone");
        let chicago = Zone::parse("America/Chicago").expect("zone");
        assert_eq!(
            parse_month_first("03/01/2024 09:15:02", &cst),
            Ok(utc("2024-03-01T15:15:02Z"))
        );
        assert_eq!(
            parse_month_first("07/04/2024 18:00", &chicago),
            Ok(utc("2024-07-04T23:00:00Z"))
        );
        assert_eq!(
            parse_month_first("03/02/2024", &cst),
            Ok(utc("2024-03-02T06:00:00Z"))
        );
        assert_eq!(
            parse_month_first("2024-03-01 09:15:02", &Zone::UTC),
            Ok(utc("2024-03-01T09:15:02Z"))
        );
        assert_eq!(
            parse_month_first("13/01/2024 10:00:00", &cst),
            Err("expected MM/DD/YYYY HH:MM:SS".into())
        );
        assert_eq!(
            parse_month_first("yesterday", &cst),
            Err("expected MM/DD/YYYY HH:MM:SS or YYYY-MM-DD HH:MM:SS".into())
        );
        assert_eq!(
            parse_month_first("03/10/2024 02:30:00", &chicago),
            Err(
                "2024-03-10 02:30:00 does not exist in America/Chicago (skipped by a clock change)"
                    .into()
            )
        );
    }

    #[test]
    fn timestamps_with_format() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            parse_timestamp_with("01.03.2024 13:00", "%d.%m.%Y %H:%M", &berlin),
            Ok(utc("2024-03-01T12:00:00Z"))
        );
        assert_eq!(
            parse_timestamp_with("01.03.2024", "%d.%m.%Y", &berlin),
            Ok(utc("2024-02-29T23:00:00Z"))
        );
        assert_eq!(
            parse_timestamp_with("01/03/2024 13:00 +0000", "%d/%m/%Y %H:%M %z", &berlin),
            Ok(utc("2024-03-01T13:00:00Z"))
        );
        assert!(parse_timestamp_with("2024-03-01", "%d.%m.%Y", &berlin).is_err());
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_one_and_refuses_what_is_not_a_time() {
        let berlin = Zone::parse("Europe/Berlin").expect("zone");
        let utc = |t: &str| DateTime::parse_from_rfc3339(t).expect("rfc3339").to_utc();
        assert_eq!(
            parse_timestamp("2026-11-20 10:00:00", &berlin),
            Ok(utc("2026-11-20T09:00:00Z"))
        );
        assert_eq!(
            parse_timestamp("2026-11-20T10:00:00Z", &berlin),
            Ok(utc("2026-11-20T10:00:00Z"))
        );
        for not_plain in [
            "2026-02-30 10:00:00",
            "2026-11-20 24:00:00",
            "2026-11-2O 10:00:00",
            "+026-11-20 10:00:00",
        ] {
            assert_eq!(plain_datetime(not_plain), None, "{not_plain}");
        }
        assert!(parse_timestamp("2026-02-30 10:00:00", &berlin).is_err());
    }
}
