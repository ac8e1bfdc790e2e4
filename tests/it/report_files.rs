//! Report files as they really arrive: a line whose quote never closes, a huge line, a report
//! path that is a link (outside the folder, or a Kubernetes ConfigMap volume's inside it) or a
//! FIFO. Every line is counted, nothing outside the report folder is read, and a quarantined
//! line's text is kept short wherever it is written.

use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::*;

const HEADER: &str =
    "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id";

fn config() -> String {
    stripe_cards(TestConfig::new())
        .set("timing_window_days", 2)
        .to_toml()
}

/// A report line settling ledger payment `pay_<n>` (10.00 USD, no fee).
fn line(n: u32) -> String {
    format!("txn_{n},2026-11-20 10:00:00,usd,10.00,0.00,10.00,charge,pay_{n}")
}

/// A ledger holding `pay_1` … `pay_<n>`, each 10.00 USD settled on the day.
async fn ledger(dir: &Path, n: u32) -> String {
    let rows: Vec<String> = (1..=n)
        .map(|i| format!("('pay_{i}', 1000, 'USD', 'settled', '2026-11-20 09:00:00', 0)"))
        .collect();
    sqlite_db(
        &dir.join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, \
             currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, \
             fee_minor INTEGER)",
            &format!("INSERT INTO payments VALUES {}", rows.join(", ")),
        ],
    )
    .await
}

async fn scenario(dir: &Path, ledger_rows: u32) -> Scenario {
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    Scenario::in_dir(dir, "STORE_URL")
        .config(&config())
        .env("LEDGER_URL", &ledger(dir, ledger_rows).await)
}

/// (kind, key) of every finding, sorted.
fn findings(summary: &serde_json::Value) -> Vec<(String, String)> {
    let mut found = kinds_and_keys(&summary["discrepancies"]);
    found.sort();
    found
}

/// Every file recon wrote in `dir` (outputs and store), with its bytes.
fn written(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for name in ["out", "."] {
        let Ok(entries) = std::fs::read_dir(dir.join(name)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            if path.is_file() && (name == "out" || file.starts_with("store.db")) {
                files.push((format!("{name}/{file}"), std::fs::read(&path).unwrap()));
            }
        }
    }
    files
}

/// Line 4's quoted field never closes: only line 4 is quarantined, the three lines after it
/// are read and matched, and the accounting counts the file's 7 data lines.
#[tokio::test]
async fn an_unclosed_quote_quarantines_only_its_own_line() {
    let dir = temp_dir();
    let dir = dir.path();
    let scenario = scenario(dir, 7).await;
    let mut lines: Vec<String> = vec![HEADER.to_string()];
    lines.extend((1..=7).map(line));
    lines[3] = "txn_3,2026-11-20 10:00:00,usd,10.00,0.00,10.00,\"charge,pay_3".to_string();
    lines.push(String::new());
    write(dir, "reports/stripe-2026-11-20.csv", &lines.join("\n"));

    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        summary["checks"][0]["accounting"],
        "reports/stripe-2026-11-20.csv: 7 rows = 6 matched + 0 in discrepancies + 1 quarantined; \
         ledger payments: 7 rows = 6 matched + 1 in discrepancies + 0 not expected + 0 set aside"
    );
    assert_eq!(
        findings(&summary),
        [
            (
                "quarantined_row".to_string(),
                r#"{"file":"reports/stripe-2026-11-20.csv","line":"4"}"#.to_string()
            ),
            ("timing".to_string(), r#"{"id":"pay_3"}"#.to_string()),
        ]
    );
    let quarantined = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "quarantined_row")
        .unwrap();
    assert_eq!(
        quarantined["detail"],
        "unclosed quote: a quoted field does not close on its line (`max_record_lines` = 1) — \
         row: txn_3,2026-11-20 10:00:00,usd,10.00,0.00,10.00,\"charge,pay_3"
    );
}

/// A 40 MB line is quarantined with its first KiB, its length and its SHA-256: no file recon
/// writes (quarantine.csv, discrepancies.csv, summary.json, report.html, the store) holds it.
#[tokio::test]
async fn a_huge_line_is_kept_cut_everywhere() {
    let dir = temp_dir();
    let dir = dir.path();
    let scenario = scenario(dir, 1).await;
    let huge = format!(
        "txn_2,2026-11-20 10:00:00,usd,abc,0.00,10.00,charge,{}",
        "x".repeat(40 * 1024 * 1024)
    );
    let digest = hex::encode(Sha256::digest(huge.as_bytes()));
    // a date field of 2 MB, which the reason quotes
    let long_date = format!(
        "txn_3,{},usd,10.00,0.00,10.00,charge,pay_3",
        "9".repeat(2 * 1024 * 1024)
    );
    write(
        dir,
        "reports/stripe-2026-11-20.csv",
        &format!("{HEADER}\n{}\n{huge}\n{long_date}\n", line(1)),
    );

    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        summary["checks"][0]["accounting"],
        "reports/stripe-2026-11-20.csv: 3 rows = 1 matched + 0 in discrepancies + 2 quarantined; \
         ledger payments: 1 rows = 1 matched + 0 in discrepancies + 0 not expected + 0 set aside"
    );
    let detail = |line: &str| {
        let found = summary["discrepancies"].as_array().unwrap().iter();
        let found = found.clone().find(|d| d["key"]["line"] == line);
        found.unwrap()["detail"].as_str().unwrap().to_string()
    };
    let date_detail = detail("4");
    assert!(
        date_detail.starts_with("unparseable date in `created_utc`: `999"),
        "{date_detail}"
    );
    assert!(
        date_detail.len() < 2 * 1024 + 300,
        "{} bytes",
        date_detail.len()
    );
    assert_eq!(date_detail.matches("… [cut at 1024 of ").count(), 2);
    let quarantined = detail("3");
    let kept = &huge[..1024];
    assert_eq!(
        quarantined,
        format!(
            "bad number in `gross`: `abc` is not a decimal number — row: {kept}… [cut at 1024 of {} bytes; SHA-256 {digest}]",
            huge.len()
        )
    );
    let files = written(dir);
    let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    for expected in [
        "out/quarantine.csv",
        "out/discrepancies.csv",
        "out/summary.json",
        "out/report.html",
        "./store.db",
    ] {
        assert!(names.contains(&expected), "{expected} not in {names:?}");
    }
    for (name, bytes) in &files {
        assert!(bytes.len() < 512 * 1024, "{name}: {} bytes", bytes.len());
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(&"x".repeat(1025)), "{name} holds the line");
        assert!(!text.contains(&"9".repeat(1025)), "{name} holds the date");
    }
}

/// A report path that is a link to a file outside the report folder is refused, exit 2, and
/// nothing of that file appears in any output or in the store.
#[tokio::test]
async fn a_link_out_of_the_report_folder_is_refused_unread() {
    let dir = temp_dir();
    let dir = dir.path();
    let scenario = scenario(dir, 1).await;
    std::fs::create_dir_all(dir.join("elsewhere")).unwrap();
    let secret = write(
        dir,
        "elsewhere/passwd",
        "root:x:0:0:SECRET-FIRST-LINE:/root:/bin/bash\n",
    );
    std::os::unix::fs::symlink(&secret, dir.join("reports/stripe-2026-11-20.csv")).unwrap();

    let out = scenario.recon(&run_args("2026-11-20", "out", &[]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let real = std::fs::canonicalize(dir).unwrap();
    let expected = format!(
        "report path {}/reports/stripe-2026-11-20.csv: it leads to {}/elsewhere/passwd (through a symbolic link), outside the report folder {}/reports; refused without reading it",
        dir.display(),
        real.display(),
        real.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
    let mut seen = format!("{}{}", stdout(&out), stderr(&out));
    for (_, bytes) in written(dir) {
        seen.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(
        !seen.contains("SECRET-FIRST-LINE"),
        "the linked file was read"
    );
    assert!(!seen.contains("root:x"), "the linked file was read");
}

/// A Kubernetes ConfigMap volume: `file -> ..data/file`, `..data -> ..<timestamp>`, all inside
/// the mounted folder. The report is read, and named by the path the configuration gives.
#[tokio::test]
async fn a_configmap_volume_is_read_through_its_links() {
    let dir = temp_dir();
    let dir = dir.path();
    let scenario = scenario(dir, 2).await;
    let stamp = "..2026_11_20_01_00_00.123456789";
    std::fs::create_dir_all(dir.join("reports").join(stamp)).unwrap();
    write(
        dir,
        &format!("reports/{stamp}/stripe-2026-11-20.csv"),
        &format!("{HEADER}\n{}\n{}\n", line(1), line(2)),
    );
    std::os::unix::fs::symlink(stamp, dir.join("reports/..data")).unwrap();
    std::os::unix::fs::symlink(
        "..data/stripe-2026-11-20.csv",
        dir.join("reports/stripe-2026-11-20.csv"),
    )
    .unwrap();

    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        summary["checks"][0]["accounting"],
        "reports/stripe-2026-11-20.csv: 2 rows = 2 matched + 0 in discrepancies + 0 quarantined; \
         ledger payments: 2 rows = 2 matched + 0 in discrepancies + 0 not expected + 0 set aside"
    );
}

/// A FIFO where the report should be is refused at once (opening it would block the run).
#[tokio::test]
async fn a_fifo_is_refused_without_blocking() {
    let dir = temp_dir();
    let dir = dir.path();
    let scenario = scenario(dir, 1).await;
    let fifo = dir.join("reports/stripe-2026-11-20.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());

    let started = Instant::now();
    let mut child = scenario.spawn(&run_args("2026-11-20", "out", &[]));
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("recon blocked on the FIFO");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(status.code(), Some(2), "{}", stderr(&out));
    let expected = format!(
        "report path {}: it is a FIFO (named pipe), not a regular file; refused without reading it",
        fifo.display()
    );
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}
