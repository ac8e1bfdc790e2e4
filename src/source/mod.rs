//! Connections to the sources recon checks, read-only, one module per engine.

mod condition;
pub mod filter;
pub(crate) mod ident;
mod mysql;
mod pg_wire;
pub mod pool;
mod postgres;
pub mod pushdown;
mod sqlite;
pub(crate) mod text;
pub(crate) mod tls;
pub(crate) mod uuid_column;

use chrono_tz::Tz;
use tokio::sync::mpsc;

pub(crate) use condition::{Conditions, Param};

use crate::canonical::{LogicalType, Value};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::secret::redact_urls;

/// How to reach one source and how hard recon may use it, as the configuration gives it; its `Debug`
/// shows the URL with its passwords redacted.
#[derive(Clone)]
pub struct SourceSpec {
    pub name: String,
    pub url: String,
    pub timezone: Tz,
    pub max_connections: u32,
    pub statement_timeout_secs: u64,
    pub connect_timeout_secs: u64,
    pub retry: RetryPolicy,
}

impl std::fmt::Debug for SourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceSpec")
            .field("name", &self.name)
            .field("url", &crate::secret::Redacted(&self.url))
            .field("timezone", &self.timezone)
            .field("max_connections", &self.max_connections)
            .field("statement_timeout_secs", &self.statement_timeout_secs)
            .field("connect_timeout_secs", &self.connect_timeout_secs)
            .field("retry", &self.retry)
            .finish()
    }
}

/// The database engines a source or the store can live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Sqlite,
    Postgres,
    MySql,
}

impl Engine {
    /// Tells the engine from a connection URL's scheme.
    pub(crate) fn from_url(url: &str) -> Result<Engine> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(Engine::Sqlite),
            "postgres" | "postgresql" => Ok(Engine::Postgres),
            "mysql" | "mariadb" => Ok(Engine::MySql),
            _ => Err(Error::bad_input(format!(
                "{:?} is not a database URL recon knows (sqlite://…, postgres://…, mysql://…)",
                redact_urls(url)
            ))),
        }
    }
}

/// A column as the source's catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as declared in the source (for messages).
    pub(crate) declared: String,
    pub(crate) logical: LogicalType,
}

/// How the rows of a table are read: which columns, in which order, keyed by the first `key_len`.
#[derive(Debug, Clone)]
pub struct ReadSpec {
    pub table: String,
    pub columns: Vec<Column>,
    pub key_len: usize,
    /// Only rows whose column falls in this business day are wanted; an engine that can
    /// narrow its read to (a superset of) them does, and the reader still filters exactly.
    pub day: Option<DayWindow>,
    /// Only rows this `--where` filter keeps are wanted; pushed down where exact or a superset,
    /// and always applied by the reader.
    pub filter: Option<filter::RowFilter>,
    /// Rows still settling: compared by no one until a later run.
    pub in_flight: Option<InFlight>,
    /// Only the keys of this range are wanted (a shard's part of a split check); pushed down
    /// as bound key comparisons where exact, and always applied by the reader.
    pub key_range: Option<pushdown::KeyRange>,
    /// The reader needs the rows in no order (a settlement check puts them in buckets): a
    /// server engine is asked for none, so it sorts nothing. SQLite reads in key order always.
    pub unordered: bool,
}

impl ReadSpec {
    /// Whether a decoded row is one this read wants: in its business day and kept by its filter.
    /// Exact, whatever a pushed-down condition let through.
    pub(crate) fn wants(&self, values: &[Value]) -> bool {
        let in_day = self.day.is_none_or(|day| match values.get(day.column) {
            Some(Value::Timestamp(t)) => *t >= day.start && *t < day.end,
            Some(Value::Date(d)) => *d == day.date,
            _ => false,
        });
        in_day
            && self.filter.as_ref().is_none_or(|f| f.matches(values))
            && self
                .key_range
                .as_ref()
                .is_none_or(|r| r.contains(&values[..self.key_len.min(values.len())]))
    }
}

/// Rows whose column (an index into the read columns) is at or after `since` are in flight:
/// too young to compare, because a replica or a pipeline may not have caught up yet.
#[derive(Debug, Clone, Copy)]
pub struct InFlight {
    pub(crate) column: usize,
    pub(crate) since: chrono::DateTime<chrono::Utc>,
}

impl InFlight {
    /// Whether the row is in flight; a row without a time in the column is settled.
    pub(crate) fn holds(&self, values: &[Value]) -> bool {
        matches!(values.get(self.column), Some(Value::Timestamp(t)) if *t >= self.since)
    }
}

/// The business day a read is for: the column (an index into the read columns) that places a
/// row in a day, the day's date, and the instants it spans.
#[derive(Debug, Clone, Copy)]
pub struct DayWindow {
    pub(crate) column: usize,
    pub(crate) date: chrono::NaiveDate,
    pub(crate) start: chrono::DateTime<chrono::Utc>,
    pub(crate) end: chrono::DateTime<chrono::Utc>,
}

/// What a pushed-down day condition compares the column with.
enum DayBounds {
    /// Instants, for a column that stores them (`timestamptz`): exact.
    Instants(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>),
    /// Wall-clock times in the column's zone, widened by a margin (a day, for a reader that
    /// trims exactly) so that no daylight-saving fold can leave a row of the day out.
    WallClock(chrono::NaiveDateTime, chrono::NaiveDateTime),
    /// A date column: the day itself.
    Date(chrono::NaiveDate),
}

impl DayWindow {
    /// Bounds for a column storing instants, or wall-clock times in `zone`, or dates.
    fn bounds(
        &self,
        column: &Column,
        stores_instants: bool,
        zone: Tz,
        margin: chrono::Duration,
    ) -> Option<DayBounds> {
        match column.logical {
            LogicalType::Date => Some(DayBounds::Date(self.date)),
            LogicalType::Timestamp if stores_instants => {
                Some(DayBounds::Instants(self.start, self.end))
            }
            LogicalType::Timestamp => Some(DayBounds::WallClock(
                self.start.with_timezone(&zone).naive_local() - margin,
                self.end.with_timezone(&zone).naive_local() + margin,
            )),
            _ => None,
        }
    }
}

/// How far a streamed read widens a wall-clock day; the reader trims to the exact day.
pub(crate) const WALL_CLOCK_MARGIN: chrono::Duration = chrono::Duration::days(1);

/// Decoded rows laid end to end, each with `ReadSpec::columns` values: one allocation for a
/// batch of rows, not one per row.
#[derive(Debug, Default)]
pub struct RowBatch {
    width: usize,
    values: Vec<Value>,
}

impl RowBatch {
    /// An empty batch for the rows of `spec`.
    fn for_spec(spec: &ReadSpec) -> RowBatch {
        RowBatch {
            width: spec.columns.len(),
            values: Vec::with_capacity(spec.columns.len() * BATCH_ROWS),
        }
    }

    /// Whether the batch holds as many rows as one is sent with.
    fn is_full(&self) -> bool {
        self.len() >= BATCH_ROWS
    }

    /// The batch, leaving an empty one for the same rows in its place.
    fn take(&mut self) -> RowBatch {
        let empty = RowBatch {
            width: self.width,
            values: Vec::with_capacity(self.values.capacity()),
        };
        std::mem::replace(self, empty)
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len().checked_div(self.width).unwrap_or(0)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Row `index`; it must be below [`RowBatch::len`].
    pub(crate) fn row(&self, index: usize) -> &[Value] {
        &self.values[index * self.width..(index + 1) * self.width]
    }

    pub fn rows(&self) -> impl Iterator<Item = &[Value]> {
        self.values.chunks_exact(self.width.max(1))
    }
}

/// Opens one connection and closes it again, so an unreachable server fails at once with its
/// real cause: a pool's own first connect retries until its timeout, then says only "pool timed
/// out while waiting for an open connection". The store opens its pool the same way.
pub(crate) async fn reach<O: sqlx::ConnectOptions>(
    options: &O,
    timeout: std::time::Duration,
) -> std::result::Result<(), sqlx::Error>
where
    O::Connection: Sized,
{
    use sqlx::Connection as _;
    match tokio::time::timeout(timeout, options.connect()).await {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no connection within {} s", timeout.as_secs()),
        ))),
    }
}

const BATCH_ROWS: usize = 1024;
const BATCHES_IN_FLIGHT: usize = 8;

/// An open, read-only connection pool to one named source.
pub struct Source {
    pub(crate) name: String,
    pub(crate) engine: Engine,
    pub(crate) timezone: Tz,
    pool: Pool,
}

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

impl Source {
    /// Opens a source from its configuration; nothing is written to it, ever.
    pub async fn connect(spec: &SourceSpec) -> Result<Source> {
        let engine =
            Engine::from_url(&spec.url).map_err(|e| e.context(format!("source {}", spec.name)))?;
        tls::require_verified(&spec.url)
            .map_err(|m| Error::bad_input(format!("source {}: {m}", spec.name)))?;
        let pool = match engine {
            Engine::Sqlite => sqlite::connect(spec).await.map(Pool::Sqlite),
            Engine::Postgres => postgres::connect(spec).await.map(Pool::Postgres),
            Engine::MySql => mysql::connect(spec).await.map(Pool::MySql),
        }
        .map_err(|e| e.context(format!("source {} ({})", spec.name, redact_urls(&spec.url))))?;
        Ok(Source {
            name: spec.name.clone(),
            engine,
            timezone: spec.timezone,
            pool,
        })
    }

    /// Opens an ad-hoc source from a URL (for `recon diff`).
    pub async fn connect_url(name: &str, url: &str) -> Result<Source> {
        Source::connect(&SourceSpec {
            name: name.to_string(),
            url: url.to_string(),
            timezone: chrono_tz::UTC,
            max_connections: 2,
            statement_timeout_secs: 600,
            connect_timeout_secs: 10,
            retry: RetryPolicy::default(),
        })
        .await
    }

    /// The table's columns in catalog order, each name checked by
    /// [`ident::validate_discovered_column`]; a missing table is a clear error.
    pub async fn columns(&self, table: &str) -> Result<Vec<Column>> {
        ident::validate_table(table).map_err(Error::bad_input)?;
        let columns = match &self.pool {
            Pool::Sqlite(pool) => sqlite::columns(pool, table).await,
            Pool::Postgres(pool) => postgres::columns(pool, table).await,
            Pool::MySql(pool) => mysql::columns(pool, table).await,
        };
        let columns = columns.map_err(|e| e.context(format!("source {}", self.name)))?;
        for column in &columns {
            ident::validate_discovered_column(&column.name).map_err(|m| {
                Error::bad_input(format!("source {}, table {table}: {m}", self.name))
            })?;
        }
        Ok(columns)
    }

    /// Streams the rows of `spec` in key order (binary order for text) from a task of its own,
    /// so both sides of a comparison are read at once.
    pub fn stream_rows(&self, spec: ReadSpec) -> mpsc::Receiver<Result<RowBatch>> {
        self.stream_rows_and_keys(spec, Vec::new())
    }

    /// Streams the rows of `spec` and, whatever their day, the rows whose key (a single column)
    /// is one of `keys`, each row once, all in one snapshot: PostgreSQL and MySQL/MariaDB read
    /// the day and then the keys in chunks of [`KEYS_PER_STATEMENT`] bound parameters, each
    /// statement in key order (so the whole is in key order only without `keys`); SQLite,
    /// whose day is never narrowed in SQL, streams the whole table in key order.
    pub(crate) fn stream_rows_and_keys(
        &self,
        spec: ReadSpec,
        keys: Vec<Value>,
    ) -> mpsc::Receiver<Result<RowBatch>> {
        let (tx, rx) = mpsc::channel(BATCHES_IN_FLIGHT);
        let source = self.name.clone();
        let tz = self.timezone;
        let pool = self.pool.clone();
        let (guard, table) = (tx.clone(), spec.table.clone());
        let reader = tokio::spawn(tracing::Instrument::in_current_span(async move {
            let streamed = match &pool {
                Pool::Sqlite(pool) => sqlite::stream_rows(pool, &spec, tz, &tx).await,
                Pool::Postgres(pool) => postgres::stream_rows(pool, &spec, &keys, tz, &tx).await,
                Pool::MySql(pool) => mysql::stream_rows(pool, &spec, &keys, tz, &tx).await,
            };
            if let Err(e) = streamed {
                let _ = tx
                    .send(Err(
                        e.context(format!("source {source}, table {}", spec.table))
                    ))
                    .await;
            }
        }));
        // A reader that panicked must not pass for the end of its table: the merge would take
        // the rows it never sent for missing, or a clean prefix for a clean table.
        let source = self.name.clone();
        tokio::spawn(async move {
            if let Err(stopped) = reader.await {
                let _ = guard
                    .send(Err(Error::internal(format!(
                        "source {source}, table {table}: the reader stopped before the end: {stopped}"
                    ))))
                    .await;
            }
        });
        rx
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
            Pool::MySql(pool) => pool.close().await,
        }
    }
}

/// Decodes every row of `rows` with `decode` and sends them to `tx` in batches; stops quietly
/// once the reader is no longer listening. A value that cannot be decoded names its column.
async fn send_in_batches<R>(
    mut rows: impl futures_util::Stream<Item = std::result::Result<R, sqlx::Error>> + Unpin,
    spec: &ReadSpec,
    decode: impl Fn(&R, usize, &Column) -> std::result::Result<Value, String>,
    tx: &mpsc::Sender<Result<RowBatch>>,
) -> Result<()> {
    use futures_util::TryStreamExt;
    let mut batch = RowBatch::for_spec(spec);
    while let Some(row) = rows.try_next().await.map_err(Error::from_source)? {
        for (i, column) in spec.columns.iter().enumerate() {
            let value = decode(&row, i, column).map_err(|reason| column_error(column, reason))?;
            batch.values.push(value);
        }
        if batch.is_full() && tx.send(Ok(batch.take())).await.is_err() {
            return Ok(());
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(Ok(batch)).await;
    }
    Ok(())
}

/// A value of `column` that could not be decoded, and why.
fn column_error(column: &Column, reason: String) -> Error {
    Error::bad_input(format!(
        "column {:?} ({}): {reason}",
        column.name, column.declared
    ))
}

/// The error for a table the catalog does not show, naming the tables it does.
fn missing_table(table: &str, tables: &[String]) -> Error {
    Error::bad_input(format!(
        "table {table:?} does not exist or is not readable (tables there: {})",
        if tables.is_empty() {
            "none".to_string()
        } else {
            tables.join(", ")
        }
    ))
}

/// `SELECT <columns> FROM <table> [WHERE …] ORDER BY <key columns>` for `engine` (no ORDER BY
/// for an [`ReadSpec::unordered`] read on a server engine), each column
/// and key term written by the engine's own functions. Every name in `spec` passed
/// `ident::validate_*` and is quoted (embedded quotes doubled); values travel only as bound
/// parameters.
fn select_in_key_order(
    engine: Engine,
    spec: &ReadSpec,
    select: impl Fn(&Column) -> String,
    order: impl Fn(&Column) -> String,
    conditions: &Conditions,
) -> String {
    let columns: Vec<String> = spec.columns.iter().map(select).collect();
    let key: Vec<String> = spec.columns[..spec.key_len].iter().map(order).collect();
    let order_by = match spec.unordered && engine != Engine::Sqlite {
        true => String::new(),
        false => format!(" ORDER BY {}", key.join(", ")),
    };
    format!(
        "SELECT {} FROM {}{}{order_by}",
        columns.join(", "),
        ident::quote_table(engine, &spec.table),
        conditions.where_clause(),
    )
}

/// The pushed-down day condition of `spec` as one term, its parameters added to `conditions`;
/// `None` (and no parameter) when there is no day or its column cannot be compared in SQL.
fn day_term(
    conditions: &mut Conditions,
    engine: Engine,
    spec: &ReadSpec,
    stores_instants: impl Fn(&Column) -> bool,
    zone: impl Fn(&Column) -> Tz,
    margin: chrono::Duration,
) -> Option<String> {
    let day = spec.day?;
    let column = spec.columns.get(day.column)?;
    let bounds = day.bounds(column, stores_instants(column), zone(column), margin)?;
    let q = ident::quote(engine, &column.name);
    let (start, end) = match bounds {
        DayBounds::Date(date) => {
            let on = conditions.param(Param::Date(date));
            return Some(format!("{q} = {on}"));
        }
        DayBounds::Instants(start, end) => (Param::Instant(start), Param::Instant(end)),
        DayBounds::WallClock(start, end) => (Param::WallClock(start), Param::WallClock(end)),
    };
    let start = conditions.param(start);
    let end = conditions.param(end);
    Some(format!("{q} >= {start} AND {q} < {end}"))
}

/// Most keys one statement of a keyed read names: far below every engine's limit of 65,535
/// placeholders, so a large key set is read in several statements of one snapshot rather than
/// in one giant one.
pub(crate) const KEYS_PER_STATEMENT: usize = 5_000;

/// The WHERE of each statement that reads `spec` plus, whatever their day, the rows whose
/// (single-column) key is one of `keys`. The first statement is the day, the filter and the
/// key range as [`push_day`] and the others narrow them (with `margin`; `source_zone` for the
/// key range); each further one is the filter, the key range and a chunk of
/// at most [`KEYS_PER_STATEMENT`] keys, less the rows the first one returned, so every row
/// comes once. Without a day condition the first statement reads every row and `keys` need
/// no statement of their own.
fn statements(
    engine: Engine,
    spec: &ReadSpec,
    keys: &[Value],
    source_zone: Tz,
    stores_instants: impl Fn(&Column) -> bool,
    zone: impl Fn(&Column) -> Tz,
    margin: chrono::Duration,
) -> Result<Vec<Conditions>> {
    let mut first = Conditions::new(engine);
    let day_pushed = day_term(&mut first, engine, spec, &stores_instants, &zone, margin);
    if let Some(term) = &day_pushed {
        first.push(term.clone());
    }
    filter::push_filter(&mut first, engine, spec, &stores_instants, &zone);
    pushdown::push_key_range(&mut first, engine, spec, source_zone)?;
    let mut statements = vec![first];
    let (Some(_), Some(key), false) = (day_pushed, spec.columns.first(), keys.is_empty()) else {
        return Ok(statements);
    };
    if spec.key_len != 1 {
        return Err(Error::internal(
            "a keyed read needs a table with a single key column",
        ));
    }
    let q = pushdown::key_match_expr(engine, key);
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let mut conditions = Conditions::new(engine);
        filter::push_filter(&mut conditions, engine, spec, &stores_instants, &zone);
        pushdown::push_key_range(&mut conditions, engine, spec, source_zone)?;
        let mut placeholders = Vec::with_capacity(chunk.len());
        for value in chunk {
            placeholders.push(pushdown::typed_param(&mut conditions, engine, key, value)?);
        }
        let day = day_term(
            &mut conditions,
            engine,
            spec,
            &stores_instants,
            &zone,
            margin,
        )
        .ok_or_else(|| Error::internal("the day condition came and went"))?;
        conditions.push(format!(
            "{q} IN ({}) AND NOT COALESCE(({day}), FALSE)",
            placeholders.join(", ")
        ));
        statements.push(conditions);
    }
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_beside_a_day_are_read_in_chunks_less_the_days_rows() {
        let column = |name: &str, logical| Column {
            name: name.to_string(),
            declared: String::new(),
            logical,
        };
        let start = chrono::DateTime::from_timestamp(1_763_596_800, 0).unwrap();
        let spec = ReadSpec {
            table: "ledger".into(),
            columns: vec![
                column("id", LogicalType::Integer),
                column("at", LogicalType::Timestamp),
            ],
            key_len: 1,
            day: Some(DayWindow {
                column: 1,
                date: start.date_naive(),
                start,
                end: start + chrono::Duration::days(1),
            }),
            filter: None,
            in_flight: None,
            key_range: None,
            unordered: false,
        };
        let keys: Vec<Value> = (0..KEYS_PER_STATEMENT as i128 + 1)
            .map(Value::Int)
            .collect();
        let zero = chrono::Duration::zero();
        let pg = statements(
            Engine::Postgres,
            &spec,
            &keys,
            chrono_tz::UTC,
            |_| true,
            |_| chrono_tz::UTC,
            zero,
        )
        .unwrap();
        let clauses: Vec<String> = pg.iter().map(Conditions::where_clause).collect();
        assert_eq!(clauses.len(), 3);
        assert_eq!(clauses[0], r#" WHERE "at" >= $1 AND "at" < $2"#);
        assert_eq!(
            clauses[2],
            r#" WHERE "id" IN ($1) AND NOT COALESCE(("at" >= $2 AND "at" < $3), FALSE)"#
        );
        assert!(clauses[1].starts_with(r#" WHERE "id" IN ($1, $2, "#));
        assert!(
            clauses[1]
                .ends_with(r#", $5000) AND NOT COALESCE(("at" >= $5001 AND "at" < $5002), FALSE)"#)
        );
        let my = statements(
            Engine::MySql,
            &spec,
            &keys[..2],
            chrono_tz::UTC,
            |_| false,
            |_| chrono_tz::UTC,
            zero,
        )
        .unwrap();
        assert_eq!(
            my.iter().map(Conditions::where_clause).collect::<Vec<_>>(),
            [
                " WHERE `at` >= ? AND `at` < ?",
                " WHERE `id` IN (?, ?) AND NOT COALESCE((`at` >= ? AND `at` < ?), FALSE)",
            ]
        );
        // no keys, or no day in SQL: one statement, the keys need none of their own
        let day_only = statements(
            Engine::MySql,
            &spec,
            &[],
            chrono_tz::UTC,
            |_| false,
            |_| chrono_tz::UTC,
            zero,
        );
        assert_eq!(day_only.unwrap().len(), 1);
        let whole = ReadSpec { day: None, ..spec };
        let all = statements(
            Engine::MySql,
            &whole,
            &keys,
            chrono_tz::UTC,
            |_| false,
            |_| chrono_tz::UTC,
            zero,
        );
        assert_eq!(all.unwrap()[0].where_clause(), "");
    }

    #[test]
    fn a_batch_hands_out_its_rows_by_width() {
        let mut batch = RowBatch {
            width: 2,
            values: Vec::new(),
        };
        assert_eq!((batch.len(), batch.is_empty()), (0, true));
        batch
            .values
            .extend([Value::Int(1), Value::Null, Value::Int(2)]);
        batch.values.push(Value::Text("b".into()));
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.row(1), &[Value::Int(2), Value::Text("b".into())]);
        let rows: Vec<&[Value]> = batch.rows().collect();
        assert_eq!(rows, vec![batch.row(0), batch.row(1)]);
        assert_eq!(RowBatch::default().rows().count(), 0);
    }
}
