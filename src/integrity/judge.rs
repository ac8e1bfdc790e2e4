//! What one key's rows on the two sides amount to — agreement, a row still in flight, or a
//! difference named to its columns — decided one way for streamed, bisected and re-checked rows.

use std::cmp::Ordering;
use std::time::Duration;

use tracing::info;

use super::merge::{Difference, DifferenceKind, changed_columns, row_columns};
use super::plan::{Plan, TablePair};
use crate::canonical::{RowHash, Value, key_cmp, row_hash};
use crate::error::Result;
use crate::source::pushdown::Snapshot;
use crate::source::{Column, Engine, InFlight};

/// What a key's rows amount to.
pub(super) enum Verdict {
    Agree,
    /// A row on either side is younger than the settle time: left for a later run.
    InFlight,
    Differs(Difference),
}

/// A row as read: its values (key first) and its row hash.
pub(super) type Seen<'r> = Option<(&'r [Value], &'r RowHash)>;

/// Judges rows of one plan.
pub(super) struct Judge<'p> {
    pub(crate) columns: &'p [Column],
    pub(crate) key_len: usize,
    pub(crate) hashed: usize,
    pub(crate) in_flight: Option<InFlight>,
}

impl<'p> Judge<'p> {
    pub(crate) fn new(plan: &'p Plan) -> Judge<'p> {
        Judge {
            columns: &plan.left.columns,
            key_len: plan.left.key_len,
            hashed: plan.hashed,
            in_flight: plan.left.in_flight,
        }
    }

    /// The verdict on one key, given its row on each side (`None`: not there).
    pub(crate) fn judge(&self, left: Seen<'_>, right: Seen<'_>) -> Verdict {
        let young = |seen: Seen<'_>| {
            seen.zip(self.in_flight)
                .is_some_and(|((values, _), f)| f.holds(values))
        };
        if young(left) || young(right) {
            return Verdict::InFlight;
        }
        let key = |values: &[Value]| values[..self.key_len].to_vec();
        match (left, right) {
            (None, None) => Verdict::Agree,
            (Some((l, _)), None) => Verdict::Differs(Difference {
                kind: DifferenceKind::MissingInRight,
                key: key(l),
                changed: Vec::new(),
                row: row_columns(self.columns, self.key_len, self.hashed, Some(l), None),
            }),
            (None, Some((r, _))) => Verdict::Differs(Difference {
                kind: DifferenceKind::MissingInLeft,
                key: key(r),
                changed: Vec::new(),
                row: row_columns(self.columns, self.key_len, self.hashed, None, Some(r)),
            }),
            (Some((_, a)), Some((_, b))) if a == b => Verdict::Agree,
            (Some((l, _)), Some((r, _))) => Verdict::Differs(Difference {
                kind: DifferenceKind::Changed,
                key: key(l),
                changed: changed_columns(self.columns, self.key_len, self.hashed, l, r),
                row: row_columns(self.columns, self.key_len, self.hashed, Some(l), Some(r)),
            }),
        }
    }

    /// Judges the full rows fetched for some keys, each list in key order: the differences,
    /// and how many keys were in flight.
    pub(crate) fn judge_rows(
        &self,
        left: &[Vec<Value>],
        right: &[Vec<Value>],
    ) -> (Vec<Difference>, u64) {
        let hashed = |rows: &[Vec<Value>]| -> Vec<RowHash> {
            rows.iter().map(|r| row_hash(&r[..self.hashed])).collect()
        };
        let (left_hashes, right_hashes) = (hashed(left), hashed(right));
        let (mut i, mut j) = (0, 0);
        let mut differences = Vec::new();
        let mut in_flight = 0;
        while i < left.len() || j < right.len() {
            let l = left.get(i).map(|v| (v.as_slice(), &left_hashes[i]));
            let r = right.get(j).map(|v| (v.as_slice(), &right_hashes[j]));
            let (l, r) = match (l, r) {
                (Some(a), Some(b)) => match key_cmp(&a.0[..self.key_len], &b.0[..self.key_len]) {
                    Ordering::Less => (Some(a), None),
                    Ordering::Greater => (None, Some(b)),
                    Ordering::Equal => (Some(a), Some(b)),
                },
                other => other,
            };
            i += usize::from(l.is_some());
            j += usize::from(r.is_some());
            match self.judge(l, r) {
                Verdict::Agree => {}
                Verdict::InFlight => in_flight += 1,
                Verdict::Differs(d) => differences.push(d),
            }
        }
        (differences, in_flight)
    }
}

/// Keys per query fetching full rows.
pub(super) const KEYS_PER_FETCH: usize = 500;

/// Fetches the full rows of `keys` on both sides, each side in its snapshot, and judges them.
pub(super) async fn judge_keys(
    pair: &TablePair<'_>,
    plan: &Plan,
    snapshots: (&mut Snapshot, &mut Snapshot),
    keys: &[Vec<Value>],
) -> Result<(Vec<Difference>, u64)> {
    let judge = Judge::new(plan);
    let (left, right) = snapshots;
    let mut differences = Vec::new();
    let mut in_flight = 0;
    for chunk in keys.chunks(KEYS_PER_FETCH) {
        let (l, r) = tokio::try_join!(
            left.rows(pair.left, &plan.left, chunk),
            right.rows(pair.right, &plan.right, chunk)
        )?;
        let (found, young) = judge.judge_rows(&l, &r);
        differences.extend(found);
        in_flight += young;
    }
    Ok((differences, in_flight))
}

/// Reads the rows that differ once more, after `delay`, in fresh snapshots, and keeps only the
/// differences that are still there (lag that caught up is no discrepancy). Only PostgreSQL and
/// MySQL/MariaDB sides are re-read: a SQLite file has no replica to catch up.
pub(super) async fn recheck(
    pair: &TablePair<'_>,
    plan: &Plan,
    differences: Vec<Difference>,
    delay: Duration,
) -> Result<(Vec<Difference>, u64)> {
    let servers = [pair.left, pair.right]
        .iter()
        .all(|s| s.engine != Engine::Sqlite);
    if differences.is_empty() || !servers {
        return Ok((differences, 0));
    }
    tokio::time::sleep(delay).await;
    let (mut left, mut right) =
        tokio::try_join!(Snapshot::open(pair.left), Snapshot::open(pair.right))?;
    let keys: Vec<Vec<Value>> = differences.iter().map(|d| d.key.clone()).collect();
    let before = keys.len();
    let (mut still, in_flight) = judge_keys(pair, plan, (&mut left, &mut right), &keys).await?;
    still.sort_by(|a, b| key_cmp(&a.key, &b.key));
    info!(
        before,
        still = still.len(),
        in_flight,
        "differences re-checked"
    );
    Ok((still, in_flight))
}
