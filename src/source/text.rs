//! Values that arrive as text — SQLite TEXT storage, MySQL casts — turned into canonical values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::canonical::{LogicalType, Value, canonical_json, stored_decimal};

/// The canonical value of `text` read as `logical` (timestamps without a zone in `tz`).
pub(crate) fn value_from_text(logical: LogicalType, text: &str, tz: Tz) -> Result<Value, String> {
    Ok(match logical {
        LogicalType::Integer => Value::Int(
            text.trim()
                .parse::<i128>()
                .map_err(|_| format!("{text:?} is not an integer"))?,
        ),
        LogicalType::Decimal => stored_decimal(text).map_err(|e| e.0)?,
        LogicalType::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Value::Bool(true),
            "false" | "f" | "0" => Value::Bool(false),
            _ => return Err(format!("{text:?} is not a boolean")),
        },
        LogicalType::Timestamp => Value::Timestamp(parse_timestamp(text, tz)?),
        LogicalType::Date => Value::Date(
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| format!("{text:?} is not a YYYY-MM-DD date"))?,
        ),
        LogicalType::Uuid => Value::Uuid(
            uuid::Uuid::parse_str(text.trim()).map_err(|_| format!("{text:?} is not a UUID"))?,
        ),
        LogicalType::Bytes => Value::Bytes(text.as_bytes().to_vec()),
        LogicalType::Text => Value::Text(text.to_string()),
        LogicalType::Json => Value::Json(canonical_json(text).map_err(|e| e.0)?),
        LogicalType::Float | LogicalType::Unsupported => {
            return Err(format!(
                "a column {} is never read",
                logical.not_comparable().unwrap_or("")
            ));
        }
    })
}

/// Parses the text forms timestamps come in: `YYYY-MM-DD HH:MM:SS[.f]` with a space or `T`,
/// optionally ending in `Z` or `±HH:MM` (or `±HH`). Without a zone it is read in `tz`.
pub(crate) fn parse_timestamp(text: &str, tz: Tz) -> std::result::Result<DateTime<Utc>, String> {
    let bad = || format!("{text:?} is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH:MM])");
    let s = text.trim();
    // What MySQL's DATE_FORMAT and most writers produce, read without trying formats in turn.
    if let Some(naive) = plain_datetime(s) {
        return in_zone(naive, tz);
    }
    if let Some(naive) = s.strip_suffix('Z').and_then(plain_datetime) {
        return Ok(naive.and_utc());
    }
    if s.len() < 10 {
        return Err(bad());
    }
    let mut owned = s.to_string();
    if owned.as_bytes().get(10) == Some(&b'T') {
        owned.replace_range(10..11, " ");
    }
    if let Some(naive) = owned
        .strip_suffix('Z')
        .or_else(|| owned.strip_suffix("+00:00"))
    {
        let naive =
            NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f").map_err(|_| bad())?;
        return Ok(naive.and_utc());
    }
    if let Ok(with_offset) = DateTime::parse_from_str(&owned, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Ok(with_offset.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(&owned, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| {
            NaiveDate::parse_from_str(&owned, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN))
        })
        .map_err(|_| bad())?;
    in_zone(naive, tz)
}

/// `YYYY-MM-DD HH:MM:SS` with a space or `T`, optionally `.` and 1–9 fraction digits, exactly,
/// as a valid date and time; `None` for anything else (the general parsers then decide).
pub(crate) fn plain_datetime(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b' ' | b'T')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let number = |digits: &[u8]| -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(number(&b[0..4])?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..10])?)?;
    let time = chrono::NaiveTime::from_hms_nano_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        nanos,
    )?;
    Some(date.and_time(time))
}

/// A wall-clock time read in `tz`, as an instant; a time in a daylight-saving fold or gap is
/// an error (it names no single instant), never a guess.
pub(crate) fn in_zone(naive: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, String> {
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        chrono::LocalResult::Ambiguous(_, _) => Err(format!(
            "{naive} is ambiguous in {} (a daylight-saving fold); store it with an offset",
            tz.name()
        )),
        chrono::LocalResult::None => Err(format!(
            "{naive} does not exist in {} (a daylight-saving gap)",
            tz.name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_path_reads_exactly_what_chrono_reads() {
        let chrono_read = |text: &str| {
            NaiveDateTime::parse_from_str(&text.replacen('T', " ", 1), "%Y-%m-%d %H:%M:%S%.f").ok()
        };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 10) as usize;
            let fraction = format!("{:09}", (x >> 8) % 1_000_000_000);
            let text = format!(
                "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}{}",
                (x >> 12) % 10_000,
                (x >> 20) % 13,
                (x >> 24) % 32,
                if x & 1 == 0 { ' ' } else { 'T' },
                (x >> 30) % 25,
                (x >> 36) % 61,
                (x >> 42) % 61,
                if digits == 0 {
                    String::new()
                } else {
                    format!(".{}", &fraction[..digits])
                }
            );
            if let Some(fast) = plain_datetime(&text) {
                assert_eq!(Some(fast), chrono_read(&text), "{text}");
            }
        }
        for not_plain in [
            "2026-11-20 10:00:00.",
            "2026-11-20 10:00:00.1234567890",
            "2026-11-20 10:00:00+01:00",
            "2026-02-30 10:00:00",
            "2026-11-20 10:00:60",
            "2026-11-2O 10:00:00",
        ] {
            assert_eq!(plain_datetime(not_plain), None, "{not_plain}");
        }
        assert_eq!(
            parse_timestamp("2026-11-20 10:00:00.500000", chrono_tz::Europe::Amsterdam),
            Ok(DateTime::parse_from_rfc3339("2026-11-20T09:00:00.5Z")
                .unwrap()
                .to_utc())
        );
    }
}
