//! A discrepancy's life across runs, on a SQLite store and on a real PostgreSQL store:
//! open → carried over → resolved → reopened; reruns supersede without duplicating.

use std::path::Path;

use crate::common::*;
use chrono::NaiveDate;
use recon::config::Config;
use recon::discrepancy::Status;
use recon::exit::Exit;
use recon::run_id::RunId;
use recon::store::{CheckKind, Store};

fn config_text() -> String {
    TestConfig::new()
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .integrity("accounts", "ledger.accounts", "payments.accounts", "id")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml()
}

const TABLES: [&str; 2] = [
    "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT)",
    "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP)",
];

fn date(day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
}

async fn set_right_amount(url: &str, id: i64, amount: i64) {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    sqlx::query("UPDATE entries SET amount_minor = $1 WHERE id = $2")
        .bind(amount)
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// Configuration `text`, read as file `name`, its `url_env`s naming these databases.
fn config_with(
    name: &str,
    text: &str,
    store: &str,
    ledger: &str,
    payments: &str,
) -> recon::error::Result<Config> {
    let env = |var: &str| match var {
        "STORE_URL" => Some(store.to_string()),
        "LEDGER_URL" => Some(ledger.to_string()),
        "PAYMENTS_URL" => Some(payments.to_string()),
        _ => None,
    };
    Config::parse(Path::new(name), text, &env)
}

/// (check, key, status) of every discrepancy a summary lists.
fn seen(report: &recon::run::RunReport) -> Vec<(String, String, Status)> {
    let mut v: Vec<_> = report
        .summary
        .discrepancies
        .iter()
        .map(|d| (d.check.clone(), d.key.to_string(), d.status))
        .collect();
    v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    v
}

async fn life_of_a_discrepancy(store_url: &str, dir: &Path) {
    let ledger = sqlite_db(
        &dir.join("ledger.db"),
        &[
            TABLES[0],
            TABLES[1],
            "INSERT INTO accounts VALUES ('a', 'Alpha'), ('b', 'Beta')",
            "INSERT INTO entries VALUES (1, 100, '2026-11-20 09:00:00'), (2, 200, '2026-11-20 10:00:00'),
                                        (3, 300, '2026-11-21 10:00:00')",
        ],
    )
    .await;
    let payments = sqlite_db(
        &dir.join("payments.db"),
        &[
            TABLES[0],
            TABLES[1],
            "INSERT INTO accounts VALUES ('b', 'Beta')",
            "INSERT INTO entries VALUES (1, 100, '2026-11-20 09:00:00'), (2, 250, '2026-11-20 10:00:00'),
                                        (3, 300, '2026-11-21 10:00:00')",
        ],
    )
    .await;
    let config = config_with("life.toml", &config_text(), store_url, &ledger, &payments).unwrap();
    let out = dir.join("out");
    let account_a = (String::from("accounts"), String::from(r#"{"id":"a"}"#));
    let entry_2 = (String::from("entries"), String::from(r#"{"id":"2"}"#));

    // First run: both discrepancies are new.
    let first = recon::run::run(&config, date(20), &out, recon::run::RunOptions::default())
        .await
        .unwrap();
    assert_eq!(first.exit(), Exit::Discrepancies);
    assert_eq!(
        seen(&first),
        vec![
            (account_a.0.clone(), account_a.1.clone(), Status::Open),
            (entry_2.0.clone(), entry_2.1.clone(), Status::Open)
        ]
    );

    // A rerun of the same date: carried over, same ids, nothing duplicated, first run superseded.
    let second = recon::run::run(&config, date(20), &out, recon::run::RunOptions::default())
        .await
        .unwrap();
    assert_eq!(
        seen(&second),
        vec![
            (account_a.0.clone(), account_a.1.clone(), Status::Carried),
            (entry_2.0.clone(), entry_2.1.clone(), Status::Carried)
        ]
    );
    let ids = |r: &recon::run::RunReport| {
        r.summary
            .discrepancies
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&first), ids(&second));
    assert!(
        second
            .summary
            .discrepancies
            .iter()
            .all(|d| d.first_seen_run == first.summary.run_id)
    );
    let store = Store::open(store_url).await.unwrap();
    assert_eq!(store.discrepancies("entries").await.unwrap().len(), 1);
    let runs = store.runs_for(date(20)).await.unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].superseded_by, Some(second.summary.run_id));
    assert_eq!(runs[1].superseded_by, None);
    assert_eq!(runs[1].outcome.as_deref(), Some("discrepancies"));

    // The payments copy is fixed: the entry is resolved by the third run; the account stays.
    set_right_amount(&payments, 2, 200).await;
    let third = recon::run::run(&config, date(20), &out, recon::run::RunOptions::default())
        .await
        .unwrap();
    assert_eq!(
        seen(&third),
        vec![(account_a.0.clone(), account_a.1.clone(), Status::Carried)]
    );
    let resolved: Vec<_> = third
        .summary
        .resolved
        .iter()
        .map(|d| (d.check.clone(), d.key.to_string(), d.status))
        .collect();
    assert_eq!(
        resolved,
        vec![(entry_2.0.clone(), entry_2.1.clone(), Status::Resolved)]
    );
    let stored = store.discrepancies("entries").await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].status, Status::Resolved);

    // The next business day: the whole-table account discrepancy follows; the day is clean.
    let next_day = recon::run::run(&config, date(21), &out, recon::run::RunOptions::default())
        .await
        .unwrap();
    assert_eq!(
        seen(&next_day),
        vec![(account_a.0.clone(), account_a.1.clone(), Status::Carried)]
    );
    let entries_check = next_day
        .summary
        .checks
        .iter()
        .find(|c| c.name == "entries")
        .unwrap();
    assert_eq!(
        (entries_check.left.rows, entries_check.right.rows),
        (Some(1), Some(1))
    );
    assert_eq!(entries_check.partition, "2026-11-21");

    // Broken again: the same discrepancy reopens with this run as its first sighting.
    set_right_amount(&payments, 2, 260).await;
    let fourth = recon::run::run(&config, date(20), &out, recon::run::RunOptions::default())
        .await
        .unwrap();
    let reopened = fourth
        .summary
        .discrepancies
        .iter()
        .find(|d| d.check == "entries")
        .unwrap();
    assert_eq!(reopened.status, Status::Open);
    assert_eq!(reopened.id, ids(&first)[1]);
    assert_eq!(reopened.first_seen_run, fourth.summary.run_id);
    assert_eq!(
        serde_json::to_value(&reopened.values).unwrap(),
        serde_json::json!([{"column": "amount_minor", "left": "200", "right": "260"}])
    );
    store.close().await;
}

#[tokio::test]
async fn discrepancy_life_on_a_sqlite_store() {
    let dir = temp_dir();
    let store = sqlite_url(dir.path().join("store.db"));
    life_of_a_discrepancy(&store, dir.path()).await;
}

#[tokio::test]
async fn discrepancy_life_on_a_postgres_store() {
    let Some(store) = fresh_postgres("life").await else {
        return;
    };
    let dir = temp_dir();
    life_of_a_discrepancy(&store, dir.path()).await;
}

/// Records, for `run`, one `missing_in_right` discrepancy per key in `keys`.
async fn record_missing(
    store: &Store,
    run: RunId,
    keys: std::ops::Range<usize>,
    reexamined: &[i64],
) -> recon::store::CheckChanges {
    let side = |source: &str| recon::store::TableSide {
        rows: Some(5000),
        ..recon::store::TableSide::table(source, "entries")
    };
    let record = recon::store::CheckRecord {
        check: "entries".to_string(),
        check_type: CheckKind::Integrity,
        partition: recon::day::Partition::Day(date(20)),
        status: recon::store::CheckStatus::Discrepancies,
        left: side("ledger"),
        right: side("payments"),
        error: None,
        exit: Exit::Discrepancies,
        attempts: 1,
        duration_ms: 0,
        accounting: None,
        downloads: Vec::new(),
        not_compared: Vec::new(),
    };
    let found: Vec<recon::discrepancy::Discrepancy> = keys
        .map(|i| recon::discrepancy::Discrepancy {
            check: record.check.clone(),
            partition: record.partition,
            kind: recon::discrepancy::Kind::MissingInRight,
            key: recon::discrepancy::ShownKey::masked(&[("id", Some(&i.to_string()))], None),
            columns: Vec::new(),
            values: Vec::new(),
            detail: None,
            at_stake: None,
        })
        .collect();
    let outcome = recon::check::CheckOutcome {
        record,
        found,
        reexamined: reexamined.to_vec(),
    };
    store.record_check(run, &outcome).await.unwrap()
}

/// More discrepancies than one multi-row statement holds (on either store engine): each is opened once with its own id,
/// carried or resolved by the next run in id order, and the audit chain stays whole.
async fn discrepancies_in_batches(store_url: &str) {
    let store = Store::open(store_url).await.unwrap();
    store.migrate().await.unwrap();
    let first_run = store
        .begin_run(date(20), "", "test", chrono::Utc::now())
        .await
        .unwrap();
    let first = record_missing(&store, first_run, 0..7000, &[]).await;
    let keys = |recorded: &[recon::discrepancy::Recorded]| -> Vec<String> {
        recorded
            .iter()
            .map(|r| r.discrepancy.key.first().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        keys(&first.seen),
        (0..7000).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert!(first.seen.iter().all(|r| r.status == Status::Open));
    assert!(first.seen.iter().all(|r| r.first_run_id == first_run));
    let ids: Vec<i64> = first.seen.iter().map(|r| r.id).collect();
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 7000);

    // The next run still finds the first 3,600; the other 3,400 are resolved. Two of the
    // first run's ids are handed back as re-examined too: one found again stays carried.
    let second_run = store
        .begin_run(date(21), "", "test", chrono::Utc::now())
        .await
        .unwrap();
    let second = record_missing(&store, second_run, 0..3600, &[ids[5], ids[5000]]).await;
    assert_eq!(
        ids[..3600],
        second.seen.iter().map(|r| r.id).collect::<Vec<_>>()[..]
    );
    assert!(second.seen.iter().all(|r| r.status == Status::Carried));
    assert!(second.seen.iter().all(|r| r.first_run_id == first_run));
    assert_eq!(
        second.resolved.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids[3600..].to_vec()
    );
    assert!(second.resolved.iter().all(|r| r.status == Status::Resolved));
    assert_eq!(
        keys(&second.resolved),
        (3600..7000).map(|i| i.to_string()).collect::<Vec<_>>()
    );

    // Entries: a run start each, a check result each, 7,000 opened, 3,400 resolved.
    let verification = store
        .verify_audit(0, &Default::default(), None)
        .await
        .unwrap();
    assert!(verification.breaks.is_empty(), "{:?}", verification.breaks);
    assert_eq!(verification.checked, 2 + 2 + 7000 + 3400);
    store.close().await;
}

#[tokio::test]
async fn discrepancies_in_batches_on_a_sqlite_store() {
    let dir = temp_dir();
    discrepancies_in_batches(&sqlite_url(dir.path().join("store.db"))).await;
}

#[tokio::test]
async fn discrepancies_in_batches_on_a_postgres_store() {
    let Some(store) = fresh_postgres("batches").await else {
        return;
    };
    discrepancies_in_batches(&store).await;
}

/// A check finding more discrepancies than `job.max_discrepancies` fails with their count by
/// kind and records none of them; the other check records its own as usual.
#[tokio::test]
async fn too_many_discrepancies_fail_the_check() {
    let dir = temp_dir();
    let ledger = sqlite_db(
        &dir.path().join("ledger.db"),
        &[
            TABLES[0],
            TABLES[1],
            "INSERT INTO accounts VALUES ('a', 'Alpha')",
            "INSERT INTO entries VALUES (1, 100, '2026-11-20 09:00:00'), (2, 200, '2026-11-20 10:00:00'),
                                        (3, 300, '2026-11-20 11:00:00')",
        ],
    )
    .await;
    let payments = sqlite_db(
        &dir.path().join("payments.db"),
        &[
            TABLES[0],
            TABLES[1],
            "INSERT INTO entries VALUES (1, 101, '2026-11-20 09:00:00'), (2, 201, '2026-11-20 10:00:00')",
        ],
    )
    .await;
    let store = sqlite_url(dir.path().join("store.db"));
    let text = format!("[job]\nmax_discrepancies = 2\n{}", config_text());
    let config = config_with("limit.toml", &text, &store, &ledger, &payments).unwrap();
    let report = recon::run::run(
        &config,
        date(20),
        &dir.path().join("out"),
        recon::run::RunOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(report.exit(), Exit::BadInput);
    let checks: Vec<_> = report
        .summary
        .checks
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.status.as_str(),
                c.discrepancies,
                c.error.clone(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        vec![
            ("accounts", "discrepancies", 1, None),
            (
                "entries",
                "failed",
                0,
                Some(
                    "3 discrepancies found (2 changed, 1 missing_in_right), more than the 2 one check \
                     may record (job.max_discrepancies): none were recorded. Check that the report, \
                     its mapping and the tables are the ones meant; if the differences are real, \
                     raise the limit and rerun"
                        .to_string()
                )
            ),
        ]
    );
    assert_eq!(
        seen(&report),
        vec![(
            "accounts".to_string(),
            r#"{"id":"a"}"#.to_string(),
            Status::Open
        )]
    );

    let zero = format!("[job]\nmax_discrepancies = 0\n{}", config_text());
    let refused = config_with("limit.toml", &zero, &store, &ledger, &payments).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "limit.toml: job.max_discrepancies must be at least 1 (the most discrepancies one check may record)"
    );
}

/// The ids (or counts) a query of the store returns, on SQLite or PostgreSQL.
async fn store_ints(url: &str, sql: &str) -> Vec<i64> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    }
}

async fn store_texts(url: &str, sql: &str) -> Vec<String> {
    let sql = sqlx::AssertSqlSafe(sql.to_string());
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let v = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        v
    }
}

/// Runs of 2025-11-10 to 11-13 and of 2026-11-20 with a history kept 365 days (the shortest
/// accepted): the run of 2026-11-20 prunes the runs of 2025-11-10, 11-11 (both, one superseding
/// the other) and 11-13, with their check results and syncs, and the discrepancy resolved on
/// 2025-11-11; it keeps the run of 2025-11-12, which an open discrepancy names. One audit entry says so, and the chain still verifies.
async fn history_past_its_retention_is_pruned(store: &str, dir: &Path) {
    let rows = [
        TABLES[1],
        "INSERT INTO entries VALUES (1, 100, '2025-11-10 09:00:00'), (2, 200, '2025-11-11 09:00:00'),
             (3, 300, '2025-11-12 09:00:00'), (4, 400, '2025-11-13 09:00:00'),
             (5, 500, '2026-11-20 09:00:00')",
    ];
    let ledger = sqlite_db(&dir.join("ledger.db"), &rows).await;
    let payments = sqlite_db(&dir.join("payments.db"), &rows).await;
    let config = TestConfig::new()
        .table("job")
        .set("seal_lookback_days", 1)
        .set("seal_retention_days", 2)
        .set("history_retention_days", 365)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml();
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .store_at(store)
        .env("LEDGER_URL", &ledger)
        .env("PAYMENTS_URL", &payments)
        .config(&config);
    let run = |date: &str| scenario.run(date, &[]).0.status.code();
    assert_eq!(run("2025-11-10"), Some(0)); // run 1, seals the 10th
    set_right_amount(&payments, 2, 201).await;
    assert_eq!(run("2025-11-11"), Some(1)); // run 2: discrepancy 1 (id 2) opens
    set_right_amount(&payments, 2, 200).await;
    assert_eq!(run("2025-11-11"), Some(0)); // run 3 supersedes 2, resolves 1, seals the 11th
    set_right_amount(&payments, 3, 301).await;
    assert_eq!(run("2025-11-12"), Some(1)); // run 4: discrepancy 2 (id 3) opens, stays open
    assert_eq!(run("2025-11-13"), Some(0)); // run 5, seals the 13th
    let runs = "SELECT id FROM runs ORDER BY id";
    assert_eq!(store_ints(store, runs).await, [1, 2, 3, 4, 5]);

    // Run 6: seals before 2026-11-18 go; history before 2025-11-20 goes, but for run 4.
    assert_eq!(run("2026-11-20"), Some(0));
    assert_eq!(store_ints(store, runs).await, [4, 6]);
    let count = |table: &str| format!("SELECT count(*) FROM {table}");
    assert_eq!(store_ints(store, &count("check_results")).await, [2]);
    assert_eq!(store_ints(store, &count("syncs")).await, [2]);
    assert_eq!(
        store_ints(store, "SELECT id FROM discrepancies ORDER BY id").await,
        [2]
    );
    assert_eq!(
        store_ints(store, "SELECT run_id FROM run_discrepancies").await,
        [4]
    );
    let pruned = "SELECT payload FROM audit_log WHERE action = 'history_pruned'";
    let payloads: Vec<serde_json::Value> = store_texts(store, pruned)
        .await
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(
        payloads,
        [serde_json::json!({
            "before": "2025-11-20",
            "runs": [1, 2, 3, 5],
            "check_results": 4,
            "syncs": 4,
            "sightings": 1,
            "resolved_discrepancies": [1],
        })]
    );
    let verify = scenario.recon(&["audit", "verify", "--config", "recon.toml"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));

    // Nothing more is past its retention: no second entry.
    assert_eq!(run("2026-11-21"), Some(0));
    assert_eq!(store_ints(store, runs).await, [4, 6, 7]);
    assert_eq!(store_texts(store, pruned).await.len(), 1);
}

#[tokio::test]
async fn history_past_its_retention_is_pruned_on_sqlite() {
    let dir = temp_dir();
    let store = sqlite_url(dir.path().join("store.db"));
    history_past_its_retention_is_pruned(&store, dir.path()).await;
}

#[tokio::test]
async fn history_past_its_retention_is_pruned_on_postgres() {
    let Some(store) = fresh_postgres("history_retention_store").await else {
        return;
    };
    let dir = temp_dir();
    history_past_its_retention_is_pruned(&store, dir.path()).await;
}

/// A history shorter than the seal retention would prune the run that sealed a kept day.
#[test]
fn a_history_shorter_than_the_seal_retention_is_refused() {
    let dir = temp_dir();
    let config = TestConfig::new()
        .table("job")
        .set("seal_retention_days", 400)
        .set("history_retention_days", 380)
        .store("S")
        .source("ledger", "L")
        .integrity("entries", "ledger.entries", "ledger.entries_copy", "id")
        .to_toml();
    write(dir.path(), "recon.toml", &config);
    let env = [("S", "sqlite://s.db"), ("L", "sqlite://l.db")];
    let out = recon(
        &["config", "check", "--config", "recon.toml"],
        &env,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "recon: recon.toml: job.history_retention_days (380) must be at least job.seal_retention_days (400): the run that sealed a day is kept as long as its seal"
    );
}

/// PCI DSS 10.5.1 keeps audit history at least 12 months: a shorter run history is refused
/// (exit 2) naming the setting, a year exactly is accepted.
#[test]
fn a_history_shorter_than_a_year_is_refused() {
    let dir = temp_dir();
    let check = |days: i64| {
        let config = TestConfig::new()
            .table("job")
            .set("seal_retention_days", 8)
            .set("history_retention_days", days)
            .store("S")
            .source("ledger", "L")
            .integrity("entries", "ledger.entries", "ledger.entries_copy", "id")
            .to_toml();
        write(dir.path(), "recon.toml", &config);
        let env = [("S", "sqlite://s.db"), ("L", "sqlite://l.db")];
        recon(
            &["config", "check", "--config", "recon.toml"],
            &env,
            dir.path(),
        )
    };
    let refused = check(364);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        stderr(&refused).trim(),
        "recon: recon.toml: job.history_retention_days (364) must be at least 365: PCI DSS 10.5.1 keeps audit history at least 12 months"
    );
    let accepted = check(365);
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
}

#[tokio::test]
async fn a_summary_that_cannot_be_written_leaves_no_tmp_and_the_run_not_finished() {
    let scenario = Scenario::new("STORE_URL");
    let schema = "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT)";
    let row = "INSERT INTO accounts VALUES ('a1', 'Ana')";
    let [left, right, _] = sqlite_sides(scenario.dir(), schema, row, row).await;
    let config = TestConfig::new()
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .integrity("accounts", "ledger.accounts", "payments.accounts", "id")
        .to_toml();
    let scenario = scenario
        .env("LEDGER_URL", &left)
        .env("PAYMENTS_URL", &right)
        .config(&config);
    // A folder where summary.json should go: it cannot be renamed into place.
    let blocked = scenario.dir().join("out/summary.json");
    std::fs::create_dir_all(&blocked).unwrap();
    write(&blocked, "keep", "x");
    let out = scenario.recon(&run_args("2026-11-20", "out", &[]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("summary.json"), "{}", stderr(&out));
    let left_over: Vec<_> = std::fs::read_dir(scenario.dir().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(left_over.is_empty(), "{left_over:?}");
    let store = scenario.store().to_string();
    assert_eq!(
        store_texts(
            &store,
            "SELECT status || ' ' || outcome FROM runs ORDER BY id"
        )
        .await,
        ["failed bad_input"]
    );
    // Nothing stands for the date: a retry has nothing to complete, a rerun writes the reports.
    let mut retry_args = run_args("2026-11-20", "out", &[]);
    retry_args[0] = "retry";
    let retry = scenario.recon(&retry_args);
    assert_eq!(retry.status.code(), Some(2), "{}", stderr(&retry));
    std::fs::remove_dir_all(&blocked).unwrap();
    let (rerun, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    assert_eq!(summary["outcome"], "clean");
    assert_eq!(
        store_texts(
            &store,
            "SELECT status || ' ' || outcome FROM runs ORDER BY id"
        )
        .await,
        ["failed bad_input", "finished clean"]
    );
}
