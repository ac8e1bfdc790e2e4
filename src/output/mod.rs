//! What a run leaves for people: `summary.json`, `discrepancies.csv`, `report.html`, and the
//! terminal summary.

mod csv_cell;
pub(crate) mod html;
pub mod metrics;
mod what_to_do;

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::breaker::OpenedBreaker;
use crate::catch_up::{LastSuccess, Standing};
use crate::check::{Accounting, Download, NotCompared};
use crate::discrepancy::{AtStake, ColumnValues, Kind, Recorded, Status};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::mask::Shown;
use crate::run_id::RunId;
use crate::store::{
    Acknowledgement, CheckKind, CheckStatus, Reopened, RunPoint, StoredRun, TableSide,
};

/// Bumped whenever a field of `summary.json` changes meaning or disappears.
pub(crate) const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// `summary.json`: the run's verdict and everything it found.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub(crate) schema_version: u32,
    pub(crate) recon_version: &'static str,
    pub run_id: RunId,
    pub(crate) business_date: NaiveDate,
    pub(crate) timezone: String,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) finished_at: DateTime<Utc>,
    pub(crate) config_digest: String,
    pub(crate) outcome: Exit,
    pub(crate) exit_code: u8,
    pub(crate) totals: Totals,
    /// The audit chain's head after this run: an anchor outside the store, so a later edit of
    /// the chain (even a rewrite of its head) is caught by comparing with this report.
    pub(crate) audit_head: AuditHead,
    pub checks: Vec<CheckSummary>,
    /// Every discrepancy this run saw (new, carried or acknowledged).
    pub discrepancies: Vec<DiscrepancyEntry>,
    /// Discrepancies earlier runs saw that this run no longer finds.
    pub resolved: Vec<DiscrepancyEntry>,
    /// The last runs that stand (not superseded), oldest first, this one included.
    pub(crate) recent_runs: Vec<RunPoint>,
    /// Business dates no run completed since the last completed one (nightly runs only).
    pub(crate) missed_dates: Vec<NaiveDate>,
    /// The newest business date a run completed, and when (this run included).
    pub(crate) last_success: Option<LastSuccess>,
    /// The endpoints (a source, the store, an API's `host:port`) whose circuit breaker opened
    /// during this run: calls to them failed fast for a cool-down.
    pub(crate) circuit_breakers_opened: Vec<OpenedBreaker>,
    /// Whether what the run keeps is encrypted at rest, and under which key, in one line.
    pub(crate) at_rest: String,
    /// No check read a row on either side (both sides empty, or nothing read): a clean
    /// outcome then says nothing about the data.
    pub(crate) nothing_compared: bool,
    /// Findings this run did not see that still need someone (new or carried): of other
    /// dates, or of checks this run did not run.
    pub(crate) needing_someone_elsewhere: usize,
    /// The run's business date and each earlier one whose findings this run resolved: closed
    /// or not, on every leg.
    pub(crate) days: Vec<DayClosure>,
}

/// Whether a business day is closed: every check of it ran, and no finding of it (on any leg:
/// integrity, settlement, bank) needs someone or is still in flight. A day stays open while a
/// payout is on its way and closes on the night its deposit is traced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct DayClosure {
    pub(crate) date: NaiveDate,
    pub(crate) closed: bool,
    pub(crate) needing_someone: usize,
    pub(crate) in_flight: usize,
    /// Checks of this run that failed (for the run's own date; 0 for earlier dates).
    pub(crate) checks_failed: usize,
}

impl DayClosure {
    pub(crate) fn new(
        date: NaiveDate,
        needing_someone: usize,
        in_flight: usize,
        checks_failed: usize,
    ) -> DayClosure {
        DayClosure {
            date,
            closed: needing_someone == 0 && in_flight == 0 && checks_failed == 0,
            needing_someone,
            in_flight,
            checks_failed,
        }
    }
}

impl std::fmt::Display for DayClosure {
    /// `2026-11-20 closed` or `2026-11-20 open: 3 findings need someone, 1 in flight`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.closed {
            return write!(f, "{} closed", self.date);
        }
        let mut why = Vec::new();
        if self.checks_failed > 0 {
            why.push(format!("{} check(s) failed", self.checks_failed));
        }
        if self.needing_someone > 0 {
            why.push(format!("{} finding(s) need someone", self.needing_someone));
        }
        if self.in_flight > 0 {
            why.push(format!("{} in flight", self.in_flight));
        }
        write!(f, "{} open: {}", self.date, why.join(", "))
    }
}

impl Summary {
    /// The summary with the endpoints whose circuit breaker opened during the run.
    pub(crate) fn with_circuit_breakers(mut self, opened: Vec<OpenedBreaker>) -> Summary {
        self.circuit_breakers_opened = opened;
        self
    }

    /// The summary with the count of findings still needing someone that the run did not see.
    pub(crate) fn with_needing_someone_elsewhere(mut self, count: usize) -> Summary {
        self.needing_someone_elsewhere = count;
        self
    }

    /// The summary with the closure of its days.
    pub(crate) fn with_days(mut self, days: Vec<DayClosure>) -> Summary {
        self.days = days;
        self
    }

    /// The summary with what it says about encryption at rest.
    pub(crate) fn with_at_rest(mut self, line: String) -> Summary {
        self.at_rest = line;
        self
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct AuditHead {
    pub(crate) seq: i64,
    pub(crate) hash: String,
    /// The writer key that signed the head entry; `None`: entries are written unsigned
    /// (no RECON_AUDIT_SIGNING_KEY), and the chain holds only against accidents, not its store.
    pub(crate) key_id: Option<String>,
    pub(crate) signature: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Totals {
    pub(crate) checks: usize,
    pub(crate) checks_clean: usize,
    pub(crate) checks_with_discrepancies: usize,
    pub(crate) checks_failed: usize,
    pub(crate) discrepancies: usize,
    /// New and carried over: the findings that still need someone, the ones the verdict, the
    /// exit code and the alerting metrics count.
    pub(crate) needing_someone: usize,
    pub(crate) new: usize,
    pub(crate) carried: usize,
    /// Of the carried over, those whose acknowledgement lapsed (the finding changed, or its
    /// last day passed).
    pub(crate) reopened: usize,
    /// Explained by an operator and still as acknowledged: shown, counted apart.
    pub(crate) acknowledged: usize,
    pub(crate) resolved: usize,
    /// Money the run's open settlement findings put in question, per currency.
    pub(crate) at_stake: Vec<CurrencyTotal>,
    /// Rows its checks read, both sides of every check summed.
    pub(crate) rows_compared: u64,
}

/// A sum of money in one currency: minor units and as people read it. Summed exactly in 128
/// bits; a sum beyond even that is never clamped: `minor` is then `null` and `amount` says so.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct CurrencyTotal {
    pub(crate) currency: String,
    pub(crate) minor: Option<i128>,
    pub(crate) amount: String,
}

/// `12.00 EUR · 6,100 JPY`.
pub(crate) fn stake_line(totals: &[CurrencyTotal]) -> String {
    totals
        .iter()
        .map(|t| t.amount.as_str())
        .collect::<Vec<_>>()
        .join(" · ")
}

/// Totals per currency of what the open (new or carried) discrepancies put at stake. A `timing`
/// item is left out: it is still inside its window, not (yet) money in question.
fn at_stake(seen: &[Recorded]) -> Vec<CurrencyTotal> {
    sum_stakes(
        seen.iter()
            .filter(|r| {
                matches!(r.status, Status::Open | Status::Carried)
                    && !r.discrepancy.kind.in_flight()
            })
            .filter_map(|r| r.discrepancy.at_stake.as_ref()),
    )
}

/// Totals per currency, in currency code order, of `stakes`.
pub(crate) fn sum_stakes<'a>(stakes: impl Iterator<Item = &'a AtStake>) -> Vec<CurrencyTotal> {
    let mut totals: std::collections::BTreeMap<String, Option<i128>> = Default::default();
    for stake in stakes {
        let total = totals.entry(stake.currency.clone()).or_insert(Some(0));
        *total = total.and_then(|t| t.checked_add(stake.minor));
    }
    totals
        .into_iter()
        .map(|(currency, minor)| CurrencyTotal {
            amount: match minor {
                Some(minor) => crate::discrepancy::in_currency(minor, &currency),
                None => format!("more {currency} than 128-bit minor units hold (not summed)"),
            },
            currency,
            minor,
        })
        .collect()
}

#[derive(Debug, Serialize)]
pub struct CheckSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub(crate) check_type: CheckKind,
    pub partition: String,
    pub status: CheckStatus,
    pub left: SideSummary,
    pub right: SideSummary,
    pub discrepancies: usize,
    /// Of its discrepancies, those acknowledged and still as acknowledged.
    pub(crate) acknowledged: usize,
    pub error: Option<String>,
    /// Attempts its sync took (more than 1: it was retried).
    pub(crate) attempts: u32,
    pub(crate) duration_ms: u64,
    /// A settlement check's accounting: rows read = matched + in discrepancies + quarantined.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "accounting_line"
    )]
    pub(crate) accounting: Option<Accounting>,
    /// The same lines typed, for a program to read (`of`: report, ledger, statements,
    /// payouts, payout_leg), sums of minor units as strings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) accounting_lines: Vec<crate::check::AccountLine>,
    /// The reports a settlement check fetched: source, kept file, SHA-256, size, attempts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) downloads: Vec<Download>,
    /// The shared columns an integrity check did not compare (as its `accept_uncompared`
    /// allowed), each with why: a clean result says nothing about them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) not_compared: Vec<NotCompared>,
}

/// The accounting as one line in `summary.json`, its parts separated by `; `.
fn accounting_line<S: serde::Serializer>(
    accounting: &Option<Accounting>,
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    match accounting {
        Some(a) => serializer.collect_str(a),
        None => serializer.serialize_none(),
    }
}

#[derive(Debug, Serialize)]
pub struct SideSummary {
    pub(crate) source: String,
    pub(crate) table: String,
    pub rows: Option<u64>,
    pub(crate) digest: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DiscrepancyEntry {
    pub id: i64,
    pub check: String,
    pub(crate) partition: String,
    pub(crate) kind: &'static str,
    pub status: Status,
    pub key: serde_json::Value,
    pub(crate) columns: Vec<String>,
    pub values: Vec<ColumnValues>,
    pub(crate) detail: Option<String>,
    /// Money a settlement finding puts in question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) at_stake: Option<AtStake>,
    pub first_seen_run: RunId,
    /// The operator's note, when acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) acknowledgement: Option<Acknowledgement>,
    /// Why a finding that had been acknowledged needs someone again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reopened: Option<Reopened>,
}

impl CheckSummary {
    /// Its status as people read it: `acknowledged` for a check whose every discrepancy is
    /// acknowledged (nothing in it needs anyone), else the stored one.
    pub(crate) fn shown_status(&self) -> &'static str {
        if self.status == CheckStatus::Discrepancies
            && self.discrepancies > 0
            && self.acknowledged == self.discrepancies
        {
            "acknowledged"
        } else {
            self.status.as_str()
        }
    }
}

impl DiscrepancyEntry {
    /// `id=42, currency=EUR`; `-` for no key.
    pub(crate) fn key_text(&self) -> String {
        match &self.key {
            serde_json::Value::Object(map) if !map.is_empty() => map
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("NULL")))
                .collect::<Vec<_>>()
                .join(", "),
            _ => "-".to_string(),
        }
    }

    /// One line on what differs: the detail (prefixed with the columns unless it names them
    /// itself), a missing row's values (`column=value`), else each column's `left → right`,
    /// NULL and '' kept apart.
    pub(crate) fn what_differs(&self) -> String {
        self.what_differs_with(|_, value| shown(value))
    }

    /// [`Self::what_differs`], each value written by `value(column, value)`.
    pub(crate) fn what_differs_with(&self, value: impl Fn(&str, Option<&str>) -> String) -> String {
        let missing = [Kind::MissingInLeft, Kind::MissingInRight].map(Kind::as_str);
        if self.detail.is_none() && missing.contains(&self.kind) {
            let left = self.kind == Kind::MissingInRight.as_str();
            return self
                .values
                .iter()
                .map(|v| {
                    let present = if left { &v.left } else { &v.right };
                    format!(
                        "{}={}",
                        v.column,
                        value(&v.column, present.as_ref().map(Shown::as_str))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
        }
        match &self.detail {
            Some(detail) => match self.columns.first() {
                Some(first) if !detail.starts_with(&format!("{first}:")) => {
                    format!("{}: {detail}", self.columns.join(", "))
                }
                _ => detail.clone(),
            },
            None => self
                .values
                .iter()
                .map(|v| {
                    format!(
                        "{}: {} → {}",
                        v.column,
                        value(&v.column, v.left.as_ref().map(Shown::as_str)),
                        value(&v.column, v.right.as_ref().map(Shown::as_str))
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

impl DiscrepancyEntry {
    /// The finding as reports show it, with its latest acknowledgement and why it reopened.
    pub(crate) fn new(
        r: &Recorded,
        acknowledgement: Option<&Acknowledgement>,
        reopened: Option<Reopened>,
    ) -> Self {
        let d = &r.discrepancy;
        DiscrepancyEntry {
            id: r.id,
            check: d.check.clone(),
            partition: d.partition.to_string(),
            kind: d.kind.as_str(),
            status: r.status,
            key: d.key_json(),
            columns: d.columns.clone(),
            values: d.values.clone(),
            detail: d.detail.as_ref().map(Shown::to_string),
            at_stake: d.at_stake.clone(),
            first_seen_run: r.first_run_id,
            acknowledgement: acknowledgement.cloned(),
            reopened: reopened.filter(|_| r.status.needs_someone()),
        }
    }
}

/// The summary of a stored run.
pub(crate) fn summarize(
    timezone: chrono_tz::Tz,
    run: StoredRun,
    exit: Exit,
    finished_at: DateTime<Utc>,
    audit_head: AuditHead,
    recent_runs: Vec<RunPoint>,
    standing: Standing,
) -> Summary {
    let count = |status: Status| run.seen.iter().filter(|r| r.status == status).count();
    let with_status = |s: CheckStatus| run.checks.iter().filter(|c| c.status == s).count();
    let totals = Totals {
        checks: run.checks.len(),
        checks_clean: with_status(CheckStatus::Clean),
        checks_with_discrepancies: with_status(CheckStatus::Discrepancies),
        checks_failed: with_status(CheckStatus::Failed),
        discrepancies: run.seen.len(),
        needing_someone: run.seen.iter().filter(|r| r.status.needs_someone()).count(),
        new: count(Status::Open),
        carried: count(Status::Carried),
        reopened: run
            .seen
            .iter()
            .filter(|r| r.status.needs_someone() && run.reopened.contains_key(&r.id))
            .count(),
        acknowledged: count(Status::Acknowledged),
        resolved: run.resolved.len(),
        at_stake: at_stake(&run.seen),
        rows_compared: run
            .checks
            .iter()
            .flat_map(|c| [c.left.rows, c.right.rows])
            .map(|rows| rows.unwrap_or(0))
            .fold(0, u64::saturating_add),
    };
    let nothing_compared = totals.rows_compared == 0;
    let side = |t: TableSide| SideSummary {
        source: t.source,
        table: t.compared.to_string(),
        rows: t.rows,
        digest: t.digest,
    };
    let checks = run
        .checks
        .into_iter()
        .map(|c| CheckSummary {
            discrepancies: run
                .seen
                .iter()
                .filter(|r| r.discrepancy.check == c.check)
                .count(),
            acknowledged: run
                .seen
                .iter()
                .filter(|r| r.discrepancy.check == c.check && r.status == Status::Acknowledged)
                .count(),
            name: c.check,
            check_type: c.check_type,
            partition: c.partition.to_string(),
            status: c.status,
            left: side(c.left),
            right: side(c.right),
            error: c.error,
            attempts: c.attempts,
            duration_ms: c.duration_ms,
            accounting_lines: c
                .accounting
                .as_ref()
                .map(|a| a.0.clone())
                .unwrap_or_default(),
            accounting: c.accounting,
            downloads: c.downloads,
            not_compared: c.not_compared,
        })
        .collect();
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        recon_version: env!("CARGO_PKG_VERSION"),
        run_id: run.id,
        business_date: run.business_date,
        timezone: timezone.name().to_string(),
        started_at: run.started_at,
        finished_at,
        config_digest: run.config_digest,
        outcome: exit,
        exit_code: exit.code(),
        totals,
        audit_head,
        checks,
        discrepancies: run
            .seen
            .iter()
            .map(|r| {
                DiscrepancyEntry::new(
                    r,
                    run.acknowledgements.get(&r.id),
                    run.reopened.get(&r.id).copied(),
                )
            })
            .collect(),
        resolved: run
            .resolved
            .iter()
            .map(|r| DiscrepancyEntry::new(r, None, None))
            .collect(),
        recent_runs,
        missed_dates: standing.missed_dates,
        last_success: standing.last_success,
        circuit_breakers_opened: Vec::new(),
        at_rest: String::new(),
        nothing_compared,
        needing_someone_elsewhere: 0,
        days: Vec::new(),
    }
}

/// Writes `summary.json`, `discrepancies.csv` and `report.html` into `dir`, each replaced
/// atomically, and a copy of `report.html` kept by date in `dir/reports/<business date>/`: a
/// folder every night writes into (a Kubernetes volume) keeps each night's page.
pub(crate) fn write_reports(dir: &Path, summary: &Summary) -> Result<Vec<PathBuf>> {
    crate::private_fs::create_dir_all(dir).map_err(|e| {
        Error::bad_input(format!(
            "cannot create the output folder {}: {e}",
            dir.display()
        ))
    })?;
    let json = serde_json::to_vec_pretty(summary).map_err(|e| Error::internal(e.to_string()))?;
    let summary_path = dir.join("summary.json");
    write_atomically(&summary_path, &json)?;
    let csv_path = dir.join("discrepancies.csv");
    write_atomically(&csv_path, &discrepancies_csv(summary)?)?;
    let html_path = dir.join("report.html");
    let html = html::render(summary);
    write_atomically(&html_path, html.as_bytes())?;
    let dated_dir = dir.join("reports").join(summary.business_date.to_string());
    crate::private_fs::create_dir_all(&dated_dir).map_err(|e| {
        Error::bad_input(format!(
            "cannot create the folder {}: {e}",
            dated_dir.display()
        ))
    })?;
    let dated_path = dated_dir.join("report.html");
    write_atomically(&dated_path, html.as_bytes())?;
    let mut written = vec![summary_path, csv_path, html_path, dated_path];
    let quarantine_path = dir.join("quarantine.csv");
    match quarantine_csv(summary)? {
        Some(bytes) => {
            write_atomically(&quarantine_path, &bytes)?;
            written.push(quarantine_path);
        }
        // No stale quarantine from an earlier run in the same folder.
        None => {
            let _ = std::fs::remove_file(&quarantine_path);
        }
    }
    Ok(written)
}

/// `quarantine.csv`: every report line and ledger row set aside, with where it is and why;
/// `None` when nothing was.
fn quarantine_csv(summary: &Summary) -> Result<Option<Vec<u8>>> {
    let rows: Vec<&DiscrepancyEntry> = summary
        .discrepancies
        .iter()
        .filter(|d| d.kind == crate::discrepancy::Kind::QuarantinedRow.as_str())
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let fail = |e: csv::Error| Error::internal(format!("writing quarantine.csv: {e}"));
    let mut out = csv_cell::writer();
    csv_cell::write_row(
        &mut out,
        ["check", "file", "line", "ledger_id", "reason", "status"],
    )
    .map_err(fail)?;
    for d in rows {
        let key = |name: &str| {
            d.key
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        csv_cell::write_row(
            &mut out,
            [
                d.check.clone(),
                key("file"),
                key("line"),
                key("ledger_id"),
                d.detail.clone().unwrap_or_default(),
                d.status.as_str().to_string(),
            ],
        )
        .map_err(fail)?;
    }
    out.into_inner()
        .map(Some)
        .map_err(|e| Error::internal(format!("writing quarantine.csv: {e}")))
}

/// `discrepancies.csv`: one row per discrepancy; its stake as integer minor units and currency,
/// and whether the totals count it; then a `left.<column>` and a `right.<column>` cell for every
/// column any discrepancy names (in the order they first come), empty where a discrepancy does
/// not name that column or its row is missing on that side.
fn discrepancies_csv(summary: &Summary) -> Result<Vec<u8>> {
    let mut out = csv_cell::writer();
    let fail = |e: csv::Error| Error::internal(format!("writing discrepancies.csv: {e}"));
    let mut value_columns: Vec<&str> = Vec::new();
    for v in summary.discrepancies.iter().flat_map(|d| &d.values) {
        if !value_columns.contains(&v.column.as_str()) {
            value_columns.push(&v.column);
        }
    }
    let header = [
        "id",
        "check",
        "partition",
        "kind",
        "status",
        "key",
        "columns",
        "detail",
        "at_stake_minor",
        "at_stake_currency",
        "at_stake_counted",
        "first_seen_run",
    ]
    .map(String::from)
    .into_iter()
    .chain(
        value_columns
            .iter()
            .flat_map(|c| [format!("left.{c}"), format!("right.{c}")]),
    );
    csv_cell::write_row(&mut out, header).map_err(fail)?;
    for d in &summary.discrepancies {
        let key = match &d.key {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("NULL")))
                .collect::<Vec<_>>()
                .join("; "),
            other => other.to_string(),
        };
        // The totals count what still needs someone, less `timing` and `payout_late` rows
        // inside their window.
        let counted = d.status.needs_someone() && !Kind::parse(d.kind).is_some_and(Kind::in_flight);
        let (stake_minor, stake_currency, stake_counted) = match &d.at_stake {
            Some(stake) => (
                stake.minor.to_string(),
                stake.currency.clone(),
                counted.to_string(),
            ),
            None => Default::default(),
        };
        // A missing row has values on one side only: the other side's cells stay empty.
        let left_missing = d.kind == Kind::MissingInLeft.as_str();
        let right_missing = d.kind == Kind::MissingInRight.as_str();
        let shown =
            |value: &Option<Shown>| value.as_ref().map_or("NULL", Shown::as_str).to_string();
        let values = value_columns.iter().flat_map(|column| {
            match d.values.iter().find(|v| v.column == *column) {
                Some(v) => [
                    if left_missing {
                        String::new()
                    } else {
                        shown(&v.left)
                    },
                    if right_missing {
                        String::new()
                    } else {
                        shown(&v.right)
                    },
                ],
                None => [String::new(), String::new()],
            }
        });
        csv_cell::write_row(
            &mut out,
            [
                d.id.to_string(),
                d.check.clone(),
                d.partition.clone(),
                d.kind.to_string(),
                d.status.as_str().to_string(),
                key,
                d.columns.join("; "),
                d.detail.clone().unwrap_or_default(),
                stake_minor,
                stake_currency,
                stake_counted,
                d.first_seen_run.to_string(),
            ]
            .into_iter()
            .chain(values),
        )
        .map_err(fail)?;
    }
    out.into_inner()
        .map_err(|e| Error::internal(format!("writing discrepancies.csv: {e}")))
}

/// Writes `path` through a temporary file of this process's own, then renamed over it: two
/// runs writing into one folder at once (two shards) never rename each other's half-written file.
/// On any failure the temporary file is removed.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    let fail =
        |e: std::io::Error| Error::bad_input(format!("cannot write {}: {e}", path.display()));
    let written = crate::private_fs::create_file(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)
    });
    if written.is_err() {
        // No half-written temporary file left behind (a full disk, a rename refused).
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(fail)
}

/// One line per endpoint whose circuit breaker opened, for the text and HTML reports.
pub(crate) fn circuit_breaker_lines(opened: &[OpenedBreaker]) -> String {
    opened
        .iter()
        .map(|b| {
            format!(
                "Circuit breaker opened: {} ({} time(s), last at {}){}: calls to it failed fast; rerun once it is back\n",
                b.endpoint,
                b.times_opened,
                b.last_opened_at.format("%Y-%m-%d %H:%M:%S UTC"),
                if b.open_at_end { ", still open at the end of the run" } else { ", closed again" }
            )
        })
        .collect()
}

/// The closing summary for a terminal or a log.
pub fn render_text(summary: &Summary, reports: &[PathBuf]) -> String {
    const SHOWN: usize = 25;
    let mut out = String::new();
    out.push_str(&format!(
        "recon run {} · business date {} ({}) · {} check(s)\n\n",
        summary.run_id,
        summary.business_date,
        summary.timezone,
        summary.checks.len()
    ));
    out.push_str(&format!(
        "  {:<24} {:<14} {:>12} {:>12} {:>13}\n",
        "CHECK", "STATUS", "LEFT ROWS", "RIGHT ROWS", "DISCREPANCIES"
    ));
    for c in &summary.checks {
        let rows = |n: Option<u64>| n.map(|n| n.to_string()).unwrap_or_else(|| "-".to_string());
        out.push_str(&format!(
            "  {:<24} {:<14} {:>12} {:>12} {:>13}\n",
            c.name,
            c.shown_status(),
            rows(c.left.rows),
            rows(c.right.rows),
            c.discrepancies
        ));
        if let Some(error) = &c.error {
            out.push_str(&format!("    ! {error}\n"));
        }
        for part in c.accounting.iter().flat_map(|a| &a.0) {
            out.push_str(&format!("    = {part}\n"));
        }
        if let Some(line) = not_compared_line(&c.not_compared) {
            out.push_str(&format!("    ~ {line}\n"));
        }
    }
    let t = &summary.totals;
    out.push_str(&format!(
        "\nDiscrepancies: {} ({} new, {} carried over, {} acknowledged); {} resolved since the last run\n",
        t.discrepancies, t.new, t.carried, t.acknowledged, t.resolved
    ));
    if t.reopened > 0 {
        out.push_str(&format!(
            "Reopened: {} acknowledged findings need someone again (changed since, or past their --until)\n",
            t.reopened
        ));
    }
    if !t.at_stake.is_empty() {
        out.push_str(&format!("At stake: {}\n", stake_line(&t.at_stake)));
    }
    if !summary.days.is_empty() {
        let days: Vec<String> = summary.days.iter().map(DayClosure::to_string).collect();
        out.push_str(&format!("Days: {}\n", days.join("; ")));
    }
    if let (Some(first), Some(last)) = (summary.missed_dates.first(), summary.missed_dates.last()) {
        let dates: Vec<String> = summary.missed_dates.iter().map(|d| d.to_string()).collect();
        out.push_str(&format!(
            "Missed: no run completed {} since the last completed one; catch up with `recon run --from {first} --to {last}`\n",
            dates.join(", ")
        ));
    }
    out.push_str(&circuit_breaker_lines(&summary.circuit_breakers_opened));
    for d in summary.discrepancies.iter().take(SHOWN) {
        out.push_str(&format!(
            "  {:<20} {:<17} {:<22} {}\n",
            d.check,
            d.kind,
            d.key_text(),
            d.what_differs()
        ));
    }
    if summary.discrepancies.len() > SHOWN {
        out.push_str(&format!(
            "  … and {} more in discrepancies.csv\n",
            summary.discrepancies.len() - SHOWN
        ));
    }
    if !reports.is_empty() {
        let names: Vec<String> = reports.iter().map(|p| p.display().to_string()).collect();
        out.push_str(&format!("\nReports: {}\n", names.join(", ")));
    }
    if !summary.at_rest.is_empty() {
        out.push_str(&format!("At rest: {}\n", summary.at_rest));
    }
    out.push_str(&format!(
        "Outcome: {} (exit {})\n",
        describe_outcome(summary),
        summary.exit_code
    ));
    out
}

/// [`describe_exit`] of the run's outcome, saying when a clean run's findings are all
/// acknowledged rather than that both sides agree.
/// A clean run that read no row says so instead; and the verdict names the dates missed and
/// the findings of other runs that still need someone, so "clean" never hides them.
pub(crate) fn describe_outcome(summary: &Summary) -> String {
    let verdict = match (summary.outcome, summary.totals.acknowledged) {
        (Exit::Clean, _) if summary.nothing_compared => {
            "nothing compared: 0 rows on either side".to_string()
        }
        (Exit::Clean, acknowledged) if acknowledged > 0 => {
            format!("clean: nothing needs anyone ({acknowledged} acknowledged)")
        }
        (exit, _) => describe_exit(exit).to_string(),
    };
    let mut but = Vec::new();
    match summary.missed_dates.len() {
        0 => {}
        1 => but.push("1 date missed".to_string()),
        n => but.push(format!("{n} dates missed")),
    }
    match summary.needing_someone_elsewhere {
        0 => {}
        1 => but.push("1 finding of other runs still needs someone".to_string()),
        n => but.push(format!("{n} findings of other runs still need someone")),
    }
    match but.is_empty() {
        true => verdict,
        false => format!("{verdict}; but {}", but.join(" and ")),
    }
}

/// `not compared (accept_uncompared): rate (floating point …: double precision)`, or `None`.
pub(crate) fn not_compared_line(columns: &[NotCompared]) -> Option<String> {
    (!columns.is_empty()).then(|| {
        let each: Vec<String> = columns.iter().map(NotCompared::to_string).collect();
        format!("not compared (accept_uncompared): {}", each.join("; "))
    })
}

/// NULL and the empty string look different on screen.
fn shown(value: Option<&str>) -> String {
    match value {
        None => "NULL".to_string(),
        Some("") => "''".to_string(),
        Some(v) => v.to_string(),
    }
}

pub fn describe_exit(exit: Exit) -> &'static str {
    match exit {
        Exit::Clean => "clean: both sides agree",
        Exit::Discrepancies => "discrepancies found",
        Exit::BadInput => "bad configuration or input: fix what the failed checks say",
        Exit::Incomplete => "incomplete: a source could not be read; safe to rerun",
        Exit::Locked => "another run holds the lock",
        Exit::Internal => "internal error",
    }
}
