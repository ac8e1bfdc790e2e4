//! Before and after the steps, in its own file: the captures of a payment captured in parts are joined into one line for the payment, matched by their total against its one ledger row, then taken apart again so each line is accounted for.
//!
//! A finance ledger books a payment once (one row, the amount captured in all), while a report
//! such as Adyen's writes one charge line per capture, each with the payment's id and its own
//! capture id ([`crate::settlement::record::Links::capture`]). Charge lines sharing a match id
//! are joined when every one of them names a capture, no capture is named twice, and they are in
//! one currency; otherwise they are left alone (the same capture twice is a
//! `duplicate_in_report`). The first capture (in file order) carries the payment's match or
//! findings; the others are accounted for by [`MatchHow::Captures`] beside a match, or named in
//! the same findings.

use std::collections::{BTreeMap, HashSet};

use super::{MatchHow, MatchOn, MatchOutcome, Matched, record_key};
use crate::settlement::record::{Kind, Links, SettledAs, SettlementRecord};

/// The records with each payment's captures joined, and where each joined record came from.
pub(super) struct Joined {
    pub(super) records: Vec<SettlementRecord>,
    /// For each joined record, the original records it stands for, in file order.
    members: Vec<Vec<usize>>,
}

/// `None` when no payment was captured in parts (the records are matched as they are).
pub(super) fn join(records: &[SettlementRecord], on: MatchOn) -> Option<Joined> {
    // most reports name no capture at all: one look at each line, nothing built
    if !records.iter().any(|r| r.links().capture.is_some()) {
        return None;
    }
    let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        if r.kind == Kind::Charge
            && let Some(key) = record_key(r, on)
        {
            by_key.entry(key).or_default().push(i);
        }
    }
    let mut first_of: BTreeMap<usize, (SettlementRecord, Vec<usize>)> = BTreeMap::new();
    let mut joined_away = HashSet::new();
    for group in by_key.into_values().filter(|g| g.len() >= 2) {
        if let Some(total) = total(records, &group) {
            joined_away.extend(group.iter().skip(1).copied());
            first_of.insert(group[0], (total, group));
        }
    }
    if first_of.is_empty() {
        return None;
    }
    let mut joined = Joined {
        records: Vec::with_capacity(records.len() - joined_away.len()),
        members: Vec::with_capacity(records.len() - joined_away.len()),
    };
    for (i, r) in records.iter().enumerate() {
        if joined_away.contains(&i) {
            continue;
        }
        match first_of.remove(&i) {
            Some((total, group)) => {
                joined.records.push(total);
                joined.members.push(group);
            }
            None => {
                joined.records.push(r.clone());
                joined.members.push(vec![i]);
            }
        }
    }
    Some(joined)
}

/// The payment line standing for the captures at `group`, if they are captures of one payment
/// that can be summed (distinct capture ids, one currency, no overflow).
fn total(records: &[SettlementRecord], group: &[usize]) -> Option<SettlementRecord> {
    let mut captures = HashSet::new();
    let first = &records[*group.first()?];
    let mut total = first.clone();
    let (mut gross, mut fee, mut net) = (0i64, 0i64, 0i64);
    let mut settled = first.links().settled_as.map(|s| SettledAs {
        fee_minor: 0,
        net_minor: 0,
        ..s
    });
    for &i in group {
        let r = &records[i];
        let capture = r
            .links()
            .capture
            .as_deref()
            .filter(|c| !c.trim().is_empty())?;
        if !captures.insert(capture)
            || r.currency != first.currency
            || r.links().settled_as.map(|s| s.currency) != settled.map(|s| s.currency)
        {
            return None;
        }
        gross = gross.checked_add(r.gross_minor)?;
        fee = fee.checked_add(r.fee_minor)?;
        net = net.checked_add(r.net_minor)?;
        if let (Some(sum), Some(part)) = (settled.as_mut(), r.links().settled_as) {
            sum.fee_minor = sum.fee_minor.checked_add(part.fee_minor)?;
            sum.net_minor = sum.net_minor.checked_add(part.net_minor)?;
        }
    }
    total.gross_minor = gross;
    total.fee_minor = fee;
    total.net_minor = net;
    total.links = Links {
        capture: None,
        settled_as: settled,
        ..first.links().clone()
    }
    .boxed();
    Some(total)
}

impl Joined {
    /// The outcome for the joined records, told in the original records' indexes.
    pub(super) fn take_apart(
        self,
        outcome: MatchOutcome,
        records: &[SettlementRecord],
    ) -> MatchOutcome {
        let members = self.members;
        let mut matched = Vec::with_capacity(records.len());
        for m in outcome.matched {
            let Some((&first, rest)) = members[m.record].split_first() else {
                continue;
            };
            for &other in rest {
                matched.push(Matched {
                    record: other,
                    ledger: None,
                    how: MatchHow::Captures,
                    amount_diff_minor: 0,
                    days_apart: 0,
                    payout_items: Vec::new(),
                });
            }
            matched.push(Matched { record: first, ..m });
        }
        let place = |i: &usize| (records[*i].source.path.clone(), records[*i].source.line, *i);
        matched.sort_by_cached_key(|m| (place(&m.record), m.ledger));
        let mut discrepancies = outcome.discrepancies;
        for d in &mut discrepancies {
            d.records = d
                .records
                .iter()
                .flat_map(|&c| members[c].iter().copied())
                .collect();
            d.records.sort_by_cached_key(place);
        }
        MatchOutcome {
            matched,
            discrepancies,
            ..outcome
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use crate::settlement::record::Links;

    fn capture(line: u64, id: &str, gross: i64, capture: &str) -> SettlementRecord {
        SettlementRecord {
            links: Links {
                capture: Some(capture.into()),
                ..Links::default()
            }
            .boxed(),
            ..charge(line, id, gross, 0)
        }
    }

    #[test]
    fn captures_in_parts_match_their_payment_by_total() {
        let records = vec![
            capture(2, "pay_1", 600, "cap_a"),
            charge(3, "pay_2", 100, 0),
            capture(4, "pay_1", 400, "cap_b"),
            capture(5, "pay_3", 300, "cap_c"),
            capture(6, "pay_3", 300, "cap_c"),
        ];
        let ledger = vec![usd("pay_1", 1000), usd("pay_2", 100), usd("pay_3", 300)];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(o.check_accounted(records.len(), ledger.len()), Ok(()));
        let how: Vec<(usize, Option<usize>, MatchHow)> = o
            .matched
            .iter()
            .map(|m| (m.record, m.ledger, m.how))
            .collect();
        assert_eq!(
            how,
            [
                (0, Some(0), MatchHow::ExactId),
                (1, Some(1), MatchHow::ExactId),
                (2, None, MatchHow::Captures),
            ]
        );
        // the same capture twice is a duplicate, not two parts
        let pay_3 = || "pay_3".to_string();
        assert_eq!(
            findings(&o, &records, &ledger),
            [(
                "duplicate_in_report",
                vec![pay_3(), pay_3()],
                vec![pay_3()],
                None,
                None
            )]
        );
    }

    #[test]
    fn captures_whose_total_differs_are_one_finding_naming_every_part() {
        let records = vec![
            capture(2, "pay_1", 600, "cap_a"),
            capture(3, "pay_1", 300, "cap_b"),
        ];
        let ledger = vec![usd("pay_1", 1000)];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(o.check_accounted(records.len(), ledger.len()), Ok(()));
        assert!(o.matched.is_empty());
        assert_eq!(o.discrepancies.len(), 1);
        assert_eq!(o.discrepancies[0].kind, SettlementKind::AmountMismatch);
        assert_eq!(o.discrepancies[0].records, [0, 1]);
        assert_eq!(o.discrepancies[0].actual_minor, Some(900));
    }
}
