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

/// How deeply arrays and objects may nest in a JSON document recon compares.
const MAX_JSON_DEPTH: usize = 512;

/// Puts a JSON document (RFC 8259; any value at the top, not only an object) in canonical form,
/// so that two documents that mean the same compare equal byte for byte:
///
/// - no insignificant whitespace;
/// - object members sorted by their keys' UTF-8 bytes (Unicode code point order; RFC 8785 sorts
///   by UTF-16 code units, which differs only between U+E000–U+FFFF and characters above
///   U+FFFF). A key written twice keeps every member, in the order written: such an object
///   equals only one with the same repeated members;
/// - strings escaped as RFC 8785 says: `\"`, `\\`, `\b \t \n \f \r`, other control characters
///   as `\u00xx` (lowercase hex), everything else (`/`, U+007F, non-ASCII) as itself in UTF-8;
///   escapes in the input are decoded first (`"\u00e9"` ≡ `"é"`), and a lone UTF-16 surrogate
///   is refused;
/// - numbers by value, never through a double: the decimal normal form of
///   [`normalize_decimal`] (`1.0` ≡ `1`, `1e2` ≡ `100`, `-0` ≡ `0`, every digit kept);
/// - `true`, `false`, `null`.
///
/// Text that is not one JSON document is an error naming the byte where it goes wrong.
pub fn canonical_json(text: &str) -> Result<String, CanonicalError> {
    let mut parser = JsonParser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut out = String::with_capacity(text.len());
    parser.whitespace();
    parser.value(&mut out, 0)?;
    parser.whitespace();
    if parser.at < parser.bytes.len() {
        return Err(parser.error("text after the end of the document"));
    }
    Ok(out)
}

/// A recursive-descent reader of one JSON document, writing its canonical form as it goes.
struct JsonParser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl JsonParser<'_> {
    fn error(&self, what: &str) -> CanonicalError {
        CanonicalError(format!("not valid JSON at byte {}: {what}", self.at))
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), CanonicalError> {
        if self.peek() != Some(byte) {
            return Err(self.error(what));
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, out: &mut String, depth: usize) -> Result<(), CanonicalError> {
        match self.peek() {
            Some(b'{') => self.object(out, depth + 1),
            Some(b'[') => self.array(out, depth + 1),
            Some(b'"') => {
                let text = self.string()?;
                write_json_string(out, &text);
                Ok(())
            }
            Some(b't') => self.literal(out, "true"),
            Some(b'f') => self.literal(out, "false"),
            Some(b'n') => self.literal(out, "null"),
            Some(b'-' | b'0'..=b'9') => self.number(out),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("the document ends where a value was expected")),
        }
    }

    fn literal(&mut self, out: &mut String, word: &str) -> Result<(), CanonicalError> {
        if !self.bytes[self.at..].starts_with(word.as_bytes()) {
            return Err(self.error("expected a value"));
        }
        self.at += word.len();
        out.push_str(word);
        Ok(())
    }

    fn nested(&self, depth: usize) -> Result<(), CanonicalError> {
        match depth > MAX_JSON_DEPTH {
            true => Err(self.error(&format!(
                "arrays and objects nested more than {MAX_JSON_DEPTH} deep"
            ))),
            false => Ok(()),
        }
    }

    fn object(&mut self, out: &mut String, depth: usize) -> Result<(), CanonicalError> {
        self.nested(depth)?;
        self.at += 1;
        self.whitespace();
        let mut members: Vec<(String, String)> = Vec::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected an object key (a string)"));
                }
                let key = self.string()?;
                self.whitespace();
                self.expect(b':', "expected ':' after an object key")?;
                self.whitespace();
                let mut value = String::new();
                self.value(&mut value, depth)?;
                members.push((key, value));
                self.whitespace();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error("expected ',' or '}' in an object")),
                }
            }
        }
        // Stable: members under a repeated key stay in the order written.
        members.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        out.push('{');
        for (i, (key, value)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_json_string(out, key);
            out.push(':');
            out.push_str(value);
        }
        out.push('}');
        Ok(())
    }

    fn array(&mut self, out: &mut String, depth: usize) -> Result<(), CanonicalError> {
        self.nested(depth)?;
        self.at += 1;
        self.whitespace();
        out.push('[');
        if self.peek() == Some(b']') {
            self.at += 1;
            out.push(']');
            return Ok(());
        }
        let mut first = true;
        loop {
            self.whitespace();
            if !first {
                out.push(',');
            }
            first = false;
            self.value(out, depth)?;
            self.whitespace();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    out.push(']');
                    return Ok(());
                }
                _ => return Err(self.error("expected ',' or ']' in an array")),
            }
        }
    }

    /// A string's text, its escapes decoded; `self.at` is on its opening quote.
    fn string(&mut self) -> Result<String, CanonicalError> {
        self.at += 1;
        let mut text = String::new();
        loop {
            let start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The input is a &str and the run stops only at ASCII bytes: whole characters.
            text.push_str(
                std::str::from_utf8(&self.bytes[start..self.at])
                    .map_err(|_| self.error("text that is not UTF-8"))?,
            );
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(text);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self.peek().ok_or_else(|| self.error("a cut-off escape"))?;
                    self.at += 1;
                    text.push(match escaped {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => {
                            self.at -= 1;
                            return Err(self.error("an unknown escape"));
                        }
                    });
                }
                Some(_) => return Err(self.error("a control character inside a string")),
                None => return Err(self.error("a string that never ends")),
            }
        }
    }

    /// The character of a `\uXXXX` escape (a surrogate pair takes two); `self.at` is after `u`.
    fn unicode_escape(&mut self) -> Result<char, CanonicalError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(self.error("a lone UTF-16 surrogate names no character"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("a lone UTF-16 surrogate names no character"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(self.error("a lone UTF-16 surrogate names no character"));
            }
            _ => first,
        };
        char::from_u32(code).ok_or_else(|| self.error("an escape that names no character"))
    }

    fn hex4(&mut self) -> Result<u32, CanonicalError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("a cut-off \\u escape"))?;
        let mut code = 0u32;
        for &d in digits {
            let value = char::from(d)
                .to_digit(16)
                .ok_or_else(|| self.error("a \\u escape needs four hex digits"))?;
            code = code * 16 + value;
        }
        self.at += 4;
        Ok(code)
    }

    /// A number as RFC 8259 writes it, in decimal normal form.
    fn number(&mut self, out: &mut String) -> Result<(), CanonicalError> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.at += 1;
            }
            p.at - from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("a number needs a digit after its sign")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if digits(self) == 0 {
                return Err(self.error("a number needs a digit after its point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("a number needs a digit in its exponent"));
            }
        }
        let literal = std::str::from_utf8(&self.bytes[start..self.at])
            .map_err(|_| self.error("a number that is not ASCII"))?;
        let normal = normalize_decimal(literal).map_err(|e| {
            CanonicalError(format!(
                "not a JSON number recon can compare at byte {start}: {e}"
            ))
        })?;
        out.push_str(&normal);
        Ok(())
    }
}

/// `text` as a JSON string, escaped as RFC 8785 (§3.2.2.2) says.
fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
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
    fn json_documents_written_differently_have_one_canonical_form() {
        let canonical = r#"{"a":[1,2.5,{"x":null,"y":true}],"b":"é\n\"q\"","c":100,"d":0}"#;
        for written in [
            canonical,
            r#"{ "d": -0, "c": 1e2, "b": "\u00e9\n\"q\"", "a": [1.0, 2.50, {"y": true, "x": null}] }"#,
            "{\"c\":100.000,\n\t\"a\":[ 1 , 25e-1 , {\"x\":null , \"y\":true} ],\r\n\"d\":0.0,\"b\":\"\\u00E9\\u000a\\\"q\\\"\"}",
            r#"{"b":"é\n\"q\"","d":-0.0E5,"a":[10E-1,2.5,{"y":true,"x":null}],"c":1E+2}"#,
        ] {
            assert_eq!(
                canonical_json(written).as_deref(),
                Ok(canonical),
                "{written}"
            );
        }
        assert_eq!(
            Value::json("[1, 2]").unwrap(),
            Value::Json("[1,2]".to_string())
        );
    }

    #[test]
    fn json_numbers_keep_every_digit_and_strings_escape_as_rfc_8785_says() {
        for (written, want) in [
            (
                "12345678901234567890.123456789012345678901",
                "12345678901234567890.123456789012345678901",
            ),
            ("9007199254740993", "9007199254740993"),
            ("0.1", "0.1"),
            ("-1.50e-3", "-0.0015"),
            ("1E400", &format!("1{}", "0".repeat(400))),
            (
                r#""\/\b\f\t\u0001\u001f\u007f""#,
                "\"/\\b\\f\\t\\u0001\\u001f\u{7f}\"",
            ),
            (r#""\ud83d\ude00 \u20ac""#, "\"😀 €\""),
            ("\"\u{2028}\"", "\"\u{2028}\""),
            (" true ", "true"),
            ("null", "null"),
            ("[]", "[]"),
            ("{}", "{}"),
            ("[{}, [], \"\"]", "[{},[],\"\"]"),
        ] {
            assert_eq!(canonical_json(written).as_deref(), Ok(want), "{written}");
        }
        // keys by their UTF-8 bytes: uppercase before lowercase, U+FFFD before U+1F600
        assert_eq!(
            canonical_json(r#"{"b":1,"a":2,"B":3,"😀":4,"�":5,"":6}"#).as_deref(),
            Ok(r#"{"":6,"B":3,"a":2,"b":1,"�":5,"😀":4}"#)
        );
        // a repeated key keeps every member, in the order written
        assert_eq!(
            canonical_json(r#"{"b":0,"a":2,"a":1}"#).as_deref(),
            Ok(r#"{"a":2,"a":1,"b":0}"#)
        );
        assert_ne!(
            canonical_json(r#"{"a":1,"a":2}"#),
            canonical_json(r#"{"a":2}"#)
        );
        // different documents stay different
        assert_ne!(canonical_json("[1,2]"), canonical_json("[2,1]"));
        assert_ne!(canonical_json("\"1\""), canonical_json("1"));
        assert_ne!(canonical_json("1.01"), canonical_json("1.1"));
    }

    #[test]
    fn text_that_is_not_one_json_document_is_refused_with_where() {
        for (text, why) in [
            (
                "",
                "at byte 0: the document ends where a value was expected",
            ),
            ("{\"a\" 1}", "at byte 5: expected ':' after an object key"),
            ("{a:1}", "at byte 1: expected an object key (a string)"),
            ("[1,]", "at byte 3: expected a value"),
            ("[1 2]", "at byte 3: expected ',' or ']' in an array"),
            ("{\"a\":1,}", "at byte 7: expected an object key (a string)"),
            ("01", "at byte 1: text after the end of the document"),
            ("1.", "at byte 2: a number needs a digit after its point"),
            (".5", "at byte 0: expected a value"),
            ("+1", "at byte 0: expected a value"),
            ("1e", "at byte 2: a number needs a digit in its exponent"),
            ("NaN", "at byte 0: expected a value"),
            ("Infinity", "at byte 0: expected a value"),
            ("tru", "at byte 0: expected a value"),
            ("\"a\tb\"", "at byte 2: a control character inside a string"),
            ("\"\\x\"", "at byte 2: an unknown escape"),
            (
                "\"\\ud800\"",
                "at byte 7: a lone UTF-16 surrogate names no character",
            ),
            (
                "\"\\udc00\"",
                "at byte 7: a lone UTF-16 surrogate names no character",
            ),
            (
                "\"\\u12zz\"",
                "at byte 3: a \\u escape needs four hex digits",
            ),
            ("\"\\u12\"", "at byte 3: a cut-off \\u escape"),
            ("\"open", "at byte 5: a string that never ends"),
            ("{} {}", "at byte 3: text after the end of the document"),
            ("\u{feff}{}", "at byte 0: expected a value"),
        ] {
            assert_eq!(
                canonical_json(text),
                Err(CanonicalError(format!("not valid JSON {why}"))),
                "{text:?}"
            );
        }
        assert_eq!(
            canonical_json("1e5000"),
            Err(CanonicalError(
                "not a JSON number recon can compare at byte 0: \"1e5000\" has an exponent out of range"
                    .into()
            ))
        );
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(canonical_json(&deep).is_ok());
        let deeper = format!("[{deep}]");
        assert!(
            canonical_json(&deeper)
                .unwrap_err()
                .0
                .contains("nested more than 512 deep")
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
