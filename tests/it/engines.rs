//! The same logical rows digest identically on SQLite, PostgreSQL and MariaDB, whatever types
//! each engine stores them in; differences between engines are named to the row and column.

use crate::common::*;
use chrono::{NaiveDate, TimeZone, Utc};
use recon::canonical::{SegmentDigest, Value, row_hash};
use recon::integrity::{TablePair, compare_with};
use recon::source::Source;

const PG_SCHEMA: &str = "CREATE TABLE payments (
    id bigint PRIMARY KEY, amount numeric(18,4), currency char(3), settled boolean,
    created_at timestamptz, memo text, booked_on date)";
const MARIADB_SCHEMA: &str = "CREATE TABLE payments (
    id bigint PRIMARY KEY, amount decimal(18,2), currency char(3), settled tinyint(1),
    created_at datetime(6), memo varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
    booked_on date)";
const SQLITE_SCHEMA: &str = "CREATE TABLE payments (
    id INTEGER PRIMARY KEY, amount DECIMAL(18,4), currency TEXT, settled BOOLEAN,
    created_at TIMESTAMP, memo TEXT, booked_on DATE)";

/// The same four rows, written the way each engine (or its users) write them.
const PG_ROWS: &str = "INSERT INTO payments VALUES
    (1, 12.5000, 'EUR', true,  '2026-11-20 10:00:00.123456+00', 'café 😀', '2026-11-20'),
    (2, -0.0100, 'USD', false, '2026-11-21 00:59:59+01', NULL, NULL),
    (3, 1000000, 'JPY', true,  '2026-11-21 00:00:00+00', '', '2026-11-21'),
    (4, 0,       'KWD', NULL,  '2026-11-21 00:00:00.5+00', 'two  spaces  ', '2026-11-21')";
const MARIADB_ROWS: &str = "INSERT INTO payments VALUES
    (1, 12.50,      'EUR', 1,    '2026-11-20 10:00:00.123456', 'café 😀', '2026-11-20'),
    (2, -0.01,      'USD', 0,    '2026-11-20 23:59:59', NULL, NULL),
    (3, 1000000.00, 'JPY', 1,    '2026-11-21 00:00:00', '', '2026-11-21'),
    (4, 0.00,       'KWD', NULL, '2026-11-21 00:00:00.500000', 'two  spaces  ', '2026-11-21')";
const SQLITE_ROWS: &str = "INSERT INTO payments VALUES
    (1, '12.5',  'EUR', 1,    '2026-11-20T10:00:00.123456Z', 'café 😀', '2026-11-20'),
    (2, '-0.01', 'USD', 0,    '2026-11-20 23:59:59', NULL, NULL),
    (3, 1000000, 'JPY', 1,    '2026-11-21 00:00:00', '', '2026-11-21'),
    (4, '0',     'KWD', NULL, '2026-11-21 00:00:00.5', 'two  spaces  ', '2026-11-21')";

/// The rows above as canonical values, and their partition digest by the reference encoding.
fn expected_digest() -> String {
    let t = |s: &str| Value::Text(s.to_string());
    let d = |s: &str| Value::decimal(s).unwrap();
    let ts = |secs: &str, micros: u32| {
        Value::Timestamp(
            Utc.from_utc_datetime(
                &chrono::NaiveDateTime::parse_from_str(secs, "%Y-%m-%d %H:%M:%S")
                    .unwrap()
                    .with_nanosecond(micros * 1000)
                    .unwrap(),
            ),
        )
    };
    let date = |s: &str| Value::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
    let rows = [
        vec![
            Value::Int(1),
            d("12.5"),
            t("EUR"),
            Value::Bool(true),
            ts("2026-11-20 10:00:00", 123_456),
            t("café 😀"),
            date("2026-11-20"),
        ],
        vec![
            Value::Int(2),
            d("-0.01"),
            t("USD"),
            Value::Bool(false),
            ts("2026-11-20 23:59:59", 0),
            Value::Null,
            Value::Null,
        ],
        vec![
            Value::Int(3),
            d("1000000"),
            t("JPY"),
            Value::Bool(true),
            ts("2026-11-21 00:00:00", 0),
            t(""),
            date("2026-11-21"),
        ],
        vec![
            Value::Int(4),
            d("0"),
            t("KWD"),
            Value::Null,
            ts("2026-11-21 00:00:00", 500_000),
            t("two  spaces  "),
            date("2026-11-21"),
        ],
    ];
    let mut digest = SegmentDigest::new();
    for row in &rows {
        digest.push(&row_hash(row));
    }
    digest.finish().0
}

use chrono::Timelike;

async fn digest_against_sqlite(url: &str, dir: &std::path::Path) -> (String, String, usize) {
    let sqlite = sqlite_db(&dir.join("golden.db"), &[SQLITE_SCHEMA, SQLITE_ROWS]).await;
    let left = Source::connect_url("server", url).await.unwrap();
    let right = Source::connect_url("sqlite", &sqlite).await.unwrap();
    let key = ["id".to_string()];
    let pair = TablePair::whole(&left, "payments", &right, "payments", &key);
    let comparison = compare_with(&pair, Default::default()).await.unwrap();
    assert!(comparison.schema.is_empty(), "{:?}", comparison.schema);
    assert_eq!(comparison.left.rows, 4);
    (
        comparison
            .left
            .digest
            .expect("streamed: SQLite cannot bisect"),
        comparison
            .right
            .digest
            .expect("streamed: SQLite cannot bisect"),
        comparison.differences.len(),
    )
}

#[tokio::test]
async fn postgres_rows_digest_exactly_like_the_reference_encoding() {
    let Some(url) = fresh_postgres("golden").await else {
        return;
    };
    pg_exec(&url, &[PG_SCHEMA, PG_ROWS]).await;
    let dir = temp_dir();
    let (pg, sqlite, differences) = digest_against_sqlite(&url, dir.path()).await;
    let expected = expected_digest();
    assert_eq!(pg, expected);
    assert_eq!(sqlite, expected);
    assert_eq!(differences, 0);
}

#[tokio::test]
async fn mariadb_rows_digest_exactly_like_the_reference_encoding() {
    let Some(url) = fresh_mysql("golden").await else {
        return;
    };
    mysql_exec(&url, &[MARIADB_SCHEMA, MARIADB_ROWS]).await;
    let dir = temp_dir();
    let (mariadb, sqlite, differences) = digest_against_sqlite(&url, dir.path()).await;
    let expected = expected_digest();
    assert_eq!(mariadb, expected);
    assert_eq!(sqlite, expected);
    assert_eq!(differences, 0);
}

/// `recon diff` between PostgreSQL and MariaDB: equal values in different types agree; real
/// differences — a lost digit, a microsecond, a flipped flag, a case-only text change under a
/// case-insensitive collation, a missing row — are each named exactly.
#[tokio::test]
async fn diff_postgres_against_mariadb_names_every_difference_exactly() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("diff_pg_my").await,
        fresh_mysql("diff_pg_my").await,
    ) else {
        return;
    };
    pg_exec(
        &pg,
        &[
            PG_SCHEMA,
            PG_ROWS,
            "INSERT INTO payments VALUES
             (5, 1.2345, 'EUR', true, '2026-11-21 08:00:00.000001+00', 'Café', '2026-11-21'),
             (6, 7, 'EUR', true, '2026-11-21 09:00:00+00', 'only in postgres', '2026-11-21')",
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            MARIADB_SCHEMA,
            MARIADB_ROWS,
            // 1.2345 does not fit decimal(18,2): MariaDB holds 1.23. A microsecond later, and
            // "café" equals "Café" under utf8mb4_general_ci, but not to recon.
            "INSERT INTO payments VALUES
             (5, 1.23, 'EUR', true, '2026-11-21 08:00:00.000002', 'café', '2026-11-21'),
             (7, 7, 'EUR', false, '2026-11-21 09:00:00', 'only in mariadb', '2026-11-21')",
            "UPDATE payments SET settled = 0 WHERE id = 3",
        ],
    )
    .await;
    let dir = temp_dir();
    let expected = [
        r#"{"kind":"changed","key":{"id":"3"},"columns":["settled"],"values":[{"column":"settled","left":"true","right":"false"}]}"#,
        r#"{"kind":"changed","key":{"id":"5"},"columns":["amount","created_at","memo"],"values":[{"column":"amount","left":"1.2345","right":"1.23"},{"column":"created_at","left":"2026-11-21T08:00:00.000001Z","right":"2026-11-21T08:00:00.000002Z"},{"column":"memo","left":"Café","right":"café"}]}"#,
        r#"{"kind":"missing_in_right","key":{"id":"6"}}"#,
        r#"{"kind":"missing_in_left","key":{"id":"7"}}"#,
    ];
    let expected: Vec<serde_json::Value> = expected
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for strategy in ["stream", "bisect"] {
        let output = recon(
            &[
                "diff",
                &pg,
                "payments",
                &my,
                "payments",
                "--key",
                "id",
                "--json",
                "--stats",
                "--strategy",
                strategy,
            ],
            &[],
            dir.path(),
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let lines: Vec<serde_json::Value> = stdout(&output)
            .lines()
            .filter(|l| l.starts_with('{'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, expected, "{strategy}: {}", stdout(&output));
    }
}

/// Text keys order by bytes on both servers (never by a locale or a case-insensitive
/// collation), so the merge-join sees both streams in the same order.
#[tokio::test]
async fn text_keys_merge_in_byte_order_across_postgres_and_mariadb() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("text_keys").await,
        fresh_mysql("text_keys").await,
    ) else {
        return;
    };
    // Distinct under a case-insensitive collation too; that collation orders them otherwise.
    let keys = ["a", "B", "Z", "aa", "é", "😀", "_x", "A1", "c"];
    let values: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("('{k}', {i})"))
        .collect();
    let insert = format!("INSERT INTO t VALUES {}", values.join(", "));
    pg_exec(
        &pg,
        &["CREATE TABLE t (k text PRIMARY KEY, n integer)", &insert],
    )
    .await;
    mysql_exec(
        &my,
        &[
            "CREATE TABLE t (k varchar(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci PRIMARY KEY, n int)",
            &insert,
            "UPDATE t SET n = 100 WHERE k = '😀'",
        ],
    )
    .await;
    let dir = temp_dir();
    let output = recon(
        &["diff", &pg, "t", &my, "t", "--key", "k", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        r#"{"kind":"changed","key":{"k":"😀"},"columns":["n"],"values":[{"column":"n","left":"5","right":"100"}]}"#
    );
}

/// recon needs nothing beyond SELECT on the compared tables, on either server.
#[tokio::test]
async fn a_select_only_role_is_enough_on_postgres_and_mariadb() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("readonly").await,
        fresh_mysql("readonly").await,
    ) else {
        return;
    };
    let reader = test_name("reader");
    let database = test_name("readonly");
    pg_exec(
        &pg,
        &[
            PG_SCHEMA,
            PG_ROWS,
            &format!("DROP ROLE IF EXISTS {reader}"),
            &format!("CREATE ROLE {reader} LOGIN"),
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            &format!("GRANT USAGE ON SCHEMA public TO {reader}"),
            &format!("GRANT SELECT ON payments TO {reader}"),
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            MARIADB_SCHEMA,
            MARIADB_ROWS,
            &format!("DROP USER IF EXISTS '{reader}'@'%'"),
            &format!("CREATE USER '{reader}'@'%'"),
            &format!("GRANT SELECT ON {database}.payments TO '{reader}'@'%'"),
        ],
    )
    .await;
    let pg_reader = pg.replacen("postgres://postgres@", &format!("postgres://{reader}@"), 1);
    let my_reader = my.replacen("mysql://root@", &format!("mysql://{reader}@"), 1);
    let dir = temp_dir();
    let output = recon(
        &[
            "diff", &pg_reader, "payments", &my_reader, "payments", "--key", "id", "--stats",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        "rows: left 4, right 4 · differences: 0 (0 missing in left, 0 missing in right, 0 changed)"
    );
}

/// Reserved words work as names on both servers; a hostile name is refused before any SQL.
#[tokio::test]
async fn reserved_words_are_quoted_and_hostile_names_never_reach_the_servers() {
    let (Some(pg), Some(my)) = (fresh_postgres("names").await, fresh_mysql("names").await) else {
        return;
    };
    pg_exec(
        &pg,
        &[
            r#"CREATE TABLE "order" ("select" bigint PRIMARY KEY, "group" text)"#,
            r#"INSERT INTO "order" VALUES (1, 'a'), (2, 'b')"#,
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            "CREATE TABLE `order` (`select` bigint PRIMARY KEY, `group` text)",
            "INSERT INTO `order` VALUES (1, 'a'), (2, 'c')",
        ],
    )
    .await;
    let dir = temp_dir();
    let output = recon(
        &[
            "diff", &pg, "order", &my, "order", "--key", "select", "--json",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim(),
        r#"{"kind":"changed","key":{"select":"2"},"columns":["group"],"values":[{"column":"group","left":"b","right":"c"}]}"#
    );
    for hostile in [
        "order; DROP TABLE \"order\"",
        "order`; DROP TABLE `order",
        "order--",
    ] {
        let output = recon(
            &["diff", &pg, hostile, &my, "order", "--key", "select"],
            &[],
            dir.path(),
        );
        assert_eq!(
            output.status.code(),
            Some(2),
            "{hostile}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("not a plain table name"),
            "{}",
            stderr(&output)
        );
    }
    // Both tables are still there, untouched.
    let output = recon(
        &[
            "diff", &pg, "order", &my, "order", "--key", "select", "--json",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

/// `recon run --date 2026-11-20` of the `recon.toml` in `dir`, with a SQLite store beside it
/// and the sources' URLs in `sources`.
fn run_2026_11_20(dir: &std::path::Path, sources: &[(&str, &str)]) -> std::process::Output {
    let store = sqlite_url(dir.join("store.db"));
    let mut env = vec![("STORE_URL", store.as_str())];
    env.extend_from_slice(sources);
    let args = [
        "run",
        "--config",
        "recon.toml",
        "--date",
        "2026-11-20",
        "--out",
        "out",
    ];
    recon(&args, &env, dir)
}

/// A dated check reads only its business day on PostgreSQL and MariaDB: a row of another day
/// that could not even be read (a `NaN` amount, a zero date) is never fetched, and rows near
/// the day's edges fall on the right side of them in the job's zone.
#[tokio::test]
async fn only_the_business_day_is_read_from_postgres_and_mariadb() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("day_pushdown").await,
        fresh_mysql("day_pushdown").await,
    ) else {
        return;
    };
    // Amsterdam is UTC+1 in November: its 2026-11-20 is 2026-11-19 23:00 to 2026-11-20 23:00 UTC.
    pg_exec(
        &pg,
        &[
            "CREATE TABLE entries (id bigint PRIMARY KEY, amount numeric, created_at timestamptz)",
            "INSERT INTO entries VALUES
             (1, 'NaN', '2026-11-18 12:00:00+00'),
             (2, 10, '2026-11-19 22:59:59.999999+00'),
             (3, 20, '2026-11-19 23:00:00+00'),
             (4, 30, '2026-11-20 12:00:00+00'),
             (5, 40, '2026-11-20 22:59:59.999999+00'),
             (6, 50, '2026-11-20 23:00:00+00')",
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            "SET SESSION sql_mode = ''",
            "CREATE TABLE entries (id bigint PRIMARY KEY, amount decimal(10,2), created_at datetime(6))",
            // DATETIME holds wall-clock times in the source's zone (Amsterdam, configured below).
            "INSERT INTO entries VALUES
             (1, 0, '0000-00-00 00:00:00'),
             (2, 10, '2026-11-19 23:59:59.999999'),
             (3, 20, '2026-11-20 00:00:00'),
             (4, 31, '2026-11-20 13:00:00'),
             (5, 40, '2026-11-20 23:59:59.999999'),
             (6, 50, '2026-11-21 00:00:00')",
        ],
    )
    .await;
    let dir = temp_dir();
    write(
        dir.path(),
        "recon.toml",
        &TestConfig::new()
            .table("job")
            .set("timezone", "Europe/Amsterdam")
            .store("STORE_URL")
            .source("ledger", "LEDGER_URL")
            .source("payments", "PAYMENTS_URL")
            .set("timezone", "Europe/Amsterdam")
            .integrity("entries", "ledger.entries", "payments.entries", "id")
            .set("date_column", "created_at")
            .to_toml(),
    );
    let out = run_2026_11_20(dir.path(), &[("LEDGER_URL", &pg), ("PAYMENTS_URL", &my)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let summary = summary(dir.path());
    let check = &summary["checks"][0];
    assert_eq!(
        (
            check["left"]["rows"].as_u64(),
            check["right"]["rows"].as_u64()
        ),
        (Some(3), Some(3))
    );
    let found: Vec<(String, String, serde_json::Value)> = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["key"].to_string(),
                d["values"].clone(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [(
            "changed".to_string(),
            r#"{"id":"4"}"#.to_string(),
            serde_json::json!([{"column": "amount", "left": "30", "right": "31"}])
        )]
    );
}

/// A `timestamptz` with a precision (`timestamp(3) with time zone` in the catalog) holds
/// instants like any `timestamptz`: a source's zone never shifts it, and the business day
/// takes exactly its rows.
#[tokio::test]
async fn a_timestamptz_with_a_precision_is_an_instant_in_any_source_zone() {
    let Some(pg) = fresh_postgres("timestamptz_precision").await else {
        return;
    };
    let rows = "(1, '2026-11-19 22:59:59.999+00'), (2, '2026-11-19 23:00:00+00'),
                (3, '2026-11-20 22:59:59.999+00'), (4, '2026-11-20 23:00:00+00')";
    pg_exec(
        &pg,
        &[
            "CREATE TABLE precise (id bigint PRIMARY KEY, booked_at timestamptz(3))",
            "CREATE TABLE plain (id bigint PRIMARY KEY, booked_at timestamptz)",
            &format!("INSERT INTO precise VALUES {rows}"),
            &format!("INSERT INTO plain VALUES {rows}"),
        ],
    )
    .await;
    let dir = temp_dir();
    write(
        dir.path(),
        "recon.toml",
        &TestConfig::new()
            .table("job")
            .set("timezone", "Europe/Amsterdam")
            .store("STORE_URL")
            .source("ledger", "LEDGER_URL")
            .set("timezone", "Europe/Amsterdam")
            .integrity("entries", "ledger.precise", "ledger.plain", "id")
            .set("date_column", "booked_at")
            .to_toml(),
    );
    let out = run_2026_11_20(dir.path(), &[("LEDGER_URL", &pg)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = summary(dir.path());
    let check = &summary["checks"][0];
    assert_eq!(check["status"], "clean", "{check}");
    assert_eq!(
        (
            check["left"]["rows"].as_u64(),
            check["right"]["rows"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(check["left"]["digest"], check["right"]["digest"]);
}
