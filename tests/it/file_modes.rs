//! What recon leaves on disk is its user's only: a whole run under a loose umask (022) creates
//! every file 0600 and every folder 0700 (the store, its journal, the outputs, the downloads).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::*;

const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
";

/// Every file and folder under `dir` (relative, `/`-separated) with its permission bits.
fn modes(dir: &Path) -> BTreeMap<String, u32> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<String, u32>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            found.insert(name, meta.permissions().mode() & 0o7777);
            if meta.is_dir() {
                walk(root, &path, found);
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(dir, dir, &mut found);
    found
}

/// `recon args` in `scenario`'s folder, started by a shell under umask 022 (files 0644, folders
/// 0755 for a process that does not set its own).
fn recon_under_umask_022(scenario: &Scenario, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_recon"))
        .args(args)
        .current_dir(scenario.dir())
        .env("RUST_LOG", "warn")
        .env_remove("RECON_LOG_FORMAT");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().unwrap()
}

#[tokio::test]
async fn a_run_under_a_loose_umask_creates_every_file_0600_and_every_folder_0700() {
    let server = HttpServer::sequence([Response::csv(REPORT)]);
    let scenario = Scenario::new("S");
    let ledger = sqlite_db(
        &scenario.dir().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
            "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP)",
            "INSERT INTO entries VALUES (1, 100, '2026-11-20 09:00:00')",
        ],
    )
    .await;
    let payments = sqlite_db(
        &scenario.dir().join("payments.db"),
        &[
            "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP)",
            "INSERT INTO entries VALUES (1, 100, '2026-11-20 09:00:00')",
        ],
    )
    .await;
    let config = TestConfig::new()
        .store("S")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
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
    let scenario = scenario
        .env("L", &ledger)
        .env("P", &payments)
        .config(&config);
    // The seal's spool goes to a folder of the test's, so that it is looked at too.
    let spool = scenario.dir().join("tmp");
    std::fs::create_dir(&spool).unwrap();
    let before = modes(scenario.dir());

    let env = [
        ("S", scenario.store()),
        ("L", ledger.as_str()),
        ("P", payments.as_str()),
        ("RECON_TEMP_DIR", &path_str(&spool)),
    ];
    let args = run_args(
        "2026-11-20",
        "out",
        &["--metrics-file", "out/metrics/recon.prom"],
    );
    let out = recon_under_umask_022(&scenario, &args, &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let summary = summary(scenario.dir());
    let statuses: Vec<_> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["name"], c["status"]))
        .collect();
    assert_eq!(statuses, ["\"entries\" \"clean\"", "\"stripe\" \"clean\""]);

    // What the run created: everything it did not find there.
    let mut created = modes(scenario.dir());
    created.retain(|path, _| !before.contains_key(path));
    let created: Vec<(&str, String)> = created
        .iter()
        .map(|(path, mode)| (path.as_str(), format!("{mode:o}")))
        .collect();
    assert_eq!(
        created,
        [
            ("out", "700"),
            ("out/discrepancies.csv", "600"),
            ("out/downloads", "700"),
            (
                "out/downloads/2026-11-20-stripe-stripe-2026-11-20.csv",
                "600"
            ),
            ("out/metrics", "700"),
            ("out/metrics/recon.prom", "600"),
            ("out/report.html", "600"),
            ("out/reports", "700"),
            ("out/reports/2026-11-20", "700"),
            ("out/reports/2026-11-20/report.html", "600"),
            ("out/summary.json", "600"),
            ("store.db", "600"),
        ]
        .map(|(p, m)| (p, m.to_string()))
    );
    // Read after the modes were taken: the test's own connection would add its journal.
    let store = sqlx::SqlitePool::connect(scenario.store()).await.unwrap();
    let seals: i64 = sqlx::query_scalar("SELECT count(*) FROM seals")
        .fetch_one(&store)
        .await
        .unwrap();
    store.close().await;
    assert_eq!(seals, 1, "the integrity check sealed its day");
}
