//! The bytes quick-xml consumes, counted as lines and optionally kept (capped), so an entry can name the line it starts on and a quarantined entry can keep its own XML text.

use std::io::{self, BufRead, Read, Write};

use crate::settlement::report::kept_text::{Capped, KeptText};

/// A [`BufRead`] that counts the newlines of every byte its reader consumes and, while
/// recording, keeps them in a [`Capped`] writer. quick-xml consumes an event's bytes exactly
/// when it returns the event, so after each event `newlines` is the count up to its end.
pub(super) struct CountingReader<R> {
    inner: R,
    newlines: u64,
    recording: Option<Capped>,
}

impl<R: BufRead> CountingReader<R> {
    pub(super) fn new(inner: R) -> CountingReader<R> {
        CountingReader {
            inner,
            newlines: 0,
            recording: None,
        }
    }

    /// Newlines consumed so far.
    pub(super) fn newlines(&self) -> u64 {
        self.newlines
    }

    /// Starts keeping consumed bytes, after `start` (the bytes already consumed that the
    /// kept text should begin with, such as the element's start tag).
    pub(super) fn record_from(&mut self, start: &[u8]) {
        let mut kept = Capped::default();
        // writing to memory does not fail
        let _ = kept.write_all(start);
        self.recording = Some(kept);
    }

    /// Stops keeping and gives what was kept since [`Self::record_from`].
    pub(super) fn take_recording(&mut self) -> Option<KeptText> {
        self.recording.take().map(Capped::finish)
    }
}

impl<R: BufRead> Read for CountingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountingReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // The buffer is still filled: fill_buf gives it back without reading.
        if let Ok(buffer) = self.inner.fill_buf() {
            let consumed = buffer.get(..amount).unwrap_or(buffer);
            self.newlines += consumed.iter().filter(|&&b| b == b'\n').count() as u64;
            if let Some(kept) = self.recording.as_mut() {
                let _ = kept.write_all(consumed);
            }
        }
        self.inner.consume(amount);
    }
}
