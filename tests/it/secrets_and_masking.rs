//! No card data and no password leaves recon: every output is searched for planted values.

use crate::common::*;

const PASSWORD: &str = "PlantedPw42";
const PAN: &str = "4111111111111111";
const PAN_SPACED: &str = "5500 0000 0000 0004";
const IBAN: &str = "NL91ABNA0417164300";
const MASK_KEY: &str = "706c616e7465642d6d61736b2d6b65792d30313233343536373839616263646566";

/// A sensitive value as recon must show it, computed here from the HMAC definition:
/// `hmac-sha256:`, the key id and the first 16 bytes of HMAC-SHA256(key, value), in hex.
fn keyed_mask(value: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(MASK_KEY.as_bytes()).unwrap();
    mac.update(value.as_bytes());
    format!(
        "hmac-sha256:k1:{}",
        hex::encode(&mac.finalize().into_bytes()[..16])
    )
}

/// The unkeyed mask recon used to show, which a dictionary of candidates reverses.
fn unkeyed_mask(value: &str) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        &hex::encode(sha2::Sha256::digest(value.as_bytes()))[..12]
    )
}

fn assert_keyed_masks(all: &str, values: &[&str]) {
    for value in values {
        assert!(all.contains(&keyed_mask(value)), "{value}: {all}");
        assert!(!all.contains(&unkeyed_mask(value)), "{value}: {all}");
    }
    assert!(!all.contains(MASK_KEY), "the key leaked in:\n{all}");
}

fn config() -> String {
    TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 50)
        .set("max_attempts", 2)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .source("warehouse", "WAREHOUSE_URL")
        .set("connect_timeout_secs", 1)
        .integrity("cards", "ledger.cards", "payments.cards", "pan")
        .set("sensitive_columns", ["iban"])
        .integrity("warehouse_cards", "ledger.cards", "warehouse.cards", "pan")
        .to_toml()
}

/// Everything a run leaves: stdout, stderr, report files, the audit export, the store's text.
async fn everything_written(store_url: &str, dir: &std::path::Path) -> String {
    let schema = "CREATE TABLE cards (pan TEXT PRIMARY KEY, memo TEXT, iban TEXT)";
    let ledger = sqlite_db(
        &dir.join("l.db"),
        &[schema, &format!("INSERT INTO cards VALUES ('{PAN}', 'ok', '{IBAN}'), ('378282246310005', 'x', 'DE1')")],
    )
    .await;
    let payments = sqlite_db(
        &dir.join("p.db"),
        &[
            schema,
            &format!(
                "INSERT INTO cards VALUES ('378282246310005', 'card {PAN_SPACED} declined', 'DE2')"
            ),
        ],
    )
    .await;
    write(dir, "recon.toml", &config());
    let warehouse = format!("postgres://recon:{PASSWORD}@127.0.0.1:1/warehouse");
    let mask_key = format!("k1:{MASK_KEY}");
    let env = [
        ("STORE_URL", store_url),
        ("LEDGER_URL", ledger.as_str()),
        ("PAYMENTS_URL", payments.as_str()),
        ("WAREHOUSE_URL", warehouse.as_str()),
        ("RECON_MASK_KEY", mask_key.as_str()),
        ("RUST_LOG", "debug"),
    ];
    let mut all = String::new();
    for log_format in ["text", "json"] {
        let mut env = env.to_vec();
        env.push(("RECON_LOG_FORMAT", log_format));
        let run = recon(
            &[
                "run",
                "--config",
                "recon.toml",
                "--date",
                "2026-11-20",
                "--out",
                "out",
            ],
            &env,
            dir,
        );
        // The warehouse cannot be reached: its check fails, the others complete.
        assert!(
            matches!(run.status.code(), Some(2) | Some(3)),
            "{}",
            stderr(&run)
        );
        all.push_str(&stdout(&run));
        all.push_str(&stderr(&run));
    }
    for args in [
        vec!["config", "check", "--config", "recon.toml"],
        vec!["audit", "export", "--config", "recon.toml"],
        vec!["discrepancies", "list", "--config", "recon.toml", "--json"],
    ] {
        let out = recon(&args, &env, dir);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        all.push_str(&stdout(&out));
        all.push_str(&stderr(&out));
    }
    for file in ["out/summary.json", "out/discrepancies.csv"] {
        all.push_str(&std::fs::read_to_string(dir.join(file)).unwrap());
    }
    all
}

fn assert_nothing_leaks(all: &str) {
    for secret in [
        PASSWORD,
        PAN,
        "55000000",
        "0000 0000",
        IBAN,
        "378282246310005",
    ] {
        assert!(!all.contains(secret), "{secret:?} leaked in:\n{all}");
    }
    // What the analyst sees instead.
    assert!(all.contains("411111******1111"), "{all}");
    assert!(all.contains("card 550000******0004 declined"), "{all}");
    assert!(all.contains("378282*****0005"), "{all}");
    assert!(
        all.contains("postgres://recon:***@127.0.0.1:1/warehouse"),
        "{all}"
    );
    assert_keyed_masks(all, &["DE1"]);
}

#[tokio::test]
async fn nothing_leaks_with_a_sqlite_store() {
    let dir = temp_dir();
    let store = sqlite_url(dir.path().join("store.db"));
    let all = everything_written(&store, dir.path()).await;
    assert_nothing_leaks(&all);
    let dump = sqlx::SqlitePool::connect(&store).await.unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT key_json, detail_json, columns_json FROM discrepancies")
            .fetch_all(&dump)
            .await
            .unwrap();
    assert_nothing_leaks_in_store(&rows);
}

#[tokio::test]
async fn nothing_leaks_with_a_postgres_store_whose_url_has_a_password() {
    let Some(url) = fresh_postgres("secrets").await else {
        return;
    };
    // Trust authentication ignores the password, so the planted one is accepted.
    let store = url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{PASSWORD}@"),
        1,
    );
    assert!(store.contains(PASSWORD));
    let dir = temp_dir();
    let all = everything_written(&store, dir.path()).await;
    assert_nothing_leaks(&all);
    let dump = sqlx::PgPool::connect(&url).await.unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT key_json, detail_json, columns_json FROM discrepancies")
            .fetch_all(&dump)
            .await
            .unwrap();
    assert_nothing_leaks_in_store(&rows);
}

fn assert_nothing_leaks_in_store(rows: &[(String, String, String)]) {
    assert_eq!(rows.len(), 2, "{rows:?}");
    let text: String = rows.iter().map(|(a, b, c)| format!("{a}{b}{c}")).collect();
    for secret in [PAN, IBAN, "378282246310005", "0000 0000"] {
        assert!(!text.contains(secret), "{secret:?} stored in {text}");
    }
}

#[tokio::test]
async fn recon_diff_masks_card_numbers_in_keys_and_values() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id TEXT PRIMARY KEY, memo TEXT)";
    let l = sqlite_db(
        &dir.path().join("l.db"),
        &[
            schema,
            &format!("INSERT INTO t VALUES ('{PAN}', 'a'), ('k', 'x')"),
        ],
    )
    .await;
    let r = sqlite_db(
        &dir.path().join("r.db"),
        &[schema, &format!("INSERT INTO t VALUES ('k', 'pan {PAN}')")],
    )
    .await;
    let json = recon(
        &["diff", &l, "t", &r, "t", "--key", "id", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(
        stdout(&json),
        "{\"kind\":\"missing_in_right\",\"key\":{\"id\":\"411111******1111\"}}\n{\"kind\":\"changed\",\"key\":{\"id\":\"k\"},\"columns\":[\"memo\"],\"values\":[{\"column\":\"memo\",\"left\":\"x\",\"right\":\"pan 411111******1111\"}]}\n"
    );
    let text = recon(&["diff", &l, "t", &r, "t", "--key", "id"], &[], dir.path());
    assert_eq!(
        stdout(&text),
        "missing in right  id=411111******1111\nchanged           id=k  memo: x → pan 411111******1111\n"
    );
}

/// The same guarantees with the card data on real PostgreSQL and MariaDB sources: a run's
/// every output and the store show card numbers masked and sensitive columns hashed.
#[tokio::test]
async fn nothing_leaks_from_postgres_and_mariadb_sources() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("mask_sources").await,
        fresh_mysql("mask_sources").await,
    ) else {
        return;
    };
    pg_exec(
        &pg,
        &[
            "CREATE TABLE cards (pan text PRIMARY KEY, memo text, iban text)",
            &format!("INSERT INTO cards VALUES ('{PAN}', 'ok', '{IBAN}'), ('378282246310005', 'x', 'DE1')"),
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            "CREATE TABLE cards (pan varchar(19) PRIMARY KEY, memo varchar(100), iban varchar(34))",
            &format!(
                "INSERT INTO cards VALUES ('378282246310005', 'card {PAN_SPACED} declined', 'DE2')"
            ),
        ],
    )
    .await;
    let dir = temp_dir();
    write(
        dir.path(),
        "recon.toml",
        &TestConfig::new()
            .store("STORE_URL")
            .source("ledger", "LEDGER_URL")
            .source("payments", "PAYMENTS_URL")
            .integrity("cards", "ledger.cards", "payments.cards", "pan")
            .set("sensitive_columns", ["iban"])
            .to_toml(),
    );
    let store = sqlite_url(dir.path().join("store.db"));
    let mask_key = format!("k1:{MASK_KEY}");
    let env = [
        ("STORE_URL", store.as_str()),
        ("LEDGER_URL", pg.as_str()),
        ("PAYMENTS_URL", my.as_str()),
        ("RECON_MASK_KEY", mask_key.as_str()),
        ("RUST_LOG", "debug"),
    ];
    let run = recon(
        &[
            "run",
            "--config",
            "recon.toml",
            "--date",
            "2026-11-20",
            "--out",
            "out",
        ],
        &env,
        dir.path(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let mut all = format!("{}{}", stdout(&run), stderr(&run));
    for file in [
        "out/summary.json",
        "out/discrepancies.csv",
        "out/report.html",
    ] {
        all.push_str(&std::fs::read_to_string(dir.path().join(file)).unwrap());
    }
    let export = recon(
        &["audit", "export", "--config", "recon.toml"],
        &env,
        dir.path(),
    );
    all.push_str(&stdout(&export));
    for secret in [PAN, "55000000", "0000 0000", IBAN, "378282246310005", "DE2"] {
        assert!(!all.contains(secret), "{secret:?} leaked in:\n{all}");
    }
    assert!(all.contains("411111******1111"), "{all}");
    assert!(all.contains("card 550000******0004 declined"), "{all}");
    assert_keyed_masks(&all, &["DE1", "DE2"]);
    let dump = sqlx::SqlitePool::connect(&store).await.unwrap();
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT key_json, detail_json, columns_json FROM discrepancies")
            .fetch_all(&dump)
            .await
            .unwrap();
    assert_nothing_leaks_in_store(&rows);
}
