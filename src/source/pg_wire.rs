//! PostgreSQL's binary wire values turned into canonical values, by recon itself: one decoder
//! for query results and `COPY … (FORMAT binary)`, never panicking on what a table holds.
//!
//! sqlx's own decoders check each value's type on every row (the catalog already told recon)
//! and add microseconds to a `NaiveDateTime` unchecked, which panics on `'infinity'`.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::Column;
use crate::canonical::{LogicalType, Value, canonical_json, stored_decimal};

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 (both UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days from 0001-01-01 (day 1 of the common era) to 2000-01-01.
const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120;

/// The value of `column` sent as `bytes` (`None` for NULL) in PostgreSQL's binary format.
/// A wall-clock `timestamp` is read in `tz`.
pub(super) fn decode(bytes: Option<&[u8]>, column: &Column, tz: Tz) -> Result<Value, String> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    let declared = column.declared.as_str();
    Ok(match column.logical {
        LogicalType::Integer => Value::Int(match (declared, bytes) {
            ("oid", &[a, b, c, d]) => i128::from(u32::from_be_bytes([a, b, c, d])),
            (_, &[a, b]) => i128::from(i16::from_be_bytes([a, b])),
            (_, &[a, b, c, d]) => i128::from(i32::from_be_bytes([a, b, c, d])),
            (_, _) => i128::from(i64::from_be_bytes(fixed(bytes, "an integer")?)),
        }),
        // numerics are selected as text, so no digit is lost on the way
        // `NaN` and `±Infinity` keep PostgreSQL's spelling (see canonical::stored_decimal)
        LogicalType::Decimal => stored_decimal(text(bytes)?).map_err(|e| e.0)?,
        LogicalType::Boolean => match bytes {
            [0] => Value::Bool(false),
            [1] => Value::Bool(true),
            _ => return Err(format!("{bytes:?} is not a boolean")),
        },
        LogicalType::Timestamp => {
            let instant = instant(i64::from_be_bytes(fixed(bytes, "a timestamp")?))?;
            if super::postgres::stores_instants(column) {
                Value::Timestamp(instant)
            } else {
                Value::Timestamp(super::text::in_zone(instant.naive_utc(), tz)?)
            }
        }
        LogicalType::Date => Value::Date(date(i32::from_be_bytes(fixed(bytes, "a date")?))?),
        LogicalType::Uuid => Value::Uuid(uuid::Uuid::from_bytes(fixed(bytes, "a UUID")?)),
        LogicalType::Bytes => Value::Bytes(bytes.to_vec()),
        // CHAR(n) pads with spaces; the padding is not part of the value
        LogicalType::Text if declared.starts_with("character(") || declared == "character" => {
            Value::Text(text(bytes)?.trim_end_matches(' ').to_string())
        }
        LogicalType::Text => Value::Text(text(bytes)?.to_string()),
        // json and jsonb are selected as text (see `postgres::select_expr`)
        LogicalType::Json => Value::Json(canonical_json(text(bytes)?).map_err(|e| e.0)?),
        LogicalType::Float | LogicalType::Unsupported => {
            return Err(format!(
                "a column {} is never read",
                column.logical.not_comparable().unwrap_or("")
            ));
        }
    })
}

/// The bytes as an array of exactly `N`, or an error naming what they should have been.
fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], String> {
    bytes
        .try_into()
        .map_err(|_| format!("{} bytes where {what} takes {N}", bytes.len()))
}

fn text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("text that is not UTF-8: {e}"))
}

/// Microseconds since 2000-01-01 UTC as an instant; `'infinity'` and `'-infinity'` (the
/// extreme values) and anything chrono cannot hold are errors, not panics.
fn instant(micros: i64) -> Result<DateTime<Utc>, String> {
    match micros {
        i64::MAX => Err("'infinity' is not an instant recon can compare".to_string()),
        i64::MIN => Err("'-infinity' is not an instant recon can compare".to_string()),
        _ => micros
            .checked_add(PG_EPOCH_MICROS)
            .and_then(DateTime::from_timestamp_micros)
            .ok_or_else(|| {
                format!(
                    "{micros} µs from 2000-01-01 is out of range: recon compares timestamps up to {}",
                    chrono::NaiveDate::MAX
                )
            }),
    }
}

/// Days since 2000-01-01 as a date, with the same care as [`instant`].
fn date(days: i32) -> Result<NaiveDate, String> {
    match days {
        i32::MAX => Err("'infinity' is not a date recon can compare".to_string()),
        i32::MIN => Err("'-infinity' is not a date recon can compare".to_string()),
        _ => days
            .checked_add(PG_EPOCH_DAYS_FROM_CE)
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| {
                format!(
                    "{days} days from 2000-01-01 is out of range: recon compares dates up to {}",
                    chrono::NaiveDate::MAX
                )
            }),
    }
}

/// The tuples of a `COPY … TO STDOUT (FORMAT binary)` stream, taken from its chunks as they
/// arrive (a tuple may span chunks): the signature header, then per tuple a field count and
/// each field's length (-1 for NULL) and bytes, then a count of -1.
#[derive(Default)]
pub(super) struct CopyTuples {
    pending: Vec<u8>,
    /// Where the unread part of `pending` begins.
    start: usize,
    header_read: bool,
    ended: bool,
    /// The current tuple's fields, as ranges into `pending`.
    fields: Vec<Option<std::ops::Range<usize>>>,
}

const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

impl CopyTuples {
    pub(super) fn feed(&mut self, chunk: &[u8]) {
        if self.start == self.pending.len() {
            self.pending.clear();
            self.start = 0;
        } else if self.start >= 64 * 1024 {
            self.pending.drain(..self.start);
            self.start = 0;
        }
        self.pending.extend_from_slice(chunk);
    }

    /// Moves to the next whole tuple of `width` fields: `Ok(false)` until one has arrived
    /// in full, and after the end.
    pub(super) fn advance(&mut self, width: usize) -> Result<bool, String> {
        let mut at = self.start;
        if !self.header_read {
            let Some(extension) = self.pending.get(at + 15..at + 19) else {
                return Ok(false);
            };
            if self.pending[at..at + 11] != COPY_SIGNATURE[..] {
                return Err("the COPY stream does not start with PostgreSQL's signature".into());
            }
            let extension = 19 + be_u32(extension) as usize;
            if self.pending.len() < at + extension {
                return Ok(false);
            }
            at += extension;
            (self.start, self.header_read) = (at, true);
        }
        if self.ended {
            return Ok(false);
        }
        let Some(count) = self.pending.get(at..at + 2) else {
            return Ok(false);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        at += 2;
        if count == -1 {
            (self.start, self.ended) = (at, true);
            return Ok(false);
        }
        if usize::try_from(count).ok() != Some(width) {
            return Err(format!(
                "a COPY tuple of {count} fields, where {width} were selected"
            ));
        }
        self.fields.clear();
        for _ in 0..width {
            let Some(length) = self.pending.get(at..at + 4) else {
                return Ok(false);
            };
            at += 4;
            let length = i32::from_be_bytes([length[0], length[1], length[2], length[3]]);
            if length == -1 {
                self.fields.push(None);
                continue;
            }
            let length =
                usize::try_from(length).map_err(|_| format!("a COPY field of length {length}"))?;
            if self.pending.len() < at + length {
                return Ok(false);
            }
            self.fields.push(Some(at..at + length));
            at += length;
        }
        self.start = at;
        Ok(true)
    }

    /// Field `i` of the current tuple; `None` for NULL.
    pub(super) fn field(&self, i: usize) -> Option<&[u8]> {
        let range = self.fields.get(i)?.clone()?;
        self.pending.get(range)
    }

    /// Checks the stream ended with its trailer and nothing after it.
    pub(super) fn finish(&self) -> Result<(), String> {
        match self.ended && self.start == self.pending.len() {
            true => Ok(()),
            false => Err("the COPY stream ended before its trailer".into()),
        }
    }
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn column(logical: LogicalType, declared: &str) -> Column {
        Column {
            name: "c".into(),
            declared: declared.into(),
            logical,
        }
    }

    fn utc(bytes: &[u8], logical: LogicalType, declared: &str) -> Result<Value, String> {
        decode(Some(bytes), &column(logical, declared), chrono_tz::UTC)
    }

    /// A binary COPY stream of `tuples`, each field `None` for NULL.
    fn copy_stream(tuples: &[Vec<Option<&[u8]>>]) -> Vec<u8> {
        let mut out = COPY_SIGNATURE.to_vec();
        out.extend(0u32.to_be_bytes()); // flags
        out.extend(4u32.to_be_bytes()); // a header extension PostgreSQL may add, skipped
        out.extend(b"ext!");
        for tuple in tuples {
            out.extend((tuple.len() as i16).to_be_bytes());
            for field in tuple {
                match field {
                    None => out.extend((-1i32).to_be_bytes()),
                    Some(bytes) => {
                        out.extend((bytes.len() as i32).to_be_bytes());
                        out.extend(*bytes);
                    }
                }
            }
        }
        out.extend((-1i16).to_be_bytes());
        out
    }

    /// Every tuple read from `stream` fed in chunks of `chunk` bytes, as owned fields.
    fn read_all(stream: &[u8], chunk: usize, width: usize) -> Vec<Vec<Option<Vec<u8>>>> {
        let mut tuples = CopyTuples::default();
        let mut read = Vec::new();
        for piece in stream.chunks(chunk) {
            tuples.feed(piece);
            while tuples.advance(width).unwrap() {
                read.push(
                    (0..width)
                        .map(|i| tuples.field(i).map(<[u8]>::to_vec))
                        .collect(),
                );
            }
        }
        tuples.finish().unwrap();
        read
    }

    #[test]
    fn copy_tuples_come_whole_however_the_stream_is_cut() {
        let tuples: Vec<Vec<Option<&[u8]>>> = vec![
            vec![Some(&[0, 0, 0, 1]), None, Some(b"")],
            vec![Some(&[0, 0, 0, 2]), Some(b"a longer value"), None],
        ];
        let stream = copy_stream(&tuples);
        let expected: Vec<Vec<Option<Vec<u8>>>> = tuples
            .iter()
            .map(|t| t.iter().map(|f| f.map(<[u8]>::to_vec)).collect())
            .collect();
        for chunk in [1, 2, 3, 7, 19, 64, stream.len()] {
            assert_eq!(read_all(&stream, chunk, 3), expected, "chunks of {chunk}");
        }
    }

    #[test]
    fn a_broken_copy_stream_is_an_error() {
        let stream = copy_stream(&[vec![Some(&[1]), None]]);
        let mut tuples = CopyTuples::default();
        tuples.feed(&stream);
        assert_eq!(
            tuples.advance(3),
            Err("a COPY tuple of 2 fields, where 3 were selected".into())
        );
        // cut before the trailer
        let mut tuples = CopyTuples::default();
        tuples.feed(&stream[..stream.len() - 2]);
        assert_eq!(tuples.advance(2), Ok(true));
        assert_eq!(tuples.advance(2), Ok(false));
        assert_eq!(
            tuples.finish(),
            Err("the COPY stream ended before its trailer".into())
        );
        let mut tuples = CopyTuples::default();
        tuples.feed(b"not a COPY stream at all");
        assert_eq!(
            tuples.advance(2),
            Err("the COPY stream does not start with PostgreSQL's signature".into())
        );
    }

    #[test]
    fn integers_of_every_width() {
        use LogicalType::Integer;
        assert_eq!(utc(&[0xff, 0xfe], Integer, "smallint"), Ok(Value::Int(-2)));
        assert_eq!(
            utc(&[0x80, 0, 0, 0], Integer, "integer"),
            Ok(Value::Int(i32::MIN.into()))
        );
        assert_eq!(
            utc(&[0xff, 0xff, 0xff, 0xff], Integer, "oid"),
            Ok(Value::Int(u32::MAX.into()))
        );
        assert_eq!(
            utc(&i64::MIN.to_be_bytes(), Integer, "bigint"),
            Ok(Value::Int(i64::MIN.into()))
        );
        assert_eq!(
            utc(&[1, 2, 3], Integer, "bigint"),
            Err("3 bytes where an integer takes 8".into())
        );
        assert_eq!(
            decode(None, &column(Integer, "bigint"), chrono_tz::UTC),
            Ok(Value::Null)
        );
    }

    #[test]
    fn instants_and_dates_around_the_epochs() {
        use LogicalType::{Date, Timestamp};
        let tz = "timestamp with time zone";
        let at = |micros: i64| utc(&micros.to_be_bytes(), Timestamp, tz);
        assert_eq!(
            at(0),
            Ok(Value::Timestamp(
                Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()
            ))
        );
        // 1969-12-31 23:59:59.999999 UTC: before both epochs
        assert_eq!(
            at(-PG_EPOCH_MICROS - 1),
            Ok(Value::Timestamp(
                DateTime::from_timestamp(-1, 999_999_000).unwrap()
            ))
        );
        assert_eq!(
            at(i64::MAX),
            Err("'infinity' is not an instant recon can compare".into())
        );
        assert_eq!(
            at(i64::MIN),
            Err("'-infinity' is not an instant recon can compare".into())
        );
        assert_eq!(
            at(i64::MAX - 1),
            Err("9223372036854775806 µs from 2000-01-01 is out of range: recon compares timestamps up to +262142-12-31".into())
        );
        // a wall-clock timestamp is read in the source's zone
        let ams: Tz = "Europe/Amsterdam".parse().unwrap();
        assert_eq!(
            decode(
                Some(&0i64.to_be_bytes()),
                &column(Timestamp, "timestamp without time zone"),
                ams
            ),
            Ok(Value::Timestamp(
                Utc.with_ymd_and_hms(1999, 12, 31, 23, 0, 0).unwrap()
            ))
        );
        // with a precision, a timestamptz still holds instants: no zone is applied
        assert_eq!(
            decode(
                Some(&0i64.to_be_bytes()),
                &column(Timestamp, "timestamp(3) with time zone"),
                ams
            ),
            Ok(Value::Timestamp(
                Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap()
            ))
        );
        let day = |days: i32| utc(&days.to_be_bytes(), Date, "date");
        assert_eq!(
            day(-11_122),
            Ok(Value::Date(NaiveDate::from_ymd_opt(1969, 7, 20).unwrap()))
        );
        assert_eq!(
            day(i32::MAX),
            Err("'infinity' is not a date recon can compare".into())
        );
    }

    #[test]
    fn text_decimals_booleans_uuids_and_bytes() {
        use LogicalType::{Boolean, Bytes, Decimal, Text, Uuid};
        assert_eq!(
            utc(b"ab   ", Text, "character(5)"),
            Ok(Value::Text("ab".into()))
        );
        assert_eq!(utc(b"ab  ", Text, "text"), Ok(Value::Text("ab  ".into())));
        assert_eq!(
            utc(&[0xff], Text, "text"),
            Err("text that is not UTF-8: invalid utf-8 sequence of 1 bytes from index 0".into())
        );
        assert_eq!(
            utc(b"-0.0100", Decimal, "numeric(20,4)"),
            Ok(Value::Decimal("-0.01".into()))
        );
        assert_eq!(
            utc(b"NaN", Decimal, "numeric"),
            Ok(Value::Decimal("NaN".into()))
        );
        assert_eq!(utc(&[1], Boolean, "boolean"), Ok(Value::Bool(true)));
        assert_eq!(
            utc(&[2], Boolean, "boolean"),
            Err("[2] is not a boolean".into())
        );
        let id = uuid::Uuid::from_u128(0xa0ee_bc99_9c0b_4ef8_bb6d_6bb9_bd38_0a11);
        assert_eq!(utc(id.as_bytes(), Uuid, "uuid"), Ok(Value::Uuid(id)));
        assert_eq!(
            utc(&[0, 0xff], Bytes, "bytea"),
            Ok(Value::Bytes(vec![0, 0xff]))
        );
    }
}
