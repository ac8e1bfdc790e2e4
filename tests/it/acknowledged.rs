//! Acknowledged means handled: a day whose findings are all acknowledged is clean (exit 0, a
//! green banner, nothing in the alerting metrics) with the acknowledged ones listed apart; an
//! acknowledgement holds for the finding as it was, and until its last day.

use sqlx::Connection;

use crate::common::*;

const SCHEMA: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER, currency TEXT)";

/// A scenario whose day 2026-11-20 has two findings with money at stake: row 2 changed
/// (20.00 → 25.00 EUR, 5.00 at stake) and row 3 missing on the right (30.00 EUR).
/// The store is a SQLite file, or `store` (a PostgreSQL database) when given.
async fn two_findings(store: Option<String>) -> Scenario {
    let scenario = Scenario::new("S");
    let [l, r, sqlite_store] = sqlite_sides(
        scenario.dir(),
        SCHEMA,
        "INSERT INTO t VALUES (1, 1000, 'EUR'), (2, 2000, 'EUR'), (3, 3000, 'EUR')",
        "INSERT INTO t VALUES (1, 1000, 'EUR'), (2, 2500, 'EUR')",
    )
    .await;
    scenario
        .store_at(&store.unwrap_or(sqlite_store))
        .env("L", &l)
        .env("R", &r)
        .config(&ledger_payments_t(TestConfig::new()))
}

async fn sql(url: &str, statement: &str) {
    if url.starts_with("postgres") {
        return pg_exec(url, &[statement]).await;
    }
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// The metrics file's samples of the families an alert reads, in file order.
fn alerting_samples(scenario: &Scenario) -> Vec<String> {
    let text = std::fs::read_to_string(scenario.dir().join("recon.prom")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            [
                "recon_run_exit_code",
                "recon_discrepancies",
                "recon_discrepancies_needing_someone",
                "recon_discrepancies_acknowledged",
                "recon_at_stake_minor_units",
                "recon_backlog_findings",
                "recon_backlog_needing_someone",
                "recon_backlog_at_stake_minor_units",
            ]
            .iter()
            .any(|f| l.starts_with(&format!("{f}{{")) || l.starts_with(&format!("{f} ")))
        })
        .map(str::to_string)
        .collect()
}

/// (id, key, status, reopened) of each discrepancy summary.json lists.
fn listed(summary: &serde_json::Value) -> Vec<(i64, String, String, Option<String>)> {
    summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["id"].as_i64().unwrap(),
                d["key"]["id"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
                d["reopened"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn totals(summary: &serde_json::Value) -> [u64; 5] {
    let t = &summary["totals"];
    [
        "needing_someone",
        "new",
        "carried",
        "reopened",
        "acknowledged",
    ]
    .map(|k| t[k].as_u64().unwrap_or_else(|| panic!("totals.{k}")))
}

fn ack(scenario: &Scenario, id: i64, until: Option<&str>) -> std::process::Output {
    let id = id.to_string();
    let mut args = vec![
        "discrepancies",
        "ack",
        "--reason",
        "explained",
        &id,
        "--config",
        "recon.toml",
        "--note",
        "explained",
        "--actor",
        "ana",
    ];
    if let Some(until) = until {
        args.extend(["--until", until]);
    }
    scenario.recon(&args)
}

#[tokio::test]
async fn a_day_whose_findings_are_all_acknowledged_is_clean_until_one_changes_or_expires() {
    acknowledged_findings_stay_handled_until_they_change_or_expire(None).await;
}

#[tokio::test]
async fn on_a_postgresql_store_too() {
    let Some(store) = fresh_postgres("acknowledged").await else {
        return;
    };
    acknowledged_findings_stay_handled_until_they_change_or_expire(Some(store)).await;
}

async fn acknowledged_findings_stay_handled_until_they_change_or_expire(store: Option<String>) {
    let by = store.as_deref().map_or_else(|| "ana".to_string(), ana_on);
    let scenario = two_findings(store).await;
    let metrics = ["--metrics-file", "recon.prom"];
    let (out, summary) = scenario.run("2026-11-20", &metrics);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        listed(&summary),
        [
            (1, "2".to_string(), "open".to_string(), None),
            (2, "3".to_string(), "open".to_string(), None)
        ]
    );

    // An --until already past is refused, nothing acknowledged.
    let refused = ack(&scenario, 1, Some("2020-01-01"));
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--until 2020-01-01 has passed"));

    let first = ack(&scenario, 1, None);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = ack(&scenario, 2, Some("2099-12-31"));
    assert_eq!(
        stdout(&second),
        format!(
            "discrepancy 2 (t missing_in_right id=3) acknowledged (explained) by {by} through 2099-12-31\n"
        )
    );

    // Every finding acknowledged: the rerun is clean, the acknowledged ones listed apart.
    let (out, summary) = scenario.run("2026-11-20", &metrics);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["outcome"], "clean");
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(totals(&summary), [0, 0, 0, 0, 2]);
    assert_eq!(summary["totals"]["at_stake"], serde_json::json!([]));
    assert_eq!(
        listed(&summary),
        [
            (1, "2".to_string(), "acknowledged".to_string(), None),
            (2, "3".to_string(), "acknowledged".to_string(), None)
        ]
    );
    let text = stdout(&out);
    assert!(
        text.contains("Discrepancies: 2 (0 new, 0 carried over, 2 acknowledged)"),
        "{text}"
    );
    assert!(
        text.contains("Outcome: clean: nothing needs anyone (2 acknowledged) (exit 0)"),
        "{text}"
    );
    let html = std::fs::read_to_string(scenario.dir().join("out/report.html")).unwrap();
    assert!(
        html.contains("<header class=\"verdict clean\" id=\"verdict\"><h1>Clean: nothing needs anyone (2 acknowledged)</h1>"),
        "{html}"
    );
    assert!(html.contains(
        "<h2 id=findings>Findings that need someone (0)</h2><p class=muted>Nothing in this run needs anyone.</p>"
    ));
    assert!(html.contains("<h2>Acknowledged (2)</h2>"));
    assert!(html.contains("<td class=\"status-acknowledged\">acknowledged</td>"));
    assert!(!html.contains("class=\"status-discrepancies\""));
    assert_eq!(
        alerting_samples(&scenario),
        [
            "recon_run_exit_code 0",
            "recon_discrepancies{check=\"t\",kind=\"changed\",status=\"acknowledged\"} 1",
            "recon_discrepancies{check=\"t\",kind=\"missing_in_right\",status=\"acknowledged\"} 1",
            "recon_discrepancies_needing_someone 0",
            "recon_discrepancies_acknowledged 2",
            "recon_backlog_findings{age_bucket=\"lt_1d\",currency=\"EUR\",kind=\"changed\",status=\"acknowledged\"} 1",
            "recon_backlog_findings{age_bucket=\"lt_1d\",currency=\"EUR\",kind=\"missing_in_right\",status=\"acknowledged\"} 1",
            "recon_backlog_needing_someone 0",
            "recon_backlog_at_stake_minor_units{currency=\"EUR\",status=\"acknowledged\"} 3500",
        ]
    );

    // Row 2's amount changes again (26.00 EUR): its acknowledgement no longer holds.
    sql(
        scenario.var("R"),
        "UPDATE t SET amount_minor = 2600 WHERE id = 2",
    )
    .await;
    let (out, summary) = scenario.run("2026-11-20", &metrics);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(summary["outcome"], "discrepancies");
    assert_eq!(totals(&summary), [1, 0, 1, 1, 1]);
    assert_eq!(
        listed(&summary),
        [
            (
                1,
                "2".to_string(),
                "carried".to_string(),
                Some("changed".to_string())
            ),
            (2, "3".to_string(), "acknowledged".to_string(), None)
        ]
    );
    assert_eq!(summary["totals"]["at_stake"][0]["minor"], 600);
    assert!(stdout(&out).contains("Reopened: 1 acknowledged findings need someone again"));
    let html = std::fs::read_to_string(scenario.dir().join("out/report.html")).unwrap();
    assert!(
        html.contains("<h1>1 discrepancies found (0 new; 1 more acknowledged)</h1>"),
        "{html}"
    );
    assert!(html.contains("reopened: acknowledgement lapsed, the finding changed"));
    assert_eq!(
        alerting_samples(&scenario),
        [
            "recon_run_exit_code 1",
            "recon_discrepancies{check=\"t\",kind=\"changed\",status=\"carried\"} 1",
            "recon_discrepancies{check=\"t\",kind=\"missing_in_right\",status=\"acknowledged\"} 1",
            "recon_discrepancies_needing_someone 1",
            "recon_discrepancies_acknowledged 1",
            "recon_at_stake_minor_units{currency=\"EUR\"} 600",
            "recon_backlog_findings{age_bucket=\"lt_1d\",currency=\"EUR\",kind=\"missing_in_right\",status=\"acknowledged\"} 1",
            "recon_backlog_findings{age_bucket=\"lt_1d\",currency=\"EUR\",kind=\"changed\",status=\"carried\"} 1",
            "recon_backlog_needing_someone 1",
            "recon_backlog_at_stake_minor_units{currency=\"EUR\",status=\"acknowledged\"} 3000",
            "recon_backlog_at_stake_minor_units{currency=\"EUR\",status=\"carried\"} 600",
        ]
    );

    // Acknowledged again as it is now, it holds again; row 3's last day passes (as the clock
    // would move past 2099-12-31): it reopens as expired.
    let again = ack(&scenario, 1, None);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    sql(
        scenario.store(),
        "UPDATE discrepancies SET ack_until = '2026-11-21' WHERE id = 2",
    )
    .await;
    let (out, summary) = scenario.run("2026-11-20", &metrics);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(totals(&summary), [1, 0, 1, 1, 1]);
    assert_eq!(
        listed(&summary),
        [
            (1, "2".to_string(), "acknowledged".to_string(), None),
            (
                2,
                "3".to_string(),
                "carried".to_string(),
                Some("expired".to_string())
            )
        ]
    );
    assert_eq!(summary["totals"]["at_stake"][0]["minor"], 3000);

    // The audit chain says why each acknowledgement lapsed, and stays intact.
    let export = scenario.recon(&["audit", "export", "--config", "recon.toml"]);
    let lapsed: Vec<(i64, String)> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "acknowledgement_lapsed")
        .map(|e| {
            let payload = &e["payload"];
            let payload: serde_json::Value = match payload.as_str() {
                Some(text) => serde_json::from_str(text).unwrap(),
                None => payload.clone(),
            };
            (
                payload["id"].as_i64().unwrap(),
                payload["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        lapsed,
        [(1, "changed".to_string()), (2, "expired".to_string())]
    );
    let verify = scenario.recon(&["audit", "verify", "--config", "recon.toml"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}
