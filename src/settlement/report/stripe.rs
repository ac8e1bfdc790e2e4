//! Stripe itemized balance reports ("balance change from activity" and "payout reconciliation"), read into canonical records.
//!
//! The layout is the one Stripe documents for its report types (docs.stripe.com/reports/report-types
//! — `balance_change_from_activity.itemized.*` and `payout_reconciliation.itemized.*`, their column
//! lists and run parameters) and that a Dashboard download or a Reporting API run produces.
//! Columns are found by name in any order, so a run with the `columns` parameter works as long as
//! it keeps the required ones: `balance_transaction_id`, `currency`, `gross`, `fee`, `net`,
//! `reporting_category`, and a creation time — `created_utc`, or `created` in the run's time
//! zone when `created_utc` was not selected. Optional: `available_on_utc` (or `available_on`),
//! `source_id`, `automatic_payout_id`; every other column (`description`, metadata…) is ignored.
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
//!   `payout_reconciliation`, with or without Stripe's `.itemized.<version>` suffix. A payout
//!   reconciliation report lists the lines each payout settled, many of them booked on earlier
//!   days: every line must name its `automatic_payout_id`, and the check reads the ledger rows the
//!   report names whatever day they were booked (see [`super::Format::spans_days`]).

use serde::Deserialize;

use super::RowParser;
use super::csv_rows::{Col, Columns, Row, ascii_lowercase};
use super::zone::Zone;
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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timezone: "Etc/UTC".to_owned(),
            decimal_separator: '.',
            report_type: Report::default(),
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
        Ok(SettlementRecord {
            processor: PROCESSOR.into(),
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
            links: Default::default(),
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
mod tests {
    use super::super::test_support::*;
    use super::super::{Format, Quarantined, SourceLine};
    use super::*;

    fn rec(
        id: &str,
        kind: Kind,
        (gross, fee, net): (i64, i64, i64),
        currency: &str,
        created: &str,
        line: u64,
    ) -> SettlementRecord {
        SettlementRecord {
            processor: "stripe".into(),
            record_id: id.into(),
            kind,
            gross_minor: gross,
            fee_minor: fee,
            net_minor: net,
            currency: cur(currency),
            created_at: utc(created),
            available_at: None,
            payout_id: None,
            reference: None,
            links: Default::default(),
            source: at("stripe.csv", line),
        }
    }

    const ACTIVITY: &str = "\
balance_transaction_id,created_utc,created,available_on_utc,currency,gross,fee,net,reporting_category,source_id,description,customer_facing_amount,customer_facing_currency
txn_1,2024-03-01 09:15:02,2024-03-01 10:15:02,2024-03-03 00:00:00,usd,25.00,1.03,23.97,charge,ch_1,\"Order 1001, 2 items\",25.00,usd
txn_2,2024-03-01 10:00:00,2024-03-01 11:00:00,2024-03-03 00:00:00,jpy,1500,75,1425,charge,ch_2,Tokyo order,1500,jpy
txn_3,2024-03-01 11:30:00,2024-03-01 12:30:00,2024-03-03 00:00:00,kwd,12.345,0.370,11.975,charge,ch_3,,12.345,kwd
txn_4,2024-03-01 12:00:00,2024-03-01 13:00:00,2024-03-01 12:00:00,usd,-10.00,0.00,-10.00,refund,re_1,\"Refund for \"\"Order 1001\"\"\",-10.00,usd
txn_5,2024-03-01 13:00:00,2024-03-01 14:00:00,2024-03-01 13:00:00,usd,-25.00,15.00,-40.00,dispute,dp_1,\"Dispute
spanning two lines\",,
txn_6,2024-03-02 08:00:00,2024-03-02 09:00:00,2024-03-02 08:00:00,usd,25.00,-15.00,40.00,dispute_reversal,dp_1,,,
txn_7,2024-03-02 09:00:00,2024-03-02 10:00:00,2024-03-02 09:00:00,usd,-0.50,0.00,-0.50,fee,,Radar fee,,
txn_8,2024-03-03 00:05:00,2024-03-03 01:05:00,2024-03-03 00:05:00,usd,-150.00,0.00,-150.00,payout,po_9,STRIPE PAYOUT,,
txn_9,2024-03-03 00:06:00,2024-03-03 01:06:00,,eur,1.00,0.00,1.00,climate_order_purchase,,,,

";

    #[test]
    fn activity_report() {
        let outcome = parse_both_ways(&Format::Stripe(Default::default()), "stripe.csv", ACTIVITY);
        let avail = |r: SettlementRecord, t: &str| SettlementRecord {
            available_at: Some(utc(t)),
            ..r
        };
        let refer = |r: SettlementRecord, s: &str| SettlementRecord {
            reference: Some(s.into()),
            ..r
        };
        let expected = vec![
            refer(
                avail(
                    rec(
                        "txn_1",
                        Kind::Charge,
                        (2500, 103, 2397),
                        "USD",
                        "2024-03-01T09:15:02Z",
                        2,
                    ),
                    "2024-03-03T00:00:00Z",
                ),
                "ch_1",
            ),
            refer(
                avail(
                    rec(
                        "txn_2",
                        Kind::Charge,
                        (1500, 75, 1425),
                        "JPY",
                        "2024-03-01T10:00:00Z",
                        3,
                    ),
                    "2024-03-03T00:00:00Z",
                ),
                "ch_2",
            ),
            refer(
                avail(
                    rec(
                        "txn_3",
                        Kind::Charge,
                        (12345, 370, 11975),
                        "KWD",
                        "2024-03-01T11:30:00Z",
                        4,
                    ),
                    "2024-03-03T00:00:00Z",
                ),
                "ch_3",
            ),
            refer(
                avail(
                    rec(
                        "txn_4",
                        Kind::Refund,
                        (-1000, 0, -1000),
                        "USD",
                        "2024-03-01T12:00:00Z",
                        5,
                    ),
                    "2024-03-01T12:00:00Z",
                ),
                "re_1",
            ),
            refer(
                avail(
                    rec(
                        "txn_5",
                        Kind::Dispute,
                        (-2500, 1500, -4000),
                        "USD",
                        "2024-03-01T13:00:00Z",
                        6,
                    ),
                    "2024-03-01T13:00:00Z",
                ),
                "dp_1",
            ),
            // the quoted newline in txn_5 makes the next record start on line 8
            refer(
                avail(
                    rec(
                        "txn_6",
                        Kind::DisputeReversal,
                        (2500, -1500, 4000),
                        "USD",
                        "2024-03-02T08:00:00Z",
                        8,
                    ),
                    "2024-03-02T08:00:00Z",
                ),
                "dp_1",
            ),
            avail(
                rec(
                    "txn_7",
                    Kind::Fee,
                    (-50, 0, -50),
                    "USD",
                    "2024-03-02T09:00:00Z",
                    9,
                ),
                "2024-03-02T09:00:00Z",
            ),
            SettlementRecord {
                payout_id: Some("po_9".into()),
                ..refer(
                    avail(
                        rec(
                            "txn_8",
                            Kind::Payout,
                            (-15000, 0, -15000),
                            "USD",
                            "2024-03-03T00:05:00Z",
                            10,
                        ),
                        "2024-03-03T00:05:00Z",
                    ),
                    "po_9",
                )
            },
            rec(
                "txn_9",
                Kind::Other,
                (100, 0, 100),
                "EUR",
                "2024-03-03T00:06:00Z",
                11,
            ),
        ];
        assert_eq!(outcome.records, expected);
        assert!(outcome.quarantined.is_empty());
        assert_eq!(outcome.rows_read, 9);
    }

    #[test]
    fn payout_reconciliation_with_bom_crlf_and_reordered_header() {
        let text = "\u{feff}\"Reporting_Category\",NET,automatic_payout_id , fee,gross,currency,created_utc,balance_transaction_id,automatic_payout_effective_at_utc\r\n\
            charge,97.10,po_1,2.90,100.00,USD,2024-03-04 15:00:00,txn_a,2024-03-06 00:00:00\r\n\
            refund,-20.00,po_1,0.00,-20.00,usd,2024-03-05 01:02:03,txn_b,2024-03-06 00:00:00\r\n\
            \r\n";
        let outcome = parse_both_ways(&Format::Stripe(Default::default()), "stripe.csv", text);
        let with_payout = |r: SettlementRecord| SettlementRecord {
            payout_id: Some("po_1".into()),
            ..r
        };
        assert_eq!(
            outcome.records,
            vec![
                with_payout(rec(
                    "txn_a",
                    Kind::Charge,
                    (10000, 290, 9710),
                    "USD",
                    "2024-03-04T15:00:00Z",
                    2
                )),
                with_payout(rec(
                    "txn_b",
                    Kind::Refund,
                    (-2000, 0, -2000),
                    "USD",
                    "2024-03-05T01:02:03Z",
                    3
                )),
            ]
        );
        assert_eq!(outcome.rows_read, 2);
        assert!(outcome.quarantined.is_empty());
    }

    #[test]
    fn malformed_rows_are_quarantined_with_line_and_reason() {
        let text = "\
balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category
txn_ok,2024-03-01 00:00:00,usd,1.00,0.00,1.00,charge
,2024-03-01 00:00:00,usd,1.00,0.00,1.00,charge
txn_c,2024-03-01 00:00:00,usd,abc,0.00,1.00,charge
txn_d,2024-03-01 00:00:00,xyz,1.00,0.00,1.00,charge
txn_e,2024-03-01 00:00:00,usd,1.00,0.00
txn_f,03/01/2024,usd,1.00,0.00,1.00,charge
txn_g,2024-03-01 00:00:00,usd,10.505,0.00,10.51,charge
txn_h,2024-03-01 00:00:00,jpy,1.5,0,1.5,charge
txn_i,2024-03-01 00:00:00,usd,10.00,0.59,9.42,charge
txn_j,2024-03-01 00:00:00,usd,1e3,0.00,1000.00,charge
txn_k,2024-03-01 00:00:00,usd,1.00,0.00,1.00,
txn_l,2024-03-01 00:00:00,usd,\"1,000.00\",0.00,\"1,000.00\",charge,extra
txn_m,2024-03-01 00:00:00,usd,NaN,0.00,1.00,charge
txn_n,2024-03-01 00:00:00,usd,92233720368547758.08,0.00,1.00,charge
txn_o,2024-03-01 00:00:00,usd,\"1,000.00\",0.00,\"1,000.00\",charge
,,,,,,
";
        let outcome = parse_both_ways(&Format::Stripe(Default::default()), "stripe.csv", text);
        assert_eq!(
            outcome.records,
            vec![
                rec(
                    "txn_ok",
                    Kind::Charge,
                    (100, 0, 100),
                    "USD",
                    "2024-03-01T00:00:00Z",
                    2
                ),
                rec(
                    "txn_o",
                    Kind::Charge,
                    (100_000, 0, 100_000),
                    "USD",
                    "2024-03-01T00:00:00Z",
                    16
                ),
            ]
        );
        let reasons: Vec<(u64, &str)> = vec![
            (3, "missing value in `balance_transaction_id`"),
            (4, "bad number in `gross`: `abc` is not a decimal number"),
            (5, "unknown currency `xyz` in `currency`"),
            (6, "wrong field count: expected 7, found 5"),
            (
                7,
                "unparseable date in `created_utc`: `03/01/2024` (expected YYYY-MM-DD HH:MM:SS)",
            ),
            (
                8,
                "amount in `gross` does not fit USD: `10.505` has more decimal places than USD allows (2)",
            ),
            (
                9,
                "amount in `gross` does not fit JPY: `1.5` has more decimal places than JPY allows (0)",
            ),
            (
                10,
                "net ≠ gross − fee (gross 10.00, fee 0.59, net 9.42 USD)",
            ),
            (11, "bad number in `gross`: `1e3` is not a decimal number"),
            (12, "missing value in `reporting_category`"),
            (13, "wrong field count: expected 7, found 8"),
            (14, "bad number in `gross`: `NaN` is not a decimal number"),
            (
                15,
                "amount out of range in `gross`: `92233720368547758.08` does not fit in 64-bit minor units",
            ),
        ];
        let expected: Vec<(u64, String)> = reasons
            .into_iter()
            .map(|(line, reason)| (line, reason.to_owned()))
            .collect();
        assert_eq!(quarantine_list(&outcome), expected);
        assert_eq!(outcome.rows_read, 15);
        assert_eq!(
            outcome.quarantined[10],
            Quarantined {
                source: SourceLine {
                    path: "stripe.csv".into(),
                    line: 13
                },
                reason: "wrong field count: expected 7, found 8".into(),
                raw: "txn_l,2024-03-01 00:00:00,usd,\"1,000.00\",0.00,\"1,000.00\",charge,extra"
                    .into(),
            }
        );
    }

    #[test]
    fn missing_columns_are_named() {
        let text = "balance_transaction_id,created,currency,amount,fee,net\n";
        let err = super::super::parse_report(
            &Format::Stripe(Default::default()),
            "s.csv",
            text.as_bytes(),
        )
        .expect_err("missing columns");
        assert_eq!(
            err.to_string(),
            "s.csv: required Stripe column(s) missing from the header: \
             gross, reporting_category; found: balance_transaction_id, created, \
             currency, amount, fee, net"
        );
        let text = "balance_transaction_id,currency,gross,fee,net,reporting_category\n";
        let err = super::super::parse_report(
            &Format::Stripe(Default::default()),
            "s.csv",
            text.as_bytes(),
        )
        .expect_err("no creation time");
        assert_eq!(
            err.to_string(),
            "s.csv: required Stripe column(s) missing from the header: created_utc; found: \
             balance_transaction_id, currency, gross, fee, net, reporting_category"
        );
    }

    #[test]
    fn run_parameters_timezone_decimal_separator_and_payout_reconciliation() {
        let options = Options {
            timezone: "America/New_York".into(),
            decimal_separator: ',',
            report_type: Report::PayoutReconciliation,
        };
        let format = Format::Stripe(options);
        let text = "automatic_payout_id,balance_transaction_id,created,available_on,currency,gross,fee,net,reporting_category,source_id\n\
            po_1,txn_1,2024-07-01 20:00:00,2024-07-03,usd,\"1.234,50\",\"3,90\",\"1.230,60\",charge,ch_1\n\
            ,txn_2,2024-07-01 21:00:00,,usd,\"1,00\",\"0,00\",\"1,00\",charge,ch_2\n";
        let outcome = parse(&format, "stripe.csv", text);
        assert_eq!(
            outcome.records,
            vec![SettlementRecord {
                available_at: Some(utc("2024-07-03T04:00:00Z")),
                reference: Some("ch_1".into()),
                payout_id: Some("po_1".into()),
                ..rec(
                    "txn_1",
                    Kind::Charge,
                    (123_450, 390, 123_060),
                    "USD",
                    "2024-07-02T00:00:00Z",
                    2
                )
            }]
        );
        assert_eq!(
            quarantine_list(&outcome),
            [(3, "missing value in `automatic_payout_id`".to_owned())]
        );
    }

    #[test]
    fn categories() {
        assert_eq!(kind_of("CHARGE"), Kind::Charge);
        assert_eq!(kind_of("refund_failure"), Kind::Refund);
        assert_eq!(kind_of("payout_reversal"), Kind::Payout);
        assert_eq!(kind_of("other_adjustment"), Kind::Adjustment);
        assert_eq!(kind_of("network_cost"), Kind::Fee);
        assert_eq!(kind_of("topup"), Kind::Other);
    }
}
