//! One settlement check for one business day: reports found and parsed, the ledger read, lines
//! matched, in-flight rows of earlier days examined again, and every row accounted for.
//!
//! Both sides stream into buckets by match id (`matching::streamed`), where the plainly
//! agreeing pairs are counted; only the rest is held, matched by every rule and reported, so
//! the memory a day takes is the check's `memory_mb`, not the report's size.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::fetch::{self, Acquisition, BatchHistory, ReportFile};
use super::ledger::{Carried, LedgerRead, read_ledger};
use super::matching::streamed::{LineBuckets, MemoryBudget, RowBuckets, pair_in_bulk};
use super::matching::{MatchOn, MatchOutcome, SettlementDiscrepancy, match_report, record_key};
use super::report::parse_report_into;
use super::spec::SettlementSpec;
use super::{Id, Quarantined, SettlementRecord};
use crate::breaker::Breakers;
use crate::check::{
    AccountLine, Accounting, CheckKind, CheckOutcome, CheckRecord, Compared, Download, TableSide,
};
use crate::day::{BusinessDay, Partition};
use crate::discrepancy::{
    AtStake, ColumnValues, Discrepancy, Kind, Recorded, SettlementKind, ShownKey,
};
use crate::error::{Error, Result};
use crate::mask::{MaskKey, Shown, mask_card_numbers};
use crate::money::format_major_wide;
use crate::retry::with_retries;
use crate::secret::EnvLookup;
use crate::source::pool::SourcePool;

/// What a settlement check had read when it finished or failed, for the run's record.
#[derive(Debug)]
struct ReadSoFar {
    /// Attempts the check's syncs took (the more of the report's and the ledger's).
    attempts: u32,
    /// The report files, by name.
    report_files: Vec<String>,
    /// SHA-256 over every report file's bytes, in file order.
    report_digest: Option<String>,
    /// Data rows in the report files.
    report_rows: Option<u64>,
    /// The reports fetched from the processor, kept under `<out>/downloads/`.
    downloads: Vec<Download>,
    /// Ledger rows of the day (and carried rows) considered.
    ledger_rows: Option<u64>,
    /// Rows read = matched + in discrepancies + quarantined, per file and for the ledger.
    accounting: Option<Accounting>,
    /// The `payout_late` findings of earlier days the bank leg traced again.
    further_reexamined: Vec<i64>,
}

impl ReadSoFar {
    fn nothing() -> ReadSoFar {
        ReadSoFar {
            attempts: 1,
            report_files: Vec::new(),
            report_digest: None,
            report_rows: None,
            downloads: Vec::new(),
            ledger_rows: None,
            accounting: None,
            further_reexamined: Vec::new(),
        }
    }
}

/// What one check needs from the run besides its spec.
pub(crate) struct SettlementInputs<'a> {
    pub(crate) day: BusinessDay,
    /// The job's zone, for ledger times stored without one.
    pub(crate) timezone: Tz,
    /// The run's sources, opened on first use.
    pub(crate) sources: &'a SourcePool<'a>,
    /// The check's in-flight findings of earlier days (`timing`), examined again.
    pub(crate) in_flight: Vec<Recorded>,
    /// Where downloaded reports are kept.
    pub(crate) downloads: &'a Path,
    /// The configuration file's folder: relative report paths are read from it.
    pub(crate) config_dir: &'a Path,
    /// Where report credentials are looked up.
    pub(crate) env: EnvLookup<'a>,
    /// What earlier runs of the check downloaded, by partition (the Adyen batches fetched).
    pub(crate) fetched: Vec<(Partition, Vec<Download>)>,
    /// The job's mask key: the identity of a key that masking hid is a digest under it.
    pub(crate) mask: Option<&'a MaskKey>,
    /// The run's circuit breakers, shared by its checks.
    pub(crate) breakers: &'a Breakers,
    /// Where the generations of Stripe's idempotency keys are kept (the store).
    pub(crate) idempotency: &'a dyn crate::check::IdempotencyGenerations,
    /// The keys downloads are kept encrypted under; `None` keeps them in clear.
    pub(crate) data_keys: Option<&'a crate::at_rest::DataKeys>,
    /// What runs over the report's records once they are matched (the bank leg).
    pub(crate) after_matching: Option<&'a dyn AfterMatching>,
    /// The writable folder matching spills its buckets into past the check's memory budget.
    pub(crate) temp_dir: &'a Path,
}

/// The in-flight (`timing`) findings of earlier days, by their ledger id as shown.
struct InFlight<'a> {
    by_shown: HashMap<String, Vec<InFlightRow>>,
    mask: Option<&'a MaskKey>,
}

/// One in-flight finding: its id in the store, its business day, its key's digest.
struct InFlightRow {
    id: i64,
    partition: Partition,
    digest: Option<String>,
}

impl<'a> InFlight<'a> {
    fn new(recorded: &[Recorded], mask: Option<&'a MaskKey>) -> InFlight<'a> {
        let mut by_shown: HashMap<String, Vec<InFlightRow>> = HashMap::new();
        let timing = Kind::Settlement(SettlementKind::Timing);
        for r in recorded.iter().filter(|r| r.discrepancy.kind == timing) {
            if let Some(id) = r.discrepancy.key.first() {
                by_shown
                    .entry(id.to_string())
                    .or_default()
                    .push(InFlightRow {
                        id: r.id,
                        partition: r.discrepancy.partition,
                        digest: r.discrepancy.key.digest.clone(),
                    });
            }
        }
        InFlight { by_shown, mask }
    }

    /// The in-flight finding of ledger id `raw`: the one shown as `raw` masks, and, when masking
    /// hid it, whose digest is `raw`'s, under the mask key or one of its earlier forms (the key a
    /// rotation retires); one recorded without a digest cannot be told apart.
    fn find(&self, raw: &str) -> Option<&InFlightRow> {
        let rows = self.by_shown.get(mask_card_numbers(raw).as_ref())?;
        let mut own = None;
        rows.iter().find(|row| match &row.digest {
            None => true,
            Some(d) => own
                .get_or_insert_with(|| ShownKey::masked(&[("id", Some(raw))], self.mask))
                .digests()
                .any(|own| own == d),
        })
    }

    /// The ids shown as they are (no card number masked in them): named to the ledger exactly.
    fn exact_ids(&self) -> impl Iterator<Item = &str> {
        self.by_shown
            .keys()
            .map(String::as_str)
            .filter(|id| !hides(id))
    }

    /// Whether some in-flight id is shown masked: each row read is then looked up by its mask.
    fn any_hidden(&self) -> bool {
        self.by_shown.keys().any(|id| hides(id))
    }

    /// Whether ledger id `raw` is an in-flight one that masking hid.
    fn hidden_contains(&self, raw: &str) -> bool {
        Shown::hides_card_number(raw) && self.find(raw).is_some()
    }

    fn ids(&self) -> Vec<i64> {
        self.by_shown.values().flatten().map(|row| row.id).collect()
    }
}

/// Whether an id as shown has a masked card number in it (its digits hidden behind `*`).
fn hides(shown: &str) -> bool {
    shown.contains('*')
}

/// The reports of one check, parsed and paired in bulk: the records left for every rule in
/// file order, what each file held, and the lines a further leg reads.
struct Reports {
    records: Vec<SettlementRecord>,
    files: Vec<ParsedFile>,
    digest: String,
    /// The lines a further leg reads ([`AfterMatching::reads`]), in file order.
    kept: Vec<SettlementRecord>,
}

/// One report file: its data rows, its lines paired in bulk, its other records' place in
/// [`Reports::records`], its quarantine.
struct ParsedFile {
    file: ReportFile,
    rows_read: u64,
    paired: u64,
    records: std::ops::Range<usize>,
    quarantined: Vec<Quarantined>,
}

/// Where each line of the reports goes as it is parsed: into its bucket (or the rest), into
/// the ids read from the ledger whatever their day, into what a further leg reads.
struct LineSink {
    lines: LineBuckets,
    on: MatchOn,
    /// The ids the lines are matched on, for a report that spans days.
    named: Option<HashSet<Id>>,
    leg: Option<LegLines>,
    kept: Vec<SettlementRecord>,
}

impl LineSink {
    fn take(&mut self, file: u32, record: SettlementRecord) -> Result<()> {
        if let Some(named) = &mut self.named
            && let Some(id) = record_key(&record, self.on)
        {
            named.insert(Id::from(id));
        }
        if self.leg.is_some_and(|leg| leg.reads(&record)) {
            self.kept.push(record.clone());
        }
        self.lines.push(file, record)
    }
}

/// Runs `check` for `inputs.day`, with the in-flight rows of earlier days it examines again.
/// Never fails: a failure is the check's result.
pub(crate) async fn run(check: &SettlementSpec, inputs: SettlementInputs<'_>) -> CheckOutcome {
    let started = Instant::now();
    let in_flight = InFlight::new(&inputs.in_flight, inputs.mask);
    let mut read = ReadSoFar::nothing();
    let found = reconcile(check, &inputs, &in_flight, &mut read).await;
    let mut reexamined = in_flight.ids();
    reexamined.append(&mut read.further_reexamined);
    let record = record(check, inputs.day, read, started.elapsed());
    CheckOutcome::of(record, found, reexamined)
}

/// The outcome of a check that could not start (its history could not be read): failed with
/// `e`, nothing read.
pub(crate) fn failed(check: &SettlementSpec, day: BusinessDay, e: Error) -> CheckOutcome {
    let record = record(check, day, ReadSoFar::nothing(), std::time::Duration::ZERO);
    CheckOutcome::of(record, Err(e), Vec::new())
}

/// The check's result as far as it read, before its status is known.
fn record(
    check: &SettlementSpec,
    day: BusinessDay,
    read: ReadSoFar,
    took: std::time::Duration,
) -> CheckRecord {
    let mut record = CheckRecord::pending(
        &check.name,
        CheckKind::Settlement,
        Partition::Day(day.date),
        TableSide {
            source: format!("{} report", check.format.processor()),
            compared: Compared::Reports(read.report_files),
            rows: read.report_rows,
            digest: read.report_digest,
        },
        TableSide {
            rows: read.ledger_rows,
            ..TableSide::table(&check.ledger.source, &check.ledger.table)
        },
    );
    record.attempts = read.attempts;
    record.duration_ms = took.as_millis() as u64;
    record.accounting = read.accounting;
    record.downloads = read.downloads;
    record
}

async fn reconcile(
    check: &SettlementSpec,
    inputs: &SettlementInputs<'_>,
    in_flight: &InFlight<'_>,
    read: &mut ReadSoFar,
) -> Result<Vec<Discrepancy>> {
    let (reports, ledger) = read_both(check, inputs, in_flight, read).await?;
    let records = &reports.records;
    let outcome = match_report(records, &ledger.entries, &check.rules, inputs.day.end);
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
    let mut accounting = account(&reports, &ledger, &outcome, check)?;
    let found = Findings {
        check,
        reports: &reports,
        ledger: &ledger,
        date: Partition::Day(inputs.day.date),
        mask: inputs.mask,
    };
    let mut found = found.all(&outcome, in_flight);
    if let Some(leg) = inputs.after_matching {
        let policy = inputs.sources.policy(&[&check.ledger.source]);
        let no_batches = BatchHistory::of(&[]);
        let context = LegInputs {
            check,
            date: inputs.day.date,
            mask: inputs.mask,
            in_flight: &inputs.in_flight,
            acquisition: acquisition(check, inputs, policy, &no_batches),
            data_keys: inputs.data_keys,
        };
        let further = leg.run(&reports.kept, &context).await?;
        read.attempts = read.attempts.max(further.attempts);
        read.report_files.extend(further.files);
        found.extend(further.findings);
        read.further_reexamined = further.reexamined;
        accounting.0.extend(further.accounting);
    }
    info!(%accounting, "settlement accounted");
    read.accounting = Some(accounting);
    Ok(found)
}

/// What a further leg of the check (the bank leg, built above this layer) found over the
/// check's report records once they were matched: it joins the check's findings and accounting.
#[derive(Debug, Default)]
pub(crate) struct FurtherLeg {
    pub(crate) findings: Vec<Discrepancy>,
    pub(crate) accounting: Vec<AccountLine>,
    /// The files it read, by name, listed with the check's reports.
    pub(crate) files: Vec<String>,
    pub(crate) attempts: u32,
    /// The in-flight findings of earlier days it examined again (ids in the store): resolved
    /// unless found again.
    pub(crate) reexamined: Vec<i64>,
}

/// What the check hands a further leg besides its records.
pub(crate) struct LegInputs<'a> {
    pub(crate) check: &'a SettlementSpec,
    pub(crate) date: chrono::NaiveDate,
    pub(crate) mask: Option<&'a MaskKey>,
    /// The check's in-flight findings of earlier days.
    pub(crate) in_flight: &'a [Recorded],
    /// Where the check's files are found or fetched: a leg fetches its own alike.
    pub(crate) acquisition: Acquisition<'a>,
    pub(crate) data_keys: Option<&'a crate::at_rest::DataKeys>,
}

/// The report lines a further leg reads: they are kept for it as they stream by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegLines {
    /// The payout lines that name their payout.
    PayoutLines,
    /// Every line that names its payout.
    NamingAPayout,
}

impl LegLines {
    fn reads(self, record: &SettlementRecord) -> bool {
        record.payout_id.is_some()
            && (self == LegLines::NamingAPayout || record.kind == super::Kind::Payout)
    }
}

/// A leg that runs over a settlement check's report records after they are matched, with the
/// check's in-flight findings of earlier days: a failure fails the check.
pub(crate) trait AfterMatching {
    /// The lines it reads of `check`'s reports ([`AfterMatching::run`] is given those alone).
    fn reads(&self, check: &SettlementSpec) -> LegLines;

    fn run<'a>(
        &'a self,
        records: &'a [SettlementRecord],
        inputs: &'a LegInputs<'a>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<FurtherLeg>> + 'a>>;
}

/// Where and how the check's reports are found or fetched.
fn acquisition<'a>(
    check: &'a SettlementSpec,
    inputs: &'a SettlementInputs<'a>,
    policy: crate::retry::RetryPolicy,
    batches: &'a BatchHistory,
) -> Acquisition<'a> {
    Acquisition {
        check: &check.name,
        day: inputs.day,
        downloads: inputs.downloads,
        config_dir: inputs.config_dir,
        policy,
        env: inputs.env,
        batches,
        breakers: inputs.breakers,
        idempotency: inputs.idempotency,
        max_download_bytes: check.max_download_bytes,
        tls_ca_file: check.tls_ca_file.as_deref(),
        data_keys: inputs.data_keys,
    }
}

/// Fetches and parses the day's reports and reads the ledger (at once, unless the report names
/// rows of other days, which are then read with the day's), both sides streaming into buckets
/// that are then paired in bulk, noting in `read` what was read.
async fn read_both(
    check: &SettlementSpec,
    inputs: &SettlementInputs<'_>,
    in_flight: &InFlight<'_>,
    read: &mut ReadSoFar,
) -> Result<(Reports, LedgerRead)> {
    let started = Instant::now();
    let (day, timezone) = (inputs.day, inputs.timezone);
    let policy = inputs.sources.policy(&[&check.ledger.source]);
    let batches = BatchHistory::of(&inputs.fetched);
    let job = acquisition(check, inputs, policy, &batches);
    let budget = MemoryBudget::mebibytes(check.memory_mb);
    let sink = LineSink {
        lines: LineBuckets::new(check.rules.match_on, budget, inputs.temp_dir),
        on: check.rules.match_on,
        named: check.format.spans_days().then(HashSet::new),
        leg: inputs.after_matching.map(|leg| leg.reads(check)),
        kept: Vec::new(),
    };
    let reports = async {
        let acquired = fetch::acquire(&check.location, &job).await;
        let (attempts, downloads) = (acquired.attempts, acquired.downloads);
        let parsed = async {
            let files = acquired.files?;
            let format = check.format.clone();
            let keys = inputs.data_keys.cloned();
            tokio::task::spawn_blocking(move || parse_all(&format, files, keys.as_ref(), sink))
                .await
                .map_err(|e| Error::internal(format!("parsing reports: {e}")))?
        };
        (parsed.await, attempts, downloads)
    };
    // lines of earlier days' activity (a payout, a batch): the report is read first, and the
    // ledger rows it names are read whatever their day
    let mut reports = std::pin::pin!(reports);
    let mut first = match check.format.spans_days() {
        true => Some(reports.as_mut().await),
        false => None,
    };
    let named = match &mut first {
        Some((Ok((_, sink)), _, _)) => sink.named.take().unwrap_or_default(),
        _ => HashSet::new(),
    };
    let ledger = with_retries(policy, &check.name, || async {
        let source = inputs.sources.get(&check.ledger.source).await?;
        let hidden = |raw: &str| in_flight.hidden_contains(raw);
        let carried = Carried {
            ids: in_flight
                .exact_ids()
                .chain(named.iter().map(|id| id.as_ref()))
                .collect(),
            hidden: in_flight
                .any_hidden()
                .then_some(&hidden as &(dyn Fn(&str) -> bool + Sync)),
        };
        // a retry starts from empty buckets: nothing of a failed read is kept
        let mut rows = RowBuckets::new(budget, inputs.temp_dir);
        let mut sink = |entry| rows.push(entry);
        let read = read_ledger(&source, &check.ledger, &day, timezone, &carried, &mut sink);
        let read = read.await?;
        Ok((read, rows))
    });
    let ((parsed, report_attempts, downloads), (ledger, ledger_attempts)) = match first {
        Some(read) => (read, ledger.await),
        None => tokio::join!(reports, ledger),
    };
    read.downloads = downloads;
    read.attempts = ledger_attempts.max(report_attempts);
    let (mut parsed, sink) = parsed?;
    let (mut ledger, rows) = ledger?;
    if ledger.undated > 0 {
        warn!(
            rows = ledger.undated,
            column = %check.ledger.at,
            "ledger rows without a booking time belong to no business day and are never matched"
        );
    }
    let spilled = sink.lines.spilled_bytes() + rows.spilled_bytes();
    let read_ms = started.elapsed().as_millis();
    let paths: Vec<std::sync::Arc<str>> = parsed
        .files
        .iter()
        .map(|f| f.file.name.as_str().into())
        .collect();
    let rules = check.rules.clone();
    let lines = sink.lines;
    let paired = tokio::task::spawn_blocking(move || pair_in_bulk(lines, rows, &paths, &rules))
        .await
        .map_err(|e| Error::internal(format!("pairing in bulk: {e}")))??;
    info!(
        check = %check.name,
        paired = paired.ledger,
        left_for_every_rule = paired.rest_lines.len() + paired.rest_entries.len(),
        spilled_bytes = spilled,
        read_ms,
        paired_ms = started.elapsed().as_millis() - read_ms,
        "settlement paired in bulk"
    );
    parsed.take_rest(paired.per_file, paired.rest_lines)?;
    parsed.kept = sink.kept;
    ledger.entries = paired.rest_entries;
    ledger.paired = paired.ledger;
    read.report_files = parsed.files.iter().map(|f| f.file.name.clone()).collect();
    read.report_digest = Some(parsed.digest.clone());
    read.report_rows = Some(parsed.files.iter().map(|f| f.rows_read).sum());
    read.ledger_rows = Some(ledger.rows_read());
    Ok((parsed, ledger))
}

impl Reports {
    /// Takes each file's lines paired in bulk (`paired`, by file number) and the lines left for
    /// every rule (`rest`, in file and line order, with their file numbers).
    fn take_rest(&mut self, paired: Vec<u64>, rest: Vec<(u32, SettlementRecord)>) -> Result<()> {
        let mut at = 0;
        for (n, (file, paired)) in self.files.iter_mut().zip(paired).enumerate() {
            let own = rest.get(at..).unwrap_or_default();
            let len = own.iter().take_while(|(f, _)| *f as usize == n).count();
            file.paired = paired;
            file.records = at..at + len;
            at += len;
        }
        if at != rest.len() {
            return Err(Error::internal(format!(
                "{} lines left for every rule belong to no report file",
                rest.len() - at
            )));
        }
        self.records = rest.into_iter().map(|(_, r)| r).collect();
        Ok(())
    }
}

/// What a matched day hands out as findings: every discrepancy of the matching, every
/// quarantined report line and every ledger row set aside, keys and values shown masked.
struct Findings<'a> {
    check: &'a SettlementSpec,
    reports: &'a Reports,
    ledger: &'a LedgerRead,
    date: Partition,
    mask: Option<&'a MaskKey>,
}

impl Findings<'_> {
    fn all(&self, outcome: &MatchOutcome, in_flight: &InFlight<'_>) -> Vec<Discrepancy> {
        let (check, ledger, mask, date) = (self.check, self.ledger, self.mask, self.date);
        // A finding about an in-flight row of an earlier day alone belongs to that day.
        let partition_of = |d: &SettlementDiscrepancy| -> Partition {
            let carried_day = d
                .ledger
                .first()
                .and_then(|&i| in_flight.find(&ledger.entries[i].id))
                .map(|row| row.partition);
            match carried_day {
                Some(day) if d.records.is_empty() => day,
                _ => date,
            }
        };
        let records = &self.reports.records;
        let mut found: Vec<Discrepancy> = outcome
            .discrepancies
            .iter()
            .map(|d| discrepancy(check, records, ledger, d, partition_of(d), mask))
            .collect();
        for parsed in &self.reports.files {
            found.extend(
                parsed
                    .quarantined
                    .iter()
                    .map(|q| quarantined_line(&check.name, date, q, "row", mask)),
            );
        }
        found.extend(ledger.unreadable.iter().map(|u| Discrepancy {
            check: check.name.clone(),
            partition: date,
            kind: Kind::QuarantinedRow,
            key: ShownKey::masked(&[("ledger_id", Some(&u.id))], mask),
            columns: Vec::new(),
            values: Vec::new(),
            detail: Some(Shown::masked(&format!(
                "ledger row set aside: {}",
                u.reason
            ))),
            at_stake: None,
        }));
        found
    }
}

/// Parses every report file into `sink`; a file that cannot be read at all fails the check.
/// Each file is hashed as it streams through the parser (after decryption, for a download kept
/// encrypted), never held whole in memory.
fn parse_all(
    format: &super::Format,
    files: Vec<ReportFile>,
    keys: Option<&crate::at_rest::DataKeys>,
    mut sink: LineSink,
) -> Result<(Reports, LineSink)> {
    let mut hasher = Sha256::new();
    let mut reports = Reports {
        records: Vec::new(),
        files: Vec::with_capacity(files.len()),
        digest: String::new(),
        kept: Vec::new(),
    };
    for (number, file) in (0u32..).zip(files) {
        let cannot_read = |e: std::io::Error| {
            Error::bad_input(format!("{}: cannot read the report: {e}", file.name))
        };
        let mut reader = Hashing::new(fetch::open_report(&file.path, keys).map_err(cannot_read)?);
        // the first line that cannot be kept stops the file (a full temp folder)
        let mut kept: Result<()> = Ok(());
        let tally = parse_report_into(format, &file.name, &mut reader, &mut |record| {
            if kept.is_ok() {
                kept = sink.take(number, record);
            }
        })
        .map_err(|e| Error::bad_input(e.to_string()))?;
        kept?;
        hasher.update(reader.finish().map_err(cannot_read)?);
        reports.files.push(ParsedFile {
            file,
            rows_read: tally.rows_read,
            paired: 0,
            records: 0..0,
            quarantined: tally.quarantined,
        });
    }
    reports.digest = hex::encode(hasher.finalize());
    Ok((reports, sink))
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
) -> Result<Accounting> {
    let mut matched = vec![false; reports.records.len()];
    for m in &outcome.matched {
        if let Some(slot) = matched.get_mut(m.record) {
            *slot = true;
        }
    }
    let mut parts = Vec::new();
    for parsed in &reports.files {
        let ruled = matched
            .get(parsed.records.clone())
            .unwrap_or_default()
            .iter()
            .filter(|&&m| m)
            .count() as u64;
        let ok = parsed.paired + ruled;
        let found = parsed.records.len() as u64 - ruled;
        let quarantined = parsed.quarantined.len() as u64;
        let name = &parsed.file.name;
        if ok + found + quarantined != parsed.rows_read {
            return Err(Error::internal(format!(
                "{name}: {} rows read but {ok} matched + {found} in discrepancies + {quarantined} quarantined",
                parsed.rows_read
            )));
        }
        parts.push(AccountLine::Report {
            file: name.clone(),
            rows: parsed.rows_read,
            matched: ok,
            found,
            quarantined,
        });
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
    let entries = ledger.entries.len() as u64 + ledger.paired;
    let ok = ledger.paired + seen.iter().filter(|&&s| s == Seen::Matched).count() as u64;
    let found = seen.iter().filter(|&&s| s == Seen::Found).count() as u64;
    let not_expected = outcome.not_expected.len() as u64;
    let set_aside = ledger.unreadable.len() as u64;
    if ok + found + not_expected != entries {
        return Err(Error::internal(format!(
            "ledger {}: {entries} entries but {ok} matched + {found} in discrepancies + {not_expected} not expected",
            check.ledger.table
        )));
    }
    parts.push(AccountLine::Ledger {
        table: check.ledger.table.clone(),
        rows: ledger.rows_read(),
        matched: ok,
        found,
        not_expected,
        set_aside,
    });
    Ok(Accounting(parts))
}

fn discrepancy(
    check: &SettlementSpec,
    records: &[SettlementRecord],
    ledger: &LedgerRead,
    d: &SettlementDiscrepancy,
    partition: Partition,
    mask: Option<&MaskKey>,
) -> Discrepancy {
    let first_record = d.records.first().map(|&i| &records[i]);
    let key = match (d.kind, first_record) {
        (SettlementKind::PayoutTotalMismatch, Some(r)) => ShownKey::masked(
            &[
                (
                    "payout_id",
                    Some(r.payout_id.as_ref().unwrap_or(&r.record_id)),
                ),
                ("currency", Some(d.currency.code())),
            ],
            mask,
        ),
        (_, Some(r)) => match record_key(r, check.rules.match_on) {
            Some(id) => ShownKey::masked(&[("id", Some(id))], mask),
            None => ShownKey::masked(&[("record_id", Some(&r.record_id))], mask),
        },
        (_, None) => ShownKey::masked(
            &[(
                "id",
                d.ledger.first().map(|&i| ledger.entries[i].id.as_str()),
            )],
            mask,
        ),
    };
    let (columns, values) = differing_values(records, ledger, d);
    let at = places(check, records, ledger, d);
    Discrepancy {
        check: check.name.clone(),
        partition,
        kind: Kind::Settlement(d.kind),
        key,
        columns,
        values,
        detail: Some(Shown::masked(&format!("{} ({at})", d.detail))),
        at_stake: at_stake(records, ledger, d).map(|minor| AtStake {
            currency: d.currency.code().to_string(),
            minor,
        }),
    }
}

/// The columns a settlement finding names, with both sides' values: the amounts for a mismatch
/// of amounts, the currencies, the statuses; none for the other kinds.
fn differing_values(
    records: &[SettlementRecord],
    ledger: &LedgerRead,
    d: &SettlementDiscrepancy,
) -> (Vec<String>, Vec<ColumnValues>) {
    let first_record = d.records.first().map(|&i| &records[i]);
    let amount =
        |minor: Option<i128>| minor.map(|m| Shown::masked(&format_major_wide(m, d.currency)));
    match d.kind {
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
                left: first_record.map(|r| Shown::masked(r.currency.code())),
                right: d
                    .ledger
                    .first()
                    .map(|&i| Shown::masked(ledger.entries[i].currency.code())),
            }],
        ),
        SettlementKind::StatusMismatch => (
            vec!["status".to_string()],
            vec![ColumnValues {
                column: "status".to_string(),
                left: Some(Shown::masked("settled")),
                right: d
                    .ledger
                    .first()
                    .and_then(|&i| ledger.entries[i].status.as_deref().map(Shown::masked)),
            }],
        ),
        _ => (Vec::new(), Vec::new()),
    }
}

/// Where a finding's lines and rows are, six at most: `file:line`, `ledger <table> id <id>`.
fn places(
    check: &SettlementSpec,
    records: &[SettlementRecord],
    ledger: &LedgerRead,
    d: &SettlementDiscrepancy,
) -> String {
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
    at
}

/// The money a finding puts in question, in minor units of its currency: the difference for
/// a mismatch of amounts, the line or row itself when one side lacks it, the extra copies of a
/// duplicate. Computed in 128 bits, so every `i64` amount and every difference of two is exact
/// (`-92233720368547758.08 USD` puts `92233720368547758.08 USD` at stake). `None` when there
/// is no amount to go by (a payout's sum past 128 bits, which its detail says).
fn at_stake(
    records: &[SettlementRecord],
    ledger: &LedgerRead,
    d: &SettlementDiscrepancy,
) -> Option<i128> {
    let gross = |i: &usize| i128::from(records[*i].gross_minor).abs();
    let amount = |i: &usize| i128::from(ledger.entries[*i].amount_minor).abs();
    let sum = |items: &mut dyn Iterator<Item = i128>| {
        let mut total = 0i128;
        for n in items {
            total = total.checked_add(n)?;
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

/// The finding of a line set aside unread (`what`: `row` of a report, `entry` of a bank
/// statement), keyed by its file and line.
pub(crate) fn quarantined_line(
    check: &str,
    date: Partition,
    q: &Quarantined,
    what: &str,
    mask: Option<&MaskKey>,
) -> Discrepancy {
    let line = q.source.line.to_string();
    Discrepancy {
        check: check.to_owned(),
        partition: date,
        kind: Kind::QuarantinedRow,
        key: ShownKey::masked(
            &[("file", Some(&q.source.path)), ("line", Some(&line))],
            mask,
        ),
        columns: Vec::new(),
        values: Vec::new(),
        detail: Some(Shown::masked(&format!("{} — {what}: {}", q.reason, q.raw))),
        at_stake: None,
    }
}
