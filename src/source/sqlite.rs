//! SQLite sources: read-only connections, catalog types by affinity, values by storage class.

use std::str::FromStr;
use std::time::Duration;

use chrono::DateTime;
use chrono_tz::Tz;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Row, SqlitePool, TypeInfo, ValueRef};
use tokio::sync::mpsc;

use super::SourceSpec;
use super::text::value_from_text;
use super::{
    Column, Conditions, Engine, ReadSpec, RowBatch, ident, missing_table, select_in_key_order,
    send_in_batches,
};
use crate::canonical::{LogicalType, Value, normalize_decimal};
use crate::error::{Error, Result};

/// Opens the file read-only; a missing or unreadable file is the user's to fix. A database
/// locked by a writer for longer than `statement_timeout` is busy: a transient failure.
pub(super) async fn connect(spec: &SourceSpec) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(&spec.url)
        .map_err(|e| Error::bad_input(format!("bad SQLite URL: {e}")))?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(spec.statement_timeout_secs));
    let path = options.get_filename().to_path_buf();
    if !path.exists() {
        return Err(Error::bad_input(format!(
            "database file {} does not exist",
            path.display()
        )));
    }
    SqlitePoolOptions::new()
        .max_connections(spec.max_connections)
        .acquire_timeout(Duration::from_secs(spec.connect_timeout_secs))
        .connect_with(options)
        .await
        .map_err(|e| Error::from_source(e).context(format!("cannot open {}", path.display())))
}

pub(super) async fn columns(pool: &SqlitePool, table: &str) -> Result<Vec<Column>> {
    let (schema, name) = match table.split_once('.') {
        Some((s, t)) => (s, t),
        None => ("main", table),
    };
    let rows = sqlx::query("SELECT name, type FROM pragma_table_info(?1, ?2) ORDER BY cid")
        .bind(name)
        .bind(schema)
        .fetch_all(pool)
        .await
        .map_err(Error::from_source)?;
    if rows.is_empty() {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(pool)
        .await
        .map_err(Error::from_source)?;
        return Err(missing_table(table, &tables));
    }
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("name").map_err(Error::from_source)?;
        let declared: String = row.try_get("type").map_err(Error::from_source)?;
        let logical = logical_type(&declared);
        columns.push(Column {
            name,
            declared,
            logical,
        });
    }
    Ok(columns)
}

/// Maps a declared SQLite type to a logical type, following SQLite's affinity rules where
/// they apply and the conventional type names where they say more (BOOLEAN, DATE, UUID…).
pub(super) fn logical_type(declared: &str) -> LogicalType {
    let t = declared.to_ascii_uppercase();
    if t.contains("JSON") {
        LogicalType::Json
    } else if t.contains("BOOL") {
        LogicalType::Boolean
    } else if t.contains("INT") {
        LogicalType::Integer
    } else if t.contains("TIMESTAMP") || t.contains("DATETIME") {
        LogicalType::Timestamp
    } else if t == "DATE" {
        LogicalType::Date
    } else if t.contains("UUID") {
        LogicalType::Uuid
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        LogicalType::Text
    } else if t.contains("BLOB") || t.contains("BYTEA") || t.contains("BINARY") {
        LogicalType::Bytes
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        LogicalType::Float
    } else if t.contains("DEC") || t.contains("NUMERIC") || t.contains("MONEY") {
        LogicalType::Decimal
    } else {
        LogicalType::Text
    }
}

pub(super) async fn stream_rows(
    pool: &SqlitePool,
    spec: &ReadSpec,
    tz: Tz,
    tx: &mpsc::Sender<Result<RowBatch>>,
) -> Result<()> {
    let quoted = |c: &Column| ident::quote(Engine::Sqlite, &c.name);
    // SQLite text timestamps come in many forms: the day is filtered by the reader alone.
    let sql = select_in_key_order(
        Engine::Sqlite,
        spec,
        quoted,
        quoted,
        &Conditions::new(Engine::Sqlite),
    );
    // Every name above passed ident::validate_* and is quoted; values are never pasted.
    let rows = sqlx::query(AssertSqlSafe(sql)).fetch(pool);
    send_in_batches(
        rows,
        spec,
        |row, i, column| decode_value(row, i, column.logical, tz),
        tx,
    )
    .await
}

/// One raw SQLite value, as its storage class holds it.
enum Stored {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

fn stored(row: &SqliteRow, i: usize) -> std::result::Result<Stored, String> {
    let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if raw.is_null() {
        return Ok(Stored::Null);
    }
    let class = raw.type_info().name().to_string();
    let err = |e: sqlx::Error| e.to_string();
    Ok(match class.as_str() {
        "INTEGER" => Stored::Integer(row.try_get_unchecked::<i64, _>(i).map_err(err)?),
        "REAL" => Stored::Real(row.try_get_unchecked::<f64, _>(i).map_err(err)?),
        "BLOB" => Stored::Blob(row.try_get_unchecked::<Vec<u8>, _>(i).map_err(err)?),
        _ => Stored::Text(row.try_get_unchecked::<String, _>(i).map_err(err)?),
    })
}

fn decode_value(
    row: &SqliteRow,
    i: usize,
    logical: LogicalType,
    tz: Tz,
) -> std::result::Result<Value, String> {
    let stored = stored(row, i)?;
    let unexpected = |what: &str| format!("a {what} value cannot be read as {logical}");
    Ok(match (logical, stored) {
        (_, Stored::Null) => Value::Null,
        (LogicalType::Float | LogicalType::Unsupported, _) => {
            return Err(format!(
                "a column {} is never read; leave it out of `columns`",
                logical.not_comparable().unwrap_or("")
            ));
        }
        (LogicalType::Bytes, Stored::Text(s)) => Value::Bytes(s.into_bytes()),
        // A column declared JSON has NUMERIC affinity: a document that is a bare number is
        // stored as one (a REAL exact to 15 significant digits, as for NUMERIC columns).
        (LogicalType::Json, Stored::Integer(n)) => Value::Json(n.to_string()),
        (LogicalType::Json, Stored::Real(f)) if f.is_finite() => {
            Value::Json(normalize_decimal(&format!("{f}")).map_err(|e| e.0)?)
        }
        (LogicalType::Json, Stored::Blob(_)) => {
            return Err(
                "a BLOB (SQLite's binary JSONB?) is not JSON text; store documents as text (json(…))"
                    .to_string(),
            );
        }
        (logical, Stored::Text(s)) => value_from_text(logical, &s, tz)?,
        (LogicalType::Integer, Stored::Integer(n)) => Value::Int(n.into()),
        (LogicalType::Decimal, Stored::Integer(n)) => Value::Decimal(n.to_string()),
        // SQLite keeps NUMERIC values that are not integers as REAL; the shortest text that
        // round-trips is the value that was stored (exact up to 15 significant digits).
        (LogicalType::Decimal, Stored::Real(f)) if f.is_finite() => {
            Value::Decimal(normalize_decimal(&format!("{f}")).map_err(|e| e.0)?)
        }
        (LogicalType::Boolean, Stored::Integer(n)) => value_from_text(logical, &n.to_string(), tz)?,
        (LogicalType::Timestamp, Stored::Integer(secs)) => Value::Timestamp(
            DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| format!("{secs} is out of range as unix seconds"))?,
        ),
        (LogicalType::Uuid, Stored::Blob(b)) => Value::Uuid(
            uuid::Uuid::from_slice(&b)
                .map_err(|_| "a BLOB of other than 16 bytes is not a UUID".to_string())?,
        ),
        (LogicalType::Bytes, Stored::Blob(b)) => Value::Bytes(b),
        (LogicalType::Text, Stored::Integer(n)) => Value::Text(n.to_string()),
        (LogicalType::Text, Stored::Blob(b)) => Value::Text(
            String::from_utf8(b).map_err(|_| "a BLOB that is not UTF-8 text".to_string())?,
        ),
        (_, Stored::Integer(_)) => return Err(unexpected("INTEGER")),
        (_, Stored::Real(_)) => return Err(unexpected("REAL (floating-point)")),
        (_, Stored::Blob(_)) => return Err(unexpected("BLOB")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::format_timestamp;
    use crate::source::text::parse_timestamp;

    #[test]
    fn declared_types_map_by_affinity_and_name() {
        for (declared, want) in [
            ("INTEGER", LogicalType::Integer),
            ("BIGINT", LogicalType::Integer),
            ("BOOLEAN", LogicalType::Boolean),
            ("TIMESTAMP", LogicalType::Timestamp),
            ("DATETIME", LogicalType::Timestamp),
            ("DATE", LogicalType::Date),
            ("VARCHAR(40)", LogicalType::Text),
            ("TEXT", LogicalType::Text),
            ("", LogicalType::Text),
            ("DECIMAL(18,2)", LogicalType::Decimal),
            ("NUMERIC", LogicalType::Decimal),
            ("REAL", LogicalType::Float),
            ("DOUBLE PRECISION", LogicalType::Float),
            ("BLOB", LogicalType::Bytes),
            ("UUID", LogicalType::Uuid),
        ] {
            assert_eq!(logical_type(declared), want, "{declared}");
        }
    }

    #[test]
    fn timestamps_parse_in_every_stored_form() {
        let utc = chrono_tz::UTC;
        let ams = chrono_tz::Europe::Amsterdam;
        let want = "2026-11-20T09:30:00.123456Z";
        for text in [
            "2026-11-20 09:30:00.123456",
            "2026-11-20T09:30:00.123456",
            "2026-11-20T09:30:00.123456Z",
            "2026-11-20 10:30:00.123456+01:00",
        ] {
            assert_eq!(
                format_timestamp(&parse_timestamp(text, utc).unwrap()),
                want,
                "{text}"
            );
        }
        assert_eq!(
            format_timestamp(&parse_timestamp("2026-11-20 10:30:00.123456", ams).unwrap()),
            want
        );
        assert_eq!(
            format_timestamp(&parse_timestamp("1969-07-20", utc).unwrap()),
            "1969-07-20T00:00:00.000000Z"
        );
        assert!(
            parse_timestamp("2026-10-25 02:30:00", ams)
                .unwrap_err()
                .contains("ambiguous")
        );
        assert!(
            parse_timestamp("2026-03-29 02:30:00", ams)
                .unwrap_err()
                .contains("does not exist")
        );
        assert!(parse_timestamp("yesterday", utc).is_err());
    }
}
