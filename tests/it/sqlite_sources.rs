//! SQLite sources read as the other engines: keys in byte order whatever their collation or
//! affinity, and a file another connection holds locked given up within the retry budget.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::common::*;

/// Keys distinct under NOCASE too, which orders them otherwise (`_x` first, `é` last, `A1`
/// among the a's); in bytes they go `A1 B Z _x a aa c é`.
const NOCASE_KEYS: [&str; 8] = ["a", "B", "Z", "aa", "é", "_x", "A1", "c"];

fn inserts(keys: &[&str]) -> String {
    let values: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("({k}, {i})"))
        .collect();
    format!("INSERT INTO t VALUES {}", values.join(", "))
}

fn quoted(keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| format!("'{k}'")).collect()
}

#[tokio::test]
async fn a_nocase_sqlite_key_compares_by_bytes_against_postgres() {
    let Some(pg) = fresh_postgres("sqlite_nocase").await else {
        return;
    };
    let keys = quoted(&NOCASE_KEYS);
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    pg_exec(
        &pg,
        &[
            "CREATE TABLE t (k text PRIMARY KEY, n integer)",
            &inserts(&keys),
            "UPDATE t SET n = 100 WHERE k = 'aa'",
        ],
    )
    .await;
    let dir = temp_dir();
    let sqlite = sqlite_db(
        &dir.path().join("nocase.db"),
        &[
            "CREATE TABLE t (k TEXT COLLATE NOCASE PRIMARY KEY, n INTEGER)",
            &inserts(&keys),
            "DELETE FROM t WHERE k = '_x'",
        ],
    )
    .await;
    let out = recon(
        &["diff", &sqlite, "t", &pg, "t", "--key", "k", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        [
            r#"{"kind":"missing_in_left","key":{"k":"_x"}}"#,
            r#"{"kind":"changed","key":{"k":"aa"},"columns":["n"],"values":[{"column":"n","left":"3","right":"100"}]}"#,
        ]
        .join("\n")
    );
}

/// An untyped column keeps integers as integers and the rest as text; SQLite sorts every
/// integer before every text and integers by value (`2` before `10`), recon by the text's bytes.
#[tokio::test]
async fn an_untyped_sqlite_key_of_integers_and_text_compares_by_the_texts_bytes() {
    let mixed = ["1", "2", "10", "'9x'", "'abc'", "'10a'", "-5"];
    let dir = temp_dir();
    let untyped = sqlite_db(
        &dir.path().join("untyped.db"),
        &[
            "CREATE TABLE t (k PRIMARY KEY, n INTEGER)",
            &inserts(&mixed),
            "INSERT INTO t VALUES ('zz', 99)",
        ],
    )
    .await;
    let as_text: Vec<String> = mixed
        .iter()
        .map(|k| format!("'{}'", k.trim_matches('\'')))
        .collect();
    let as_text: Vec<&str> = as_text.iter().map(String::as_str).collect();
    let text = sqlite_db(
        &dir.path().join("text.db"),
        &[
            "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)",
            &inserts(&as_text),
            "UPDATE t SET n = 100 WHERE k = '10'",
        ],
    )
    .await;
    let out = recon(
        &["diff", &untyped, "t", &text, "t", "--key", "k", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        [
            r#"{"kind":"changed","key":{"k":"10"},"columns":["n"],"values":[{"column":"n","left":"2","right":"100"}]}"#,
            r#"{"kind":"missing_in_right","key":{"k":"zz"}}"#,
        ]
        .join("\n")
    );
}

#[tokio::test]
async fn a_sqlite_file_locked_by_another_connection_exits_3_within_the_retry_budget() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)";
    let [left, right, store] = sqlite_sides(
        dir.path(),
        schema,
        "INSERT INTO t VALUES (1, 1)",
        "INSERT INTO t VALUES (1, 1)",
    )
    .await;
    // The statement timeout is far past the budget: the wait on the lock must not be it.
    write(
        dir.path(),
        "recon.toml",
        &TestConfig::new()
            .table("job.retry")
            .set("initial_delay_ms", 50)
            .set("max_delay_ms", 200)
            .set("max_total_secs", 4)
            .set("max_attempts", 100)
            .store("S")
            .source("ledger", "L")
            .source("payments", "R")
            .set("statement_timeout_secs", 60)
            .integrity("t", "ledger.t", "payments.t", "id")
            .to_toml(),
    );
    let mut writer = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::from_str(&right).unwrap(),
    )
    .await
    .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut writer)
        .await
        .unwrap();

    let started = Instant::now();
    let out = recon(
        &run_args("2026-11-20", "out", &[]),
        &[("L", &left), ("R", &right), ("S", &store)],
        dir.path(),
    );
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // The budget (4 s), then the last attempt's wait on the lock (a quarter of the budget: 1 s),
    // and a margin for starting the binary on a busy machine.
    assert!(took < Duration::from_secs(4 + 1 + 3), "took {took:?}");
    let s = summary(dir.path());
    let check = &s["checks"][0];
    assert_eq!(check["status"], "failed", "{check}");
    assert!(check["attempts"].as_u64().unwrap() >= 2, "{check}");
    let error = check["error"].as_str().unwrap();
    assert!(error.contains("database is locked"), "{error}");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut writer)
        .await
        .unwrap();
    writer.close().await.unwrap();
}

/// Timestamps kept as text with different offsets sort by the text, not by the instant: SQLite
/// cannot return them in key order, and the table is refused as the user's to fix.
#[tokio::test]
async fn a_sqlite_key_whose_stored_forms_sort_otherwise_is_refused_naming_the_column() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (at TIMESTAMP PRIMARY KEY, n INTEGER)";
    let [left, right, _] = sqlite_sides(
        dir.path(),
        schema,
        "INSERT INTO t VALUES ('2026-11-20 09:30:00Z', 1), ('2026-11-20 10:00:00+01:00', 2)",
        "INSERT INTO t VALUES ('2026-11-20 09:00:00', 2), ('2026-11-20 09:30:00', 1)",
    )
    .await;
    let out = recon(
        &["diff", &left, "t", &right, "t", "--key", "at", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "recon: source left, table t: column \"at\" (TIMESTAMP): SQLite returned key value \
         2026-11-20T09:00:00.000000Z after 2026-11-20T09:30:00.000000Z: the stored values do \
         not sort as the timestamp values recon reads from them (mixed forms or offsets?), so \
         the table cannot be read in key order; store the key in one form\n"
    );
}
