//! Reading processors' settlement reports: one module per report layout, and [`parse_report`], which streams a report through its format's parser into canonical records.
//!
//! [`parse_report`] streams one CSV report (one record in memory at a time) through the parser
//! of its [`Format`]. A problem with the whole file (no header, required columns missing) is a
//! [`ReportError`]; a problem with one row quarantines that row with its file, line and reason
//! and the run goes on. `rows_read == records.len() + quarantined.len()` always holds; lines
//! whose fields are all blank (trailing empty lines, `,,,,`) are not data rows and are skipped.
//!
//! Headers are matched case-insensitively after trimming, in any order; a BOM (UTF-8 dropped,
//! UTF-16 decoded), CRLF line endings and quoted fields spanning up to `max_record_lines` lines
//! are handled (a quote open longer quarantines only its first line), and line numbers are
//! those of the file.
//!
//! Each built-in [`Format`] carries the options its processor offers when a report is run or
//! downloaded (a Stripe run's `timezone`, `decimal_separator` and report type; which Braintree
//! report), read from a check's `[settlement.format_options]`; each format's module doc says
//! which layout it reads and where that layout is documented.

pub(crate) mod adyen;
pub(crate) mod braintree;
mod braintree_summary;
mod csv_rows;
pub(crate) mod kept_text;
pub(crate) mod mapped;
pub(crate) mod stripe;
mod zone;

use std::io::Read;

use csv_rows::{Layout, Row, drive};

use super::{SettlementRecord, SourceLine};

/// The layout of a settlement report, with the options the processor offers for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    /// Stripe itemized balance reports ("balance change from activity", "payout reconciliation").
    Stripe(stripe::Options),
    /// Braintree transaction search export, or its settlement batch summary.
    Braintree(braintree::Options),
    /// Adyen "Settlement details report".
    Adyen(adyen::Options),
    /// Any CSV described by a [`mapped::MappedFormat`], as its checked [`mapped::Plan`].
    Mapped(Box<mapped::Plan>),
}

impl Format {
    /// A built-in format by its processor name (`stripe`, `braintree`, `adyen`; any case),
    /// with its default options.
    pub fn builtin(name: &str) -> Option<Format> {
        match name.trim().to_ascii_lowercase().as_str() {
            stripe::PROCESSOR => Some(Format::Stripe(stripe::Options::default())),
            braintree::PROCESSOR => Some(Format::Braintree(braintree::Options::default())),
            adyen::PROCESSOR => Some(Format::Adyen(adyen::Options::default())),
            _ => None,
        }
    }

    /// The `processor` value of the records this format produces.
    pub(crate) fn processor(&self) -> &str {
        match self {
            Format::Stripe(_) => stripe::PROCESSOR,
            Format::Braintree(_) => braintree::PROCESSOR,
            Format::Adyen(_) => adyen::PROCESSOR,
            Format::Mapped(plan) => plan.name(),
        }
    }

    /// Whether a report's lines may belong to ledger rows booked on earlier days (a payout or a
    /// settlement batch settles several days of activity): the check then also reads the ledger
    /// rows the report names, whatever their day.
    pub(crate) fn spans_days(&self) -> bool {
        match self {
            Format::Stripe(options) => options.report_type == stripe::Report::PayoutReconciliation,
            Format::Adyen(_) => true,
            Format::Braintree(_) | Format::Mapped(_) => false,
        }
    }
}

/// Everything one report produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseOutcome {
    pub(crate) records: Vec<SettlementRecord>,
    pub(crate) quarantined: Vec<Quarantined>,
    /// Data rows read (blank lines excluded); always `records.len() + quarantined.len()`.
    pub rows_read: u64,
    /// Lines that are not data by the format's layout: preamble before the header, footer lines.
    pub skipped_lines: u64,
}

/// A data row that could not become a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quarantined {
    pub(crate) source: SourceLine,
    pub(crate) reason: String,
    /// The row re-encoded as one CSV line (fields as read, re-quoted where needed), or the line
    /// as read when its quotes do not close; cut at 1 KiB with its length and SHA-256.
    pub(crate) raw: String,
}

/// A problem with a whole report; nothing of the file is used.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: the file is empty (no header line)")]
    Empty { path: String },
    #[error(
        "{path}: required {format} column(s) missing from the header: {}; found: {}",
        missing.join(", "),
        found.join(", ")
    )]
    MissingColumns {
        path: String,
        format: String,
        missing: Vec<String>,
        found: Vec<String>,
    },
    #[error("{path}: column `{column}` appears more than once in the header")]
    DuplicateColumn { path: String, column: String },
    #[error("{path}: no header line found: expected {looked_for}")]
    HeaderNotFound { path: String, looked_for: String },
    #[error(
        "{path}: line {line}: the header has a quoted field that does not close within {max_record_lines} line(s)"
    )]
    HeaderUnclosedQuote {
        path: String,
        line: u64,
        max_record_lines: u32,
    },
    #[error("{path}: the header line is not UTF-8 text; is this a CSV file?")]
    HeaderNotText { path: String },
    #[error("{path}: cannot read the report: {source}")]
    Read {
        path: String,
        #[source]
        source: csv::Error,
    },
}

/// What parsing one report tallied besides its records (which went to the caller's sink).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParseTally {
    pub(crate) quarantined: Vec<Quarantined>,
    /// Data rows read (blank lines excluded): records handed out + quarantined.
    pub(crate) rows_read: u64,
    /// Lines that are not data by the format's layout: preamble before the header, footer lines.
    pub(crate) skipped_lines: u64,
}

/// Parses one report, collecting its records. `path` is only used to name the file in
/// records, quarantines and errors.
pub fn parse_report(
    format: &Format,
    path: &str,
    reader: impl Read,
) -> Result<ParseOutcome, ReportError> {
    let mut records = Vec::new();
    let tally = parse_report_into(format, path, reader, &mut |record| records.push(record))?;
    Ok(ParseOutcome {
        records,
        quarantined: tally.quarantined,
        rows_read: tally.rows_read,
        skipped_lines: tally.skipped_lines,
    })
}

/// Parses one report, handing each record to `sink` as it is read, so that no more than one
/// record is held here whatever the report's size.
pub(crate) fn parse_report_into(
    format: &Format,
    path: &str,
    reader: impl Read,
    sink: &mut dyn FnMut(SettlementRecord),
) -> Result<ParseTally, ReportError> {
    match format {
        Format::Stripe(options) => {
            let layout = Layout::csv(b',', options.max_record_lines);
            drive(
                path,
                reader,
                &layout,
                "Stripe",
                |columns| stripe::Parser::new(columns, options),
                sink,
            )
        }
        Format::Braintree(options) => {
            let layout = Layout::csv(b',', options.max_record_lines);
            match options.report_type {
                braintree::Report::TransactionSearch => drive(
                    path,
                    reader,
                    &layout,
                    "Braintree",
                    |columns| braintree::Parser::new(columns, options),
                    sink,
                ),
                braintree::Report::SettlementBatchSummary => drive(
                    path,
                    reader,
                    &layout,
                    "Braintree",
                    |columns| braintree_summary::Parser::new(columns, options),
                    sink,
                ),
            }
        }
        Format::Adyen(options) => {
            let layout = Layout::csv(b',', options.max_record_lines);
            drive(
                path,
                reader,
                &layout,
                "Adyen",
                |columns| adyen::Parser::new(columns, options),
                sink,
            )
        }
        Format::Mapped(plan) => drive(
            path,
            reader,
            plan.layout(),
            plan.name(),
            |columns| mapped::Parser::new(plan, columns),
            sink,
        ),
    }
}

/// One format's per-row parsing, once its columns are resolved against the header.
pub(crate) trait RowParser {
    /// The record for one row (amounts need not balance yet: the driver checks that).
    fn parse(&self, row: &Row<'_>) -> Result<SettlementRecord, String>;
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests;
