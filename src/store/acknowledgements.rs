//! What an acknowledgement holds to: the finding as it was acknowledged, and the last day it
//! holds. A finding seen again with other values or money at stake, or past that day, needs
//! someone again: it is reopened (carried, with the reason), and the audit chain says so.

use super::audit::NewEntry;
use super::bound_state::Checked;
use super::{BeginWrite, Store, StorePool, run_actor};
use crate::discrepancy::Discrepancy;
use crate::error::{Error, Result};
use crate::mask::MaskKey;
use crate::run_id::RunId;
use chrono::NaiveDate;
use serde_json::json;

/// Why an acknowledged finding needs someone again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Reopened {
    /// A run saw it with other shown values or another amount at stake than were acknowledged.
    Changed,
    /// The last day its acknowledgement held (`ack --until`) has passed.
    Expired,
}

impl Reopened {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reopened::Changed => "changed",
            Reopened::Expired => "expired",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Reopened> {
        [Reopened::Changed, Reopened::Expired]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// What an acknowledgement is tied to: the finding's columns and its detail as the store keeps
/// it (both sides' shown values, the detail text, the money at stake), so any change in what a
/// person was shown changes it. Pinned, and bound in audit entries, as its
/// [`super::bound_state::state_digest`].
pub(crate) fn finding_bytes(d: &Discrepancy) -> Vec<u8> {
    shown_bytes_of(
        &serde_json::Value::from(d.columns.clone()).to_string(),
        &super::discrepancies::detail_json(d),
    )
}

/// [`finding_bytes`] of the stored columns and detail JSON text.
pub(crate) fn shown_bytes_of(columns_json: &str, detail_json: &str) -> Vec<u8> {
    [columns_json.as_bytes(), b"\n", detail_json.as_bytes()].concat()
}

/// Whether an acknowledgement pinned to digest `pinned` still holds for the finding `d` as
/// seen now: its digest is the same under the key it names; one made under a mask key no
/// longer given cannot be compared, and holds as it did (as one made before digests were kept).
pub(crate) fn still_holds(key: Option<&MaskKey>, pinned: &str, d: &Discrepancy) -> bool {
    super::bound_state::check_digest(key, pinned, &finding_bytes(d)) != Checked::Differs
}

/// Reopens, inside transaction `$tx`, each acknowledged finding `$changes` (a [`super::CheckChanges`])
/// saw that its acknowledgement no longer holds for ([`still_holds`] under mask key `$mask`): carried again,
/// reopened `changed`, in `$changes` too, with an `acknowledgement_lapsed` audit entry each. A
/// finding seen afresh (open) loses the reason an earlier life left.
macro_rules! reopen_changed_acknowledgements {
    ($tx:expr, $run_id:expr, $changes:expr, $mask:expr) => {{
        let acknowledged: Vec<usize> = $changes
            .seen
            .iter()
            .enumerate()
            .filter(|(_, r)| r.status == $crate::discrepancy::Status::Acknowledged)
            .map(|(i, _)| i)
            .collect();
        let mut changed: Vec<usize> = Vec::new();
        for chunk in acknowledged.chunks($crate::store::batch_rows(&$tx, 1)) {
            let sql = format!(
                "SELECT id, ack_digest FROM discrepancies WHERE id IN ({})",
                $crate::store::value_rows("$1", 1, chunk.len(), 0)
            );
            let mut pinned = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk {
                pinned = pinned.bind($changes.seen[*i].id);
            }
            let mut digests = std::collections::HashMap::<i64, String>::new();
            for row in pinned.fetch_all(&mut *$tx).await.map_err(Error::from_store)? {
                let id: i64 = sqlx::Row::try_get(&row, "id").map_err(Error::from_store)?;
                let digest: Option<String> =
                    sqlx::Row::try_get(&row, "ack_digest").map_err(Error::from_store)?;
                // Acknowledged before digests were kept: it holds as it did.
                if let Some(digest) = digest {
                    digests.insert(id, digest);
                }
            }
            for i in chunk {
                let seen = &$changes.seen[*i];
                if digests.get(&seen.id).is_some_and(|pinned| {
                    !$crate::store::acknowledgements::still_holds($mask, pinned, &seen.discrepancy)
                }) {
                    changed.push(*i);
                }
            }
        }
        for chunk in changed.chunks($crate::store::batch_rows(&$tx, 1)) {
            let sql = format!(
                "UPDATE discrepancies SET status = 'carried', reopened = 'changed' WHERE id IN ({})",
                $crate::store::value_rows("$1", 1, chunk.len(), 0)
            );
            let mut reopen = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk {
                reopen = reopen.bind($changes.seen[*i].id);
            }
            reopen.execute(&mut *$tx).await.map_err(Error::from_store)?;
        }
        let mut lapsed = Vec::with_capacity(changed.len());
        for i in changed {
            let seen = &mut $changes.seen[i];
            seen.status = $crate::discrepancy::Status::Carried;
            lapsed.push($crate::store::acknowledgements::lapsed_entry(
                $mask,
                $run_id,
                seen.id,
                &seen.discrepancy,
                $crate::store::acknowledgements::Reopened::Changed,
            ));
        }
        append_audit!($tx, lapsed);
        let fresh: Vec<i64> = $changes
            .seen
            .iter()
            .filter(|r| r.status == $crate::discrepancy::Status::Open)
            .map(|r| r.id)
            .collect();
        for chunk in fresh.chunks($crate::store::batch_rows(&$tx, 1)) {
            let sql = format!(
                "UPDATE discrepancies SET reopened = NULL WHERE reopened IS NOT NULL AND id IN ({})",
                $crate::store::value_rows("$1", 1, chunk.len(), 0)
            );
            let mut clear = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                clear = clear.bind(id);
            }
            clear.execute(&mut *$tx).await.map_err(Error::from_store)?;
        }
    }};
}

/// The audit entry of an acknowledgement that no longer holds.
pub(crate) fn lapsed_entry(
    key: Option<&MaskKey>,
    run_id: RunId,
    id: i64,
    d: &Discrepancy,
    reason: Reopened,
) -> NewEntry {
    NewEntry::new(
        "acknowledgement_lapsed",
        &run_actor(),
        Some(run_id),
        json!({
            "id": id,
            "check": d.check,
            "partition": d.partition,
            "kind": d.kind.as_str(),
            "key": d.key_json(),
            "reason": reason.as_str(),
            "state": super::bound_state::state(key, crate::discrepancy::Status::Carried, d, None),
        }),
    )
}

/// The columns `acknowledge` sets beside its note: the digest of the finding as acknowledged,
/// the last day it holds; a reason it was reopened is gone.
pub(super) const PIN_ACKNOWLEDGEMENT: &str =
    "UPDATE discrepancies SET ack_digest = $1, ack_until = $2, reopened = NULL WHERE id = $3";

impl Store {
    /// Reopens every acknowledged finding, of any date, whose acknowledgement held until a day
    /// before `today`: carried again, reopened `expired`, each with an audit entry. Run by
    /// every run before its checks, so its report and the backlog it measures are current.
    pub(crate) async fn lapse_expired_acknowledgements(
        &self,
        run_id: RunId,
        today: NaiveDate,
    ) -> Result<usize> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query(
                "UPDATE discrepancies SET status = 'carried', reopened = 'expired'
                 WHERE status = 'acknowledged' AND ack_until IS NOT NULL AND ack_until < $1
                 RETURNING id, check_name, partition_key, kind, key_json, columns_json, detail_json, status, first_run_id",
            )
            .bind(today)
            .fetch_all(&mut *tx)
            .await
            .map_err(Error::from_store)?;
            // RETURNING promises no order: the audit entries come in id order.
            let mut lapsed = rows.iter().map(|row| super::discrepancies::recorded_from_row(self.data_keys(), row)).collect::<Result<Vec<_>>>()?;
            lapsed.sort_by_key(|r| r.id);
            let entries: Vec<NewEntry> = lapsed
                .iter()
                .map(|r| lapsed_entry(self.mask_key(), run_id, r.id, &r.discrepancy, Reopened::Expired))
                .collect();
            let lapsed = entries.len();
            append_audit!(tx, entries);
            tx.commit().await.map_err(Error::from_store)?;
            Ok(lapsed)
        })
    }
}
