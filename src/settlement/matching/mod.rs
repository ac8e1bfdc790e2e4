//! Matches parsed processor settlement records against ledger entries, so that every report line and every ledger row ends up matched, named in a discrepancy, or explicitly not expected.
//!
//! [`match_report`] is pure and synchronous: it reads the records of one or more reports and the
//! ledger rows of the same period and returns a [`MatchOutcome`] of indexes into both slices.
//! Amounts are integer minor units throughout, compared with the sign convention of
//! [`super::record`] (a ledger amount is signed like a record's gross).
//!
//! # Steps, in order
//!
//! 0. **Captures.** A payment captured in parts (charge lines with one match id, each naming
//!    its own capture) is matched as one line of their total against the payment's one ledger
//!    row; the first capture carries the match or findings, the others are
//!    [`MatchHow::Captures`] or named in the same findings (`captures.rs`). A modification line
//!    (a refund, a chargeback) is matched by its own id, the payment it modifies named in its
//!    details. A line settled in another currency is matched on its gross currency and amount;
//!    its fee is then not compared, and its settlement is shown in its details.
//! 1. **Duplicates.** Records are keyed by their match id ([`MatchOn`]) *and* kind: two or more
//!    records with the same id and the same kind are one `duplicate_in_report`. A charge and its
//!    refund may share an id (a reference) without being duplicates. Two or more ledger entries
//!    with the same id are one `duplicate_in_ledger`. An id duplicated on either side is frozen:
//!    nothing carrying it is matched further, and every record and ledger entry carrying it is
//!    named by its duplicate finding (the other-kind records and a lone ledger entry are named by
//!    the first `duplicate_in_report`, or by the `duplicate_in_ledger` when there is one), so
//!    there is no cascade of `missing_*` findings.
//! 2. **Exact id.** A record and the ledger entry with its id are paired and compared: currency
//!    (a `currency_mismatch` is then the only finding), amount against
//!    [`MatchRules::amount_tolerance_minor`], fee (when the ledger has one), status. A pair with
//!    no finding is [`MatchHow::ExactId`]. When several records of different kinds share the
//!    ledger entry's id, the entry is paired with the closest one (same currency first, then the
//!    smallest amount difference, then kind, file and line); the others stay unmatched.
//! 3. **Tolerance** (only when a tolerance or a date window is set). Leftover records (not
//!    payouts) and leftover ledger entries with a settled status are paired greedily by
//!    (amount difference, calendar days apart, seconds apart, record id, ledger id): same
//!    currency, amount within the tolerance, created/booked dates at most
//!    [`MatchRules::date_window_days`] UTC calendar days apart (0 = the same UTC day). Each
//!    ledger entry is used once.
//! 4. **Payouts.** A payout line whose payout id (its `payout_id`, else its `record_id`) is
//!    carried by at least one ledger entry is checked by total: the payout lines of one
//!    (payout id, currency) pay `Σ −net`; the ledger expects `Σ (amount − fee)` over the entries
//!    carrying that payout id in that currency, the fee being the ledger's, else the fee of the
//!    report record paired with the entry, else 0. A ledger entry whose id is the payout line's
//!    own match id is the payout's own row: it is compared with the line as in step 2 and left out
//!    of the items. A ledger id duplicated in the ledger counts once (its earliest-booked entry). Items
//!    count whatever their status: the ledger says they were paid out.
//! 5. **Leftovers.** A record → `missing_in_ledger`. A ledger entry whose status is not settled
//!    → `not_expected` (a failed or voided payment is not expected in a report); otherwise
//!    `timing` when `business_day_end − at` is less than [`MatchRules::timing_window_days`]
//!    days (including entries booked after the business day end), else `missing_in_report`.
//!
//! Ids are compared exactly (case-sensitive); a blank id or reference is no id at all. Statuses
//! are compared trimmed and ASCII-case-insensitively. In a discrepancy, `expected` is the ledger
//! side and `actual` the report side.
//!
//! Every record and every ledger entry is accounted for exactly once: in one [`Matched`], in one
//! or more discrepancies, or (ledger only) in [`MatchOutcome::not_expected`];
//! [`MatchOutcome::check_accounted`] verifies it. Output order is stable: discrepancies by kind,
//! then report file and line, then ledger id.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::id::Id;
use super::record::SettlementRecord;

mod accounting;
mod bulk;
mod captures;
// the steps, in the order `by_every_rule` runs them: each is an `impl Work` block in its file
mod duplicates;
mod exact;
mod leftovers;
mod payouts;
pub(crate) mod streamed;
mod tolerance;

#[cfg(test)]
mod fixtures;

use crate::discrepancy::SettlementKind;
use crate::money::{Currency, format_major_wide};

/// One ledger row as the ledger query returns it (the wiring fills this from any engine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct LedgerEntry {
    /// The id the processor's `record_id` (or `reference`) should equal.
    pub(crate) id: Id,
    /// Signed minor units, in the same convention as a record's gross (charge +, refund −).
    pub(crate) amount_minor: i64,
    pub(crate) currency: Currency,
    /// Ledger status text, e.g. `settled`, `pending`, `failed` (short, so held as an [`Id`]).
    pub(crate) status: Option<Id>,
    /// When the ledger booked it.
    pub(crate) at: DateTime<Utc>,
    /// The fee the ledger recorded, when the ledger has a fee column.
    pub(crate) fee_minor: Option<i64>,
    /// The payout the ledger says settled it, when known.
    pub(crate) payout_id: Option<Id>,
}

/// Which record field must equal [`LedgerEntry::id`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MatchOn {
    /// The processor's id for the line ([`SettlementRecord::record_id`]).
    #[default]
    RecordId,
    /// The merchant reference ([`SettlementRecord::reference`]); records without one have no id.
    Reference,
}

/// How records are matched to ledger entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MatchRules {
    /// Which record field equals `LedgerEntry::id`.
    pub(crate) match_on: MatchOn,
    /// Largest accepted |report gross − ledger amount| in minor units; 0 = exact. A negative
    /// value counts as 0.
    pub(crate) amount_tolerance_minor: i64,
    /// Largest number of UTC calendar days between a record's creation and a ledger booking for
    /// tolerance matching; 0 = same day only, and no tolerance step at all when the amount
    /// tolerance is 0 too.
    pub(crate) date_window_days: u32,
    /// Ledger statuses that mean "the processor should have settled it"; empty = any.
    pub(crate) settled_statuses: Vec<String>,
    /// How many days a ledger entry may be missing from reports before it is a real discrepancy.
    pub(crate) timing_window_days: u32,
}

impl Default for MatchRules {
    fn default() -> Self {
        MatchRules {
            match_on: MatchOn::RecordId,
            amount_tolerance_minor: 0,
            date_window_days: 0,
            settled_statuses: Vec::new(),
            timing_window_days: 3,
        }
    }
}

/// How a record was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum MatchHow {
    /// Same id, and everything compared agrees.
    ExactId,
    /// Different ids, paired by amount within tolerance and date within the window.
    Tolerance,
    /// A payout line whose total equals the sum of the ledger items carrying its payout id.
    PayoutTotal,
    /// A capture of a payment captured in parts, after the first: the captures' total was
    /// matched with the payment's ledger row (see `captures.rs`), by the first capture's match.
    Captures,
}

impl MatchHow {
    /// Snake-case name (`exact_id`, `tolerance`, `payout_total`).
    #[cfg(test)]
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            MatchHow::ExactId => "exact_id",
            MatchHow::Tolerance => "tolerance",
            MatchHow::PayoutTotal => "payout_total",
            MatchHow::Captures => "captures",
        }
    }
}

/// A record accounted for by a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Matched {
    /// Index into the records.
    pub(crate) record: usize,
    /// Index into the ledger; `None` for a payout total without a ledger row of its own.
    pub(crate) ledger: Option<usize>,
    pub(crate) how: MatchHow,
    /// Report gross − ledger amount (within the tolerance; 0 when equal or without a ledger row).
    pub(crate) amount_diff_minor: i64,
    /// UTC calendar days between the record's creation and the ledger booking (0 without a row).
    pub(crate) days_apart: i64,
    /// For [`MatchHow::PayoutTotal`]: the ledger items the total was compared with. They are
    /// accounted for by their own matches or findings, not by this one.
    pub(crate) payout_items: Vec<usize>,
}

impl Matched {
    /// Report line `i` (`r`) and ledger row `j` (`e`) matched by their id with no finding.
    fn exact_id(i: usize, r: &SettlementRecord, j: usize, e: &LedgerEntry) -> Matched {
        Matched {
            record: i,
            ledger: Some(j),
            how: MatchHow::ExactId,
            amount_diff_minor: r.gross_minor.wrapping_sub(e.amount_minor),
            days_apart: days_between(r.created_at, e.at),
            payout_items: Vec::new(),
        }
    }
}

/// One finding, naming the records and ledger entries it accounts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SettlementDiscrepancy {
    pub(crate) kind: SettlementKind,
    /// Indexes into the records (for file:line), ordered by file and line.
    pub(crate) records: Vec<usize>,
    /// Indexes into the ledger (for ledger ids), ordered by id.
    pub(crate) ledger: Vec<usize>,
    /// For `payout_total_mismatch`: the ledger items summed, ordered by id. They are accounted
    /// for by their own matches or findings, not by this one.
    pub(crate) payout_items: Vec<usize>,
    /// The currency of the amounts (the report's, for a currency mismatch).
    pub(crate) currency: Currency,
    /// The ledger side's amount, where there is one: 128 bits wide, for a payout's sum of
    /// items is exact past 64 bits.
    pub(crate) expected_minor: Option<i128>,
    /// The report side's amount, where there is one (a payout's lines summed, as wide).
    pub(crate) actual_minor: Option<i128>,
    /// One line for people, amounts in major units with their currency code.
    pub(crate) detail: String,
}

/// Everything [`match_report`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct MatchOutcome {
    /// Records accounted for by a match, ordered by report file and line.
    pub(crate) matched: Vec<Matched>,
    /// Findings, ordered by kind, then report file and line, then ledger id.
    pub(crate) discrepancies: Vec<SettlementDiscrepancy>,
    /// Ledger entries without a record whose status is not settled: not expected in a report.
    pub(crate) not_expected: Vec<usize>,
    /// Things the caller should log that are not discrepancies (a skipped tolerance step).
    pub(crate) warnings: Vec<String>,
}

impl MatchOutcome {
    /// The discrepancies of one kind, in output order.
    #[cfg(test)]
    pub(crate) fn of_kind(
        &self,
        kind: SettlementKind,
    ) -> impl Iterator<Item = &SettlementDiscrepancy> + '_ {
        self.discrepancies.iter().filter(move |d| d.kind == kind)
    }
}

/// Matches `records` against `ledger` under `rules`; `business_day_end` is the end of the
/// business day being reconciled, for the timing window. See the module doc for the steps.
///
/// The bulk of a day (an id carried once on each side, plainly agreeing) is paired by
/// [`bulk::split`] without the rule set; what it leaves goes through every step. A settlement
/// check does that pairing bucket by bucket as the day streams in ([`streamed`]), so what it
/// hands here is only the rest.
pub(crate) fn match_report(
    records: &[SettlementRecord],
    ledger: &[LedgerEntry],
    rules: &MatchRules,
    business_day_end: DateTime<Utc>,
) -> MatchOutcome {
    match captures::join(records, rules.match_on) {
        None => match_lines(records, ledger, rules, business_day_end),
        Some(joined) => {
            let outcome = match_lines(&joined.records, ledger, rules, business_day_end);
            joined.take_apart(outcome, records)
        }
    }
}

/// [`match_report`] once the captures of each payment are joined.
fn match_lines(
    records: &[SettlementRecord],
    ledger: &[LedgerEntry],
    rules: &MatchRules,
    business_day_end: DateTime<Utc>,
) -> MatchOutcome {
    let settled = Settled::new(&rules.settled_statuses);
    let split = bulk::split(records, ledger, rules, &settled);
    let mut outcome = by_every_rule(
        records,
        ledger,
        (&split.rest_records, &split.rest_ledger),
        rules,
        &settled,
        business_day_end,
    );
    outcome.matched = bulk::merge_matches(
        split.pairs,
        std::mem::take(&mut outcome.matched),
        records,
        ledger,
    );
    outcome
}

/// Runs every step on the records and ledger entries at the indexes of `rest` (ascending);
/// the outcome's indexes are into `records` and `ledger`, its matches not yet ordered.
fn by_every_rule(
    records: &[SettlementRecord],
    ledger: &[LedgerEntry],
    rest: (&[usize], &[usize]),
    rules: &MatchRules,
    settled: &Settled,
    business_day_end: DateTime<Utc>,
) -> MatchOutcome {
    let (rest_records, rest_ledger) = rest;
    let recs: Vec<&SettlementRecord> = rest_records.iter().map(|&i| &records[i]).collect();
    let leds: Vec<&LedgerEntry> = rest_ledger.iter().map(|&j| &ledger[j]).collect();
    let mut work = Work::new(&recs, &leds, rules, settled);
    work.duplicates();
    work.classify_payouts();
    work.exact();
    if rules.amount_tolerance_minor > 0 || rules.date_window_days > 0 {
        work.tolerance();
    }
    work.payouts();
    work.leftovers(business_day_end);
    // the work's indexes are positions in `rest`, which keeps the order of the full slices, so
    // every order the steps chose holds for the full indexes too
    let mut outcome = work.finish();
    let record = |i: &mut usize| *i = rest_records[*i];
    let entry = |j: &mut usize| *j = rest_ledger[*j];
    for m in &mut outcome.matched {
        record(&mut m.record);
        m.ledger.iter_mut().for_each(entry);
        m.payout_items.iter_mut().for_each(entry);
    }
    for d in &mut outcome.discrepancies {
        d.records.iter_mut().for_each(record);
        d.ledger.iter_mut().for_each(entry);
        d.payout_items.iter_mut().for_each(entry);
    }
    outcome.not_expected.iter_mut().for_each(entry);
    outcome
}

/// The id a record is matched on under `on`; a blank id is none.
pub(crate) fn record_key(record: &SettlementRecord, on: MatchOn) -> Option<&str> {
    match on {
        MatchOn::RecordId => non_blank(&record.record_id),
        MatchOn::Reference => record.reference.as_deref().and_then(non_blank),
    }
}

/// The ledger statuses that count as settled (trimmed, ASCII-case-insensitive).
pub(crate) struct Settled(Vec<String>);

impl Settled {
    fn new(statuses: &[String]) -> Settled {
        Settled(
            statuses
                .iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .collect(),
        )
    }

    /// Whether a ledger entry with `status` is settled; with no settled statuses, any is.
    pub(crate) fn accepts(&self, status: Option<&str>) -> bool {
        self.0.is_empty()
            || status.is_some_and(|s| self.0.iter().any(|n| s.trim().eq_ignore_ascii_case(n)))
    }
}

/// Where one record stands while matching.
struct Rec<'a> {
    rec: &'a SettlementRecord,
    key: Option<&'a str>,
    /// Accounted for (frozen, matched, found, or checked as a payout).
    done: bool,
    /// The ledger entry it was paired with (step 2 or 3).
    pair: Option<usize>,
    /// The payout id, for a payout line checked by total.
    payout: Option<&'a str>,
    /// A payout line whose own ledger row produced a finding.
    flagged: bool,
}

/// Where one ledger entry stands while matching.
struct Led<'a> {
    entry: &'a LedgerEntry,
    key: Option<&'a str>,
    done: bool,
    pair: Option<usize>,
    /// A later-booked entry of a duplicated id: left out of payout sums (the earliest counts).
    shadow: bool,
    /// Its status is a settled status (or any status is).
    settled: bool,
}

struct Work<'a> {
    recs: Vec<Rec<'a>>,
    leds: Vec<Led<'a>>,
    rules: &'a MatchRules,
    /// Record and ledger indexes by match id.
    by_key: BTreeMap<&'a str, (Vec<usize>, Vec<usize>)>,
    out: MatchOutcome,
}

fn non_blank(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}

fn money(minor: impl Into<i128>, currency: Currency) -> String {
    format!(
        "{} {}",
        format_major_wide(minor.into(), currency),
        currency.code()
    )
}

/// ` (settled as … net, fee …)` for a line settled in another currency, else nothing.
fn settled_note(record: &SettlementRecord) -> String {
    match &record.links().settled_as {
        Some(settled) => format!(" ({settled})"),
        None => String::new(),
    }
}

/// ` modifying payment …` for a modification line, then its [`settled_note`].
fn line_note(record: &SettlementRecord) -> String {
    match &record.links().payment {
        Some(payment) => format!(" modifying payment {payment}{}", settled_note(record)),
        None => settled_note(record),
    }
}

/// Whole UTC calendar days between two instants, unsigned.
fn days_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i64 {
    a.date_naive()
        .signed_duration_since(b.date_naive())
        .num_days()
        .abs()
}

impl<'a> Work<'a> {
    fn new(
        records: &[&'a SettlementRecord],
        ledger: &[&'a LedgerEntry],
        rules: &'a MatchRules,
        settled: &Settled,
    ) -> Self {
        let recs: Vec<Rec<'a>> = records
            .iter()
            .map(|&rec| Rec {
                rec,
                key: record_key(rec, rules.match_on),
                done: false,
                pair: None,
                payout: None,
                flagged: false,
            })
            .collect();
        let leds: Vec<Led<'a>> = ledger
            .iter()
            .map(|&entry| Led {
                entry,
                key: non_blank(&entry.id),
                done: false,
                pair: None,
                shadow: false,
                settled: settled.accepts(entry.status.as_deref()),
            })
            .collect();
        let mut by_key: BTreeMap<&'a str, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
        for (i, r) in recs.iter().enumerate() {
            if let Some(key) = r.key {
                by_key.entry(key).or_default().0.push(i);
            }
        }
        for (j, l) in leds.iter().enumerate() {
            if let Some(key) = l.key {
                by_key.entry(key).or_default().1.push(j);
            }
        }
        // details list them in this order, which must not depend on the input order
        for (rec_ids, led_ids) in by_key.values_mut() {
            rec_ids.sort_by_cached_key(|&i| {
                let source = &recs[i].rec.source;
                (source.path.clone(), source.line, i)
            });
            led_ids.sort_by_cached_key(|&j| {
                let e = leds[j].entry;
                (e.at, e.amount_minor, e.currency, e.fee_minor, j)
            });
        }
        Work {
            recs,
            leds,
            rules,
            by_key,
            out: MatchOutcome::default(),
        }
    }

    fn record(&self, i: usize) -> &'a SettlementRecord {
        self.recs[i].rec
    }

    fn entry(&self, j: usize) -> &'a LedgerEntry {
        self.leds[j].entry
    }

    fn push(
        &mut self,
        kind: SettlementKind,
        records: Vec<usize>,
        ledger: Vec<usize>,
        currency: Currency,
        amounts: (Option<i64>, Option<i64>),
        detail: String,
    ) {
        self.out.discrepancies.push(SettlementDiscrepancy {
            kind,
            records,
            ledger,
            payout_items: Vec::new(),
            currency,
            expected_minor: amounts.0.map(i128::from),
            actual_minor: amounts.1.map(i128::from),
            detail,
        });
    }

    fn describe_record(&self, i: usize) -> String {
        let r = self.record(i);
        format!(
            "{} {} {}{}",
            r.source,
            r.kind,
            money(r.gross_minor, r.currency),
            line_note(r)
        )
    }

    fn describe_entry(&self, j: usize) -> String {
        let e = self.entry(j);
        format!("ledger {} {}", e.id, money(e.amount_minor, e.currency))
    }

    /// Orders everything deterministically but the matches ([`bulk::merge_matches`] does).
    fn finish(mut self) -> MatchOutcome {
        let mut out = std::mem::take(&mut self.out);
        let source = |i: usize| {
            let r = self.record(i);
            (r.source.path.clone(), r.source.line, i)
        };
        let id = |j: usize| (self.entry(j).id.clone(), j);
        for d in &mut out.discrepancies {
            d.records.sort_by_cached_key(|&i| source(i));
            d.ledger.sort_by_cached_key(|&j| id(j));
            d.payout_items.sort_by_cached_key(|&j| id(j));
        }
        out.discrepancies.sort_by_cached_key(|d| {
            (
                d.kind,
                d.records.first().map(|&i| source(i)),
                d.ledger.first().map(|&j| id(j)),
                d.records.clone(),
                d.ledger.clone(),
            )
        });
        out.not_expected.sort_by_cached_key(|&j| id(j));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::settlement::record::Kind;

    #[test]
    fn empty_inputs() {
        let o = run(&[], &[], &MatchRules::default());
        assert_eq!(o, MatchOutcome::default());
    }

    #[test]
    fn output_is_stable_whatever_the_input_order() {
        let (mut records, mut ledger) = payout_fixture(2350);
        records.push(charge(9, "lost", 10, 0));
        records.push(charge(8, "dup", 10, 0));
        records.push(charge(7, "dup", 10, 0));
        ledger.push(booked(usd("old", 5), at(1, 0, 0, 0)));
        ledger.push(booked(usd("new", 6), at(9, 0, 0, 0)));
        ledger.push(usd("ch_x", 10));
        let rules = MatchRules::default();
        let o = run(&records, &ledger, &rules);
        let want = findings(&o, &records, &ledger);
        let kinds: Vec<&str> = want.iter().map(|w| w.0).collect();
        assert_eq!(
            kinds,
            [
                "missing_in_ledger",
                "missing_in_report",
                "missing_in_report",
                "missing_in_report",
                "duplicate_in_report",
                "payout_total_mismatch",
                "timing"
            ]
        );
        let want_matches = matches(&o, &records, &ledger);
        records.reverse();
        ledger.reverse();
        let o2 = run(&records, &ledger, &rules);
        assert_eq!(findings(&o2, &records, &ledger), want);
        assert_eq!(matches(&o2, &records, &ledger), want_matches);
        assert_eq!(details(&o2), details(&o));
    }
    /// Pseudo-random inputs under varied rules: never a panic, always accounted for.
    #[test]
    fn random_inputs_are_always_accounted_for() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let codes = ["USD", "EUR", "JPY", "KWD"];
        let kinds = [
            Kind::Charge,
            Kind::Refund,
            Kind::Dispute,
            Kind::Payout,
            Kind::Fee,
        ];
        let amounts = [0, 1, -1, 999, 1000, 1001, -1000, i64::MAX, i64::MIN, 50_000];
        let statuses = [Some("settled"), Some("failed"), None, Some("SETTLED")];
        for round in 0..300 {
            let mut records = Vec::new();
            for line in 0..next(12) {
                let mut r = rec(
                    line + 2,
                    &format!("id{}", next(8)),
                    kinds[next(5) as usize],
                    amounts[next(10) as usize],
                    0,
                    codes[next(4) as usize],
                );
                r.fee_minor = amounts[next(10) as usize];
                r.net_minor = amounts[next(10) as usize];
                r.created_at = at(1 + next(9) as u32, next(24) as u32, 0, 0);
                r.reference = (next(3) > 0).then(|| format!("id{}", next(8)).into());
                r.payout_id = (next(3) == 0).then(|| format!("p{}", next(3)).into());
                records.push(r);
            }
            let mut ledger = Vec::new();
            for _ in 0..next(12) {
                let mut e = led(
                    &format!("id{}", next(8)),
                    amounts[next(10) as usize],
                    codes[next(4) as usize],
                );
                e.status = statuses[next(4) as usize].map(Into::into);
                e.at = at(1 + next(9) as u32, next(24) as u32, 0, 0);
                e.fee_minor = (next(2) == 0).then(|| amounts[next(10) as usize]);
                e.payout_id = (next(3) == 0).then(|| format!("p{}", next(3)).into());
                ledger.push(e);
            }
            let rules = MatchRules {
                match_on: if next(2) == 0 {
                    MatchOn::RecordId
                } else {
                    MatchOn::Reference
                },
                amount_tolerance_minor: [0, 1, 5, i64::MAX][next(4) as usize],
                date_window_days: [0, 1, 30][next(3) as usize],
                settled_statuses: if next(2) == 0 {
                    vec![]
                } else {
                    vec!["settled".into()]
                },
                timing_window_days: [0, 3][next(2) as usize],
            };
            let o = match_report(&records, &ledger, &rules, end());
            assert_eq!(
                o.check_accounted(records.len(), ledger.len()),
                Ok(()),
                "round {round}: {records:?} {ledger:?} {rules:?} {o:?}"
            );
            assert_eq!(o, match_report(&records, &ledger, &rules, end()));
        }
    }

    #[test]
    fn kinds_names_and_serde() {
        for kind in SettlementKind::ALL {
            assert_eq!(SettlementKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(SettlementKind::parse("nope"), None);
        let mut sorted = SettlementKind::ALL;
        sorted.sort();
        assert_eq!(sorted, SettlementKind::ALL);
        for how in [
            MatchHow::ExactId,
            MatchHow::Tolerance,
            MatchHow::PayoutTotal,
        ] {
            assert_eq!(
                serde_json::to_string(&how).unwrap(),
                format!("\"{}\"", how.as_str())
            );
        }
    }

    #[test]
    fn rules_default_and_deserialize() {
        let rules = MatchRules::default();
        assert_eq!(rules.match_on, MatchOn::RecordId);
        assert_eq!(rules.amount_tolerance_minor, 0);
        assert_eq!(rules.date_window_days, 0);
        assert!(rules.settled_statuses.is_empty());
        assert_eq!(rules.timing_window_days, 3);
        let parsed: MatchRules =
            serde_json::from_str(r#"{"match_on": "reference", "settled_statuses": ["settled"]}"#)
                .unwrap();
        assert_eq!(
            parsed,
            MatchRules {
                match_on: MatchOn::Reference,
                settled_statuses: vec!["settled".into()],
                ..MatchRules::default()
            }
        );
        assert!(serde_json::from_str::<MatchRules>(r#"{"tolerance": 1}"#).is_err());
    }

    #[test]
    fn serializes_outcome() {
        let records = vec![charge(2, "ch_1", 1000, 0)];
        let ledger = vec![usd("ch_1", 999)];
        let o = run(&records, &ledger, &MatchRules::default());
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["discrepancies"][0]["kind"], "amount_mismatch");
        assert_eq!(json["discrepancies"][0]["currency"], "USD");
        assert_eq!(json["discrepancies"][0]["expected_minor"], 999);
    }
}
