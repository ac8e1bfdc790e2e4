//! Step 4 of the matching, in its own file: payout lines checked against the total of the ledger items carrying their payout id.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{
    MatchHow, Matched, SettlementDiscrepancy, SettlementKind, Work, days_between, money, non_blank,
};
use crate::money::Currency;
use crate::settlement::record::Kind;

impl<'a> Work<'a> {
    /// Payout lines whose payout id some ledger entry carries are checked by total (step 4).
    pub(super) fn classify_payouts(&mut self) {
        let carried: HashSet<&str> = self
            .leds
            .iter()
            .filter_map(|l| l.entry.payout_id.as_deref().and_then(non_blank))
            .collect();
        for r in &mut self.recs {
            if r.done || r.rec.kind != Kind::Payout {
                continue;
            }
            let payout = r
                .rec
                .payout_id
                .as_deref()
                .and_then(non_blank)
                .or_else(|| non_blank(&r.rec.record_id));
            r.payout = payout.filter(|p| carried.contains(p));
        }
    }

    /// Step 4: payout lines against the sum of the ledger items carrying their payout id.
    pub(super) fn payouts(&mut self) {
        let mut groups: BTreeMap<(&'a str, Currency), Vec<usize>> = BTreeMap::new();
        for (i, r) in self.recs.iter().enumerate() {
            if let (Some(p), false) = (r.payout, r.done) {
                groups.entry((p, r.rec.currency)).or_default().push(i);
            }
        }
        let mut items_by_payout: HashMap<&'a str, Vec<usize>> = HashMap::new();
        for (j, l) in self.leds.iter().enumerate() {
            let own_row = l
                .pair
                .is_some_and(|i| self.recs.get(i).is_some_and(|r| r.payout.is_some()));
            if l.shadow || own_row {
                continue;
            }
            if let Some(p) = l.entry.payout_id.as_deref().and_then(non_blank) {
                items_by_payout.entry(p).or_default().push(j);
            }
        }
        for ((payout, currency), lines) in groups {
            let mut items: Vec<usize> = items_by_payout
                .get(payout)
                .map(|all| {
                    all.iter()
                        .copied()
                        .filter(|&j| self.entry(j).currency == currency)
                        .collect()
                })
                .unwrap_or_default();
            items.sort_by(|&a, &b| self.entry(a).id.cmp(&self.entry(b).id).then(a.cmp(&b)));
            // Summed in 128 bits: exact for any number of 64-bit amounts a run can hold.
            let paid = lines.iter().try_fold(0i128, |sum, &i| {
                sum.checked_sub(i128::from(self.record(i).net_minor))
            });
            let expected = items.iter().try_fold(0i128, |sum, &j| {
                let e = self.entry(j);
                let fee = e
                    .fee_minor
                    .or_else(|| {
                        self.leds[j]
                            .pair
                            .map(|i| self.record(i))
                            .filter(|r| r.currency == currency)
                            .map(|r| r.fee_minor)
                    })
                    .unwrap_or(0);
                sum.checked_add(i128::from(e.amount_minor) - i128::from(fee))
            });
            let own_rows: Vec<usize> = lines.iter().filter_map(|&i| self.recs[i].pair).collect();
            for &i in &lines {
                self.recs[i].done = true;
            }
            if let (Some(paid), Some(expected)) = (paid, expected)
                && paid == expected
            {
                for &i in &lines {
                    if self.recs[i].flagged {
                        continue;
                    }
                    let r = self.record(i);
                    let own = self.recs[i].pair;
                    let (amount_diff_minor, days_apart) = own
                        .map(|j| {
                            let e = self.entry(j);
                            (
                                r.gross_minor.wrapping_sub(e.amount_minor),
                                days_between(r.created_at, e.at),
                            )
                        })
                        .unwrap_or((0, 0));
                    self.out.matched.push(Matched {
                        record: i,
                        ledger: own,
                        how: MatchHow::PayoutTotal,
                        amount_diff_minor,
                        days_apart,
                        payout_items: items.clone(),
                    });
                }
                continue;
            }
            let what = if lines.len() == 1 {
                format!("payout {payout} ({} ledger items)", items.len())
            } else {
                format!(
                    "payout {payout} ({} report lines, {} ledger items)",
                    lines.len(),
                    items.len()
                )
            };
            let paid_text = paid.map_or_else(
                || "report paid overflows 128-bit minor units".to_owned(),
                |p| format!("report paid {}", money(p, currency)),
            );
            let expected_text = expected.map_or_else(
                || "ledger items net overflows 128-bit minor units".to_owned(),
                |e| format!("ledger items net {}", money(e, currency)),
            );
            self.out.discrepancies.push(SettlementDiscrepancy {
                kind: SettlementKind::PayoutTotalMismatch,
                records: lines,
                ledger: own_rows,
                payout_items: items,
                currency,
                expected_minor: expected,
                actual_minor: paid,
                detail: format!("{what}: {paid_text}, {expected_text}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use crate::settlement::record::Kind;

    #[test]
    fn payout_total_equal() {
        let (records, mut ledger) = payout_fixture(2353);
        ledger.pop();
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(findings(&o, &records, &ledger), vec![]);
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("ch_1", Some("ch_1"), MatchHow::ExactId, 0),
                m("ch_2", Some("ch_2"), MatchHow::ExactId, 0),
                m("re_1", Some("re_1"), MatchHow::ExactId, 0),
                m("po_1", None, MatchHow::PayoutTotal, 0),
            ]
        );
        assert_eq!(o.matched[3].payout_items, vec![0, 1, 2]);
    }

    #[test]
    fn payout_total_off_by_one_minor_unit() {
        let (records, mut ledger) = payout_fixture(2354);
        ledger.pop();
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f(
                "payout_total_mismatch",
                &["po_1"],
                &[],
                Some(2353),
                Some(2354)
            )]
        );
        assert_eq!(
            details(&o),
            ["payout po_1 (3 ledger items): report paid 23.54 USD, ledger items net 23.53 USD"]
        );
        assert_eq!(o.discrepancies[0].payout_items, vec![0, 1, 2]);
        assert_eq!(o.matched.len(), 3, "the items still match on their own");
    }

    #[test]
    fn payout_items_without_report_lines_use_no_fee() {
        // only the payout line is in the report: items are missing, the total is 30.00 − 0.88
        let (records, mut ledger) = payout_fixture(2912);
        ledger.pop();
        let records = vec![records[3].clone()];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("missing_in_report", &[], &["ch_1"], Some(1000), None),
                f("missing_in_report", &[], &["ch_2"], Some(2000), None),
                f("missing_in_report", &[], &["re_1"], Some(-500), None),
                f(
                    "payout_total_mismatch",
                    &["po_1"],
                    &[],
                    Some(2412),
                    Some(2912)
                ),
            ]
        );
    }

    #[test]
    fn payout_with_mixed_currencies_is_compared_per_currency() {
        let mut lines = vec![
            payout_line(10, "batch_7_usd", -941, "USD"),
            payout_line(11, "batch_7_eur", -1999, "EUR"),
            payout_line(12, "batch_7_gbp", -100, "GBP"),
        ];
        for l in &mut lines {
            l.payout_id = Some("7".into());
        }
        let mut records = vec![
            charge(2, "u1", 1000, 59),
            rec(3, "e1", Kind::Charge, 2000, 0, "EUR"),
        ];
        records.extend(lines);
        let ledger = vec![
            in_payout(usd("u1", 1000), "7"),
            in_payout(led("e1", 2000, "EUR"), "7"),
        ];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f(
                    "payout_total_mismatch",
                    &["batch_7_eur"],
                    &[],
                    Some(2000),
                    Some(1999)
                ),
                f(
                    "payout_total_mismatch",
                    &["batch_7_gbp"],
                    &[],
                    Some(0),
                    Some(100)
                ),
            ]
        );
        assert_eq!(
            details(&o),
            [
                "payout 7 (1 ledger items): report paid 19.99 EUR, ledger items net 20.00 EUR",
                "payout 7 (0 ledger items): report paid 1.00 GBP, ledger items net 0.00 GBP",
            ]
        );
        assert_eq!(o.discrepancies[0].currency, cur("EUR"));
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("u1", Some("u1"), MatchHow::ExactId, 0),
                m("e1", Some("e1"), MatchHow::ExactId, 0),
                m("batch_7_usd", None, MatchHow::PayoutTotal, 0),
            ]
        );
    }

    #[test]
    fn several_payout_lines_of_one_payout_are_summed() {
        // a payout and its partial reversal (Stripe reports both as payout lines of one payout)
        let mut po = payout_line(3, "po_1", -1000, "USD");
        let mut reversal = payout_line(4, "pr_1", 400, "USD");
        po.payout_id = Some("po_1".into());
        reversal.payout_id = Some("po_1".into());
        let records = vec![charge(2, "ch_1", 600, 0), po, reversal];
        let ledger = vec![in_payout(usd("ch_1", 600), "po_1")];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(findings(&o, &records, &ledger), vec![]);
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("ch_1", Some("ch_1"), MatchHow::ExactId, 0),
                m("po_1", None, MatchHow::PayoutTotal, 0),
                m("pr_1", None, MatchHow::PayoutTotal, 0),
            ]
        );
        let ledger = vec![in_payout(usd("ch_1", 601), "po_1")];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f(
                    "amount_mismatch",
                    &["ch_1"],
                    &["ch_1"],
                    Some(601),
                    Some(600)
                ),
                f(
                    "payout_total_mismatch",
                    &["po_1", "pr_1"],
                    &[],
                    Some(601),
                    Some(600)
                ),
            ]
        );
        assert_eq!(
            details(&o)[1],
            "payout po_1 (2 report lines, 1 ledger items): report paid 6.00 USD, ledger items net 6.01 USD"
        );
    }

    #[test]
    fn payout_fee_from_a_tolerance_match_and_items_of_any_status() {
        // ord_1 has no ledger fee: the fee of the record paired by tolerance (0.59) is used;
        // ord_2 failed in the ledger, yet the ledger says po_1 paid it, so it counts
        let mut po = payout_line(4, "po_1", -(941 + 200), "USD");
        po.payout_id = Some("po_1".into());
        let records = vec![charge(2, "ch_1", 1000, 59), po];
        let ledger = vec![
            in_payout(usd("ord_1", 1000), "po_1"),
            in_payout(status(usd("ord_2", 200), Some("failed")), "po_1"),
        ];
        let rules = MatchRules {
            date_window_days: 1,
            settled_statuses: vec!["settled".into()],
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(findings(&o, &records, &ledger), vec![]);
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("ch_1", Some("ord_1"), MatchHow::Tolerance, 0),
                m("po_1", None, MatchHow::PayoutTotal, 0),
            ]
        );
        assert_eq!(o.matched[1].payout_items, vec![0, 1]);
        assert_eq!(o.not_expected, vec![1]);
    }

    #[test]
    fn payout_without_ledger_items_is_matched_by_id() {
        let records = vec![
            payout_line(2, "po_2", -5000, "USD"),
            payout_line(3, "po_3", -7000, "USD"),
        ];
        let ledger = vec![usd("po_2", -5000)];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("po_2", Some("po_2"), MatchHow::ExactId, 0)]
        );
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f("missing_in_ledger", &["po_3"], &[], None, Some(-7000))]
        );
    }

    #[test]
    fn payout_with_its_own_ledger_row_and_items() {
        let (records, mut ledger) = payout_fixture(2353);
        ledger.pop();
        // the ledger books the transfer itself too, tagged with its own payout id
        ledger.push(in_payout(usd("po_1", -2353), "po_1"));
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(findings(&o, &records, &ledger), vec![]);
        assert_eq!(
            matches(&o, &records, &ledger)[3],
            m("po_1", Some("po_1"), MatchHow::PayoutTotal, 0)
        );
        assert_eq!(o.matched[3].payout_items, vec![0, 1, 2]);

        // the own row disagrees with the line, the total still agrees
        ledger[3].amount_minor = -2300;
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f(
                "amount_mismatch",
                &["po_1"],
                &["po_1"],
                Some(-2300),
                Some(-2353)
            )]
        );
        assert_eq!(o.matched.len(), 3);

        // both disagree: the line is in both findings, the own row with it
        let (records, mut ledger) = payout_fixture(2350);
        ledger.pop();
        ledger.push(usd("po_1", -2353));
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f(
                    "amount_mismatch",
                    &["po_1"],
                    &["po_1"],
                    Some(-2353),
                    Some(-2350)
                ),
                f(
                    "payout_total_mismatch",
                    &["po_1"],
                    &["po_1"],
                    Some(2353),
                    Some(2350)
                ),
            ]
        );
    }

    #[test]
    fn payout_sum_counts_a_duplicated_ledger_id_once() {
        let mut po = payout_line(3, "po_1", -1000, "USD");
        po.payout_id = Some("po_1".into());
        let records = vec![charge(2, "ch_1", 1000, 0), po];
        let ledger = vec![
            in_payout(usd("ch_1", 1000), "po_1"),
            in_payout(usd("ch_1", 1000), "po_1"),
        ];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f(
                "duplicate_in_ledger",
                &["ch_1"],
                &["ch_1", "ch_1"],
                None,
                None
            )]
        );
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("po_1", None, MatchHow::PayoutTotal, 0)]
        );
    }

    #[test]
    fn payout_sums_past_64_bits_are_exact() {
        // ledger items past i64::MAX
        let mut po = payout_line(4, "po_1", -1000, "USD");
        po.payout_id = Some("po_1".into());
        let records = vec![po];
        let ledger = vec![
            in_payout(booked(usd("a", i64::MAX), end()), "po_1"),
            in_payout(booked(usd("b", 1), end()), "po_1"),
        ];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                wide(
                    "payout_total_mismatch",
                    &["po_1"],
                    &[],
                    Some(1 << 63),
                    Some(1000)
                ),
                f("timing", &[], &["a"], Some(i64::MAX), None),
                f("timing", &[], &["b"], Some(1), None),
            ]
        );
        assert_eq!(
            details(&o)[0],
            "payout po_1 (2 ledger items): report paid 10.00 USD, ledger items net 92233720368547758.08 USD"
        );

        // amount − fee of one item past i64::MIN
        let ledger = vec![in_payout(
            with_fee(booked(usd("a", i64::MIN), end()), 1),
            "po_1",
        )];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(o.discrepancies[0].expected_minor, Some(-(1 << 63) - 1));

        // the payout's own net, negated, past i64::MAX
        let mut po = payout_line(4, "po_1", 0, "USD");
        po.net_minor = i64::MIN;
        po.payout_id = Some("po_1".into());
        let records = vec![po];
        let ledger = vec![in_payout(booked(usd("a", 5), end()), "po_1")];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger)[0],
            wide(
                "payout_total_mismatch",
                &["po_1"],
                &[],
                Some(5),
                Some(1 << 63)
            )
        );
        assert_eq!(
            details(&o)[0],
            "payout po_1 (1 ledger items): report paid 92233720368547758.08 USD, ledger items net 0.05 USD"
        );

        // extreme amounts in comparisons and tolerance
        let mut extreme = charge(2, "ch_1", i64::MAX, 0);
        extreme.fee_minor = i64::MIN + 1;
        let records = vec![extreme, charge(3, "ch_2", i64::MIN, 0)];
        let ledger = vec![
            with_fee(usd("ch_1", i64::MIN), i64::MAX),
            usd("z", i64::MAX),
        ];
        for tolerance in [0, 1, i64::MAX] {
            let rules = MatchRules {
                amount_tolerance_minor: tolerance,
                date_window_days: u32::MAX,
                timing_window_days: u32::MAX,
                ..MatchRules::default()
            };
            let o = run(&records, &ledger, &rules);
            assert_eq!(
                findings(&o, &records, &ledger),
                vec![
                    f("missing_in_ledger", &["ch_2"], &[], None, Some(i64::MIN)),
                    f(
                        "amount_mismatch",
                        &["ch_1"],
                        &["ch_1"],
                        Some(i64::MIN),
                        Some(i64::MAX)
                    ),
                    f(
                        "fee_mismatch",
                        &["ch_1"],
                        &["ch_1"],
                        Some(i64::MAX),
                        Some(i64::MIN + 1)
                    ),
                    f("timing", &[], &["z"], Some(i64::MAX), None),
                ]
            );
        }
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            details(&o)[2],
            "report 92233720368547758.07 USD, ledger -92233720368547758.08 USD, tolerance 0.00 USD"
        );
    }
}
