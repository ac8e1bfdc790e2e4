//! Values that arrive as text — SQLite TEXT storage, MySQL casts — turned into canonical values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::canonical::{LogicalType, Value, normalize_decimal};

/// The canonical value of `text` read as `logical` (timestamps without a zone in `tz`).
pub fn value_from_text(logical: LogicalType, text: &str, tz: Tz) -> Result<Value, String> {
    Ok(match logical {
        LogicalType::Integer => Value::Int(
            text.trim()
                .parse::<i128>()
                .map_err(|_| format!("{text:?} is not an integer"))?,
        ),
        LogicalType::Decimal => Value::Decimal(normalize_decimal(text).map_err(|e| e.0)?),
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
pub fn parse_timestamp(text: &str, tz: Tz) -> std::result::Result<DateTime<Utc>, String> {
    let bad = || format!("{text:?} is not a timestamp (YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH:MM])");
    let s = text.trim();
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

/// A wall-clock time read in `tz`, as an instant; a time in a daylight-saving fold or gap is
/// an error (it names no single instant), never a guess.
pub fn in_zone(naive: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, String> {
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
