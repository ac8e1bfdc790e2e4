//! Adyen "Settlement details report" (SDR) rows, read into canonical records, each line tied to the payment it books.
//!
//! The layout is Adyen's (docs.adyen.com/reporting/settlement-reconciliation/transaction-level/
//! settlement-details-report — its column list, entry types and sample lines): one file per
//! settlement *batch*, named `settlement_detail_report_batch_<N>.csv`, not per calendar day; the
//! columns `Company Account`, `Merchant Account`, `Psp Reference`, `Merchant Reference`,
//! `Payment Method`, `Creation Date`, `TimeZone`, `Type`, `Modification Reference`,
//! `Gross Currency`, `Gross Debit (GC)`, `Gross Credit (GC)`, `Exchange Rate`, `Net Currency`,
//! `Net Debit (NC)`, `Net Credit (NC)`, `Commission (NC)`, `Markup (NC)`, `Scheme Fees (NC)`,
//! `Interchange (NC)`, `Payment Method Variant`, `Modification Merchant Reference`,
//! `Batch Number` and the `Reserved4`…`Reserved10` placeholders, in that order by default. An
//! account may add or reorder columns, so they are found by name. Required: `Psp Reference`,
//! `Creation Date`, `TimeZone`, `Type`, the currency and amount columns; the others are
//! optional and unknown ones ignored. The report has no options a download could change
//! (comma-separated, `.` decimals, the zone on every line).
//!
//! # Amounts and currencies
//!
//! Each amount pair has one filled side: `credit − debit`. The fees (commission + markup +
//! scheme fees + interchange, blank counting as 0) and the net are in the net (settlement)
//! currency; the gross in the gross (presentment) currency. A line is matched on its gross
//! currency and amount, which is what the ledger booked: when the two currencies are the same,
//! the record is `gross, fee, net` as written (and the file's net must equal gross − fee); when
//! they differ, the record is the gross in its currency and the fee and net as settled are kept
//! in [`crate::settlement::record::Links::settled_as`] and shown with any finding (see
//! [`crate::settlement::record`]).
//! Lines without a gross (fees, payouts, corrections) are in the net currency, gross = net + fee.
//!
//! # Which id a line carries
//!
//! - A payment line (`Settled`, `SettledBulk`…) is keyed by its `Psp Reference`, the payment's.
//!   Its `Modification Reference` is the capture's own reference: a payment captured in parts
//!   has one `Settled` line per capture, all with the payment's PSP reference and each with its
//!   capture's reference, and matching pairs their total with the one ledger row of the payment
//!   (a finance ledger books the payment once; see [`crate::settlement::matching`]).
//! - A modification line (`Refunded`, `Chargeback`, `ChargebackReversed`, `SecondChargeback`,
//!   `RefundedReversed`…) is keyed by its own `Modification Reference` — the PSP reference Adyen
//!   returned for the refund request, which is what a ledger stores for the refund — and tied to
//!   the payment it modifies by its `Psp Reference`
//!   ([`crate::settlement::record::Links::payment`]). Its merchant reference is the
//!   `Modification Merchant Reference` where given, else the payment's.
//! - A line with no PSP reference (`Fee`, `MerchantPayout`, `Balancetransfer`,
//!   `InvoiceDeduction`, `DepositCorrection`…) belongs to the batch, not to a payment. Its id is
//!   stable across downloads of the same batch: `<Merchant Account>/<batch>/<Type>/<Modification
//!   Reference>` (the line number stands in for a blank modification reference), so it never
//!   pairs with a payment row, and it is matched against a ledger row with that id, checked as
//!   a payout, or reported — never dropped.
//! - Ledgers booked differently are configured, never guessed (`format_options`):
//!   `capture_key = "capture_reference"` keys each payment line by its capture's own
//!   `Modification Reference` (a ledger with a row per capture, as Adyen's CAPTURE webhooks carry
//!   them), so captures are matched line by line and not joined; `fee_key = "label"` keys a
//!   `Fee` line by its label alone (`Transaction Fees November 2026`), as a ledger that books
//!   the monthly fee under Adyen's label holds it.
//!
//! `payout_id` is the `Batch Number`, or where the column is absent the batch in the file name.
//! A `MerchantPayout` line's `Modification Reference` is the reference Adyen sends to the bank
//! with the transfer, kept as [`Links::payout_reference`] to find the deposit by.
//! `Creation Date` is local to the line's `TimeZone` (the account's setting, written as an
//! abbreviation such as `CET`/`CEST`, read as the fixed offset it denotes, or an IANA name) and
//! converted to UTC.

use serde::Deserialize;

use super::RowParser;
use super::csv_rows::{Col, Columns, Row, ascii_lowercase, sum_minor};
use super::zone::Zone;
use crate::money::Currency;
use crate::settlement::record::{Links, SettledAs};
use crate::settlement::{Id, Kind, SettlementRecord};

pub(crate) const PROCESSOR: &str = "adyen";

/// How the ledger books what the report writes (`[settlement.format_options]`): the report
/// itself has no options a download could change. The ledger's design is configured, never
/// guessed from the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default)]
    pub(crate) capture_key: CaptureKey,
    #[serde(default)]
    pub(crate) fee_key: FeeKey,
    /// How many physical lines one row may span (quoted line breaks); 1 by default.
    #[serde(default = "one_line")]
    pub(crate) max_record_lines: u32,
}

fn one_line() -> u32 {
    1
}

impl Default for Options {
    fn default() -> Self {
        Options {
            capture_key: CaptureKey::default(),
            fee_key: FeeKey::default(),
            max_record_lines: one_line(),
        }
    }
}

/// Which id a payment line (`Settled`…) carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum CaptureKey {
    /// The payment's `Psp Reference`: the ledger books a payment once, and a payment captured in
    /// parts matches by the captures' total.
    #[default]
    Payment,
    /// The capture's own `Modification Reference` (the `pspReference` of Adyen's CAPTURE
    /// webhook): the ledger books each capture as a row of its own. A line without one keeps
    /// the payment's PSP reference.
    CaptureReference,
}

impl CaptureKey {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CaptureKey::Payment => "payment",
            CaptureKey::CaptureReference => "capture_reference",
        }
    }
}

impl TryFrom<String> for CaptureKey {
    type Error = String;

    fn try_from(value: String) -> Result<CaptureKey, String> {
        [CaptureKey::Payment, CaptureKey::CaptureReference]
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| {
                format!("capture_key: {value:?} is not \"payment\" (the ledger books a payment once) or \"capture_reference\" (a row per capture)")
            })
    }
}

/// Which id a `Fee` line (the monthly "Transaction Fees <Month> <Year>") carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum FeeKey {
    /// `<Merchant Account>/<batch>/Fee/<label>`, like every other batch line.
    #[default]
    Batch,
    /// The label alone (its `Modification Reference`, e.g. `Transaction Fees November 2026`):
    /// the ledger books the fee under Adyen's label. A line without a label keeps the batch id.
    Label,
}

impl FeeKey {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FeeKey::Batch => "batch",
            FeeKey::Label => "label",
        }
    }
}

impl TryFrom<String> for FeeKey {
    type Error = String;

    fn try_from(value: String) -> Result<FeeKey, String> {
        [FeeKey::Batch, FeeKey::Label]
            .into_iter()
            .find(|k| k.as_str() == value)
            .ok_or_else(|| {
                format!("fee_key: {value:?} is not \"batch\" (<account>/<batch>/Fee/<label>) or \"label\" (the label alone)")
            })
    }
}

pub(crate) struct Parser {
    psp: Col,
    created: Col,
    zone: Col,
    kind: Col,
    gross_currency: Col,
    gross_debit: Col,
    gross_credit: Col,
    net_currency: Col,
    net_debit: Col,
    net_credit: Col,
    fees: [Col; 4],
    modification: Option<Col>,
    merchant_account: Option<Col>,
    merchant_reference: Option<Col>,
    modification_merchant_reference: Option<Col>,
    batch: Option<Col>,
    options: Options,
}

impl Parser {
    pub(crate) fn new(columns: &mut Columns<'_>, options: &Options) -> Parser {
        Parser {
            options: *options,
            psp: columns.required("Psp Reference"),
            created: columns.required("Creation Date"),
            zone: columns.required("TimeZone"),
            kind: columns.required("Type"),
            gross_currency: columns.required("Gross Currency"),
            gross_debit: columns.required("Gross Debit (GC)"),
            gross_credit: columns.required("Gross Credit (GC)"),
            net_currency: columns.required("Net Currency"),
            net_debit: columns.required("Net Debit (NC)"),
            net_credit: columns.required("Net Credit (NC)"),
            fees: [
                columns.required("Commission (NC)"),
                columns.required("Markup (NC)"),
                columns.required("Scheme Fees (NC)"),
                columns.required("Interchange (NC)"),
            ],
            modification: columns.optional("Modification Reference"),
            merchant_account: columns.optional("Merchant Account"),
            merchant_reference: columns.optional("Merchant Reference"),
            modification_merchant_reference: columns.optional("Modification Merchant Reference"),
            batch: columns.optional("Batch Number"),
        }
    }

    /// `credit − debit` of a pair of which at most one side is filled; `None` when both are blank.
    fn pair(
        row: &Row<'_>,
        debit: &Col,
        credit: &Col,
        currency: Currency,
    ) -> Result<Option<i64>, String> {
        let debit_amount = row.optional_amount(Some(debit), currency, '.')?;
        let credit_amount = row.optional_amount(Some(credit), currency, '.')?;
        match (debit_amount, credit_amount) {
            (None, None) => Ok(None),
            (None, Some(credit_amount)) => Ok(Some(credit_amount)),
            (Some(debit_amount), None) => debit_amount
                .checked_neg()
                .map(Some)
                .ok_or_else(|| format!("amount out of range in `{}`", debit.name)),
            (Some(_), Some(_)) => Err(format!(
                "both `{}` and `{}` are filled; expected one",
                debit.name, credit.name
            )),
        }
    }

    /// The batch: the `Batch Number` column, else the `N` of `settlement_detail_report_batch_N`.
    fn batch(&self, row: &Row<'_>) -> Option<Id> {
        row.optional_id(self.batch.as_ref())
            .or_else(|| batch_in_file_name(&row.source().path).map(Id::from))
    }

    /// The stable id of a line that belongs to the batch rather than to a payment.
    fn batch_line_id(&self, row: &Row<'_>, journal_type: &str, batch: Option<&Id>) -> Id {
        if self.options.fee_key == FeeKey::Label
            && journal_type.eq_ignore_ascii_case("fee")
            && let Some(label) = row.optional(self.modification.as_ref())
        {
            return Id::from(label);
        }
        let mut id = String::new();
        for part in [
            row.optional(self.merchant_account.as_ref()),
            batch.map(|b| b.as_str()),
        ]
        .into_iter()
        .flatten()
        {
            id.push_str(part);
            id.push('/');
        }
        id.push_str(journal_type);
        id.push('/');
        match row.optional(self.modification.as_ref()) {
            Some(modification) => id.push_str(modification),
            None => id.push_str(&format!("line {}", row.source().line)),
        }
        Id::from(id.as_str())
    }
}

impl RowParser for Parser {
    fn parse(&self, row: &Row<'_>) -> Result<SettlementRecord, String> {
        let journal_type = row.required(&self.kind)?;
        let kind = kind_of(journal_type);
        let batch = self.batch(row);
        let psp = row.optional(Some(&self.psp));
        let modification = row.optional(self.modification.as_ref());
        let merchant_reference = row.optional_id(self.merchant_reference.as_ref());
        let (record_id, links, reference) = match (psp, kind) {
            (Some(psp), Kind::Charge) => match (self.options.capture_key, modification) {
                (CaptureKey::CaptureReference, Some(capture)) => {
                    (Id::from(capture), Links::default(), merchant_reference)
                }
                _ => (
                    Id::from(psp),
                    Links {
                        capture: modification.map(Id::from),
                        ..Links::default()
                    },
                    merchant_reference,
                ),
            },
            (Some(psp), _) => (
                match modification {
                    Some(modification) => Id::from(modification),
                    None => self.batch_line_id(row, journal_type, batch.as_ref()),
                },
                Links {
                    payment: Some(Id::from(psp)),
                    ..Links::default()
                },
                row.optional_id(self.modification_merchant_reference.as_ref())
                    .or(merchant_reference),
            ),
            (None, Kind::Charge) => return Err(format!("missing value in `{}`", self.psp.name)),
            (None, _) => (
                self.batch_line_id(row, journal_type, batch.as_ref()),
                Links::default(),
                None,
            ),
        };

        let net_currency = row.currency(&self.net_currency)?;
        let net_minor = Self::pair(row, &self.net_debit, &self.net_credit, net_currency)?
            .ok_or_else(|| {
                format!(
                    "missing value in `{}` and `{}`",
                    self.net_debit.name, self.net_credit.name
                )
            })?;
        let mut fee_parts = [0i64; 4];
        for (part, col) in fee_parts.iter_mut().zip(&self.fees) {
            *part = row
                .optional_amount(Some(col), net_currency, '.')?
                .unwrap_or(0);
        }
        let fee_minor = sum_minor(&fee_parts, "the sum of the fee columns")?;

        let gross_currency = match row.text(&self.gross_currency) {
            "" => None,
            _ => Some(row.currency(&self.gross_currency)?),
        };
        let gross_in_file = match gross_currency {
            Some(gross_currency) => {
                Self::pair(row, &self.gross_debit, &self.gross_credit, gross_currency)?
            }
            None => match Self::pair(row, &self.gross_debit, &self.gross_credit, net_currency)? {
                Some(_) => return Err(format!("missing value in `{}`", self.gross_currency.name)),
                None => None,
            },
        };
        let (currency, gross_minor, fee_minor, net_minor, links) =
            match (gross_in_file, gross_currency) {
                (Some(gross), Some(gross_currency)) if gross_currency != net_currency => (
                    gross_currency,
                    gross,
                    0,
                    gross,
                    Links {
                        settled_as: Some(SettledAs {
                            currency: net_currency,
                            fee_minor,
                            net_minor,
                        }),
                        ..links
                    },
                ),
                (Some(gross), _) => (net_currency, gross, fee_minor, net_minor, links),
                (None, _) => (
                    net_currency,
                    net_minor
                        .checked_add(fee_minor)
                        .ok_or_else(|| "amount out of range: net + fee overflows".to_owned())?,
                    fee_minor,
                    net_minor,
                    links,
                ),
            };

        let links = Links {
            payout_reference: modification.filter(|_| kind == Kind::Payout).map(Id::from),
            ..links
        };
        let zone_name = row.required(&self.zone)?;
        let zone = Zone::parse(zone_name)
            .ok_or_else(|| format!("unknown time zone `{zone_name}` in `{}`", self.zone.name))?;
        let created_at = row.timestamp(&self.created, &zone)?;
        Ok(SettlementRecord {
            record_id,
            kind,
            gross_minor,
            fee_minor,
            net_minor,
            currency,
            created_at,
            available_at: None,
            payout_id: batch,
            reference,
            links: links.boxed(),
            source: row.source(),
        })
    }
}

/// `N` of a file named `…settlement_detail_report_batch_N.csv` (any directory, any case).
fn batch_in_file_name(path: &str) -> Option<&str> {
    let name = path.rsplit(['/', '\\']).next()?;
    let lower = name.to_ascii_lowercase();
    let at =
        lower.find("settlement_detail_report_batch_")? + "settlement_detail_report_batch_".len();
    let digits = name.get(at..)?;
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits.get(..end).filter(|d| !d.is_empty())
}

/// Adyen's journal `Type` → [`Kind`]; unknown types are [`Kind::Other`].
fn kind_of(journal_type: &str) -> Kind {
    match ascii_lowercase(journal_type).as_ref() {
        "settled" | "settledbulk" | "settledinstallment" | "settledexternallywithinfo" => {
            Kind::Charge
        }
        "refunded"
        | "refundedbulk"
        | "refundedinstallment"
        | "refundedexternallywithinfo"
        | "refundedreversed" => Kind::Refund,
        "chargeback" | "secondchargeback" | "chargebackexternallywithinfo" => Kind::Dispute,
        "chargebackreversed" | "chargebackreversedexternallywithinfo" => Kind::DisputeReversal,
        "fee" | "invoicededuction" | "paymentcost" | "misccosts" | "handlingcosts" => Kind::Fee,
        "merchantpayout" => Kind::Payout,
        "balancetransfer" | "depositcorrection" | "reserveadjustment" | "manualcorrected" => {
            Kind::Adjustment
        }
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests;
