//! MySQL and MariaDB sources: utf8mb4 sessions in UTC, read-only consistent snapshots, values
//! read as exact text, text keys ordered by their bytes (never by a PAD SPACE collation).

use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, MySqlPool, Row};
use tokio::sync::mpsc;

use super::SourceSpec;
use super::text::value_from_text;
use super::uuid_column::{self, UuidStorage};
use super::{
    Column, Engine, ReadSpec, RowBatch, WALL_CLOCK_MARGIN, ident, missing_table,
    select_in_key_order, send_in_batches,
};
use crate::canonical::{LogicalType, Value};
use crate::error::{Error, Result};

/// Put in front of every statement that reads a table, so a DBA's `SHOW PROCESSLIST` (and the
/// slow log) names recon as `application_name` does on PostgreSQL: sqlx cannot send MySQL
/// connection attributes.
pub(super) const STATEMENT_TAG: &str = "/* recon */ ";

/// Opens a pool of utf8mb4, UTC sessions with a statement timeout (MariaDB
/// `max_statement_time`, MySQL `max_execution_time`: whichever the server knows).
pub(super) async fn connect(spec: &SourceSpec) -> Result<MySqlPool> {
    let options = MySqlConnectOptions::from_str(&spec.url)
        .map_err(|e| {
            Error::bad_input(format!(
                "bad MySQL URL: {}",
                crate::secret::redact_urls(&e.to_string())
            ))
        })?
        .charset("utf8mb4")
        // Whole-table reads are slow by nature; recon logs each check's own duration.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1))
        .timezone(Some(String::from("+00:00")));
    let secs = spec.statement_timeout_secs;
    let timeout = Duration::from_secs(spec.connect_timeout_secs);
    super::reach(&options, timeout)
        .await
        .map_err(Error::from_source)?;
    MySqlPoolOptions::new()
        .max_connections(spec.max_connections)
        .acquire_timeout(timeout)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let mariadb = format!("SET SESSION max_statement_time = {secs}");
                if conn.execute(AssertSqlSafe(mariadb)).await.is_err() {
                    let mysql = format!(
                        "SET SESSION max_execution_time = {}",
                        secs.saturating_mul(1000)
                    );
                    conn.execute(AssertSqlSafe(mysql)).await?;
                }
                conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(Error::from_source)
}

pub(super) async fn columns(pool: &MySqlPool, table: &str) -> Result<Vec<Column>> {
    let (schema, name) = match table.split_once('.') {
        Some((s, t)) => (Some(s), t),
        None => (None, table),
    };
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT CAST(COLUMN_NAME AS CHAR), CAST(COLUMN_TYPE AS CHAR), CAST(DATA_TYPE AS CHAR)
         FROM information_schema.COLUMNS
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?
         ORDER BY ORDINAL_POSITION",
    )
    .bind(schema)
    .bind(name)
    .fetch_all(pool)
    .await
    .map_err(Error::from_source)?;
    if rows.is_empty() {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) ORDER BY 1",
        )
        .bind(schema)
        .fetch_all(pool)
        .await
        .map_err(Error::from_source)?;
        return Err(missing_table(table, &tables));
    }
    let has_text = rows
        .iter()
        .any(|(_, declared, data_type)| logical_type(data_type, declared) == LogicalType::Text);
    let json = match has_text {
        true => mariadb_json_columns(pool, table).await,
        false => Vec::new(),
    };
    Ok(rows
        .into_iter()
        .map(
            |(name, declared, data_type)| match logical_type(&data_type, &declared) {
                LogicalType::Text if json.contains(&name) => Column {
                    logical: LogicalType::Json,
                    name,
                    declared: "json".to_string(),
                },
                logical => Column {
                    logical,
                    name,
                    declared,
                },
            },
        )
        .collect())
}

/// The columns of the table that MariaDB declares `JSON`: there `JSON` is an alias for
/// `LONGTEXT` with a `CHECK (json_valid(col))`, so any column such a check validates is read as
/// JSON (MySQL has a JSON type of its own). The check is read from `SHOW CREATE TABLE`, which
/// SELECT on the table allows; `information_schema.CHECK_CONSTRAINTS` shows nothing to a reader
/// without more. A table whose definition cannot be shown (a view without SHOW VIEW) has its
/// text columns read as text (compared with a JSON column elsewhere, still as JSON).
async fn mariadb_json_columns(pool: &MySqlPool, table: &str) -> Vec<String> {
    let sql = format!(
        "SHOW CREATE TABLE {}",
        ident::quote_table(Engine::MySql, table)
    );
    // The name passed ident::validate_table and is quoted.
    match sqlx::query(AssertSqlSafe(sql)).fetch_one(pool).await {
        Ok(row) => match row.try_get::<String, _>(1) {
            Ok(create) => json_valid_columns(&create),
            Err(e) => {
                tracing::debug!(table, error = %e, "SHOW CREATE TABLE gave no definition");
                Vec::new()
            }
        },
        Err(e) => {
            tracing::debug!(table, error = %crate::secret::redact_urls(&e.to_string()), "no table definition to find JSON columns in");
            Vec::new()
        }
    }
}

/// The columns a table definition validates with `CHECK (json_valid(`col`))`, as MariaDB writes
/// both a column's check and a named table constraint back.
fn json_valid_columns(create: &str) -> Vec<String> {
    const OPEN: &str = "CHECK (json_valid(`";
    let mut columns = Vec::new();
    let mut rest = create;
    while let Some(at) = rest.find(OPEN) {
        rest = &rest[at + OPEN.len()..];
        // the quoted name: `` stands for one backtick
        let mut name = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '`')) if rest[i + 1..].starts_with('`') => {
                    name.push('`');
                    chars.next();
                }
                Some((i, '`')) => break Some(i + 1),
                Some((_, c)) => name.push(c),
                None => break None,
            }
        };
        let Some(end) = end else { break };
        if rest[end..].starts_with("))") && !columns.contains(&name) {
            columns.push(name);
        }
        rest = &rest[end..];
    }
    columns
}

/// Maps a MySQL type (DATA_TYPE, with COLUMN_TYPE for `tinyint(1)`) to a logical type.
fn logical_type(data_type: &str, column_type: &str) -> LogicalType {
    match data_type.to_ascii_lowercase().as_str() {
        "tinyint" if column_type.to_ascii_lowercase().starts_with("tinyint(1)") => {
            LogicalType::Boolean
        }
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" => {
            LogicalType::Integer
        }
        "decimal" | "numeric" => LogicalType::Decimal,
        "bool" | "boolean" => LogicalType::Boolean,
        "datetime" | "timestamp" => LogicalType::Timestamp,
        "date" => LogicalType::Date,
        // MariaDB 10.7+'s own type
        "uuid" => LogicalType::Uuid,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set" => {
            LogicalType::Text
        }
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => {
            LogicalType::Bytes
        }
        "json" => LogicalType::Json,
        "float" | "double" | "real" => LogicalType::Float,
        _ => LogicalType::Unsupported,
    }
}

/// The select expression: every value but bytes travels as exact text.
pub(super) fn select_expr(column: &Column) -> String {
    let q = ident::quote(Engine::MySql, &column.name);
    match column.logical {
        LogicalType::Integer | LogicalType::Decimal | LogicalType::Boolean | LogicalType::Json => {
            format!("CAST({q} AS CHAR)")
        }
        LogicalType::Timestamp => format!("DATE_FORMAT({q}, '%Y-%m-%d %H:%i:%s.%f')"),
        LogicalType::Date => format!("DATE_FORMAT({q}, '%Y-%m-%d')"),
        LogicalType::Uuid if uuid_column::storage(column) == Some(UuidStorage::Bytes) => {
            format!("LOWER(HEX({q}))")
        }
        LogicalType::Uuid => format!("CAST({q} AS CHAR)"),
        _ => q,
    }
}

/// The ORDER BY term for a key column: text by its bytes; UUIDs by their lowercase text (what
/// PostgreSQL's `uuid` order is), never by MariaDB's `UUID` order, which swaps the time fields.
pub(super) fn order_expr(column: &Column) -> String {
    let q = ident::quote(Engine::MySql, &column.name);
    match column.logical {
        LogicalType::Text => format!("CAST({q} AS BINARY)"),
        LogicalType::Uuid if uuid_column::storage(column) == Some(UuidStorage::Bytes) => q,
        LogicalType::Uuid => format!("CAST({} AS BINARY)", uuid_text(&q)),
        _ => q,
    }
}

/// The canonical text of a (native or text) UUID column `q`: lowercase, hyphenated.
pub(super) fn uuid_text(q: &str) -> String {
    format!("LOWER(CAST({q} AS CHAR))")
}

pub(super) async fn stream_rows(
    pool: &MySqlPool,
    spec: &ReadSpec,
    keys: &[Value],
    tz: Tz,
    tx: &mpsc::Sender<Result<RowBatch>>,
) -> Result<()> {
    // Both kinds are compared as wall-clock times, with the margin DayBounds gives them.
    let statements = super::statements(
        Engine::MySql,
        spec,
        keys,
        tz,
        |_| false,
        |c| wall_clock_zone(c, tz),
        WALL_CLOCK_MARGIN,
    )?;
    let mut conn = pool.acquire().await.map_err(Error::from_source)?;
    let mut snapshot = conn
        .begin_with("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
        .map_err(Error::from_source)?;
    for conditions in &statements {
        if tx.is_closed() {
            break;
        }
        let sql = select_in_key_order(Engine::MySql, spec, select_expr, order_expr, conditions);
        // Every name above passed ident::validate_* and is quoted; values are never pasted.
        let query = conditions.bind(sqlx::query(AssertSqlSafe(format!("{STATEMENT_TAG}{sql}"))));
        let rows = query.fetch(&mut *snapshot);
        send_in_batches(
            rows,
            spec,
            |row, i, column| decode_value(row, i, column, tz),
            tx,
        )
        .await?;
    }
    Ok(())
}

/// The zone a column's wall-clock text is in: TIMESTAMP columns are shown in the session's
/// zone (UTC); DATETIME ones hold times in the source's configured zone.
pub(super) fn wall_clock_zone(column: &Column, tz: Tz) -> Tz {
    if shown_in_utc(column) {
        chrono_tz::UTC
    } else {
        tz
    }
}

/// Whether the column is a TIMESTAMP, which MySQL shows in the session's zone (UTC). Runs for
/// every value read: no lower-cased copy of the type.
pub(super) fn shown_in_utc(column: &Column) -> bool {
    let declared = column.declared.as_bytes();
    declared.len() >= 9 && declared[..9].eq_ignore_ascii_case(b"timestamp")
}

pub(super) fn decode_value(
    row: &MySqlRow,
    i: usize,
    column: &Column,
    tz: Tz,
) -> std::result::Result<Value, String> {
    let err = |e: sqlx::Error| e.to_string();
    if column.logical == LogicalType::Bytes {
        return Ok(row
            .try_get::<Option<Vec<u8>>, _>(i)
            .map_err(err)?
            .map_or(Value::Null, Value::Bytes));
    }
    let zone = wall_clock_zone(column, tz);
    match row.try_get::<Option<&str>, _>(i).map_err(err)? {
        None => Ok(Value::Null),
        // Ordered by its lowercase text: only the hyphenated form orders as the UUID does.
        Some(text)
            if uuid_column::storage(column) == Some(UuidStorage::Text) && text.len() != 36 =>
        {
            Err(format!(
                "{text:?} is not a UUID in its hyphenated form (8-4-4-4-12 hex digits)"
            ))
        }
        Some(text) => value_from_text(column.logical, text, zone),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_valid_checks_name_their_columns() {
        let create = "CREATE TABLE `t` (
  `id` int(11) NOT NULL,
  `doc` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`doc`)),
  `odd``name` longtext DEFAULT NULL CHECK (json_valid(`odd``name`)),
  `d2` longtext DEFAULT NULL,
  `d3` longtext DEFAULT NULL CHECK (json_valid(`d3`) or `d3` is null),
  PRIMARY KEY (`id`),
  CONSTRAINT `c2` CHECK (json_valid(`d2`))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
        assert_eq!(json_valid_columns(create), ["doc", "odd`name", "d2"]);
        assert_eq!(
            json_valid_columns("CHECK (json_valid(`cut"),
            Vec::<String>::new()
        );
        assert_eq!(logical_type("json", "json"), LogicalType::Json);
        assert_eq!(logical_type("longtext", "longtext"), LogicalType::Text);
    }
}
