//! Sealed days: a clean day's rows kept when it closes, and later runs' re-verification of them,
//! so that a quiet edit of a closed day is caught and named.

use std::collections::HashMap;

use chrono::NaiveDate;
use chrono_tz::Tz;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::canonical::{RowHash, Value};
use crate::day::BusinessDay;
use crate::discrepancy::{Discrepancy, Kind, shown_key};
use crate::error::Result;
use crate::integrity::Comparison;
use crate::integrity::spec::IntegritySpec;
use crate::run_id::RunId;
use crate::store::{Seal, SealedRow, Store};

/// Which sealed days a run re-verifies: those of the `lookback_days` before `day`, cut in
/// `timezone`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SealWindow {
    pub(crate) day: BusinessDay,
    pub(crate) lookback_days: u32,
    pub(crate) timezone: Tz,
}

/// The rows a clean day's seal keeps: keys hashed (to match) and masked (to show).
pub(crate) fn sealed_rows(check: &IntegritySpec, rows: &[(Vec<Value>, RowHash)]) -> Vec<SealedRow> {
    rows.iter()
        .map(|(key, hash)| SealedRow {
            key_hash: key_hash(key),
            key_json: shown_key_json(check, key),
            row_hash: hex::encode(hash),
        })
        .collect()
}

fn key_hash(key: &[Value]) -> String {
    hex::encode(Sha256::digest(crate::canonical::encode_row(key)))
}

fn shown_key_json(check: &IntegritySpec, key: &[Value]) -> String {
    let shown = shown_key(&check.key, key, &check.sensitive_columns);
    let object: serde_json::Map<String, serde_json::Value> = shown
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                v.map_or(serde_json::Value::Null, serde_json::Value::String),
            )
        })
        .collect();
    serde_json::Value::Object(object).to_string()
}

/// Re-verifies the check's sealed days in the look-back window before `day`: each is compared
/// again, and every row that changed, appeared or vanished on either side since its seal is a
/// `closed_period_modified` discrepancy of that day. A day that cannot be read now is left for
/// the next run (and logged).
pub(crate) async fn verify_sealed_days(
    store: &Store,
    run_id: RunId,
    check: &IntegritySpec,
    window: SealWindow,
    compare: impl AsyncFn(BusinessDay) -> Result<Comparison>,
) -> Result<()> {
    let SealWindow {
        day,
        lookback_days,
        timezone,
    } = window;
    let from = day.date - chrono::Duration::days(i64::from(lookback_days));
    for seal in store
        .seals(&check.name, &from.to_string(), &day.date.to_string())
        .await?
    {
        let Ok(date) = NaiveDate::parse_from_str(&seal.partition, "%Y-%m-%d") else {
            continue;
        };
        let sealed_day = BusinessDay::new(date, timezone)?;
        let compared = compare(sealed_day).await;
        let comparison = match compared {
            Ok(c) => c,
            Err(e) => {
                warn!(partition = %seal.partition, error = %e, "a sealed day could not be re-verified; the next run tries again");
                continue;
            }
        };
        let mut found = Vec::new();
        if comparison.left.digest.as_ref() != Some(&seal.digest)
            || comparison.right.digest.as_ref() != Some(&seal.digest)
        {
            let sealed = store.sealed_rows(&check.name, &seal.partition).await?;
            found = changes_since_seal(check, &seal, &sealed, &comparison);
        }
        let changes = store
            .record_seal_verification(run_id, &seal, &check.name, &found)
            .await?;
        if !found.is_empty() {
            warn!(partition = %seal.partition, rows = found.len(), "a sealed day changed since it was sealed");
        }
        if !changes.resolved.is_empty() {
            info!(partition = %seal.partition, resolved = changes.resolved.len(), "a sealed day is back as sealed");
        }
    }
    Ok(())
}

/// Every key whose row differs from the seal on either side, with what happened to it where.
fn changes_since_seal(
    check: &IntegritySpec,
    seal: &Seal,
    sealed: &HashMap<String, SealedRow>,
    comparison: &Comparison,
) -> Vec<Discrepancy> {
    // key hash → (shown key JSON, what happened on which side), in the order first met.
    let mut order: Vec<String> = Vec::new();
    let mut notes: HashMap<String, (String, Vec<String>)> = HashMap::new();
    let mut note = |key_hash: String, key_json: String, text: String| {
        if !notes.contains_key(&key_hash) {
            order.push(key_hash.clone());
        }
        notes
            .entry(key_hash)
            .or_insert_with(|| (key_json, Vec::new()))
            .1
            .push(text);
    };
    for (side, table, stats) in [
        (&check.left.source, &check.left.table, &comparison.left),
        (&check.right.source, &check.right.table, &comparison.right),
    ] {
        if stats.digest.as_ref() == Some(&seal.digest) {
            continue;
        }
        let mut present = std::collections::HashSet::new();
        for (key, hash) in &stats.row_hashes {
            let kh = key_hash(key);
            match sealed.get(&kh) {
                None => note(
                    kh.clone(),
                    shown_key_json(check, key),
                    format!("added in {side}.{table}"),
                ),
                Some(row) if row.row_hash != hex::encode(hash) => note(
                    kh.clone(),
                    row.key_json.clone(),
                    format!("changed in {side}.{table}"),
                ),
                Some(_) => {}
            }
            present.insert(kh);
        }
        let mut deleted: Vec<&SealedRow> = sealed
            .values()
            .filter(|r| !present.contains(&r.key_hash))
            .collect();
        deleted.sort_by(|a, b| a.key_json.cmp(&b.key_json));
        for row in deleted {
            note(
                row.key_hash.clone(),
                row.key_json.clone(),
                format!("deleted from {side}.{table}"),
            );
        }
    }
    order
        .into_iter()
        .filter_map(|kh| notes.remove(&kh))
        .map(|(key_json, what)| {
            let key: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&key_json).unwrap_or_default();
            Discrepancy {
                check: check.name.clone(),
                partition: seal.partition.clone(),
                kind: Kind::ClosedPeriodModified,
                key: key
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().map(str::to_string)))
                    .collect(),
                columns: Vec::new(),
                values: Vec::new(),
                detail: Some(format!(
                    "{} since the day was sealed by run {}",
                    what.join("; "),
                    seal.sealed_run_id
                )),
                at_stake: None,
            }
        })
        .collect()
}
