//! A payout trace turned into findings, each keyed so the same payout or deposit is the same finding from run to run, and masked like every other finding.
//!
//! Keys: a payout-side finding (`payout_missing_in_bank`, `payout_late`,
//! `payout_amount_mismatch`) is keyed by `processor` and `payout_id`; a deposit-side one
//! (`deposit_unexplained`) by `account` and the bank's `bank_ref`, or, for an entry without
//! one, by `account` and `entry` (booking date, amount, currency and the end-to-end id or
//! customer reference): what stays the same when the day's statement is read again, where a
//! file name and line do not. A suggestion is written in the detail of each finding it names.
//! Returned deposits (a credit and its reversal) put nothing at stake and make no finding;
//! debits and pending entries are not deposits and make none either.

use crate::day::Partition;
use crate::discrepancy::{AtStake, BankKind, ColumnValues, Discrepancy, Kind, ShownKey};
use crate::mask::{MaskKey, Shown};
use crate::money::{Currency, format_major};

use super::BankEntry;
use super::payout::Payout;
use super::trace::{Trace, Traced};

/// The findings of `trace` (over `payouts` and `entries`) for check `check` and day
/// `partition`, payouts' first in payout order, then deposits' in entry order.
pub(crate) fn trace_findings(
    check: &str,
    partition: Partition,
    payouts: &[Payout],
    entries: &[BankEntry],
    trace: &Trace,
    mask: Option<&MaskKey>,
) -> Vec<Discrepancy> {
    let finding = |kind: BankKind, key: ShownKey, detail: String, at_stake: Option<AtStake>| {
        bank_finding(check, partition, kind, key, &detail, at_stake)
    };
    let mut payout_side: Vec<(usize, Discrepancy)> = Vec::new();
    for m in &trace.mismatched {
        let (Some(payout), Some(entry)) = (payouts.get(m.payout), entries.get(m.entry)) else {
            continue;
        };
        let how = match (m.difference_minor, m.class) {
            (Some(d), class) => format!(
                "{} by {} {}{}",
                if d > 0 { "short" } else { "over" },
                format_major(d.saturating_abs(), payout.currency),
                payout.currency.code(),
                class.map_or(", unclassified".to_owned(), |c| format!(
                    ", classified {}",
                    c.as_str()
                )),
            ),
            (None, _) => "in another currency, unclassified".to_owned(),
        };
        let mut d = finding(
            BankKind::PayoutAmountMismatch,
            payout_key(payout, mask),
            format!(
                "{} names the payout of {}: the deposit is {how}",
                describe_entry(entry),
                money(payout.amount_minor, payout.currency)
            ),
            Some(match m.difference_minor {
                Some(diff) => stake(i128::from(diff).abs(), payout.currency),
                None => stake(i128::from(payout.amount_minor), payout.currency),
            }),
        );
        d.columns = vec!["amount".to_owned()];
        d.values = vec![ColumnValues {
            column: "amount".to_owned(),
            left: Some(Shown::masked(&money(payout.amount_minor, payout.currency))),
            right: Some(Shown::masked(&money(entry.amount_minor, entry.currency))),
        }];
        payout_side.push((m.payout, d));
    }
    for (unfound, kind, what) in trace
        .missing
        .iter()
        .map(|u| (u, BankKind::PayoutMissingInBank, "no deposit by"))
        .chain(
            trace
                .late
                .iter()
                .map(|u| (u, BankKind::PayoutLate, "in flight: its deposit is due by")),
        )
    {
        let Some(payout) = payouts.get(unfound.payout) else {
            continue;
        };
        let mut detail = format!(
            "payout of {} initiated {}{}: {what} {}",
            money(payout.amount_minor, payout.currency),
            payout.initiated,
            payout
                .expected_arrival
                .map_or(String::new(), |a| format!(", expected {a}")),
            unfound.due,
        );
        for s in trace.suggestions_for_payout(unfound.payout) {
            detail.push_str(&suggestion(s, payouts, entries));
        }
        payout_side.push((
            unfound.payout,
            finding(
                kind,
                payout_key(payout, mask),
                detail,
                Some(stake(i128::from(payout.amount_minor), payout.currency)),
            ),
        ));
    }
    payout_side.sort_by_key(|(p, _)| *p);

    let mut deposit_side: Vec<(usize, Discrepancy)> = Vec::new();
    for &e in &trace.unexplained {
        let Some(entry) = entries.get(e) else {
            continue;
        };
        let mut detail = format!("{}: no payout explains it", describe_entry(entry));
        for s in trace.suggestions_for_entry(e) {
            detail.push_str(&suggestion(s, payouts, entries));
        }
        deposit_side.push((e, deposit(entry, detail, mask, &finding)));
    }
    for &e in &trace.unpaired_reversals {
        let Some(entry) = entries.get(e) else {
            continue;
        };
        let detail = format!(
            "{}: a reversal of a credit not among these entries (a deposit traced earlier may have been returned)",
            describe_entry(entry)
        );
        deposit_side.push((e, deposit(entry, detail, mask, &finding)));
    }
    deposit_side.sort_by_key(|(e, _)| *e);
    payout_side
        .into_iter()
        .chain(deposit_side)
        .map(|(_, d)| d)
        .collect()
}

/// A bank leg's finding of `kind`: its detail masked, no column compared.
pub(crate) fn bank_finding(
    check: &str,
    partition: Partition,
    kind: BankKind,
    key: ShownKey,
    detail: &str,
    at_stake: Option<AtStake>,
) -> Discrepancy {
    Discrepancy {
        check: check.to_owned(),
        partition,
        kind: Kind::Bank(kind),
        key,
        columns: Vec::new(),
        values: Vec::new(),
        detail: Some(Shown::masked(detail)),
        at_stake,
    }
}

fn deposit(
    entry: &BankEntry,
    detail: String,
    mask: Option<&MaskKey>,
    finding: &impl Fn(BankKind, ShownKey, String, Option<AtStake>) -> Discrepancy,
) -> Discrepancy {
    finding(
        BankKind::DepositUnexplained,
        entry_key(entry, mask),
        detail,
        Some(stake(i128::from(entry.amount_minor).abs(), entry.currency)),
    )
}

fn money(minor: i64, currency: Currency) -> String {
    format!("{} {}", format_major(minor, currency), currency.code())
}

fn stake(minor: i128, currency: Currency) -> AtStake {
    AtStake {
        currency: currency.code().to_owned(),
        minor,
    }
}

/// How a payout's findings are keyed: its processor and payout id.
pub(crate) fn payout_key(payout: &Payout, mask: Option<&MaskKey>) -> ShownKey {
    ShownKey::masked(
        &[
            ("processor", Some(&payout.processor)),
            ("payout_id", Some(&payout.payout_id)),
        ],
        mask,
    )
}

/// The entry's identity across statement files (see the module doc).
fn entry_key(entry: &BankEntry, mask: Option<&MaskKey>) -> ShownKey {
    match &entry.bank_ref {
        Some(bank_ref) => ShownKey::masked(
            &[
                ("account", Some(&entry.account)),
                ("bank_ref", Some(bank_ref)),
            ],
            mask,
        ),
        None => {
            let named = entry
                .end_to_end_id
                .as_deref()
                .or(entry.customer_ref.as_deref())
                .unwrap_or("-");
            let identity = format!(
                "{} {} {named}",
                entry.booking_date,
                money(entry.amount_minor, entry.currency)
            );
            ShownKey::masked(
                &[
                    ("account", Some(&entry.account)),
                    ("entry", Some(&identity)),
                ],
                mask,
            )
        }
    }
}

/// `credit of 99.75 EUR booked 2026-12-28 (statement.xml:41)`.
fn describe_entry(entry: &BankEntry) -> String {
    let what = if entry.reversal {
        "reversal"
    } else if entry.amount_minor < 0 {
        "debit"
    } else {
        "credit"
    };
    let value = match entry.value_date {
        Some(v) if v != entry.booking_date => format!(", value {v}"),
        _ => String::new(),
    };
    let place = match &entry.pointer {
        Some(pointer) => format!("{} {pointer}", entry.source),
        None => entry.source.to_string(),
    };
    format!(
        "{what} of {} booked {}{value} ({place})",
        money(entry.amount_minor.saturating_abs(), entry.currency),
        entry.booking_date,
    )
}

/// `; suggested by amount and date: payouts stripe po_1 · deposits s.xml:10, s.xml:14`.
fn suggestion(s: &Traced, payouts: &[Payout], entries: &[BankEntry]) -> String {
    let ps: Vec<String> = s
        .payouts
        .iter()
        .filter_map(|&p| payouts.get(p))
        .map(|p| format!("{} {}", p.processor, p.payout_id))
        .collect();
    let es: Vec<String> = s
        .entries
        .iter()
        .filter_map(|&e| entries.get(e))
        .map(|e| e.source.to_string())
        .collect();
    format!(
        "; suggested by {}: payouts {} · deposits {}",
        s.rule.as_str(),
        ps.join(", "),
        es.join(", ")
    )
}

#[cfg(test)]
mod tests;
