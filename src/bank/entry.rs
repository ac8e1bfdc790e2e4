//! The canonical bank entry and statement every bank format is parsed into, so matching never sees a bank format's quirks.
//!
//! # Sign convention
//!
//! Amounts are integer minor units of the entry's currency, seen from the account holder:
//! `amount_minor` is positive for a credit (money into the account) and negative for a debit.
//! A reversal keeps the sign of what it did to the account: MT940's `RC` (reversal of a credit)
//! is a debit, so its amount is negative and `reversal` is true. Balances use the same sign
//! (a debit balance, an overdraft, is negative).

use std::sync::Arc;

use chrono::NaiveDate;

use crate::money::Currency;
use crate::settlement::{Quarantined, SourceLine};

/// Whether an entry put money into the account or took it out, as the bank marked it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    Credit,
    Debit,
}

/// Whether the bank has booked the entry or only announced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EntryStatus {
    Booked,
    /// Announced, not booked (camt `PDNG`/`INFO`, a pending aggregator transaction): never
    /// counted in a balance proof, and superseded by the booked entry when it comes.
    Pending,
}

/// How a batch booking (one entry on the account, several transaction details under it) is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum BatchBookings {
    /// One bank entry per transaction detail, each with the detail's own amount and references;
    /// used when the details carry amounts that add up to the booking (else kept whole).
    #[default]
    Split,
    /// One bank entry for the booking, as it stands on the account.
    Keep,
}

/// How batch bookings are kept, per bank account: a default and the accounts that differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BatchPolicy {
    pub(crate) default: BatchBookings,
    /// Account (as the statement names it) → how its batch bookings are kept.
    pub(crate) by_account: std::collections::BTreeMap<String, BatchBookings>,
}

impl BatchPolicy {
    /// How the batch bookings of `account` are kept.
    pub(crate) fn of(&self, account: &str) -> BatchBookings {
        self.by_account
            .get(account)
            .copied()
            .unwrap_or(self.default)
    }
}

impl From<BatchBookings> for BatchPolicy {
    /// The same for every account.
    fn from(default: BatchBookings) -> BatchPolicy {
        BatchPolicy {
            default,
            by_account: std::collections::BTreeMap::new(),
        }
    }
}

/// One movement on a bank account, normalised. See the module doc for the sign convention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BankEntry {
    /// The account the entry is on (IBAN, or the bank's account number), as the statement names it.
    pub(crate) account: Arc<str>,
    pub(crate) amount_minor: i64,
    pub(crate) currency: Currency,
    pub(crate) direction: Direction,
    /// A reversal (camt `RvslInd`, MT940 `RC`/`RD`, a BAI2 reversal type code).
    pub(crate) reversal: bool,
    pub(crate) status: EntryStatus,
    pub(crate) booking_date: NaiveDate,
    pub(crate) value_date: Option<NaiveDate>,
    /// The bank's own reference (camt `AcctSvcrRef`, MT940 `:61:` bank reference after `//`,
    /// BAI2 bank reference number).
    pub(crate) bank_ref: Option<String>,
    /// The reference the account owner or the payer gave (MT940 `:61:` customer reference).
    pub(crate) customer_ref: Option<String>,
    /// ISO 20022 end-to-end id (camt `EndToEndId`, MT940 `:86:` `EREF+`), when not `NOTPROVIDED`.
    pub(crate) end_to_end_id: Option<String>,
    /// Remittance information and other free text, joined in the order the file gives it.
    pub(crate) remittance: Option<String>,
    /// The bank transaction code as the format gives it (camt `Domn/Fmly/SubFmlyCd` joined by
    /// `/` or `Prtry`, MT940 `:61:` type code such as `NTRF`, BAI2 type code such as `165`).
    pub(crate) bank_tx_code: Option<String>,
    /// Where the entry was read: file and line (XML: the line the entry's element starts on).
    pub(crate) source: SourceLine,
    /// For XML, the element path within the file (`Stmt[1]/Ntry[3]/NtryDtls/TxDtls[2]`).
    pub(crate) pointer: Option<String>,
}

/// A statement's balance at a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BalanceAt {
    pub(crate) amount_minor: i64,
    pub(crate) date: NaiveDate,
}

/// What a statement is: the day's final statement, an intraday report, or notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StatementKind {
    /// camt.053, MT940, a BAI2 prior-day report: booked entries with opening and closing balances.
    EndOfDay,
    /// camt.052, MT942, a BAI2 current-day report: superseded by the day's end-of-day statement.
    Intraday,
    /// camt.054: entries without balances.
    Notification,
}

/// One statement of one account (a camt `Stmt`/`Rpt`/`Ntfctn`, an MT940 message, a BAI2 account group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    /// `camt.053.001.08`, `mt940`, `bai2`…
    pub(crate) format: &'static str,
    pub(crate) kind: StatementKind,
    pub(crate) account: Arc<str>,
    pub(crate) currency: Currency,
    /// The statement's own id (camt `Stmt/Id`, MT940 `:20:`).
    pub(crate) statement_id: Option<String>,
    /// Sequence number for continuity (camt `ElctrncSeqNb`, MT940 `:28C:` statement number).
    pub(crate) sequence: Option<u64>,
    /// camt `LglSeqNb`, MT940 `:28C:` page after `/`.
    pub(crate) page: Option<u64>,
    pub(crate) opening: Option<BalanceAt>,
    pub(crate) closing: Option<BalanceAt>,
    pub(crate) entries: Vec<BankEntry>,
    /// Where the statement starts.
    pub(crate) source: SourceLine,
}

/// Everything one bank file produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParsedStatements {
    pub(crate) statements: Vec<Statement>,
    /// Entries (or whole statements' parts) that could not be read, with place and reason.
    pub(crate) quarantined: Vec<Quarantined>,
    /// Entries met in the file; always the entries kept in `statements` (a split batch booking
    /// counts once per detail kept) plus `quarantined.len()`.
    pub(crate) entries_read: u64,
    /// Findings the file states about itself that are not about one entry (a BAI2 control
    /// total that does not add up, a statement whose currency is missing): file-level problems
    /// that still let the rest of the file be used.
    pub(crate) problems: Vec<FileProblem>,
}

/// A problem a bank file shows about itself, with the place it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileProblem {
    pub(crate) source: SourceLine,
    pub(crate) reason: String,
}

/// A problem with a whole file; nothing of it is used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum BankFileError {
    #[error("{path}: the file is empty")]
    Empty { path: String },
    #[error("{path}: not a {expected} file: {why}")]
    NotThisFormat {
        path: String,
        expected: String,
        why: String,
    },
    #[error("{path}: line {line}: {why}")]
    Malformed {
        path: String,
        line: u64,
        why: String,
    },
}

impl ParsedStatements {
    /// Entries kept across all statements.
    pub(crate) fn entries_kept(&self) -> u64 {
        self.statements.iter().map(|s| s.entries.len() as u64).sum()
    }

    /// Whether the accounting line holds: every entry read is kept or quarantined.
    pub(crate) fn accounts_for_every_entry(&self) -> bool {
        self.entries_read == self.entries_kept() + self.quarantined.len() as u64
    }
}
