//! Braintree's settlement batch summary (the day's settled totals per merchant account, card type and kind), read into one canonical record per total.
//!
//! Braintree documents the summary as records with the keys `kind` (`sale` or `credit`),
//! `card_type`, `merchant_account_id`, `count` and `amount_settled`, plus the custom field the
//! summary was grouped by, for one settlement date (developer.paypal.com/braintree/docs —
//! "Settlement Batch Summary: Generate" and its response object). A CSV of those records has
//! those names as its header; the columns are found by name in any order, and
//! `settlement_date` may be a column of its own. Where it is not, the date is the `YYYY-MM-DD`
//! in the file name (`braintree-summary-2026-11-20.csv`), since the summary is generated for one
//! date and its records do not repeat it.
//!
//! The summary does not name the currency of `amount_settled` (it is the merchant account's), so
//! the format option `currencies` maps each merchant account to its ISO 4217 code; a line of an
//! account it does not name is quarantined. A `sale` total is a [`Kind::Charge`] with a positive
//! gross, a `credit` total a [`Kind::Refund`] with a negative gross (Braintree writes
//! magnitudes); the summary has no fees, so `fee` is 0. `created_at` is the settlement date at
//! 00:00 UTC. `count` is not compared.
//!
//! Each total is keyed `<settlement date>/<merchant account>/<card type>/<kind>`, with
//! `/<custom value>` when grouped by a custom field (a `custom_field` column or the column
//! named by the option `group_by_custom_field`): a ledger view that sums the day's Braintree
//! payments by the same key matches it line by line.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveTime};

use super::RowParser;
use super::braintree::{self, Options};
use super::csv_rows::{Col, Columns, Row};
use crate::money::Currency;
use crate::settlement::{Id, Kind, SettlementRecord};

pub(crate) struct Parser {
    kind: Col,
    card_type: Col,
    merchant_account: Col,
    amount: Col,
    date: Option<Col>,
    custom: Option<Col>,
    currencies: BTreeMap<String, Currency>,
}

impl Parser {
    pub(crate) fn new(columns: &mut Columns<'_>, options: &Options) -> Parser {
        let custom = options
            .group_by_custom_field
            .as_deref()
            .unwrap_or("custom_field");
        Parser {
            kind: columns.required("kind"),
            card_type: columns.required("card_type"),
            merchant_account: columns.required("merchant_account_id"),
            amount: columns.required("amount_settled"),
            date: columns.optional("settlement_date"),
            custom: match &options.group_by_custom_field {
                Some(name) => Some(columns.required(name)),
                None => columns.optional(custom),
            },
            // validated with the configuration: an unknown code is left out (its lines quarantined)
            currencies: options
                .currencies
                .iter()
                .filter_map(|(account, code)| Some((account.clone(), Currency::parse(code).ok()?)))
                .collect(),
        }
    }

    fn date(&self, row: &Row<'_>) -> Result<NaiveDate, String> {
        if let Some(text) = row.optional(self.date.as_ref()) {
            let col = self
                .date
                .as_ref()
                .map_or("settlement_date", |c| c.name.as_str());
            return NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(text, "%m/%d/%Y"))
                .map_err(|_| {
                    format!("unparseable date in `{col}`: `{text}` (expected YYYY-MM-DD)")
                });
        }
        date_in_file_name(&row.source().path).ok_or_else(|| {
            "no settlement date: the file has no `settlement_date` column and its name no YYYY-MM-DD"
                .to_owned()
        })
    }
}

impl RowParser for Parser {
    fn parse(&self, row: &Row<'_>) -> Result<SettlementRecord, String> {
        let kind_text = row.required(&self.kind)?;
        let kind = braintree::sale_or_credit(kind_text)
            .ok_or_else(|| format!("unknown kind `{kind_text}` in `{}`", self.kind.name))?;
        let account = row.required(&self.merchant_account)?;
        let card_type = row.required(&self.card_type)?;
        let currency = *self.currencies.get(account).ok_or_else(|| {
            format!(
                "no currency for merchant account `{account}`: name it in format_options.currencies"
            )
        })?;
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
        let date = self.date(row)?;
        let mut id = format!("{date}/{account}/{card_type}/{kind_text}");
        if let Some(custom) = row.optional(self.custom.as_ref()) {
            id.push('/');
            id.push_str(custom);
        }
        Ok(SettlementRecord {
            record_id: Id::from(id),
            kind,
            gross_minor,
            fee_minor: 0,
            net_minor: gross_minor,
            currency,
            created_at: date.and_time(NaiveTime::MIN).and_utc(),
            available_at: None,
            payout_id: None,
            reference: None,
            links: Default::default(),
            source: row.source(),
        })
    }
}

/// The first `YYYY-MM-DD` that is a date in the file's name.
fn date_in_file_name(path: &str) -> Option<NaiveDate> {
    let name = path.rsplit(['/', '\\']).next()?;
    let shaped = |text: &str| {
        text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
    };
    (0..name.len()).find_map(|at| {
        name.get(at..at + 10)
            .filter(|text| shaped(text))
            .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
    })
}

#[cfg(test)]
mod tests {
    use super::super::braintree::Report;
    use super::super::test_support::*;
    use super::super::{Format, SourceLine};
    use super::*;

    fn options(group_by: Option<&str>) -> Format {
        Format::Braintree(Options {
            report_type: Report::SettlementBatchSummary,
            currencies: [("acme_usd", "USD"), ("acme_jpy", "JPY")]
                .into_iter()
                .map(|(a, c)| (a.to_owned(), c.to_owned()))
                .collect(),
            group_by_custom_field: group_by.map(Into::into),
            max_record_lines: 1,
        })
    }

    fn total(id: &str, kind: Kind, gross: i64, currency: &str, line: u64) -> SettlementRecord {
        SettlementRecord {
            record_id: id.into(),
            kind,
            gross_minor: gross,
            fee_minor: 0,
            net_minor: gross,
            currency: cur(currency),
            created_at: utc("2026-11-20T00:00:00Z"),
            available_at: None,
            payout_id: None,
            reference: None,
            links: Default::default(),
            source: SourceLine {
                path: "in/braintree-summary-2026-11-20.csv".into(),
                line,
            },
        }
    }

    #[test]
    fn summary_records_keyed_by_date_account_card_and_kind() {
        let text = "kind,card_type,merchant_account_id,count,amount_settled\n\
            sale,Visa,acme_usd,24,1200.00\n\
            credit,Visa,acme_usd,2,\"1,050.50\"\n\
            sale,JCB,acme_jpy,3,4500\n\
            sale,Visa,acme_eur,1,10.00\n\
            refund,Visa,acme_usd,1,1.00\n\
            sale,Visa,acme_usd,1,-1.00\n";
        let outcome = parse(&options(None), "in/braintree-summary-2026-11-20.csv", text);
        assert_eq!(
            outcome.records,
            vec![
                total(
                    "2026-11-20/acme_usd/Visa/sale",
                    Kind::Charge,
                    120_000,
                    "USD",
                    2
                ),
                total(
                    "2026-11-20/acme_usd/Visa/credit",
                    Kind::Refund,
                    -105_050,
                    "USD",
                    3
                ),
                total("2026-11-20/acme_jpy/JCB/sale", Kind::Charge, 4500, "JPY", 4),
            ]
        );
        assert_eq!(
            quarantine_list(&outcome),
            [
                (
                    5,
                    "no currency for merchant account `acme_eur`: name it in format_options.currencies"
                        .to_owned()
                ),
                (6, "unknown kind `refund` in `kind`".to_owned()),
                (
                    7,
                    "bad number in `amount_settled`: unexpected negative amount `-1.00` (Braintree writes magnitudes)"
                        .to_owned()
                ),
            ]
        );
    }

    #[test]
    fn date_column_custom_field_and_a_file_without_a_date() {
        let text = "settlement_date,merchant_account_id,card_type,kind,amount_settled,count,region\n\
            2026-11-20,acme_usd,Mastercard,sale,250.00,5,north\n";
        let outcome = parse(&options(Some("region")), "summary.csv", text);
        assert_eq!(
            outcome
                .records
                .iter()
                .map(|r| r.record_id.to_string())
                .collect::<Vec<_>>(),
            ["2026-11-20/acme_usd/Mastercard/sale/north"]
        );
        let text =
            "kind,card_type,merchant_account_id,count,amount_settled\nsale,Visa,acme_usd,1,1.00\n";
        let outcome = parse(&options(None), "summary.csv", text);
        assert_eq!(
            quarantine_list(&outcome),
            [(
                2,
                "no settlement date: the file has no `settlement_date` column and its name no YYYY-MM-DD"
                    .to_owned()
            )]
        );
        assert_eq!(
            date_in_file_name("x/bt_2026-02-30_2026-03-01.csv"),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
    }
}
