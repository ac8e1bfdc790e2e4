//! A mask key rotation: masks name their key id (`hmac-sha256:k1:…`), and with the retired key
//! in `RECON_MASK_KEY_PREVIOUS` every finding recorded under it is recognised: an acknowledged
//! one stays acknowledged with its id (a card-number settlement id, a sensitive key column), an
//! in-flight one is settled the next day. Without the previous key the same runs open them anew.

use std::path::Path;

use crate::common::*;

const K1: &str = "k1:726f746174696f6e2d6f6c642d6b65792d303132333435363738396162636465";
const K2: &str = "k2:726f746174696f6e2d6e65772d6b65792d303132333435363738396162636465";
/// Visa test numbers that mask alike (`411111******1111`).
const PAN_A: &str = "4111111111111111";
const PAN_B: &str = "4111111000071111";
const PAN_D: &str = "4111111000231111";

fn config() -> String {
    stripe_cards(TestConfig::new())
        .set("timing_window_days", 2)
        .source("copy", "COPY_URL")
        .integrity("accounts", "ledger.accounts", "copy.accounts", "iban")
        .set("sensitive_columns", ["iban"])
        .to_toml()
}

const HEADER: &str =
    "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id";

async fn setup(dir: &Path) -> (String, String) {
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    // Day 1: A matches, B is unknown to the ledger; D (in the ledger) is still in flight.
    write(
        dir,
        "reports/stripe-2026-11-20.csv",
        &format!(
            "{HEADER}\ntxn_a,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,{PAN_A}\n\
             txn_b,2026-11-20 11:00:00,usd,20.00,0.00,20.00,charge,{PAN_B}\n"
        ),
    );
    // Day 2: D arrives.
    write(
        dir,
        "reports/stripe-2026-11-21.csv",
        &format!("{HEADER}\ntxn_d,2026-11-21 09:00:00,usd,40.00,1.00,39.00,charge,{PAN_D}\n"),
    );
    let accounts = "CREATE TABLE accounts (iban TEXT PRIMARY KEY, memo TEXT)";
    let ledger = sqlite_db(
        &dir.join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, \
             currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, \
             fee_minor INTEGER)",
            &format!(
                "INSERT INTO payments VALUES \
                 ('{PAN_A}', 1000, 'USD', 'settled', '2026-11-20 09:00:00', 59), \
                 ('{PAN_D}', 4000, 'USD', 'settled', '2026-11-20 08:00:00', 100)"
            ),
            accounts,
            "INSERT INTO accounts VALUES ('NL91ABNA0417164300', 'a')",
        ],
    )
    .await;
    let copy = sqlite_db(
        &dir.join("copy.db"),
        &[
            accounts,
            "INSERT INTO accounts VALUES ('NL91ABNA0417164300', 'b')",
        ],
    )
    .await;
    (ledger, copy)
}

/// The (id, status, key) of the summary's finding of `kind`.
fn finding(summary: &serde_json::Value, kind: &str) -> (i64, String, String) {
    let d = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {summary}"));
    (
        d["id"].as_i64().unwrap(),
        d["status"].as_str().unwrap().to_string(),
        d["key"].to_string(),
    )
}

fn ack(scenario: &Scenario, id: i64) {
    let out = scenario.recon(&[
        "discrepancies",
        "ack",
        "--reason",
        "explained",
        &id.to_string(),
        "--note",
        "known",
        "--config",
        "recon.toml",
        "--actor",
        "ops",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test]
async fn findings_recorded_under_the_previous_key_are_recognised_after_a_rotation() {
    let dir = temp_dir();
    let dir = dir.path();
    let (ledger, copy) = setup(dir).await;
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .config(&config())
        .env("LEDGER_URL", &ledger)
        .env("COPY_URL", &copy)
        .env("RECON_MASK_KEY", K1);
    let (out, day1) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let (missing, _, missing_key) = finding(&day1, "missing_in_ledger");
    let (changed, _, changed_key) = finding(&day1, "changed");
    finding(&day1, "timing");
    assert_eq!(missing_key, r#"{"id":"411111******1111"}"#);
    assert!(
        changed_key.starts_with(r#"{"iban":"hmac-sha256:k1:"#),
        "{changed_key}"
    );
    ack(&scenario, missing);
    ack(&scenario, changed);
    let store = dir.join("store.db");
    std::fs::copy(&store, dir.join("before-rotation.db")).unwrap();

    // The rotation: k2 writes, k1 is kept to recognise what it wrote.
    let rotated = scenario
        .env("RECON_MASK_KEY", K2)
        .env("RECON_MASK_KEY_PREVIOUS", K1);
    let (out, day2) = rotated.run("2026-11-21", &[]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    // D settles day 1's in-flight finding, recorded under k1's digest.
    assert_eq!(day2["totals"]["resolved"], 1, "{day2}");
    let (id, status, key) = finding(&day2, "changed");
    assert_eq!((id, status.as_str()), (changed, "acknowledged"));
    assert!(key.starts_with(r#"{"iban":"hmac-sha256:k2:"#), "{key}");
    let (out, rerun) = rotated.run("2026-11-20", &[]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let (id, status, _) = finding(&rerun, "missing_in_ledger");
    assert_eq!((id, status.as_str()), (missing, "acknowledged"));
    let export = rotated.recon(&["audit", "export", "--config", "recon.toml"]);
    let export = stdout(&export);
    assert_eq!(
        export
            .matches(r#""action":"discrepancies_rekeyed""#)
            .count(),
        2
    );
    assert!(export.contains(r#"\"key_digest\":\"hmac-sha256:k2:"#));
    let verify = rotated.recon(&["audit", "verify", "--config", "recon.toml"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));

    // The same runs without the previous key: every finding is new, acknowledgements lost.
    let forgetful = Scenario::in_dir(dir, "STORE_URL")
        .store_at(&sqlite_url(dir.join("before-rotation.db")))
        .config(&config())
        .env("LEDGER_URL", &ledger)
        .env("COPY_URL", &copy)
        .env("RECON_MASK_KEY", K2);
    let (_, day2) = forgetful.run("2026-11-21", &[]);
    let (id, status, _) = finding(&day2, "changed");
    assert_ne!(id, changed);
    assert_eq!(status, "open");
    let (_, rerun) = forgetful.run("2026-11-20", &[]);
    let (id, status, _) = finding(&rerun, "missing_in_ledger");
    assert_ne!(id, missing);
    assert_eq!(status, "open");
}

#[test]
fn a_previous_key_needs_a_current_one_and_an_id_of_its_own() {
    let dir = temp_dir();
    // Without sensitive columns, so a missing key is not refused for them first.
    write(
        dir.path(),
        "recon.toml",
        &stripe_cards(TestConfig::new()).to_toml(),
    );
    let check = |env: &[(&str, &str)]| {
        let mut env = env.to_vec();
        env.extend([
            ("STORE_URL", "sqlite://store.db"),
            ("LEDGER_URL", "sqlite://ledger.db"),
        ]);
        recon(
            &["config", "check", "--config", "recon.toml"],
            &env,
            dir.path(),
        )
    };
    let out = check(&[("RECON_MASK_KEY_PREVIOUS", K1)]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "recon: recon.toml: job.mask_key_env: RECON_MASK_KEY_PREVIOUS is set but RECON_MASK_KEY is not; a rotation keeps the new key in RECON_MASK_KEY and the one it replaces in RECON_MASK_KEY_PREVIOUS\n"
    );
    let same_id = K2.replacen("k2:", "k1:", 1);
    let out = check(&[
        ("RECON_MASK_KEY", &same_id),
        ("RECON_MASK_KEY_PREVIOUS", K1),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "recon: recon.toml: job.mask_key_env: RECON_MASK_KEY_PREVIOUS has the key id \"k1\" of the current key but another key; give the new key a new id (`k2:` and the key)\n"
    );
    let out = check(&[("RECON_MASK_KEY", K2), ("RECON_MASK_KEY_PREVIOUS", K1)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!all.contains(&K1[3..]) && !all.contains(&K2[3..]), "{all}");
}

/// A day sealed under a key written alone, and one sealed under `k1`, still re-verify intact
/// after the key is named and after it is rotated; a row edited in a sealed day is named once,
/// as changed, found by the mask it was sealed under (its key column is sensitive), not as one
/// row deleted under the old mask and another added under the new.
#[tokio::test]
async fn sealed_days_with_a_sensitive_key_re_verify_across_a_rotation() {
    let rows = "CREATE TABLE accounts (iban TEXT PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP);
                INSERT INTO accounts VALUES ('NL91ABNA0417164300', 100, '2026-11-19 09:00:00'),
                                            ('DE89370400440532013000', 200, '2026-11-20 09:00:00'),
                                            ('FR1420041010050500013M02606', 300, '2026-11-21 09:00:00');";
    let config = TestConfig::new()
        .store("S")
        .source("ledger", "L")
        .source("copy", "C")
        .integrity("accounts", "ledger.accounts", "copy.accounts", "iban")
        .set("date_column", "created_at")
        .set("sensitive_columns", ["iban"])
        .to_toml();
    let scenario = Scenario::new("S");
    let l = sqlite_db(&scenario.dir().join("l.db"), &[rows]).await;
    let c = sqlite_db(&scenario.dir().join("c.db"), &[rows]).await;
    let scenario = scenario.env("L", &l).env("C", &c).config(&config);
    let outcome = |scenario: &Scenario, date: &str| {
        let (out, summary) = scenario.run(date, &[]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
        summary
    };
    // The 19th sealed under the key written alone (masks without an id).
    let scenario = scenario.env("RECON_MASK_KEY", &K1[3..]);
    assert_eq!(outcome(&scenario, "2026-11-19")["outcome"], "clean");
    // The key named k1: the 19th re-verifies intact; the 20th is sealed under k1.
    let scenario = scenario.env("RECON_MASK_KEY", K1);
    assert_eq!(outcome(&scenario, "2026-11-20")["outcome"], "clean");
    // Rotated to k2: both re-verify intact.
    let scenario = scenario
        .env("RECON_MASK_KEY", K2)
        .env("RECON_MASK_KEY_PREVIOUS", K1);
    let day = outcome(&scenario, "2026-11-21");
    assert_eq!(day["outcome"], "clean", "{day}");
    // An edit of the 19th is still named, by its key as it was sealed.
    let pool = sqlx::SqlitePool::connect(&l).await.unwrap();
    sqlx::query("UPDATE accounts SET amount_minor = 101 WHERE amount_minor = 100")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let day = outcome(&scenario, "2026-11-21");
    let found: Vec<String> = day["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {} {} {}",
                d["kind"], d["partition"], d["detail"], d["key"]
            )
        })
        .collect();
    assert_eq!(found.len(), 1, "{day}");
    assert!(
        found[0].starts_with(
            r#""closed_period_modified" "2026-11-19" "changed in ledger.accounts since the day was sealed by run 1" {"iban":"hmac-sha256:"#
        ),
        "{found:?}"
    );
    assert!(!found[0].contains("NL91"), "{found:?}");
}
