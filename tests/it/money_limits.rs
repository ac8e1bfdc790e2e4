//! Amounts at the ends of `i64` end to end: every one put at stake exactly, totals past 64 bits
//! summed exactly (never clamped), one past the end quarantined with its reason.

use crate::common::*;

/// A Stripe check against the `payments` table of source `ledger`.
fn config() -> String {
    TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 20)
        .set("max_attempts", 2)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("stripe", "stripe")
        .set("report", "reports/stripe-{date}.csv")
        .set(
            "ledger",
            ledger_mapping("payments", &[("status", "status")]),
        )
        .set("match_on", "reference")
        .set("settled_statuses", ["settled"])
        .to_toml()
}

const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.00,10.00,charge,ch_1,
txn_max,2026-11-20 11:00:00,usd,92233720368547758.07,0.00,92233720368547758.07,charge,ch_max,
txn_min,2026-11-20 12:00:00,usd,-92233720368547758.08,0.00,-92233720368547758.08,refund,re_min,
txn_over,2026-11-20 13:00:00,usd,92233720368547758.08,0.00,92233720368547758.08,charge,ch_over,
";

#[tokio::test]
async fn amounts_at_the_ends_of_64_bits_are_at_stake_exactly_and_one_past_is_quarantined() {
    let dir = temp_dir();
    let dir = dir.path();
    let ledger = sqlite_db(
        &dir.join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL,
             currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', 'settled', '2026-11-20 10:00:00')",
        ],
    )
    .await;
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(dir, "reports/stripe-2026-11-20.csv", REPORT);
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .env("LEDGER_URL", &ledger)
        .config(&config());

    let metrics = ["--metrics-file", "out/recon.prom"];
    for status in ["open", "carried"] {
        // The second run reads the same findings back from the store: still exact.
        let (out, s) = scenario.run("2026-11-20", &metrics);
        assert_eq!(out.status.code(), Some(1), "{s}");
        let found: Vec<(&str, String, &serde_json::Value)> = s["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                assert_eq!(d["status"], status, "{d}");
                (
                    d["kind"].as_str().unwrap(),
                    d["key"].to_string(),
                    &d["at_stake"],
                )
            })
            .collect();
        let null = serde_json::Value::Null;
        let usd = |minor: u64| serde_json::json!({"currency": "USD", "minor": minor});
        assert_eq!(
            found,
            [
                (
                    "missing_in_ledger",
                    r#"{"id":"ch_max"}"#.to_string(),
                    &usd(9_223_372_036_854_775_807)
                ),
                (
                    "missing_in_ledger",
                    r#"{"id":"re_min"}"#.to_string(),
                    &usd(9_223_372_036_854_775_808)
                ),
                (
                    "quarantined_row",
                    r#"{"file":"reports/stripe-2026-11-20.csv","line":"5"}"#.to_string(),
                    &null
                ),
            ]
        );
        let quarantined = &s["discrepancies"][2]["detail"];
        assert_eq!(
            quarantined,
            "amount out of range in `gross`: `92233720368547758.08` does not fit in 64-bit minor units — row: txn_over,2026-11-20 13:00:00,usd,92233720368547758.08,0.00,92233720368547758.08,charge,ch_over,"
        );
        // 2^63 − 1 + 2^63 minor units: past `i64`, summed exactly.
        assert_eq!(
            s["totals"]["at_stake"],
            serde_json::json!([{
                "currency": "USD",
                "minor": 18_446_744_073_709_551_615u64,
                "amount": "184467440737095516.15 USD"
            }])
        );
        assert!(
            stdout(&out).contains("At stake: 184467440737095516.15 USD\n"),
            "{}",
            stdout(&out)
        );
        let prom = std::fs::read_to_string(dir.join("out/recon.prom")).unwrap();
        let stakes: Vec<&str> = prom
            .lines()
            .filter(|l| l.starts_with("recon_at_stake_minor_units"))
            .collect();
        assert_eq!(
            stakes,
            ["recon_at_stake_minor_units{currency=\"USD\"} 18446744073709551615"]
        );
    }
}

/// An integrity check's rows put their amounts at stake as exactly: the whole of the most
/// negative `i64`, and the difference between the two ends, a total past 64 bits.
#[tokio::test]
async fn integrity_rows_at_the_ends_of_64_bits_are_at_stake_exactly() {
    let dir = temp_dir();
    let dir = dir.path();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER, currency TEXT)";
    let [left, right, _] = sqlite_sides(
        dir,
        schema,
        "INSERT INTO t VALUES (1, -9223372036854775808, 'USD'), (2, 9223372036854775807, 'USD')",
        "INSERT INTO t VALUES (2, -9223372036854775808, 'USD')",
    )
    .await;
    let scenario = Scenario::in_dir(dir, "S")
        .env("L", &left)
        .env("R", &right)
        .config(&ledger_payments_t(TestConfig::new()));
    for status in ["open", "carried"] {
        let (out, s) = scenario.run("2026-11-20", &[]);
        assert_eq!(out.status.code(), Some(1), "{s}");
        let found: Vec<(&str, &str, &serde_json::Value)> = s["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["kind"].as_str().unwrap(),
                    d["status"].as_str().unwrap(),
                    &d["at_stake"],
                )
            })
            .collect();
        let usd = |minor: u64| serde_json::json!({"currency": "USD", "minor": minor});
        assert_eq!(
            found,
            [
                ("missing_in_right", status, &usd(1 << 63)),
                ("changed", status, &usd(u64::MAX)),
            ]
        );
        // 2^63 + 2^64 − 1: past what a JSON reader's 64-bit integers hold, so read as text.
        let text = std::fs::read_to_string(dir.join("out/summary.json")).unwrap();
        let at_stake = text.split("\"at_stake\": [").nth(1).unwrap();
        let totals = &at_stake[..at_stake.find(']').unwrap()];
        assert_eq!(
            totals.split_whitespace().collect::<Vec<_>>().join(" "),
            r#"{ "currency": "USD", "minor": 27670116110564327423, "amount": "276701161105643274.23 USD" }"#
        );
        assert!(
            stdout(&out).contains("At stake: 276701161105643274.23 USD\n"),
            "{}",
            stdout(&out)
        );
    }
}
