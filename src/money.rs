//! Money as integer minor units with an ISO 4217 currency, so that no amount ever passes through a float.
//!
//! Amounts are `i64` counts of a currency's minor unit (cents for USD, yen for JPY, fils for
//! KWD). Text in major units is converted exactly by [`parse_major`] and back by
//! [`format_major`]; arithmetic on [`Money`] is checked and reports overflow as an error.

use std::fmt;
use std::str::FromStr;

/// Active ISO 4217 alphabetic codes with their minor-unit exponent, sorted by code.
///
/// Codes whose minor unit ISO lists as "N.A." (precious metals, XDR, test codes) are left out:
/// they cannot be settled as minor units. ANG and BGN are kept while reports still carry them
/// after their replacement by XCG and EUR.
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// Largest magnitude an `i64` can hold when negative (2^63); positive values stop one below.
const MAGNITUDE_LIMIT: i128 = 1 << 63;

/// Why an amount or a currency could not be read or computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("empty amount")]
    Empty,
    #[error("`{text}` is not a decimal number")]
    Malformed { text: String },
    #[error("`{text}` has an ambiguous or misplaced thousands separator")]
    BadGrouping { text: String },
    #[error("`{text}` has more decimal places than {currency} allows ({exponent})")]
    TooPrecise {
        text: String,
        currency: Currency,
        exponent: u8,
    },
    #[error("`{text}` does not fit in 64-bit minor units")]
    OutOfRange { text: String },
    #[error("overflow computing {operation}")]
    Overflow { operation: String },
    #[error("unknown currency code `{code}`")]
    UnknownCurrency { code: String },
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("decimal separator must be '.' or ',', not {0:?}")]
    UnsupportedSeparator(char),
}

/// An ISO 4217 currency known to the table above, with its minor-unit exponent.
///
/// Held as its place in the table (one byte, and a report holds one per line); the table is
/// sorted by code, so currencies order by code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    index: u8,
}

/// A three-letter code's place among the 26³ codes (any case), `None` for anything else.
fn code_slot(code: [u8; 3]) -> Option<usize> {
    code.iter().try_fold(0usize, |slot, &byte| {
        let letter = byte.to_ascii_uppercase();
        letter
            .is_ascii_uppercase()
            .then(|| slot * 26 + usize::from(letter - b'A'))
    })
}

/// Every code's currency index by its [`code_slot`] (`u8::MAX`: no such currency): a
/// report's or a ledger's every line names one, so the lookup is one load, not a search.
fn by_code() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![u8::MAX; 26 * 26 * 26];
        for (index, (code, _)) in ISO_4217.iter().enumerate() {
            if let (&[a, b, c], Ok(index)) = (code.as_bytes(), u8::try_from(index))
                && let Some(slot) = code_slot([a, b, c])
                && let Some(place) = table.get_mut(slot)
            {
                *place = index;
            }
        }
        table
    })
}

impl Currency {
    /// Looks a code up case-insensitively, ignoring surrounding whitespace (`" usd"` → USD).
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let unknown = || MoneyError::UnknownCurrency {
            code: code.to_owned(),
        };
        // a code as it nearly always comes (three letters) is looked up without trimming
        let trimmed = match code.len() {
            3 => code,
            _ => code.trim(),
        };
        let &[a, b, c] = trimmed.as_bytes() else {
            return Err(unknown());
        };
        let slot = code_slot([a, b, c]).ok_or_else(unknown)?;
        match by_code().get(slot) {
            Some(&index) if index != u8::MAX => Ok(Currency { index }),
            _ => Err(unknown()),
        }
    }

    /// The upper-case alphabetic code, e.g. `"USD"`.
    pub fn code(self) -> &'static str {
        ISO_4217[usize::from(self.index)].0
    }

    /// Number of decimal places of the minor unit: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn exponent(self) -> u8 {
        ISO_4217[usize::from(self.index)].1
    }

    /// Every currency of the table, in code order.
    pub fn all() -> impl Iterator<Item = Currency> {
        (0..ISO_4217.len())
            .filter_map(|index| u8::try_from(index).ok().map(|index| Currency { index }))
    }

    /// The currency's place in the code table, one byte (stable only within one build).
    pub(crate) fn index(self) -> u8 {
        self.index
    }

    /// The currency at `index` in the code table, `None` past its end.
    pub(crate) fn from_index(index: u8) -> Option<Currency> {
        (usize::from(index) < ISO_4217.len()).then_some(Currency { index })
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Currency")
            .field("code", &self.code())
            .field("exponent", &self.exponent())
            .finish()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount in minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// Parses major-unit text exactly; see [`parse_major`].
    pub fn parse(
        text: &str,
        currency: Currency,
        decimal_separator: char,
    ) -> Result<Money, MoneyError> {
        parse_major(text, currency, decimal_separator).map(|minor| Money { minor, currency })
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.combine(other, "+", i64::checked_add)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.combine(other, "-", i64::checked_sub)
    }

    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        let minor = self
            .minor
            .checked_neg()
            .ok_or_else(|| MoneyError::Overflow {
                operation: format!("-({self})"),
            })?;
        Ok(Money { minor, ..self })
    }

    /// Sum of amounts that must all be in `currency`; an empty iterator sums to zero.
    pub fn checked_sum(
        currency: Currency,
        items: impl IntoIterator<Item = Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), Money::checked_add)
    }

    fn combine(
        self,
        other: Money,
        symbol: &str,
        op: fn(i64, i64) -> Option<i64>,
    ) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            });
        }
        let minor = op(self.minor, other.minor).ok_or_else(|| MoneyError::Overflow {
            operation: format!("{self} {symbol} {other}"),
        })?;
        Ok(Money { minor, ..self })
    }
}

impl fmt::Display for Money {
    /// `12.34 USD`, `-1000 JPY`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}",
            format_major(self.minor, self.currency),
            self.currency
        )
    }
}

/// Parses a decimal string in major units into minor units of `currency`, exactly.
///
/// Accepted: an optional leading `+` or `-`, or accounting parentheses `(12.34)` for a negative;
/// digits with an optional fraction after `decimal_separator` ('.' or ','); the other of the two
/// characters as a thousands separator in the integer part, only in well-formed groups
/// (`1,234,567.89`, never `1,23` or `12,3456`). Surrounding whitespace is ignored.
///
/// A fraction longer than the currency's exponent is refused unless the extra digits are all
/// zeros: for USD `10.500` is 1050 and `10.505` an error; for JPY `1.0` is 1 and `1.5` an error.
/// Exponents, `NaN`, inner spaces and non-ASCII digits are errors, as is anything outside `i64`.
pub(crate) fn parse_major(
    text: &str,
    currency: Currency,
    decimal_separator: char,
) -> Result<i64, MoneyError> {
    let thousands = match decimal_separator {
        '.' => ',',
        ',' => '.',
        other => return Err(MoneyError::UnsupportedSeparator(other)),
    };
    parse_major_grouped(text, currency, decimal_separator, Some(thousands))
}

/// [`parse_major`] with the thousands separator named: `None` when the file groups no digits,
/// or one of [`THOUSANDS_SEPARATORS`] other than the decimal separator (`1 234,56`,
/// `1'234.56`, `1.234,56`). The caller checks the pair is valid ([`check_separators`]).
pub(crate) fn parse_major_grouped(
    text: &str,
    currency: Currency,
    decimal_separator: char,
    thousands: Option<char>,
) -> Result<i64, MoneyError> {
    let malformed = || MoneyError::Malformed {
        text: text.to_owned(),
    };
    let body = text.trim();
    if body.is_empty() {
        return Err(MoneyError::Empty);
    }
    let (negative, unsigned) = if let Some(inner) = body.strip_prefix('(') {
        (true, inner.strip_suffix(')').ok_or_else(malformed)?)
    } else if let Some(rest) = body.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = body.strip_prefix('+') {
        (false, rest)
    } else {
        (false, body)
    };
    let (integer, fraction) = match unsigned.split_once(decimal_separator) {
        Some((integer, fraction)) => (integer, fraction),
        None => (unsigned, ""),
    };
    let has_point = unsigned.contains(decimal_separator);
    if integer.is_empty() || (has_point && fraction.is_empty()) {
        return Err(malformed());
    }
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    if !integer
        .chars()
        .all(|c| c.is_ascii_digit() || Some(c) == thousands)
    {
        return Err(malformed());
    }
    if let Some(thousands) = thousands
        && integer.contains(thousands)
        && !well_grouped(integer, thousands)
    {
        return Err(MoneyError::BadGrouping {
            text: text.to_owned(),
        });
    }

    let exponent = usize::from(currency.exponent());
    let (kept, extra) = fraction.split_at(fraction.len().min(exponent));
    if extra.bytes().any(|b| b != b'0') {
        return Err(MoneyError::TooPrecise {
            text: text.to_owned(),
            currency,
            exponent: currency.exponent(),
        });
    }
    let out_of_range = || MoneyError::OutOfRange {
        text: text.to_owned(),
    };
    let padding = std::iter::repeat_n(b'0', exponent - kept.len());
    let digits = integer
        .bytes()
        .filter(u8::is_ascii_digit)
        .chain(kept.bytes())
        .chain(padding);
    let mut magnitude: i128 = 0;
    for digit in digits {
        magnitude = magnitude * 10 + i128::from(digit - b'0');
        if magnitude > MAGNITUDE_LIMIT {
            return Err(out_of_range());
        }
    }
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| out_of_range())
}

/// The thousands separators a file may use: comma, point, space, apostrophe (Swiss), no-break
/// space and narrow no-break space (French).
pub(crate) const THOUSANDS_SEPARATORS: [char; 6] = [',', '.', ' ', '\'', '\u{a0}', '\u{202f}'];

/// Refuses a decimal separator other than `.` or `,`, a thousands separator not in
/// [`THOUSANDS_SEPARATORS`], and the same character for both.
pub(crate) fn check_separators(decimal: char, thousands: Option<char>) -> Result<(), String> {
    if !matches!(decimal, '.' | ',') {
        return Err(format!(
            "the decimal separator must be '.' or ',', not {decimal:?}"
        ));
    }
    match thousands {
        Some(t) if t == decimal => Err(format!(
            "the thousands separator must differ from the decimal separator {decimal:?}"
        )),
        Some(t) if !THOUSANDS_SEPARATORS.contains(&t) => Err(format!(
            "the thousands separator must be one of {THOUSANDS_SEPARATORS:?} or none, not {t:?}"
        )),
        _ => Ok(()),
    }
}

/// `1,234,567`: a first group of 1–3 digits not starting with 0, then groups of exactly 3.
fn well_grouped(integer: &str, thousands: char) -> bool {
    let mut groups = integer.split(thousands);
    let first_ok = groups
        .next()
        .is_some_and(|g| (1..=3).contains(&g.len()) && !g.starts_with('0'));
    first_ok && groups.all(|g| g.len() == 3)
}

/// Formats minor units as major-unit text: `-12.34` (USD), `1000` (JPY), `1.234` (KWD).
pub(crate) fn format_major(minor: i64, currency: Currency) -> String {
    format_major_wide(i128::from(minor), currency)
}

/// [`format_major`] for sums wider than one amount (totals at stake), exact to the last unit.
pub(crate) fn format_major_wide(minor: i128, currency: Currency) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    let exponent = u32::from(currency.exponent());
    if exponent == 0 {
        return format!("{sign}{magnitude}");
    }
    let scale = 10u128.pow(exponent);
    format!(
        "{sign}{}.{:0width$}",
        magnitude / scale,
        magnitude % scale,
        width = exponent as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table finds exactly the codes of the list, in any case, and nothing else.
    #[test]
    fn every_three_letter_code_is_looked_up_as_the_list_says() {
        let letters = b'A'..=b'Z';
        for a in letters.clone() {
            for b in letters.clone() {
                for c in letters.clone() {
                    let code = String::from_utf8(vec![a, b, c]).unwrap();
                    let listed = ISO_4217.iter().position(|(known, _)| *known == code);
                    let found = Currency::parse(&code).ok().map(|c| usize::from(c.index));
                    assert_eq!(found, listed, "{code}");
                    let lower = Currency::parse(&code.to_ascii_lowercase()).ok();
                    assert_eq!(lower.map(|c| usize::from(c.index)), listed, "{code}");
                }
            }
        }
        for refused in ["US", "USDX", "U$D", "ÜSD", "", "   ", "1SD", "US\u{0}"] {
            assert!(Currency::parse(refused).is_err(), "{refused:?}");
        }
        assert_eq!(Currency::parse(" usd\t").unwrap().code(), "USD");
    }

    fn cur(code: &str) -> Currency {
        Currency::parse(code).expect("known currency")
    }

    fn usd(text: &str) -> Result<i64, MoneyError> {
        parse_major(text, cur("USD"), '.')
    }

    #[test]
    fn table_is_sorted_unique_and_well_formed() {
        for pair in ISO_4217.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (code, exponent) in ISO_4217 {
            assert_eq!(code.len(), 3);
            assert!(code.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(*exponent <= 4);
        }
        assert!(ISO_4217.len() > 150);
        assert_eq!(Currency::all().count(), ISO_4217.len());
    }

    #[test]
    fn a_currency_is_one_byte_ordered_by_code() {
        assert_eq!(std::mem::size_of::<Currency>(), 1);
        let all: Vec<Currency> = Currency::all().collect();
        for pair in all.windows(2) {
            assert!(pair[0] < pair[1] && pair[0].code() < pair[1].code());
        }
        assert_eq!(
            format!("{:?}", cur("kwd")),
            "Currency { code: \"KWD\", exponent: 3 }"
        );
        assert_eq!(cur("KWD").to_string(), "KWD");
    }

    #[test]
    fn exponents_of_notable_currencies() {
        for code in [
            "JPY", "KRW", "VND", "CLP", "ISK", "XOF", "XAF", "UGX", "PYG",
        ] {
            assert_eq!(cur(code).exponent(), 0, "{code}");
        }
        for code in [
            "USD", "EUR", "GBP", "CHF", "CAD", "AUD", "SEK", "INR", "BRL",
        ] {
            assert_eq!(cur(code).exponent(), 2, "{code}");
        }
        for code in ["KWD", "BHD", "JOD", "OMR", "TND", "LYD", "IQD"] {
            assert_eq!(cur(code).exponent(), 3, "{code}");
        }
        assert_eq!(cur("CLF").exponent(), 4);
    }

    #[test]
    fn currency_parse_is_case_insensitive_and_strict() {
        assert_eq!(cur("usd"), cur("USD"));
        assert_eq!(cur(" eUr ").code(), "EUR");
        assert_eq!("jpy".parse::<Currency>(), Ok(cur("JPY")));
        for bad in ["", "US", "USDX", "XYZ", "XAU", "XDR", "€", "u$d", "ÜSD"] {
            assert_eq!(
                Currency::parse(bad),
                Err(MoneyError::UnknownCurrency {
                    code: bad.to_owned()
                }),
                "{bad}"
            );
        }
        assert_eq!(cur("GBP").to_string(), "GBP");
    }

    #[test]
    fn parses_plain_amounts() {
        assert_eq!(usd("12.34"), Ok(1234));
        assert_eq!(usd("0"), Ok(0));
        assert_eq!(usd("7"), Ok(700));
        assert_eq!(usd("0.01"), Ok(1));
        assert_eq!(usd("-0.5"), Ok(-50));
        assert_eq!(usd("+3.1"), Ok(310));
        assert_eq!(usd("-0"), Ok(0));
        assert_eq!(usd("007.50"), Ok(750));
        assert_eq!(usd("  42.00 "), Ok(4200));
    }

    #[test]
    fn extra_fraction_digits_only_when_zero() {
        assert_eq!(usd("10.500"), Ok(1050));
        assert_eq!(usd("10.5000000"), Ok(1050));
        assert_eq!(
            usd("10.505"),
            Err(MoneyError::TooPrecise {
                text: "10.505".into(),
                currency: cur("USD"),
                exponent: 2
            })
        );
        let jpy = cur("JPY");
        assert_eq!(parse_major("1.0", jpy, '.'), Ok(1));
        assert_eq!(parse_major("1000", jpy, '.'), Ok(1000));
        assert!(matches!(
            parse_major("1.5", jpy, '.'),
            Err(MoneyError::TooPrecise { exponent: 0, .. })
        ));
        let kwd = cur("KWD");
        assert_eq!(parse_major("1.234", kwd, '.'), Ok(1234));
        assert_eq!(parse_major("-0.005", kwd, '.'), Ok(-5));
        assert_eq!(parse_major("2.5", kwd, '.'), Ok(2500));
        assert!(parse_major("1.2345", kwd, '.').is_err());
        assert_eq!(parse_major("1.2340", kwd, '.'), Ok(1234));
    }

    #[test]
    fn thousands_separators_only_when_unambiguous() {
        assert_eq!(usd("1,234.56"), Ok(123_456));
        assert_eq!(usd("1,234,567"), Ok(123_456_700));
        assert_eq!(usd("-12,345.6"), Ok(-1_234_560));
        for bad in [
            "1,23", "12,3456", ",123", "1,,234", "0,123", "1234,567", "1,234,56",
        ] {
            assert_eq!(
                usd(bad),
                Err(MoneyError::BadGrouping { text: bad.into() }),
                "{bad}"
            );
        }
        // a thousands separator in the fraction is just malformed
        assert!(matches!(usd("1.234,5"), Err(MoneyError::Malformed { .. })));
    }

    #[test]
    fn decimal_comma() {
        let eur = cur("EUR");
        assert_eq!(parse_major("12,34", eur, ','), Ok(1234));
        assert_eq!(parse_major("1.234,56", eur, ','), Ok(123_456));
        assert_eq!(parse_major("-0,5", eur, ','), Ok(-50));
        assert!(matches!(
            parse_major("1.5", eur, ','),
            Err(MoneyError::BadGrouping { .. })
        ));
        assert_eq!(
            parse_major("1", eur, ';'),
            Err(MoneyError::UnsupportedSeparator(';'))
        );
    }

    #[test]
    fn named_thousands_separators() {
        let (eur, chf) = (cur("EUR"), cur("CHF"));
        assert_eq!(
            parse_major_grouped("1 234 567,89", eur, ',', Some(' ')),
            Ok(123_456_789)
        );
        assert_eq!(
            parse_major_grouped("-1\u{a0}234,50", eur, ',', Some('\u{a0}')),
            Ok(-123_450)
        );
        assert_eq!(
            parse_major_grouped("12'345.05", chf, '.', Some('\'')),
            Ok(1_234_505)
        );
        // with no grouping, a comma is not silently dropped
        assert_eq!(parse_major_grouped("1234.5", eur, '.', None), Ok(123_450));
        assert!(matches!(
            parse_major_grouped("1,234.5", eur, '.', None),
            Err(MoneyError::Malformed { .. })
        ));
        assert!(matches!(
            parse_major_grouped("1 23,00", eur, ',', Some(' ')),
            Err(MoneyError::BadGrouping { .. })
        ));
        assert_eq!(check_separators(',', Some(' ')), Ok(()));
        assert_eq!(check_separators('.', None), Ok(()));
        assert!(check_separators(',', Some(',')).is_err());
        assert!(check_separators(',', Some('_')).is_err());
        assert!(check_separators(' ', None).is_err());
    }

    #[test]
    fn accounting_negatives() {
        assert_eq!(usd("(12.34)"), Ok(-1234));
        assert_eq!(usd("(1,000)"), Ok(-100_000));
        for bad in ["(12.34", "12.34)", "(-12.34)", "-(12.34)", "()", "( 12.34)"] {
            assert!(
                matches!(usd(bad), Err(MoneyError::Malformed { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn rejects_non_numbers() {
        assert_eq!(usd(""), Err(MoneyError::Empty));
        assert_eq!(usd("   "), Err(MoneyError::Empty));
        for bad in [
            "NaN", "nan", "inf", "-inf", "1e5", "1E-2", "1.5e2", "0x10", "1 234", "12. 34",
            "1_000", "-", "+", "+-1", "--1", "12.", ".5", "1.2.3", "$12", "12 USD", "١٢", "１２",
            "12-",
        ] {
            assert!(
                matches!(usd(bad), Err(MoneyError::Malformed { .. })),
                "{bad}: {:?}",
                usd(bad)
            );
        }
    }

    #[test]
    fn range_limits_are_exact() {
        let jpy = cur("JPY");
        assert_eq!(parse_major("9223372036854775807", jpy, '.'), Ok(i64::MAX));
        assert_eq!(parse_major("-9223372036854775808", jpy, '.'), Ok(i64::MIN));
        assert!(matches!(
            parse_major("9223372036854775808", jpy, '.'),
            Err(MoneyError::OutOfRange { .. })
        ));
        assert!(matches!(
            usd("92233720368547758.08"),
            Err(MoneyError::OutOfRange { .. })
        ));
        assert_eq!(usd("92233720368547758.07"), Ok(i64::MAX));
        assert!(matches!(
            usd("99999999999999999999999999999999999999999999999"),
            Err(MoneyError::OutOfRange { .. })
        ));
        // long runs of leading zeros are fine
        assert_eq!(usd("000000000000000000000000000000001.00"), Ok(100));
    }

    #[test]
    fn formats_major_units() {
        assert_eq!(format_major(-1234, cur("USD")), "-12.34");
        assert_eq!(format_major(5, cur("USD")), "0.05");
        assert_eq!(format_major(-5, cur("USD")), "-0.05");
        assert_eq!(format_major(0, cur("EUR")), "0.00");
        assert_eq!(format_major(1000, cur("JPY")), "1000");
        assert_eq!(format_major(-7, cur("JPY")), "-7");
        assert_eq!(format_major(1234, cur("KWD")), "1.234");
        assert_eq!(format_major(12, cur("CLF")), "0.0012");
        assert_eq!(format_major(i64::MIN, cur("USD")), "-92233720368547758.08");
        assert_eq!(format_major(i64::MAX, cur("JPY")), "9223372036854775807");
        assert_eq!(
            format_major_wide(i128::MIN, cur("USD")),
            "-1701411834604692317316873037158841057.28"
        );
        assert_eq!(
            format_major_wide(1 << 64, cur("USD")),
            "184467440737095516.16"
        );
    }

    #[test]
    fn format_then_parse_round_trips() {
        for currency in Currency::all() {
            for minor in [0, 1, -1, 99, -1050, 123_456_789, i64::MAX, i64::MIN] {
                let text = format_major(minor, currency);
                assert_eq!(parse_major(&text, currency, '.'), Ok(minor), "{text}");
            }
        }
    }

    #[test]
    fn checked_arithmetic() {
        let usd = cur("USD");
        let a = Money::new(1050, usd);
        let b = Money::new(-75, usd);
        assert_eq!(a.checked_add(b), Ok(Money::new(975, usd)));
        assert_eq!(a.checked_sub(b), Ok(Money::new(1125, usd)));
        assert_eq!(b.checked_neg(), Ok(Money::new(75, usd)));
        assert_eq!(
            Money::checked_sum(usd, [a, b, a]),
            Ok(Money::new(2025, usd))
        );
        assert_eq!(Money::checked_sum(usd, []), Ok(Money::zero(usd)));
        assert!(matches!(
            Money::new(i64::MAX, usd).checked_add(Money::new(1, usd)),
            Err(MoneyError::Overflow { .. })
        ));
        assert!(matches!(
            Money::new(i64::MIN, usd).checked_sub(Money::new(1, usd)),
            Err(MoneyError::Overflow { .. })
        ));
        assert!(matches!(
            Money::new(i64::MIN, usd).checked_neg(),
            Err(MoneyError::Overflow { .. })
        ));
        assert_eq!(
            a.checked_add(Money::new(1, cur("EUR"))),
            Err(MoneyError::CurrencyMismatch {
                left: usd,
                right: cur("EUR")
            })
        );
    }

    #[test]
    fn money_parse_and_display() {
        let m = Money::parse("(1,234.5)", cur("usd"), '.').expect("parses");
        assert_eq!(m.minor(), -123_450);
        assert_eq!(m.currency().code(), "USD");
        assert_eq!(m.to_string(), "-1234.50 USD");
        assert_eq!(Money::new(1234, cur("KWD")).to_string(), "1.234 KWD");
        assert!(Money::zero(cur("JPY")).is_zero());
    }

    #[test]
    fn error_messages_read_well() {
        assert_eq!(
            usd("10.505").map_err(|e| e.to_string()),
            Err("`10.505` has more decimal places than USD allows (2)".into())
        );
        assert_eq!(
            Currency::parse("XYZ").map_err(|e| e.to_string()),
            Err("unknown currency code `XYZ`".into())
        );
    }
}
