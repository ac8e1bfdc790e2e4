//! One integrity check for one business day, shaped like the settlement check: its spec and
//! plain inputs in, one [`CheckOutcome`] out. Never fails: a failure is the check's result.

use std::time::Instant;

use chrono::{DateTime, Utc};
use tracing::info;

use super::spec::IntegritySpec;
use super::{CompareOptions, Comparison, SealSpool, SegmentOutcome, SegmentWork, Segmenting};
use super::{TablePair, compare_with_segments};
use crate::check::{CheckKind, CheckOutcome, CheckRecord, TableSide};
use crate::day::{BusinessDay, Partition};
use crate::error::Result;
use crate::mask::MaskKey;
use crate::progress::Progress;
use crate::retry::with_retries;
use crate::source::Source;
use crate::source::pool::SourcePool;
use crate::source::pushdown::KeyRange;

/// What an integrity check needs from the run besides its spec.
#[derive(Clone, Copy)]
pub(crate) struct IntegrityInputs<'a> {
    /// The run's sources, opened on first use.
    pub(crate) sources: &'a SourcePool<'a>,
    /// The job's mask key: the identity of a key that masking hid is a digest under it.
    pub(crate) mask: Option<&'a MaskKey>,
    /// The writable folder a clean day's seal spool is created in (`Config::temp_dir`).
    pub(crate) temp_dir: &'a std::path::Path,
}

/// What an integrity check hands back: its outcome, and, when the day came out clean and the
/// check seals, the segments to seal it with.
pub(crate) struct IntegrityOutcome {
    pub(crate) outcome: CheckOutcome,
    pub(crate) seal: Option<SealSpool>,
}

/// Runs `check` for `day` (its rows in `key_range` only, when given): both sides compared,
/// the rows cut into a seal's segments when the check seals.
pub(crate) async fn run(
    check: &IntegritySpec,
    inputs: IntegrityInputs<'_>,
    day: BusinessDay,
    key_range: Option<&KeyRange>,
) -> IntegrityOutcome {
    let partition = partition(check, day);
    let started = Instant::now();
    let shown = |key: &[crate::canonical::Value]| super::shown_key_json(check, key);
    let work = check
        .seal
        .then_some(SegmentWork::Seal(&shown, inputs.temp_dir));
    let (compared, attempts) = Box::pin(compare(check, inputs, day, work, key_range)).await;
    let mut record = record(
        check,
        partition,
        attempts,
        started.elapsed().as_millis() as u64,
    );
    let mut seal = None;
    let found = compared.map(|mut comparison| {
        let found = comparison.discrepancies(
            &check.name,
            partition,
            &check.sensitive_columns,
            inputs.mask,
        );
        record.left.rows = Some(comparison.left.rows);
        record.left.digest = comparison.left.digest.clone();
        record.right.rows = Some(comparison.right.rows);
        record.right.digest = comparison.right.digest.clone();
        record.not_compared = comparison.not_compared.clone();
        info!(
            left_rows = comparison.left.rows,
            right_rows = comparison.right.rows,
            discrepancies = found.len(),
            in_flight = comparison.in_flight,
            duration_ms = record.duration_ms,
            "check compared"
        );
        if let Some(SegmentOutcome::Sealed(spool)) = comparison.segments.take()
            && found.is_empty()
            && comparison.in_flight == 0
        {
            seal = Some(spool);
        }
        found
    });
    IntegrityOutcome {
        outcome: CheckOutcome::of(record, found, Vec::new()),
        seal,
    }
}

/// One check's sync for `day`: both sides read and compared (with the segment `work`, when
/// given), retried by the tighter of its two sources' policies. Returns the comparison (or the
/// last error) and the attempts made.
pub(crate) async fn compare(
    check: &IntegritySpec,
    inputs: IntegrityInputs<'_>,
    day: BusinessDay,
    work: Option<SegmentWork<'_>>,
    key_range: Option<&KeyRange>,
) -> (Result<Comparison>, u32) {
    let sources = inputs.sources;
    let policy = sources.policy(&[&check.left.source, &check.right.source]);
    let progress = Progress::start(&check.name);
    // One cutoff for every attempt: a retry must not let younger rows in.
    let settled_before = check
        .settle
        .as_ref()
        .map(|s| Utc::now() - chrono::Duration::from_std(s.after).unwrap_or(chrono::Duration::MAX));
    let result = with_retries(policy, &check.name, || async {
        let (left, right) = tokio::try_join!(
            sources.get(&check.left.source),
            sources.get(&check.right.source)
        )?;
        let pair = table_pair(check, (&left, &right), Some(day), settled_before, key_range);
        let options = CompareOptions {
            rows_read: Some(progress.rows()),
            strategy: check.strategy,
            segmenting: Segmenting::default(),
            recheck_after: check.settle.as_ref().map(|s| s.recheck_after),
        };
        compare_with_segments(&pair, options, work).await
    })
    .await;
    progress.finish().await;
    result
}

/// The one way a check's two tables are paired: the spec's tables, key, columns and filter on
/// the given sources, bounded to `day` when the check has a date column, rows at or after
/// `settled_before` left in flight, and only the keys of `key_range` when given.
pub(crate) fn table_pair<'a>(
    check: &'a IntegritySpec,
    (left, right): (&'a Source, &'a Source),
    day: Option<BusinessDay>,
    settled_before: Option<DateTime<Utc>>,
    key_range: Option<&'a KeyRange>,
) -> TablePair<'a> {
    TablePair {
        left,
        left_table: &check.left.table,
        right,
        right_table: &check.right.table,
        key: &check.key,
        columns: check.columns.as_deref(),
        day: check.date_column.as_deref().zip(day),
        filter: check.filter.as_ref(),
        settle: check
            .settle
            .as_ref()
            .map(|s| s.column.as_str())
            .zip(settled_before),
        key_range,
        uuid_columns: &check.uuid_columns,
        accept_uncompared: &check.accept_uncompared,
    }
}

/// An integrity check's result before it is known: failed, its sides named, rows not read.
pub(crate) fn record(
    check: &IntegritySpec,
    partition: Partition,
    attempts: u32,
    duration_ms: u64,
) -> CheckRecord {
    let mut record = CheckRecord::pending(
        &check.name,
        CheckKind::Integrity,
        partition,
        TableSide::table(&check.left.source, &check.left.table),
        TableSide::table(&check.right.source, &check.right.table),
    );
    record.attempts = attempts;
    record.duration_ms = duration_ms;
    record
}

/// An integrity check that could not run for `day`: failed with `e`.
pub(crate) fn failed(
    check: &IntegritySpec,
    day: BusinessDay,
    e: crate::error::Error,
) -> CheckOutcome {
    let record = record(check, partition(check, day), 0, 0);
    CheckOutcome::of(record, Err(e), Vec::new())
}

/// An integrity check's partition for `day`: the day, or the whole table without a date column.
pub(crate) fn partition(check: &IntegritySpec, day: BusinessDay) -> Partition {
    match check.date_column {
        Some(_) => Partition::Day(day.date),
        None => Partition::WholeTable,
    }
}
