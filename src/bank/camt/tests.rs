//! The camt parser against files laid out as the ISO 20022 message definitions and the DK/SPS implementation guides show them.

use std::io::{BufReader, Cursor};

use chrono::NaiveDate;

use super::*;
use crate::bank::proof::{BalanceBreak, prove};
use crate::bank::{
    BalanceAt, BankEntry, BatchBookings, BatchPolicy, Direction, EntryStatus, StatementKind,
};
use crate::money::Currency;

const IBAN: &str = "DE89370400440532013000";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/bank/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn parse_fixture(name: &str, batch: impl Into<BatchPolicy>) -> ParsedStatements {
    let path = fixture(name);
    let file = std::fs::File::open(&path).expect("fixture");
    parse_camt(name, BufReader::new(file), batch).expect("parses")
}

fn parse_text(text: &str) -> Result<ParsedStatements, BankFileError> {
    parse_camt("t.xml", Cursor::new(text.as_bytes()), BatchBookings::Split)
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

/// A booked EUR entry on the fixtures' account; each test sets what differs.
fn entry(file: &str, line: u64, pointer: &str, amount_minor: i64) -> BankEntry {
    BankEntry {
        account: IBAN.into(),
        amount_minor,
        currency: eur(),
        direction: if amount_minor < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        reversal: false,
        status: EntryStatus::Booked,
        booking_date: day(1),
        value_date: Some(day(1)),
        bank_ref: None,
        customer_ref: None,
        end_to_end_id: None,
        remittance: None,
        bank_tx_code: None,
        source: SourceLine {
            path: file.into(),
            line,
        },
        pointer: Some(pointer.to_owned()),
    }
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

const V02: &str = "camt053-v02-2026-12-01.xml";

fn v02_single_entries() -> (BankEntry, BankEntry, BankEntry) {
    let payout = BankEntry {
        bank_ref: some("2026120100012345"),
        end_to_end_id: some("po_1QxStripePayout01"),
        remittance: some(
            "STRIPE PAYOUT po_1QxStripePayout01 EXAMPLE PAYMENTS SEPA Credit Transfer",
        ),
        bank_tx_code: some("PMNT/RCDT/ESCT"),
        ..entry(V02, 64, "Stmt[1]/Ntry[1]", 125_050)
    };
    let fees = BankEntry {
        bank_ref: some("2026120100012346"),
        remittance: some("ACCOUNT FEES NOVEMBER 2026"),
        bank_tx_code: some("NMSC+808+00900"),
        ..entry(V02, 112, "Stmt[1]/Ntry[2]", -30_000)
    };
    let reversal = BankEntry {
        reversal: true,
        value_date: Some(NaiveDate::from_ymd_opt(2026, 11, 28).expect("date")),
        bank_ref: some("2026120100012348"),
        end_to_end_id: some("SDD-2026-11-0042"),
        remittance: some("RUECKLASTSCHRIFT MD06"),
        bank_tx_code: some("PMNT/RDDT/UPDD"),
        ..entry(V02, 223, "Stmt[1]/Ntry[4]", -15_025)
    };
    (payout, fees, reversal)
}

#[test]
fn camt053_v02_with_a_batch_booking_split_and_a_reversal() {
    let parsed = parse_fixture(V02, BatchBookings::Split);
    let (payout, fees, reversal) = v02_single_entries();
    let batch = |line, index, amount, e2e: &str, remittance: &str| BankEntry {
        bank_ref: Some(format!("2026120100012347-{index}")),
        end_to_end_id: some(e2e),
        remittance: some(remittance),
        bank_tx_code: some("PMNT/RCDT/BOOK"),
        ..entry(
            V02,
            line,
            &format!("Stmt[1]/Ntry[3]/NtryDtls/TxDtls[{index}]"),
            amount,
        )
    };
    let expected = vec![
        payout,
        fees,
        batch(169, 1, 25_000, "INV-2026-0001", "RF18539007547034"),
        batch(192, 2, 40_000, "INV-2026-0002", "INVOICE 2026-0002"),
        batch(206, 3, 25_000, "INV-2026-0003", "INVOICE 2026-0003"),
        reversal,
    ];
    assert_eq!(parsed.statements.len(), 1);
    let statement = &parsed.statements[0];
    assert_eq!(statement.entries, expected);
    assert_eq!(
        (
            statement.format,
            statement.kind,
            &*statement.account,
            statement.currency,
            statement.statement_id.as_deref(),
            statement.sequence,
            statement.page,
        ),
        (
            "camt.053.001.02",
            StatementKind::EndOfDay,
            IBAN,
            eur(),
            Some("053D2026120106000001-1"),
            Some(236),
            Some(236),
        )
    );
    assert_eq!(
        statement.opening,
        Some(BalanceAt {
            amount_minor: 1_000_000,
            date: NaiveDate::from_ymd_opt(2026, 11, 30).expect("date"),
        })
    );
    assert_eq!(
        statement.closing,
        Some(BalanceAt {
            amount_minor: 1_170_025,
            date: day(1),
        })
    );
    assert_eq!(statement.source.line, 12);
    assert_eq!(prove(statement), Ok(()));
    assert_eq!(parsed.entries_read, 6);
    assert!(parsed.quarantined.is_empty());
    assert!(parsed.problems.is_empty());
    assert!(parsed.accounts_for_every_entry());
}

#[test]
fn camt053_v02_batch_booking_kept_whole() {
    let parsed = parse_fixture(V02, BatchBookings::Keep);
    let (payout, fees, reversal) = v02_single_entries();
    let whole = BankEntry {
        bank_ref: some("2026120100012347"),
        remittance: some(
            "RF18539007547034 INVOICE 2026-0002 INVOICE 2026-0003 SAMMEL-GUTSCHRIFT 3 POSTEN",
        ),
        bank_tx_code: some("PMNT/RCDT/BOOK"),
        ..entry(V02, 145, "Stmt[1]/Ntry[3]", 90_000)
    };
    let statement = &parsed.statements[0];
    assert_eq!(statement.entries, vec![payout, fees, whole, reversal]);
    assert_eq!(prove(statement), Ok(()));
    assert_eq!(parsed.entries_read, 4);
    assert!(parsed.accounts_for_every_entry());
}

/// Batch bookings are kept or split per account: the account named keeps its way, the others
/// the default.
#[test]
fn batch_bookings_are_configured_per_account() {
    let policy = |account: &str, kept: BatchBookings| BatchPolicy {
        default: BatchBookings::Split,
        by_account: [(account.to_owned(), kept)].into(),
    };
    let kept = parse_fixture(V02, policy(IBAN, BatchBookings::Keep));
    assert_eq!(kept, parse_fixture(V02, BatchBookings::Keep));
    assert_eq!(kept.entries_read, 4);
    let other = parse_fixture(V02, policy("NL91ABNA0417164300", BatchBookings::Keep));
    assert_eq!(other, parse_fixture(V02, BatchBookings::Split));
    assert_eq!(other.entries_read, 6);
}

#[test]
fn camt052_v08_intraday_with_a_pending_entry() {
    let name = "camt052-v08-2026-12-02.xml";
    let parsed = parse_fixture(name, BatchBookings::Split);
    let statement = &parsed.statements[0];
    let booked = BankEntry {
        booking_date: day(2),
        value_date: Some(day(2)),
        bank_ref: some("2026120200020001"),
        end_to_end_id: some("po_1QyStripePayout02"),
        remittance: some("STRIPE PAYOUT po_1QyStripePayout02"),
        bank_tx_code: some("PMNT/RCDT/ESCT"),
        ..entry(name, 42, "Rpt[1]/Ntry[1]", 50_000)
    };
    let pending = BankEntry {
        status: EntryStatus::Pending,
        // no BookgDt: the value date stands in
        booking_date: day(3),
        value_date: Some(day(3)),
        end_to_end_id: some("ADYEN-PO-77"),
        remittance: some("ADYEN PAYOUT 77"),
        bank_tx_code: some("PMNT/RCDT/ESCT"),
        ..entry(name, 77, "Rpt[1]/Ntry[2]", 7_500)
    };
    assert_eq!(statement.entries, vec![booked, pending]);
    assert_eq!(
        (
            statement.format,
            statement.kind,
            statement.sequence,
            statement.page
        ),
        ("camt.052.001.08", StatementKind::Intraday, Some(3), None)
    );
    // ITBD closes an intraday report; the pending entry is not counted
    assert_eq!(
        (statement.opening, statement.closing),
        (
            Some(BalanceAt {
                amount_minor: 1_170_025,
                date: day(2)
            }),
            Some(BalanceAt {
                amount_minor: 1_220_025,
                date: day(2)
            })
        )
    );
    assert_eq!(prove(statement), Ok(()));
    assert_eq!(parsed.entries_read, 2);
    assert!(parsed.accounts_for_every_entry());
}

#[test]
fn camt053_v08_status_code_and_date_time() {
    let name = "camt053-v08-2026-12-02.xml";
    let parsed = parse_fixture(name, BatchBookings::Split);
    let statement = &parsed.statements[0];
    let on_2nd = |line, n, amount| BankEntry {
        booking_date: day(2),
        value_date: Some(day(2)),
        bank_tx_code: some("PMNT/RCDT/ESCT"),
        ..entry(name, line, &format!("Stmt[1]/Ntry[{n}]"), amount)
    };
    let expected = vec![
        BankEntry {
            bank_ref: some("2026120200020001"),
            end_to_end_id: some("po_1QyStripePayout02"),
            remittance: some("STRIPE PAYOUT po_1QyStripePayout02"),
            ..on_2nd(43, 1, 50_000)
        },
        BankEntry {
            bank_ref: some("2026120200020002"),
            end_to_end_id: some("SUPPLIER-2026-118"),
            remittance: some("HOSTING DECEMBER"),
            bank_tx_code: some("PMNT/ICDT/ESCT"),
            ..on_2nd(78, 2, -12_000)
        },
        BankEntry {
            value_date: Some(day(3)),
            bank_ref: some("2026120200020003"),
            end_to_end_id: some("ADYEN-PO-77"),
            remittance: some("ADYEN PAYOUT 77"),
            ..on_2nd(113, 3, 7_500)
        },
    ];
    assert_eq!(statement.entries, expected);
    assert_eq!(
        (statement.format, statement.sequence, statement.page),
        ("camt.053.001.08", Some(237), Some(237))
    );
    assert_eq!(
        statement.closing,
        Some(BalanceAt {
            amount_minor: 1_215_525,
            date: day(2)
        })
    );
    assert_eq!(prove(statement), Ok(()));
    assert_eq!(parsed.entries_read, 3);
    assert!(parsed.accounts_for_every_entry());
}

#[test]
fn malformed_entries_are_quarantined_with_their_line_and_the_rest_used() {
    let name = "camt053-v02-malformed.xml";
    let parsed = parse_fixture(name, BatchBookings::Split);
    let statement = &parsed.statements[0];
    assert_eq!(&*statement.account, "0532013000");
    assert_eq!(
        statement.entries,
        vec![BankEntry {
            account: "0532013000".into(),
            booking_date: day(3),
            value_date: None,
            bank_ref: some("2026120300030001"),
            ..entry(name, 31, "Stmt[1]/Ntry[1]", 12_000)
        }]
    );
    let found: Vec<(u64, &str)> = parsed
        .quarantined
        .iter()
        .map(|q| (q.source.line, q.reason.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            (
                38,
                "Stmt[1]/Ntry[2]: amount `12.345` has more decimals than EUR allows (2)"
            ),
            (
                44,
                "Stmt[1]/Ntry[3]: CdtDbtInd `CRED` is neither CRDT nor DBIT"
            ),
            (
                50,
                "Stmt[1]/Ntry[4]: date `2026-12-32` is not an ISODate (YYYY-MM-DD)"
            ),
        ]
    );
    assert_eq!(
        parsed.quarantined[1].raw,
        "<Ntry>\n        <Amt Ccy=\"EUR\">5.00</Amt>\n        <CdtDbtInd>CRED</CdtDbtInd>\n        \
         <Sts>BOOK</Sts>\n        <BookgDt><Dt>2026-12-03</Dt></BookgDt>\n      </Ntry>"
    );
    assert!(parsed.quarantined.iter().all(|q| &*q.source.path == name));
    assert_eq!(parsed.entries_read, 4);
    assert!(parsed.accounts_for_every_entry());
    // the quarantined entries are missing from the proof: the statement does not balance
    assert_eq!(
        prove(statement),
        Err(BalanceBreak {
            opening_minor: -10_000,
            entries_minor: 12_000,
            expected_closing_minor: 2_000,
            stated_closing_minor: 1_800,
        })
    );
}

/// A minimal statement around `entries` (camt.053.001.02 unless `ns` says otherwise).
fn statement_with(ns: &str, entries: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:{ns}\">\n\
         <BkToCstmrStmt><GrpHdr><MsgId>M</MsgId></GrpHdr>\n<Stmt><Id>S</Id>\n\
         <Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>\n{entries}\n</Stmt></BkToCstmrStmt></Document>\n"
    )
}

const BATCH_OF_TWO: &str = "<Ntry><Amt Ccy=\"EUR\">30.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>\
    <Sts>BOOK</Sts><BookgDt><Dt>2026-12-01</Dt></BookgDt><AcctSvcrRef>B</AcctSvcrRef>\
    <NtryDtls><Btch><NbOfTxs>2</NbOfTxs></Btch>\
    <TxDtls><Refs><EndToEndId>A</EndToEndId></Refs><Amt Ccy=\"EUR\">10.00</Amt></TxDtls>\
    <TxDtls><Refs><EndToEndId>B</EndToEndId></Refs><Amt Ccy=\"EUR\">AMOUNT</Amt></TxDtls>\
    </NtryDtls></Ntry>";

#[test]
fn a_batch_whose_details_do_not_add_up_is_kept_whole_with_a_problem() {
    let parsed = parse_text(&statement_with(
        "camt.053.001.04",
        &BATCH_OF_TWO.replace("AMOUNT", "15.00"),
    ))
    .expect("parses");
    let entries = &parsed.statements[0].entries;
    assert_eq!(
        entries
            .iter()
            .map(|e| (
                e.amount_minor,
                e.pointer.as_deref(),
                e.end_to_end_id.as_deref()
            ))
            .collect::<Vec<_>>(),
        vec![(3_000, Some("Stmt[1]/Ntry[1]"), None)]
    );
    assert_eq!(
        parsed.problems,
        vec![FileProblem {
            source: SourceLine {
                path: "t.xml".into(),
                line: 6
            },
            reason: "Stmt[1]/Ntry[1]: batch booking of 2 details kept whole: the details add up \
                     to 25.00, the booking is 30.00 EUR"
                .to_owned()
        }]
    );
    assert_eq!(parsed.entries_read, 1);
    assert!(parsed.accounts_for_every_entry());

    let split = parse_text(&statement_with(
        "camt.053.001.04",
        &BATCH_OF_TWO.replace("AMOUNT", "20.00"),
    ))
    .expect("parses");
    assert_eq!(
        split.statements[0]
            .entries
            .iter()
            .map(|e| (
                e.amount_minor,
                e.bank_ref.as_deref(),
                e.end_to_end_id.as_deref()
            ))
            .collect::<Vec<_>>(),
        vec![(1_000, Some("B"), Some("A")), (2_000, Some("B"), Some("B"))]
    );
    assert!(split.problems.is_empty());
    assert_eq!(split.entries_read, 2);
}

#[test]
fn a_notification_takes_its_currency_from_its_entries() {
    let text = "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.054.001.08\">\
        <BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>N</MsgId></GrpHdr><Ntfctn><Id>N1</Id>\
        <Acct><Id><Othr><Id>ACC-7</Id></Othr></Id></Acct>\
        <Ntry><Amt Ccy=\"JPY\">1500</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\
        <BookgDt><Dt>2026-12-01</Dt></BookgDt><BkTxCd><Prtry><Cd>CHRG</Cd></Prtry></BkTxCd>\
        </Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>";
    let parsed = parse_text(text).expect("parses");
    let statement = &parsed.statements[0];
    assert_eq!(
        (statement.format, statement.kind, statement.currency.code()),
        ("camt.054.001.08", StatementKind::Notification, "JPY")
    );
    let e = &statement.entries[0];
    assert_eq!(
        (
            &*e.account,
            e.amount_minor,
            e.direction,
            e.bank_tx_code.as_deref(),
            e.pointer.as_deref(),
            e.source.line
        ),
        (
            "ACC-7",
            -1500,
            Direction::Debit,
            Some("CHRG"),
            Some("Ntfctn[1]/Ntry[1]"),
            1
        )
    );
}

#[test]
fn text_with_entities_and_cdata() {
    let parsed = parse_text(&statement_with(
        "camt.053.001.02",
        "<Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\
         <BookgDt><Dt>2026-12-01</Dt></BookgDt><NtryDtls><TxDtls><RmtInf>\
         <Ustrd>A &amp; B &#233;t&#xE9; <![CDATA[<x>]]></Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>",
    ))
    .expect("parses");
    assert_eq!(
        parsed.statements[0].entries[0].remittance.as_deref(),
        Some("A & B été <x>")
    );
}

#[test]
fn files_that_are_not_camt_are_refused_whole() {
    let refused = |text: &str| parse_text(text).expect_err("refused").to_string();
    assert_eq!(refused(""), "t.xml: the file is empty");
    assert_eq!(refused("  \n"), "t.xml: the file is empty");
    assert_eq!(
        refused(":20:STATEMENT\n:25:123\n"),
        "t.xml: line 1: text outside any element: not XML"
    );
    assert_eq!(
        refused("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.001.001.03\"/>"),
        "t.xml: not a camt.052/053/054 file: line 1: no camt.052/053/054 namespace of versions \
         .001.02 to .001.08 (urn:iso:std:iso:20022:tech:xsd:camt.053.001.08…); found: \
         [urn:iso:std:iso:20022:tech:xsd:pain.001.001.03]"
    );
    assert_eq!(
        refused(
            "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\
             <BkToCstmrAcctRpt/></Document>"
        ),
        "t.xml: not a camt.052/053/054 file: line 1: the message element is BkToCstmrAcctRpt, \
         the namespace names BkToCstmrStmt"
    );
    assert_eq!(
        refused("<html><body/></html>"),
        "t.xml: not a camt.052/053/054 file: line 1: the root element is html, not Document"
    );
    let cut = statement_with("camt.053.001.02", "<Ntry><Amt Ccy=\"EUR\">1.00</Amt>");
    let cut = cut.split("</Stmt>").next().expect("cut");
    assert!(refused(cut).starts_with("t.xml: line "), "{}", refused(cut));
    assert_eq!(
        refused(&statement_with("camt.053.001.02", "<Ntry>&bogus;</Ntry>")),
        "t.xml: line 6: undeclared entity &bogus;"
    );
}

#[test]
fn lines_follow_the_bytes_quick_xml_consumed() {
    // a long file read through a small buffer: the Ntry lines still come out right
    let filler = "<AddtlStmtInf>x</AddtlStmtInf>\n".repeat(300);
    let entries = "<Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\
                   <BookgDt><Dt>2026-12-01</Dt></BookgDt></Ntry>\n"
        .repeat(3);
    let text = statement_with("camt.053.001.02", &format!("{filler}{entries}"));
    let parsed = parse_camt(
        "t.xml",
        BufReader::with_capacity(7, Cursor::new(text.as_bytes())),
        BatchBookings::Split,
    )
    .expect("parses");
    let lines: Vec<u64> = parsed.statements[0]
        .entries
        .iter()
        .map(|e| e.source.line)
        .collect();
    assert_eq!(lines, vec![306, 307, 308]);
}

#[test]
fn statement_level_problems_leave_the_entries_accounted() {
    let text = "\u{feff}<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.05\">\n\
        <BkToCstmrStmt>\n<Stmt><Id>S1</Id><ElctrncSeqNb>x7</ElctrncSeqNb>\n\
        <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>\n\
        <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">1.00</Amt>\
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-02-30</Dt></Dt></Bal>\n\
        <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"USD\">1.00</Amt>\
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-01</Dt></Dt></Bal>\n\
        </Stmt>\n\
        <Stmt><Id>S2</Id>\n\
        <Ntry><Amt Ccy=\"EUR\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\
        <BookgDt><Dt>2026-12-01</Dt></BookgDt></Ntry>\n\
        </Stmt></BkToCstmrStmt></Document>";
    let parsed = parse_text(text).expect("parses");
    let problems: Vec<(u64, &str)> = parsed
        .problems
        .iter()
        .map(|p| (p.source.line, p.reason.as_str()))
        .collect();
    assert_eq!(
        problems,
        vec![
            (
                5,
                "Stmt[1]/Bal: balance OPBD: date `2026-02-30` is not an ISODate (YYYY-MM-DD)"
            ),
            (3, "Stmt[1]: ElctrncSeqNb `x7` is not a number"),
            (
                3,
                "Stmt[1]: balance CLBD is in USD, the statement in EUR: not used"
            ),
            (
                8,
                "Stmt[2]: statement left out: it names no account (Acct/Id) or no currency \
                 (Acct/Ccy, a balance or an entry)"
            ),
        ]
    );
    let statement = &parsed.statements[0];
    assert_eq!(
        (
            statement.statement_id.as_deref(),
            statement.sequence,
            statement.opening,
            statement.closing
        ),
        (Some("S1"), None, None, None)
    );
    assert_eq!(parsed.statements.len(), 1);
    assert_eq!(
        parsed
            .quarantined
            .iter()
            .map(|q| (q.source.line, q.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![(
            9,
            "Stmt[2]/Ntry[1]: the statement names no account (Acct/Id) before this entry"
        )]
    );
    assert_eq!(parsed.entries_read, 1);
    assert!(parsed.accounts_for_every_entry());
}

/// A booked CRDT entry of 1.00 in `ccy` on 2026-12-01.
fn one_unit(ccy: &str) -> String {
    format!(
        "<Ntry><Amt Ccy=\"{ccy}\">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\
         <BookgDt><Dt>2026-12-01</Dt></BookgDt></Ntry>"
    )
}

/// A statement starting on line 2, its `Acct` (and what else `head` holds) on line 3, then one
/// line for each of `lines`.
fn statement_lines(head: &str, lines: &[String]) -> String {
    format!(
        "<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\n\
         <BkToCstmrStmt><Stmt><Id>S</Id>\n{head}\n{}\n</Stmt></BkToCstmrStmt></Document>\n",
        lines.join("\n")
    )
}

/// What [`one_unit`] becomes, read on `line` at `pointer`.
fn booked_unit(line: u64, pointer: &str) -> BankEntry {
    BankEntry {
        value_date: None,
        ..entry("t.xml", line, pointer, 100)
    }
}

fn quarantined_at(parsed: &ParsedStatements) -> Vec<(u64, &str)> {
    parsed
        .quarantined
        .iter()
        .map(|q| (q.source.line, q.reason.as_str()))
        .collect()
}

fn problems_at(parsed: &ParsedStatements) -> Vec<(u64, &str)> {
    parsed
        .problems
        .iter()
        .map(|p| (p.source.line, p.reason.as_str()))
        .collect()
}

#[test]
fn an_entry_in_another_currency_than_the_statement_is_quarantined() {
    // The camt fuzz target's invariant (issue 29): every entry kept is in its statement's
    // currency. A USD entry on an account whose Acct/Ccy is EUR was kept, off its statement.
    let acct = format!("<Acct><Id><IBAN>{IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>");
    let parsed =
        parse_text(&statement_lines(&acct, &[one_unit("USD"), one_unit("EUR")])).expect("parses");
    assert_eq!(
        quarantined_at(&parsed),
        vec![(4, "Stmt[1]/Ntry[1]: in USD, the statement in EUR")]
    );
    assert_eq!(parsed.quarantined[0].raw, one_unit("USD"));
    let statement = &parsed.statements[0];
    assert_eq!(statement.currency, eur());
    assert_eq!(statement.entries, vec![booked_unit(5, "Stmt[1]/Ntry[2]")]);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    assert_eq!(parsed.entries_read, 2);
    assert!(parsed.accounts_for_every_entry());

    // Without Acct/Ccy or a balance, the first entry kept fixes the currency.
    let acct = format!("<Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>");
    let parsed =
        parse_text(&statement_lines(&acct, &[one_unit("EUR"), one_unit("USD")])).expect("parses");
    assert_eq!(
        quarantined_at(&parsed),
        vec![(5, "Stmt[1]/Ntry[2]: in USD, the statement in EUR")]
    );
    assert_eq!(
        parsed.statements[0].entries,
        vec![booked_unit(4, "Stmt[1]/Ntry[1]")]
    );
    assert!(parsed.accounts_for_every_entry());

    // An Acct/Ccy after the entries (out of the schema's order) does not move the statement
    // off them.
    let parsed = parse_text(&statement_lines(
        &acct,
        &[one_unit("EUR"), "<Acct><Ccy>USD</Ccy></Acct>".to_owned()],
    ))
    .expect("parses");
    assert_eq!(parsed.statements[0].currency, eur());
    assert_eq!(parsed.statements[0].entries.len(), 1);
    assert_eq!(
        problems_at(&parsed),
        vec![(
            2,
            "Stmt[1]: Acct/Ccy USD comes after entries in EUR: not used"
        )]
    );
    assert!(parsed.accounts_for_every_entry());
}

#[test]
fn the_first_account_named_is_the_statements() {
    // The camt fuzz target's invariants (issue 29): a second Acct/Id after an entry moved the
    // statement off its entries' account, and an empty one left the statement out with its
    // entries neither kept nor quarantined.
    let acct = format!("<Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>");
    for (second, problems) in [
        (
            "<Acct><Id><IBAN>B</IBAN></Id></Acct>",
            vec![(
                2,
                "Stmt[1]: a second account B after DE89370400440532013000: ignored",
            )],
        ),
        ("<Acct><Id><IBAN></IBAN></Id></Acct>", vec![]),
        ("<Acct><Id><Othr><Id/></Othr></Id></Acct>", vec![]),
    ] {
        let parsed = parse_text(&statement_lines(
            &acct,
            &[one_unit("EUR"), second.to_owned()],
        ))
        .expect("parses");
        assert_eq!(problems_at(&parsed), problems, "{second}");
        assert_eq!(parsed.statements.len(), 1, "{second}");
        let statement = &parsed.statements[0];
        assert_eq!(&*statement.account, IBAN, "{second}");
        assert_eq!(
            statement.entries,
            vec![booked_unit(4, "Stmt[1]/Ntry[1]")],
            "{second}"
        );
        assert_eq!(parsed.entries_read, 1);
        assert!(parsed.quarantined.is_empty());
    }
}
