//! Discrepancies as the store keeps them: listing for operators, and acknowledgements.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;
use sqlx::Row;

use super::audit::NewEntry;
use super::{AckReason, Acknowledgement, BeginWrite, Reopened, Store, StorePool};
use crate::at_rest::{self, DataKeys};
use crate::day::Partition;
use crate::discrepancy::{AtStake, ColumnValues, Discrepancy, Kind, Recorded, ShownKey, Status};
use crate::error::{Error, Result};
use crate::mask::Shown;
use crate::run_id::RunId;

/// Which discrepancies `list` (and a bulk acknowledgement) takes; an empty field takes every one.
#[derive(Debug, Default, Clone)]
pub(crate) struct DiscrepancyFilter {
    /// Only those still open (open, carried over).
    pub(crate) open_only: bool,
    /// Only those of this business date (as `from` and `to` both).
    pub(crate) date: Option<NaiveDate>,
    pub(crate) check: Option<String>,
    /// Only those of these kinds.
    pub(crate) kinds: Vec<Kind>,
    /// Only those with one of these statuses.
    pub(crate) statuses: Vec<Status>,
    /// Only those of business dates from this one on. A whole-table check's finding belongs to
    /// the dates of the runs that saw it.
    pub(crate) from: Option<NaiveDate>,
    /// Only those of business dates up to this one (the same way).
    pub(crate) to: Option<NaiveDate>,
    /// Only those first seen at or before this instant (`--older-than`).
    pub(crate) first_seen_by: Option<DateTime<Utc>>,
    /// Only these ids.
    pub(crate) ids: Vec<i64>,
}

impl DiscrepancyFilter {
    /// The first and last business date it takes: `date` narrowing `from` and `to`.
    fn date_range(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        let from = self.from.into_iter().chain(self.date).max();
        let to = self.to.into_iter().chain(self.date).min();
        (from, to)
    }

    /// Whether a listed discrepancy passes the parts the query leaves to the caller.
    fn takes(&self, listed: &ListedDiscrepancy) -> bool {
        let recorded = &listed.recorded;
        (self.ids.is_empty() || self.ids.contains(&recorded.id))
            && (self.kinds.is_empty() || self.kinds.contains(&recorded.discrepancy.kind))
            && (self.statuses.is_empty() || self.statuses.contains(&recorded.status))
            && self
                .first_seen_by
                .is_none_or(|by| listed.first_seen_at <= by)
    }
}

/// A discrepancy with what an operator needs beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedDiscrepancy {
    pub(crate) recorded: Recorded,
    pub(crate) last_run_id: RunId,
    pub(crate) first_seen_at: DateTime<Utc>,
    pub(crate) ack_note: Option<String>,
    pub(crate) ack_actor: Option<String>,
    /// The last day its acknowledgement holds (`ack --until`).
    pub(crate) ack_until: Option<NaiveDate>,
    /// Why an acknowledged finding needs someone again.
    pub(crate) reopened: Option<Reopened>,
    /// Every acknowledgement of it, oldest first (the latest is `ack_note`, `ack_actor`).
    pub(crate) acknowledgements: Vec<Acknowledgement>,
}

/// Who acknowledges findings, why, and for how long (`recon discrepancies ack`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AckRequest<'a> {
    /// Why it is not a problem, in words an auditor will read.
    pub(crate) note: &'a str,
    pub(crate) reason: Option<AckReason>,
    /// `--actor`: on PostgreSQL only a display name beside the session's role.
    pub(crate) claimed: Option<&'a str>,
    /// The last day it holds.
    pub(crate) until: Option<NaiveDate>,
}

const COLUMNS: &str = "id, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id, last_run_id, ack_note, ack_actor";

impl Store {
    /// Discrepancies matching `filter`, in id order.
    pub(crate) async fn list_discrepancies(
        &self,
        filter: &DiscrepancyFilter,
    ) -> Result<Vec<ListedDiscrepancy>> {
        // One statement for every filter: an absent filter binds NULL and matches everything.
        // A whole-table finding is of the dates of the runs that saw it.
        let whole = Partition::WHOLE_TABLE;
        let sql = format!(
            "SELECT {COLUMNS}, first_seen_at, ack_until, reopened FROM discrepancies d
             WHERE ($1 = 0 OR status IN ('open', 'carried'))
               AND ($2 IS NULL OR check_name = $2)
               AND ((partition_key <> '{whole}' AND ($3 IS NULL OR partition_key >= $3)
                     AND ($4 IS NULL OR partition_key <= $4))
                    OR (partition_key = '{whole}' AND (($5 IS NULL AND $6 IS NULL) OR EXISTS (
                        SELECT 1 FROM run_discrepancies rd JOIN runs r ON r.id = rd.run_id
                        WHERE rd.discrepancy_id = d.id
                          AND ($5 IS NULL OR r.business_date >= $5)
                          AND ($6 IS NULL OR r.business_date <= $6)))))
             ORDER BY id"
        );
        let open_only = i32::from(filter.open_only);
        let (from, to) = filter.date_range();
        let mut acknowledgements = self.acknowledgements().await?;
        let listed: Vec<ListedDiscrepancy> = on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(open_only)
                .bind(&filter.check)
                .bind(from.map(|d| d.to_string()))
                .bind(to.map(|d| d.to_string()))
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await
                .map_err(Error::from_store)?;
            rows.iter()
                .map(|row| {
                    let recorded = recorded_from_row(self.data_keys(), row)?;
                    let reopened: Option<String> = row.try_get("reopened").map_err(Error::from_store)?;
                    Ok(ListedDiscrepancy {
                        acknowledgements: acknowledgements.remove(&recorded.id).unwrap_or_default(),
                        recorded,
                        last_run_id: row.try_get("last_run_id").map_err(Error::from_store)?,
                        first_seen_at: row.try_get("first_seen_at").map_err(Error::from_store)?,
                        ack_note: row.try_get("ack_note").map_err(Error::from_store)?,
                        ack_actor: row.try_get("ack_actor").map_err(Error::from_store)?,
                        ack_until: row.try_get("ack_until").map_err(Error::from_store)?,
                        reopened: reopened.as_deref().and_then(Reopened::parse),
                    })
                })
                .collect::<Result<_>>()?
        });
        Ok(listed.into_iter().filter(|l| filter.takes(l)).collect())
    }

    /// The names of every check the store holds a result or a discrepancy of, sorted.
    pub(crate) async fn known_checks(&self) -> Result<Vec<String>> {
        let names: Vec<String> = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT check_name FROM check_results UNION SELECT check_name FROM discrepancies ORDER BY 1",
        )
        .fetch_all(pool)
        .await)
        .map_err(Error::from_store)?;
        Ok(names)
    }

    /// A settlement check's in-flight findings from days before `date`: its `timing` ledger
    /// rows and `payout_late` payouts still open, to be examined again by this run.
    pub(crate) async fn in_flight(&self, check: &str, date: NaiveDate) -> Result<Vec<Recorded>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM discrepancies
             WHERE check_name = $1 AND kind IN ('timing', 'payout_late') AND partition_key < $2
               AND status IN ('open', 'carried', 'acknowledged')
             ORDER BY id"
        );
        on_pool!(self, pool => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(check)
                .bind(date.to_string())
                .fetch_all(pool)
                .await
                .map_err(Error::from_store)?;
            rows.iter().map(|row| recorded_from_row(self.data_keys(), row)).collect()
        })
    }

    /// Every discrepancy the store holds for a check, in id order.
    pub async fn discrepancies(&self, check: &str) -> Result<Vec<Recorded>> {
        let filter = DiscrepancyFilter {
            check: Some(check.to_string()),
            ..DiscrepancyFilter::default()
        };
        Ok(self
            .list_discrepancies(&filter)
            .await?
            .into_iter()
            .map(|l| l.recorded)
            .collect())
    }

    /// Marks discrepancies `ids` explained by an operator, all or none, in one transaction:
    /// for each, a note of its own (a second one adds a note, the first stays) with its reason
    /// code, the discrepancy's status and latest note, the terms it holds to (the finding as it
    /// is now, through `until` when given: see [`super::acknowledgements`]), and an audit entry;
    /// a card number the operator typed into the note masked, as everything recon keeps. An id
    /// that does not exist or is resolved acknowledges nothing: the error names every such id.
    /// Who acts: on PostgreSQL the session's role (`session_user`, which the store's trigger
    /// sets), with `claimed` (`--actor`) only as a display name beside it; on SQLite, which has
    /// no roles, `claimed`, else the OS user. Returns them as acknowledged, in the order given.
    pub(crate) async fn acknowledge_all(
        &self,
        ids: &[i64],
        request: &AckRequest<'_>,
    ) -> Result<(Vec<Recorded>, String)> {
        if request.note.trim().is_empty() {
            return Err(Error::bad_input(
                "an acknowledgement needs a --note saying why",
            ));
        }
        let mut unique: Vec<i64> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(id) {
                unique.push(*id);
            }
        }
        let note = crate::mask::Shown::masked(request.note);
        let note = note.as_str();
        let until = request.until;
        let reason = request.reason.map(AckReason::as_str);
        let (actor, display_name) = match &self.pool {
            // Replaced by the database's `session_user` on insert.
            StorePool::Postgres(_) => (String::new(), request.claimed),
            StorePool::Sqlite(_) => (
                request.claimed.map_or_else(super::os_user, str::to_string),
                None,
            ),
        };
        let now = Utc::now();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut found = Vec::with_capacity(unique.len());
            let mut missing = Vec::new();
            let mut resolved = Vec::new();
            for id in &unique {
                // Writing first takes the write lock, so the check below cannot race another writer.
                let updated = sqlx::query(
                    "UPDATE discrepancies SET status = 'acknowledged'
                     WHERE id = $1 AND status IN ('open', 'carried', 'acknowledged')",
                )
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(Error::from_store)?
                .rows_affected();
                let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM discrepancies WHERE id = $1")))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
                match row {
                    None => missing.push(id.to_string()),
                    Some(_) if updated == 0 => resolved.push(id.to_string()),
                    Some(row) => found.push(recorded_from_row(self.data_keys(), &row)?),
                }
            }
            let mut problems = Vec::new();
            if !missing.is_empty() {
                problems.push(format!("there is no discrepancy {}", missing.join(", ")));
            }
            if !resolved.is_empty() {
                problems.push(format!("discrepancy {} is resolved", resolved.join(", ")));
            }
            if !problems.is_empty() {
                // Dropping the transaction rolls every acknowledgement back.
                return Err(Error::bad_input(format!(
                    "nothing acknowledged: {}; only open, carried or acknowledged discrepancies can be acknowledged (`recon discrepancies list` shows them)",
                    problems.join("; ")
                )));
            }
            let mut shown_actor = String::new();
            let mut entries = Vec::with_capacity(found.len());
            for recorded in &found {
                let id = recorded.id;
                let actor: String = sqlx::query_scalar(
                    "INSERT INTO acknowledgements (discrepancy_id, at, actor, display_name, note, reason)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING actor",
                )
                .bind(id)
                .bind(now)
                .bind(&actor)
                .bind(display_name)
                .bind(note)
                .bind(reason)
                .fetch_one(&mut *tx)
                .await
                .map_err(Error::from_store)?;
                shown_actor = Acknowledgement::shown_actor(&actor, display_name);
                sqlx::query("UPDATE discrepancies SET ack_note = $1, ack_actor = $2, ack_at = $3 WHERE id = $4")
                    .bind(note)
                    .bind(&shown_actor)
                    .bind(now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
                let digest = super::bound_state::state_digest(
                    self.mask_key(),
                    &super::acknowledgements::finding_bytes(&recorded.discrepancy),
                );
                sqlx::query(super::acknowledgements::PIN_ACKNOWLEDGEMENT)
                    .bind(&digest)
                    .bind(until)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
                // The state binds the acknowledgement as stored, read back: the actor the store
                // set, every note and reason, the terms.
                let acknowledged = sqlx::query_as::<_, super::bound_state::AckJoinRow>(super::bound_state::ACKNOWLEDGED_ROWS)
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(Error::from_store)?;
                let acknowledged = super::bound_state::Acknowledged::from_join(acknowledged);
                entries.push(NewEntry::new(
                    "discrepancy_acknowledged",
                    &shown_actor,
                    None,
                    json!({
                        "id": id,
                        "check": recorded.discrepancy.check,
                        "partition": recorded.discrepancy.partition,
                        "kind": recorded.discrepancy.kind.as_str(),
                        "key": recorded.discrepancy.key_json(),
                        "key_digest": recorded.discrepancy.key.digest,
                        "note": note,
                        "reason": reason,
                        "digest": digest,
                        "until": until.map(|d| d.to_string()),
                        "state": super::bound_state::state(
                            self.mask_key(),
                            crate::discrepancy::Status::Acknowledged,
                            &recorded.discrepancy,
                            Some(&acknowledged),
                        ),
                    }),
                ));
            }
            append_audit!(tx, entries);
            tx.commit().await.map_err(Error::from_store)?;
            Ok((found, shown_actor))
        })
    }

    /// Every acknowledgement the store holds, oldest first, by discrepancy id.
    pub(crate) async fn acknowledgements(
        &self,
    ) -> Result<std::collections::HashMap<i64, Vec<Acknowledgement>>> {
        /// Discrepancy id, actor, display name, note, reason code.
        type AckRow = (i64, String, Option<String>, String, Option<String>);
        let rows: Vec<AckRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT discrepancy_id, actor, display_name, note, reason FROM acknowledgements ORDER BY id",
            )
            .fetch_all(pool)
            .await
            .map_err(Error::from_store)?
        });
        let mut by_discrepancy = std::collections::HashMap::<i64, Vec<Acknowledgement>>::new();
        for (id, actor, display_name, note, reason) in rows {
            by_discrepancy.entry(id).or_default().push(Acknowledgement {
                note,
                actor: Acknowledgement::shown_actor(&actor, display_name.as_deref()),
                reason: AckReason::from_stored(reason)?,
            });
        }
        Ok(by_discrepancy)
    }
}

impl Acknowledgement {
    /// Who acknowledged, as shown: the acting identity, with a display name beside it.
    pub(crate) fn shown_actor(actor: &str, display_name: Option<&str>) -> String {
        match display_name {
            Some(name) => format!("{actor} ({name})"),
            None => actor.to_string(),
        }
    }
}

/// The parts of a discrepancy beyond its identity: values on both sides and any detail.
#[derive(serde::Serialize, serde::Deserialize)]
struct Detail {
    values: Vec<ColumnValues>,
    detail: Option<Shown>,
    #[serde(default)]
    at_stake: Option<AtStake>,
    /// The keyed digest of a key that masking hid (see [`ShownKey`]).
    #[serde(default)]
    key_digest: Option<String>,
}

/// [`Detail`] as JSON text, written straight from the values (not through `serde_json::Value`,
/// whose numbers stop at 64 bits: a stake of `2^63` minor units must be kept exactly).
pub(super) fn detail_json(d: &Discrepancy) -> String {
    #[derive(serde::Serialize)]
    struct DetailRef<'a> {
        values: &'a [ColumnValues],
        detail: &'a Option<Shown>,
        at_stake: &'a Option<AtStake>,
        key_digest: &'a Option<String>,
    }
    let detail = DetailRef {
        values: &d.values,
        detail: &d.detail,
        at_stake: &d.at_stake,
        key_digest: &d.key.digest,
    };
    serde_json::to_string(&detail).unwrap_or_else(|e| {
        unreachable!("a discrepancy's detail is plain data and always serialises: {e}")
    })
}

/// A discrepancy's detail as stored: its JSON, encrypted for its row when keys are given.
pub(super) fn stored_detail(keys: Option<&DataKeys>, d: &Discrepancy) -> Result<String> {
    let json = detail_json(d);
    let Some(keys) = keys else {
        return Ok(json);
    };
    let place = detail_place(
        &d.check,
        &d.partition.to_string(),
        d.kind.as_str(),
        &d.key_json().to_string(),
    );
    keys.seal_field(&place, json.as_bytes())
        .map_err(|e| Error::internal(format!("encrypting a discrepancy's values: {e}")))
}

/// What an encrypted detail is bound to: its column and the discrepancy's identity (check,
/// partition, kind, key as stored), so values moved to another row do not decrypt.
pub(super) fn detail_place(check: &str, partition: &str, kind: &str, key_json: &str) -> Vec<u8> {
    [
        "discrepancies.detail_json",
        check,
        partition,
        kind,
        key_json,
    ]
    .join("\0")
    .into_bytes()
}

/// The JSON of discrepancy `id`'s encrypted detail; without keys, or with keys that do not
/// open it, an error in one line saying so.
pub(super) fn open_detail(
    keys: Option<&DataKeys>,
    id: i64,
    place: &[u8],
    stored: &str,
) -> Result<String> {
    let Some(keys) = keys else {
        return Err(Error::bad_input(format!(
            "discrepancy {id}'s values are encrypted at rest under data key {:?} and no data key is configured (set {})",
            at_rest::field_key_id(stored).unwrap_or("?"),
            at_rest::DEFAULT_DATA_KEY_ENV
        )));
    };
    let plain = keys
        .open_field(place, stored)
        .map_err(|e| Error::bad_input(format!("discrepancy {id}'s values cannot be read: {e}")))?;
    String::from_utf8(plain).map_err(|_| {
        Error::internal(format!(
            "discrepancy {id}'s values are not UTF-8 once decrypted"
        ))
    })
}

pub(super) fn parse_status(text: &str) -> Result<Status> {
    Status::parse(text).ok_or_else(|| {
        Error::internal(format!(
            "store holds an unknown discrepancy status {text:?}"
        ))
    })
}

pub(super) fn recorded_from_row<R: Row>(keys: Option<&DataKeys>, row: &R) -> Result<Recorded>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let bad = |what: &str| Error::internal(format!("store holds a malformed discrepancy ({what})"));
    let get = |name: &str| -> Result<String> {
        row.try_get::<String, _>(name).map_err(Error::from_store)
    };
    let kind_text = get("kind")?;
    let key: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&get("key_json")?).map_err(|_| bad("key_json"))?;
    let columns: Vec<String> =
        serde_json::from_str(&get("columns_json")?).map_err(|_| bad("columns_json"))?;
    let id: i64 = row.try_get("id").map_err(Error::from_store)?;
    let stored = get("detail_json")?;
    let key_text = get("key_json")?;
    let opened;
    let detail_text = match at_rest::is_sealed_field(&stored) {
        false => stored.as_str(),
        true => {
            let place = detail_place(
                &get("check_name")?,
                &get("partition_key")?,
                &kind_text,
                &key_text,
            );
            opened = open_detail(keys, id, &place, &stored)?;
            opened.as_str()
        }
    };
    let detail: Detail = serde_json::from_str(detail_text).map_err(|_| bad("detail_json"))?;
    Ok(Recorded {
        id,
        status: parse_status(&get("status")?)?,
        first_run_id: row.try_get("first_run_id").map_err(Error::from_store)?,
        discrepancy: Discrepancy {
            check: get("check_name")?,
            partition: Partition::parse(&get("partition_key")?)?,
            kind: Kind::parse(&kind_text).ok_or_else(|| bad("kind"))?,
            key: ShownKey::from_json(key, detail.key_digest),
            columns,
            values: detail.values,
            detail: detail.detail,
            at_stake: detail.at_stake,
        },
    })
}
