//! The canonical row encoding: the byte-exact contract behind every row hash and digest.
//!
//! Two sides agree when their rows encode to the same bytes, whatever engine they came from.
//! A row is its key fields then its compared fields; each field is `N` for NULL or
//! `V<byte length>:<text>`, so `''` differs from NULL and no field can bleed into the next.
//! The text of a value depends on its logical type (see [`Value::canonical_text`]).
//! Row hash = SHA-256 of the encoded row; a segment digest = SHA-256 of the row hashes as
//! lowercase hex, concatenated in key order, kept beside the row count. Never XOR.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};

mod json;

pub use json::canonical_json;

/// The logical type every engine's column types map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum LogicalType {
    Integer,
    Decimal,
    Boolean,
    Timestamp,
    Date,
    Uuid,
    Bytes,
    Text,
    /// A JSON document (PostgreSQL `json`/`jsonb`, MySQL `JSON`, MariaDB's `JSON` alias, SQLite
    /// text declared `JSON`): compared by value in its canonical form ([`canonical_json`]);
    /// never a key.
    Json,
    /// Binary floating point: never a key, never compared (floats are not exact).
    Float,
    /// A type with no exact canonical text (arrays, intervals, geometry…): never compared.
    Unsupported,
}

impl LogicalType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LogicalType::Integer => "integer",
            LogicalType::Decimal => "decimal",
            LogicalType::Boolean => "boolean",
            LogicalType::Timestamp => "timestamp",
            LogicalType::Date => "date",
            LogicalType::Uuid => "uuid",
            LogicalType::Bytes => "bytes",
            LogicalType::Text => "text",
            LogicalType::Json => "json",
            LogicalType::Float => "float",
            LogicalType::Unsupported => "unsupported",
        }
    }
}

impl LogicalType {
    /// Why a column of this type is never compared, if it is not.
    pub(crate) fn not_comparable(self) -> Option<&'static str> {
        match self {
            LogicalType::Float => Some("floating point (floats are never exact)"),
            LogicalType::Unsupported => {
                Some("of a type with no exact canonical form (arrays, intervals, geometry…)")
            }
            _ => None,
        }
    }
}

impl fmt::Display for LogicalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value already reduced to its logical type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i128),
    /// A decimal in normal form (see [`normalize_decimal`]).
    Decimal(String),
    Bool(bool),
    Timestamp(DateTime<Utc>),
    Date(NaiveDate),
    Uuid(uuid::Uuid),
    Bytes(Vec<u8>),
    Text(String),
    /// A JSON document in canonical form (see [`canonical_json`]).
    Json(String),
}

/// A value that cannot be put in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CanonicalError(pub String);

impl Value {
    /// Builds a decimal value from any decimal literal, normalising it.
    pub fn decimal(text: &str) -> Result<Value, CanonicalError> {
        normalize_decimal(text).map(Value::Decimal)
    }

    /// Builds a JSON value from any JSON text, putting it in canonical form.
    pub fn json(text: &str) -> Result<Value, CanonicalError> {
        canonical_json(text).map(Value::Json)
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The canonical text of the value; `None` for NULL.
    pub fn canonical_text(&self) -> Option<Cow<'_, str>> {
        Some(match self {
            Value::Null => return None,
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Decimal(d) => Cow::Borrowed(d.as_str()),
            Value::Bool(true) => Cow::Borrowed("true"),
            Value::Bool(false) => Cow::Borrowed("false"),
            Value::Timestamp(t) => Cow::Owned(format_timestamp(t)),
            Value::Date(d) => Cow::Owned(d.format("%Y-%m-%d").to_string()),
            Value::Uuid(u) => Cow::Owned(u.hyphenated().to_string()),
            Value::Bytes(b) => Cow::Owned(hex::encode(b)),
            Value::Text(s) => Cow::Borrowed(s.as_str()),
            Value::Json(j) => Cow::Borrowed(j.as_str()),
        })
    }

    /// Appends the field encoding (`N` or `V<len>:<text>`) to `out`. It runs for every field
    /// of every row hashed, so integers, timestamps and lengths are written without allocating.
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        let mut number = itoa::Buffer::new();
        let stamp;
        let text: Cow<'_, [u8]> = match self {
            Value::Int(i) => Cow::Borrowed(
                match i64::try_from(*i) {
                    Ok(small) => number.format(small),
                    Err(_) => number.format(*i),
                }
                .as_bytes(),
            ),
            Value::Timestamp(t) => match timestamp_digits(t) {
                Some(digits) => {
                    stamp = digits;
                    Cow::Borrowed(&stamp[..])
                }
                None => Cow::Owned(format_timestamp(t).into_bytes()),
            },
            other => match other.canonical_text() {
                None => return out.push(b'N'),
                Some(Cow::Borrowed(text)) => Cow::Borrowed(text.as_bytes()),
                Some(Cow::Owned(text)) => Cow::Owned(text.into_bytes()),
            },
        };
        out.push(b'V');
        out.extend_from_slice(itoa::Buffer::new().format(text.len()).as_bytes());
        out.push(b':');
        out.extend_from_slice(&text);
    }

    /// Total order used for keys; it must agree with every engine's `ORDER BY` on the same
    /// logical type (integers by value, text and bytes by bytes, decimals by value).
    pub(crate) fn key_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => decimal_cmp(a, b),
            (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
            (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Date(a), Value::Date(b)) => a.cmp(b),
            (Value::Uuid(a), Value::Uuid(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Text(a), Value::Text(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Json(a), Value::Json(b)) => a.as_bytes().cmp(b.as_bytes()),
            // Different logical types never share a key column (checked before comparing);
            // fall back to the canonical bytes so the order is still total.
            (a, b) => a.canonical_text().cmp(&b.canonical_text()),
        }
    }
}

/// Compares two keys field by field with [`Value::key_cmp`].
pub(crate) fn key_cmp(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match x.key_cmp(y) {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always six fractional digits (truncated), always UTC.
pub(crate) fn format_timestamp(t: &DateTime<Utc>) -> String {
    match timestamp_digits(t) {
        Some(digits) => digits.iter().map(|&b| char::from(b)).collect(),
        None => t.format(CHRONO_TIMESTAMP).to_string(),
    }
}

/// chrono's spelling of the canonical timestamp text.
const CHRONO_TIMESTAMP: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// The canonical timestamp text written digit by digit into a fixed buffer: it runs for every
/// timestamp of every row hashed. `None` for years outside 0–9999 and leap seconds, which
/// take chrono's formatter; the two agree byte for byte.
fn timestamp_digits(t: &DateTime<Utc>) -> Option<[u8; 27]> {
    use chrono::{Datelike, Timelike};
    // the fields of the stored UTC time: `DateTime`'s own accessors add the offset each time
    let t = t.naive_utc();
    let year = u32::try_from(t.year()).ok().filter(|&year| year <= 9999)?;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut out = [0u8; 27];
    let mut at = 0;
    let mut digits = |value: u32, width: u32, after: u8| {
        for place in (0..width).rev() {
            out[at] = b'0' + ((value / 10u32.pow(place)) % 10) as u8;
            at += 1;
        }
        out[at] = after;
        at += 1;
    };
    digits(year, 4, b'-');
    digits(t.month(), 2, b'-');
    digits(t.day(), 2, b'T');
    digits(t.hour(), 2, b':');
    digits(t.minute(), 2, b':');
    digits(t.second(), 2, b'.');
    digits(nanos / 1000, 6, b'Z');
    Some(out)
}

/// Encodes a whole row (key fields then compared fields).
pub(crate) fn encode_row<'a>(fields: impl IntoIterator<Item = &'a Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    for field in fields {
        field.encode_into(&mut out);
    }
    out
}

/// A SHA-256 row hash.
pub type RowHash = [u8; 32];

/// SHA-256 of the encoded row.
pub fn row_hash<'a>(fields: impl IntoIterator<Item = &'a Value>) -> RowHash {
    RowHasher::default().hash(fields)
}

/// Hashes row after row through one reused buffer: no allocation per row of a table.
#[derive(Default)]
pub(crate) struct RowHasher(Vec<u8>);

impl RowHasher {
    /// SHA-256 of the encoded row, as [`row_hash`].
    pub(crate) fn hash<'a>(&mut self, fields: impl IntoIterator<Item = &'a Value>) -> RowHash {
        self.0.clear();
        for field in fields {
            field.encode_into(&mut self.0);
        }
        Sha256::digest(&self.0).into()
    }
}

/// Accumulates a segment digest from row hashes given in key order.
#[derive(Clone, Default)]
pub struct SegmentDigest {
    hasher: Sha256,
    rows: u64,
}

impl SegmentDigest {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, row_hash: &RowHash) {
        let mut hex_buf = [0u8; 64];
        // Cannot fail: the buffer is exactly twice the hash length.
        if hex::encode_to_slice(row_hash, &mut hex_buf).is_ok() {
            self.hasher.update(hex_buf);
        }
        self.rows += 1;
    }

    /// The digest as lowercase hex, and the row count.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.rows)
    }
}

/// A segment of a sealed day: where it ends (a name derived from its last key; empty for the
/// day's last segment), how many rows it holds and their digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentHead {
    pub(crate) end_key: String,
    pub(crate) rows: u64,
    pub(crate) digest: String,
}

/// Puts a decimal literal in normal form: no exponent, no leading zeros, no trailing
/// fractional zeros, no lone point, `0` for any zero (so `-0.00` is `0`).
/// Accepts an optional sign, digits with an optional point, and an optional exponent.
pub(crate) fn normalize_decimal(text: &str) -> Result<String, CanonicalError> {
    let bad = || CanonicalError(format!("{text:?} is not a decimal number"));
    let s = text.trim();
    let (negative, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(at) => {
            let exp: i64 = s[at + 1..].parse().map_err(|_| bad())?;
            (&s[..at], exp)
        }
        None => (s, 0),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, f),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if exponent.unsigned_abs() > 4096 {
        return Err(CanonicalError(format!(
            "{text:?} has an exponent out of range"
        )));
    }
    // All digits, and where the point falls within them.
    let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let point = int_part.len() as i64 + exponent;
    let (int_digits, frac_digits): (String, String) = if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        (
            String::new(),
            zeros + std::str::from_utf8(&digits).map_err(|_| bad())?,
        )
    } else if point as usize >= digits.len() {
        let zeros = "0".repeat(point as usize - digits.len());
        (
            std::str::from_utf8(&digits).map_err(|_| bad())?.to_string() + &zeros,
            String::new(),
        )
    } else {
        let (i, f) = digits.split_at(point as usize);
        (
            String::from_utf8_lossy(i).into_owned(),
            String::from_utf8_lossy(f).into_owned(),
        )
    };
    let int_trimmed = int_digits.trim_start_matches('0');
    let frac_trimmed = frac_digits.trim_end_matches('0');
    let mut out = String::with_capacity(int_trimmed.len() + frac_trimmed.len() + 3);
    if int_trimmed.is_empty() && frac_trimmed.is_empty() {
        return Ok("0".to_string());
    }
    if negative {
        out.push('-');
    }
    out.push_str(if int_trimmed.is_empty() {
        "0"
    } else {
        int_trimmed
    });
    if !frac_trimmed.is_empty() {
        out.push('.');
        out.push_str(frac_trimmed);
    }
    Ok(out)
}

/// The canonical text of PostgreSQL's numeric values that are not numbers: `NaN`,
/// `Infinity`, `-Infinity` (as PostgreSQL spells them). `None` for any other text.
pub(crate) fn non_finite_decimal(text: &str) -> Option<&'static str> {
    match text.trim() {
        "NaN" => Some("NaN"),
        "Infinity" => Some("Infinity"),
        "-Infinity" => Some("-Infinity"),
        _ => None,
    }
}

/// A decimal as a database holds it: a number in normal form, or `NaN` / `±Infinity`.
pub(crate) fn stored_decimal(text: &str) -> Result<Value, CanonicalError> {
    match non_finite_decimal(text) {
        Some(word) => Ok(Value::Decimal(word.to_string())),
        None => Value::decimal(text),
    }
}

/// Numeric order of two decimals in normal form, in PostgreSQL's order for the values that
/// are not numbers: `-Infinity` < every number < `Infinity` < `NaN`.
fn decimal_cmp(a: &str, b: &str) -> Ordering {
    let rank = |d: &str| match d {
        "-Infinity" => 0,
        "Infinity" => 2,
        "NaN" => 3,
        _ => 1,
    };
    match rank(a).cmp(&rank(b)) {
        Ordering::Equal if rank(a) == 1 => finite_decimal_cmp(a, b),
        other => other,
    }
}

/// Numeric order of two numbers in normal form.
fn finite_decimal_cmp(a: &str, b: &str) -> Ordering {
    let neg_a = a.starts_with('-');
    let neg_b = b.starts_with('-');
    match (neg_a, neg_b) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude_cmp(a, b),
        (true, true) => magnitude_cmp(&b[1..], &a[1..]),
    }
}

fn magnitude_cmp(a: &str, b: &str) -> Ordering {
    let (ai, af) = a.split_once('.').unwrap_or((a, ""));
    let (bi, bf) = b.split_once('.').unwrap_or((b, ""));
    ai.len()
        .cmp(&bi.len())
        .then_with(|| ai.cmp(bi))
        .then_with(|| af.cmp(bf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn enc(values: &[Value]) -> String {
        String::from_utf8(encode_row(values)).expect("encoding is UTF-8 for text values")
    }

    #[test]
    fn null_empty_and_lookalike_text_encode_differently() {
        assert_eq!(enc(&[Value::Null]), "N");
        assert_eq!(enc(&[Value::Text(String::new())]), "V0:");
        assert_eq!(enc(&[Value::Text("N".into())]), "V1:N");
        assert_eq!(enc(&[Value::Text("V0:".into())]), "V3:V0:");
        let hashes = [
            row_hash(&[Value::Null]),
            row_hash(&[Value::Text(String::new())]),
            row_hash(&[Value::Text("N".into())]),
        ];
        assert_ne!(hashes[0], hashes[1]);
        assert_ne!(hashes[1], hashes[2]);
        assert_ne!(hashes[0], hashes[2]);
    }

    #[test]
    fn separators_inside_values_cannot_bleed_into_the_next_field() {
        let a = [Value::Text("a".into()), Value::Text("bV1:c".into())];
        let b = [Value::Text("aV1:b".into()), Value::Text("c".into())];
        assert_eq!(enc(&a), "V1:aV5:bV1:c");
        assert_eq!(enc(&b), "V5:aV1:bV1:c");
        assert_ne!(row_hash(&a), row_hash(&b));
        let c = [Value::Text("x,y".into()), Value::Null];
        let d = [Value::Text("x".into()), Value::Text("y".into())];
        assert_ne!(row_hash(&c), row_hash(&d));
    }

    #[test]
    fn lengths_count_utf8_bytes_including_four_byte_characters() {
        assert_eq!(enc(&[Value::Text("€".into())]), "V3:€");
        assert_eq!(enc(&[Value::Text("💸".into())]), "V4:💸");
        assert_eq!(enc(&[Value::Text("a💸b".into())]), "V6:a💸b");
    }

    #[test]
    fn decimals_of_equal_value_encode_alike() {
        for (input, want) in [
            ("10.50", "10.5"),
            ("10.5", "10.5"),
            ("010.500", "10.5"),
            ("-0", "0"),
            ("-0.000", "0"),
            ("+0.0", "0"),
            ("0", "0"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-1.2300", "-1.23"),
            ("100", "100"),
            ("100.00", "100"),
            ("1E+2", "100"),
            ("1.5e-3", "0.0015"),
            ("-12.5E1", "-125"),
            (
                "123456789012345678901234567890.123456789",
                "123456789012345678901234567890.123456789",
            ),
        ] {
            assert_eq!(
                normalize_decimal(input).as_deref(),
                Ok(want),
                "input {input}"
            );
        }
        assert_eq!(
            row_hash(&[Value::decimal("10.50").unwrap()]),
            row_hash(&[Value::decimal("10.5").unwrap()])
        );
    }

    #[test]
    fn malformed_decimals_are_refused() {
        for input in [
            "", "-", ".", "1.2.3", "1,5", "abc", "1e", "NaN", "inf", "1 000",
        ] {
            assert!(normalize_decimal(input).is_err(), "input {input:?}");
        }
    }

    #[test]
    fn decimals_order_by_value() {
        let mut values =
            ["10", "-2.5", "9.99", "0", "-10", "0.001", "100"].map(|d| Value::decimal(d).unwrap());
        values.sort_by(|a, b| a.key_cmp(b));
        let texts: Vec<_> = values
            .iter()
            .map(|v| v.canonical_text().unwrap().into_owned())
            .collect();
        assert_eq!(texts, ["-10", "-2.5", "0", "0.001", "9.99", "10", "100"]);
    }

    #[test]
    fn integers_past_two_to_the_53_keep_every_digit() {
        let v = Value::Int(9_007_199_254_740_993);
        assert_eq!(enc(&[v]), "V16:9007199254740993");
        assert_eq!(enc(&[Value::Int(-42)]), "V3:-42");
        assert_eq!(
            enc(&[Value::Int(i64::MIN as i128)]),
            "V20:-9223372036854775808"
        );
    }

    #[test]
    fn timestamps_before_1970_and_at_microsecond_boundaries() {
        let before = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap()
            + chrono::Duration::microseconds(999_999);
        assert_eq!(format_timestamp(&before), "1969-12-31T23:59:59.999999Z");
        let epoch = DateTime::from_timestamp_micros(0).unwrap();
        assert_eq!(format_timestamp(&epoch), "1970-01-01T00:00:00.000000Z");
        let one_micro = DateTime::from_timestamp_micros(1).unwrap();
        assert_eq!(format_timestamp(&one_micro), "1970-01-01T00:00:00.000001Z");
        let minus_one = DateTime::from_timestamp_micros(-1).unwrap();
        assert_eq!(format_timestamp(&minus_one), "1969-12-31T23:59:59.999999Z");
        assert_ne!(
            row_hash(&[Value::Timestamp(epoch)]),
            row_hash(&[Value::Timestamp(one_micro)])
        );
        assert_eq!(
            enc(&[Value::Timestamp(epoch)]),
            "V27:1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn timestamps_format_exactly_as_chrono_does() {
        let chrono_text = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        // A deterministic spread over years 0..=9999, every field and sub-microsecond nanos.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let min = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap().timestamp();
        let max = Utc
            .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
            .unwrap()
            .timestamp();
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let secs = min + (x % (max - min) as u64) as i64;
            let nanos = ((x >> 20) % 1_000_000_000) as u32;
            let t = DateTime::from_timestamp(secs, nanos).unwrap();
            assert_eq!(format_timestamp(&t), chrono_text(&t));
        }
        // Outside the fast path: chrono's own text.
        for t in [
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 15, 12, 0, 0).unwrap(),
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(), // a leap second
        ] {
            assert_eq!(format_timestamp(&t), chrono_text(&t));
        }
        assert_eq!(
            format_timestamp(&DateTime::from_timestamp(0, 999).unwrap()),
            "1970-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn integers_and_timestamps_encode_as_their_canonical_text() {
        let instants = [
            DateTime::from_timestamp(0, 0).unwrap(),
            DateTime::from_timestamp(-1, 999_999_999).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap(),
        ];
        let integers = [
            0,
            -1,
            i128::from(i64::MIN),
            i128::from(i64::MAX),
            i128::from(i64::MAX) + 1,
            i128::from(i64::MIN) - 1,
            i128::MIN,
            i128::MAX,
        ];
        let values = integers
            .into_iter()
            .map(Value::Int)
            .chain(instants.into_iter().map(Value::Timestamp));
        for value in values {
            let text = value.canonical_text().unwrap();
            assert_eq!(
                enc(std::slice::from_ref(&value)),
                format!("V{}:{text}", text.len())
            );
        }
        assert_eq!(
            enc(&[Value::Int(i128::MIN)]),
            "V40:-170141183460469231731687303715884105728"
        );
    }

    #[test]
    fn other_types_have_one_text_each() {
        assert_eq!(
            enc(&[Value::Bool(true), Value::Bool(false)]),
            "V4:trueV5:false"
        );
        let d = NaiveDate::from_ymd_opt(1999, 1, 2).unwrap();
        assert_eq!(enc(&[Value::Date(d)]), "V10:1999-01-02");
        let u = uuid::Uuid::parse_str("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11").unwrap();
        assert_eq!(
            enc(&[Value::Uuid(u)]),
            "V36:a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        );
        assert_eq!(enc(&[Value::Bytes(vec![0, 0xAB, 0xff])]), "V6:00abff");
    }

    #[test]
    fn row_hash_is_sha256_of_the_encoding() {
        // Expected values computed independently: printf 'V1:1V5:hello' | sha256sum
        assert_eq!(
            hex::encode(row_hash(&[Value::Int(1), Value::Text("hello".into())])),
            "1f0ce022cd0dc2a23df27ba990cfc7924c869b208721c4d26f63da328bbecf2d"
        );
        assert_eq!(
            hex::encode(row_hash(&[Value::Int(1)])),
            "411824b7d075563309d889050d5015958c68e160f076769e40643e89d1577c4e"
        );
    }

    #[test]
    fn segment_digest_hashes_hex_row_hashes_in_order() {
        let h1 = row_hash(&[Value::Int(1)]);
        let h2 = row_hash(&[Value::Int(2)]);
        let mut seg = SegmentDigest::new();
        seg.push(&h1);
        seg.push(&h2);
        let (digest, rows) = seg.finish();
        let mut concatenated = hex::encode(h1);
        concatenated.push_str(&hex::encode(h2));
        assert_eq!(digest, hex::encode(Sha256::digest(concatenated.as_bytes())));
        assert_eq!(rows, 2);
        let mut reversed = SegmentDigest::new();
        reversed.push(&h2);
        reversed.push(&h1);
        assert_ne!(reversed.finish().0, digest, "order matters: no XOR");
        let mut twice = SegmentDigest::new();
        twice.push(&h1);
        twice.push(&h1);
        assert_ne!(
            twice.finish().0,
            SegmentDigest::new().finish().0,
            "equal rows never cancel"
        );
    }

    #[test]
    fn numerics_that_are_not_numbers_have_their_own_text_and_place() {
        let special = |t: &str| stored_decimal(t).unwrap();
        assert_eq!(
            enc(&[special("NaN"), special("Infinity"), special("-Infinity")]),
            "V3:NaNV8:InfinityV9:-Infinity"
        );
        assert_eq!(enc(&[special("10.50")]), "V4:10.5");
        // Never a number's text, never NULL's: a change to or from them is a difference.
        assert_ne!(row_hash(&[special("NaN")]), row_hash(&[Value::Null]));
        assert_eq!(
            stored_decimal("nan"),
            Err(CanonicalError("\"nan\" is not a decimal number".into()))
        );
        let mut values = ["NaN", "1", "Infinity", "-Infinity", "-1e9", "NaN"].map(special);
        values.sort_by(|a, b| a.key_cmp(b));
        let texts: Vec<_> = values
            .iter()
            .map(|v| v.canonical_text().unwrap().into_owned())
            .collect();
        assert_eq!(
            texts,
            ["-Infinity", "-1000000000", "1", "Infinity", "NaN", "NaN"]
        );
    }

    #[test]
    fn json_values_encode_as_their_canonical_text() {
        let a = Value::json(r#"{"b": 1.0, "a": "x"}"#).unwrap();
        let b = Value::json(r#"{"a":"x","b":1}"#).unwrap();
        assert_eq!(enc(std::slice::from_ref(&a)), r#"V15:{"a":"x","b":1}"#);
        assert_eq!(row_hash(&[Value::Int(1), a]), row_hash(&[Value::Int(1), b]));
    }

    #[test]
    fn text_keys_order_by_bytes_not_locale() {
        let mut keys = ["b", "B", "a", "é", "Z", "aa"].map(|s| Value::Text(s.to_string()));
        keys.sort_by(|a, b| a.key_cmp(b));
        let texts: Vec<_> = keys
            .iter()
            .map(|v| v.canonical_text().unwrap().into_owned())
            .collect();
        assert_eq!(texts, ["B", "Z", "a", "aa", "b", "é"]);
    }
}
