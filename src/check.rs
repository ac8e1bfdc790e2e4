//! The contract between a check and the run: what every check kind hands back, typed, so the
//! store and the reports take it as it is and no layer parses another's text.
//!
//! A check kind (integrity: table ↔ table; settlement: report ↔ ledger) takes plain inputs and
//! returns one [`CheckOutcome`]; it never fails: a failure is the check's [`CheckRecord`]. The
//! run records the outcome in the store and the store hands the same types to the reports.

use serde::{Deserialize, Serialize};

use crate::day::Partition;
use crate::discrepancy::Discrepancy;
use crate::error::Error;
use crate::exit::Exit;
use crate::mask::mask_card_numbers;

/// What one check hands the run: its result, what it found, and the in-flight discrepancies of
/// earlier partitions it looked at again (each resolved by this run unless found again).
#[derive(Debug)]
pub struct CheckOutcome {
    pub record: CheckRecord,
    pub found: Vec<Discrepancy>,
    pub reexamined: Vec<i64>,
}

impl CheckOutcome {
    /// `record` ended with `found` (`Ok`) or failed (`Err`): its status and exit code set.
    pub(crate) fn of(
        mut record: CheckRecord,
        found: crate::error::Result<Vec<Discrepancy>>,
        reexamined: Vec<i64>,
    ) -> CheckOutcome {
        match found {
            Ok(found) => {
                record.succeed(found.len());
                CheckOutcome {
                    record,
                    found,
                    reexamined,
                }
            }
            Err(e) => {
                record.fail(&e);
                CheckOutcome {
                    record,
                    found: Vec::new(),
                    reexamined: Vec::new(),
                }
            }
        }
    }
}

impl CheckOutcome {
    /// The outcome as it may be recorded: one that found more discrepancies than `limit` is
    /// failed instead, none of them recorded (see [`too_many`]).
    pub(crate) fn capped(self, limit: u64) -> CheckOutcome {
        match too_many(&self.found, limit) {
            Some(e) if self.record.status != CheckStatus::Failed => {
                let mut record = self.record;
                record.fail(&e);
                CheckOutcome {
                    record,
                    found: Vec::new(),
                    reexamined: Vec::new(),
                }
            }
            _ => self,
        }
    }
}

/// The error of a check that found more than `limit` discrepancies, with their count by kind.
/// So many usually mean the wrong report, mapping or table rather than that many real problems,
/// and recording each (with its audit entry) would bury the real ones; so the check fails and
/// asks for a look. A real mass difference says so here too, and a raised limit records it.
pub(crate) fn too_many(found: &[Discrepancy], limit: u64) -> Option<Error> {
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

/// What a finished check contributes to its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    pub check: String,
    pub check_type: CheckKind,
    pub partition: Partition,
    pub status: CheckStatus,
    pub left: TableSide,
    pub right: TableSide,
    pub error: Option<String>,
    /// The exit code this check alone calls for.
    pub exit: Exit,
    /// Attempts its sync took (1 when the first one succeeded).
    pub attempts: u32,
    pub duration_ms: u64,
    /// A settlement check's accounting: rows read = matched + in discrepancies + quarantined.
    pub accounting: Option<Accounting>,
    /// The reports a settlement check fetched from its processor.
    pub downloads: Vec<Download>,
    /// The columns both tables of an integrity check have that it did not compare (a type
    /// recon cannot compare exactly), as its `accept_uncompared` allowed.
    pub not_compared: Vec<NotCompared>,
}

/// A column an integrity check did not compare, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotCompared {
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for NotCompared {
    /// `rate (floating point (floats are never exact): double precision)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.column, self.reason)
    }
}

impl CheckRecord {
    /// A check's result before it is known: failed, its sides named, nothing read.
    pub(crate) fn pending(
        check: &str,
        check_type: CheckKind,
        partition: Partition,
        left: TableSide,
        right: TableSide,
    ) -> CheckRecord {
        CheckRecord {
            check: check.to_string(),
            check_type,
            partition,
            status: CheckStatus::Failed,
            left,
            right,
            error: None,
            exit: Exit::Internal,
            attempts: 1,
            duration_ms: 0,
            accounting: None,
            downloads: Vec::new(),
            not_compared: Vec::new(),
        }
    }

    /// Records that the check ran to the end and found `found` discrepancies.
    pub(crate) fn succeed(&mut self, found: usize) {
        (self.status, self.exit) = if found == 0 {
            (CheckStatus::Clean, Exit::Clean)
        } else {
            (CheckStatus::Discrepancies, Exit::Discrepancies)
        };
    }

    /// Records that the check failed with `e` after `self.attempts` attempts: the exit code it
    /// calls for, and a message (card numbers masked) that says how to complete it.
    pub(crate) fn fail(&mut self, e: &Error) {
        let message = mask_card_numbers(&e.to_string()).into_owned();
        tracing::error!(error = %message, attempts = self.attempts, "check failed");
        self.status = CheckStatus::Failed;
        self.exit = e.exit();
        self.error = Some(if e.is_transient() {
            format!(
                "{message} (gave up after {} attempt(s); `recon retry` completes it)",
                self.attempts
            )
        } else {
            message
        });
    }

    /// Records that the run was stopped by `signal` before the check finished: failed, and
    /// completed by `recon retry` (or `recon run --resume`).
    pub(crate) fn interrupt(&mut self, signal: &str) {
        self.status = CheckStatus::Failed;
        self.exit = Exit::Incomplete;
        self.error = Some(format!(
            "interrupted by {signal} before this check finished; `recon retry` completes it"
        ));
    }
}

/// One side of a check as its result records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSide {
    pub source: String,
    pub compared: Compared,
    pub rows: Option<u64>,
    pub digest: Option<String>,
}

impl TableSide {
    /// A table of `source`, nothing read yet.
    pub fn table(source: &str, table: &str) -> TableSide {
        TableSide {
            source: source.to_string(),
            compared: Compared::Table(table.to_string()),
            rows: None,
            digest: None,
        }
    }
}

/// What one side of a check read: a table, or a processor's report files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compared {
    Table(String),
    /// The report files by name, in the order they were read.
    Reports(Vec<String>),
}

impl std::fmt::Display for Compared {
    /// The table's name, or the report files' names separated by `, `.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compared::Table(table) => f.write_str(table),
            Compared::Reports(files) => f.write_str(&files.join(", ")),
        }
    }
}

/// What a check compares: two tables, or a processor's report with the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Integrity,
    Settlement,
}

impl CheckKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CheckKind::Integrity => "integrity",
            CheckKind::Settlement => "settlement",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<CheckKind> {
        [CheckKind::Integrity, CheckKind::Settlement]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

    pub(crate) fn parse(text: &str) -> Option<CheckStatus> {
        [
            CheckStatus::Clean,
            CheckStatus::Discrepancies,
            CheckStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// A settlement check's accounting, one line per report file and one for the ledger: every
/// row read ended matched, in a discrepancy, or set aside.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Accounting(pub Vec<AccountLine>);

/// One line of the accounting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "of")]
pub enum AccountLine {
    /// A report file: rows = matched + in discrepancies + quarantined.
    Report {
        file: String,
        rows: u64,
        matched: u64,
        found: u64,
        quarantined: u64,
    },
    /// The ledger: rows = matched + in discrepancies + not expected + set aside.
    Ledger {
        table: String,
        rows: u64,
        matched: u64,
        found: u64,
        not_expected: u64,
        set_aside: u64,
    },
    /// A bank leg's statements: entries read = traced + in discrepancies + not deposits
    /// (debits, pending) + on other accounts + counted once already (a duplicate or superseded
    /// copy) + quarantined.
    Statements {
        entries: u64,
        traced: u64,
        found: u64,
        not_deposits: u64,
        other_accounts: u64,
        counted_once: u64,
        quarantined: u64,
    },
    /// A bank leg's payouts (the day's and those `carried` from earlier days): traced + in
    /// flight + missing; `set_aside` payout lines sent nothing to the bank.
    Payouts {
        payouts: u64,
        carried: u64,
        traced: u64,
        in_flight: u64,
        missing: u64,
        set_aside: u64,
    },
    /// One currency of the payout leg, in minor units: paid out = traced + in flight + missing;
    /// deposits = traced + returned + unexplained. `closed` when nothing is in flight, missing
    /// or unexplained.
    PayoutLeg {
        currency: String,
        closed: bool,
        #[serde(with = "minor_text")]
        payouts_minor: i128,
        #[serde(with = "minor_text")]
        traced_minor: i128,
        #[serde(with = "minor_text")]
        in_flight_minor: i128,
        #[serde(with = "minor_text")]
        missing_minor: i128,
        #[serde(with = "minor_text")]
        deposits_minor: i128,
        #[serde(with = "minor_text")]
        deposits_traced_minor: i128,
        #[serde(with = "minor_text")]
        returned_minor: i128,
        #[serde(with = "minor_text")]
        unexplained_minor: i128,
        /// What traced payouts and their deposits differ by.
        #[serde(with = "minor_text")]
        differences_minor: i128,
    },
    /// A line as a recon before typed accounting stored it, kept as it was written.
    Written { text: String },
}

/// 128-bit sums of minor units written as JSON strings: an internally tagged enum cannot read
/// a 128-bit number back, and a string keeps every digit in any JSON reader.
mod minor_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(minor: &i128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(minor)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<i128, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for AccountLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountLine::Report {
                file,
                rows,
                matched,
                found,
                quarantined,
            } => write!(
                f,
                "{file}: {rows} rows = {matched} matched + {found} in discrepancies + {quarantined} quarantined"
            ),
            AccountLine::Ledger {
                table,
                rows,
                matched,
                found,
                not_expected,
                set_aside,
            } => write!(
                f,
                "ledger {table}: {rows} rows = {matched} matched + {found} in discrepancies + {not_expected} not expected + {set_aside} set aside"
            ),
            AccountLine::Statements {
                entries,
                traced,
                found,
                not_deposits,
                other_accounts,
                counted_once,
                quarantined,
            } => write!(
                f,
                "bank statements: {entries} entries = {traced} traced + {found} in discrepancies + {not_deposits} not deposits + {other_accounts} other accounts + {counted_once} counted once already + {quarantined} quarantined"
            ),
            AccountLine::Payouts {
                payouts,
                carried,
                traced,
                in_flight,
                missing,
                set_aside,
            } => write!(
                f,
                "payouts: {payouts} ({carried} carried from earlier days) = {traced} traced + {in_flight} in flight + {missing} missing, {set_aside} set aside"
            ),
            AccountLine::PayoutLeg {
                currency,
                closed,
                payouts_minor,
                traced_minor,
                in_flight_minor,
                missing_minor,
                deposits_minor,
                deposits_traced_minor,
                returned_minor,
                unexplained_minor,
                differences_minor,
            } => {
                let m = |minor: &i128| crate::discrepancy::in_currency(*minor, currency);
                write!(
                    f,
                    "payout leg {currency} {}: paid out {} = {} traced + {} in flight + {} missing, deposits {} = {} traced + {} returned + {} unexplained, traced pairs differ by {}",
                    if *closed { "closed" } else { "open" },
                    m(payouts_minor),
                    m(traced_minor),
                    m(in_flight_minor),
                    m(missing_minor),
                    m(deposits_minor),
                    m(deposits_traced_minor),
                    m(returned_minor),
                    m(unexplained_minor),
                    m(differences_minor),
                )
            }
            AccountLine::Written { text } => f.write_str(text),
        }
    }
}

impl std::fmt::Display for Accounting {
    /// The lines separated by `; `, as the summary and the log show them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, line) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{line}")?;
        }
        Ok(())
    }
}

/// One report fetched from a processor, as the store keeps it and `summary.json` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Download {
    /// Where it came from, without credentials: a URL, or `sftp://user@host:port/path`.
    pub source: String,
    /// The kept copy, under `<out>/downloads/`.
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    /// Attempts its download took (more than 1: it was retried).
    pub attempts: u32,
    /// An Adyen settlement batch number, when the file is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    /// Adyen batch numbers just below this batch that were not there (404) when it was: a gap
    /// in Adyen's numbering, probed again by later days (see `settlement::fetch::adyen`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_batches: Vec<u64>,
    /// Where the file was really fetched from when the server redirected (credentials redacted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_url: Option<String>,
}

/// Where a check keeps the generation of the idempotency keys it sends a processor (Stripe's
/// report runs): the store, handed in by the run, since a check never touches it. A retry within
/// a generation resends its key; a generation once spent is never sent again.
pub(crate) trait IdempotencyGenerations: Sync {
    /// The generation in use for `check`'s business `date`: 1 until one was spent.
    fn current<'a>(
        &'a self,
        check: &'a str,
        date: chrono::NaiveDate,
    ) -> futures_util::future::BoxFuture<'a, crate::error::Result<u32>>;

    /// Records generation `spent` of `check`'s `date` as spent (`reason` says why) and returns the
    /// generation in use from now on (the next one, or a later one another run already moved to).
    fn advance<'a>(
        &'a self,
        check: &'a str,
        date: chrono::NaiveDate,
        spent: u32,
        reason: &'a str,
    ) -> futures_util::future::BoxFuture<'a, crate::error::Result<u32>>;
}
