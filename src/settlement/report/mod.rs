//! Reading processors' settlement reports: one module per report layout, and [`parse_report`], which streams a report through its format's parser into canonical records.
//!
//! [`parse_report`] streams one CSV report (one record in memory at a time) through the parser
//! of its [`Format`]. A problem with the whole file (no header, required columns missing) is a
//! [`ReportError`]; a problem with one row quarantines that row with its file, line and reason
//! and the run goes on. `rows_read == records.len() + quarantined.len()` always holds; lines
//! whose fields are all blank (trailing empty lines, `,,,,`) are not data rows and are skipped.
//!
//! Headers are matched case-insensitively after trimming, in any order; a UTF-8 BOM, CRLF line
//! endings and quoted fields spanning lines are handled, and line numbers are those of the file.
//!
//! Each built-in [`Format`] carries the options its processor offers when a report is run or
//! downloaded (a Stripe run's `timezone`, `decimal_separator` and report type; which Braintree
//! report), read from a check's `[settlement.format_options]`; each format's module doc says
//! which layout it reads and where that layout is documented.

pub(crate) mod adyen;
pub(crate) mod braintree;
mod braintree_summary;
mod csv_rows;
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
    /// The row re-encoded as one CSV line (fields as read, re-quoted where needed).
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
    #[error("{path}: the header line is not UTF-8 text; is this a CSV file?")]
    HeaderNotText { path: String },
    #[error("{path}: cannot read the report: {source}")]
    Read {
        path: String,
        #[source]
        source: csv::Error,
    },
}

/// Parses one report. `path` is only used to name the file in records, quarantines and errors.
pub fn parse_report(
    format: &Format,
    path: &str,
    reader: impl Read,
) -> Result<ParseOutcome, ReportError> {
    match format {
        Format::Stripe(options) => drive(path, reader, &Layout::csv(b','), "Stripe", |columns| {
            stripe::Parser::new(columns, options)
        }),
        Format::Braintree(options) => match options.report_type {
            braintree::Report::TransactionSearch => {
                drive(path, reader, &Layout::csv(b','), "Braintree", |columns| {
                    braintree::Parser::new(columns, options)
                })
            }
            braintree::Report::SettlementBatchSummary => {
                drive(path, reader, &Layout::csv(b','), "Braintree", |columns| {
                    braintree_summary::Parser::new(columns, options)
                })
            }
        },
        Format::Adyen(options) => drive(path, reader, &Layout::csv(b','), "Adyen", |columns| {
            adyen::Parser::new(columns, options)
        }),
        Format::Mapped(plan) => drive(path, reader, plan.layout(), plan.name(), |columns| {
            mapped::Parser::new(plan, columns)
        }),
    }
}

/// One format's per-row parsing, once its columns are resolved against the header.
pub(crate) trait RowParser {
    /// The record for one row (amounts need not balance yet: the driver checks that).
    fn parse(&self, row: &Row<'_>) -> Result<SettlementRecord, String>;
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the format tests.

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::money::Currency;

    pub(crate) fn cur(code: &str) -> Currency {
        Currency::parse(code).expect("known currency")
    }

    pub(crate) fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test timestamp")
            .to_utc()
    }

    pub(crate) fn at(path: &str, line: u64) -> SourceLine {
        SourceLine {
            path: path.into(),
            line,
        }
    }

    /// Parses and checks the counting invariant every test relies on.
    pub(crate) fn parse(format: &Format, path: &str, text: &str) -> ParseOutcome {
        let outcome = parse_report(format, path, text.as_bytes()).expect("report parses");
        assert_eq!(
            outcome.rows_read,
            (outcome.records.len() + outcome.quarantined.len()) as u64,
            "every row is a record or a quarantine"
        );
        outcome
    }

    /// Hands the input out one byte per `read`, to exercise every chunk boundary.
    pub(crate) struct Trickle<'a>(pub(crate) &'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (self.0.split_first(), buf.first_mut()) {
                (Some((first, rest)), Some(slot)) => {
                    *slot = *first;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// The same outcome whether the input arrives at once or byte by byte.
    pub(crate) fn parse_both_ways(format: &Format, path: &str, text: &str) -> ParseOutcome {
        let whole = parse(format, path, text);
        let trickled = parse_report(format, path, Trickle(text.as_bytes())).expect("report parses");
        assert_eq!(whole, trickled, "byte-by-byte reading changes nothing");
        whole
    }

    /// `(line, reason)` of each quarantined row.
    pub(crate) fn quarantine_list(outcome: &ParseOutcome) -> Vec<(u64, String)> {
        outcome
            .quarantined
            .iter()
            .map(|q| (q.source.line, q.reason.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::mapped::{AmountSigns, MappedColumns, MappedFormat};
    use super::test_support::*;
    use super::*;
    use crate::settlement::Kind;

    #[test]
    fn whole_file_problems() {
        let err = parse_report(
            &Format::Stripe(Default::default()),
            "empty.csv",
            "".as_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "empty.csv: the file is empty (no header line)"
        );
        let err = parse_report(
            &Format::Stripe(Default::default()),
            "bom.csv",
            "\u{feff}".as_bytes(),
        )
        .unwrap_err();
        assert!(matches!(err, ReportError::Empty { .. }));
        let err = parse_report(
            &Format::Stripe(Default::default()),
            "blank.csv",
            "\r\n\r\n".as_bytes(),
        )
        .unwrap_err();
        assert!(matches!(err, ReportError::Empty { .. }));

        let json = "{\"object\": \"list\", \"data\": []}\n";
        let err = parse_report(
            &Format::Stripe(Default::default()),
            "x.json",
            json.as_bytes(),
        )
        .unwrap_err();
        match &err {
            ReportError::MissingColumns { path, missing, .. } => {
                assert_eq!(path, "x.json");
                assert_eq!(
                    missing,
                    &[
                        "balance_transaction_id",
                        "created_utc",
                        "currency",
                        "gross",
                        "fee",
                        "net",
                        "reporting_category"
                    ]
                );
            }
            other => panic!("unexpected {other:?}"),
        }

        let binary: &[u8] = &[0x89, b'P', b'N', b'G', 0xff, 0xfe, b'\n', 1, 2, 3];
        let err = parse_report(&Format::Adyen(Default::default()), "x.png", binary).unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.png: the header line is not UTF-8 text; is this a CSV file?"
        );

        let dup =
            "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,GROSS\n";
        let err = parse_report(
            &Format::Stripe(Default::default()),
            "dup.csv",
            dup.as_bytes(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "dup.csv: column `gross` appears more than once in the header"
        );
    }

    #[test]
    fn builtin_formats_by_name() {
        assert_eq!(
            Format::builtin("Stripe"),
            Some(Format::Stripe(Default::default()))
        );
        assert_eq!(
            Format::builtin(" braintree "),
            Some(Format::Braintree(Default::default()))
        );
        assert_eq!(
            Format::builtin("ADYEN"),
            Some(Format::Adyen(Default::default()))
        );
        assert_eq!(Format::builtin("paypal"), None);
        assert_eq!(Format::Adyen(Default::default()).processor(), "adyen");
    }

    #[test]
    fn header_only_file_is_empty_outcome() {
        let text =
            "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\r\n";
        let outcome = parse(&Format::Stripe(Default::default()), "h.csv", text);
        assert_eq!(outcome, ParseOutcome::default());
    }

    #[test]
    fn io_error_is_a_report_error() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let err = parse_report(&Format::Adyen(Default::default()), "f.csv", Failing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.csv: cannot read the report: disk on fire"
        );
    }

    /// Garbage rows under a valid header: never a panic, never a lost row.
    #[test]
    fn random_rows_never_panic_and_are_all_accounted_for() {
        let mapped: MappedFormat = MappedFormat {
            name: "fuzz".into(),
            delimiter: ',',
            decimal_separator: ',',
            thousands_separator: None,
            encoding: "windows-1252".into(),
            skip_lines: 0,
            find_header: false,
            footer_starts_with: vec!["total".into()],
            datetime_format: "%d/%m/%Y %H:%M".into(),
            available_at_format: None,
            time_zone: "Europe/Paris".into(),
            currency: None,
            columns: MappedColumns {
                record_id: "id".into(),
                created_at: "at".into(),
                kind: Some("kind".into()),
                gross: Some("gross".into()),
                fee: Some("fee".into()),
                net: None,
                currency: Some("cur".into()),
                available_at: None,
                payout_id: None,
                reference: None,
            },
            amounts: AmountSigns::DebitCredit {
                indicator_column: "dc".into(),
                debit_values: vec!["D".into()],
                credit_values: vec![],
            },
            fees_are_negative: true,
            kinds: [("sale".to_owned(), Kind::Charge)].into_iter().collect(),
            default_kind: None,
        };
        let cases: Vec<(Format, &str, &str)> = vec![
            (
                Format::Stripe(Default::default()),
                "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category",
                "txn_1,2024-03-01 10:00:00,usd,10.00,0.30,9.70,charge",
            ),
            (
                Format::Braintree(Default::default()),
                "Transaction ID,Transaction Type,Transaction Status,Created Datetime,Created Timezone,Currency ISO Code,Amount Submitted For Settlement,Service Fee",
                "t1,sale,settled,2024-03-01 10:00:00,CET,USD,10.00,0.30",
            ),
            (
                Format::Adyen(Default::default()),
                "Psp Reference,Creation Date,TimeZone,Type,Gross Currency,Gross Debit (GC),Gross Credit (GC),Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC)",
                "p1,2024-03-01 10:00:00,CET,Settled,EUR,,10.00,EUR,,9.70,0.30,,,",
            ),
            (
                Format::Mapped(Box::new(
                    mapped::Plan::new(mapped).expect("a valid mapping"),
                )),
                "id,at,kind,gross,fee,cur,dc",
                "id1,01/03/2024 10:00,sale,\"10,00\",\"-0,30\",EUR,C",
            ),
        ];
        let pieces: &[&str] = &[
            "",
            "x",
            "1",
            "-",
            "(",
            ")",
            "0.5",
            "1,234.5",
            "12,5",
            "-92233720368547758.08",
            "9223372036854775807",
            "usd",
            "JPY",
            "KWD",
            "CET",
            "Europe/Paris",
            "2024-03-31 02:30:00",
            "2024-03-01 10:00:00",
            "31/03/2024 02:30",
            "01/03/2024 10:00",
            "sale",
            "credit",
            "settled",
            "charge",
            "Settled",
            "D",
            "C",
            "\"",
            "\"a,b\"",
            "\"q\"\"\"",
            "\r\n",
            "\n",
            "\r",
            ",",
            "\u{feff}",
            "é",
            "\u{0}",
            "NaN",
            "1e3",
            " ",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
        let mut totals = (0, 0);
        for (format, header, valid) in &cases {
            for _ in 0..200 {
                let mut text = String::from(*header);
                text.push_str(if next(2) == 0 { "\n" } else { "\r\n" });
                let width = header.split(',').count();
                for _ in 0..next(12) {
                    if next(3) == 0 {
                        text.push_str(valid);
                        text.push_str(["\n", "\r\n", "\r"][next(3)]);
                        continue;
                    }
                    let fields = match next(10) {
                        0 => next(width + 2),
                        _ => width,
                    };
                    for field in 0..fields {
                        if field > 0 {
                            text.push(',');
                        }
                        for _ in 0..next(3) {
                            text.push_str(pieces[next(pieces.len())]);
                        }
                    }
                    text.push_str(["\n", "\r\n", "\r", ""][next(4)]);
                }
                let outcome = parse_both_ways(format, "fuzz.csv", &text);
                totals.0 += outcome.records.len();
                totals.1 += outcome.quarantined.len();
                for record in &outcome.records {
                    assert_eq!(record.check_balance(), Ok(()));
                    assert!(record.source.line >= 2);
                }
                for quarantined in &outcome.quarantined {
                    assert!(quarantined.source.line >= 2, "{quarantined:?}");
                    assert!(!quarantined.reason.is_empty());
                }
            }
        }
        assert!(totals.0 > 0 && totals.1 > 0);
    }
}
