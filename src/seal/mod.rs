//! Sealed days, in one place: what seals a day, what re-verifies it, and how a check split by
//! key seals.
//!
//! - **Sealing.** An integrity check with `seal = true` and a date column cuts its rows into
//!   segments as it streams them ([`crate::integrity::SegmentWork::Seal`], spooled to a temp
//!   file by `integrity/segments.rs`). When the day comes out clean (no finding, nothing in
//!   flight) the run hands the spool to [`seal_clean_day`], which keeps the day's digest and
//!   each segment's head and row fingerprints in the store (`store/seals.rs`). A day sealed once
//!   keeps its first seal.
//! - **Re-verifying.** Every later run of the check re-verifies the sealed days of its look-back
//!   window ([`SealWindow`], [`verify_sealed_days`]): each day is compared again, checked against
//!   its seal's segments as it streams, and only segments that differ are opened row by row;
//!   every row changed, added or deleted since is a `closed_period_modified` finding of that day.
//! - **Split checks.** A check split by key (`split_by_key`, `run/split.rs`) seals range by range:
//!   each clean range seals its own part (`SealPart::Range`), and the shard that records the
//!   whole check seals the day once every range of its split is clean (`Store::seal_split_day`,
//!   the split's ranges kept in `store/splits.rs`). A later night re-verifies a day sealed by a
//!   split range by range, cut by that split's stored boundaries ([`verify_shard_of_sealed_days`],
//!   recorded together by [`record_shard_verifications`]).
//! - **Retention.** Seals older than `job.seal_retention_days` are pruned ([`prune`]), audited.

mod verify;

use chrono_tz::Tz;
use tracing::info;

use crate::check::CheckRecord;
use crate::day::{BusinessDay, Partition};
use crate::error::Result;
use crate::integrity::SealSpool;
use crate::integrity::spec::IntegritySpec;
use crate::run_id::RunId;
use crate::store::{SealPart, Store};

pub(crate) use verify::{
    record_shard_verifications, verify_sealed_days, verify_shard_of_sealed_days,
};

/// Which sealed days a run re-verifies: those of the `lookback_days` before `day`, cut in
/// `timezone`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SealWindow {
    pub(crate) day: BusinessDay,
    pub(crate) lookback_days: u32,
    pub(crate) timezone: Tz,
}

/// A clean day (or key range of it, `part`) of `check`, its digest and row count, and the
/// segments its comparison spooled.
pub(crate) struct CleanDay {
    pub(crate) partition: Partition,
    /// The whole day, or one key range of a split check.
    pub(crate) part: SealPart,
    /// The day's digest and row count (either side's: the day is clean).
    pub(crate) digest: (String, u64),
    /// The segments the comparison cut, spooled to a temp file.
    pub(crate) spool: SealSpool,
}

impl CleanDay {
    /// The whole day a clean check result read, with the segments its comparison spooled;
    /// `None` when the result has no digest or row count (it did not read the day).
    pub(crate) fn of(record: &CheckRecord, spool: SealSpool) -> Option<CleanDay> {
        Some(CleanDay {
            partition: record.partition,
            part: SealPart::Day,
            digest: (record.left.digest.clone()?, record.left.rows?),
            spool,
        })
    }
}

/// Seals a clean day (or key range of it). Returns whether this call sealed it (a day sealed
/// once keeps its first seal).
pub(crate) async fn seal_clean_day(
    store: &Store,
    run_id: RunId,
    check: &IntegritySpec,
    day: CleanDay,
) -> Result<bool> {
    let CleanDay {
        partition,
        part,
        digest: (digest, rows),
        mut spool,
    } = day;
    let segments = spool.len();
    let drained = spool.drain()?;
    let sealed = store
        .seal(
            run_id,
            &check.name,
            &partition.to_string(),
            part,
            &digest,
            rows,
            drained,
        )
        .await?;
    if sealed {
        info!(rows, segments, "day sealed");
    }
    Ok(sealed)
}

/// Prunes `check`'s seals older than `retention_days` before `day`.
pub(crate) async fn prune(
    store: &Store,
    run_id: RunId,
    check: &IntegritySpec,
    day: BusinessDay,
    retention_days: u32,
) -> Result<()> {
    let kept_from = day.date - chrono::Duration::days(i64::from(retention_days));
    let pruned = store
        .prune_seals(run_id, &check.name, &kept_from.to_string())
        .await?;
    if !pruned.is_empty() {
        info!(days = pruned.len(), before = %kept_from, "seals past their retention pruned");
    }
    Ok(())
}
