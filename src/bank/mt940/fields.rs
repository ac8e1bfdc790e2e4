//! The contents of the MT940/MT942 fields recon reads, each as SWIFT's MT 940/942 field specifications lay it out: balances (`:60a:`/`:62a:`), the statement line (`:61:`), information to the account owner (`:86:`, free or structured with `?NN` subfields), the MT942 floor limit and sums (`:34F:`, `:90D:`/`:90C:`).

use chrono::{Datelike, NaiveDate};

use crate::bank::dates::yymmdd;
use crate::money::{Currency, parse_major_grouped};

/// A booked balance, `1!a6!n3!a15d`: D/C mark, date YYMMDD, currency, amount (signed here: a
/// debit balance is negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Balance {
    pub(super) amount_minor: i64,
    pub(super) date: NaiveDate,
    pub(super) currency: Currency,
}

pub(super) fn balance(text: &str) -> Result<Balance, String> {
    let text = text.trim();
    let negative = match text.get(..1) {
        Some("C") => false,
        Some("D") => true,
        _ => return Err(format!("`{text}` does not start with the D/C mark C or D")),
    };
    let date = text
        .get(1..7)
        .and_then(yymmdd)
        .ok_or_else(|| format!("`{text}` has no date YYMMDD after its D/C mark"))?;
    let currency = text
        .get(7..10)
        .and_then(|code| Currency::parse(code).ok())
        .ok_or_else(|| format!("`{text}` has no known ISO 4217 currency after its date"))?;
    let magnitude = amount(text.get(10..).unwrap_or_default(), currency)?;
    Ok(Balance {
        amount_minor: if negative { -magnitude } else { magnitude },
        date,
        currency,
    })
}

/// An amount, `15d`: digits with a mandatory decimal comma, at least one digit before it and
/// no more after it than the currency's exponent (`1234,` `1234,5` `0,01`). Never signed: the
/// D/C mark beside it gives the sign.
pub(super) fn amount(text: &str, currency: Currency) -> Result<i64, String> {
    let well_formed = text.len() <= 15
        && text.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && text.bytes().filter(|&b| b == b',').count() == 1
        && text.bytes().all(|b| b.is_ascii_digit() || b == b',');
    if !well_formed {
        return Err(format!(
            "amount `{text}` is not digits with one decimal comma (15 characters at most)"
        ));
    }
    let exact = text.strip_suffix(',').unwrap_or(text);
    parse_major_grouped(exact, currency, ',', None).map_err(|e| format!("amount {e}"))
}

/// The `:61:` debit/credit mark, `2a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mark {
    Credit,
    Debit,
    /// `RC`: a credit taken back, a debit entry.
    ReversalOfCredit,
    /// `RD`: a debit taken back, a credit entry.
    ReversalOfDebit,
    /// `EC` (MT942): a credit announced, not booked.
    ExpectedCredit,
    /// `ED` (MT942): a debit announced, not booked.
    ExpectedDebit,
}

impl Mark {
    pub(super) fn is_credit(self) -> bool {
        matches!(
            self,
            Mark::Credit | Mark::ReversalOfDebit | Mark::ExpectedCredit
        )
    }
}

/// One `:61:` statement line, `6!n[4!n]2a[1!a]15d1!a3!c16x[//16x]` and a second line `[34x]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StatementLine {
    pub(super) value_date: NaiveDate,
    /// The entry date (MMDD) in the year that puts it nearest the value date, so a December
    /// value date booked on 2 January is booked in the next year; the value date without one.
    pub(super) booking_date: NaiveDate,
    pub(super) mark: Mark,
    /// Minor units, never negative: the mark gives the sign.
    pub(super) magnitude_minor: i64,
    /// Transaction type identification code: `S` + message type, or `N`/`F` + a code (`NTRF`).
    pub(super) type_code: String,
    /// Reference for the account owner; `NONREF` (SWIFT's "no reference") is none.
    pub(super) customer_ref: Option<String>,
    /// Account servicing institution's reference, after `//`.
    pub(super) bank_ref: Option<String>,
    pub(super) supplementary: Option<String>,
}

pub(super) fn statement_line(text: &str, currency: Currency) -> Result<StatementLine, String> {
    let (first, supplementary) = match text.split_once('\n') {
        Some((first, more)) => (first.trim_end(), non_empty(&more.replace('\n', " "))),
        None => (text.trim_end(), None),
    };
    let value_date = first
        .get(..6)
        .and_then(yymmdd)
        .ok_or("does not start with a value date YYMMDD")?;
    let mut rest = first.get(6..).unwrap_or_default();
    let mut booking_date = value_date;
    if let Some(mmdd) = rest
        .get(..4)
        .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
    {
        booking_date = entry_date(mmdd, value_date)
            .ok_or_else(|| format!("entry date `{mmdd}` is not a date MMDD"))?;
        rest = rest.get(4..).unwrap_or_default();
    }
    let marks = [
        ("RC", Mark::ReversalOfCredit),
        ("RD", Mark::ReversalOfDebit),
        ("EC", Mark::ExpectedCredit),
        ("ED", Mark::ExpectedDebit),
        ("C", Mark::Credit),
        ("D", Mark::Debit),
    ];
    let (mark, after_mark) = marks
        .iter()
        .find_map(|(code, mark)| rest.strip_prefix(code).map(|after| (*mark, after)))
        .ok_or("has no debit/credit mark C, D, RC, RD, EC or ED after its dates")?;
    rest = after_mark;
    if let Some(funds) = rest.chars().next().filter(char::is_ascii_alphabetic) {
        let third = currency.code().chars().nth(2);
        if Some(funds) != third {
            return Err(format!(
                "funds code `{funds}` is not the third letter of the statement's currency {}",
                currency.code()
            ));
        }
        rest = rest.get(1..).unwrap_or_default();
    }
    let amount_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b',')
        .count();
    let magnitude_minor = amount(rest.get(..amount_len).unwrap_or_default(), currency)?;
    rest = rest.get(amount_len..).unwrap_or_default();
    let type_code = rest
        .get(..4)
        .filter(|code| {
            code.starts_with(['S', 'N', 'F']) && code.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .ok_or("has no transaction type (S, N or F and three characters) after its amount")?;
    rest = rest.get(4..).unwrap_or_default();
    let (customer, bank) = match rest.split_once("//") {
        Some((customer, bank)) => (customer, non_empty(bank)),
        None => (rest, None),
    };
    let customer_ref = non_empty(customer).filter(|r| r != "NONREF");
    if customer.trim().is_empty() {
        return Err("has no reference for the account owner after its transaction type".into());
    }
    Ok(StatementLine {
        value_date,
        booking_date,
        mark,
        magnitude_minor,
        type_code: type_code.to_owned(),
        customer_ref,
        bank_ref: bank,
        supplementary,
    })
}

/// The date `mmdd` in the year (of the value date's, the one before or after) nearest the value date.
fn entry_date(mmdd: &str, value_date: NaiveDate) -> Option<NaiveDate> {
    let month: u32 = mmdd.get(..2)?.parse().ok()?;
    let day: u32 = mmdd.get(2..4)?.parse().ok()?;
    [
        value_date.year() - 1,
        value_date.year(),
        value_date.year() + 1,
    ]
    .into_iter()
    .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
    .min_by_key(|date| (*date - value_date).num_days().abs())
}

/// What recon keeps of a `:86:` field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Information {
    pub(super) end_to_end_id: Option<String>,
    /// `KREF+` of a structured field: the customer's reference.
    pub(super) customer_ref: Option<String>,
    pub(super) remittance: Option<String>,
}

/// The SEPA identifiers the German banks' DFÜ agreement (Anlage 3, MT940) puts in the `?2x`
/// remittance subfields, each followed by its value.
const SEPA_KEYS: [&str; 14] = [
    "EREF+", "KREF+", "MREF+", "CRED+", "DEBT+", "SVWZ+", "ABWA+", "ABWE+", "IBAN+", "BIC+",
    "COAM+", "OAMT+", "PURP+", "SQTP+",
];

/// A `:86:` field: structured (a three-digit business transaction code, then `?NN` subfields:
/// `?00` posting text, `?20`–`?29` and `?60`–`?63` remittance, `?30`–`?33` the other party)
/// or free text. Structured remittance subfields are joined as written (they cut text at 27
/// characters, words included), then read for SEPA identifiers: `EREF+` the end-to-end id
/// (`NOTPROVIDED` is none), `KREF+` the customer reference, `SVWZ+` the remittance. Free text
/// keeps its lines joined by a space.
pub(super) fn information(text: &str) -> Information {
    let structured = text.len() > 4
        && text.bytes().take(3).all(|b| b.is_ascii_digit())
        && text.get(3..4) == Some("?");
    if !structured {
        return Information {
            remittance: non_empty(
                &text
                    .split('\n')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            ..Information::default()
        };
    }
    let flat: String = text.get(3..).unwrap_or_default().replace('\n', "");
    let mut remittance = String::new();
    for piece in flat.split('?').skip(1) {
        let (key, value) = (
            piece.get(..2).unwrap_or_default(),
            piece.get(2..).unwrap_or_default(),
        );
        if matches!(key.parse::<u8>(), Ok(20..=29 | 60..=63)) {
            remittance.push_str(value);
        }
    }
    let keyed = sepa_values(&remittance);
    if keyed.is_empty() {
        return Information {
            remittance: non_empty(&remittance),
            ..Information::default()
        };
    }
    let value = |key: &str| {
        keyed
            .iter()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| non_empty(v))
    };
    Information {
        end_to_end_id: value("EREF+").filter(|id| id != "NOTPROVIDED"),
        customer_ref: value("KREF+").filter(|id| id != "NOTPROVIDED"),
        remittance: value("SVWZ+"),
    }
}

/// `(identifier, value)` for each SEPA identifier in `text`, in order; text before the first
/// identifier is kept under `SVWZ+` when there is no `SVWZ+`. One pass over the text (no
/// identifier is the start of another), so a field of many identifiers stays linear.
pub(super) fn sepa_values(text: &str) -> Vec<(&'static str, String)> {
    let bytes = text.as_bytes();
    let mut starts: Vec<(usize, &'static str)> = Vec::new();
    let mut at = 0;
    while let Some(rest) = bytes.get(at..).filter(|rest| !rest.is_empty()) {
        match SEPA_KEYS
            .iter()
            .find(|key| rest.starts_with(key.as_bytes()))
        {
            Some(key) => {
                starts.push((at, *key));
                at += key.len();
            }
            None => at += 1,
        }
    }
    let mut values: Vec<(&'static str, String)> = starts
        .iter()
        .enumerate()
        .map(|(i, (at, key))| {
            let end = starts.get(i + 1).map_or(text.len(), |(next, _)| *next);
            let value = text.get(at + key.len()..end).unwrap_or_default();
            (*key, value.trim().to_owned())
        })
        .collect();
    let before = starts
        .first()
        .and_then(|(at, _)| text.get(..*at))
        .unwrap_or_default()
        .trim();
    if !before.is_empty() && !values.iter().any(|(k, _)| *k == "SVWZ+") {
        values.push(("SVWZ+", before.to_owned()));
    }
    values
}

/// The MT942 number and sum of debit (`:90D:`) or credit (`:90C:`) entries, `5n3!a15d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Sums {
    pub(super) count: u64,
    pub(super) currency: Currency,
    pub(super) sum_minor: i64,
}

pub(super) fn sums(text: &str) -> Result<Sums, String> {
    let text = text.trim();
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let count = text
        .get(..digits)
        .filter(|d| (1..=5).contains(&d.len()))
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| format!("`{text}` does not start with a number of entries"))?;
    let currency = text
        .get(digits..digits + 3)
        .and_then(|code| Currency::parse(code).ok())
        .ok_or_else(|| format!("`{text}` has no known currency after its number of entries"))?;
    let sum_minor = amount(text.get(digits + 3..).unwrap_or_default(), currency)?;
    Ok(Sums {
        count,
        currency,
        sum_minor,
    })
}

/// The currency of an MT942 floor limit, `3!a[1!a]15d`.
pub(super) fn floor_limit_currency(text: &str) -> Option<Currency> {
    Currency::parse(text.trim().get(..3)?).ok()
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}
