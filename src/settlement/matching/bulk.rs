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
    let mut keyed = Vec::with_capacity(count);
    for index in 0..count {
        match has_id(index) {
            true => keyed.push(index),
            false => rest.push(index),
        }
    }
    // the ledger arrives in id order already, which the sort only checks
    keyed.sort_unstable_by_key(|&index| id(index));
    keyed
}

/// How many of `sorted` (from its start) carry `id`.
fn run<'r>(sorted: &[usize], id: &Id, id_of: impl Fn(usize) -> Option<&'r Id>) -> usize {
    sorted
        .iter()
        .take_while(|&&index| id_of(index) == Some(id))
        .count()
}

/// Step 2 would match them with no finding (see `Work::compare`), and step 4 never looks at
/// either: not a payout line, no payout id on the row.
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
        && e.fee_minor.is_none_or(|fee| fee == r.fee_minor)
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
