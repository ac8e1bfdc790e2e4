use std::sync::Arc;

use chrono::NaiveDate;

use super::*;
use crate::bank::proof::prove;

fn fixture(name: &str) -> (String, Vec<u8>) {
    let path = format!(
        "{}/tests/fixtures/bank/mt940/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path).expect("fixture");
    (path, bytes)
}

fn parse(name: &str) -> (String, ParsedStatements) {
    let (path, bytes) = fixture(name);
    let parsed = parse_mt940(&path, bytes.as_slice()).expect("parses");
    (path, parsed)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn at(path: &str, line: u64) -> SourceLine {
    SourceLine {
        path: Arc::from(path),
        line,
    }
}

/// An entry with the fields every test sets; the rest as most entries have them.
fn entry(path: &str, line: u64, account: &str, amount_minor: i64, booked: NaiveDate) -> BankEntry {
    BankEntry {
        account: Arc::from(account),
        amount_minor,
        currency: eur(),
        direction: if amount_minor < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        reversal: false,
        status: EntryStatus::Booked,
        booking_date: booked,
        value_date: Some(booked),
        bank_ref: None,
        customer_ref: None,
        end_to_end_id: None,
        remittance: None,
        bank_tx_code: Some("NTRF".into()),
        source: at(path, line),
        pointer: None,
    }
}

#[test]
fn two_messages_with_fin_blocks_structured_86_and_a_reversal() {
    let (path, parsed) = parse("two_messages.sta");
    let account = "0123456789";
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(parsed.quarantined, vec![]);
    assert_eq!(parsed.entries_read, 4);
    assert!(parsed.accounts_for_every_entry());
    assert_eq!(parsed.statements.len(), 2);

    let first = &parsed.statements[0];
    let payout = BankEntry {
        booking_date: date(2027, 1, 2),
        value_date: Some(date(2026, 12, 31)),
        bank_ref: Some("2612310001234".into()),
        end_to_end_id: Some("PAYOUT-2026-12-31-0001".into()),
        remittance: Some("po_1QxYzAbCdEf Stripe Payout Dezember".into()),
        ..entry(&path, 6, account, 150_000, date(2027, 1, 2))
    };
    let fee = BankEntry {
        bank_ref: Some("2612310001235".into()),
        remittance: Some("Kontofuehrung Dezember 2026".into()),
        bank_tx_code: Some("NCHG".into()),
        ..entry(&path, 10, account, -25_010, date(2026, 12, 31))
    };
    let reversal = BankEntry {
        reversal: true,
        booking_date: date(2027, 1, 2),
        value_date: Some(date(2026, 12, 31)),
        bank_ref: Some("2612310001236".into()),
        end_to_end_id: Some("E2E-REF-99".into()),
        remittance: Some("Rueckbuchung Gutschrift vom 29.12.".into()),
        bank_tx_code: Some("NRTI".into()),
        ..entry(&path, 12, account, -10_000, date(2027, 1, 2))
    };
    assert_eq!(
        *first,
        Statement {
            format: "mt940",
            kind: StatementKind::EndOfDay,
            account: Arc::from(account),
            currency: eur(),
            statement_id: Some("STARTUMSE".into()),
            sequence: Some(251),
            page: Some(1),
            opening: Some(BalanceAt {
                amount_minor: 1_234_567,
                date: date(2026, 12, 30)
            }),
            closing: Some(BalanceAt {
                amount_minor: 1_349_557,
                date: date(2027, 1, 2)
            }),
            entries: vec![payout, fee, reversal],
            source: at(&path, 2),
        }
    );
    assert_eq!(prove(first), Ok(()));

    let second = &parsed.statements[1];
    let invoice = BankEntry {
        bank_ref: Some("2701020000077".into()),
        customer_ref: Some("INV-4711".into()),
        remittance: Some("LIEFERANT GMBH Payment invoice 4711 second line".into()),
        ..entry(&path, 22, account, 200_000, date(2027, 1, 2))
    };
    assert_eq!(second.entries, vec![invoice]);
    assert_eq!((second.sequence, second.page), (Some(252), Some(1)));
    assert_eq!(second.source, at(&path, 18));
    assert_eq!(
        (second.opening, second.closing),
        (
            Some(BalanceAt {
                amount_minor: 1_349_557,
                date: date(2027, 1, 2)
            }),
            Some(BalanceAt {
                amount_minor: 1_549_557,
                date: date(2027, 1, 2)
            })
        )
    );
    assert_eq!(prove(second), Ok(()));
}

#[test]
fn lf_and_crlf_read_the_same() {
    let (path, bytes) = fixture("two_messages.sta");
    let lf = String::from_utf8(bytes)
        .expect("ascii")
        .replace("\r\n", "\n");
    let from_lf = parse_mt940(&path, lf.as_bytes()).expect("parses");
    assert_eq!(from_lf, parse("two_messages.sta").1);
}

#[test]
fn mt942_interim_report_checks_its_sums() {
    let (path, parsed) = parse("interim.sta");
    let account = "NL91ABNA0417164300";
    assert_eq!(parsed.problems, vec![]);
    assert_eq!(parsed.entries_read, 2);
    assert!(parsed.accounts_for_every_entry());
    let [statement] = parsed.statements.as_slice() else {
        panic!("one statement: {parsed:?}");
    };
    assert_eq!(
        (
            statement.format,
            statement.kind,
            statement.statement_id.as_deref()
        ),
        ("mt942", StatementKind::Intraday, Some("MT942-0001"))
    );
    assert_eq!((statement.opening, statement.closing), (None, None));
    assert_eq!(
        statement.entries,
        vec![
            BankEntry {
                bank_ref: Some("B261231000001".into()),
                remittance: Some("/EREF/PO-8841/REMI/Adyen payout 8841".into()),
                ..entry(&path, 6, account, 125_000, date(2026, 12, 31))
            },
            BankEntry {
                bank_ref: Some("B261231000002".into()),
                customer_ref: Some("MANDATE-77".into()),
                remittance: Some("Direct debit insurance".into()),
                bank_tx_code: Some("NDDT".into()),
                ..entry(&path, 8, account, -4_999, date(2026, 12, 31))
            },
        ]
    );

    let (_, bytes) = fixture("interim.sta");
    let wrong = String::from_utf8(bytes)
        .expect("ascii")
        .replace(":90C:1EUR1250,00", ":90C:2EUR1300,00");
    let parsed = parse_mt940(&path, wrong.as_bytes()).expect("parses");
    assert_eq!(
        parsed.problems,
        vec![FileProblem {
            source: at(&path, 11),
            reason: ":90C: states 2 credit entries for 1300.00 EUR but the message holds 1 for 1250.00 EUR".into(),
        }]
    );
    assert_eq!(parsed.statements[0].entries.len(), 2);
}

#[test]
fn malformed_lines_are_quarantined_with_their_place() {
    let (path, parsed) = parse("malformed.sta");
    assert_eq!(parsed.entries_read, 5);
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
                5,
                ":61: amount `10` is not digits with one decimal comma (15 characters at most)",
                ":61:261231C10.00NTRFNONREF\n:86:dot instead of comma"
            ),
            (
                7,
                ":61: entry date `1332` is not a date MMDD",
                ":61:2612311332C5,00NTRFNONREF"
            ),
            (
                8,
                ":61: has no transaction type (S, N or F and three characters) after its amount",
                ":61:261231C5,00XTRFNONREF"
            ),
            (
                14,
                "the message has no :25: account identification (message at line 12)",
                ":61:261231C1,00NTRFNONREF"
            ),
        ]
    );
    let [statement] = parsed.statements.as_slice() else {
        panic!("one statement: {parsed:?}");
    };
    assert_eq!((statement.sequence, statement.page), (Some(7), Some(2)));
    assert_eq!(
        statement.entries,
        vec![BankEntry {
            bank_ref: Some("BANK-7".into()),
            ..entry(&path, 9, "DE89370400440532013000", 700, date(2026, 12, 31))
        }]
    );
    assert_eq!(prove(statement), Ok(()));
    assert_eq!(
        parsed.problems,
        vec![FileProblem {
            source: at(&path, 12),
            reason: "the message has no :25: account identification".into(),
        }]
    );
}

#[test]
fn a_broken_balance_is_a_finding_with_both_figures() {
    let (path, bytes) = fixture("two_messages.sta");
    let text = String::from_utf8(bytes)
        .expect("ascii")
        .replace(":62F:C270102EUR13495,57", ":62F:C270102EUR13495,75");
    let parsed = parse_mt940(&path, text.as_bytes()).expect("parses");
    let first = &parsed.statements[0];
    let broken = prove(first).expect_err("does not balance");
    assert_eq!(
        broken.describe(first),
        "opening 12345.67 + entries 1149.90 = 13495.57 but the statement closes at 13495.75 EUR (gap 0.18)"
    );
}

#[test]
fn whole_file_errors() {
    assert_eq!(
        parse_mt940("e.sta", &b"\r\n\n"[..]),
        Err(BankFileError::Empty {
            path: "e.sta".into()
        })
    );
    assert_eq!(
        parse_mt940("x.csv", &b"id,amount\n1,2\n"[..]),
        Err(BankFileError::NotThisFormat {
            path: "x.csv".into(),
            expected: "MT940/MT942".into(),
            why: "no SWIFT field (`:20:`, `:61:`…) in it".into(),
        })
    );
}

#[test]
fn statement_line_fields() {
    let line = fields::statement_line(
        "2612310102RDD12,5S103REF-1//BR-1\nSUPP",
        Currency::parse("USD").expect("USD"),
    )
    .expect("reads");
    assert_eq!(
        line,
        StatementLine {
            value_date: date(2026, 12, 31),
            booking_date: date(2027, 1, 2),
            mark: Mark::ReversalOfDebit,
            magnitude_minor: 1250,
            type_code: "S103".into(),
            customer_ref: Some("REF-1".into()),
            bank_ref: Some("BR-1".into()),
            supplementary: Some("SUPP".into()),
        }
    );
    // a January value date booked on 31 December is booked the year before
    let back = fields::statement_line("2701011231C1,NTRFX", eur()).expect("reads");
    assert_eq!(back.booking_date, date(2026, 12, 31));
    assert_eq!(
        fields::statement_line("261231C1,001NTRFX", eur()),
        Err("amount `1,001` has more decimal places than EUR allows (2)".into())
    );
    assert_eq!(
        fields::statement_line("261231CD1,00NTRFX", eur()),
        Err("funds code `D` is not the third letter of the statement's currency EUR".into())
    );
}

#[test]
fn accounts_with_bank_codes_and_currency_suffixes() {
    assert_eq!(account("10070000/0123456789"), ("0123456789".into(), None));
    assert_eq!(
        account("NL91ABNA0417164300EUR"),
        ("NL91ABNA0417164300".into(), Some(eur()))
    );
    assert_eq!(
        account("NL91ABNA0417164300"),
        ("NL91ABNA0417164300".into(), None)
    );
    // not an IBAN without the letters: kept whole
    assert_eq!(account("ACCOUNTEUR"), ("ACCOUNTEUR".into(), None));
}

#[test]
fn a_field_of_many_sepa_identifiers_is_read_in_one_pass() {
    // Found reading the fuzz target's limits (issue 29): 13,000 `EREF+` in one `:86:` took the
    // old identifier search, a scan of the rest of the field for each identifier met, over the
    // fuzz target's 10 s; each identifier is now looked for once per byte.
    let text = format!(
        ":20:X\n:25:A\n:60F:C261201EUR1,\n:61:2612011201C1,NTRFX\n:86:000?20{}SVWZ+PAYOUT 42\n:62F:C261201EUR2,\n",
        "EREF+".repeat(13_000)
    );
    let parsed = parse_mt940("s.sta", text.as_bytes()).expect("parses");
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let entries = &parsed.statements[0].entries;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(
        (
            entry.end_to_end_id.as_deref(),
            entry.remittance.as_deref(),
            entry.amount_minor
        ),
        (None, Some("PAYOUT 42"), 100)
    );
    let keyed = fields::sepa_values(&"EREF+".repeat(13_000));
    assert_eq!(keyed.len(), 13_000);
    assert!(
        keyed
            .iter()
            .all(|(key, value)| *key == "EREF+" && value.is_empty())
    );
}
