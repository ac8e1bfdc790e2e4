//! Mapped formats: mappings read and refused, and files of each layout a mapping describes.

use super::super::test_support::*;
use super::super::{Format, ParseOutcome, ReportError, parse_report};
use super::*;

const GERMAN: &str = r#"
name = "acmepay"
delimiter = ";"
decimal_separator = ","
datetime_format = "%d.%m.%Y %H:%M:%S"
available_at_format = "%d.%m.%Y"
time_zone = "Europe/Berlin"

[columns]
record_id = "Transaktions-ID"
created_at = "Datum"
kind = "Typ"
gross = "Betrag"
fee = "Gebühr"
currency = "Währung"
available_at = "Valuta"
payout_id = "Auszahlung"
reference = "Bestellnummer"

[amounts]
style = "debit_credit"
indicator_column = "S/H"
debit_values = ["S"]
credit_values = ["H"]

[kinds]
"Zahlung" = "charge"
"Erstattung" = "refund"
"Rückbuchung" = "dispute"
"Auszahlung" = "payout"
"#;

/// The mapping as the configuration builds it: checked once, then parsed with.
fn mapped(format: MappedFormat) -> Format {
    Format::Mapped(Box::new(Plan::new(format).expect("a valid mapping")))
}

/// [`Plan::new`]'s verdict alone.
fn validate(format: &MappedFormat) -> Result<(), String> {
    Plan::new(format.clone()).map(|_| ())
}

fn german() -> MappedFormat {
    toml::from_str(GERMAN).expect("mapping deserializes")
}

struct Expect {
    id: &'static str,
    kind: Kind,
    gross: i64,
    fee: i64,
    currency: &'static str,
    created: &'static str,
    available: Option<&'static str>,
    payout: Option<&'static str>,
    reference: Option<&'static str>,
    line: u64,
}

fn rec(e: Expect) -> SettlementRecord {
    SettlementRecord {
        record_id: e.id.into(),
        kind: e.kind,
        gross_minor: e.gross,
        fee_minor: e.fee,
        net_minor: e.gross - e.fee,
        currency: cur(e.currency),
        created_at: utc(e.created),
        available_at: e.available.map(utc),
        payout_id: e.payout.map(Into::into),
        reference: e.reference.map(Into::into),
        links: Default::default(),
        source: at("acme.csv", e.line),
    }
}

#[test]
fn toml_mapping_deserializes() {
    let format = german();
    assert_eq!(format.delimiter, ';');
    assert_eq!(format.decimal_separator, ',');
    assert_eq!(
        format.amounts,
        AmountSigns::DebitCredit {
            indicator_column: "S/H".into(),
            debit_values: vec!["S".into()],
            credit_values: vec!["H".into()],
        }
    );
    assert_eq!(format.kinds.get("Rückbuchung"), Some(&Kind::Dispute));
    assert_eq!(validate(&format), Ok(()));
    assert_eq!(mapped(format).processor(), "acmepay");

    let minimal: MappedFormat = toml::from_str(
        r#"
name = "tiny"
datetime_format = "%Y-%m-%d"
currency = "usd"
default_kind = "charge"
[columns]
record_id = "id"
created_at = "date"
net = "amount"
"#,
    )
    .expect("minimal mapping");
    assert_eq!(minimal.delimiter, ',');
    assert_eq!(minimal.time_zone, "UTC");
    assert_eq!(minimal.amounts, AmountSigns::Signed);
    assert_eq!(validate(&minimal), Ok(()));

    let typo = toml::from_str::<MappedFormat>(
        "name = \"x\"\ndatetime_format = \"%Y\"\ncolour = 1\n[columns]\nrecord_id = \"a\"\ncreated_at = \"b\"\n",
    );
    assert!(typo.is_err());
    let bad_kind = toml::from_str::<MappedFormat>(
        "name = \"x\"\ndatetime_format = \"%Y\"\n[columns]\nrecord_id = \"a\"\ncreated_at = \"b\"\n[kinds]\nZ = \"chargeback\"\n",
    );
    assert!(bad_kind.is_err());
}

#[test]
fn german_debit_credit_file() {
    let text = "\u{feff}Transaktions-ID;Datum;Typ;Betrag;Gebühr;Währung;S/H;Valuta;Auszahlung;Bestellnummer\r\n\
            T-1;01.03.2024 10:00:00;Zahlung;1.234,56;12,35;EUR;H;04.03.2024;A-9;B-100\r\n\
            T-2;01.07.2024 10:00:00;Erstattung;10,00;0;eur;S;;A-9;\"B-100; Teil\"\r\n\
            T-3;02.03.2024 10:00:00;Rückbuchung;50;0;JPY;s;;;\r\n\
            T-4;05.03.2024 08:00:00;Auszahlung;1.222,21;;EUR;S;05.03.2024;A-9;\r\n\
            T-5;01.03.2024 10:00:00;Zahlung;1,0005;0;KWD;H;;;\r\n\
            T-6;01.03.2024 10:00:00;Zahlung;-5,00;0;EUR;H;;;\r\n\
            T-7;01.03.2024 10:00:00;Zahlung;5,00;0;EUR;X;;;\r\n\
            T-8;01.03.2024 10:00:00;Bonus;5,00;0;EUR;H;;;\r\n\
            T-9;2024-03-01;Zahlung;5,00;0;EUR;H;;;\r\n\
            T-10;01.03.2024 10:00:00;Zahlung;5.00;0;EUR;H;;;\r\n\
            T-11;01.03.2024 10:00:00;Zahlung;5,00;0;EUR;H\r\n\
            T-12;31.03.2024 02:30:00;Zahlung;5,00;0;EUR;H;;;\r\n\
            T-13;01.03.2024 10:00:00;Zahlung;5,000;0;KWD;H;;;\r\n\
            ;;;;;;;;;\r\n";
    let outcome = parse_both_ways(&mapped(german()), "acme.csv", text);
    assert_eq!(
        outcome.records,
        vec![
            rec(Expect {
                id: "T-1",
                kind: Kind::Charge,
                gross: 123_456,
                fee: 1235,
                currency: "EUR",
                created: "2024-03-01T09:00:00Z",
                available: Some("2024-03-03T23:00:00Z"),
                payout: Some("A-9"),
                reference: Some("B-100"),
                line: 2,
            }),
            rec(Expect {
                id: "T-2",
                kind: Kind::Refund,
                gross: -1000,
                fee: 0,
                currency: "EUR",
                created: "2024-07-01T08:00:00Z",
                available: None,
                payout: Some("A-9"),
                reference: Some("B-100; Teil"),
                line: 3,
            }),
            rec(Expect {
                id: "T-3",
                kind: Kind::Dispute,
                gross: -50,
                fee: 0,
                currency: "JPY",
                created: "2024-03-02T09:00:00Z",
                available: None,
                payout: None,
                reference: None,
                line: 4,
            }),
            rec(Expect {
                id: "T-4",
                kind: Kind::Payout,
                gross: -122_221,
                fee: 0,
                currency: "EUR",
                created: "2024-03-05T07:00:00Z",
                available: Some("2024-03-04T23:00:00Z"),
                payout: Some("A-9"),
                reference: None,
                line: 5,
            }),
            rec(Expect {
                id: "T-13",
                kind: Kind::Charge,
                gross: 5000,
                fee: 0,
                currency: "KWD",
                created: "2024-03-01T09:00:00Z",
                available: None,
                payout: None,
                reference: None,
                line: 14,
            }),
        ]
    );
    let expected: Vec<(u64, String)> = [
        (
            6,
            "amount in `Betrag` does not fit KWD: `1,0005` has more decimal places than KWD allows (3)",
        ),
        (
            7,
            "bad number in `Betrag`: negative amount `-5,00` with a debit/credit indicator",
        ),
        (8, "unknown debit/credit indicator `X` in `S/H`"),
        (9, "unknown kind `Bonus` in `Typ`"),
        (
            10,
            "unparseable date in `Datum`: `2024-03-01` (expected format `%d.%m.%Y %H:%M:%S`: input contains invalid characters)",
        ),
        (
            11,
            "bad number in `Betrag`: `5.00` has an ambiguous or misplaced thousands separator",
        ),
        (12, "wrong field count: expected 10, found 7"),
        (
            13,
            "unparseable date in `Datum`: `31.03.2024 02:30:00` (2024-03-31 02:30:00 does not exist in Europe/Berlin (skipped by a clock change))",
        ),
    ]
    .into_iter()
    .map(|(line, reason)| (line, reason.to_owned()))
    .collect();
    assert_eq!(quarantine_list(&outcome), expected);
    assert_eq!(outcome.rows_read, 13);
    assert_eq!(
        outcome.quarantined[6].raw,
        "T-11;01.03.2024 10:00:00;Zahlung;5,00;0;EUR;H"
    );
}

#[test]
fn signed_net_only_with_default_kind_and_negative_fees() {
    let format: MappedFormat = toml::from_str(
        r#"
name = "bankfeed"
datetime_format = "%Y-%m-%dT%H:%M:%S%z"
currency = "USD"
fees_are_negative = true
default_kind = "adjustment"
[columns]
record_id = "ref"
created_at = "when"
kind = "what"
gross = "gross"
fee = "fee"
net = "net"
[kinds]
SALE = "charge"
"#,
    )
    .expect("mapping");
    let text = "net,fee,gross,what,when,ref\n\
            9.70,-0.30,10.00,sale,2024-03-01T10:00:00+0100,r1\n\
            -2.00,,-2.00,,2024-03-01T11:00:00+0000,r2\n\
            9.00,-0.30,10.00,sale,2024-03-01T10:00:00+0100,r3\n\
            ,-0.30,,sale,2024-03-01T10:00:00+0100,r4\n";
    let outcome = parse(&mapped(format), "acme.csv", text);
    let e = |id, kind, gross, fee, created, line| Expect {
        id,
        kind,
        gross,
        fee,
        currency: "USD",
        created,
        available: None,
        payout: None,
        reference: None,
        line,
    };
    assert_eq!(
        outcome.records,
        vec![
            rec(e("r1", Kind::Charge, 1000, 30, "2024-03-01T09:00:00Z", 2)),
            rec(e(
                "r2",
                Kind::Adjustment,
                -200,
                0,
                "2024-03-01T11:00:00Z",
                3
            )),
        ]
    );
    assert_eq!(
        quarantine_list(&outcome),
        vec![
            (
                4,
                "net ≠ gross − fee (gross 10.00, fee 0.30, net 9.00 USD)".to_owned()
            ),
            (5, "missing value in `gross` and `net`".to_owned()),
        ]
    );
}

#[test]
fn invalid_mappings_are_refused() {
    let base = german();
    let cases: Vec<(MappedFormat, &str)> = vec![
        (
            MappedFormat {
                time_zone: "Mars/Base".into(),
                ..base.clone()
            },
            "unknown `time_zone` `Mars/Base`",
        ),
        (
            MappedFormat {
                decimal_separator: ';',
                ..base.clone()
            },
            "`decimal_separator` must be '.' or ',', not ';'",
        ),
        (
            MappedFormat {
                delimiter: 'é',
                ..base.clone()
            },
            "`delimiter` must be one ASCII character other than a quote or line break, not 'é'",
        ),
        (
            MappedFormat {
                datetime_format: "%Y-%m-%Q".into(),
                ..base.clone()
            },
            "`datetime_format` is not a valid strftime format: `%Y-%m-%Q`",
        ),
        (
            MappedFormat {
                currency: Some("EUR".into()),
                ..base.clone()
            },
            "give either `columns.currency` or `currency`, not both",
        ),
        (
            MappedFormat {
                columns: MappedColumns {
                    gross: None,
                    ..base.columns.clone()
                },
                ..base.clone()
            },
            "needs `columns.gross` or `columns.net`",
        ),
        (
            MappedFormat {
                amounts: AmountSigns::DebitCredit {
                    indicator_column: "S/H".into(),
                    debit_values: vec!["S".into()],
                    credit_values: vec!["s".into()],
                },
                ..base.clone()
            },
            "`s` is in both `debit_values` and `credit_values`",
        ),
        (
            MappedFormat {
                kinds: [("A", Kind::Charge), ("a", Kind::Refund)]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                ..base.clone()
            },
            "`kinds` maps `a` to both charge and refund (keys ignore case)",
        ),
    ];
    // Refused when the configuration is read: no `Format` holds it, no report is read with it.
    for (format, reason) in cases {
        assert_eq!(validate(&format), Err(reason.to_owned()));
    }
}

#[test]
fn mapped_columns_must_exist() {
    let text = "Transaktions-ID;Datum;Betrag;Währung\n";
    let err =
        parse_report(&mapped(german()), "acme.csv", text.as_bytes()).expect_err("missing columns");
    match err {
        ReportError::MissingColumns {
            missing, format, ..
        } => {
            assert_eq!(format, "acmepay");
            assert_eq!(
                missing,
                [
                    "Typ",
                    "Gebühr",
                    "Valuta",
                    "Auszahlung",
                    "Bestellnummer",
                    "S/H"
                ]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// The annotated example of config/formats/ on the bank export of tests/fixtures/bank/:
/// Windows-1252, a preamble found by its header, Soll/Haben columns, a closing-balance footer.
#[test]
fn bank_statement_example_reads_the_bank_export() {
    // recon.toml names the mapping by its table, `[formats.bank_statement]`
    let mut table: toml::Table = toml::from_str(include_str!(
        "../../../../config/formats/bank-statement.toml"
    ))
    .expect("the example is TOML");
    table.insert("name".into(), "bank_statement".into());
    let format: MappedFormat = table.try_into().expect("the example deserializes");
    let file: &[u8] = include_bytes!("../../../../tests/fixtures/bank/statement-2026-12-01.csv");
    let outcome = parse_report(&mapped(format), "statement.csv", file).expect("the export parses");
    let line =
        |line, id: &str, gross, created: &str, available: &str, reference: &str| SettlementRecord {
            record_id: id.into(),
            kind: Kind::Other,
            gross_minor: gross,
            fee_minor: 0,
            net_minor: gross,
            currency: cur("EUR"),
            created_at: utc(created),
            available_at: Some(utc(available)),
            payout_id: None,
            reference: Some(reference.into()),
            links: Default::default(),
            source: at("statement.csv", line),
        };
    // the bank's midnight in Berlin is 23:00 UTC the day before
    assert_eq!(
        outcome.records,
        vec![
            line(
                8,
                "po_1QxA2026",
                1_234_567,
                "2026-11-30T23:00:00Z",
                "2026-11-30T23:00:00Z",
                "STRIPE PAYOUT"
            ),
            line(
                9,
                "ADYEN-B57",
                200_000,
                "2026-11-30T23:00:00Z",
                "2026-12-01T23:00:00Z",
                "Settlement batch 57"
            ),
            line(
                10,
                "MIETE-2026-12",
                -150_000,
                "2026-11-30T23:00:00Z",
                "2026-11-30T23:00:00Z",
                "Miete Dezember"
            ),
            line(
                12,
                "RE-118",
                25_000,
                "2026-11-30T23:00:00Z",
                "2026-11-30T23:00:00Z",
                "Rechnung 118"
            ),
        ]
    );
    let quarantined: Vec<(u64, &str, &str)> = outcome
        .quarantined
        .iter()
        .map(|q| (q.source.line, q.reason.as_str(), q.raw.as_str()))
        .collect();
    assert_eq!(
        quarantined,
        [(
            11,
            "bad number in `Soll`: `-99,5x` is not a decimal number",
            "01.12.2026;01.12.2026;Überweisung;Lieferant AG;Rechnung 77;RE-77;-99,5x;;EUR"
        )]
    );
    assert_eq!(outcome.rows_read, 5);
    // five preamble lines (the blank one is not a line with content) and the footer
    assert_eq!(outcome.skipped_lines, 6);
}

fn bank(extra: &str) -> MappedFormat {
    toml::from_str(&format!(
        r#"
name = "bank"
delimiter = ";"
decimal_separator = ","
datetime_format = "%d.%m.%Y"
default_kind = "other"
currency = "EUR"
{extra}
[columns]
record_id = "Ref"
created_at = "Datum"

[amounts]
style = "two_columns"
debit_column = "Soll"
credit_column = "Haben"
"#
    ))
    .expect("mapping deserializes")
}

fn read(format: MappedFormat, text: &[u8]) -> Result<ParseOutcome, ReportError> {
    parse_report(&mapped(format), "b.csv", text)
}

/// (line, record id, gross) of each record and (line, reason) of each quarantined line.
type Lines = (Vec<(u64, String, i64)>, Vec<(u64, String)>);

fn outcome_lines(outcome: &ParseOutcome) -> Lines {
    let records = outcome
        .records
        .iter()
        .map(|r| (r.source.line, r.record_id.to_string(), r.gross_minor))
        .collect();
    let quarantined = outcome
        .quarantined
        .iter()
        .map(|q| (q.source.line, q.reason.clone()))
        .collect();
    (records, quarantined)
}

#[test]
fn two_columns_with_magnitudes_skip_lines_and_footer() {
    let format =
        bank("skip_lines = 2\nthousands_separator = \" \"\nfooter_starts_with = [\"Total\"]");
    let text = "Account;DE89\nPeriod;December\nRef;Datum;Soll;Haben\n\
                    a;01.12.2026;;1 234,50\n\
                    b;01.12.2026;12,00;\n\
                    c;01.12.2026;-3,00;\n\
                    d;01.12.2026;5,00;5,00\n\
                    e;01.12.2026;0,00;7,00\n\
                    f;01.12.2026;;\n\
                    g;01.12.2026;;-1,00\n\
                    TOTAL;;17,00;1 246,50\n";
    let outcome = read(format, text.as_bytes()).expect("parses");
    let (records, quarantined) = outcome_lines(&outcome);
    assert_eq!(
        records,
        [
            (4, "a".into(), 123_450),
            (5, "b".into(), -1_200),
            (8, "e".into(), 700)
        ]
    );
    assert_eq!(
        quarantined,
        [
            (
                6,
                "bad number in `Soll`: `-3,00` should be written without a minus sign".into()
            ),
            (
                7,
                "both `Soll` and `Haben` are filled; a row is either a debit or a credit".into()
            ),
            (9, "missing value in `Soll` and `Haben`".into()),
            (
                10,
                "bad number in `Haben`: `-1,00` should be written without a minus sign".into()
            ),
        ]
    );
    assert_eq!((outcome.rows_read, outcome.skipped_lines), (7, 3));
}

#[test]
fn debits_written_negative_and_no_grouping() {
    let mut format = bank("thousands_separator = \"\"");
    if let AmountSigns::TwoColumns {
        debits_are_negative,
        ..
    } = &mut format.amounts
    {
        *debits_are_negative = true;
    }
    let text = "Ref;Datum;Soll;Haben
a;01.12.2026;-1500,00;
b;01.12.2026;1500,00;
c;01.12.2026;-1.500,00;
";
    let (records, quarantined) = outcome_lines(&read(format, text.as_bytes()).expect("parses"));
    assert_eq!(records, [(2, "a".into(), -150_000)]);
    assert_eq!(
        quarantined,
        [
            (
                3,
                "bad number in `Soll`: `1500,00` should be written with a minus sign".into()
            ),
            (
                4,
                "bad number in `Soll`: `-1.500,00` is not a decimal number".into()
            ),
        ]
    );
}

#[test]
fn header_found_behind_a_preamble_of_any_length() {
    let text = "Umsätze;;
;;
Ref;x;y
Ref;Datum;Soll;Haben
a;01.12.2026;;1,00
";
    let outcome = read(bank("find_header = true"), text.as_bytes()).expect("parses");
    assert_eq!(outcome_lines(&outcome).0, [(5, "a".into(), 100)]);
    assert_eq!(outcome.skipped_lines, 3);

    let err = read(
        bank("find_header = true"),
        b"Umsaetze
Ref;Datum
",
    )
    .expect_err("no header");
    assert_eq!(
        err.to_string(),
        "b.csv: no header line found: expected a line with the columns Ref, Datum, Soll, Haben within the first 100 lines"
    );
    let err = read(
        bank("skip_lines = 4"),
        b"a
b
c
",
    )
    .expect_err("too short");
    assert_eq!(
        err.to_string(),
        "b.csv: no header line found: expected at line 5, but the file ends before it"
    );
}

#[test]
fn legacy_encodings_are_decoded() {
    // "Gebühr" and "Müller" in ISO-8859-1 / Windows-1252 are single bytes
    let latin1 = b"Ref;Datum;Soll;Haben;Name\nm\xfc;01.12.2026;;2,00;M\xfcller\n";
    let outcome = read(bank("encoding = \"iso-8859-1\""), latin1).expect("parses");
    assert_eq!(outcome_lines(&outcome).0, [(2, "mü".into(), 200)]);
    // UTF-16 with its byte order mark, as some exports write it
    let text = "Ref;Datum;Soll;Haben
z;01.12.2026;;3,00
";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let outcome = read(bank("encoding = \"utf-16le\""), &utf16).expect("parses");
    assert_eq!(outcome_lines(&outcome).0, [(2, "z".into(), 300)]);
    // undecodable bytes fail the file rather than being replaced
    let broken: Vec<u8> = utf16.iter().copied().chain([0x00, 0xD8]).collect();
    let err = read(bank("encoding = \"utf-16le\""), &broken).expect_err("malformed");
    assert!(err.to_string().contains("not valid UTF-16LE text"), "{err}");
    // without the option, such a header is not taken for UTF-8
    let err = read(bank(""), b"R\xe9f;Datum;Soll;Haben\n").expect_err("not UTF-8");
    assert_eq!(
        err.to_string(),
        "b.csv: the header line is not UTF-8 text; is this a CSV file?"
    );
}

/// A UTF-16 file with its BOM is read without `encoding` set (a BOM wins), and a UTF-8 BOM
/// is dropped from the first header name.
#[test]
fn a_byte_order_mark_wins_over_the_default_encoding() {
    let text = "Ref;Datum;Soll;Haben\r\nü1;01.12.2026;;3,00\r\n";
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    let utf8 = format!("\u{feff}{text}");
    for bytes in [&le, &be, &utf8.as_bytes().to_vec()] {
        let outcome = read(bank(""), bytes).expect("parses");
        assert_eq!(
            outcome_lines(&outcome),
            (vec![(2, "ü1".into(), 300)], vec![])
        );
    }
}

/// A mapping may let a record span lines (a description with line breaks); a quote still open
/// after them breaks only the line it opened on.
#[test]
fn max_record_lines_bounds_a_quoted_field() {
    let text = "Ref;Datum;Soll;Haben;Text\n\
        a;01.12.2026;;1,00;\"two\nlines\"\n\
        b;01.12.2026;;2,00;\"never closes\n\
        c;01.12.2026;;3,00;x\n\
        d;01.12.2026;;4,00;y\n";
    let unclosed =
        "unclosed quote: a quoted field does not close within 2 lines (`max_record_lines` = 2)";
    let outcome = read(bank("max_record_lines = 2"), text.as_bytes()).expect("parses");
    assert_eq!(
        outcome_lines(&outcome),
        (
            vec![
                (2, "a".into(), 100),
                (5, "c".into(), 300),
                (6, "d".into(), 400)
            ],
            vec![(4, unclosed.into())]
        )
    );
    assert_eq!(outcome.rows_read, 4);
    assert_eq!(
        outcome.quarantined[0].raw,
        "b;01.12.2026;;2,00;\"never closes"
    );
    let err = validate(&bank("max_record_lines = 0")).expect_err("refused");
    assert_eq!(err, "`max_record_lines` must be at least 1");
}

#[test]
fn layout_options_are_validated() {
    let cases = [
        (
            "skip_lines = 2\nfind_header = true",
            "give either `skip_lines` or `find_header`, not both",
        ),
        (
            "encoding = \"klingon\"",
            "unknown `encoding` \"klingon\" (use a label such as \"utf-8\", \"windows-1252\" or \"iso-8859-1\")",
        ),
        (
            "thousands_separator = \",\"",
            "`thousands_separator`: the thousands separator must differ from the decimal separator ','",
        ),
        (
            "thousands_separator = \"_\"",
            "`thousands_separator`: the thousands separator must be one of [',', '.', ' ', '\\'', '\\u{a0}', '\\u{202f}'] or none, not '_'",
        ),
        (
            "thousands_separator = \"..\"",
            "`thousands_separator` must be one character or \"\", not \"..\"",
        ),
        (
            "footer_starts_with = [\" \"]",
            "`footer_starts_with` entries must not be blank",
        ),
    ];
    for (extra, reason) in cases {
        assert_eq!(validate(&bank(extra)), Err(reason.to_owned()), "{extra}");
    }
    let mut with_gross = bank("");
    with_gross.columns.gross = Some("Betrag".into());
    assert_eq!(
        validate(&with_gross),
        Err("with `amounts.style = \"two_columns\"` the gross amount is in the debit and credit columns: leave out `columns.gross` and `columns.net`".to_owned())
    );
}
