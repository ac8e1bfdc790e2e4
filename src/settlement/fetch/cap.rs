//! The byte cap on one download: a report past `max_download_bytes` stops the sync, partial file removed.

use std::path::Path;

use super::keep::{Kept, KeptFile};
use crate::error::{Error, Result};

/// The default `max_download_bytes` of a `[[settlement]]` check: 2 GiB.
pub(crate) const DEFAULT_MAX_DOWNLOAD_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// How a download is kept: at most `max_bytes` bytes, encrypted under `keys` when given.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepRules<'a> {
    pub(crate) max_bytes: u64,
    pub(crate) keys: Option<&'a crate::at_rest::DataKeys>,
}

/// A report being kept that may grow to at most `max` bytes.
pub(crate) struct CappedKept {
    kept: Kept,
    max: u64,
    written: u64,
}

impl CappedKept {
    /// Refuses at once a download whose announced length (`Content-Length`) is past the cap;
    /// otherwise starts keeping it at `target`.
    pub(crate) async fn create(
        target: &Path,
        rules: KeepRules<'_>,
        announced: Option<u64>,
        shown: &str,
    ) -> Result<CappedKept> {
        let max = rules.max_bytes;
        if let Some(length) = announced.filter(|length| *length > max) {
            return Err(too_large(
                shown,
                max,
                &format!("it announces {length} bytes; nothing was downloaded"),
            ));
        }
        Ok(CappedKept {
            kept: Kept::create(target, rules.keys).await?,
            max,
            written: 0,
        })
    }

    /// Keeps `chunk`; past the cap, removes what was kept so far and fails, naming the cap.
    pub(crate) async fn write(&mut self, chunk: &[u8], shown: &str) -> Result<()> {
        let total = self.written.saturating_add(chunk.len() as u64);
        if total > self.max {
            self.kept.discard().await;
            return Err(too_large(
                shown,
                self.max,
                "stopped there and the partial file removed",
            ));
        }
        self.written = total;
        self.kept.write(chunk).await
    }

    pub(crate) async fn finish(self) -> Result<KeptFile> {
        self.kept.finish().await
    }
}

/// The permanent error of a download past `max` bytes (exit 2: a retry would fetch it again).
fn too_large(shown: &str, max: u64, what: &str) -> Error {
    Error::bad_input(format!(
        "{shown}: the report is larger than max_download_bytes = {max} bytes ({what}); raise max_download_bytes in the check's [[settlement]] section if a report this large is genuine"
    ))
}
