//! Stripe itemized balance reports ("balance change from activity" and "payout reconciliation"), read into canonical records.
//!
//! The layout is the one Stripe documents for its report types (docs.stripe.com/reports/report-types
//! — `balance_change_from_activity.itemized.*` and `payout_reconciliation.itemized.*`, their column
//! lists and run parameters) and that a Dashboard download or a Reporting API run produces.
//! Columns are found by name in any order, so a run with the `columns` parameter works as long as
//! it keeps the required ones: `balance_transaction_id`, `currency`, `gross`, `fee`, `net`,
//! `reporting_category`, and a creation time — `created_utc`, or `created` in the run's time
//! zone when `created_utc` was not selected. Optional: `available_on_utc` (or `available_on`),
//! `source_id`, `automatic_payout_id`, `automatic_payout_effective_at_utc` (or
//! `automatic_payout_effective_at`: the day Stripe expects the payout in the bank, kept as
//! [`Links::payout_arrival`] for tracing payouts to deposits); every other column
//! (`description`, metadata…) is ignored.
//!
//! Amounts are decimal strings in major units with Stripe's own signs, which already follow the
//! crate's convention (`net = gross − fee`, fee positive when Stripe took money). `record_id` is
//! the balance transaction id (unique per line); `reference` is `source_id` (the
//! `ch_`/`re_`/`dp_`/`po_` object), since Stripe reports carry no order id; `payout_id` is
//! `automatic_payout_id`, or for a payout line its own `source_id`.
//!
//! # Options (the report run's parameters)
//!
//! - `timezone` (Stripe's `timezone` parameter, default `Etc/UTC`): the zone of the columns
//!   without `_utc` (`created`, `available_on`); the `_utc` columns are UTC whatever it is.
//! - `decimal_separator` (Stripe's `decimal_separator` parameter, `.` by default, or `,`): amounts
//!   such as `1.234,56` (the other separator groups thousands), quoted in the comma-separated file.
//! - `report_type`: the run's report type, `balance_change_from_activity` (default) or
//!   `payout_reconciliation`, with or without Stripe's `.itemized.<version>` suffix. A
//!   `stripe_api` run is of this report (see `fetch::stripe_api::report_types`): `timezone` and
//!   `decimal_separator` are sent as its parameters where its version documents them. A payout
//!   reconciliation report lists the lines each payout settled, many of them booked on earlier
//!   days: every line must name its `automatic_payout_id`, and the check reads the ledger rows the
//!   report names whatever day they were booked (see [`super::Format::spans_days`]).

use serde::Deserialize;

use super::RowParser;
use super::csv_rows::{Col, Columns, Row, ascii_lowercase};
use super::zone::Zone;
use crate::settlement::record::Links;
use crate::settlement::{Id, Kind, SettlementRecord};

pub(crate) const PROCESSOR: &str = "stripe";

/// Which itemized report the file is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Report {
    /// `balance_change_from_activity.itemized.*`: the day's balance transactions.
    #[default]
    BalanceChangeFromActivity,
    /// `payout_reconciliation.itemized.*`: the lines settled by the day's automatic payouts.
    PayoutReconciliation,
}

impl TryFrom<String> for Report {
    type Error = String;

    /// `payout_reconciliation` or `payout_reconciliation.itemized.5` alike.
    fn try_from(name: String) -> Result<Report, String> {
        let family = name.split('.').next().unwrap_or_default();
        [
            Report::BalanceChangeFromActivity,
            Report::PayoutReconciliation,
        ]
        .into_iter()
        .find(|report| report.as_str() == family)
        .ok_or_else(|| {
            format!(
                "{name:?} is not an itemized report this format reads (balance_change_from_activity or payout_reconciliation)"
            )
        })
    }
}

impl Report {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Report::BalanceChangeFromActivity => "balance_change_from_activity",
            Report::PayoutReconciliation => "payout_reconciliation",
        }
    }
}

/// The run parameters that change how the file reads (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    pub(crate) timezone: String,
    pub(crate) decimal_separator: char,
    pub(crate) report_type: Report,
    /// How many physical lines one row may span (a description holding line breaks); not a
    /// Stripe run parameter: recon's own, 1 by default.
    pub(crate) max_record_lines: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timezone: "Etc/UTC".to_owned(),
            decimal_separator: '.',
            report_type: Report::default(),
            max_record_lines: 1,
        }
    }
}

impl Options {
    /// `Err` names an option Stripe would not accept.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !matches!(self.decimal_separator, '.' | ',') {
            return Err(format!(
                "decimal_separator: {:?} is not one Stripe offers (\".\" or \",\")",
                self.decimal_separator
            ));
        }
        self.zone().map(|_| ())
    }

    /// True when the options read local times as UTC (what a report type without a `timezone`
    /// parameter writes).
    pub(crate) fn reads_utc(&self) -> bool {
        matches!(self.zone(), Ok(Zone::Fixed(offset)) if offset.local_minus_utc() == 0)
            || matches!(
                self.timezone.trim(),
                "Etc/UTC"
                    | "Etc/UCT"
                    | "Etc/Universal"
                    | "Etc/Zulu"
                    | "Etc/GMT"
                    | "UCT"
                    | "Universal"
                    | "Zulu"
            )
    }

    /// The columns this report needs that a run selecting `columns` (none: the report type's
    /// default set) would leave out, in the order the module doc names them.
    pub(crate) fn columns_missing(&self, columns: &[String]) -> Vec<&'static str> {
        if columns.is_empty() {
            return Vec::new();
        }
        let has = |name: &str| columns.iter().any(|c| c == name);
        let mut missing: Vec<&'static str> = [
            "balance_transaction_id",
            "currency",
            "gross",
            "fee",
            "net",
            "reporting_category",
        ]
        .into_iter()
        .filter(|name| !has(name))
        .collect();
        if !has("created_utc") && !has("created") {
            missing.push("created_utc (or created)");
        }
        if self.report_type == Report::PayoutReconciliation && !has("automatic_payout_id") {
            missing.push("automatic_payout_id");
        }
        missing
    }

    fn zone(&self) -> Result<Zone, String> {
        Zone::parse(&self.timezone).ok_or_else(|| {
            format!(
                "timezone: {:?} is not a time zone (an IANA name such as \"America/New_York\")",
                self.timezone
            )
        })
    }
}

/// A timestamp column and the zone its text is in.
struct Timestamp {
    col: Col,
    zone: Zone,
}

impl Timestamp {
    /// The `<name>_utc` column if the header has it, else `<name>` in the run's zone.
    fn find(columns: &mut Columns<'_>, name: &str, zone: Zone) -> Option<Timestamp> {
        match columns.optional(&format!("{name}_utc")) {
            Some(col) => Some(Timestamp {
                col,
                zone: Zone::UTC,
            }),
            None => columns.optional(name).map(|col| Timestamp { col, zone }),
        }
    }
}

pub(crate) struct Parser {
    id: Col,
    created: Timestamp,
    currency: Col,
    gross: Col,
    fee: Col,
    net: Col,
    category: Col,
    available: Option<Timestamp>,
    source_id: Option<Col>,
    payout: Option<Col>,
    payout_arrival: Option<Timestamp>,
    decimal_separator: char,
    report_type: Report,
}

impl Parser {
    pub(crate) fn new(columns: &mut Columns<'_>, options: &Options) -> Parser {
        // validated with the configuration; UTC only for an unchecked caller
        let zone = options.zone().unwrap_or(Zone::UTC);
        let id = columns.required("balance_transaction_id");
        let created = Timestamp::find(columns, "created", zone).unwrap_or_else(|| Timestamp {
            col: columns.required("created_utc"),
            zone: Zone::UTC,
        });
        let currency = columns.required("currency");
        let gross = columns.required("gross");
        let fee = columns.required("fee");
        let net = columns.required("net");
        let category = columns.required("reporting_category");
        let payout = match options.report_type {
            Report::BalanceChangeFromActivity => columns.optional("automatic_payout_id"),
            Report::PayoutReconciliation => Some(columns.required("automatic_payout_id")),
        };
        Parser {
            id,
            created,
            currency,
            gross,
            fee,
            net,
            category,
            available: Timestamp::find(columns, "available_on", zone),
            source_id: columns.optional("source_id"),
            payout,
            payout_arrival: Timestamp::find(columns, "automatic_payout_effective_at", zone),
            decimal_separator: options.decimal_separator,
            report_type: options.report_type,
        }
    }
}

impl RowParser for Parser {
    fn parse(&self, row: &Row<'_>) -> Result<SettlementRecord, String> {
        let record_id = Id::from(row.required(&self.id)?);
        let kind = kind_of(row.required(&self.category)?);
        let currency = row.currency(&self.currency)?;
        let gross_minor = row.amount(&self.gross, currency, self.decimal_separator)?;
        let fee_minor = row.amount(&self.fee, currency, self.decimal_separator)?;
        let net_minor = row.amount(&self.net, currency, self.decimal_separator)?;
        let created_at = row.timestamp(&self.created.col, &self.created.zone)?;
        let available_at = match &self.available {
            Some(available) => row.optional_timestamp(Some(&available.col), &available.zone)?,
            None => None,
        };
        let reference = row.optional_id(self.source_id.as_ref());
        let automatic_payout = match (self.report_type, &self.payout) {
            (Report::PayoutReconciliation, Some(col)) => Some(Id::from(row.required(col)?)),
            _ => row.optional_id(self.payout.as_ref()),
        };
        let payout_id =
            automatic_payout.or_else(|| reference.clone().filter(|_| kind == Kind::Payout));
        let payout_arrival = match &self.payout_arrival {
            Some(arrival) => row
                .optional_timestamp(Some(&arrival.col), &arrival.zone)?
                .map(|at| at.date_naive()),
            None => None,
        };
        Ok(SettlementRecord {
            record_id,
            kind,
            gross_minor,
            fee_minor,
            net_minor,
            currency,
            created_at,
            available_at,
            payout_id,
            reference,
            links: Links {
                payout_arrival,
                ..Links::default()
            }
            .boxed(),
            source: row.source(),
        })
    }
}

/// Stripe's `reporting_category` → [`Kind`]; unknown categories are [`Kind::Other`].
fn kind_of(category: &str) -> Kind {
    match ascii_lowercase(category).as_ref() {
        "charge" => Kind::Charge,
        "refund" | "refund_failure" | "partial_capture_reversal" => Kind::Refund,
        "dispute" => Kind::Dispute,
        "dispute_reversal" => Kind::DisputeReversal,
        "fee" | "network_cost" | "platform_earning" | "platform_earning_refund" | "tax" => {
            Kind::Fee
        }
        "payout" | "payout_reversal" => Kind::Payout,
        "adjustment"
        | "other_adjustment"
        | "charge_failure"
        | "risk_reserved_funds"
        | "risk_reserved_funds_release"
        | "unreconciled_customer_funds" => Kind::Adjustment,
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests;
