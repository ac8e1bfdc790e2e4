//! The bulk of a day's matching done cheaply: an id carried by one report line and one ledger row that plainly agree is paired by a merge in id order, so only the rest goes through every rule.
//!
//! Such a pair is exactly what step 2 would match ([`super::MatchHow::ExactId`], no finding) and no
//! other step could touch: its id is on no other line or row (no duplicate, no rival for the
//! row), the line is not a payout (step 4 never sees it) and the row carries no payout id (no
//! payout total sums it). Everything else — lines and rows without an id, ids carried more than
//! once on a side or on one side only, pairs that disagree — is left for [`super::by_every_rule`].

use std::cmp::Ordering;
use std::sync::Arc;

use super::{LedgerEntry, MatchOn, MatchRules, Matched, Settled, non_blank, record_key};
use crate::settlement::id::Id;
use crate::settlement::record::{Kind, SettlementRecord};

/// The pairs found, and the indexes left for the full rule set.
pub(super) struct Split {
    /// (record, ledger) index pairs, in id order.
    pub(super) pairs: Vec<(usize, usize)>,
    /// Records left, ascending.
    pub(super) rest_records: Vec<usize>,
    /// Ledger entries left, ascending.
    pub(super) rest_ledger: Vec<usize>,
}

/// Pairs the plainly agreeing one-to-one ids of `records` and `ledger`.
pub(super) fn split(
    records: &[SettlementRecord],
    ledger: &[LedgerEntry],
    rules: &MatchRules,
    settled: &Settled,
) -> Split {
    // ids compare as `Id`s (bytes, which is `str` order): no UTF-8 check or trimming in the
    // sort; a blank id is none, so its line or row is left for the rule set
    let record_id = |i: usize| match rules.match_on {
        MatchOn::RecordId => Some(&records[i].record_id),
        MatchOn::Reference => records[i].reference.as_ref(),
    };
    let ledger_id = |j: usize| Some(&ledger[j].id);
    let mut rest_records = Vec::new();
    let mut rest_ledger = Vec::new();
    let recs = by_id(
        records.len(),
        |i| record_key(&records[i], rules.match_on).is_some(),
        record_id,
        &mut rest_records,
    );
    let leds = by_id(
        ledger.len(),
        |j| non_blank(&ledger[j].id).is_some(),
        ledger_id,
        &mut rest_ledger,
    );

    let mut pairs = Vec::with_capacity(recs.len().min(leds.len()));
    let (mut a, mut b) = (0, 0);
    while a < recs.len() || b < leds.len() {
        let next_record = recs.get(a).and_then(|&i| record_id(i));
        let next_entry = leds.get(b).and_then(|&j| ledger_id(j));
        let id = match (next_record, next_entry) {
            (Some(r), Some(l)) => r.min(l),
            (Some(r), None) => r,
            (None, Some(l)) => l,
            (None, None) => break,
        };
        let a_end = a + run(&recs[a..], id, record_id);
        let b_end = b + run(&leds[b..], id, ledger_id);
        match (&recs[a..a_end], &leds[b..b_end]) {
            (&[i], &[j]) if plainly_agree(&records[i], &ledger[j], rules, settled) => {
                pairs.push((i, j));
            }
            (group, rows) => {
                rest_records.extend_from_slice(group);
                rest_ledger.extend_from_slice(rows);
            }
        }
        (a, b) = (a_end, b_end);
    }
    rest_records.sort_unstable();
    rest_ledger.sort_unstable();
    Split {
        pairs,
        rest_records,
        rest_ledger,
    }
}

/// The indexes below `count` that have an id, sorted by it; those without go to `rest`.
fn by_id<'r>(
    count: usize,
    has_id: impl Fn(usize) -> bool,
    id: impl Fn(usize) -> Option<&'r Id>,
    rest: &mut Vec<usize>,
) -> Vec<usize> {
    let mut keyed: Vec<(&'r [u8], usize)> = Vec::with_capacity(count);
    for index in 0..count {
        match (has_id(index), id(index)) {
            (true, Some(id)) => keyed.push((id.as_bytes(), index)),
            _ => rest.push(index),
        }
    }
    // each id's bytes beside its index: the sort compares them without looking anything up
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, index)| index).collect()
}

/// How many of `sorted` (from its start) carry `id`.
fn run<'r>(sorted: &[usize], id: &Id, id_of: impl Fn(usize) -> Option<&'r Id>) -> usize {
    sorted
        .iter()
        .take_while(|&&index| id_of(index) == Some(id))
        .count()
}

/// Step 2 would match them with no finding (see `Work::compare` in `exact.rs`), and step 4
/// never looks at either: not a payout line, no payout id on the row.
fn plainly_agree(
    r: &SettlementRecord,
    e: &LedgerEntry,
    rules: &MatchRules,
    settled: &Settled,
) -> bool {
    r.kind != Kind::Payout
        && e.payout_id.as_deref().and_then(non_blank).is_none()
        && r.currency == e.currency
        && r.gross_minor.abs_diff(e.amount_minor)
            <= rules.amount_tolerance_minor.max(0).unsigned_abs()
        && e.fee_minor
            .is_none_or(|fee| r.comparable_fee().is_none_or(|own| own == fee))
        && settled.accepts(e.status.as_deref())
}

/// Every match in output order (report file and line, then ledger id): the bulk `pairs` as
/// [`super::MatchHow::ExactId`] matches, merged with the `others` the rule set found.
pub(super) fn merge_matches(
    mut pairs: Vec<(usize, usize)>,
    mut others: Vec<Matched>,
    records: &[SettlementRecord],
    ledger: &[LedgerEntry],
) -> Vec<Matched> {
    let ranks = LineRanks::of(records);
    let rank = |i: usize| ranks.rank(i);
    let ledger_key = |j: Option<usize>| j.map(|j| (&ledger[j].id, j));
    // a record is in at most one bulk pair, so its rank alone orders them
    pairs.sort_unstable_by_key(|&(i, _)| rank(i));
    others.sort_by(|x, y| {
        (rank(x.record), ledger_key(x.ledger)).cmp(&(rank(y.record), ledger_key(y.ledger)))
    });

    let mut merged = Vec::with_capacity(pairs.len() + others.len());
    let mut others = others.into_iter().peekable();
    for (i, j) in pairs {
        let pair = (rank(i), ledger_key(Some(j)));
        while let Some(other) = others.next_if(|m| (rank(m.record), ledger_key(m.ledger)) < pair) {
            merged.push(other);
        }
        merged.push(Matched::exact_id(i, &records[i], j, &ledger[j]));
    }
    merged.extend(others);
    merged
}

/// Each record's place in (file, line) order, ties by index.
struct LineRanks(Option<Vec<usize>>);

impl LineRanks {
    /// Records parsed from files come in that order already: then a record's rank is its
    /// index, and no table of ranks is built (it would be a million entries).
    fn of(records: &[SettlementRecord]) -> LineRanks {
        let line_order = |&a: &usize, &b: &usize| {
            let (x, y) = (&records[a].source, &records[b].source);
            // one file's lines share the path: compare its text only across files
            let path = match Arc::ptr_eq(&x.path, &y.path) {
                true => Ordering::Equal,
                false => x.path.cmp(&y.path),
            };
            path.then(x.line.cmp(&y.line)).then(a.cmp(&b))
        };
        if (0..records.len()).is_sorted_by(|a, b| line_order(a, b) == Ordering::Less) {
            return LineRanks(None);
        }
        let mut in_order: Vec<usize> = (0..records.len()).collect();
        in_order.sort_unstable_by(line_order);
        let mut ranks = vec![0; records.len()];
        for (place, &index) in in_order.iter().enumerate() {
            ranks[index] = place;
        }
        LineRanks(Some(ranks))
    }

    fn rank(&self, record: usize) -> usize {
        self.0.as_ref().map_or(record, |ranks| ranks[record])
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use crate::settlement::record::Kind;

    /// Matches come in report file and line order whatever order the records were given in,
    /// the bulk pairs and the rule set's matches merged.
    #[test]
    fn matches_are_in_file_and_line_order() {
        let in_file = |mut r: SettlementRecord, path: &str| {
            r.source.path = path.into();
            r
        };
        let records = vec![
            in_file(charge(5, "ch_3", 300, 0), "b.csv"),
            in_file(charge(9, "ch_x", 700, 0), "a.csv"),
            in_file(charge(2, "ch_2", 200, 0), "a.csv"),
        ];
        let ledger = vec![usd("ch_2", 200), usd("ch_3", 300), usd("pay_x", 700)];
        let rules = MatchRules {
            amount_tolerance_minor: 1,
            ..MatchRules::default()
        };
        let o = run(&records, &ledger, &rules);
        assert_eq!(findings(&o, &records, &ledger), vec![]);
        assert_eq!(
            matches(&o, &records, &ledger),
            vec![
                m("ch_2", Some("ch_2"), MatchHow::ExactId, 0),
                m("ch_x", Some("pay_x"), MatchHow::Tolerance, 0),
                m("ch_3", Some("ch_3"), MatchHow::ExactId, 0),
            ]
        );
    }

    /// Every rule on every record and ledger entry, with no bulk pairing: what
    /// [`match_report`] must give whatever the bulk path takes.
    fn by_every_rule_alone(
        records: &[SettlementRecord],
        ledger: &[LedgerEntry],
        rules: &MatchRules,
    ) -> MatchOutcome {
        let all_records: Vec<usize> = (0..records.len()).collect();
        let all_ledger: Vec<usize> = (0..ledger.len()).collect();
        let settled = Settled::new(&rules.settled_statuses);
        let mut o = by_every_rule(
            records,
            ledger,
            (&all_records, &all_ledger),
            rules,
            &settled,
            end(),
        );
        o.matched =
            bulk::merge_matches(Vec::new(), std::mem::take(&mut o.matched), records, ledger);
        o
    }

    /// Random days (ids shared or not, duplicated, blank; payouts; disagreeing amounts, fees,
    /// currencies, statuses; several files) give the same outcome with and without the bulk path.
    #[test]
    fn the_bulk_path_changes_no_outcome() {
        let mut next = dice(0x2545_F491_4F6C_DD1D);
        let ids = ["a", "b", "c", "d", "e", "f", "g", "po_1", "po_2", " ", ""];
        let long = "an_id_well_over_twenty_three_bytes_long";
        let kinds = [Kind::Charge, Kind::Refund, Kind::Payout, Kind::Fee];
        let statuses = [Some("settled"), Some(" SETTLED "), Some("pending"), None];
        let (mut bulk_pairs, mut outcomes) = (0, 0);
        for round in 0..3000 {
            let id = |n: usize| if n == ids.len() { long } else { ids[n] };
            let records: Vec<SettlementRecord> = (0..next(12))
                .map(|n| {
                    let mut r = rec(
                        2 + n as u64,
                        id(next(ids.len() + 1)),
                        kinds[next(kinds.len())],
                        [1000, 1001, 1003, -500][next(4)],
                        [0, 30][next(2)],
                        ["USD", "USD", "EUR"][next(3)],
                    );
                    r.reference = (next(3) > 0).then(|| id(next(ids.len() + 1)).into());
                    r.payout_id = (next(4) == 0).then(|| ["po_1", "po_2"][next(2)].into());
                    r.created_at = at(4 + next(3) as u32, 12, 0, 0);
                    if next(4) == 0 {
                        r.source.path = "b.csv".into();
                    }
                    r
                })
                .collect();
            let rules = MatchRules {
                match_on: [MatchOn::RecordId, MatchOn::Reference][next(2)],
                amount_tolerance_minor: [0, 0, 2, -1][next(4)],
                date_window_days: [0, 0, 1][next(3)],
                settled_statuses: match next(3) {
                    0 => Vec::new(),
                    _ => vec!["Settled".into()],
                },
                timing_window_days: 3,
            };
            let ledger: Vec<LedgerEntry> = (0..next(12))
                .map(|n| {
                    let mut e = led(
                        id(next(ids.len() + 1)),
                        [1000, 1001, 1003, -500][next(4)],
                        ["USD", "USD", "EUR"][next(3)],
                    );
                    // most rows mirror a line, as on a real day
                    if let Some(r) = records.get(n).filter(|_| next(3) > 0) {
                        let key = record_key(r, rules.match_on).unwrap_or(" ");
                        e = led(key, r.gross_minor, r.currency.code());
                    }
                    e.status = statuses[next(statuses.len())].map(Into::into);
                    e.fee_minor = [None, Some(0), Some(30)][next(3)];
                    e.payout_id = (next(4) == 0).then(|| ["po_1", "po_2", " "][next(3)].into());
                    e.at = at(1 + next(9) as u32, next(24) as u32, 0, 0);
                    e
                })
                .collect();
            let o = run(&records, &ledger, &rules);
            assert_eq!(
                o,
                by_every_rule_alone(&records, &ledger, &rules),
                "round {round}"
            );
            let settled = Settled::new(&rules.settled_statuses);
            bulk_pairs += bulk::split(&records, &ledger, &rules, &settled).pairs.len();
            outcomes += usize::from(!o.discrepancies.is_empty() && !o.matched.is_empty());
        }
        assert!(
            bulk_pairs > 500 && outcomes > 1000,
            "{bulk_pairs} {outcomes}"
        );
    }
}
