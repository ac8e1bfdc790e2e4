//! Least privilege on a real PostgreSQL store: the README's three roles (migrator, job, analyst)
//! and a SELECT-only one, each command working or refused as the README says; only `migrate`
//! changes the schema; the audit log is append-only; an acknowledgement's actor is the session's
//! role. And the same append-only audit log on a SQLite store.

use std::path::Path;
use std::process::Output;

use crate::common::*;

/// The SQL block of the README whose first line is `first_line`.
fn readme_sql(first_line: &str) -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find(&format!("```sql\n{first_line}\n"))
        .unwrap_or_else(|| panic!("the README has no SQL block starting {first_line:?}"));
    let body = &readme[start + "```sql\n".len()..];
    body[..body.find("```").unwrap()].to_string()
}

/// `url` with its user replaced by `role` (trust authentication: no password).
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (_, host) = rest.split_once('@').unwrap();
    format!("{scheme}://{role}@{host}")
}

struct Roles {
    migrator: String,
    job: String,
    analyst: String,
    reader: String,
}

impl Roles {
    fn new() -> Self {
        Roles {
            migrator: test_name("lp_migrator"),
            job: test_name("lp_job"),
            analyst: test_name("lp_analyst"),
            reader: test_name("lp_reader"),
        }
    }

    /// The README's SQL with its role names made this test's (roles are cluster-wide).
    fn named(&self, sql: &str) -> String {
        sql.replace("recon_migrator", &self.migrator)
            .replace("recon_job", &self.job)
            .replace("recon_analyst", &self.analyst)
    }

    fn all(&self) -> [&str; 4] {
        [&self.migrator, &self.job, &self.analyst, &self.reader]
    }
}

/// Runs `recon args` in `dir` with the store at `store`.
fn recon_as(dir: &Path, store: &str, args: &[&str]) -> Output {
    let ledger = sqlite_url(dir.join("l.db"));
    let payments = sqlite_url(dir.join("p.db"));
    recon(
        args,
        &[
            ("STORE_URL", store),
            ("LEDGER_URL", &ledger),
            ("PAYMENTS_URL", &payments),
        ],
        dir,
    )
}

fn outcome(out: &Output) -> (Option<i32>, String) {
    (out.status.code(), stderr(out).trim().to_string())
}

const RUN: &[&str] = &[
    "run",
    "--config",
    "recon.toml",
    "--date",
    "2026-11-20",
    "--out",
    "out",
];
const LIST: &[&str] = &["discrepancies", "list", "--config", "recon.toml", "--json"];
const VERIFY: &[&str] = &["audit", "verify", "--config", "recon.toml"];
const EXPORT: &[&str] = &["audit", "export", "--config", "recon.toml"];
const MIGRATE: &[&str] = &["migrate", "--config", "recon.toml"];

fn ack<'a>(note: &'a str, actor: &'a str) -> Vec<&'a str> {
    vec![
        "discrepancies",
        "ack",
        "--reason",
        "explained",
        "1",
        "--config",
        "recon.toml",
        "--note",
        note,
        "--actor",
        actor,
    ]
}

/// What `sql` run by `url`'s role says: `Ok` or the database's message.
async fn pg_try(url: &str, sql: &str) -> Result<(), String> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let result = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .map(|_| ())
        .map_err(|e| {
            e.as_database_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string())
        });
    pool.close().await;
    result
}

async fn sides(dir: &Path) {
    let schema = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    sqlite_db(
        &dir.join("l.db"),
        &[schema, "INSERT INTO entries VALUES (1, 100), (2, 200)"],
    )
    .await;
    sqlite_db(
        &dir.join("p.db"),
        &[schema, "INSERT INTO entries VALUES (1, 100)"],
    )
    .await;
    let config = TestConfig::new()
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .to_toml();
    write(dir, "recon.toml", &config);
}

/// This binary's PostgreSQL migrations up to `version`, applied as `url`'s role: a store an
/// older recon migrated.
async fn migrate_up_to(url: &str, version: i64) {
    let dir = temp_dir();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let number: i64 = name[..4].parse().unwrap();
        if number <= version {
            std::fs::copy(entry.path(), dir.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    migrator.run(&pool).await.unwrap();
    pool.close().await;
}

/// The latest migration this binary has.
fn latest_migration() -> i64 {
    std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres"))
        .unwrap()
        .map(|e| {
            e.unwrap().file_name().into_string().unwrap()[..4]
                .parse::<i64>()
                .unwrap()
        })
        .max()
        .unwrap()
}

#[tokio::test]
async fn each_role_works_or_is_refused_as_the_readme_says_on_postgres() {
    let Some(admin) = fresh_postgres("least_privilege").await else {
        return;
    };
    let roles = Roles::new();
    let drop_roles = || async {
        for role in roles.all() {
            pg_exec(&admin, &[&format!("DROP ROLE IF EXISTS {role}")]).await;
        }
    };
    drop_roles().await;
    pg_exec(
        &admin,
        &[
            &roles.named(&readme_sql(
                "-- store roles: as an administrator, once, in the store's database",
            )),
            &format!("CREATE ROLE {} LOGIN", roles.reader),
            &format!("GRANT USAGE ON SCHEMA public TO {}", roles.reader),
        ],
    )
    .await;
    let [migrator, job, analyst, reader] = roles.all().map(|role| as_role(&admin, role));
    let dir = temp_dir();
    let dir = dir.path();
    sides(dir).await;
    let latest = latest_migration();

    // An empty database: the read commands create nothing; the job cannot create the schema.
    assert_eq!(
        outcome(&recon_as(dir, &reader, VERIFY)),
        (
            Some(2),
            format!(
                "recon: the store {reader} has no recon schema yet: create it with `recon migrate` (or a first `recon run`)"
            )
        )
    );
    let (code, message) = outcome(&recon_as(dir, &job, RUN));
    assert_eq!(code, Some(5), "{message}");
    assert!(
        message.contains("store migration failed") && message.contains("permission denied"),
        "{message}"
    );

    // A store an older recon migrated: every command but migrate refuses it, saying what to run.
    migrate_up_to(&migrator, 14).await;
    // What an older deployment granted (reading its tables, the schema version among them) and
    // the history it kept: a store with no run yet would be one a run died creating.
    pg_exec(
        &migrator,
        &[
            &format!(
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}, {}, {}",
                roles.job, roles.analyst, roles.reader
            ),
            "INSERT INTO runs (business_date, started_at, finished_at, status, outcome, exit_code, host, pid, config_digest, recon_version)
             VALUES ('2026-11-18', now(), now(), 'finished', 'clean', 0, 'h', 1, 'c', '0.1.0')",
        ],
    )
    .await;
    let behind = |url: &str| {
        format!(
            "recon: the store {url} is at schema version 14, this recon needs {latest}: back the store up, then run `recon migrate` with the migrator's credentials (README: Least privilege)"
        )
    };
    assert_eq!(outcome(&recon_as(dir, &job, RUN)), (Some(2), behind(&job)));
    assert_eq!(
        outcome(&recon_as(dir, &analyst, LIST)),
        (Some(2), behind(&analyst))
    );
    let (code, message) = outcome(&recon_as(dir, &job, MIGRATE));
    assert_eq!(code, Some(5), "{message}");
    assert!(message.contains("permission denied"), "{message}");

    let migrated = recon_as(dir, &migrator, MIGRATE);
    assert_eq!(outcome(&migrated), (Some(0), String::new()));
    assert_eq!(stdout(&migrated), "store is up to date\n");
    pg_exec(
        &migrator,
        &[
            &roles.named(&readme_sql(
                "-- store grants: as recon_migrator, after every recon migrate",
            )),
            &format!(
                "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}",
                roles.reader
            ),
        ],
    )
    .await;

    // The job runs; the analyst cannot.
    assert_eq!(outcome(&recon_as(dir, &job, RUN)).0, Some(1));
    let (code, message) = outcome(&recon_as(dir, &analyst, RUN));
    assert_eq!(code, Some(5), "{message}");
    assert!(message.contains("permission denied"), "{message}");

    // The SELECT-only role reads; it cannot acknowledge.
    let listed = recon_as(dir, &reader, LIST);
    assert_eq!(outcome(&listed), (Some(0), String::new()));
    let listed: serde_json::Value = serde_json::from_str(stdout(&listed).trim()).unwrap();
    assert_eq!(
        (&listed["id"], &listed["status"]),
        (&serde_json::json!(1), &serde_json::json!("open"))
    );
    let verified = recon_as(dir, &reader, VERIFY);
    assert_eq!(outcome(&verified), (Some(0), String::new()));
    assert!(
        stdout(&verified).starts_with("audit chain intact: 4 entries checked; head 4 "),
        "{}",
        stdout(&verified)
    );
    let exported = recon_as(dir, &reader, EXPORT);
    assert_eq!(outcome(&exported), (Some(0), String::new()));
    assert_eq!(stdout(&exported).lines().count(), 4);
    let (code, message) = outcome(&recon_as(dir, &reader, &ack("mine", "Rita")));
    assert_eq!(code, Some(5), "{message}");
    assert!(message.contains("permission denied"), "{message}");

    // The analyst acknowledges as its role; a second note joins the first.
    let first = recon_as(dir, &analyst, &ack("booked late", "Ana Lima"));
    assert_eq!(outcome(&first), (Some(0), String::new()));
    assert_eq!(
        stdout(&first),
        format!(
            "discrepancy 1 (entries missing_in_right id=2) acknowledged (explained) by {} (Ana Lima)\n",
            roles.analyst
        )
    );
    let second = recon_as(dir, &analyst, &ack("bank confirmed", "Bo"));
    assert_eq!(outcome(&second), (Some(0), String::new()));
    let listed: serde_json::Value =
        serde_json::from_str(stdout(&recon_as(dir, &reader, LIST)).trim()).unwrap();
    assert_eq!(
        listed["acknowledgements"],
        serde_json::json!([
            {"note": "booked late", "actor": format!("{} (Ana Lima)", roles.analyst), "reason": "explained"},
            {"note": "bank confirmed", "actor": format!("{} (Bo)", roles.analyst), "reason": "explained"},
        ])
    );
    assert_eq!(listed["ack_note"], "bank confirmed");
    // The chain binds the acknowledgement as stored, actor set by the database: it verifies.
    let verified = recon_as(dir, &reader, VERIFY);
    assert_eq!(outcome(&verified), (Some(0), String::new()));
    assert!(
        stdout(&verified).starts_with("audit chain intact: 6 entries checked; head 6 "),
        "{}",
        stdout(&verified)
    );
    let actors: Vec<String> = stdout(&recon_as(dir, &reader, EXPORT))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "discrepancy_acknowledged")
        .map(|e| format!("{} {}", e["actor"], e["payload"]))
        .collect();
    assert_eq!(actors.len(), 2, "{actors:?}");
    assert!(
        actors[0].starts_with(&format!("\"{} (Ana Lima)\"", roles.analyst)),
        "{actors:?}"
    );
    // A client cannot name another actor: the database sets it.
    assert_eq!(
        pg_try(
            &analyst,
            "INSERT INTO acknowledgements (discrepancy_id, at, actor, note) VALUES (1, now(), 'mallory', 'forged')"
        )
        .await,
        Ok(())
    );
    assert_eq!(
        sqlx::query_scalar::<_, String>("SELECT actor FROM acknowledgements WHERE note = 'forged'")
            .fetch_one(&sqlx::PgPool::connect(&admin).await.unwrap())
            .await
            .unwrap(),
        roles.analyst
    );

    // The audit log is append-only: the job has no grant, and even the owner meets the trigger.
    for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"] {
        assert_eq!(
            pg_try(&job, sql).await,
            Err("permission denied for table audit_log".to_string())
        );
    }
    for (sql, op) in [
        ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "UPDATE"),
        ("DELETE FROM audit_log WHERE seq = 1", "DELETE"),
        ("TRUNCATE audit_log", "TRUNCATE"),
    ] {
        assert_eq!(
            pg_try(&migrator, sql).await,
            Err(format!("audit_log is append-only: {op} refused"))
        );
    }
    assert_eq!(
        pg_try(&job, "CREATE TABLE sneaky (id INTEGER)").await,
        Err("permission denied for schema public".to_string())
    );

    // A store a newer recon migrated is refused too.
    pg_exec(
        &admin,
        &[
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
           VALUES (9999, 'from the future', true, '\\x00', 0)",
        ],
    )
    .await;
    assert_eq!(
        outcome(&recon_as(dir, &job, RUN)),
        (
            Some(2),
            format!(
                "recon: the store {job} is at schema version 9999, newer than this recon knows ({latest}): run the recon that migrated it, or a newer one"
            )
        )
    );

    drop_database_then_roles(&admin, &roles).await;
}

/// Roles own objects in the test's database: it goes first, then they can.
async fn drop_database_then_roles(admin: &str, roles: &Roles) {
    let (server, name) = admin.rsplit_once('/').unwrap();
    let maintenance = format!("{server}/postgres");
    pg_exec(
        &maintenance,
        &[&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")],
    )
    .await;
    for role in roles.all() {
        pg_exec(&maintenance, &[&format!("DROP ROLE IF EXISTS {role}")]).await;
    }
}

/// SQLite has no roles: the triggers alone keep its audit log append-only.
#[tokio::test]
async fn the_audit_log_is_append_only_on_a_sqlite_store() {
    let dir = temp_dir();
    let dir = dir.path();
    sides(dir).await;
    let store = sqlite_url(dir.join("s.db"));
    assert_eq!(outcome(&recon_as(dir, &store, RUN)).0, Some(1));
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    for (sql, op) in [
        ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "UPDATE"),
        ("DELETE FROM audit_log WHERE seq = 1", "DELETE"),
    ] {
        let refused = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&pool)
            .await
            .unwrap_err();
        assert_eq!(
            refused.as_database_error().unwrap().message(),
            format!("audit_log is append-only: {op} refused")
        );
    }
    pool.close().await;
    // A second acknowledgement adds a note.
    for (note, actor) in [("booked late", "ana"), ("bank confirmed", "bo")] {
        assert_eq!(
            outcome(&recon_as(dir, &store, &ack(note, actor))),
            (Some(0), String::new())
        );
    }
    let listed: serde_json::Value =
        serde_json::from_str(stdout(&recon_as(dir, &store, LIST)).trim()).unwrap();
    assert_eq!(
        listed["acknowledgements"],
        serde_json::json!([
            {"note": "booked late", "actor": "ana", "reason": "explained"},
            {"note": "bank confirmed", "actor": "bo", "reason": "explained"},
        ])
    );
}

/// The read commands never create a store: a missing SQLite file stays missing.
#[test]
fn a_read_command_on_a_missing_sqlite_store_creates_nothing() {
    let dir = temp_dir();
    let dir = dir.path();
    write(
        dir,
        "recon.toml",
        &TestConfig::new()
            .store("STORE_URL")
            .source("ledger", "LEDGER_URL")
            .source("payments", "PAYMENTS_URL")
            .integrity("entries", "ledger.entries", "payments.entries", "id")
            .to_toml(),
    );
    let store = sqlite_url(dir.join("s.db"));
    assert_eq!(
        outcome(&recon_as(dir, &store, VERIFY)),
        (
            Some(2),
            format!(
                "recon: the store {store} does not exist: create it with `recon migrate` (or a first `recon run`)"
            )
        )
    );
    assert!(!dir.join("s.db").exists());
}

/// An old SQLite store (migrated to 0014 by an older recon, one discrepancy acknowledged): `run`
/// refuses it, saying what to run; `recon migrate` brings it to this binary's version with the
/// note moved to the acknowledgements, and then `run` works.
#[tokio::test]
async fn an_old_sqlite_store_is_refused_until_migrated_and_keeps_its_note() {
    let dir = temp_dir();
    let dir = dir.path();
    sides(dir).await;
    let store = sqlite_url(dir.join("s.db"));
    let old = temp_dir();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name[..4].parse::<i64>().unwrap() <= 14 {
            std::fs::copy(entry.path(), old.path().join(&name)).unwrap();
        }
    }
    let options = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(&store)
        .unwrap()
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::migrate::Migrator::new(old.path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(
        "INSERT INTO runs (id, business_date, started_at, status, host, pid, config_digest, recon_version)
         VALUES (1, '2026-11-19', '2026-11-20T04:30:00Z', 'finished', 'h', 1, 'c', '0.1.0');
         INSERT INTO discrepancies (id, fingerprint, check_name, partition_key, kind, key_json,
             columns_json, detail_json, status, first_run_id, last_run_id, first_seen_at,
             last_seen_at, ack_note, ack_actor, ack_at)
         VALUES (1, 'f', 'entries', 'all', 'missing_in_right', '{\"id\":\"9\"}', '[]',
             '{\"values\":[],\"detail\":null}',
             'acknowledged', 1, 1, '2026-11-20', '2026-11-20', 'booked late', 'ana',
             '2026-11-20T09:00:00Z')",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let latest = latest_migration();

    assert_eq!(
        outcome(&recon_as(dir, &store, RUN)),
        (
            Some(2),
            format!(
                "recon: the store {store} is at schema version 14, this recon needs {latest}: back the store up, then run `recon migrate` with the migrator's credentials (README: Least privilege)"
            )
        )
    );
    assert_eq!(
        outcome(&recon_as(dir, &store, MIGRATE)),
        (Some(0), String::new())
    );
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    let notes: Vec<(i64, String, Option<String>, String, String)> = sqlx::query_as(
        "SELECT discrepancy_id, actor, display_name, note, at FROM acknowledgements",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(
        notes,
        [(
            1,
            "ana".to_string(),
            None,
            "booked late".to_string(),
            "2026-11-20T09:00:00Z".to_string()
        )]
    );
    assert_eq!(outcome(&recon_as(dir, &store, RUN)).0, Some(1));
}
