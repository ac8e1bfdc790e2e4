//! Bytes kept in buckets under a memory budget: past it, every bucket's bytes so far are sealed (AES-256-GCM, under a key that lives only in this process) into one unnamed temporary file, and each bucket is read back whole when its turn comes.
//!
//! A settlement check's report lines and ledger rows carry ids that can be card numbers, so
//! nothing reaches the disk in clear, even for the minutes a run lasts: each flush of a bucket
//! is one sealed segment whose authenticated place names the side, the bucket and the segment,
//! so a segment moved, altered or cut short does not open. The file has no name (it is
//! unlinked as it is made, 0600), so it is gone when the process ends, however it ends.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::at_rest::DataKeys;
use crate::error::{Error, Result};

/// Bytes in buckets, spilled to disk past the budget.
pub(crate) struct SpillBuckets {
    /// What the bytes are (`report lines`, `ledger rows`), for messages and the sealed place.
    side: &'static str,
    buffers: Vec<Vec<u8>>,
    /// Bytes held in `buffers`.
    held: usize,
    budget: usize,
    dir: PathBuf,
    spilled: Option<Spilled>,
}

/// The temporary file and where each bucket's segments are in it.
struct Spilled {
    file: File,
    keys: DataKeys,
    end: u64,
    /// Per bucket, its segments' (offset, length), in the order they were written.
    segments: Vec<Vec<(u64, u64)>>,
}

impl SpillBuckets {
    /// `buckets` empty buckets holding at most `budget` bytes in memory; spilled into `dir`.
    pub(crate) fn new(side: &'static str, buckets: usize, budget: usize, dir: &Path) -> Self {
        SpillBuckets {
            side,
            buffers: vec![Vec::new(); buckets.max(1)],
            held: 0,
            budget: budget.max(1),
            dir: dir.to_path_buf(),
            spilled: None,
        }
    }

    /// The bucket of an id's bytes: FNV-1a, then MurmurHash3's finalizer, so that ids that
    /// differ in their last digit (consecutive ids, which come together) spread over every
    /// bucket rather than filling a few at a time.
    pub(crate) fn bucket_of(&self, id: &[u8]) -> usize {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &byte in id {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash ^= hash >> 33;
        (hash % self.buffers.len() as u64) as usize
    }

    /// Appends what `write` writes to bucket `bucket`; spills every bucket once past the budget.
    pub(crate) fn push(&mut self, bucket: usize, write: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        let Some(buffer) = self.buffers.get_mut(bucket) else {
            return Err(Error::internal(format!("no bucket {bucket}")));
        };
        let before = buffer.len();
        write(buffer);
        self.held += buffer.len() - before;
        if self.held > self.budget {
            self.spill()?;
        }
        Ok(())
    }

    /// The bytes written to disk so far (0: everything is still held).
    pub(crate) fn spilled_bytes(&self) -> u64 {
        self.spilled.as_ref().map_or(0, |s| s.end)
    }

    /// Seals every bucket's held bytes as one segment each at the end of the file.
    fn spill(&mut self) -> Result<()> {
        let spilled = match &mut self.spilled {
            Some(spilled) => spilled,
            None => self
                .spilled
                .insert(Spilled::new(&self.dir, self.side, self.buffers.len())?),
        };
        for (bucket, buffer) in self.buffers.iter_mut().enumerate() {
            if buffer.is_empty() {
                continue;
            }
            spilled.append(self.side, bucket, buffer, &self.dir)?;
            buffer.clear();
        }
        self.held = 0;
        Ok(())
    }

    /// The buckets as they stand, to be read back (each once, from any thread).
    pub(crate) fn drain(self) -> Drained {
        Drained {
            side: self.side,
            held: self
                .buffers
                .into_iter()
                .map(|held| Mutex::new(Some(held)))
                .collect(),
            spilled: self.spilled,
        }
    }
}

/// Buckets no longer taking bytes, read back one bucket at a time, from any number of threads.
pub(crate) struct Drained {
    side: &'static str,
    /// Each bucket's bytes still in memory, until it is taken.
    held: Vec<Mutex<Option<Vec<u8>>>>,
    spilled: Option<Spilled>,
}

impl Drained {
    /// How many buckets there are.
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// Bucket `bucket`'s bytes, in the order they were pushed (its spilled segments, then what
    /// was still held); what was held is handed out, so a second take of a bucket is an error.
    pub(crate) fn take(&self, bucket: usize) -> Result<Vec<u8>> {
        let taken = || Error::internal(format!("bucket {bucket} of {} taken twice", self.side));
        let held = self
            .held
            .get(bucket)
            .ok_or_else(|| Error::internal(format!("no bucket {bucket} of {}", self.side)))?
            .lock()
            .map_err(|_| taken())?
            .take()
            .ok_or_else(taken)?;
        let Some(spilled) = &self.spilled else {
            return Ok(held);
        };
        let mut bytes = Vec::new();
        let segments = spilled.segments.get(bucket).map_or(&[][..], Vec::as_slice);
        for (n, &(offset, len)) in segments.iter().enumerate() {
            let mut sealed = vec![0u8; len as usize];
            spilled
                .file
                .read_exact_at(&mut sealed, offset)
                .map_err(|e| {
                    Error::internal(format!("cannot read back spilled {}: {e}", self.side))
                })?;
            spilled
                .keys
                .open_stream(&place(self.side, bucket, n), sealed.as_slice())
                .and_then(|mut plain| plain.read_to_end(&mut bytes))
                .map_err(|e| Error::internal(format!("spilled {} do not open: {e}", self.side)))?;
        }
        bytes.extend_from_slice(&held);
        Ok(bytes)
    }
}

impl Spilled {
    /// An unnamed file in `dir`; a folder that cannot hold one is the deployment's to fix (bad
    /// input, naming the folder and the setting).
    fn new(dir: &Path, side: &str, buckets: usize) -> Result<Spilled> {
        let file = tempfile::tempfile_in(dir)
            .map_err(|e| Error::temp_file(&format!("a spill file for {side}"), dir, false, e))?;
        let keys = DataKeys::ephemeral()
            .map_err(|e| Error::internal(format!("no key to spill {side} under: {e}")))?;
        Ok(Spilled {
            file,
            keys,
            end: 0,
            segments: vec![Vec::new(); buckets],
        })
    }

    /// Seals `bytes` as bucket `bucket`'s next segment and writes it at the end of the file.
    fn append(&mut self, side: &str, bucket: usize, bytes: &[u8], dir: &Path) -> Result<()> {
        let Some(segments) = self.segments.get_mut(bucket) else {
            return Err(Error::internal(format!("no bucket {bucket}")));
        };
        let sealing = |e: crate::at_rest::AtRestError| {
            Error::internal(format!("cannot seal spilled {side}: {e}"))
        };
        let mut stream = self
            .keys
            .seal_stream(&place(side, bucket, segments.len()))
            .map_err(sealing)?;
        let mut sealed = stream.update(bytes).map_err(sealing)?;
        sealed.extend(stream.finish().map_err(sealing)?);
        (&self.file)
            .write_all(&sealed)
            .map_err(|e| Error::temp_file(&format!("a spill file for {side}"), dir, true, e))?;
        segments.push((self.end, sealed.len() as u64));
        self.end += sealed.len() as u64;
        Ok(())
    }
}

/// The authenticated place of a segment: it opens only as that side's bucket's `n`th.
fn place(side: &str, bucket: usize, n: usize) -> Vec<u8> {
    format!("recon spill {side} bucket {bucket} segment {n}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(budget: usize) -> SpillBuckets {
        let mut buckets = SpillBuckets::new("test rows", 4, budget, &std::env::temp_dir());
        for n in 0..1000u32 {
            let id = format!("id{n}");
            let bucket = buckets.bucket_of(id.as_bytes());
            buckets
                .push(bucket, |out| {
                    out.extend_from_slice(id.as_bytes());
                    out.push(b'\n');
                })
                .unwrap();
        }
        buckets
    }

    fn lines(bytes: &[u8]) -> Vec<String> {
        String::from_utf8(bytes.to_vec())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Spilled or not, each bucket gives back exactly its own ids, in the order pushed.
    #[test]
    fn buckets_give_back_what_was_pushed_in_order() {
        let held = filled(usize::MAX);
        let spilled = filled(100);
        assert_eq!(held.spilled_bytes(), 0);
        assert!(
            spilled.spilled_bytes() > 6000,
            "{}",
            spilled.spilled_bytes()
        );
        let hashing = filled(usize::MAX);
        let bucket_of = |id: &str| hashing.bucket_of(id.as_bytes());
        let (held, spilled) = (held.drain(), spilled.drain());
        let mut all = Vec::new();
        for bucket in 0..4 {
            let want = lines(&held.take(bucket).unwrap());
            assert_eq!(lines(&spilled.take(bucket).unwrap()), want);
            for id in &want {
                assert_eq!(bucket_of(id), bucket);
            }
            let in_order: Vec<u32> = want.iter().map(|id| id[2..].parse().unwrap()).collect();
            assert!(in_order.is_sorted(), "{in_order:?}");
            all.extend(want);
        }
        assert_eq!(all.len(), 1000);
        assert!(all.iter().any(|id| id == "id0") && all.iter().any(|id| id == "id999"));
        // a bucket is handed out once
        let twice = spilled.take(0).unwrap_err().to_string();
        assert!(
            twice.contains("bucket 0 of test rows taken twice"),
            "{twice}"
        );
    }

    /// A run of consecutive ids (as a report's lines come) is spread evenly: no bucket gets
    /// more than twice its share of any thousand ids in a row.
    #[test]
    fn consecutive_ids_spread_over_every_bucket() {
        let buckets = SpillBuckets::new("test rows", 256, 1, &std::env::temp_dir());
        for start in [0u64, 12_345, 9_999_000] {
            let mut counts = vec![0u32; 256];
            for n in start..start + 25_600 {
                counts[buckets.bucket_of(format!("ch_{n}").as_bytes())] += 1;
            }
            let (least, most) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(*least >= 50 && *most <= 200, "{start}: {least}..{most}");
        }
    }

    /// No id reaches the disk in clear, and a segment that is altered does not open.
    #[test]
    fn the_spill_file_holds_no_id_in_clear_and_refuses_an_altered_segment() {
        let spilled = filled(100);
        let end = spilled.spilled_bytes();
        let spilled = spilled.drain();
        let file = &spilled.spilled.as_ref().unwrap().file;
        let mut on_disk = vec![0u8; end as usize];
        file.read_exact_at(&mut on_disk, 0).unwrap();
        for n in [0, 1, 17, 500, 999] {
            let id = format!("id{n}\n");
            assert!(
                !on_disk.windows(id.len()).any(|w| w == id.as_bytes()),
                "{id:?} in clear"
            );
        }
        let (offset, _) = spilled.spilled.as_ref().unwrap().segments[1][0];
        let mut byte = [0u8; 1];
        let at = offset + 80;
        file.read_exact_at(&mut byte, at).unwrap();
        file.write_all_at(&[byte[0] ^ 1], at).unwrap();
        let e = spilled.take(1).unwrap_err().to_string();
        assert!(e.contains("spilled test rows do not open"), "{e}");
    }

    /// A folder that cannot hold the file names itself and the setting.
    #[test]
    fn a_folder_that_cannot_hold_the_spill_says_so() {
        let mut buckets = SpillBuckets::new("ledger rows", 2, 1, Path::new("/dev/null/none"));
        let e = buckets
            .push(0, |out| out.extend_from_slice(b"xy"))
            .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "cannot create a spill file for ledger rows in /dev/null/none: Not a directory"
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("job.temp_dir (or RECON_TEMP_DIR)"),
            "{e}"
        );
    }
}
