//! The bank leg of a settlement check: the day's statements fetched and read, each proving itself, and the day's payouts (with those still in flight from earlier days) traced to their deposits, every entry and payout accounted for.
//!
//! A settlement check with a `[settlement.bank]` section runs this after its lines are
//! matched: the payouts come from the same report records ([`payouts_from_records`]), the
//! statements from a path or glob, SFTP, or an aggregator. What it finds joins the check's
//! findings and its accounting gains three lines: the statements' entries, the payouts, and per
//! currency how much of the payout leg closed.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::aggregator::SyncJob;
use super::closure::{LegClosure, closure};
use super::continuity::continuity;
use super::dedup::merge;
use super::gocardless::{self, GoCardlessSync};
use super::payout::{Payout, PayoutBasis, payouts_from_records};
use super::plaid::PlaidSync;
use super::proof::prove;
use super::trace::{TraceRules, trace};
use super::trace_findings::{bank_finding, payout_key, trace_findings};
use super::{BankEntry, BankFileError, BatchPolicy, ParsedStatements, Statement};
use crate::check::AccountLine;
use crate::day::Partition;
use crate::discrepancy::{BankKind, ColumnValues, Discrepancy, Kind, Recorded, ShownKey};
use crate::error::{Error, Result};
use crate::mask::{MaskKey, Shown};
use crate::money::Currency;
use crate::settlement::check::{AfterMatching, FurtherLeg, LegInputs, LegLines, quarantined_line};
use crate::settlement::fetch::{self, Acquisition, ReportFile, ReportLocation};
use crate::settlement::report::Format;
use crate::settlement::spec::SettlementSpec;
use crate::settlement::{SettlementRecord, SourceLine};

/// The statement formats recon reads from a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatementFormat {
    /// ISO 20022 camt.052, camt.053, camt.054.
    Camt,
    /// SWIFT MT940 and MT942.
    Mt940,
    /// BAI2.
    Bai2,
}

impl StatementFormat {
    /// `camt`, `mt940`, `bai2` (`camt053`, `camt.053`, `mt942` are taken too).
    pub(crate) fn named(name: &str) -> Option<StatementFormat> {
        match name.to_ascii_lowercase().replace('.', "").as_str() {
            "camt" | "camt052" | "camt053" | "camt054" => Some(StatementFormat::Camt),
            "mt940" | "mt942" => Some(StatementFormat::Mt940),
            "bai2" => Some(StatementFormat::Bai2),
            _ => None,
        }
    }

    fn parse(
        self,
        name: &str,
        reader: impl std::io::BufRead,
        batch: &BatchPolicy,
    ) -> std::result::Result<ParsedStatements, BankFileError> {
        match self {
            StatementFormat::Camt => super::camt::parse_camt(name, reader, batch.clone()),
            StatementFormat::Mt940 => super::parse_mt940(name, reader),
            StatementFormat::Bai2 => super::parse_bai2(name, reader),
        }
    }
}

/// Where the day's statements come from.
#[derive(Debug, Clone)]
pub(crate) enum Statements {
    /// Files found or fetched as reports are (a path or glob, SFTP), in `format`.
    Files {
        location: ReportLocation,
        format: StatementFormat,
        /// How camt batch bookings are kept, per account.
        batch: BatchPolicy,
    },
    /// The day's transactions of a Plaid item.
    Plaid(PlaidSync),
    /// The day's transactions of a GoCardless Bank Account Data account.
    GoCardless(GoCardlessSync),
}

/// A settlement check's bank leg, as validated.
#[derive(Debug, Clone)]
pub(crate) struct BankSpec {
    pub(crate) statements: Statements,
    /// The payout accounts (IBAN or account number as the statement names it); entries of other
    /// accounts in the files are counted and left alone. Empty: every account is a payout account.
    pub(crate) accounts: Vec<String>,
    pub(crate) rules: TraceRules,
}

/// What tracing a day's payouts needs from its settlement check.
pub(crate) struct TraceInputs<'a> {
    pub(crate) check: &'a str,
    pub(crate) date: NaiveDate,
    /// The report format the payouts are read from, and its processor.
    pub(crate) format: &'a Format,
    /// The check's `payout_late` findings of earlier days, examined again.
    pub(crate) in_flight: &'a [Recorded],
    pub(crate) mask: Option<&'a MaskKey>,
}

/// What the bank leg needs from its settlement check.
pub(crate) struct BankInputs<'a> {
    pub(crate) day: TraceInputs<'a>,
    /// Where statement files are found or fetched, as the check's reports are.
    pub(crate) acquisition: &'a Acquisition<'a>,
    /// The store and retry rules an aggregator sync needs.
    pub(crate) sync: &'a SyncJob<'a>,
    pub(crate) data_keys: Option<&'a crate::at_rest::DataKeys>,
}

/// How many days before the business date the previous statement file is looked for (a
/// weekend and a run of holidays).
const PREVIOUS_STATEMENT_DAYS: u64 = 7;

/// The bank leg of one settlement check, as the run hands it to the check: its section, and
/// the store and rules an aggregator sync needs (the rest comes with the check's [`LegInputs`]).
pub(crate) struct BankLegRun<'a> {
    pub(crate) spec: &'a BankSpec,
    pub(crate) sync: SyncJob<'a>,
}

impl AfterMatching for BankLegRun<'_> {
    fn reads(&self, check: &SettlementSpec) -> LegLines {
        match PayoutBasis::of(&check.format) {
            PayoutBasis::PayoutLines => LegLines::PayoutLines,
            PayoutBasis::BatchNet => LegLines::NamingAPayout,
        }
    }

    fn run<'a>(
        &'a self,
        records: &'a [SettlementRecord],
        leg: &'a LegInputs<'a>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<FurtherLeg>> + 'a>> {
        Box::pin(async move {
            let inputs = BankInputs {
                day: TraceInputs {
                    check: &leg.check.name,
                    date: leg.date,
                    format: &leg.check.format,
                    in_flight: leg.in_flight,
                    mask: leg.mask,
                },
                acquisition: &leg.acquisition,
                sync: &self.sync,
                data_keys: leg.data_keys,
            };
            run(self.spec, &inputs, records).await
        })
    }
}

/// Runs the bank leg for `inputs.date` over the check's report `records`.
pub(crate) async fn run(
    spec: &BankSpec,
    inputs: &BankInputs<'_>,
    records: &[SettlementRecord],
) -> Result<FurtherLeg> {
    let (parsed, files, attempts) = statements(spec, inputs).await?;
    let previous = previous_statements(spec, inputs).await?;
    let mut leg = reconcile(spec, &inputs.day, records, &parsed, &previous)?;
    leg.files = files;
    leg.attempts = attempts;
    Ok(leg)
}

/// The day's statements, read: one [`ParsedStatements`] per file or sync, the names read, and
/// the attempts their fetching took.
async fn statements(
    spec: &BankSpec,
    inputs: &BankInputs<'_>,
) -> Result<(Vec<ParsedStatements>, Vec<String>, u32)> {
    match &spec.statements {
        Statements::Files {
            location,
            format,
            batch,
        } => {
            let acquired = fetch::acquire(location, inputs.acquisition).await;
            let files = acquired.files?;
            let names = files.iter().map(|f| f.name.clone()).collect();
            let (format, batch) = (*format, batch.clone());
            let keys = inputs.data_keys.cloned();
            let parsed = tokio::task::spawn_blocking(move || {
                read_files(format, &batch, &files, keys.as_ref())
            })
            .await
            .map_err(|e| Error::internal(format!("reading bank statements: {e}")))??;
            Ok((parsed, names, acquired.attempts))
        }
        Statements::GoCardless(account) => {
            let (parsed, attempts) =
                gocardless::sync(account, inputs.sync, inputs.day.date, inputs.day.date).await;
            let name = format!("gocardless:{}/{}", account.account_id, inputs.day.date);
            Ok((vec![parsed?], vec![name], attempts))
        }
        Statements::Plaid(item) => {
            let (parsed, attempts) =
                super::plaid::entries_booked_on(item, inputs.sync, inputs.day.date).await;
            let name = format!("plaid:{}/{}", item.item, inputs.day.date);
            Ok((vec![parsed?], vec![name], attempts))
        }
    }
}

/// The last end-of-day statement of each account in the latest statement files of the
/// [`PREVIOUS_STATEMENT_DAYS`] days before the business date, entries left out: what the day's
/// first statement must follow. Only statement files found by a local path or glob are looked
/// back at (an SFTP pick-up or an aggregator is not asked twice a night), and only when the
/// path names the date.
async fn previous_statements(spec: &BankSpec, inputs: &BankInputs<'_>) -> Result<Vec<Statement>> {
    let Statements::Files {
        location: ReportLocation::Files(pattern),
        format,
        batch,
    } = &spec.statements
    else {
        return Ok(Vec::new());
    };
    // a path without the date names the same files every day: no earlier day's to look at
    if !pattern.contains("{date}") && !pattern.contains("{yyyymmdd}") {
        return Ok(Vec::new());
    }
    let config_dir = inputs.acquisition.config_dir;
    let found = (1..=PREVIOUS_STATEMENT_DAYS)
        .filter_map(|back| inputs.day.date.checked_sub_days(chrono::Days::new(back)))
        .find_map(|date| fetch::local_files_of(pattern, date, config_dir).ok());
    let Some(files) = found else {
        return Ok(Vec::new());
    };
    let (format, batch) = (*format, batch.clone());
    let keys = inputs.data_keys.cloned();
    let parsed =
        tokio::task::spawn_blocking(move || read_files(format, &batch, &files, keys.as_ref()))
            .await
            .map_err(|e| Error::internal(format!("reading bank statements: {e}")))??;
    let mut last: Vec<Statement> = Vec::new();
    for statement in parsed.into_iter().flat_map(|p| p.statements) {
        if statement.kind != super::StatementKind::EndOfDay {
            continue;
        }
        last.retain(|s| s.account != statement.account);
        last.push(Statement {
            entries: Vec::new(),
            ..statement
        });
    }
    Ok(last)
}

/// Parses each statement file; a file that cannot be read at all fails the leg, naming it.
fn read_files(
    format: StatementFormat,
    batch: &BatchPolicy,
    files: &[ReportFile],
    keys: Option<&crate::at_rest::DataKeys>,
) -> Result<Vec<ParsedStatements>> {
    files
        .iter()
        .map(|file| {
            let cannot_read = |e: std::io::Error| {
                Error::bad_input(format!(
                    "{}: cannot read the bank statement: {e}",
                    file.name
                ))
            };
            let reader = std::io::BufReader::with_capacity(
                256 * 1024,
                fetch::open_report(&file.path, keys).map_err(cannot_read)?,
            );
            format
                .parse(&file.name, reader, batch)
                .map_err(|e| Error::bad_input(e.to_string()))
        })
        .collect()
}

/// The bank leg over statements already read, `previous` being the last statement of each
/// account an earlier day's files hold (see [`previous_statements`]).
pub(crate) fn reconcile(
    spec: &BankSpec,
    inputs: &TraceInputs<'_>,
    records: &[SettlementRecord],
    parsed: &[ParsedStatements],
    previous: &[Statement],
) -> Result<FurtherLeg> {
    let (check, mask) = (inputs.check, inputs.mask);
    let date = Partition::Day(inputs.date);
    let mut findings = statement_findings(check, date, parsed, previous, mask);

    // each entry counted once; entries of other accounts left alone
    let merged = merge(parsed);
    let given: usize = parsed.iter().map(|f| f.entries_kept() as usize).sum();
    if !merged.accounts_for(given) {
        return Err(Error::internal(
            "bank statements: merging lost an entry, nothing recorded".to_owned(),
        ));
    }
    let counted_once = (merged.superseded.len() + merged.duplicates.len()) as u64;
    let (entries, other_accounts) = on_payout_accounts(spec, check, merged.entries);

    let day = DayPayouts::of(inputs, records);
    let traced = trace(&day.payouts, &entries, &spec.rules, inputs.date);
    if !traced.accounts_for_everything(day.payouts.len(), entries.len()) {
        return Err(Error::internal(
            "bank trace: a payout or entry ended in no place or two, nothing recorded".to_owned(),
        ));
    }
    findings.extend(day.findings(check, date, &entries, &traced, mask));

    // the accounting: entries, payouts, and per currency the payout leg's closure
    let quarantined: u64 = parsed.iter().map(|f| f.quarantined.len() as u64).sum();
    let read_entries: u64 = parsed.iter().map(|f| f.entries_read).sum();
    let traced_entries = (traced
        .matched
        .iter()
        .map(|t| t.entries.len())
        .sum::<usize>()
        + traced.mismatched.len()
        + traced.returned.len() * 2) as u64;
    let found_entries = (traced.unexplained.len() + traced.unpaired_reversals.len()) as u64;
    let not_deposits = traced.not_deposits.len() as u64;
    let other = other_accounts.len() as u64;
    if traced_entries + found_entries + not_deposits + counted_once + other + quarantined
        != read_entries
    {
        return Err(Error::internal(format!(
            "bank statements: {read_entries} entries read but {traced_entries} traced + {found_entries} in discrepancies + {not_deposits} not deposits + {other} other accounts + {counted_once} counted once already + {quarantined} quarantined"
        )));
    }
    let traced_payouts = (traced
        .matched
        .iter()
        .map(|t| t.payouts.len())
        .sum::<usize>()
        + traced.mismatched.len()) as u64;
    let mut accounting = vec![
        AccountLine::Statements {
            entries: read_entries,
            traced: traced_entries,
            found: found_entries,
            not_deposits,
            other_accounts: other,
            counted_once,
            quarantined,
        },
        AccountLine::Payouts {
            payouts: day.payouts.len() as u64,
            carried: (day.payouts.len() - day.todays) as u64,
            traced: traced_payouts,
            in_flight: traced.late.len() as u64,
            missing: traced.missing.len() as u64,
            set_aside: day.set_aside.len() as u64,
        },
    ];
    for (currency, leg) in closure(&day.payouts, &entries, &traced) {
        accounting.push(leg_line(currency, &leg));
    }
    Ok(FurtherLeg {
        findings,
        accounting,
        files: Vec::new(),
        attempts: 1,
        reexamined: day.reexamined,
    })
}

/// What the statements say of themselves: a balance that does not add up, a file's own
/// problem, an entry that could not be read, a break in an account's chain of statements
/// (from the last statement of an earlier day's files on).
fn statement_findings(
    check: &str,
    date: Partition,
    parsed: &[ParsedStatements],
    previous: &[Statement],
    mask: Option<&MaskKey>,
) -> Vec<Discrepancy> {
    let mut findings = Vec::new();
    for file in parsed {
        for statement in &file.statements {
            if let Err(gap) = prove(statement) {
                findings.push(bank_finding(
                    check,
                    date,
                    BankKind::StatementUnbalanced,
                    statement_key(statement, mask),
                    &format!("{} ({})", gap.describe(statement), statement.source),
                    None,
                ));
            }
        }
        for problem in &file.problems {
            findings.push(bank_finding(
                check,
                date,
                BankKind::StatementUnbalanced,
                ShownKey::masked(&[("file", Some(&problem.source.to_string()))], mask),
                &format!("{} ({})", problem.reason, problem.source),
                None,
            ));
        }
        findings.extend(
            file.quarantined
                .iter()
                .map(|q| quarantined_line(check, date, q, "entry", mask)),
        );
    }
    let statements: Vec<&Statement> = previous
        .iter()
        .chain(parsed.iter().flat_map(|f| &f.statements))
        .collect();
    for gap in continuity(statements.iter().copied()) {
        let (account, at) = gap.place();
        findings.push(bank_finding(
            check,
            date,
            BankKind::StatementContinuityBreak,
            ShownKey::masked(
                &[("account", Some(account)), ("at", Some(&at.to_string()))],
                mask,
            ),
            &gap.describe(),
            None,
        ));
    }
    findings
}

/// `entries` split into those on the payout accounts and the others; a warning when none is
/// on one (an `accounts` spelled otherwise than the statements name them).
fn on_payout_accounts(
    spec: &BankSpec,
    check: &str,
    entries: Vec<BankEntry>,
) -> (Vec<BankEntry>, Vec<BankEntry>) {
    let (entries, other_accounts): (Vec<BankEntry>, Vec<BankEntry>) = entries
        .into_iter()
        .partition(|e| spec.accounts.is_empty() || spec.accounts.iter().any(|a| **a == *e.account));
    if entries.is_empty() && !other_accounts.is_empty() {
        let mut named: Vec<&str> = other_accounts.iter().map(|e| &*e.account).collect();
        named.sort_unstable();
        named.dedup();
        tracing::warn!(
            check,
            statements_name = ?named,
            accounts = ?spec.accounts,
            "no entry of the statements is on a payout account: every payout will stay in flight; check [settlement.bank] accounts against the accounts the statements name"
        );
    }
    (entries, other_accounts)
}

/// The payouts a day traces: its report's, then those of earlier days still in flight.
struct DayPayouts {
    payouts: Vec<Payout>,
    /// How many of `payouts` are the day's own (the first ones).
    todays: usize,
    /// Carried payout (index) → the day it was paid out.
    carried_from: HashMap<usize, Partition>,
    /// The in-flight findings read back into `payouts` (or found again in the day's report).
    reexamined: Vec<i64>,
    /// Payout lines that send nothing to the bank.
    set_aside: Vec<super::payout::SetAside>,
}

impl DayPayouts {
    fn of(inputs: &TraceInputs<'_>, records: &[SettlementRecord]) -> DayPayouts {
        let processor = inputs.format.processor();
        let read = payouts_from_records(processor, records, PayoutBasis::of(inputs.format));
        let mut payouts = read.payouts;
        let todays = payouts.len();
        let mut carried_from: HashMap<usize, Partition> = HashMap::new();
        let mut reexamined = Vec::new();
        for recorded in inputs.in_flight {
            if recorded.discrepancy.kind != Kind::Bank(BankKind::PayoutLate) {
                continue;
            }
            let Some(payout) = carried_payout(recorded) else {
                continue;
            };
            reexamined.push(recorded.id);
            // the same payout read again from today's report is today's, not a second one
            if payouts[..todays]
                .iter()
                .any(|p| p.processor == payout.processor && p.payout_id == payout.payout_id)
            {
                continue;
            }
            carried_from.insert(payouts.len(), recorded.discrepancy.partition);
            payouts.push(payout);
        }
        DayPayouts {
            payouts,
            todays,
            carried_from,
            reexamined,
            set_aside: read.set_aside,
        }
    }

    /// The trace's findings: a carried payout's stay the day it was paid out, a late one keeps
    /// what a later night needs to trace it again; and the payout lines set aside.
    fn findings(
        &self,
        check: &str,
        date: Partition,
        entries: &[BankEntry],
        traced: &super::trace::Trace,
        mask: Option<&MaskKey>,
    ) -> Vec<Discrepancy> {
        let payouts = &self.payouts;
        let mut findings = trace_findings(check, date, payouts, entries, traced, mask);
        for (index, partition) in &self.carried_from {
            let key = payout_key(&payouts[*index], mask);
            for d in findings.iter_mut().filter(|d| d.key == key) {
                d.partition = *partition;
            }
        }
        for d in findings.iter_mut() {
            if d.kind == Kind::Bank(BankKind::PayoutLate)
                && let Some(p) = payouts.iter().find(|p| payout_key(p, mask) == d.key)
            {
                // kept as values, not differing columns: what a later run needs to trace it again
                d.values = carried_values(p);
            }
        }
        for set_aside in &self.set_aside {
            findings.push(Discrepancy {
                check: check.to_owned(),
                partition: date,
                kind: Kind::QuarantinedRow,
                key: ShownKey::masked(
                    &[
                        ("file", Some(&set_aside.source.path)),
                        ("line", Some(&set_aside.source.line.to_string())),
                    ],
                    mask,
                ),
                columns: Vec::new(),
                values: Vec::new(),
                detail: Some(Shown::masked(&format!(
                    "payout {} set aside: {}",
                    set_aside.payout_id, set_aside.reason
                ))),
                at_stake: None,
            });
        }
        findings
    }
}

fn leg_line(currency: Currency, leg: &LegClosure) -> AccountLine {
    AccountLine::PayoutLeg {
        currency: currency.code().to_owned(),
        closed: leg.closed(),
        payouts_minor: leg.payouts_minor,
        traced_minor: leg.payouts_traced_minor,
        in_flight_minor: leg.payouts_in_flight_minor,
        missing_minor: leg.payouts_missing_minor,
        deposits_minor: leg.deposits_minor,
        deposits_traced_minor: leg.deposits_traced_minor,
        returned_minor: leg.deposits_returned_minor,
        unexplained_minor: leg.deposits_unexplained_minor,
        differences_minor: leg.differences_minor,
    }
}

/// A statement's identity from run to run: its account and its id (else its closing date).
fn statement_key(statement: &Statement, mask: Option<&MaskKey>) -> ShownKey {
    let id = statement
        .statement_id
        .clone()
        .or_else(|| statement.closing.map(|b| b.date.to_string()))
        .unwrap_or_else(|| statement.source.to_string());
    ShownKey::masked(
        &[
            ("account", Some(&statement.account)),
            ("statement", Some(&id)),
        ],
        mask,
    )
}

/// The values a `payout_late` finding keeps, so a later day's run can trace the payout again:
/// `initiated`, `expected_arrival`, `references` (space separated), on the processor's side.
fn carried_values(payout: &Payout) -> Vec<ColumnValues> {
    let value = |column: &str, text: Option<String>| ColumnValues {
        column: column.to_owned(),
        left: text.map(|t| Shown::masked(&t)),
        right: None,
    };
    vec![
        value("initiated", Some(payout.initiated.to_string())),
        value(
            "expected_arrival",
            payout.expected_arrival.map(|d| d.to_string()),
        ),
        value("references", Some(payout.references.join(" "))),
    ]
}

/// The payout a `payout_late` finding of an earlier day stands for, from its key, its money at
/// stake and the columns it keeps; `None` for one recorded without them.
fn carried_payout(recorded: &Recorded) -> Option<Payout> {
    let d = &recorded.discrepancy;
    let key = d.key.columns();
    let named = |name: &str| {
        key.iter()
            .find(|(column, _)| column == name)
            .and_then(|(_, v)| v.as_ref())
            .map(|v| v.as_str().to_owned())
    };
    let kept = |name: &str| {
        d.values
            .iter()
            .find(|v| v.column == name)
            .and_then(|v| v.left.as_ref())
            .map(|v| v.as_str().to_owned())
    };
    let stake = d.at_stake.as_ref()?;
    let date = |text: Option<String>| text.and_then(|t| t.parse::<NaiveDate>().ok());
    Some(Payout {
        processor: named("processor")?,
        payout_id: named("payout_id")?,
        amount_minor: i64::try_from(stake.minor).ok()?,
        currency: Currency::parse(&stake.currency).ok()?,
        initiated: date(kept("initiated"))?,
        expected_arrival: date(kept("expected_arrival")),
        references: kept("references")
            .map(|r| r.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default(),
        source: SourceLine {
            path: std::sync::Arc::from(format!("finding {}", recorded.id)),
            line: 0,
        },
    })
}

#[cfg(test)]
mod tests;
