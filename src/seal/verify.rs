//! Re-verifying sealed days: each is compared again against its seal's segments as it streams,
//! so that a quiet edit of a closed day is caught and every changed row named.

use std::collections::HashMap;

use sha2::{Digest, Sha256};
use tracing::{info, warn};

use super::SealWindow;
use crate::canonical::{SegmentHead, Value};
use crate::day::BusinessDay;
use crate::discrepancy::{Discrepancy, Kind, ShownKey};
use crate::error::{Error, Result};
use crate::integrity::check::IntegrityInputs;
use crate::integrity::ranges::KeySplit;
use crate::integrity::spec::{IntegritySpec, TableRef};
use crate::integrity::{
    Fingerprint, SealedIndex, SegmentOutcome, SegmentWork, VerifyOutcome, fingerprint,
    segment_rows, shown_key_json,
};
use crate::mask::Shown;
use crate::run_id::RunId;
use crate::shard::Shard;
use crate::source::pushdown::KeyRange;
use crate::store::{DayVerification, Seal, Store};

/// Re-verifies the check's sealed days in the look-back window before `day`: each is compared
/// again, against its seal's segments as it streams, and every row that changed, appeared or
/// vanished on either side since its seal is a `closed_period_modified` discrepancy of that
/// day. Only the rows of segments that differ from the seal are held and compared row by row.
/// A day that cannot be read now is left for the next run (and logged). A day sealed by a
/// check split by key is verified range by range, each range cut as its seal was.
pub(crate) async fn verify_sealed_days(
    store: &Store,
    run_id: RunId,
    check: &IntegritySpec,
    window: SealWindow,
    inputs: IntegrityInputs<'_>,
) -> Result<()> {
    for seal in window_seals(store, check, window).await? {
        if let Some(verified) = verify_day(store, check, &seal, window, None, inputs).await? {
            record_verification(store, run_id, check, &seal, &verified.found).await?;
        }
    }
    Ok(())
}

/// One shard's part of re-verifying the check's sealed days (see [`verify_day`]), to be
/// recorded with the whole check by the shard storing the last range
/// ([`record_shard_verifications`]).
pub(crate) async fn verify_shard_of_sealed_days(
    store: &Store,
    check: &IntegritySpec,
    window: SealWindow,
    shard: Shard,
    inputs: IntegrityInputs<'_>,
) -> Result<Vec<DayVerification>> {
    let mut verified = Vec::new();
    for seal in window_seals(store, check, window).await? {
        verified.extend(verify_day(store, check, &seal, window, Some(shard), inputs).await?);
    }
    Ok(verified)
}

/// Records the shards' re-verifications of the sealed days in the window: each day whose every
/// part some shard verified, with the rows all its parts found (each range's rows are its own,
/// so every row is named once); a day some part of which was not verified is left for the
/// next run.
pub(crate) async fn record_shard_verifications(
    store: &Store,
    run_id: RunId,
    check: &IntegritySpec,
    window: SealWindow,
    verified: &[DayVerification],
) -> Result<()> {
    for seal in window_seals(store, check, window).await? {
        let parts: Vec<&DayVerification> = verified
            .iter()
            .filter(|v| v.partition == seal.partition)
            .collect();
        let complete = match seal.split_id {
            _ if parts.iter().any(|v| v.whole) => true,
            None => false,
            Some(split_id) => {
                let count = store.split(split_id).await?.range_count;
                (0..count).all(|i| parts.iter().any(|v| v.ranges.contains(&i)))
            }
        };
        if !complete {
            if !parts.is_empty() {
                warn!(partition = %seal.partition, "not every key range of a sealed day was re-verified; the next run tries again");
            }
            continue;
        }
        let found: Vec<Discrepancy> = parts.iter().flat_map(|v| v.found.iter().cloned()).collect();
        record_verification(store, run_id, check, &seal, &found).await?;
    }
    Ok(())
}

/// The check's sealed days in the window.
async fn window_seals(
    store: &Store,
    check: &IntegritySpec,
    window: SealWindow,
) -> Result<Vec<Seal>> {
    let from = window.day.date - chrono::Duration::days(i64::from(window.lookback_days));
    store
        .seals(&check.name, &from.to_string(), &window.day.date.to_string())
        .await
}

/// Records what re-verifying sealed day `seal` found.
async fn record_verification(
    store: &Store,
    run_id: RunId,
    check: &IntegritySpec,
    seal: &Seal,
    found: &[Discrepancy],
) -> Result<()> {
    let changes = store
        .record_seal_verification(run_id, seal, &check.name, found)
        .await?;
    if !found.is_empty() {
        warn!(partition = %seal.partition, rows = found.len(), "a sealed day changed since it was sealed");
    }
    if !changes.resolved.is_empty() {
        info!(partition = %seal.partition, resolved = changes.resolved.len(), "a sealed day is back as sealed");
    }
    Ok(())
}

/// Re-verifies the parts of sealed day `seal` that `shard` takes (every part without one).
/// A day sealed whole is verified whole, by shard 0 of a split run. A day sealed by a split is
/// verified range by range against each range's seal, its ranges cut by that split's stored
/// boundaries (not tonight's): shard I takes range I when tonight's range count is the split's,
/// else shard 0 takes every range. `None` when the shard takes no part, or a part could not be
/// read now (the day is left for the next run).
async fn verify_day(
    store: &Store,
    check: &IntegritySpec,
    seal: &Seal,
    window: SealWindow,
    shard: Option<Shard>,
    inputs: IntegrityInputs<'_>,
) -> Result<Option<DayVerification>> {
    let Some(date) = seal.partition.date() else {
        return Ok(None);
    };
    let sealed_day = BusinessDay::new(date, window.timezone)?;
    let Some(split_id) = seal.split_id else {
        if shard.is_some_and(|s| s.index != 0) {
            return Ok(None);
        }
        let found = verify_part(store, check, seal, sealed_day, None, inputs).await?;
        return Ok(found.map(|found| DayVerification {
            partition: seal.partition,
            whole: true,
            ranges: Vec::new(),
            found,
        }));
    };
    let split = store.split(split_id).await?;
    let indices: Vec<u32> = match shard {
        Some(s) if s.count == split.range_count => vec![s.index],
        Some(s) if s.index != 0 => Vec::new(),
        _ => (0..split.range_count).collect(),
    };
    if indices.is_empty() {
        return Ok(None);
    }
    let key_split = match KeySplit::from_json(&split.boundaries, &check.key) {
        Ok(key_split) => key_split,
        Err(e) => {
            warn!(partition = %seal.partition, error = %e, "a sealed day's key ranges cannot be read back; it is not re-verified");
            return Ok(None);
        }
    };
    let mut found = Vec::new();
    for &index in &indices {
        // A range past the distinct keys the split was cut from holds no key: nothing to verify.
        let Some(range) = key_split.range(index) else {
            continue;
        };
        let part = store
            .range_seal(&check.name, seal.partition, split_id, index)
            .await?
            .ok_or_else(|| {
                Error::internal(format!(
                    "sealed day {} has no seal of key range {index} of split {split_id}",
                    seal.partition
                ))
            })?;
        match verify_part(store, check, &part, sealed_day, Some(&range), inputs).await? {
            Some(part_found) => found.extend(part_found),
            None => return Ok(None),
        }
    }
    Ok(Some(DayVerification {
        partition: seal.partition,
        whole: indices.len() == split.range_count as usize,
        ranges: indices,
        found,
    }))
}

/// Compares one sealed part (a day, or a key range of it) again against its seal's segments:
/// the rows changed since, or `None` when it could not be read now (logged).
async fn verify_part(
    store: &Store,
    check: &IntegritySpec,
    seal: &Seal,
    sealed_day: BusinessDay,
    range: Option<&KeyRange>,
    inputs: IntegrityInputs<'_>,
) -> Result<Option<Vec<Discrepancy>>> {
    let segments = store.seal_segments(&check.name, &seal.stored_as).await?;
    let sealed_under = sealed_form(store, check, seal, &segments).await?;
    let check = sealed_under.as_ref().unwrap_or(check);
    let shown = |key: &[Value]| shown_key_json(check, key);
    let index = SealedIndex::new(segments.iter().map(|(_, head)| head.clone()));
    let work = SegmentWork::Verify(&shown, &index);
    let (compared, _) = Box::pin(crate::integrity::check::compare(
        check,
        inputs,
        sealed_day,
        Some(work),
        range,
    ))
    .await;
    let mut comparison = match compared {
        Ok(c) => c,
        Err(e) => {
            warn!(partition = %seal.stored_as, error = %e, "a sealed day could not be re-verified; the next run tries again");
            return Ok(None);
        }
    };
    match comparison.segments.take() {
        Some(SegmentOutcome::Verified { left, right }) => {
            let sealed = SealedDay {
                store,
                check,
                seal,
                segments: &segments,
            };
            let mut notes = Notes::default();
            for (side, stats, outcome) in [
                (&check.left, &comparison.left, left),
                (&check.right, &comparison.right, right),
            ] {
                if stats.digest.as_ref() != Some(&seal.digest) {
                    sealed.note_changes(side, outcome, &mut notes).await?;
                }
            }
            notes.discrepancies(check, seal).map(Some)
        }
        _ => Err(Error::internal(
            "a sealed day was compared without its seal's segments",
        )),
    }
}

/// The check as its seal was written, when a sensitive key column's masks in the seal are under
/// another form of the mask key than the configured one (the key a rotation retired, or the
/// form before key ids; told by the seal's first row): the rows of a sealed day that changed are
/// then matched to the keys they were sealed under, not reported deleted and added. `None` when
/// the configured key wrote them, no key column is sensitive, or no configured key did.
async fn sealed_form(
    store: &Store,
    check: &IntegritySpec,
    seal: &Seal,
    segments: &[(i64, SegmentHead)],
) -> Result<Option<IntegritySpec>> {
    let sensitive = &check.sensitive_columns;
    let Some(key) = sensitive.key() else {
        return Ok(None);
    };
    let Some(column) = check.key.iter().find(|c| sensitive.columns().contains(c)) else {
        return Ok(None);
    };
    let Some((first, _)) = segments.first() else {
        return Ok(None);
    };
    let blob = store
        .seal_segment_rows(&check.name, &seal.stored_as, *first)
        .await?;
    let Some((key_json, _)) = segment_rows(&blob)?.into_iter().next() else {
        return Ok(None);
    };
    let sealed_mask = serde_json::from_str::<serde_json::Value>(&key_json)
        .ok()
        .and_then(|key| key.get(column)?.as_str().map(str::to_string));
    let Some(form) = sealed_mask.and_then(|mask| key.form_of(&mask)) else {
        return Ok(None);
    };
    if crate::mask::sensitive(&form, "") == crate::mask::sensitive(key, "") {
        return Ok(None);
    }
    Ok(Some(IntegritySpec {
        sensitive_columns: sensitive.under(form),
        ..check.clone()
    }))
}

/// A sealed day as the store keeps it: its seal and the heads of its segments.
struct SealedDay<'a> {
    store: &'a Store,
    check: &'a IntegritySpec,
    seal: &'a Seal,
    segments: &'a [(i64, SegmentHead)],
}

impl SealedDay<'_> {
    /// Whether the day was sealed before seals had segments: its rows are in `seal_rows`,
    /// matched by an unmasked hash of the key (their shown keys may carry an older mask).
    fn is_legacy(&self) -> bool {
        self.segments.is_empty()
    }

    /// What a current row is matched to a sealed one by: its shown key, or for a legacy seal
    /// the SHA-256 of its key's encoding.
    fn match_key(&self, key: &[Value]) -> String {
        if self.is_legacy() {
            hex::encode(Sha256::digest(crate::canonical::encode_row(key)))
        } else {
            shown_key_json(self.check, key)
        }
    }

    /// The sealed rows (match key → shown key and fingerprint) of the segments that
    /// `outcome`'s side no longer holds intact; every row of a legacy seal.
    async fn rows_outside(
        &self,
        outcome: &VerifyOutcome,
    ) -> Result<HashMap<String, (String, Fingerprint)>> {
        let (check, partition) = (&self.check.name, &self.seal.stored_as);
        let mut rows = HashMap::new();
        if self.is_legacy() {
            for (key_hash, key_json, row_hash) in
                self.store.legacy_sealed_rows(check, partition).await?
            {
                let mut hash = [0u8; 32];
                hex::decode_to_slice(row_hash.as_bytes(), &mut hash)
                    .map_err(|e| Error::internal(format!("a sealed row hash {row_hash:?}: {e}")))?;
                rows.insert(key_hash, (key_json, fingerprint(&hash)));
            }
            return Ok(rows);
        }
        for (no, head) in self.segments {
            if outcome.intact_segments.contains(&head.end_key) {
                continue;
            }
            let blob = self.store.seal_segment_rows(check, partition, *no).await?;
            for (key_json, print) in segment_rows(&blob)? {
                rows.insert(key_json.clone(), (key_json, print));
            }
        }
        Ok(rows)
    }

    /// Notes every row of one side that differs from the seal: added, changed or deleted.
    async fn note_changes(
        &self,
        side: &TableRef,
        outcome: VerifyOutcome,
        notes: &mut Notes,
    ) -> Result<()> {
        let (source, table) = (&side.source, &side.table);
        let mut sealed = self.rows_outside(&outcome).await?;
        let mut named = 0;
        for (key, hash) in &outcome.other_rows {
            let (what, key_json) = match sealed.remove(&self.match_key(key)) {
                None => ("added in", shown_key_json(self.check, key)),
                Some((key_json, print)) if print != fingerprint(hash) => ("changed in", key_json),
                Some(_) => continue,
            };
            notes.note(key_json, format!("{what} {source}.{table}"));
            named += 1;
        }
        let mut deleted: Vec<String> = sealed.into_values().map(|(key_json, _)| key_json).collect();
        deleted.sort();
        for key_json in deleted {
            notes.note(key_json, format!("deleted from {source}.{table}"));
            named += 1;
        }
        if named == 0 {
            // The digest differs but no row's fingerprint does: a 2^-64 coincidence, still reported.
            notes.note(
                "{}".to_string(),
                format!("{source}.{table} differs from the seal in a row whose fingerprint did not change"),
            );
        }
        Ok(())
    }
}

/// What happened to each key since the seal, on which side, in the order first met.
#[derive(Default)]
struct Notes {
    order: Vec<String>,
    texts: HashMap<String, Vec<String>>,
}

impl Notes {
    fn note(&mut self, key_json: String, text: String) {
        if !self.texts.contains_key(&key_json) {
            self.order.push(key_json.clone());
        }
        self.texts.entry(key_json).or_default().push(text);
    }

    fn discrepancies(mut self, check: &IntegritySpec, seal: &Seal) -> Result<Vec<Discrepancy>> {
        let partition = seal.partition;
        Ok(self
            .order
            .into_iter()
            .filter_map(|key_json| self.texts.remove(&key_json).map(|what| (key_json, what)))
            .map(|(key_json, what)| {
                let key: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(&key_json).unwrap_or_default();
                Discrepancy {
                    check: check.name.clone(),
                    partition,
                    kind: Kind::ClosedPeriodModified,
                    // The key as the seal shows it, masked when it was sealed.
                    key: ShownKey::from_json(key, None),
                    columns: Vec::new(),
                    values: Vec::new(),
                    detail: Some(Shown::masked(&format!(
                        "{} since the day was sealed by run {}",
                        what.join("; "),
                        seal.sealed_run_id
                    ))),
                    at_stake: None,
                }
            })
            .collect())
    }
}
