//! A day's matching in bounded memory: report lines and ledger rows are put in buckets by a hash of their match id as they stream in (spilled, sealed, past the budget), each bucket's plainly agreeing one-to-one pairs are counted there and then, and only the rest is kept for every rule.
//!
//! All the lines and rows carrying one id land in one bucket, so a bucket's bulk pairs are
//! exactly the pairs [`super::bulk::split`] finds over the whole day: an id carried once on each
//! side, plainly agreeing, touched by no other step. Lines and rows without an id go straight to
//! the rest. [`super::match_report`] over the rest then gives every finding the whole day would.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{LedgerEntry, MatchOn, MatchRules, Settled, bulk, non_blank, record_key};
use crate::error::{Error, Result};
use crate::settlement::record::SettlementRecord;
use crate::settlement::spill::SpillBuckets;
use crate::settlement::spill_codec::{put_entry, put_record, take_entry, take_record};

/// The default memory budget of a check's matching, in MiB: a 10M-line day in a 256Mi pod.
pub(crate) const DEFAULT_MEMORY_MB: u64 = 128;

/// Buckets per side: at ten million lines a bucket holds about forty thousand of each side.
pub(crate) const BUCKETS: usize = 256;

/// The memory budget of one check's matching, split between the two sides' buckets; the rest
/// of the budget is room for one bucket's lines and rows decoded, and for what is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemoryBudget {
    pub(crate) bytes: usize,
}

impl MemoryBudget {
    /// `mb` mebibytes.
    pub(crate) fn mebibytes(mb: u64) -> MemoryBudget {
        MemoryBudget {
            bytes: usize::try_from(mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
        }
    }

    /// What each side's buckets may hold before they spill: a quarter of the budget.
    fn per_side(self) -> usize {
        self.bytes / 4
    }
}

/// The report side: lines by bucket, and the lines without an id (with their file numbers).
pub(crate) struct LineBuckets {
    on: MatchOn,
    buckets: SpillBuckets,
    unkeyed: Vec<(u32, SettlementRecord)>,
}

impl LineBuckets {
    /// Empty buckets for lines matched on `on`, spilled into `dir` past their share of `budget`.
    pub(crate) fn new(on: MatchOn, budget: MemoryBudget, dir: &std::path::Path) -> LineBuckets {
        LineBuckets {
            on,
            buckets: SpillBuckets::new("report lines", BUCKETS, budget.per_side(), dir),
            unkeyed: Vec::new(),
        }
    }

    /// Takes one line of the report with number `file`.
    pub(crate) fn push(&mut self, file: u32, record: SettlementRecord) -> Result<()> {
        match record_key(&record, self.on) {
            None => self.unkeyed.push((file, record)),
            Some(key) => {
                let bucket = self.buckets.bucket_of(key.as_bytes());
                self.buckets
                    .push(bucket, |out| put_record(out, file, &record))?;
            }
        }
        Ok(())
    }

    /// Bytes written to disk.
    pub(crate) fn spilled_bytes(&self) -> u64 {
        self.buckets.spilled_bytes()
    }
}

/// The ledger side: rows by bucket, and the rows without an id.
pub(crate) struct RowBuckets {
    buckets: SpillBuckets,
    unkeyed: Vec<LedgerEntry>,
}

impl RowBuckets {
    /// Empty buckets, spilled into `dir` past their share of `budget`.
    pub(crate) fn new(budget: MemoryBudget, dir: &std::path::Path) -> RowBuckets {
        RowBuckets {
            buckets: SpillBuckets::new("ledger rows", BUCKETS, budget.per_side(), dir),
            unkeyed: Vec::new(),
        }
    }

    /// Takes one ledger entry.
    pub(crate) fn push(&mut self, entry: LedgerEntry) -> Result<()> {
        match non_blank(&entry.id) {
            None => self.unkeyed.push(entry),
            Some(key) => {
                let bucket = self.buckets.bucket_of(key.as_bytes());
                self.buckets.push(bucket, |out| put_entry(out, &entry))?;
            }
        }
        Ok(())
    }

    /// Bytes written to disk.
    pub(crate) fn spilled_bytes(&self) -> u64 {
        self.buckets.spilled_bytes()
    }
}

/// What pairing in bulk leaves: counts of the pairs, and the rest for every rule.
#[derive(Debug)]
pub(crate) struct Paired {
    /// Per report file (by its number), its lines paired in bulk.
    pub(crate) per_file: Vec<u64>,
    /// Ledger entries paired in bulk (one per pair).
    pub(crate) ledger: u64,
    /// The lines left, in file and line order, each with its file number.
    pub(crate) rest_lines: Vec<(u32, SettlementRecord)>,
    /// The entries left, in id order (equal ids in the order they were read).
    pub(crate) rest_entries: Vec<LedgerEntry>,
}

/// Pairs the plainly agreeing one-to-one ids of `lines` and `rows`, bucket by bucket, on as
/// many threads as there are cores (four at most): the report files are `paths` (by number),
/// as their lines name them.
pub(crate) fn pair_in_bulk(
    lines: LineBuckets,
    rows: RowBuckets,
    paths: &[Arc<str>],
    rules: &MatchRules,
) -> Result<Paired> {
    let (line_buckets, row_buckets) = (lines.buckets.drain(), rows.buckets.drain());
    if line_buckets.len() != row_buckets.len() {
        return Err(Error::internal("the two sides have different buckets"));
    }
    let settled = Settled::new(&rules.settled_statuses);
    let next = AtomicUsize::new(0);
    let worker = || -> Result<Paired> {
        let mut paired = Paired::empty(paths.len());
        loop {
            let bucket = next.fetch_add(1, Ordering::Relaxed);
            if bucket >= line_buckets.len() {
                return Ok(paired);
            }
            let (files, records) = decode_lines(&line_buckets.take(bucket)?, paths)?;
            let entries = decode_rows(&row_buckets.take(bucket)?)?;
            paired.add(files, records, entries, rules, &settled)?;
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let parts: Vec<Result<Paired>> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads).map(|_| scope.spawn(worker)).collect();
        let mut parts = vec![worker()];
        for other in others {
            parts.push(
                other
                    .join()
                    .unwrap_or_else(|_| Err(Error::internal("a pairing thread panicked"))),
            );
        }
        parts
    });
    let mut paired = Paired::empty(paths.len());
    paired.rest_lines = lines.unkeyed;
    paired.rest_entries = rows.unkeyed;
    for part in parts {
        let part = part?;
        for (total, count) in paired.per_file.iter_mut().zip(part.per_file) {
            *total += count;
        }
        paired.ledger += part.ledger;
        paired.rest_lines.extend(part.rest_lines);
        paired.rest_entries.extend(part.rest_entries);
    }
    paired
        .rest_lines
        .sort_by(|(fa, a), (fb, b)| (fa, a.source.line).cmp(&(fb, b.source.line)));
    paired.rest_entries.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(paired)
}

impl Paired {
    fn empty(files: usize) -> Paired {
        Paired {
            per_file: vec![0; files],
            ledger: 0,
            rest_lines: Vec::new(),
            rest_entries: Vec::new(),
        }
    }

    /// One bucket's lines (with their file numbers) and entries: its pairs counted, the rest kept.
    fn add(
        &mut self,
        files: Vec<u32>,
        records: Vec<SettlementRecord>,
        entries: Vec<LedgerEntry>,
        rules: &MatchRules,
        settled: &Settled,
    ) -> Result<()> {
        let split = bulk::split(&records, &entries, rules, settled);
        for &(i, _) in &split.pairs {
            let file = files.get(i).copied().unwrap_or(u32::MAX) as usize;
            let Some(count) = self.per_file.get_mut(file) else {
                return Err(Error::internal(format!("a line of no report file {file}")));
            };
            *count += 1;
        }
        self.ledger += split.pairs.len() as u64;
        self.rest_lines.extend(
            keep(records, &split.rest_records)
                .map(|(i, r)| (files.get(i).copied().unwrap_or(u32::MAX), r)),
        );
        self.rest_entries
            .extend(keep(entries, &split.rest_ledger).map(|(_, e)| e));
        Ok(())
    }
}

/// A bucket's lines, with their file numbers.
fn decode_lines(mut bytes: &[u8], paths: &[Arc<str>]) -> Result<(Vec<u32>, Vec<SettlementRecord>)> {
    // a line takes some 50 bytes
    let (mut files, mut records) = (
        Vec::with_capacity(bytes.len() / 48),
        Vec::with_capacity(bytes.len() / 48),
    );
    while !bytes.is_empty() {
        let (file, record) = take_record(&mut bytes, paths)?;
        files.push(file);
        records.push(record);
    }
    Ok((files, records))
}

/// A bucket's ledger entries.
fn decode_rows(mut bytes: &[u8]) -> Result<Vec<LedgerEntry>> {
    // an entry takes some 50 bytes
    let mut entries = Vec::with_capacity(bytes.len() / 48);
    while !bytes.is_empty() {
        entries.push(take_entry(&mut bytes)?);
    }
    Ok(entries)
}

/// The items of `all` at the ascending indexes `wanted`, with their indexes.
fn keep<'a, T: 'a>(all: Vec<T>, wanted: &'a [usize]) -> impl Iterator<Item = (usize, T)> + 'a {
    let mut wanted = wanted.iter().peekable();
    all.into_iter()
        .enumerate()
        .filter(move |(i, _)| wanted.next_if_eq(&i).is_some())
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::super::*;
    use super::*;
    use crate::settlement::record::{Kind, Links};

    /// A finding as people see it: kind, lines by file and line, rows by id and amount, the
    /// payout items by id, the amounts and the detail.
    type Seen = (
        String,
        Vec<(String, u64)>,
        Vec<(String, i64)>,
        Vec<String>,
        Option<i128>,
        Option<i128>,
        String,
    );

    fn seen(o: &MatchOutcome, records: &[SettlementRecord], ledger: &[LedgerEntry]) -> Vec<Seen> {
        o.discrepancies
            .iter()
            .map(|d| {
                (
                    d.kind.to_string(),
                    d.records
                        .iter()
                        .map(|&i| (records[i].source.path.to_string(), records[i].source.line))
                        .collect(),
                    d.ledger
                        .iter()
                        .map(|&j| (ledger[j].id.to_string(), ledger[j].amount_minor))
                        .collect(),
                    d.payout_items
                        .iter()
                        .map(|&j| ledger[j].id.to_string())
                        .collect(),
                    d.expected_minor,
                    d.actual_minor,
                    d.detail.clone(),
                )
            })
            .collect()
    }

    /// Lines matched per file, and ledger rows matched, of a whole-day outcome.
    fn matched_counts(o: &MatchOutcome, records: &[SettlementRecord]) -> (Vec<u64>, u64) {
        let mut per_file = vec![0u64; 2];
        for m in &o.matched {
            per_file[usize::from(&*records[m.record].source.path == "b.csv")] += 1;
        }
        (
            per_file,
            o.matched.iter().filter(|m| m.ledger.is_some()).count() as u64,
        )
    }

    /// Random days of a few thousand lines and rows (ids shared or not, duplicated, blank;
    /// captures; payouts; disagreeing amounts, fees, currencies, statuses; two files), put in
    /// buckets that spill at every few lines, give exactly the findings, the not-expected rows
    /// and the matched counts of matching the whole day in memory.
    #[test]
    fn bucketed_and_spilled_matching_gives_the_whole_day_s_outcome() {
        let mut next = dice(0x9E37_79B9_7F4A_7C15);
        let paths: Vec<Arc<str>> = vec!["a.csv".into(), "b.csv".into()];
        let dir = std::env::temp_dir();
        let (mut spilled_rounds, mut total_paired) = (0, 0);
        for round in 0..12 {
            let pool = 400 + next(3000);
            let id = |n: usize| match n % 97 {
                0 => " ".to_string(),
                1 => format!("an_id_well_over_twenty_three_bytes_long_{n}"),
                _ => format!("ch_{n}"),
            };
            let rules = MatchRules {
                match_on: [MatchOn::RecordId, MatchOn::Reference][next(2)],
                amount_tolerance_minor: [0, 0, 2][next(3)],
                date_window_days: [0, 0, 1][next(3)],
                settled_statuses: match next(2) {
                    0 => Vec::new(),
                    _ => vec!["Settled".into()],
                },
                timing_window_days: 3,
            };
            let kinds = [
                Kind::Charge,
                Kind::Charge,
                Kind::Charge,
                Kind::Refund,
                Kind::Payout,
            ];
            let mut lines = [0u64, 0];
            let mut records: Vec<SettlementRecord> = (0..2000 + next(2000))
                .map(|_| {
                    let file = usize::from(next(4) == 0);
                    lines[file] += 1 + next(2) as u64;
                    let mut r = rec(
                        lines[file] + 1,
                        &id(next(pool)),
                        kinds[next(kinds.len())],
                        [1000, 1001, 1003, -500][next(4)],
                        [0, 30][next(2)],
                        ["USD", "USD", "USD", "EUR"][next(4)],
                    );
                    r.source.path = paths[file].clone();
                    r.reference = (next(3) > 0).then(|| r.record_id.clone());
                    r.payout_id = (next(8) == 0).then(|| ["po_1", "po_2"][next(2)].into());
                    r.created_at = at(4 + next(3) as u32, 12, 0, 0);
                    if next(30) == 0 {
                        r.links = Some(Box::new(Links {
                            capture: Some(format!("cap_{}", next(3)).as_str().into()),
                            ..Links::default()
                        }));
                    }
                    r
                })
                .collect();
            // as parsed: file after file, each in line order
            records.sort_by(|a, b| a.source.cmp(&b.source));
            let ledger: Vec<LedgerEntry> = (0..2000 + next(2000))
                .map(|n| {
                    // most rows mirror a line, as on a real day
                    let mut e = match records.get(n).filter(|_| next(5) > 0) {
                        Some(r) => {
                            let key = record_key(r, rules.match_on).unwrap_or(" ");
                            led(key, r.gross_minor, r.currency.code())
                        }
                        None => led(&id(next(pool)), [1000, 1001, -500][next(3)], "USD"),
                    };
                    e.status = [Some("settled"), Some("settled"), Some("pending"), None][next(4)]
                        .map(Into::into);
                    e.fee_minor = [None, Some(0), Some(30)][next(3)];
                    e.payout_id = (next(10) == 0).then(|| ["po_1", "po_2"][next(2)].into());
                    e.at = at(1 + next(9) as u32, next(24) as u32, 0, 0);
                    e
                })
                .collect();
            let whole = run(&records, &ledger, &rules);

            let budget = MemoryBudget { bytes: 4096 };
            let mut line_buckets = LineBuckets::new(rules.match_on, budget, &dir);
            for r in &records {
                let file = u32::from(&*r.source.path == "b.csv");
                line_buckets.push(file, r.clone()).unwrap();
            }
            let mut row_buckets = RowBuckets::new(budget, &dir);
            for e in &ledger {
                row_buckets.push(e.clone()).unwrap();
            }
            spilled_rounds +=
                usize::from(line_buckets.spilled_bytes() > 0 && row_buckets.spilled_bytes() > 0);
            let paired = pair_in_bulk(line_buckets, row_buckets, &paths, &rules).unwrap();
            let rest: Vec<SettlementRecord> =
                paired.rest_lines.iter().map(|(_, r)| r.clone()).collect();
            let rest_outcome = run(&rest, &paired.rest_entries, &rules);

            let (got, want) = (
                seen(&rest_outcome, &rest, &paired.rest_entries),
                seen(&whole, &records, &ledger),
            );
            let first_difference = got.iter().zip(&want).find(|(g, w)| g != w);
            assert_eq!(first_difference, None, "round {round}");
            assert_eq!(got.len(), want.len(), "round {round}");
            let not_expected = |o: &MatchOutcome, ledger: &[LedgerEntry]| -> Vec<String> {
                o.not_expected
                    .iter()
                    .map(|&j| ledger[j].id.to_string())
                    .collect()
            };
            assert_eq!(
                not_expected(&rest_outcome, &paired.rest_entries),
                not_expected(&whole, &ledger)
            );
            let (mut per_file, mut rows) = matched_counts(&rest_outcome, &rest);
            per_file[0] += paired.per_file[0];
            per_file[1] += paired.per_file[1];
            rows += paired.ledger;
            assert_eq!(
                (per_file, rows),
                matched_counts(&whole, &records),
                "round {round}"
            );
            total_paired += paired.ledger;
            assert!(!whole.discrepancies.is_empty());
        }
        assert_eq!(spilled_rounds, 12);
        assert!(total_paired > 1000, "{total_paired} paired in bulk");
    }
}
