//! Kept downloads past `job.download_retention_days` are removed at the end of a run, with a
//! `downloads_pruned` audit entry naming them; those within it, and files not recon's, stay.

use crate::common::*;

const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
";

/// The names in `dir`, sorted.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn downloads_past_their_retention_are_removed_and_audited_the_rest_kept() {
    let server = HttpServer::sequence([Response::csv(REPORT), Response::csv(REPORT)]);
    let scenario = Scenario::new("S");
    let ledger = sqlite_db(
        &scenario.dir().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
        ],
    )
    .await;
    let config = TestConfig::new()
        .table("job")
        .set("download_retention_days", 30)
        .store("S")
        .source("ledger", "L")
        .settlement("stripe", "stripe")
        .set(
            "report_url",
            format!(
                "http://127.0.0.1:{}/reports/stripe-{{date}}.csv",
                server.port()
            ),
        )
        .set("ledger", ledger_mapping("payments", &[]))
        .set("match_on", "reference")
        .to_toml();
    let scenario = scenario.env("L", &ledger).config(&config);
    // 2026-11-20 less 30 days is 2026-10-21: what is dated before it goes.
    let downloads = scenario.dir().join("out/downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    for name in [
        "2026-10-19-stripe-stripe-2026-10-19.partial",
        "2026-10-20-stripe-stripe-2026-10-20.csv",
        "2026-10-21-stripe-stripe-2026-10-21.csv",
        "2026-11-19-stripe-stripe-2026-11-19.csv",
        "notes.txt",
    ] {
        std::fs::write(downloads.join(name), "kept report").unwrap();
    }

    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        names(&downloads),
        [
            "2026-10-21-stripe-stripe-2026-10-21.csv",
            "2026-11-19-stripe-stripe-2026-11-19.csv",
            "2026-11-20-stripe-stripe-2026-11-20.csv",
            "notes.txt",
        ]
    );

    let export = scenario.recon(&["audit", "export", "--config", "recon.toml"]);
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let pruned: Vec<serde_json::Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "downloads_pruned")
        .collect();
    assert_eq!(pruned.len(), 1, "{}", stdout(&export));
    assert_eq!(pruned[0]["run_id"], summary["run_id"]);
    assert!(
        pruned[0]["actor"].as_str().unwrap().starts_with("recon@"),
        "{}",
        pruned[0]
    );
    assert_eq!(
        pruned[0]["payload"],
        r#"{"before":"2026-10-21","count":2,"files":["2026-10-19-stripe-stripe-2026-10-19.partial","2026-10-20-stripe-stripe-2026-10-20.csv"]}"#
    );

    // A rerun of the date finds nothing more to prune, and says nothing of it.
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = scenario.recon(&["audit", "export", "--config", "recon.toml"]);
    assert_eq!(stdout(&again).matches("downloads_pruned").count(), 1);
}

#[tokio::test]
async fn a_download_retention_of_0_days_is_refused_naming_the_key() {
    let scenario = Scenario::new("S")
        .env("L", "sqlite://l.db")
        .env("P", "sqlite://p.db")
        .config(
            &TestConfig::new()
                .table("job")
                .set("download_retention_days", 0)
                .store("S")
                .source("ledger", "L")
                .source("payments", "P")
                .integrity("t", "ledger.t", "payments.t", "id")
                .to_toml(),
        );
    let out = scenario.recon(&["config", "check", "--config", "recon.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "recon: recon.toml: job.download_retention_days must be at least 1 (the days a fetched report is kept under <out>/downloads/)\n"
    );
}
