//! One run at a time per store and business date: a PostgreSQL advisory lock, or an exclusive
//! lock on a file beside a SQLite store. Both die with the process, so a crash never leaves
//! the lock held.
//!
//! An advisory lock also dies with its connection: a store blip that cuts it frees the date
//! while the run goes on. So a running run writes a heartbeat every [`HEARTBEAT_EVERY`], a run
//! that finds the lock free but a holder's heartbeat still beating refuses (exit 4), and the holder,
//! before each write, checks its lock ([`RunLock::ensure_held`]): re-taken if its connection
//! dropped, or the run stops (exit 3) when another run has it.
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
use crate::run_id::RunId;

/// How often a running run writes its heartbeat.
pub(crate) const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A heartbeat older than this is a dead run's: four missed beats.
const HEARTBEAT_STALE: chrono::Duration = chrono::Duration::seconds(20);

/// Held while a run (or a retry) works on a business date; released on drop.
pub struct RunLock {
    held: Held,
}

enum Held {
    /// The connection whose session holds the advisory lock, and the lock's keys.
    Postgres {
        conn: Option<PoolConnection<Postgres>>,
        keys: (i32, i32),
    },
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
    /// Takes the lock for `date`, or fails with a locked error naming the run that holds it;
    /// also when the lock is free but a running run's heartbeat is fresh (its lock's
    /// connection dropped while it goes on).
    pub async fn lock_date(&self, date: NaiveDate, shard: &str) -> Result<RunLock> {
        let acquired = match &self.pool {
            StorePool::Postgres(pool) => {
                let mut conn = pool.acquire().await.map_err(Error::from_store)?;
                let keys = advisory_keys(date, shard);
                try_advisory_lock(&mut conn, keys)
                    .await?
                    .then(|| Held::Postgres {
                        conn: Some(conn),
                        keys,
                    })
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
        let Some(held) = acquired else {
            return Err(Error::locked(self.lock_holder(date, shard).await));
        };
        let lock = RunLock { held };
        if let Some(live) = self.live_holder(date, shard).await? {
            lock.release().await;
            return Err(Error::locked(format!(
                "the lock for {date} is free, but {live}: its store connection may have dropped while it goes on; wait for it or check that host"
            )));
        }
        Ok(lock)
    }

    /// The date's running run that is alive, described; `None` when it died. A running run on
    /// this host whose process is gone died; otherwise a fresh heartbeat is watched until it
    /// either beats again (alive: the caller refuses) or grows stale (dead: the caller takes
    /// over) — at most [`HEARTBEAT_STALE`], so a pod retried at once after its predecessor was
    /// killed waits for the verdict instead of failing the Job with exit 4.
    async fn live_holder(&self, date: NaiveDate, shard: &str) -> Result<Option<String>> {
        let Some(first) = self.running_run(date, shard).await? else {
            return Ok(None);
        };
        if first.host == super::hostname() && !process_alive(first.pid) {
            return Ok(None);
        }
        loop {
            let Some(now) = self.running_run(date, shard).await? else {
                return Ok(None); // it finished meanwhile
            };
            let Some(beat) = now.heartbeat else {
                return Ok(None);
            };
            let age = chrono::Utc::now() - beat;
            if now.id != first.id || now.heartbeat != first.heartbeat {
                return Ok(Some(format!(
                    "run {} on host {} (pid {}) is alive (its heartbeat is {} s old)",
                    now.id,
                    now.host,
                    now.pid,
                    age.num_seconds().max(0)
                )));
            }
            if age >= HEARTBEAT_STALE {
                return Ok(None);
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// The date's newest run recorded running, if any.
    async fn running_run(&self, date: NaiveDate, shard: &str) -> Result<Option<Running>> {
        let running: Option<(i64, String, i64, Option<chrono::DateTime<chrono::Utc>>)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT id, host, pid, heartbeat_at FROM runs
             WHERE business_date = $1 AND COALESCE(shard, '') = $2 AND status = 'running' ORDER BY id DESC LIMIT 1",
        )
        .bind(date)
        .bind(shard)
        .fetch_optional(pool)
        .await)
        .map_err(Error::from_store)?;
        Ok(running.map(|(id, host, pid, heartbeat)| Running {
            id,
            host,
            pid,
            heartbeat,
        }))
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

/// A run recorded running: who, and its last heartbeat.
struct Running {
    id: i64,
    host: String,
    pid: i64,
    heartbeat: Option<chrono::DateTime<chrono::Utc>>,
}

/// `pg_try_advisory_lock` on `conn`: true when this session now holds the lock.
async fn try_advisory_lock(conn: &mut PoolConnection<Postgres>, keys: (i32, i32)) -> Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2)")
        .bind(keys.0)
        .bind(keys.1)
        .fetch_one(&mut **conn)
        .await
        .map_err(Error::from_store)
}

/// True when `conn`'s session still holds the advisory lock `keys` (false also when the
/// connection is gone).
async fn still_holds(conn: &mut PoolConnection<Postgres>, keys: (i32, i32)) -> bool {
    let held: std::result::Result<bool, sqlx::Error> = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                          AND pid = pg_backend_pid() AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2)",
    )
    .bind(keys.0)
    .bind(keys.1)
    .fetch_one(&mut **conn)
    .await;
    held.unwrap_or(false)
}

/// True when process `pid` of this host is alive (always, where that cannot be told).
fn process_alive(pid: i64) -> bool {
    if i64::from(std::process::id()) == pid {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// Takes the exclusive lock on the file at `path` (created if need be); `None` when another
/// process holds it.
fn lock_file(path: PathBuf) -> Result<Option<Held>> {
    loop {
        let file = crate::private_fs::open_or_create_file(&path).map_err(|e| {
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
    /// Before run `run_id` writes again: true to its lock. A lock whose connection dropped
    /// (a store blip frees an advisory lock) is re-taken on a new connection, if no other run
    /// took it and this run is still the date's running one; otherwise the run must stop
    /// (exit 3): another run of the date goes on, or will.
    pub(crate) async fn ensure_held(&mut self, store: &Store, run_id: RunId) -> Result<()> {
        let Held::Postgres { conn, keys } = &mut self.held else {
            return Ok(()); // a file lock or an in-process store cannot be lost while held
        };
        let keys = *keys;
        if let Some(c) = conn.as_mut()
            && still_holds(c, keys).await
        {
            return Ok(());
        }
        if let Some(lost) = conn.take() {
            drop(lost.detach());
        }
        let StorePool::Postgres(pool) = &store.pool else {
            return Err(Error::internal(
                "a PostgreSQL lock on a store that is not PostgreSQL",
            ));
        };
        let mut fresh = pool.acquire().await.map_err(Error::from_store)?;
        if !try_advisory_lock(&mut fresh, keys).await? {
            return Err(Error::unavailable(format!(
                "run {run_id} lost its lock when its store connection dropped, and another run holds it now; this run stops before writing again (the other run's results will stand)"
            )));
        }
        *conn = Some(fresh);
        if !store.is_running(run_id).await? {
            return Err(Error::unavailable(format!(
                "run {run_id} lost its lock when its store connection dropped, and another run closed it as abandoned meanwhile; this run stops before writing again"
            )));
        }
        tracing::warn!(
            run_id = run_id.0,
            "the run's lock was lost with its store connection; re-taken"
        );
        Ok(())
    }

    /// Releases the lock now (dropping it does too).
    pub(crate) async fn release(mut self) {
        if let Held::Postgres { conn, .. } = &mut self.held
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
        if let Held::Postgres { conn, .. } = &mut self.held
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
