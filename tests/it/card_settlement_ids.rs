//! A settlement id that is a card number is shown masked in every byte recon leaves (reports,
//! store, audit trail, logs), and findings whose ids mask alike stay apart by their keyed
//! digest: across reruns, and when an in-flight row is settled a day later.

use std::path::Path;

use crate::common::*;

const MASK_KEY: &str = "636172642d6964732d6d61736b2d6b65792d30313233343536373839616263646566";
/// Visa test numbers that share their first six and last four digits: all mask alike.
const PAN_A: &str = "4111111111111111";
const PAN_B: &str = "4111111000071111";
const PAN_C: &str = "4111111000151111";
const PAN_D: &str = "4111111000231111";
/// On a malformed report line, and on a ledger row set aside.
const PAN_E: &str = "5555555555554444";
const PAN_F: &str = "378282246310005";
const MASKED_VISA: &str = "411111******1111";

fn config() -> String {
    stripe_cards(TestConfig::new())
        .set("timing_window_days", 2)
        .to_toml()
}

const HEADER: &str =
    "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id";

/// Day 1's report: A settled a cent short, B and C unknown to the ledger (in the order given),
/// and a malformed line that carries E.
fn report_day1(b_then_c: bool) -> String {
    let b = format!("txn_b,2026-11-20 11:00:00,usd,20.00,0.00,20.00,charge,{PAN_B}");
    let c = format!("txn_c,2026-11-20 12:00:00,usd,30.00,0.00,30.00,charge,{PAN_C}");
    let (first, second) = if b_then_c { (b, c) } else { (c, b) };
    [
        HEADER.to_string(),
        format!("txn_a,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,{PAN_A}"),
        first,
        second,
        format!("txn_e,2026-11-20 13:00:00,usd,abc,0.00,1.00,charge,{PAN_E}"),
        String::new(),
    ]
    .join("\n")
}

/// Day 2's report: D, in flight since day 1, arrives.
fn report_day2() -> String {
    [
        HEADER.to_string(),
        format!("txn_d,2026-11-21 09:00:00,usd,40.00,1.00,39.00,charge,{PAN_D}"),
        String::new(),
    ]
    .join("\n")
}

async fn ledger(dir: &Path) -> String {
    sqlite_db(
        &dir.join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, \
             currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, \
             fee_minor INTEGER)",
            &format!(
                "INSERT INTO payments VALUES \
                 ('{PAN_A}', 1001, 'USD', 'settled', '2026-11-20 09:00:00', 59), \
                 ('{PAN_D}', 4000, 'USD', 'settled', '2026-11-20 08:00:00', 100), \
                 ('{PAN_F}', 500, 'ZZZ', 'settled', '2026-11-20 08:30:00', 0)"
            ),
        ],
    )
    .await
}

/// Runs `date`; returns the exit code, the summary, and every byte of stdout and stderr.
fn run(scenario: &Scenario, date: &str) -> (Option<i32>, serde_json::Value, String) {
    let (out, summary) = scenario.run(date, &[]);
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    (out.status.code(), summary, printed)
}

/// (kind, key, at stake) of every finding of the summary, sorted.
fn findings(summary: &serde_json::Value) -> Vec<(String, String, String)> {
    let list = &summary["discrepancies"];
    let stakes = list.as_array().unwrap().iter();
    let mut found: Vec<(String, String, String)> = kinds_and_keys(list)
        .into_iter()
        .zip(stakes.map(|d| d["at_stake"]["minor"].to_string()))
        .map(|((kind, key), stake)| (kind, key, stake))
        .collect();
    found.sort();
    found
}

/// The store id of the `missing_in_ledger` finding with `minor` units at stake.
fn missing_id(summary: &serde_json::Value, minor: i64) -> (i64, String) {
    let d = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "missing_in_ledger" && d["at_stake"]["minor"] == minor)
        .unwrap_or_else(|| panic!("no missing_in_ledger of {minor}: {summary}"));
    (
        d["id"].as_i64().unwrap(),
        d["status"].as_str().unwrap().to_string(),
    )
}

/// Every byte under `dir` but the inputs (the ledger and the reports, which hold the numbers).
fn bytes_left_behind(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if path.is_dir() {
                if name != "reports" {
                    pending.push(path);
                }
            } else if !name.starts_with("ledger.db") {
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files
}

fn assert_no_card_number(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for pan in [PAN_A, PAN_B, PAN_C, PAN_D, PAN_E, PAN_F] {
        assert!(!text.contains(pan), "{pan} in {what}");
        // Nor the digits the mask hides, as a run of their own.
        let hidden = &pan[6..pan.len() - 4];
        assert!(
            !text.contains(&format!("{}{hidden}", &pan[..6])),
            "{pan} in {what}"
        );
    }
}

#[tokio::test]
async fn card_numbers_as_settlement_ids_are_masked_everywhere_and_kept_apart() {
    let dir = temp_dir();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(dir, "reports/stripe-2026-11-20.csv", &report_day1(true));
    write(dir, "reports/stripe-2026-11-21.csv", &report_day2());
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .config(&config())
        .env("LEDGER_URL", &ledger(dir).await)
        .env("RECON_MASK_KEY", MASK_KEY)
        .env("RUST_LOG", "trace")
        .env("RECON_LOG_FORMAT", "json");
    let mut printed = String::new();

    let (code, day1, out) = run(&scenario, "2026-11-20");
    printed.push_str(&out);
    assert_eq!(code, Some(1), "{out}");
    let visa = format!(r#"{{"id":"{MASKED_VISA}"}}"#);
    let row =
        |kind: &str, key: &str, minor: &str| (kind.to_string(), key.to_string(), minor.to_string());
    assert_eq!(
        findings(&day1),
        vec![
            row("amount_mismatch", &visa, "1"),
            row("missing_in_ledger", &visa, "2000"),
            row("missing_in_ledger", &visa, "3000"),
            row(
                "quarantined_row",
                r#"{"file":"reports/stripe-2026-11-20.csv","line":"5"}"#,
                "null"
            ),
            row(
                "quarantined_row",
                r#"{"ledger_id":"378282*****0005"}"#,
                "null"
            ),
            row("timing", &visa, "4000"),
        ]
    );
    let quarantined = day1["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"]["line"] == "5")
        .unwrap();
    assert!(
        quarantined["detail"]
            .as_str()
            .unwrap()
            .ends_with(",usd,abc,0.00,1.00,charge,555555******4444"),
        "{quarantined}"
    );
    let (b, _) = missing_id(&day1, 2000);
    let (c, _) = missing_id(&day1, 3000);
    assert_ne!(b, c);

    // Rerun with B and C swapped: each finding keeps its own identity (its digest), not its
    // place in the report.
    write(dir, "reports/stripe-2026-11-20.csv", &report_day1(false));
    let (code, rerun, out) = run(&scenario, "2026-11-20");
    printed.push_str(&out);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(findings(&rerun), findings(&day1));
    assert_eq!(missing_id(&rerun, 2000), (b, "carried".to_string()));
    assert_eq!(missing_id(&rerun, 3000), (c, "carried".to_string()));

    // Day 2: D arrives and settles day 1's timing finding; A, whose id masks alike, is not
    // mistaken for it.
    let (code, day2, out) = run(&scenario, "2026-11-21");
    printed.push_str(&out);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(findings(&day2), vec![]);
    assert_eq!(day2["totals"]["resolved"], 1, "{day2}");
    assert_eq!(
        day2["checks"][0]["accounting"],
        "reports/stripe-2026-11-21.csv: 1 rows = 1 matched + 0 in discrepancies + 0 quarantined; \
         ledger payments: 1 rows = 1 matched + 0 in discrepancies + 0 not expected + 0 set aside"
    );

    for args in [
        vec!["audit", "export", "--config", "recon.toml"],
        vec!["discrepancies", "list", "--config", "recon.toml", "--json"],
        vec!["discrepancies", "list", "--config", "recon.toml"],
    ] {
        let out = scenario.recon(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).contains(MASKED_VISA), "{args:?}");
        printed.push_str(&stdout(&out));
        printed.push_str(&stderr(&out));
    }
    assert_no_card_number("stdout and stderr", printed.as_bytes());
    let left = bytes_left_behind(dir);
    for expected in [
        "out/summary.json",
        "out/discrepancies.csv",
        "out/report.html",
        "store.db",
    ] {
        assert!(left.iter().any(|(name, _)| name == expected), "{expected}");
    }
    for (name, bytes) in &left {
        assert_no_card_number(name, bytes);
    }
}
