//! What the cargo-fuzz targets in `fuzz/` need and recon does not make public: a report format built from its options as a configuration writes them, `--where` typed against fixed columns, and the bank statement parsers and aggregator answers checked. recon itself never calls it.

use crate::bank::camt::parse_camt;
use crate::bank::{BankFileError, BatchBookings, ParsedStatements, parse_bai2, parse_mt940, proof};
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
    assert_capped(&outcome.quarantined);
    Ok(outcome)
}

/// [`parse_camt`] of `bytes` (batch bookings split when `split`, else kept), checked as
/// [`bank_statements_checked`] says.
pub fn parse_camt_checked(bytes: &[u8], split: bool) -> std::result::Result<u64, String> {
    let batch = match split {
        true => BatchBookings::Split,
        false => BatchBookings::Keep,
    };
    bank_statements_checked(parse_camt("fuzz.xml", bytes, batch))
}

/// [`parse_mt940`] of `bytes`, checked as [`bank_statements_checked`] says.
pub fn parse_mt940_checked(bytes: &[u8]) -> std::result::Result<u64, String> {
    bank_statements_checked(parse_mt940("fuzz.sta", bytes))
}

/// [`parse_bai2`] of `bytes`, checked as [`bank_statements_checked`] says.
pub fn parse_bai2_checked(bytes: &[u8]) -> std::result::Result<u64, String> {
    bank_statements_checked(parse_bai2("fuzz.bai", bytes))
}

/// The entries a bank file's parse read, panicking (a finding, for the fuzzer) when the outcome
/// breaks what a bank parser promises: every entry read kept or quarantined, a quarantined
/// entry's kept text capped, every entry on its statement's account and in its currency and
/// placed on a line, and the balance proof computable; a refused file as its error's text.
fn bank_statements_checked(
    parsed: std::result::Result<ParsedStatements, BankFileError>,
) -> std::result::Result<u64, String> {
    let parsed = parsed.map_err(|e| e.to_string())?;
    assert!(
        parsed.accounts_for_every_entry(),
        "{} entries read but {} kept and {} quarantined",
        parsed.entries_read,
        parsed.entries_kept(),
        parsed.quarantined.len()
    );
    assert_capped(&parsed.quarantined);
    for line in &parsed.quarantined {
        assert!(line.source.line >= 1, "a quarantined entry without a line");
    }
    for statement in &parsed.statements {
        for entry in &statement.entries {
            assert_eq!(
                entry.account, statement.account,
                "an entry off its statement's account"
            );
            assert_eq!(
                entry.currency, statement.currency,
                "an entry in another currency"
            );
            assert!(entry.source.line >= 1, "an entry without a line");
        }
        let _ = proof::prove(statement);
    }
    Ok(parsed.entries_read)
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

/// Every quarantined line's kept text capped: its first KiB (as lossy UTF-8, so up to four
/// bytes a character) with its length and digest.
fn assert_capped(quarantined: &[crate::settlement::Quarantined]) {
    for line in quarantined {
        assert!(
            line.raw.len() <= 4 * KEPT_BYTES,
            "a quarantined line keeps {} bytes of raw text",
            line.raw.len()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/bank/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("fixture")
    }

    #[test]
    fn bank_doors_pass_the_fixtures_and_refuse_other_files() {
        assert_eq!(
            parse_mt940_checked(&fixture("mt940/two_messages.sta")),
            Ok(4)
        );
        assert_eq!(parse_mt940_checked(&fixture("mt940/malformed.sta")), Ok(5));
        assert_eq!(parse_bai2_checked(&fixture("bai2/prior_day.bai")), Ok(5));
        assert_eq!(
            parse_camt_checked(&fixture("camt053-v02-2026-12-01.xml"), true),
            Ok(6)
        );
        assert_eq!(
            parse_camt_checked(&fixture("camt053-v02-2026-12-01.xml"), false),
            Ok(4)
        );
        assert_eq!(parse_bai2_checked(&fixture("bai2/malformed.bai")), Ok(6));
        assert_eq!(
            parse_bai2_checked(&fixture("mt940/interim.sta")),
            Err("fuzz.bai: not a BAI2 file: its first record has no record code".into())
        );
    }
}
