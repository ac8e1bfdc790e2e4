//! The demo's payout bank accounts: the day's camt.053 statement of each currency's account, the report's payouts deposited on it with one planted problem of each kind the bank leg finds.
//!
//! Stripe pays each currency into its own account at one bank; the statement of the business
//! day holds, per account, the deposits of the report's payouts ([`ReportedPayout`]):
//!
//! - `po_demo_eur_instant` (the morning's instant payout): a SEPA credit whose EndToEndId is the
//!   payout id, traced by reference;
//! - `po_demo_gbp`: a Faster Payment of the payout's amount that does not name it, traced by
//!   amount and date;
//! - `po_demo_usd`: a wire naming it that arrives 15.00 USD short (the intermediary bank's
//!   charge): `payout_amount_mismatch`, classified `bank_fee` by config/demo.toml's rule;
//! - `po_demo_eur` (paid out at 20:00 on Friday): due by Monday 2026-11-23, the next business
//!   day, so not on Friday's statement: `payout_late`, in flight;
//! - `po_demo_jpy`: its payout line is dated Wednesday 2026-11-18 (see
//!   [`super::processor::reported_payouts`]): with `window_business_days = 1` its deposit was due
//!   by Thursday the 19th and none came, so Friday's run finds it `payout_missing_in_bank`;
//! - a customer's invoice payment credited to the EUR payout account: `deposit_unexplained`;
//! - the EUR account's monthly fees, a debit: not a deposit, counted and left alone.
//!
//! Every statement proves itself (previous closing balance + entries = closing balance).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};

use super::processor::{CHECK, ReportedPayout};
use super::{Planted, planted};
use crate::discrepancy::{BankKind, Kind};
use crate::error::{Error, Result};
use crate::money::{Currency, format_major};

/// Each currency's payout account (IBAN) and its balance at the end of the day before, in
/// minor units.
const ACCOUNTS: [(&str, &str, i64); 4] = [
    ("EUR", "DE89370400440532013000", 1_824_055),
    ("USD", "DE78370400440532013101", 531_000),
    ("GBP", "DE51370400440532013102", 207_540),
    ("JPY", "DE24370400440532013103", 120_000),
];

/// What the bank kept of the USD payout: an intermediary bank's charge, in cents.
const USD_WIRE_CHARGE: i64 = 1_500;

/// The invoice payment of a customer that landed on the EUR payout account: its number among
/// the day's bank references, and its amount in cents.
const STRAY_CREDIT_REF: u32 = 103;
const STRAY_CREDIT: i64 = 25_000;

/// The bank's reference of the day's `n`th entry.
fn bank_ref(date: NaiveDate, n: u32) -> String {
    format!("{}{n:08}", date.format("%Y%m%d"))
}

/// One booked entry of a statement.
struct Entry {
    credit: bool,
    amount_minor: i64,
    bank_ref: String,
    /// `PMNT/RCDT/ESCT`-style domain, family and sub-family codes.
    codes: (&'static str, &'static str, &'static str),
    end_to_end: Option<String>,
    party: &'static str,
    remittance: String,
}

impl Entry {
    fn signed(&self) -> i64 {
        if self.credit {
            self.amount_minor
        } else {
            -self.amount_minor
        }
    }
}

/// The bank leg's findings planted in the statement; keys as the demo compares them.
pub(crate) fn planted_problems(date: NaiveDate) -> Vec<Planted> {
    let b = |kind| Kind::Bank(kind);
    vec![
        planted(
            CHECK,
            b(BankKind::PayoutMissingInBank),
            "stripe/po_demo_jpy",
            &[],
        ),
        planted(
            CHECK,
            b(BankKind::PayoutAmountMismatch),
            "stripe/po_demo_usd",
            &["amount"],
        ),
        planted(CHECK, b(BankKind::PayoutLate), "stripe/po_demo_eur", &[]),
        planted(
            CHECK,
            b(BankKind::DepositUnexplained),
            &format!("{}/{}", ACCOUNTS[0].1, bank_ref(date, STRAY_CREDIT_REF)),
            &[],
        ),
    ]
}

/// Writes the camt.053 statement of `date` for the payout accounts into `dir` as
/// `camt053-{date}.xml`; returns its path.
pub(crate) fn write_statement(
    dir: &Path,
    date: NaiveDate,
    payouts: &[ReportedPayout],
) -> Result<PathBuf> {
    let amount_of = |id: &str| {
        payouts
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.amount_minor)
            .ok_or_else(|| Error::internal(format!("demo: no payout {id} in the report")))
    };
    let day = date.format("%Y%m%d");
    let bank_ref = |n: u32| bank_ref(date, n);
    let stripe = "Stripe Technology Europe Ltd";
    let eur = vec![
        Entry {
            credit: true,
            amount_minor: amount_of("po_demo_eur_instant")?,
            bank_ref: bank_ref(101),
            codes: ("PMNT", "RCDT", "ESCT"),
            end_to_end: Some("po_demo_eur_instant".to_owned()),
            party: stripe,
            remittance: "STRIPE PAYOUT po_demo_eur_instant".to_owned(),
        },
        Entry {
            credit: false,
            amount_minor: 1_250,
            bank_ref: bank_ref(102),
            codes: ("ACMT", "MDOP", "CHRG"),
            end_to_end: None,
            party: "Demo Bank",
            remittance: "ACCOUNT FEES NOVEMBER 2026".to_owned(),
        },
        Entry {
            credit: true,
            amount_minor: STRAY_CREDIT,
            bank_ref: bank_ref(STRAY_CREDIT_REF),
            codes: ("PMNT", "RCDT", "ESCT"),
            end_to_end: Some("INV-2026-118".to_owned()),
            party: "Nordlicht GmbH",
            remittance: "INVOICE 2026-118".to_owned(),
        },
    ];
    let usd = vec![Entry {
        credit: true,
        amount_minor: amount_of("po_demo_usd")? - USD_WIRE_CHARGE,
        bank_ref: bank_ref(201),
        codes: ("PMNT", "RCDT", "XBCT"),
        end_to_end: Some("po_demo_usd".to_owned()),
        party: stripe,
        remittance: "STRIPE PAYOUT po_demo_usd".to_owned(),
    }];
    let gbp = vec![Entry {
        credit: true,
        amount_minor: amount_of("po_demo_gbp")?,
        bank_ref: bank_ref(301),
        codes: ("PMNT", "RCDT", "DMCT"),
        end_to_end: None,
        party: "Stripe Payments UK Ltd",
        remittance: "STRIPE PAYMENTS UK".to_owned(),
    }];
    let entries_of = [eur, usd, gbp, Vec::new()];

    let created = format!("{}T05:00:00.0+01:00", date + Duration::days(1));
    let mut xml = String::new();
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\n  <BkToCstmrStmt>\n",
    );
    xml_lines(
        &mut xml,
        4,
        &[
            "<GrpHdr>".to_owned(),
            format!("  <MsgId>DEMO053-{day}</MsgId>"),
            format!("  <CreDtTm>{created}</CreDtTm>"),
            "  <MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn>".to_owned(),
            "</GrpHdr>".to_owned(),
        ],
    );
    for (&(code, iban, opening), entries) in ACCOUNTS.iter().zip(&entries_of) {
        let currency = Currency::parse(code).map_err(|e| Error::internal(e.to_string()))?;
        let closing = entries.iter().map(Entry::signed).sum::<i64>() + opening;
        let balance = |kind: &str, minor: i64, on: NaiveDate| {
            format!(
                "  <Bal><Tp><CdOrPrtry><Cd>{kind}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{code}\">{}</Amt><CdtDbtInd>{}</CdtDbtInd><Dt><Dt>{on}</Dt></Dt></Bal>",
                format_major(minor.abs(), currency),
                if minor < 0 { "DBIT" } else { "CRDT" },
            )
        };
        xml_lines(
            &mut xml,
            4,
            &[
                "<Stmt>".to_owned(),
                format!("  <Id>DEMO-{code}-{day}</Id>"),
                "  <ElctrncSeqNb>212</ElctrncSeqNb>".to_owned(),
                format!("  <CreDtTm>{created}</CreDtTm>"),
                format!(
                    "  <FrToDt><FrDtTm>{date}T00:00:00.0+01:00</FrDtTm><ToDtTm>{date}T23:59:59.9+01:00</ToDtTm></FrToDt>"
                ),
                format!(
                    "  <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{code}</Ccy><Ownr><Nm>Demo Payments GmbH</Nm></Ownr></Acct>"
                ),
                balance("PRCD", opening, date - Duration::days(1)),
                balance("CLBD", closing, date),
                format!(
                    "  <TxsSummry><TtlNtries><NbOfNtries>{}</NbOfNtries></TtlNtries></TxsSummry>",
                    entries.len()
                ),
            ],
        );
        for entry in entries {
            entry_lines(&mut xml, entry, code, currency, date);
        }
        xml_lines(&mut xml, 4, &["</Stmt>".to_owned()]);
    }
    xml.push_str("  </BkToCstmrStmt>\n</Document>\n");

    crate::private_fs::create_dir_all(dir)
        .map_err(|e| Error::bad_input(format!("cannot create {}: {e}", dir.display())))?;
    let path = dir.join(format!("camt053-{date}.xml"));
    crate::private_fs::write_file(&path, xml.as_bytes())
        .map_err(|e| Error::bad_input(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

fn xml_lines(xml: &mut String, indent: usize, lines: &[String]) {
    for line in lines {
        let _ = writeln!(xml, "{:indent$}{line}", "");
    }
}

fn entry_lines(xml: &mut String, entry: &Entry, code: &str, currency: Currency, date: NaiveDate) {
    let amount = format!(
        "<Amt Ccy=\"{code}\">{}</Amt>",
        format_major(entry.amount_minor, currency)
    );
    let (domain, family, sub) = entry.codes;
    let party = if entry.credit { "Dbtr" } else { "Cdtr" };
    xml_lines(
        xml,
        6,
        &[
            "<Ntry>".to_owned(),
            format!("  {amount}"),
            format!(
                "  <CdtDbtInd>{}</CdtDbtInd>",
                if entry.credit { "CRDT" } else { "DBIT" }
            ),
            "  <Sts>BOOK</Sts>".to_owned(),
            format!("  <BookgDt><Dt>{date}</Dt></BookgDt>"),
            format!("  <ValDt><Dt>{date}</Dt></ValDt>"),
            format!("  <AcctSvcrRef>{}</AcctSvcrRef>", entry.bank_ref),
            format!(
                "  <BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>"
            ),
            "  <NtryDtls>".to_owned(),
            "    <TxDtls>".to_owned(),
            format!(
                "      <Refs><EndToEndId>{}</EndToEndId></Refs>",
                entry.end_to_end.as_deref().unwrap_or("NOTPROVIDED")
            ),
            format!("      <AmtDtls><TxAmt>{amount}</TxAmt></AmtDtls>"),
            format!(
                "      <RltdPties><{party}><Nm>{}</Nm></{party}></RltdPties>",
                entry.party
            ),
            format!("      <RmtInf><Ustrd>{}</Ustrd></RmtInf>", entry.remittance),
            "    </TxDtls>".to_owned(),
            "  </NtryDtls>".to_owned(),
            "</Ntry>".to_owned(),
        ],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::camt::parse_camt;
    use crate::bank::proof::prove;
    use crate::bank::{BatchBookings, Direction};
    use crate::demo::{business_date, processor::reported_payouts};

    #[test]
    fn the_statement_reads_back_balanced_with_the_planted_deposits_and_the_same_every_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let date = business_date();
        let payouts = reported_payouts(date);
        let path = write_statement(dir.path(), date, &payouts).expect("written");
        let bytes = std::fs::read(&path).expect("read");
        let again = write_statement(&dir.path().join("again"), date, &payouts).expect("written");
        assert_eq!(std::fs::read(again).expect("read"), bytes);

        let parsed = parse_camt("demo.xml", bytes.as_slice(), BatchBookings::Split).expect("camt");
        assert!(parsed.quarantined.is_empty() && parsed.problems.is_empty());
        assert_eq!(parsed.entries_read, 5);
        let amount = |id: &str| {
            payouts
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.amount_minor)
                .expect("payout")
        };
        let mut seen = Vec::new();
        for statement in &parsed.statements {
            assert_eq!(prove(statement), Ok(()), "{}", statement.account);
            for e in &statement.entries {
                seen.push((
                    statement.account.to_string(),
                    e.currency.code().to_owned(),
                    e.direction == Direction::Credit,
                    e.amount_minor.abs(),
                    e.end_to_end_id.clone(),
                    e.bank_ref.clone().expect("bank ref"),
                ));
            }
        }
        let (eur, usd, gbp) = (ACCOUNTS[0].1, ACCOUNTS[1].1, ACCOUNTS[2].1);
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            seen,
            vec![
                (
                    eur.into(),
                    "EUR".into(),
                    true,
                    amount("po_demo_eur_instant"),
                    some("po_demo_eur_instant"),
                    "2026112000000101".into()
                ),
                (
                    eur.into(),
                    "EUR".into(),
                    false,
                    1_250,
                    None,
                    "2026112000000102".into()
                ),
                (
                    eur.into(),
                    "EUR".into(),
                    true,
                    25_000,
                    some("INV-2026-118"),
                    "2026112000000103".into()
                ),
                (
                    usd.into(),
                    "USD".into(),
                    true,
                    amount("po_demo_usd") - 1_500,
                    some("po_demo_usd"),
                    "2026112000000201".into()
                ),
                (
                    gbp.into(),
                    "GBP".into(),
                    true,
                    amount("po_demo_gbp"),
                    None,
                    "2026112000000301".into()
                ),
            ]
        );
        assert_eq!(
            parsed.statements.len(),
            4,
            "one statement per currency's account"
        );
    }
}
