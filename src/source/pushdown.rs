//! Digests pushed down into PostgreSQL and MySQL/MariaDB: the canonical row encoding written in
//! each engine's SQL, so rows are hashed where they live and only digests, keys and row hashes
//! travel — full rows only for the keys that differ.
//!
//! JSON columns are the exception: their canonical form (sorted keys, numbers by value; see
//! [`crate::canonical::canonical_json`]) is beyond SQL that only reads. A table with JSON
//! columns has every other column hashed in SQL and its JSON documents read and hashed by recon
//! ([`Snapshot::key_hashes`]): per row, the key, the SQL hash of the rest and the documents
//! travel, and its segment digests are made by recon from those row hashes.

use chrono_tz::Tz;
use sqlx::{AssertSqlSafe, Row};

use super::uuid_column::{self, UuidStorage};
use super::{Column, Conditions, Engine, Param, Pool, ReadSpec, Source, ident, mysql, postgres};
use crate::canonical::{LogicalType, RowHash, SegmentDigest, Value, key_cmp, row_hash};
use crate::error::{Error, Result};

/// The keys of a segment: after `after` (exclusive) up to `up_to` (inclusive); `None` is open.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyRange {
    pub(crate) after: Option<Vec<Value>>,
    pub(crate) up_to: Option<Vec<Value>>,
}

impl KeyRange {
    /// The keys after `after` (exclusive) up to `up_to` (inclusive); `None` leaves that end open.
    pub fn between(after: Option<Vec<Value>>, up_to: Option<Vec<Value>>) -> KeyRange {
        KeyRange { after, up_to }
    }

    /// Whether `key` falls in the range, in the canonical key order of the merge.
    pub(crate) fn contains(&self, key: &[Value]) -> bool {
        use std::cmp::Ordering;
        self.after
            .as_deref()
            .is_none_or(|after| key_cmp(key, after) == Ordering::Greater)
            && self
                .up_to
                .as_deref()
                .is_none_or(|up_to| key_cmp(key, up_to) != Ordering::Greater)
    }
}

/// Adds `spec`'s key range (a shard's part of a split check), as bound key comparisons, to the
/// conditions of a streamed read, where SQL compares the keys exactly as recon orders them:
/// not for a wall-clock timestamp key outside UTC, whose rows the reader alone then trims.
pub(super) fn push_key_range(
    conditions: &mut Conditions,
    engine: Engine,
    spec: &ReadSpec,
    zone: Tz,
) -> Result<()> {
    let Some(range) = &spec.key_range else {
        return Ok(());
    };
    let wall_clock_elsewhere = spec.columns[..spec.key_len].iter().any(|column| {
        column.logical == LogicalType::Timestamp
            && !stores_instants(engine, column)
            && zone_of(engine, column, zone) != chrono_tz::UTC
    });
    if engine == Engine::Sqlite || wall_clock_elsewhere {
        return Ok(());
    }
    if let Some(after) = &range.after {
        push_key_comparison(conditions, engine, spec, ">", after)?;
    }
    if let Some(up_to) = &range.up_to {
        push_key_comparison(conditions, engine, spec, "<=", up_to)?;
    }
    Ok(())
}

/// Why `spec` cannot be hashed in SQL on `engine` exactly as recon hashes it, if it cannot.
/// `hashed` is how many of the read columns are hashed; `zone` the source's zone for
/// wall-clock timestamps.
pub(crate) fn unsupported(
    engine: Engine,
    spec: &ReadSpec,
    hashed: usize,
    zone: Tz,
) -> Option<String> {
    if engine == Engine::Sqlite {
        return Some("SQLite has no SHA-256 in SQL".to_string());
    }
    let day_column = spec.day.and_then(|day| spec.columns.get(day.column));
    let settle_column = spec.in_flight.and_then(|f| spec.columns.get(f.column));
    for column in spec.columns[..hashed.min(spec.columns.len())]
        .iter()
        .chain(day_column)
        .chain(settle_column)
    {
        if column.logical.not_comparable().is_some() {
            return Some(format!("column {:?} cannot be compared", column.name));
        }
        if column.logical == LogicalType::Timestamp
            && !stores_instants(engine, column)
            && zone_of(engine, column, zone) != chrono_tz::UTC
        {
            return Some(format!(
                "column {:?} holds wall-clock times in {}; only UTC ones are converted in SQL",
                column.name,
                zone.name()
            ));
        }
    }
    let mut scratch = Conditions::new(engine);
    if !push_filter(&mut scratch, engine, spec, zone) {
        return Some("its where filter cannot be applied exactly in SQL".to_string());
    }
    None
}

/// The zone a column's wall-clock values are in: the source's, but MySQL shows TIMESTAMP
/// columns in the session's zone, UTC.
fn zone_of(engine: Engine, column: &Column, zone: Tz) -> Tz {
    match engine {
        Engine::MySql => mysql::wall_clock_zone(column, zone),
        _ => zone,
    }
}

/// The read's where filter in SQL, as the streamed read pushes it; whether it is exact there.
fn push_filter(conditions: &mut Conditions, engine: Engine, spec: &ReadSpec, zone: Tz) -> bool {
    super::filter::push_filter(
        conditions,
        engine,
        spec,
        |c| engine == Engine::Postgres && stores_instants(engine, c),
        |c| zone_of(engine, c, zone),
    )
}

/// Whether SQL compares the column's values as instants (else as UTC wall-clock times).
fn stores_instants(engine: Engine, column: &Column) -> bool {
    match engine {
        Engine::Postgres => postgres::stores_instants(column),
        // Shown in the session's zone, UTC: wall-clock times that are already UTC.
        Engine::MySql => mysql::shown_in_utc(column),
        Engine::Sqlite => false,
    }
}

/// The column's canonical text in SQL, NULL for NULL.
fn text_expr(engine: Engine, column: &Column) -> String {
    let q = ident::quote(engine, &column.name);
    match (engine, column.logical) {
        (Engine::Postgres, LogicalType::Uuid) => match uuid_column::storage(column) {
            Some(UuidStorage::Text) => format!("{q}::uuid::text"),
            Some(UuidStorage::Bytes) => format!("encode({q}, 'hex')::uuid::text"),
            _ => format!("{q}::text"),
        },
        (Engine::Postgres, LogicalType::Integer) => format!("{q}::text"),
        // By value: trailing zeros trimmed; numeric has no negative zero.
        (Engine::Postgres, LogicalType::Decimal) => format!("trim_scale({q})::text"),
        (Engine::Postgres, LogicalType::Boolean) => {
            format!("CASE WHEN {q} THEN 'true' WHEN NOT {q} THEN 'false' END")
        }
        (Engine::Postgres, LogicalType::Timestamp) if stores_instants(engine, column) => {
            pg_year_and(
                &format!("({q} AT TIME ZONE 'UTC')"),
                "-MM-DD\"T\"HH24:MI:SS.US\"Z\"",
            )
        }
        (Engine::Postgres, LogicalType::Timestamp) => {
            pg_year_and(&q, "-MM-DD\"T\"HH24:MI:SS.US\"Z\"")
        }
        (Engine::Postgres, LogicalType::Date) => pg_year_and(&q, "-MM-DD"),
        (Engine::Postgres, LogicalType::Bytes) => format!("encode({q}, 'hex')"),
        // CHAR(n) padding is not part of the value (the cast to text drops it).
        (Engine::Postgres, LogicalType::Text) => format!("{q}::text"),
        (_, LogicalType::Integer) => format!("CAST({q} AS CHAR)"),
        (_, LogicalType::Decimal) => {
            let s = format!("CAST({q} AS CHAR)");
            format!(
                "CASE WHEN {q} = 0 THEN '0' WHEN LOCATE('.', {s}) > 0 THEN TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM {s})) ELSE {s} END"
            )
        }
        (_, LogicalType::Boolean) => format!("CASE {q} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END"),
        (_, LogicalType::Timestamp) => format!("DATE_FORMAT({q}, '%Y-%m-%dT%H:%i:%s.%fZ')"),
        (_, LogicalType::Date) => format!("DATE_FORMAT({q}, '%Y-%m-%d')"),
        (_, LogicalType::Bytes) => format!("LOWER(HEX({q}))"),
        (_, LogicalType::Uuid) if uuid_column::storage(column) == Some(UuidStorage::Bytes) => {
            let h = format!("LOWER(HEX({q}))");
            format!(
                "CONCAT_WS('-', SUBSTR({h}, 1, 8), SUBSTR({h}, 9, 4), SUBSTR({h}, 13, 4), SUBSTR({h}, 17, 4), SUBSTR({h}, 21))"
            )
        }
        (_, LogicalType::Uuid) => mysql::uuid_text(&q),
        (_, _) => format!("CONVERT({q} USING utf8mb4)"),
    }
}

/// A PostgreSQL date or timestamp `v` as chrono writes it: the year in four digits for years 0
/// to 9999, else signed (`+10000`, `-0043` for 44 BC: there is no year 0 in PostgreSQL's BC
/// numbering), then the rest of `format` (a `to_char` pattern). `to_char`'s own `YYYY` writes
/// 44 BC and 44 AD alike, and years past 9999 unsigned.
fn pg_year_and(v: &str, format: &str) -> String {
    let year = format!("extract(year FROM {v})::int");
    format!(
        "CASE WHEN {year} > 9999 THEN '+' || {year}::text \
         WHEN {year} < 0 THEN (CASE WHEN {year} = -1 THEN '0000' ELSE '-' || lpad((-{year} - 1)::text, 4, '0') END) \
         ELSE to_char({v}, 'YYYY') END || to_char({v}, '{format}')"
    )
}

/// The condition that holds for a value of `column` recon cannot put in canonical form:
/// PostgreSQL's `±infinity`, and dates and timestamps past the last day recon's calendar
/// holds (PostgreSQL's reach further). `None` for columns that hold no such values.
fn pg_uncomparable(column: &Column) -> Option<String> {
    let q = ident::quote(Engine::Postgres, &column.name);
    use chrono::Datelike;
    let last = chrono::NaiveDate::MAX;
    // PostgreSQL reads no `+` before a year
    let last_day = format!("{}-{:02}-{:02}", last.year(), last.month(), last.day());
    match column.logical {
        LogicalType::Date => Some(format!("(NOT isfinite({q}) OR {q} > '{last_day}'::date)")),
        LogicalType::Timestamp => {
            let cast = if postgres::stores_instants(column) {
                "timestamptz"
            } else {
                "timestamp"
            };
            let zone = if cast == "timestamptz" { "+00" } else { "" };
            Some(format!(
                "(NOT isfinite({q}) OR {q} > '{last_day} 23:59:59.999999{zone}'::{cast})"
            ))
        }
        _ => None,
    }
}

/// One field of the canonical encoding: `N`, or `V<byte length>:<text>`.
fn field_expr(engine: Engine, column: &Column) -> String {
    let t = text_expr(engine, column);
    match engine {
        Engine::Postgres => format!("COALESCE('V' || octet_length({t}) || ':' || {t}, 'N')"),
        _ => format!("COALESCE(CONCAT('V', LENGTH({t}), ':', {t}), 'N')"),
    }
}

/// Whether any of the first `hashed` columns of `spec` is JSON: read and hashed by recon.
pub(crate) fn reads_json(spec: &ReadSpec, hashed: usize) -> bool {
    spec.columns[..hashed.min(spec.columns.len())]
        .iter()
        .any(|c| c.logical == LogicalType::Json)
}

/// The row hash of `columns` (key columns then compared ones) as lowercase hex; JSON columns
/// are left out (recon hashes them: see [`Snapshot::key_hashes`]).
fn row_hash_expr(engine: Engine, columns: &[Column]) -> String {
    let fields: Vec<String> = columns
        .iter()
        .filter(|c| c.logical != LogicalType::Json)
        .map(|c| field_expr(engine, c))
        .collect();
    match engine {
        Engine::Postgres => format!(
            "encode(sha256(convert_to(concat({}), 'UTF8')), 'hex')",
            fields.join(", ")
        ),
        _ => format!("SHA2(CONCAT({}), 256)", fields.join(", ")),
    }
}

/// `spec`'s select expression and ORDER BY term for a column on a server engine.
fn select_expr(engine: Engine, column: &Column) -> String {
    match engine {
        Engine::Postgres => postgres::select_expr(column),
        _ => mysql::select_expr(column),
    }
}

fn order_expr(engine: Engine, column: &Column) -> String {
    match engine {
        Engine::Postgres => postgres::order_expr(column),
        _ => mysql::order_expr(column),
    }
}

/// A key value as a bound parameter, with the SQL that places it in key order (cast where the
/// engine needs, text by its bytes).
fn key_param(
    conditions: &mut Conditions,
    engine: Engine,
    column: &Column,
    value: &Value,
) -> Result<String> {
    let p = typed_param(conditions, engine, column, value)?;
    Ok(match (engine, column.logical) {
        (Engine::Postgres, LogicalType::Text) => format!("{p} COLLATE \"C\""),
        (Engine::MySql, LogicalType::Text) => format!("CAST({p} AS BINARY)"),
        (Engine::MySql, LogicalType::Uuid)
            if uuid_column::storage(column) != Some(UuidStorage::Bytes) =>
        {
            format!("CAST({p} AS BINARY)")
        }
        _ => p,
    })
}

/// The key column as [`typed_param`]'s values are matched against it (`k IN (…)`): the column
/// itself, but a text column read as UUIDs in the form its UUID parameters take.
pub(super) fn key_match_expr(engine: Engine, column: &Column) -> String {
    let q = ident::quote(engine, &column.name);
    match (engine, uuid_column::storage(column)) {
        (Engine::Postgres, Some(UuidStorage::Text)) => format!("{q}::uuid"),
        (Engine::MySql, Some(UuidStorage::Text)) => mysql::uuid_text(&q),
        _ => q,
    }
}

/// A value of `column` as a bound parameter, with the SQL that places it as the column's type
/// (cast where the engine needs): what an equality with the plain column, which an index on it
/// serves, compares.
pub(super) fn typed_param(
    conditions: &mut Conditions,
    engine: Engine,
    column: &Column,
    value: &Value,
) -> Result<String> {
    let param = match value {
        Value::Int(n) => Param::Int(i64::try_from(*n).map_err(|_| {
            Error::internal(format!("key {n} of {:?} is past 64 bits", column.name))
        })?),
        Value::Decimal(d) => Param::Text(d.clone()),
        Value::Bool(b) => Param::Bool(*b),
        Value::Timestamp(t) if stores_instants(engine, column) && engine == Engine::Postgres => {
            Param::Instant(*t)
        }
        Value::Timestamp(t) => Param::WallClock(t.naive_utc()),
        Value::Date(d) => Param::Date(*d),
        Value::Uuid(u) if uuid_column::storage(column) == Some(UuidStorage::Bytes) => {
            Param::Bytes(u.as_bytes().to_vec())
        }
        Value::Uuid(u) => Param::Text(u.to_string()),
        Value::Bytes(b) => Param::Bytes(b.clone()),
        Value::Text(s) => Param::Text(s.clone()),
        Value::Json(_) => {
            return Err(Error::internal(format!(
                "a JSON value of {:?} cannot be bound as a key",
                column.name
            )));
        }
        Value::Null => {
            return Err(Error::internal(format!(
                "a NULL key in {:?} cannot bound a segment",
                column.name
            )));
        }
    };
    let p = conditions.param(param);
    Ok(match (engine, column.logical) {
        (Engine::Postgres, LogicalType::Decimal) => format!("{p}::numeric"),
        (Engine::Postgres, LogicalType::Uuid)
            if uuid_column::storage(column) != Some(UuidStorage::Bytes) =>
        {
            format!("{p}::uuid")
        }
        (Engine::MySql, LogicalType::Decimal) => format!("CAST({p} AS DECIMAL(65,30))"),
        _ => p,
    })
}

/// `(k1, k2) <op> (v1, v2)` in key order (text by bytes), values bound.
fn push_key_comparison(
    conditions: &mut Conditions,
    engine: Engine,
    spec: &ReadSpec,
    op: &str,
    key: &[Value],
) -> Result<()> {
    let columns = &spec.columns[..spec.key_len];
    let terms: Vec<String> = columns.iter().map(|c| order_expr(engine, c)).collect();
    let mut values = Vec::with_capacity(key.len());
    for (column, value) in columns.iter().zip(key) {
        values.push(key_param(conditions, engine, column, value)?);
    }
    conditions.push(if terms.len() == 1 {
        format!("{} {op} {}", terms[0], values[0])
    } else {
        format!("({}) {op} ({})", terms.join(", "), values.join(", "))
    });
    Ok(())
}

/// Which rows a pushed-down read wants besides its day, filter and key range.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// Settled rows only: what digests and row hashes compare.
    Settled,
    /// Rows in flight too: what a judgement of individual keys needs to see.
    All,
}

/// The WHERE of a pushed-down read of `range`: the exact business day, the filter, the rows
/// still in flight left out (for `Rows::Settled`), then the key bounds.
fn conditions(
    source: &Source,
    spec: &ReadSpec,
    range: &KeyRange,
    rows: Rows,
) -> Result<Conditions> {
    let engine = source.engine;
    let mut conditions = Conditions::new(engine);
    // Digests need the exact day and filter in SQL (`unsupported` refused any read where they
    // are not); rows fetched by key are trimmed exactly by `ReadSpec::wants` after a superset.
    let margin = match rows {
        Rows::Settled => chrono::Duration::zero(),
        Rows::All => super::WALL_CLOCK_MARGIN,
    };
    let instants = |c: &Column| stores_instants(engine, c);
    let zone = |c: &Column| zone_of(engine, c, source.timezone);
    if let Some(term) = super::day_term(&mut conditions, engine, spec, instants, zone, margin) {
        conditions.push(term);
    }
    push_filter(&mut conditions, engine, spec, source.timezone);
    if let (Some(in_flight), Rows::Settled) = (spec.in_flight, rows)
        && let Some(column) = spec.columns.get(in_flight.column)
    {
        let since = in_flight_param(engine, column, spec)?;
        let q = ident::quote(engine, &column.name);
        let since = conditions.param(since);
        conditions.push(format!("({q} < {since} OR {q} IS NULL)"));
    }
    push_key_range(&mut conditions, engine, spec, source.timezone)?;
    if let Some(after) = &range.after {
        push_key_comparison(&mut conditions, engine, spec, ">", after)?;
    }
    if let Some(up_to) = &range.up_to {
        push_key_comparison(&mut conditions, engine, spec, "<=", up_to)?;
    }
    Ok(conditions)
}

/// The instant rows start being in flight, as the settle column's type compares it.
fn in_flight_param(engine: Engine, column: &Column, spec: &ReadSpec) -> Result<Param> {
    let since = spec
        .in_flight
        .ok_or_else(|| Error::internal("no settle time to compare with"))?
        .since;
    // `unsupported` refused wall-clock columns outside UTC.
    Ok(
        if engine == Engine::Postgres && stores_instants(engine, column) {
            Param::Instant(since)
        } else {
            Param::WallClock(since.naive_utc())
        },
    )
}

fn key_order(engine: Engine, spec: &ReadSpec) -> String {
    spec.columns[..spec.key_len]
        .iter()
        .map(|c| order_expr(engine, c))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted_keys(engine: Engine, spec: &ReadSpec) -> String {
    spec.columns[..spec.key_len]
        .iter()
        .map(|c| ident::quote(engine, &c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The longest concatenation of row hashes MySQL may build for one segment digest.
const GROUP_CONCAT_MAX_LEN: u64 = 64 << 20;

/// One side read inside one consistent, read-only snapshot: every query of a bisection sees the
/// same rows. Rolled back (there is nothing to undo) when dropped.
pub struct Snapshot {
    engine: Engine,
    tz: Tz,
    source: String,
    tx: SnapshotTx,
}

enum SnapshotTx {
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    MySql(sqlx::Transaction<'static, sqlx::MySql>),
}

/// Runs `$body` with `$q` (a query built from `$sql`, parameters bound) against the snapshot's
/// connection, on whichever engine it is.
macro_rules! on_engine {
    ($self:ident, $sql:expr, $conditions:expr, |$q:ident, $conn:ident, $decode:ident| $body:expr) => {
        match &mut $self.tx {
            SnapshotTx::Postgres(tx) => {
                let $q = $conditions.bind(sqlx::query(AssertSqlSafe($sql)));
                let $conn = &mut **tx;
                let $decode = postgres::decode_value;
                $body
            }
            SnapshotTx::MySql(tx) => {
                let tagged = format!("{}{}", mysql::STATEMENT_TAG, $sql);
                let $q = $conditions.bind(sqlx::query(AssertSqlSafe(tagged)));
                let $conn = &mut **tx;
                let $decode = mysql::decode_value;
                $body
            }
        }
    };
}

impl Snapshot {
    /// Opens a snapshot on a PostgreSQL or MySQL/MariaDB source.
    pub async fn open(source: &Source) -> Result<Snapshot> {
        let context = |e: Error| e.context(format!("source {}", source.name));
        let tx = match &source.pool {
            Pool::Postgres(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
                    .map_err(Error::from_source)
                    .map_err(context)?;
                // Byte lengths and hashes in SQL are over UTF-8 only in a UTF-8 database.
                let encoding: String = sqlx::query_scalar("SHOW server_encoding")
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(Error::from_source)
                    .map_err(context)?;
                if encoding != "UTF8" {
                    return Err(context(Error::bad_input(format!(
                        "the database is {encoding}, not UTF8: digests are not pushed down into it; use the stream strategy"
                    ))));
                }
                SnapshotTx::Postgres(tx)
            }
            Pool::MySql(pool) => {
                let mut tx = pool
                    .begin_with("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .await
                    .map_err(Error::from_source)
                    .map_err(context)?;
                let sql = format!("SET SESSION group_concat_max_len = {GROUP_CONCAT_MAX_LEN}");
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::from_source)
                    .map_err(context)?;
                SnapshotTx::MySql(tx)
            }
            Pool::Sqlite(_) => {
                return Err(Error::internal(format!(
                    "source {}: digests are not pushed down into SQLite",
                    source.name
                )));
            }
        };
        Ok(Snapshot {
            engine: source.engine,
            tz: source.timezone,
            source: source.name.clone(),
            tx,
        })
    }

    fn context(&self, spec: &ReadSpec) -> impl Fn(Error) -> Error {
        let at = format!("source {}, table {}", self.source, spec.table);
        move |e| e.context(at.clone())
    }

    /// How many rows of `spec` fall in `range`.
    pub(crate) async fn count(
        &mut self,
        source: &Source,
        spec: &ReadSpec,
        range: &KeyRange,
    ) -> Result<u64> {
        let conditions = conditions(source, spec, range, Rows::Settled)?;
        let sql = format!(
            "SELECT COUNT(*) FROM {}{}",
            ident::quote_table(self.engine, &spec.table),
            conditions.where_clause()
        );
        let count: i64 = on_engine!(self, sql, conditions, |q, conn, _decode| {
            q.fetch_one(conn)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(Error::from_source)
        })
        .map_err(self.context(spec))?;
        u64::try_from(count).map_err(|_| Error::internal("a negative row count"))
    }

    /// The segment digest of `range` — SHA-256 over its row hashes (hex) in key order — with its
    /// row count. `hashed` is how many read columns make the row hash.
    pub async fn digest(
        &mut self,
        source: &Source,
        spec: &ReadSpec,
        hashed: usize,
        range: &KeyRange,
    ) -> Result<(u64, String)> {
        if reads_json(spec, hashed) {
            let mut digest = SegmentDigest::new();
            for (_, hash) in self.key_hashes(source, spec, hashed, range).await? {
                digest.push(&hash);
            }
            let (digest, rows) = digest.finish();
            return Ok((rows, digest));
        }
        let engine = self.engine;
        let conditions = conditions(source, spec, range, Rows::Settled)?;
        let order = key_order(engine, spec);
        let inner = format!(
            "SELECT {}, {} AS recon_row_hash FROM {}{}",
            quoted_keys(engine, spec),
            row_hash_expr(engine, &spec.columns[..hashed]),
            ident::quote_table(engine, &spec.table),
            conditions.where_clause()
        );
        let sql = match engine {
            // PostgreSQL aggregates an ordered subquery in its order (an ORDER BY inside
            // string_agg would sort again, which doubles the cost). Were it ever to reorder,
            // the digest would only differ — a false lead that narrowing clears — never agree
            // falsely: different sets of row hashes cannot concatenate alike.
            Engine::Postgres => format!(
                "SELECT COUNT(*), encode(sha256(convert_to(COALESCE(string_agg(recon_row_hash, ''), ''), 'UTF8')), 'hex') FROM ({inner} ORDER BY {order}) s"
            ),
            _ => format!(
                "SELECT COUNT(*), SHA2(COALESCE(GROUP_CONCAT(recon_row_hash ORDER BY {order} SEPARATOR ''), ''), 256) FROM ({inner}) s"
            ),
        };
        let (count, digest): (i64, String) = on_engine!(self, sql, conditions, |q, conn, _d| {
            q.fetch_one(conn)
                .await
                .and_then(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
                .map_err(Error::from_source)
        })
        .map_err(self.context(spec))?;
        let count = u64::try_from(count).map_err(|_| Error::internal("a negative row count"))?;
        if engine == Engine::MySql && count.saturating_mul(64) > GROUP_CONCAT_MAX_LEN {
            return Err(Error::internal(format!(
                "a segment of {count} rows is too large to digest on MySQL"
            )));
        }
        Ok((count, digest))
    }

    /// Refuses what the streamed read refuses: a row whose date or timestamp recon cannot put
    /// in canonical form (PostgreSQL's `±infinity`, years past recon's calendar). The first such
    /// row is read and decoded as the stream decodes it, so the error is the stream's (exit 2,
    /// naming the column) — SQL would hash it instead (`to_char` of infinity is NULL).
    pub(crate) async fn refuse_uncomparable(
        &mut self,
        source: &Source,
        spec: &ReadSpec,
    ) -> Result<()> {
        if self.engine != Engine::Postgres {
            return Ok(());
        }
        let terms: Vec<String> = spec.columns.iter().filter_map(pg_uncomparable).collect();
        if terms.is_empty() {
            return Ok(());
        }
        let mut conditions = conditions(source, spec, &KeyRange::default(), Rows::All)?;
        conditions.push(format!("({})", terms.join(" OR ")));
        let sql = format!(
            "SELECT {} FROM {}{} LIMIT 1",
            select_list(self.engine, &spec.columns),
            ident::quote_table(self.engine, &spec.table),
            conditions.where_clause()
        );
        self.fetch_decoded(spec, sql, conditions, &spec.columns)
            .await
            .map(|_| ())
    }

    /// The `n`-th key after `after` (all keys when `None`), in key order: the upper bound of a
    /// segment of `n` rows; `None` when fewer rows are left.
    pub(crate) async fn nth_key_after(
        &mut self,
        source: &Source,
        spec: &ReadSpec,
        after: Option<&[Value]>,
        n: u64,
    ) -> Result<Option<Vec<Value>>> {
        let engine = self.engine;
        let range = KeyRange {
            after: after.map(<[Value]>::to_vec),
            up_to: None,
        };
        let mut conditions = conditions(source, spec, &range, Rows::Settled)?;
        let offset = conditions.param(Param::Int(
            i64::try_from(n.saturating_sub(1)).unwrap_or(i64::MAX),
        ));
        let keys = select_list(engine, &spec.columns[..spec.key_len]);
        let sql = format!(
            "{} LIMIT 1 OFFSET {offset}",
            select_in_key_order(engine, spec, &keys, &conditions)
        );
        let key_columns = &spec.columns[..spec.key_len];
        let tz = self.tz;
        on_engine!(self, sql, conditions, |q, conn, decode| {
            let row = q.fetch_optional(conn).await.map_err(Error::from_source)?;
            row.map(|row| decode_key(&row, key_columns, tz, decode))
                .transpose()
        })
        .map_err(self.context(spec))
    }

    /// Every `step`-th key of `range` in key order: the upper bounds of segments of `step` rows.
    pub(crate) async fn boundaries(
        &mut self,
        source: &Source,
        spec: &ReadSpec,
        range: &KeyRange,
        step: u64,
    ) -> Result<Vec<Vec<Value>>> {
        let engine = self.engine;
        let mut conditions = conditions(source, spec, range, Rows::Settled)?;
        let step = i64::try_from(step.max(1)).unwrap_or(i64::MAX);
        let order = key_order(engine, spec);
        let inner = format!(
            "SELECT {}, ROW_NUMBER() OVER (ORDER BY {order}) AS recon_row_number FROM {}{}",
            quoted_keys(engine, spec),
            ident::quote_table(engine, &spec.table),
            conditions.where_clause()
        );
        let p = conditions.param(Param::Int(step));
        let sql = format!(
            "SELECT {} FROM ({inner}) s WHERE MOD(recon_row_number, {p}) = 0 ORDER BY recon_row_number",
            select_list(engine, &spec.columns[..spec.key_len])
        );
        self.fetch_decoded(spec, sql, conditions, &spec.columns[..spec.key_len])
            .await
    }

    /// The key and row hash of every row in `range`, in key order. Without JSON columns the
    /// row hash is recon's canonical one, computed in SQL. With them, SQL hashes the other
    /// columns and recon hashes that hash with the documents in canonical form: SHA-256 of the
    /// encoded fields `[SQL hash as hex text, JSON values…]` — the same on every engine, though
    /// not the streamed row hash.
    pub async fn key_hashes(
        &mut self,
        source: &Source,
        spec: &ReadSpec,
        hashed: usize,
        range: &KeyRange,
    ) -> Result<Vec<(Vec<Value>, RowHash)>> {
        let engine = self.engine;
        let conditions = conditions(source, spec, range, Rows::Settled)?;
        let hashed_columns = &spec.columns[..hashed.min(spec.columns.len())];
        let json: Vec<Column> = hashed_columns
            .iter()
            .filter(|c| c.logical == LogicalType::Json)
            .cloned()
            .collect();
        let mut select = format!(
            "{}, {}",
            select_list(engine, &spec.columns[..spec.key_len]),
            row_hash_expr(engine, hashed_columns)
        );
        if !json.is_empty() {
            select = format!("{select}, {}", select_list(engine, &json));
        }
        let sql = select_in_key_order(engine, spec, &select, &conditions);
        let key_columns = &spec.columns[..spec.key_len];
        let tz = self.tz;
        let at = spec.key_len;
        on_engine!(self, sql, conditions, |q, conn, decode| {
            let rows = q.fetch_all(conn).await.map_err(Error::from_source)?;
            rows.iter()
                .map(|row| {
                    let key = decode_key(row, key_columns, tz, decode)?;
                    let hex: String = row.try_get(at).map_err(Error::from_source)?;
                    let mut hash = [0u8; 32];
                    hex::decode_to_slice(hex.as_bytes(), &mut hash).map_err(|e| {
                        Error::internal(format!("a pushed-down row hash {hex:?}: {e}"))
                    })?;
                    if json.is_empty() {
                        return Ok((key, hash));
                    }
                    let mut fields = vec![Value::Text(hex)];
                    for (i, column) in json.iter().enumerate() {
                        let value = decode(row, at + 1 + i, column, tz)
                            .map_err(|reason| super::column_error(column, reason))?;
                        fields.push(value);
                    }
                    Ok((key, row_hash(&fields)))
                })
                .collect::<Result<Vec<_>>>()
        })
        .map_err(self.context(spec))
    }

    /// The keys of the rows still in flight (none without a settle column), in key order.
    pub(crate) async fn in_flight_keys(
        &mut self,
        source: &Source,
        spec: &ReadSpec,
    ) -> Result<Vec<Vec<Value>>> {
        let engine = self.engine;
        let Some(column) = spec.in_flight.and_then(|f| spec.columns.get(f.column)) else {
            return Ok(Vec::new());
        };
        let mut conditions = conditions(source, spec, &KeyRange::default(), Rows::All)?;
        let q = ident::quote(engine, &column.name);
        let since = in_flight_param(engine, column, spec)?;
        let since = conditions.param(since);
        conditions.push(format!("{q} >= {since}"));
        let keys = select_list(engine, &spec.columns[..spec.key_len]);
        let sql = select_in_key_order(engine, spec, &keys, &conditions);
        self.fetch_decoded(spec, sql, conditions, &spec.columns[..spec.key_len])
            .await
    }

    /// The full rows (every read column, decoded) of `keys`, in key order.
    pub(crate) async fn rows(
        &mut self,
        source: &Source,
        spec: &ReadSpec,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Vec<Value>>> {
        let engine = self.engine;
        let mut conditions = conditions(source, spec, &KeyRange::default(), Rows::All)?;
        let key_columns = &spec.columns[..spec.key_len];
        let mut tuples = Vec::with_capacity(keys.len());
        for key in keys {
            let mut values = Vec::with_capacity(key.len());
            for (column, value) in key_columns.iter().zip(key) {
                values.push(key_param(&mut conditions, engine, column, value)?);
            }
            tuples.push(format!("({})", values.join(", ")));
        }
        let terms: Vec<String> = key_columns.iter().map(|c| order_expr(engine, c)).collect();
        conditions.push(format!("({}) IN ({})", terms.join(", "), tuples.join(", ")));
        let columns = select_list(engine, &spec.columns);
        let sql = select_in_key_order(engine, spec, &columns, &conditions);
        let rows = self
            .fetch_decoded(spec, sql, conditions, &spec.columns)
            .await?;
        Ok(rows.into_iter().filter(|row| spec.wants(row)).collect())
    }

    /// The rows `sql` selects, each row's first `columns.len()` values decoded.
    async fn fetch_decoded(
        &mut self,
        spec: &ReadSpec,
        sql: String,
        conditions: Conditions,
        columns: &[Column],
    ) -> Result<Vec<Vec<Value>>> {
        let tz = self.tz;
        on_engine!(self, sql, conditions, |q, conn, decode| {
            let rows = q.fetch_all(conn).await.map_err(Error::from_source)?;
            rows.iter()
                .map(|row| decode_key(row, columns, tz, decode))
                .collect::<Result<Vec<_>>>()
        })
        .map_err(self.context(spec))
    }
}

/// `columns` as a statement selects them (for decoding as the streaming reader decodes), joined.
fn select_list(engine: Engine, columns: &[Column]) -> String {
    columns
        .iter()
        .map(|c| select_expr(engine, c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `SELECT <select> FROM <table> WHERE <conditions> ORDER BY <the key, binary order>`.
fn select_in_key_order(
    engine: Engine,
    spec: &ReadSpec,
    select: &str,
    conditions: &Conditions,
) -> String {
    format!(
        "SELECT {select} FROM {}{} ORDER BY {}",
        ident::quote_table(engine, &spec.table),
        conditions.where_clause(),
        key_order(engine, spec)
    )
}

/// The first `columns.len()` values of `row`, decoded as the streaming reader decodes them.
fn decode_key<R>(
    row: &R,
    columns: &[Column],
    tz: Tz,
    decode: fn(&R, usize, &Column, Tz) -> std::result::Result<Value, String>,
) -> Result<Vec<Value>> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            decode(row, i, column, tz).map_err(|reason| {
                Error::bad_input(format!(
                    "column {:?} ({}): {reason}",
                    column.name, column.declared
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(name: &str, declared: &str, logical: LogicalType) -> Column {
        Column {
            name: name.to_string(),
            declared: declared.to_string(),
            logical,
        }
    }

    #[test]
    fn fields_are_written_per_engine() {
        let amount = column("amount", "numeric(18,4)", LogicalType::Decimal);
        assert_eq!(
            field_expr(Engine::Postgres, &amount),
            "COALESCE('V' || octet_length(trim_scale(\"amount\")::text) || ':' || trim_scale(\"amount\")::text, 'N')"
        );
        let memo = column("memo", "varchar(20)", LogicalType::Text);
        assert_eq!(
            field_expr(Engine::MySql, &memo),
            "COALESCE(CONCAT('V', LENGTH(CONVERT(`memo` USING utf8mb4)), ':', CONVERT(`memo` USING utf8mb4)), 'N')"
        );
    }

    #[test]
    fn json_columns_are_left_out_of_the_sql_row_hash_for_recon_to_hash() {
        let columns = [
            column("id", "bigint", LogicalType::Integer),
            column("doc", "jsonb", LogicalType::Json),
        ];
        assert_eq!(
            row_hash_expr(Engine::Postgres, &columns),
            row_hash_expr(Engine::Postgres, &columns[..1])
        );
        let spec = ReadSpec {
            table: "t".into(),
            columns: columns.to_vec(),
            key_len: 1,
            day: None,
            filter: None,
            in_flight: None,
            key_range: None,
            unordered: false,
        };
        assert!(reads_json(&spec, 2));
        assert!(!reads_json(&spec, 1), "only hashed columns count");
        assert_eq!(unsupported(Engine::MySql, &spec, 2, chrono_tz::UTC), None);
        assert_eq!(select_expr(Engine::Postgres, &columns[1]), "\"doc\"::text");
        assert_eq!(
            select_expr(Engine::MySql, &columns[1]),
            "CAST(`doc` AS CHAR)"
        );
    }

    #[test]
    fn wall_clock_times_outside_utc_are_not_pushed_down() {
        let spec = ReadSpec {
            table: "t".into(),
            columns: vec![
                column("id", "bigint", LogicalType::Integer),
                column("at", "timestamp without time zone", LogicalType::Timestamp),
            ],
            key_len: 1,
            day: None,
            filter: None,
            in_flight: None,
            key_range: None,
            unordered: false,
        };
        assert_eq!(
            unsupported(Engine::Postgres, &spec, 2, chrono_tz::UTC),
            None
        );
        assert_eq!(
            unsupported(Engine::Postgres, &spec, 2, chrono_tz::Europe::Amsterdam).as_deref(),
            Some(
                "column \"at\" holds wall-clock times in Europe/Amsterdam; only UTC ones are converted in SQL"
            )
        );
        assert!(unsupported(Engine::Sqlite, &spec, 2, chrono_tz::UTC).is_some());
    }
}
