//! Processor payouts traced to the bank deposits that carried them, by a rule cascade in explicit priority, so every payout ends found, late or missing and every deposit explained or reported.
//!
//! # The cascade
//!
//! Each step sees only what the earlier steps left:
//!
//! 0. **Reversals.** A reversal of a credit (camt `RvslInd`, MT940 `RC`: a debit with
//!    `reversal` set) takes back the credit it reverses — same account, currency and amount,
//!    the same bank reference or end-to-end id where the reversal names one, else the latest
//!    such credit booked on or before it. Neither is offered to a payout: a payout is never
//!    matched to money that was returned, so it stays late or missing. A reversal whose credit
//!    is not among the entries is reported (a deposit traced earlier may have been returned).
//!    Other debits, reversals of debits and pending entries are not deposits: they are listed
//!    in [`Trace::not_deposits`] and left alone.
//! 1. **Strong reference.** A payout reference ([`Payout::references`]) equal (ASCII case and
//!    surrounding blanks ignored) to the entry's end-to-end id, bank reference or customer
//!    reference, or to what a configured pattern of the payout's processor captures from the
//!    entry's remittance text; no date window applies to a strong reference. Unique on both
//!    sides: the same amount and currency is a match, a different amount a [`Mismatch`]
//!    (classified by [`AmountRule`]s). Several candidates on either side: a suggestion.
//! 2. **Amount and date.** The same currency and amount, the entry booked (or valued) in the
//!    payout's window: from the day it was initiated to `window_business_days` business days
//!    after its expected arrival (or its initiation when none is expected). Unique on both
//!    sides: a match; otherwise a suggestion.
//! 3. **Bounded exact subset-sum.** One payout arriving as 2..=`max_subset_items` deposits
//!    (1:N), then one deposit carrying 2..=`max_subset_items` payouts (N:1), same currency, all
//!    inside the windows. One exact combination: a match; several: a suggestion.
//!
//! A suggestion is never a match: its payouts and entries are offered to no later step and fall
//! to the leftovers with the suggestion beside them. Leftovers: a payout past its window as of the run date is missing in
//! the bank, one still inside it is late (in flight, carried to later runs); a credit is an
//! unexplained deposit.
//!
//! # Bounded work
//!
//! Steps 1 and 2 look references and amounts up through indexes and join candidates by
//! union-find: near-linear in payouts + entries. Step 3 gathers each leftover payout's (and
//! deposit's) candidates in one pass over the other side's leftovers. A subset search walks combinations of at most `max_subset_items` of at most
//! `max_subset_candidates` candidates (the earliest booked first), in ascending amount order,
//! cutting a branch as soon as its sum passes the target or cannot reach it, and stops at two
//! combinations (enough to know it is ambiguous) or after `max_subset_steps` steps, whichever
//! comes first: at most `max_subset_steps` steps per payout and per deposit searched,
//! whatever the data. A search cut by its step bound matches nothing (a combination it found
//! is only suggested) and is counted in [`Trace::searches_cut`].
//!
//! # Configuration
//!
//! [`TraceRules`] deserializes from a check's `[checks.X.bank]` table (serde, unknown keys
//! refused):
//!
//! ```toml
//! [checks.payouts.bank]
//! window_business_days = 2
//! max_subset_items = 4
//! calendar = { holidays = ["2026-12-25"] }
//! remittance_patterns = { adyen = ["Adyen.*?(?P<ref>TX[A-Z0-9]{10,}XT)"] }
//! amount_rules = [{ class = "bank_fee", abs_minor = 50, base = "payout_amount" }]
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::Deserialize;

use super::calendar::BusinessCalendar;
use super::payout::Payout;
use super::{BankEntry, Direction, EntryStatus};
use crate::money::Currency;

/// How payouts are traced (see the module doc).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct TraceRules {
    /// Business days after a payout's expected arrival (or initiation) its deposit may still
    /// be booked.
    pub(crate) window_business_days: u32,
    pub(crate) calendar: BusinessCalendar,
    /// Processor name → patterns that pull that processor's payout reference out of a
    /// deposit's remittance text (the named group `ref`, else the whole match).
    pub(crate) remittance_patterns: BTreeMap<String, Vec<RemittancePattern>>,
    /// The most deposits (1:N) or payouts (N:1) a subset-sum combination may hold.
    pub(crate) max_subset_items: usize,
    /// The most candidates one subset search considers.
    pub(crate) max_subset_candidates: usize,
    /// The most steps one subset search takes.
    pub(crate) max_subset_steps: u64,
    /// How a reference-matched pair's amount difference is classified, first fitting rule wins.
    pub(crate) amount_rules: Vec<AmountRule>,
}

impl Default for TraceRules {
    fn default() -> Self {
        TraceRules {
            window_business_days: 2,
            calendar: BusinessCalendar::default(),
            remittance_patterns: BTreeMap::new(),
            max_subset_items: 4,
            max_subset_candidates: 200,
            max_subset_steps: 100_000,
            amount_rules: Vec::new(),
        }
    }
}

/// A regular expression (the `regex` crate's syntax) over remittance text.
#[derive(Debug, Clone)]
pub(crate) struct RemittancePattern(regex::Regex);

impl<'de> Deserialize<'de> for RemittancePattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RemittancePattern::new(&text).map_err(serde::de::Error::custom)
    }
}

impl RemittancePattern {
    pub(crate) fn new(text: &str) -> Result<RemittancePattern, String> {
        regex::Regex::new(text)
            .map(RemittancePattern)
            .map_err(|e| format!("remittance pattern {text:?}: {e}"))
    }

    /// Every reference the pattern captures in `text`.
    fn captures<'t>(&self, text: &'t str) -> impl Iterator<Item = &'t str> {
        self.0
            .captures_iter(text)
            .filter_map(|c| c.name("ref").or_else(|| c.get(0)))
            .map(|m| m.as_str())
    }
}

/// What a difference between a payout and its deposit is, where a rule says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum DifferenceClass {
    /// The bank kept part of the payout: applies only when the deposit is short.
    BankFee,
    /// A conversion on the way: applies either way.
    Fx,
}

impl DifferenceClass {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            DifferenceClass::BankFee => "bank_fee",
            DifferenceClass::Fx => "fx",
        }
    }
}

/// The amount a percentage tolerance is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ToleranceBase {
    PayoutAmount,
    DepositAmount,
}

/// A difference of at most `abs_minor` minor units, or of at most `percent_bps` basis points
/// of `base` (rounded half up to the currency's minor unit), is of class `class`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AmountRule {
    pub(crate) class: DifferenceClass,
    #[serde(default)]
    pub(crate) abs_minor: Option<i64>,
    #[serde(default)]
    pub(crate) percent_bps: Option<u32>,
    pub(crate) base: ToleranceBase,
}

/// `bps` basis points of `base_minor`, rounded half up to whole minor units, in integers.
pub(crate) fn share_of(base_minor: i64, bps: u32) -> i64 {
    let exact_twice = i128::from(base_minor).abs() * i128::from(bps) * 2;
    let rounded = (exact_twice + 10_000) / 20_000;
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

impl AmountRule {
    /// Whether the rule covers `difference` (payout − deposit) of this pair.
    fn covers(&self, difference: i64, payout_minor: i64, deposit_minor: i64) -> bool {
        if self.class == DifferenceClass::BankFee && difference <= 0 {
            return false;
        }
        let size = difference.unsigned_abs();
        let base = match self.base {
            ToleranceBase::PayoutAmount => payout_minor,
            ToleranceBase::DepositAmount => deposit_minor,
        };
        let within_abs = self.abs_minor.is_some_and(|t| size <= t.unsigned_abs());
        let within_share = self
            .percent_bps
            .is_some_and(|bps| size <= share_of(base, bps).unsigned_abs());
        within_abs || within_share
    }
}

/// Which step of the cascade paired them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rule {
    Reference,
    AmountAndDate,
    /// One payout, several deposits.
    SplitDeposit,
    /// Several payouts, one deposit.
    CombinedPayouts,
}

impl Rule {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Rule::Reference => "reference",
            Rule::AmountAndDate => "amount and date",
            Rule::SplitDeposit => "one payout in several deposits",
            Rule::CombinedPayouts => "several payouts in one deposit",
        }
    }
}

/// Payouts and entries (indices into the inputs) paired by a rule, or suggested by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Traced {
    pub(crate) payouts: Vec<usize>,
    pub(crate) entries: Vec<usize>,
    pub(crate) rule: Rule,
}

/// A payout and the deposit its reference names, whose amounts differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mismatch {
    pub(crate) payout: usize,
    pub(crate) entry: usize,
    /// payout − deposit in minor units; `None` when the currencies differ.
    pub(crate) difference_minor: Option<i64>,
    pub(crate) class: Option<DifferenceClass>,
}

/// A payout not found, and the last business day its deposit was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unfound {
    pub(crate) payout: usize,
    pub(crate) due: NaiveDate,
}

/// A credit and the reversal that took it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Returned {
    pub(crate) credit: usize,
    pub(crate) reversal: usize,
}

/// Where every payout and entry ended. Each payout index is in exactly one of `matched`,
/// `mismatched`, `late`, `missing`; each entry index in exactly one of `matched`,
/// `mismatched`, `returned`, `unpaired_reversals`, `unexplained`, `not_deposits`
/// ([`Trace::accounts_for_everything`]). `suggestions` lists again items left over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Trace {
    pub(crate) matched: Vec<Traced>,
    pub(crate) mismatched: Vec<Mismatch>,
    pub(crate) suggestions: Vec<Traced>,
    pub(crate) returned: Vec<Returned>,
    pub(crate) unpaired_reversals: Vec<usize>,
    pub(crate) late: Vec<Unfound>,
    pub(crate) missing: Vec<Unfound>,
    pub(crate) unexplained: Vec<usize>,
    pub(crate) not_deposits: Vec<usize>,
    pub(crate) searches_cut: u32,
}

impl Trace {
    /// Whether each of `payouts` payouts and `entries` entries ended in exactly one place
    /// (and nothing names an index beyond them).
    pub(crate) fn accounts_for_everything(&self, payouts: usize, entries: usize) -> bool {
        let mut p_seen = vec![0u32; payouts];
        let mut e_seen = vec![0u32; entries];
        let mut p_named: Vec<usize> = Vec::new();
        let mut e_named: Vec<usize> = Vec::new();
        for t in &self.matched {
            p_named.extend(&t.payouts);
            e_named.extend(&t.entries);
        }
        for m in &self.mismatched {
            p_named.push(m.payout);
            e_named.push(m.entry);
        }
        p_named.extend(self.late.iter().chain(&self.missing).map(|u| u.payout));
        e_named.extend(self.returned.iter().flat_map(|r| [r.credit, r.reversal]));
        e_named.extend(
            self.unpaired_reversals
                .iter()
                .chain(&self.unexplained)
                .chain(&self.not_deposits),
        );
        let tally = |seen: &mut [u32], named: &[usize]| {
            named.iter().all(|&i| match seen.get_mut(i) {
                Some(n) => {
                    *n += 1;
                    true
                }
                None => false,
            }) && seen.iter().all(|&n| n == 1)
        };
        tally(&mut p_seen, &p_named) && tally(&mut e_seen, &e_named)
    }

    /// The suggestions that name payout `p`.
    pub(crate) fn suggestions_for_payout(&self, p: usize) -> impl Iterator<Item = &Traced> {
        self.suggestions
            .iter()
            .filter(move |s| s.payouts.contains(&p))
    }

    /// The suggestions that name entry `e`.
    pub(crate) fn suggestions_for_entry(&self, e: usize) -> impl Iterator<Item = &Traced> {
        self.suggestions
            .iter()
            .filter(move |s| s.entries.contains(&e))
    }
}

/// Where each item stands while the cascade runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// Named by a suggestion: left to the leftovers, not offered to later steps.
    Suggested,
    Done,
}

/// Trace `payouts` to the deposits among `entries` (the payout account's), as of `as_of` (the
/// run's date: the day a window is judged passed or not).
pub(crate) fn trace(
    payouts: &[Payout],
    entries: &[BankEntry],
    rules: &TraceRules,
    as_of: NaiveDate,
) -> Trace {
    let mut run = Run {
        payouts,
        entries,
        rules,
        payout_state: vec![State::Open; payouts.len()],
        entry_state: vec![State::Open; entries.len()],
        due: payouts
            .iter()
            .map(|p| {
                rules.calendar.add_business_days(
                    p.expected_arrival.unwrap_or(p.initiated),
                    rules.window_business_days,
                )
            })
            .collect(),
        trace: Trace::default(),
    };
    run.set_aside_what_is_not_a_deposit();
    run.by_reference();
    run.by_amount_and_date();
    run.one_payout_several_deposits();
    run.several_payouts_one_deposit();
    run.leftovers(as_of);
    run.trace
}

struct Run<'a> {
    payouts: &'a [Payout],
    entries: &'a [BankEntry],
    rules: &'a TraceRules,
    payout_state: Vec<State>,
    entry_state: Vec<State>,
    /// Per payout, the last business day of its window.
    due: Vec<NaiveDate>,
    trace: Trace,
}

/// `text` as references compare: blanks around it dropped, ASCII upper case.
fn normal(text: &str) -> String {
    text.trim().to_ascii_uppercase()
}

impl Run<'_> {
    fn open_payouts(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.payouts.len()).filter(|&p| self.payout_state[p] == State::Open)
    }

    fn open_entries(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.entries.len()).filter(|&e| self.entry_state[e] == State::Open)
    }

    /// Whether entry `e` was booked or valued inside payout `p`'s window.
    fn in_window(&self, p: usize, e: usize) -> bool {
        let (start, end) = (self.payouts[p].initiated, self.due[p]);
        let entry = &self.entries[e];
        let inside = |d: NaiveDate| start <= d && d <= end;
        inside(entry.booking_date) || entry.value_date.is_some_and(inside)
    }

    fn set_aside_what_is_not_a_deposit(&mut self) {
        for e in 0..self.entries.len() {
            let entry = &self.entries[e];
            let deposit = entry.status == EntryStatus::Booked
                && entry.direction == Direction::Credit
                && !entry.reversal
                && entry.amount_minor > 0;
            let reverses_a_credit = entry.status == EntryStatus::Booked
                && entry.direction == Direction::Debit
                && entry.reversal;
            if !deposit && !reverses_a_credit {
                self.entry_state[e] = State::Done;
                self.trace.not_deposits.push(e);
            }
        }
        for r in 0..self.entries.len() {
            let reversal = &self.entries[r];
            if self.entry_state[r] != State::Open || reversal.direction != Direction::Debit {
                continue;
            }
            self.entry_state[r] = State::Done;
            let names: BTreeSet<String> = [&reversal.bank_ref, &reversal.end_to_end_id]
                .into_iter()
                .flatten()
                .map(|t| normal(t))
                .collect();
            let reversed = |c: &BankEntry| {
                c.account == reversal.account
                    && c.currency == reversal.currency
                    && Some(c.amount_minor) == reversal.amount_minor.checked_neg()
                    && c.booking_date <= reversal.booking_date
            };
            let same_name = |c: &BankEntry| {
                [&c.bank_ref, &c.end_to_end_id]
                    .into_iter()
                    .flatten()
                    .any(|t| names.contains(&normal(t)))
            };
            let candidates: Vec<usize> = self
                .open_entries()
                .filter(|&c| self.entries[c].direction == Direction::Credit)
                .filter(|&c| reversed(&self.entries[c]))
                .collect();
            let named: Vec<usize> = candidates
                .iter()
                .copied()
                .filter(|&c| same_name(&self.entries[c]))
                .collect();
            let pool = if names.is_empty() || named.is_empty() {
                &candidates
            } else {
                &named
            };
            // the latest booked, the later in the file on a tie
            let credit = pool
                .iter()
                .copied()
                .max_by_key(|&c| (self.entries[c].booking_date, c));
            match credit {
                Some(credit) => {
                    self.entry_state[credit] = State::Done;
                    self.trace.returned.push(Returned {
                        credit,
                        reversal: r,
                    });
                }
                None => self.trace.unpaired_reversals.push(r),
            }
        }
    }

    /// Pairs (payout, entry) that share a strong reference: the open payouts indexed by their
    /// references, then each open entry's references looked up (its structured ones for every
    /// processor, what a processor's patterns capture from its remittance text for that
    /// processor's payouts only). Work: one pass over payouts, one over entries.
    fn reference_edges(&self) -> Vec<(usize, usize)> {
        let mut by_reference: HashMap<String, Vec<usize>> = HashMap::new();
        for p in self.open_payouts() {
            let refs: BTreeSet<String> = self.payouts[p]
                .references
                .iter()
                .map(|r| normal(r))
                .filter(|r| !r.is_empty())
                .collect();
            for r in refs {
                by_reference.entry(r).or_default().push(p);
            }
        }
        let mut edges: BTreeSet<(usize, usize)> = BTreeSet::new();
        for e in self.open_entries() {
            let entry = &self.entries[e];
            for r in [&entry.end_to_end_id, &entry.bank_ref, &entry.customer_ref]
                .into_iter()
                .flatten()
            {
                for &p in by_reference.get(&normal(r)).into_iter().flatten() {
                    edges.insert((p, e));
                }
            }
            let Some(text) = &entry.remittance else {
                continue;
            };
            for (processor, patterns) in &self.rules.remittance_patterns {
                for captured in patterns.iter().flat_map(|pattern| pattern.captures(text)) {
                    for &p in by_reference.get(&normal(captured)).into_iter().flatten() {
                        if self.payouts[p].processor == *processor {
                            edges.insert((p, e));
                        }
                    }
                }
            }
        }
        edges.into_iter().collect()
    }

    fn by_reference(&mut self) {
        let edges = self.reference_edges();
        for (payouts, entries) in components(&edges, self.payouts.len()) {
            match (payouts.as_slice(), entries.as_slice()) {
                (&[p], &[e]) => {
                    let (payout, entry) = (&self.payouts[p], &self.entries[e]);
                    self.payout_state[p] = State::Done;
                    self.entry_state[e] = State::Done;
                    if payout.currency == entry.currency
                        && payout.amount_minor == entry.amount_minor
                    {
                        self.trace.matched.push(Traced {
                            payouts,
                            entries,
                            rule: Rule::Reference,
                        });
                    } else {
                        self.trace.mismatched.push(self.mismatch(p, e));
                    }
                }
                _ => self.suggest(payouts, entries, Rule::Reference),
            }
        }
    }

    fn mismatch(&self, p: usize, e: usize) -> Mismatch {
        let (payout, entry) = (&self.payouts[p], &self.entries[e]);
        let difference_minor = (payout.currency == entry.currency)
            .then(|| payout.amount_minor.checked_sub(entry.amount_minor))
            .flatten();
        let class = difference_minor.and_then(|d| {
            self.rules
                .amount_rules
                .iter()
                .find(|rule| rule.covers(d, payout.amount_minor, entry.amount_minor))
                .map(|rule| rule.class)
        });
        Mismatch {
            payout: p,
            entry: e,
            difference_minor,
            class,
        }
    }

    fn suggest(&mut self, payouts: Vec<usize>, entries: Vec<usize>, rule: Rule) {
        for &p in &payouts {
            self.payout_state[p] = State::Suggested;
        }
        for &e in &entries {
            self.entry_state[e] = State::Suggested;
        }
        self.trace.suggestions.push(Traced {
            payouts,
            entries,
            rule,
        });
    }

    /// Work: the open entries indexed by currency and amount, each payout looking up its own.
    fn by_amount_and_date(&mut self) {
        let mut by_amount: HashMap<(Currency, i64), Vec<usize>> = HashMap::new();
        for e in self.open_entries() {
            let entry = &self.entries[e];
            by_amount
                .entry((entry.currency, entry.amount_minor))
                .or_default()
                .push(e);
        }
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for p in self.open_payouts() {
            let payout = &self.payouts[p];
            for &e in by_amount
                .get(&(payout.currency, payout.amount_minor))
                .into_iter()
                .flatten()
            {
                if self.in_window(p, e) {
                    edges.push((p, e));
                }
            }
        }
        for (payouts, entries) in components(&edges, self.payouts.len()) {
            if payouts.len() == 1 && entries.len() == 1 {
                self.done(payouts, entries, Rule::AmountAndDate);
            } else {
                self.suggest(payouts, entries, Rule::AmountAndDate);
            }
        }
    }

    fn done(&mut self, payouts: Vec<usize>, entries: Vec<usize>, rule: Rule) {
        for &p in &payouts {
            self.payout_state[p] = State::Done;
        }
        for &e in &entries {
            self.entry_state[e] = State::Done;
        }
        self.trace.matched.push(Traced {
            payouts,
            entries,
            rule,
        });
    }

    /// Settle one subset search: a unique combination is a match, several (or one found by a
    /// search cut short) a suggestion.
    fn settle(&mut self, search: SubsetSearch, one: usize, many: &[usize], rule: Rule) {
        if search.cut {
            self.trace.searches_cut += 1;
        }
        let combos: Vec<Vec<usize>> = search
            .combinations
            .iter()
            .map(|c| c.iter().map(|&i| many[i]).collect())
            .collect();
        let split = |m: Vec<usize>| {
            if rule == Rule::SplitDeposit {
                (vec![one], m)
            } else {
                (m, vec![one])
            }
        };
        match combos.as_slice() {
            [] => {}
            [only] if !search.cut => {
                let (payouts, entries) = split(only.clone());
                self.done(payouts, entries, rule);
            }
            _ => {
                let all: BTreeSet<usize> = combos.iter().flatten().copied().collect();
                let (payouts, entries) = split(all.into_iter().collect());
                self.suggest(payouts, entries, rule);
            }
        }
    }

    fn one_payout_several_deposits(&mut self) {
        for p in 0..self.payouts.len() {
            if self.payout_state[p] != State::Open {
                continue;
            }
            let payout = &self.payouts[p];
            let mut candidates: Vec<usize> = self
                .open_entries()
                .filter(|&e| {
                    let entry = &self.entries[e];
                    entry.currency == payout.currency
                        && entry.amount_minor < payout.amount_minor
                        && self.in_window(p, e)
                })
                .collect();
            candidates.sort_by_key(|&e| (self.entries[e].booking_date, e));
            candidates.truncate(self.rules.max_subset_candidates);
            let amounts: Vec<i64> = candidates
                .iter()
                .map(|&e| self.entries[e].amount_minor)
                .collect();
            let search = subsets_summing_to(
                &amounts,
                payout.amount_minor,
                self.rules.max_subset_items,
                self.rules.max_subset_steps,
            );
            self.settle(search, p, &candidates, Rule::SplitDeposit);
        }
    }

    fn several_payouts_one_deposit(&mut self) {
        for e in 0..self.entries.len() {
            if self.entry_state[e] != State::Open {
                continue;
            }
            let entry = &self.entries[e];
            let mut candidates: Vec<usize> = self
                .open_payouts()
                .filter(|&p| {
                    let payout = &self.payouts[p];
                    payout.currency == entry.currency
                        && payout.amount_minor < entry.amount_minor
                        && self.in_window(p, e)
                })
                .collect();
            candidates.sort_by_key(|&p| (self.payouts[p].initiated, p));
            candidates.truncate(self.rules.max_subset_candidates);
            let amounts: Vec<i64> = candidates
                .iter()
                .map(|&p| self.payouts[p].amount_minor)
                .collect();
            let search = subsets_summing_to(
                &amounts,
                entry.amount_minor,
                self.rules.max_subset_items,
                self.rules.max_subset_steps,
            );
            self.settle(search, e, &candidates, Rule::CombinedPayouts);
        }
    }

    fn leftovers(&mut self, as_of: NaiveDate) {
        for p in 0..self.payouts.len() {
            if self.payout_state[p] == State::Done {
                continue;
            }
            let unfound = Unfound {
                payout: p,
                due: self.due[p],
            };
            if as_of > self.due[p] {
                self.trace.missing.push(unfound);
            } else {
                self.trace.late.push(unfound);
            }
        }
        for e in 0..self.entries.len() {
            if self.entry_state[e] != State::Done {
                self.trace.unexplained.push(e);
            }
        }
    }
}

/// The connected groups of a bipartite graph given by its edges (payout, entry), payouts
/// numbered below `payouts`: each group's payouts and entries ascending, the groups ordered by
/// their first payout. Union-find over the items the edges name: near-linear in the edges.
fn components(edges: &[(usize, usize)], payouts: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    // node of a payout p: p; of an entry e: payouts + e
    let mut parent: HashMap<usize, usize> = HashMap::new();
    fn root(parent: &mut HashMap<usize, usize>, node: usize) -> usize {
        let mut at = node;
        while let Some(&up) = parent.get(&at)
            && up != at
        {
            at = up;
        }
        // path compression
        let mut walk = node;
        while walk != at {
            let next = parent.get(&walk).copied().unwrap_or(at);
            parent.insert(walk, at);
            walk = next;
        }
        at
    }
    for &(p, e) in edges {
        let a = root(&mut parent, p);
        let b = root(&mut parent, payouts + e);
        parent.entry(a).or_insert(a);
        parent.entry(b).or_insert(b);
        if a != b {
            parent.insert(a.max(b), a.min(b));
        }
    }
    let mut groups: BTreeMap<usize, (BTreeSet<usize>, BTreeSet<usize>)> = BTreeMap::new();
    for &(p, e) in edges {
        let group = groups.entry(root(&mut parent, p)).or_default();
        group.0.insert(p);
        group.1.insert(e);
    }
    groups
        .into_values()
        .map(|(ps, es)| (ps.into_iter().collect(), es.into_iter().collect()))
        .collect()
}

/// What a bounded subset search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubsetSearch {
    /// Up to two combinations (indices into the amounts, ascending) summing to the target.
    pub(crate) combinations: Vec<Vec<usize>>,
    /// Steps taken: at most the step bound.
    pub(crate) steps: u64,
    /// Whether the step bound stopped the search before it was complete.
    pub(crate) cut: bool,
}

/// Combinations of 2..=`max_items` of the positive `amounts` that sum to `target`, found by a
/// depth-first walk in ascending amount order that cuts a branch once its sum passes the
/// target or cannot reach it with the items it may still take; stops at two combinations or
/// after `max_steps` steps (one step per item tried). Amounts that are not positive are never
/// taken.
pub(crate) fn subsets_summing_to(
    amounts: &[i64],
    target: i64,
    max_items: usize,
    max_steps: u64,
) -> SubsetSearch {
    let mut order: Vec<usize> = (0..amounts.len()).filter(|&i| amounts[i] > 0).collect();
    order.sort_by_key(|&i| (amounts[i], i));
    let mut walk = Walk {
        amounts,
        order: &order,
        target: i128::from(target),
        max_items,
        max_steps,
        chosen: Vec::new(),
        search: SubsetSearch {
            combinations: Vec::new(),
            steps: 0,
            cut: false,
        },
    };
    if target > 0 && max_items >= 2 {
        walk.from(0, 0);
    }
    walk.search
}

struct Walk<'a> {
    amounts: &'a [i64],
    /// Indices into `amounts`, ascending by amount.
    order: &'a [usize],
    target: i128,
    max_items: usize,
    max_steps: u64,
    chosen: Vec<usize>,
    search: SubsetSearch,
}

impl Walk<'_> {
    /// Try each item from position `start` on, on top of `sum`; false once the walk must stop.
    fn from(&mut self, start: usize, sum: i128) -> bool {
        let largest = self
            .order
            .last()
            .map_or(0, |&i| i128::from(self.amounts[i]));
        for pos in start..self.order.len() {
            let item = self.order[pos];
            let with = sum + i128::from(self.amounts[item]);
            if with > self.target {
                break; // ascending: every later item passes it too
            }
            if self.search.steps >= self.max_steps {
                self.search.cut = true;
                return false;
            }
            self.search.steps += 1;
            self.chosen.push(item);
            let slots_left = (self.max_items - self.chosen.len()) as i128;
            if with == self.target {
                if self.chosen.len() >= 2 {
                    let mut found = self.chosen.clone();
                    found.sort_unstable();
                    self.search.combinations.push(found);
                    if self.search.combinations.len() >= 2 {
                        self.chosen.pop();
                        return false;
                    }
                }
            } else if slots_left > 0
                && with + slots_left * largest >= self.target
                && !self.from(pos + 1, with)
            {
                self.chosen.pop();
                return false;
            }
            self.chosen.pop();
        }
        true
    }
}

#[cfg(test)]
mod tests;
