//! The tamper-evident audit trail: every entry's hash covers its content and the previous hash.
//!
//! `hash = hex(SHA-256(enc(seq) enc(at) enc(actor) enc(action) enc(run_id) enc(payload) enc(prev_hash)))`
//! where `enc` is the canonical field encoding (`N` for NULL, else `V<byte length>:<text>`),
//! integers in base 10, and the first entry's `prev_hash` is 64 zeros. Appends go through the
//! one-row `audit_head` table, whose row lock serialises writers so the chain cannot fork.

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{Store, StorePool};
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
}

impl Entry {
    /// The hash this entry's content and `prev_hash` call for.
    pub(crate) fn expected_hash(&self) -> String {
        entry_hash(
            self.seq,
            &self.at,
            &self.actor,
            &self.action,
            self.run_id,
            &self.payload,
            &self.prev_hash,
        )
    }
}

pub fn entry_hash(
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    run_id: Option<RunId>,
    payload: &str,
    prev_hash: &str,
) -> String {
    let fields = [
        Value::Int(seq.into()),
        Value::Text(at.to_string()),
        Value::Text(actor.to_string()),
        Value::Text(action.to_string()),
        run_id.map_or(Value::Null, |r| Value::Int(r.0.into())),
        Value::Text(payload.to_string()),
        Value::Text(prev_hash.to_string()),
    ];
    hex::encode(Sha256::digest(encode_row(&fields)))
}

/// Where one appended entry sits in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) seq: i64,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

/// The links of `entries` appended at `at` from sequence number `first_seq`, after the entry
/// whose hash is `prev_hash`: each entry's hash is the next one's `prev_hash`.
pub(crate) fn chain(
    first_seq: i64,
    at: &str,
    mut prev_hash: String,
    entries: &[NewEntry],
) -> Vec<Link> {
    let mut links = Vec::with_capacity(entries.len());
    for (seq, entry) in (first_seq..).zip(entries) {
        let hash = entry_hash(
            seq,
            at,
            &entry.actor,
            entry.action,
            entry.run_id,
            &entry.payload,
            &prev_hash,
        );
        links.push(Link {
            seq,
            prev_hash: std::mem::replace(&mut prev_hash, hash.clone()),
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

/// Walks entries in sequence order, starting after `previous` (seq and hash of the entry
/// before the first one given; `(0, GENESIS)` from the start), and names every break.
pub(crate) struct Verifier {
    expected_seq: i64,
    previous_hash: String,
    pub(crate) checked: u64,
    pub(crate) breaks: Vec<Break>,
}

impl Verifier {
    pub(crate) fn new(previous_seq: i64, previous_hash: String) -> Self {
        Verifier {
            expected_seq: previous_seq + 1,
            previous_hash,
            checked: 0,
            breaks: Vec::new(),
        }
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
            self.breaks.push(Break {
                seq: self.expected_seq,
                problem,
            });
        }
        if entry.hash != entry.expected_hash() {
            self.breaks.push(Break {
                seq: entry.seq,
                problem: format!(
                    "its content does not match its hash (edited; action {})",
                    entry.action
                ),
            });
        }
        if entry.prev_hash != self.previous_hash {
            self.breaks.push(Break {
                seq: entry.seq,
                problem: "its prev_hash is not the hash of the entry before it (inserted, reordered or deleted before it)"
                    .to_string(),
            });
        }
        self.expected_seq = entry.seq + 1;
        self.previous_hash = entry.hash.clone();
    }

    /// Compares the end of the chain with the head the store keeps.
    pub(crate) fn finish(&mut self, head_seq: i64, head_hash: &str) {
        let last_seq = self.expected_seq - 1;
        if head_seq > last_seq {
            self.breaks.push(Break {
                seq: last_seq + 1,
                problem: format!("the chain ends at {last_seq} but the head records {head_seq} (entries deleted at the end)"),
            });
        } else if head_seq < last_seq {
            self.breaks.push(Break {
                seq: head_seq + 1,
                problem: format!("entries after {head_seq} were added outside recon (the head records {head_seq})"),
            });
        } else if head_hash != self.previous_hash {
            self.breaks.push(Break {
                seq: last_seq,
                problem: "the last entry's hash differs from the head's".to_string(),
            });
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub checked: u64,
    pub(crate) head_seq: i64,
    pub(crate) head_hash: String,
    pub breaks: Vec<Break>,
}

const ENTRY_COLUMNS: &str =
    "SELECT seq, at, actor, action, run_id, payload, prev_hash, hash FROM audit_log";

fn entry_from_row<R: Row>(row: &R) -> Result<Entry>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
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

    /// Walks the chain from `from` (1 = the start) and names every broken entry.
    pub async fn verify_audit(&self, from: i64) -> Result<Verification> {
        let from = from.max(1);
        let (head_seq, head_hash) = self.audit_head().await?;
        on_pool!(self, pool => {
            // Start from the entry before `from`, trusting its stored hash.
            let mut verifier = if from == 1 {
                Verifier::new(0, GENESIS.to_string())
            } else {
                let previous: Option<String> = sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                    .bind(from - 1)
                    .fetch_optional(pool)
                    .await
                    .map_err(Error::from_store)?;
                let previous = previous
                    .ok_or_else(|| Error::bad_input(format!("there is no audit entry {} to start after", from - 1)))?;
                Verifier::new(from - 1, previous)
            };
            let sql = format!("{ENTRY_COLUMNS} WHERE seq >= $1 ORDER BY seq");
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(from).fetch(pool);
            while let Some(row) = rows.try_next().await.map_err(Error::from_store)? {
                verifier.check(&entry_from_row(&row)?);
            }
            verifier.finish(head_seq, &head_hash);
            Ok(Verification { checked: verifier.checked, head_seq, head_hash, breaks: verifier.breaks })
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
                };
                prev = hash;
                entry
            })
            .collect()
    }

    fn verify(entries: &[Entry], head: (i64, &str)) -> Vec<Break> {
        let mut v = Verifier::new(0, GENESIS.to_string());
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
        let links = super::chain(8, at, "ab".repeat(32), &entries);
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
            })
            .collect();
        let mut v = Verifier::new(7, "ab".repeat(32));
        stored.iter().for_each(|e| v.check(e));
        v.finish(10, &links[2].hash);
        assert_eq!(v.breaks, vec![]);
        assert_eq!(v.checked, 3);
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
