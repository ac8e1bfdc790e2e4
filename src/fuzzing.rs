//! What the cargo-fuzz targets in `fuzz/` need and recon does not make public: a report format built from its options as a configuration writes them, `--where` typed against fixed columns, and the aggregators' answers mapped to bank entries. recon itself never calls it.

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

/// A Plaid `/transactions/sync` answer mapped to bank entries, panicking (a finding) when a
/// transaction is neither an entry, quarantined, nor a pending one its posted one replaced, or
/// when a quarantined transaction's kept text is not capped.
pub fn plaid_page_checked(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(changes) = crate::bank::plaid::read_page("fuzz", text) else {
        return;
    };
    assert!(
        changes.accounts_for_every_transaction(),
        "transactions read are not entries plus quarantined plus superseded pending ones"
    );
    assert_capped(&changes.parsed.quarantined);
}

/// A GoCardless Bank Account Data transactions answer mapped to bank entries, panicking (a
/// finding) when the accounting line breaks or a quarantined transaction's kept text is not capped.
pub fn gocardless_transactions_checked(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(parsed) = crate::bank::gocardless::parse("fuzz", "gocardless:fuzz", text) else {
        return;
    };
    assert!(
        parsed.accounts_for_every_entry(),
        "transactions read are not entries plus quarantined ones"
    );
    assert_capped(&parsed.quarantined);
}

fn assert_capped(quarantined: &[crate::settlement::Quarantined]) {
    for line in quarantined {
        assert!(
            line.raw.len() <= 4 * KEPT_BYTES,
            "a quarantined transaction keeps {} bytes of raw text",
            line.raw.len()
        );
    }
}
