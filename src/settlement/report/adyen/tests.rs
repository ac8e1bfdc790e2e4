//! The Adyen parser on settlement details reports as Adyen writes them.

use super::super::test_support::*;
use super::super::{Format, ReportError, parse_report};
use super::*;

struct Expect {
    id: &'static str,
    kind: Kind,
    gross: i64,
    fee: i64,
    net: i64,
    currency: &'static str,
    created: &'static str,
    batch: Option<&'static str>,
    reference: Option<&'static str>,
    line: u64,
}

fn rec(e: Expect) -> SettlementRecord {
    SettlementRecord {
        record_id: e.id.into(),
        kind: e.kind,
        gross_minor: e.gross,
        fee_minor: e.fee,
        net_minor: e.net,
        currency: cur(e.currency),
        created_at: utc(e.created),
        available_at: None,
        payout_id: e.batch.map(Into::into),
        reference: e.reference.map(Into::into),
        links: None,
        source: at("sdr.csv", e.line),
    }
}

const HEADER: &str = "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,Modification Merchant Reference,Batch Number";

#[test]
fn settlement_details_report() {
    let rows = "\
Acme,AcmeEU,8815000000000001,order-2001,visa,2024-03-01 10:15:00,CET,Settled,8825000000000011,EUR,,100.00,1,EUR,,98.53,0.12,1.00,0.05,0.30,visacredit,,42
Acme,AcmeEU,8815000000000001,order-2001,visa,2024-07-01 10:15:00,Europe/Amsterdam,Refunded,8825000000000012,EUR,40.00,,1,EUR,40.12,,0.12,,,,visacredit,,42
Acme,AcmeEU,8815000000000002,order-2002,mc,2024-07-01 11:00:00,CEST,Chargeback,8825000000000013,EUR,25.00,,1,EUR,25.00,,,,,,mccredit,,42
Acme,AcmeEU,8815000000000002,order-2002,mc,2024-07-02 11:00:00,CEST,ChargebackReversed,8825000000000014,EUR,,25.00,1,EUR,,25.00,,,,,mccredit,,42
Acme,AcmeJP,8815000000000003,order-2003,jcb,2024-03-01 18:00:00,Asia/Tokyo,Settled,8825000000000015,JPY,,1500,1,JPY,,1455,45,,,,jcb,,7
Acme,AcmeKW,8815000000000004,order-2004,visa,2024-03-01 12:00:00,UTC,Settled,8825000000000016,KWD,,12.345,1,KWD,,12.100,0.245,,,,visa,,3
Acme,AcmeEU,,,,2024-03-01 23:00:00,CET,Fee,Transaction Fees February,,,,,EUR,1.25,,,,,,,,42
Acme,AcmeEU,,,,2024-03-02 06:00:00,CET,MerchantPayout,PAYOUT-42,,,,,EUR,131.16,,,,,,,,42
Acme,AcmeEU,8815000000000005,order-2005,visa,2024-03-01 10:00:00,CET,Settled,8825000000000017,USD,,110.00,0.9,EUR,,97.00,2.00,,,,visa,,42
";
    let outcome = parse(
        &Format::Adyen(Default::default()),
        "sdr.csv",
        &format!("{HEADER}\n{rows}"),
    );
    let line = |id, kind, (gross, fee, net), currency, created, batch, line| {
        rec(Expect {
            id,
            kind,
            gross,
            fee,
            net,
            currency,
            created,
            batch: Some(batch),
            reference: None,
            line,
        })
    };
    let tied =
        |r: SettlementRecord, reference: &str, payment: Option<&str>, capture: Option<&str>| {
            SettlementRecord {
                reference: Some(reference.into()),
                links: Links {
                    payment: payment.map(Into::into),
                    capture: capture.map(Into::into),
                    ..Links::default()
                }
                .boxed(),
                ..r
            }
        };
    let capture = |r, reference, capture| tied(r, reference, None, Some(capture));
    let modifies = |r, reference, payment| tied(r, reference, Some(payment), None);
    let mut cross_currency = capture(
        line(
            "8815000000000005",
            Kind::Charge,
            (11000, 0, 11000),
            "USD",
            "2024-03-01T09:00:00Z",
            "42",
            10,
        ),
        "order-2005",
        "8825000000000017",
    );
    cross_currency.links = Links {
        settled_as: Some(SettledAs {
            currency: cur("EUR"),
            fee_minor: 200,
            net_minor: 9700,
        }),
        ..cross_currency.links().clone()
    }
    .boxed();
    assert_eq!(
        outcome.records,
        vec![
            capture(
                line(
                    "8815000000000001",
                    Kind::Charge,
                    (10000, 147, 9853),
                    "EUR",
                    "2024-03-01T09:15:00Z",
                    "42",
                    2
                ),
                "order-2001",
                "8825000000000011"
            ),
            // a modification is keyed by its own reference and tied to its payment
            modifies(
                line(
                    "8825000000000012",
                    Kind::Refund,
                    (-4000, 12, -4012),
                    "EUR",
                    "2024-07-01T08:15:00Z",
                    "42",
                    3
                ),
                "order-2001",
                "8815000000000001"
            ),
            modifies(
                line(
                    "8825000000000013",
                    Kind::Dispute,
                    (-2500, 0, -2500),
                    "EUR",
                    "2024-07-01T09:00:00Z",
                    "42",
                    4
                ),
                "order-2002",
                "8815000000000002"
            ),
            modifies(
                line(
                    "8825000000000014",
                    Kind::DisputeReversal,
                    (2500, 0, 2500),
                    "EUR",
                    "2024-07-02T09:00:00Z",
                    "42",
                    5
                ),
                "order-2002",
                "8815000000000002"
            ),
            capture(
                line(
                    "8815000000000003",
                    Kind::Charge,
                    (1500, 45, 1455),
                    "JPY",
                    "2024-03-01T09:00:00Z",
                    "7",
                    6
                ),
                "order-2003",
                "8825000000000015"
            ),
            capture(
                line(
                    "8815000000000004",
                    Kind::Charge,
                    (12345, 245, 12100),
                    "KWD",
                    "2024-03-01T12:00:00Z",
                    "3",
                    7
                ),
                "order-2004",
                "8825000000000016"
            ),
            // lines of the batch, not of a payment: a stable id of their own
            line(
                "AcmeEU/42/Fee/Transaction Fees February",
                Kind::Fee,
                (-125, 0, -125),
                "EUR",
                "2024-03-01T22:00:00Z",
                "42",
                8
            ),
            // the payout, with the reference Adyen sends to the bank
            SettlementRecord {
                links: Links {
                    payout_reference: Some("PAYOUT-42".into()),
                    ..Links::default()
                }
                .boxed(),
                ..line(
                    "AcmeEU/42/MerchantPayout/PAYOUT-42",
                    Kind::Payout,
                    (-13116, 0, -13116),
                    "EUR",
                    "2024-03-02T05:00:00Z",
                    "42",
                    9,
                )
            },
            // presented in USD, settled in EUR: matched in USD, the EUR settlement kept
            cross_currency,
        ]
    );
    assert!(outcome.quarantined.is_empty());
    assert_eq!(outcome.rows_read, 9);
}

#[test]
fn bom_crlf_reordered_and_quoted() {
    let text = "\u{feff}type,TIMEZONE,creation date,psp reference,merchant reference,net currency,net credit (nc),net debit (nc),gross currency,gross credit (gc),gross debit (gc),commission (nc),markup (nc),scheme fees (nc),interchange (nc)\r\n\
            Settled,CET,2024-01-15 08:00:00,8815000000000009,\"order \"\"A\"\", line 1\nline 2\",GBP,\"1,234.00\",,GBP,\"1,250.00\",,16.00,,,\r\n\
            Refunded,CET,2024-01-16 08:00:00,8815000000000009,x,GBP,,5.00,GBP,,5.00,,,,\r\n";
    let options = Options {
        max_record_lines: 2,
        ..Options::default()
    };
    let outcome = parse_both_ways(&Format::Adyen(options), "sdr.csv", text);
    let base = |id, kind, (gross, fee, net), created, reference, line| {
        rec(Expect {
            id,
            kind,
            gross,
            fee,
            net,
            currency: "GBP",
            created,
            batch: None,
            reference: Some(reference),
            line,
        })
    };
    assert_eq!(
        outcome.records,
        vec![
            base(
                "8815000000000009",
                Kind::Charge,
                (125_000, 1600, 123_400),
                "2024-01-15T07:00:00Z",
                "order \"A\", line 1\nline 2",
                2
            ),
            SettlementRecord {
                links: Links {
                    payment: Some("8815000000000009".into()),
                    ..Links::default()
                }
                .boxed(),
                // no modification reference in this file: the line's place stands in
                ..base(
                    "Refunded/line 4",
                    Kind::Refund,
                    (-500, 0, -500),
                    "2024-01-16T07:00:00Z",
                    "x",
                    4
                )
            },
        ]
    );
}

#[test]
fn malformed_rows() {
    let rows = "\
Acme,AcmeEU,p1,o1,visa,2024-03-01 10:00:00,CET,Settled,m1,EUR,,10.00,1,EUR,,9.80,0.20,,,,visa,,1
Acme,AcmeEU,p2,o2,visa,2024-03-01 10:00:00,CET,Settled,m2,EUR,,10.00,1,EUR,,9.90,0.20,,,,visa,,1
Acme,AcmeEU,p3,o3,visa,2024-03-01 10:00:00,Mars,Settled,m3,EUR,,10.00,1,EUR,,9.80,0.20,,,,visa,,1
Acme,AcmeEU,p4,o4,visa,01-03-2024 10:00,CET,Settled,m4,EUR,,10.00,1,EUR,,9.80,0.20,,,,visa,,1
Acme,AcmeEU,p5,o5,visa,2024-03-01 10:00:00,CET,Settled,m5,EUR,1.00,10.00,1,EUR,,9.80,0.20,,,,visa,,1
Acme,AcmeEU,p6,o6,visa,2024-03-01 10:00:00,CET,Settled,m6,EUR,,10.00,1,EUR,,,0.20,,,,visa,,1
Acme,AcmeEU,,,visa,2024-03-01 10:00:00,CET,Settled,,EUR,,10.00,1,EUR,,9.80,0.20,,,,visa,,1
Acme,AcmeKW,p8,o8,visa,2024-03-01 10:00:00,CET,Settled,m8,KWD,,10.0001,1,KWD,,9.80,0.20,,,,visa,,1
Acme,AcmeEU,p9,o9,visa,2024-03-01 10:00:00,CET,Settled,m9,EUR,,10.00,1,EUX,,9.80,0.20,,,,visa,,1
Acme,AcmeEU,p10,o10,visa,2024-03-01 10:00:00,CET,Settled,m10,EUR,,10.00,1,EUR,,9.80,0.2O,,,,visa,,1
Acme,AcmeEU,p11,o11,visa,2024-03-01 10:00:00,CET,Settled,m11,,,10.00,1,EUR,,9.80,0.20,,,,visa,,1
Acme,AcmeEU,p12,o12,visa,2024-03-31 02:30:00,Europe/Amsterdam,Settled,m12,EUR,,10.00,1,EUR,,9.80,0.20,,,,visa,,1
Acme,AcmeEU,p13,o13,visa,2024-03-01 10:00:00,CET,Settled
";
    let outcome = parse(
        &Format::Adyen(Default::default()),
        "sdr.csv",
        &format!("{HEADER}\n{rows}"),
    );
    assert_eq!(
        outcome.records,
        vec![rec(Expect {
            id: "p1",
            kind: Kind::Charge,
            gross: 1000,
            fee: 20,
            net: 980,
            currency: "EUR",
            created: "2024-03-01T09:00:00Z",
            batch: Some("1"),
            reference: Some("o1"),
            line: 2,
        })]
        .into_iter()
        .map(|r| SettlementRecord {
            links: Links {
                capture: Some("m1".into()),
                ..Links::default()
            }
            .boxed(),
            ..r
        })
        .collect::<Vec<_>>()
    );
    let expected: Vec<(u64, String)> = [
        (3, "net ≠ gross − fee (gross 10.00, fee 0.20, net 9.90 EUR)"),
        (4, "unknown time zone `Mars` in `TimeZone`"),
        (
            5,
            "unparseable date in `Creation Date`: `01-03-2024 10:00` (expected YYYY-MM-DD HH:MM:SS)",
        ),
        (
            6,
            "both `Gross Debit (GC)` and `Gross Credit (GC)` are filled; expected one",
        ),
        (7, "missing value in `Net Debit (NC)` and `Net Credit (NC)`"),
        (8, "missing value in `Psp Reference`"),
        (
            9,
            "amount in `Gross Credit (GC)` does not fit KWD: `10.0001` has more decimal places than KWD allows (3)",
        ),
        (10, "unknown currency `EUX` in `Net Currency`"),
        (11, "bad number in `Commission (NC)`: `0.2O` is not a decimal number"),
        (12, "missing value in `Gross Currency`"),
        (
            13,
            "unparseable date in `Creation Date`: `2024-03-31 02:30:00` (2024-03-31 02:30:00 does not exist in Europe/Amsterdam (skipped by a clock change))",
        ),
        (14, "wrong field count: expected 23, found 8"),
    ]
    .into_iter()
    .map(|(line, reason)| (line, reason.to_owned()))
    .collect();
    assert_eq!(quarantine_list(&outcome), expected);
    assert_eq!(outcome.rows_read, 13);
}

#[test]
fn required_columns_named() {
    let text = "Psp Reference,Creation Date,Type,Gross Currency,Gross Credit (GC),Net Currency,Net Credit (NC)\n";
    let err = parse_report(
        &Format::Adyen(Default::default()),
        "sdr.csv",
        text.as_bytes(),
    )
    .expect_err("missing columns");
    match err {
        ReportError::MissingColumns { missing, .. } => assert_eq!(
            missing,
            [
                "TimeZone",
                "Gross Debit (GC)",
                "Net Debit (NC)",
                "Commission (NC)",
                "Markup (NC)",
                "Scheme Fees (NC)",
                "Interchange (NC)"
            ]
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn batch_from_the_file_name() {
    assert_eq!(
        batch_in_file_name("/r/2026-11-20/settlement_detail_report_batch_42.csv"),
        Some("42")
    );
    assert_eq!(
        batch_in_file_name("Settlement_Detail_Report_Batch_7_2026_11_20.csv"),
        Some("7")
    );
    assert_eq!(
        batch_in_file_name("settlement_detail_report_batch_.csv"),
        None
    );
    assert_eq!(batch_in_file_name("sdr.csv"), None);
    let text = "Psp Reference,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC)\n\
            ,2026-11-20 23:00:00,CET,Fee,Transaction Fees November 2026,,,,EUR,1.25,,,,,\n";
    let outcome = parse(
        &Format::Adyen(Default::default()),
        "in/settlement_detail_report_batch_9.csv",
        text,
    );
    assert_eq!(outcome.records.len(), 1);
    assert_eq!(
        outcome.records[0].record_id,
        "9/Fee/Transaction Fees November 2026"
    );
    assert_eq!(outcome.records[0].payout_id.as_deref(), Some("9"));
}

#[test]
fn journal_types() {
    assert_eq!(kind_of("SecondChargeback"), Kind::Dispute);
    assert_eq!(kind_of("InvoiceDeduction"), Kind::Fee);
    assert_eq!(kind_of("Balancetransfer"), Kind::Adjustment);
    assert_eq!(kind_of("SomethingNew"), Kind::Other);
}

#[test]
fn ledger_designs_key_captures_by_their_reference_and_the_fee_by_its_label() {
    let rows = "\
Acme,AcmeEU,8815000000000001,order-1,visa,2026-11-20 10:15:00,CET,Settled,8825000000000011,EUR,,60.00,1,EUR,,59.00,1.00,,,,visa,,9
Acme,AcmeEU,8815000000000001,order-1,visa,2026-11-20 10:16:00,CET,Settled,8825000000000012,EUR,,40.00,1,EUR,,39.50,0.50,,,,visa,,9
Acme,AcmeEU,8815000000000002,order-2,visa,2026-11-20 11:00:00,CET,Settled,,EUR,,10.00,1,EUR,,9.90,0.10,,,,visa,,9
Acme,AcmeEU,,,,2026-11-20 23:00:00,CET,Fee,Transaction Fees November 2026,,,,,EUR,1.25,,,,,,,,9
Acme,AcmeEU,,,,2026-11-20 23:00:00,CET,Fee,,,,,,EUR,0.25,,,,,,,,9
Acme,AcmeEU,,,,2026-11-21 06:00:00,CET,MerchantPayout,PAYOUT-9,,,,,EUR,106.65,,,,,,,,9
";
    let text = format!("{HEADER}\n{rows}");
    let ids_and_links = |options: Options| -> Vec<(String, Option<String>)> {
        parse(&Format::Adyen(options), "sdr.csv", &text)
            .records
            .iter()
            .map(|r| {
                (
                    r.record_id.to_string(),
                    r.links().capture.as_ref().map(|c| c.to_string()),
                )
            })
            .collect()
    };
    let owned = |ids: [(&str, Option<&str>); 6]| -> Vec<(String, Option<String>)> {
        ids.iter()
            .map(|(id, capture)| (id.to_string(), capture.map(str::to_string)))
            .collect()
    };
    assert_eq!(
        ids_and_links(Options::default()),
        owned([
            ("8815000000000001", Some("8825000000000011")),
            ("8815000000000001", Some("8825000000000012")),
            ("8815000000000002", None),
            ("AcmeEU/9/Fee/Transaction Fees November 2026", None),
            ("AcmeEU/9/Fee/line 6", None),
            ("AcmeEU/9/MerchantPayout/PAYOUT-9", None),
        ])
    );
    assert_eq!(
        ids_and_links(Options {
            capture_key: CaptureKey::CaptureReference,
            fee_key: FeeKey::Label,
            max_record_lines: 1,
        }),
        owned([
            ("8825000000000011", None),
            ("8825000000000012", None),
            ("8815000000000002", None),
            ("Transaction Fees November 2026", None),
            ("AcmeEU/9/Fee/line 6", None),
            ("AcmeEU/9/MerchantPayout/PAYOUT-9", None),
        ])
    );
}
