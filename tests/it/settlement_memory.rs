//! Settlement in bounded memory end to end: a day of twenty thousand lines matched with the
//! check's memory at 1 MiB (both sides spilled, sealed, to the temp folder) gives exactly the
//! findings and the accounting of the same day matched at the default, and leaves nothing in
//! the temp folder.

use std::path::Path;

use crate::common::*;

const LINES: u64 = 20_000;

const HEADER: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id";

/// Cents as a Stripe report writes them (`12.34`).
fn major(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", minor.abs() / 100, minor.abs() % 100)
}

fn amount(i: u64) -> i64 {
    ((i * 7919) % 100_000 + 100) as i64
}

fn fee(i: u64) -> i64 {
    amount(i) * 29 / 1000 + 30
}

/// The day's report: every line has its ledger row, but every 1000th line is one cent off, three
/// strays, a second line for ch_5, two lines of payout po_1 and its payout line, a line without
/// a reference and a malformed line.
fn report() -> String {
    let mut lines = vec![HEADER.to_string()];
    let at = |i: u64| {
        format!(
            "2026-11-20 {:02}:{:02}:{:02}",
            i % 24,
            i % 60,
            (i / 60) % 60
        )
    };
    let mut line =
        |id: &str, i: u64, gross: i64, fee: i64, category: &str, reference: &str, payout: &str| {
            lines.push(format!(
                "{id},{},usd,{},{},{},{category},{reference},{payout}",
                at(i),
                major(gross),
                major(fee),
                major(gross - fee)
            ));
        };
    for i in 1..=LINES {
        let off = i64::from(i % 1000 == 0);
        let payout = if i == 11 || i == 12 { "po_1" } else { "" };
        line(
            &format!("txn_{i}"),
            i,
            amount(i) + off,
            fee(i),
            "charge",
            &format!("ch_{i}"),
            payout,
        );
    }
    for n in 1..=3 {
        line(
            &format!("txn_stray_{n}"),
            n,
            500,
            0,
            "charge",
            &format!("ch_stray_{n}"),
            "",
        );
    }
    line("txn_again_5", 5, amount(5), fee(5), "charge", "ch_5", "");
    let paid = (amount(11) - fee(11)) + (amount(12) - fee(12));
    line("txn_po_1", 23, -paid, 0, "payout", "po_1", "");
    line("txn_no_ref", 7, 700, 0, "charge", "", "");
    lines.push("txn_bad,2026-11-20 08:00:00,usd,abc,0.00,1.00,charge,ch_bad,".to_string());
    lines.join("\n") + "\n"
}

/// The ledger: ch_1 … ch_20000 (ch_11 and ch_12 in payout po_1), ch_7 twice, two rows not yet
/// in a report, one failed payment.
fn ledger_sql() -> Vec<String> {
    let mut statements = vec![
        "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, fee_minor INTEGER, payout_id TEXT)".to_string(),
    ];
    let row = |id: &str, amount: i64, status: &str, fee: i64, payout: Option<&str>| {
        format!(
            "('{id}', {amount}, 'USD', '{status}', '2026-11-20 12:00:00', {fee}, {})",
            payout.map_or("NULL".to_string(), |p| format!("'{p}'"))
        )
    };
    let mut rows: Vec<String> = (1..=LINES)
        .map(|i| {
            let payout = (i == 11 || i == 12).then_some("po_1");
            row(&format!("ch_{i}"), amount(i), "settled", fee(i), payout)
        })
        .collect();
    rows.push(row("ch_7", amount(7), "settled", fee(7), None));
    rows.push(row("ch_only_1", 100, "settled", 0, None));
    rows.push(row("ch_only_2", 200, "settled", 0, None));
    rows.push(row("ch_failed", 300, "failed", 0, None));
    for chunk in rows.chunks(5000) {
        statements.push(format!(
            "INSERT INTO payments (id, amount_minor, currency, status, created_at, fee_minor, payout_id) VALUES {}",
            chunk.join(", ")
        ));
    }
    statements
}

fn config(memory_mb: Option<u64>, temp_dir: &Path) -> String {
    let config = TestConfig::new()
        .table("job")
        .set("temp_dir", path_str(temp_dir).as_str())
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("stripe", "stripe")
        .set("report", "stripe-{date}.csv")
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
        .set("settled_statuses", ["settled"]);
    match memory_mb {
        Some(mb) => config.set("memory_mb", mb as i64),
        None => config,
    }
    .to_toml()
}

/// Each finding as people read it: kind, key, detail, values and what is at stake.
fn findings(summary: &serde_json::Value) -> Vec<String> {
    summary["discrepancies"]
        .as_array()
        .expect("discrepancies")
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {} {}",
                d["kind"], d["key"], d["detail"], d["values"], d["at_stake"]
            )
        })
        .collect()
}

/// The bytes the run spilled, from its log line.
fn spilled_bytes(stderr: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.contains("settlement paired in bulk"))
        .unwrap_or_else(|| panic!("no pairing logged: {stderr}"));
    let at = line.find("spilled_bytes=").expect("spilled_bytes logged") + "spilled_bytes=".len();
    line[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

#[tokio::test]
async fn a_day_matched_in_one_mebibyte_gives_exactly_the_findings_of_a_day_held_whole() {
    let dir = temp_dir();
    let statements = ledger_sql();
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    let ledger = sqlite_db(&dir.path().join("ledger.db"), &statements).await;
    let mut outcomes = Vec::new();
    for (name, memory_mb) in [("whole", None), ("spilled", Some(1))] {
        let at = dir.path().join(name);
        let spill = at.join("spill");
        std::fs::create_dir_all(&spill).unwrap();
        write(&at, "stripe-2026-11-20.csv", &report());
        let scenario = Scenario::in_dir(&at, "STORE_URL")
            .env("LEDGER_URL", &ledger)
            .env("RUST_LOG", "info")
            .config(&config(memory_mb, &spill));
        let (out, summary) = scenario.run("2026-11-20", &[]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let check = &summary["checks"][0];
        assert_eq!(
            check["accounting"],
            format!(
                "stripe-2026-11-20.csv: {} rows = {} matched + 27 in discrepancies + 1 quarantined; ledger payments: {} rows = {} matched + 25 in discrepancies + 1 not expected + 0 set aside",
                LINES + 7,
                LINES - 21,
                LINES + 4,
                LINES - 22
            ),
            "{name}"
        );
        // the spill file had no name: nothing is left behind
        let left: Vec<_> = std::fs::read_dir(&spill).unwrap().collect();
        assert!(left.is_empty(), "{name}: {left:?}");
        outcomes.push((findings(&summary), spilled_bytes(&stderr(&out))));
    }
    let (whole, spilled) = (&outcomes[0], &outcomes[1]);
    assert_eq!(whole.1, 0, "the default budget holds this day");
    // both sides past a quarter of a mebibyte each: ~1 MB of lines, ~1 MB of rows
    assert!(spilled.1 > 1_500_000, "spilled {} bytes", spilled.1);
    assert_eq!(spilled.0, whole.0);
    let kinds = |list: &[String]| {
        let mut counts = std::collections::BTreeMap::new();
        for f in list {
            *counts
                .entry(f.split(' ').next().unwrap().to_string())
                .or_insert(0) += 1;
        }
        counts
    };
    assert_eq!(
        kinds(&whole.0),
        [
            ("\"amount_mismatch\"", 20),
            ("\"duplicate_in_ledger\"", 1),
            ("\"duplicate_in_report\"", 1),
            ("\"missing_in_ledger\"", 4),
            ("\"quarantined_row\"", 1),
            ("\"timing\"", 2),
        ]
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect()
    );
}
