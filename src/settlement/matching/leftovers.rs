//! Step 5 of the matching, in its own file: whatever no earlier step accounted for is named missing, in timing, or not expected.

use chrono::{DateTime, TimeDelta, Utc};

use super::{MatchOn, SettlementKind, Work, line_note, money};

impl Work<'_> {
    /// Step 5: whatever is left.
    pub(super) fn leftovers(&mut self, business_day_end: DateTime<Utc>) {
        for i in 0..self.recs.len() {
            if self.recs[i].done {
                continue;
            }
            self.recs[i].done = true;
            let r = self.record(i);
            let what = format!(
                "report {} {}{}",
                r.kind,
                money(r.gross_minor, r.currency),
                line_note(r)
            );
            let detail = match self.recs[i].key {
                None => match self.rules.match_on {
                    MatchOn::Reference => format!("{what} has no reference to match on"),
                    MatchOn::RecordId => format!("{what} has no record id to match on"),
                },
                Some(key) => {
                    let taken = self
                        .by_key
                        .get(key)
                        .is_some_and(|(_, led_ids)| !led_ids.is_empty());
                    if taken {
                        format!(
                            "{what}: the ledger entry {key} was paired with another report line"
                        )
                    } else {
                        format!("{what}: no ledger entry has id {key}")
                    }
                }
            };
            self.push(
                SettlementKind::MissingInLedger,
                vec![i],
                Vec::new(),
                r.currency,
                (None, Some(r.gross_minor)),
                detail,
            );
        }
        let window =
            TimeDelta::try_days(i64::from(self.rules.timing_window_days)).unwrap_or(TimeDelta::MAX);
        for j in 0..self.leds.len() {
            if self.leds[j].done {
                continue;
            }
            self.leds[j].done = true;
            if !self.leds[j].settled {
                self.out.not_expected.push(j);
                continue;
            }
            let e = self.entry(j);
            let age = business_day_end.signed_duration_since(e.at);
            let booked = e.at.format("%Y-%m-%d %H:%M:%S UTC");
            let amount = money(e.amount_minor, e.currency);
            let days = self.rules.timing_window_days;
            let (kind, detail) = if age < window {
                (
                    SettlementKind::Timing,
                    format!(
                        "ledger {amount} booked {booked} is not in the report yet, within the {days}-day timing window"
                    ),
                )
            } else {
                (
                    SettlementKind::MissingInReport,
                    format!(
                        "ledger {amount} booked {booked} is not in the report, {} day(s) before the business day end (timing window {days} days)",
                        age.num_days()
                    ),
                )
            };
            self.push(
                kind,
                Vec::new(),
                vec![j],
                e.currency,
                (Some(e.amount_minor), None),
                detail,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;

    #[test]
    fn missing_in_ledger_and_missing_in_report() {
        let records = vec![charge(2, "ch_1", 1000, 0), charge(3, "ch_2", 2000, 0)];
        let ledger = vec![
            usd("ch_1", 1000),
            booked(usd("ch_3", 3000), at(1, 9, 30, 0)),
        ];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger),
            vec![
                f("missing_in_ledger", &["ch_2"], &[], None, Some(2000)),
                f("missing_in_report", &[], &["ch_3"], Some(3000), None),
            ]
        );
        assert_eq!(
            details(&o),
            [
                "report charge 20.00 USD: no ledger entry has id ch_2",
                "ledger 30.00 USD booked 2024-03-01 09:30:00 UTC is not in the report, 8 day(s) before the business day end (timing window 3 days)",
            ]
        );
    }

    #[test]
    fn timing_versus_missing_in_report_at_the_window_edge() {
        // business day end 2024-03-10 00:00; window 3 days: edge at 2024-03-07 00:00
        let ledger = vec![
            booked(usd("exactly_3_days", 100), at(7, 0, 0, 0)),
            booked(usd("a_second_less", 200), at(7, 0, 0, 1)),
            booked(usd("a_second_more", 300), at(6, 23, 59, 59)),
            booked(usd("after_day_end", 400), at(10, 0, 0, 1)),
            booked(usd("at_day_end", 500), at(10, 0, 0, 0)),
        ];
        let o = run(&[], &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &[], &ledger),
            vec![
                f(
                    "missing_in_report",
                    &[],
                    &["a_second_more"],
                    Some(300),
                    None
                ),
                f(
                    "missing_in_report",
                    &[],
                    &["exactly_3_days"],
                    Some(100),
                    None
                ),
                f("timing", &[], &["a_second_less"], Some(200), None),
                f("timing", &[], &["after_day_end"], Some(400), None),
                f("timing", &[], &["at_day_end"], Some(500), None),
            ]
        );
        assert_eq!(
            details(&o)[2],
            "ledger 2.00 USD booked 2024-03-07 00:00:01 UTC is not in the report yet, within the 3-day timing window"
        );
        // a zero window: only entries booked after the day end are in flight
        let rules = MatchRules {
            timing_window_days: 0,
            ..MatchRules::default()
        };
        let o = run(&[], &ledger, &rules);
        let kinds: Vec<_> = findings(&o, &[], &ledger)
            .into_iter()
            .map(|(kind, _, ids, _, _)| (kind, ids[0].clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("missing_in_report", "a_second_less".to_owned()),
                ("missing_in_report", "a_second_more".to_owned()),
                ("missing_in_report", "at_day_end".to_owned()),
                ("missing_in_report", "exactly_3_days".to_owned()),
                ("timing", "after_day_end".to_owned()),
            ]
        );
    }

    #[test]
    fn unsettled_ledger_entries_without_a_record_are_not_expected() {
        let ledger = vec![
            booked(status(usd("failed_1", 100), Some("failed")), at(1, 0, 0, 0)),
            booked(status(usd("void_1", 200), None), at(1, 0, 0, 0)),
            booked(usd("settled_1", 300), at(1, 0, 0, 0)),
            booked(
                status(usd("pending_1", 400), Some("Pending")),
                at(9, 0, 0, 0),
            ),
        ];
        let o = run(&[], &ledger, &settled_only());
        assert_eq!(
            findings(&o, &[], &ledger),
            vec![f("missing_in_report", &[], &["settled_1"], Some(300), None)]
        );
        let not_expected: Vec<&str> = o
            .not_expected
            .iter()
            .map(|&j| ledger[j].id.as_str())
            .collect();
        assert_eq!(not_expected, ["failed_1", "pending_1", "void_1"]);
        // with no settled statuses every entry is expected
        let o = run(&[], &ledger, &MatchRules::default());
        assert!(o.not_expected.is_empty());
        assert_eq!(o.discrepancies.len(), 4);
    }
}
