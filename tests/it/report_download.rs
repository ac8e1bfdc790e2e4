//! Reports downloaded over HTTP from a real (local) server: a 503 with `Retry-After` is waited
//! out and retried, the bearer token is sent and never shown, a 401 fails at once (exit 2).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;

const TOKEN: &str = "tok-PlantedSecret-123";

const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
";

/// Serves the scripted responses in order, one per connection; returns the port and the
/// requests received (head only).
fn serve(responses: Vec<String>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for response in responses {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            log.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&head).to_lowercase());
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, seen)
}

fn response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

async fn setup(dir: &Path, port: u16) -> Vec<(&'static str, String)> {
    let ledger = sqlite_db(
        &dir.join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
        ],
    )
    .await;
    write(
        dir,
        "recon.toml",
        &TestConfig::new()
            .table("job.retry")
            .set("initial_delay_ms", 10)
            .set("max_delay_ms", 3000)
            .set("max_attempts", 3)
            .store("STORE_URL")
            .source("ledger", "LEDGER_URL")
            .settlement("stripe", "stripe")
            .set(
                "report_url",
                format!("http://127.0.0.1:{port}/reports/stripe-{{date}}.csv"),
            )
            .set("report_token_env", "STRIPE_TOKEN")
            .set(
                "ledger",
                [
                    ("source", "ledger"),
                    ("table", "payments"),
                    ("id", "id"),
                    ("amount", "amount_minor"),
                    ("currency", "currency"),
                    ("at", "created_at"),
                ],
            )
            .set("match_on", "reference")
            .to_toml(),
    );
    vec![
        (
            "STORE_URL",
            format!("sqlite://{}", dir.join("store.db").display()),
        ),
        ("LEDGER_URL", ledger),
        ("STRIPE_TOKEN", TOKEN.to_string()),
    ]
}

fn run(dir: &Path, env: &[(&'static str, String)]) -> (std::process::Output, serde_json::Value) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
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
        &env,
        dir,
    );
    let summary = serde_json::from_slice(
        &std::fs::read(dir.join("out/summary.json"))
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&out))),
    )
    .unwrap();
    (out, summary)
}

#[tokio::test]
async fn a_503_with_retry_after_is_waited_out_then_the_report_is_reconciled() {
    let (port, requests) = serve(vec![
        response("503 Service Unavailable", "Retry-After: 1\r\n", "busy"),
        response("200 OK", "Content-Type: text/csv\r\n", REPORT),
    ]);
    let dir = temp_dir();
    let env = setup(dir.path(), port).await;
    let started = Instant::now();
    let (out, summary) = run(dir.path(), &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not waited out"
    );
    let check = &summary["checks"][0];
    assert_eq!(check["status"], "clean");
    assert_eq!(check["attempts"], 2);
    assert_eq!(
        check["accounting"],
        format!(
            "http://127.0.0.1:{port}/reports/stripe-2026-11-20.csv: 1 rows = 1 matched + 0 in discrepancies + 0 quarantined; \
             ledger payments: 1 rows = 1 matched + 0 in discrepancies + 0 not expected + 0 set aside"
        )
    );
    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert!(
            request.starts_with("get /reports/stripe-2026-11-20.csv http/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("authorization: bearer {}", TOKEN.to_lowercase())),
            "{request}"
        );
    }
    let everything = format!(
        "{}{}{}",
        stdout(&out),
        stderr(&out),
        std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap()
    );
    assert!(!everything.contains(TOKEN));
    // The downloaded report is kept with the run's outputs.
    assert_eq!(
        std::fs::read_to_string(
            dir.path()
                .join("out/downloads/2026-11-20-stripe-2026-11-20.csv")
        )
        .unwrap(),
        REPORT
    );
}

#[tokio::test]
async fn a_refused_token_fails_the_check_at_once_with_exit_2() {
    let (port, requests) = serve(vec![response("401 Unauthorized", "", "no")]);
    let dir = temp_dir();
    let env = setup(dir.path(), port).await;
    let (out, summary) = run(dir.path(), &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let check = &summary["checks"][0];
    assert_eq!(check["status"], "failed");
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        format!(
            "downloading http://127.0.0.1:{port}/reports/stripe-2026-11-20.csv: HTTP 401 Unauthorized (check the report token)"
        )
    );
    assert_eq!(requests.lock().unwrap().len(), 1);
}
