//! One run, start to end, for one business date: lock, read, compare, persist, report.
//! `retry` completes the checks a run could not finish, in the same run.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use tracing::{Instrument, info, info_span, warn};

use crate::breaker::Breakers;
use crate::catch_up;
use crate::check::CheckOutcome;
use crate::config::Config;
use crate::day::BusinessDay;
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::integrity;
use crate::integrity::check::{IntegrityInputs, IntegrityOutcome};
use crate::integrity::spec::IntegritySpec;
use crate::output::{self, AuditHead, Summary};
use crate::retry;
use crate::run_id::RunId;
use crate::seal::{self, SealWindow};
use crate::secret::process_env;
use crate::settlement;
use crate::settlement::check::SettlementInputs;
use crate::settlement::spec::SettlementSpec;
use crate::shard::Shard;
use crate::source::pool::SourcePool;
use crate::store::{BacklogItem, HEARTBEAT_EVERY, RunLock, Store};

mod split;

/// What a finished run hands back to its caller.
pub struct RunReport {
    pub summary: Summary,
    pub reports: Vec<PathBuf>,
    /// The open backlog across every date after the run, for the metrics; `None` when the
    /// store could not be read for it (the run itself stands).
    pub backlog: Option<Vec<BacklogItem>>,
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

/// The date a `run` or `retry` works on: the one given (`--date`, `RECON_DATE`), else yesterday
/// — except for a shard, which must be told: shards started either side of midnight (a pod
/// retried after it) would each take their own yesterday.
pub fn business_date(
    config: &Config,
    given: Option<NaiveDate>,
    shard: Option<Shard>,
) -> Result<NaiveDate> {
    match (given, shard) {
        (Some(date), _) => Ok(date),
        (None, Some(shard)) => Err(Error::bad_input(format!(
            "shard {}/{} needs its business date: give --date or set RECON_DATE when the Job is created, so that every shard, a pod retried after midnight too, runs the same date",
            shard.index, shard.count
        ))),
        (None, None) => Ok(yesterday(config)),
    }
}

/// The dates of a catch-up, `from` to `to` both included, in order; a range given backwards
/// is refused.
pub fn dates_from_to(from: NaiveDate, to: NaiveDate) -> Result<Vec<NaiveDate>> {
    if from > to {
        return Err(Error::bad_input(format!(
            "--from {from} is after --to {to}: give the earlier date first"
        )));
    }
    Ok(from.iter_days().take_while(|d| *d <= to).collect())
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
    run_checks(config, date, out, options, &[]).await
}

/// [`run`] of only the checks named in `only` (every check when empty): a rerun of those checks
/// of the date, which moves only their findings. A name not configured is refused, naming
/// the configured ones.
pub async fn run_checks(
    config: &Config,
    date: NaiveDate,
    out: &Path,
    options: RunOptions,
    only: &[String],
) -> Result<RunReport> {
    let unknown: Vec<&str> = only
        .iter()
        .filter(|name| !config.check_names().any(|c| c == name.as_str()))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(Error::bad_input(format!(
            "--check {}: not a configured check; the checks are: {}",
            unknown.join(", "),
            config.check_names().collect::<Vec<_>>().join(", ")
        )));
    }
    let shard = Shard::key(options.shard);
    with_lock(config, date, &shard, async |session: &Session| {
        let store = &session.store;
        if options.resume
            && let Some((run_id, outcome)) = store.latest_run(date, &shard).await?
            && outcome == Some(Exit::Incomplete)
        {
            info!(
                run_id = run_id.0,
                "the latest run of this date is incomplete: completing it"
            );
            return complete(config, session, run_id, date, out, options).await;
        }
        let run_id = store
            .begin_run(date, &shard, &config.digest, Utc::now())
            .await?;
        // A check split by key is every shard's: each compares its own key range of it.
        let checks = Checks::select(config, |position, name| {
            (only.is_empty() || only.iter().any(|o| o == name))
                && options
                    .shard
                    .is_none_or(|s| s.takes(position) || split::is_split(config, name))
        });
        let run = Run::new(config, session, run_id, date)?;
        run.work(&checks, out, options)
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
    with_lock(config, date, &shard_key, async |session: &Session| {
        let (run_id, _) = session
            .store
            .latest_run(date, &shard_key)
            .await?
            .ok_or_else(|| {
                Error::bad_input(format!(
                    "no finished run for {date} to retry; start one with `recon run --date {date}`"
                ))
            })?;
        let options = RunOptions {
            shard,
            ..RunOptions::default()
        };
        complete(config, session, run_id, date, out, options).await
    })
    .await
}

/// The store and the date's lock, held while a run works on the date.
struct Session {
    store: Store,
    lock: tokio::sync::Mutex<RunLock>,
}

impl Session {
    /// Before run `run_id` writes: its lock is still its own (see [`RunLock::ensure_held`]).
    async fn before_write(&self, run_id: RunId) -> Result<()> {
        self.lock
            .lock()
            .await
            .ensure_held(&self.store, run_id)
            .await
    }
}

/// Opens the store (retried while it cannot be reached), holds the date's lock while `work`
/// runs, then lets both go. A store that stays unreachable ends the run with exit 3, named.
async fn with_lock(
    config: &Config,
    date: NaiveDate,
    shard: &str,
    work: impl AsyncFnOnce(&Session) -> Result<RunReport>,
) -> Result<RunReport> {
    let store = Store::open_retried(&config.store_url, config.store_access)
        .await?
        .with_data_keys(config.data_keys.clone())
        .with_mask_keys(config.mask_key.clone());
    let shown = store.shown().to_string();
    let report = match store.lock_date(date, shard).await {
        Ok(lock) => {
            let session = Session {
                store: store.clone(),
                lock: tokio::sync::Mutex::new(lock),
            };
            let report = work(&session).await;
            session.lock.into_inner().release().await;
            report
        }
        Err(e) => Err(e),
    };
    store.close().await;
    report.map_err(|e| e.naming_store(&shown))
}

/// Completes run `run_id`: its failed checks are attempted again and its reports rewritten.
async fn complete(
    config: &Config,
    session: &Session,
    run_id: RunId,
    date: NaiveDate,
    out: &Path,
    options: RunOptions,
) -> Result<RunReport> {
    let store = &session.store;
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
    let run = Run::new(config, session, run_id, date)?;
    run.work(&checks, out, options)
        .instrument(info_span!("retry", run_id = run_id.0, business_date = %date))
        .await
}

/// The store's name among the run's circuit breakers.
const STORE_ENDPOINT: &str = "store";

/// How long an interrupted run may take to record itself and write its reports: inside the
/// 30 s a Kubernetes pod is given between SIGTERM and SIGKILL.
const INTERRUPT_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

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

/// One run of one business day, as its checks see it.
struct Run<'a> {
    config: &'a Config,
    store: &'a Store,
    session: &'a Session,
    /// The run's circuit breakers: one per endpoint (a source, an API host, the store), shared
    /// by all its checks.
    breakers: Breakers,
    run_id: RunId,
    day: BusinessDay,
}

impl<'a> Run<'a> {
    /// Run `run_id` of `date`, in `session`, before its first check.
    fn new(
        config: &'a Config,
        session: &'a Session,
        run_id: RunId,
        date: NaiveDate,
    ) -> Result<Run<'a>> {
        Ok(Run {
            config,
            store: &session.store,
            session,
            breakers: Breakers::new(config.circuit_breaker),
            run_id,
            day: BusinessDay::new(date, config.timezone)?,
        })
    }

    /// The run's work, heartbeat beating: its checks executed, then its reports written and the
    /// run closed. A SIGTERM or SIGINT (a drained node, a Job's deadline, an operator) stops the
    /// checks: those not recorded are recorded failed as interrupted, and the run closes with
    /// what it has (exit 3), within [`INTERRUPT_GRACE`].
    async fn work(
        &self,
        checks: &Checks<'_>,
        out: &Path,
        options: RunOptions,
    ) -> Result<RunReport> {
        let _heartbeat = Heartbeat::start(self.store, self.run_id);
        match &self.config.data_keys {
            None => warn!("{}", self.config.at_rest_line()),
            Some(_) => info!("{}", self.config.at_rest_line()),
        }
        let interrupted = tokio::select! {
            executed = Box::pin(self.execute(checks, out, options)) => {
                return self.finish(out, executed, options.nightly).await;
            }
            signal = interruption() => signal,
        };
        warn!(
            signal = interrupted,
            "interrupted: recording what the run has, then stopping"
        );
        let closing = async {
            self.record_interrupted(checks, interrupted).await?;
            self.finish(out, Ok(()), options.nightly).await
        };
        match tokio::time::timeout(INTERRUPT_GRACE, closing).await {
            Ok(closed) => closed,
            Err(_) => Err(Error::unavailable(format!(
                "interrupted by {interrupted}, and the run could not be recorded within {} s; the next run of the date supersedes it",
                INTERRUPT_GRACE.as_secs()
            ))),
        }
    }

    /// Each check of the run, in turn: compared, recorded, sealed; then history and kept
    /// downloads past their retention pruned.
    async fn execute(&self, checks: &Checks<'_>, out: &Path, options: RunOptions) -> Result<()> {
        let (config, store, run_id, day) = (self.config, self.store, self.run_id, self.day);
        let sources = SourcePool::new(&config.sources, &self.breakers);
        let inputs = IntegrityInputs {
            sources: &sources,
            mask: config.mask_key.as_ref(),
            temp_dir: &config.temp_dir,
        };
        // Acknowledgements past their last day need someone again, whatever date they are of.
        self.session.before_write(run_id).await?;
        let lapsed = store
            .lapse_expired_acknowledgements(run_id, Utc::now().date_naive())
            .await?;
        if lapsed > 0 {
            info!(lapsed, "acknowledgements past their last day reopened");
        }
        for check in &checks.integrity {
            let partition = integrity::check::partition(check, day);
            let span = info_span!("check", check = %check.name, partition = %partition);
            match options.shard.filter(|s| check.split_by_key && s.count > 1) {
                Some(shard) => {
                    let part = split::Part {
                        config,
                        store,
                        inputs,
                        run_id,
                        check,
                        day,
                        shard,
                        span: &span,
                    };
                    self.session.before_write(run_id).await?;
                    Box::pin(part.run(options.wait_for_ranges))
                        .instrument(span.clone())
                        .await?;
                    // One shard prunes, so that two never audit the same pruning.
                    if check.seal && shard.index == 0 {
                        self.prune_seals(check).instrument(span).await?;
                    }
                }
                None => {
                    Box::pin(self.integrity_check(check, inputs))
                        .instrument(span)
                        .await?
                }
            }
        }
        let downloads = out.join("downloads");
        for check in &checks.settlement {
            let span = info_span!("check", check = %check.name, partition = %day.date);
            Box::pin(self.settlement_check(check, &sources, &downloads))
                .instrument(span)
                .await?;
        }
        // After the checks, so the seals they pruned no longer hold their runs; by one shard only,
        // as with seals, so that shards of the same night never prune (and audit) the same rows.
        if options.shard.is_none_or(|s| s.index == 0) {
            let kept_from =
                day.date - chrono::Duration::days(i64::from(config.history_retention_days));
            self.session.before_write(run_id).await?;
            let pruned = store.prune_history(run_id, kept_from).await?;
            if !pruned.is_empty() {
                info!(runs = pruned.runs.len(), resolved = pruned.resolved.len(), before = %kept_from, "history past its retention pruned");
            }
        }
        // By every shard, each in its own out folder (`--out …/shard-I`); shards sharing one
        // never audit the same file twice: only one of them removes it.
        let kept_from =
            day.date - chrono::Duration::days(i64::from(config.download_retention_days));
        let pruned = settlement::fetch::prune_downloads(&downloads, kept_from)?;
        if !pruned.removed.is_empty() {
            self.session.before_write(run_id).await?;
            store
                .audit_downloads_pruned(run_id, kept_from, &pruned.removed)
                .await?;
            info!(files = pruned.removed.len(), before = %kept_from, "downloads past their retention pruned");
        }
        if let Some(e) = pruned.failed {
            return Err(e);
        }
        sources.close().await;
        Ok(())
    }

    /// The checks of this run not recorded yet, recorded failed: interrupted by `signal`, so a
    /// `recon retry` (or `run --resume`) runs them again.
    async fn record_interrupted(&self, checks: &Checks<'_>, signal: &str) -> Result<()> {
        let recorded: Vec<String> = self
            .store
            .stored_run(self.run_id)
            .await?
            .checks
            .into_iter()
            .map(|c| c.check)
            .collect();
        let cut = || Error::unavailable(format!("interrupted by {signal}"));
        let unrecorded = |name: &str| !recorded.iter().any(|r| r == name);
        let mut outcomes = Vec::new();
        for check in checks.integrity.iter().filter(|c| unrecorded(&c.name)) {
            outcomes.push(integrity::check::failed(check, self.day, cut()));
        }
        for check in checks.settlement.iter().filter(|c| unrecorded(&c.name)) {
            outcomes.push(settlement::check::failed(check, self.day, cut()));
        }
        for mut outcome in outcomes {
            outcome.record.interrupt(signal);
            self.record(outcome).await?;
        }
        Ok(())
    }

    /// Closes the run with the outcome its stored results call for and writes its reports.
    async fn finish(&self, out: &Path, executed: Result<()>, nightly: bool) -> Result<RunReport> {
        let (config, store, run_id) = (self.config, self.store, self.run_id);
        if let Err(e) = executed {
            // Leave the run closed, not dangling as 'running' — unless what failed may pass (the
            // store unreachable, the lock lost): then this run writes nothing more, and the
            // rerun marks it abandoned.
            if !e.is_transient() {
                let _ = store.fail_run(run_id, e.exit(), Utc::now()).await;
            }
            return Err(e);
        }
        self.session.before_write(run_id).await?;
        let stored = store.stored_run(run_id).await?;
        let exit = stored.exit();
        let finished_at = Utc::now();
        let business_date = stored.business_date;
        let opened_breakers = self.breakers.opened();
        let elsewhere = store.needing_someone_unseen_by(run_id).await?;
        let days = day_closures(store, &stored).await?;
        // The run is recorded finished only once its reports are written.
        let written = store
            .finish_run_then(run_id, exit, finished_at, |closing| {
                let (seq, hash, key_id, signature) = closing.audit_head;
                let standing = catch_up::standing(
                    business_date,
                    nightly,
                    closing.completed_before,
                    closing.completed_last,
                );
                let summary = output::summarize(
                    config.timezone,
                    stored,
                    exit,
                    finished_at,
                    AuditHead {
                        seq,
                        hash,
                        key_id,
                        signature,
                    },
                    closing.recent_runs,
                    standing,
                )
                .with_circuit_breakers(opened_breakers)
                .with_needing_someone_elsewhere(elsewhere)
                .with_days(days)
                .with_at_rest(self.config.at_rest_line());
                let reports = output::write_reports(out, &summary)?;
                Ok((summary, reports))
            })
            .await;
        let (summary, reports) = match written {
            Ok(written) => written,
            Err(e) => {
                // Not finished without its reports: closed as failed, with the failure's exit
                // code, so `recon run` runs the date again.
                if !e.is_transient() {
                    let _ = store.fail_run(run_id, e.exit(), Utc::now()).await;
                }
                return Err(e);
            }
        };
        info!(
            outcome = exit.as_str(),
            discrepancies = summary.totals.discrepancies,
            "run finished"
        );
        // The head leaves the store here: a log line an auditor's collector keeps.
        let head = &summary.audit_head;
        match &head.key_id {
            Some(key_id) => info!(
                seq = head.seq,
                hash = %head.hash,
                key_id = %key_id,
                signature = head.signature.as_deref().unwrap_or_default(),
                "audit head"
            ),
            None => warn!(
                seq = head.seq,
                hash = %head.hash,
                "audit head (entries are UNSIGNED: no RECON_AUDIT_SIGNING_KEY, so the store's own credentials can rewrite the chain)"
            ),
        }
        let backlog = match store.open_backlog().await {
            Ok(backlog) => Some(backlog),
            Err(e) => {
                warn!(error = %e, "the open backlog could not be read: its metrics are left out");
                None
            }
        };
        Ok(RunReport {
            summary,
            reports,
            backlog,
        })
    }

    /// One integrity check: compared and recorded; its day sealed when it came out clean, and
    /// its sealed days re-verified, when it seals.
    async fn integrity_check(
        &self,
        check: &IntegritySpec,
        inputs: IntegrityInputs<'_>,
    ) -> Result<()> {
        let IntegrityOutcome { outcome, seal } =
            integrity::check::run(check, inputs, self.day, None).await;
        let clean_day = seal.and_then(|spool| seal::CleanDay::of(&outcome.record, spool));
        self.record(outcome).await?;
        if let Some(day) = clean_day {
            self.session.before_write(self.run_id).await?;
            seal::seal_clean_day(self.store, self.run_id, check, day).await?;
        }
        if check.seal {
            self.prune_seals(check).await?;
            seal::verify_sealed_days(self.store, self.run_id, check, self.seal_window(), inputs)
                .await?;
        }
        Ok(())
    }

    /// One settlement check, with the in-flight findings of earlier days it examines again and
    /// the batches earlier runs fetched.
    async fn settlement_check(
        &self,
        check: &SettlementSpec,
        sources: &SourcePool<'_>,
        downloads: &Path,
    ) -> Result<()> {
        let history = || {
            self.breakers.guard(STORE_ENDPOINT, async {
                let in_flight = self.store.in_flight(&check.name, self.day.date).await?;
                let fetched = self.store.recorded_downloads(&check.name).await?;
                Ok::<_, Error>((in_flight, fetched))
            })
        };
        let (history, _) =
            retry::with_retries(self.config.store_access.retry, "store", history).await;
        let history = match history {
            Err(e) if e.is_store_unreachable() => return Err(e),
            history => history,
        };
        let bank_leg =
            self.config
                .bank_legs
                .get(&check.name)
                .map(|spec| crate::bank::check::BankLegRun {
                    spec,
                    sync: crate::bank::aggregator::SyncJob {
                        store: self.store,
                        policy: sources.policy(&[&check.ledger.source]),
                        env: &process_env,
                        breakers: sources.breakers(),
                        tls_ca_file: check.tls_ca_file.as_deref(),
                    },
                });
        let outcome = match history {
            Ok((in_flight, fetched)) => {
                let inputs = SettlementInputs {
                    day: self.day,
                    timezone: self.config.timezone,
                    sources,
                    in_flight,
                    downloads,
                    config_dir: &self.config.dir,
                    env: &process_env,
                    fetched,
                    mask: self.config.mask_key.as_ref(),
                    breakers: sources.breakers(),
                    idempotency: self.store,
                    data_keys: self.config.data_keys.as_ref(),
                    after_matching: bank_leg
                        .as_ref()
                        .map(|leg| leg as &dyn settlement::check::AfterMatching),
                    temp_dir: &self.config.temp_dir,
                };
                settlement::check::run(check, inputs).await
            }
            Err(e) => settlement::check::failed(check, self.day, e),
        };
        self.record(outcome).await
    }

    /// Stores one check's outcome (failed instead when it found more than the job allows) and
    /// says, in its span, what that changed. Retried, as a source is, while the store cannot be
    /// reached (one transaction: a failed attempt leaves nothing); each attempt first makes sure
    /// the date's lock is still this run's.
    async fn record(&self, outcome: CheckOutcome) -> Result<()> {
        let outcome = outcome.capped(self.config.max_discrepancies);
        let (recorded, _) =
            retry::with_retries(self.config.store_access.retry, "store", || async {
                self.session.before_write(self.run_id).await?;
                self.store.record_outcome(self.run_id, &outcome).await
            })
            .await;
        recorded
    }

    /// Prunes the check's seals past their retention.
    async fn prune_seals(&self, check: &IntegritySpec) -> Result<()> {
        seal::prune(
            self.store,
            self.run_id,
            check,
            self.day,
            self.config.seal_retention_days,
        )
        .await
    }

    /// The sealed days this run re-verifies.
    fn seal_window(&self) -> SealWindow {
        SealWindow {
            day: self.day,
            lookback_days: self.config.seal_lookback_days,
            timezone: self.config.timezone,
        }
    }
}

/// The closure of the run's business date and of each earlier date whose findings the run
/// resolved (a late payout's deposit traced closes the day it was paid out).
async fn day_closures(
    store: &Store,
    run: &crate::store::StoredRun,
) -> Result<Vec<output::DayClosure>> {
    let mut dates: Vec<NaiveDate> = run
        .resolved
        .iter()
        .filter_map(|r| r.discrepancy.partition.date())
        .filter(|d| *d < run.business_date)
        .collect();
    dates.sort();
    dates.dedup();
    let failed = run
        .checks
        .iter()
        .filter(|c| c.status == crate::check::CheckStatus::Failed)
        .count();
    let mut days = Vec::new();
    for date in dates.into_iter().chain([run.business_date]) {
        let (needing, in_flight) = store.day_standing(date).await?;
        let failed = if date == run.business_date { failed } else { 0 };
        days.push(output::DayClosure::new(date, needing, in_flight, failed));
    }
    Ok(days)
}

/// The run's heartbeat, written every [`HEARTBEAT_EVERY`] until dropped: how a run that finds
/// the date's lock free tells that this one still goes on (see `store::lock`).
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    fn start(store: &Store, run_id: RunId) -> Heartbeat {
        let store = store.clone();
        Heartbeat(tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT_EVERY);
            every.tick().await; // the first tick is at once: the run began with a beat
            loop {
                every.tick().await;
                if let Err(e) = store.beat(run_id).await {
                    warn!(run_id = run_id.0, error = %e, "cannot write the run's heartbeat");
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Resolves with the signal's name when the process is asked to stop (SIGTERM, SIGINT); never
/// where signals cannot be listened to.
async fn interruption() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_catch_up_runs_each_date_of_its_range_in_order_and_refuses_one_given_backwards() {
        assert_eq!(
            dates_from_to(date("2026-02-27"), date("2026-03-01")).unwrap(),
            [date("2026-02-27"), date("2026-02-28"), date("2026-03-01")]
        );
        assert_eq!(
            dates_from_to(date("2026-03-01"), date("2026-03-01")).unwrap(),
            [date("2026-03-01")]
        );
        let backwards = dates_from_to(date("2026-03-02"), date("2026-03-01")).unwrap_err();
        assert_eq!(backwards.exit(), Exit::BadInput);
        assert_eq!(
            backwards.to_string(),
            "--from 2026-03-02 is after --to 2026-03-01: give the earlier date first"
        );
    }
}
