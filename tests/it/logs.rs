//! JSON logs (`RECON_LOG_FORMAT=json`), as a pod's log holds them: every line a JSON object,
//! each line of a run carrying its run and check, the fatal error one of them, and an
//! unreachable database named for what it is.

use serde_json::{Value, json};

use crate::common::*;

/// Every line of `text` parsed as a JSON object (a line that is not one fails the test).
fn json_lines(text: &str) -> Vec<serde_json::Map<String, Value>> {
    text.lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            _ => panic!("not a JSON object: {line:?}\n{text}"),
        })
        .collect()
}

const CONFIG: &str = "
[job]
timezone = \"UTC\"
[job.retry]
initial_delay_ms = 1
max_delay_ms = 2
max_attempts = 2
[store]
url_env = \"STORE\"
[sources.ledger]
url_env = \"LEDGER\"
[sources.payments]
url_env = \"PAYMENTS\"
[sources.down]
url_env = \"DOWN\"
[[integrity]]
name = \"entries\"
left = { source = \"ledger\", table = \"entries\" }
right = { source = \"payments\", table = \"entries\" }
key = [\"id\"]
date_column = \"day\"
[[integrity]]
name = \"accounts\"
left = { source = \"down\", table = \"accounts\" }
right = { source = \"payments\", table = \"accounts\" }
key = [\"id\"]
";

#[tokio::test]
async fn every_json_line_of_a_run_carries_its_run_and_check_and_a_refused_connection_is_named() {
    let scenario = Scenario::new("STORE");
    let tables = [
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount INTEGER, day TIMESTAMP)",
        "INSERT INTO entries VALUES (1, 500, '2026-11-20T10:00:00Z'), (2, 700, '2026-11-20T11:00:00Z')",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY)",
    ];
    let ledger = sqlite_db(&scenario.dir().join("ledger.db"), &tables).await;
    let payments = sqlite_db(&scenario.dir().join("payments.db"), &tables).await;
    let port = free_port();
    let down = format!("postgres://postgres@127.0.0.1:{port}/ledger");
    let (out, _) = scenario
        .env("RECON_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("LEDGER", &ledger)
        .env("PAYMENTS", &payments)
        .env("DOWN", &down)
        .config(CONFIG)
        .run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    // A pod's log is stdout and stderr together: the text summary stays out of it.
    assert_eq!(stdout(&out), "");
    let lines = json_lines(&stderr(&out));
    assert!(lines.len() >= 5, "{}", stderr(&out));
    for line in &lines {
        assert_eq!(line.get("run_id"), Some(&Value::from(1)), "{line:?}");
        assert_eq!(
            line.get("business_date"),
            Some(&Value::from("2026-11-20")),
            "{line:?}"
        );
        // No span open/close events (`time.busy`, `message: "close"`).
        assert!(!line.contains_key("time.busy"), "{line:?}");
        assert_ne!(line.get("message"), Some(&Value::from("close")), "{line:?}");
        // A line about a check names its partition too.
        match line.get("check").and_then(Value::as_str) {
            Some("entries") => assert_eq!(line["partition"], "2026-11-20", "{line:?}"),
            Some("accounts") => assert_eq!(line["partition"], "all", "{line:?}"),
            Some(other) => panic!("unknown check {other}: {line:?}"),
            None => {}
        }
    }
    let messages: Vec<(&str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["level"].as_str().unwrap(),
                l.get("check").and_then(Value::as_str).unwrap_or("-"),
                l["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        messages,
        [
            // No RECON_DATA_KEY in this test: the run says so first, plainly.
            (
                "WARN",
                "-",
                "data at rest is not encrypted (set RECON_DATA_KEY)"
            ),
            ("INFO", "entries", "check compared"),
            ("INFO", "entries", "check recorded"),
            ("INFO", "entries", "day sealed"),
            ("WARN", "accounts", "transient failure; retrying"),
            ("ERROR", "accounts", "check failed"),
            ("INFO", "accounts", "check recorded"),
            ("INFO", "-", "run finished"),
            (
                "WARN",
                "-",
                "audit head (entries are UNSIGNED: no RECON_AUDIT_SIGNING_KEY, so the store's own credentials can rewrite the chain)"
            ),
        ],
        "{}",
        stderr(&out)
    );
    let failed = &lines[5];
    assert_eq!(
        failed["error"],
        format!("source down (postgres://postgres@127.0.0.1:{port}/ledger): connection refused")
    );
}

#[test]
fn a_fatal_error_is_one_json_error_line_naming_the_refused_connection() {
    let dir = temp_dir();
    write(dir.path(), "recon.toml", CONFIG);
    let port = free_port();
    let store = format!("postgres://postgres@127.0.0.1:{port}/recon");
    let ledger = sqlite_url(dir.path().join("none.db"));
    let out = recon(
        &["run", "--config", "recon.toml", "--date", "2026-11-20"],
        &[
            ("RECON_LOG_FORMAT", "json"),
            ("RUST_LOG", "info"),
            ("STORE", &store),
            ("LEDGER", &ledger),
            ("PAYMENTS", &ledger),
            ("DOWN", &ledger),
        ],
        dir.path(),
    );
    // A store that cannot be reached may pass (a failover): retried as a source is, then exit 3.
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let lines = json_lines(&stderr(&out));
    assert_eq!(lines.len(), 2, "{}", stderr(&out));
    let refused = format!(
        "cannot open the store postgres://postgres@127.0.0.1:{port}/recon: connection refused"
    );
    assert_eq!(
        (
            &lines[0]["level"],
            &lines[0]["sync"],
            &lines[0]["attempt"],
            &lines[0]["cause"]
        ),
        (&json!("WARN"), &json!("store"), &json!(1), &json!(refused))
    );
    let line = &lines[1];
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["exit_code"], 3);
    assert_eq!(line["message"], format!("{refused} (2 attempts)"));

    // In text mode the same failure is the one human line it always was.
    let text = recon(
        &["run", "--config", "recon.toml", "--date", "2026-11-20"],
        &[
            ("STORE", &store),
            ("LEDGER", &ledger),
            ("PAYMENTS", &ledger),
            ("DOWN", &ledger),
        ],
        dir.path(),
    );
    assert_eq!(text.status.code(), Some(3));
    assert!(
        stderr(&text).ends_with(&format!(
            "recon: cannot open the store postgres://postgres@127.0.0.1:{port}/recon: connection refused (2 attempts)\n"
        )),
        "{}",
        stderr(&text)
    );
}
