//! A bank entry written out for the store to keep between syncs (every field as JSON, with the place it was read at), so a later day's run gets the entry back exactly as the sync read it.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{BankEntry, Direction, EntryStatus};
use crate::error::{Error, Result};
use crate::money::Currency;
use crate::settlement::SourceLine;
use crate::store::SyncedEntry;

/// A bank entry as its `body` holds it (JSON, sealed when the store has data keys): every field,
/// with the place it was read at in the sync that brought it.
#[derive(Debug, Serialize, Deserialize)]
struct KeptEntry {
    account: String,
    amount_minor: i64,
    currency: String,
    /// `credit` or `debit`.
    direction: String,
    reversal: bool,
    /// `booked` or `pending`.
    status: String,
    booking_date: NaiveDate,
    value_date: Option<NaiveDate>,
    bank_ref: Option<String>,
    customer_ref: Option<String>,
    end_to_end_id: Option<String>,
    remittance: Option<String>,
    bank_tx_code: Option<String>,
    path: String,
    line: u64,
    pointer: Option<String>,
}

impl KeptEntry {
    fn of(e: &BankEntry) -> KeptEntry {
        KeptEntry {
            account: e.account.to_string(),
            amount_minor: e.amount_minor,
            currency: e.currency.code().to_string(),
            direction: match e.direction {
                Direction::Credit => "credit",
                Direction::Debit => "debit",
            }
            .to_string(),
            reversal: e.reversal,
            status: match e.status {
                EntryStatus::Booked => "booked",
                EntryStatus::Pending => "pending",
            }
            .to_string(),
            booking_date: e.booking_date,
            value_date: e.value_date,
            bank_ref: e.bank_ref.clone(),
            customer_ref: e.customer_ref.clone(),
            end_to_end_id: e.end_to_end_id.clone(),
            remittance: e.remittance.clone(),
            bank_tx_code: e.bank_tx_code.clone(),
            path: e.source.path.to_string(),
            line: e.source.line,
            pointer: e.pointer.clone(),
        }
    }

    /// The entry back; `what` names the row in the error when a field is not one recon writes.
    fn entry(self, what: &str) -> Result<BankEntry> {
        let bad = |field: &str| {
            Error::internal(format!("the store holds a malformed {what} (its {field})"))
        };
        Ok(BankEntry {
            account: Arc::from(self.account),
            amount_minor: self.amount_minor,
            currency: Currency::parse(&self.currency).map_err(|_| bad("currency"))?,
            direction: match self.direction.as_str() {
                "credit" => Direction::Credit,
                "debit" => Direction::Debit,
                _ => return Err(bad("direction")),
            },
            reversal: self.reversal,
            status: match self.status.as_str() {
                "booked" => EntryStatus::Booked,
                "pending" => EntryStatus::Pending,
                _ => return Err(bad("status")),
            },
            booking_date: self.booking_date,
            value_date: self.value_date,
            bank_ref: self.bank_ref,
            customer_ref: self.customer_ref,
            end_to_end_id: self.end_to_end_id,
            remittance: self.remittance,
            bank_tx_code: self.bank_tx_code,
            source: SourceLine {
                path: Arc::from(self.path),
                line: self.line,
            },
            pointer: self.pointer,
        })
    }
}

/// `entry` as the store keeps it for `source`'s `item`: under its transaction id (its
/// `bank_ref`; an entry without one cannot be kept) and its booking date.
pub(crate) fn synced_of(source: &str, item: &str, entry: &BankEntry) -> Result<SyncedEntry> {
    let transaction_id = entry.bank_ref.clone().ok_or_else(|| {
        Error::internal(format!(
            "a {source} entry of {item} at {} has no transaction id to be kept under",
            entry.source
        ))
    })?;
    let body = serde_json::to_string(&KeptEntry::of(entry))
        .map_err(|e| Error::internal(format!("writing a bank entry as JSON: {e}")))?;
    Ok(SyncedEntry {
        transaction_id,
        booking_date: entry.booking_date,
        body,
    })
}

/// The entry the store kept for `source`'s `item` as `kept`.
pub(crate) fn entry_of_synced(source: &str, item: &str, kept: SyncedEntry) -> Result<BankEntry> {
    let what = format!("{source} entry {} of {item}", kept.transaction_id);
    let body: KeptEntry = serde_json::from_str(&kept.body)
        .map_err(|_| Error::internal(format!("the store holds a malformed {what} (not JSON)")))?;
    let entry = body.entry(&what)?;
    if entry.booking_date != kept.booking_date
        || entry.bank_ref.as_deref() != Some(&kept.transaction_id)
    {
        return Err(Error::internal(format!(
            "the store holds {what} under {} but its body is of {} {}",
            kept.booking_date,
            entry.bank_ref.as_deref().unwrap_or("no transaction"),
            entry.booking_date
        )));
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> BankEntry {
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        BankEntry {
            account: Arc::from("acc-chk"),
            amount_minor: -1230,
            currency: Currency::parse("USD").unwrap(),
            direction: Direction::Debit,
            reversal: false,
            status: EntryStatus::Pending,
            booking_date: day,
            value_date: Some(day),
            bank_ref: Some("T1".to_string()),
            customer_ref: Some("REF-77".to_string()),
            end_to_end_id: None,
            remittance: Some("Uber 063015".to_string()),
            bank_tx_code: Some("purchase".to_string()),
            source: SourceLine {
                path: Arc::from("plaid:main/2"),
                line: 3,
            },
            pointer: Some("added[2]".to_string()),
        }
    }

    #[test]
    fn an_entry_is_kept_as_json_and_comes_back_as_it_was() {
        let kept = synced_of("plaid", "main", &entry()).unwrap();
        assert_eq!(
            kept,
            SyncedEntry {
                transaction_id: "T1".to_string(),
                booking_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                body: r#"{"account":"acc-chk","amount_minor":-1230,"currency":"USD","direction":"debit","reversal":false,"status":"pending","booking_date":"2026-12-01","value_date":"2026-12-01","bank_ref":"T1","customer_ref":"REF-77","end_to_end_id":null,"remittance":"Uber 063015","bank_tx_code":"purchase","path":"plaid:main/2","line":3,"pointer":"added[2]"}"#.to_string(),
            }
        );
        assert_eq!(entry_of_synced("plaid", "main", kept).unwrap(), entry());
    }

    #[test]
    fn an_entry_without_an_id_or_kept_under_another_row_is_refused() {
        let mut nameless = entry();
        nameless.bank_ref = None;
        assert_eq!(
            synced_of("plaid", "main", &nameless)
                .unwrap_err()
                .to_string(),
            "a plaid entry of main at plaid:main/2:3 has no transaction id to be kept under"
        );
        let mut moved = synced_of("plaid", "main", &entry()).unwrap();
        moved.transaction_id = "T9".to_string();
        assert_eq!(
            entry_of_synced("plaid", "main", moved)
                .unwrap_err()
                .to_string(),
            "the store holds plaid entry T9 of main under 2026-12-01 but its body is of T1 2026-12-01"
        );
        let mut altered = synced_of("plaid", "main", &entry()).unwrap();
        altered.body = altered
            .body
            .replace(r#""direction":"debit""#, r#""direction":"out""#);
        assert_eq!(
            entry_of_synced("plaid", "main", altered)
                .unwrap_err()
                .to_string(),
            "the store holds a malformed plaid entry T1 of main (its direction)"
        );
    }
}
