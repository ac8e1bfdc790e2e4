//! One run at a time per store and business date: a PostgreSQL advisory lock, or an exclusive
//! lock on a file beside a SQLite store. Both die with the process, so a crash never leaves
//! the lock held.
//!
//! The lock file is removed when the lock is released, so files do not pile up one per date.
//! Removing it is safe because the holder unlinks the path while still holding the lock, and a
//! taker, once it has the lock, checks that the path still names the file it locked: one that
//! opened the old file just before the removal finds it gone (or replaced) and starts again on
//! the path's current file, so two runs never hold two different files of one path.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Row};

use super::{Store, StorePool};
use crate::error::{Error, Result};

/// Held while a run (or a retry) works on a business date; released on drop.
pub struct RunLock {
    held: Held,
}

enum Held {
    Postgres(Option<PoolConnection<Postgres>>),
    /// The lock file, kept open to hold its lock, and its path, removed on release.
    File {
        #[allow(dead_code)] // only held open
        file: std::fs::File,
        path: PathBuf,
    },
    /// An in-memory SQLite store lives in one process only.
    InProcess,
}

/// The advisory lock's two keys: recon's namespace and the date (days since 1970) with the shard.
fn advisory_keys(date: NaiveDate, shard: &str) -> (i32, i32) {
    const NAMESPACE: i32 = 0x7265_636f; // "reco"
    let days = (date - NaiveDate::default()).num_days();
    let shard_bits = shard
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
        % 1000;
    let key = days
        .saturating_mul(1000)
        .saturating_add(i64::from(shard_bits));
    (NAMESPACE, i32::try_from(key).unwrap_or(i32::MAX))
}

impl Store {
    /// Takes the lock for `date`, or fails with a locked error naming the run that holds it.
    pub async fn lock_date(&self, date: NaiveDate, shard: &str) -> Result<RunLock> {
        let acquired = match &self.pool {
            StorePool::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(Error::from_store)?;
                let (k1, k2) = advisory_keys(date, shard);
                let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
                    .bind(k1)
                    .bind(k2)
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(Error::from_store)?;
                got.then(|| Held::Postgres(Some(conn)))
            }
            StorePool::Sqlite(_) => match &self.sqlite_path {
                None => Some(Held::InProcess),
                Some(path) => {
                    let suffix = if shard.is_empty() {
                        String::new()
                    } else {
                        format!("-shard-{}", shard.replace('/', "-of-"))
                    };
                    let lock_path =
                        PathBuf::from(format!("{}.lock-{date}{suffix}", path.display()));
                    lock_file(lock_path)?
                }
            },
        };
        match acquired {
            Some(held) => Ok(RunLock { held }),
            None => Err(Error::locked(self.lock_holder(date, shard).await)),
        }
    }

    /// "run 12 on host vm (pid 4242), started 2026-11-21T02:00:03Z", from the runs table.
    async fn lock_holder(&self, date: NaiveDate, shard: &str) -> String {
        let holder = on_pool!(self, pool => sqlx::query(
            "SELECT id, host, pid, started_at FROM runs
             WHERE business_date = $1 AND COALESCE(shard, '') = $2 AND status = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(date)
        .bind(shard)
        .fetch_optional(pool)
        .await
        .ok()
        .flatten()
        .and_then(|row| {
            let id: i64 = row.try_get("id").ok()?;
            let host: String = row.try_get("host").ok()?;
            let pid: i64 = row.try_get("pid").ok()?;
            let started: chrono::DateTime<chrono::Utc> = row.try_get("started_at").ok()?;
            Some(format!("run {id} on host {host} (pid {pid}), started {}", started.format("%Y-%m-%dT%H:%M:%SZ")))
        }));
        match holder {
            Some(h) => format!(
                "another run holds the lock for {date}: {h}; wait for it or check that host"
            ),
            None => {
                format!("another run holds the lock for {date} (it is still starting); wait for it")
            }
        }
    }
}

/// Takes the exclusive lock on the file at `path` (created if need be); `None` when another
/// process holds it.
fn lock_file(path: PathBuf) -> Result<Option<Held>> {
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                Error::internal(format!("cannot open the lock file {}: {e}", path.display()))
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::internal(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )));
            }
        }
        // The holder before may have removed the file between our open and our lock.
        if names_file(&path, &file) {
            return Ok(Some(Held::File { file, path }));
        }
    }
}

/// True when `path` still names the open `file` (not removed, not replaced by a new file).
#[cfg(unix)]
fn names_file(path: &Path, file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

/// Elsewhere the file is never removed (see [`RunLock`]'s drop), so the path names it.
#[cfg(not(unix))]
fn names_file(_: &Path, _: &std::fs::File) -> bool {
    true
}

impl RunLock {
    /// Releases the lock now (dropping it does too).
    pub(crate) async fn release(mut self) {
        if let Held::Postgres(conn) = &mut self.held
            && let Some(mut conn) = conn.take()
        {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // Closing the session releases its advisory locks for certain.
                let _ = conn.detach();
            }
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Unlinked while still locked (the file closes after this), so no taker keeps the old
        // file (see the module's documentation).
        #[cfg(unix)]
        if let Held::File { path, .. } = &self.held {
            let _ = std::fs::remove_file(path);
        }
        // A connection still holding the advisory lock must not go back to the pool: detached
        // and dropped, its session ends and PostgreSQL releases the lock.
        if let Held::Postgres(conn) = &mut self.held
            && let Some(conn) = conn.take()
        {
            drop(conn.detach());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_file_is_taken_once_and_a_removed_or_replaced_one_is_not_the_lock() {
        let dir = std::env::temp_dir().join(format!("recon-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("store.db.lock-2026-11-20");
        let held = lock_file(path.clone()).unwrap();
        assert!(matches!(held, Some(Held::File { .. })));
        assert!(lock_file(path.clone()).unwrap().is_none(), "taken twice");
        let stale = std::fs::File::open(&path).unwrap();
        drop(RunLock {
            held: held.unwrap(),
        });
        assert!(!path.exists(), "the lock file is removed on release");
        // A taker that opened the file before it was removed must not count its lock.
        assert!(!names_file(&path, &stale));
        std::fs::write(&path, b"").unwrap();
        assert!(!names_file(&path, &stale));
        let again = lock_file(path.clone()).unwrap();
        assert!(again.is_some());
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
