//! What holds for every format: whole-file problems, the built-in names, and no row lost to any input.

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
    let text = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category\r\n";
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
        max_record_lines: 3,
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
