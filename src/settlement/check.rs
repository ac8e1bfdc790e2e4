//! One settlement check for one business day: reports found and parsed, the ledger read, lines
//! matched, in-flight rows of earlier days examined again, and every row accounted for.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::fetch::{self, Acquisition, BatchHistory, Download, ReportFile};
use super::ledger::{LedgerRead, read_ledger};
use super::matching::{MatchOn, MatchOutcome, SettlementDiscrepancy, match_report};
use super::spec::SettlementSpec;
use super::{Id, ParseOutcome, Quarantined, SettlementRecord, parse_report};
use crate::day::BusinessDay;
use crate::discrepancy::{AtStake, ColumnValues, Discrepancy, Kind, SettlementKind};
use crate::error::{Error, Result};
use crate::mask::mask_card_numbers;
use crate::money::format_major;
use crate::retry::{RetryPolicy, with_retries};
use crate::secret::EnvLookup;
use crate::source::Source;

/// What one settlement check hands to the run: what it read, kept whether or not it finished,
/// and what it found or why it failed.
pub(crate) struct SettlementResult {
    pub(crate) read: ReadSoFar,
    pub(crate) found: Result<Vec<Discrepancy>>,
    pub(crate) duration: std::time::Duration,
}

impl SettlementResult {
    /// The result of a check that could not start: nothing read, one attempt.
    pub(crate) fn failed(e: Error) -> SettlementResult {
        SettlementResult {
            read: ReadSoFar::nothing(),
            found: Err(e),
            duration: std::time::Duration::ZERO,
        }
    }
}

/// What a settlement check had read when it finished or failed, for the run's record.
#[derive(Debug)]
pub(crate) struct ReadSoFar {
    /// Attempts the check's syncs took (the more of the report's and the ledger's).
    pub(crate) attempts: u32,
    /// The report files, by name, comma-separated.
    pub(crate) report_files: String,
    /// SHA-256 over every report file's bytes, in file order.
    pub(crate) report_digest: Option<String>,
    /// Data rows in the report files.
    pub(crate) report_rows: Option<u64>,
    /// The reports fetched from the processor, kept under `<out>/downloads/`.
    pub(crate) downloads: Vec<Download>,
    /// Ledger rows of the day (and carried rows) considered.
    pub(crate) ledger_rows: Option<u64>,
    /// Rows read = matched + in discrepancies + quarantined, per file and for the ledger.
    pub(crate) accounting: Option<String>,
}

impl ReadSoFar {
    fn nothing() -> ReadSoFar {
        ReadSoFar {
            attempts: 1,
            report_files: String::new(),
            report_digest: None,
            report_rows: None,
            downloads: Vec::new(),
            ledger_rows: None,
            accounting: None,
        }
    }
}

/// What one check needs from the run besides its spec.
pub(crate) struct SettlementInputs<'a> {
    pub(crate) day: BusinessDay,
    /// The job's zone, for ledger times stored without one.
    pub(crate) timezone: Tz,
    /// How the report download and the ledger read are retried.
    pub(crate) policy: RetryPolicy,
    /// In-flight rows of earlier days: ledger id → (discrepancy id, its business date).
    pub(crate) in_flight: &'a HashMap<String, (i64, String)>,
    /// Where downloaded reports are kept.
    pub(crate) downloads: &'a Path,
    /// Where report credentials are looked up.
    pub(crate) env: EnvLookup<'a>,
    /// The Adyen settlement batches earlier runs of the check fetched.
    pub(crate) batches: &'a BatchHistory,
}

/// The reports of one check, parsed: their records in file order, and what each file held.
struct Reports {
    records: Vec<SettlementRecord>,
    files: Vec<ParsedFile>,
    digest: String,
}

/// One report file: its data rows, its records' place in [`Reports::records`], its quarantine.
struct ParsedFile {
    file: ReportFile,
    rows_read: u64,
    records: std::ops::Range<usize>,
    quarantined: Vec<Quarantined>,
}

/// Runs `check` for `inputs.day`. `connect` opens (or reuses) the ledger's source. Never
/// fails: a failure is the check's result.
pub(crate) async fn run_settlement(
    check: &SettlementSpec,
    inputs: &SettlementInputs<'_>,
    connect: impl AsyncFn() -> Result<Arc<Source>>,
) -> SettlementResult {
    let started = Instant::now();
    let mut read = ReadSoFar::nothing();
    let found = reconcile(check, inputs, connect, &mut read).await;
    SettlementResult {
        read,
        found,
        duration: started.elapsed(),
    }
}

async fn reconcile(
    check: &SettlementSpec,
    inputs: &SettlementInputs<'_>,
    connect: impl AsyncFn() -> Result<Arc<Source>>,
    read: &mut ReadSoFar,
) -> Result<Vec<Discrepancy>> {
    let SettlementInputs {
        day,
        timezone,
        policy,
        in_flight,
        downloads,
        env,
        batches,
    } = *inputs;
    let job = Acquisition {
        check: &check.name,
        day,
        timezone,
        downloads,
        policy,
        env,
        batches,
    };
    let reports = async {
        let acquired = fetch::acquire(&check.location, &job).await;
        let (attempts, downloads) = (acquired.attempts, acquired.downloads);
        let parsed = async {
            let files = acquired.files?;
            let format = check.format.clone();
            tokio::task::spawn_blocking(move || parse_all(&format, files))
                .await
                .map_err(|e| Error::internal(format!("parsing reports: {e}")))?
        };
        (parsed.await, attempts, downloads)
    };
    // lines of earlier days' activity (a payout, a batch): the report is read first, and the
    // ledger rows it names are read whatever their day
    let mut reports = std::pin::pin!(reports);
    let first = match check.format.spans_days() {
        true => Some(reports.as_mut().await),
        false => None,
    };
    let named = match &first {
        Some((Ok(parsed), _, _)) => named_ids(&parsed.records, check.rules.match_on),
        _ => HashSet::new(),
    };
    let ledger = with_retries(policy, &check.name, || async {
        let source = connect().await?;
        let carried: HashSet<&str> = in_flight
            .keys()
            .map(String::as_str)
            .chain(named.iter().map(|id| id.as_ref()))
            .collect();
        read_ledger(&source, &check.ledger, &day, timezone, &carried).await
    });
    let ((reports, report_attempts, downloads), (ledger, ledger_attempts)) = match first {
        Some(read) => (read, ledger.await),
        None => tokio::join!(reports, ledger),
    };
    read.downloads = downloads;
    read.attempts = ledger_attempts.max(report_attempts);
    let reports = reports?;
    let ledger = ledger?;
    if ledger.undated > 0 {
        warn!(
            rows = ledger.undated,
            column = %check.ledger.at,
            "ledger rows without a booking time belong to no business day and are never matched"
        );
    }
    read.report_files = reports
        .files
        .iter()
        .map(|f| f.file.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    read.report_digest = Some(reports.digest.clone());
    read.report_rows = Some(reports.files.iter().map(|f| f.rows_read).sum());
    read.ledger_rows = Some(ledger.rows_read());
    let records = &reports.records;
    let outcome = match_report(records, &ledger.entries, &check.rules, day.end);
    for warning in &outcome.warnings {
        warn!("{warning}");
    }
    outcome
        .check_accounted(records.len(), ledger.entries.len())
        .map_err(|problems| {
            Error::internal(format!(
                "settlement accounting does not hold, nothing recorded: {problems}"
            ))
        })?;
    let accounting = account(&reports, &ledger, &outcome, check)?;
    info!(%accounting, "settlement accounted");
    read.accounting = Some(accounting);

    let date = day.date.to_string();
    let partition_of = |d: &SettlementDiscrepancy| -> String {
        let carried_day = d
            .ledger
            .first()
            .and_then(|&i| in_flight.get(ledger.entries[i].id.as_str()))
            .map(|(_, day)| day.clone());
        match carried_day {
            Some(day) if d.records.is_empty() => day,
            _ => date.clone(),
        }
    };
    let mut found: Vec<Discrepancy> = outcome
        .discrepancies
        .iter()
        .map(|d| discrepancy(check, records, &ledger, d, partition_of(d)))
        .collect();
    for parsed in &reports.files {
        found.extend(
            parsed
                .quarantined
                .iter()
                .map(|q| quarantined_line(check, &date, q)),
        );
    }
    found.extend(ledger.unreadable.iter().map(|u| Discrepancy {
        check: check.name.clone(),
        partition: date.clone(),
        kind: Kind::QuarantinedRow,
        key: vec![("ledger_id".to_string(), Some(u.id.clone()))],
        columns: Vec::new(),
        values: Vec::new(),
        detail: Some(
            mask_card_numbers(&format!("ledger row set aside: {}", u.reason)).into_owned(),
        ),
        at_stake: None,
    }));
    Ok(found)
}

/// Parses every report file; a file that cannot be read at all fails the check. Each file is
/// hashed as it streams through the parser, never held whole in memory.
fn parse_all(format: &super::Format, files: Vec<ReportFile>) -> Result<Reports> {
    let mut hasher = Sha256::new();
    let mut reports = Reports {
        records: Vec::new(),
        files: Vec::with_capacity(files.len()),
        digest: String::new(),
    };
    for file in files {
        let cannot_read = |e: std::io::Error| {
            Error::bad_input(format!("{}: cannot read the report: {e}", file.name))
        };
        let mut reader = Hashing::new(std::fs::File::open(&file.path).map_err(cannot_read)?);
        let ParseOutcome {
            records,
            quarantined,
            rows_read,
            skipped_lines: _,
        } = parse_report(format, &file.name, &mut reader)
            .map_err(|e| Error::bad_input(e.to_string()))?;
        hasher.update(reader.finish().map_err(cannot_read)?);
        let start = reports.records.len();
        if reports.records.is_empty() {
            reports.records = records;
        } else {
            reports.records.extend(records);
        }
        reports.files.push(ParsedFile {
            file,
            rows_read,
            records: start..reports.records.len(),
            quarantined,
        });
    }
    reports.digest = hex::encode(hasher.finalize());
    Ok(reports)
}

/// A buffered reader that hashes every byte it hands out.
struct Hashing<R> {
    inner: std::io::BufReader<R>,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner: std::io::BufReader::with_capacity(256 * 1024, inner),
            hasher: Sha256::new(),
        }
    }

    /// The SHA-256 of the whole input, reading whatever the parser left unread.
    fn finish(mut self) -> std::io::Result<sha2::digest::Output<Sha256>> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        Ok(self.hasher.finalize())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

/// The accounting line: per report, rows read = matched + in discrepancies + quarantined; for
/// the ledger, rows read = matched + in discrepancies + not expected + set aside. A sum that
/// does not hold is an internal error: nothing is recorded rather than something dropped.
fn account(
    reports: &Reports,
    ledger: &LedgerRead,
    outcome: &MatchOutcome,
    check: &SettlementSpec,
) -> Result<String> {
    let mut matched = vec![false; reports.records.len()];
    for m in &outcome.matched {
        if let Some(slot) = matched.get_mut(m.record) {
            *slot = true;
        }
    }
    let mut parts = Vec::new();
    for parsed in &reports.files {
        let ok = matched
            .get(parsed.records.clone())
            .unwrap_or_default()
            .iter()
            .filter(|&&m| m)
            .count() as u64;
        let found = parsed.records.len() as u64 - ok;
        let quarantined = parsed.quarantined.len() as u64;
        let name = &parsed.file.name;
        if ok + found + quarantined != parsed.rows_read {
            return Err(Error::internal(format!(
                "{name}: {} rows read but {ok} matched + {found} in discrepancies + {quarantined} quarantined",
                parsed.rows_read
            )));
        }
        parts.push(format!(
            "{name}: {} rows = {ok} matched + {found} in discrepancies + {quarantined} quarantined",
            parsed.rows_read
        ));
    }
    // each ledger entry: matched, else named by a discrepancy
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        No,
        Matched,
        Found,
    }
    let mut seen = vec![Seen::No; ledger.entries.len()];
    for j in outcome.matched.iter().filter_map(|m| m.ledger) {
        if let Some(slot) = seen.get_mut(j) {
            *slot = Seen::Matched;
        }
    }
    for j in outcome
        .discrepancies
        .iter()
        .flat_map(|d| d.ledger.iter().copied())
    {
        if let Some(slot) = seen.get_mut(j).filter(|s| **s == Seen::No) {
            *slot = Seen::Found;
        }
    }
    let entries = ledger.entries.len() as u64;
    let ok = seen.iter().filter(|&&s| s == Seen::Matched).count() as u64;
    let found = seen.iter().filter(|&&s| s == Seen::Found).count() as u64;
    let not_expected = outcome.not_expected.len() as u64;
    let set_aside = ledger.unreadable.len() as u64;
    if ok + found + not_expected != entries {
        return Err(Error::internal(format!(
            "ledger {}: {entries} entries but {ok} matched + {found} in discrepancies + {not_expected} not expected",
            check.ledger.table
        )));
    }
    parts.push(format!(
        "ledger {}: {} rows = {ok} matched + {found} in discrepancies + {not_expected} not expected + {set_aside} set aside",
        check.ledger.table,
        ledger.rows_read()
    ));
    Ok(parts.join("; "))
}

/// The ids the records are matched on, for reading their ledger rows whatever their day.
fn named_ids(records: &[SettlementRecord], on: MatchOn) -> HashSet<Id> {
    records
        .iter()
        .filter_map(|r| match_id(r, on))
        .map(Id::from)
        .collect()
}

/// The id a record is matched on, as its discrepancies are keyed.
fn match_id(record: &SettlementRecord, on: MatchOn) -> Option<&str> {
    match on {
        MatchOn::RecordId => Some(record.record_id.as_str()),
        MatchOn::Reference => record.reference.as_deref(),
    }
    .filter(|id| !id.trim().is_empty())
}

fn discrepancy(
    check: &SettlementSpec,
    records: &[SettlementRecord],
    ledger: &LedgerRead,
    d: &SettlementDiscrepancy,
    partition: String,
) -> Discrepancy {
    let first_record = d.records.first().map(|&i| &records[i]);
    let key = match (d.kind, first_record) {
        (SettlementKind::PayoutTotalMismatch, Some(r)) => vec![
            (
                "payout_id".to_string(),
                Some(r.payout_id.as_ref().unwrap_or(&r.record_id).to_string()),
            ),
            ("currency".to_string(), Some(d.currency.code().to_string())),
        ],
        (_, Some(r)) => match match_id(r, check.rules.match_on) {
            Some(id) => vec![("id".to_string(), Some(id.to_string()))],
            None => vec![("record_id".to_string(), Some(r.record_id.to_string()))],
        },
        (_, None) => vec![(
            "id".to_string(),
            d.ledger.first().map(|&i| ledger.entries[i].id.to_string()),
        )],
    };
    let amount = |minor: Option<i64>| minor.map(|m| format_major(m, d.currency));
    let (columns, values) = match d.kind {
        SettlementKind::AmountMismatch
        | SettlementKind::FeeMismatch
        | SettlementKind::PayoutTotalMismatch => {
            let column = match d.kind {
                SettlementKind::AmountMismatch => "amount",
                SettlementKind::FeeMismatch => "fee",
                _ => "payout_total",
            };
            (
                vec![column.to_string()],
                vec![ColumnValues {
                    column: column.to_string(),
                    left: amount(d.actual_minor),
                    right: amount(d.expected_minor),
                }],
            )
        }
        SettlementKind::CurrencyMismatch => (
            vec!["currency".to_string()],
            vec![ColumnValues {
                column: "currency".to_string(),
                left: first_record.map(|r| r.currency.code().to_string()),
                right: d
                    .ledger
                    .first()
                    .map(|&i| ledger.entries[i].currency.code().to_string()),
            }],
        ),
        SettlementKind::StatusMismatch => (
            vec!["status".to_string()],
            vec![ColumnValues {
                column: "status".to_string(),
                left: Some("settled".to_string()),
                right: d
                    .ledger
                    .first()
                    .and_then(|&i| ledger.entries[i].status.as_ref().map(Id::to_string)),
            }],
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let mut places: Vec<String> = d
        .records
        .iter()
        .map(|&i| records[i].source.to_string())
        .collect();
    places.extend(
        d.ledger
            .iter()
            .map(|&i| format!("ledger {} id {}", check.ledger.table, ledger.entries[i].id)),
    );
    const SHOWN: usize = 6;
    let mut at = places
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if places.len() > SHOWN {
        at.push_str(&format!(" and {} more", places.len() - SHOWN));
    }
    Discrepancy {
        check: check.name.clone(),
        partition,
        kind: Kind::Settlement(d.kind),
        key,
        columns,
        values,
        detail: Some(mask_card_numbers(&format!("{} ({at})", d.detail)).into_owned()),
        at_stake: at_stake(records, ledger, d).map(|minor| AtStake {
            currency: d.currency.code().to_string(),
            minor,
        }),
    }
}

/// The money a finding puts in question, in minor units of its currency: the difference for
/// a mismatch of amounts, the line or row itself when one side lacks it, the extra copies of a
/// duplicate. `None` when nothing can be said (an overflow, no amount).
fn at_stake(
    records: &[SettlementRecord],
    ledger: &LedgerRead,
    d: &SettlementDiscrepancy,
) -> Option<i64> {
    let gross = |i: &usize| records[*i].gross_minor.checked_abs();
    let amount = |i: &usize| ledger.entries[*i].amount_minor.checked_abs();
    let sum = |items: &mut dyn Iterator<Item = Option<i64>>| {
        let mut total = 0i64;
        for n in items {
            total = total.checked_add(n?)?;
        }
        Some(total)
    };
    match d.kind {
        SettlementKind::AmountMismatch
        | SettlementKind::FeeMismatch
        | SettlementKind::PayoutTotalMismatch => d
            .actual_minor?
            .checked_sub(d.expected_minor?)?
            .checked_abs(),
        SettlementKind::MissingInLedger
        | SettlementKind::CurrencyMismatch
        | SettlementKind::StatusMismatch => sum(&mut d.records.iter().map(gross)),
        SettlementKind::MissingInReport | SettlementKind::Timing => {
            sum(&mut d.ledger.iter().map(amount))
        }
        SettlementKind::DuplicateInReport => sum(&mut d.records.iter().skip(1).map(gross)),
        SettlementKind::DuplicateInLedger => sum(&mut d.ledger.iter().skip(1).map(amount)),
    }
}

fn quarantined_line(check: &SettlementSpec, date: &str, q: &Quarantined) -> Discrepancy {
    Discrepancy {
        check: check.name.clone(),
        partition: date.to_string(),
        kind: Kind::QuarantinedRow,
        key: vec![
            ("file".to_string(), Some(q.source.path.to_string())),
            ("line".to_string(), Some(q.source.line.to_string())),
        ],
        columns: Vec::new(),
        values: Vec::new(),
        detail: Some(mask_card_numbers(&format!("{} — row: {}", q.reason, q.raw)).into_owned()),
        at_stake: None,
    }
}
