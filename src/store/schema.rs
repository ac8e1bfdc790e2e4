//! The store's schema version against this binary's migrations, so that only `recon migrate`
//! changes the schema of an existing store and no command works on one it does not match.

use std::collections::BTreeMap;

use super::{Store, StorePool};
use crate::error::{Error, Result};

/// What a command may do to the store's schema when it opens the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaUse {
    /// `recon migrate`: applies every pending migration (the one command that needs DDL rights).
    Migrate,
    /// `recon run` and `retry`: a store with no recon schema at all (a new SQLite file, an empty
    /// database) is created; an existing one must already be at this binary's version.
    CreateIfNew,
    /// The operator's commands: the schema must be at this binary's version; nothing is created
    /// or changed, so the read-only ones work under a SELECT-only role.
    Current,
}

/// Where the store's schema stands against this binary's migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SchemaState {
    /// No `_sqlx_migrations` table: recon never migrated this store.
    New,
    /// Every migration this binary has is applied, and no other.
    Current { version: i64 },
    /// Migrations this binary has are not applied yet.
    Behind { applied: Option<i64>, latest: i64 },
    /// The store has a migration this binary does not know: a newer recon migrated it.
    Newer { applied: i64, latest: i64 },
    /// A migration started and did not finish.
    Failed { version: i64 },
    /// An applied migration's text differs from this binary's.
    Changed { version: i64 },
}

/// One row of `_sqlx_migrations`.
struct Applied {
    version: i64,
    success: bool,
    checksum: Vec<u8>,
}

impl Store {
    /// This binary's migrations for the store's engine.
    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        static SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
        static POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
        match &self.pool {
            StorePool::Sqlite(_) => &SQLITE,
            StorePool::Postgres(_) => &POSTGRES,
        }
    }

    /// Applies pending migrations (idempotent; sqlx serialises concurrent migrators).
    pub async fn migrate(&self) -> Result<()> {
        let result = on_pool!(self, pool => self.migrator().run(pool).await);
        result.map_err(|e| Error::internal(format!("store migration failed: {e}")))
    }

    /// Reads the store's schema version (SELECT only) and compares it with this binary's.
    pub(crate) async fn schema_state(&self) -> Result<SchemaState> {
        let has_table: bool = match &self.pool {
            StorePool::Sqlite(pool) => sqlx::query_scalar(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_one(pool)
            .await
            .map_err(Error::from_store)?,
            StorePool::Postgres(pool) => {
                sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                    .fetch_one(pool)
                    .await
                    .map_err(Error::from_store)?
            }
        };
        if !has_table {
            return Ok(SchemaState::New);
        }
        let rows: Vec<(i64, bool, Vec<u8>)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
                .fetch_all(pool)
                .await
                .map_err(|e| {
                    Error::from_store(e).context(format!(
                        "reading the schema version of the store {} (every role needs SELECT on _sqlx_migrations)",
                        self.shown()
                    ))
                })?
        });
        let applied = rows
            .into_iter()
            .map(|(version, success, checksum)| Applied {
                version,
                success,
                checksum,
            })
            .collect::<Vec<_>>();
        let known: BTreeMap<i64, &[u8]> = self
            .migrator()
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| (m.version, m.checksum.as_ref()))
            .collect();
        Ok(compare(&applied, &known))
    }

    /// Brings the store's schema where `schema_use` allows, or refuses (exit 2) saying what to
    /// run: see [`SchemaUse`].
    pub(crate) async fn prepare_schema(&self, schema_use: SchemaUse) -> Result<()> {
        let mut state = self.schema_state().await?;
        if schema_use == SchemaUse::CreateIfNew {
            state = self.after_migrations_in_flight(state).await?;
            // A run that died while creating the store left it part-way: it holds no history,
            // so finishing its creation changes nothing an older recon made.
            if matches!(state, SchemaState::Behind { .. }) && !self.holds_a_run().await? {
                state = SchemaState::New;
            }
        }
        let shown = self.shown();
        let migrate_hint = "back the store up, then run `recon migrate` with the migrator's credentials (README: Least privilege)";
        match (state, schema_use) {
            (SchemaState::Current { .. }, _) => Ok(()),
            (SchemaState::New, SchemaUse::Migrate | SchemaUse::CreateIfNew)
            | (SchemaState::Behind { .. }, SchemaUse::Migrate) => self.migrate().await,
            (SchemaState::New, SchemaUse::Current) => Err(Error::bad_input(format!(
                "the store {shown} has no recon schema yet: create it with `recon migrate` (or a first `recon run`)"
            ))),
            (SchemaState::Behind { applied, latest }, _) => Err(Error::bad_input(format!(
                "the store {shown} is at schema version {}, this recon needs {latest}: {migrate_hint}",
                applied.map_or_else(|| "none".to_string(), |v| v.to_string())
            ))),
            (SchemaState::Newer { applied, latest }, _) => Err(Error::bad_input(format!(
                "the store {shown} is at schema version {applied}, newer than this recon knows ({latest}): run the recon that migrated it, or a newer one"
            ))),
            (SchemaState::Failed { version }, _) => Err(Error::internal(format!(
                "the store {shown}'s migration {version} did not finish: restore the backup taken before `recon migrate` and run it again"
            ))),
            (SchemaState::Changed { version }, _) => Err(Error::internal(format!(
                "the store {shown}'s migration {version} differs from this recon's: it was migrated by another build; run that build"
            ))),
        }
    }
}

impl Store {
    /// Whether the store has recorded any run (SELECT only; no `runs` table yet is none).
    async fn holds_a_run(&self) -> Result<bool> {
        let has_table: bool = match &self.pool {
            StorePool::Sqlite(pool) => sqlx::query_scalar(
                "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'runs'",
            )
            .fetch_one(pool)
            .await
            .map_err(Error::from_store)?,
            StorePool::Postgres(pool) => {
                sqlx::query_scalar("SELECT to_regclass('runs') IS NOT NULL")
                    .fetch_one(pool)
                    .await
                    .map_err(Error::from_store)?
            }
        };
        if !has_table {
            return Ok(false);
        }
        on_pool!(self, pool => {
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM runs)")
                .fetch_one(pool)
                .await
                .map_err(Error::from_store)
        })
    }
}

/// How long a store's migrations must stand still before a run takes it as behind: two shards
/// starting on a new store find one of them still creating it.
const MIGRATIONS_SETTLE: std::time::Duration = std::time::Duration::from_secs(2);

/// The longest a run waits for another process's migrations to finish.
const MIGRATIONS_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

impl Store {
    /// `state` once no other process is migrating the store: a behind store is read again until
    /// it is current or its applied migrations stood still for [`MIGRATIONS_SETTLE`].
    async fn after_migrations_in_flight(&self, mut state: SchemaState) -> Result<SchemaState> {
        let started = std::time::Instant::now();
        let mut last_change = started;
        while matches!(state, SchemaState::Behind { .. })
            && last_change.elapsed() < MIGRATIONS_SETTLE
            && started.elapsed() < MIGRATIONS_WAIT
        {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let now = self.schema_state().await?;
            if now != state {
                last_change = std::time::Instant::now();
                state = now;
            }
        }
        Ok(state)
    }
}

/// Where `applied` (the store's `_sqlx_migrations`, by version) stands against `known` (this
/// binary's migrations: version to checksum). A newer or broken store is named before a behind one.
fn compare(applied: &[Applied], known: &BTreeMap<i64, &[u8]>) -> SchemaState {
    let latest = known.keys().next_back().copied().unwrap_or(0);
    for a in applied {
        if !a.success {
            return SchemaState::Failed { version: a.version };
        }
        match known.get(&a.version) {
            None => {
                let applied = applied.iter().map(|a| a.version).max().unwrap_or(a.version);
                return SchemaState::Newer { applied, latest };
            }
            Some(checksum) if *checksum != a.checksum.as_slice() => {
                return SchemaState::Changed { version: a.version };
            }
            Some(_) => {}
        }
    }
    let applied_max = applied.iter().map(|a| a.version).max();
    if known
        .keys()
        .any(|v| !applied.iter().any(|a| a.version == *v))
    {
        return SchemaState::Behind {
            applied: applied_max,
            latest,
        };
    }
    SchemaState::Current { version: latest }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(version: i64, success: bool, checksum: &[u8]) -> Applied {
        Applied {
            version,
            success,
            checksum: checksum.to_vec(),
        }
    }

    #[test]
    fn the_store_is_compared_with_the_binarys_migrations() {
        let known: BTreeMap<i64, &[u8]> = [(1, &b"a"[..]), (2, &b"b"[..])].into();
        let current = [applied(1, true, b"a"), applied(2, true, b"b")];
        assert_eq!(
            compare(&current, &known),
            SchemaState::Current { version: 2 }
        );
        assert_eq!(
            compare(&[applied(1, true, b"a")], &known),
            SchemaState::Behind {
                applied: Some(1),
                latest: 2
            }
        );
        assert_eq!(
            compare(&[], &known),
            SchemaState::Behind {
                applied: None,
                latest: 2
            }
        );
        let newer = [
            applied(1, true, b"a"),
            applied(2, true, b"b"),
            applied(3, true, b"c"),
        ];
        assert_eq!(
            compare(&newer, &known),
            SchemaState::Newer {
                applied: 3,
                latest: 2
            }
        );
        let failed = [applied(1, true, b"a"), applied(2, false, b"b")];
        assert_eq!(compare(&failed, &known), SchemaState::Failed { version: 2 });
        let changed = [applied(1, true, b"x"), applied(2, true, b"b")];
        assert_eq!(
            compare(&changed, &known),
            SchemaState::Changed { version: 1 }
        );
    }
}
