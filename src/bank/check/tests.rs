//! The bank leg over three days of one payout account: the camt.053 fixture of 2026-12-01 read
//! as the bank sends it, a payout carried as `payout_late`, found the next day, or missing once
//! its window passed (in the day it was paid out).

use std::io::BufReader;

use super::*;
use crate::bank::camt::parse_camt;
use crate::bank::testing::payout_line;
use crate::bank::{BatchBookings, parse_mt940};
use crate::discrepancy::Status;
use crate::run_id::RunId;
use crate::settlement::report::stripe;

const FIXTURE: &str = "tests/fixtures/bank/camt053-v02-2026-12-01.xml";
const IBAN: &str = "DE89370400440532013000";

fn dec(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
}

fn spec() -> BankSpec {
    BankSpec {
        statements: Statements::Files {
            location: ReportLocation::Files("bank/{date}.xml".to_owned()),
            format: StatementFormat::Camt,
            batch: BatchBookings::Split.into(),
        },
        accounts: vec![IBAN.to_owned()],
        rules: TraceRules::default(),
    }
}

fn stripe_format() -> Format {
    Format::Stripe(stripe::Options::default())
}

fn day_one() -> ParsedStatements {
    let file = std::fs::File::open(FIXTURE).expect("the fixture");
    parse_camt(FIXTURE, BufReader::new(file), BatchBookings::Split).expect("parsed")
}

/// An MT940 of the payout account for `day`, closing on `opening` + the credits of `credits`.
fn mt940(day: u32, opening: &str, credits: &[(&str, &str)], closing: &str) -> ParsedStatements {
    let mut text = format!(
        ":20:STMT{day}\n:25:{IBAN}\n:28C:{}/1\n:60F:C2612{:02}EUR{opening}\n",
        236 + day,
        day - 1
    );
    for (amount, reference) in credits {
        text.push_str(&format!(
            ":61:2612{day:02}C{amount}NTRFNONREF//{reference}\n:86:PAYOUT\n"
        ));
    }
    text.push_str(&format!(":62F:C2612{day:02}EUR{closing}\n-\n"));
    parse_mt940("day.sta", BufReader::new(text.as_bytes())).expect("parsed")
}

fn inputs<'a>(date: NaiveDate, format: &'a Format, in_flight: &'a [Recorded]) -> TraceInputs<'a> {
    TraceInputs {
        check: "payouts",
        date,
        format,
        in_flight,
        mask: None,
    }
}

/// (kind, key, partition) of each finding.
fn found(leg: &FurtherLeg) -> Vec<(String, String, String)> {
    leg.findings
        .iter()
        .map(|d| {
            (
                d.kind.as_str().to_owned(),
                d.key_display(),
                d.partition.to_string(),
            )
        })
        .collect()
}

fn accounting(leg: &FurtherLeg) -> Vec<String> {
    leg.accounting.iter().map(|a| a.to_string()).collect()
}

/// The findings of a run as the store hands them back to the next one.
fn recorded(findings: &[Discrepancy]) -> Vec<Recorded> {
    findings
        .iter()
        .enumerate()
        .map(|(i, d)| Recorded {
            id: i as i64 + 1,
            status: Status::Open,
            first_run_id: RunId(1),
            discrepancy: d.clone(),
        })
        .collect()
}

#[test]
fn three_days_of_one_payout_account() {
    let format = stripe_format();
    // 2026-12-01: one payout named by the deposit's end-to-end id, one paired by amount and
    // date with a detail of the split batch booking, one not in the bank yet
    let records = [
        payout_line("stripe", 2, "po_1QxStripePayout01", 125_050, 1, None),
        payout_line("stripe", 3, "po_batch", 40_000, 1, None),
        payout_line("stripe", 4, "po_late", 77_700, 1, None),
    ];
    let leg = reconcile(
        &spec(),
        &inputs(dec(1), &format, &[]),
        &records,
        &[day_one()],
        &[],
    )
    .expect("day one");
    assert_eq!(
        found(&leg),
        [
            (
                "payout_late",
                "processor=stripe; payout_id=po_late",
                "2026-12-01"
            ),
            (
                "deposit_unexplained",
                "account=DE89370400440532013000; bank_ref=2026120100012347-1",
                "2026-12-01"
            ),
            (
                "deposit_unexplained",
                "account=DE89370400440532013000; bank_ref=2026120100012347-3",
                "2026-12-01"
            ),
            (
                "deposit_unexplained",
                "account=DE89370400440532013000; bank_ref=2026120100012348",
                "2026-12-01"
            ),
        ]
        .map(|(k, key, p)| (k.to_owned(), key.to_owned(), p.to_owned()))
    );
    // what the next day needs to trace the late payout again travels with the finding
    let late = &leg.findings[0];
    let kept: Vec<(&str, Option<&str>)> = late
        .values
        .iter()
        .map(|v| (v.column.as_str(), v.left.as_ref().map(Shown::as_str)))
        .collect();
    assert_eq!(
        kept,
        [
            ("initiated", Some("2026-12-01")),
            ("expected_arrival", None),
            ("references", Some("po_late")),
        ]
    );
    assert_eq!(
        accounting(&leg),
        [
            "bank statements: 6 entries = 2 traced + 3 in discrepancies + 1 not deposits + 0 other accounts + 0 counted once already + 0 quarantined",
            "payouts: 3 (0 carried from earlier days) = 2 traced + 1 in flight + 0 missing, 0 set aside",
            "payout leg EUR open: paid out 2427.50 EUR = 1650.50 EUR traced + 777.00 EUR in flight + 0.00 EUR missing, deposits 2150.50 EUR = 1650.50 EUR traced + 0.00 EUR returned + 500.00 EUR unexplained, traced pairs differ by 0.00 EUR",
        ]
    );

    // 2026-12-02: no payout of its own; the late one arrives and is traced, nothing is found
    let carried = recorded(&leg.findings);
    let day_two = mt940(2, "11700,25", &[("777,00", "2612020000001")], "12477,25");
    let leg = reconcile(
        &spec(),
        &inputs(dec(2), &format, &carried),
        &[],
        &[day_two],
        &[],
    )
    .expect("day two");
    assert_eq!(found(&leg), []);
    assert_eq!(
        accounting(&leg)[1..],
        [
            "payouts: 1 (1 carried from earlier days) = 1 traced + 0 in flight + 0 missing, 0 set aside",
            "payout leg EUR closed: paid out 777.00 EUR = 777.00 EUR traced + 0.00 EUR in flight + 0.00 EUR missing, deposits 777.00 EUR = 777.00 EUR traced + 0.00 EUR returned + 0.00 EUR unexplained, traced pairs differ by 0.00 EUR",
        ]
    );

    // 2026-12-04 instead: past its window (two business days after 12-01), it is missing, in
    // the day it was paid out; today's own payout is late in today's
    let today = [payout_line("stripe", 2, "po_today", 5_000, 4, None)];
    let quiet = mt940(4, "11700,25", &[], "11700,25");
    let leg = reconcile(
        &spec(),
        &inputs(dec(4), &format, &carried),
        &today,
        &[quiet],
        &[],
    )
    .expect("day four");
    assert_eq!(
        found(&leg),
        [
            (
                "payout_late",
                "processor=stripe; payout_id=po_today",
                "2026-12-04"
            ),
            (
                "payout_missing_in_bank",
                "processor=stripe; payout_id=po_late",
                "2026-12-01"
            ),
        ]
        .map(|(k, key, p)| (k.to_owned(), key.to_owned(), p.to_owned()))
    );
    assert_eq!(
        leg.findings[1].at_stake,
        Some(crate::discrepancy::AtStake {
            currency: "EUR".to_owned(),
            minor: 77_700
        })
    );
}

/// A statement that does not add up and a gap in the statement numbers are findings; entries
/// of another account are counted and left alone.
#[test]
fn statements_prove_themselves_and_follow_each_other() {
    let format = stripe_format();
    let mut files = vec![mt940(2, "100,00", &[("50,00", "R1")], "160,00")];
    files.push(mt940(4, "160,00", &[], "160,00"));
    let mut other = spec();
    other.accounts = vec!["NL91ABNA0417164300".to_owned()];
    let leg = reconcile(&other, &inputs(dec(4), &format, &[]), &[], &files, &[]).expect("read");
    assert_eq!(
        found(&leg),
        [
            (
                "statement_unbalanced",
                "account=DE89370400440532013000; statement=STMT2",
                "2026-12-04"
            ),
            (
                "statement_continuity_break",
                "account=DE89370400440532013000; at=day.sta:1",
                "2026-12-04"
            ),
        ]
        .map(|(k, key, p)| (k.to_owned(), key.to_owned(), p.to_owned()))
    );
    assert_eq!(
        accounting(&leg),
        [
            "bank statements: 1 entries = 0 traced + 0 in discrepancies + 0 not deposits + 1 other accounts + 0 counted once already + 0 quarantined",
            "payouts: 0 (0 carried from earlier days) = 0 traced + 0 in flight + 0 missing, 0 set aside",
        ]
    );
}

/// The day's first statement follows the last one of an earlier day's files: a statement
/// missing in between, or an opening balance that is not the previous closing, is a finding.
#[test]
fn the_first_statement_follows_the_previous_days() {
    let format = stripe_format();
    let previous: Vec<Statement> = mt940(2, "100,00", &[("60,00", "R1")], "160,00").statements;
    let next_number = mt940(3, "160,00", &[], "160,00");
    let leg = reconcile(
        &spec(),
        &inputs(dec(3), &format, &[]),
        &[],
        &[next_number],
        &previous,
    )
    .expect("read");
    assert_eq!(found(&leg), []);

    let skipped = mt940(4, "160,00", &[], "160,00");
    let reopened = mt940(3, "170,00", &[], "170,00");
    let leg = reconcile(
        &spec(),
        &inputs(dec(4), &format, &[]),
        &[],
        &[skipped],
        &previous,
    )
    .expect("read");
    assert_eq!(
        leg.findings
            .iter()
            .map(|d| d.detail.as_ref().map(Shown::as_str).unwrap_or_default())
            .collect::<Vec<_>>(),
        ["DE89370400440532013000: statement 239 is missing (between 238 and 240, at day.sta:1)"]
    );
    let leg = reconcile(
        &spec(),
        &inputs(dec(3), &format, &[]),
        &[],
        &[reopened],
        &previous,
    )
    .expect("read");
    assert_eq!(
        found(&leg),
        [(
            "statement_continuity_break".to_owned(),
            "account=DE89370400440532013000; at=day.sta:1".to_owned(),
            "2026-12-03".to_owned()
        )]
    );
}

/// The earlier days' `payout_late` findings the leg traced again are named, so the run resolves
/// those it does not find again (the deposit came, or it is now missing); findings of other
/// kinds, and a late one recorded without what tracing it needs, are not.
#[test]
fn the_late_payouts_traced_again_are_reexamined() {
    let format = stripe_format();
    let records = [
        payout_line("stripe", 2, "po_1QxStripePayout01", 125_050, 1, None),
        payout_line("stripe", 3, "po_late", 77_700, 1, None),
    ];
    let leg = reconcile(
        &spec(),
        &inputs(dec(1), &format, &[]),
        &records,
        &[day_one()],
        &[],
    )
    .expect("day one");
    assert_eq!(leg.reexamined, Vec::<i64>::new());
    let mut carried = recorded(&leg.findings);
    assert_eq!(
        carried
            .iter()
            .map(|r| (r.id, r.discrepancy.kind.as_str()))
            .collect::<Vec<_>>(),
        [
            (1, "payout_late"),
            (2, "deposit_unexplained"),
            (3, "deposit_unexplained"),
            (4, "deposit_unexplained"),
            (5, "deposit_unexplained"),
        ]
    );
    // a late payout recorded without its initiation cannot be traced again: left as it is
    let mut unreadable = carried[0].clone();
    unreadable.id = 6;
    unreadable.discrepancy.values.clear();
    carried.push(unreadable);

    let day_two = mt940(2, "11700,25", &[("777,00", "2612020000001")], "12477,25");
    let leg = reconcile(
        &spec(),
        &inputs(dec(2), &format, &carried),
        &[],
        &[day_two],
        &[],
    )
    .expect("day two");
    assert_eq!(found(&leg), []);
    assert_eq!(leg.reexamined, [1]);
}
