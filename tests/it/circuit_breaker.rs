//! A processor host that keeps failing, and one that says when to come back: the circuit breaker
//! opens and spares the host the run's later checks (summary, text, metrics, exit 3); a
//! `Retry-After` is honoured in both its forms, and one past the retry budget ends the retries.

use std::time::{Duration, Instant};

use crate::common::*;

const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
";

/// Two settlement checks whose reports come from `port` (`/a-<date>.csv`, `/b-<date>.csv`),
/// retried up to 8 attempts within 60 s; the breaker opens when 2 of the last 4 calls failed.
async fn two_checks_on_one_host(port: u16) -> Scenario {
    let scenario = Scenario::new("STORE_URL");
    let ledger = sqlite_db(
        &scenario.dir().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
        ],
    )
    .await;
    let mut config = TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 50)
        .set("max_total_secs", 60)
        .set("max_attempts", 8)
        .table("job.circuit_breaker")
        .set("failure_rate_percent", 50)
        .set("window", 4)
        .set("min_calls", 4)
        .set("cool_down_secs", 600)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL");
    for name in ["a", "b"] {
        config = config
            .settlement(name, "stripe")
            .set(
                "report_url",
                format!("http://127.0.0.1:{port}/{name}-{{date}}.csv"),
            )
            .set("ledger", ledger_mapping("payments", &[]))
            .set("match_on", "reference");
    }
    scenario
        .env("LEDGER_URL", &ledger)
        .config(&config.to_toml())
}

/// `message` split around the breaker's "not called again before <time>": the text before the
/// time and after it (the time itself checked to be an RFC 3339 instant).
fn around_retry_time(message: &str) -> (String, String) {
    let (before, rest) = message
        .split_once(" not called again before ")
        .unwrap_or_else(|| panic!("{message}"));
    let (at, after) = rest.split_once(' ').unwrap_or_else(|| panic!("{message}"));
    chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|e| panic!("{e}: {at}"));
    (before.to_string(), after.to_string())
}

#[tokio::test]
async fn a_host_failing_every_call_opens_its_breaker_and_later_checks_fail_fast() {
    let server = HttpServer::serve(200, |_| {
        Response::new("503 Service Unavailable").body("down for maintenance")
    });
    let port = server.port();
    let scenario = two_checks_on_one_host(port).await;
    let (out, summary) = scenario.run("2026-11-20", &["--metrics-file", "recon.prom"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    // Four 503s open the breaker: the first check's fifth attempt, and the second check, never
    // reach the server.
    let requests: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.line().to_string())
        .collect();
    assert_eq!(requests, vec!["GET /a-2026-11-20.csv HTTP/1.1"; 4]);

    let endpoint = format!("127.0.0.1:{port}");
    let a = &summary["checks"][0];
    assert_eq!(
        (&a["name"], &a["status"], &a["attempts"]),
        (&"a".into(), &"failed".into(), &5.into())
    );
    let (before, after) = around_retry_time(a["error"].as_str().unwrap());
    assert_eq!(
        before,
        format!(
            "downloading http://127.0.0.1:{port}/a-2026-11-20.csv: HTTP 503 Service Unavailable; then circuit breaker open for {endpoint} (4 of its last 4 calls failed):"
        )
    );
    assert_eq!(
        after,
        "(in 600 s) (gave up after 5 attempt(s); `recon retry` completes it)"
    );
    let b = &summary["checks"][1];
    assert_eq!(
        (&b["name"], &b["status"], &b["attempts"]),
        (&"b".into(), &"failed".into(), &1.into())
    );
    let (before, after) = around_retry_time(b["error"].as_str().unwrap());
    assert_eq!(
        before,
        format!("circuit breaker open for {endpoint} (4 of its last 4 calls failed):")
    );
    let gave_up = " (gave up after 1 attempt(s); `recon retry` completes it)";
    assert!(
        after == format!("(in 600 s){gave_up}") || after == format!("(in 599 s){gave_up}"),
        "{after}"
    );

    let opened = summary["circuit_breakers_opened"].as_array().unwrap();
    assert_eq!(opened.len(), 1, "{opened:?}");
    assert_eq!(opened[0]["endpoint"], endpoint.as_str());
    assert_eq!(opened[0]["times_opened"], 1);
    assert_eq!(opened[0]["open_at_end"], true);

    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "Circuit breaker opened: {endpoint} (1 time(s), last at "
        )),
        "{text}"
    );
    assert!(
        text.contains(
            ", still open at the end of the run: calls to it failed fast; rerun once it is back\n"
        ),
        "{text}"
    );
    let html = std::fs::read_to_string(scenario.dir().join("out/report.html")).unwrap();
    assert!(html.contains(&format!("Circuit breaker opened: {endpoint} (1 time(s)")));

    let metrics = std::fs::read_to_string(scenario.dir().join("recon.prom")).unwrap();
    for sample in [
        "recon_circuit_breakers_open 1\n".to_string(),
        format!("recon_circuit_breaker_open{{endpoint=\"{endpoint}\"}} 1\n"),
        format!("recon_circuit_breaker_opened{{endpoint=\"{endpoint}\"}} 1\n"),
    ] {
        assert!(metrics.contains(&sample), "{sample} not in\n{metrics}");
    }
    // The log says when it opened, and for which endpoint.
    let log = stderr(&out);
    let opening = log
        .lines()
        .find(|l| l.contains("circuit breaker open: calls to the endpoint fail fast"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(opening.contains(&endpoint), "{opening}");
}

#[tokio::test]
async fn a_retry_after_date_is_waited_out_and_one_past_the_budget_ends_the_retries() {
    // An HTTP-date two seconds ahead (whole seconds: at least one second's wait).
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let server = HttpServer::scripted(
        Script::new()
            .route(
                "GET /a-2026-11-20.csv",
                [
                    Response::new("429 Too Many Requests").header("Retry-After", &at),
                    Response::csv(REPORT),
                ],
            )
            .route(
                "GET /b-2026-11-20.csv",
                [Response::new("503 Service Unavailable").header("Retry-After", "100")],
            ),
    );
    let port = server.port();
    let started = Instant::now();
    let (out, summary) = two_checks_on_one_host(port).await.run("2026-11-20", &[]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(took >= Duration::from_secs(1), "{took:?}");
    // No wait of 100 s, nor the rest of the budget.
    assert!(took < Duration::from_secs(30), "{took:?}");
    let a = &summary["checks"][0];
    assert_eq!((&a["status"], &a["attempts"]), (&"clean".into(), &2.into()));
    let b = &summary["checks"][1];
    assert_eq!(
        (&b["status"], &b["attempts"]),
        (&"failed".into(), &1.into())
    );
    let error = b["error"].as_str().unwrap();
    let expected_start = format!(
        "downloading http://127.0.0.1:{port}/b-2026-11-20.csv: HTTP 503 Service Unavailable; the server asked to retry in 100 s, "
    );
    let past = error
        .strip_prefix(&expected_start)
        .and_then(|rest| {
            rest.strip_suffix(
            " s past the retry budget (max_total_secs = 60, from the first attempt): not retried \
             (gave up after 1 attempt(s); `recon retry` completes it)",
        )
        })
        .unwrap_or_else(|| panic!("{error}"));
    // 100 s asked with under 60 s (less the time already spent) left.
    let past: u64 = past.parse().unwrap();
    assert!((40..=41).contains(&past), "{past}");
    assert_eq!(server.requests().len(), 3);
    let log = stderr(&out);
    assert!(log.contains("server asked (Retry-After)"), "{log}");
}
