//! The audit trail on a SQLite store and a real PostgreSQL store: every run, result,
//! discrepancy and acknowledgement chained; each of the four ways of tampering is named.

use std::path::Path;

use crate::common::*;
use recon::store::audit::entry_hash;

fn config() -> String {
    TestConfig::new()
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .to_toml()
}

/// A store holding five entries: run_started, check_result, discrepancy_opened, run_finished,
/// discrepancy_acknowledged. Returns the environment that points recon at it.
async fn store_with_history(dir: &Path, store_url: &str) -> Vec<(&'static str, String)> {
    let schema = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    let ledger = sqlite_db(
        &dir.join("l.db"),
        &[schema, "INSERT INTO entries VALUES (1, 100), (2, 200)"],
    )
    .await;
    let payments = sqlite_db(
        &dir.join("p.db"),
        &[schema, "INSERT INTO entries VALUES (1, 100)"],
    )
    .await;
    write(dir, "recon.toml", &config());
    let env = vec![
        ("STORE_URL", store_url.to_string()),
        ("LEDGER_URL", ledger),
        ("PAYMENTS_URL", payments),
    ];
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
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
        &env_refs,
        dir,
    );
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let ack = recon(
        &[
            "discrepancies",
            "ack",
            "--reason",
            "explained",
            "1",
            "--config",
            "recon.toml",
            "--note",
            "booked late; fixed in the next close",
            "--actor",
            "ana",
        ],
        &env_refs,
        dir,
    );
    assert_eq!(ack.status.code(), Some(0), "{}", stderr(&ack));
    // On PostgreSQL the actor is the session's role (the URL's user), `--actor` a name beside it.
    let by = ana_on(store_url);
    assert_eq!(
        stdout(&ack),
        format!("discrepancy 1 (entries missing_in_right id=2) acknowledged (explained) by {by}\n")
    );
    env
}

fn verify(dir: &Path, env: &[(&'static str, String)]) -> (Option<i32>, String) {
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = recon(
        &["audit", "verify", "--config", "recon.toml"],
        &env_refs,
        dir,
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    (out.status.code(), stdout(&out))
}

/// Runs tampering SQL against the store, as an attacker with the owner's rights would: the
/// append-only triggers (migration 0016) stop every other role, so the owner drops or disables
/// them first; the chain still has to catch what follows.
async fn tamper(store_url: &str, statements: &[String]) {
    if store_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(store_url).await.unwrap();
        let unguard = [
            "DROP TRIGGER audit_log_no_update".to_string(),
            "DROP TRIGGER audit_log_no_delete".to_string(),
        ];
        for sql in unguard.iter().chain(statements) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(store_url).await.unwrap();
        let unguard = ["ALTER TABLE audit_log DISABLE TRIGGER USER".to_string()];
        for sql in unguard.iter().chain(statements) {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&pool)
                .await
                .unwrap();
        }
        pool.close().await;
    }
}

async fn hash_of(store_url: &str, seq: i64) -> String {
    let sql = format!("SELECT hash FROM audit_log WHERE seq = {seq}");
    if store_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(store_url).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(store_url).await.unwrap();
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .unwrap()
    }
}

enum Tampering {
    Edit,
    Delete,
    Insert,
    Reorder,
}

async fn tampered(store_url: &str, how: Tampering) -> (Option<i32>, String) {
    let dir = temp_dir();
    let env = store_with_history(dir.path(), store_url).await;
    let (code, out) = verify(dir.path(), &env);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.starts_with("audit chain intact: 5 entries checked; head 5 "),
        "{out}"
    );

    let statements: Vec<String> = match how {
        Tampering::Edit => {
            vec!["UPDATE audit_log SET payload = replace(payload, '\"id\":\"2\"', '\"id\":\"7\"') WHERE seq = 3".into()]
        }
        Tampering::Delete => vec!["DELETE FROM audit_log WHERE seq = 3".into()],
        Tampering::Insert => {
            // A forged entry with a correctly computed hash, slipped in after entry 2.
            let prev = hash_of(store_url, 2).await;
            let at = "2026-11-21T00:00:00.000000Z";
            let payload = r#"{"id":1,"note":"nothing to see"}"#;
            let hash = entry_hash(
                3,
                at,
                "mallory",
                "discrepancy_acknowledged",
                None,
                payload,
                &prev,
            );
            vec![
                "UPDATE audit_log SET seq = -seq WHERE seq >= 3".into(),
                "UPDATE audit_log SET seq = 1 - seq WHERE seq < 0".into(),
                format!(
                    "INSERT INTO audit_log (seq, at, actor, action, run_id, payload, prev_hash, hash)
                     VALUES (3, '{at}', 'mallory', 'discrepancy_acknowledged', NULL, '{payload}', '{prev}', '{hash}')"
                ),
            ]
        }
        Tampering::Reorder => vec![
            "UPDATE audit_log SET seq = -1 WHERE seq = 2".into(),
            "UPDATE audit_log SET seq = 2 WHERE seq = 3".into(),
            "UPDATE audit_log SET seq = 3 WHERE seq = -1".into(),
        ],
    };
    tamper(store_url, &statements).await;
    verify(dir.path(), &env)
}

const PREV: &str = "its prev_hash is not the hash of the entry before it (inserted, reordered or deleted before it)";

fn expected(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

async fn each_tampering_is_named(store: impl Fn(&str) -> String) {
    let (code, out) = tampered(&store("edit"), Tampering::Edit).await;
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        expected(&[
            "entry 3: its content does not match its hash (edited; action discrepancy_opened)",
            "audit chain BROKEN: 1 problem(s) in 5 entries checked",
        ])
    );

    let (code, out) = tampered(&store("delete"), Tampering::Delete).await;
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        expected(&[
            "entry 3: missing (deleted)",
            &format!("entry 4: {PREV}"),
            "audit chain BROKEN: 2 problem(s) in 4 entries checked",
        ])
    );

    let (code, out) = tampered(&store("insert"), Tampering::Insert).await;
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        expected(&[
            "entry 4: its content does not match its hash (edited; action discrepancy_opened)",
            &format!("entry 4: {PREV}"),
            "entry 5: its content does not match its hash (edited; action run_finished)",
            "entry 6: its content does not match its hash (edited; action discrepancy_acknowledged)",
            "entry 6: entries after 5 were added outside recon (the head records 5)",
            "audit chain BROKEN: 5 problem(s) in 6 entries checked",
        ])
    );

    let (code, out) = tampered(&store("reorder"), Tampering::Reorder).await;
    assert_eq!(code, Some(1));
    assert_eq!(
        out,
        expected(&[
            "entry 2: its content does not match its hash (edited; action discrepancy_opened)",
            &format!("entry 2: {PREV}"),
            "entry 3: its content does not match its hash (edited; action check_result)",
            &format!("entry 3: {PREV}"),
            &format!("entry 4: {PREV}"),
            "audit chain BROKEN: 5 problem(s) in 5 entries checked",
        ])
    );
}

#[tokio::test]
async fn tampering_is_named_on_a_sqlite_store() {
    let dir = temp_dir();
    let base = dir.path().to_path_buf();
    each_tampering_is_named(move |name| sqlite_url(base.join(format!("{name}.db")))).await;
}

#[tokio::test]
async fn tampering_is_named_on_a_postgres_store() {
    let mut urls = std::collections::HashMap::new();
    for name in ["edit", "delete", "insert", "reorder"] {
        let Some(url) = fresh_postgres(&format!("audit_{name}")).await else {
            return;
        };
        urls.insert(name.to_string(), url);
    }
    each_tampering_is_named(move |name| urls[name].clone()).await;
}

#[tokio::test]
async fn the_export_recomputes_to_the_same_hashes_and_lists_and_acks_are_recorded() {
    let dir = temp_dir();
    let store = sqlite_url(dir.path().join("s.db"));
    let env = store_with_history(dir.path(), &store).await;
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let export = recon(
        &["audit", "export", "--config", "recon.toml"],
        &env_refs,
        dir.path(),
    );
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let entries: Vec<serde_json::Value> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "run_started",
            "check_result",
            "discrepancy_opened",
            "run_finished",
            "discrepancy_acknowledged"
        ]
    );
    // An auditor's independent check: the documented formula over the exported fields.
    let mut prev = "0".repeat(64);
    for e in &entries {
        assert_eq!(e["prev_hash"], prev);
        let field = |s: &str| format!("V{}:{s}", s.len());
        let run_id = e["run_id"]
            .as_i64()
            .map_or("N".to_string(), |r| field(&r.to_string()));
        let text = [
            field(&e["seq"].to_string()),
            field(e["at"].as_str().unwrap()),
            field(e["actor"].as_str().unwrap()),
            field(e["action"].as_str().unwrap()),
            run_id,
            field(e["payload"].as_str().unwrap()),
            field(&prev),
        ]
        .concat();
        use sha2::Digest;
        let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()));
        assert_eq!(e["hash"], hash);
        prev = hash;
    }
    let ack: serde_json::Value =
        serde_json::from_str(entries[4]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(ack["note"], "booked late; fixed in the next close");
    assert_eq!(entries[4]["actor"], "ana");

    let list = recon(
        &["discrepancies", "list", "--config", "recon.toml", "--json"],
        &env_refs,
        dir.path(),
    );
    let listed: serde_json::Value = serde_json::from_str(stdout(&list).trim()).unwrap();
    assert_eq!(listed["status"], "acknowledged");
    assert_eq!(listed["ack_actor"], "ana");
    // Acknowledged discrepancies are no longer "open".
    let open = recon(
        &[
            "discrepancies",
            "list",
            "--config",
            "recon.toml",
            "--open",
            "--json",
        ],
        &env_refs,
        dir.path(),
    );
    assert_eq!(stdout(&open), "");
    // Unknown ids and empty notes are refused with exit 2.
    let bad = recon(
        &[
            "discrepancies",
            "ack",
            "99",
            "--reason",
            "explained",
            "--note",
            "x",
        ],
        &env_refs,
        dir.path(),
    );
    assert_eq!(bad.status.code(), Some(2));
    let bad = recon(
        &[
            "discrepancies",
            "ack",
            "--reason",
            "explained",
            "99",
            "--note",
            "x",
            "--config",
            "recon.toml",
        ],
        &env_refs,
        dir.path(),
    );
    assert_eq!(
        stderr(&bad),
        "recon: nothing acknowledged: there is no discrepancy 99; only open, carried or acknowledged discrepancies can be acknowledged (`recon discrepancies list` shows them)\n"
    );
}

/// Who acknowledged: `--actor`, else `RECON_ACTOR` (a pod has no user), else the OS user, else
/// "unknown" — in the message and in the store.
#[tokio::test]
async fn the_actor_is_the_flag_then_recon_actor_then_the_os_user() {
    let dir = temp_dir();
    let schema = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER)";
    let ledger = sqlite_db(
        &dir.path().join("l.db"),
        &[
            schema,
            "INSERT INTO entries VALUES (1, 1), (2, 2), (3, 3), (4, 4), (5, 5)",
        ],
    )
    .await;
    let payments = sqlite_db(
        &dir.path().join("p.db"),
        &[schema, "INSERT INTO entries VALUES (1, 1)"],
    )
    .await;
    write(dir.path(), "recon.toml", &config());
    let store = sqlite_url(dir.path().join("store.db"));
    let base = [
        ("STORE_URL", store.as_str()),
        ("LEDGER_URL", ledger.as_str()),
        ("PAYMENTS_URL", payments.as_str()),
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
        &base,
        dir.path(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let ack = |id: &str, flag: Option<&str>, env: &[(&str, &str)]| {
        let mut args = vec![
            "discrepancies",
            "ack",
            "--reason",
            "explained",
            id,
            "--config",
            "recon.toml",
            "--note",
            "n",
        ];
        if let Some(actor) = flag {
            args.extend(["--actor", actor]);
        }
        let mut all = base.to_vec();
        all.extend_from_slice(env);
        let out = recon(&args, &all, dir.path());
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(
        ack(
            "1",
            Some("ana"),
            &[("RECON_ACTOR", "pod-sa"), ("USER", "root")]
        ),
        "discrepancy 1 (entries missing_in_right id=2) acknowledged (explained) by ana\n"
    );
    assert_eq!(
        ack(
            "2",
            None,
            &[("RECON_ACTOR", "ops@finance"), ("USER", "root")]
        ),
        "discrepancy 2 (entries missing_in_right id=3) acknowledged (explained) by ops@finance\n"
    );
    assert_eq!(
        ack(
            "3",
            None,
            &[("RECON_ACTOR", ""), ("USER", "bo"), ("LOGNAME", "")]
        ),
        "discrepancy 3 (entries missing_in_right id=4) acknowledged (explained) by bo\n"
    );
    assert_eq!(
        ack(
            "4",
            None,
            &[("RECON_ACTOR", ""), ("USER", ""), ("LOGNAME", "")]
        ),
        "discrepancy 4 (entries missing_in_right id=5) acknowledged (explained) by unknown\n"
    );
    let list = recon(
        &["discrepancies", "list", "--config", "recon.toml", "--json"],
        &base,
        dir.path(),
    );
    let actors: Vec<String> = stdout(&list)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["ack_actor"].to_string())
        .collect();
    assert_eq!(
        actors,
        ["\"ana\"", "\"ops@finance\"", "\"bo\"", "\"unknown\""]
    );
}
