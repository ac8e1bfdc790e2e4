//! Settlement checks end to end: a Stripe report matched against a ledger table by a real run,
//! the exact discrepancy set and accounting, the same on SQLite, PostgreSQL and MariaDB ledgers,
//! and in-flight rows of day D settled (or given up on) by the run of day D+1.

use std::path::Path;

use crate::common::*;

fn config() -> String {
    config_reading("reports/stripe-{date}.csv")
}

/// The check's configuration with `report = path`.
fn config_reading(path: &str) -> String {
    TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 20)
        .set("max_attempts", 2)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("stripe", "stripe")
        .set("report", path)
        .set(
            "ledger",
            ledger_mapping(
                "payments",
                &[
                    ("status", "status"),
                    ("fee", "fee_minor"),
                    ("payout", "payout_id"),
                ],
            ),
        )
        .set("match_on", "reference")
        .set("settled_statuses", ["settled"])
        .set("timing_window_days", 1)
        .to_toml()
}

const HEADER: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id";

/// The report of 2026-11-20: clean lines, one of each problem, two malformed lines, a payout.
fn report_day1() -> String {
    [
        HEADER,
        "txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,po_1",
        "txn_2,2026-11-20 10:05:00,usd,25.00,1.03,23.97,charge,ch_2,po_1",
        "txn_3,2026-11-20 11:00:00,jpy,1200,0,1200,charge,ch_3,",
        "txn_4,2026-11-20 12:00:00,kwd,12.345,0.100,12.245,charge,ch_4,",
        "txn_5,2026-11-20 13:00:00,usd,-10.00,0.00,-10.00,refund,re_5,",
        "txn_6,2026-11-20 14:00:00,usd,-15.00,15.00,-30.00,dispute,dp_6,",
        "txn_7,2026-11-20 15:00:00,usd,5.00,0.45,4.55,charge,ch_7,",
        "txn_8,2026-11-20 16:00:00,eur,8.00,0.50,7.50,charge,ch_8,",
        "txn_9,2026-11-20 17:00:00,usd,3.00,0.39,2.61,charge,ch_9,",
        "txn_10,2026-11-20 18:00:00,usd,4.00,0.42,3.58,charge,ch_10,",
        "txn_11,2026-11-20 18:00:01,usd,4.00,0.42,3.58,charge,ch_10,",
        "txn_12,2026-11-20 19:00:00,xyz,1.00,0.00,1.00,charge,ch_12,",
        "txn_13,2026-11-20 19:30:00,usd,abc,0.00,1.00,charge,ch_13,",
        "txn_po1,2026-11-20 23:00:00,usd,-32.39,0.00,-32.39,payout,po_1,",
        "",
    ]
    .join("\r\n")
}

/// The report of 2026-11-21: one of day 1's in-flight payments arrives, the other never does.
fn report_day2() -> String {
    [
        HEADER,
        "txn_20,2026-11-21 08:00:00,usd,20.00,0.88,19.12,charge,ch_20,",
        "txn_30,2026-11-21 09:00:00,usd,30.00,1.17,28.83,charge,ch_30,",
        "",
    ]
    .join("\n")
}

/// id, amount (minor units), currency, status, booked at (UTC), fee, payout id.
type LedgerRow = (
    &'static str,
    i64,
    &'static str,
    &'static str,
    &'static str,
    Option<i64>,
    Option<&'static str>,
);

const LEDGER_ROWS: &[LedgerRow] = &[
    (
        "ch_1",
        1000,
        "USD",
        "settled",
        "2026-11-20 09:59:00",
        Some(59),
        Some("po_1"),
    ),
    (
        "ch_2",
        2400,
        "USD",
        "settled",
        "2026-11-20 10:04:00",
        Some(103),
        Some("po_1"),
    ),
    (
        "ch_3",
        1200,
        "JPY",
        "settled",
        "2026-11-20 10:59:00",
        None,
        None,
    ),
    (
        "ch_4",
        12345,
        "KWD",
        "settled",
        "2026-11-20 11:59:00",
        Some(150),
        None,
    ),
    (
        "re_5",
        -1000,
        "USD",
        "settled",
        "2026-11-20 12:59:00",
        Some(0),
        None,
    ),
    (
        "dp_6",
        -1500,
        "USD",
        "settled",
        "2026-11-20 13:59:00",
        Some(1500),
        None,
    ),
    (
        "ch_8",
        800,
        "USD",
        "settled",
        "2026-11-20 15:59:00",
        None,
        None,
    ),
    (
        "ch_9",
        300,
        "USD",
        "pending",
        "2026-11-20 16:59:00",
        None,
        None,
    ),
    (
        "ch_10",
        400,
        "USD",
        "settled",
        "2026-11-20 17:59:00",
        None,
        None,
    ),
    (
        "ch_20",
        2000,
        "USD",
        "settled",
        "2026-11-20 20:00:00",
        Some(88),
        None,
    ),
    (
        "ch_21",
        700,
        "USD",
        "failed",
        "2026-11-20 21:00:00",
        None,
        None,
    ),
    (
        "ch_22",
        900,
        "USD",
        "settled",
        "2026-11-20 21:30:00",
        None,
        None,
    ),
    (
        "ch_22",
        900,
        "USD",
        "settled",
        "2026-11-20 21:31:00",
        None,
        None,
    ),
    (
        "ch_23",
        500,
        "USD",
        "settled",
        "2026-11-20 22:00:00",
        None,
        None,
    ),
    // Day 2.
    (
        "ch_30",
        3000,
        "USD",
        "settled",
        "2026-11-21 08:59:00",
        Some(117),
        None,
    ),
    // Another day entirely: never read for these dates.
    (
        "ch_99",
        100,
        "USD",
        "settled",
        "2026-11-25 08:00:00",
        None,
        None,
    ),
];

fn inserts(timestamp: impl Fn(&str) -> String) -> String {
    let values: Vec<String> = LEDGER_ROWS
        .iter()
        .map(|(id, amount, currency, status, at, fee, payout)| {
            format!(
                "('{id}', {amount}, '{currency}', '{status}', {}, {}, {})",
                timestamp(at),
                fee.map_or("NULL".to_string(), |f| f.to_string()),
                payout.map_or("NULL".to_string(), |p| format!("'{p}'"))
            )
        })
        .collect();
    format!(
        "INSERT INTO payments (id, amount_minor, currency, status, created_at, fee_minor, payout_id) VALUES {}",
        values.join(", ")
    )
}

/// (kind, key) of every discrepancy of the run, in report order.
fn found(summary: &serde_json::Value) -> Vec<(String, String, String)> {
    summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["key"].to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Each run writes its metrics too.
const METRICS: [&str; 2] = ["--metrics-file", "out/recon.prom"];

fn expected_day1() -> Vec<(String, String, String)> {
    let row = |kind: &str, key: &str| (kind.to_string(), key.to_string(), "open".to_string());
    let q = |line: u32| {
        row(
            "quarantined_row",
            &format!(r#"{{"file":"reports/stripe-2026-11-20.csv","line":"{line}"}}"#),
        )
    };
    vec![
        row("missing_in_ledger", r#"{"id":"ch_7"}"#),
        row("amount_mismatch", r#"{"id":"ch_2"}"#),
        row("fee_mismatch", r#"{"id":"ch_4"}"#),
        row("currency_mismatch", r#"{"id":"ch_8"}"#),
        row("status_mismatch", r#"{"id":"ch_9"}"#),
        row("duplicate_in_report", r#"{"id":"ch_10"}"#),
        row("duplicate_in_ledger", r#"{"id":"ch_22"}"#),
        row(
            "payout_total_mismatch",
            r#"{"payout_id":"po_1","currency":"USD"}"#,
        ),
        row("timing", r#"{"id":"ch_20"}"#),
        row("timing", r#"{"id":"ch_23"}"#),
        q(13),
        q(14),
    ]
}

/// Runs day 1 then day 2 against `ledger` and checks everything both runs leave.
async fn two_days(dir: &Path, ledger: &str) {
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .env("LEDGER_URL", ledger)
        .config(&config());
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(dir, "reports/stripe-2026-11-20.csv", &report_day1());
    write(dir, "reports/stripe-2026-11-21.csv", &report_day2());

    let (out, s) = scenario.run("2026-11-20", &METRICS);
    assert_eq!(out.status.code(), Some(1), "{s}");
    day_1_found(dir, &s);

    // Day 2: ch_20 arrives (its timing difference is resolved by this run); ch_23 is now
    // past its window: a real discrepancy, kept on its own day.
    let (out, s2) = scenario.run("2026-11-21", &METRICS);
    assert_eq!(out.status.code(), Some(1), "{s2}");
    day_2_found(dir, &s2);

    // The resolution is on record: day 1's timing difference names the run that settled it.
    let list = scenario.recon(&["discrepancies", "list", "--config", "recon.toml", "--json"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    let listed: Vec<serde_json::Value> = stdout(&list)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ch20 = listed
        .iter()
        .find(|d| d["kind"] == "timing" && d["key"]["id"] == "ch_20")
        .unwrap();
    assert_eq!(ch20["status"], "resolved", "{ch20}");
    assert_eq!(ch20["partition"], "2026-11-20");
}

/// What day 1's run `s` found, put at stake and wrote to the outputs in `dir`.
fn day_1_found(dir: &Path, s: &serde_json::Value) {
    let mut got = found(s);
    got.sort_by_key(|(kind, key, _)| (order(kind), key.clone()));
    assert_eq!(got, expected_day1());
    // What the open findings put in question, per currency: the differences, the lines or rows
    // one side lacks, the extra copies; not the `timing` rows inside their window (ch_20 and
    // ch_23: 20.00 + 5.00 USD).
    assert_eq!(
        s["totals"]["at_stake"],
        serde_json::json!([
            {"currency": "EUR", "minor": 800, "amount": "8.00 EUR"},
            {"currency": "KWD", "minor": 50, "amount": "0.050 KWD"},
            {"currency": "USD", "minor": 2201, "amount": "22.01 USD"},
        ])
    );
    // The same totals as gauges, in minor units.
    let metrics = std::fs::read_to_string(dir.join("out/recon.prom")).unwrap();
    let stakes: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("recon_at_stake_minor_units"))
        .collect();
    assert_eq!(
        stakes,
        [
            "recon_at_stake_minor_units{currency=\"EUR\"} 800",
            "recon_at_stake_minor_units{currency=\"KWD\"} 50",
            "recon_at_stake_minor_units{currency=\"USD\"} 2201",
        ]
    );
    let check = &s["checks"][0];
    assert_eq!(check["type"], "settlement");
    assert_eq!(check["left"]["rows"], 14);
    assert_eq!(check["right"]["rows"], 14);
    assert_eq!(
        check["accounting"],
        "reports/stripe-2026-11-20.csv: 14 rows = 4 matched + 8 in discrepancies + 2 quarantined; \
         ledger payments: 14 rows = 4 matched + 9 in discrepancies + 1 not expected + 0 set aside"
    );
    let amount = s["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "amount_mismatch")
        .unwrap();
    assert_eq!(
        amount["values"],
        serde_json::json!([{"column": "amount", "left": "25.00", "right": "24.00"}])
    );
    let csv = std::fs::read_to_string(dir.join("out/discrepancies.csv")).unwrap();
    assert!(
        csv.lines().any(|l| l.contains(",\"amount_mismatch\",")
            && l.contains(",\"100\",\"USD\",\"true\",\"1\",")),
        "{csv}"
    );
    let quarantine = std::fs::read_to_string(dir.join("out/quarantine.csv")).unwrap();
    assert_eq!(
        quarantine,
        "\"check\",\"file\",\"line\",\"ledger_id\",\"reason\",\"status\"\n\
         \"stripe\",\"reports/stripe-2026-11-20.csv\",\"13\",\"\",\"unknown currency `xyz` in `currency` — row: txn_12,2026-11-20 19:00:00,xyz,1.00,0.00,1.00,charge,ch_12,\",\"open\"\n\
         \"stripe\",\"reports/stripe-2026-11-20.csv\",\"14\",\"\",\"bad number in `gross`: `abc` is not a decimal number — row: txn_13,2026-11-20 19:30:00,usd,abc,0.00,1.00,charge,ch_13,\",\"open\"\n"
    );
}

/// What day 2's run `s2` resolved, found and put at stake.
fn day_2_found(dir: &Path, s2: &serde_json::Value) {
    let resolved: Vec<(String, String)> = kinds_and_keys(&s2["resolved"]);
    assert_eq!(
        resolved,
        [
            ("timing".to_string(), r#"{"id":"ch_20"}"#.to_string()),
            ("timing".to_string(), r#"{"id":"ch_23"}"#.to_string()),
        ]
    );
    let seen: Vec<(String, String, String, String)> = s2["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["key"].to_string(),
                d["partition"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(
            "missing_in_report".to_string(),
            r#"{"id":"ch_23"}"#.to_string(),
            "2026-11-20".to_string(),
            "open".to_string()
        )]
    );
    assert_eq!(
        s2["checks"][0]["accounting"],
        "reports/stripe-2026-11-21.csv: 2 rows = 2 matched + 0 in discrepancies + 0 quarantined; \
         ledger payments: 3 rows = 2 matched + 1 in discrepancies + 0 not expected + 0 set aside"
    );
    assert!(!dir.join("out/quarantine.csv").exists());
    assert_eq!(
        s2["totals"]["at_stake"],
        serde_json::json!([{"currency": "USD", "minor": 500, "amount": "5.00 USD"}])
    );
}

fn order(kind: &str) -> usize {
    [
        "missing_in_ledger",
        "amount_mismatch",
        "fee_mismatch",
        "currency_mismatch",
        "status_mismatch",
        "duplicate_in_report",
        "duplicate_in_ledger",
        "payout_total_mismatch",
        "timing",
        "missing_in_report",
        "quarantined_row",
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(usize::MAX)
}

const SCHEMA_SQLITE: &str =
    "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, fee_minor INTEGER,
    payout_id TEXT)";

#[tokio::test]
async fn a_stripe_report_against_a_sqlite_ledger_over_two_days() {
    let dir = temp_dir();
    let ledger = sqlite_db(
        &dir.path().join("ledger.db"),
        &[SCHEMA_SQLITE, &inserts(|at| format!("'{at}'"))],
    )
    .await;
    two_days(dir.path(), &ledger).await;
}

#[tokio::test]
async fn a_stripe_report_against_a_postgres_ledger_over_two_days() {
    let Some(url) = fresh_postgres("settle_pg").await else {
        return;
    };
    pg_exec(
        &url,
        &[
            "CREATE TABLE payments (id text NOT NULL, amount_minor bigint NOT NULL,
             currency char(3) NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL,
             fee_minor bigint, payout_id text)",
            &inserts(|at| format!("'{at}+00'")),
        ],
    )
    .await;
    let dir = temp_dir();
    two_days(dir.path(), &url).await;
}

#[tokio::test]
async fn a_stripe_report_against_a_mariadb_ledger_over_two_days() {
    let Some(url) = fresh_mysql("settle_my").await else {
        return;
    };
    mysql_exec(
        &url,
        &[
            "CREATE TABLE payments (id varchar(40) NOT NULL, amount_minor bigint NOT NULL,
             currency char(3) NOT NULL, status varchar(20) NOT NULL, created_at datetime(6) NOT NULL,
             fee_minor bigint, payout_id varchar(40))",
            &inserts(|at| format!("'{at}'")),
        ],
    )
    .await;
    let dir = temp_dir();
    two_days(dir.path(), &url).await;
}

/// A ledger of `LEDGER_ROWS` in `dir/ledger.db`.
async fn sqlite_ledger(dir: &Path) -> String {
    sqlite_db(
        &dir.join("ledger.db"),
        &[SCHEMA_SQLITE, &inserts(|at| format!("'{at}'"))],
    )
    .await
}

#[tokio::test]
async fn a_relative_report_path_is_read_from_the_config_files_folder() {
    let dir = temp_dir();
    let dir = dir.path();
    let folder = dir.join("etc");
    std::fs::create_dir_all(folder.join("reports")).unwrap();
    write(&folder, "recon.toml", &config());
    write(&folder, "reports/stripe-2026-11-20.csv", &report_day1());
    let scenario = Scenario::in_dir(dir, "STORE_URL").env("LEDGER_URL", &sqlite_ledger(dir).await);
    // run from `dir`, not from the configuration's folder
    let out = scenario.recon(&[
        "run",
        "--config",
        "etc/recon.toml",
        "--date",
        "2026-11-20",
        "--out",
        "out",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let s = summary(dir);
    let mut got = found(&s);
    got.sort_by_key(|(kind, key, _)| (order(kind), key.clone()));
    assert_eq!(got, expected_day1());
}

#[tokio::test]
async fn a_missing_report_names_the_absolute_pattern_and_the_folder_searched() {
    let dir = temp_dir();
    let dir = dir.path();
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .env("LEDGER_URL", &sqlite_ledger(dir).await)
        .config(&config());
    let (out, s) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(3), "{s}");
    let error = s["checks"][0]["error"].as_str().unwrap();
    let at = std::fs::canonicalize(dir).unwrap();
    let expected = format!(
        "no report matches {}/reports/stripe-2026-11-20.csv (not delivered yet?): searched folder {}/reports (it does not exist;",
        at.display(),
        at.display()
    );
    assert!(error.starts_with(&expected), "{error}");

    // The folder there, the file not: said so.
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    let (out, s) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(3), "{s}");
    let error = s["checks"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("reports (it exists, no file in it matches;"),
        "{error}"
    );
}

#[tokio::test]
async fn a_quarantined_line_is_one_finding_however_its_path_is_spelled() {
    let dir = temp_dir();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(dir, "reports/stripe-2026-11-20.csv", &report_day1());
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .env("LEDGER_URL", &sqlite_ledger(dir).await)
        .config(&config());
    let quarantined = |s: &serde_json::Value| -> Vec<(String, i64, String)> {
        let all = s["discrepancies"].as_array().unwrap().iter();
        all.filter(|d| d["kind"] == "quarantined_row")
            .map(|d| {
                (
                    d["key"].to_string(),
                    d["id"].as_i64().unwrap(),
                    d["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let (out, first) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{first}");
    let first = quarantined(&first);
    assert_eq!(first.len(), 2, "{first:?}");

    // The same report, its path now absolute (and spelled with a detour).
    let absolute = format!("{}/reports/../reports/stripe-{{date}}.csv", dir.display());
    write(dir, "recon.toml", &config_reading(&absolute));
    let (out, second) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{second}");
    let carried: Vec<_> = first
        .iter()
        .map(|(key, id, _)| (key.clone(), *id, "carried".to_string()))
        .collect();
    assert_eq!(quarantined(&second), carried);
    assert!(
        carried[0]
            .0
            .contains(r#""file":"reports/stripe-2026-11-20.csv""#)
    );
}
