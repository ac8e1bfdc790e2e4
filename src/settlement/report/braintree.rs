//! Braintree transaction search exports (Control Panel "Transactions" search, downloaded as CSV), read into canonical records.
//!
//! The layout follows Braintree's documentation of the transaction search and its CSV export
//! (developer.paypal.com/braintree/docs — transaction search fields, transaction statuses and
//! types) and of the transaction-level fee report row (`Discount` is a *percentage rate*, the
//! fees in money are `Per Transaction Fee`, `Cross-Border Fee`, `Service Fee` and their total
//! `Braintree Total Amount`). Columns are found by name in any order; the export's other
//! columns (customer, billing, card details…) are ignored.
//!
//! Required columns: `Transaction ID`, `Transaction Type`, `Transaction Status`,
//! `Created Datetime`, `Currency ISO Code`, `Amount Submitted For Settlement`.
//! Optional: `Created Timezone` (the zone of `Created Datetime` and `Settlement Date`: an
//! abbreviation such as `CST`/`CDT`, an IANA name or an offset; UTC when absent or blank),
//! `Settlement Date` (→ `available_at`), `Order ID` (→ `reference`), `Settlement Batch ID`
//! (→ `payout_id`), `Disbursement Date` (the day of the transaction's disbursement to the bank,
//! Braintree's `disbursement_details.disbursement_date`, a calendar date →
//! [`Links::payout_arrival`]), and the fee columns. The fee is `Braintree Total Amount` where the file has
//! it, else the sum of `Service Fee`, `Per Transaction Fee` and `Cross-Border Fee` (blank counts
//! as 0); `Discount` is a rate and never money. Settlement currency columns are ignored: records
//! are in the presentment currency, the one the ledger booked.
//!
//! Dates are written `MM/DD/YYYY HH:MM:SS` (the Control Panel's export) with the zone in its own
//! column; `YYYY-MM-DD HH:MM:SS` (the API's) is read too — the two cannot be mistaken for each
//! other. A `Settlement Date` may be a date alone (`MM/DD/YYYY`): midnight in that zone.
//!
//! Braintree writes amounts as magnitudes: a `sale` is a [`Kind::Charge`] with a positive gross,
//! a `credit` a [`Kind::Refund`] with a negative gross; a negative amount is quarantined rather
//! than guessed at. The export has no net column, so `net = gross − fee`. Only statuses in which
//! money moves or is about to (`submitted_for_settlement`, `settling`, `settlement_pending`,
//! `settlement_confirmed`, `settled`; written with spaces or underscores, any case) make
//! records; a row in any other status (voided, declined, authorized…) is quarantined, since a
//! settlement file should not contain it. The export has no options a run could change; the
//! format option `report_type = "settlement_batch_summary"` reads Braintree's settlement batch summary
//! instead ([`super::braintree_summary`]).

use serde::Deserialize;

use super::RowParser;
use super::csv_rows::{Col, Columns, Row, ascii_lowercase, date_reason, money_reason};
use super::zone::{Zone, parse_month_first};
use crate::money::{MoneyError, parse_major};
use crate::settlement::record::Links;
use crate::settlement::{Id, Kind, SettlementRecord};

pub(crate) const PROCESSOR: &str = "braintree";

/// The fee columns in money, summed when the file has no total.
const FEE_COLUMNS: [&str; 3] = ["Service Fee", "Per Transaction Fee", "Cross-Border Fee"];

/// The total of the fee columns, where the file has it.
const FEE_TOTAL: &str = "Braintree Total Amount";

const SETTLING_STATUSES: [&str; 5] = [
    "submitted_for_settlement",
    "settling",
    "settlement_pending",
    "settlement_confirmed",
    "settled",
];

/// Which Braintree report the file is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    /// The transaction search export (this module).
    #[default]
    TransactionSearch,
    /// The settlement batch summary ([`super::braintree_summary`]).
    SettlementBatchSummary,
}

/// The format options. The transaction search export has none; the settlement batch summary
/// needs the currency of each merchant account, which it does not name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    pub(crate) report_type: Report,
    /// Merchant account id → ISO 4217 code, for the settlement batch summary.
    pub(crate) currencies: std::collections::BTreeMap<String, String>,
    /// The custom field the summary was grouped by (its column), if any.
    pub(crate) group_by_custom_field: Option<String>,
    /// How many physical lines one row may span (quoted line breaks); 1 by default.
    pub(crate) max_record_lines: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            report_type: Report::default(),
            currencies: Default::default(),
            group_by_custom_field: None,
            max_record_lines: 1,
        }
    }
}

impl Options {
    /// `Err` names an option that cannot work.
    pub(crate) fn validate(&self) -> Result<(), String> {
        for (account, code) in &self.currencies {
            crate::money::Currency::parse(code).map_err(|_| {
                format!("currencies.{account}: {code:?} is not an ISO 4217 currency code")
            })?;
        }
        match self.report_type {
            Report::SettlementBatchSummary if self.currencies.is_empty() => Err(
                "currencies: the settlement batch summary does not name its currency; map each merchant account to its currency code".to_owned(),
            ),
            Report::TransactionSearch
                if !self.currencies.is_empty() || self.group_by_custom_field.is_some() =>
            {
                Err("currencies and group_by_custom_field are options of report_type = \"settlement_batch_summary\"".to_owned())
            }
            _ => Ok(()),
        }
    }
}

pub(crate) struct Parser {
    id: Col,
    kind: Col,
    status: Col,
    created: Col,
    currency: Col,
    amount: Col,
    zone: Option<Col>,
    settlement_date: Option<Col>,
    order_id: Option<Col>,
    batch: Option<Col>,
    disbursement_date: Option<Col>,
    fees: Vec<Col>,
}

impl Parser {
    pub(crate) fn new(columns: &mut Columns<'_>, _options: &Options) -> Parser {
        Parser {
            id: columns.required("Transaction ID"),
            kind: columns.required("Transaction Type"),
            status: columns.required("Transaction Status"),
            created: columns.required("Created Datetime"),
            currency: columns.required("Currency ISO Code"),
            amount: columns.required("Amount Submitted For Settlement"),
            zone: columns.optional("Created Timezone"),
            settlement_date: columns.optional("Settlement Date"),
            order_id: columns.optional("Order ID"),
            batch: columns.optional("Settlement Batch ID"),
            disbursement_date: columns.optional("Disbursement Date"),
            fees: match columns.optional(FEE_TOTAL) {
                Some(total) => vec![total],
                None => FEE_COLUMNS
                    .iter()
                    .filter_map(|name| columns.optional(name))
                    .collect(),
            },
        }
    }

    fn timestamp(
        row: &Row<'_>,
        col: &Col,
        zone: &Zone,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, String> {
        match row.optional(Some(col)) {
            None => Ok(None),
            Some(text) => parse_month_first(text, zone)
                .map(Some)
                .map_err(|why| date_reason(col, text, &why)),
        }
    }
}

/// Braintree's two kinds of money movement: a `sale` is a charge, a `credit` a refund.
pub(super) fn sale_or_credit(text: &str) -> Option<Kind> {
    match ascii_lowercase(text).as_ref() {
        "sale" => Some(Kind::Charge),
        "credit" => Some(Kind::Refund),
        _ => None,
    }
}

impl RowParser for Parser {
    fn parse(&self, row: &Row<'_>) -> Result<SettlementRecord, String> {
        let record_id = Id::from(row.required(&self.id)?);
        let type_text = row.required(&self.kind)?;
        let kind = sale_or_credit(type_text).ok_or_else(|| {
            format!(
                "unknown transaction type `{type_text}` in `{}`",
                self.kind.name
            )
        })?;
        let status = row.required(&self.status)?;
        let normalized_status = status.to_ascii_lowercase().replace(' ', "_");
        if !SETTLING_STATUSES.contains(&normalized_status.as_str()) {
            return Err(format!(
                "status `{status}` in `{}` is not a settlement (no money moved)",
                self.status.name
            ));
        }
        let currency = row.currency(&self.currency)?;
        let amount = row.amount(&self.amount, currency, '.')?;
        if amount < 0 {
            return Err(format!(
                "bad number in `{}`: unexpected negative amount `{}` (Braintree writes magnitudes)",
                self.amount.name,
                row.text(&self.amount)
            ));
        }
        let gross_minor = if kind == Kind::Refund {
            -amount
        } else {
            amount
        };
        let mut fee_minor: i64 = 0;
        for col in &self.fees {
            let text = row.text(col);
            if text.is_empty() {
                continue;
            }
            let fee = parse_major(text, currency, '.').map_err(|e| money_reason(col, &e))?;
            fee_minor = fee_minor.checked_add(fee).ok_or_else(|| {
                money_reason(
                    col,
                    &MoneyError::Overflow {
                        operation: "the sum of the fee columns".to_owned(),
                    },
                )
            })?;
        }
        let net_minor = gross_minor
            .checked_sub(fee_minor)
            .ok_or_else(|| "amount out of range: gross − fee overflows".to_owned())?;
        let zone = match row.optional(self.zone.as_ref()) {
            None => Zone::UTC,
            Some(name) => Zone::parse(name)
                .ok_or_else(|| format!("unknown time zone `{name}` in `Created Timezone`"))?,
        };
        let created_at = Self::timestamp(row, &self.created, &zone)?
            .ok_or_else(|| format!("missing value in `{}`", self.created.name))?;
        let available_at = match &self.settlement_date {
            Some(col) => Self::timestamp(row, col, &zone)?,
            None => None,
        };
        // a calendar date: read as written, never shifted by a zone
        let payout_arrival = match &self.disbursement_date {
            Some(col) => Self::timestamp(row, col, &Zone::UTC)?.map(|at| at.date_naive()),
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
            payout_id: row.optional_id(self.batch.as_ref()),
            reference: row.optional_id(self.order_id.as_ref()),
            links: Links {
                payout_arrival,
                ..Links::default()
            }
            .boxed(),
            source: row.source(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{Format, parse_report};
    use super::*;

    struct Expect {
        id: &'static str,
        kind: Kind,
        gross: i64,
        fee: i64,
        currency: &'static str,
        created: &'static str,
        available: Option<&'static str>,
        batch: Option<&'static str>,
        order: Option<&'static str>,
        line: u64,
    }

    fn rec(e: Expect) -> SettlementRecord {
        SettlementRecord {
            record_id: e.id.into(),
            kind: e.kind,
            gross_minor: e.gross,
            fee_minor: e.fee,
            net_minor: e.gross - e.fee,
            currency: cur(e.currency),
            created_at: utc(e.created),
            available_at: e.available.map(utc),
            payout_id: e.batch.map(Into::into),
            reference: e.order.map(Into::into),
            links: Default::default(),
            source: at("bt.csv", e.line),
        }
    }

    const EXPORT: &str = "\
Transaction ID,Transaction Type,Transaction Status,Created Datetime,Created Timezone,Settlement Date,Merchant Account,Currency ISO Code,Amount Authorized,Amount Submitted For Settlement,Service Fee,Order ID,Settlement Batch ID,Payment Instrument Type,Card Type
k2x7m9pq,sale,settled,2024-03-01 09:15:02,America/Chicago,2024-03-02,acme_usd,USD,25.00,25.00,0.75,order-1001,2024-03-02_acme_usd_01,Credit Card,Visa
r8d3a1zz,sale,settled,2024-03-01 10:00:00,UTC,2024-03-02,acme_jpy,JPY,1500,1500,,order-1002,2024-03-02_acme_jpy_01,Credit Card,JCB
c4n6w2yy,credit,settled,2024-03-01 23:30:00,CST,2024-03-02,acme_usd,USD,,10.00,,order-1001,2024-03-02_acme_usd_01,Credit Card,Visa
q1w2e3r4,Sale,Settling,2024-03-02 08:00:00,,,acme_kwd,KWD,12.345,12.345,0.123,\"order-1003, gift\",,Credit Card,Visa
";

    #[test]
    fn settlement_export() {
        let outcome = parse(&Format::Braintree(Default::default()), "bt.csv", EXPORT);
        assert_eq!(
            outcome.records,
            vec![
                rec(Expect {
                    id: "k2x7m9pq",
                    kind: Kind::Charge,
                    gross: 2500,
                    fee: 75,
                    currency: "USD",
                    // Chicago is UTC−6 before the March DST change
                    created: "2024-03-01T15:15:02Z",
                    available: Some("2024-03-02T06:00:00Z"),
                    batch: Some("2024-03-02_acme_usd_01"),
                    order: Some("order-1001"),
                    line: 2,
                }),
                rec(Expect {
                    id: "r8d3a1zz",
                    kind: Kind::Charge,
                    gross: 1500,
                    fee: 0,
                    currency: "JPY",
                    created: "2024-03-01T10:00:00Z",
                    available: Some("2024-03-02T00:00:00Z"),
                    batch: Some("2024-03-02_acme_jpy_01"),
                    order: Some("order-1002"),
                    line: 3,
                }),
                rec(Expect {
                    id: "c4n6w2yy",
                    kind: Kind::Refund,
                    gross: -1000,
                    fee: 0,
                    currency: "USD",
                    created: "2024-03-02T05:30:00Z",
                    available: Some("2024-03-02T06:00:00Z"),
                    batch: Some("2024-03-02_acme_usd_01"),
                    order: Some("order-1001"),
                    line: 4,
                }),
                rec(Expect {
                    id: "q1w2e3r4",
                    kind: Kind::Charge,
                    gross: 12345,
                    fee: 123,
                    currency: "KWD",
                    created: "2024-03-02T08:00:00Z",
                    available: None,
                    batch: None,
                    order: Some("order-1003, gift"),
                    line: 5,
                }),
            ]
        );
        assert!(outcome.quarantined.is_empty());
        assert_eq!(outcome.rows_read, 4);
    }

    #[test]
    fn bom_crlf_reordered_header_and_extra_fee_columns() {
        let text = "\u{feff}currency iso code,AMOUNT SUBMITTED FOR SETTLEMENT,Discount,Per Transaction Fee,transaction id,Transaction Status,Transaction Type,Created Datetime\r\n\
            EUR,\"1,200.00\",2.00,0.10,abc123,settled,sale,2024-03-05 12:00:00\r\n\
            EUR,5.00,2.00,,def456,settled,credit,\"2024-03-05 13:00:00\"\r\n";
        let outcome = parse_both_ways(&Format::Braintree(Default::default()), "bt.csv", text);
        let base = |id, kind, gross, fee, created, line| {
            rec(Expect {
                id,
                kind,
                gross,
                fee,
                currency: "EUR",
                created,
                available: None,
                batch: None,
                order: None,
                line,
            })
        };
        assert_eq!(
            outcome.records,
            vec![
                // `Discount` is a rate (2.00 %), never money: only the per-transaction fee
                base(
                    "abc123",
                    Kind::Charge,
                    120_000,
                    10,
                    "2024-03-05T12:00:00Z",
                    2
                ),
                base("def456", Kind::Refund, -500, 0, "2024-03-05T13:00:00Z", 3),
            ]
        );
        assert_eq!(outcome.records[1].net_minor, -500);
    }

    /// The disbursement date is the day the payout is expected in the bank, read as the
    /// calendar date written (a zone east of UTC does not move it to the day before).
    #[test]
    fn disbursement_date_is_the_payout_arrival() {
        let text = "\
Transaction ID,Transaction Type,Transaction Status,Created Datetime,Created Timezone,Settlement Date,Disbursement Date,Currency ISO Code,Amount Submitted For Settlement,Settlement Batch ID
t1,sale,settled,2026-12-23 09:00:00,Asia/Tokyo,2026-12-23,12/24/2026,JPY,1500,2026-12-23_acme_jpy
t2,sale,settled,2026-12-23 10:00:00,Asia/Tokyo,2026-12-23,,JPY,700,2026-12-23_acme_jpy
t3,sale,settled,2026-12-23 11:00:00,Asia/Tokyo,2026-12-23,next week,JPY,900,2026-12-23_acme_jpy
";
        let outcome = parse(&Format::Braintree(Default::default()), "bt.csv", text);
        let arrivals: Vec<(&str, Option<chrono::NaiveDate>)> = outcome
            .records
            .iter()
            .map(|r| (r.record_id.as_str(), r.links().payout_arrival))
            .collect();
        assert_eq!(
            arrivals,
            vec![
                ("t1", chrono::NaiveDate::from_ymd_opt(2026, 12, 24)),
                ("t2", None)
            ]
        );
        assert_eq!(outcome.quarantined.len(), 1);
        assert_eq!(outcome.quarantined[0].source.line, 4);
        assert_eq!(
            outcome.quarantined[0].reason,
            "unparseable date in `Disbursement Date`: `next week` (expected MM/DD/YYYY HH:MM:SS or YYYY-MM-DD HH:MM:SS)"
        );
    }

    #[test]
    fn malformed_rows() {
        let text = "\
Transaction ID,Transaction Type,Transaction Status,Created Datetime,Created Timezone,Currency ISO Code,Amount Submitted For Settlement,Service Fee
t1,sale,settled,2024-03-01 10:00:00,,USD,10.00,0.30
t2,sale,voided,2024-03-01 10:00:00,,USD,10.00,
t3,refund,settled,2024-03-01 10:00:00,,USD,10.00,
,sale,settled,2024-03-01 10:00:00,,USD,10.00,
t5,sale,settled,2024-03-01 10:00:00,Mars/Olympus,USD,10.00,
t6,sale,settled,2024-03-01 25:00:00,,USD,10.00,
t7,sale,settled,2024-03-01 10:00:00,,ZZZ,10.00,
t8,sale,settled,2024-03-01 10:00:00,,USD,-10.00,
t9,sale,settled,2024-03-01 10:00:00,,JPY,100.5,
t10,sale,settled,2024-03-01 10:00:00,,USD,10.00,0.3.0
t11,sale,settled,2024-03-01 10:00:00,,USD
t12,credit,processor_declined,2024-03-01 10:00:00,,USD,10.00,
t13,sale,settled,2024-03-01 10:00:00,,USD,,
";
        let outcome = parse_both_ways(&Format::Braintree(Default::default()), "bt.csv", text);
        assert_eq!(
            outcome.records,
            vec![rec(Expect {
                id: "t1",
                kind: Kind::Charge,
                gross: 1000,
                fee: 30,
                currency: "USD",
                created: "2024-03-01T10:00:00Z",
                available: None,
                batch: None,
                order: None,
                line: 2,
            })]
        );
        let expected: Vec<(u64, String)> = [
            (3, "status `voided` in `Transaction Status` is not a settlement (no money moved)"),
            (4, "unknown transaction type `refund` in `Transaction Type`"),
            (5, "missing value in `Transaction ID`"),
            (6, "unknown time zone `Mars/Olympus` in `Created Timezone`"),
            (
                7,
                "unparseable date in `Created Datetime`: `2024-03-01 25:00:00` (expected MM/DD/YYYY HH:MM:SS or YYYY-MM-DD HH:MM:SS)",
            ),
            (8, "unknown currency `ZZZ` in `Currency ISO Code`"),
            (
                9,
                "bad number in `Amount Submitted For Settlement`: unexpected negative amount `-10.00` (Braintree writes magnitudes)",
            ),
            (
                10,
                "amount in `Amount Submitted For Settlement` does not fit JPY: `100.5` has more decimal places than JPY allows (0)",
            ),
            (11, "bad number in `Service Fee`: `0.3.0` is not a decimal number"),
            (12, "wrong field count: expected 8, found 6"),
            (
                13,
                "status `processor_declined` in `Transaction Status` is not a settlement (no money moved)",
            ),
            (14, "missing value in `Amount Submitted For Settlement`"),
        ]
        .into_iter()
        .map(|(line, reason)| (line, reason.to_owned()))
        .collect();
        assert_eq!(quarantine_list(&outcome), expected);
        assert_eq!(outcome.rows_read, 13);
    }

    #[test]
    fn required_columns() {
        let text = "Transaction ID,Transaction Type,Amount\n";
        let err = parse_report(
            &Format::Braintree(Default::default()),
            "bt.csv",
            text.as_bytes(),
        )
        .expect_err("missing columns");
        match err {
            super::super::ReportError::MissingColumns { missing, .. } => assert_eq!(
                missing,
                [
                    "Transaction Status",
                    "Created Datetime",
                    "Currency ISO Code",
                    "Amount Submitted For Settlement"
                ]
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
}
