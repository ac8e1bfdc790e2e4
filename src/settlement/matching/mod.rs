//! Matches parsed processor settlement records against ledger entries, so that every report line and every ledger row ends up matched, named in a discrepancy, or explicitly not expected.
//!
//! [`match_report`] is pure and synchronous: it reads the records of one or more reports and the
//! ledger rows of the same period and returns a [`MatchOutcome`] of indexes into both slices.
//! Amounts are integer minor units throughout, compared with the sign convention of
//! [`super::record`] (a ledger amount is signed like a record's gross).
//!
//! # Steps, in order
//!
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::id::Id;
use super::record::{Kind, SettlementRecord};

mod bulk;
use crate::money::{Currency, format_major};

/// Most candidate pairs the tolerance step builds per currency; beyond it the step is skipped for
/// that currency (leftovers stay `missing_*`) and a warning says so, so that a misconfigured run
/// cannot exhaust memory.
pub const TOLERANCE_CANDIDATE_LIMIT: usize = 1_000_000;

/// One ledger row as the ledger query returns it (the wiring fills this from any engine).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// The id the processor's `record_id` (or `reference`) should equal.
    pub id: Id,
    /// Signed minor units, in the same convention as a record's gross (charge +, refund −).
    pub amount_minor: i64,
    pub currency: Currency,
    /// Ledger status text, e.g. `settled`, `pending`, `failed` (short, so held as an [`Id`]).
    pub status: Option<Id>,
    /// When the ledger booked it.
    pub at: DateTime<Utc>,
    /// The fee the ledger recorded, when the ledger has a fee column.
    pub fee_minor: Option<i64>,
    /// The payout the ledger says settled it, when known.
    pub payout_id: Option<Id>,
}

/// Which record field must equal [`LedgerEntry::id`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchOn {
    /// The processor's id for the line ([`SettlementRecord::record_id`]).
    #[default]
    RecordId,
    /// The merchant reference ([`SettlementRecord::reference`]); records without one have no id.
    Reference,
}

/// How records are matched to ledger entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchRules {
    /// Which record field equals `LedgerEntry::id`.
    pub match_on: MatchOn,
    /// Largest accepted |report gross − ledger amount| in minor units; 0 = exact. A negative
    /// value counts as 0.
    pub amount_tolerance_minor: i64,
    /// Largest number of UTC calendar days between a record's creation and a ledger booking for
    /// tolerance matching; 0 = same day only, and no tolerance step at all when the amount
    /// tolerance is 0 too.
    pub date_window_days: u32,
    /// Ledger statuses that mean "the processor should have settled it"; empty = any.
    pub settled_statuses: Vec<String>,
    /// How many days a ledger entry may be missing from reports before it is a real discrepancy.
    pub timing_window_days: u32,
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
pub enum MatchHow {
    /// Same id, and everything compared agrees.
    ExactId,
    /// Different ids, paired by amount within tolerance and date within the window.
    Tolerance,
    /// A payout line whose total equals the sum of the ledger items carrying its payout id.
    PayoutTotal,
}

impl MatchHow {
    /// Snake-case name (`exact_id`, `tolerance`, `payout_total`).
    pub fn as_str(self) -> &'static str {
        match self {
            MatchHow::ExactId => "exact_id",
            MatchHow::Tolerance => "tolerance",
            MatchHow::PayoutTotal => "payout_total",
        }
    }
}

/// A record accounted for by a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matched {
    /// Index into the records.
    pub record: usize,
    /// Index into the ledger; `None` for a payout total without a ledger row of its own.
    pub ledger: Option<usize>,
    pub how: MatchHow,
    /// Report gross − ledger amount (within the tolerance; 0 when equal or without a ledger row).
    pub amount_diff_minor: i64,
    /// UTC calendar days between the record's creation and the ledger booking (0 without a row).
    pub days_apart: i64,
    /// For [`MatchHow::PayoutTotal`]: the ledger items the total was compared with. They are
    /// accounted for by their own matches or findings, not by this one.
    pub payout_items: Vec<usize>,
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

/// What kind of settlement discrepancy it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscrepancyKind {
    /// A report line with no ledger entry.
    MissingInLedger,
    /// A settled ledger entry absent from the report for longer than the timing window.
    MissingInReport,
    /// Report gross and ledger amount differ by more than the tolerance.
    AmountMismatch,
    /// The ledger's fee differs from the report's.
    FeeMismatch,
    /// Same id, different currencies.
    CurrencyMismatch,
    /// The report settled an entry whose ledger status is not a settled status.
    StatusMismatch,
    /// Several report lines of one kind carry the same id.
    DuplicateInReport,
    /// Several ledger entries carry the same id.
    DuplicateInLedger,
    /// A payout's amount differs from the sum of the ledger items carrying its payout id.
    PayoutTotalMismatch,
    /// A ledger entry not in the report yet, but still within the timing window.
    Timing,
}

impl DiscrepancyKind {
    /// Every kind, in sort order.
    pub const ALL: [DiscrepancyKind; 10] = [
        DiscrepancyKind::MissingInLedger,
        DiscrepancyKind::MissingInReport,
        DiscrepancyKind::AmountMismatch,
        DiscrepancyKind::FeeMismatch,
        DiscrepancyKind::CurrencyMismatch,
        DiscrepancyKind::StatusMismatch,
        DiscrepancyKind::DuplicateInReport,
        DiscrepancyKind::DuplicateInLedger,
        DiscrepancyKind::PayoutTotalMismatch,
        DiscrepancyKind::Timing,
    ];

    /// Snake-case name, as serialized (`missing_in_ledger`).
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::MissingInLedger => "missing_in_ledger",
            DiscrepancyKind::MissingInReport => "missing_in_report",
            DiscrepancyKind::AmountMismatch => "amount_mismatch",
            DiscrepancyKind::FeeMismatch => "fee_mismatch",
            DiscrepancyKind::CurrencyMismatch => "currency_mismatch",
            DiscrepancyKind::StatusMismatch => "status_mismatch",
            DiscrepancyKind::DuplicateInReport => "duplicate_in_report",
            DiscrepancyKind::DuplicateInLedger => "duplicate_in_ledger",
            DiscrepancyKind::PayoutTotalMismatch => "payout_total_mismatch",
            DiscrepancyKind::Timing => "timing",
        }
    }

    /// The kind with this snake-case name.
    pub fn parse(text: &str) -> Option<DiscrepancyKind> {
        DiscrepancyKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

impl fmt::Display for DiscrepancyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding, naming the records and ledger entries it accounts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettlementDiscrepancy {
    pub kind: DiscrepancyKind,
    /// Indexes into the records (for file:line), ordered by file and line.
    pub records: Vec<usize>,
    /// Indexes into the ledger (for ledger ids), ordered by id.
    pub ledger: Vec<usize>,
    /// For `payout_total_mismatch`: the ledger items summed, ordered by id. They are accounted
    /// for by their own matches or findings, not by this one.
    pub payout_items: Vec<usize>,
    /// The currency of the amounts (the report's, for a currency mismatch).
    pub currency: Currency,
    /// The ledger side's amount, where there is one.
    pub expected_minor: Option<i64>,
    /// The report side's amount, where there is one.
    pub actual_minor: Option<i64>,
    /// One line for people, amounts in major units with their currency code.
    pub detail: String,
}

/// Everything [`match_report`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MatchOutcome {
    /// Records accounted for by a match, ordered by report file and line.
    pub matched: Vec<Matched>,
    /// Findings, ordered by kind, then report file and line, then ledger id.
    pub discrepancies: Vec<SettlementDiscrepancy>,
    /// Ledger entries without a record whose status is not settled: not expected in a report.
    pub not_expected: Vec<usize>,
    /// Things the caller should log that are not discrepancies (a skipped tolerance step).
    pub warnings: Vec<String>,
}

impl MatchOutcome {
    /// The discrepancies of one kind, in output order.
    pub fn of_kind(
        &self,
        kind: DiscrepancyKind,
    ) -> impl Iterator<Item = &SettlementDiscrepancy> + '_ {
        self.discrepancies.iter().filter(move |d| d.kind == kind)
    }

    /// Verifies the accounting equation for `records` records and `ledger` ledger entries: each
    /// record is in exactly one match, or in one or more discrepancies and no match; each ledger
    /// entry likewise, or else in `not_expected` exactly once. Every index must be in range and
    /// every discrepancy must name something. `Err` lists every problem.
    pub fn check_accounted(&self, records: usize, ledger: usize) -> Result<(), String> {
        let mut problems = Vec::new();
        let mut rec_matched = vec![0u32; records];
        let mut rec_found = vec![0u32; records];
        let mut led_matched = vec![0u32; ledger];
        let mut led_found = vec![0u32; ledger];
        let mut led_not_expected = vec![0u32; ledger];
        let mut out_of_range = Vec::new();
        let mut bump = |counts: &mut [u32], index: usize, what: &str| match counts.get_mut(index) {
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

/// Matches `records` against `ledger` under `rules`; `business_day_end` is the end of the
/// business day being reconciled, for the timing window. See the module doc for the steps.
///
/// The bulk of a day (an id carried once on each side, plainly agreeing) is paired by
/// [`bulk::split`] without the rule set; what it leaves goes through every step.
pub fn match_report(
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

fn money(minor: i64, currency: Currency) -> String {
    format!("{} {}", format_major(minor, currency), currency.code())
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
        kind: DiscrepancyKind,
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
            expected_minor: amounts.0,
            actual_minor: amounts.1,
            detail,
        });
    }

    fn describe_record(&self, i: usize) -> String {
        let r = self.record(i);
        format!(
            "{} {} {}",
            r.source,
            r.kind,
            money(r.gross_minor, r.currency)
        )
    }

    fn describe_entry(&self, j: usize) -> String {
        let e = self.entry(j);
        format!("ledger {} {}", e.id, money(e.amount_minor, e.currency))
    }

    /// Step 1: ids duplicated on either side are reported once and frozen.
    fn duplicates(&mut self) {
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
                    DiscrepancyKind::DuplicateInReport,
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
                    DiscrepancyKind::DuplicateInLedger,
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

    /// Payout lines whose payout id some ledger entry carries are checked by total (step 4).
    fn classify_payouts(&mut self) {
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

    /// Step 2: pairs by equal id and compares them.
    fn exact(&mut self) {
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
            expected_minor: amounts.0,
            actual_minor: amounts.1,
            detail,
        };
        if r.currency != e.currency {
            return vec![finding(
                DiscrepancyKind::CurrencyMismatch,
                (None, None),
                format!(
                    "report {}, ledger {}",
                    money(r.gross_minor, r.currency),
                    money(e.amount_minor, e.currency)
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
                DiscrepancyKind::AmountMismatch,
                (Some(e.amount_minor), Some(r.gross_minor)),
                format!(
                    "report {}, ledger {}{by}, tolerance {}",
                    money(r.gross_minor, c),
                    money(e.amount_minor, c),
                    money(self.rules.amount_tolerance_minor.max(0), c)
                ),
            ));
        }
        if let Some(fee) = e.fee_minor.filter(|&fee| fee != r.fee_minor) {
            findings.push(finding(
                DiscrepancyKind::FeeMismatch,
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
                DiscrepancyKind::StatusMismatch,
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

    /// Step 3: pairs leftovers by amount within tolerance and date within the window.
    fn tolerance(&mut self) {
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

    /// Step 4: payout lines against the sum of the ledger items carrying their payout id.
    fn payouts(&mut self) {
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
            let paid = lines.iter().try_fold(0i64, |sum, &i| {
                sum.checked_add(self.record(i).net_minor.checked_neg()?)
            });
            let expected = items.iter().try_fold(0i64, |sum, &j| {
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
                sum.checked_add(e.amount_minor.checked_sub(fee)?)
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
                || "report paid overflows 64-bit minor units".to_owned(),
                |p| format!("report paid {}", money(p, currency)),
            );
            let expected_text = expected.map_or_else(
                || "ledger items net overflows 64-bit minor units".to_owned(),
                |e| format!("ledger items net {}", money(e, currency)),
            );
            self.out.discrepancies.push(SettlementDiscrepancy {
                kind: DiscrepancyKind::PayoutTotalMismatch,
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

    /// Step 5: whatever is left.
    fn leftovers(&mut self, business_day_end: DateTime<Utc>) {
        for i in 0..self.recs.len() {
            if self.recs[i].done {
                continue;
            }
            self.recs[i].done = true;
            let r = self.record(i);
            let what = format!("report {} {}", r.kind, money(r.gross_minor, r.currency));
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
                DiscrepancyKind::MissingInLedger,
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
                    DiscrepancyKind::Timing,
                    format!(
                        "ledger {amount} booked {booked} is not in the report yet, within the {days}-day timing window"
                    ),
                )
            } else {
                (
                    DiscrepancyKind::MissingInReport,
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
    use super::*;
    use crate::settlement::record::SourceLine;
    use chrono::TimeZone;

    fn cur(code: &str) -> Currency {
        Currency::parse(code).expect("known currency")
    }

    /// 2024-03-`day` `h`:`m`:`s` UTC.
    fn at(day: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, day, h, m, s).unwrap()
    }

    /// The business day end used unless a test says otherwise: 2024-03-10 00:00 UTC.
    fn end() -> DateTime<Utc> {
        at(10, 0, 0, 0)
    }

    fn rec(line: u64, id: &str, kind: Kind, gross: i64, fee: i64, code: &str) -> SettlementRecord {
        SettlementRecord {
            processor: "stripe".into(),
            record_id: id.into(),
            kind,
            gross_minor: gross,
            fee_minor: fee,
            net_minor: gross - fee,
            currency: cur(code),
            created_at: at(5, 12, 0, 0),
            available_at: None,
            payout_id: None,
            reference: None,
            source: SourceLine {
                path: "r.csv".into(),
                line,
            },
        }
    }

    fn charge(line: u64, id: &str, gross: i64, fee: i64) -> SettlementRecord {
        rec(line, id, Kind::Charge, gross, fee, "USD")
    }

    fn led(id: &str, amount: i64, code: &str) -> LedgerEntry {
        LedgerEntry {
            id: id.into(),
            amount_minor: amount,
            currency: cur(code),
            status: Some("settled".into()),
            at: at(5, 10, 0, 0),
            fee_minor: None,
            payout_id: None,
        }
    }

    fn usd(id: &str, amount: i64) -> LedgerEntry {
        led(id, amount, "USD")
    }

    fn with_fee(mut e: LedgerEntry, fee: i64) -> LedgerEntry {
        e.fee_minor = Some(fee);
        e
    }

    fn in_payout(mut e: LedgerEntry, payout: &str) -> LedgerEntry {
        e.payout_id = Some(payout.into());
        e
    }

    fn status(mut e: LedgerEntry, text: Option<&str>) -> LedgerEntry {
        e.status = text.map(Into::into);
        e
    }

    fn booked(mut e: LedgerEntry, when: DateTime<Utc>) -> LedgerEntry {
        e.at = when;
        e
    }

    fn payout_line(line: u64, id: &str, net: i64, code: &str) -> SettlementRecord {
        rec(line, id, Kind::Payout, net, 0, code)
    }

    /// Runs the matcher and checks the accounting equation, which every outcome must satisfy.
    fn run(
        records: &[SettlementRecord],
        ledger: &[LedgerEntry],
        rules: &MatchRules,
    ) -> MatchOutcome {
        let outcome = match_report(records, ledger, rules, end());
        assert_eq!(outcome.check_accounted(records.len(), ledger.len()), Ok(()));
        outcome
    }

    type Finding = (
        &'static str,
        Vec<String>,
        Vec<String>,
        Option<i64>,
        Option<i64>,
    );

    /// Each discrepancy as (kind, record ids, ledger ids, expected, actual), in output order.
    fn findings(
        o: &MatchOutcome,
        records: &[SettlementRecord],
        ledger: &[LedgerEntry],
    ) -> Vec<Finding> {
        o.discrepancies
            .iter()
            .map(|d| {
                (
                    d.kind.as_str(),
                    d.records
                        .iter()
                        .map(|&i| records[i].record_id.to_string())
                        .collect(),
                    d.ledger.iter().map(|&j| ledger[j].id.to_string()).collect(),
                    d.expected_minor,
                    d.actual_minor,
                )
            })
            .collect()
    }

    fn f(
        kind: &'static str,
        records: &[&str],
        ledger: &[&str],
        expected: Option<i64>,
        actual: Option<i64>,
    ) -> Finding {
        (
            kind,
            records.iter().map(|s| s.to_string()).collect(),
            ledger.iter().map(|s| s.to_string()).collect(),
            expected,
            actual,
        )
    }

    /// Each match as (record id, ledger id, how, amount difference), in output order.
    fn matches(
        o: &MatchOutcome,
        records: &[SettlementRecord],
        ledger: &[LedgerEntry],
    ) -> Vec<(String, Option<String>, MatchHow, i64)> {
        o.matched
            .iter()
            .map(|m| {
                (
                    records[m.record].record_id.to_string(),
                    m.ledger.map(|j| ledger[j].id.to_string()),
                    m.how,
                    m.amount_diff_minor,
                )
            })
            .collect()
    }

    fn m(
        record: &str,
        ledger: Option<&str>,
        how: MatchHow,
        diff: i64,
    ) -> (String, Option<String>, MatchHow, i64) {
        (record.into(), ledger.map(Into::into), how, diff)
    }

    fn details(o: &MatchOutcome) -> Vec<&str> {
        o.discrepancies.iter().map(|d| d.detail.as_str()).collect()
    }

    fn settled_only() -> MatchRules {
        MatchRules {
            settled_statuses: vec!["settled".into()],
            ..MatchRules::default()
        }
    }

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

    #[test]
    fn empty_inputs() {
        let o = run(&[], &[], &MatchRules::default());
        assert_eq!(o, MatchOutcome::default());
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

    /// A payout of three items: ch_1 (ledger has no fee: the record's 0.59 is used), ch_2 (the
    /// ledger's fee 0.88), re_1 (refund, no fee): 9.41 + 19.12 − 5.00 = 23.53.
    fn payout_fixture(paid: i64) -> (Vec<SettlementRecord>, Vec<LedgerEntry>) {
        let mut po = payout_line(5, "po_1", -paid, "USD");
        po.payout_id = Some("po_1".into());
        let records = vec![
            charge(2, "ch_1", 1000, 59),
            charge(3, "ch_2", 2000, 88),
            rec(4, "re_1", Kind::Refund, -500, 0, "USD"),
            po,
        ];
        let ledger = vec![
            in_payout(usd("ch_1", 1000), "po_1"),
            in_payout(with_fee(usd("ch_2", 2000), 88), "po_1"),
            in_payout(usd("re_1", -500), "po_1"),
            usd("ch_other", 0),
        ];
        (records, ledger)
    }

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
    fn overflow_is_a_finding_never_a_panic() {
        // ledger items overflow
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
                f("payout_total_mismatch", &["po_1"], &[], None, Some(1000)),
                f("timing", &[], &["a"], Some(i64::MAX), None),
                f("timing", &[], &["b"], Some(1), None),
            ]
        );
        assert_eq!(
            details(&o)[0],
            "payout po_1 (2 ledger items): report paid 10.00 USD, ledger items net overflows 64-bit minor units"
        );

        // amount − fee of one item overflows
        let ledger = vec![in_payout(
            with_fee(booked(usd("a", i64::MIN), end()), 1),
            "po_1",
        )];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(o.discrepancies[0].expected_minor, None);

        // the payout's own net cannot be negated
        let mut po = payout_line(4, "po_1", 0, "USD");
        po.net_minor = i64::MIN;
        po.payout_id = Some("po_1".into());
        let records = vec![po];
        let ledger = vec![in_payout(booked(usd("a", 5), end()), "po_1")];
        let o = run(&records, &ledger, &MatchRules::default());
        assert_eq!(
            findings(&o, &records, &ledger)[0],
            f("payout_total_mismatch", &["po_1"], &[], Some(5), None)
        );
        assert_eq!(
            details(&o)[0],
            "payout po_1 (1 ledger items): report paid overflows 64-bit minor units, ledger items net 0.05 USD"
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
            .retain(|d| d.kind != DiscrepancyKind::MissingInReport);
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
            kind: DiscrepancyKind::Timing,
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
        assert_eq!(o.of_kind(DiscrepancyKind::MissingInLedger).count(), 1001);
        assert_eq!(o.of_kind(DiscrepancyKind::MissingInReport).count(), 1000);
    }

    #[test]
    fn kinds_names_and_serde() {
        for kind in DiscrepancyKind::ALL {
            assert_eq!(DiscrepancyKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(DiscrepancyKind::parse("nope"), None);
        let mut sorted = DiscrepancyKind::ALL;
        sorted.sort();
        assert_eq!(sorted, DiscrepancyKind::ALL);
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
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % bound as u64) as usize
        };
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
