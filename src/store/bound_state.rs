//! The state of a finding its audit entries bind (status, acknowledgement, shown values, as
//! keyed digests), and the comparison `audit verify` makes between the store's rows and the chain.

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
use crate::mask::{MaskKey, key_digest, key_digest_id};

/// What an unkeyed state digest starts with (no mask key is configured).
const PLAIN_PREFIX: &str = "sha256:";

/// The digest a state records of `bytes`: HMAC-SHA256 under the mask key, as
/// [`key_digest`] writes it (`hmac-sha256:<key id>:<hex>`), so a reader of the chain cannot
/// test a guessed value against it and whoever holds only the store's credentials cannot
/// compute one for a forged state; without a mask key, plain SHA-256 (`sha256:<hex>`).
pub(crate) fn state_digest(key: Option<&MaskKey>, bytes: &[u8]) -> String {
    match key {
        Some(key) => key_digest(key, bytes),
        None => format!("{PLAIN_PREFIX}{}", hex::encode(Sha256::digest(bytes))),
    }
}

/// A digest a state recorded, checked against the value now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Checked {
    Same,
    Differs,
    /// Digested under this mask key id, which is neither the current key nor the previous one.
    KeyNotGiven(String),
}

/// Whether `said`, a digest a state recorded, is the digest of `bytes`: under the mask key its
/// id names (the current key or, after a rotation, the previous one); plain SHA-256 when it
/// says `sha256:`, or when it is bare hex as entries wrote before digests were labelled.
pub(crate) fn check_digest(key: Option<&MaskKey>, said: &str, bytes: &[u8]) -> Checked {
    let expected = match key_digest_id(said) {
        Some(id) => match key.and_then(|key| key.with_id(id)) {
            Some(key) => key_digest(&key, bytes),
            None => return Checked::KeyNotGiven(id.to_string()),
        },
        None if said.starts_with(PLAIN_PREFIX) => state_digest(None, bytes),
        None => hex::encode(Sha256::digest(bytes)),
    };
    match expected == said {
        true => Checked::Same,
        false => Checked::Differs,
    }
}

/// An acknowledgement as the store records it: the latest one's columns on the discrepancy
/// (note, actor, the last day it holds, the digest of the finding it holds for) and every
/// row of the `acknowledgements` table for it, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Acknowledged {
    pub(crate) note: Option<String>,
    pub(crate) actor: Option<String>,
    pub(crate) until: Option<NaiveDate>,
    pub(crate) pinned: Option<String>,
    pub(crate) rows: Vec<AckRow>,
}

/// One row of the `acknowledgements` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AckRow {
    pub(crate) id: i64,
    pub(crate) actor: String,
    pub(crate) display_name: Option<String>,
    pub(crate) note: String,
    /// The reason code (`ack --reason`); `None` for one made before codes.
    pub(crate) reason: Option<String>,
}

/// A discrepancy's acknowledgement columns joined with its `acknowledgements` rows
/// ([`ACKNOWLEDGED_ROWS`]): note, actor, until, pinned digest, then the row's id, actor,
/// display name and note (NULL when it has none).
pub(crate) type AckJoinRow = (
    Option<String>,
    Option<String>,
    Option<NaiveDate>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Discrepancy `$1`'s acknowledgement as stored, one [`AckJoinRow`] per acknowledgement.
pub(crate) const ACKNOWLEDGED_ROWS: &str =
    "SELECT d.ack_note, d.ack_actor, d.ack_until, d.ack_digest, a.id, a.actor, a.display_name, a.note, a.reason
     FROM discrepancies AS d LEFT JOIN acknowledgements AS a ON a.discrepancy_id = d.id
     WHERE d.id = $1 ORDER BY a.id";

impl Acknowledged {
    /// The acknowledgement [`ACKNOWLEDGED_ROWS`] returned.
    pub(crate) fn from_join(rows: Vec<AckJoinRow>) -> Acknowledged {
        let mut found = Acknowledged::default();
        for (note, actor, until, pinned, id, row_actor, display_name, row_note, reason) in rows {
            (found.note, found.actor, found.until, found.pinned) = (note, actor, until, pinned);
            if let (Some(id), Some(actor), Some(note)) = (id, row_actor, row_note) {
                found.rows.push(AckRow {
                    id,
                    actor,
                    display_name,
                    note,
                    reason,
                });
            }
        }
        found
    }

    /// What its state digest covers: the discrepancy's columns, then each row, in the
    /// canonical field encoding (four fields each, a fifth for a reason code, so nothing bleeds from one into the next).
    fn bound_bytes(&self) -> Vec<u8> {
        let text = |t: &Option<String>| t.clone().map_or(Value::Null, Value::Text);
        let mut bytes = encode_row(&[
            text(&self.note),
            text(&self.actor),
            self.until
                .map_or(Value::Null, |d| Value::Text(d.to_string())),
            text(&self.pinned),
        ]);
        for row in &self.rows {
            let mut fields = vec![
                Value::Int(row.id.into()),
                Value::Text(row.actor.clone()),
                text(&row.display_name),
                Value::Text(row.note.clone()),
            ];
            // A fifth field only for a row with a reason code, so rows made before codes bind
            // the bytes they always did.
            fields.extend(row.reason.clone().map(Value::Text));
            bytes.extend(encode_row(&fields));
        }
        bytes
    }

    /// The digest entries wrote before they bound the `acknowledgements` table: bare hex
    /// SHA-256 of the discrepancy's latest note, actor and last day.
    fn digest_before_the_table(&self) -> Option<String> {
        let fields = [
            Value::Text(self.note.clone()?),
            Value::Text(self.actor.clone()?),
            self.until
                .map_or(Value::Null, |d| Value::Text(d.to_string())),
        ];
        Some(hex::encode(Sha256::digest(encode_row(&fields))))
    }

    /// `said`, the acknowledgement digest a state recorded, checked against this one.
    fn check(&self, key: Option<&MaskKey>, said: &str) -> Checked {
        let labelled = key_digest_id(said).is_some() || said.starts_with(PLAIN_PREFIX);
        match labelled {
            true => check_digest(key, said, &self.bound_bytes()),
            false if self.digest_before_the_table().as_deref() == Some(said) => Checked::Same,
            false => Checked::Differs,
        }
    }
}

/// The status an entry binds: open and carried are one (carrying, every run's, writes no
/// entry), acknowledged and resolved are themselves.
fn status_class(status: &str) -> &str {
    match status {
        "carried" => "open",
        other => other,
    }
}

/// The stored columns and the detail's plaintext JSON (as
/// [`super::discrepancies::stored_detail`] seals it): [`super::acknowledgements::finding_bytes`]
/// of the finding they hold, computed without parsing them. A detail encrypted at rest is
/// decrypted first (its ciphertext changes with every write); `None` when it is encrypted and
/// no data key is given.
pub(crate) fn shown_bytes(
    keys: Option<&DataKeys>,
    row: &StoredShown<'_>,
) -> Result<Option<Vec<u8>>> {
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
    Ok(Some(super::acknowledgements::shown_bytes_of(
        row.columns_json,
        detail,
    )))
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

/// The `state` an audit entry records for a finding now `status`, its digests under `key`
/// ([`state_digest`]); the acknowledgement counts only while it is acknowledged.
pub(crate) fn state(
    key: Option<&MaskKey>,
    status: Status,
    d: &Discrepancy,
    ack: Option<&Acknowledged>,
) -> serde_json::Value {
    let class = status_class(status.as_str());
    let ack = ack
        .filter(|_| class == "acknowledged")
        .map(|ack| state_digest(key, &ack.bound_bytes()));
    json!({
        "status": class,
        "shown": state_digest(key, &super::acknowledgements::finding_bytes(d)),
        "ack": ack,
    })
}

/// What comparing the discrepancies with the chain found.
#[derive(Default)]
pub(crate) struct RowsUnlikeChain {
    /// One line per row that disagrees with its last state entry.
    pub(crate) lines: Vec<String>,
    /// One line per row whose state was digested under a mask key that is not given: neither
    /// confirmed nor found changed.
    pub(crate) unverifiable: Vec<String>,
    /// Rows whose shown values are encrypted at rest and could not be compared without a data key.
    pub(crate) unreadable: usize,
}

impl RowsUnlikeChain {
    /// Adds what checking one of a row's digests found.
    fn note(&mut self, checked: Checked, id: i64, entry: &str, differs: impl FnOnce() -> String) {
        match checked {
            Checked::Same => {}
            Checked::Differs => self.lines.push(differs()),
            Checked::KeyNotGiven(key_id) => {
                let line = format!(
                    "discrepancy {id}: cannot verify: state digested under key {key_id}, which is not given ({entry})"
                );
                if !self.unverifiable.contains(&line) {
                    self.unverifiable.push(line);
                }
            }
        }
    }
}

impl Store {
    /// Every `acknowledgements` row, by discrepancy id, oldest first.
    async fn acknowledgement_rows(&self) -> Result<HashMap<i64, Vec<AckRow>>> {
        // discrepancy id, then the row: id, actor, display name, note, reason
        type Row = (i64, i64, String, Option<String>, String, Option<String>);
        let rows: Vec<Row> = on_pool!(self, pool => {
            sqlx::query_as("SELECT discrepancy_id, id, actor, display_name, note, reason FROM acknowledgements ORDER BY id")
                .fetch_all(pool)
                .await
                .map_err(Error::from_store)?
        });
        let mut by_discrepancy = HashMap::<i64, Vec<AckRow>>::new();
        for (discrepancy, id, actor, display_name, note, reason) in rows {
            by_discrepancy.entry(discrepancy).or_default().push(AckRow {
                id,
                actor,
                display_name,
                note,
                reason,
            });
        }
        Ok(by_discrepancy)
    }

    /// Every discrepancy whose status, acknowledgement (its columns and its rows of the
    /// `acknowledgements` table) or shown values differ from what its last state entry says,
    /// one line each, its digests checked under the mask key they name. A row no entry binds
    /// (recorded before entries carried state) is not compared.
    pub(crate) async fn discrepancies_unlike_chain(
        &self,
        states: &HashMap<i64, BoundState>,
    ) -> Result<RowsUnlikeChain> {
        let mut found = RowsUnlikeChain::default();
        let mut ack_rows = self.acknowledgement_rows().await?;
        let key = self.mask_key();
        on_pool!(self, pool => {
            let mut rows = sqlx::query(
                "SELECT id, status, check_name, partition_key, kind, key_json, columns_json,
                        detail_json, ack_note, ack_actor, ack_until, ack_digest
                 FROM discrepancies ORDER BY id",
            )
            .fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(Error::from_store)? {
                let id: i64 = row.try_get("id").map_err(Error::from_store)?;
                let Some(bound) = states.get(&id) else { continue };
                let status: String = row.try_get("status").map_err(Error::from_store)?;
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
                let (check, partition, kind, key_json, columns, detail) = (
                    text("check_name")?,
                    text("partition_key")?,
                    text("kind")?,
                    text("key_json")?,
                    text("columns_json")?,
                    text("detail_json")?,
                );
                let stored = StoredShown {
                    id,
                    check: &check,
                    partition: &partition,
                    kind: &kind,
                    key_json: &key_json,
                    columns_json: &columns,
                    detail_json: &detail,
                };
                let shown_differs = || format!("discrepancy {id}: its shown values differ from those {entry} records");
                match (shown_bytes(self.data_keys(), &stored)?, said("shown")) {
                    (None, _) => found.unreadable += 1,
                    (Some(_), None) => found.lines.push(shown_differs()),
                    (Some(bytes), Some(digest)) => found.note(check_digest(key, &digest, &bytes), id, &entry, shown_differs),
                }
                if class != "acknowledged" {
                    continue;
                }
                let optional = |name: &str| -> Result<Option<String>> { row.try_get(name).map_err(Error::from_store) };
                let acknowledged = Acknowledged {
                    note: optional("ack_note")?,
                    actor: optional("ack_actor")?,
                    until: row.try_get("ack_until").map_err(Error::from_store)?,
                    pinned: optional("ack_digest")?,
                    rows: ack_rows.remove(&id).unwrap_or_default(),
                };
                let ack_differs = || format!("discrepancy {id}: its acknowledgement differs from the one {entry} records");
                match said("ack") {
                    None => found.lines.push(ack_differs()),
                    Some(digest) => found.note(acknowledged.check(key, &digest), id, &entry, ack_differs),
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

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{KeyInit, Mac};

    const HEX1: &str = "6b33792d666f722d74657374732d6f6e6c792d303132333435363738396162636465";
    const HEX2: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn key(text: &str) -> MaskKey {
        MaskKey::new(text).expect("a valid key")
    }

    /// HMAC-SHA256 in hex, keyed with the key's text as written (as the mask key documents).
    fn hmac_hex(key_text: &str, message: &[u8]) -> String {
        let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key_text.as_bytes())
            .expect("any key length");
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn a_state_digest_is_the_hmac_under_the_mask_key_and_names_its_id() {
        let k1 = key(&format!("k1:{HEX1}"));
        assert_eq!(
            state_digest(Some(&k1), b"shown"),
            format!("hmac-sha256:k1:{}", hmac_hex(HEX1, b"shown"))
        );
        // printf 'shown' | sha256sum
        assert_eq!(
            state_digest(None, b"shown"),
            format!("sha256:{}", hex::encode(Sha256::digest(b"shown")))
        );
    }

    #[test]
    fn a_digest_is_checked_under_the_key_its_id_names() {
        let k1 = key(&format!("k1:{HEX1}"));
        let rotated = key(&format!("k2:{HEX2}"))
            .with_previous(&format!("k1:{HEX1}"))
            .expect("two ids");
        let k2 = key(&format!("k2:{HEX2}"));
        let said = state_digest(Some(&k1), b"x");
        assert_eq!(check_digest(Some(&k1), &said, b"x"), Checked::Same);
        assert_eq!(check_digest(Some(&rotated), &said, b"x"), Checked::Same);
        assert_eq!(check_digest(Some(&rotated), &said, b"y"), Checked::Differs);
        assert_eq!(
            check_digest(Some(&k2), &said, b"x"),
            Checked::KeyNotGiven("k1".into())
        );
        assert_eq!(
            check_digest(None, &said, b"x"),
            Checked::KeyNotGiven("k1".into())
        );
        // Written under the same key before it had an id, checked once it has one.
        let alone = state_digest(Some(&key(HEX1)), b"x");
        assert!(alone.starts_with("hmac-sha256:de3ecdf1:"), "{alone}");
        assert_eq!(check_digest(Some(&k1), &alone, b"x"), Checked::Same);
        assert_eq!(check_digest(Some(&k1), &alone, b"y"), Checked::Differs);
        // Under k2 the same value digests otherwise: a digest is no stand-in for another key's.
        assert_ne!(state_digest(Some(&rotated), b"x"), said);
        // Plain digests, labelled or bare hex as entries wrote before labels, check as SHA-256.
        let plain = hex::encode(Sha256::digest(b"x"));
        for said in [format!("sha256:{plain}"), plain.clone()] {
            assert_eq!(check_digest(Some(&k1), &said, b"x"), Checked::Same);
            assert_eq!(check_digest(None, &said, b"y"), Checked::Differs);
        }
    }

    fn acknowledged() -> Acknowledged {
        Acknowledged {
            note: Some("late".into()),
            actor: Some("ana".into()),
            until: NaiveDate::from_ymd_opt(2026, 11, 30),
            pinned: Some("sha256:ab".into()),
            rows: vec![AckRow {
                id: 1,
                actor: "ana".into(),
                display_name: None,
                reason: None,
                note: "late".into(),
            }],
        }
    }

    #[test]
    fn an_acknowledgement_binds_its_columns_and_every_row_of_the_table() {
        let ack = acknowledged();
        assert_eq!(
            String::from_utf8(ack.bound_bytes()).expect("text"),
            "V4:lateV3:anaV10:2026-11-30V9:sha256:abV1:1V3:anaNV4:late"
        );
        let k1 = key(&format!("k1:{HEX1}"));
        let said = state_digest(Some(&k1), &ack.bound_bytes());
        assert_eq!(ack.check(Some(&k1), &said), Checked::Same);
        let mut edited = acknowledged();
        edited.rows[0].note = "forged".into();
        assert_eq!(edited.check(Some(&k1), &said), Checked::Differs);
        let mut added = acknowledged();
        added.rows.push(AckRow {
            id: 2,
            actor: "mallory".into(),
            display_name: None,
            note: "fine".into(),
            reason: None,
        });
        assert_eq!(added.check(Some(&k1), &said), Checked::Differs);
        let mut recoded = acknowledged();
        recoded.rows[0].reason = Some("write-off".into());
        assert_eq!(recoded.check(Some(&k1), &said), Checked::Differs);
        let mut repinned = acknowledged();
        repinned.pinned = Some("sha256:cd".into());
        assert_eq!(repinned.check(Some(&k1), &said), Checked::Differs);
    }

    #[test]
    fn an_acknowledgement_digest_from_before_the_table_checks_as_it_did() {
        // printf 'V4:lateV3:anaV10:2026-11-30' | sha256sum
        let before = hex::encode(Sha256::digest(b"V4:lateV3:anaV10:2026-11-30"));
        assert_eq!(acknowledged().check(None, &before), Checked::Same);
        let mut edited = acknowledged();
        edited.note = Some("forged".into());
        assert_eq!(edited.check(None, &before), Checked::Differs);
    }
}
