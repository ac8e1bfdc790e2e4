//! The state audit entries bind, digested under the mask key: a reader of the chain cannot test
//! a guessed value, a holder of the store's credentials cannot digest a forged state, a rotation
//! keeps old entries verifying, and entries written before keyed digests verify as they did.

use hmac::{KeyInit, Mac};
use recon::store::audit::entry_hash;
use sha2::{Digest, Sha256};

use crate::audit_tamper::{entries, exec, lines};
use crate::common::*;

const HEX1: &str = "6b33792d666f722d74657374732d6f6e6c792d303132333435363738396162636465";
const HEX2: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn k1() -> String {
    format!("k1:{HEX1}")
}

fn k2() -> String {
    format!("k2:{HEX2}")
}

const SCHEMA: &str = "CREATE TABLE entries (id INTEGER PRIMARY KEY, card TEXT, amount_minor INTEGER, created_at TIMESTAMP)";

/// A run of 2026-11-20 whose one finding (discrepancy 1) shows a card number on each side, then
/// an acknowledgement by `ana`; the mask key is `mask_key` when given.
async fn acknowledged_store(mask_key: Option<&str>) -> Scenario {
    let scenario = Scenario::new("S");
    let dir = scenario.dir().to_path_buf();
    let l = sqlite_db(
        &dir.join("l.db"),
        &[
            SCHEMA,
            "INSERT INTO entries VALUES (1, '4111111111111111', 100, '2026-11-20 09:00:00')",
        ],
    )
    .await;
    let p = sqlite_db(
        &dir.join("p.db"),
        &[
            SCHEMA,
            "INSERT INTO entries VALUES (1, '5555555555554444', 100, '2026-11-20 09:00:00')",
        ],
    )
    .await;
    let config = TestConfig::new()
        .store("S")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml();
    let scenario = scenario.env("L", &l).env("P", &p);
    let scenario = match mask_key {
        Some(key) => scenario.env("RECON_MASK_KEY", key),
        None => scenario,
    }
    .config(&config);
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let ack = scenario.recon(&[
        "discrepancies",
        "ack",
        "1",
        "--config",
        "recon.toml",
        "--note",
        "booked late",
        "--actor",
        "ana",
    ]);
    assert_eq!(ack.status.code(), Some(0), "{}", stderr(&ack));
    scenario
}

fn verify(scenario: &Scenario) -> (Option<i32>, String) {
    let out = scenario.recon(&["audit", "verify", "--config", "recon.toml"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    (out.status.code(), stdout(&out))
}

/// The columns and detail JSON text of discrepancy 1, and its pinned acknowledgement digest.
async fn stored_finding(url: &str) -> (String, String, Option<String>) {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let row = sqlx::query_as(
        "SELECT columns_json, detail_json, ack_digest FROM discrepancies WHERE id = 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    row
}

/// Sequence number and `state` of the last entry with `action`.
async fn last_state(url: &str, action: &str) -> (i64, serde_json::Value) {
    let chain = entries(url).await;
    let row = chain.iter().rev().find(|r| r.3 == action).unwrap();
    let payload: serde_json::Value = serde_json::from_str(&row.5).unwrap();
    (row.0, payload["state"].clone())
}

/// HMAC-SHA256 in hex, keyed with the key's text as written (as the mask key documents).
fn hmac_hex(key_text: &str, message: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key_text.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// A field in the canonical encoding (`V<byte length>:<text>`).
fn field(text: &str) -> String {
    format!("V{}:{text}", text.len())
}

#[tokio::test]
async fn state_digests_are_hmacs_under_the_mask_key_and_an_edited_acknowledgement_is_named() {
    let scenario = acknowledged_store(Some(&k1())).await;
    let url = scenario.store().to_string();
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(0), "{out}");

    let (columns, detail, pinned) = stored_finding(&url).await;
    assert!(detail.contains("411111******1111"), "{detail}");
    let shown = format!("{columns}\n{detail}");
    let (opened, state) = last_state(&url, "discrepancy_opened").await;
    let keyed = format!("hmac-sha256:k1:{}", hmac_hex(HEX1, shown.as_bytes()));
    assert_eq!(state["shown"], keyed.as_str());
    assert_eq!(state["ack"], serde_json::Value::Null);
    // The acknowledgement is pinned to the finding by the same keyed digest.
    assert_eq!(pinned.as_deref(), Some(keyed.as_str()));

    // The acknowledgement as the store records it: the discrepancy's columns (note, actor, no
    // last day, the pinned digest) and the acknowledgements table's one row (id, actor, no
    // display name, note).
    let (acked, state) = last_state(&url, "discrepancy_acknowledged").await;
    assert!(acked > opened);
    let bound = format!(
        "{}{}N{}{}{}N{}",
        field("booked late"),
        field("ana"),
        field(&keyed),
        field("1"),
        field("ana"),
        field("booked late"),
    );
    assert_eq!(
        state["ack"],
        format!("hmac-sha256:k1:{}", hmac_hex(HEX1, bound.as_bytes())).as_str()
    );
    assert_eq!(state["shown"], keyed.as_str());

    // A DBA rewrites the acknowledgement's note in its table: named, with the finding's id.
    let last = entries(&url).await.last().unwrap().0;
    exec(
        &url,
        &[
            "UPDATE acknowledgements SET note = 'approved by finance' WHERE discrepancy_id = 1"
                .into(),
        ],
    )
    .await;
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &format!(
                "discrepancy 1: its acknowledgement differs from the one audit entry {acked} (discrepancy_acknowledged) records"
            ),
            &format!(
                "audit chain BROKEN: 0 problem(s) in {last} entries checked; 1 row(s) unlike the chain"
            ),
        ])
    );

    // Put back, it verifies; the status flipped back to open instead is named.
    exec(
        &url,
        &[
            "UPDATE acknowledgements SET note = 'booked late' WHERE discrepancy_id = 1".into(),
            "UPDATE discrepancies SET status = 'open' WHERE id = 1".into(),
        ],
    )
    .await;
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &format!(
                "discrepancy 1: its status is open but audit entry {acked} (discrepancy_acknowledged) says acknowledged"
            ),
            &format!(
                "audit chain BROKEN: 0 problem(s) in {last} entries checked; 1 row(s) unlike the chain"
            ),
        ])
    );
    exec(
        &url,
        &["UPDATE discrepancies SET status = 'acknowledged' WHERE id = 1".into()],
    )
    .await;
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test]
async fn a_rotation_keeps_old_state_digests_verifying_until_the_old_key_is_dropped() {
    let scenario = acknowledged_store(Some(&k1())).await;
    let url = scenario.store().to_string();
    let (acked, _) = last_state(&url, "discrepancy_acknowledged").await;

    // k2 now, k1 kept as the previous key: the entries digested under k1 verify, and a run
    // under k2 finds the acknowledgement still holding (pinned under k1, checked under k1).
    let scenario = scenario
        .env("RECON_MASK_KEY", &k2())
        .env("RECON_MASK_KEY_PREVIOUS", &k1());
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(0), "{out}");
    let (run, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (status, reopened): (String, Option<String>) =
        sqlx::query_as("SELECT status, reopened FROM discrepancies WHERE id = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!((status.as_str(), reopened), ("acknowledged", None));
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(0), "{out}");
    let last = entries(&url).await.last().unwrap().0;

    // Without k1 the state its entry binds can be neither confirmed nor found changed: said
    // so, with the exit code of a failed verification, never "intact".
    let scenario = scenario.env("RECON_MASK_KEY_PREVIOUS", "");
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &format!(
                "discrepancy 1: cannot verify: state digested under key k1, which is not given (audit entry {acked} (discrepancy_acknowledged))"
            ),
            &format!(
                "audit chain NOT VERIFIED: 1 row(s) whose state is digested under a mask key not given, in {last} entries checked (give a retired key as the mask key's _PREVIOUS variable)"
            ),
        ])
    );
    let controls = scenario.recon(&["controls", "check", "--config", "recon.toml", "--json"]);
    let controls: serde_json::Value = serde_json::from_slice(&controls.stdout).unwrap();
    let audit = controls["controls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "audit_chain")
        .unwrap();
    assert_eq!(audit["status"], "fail", "{audit}");
    assert_eq!(
        audit["detail"],
        format!(
            "NOT VERIFIED: 1 problem(s) in {last} entries checked: discrepancy 1: cannot verify: state digested under key k1, which is not given (audit entry {acked} (discrepancy_acknowledged))"
        )
        .as_str()
    );
}

/// Every file under `dir`, read whole.
fn every_byte_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(every_byte_under(&path));
        } else {
            found.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

/// The files under the scenario's folder (store, out folder, an audit export) holding `text`.
fn files_holding(scenario: &Scenario, text: &str) -> Vec<std::path::PathBuf> {
    let export = scenario.recon(&[
        "audit",
        "export",
        "--config",
        "recon.toml",
        "--out",
        "audit.jsonl",
    ]);
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    every_byte_under(scenario.dir())
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
        .map(|(path, _)| path)
        .collect()
}

#[tokio::test]
async fn no_byte_recon_wrote_holds_the_unkeyed_digest_of_a_card_bearing_state() {
    let keyed = acknowledged_store(Some(&k1())).await;
    let (columns, detail, _) = stored_finding(keyed.store()).await;
    assert!(
        columns.contains("card") && detail.contains("555555******4444"),
        "{detail}"
    );
    let plain = hex::encode(Sha256::digest(format!("{columns}\n{detail}")));
    assert_eq!(
        files_holding(&keyed, &plain),
        Vec::<std::path::PathBuf>::new()
    );

    // The search finds it where it is written: the same state without a mask key.
    let unkeyed = acknowledged_store(None).await;
    let (columns, detail, _) = stored_finding(unkeyed.store()).await;
    let plain = hex::encode(Sha256::digest(format!("{columns}\n{detail}")));
    let holding = files_holding(&unkeyed, &plain);
    assert!(
        holding.contains(&unkeyed.dir().join("store.db"))
            && holding.contains(&unkeyed.dir().join("audit.jsonl")),
        "{holding:?}"
    );
}

#[tokio::test]
async fn state_digests_written_before_they_were_keyed_or_labelled_verify_as_they_did() {
    let scenario = acknowledged_store(None).await;
    let url = scenario.store().to_string();
    let (_, state) = last_state(&url, "discrepancy_opened").await;
    assert!(
        state["shown"].as_str().unwrap().starts_with("sha256:"),
        "{state}"
    );

    // Rewrite the chain into what a store holds from before: bare hex SHA-256 of the shown
    // values, and of the acknowledgement's note, actor and last day alone.
    let legacy_ack = hex::encode(Sha256::digest(format!(
        "{}{}N",
        field("booked late"),
        field("ana")
    )));
    let mut prev = "0".repeat(64);
    let mut statements = Vec::new();
    let mut acked = 0;
    for (seq, at, actor, action, run_id, payload, _) in entries(&url).await {
        let mut json: serde_json::Value = serde_json::from_str(&payload).unwrap();
        if let Some(state) = json.get_mut("state") {
            let shown = state["shown"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:");
            state["shown"] = shown.into();
            if !state["ack"].is_null() {
                state["ack"] = legacy_ack.as_str().into();
                acked = seq;
            }
        }
        let payload = json.to_string();
        let hash = entry_hash(
            seq,
            &at,
            &actor,
            &action,
            run_id.map(recon::run_id::RunId),
            &payload,
            &prev,
        );
        statements.push(format!(
            "UPDATE audit_log SET payload = '{}', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {seq}",
            payload.replace('\'', "''")
        ));
        prev = hash;
    }
    statements.push(format!("UPDATE audit_head SET hash = '{prev}'"));
    exec(&url, &statements).await;
    let (_, state) = last_state(&url, "discrepancy_acknowledged").await;
    assert_eq!(state["ack"], legacy_ack.as_str());
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("audit chain intact: "), "{out}");

    // The discrepancy's own note edited is named as before.
    let last = entries(&url).await.last().unwrap().0;
    exec(
        &url,
        &["UPDATE discrepancies SET ack_note = 'approved' WHERE id = 1".into()],
    )
    .await;
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &format!(
                "discrepancy 1: its acknowledgement differs from the one audit entry {acked} (discrepancy_acknowledged) records"
            ),
            &format!(
                "audit chain BROKEN: 0 problem(s) in {last} entries checked; 1 row(s) unlike the chain"
            ),
        ])
    );
}

#[tokio::test]
async fn a_sealed_days_changed_rows_are_named_by_a_keyed_digest_not_their_detail() {
    let scenario = Scenario::new("S");
    let dir = scenario.dir().to_path_buf();
    let rows = "INSERT INTO entries VALUES (1, '4111111111111111', 100, '2026-11-19 09:00:00'), (2, '5555555555554444', 200, '2026-11-20 09:00:00')";
    let l = sqlite_db(&dir.join("l.db"), &[SCHEMA, rows]).await;
    let p = sqlite_db(&dir.join("p.db"), &[SCHEMA, rows]).await;
    let config = TestConfig::new()
        .store("S")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml();
    let scenario = scenario
        .env("L", &l)
        .env("P", &p)
        .env("RECON_MASK_KEY", &k1())
        .config(&config);
    for date in ["2026-11-19", "2026-11-20"] {
        let (out, _) = scenario.run(date, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let ledger = sqlx::SqlitePool::connect(&l).await.unwrap();
    sqlx::query("UPDATE entries SET amount_minor = 999 WHERE id = 1")
        .execute(&ledger)
        .await
        .unwrap();
    ledger.close().await;
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let url = scenario.store().to_string();
    let chain = entries(&url).await;
    let verified: Vec<serde_json::Value> = chain
        .iter()
        .filter(|r| r.3 == "seal_verified")
        .map(|r| serde_json::from_str(&r.5).unwrap())
        .filter(|p: &serde_json::Value| !p["changed_rows"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(verified.len(), 1, "{verified:?}");
    let changed = &verified[0]["changed_rows"].as_array().unwrap()[0];
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (id, detail_json): (i64, String) = sqlx::query_as(
        "SELECT id, detail_json FROM discrepancies WHERE kind = 'closed_period_modified'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    let detail: serde_json::Value = serde_json::from_str(&detail_json).unwrap();
    let detail = detail["detail"].as_str().unwrap();
    assert!(detail.contains("since the day was sealed"), "{detail}");
    assert_eq!(
        *changed,
        serde_json::json!({
            "id": id,
            "key": { "id": "1" },
            "key_digest": null,
            "message": "changed since the day was sealed",
            "detail_digest": format!("hmac-sha256:k1:{}", hmac_hex(HEX1, detail.as_bytes())),
        })
    );
    let (code, out) = verify(&scenario);
    assert_eq!(code, Some(0), "{out}");
}
