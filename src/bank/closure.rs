//! How much of the payout leg a trace closed, per currency: what was paid out against what was found in the bank, so a day's summary can say where the chain breaks and how much is at stake there.
//!
//! Each payout's amount falls in exactly one of traced (matched, or paired by reference with
//! another amount), in flight (late) or missing; each deposit's in exactly one of traced,
//! returned (taken back by a reversal) or unexplained. Reversals without their credit and
//! entries that are not deposits (debits, pending) are not counted. Sums are 128-bit, so no
//! total overflows.

use std::collections::BTreeMap;

use super::BankEntry;
use super::payout::Payout;
use super::trace::Trace;
use crate::money::Currency;

/// One currency's payout leg, in minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LegClosure {
    pub(crate) payouts_minor: i128,
    pub(crate) payouts_traced_minor: i128,
    pub(crate) payouts_in_flight_minor: i128,
    pub(crate) payouts_missing_minor: i128,
    pub(crate) deposits_minor: i128,
    pub(crate) deposits_traced_minor: i128,
    pub(crate) deposits_returned_minor: i128,
    pub(crate) deposits_unexplained_minor: i128,
    /// What traced payouts and their deposits differ by (a bank fee, FX): the payout's whole
    /// amount when the deposit is in another currency.
    pub(crate) differences_minor: i128,
}

impl LegClosure {
    /// Every payout traced to a deposit of its amount and every deposit explained: nothing in
    /// flight, missing, unexplained or different.
    pub(crate) fn closed(&self) -> bool {
        self.payouts_traced_minor == self.payouts_minor
            && self.differences_minor == 0
            && self.deposits_traced_minor + self.deposits_returned_minor == self.deposits_minor
    }
}

/// The closure of `trace` (over `payouts` and `entries`), per currency in code order.
pub(crate) fn closure(
    payouts: &[Payout],
    entries: &[BankEntry],
    trace: &Trace,
) -> BTreeMap<Currency, LegClosure> {
    let mut legs: BTreeMap<Currency, LegClosure> = BTreeMap::new();
    let mut payout = |p: usize, field: fn(&mut LegClosure) -> &mut i128| {
        if let Some(payout) = payouts.get(p) {
            let leg = legs.entry(payout.currency).or_default();
            let amount = i128::from(payout.amount_minor);
            leg.payouts_minor += amount;
            *field(leg) += amount;
        }
    };
    for t in &trace.matched {
        t.payouts
            .iter()
            .for_each(|&p| payout(p, |l| &mut l.payouts_traced_minor));
    }
    for m in &trace.mismatched {
        payout(m.payout, |l| &mut l.payouts_traced_minor);
    }
    for u in &trace.late {
        payout(u.payout, |l| &mut l.payouts_in_flight_minor);
    }
    for u in &trace.missing {
        payout(u.payout, |l| &mut l.payouts_missing_minor);
    }
    let mut deposit = |e: usize, field: fn(&mut LegClosure) -> &mut i128| {
        if let Some(entry) = entries.get(e) {
            let leg = legs.entry(entry.currency).or_default();
            let amount = i128::from(entry.amount_minor);
            leg.deposits_minor += amount;
            *field(leg) += amount;
        }
    };
    for t in &trace.matched {
        t.entries
            .iter()
            .for_each(|&e| deposit(e, |l| &mut l.deposits_traced_minor));
    }
    for m in &trace.mismatched {
        deposit(m.entry, |l| &mut l.deposits_traced_minor);
    }
    for r in &trace.returned {
        deposit(r.credit, |l| &mut l.deposits_returned_minor);
    }
    for &e in &trace.unexplained {
        deposit(e, |l| &mut l.deposits_unexplained_minor);
    }
    for m in &trace.mismatched {
        if let Some(p) = payouts.get(m.payout) {
            let difference = m
                .difference_minor
                .map_or(i128::from(p.amount_minor), |d| i128::from(d).abs());
            legs.entry(p.currency).or_default().differences_minor += difference;
        }
    }
    legs
}
