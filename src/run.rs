//! One run, start to end, for one business date: lock, read, compare, persist, report.
//! `retry` completes the checks a run could not finish, in the same run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use tokio::sync::Mutex;
use tracing::{Instrument, info, info_span, warn};

use crate::catch_up;
use crate::config::Config;
use crate::day::BusinessDay;
use crate::discrepancy::Discrepancy;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::integrity::spec::{IntegritySpec, TableRef};
use crate::integrity::{self, TablePair};
use crate::output::{self, AuditHead, Summary};
use crate::progress::Progress;
use crate::retry::with_retries;
use crate::run_id::RunId;
use crate::seal::{self, SealWindow};
use crate::secret::process_env;
use crate::settlement;
use crate::settlement::check::{SettlementInputs, SettlementResult};
use crate::settlement::fetch::{BatchHistory, Download, ReportLocation};
use crate::settlement::spec::SettlementSpec;
use crate::shard::Shard;
use crate::source::Source;
use crate::source::pushdown::KeyRange;
use crate::store::{CheckKind, CheckRecord, CheckStatus, Store, TableSide};

mod split;

/// The partition name of a check without a date column: the whole table.
pub(crate) const WHOLE_TABLE: &str = "all";

/// What a finished run hands back to its caller.
pub struct RunReport {
    pub summary: Summary,
    pub reports: Vec<PathBuf>,
}

impl RunReport {
    pub fn exit(&self) -> Exit {
        self.summary.outcome
    }
}

/// The default business date: yesterday in the job's zone.
pub fn yesterday(config: &Config) -> NaiveDate {
    let today = Utc::now().with_timezone(&config.timezone).date_naive();
    today.pred_opt().unwrap_or(today)
}

/// How a run is started: for which part of the checks, and whether it may resume.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Only the checks of this shard.
    pub shard: Option<Shard>,
    /// When the date's latest run is incomplete, complete it (as `retry` does) instead of
    /// starting afresh: what a CronJob's pod retry after exit 3 should do.
    pub resume: bool,
    /// The date is the default one (yesterday): the summary names dates missed since the last
    /// completed run (see [`crate::catch_up`]).
    pub nightly: bool,
    /// How long a shard waits for the other shards' ranges of a check split by key before it
    /// reports the check incomplete (see [`split`]).
    pub wait_for_ranges: std::time::Duration,
}

/// Runs the configured checks for `date`, records the results and writes the reports to `out`.
pub async fn run(
    config: &Config,
    date: NaiveDate,
    out: &Path,
    options: RunOptions,
) -> Result<RunReport> {
    let shard = Shard::key(options.shard);
    with_lock(config, date, &shard, async |store: &Store| {
        if options.resume
            && let Some((run_id, outcome)) = store.latest_run(date, &shard).await?
            && outcome == Some(Exit::Incomplete)
        {
            info!(
                run_id = run_id.0,
                "the latest run of this date is incomplete: completing it"
            );
            return complete(config, store, run_id, date, out, options).await;
        }
        let run_id = store
            .begin_run(date, &shard, &config.digest, Utc::now())
            .await?;
        // A check split by key is every shard's: each compares its own key range of it.
        let checks = Checks::select(config, |position, name| {
            options
                .shard
                .is_none_or(|s| s.takes(position) || split::is_split(config, name))
        });
        let day = BusinessDay::new(date, config.timezone)?;
        async {
            let executed =
                Box::pin(execute(config, store, run_id, day, &checks, out, options)).await;
            finish(config, store, run_id, out, executed, options.nightly).await
        }
        .instrument(info_span!("run", run_id = run_id.0, business_date = %date, shard = %shard))
        .await
    })
    .await
}

/// Re-attempts only the checks that failed in the latest run of `date`, completing that run.
pub async fn retry(
    config: &Config,
    date: NaiveDate,
    out: &Path,
    shard: Option<Shard>,
) -> Result<RunReport> {
    let shard_key = Shard::key(shard);
    with_lock(config, date, &shard_key, async |store: &Store| {
        let (run_id, _) = store.latest_run(date, &shard_key).await?.ok_or_else(|| {
            Error::bad_input(format!(
                "no finished run for {date} to retry; start one with `recon run --date {date}`"
            ))
        })?;
        let options = RunOptions {
            shard,
            ..RunOptions::default()
        };
        complete(config, store, run_id, date, out, options).await
    })
    .await
}

/// Opens the store, holds the date's lock while `work` runs, then lets both go.
async fn with_lock(
    config: &Config,
    date: NaiveDate,
    shard: &str,
    work: impl AsyncFnOnce(&Store) -> Result<RunReport>,
) -> Result<RunReport> {
    let store = Store::open(&config.store_url).await?;
    let lock = store.lock_date(date, shard).await;
    let report = match lock {
        Ok(lock) => {
            let report = work(&store).await;
            lock.release().await;
            report
        }
        Err(e) => Err(e),
    };
    store.close().await;
    report
}

/// Completes run `run_id`: its failed checks are attempted again and its reports rewritten.
async fn complete(
    config: &Config,
    store: &Store,
    run_id: RunId,
    date: NaiveDate,
    out: &Path,
    options: RunOptions,
) -> Result<RunReport> {
    let failed = store.begin_retry(run_id).await?;
    let checks = Checks::select(config, |_, name| failed.iter().any(|f| f == name));
    for name in failed
        .iter()
        .filter(|n| !checks.names().any(|c| c == n.as_str()))
    {
        warn!(check = %name, "failed in run {run_id} but no longer configured; left as it was");
    }
    info!(
        run_id = run_id.0,
        checks = checks.names().count(),
        "retrying the checks that failed"
    );
    let day = BusinessDay::new(date, config.timezone)?;
    async {
        let executed = Box::pin(execute(config, store, run_id, day, &checks, out, options)).await;
        finish(config, store, run_id, out, executed, options.nightly).await
    }
    .instrument(info_span!("retry", run_id = run_id.0, business_date = %date))
    .await
}

/// Closes the run with the outcome its stored results call for and writes its reports.
async fn finish(
    config: &Config,
    store: &Store,
    run_id: RunId,
    out: &Path,
    executed: Result<()>,
    nightly: bool,
) -> Result<RunReport> {
    if let Err(e) = executed {
        // Leave the run closed, not dangling as 'running'.
        let _ = store.finish_run(run_id, Exit::Internal, Utc::now()).await;
        return Err(e);
    }
    let stored = store.stored_run(run_id).await?;
    let exit = stored.exit();
    let finished_at = Utc::now();
    store.finish_run(run_id, exit, finished_at).await?;
    let (seq, hash) = store.audit_head().await?;
    let history = store.recent_runs(30).await?;
    let standing = catch_up::standing(store, stored.business_date, &stored.shard, nightly).await?;
    let summary = output::summarize(
        config.timezone,
        stored,
        exit,
        finished_at,
        AuditHead { seq, hash },
        history,
        standing,
    );
    let reports = output::write_reports(out, &summary)?;
    info!(
        outcome = exit.as_str(),
        discrepancies = summary.totals.discrepancies,
        "run finished"
    );
    Ok(RunReport { summary, reports })
}

/// Sources opened once each, on first use; one that fails to open is tried again next time.
struct Sources<'c> {
    config: &'c Config,
    open: Mutex<HashMap<String, Arc<Source>>>,
}

impl Sources<'_> {
    async fn get(&self, name: &str) -> Result<Arc<Source>> {
        let mut open = self.open.lock().await;
        if let Some(source) = open.get(name) {
            return Ok(source.clone());
        }
        let config = self
            .config
            .sources
            .get(name)
            .ok_or_else(|| Error::bad_input(format!("source {name} is not configured")))?;
        let source = Arc::new(Source::connect(config).await?);
        open.insert(name.to_string(), source.clone());
        Ok(source)
    }

    async fn close(&self) {
        for source in self.open.lock().await.values() {
            source.close().await;
        }
    }
}

/// The checks one run (or retry) executes: integrity checks, then settlement checks.
struct Checks<'c> {
    integrity: Vec<&'c IntegritySpec>,
    settlement: Vec<&'c SettlementSpec>,
}

impl<'c> Checks<'c> {
    /// The configured checks `keep` accepts, given each one's position (integrity checks first,
    /// then settlement checks: the order shards split) and name.
    fn select(config: &'c Config, keep: impl Fn(usize, &str) -> bool) -> Checks<'c> {
        let offset = config.integrity.len();
        Checks {
            integrity: config
                .integrity
                .iter()
                .enumerate()
                .filter(|(i, c)| keep(*i, &c.name))
                .map(|(_, c)| c)
                .collect(),
            settlement: config
                .settlement
                .iter()
                .enumerate()
                .filter(|(i, c)| keep(offset + i, &c.name))
                .map(|(_, c)| c)
                .collect(),
        }
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        self.integrity
            .iter()
            .map(|c| c.name.as_str())
            .chain(self.settlement.iter().map(|c| c.name.as_str()))
    }
}

async fn execute(
    config: &Config,
    store: &Store,
    run_id: RunId,
    day: BusinessDay,
    checks: &Checks<'_>,
    out: &Path,
    options: RunOptions,
) -> Result<()> {
    let sources = Sources {
        config,
        open: Mutex::new(HashMap::new()),
    };
    for check in &checks.integrity {
        let partition = integrity_partition(check, day);
        let span = info_span!("check", check = %check.name, partition = %partition);
        if let Some(shard) = options.shard.filter(|s| check.split_by_key && s.count > 1) {
            let part = split::Part {
                config,
                store,
                sources: &sources,
                run_id,
                check,
                day,
                shard,
                span: &span,
            };
            Box::pin(part.run(options.wait_for_ranges))
                .instrument(span.clone())
                .await?;
            // One shard prunes, so that two never audit the same pruning.
            if check.seal && shard.index == 0 {
                prune_seals(config, store, run_id, check, day, &span).await?;
            }
            continue;
        }
        let (record, found, spool) = run_check(config, &sources, check, day)
            .instrument(span.clone())
            .await;
        record_check(
            store,
            run_id,
            &span,
            config.max_discrepancies,
            &record,
            &found,
            &[],
        )
        .await?;
        if let (Some(spool), Some(digest), Some(rows)) =
            (spool, &record.left.digest, record.left.rows)
        {
            let segments = spool.len();
            let sealed_day = (digest.as_str(), rows);
            let part = crate::store::SealPart::Day;
            if seal::seal_day(
                store,
                run_id,
                check,
                &record.partition,
                part,
                sealed_day,
                spool,
            )
            .await?
            {
                span.in_scope(|| info!(rows, segments, "day sealed"));
            }
        }
        if check.seal {
            prune_seals(config, store, run_id, check, day, &span).await?;
            seal::verify_sealed_days(
                store,
                run_id,
                check,
                seal_window(config, day),
                async |sealed_day, work, range| {
                    Box::pin(compare_check(
                        config,
                        &sources,
                        check,
                        sealed_day,
                        Some(work),
                        range,
                    ))
                    .await
                    .0
                },
            )
            .instrument(span)
            .await?;
        }
    }
    let downloads = out.join("downloads");
    for check in &checks.settlement {
        let span = info_span!("check", check = %check.name, partition = %day.date);
        let (record, found, reexamined) =
            run_settlement_check(config, store, &sources, check, day, &downloads)
                .instrument(span.clone())
                .await;
        record_check(
            store,
            run_id,
            &span,
            config.max_discrepancies,
            &record,
            &found,
            &reexamined,
        )
        .await?;
    }
    // After the checks, so the seals they pruned no longer hold their runs; by one shard only,
    // as with seals, so that shards of the same night never prune (and audit) the same rows.
    if options.shard.is_none_or(|s| s.index == 0) {
        let kept_from = day.date - chrono::Duration::days(i64::from(config.history_retention_days));
        let pruned = store.prune_history(run_id, kept_from).await?;
        if !pruned.is_empty() {
            info!(runs = pruned.runs.len(), resolved = pruned.resolved.len(), before = %kept_from, "history past its retention pruned");
        }
    }
    sources.close().await;
    Ok(())
}

/// The sealed days a run of `day` re-verifies.
fn seal_window(config: &Config, day: BusinessDay) -> SealWindow {
    SealWindow {
        day,
        lookback_days: config.seal_lookback_days,
        timezone: config.timezone,
    }
}

/// Prunes the check's seals past their retention before `day`.
async fn prune_seals(
    config: &Config,
    store: &Store,
    run_id: RunId,
    check: &IntegritySpec,
    day: BusinessDay,
    span: &tracing::Span,
) -> Result<()> {
    let kept_from = day.date - chrono::Duration::days(i64::from(config.seal_retention_days));
    let pruned = store
        .prune_seals(run_id, &check.name, &kept_from.to_string())
        .await?;
    if !pruned.is_empty() {
        span.in_scope(
            || info!(days = pruned.len(), before = %kept_from, "seals past their retention pruned"),
        );
    }
    Ok(())
}

/// One settlement check for the run's date, with the in-flight rows of earlier days it examines
/// again: its record, its discrepancies, and the in-flight discrepancies it re-examined (resolved
/// unless found again).
async fn run_settlement_check(
    config: &Config,
    store: &Store,
    sources: &Sources<'_>,
    check: &SettlementSpec,
    day: BusinessDay,
    downloads: &Path,
) -> (CheckRecord, Vec<Discrepancy>, Vec<i64>) {
    let history = async {
        let rows = store.in_flight(&check.name, day.date).await?;
        let batches = batch_history(store, check).await?;
        Ok::<_, Error>((rows, batches))
    };
    let result = match history.await {
        Ok((rows, batches)) => {
            let in_flight: HashMap<String, (i64, String)> = rows
                .into_iter()
                .filter_map(|r| {
                    let id = r.discrepancy.key.first().and_then(|(_, v)| v.clone())?;
                    Some((id, (r.id, r.discrepancy.partition)))
                })
                .collect();
            let inputs = SettlementInputs {
                day,
                timezone: config.timezone,
                policy: config
                    .sources
                    .get(&check.ledger.source)
                    .map(|s| s.retry)
                    .unwrap_or_default(),
                in_flight: &in_flight,
                downloads,
                env: &process_env,
                batches: &batches,
            };
            let result = settlement::check::run_settlement(check, &inputs, async || {
                sources.get(&check.ledger.source).await
            })
            .await;
            let reexamined = match result.found {
                Ok(_) => in_flight.values().map(|(id, _)| *id).collect(),
                Err(_) => Vec::new(),
            };
            (result, reexamined)
        }
        Err(e) => (SettlementResult::failed(e), Vec::new()),
    };
    let (
        SettlementResult {
            read,
            found,
            duration,
        },
        reexamined,
    ) = result;
    let mut record = CheckRecord {
        check: check.name.clone(),
        check_type: CheckKind::Settlement,
        partition: day.date.to_string(),
        status: CheckStatus::Failed,
        left: TableSide {
            source: format!("{} report", check.format.processor()),
            table: read.report_files,
            rows: read.report_rows,
            digest: read.report_digest,
        },
        right: TableSide {
            source: check.ledger.source.clone(),
            table: check.ledger.table.clone(),
            rows: read.ledger_rows,
            digest: None,
        },
        error: None,
        exit: Exit::Internal,
        attempts: read.attempts,
        duration_ms: duration.as_millis() as u64,
        accounting: read.accounting,
        downloads: (!read.downloads.is_empty()).then(|| serde_json::json!(read.downloads)),
    };
    match found {
        Ok(found) => {
            record.succeed(found.len());
            (record, found, reexamined)
        }
        Err(e) => {
            record.fail(&e);
            (record, Vec::new(), Vec::new())
        }
    }
}

/// The Adyen settlement batches earlier runs of `check` fetched, when it fetches by batch.
async fn batch_history(store: &Store, check: &SettlementSpec) -> Result<BatchHistory> {
    if !matches!(check.location, ReportLocation::Adyen(_)) {
        return Ok(BatchHistory::default());
    }
    let mut fetched = Vec::new();
    for (partition, downloads) in store.recorded_downloads(&check.name).await? {
        let downloads: Vec<Download> = serde_json::from_value(downloads)
            .map_err(|e| Error::internal(format!("store holds unreadable downloads: {e}")))?;
        if let Ok(date) = partition.parse() {
            fetched.extend(downloads.iter().filter_map(|d| Some((date, d.batch?))));
        }
    }
    Ok(BatchHistory { fetched })
}

/// Stores one check's result and says, in its span, what that changed. A check that found more
/// discrepancies than `limit` is stored as failed instead, none of them recorded (see
/// [`too_many`]).
async fn record_check(
    store: &Store,
    run_id: RunId,
    span: &tracing::Span,
    limit: u64,
    record: &CheckRecord,
    found: &[Discrepancy],
    reexamined: &[i64],
) -> Result<()> {
    let failed;
    let (record, found, reexamined) = match too_many(found, limit) {
        Some(e) if record.status != CheckStatus::Failed => {
            let mut record = record.clone();
            span.in_scope(|| record.fail(&e));
            failed = record;
            (&failed, &[][..], &[][..])
        }
        _ => (record, found, reexamined),
    };
    let changes = store
        .record_check(run_id, record, found, reexamined)
        .await?;
    span.in_scope(|| {
        info!(
            status = record.status.as_str(),
            discrepancies = changes.seen.len(),
            resolved = changes.resolved.len(),
            attempts = record.attempts,
            "check recorded"
        )
    });
    Ok(())
}

/// The error of a check that found more than `limit` discrepancies, with their count by kind.
/// So many usually mean the wrong report, mapping or table rather than that many real problems,
/// and recording each (with its audit entry) would bury the real ones; so the check fails and
/// asks for a look. A real mass difference says so here too, and a raised limit records it.
fn too_many(found: &[Discrepancy], limit: u64) -> Option<Error> {
    if found.len() as u64 <= limit {
        return None;
    }
    let mut by_kind = std::collections::BTreeMap::<&str, u64>::new();
    for d in found {
        *by_kind.entry(d.kind.as_str()).or_default() += 1;
    }
    let kinds: Vec<String> = by_kind.iter().map(|(k, n)| format!("{n} {k}")).collect();
    Some(Error::bad_input(format!(
        "{} discrepancies found ({}), more than the {limit} one check may record (job.max_discrepancies): \
         none were recorded. Check that the report, its mapping and the tables are the ones meant; \
         if the differences are real, raise the limit and rerun",
        found.len(),
        kinds.join(", ")
    )))
}

/// One check's sync for `day`: both sides read and compared, retried by the tighter of its two
/// sources' policies. Returns the comparison (or the last error) and the attempts made.
async fn compare_check(
    config: &Config,
    sources: &Sources<'_>,
    check: &IntegritySpec,
    day: BusinessDay,
    work: Option<integrity::SegmentWork<'_>>,
    key_range: Option<&KeyRange>,
) -> (Result<integrity::Comparison>, u32) {
    let policy = check_policy(config, check);
    let progress = Progress::start(&check.name);
    // One cutoff for every attempt: a retry must not let younger rows in.
    let settle = check.settle.as_ref().map(|s| {
        let after = chrono::Duration::from_std(s.after).unwrap_or(chrono::Duration::MAX);
        (s.column.as_str(), Utc::now() - after, s.recheck_after)
    });
    let result = with_retries(policy, &check.name, || async {
        let (left, right) = tokio::try_join!(
            sources.get(&check.left.source),
            sources.get(&check.right.source)
        )?;
        let pair = TablePair {
            left: &left,
            left_table: &check.left.table,
            right: &right,
            right_table: &check.right.table,
            key: &check.key,
            columns: check.columns.as_deref(),
            day: check.date_column.as_deref().map(|c| (c, day)),
            filter: check.filter.as_ref(),
            settle: settle.map(|(column, since, _)| (column, since)),
            key_range,
        };
        let options = integrity::CompareOptions {
            rows_read: Some(progress.rows()),
            strategy: check.strategy,
            segmenting: integrity::Segmenting::default(),
            recheck_after: settle.map(|(_, _, recheck)| recheck),
        };
        integrity::compare_with_segments(&pair, options, work).await
    })
    .await;
    progress.finish().await;
    result
}

/// The retry policy of an integrity check's syncs: the tighter of its two sources'.
fn check_policy(config: &Config, check: &IntegritySpec) -> crate::retry::RetryPolicy {
    match (
        config.sources.get(&check.left.source),
        config.sources.get(&check.right.source),
    ) {
        (Some(l), Some(r)) => l.retry.tighter(r.retry),
        _ => crate::retry::RetryPolicy::default(),
    }
}

/// An integrity check's result before it is known: failed, its sides named, rows not read.
fn integrity_record(
    check: &IntegritySpec,
    partition: &str,
    attempts: u32,
    duration_ms: u64,
) -> CheckRecord {
    let side = |t: &TableRef| TableSide {
        source: t.source.clone(),
        table: t.table.clone(),
        rows: None,
        digest: None,
    };
    CheckRecord {
        check: check.name.clone(),
        check_type: CheckKind::Integrity,
        partition: partition.to_string(),
        status: CheckStatus::Failed,
        left: side(&check.left),
        right: side(&check.right),
        error: None,
        exit: Exit::Internal,
        attempts,
        duration_ms,
        accounting: None,
        downloads: None,
    }
}

/// An integrity check's partition for `day`: the date, or the whole table without a date column.
fn integrity_partition(check: &IntegritySpec, day: BusinessDay) -> String {
    if check.date_column.is_some() {
        day.date.to_string()
    } else {
        WHOLE_TABLE.to_string()
    }
}

/// One check for the run's date: its result, its discrepancies, and, when the day came out
/// clean and the check seals, the segments to seal it with.
async fn run_check(
    config: &Config,
    sources: &Sources<'_>,
    check: &IntegritySpec,
    day: BusinessDay,
) -> (CheckRecord, Vec<Discrepancy>, Option<integrity::SealSpool>) {
    let partition = integrity_partition(check, day);
    let started = Instant::now();
    let shown = |key: &[crate::canonical::Value]| seal::shown_key_json(check, key);
    let work = check.seal.then_some(integrity::SegmentWork::Seal(&shown));
    let (compared, attempts) =
        Box::pin(compare_check(config, sources, check, day, work, None)).await;
    let mut record = integrity_record(
        check,
        &partition,
        attempts,
        started.elapsed().as_millis() as u64,
    );
    match compared {
        Ok(mut comparison) => {
            let found = comparison.discrepancies(&check.name, &partition, &check.sensitive_columns);
            record.succeed(found.len());
            record.left.rows = Some(comparison.left.rows);
            record.left.digest = comparison.left.digest;
            record.right.rows = Some(comparison.right.rows);
            record.right.digest = comparison.right.digest.clone();
            info!(
                left_rows = comparison.left.rows,
                right_rows = comparison.right.rows,
                discrepancies = found.len(),
                in_flight = comparison.in_flight,
                duration_ms = record.duration_ms,
                "check compared"
            );
            let spool = match comparison.segments.take() {
                Some(integrity::SegmentOutcome::Sealed(spool))
                    if found.is_empty() && comparison.in_flight == 0 =>
                {
                    Some(spool)
                }
                _ => None,
            };
            (record, found, spool)
        }
        Err(e) => {
            record.fail(&e);
            (record, Vec::new(), None)
        }
    }
}
