//! The settlement check reads only the business day's ledger rows and the ids still in flight:
//! the findings equal those of SQLite's whole-table read, rows of other days that could not even
//! be decoded are never read on PostgreSQL or MariaDB, and 25,000 in-flight ids (more than one
//! statement names) are all read again.

use std::path::Path;

use crate::common::*;

fn config() -> String {
    TestConfig::new()
        .table("job")
        .set("max_discrepancies", 100_000)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("stripe", "stripe")
        .set("report", "reports/stripe-{date}.csv")
        .set(
            "ledger",
            ledger_mapping("payments", &[("status", "status")]),
        )
        .set("match_on", "reference")
        .set("timing_window_days", 3)
        .to_toml()
}

const HEADER: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id";

/// A report line for ledger id `id` of `minor` cents, created on `date`.
fn line(id: &str, minor: i64, date: &str) -> String {
    let amount = format!("{}.{:02}", minor / 100, minor % 100);
    format!("txn_{id},{date} 12:00:00,usd,{amount},0.00,{amount},charge,{id},")
}

/// (id, amount in minor units, booked at UTC `YYYY-MM-DD HH:MM:SS`).
type Row = (String, i64, String);

/// Ten days of payments, 2026-11-11 to 2026-11-20, twenty a day (`p<day>_<n>`, n × 1.00 USD),
/// and two just outside 2026-11-20: one a second before it, one at its end.
fn ten_days() -> Vec<Row> {
    let mut rows = Vec::new();
    for day in 11..=20 {
        for n in 1..=20 {
            let at = format!("2026-11-{day} 10:{n:02}:00");
            rows.push((format!("p{day}_{n}"), 100 * n, at));
        }
    }
    rows.push(("edge_before".into(), 777, "2026-11-19 23:59:59".into()));
    rows.push(("edge_after".into(), 888, "2026-11-21 00:00:00".into()));
    rows
}

fn inserts(rows: &[Row], timestamp: impl Fn(&str) -> String) -> Vec<String> {
    rows.chunks(1000)
        .map(|chunk| {
            let values: Vec<String> = chunk
                .iter()
                .map(|(id, amount, at)| {
                    format!("('{id}', {amount}, 'USD', 'settled', {})", timestamp(at))
                })
                .collect();
            format!(
                "INSERT INTO payments (id, amount_minor, currency, status, created_at) VALUES {}",
                values.join(", ")
            )
        })
        .collect()
}

/// Day 2026-11-19's report: p19_1..p19_18 (p19_19, p19_20 and edge_before stay in flight).
fn report_19() -> String {
    let mut lines = vec![HEADER.to_string()];
    lines.extend((1..=18).map(|n| line(&format!("p19_{n}"), 100 * n, "2026-11-19")));
    lines.join("\n") + "\n"
}

/// Day 2026-11-20's report: p20_1..p20_19 (p20_5 for 0.01 USD more), the in-flight p19_19
/// arriving, and p15_1 of five days before (its ledger row is not the day's, nor in flight).
fn report_20() -> String {
    let mut lines = vec![HEADER.to_string()];
    lines.extend((1..=19).map(|n| {
        let extra = if n == 5 { 1 } else { 0 };
        line(&format!("p20_{n}"), 100 * n + extra, "2026-11-20")
    }));
    lines.push(line("p19_19", 1900, "2026-11-20"));
    lines.push(line("p15_1", 100, "2026-11-20"));
    lines.join("\n") + "\n"
}

/// (kind, key, partition, status) of every discrepancy the run reports, sorted.
fn found(summary: &serde_json::Value) -> Vec<String> {
    let mut found: Vec<String> = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {}",
                d["kind"].as_str().unwrap(),
                d["key"],
                d["partition"].as_str().unwrap(),
                d["status"].as_str().unwrap()
            )
        })
        .collect();
    found.sort();
    found
}

fn resolved(summary: &serde_json::Value) -> Vec<String> {
    let mut resolved: Vec<String> = summary["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {}", d["kind"].as_str().unwrap(), d["key"]))
        .collect();
    resolved.sort();
    resolved
}

/// Runs 2026-11-19 then 2026-11-20 against `ledger` and checks the exact outcome of both.
fn two_days_of_ten(dir: &Path, ledger: &str) {
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .env("LEDGER_URL", ledger)
        .config(&config());
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(dir, "reports/stripe-2026-11-19.csv", &report_19());
    write(dir, "reports/stripe-2026-11-20.csv", &report_20());

    let (out, s) = scenario.run("2026-11-19", &[]);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert_eq!(
        found(&s),
        [
            r#"timing {"id":"edge_before"} 2026-11-19 open"#,
            r#"timing {"id":"p19_19"} 2026-11-19 open"#,
            r#"timing {"id":"p19_20"} 2026-11-19 open"#,
        ]
    );
    assert_eq!(
        s["checks"][0]["accounting"],
        "reports/stripe-2026-11-19.csv: 18 rows = 18 matched + 0 in discrepancies + 0 quarantined; \
         ledger payments: 21 rows = 18 matched + 3 in discrepancies + 0 not expected + 0 set aside"
    );

    // The day's 20 rows and the 3 in flight; p15_1 and edge_after are not the day's.
    let (out, s) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert_eq!(
        found(&s),
        [
            r#"amount_mismatch {"id":"p20_5"} 2026-11-20 open"#,
            r#"missing_in_ledger {"id":"p15_1"} 2026-11-20 open"#,
            r#"timing {"id":"edge_before"} 2026-11-19 carried"#,
            r#"timing {"id":"p19_20"} 2026-11-19 carried"#,
            r#"timing {"id":"p20_20"} 2026-11-20 open"#,
        ]
    );
    assert_eq!(resolved(&s), [r#"timing {"id":"p19_19"}"#]);
    assert_eq!(
        s["checks"][0]["accounting"],
        "reports/stripe-2026-11-20.csv: 21 rows = 19 matched + 2 in discrepancies + 0 quarantined; \
         ledger payments: 23 rows = 19 matched + 4 in discrepancies + 0 not expected + 0 set aside"
    );
}

const SQLITE_SCHEMA: &str =
    "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP)";

/// PostgreSQL: `amount_minor` is numeric, so a row of another day can hold `NaN`, which recon
/// refuses to read: the check would fail if it read one.
const PG_SCHEMA: &str = "CREATE TABLE payments (id text PRIMARY KEY, amount_minor numeric NOT NULL,
    currency char(3) NOT NULL, status text NOT NULL, created_at timestamptz)";
const PG_UNREADABLE: &str = "INSERT INTO payments VALUES
    ('bad_1', 'NaN', 'USD', 'settled', '2026-11-13 10:00:00+00'),
    ('bad_2', 'NaN', 'USD', 'settled', '2026-11-23 10:00:00+00')";

/// MariaDB: a zero DATETIME, which recon refuses to read, in a row of no day at all.
const MY_SCHEMA: &str = "CREATE TABLE payments (id varchar(40) PRIMARY KEY,
    amount_minor bigint NOT NULL, currency char(3) NOT NULL, status varchar(20) NOT NULL,
    created_at datetime(6))";
const MY_UNREADABLE: &str =
    "INSERT INTO payments VALUES ('bad_1', 100, 'USD', 'settled', '0000-00-00 00:00:00')";

#[tokio::test]
async fn sqlite_reads_the_whole_table_and_finds_the_same() {
    let dir = temp_dir();
    let mut statements = vec![SQLITE_SCHEMA.to_string()];
    statements.extend(inserts(&ten_days(), |at| format!("'{at}'")));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    let ledger = sqlite_db(&dir.path().join("ledger.db"), &statements).await;
    two_days_of_ten(dir.path(), &ledger);
}

#[tokio::test]
async fn postgres_reads_the_day_and_the_ids_in_flight_only() {
    let Some(url) = fresh_postgres("ledger_pushdown_pg").await else {
        return;
    };
    let mut statements = vec![PG_SCHEMA.to_string(), PG_UNREADABLE.to_string()];
    statements.extend(inserts(&ten_days(), |at| format!("'{at}+00'")));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    pg_exec(&url, &statements).await;
    let dir = temp_dir();
    two_days_of_ten(dir.path(), &url);
}

#[tokio::test]
async fn mariadb_reads_the_day_and_the_ids_in_flight_only() {
    let Some(url) = fresh_mysql("ledger_pushdown_my").await else {
        return;
    };
    let mut statements = vec![MY_SCHEMA.to_string(), MY_UNREADABLE.to_string()];
    statements.extend(inserts(&ten_days(), |at| format!("'{at}'")));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    mysql_exec(&url, &statements).await;
    let dir = temp_dir();
    two_days_of_ten(dir.path(), &url);
}

/// 25,000 payments of 2026-11-19 no report of that day has: all in flight on 2026-11-20,
/// whose report has all but the first ten. Rows of other days that cannot be read sit beside.
fn many_in_flight(dir: &Path, ledger: &str) {
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .env("LEDGER_URL", ledger)
        .config(&config());
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(dir, "reports/stripe-2026-11-19.csv", &format!("{HEADER}\n"));
    let mut lines = vec![HEADER.to_string()];
    lines.extend((11..=25_000).map(|n| line(&format!("b{n:05}"), 1000, "2026-11-20")));
    write(
        dir,
        "reports/stripe-2026-11-20.csv",
        &(lines.join("\n") + "\n"),
    );

    let (out, s) = scenario.run("2026-11-19", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", s["checks"]);
    assert_eq!(s["discrepancies"].as_array().unwrap().len(), 25_000);

    let (out, s) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", s["checks"]);
    let still: Vec<String> = (1..=10)
        .map(|n| format!(r#"timing {{"id":"b{n:05}"}} 2026-11-19 carried"#))
        .collect();
    assert_eq!(found(&s), still);
    let mut settled: Vec<String> = (11..=25_000)
        .map(|n| format!(r#"timing {{"id":"b{n:05}"}}"#))
        .collect();
    settled.sort();
    assert_eq!(resolved(&s), settled);
    assert_eq!(
        s["checks"][0]["accounting"],
        "reports/stripe-2026-11-20.csv: 24990 rows = 24990 matched + 0 in discrepancies + 0 quarantined; \
         ledger payments: 25000 rows = 24990 matched + 10 in discrepancies + 0 not expected + 0 set aside"
    );
}

fn big_day() -> Vec<Row> {
    (1..=25_000)
        .map(|n| (format!("b{n:05}"), 1000, "2026-11-19 08:00:00".to_string()))
        .collect()
}

#[tokio::test]
async fn postgres_reads_25000_ids_in_flight_in_chunks() {
    let Some(url) = fresh_postgres("ledger_pushdown_many_pg").await else {
        return;
    };
    let mut statements = vec![PG_SCHEMA.to_string(), PG_UNREADABLE.to_string()];
    statements.extend(inserts(&big_day(), |at| format!("'{at}+00'")));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    pg_exec(&url, &statements).await;
    let dir = temp_dir();
    many_in_flight(dir.path(), &url);
}

#[tokio::test]
async fn mariadb_reads_25000_ids_in_flight_in_chunks() {
    let Some(url) = fresh_mysql("ledger_pushdown_many_my").await else {
        return;
    };
    let mut statements = vec![MY_SCHEMA.to_string(), MY_UNREADABLE.to_string()];
    statements.extend(inserts(&big_day(), |at| format!("'{at}'")));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    mysql_exec(&url, &statements).await;
    let dir = temp_dir();
    many_in_flight(dir.path(), &url);
}
