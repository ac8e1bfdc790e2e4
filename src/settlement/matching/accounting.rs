//! The accounting invariant of a matching outcome, in its own file: every record and every ledger entry accounted for exactly once.

use std::collections::HashSet;

use super::MatchOutcome;

impl MatchOutcome {
    /// Verifies the accounting equation for `records` records and `ledger` ledger entries: each
    /// record is in exactly one match, or in one or more discrepancies and no match; each ledger
    /// entry likewise, or else in `not_expected` exactly once. Every index must be in range and
    /// every discrepancy must name something. `Err` lists every problem.
    pub(crate) fn check_accounted(&self, records: usize, ledger: usize) -> Result<(), String> {
        let mut problems = Vec::new();
        // a byte a count (checked on a day's every line and row, so held small): what matters is
        // 0, 1 or more, and a count past 255 is told as 255
        let mut rec_matched = vec![0u8; records];
        let mut rec_found = vec![0u8; records];
        let mut led_matched = vec![0u8; ledger];
        let mut led_found = vec![0u8; ledger];
        let mut led_not_expected = vec![0u8; ledger];
        let mut out_of_range = Vec::new();
        let mut bump = |counts: &mut [u8], index: usize, what: &str| match counts.get_mut(index) {
            Some(count) => *count = count.saturating_add(1),
            None => out_of_range.push(format!("{what} index {index} is out of range")),
        };
        let mut in_range = Vec::new();
        for m in &self.matched {
            bump(&mut rec_matched, m.record, "matched record");
            if let Some(l) = m.ledger {
                bump(&mut led_matched, l, "matched ledger");
            }
            in_range.extend(m.payout_items.iter().copied());
        }
        for (n, d) in self.discrepancies.iter().enumerate() {
            if d.records.is_empty() && d.ledger.is_empty() {
                problems.push(format!("discrepancy {n} ({}) names nothing", d.kind));
            }
            if has_repeat(&d.records) || has_repeat(&d.ledger) {
                problems.push(format!("discrepancy {n} ({}) names an index twice", d.kind));
            }
            for &r in &d.records {
                bump(&mut rec_found, r, "discrepancy record");
            }
            for &l in &d.ledger {
                bump(&mut led_found, l, "discrepancy ledger");
            }
            in_range.extend(d.payout_items.iter().copied());
        }
        for &l in &self.not_expected {
            bump(&mut led_not_expected, l, "not expected ledger");
        }
        problems.append(&mut out_of_range);
        for l in in_range {
            if l >= ledger {
                problems.push(format!("payout item index {l} is out of range"));
            }
        }
        for (r, (&m, &d)) in rec_matched.iter().zip(&rec_found).enumerate() {
            match (m, d) {
                (1, 0) | (0, 1..) => {}
                (0, 0) => problems.push(format!("record {r} is not accounted for")),
                _ => problems.push(format!(
                    "record {r} is in {m} match(es) and {d} discrepancy(ies)"
                )),
            }
        }
        for (l, ((&m, &d), &n)) in led_matched
            .iter()
            .zip(&led_found)
            .zip(&led_not_expected)
            .enumerate()
        {
            match (m, d, n) {
                (1, 0, 0) | (0, 1.., 0) | (0, 0, 1) => {}
                (0, 0, 0) => problems.push(format!("ledger entry {l} is not accounted for")),
                _ => problems.push(format!(
                    "ledger entry {l} is in {m} match(es), {d} discrepancy(ies) and {n} not-expected slot(s)"
                )),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

fn has_repeat(indexes: &[usize]) -> bool {
    let mut seen = HashSet::new();
    !indexes.iter().all(|i| seen.insert(*i))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;

    #[test]
    fn check_accounted_detects_dropped_and_doubled_indexes() {
        let (records, ledger) = payout_fixture(2354);
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(o.check_accounted(records.len(), ledger.len()), Ok(()));

        let mut dropped = o.clone();
        dropped.matched.retain(|m| m.record != 0);
        assert_eq!(
            dropped.check_accounted(records.len(), ledger.len()),
            Err("record 0 is not accounted for; ledger entry 0 is not accounted for".into())
        );

        let mut dropped = o.clone();
        dropped
            .discrepancies
            .retain(|d| d.kind != SettlementKind::MissingInReport);
        assert_eq!(
            dropped.check_accounted(records.len(), ledger.len()),
            Err("ledger entry 3 is not accounted for".into())
        );

        let mut doubled = o.clone();
        let first = doubled.matched[0].clone();
        doubled.matched.push(first);
        assert_eq!(
            doubled.check_accounted(records.len(), ledger.len()),
            Err("record 0 is in 2 match(es) and 0 discrepancy(ies); ledger entry 0 is in 2 match(es), 0 discrepancy(ies) and 0 not-expected slot(s)".into())
        );

        let mut both = o.clone();
        both.not_expected.push(3);
        assert_eq!(
            both.check_accounted(records.len(), ledger.len()),
            Err(
                "ledger entry 3 is in 0 match(es), 1 discrepancy(ies) and 1 not-expected slot(s)"
                    .into()
            )
        );

        let mut wrong = o.clone();
        wrong.discrepancies[0].records.push(99);
        wrong.discrepancies[0].payout_items.push(42);
        assert_eq!(
            wrong.check_accounted(records.len(), ledger.len()),
            Err(
                "discrepancy record index 99 is out of range; payout item index 42 is out of range"
                    .into()
            )
        );

        let mut empty = o.clone();
        empty.discrepancies.push(SettlementDiscrepancy {
            kind: SettlementKind::Timing,
            records: vec![],
            ledger: vec![],
            payout_items: vec![],
            currency: cur("USD"),
            expected_minor: None,
            actual_minor: None,
            detail: String::new(),
        });
        assert_eq!(
            empty.check_accounted(records.len(), ledger.len()),
            Err("discrepancy 2 (timing) names nothing".into())
        );

        let mut repeated = o.clone();
        repeated.discrepancies[0].ledger = vec![3, 3];
        assert!(
            repeated
                .check_accounted(records.len(), ledger.len())
                .is_err_and(
                    |e| e.starts_with("discrepancy 0 (missing_in_report) names an index twice")
                )
        );

        // a different number of records or entries than the outcome was made for
        assert!(o.check_accounted(records.len() + 1, ledger.len()).is_err());
        assert!(o.check_accounted(records.len(), ledger.len() - 1).is_err());
    }
}
