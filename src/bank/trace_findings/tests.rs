//! The three-way shape the check will have: Stripe and Adyen payouts read from their records,
//! deposits from a camt.053 and an MT940 account over the Christmas weekend, traced and turned
//! into the exact findings.

use chrono::{NaiveDate, Weekday};

use super::*;
use crate::bank::calendar::BusinessCalendar;
use crate::bank::closure::{LegClosure, closure};
use crate::bank::payout::{PayoutBasis, payouts_from_records};
use crate::bank::testing::payout_line;
use crate::bank::trace::{
    AmountRule, DifferenceClass, RemittancePattern, Rule, ToleranceBase, TraceRules, Unfound, trace,
};
use crate::bank::{Direction, EntryStatus};
use crate::settlement::SourceLine;

const CAMT_ACCOUNT: &str = "DE89370400440532013000";
const MT940_ACCOUNT: &str = "NL91ABNA0417164300";

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn dec(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
}

fn entry(file: &str, account: &str, line: u64, amount: i64, booked: u32) -> BankEntry {
    BankEntry {
        account: account.into(),
        amount_minor: amount,
        currency: eur(),
        direction: if amount < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        reversal: false,
        status: EntryStatus::Booked,
        booking_date: dec(booked),
        value_date: Some(dec(booked)),
        bank_ref: None,
        customer_ref: None,
        end_to_end_id: None,
        remittance: None,
        bank_tx_code: None,
        source: SourceLine {
            path: file.into(),
            line,
        },
        pointer: None,
    }
}

fn rules() -> TraceRules {
    TraceRules {
        window_business_days: 2,
        calendar: BusinessCalendar::new(&[Weekday::Sat, Weekday::Sun], [dec(25), dec(26)])
            .expect("calendar"),
        remittance_patterns: [(
            "adyen".to_owned(),
            vec![RemittancePattern::new(r"ADYEN.*?(?P<ref>TX[0-9]{10}XT)").expect("pattern")],
        )]
        .into(),
        amount_rules: vec![AmountRule {
            class: DifferenceClass::BankFee,
            abs_minor: Some(50),
            percent_bps: None,
            base: ToleranceBase::PayoutAmount,
        }],
        ..TraceRules::default()
    }
}

fn texts(d: &Discrepancy) -> (String, String, String, Option<(String, i128)>) {
    (
        d.kind.as_str().to_owned(),
        d.key_display(),
        d.detail.as_ref().map_or(String::new(), |s| s.to_string()),
        d.at_stake.as_ref().map(|s| (s.currency.clone(), s.minor)),
    )
}

#[test]
fn stripe_and_adyen_payouts_to_camt_and_mt940_deposits_over_christmas() {
    let stripe = [
        payout_line("stripe", 2, "po_A", 100_000, 23, None),
        payout_line("stripe", 3, "po_B", 25_000, 24, None),
        payout_line("stripe", 4, "po_C", 7_500, 21, None),
        payout_line("stripe", 5, "po_D", 9_999, 24, None),
    ];
    let adyen = [
        payout_line("adyen", 9, "42", 131_160, 23, Some("TX4913578926XT")),
        payout_line("adyen", 10, "43", 48_000, 24, Some("TX5000000001XT")),
    ];
    let mut payouts = payouts_from_records("stripe", &stripe, PayoutBasis::PayoutLines).payouts;
    payouts.extend(payouts_from_records("adyen", &adyen, PayoutBasis::PayoutLines).payouts);
    assert_eq!(payouts.len(), 6);

    let mut camt_po_a = entry("camt.053.xml", CAMT_ACCOUNT, 20, 100_000, 24);
    camt_po_a.end_to_end_id = Some("po_A".into());
    camt_po_a.bank_ref = Some("CAMT-REF-1".into());
    let mut camt_unexplained = entry("camt.053.xml", CAMT_ACCOUNT, 30, 4_200, 28);
    camt_unexplained.bank_ref = Some("CAMT-REF-9".into());
    let camt_twin = entry("camt.053.xml", CAMT_ACCOUNT, 40, 9_999, 24);
    let mut mt940_adyen_42 = entry("mt940.sta", MT940_ACCOUNT, 5, 131_135, 28);
    mt940_adyen_42.remittance = Some("ADYEN BV PAYOUT TX4913578926XT BATCH 42".into());
    mt940_adyen_42.bank_ref = Some("NONREF".into());
    let mt940_adyen_43 = entry("mt940.sta", MT940_ACCOUNT, 8, 48_000, 28);
    let mt940_twin = entry("mt940.sta", MT940_ACCOUNT, 12, 9_999, 28);
    let mt940_charges = entry("mt940.sta", MT940_ACCOUNT, 15, -500, 28);
    let entries = [
        camt_po_a,
        camt_unexplained,
        camt_twin,
        mt940_adyen_42,
        mt940_adyen_43,
        mt940_twin,
        mt940_charges,
    ];

    let traced = trace(&payouts, &entries, &rules(), dec(28));
    assert!(traced.accounts_for_everything(payouts.len(), entries.len()));
    assert_eq!(
        traced
            .matched
            .iter()
            .map(|t| (t.payouts.clone(), t.entries.clone(), t.rule))
            .collect::<Vec<_>>(),
        vec![
            (vec![0], vec![0], Rule::Reference),
            (vec![5], vec![4], Rule::AmountAndDate),
        ]
    );
    assert_eq!(
        traced
            .suggestions
            .iter()
            .map(|t| (t.payouts.clone(), t.entries.clone(), t.rule))
            .collect::<Vec<_>>(),
        vec![(vec![3], vec![2, 5], Rule::AmountAndDate)]
    );
    // carried to later runs: the payouts still inside their window
    assert_eq!(
        traced.late,
        vec![
            Unfound {
                payout: 1,
                due: dec(29)
            },
            Unfound {
                payout: 3,
                due: dec(29)
            }
        ]
    );
    assert_eq!(
        traced.missing,
        vec![Unfound {
            payout: 2,
            due: dec(23)
        }]
    );
    assert_eq!(traced.not_deposits, vec![6]);

    let partition = Partition::Day(dec(28));
    let findings = trace_findings("payouts", partition, &payouts, &entries, &traced, None);
    let in_eur = |minor: i128| Some(("EUR".to_owned(), minor));
    let expected = vec![
        (
            "payout_late",
            "processor=stripe; payout_id=po_B",
            "payout of 250.00 EUR initiated 2026-12-24: in flight: its deposit is due by 2026-12-29",
            in_eur(25_000),
        ),
        (
            "payout_missing_in_bank",
            "processor=stripe; payout_id=po_C",
            "payout of 75.00 EUR initiated 2026-12-21: no deposit by 2026-12-23",
            in_eur(7_500),
        ),
        (
            "payout_late",
            "processor=stripe; payout_id=po_D",
            "payout of 99.99 EUR initiated 2026-12-24: in flight: its deposit is due by 2026-12-29; \
             suggested by amount and date: payouts stripe po_D · deposits camt.053.xml:40, mt940.sta:12",
            in_eur(9_999),
        ),
        (
            "payout_amount_mismatch",
            "processor=adyen; payout_id=42",
            "credit of 1311.35 EUR booked 2026-12-28 (mt940.sta:5) names the payout of 1311.60 EUR: \
             the deposit is short by 0.25 EUR, classified bank_fee",
            in_eur(25),
        ),
        (
            "deposit_unexplained",
            "account=DE89370400440532013000; bank_ref=CAMT-REF-9",
            "credit of 42.00 EUR booked 2026-12-28 (camt.053.xml:30): no payout explains it",
            in_eur(4_200),
        ),
        (
            "deposit_unexplained",
            "account=DE89370400440532013000; entry=2026-12-24 99.99 EUR -",
            "credit of 99.99 EUR booked 2026-12-24 (camt.053.xml:40): no payout explains it; \
             suggested by amount and date: payouts stripe po_D · deposits camt.053.xml:40, mt940.sta:12",
            in_eur(9_999),
        ),
        (
            "deposit_unexplained",
            "account=NL91ABNA0417164300; entry=2026-12-28 99.99 EUR -",
            "credit of 99.99 EUR booked 2026-12-28 (mt940.sta:12): no payout explains it; \
             suggested by amount and date: payouts stripe po_D · deposits camt.053.xml:40, mt940.sta:12",
            in_eur(9_999),
        ),
    ];
    assert_eq!(
        findings.iter().map(texts).collect::<Vec<_>>(),
        expected
            .into_iter()
            .map(|(k, key, detail, stake)| (k.to_owned(), key.to_owned(), detail.to_owned(), stake))
            .collect::<Vec<_>>()
    );
    assert!(
        findings
            .iter()
            .all(|d| d.check == "payouts" && d.partition == partition)
    );
    let mismatch = &findings[3];
    assert_eq!(
        mismatch.values,
        vec![ColumnValues {
            column: "amount".into(),
            left: Some(Shown::masked("1311.60 EUR")),
            right: Some(Shown::masked("1311.35 EUR")),
        }]
    );
    // per-leg closure: what was paid out against what the bank shows
    assert_eq!(
        closure(&payouts, &entries, &traced),
        [(
            eur(),
            LegClosure {
                payouts_minor: 321_659,
                payouts_traced_minor: 279_160,
                payouts_in_flight_minor: 34_999,
                payouts_missing_minor: 7_500,
                deposits_minor: 303_333,
                deposits_traced_minor: 279_135,
                deposits_returned_minor: 0,
                deposits_unexplained_minor: 24_198,
                differences_minor: 25,
            }
        )]
        .into()
    );
    // the late payouts are in flight: carried, not yet at stake in the totals
    let in_flight: Vec<bool> = findings.iter().map(|d| d.kind.in_flight()).collect();
    assert_eq!(in_flight, [true, false, true, false, false, false, false]);
}

/// The same payout found late one run and missing the next is one finding per kind, with the
/// same key: its fingerprint follows the payout, not the file it was read from.
#[test]
fn keys_follow_the_payout_and_the_deposit_across_runs() {
    let records = [payout_line("stripe", 2, "po_B", 25_000, 24, None)];
    let payouts = payouts_from_records("stripe", &records, PayoutBasis::PayoutLines).payouts;
    let mut deposit = entry("day1.xml", CAMT_ACCOUNT, 20, 4_200, 28);
    deposit.bank_ref = Some("CAMT-REF-9".into());
    let findings_on = |as_of: u32, deposit: &BankEntry| {
        let t = trace(
            &payouts,
            std::slice::from_ref(deposit),
            &rules(),
            dec(as_of),
        );
        trace_findings(
            "payouts",
            Partition::Day(dec(24)),
            &payouts,
            std::slice::from_ref(deposit),
            &t,
            None,
        )
    };
    let first = findings_on(28, &deposit);
    let mut again = deposit.clone();
    again.source = SourceLine {
        path: "day2.xml".into(),
        line: 7,
    };
    let second = findings_on(30, &again);
    assert_eq!(first[0].kind.as_str(), "payout_late");
    assert_eq!(second[0].kind.as_str(), "payout_missing_in_bank");
    assert_eq!(first[0].key, second[0].key);
    assert_eq!(first[1].kind.as_str(), "deposit_unexplained");
    assert_eq!(first[1].fingerprint(), second[1].fingerprint());
}

/// A card number in a bank's free text never reaches a finding unmasked.
#[test]
fn findings_are_masked() {
    let mut deposit = entry("camt.053.xml", CAMT_ACCOUNT, 20, 4_200, 28);
    deposit.end_to_end_id = Some("4111111111111111".into());
    let t = trace(&[], std::slice::from_ref(&deposit), &rules(), dec(28));
    let findings = trace_findings(
        "payouts",
        Partition::Day(dec(28)),
        &[],
        &[deposit],
        &t,
        None,
    );
    assert_eq!(
        findings[0].key_display(),
        "account=DE89370400440532013000; entry=2026-12-28 42.00 EUR 411111******1111"
    );
}

/// A reversal of a credit not among the entries is reported; a credit and its reversal
/// together put nothing at stake.
#[test]
fn reversals() {
    let mut reversal = entry("mt940.sta", MT940_ACCOUNT, 9, -4_200, 28);
    reversal.reversal = true;
    reversal.bank_ref = Some("R-1".into());
    let t = trace(&[], std::slice::from_ref(&reversal), &rules(), dec(28));
    let findings = trace_findings(
        "payouts",
        Partition::Day(dec(28)),
        &[],
        std::slice::from_ref(&reversal),
        &t,
        None,
    );
    assert_eq!(
        findings.iter().map(texts).collect::<Vec<_>>(),
        vec![(
            "deposit_unexplained".to_owned(),
            "account=NL91ABNA0417164300; bank_ref=R-1".to_owned(),
            "reversal of 42.00 EUR booked 2026-12-28 (mt940.sta:9): a reversal of a credit not among these entries (a deposit traced earlier may have been returned)".to_owned(),
            Some(("EUR".to_owned(), 4_200)),
        )]
    );
    let credit = entry("mt940.sta", MT940_ACCOUNT, 4, 4_200, 24);
    let both = [credit, reversal];
    let t = trace(&[], &both, &rules(), dec(28));
    assert_eq!(
        trace_findings("payouts", Partition::Day(dec(28)), &[], &both, &t, None),
        vec![]
    );
    let leg = LegClosure {
        deposits_minor: 4_200,
        deposits_returned_minor: 4_200,
        ..LegClosure::default()
    };
    assert!(leg.closed());
    assert_eq!(closure(&[], &both, &t), [(eur(), leg)].into());
}
