//! The camt value types recon reads, checked as the ISO 20022 schemas define them: amounts, credit/debit codes, dates, booleans and entry statuses.
//!
//! - `ActiveOrHistoricCurrencyAndAmount`: a decimal (no sign, no grouping, `.` as separator)
//!   with a `Ccy` attribute; ISO 20022 requires the number of fraction digits to fit the
//!   currency's ISO 4217 minor unit, so `10.500 EUR` is refused, not rounded.
//! - `CreditDebitCode`: `CRDT` or `DBIT`.
//! - `ISODate` (`2026-12-01`) and `ISODateTime` (`2026-12-01T09:30:00+01:00`, or without
//!   offset): the date is the one written, in the bank's own offset.
//! - `TrueFalseIndicator` (xs:boolean): `true`, `false`, `1`, `0`.
//! - `EntryStatus2Code` (plain `Sts` up to .001.06, `Sts/Cd` from .001.07): `BOOK` is booked;
//!   `PDNG`, `INFO` and `FUTR` are announcements, not booked.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

use crate::bank::{Direction, EntryStatus};
use crate::money::{Currency, parse_major};

/// `text` in `ccy` as minor units, unsigned as the schema has it.
pub(super) fn amount(text: &str, ccy: Option<&str>) -> Result<(i64, Currency), String> {
    let ccy = ccy.ok_or_else(|| format!("amount `{text}` has no Ccy attribute"))?;
    let currency = Currency::parse(ccy).map_err(|e| e.to_string())?;
    let (integer, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(integer) || (text.contains('.') && !digits(fraction)) {
        return Err(format!(
            "amount `{text}` is not an unsigned decimal such as 1234.56"
        ));
    }
    if fraction.len() > usize::from(currency.exponent()) {
        return Err(format!(
            "amount `{text}` has more decimals than {} allows ({})",
            currency.code(),
            currency.exponent()
        ));
    }
    let minor = parse_major(text, currency, '.').map_err(|e| e.to_string())?;
    Ok((minor, currency))
}

/// The direction a `CdtDbtInd` names.
pub(super) fn direction(code: Option<&str>) -> Result<Direction, String> {
    match code {
        Some("CRDT") => Ok(Direction::Credit),
        Some("DBIT") => Ok(Direction::Debit),
        Some(other) => Err(format!("CdtDbtInd `{other}` is neither CRDT nor DBIT")),
        None => Err("no CdtDbtInd".to_owned()),
    }
}

/// `minor` signed by `direction`: a debit is negative.
pub(super) fn signed(minor: i64, direction: Direction) -> i64 {
    match direction {
        Direction::Credit => minor,
        Direction::Debit => -minor,
    }
}

/// A date as read from a `Dt` or `DtTm` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DateText {
    Date(String),
    DateTime(String),
}

impl DateText {
    pub(super) fn parse(&self) -> Result<NaiveDate, String> {
        match self {
            DateText::Date(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| format!("date `{text}` is not an ISODate (YYYY-MM-DD)")),
            DateText::DateTime(text) => DateTime::parse_from_rfc3339(text)
                .map(|at| at.date_naive())
                .or_else(|_| {
                    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|at| at.date())
                })
                .map_err(|_| format!("date-time `{text}` is not an ISODateTime")),
        }
    }
}

/// An `RvslInd`; absent is not a reversal.
pub(super) fn reversal(text: Option<&str>) -> Result<bool, String> {
    match text {
        None | Some("false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(format!("RvslInd `{other}` is not true or false")),
    }
}

/// An entry's `Sts` code.
pub(super) fn status(code: Option<&str>) -> Result<EntryStatus, String> {
    match code {
        Some("BOOK") => Ok(EntryStatus::Booked),
        Some("PDNG" | "INFO" | "FUTR") => Ok(EntryStatus::Pending),
        Some(other) => Err(format!(
            "entry status `{other}` is not BOOK, PDNG, INFO or FUTR"
        )),
        None => Err("no entry status (Sts)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(text: &str) -> Result<i64, String> {
        amount(text, Some("EUR")).map(|(minor, _)| minor)
    }

    #[test]
    fn amounts_are_exact_minor_units_of_the_currency() {
        assert_eq!(eur("1234.56"), Ok(123_456));
        assert_eq!(eur("7"), Ok(700));
        assert_eq!(eur("0.5"), Ok(50));
        assert_eq!(
            amount("1500", Some("JPY")),
            Ok((1500, Currency::parse("JPY").expect("JPY")))
        );
        assert_eq!(amount("1.234", Some("KWD")).map(|a| a.0), Ok(1234));
    }

    #[test]
    fn amounts_the_schema_refuses() {
        assert_eq!(
            eur("10.500"),
            Err("amount `10.500` has more decimals than EUR allows (2)".to_owned())
        );
        assert_eq!(
            amount("1.5", Some("JPY")).map(|a| a.0),
            Err("amount `1.5` has more decimals than JPY allows (0)".to_owned())
        );
        for bad in ["-1.00", "1,000.00", "1.", ".5", "", "1e3", " 1.00"] {
            assert!(eur(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            amount("1.00", None),
            Err("amount `1.00` has no Ccy attribute".to_owned())
        );
        assert_eq!(
            amount("1.00", Some("XYZ")),
            Err("unknown currency code `XYZ`".to_owned())
        );
    }

    #[test]
    fn dates_and_date_times() {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        assert_eq!(DateText::Date("2026-12-01".into()).parse(), Ok(day));
        assert_eq!(
            DateText::DateTime("2026-12-01T23:30:00-05:00".into()).parse(),
            Ok(day)
        );
        assert_eq!(
            DateText::DateTime("2026-12-01T08:00:00.123".into()).parse(),
            Ok(day)
        );
        assert!(DateText::Date("2026-13-01".into()).parse().is_err());
        assert!(DateText::Date("01.12.2026".into()).parse().is_err());
    }

    #[test]
    fn codes() {
        assert_eq!(direction(Some("DBIT")), Ok(Direction::Debit));
        assert!(direction(Some("dbit")).is_err());
        assert_eq!(reversal(Some("1")), Ok(true));
        assert_eq!(reversal(None), Ok(false));
        assert!(reversal(Some("yes")).is_err());
        assert_eq!(status(Some("PDNG")), Ok(EntryStatus::Pending));
        assert!(status(Some("BOOKED")).is_err());
    }
}
