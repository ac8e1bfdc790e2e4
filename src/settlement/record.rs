//! The canonical settlement record every processor format is parsed into, so matching never sees a processor's quirks.
//!
//! # Sign convention
//!
//! All amounts are signed integers in minor units of the record's currency, seen from the
//! merchant's balance at the processor:
//!
//! - `gross_minor` is positive when money comes into that balance and negative when it leaves:
//!   a charge or a dispute reversal is positive; a refund, a dispute, a payout to the bank and a
//!   fee-only line (a monthly fee, an invoice deduction) are negative.
//! - `fee_minor` is what the processor kept on this line: positive when the processor took money,
//!   negative when it gave a fee back. It is never pre-negated.
//! - `net_minor` is what the line actually did to the balance, and always
//!   `net_minor == gross_minor - fee_minor`.
//!
//! So a 10.00 USD charge with a 0.59 fee is `gross 1000, fee 59, net 941`; its full refund with a
//! fee of 0 is `gross -1000, fee 0, net -1000`; a 2000.00 payout is `gross -200000, fee 0, net
//! -200000`. Parsers quarantine any line whose own net column disagrees (reason
//! `net ≠ gross − fee`), and where a format has no net column it is computed from the rule.
//!
//! # Presented in one currency, settled in another
//!
//! A line is matched in the currency the customer paid in (the presentment or gross currency),
//! since that is what the ledger booked. When the processor settled it in another currency
//! (Adyen's net currency), the record's `gross_minor` is the presentment amount, its fee is not
//! known in that currency (`fee_minor` 0, `net_minor` = gross), and the fee and net as settled
//! are kept in [`Links::settled_as`] to be shown beside any finding. No exchange rate is ever
//! applied.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::id::Id;
use crate::money::{Currency, format_major};

/// What a settlement line is, across processors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    Charge,
    Refund,
    Dispute,
    DisputeReversal,
    Fee,
    Payout,
    Adjustment,
    Other,
}

impl Kind {
    /// Every kind, in the order declared (a kind's place here is `kind as usize`).
    pub(crate) const ALL: [Kind; 8] = [
        Kind::Charge,
        Kind::Refund,
        Kind::Dispute,
        Kind::DisputeReversal,
        Kind::Fee,
        Kind::Payout,
        Kind::Adjustment,
        Kind::Other,
    ];

    /// Snake-case name, as used in configuration and reports (`dispute_reversal`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Charge => "charge",
            Kind::Refund => "refund",
            Kind::Dispute => "dispute",
            Kind::DisputeReversal => "dispute_reversal",
            Kind::Fee => "fee",
            Kind::Payout => "payout",
            Kind::Adjustment => "adjustment",
            Kind::Other => "other",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a line came from: the file as named by the caller, and the 1-based line on which the
/// CSV record starts (the header is line 1; a quoted field spanning lines counts every line).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) struct SourceLine {
    /// Shared by every line of one file (a million lines, one path).
    pub(crate) path: std::sync::Arc<str>,
    pub(crate) line: u64,
}

impl fmt::Display for SourceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path, self.line)
    }
}

/// One line of a processor report, normalised. See the module doc for the sign convention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SettlementRecord {
    /// The processor's id for the line (balance transaction, transaction id, PSP reference…).
    pub(crate) record_id: Id,
    pub(crate) kind: Kind,
    pub(crate) gross_minor: i64,
    pub(crate) fee_minor: i64,
    pub(crate) net_minor: i64,
    pub(crate) currency: Currency,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) available_at: Option<DateTime<Utc>>,
    /// Payout or settlement batch the line was paid out in.
    pub(crate) payout_id: Option<Id>,
    /// Reference that links the line to our ledger (merchant reference, order id), when present.
    pub(crate) reference: Option<Id>,
    /// How the line relates to its payment, and what it settled as, for the formats that say
    /// so; `None` when there is nothing to say (boxed: most lines of most formats have none, and
    /// a million-line report should not carry the room for it on every line).
    pub(crate) links: Option<Box<Links>>,
    pub(crate) source: SourceLine,
}

/// What ties a line to the payment it belongs to, and its settlement in another currency; all
/// `None` for formats that do not report them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Links {
    /// For a modification line (refund, chargeback, their reversals): the id of the payment it
    /// modifies, as that payment's charge line carries it. The line's own id is the
    /// modification's.
    pub(crate) payment: Option<Id>,
    /// For a charge line that books one capture of a payment captured in parts: the capture's
    /// own id. Charge lines with the same match id and distinct capture ids are parts of one
    /// payment, matched by their total; the same capture id twice is a duplicate.
    pub(crate) capture: Option<Id>,
    /// The line as settled, when that was in another currency than its gross.
    pub(crate) settled_as: Option<SettledAs>,
    /// For a payout line: the reference the processor sends to the bank with the transfer
    /// (Adyen's `MerchantPayout` `Modification Reference`), which the deposit's remittance
    /// text carries.
    pub(crate) payout_reference: Option<Id>,
    /// The day the processor expects the line's payout in the bank (Stripe's
    /// `automatic_payout_effective_at`).
    pub(crate) payout_arrival: Option<NaiveDate>,
}

/// The links of a line that has none.
static NO_LINKS: Links = Links {
    payment: None,
    capture: None,
    settled_as: None,
    payout_reference: None,
    payout_arrival: None,
};

impl Links {
    /// `None` when nothing is linked, for [`SettlementRecord::links`].
    pub(crate) fn boxed(self) -> Option<Box<Links>> {
        (self != NO_LINKS).then(|| Box::new(self))
    }
}

/// A line's fee and net in the currency it settled in (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct SettledAs {
    pub(crate) currency: Currency,
    pub(crate) fee_minor: i64,
    pub(crate) net_minor: i64,
}

impl fmt::Display for SettledAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "settled as {} {c} net, fee {} {c}",
            format_major(self.net_minor, self.currency),
            format_major(self.fee_minor, self.currency),
            c = self.currency.code()
        )
    }
}

impl SettlementRecord {
    /// `Err(reason)` unless `net == gross - fee` (the reason starts with `net ≠ gross − fee`).
    pub(crate) fn check_balance(&self) -> Result<(), String> {
        check_net(
            self.gross_minor,
            self.fee_minor,
            self.net_minor,
            self.currency,
        )
    }

    /// The fee to compare with a ledger's fee: none when the line settled in another currency
    /// (its fee is not known in the currency the ledger booked).
    pub(crate) fn comparable_fee(&self) -> Option<i64> {
        self.links().settled_as.is_none().then_some(self.fee_minor)
    }

    /// The line's links (all `None` for a line that has none).
    pub(crate) fn links(&self) -> &Links {
        self.links.as_deref().unwrap_or(&NO_LINKS)
    }
}

/// The sign-convention invariant on raw amounts, with the reason used for quarantine.
pub(crate) fn check_net(gross: i64, fee: i64, net: i64, currency: Currency) -> Result<(), String> {
    match gross.checked_sub(fee) {
        Some(expected) if expected == net => Ok(()),
        Some(_) => Err(format!(
            "net ≠ gross − fee (gross {}, fee {}, net {} {currency})",
            format_major(gross, currency),
            format_major(fee, currency),
            format_major(net, currency),
        )),
        None => Err(format!(
            "amount out of range: gross − fee overflows (gross {}, fee {} {currency})",
            format_major(gross, currency),
            format_major(fee, currency),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn usd() -> Currency {
        Currency::parse("USD").expect("USD")
    }

    #[test]
    fn kind_names_round_trip_through_serde() {
        for (place, kind) in Kind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, place, "{kind}");
            let json = format!("\"{}\"", kind.as_str());
            let back: Kind =
                serde::de::Deserialize::deserialize(serde::de::value::StrDeserializer::<
                    serde::de::value::Error,
                >::new(kind.as_str()))
                .expect("kind deserializes");
            assert_eq!(back, kind, "{json}");
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn balance_check() {
        assert_eq!(check_net(1000, 59, 941, usd()), Ok(()));
        assert_eq!(check_net(-1000, 0, -1000, usd()), Ok(()));
        assert_eq!(check_net(-1500, -100, -1400, usd()), Ok(()));
        assert_eq!(
            check_net(1000, 59, 942, usd()),
            Err("net ≠ gross − fee (gross 10.00, fee 0.59, net 9.42 USD)".into())
        );
        assert_eq!(
            check_net(i64::MIN, 1, 0, usd()),
            Err(
                "amount out of range: gross − fee overflows (gross -92233720368547758.08, fee 0.01 USD)"
                    .into()
            )
        );
    }

    #[test]
    fn record_check_and_source_display() {
        let record = SettlementRecord {
            record_id: "txn_1".into(),
            kind: Kind::Charge,
            gross_minor: 1000,
            fee_minor: 59,
            net_minor: 941,
            currency: usd(),
            created_at: Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap(),
            available_at: None,
            payout_id: None,
            reference: None,
            links: None,
            source: SourceLine {
                path: "r.csv".into(),
                line: 2,
            },
        };
        assert_eq!(record.check_balance(), Ok(()));
        assert_eq!(record.source.to_string(), "r.csv:2");
        assert_eq!(record.comparable_fee(), Some(59));
        let settled_as = SettledAs {
            currency: Currency::parse("EUR").expect("EUR"),
            fee_minor: 200,
            net_minor: 9700,
        };
        assert_eq!(
            settled_as.to_string(),
            "settled as 97.00 EUR net, fee 2.00 EUR"
        );
        let cross = SettlementRecord {
            links: Links {
                settled_as: Some(settled_as),
                ..Links::default()
            }
            .boxed(),
            ..record
        };
        assert_eq!(Links::default().boxed(), None);
        assert_eq!(cross.comparable_fee(), None);
    }
}
