//! Processor settlement checks: a processor's report read into canonical records and matched, line by line, against the ledger.
//!
//! [`report`] reads each processor's layout into [`SettlementRecord`]s, [`fetch`] brings the
//! report files, [`ledger`] reads the ledger's rows, [`matching`] pairs the two, and [`check`]
//! runs one check for one business day.

pub(crate) mod check;
pub(crate) mod fetch;
pub(crate) mod id;
pub(crate) mod ledger;
pub(crate) mod matching;
pub(crate) mod record;
pub(crate) mod report;
pub(crate) mod spec;
mod spill;
mod spill_codec;

pub(crate) use id::Id;
pub(crate) use record::{Kind, SettlementRecord, SourceLine};
pub(crate) use report::Quarantined;
pub use report::{Format, ParseOutcome, ReportError, parse_report};
