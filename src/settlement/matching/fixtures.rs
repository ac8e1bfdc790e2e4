//! Records, ledger rows and views of an outcome shared by the tests of every matching step, written once here.

use chrono::TimeZone;

use super::*;
use crate::settlement::record::{Kind, SourceLine};

/// A xorshift die: `roll(n)` is a pseudo-random number below `n`, the same sequence for the
/// same seed, for tests that try many random days.
pub(super) fn dice(mut state: u64) -> impl FnMut(usize) -> usize {
    move |bound| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    }
}

pub(super) fn cur(code: &str) -> Currency {
    Currency::parse(code).expect("known currency")
}

/// 2024-03-`day` `h`:`m`:`s` UTC.
pub(super) fn at(day: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, day, h, m, s).unwrap()
}

/// The business day end used unless a test says otherwise: 2024-03-10 00:00 UTC.
pub(super) fn end() -> DateTime<Utc> {
    at(10, 0, 0, 0)
}

pub(super) fn rec(
    line: u64,
    id: &str,
    kind: Kind,
    gross: i64,
    fee: i64,
    code: &str,
) -> SettlementRecord {
    SettlementRecord {
        record_id: id.into(),
        kind,
        gross_minor: gross,
        fee_minor: fee,
        net_minor: gross - fee,
        currency: cur(code),
        created_at: at(5, 12, 0, 0),
        available_at: None,
        payout_id: None,
        reference: None,
        links: Default::default(),
        source: SourceLine {
            path: "r.csv".into(),
            line,
        },
    }
}

pub(super) fn charge(line: u64, id: &str, gross: i64, fee: i64) -> SettlementRecord {
    rec(line, id, Kind::Charge, gross, fee, "USD")
}

pub(super) fn led(id: &str, amount: i64, code: &str) -> LedgerEntry {
    LedgerEntry {
        id: id.into(),
        amount_minor: amount,
        currency: cur(code),
        status: Some("settled".into()),
        at: at(5, 10, 0, 0),
        fee_minor: None,
        payout_id: None,
    }
}

pub(super) fn usd(id: &str, amount: i64) -> LedgerEntry {
    led(id, amount, "USD")
}

pub(super) fn with_fee(mut e: LedgerEntry, fee: i64) -> LedgerEntry {
    e.fee_minor = Some(fee);
    e
}

pub(super) fn in_payout(mut e: LedgerEntry, payout: &str) -> LedgerEntry {
    e.payout_id = Some(payout.into());
    e
}

pub(super) fn status(mut e: LedgerEntry, text: Option<&str>) -> LedgerEntry {
    e.status = text.map(Into::into);
    e
}

pub(super) fn booked(mut e: LedgerEntry, when: DateTime<Utc>) -> LedgerEntry {
    e.at = when;
    e
}

pub(super) fn payout_line(line: u64, id: &str, net: i64, code: &str) -> SettlementRecord {
    rec(line, id, Kind::Payout, net, 0, code)
}

/// Runs the matcher and checks the accounting equation, which every outcome must satisfy.
pub(super) fn run(
    records: &[SettlementRecord],
    ledger: &[LedgerEntry],
    rules: &MatchRules,
) -> MatchOutcome {
    let outcome = match_report(records, ledger, rules, end());
    assert_eq!(outcome.check_accounted(records.len(), ledger.len()), Ok(()));
    outcome
}

pub(super) type Finding = (
    &'static str,
    Vec<String>,
    Vec<String>,
    Option<i128>,
    Option<i128>,
);

/// Each discrepancy as (kind, record ids, ledger ids, expected, actual), in output order.
pub(super) fn findings(
    o: &MatchOutcome,
    records: &[SettlementRecord],
    ledger: &[LedgerEntry],
) -> Vec<Finding> {
    o.discrepancies
        .iter()
        .map(|d| {
            (
                d.kind.as_str(),
                d.records
                    .iter()
                    .map(|&i| records[i].record_id.to_string())
                    .collect(),
                d.ledger.iter().map(|&j| ledger[j].id.to_string()).collect(),
                d.expected_minor,
                d.actual_minor,
            )
        })
        .collect()
}

pub(super) fn f(
    kind: &'static str,
    records: &[&str],
    ledger: &[&str],
    expected: Option<i64>,
    actual: Option<i64>,
) -> Finding {
    wide(
        kind,
        records,
        ledger,
        expected.map(i128::from),
        actual.map(i128::from),
    )
}

/// [`f`] with amounts past 64 bits (a payout's sums).
pub(super) fn wide(
    kind: &'static str,
    records: &[&str],
    ledger: &[&str],
    expected: Option<i128>,
    actual: Option<i128>,
) -> Finding {
    (
        kind,
        records.iter().map(|s| s.to_string()).collect(),
        ledger.iter().map(|s| s.to_string()).collect(),
        expected,
        actual,
    )
}

/// Each match as (record id, ledger id, how, amount difference), in output order.
pub(super) fn matches(
    o: &MatchOutcome,
    records: &[SettlementRecord],
    ledger: &[LedgerEntry],
) -> Vec<(String, Option<String>, MatchHow, i64)> {
    o.matched
        .iter()
        .map(|m| {
            (
                records[m.record].record_id.to_string(),
                m.ledger.map(|j| ledger[j].id.to_string()),
                m.how,
                m.amount_diff_minor,
            )
        })
        .collect()
}

pub(super) fn m(
    record: &str,
    ledger: Option<&str>,
    how: MatchHow,
    diff: i64,
) -> (String, Option<String>, MatchHow, i64) {
    (record.into(), ledger.map(Into::into), how, diff)
}

pub(super) fn details(o: &MatchOutcome) -> Vec<&str> {
    o.discrepancies.iter().map(|d| d.detail.as_str()).collect()
}

pub(super) fn settled_only() -> MatchRules {
    MatchRules {
        settled_statuses: vec!["settled".into()],
        ..MatchRules::default()
    }
}

/// A payout of three items: ch_1 (ledger has no fee: the record's 0.59 is used), ch_2 (the
/// ledger's fee 0.88), re_1 (refund, no fee): 9.41 + 19.12 − 5.00 = 23.53.
pub(super) fn payout_fixture(paid: i64) -> (Vec<SettlementRecord>, Vec<LedgerEntry>) {
    let mut po = payout_line(5, "po_1", -paid, "USD");
    po.payout_id = Some("po_1".into());
    let records = vec![
        charge(2, "ch_1", 1000, 59),
        charge(3, "ch_2", 2000, 88),
        rec(4, "re_1", Kind::Refund, -500, 0, "USD"),
        po,
    ];
    let ledger = vec![
        in_payout(usd("ch_1", 1000), "po_1"),
        in_payout(with_fee(usd("ch_2", 2000), 88), "po_1"),
        in_payout(usd("re_1", -500), "po_1"),
        usd("ch_other", 0),
    ];
    (records, ledger)
}
