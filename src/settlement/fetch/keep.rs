//! Writing a fetched report under `<out>/downloads/`: streamed to a temporary name, hashed as it
//! is written, renamed into place only once complete; folder 0700, file 0600.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

/// A report being written; [`Kept::finish`] puts it in place.
pub(crate) struct Kept {
    target: PathBuf,
    partial: PathBuf,
    file: tokio::fs::File,
    hasher: Sha256,
    bytes: u64,
}

/// What was kept: the file's SHA-256 (hex) and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeptFile {
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
}

impl Kept {
    pub(crate) async fn create(target: &Path) -> Result<Kept> {
        if let Some(dir) = target.parent() {
            crate::private_fs::create_dir_all(dir)
                .map_err(|e| Error::internal(format!("{}: {e}", dir.display())))?;
        }
        let partial = target.with_extension("partial");
        let file = crate::private_fs::create_file(&partial)
            .map(tokio::fs::File::from_std)
            .map_err(|e| Error::internal(format!("writing {}: {e}", partial.display())))?;
        Ok(Kept {
            target: target.to_path_buf(),
            partial,
            file,
            hasher: Sha256::new(),
            bytes: 0,
        })
    }

    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        self.file.write_all(chunk).await.map_err(|e| self.error(e))
    }

    pub(crate) async fn finish(mut self) -> Result<KeptFile> {
        self.file.flush().await.map_err(|e| self.error(e))?;
        tokio::fs::rename(&self.partial, &self.target)
            .await
            .map_err(|e| self.error(e))?;
        Ok(KeptFile {
            sha256: hex::encode(self.hasher.finalize()),
            bytes: self.bytes,
        })
    }

    /// Removes what was written so far: the report is not kept.
    pub(crate) async fn discard(&self) {
        let _ = tokio::fs::remove_file(&self.partial).await;
    }

    fn error(&self, e: std::io::Error) -> Error {
        Error::internal(format!("writing {}: {e}", self.partial.display()))
    }
}
