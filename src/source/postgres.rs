//! PostgreSQL sources: read-only sessions named `recon`, catalog types from pg_catalog, each
//! table read in one REPEATABLE READ READ ONLY snapshot, text keys in byte order.

use std::str::FromStr;
use std::time::Duration;

use chrono_tz::Tz;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow, PgValueFormat};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgPool, Row, ValueRef};
use tokio::sync::mpsc;

use super::SourceSpec;
use super::uuid_column::{self, UuidStorage};
use super::{
    Column, Engine, ReadSpec, RowBatch, WALL_CLOCK_MARGIN, column_error, ident, missing_table,
    pg_wire, select_in_key_order, send_in_batches,
};
use crate::canonical::{LogicalType, Value};
use crate::error::{Error, Result};

/// Opens a pool whose sessions are read-only, UTC, and bounded by the statement timeout.
pub(super) async fn connect(spec: &SourceSpec) -> Result<PgPool> {
    let options = PgConnectOptions::from_str(&spec.url)
        .map_err(|e| {
            Error::bad_input(format!(
                "bad PostgreSQL URL: {}",
                crate::secret::redact_urls(&e.to_string())
            ))
        })?
        .application_name("recon")
        // Whole-table reads are slow by nature; recon logs each check's own duration.
        .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1))
        .options([
            ("default_transaction_read_only", "on".to_string()),
            (
                "statement_timeout",
                format!("{}s", spec.statement_timeout_secs),
            ),
            ("TimeZone", "UTC".to_string()),
        ]);
    let timeout = Duration::from_secs(spec.connect_timeout_secs);
    super::reach(&options, timeout)
        .await
        .map_err(Error::from_source)?;
    PgPoolOptions::new()
        .max_connections(spec.max_connections)
        .acquire_timeout(timeout)
        .connect_with(options)
        .await
        .map_err(Error::from_source)
}

fn split(table: &str) -> (Option<&str>, &str) {
    match table.split_once('.') {
        Some((schema, name)) => (Some(schema), name),
        None => (None, table),
    }
}

pub(super) async fn columns(pool: &PgPool, table: &str) -> Result<Vec<Column>> {
    let (schema, name) = split(table);
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_type t ON t.oid = a.atttypid
         WHERE n.nspname = COALESCE($1, current_schema()) AND c.relname = $2
           AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND a.attnum > 0 AND NOT a.attisdropped
         ORDER BY a.attnum",
    )
    .bind(schema)
    .bind(name)
    .fetch_all(pool)
    .await
    .map_err(Error::from_source)?;
    if rows.is_empty() {
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = COALESCE($1, current_schema()) ORDER BY 1",
        )
        .bind(schema)
        .fetch_all(pool)
        .await
        .map_err(Error::from_source)?;
        return Err(missing_table(table, &tables));
    }
    Ok(rows
        .into_iter()
        .map(|(name, declared, typname)| Column {
            logical: logical_type(&typname),
            name,
            declared,
        })
        .collect())
}

/// Maps a PostgreSQL type (pg_type.typname) to a logical type.
fn logical_type(typname: &str) -> LogicalType {
    match typname {
        "int2" | "int4" | "int8" | "oid" => LogicalType::Integer,
        "numeric" => LogicalType::Decimal,
        "bool" => LogicalType::Boolean,
        "timestamptz" | "timestamp" => LogicalType::Timestamp,
        "date" => LogicalType::Date,
        "uuid" => LogicalType::Uuid,
        "bytea" => LogicalType::Bytes,
        "text" | "varchar" | "bpchar" | "name" | "citext" | "char" => LogicalType::Text,
        "json" | "jsonb" => LogicalType::Json,
        "float4" | "float8" => LogicalType::Float,
        _ => LogicalType::Unsupported,
    }
}

/// Whether the column holds instants (`timestamptz`, with or without a precision:
/// `timestamp(3) with time zone`), not wall-clock times to be read in the source's zone.
pub(super) fn stores_instants(column: &Column) -> bool {
    column.logical == LogicalType::Timestamp && column.declared.ends_with("with time zone")
}

/// The select expression for a column: numerics travel as text so no digit is lost; JSON
/// documents as their text (`json` as written, `jsonb` as PostgreSQL prints it), put in
/// canonical form by recon; text read as UUIDs travels as `uuid` (any spelling PostgreSQL
/// accepts).
pub(super) fn select_expr(column: &Column) -> String {
    let quoted = ident::quote(Engine::Postgres, &column.name);
    match column.logical {
        LogicalType::Decimal | LogicalType::Json => format!("{quoted}::text"),
        LogicalType::Uuid if uuid_column::storage(column) == Some(UuidStorage::Text) => {
            format!("{quoted}::uuid")
        }
        _ => quoted,
    }
}

/// The ORDER BY term for a key column: text by bytes, never by the database's locale; UUIDs
/// by their bytes (a `uuid`'s own order, which is its lowercase text's).
pub(super) fn order_expr(column: &Column) -> String {
    let quoted = ident::quote(Engine::Postgres, &column.name);
    match column.logical {
        LogicalType::Text => format!("{quoted} COLLATE \"C\""),
        LogicalType::Uuid if uuid_column::storage(column) == Some(UuidStorage::Text) => {
            format!("{quoted}::uuid")
        }
        _ => quoted,
    }
}

pub(super) async fn stream_rows(
    pool: &PgPool,
    spec: &ReadSpec,
    keys: &[Value],
    tz: Tz,
    tx: &mpsc::Sender<Result<RowBatch>>,
) -> Result<()> {
    let statements = super::statements(
        Engine::Postgres,
        spec,
        keys,
        tz,
        stores_instants,
        |_| tz,
        WALL_CLOCK_MARGIN,
    )?;
    // No condition to bind: the whole table comes through COPY (see `copy_rows`).
    let by_copy = statements.len() == 1 && statements[0].is_empty();
    let mut conn = pool.acquire().await.map_err(Error::from_source)?;
    if by_copy {
        // A COPY left unread (the comparison stopped early) would hold its server process
        // until the connection is next used: close it instead of returning it to the pool.
        conn.close_on_drop();
    }
    // One consistent snapshot for every statement; rolled back (nothing to undo) on drop.
    let mut snapshot = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .map_err(Error::from_source)?;
    for conditions in &statements {
        if tx.is_closed() {
            break;
        }
        let sql = select_in_key_order(Engine::Postgres, spec, select_expr, order_expr, conditions);
        if by_copy {
            return copy_rows(&mut snapshot, &sql, spec, tz, tx).await;
        }
        // Every name above passed ident::validate_* and is quoted; values are never pasted.
        let query = conditions.bind(sqlx::query(AssertSqlSafe(sql)));
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

/// A read with no condition to bind goes through `COPY (SELECT …) TO STDOUT (FORMAT binary)`:
/// the same rows, values and snapshot as the query, without sqlx's message and row object per
/// row (a whole-table diff takes about a tenth less CPU). COPY takes no bound parameters, so a
/// read with conditions stays a query.
async fn copy_rows(
    conn: &mut PgConnection,
    select: &str,
    spec: &ReadSpec,
    tz: Tz,
    tx: &mpsc::Sender<Result<RowBatch>>,
) -> Result<()> {
    use futures_util::TryStreamExt;
    // The SELECT is recon's own (quoted names, no values), as for the query.
    let statement = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
    let mut chunks = conn
        .copy_out_raw(&statement)
        .await
        .map_err(Error::from_source)?;
    let mut tuples = pg_wire::CopyTuples::default();
    let mut batch = RowBatch::for_spec(spec);
    let broken = |reason: String| Error::internal(format!("reading {}: {reason}", spec.table));
    while let Some(chunk) = chunks.try_next().await.map_err(Error::from_source)? {
        tuples.feed(&chunk);
        while tuples.advance(spec.columns.len()).map_err(broken)? {
            for (i, column) in spec.columns.iter().enumerate() {
                let value = pg_wire::decode(tuples.field(i), column, tz)
                    .map_err(|reason| column_error(column, reason))?;
                batch.values.push(value);
            }
            if batch.is_full() && tx.send(Ok(batch.take())).await.is_err() {
                return Ok(());
            }
        }
    }
    tuples.finish().map_err(broken)?;
    if !batch.is_empty() {
        let _ = tx.send(Ok(batch)).await;
    }
    Ok(())
}

/// Column `i` of `row`, decoded by [`pg_wire::decode`] from the binary value sqlx received.
pub(super) fn decode_value(
    row: &PgRow,
    i: usize,
    column: &Column,
    tz: Tz,
) -> std::result::Result<Value, String> {
    let value = row.try_get_raw(i).map_err(|e| e.to_string())?;
    if value.is_null() {
        return Ok(Value::Null);
    }
    if value.format() != PgValueFormat::Binary {
        return Err("PostgreSQL sent a value as text, not in its binary format".to_string());
    }
    let bytes = value.as_bytes().map_err(|e| e.to_string())?;
    pg_wire::decode(Some(bytes), column, tz)
}
