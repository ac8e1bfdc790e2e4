//! A quarantined line's text as kept in every output: its first KiB, and for a longer line its full length and SHA-256, so one huge line cannot swell the run's files and store.

use std::fmt;
use std::io::Write;

use sha2::{Digest, Sha256};

/// How many bytes of a quarantined line are kept.
pub(crate) const KEPT_BYTES: usize = 1024;

/// The kept text of one line: all of it when short, else its start, length and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeptText {
    text: String,
}

impl KeptText {
    /// The kept text of `bytes` (invalid UTF-8 shown as U+FFFD).
    pub(crate) fn of(bytes: &[u8]) -> KeptText {
        let mut kept = Capped::default();
        // writing to memory does not fail
        let _ = kept.write_all(bytes);
        kept.finish()
    }
}

impl fmt::Display for KeptText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<KeptText> for String {
    fn from(kept: KeptText) -> String {
        kept.text
    }
}

/// A writer keeping the first [`KEPT_BYTES`] written, counting and hashing all of them.
#[derive(Default)]
pub(crate) struct Capped {
    start: Vec<u8>,
    len: u64,
    hasher: Sha256,
    /// Hold back the last byte written (a line's terminator, not part of the line).
    hold_last: bool,
    held: Option<u8>,
}

impl Capped {
    /// A writer of one line and its one-byte terminator, which is not kept.
    pub(crate) fn line() -> Capped {
        Capped {
            hold_last: true,
            ..Capped::default()
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        let room = KEPT_BYTES.saturating_sub(self.start.len());
        self.start
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        self.len += bytes.len() as u64;
        self.hasher.update(bytes);
    }

    pub(crate) fn finish(self) -> KeptText {
        if self.len <= KEPT_BYTES as u64 {
            return KeptText {
                text: String::from_utf8_lossy(&self.start).into_owned(),
            };
        }
        // cut on a character boundary: drop a character the cap split
        let start = match std::str::from_utf8(&self.start) {
            Ok(text) => text.to_owned(),
            Err(e) if e.error_len().is_none() => {
                String::from_utf8_lossy(self.start.get(..e.valid_up_to()).unwrap_or_default())
                    .into_owned()
            }
            Err(_) => String::from_utf8_lossy(&self.start).into_owned(),
        };
        KeptText {
            text: format!(
                "{start}… [cut at {KEPT_BYTES} of {} bytes; SHA-256 {}]",
                self.len,
                hex::encode(self.hasher.finalize())
            ),
        }
    }
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.hold_last {
            self.take(buf);
            return Ok(buf.len());
        }
        let Some((&last, body)) = buf.split_last() else {
            return Ok(0);
        };
        if let Some(held) = self.held.replace(last) {
            self.take(&[held]);
        }
        self.take(body);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lines_are_kept_whole_long_ones_cut_with_length_and_digest() {
        assert_eq!(KeptText::of(b"a,b").to_string(), "a,b");
        let exact = "x".repeat(KEPT_BYTES);
        assert_eq!(KeptText::of(exact.as_bytes()).to_string(), exact);
        // a two-byte character across the cap is dropped whole
        let long = format!("{}é{}", "a".repeat(KEPT_BYTES - 1), "b".repeat(5000));
        let kept = KeptText::of(long.as_bytes()).to_string();
        let digest = hex::encode(Sha256::digest(long.as_bytes()));
        assert_eq!(
            kept,
            format!(
                "{}… [cut at 1024 of 6025 bytes; SHA-256 {digest}]",
                "a".repeat(KEPT_BYTES - 1)
            )
        );
    }
}
