//! One run, start to end, for one business date: plan, read, compare, persist, report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{NaiveDate, Utc};
use tracing::{Instrument, error, info, info_span, warn};

use crate::config::{Config, IntegrityCheck};
use crate::discrepancy::{Discrepancy, Recorded, Status};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::integrity::{self, BusinessDay, TablePair};
use crate::output::{
    self, AuditHead, CheckSummary, DiscrepancyEntry, SideSummary, Summary, Totals,
};
use crate::source::Source;
use crate::store::{CheckChanges, CheckRecord, CheckStatus, Store};

/// The partition name of a check without a date column: the whole table.
pub const WHOLE_TABLE: &str = "all";

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

/// Runs every configured check for `date`, records the results and writes the reports to `out`.
pub async fn run(config: &Config, date: NaiveDate, out: &Path) -> Result<RunReport> {
    let day = BusinessDay::new(date, config.timezone)?;
    let store = Store::open(&config.store_url).await?;
    let started_at = Utc::now();
    let run_id = store.begin_run(date, &config.digest, started_at).await?;
    let span = info_span!("run", run_id, business_date = %date);
    let result = execute(config, &store, run_id, day).instrument(span).await;
    let (checks, changes) = match result {
        Ok(done) => done,
        Err(e) => {
            // Leave the run closed, not dangling as 'running'.
            let _ = store.finish_run(run_id, Exit::Internal, Utc::now()).await;
            return Err(e);
        }
    };

    let mut exit = Exit::Clean;
    for check in &checks {
        exit = worse(exit, check.exit);
    }
    let finished_at = Utc::now();
    store.finish_run(run_id, exit, finished_at).await?;
    let (seq, hash) = store.audit_head().await?;
    store.close().await;

    let facts = RunFacts {
        run_id,
        date,
        started_at,
        finished_at,
        exit,
        audit_head: AuditHead { seq, hash },
    };
    let summary = summarize(config, facts, checks, changes);
    let reports = output::write_reports(out, &summary)?;
    info!(
        run_id,
        outcome = exit.as_str(),
        discrepancies = summary.totals.discrepancies,
        "run finished"
    );
    Ok(RunReport { summary, reports })
}

/// Which outcome wins when checks end differently: the one that needs the most attention.
fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Clean => 0,
        Exit::Discrepancies => 1,
        Exit::Incomplete => 2,
        Exit::BadInput => 3,
        Exit::Locked => 4,
        Exit::Internal => 5,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// One check's outcome within the run.
struct CheckOutcome {
    config: IntegrityCheck,
    record: CheckRecord,
    exit: Exit,
}

async fn execute(
    config: &Config,
    store: &Store,
    run_id: i64,
    day: BusinessDay,
) -> Result<(Vec<CheckOutcome>, CheckChanges)> {
    // Sources are opened once each, on first use; a source that cannot be opened fails only
    // the checks that need it.
    let mut sources: BTreeMap<String, std::result::Result<Source, Error>> = BTreeMap::new();
    let mut outcomes = Vec::new();
    let mut changes = CheckChanges::default();
    for check in &config.integrity {
        for name in [&check.left.source, &check.right.source] {
            if !sources.contains_key(name) {
                let opened = match config.sources.get(name) {
                    Some(source_config) => Source::connect(source_config).await,
                    None => Err(Error::bad_input(format!("source {name} is not configured"))),
                };
                sources.insert(name.clone(), opened);
            }
        }
        let partition = if check.date_column.is_some() {
            day.date.to_string()
        } else {
            WHOLE_TABLE.to_string()
        };
        let started = Instant::now();
        let span = info_span!("check", check = %check.name, partition = %partition);
        let compared = async {
            let left = sources[&check.left.source].as_ref().map_err(Error::clone)?;
            let right = sources[&check.right.source]
                .as_ref()
                .map_err(Error::clone)?;
            let pair = TablePair {
                left,
                left_table: &check.left.table,
                right,
                right_table: &check.right.table,
                key: &check.key,
                columns: check.columns.as_deref(),
                day: check.date_column.as_deref().map(|c| (c, day)),
            };
            integrity::compare(&pair).await
        }
        .instrument(span.clone())
        .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let (record, found, exit) = match compared {
            Ok(comparison) => {
                let mut found: Vec<Discrepancy> = comparison
                    .schema
                    .iter()
                    .map(|f| Discrepancy::from_schema(&check.name, &partition, f))
                    .collect();
                found.extend(comparison.differences.iter().map(|d| {
                    Discrepancy::from_difference(
                        &check.name,
                        &partition,
                        &comparison.key,
                        d,
                        &check.sensitive_columns,
                    )
                }));
                let status = if found.is_empty() {
                    CheckStatus::Clean
                } else {
                    CheckStatus::Discrepancies
                };
                span.in_scope(|| {
                    info!(
                        left_rows = comparison.left.rows,
                        right_rows = comparison.right.rows,
                        discrepancies = found.len(),
                        duration_ms,
                        "check compared"
                    )
                });
                let record = CheckRecord {
                    check: check.name.clone(),
                    check_type: "integrity",
                    partition: partition.clone(),
                    status,
                    left_rows: Some(comparison.left.rows),
                    right_rows: Some(comparison.right.rows),
                    left_digest: Some(comparison.left.digest),
                    right_digest: Some(comparison.right.digest),
                    error: None,
                    duration_ms,
                };
                let exit = if found.is_empty() {
                    Exit::Clean
                } else {
                    Exit::Discrepancies
                };
                (record, found, exit)
            }
            Err(e) => {
                let message = crate::mask::mask_card_numbers(&e.to_string()).into_owned();
                span.in_scope(|| error!(error = %message, "check failed"));
                let record = CheckRecord {
                    check: check.name.clone(),
                    check_type: "integrity",
                    partition: partition.clone(),
                    status: CheckStatus::Failed,
                    left_rows: None,
                    right_rows: None,
                    left_digest: None,
                    right_digest: None,
                    error: Some(message),
                    duration_ms,
                };
                (record, Vec::new(), e.exit())
            }
        };
        let recorded = store.record_check(run_id, &record, &found).await?;
        if !recorded.resolved.is_empty() {
            span.in_scope(|| {
                info!(
                    resolved = recorded.resolved.len(),
                    "discrepancies resolved since the last run"
                )
            });
        }
        changes.seen.extend(recorded.seen);
        changes.resolved.extend(recorded.resolved);
        outcomes.push(CheckOutcome {
            config: check.clone(),
            record,
            exit,
        });
    }
    for source in sources.values().flatten() {
        source.close().await;
    }
    if outcomes
        .iter()
        .any(|o| o.record.status == CheckStatus::Failed)
    {
        warn!("some checks failed; their discrepancies are not known for this run");
    }
    Ok((outcomes, changes))
}

/// What the run itself was, beside what its checks found.
struct RunFacts {
    run_id: i64,
    date: NaiveDate,
    started_at: chrono::DateTime<Utc>,
    finished_at: chrono::DateTime<Utc>,
    exit: Exit,
    audit_head: AuditHead,
}

fn summarize(
    config: &Config,
    facts: RunFacts,
    checks: Vec<CheckOutcome>,
    changes: CheckChanges,
) -> Summary {
    let count = |status: Status| changes.seen.iter().filter(|r| r.status == status).count();
    let with_status = |s: CheckStatus| checks.iter().filter(|c| c.record.status == s).count();
    let totals = Totals {
        checks: checks.len(),
        checks_clean: with_status(CheckStatus::Clean),
        checks_with_discrepancies: with_status(CheckStatus::Discrepancies),
        checks_failed: with_status(CheckStatus::Failed),
        discrepancies: changes.seen.len(),
        new: count(Status::Open),
        carried: count(Status::Carried),
        acknowledged: count(Status::Acknowledged),
        resolved: changes.resolved.len(),
    };
    let per_check = |name: &str| {
        changes
            .seen
            .iter()
            .filter(|r: &&Recorded| r.discrepancy.check == name)
            .count()
    };
    let checks = checks
        .into_iter()
        .map(|c| CheckSummary {
            discrepancies: per_check(&c.config.name),
            name: c.config.name,
            check_type: c.record.check_type,
            partition: c.record.partition,
            status: c.record.status,
            left: SideSummary {
                source: c.config.left.source,
                table: c.config.left.table,
                rows: c.record.left_rows,
                digest: c.record.left_digest,
            },
            right: SideSummary {
                source: c.config.right.source,
                table: c.config.right.table,
                rows: c.record.right_rows,
                digest: c.record.right_digest,
            },
            error: c.record.error,
            duration_ms: c.record.duration_ms,
        })
        .collect();
    Summary {
        schema_version: output::SUMMARY_SCHEMA_VERSION,
        recon_version: env!("CARGO_PKG_VERSION"),
        run_id: facts.run_id,
        business_date: facts.date,
        timezone: config.timezone.name().to_string(),
        started_at: facts.started_at,
        finished_at: facts.finished_at,
        config_digest: config.digest.clone(),
        outcome: facts.exit,
        exit_code: facts.exit.code(),
        totals,
        audit_head: facts.audit_head,
        checks,
        discrepancies: changes.seen.iter().map(DiscrepancyEntry::from).collect(),
        resolved: changes
            .resolved
            .iter()
            .map(DiscrepancyEntry::from)
            .collect(),
    }
}
