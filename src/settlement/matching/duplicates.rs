//! Step 1 of the matching, in its own file: ids carried more than once on either side are reported once and frozen, so that no later step matches them.

use std::collections::{BTreeMap, HashSet};

use super::{SettlementKind, Work, money};
use crate::settlement::record::Kind;

impl Work<'_> {
    /// Step 1: ids duplicated on either side are reported once and frozen.
    pub(super) fn duplicates(&mut self) {
        let by_key = std::mem::take(&mut self.by_key);
        for (key, (rec_ids, led_ids)) in &by_key {
            let mut by_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
            for &i in rec_ids {
                by_kind.entry(self.record(i).kind).or_default().push(i);
            }
            let report_dups: Vec<(Kind, Vec<usize>)> = by_kind
                .into_iter()
                .filter(|(_, group)| group.len() >= 2)
                .collect();
            let ledger_dup = led_ids.len() >= 2;
            if report_dups.is_empty() && !ledger_dup {
                continue;
            }
            let in_groups: HashSet<usize> = report_dups
                .iter()
                .flat_map(|(_, group)| group.iter().copied())
                .collect();
            let bystanders: Vec<usize> = rec_ids
                .iter()
                .copied()
                .filter(|i| !in_groups.contains(i))
                .collect();
            for (n, (kind, group)) in report_dups.iter().enumerate() {
                let lines: Vec<String> = group
                    .iter()
                    .map(|&i| {
                        let r = self.record(i);
                        format!("{} {}", r.source, money(r.gross_minor, r.currency))
                    })
                    .collect();
                let mut detail = format!(
                    "{} report {kind} lines carry id {key}: {}",
                    group.len(),
                    lines.join(", ")
                );
                let mut records = group.clone();
                let mut ledger = Vec::new();
                if n == 0 && !ledger_dup {
                    let also: Vec<String> = bystanders
                        .iter()
                        .map(|&i| self.describe_record(i))
                        .chain(led_ids.iter().map(|&j| self.describe_entry(j)))
                        .collect();
                    if !also.is_empty() {
                        detail.push_str(&format!("; not matched either: {}", also.join(", ")));
                    }
                    records.extend(bystanders.iter().copied());
                    ledger.extend(led_ids.iter().copied());
                }
                let Some(currency) = group.first().map(|&i| self.record(i).currency) else {
                    continue;
                };
                self.push(
                    SettlementKind::DuplicateInReport,
                    records,
                    ledger,
                    currency,
                    (None, None),
                    detail,
                );
            }
            if let (true, Some(&first)) = (ledger_dup, led_ids.first()) {
                let amounts: Vec<String> = led_ids
                    .iter()
                    .map(|&j| {
                        let e = self.entry(j);
                        money(e.amount_minor, e.currency)
                    })
                    .collect();
                let mut detail = format!(
                    "{} ledger entries carry id {key}: {}",
                    led_ids.len(),
                    amounts.join(", ")
                );
                if !bystanders.is_empty() {
                    let lines: Vec<String> = bystanders
                        .iter()
                        .map(|&i| self.describe_record(i))
                        .collect();
                    detail.push_str(&format!("; not matched either: {}", lines.join(", ")));
                }
                self.push(
                    SettlementKind::DuplicateInLedger,
                    bystanders,
                    led_ids.clone(),
                    self.entry(first).currency,
                    (None, None),
                    detail,
                );
                for &j in led_ids.iter().skip(1) {
                    self.leds[j].shadow = true;
                }
            }
            for &i in rec_ids {
                self.recs[i].done = true;
            }
            for &j in led_ids {
                self.leds[j].done = true;
            }
        }
        self.by_key = by_key;
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use crate::settlement::record::Kind;

    #[test]
    fn duplicate_in_report_names_every_line_and_freezes_the_id() {
        let records = vec![
            charge(2, "ch_1", 1000, 0),
            charge(3, "ch_2", 500, 0),
            charge(7, "ch_1", 1000, 0),
            charge(9, "ch_1", 1000, 0),
        ];
        let ledger = vec![usd("ch_1", 1000), usd("ch_2", 500)];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f(
                "duplicate_in_report",
                &["ch_1", "ch_1", "ch_1"],
                &["ch_1"],
                None,
                None
            )]
        );
        assert_eq!(o.discrepancies[0].records, vec![0, 2, 3], "ordered by line");
        assert_eq!(
            details(&o),
            [
                "3 report charge lines carry id ch_1: r.csv:2 10.00 USD, r.csv:7 10.00 USD, r.csv:9 10.00 USD; not matched either: ledger ch_1 10.00 USD"
            ]
        );
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![m("ch_2", Some("ch_2"), MatchHow::ExactId, 0)]
        );
    }

    #[test]
    fn duplicate_in_report_without_a_ledger_entry() {
        let records = vec![charge(2, "ch_1", 1000, 0), charge(3, "ch_1", 1200, 0)];
        let o = run(&records, &[], &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &[]),
            vec![f("duplicate_in_report", &["ch_1", "ch_1"], &[], None, None)]
        );
        assert_eq!(
            details(&o),
            ["2 report charge lines carry id ch_1: r.csv:2 10.00 USD, r.csv:3 12.00 USD"]
        );
    }

    #[test]
    fn duplicate_in_ledger_names_the_record_too() {
        let records = vec![charge(2, "ch_1", 1000, 0)];
        let ledger = vec![usd("ch_1", 1000), usd("x", 5), usd("ch_1", 1000)];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("missing_in_report", &[], &["x"], Some(5), None),
                f(
                    "duplicate_in_ledger",
                    &["ch_1"],
                    &["ch_1", "ch_1"],
                    None,
                    None
                ),
            ]
        );
        assert_eq!(
            details(&o)[1],
            "2 ledger entries carry id ch_1: 10.00 USD, 10.00 USD; not matched either: r.csv:2 charge 10.00 USD"
        );
    }

    #[test]
    fn duplicates_on_both_sides() {
        let mut refund = rec(4, "ch_1", Kind::Refund, -1000, 0, "USD");
        refund.created_at = at(6, 0, 0, 0);
        let records = vec![
            charge(2, "ch_1", 1000, 0),
            charge(3, "ch_1", 1000, 0),
            refund,
        ];
        let ledger = vec![usd("ch_1", 1000), usd("ch_1", -1000)];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("duplicate_in_report", &["ch_1", "ch_1"], &[], None, None),
                f(
                    "duplicate_in_ledger",
                    &["ch_1"],
                    &["ch_1", "ch_1"],
                    None,
                    None
                ),
            ]
        );
        assert_eq!(
            o.discrepancies[1].records,
            vec![2],
            "the refund goes with the ledger duplicate"
        );
    }

    #[test]
    fn reference_duplicates_freeze_other_kinds_too() {
        let mut records = vec![
            charge(2, "ch_1", 1000, 0),
            charge(3, "ch_2", 1000, 0),
            rec(4, "re_1", Kind::Refund, -1000, 0, "USD"),
        ];
        for r in &mut records {
            r.reference = Some("order-7".into());
        }
        let ledger = vec![usd("order-7", 1000)];
        let rules = MatchRules {
            match_on: MatchOn::Reference,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![f(
                "duplicate_in_report",
                &["ch_1", "ch_2", "re_1"],
                &["order-7"],
                None,
                None
            )]
        );
        assert_eq!(
            details(&o),
            [
                "2 report charge lines carry id order-7: r.csv:2 10.00 USD, r.csv:3 10.00 USD; not matched either: r.csv:4 refund -10.00 USD, ledger order-7 10.00 USD"
            ]
        );
    }
}
