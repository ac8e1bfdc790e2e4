use std::sync::Arc;

use super::*;
use crate::bank::proof::prove;
use crate::money::format_major_wide;

fn fixture(name: &str) -> (String, String) {
    let path = format!(
        "{}/tests/fixtures/bank/bai2/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    (path, text)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn at(path: &str, line: u64) -> SourceLine {
    SourceLine {
        path: Arc::from(path),
        line,
    }
}

fn detail(path: &str, line: u64, account: &str, code: &str, amount_minor: i64) -> BankEntry {
    BankEntry {
        account: Arc::from(account),
        amount_minor,
        currency: Currency::parse("USD").expect("USD"),
        direction: if amount_minor < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        reversal: false,
        status: EntryStatus::Booked,
        booking_date: date(2026, 12, 30),
        value_date: None,
        bank_ref: None,
        customer_ref: None,
        end_to_end_id: None,
        remittance: None,
        bank_tx_code: Some(code.into()),
        source: at(path, line),
        pointer: None,
    }
}

#[test]
fn prior_day_file_with_continuations_funds_types_and_implied_decimals() {
    let (path, text) = fixture("prior_day.bai");
    let parsed = parse_bai2(&path, text.as_bytes()).expect("parses");
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(parsed.quarantined, vec![]);
    assert_eq!(parsed.entries_read, 5);
    assert!(parsed.accounts_for_every_entry());
    let [usd, jpy] = parsed.statements.as_slice() else {
        panic!("two statements: {parsed:?}");
    };
    let account = "0975312468";
    assert_eq!(
        *usd,
        Statement {
            format: "bai2",
            kind: StatementKind::EndOfDay,
            account: Arc::from(account),
            currency: Currency::parse("USD").expect("USD"),
            statement_id: None,
            sequence: None,
            page: None,
            opening: Some(BalanceAt {
                amount_minor: 500_000,
                date: date(2026, 12, 30)
            }),
            closing: Some(BalanceAt {
                amount_minor: 1_171_000,
                date: date(2026, 12, 30)
            }),
            entries: vec![
                BankEntry {
                    bank_ref: Some("CR-20261230-1".into()),
                    customer_ref: Some("PO-STRIPE-1".into()),
                    remittance: Some(
                        "STRIPE TRANSFER ST-Q1W2E3 PAYOUT FOR 2026-12-29, BATCH 7".into()
                    ),
                    ..detail(&path, 4, account, "165", 750_000)
                },
                BankEntry {
                    bank_ref: Some("FW-88".into()),
                    remittance: Some("INCOMING WIRE".into()),
                    ..detail(&path, 6, account, "195", 250_000)
                },
                BankEntry {
                    value_date: Some(date(2026, 12, 31)),
                    bank_ref: Some("CHK-1001".into()),
                    customer_ref: Some("1001".into()),
                    remittance: Some("CHECK PAID".into()),
                    ..detail(&path, 7, account, "475", -4_000)
                },
                BankEntry {
                    bank_ref: Some("WT-900".into()),
                    remittance: Some("OUTGOING WIRE TO ACME SUPPLIES".into()),
                    ..detail(&path, 8, account, "495", -325_000)
                },
            ],
            source: at(&path, 3),
        }
    );
    assert_eq!(prove(usd), Ok(()));

    // JPY has no minor unit: 30000 is 30,000 yen
    let yen = Currency::parse("JPY").expect("JPY");
    assert_eq!((jpy.currency, jpy.source.line), (yen, 11));
    assert_eq!(
        (
            jpy.opening.map(|b| b.amount_minor),
            jpy.closing.map(|b| b.amount_minor)
        ),
        (Some(150_000), Some(120_000))
    );
    assert_eq!(
        jpy.entries,
        vec![BankEntry {
            currency: yen,
            bank_ref: Some("JP-1".into()),
            ..detail(&path, 13, "7778889990", "475", -30_000)
        }]
    );
    assert_eq!(prove(jpy), Ok(()));
    assert_eq!(
        format_major_wide(i128::from(jpy.entries[0].amount_minor), yen),
        "-30000"
    );
}

#[test]
fn control_totals_that_do_not_add_up_are_findings_with_both_figures() {
    let (path, text) = fixture("prior_day.bai");
    let wrong = text
        .replace("49,4329000,8/", "49,4329100,9/")
        .replace("98,4629000,2,14/", "98,4629000,3,14/")
        .replace("99,4629000,1,16/", "99,4629001,1,16/");
    let parsed = parse_bai2(&path, wrong.as_bytes()).expect("parses");
    assert_eq!(
        parsed.problems,
        vec![
            FileProblem {
                source: at(&path, 10),
                reason: "49 account trailer: control total 43291.00 USD but the amounts read add up to 43290.00 USD".into(),
            },
            FileProblem {
                source: at(&path, 10),
                reason: "49 account trailer: 9 records but 8 were read".into(),
            },
            FileProblem {
                source: at(&path, 15),
                reason: "98 group trailer: 3 accounts but 2 were read".into(),
            },
            FileProblem {
                source: at(&path, 16),
                reason: "99 file trailer: control total 4629001 but the amounts read add up to 4629000".into(),
            },
        ]
    );
    // the entries are still all there
    assert_eq!(parsed.entries_kept(), 5);
    assert!(parsed.accounts_for_every_entry());
}

#[test]
fn malformed_details_are_quarantined_with_their_line() {
    let (path, text) = fixture("malformed.bai");
    let parsed = parse_bai2(&path, text.as_bytes()).expect("parses");
    assert_eq!(parsed.entries_read, 6);
    assert!(parsed.accounts_for_every_entry());
    let quarantined: Vec<(u64, &str, &str)> = parsed
        .quarantined
        .iter()
        .map(|q| (q.source.line, q.reason.as_str(), q.raw.as_str()))
        .collect();
    assert_eq!(
        quarantined,
        vec![
            (
                4,
                "amount `12.50` is not an amount in minor units (digits only)",
                "16,165,12.50,0,B1,,DOT IN AMOUNT"
            ),
            (
                5,
                "funds type `X` is not 0, 1, 2, S, V, D or Z",
                "16,165,1000,X,B2,,BAD FUNDS TYPE"
            ),
            (
                6,
                "funds type V: value date `261332` is not a date YYMMDD",
                "16,165,500,V,261332,,B3,,BAD VALUE DATE"
            ),
            (
                7,
                "type code `999` is not a credit (100-399) or debit (400-699) transaction detail code",
                "16,999,500,0,B4,,NOT A DETAIL CODE"
            ),
            (
                11,
                "the detail's account cannot be used: its 03 account record at line 10 cannot be read: `XYZ` is not an ISO 4217 currency",
                "16,165,100,0,B6,,UNDER A BAD ACCOUNT"
            ),
        ]
    );
    assert_eq!(
        parsed.problems,
        vec![FileProblem {
            source: at(&path, 10),
            reason:
                "its 03 account record at line 10 cannot be read: `XYZ` is not an ISO 4217 currency"
                    .into(),
        }]
    );
    let [statement] = parsed.statements.as_slice() else {
        panic!("one statement: {parsed:?}");
    };
    assert_eq!(
        statement.entries,
        vec![BankEntry {
            bank_ref: Some("B5".into()),
            remittance: Some("GOOD".into()),
            ..detail(&path, 8, "111222333", "165", 500)
        }]
    );
    assert_eq!(prove(statement), Ok(()));
}

#[test]
fn a_file_cut_short_and_same_day_reports() {
    let (path, text) = fixture("prior_day.bai");
    let cut: String = text.lines().take(9).map(|l| format!("{l}\n")).collect();
    let parsed = parse_bai2(&path, cut.replace("USD,2/", "USD,4/").as_bytes()).expect("parses");
    assert_eq!(parsed.statements[0].kind, StatementKind::Intraday);
    assert_eq!(parsed.entries_kept(), 4);
    assert_eq!(
        parsed
            .problems
            .iter()
            .map(|p| (p.source.line, p.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (3, "the account has no 49 account trailer"),
            (2, "the group has no 98 group trailer"),
            (1, "the file has no 99 file trailer: it may be cut short"),
        ]
    );
}

#[test]
fn whole_file_errors() {
    assert_eq!(
        parse_bai2("e.bai", &b"\n\n"[..]),
        Err(BankFileError::Empty {
            path: "e.bai".into()
        })
    );
    assert_eq!(
        parse_bai2("x.sta", &b":20:STARTUMSE\n"[..]),
        Err(BankFileError::NotThisFormat {
            path: "x.sta".into(),
            expected: "BAI2".into(),
            why: "its first record has no record code".into(),
        })
    );
    assert_eq!(
        parse_bai2("v1.bai", &b"01,A,B,261231,0200,1,80,,1/\n"[..]),
        Err(BankFileError::NotThisFormat {
            path: "v1.bai".into(),
            expected: "BAI2".into(),
            why: "its file header names version `1`, not 2".into(),
        })
    );
}
