//! The state of a finding its audit entries bind (status, acknowledgement, shown values, as
//! digests), and the comparison `audit verify` makes between the store's rows and the chain.

use std::collections::HashMap;

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::audit::BoundState;
use super::{Store, StorePool};
use crate::at_rest::{self, DataKeys};
use crate::canonical::{Value, encode_row};
use crate::discrepancy::{Discrepancy, Status};
use crate::error::{Error, Result};

/// Who acknowledged a finding, why, and until when, as the store keeps them.
pub(crate) struct AckTerms<'a> {
    pub(crate) note: &'a str,
    pub(crate) actor: &'a str,
    pub(crate) until: Option<NaiveDate>,
}

/// The status an entry binds: open and carried are one (carrying, every run's, writes no
/// entry), acknowledged and resolved are themselves.
fn status_class(status: &str) -> &str {
    match status {
        "carried" => "open",
        other => other,
    }
}

/// SHA-256 of the stored columns and the detail's plaintext JSON (as
/// [`super::discrepancies::stored_detail`] seals it): [`super::acknowledgements::finding_digest`]
/// of the finding they hold, computed without parsing them. A detail encrypted at rest is
/// decrypted first (its ciphertext changes with every write); `None` when it is encrypted and
/// no data key is given.
pub(crate) fn shown_digest(
    keys: Option<&DataKeys>,
    row: &StoredShown<'_>,
) -> Result<Option<String>> {
    let opened;
    let detail = match at_rest::is_sealed_field(row.detail_json) {
        false => row.detail_json,
        true if keys.is_none() => return Ok(None),
        true => {
            let place = super::discrepancies::detail_place(
                row.check,
                row.partition,
                row.kind,
                row.key_json,
            );
            opened = super::discrepancies::open_detail(keys, row.id, &place, row.detail_json)?;
            opened.as_str()
        }
    };
    let mut hash = Sha256::new();
    hash.update(row.columns_json);
    hash.update(b"\n");
    hash.update(detail);
    Ok(Some(hex::encode(hash.finalize())))
}

/// A discrepancy row's shown values as stored, with what its encrypted detail is bound to.
pub(crate) struct StoredShown<'a> {
    pub(crate) id: i64,
    pub(crate) check: &'a str,
    pub(crate) partition: &'a str,
    pub(crate) kind: &'a str,
    pub(crate) key_json: &'a str,
    pub(crate) columns_json: &'a str,
    pub(crate) detail_json: &'a str,
}

fn ack_digest(ack: &AckTerms<'_>) -> String {
    let fields = [
        Value::Text(ack.note.to_string()),
        Value::Text(ack.actor.to_string()),
        ack.until
            .map_or(Value::Null, |d| Value::Text(d.to_string())),
    ];
    hex::encode(Sha256::digest(encode_row(&fields)))
}

/// The `state` an audit entry records for a finding now `status`; the acknowledgement counts
/// only while it is acknowledged.
pub(crate) fn state(
    status: Status,
    d: &Discrepancy,
    ack: Option<&AckTerms<'_>>,
) -> serde_json::Value {
    let class = status_class(status.as_str());
    let ack = ack.filter(|_| class == "acknowledged").map(ack_digest);
    json!({
        "status": class,
        "shown": super::acknowledgements::finding_digest(d),
        "ack": ack,
    })
}

/// What comparing the discrepancies with the chain found.
#[derive(Default)]
pub(crate) struct RowsUnlikeChain {
    /// One line per row that disagrees with its last state entry.
    pub(crate) lines: Vec<String>,
    /// Rows whose shown values are encrypted at rest and could not be compared without a data key.
    pub(crate) unreadable: usize,
}

impl Store {
    /// Every discrepancy whose status, acknowledgement or shown values differ from what its
    /// last state entry says, one line each. A row no entry binds (recorded before entries
    /// carried state) is not compared.
    pub(crate) async fn discrepancies_unlike_chain(
        &self,
        states: &HashMap<i64, BoundState>,
    ) -> Result<RowsUnlikeChain> {
        let mut found = RowsUnlikeChain::default();
        on_pool!(self, pool => {
            let mut rows = sqlx::query(
                "SELECT id, status, check_name, partition_key, kind, key_json, columns_json,
                        detail_json, ack_note, ack_actor, ack_until
                 FROM discrepancies ORDER BY id",
            )
            .fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(Error::from_store)? {
                let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                let Some(bound) = states.get(&id) else { continue };
                let status: String = row.try_get("status").map_err(Error::from_store)?;
                let columns: String = row.try_get("columns_json").map_err(Error::from_store)?;
                let detail: String = row.try_get("detail_json").map_err(Error::from_store)?;
                let note: Option<String> = row.try_get("ack_note").map_err(Error::from_store)?;
                let actor: Option<String> = row.try_get("ack_actor").map_err(Error::from_store)?;
                let until: Option<NaiveDate> = row.try_get("ack_until").map_err(Error::from_store)?;
                let entry = format!("audit entry {} ({})", bound.seq, bound.action);
                let said = |field: &str| bound.state[field].as_str().map(str::to_string);
                let class = status_class(&status);
                if said("status").as_deref() != Some(class) {
                    found.lines.push(format!(
                        "discrepancy {id}: its status is {status} but {entry} says {}",
                        said("status").unwrap_or_else(|| "nothing".into())
                    ));
                }
                let text = |name: &str| -> Result<String> { row.try_get(name).map_err(Error::from_store) };
                let (check, partition, kind, key_json) =
                    (text("check_name")?, text("partition_key")?, text("kind")?, text("key_json")?);
                let stored = StoredShown {
                    id,
                    check: &check,
                    partition: &partition,
                    kind: &kind,
                    key_json: &key_json,
                    columns_json: &columns,
                    detail_json: &detail,
                };
                match shown_digest(self.data_keys(), &stored)? {
                    None => found.unreadable += 1,
                    Some(digest) if said("shown").as_deref() != Some(digest.as_str()) => found.lines.push(format!(
                        "discrepancy {id}: its shown values differ from those {entry} records"
                    )),
                    Some(_) => {}
                }
                let ack = match (class, &note, &actor) {
                    ("acknowledged", Some(note), Some(actor)) => {
                        Some(ack_digest(&AckTerms { note, actor, until }))
                    }
                    _ => None,
                };
                if class == "acknowledged" && said("ack") != ack {
                    found.lines.push(format!("discrepancy {id}: its acknowledgement differs from the one {entry} records"));
                }
            }
            Ok::<_, Error>(())
        })?;
        Ok(found)
    }

    /// Every day's seal whose digest differs from its last `day_sealed` entry's, one line each.
    pub(crate) async fn seals_unlike_chain(
        &self,
        sealed: &HashMap<(String, String), (i64, String)>,
    ) -> Result<Vec<String>> {
        let rows: Vec<(String, String, String)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT check_name, partition_key, digest FROM seals ORDER BY check_name, partition_key")
                .fetch_all(pool)
                .await
                .map_err(Error::from_store)?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(check, partition, digest)| {
                let (seq, said) = sealed.get(&(check.clone(), partition.clone()))?;
                (*said != digest).then(|| {
                    format!("seal {check} {partition}: its digest differs from audit entry {seq} (day_sealed)")
                })
            })
            .collect())
    }
}
