//! A processor payout as the bank leg sees it (money the processor sent to the bank, with the references a deposit may carry), derived from the settlement records recon already reads.
//!
//! Where each processor's payout comes from (see [`PayoutBasis`]):
//!
//! - **Stripe**, balance report (`balance_change_from_activity`): the `payout` line itself
//!   (`reporting_category` `payout`, negative gross; its `source_id` `po_…` is the payout id), a
//!   `payout_reversal` line of the same payout netted against it. Payout reconciliation report
//!   (`payout_reconciliation`): no payout line; the payout is the net total of the lines carrying
//!   its `automatic_payout_id`, expected in the bank on `automatic_payout_effective_at`
//!   (docs.stripe.com/reports/report-types/payout-reconciliation).
//! - **Adyen** (Settlement details report): the batch's `MerchantPayout` line, its `Modification
//!   Reference` being the reference Adyen sends to the bank with the transfer. A batch without
//!   a `MerchantPayout` line paid nothing out (its balance is carried to a later batch), so no
//!   payout is derived from the batch's other lines.
//! - **Braintree** (transaction search export): a disbursement carries the net of a settlement
//!   batch (`Settlement Batch ID`), so the payout is that net total, initiated on the batch's
//!   latest `Settlement Date`.
//!
//! The payout's amount is what left the processor balance for the bank, so it is positive;
//! lines that come to zero or less (a payout reversed in full, a batch that owes the
//! processor) send nothing to the bank and are set aside with their reason, never dropped.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::money::{Currency, format_major};
use crate::settlement::report::{Format, stripe};
use crate::settlement::{Kind, SettlementRecord, SourceLine};

/// One payout the bank should show as a deposit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payout {
    pub(crate) processor: String,
    pub(crate) payout_id: String,
    /// Positive: money sent to the bank, in minor units of `currency`.
    pub(crate) amount_minor: i64,
    pub(crate) currency: Currency,
    /// The day the money left the processor: the latest of its lines' available (else
    /// created) days, and never after the expected arrival.
    pub(crate) initiated: NaiveDate,
    /// The day the processor said it would arrive, when it says so.
    pub(crate) expected_arrival: Option<NaiveDate>,
    /// What a deposit may carry to name this payout: the processor's payout reference where it
    /// has one (Adyen's), else the payout id.
    pub(crate) references: Vec<String>,
    /// The first line the payout was read from.
    pub(crate) source: SourceLine,
}

/// Which lines make a processor's payout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayoutBasis {
    /// The report's own payout lines (Stripe's balance report, Adyen's `MerchantPayout`).
    PayoutLines,
    /// The net total of a batch's lines, unless the report also has the batch's payout line
    /// (Stripe's payout reconciliation report, Braintree's settlement batches).
    BatchNet,
}

impl PayoutBasis {
    /// The basis of a report format (see the module doc).
    pub(crate) fn of(format: &Format) -> PayoutBasis {
        match format {
            Format::Stripe(options)
                if options.report_type == stripe::Report::PayoutReconciliation =>
            {
                PayoutBasis::BatchNet
            }
            Format::Braintree(_) => PayoutBasis::BatchNet,
            Format::Stripe(_) | Format::Adyen(_) | Format::Mapped(_) => PayoutBasis::PayoutLines,
        }
    }
}

/// Lines that name a payout but give no deposit to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetAside {
    pub(crate) payout_id: String,
    pub(crate) source: SourceLine,
    pub(crate) reason: String,
}

/// The payouts of a report, and the payout lines that make none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PayoutsRead {
    pub(crate) payouts: Vec<Payout>,
    pub(crate) set_aside: Vec<SetAside>,
}

/// The lines of one payout, gathered in file order.
struct Gathered<'a> {
    payout_lines: Vec<&'a SettlementRecord>,
    members: Vec<&'a SettlementRecord>,
}

/// The payouts `records` of one `processor`'s report describe, in the order their first line
/// comes (see the module doc).
pub(crate) fn payouts_from_records(
    processor: &str,
    records: &[SettlementRecord],
    basis: PayoutBasis,
) -> PayoutsRead {
    // (processor, payout id, payout reference) → its lines; the reference tells apart two
    // merchant accounts' payouts of one Adyen batch number.
    let mut order: Vec<(String, String, Option<String>)> = Vec::new();
    let mut groups: BTreeMap<(String, String, Option<String>), Gathered<'_>> = BTreeMap::new();
    for record in records {
        let Some(payout_id) = &record.payout_id else {
            continue;
        };
        let is_payout = record.kind == Kind::Payout;
        if !is_payout && basis == PayoutBasis::PayoutLines {
            continue;
        }
        let reference = record
            .links()
            .payout_reference
            .as_ref()
            .map(|r| r.as_str().to_owned());
        let key = (
            processor.to_owned(),
            payout_id.as_str().to_owned(),
            reference,
        );
        let group = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            Gathered {
                payout_lines: Vec::new(),
                members: Vec::new(),
            }
        });
        if is_payout {
            group.payout_lines.push(record);
        } else {
            group.members.push(record);
        }
    }
    let mut read = PayoutsRead::default();
    for key in order {
        let Some(group) = groups.remove(&key) else {
            continue;
        };
        let (processor, payout_id, reference) = key;
        // the payout lines say what went out (net negative), else the batch's net came in
        let (lines, sign) = if group.payout_lines.is_empty() {
            (group.members, 1)
        } else {
            (group.payout_lines, -1)
        };
        let Some(first) = lines.first() else {
            continue; // a group has a line by construction
        };
        match amount_sent(&lines, sign, first) {
            Ok((amount_minor, currency)) => {
                // the day the line's money was in the balance to be paid out
                let day_of =
                    |r: &SettlementRecord| r.available_at.unwrap_or(r.created_at).date_naive();
                let initiated = lines
                    .iter()
                    .map(|r| day_of(r))
                    .fold(day_of(first), NaiveDate::max);
                let expected_arrival = lines.iter().filter_map(|r| r.links().payout_arrival).max();
                read.payouts.push(Payout {
                    processor,
                    references: vec![reference.unwrap_or_else(|| payout_id.clone())],
                    payout_id,
                    amount_minor,
                    currency,
                    initiated: expected_arrival.map_or(initiated, |a| a.min(initiated)),
                    expected_arrival,
                    source: first.source.clone(),
                });
            }
            Err((source, reason)) => read.set_aside.push(SetAside {
                payout_id,
                source,
                reason,
            }),
        }
    }
    read
}

/// What `lines` (`first` among them) sent to the bank: their net total times `sign`, and its
/// currency; `Err` with a line and the reason when they send nothing or cannot be added up.
fn amount_sent(
    lines: &[&SettlementRecord],
    sign: i64,
    first: &SettlementRecord,
) -> Result<(i64, Currency), (SourceLine, String)> {
    let currency = first.currency;
    if let Some(other) = lines.iter().find(|r| r.currency != currency) {
        return Err((
            other.source.clone(),
            format!(
                "the payout's lines are in {} and {}: one payout is in one currency",
                currency.code(),
                other.currency.code()
            ),
        ));
    }
    let mut total: i64 = 0;
    for line in lines {
        total = total.checked_add(line.net_minor).ok_or_else(|| {
            (
                line.source.clone(),
                "amount out of range: the payout's lines overflow".to_owned(),
            )
        })?;
    }
    let amount = total
        .checked_mul(sign)
        .ok_or_else(|| (first.source.clone(), "amount out of range".to_owned()))?;
    if amount <= 0 {
        return Err((
            first.source.clone(),
            format!(
                "the payout's lines come to {} {} sent to the bank: nothing to find there",
                format_major(amount, currency),
                currency.code()
            ),
        ));
    }
    Ok((amount, currency))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settlement::record::Links;
    use chrono::{TimeZone, Utc};

    fn cur(code: &str) -> Currency {
        Currency::parse(code).expect("currency")
    }

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("date")
    }

    fn record(
        processor: &'static str,
        line: u64,
        kind: Kind,
        net: i64,
        payout: &str,
    ) -> SettlementRecord {
        SettlementRecord {
            record_id: format!("r{line}").as_str().into(),
            kind,
            gross_minor: net,
            fee_minor: 0,
            net_minor: net,
            currency: cur("EUR"),
            created_at: Utc.with_ymd_and_hms(2026, 12, 22, 10, 0, 0).unwrap(),
            available_at: None,
            payout_id: Some(payout.into()),
            reference: None,
            links: None,
            source: SourceLine {
                path: format!("{processor}.csv").into(),
                line,
            },
        }
    }

    #[test]
    fn stripe_balance_report_payout_lines_net_of_reversals() {
        let records = vec![
            record("stripe", 2, Kind::Charge, 10_000, "po_1"),
            record("stripe", 3, Kind::Payout, -9_700, "po_1"),
            record("stripe", 4, Kind::Payout, -5_000, "po_2"),
            // po_2 reversed in full: nothing to find in the bank
            record("stripe", 5, Kind::Payout, 5_000, "po_2"),
        ];
        let read = payouts_from_records("stripe", &records, PayoutBasis::PayoutLines);
        assert_eq!(
            read.payouts,
            vec![Payout {
                processor: "stripe".into(),
                payout_id: "po_1".into(),
                amount_minor: 9_700,
                currency: cur("EUR"),
                initiated: day(12, 22),
                expected_arrival: None,
                references: vec!["po_1".into()],
                source: records[1].source.clone(),
            }]
        );
        assert_eq!(
            read.set_aside,
            vec![SetAside {
                payout_id: "po_2".into(),
                source: records[2].source.clone(),
                reason:
                    "the payout's lines come to 0.00 EUR sent to the bank: nothing to find there"
                        .into(),
            }]
        );
    }

    #[test]
    fn stripe_payout_reconciliation_batch_net_with_arrival() {
        let arriving = |mut r: SettlementRecord| {
            r.links = Links {
                payout_arrival: Some(day(12, 24)),
                ..Links::default()
            }
            .boxed();
            r
        };
        let mut charge = arriving(record("stripe", 2, Kind::Charge, 9_710, "po_1"));
        charge.available_at = Some(Utc.with_ymd_and_hms(2026, 12, 23, 0, 0, 0).unwrap());
        let records = vec![
            charge,
            arriving(record("stripe", 3, Kind::Refund, -2_000, "po_1")),
        ];
        let read = payouts_from_records("stripe", &records, PayoutBasis::BatchNet);
        assert_eq!(read.set_aside, vec![]);
        assert_eq!(
            read.payouts,
            vec![Payout {
                processor: "stripe".into(),
                payout_id: "po_1".into(),
                amount_minor: 7_710,
                currency: cur("EUR"),
                initiated: day(12, 23),
                expected_arrival: Some(day(12, 24)),
                references: vec!["po_1".into()],
                source: records[0].source.clone(),
            }]
        );
    }

    #[test]
    fn adyen_merchant_payout_with_its_bank_reference() {
        let mut payout = record("adyen", 9, Kind::Payout, -13_116, "42");
        payout.links = Links {
            payout_reference: Some("TX4913578926XT".into()),
            ..Links::default()
        }
        .boxed();
        let records = vec![record("adyen", 2, Kind::Charge, 10_000, "42"), payout];
        let read = payouts_from_records("adyen", &records, PayoutBasis::PayoutLines);
        assert_eq!(read.payouts.len(), 1);
        assert_eq!(read.payouts[0].payout_id, "42");
        assert_eq!(read.payouts[0].amount_minor, 13_116);
        assert_eq!(
            read.payouts[0].references,
            vec!["TX4913578926XT".to_owned()]
        );
        // a batch without a payout line paid nothing out
        let held = vec![record("adyen", 2, Kind::Charge, 10_000, "43")];
        assert_eq!(
            payouts_from_records("adyen", &held, PayoutBasis::PayoutLines),
            PayoutsRead::default()
        );
    }

    #[test]
    fn braintree_batches_and_mixed_currencies() {
        let mut usd = record("braintree", 4, Kind::Charge, 500, "b1");
        usd.currency = cur("USD");
        let records = vec![
            record("braintree", 2, Kind::Charge, 1_000, "b1"),
            record("braintree", 3, Kind::Refund, -250, "b2"),
            usd,
        ];
        let read = payouts_from_records("braintree", &records, PayoutBasis::BatchNet);
        assert_eq!(read.payouts, vec![]);
        assert_eq!(
            read.set_aside
                .iter()
                .map(|s| (s.payout_id.as_str(), s.source.line, s.reason.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (
                    "b1",
                    4,
                    "the payout's lines are in EUR and USD: one payout is in one currency"
                ),
                (
                    "b2",
                    3,
                    "the payout's lines come to -2.50 EUR sent to the bank: nothing to find there"
                ),
            ]
        );
    }

    #[test]
    fn basis_follows_the_format() {
        let reconciliation = Format::Stripe(stripe::Options {
            report_type: stripe::Report::PayoutReconciliation,
            ..stripe::Options::default()
        });
        assert_eq!(PayoutBasis::of(&reconciliation), PayoutBasis::BatchNet);
        let builtin = |name| Format::builtin(name).expect("format");
        assert_eq!(
            PayoutBasis::of(&builtin("stripe")),
            PayoutBasis::PayoutLines
        );
        assert_eq!(PayoutBasis::of(&builtin("adyen")), PayoutBasis::PayoutLines);
        assert_eq!(
            PayoutBasis::of(&builtin("braintree")),
            PayoutBasis::BatchNet
        );
    }
}
