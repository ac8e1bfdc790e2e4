//! What the cargo-fuzz targets in `fuzz/` need and recon does not make public: a report format built from its options as a configuration writes them, `--where` typed against fixed columns, and the bank statement parsers. recon itself never calls it.

use crate::bank::camt::parse_camt;
use crate::bank::{BatchBookings, ParsedStatements};
use crate::error::Result;
use crate::settlement::report::kept_text::KEPT_BYTES;
use crate::settlement::{Format, ParseOutcome, ReportError, parse_report};
use crate::source::filter::RowFilter;

/// The report format `name` (`stripe`, `braintree`, `adyen`, or any other name for a mapped
/// CSV) with `options`, TOML text: a built-in format's `[settlement.format_options]`, or the
/// `[formats.<name>]` mapping. Checked exactly as the configuration's are.
pub fn report_format(name: &str, options: &str) -> std::result::Result<Format, String> {
    let table: toml::Table = options
        .parse()
        .map_err(|e: toml::de::Error| e.to_string())?;
    crate::config::format_named(name, &table)
}

/// `text` parsed as `--where` and typed against the columns of the filter's own tests (`id`
/// integer, `currency` text, `amount` decimal, `created_at` timestamp, `memo` text, `settled`
/// boolean, `rate` float, `booked_on` date).
pub fn where_filter(text: &str) -> Result<RowFilter> {
    crate::source::filter::fixtures::resolve(text)
}

/// [`parse_report`] of `bytes`, panicking (a finding, for the fuzzer) when the outcome breaks
/// what the parser promises: every data row a record or a quarantined line, and a quarantined
/// line's kept text capped (its first KiB, as lossy UTF-8, with its length and digest).
pub fn parse_report_checked(
    format: &Format,
    bytes: &[u8],
) -> std::result::Result<ParseOutcome, ReportError> {
    let outcome = parse_report(format, "fuzz.csv", bytes)?;
    let accounted = outcome.records.len() + outcome.quarantined.len();
    assert_eq!(
        outcome.rows_read, accounted as u64,
        "rows read are not records plus quarantined lines"
    );
    for line in &outcome.quarantined {
        assert!(
            line.raw.len() <= 4 * KEPT_BYTES,
            "a quarantined line keeps {} bytes of raw text",
            line.raw.len()
        );
    }
    Ok(outcome)
}

/// [`parse_camt`] of `bytes` (batch bookings split when `split`, else kept), panicking (a
/// finding) when the outcome breaks what a bank parser promises; `false` when the file is
/// refused whole.
pub fn parse_camt_checked(bytes: &[u8], split: bool) -> bool {
    let batch = if split {
        BatchBookings::Split
    } else {
        BatchBookings::Keep
    };
    match parse_camt("fuzz.xml", bytes, batch) {
        Ok(parsed) => {
            assert_bank_promises(&parsed);
            true
        }
        Err(_) => false,
    }
}

/// What every bank parser promises: each entry read kept or quarantined, and a quarantined
/// entry's kept text capped (its first KiB, as lossy UTF-8, with its length and digest).
fn assert_bank_promises(parsed: &ParsedStatements) {
    assert!(
        parsed.accounts_for_every_entry(),
        "entries read ({}) are not entries kept ({}) plus quarantined ({})",
        parsed.entries_read,
        parsed.entries_kept(),
        parsed.quarantined.len()
    );
    for entry in &parsed.quarantined {
        assert!(
            entry.raw.len() <= 4 * KEPT_BYTES,
            "a quarantined entry keeps {} bytes of raw text",
            entry.raw.len()
        );
    }
}
