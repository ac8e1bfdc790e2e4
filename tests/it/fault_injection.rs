//! A source connection killed by the server in the middle of a table is retried, and the run
//! ends exactly as an undisturbed one: on PostgreSQL (`pg_terminate_backend`) and MariaDB
//! (`KILL CONNECTION`). The reads are found the way a DBA would find them: by
//! `application_name = 'recon'` on PostgreSQL (a whole table is read with `COPY (SELECT …)`), by
//! the `/* recon */` tag in `SHOW PROCESSLIST` on MariaDB.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use sqlx::Row;

const ROWS: u32 = 100_000;

fn config() -> String {
    TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 50)
        .set("max_delay_ms", 200)
        .set("max_attempts", 4)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .to_toml()
}

/// The same entries on PostgreSQL and MariaDB, but entry 3's amount and entry 5's presence;
/// rows wide enough (20 MB) that the server is still sending when the kill comes.
async fn sources(test: &str) -> Option<(String, String)> {
    let (Some(pg), Some(my)) = (fresh_postgres(test).await, fresh_mysql(test).await) else {
        return None;
    };
    pg_exec(
        &pg,
        &[
            "CREATE TABLE entries (id bigint PRIMARY KEY, amount_minor bigint, memo text)",
            &format!(
                "INSERT INTO entries SELECT i, i * 7, repeat('x', 200) || i FROM generate_series(1, {ROWS}) i"
            ),
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            "CREATE TABLE entries (id bigint PRIMARY KEY, amount_minor bigint, memo varchar(240))",
            &format!(
                "INSERT INTO entries SELECT seq, seq * 7, CONCAT(REPEAT('x', 200), seq) FROM seq_1_to_{ROWS}"
            ),
            "UPDATE entries SET amount_minor = 0 WHERE id = 3",
            "DELETE FROM entries WHERE id = 5",
        ],
    )
    .await;
    Some((pg, my))
}

/// Runs recon while `kill` ends its session on one server once, mid-read.
async fn run_with_one_kill(dir: &Path, pg: &str, my: &str, kill: impl AsyncFnMut() -> bool) {
    write(dir, "recon.toml", &config());
    let store = sqlite_url(dir.join("store.db"));
    let child = Command::new(env!("CARGO_BIN_EXE_recon"))
        .args([
            "run",
            "--config",
            "recon.toml",
            "--date",
            "2026-11-20",
            "--out",
            "out",
        ])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env("STORE_URL", &store)
        .env("LEDGER_URL", pg)
        .env("PAYMENTS_URL", my)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let killed = kill_once(kill).await;
    let out = child.wait_with_output().unwrap();
    assert!(
        killed,
        "the read never showed up on the server to be killed"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    let summary = summary(dir);
    let check = &summary["checks"][0];
    assert_eq!(check["status"], "discrepancies", "{check}");
    assert_eq!(check["attempts"], 2, "{check}");
    let found: Vec<(String, String)> = kinds_and_keys(&summary["discrepancies"]);
    assert_eq!(
        found,
        [
            ("changed".to_string(), r#"{"id":"3"}"#.to_string()),
            ("missing_in_right".to_string(), r#"{"id":"5"}"#.to_string()),
        ]
    );
}

/// Polls `kill` until it reports a killed session, for at most 20 seconds.
async fn kill_once(mut kill: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if kill().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn a_postgres_session_terminated_mid_table_is_retried() {
    let Some((pg, my)) = sources("kill_pg").await else {
        return;
    };
    let admin = sqlx::PgPool::connect(&pg).await.unwrap();
    let dir = temp_dir();
    run_with_one_kill(dir.path(), &pg, &my, async || {
        let killed: Option<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'recon'
               AND state = 'active'
               AND query LIKE 'COPY (SELECT %FROM \"entries\"%' LIMIT 1",
        )
        .fetch_optional(&admin)
        .await
        .unwrap();
        killed == Some(true)
    })
    .await;
}

#[tokio::test]
async fn a_mariadb_connection_killed_mid_table_is_retried() {
    let Some((pg, my)) = sources("kill_my").await else {
        return;
    };
    let admin = sqlx::MySqlPool::connect(&my).await.unwrap();
    let dir = temp_dir();
    run_with_one_kill(dir.path(), &pg, &my, async || {
        let row = sqlx::query(
            "SELECT ID FROM information_schema.PROCESSLIST
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE '/* recon */ SELECT %FROM `entries`%' LIMIT 1",
        )
        .fetch_optional(&admin)
        .await
        .unwrap();
        let Some(row) = row else { return false };
        let id: i64 = row.get(0);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
            .execute(&admin)
            .await
            .is_ok()
    })
    .await;
}
