//! The audit trail against its own store: entries signed by a writer key the store's credentials
//! do not give, discrepancy and seal rows bound to their last entry, a head kept outside the
//! store. Each tampering a holder of the store's credentials can do is named; the untouched
//! store verifies.

use base64::Engine as _;
use recon::audit_key::WriterKey;
use recon::store::audit::signed_entry_hash;

use crate::common::*;

const KEY_ID: &str = "job-1";

/// The job's signing key (`RECON_AUDIT_SIGNING_KEY`), from a fixed seed.
fn signing_key() -> String {
    let seed = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    format!("{KEY_ID}:{seed}")
}

fn config() -> String {
    let public = WriterKey::parse(&signing_key()).unwrap().public_key();
    let mut text = TestConfig::new()
        .store("S")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml();
    text.push_str(&format!(
        "\n[audit.trusted_keys]\n{KEY_ID:?} = {public:?}\n"
    ));
    text
}

const SCHEMA: &str =
    "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP)";

/// A signed run of 2026-11-20 that finds id 2 missing from payments (discrepancy 1).
async fn signed_store() -> Scenario {
    signed_store_keyed(None).await
}

/// [`signed_store`], its values encrypted at rest under `data_key` when given.
async fn signed_store_keyed(data_key: Option<&str>) -> Scenario {
    let scenario = Scenario::new("S");
    let dir = scenario.dir().to_path_buf();
    let l = sqlite_db(
        &dir.join("l.db"),
        &[
            SCHEMA,
            "INSERT INTO entries VALUES (1, 100, '2026-11-20 09:00:00'), (2, 250, '2026-11-20 10:00:00')",
        ],
    )
    .await;
    let p = sqlite_db(
        &dir.join("p.db"),
        &[
            SCHEMA,
            "INSERT INTO entries VALUES (1, 100, '2026-11-20 09:00:00')",
        ],
    )
    .await;
    let scenario = scenario
        .env("L", &l)
        .env("P", &p)
        .env("RECON_AUDIT_SIGNING_KEY", &signing_key());
    let scenario = match data_key {
        Some(key) => scenario.env("RECON_DATA_KEY", key),
        None => scenario,
    }
    .config(&config());
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    scenario
}

fn verify(scenario: &Scenario, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec!["audit", "verify", "--config", "recon.toml"];
    args.extend_from_slice(extra);
    let out = scenario.recon(&args);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    (out.status.code(), stdout(&out))
}

/// Runs SQL against the SQLite store as its owner would: the append-only triggers (migration
/// 0016) dropped first, so only the chain's hashes and signatures stand in the way.
pub(crate) async fn exec(url: &str, statements: &[String]) {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let unguard = [
        "DROP TRIGGER IF EXISTS audit_log_no_update".to_string(),
        "DROP TRIGGER IF EXISTS audit_log_no_delete".to_string(),
    ];
    for sql in unguard.iter().chain(statements) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

pub(crate) type Row = (
    i64,
    String,
    String,
    String,
    Option<i64>,
    String,
    Option<String>,
);

pub(crate) async fn entries(url: &str) -> Vec<Row> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let rows = sqlx::query_as(
        "SELECT seq, at, actor, action, run_id, payload, key_id FROM audit_log ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows
}

pub(crate) fn lines(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The untouched signed store verifies; `[(seq, action)]` of its chain.
async fn intact(scenario: &Scenario) -> Vec<(i64, String)> {
    let (code, out) = verify(scenario, &[]);
    assert_eq!(code, Some(0), "{out}");
    let chain = entries(scenario.store()).await;
    let head = chain.last().unwrap().0;
    assert!(
        out.starts_with(&format!(
            "audit chain intact: {head} entries checked; head {head} "
        )) && out.ends_with(" signed by job-1\n"),
        "{out}"
    );
    chain.iter().map(|r| (r.0, r.3.clone())).collect()
}

#[tokio::test]
async fn a_consistent_rewrite_with_the_stores_credentials_breaks_the_signatures() {
    let scenario = signed_store().await;
    let actions = intact(&scenario).await;
    let opened = actions
        .iter()
        .find(|(_, a)| a == "discrepancy_opened")
        .unwrap()
        .0;
    let last = actions.last().unwrap().0;
    // Rewrite the opened entry's payload and recompute its hash and every later one, as the
    // chain's public formula allows: only the signatures are left to tell.
    let url = scenario.store().to_string();
    let chain = entries(&url).await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut prev: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT hash FROM audit_log WHERE seq = {}",
        opened - 1
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    let mut statements = Vec::new();
    for (seq, at, actor, action, run_id, payload, key_id) in
        chain.into_iter().filter(|r| r.0 >= opened)
    {
        let payload = match seq == opened {
            true => payload.replace("missing_in_right", "missing_in_left"),
            false => payload,
        };
        let hash = signed_entry_hash(
            seq,
            &at,
            &actor,
            &action,
            run_id.map(recon::run_id::RunId),
            &payload,
            &prev,
            key_id.as_deref(),
        );
        statements.push(format!(
            "UPDATE audit_log SET payload = '{}', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {seq}",
            payload.replace('\'', "''")
        ));
        prev = hash;
    }
    statements.push(format!("UPDATE audit_head SET hash = '{prev}'"));
    exec(&url, &statements).await;

    let (code, out) = verify(&scenario, &[]);
    assert_eq!(code, Some(1), "{out}");
    let mut expected: Vec<String> = (opened..=last)
        .map(|seq| {
            format!("entry {seq}: its signature does not verify under key 'job-1' (rewritten)")
        })
        .collect();
    expected.push(format!(
        "audit chain BROKEN: {} problem(s) in {last} entries checked",
        last - opened + 1
    ));
    assert_eq!(
        out,
        lines(&expected.iter().map(String::as_str).collect::<Vec<_>>())
    );
}

#[tokio::test]
async fn a_status_flip_an_edited_detail_and_an_edited_seal_are_each_named() {
    let scenario = signed_store().await;
    let actions = intact(&scenario).await;
    let opened = actions
        .iter()
        .find(|(_, a)| a == "discrepancy_opened")
        .unwrap()
        .0;
    let last = actions.last().unwrap().0;
    let url = scenario.store().to_string();

    exec(
        &url,
        &["UPDATE discrepancies SET status = 'acknowledged', ack_note = 'fine', ack_actor = 'mallory' WHERE id = 1".into()],
    )
    .await;
    let (code, out) = verify(&scenario, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &format!(
                "discrepancy 1: its status is acknowledged but audit entry {opened} (discrepancy_opened) says open"
            ),
            &format!(
                "discrepancy 1: its acknowledgement differs from the one audit entry {opened} (discrepancy_opened) records"
            ),
            &format!(
                "audit chain BROKEN: 0 problem(s) in {last} entries checked; 2 row(s) unlike the chain"
            ),
        ])
    );

    exec(
        &url,
        &[
            "UPDATE discrepancies SET status = 'open', ack_note = NULL, ack_actor = NULL WHERE id = 1".into(),
            "UPDATE discrepancies SET detail_json = replace(detail_json, '250', '25') WHERE id = 1".into(),
        ],
    )
    .await;
    let (code, out) = verify(&scenario, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &format!(
                "discrepancy 1: its shown values differ from those audit entry {opened} (discrepancy_opened) records"
            ),
            &format!(
                "audit chain BROKEN: 0 problem(s) in {last} entries checked; 1 row(s) unlike the chain"
            ),
        ])
    );
}

#[tokio::test]
async fn an_edited_seal_digest_is_named() {
    let scenario = Scenario::new("S");
    let dir = scenario.dir().to_path_buf();
    let rows = "INSERT INTO entries VALUES (1, 100, '2026-11-19 09:00:00'), (2, 200, '2026-11-20 09:00:00')";
    let l = sqlite_db(&dir.join("l.db"), &[SCHEMA, rows]).await;
    let p = sqlite_db(&dir.join("p.db"), &[SCHEMA, rows]).await;
    let scenario = scenario
        .env("L", &l)
        .env("P", &p)
        .env("RECON_AUDIT_SIGNING_KEY", &signing_key())
        .config(&config());
    for date in ["2026-11-19", "2026-11-20"] {
        let (out, _) = scenario.run(date, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let actions = intact(&scenario).await;
    let sealed = actions
        .iter()
        .find(|(_, a)| a == "day_sealed")
        .expect("a day_sealed entry")
        .0;
    let last = actions.last().unwrap().0;
    exec(
        scenario.store(),
        &["UPDATE seals SET digest = 'forged' WHERE partition_key = '2026-11-19'".into()],
    )
    .await;
    let (code, out) = verify(&scenario, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &format!(
                "seal entries 2026-11-19: its digest differs from audit entry {sealed} (day_sealed)"
            ),
            &format!(
                "audit chain BROKEN: 0 problem(s) in {last} entries checked; 1 row(s) unlike the chain"
            ),
        ])
    );
}

#[tokio::test]
async fn a_kept_head_detects_a_truncated_chain() {
    let scenario = signed_store().await;
    let (_, summary) = scenario.run("2026-11-20", &[]);
    let kept_seq = summary["audit_head"]["seq"].as_i64().unwrap();
    let kept_hash = summary["audit_head"]["hash"].as_str().unwrap().to_string();
    assert_eq!(summary["audit_head"]["key_id"], KEY_ID);
    let kept = format!("{kept_seq}:{kept_hash}");
    let (code, out) = verify(&scenario, &["--expect-head", &kept]);
    assert_eq!(code, Some(0), "{out}");

    // Cut the last two entries and move the store's own head back: consistent, but shorter.
    let url = scenario.store().to_string();
    let keep = kept_seq - 2;
    exec(
        &url,
        &[
            format!("DELETE FROM audit_log WHERE seq > {keep}"),
            format!("UPDATE audit_head SET seq = {keep}, hash = (SELECT hash FROM audit_log WHERE seq = {keep})"),
        ],
    )
    .await;
    let (code, _) = verify(&scenario, &[]);
    assert_eq!(code, Some(0), "without the kept head the cut is invisible");
    let (code, out) = verify(&scenario, &["--expect-head", &kept]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &format!(
                "entry {kept_seq}: missing: the chain ends at {keep}, before the head kept at {kept_seq} (truncated)"
            ),
            &format!("audit chain BROKEN: 1 problem(s) in {keep} entries checked"),
        ])
    );
}

#[tokio::test]
async fn entries_written_before_signatures_are_named_unsigned_not_broken() {
    // The first run has no key (as a store written before signatures), the second signs.
    let scenario = signed_store().await;
    let unsigned = scenario.recon(&["audit", "verify", "--config", "recon.toml"]);
    assert_eq!(unsigned.status.code(), Some(0));
    let url = scenario.store().to_string();
    let before = entries(&url).await.len() as i64;
    // Make the existing entries what a store before 0019 holds: no key id, no signature,
    // hashed without a key id.
    let chain = entries(&url).await;
    let mut prev = "0".repeat(64);
    let mut statements = Vec::new();
    for (seq, at, actor, action, run_id, payload, _) in chain {
        let hash = signed_entry_hash(
            seq,
            &at,
            &actor,
            &action,
            run_id.map(recon::run_id::RunId),
            &payload,
            &prev,
            None,
        );
        statements.push(format!(
            "UPDATE audit_log SET key_id = NULL, signature = NULL, prev_hash = '{prev}', hash = '{hash}' WHERE seq = {seq}"
        ));
        prev = hash;
    }
    statements.push(format!("UPDATE audit_head SET hash = '{prev}'"));
    exec(&url, &statements).await;
    let (code, out) = verify(&scenario, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.ends_with(" unsigned\n"), "{out}");

    let (run, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let (code, out) = verify(&scenario, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with(&format!(
            "entries 1-{before}: unsigned (written before signatures)\naudit chain intact: "
        )),
        "{out}"
    );
    assert!(out.ends_with(" signed by job-1\n"), "{out}");
}

#[tokio::test]
async fn values_encrypted_at_rest_are_bound_by_their_plaintext_not_their_ciphertext() {
    const DATA_KEY: &str = "k1:1111111111111111111111111111111111111111111111111111111111111111";
    let scenario = signed_store_keyed(Some(DATA_KEY)).await;
    let url = scenario.store().to_string();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let first: String = sqlx::query_scalar("SELECT detail_json FROM discrepancies WHERE id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(first.starts_with("aes256gcm:v1:k1:"), "{first}");

    // The same date again: the values are sealed afresh (a new nonce), yet nothing changed.
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let second: String = sqlx::query_scalar("SELECT detail_json FROM discrepancies WHERE id = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(second.starts_with("aes256gcm:v1:k1:"), "{second}");
    assert_ne!(first, second);
    let actions = intact(&scenario).await;
    let opened: Vec<i64> = actions
        .iter()
        .filter(|(_, a)| a == "discrepancy_opened")
        .map(|(seq, _)| *seq)
        .collect();
    assert_eq!(opened.len(), 1, "{actions:?}");
    assert!(
        !actions.iter().any(|(_, a)| a == "discrepancy_changed"),
        "{actions:?}"
    );
    let (opened, last) = (opened[0], actions.last().unwrap().0);

    // A status flipped with the ciphertext left as it is is still named.
    exec(
        &url,
        &["UPDATE discrepancies SET status = 'resolved' WHERE id = 1".into()],
    )
    .await;
    let flipped = format!(
        "discrepancy 1: its status is resolved but audit entry {opened} (discrepancy_opened) says open"
    );
    let (code, out) = verify(&scenario, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &flipped,
            &format!(
                "audit chain BROKEN: 0 problem(s) in {last} entries checked; 1 row(s) unlike the chain"
            ),
        ])
    );

    // Without the data key the values cannot be compared, and verify says so, not "tampered".
    let keyless = Scenario::in_dir(scenario.dir(), "S").store_at(&url);
    let (code, out) = verify(&keyless, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out,
        lines(&[
            &flipped,
            "1 discrepancies' values not compared: encrypted at rest and no data key configured",
            &format!(
                "audit chain BROKEN: 0 problem(s) in {last} entries checked; 1 row(s) unlike the chain"
            ),
        ])
    );
}
