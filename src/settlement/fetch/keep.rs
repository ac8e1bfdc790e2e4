//! Writing a fetched report under `<out>/downloads/`: streamed to a temporary name, hashed as it
//! is written, encrypted at rest when a data key is configured, renamed into place only once
//! complete; folder 0700, file 0600. And reading one back, decrypting as it streams.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::at_rest::{DataKeys, Sealing};
use crate::error::{Error, Result};

/// A report being written; [`Kept::finish`] puts it in place.
pub(crate) struct Kept {
    target: PathBuf,
    partial: PathBuf,
    file: tokio::fs::File,
    hasher: Sha256,
    bytes: u64,
    /// Encrypts what is written, when a data key is configured.
    sealing: Option<Sealing>,
}

/// What was kept: the report's SHA-256 (hex) and its size, as fetched (before encryption).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeptFile {
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
}

/// What a kept file's ciphertext is bound to: its name (date, check, report), so a file renamed
/// to stand for another day or report does not decrypt.
pub(crate) fn kept_place(path: &Path) -> Vec<u8> {
    let name = path.file_name().unwrap_or(path.as_os_str());
    [b"downloads/".as_slice(), name.as_encoded_bytes()].concat()
}

impl Kept {
    /// Starts keeping a report at `target`, encrypted under `keys` when given.
    pub(crate) async fn create(target: &Path, keys: Option<&DataKeys>) -> Result<Kept> {
        if let Some(dir) = target.parent() {
            crate::private_fs::create_dir_all(dir)
                .map_err(|e| Error::internal(format!("{}: {e}", dir.display())))?;
        }
        let sealing = keys
            .map(|keys| keys.seal_stream(&kept_place(target)))
            .transpose()
            .map_err(|e| Error::internal(format!("encrypting {}: {e}", target.display())))?;
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
            sealing,
        })
    }

    pub(crate) async fn write(&mut self, chunk: &[u8]) -> Result<()> {
        self.hasher.update(chunk);
        self.bytes += chunk.len() as u64;
        match &mut self.sealing {
            None => self.file.write_all(chunk).await.map_err(|e| self.error(e)),
            Some(sealing) => {
                let sealed = sealing.update(chunk).map_err(|e| {
                    Error::internal(format!("encrypting {}: {e}", self.partial.display()))
                })?;
                self.file
                    .write_all(&sealed)
                    .await
                    .map_err(|e| self.error(e))
            }
        }
    }

    pub(crate) async fn finish(mut self) -> Result<KeptFile> {
        if let Some(sealing) = self.sealing.take() {
            let last = sealing.finish().map_err(|e| {
                Error::internal(format!("encrypting {}: {e}", self.partial.display()))
            })?;
            self.file
                .write_all(&last)
                .await
                .map_err(|e| self.error(e))?;
        }
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

/// Whether the file at `path` is encrypted at rest, and under which key id.
pub(crate) fn sealed_key_id(path: &Path) -> std::io::Result<Option<String>> {
    let mut start = Vec::with_capacity(crate::at_rest::FILE_HEADER_PEEK);
    std::fs::File::open(path)?
        .take(crate::at_rest::FILE_HEADER_PEEK as u64)
        .read_to_end(&mut start)?;
    Ok(crate::at_rest::file_key_id(&start).map(str::to_string))
}

/// A reader of the report at `path`: decrypted as it streams when it was kept encrypted (with
/// `keys`; without them, an error saying which variable to set), else the file as it is.
pub(crate) fn open_report(
    path: &Path,
    keys: Option<&DataKeys>,
) -> std::io::Result<Box<dyn Read + Send>> {
    let sealed = sealed_key_id(path)?;
    let file = std::fs::File::open(path)?;
    match (sealed, keys) {
        (None, _) => Ok(Box::new(file)),
        (Some(id), None) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "it is encrypted at rest under data key {id:?} and no data key is configured (set {})",
                crate::at_rest::DEFAULT_DATA_KEY_ENV
            ),
        )),
        (Some(_), Some(keys)) => Ok(Box::new(keys.open_stream(
            &kept_place(path),
            std::io::BufReader::with_capacity(256 * 1024, file),
        )?)),
    }
}

/// Re-encrypts under the current data key every report kept in `downloads` that is not already
/// under it (those in clear too), each through a temporary file renamed into place; returns
/// how many it moved (0 when run again). A missing folder holds none.
pub(crate) fn rewrap_downloads(downloads: &Path, keys: &DataKeys) -> Result<u64> {
    let entries = match std::fs::read_dir(downloads) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(Error::internal(format!(
                "cannot read the downloads folder {}: {e}",
                downloads.display()
            )));
        }
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::internal(format!("{}: {e}", downloads.display())))?;
        let path = entry.path();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if is_file && path.extension().is_none_or(|ext| ext != "partial") {
            paths.push(path);
        }
    }
    paths.sort();
    let mut moved = 0;
    for path in paths {
        let fail = |e: &dyn std::fmt::Display| {
            Error::bad_input(format!("re-encrypting {}: {e}", path.display()))
        };
        let under = sealed_key_id(&path).map_err(|e| fail(&e))?;
        if under.as_deref() == Some(keys.current_id()) {
            continue;
        }
        let mut reader = open_report(&path, Some(keys)).map_err(|e| fail(&e))?;
        let partial = path.with_extension("partial");
        let written = (|| -> std::result::Result<(), String> {
            let mut file = crate::private_fs::create_file(&partial).map_err(|e| e.to_string())?;
            let mut sealing = keys
                .seal_stream(&kept_place(&path))
                .map_err(|e| e.to_string())?;
            let mut buffer = vec![0u8; crate::at_rest::CHUNK_BYTES];
            loop {
                let n = reader.read(&mut buffer).map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                let sealed = sealing.update(&buffer[..n]).map_err(|e| e.to_string())?;
                std::io::Write::write_all(&mut file, &sealed).map_err(|e| e.to_string())?;
            }
            let last = sealing.finish().map_err(|e| e.to_string())?;
            std::io::Write::write_all(&mut file, &last).map_err(|e| e.to_string())?;
            file.sync_all().map_err(|e| e.to_string())?;
            std::fs::rename(&partial, &path).map_err(|e| e.to_string())
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(fail(&e));
        }
        moved += 1;
    }
    Ok(moved)
}
