//! Encryption at rest: a kept download and the store's discrepancy values are AES-256-GCM
//! ciphertext on disk under the data key's id, read back with the key, refused in one line
//! without it, with a wrong one or when moved, and carried through a key rotation by
//! `recon keys rewrap`.

use std::path::Path;

use crate::common::*;

/// A Stripe report: one charge the ledger has, and one line whose gross is no amount
/// (quarantined, its raw text kept in the store).
const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
txn_bad,2026-11-20 11:00:00,usd,ten dollars,0.59,9.41,charge,ch_2,
";

const K1: &str = "k1:1111111111111111111111111111111111111111111111111111111111111111";
/// Key id k1 with other bytes: what a mistyped secret looks like.
const K1_WRONG: &str = "k1:2222222222222222222222222222222222222222222222222222222222222222";
/// 32 bytes in base64.
const K2: &str = "k2:MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=";

const DOWNLOAD: &str = "out/downloads/2026-11-20-stripe-stripe-2026-11-20.csv";

/// What the run must never leave readable: the report's lines and the rows' values.
const PLAINTEXT: &[&str] = &["txn_1", "txn_bad", "ten dollars", "Jane Doe", "Rob Roe"];

/// A scenario with integrity check `t` (two rows whose memos differ) and settlement check
/// `stripe` fetching [`REPORT`] `downloads` times.
async fn scenario(downloads: usize) -> (Scenario, HttpServer) {
    let server = HttpServer::sequence(vec![Response::csv(REPORT); downloads]);
    let scenario = Scenario::new("S");
    let dir = scenario.dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, memo TEXT)";
    let left = sqlite_db(
        &dir.join("l.db"),
        &[
            schema,
            "INSERT INTO t VALUES (1, 'Jane Doe, limit 5000'), (2, 'Rob Roe, limit 900')",
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
        ],
    )
    .await;
    let right = sqlite_db(
        &dir.join("r.db"),
        &[
            schema,
            "INSERT INTO t VALUES (1, 'Jane Doe, limit 7000'), (2, 'Rob Roe, limit 100')",
        ],
    )
    .await;
    let config = TestConfig::new()
        .store("S")
        .source("ledger", "L")
        .source("payments", "R")
        .integrity("t", "ledger.t", "payments.t", "id")
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
    let scenario = scenario.env("L", &left).env("R", &right).config(&config);
    (scenario, server)
}

/// The scenario's environment with the data keys `current` and `previous` (none when `None`).
fn with_keys(scenario: &Scenario, current: Option<&str>, previous: Option<&str>) -> Scenario {
    let mut keyed = Scenario::in_dir(scenario.dir(), "S")
        .store_at(scenario.store())
        .env("L", scenario.var("L"))
        .env("R", scenario.var("R"));
    if let Some(key) = current {
        keyed = keyed.env("RECON_DATA_KEY", key);
    }
    if let Some(key) = previous {
        keyed = keyed.env("RECON_DATA_KEY_PREVIOUS", key);
    }
    keyed
}

/// The stored `detail_json` of every discrepancy, in id order.
async fn stored_details(store: &str) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(store).await.unwrap();
    let details = sqlx::query_scalar("SELECT detail_json FROM discrepancies ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    details
}

/// The key id in a kept file's header, asserting it is recon's encrypted format.
fn file_key_id(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"RCNAES1\n", "{}", path.display());
    let len = usize::from(bytes[8]);
    String::from_utf8(bytes[9..9 + len].to_vec()).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every byte of the store's files (the database and its write-ahead log).
fn store_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["store.db", "store.db-wal"] {
        if let Ok(more) = std::fs::read(dir.join(name)) {
            bytes.extend(more);
        }
    }
    bytes
}

/// `discrepancies list --json`: each line's check, kind and values (or detail).
fn listed(scenario: &Scenario) -> Vec<String> {
    let out = scenario.recon(&["discrepancies", "list", "--config", "recon.toml", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|line| {
            let d: serde_json::Value = serde_json::from_str(line).unwrap();
            format!(
                "{} {} {} {}",
                d["check"], d["kind"], d["values"], d["detail"]
            )
        })
        .collect()
}

const LISTED: [&str; 3] = [
    r#""t" "changed" [{"column":"memo","left":"Jane Doe, limit 5000","right":"Jane Doe, limit 7000"}] null"#,
    r#""t" "changed" [{"column":"memo","left":"Rob Roe, limit 900","right":"Rob Roe, limit 100"}] null"#,
    r#""stripe" "quarantined_row" [] "bad number in `gross`: `ten dollars` is not a decimal number — row: txn_bad,2026-11-20 11:00:00,usd,ten dollars,0.59,9.41,charge,ch_2,""#,
];

#[tokio::test]
async fn a_kept_download_and_stored_values_are_ciphertext_read_only_with_their_key_in_place() {
    let (base, _server) = scenario(1).await;
    let scenario = with_keys(&base, Some(K1), None);
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        summary["at_rest"],
        "data at rest is encrypted (AES-256-GCM) under data key k1"
    );
    assert!(
        stdout(&out)
            .contains("At rest: data at rest is encrypted (AES-256-GCM) under data key k1\n"),
        "{}",
        stdout(&out)
    );

    // On disk: the download is recon's encrypted format under k1, nothing of the report in it.
    let download = scenario.dir().join(DOWNLOAD);
    assert_eq!(file_key_id(&download), "k1");
    let bytes = std::fs::read(&download).unwrap();
    for text in PLAINTEXT
        .iter()
        .chain(&["ch_1", "usd", "balance_transaction_id"])
    {
        assert!(!contains(&bytes, text), "{text} in the download");
    }
    // The store: every value sealed under k1; no value readable anywhere in its files.
    let details = stored_details(scenario.store()).await;
    assert_eq!(details.len(), 3);
    for detail in &details {
        assert!(detail.starts_with("aes256gcm:v1:k1:"), "{detail}");
    }
    let bytes = store_bytes(scenario.dir());
    for text in PLAINTEXT {
        assert!(!contains(&bytes, text), "{text} in the store");
    }

    // With the key: read back as they were found.
    assert_eq!(listed(&scenario), LISTED);

    // Without a key, with the wrong key, with another key: one line saying so, exit 2.
    let refused = |s: &Scenario| {
        let out = s.recon(&["discrepancies", "list", "--config", "recon.toml"]);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        stderr(&out)
    };
    assert_eq!(
        refused(&with_keys(&base, None, None)),
        "recon: discrepancy 1's values are encrypted at rest under data key \"k1\" and no data key is configured (set RECON_DATA_KEY)\n"
    );
    assert_eq!(
        refused(&with_keys(&base, Some(K1_WRONG), None)),
        "recon: discrepancy 1's values cannot be read: its data key does not open under data key \"k1\": the key in the environment is not the one it was written under, or the data was altered\n"
    );
    assert_eq!(
        refused(&with_keys(&base, Some(K2), None)),
        "recon: discrepancy 1's values cannot be read: it is encrypted under data key \"k1\", which neither RECON_DATA_KEY (k2) nor RECON_DATA_KEY_PREVIOUS (unset) holds; set the key it was written under\n"
    );

    // Two rows' values swapped: neither decrypts where it now is.
    let pool = sqlx::SqlitePool::connect(scenario.store()).await.unwrap();
    sqlx::query("UPDATE discrepancies SET detail_json = CASE id WHEN 1 THEN $2 ELSE $1 END WHERE id IN (1, 2)")
        .bind(&details[0])
        .bind(&details[1])
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_eq!(
        refused(&scenario),
        "recon: discrepancy 1's values cannot be read: it does not decrypt where it is: it was moved from another row or altered\n"
    );

    // A download renamed to stand for another day does not decrypt either (read by a rewrap
    // after a rotation; the values, put back in place, move first).
    let pool = sqlx::SqlitePool::connect(scenario.store()).await.unwrap();
    sqlx::query("UPDATE discrepancies SET detail_json = CASE id WHEN 1 THEN $1 ELSE $2 END WHERE id IN (1, 2)")
        .bind(&details[0])
        .bind(&details[1])
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let renamed = scenario
        .dir()
        .join("out/downloads/2026-11-21-stripe-stripe-2026-11-21.csv");
    std::fs::rename(&download, &renamed).unwrap();
    let out = with_keys(&base, Some(K2), Some(K1)).recon(&[
        "keys",
        "rewrap",
        "--config",
        "recon.toml",
        "--out",
        "out",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let error = stderr(&out);
    assert!(
        error.ends_with("2026-11-21-stripe-stripe-2026-11-21.csv: chunk 0 does not decrypt: the file was renamed, cut short or altered\n"),
        "{error}"
    );
    assert_eq!(error.lines().count(), 1, "{error}");
}

#[tokio::test]
async fn a_rotation_keeps_old_data_readable_and_rewrap_moves_it_under_the_new_key() {
    let (base, _server) = scenario(2).await;
    let (out, _) = with_keys(&base, Some(K1), None).run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // Rotated: k2 is current, k1 kept for reading. What k1 sealed still reads.
    let rotated = with_keys(&base, Some(K2), Some(K1));
    assert_eq!(listed(&rotated), LISTED);
    let check = rotated.recon(&["config", "check", "--config", "recon.toml"]);
    assert!(
        stdout(&check).contains(
            "# data at rest is encrypted (AES-256-GCM) under data key k2; key k1 is kept for reading only\n"
        ),
        "{}",
        stdout(&check)
    );

    // Rewrap moves every item under k2, then nothing: it is idempotent.
    let rewrap = |s: &Scenario| {
        let out = s.recon(&["keys", "rewrap", "--config", "recon.toml", "--out", "out"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(
        rewrap(&rotated),
        "re-encrypted under data key k2: 3 discrepancy value(s), 0 bank entry(ies), 1 kept download(s)\n"
    );
    assert_eq!(
        rewrap(&rotated),
        "re-encrypted under data key k2: 0 discrepancy value(s), 0 bank entry(ies), 0 kept download(s)\n"
    );
    for detail in stored_details(base.store()).await {
        assert!(detail.starts_with("aes256gcm:v1:k2:"), "{detail}");
    }
    assert_eq!(file_key_id(&base.dir().join(DOWNLOAD)), "k2");

    // k1 dropped: everything reads under k2 alone, and a new run keeps its data under k2.
    let k2_only = with_keys(&base, Some(K2), None);
    assert_eq!(listed(&k2_only), LISTED);
    let (out, _) = k2_only.run("2026-11-21", &[]);
    assert!(matches!(out.status.code(), Some(1 | 3)), "{}", stderr(&out));
    assert_eq!(
        file_key_id(
            &base
                .dir()
                .join("out/downloads/2026-11-21-stripe-stripe-2026-11-21.csv")
        ),
        "k2"
    );
    for detail in stored_details(base.store()).await {
        assert!(detail.starts_with("aes256gcm:v1:k2:"), "{detail}");
    }
    // The run's trail records the rewrap.
    let pool = sqlx::SqlitePool::connect(base.store()).await.unwrap();
    let rewrapped: Vec<String> =
        sqlx::query_scalar("SELECT payload FROM audit_log WHERE action = 'data_rewrapped'")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(rewrapped, [r#"{"key_id":"k2","discrepancies":[1,2,3]}"#]);
}

#[tokio::test]
async fn without_a_data_key_the_summary_the_log_and_config_check_say_nothing_is_encrypted() {
    let (base, _server) = scenario(1).await;
    let plain = with_keys(&base, None, None);
    let (out, summary) = plain.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let line = "data at rest is not encrypted (set RECON_DATA_KEY)";
    assert_eq!(summary["at_rest"], line);
    assert!(stdout(&out).contains(&format!("At rest: {line}\n")));
    assert!(stderr(&out).contains(line), "{}", stderr(&out));
    let check = plain.recon(&["config", "check", "--config", "recon.toml"]);
    assert!(stdout(&check).contains(&format!("# {line}\n")));
    // Kept in clear, as the line says; a rewrap under a key then encrypts it all.
    assert!(contains(
        &std::fs::read(base.dir().join(DOWNLOAD)).unwrap(),
        "txn_1"
    ));
    let out = with_keys(&base, Some(K1), None).recon(&[
        "keys",
        "rewrap",
        "--config",
        "recon.toml",
        "--out",
        "out",
    ]);
    assert_eq!(
        stdout(&out),
        "re-encrypted under data key k1: 3 discrepancy value(s), 0 bank entry(ies), 1 kept download(s)\n",
        "{}",
        stderr(&out)
    );
    assert_eq!(file_key_id(&base.dir().join(DOWNLOAD)), "k1");
    assert_eq!(listed(&with_keys(&base, Some(K1), None)), LISTED);
}

/// The same on a PostgreSQL store: values sealed under k1, read back, rotated and rewrapped.
#[tokio::test]
async fn on_a_postgres_store_values_are_sealed_read_back_and_rewrapped() {
    let Some(store) = fresh_postgres("at_rest").await else {
        return;
    };
    let (base, _server) = scenario(1).await;
    let base = base.store_at(&store);
    let k1 = with_keys(&base, Some(K1), None);
    let (out, _) = k1.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let details = |prefix: &'static str| {
        let store = store.clone();
        async move {
            let pool = sqlx::PgPool::connect(&store).await.unwrap();
            let details: Vec<String> =
                sqlx::query_scalar("SELECT detail_json FROM discrepancies ORDER BY id")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            pool.close().await;
            assert_eq!(details.len(), 3);
            for detail in details {
                assert!(detail.starts_with(prefix), "{detail}");
                assert!(!detail.contains("Jane") && !detail.contains("txn_bad"));
            }
        }
    };
    details("aes256gcm:v1:k1:").await;
    assert_eq!(listed(&k1), LISTED);
    let rotated = with_keys(&base, Some(K2), Some(K1));
    let out = rotated.recon(&["keys", "rewrap", "--config", "recon.toml", "--out", "out"]);
    assert_eq!(
        stdout(&out),
        "re-encrypted under data key k2: 3 discrepancy value(s), 0 bank entry(ies), 1 kept download(s)\n",
        "{}",
        stderr(&out)
    );
    details("aes256gcm:v1:k2:").await;
    assert_eq!(listed(&with_keys(&base, Some(K2), None)), LISTED);
}
