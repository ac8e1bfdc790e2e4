//! Sealed days: a clean day is sealed; a later quiet edit of it (even one made identically on
//! both sides, as replication would) is found by the next runs and named row by row.

use crate::common::*;

fn config() -> String {
    TestConfig::new()
        .store("S")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml()
}

/// A run of `date` that completed, with or without findings: its summary.
fn run(scenario: &Scenario, date: &str) -> serde_json::Value {
    let (out, summary) = scenario.run(date, &[]);
    assert!(
        matches!(out.status.code(), Some(0) | Some(1)),
        "{}",
        stderr(&out)
    );
    summary
}

/// The same `rows` on both sides (`l.db` in `L`, `p.db` in `P`), a store beside them, and
/// `config`.
async fn alike(rows: &str, config: &str) -> Scenario {
    let scenario = Scenario::new("S");
    let l = sqlite_db(&scenario.dir().join("l.db"), &[rows]).await;
    let p = sqlite_db(&scenario.dir().join("p.db"), &[rows]).await;
    scenario.env("L", &l).env("P", &p).config(config)
}

/// The ledger's, the payments' and the store's URLs.
fn urls(scenario: &Scenario) -> [&str; 3] {
    [scenario.var("L"), scenario.var("P"), scenario.store()]
}

async fn exec(url: &str, sql: &str) {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

fn sealed_findings(summary: &serde_json::Value) -> Vec<String> {
    summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "closed_period_modified")
        .map(|d| {
            format!(
                "{} {} {}",
                d["partition"].as_str().unwrap(),
                d["key"],
                d["detail"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_quiet_edit_of_a_sealed_day_is_found_and_named() {
    let rows = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP);
                INSERT INTO entries VALUES (1, 100, '2026-11-19 09:00:00'), (2, 200, '2026-11-19 10:00:00'),
                                           (3, 300, '2026-11-19 11:00:00'), (4, 400, '2026-11-20 09:00:00'),
                                           (5, 500, '2026-11-21 09:00:00');";
    let scenario = alike(rows, &config()).await;
    let [l, p, _] = urls(&scenario);

    let first = run(&scenario, "2026-11-19");
    assert_eq!(first["outcome"], "clean");
    let second = run(&scenario, "2026-11-20");
    assert_eq!(
        second["outcome"], "clean",
        "the sealed 19th re-verifies intact"
    );

    // History is edited: entry 2 on both sides alike (the sides still agree), entry 3 only
    // deleted from the ledger, and a new row slipped into the closed day on the payments side.
    exec(
        l,
        "UPDATE entries SET amount_minor = 201 WHERE id = 2; DELETE FROM entries WHERE id = 3",
    )
    .await;
    exec(p, "UPDATE entries SET amount_minor = 201 WHERE id = 2; INSERT INTO entries VALUES (9, 900, '2026-11-19 23:00:00')").await;

    let third = run(&scenario, "2026-11-21");
    assert_eq!(third["outcome"], "discrepancies");
    assert_eq!(
        sealed_findings(&third),
        [
            r#"2026-11-19 {"id":"2"} changed in ledger.entries; changed in payments.entries since the day was sealed by run 1"#,
            r#"2026-11-19 {"id":"3"} deleted from ledger.entries since the day was sealed by run 1"#,
            r#"2026-11-19 {"id":"9"} added in payments.entries since the day was sealed by run 1"#,
        ]
    );
    // Today's own partition is clean; only the closed day is flagged.
    assert_eq!(third["checks"][0]["status"], "clean");

    // The edits are undone: the next run resolves the findings.
    exec(l, "UPDATE entries SET amount_minor = 200 WHERE id = 2; INSERT INTO entries VALUES (3, 300, '2026-11-19 11:00:00')").await;
    exec(
        p,
        "UPDATE entries SET amount_minor = 200 WHERE id = 2; DELETE FROM entries WHERE id = 9",
    )
    .await;
    let fourth = run(&scenario, "2026-11-21");
    assert_eq!(fourth["outcome"], "clean");
    let resolved: Vec<String> = fourth["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {}", d["kind"].as_str().unwrap(), d["key"]))
        .collect();
    assert_eq!(
        resolved,
        [
            r#"closed_period_modified {"id":"2"}"#,
            r#"closed_period_modified {"id":"3"}"#,
            r#"closed_period_modified {"id":"9"}"#
        ]
    );
}

/// A day sealed before seals had segments (one `seal_rows` row per data row) is still
/// re-verified after the upgrade, and its edited rows named exactly as before.
#[tokio::test]
async fn a_day_sealed_row_by_row_before_segments_is_still_verified() {
    use recon::canonical::{Value, row_hash};
    let rows = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP);
                INSERT INTO entries VALUES (1, 100, '2026-11-19 09:00:00'), (2, 200, '2026-11-19 10:00:00'),
                                           (3, 300, '2026-11-19 11:00:00'), (4, 400, '2026-11-20 09:00:00');";
    let scenario = alike(rows, &config()).await;
    let [l, p, s] = urls(&scenario);
    assert_eq!(run(&scenario, "2026-11-19")["outcome"], "clean");

    // The seal is turned into what an older recon wrote: every row's key hash, key and hash.
    let mut legacy = vec!["DELETE FROM seal_segments".to_string()];
    for (id, amount, hour) in [(1, 100, 9), (2, 200, 10), (3, 300, 11)] {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 19)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_utc();
        let key = [Value::Int(id)];
        let row = [Value::Int(id), Value::Int(amount), Value::Timestamp(at)];
        legacy.push(format!(
            "INSERT INTO seal_rows VALUES ('entries', '2026-11-19', '{}', '{{\"id\":\"{id}\"}}', '{}')",
            hex::encode(row_hash(&key)),
            hex::encode(row_hash(&row))
        ));
    }
    exec(s, &legacy.join(";")).await;
    assert_eq!(
        run(&scenario, "2026-11-20")["outcome"],
        "clean",
        "the legacy seal re-verifies intact"
    );

    exec(
        l,
        "UPDATE entries SET amount_minor = 201 WHERE id = 2; DELETE FROM entries WHERE id = 3",
    )
    .await;
    exec(p, "UPDATE entries SET amount_minor = 201 WHERE id = 2").await;
    let third = run(&scenario, "2026-11-20");
    assert_eq!(
        sealed_findings(&third),
        [
            r#"2026-11-19 {"id":"2"} changed in ledger.entries; changed in payments.entries since the day was sealed by run 1"#,
            r#"2026-11-19 {"id":"3"} deleted from ledger.entries since the day was sealed by run 1"#,
        ]
    );
}

/// Seals past `job.seal_retention_days` are pruned with their segments, in one audit entry
/// naming them; the audit chain still verifies, and the newer seals are kept.
#[tokio::test]
async fn seals_past_their_retention_are_pruned_and_audited() {
    let rows = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP);
                INSERT INTO entries VALUES (1, 100, '2026-11-19 09:00:00'), (2, 200, '2026-11-20 10:00:00'),
                                           (3, 300, '2026-11-21 11:00:00'), (4, 400, '2026-11-23 09:00:00');";
    let config = TestConfig::new()
        .table("job")
        .set("seal_lookback_days", 1)
        .set("seal_retention_days", 2)
        .store("S")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml();
    let scenario = alike(rows, &config).await;
    let [_, _, s] = urls(&scenario);
    for date in ["2026-11-19", "2026-11-20", "2026-11-21"] {
        assert_eq!(run(&scenario, date)["outcome"], "clean");
    }
    let pool = sqlx::SqlitePool::connect(s).await.unwrap();
    let sealed = async || -> Vec<String> {
        sqlx::query_scalar("SELECT partition_key FROM seals ORDER BY partition_key")
            .fetch_all(&pool)
            .await
            .unwrap()
    };
    assert_eq!(sealed().await, ["2026-11-19", "2026-11-20", "2026-11-21"]);

    // The 23rd keeps seals from the 21st on: the 19th and 20th go.
    assert_eq!(run(&scenario, "2026-11-23")["outcome"], "clean");
    assert_eq!(sealed().await, ["2026-11-21", "2026-11-23"]);
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM seal_segments WHERE partition_key < '2026-11-21'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(left, 0);
    let pruned: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM audit_log WHERE action = 'seals_pruned'")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(
        pruned,
        [
            r#"{"check":"entries","before":"2026-11-21","partitions":[{"partition":"2026-11-19","rows":1},{"partition":"2026-11-20","rows":1}]}"#
        ]
    );
    let verify = scenario.recon(&["audit", "verify", "--config", "recon.toml"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

/// A retention no longer than the look-back would prune days before they are re-verified.
#[test]
fn a_retention_not_past_the_lookback_is_refused() {
    let dir = temp_dir();
    let config = TestConfig::new()
        .table("job")
        .set("seal_lookback_days", 7)
        .set("seal_retention_days", 7)
        .store("S")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .to_toml();
    write(dir.path(), "recon.toml", &config);
    let env = [
        ("S", "sqlite://s.db"),
        ("L", "sqlite://l.db"),
        ("P", "sqlite://p.db"),
    ];
    let out = recon(
        &["config", "check", "--config", "recon.toml"],
        &env,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "recon: recon.toml: job.seal_retention_days (7) must be longer than job.seal_lookback_days (7): a seal is kept until every run that re-verifies it is past"
    );
}

/// A sealed day of 1,000,000 rows, a production day's size, cut into about a hundred and
/// twenty segments: edits on one side, an edit made identically on both, an insert and a delete
/// are each named, and nothing else; the seal is that many store rows, not one per data row.
#[tokio::test]
async fn a_million_row_sealed_day_names_exactly_its_edited_rows() {
    let rows =
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP);
                WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 1000000)
                INSERT INTO entries SELECT n, n * 7 % 100000, '2026-11-19 12:00:00' FROM g;";
    let scenario = alike(rows, &config()).await;
    let [l, p, s] = urls(&scenario);
    assert_eq!(run(&scenario, "2026-11-19")["outcome"], "clean");
    let pool = sqlx::SqlitePool::connect(s).await.unwrap();
    let (segments, rows_in_segments): (i64, i64) =
        sqlx::query_as("SELECT count(*), sum(row_count) FROM seal_segments")
            .fetch_one(&pool)
            .await
            .unwrap();
    let legacy_rows: i64 = sqlx::query_scalar("SELECT count(*) FROM seal_rows")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!((rows_in_segments, legacy_rows), (1_000_000, 0));
    assert!((80..=200).contains(&segments), "{segments} segments");

    exec(
        l,
        "UPDATE entries SET amount_minor = -1 WHERE id IN (17, 734567);
              UPDATE entries SET amount_minor = -2 WHERE id = 900000;
              INSERT INTO entries VALUES (1500000, 1, '2026-11-19 13:00:00')",
    )
    .await;
    exec(
        p,
        "UPDATE entries SET amount_minor = -2 WHERE id = 900000;
              DELETE FROM entries WHERE id = 999999",
    )
    .await;
    let second = run(&scenario, "2026-11-20");
    let mut found = sealed_findings(&second);
    found.sort();
    assert_eq!(
        found,
        [
            r#"2026-11-19 {"id":"1500000"} added in ledger.entries since the day was sealed by run 1"#,
            r#"2026-11-19 {"id":"17"} changed in ledger.entries since the day was sealed by run 1"#,
            r#"2026-11-19 {"id":"734567"} changed in ledger.entries since the day was sealed by run 1"#,
            r#"2026-11-19 {"id":"900000"} changed in ledger.entries; changed in payments.entries since the day was sealed by run 1"#,
            r#"2026-11-19 {"id":"999999"} deleted from payments.entries since the day was sealed by run 1"#,
        ]
    );
}

/// The seal spool goes in recon's temp folder: one that cannot be written (under a file, or
/// missing: root writes through chmod) fails the sealing check with exit 2, naming the folder,
/// the OS error and the setting, and seals nothing; a writable one seals the day (exit 0).
/// `job.temp_dir` in the file wins over RECON_TEMP_DIR.
#[tokio::test]
async fn a_temp_folder_that_cannot_be_written_is_named_and_a_writable_one_seals() {
    let rows = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP);
                INSERT INTO entries VALUES (1, 100, '2026-11-19 09:00:00'), (2, 200, '2026-11-19 10:00:00');";
    let scenario = alike(rows, &config())
        .await
        .env("RECON_TEMP_DIR", "/dev/null/recon-tmp");
    let store = scenario.store().to_string();
    let sealed = async || -> Vec<String> {
        let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
        let days = sqlx::query_scalar("SELECT partition_key FROM seals")
            .fetch_all(&pool)
            .await
            .unwrap();
        pool.close().await;
        days
    };
    let refused = |out: &std::process::Output, summary: &serde_json::Value, expected: &str| {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
        assert!(stderr(out).contains(expected), "{}", stderr(out));
        assert_eq!(summary["checks"][0]["error"].as_str(), Some(expected));
    };

    let (out, summary) = scenario.run("2026-11-19", &[]);
    refused(
        &out,
        &summary,
        "cannot create the seal's spool file in /dev/null/recon-tmp: Not a directory (os error 20); set job.temp_dir (or RECON_TEMP_DIR) to a writable folder, e.g. an emptyDir mounted there",
    );
    assert_eq!(sealed().await, Vec::<String>::new());

    let writable = scenario.dir().join("tmp");
    std::fs::create_dir(&writable).unwrap();
    let missing = scenario.dir().join("missing");
    let in_file = TestConfig::new()
        .table("job")
        .set("temp_dir", path_str(&missing))
        .to_toml()
        + &config();
    let scenario = scenario
        .env("RECON_TEMP_DIR", &path_str(&writable))
        .config(&in_file);
    let (out, summary) = scenario.run("2026-11-19", &[]);
    refused(
        &out,
        &summary,
        &format!(
            "cannot create the seal's spool file in {}: No such file or directory (os error 2); set job.temp_dir (or RECON_TEMP_DIR) to a writable folder, e.g. an emptyDir mounted there",
            missing.display()
        ),
    );
    assert_eq!(sealed().await, Vec::<String>::new());

    let scenario = scenario.config(&config());
    let (out, summary) = scenario.run("2026-11-19", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["outcome"], "clean");
    assert_eq!(sealed().await, ["2026-11-19"]);
    // Nothing is left behind: the spool is an unnamed file.
    assert_eq!(std::fs::read_dir(&writable).unwrap().count(), 0);
}
