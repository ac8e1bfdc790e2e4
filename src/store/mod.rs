//! recon's own state: runs, check results, discrepancies with their life and the audit chain,
//! on SQLite or PostgreSQL.
//!
//! Both engines run the same SQL (`$n` placeholders work on both); [`on_pool!`] expands one body
//! per engine so no query is written twice.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};

use crate::discrepancy::Recorded;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::run_id::RunId;
use crate::secret::redact_urls;
use crate::source::Engine;

/// The store's connection, on one of the two engines it supports.
#[derive(Clone)]
pub struct Store {
    pool: StorePool,
    /// The file of a SQLite store (its run locks sit beside it); `None` in memory or on PostgreSQL.
    sqlite_path: Option<std::path::PathBuf>,
    /// The URL without its password, for messages.
    shown: std::sync::Arc<str>,
    /// The keys discrepancies' values are encrypted under; `None` stores them in clear.
    data_keys: Option<std::sync::Arc<crate::at_rest::DataKeys>>,
    /// The mask key (with the one a rotation retires) audit entries digest state under;
    /// `None` digests it with plain SHA-256.
    mask_key: Option<std::sync::Arc<crate::mask::MaskKey>>,
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

/// Starts a transaction that will write. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred one that reads first cannot wait for the lock and fails with
/// "database is locked" when another process writes, as two shards of a run do.
trait BeginWrite {
    type Db: sqlx::Database;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Self::Db>>;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Error::from_store)
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.begin().await.map_err(Error::from_store)
    }
}

/// How many bound parameters one multi-row statement carries, per store engine.
trait Batching {
    const PARAMS: usize;
}

impl Batching for sqlx::Sqlite {
    /// SQLite looks a numbered parameter up by a linear scan, so a statement costs the square of
    /// its parameters: 9,000 per statement recorded 10,000 discrepancies in 3.6 s, 900 in 0.9 s.
    const PARAMS: usize = 900;
}

impl Batching for sqlx::Postgres {
    /// Few, large statements: sqlx 0.9 leaves Nagle's algorithm on (launchbadge/sqlx#4335), so
    /// a statement whose message spans TCP segments can wait 40 ms for a delayed ACK. Below the
    /// protocol's 65,535 parameters.
    const PARAMS: usize = 60_000;
}

/// Rows per multi-row statement inside `tx` whose rows bind `params_per_row` parameters each.
fn batch_rows<DB: sqlx::Database + Batching>(
    _tx: &sqlx::Transaction<'_, DB>,
    params_per_row: usize,
) -> usize {
    DB::PARAMS / params_per_row
}

/// The list part of a multi-row statement: `rows` copies of `row`, joined by `, `, whose
/// placeholders `$1`…`$k` (`k = params_per_row`) are renumbered for each copy and shifted past
/// the `before` parameters bound ahead of the list. `value_rows("($1, $2)", 2, 2, 1)` is
/// `($2, $3), ($4, $5)`.
fn value_rows(row: &str, params_per_row: usize, rows: usize, before: usize) -> String {
    let mut out = String::with_capacity((row.len() + 8) * rows);
    for copy in 0..rows {
        if copy > 0 {
            out.push_str(", ");
        }
        let offset = before + copy * params_per_row;
        let mut rest = row;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            match rest[at + 1..at + 1 + digits].parse::<usize>() {
                Ok(n) => out.push_str(&format!("${}", n + offset)),
                Err(_) => out.push('$'),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_str(rest);
    }
    out
}

/// Appends audit entries inside an open transaction `$tx`: the `audit_head` row is moved past
/// them all first, so its row lock (PostgreSQL) or the write lock (SQLite) serialises every
/// appender; the chain is hashed (and signed, with this writer's key) here and written in
/// multi-row statements.
macro_rules! append_audit {
    ($tx:expr, $entries:expr) => {{
        let entries: Vec<$crate::store::audit::NewEntry> = $entries.into_iter().collect();
        if !entries.is_empty() {
            let count = i64::try_from(entries.len())
                .map_err(|_| Error::internal("more audit entries than a sequence can number"))?;
            let head = sqlx::query(
                "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash",
            )
            .bind(count)
            .fetch_one(&mut *$tx)
            .await
            .map_err(Error::from_store)?;
            let last_seq: i64 = sqlx::Row::try_get(&head, "seq").map_err(Error::from_store)?;
            let head_hash: String = sqlx::Row::try_get(&head, "hash").map_err(Error::from_store)?;
            let at = $crate::store::audit::now_text();
            let key = $crate::audit_key::writer().map_err(Error::bad_input)?;
            let chained = $crate::store::audit::chain(last_seq - count + 1, &at, head_hash, &entries, key);
            for (entries, links) in entries
                .chunks($crate::store::batch_rows(&$tx, 10))
                .zip(chained.chunks($crate::store::batch_rows(&$tx, 10)))
            {
                let sql = format!(
                    "INSERT INTO audit_log (seq, at, actor, action, run_id, payload, prev_hash, hash, key_id, signature) VALUES {}",
                    $crate::store::value_rows("($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10, entries.len(), 0)
                );
                let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
                for (entry, link) in entries.iter().zip(links) {
                    insert = insert
                        .bind(link.seq)
                        .bind(&at)
                        .bind(&entry.actor)
                        .bind(entry.action)
                        .bind(entry.run_id)
                        .bind(&entry.payload)
                        .bind(&link.prev_hash)
                        .bind(&link.hash)
                        .bind(&link.key_id)
                        .bind(&link.signature);
                }
                insert.execute(&mut *$tx).await.map_err(Error::from_store)?;
            }
            if let Some(last) = chained.last() {
                sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                    .bind(&last.hash)
                    .execute(&mut *$tx)
                    .await
                    .map_err(Error::from_store)?;
            }
        }
    }};
}

/// Renames, inside transaction `$tx`, each stored discrepancy of the partition that `$found`
/// holds under an earlier fingerprint (recorded under the key a mask-key rotation retires, or
/// before masks named their key) to its fingerprint now, key as shown now: it is then carried,
/// acknowledged or resolved as the same finding, never reopened as a new one; an acknowledgement
/// pinned to it as it was is pinned again, and its state digested, under mask key `$mask`. One
/// `discrepancies_rekeyed` audit entry counts them. Costs one lookup per batch when none is.
macro_rules! adopt_earlier_fingerprints {
    ($tx:expr, $run_id:expr, $check:expr, $partition:expr, $found:expr, $fingerprints:expr, $mask:expr) => {{
        // Earlier fingerprint → (fingerprint now, the finding now, as it was); a `#n` suffix
        // carries over.
        type Forms<'a> = (&'a String, &'a $crate::discrepancy::Discrepancy, $crate::discrepancy::Discrepancy);
        let mut earlier = std::collections::HashMap::<String, Forms<'_>>::new();
        for (d, fingerprint) in $found.iter().zip($fingerprints.iter()) {
            let suffix = fingerprint.find('#').map_or("", |at| &fingerprint[at..]);
            for was in d.earlier_forms() {
                earlier.insert(format!("{}{suffix}", was.fingerprint()), (fingerprint, d, was));
            }
        }
        let olds: Vec<&String> = earlier.keys().collect();
        let mut stored = Vec::new();
        for chunk in olds.chunks($crate::store::batch_rows(&$tx, 1)) {
            let sql = format!(
                "SELECT fingerprint FROM discrepancies WHERE check_name = $1 AND partition_key = $2 AND fingerprint IN ({})",
                $crate::store::value_rows("$1", 1, chunk.len(), 2)
            );
            let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind($check).bind($partition);
            for old in chunk {
                query = query.bind(*old);
            }
            stored.extend(query.fetch_all(&mut *$tx).await.map_err(Error::from_store)?);
        }
        stored.sort_unstable();
        let mut rekeyed = 0u64;
        for old in &stored {
            let Some((now, d, was)) = earlier.get(old) else { continue };
            // An acknowledgement pinned to the finding as it was shown then holds for it as
            // shown now: only the key's form changed. It is pinned again, under the mask key now.
            let pinned: Option<Option<String>> = sqlx::query_scalar("SELECT ack_digest FROM discrepancies WHERE fingerprint = $1")
                .bind(old)
                .fetch_optional(&mut *$tx)
                .await
                .map_err(Error::from_store)?;
            let pinned = match pinned.flatten() {
                Some(pinned) if $crate::store::bound_state::check_digest($mask, &pinned, &$crate::store::acknowledgements::finding_bytes(was))
                    == $crate::store::bound_state::Checked::Same =>
                {
                    Some($crate::store::bound_state::state_digest($mask, &$crate::store::acknowledgements::finding_bytes(d)))
                }
                other => other,
            };
            let renamed = sqlx::query(
                "UPDATE discrepancies SET fingerprint = $1, key_json = $2, ack_digest = $4
                 WHERE fingerprint = $3 AND NOT EXISTS (SELECT 1 FROM discrepancies AS taken WHERE taken.fingerprint = $1)",
            )
            .bind(*now)
            .bind(d.key_json().to_string())
            .bind(old)
            .bind(pinned)
            .execute(&mut *$tx)
            .await
            .map_err(Error::from_store)?;
            rekeyed += renamed.rows_affected();
            // An acknowledged one stays acknowledged with its values as shown now (the upsert
            // below writes them): an entry binds that state, as a change of a carried one's would.
            let still_acknowledged: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM discrepancies WHERE fingerprint = $1 AND status = 'acknowledged' AND ack_note IS NOT NULL",
            )
            .bind(*now)
            .fetch_optional(&mut *$tx)
            .await
            .map_err(Error::from_store)?;
            if let (true, Some(id)) = (renamed.rows_affected() > 0, still_acknowledged) {
                let acknowledged = sqlx::query_as::<_, $crate::store::bound_state::AckJoinRow>($crate::store::bound_state::ACKNOWLEDGED_ROWS)
                    .bind(id)
                    .fetch_all(&mut *$tx)
                    .await
                    .map_err(Error::from_store)?;
                let acknowledged = $crate::store::bound_state::Acknowledged::from_join(acknowledged);
                let entry = $crate::store::audit::NewEntry::new(
                    "discrepancy_changed",
                    &$crate::store::run_actor(),
                    Some($run_id),
                    serde_json::json!({
                        "id": id,
                        "check": d.check,
                        "partition": d.partition,
                        "kind": d.kind.as_str(),
                        "key": d.key_json(),
                        "key_digest": d.key.digest,
                        "columns": d.columns,
                        "state": $crate::store::bound_state::state(
                            $mask,
                            $crate::discrepancy::Status::Acknowledged,
                            d,
                            Some(&acknowledged),
                        ),
                    }),
                );
                append_audit!($tx, [entry]);
            }
        }
        if rekeyed > 0 {
            let entry = $crate::store::audit::NewEntry::new(
                "discrepancies_rekeyed",
                &$crate::store::run_actor(),
                Some($run_id),
                serde_json::json!({ "check": $check, "partition": $partition, "count": rekeyed }),
            );
            append_audit!($tx, [entry]);
        }
    }};
}

/// Moves one partition's discrepancies along their life inside transaction `$tx`: each found one
/// is opened, carried or reopened (and linked to the run); each one `$still_open` returns that
/// was not found is resolved. Details are sealed under data keys `$keys`, state digested under
/// mask key `$mask`. Written in multi-row statements. Evaluates to the [`CheckChanges`].
macro_rules! move_along_life {
    ($tx:expr, $run_id:expr, $now:expr, $check:expr, $partition:expr, $found:expr, $fingerprints:expr, $still_open:expr, $keys:expr, $mask:expr) => {{
        // A renamed finding's detail is sealed again below (the upsert), bound to its key now.
        adopt_earlier_fingerprints!($tx, $run_id, $check, $partition, $found, $fingerprints, $mask);
        let mut changes = CheckChanges::default();
        for (found, fingerprints) in $found
            .chunks($crate::store::batch_rows(&$tx, 9))
            .zip($fingerprints.chunks($crate::store::batch_rows(&$tx, 9)))
        {
            // The shown values of the open and carried ones before this run, to tell which changed.
            // Their values encrypted at rest are compared decrypted (the ciphertext changes with
            // every write); without a data key they cannot be, and count as unchanged.
            let sql = format!(
                "SELECT fingerprint, id, check_name, partition_key, kind, key_json, columns_json, detail_json
                 FROM discrepancies
                 WHERE status IN ('open', 'carried') AND fingerprint IN ({})",
                $crate::store::value_rows("$1", 1, fingerprints.len(), 0)
            );
            let mut earlier = sqlx::query_as::<_, (String, i64, String, String, String, String, String, String)>(sqlx::AssertSqlSafe(sql));
            for fingerprint in fingerprints {
                earlier = earlier.bind(fingerprint);
            }
            let mut shown_before = std::collections::HashMap::<String, Vec<u8>>::new();
            for (fingerprint, id, check, partition, kind, key_json, columns_json, detail_json) in
                earlier.fetch_all(&mut *$tx).await.map_err(Error::from_store)?
            {
                let stored = $crate::store::bound_state::StoredShown {
                    id,
                    check: &check,
                    partition: &partition,
                    kind: &kind,
                    key_json: &key_json,
                    columns_json: &columns_json,
                    detail_json: &detail_json,
                };
                if let Some(shown) = $crate::store::bound_state::shown_bytes($keys, &stored)? {
                    shown_before.insert(fingerprint, shown);
                }
            }
            let sql = format!(
                "{} {} {}",
                super::runs::UPSERT_DISCREPANCY_INTO,
                $crate::store::value_rows(super::runs::UPSERT_DISCREPANCY_ROW, 9, found.len(), 0),
                super::runs::UPSERT_DISCREPANCY_ON_CONFLICT
            );
            let mut upsert = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (d, fingerprint) in found.iter().zip(fingerprints) {
                upsert = upsert
                    .bind(fingerprint)
                    .bind(&d.check)
                    .bind(d.partition.to_string())
                    .bind(d.kind.as_str())
                    .bind(d.key_json().to_string())
                    .bind(serde_json::Value::from(d.columns.clone()).to_string())
                    .bind(super::discrepancies::stored_detail($keys, d)?)
                    .bind($run_id)
                    .bind($now);
            }
            let rows = upsert.fetch_all(&mut *$tx).await.map_err(Error::from_store)?;
            // RETURNING promises no order: each row is matched back by its fingerprint.
            let mut returned = std::collections::HashMap::with_capacity(rows.len());
            for row in &rows {
                let fingerprint: String = sqlx::Row::try_get(row, "fingerprint").map_err(Error::from_store)?;
                returned.insert(fingerprint, row);
            }
            let mut ids = Vec::with_capacity(found.len());
            for (d, fingerprint) in found.iter().zip(fingerprints) {
                let row = returned.get(fingerprint.as_str()).ok_or_else(|| {
                    Error::internal(format!("the store returned no row for discrepancy {fingerprint}"))
                })?;
                let id: i64 = sqlx::Row::try_get(*row, "id").map_err(Error::from_store)?;
                let status: String = sqlx::Row::try_get(*row, "status").map_err(Error::from_store)?;
                ids.push(id);
                if shown_before.get(fingerprint.as_str()).is_some_and(|before| {
                    *before != $crate::store::acknowledgements::finding_bytes(d)
                }) {
                    changes.changed.push(changes.seen.len());
                }
                changes.seen.push(Recorded {
                    id,
                    status: super::discrepancies::parse_status(&status)?,
                    first_run_id: sqlx::Row::try_get(*row, "first_run_id").map_err(Error::from_store)?,
                    discrepancy: d.clone(),
                });
            }
            let sql = format!(
                "INSERT INTO run_discrepancies (run_id, discrepancy_id) VALUES {} ON CONFLICT DO NOTHING",
                $crate::store::value_rows("($1, $2)", 2, ids.len(), 0)
            );
            let mut link = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &ids {
                link = link.bind($run_id).bind(id);
            }
            link.execute(&mut *$tx).await.map_err(Error::from_store)?;
        }
        let seen: std::collections::HashSet<i64> = changes.seen.iter().map(|r| r.id).collect();
        let still_open = sqlx::query($still_open)
            .bind($check)
            .bind($partition)
            .fetch_all(&mut *$tx)
            .await
            .map_err(Error::from_store)?;
        let mut gone = Vec::new();
        for row in &still_open {
            let id: i64 = sqlx::Row::try_get(row, "id").map_err(Error::from_store)?;
            if !seen.contains(&id) {
                let mut recorded = super::discrepancies::recorded_from_row($keys, row)?;
                recorded.status = crate::discrepancy::Status::Resolved;
                gone.push(recorded);
            }
        }
        for chunk in gone.chunks($crate::store::batch_rows(&$tx, 1)) {
            let sql = format!(
                "UPDATE discrepancies SET status = 'resolved', resolved_run_id = $1, resolved_at = $2 WHERE id IN ({})",
                $crate::store::value_rows("$1", 1, chunk.len(), 2)
            );
            let mut resolve = sqlx::query(sqlx::AssertSqlSafe(sql)).bind($run_id).bind($now);
            for recorded in chunk {
                resolve = resolve.bind(recorded.id);
            }
            resolve.execute(&mut *$tx).await.map_err(Error::from_store)?;
        }
        changes.resolved = gone;
        changes
    }};
}

#[macro_use]
mod acknowledgements;
pub mod audit;
mod backlog;
mod bank_entries;
mod bank_sync;
mod bound_state;
mod discrepancies;
mod history;
mod idempotency;
mod lock;
mod retention;
mod rewrap;
mod runs;
mod schema;
mod seals;
mod splits;
mod triage;

pub(crate) use schema::SchemaState;
pub use schema::SchemaUse;

pub(crate) use lock::{HEARTBEAT_EVERY, RunLock};
pub(crate) use seals::{Seal, SealPart};
pub(crate) use splits::{DayVerification, RangeResult, Split};

pub use acknowledgements::AckReason;
pub(crate) use acknowledgements::Reopened;
pub use backlog::BacklogItem;
pub(crate) use bank_entries::SyncedEntry;
pub(crate) use bank_sync::CallsToday;
pub(crate) use discrepancies::{AckRequest, DiscrepancyFilter, ListedDiscrepancy};
pub(crate) use triage::Assignment;

pub use crate::check::{CheckKind, CheckRecord, CheckStatus, TableSide};

/// What recording a check changed in the discrepancies' life.
#[derive(Debug, Default)]
pub struct CheckChanges {
    /// Every discrepancy this run saw, with its life status.
    pub seen: Vec<Recorded>,
    /// Discrepancies open before that this run no longer sees.
    pub resolved: Vec<Recorded>,
    /// Indices into `seen` of the carried ones whose shown values this run changed.
    pub(crate) changed: Vec<usize>,
}

/// A run row, for listings and supersession.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRow {
    pub id: RunId,
    pub(crate) business_date: NaiveDate,
    pub status: String,
    pub outcome: Option<String>,
    pub superseded_by: Option<RunId>,
}

/// One run in a report's history chart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct RunPoint {
    pub(crate) run_id: RunId,
    pub(crate) business_date: NaiveDate,
    pub(crate) outcome: String,
    pub(crate) discrepancies: i64,
}

/// A run as the store holds it, with everything its report shows.
#[derive(Debug)]
pub(crate) struct StoredRun {
    pub(crate) id: RunId,
    pub(crate) business_date: NaiveDate,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) config_digest: String,
    pub(crate) checks: Vec<CheckRecord>,
    pub(crate) seen: Vec<Recorded>,
    pub(crate) resolved: Vec<Recorded>,
    /// The operators' notes on the seen discrepancies they acknowledged, by discrepancy id.
    pub(crate) acknowledgements: std::collections::HashMap<i64, Acknowledgement>,
    /// Why each seen discrepancy that had been acknowledged needs someone again, by id.
    pub(crate) reopened: std::collections::HashMap<i64, Reopened>,
}

/// Why an operator acknowledged a discrepancy (`recon discrepancies ack --note`), and who.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Acknowledgement {
    pub(crate) note: String,
    pub(crate) actor: String,
    /// Its reason code; `None` for one made before codes were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<AckReason>,
}

impl StoredRun {
    /// The outcome its checks call for, the one needing the most attention; any discrepancy
    /// the run saw (a sealed day's included) still needing someone (new or carried, not
    /// acknowledged) makes it at least "discrepancies". A check's own "discrepancies" is left
    /// to its findings: one whose findings are all acknowledged is clean for the run.
    pub(crate) fn exit(&self) -> Exit {
        let needs_someone = self.seen.iter().any(|r| r.status.needs_someone());
        let seen = if needs_someone {
            Exit::Discrepancies
        } else {
            Exit::Clean
        };
        self.checks
            .iter()
            .map(|c| c.exit)
            .filter(|exit| *exit != Exit::Discrepancies)
            .fold(seen, Exit::worse)
    }
}

pub(crate) fn i64_of(n: u64) -> Result<i64> {
    i64::try_from(n)
        .map_err(|_| Error::internal(format!("{n} does not fit the store's 64-bit integers")))
}

/// How long the store may take to accept a connection, unless `job.store.connect_timeout_secs`
/// says otherwise (sqlx's pool default).
pub(crate) const STORE_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How a run reaches its store: retried as a source is, each connection given `connect_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreAccess {
    pub(crate) retry: crate::retry::RetryPolicy,
    pub(crate) connect_timeout: std::time::Duration,
}

impl Default for StoreAccess {
    fn default() -> Self {
        StoreAccess {
            retry: crate::retry::RetryPolicy::default(),
            connect_timeout: STORE_CONNECT_TIMEOUT,
        }
    }
}

impl Store {
    /// Connects to the store as a run does ([`SchemaUse::CreateIfNew`]). A store that cannot be
    /// reached is a transient failure (exit 3) naming the store; see [`Store::open_retried`].
    pub async fn open(url: &str) -> Result<Store> {
        Store::open_for(url, SchemaUse::CreateIfNew).await
    }

    /// Connects to the store and prepares its schema as `schema_use` allows: only
    /// [`SchemaUse::Migrate`] changes an existing store's schema.
    pub async fn open_for(url: &str, schema_use: SchemaUse) -> Result<Store> {
        Store::connect(url, STORE_CONNECT_TIMEOUT, schema_use).await
    }

    /// [`Store::open`], retried with backoff under `access.retry` while the store cannot be
    /// reached (a failover, a restart): what a run does before it takes its lock.
    pub async fn open_retried(url: &str, access: StoreAccess) -> Result<Store> {
        let (opened, attempts) = crate::retry::with_retries(access.retry, "store", || {
            Store::connect(url, access.connect_timeout, SchemaUse::CreateIfNew)
        })
        .await;
        opened.map_err(|e| {
            if attempts > 1 {
                e.suffixed(format!(" ({attempts} attempts)"))
            } else {
                e
            }
        })
    }

    async fn connect(
        url: &str,
        connect_timeout: std::time::Duration,
        schema_use: SchemaUse,
    ) -> Result<Store> {
        let shown = redact_urls(url);
        let fail = |e: sqlx::Error| {
            let described = crate::error::describe_sqlx(&e);
            let unreachable = Error::from_store(e).is_store_unreachable();
            let message = format!("cannot open the store {shown}: {described}");
            if unreachable {
                Error::store_unreachable(message)
            } else {
                Error::internal(message)
            }
        };
        let engine = Engine::from_url(url)?;
        crate::source::tls::require_verified(url)
            .map_err(|m| Error::bad_input(format!("store {shown}: {m}")))?;
        let (pool, sqlite_path) = match engine {
            Engine::Sqlite => {
                // Only a command that may create the schema may create the file.
                let may_create = schema_use != SchemaUse::Current;
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|e| Error::bad_input(format!("store URL {shown}: {e}")))?
                    .create_if_missing(may_create)
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(std::time::Duration::from_secs(30));
                let path = options.get_filename().to_path_buf();
                let in_memory = path.as_os_str().is_empty() || path.as_os_str() == ":memory:";
                if !in_memory && !may_create && !path.exists() {
                    return Err(Error::bad_input(format!(
                        "the store {shown} does not exist: create it with `recon migrate` (or a first `recon run`)"
                    )));
                }
                if !in_memory && may_create {
                    // Created 0600 before SQLite opens it: its -wal and -shm take the file's mode.
                    crate::private_fs::open_or_create_file(&path).map_err(|e| {
                        Error::bad_input(format!("cannot open the store {shown}: {e}"))
                    })?;
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(4)
                    .connect_with(options)
                    .await
                    .map_err(fail)?;
                (StorePool::Sqlite(pool), (!in_memory).then_some(path))
            }
            Engine::Postgres => {
                let options = PgConnectOptions::from_str(url)
                    .map_err(|e| Error::bad_input(format!("store URL {shown}: {e}")))?;
                crate::source::reach(&options, connect_timeout)
                    .await
                    .map_err(fail)?;
                let pool = PgPoolOptions::new()
                    .max_connections(4)
                    .acquire_timeout(connect_timeout)
                    .connect_with(options)
                    .await
                    .map_err(fail)?;
                (StorePool::Postgres(pool), None)
            }
            Engine::MySql => {
                return Err(Error::bad_input(format!(
                    "store URL {shown}: the store lives on PostgreSQL or SQLite, not MySQL"
                )));
            }
        };
        let store = Store {
            pool,
            sqlite_path,
            shown: shown.into(),
            data_keys: None,
            mask_key: None,
        };
        if let Err(e) = store.prepare_schema(schema_use).await {
            store.close().await;
            return Err(e);
        }
        Ok(store)
    }

    /// The store with `keys` to encrypt discrepancies' values at rest and decrypt them (`None`:
    /// new values are stored in clear; encrypted ones cannot be read).
    pub fn with_data_keys(mut self, keys: Option<crate::at_rest::DataKeys>) -> Store {
        self.data_keys = keys.map(std::sync::Arc::new);
        self
    }

    /// The keys values are encrypted under, when configured.
    pub(crate) fn data_keys(&self) -> Option<&crate::at_rest::DataKeys> {
        self.data_keys.as_deref()
    }

    /// The store with `key` (and the key a rotation retires, which it holds) to digest the
    /// state audit entries bind and to check digests written under either; `None`: new
    /// digests are plain SHA-256, and keyed ones cannot be checked.
    pub fn with_mask_keys(mut self, key: Option<crate::mask::MaskKey>) -> Store {
        self.mask_key = key.map(std::sync::Arc::new);
        self
    }

    /// The key state digests are written under, when configured.
    pub(crate) fn mask_key(&self) -> Option<&crate::mask::MaskKey> {
        self.mask_key.as_deref()
    }

    /// The store's URL without its password, for messages.
    pub(crate) fn shown(&self) -> &str {
        &self.shown
    }

    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
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

/// Who is acting: the OS user, for operator actions.
pub(crate) fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// How recon itself signs the entries of a run: `recon@host`.
pub(crate) fn run_actor() -> String {
    format!("recon@{}", hostname())
}

#[cfg(test)]
mod tests {
    use super::value_rows;

    #[test]
    fn value_rows_renumber_each_copy_past_the_parameters_before() {
        assert_eq!(value_rows("($1, $2)", 2, 2, 1), "($2, $3), ($4, $5)");
        assert_eq!(
            value_rows("($1, 'open', $2, $2)", 2, 3, 0),
            "($1, 'open', $2, $2), ($3, 'open', $4, $4), ($5, 'open', $6, $6)"
        );
        assert_eq!(value_rows("$1", 1, 3, 2), "$3, $4, $5");
        assert_eq!(value_rows("($10, $1)", 10, 2, 0), "($10, $1), ($20, $11)");
        assert_eq!(value_rows("('$', $1)", 1, 1, 0), "('$', $1)");
        assert_eq!(value_rows("($1)", 1, 0, 0), "");
    }

    /// The test process keeps its own (usually looser) umask: the modes are recon's doing.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_sqlite_store_and_its_journal_files_are_0600_while_open() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let store = super::Store::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let mode = |suffix: &str| {
            let file = format!("{}{suffix}", path.display());
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777;
            format!("{suffix} {mode:o}")
        };
        assert_eq!(
            ["", "-wal", "-shm"].map(mode),
            [" 600", "-wal 600", "-shm 600"]
        );
        store.close().await;
    }
}
