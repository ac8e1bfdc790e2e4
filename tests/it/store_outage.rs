//! The store going away, and the run being asked to stop: a store lost mid-run ends exit 3 and
//! its rerun leaves what a clean run leaves; a lock whose connection was cut is never shared;
//! SIGTERM records the run interrupted, writes its reports and releases the lock (exit 3).

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use recon::store::Store;
use sqlx::Connection;

use crate::common::*;

const DATE: &str = "2026-11-20";

const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
";

/// A scenario on the store at `store`: check `entries` (one row changed between the sides)
/// runs first; check `stripe` then waits, retrying, for its report file until the test writes
/// it (`reports/stripe-2026-11-20.csv`): the window in which the test acts.
async fn scenario(store: &str) -> Scenario {
    let scenario = Scenario::new("STORE_URL").store_at(store);
    let dir = scenario.dir();
    let entries = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    let ledger = sqlite_db(
        &dir.join("ledger.db"),
        &[
            entries,
            "INSERT INTO entries VALUES (1, 100), (2, 200), (3, 300)",
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
        ],
    )
    .await;
    let counterpart = sqlite_db(
        &dir.join("payments.db"),
        &[
            entries,
            "INSERT INTO entries VALUES (1, 100), (2, 250), (3, 300)",
        ],
    )
    .await;
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    let config = TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 200)
        .set("max_delay_ms", 300)
        .set("max_total_secs", 60)
        .set("max_attempts", 300)
        .store("STORE_URL")
        .set("connect_timeout_secs", 1)
        .table("store.retry")
        .set("initial_delay_ms", 100)
        .set("max_delay_ms", 300)
        .set("max_total_secs", 2)
        .set("max_attempts", 5)
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .settlement("stripe", "stripe")
        .set("report", "reports/stripe-{date}.csv")
        .set("ledger", ledger_mapping("payments", &[]))
        .set("match_on", "reference")
        .to_toml();
    scenario
        .env("LEDGER_URL", &ledger)
        .env("PAYMENTS_URL", &counterpart)
        .config(&config)
}

fn deliver_report(scenario: &Scenario) {
    write(scenario.dir(), "reports/stripe-2026-11-20.csv", REPORT);
}

/// What the store holds after the date's runs: (check, kind, key, status) of every discrepancy.
async fn findings(store_url: &str) -> Vec<(String, String, String, String)> {
    let store = Store::open(store_url).await.unwrap();
    let mut all = Vec::new();
    for check in ["entries", "stripe"] {
        for r in store.discrepancies(check).await.unwrap() {
            all.push((
                check.to_string(),
                r.discrepancy.kind.as_str().to_string(),
                r.discrepancy.key_display(),
                r.status.as_str().to_string(),
            ));
        }
    }
    let breaks = store
        .verify_audit(1, &Default::default(), None)
        .await
        .unwrap()
        .breaks;
    assert!(breaks.is_empty(), "the audit chain verifies: {breaks:?}");
    store.close().await;
    all.sort();
    all
}

/// The date's runs as (status, outcome), oldest first.
async fn runs(store_url: &str) -> Vec<(String, Option<String>)> {
    let store = Store::open(store_url).await.unwrap();
    let date = chrono::NaiveDate::parse_from_str(DATE, "%Y-%m-%d").unwrap();
    let runs = store.runs_for(date).await.unwrap();
    store.close().await;
    runs.into_iter().map(|r| (r.status, r.outcome)).collect()
}

/// Waits until the run has recorded check `entries` (and so waits on the stripe report).
async fn until_entries_recorded(store_url: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if entries_recorded(store_url).await {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended before it recorded `entries`: {status}");
        }
        assert!(Instant::now() < deadline, "`entries` never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the store at `url` holds a result of check `entries` (false while it cannot tell).
async fn entries_recorded(url: &str) -> bool {
    const COUNT: &str = "SELECT COUNT(*) FROM check_results WHERE check_name = 'entries'";
    let counted: Result<i64, sqlx::Error> = if url.starts_with("sqlite:") {
        match sqlx::SqliteConnection::connect(url).await {
            Ok(mut conn) => sqlx::query_scalar(COUNT).fetch_one(&mut conn).await,
            Err(e) => Err(e),
        }
    } else {
        match sqlx::PgConnection::connect(url).await {
            Ok(mut conn) => sqlx::query_scalar(COUNT).fetch_one(&mut conn).await,
            Err(e) => Err(e),
        }
    };
    counted.unwrap_or(0) > 0
}

/// The exit code and stderr of `child`, which must end within `limit`.
fn ended(child: Child, limit: Duration) -> (Option<i32>, String) {
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < limit,
        "ended after {:?}: {}",
        started.elapsed(),
        stderr(&out)
    );
    (out.status.code(), stderr(&out))
}

/// The findings a clean run of the scenario leaves, on a store of its own.
async fn clean_findings(store: &str) -> Vec<(String, String, String, String)> {
    let clean = scenario(store).await;
    deliver_report(&clean);
    let (out, _) = clean.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    findings(store).await
}

#[tokio::test]
async fn a_store_lost_mid_run_exits_3_and_the_rerun_leaves_what_a_clean_run_leaves() {
    let (Some(store), Some(clean_store)) = (
        fresh_postgres("outage_lost").await,
        fresh_postgres("outage_lost_clean").await,
    ) else {
        return;
    };
    let expected = clean_findings(&clean_store).await;
    assert_eq!(
        expected,
        [(
            "entries".to_string(),
            "changed".to_string(),
            "id=2".to_string(),
            "open".to_string()
        )]
    );

    let relay = Relay::start("127.0.0.1:5432");
    let through_relay = relay.url_of(&store);
    let scenario = scenario(&through_relay).await;
    let mut child = scenario.spawn(&run_args(DATE, "out", &[]));
    until_entries_recorded(&store, &mut child).await;
    relay.stop();
    deliver_report(&scenario);
    let (code, err) = ended(child, Duration::from_secs(30));
    assert_eq!(code, Some(3), "{err}");
    let shown = through_relay.clone();
    assert!(
        err.ends_with(&format!(
            "recon: store {shown} unreachable: no connection could be made within the connect timeout (the server stopped answering or refuses connections); the run may pass on rerun\n"
        )),
        "{err}"
    );
    assert!(!err.contains("pool timed out"), "{err}");
    // Nothing half-written: the run that lost its store is still `running`, with `entries` only.
    assert_eq!(runs(&store).await, [("running".to_string(), None)]);

    // The store is back: the rerun supersedes the lost run and leaves what a clean run leaves.
    relay.resume();
    let (out, summary) = scenario.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(summary["outcome"], "discrepancies");
    // The lost run recorded `entries` before its store went: the rerun carries that finding
    // (no duplicate); the abandoned run's result is superseded.
    let carried: Vec<_> = expected
        .iter()
        .map(|(check, kind, key, _)| {
            (
                check.clone(),
                kind.clone(),
                key.clone(),
                "carried".to_string(),
            )
        })
        .collect();
    assert_eq!(findings(&store).await, carried);
    assert_eq!(
        runs(&store).await,
        [
            ("failed".to_string(), Some("abandoned".to_string())),
            ("finished".to_string(), Some("discrepancies".to_string())),
        ]
    );
}

/// Waits until no session of the database at `url` holds an advisory lock.
async fn until_lock_free(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    loop {
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if held == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the cut session's lock was never released"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_lock_cut_with_its_connection_is_never_shared_by_two_runs() {
    let (Some(store), Some(clean_store)) = (
        fresh_postgres("outage_cut").await,
        fresh_postgres("outage_cut_clean").await,
    ) else {
        return;
    };
    let expected = clean_findings(&clean_store).await;
    let relay = Relay::start("127.0.0.1:5432");
    let first = scenario(&relay.url_of(&store)).await;
    let mut child = first.spawn(&run_args(DATE, "out", &[]));
    until_entries_recorded(&store, &mut child).await;

    // A blip: every connection of the first run is cut (the database drops its lock with its
    // session), new ones get through. A second run of the date starts straight away.
    relay.cut();
    until_lock_free(&store).await;
    let second = Scenario::in_dir(first.dir(), "STORE_URL")
        .store_at(&store)
        .env("LEDGER_URL", first.var("LEDGER_URL"))
        .env("PAYMENTS_URL", first.var("PAYMENTS_URL"));
    let out = second.recon(&run_args(DATE, "out-second", &[]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.starts_with("recon: the lock for 2026-11-20 is free, but run 1 on host "),
        "{err}"
    );
    assert!(err.contains("is alive (its heartbeat is "), "{err}");

    // The first run re-takes its lock before it writes again and runs to the end, alone.
    deliver_report(&first);
    let (code, err) = ended(child, Duration::from_secs(30));
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        runs(&store).await,
        [("finished".to_string(), Some("discrepancies".to_string()))]
    );
    assert_eq!(findings(&store).await, expected);
}

#[tokio::test]
async fn sigterm_records_the_run_interrupted_writes_its_reports_and_frees_the_lock() {
    let dir = temp_dir();
    let store = sqlite_url(dir.path().join("store.db"));
    let scenario = scenario(&store).await;
    let mut child = scenario.spawn(&run_args(DATE, "out", &[]));
    until_entries_recorded(&store, &mut child).await;
    let pid = child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let (code, err) = ended(child, Duration::from_secs(10));
    assert_eq!(code, Some(3), "{err}");

    let summary = summary(scenario.dir());
    assert_eq!(summary["outcome"], "incomplete");
    let checks: Vec<(String, String, String)> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
                c["error"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            (
                "entries".to_string(),
                "discrepancies".to_string(),
                String::new()
            ),
            (
                "stripe".to_string(),
                "failed".to_string(),
                "interrupted by SIGTERM before this check finished; `recon retry` completes it"
                    .to_string()
            ),
        ]
    );
    assert_eq!(
        runs(&store).await,
        [("finished".to_string(), Some("incomplete".to_string()))]
    );
    assert_lock_released(scenario.dir());

    // The lock is free and the interrupted check is what `run --resume` completes.
    deliver_report(&scenario);
    let (out, summary) = scenario.run(DATE, &["--resume"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(summary["run_id"], 1);
    assert_eq!(summary["outcome"], "discrepancies");
    assert_eq!(
        findings(&store).await,
        [(
            "entries".to_string(),
            "changed".to_string(),
            "id=2".to_string(),
            "open".to_string()
        )]
    );
}

/// No lock file is left beside the scenario's SQLite store.
fn assert_lock_released(dir: &Path) {
    let locks: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".lock-"))
        .collect();
    assert!(locks.is_empty(), "{locks:?}");
}
