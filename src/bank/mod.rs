//! The bank leg: bank statements (camt.05x, MT940/MT942, BAI2, aggregators) read into bank entries, each statement proving its own balances, so processor payouts can be traced to the deposits that carried them.
//!
//! Every format's parser produces [`ParsedStatements`]: statements with their balances and
//! entries, and the entries that could not be read, quarantined with their place and reason.
//! `entries_read == entries kept + quarantined` always holds, as it does for processor reports.
//! [`proof`] checks what a statement says of itself (opening + entries = closing).
//! [`payout`] derives the processor payouts from the settlement records, [`trace`] pairs them
//! with the deposits by a rule cascade counted in business days ([`calendar`]), and
//! [`trace_findings`] turns what is left into findings; [`closure`] sums, per currency, how
//! much of the payout leg is closed.

pub(crate) mod aggregator;
mod bai2;
#[doc(hidden)]
pub mod bench_door;
pub(crate) mod calendar;
pub(crate) mod camt;
pub(crate) mod check;
pub(crate) mod closure;
pub(crate) mod continuity;
mod dates;
pub(crate) mod dedup;
pub(crate) mod entry;
pub(crate) mod gocardless;
pub(crate) mod kept;
mod lines;
mod mt940;
pub(crate) mod payout;
pub(crate) mod plaid;
pub(crate) mod proof;
#[doc(hidden)]
pub mod sync_door;
#[cfg(test)]
mod testing;
pub(crate) mod trace;
pub(crate) mod trace_findings;

pub(crate) use bai2::parse_bai2;
pub(crate) use entry::{
    BalanceAt, BankEntry, BankFileError, BatchBookings, BatchPolicy, Direction, EntryStatus,
    FileProblem, ParsedStatements, Statement, StatementKind,
};
pub(crate) use mt940::parse_mt940;
