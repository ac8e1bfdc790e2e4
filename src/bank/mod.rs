//! The bank leg: bank statements (camt.05x, MT940/MT942, BAI2, aggregators) read into bank entries, each statement proving its own balances, so processor payouts can be traced to the deposits that carried them.
//!
//! Every format's parser produces [`ParsedStatements`]: statements with their balances and
//! entries, and the entries that could not be read, quarantined with their place and reason.
//! `entries_read == entries kept + quarantined` always holds, as it does for processor reports.
//! [`proof`] checks what a statement says of itself (opening + entries = closing).

// Read by the parsers and the payout tracing being built on it; not yet by a check kind.
#![allow(dead_code, unused_imports)]

pub(crate) mod aggregator;
pub(crate) mod entry;
pub(crate) mod gocardless;
pub(crate) mod plaid;
pub(crate) mod proof;
#[doc(hidden)]
pub mod sync_door;

pub(crate) use entry::{
    BalanceAt, BankEntry, BankFileError, BatchBookings, Direction, EntryStatus, FileProblem,
    ParsedStatements, Statement, StatementKind,
};
