//! One shard's part of a check split by key (`split_by_key = true` under `--shard I/N`): join
//! (or plan) the date's split into N key ranges, compare range I, store it, and record the whole
//! check once every range is in — or say that it is not yet.
//!
//! The shard whose stored range completes the split records the whole check (the ranges'
//! findings together, moving the discrepancies along their life once, as one unsharded run
//! would); it is the only one that knows the last range is in without waiting. A shard that
//! finishes before records the check as incomplete (exit 3), or, given `--wait-for-ranges`,
//! waits for the others and then adopts the recorded result, as does a resumed or retried run
//! of it later.
//!
//! A check that seals does so range by range: each clean range seals its own part of the day,
//! and the shard recording the whole check seals the day when every range is clean (see
//! [`crate::store::Store::seal_split_day`]). Each shard re-verifies its part of the earlier
//! sealed days with its range and stores what it found beside the range's findings; the
//! recording shard records them together (see [`crate::seal::record_shard_verifications`]).

use std::time::{Duration, Instant};

use tracing::{Instrument, info};

use crate::canonical::{SegmentDigest, Value};
use crate::check::{CheckOutcome, CheckRecord, CheckStatus, too_many};
use crate::config::Config;
use crate::day::{BusinessDay, Partition};
use crate::discrepancy::{Discrepancy, Kind};
use crate::error::{Error, Result};
use crate::exit::Exit;
use crate::integrity::check::{self, IntegrityInputs};
use crate::integrity::ranges::{self, KeySplit};
use crate::integrity::spec::IntegritySpec;
use crate::integrity::{SegmentOutcome, SegmentWork, shown_key_json};
use crate::retry::with_retries;
use crate::run_id::RunId;
use crate::seal::{self, CleanDay, SealWindow};
use crate::shard::Shard;
use crate::source::pushdown::KeyRange;
use crate::store::{RangeResult, SealPart, Split, Store};

/// How often a waiting shard looks whether the other ranges are in.
const POLL: Duration = Duration::from_secs(2);

/// Whether the configured check named `name` is split by key.
pub(super) fn is_split(config: &Config, name: &str) -> bool {
    config
        .integrity
        .iter()
        .any(|c| c.name == name && c.split_by_key)
}

/// One shard's part of one split check in one run.
pub(super) struct Part<'a> {
    pub(super) config: &'a Config,
    pub(super) store: &'a Store,
    pub(super) inputs: IntegrityInputs<'a>,
    pub(super) run_id: RunId,
    pub(super) check: &'a IntegritySpec,
    pub(super) day: BusinessDay,
    pub(super) shard: Shard,
    pub(super) span: &'a tracing::Span,
}

impl Part<'_> {
    /// Compares this shard's range (unless this run stored it already) and records the check:
    /// whole when every range is in, else incomplete, after waiting up to `wait` for the rest.
    /// Only the store's own failures end the run; a check that fails is recorded as failed.
    pub(super) async fn run(&self, wait: Duration) -> Result<()> {
        let mut split = match self
            .store
            .split_of_run(self.run_id, &self.check.name)
            .await?
        {
            Some((split, _)) => split,
            None => match self.compare_range().await? {
                Ok(split) => split,
                Err((e, attempts)) => return self.record_failed(&e, attempts).await,
            },
        };
        let deadline = Instant::now() + wait;
        loop {
            match split.combined_run_id {
                Some(by) if by == self.run_id => return self.record_whole(&split).await,
                // Its run may still be recording the check: adopted once it has.
                Some(by) if self.adopt(by).await? => return Ok(()),
                _ => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return match split.combined_run_id {
                    Some(by) => self.record_unrecorded(by).await,
                    None => self.record_incomplete(&split).await,
                };
            }
            tokio::time::sleep((deadline - now).min(POLL)).await;
            split = self.store.split(split.id).await?;
        }
    }

    fn partition(&self) -> Partition {
        check::partition(self.check, self.day)
    }

    /// The sealed days this shard re-verifies its part of.
    fn seal_window(&self) -> SealWindow {
        SealWindow {
            day: self.day,
            lookback_days: self.config.seal_lookback_days,
            timezone: self.config.timezone,
        }
    }

    /// Joins the open split of the date (planning it first when no shard has) and compares
    /// and stores this shard's range. The outer error is the store's; the inner one the check's,
    /// with the attempts its sync took.
    async fn compare_range(&self) -> Result<std::result::Result<Split, (Error, u32)>> {
        let (check, store, shard) = (self.check, self.store, self.shard);
        let partition = self.partition();
        let split = match self.join().await? {
            Ok(split) => split,
            Err(failed) => return Ok(Err(failed)),
        };
        let key_split = match KeySplit::from_json(&split.boundaries, &check.key) {
            Ok(key_split) => key_split,
            Err(e) => return Ok(Err((e, 1))),
        };
        let started = Instant::now();
        let mut result = RangeResult {
            index: shard.index,
            run_id: self.run_id,
            left_rows: 0,
            right_rows: 0,
            in_flight: 0,
            attempts: 0,
            duration_ms: 0,
            found: Vec::new(),
            sealed_days: Vec::new(),
            not_compared: Vec::new(),
        };
        // A range seals its own part of the day, cut from its first row, unless the day is
        // sealed already (seals never move).
        let sealing = check.seal && !store.is_sealed(&check.name, &partition.to_string()).await?;
        let part = SealPart::Range {
            split_id: split.id,
            index: shard.index,
        };
        // A range past the distinct keys the split was cut from is empty: nothing to read.
        if let Some(range) = key_split.range(shard.index) {
            if let Err(failed) = self
                .compare_part(&range, part, sealing, &mut result)
                .await?
            {
                return Ok(Err(failed));
            }
        } else if sealing {
            let (empty, _) = SegmentDigest::new().finish();
            let none = std::iter::empty();
            let partition = partition.to_string();
            store
                .seal(self.run_id, &check.name, &partition, part, &empty, 0, none)
                .await?;
        }
        if check.seal {
            result.sealed_days = seal::verify_shard_of_sealed_days(
                store,
                check,
                self.seal_window(),
                shard,
                self.inputs,
            )
            .await?;
        }
        result.duration_ms = started.elapsed().as_millis() as u64;
        match store.record_range(split.id, &check.name, &result).await {
            Ok(split) => {
                self.span.in_scope(|| {
                    info!(
                        range = %shard,
                        left_rows = result.left_rows,
                        right_rows = result.right_rows,
                        discrepancies = result.found.len(),
                        ranges_in = split.ranges_in.len(),
                        "key range compared and stored"
                    )
                });
                Ok(Ok(split))
            }
            Err(e) if e.is_transient() => Ok(Err((e, result.attempts))),
            Err(e) => Err(e),
        }
    }

    /// Compares this shard's key range into `result`, sealing the range's part of the day when
    /// it came out clean and `sealing`. The outer error is the store's; the inner one the
    /// check's, with the attempts its sync took.
    async fn compare_part(
        &self,
        range: &KeyRange,
        part: SealPart,
        sealing: bool,
        result: &mut RangeResult,
    ) -> Result<std::result::Result<(), (Error, u32)>> {
        let (check, partition) = (self.check, self.partition());
        let shown = |key: &[Value]| shown_key_json(check, key);
        let work = sealing.then_some(SegmentWork::Seal(&shown, self.inputs.temp_dir));
        let compare = check::compare(check, self.inputs, self.day, work, Some(range));
        let (compared, attempts) = Box::pin(compare).await;
        let mut comparison = match compared {
            Ok(comparison) => comparison,
            Err(e) => return Ok(Err((e, attempts))),
        };
        let mut found = comparison.discrepancies(
            &check.name,
            partition,
            &check.sensitive_columns,
            self.inputs.mask,
        );
        // Every range sees the tables' shape; range 0 alone reports it.
        if self.shard.index != 0 {
            found.retain(|d| d.kind != Kind::SchemaMismatch);
        }
        if let Some(e) = too_many(&found, self.config.max_discrepancies) {
            return Ok(Err((e, attempts)));
        }
        result.left_rows = comparison.left.rows;
        result.right_rows = comparison.right.rows;
        result.in_flight = comparison.in_flight;
        result.attempts = attempts;
        result.not_compared = comparison.not_compared.clone();
        if let (Some(SegmentOutcome::Sealed(spool)), Some(digest)) =
            (comparison.segments.take(), &comparison.left.digest)
            && found.is_empty()
            && comparison.in_flight == 0
        {
            let day = CleanDay {
                partition,
                part,
                digest: (digest.clone(), comparison.left.rows),
                spool,
            };
            seal::seal_clean_day(self.store, self.run_id, check, day).await?;
        }
        result.found = found;
        Ok(Ok(()))
    }

    /// The open split of the date, planned first when no shard has. The outer error is the
    /// store's; the inner one the check's, with the attempts planning took.
    async fn join(&self) -> Result<std::result::Result<Split, (Error, u32)>> {
        let (check, store, shard) = (self.check, self.store, self.shard);
        if let Some(split) = store
            .open_split(&check.name, self.day.date, shard.count)
            .await?
        {
            return Ok(Ok(split));
        }
        let (planned, attempts) = self.plan().await;
        let boundaries = match planned.and_then(|cut| cut.to_json(&check.key)) {
            Ok(text) => text,
            Err(e) => return Ok(Err((e, attempts))),
        };
        let planned = store
            .plan_split(
                self.run_id,
                &check.name,
                self.day.date,
                &self.partition().to_string(),
                shard.count,
                &boundaries,
            )
            .await;
        match planned {
            Ok(split) => {
                self.span.in_scope(|| {
                    info!(split = split.id, ranges = shard.count, "key ranges planned")
                });
                Ok(Ok(split))
            }
            // the split completed while this shard joined it: rerunning the shard helps
            Err(e) if e.is_transient() => Ok(Err((e, attempts))),
            Err(e) => Err(e),
        }
    }

    /// The boundaries of the split, from both sides' key quantiles, retried like a sync; with
    /// the attempts that took.
    async fn plan(&self) -> (Result<KeySplit>, u32) {
        let (check, sources, count) = (self.check, self.inputs.sources, self.shard.count);
        let policy = sources.policy(&[&check.left.source, &check.right.source]);
        with_retries(policy, &check.name, || async {
            let (left, right) = tokio::try_join!(
                sources.get(&check.left.source),
                sources.get(&check.right.source)
            )?;
            let pair = check::table_pair(check, (&left, &right), Some(self.day), None, None);
            ranges::plan_split(&pair, count).await
        })
        .await
    }

    /// Every range is in and this run stored the last: the ranges' findings together are the
    /// check's, recorded once.
    async fn record_whole(&self, split: &Split) -> Result<()> {
        let ranges = self.store.range_results(split.id).await?;
        let mut record = check::record(
            self.check,
            self.partition(),
            ranges.iter().map(|r| r.attempts).sum(),
            ranges.iter().map(|r| r.duration_ms).max().unwrap_or(0),
        );
        record.left.rows = Some(ranges.iter().map(|r| r.left_rows).sum());
        record.right.rows = Some(ranges.iter().map(|r| r.right_rows).sum());
        // Every range sees the same shared columns; each named once.
        for column in ranges.iter().flat_map(|r| &r.not_compared) {
            if !record
                .not_compared
                .iter()
                .any(|c| c.column == column.column)
            {
                record.not_compared.push(column.clone());
            }
        }
        let found: Vec<Discrepancy> = ranges
            .iter()
            .flat_map(|r| r.found.iter().cloned())
            .collect();
        self.span.in_scope(|| {
            info!(
                ranges = ranges.len(),
                left_rows = record.left.rows,
                right_rows = record.right.rows,
                discrepancies = found.len(),
                "every key range is in: the check is complete"
            )
        });
        let clean = found.is_empty() && ranges.iter().all(|r| r.in_flight == 0);
        let outcome = CheckOutcome::of(record, Ok(found), Vec::new());
        self.store
            .record_outcome(self.run_id, &outcome.capped(self.config.max_discrepancies))
            .instrument(self.span.clone())
            .await?;
        if !self.check.seal {
            return Ok(());
        }
        // The day is sealed only when every range came out clean and sealed its part.
        let partition = self.partition().to_string();
        let sealed = self
            .store
            .seal_split_day(
                self.run_id,
                &self.check.name,
                &partition,
                split.id,
                split.range_count,
                clean,
            )
            .await?;
        if sealed {
            self.span
                .in_scope(|| info!(ranges = split.range_count, "day sealed, range by range"));
        }
        let verified: Vec<_> = ranges
            .iter()
            .flat_map(|r| r.sealed_days.iter().cloned())
            .collect();
        seal::record_shard_verifications(
            self.store,
            self.run_id,
            self.check,
            self.seal_window(),
            &verified,
        )
        .instrument(self.span.clone())
        .await
    }

    /// Whether run `by`, which stored the last range, has recorded the whole check: then this
    /// run shows that result too.
    async fn adopt(&self, by: RunId) -> Result<bool> {
        let adopted = self
            .store
            .adopt_check_result(self.run_id, by, &self.check.name)
            .await?;
        if adopted {
            self.span.in_scope(|| {
                info!(
                    recorded_by_run = by.0,
                    "every key range is in: the check is complete"
                )
            });
        }
        Ok(adopted)
    }

    /// Every range is in, but run `by`, which stored the last, has not recorded the check: it
    /// is still at it, or stopped before it could (exit 3).
    async fn record_unrecorded(&self, by: RunId) -> Result<()> {
        let why = format!(
            "every key range is stored, but run {by}, which stored the last, has not recorded the \
             check yet: `recon retry --shard {}` shows it once it has; if that run stopped, start \
             every shard of the date again",
            self.shard
        );
        self.record_pending(why).await
    }

    /// This range is in, others are not: the check is incomplete (exit 3), nothing recorded
    /// for its discrepancies yet.
    async fn record_incomplete(&self, split: &Split) -> Result<()> {
        let missing: Vec<String> = split.missing().iter().map(u32::to_string).collect();
        let message = format!(
            "incomplete: key range {} of {} is stored, ranges {} of the other shards are not yet; \
             the shard that stores the last range records the check, and `recon retry --shard {}` \
             (or `recon run --resume`) then shows it complete",
            self.shard.index,
            self.shard.count,
            missing.join(", "),
            self.shard
        );
        self.span.in_scope(|| info!(missing = %missing.join(","), "key range stored; the check waits for the other shards"));
        self.record_pending(message).await
    }

    /// The check as this run leaves it while it waits on other shards: failed, exit 3, with
    /// `message` saying what it waits for and how to complete it.
    async fn record_pending(&self, message: String) -> Result<()> {
        let mut record = check::record(self.check, self.partition(), 0, 0);
        record.exit = Exit::Incomplete;
        record.error = Some(message);
        self.store_record(&record).await
    }

    /// The check failed in this shard (its range not stored): recorded as failed, with `e`.
    async fn record_failed(&self, e: &Error, attempts: u32) -> Result<()> {
        let mut record = check::record(self.check, self.partition(), attempts, 0);
        self.span.in_scope(|| record.fail(e));
        self.store_record(&record).await
    }

    async fn store_record(&self, record: &CheckRecord) -> Result<()> {
        debug_assert_eq!(record.status, CheckStatus::Failed);
        let outcome = CheckOutcome {
            record: record.clone(),
            found: Vec::new(),
            reexamined: Vec::new(),
        };
        self.store
            .record_outcome(self.run_id, &outcome.capped(self.config.max_discrepancies))
            .instrument(self.span.clone())
            .await
    }
}
