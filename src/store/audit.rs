//! The tamper-evident audit trail: every entry's hash covers its content and the previous hash.
//!
//! `hash = hex(SHA-256(enc(seq) enc(at) enc(actor) enc(action) enc(run_id) enc(payload) enc(prev_hash)))`
//! where `enc` is the canonical field encoding (`N` for NULL, else `V<byte length>:<text>`),
//! integers in base 10, and the first entry's `prev_hash` is 64 zeros. A signed entry's hash also
//! covers its writer's key id (`enc(key_id)` last), and its signature covers that hash
//! ([`crate::audit_key`]): rewriting an entry and recomputing every later hash, as the store's
//! own credentials allow, breaks the signatures. Appends go through the one-row `audit_head`
//! table, whose row lock serialises writers so the chain cannot fork.

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Store, StorePool};
use crate::audit_key::{WriterKey, verifies};
use crate::canonical::{Value, encode_row, format_timestamp};
use crate::error::{Error, Result};
use crate::run_id::RunId;

/// `prev_hash` of the first entry.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry about to be appended.
#[derive(Debug, Clone)]
pub(crate) struct NewEntry {
    pub(crate) action: &'static str,
    pub(crate) actor: String,
    pub(crate) run_id: Option<RunId>,
    /// JSON text; hashed exactly as stored.
    pub(crate) payload: String,
}

impl NewEntry {
    pub(crate) fn new(
        action: &'static str,
        actor: &str,
        run_id: Option<RunId>,
        payload: serde_json::Value,
    ) -> Self {
        NewEntry {
            action,
            actor: actor.to_string(),
            run_id,
            payload: payload.to_string(),
        }
    }
}

/// An entry as stored and exported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Entry {
    pub(crate) seq: i64,
    pub(crate) at: String,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) run_id: Option<RunId>,
    pub(crate) payload: String,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
    /// The writer's key id; `None` for an entry written unsigned.
    pub(crate) key_id: Option<String>,
    /// Base64 Ed25519 signature over `hash`.
    pub(crate) signature: Option<String>,
}

impl Entry {
    /// The hash this entry's content and `prev_hash` call for.
    pub(crate) fn expected_hash(&self) -> String {
        signed_entry_hash(
            self.seq,
            &self.at,
            &self.actor,
            &self.action,
            self.run_id,
            &self.payload,
            &self.prev_hash,
            self.key_id.as_deref(),
        )
    }
}

/// An entry's hash: its fields in the canonical row encoding, the writer's key id as a last
/// field when the entry is signed.
#[allow(clippy::too_many_arguments)]
pub fn signed_entry_hash(
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    run_id: Option<RunId>,
    payload: &str,
    prev_hash: &str,
    key_id: Option<&str>,
) -> String {
    let mut fields = vec![
        Value::Int(seq.into()),
        Value::Text(at.to_string()),
        Value::Text(actor.to_string()),
        Value::Text(action.to_string()),
        run_id.map_or(Value::Null, |r| Value::Int(r.0.into())),
        Value::Text(payload.to_string()),
        Value::Text(prev_hash.to_string()),
    ];
    if let Some(key_id) = key_id {
        fields.push(Value::Text(key_id.to_string()));
    }
    hex::encode(Sha256::digest(encode_row(&fields)))
}

/// The hash of an unsigned entry (written before signatures, or with no signing key).
pub fn entry_hash(
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    run_id: Option<RunId>,
    payload: &str,
    prev_hash: &str,
) -> String {
    signed_entry_hash(seq, at, actor, action, run_id, payload, prev_hash, None)
}

/// Where one appended entry sits in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) seq: i64,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
    pub(crate) key_id: Option<String>,
    pub(crate) signature: Option<String>,
}

/// The links of `entries` appended at `at` from sequence number `first_seq`, after the entry
/// whose hash is `prev_hash`: each entry's hash is the next one's `prev_hash`; each is signed
/// by `key` when the writer has one.
pub(crate) fn chain(
    first_seq: i64,
    at: &str,
    mut prev_hash: String,
    entries: &[NewEntry],
    key: Option<&WriterKey>,
) -> Vec<Link> {
    let mut links = Vec::with_capacity(entries.len());
    for (seq, entry) in (first_seq..).zip(entries) {
        let hash = signed_entry_hash(
            seq,
            at,
            &entry.actor,
            entry.action,
            entry.run_id,
            &entry.payload,
            &prev_hash,
            key.map(WriterKey::id),
        );
        links.push(Link {
            seq,
            prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
            key_id: key.map(|k| k.id().to_string()),
            signature: key.map(|k| k.sign(&hash)),
            hash,
        });
    }
    links
}

/// Now, at the microsecond precision every store keeps, as canonical text.
pub(crate) fn now_text() -> String {
    let now: DateTime<Utc> = Utc::now().trunc_subsecs(6);
    format_timestamp(&now)
}

/// One problem `verify` found, named by the entry's sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    pub(crate) seq: i64,
    pub(crate) problem: String,
}

/// Audit actions that record a discrepancy's state (`payload.id`, `payload.state`).
const STATE_ACTIONS: &[&str] = &[
    "discrepancy_opened",
    "discrepancy_changed",
    "discrepancy_resolved",
    "discrepancy_acknowledged",
    "acknowledgement_lapsed",
];

/// The last chain entry that recorded a discrepancy's state.
#[derive(Debug, Clone)]
pub(crate) struct BoundState {
    pub(crate) seq: i64,
    pub(crate) action: String,
    pub(crate) state: serde_json::Value,
}

/// Walks entries in sequence order, starting after `previous` (seq and hash of the entry
/// before the first one given; `(0, GENESIS)` from the start), and names every break: content
/// that does not match its hash, a broken link, a signature that does not verify under the
/// trusted public key of the id it names, an unsigned entry after signed ones, and a kept head
/// (`expect`) the chain no longer has.
pub(crate) struct Verifier<'k> {
    expected_seq: i64,
    previous_hash: String,
    trusted: &'k std::collections::BTreeMap<String, String>,
    expect: Option<(i64, String)>,
    pub(crate) signed_seen: bool,
    /// First and last sequence number of the unsigned entries before the first signed one.
    pub(crate) unsigned_before: Option<(i64, i64)>,
    pub(crate) checked: u64,
    pub(crate) breaks: Vec<Break>,
    /// Discrepancy id → the last entry recording its state.
    pub(crate) states: std::collections::HashMap<i64, BoundState>,
    /// (check, partition) → the last `day_sealed` entry's seq and digest.
    pub(crate) seals: std::collections::HashMap<(String, String), (i64, String)>,
}

impl<'k> Verifier<'k> {
    pub(crate) fn new(
        previous_seq: i64,
        previous_hash: String,
        trusted: &'k std::collections::BTreeMap<String, String>,
        expect: Option<(i64, String)>,
    ) -> Self {
        Verifier {
            expected_seq: previous_seq + 1,
            previous_hash,
            trusted,
            expect,
            signed_seen: false,
            unsigned_before: None,
            checked: 0,
            breaks: Vec::new(),
            states: std::collections::HashMap::new(),
            seals: std::collections::HashMap::new(),
        }
    }

    fn broken(&mut self, seq: i64, problem: impl Into<String>) {
        self.breaks.push(Break {
            seq,
            problem: problem.into(),
        });
    }

    pub(crate) fn check(&mut self, entry: &Entry) {
        self.checked += 1;
        if entry.seq > self.expected_seq {
            let problem = if entry.seq == self.expected_seq + 1 {
                "missing (deleted)".to_string()
            } else {
                format!(
                    "missing, with every entry up to {} (deleted)",
                    entry.seq - 1
                )
            };
            self.broken(self.expected_seq, problem);
        }
        if entry.hash != entry.expected_hash() {
            self.broken(
                entry.seq,
                format!(
                    "its content does not match its hash (edited; action {})",
                    entry.action
                ),
            );
        }
        if entry.prev_hash != self.previous_hash {
            self.broken(entry.seq, "its prev_hash is not the hash of the entry before it (inserted, reordered or deleted before it)");
        }
        self.check_signature(entry);
        if let Some((seq, hash)) = &self.expect
            && *seq == entry.seq
            && *hash != entry.hash
        {
            let problem = format!("its hash is not {hash}, the head kept for it (rewritten since)");
            self.broken(entry.seq, problem);
        }
        self.record_state(entry);
        self.expected_seq = entry.seq + 1;
        self.previous_hash = entry.hash.clone();
    }

    fn check_signature(&mut self, entry: &Entry) {
        let Some(key_id) = &entry.key_id else {
            if self.signed_seen {
                self.broken(entry.seq, "unsigned, after signed entries (its signature was removed, or its writer had no signing key)");
            } else {
                let first = self.unsigned_before.map_or(entry.seq, |(first, _)| first);
                self.unsigned_before = Some((first, entry.seq));
            }
            return;
        };
        self.signed_seen = true;
        let problem = match self.trusted.get(key_id) {
            None => format!("signed by key '{key_id}', which [audit] trusted_keys does not hold"),
            Some(public_key) => match &entry.signature {
                Some(signature) if verifies(public_key, &entry.hash, signature) => return,
                _ => format!("its signature does not verify under key '{key_id}' (rewritten)"),
            },
        };
        self.broken(entry.seq, problem);
    }

    /// Keeps the state a discrepancy entry or a day's seal entry records, to compare with the
    /// store's rows once the walk is done.
    fn record_state(&mut self, entry: &Entry) {
        let is_state = STATE_ACTIONS.contains(&entry.action.as_str());
        if !is_state && entry.action != "day_sealed" {
            return;
        }
        let Ok(payload) = serde_json::from_str::<serde_json::Value>(&entry.payload) else {
            return;
        };
        if is_state {
            if let (Some(id), Some(state)) = (payload["id"].as_i64(), payload.get("state")) {
                self.states.insert(
                    id,
                    BoundState {
                        seq: entry.seq,
                        action: entry.action.clone(),
                        state: state.clone(),
                    },
                );
            }
        } else if let (Some(check), Some(partition), Some(digest)) = (
            payload["check"].as_str(),
            payload["partition"].as_str(),
            payload["digest"].as_str(),
        ) {
            self.seals.insert(
                (check.to_string(), partition.to_string()),
                (entry.seq, digest.to_string()),
            );
        }
    }

    /// Compares the end of the chain with the head the store keeps, and with the kept head.
    pub(crate) fn finish(&mut self, head_seq: i64, head_hash: &str) {
        let last_seq = self.expected_seq - 1;
        if head_seq > last_seq {
            self.broken(last_seq + 1, format!("the chain ends at {last_seq} but the head records {head_seq} (entries deleted at the end)"));
        } else if head_seq < last_seq {
            self.broken(head_seq + 1, format!("entries after {head_seq} were added outside recon (the head records {head_seq})"));
        } else if head_hash != self.previous_hash {
            self.broken(last_seq, "the last entry's hash differs from the head's");
        }
        if let Some((seq, _)) = &self.expect
            && *seq > last_seq
        {
            let seq = *seq;
            self.broken(seq, format!("missing: the chain ends at {last_seq}, before the head kept at {seq} (truncated)"));
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub checked: u64,
    pub(crate) head_seq: i64,
    pub(crate) head_hash: String,
    /// The last entry's signature and key id, when it is signed.
    pub(crate) head_signature: Option<(String, String)>,
    /// First and last sequence number of the entries written before signatures.
    pub(crate) unsigned_before: Option<(i64, i64)>,
    pub breaks: Vec<Break>,
    /// Rows whose state differs from what the chain says of them, each named.
    pub disagreements: Vec<String>,
    /// Discrepancies whose values are encrypted at rest and were not compared: no data key.
    pub(crate) not_compared: usize,
    /// Rows whose state was digested under a mask key that is not given, each named: neither
    /// confirmed nor found changed.
    pub unverifiable: Vec<String>,
}

const ENTRY_COLUMNS: &str = "SELECT seq, at, actor, action, run_id, payload, prev_hash, hash, key_id, signature FROM audit_log";

fn entry_from_row<R: Row>(row: &R) -> Result<Entry>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let get = |name: &str| -> Result<String> {
        row.try_get::<String, _>(name).map_err(Error::from_store)
    };
    Ok(Entry {
        seq: row.try_get("seq").map_err(Error::from_store)?,
        at: get("at")?,
        actor: get("actor")?,
        action: get("action")?,
        run_id: row.try_get("run_id").map_err(Error::from_store)?,
        payload: get("payload")?,
        prev_hash: get("prev_hash")?,
        hash: get("hash")?,
        key_id: row.try_get("key_id").map_err(Error::from_store)?,
        signature: row.try_get("signature").map_err(Error::from_store)?,
    })
}

impl Store {
    /// The head of the chain: its last sequence number and hash.
    pub(crate) async fn audit_head(&self) -> Result<(i64, String)> {
        on_pool!(self, pool => {
            let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(pool)
                .await
                .map_err(Error::from_store)?;
            Ok((row.try_get("seq").map_err(Error::from_store)?, row.try_get("hash").map_err(Error::from_store)?))
        })
    }

    /// The key id and signature of entry `seq`, when it is signed.
    pub(crate) async fn audit_signature(&self, seq: i64) -> Result<Option<(String, String)>> {
        on_pool!(self, pool => {
            let row: Option<(Option<String>, Option<String>)> =
                sqlx::query_as("SELECT key_id, signature FROM audit_log WHERE seq = $1")
                    .bind(seq)
                    .fetch_optional(pool)
                    .await
                    .map_err(Error::from_store)?;
            Ok(match row {
                Some((Some(key_id), Some(signature))) => Some((key_id, signature)),
                _ => None,
            })
        })
    }

    /// Walks the chain from `from` (1 = the start) and names every broken entry, checking
    /// signatures against `trusted` (key id → base64 public key) and, when given, the head an
    /// auditor kept; from the start, also names every discrepancy and seal whose state differs
    /// from what its last entry says, its digests checked under the store's mask key
    /// ([`Store::with_mask_keys`]).
    pub async fn verify_audit(
        &self,
        from: i64,
        trusted: &std::collections::BTreeMap<String, String>,
        expect: Option<(i64, String)>,
    ) -> Result<Verification> {
        let from = from.max(1);
        let (head_seq, head_hash) = self.audit_head().await?;
        let head_signature = self.audit_signature(head_seq).await?;
        let mut verifier = on_pool!(self, pool => {
            // Start from the entry before `from`, trusting its stored hash.
            let mut verifier = if from == 1 {
                Verifier::new(0, GENESIS.to_string(), trusted, expect)
            } else {
                let previous: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                    .bind(from - 1)
                    .fetch_optional(pool)
                    .await
                    .map_err(Error::from_store)?;
                let previous = previous
                    .ok_or_else(|| Error::bad_input(format!("there is no audit entry {} to start after", from - 1)))?;
                Verifier::new(from - 1, previous, trusted, expect)
            };
            let sql = format!("{ENTRY_COLUMNS} WHERE seq >= $1 ORDER BY seq");
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(from).fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(Error::from_store)? {
                verifier.check(&entry_from_row(&row)?);
            }
            verifier
        });
        verifier.finish(head_seq, &head_hash);
        // Unsigned entries are "before signatures" only once a signed one follows them.
        let unsigned_before = verifier.unsigned_before.filter(|_| verifier.signed_seen);
        let (disagreements, not_compared, unverifiable) = if from == 1 {
            let rows = self.discrepancies_unlike_chain(&verifier.states).await?;
            let mut found = rows.lines;
            found.extend(self.seals_unlike_chain(&verifier.seals).await?);
            (found, rows.unreadable, rows.unverifiable)
        } else {
            (Vec::new(), 0, Vec::new())
        };
        Ok(Verification {
            checked: verifier.checked,
            head_seq,
            head_hash,
            head_signature,
            unsigned_before,
            breaks: verifier.breaks,
            not_compared,
            disagreements,
            unverifiable,
        })
    }

    /// Writes the chain as JSON lines, one entry per line, in sequence order.
    pub async fn export_audit(&self, out: &mut dyn std::io::Write) -> Result<u64> {
        let write_err =
            |e: std::io::Error| Error::internal(format!("writing the audit export: {e}"));
        on_pool!(self, pool => {
            let sql = format!("{ENTRY_COLUMNS} ORDER BY seq");
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(pool);
            let mut written = 0;
            while let Some(row) = rows.try_next().await.map_err(Error::from_store)? {
                let entry = entry_from_row(&row)?;
                serde_json::to_writer(&mut *out, &entry).map_err(|e| Error::internal(e.to_string()))?;
                out.write_all(b"\n").map_err(write_err)?;
                written += 1;
            }
            Ok(written)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<Entry> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let at = format!("2026-11-20T00:00:{:02}.000000Z", seq % 60);
                let payload = format!("{{\"n\":{seq}}}");
                let hash = entry_hash(seq, &at, "recon", "test", Some(RunId(7)), &payload, &prev);
                let entry = Entry {
                    seq,
                    at,
                    actor: "recon".into(),
                    action: "test".into(),
                    run_id: Some(RunId(7)),
                    payload,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    key_id: None,
                    signature: None,
                };
                prev = hash;
                entry
            })
            .collect()
    }

    fn verify(entries: &[Entry], head: (i64, &str)) -> Vec<Break> {
        let trusted = Default::default();
        let mut v = Verifier::new(0, GENESIS.to_string(), &trusted, None);
        entries.iter().for_each(|e| v.check(e));
        v.finish(head.0, head.1);
        v.breaks
    }

    #[test]
    fn the_hash_is_sha256_of_the_canonical_fields() {
        // printf 'V1:1V27:2026-11-20T00:00:00.000000ZV5:reconV4:testNV2:{}V64:000…0' | sha256sum
        let h = entry_hash(
            1,
            "2026-11-20T00:00:00.000000Z",
            "recon",
            "test",
            None,
            "{}",
            GENESIS,
        );
        let text =
            format!("V1:1V27:2026-11-20T00:00:00.000000ZV5:reconV4:testNV2:{{}}V64:{GENESIS}");
        assert_eq!(h, hex::encode(Sha256::digest(text.as_bytes())));
    }

    #[test]
    fn appended_links_continue_the_chain_after_its_head() {
        let entries: Vec<NewEntry> = (0..3)
            .map(|n| {
                NewEntry::new(
                    "test",
                    "recon",
                    Some(RunId(7)),
                    serde_json::json!({ "n": n }),
                )
            })
            .collect();
        let at = "2026-11-20T00:00:00.000000Z";
        let seed = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [3u8; 32]);
        let key = WriterKey::parse(&format!("job-1:{seed}")).unwrap();
        let links = super::chain(8, at, "ab".repeat(32), &entries, Some(&key));
        assert_eq!(
            links.iter().map(|l| l.seq).collect::<Vec<_>>(),
            vec![8, 9, 10]
        );
        assert_eq!(links[0].prev_hash, "ab".repeat(32));
        assert_eq!(links[1].prev_hash, links[0].hash);
        assert_eq!(links[2].prev_hash, links[1].hash);
        let stored: Vec<Entry> = entries
            .iter()
            .zip(&links)
            .map(|(e, l)| Entry {
                seq: l.seq,
                at: at.to_string(),
                actor: e.actor.clone(),
                action: e.action.to_string(),
                run_id: e.run_id,
                payload: e.payload.clone(),
                prev_hash: l.prev_hash.clone(),
                hash: l.hash.clone(),
                key_id: l.key_id.clone(),
                signature: l.signature.clone(),
            })
            .collect();
        let trusted = [("job-1".to_string(), key.public_key())].into();
        let mut v = Verifier::new(7, "ab".repeat(32), &trusted, None);
        stored.iter().for_each(|e| v.check(e));
        v.finish(10, &links[2].hash);
        assert_eq!(v.breaks, vec![]);
        assert_eq!(v.checked, 3);

        // Under another key id's public key, or none, the same entries do not verify.
        let other = [(
            "job-1".to_string(),
            WriterKey::parse(&format!(
                "job-1:{}",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [4u8; 32])
            ))
            .unwrap()
            .public_key(),
        )]
        .into();
        let mut v = Verifier::new(7, "ab".repeat(32), &other, None);
        stored.iter().for_each(|e| v.check(e));
        assert_eq!(
            v.breaks.first(),
            Some(&Break {
                seq: 8,
                problem: "its signature does not verify under key 'job-1' (rewritten)".into()
            })
        );
    }

    #[test]
    fn an_intact_chain_has_no_breaks() {
        let c = chain(5);
        assert_eq!(verify(&c, (5, &c[4].hash)), vec![]);
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let c = chain(5);
        let head = (5, c[4].hash.as_str());

        let mut edited = c.clone();
        edited[2].payload = "{\"n\":999}".into();
        assert_eq!(
            verify(&edited, head),
            vec![Break {
                seq: 3,
                problem: "its content does not match its hash (edited; action test)".into()
            }]
        );

        let mut deleted = c.clone();
        deleted.remove(2);
        let breaks = verify(&deleted, head);
        assert_eq!(
            breaks[0],
            Break {
                seq: 3,
                problem: "missing (deleted)".into()
            }
        );
        assert_eq!(breaks[1].seq, 4);

        // Two entries swap places: each keeps the other's content under its own sequence number.
        let mut reordered = c.clone();
        reordered[1] = Entry {
            seq: 2,
            ..c[2].clone()
        };
        reordered[2] = Entry {
            seq: 3,
            ..c[1].clone()
        };
        let seqs: Vec<i64> = verify(&reordered, head).iter().map(|b| b.seq).collect();
        assert!(seqs.contains(&3) && seqs.contains(&2), "{seqs:?}");

        let truncated = &c[..4];
        assert_eq!(
            verify(truncated, head),
            vec![Break {
                seq: 5,
                problem: "the chain ends at 4 but the head records 5 (entries deleted at the end)"
                    .into()
            }]
        );
    }
}
