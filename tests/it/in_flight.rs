//! Rows younger than the settle time are left for a later run on either side, and a difference
//! that heals before the re-check (replication catching up) is never reported.

use std::time::Duration;

use crate::common::*;
use recon::integrity::{CompareOptions, Strategy, TablePair, compare_with};
use recon::source::Source;

const SCHEMA: &str =
    "CREATE TABLE ledger (id bigint PRIMARY KEY, amount bigint NOT NULL, updated_at timestamptz)";
const OLD_ROWS: &str = "INSERT INTO ledger SELECT g, g, '2026-01-01 00:00:00+00'
    FROM generate_series(1, 10) g WHERE g NOT IN (5, 6)";

async fn in_flight_rows_wait_and_healed_lag_is_not_reported(strategy: Strategy, test: &str) {
    let (Some(left_url), Some(right_url)) = (
        fresh_postgres(&format!("{test}_left")).await,
        fresh_postgres(&format!("{test}_right")).await,
    ) else {
        return;
    };
    pg_exec(
        &left_url,
        &[
            SCHEMA,
            OLD_ROWS,
            // 4 changed a moment ago, 5 written a moment ago: both still settling.
            "UPDATE ledger SET amount = 40, updated_at = now() WHERE id = 4",
            "INSERT INTO ledger VALUES (5, 5, now())",
        ],
    )
    .await;
    pg_exec(
        &right_url,
        &[
            SCHEMA,
            OLD_ROWS,
            // Real differences in settled rows: a changed amount and a row only here.
            "UPDATE ledger SET amount = 30 WHERE id = 3",
            "INSERT INTO ledger VALUES (6, 6, '2026-01-01 00:00:00+00')",
            // Lag that catches up before the re-check.
            "UPDATE ledger SET amount = 70 WHERE id = 7",
        ],
    )
    .await;
    let heal = {
        let url = right_url.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            pg_exec(&url, &["UPDATE ledger SET amount = 7 WHERE id = 7"]).await;
        })
    };
    let left = Source::connect_url("left", &left_url).await.unwrap();
    let right = Source::connect_url("right", &right_url).await.unwrap();
    let key = ["id".to_string()];
    let pair = TablePair {
        settle: Some((
            "updated_at",
            chrono::Utc::now() - chrono::Duration::minutes(10),
        )),
        ..TablePair::whole(&left, "ledger", &right, "ledger", &key)
    };
    let options = CompareOptions {
        strategy,
        recheck_after: Some(Duration::from_secs(4)),
        ..Default::default()
    };
    let c = compare_with(&pair, options).await.unwrap();
    heal.await.unwrap();
    let found: Vec<String> = c
        .differences
        .iter()
        .map(|d| {
            let columns: Vec<&str> = d.changed.iter().map(|c| c.column.as_str()).collect();
            format!(
                "{} {} [{}]",
                d.kind.as_str(),
                d.key[0].canonical_text().unwrap(),
                columns.join(",")
            )
        })
        .collect();
    assert_eq!(
        found,
        ["changed 3 [amount]", "missing_in_left 6 []"],
        "{strategy:?}"
    );
    assert_eq!(c.in_flight, 2, "{strategy:?}: keys 4 and 5 are in flight");
}

#[tokio::test]
async fn streamed_comparison_leaves_rows_in_flight_and_rechecks() {
    in_flight_rows_wait_and_healed_lag_is_not_reported(Strategy::Stream, "in_flight_stream").await;
}

#[tokio::test]
async fn bisection_leaves_rows_in_flight_and_rechecks() {
    in_flight_rows_wait_and_healed_lag_is_not_reported(Strategy::Bisect, "in_flight_bisect").await;
}
