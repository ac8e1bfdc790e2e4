//! Resilient runs: one run at a time per date, a busy source retried then recorded as
//! incomplete (exit 3), `recon retry` completing exactly what failed, and reruns after a kill
//! or side by side leaving the same results as one clean run.

use std::path::Path;
use std::process::Command;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::common::*;
use chrono::{NaiveDate, Utc};
use recon::store::Store;
use sqlx::Connection;

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 20).unwrap()
}

fn config() -> TestConfig {
    TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 50)
        .set("max_delay_ms", 200)
        .set("max_total_secs", 3)
        .set("max_attempts", 4)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .set("statement_timeout_secs", 1)
        .integrity("accounts", "ledger.accounts", "ledger.accounts_copy", "id")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
}

/// Ledger and payments databases with `rows` entries and two planted differences.
async fn sources(dir: &Path, rows: u32) -> (String, String) {
    let schema = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, memo TEXT)";
    let fill = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})
         INSERT INTO entries SELECT i, i * 7, 'entry ' || i FROM n"
    );
    let ledger = sqlite_db(
        &dir.join("ledger.db"),
        &[
            schema,
            &fill,
            "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT)",
            "CREATE TABLE accounts_copy (id TEXT PRIMARY KEY, name TEXT)",
            "INSERT INTO accounts VALUES ('a', 'Alpha'), ('b', 'Beta')",
            "INSERT INTO accounts_copy VALUES ('a', 'Alpha'), ('b', 'Beta')",
        ],
    )
    .await;
    let payments = sqlite_db(
        &dir.join("payments.db"),
        &[
            schema,
            &fill,
            "UPDATE entries SET amount_minor = 0 WHERE id = 3",
            "DELETE FROM entries WHERE id = 5",
        ],
    )
    .await;
    write(dir, "recon.toml", &config().to_toml());
    (ledger, payments)
}

fn env<'a>(store: &'a str, ledger: &'a str, payments: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("STORE_URL", store),
        ("LEDGER_URL", ledger),
        ("PAYMENTS_URL", payments),
    ]
}

const RUN: [&str; 7] = [
    "run",
    "--config",
    "recon.toml",
    "--date",
    "2026-11-20",
    "--out",
    "out",
];

async fn a_held_lock_exits_4_naming_the_holder(store_url: &str) {
    let dir = temp_dir();
    let (ledger, payments) = sources(dir.path(), 10).await;
    let store = Store::open(store_url).await.unwrap();
    let lock = store.lock_date(date(), "").await.unwrap();
    // Its heartbeat stopped a minute ago: it is taken for dead once the lock is free.
    let holder = store
        .begin_run(
            date(),
            "",
            "digest",
            Utc::now() - chrono::Duration::minutes(1),
        )
        .await
        .unwrap();

    let out = recon(&RUN, &env(store_url, &ledger, &payments), dir.path());
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    let expected = format!(
        "recon: another run holds the lock for 2026-11-20: run {holder} on host {} (pid {}), started ",
        recon::store::hostname(),
        std::process::id()
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.ends_with("; wait for it or check that host\n"), "{err}");

    // The holder dies without finishing: the next run takes over and records it as abandoned.
    drop(lock);
    let out = recon(&RUN, &env(store_url, &ledger, &payments), dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let runs = store.runs_for(date()).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[0].status.as_str(), runs[0].outcome.as_deref()),
        ("failed", Some("abandoned"))
    );
    assert_eq!(runs[0].superseded_by, Some(runs[1].id));
    let v = store
        .verify_audit(1, &Default::default(), None)
        .await
        .unwrap();
    assert!(v.breaks.is_empty());
    store.close().await;
}

#[tokio::test]
async fn a_held_lock_exits_4_on_a_sqlite_store() {
    let dir = temp_dir();
    a_held_lock_exits_4_naming_the_holder(&sqlite_url(dir.path().join("s.db"))).await;
}

/// A run killed on another host (an OOM-killed pod) left its run `running` with a fresh
/// heartbeat; the next pod, started at once, waits for that heartbeat to beat again or grow
/// stale (20 s) instead of failing the Job with exit 4: it stays still, so the next run takes over.
#[tokio::test]
async fn a_run_killed_on_another_host_is_taken_over_once_its_heartbeat_is_stale() {
    let dir = temp_dir();
    let (ledger, payments) = sources(dir.path(), 10).await;
    let store_url = sqlite_url(dir.path().join("s.db"));
    let store = Store::open(&store_url).await.unwrap();
    let killed = store
        .begin_run(
            date(),
            "",
            "digest",
            Utc::now() - chrono::Duration::seconds(14),
        )
        .await
        .unwrap();
    store.close().await;
    let mut conn = sqlx::SqliteConnection::connect(&store_url).await.unwrap();
    sqlx::query("UPDATE runs SET host = 'recon-7f9c2-xk2lp' WHERE id = $1")
        .bind(killed.0)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();

    let started = Instant::now();
    let out = recon(&RUN, &env(&store_url, &ledger, &payments), dir.path());
    let waited = started.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_secs(20),
        "waited {waited:?} for a heartbeat 14 s old to reach 20 s"
    );
    let store = Store::open(&store_url).await.unwrap();
    let runs = store.runs_for(date()).await.unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| (r.status.as_str(), r.outcome.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("failed", Some("abandoned")),
            ("finished", Some("discrepancies"))
        ]
    );
    store.close().await;
}

/// A SQLite store's lock file lives only while its run does: runs of three dates (and a
/// shard) leave none behind, and the lock is taken again after each.
#[tokio::test]
async fn lock_files_do_not_pile_up_per_date() {
    let dir = temp_dir();
    let (ledger, payments) = sources(dir.path(), 10).await;
    let store_url = sqlite_url(dir.path().join("s.db"));
    let lock_files = || -> Vec<String> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".lock"))
            .collect()
    };
    for (date, shard) in [
        ("2026-11-18", None),
        ("2026-11-19", None),
        ("2026-11-20", None),
        ("2026-11-20", Some("0/2")),
    ] {
        let mut args = run_args(date, "out", &[]);
        if let Some(shard) = shard {
            args.extend(["--shard", shard]);
        }
        let out = recon(&args, &env(&store_url, &ledger, &payments), dir.path());
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        assert_eq!(lock_files(), Vec::<String>::new(), "after {date} {shard:?}");
    }
    // While held, the file is there and a second taker is refused.
    let store = Store::open(&store_url).await.unwrap();
    let lock = store.lock_date(date(), "").await.unwrap();
    assert_eq!(lock_files(), ["s.db.lock-2026-11-20"]);
    assert!(store.lock_date(date(), "").await.is_err());
    drop(lock);
    assert_eq!(lock_files(), Vec::<String>::new());
    drop(store.lock_date(date(), "").await.unwrap());
    store.close().await;
}

#[tokio::test]
async fn a_held_lock_exits_4_on_a_postgres_store() {
    let Some(url) = fresh_postgres("lock").await else {
        return;
    };
    a_held_lock_exits_4_naming_the_holder(&url).await;
}

#[tokio::test]
async fn a_source_busy_past_the_policy_exits_3_and_retry_completes_the_run() {
    let dir = temp_dir();
    let (ledger, payments) = sources(dir.path(), 10).await;
    let store_url = sqlite_url(dir.path().join("s.db"));

    // Another program holds the payments database exclusively: every read of it is busy.
    let mut writer = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::from_str(&payments).unwrap(),
    )
    .await
    .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut writer)
        .await
        .unwrap();

    let started = Instant::now();
    let out = recon(&RUN, &env(&store_url, &ledger, &payments), dir.path());
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // Within the policy's total time, plus the last attempt's own busy timeout.
    assert!(took < Duration::from_secs(3 + 1 + 2), "took {took:?}");
    let s = summary(dir.path());
    assert_eq!(s["outcome"], "incomplete");
    let entries = &s["checks"][1];
    assert_eq!(entries["status"], "failed");
    assert!(entries["attempts"].as_u64().unwrap() >= 2, "{entries}");
    let error = entries["error"].as_str().unwrap();
    assert!(error.contains("database is locked"), "{error}");
    assert!(
        error.ends_with("attempt(s); `recon retry` completes it)"),
        "{error}"
    );
    assert_eq!(s["checks"][0]["status"], "clean");
    assert_eq!(s["discrepancies"], serde_json::json!([]));
    assert!(
        stdout(&out)
            .contains("Outcome: incomplete: a source could not be read; safe to rerun (exit 3)")
    );

    // The source is back: retry completes the same run, re-attempting only what failed.
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut writer)
        .await
        .unwrap();
    writer.close().await.unwrap();
    let out = recon(
        &[
            "retry",
            "--config",
            "recon.toml",
            "--date",
            "2026-11-20",
            "--out",
            "out",
        ],
        &env(&store_url, &ledger, &payments),
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let after = summary(dir.path());
    assert_eq!(after["run_id"], s["run_id"], "the same run, completed");
    assert_eq!(after["outcome"], "discrepancies");
    assert_eq!(after["checks"][1]["status"], "discrepancies");
    assert_eq!(after["checks"][1]["attempts"], 1);
    let keys: Vec<String> = after["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {}",
                d["kind"].as_str().unwrap(),
                d["key"]["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(keys, ["changed 3", "missing_in_right 5"]);

    // The audit trail shows the accounts check compared once, the entries check twice.
    let store = Store::open(&store_url).await.unwrap();
    let mut export = Vec::new();
    store.export_audit(&mut export).await.unwrap();
    let text = String::from_utf8(export).unwrap();
    let results: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"action\":\"check_result\""))
        .map(|l| {
            if l.contains("\\\"check\\\":\\\"accounts\\\"") {
                "accounts"
            } else {
                "entries"
            }
        })
        .collect();
    assert_eq!(results, ["accounts", "entries", "entries"]);
    assert!(text.contains("\"action\":\"run_retried\""));
    // A second retry has nothing left to do and changes nothing; its date comes from
    // RECON_DATE, as `recon run`'s does (a CronJob's rerun sets it).
    let mut env_with_date = env(&store_url, &ledger, &payments);
    env_with_date.push(("RECON_DATE", "2026-11-20"));
    let again = recon(
        &["retry", "--config", "recon.toml", "--out", "out"],
        &env_with_date,
        dir.path(),
    );
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert_eq!(summary(dir.path())["run_id"], s["run_id"]);
    assert_eq!(summary(dir.path())["discrepancies"], after["discrepancies"]);
    store.close().await;
}

/// (kind, key, status) of every discrepancy in the store, sorted.
async fn store_state(store_url: &str) -> Vec<(String, String, String)> {
    let store = Store::open(store_url).await.unwrap();
    let mut all = Vec::new();
    for check in ["accounts", "entries"] {
        for r in store.discrepancies(check).await.unwrap() {
            all.push((
                r.discrepancy.kind.as_str().to_string(),
                r.discrepancy.key_display(),
                r.status.as_str().to_string(),
            ));
        }
    }
    store.close().await;
    all.sort();
    all
}

#[tokio::test]
async fn a_run_killed_midway_then_rerun_leaves_what_a_clean_run_leaves() {
    let dir = temp_dir();
    let (ledger, payments) = sources(dir.path(), 60_000).await;
    let clean_store = sqlite_url(dir.path().join("clean.db"));
    let out = recon(&RUN, &env(&clean_store, &ledger, &payments), dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let clean = store_state(&clean_store).await;
    assert_eq!(
        clean,
        [
            (
                "changed".to_string(),
                "id=3".to_string(),
                "open".to_string()
            ),
            (
                "missing_in_right".to_string(),
                "id=5".to_string(),
                "open".to_string()
            ),
        ]
    );

    for (attempt, kill_after_ms) in [150u64, 400, 900].into_iter().enumerate() {
        let store = sqlite_url(dir.path().join(format!("killed{attempt}.db")));
        let mut child = Command::new(env!("CARGO_BIN_EXE_recon"))
            .args(RUN)
            .current_dir(dir.path())
            .envs(env(&store, &ledger, &payments))
            .env("RUST_LOG", "warn")
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(kill_after_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let rerun = recon(&RUN, &env(&store, &ledger, &payments), dir.path());
        assert_eq!(rerun.status.code(), Some(1), "{}", stderr(&rerun));
        assert_eq!(
            store_state(&store).await.len(),
            clean.len(),
            "no duplicates after a kill at {kill_after_ms} ms"
        );
        let after: Vec<_> = store_state(&store)
            .await
            .into_iter()
            .map(|(k, key, _)| (k, key))
            .collect();
        let want: Vec<_> = clean
            .iter()
            .map(|(k, key, _)| (k.clone(), key.clone()))
            .collect();
        assert_eq!(after, want, "kill at {kill_after_ms} ms");
        let verified = Store::open(&store)
            .await
            .unwrap()
            .verify_audit(1, &Default::default(), None)
            .await
            .unwrap();
        assert!(verified.breaks.is_empty(), "{:?}", verified.breaks);
    }
}

#[tokio::test]
async fn two_runs_of_one_date_at_once_one_waits_out_with_exit_4() {
    let dir = temp_dir();
    let (ledger, payments) = sources(dir.path(), 60_000).await;
    let store = sqlite_url(dir.path().join("s.db"));
    // Create the store first so both processes only race for the lock.
    Store::open(&store).await.unwrap().close().await;
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_recon"))
            .args(RUN)
            .current_dir(dir.path())
            .envs(env(&store, &ledger, &payments))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn();
    std::thread::sleep(Duration::from_millis(100));
    let second = spawn();
    let a = first.wait_with_output().unwrap();
    let b = second.wait_with_output().unwrap();
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(codes, [Some(1), Some(4)], "{} / {}", stderr(&a), stderr(&b));
    assert_eq!(store_state(&store).await.len(), 2);
}

#[tokio::test]
async fn run_resume_completes_an_incomplete_run_instead_of_redoing_it() {
    let dir = temp_dir();
    let (ledger, payments) = sources(dir.path(), 10).await;
    let store_url = sqlite_url(dir.path().join("s.db"));
    let mut writer = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::from_str(&payments).unwrap(),
    )
    .await
    .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut writer)
        .await
        .unwrap();
    let resume: Vec<&str> = RUN.iter().copied().chain(["--resume"]).collect();
    let first = recon(&resume, &env(&store_url, &ledger, &payments), dir.path());
    assert_eq!(first.status.code(), Some(3), "{}", stderr(&first));
    let incomplete = summary(dir.path());
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut writer)
        .await
        .unwrap();
    writer.close().await.unwrap();

    let second = recon(&resume, &env(&store_url, &ledger, &payments), dir.path());
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let complete = summary(dir.path());
    assert_eq!(complete["run_id"], incomplete["run_id"]);
    assert_eq!(complete["checks"][1]["status"], "discrepancies");
    // A complete run is not resumed: --resume then starts a fresh rerun.
    let third = recon(&resume, &env(&store_url, &ledger, &payments), dir.path());
    assert_eq!(third.status.code(), Some(1));
    assert_eq!(
        summary(dir.path())["run_id"],
        complete["run_id"].as_i64().unwrap() + 1
    );
}

#[tokio::test]
async fn two_shards_together_leave_what_one_unsharded_run_leaves() {
    let dir = temp_dir();
    let (ledger, payments) = sources(dir.path(), 2_000).await;
    // A third check with its own difference, so each shard has something to find.
    let config = config()
        .integrity("entry_memos", "ledger.entries", "payments.entries", "id")
        .set("columns", ["memo"]);
    write(dir.path(), "recon.toml", &config.to_toml());
    let whole = sqlite_url(dir.path().join("whole.db"));
    let out = recon(&RUN, &env(&whole, &ledger, &payments), dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let sharded = sqlite_url(dir.path().join("sharded.db"));
    Store::open(&sharded).await.unwrap().close().await;
    let spawn = |shard: &str| {
        Command::new(env!("CARGO_BIN_EXE_recon"))
            .args(RUN)
            .args(["--shard", shard])
            .current_dir(dir.path())
            .envs(env(&sharded, &ledger, &payments))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Both shards at once: they do not hold each other's lock.
    let (a, b) = (spawn("0/2"), spawn("1/2"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(
        (a.status.code(), b.status.code()),
        (Some(1), Some(1)),
        "{} / {}",
        stderr(&a),
        stderr(&b)
    );

    let state = |url: String| async move {
        let store = Store::open(&url).await.unwrap();
        let mut all = Vec::new();
        for check in ["accounts", "entries", "entry_memos"] {
            for r in store.discrepancies(check).await.unwrap() {
                all.push(format!(
                    "{check} {} {} {}",
                    r.discrepancy.kind.as_str(),
                    r.discrepancy.key_display(),
                    r.status.as_str()
                ));
            }
        }
        store.close().await;
        all.sort();
        all
    };
    let whole_state = state(whole).await;
    assert_eq!(
        whole_state,
        [
            "entries changed id=3 open",
            "entries missing_in_right id=5 open",
            "entry_memos missing_in_right id=5 open",
        ]
    );
    assert_eq!(state(sharded.clone()).await, whole_state);
    // Each shard ran its own checks: positions 0 and 2 in shard 0, position 1 in shard 1.
    let store = Store::open(&sharded).await.unwrap();
    let runs = store.runs_for(date()).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r.superseded_by.is_none()),
        "shards do not supersede each other"
    );
}
