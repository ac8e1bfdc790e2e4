//! Step 2 of the matching, in its own file: a record and the ledger entry carrying its id are paired and compared.

use super::{Matched, SettlementDiscrepancy, SettlementKind, Work, money, settled_note};

impl Work<'_> {
    /// Step 2: pairs by equal id and compares them.
    pub(super) fn exact(&mut self) {
        let by_key = std::mem::take(&mut self.by_key);
        for (rec_ids, led_ids) in by_key.values() {
            let [j] = led_ids.as_slice() else { continue };
            let j = *j;
            if self.leds[j].done {
                continue;
            }
            let e = self.entry(j);
            let best = rec_ids
                .iter()
                .copied()
                .filter(|&i| !self.recs[i].done)
                .min_by_key(|&i| {
                    let r = self.record(i);
                    (
                        r.currency != e.currency,
                        r.gross_minor.abs_diff(e.amount_minor),
                        r.kind,
                        r.source.clone(),
                        i,
                    )
                });
            let Some(i) = best else { continue };
            self.recs[i].pair = Some(j);
            self.leds[j].pair = Some(i);
            self.leds[j].done = true;
            let findings = self.compare(i, j);
            if self.recs[i].payout.is_some() {
                // a payout line and its own ledger row: the total is checked in step 4
                self.recs[i].flagged = !findings.is_empty();
                self.out.discrepancies.extend(findings);
                continue;
            }
            self.recs[i].done = true;
            if findings.is_empty() {
                self.out
                    .matched
                    .push(Matched::exact_id(i, self.record(i), j, e));
            } else {
                self.out.discrepancies.extend(findings);
            }
        }
        self.by_key = by_key;
    }

    /// The findings for a record paired with a ledger entry by id.
    fn compare(&self, i: usize, j: usize) -> Vec<SettlementDiscrepancy> {
        let r = self.record(i);
        let e = self.entry(j);
        let finding = |kind, amounts: (Option<i64>, Option<i64>), detail| SettlementDiscrepancy {
            kind,
            records: vec![i],
            ledger: vec![j],
            payout_items: Vec::new(),
            currency: r.currency,
            expected_minor: amounts.0.map(i128::from),
            actual_minor: amounts.1.map(i128::from),
            detail,
        };
        if r.currency != e.currency {
            return vec![finding(
                SettlementKind::CurrencyMismatch,
                (None, None),
                format!(
                    "report {}, ledger {}{}",
                    money(r.gross_minor, r.currency),
                    money(e.amount_minor, e.currency),
                    settled_note(r)
                ),
            )];
        }
        let c = r.currency;
        let mut findings = Vec::new();
        let tolerance = self.rules.amount_tolerance_minor.max(0).unsigned_abs();
        let diff = r.gross_minor.abs_diff(e.amount_minor);
        if diff > tolerance {
            let by = match r.gross_minor.checked_sub(e.amount_minor) {
                Some(signed) => format!(" (report − ledger = {})", money(signed, c)),
                None => String::new(),
            };
            findings.push(finding(
                SettlementKind::AmountMismatch,
                (Some(e.amount_minor), Some(r.gross_minor)),
                format!(
                    "report {}, ledger {}{by}, tolerance {}{}",
                    money(r.gross_minor, c),
                    money(e.amount_minor, c),
                    money(self.rules.amount_tolerance_minor.max(0), c),
                    settled_note(r)
                ),
            ));
        }
        let own_fee = r.comparable_fee();
        if let Some(fee) = e
            .fee_minor
            .filter(|&fee| own_fee.is_some_and(|own| own != fee))
        {
            findings.push(finding(
                SettlementKind::FeeMismatch,
                (Some(fee), Some(r.fee_minor)),
                format!(
                    "fee: report {}, ledger {}",
                    money(r.fee_minor, c),
                    money(fee, c)
                ),
            ));
        }
        if !self.leds[j].settled {
            let status = e
                .status
                .as_deref()
                .map_or_else(|| "no status".to_owned(), |s| format!("status `{s}`"));
            findings.push(finding(
                SettlementKind::StatusMismatch,
                (None, None),
                format!(
                    "the report settled {}, but the ledger has {status} (settled: {})",
                    money(r.gross_minor, c),
                    self.rules.settled_statuses.join(", ")
                ),
            ));
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use crate::settlement::record::Kind;

    #[test]
    fn clean_exact_matches() {
        let records = vec![
            charge(2, "ch_1", 1000, 59),
            charge(3, "ch_2", 2500, 103),
            rec(4, "re_1", Kind::Refund, -1000, 0, "USD"),
        ];
        let ledger = vec![
            usd("re_1", -1000),
            with_fee(usd("ch_2", 2500), 103),
            status(usd("ch_1", 1000), Some(" Settled ")),
        ];
        let o = run(&records, &ledger, &settled_only());
        assert_eq!(findings(&o, &records, &ledger), vec![]);
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("ch_1", Some("ch_1"), MatchHow::ExactId, 0),
                m("ch_2", Some("ch_2"), MatchHow::ExactId, 0),
                m("re_1", Some("re_1"), MatchHow::ExactId, 0),
            ]
        );
        assert!(o.not_expected.is_empty() && o.warnings.is_empty());
        assert!(
            o.matched
                .iter()
                .all(|m| m.days_apart == 0 && m.payout_items.is_empty())
        );
    }

    #[test]
    fn amount_mismatch_with_detail() {
        let records = vec![charge(2, "ch_1", 1000, 0)];
        let ledger = vec![usd("ch_1", 999)];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f(
                "amount_mismatch",
                &["ch_1"],
                &["ch_1"],
                Some(999),
                Some(1000)
            )]
        );
        assert_eq!(
            details(&o),
            ["report 10.00 USD, ledger 9.99 USD (report − ledger = 0.01 USD), tolerance 0.00 USD"]
        );
        assert_eq!(o.discrepancies[0].currency, cur("USD"));
        assert!(o.matched.is_empty());
    }

    #[test]
    fn exact_id_within_tolerance_is_matched_with_its_difference() {
        let records = vec![charge(2, "ch_1", 1000, 0), charge(3, "ch_2", 1000, 0)];
        let ledger = vec![usd("ch_1", 998), usd("ch_2", 1003)];
        let rules = MatchRules {
            amount_tolerance_minor: 2,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f(
                "amount_mismatch",
                &["ch_2"],
                &["ch_2"],
                Some(1003),
                Some(1000)
            )]
        );
        assert_eq!(
            details(&o),
            [
                "report 10.00 USD, ledger 10.03 USD (report − ledger = -0.03 USD), tolerance 0.02 USD"
            ]
        );
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("ch_1", Some("ch_1"), MatchHow::ExactId, 2)]
        );
    }

    #[test]
    fn negative_tolerance_counts_as_exact() {
        let records = vec![charge(2, "ch_1", 1000, 0)];
        let ledger = vec![usd("ch_1", 1000)];
        let rules = MatchRules {
            amount_tolerance_minor: -5,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("ch_1", Some("ch_1"), MatchHow::ExactId, 0)]
        );
        let ledger = vec![usd("ch_1", 1001)];
        let o = run(&records, &ledger, &rules);
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f(
                "amount_mismatch",
                &["ch_1"],
                &["ch_1"],
                Some(1001),
                Some(1000)
            )]
        );
    }

    #[test]
    fn amount_and_fee_mismatch_are_separate_findings() {
        let records = vec![charge(2, "ch_1", 1000, 59), charge(3, "ch_2", 500, 30)];
        let ledger = vec![
            with_fee(usd("ch_1", 1100), 60),
            with_fee(usd("ch_2", 500), 29),
        ];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f(
                    "amount_mismatch",
                    &["ch_1"],
                    &["ch_1"],
                    Some(1100),
                    Some(1000)
                ),
                f("fee_mismatch", &["ch_1"], &["ch_1"], Some(60), Some(59)),
                f("fee_mismatch", &["ch_2"], &["ch_2"], Some(29), Some(30)),
            ]
        );
        assert_eq!(details(&o)[1], "fee: report 0.59 USD, ledger 0.60 USD");
        assert!(o.matched.is_empty());
    }

    #[test]
    fn currency_mismatch_is_the_only_finding_for_the_pair() {
        let records = vec![charge(2, "ch_1", 1000, 59)];
        let ledger = vec![status(with_fee(led("ch_1", 900, "EUR"), 1), Some("failed"))];
        let o = run(&records, &ledger, &settled_only());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f("currency_mismatch", &["ch_1"], &["ch_1"], None, None)]
        );
        assert_eq!(details(&o), ["report 10.00 USD, ledger 9.00 EUR"]);
        assert_eq!(o.discrepancies[0].currency, cur("USD"));
    }

    #[test]
    fn status_mismatch_when_the_ledger_says_not_settled() {
        let records = vec![
            charge(2, "ch_1", 1000, 0),
            charge(3, "ch_2", 700, 0),
            charge(4, "ch_3", 300, 0),
        ];
        let ledger = vec![
            status(usd("ch_1", 1000), Some("pending")),
            status(usd("ch_2", 700), None),
            status(usd("ch_3", 300), Some("SETTLED")),
        ];
        let rules = MatchRules {
            settled_statuses: vec!["settled".into(), "paid".into()],
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("status_mismatch", &["ch_1"], &["ch_1"], None, None),
                f("status_mismatch", &["ch_2"], &["ch_2"], None, None),
            ]
        );
        assert_eq!(
            details(&o),
            [
                "the report settled 10.00 USD, but the ledger has status `pending` (settled: settled, paid)",
                "the report settled 7.00 USD, but the ledger has no status (settled: settled, paid)",
            ]
        );
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("ch_3", Some("ch_3"), MatchHow::ExactId, 0)]
        );
        // no settled statuses configured: any status is fine
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(findings(&o, &records, &ledger), vec![]);
        assert_eq!(o.matched.len(), 3);
    }

    #[test]
    fn reference_matching_charge_and_refund_share_a_reference() {
        let mut ch = charge(2, "ch_1", 1000, 30);
        ch.reference = Some("order-7".into());
        let mut re = rec(3, "re_1", Kind::Refund, -1000, 0, "USD");
        re.reference = Some("order-7".into());
        let mut no_ref = charge(4, "ch_9", 100, 0);
        no_ref.reference = Some("  ".into());
        let records = vec![re, ch, no_ref];
        let ledger = vec![usd("order-7", 1000), usd("ch_9", 100)];
        let rules = MatchRules {
            match_on: MatchOn::Reference,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        // the charge (closest amount) takes the ledger entry; the refund is no duplicate
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("ch_1", Some("order-7"), MatchHow::ExactId, 0)]
        );
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("missing_in_ledger", &["re_1"], &[], None, Some(-1000)),
                f("missing_in_ledger", &["ch_9"], &[], None, Some(100)),
                f("missing_in_report", &[], &["ch_9"], Some(100), None),
            ]
        );
        assert_eq!(
            details(&o)[..2],
            [
                "report refund -10.00 USD: the ledger entry order-7 was paired with another report line",
                "report charge 1.00 USD has no reference to match on",
            ]
        );
    }

    #[test]
    fn zero_and_three_decimal_currencies_in_details() {
        let records = vec![
            rec(2, "jp_1", Kind::Charge, 1000, 36, "JPY"),
            rec(3, "kw_1", Kind::Charge, 1234, 5, "KWD"),
            rec(4, "kw_2", Kind::Refund, -5, 0, "KWD"),
        ];
        let ledger = vec![
            with_fee(led("jp_1", 999, "JPY"), 35),
            led("kw_1", 1230, "KWD"),
            booked(led("kw_3", 2500, "KWD"), at(1, 0, 0, 0)),
        ];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("missing_in_ledger", &["kw_2"], &[], None, Some(-5)),
                f("missing_in_report", &[], &["kw_3"], Some(2500), None),
                f(
                    "amount_mismatch",
                    &["jp_1"],
                    &["jp_1"],
                    Some(999),
                    Some(1000)
                ),
                f(
                    "amount_mismatch",
                    &["kw_1"],
                    &["kw_1"],
                    Some(1230),
                    Some(1234)
                ),
                f("fee_mismatch", &["jp_1"], &["jp_1"], Some(35), Some(36)),
            ]
        );
        assert_eq!(
            details(&o),
            [
                "report refund -0.005 KWD: no ledger entry has id kw_2",
                "ledger 2.500 KWD booked 2024-03-01 00:00:00 UTC is not in the report, 9 day(s) before the business day end (timing window 3 days)",
                "report 1000 JPY, ledger 999 JPY (report − ledger = 1 JPY), tolerance 0 JPY",
                "report 1.234 KWD, ledger 1.230 KWD (report − ledger = 0.004 KWD), tolerance 0.000 KWD",
                "fee: report 36 JPY, ledger 35 JPY",
            ]
        );
        let currencies: Vec<&str> = o.discrepancies.iter().map(|d| d.currency.code()).collect();
        assert_eq!(currencies, ["KWD", "KWD", "JPY", "KWD", "JPY"]);
    }

    #[test]
    fn refunds_and_disputes_with_negative_amounts() {
        let records = vec![
            rec(2, "re_1", Kind::Refund, -1000, 0, "USD"),
            rec(3, "dp_1", Kind::Dispute, -1500, 1500, "USD"),
            rec(4, "dp_2", Kind::Dispute, -1500, 1500, "USD"),
            rec(5, "pdr_1", Kind::DisputeReversal, 1500, -1500, "USD"),
            rec(6, "re_2", Kind::Refund, -300, 0, "USD"),
        ];
        let ledger = vec![
            usd("re_1", -1000),
            with_fee(usd("dp_1", -1500), 1500),
            usd("dp_2", -1499),
            with_fee(usd("pdr_1", 1500), -1500),
            usd("re_2", 300),
        ];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f(
                    "amount_mismatch",
                    &["dp_2"],
                    &["dp_2"],
                    Some(-1499),
                    Some(-1500)
                ),
                f(
                    "amount_mismatch",
                    &["re_2"],
                    &["re_2"],
                    Some(300),
                    Some(-300)
                ),
            ]
        );
        assert_eq!(
            details(&o),
            [
                "report -15.00 USD, ledger -14.99 USD (report − ledger = -0.01 USD), tolerance 0.00 USD",
                "report -3.00 USD, ledger 3.00 USD (report − ledger = -6.00 USD), tolerance 0.00 USD",
            ]
        );
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("re_1", Some("re_1"), MatchHow::ExactId, 0),
                m("dp_1", Some("dp_1"), MatchHow::ExactId, 0),
                m("pdr_1", Some("pdr_1"), MatchHow::ExactId, 0),
            ]
        );
    }

    /// Presented in USD, settled in EUR: matched on the USD gross, the ledger's fee (in USD)
    /// not compared with a fee charged in EUR, the settlement shown with any finding.
    #[test]
    fn cross_currency_lines_match_on_gross_and_show_their_settlement() {
        let settled = |mut r: SettlementRecord| {
            r.links = crate::settlement::record::Links {
                settled_as: Some(crate::settlement::record::SettledAs {
                    currency: cur("EUR"),
                    fee_minor: 200,
                    net_minor: 9700,
                }),
                ..Default::default()
            }
            .boxed();
            r
        };
        let records = vec![
            settled(charge(2, "psp_1", 11000, 0)),
            settled(charge(3, "psp_2", 11000, 0)),
        ];
        let ledger = vec![
            with_fee(usd("psp_1", 11000), 222),
            with_fee(usd("psp_2", 10000), 222),
        ];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(o.check_accounted(records.len(), ledger.len()), Ok(()));
        assert_eq!(matches(&o, &records, &ledger).len(), 1);
        assert_eq!(
            details(&o),
            [
                "report 110.00 USD, ledger 100.00 USD (report − ledger = 10.00 USD), tolerance 0.00 USD (settled as 97.00 EUR net, fee 2.00 EUR)"
            ]
        );
    }
}
