//! `recon controls check` on a real SQLite store after a real run: every control holds on a good
//! setup, then each fails in turn (an old key, short retention, a plaintext remote source, a run
//! too long ago, a tampered audit entry, an old advisory snapshot), named, with exit 1.

use std::path::Path;

use chrono::{Duration, NaiveDate, Utc};
use serde_json::{Value, json};

use crate::common::*;

/// What one variant of the configuration changes from the good one.
struct Setup<'a> {
    key_created: NaiveDate,
    history_retention_days: u32,
    payments_url_env: &'a str,
    advisory_db: &'a str,
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn good<'a>() -> Setup<'a> {
    Setup {
        key_created: today() - Duration::days(10),
        history_retention_days: 400,
        payments_url_env: "PAYMENTS_URL",
        advisory_db: "adb",
    }
}

fn config(s: &Setup) -> String {
    TestConfig::new()
        .table("job")
        .set("history_retention_days", s.history_retention_days as i64)
        .set("seal_retention_days", 20_i64)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", s.payments_url_env)
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .table("controls")
        .set("advisory_db", s.advisory_db)
        .set("advisory_db_max_age_days", 30_i64)
        .set("max_hours_since_success", 26_i64)
        .to_toml()
        + &format!(
            "\n[[controls.keys]]\nname = \"data\"\nid = \"k7\"\ncreated = \"{}\"\nrotate_after_days = 365\nenv = \"DATA_KEY\"\n",
            s.key_created
        )
}

/// An offline advisory database whose snapshot was taken `days_old` days ago.
fn advisory_db(dir: &Path, name: &str, days_old: i64) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let taken = today() - Duration::days(days_old);
    write(
        &dir.join(name),
        "materialize",
        &format!("#!/usr/bin/env bash\nSNAPSHOT_DATE=\"{taken}T08:28:40+00:00\"   # commit abc\n"),
    );
}

fn check(dir: &Path, env: &[(&str, &str)], s: &Setup, extra: &[&str]) -> (Option<i32>, Value) {
    write(dir, "controls.toml", &config(s));
    let mut args = vec!["controls", "check", "--config", "controls.toml", "--json"];
    args.extend_from_slice(extra);
    let out = recon(&args, env, dir);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let json =
        serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)));
    (out.status.code(), json)
}

/// The controls of a good setup, as `--json` gives them; `entries` audit entries.
fn all_pass(entries: u64) -> Vec<Value> {
    vec![
        json!({"name": "key_rotation.data", "requirement": "PCI DSS 3.6.4, 3.7.4", "status": "pass",
               "detail": format!("id k7 created {}, 10 days old (rotate after 365); DATA_KEY holds it", today() - Duration::days(10))}),
        json!({"name": "retention", "requirement": "PCI DSS 10.5.1", "status": "pass",
               "detail": "job.history_retention_days = 400 (at least 365)"}),
        json!({"name": "tls", "requirement": "PCI DSS 4.2.1", "status": "pass",
               "detail": "store file, sources.ledger file, sources.payments loopback"}),
        json!({"name": "audit_chain", "requirement": "PCI DSS 10.3.2", "status": "pass",
               "detail": format!("intact: {entries} entries checked")}),
        json!({"name": "last_success", "requirement": "PCI DSS 10.7.2", "status": "pass",
               "detail": "the last completed run finished 0 h ago (at most 26 h)"}),
        json!({"name": "advisory_db", "requirement": "PCI DSS 6.3.1, 6.3.3", "status": "pass",
               "detail": "snapshot of ".to_string() + &(today() - Duration::days(3)).to_string() + ", 3 days old (at most 30)"}),
    ]
}

/// `expected` with control `at` failing with `detail`.
fn failing(mut expected: Vec<Value>, at: usize, detail: String) -> Value {
    let name = expected[at]["name"].as_str().unwrap().to_string();
    expected[at]["status"] = json!("fail");
    expected[at]["detail"] = json!(detail);
    json!({"ok": false, "failed": [name], "controls": expected})
}

#[tokio::test]
async fn every_control_holds_on_a_good_setup_and_each_fails_alone_by_name() {
    let dir = temp_dir();
    let dir = dir.path();
    let schema = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    let rows = "INSERT INTO entries VALUES (1, 100), (2, 200)";
    let [ledger, _, store] = sqlite_sides(dir, schema, rows, rows).await;
    // The payments side is a loopback address: loopback needs no TLS, and the control says so.
    let payments = "postgres://postgres@127.0.0.1:5432/postgres";
    let env = [
        ("STORE_URL", store.as_str()),
        ("LEDGER_URL", ledger.as_str()),
        ("PAYMENTS_URL", payments),
        ("REMOTE_URL", "postgres://app@db.example.com/pay"),
        ("DATA_KEY", "k7:not-shown"),
    ];
    // The run reconciles the ledger with itself through a second SQLite copy.
    let run_env = [
        ("STORE_URL", store.as_str()),
        ("LEDGER_URL", ledger.as_str()),
        ("PAYMENTS_URL", ledger.as_str()),
    ];
    write(dir, "recon.toml", &config(&good()));
    let run = recon(&run_args("2026-11-20", "out", &[]), &run_env, dir);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    advisory_db(dir, "adb", 3);

    // Every control holds: exit 0, the exact report, and the metrics the alert reads.
    let (code, report) = check(dir, &env, &good(), &["--metrics-file", "controls.prom"]);
    let entries = 3; // run_started, check_result, run_finished
    assert_eq!(
        report,
        json!({"ok": true, "failed": [], "controls": all_pass(entries)})
    );
    assert_eq!(code, Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.join("controls.prom")).unwrap(),
        "# HELP recon_controls_failed How many controls the last controls check found failing.\n\
         # TYPE recon_controls_failed gauge\n\
         recon_controls_failed 0\n\
         # HELP recon_control_ok 1 when the control held at the last controls check, 0 when it failed.\n\
         # TYPE recon_control_ok gauge\n\
         recon_control_ok{control=\"key_rotation.data\"} 1\n\
         recon_control_ok{control=\"retention\"} 1\n\
         recon_control_ok{control=\"tls\"} 1\n\
         recon_control_ok{control=\"audit_chain\"} 1\n\
         recon_control_ok{control=\"last_success\"} 1\n\
         recon_control_ok{control=\"advisory_db\"} 1\n"
    );

    // A key past its rotation period.
    let created = today() - Duration::days(400);
    let old_key = Setup {
        key_created: created,
        ..good()
    };
    let (code, report) = check(dir, &env, &old_key, &["--metrics-file", "controls.prom"]);
    assert_eq!(
        report,
        failing(
            all_pass(entries),
            0,
            format!("id k7 created {created}, 400 days old: past its rotation period of 365 days")
        )
    );
    assert_eq!(code, Some(1));
    let metrics = std::fs::read_to_string(dir.join("controls.prom")).unwrap();
    assert!(metrics.contains("\nrecon_controls_failed 1\n"), "{metrics}");
    assert!(
        metrics.contains("\nrecon_control_ok{control=\"key_rotation.data\"} 0\n"),
        "{metrics}"
    );

    // A key whose id is not the one in the environment.
    let (code, report) = check(
        dir,
        &[env[0], env[1], env[2], ("DATA_KEY", "k8:other")],
        &good(),
        &[],
    );
    assert_eq!(
        report,
        failing(
            all_pass(entries),
            0,
            format!(
                "id k7 created {}, but DATA_KEY holds key k8: the configured id is not the key in use",
                today() - Duration::days(10)
            )
        )
    );
    assert_eq!(code, Some(1));

    // Retention of 30 days: a run would not get this far once the floor is enforced at load,
    // but a store kept by such a file is still short of history.
    let short = Setup {
        history_retention_days: 30,
        ..good()
    };
    let (code, report) = check(dir, &env, &short, &[]);
    assert_eq!(
        report,
        failing(
            all_pass(entries),
            1,
            "job.history_retention_days = 30 (at least 365)".to_string()
        )
    );
    assert_eq!(code, Some(1));

    // A remote source reached in plaintext.
    let plaintext = Setup {
        payments_url_env: "REMOTE_URL",
        ..good()
    };
    let (code, report) = check(dir, &env, &plaintext, &[]);
    assert_eq!(
        report,
        failing(
            all_pass(entries),
            2,
            "sources.payments: the server db.example.com is not loopback, so its URL must ask for sslmode=verify-full (it asks for prefer (the default)): without it the link may fall back to plaintext or accept any certificate".to_string()
        )
    );
    assert_eq!(code, Some(1));

    // An old advisory snapshot, and a missing one.
    advisory_db(dir, "old-adb", 45);
    let (code, report) = check(
        dir,
        &env,
        &Setup {
            advisory_db: "old-adb",
            ..good()
        },
        &[],
    );
    assert_eq!(
        report,
        failing(
            all_pass(entries),
            5,
            format!(
                "snapshot of {}, 45 days old (at most 30)",
                today() - Duration::days(45)
            )
        )
    );
    assert_eq!(code, Some(1));
    let (code, report) = check(
        dir,
        &env,
        &Setup {
            advisory_db: "nowhere",
            ..good()
        },
        &[],
    );
    assert_eq!(report["failed"], json!(["advisory_db"]));
    assert!(
        report["controls"][5]["detail"]
            .as_str()
            .unwrap()
            .starts_with("no advisory database at nowhere/materialize: "),
        "{report}"
    );
    assert_eq!(code, Some(1));

    // No successful run for two days.
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    let (finished,): (String,) = sqlx::query_as("SELECT finished_at FROM runs")
        .fetch_one(&pool)
        .await
        .unwrap();
    let two_days_ago = (Utc::now() - Duration::hours(49)).to_rfc3339();
    sqlx::query("UPDATE runs SET finished_at = $1")
        .bind(&two_days_ago)
        .execute(&pool)
        .await
        .unwrap();
    let (code, report) = check(dir, &env, &good(), &[]);
    assert_eq!(
        report,
        failing(
            all_pass(entries),
            4,
            "the last completed run finished 49 h ago (at most 26 h)".to_string()
        )
    );
    assert_eq!(code, Some(1));
    sqlx::query("UPDATE runs SET finished_at = $1")
        .bind(&finished)
        .execute(&pool)
        .await
        .unwrap();

    // A tampered audit entry: whoever can write the SQLite file can drop its append-only trigger.
    sqlx::raw_sql(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 2",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let (code, report) = check(dir, &env, &good(), &[]);
    assert_eq!(
        report,
        failing(
            all_pass(entries),
            3,
            "BROKEN: 1 problem(s) in 3 entries checked: entry 2: its content does not match its hash (edited; action check_result)".to_string()
        )
    );
    assert_eq!(code, Some(1));
}

#[test]
fn a_bad_controls_section_is_bad_configuration() {
    let dir = temp_dir();
    let dir = dir.path();
    let text = config(&good()).replace(
        &format!("created = \"{}\"", today() - Duration::days(10)),
        "created = \"last spring\"",
    );
    write(dir, "controls.toml", &text);
    let env = [
        ("STORE_URL", "sqlite://s.db"),
        ("LEDGER_URL", "sqlite://l.db"),
        ("PAYMENTS_URL", "sqlite://p.db"),
    ];
    let out = recon(
        &["controls", "check", "--config", "controls.toml"],
        &env,
        dir,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains(
            "controls.toml: controls.keys[0]: created \"last spring\" is not a date YYYY-MM-DD"
        ),
        "{}",
        stderr(&out)
    );
}

/// With `--metrics-push` the verdicts replace the `pusher="controls"` group on a real
/// Pushgateway: the count the alert reads and one 0/1 series per control.
#[tokio::test]
async fn the_check_pushes_its_verdicts_to_the_controls_group() {
    let Some(gateway) = Pushgateway::start("controls push") else {
        return;
    };
    let dir = temp_dir();
    let dir = dir.path();
    advisory_db(dir, "adb", 3);
    // A new store: no run has completed in it yet, so last_success fails.
    let store = sqlite_url(dir.join("s.db"));
    let env = [
        ("STORE_URL", store.as_str()),
        ("LEDGER_URL", "sqlite://l.db"),
        ("PAYMENTS_URL", "sqlite://p.db"),
        ("DATA_KEY", "k7:not-shown"),
    ];
    write(dir, "controls.toml", &config(&good()));
    let migrate = recon(&["migrate", "--config", "controls.toml"], &env, dir);
    assert_eq!(migrate.status.code(), Some(0), "{}", stderr(&migrate));
    let (code, report) = check(dir, &env, &good(), &["--metrics-push", &gateway.base()]);
    assert_eq!(report["failed"], json!(["last_success"]), "{report}");
    assert_eq!(
        report["controls"][4]["detail"],
        json!("no run has completed in this store")
    );
    assert_eq!(code, Some(1));
    let series = |control: &str, value: u8| {
        format!(
            "recon_control_ok{{control=\"{control}\",instance=\"\",job=\"recon\",pusher=\"controls\"}} {value}"
        )
    };
    assert_eq!(
        gateway.samples("recon_controls_failed"),
        ["recon_controls_failed{instance=\"\",job=\"recon\",pusher=\"controls\"} 1"]
    );
    assert_eq!(
        gateway.samples("recon_control_ok"),
        [
            series("advisory_db", 1),
            series("audit_chain", 1),
            series("key_rotation.data", 1),
            series("last_success", 0),
            series("retention", 1),
            series("tls", 1),
        ]
    );
}
