//! Bisection: segment digests computed inside both databases and compared; a segment that
//! differs is split by key until it is small, then narrowed to key + row hash, and full rows
//! travel only for the keys whose hashes differ.
//!
//! A table with JSON columns has its documents read by recon whatever it does (SQL cannot put
//! them in canonical form; see [`crate::source::pushdown`]): each first-level segment is
//! narrowed to key + row hash at once, with no digests and no splitting.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::atomic::Ordering as AtomicOrdering;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::judge::judge_keys;
use super::merge::{Difference, Found, SideStats};
use super::plan::{Plan, TablePair};
use crate::canonical::{RowHash, Value, key_cmp};
use crate::error::{Error, Result};
use crate::progress::RowsRead;
use crate::source::pushdown::{self, KeyRange, Snapshot};
use crate::source::{ReadSpec, Source};

/// How finely a table is first cut, and when a differing segment stops being split.
#[derive(Debug, Clone, Copy)]
pub struct Segmenting {
    /// Rows per first-level segment, at most.
    pub segment_rows: u64,
    /// A differing segment of at most this many rows is narrowed to key + row hash.
    pub leaf_rows: u64,
    /// How many parts a larger differing segment is split into.
    pub fanout: u64,
    /// How long one segment's digest query may take before the next segments are cut smaller,
    /// so that no statement holds a production database for long.
    pub target: Duration,
}

impl Default for Segmenting {
    fn default() -> Self {
        Segmenting {
            segment_rows: 16_384,
            leaf_rows: 2_048,
            fanout: 8,
            target: Duration::from_secs(2),
        }
    }
}

impl Segmenting {
    /// The next first-level segment's rows, given how long the last one's digests took: half
    /// as many while over the target (down to `leaf_rows`), twice as many while under half of
    /// it (up to `segment_rows`).
    pub(crate) fn next_step(&self, step: u64, took: Duration) -> u64 {
        if took > self.target {
            (step / 2).max(self.leaf_rows.max(1))
        } else if took < self.target / 2 {
            step.saturating_mul(2).min(self.segment_rows.max(1))
        } else {
            step
        }
    }
}

/// Past this depth a segment is narrowed whatever its size (keys that resist splitting).
const MAX_DEPTH: u32 = 32;

/// One side: its source, its read, and the snapshot every query of the bisection runs in.
struct Side<'a> {
    source: &'a Source,
    spec: &'a ReadSpec,
    snapshot: Snapshot,
}

impl Side<'_> {
    async fn digest(&mut self, hashed: usize, range: &KeyRange) -> Result<(u64, String)> {
        self.snapshot
            .digest(self.source, self.spec, hashed, range)
            .await
    }
}

/// Compares the pair by bisection; both sides must support pushed-down digests.
pub(super) async fn bisect(
    pair: &TablePair<'_>,
    plan: &Plan,
    rows_read: &RowsRead,
    segmenting: Segmenting,
) -> Result<Found> {
    let (left, right) = tokio::try_join!(Snapshot::open(pair.left), Snapshot::open(pair.right))?;
    let mut left = Side {
        source: pair.left,
        spec: &plan.left,
        snapshot: left,
    };
    let mut right = Side {
        source: pair.right,
        spec: &plan.right,
        snapshot: right,
    };
    // What streaming refuses, bisection refuses alike, before hashing anything.
    tokio::try_join!(
        left.snapshot.refuse_uncomparable(left.source, left.spec),
        right.snapshot.refuse_uncomparable(right.source, right.spec)
    )?;
    let all = KeyRange::default();
    let (left_rows, right_rows) = tokio::try_join!(
        left.snapshot.count(left.source, left.spec, &all),
        right.snapshot.count(right.source, right.spec, &all)
    )?;
    // Digests leave rows in flight out; the keys they hold on either side are set aside.
    let (young_left, young_right) = tokio::try_join!(
        left.snapshot.in_flight_keys(left.source, left.spec),
        right.snapshot.in_flight_keys(right.source, right.spec)
    )?;
    let in_flight = distinct_keys(young_left, young_right);
    let left_is_bigger = left_rows >= right_rows;
    // First-level segments are cut as they are reached, each of `step` rows of the bigger side;
    // `step` shrinks while a segment's digests take longer than the target, and grows back.
    let mut step = segmenting.segment_rows.max(1);
    let mut next_after: Option<Option<Vec<Value>>> = Some(None);
    let mut pending: VecDeque<(KeyRange, u32)> = VecDeque::new();
    let mut differences = Vec::new();
    let mut segments = 0u64;
    let json = pushdown::reads_json(&plan.left, plan.hashed)
        || pushdown::reads_json(&plan.right, plan.hashed);
    loop {
        if pending.is_empty() {
            let Some(after) = next_after.take() else {
                break;
            };
            let bigger = if left_is_bigger {
                &mut left
            } else {
                &mut right
            };
            let up_to = bigger
                .snapshot
                .nth_key_after(bigger.source, bigger.spec, after.as_deref(), step)
                .await?;
            next_after = up_to.clone().map(Some);
            pending.push_back((KeyRange { after, up_to }, 0));
        }
        let Some((range, depth)) = pending.pop_front() else {
            break;
        };
        segments += 1;
        let started = Instant::now();
        if json {
            // The documents travel for a digest as for row hashes: narrow at once.
            let (found, l_rows, r_rows) = narrow(pair, &mut left, &mut right, plan, &range).await?;
            rows_read.left.fetch_add(l_rows, AtomicOrdering::Relaxed);
            rows_read.right.fetch_add(r_rows, AtomicOrdering::Relaxed);
            step = segmenting.next_step(step, started.elapsed());
            differences.extend(found);
            continue;
        }
        let ((l_rows, l_digest), (r_rows, r_digest)) = tokio::try_join!(
            left.digest(plan.hashed, &range),
            right.digest(plan.hashed, &range)
        )?;
        if depth == 0 {
            rows_read.left.fetch_add(l_rows, AtomicOrdering::Relaxed);
            rows_read.right.fetch_add(r_rows, AtomicOrdering::Relaxed);
            step = segmenting.next_step(step, started.elapsed());
        }
        if l_rows == r_rows && l_digest == r_digest {
            continue;
        }
        let rows = l_rows.max(r_rows);
        if rows > segmenting.leaf_rows && depth < MAX_DEPTH {
            let bigger = if l_rows >= r_rows {
                &mut left
            } else {
                &mut right
            };
            let step = rows.div_ceil(segmenting.fanout.max(2));
            let parts = split(bigger, &range, step).await?;
            // Depth first, in key order: the parts replace their parent at the front.
            for part in parts.into_iter().rev() {
                pending.push_front((part, depth + 1));
            }
            continue;
        }
        differences.extend(narrow(pair, &mut left, &mut right, plan, &range).await?.0);
    }
    debug!(
        segments,
        differences = differences.len(),
        "bisection finished"
    );
    let stats = |rows| SideStats { rows, digest: None };
    Ok(Found {
        left: stats(left_rows),
        right: stats(right_rows),
        differences,
        in_flight,
        segments: None,
    })
}

/// `range` cut into segments of about `step` rows of `side`, in key order, covering all of it.
async fn split(side: &mut Side<'_>, range: &KeyRange, step: u64) -> Result<Vec<KeyRange>> {
    let bounds = side
        .snapshot
        .boundaries(side.source, side.spec, range, step)
        .await?;
    let mut parts = Vec::with_capacity(bounds.len() + 1);
    let mut after = range.after.clone();
    for bound in bounds {
        if range.up_to.as_ref() == Some(&bound) {
            break;
        }
        parts.push(KeyRange {
            after: after.replace(bound.clone()),
            up_to: Some(bound),
        });
    }
    parts.push(KeyRange {
        after,
        up_to: range.up_to.clone(),
    });
    Ok(parts)
}

/// The rows of a small differing segment: keys and row hashes merge-joined; then the full rows
/// of every key that differs are fetched from both sides and judged, naming changed columns and
/// setting aside rows in flight (which the digests left out, on one side or both). Returns the
/// differences and how many rows each side holds in `range`.
async fn narrow(
    pair: &TablePair<'_>,
    left: &mut Side<'_>,
    right: &mut Side<'_>,
    plan: &Plan,
    range: &KeyRange,
) -> Result<(Vec<Difference>, u64, u64)> {
    let (l, r) = tokio::try_join!(
        left.snapshot
            .key_hashes(left.source, left.spec, plan.hashed, range),
        right
            .snapshot
            .key_hashes(right.source, right.spec, plan.hashed, range)
    )?;
    check_order(left, &l)?;
    check_order(right, &r)?;
    let rows = (l.len() as u64, r.len() as u64);
    let mut keys = Vec::new();
    let (mut l, mut r) = (l.into_iter().peekable(), r.into_iter().peekable());
    loop {
        let order = match (l.peek(), r.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((a, _)), Some((b, _))) => key_cmp(a, b),
        };
        match order {
            Ordering::Less => keys.extend(l.next().map(|(key, _)| key)),
            Ordering::Greater => keys.extend(r.next().map(|(key, _)| key)),
            Ordering::Equal => {
                if let (Some((key, a)), Some((_, b))) = (l.next(), r.next())
                    && a != b
                {
                    keys.push(key);
                }
            }
        }
    }
    let (differences, in_flight) =
        judge_keys(pair, plan, (&mut left.snapshot, &mut right.snapshot), &keys).await?;
    let pushed_down_only = keys.len() as u64 - differences.len() as u64 - in_flight;
    if pushed_down_only > 0 {
        warn!(
            keys = pushed_down_only,
            "pushed-down row hashes differ where recon's canonical encoding agrees; not reported"
        );
    }
    Ok((differences, rows.0, rows.1))
}

/// How many distinct keys two key-ordered lists hold.
fn distinct_keys(a: Vec<Vec<Value>>, b: Vec<Vec<Value>>) -> u64 {
    let mut all = a;
    all.extend(b);
    all.sort_by(|x, y| key_cmp(x, y));
    all.dedup();
    all.len() as u64
}

/// Keys must come strictly ascending and never NULL, as in a streamed merge.
fn check_order(side: &Side<'_>, rows: &[(Vec<Value>, RowHash)]) -> Result<()> {
    let label = || format!("{}.{}", side.source.name, side.spec.table);
    for (key, _) in rows {
        if key.iter().any(Value::is_null) {
            return Err(Error::bad_input(format!(
                "{}: a key column is NULL; keys must identify rows",
                label()
            )));
        }
    }
    for pair in rows.windows(2) {
        match key_cmp(&pair[0].0, &pair[1].0) {
            Ordering::Less => {}
            Ordering::Equal => {
                return Err(Error::bad_input(format!(
                    "{}: a key appears more than once; the key columns must be unique",
                    label()
                )));
            }
            Ordering::Greater => {
                return Err(Error::internal(format!(
                    "{}: rows arrived out of key order; the source's collation is not binary",
                    label()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_segments_make_the_next_ones_smaller_and_fast_ones_grow_them_back() {
        let s = Segmenting::default();
        let slow = Duration::from_secs(3);
        let fast = Duration::from_millis(100);
        let steady = Duration::from_millis(1500);
        assert_eq!(s.next_step(16_384, slow), 8_192);
        assert_eq!(s.next_step(4_096, slow), 2_048);
        assert_eq!(s.next_step(2_048, slow), 2_048, "never below a leaf");
        assert_eq!(s.next_step(2_048, fast), 4_096);
        assert_eq!(
            s.next_step(16_384, fast),
            16_384,
            "never above segment_rows"
        );
        assert_eq!(s.next_step(8_192, steady), 8_192);
    }
}
