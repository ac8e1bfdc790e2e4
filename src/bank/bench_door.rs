//! The door the bank bench (benches/bank_trace.rs) opens into the camt parser and the payout tracing (both crate-private): a statement file read, payouts traced against its entries, the outcome counted. recon itself never calls it.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use chrono::NaiveDate;

use super::camt::parse_camt;
use super::payout::Payout;
use super::trace::{self, DifferenceClass, Rule, TraceRules};
use super::{BankEntry, BatchBookings, ParsedStatements};
use crate::money::Currency;
use crate::settlement::SourceLine;

/// A camt file as recon read it.
pub struct Statements(ParsedStatements);

impl Statements {
    pub fn entries_read(&self) -> u64 {
        self.0.entries_read
    }

    pub fn entries_kept(&self) -> u64 {
        self.0.entries_kept()
    }

    pub fn quarantined(&self) -> u64 {
        self.0.quarantined.len() as u64
    }

    /// Whether every entry read is kept or quarantined.
    pub fn accounted(&self) -> bool {
        self.0.accounts_for_every_entry()
    }

    /// The entries of every statement, in file order, moved out (not copied).
    pub fn into_entries(self) -> Entries {
        Entries(
            self.0
                .statements
                .into_iter()
                .flat_map(|s| s.entries)
                .collect(),
        )
    }
}

/// Bank entries, ready to trace.
pub struct Entries(Vec<BankEntry>);

impl Entries {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads the camt file at `path` (batch bookings split, as recon's default).
pub fn parse_camt_file(path: &str) -> Result<Statements, String> {
    let file = File::open(path).map_err(|e| format!("{path}: {e}"))?;
    parse_camt(path, BufReader::new(file), BatchBookings::Split)
        .map(Statements)
        .map_err(|e| e.to_string())
}

/// Payouts of one processor, each with its id as its one reference.
pub struct Payouts {
    processor: String,
    path: Arc<str>,
    payouts: Vec<Payout>,
}

impl Payouts {
    /// No payouts yet of `processor`, read from `path` (their source).
    pub fn new(processor: &str, path: &str) -> Payouts {
        Payouts {
            processor: processor.to_string(),
            path: Arc::from(path),
            payouts: Vec::new(),
        }
    }

    /// Adds the payout on line `line` of the source; `currency` an ISO 4217 code.
    pub fn push(
        &mut self,
        line: u64,
        id: &str,
        amount_minor: i64,
        currency: &str,
        initiated: NaiveDate,
    ) -> Result<(), String> {
        let currency = Currency::parse(currency).map_err(|e| format!("line {line}: {e}"))?;
        self.payouts.push(Payout {
            processor: self.processor.clone(),
            payout_id: id.to_string(),
            amount_minor,
            currency,
            initiated,
            expected_arrival: None,
            references: vec![id.to_string()],
            source: SourceLine {
                path: Arc::clone(&self.path),
                line,
            },
        });
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.payouts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.payouts.is_empty()
    }
}

/// Where a trace put the payouts and entries, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traced {
    pub matched_by_reference: usize,
    pub matched_by_amount_and_date: usize,
    /// Matched by a subset sum, either way (one payout in several deposits or the reverse).
    pub matched_by_subset_sum: usize,
    pub mismatched_bank_fee: usize,
    pub mismatched_other: usize,
    pub suggestions: usize,
    pub late: usize,
    pub missing: usize,
    pub unexplained: usize,
    pub not_deposits: usize,
    /// Credits returned by a reversal, and reversals of no credit among the entries.
    pub returned: usize,
    pub unpaired_reversals: usize,
    pub searches_cut: u32,
    /// Whether every payout and every entry ended in exactly one place.
    pub accounted: bool,
}

/// Traces `payouts` to `entries` by the rules of a `[checks.X.bank]` table (`rules_toml`, its
/// fields as TOML), as of `as_of`.
pub fn trace_payouts(
    payouts: &Payouts,
    entries: &Entries,
    rules_toml: &str,
    as_of: NaiveDate,
) -> Result<Traced, String> {
    let rules: TraceRules = toml::from_str(rules_toml).map_err(|e| e.to_string())?;
    let t = trace::trace(&payouts.payouts, &entries.0, &rules, as_of);
    let matched_by = |rule: Rule| t.matched.iter().filter(|m| m.rule == rule).count();
    let bank_fee = t
        .mismatched
        .iter()
        .filter(|m| m.class == Some(DifferenceClass::BankFee))
        .count();
    Ok(Traced {
        matched_by_reference: matched_by(Rule::Reference),
        matched_by_amount_and_date: matched_by(Rule::AmountAndDate),
        matched_by_subset_sum: matched_by(Rule::SplitDeposit) + matched_by(Rule::CombinedPayouts),
        mismatched_bank_fee: bank_fee,
        mismatched_other: t.mismatched.len() - bank_fee,
        suggestions: t.suggestions.len(),
        late: t.late.len(),
        missing: t.missing.len(),
        unexplained: t.unexplained.len(),
        not_deposits: t.not_deposits.len(),
        returned: t.returned.len(),
        unpaired_reversals: t.unpaired_reversals.len(),
        searches_cut: t.searches_cut,
        accounted: t.accounts_for_everything(payouts.len(), entries.len()),
    })
}
