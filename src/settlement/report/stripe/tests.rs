//! The Stripe parser on itemized reports as Stripe writes them, with each run option.

use super::super::test_support::*;
use super::super::{Format, Quarantined, SourceLine};
use super::*;

fn rec(
    id: &str,
    kind: Kind,
    (gross, fee, net): (i64, i64, i64),
    currency: &str,
    created: &str,
    line: u64,
) -> SettlementRecord {
    SettlementRecord {
        record_id: id.into(),
        kind,
        gross_minor: gross,
        fee_minor: fee,
        net_minor: net,
        currency: cur(currency),
        created_at: utc(created),
        available_at: None,
        payout_id: None,
        reference: None,
        links: Default::default(),
        source: at("stripe.csv", line),
    }
}

const ACTIVITY: &str = "\
balance_transaction_id,created_utc,created,available_on_utc,currency,gross,fee,net,reporting_category,source_id,description,customer_facing_amount,customer_facing_currency
txn_1,2024-03-01 09:15:02,2024-03-01 10:15:02,2024-03-03 00:00:00,usd,25.00,1.03,23.97,charge,ch_1,\"Order 1001, 2 items\",25.00,usd
txn_2,2024-03-01 10:00:00,2024-03-01 11:00:00,2024-03-03 00:00:00,jpy,1500,75,1425,charge,ch_2,Tokyo order,1500,jpy
txn_3,2024-03-01 11:30:00,2024-03-01 12:30:00,2024-03-03 00:00:00,kwd,12.345,0.370,11.975,charge,ch_3,,12.345,kwd
txn_4,2024-03-01 12:00:00,2024-03-01 13:00:00,2024-03-01 12:00:00,usd,-10.00,0.00,-10.00,refund,re_1,\"Refund for \"\"Order 1001\"\"\",-10.00,usd
txn_5,2024-03-01 13:00:00,2024-03-01 14:00:00,2024-03-01 13:00:00,usd,-25.00,15.00,-40.00,dispute,dp_1,\"Dispute
spanning two lines\",,
txn_6,2024-03-02 08:00:00,2024-03-02 09:00:00,2024-03-02 08:00:00,usd,25.00,-15.00,40.00,dispute_reversal,dp_1,,,
txn_7,2024-03-02 09:00:00,2024-03-02 10:00:00,2024-03-02 09:00:00,usd,-0.50,0.00,-0.50,fee,,Radar fee,,
txn_8,2024-03-03 00:05:00,2024-03-03 01:05:00,2024-03-03 00:05:00,usd,-150.00,0.00,-150.00,payout,po_9,STRIPE PAYOUT,,
txn_9,2024-03-03 00:06:00,2024-03-03 01:06:00,,eur,1.00,0.00,1.00,climate_order_purchase,,,,

";

#[test]
fn activity_report() {
    // txn_5's description spans two lines
    let options = Options {
        max_record_lines: 2,
        ..Options::default()
    };
    let outcome = parse_both_ways(&Format::Stripe(options), "stripe.csv", ACTIVITY);
    let avail = |r: SettlementRecord, t: &str| SettlementRecord {
        available_at: Some(utc(t)),
        ..r
    };
    let refer = |r: SettlementRecord, s: &str| SettlementRecord {
        reference: Some(s.into()),
        ..r
    };
    let expected = vec![
        refer(
            avail(
                rec(
                    "txn_1",
                    Kind::Charge,
                    (2500, 103, 2397),
                    "USD",
                    "2024-03-01T09:15:02Z",
                    2,
                ),
                "2024-03-03T00:00:00Z",
            ),
            "ch_1",
        ),
        refer(
            avail(
                rec(
                    "txn_2",
                    Kind::Charge,
                    (1500, 75, 1425),
                    "JPY",
                    "2024-03-01T10:00:00Z",
                    3,
                ),
                "2024-03-03T00:00:00Z",
            ),
            "ch_2",
        ),
        refer(
            avail(
                rec(
                    "txn_3",
                    Kind::Charge,
                    (12345, 370, 11975),
                    "KWD",
                    "2024-03-01T11:30:00Z",
                    4,
                ),
                "2024-03-03T00:00:00Z",
            ),
            "ch_3",
        ),
        refer(
            avail(
                rec(
                    "txn_4",
                    Kind::Refund,
                    (-1000, 0, -1000),
                    "USD",
                    "2024-03-01T12:00:00Z",
                    5,
                ),
                "2024-03-01T12:00:00Z",
            ),
            "re_1",
        ),
        refer(
            avail(
                rec(
                    "txn_5",
                    Kind::Dispute,
                    (-2500, 1500, -4000),
                    "USD",
                    "2024-03-01T13:00:00Z",
                    6,
                ),
                "2024-03-01T13:00:00Z",
            ),
            "dp_1",
        ),
        // the quoted newline in txn_5 makes the next record start on line 8
        refer(
            avail(
                rec(
                    "txn_6",
                    Kind::DisputeReversal,
                    (2500, -1500, 4000),
                    "USD",
                    "2024-03-02T08:00:00Z",
                    8,
                ),
                "2024-03-02T08:00:00Z",
            ),
            "dp_1",
        ),
        avail(
            rec(
                "txn_7",
                Kind::Fee,
                (-50, 0, -50),
                "USD",
                "2024-03-02T09:00:00Z",
                9,
            ),
            "2024-03-02T09:00:00Z",
        ),
        SettlementRecord {
            payout_id: Some("po_9".into()),
            ..refer(
                avail(
                    rec(
                        "txn_8",
                        Kind::Payout,
                        (-15000, 0, -15000),
                        "USD",
                        "2024-03-03T00:05:00Z",
                        10,
                    ),
                    "2024-03-03T00:05:00Z",
                ),
                "po_9",
            )
        },
        rec(
            "txn_9",
            Kind::Other,
            (100, 0, 100),
            "EUR",
            "2024-03-03T00:06:00Z",
            11,
        ),
    ];
    assert_eq!(outcome.records, expected);
    assert!(outcome.quarantined.is_empty());
    assert_eq!(outcome.rows_read, 9);
}

#[test]
fn payout_reconciliation_with_bom_crlf_and_reordered_header() {
    let text = "\u{feff}\"Reporting_Category\",NET,automatic_payout_id , fee,gross,currency,created_utc,balance_transaction_id,automatic_payout_effective_at_utc\r\n\
            charge,97.10,po_1,2.90,100.00,USD,2024-03-04 15:00:00,txn_a,2024-03-06 00:00:00\r\n\
            refund,-20.00,po_1,0.00,-20.00,usd,2024-03-05 01:02:03,txn_b,2024-03-06 00:00:00\r\n\
            \r\n";
    let outcome = parse_both_ways(&Format::Stripe(Default::default()), "stripe.csv", text);
    let with_payout = |r: SettlementRecord| SettlementRecord {
        payout_id: Some("po_1".into()),
        links: crate::settlement::record::Links {
            payout_arrival: chrono::NaiveDate::from_ymd_opt(2024, 3, 6),
            ..Default::default()
        }
        .boxed(),
        ..r
    };
    assert_eq!(
        outcome.records,
        vec![
            with_payout(rec(
                "txn_a",
                Kind::Charge,
                (10000, 290, 9710),
                "USD",
                "2024-03-04T15:00:00Z",
                2
            )),
            with_payout(rec(
                "txn_b",
                Kind::Refund,
                (-2000, 0, -2000),
                "USD",
                "2024-03-05T01:02:03Z",
                3
            )),
        ]
    );
    assert_eq!(outcome.rows_read, 2);
    assert!(outcome.quarantined.is_empty());
}

#[test]
fn malformed_rows_are_quarantined_with_line_and_reason() {
    let text = "\
balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category
txn_ok,2024-03-01 00:00:00,usd,1.00,0.00,1.00,charge
,2024-03-01 00:00:00,usd,1.00,0.00,1.00,charge
txn_c,2024-03-01 00:00:00,usd,abc,0.00,1.00,charge
txn_d,2024-03-01 00:00:00,xyz,1.00,0.00,1.00,charge
txn_e,2024-03-01 00:00:00,usd,1.00,0.00
txn_f,03/01/2024,usd,1.00,0.00,1.00,charge
txn_g,2024-03-01 00:00:00,usd,10.505,0.00,10.51,charge
txn_h,2024-03-01 00:00:00,jpy,1.5,0,1.5,charge
txn_i,2024-03-01 00:00:00,usd,10.00,0.59,9.42,charge
txn_j,2024-03-01 00:00:00,usd,1e3,0.00,1000.00,charge
txn_k,2024-03-01 00:00:00,usd,1.00,0.00,1.00,
txn_l,2024-03-01 00:00:00,usd,\"1,000.00\",0.00,\"1,000.00\",charge,extra
txn_m,2024-03-01 00:00:00,usd,NaN,0.00,1.00,charge
txn_n,2024-03-01 00:00:00,usd,92233720368547758.08,0.00,1.00,charge
txn_o,2024-03-01 00:00:00,usd,\"1,000.00\",0.00,\"1,000.00\",charge
,,,,,,
";
    let outcome = parse_both_ways(&Format::Stripe(Default::default()), "stripe.csv", text);
    assert_eq!(
        outcome.records,
        vec![
            rec(
                "txn_ok",
                Kind::Charge,
                (100, 0, 100),
                "USD",
                "2024-03-01T00:00:00Z",
                2
            ),
            rec(
                "txn_o",
                Kind::Charge,
                (100_000, 0, 100_000),
                "USD",
                "2024-03-01T00:00:00Z",
                16
            ),
        ]
    );
    let reasons: Vec<(u64, &str)> = vec![
        (3, "missing value in `balance_transaction_id`"),
        (4, "bad number in `gross`: `abc` is not a decimal number"),
        (5, "unknown currency `xyz` in `currency`"),
        (6, "wrong field count: expected 7, found 5"),
        (
            7,
            "unparseable date in `created_utc`: `03/01/2024` (expected YYYY-MM-DD HH:MM:SS)",
        ),
        (
            8,
            "amount in `gross` does not fit USD: `10.505` has more decimal places than USD allows (2)",
        ),
        (
            9,
            "amount in `gross` does not fit JPY: `1.5` has more decimal places than JPY allows (0)",
        ),
        (
            10,
            "net ≠ gross − fee (gross 10.00, fee 0.59, net 9.42 USD)",
        ),
        (11, "bad number in `gross`: `1e3` is not a decimal number"),
        (12, "missing value in `reporting_category`"),
        (13, "wrong field count: expected 7, found 8"),
        (14, "bad number in `gross`: `NaN` is not a decimal number"),
        (
            15,
            "amount out of range in `gross`: `92233720368547758.08` does not fit in 64-bit minor units",
        ),
    ];
    let expected: Vec<(u64, String)> = reasons
        .into_iter()
        .map(|(line, reason)| (line, reason.to_owned()))
        .collect();
    assert_eq!(quarantine_list(&outcome), expected);
    assert_eq!(outcome.rows_read, 15);
    assert_eq!(
        outcome.quarantined[10],
        Quarantined {
            source: SourceLine {
                path: "stripe.csv".into(),
                line: 13
            },
            reason: "wrong field count: expected 7, found 8".into(),
            raw: "txn_l,2024-03-01 00:00:00,usd,\"1,000.00\",0.00,\"1,000.00\",charge,extra".into(),
        }
    );
}

#[test]
fn missing_columns_are_named() {
    let text = "balance_transaction_id,created,currency,amount,fee,net\n";
    let err = super::super::parse_report(
        &Format::Stripe(Default::default()),
        "s.csv",
        text.as_bytes(),
    )
    .expect_err("missing columns");
    assert_eq!(
        err.to_string(),
        "s.csv: required Stripe column(s) missing from the header: \
             gross, reporting_category; found: balance_transaction_id, created, \
             currency, amount, fee, net"
    );
    let text = "balance_transaction_id,currency,gross,fee,net,reporting_category\n";
    let err = super::super::parse_report(
        &Format::Stripe(Default::default()),
        "s.csv",
        text.as_bytes(),
    )
    .expect_err("no creation time");
    assert_eq!(
        err.to_string(),
        "s.csv: required Stripe column(s) missing from the header: created_utc; found: \
             balance_transaction_id, currency, gross, fee, net, reporting_category"
    );
}

#[test]
fn run_parameters_timezone_decimal_separator_and_payout_reconciliation() {
    let options = Options {
        timezone: "America/New_York".into(),
        decimal_separator: ',',
        report_type: Report::PayoutReconciliation,
        max_record_lines: 1,
    };
    let format = Format::Stripe(options);
    let text = "automatic_payout_id,balance_transaction_id,created,available_on,currency,gross,fee,net,reporting_category,source_id\n\
            po_1,txn_1,2024-07-01 20:00:00,2024-07-03,usd,\"1.234,50\",\"3,90\",\"1.230,60\",charge,ch_1\n\
            ,txn_2,2024-07-01 21:00:00,,usd,\"1,00\",\"0,00\",\"1,00\",charge,ch_2\n";
    let outcome = parse(&format, "stripe.csv", text);
    assert_eq!(
        outcome.records,
        vec![SettlementRecord {
            available_at: Some(utc("2024-07-03T04:00:00Z")),
            reference: Some("ch_1".into()),
            payout_id: Some("po_1".into()),
            ..rec(
                "txn_1",
                Kind::Charge,
                (123_450, 390, 123_060),
                "USD",
                "2024-07-02T00:00:00Z",
                2
            )
        }]
    );
    assert_eq!(
        quarantine_list(&outcome),
        [(3, "missing value in `automatic_payout_id`".to_owned())]
    );
}

#[test]
fn categories() {
    assert_eq!(kind_of("CHARGE"), Kind::Charge);
    assert_eq!(kind_of("refund_failure"), Kind::Refund);
    assert_eq!(kind_of("payout_reversal"), Kind::Payout);
    assert_eq!(kind_of("other_adjustment"), Kind::Adjustment);
    assert_eq!(kind_of("network_cost"), Kind::Fee);
    assert_eq!(kind_of("topup"), Kind::Other);
}
