//! recon's own state: runs, check results and discrepancies with their life, on SQLite or PostgreSQL.
//!
//! Both engines run the same SQL (`$n` placeholders work on both); [`on_pool!`] expands one body
//! per engine so no query is written twice.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, Row, SqlitePool};

use crate::discrepancy::{ColumnValues, Discrepancy, Kind, Recorded, Status};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::secret::redact_urls;
use crate::source::Engine;

/// The store's connection, on one of the two engines it supports.
#[derive(Clone)]
pub struct Store {
    pool: StorePool,
}

#[derive(Clone)]
enum StorePool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store holds.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            StorePool::Sqlite($pool) => $body,
            StorePool::Postgres($pool) => $body,
        }
    };
}

/// What a finished check contributes to its run.
#[derive(Debug, Clone)]
pub struct CheckRecord {
    pub check: String,
    pub check_type: &'static str,
    pub partition: String,
    pub status: CheckStatus,
    pub left_rows: Option<u64>,
    pub right_rows: Option<u64>,
    pub left_digest: Option<String>,
    pub right_digest: Option<String>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Clean,
    Discrepancies,
    Failed,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Clean => "clean",
            CheckStatus::Discrepancies => "discrepancies",
            CheckStatus::Failed => "failed",
        }
    }
}

/// What recording a check changed in the discrepancies' life.
#[derive(Debug, Default)]
pub struct CheckChanges {
    /// Every discrepancy this run saw, with its life status.
    pub seen: Vec<Recorded>,
    /// Discrepancies open before that this run no longer sees.
    pub resolved: Vec<Recorded>,
}

/// A run row, for listings and supersession.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub id: i64,
    pub business_date: NaiveDate,
    pub status: String,
    pub outcome: Option<String>,
    pub superseded_by: Option<i64>,
}

fn i64_of(n: u64) -> Result<i64> {
    i64::try_from(n)
        .map_err(|_| Error::internal(format!("{n} does not fit the store's 64-bit integers")))
}

impl Store {
    /// Connects to the store and applies any pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        let shown = redact_urls(url);
        let fail = |e: sqlx::Error| {
            Error::Internal(format!(
                "cannot open the store {shown}: {}",
                crate::error::describe_sqlx(&e)
            ))
        };
        let pool = match Engine::from_url(url)? {
            Engine::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::bad_input(format!("store URL {shown}: {e}")))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(std::time::Duration::from_secs(30));
                StorePool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .connect_with(options)
                        .await
                        .map_err(fail)?,
                )
            }
            Engine::Postgres => StorePool::Postgres(
                PgPoolOptions::new()
                    .max_connections(4)
                    .connect(url)
                    .await
                    .map_err(fail)?,
            ),
            Engine::MySql => {
                return Err(Error::bad_input(format!(
                    "store URL {shown}: the store lives on PostgreSQL or SQLite, not MySQL"
                )));
            }
        };
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations (idempotent; sqlx serialises concurrent migrators).
    pub async fn migrate(&self) -> Result<()> {
        let result = match &self.pool {
            StorePool::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await,
            StorePool::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await,
        };
        result.map_err(|e| Error::Internal(format!("store migration failed: {e}")))
    }

    /// Records the start of a run and returns its id.
    pub async fn begin_run(
        &self,
        business_date: NaiveDate,
        config_digest: &str,
        started_at: DateTime<Utc>,
    ) -> Result<i64> {
        let host = hostname();
        let pid = i64::from(std::process::id());
        on_pool!(self, pool => sqlx::query_scalar::<_, i64>(
            "INSERT INTO runs (business_date, started_at, status, host, pid, config_digest, recon_version)
             VALUES ($1, $2, 'running', $3, $4, $5, $6) RETURNING id",
        )
        .bind(business_date)
        .bind(started_at)
        .bind(&host)
        .bind(pid)
        .bind(config_digest)
        .bind(env!("CARGO_PKG_VERSION"))
        .fetch_one(pool)
        .await)
        .map_err(Error::from_store)
    }

    /// Records one check's result and moves its discrepancies along their life, in one
    /// transaction: new ones open, ones seen before carried, ones gone resolved.
    pub async fn record_check(
        &self,
        run_id: i64,
        record: &CheckRecord,
        found: &[Discrepancy],
    ) -> Result<CheckChanges> {
        let now = Utc::now();
        let status = record.status.as_str();
        let left_rows = record.left_rows.map(i64_of).transpose()?;
        let right_rows = record.right_rows.map(i64_of).transpose()?;
        let count = i64_of(found.len() as u64)?;
        let duration = i64_of(record.duration_ms)?;
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(Error::from_store)?;
            sqlx::query(
                "INSERT INTO check_results (run_id, check_name, check_type, partition_key, status, left_rows, right_rows,
                                            left_digest, right_digest, discrepancies, error, duration_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(run_id)
            .bind(&record.check)
            .bind(record.check_type)
            .bind(&record.partition)
            .bind(status)
            .bind(left_rows)
            .bind(right_rows)
            .bind(&record.left_digest)
            .bind(&record.right_digest)
            .bind(count)
            .bind(&record.error)
            .bind(duration)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;

            let mut changes = CheckChanges::default();
            if record.status != CheckStatus::Failed {
                let mut seen_ids = Vec::with_capacity(found.len());
                for d in found {
                    let row = sqlx::query(
                        "INSERT INTO discrepancies (fingerprint, check_name, partition_key, kind, key_json, columns_json,
                                                    detail_json, status, first_run_id, last_run_id, first_seen_at, last_seen_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $8, $9, $9)
                         ON CONFLICT (fingerprint) DO UPDATE SET
                             status = CASE discrepancies.status
                                          WHEN 'acknowledged' THEN 'acknowledged'
                                          WHEN 'resolved' THEN 'open'
                                          ELSE 'carried' END,
                             first_run_id = CASE discrepancies.status WHEN 'resolved' THEN excluded.first_run_id
                                                ELSE discrepancies.first_run_id END,
                             first_seen_at = CASE discrepancies.status WHEN 'resolved' THEN excluded.first_seen_at
                                                 ELSE discrepancies.first_seen_at END,
                             resolved_run_id = NULL,
                             resolved_at = NULL,
                             columns_json = excluded.columns_json,
                             detail_json = excluded.detail_json,
                             last_run_id = excluded.last_run_id,
                             last_seen_at = excluded.last_seen_at
                         RETURNING id, status, first_run_id",
                    )
                    .bind(d.fingerprint())
                    .bind(&d.check)
                    .bind(&d.partition)
                    .bind(d.kind.as_str())
                    .bind(d.key_json().to_string())
                    .bind(serde_json::to_string(&d.columns).unwrap_or_default())
                    .bind(detail_json(d))
                    .bind(run_id)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
                    let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                    let status: String = row.try_get("status").map_err(Error::from_store)?;
                    let first_run_id: i64 = row.try_get("first_run_id").map_err(Error::from_store)?;
                    sqlx::query("INSERT INTO run_discrepancies (run_id, discrepancy_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(run_id)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(Error::from_store)?;
                    seen_ids.push(id);
                    changes.seen.push(Recorded {
                        id,
                        status: parse_status(&status)?,
                        first_run_id,
                        discrepancy: d.clone(),
                    });
                }
                let still_open = sqlx::query(
                    "SELECT id, fingerprint, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id
                     FROM discrepancies
                     WHERE check_name = $1 AND partition_key = $2 AND status IN ('open', 'carried', 'acknowledged')
                     ORDER BY id",
                )
                .bind(&record.check)
                .bind(&record.partition)
                .fetch_all(&mut *tx)
                .await
                .map_err(Error::from_store)?;
                for row in still_open {
                    let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                    if seen_ids.contains(&id) {
                        continue;
                    }
                    sqlx::query(
                        "UPDATE discrepancies SET status = 'resolved', resolved_run_id = $1, resolved_at = $2 WHERE id = $3",
                    )
                    .bind(run_id)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
                    let mut recorded = recorded_from_row(&row)?;
                    recorded.status = Status::Resolved;
                    changes.resolved.push(recorded);
                }
            }
            tx.commit().await.map_err(Error::from_store)?;
            Ok(changes)
        })
    }

    /// Closes a run with its outcome; earlier finished runs of the same date are superseded by it.
    pub async fn finish_run(
        &self,
        run_id: i64,
        exit: Exit,
        finished_at: DateTime<Utc>,
    ) -> Result<()> {
        let status = if matches!(exit, Exit::Internal) {
            "failed"
        } else {
            "finished"
        };
        on_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(Error::from_store)?;
            sqlx::query("UPDATE runs SET finished_at = $1, status = $2, outcome = $3, exit_code = $4 WHERE id = $5")
                .bind(finished_at)
                .bind(status)
                .bind(exit.as_str())
                .bind(i32::from(exit.code()))
                .bind(run_id)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?;
            sqlx::query(
                "UPDATE runs SET superseded_by = $1
                 WHERE business_date = (SELECT business_date FROM runs WHERE id = $1)
                   AND id < $1 AND superseded_by IS NULL AND status <> 'running'",
            )
            .bind(run_id)
            .execute(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            tx.commit().await.map_err(Error::from_store)
        })
    }

    /// The runs of a business date, oldest first.
    pub async fn runs_for(&self, business_date: NaiveDate) -> Result<Vec<RunRow>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, business_date, status, outcome, superseded_by FROM runs WHERE business_date = $1 ORDER BY id",
            )
            .bind(business_date)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            rows.iter()
                .map(|row| {
                    Ok(RunRow {
                        id: row.try_get("id").map_err(Error::from_store)?,
                        business_date: row.try_get("business_date").map_err(Error::from_store)?,
                        status: row.try_get("status").map_err(Error::from_store)?,
                        outcome: row.try_get("outcome").map_err(Error::from_store)?,
                        superseded_by: row.try_get("superseded_by").map_err(Error::from_store)?,
                    })
                })
                .collect()
        })
    }

    /// Every discrepancy the store holds for a check, in id order (for listings and tests).
    pub async fn discrepancies(&self, check: &str) -> Result<Vec<Recorded>> {
        on_pool!(self, pool => {
            let rows = sqlx::query(
                "SELECT id, fingerprint, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id
                 FROM discrepancies WHERE check_name = $1 ORDER BY id",
            )
            .bind(check)
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?;
            rows.iter().map(recorded_from_row).collect()
        })
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

/// The parts of a discrepancy beyond its identity: values on both sides and any detail.
#[derive(serde::Serialize, serde::Deserialize)]
struct Detail {
    values: Vec<ColumnValues>,
    detail: Option<String>,
}

fn detail_json(d: &Discrepancy) -> String {
    serde_json::to_string(&Detail {
        values: d.values.clone(),
        detail: d.detail.clone(),
    })
    .unwrap_or_default()
}

fn parse_status(text: &str) -> Result<Status> {
    Status::parse(text).ok_or_else(|| {
        Error::internal(format!(
            "store holds an unknown discrepancy status {text:?}"
        ))
    })
}

fn recorded_from_row<R: Row>(row: &R) -> Result<Recorded>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let bad = |what: &str| Error::internal(format!("store holds a malformed discrepancy ({what})"));
    let get = |name: &str| -> Result<String> {
        row.try_get::<String, _>(name).map_err(Error::from_store)
    };
    let kind_text = get("kind")?;
    let key: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&get("key_json")?).map_err(|_| bad("key_json"))?;
    let columns: Vec<String> =
        serde_json::from_str(&get("columns_json")?).map_err(|_| bad("columns_json"))?;
    let detail: Detail =
        serde_json::from_str(&get("detail_json")?).map_err(|_| bad("detail_json"))?;
    Ok(Recorded {
        id: row.try_get("id").map_err(Error::from_store)?,
        status: parse_status(&get("status")?)?,
        first_run_id: row.try_get("first_run_id").map_err(Error::from_store)?,
        discrepancy: Discrepancy {
            check: get("check_name")?,
            partition: get("partition_key")?,
            kind: Kind::parse(&kind_text).ok_or_else(|| bad("kind"))?,
            key: key
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map(str::to_string)))
                .collect(),
            columns,
            values: detail.values,
            detail: detail.detail,
        },
    })
}

/// This machine's name, for run records and lock holders.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_string())
}
