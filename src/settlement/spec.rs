//! A settlement check as validated: the report, its format, the ledger side and the rules that
//! match them. The configuration builds it; the check runs from it alone.

use serde::Deserialize;

use super::Format;
use super::fetch::ReportLocation;
use super::matching::MatchRules;

/// Whether the ledger's amount columns are minor units (cents) or decimal major units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AmountUnit {
    #[default]
    Minor,
    Major,
}

/// The ledger side: a table on a source and what its columns mean.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LedgerSpec {
    pub(crate) source: String,
    pub(crate) table: String,
    /// The column holding the id a report line names.
    pub(crate) id: String,
    /// Signed like a report's gross: money in positive, refunds and disputes negative.
    pub(crate) amount: String,
    pub(crate) currency: String,
    /// When the ledger booked the row: it places the row in a business day.
    pub(crate) at: String,
    pub(crate) status: Option<String>,
    pub(crate) fee: Option<String>,
    pub(crate) payout: Option<String>,
    #[serde(default)]
    pub(crate) amount_unit: AmountUnit,
}

impl LedgerSpec {
    /// Every column named, in a fixed order: id, amount, currency, at, then the optional ones.
    pub(crate) fn columns(&self) -> Vec<&str> {
        [&self.id, &self.amount, &self.currency, &self.at]
            .into_iter()
            .map(String::as_str)
            .chain(
                [&self.status, &self.fee, &self.payout]
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            )
            .collect()
    }
}

/// A validated settlement check.
#[derive(Debug, Clone)]
pub(crate) struct SettlementSpec {
    pub(crate) name: String,
    pub(crate) format: Format,
    pub(crate) location: ReportLocation,
    pub(crate) ledger: LedgerSpec,
    pub(crate) rules: MatchRules,
    /// The most bytes one downloaded report may have; past it the sync fails (exit 2).
    pub(crate) max_download_bytes: u64,
    /// The memory (MiB) its matching holds lines and rows in before spilling them to disk.
    pub(crate) memory_mb: u64,
    /// The CA bundle (PEM) its report servers must chain to, instead of the built-in roots;
    /// absolute once the configuration is loaded.
    pub(crate) tls_ca_file: Option<std::path::PathBuf>,
}
