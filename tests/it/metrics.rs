//! Metrics for the batch job: a Prometheus text file, and a push to a (local) Pushgateway that
//! fails once with 503 and is retried.

use std::str::FromStr;

use sqlx::Connection;

use crate::common::*;

#[tokio::test]
async fn metrics_are_written_and_pushed_with_a_retry() {
    let scenario = Scenario::new("S");
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    let [l, r, store] = sqlite_sides(
        scenario.dir(),
        schema,
        "INSERT INTO t VALUES (1, 10), (2, 20), (3, 30)",
        "INSERT INTO t VALUES (1, 10), (2, 21)",
    )
    .await;
    let scenario = scenario
        .store_at(&store)
        .env("L", &l)
        .env("R", &r)
        .config(&ledger_payments_t(TestConfig::new()));
    let gateway = HttpServer::sequence([
        Response::new("503 Service Unavailable"),
        Response::new("200 OK"),
        Response::new("200 OK"),
    ]);
    let (out, _) = scenario.run(
        "2026-11-20",
        &[
            "--metrics-file",
            "metrics/recon.prom",
            "--metrics-push",
            &gateway.base(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = std::fs::read_to_string(scenario.dir().join("metrics/recon.prom")).unwrap();
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            !l.starts_with("recon_run_duration_seconds")
                && !l.starts_with("recon_last_success_timestamp_seconds")
        })
        .filter(|l| !l.starts_with("recon_backlog_oldest_needing_someone_age_seconds "))
        .collect();
    assert_eq!(
        samples,
        [
            "recon_run_info{business_date=\"2026-11-20\",outcome=\"discrepancies\",run_id=\"1\"} 1",
            "recon_run_exit_code 1",
            "recon_audit_head_seq 5",
            "recon_audit_head_signed 0",
            "recon_rows_compared{check=\"t\",side=\"left\"} 3",
            "recon_rows_compared{check=\"t\",side=\"right\"} 2",
            "recon_discrepancies{check=\"t\",kind=\"changed\",status=\"open\"} 1",
            "recon_discrepancies{check=\"t\",kind=\"missing_in_right\",status=\"open\"} 1",
            "recon_discrepancies_needing_someone 2",
            "recon_discrepancies_acknowledged 0",
            "recon_sync_retries{check=\"t\"} 0",
            "recon_sync_failed{check=\"t\"} 0",
            "recon_circuit_breakers_open 0",
            "recon_missed_dates 0",
            "recon_last_success_business_date 1795132800",
            "recon_backlog_findings{age_bucket=\"lt_1d\",currency=\"none\",kind=\"changed\",status=\"open\"} 1",
            "recon_backlog_findings{age_bucket=\"lt_1d\",currency=\"none\",kind=\"missing_in_right\",status=\"open\"} 1",
            "recon_backlog_needing_someone 2",
        ]
    );
    assert!(text.contains(
        "# TYPE recon_last_success_timestamp_seconds gauge\nrecon_last_success_timestamp_seconds 1"
    ));

    let mut requests = gateway
        .requests()
        .into_iter()
        .map(|r| (r.line().to_string(), r.body));
    let (first_line, first_body) = requests.next().unwrap();
    let (second_line, second_body) = requests.next().unwrap();
    let (third_line, third_body) = requests.next().unwrap();
    // Each group replaced whole (PUT): the run's, retried after the 503, then the backlog's.
    assert_eq!(first_line, "PUT /metrics/job/recon/pusher/run HTTP/1.1");
    assert_eq!(second_line, "PUT /metrics/job/recon/pusher/run HTTP/1.1");
    assert_eq!(third_line, "PUT /metrics/job/recon/pusher/backlog HTTP/1.1");
    assert_eq!(
        second_body, first_body,
        "the 503 was retried with the same body"
    );
    assert!(third_body.starts_with("# HELP recon_backlog_findings "));
    assert_eq!(
        format!("{second_body}{third_body}"),
        text,
        "the pushes carry exactly the file's metrics"
    );
}

#[tokio::test]
async fn without_a_terminal_a_long_comparison_logs_its_progress() {
    let scenario = Scenario::new("S");
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, memo TEXT)";
    let fill = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150000)
                INSERT INTO t SELECT i, 'row ' || i FROM n";
    let l = sqlite_db(&scenario.dir().join("l.db"), &[schema, fill]).await;
    let r = sqlite_db(&scenario.dir().join("r.db"), &[schema, fill]).await;
    let config = TestConfig::new()
        .source("a", "L")
        .source("b", "R")
        .store("S")
        .integrity("big", "a.t", "b.t", "id")
        .to_toml();
    let scenario = scenario
        .env("L", &l)
        .env("R", &r)
        .env("RUST_LOG", "info")
        .env("RECON_PROGRESS_SECS", "1")
        .config(&config);
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.contains(" comparing "))
        .map(str::to_string)
        .collect();
    assert!(!lines.is_empty(), "no progress line in:\n{}", stderr(&out));
    // Each side on its own, rates in whole rows per second; then the fields of the run's and
    // the check's spans, as on every other line of the run.
    let fields = |l: &str| -> Vec<String> {
        l.split_whitespace()
            .filter_map(|f| f.split_once('='))
            .map(|(k, v)| {
                assert!(
                    !k.contains("rows") || v.parse::<u64>().is_ok(),
                    "{k}={v} in {l}"
                );
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
                "right_rows_per_sec",
                "run_id",
                "business_date",
                "shard",
                "check",
                "partition"
            ],
            "{line}"
        );
        assert!(line.contains("check=big"), "{line}");
        assert!(
            line.ends_with("run_id=1 business_date=2026-11-20 shard= check=big partition=all"),
            "{line}"
        );
    }
    // Progress lines go to the log (stderr), never into the results on stdout.
    assert!(!stdout(&out).contains("left_rows"));
}

/// The run's metrics' samples (no comments), without its duration nor the backlog's.
fn samples(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("recon.prom"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("recon_run_duration_seconds"))
        .filter(|l| !l.starts_with("recon_backlog_"))
        .map(str::to_string)
        .collect()
}

/// A nightly run names the dates missed since the last completed one (summary, text, gauge); a
/// rerun of an older date and a failed run both keep the nightly's last success.
#[tokio::test]
async fn missed_dates_and_the_last_success_survive_old_reruns_and_failed_runs() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    let l = sqlite_db(
        &dir.path().join("l.db"),
        &[schema, "INSERT INTO t VALUES (1, 10), (2, 20)"],
    )
    .await;
    let r = sqlite_db(
        &dir.path().join("r.db"),
        &[schema, "INSERT INTO t VALUES (1, 10), (2, 20)"],
    )
    .await;
    write(
        dir.path(),
        "recon.toml",
        &TestConfig::new()
            .table("job")
            .set("timezone", "UTC")
            .table("job.retry")
            .set("initial_delay_ms", 50)
            .set("max_delay_ms", 100)
            .set("max_total_secs", 1)
            .set("max_attempts", 2)
            .source("ledger", "L")
            .source("payments", "R")
            .set("statement_timeout_secs", 1)
            .store("S")
            .integrity("t", "ledger.t", "payments.t", "id")
            .to_toml(),
    );
    let store = sqlite_url(dir.path().join("s.db"));
    let env = [("L", l.as_str()), ("R", r.as_str()), ("S", store.as_str())];
    let run = |date: Option<String>| {
        let mut args = vec![
            "run",
            "--config",
            "recon.toml",
            "--out",
            "out",
            "--metrics-file",
            "recon.prom",
        ];
        let date = date.unwrap_or_default();
        if !date.is_empty() {
            args.extend(["--date", date.as_str()]);
        }
        recon(&args, &env, dir.path())
    };
    let yesterday = chrono::Utc::now().date_naive().pred_opt().unwrap();
    let day = |back: i64| (yesterday - chrono::Duration::days(back)).to_string();
    let midnight = |back: i64| {
        (yesterday - chrono::Duration::days(back))
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp()
    };

    let out = run(Some(day(3)));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "Missed: no run completed {}, {} since the last completed one; catch up with `recon run --from {} --to {}`\n",
            day(2),
            day(1),
            day(2),
            day(1)
        )),
        "{}",
        stdout(&out)
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["missed_dates"], serde_json::json!([day(2), day(1)]));
    let nightly = samples(dir.path());
    let last_success = nightly
        .iter()
        .find(|l| l.starts_with("recon_last_success_timestamp_seconds "))
        .unwrap()
        .clone();
    assert_eq!(
        nightly,
        [
            format!(
                "recon_run_info{{business_date=\"{}\",outcome=\"clean\",run_id=\"2\"}} 1",
                day(0)
            ),
            "recon_run_exit_code 0".to_string(),
            "recon_audit_head_seq 6".to_string(),
            "recon_audit_head_signed 0".to_string(),
            "recon_rows_compared{check=\"t\",side=\"left\"} 2".to_string(),
            "recon_rows_compared{check=\"t\",side=\"right\"} 2".to_string(),
            "recon_discrepancies_needing_someone 0".to_string(),
            "recon_discrepancies_acknowledged 0".to_string(),
            "recon_sync_retries{check=\"t\"} 0".to_string(),
            "recon_sync_failed{check=\"t\"} 0".to_string(),
            "recon_circuit_breakers_open 0".to_string(),
            "recon_missed_dates 2".to_string(),
            last_success.clone(),
            format!("recon_last_success_business_date {}", midnight(0)),
        ]
    );

    // Finance ops rerun an old date: the nightly's last success stays.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = run(Some(day(10)));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rerun = samples(dir.path());
    assert_eq!(
        rerun[rerun.len() - 3..],
        [
            "recon_missed_dates 0".to_string(),
            last_success.clone(),
            format!("recon_last_success_business_date {}", midnight(0))
        ]
    );

    // A nightly run that cannot read the payments database (held exclusively) is incomplete:
    // the last success is still there.
    let mut writer = sqlx::SqliteConnection::connect_with(
        &sqlx::sqlite::SqliteConnectOptions::from_str(&r).unwrap(),
    )
    .await
    .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut writer)
        .await
        .unwrap();
    let out = run(None);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let failed = samples(dir.path());
    assert_eq!(failed[1], "recon_run_exit_code 3");
    assert_eq!(
        failed[failed.len() - 3..],
        [
            "recon_missed_dates 2".to_string(),
            last_success,
            format!("recon_last_success_business_date {}", midnight(0))
        ]
    );
}
