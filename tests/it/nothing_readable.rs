//! Issue 25's "Done when": a settlement check and an integrity check whose ids, values, memos and
//! quarantined lines carry card numbers (together, in groups of spaces and of dashes), whose
//! PostgreSQL side is reached with a `?password=` URL and which has a sensitive column, run by
//! the real binary at trace level with JSON logs; then every byte of stdout, stderr, the out
//! folder, the store (each table's every column, read as text) and `audit export` is searched:
//! no card number in any form, no password, no raw sensitive value, no mask key. The masked
//! forms are required where they belong, so the search cannot pass on an empty output.

use std::path::Path;

use crate::common::*;

const PASSWORD: &str = "PlantedPw7Q";
const MASK_KEY: &str = "6e6f7468696e672d7265616461626c652d6d61736b2d6b65792d303132333435";
/// Luhn-valid test numbers: Visa, Mastercard, Amex, Discover.
const PANS: [&str; 4] = [
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
];
/// The raw values of the sensitive column `iban`.
const IBANS: [&str; 4] = [
    "NL91ABNA0417164300",
    "DE89370400440532013000",
    "DE75512108001245126199",
    "FR1420041010050500013M02606",
];

/// A card number in groups: 4-4-4-4, or 4-6-5 for a 15-digit Amex, joined by `sep`.
fn grouped(pan: &str, sep: &str) -> String {
    let cuts: &[usize] = match pan.len() {
        15 => &[4, 10],
        _ => &[4, 8, 12],
    };
    let mut out = String::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&pan.len()]) {
        if from > 0 {
            out.push_str(sep);
        }
        out.push_str(&pan[from..cut]);
        from = cut;
    }
    out
}

/// Every written form of every planted card number, and the digits masking hides, as a run.
fn card_forms() -> Vec<String> {
    let mut forms = Vec::new();
    for pan in PANS {
        forms.push(pan.to_string());
        forms.push(grouped(pan, " "));
        forms.push(grouped(pan, "-"));
        forms.push(pan[..pan.len() - 4].to_string());
    }
    forms
}

/// A sensitive value as the key `k1` shows it: `hmac-sha256:k1:` and 16 bytes of the HMAC.
fn keyed_mask(value: &str) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(MASK_KEY.as_bytes()).unwrap();
    mac.update(value.as_bytes());
    format!(
        "hmac-sha256:k1:{}",
        hex::encode(&mac.finalize().into_bytes()[..16])
    )
}

fn config() -> String {
    stripe_cards(TestConfig::new())
        .set("timing_window_days", 2)
        .source("payments", "PAYMENTS_URL")
        .integrity("accounts", "ledger.accounts", "payments.accounts", "pan")
        .set("sensitive_columns", ["iban"])
        .to_toml()
}

const ACCOUNTS: &str = "CREATE TABLE accounts (pan TEXT PRIMARY KEY, memo TEXT, iban TEXT)";

/// The ledger (SQLite): payments for the settlement check, accounts for the integrity check.
async fn ledger(dir: &Path) -> String {
    let [visa, mastercard, amex, discover] = PANS;
    sqlite_db(
        &dir.join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, \
             currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, \
             fee_minor INTEGER)",
            &format!(
                "INSERT INTO payments VALUES \
                 ('{visa}', 1001, 'USD', 'settled', '2026-11-20 09:00:00', 59), \
                 ('{discover}', 4000, 'USD', 'settled', '2026-11-20 08:00:00', 100)"
            ),
            ACCOUNTS,
            &format!(
                "INSERT INTO accounts VALUES \
                 ('{visa}', 'refund to {}', '{}'), \
                 ('{amex}', 'ok', '{}'), \
                 ('ACC-1', 'card {} on file', '{}')",
                grouped(mastercard, " "),
                IBANS[0],
                IBANS[1],
                grouped(discover, "-"),
                IBANS[0],
            ),
        ],
    )
    .await
}

/// The integrity check's other side, on PostgreSQL.
async fn payments(url: &str) {
    let [visa, mastercard, amex, discover] = PANS;
    pg_exec(
        url,
        &[
            ACCOUNTS,
            &format!(
                "INSERT INTO accounts VALUES \
                 ('{visa}', 'refund to {}', '{}'), \
                 ('{amex}', 'ok', '{}'), \
                 ('{discover}', 'paid with {mastercard}', '{}')",
                grouped(mastercard, "-"),
                IBANS[0],
                IBANS[2],
                IBANS[3],
            ),
        ],
    )
    .await;
}

/// Day 1's Stripe report: Visa settled a cent short (its memo names it in groups), Mastercard
/// unknown to the ledger (its id in groups), and a malformed line carrying Amex and Discover.
fn report() -> String {
    let [visa, mastercard, amex, discover] = PANS;
    [
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,description".to_string(),
        format!("txn_a,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,{visa},card {} paid", grouped(visa, " ")),
        format!("txn_b,2026-11-20 11:00:00,usd,20.00,0.00,20.00,charge,{},memo", grouped(mastercard, " ")),
        format!("txn_e,2026-11-20 13:00:00,usd,abc,0.00,1.00,charge,{},card {discover}", grouped(amex, "-")),
        String::new(),
    ]
    .join("\n")
}

/// Every file under `dir` but the inputs (the ledger and the reports), with its bytes.
fn files_left_behind(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if path.is_dir() {
                if name != "reports" {
                    pending.push(path);
                }
            } else if !name.starts_with("ledger.db") {
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files
}

/// Every cell of every table of a SQLite store, as `table.column: bytes`.
async fn sqlite_store_dump(url: &str) -> String {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut dump = String::new();
    for table in &tables {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
            .bind(table)
            .fetch_all(&pool)
            .await
            .unwrap();
        for column in &columns {
            let sql = format!("SELECT CAST(\"{column}\" AS BLOB) FROM \"{table}\"");
            let cells: Vec<Option<Vec<u8>>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .unwrap();
            for cell in cells.into_iter().flatten() {
                dump.push_str(&format!(
                    "{table}.{column}: {}\n",
                    String::from_utf8_lossy(&cell)
                ));
            }
        }
    }
    pool.close().await;
    dump
}

/// Every cell of every table of a PostgreSQL store, as `table.column: text` (bytes as escaped
/// text, so printable bytes stay readable).
async fn postgres_store_dump(url: &str) -> String {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut dump = String::new();
    for (table, column, data_type) in &columns {
        let cell = match data_type.as_str() {
            "bytea" => format!("encode(\"{column}\", 'escape')"),
            _ => format!("\"{column}\"::text"),
        };
        let sql = format!("SELECT {cell} FROM \"{table}\"");
        let cells: Vec<Option<String>> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .unwrap();
        for cell in cells.into_iter().flatten() {
            dump.push_str(&format!("{table}.{column}: {cell}\n"));
        }
    }
    pool.close().await;
    dump
}

/// Runs the day and the reading commands in `dir` with the store at `store`; returns what
/// they printed (stdout and stderr) and what the run left (every file but the inputs).
async fn run_everything(test: &str, dir: &Path, store: &str) -> (String, Vec<(String, Vec<u8>)>) {
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(dir, "reports/stripe-2026-11-20.csv", &report());
    let payments_db = fresh_postgres(&format!("{test}_payments"))
        .await
        .expect("PostgreSQL runs for this test");
    payments(&payments_db).await;
    let payments_url = format!("{payments_db}?password={PASSWORD}");
    let mask_key = format!("k1:{MASK_KEY}");
    let scenario = Scenario::in_dir(dir, "STORE_URL")
        .store_at(store)
        .config(&config())
        .env("LEDGER_URL", &ledger(dir).await)
        .env("PAYMENTS_URL", &payments_url)
        .env("RECON_MASK_KEY", &mask_key)
        .env("RUST_LOG", "trace")
        .env("RECON_LOG_FORMAT", "json");
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut printed = format!("{}{}", stdout(&out), stderr(&out));
    // The verbose levels really were on (nothing in this run logs below debug), and every line
    // of stderr is JSON.
    assert!(printed.contains(r#""level":"DEBUG","target":"sqlx::query""#));
    for line in stderr(&out).lines() {
        assert!(
            serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "{line}"
        );
    }
    let mut found = kinds_and_keys(&summary["discrepancies"]);
    found.sort();
    let key = |pan: &str| format!(r#"{{"pan":"{pan}"}}"#);
    assert_eq!(
        found,
        [
            (
                "amount_mismatch",
                r#"{"id":"411111******1111"}"#.to_string()
            ),
            ("changed", key("378282*****0005")),
            ("changed", key("411111******1111")),
            (
                "missing_in_ledger",
                r#"{"id":"555555******4444"}"#.to_string()
            ),
            ("missing_in_left", key("601111******1117")),
            ("missing_in_right", r#"{"pan":"ACC-1"}"#.to_string()),
            (
                "quarantined_row",
                r#"{"file":"reports/stripe-2026-11-20.csv","line":"4"}"#.to_string()
            ),
            ("timing", r#"{"id":"601111******1117"}"#.to_string()),
        ]
        .map(|(kind, key)| (kind.to_string(), key))
    );
    for args in [
        vec!["audit", "export", "--config", "recon.toml"],
        vec!["audit", "verify", "--config", "recon.toml"],
        vec!["discrepancies", "list", "--config", "recon.toml", "--json"],
        vec!["discrepancies", "list", "--config", "recon.toml"],
        vec!["config", "check", "--config", "recon.toml"],
    ] {
        let out = scenario.recon(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        if args[..2] == ["audit", "export"] {
            // Findings whose key masking hid are named by their keyed digest under key k1.
            assert!(stdout(&out).contains(r#"\"key_digest\":\"hmac-sha256:k1:"#));
            assert!(stdout(&out).contains("411111******1111"));
        }
        if args[0] == "config" {
            assert!(stdout(&out).contains("?password=***"), "{}", stdout(&out));
        }
        printed.push_str(&stdout(&out));
        printed.push_str(&stderr(&out));
    }
    (printed, files_left_behind(dir))
}

/// Fails naming the first planted secret found in `text`, said to be `what`.
fn assert_nothing_readable(what: &str, text: &str) {
    let secrets = card_forms()
        .into_iter()
        .chain(IBANS.map(String::from))
        .chain([PASSWORD.to_string(), MASK_KEY.to_string()]);
    for secret in secrets {
        assert!(!text.contains(&secret), "{secret:?} is readable in {what}");
    }
}

fn assert_masked_forms_are_there(printed: &str, files: &[(String, Vec<u8>)]) {
    let file = |name: &str| {
        let (_, bytes) = files
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} was not written"));
        String::from_utf8_lossy(bytes).into_owned()
    };
    let csv = file("out/discrepancies.csv");
    assert!(csv.contains(&keyed_mask(IBANS[1])), "{csv}");
    assert!(csv.contains(&keyed_mask(IBANS[2])), "{csv}");
    assert!(csv.contains("refund to 555555******4444"), "{csv}");
    let quarantine = file("out/quarantine.csv");
    assert!(
        quarantine.contains("378282*****0005,card 601111******1117"),
        "{quarantine}"
    );
    let summary = file("out/summary.json");
    assert!(summary.contains("card 411111******1111 paid") || summary.contains("411111******1111"));
    assert!(printed.contains("411111******1111"));
}

#[tokio::test]
async fn nothing_readable_is_left_with_a_sqlite_store() {
    let dir = temp_dir();
    let store = sqlite_url(dir.path().join("store.db"));
    let (printed, files) = run_everything("nothing_readable_sqlite", dir.path(), &store).await;
    assert_nothing_readable("stdout and stderr", &printed);
    for (name, bytes) in &files {
        assert_nothing_readable(name, &String::from_utf8_lossy(bytes));
    }
    assert_masked_forms_are_there(&printed, &files);
    let dump = sqlite_store_dump(&store).await;
    assert!(dump.contains("audit_log.payload: "), "{dump}");
    assert!(dump.contains(&keyed_mask(IBANS[1])), "{dump}");
    assert!(dump.contains("quarantined_row"), "{dump}");
    assert_nothing_readable("the store", &dump);
}

#[tokio::test]
async fn nothing_readable_is_left_with_a_postgres_store_whose_url_has_a_password() {
    let Some(store) = fresh_postgres("nothing_readable_store").await else {
        return;
    };
    // Trust authentication takes any password, so the planted one is accepted.
    let dir = temp_dir();
    let store_url = format!("{store}?password={PASSWORD}");
    let (printed, files) = run_everything("nothing_readable_pg", dir.path(), &store_url).await;
    assert_nothing_readable("stdout and stderr", &printed);
    for (name, bytes) in &files {
        assert_nothing_readable(name, &String::from_utf8_lossy(bytes));
    }
    assert_masked_forms_are_there(&printed, &files);
    let dump = postgres_store_dump(&store).await;
    assert!(dump.contains("audit_log.payload: "), "{dump}");
    assert!(dump.contains(&keyed_mask(IBANS[1])), "{dump}");
    assert_nothing_readable("the store", &dump);
}
