//! Metrics for the batch job: a Prometheus text file, and a push to a (local) Pushgateway that
//! fails once with 503 and is retried.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use crate::common::*;

/// A one-shot HTTP receiver: answers `statuses` in turn and hands each request over.
fn receiver(statuses: Vec<u16>) -> (String, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for status in statuses {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
            .unwrap();
            tx.send((
                request_line.trim().to_string(),
                String::from_utf8(body).unwrap(),
            ))
            .unwrap();
        }
    });
    (url, rx)
}

#[tokio::test]
async fn metrics_are_written_and_pushed_with_a_retry() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    let l = sqlite_db(
        &dir.path().join("l.db"),
        &[schema, "INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)"],
    )
    .await;
    let r = sqlite_db(
        &dir.path().join("r.db"),
        &[schema, "INSERT INTO t VALUES (1, 10), (2, 21)"],
    )
    .await;
    write(
        dir.path(),
        "recon.toml",
        &TestConfig::new()
            .source("ledger", "L")
            .source("payments", "R")
            .store("S")
            .integrity("t", "ledger.t", "payments.t", "id")
            .to_toml(),
    );
    let store = format!("sqlite://{}", dir.path().join("s.db").display());
    let (gateway, requests) = receiver(vec![503, 200]);
    let out = recon(
        &[
            "run",
            "--config",
            "recon.toml",
            "--date",
            "2026-11-20",
            "--out",
            "out",
            "--metrics-file",
            "metrics/recon.prom",
            "--metrics-push",
            &gateway,
        ],
        &[("L", &l), ("R", &r), ("S", &store)],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = std::fs::read_to_string(dir.path().join("metrics/recon.prom")).unwrap();
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            !l.starts_with("recon_run_duration_seconds")
                && !l.starts_with("recon_last_success_timestamp_seconds")
        })
        .collect();
    assert_eq!(
        samples,
        [
            "recon_run_info{business_date=\"2026-11-20\",outcome=\"discrepancies\",run_id=\"1\"} 1",
            "recon_run_exit_code 1",
            "recon_rows_compared{check=\"t\",side=\"left\"} 3",
            "recon_rows_compared{check=\"t\",side=\"right\"} 2",
            "recon_discrepancies{check=\"t\",kind=\"changed\"} 1",
            "recon_discrepancies{check=\"t\",kind=\"missing_in_right\"} 1",
            "recon_sync_retries{check=\"t\"} 0",
            "recon_sync_failed{check=\"t\"} 0",
        ]
    );
    assert!(text.contains(
        "# TYPE recon_last_success_timestamp_seconds gauge\nrecon_last_success_timestamp_seconds 1"
    ));

    let (first_line, first_body) = requests.recv().unwrap();
    let (second_line, second_body) = requests.recv().unwrap();
    assert_eq!(first_line, "POST /metrics/job/recon HTTP/1.1");
    assert_eq!(second_line, "POST /metrics/job/recon HTTP/1.1");
    assert_eq!(
        first_body, text,
        "the push carries exactly the file's metrics"
    );
    assert_eq!(second_body, text, "the 503 was retried with the same body");
}

#[tokio::test]
async fn without_a_terminal_a_long_comparison_logs_its_progress() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, memo TEXT)";
    let fill = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
                INSERT INTO t SELECT i, 'row ' || i FROM n";
    let l = sqlite_db(&dir.path().join("l.db"), &[schema, fill]).await;
    let r = sqlite_db(&dir.path().join("r.db"), &[schema, fill]).await;
    write(
        dir.path(),
        "recon.toml",
        &TestConfig::new()
            .source("a", "L")
            .source("b", "R")
            .store("S")
            .integrity("big", "a.t", "b.t", "id")
            .to_toml(),
    );
    let store = format!("sqlite://{}", dir.path().join("s.db").display());
    let out = recon(
        &[
            "run",
            "--config",
            "recon.toml",
            "--date",
            "2026-11-20",
            "--out",
            "out",
        ],
        &[
            ("L", &l),
            ("R", &r),
            ("S", &store),
            ("RUST_LOG", "info"),
            ("RECON_PROGRESS_SECS", "1"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.contains(" comparing "))
        .map(str::to_string)
        .collect();
    assert!(!lines.is_empty(), "no progress line in:\n{}", stderr(&out));
    // Each side on its own, rates in whole rows per second.
    let fields = |l: &str| -> Vec<String> {
        l.split_whitespace()
            .filter_map(|f| f.split_once('='))
            .map(|(k, v)| {
                assert!(k == "check" || v.parse::<u64>().is_ok(), "{k}={v} in {l}");
                k.to_string()
            })
            .collect()
    };
    for line in &lines {
        assert_eq!(
            fields(line),
            [
                "check",
                "left_rows",
                "right_rows",
                "left_rows_per_sec",
                "right_rows_per_sec"
            ],
            "{line}"
        );
        assert!(line.contains("check=big"), "{line}");
    }
    // Progress lines go to the log (stderr), never into the results on stdout.
    assert!(!stdout(&out).contains("left_rows"));
}
