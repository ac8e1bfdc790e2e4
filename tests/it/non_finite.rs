//! PostgreSQL's numerics that are not numbers (`NaN`, `±Infinity`) and dates far from today
//! (44 BC, year 12000) are compared alike by both strategies; what recon cannot hold
//! (`±infinity` timestamps and dates, dates past its calendar) is refused alike, exit 2.

use chrono::{NaiveDate, TimeZone, Utc};

use crate::common::*;
use recon::canonical::{SegmentDigest, Value, row_hash};
use recon::integrity::{TablePair, compare_with};
use recon::source::Source;

const SCHEMA: &str =
    "CREATE TABLE n (id int PRIMARY KEY, amount numeric, at timestamptz, day date)";
const ROWS: &str = "INSERT INTO n VALUES
    (1, 'NaN', '2026-11-20 10:00:00+00', '2026-11-20'),
    (2, 'Infinity', '10000-01-01 00:00:00.5+00', '12000-06-01'),
    (3, '-Infinity', '0044-03-15 12:00:00+00 BC', '0044-03-15 BC'),
    (4, 12.50, NULL, '0001-01-01 BC')";

fn expected_digest() -> String {
    let decimal = |s: &str| Value::Decimal(s.to_string());
    let date = |y, m, d| Value::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap());
    let at = |y, m, d, h, micros: i64| {
        Value::Timestamp(
            Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
                + chrono::Duration::microseconds(micros),
        )
    };
    let rows = [
        vec![
            Value::Int(1),
            decimal("NaN"),
            at(2026, 11, 20, 10, 0),
            date(2026, 11, 20),
        ],
        vec![
            Value::Int(2),
            decimal("Infinity"),
            at(10_000, 1, 1, 0, 500_000),
            date(12_000, 6, 1),
        ],
        // 44 BC is year -43 in the proleptic Gregorian calendar's numbering (1 BC is year 0)
        vec![
            Value::Int(3),
            decimal("-Infinity"),
            at(-43, 3, 15, 12, 0),
            date(-43, 3, 15),
        ],
        vec![Value::Int(4), decimal("12.5"), Value::Null, date(0, 1, 1)],
    ];
    let mut digest = SegmentDigest::new();
    for row in &rows {
        digest.push(&row_hash(row));
    }
    digest.finish().0
}

#[tokio::test]
async fn numerics_that_are_not_numbers_and_far_dates_digest_like_the_reference_encoding() {
    let (Some(left), Some(right)) = (
        fresh_postgres("non_finite_golden").await,
        fresh_postgres("non_finite_golden_r").await,
    ) else {
        return;
    };
    pg_exec(&left, &[SCHEMA, ROWS]).await;
    pg_exec(&right, &[SCHEMA, ROWS]).await;
    let left = Source::connect_url("left", &left).await.unwrap();
    let right = Source::connect_url("right", &right).await.unwrap();
    let key = ["id".to_string()];
    let pair = TablePair::whole(&left, "n", &right, "n", &key);
    let comparison = compare_with(&pair, Default::default()).await.unwrap();
    assert!(comparison.differences.is_empty());
    assert_eq!(comparison.left.digest, Some(expected_digest()));
    assert_eq!(comparison.right.digest, Some(expected_digest()));
}

/// `recon diff left n right n --key id --json --strategy <strategy>`.
fn diff(left: &str, right: &str, strategy: &str) -> std::process::Output {
    let dir = temp_dir();
    recon(
        &[
            "diff",
            left,
            "n",
            right,
            "n",
            "--key",
            "id",
            "--json",
            "--strategy",
            strategy,
        ],
        &[],
        dir.path(),
    )
}

fn lines(output: &std::process::Output) -> Vec<String> {
    stdout(output)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_change_to_or_from_nan_infinity_or_a_far_date_is_found_by_both_strategies() {
    let (Some(left), Some(right)) = (
        fresh_postgres("non_finite_change").await,
        fresh_postgres("non_finite_change_r").await,
    ) else {
        return;
    };
    pg_exec(&left, &[SCHEMA, ROWS]).await;
    pg_exec(
        &right,
        &[
            SCHEMA,
            ROWS,
            "UPDATE n SET amount = 'Infinity' WHERE id = 1",
            "UPDATE n SET day = '12000-06-02' WHERE id = 2",
            // to_char writes 44 BC and 44 AD alike: bisection must not
            "UPDATE n SET day = '0044-03-15', at = '0044-03-15 12:00:00+00' WHERE id = 3",
            "UPDATE n SET amount = 'NaN' WHERE id = 4",
        ],
    )
    .await;
    let expected = [
        r#"{"kind":"changed","key":{"id":"1"},"columns":["amount"],"values":[{"column":"amount","left":"NaN","right":"Infinity"}]}"#,
        r#"{"kind":"changed","key":{"id":"2"},"columns":["day"],"values":[{"column":"day","left":"+12000-06-01","right":"+12000-06-02"}]}"#,
        r#"{"kind":"changed","key":{"id":"3"},"columns":["at","day"],"values":[{"column":"at","left":"-0043-03-15T12:00:00.000000Z","right":"0044-03-15T12:00:00.000000Z"},{"column":"day","left":"-0043-03-15","right":"0044-03-15"}]}"#,
        r#"{"kind":"changed","key":{"id":"4"},"columns":["amount"],"values":[{"column":"amount","left":"12.5","right":"NaN"}]}"#,
    ];
    for strategy in ["stream", "bisect"] {
        let output = diff(&left, &right, strategy);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{strategy}: {}",
            stderr(&output)
        );
        assert_eq!(lines(&output), expected, "{strategy}");
    }
}

#[tokio::test]
async fn nan_and_infinity_are_compared_against_sqlite_by_streaming() {
    let Some(pg) = fresh_postgres("non_finite_sqlite").await else {
        return;
    };
    pg_exec(
        &pg,
        &[
            "CREATE TABLE n (id int PRIMARY KEY, amount numeric)",
            "INSERT INTO n VALUES (1, 'NaN'), (2, 'Infinity'), (3, '-Infinity'), (4, 1.50),
             (5, 'Infinity'), (6, '-Infinity')",
        ],
    )
    .await;
    let dir = temp_dir();
    let sqlite = sqlite_db(
        &dir.path().join("n.db"),
        &[
            "CREATE TABLE n (id INTEGER PRIMARY KEY, amount DECIMAL(18,4))",
            // 9e999 is a REAL infinity to SQLite
            "INSERT INTO n VALUES (1, 'NaN'), (2, 'Infinity'), (3, 'Infinity'), (4, '1.5'),
             (5, 9e999), (6, -9e999)",
        ],
    )
    .await;
    let output = diff(&pg, &sqlite, "stream");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        lines(&output),
        [
            r#"{"kind":"changed","key":{"id":"3"},"columns":["amount"],"values":[{"column":"amount","left":"-Infinity","right":"Infinity"}]}"#
        ]
    );
}

/// What recon's calendar cannot hold is refused by both strategies with the same line.
#[tokio::test]
async fn infinite_and_too_far_timestamps_and_dates_are_refused_alike_by_both_strategies() {
    let (Some(left), Some(right)) = (
        fresh_postgres("non_finite_refused").await,
        fresh_postgres("non_finite_refused_r").await,
    ) else {
        return;
    };
    for (change, refusal) in [
        (
            "UPDATE n SET at = 'infinity' WHERE id = 1",
            r#"column "at" (timestamp with time zone): 'infinity' is not an instant recon can compare"#,
        ),
        (
            "UPDATE n SET day = '-infinity' WHERE id = 4",
            r#"column "day" (date): '-infinity' is not a date recon can compare"#,
        ),
        (
            "UPDATE n SET day = '5874897-12-31' WHERE id = 2",
            r#"column "day" (date): 2145031948 days from 2000-01-01 is out of range: recon compares dates up to +262142-12-31"#,
        ),
    ] {
        pg_exec(&left, &["DROP TABLE IF EXISTS n", SCHEMA, ROWS]).await;
        pg_exec(&right, &["DROP TABLE IF EXISTS n", SCHEMA, ROWS, change]).await;
        for strategy in ["stream", "bisect"] {
            let output = diff(&left, &right, strategy);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{strategy}: {}",
                stderr(&output)
            );
            assert!(
                stderr(&output).contains(refusal),
                "{strategy}: {}",
                stderr(&output)
            );
        }
    }
}
