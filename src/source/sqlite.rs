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
/// locked by a writer for longer than [`busy_timeout`] is busy: a transient failure, retried
/// within the source's retry budget.
pub(super) async fn connect(spec: &SourceSpec) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(&spec.url)
        .map_err(|e| Error::bad_input(format!("bad SQLite URL: {e}")))?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(busy_timeout(spec));
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

/// Longest one attempt waits on a lock another connection holds (SQLite's busy timeout).
const MOST_BUSY_WAIT: Duration = Duration::from_secs(5);

/// How long one statement waits for a writer's lock before failing as busy: a few seconds,
/// never more than `statement_timeout_secs`, nor more than a quarter of the retry budget
/// (`max_total_secs`; one second at least), so a file locked for good ends, retries and
/// backoff included, within the budget and one such wait past it, not after the statement
/// timeout (600 s by default).
pub(super) fn busy_timeout(spec: &SourceSpec) -> Duration {
    let quarter_budget =
        Duration::from_secs(spec.retry.max_total_secs / 4).max(Duration::from_secs(1));
    MOST_BUSY_WAIT
        .min(Duration::from_secs(spec.statement_timeout_secs))
        .min(quarter_budget)
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
    if spec.columns[..spec.key_len]
        .iter()
        .any(|c| c.logical == LogicalType::Text)
    {
        refuse_utf16_text_keys(pool, spec).await?;
    }
    // SQLite text timestamps come in many forms: the day is filtered by the reader alone.
    let sql = select_in_key_order(
        Engine::Sqlite,
        spec,
        quoted,
        order_expr,
        &Conditions::new(Engine::Sqlite),
    );
    // Every name above passed ident::validate_* and is quoted; values are never pasted.
    let rows = sqlx::query(AssertSqlSafe(sql)).fetch(pool);
    let order = KeyOrder::new(spec);
    send_in_batches(
        rows,
        spec,
        |row, i, column| {
            let value = decode_value(row, i, column.logical, tz)?;
            order.see(i, &value)?;
            Ok(value)
        },
        tx,
    )
    .await
}

/// The keys SQLite returned, checked to come in recon's order. Text and byte keys are ordered
/// as recon reads them ([`order_expr`]); a key whose stored values sort otherwise than the
/// values they hold (timestamps written with different offsets or forms, UUIDs as text and as
/// BLOBs, in either case) is refused as the user's to fix (exit 2, naming the column), rather
/// than failing the merge as a reader's fault.
struct KeyOrder<'a> {
    columns: &'a [Column],
    /// The key being decoded, then the last complete one.
    keys: std::sync::Mutex<(Vec<Value>, Vec<Value>)>,
}

impl<'a> KeyOrder<'a> {
    fn new(spec: &'a ReadSpec) -> Self {
        KeyOrder {
            columns: &spec.columns[..spec.key_len],
            keys: Default::default(),
        }
    }

    /// Takes column `i`'s value of the row being decoded; at the key's last column, checks the
    /// key comes after the previous one. NULL and repeated keys are left to the merge to name.
    fn see(&self, i: usize, value: &Value) -> std::result::Result<(), String> {
        if i >= self.columns.len() {
            return Ok(());
        }
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (current, previous) = &mut *keys;
        if i == 0 {
            current.clear();
        }
        current.push(value.clone());
        if i + 1 < self.columns.len() || current.iter().any(Value::is_null) {
            return Ok(());
        }
        let differs = previous
            .iter()
            .zip(current.iter())
            .enumerate()
            .find(|(_, (p, c))| p.key_cmp(c) != std::cmp::Ordering::Equal);
        if let Some((at, (p, c))) = differs
            && p.key_cmp(c) == std::cmp::Ordering::Greater
        {
            let text = |v: &Value| {
                v.canonical_text()
                    .map(|t| t.into_owned())
                    .unwrap_or_default()
            };
            // The error names the key's last column; another one is named here.
            let which = match at + 1 == self.columns.len() {
                true => String::new(),
                false => format!("column {:?} ", self.columns[at].name),
            };
            return Err(format!(
                "SQLite returned key {which}value {} after {}: the stored values do not sort as \
                 the {} values recon reads from them (mixed forms or offsets?), so the table \
                 cannot be read in key order; store the key in one form",
                text(c),
                text(p),
                self.columns[at].logical,
            ));
        }
        std::mem::swap(previous, current);
        Ok(())
    }
}

/// The ORDER BY term for a key column, so that SQLite reads keys in recon's canonical order
/// whatever the column's collation (`COLLATE NOCASE`) or affinity: a text key as the text
/// recon reads (an INTEGER stored in an untyped column is its decimal text, as
/// [`decode_value`] gives it, not a number sorted before every text), compared by its bytes;
/// a byte-string key as bytes (SQLite otherwise puts every TEXT before every BLOB). Other
/// keys keep SQLite's order, which is theirs: numbers by value, ISO dates as text.
pub(super) fn order_expr(column: &Column) -> String {
    let quoted = ident::quote(Engine::Sqlite, &column.name);
    match column.logical {
        LogicalType::Text => format!("CAST({quoted} AS TEXT) COLLATE BINARY"),
        LogicalType::Bytes => format!("CAST({quoted} AS BLOB)"),
        _ => quoted,
    }
}

/// `COLLATE BINARY` compares text in the database's encoding: in a UTF-16 file that is not
/// the order of the UTF-8 bytes recon compares, so text keys there are refused up front.
async fn refuse_utf16_text_keys(pool: &SqlitePool, spec: &ReadSpec) -> Result<()> {
    let encoding: String = sqlx::query_scalar("PRAGMA encoding")
        .fetch_one(pool)
        .await
        .map_err(Error::from_source)?;
    if encoding.eq_ignore_ascii_case("UTF-8") {
        return Ok(());
    }
    let keys: Vec<&str> = spec.columns[..spec.key_len]
        .iter()
        .filter(|c| c.logical == LogicalType::Text)
        .map(|c| c.name.as_str())
        .collect();
    Err(Error::bad_input(format!(
        "{}: text key column {} cannot be read in byte order: the database file is {encoding}, \
         and SQLite orders text by its {encoding} code units, not by the UTF-8 bytes recon \
         compares; convert the file to UTF-8 (a new file with `PRAGMA encoding = 'UTF-8'` and \
         the data copied in)",
        spec.table,
        keys.join(", ")
    )))
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
        // what PostgreSQL's numeric calls Infinity (SQLite keeps no NaN: it stores NULL)
        (LogicalType::Decimal, Stored::Real(f)) if f.is_infinite() => {
            let word = if f > 0.0 { "Infinity" } else { "-Infinity" };
            Value::Decimal(word.to_string())
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
    fn a_busy_wait_is_a_few_seconds_within_the_statement_timeout_and_the_retry_budget() {
        let spec = |statement_timeout_secs: u64, max_total_secs: u64| SourceSpec {
            name: "ledger".into(),
            url: "sqlite://ledger.db".into(),
            timezone: chrono_tz::UTC,
            max_connections: 1,
            statement_timeout_secs,
            connect_timeout_secs: 10,
            retry: crate::retry::RetryPolicy {
                max_total_secs,
                ..Default::default()
            },
        };
        let secs = |s: SourceSpec| busy_timeout(&s).as_secs();
        assert_eq!(secs(spec(600, 300)), 5);
        assert_eq!(secs(spec(600, 8)), 2);
        assert_eq!(secs(spec(600, 0)), 1);
        assert_eq!(secs(spec(3, 300)), 3);
    }

    #[test]
    fn keys_are_ordered_as_the_text_or_bytes_recon_reads() {
        let column = |name: &str, declared: &str| Column {
            name: name.into(),
            declared: declared.into(),
            logical: logical_type(declared),
        };
        assert_eq!(
            order_expr(&column("id", "TEXT COLLATE NOCASE")),
            r#"CAST("id" AS TEXT) COLLATE BINARY"#
        );
        assert_eq!(
            order_expr(&column("id", "")),
            r#"CAST("id" AS TEXT) COLLATE BINARY"#
        );
        assert_eq!(order_expr(&column("id", "BLOB")), r#"CAST("id" AS BLOB)"#);
        assert_eq!(order_expr(&column("id", "INTEGER")), r#""id""#);
    }

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
