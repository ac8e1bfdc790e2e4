//! The merge-join: two key-ordered row streams walked side by side, rows compared by hash.

use std::cmp::Ordering;
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use tokio::sync::mpsc;

use super::judge::{Judge, Seen, Verdict};
use super::plan::{Plan, TablePair};
use super::segments::{SealTap, SegmentOutcome, SegmentWork, Tap, VerifyTap};
use crate::canonical::{LogicalType, RowHash, RowHasher, SegmentDigest, Value, key_cmp};
use crate::error::{Error, Result};
use crate::progress::RowsRead;
use crate::source::RowBatch;
use crate::source::filter::RowFilter;
use crate::source::pushdown::KeyRange;

/// How one row differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// The key is on the right side only.
    MissingInLeft,
    /// The key is on the left side only.
    MissingInRight,
    /// Both sides have the key; some compared columns differ.
    Changed,
}

impl DifferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceKind::MissingInLeft => "missing_in_left",
            DifferenceKind::MissingInRight => "missing_in_right",
            DifferenceKind::Changed => "changed",
        }
    }
}

/// One column that differs, with both sides' values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedColumn {
    pub column: String,
    pub(crate) left: Value,
    pub(crate) right: Value,
}

/// One row that differs between the sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub kind: DifferenceKind,
    /// The key values, in key column order.
    pub key: Vec<Value>,
    /// For `Changed`: the columns that differ.
    pub changed: Vec<ChangedColumn>,
    /// Every compared column on both sides (NULL on the side a missing row is absent from),
    /// for reports: a missing row's values, a changed row's currency.
    pub row: Vec<ChangedColumn>,
}

/// What one side held in the compared partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideStats {
    pub rows: u64,
    /// The partition digest: SHA-256 over the row hashes in key order. `None` after a
    /// bisection, which only digests segments and never sees every row hash.
    pub digest: Option<String>,
}

/// What a comparison found, whichever way it went.
pub(super) struct Found {
    pub(crate) left: SideStats,
    pub(crate) right: SideStats,
    pub(crate) differences: Vec<Difference>,
    /// Keys left for a later run: a row on either side was still in flight.
    pub(crate) in_flight: u64,
    /// What the segment work asked for produced (a seal's spool, a sealed day's check).
    pub(crate) segments: Option<SegmentOutcome>,
}

/// A row read, borrowed from its side's current batch.
struct Row<'b> {
    values: &'b [Value],
    hash: RowHash,
}

fn seen<'r>(row: &'r Option<Row<'_>>) -> Seen<'r> {
    row.as_ref().map(|r| (r.values, &r.hash))
}

/// One side's stream, checked for order and filtered to the business day.
struct Side<'c, 't> {
    rows_read: &'c AtomicU64,
    label: String,
    rx: mpsc::Receiver<Result<RowBatch>>,
    batch: RowBatch,
    /// The next row of `batch` to read.
    at: usize,
    key_len: usize,
    hashed: usize,
    day: Option<(usize, LogicalType, crate::day::BusinessDay)>,
    filter: Option<RowFilter>,
    /// A shard's part of a split check: keys outside it are another shard's.
    key_range: Option<KeyRange>,
    previous_key: Option<Vec<Value>>,
    hasher: RowHasher,
    digest: SegmentDigest,
    tap: Option<Tap<'t>>,
}

impl<'t> Side<'_, 't> {
    async fn next(&mut self) -> Result<Option<Row<'_>>> {
        loop {
            if self.at == self.batch.len() {
                match self.rx.recv().await {
                    None => return Ok(None),
                    Some(batch) => {
                        (self.batch, self.at) = (batch?, 0);
                        continue;
                    }
                }
            }
            let index = self.at;
            self.at += 1;
            // the batch is lent out while the side checks one of its rows
            let batch = std::mem::take(&mut self.batch);
            let admitted = self.admit(batch.row(index));
            self.batch = batch;
            if let Some(hash) = admitted? {
                let values = self.batch.row(index);
                return Ok(Some(Row { values, hash }));
            }
        }
    }

    /// Counts, checks and hashes one row read; `None` when its business day, the filter or the
    /// shard's key range leaves it out.
    fn admit(&mut self, values: &[Value]) -> Result<Option<RowHash>> {
        self.rows_read.fetch_add(1, AtomicOrdering::Relaxed);
        self.check_order(values)?;
        if !self.in_day(values)?
            || !self.in_filter(values)
            || !self.in_key_range(&values[..self.key_len])
        {
            return Ok(None);
        }
        let hash = self.hasher.hash(&values[..self.hashed]);
        self.digest.push(&hash);
        if let Some(tap) = &mut self.tap {
            tap.push(&values[..self.key_len], &hash)?;
        }
        Ok(Some(hash))
    }

    /// The merge is only right if both sides come in the same strict key order.
    fn check_order(&mut self, values: &[Value]) -> Result<()> {
        let key = &values[..self.key_len];
        if key.iter().any(Value::is_null) {
            return Err(Error::bad_input(format!(
                "{}: a key column is NULL (key {}); keys must identify rows",
                self.label,
                key_text(key)
            )));
        }
        if let Some(previous) = &self.previous_key {
            match key_cmp(previous, key) {
                Ordering::Less => {}
                Ordering::Equal => {
                    return Err(Error::bad_input(format!(
                        "{}: key {} appears more than once; the key columns must be unique",
                        self.label,
                        key_text(key)
                    )));
                }
                Ordering::Greater => {
                    return Err(Error::internal(format!(
                        "{}: rows arrived out of key order ({} after {}); the source's collation is not binary",
                        self.label,
                        key_text(key),
                        key_text(previous)
                    )));
                }
            }
        }
        // reuse the previous key's vector: this runs for every row
        match &mut self.previous_key {
            Some(previous) => previous.clone_from_slice(key),
            None => self.previous_key = Some(key.to_vec()),
        }
        Ok(())
    }

    fn in_day(&self, values: &[Value]) -> Result<bool> {
        let Some((at, logical, day)) = &self.day else {
            return Ok(true);
        };
        match (&values[*at], logical) {
            (Value::Timestamp(t), _) => Ok(*t >= day.start && *t < day.end),
            (Value::Date(d), _) => Ok(*d == day.date),
            (Value::Null, _) => Ok(false),
            (other, logical) => Err(Error::internal(format!(
                "{}: business-day column holds {other:?}, expected a {logical}",
                self.label
            ))),
        }
    }

    /// The `--where` filter, evaluated on canonical values: exact whatever was pushed down.
    fn in_filter(&self, values: &[Value]) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(values))
    }

    /// The shard's key range, checked on canonical keys: exact whatever was pushed down.
    fn in_key_range(&self, key: &[Value]) -> bool {
        self.key_range.as_ref().is_none_or(|r| r.contains(key))
    }

    fn finish(self) -> (SideStats, Option<Tap<'t>>) {
        let (digest, rows) = self.digest.finish();
        let stats = SideStats {
            rows,
            digest: Some(digest),
        };
        (stats, self.tap)
    }
}

/// `5, EUR`: a key's values for messages.
fn key_text(key: &[Value]) -> String {
    key.iter().map(value_text).collect::<Vec<_>>().join(", ")
}

fn value_text(v: &Value) -> String {
    v.canonical_text()
        .map(|t| t.into_owned())
        .unwrap_or_else(|| "NULL".to_string())
}

pub(super) async fn merge_join<'r>(
    pair: &TablePair<'_>,
    plan: &Plan,
    rows_read: &'r RowsRead,
    work: Option<SegmentWork<'_>>,
) -> Result<Found> {
    let (left_tap, right_tap) = match work {
        None => (None, None),
        Some(SegmentWork::Seal(shown, dir)) => (Some(Tap::Seal(SealTap::new(shown, dir)?)), None),
        Some(SegmentWork::Verify(shown, sealed)) => (
            Some(Tap::Verify(VerifyTap::new(shown, sealed))),
            Some(Tap::Verify(VerifyTap::new(shown, sealed))),
        ),
    };
    let side = |label: String,
                spec: &crate::source::ReadSpec,
                source: &crate::source::Source,
                rows_read: &'r AtomicU64,
                tap| Side {
        rows_read,
        label,
        rx: source.stream_rows(spec.clone()),
        batch: RowBatch::default(),
        at: 0,
        key_len: spec.key_len,
        hashed: plan.hashed,
        day: match (plan.day_column, pair.day) {
            (Some((at, logical)), Some((_, day))) => Some((at, logical, day)),
            _ => None,
        },
        filter: spec.filter.clone(),
        key_range: spec.key_range.clone(),
        previous_key: None,
        hasher: RowHasher::default(),
        digest: SegmentDigest::new(),
        tap,
    };
    let mut left = side(
        format!("{}.{}", pair.left.name, pair.left_table),
        &plan.left,
        pair.left,
        &rows_read.left,
        left_tap,
    );
    let mut right = side(
        format!("{}.{}", pair.right.name, pair.right_table),
        &plan.right,
        pair.right,
        &rows_read.right,
        right_tap,
    );
    let key_len = plan.left.key_len;
    let judge = Judge::new(plan);
    let mut differences = Vec::new();
    let mut in_flight = 0;
    let (mut l, mut r) = tokio::try_join!(left.next(), right.next())?;
    loop {
        let order = match (&l, &r) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => key_cmp(&a.values[..key_len], &b.values[..key_len]),
        };
        let verdict = match order {
            Ordering::Less => judge.judge(seen(&l), None),
            Ordering::Greater => judge.judge(None, seen(&r)),
            Ordering::Equal => judge.judge(seen(&l), seen(&r)),
        };
        match verdict {
            Verdict::Agree => {}
            Verdict::InFlight => in_flight += 1,
            Verdict::Differs(d) => differences.push(d),
        }
        match order {
            Ordering::Less => l = left.next().await?,
            Ordering::Greater => r = right.next().await?,
            // one after the other: each side's reader runs ahead in its own task
            Ordering::Equal => {
                l = left.next().await?;
                r = right.next().await?;
            }
        }
    }
    let ((left, left_tap), (right, right_tap)) = (left.finish(), right.finish());
    let segments = match (left_tap, right_tap) {
        (Some(Tap::Seal(tap)), _) => Some(SegmentOutcome::Sealed(tap.finish()?)),
        (Some(Tap::Verify(l)), Some(Tap::Verify(r))) => Some(SegmentOutcome::Verified {
            left: l.finish(),
            right: r.finish(),
        }),
        _ => None,
    };
    Ok(Found {
        left,
        right,
        differences,
        in_flight,
        segments,
    })
}

/// The compared columns (after the key, before `hashed`) whose values differ between two rows.
/// Every compared column of a row on each side; an absent side's values are NULL.
pub(super) fn row_columns(
    names: &[crate::source::Column],
    key_len: usize,
    hashed: usize,
    a: Option<&[Value]>,
    b: Option<&[Value]>,
) -> Vec<ChangedColumn> {
    let value = |side: Option<&[Value]>, i: usize| {
        side.and_then(|row| row.get(i))
            .cloned()
            .unwrap_or(Value::Null)
    };
    (key_len..hashed)
        .filter_map(|i| {
            names.get(i).map(|name| ChangedColumn {
                column: name.name.clone(),
                left: value(a, i),
                right: value(b, i),
            })
        })
        .collect()
}

pub(super) fn changed_columns(
    names: &[crate::source::Column],
    key_len: usize,
    hashed: usize,
    a: &[Value],
    b: &[Value],
) -> Vec<ChangedColumn> {
    names[key_len..hashed]
        .iter()
        .zip(&a[key_len..hashed])
        .zip(&b[key_len..hashed])
        .filter(|((_, l), r)| l.canonical_text() != r.canonical_text())
        .map(|((name, l), r)| ChangedColumn {
            column: name.name.clone(),
            left: l.clone(),
            right: r.clone(),
        })
        .collect()
}
