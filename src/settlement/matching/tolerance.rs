//! Step 3 of the matching, in its own file: leftovers paired by amount within the tolerance and date within the window, when either is set.

use std::collections::BTreeMap;

use super::{MatchHow, Matched, Work, days_between};
use crate::money::Currency;
use crate::settlement::record::Kind;

/// Most candidate pairs the tolerance step builds per currency; beyond it the step is skipped for
/// that currency (leftovers stay `missing_*`) and a warning says so, so that a misconfigured run
/// cannot exhaust memory.
pub(crate) const TOLERANCE_CANDIDATE_LIMIT: usize = 1_000_000;

impl Work<'_> {
    /// Step 3: pairs leftovers by amount within tolerance and date within the window.
    pub(super) fn tolerance(&mut self) {
        struct Candidate {
            amount: u64,
            days: i64,
            seconds: i64,
            i: usize,
            j: usize,
        }
        let tolerance = self.rules.amount_tolerance_minor.max(0);
        let window = i64::from(self.rules.date_window_days);
        let mut ledger_by_currency: BTreeMap<Currency, Vec<usize>> = BTreeMap::new();
        for (j, l) in self.leds.iter().enumerate() {
            if !l.done && l.settled {
                ledger_by_currency
                    .entry(l.entry.currency)
                    .or_default()
                    .push(j);
            }
        }
        for (currency, mut led_ids) in ledger_by_currency {
            led_ids.sort_by_key(|&j| (self.entry(j).amount_minor, j));
            let rec_ids: Vec<usize> = self
                .recs
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    !r.done
                        && r.payout.is_none()
                        && r.rec.kind != Kind::Payout
                        && r.rec.currency == currency
                })
                .map(|(i, _)| i)
                .collect();
            let mut candidates = Vec::new();
            let mut over_limit = false;
            'records: for &i in &rec_ids {
                let r = self.record(i);
                let low = i128::from(r.gross_minor) - i128::from(tolerance);
                let high = i128::from(r.gross_minor) + i128::from(tolerance);
                let from =
                    led_ids.partition_point(|&j| i128::from(self.entry(j).amount_minor) < low);
                let to =
                    led_ids.partition_point(|&j| i128::from(self.entry(j).amount_minor) <= high);
                for &j in led_ids.get(from..to).unwrap_or_default() {
                    let e = self.entry(j);
                    let days = days_between(r.created_at, e.at);
                    if days > window {
                        continue;
                    }
                    if candidates.len() >= TOLERANCE_CANDIDATE_LIMIT {
                        over_limit = true;
                        break 'records;
                    }
                    candidates.push(Candidate {
                        amount: r.gross_minor.abs_diff(e.amount_minor),
                        days,
                        seconds: r.created_at.signed_duration_since(e.at).num_seconds().abs(),
                        i,
                        j,
                    });
                }
            }
            if over_limit {
                self.out.warnings.push(format!(
                    "tolerance matching skipped for {currency}: more than {TOLERANCE_CANDIDATE_LIMIT} candidate pairs; its leftovers are reported as missing"
                ));
                continue;
            }
            candidates.sort_by(|a, b| {
                (a.amount, a.days, a.seconds)
                    .cmp(&(b.amount, b.days, b.seconds))
                    .then_with(|| self.record(a.i).record_id.cmp(&self.record(b.i).record_id))
                    .then_with(|| self.entry(a.j).id.cmp(&self.entry(b.j).id))
                    .then_with(|| (a.i, a.j).cmp(&(b.i, b.j)))
            });
            for c in candidates {
                if self.recs[c.i].done || self.leds[c.j].done {
                    continue;
                }
                let r = self.record(c.i);
                let e = self.entry(c.j);
                self.recs[c.i].done = true;
                self.recs[c.i].pair = Some(c.j);
                self.leds[c.j].done = true;
                self.leds[c.j].pair = Some(c.i);
                self.out.matched.push(Matched {
                    record: c.i,
                    ledger: Some(c.j),
                    how: MatchHow::Tolerance,
                    amount_diff_minor: r.gross_minor.wrapping_sub(e.amount_minor),
                    days_apart: c.days,
                    payout_items: Vec::new(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use crate::settlement::record::Kind;

    #[test]
    fn tolerance_picks_the_closest_and_never_reuses_a_ledger_entry() {
        let records = vec![
            charge(2, "a", 1000, 0),
            charge(3, "b", 1002, 0),
            charge(4, "c", 1003, 0),
        ];
        let ledger = vec![usd("y", 1004), usd("x", 1001)];
        let rules = MatchRules {
            amount_tolerance_minor: 5,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        // a–x and b–x are both 1 apart: a wins on the id; then c–y (1) beats b–y (2)
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("a", Some("x"), MatchHow::Tolerance, -1),
                m("c", Some("y"), MatchHow::Tolerance, -1),
            ]
        );
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f("missing_in_ledger", &["b"], &[], None, Some(1002))]
        );
    }

    #[test]
    fn tolerance_prefers_the_closer_date_and_respects_the_window() {
        let mut records = vec![charge(2, "a", 1000, 0), charge(3, "b", 2000, 0)];
        records[0].created_at = at(5, 23, 0, 0);
        records[1].created_at = at(5, 12, 0, 0);
        let ledger = vec![
            booked(usd("earlier", 1000), at(4, 23, 0, 0)),
            booked(usd("same_day", 1000), at(5, 0, 30, 0)),
            booked(usd("far", 2000), at(8, 12, 0, 0)),
            booked(status(usd("failed", 1000), Some("failed")), at(5, 23, 0, 0)),
        ];
        let rules = MatchRules {
            date_window_days: 2,
            settled_statuses: vec!["settled".into()],
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        // calendar days: same_day (0 days, 22.5 h) beats earlier (1 day, 24 h); `failed` is not a
        // candidate; `far` is 3 days away, beyond the window
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("a", Some("same_day"), MatchHow::Tolerance, 0)]
        );
        assert_eq!(o.matched[0].days_apart, 0);
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("missing_in_ledger", &["b"], &[], None, Some(2000)),
                f("missing_in_report", &[], &["earlier"], Some(1000), None),
                f("timing", &[], &["far"], Some(2000), None),
            ]
        );
        assert_eq!(o.not_expected, vec![3]);
        // a window of 3 days reaches `far`
        let rules = MatchRules {
            date_window_days: 3,
            ..rules
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("a", Some("same_day"), MatchHow::Tolerance, 0),
                m("b", Some("far"), MatchHow::Tolerance, 0),
            ]
        );
        assert_eq!(o.matched[1].days_apart, 3);
    }

    #[test]
    fn tolerance_only_same_currency_and_never_payout_lines() {
        let records = vec![
            rec(2, "a", Kind::Charge, 1000, 0, "EUR"),
            rec(3, "po_9", Kind::Payout, -5000, 0, "USD"),
        ];
        let ledger = vec![usd("x", 1000), usd("y", -5000)];
        let rules = MatchRules {
            amount_tolerance_minor: 1,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(o.matched, vec![]);
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("missing_in_ledger", &["a"], &[], None, Some(1000)),
                f("missing_in_ledger", &["po_9"], &[], None, Some(-5000)),
                f("missing_in_report", &[], &["x"], Some(1000), None),
                f("missing_in_report", &[], &["y"], Some(-5000), None),
            ]
        );
    }

    #[test]
    fn no_tolerance_step_without_tolerance_or_window() {
        let records = vec![charge(2, "a", 1000, 0)];
        let ledger = vec![booked(usd("x", 1000), at(1, 0, 0, 0))];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("missing_in_ledger", &["a"], &[], None, Some(1000)),
                f("missing_in_report", &[], &["x"], Some(1000), None),
            ]
        );
        // a window alone matches exact amounts on near dates
        let rules = MatchRules {
            date_window_days: 4,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("a", Some("x"), MatchHow::Tolerance, 0)]
        );
        assert_eq!(o.matched[0].days_apart, 4);
    }

    #[test]
    fn tolerance_candidate_limit_degrades_loudly() {
        // 1001 × 1000 same-amount candidates exceed the limit: the step is skipped for USD only
        let records: Vec<SettlementRecord> = (0..1001)
            .map(|n| charge(n + 2, &format!("r{n}"), 1000, 0))
            .collect();
        let mut ledger: Vec<LedgerEntry> = (0..1000).map(|n| usd(&format!("l{n}"), 1000)).collect();
        let mut eur = rec(5000, "e", Kind::Charge, 10, 0, "EUR");
        eur.record_id = "eur_r".into();
        let mut records = records;
        records.push(eur);
        ledger.push(led("eur_l", 11, "EUR"));
        let rules = MatchRules {
            amount_tolerance_minor: 1,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(
            o.warnings,
            [
                "tolerance matching skipped for USD: more than 1000000 candidate pairs; its leftovers are reported as missing"
            ]
        );
        assert_eq!(o.matched.len(), 1);
        assert_eq!(o.of_kind(SettlementKind::MissingInLedger).count(), 1001);
        assert_eq!(o.of_kind(SettlementKind::MissingInReport).count(), 1000);
    }
}
