//! Reports downloaded over HTTP from a real (local) server: a 503 with `Retry-After` is waited
//! out and retried, the bearer token is sent and never shown, a 401 fails at once (exit 2).

use std::time::{Duration, Instant};

use crate::common::*;

const TOKEN: &str = "tok-PlantedSecret-123";

const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
";

/// A SQLite ledger in the scenario's folder whose one payment, `ch_1`, the report settles.
async fn ledger_with_ch_1(scenario: &Scenario) -> String {
    sqlite_db(
        &scenario.dir().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
        ],
    )
    .await
}

/// A ledger, and a Stripe report downloaded from `port` with the bearer token.
async fn scenario(port: u16) -> Scenario {
    let scenario = Scenario::new("STORE_URL");
    let ledger = ledger_with_ch_1(&scenario).await;
    let config = TestConfig::new()
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
        .set("ledger", ledger_mapping("payments", &[]))
        .set("match_on", "reference")
        .to_toml();
    scenario
        .env("LEDGER_URL", &ledger)
        .env("STRIPE_TOKEN", TOKEN)
        .config(&config)
}

/// The heads of the requests `server` received, in lower case.
fn heads(server: &HttpServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.head.to_lowercase())
        .collect()
}

#[tokio::test]
async fn a_503_with_retry_after_is_waited_out_then_the_report_is_reconciled() {
    let server = HttpServer::sequence([
        Response::new("503 Service Unavailable")
            .header("Retry-After", "1")
            .body("busy"),
        Response::csv(REPORT),
    ]);
    let port = server.port();
    let scenario = scenario(port).await;
    let started = Instant::now();
    let (out, summary) = scenario.run("2026-11-20", &[]);
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
    let requests = heads(&server);
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
        std::fs::read_to_string(scenario.dir().join("out/summary.json")).unwrap()
    );
    assert!(!everything.contains(TOKEN));
    // The downloaded report is kept with the run's outputs.
    assert_eq!(
        std::fs::read_to_string(
            scenario
                .dir()
                .join("out/downloads/2026-11-20-stripe-stripe-2026-11-20.csv")
        )
        .unwrap(),
        REPORT
    );
}

#[tokio::test]
async fn a_refused_token_fails_the_check_at_once_with_exit_2() {
    let server = HttpServer::sequence([Response::new("401 Unauthorized").body("no")]);
    let port = server.port();
    let (out, summary) = scenario(port).await.run("2026-11-20", &[]);
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
    assert_eq!(heads(&server).len(), 1);
}

#[tokio::test]
async fn two_checks_whose_urls_end_in_one_name_keep_a_copy_each() {
    let other = REPORT.replace("10:00:00", "10:00:01");
    let server = HttpServer::scripted(
        Script::new()
            .route("GET /us/report.csv", [Response::csv(REPORT)])
            .route("GET /eu/report.csv", [Response::csv(&other)]),
    );
    let scenario = Scenario::new("STORE_URL");
    let ledger = ledger_with_ch_1(&scenario).await;
    let mut config = TestConfig::new()
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL");
    for region in ["us", "eu"] {
        config = config
            .settlement(&format!("stripe_{region}"), "stripe")
            .set(
                "report_url",
                format!("{}/{region}/report.csv", server.base()),
            )
            .set("ledger", ledger_mapping("payments", &[]))
            .set("match_on", "reference");
    }
    let scenario = scenario
        .env("LEDGER_URL", &ledger)
        .config(&config.to_toml());
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let downloads = scenario.dir().join("out/downloads");
    let mut kept: Vec<String> = std::fs::read_dir(&downloads)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        [
            "2026-11-20-stripe_eu-report.csv",
            "2026-11-20-stripe_us-report.csv"
        ]
    );
    let read = |name: &str| std::fs::read_to_string(downloads.join(name)).unwrap();
    assert_eq!(read("2026-11-20-stripe_us-report.csv"), REPORT);
    assert_eq!(read("2026-11-20-stripe_eu-report.csv"), other);
    for check in summary["checks"].as_array().unwrap() {
        let name = check["name"].as_str().unwrap();
        let file = check["downloads"][0]["file"].as_str().unwrap();
        assert!(
            file.ends_with(&format!("2026-11-20-{name}-report.csv")),
            "{file}"
        );
    }
}
