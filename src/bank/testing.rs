//! Builders the bank leg's tests share: settlement records as the payout derivation reads them.

use chrono::{TimeZone, Utc};

use crate::money::Currency;
use crate::settlement::record::Links;
use crate::settlement::{Kind as LineKind, SettlementRecord, SourceLine};

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

/// A `processor` report's payout line `line` (in `<processor>.csv`): payout `payout_id` of
/// `amount` EUR cents, created on December `created` 2026, with Adyen's payout `reference`.
pub(crate) fn payout_line(
    processor: &'static str,
    line: u64,
    payout_id: &str,
    amount: i64,
    created: u32,
    reference: Option<&str>,
) -> SettlementRecord {
    SettlementRecord {
        record_id: format!("{processor}-{line}").as_str().into(),
        kind: LineKind::Payout,
        gross_minor: -amount,
        fee_minor: 0,
        net_minor: -amount,
        currency: eur(),
        created_at: Utc
            .with_ymd_and_hms(2026, 12, created, 6, 0, 0)
            .single()
            .expect("time"),
        available_at: None,
        payout_id: Some(payout_id.into()),
        reference: None,
        links: Links {
            payout_reference: reference.map(Into::into),
            ..Links::default()
        }
        .boxed(),
        source: SourceLine {
            path: format!("{processor}.csv").into(),
            line,
        },
    }
}
