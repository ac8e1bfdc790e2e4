//! A sealed day's segments: its rows cut in key order where the key itself says (so an insert
//! or a delete moves only its own segment), each segment with its full SHA-256 digest and a
//! compressed list of (shown key, row fingerprint). Sealing writes them while the day streams;
//! re-verifying compares a few hundred digests and keeps rows only of the segments that differ.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use sha2::{Digest, Sha256};

use crate::canonical::{RowHash, SegmentDigest, SegmentHead, Value};
use crate::error::{Error, Result};

/// How many leading bytes of a row's SHA-256 hash a seal keeps to name a changed row. Detection
/// never rests on it (every segment keeps its full digest); a changed row whose new hash
/// agrees with the old one in these 64 bits (odds 2^-64 per row) is still caught by its
/// segment's digest, and reported without its key.
pub(crate) const FINGERPRINT_LEN: usize = 8;

/// A row's fingerprint: the first [`FINGERPRINT_LEN`] bytes of its row hash.
pub(crate) type Fingerprint = [u8; FINGERPRINT_LEN];

pub(crate) fn fingerprint(hash: &RowHash) -> Fingerprint {
    let mut out = [0u8; FINGERPRINT_LEN];
    out.copy_from_slice(&hash[..FINGERPRINT_LEN]);
    out
}

/// One row in this many ends its segment, on average (by its key's boundary hash).
const BOUNDARY_ONE_IN: u64 = 8192;

/// A segment ends after this many rows whatever its keys, so no run of keys can make one
/// segment hold a whole day.
const MAX_SEGMENT_ROWS: u64 = 65_536;

/// The key shown for a row (sensitive columns masked), as the seal keeps and reports it.
pub(crate) type ShownKey<'a> = dyn Fn(&[Value]) -> String + Sync + 'a;

/// What a comparison does with every row of a side beside comparing it.
#[derive(Clone, Copy)]
pub(crate) enum SegmentWork<'a> {
    /// Cut the left side into segments and spool them (in the folder given), to seal the day
    /// if it comes out clean.
    Seal(&'a ShownKey<'a>, &'a Path),
    /// Compare both sides' segments with the seal's and keep the rows of those that differ.
    Verify(&'a ShownKey<'a>, &'a SealedIndex),
}

/// What the segment work produced, side by side with the comparison.
#[derive(Debug)]
pub(crate) enum SegmentOutcome {
    Sealed(SealSpool),
    Verified {
        left: VerifyOutcome,
        right: VerifyOutcome,
    },
}

/// Where segments end: after a row whose key's FNV-1a hash falls on a boundary (or after
/// [`MAX_SEGMENT_ROWS`]). FNV-1a is fixed and platform-independent, so a seal written by one
/// run is cut the same way by every later one.
#[derive(Default)]
struct Cutter {
    rows: u64,
    encoded: Vec<u8>,
}

impl Cutter {
    /// Whether the row with `key`, just added to the segment, is its last.
    fn ends_segment(&mut self, key: &[Value]) -> bool {
        self.rows += 1;
        self.encoded.clear();
        for value in key {
            value.encode_into(&mut self.encoded);
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in &self.encoded {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let ends = hash.is_multiple_of(BOUNDARY_ONE_IN) || self.rows >= MAX_SEGMENT_ROWS;
        if ends {
            self.rows = 0;
        }
        ends
    }
}

/// A segment's name: 16 bytes of SHA-256 over its last row's shown key, in hex; empty for the
/// day's last segment, which ends where the rows do.
fn segment_end(shown_key: &str) -> String {
    hex::encode(&Sha256::digest(shown_key.as_bytes())[..16])
}

/// Segments cut while the day streams, their row lists on disk (an unnamed temporary file) so
/// that sealing holds one segment in memory, not the day.
#[derive(Debug)]
pub(crate) struct SealSpool {
    file: std::fs::File,
    /// The folder the file is in, for messages.
    dir: std::path::PathBuf,
    /// Each segment's head with its blob's length in the file, in key order.
    segments: Vec<(SegmentHead, u64)>,
}

impl SealSpool {
    /// An empty spool: an unnamed file in `dir`. A folder that cannot hold one is the
    /// deployment's to fix, not a failure that passes: bad input (exit 2), naming the folder,
    /// the OS error and the setting.
    fn new(dir: &Path) -> Result<SealSpool> {
        let file = tempfile::tempfile_in(dir)
            .map_err(|e| Error::temp_file("the seal's spool file", dir, false, e))?;
        Ok(SealSpool {
            file,
            dir: dir.to_path_buf(),
            segments: Vec::new(),
        })
    }

    fn push(&mut self, head: SegmentHead, blob: &[u8]) -> Result<()> {
        // A full folder (an emptyDir's sizeLimit) is the deployment's to fix, as above.
        self.file
            .write_all(blob)
            .map_err(|e| Error::temp_file("the seal's spool file", &self.dir, true, e))?;
        self.segments.push((head, blob.len() as u64));
        Ok(())
    }

    /// How many segments the day was cut into.
    pub(crate) fn len(&self) -> usize {
        self.segments.len()
    }

    /// Each segment's head and compressed row list, in key order, read back one at a time.
    pub(crate) fn drain(&mut self) -> Result<impl Iterator<Item = Result<(SegmentHead, Vec<u8>)>>> {
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::internal("cannot read the seal's spool file").caused_by(e))?;
        let file = &mut self.file;
        Ok(std::mem::take(&mut self.segments)
            .into_iter()
            .map(move |(head, len)| {
                let len = usize::try_from(len)
                    .map_err(|_| Error::internal("a seal segment too large for memory"))?;
                let mut blob = vec![0u8; len];
                file.read_exact(&mut blob).map_err(|e| {
                    Error::internal("cannot read the seal's spool file").caused_by(e)
                })?;
                Ok((head, blob))
            }))
    }
}

/// The rows of the segment being cut: digest, count and the row list, compressed when the
/// segment closes. (Feeding the encoder row by row cost more than the comparison: flate2 zeroes
/// its output's spare capacity on every write. A segment's raw list is at most
/// [`MAX_SEGMENT_ROWS`] short entries, about 2 MB.)
struct OpenSegment {
    digest: SegmentDigest,
    rows: Vec<u8>,
}

impl OpenSegment {
    fn new() -> OpenSegment {
        OpenSegment {
            digest: SegmentDigest::new(),
            rows: Vec::new(),
        }
    }

    fn compressed_rows(&self) -> Result<Vec<u8>> {
        let failed = |e| Error::internal("cannot compress a seal segment").caused_by(e);
        let mut encoder =
            DeflateEncoder::new(Vec::with_capacity(self.rows.len() / 2), Compression::fast());
        encoder.write_all(&self.rows).map_err(failed)?;
        encoder.finish().map_err(failed)
    }
}

/// Cuts the left side of a clean day into segments and spools them.
pub(crate) struct SealTap<'a> {
    shown: &'a ShownKey<'a>,
    cutter: Cutter,
    open: OpenSegment,
    spool: SealSpool,
}

impl<'a> SealTap<'a> {
    /// A tap spooling to a new file in `dir`.
    pub(crate) fn new(shown: &'a ShownKey<'a>, dir: &Path) -> Result<SealTap<'a>> {
        Ok(SealTap {
            shown,
            cutter: Cutter::default(),
            open: OpenSegment::new(),
            spool: SealSpool::new(dir)?,
        })
    }

    pub(crate) fn push(&mut self, key: &[Value], hash: &RowHash) -> Result<()> {
        let shown = (self.shown)(key);
        let length = u32::try_from(shown.len())
            .map_err(|_| Error::internal("a key too long to seal"))?
            .to_le_bytes();
        let rows = &mut self.open.rows;
        rows.extend_from_slice(&length);
        rows.extend_from_slice(shown.as_bytes());
        rows.extend_from_slice(&fingerprint(hash));
        self.open.digest.push(hash);
        if self.cutter.ends_segment(key) {
            self.close(segment_end(&shown))?;
        }
        Ok(())
    }

    fn close(&mut self, end_key: String) -> Result<()> {
        let blob = self.open.compressed_rows()?;
        // the row list's buffer is kept for the next segment
        self.open.rows.clear();
        let (digest, rows) = std::mem::take(&mut self.open.digest).finish();
        self.spool.push(
            SegmentHead {
                end_key,
                rows,
                digest,
            },
            &blob,
        )
    }

    pub(crate) fn finish(mut self) -> Result<SealSpool> {
        let (_, rows) = self.open.digest.clone().finish();
        if rows > 0 {
            self.close(String::new())?;
        }
        Ok(self.spool)
    }
}

/// The rows of a stored segment: each row's shown key and fingerprint, in key order.
pub(crate) fn segment_rows(blob: &[u8]) -> Result<Vec<(String, Fingerprint)>> {
    let bad = |what: &str| Error::internal(format!("a stored seal segment is damaged: {what}"));
    let mut bytes = Vec::new();
    DeflateDecoder::new(blob)
        .read_to_end(&mut bytes)
        .map_err(|e| bad("it does not decompress").caused_by(e))?;
    let mut rows = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let (length, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("cut short"))?;
        let length = u32::from_le_bytes(*length) as usize;
        if tail.len() < length + FINGERPRINT_LEN {
            return Err(bad("cut short"));
        }
        let (key, tail) = tail.split_at(length);
        let (print, tail) = tail.split_at(FINGERPRINT_LEN);
        let key = std::str::from_utf8(key).map_err(|_| bad("a key is not UTF-8"))?;
        let mut fingerprint = [0u8; FINGERPRINT_LEN];
        fingerprint.copy_from_slice(print);
        rows.push((key.to_string(), fingerprint));
        rest = tail;
    }
    Ok(rows)
}

/// A seal's segments, by where they end: what re-verification compares first.
#[derive(Debug, Default)]
pub(crate) struct SealedIndex {
    by_end: HashMap<String, (u64, String)>,
}

impl SealedIndex {
    pub(crate) fn new(heads: impl IntoIterator<Item = SegmentHead>) -> SealedIndex {
        SealedIndex {
            by_end: heads
                .into_iter()
                .map(|h| (h.end_key, (h.rows, h.digest)))
                .collect(),
        }
    }

    fn holds(&self, end_key: &str, rows: u64, digest: &str) -> bool {
        self.by_end
            .get(end_key)
            .is_some_and(|(r, d)| *r == rows && d == digest)
    }
}

/// One side of a sealed day against its seal: which sealed segments it still holds exactly,
/// and its rows outside them (in key order), the only ones compared row by row.
#[derive(Debug, Default)]
pub(crate) struct VerifyOutcome {
    pub(crate) intact_segments: HashSet<String>,
    pub(crate) other_rows: Vec<(Vec<Value>, RowHash)>,
}

/// Cuts one side of a sealed day as its seal was cut and checks each segment against it.
pub(crate) struct VerifyTap<'a> {
    shown: &'a ShownKey<'a>,
    sealed: &'a SealedIndex,
    cutter: Cutter,
    digest: SegmentDigest,
    rows: Vec<(Vec<Value>, RowHash)>,
    outcome: VerifyOutcome,
}

impl<'a> VerifyTap<'a> {
    pub(crate) fn new(shown: &'a ShownKey<'a>, sealed: &'a SealedIndex) -> VerifyTap<'a> {
        VerifyTap {
            shown,
            sealed,
            cutter: Cutter::default(),
            digest: SegmentDigest::new(),
            rows: Vec::new(),
            outcome: VerifyOutcome::default(),
        }
    }

    pub(crate) fn push(&mut self, key: &[Value], hash: &RowHash) {
        self.digest.push(hash);
        self.rows.push((key.to_vec(), *hash));
        if self.cutter.ends_segment(key) {
            let end = segment_end(&(self.shown)(key));
            self.close(end);
        }
    }

    fn close(&mut self, end_key: String) {
        let (digest, rows) = std::mem::take(&mut self.digest).finish();
        if self.sealed.holds(&end_key, rows, &digest) {
            self.outcome.intact_segments.insert(end_key);
            self.rows.clear();
        } else {
            self.outcome.other_rows.append(&mut self.rows);
        }
    }

    pub(crate) fn finish(mut self) -> VerifyOutcome {
        if !self.rows.is_empty() {
            self.close(String::new());
        }
        self.outcome
    }
}

/// The tap on one side of a merge-join.
pub(crate) enum Tap<'a> {
    Seal(SealTap<'a>),
    Verify(VerifyTap<'a>),
}

impl Tap<'_> {
    pub(crate) fn push(&mut self, key: &[Value], hash: &RowHash) -> Result<()> {
        match self {
            Tap::Seal(tap) => tap.push(key, hash),
            Tap::Verify(tap) => {
                tap.push(key, hash);
                Ok(())
            }
        }
    }
}

/// The key of a row as a seal keeps and reports it: a JSON object of the key columns, the
/// sensitive ones masked.
pub(crate) fn shown_key_json(check: &super::spec::IntegritySpec, key: &[Value]) -> String {
    // Written straight into one buffer (it runs for every row of a sealed day): the same text
    // serde_json gives for the object of shown values, without building the object.
    let sensitive = &check.sensitive_columns;
    let mut out = Vec::with_capacity(16 * key.len() + 2);
    out.push(b'{');
    for (i, (name, value)) in check.key.iter().zip(key).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_string(&mut out, name);
        out.push(b':');
        match value.canonical_text() {
            None => out.extend_from_slice(b"null"),
            Some(text) if sensitive.columns().iter().any(|c| c == name) => {
                json_string(&mut out, sensitive.show(name, &text).as_str());
            }
            Some(text) => json_string(&mut out, &crate::mask::mask_card_numbers(&text)),
        }
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn json_string(out: &mut Vec<u8>, text: &str) {
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::row_hash;

    fn shown(key: &[Value]) -> String {
        format!("{key:?}")
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn a_full_temp_folder_is_the_deployments_to_fix_and_named() {
        // /dev/full answers every write with ENOSPC, as a full emptyDir does.
        let mut spool = SealSpool {
            file: std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
            dir: std::path::PathBuf::from("/var/tmp/recon"),
            segments: Vec::new(),
        };
        let head = SegmentHead {
            end_key: String::new(),
            rows: 1,
            digest: "d".to_string(),
        };
        let e = spool.push(head, b"rows").unwrap_err();
        assert_eq!(e.exit(), crate::exit::Exit::BadInput);
        assert_eq!(
            e.to_string(),
            "cannot write the seal's spool file in /var/tmp/recon: No space left on device (os error 28); give job.temp_dir (or RECON_TEMP_DIR) more room, e.g. a larger emptyDir sizeLimit"
        );
        assert_eq!(spool.len(), 0);
    }

    fn rows(ids: impl IntoIterator<Item = i128>, edit: i128) -> Vec<(Vec<Value>, RowHash)> {
        ids.into_iter()
            .map(|id| {
                let key = vec![Value::Int(id)];
                let amount = Value::Int(if id == edit { -1 } else { id * 10 });
                let hash = row_hash([&key[0], &amount]);
                (key, hash)
            })
            .collect()
    }

    /// A spool folder nothing can be written in (not even by root: it is under a file) is bad
    /// input, and the message names the folder, the OS error and the setting.
    #[test]
    fn a_spool_folder_that_cannot_be_written_names_itself_and_the_os_error() {
        let dir = Path::new("/dev/null/recon-tmp");
        let e = SealTap::new(&shown, dir)
            .err()
            .expect("no spool under a file");
        assert_eq!(e.exit(), crate::exit::Exit::BadInput);
        assert_eq!(
            e.to_string(),
            "cannot create the seal's spool file in /dev/null/recon-tmp: Not a directory (os error 20); set job.temp_dir (or RECON_TEMP_DIR) to a writable folder, e.g. an emptyDir mounted there"
        );
    }

    fn seal(rows: &[(Vec<Value>, RowHash)]) -> Vec<(SegmentHead, Vec<u8>)> {
        let mut tap = SealTap::new(&shown, &std::env::temp_dir()).unwrap();
        for (key, hash) in rows {
            tap.push(key, hash).unwrap();
        }
        let mut spool = tap.finish().unwrap();
        spool.drain().unwrap().map(Result::unwrap).collect()
    }

    fn verify(index: &SealedIndex, rows: &[(Vec<Value>, RowHash)]) -> VerifyOutcome {
        let mut tap = VerifyTap::new(&shown, index);
        for (key, hash) in rows {
            tap.push(key, hash);
        }
        tap.finish()
    }

    /// 100,000 rows cut into segments of about 8,192; their row lists read back exactly.
    #[test]
    fn a_sealed_day_is_cut_into_segments_whose_rows_read_back() {
        let day = rows(1..=100_000, 0);
        let segments = seal(&day);
        let total: u64 = segments.iter().map(|(h, _)| h.rows).sum();
        assert_eq!(total, 100_000);
        assert!(
            (5..=40).contains(&segments.len()),
            "{} segments",
            segments.len()
        );
        assert_eq!(segments.last().unwrap().0.end_key, "");
        let read: Vec<(String, Fingerprint)> = segments
            .iter()
            .flat_map(|(_, blob)| segment_rows(blob).unwrap())
            .collect();
        let expected: Vec<(String, Fingerprint)> = day
            .iter()
            .map(|(k, h)| (shown(k), fingerprint(h)))
            .collect();
        assert_eq!(read, expected);
        let mut whole = SegmentDigest::new();
        let mut first = SegmentDigest::new();
        for (_, hash) in &day[..segments[0].0.rows as usize] {
            first.push(hash);
        }
        for (_, hash) in &day {
            whole.push(hash);
        }
        assert_eq!(first.finish().0, segments[0].0.digest);
        assert_ne!(whole.finish().0, segments[0].0.digest);
    }

    /// One edit, one insert and one delete leave every other segment intact: only the rows of
    /// the segments they fall in are kept for row-by-row comparison.
    #[test]
    fn an_edit_an_insert_and_a_delete_touch_only_their_segments() {
        let sealed = seal(&rows(1..=100_000, 0));
        let index = SealedIndex::new(sealed.iter().map(|(h, _)| h.clone()));
        let same = verify(&index, &rows(1..=100_000, 0));
        assert_eq!(same.intact_segments.len(), sealed.len());
        assert!(same.other_rows.is_empty());

        // id 50,000 edited, 70,000 deleted, 100,001 added at the end
        let now: Vec<_> = rows((1..=100_001).filter(|id| *id != 70_000), 50_000);
        let changed = verify(&index, &now);
        let touched = |id: i128| {
            let mut seen = 0;
            sealed
                .iter()
                .position(|(h, _)| {
                    seen += h.rows as i128;
                    seen >= id
                })
                .unwrap()
        };
        let expected_touched: HashSet<usize> =
            [touched(50_000), touched(70_000), sealed.len() - 1].into();
        assert_eq!(
            changed.intact_segments.len(),
            sealed.len() - expected_touched.len()
        );
        let kept: u64 = expected_touched.iter().map(|i| sealed[*i].0.rows).sum();
        // the deleted row is gone and the added one is there: the same count
        assert_eq!(changed.other_rows.len() as u64, kept);
        assert!(
            changed
                .other_rows
                .iter()
                .any(|(k, _)| k[0] == Value::Int(50_000))
        );
        assert!(
            changed
                .other_rows
                .iter()
                .any(|(k, _)| k[0] == Value::Int(100_001))
        );
    }

    /// A damaged blob is an error that says so, not a shorter row list.
    #[test]
    fn a_damaged_segment_is_an_error() {
        let sealed = seal(&rows(1..=10, 0));
        let blob = &sealed[0].1;
        let message = segment_rows(&blob[..blob.len() / 2])
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("a stored seal segment is damaged"),
            "{message}"
        );
    }
}
