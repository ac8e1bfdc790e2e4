//! One big check split by key across shards (`split_by_key = true`, `--shard I/4`): four
//! `recon` processes, each comparing its key range of one PostgreSQL table pair, meet in a
//! PostgreSQL store and together find exactly what one unsharded run finds — differences at
//! the range boundaries included; the check is incomplete until the last range is in.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::common::*;
use recon::canonical::Value;
use recon::source::pushdown::KeyRange;
use recon::source::{ReadSpec, Source};
use recon::store::Store;

/// 64 accounts (odd ones upper case, so byte order differs from a locale's) × 100 entries.
const ROWS: usize = 6_400;

const SCHEMA: &str = "CREATE TABLE entries (account text NOT NULL, seq integer NOT NULL, \
     amount_minor bigint NOT NULL, currency text NOT NULL, memo text, PRIMARY KEY (account, seq))";

const FILL: &str = "INSERT INTO entries \
     SELECT CASE WHEN a % 2 = 0 THEN 'acct' ELSE 'ACCT' END || lpad(a::text, 2, '0'), s * 10, \
            a * 1000 + s, 'EUR', 'entry' \
     FROM generate_series(0, 63) a, generate_series(1, 100) s";

/// Every key of the table, in canonical order (text by bytes, then the integer).
fn keys() -> Vec<(String, i64)> {
    let mut keys: Vec<(String, i64)> = (0..64)
        .flat_map(|a| {
            let account = format!("{}{a:02}", if a % 2 == 0 { "acct" } else { "ACCT" });
            (1..=100).map(move |s| (account.clone(), s * 10))
        })
        .collect();
    keys.sort();
    assert_eq!(keys.len(), ROWS);
    keys
}

/// `base`, then the sides and the store, and check `entries` split by key.
fn config(base: TestConfig) -> TestConfig {
    base.store("S")
        .source("ledger", "L")
        .source("payments", "R")
        .integrity_by(
            "entries",
            "ledger.entries",
            "payments.entries",
            ["account", "seq"],
        )
        .set("split_by_key", true)
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    ledger: String,
    payments: String,
}

impl Setup {
    fn env<'a>(&'a self, store: &'a str) -> [(&'static str, &'a str); 3] {
        [("S", store), ("L", &self.ledger), ("R", &self.payments)]
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `recon run` for `date` into `out/<name>`, with `extra` flags, started (not awaited).
    fn spawn(&self, store: &str, date: &str, name: &str, extra: &[&str]) -> std::process::Child {
        self.spawn_with(self.env(store), "run", date, name, extra)
    }

    /// `recon <command>` (`run` or `retry`) with the sources and store of `env`.
    fn spawn_with(
        &self,
        env: [(&str, &str); 3],
        command: &str,
        date: &str,
        name: &str,
        extra: &[&str],
    ) -> std::process::Child {
        let config = path_str(&self.config);
        let out = path_str(&self.out(name));
        let mut args = vec![command, "--config", &config, "--date", date, "--out", &out];
        args.extend_from_slice(extra);
        recon_command(&args, &env, self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run(&self, store: &str, date: &str, name: &str, extra: &[&str]) -> Output {
        self.spawn(store, date, name, extra)
            .wait_with_output()
            .unwrap()
    }

    fn summary(&self, name: &str) -> serde_json::Value {
        read_summary(&self.out(name))
    }
}

fn read_summary(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap()
}

/// The check's discrepancies in the store: kind, key, changed columns, status.
async fn state(store: &str) -> Vec<String> {
    let store = Store::open(store).await.unwrap();
    let mut all: Vec<String> = store
        .discrepancies("entries")
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {} [{}] {}",
                r.discrepancy.kind.as_str(),
                r.discrepancy.key_display(),
                r.discrepancy.columns.join(","),
                r.status.as_str()
            )
        })
        .collect();
    store.close().await;
    all.sort();
    all
}

/// The key ranges' boundaries the store holds for the check's split of `date`.
async fn boundaries(store: &str, date: &str) -> Vec<(String, i64)> {
    let pool = sqlx::PgPool::connect(store).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT boundaries FROM key_splits WHERE check_name = 'entries' AND business_date = $1::date",
    )
    .bind(date)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(rows.len(), 1, "one split of {date}, planned once: {rows:?}");
    let json: serde_json::Value = serde_json::from_str(&rows[0]).unwrap();
    json["boundaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b[0][0], "text");
            assert_eq!(b[1][0], "integer");
            (
                b[0][1].as_str().unwrap().to_string(),
                b[1][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn check(summary: &serde_json::Value) -> &serde_json::Value {
    let checks = summary["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "{summary}");
    &checks[0]
}

fn key(account: &str, seq: i64) -> String {
    format!("account={account}; seq={seq}")
}

#[tokio::test]
async fn four_shards_of_one_table_find_exactly_what_one_process_finds() {
    let (Some(ledger), Some(payments), Some(store), Some(whole)) = (
        fresh_postgres("split_ledger").await,
        fresh_postgres("split_payments").await,
        fresh_postgres("split_store").await,
        fresh_postgres("split_whole").await,
    ) else {
        return;
    };
    pg_exec(&ledger, &[SCHEMA, FILL]).await;
    pg_exec(&payments, &[SCHEMA, FILL]).await;
    let dir = temp_dir();
    let config = write(
        dir.path(),
        "recon.toml",
        &config(TestConfig::new()).to_toml(),
    );
    let setup = Setup {
        dir,
        config,
        ledger,
        payments,
    };

    // Night one, the sides equal, the shards one after the other: the check is incomplete
    // (exit 3) until the fourth range is in, and the shard that stores it records the check.
    let night_one = "2026-11-19";
    for (shard, missing) in [("3/4", "0, 1, 2"), ("1/4", "0, 2"), ("0/4", "2")] {
        let out = setup.run(&store, night_one, shard, &["--shard", shard]);
        assert_eq!(out.status.code(), Some(3), "{shard}: {}", stderr(&out));
        let summary = setup.summary(shard);
        assert_eq!(summary["outcome"], "incomplete");
        let entries = check(&summary);
        assert_eq!(entries["status"], "failed");
        let index = &shard[..1];
        assert_eq!(
            entries["error"].as_str().unwrap(),
            format!(
                "incomplete: key range {index} of 4 is stored, ranges {missing} of the other shards are not yet; \
                 the shard that stores the last range records the check, and `recon retry --shard {shard}` \
                 (or `recon run --resume`) then shows it complete"
            )
        );
    }
    let last = setup.run(&store, night_one, "2/4", &["--shard", "2/4"]);
    assert_eq!(last.status.code(), Some(0), "{}", stderr(&last));
    let entries = check(&setup.summary("2/4")).clone();
    assert_eq!(entries["status"], "clean");
    assert_eq!(entries["left"]["rows"], ROWS);
    assert_eq!(entries["right"]["rows"], ROWS);

    // The ranges night one was cut into; night two plants differences on and around each
    // boundary, each range's row count kept, so night two is cut at the same keys.
    let cut = boundaries(&store, night_one).await;
    assert_eq!(cut.len(), 3, "{cut:?}");
    let keys = keys();
    let mut planted = Vec::new();
    let mut statements = Vec::new();
    let change = |statements: &mut Vec<String>, (account, seq): &(String, i64), set: &str| {
        statements.push(format!(
            "UPDATE entries SET {set} WHERE account = '{account}' AND seq = {seq}"
        ));
    };
    for boundary in &cut {
        let at = keys.iter().position(|k| k == boundary).unwrap();
        // the boundary closes its range; the keys after it open the next one
        change(
            &mut statements,
            &keys[at],
            "amount_minor = amount_minor + 1",
        );
        planted.push(format!(
            "changed {} [amount_minor] open",
            key(&keys[at].0, keys[at].1)
        ));
        change(&mut statements, &keys[at - 1], "memo = 'edited'");
        planted.push(format!(
            "changed {} [memo] open",
            key(&keys[at - 1].0, keys[at - 1].1)
        ));
        let (account, seq) = &keys[at];
        statements.push(format!(
            "INSERT INTO entries VALUES ('{account}', {}, 1, 'EUR', 'only right')",
            seq + 5
        ));
        planted.push(format!("missing_in_left {} [] open", key(account, seq + 5)));
        let (account, seq) = &keys[at + 1];
        statements.push(format!(
            "DELETE FROM entries WHERE account = '{account}' AND seq = {seq}"
        ));
        planted.push(format!("missing_in_right {} [] open", key(account, *seq)));
        change(&mut statements, &keys[at + 2], "currency = 'USD'");
        planted.push(format!(
            "changed {} [currency] open",
            key(&keys[at + 2].0, keys[at + 2].1)
        ));
    }
    // below every key and above every key, only on the right; the first and last rows only left
    statements.push("INSERT INTO entries VALUES ('AAAA', 1, 5, 'EUR', 'below all')".into());
    planted.push(format!("missing_in_left {} [] open", key("AAAA", 1)));
    statements.push("DELETE FROM entries WHERE account = 'ACCT01' AND seq = 30".into());
    planted.push(format!("missing_in_right {} [] open", key("ACCT01", 30)));
    statements.push("INSERT INTO entries VALUES ('zzz', 1, 5, 'EUR', 'above all')".into());
    planted.push(format!("missing_in_left {} [] open", key("zzz", 1)));
    let (account, seq) = keys.last().unwrap();
    statements.push(format!(
        "DELETE FROM entries WHERE account = '{account}' AND seq = {seq}"
    ));
    planted.push(format!("missing_in_right {} [] open", key(account, *seq)));
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    pg_exec(&setup.payments, &statements).await;
    planted.sort();
    assert_eq!(planted.len(), 19);

    // One process, the whole table: the reference.
    let night_two = "2026-11-20";
    let out = setup.run(&whole, night_two, "whole", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reference = state(&whole).await;
    assert_eq!(reference, planted);

    // Night two: four shards at once. Exactly one stores the last range and records the whole
    // check (exit 1); the others said it was incomplete (exit 3).
    let shards = ["0/4", "1/4", "2/4", "3/4"];
    let children: Vec<_> = shards
        .iter()
        .map(|shard| {
            setup.spawn(
                &store,
                night_two,
                &format!("n2-{shard}"),
                &["--shard", shard],
            )
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    codes.sort();
    assert_eq!(
        codes,
        [Some(1), Some(3), Some(3), Some(3)],
        "{:?}",
        outputs.iter().map(stderr).collect::<Vec<_>>()
    );
    assert_eq!(
        boundaries(&store, night_two).await,
        cut,
        "cut at the same keys"
    );
    assert_eq!(state(&store).await, reference);
    for (shard, output) in shards.iter().zip(&outputs) {
        let summary = setup.summary(&format!("n2-{shard}"));
        let entries = check(&summary);
        if output.status.code() == Some(1) {
            assert_eq!(summary["outcome"], "discrepancies");
            assert_eq!(entries["status"], "discrepancies");
            assert_eq!(entries["discrepancies"], 19);
            assert_eq!(entries["left"]["rows"], ROWS);
            assert_eq!(entries["right"]["rows"], ROWS);
            assert_eq!(summary["discrepancies"].as_array().unwrap().len(), 19);
            continue;
        }
        assert_eq!(summary["outcome"], "incomplete", "{shard}");
        assert_eq!(entries["status"], "failed");
        assert!(
            entries["error"].as_str().unwrap().starts_with(&format!(
                "incomplete: key range {} of 4 is stored",
                &shard[..1]
            )),
            "{entries}"
        );
        assert_eq!(summary["discrepancies"].as_array().unwrap().len(), 0);
        // Resumed once every range is in, the shard's run shows the whole check.
        let name = format!("n2-{shard}");
        let resumed = setup.run(&store, night_two, &name, &["--shard", shard, "--resume"]);
        assert_eq!(resumed.status.code(), Some(1), "{}", stderr(&resumed));
        let again = setup.summary(&name);
        assert_eq!(
            again["run_id"], summary["run_id"],
            "the same run, completed"
        );
        assert_eq!(check(&again)["status"], "discrepancies");
        assert_eq!(check(&again)["discrepancies"], 19);
        let mut shown: Vec<String> = again["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                format!(
                    "{} {}",
                    d["kind"].as_str().unwrap(),
                    d["status"].as_str().unwrap()
                )
            })
            .collect();
        shown.sort();
        let mut expected: Vec<String> = reference
            .iter()
            .map(|line| {
                let kind = line.split(' ').next().unwrap();
                format!("{kind} open")
            })
            .collect();
        expected.sort();
        assert_eq!(shown, expected);
    }
    assert_eq!(
        state(&store).await,
        reference,
        "adopting moves no discrepancy"
    );
}

/// The keys `source` sends for table `t` read with `range` (before the reader trims anything).
async fn sent_keys(source: &Source, range: Option<KeyRange>) -> Vec<(String, i128)> {
    let spec = ReadSpec {
        table: "t".into(),
        columns: source.columns("t").await.unwrap(),
        key_len: 2,
        day: None,
        filter: None,
        in_flight: None,
        key_range: range,
        unordered: false,
    };
    let mut rx = source.stream_rows(spec);
    let mut keys = Vec::new();
    while let Some(batch) = rx.recv().await {
        for row in batch.unwrap().rows() {
            match (&row[0], &row[1]) {
                (Value::Text(a), Value::Int(n)) => keys.push((a.clone(), *n)),
                other => panic!("{other:?}"),
            }
        }
    }
    keys
}

/// Text keys that a case-insensitive or locale collation orders otherwise than bytes do.
const ACCOUNTS: [&str; 6] = ["B", "a", "ab", "C", "é", "Z"];

/// A shard's key range goes to the database as bound key comparisons and selects exactly the
/// keys of the range in canonical order (text by bytes, then the integer), on PostgreSQL and on
/// MariaDB (whose default collation calls `a` and `A` equal).
async fn key_ranges_are_pushed_down_exactly(url: &str) {
    let source = Source::connect_url("src", url).await.unwrap();
    let order = |k: &(String, i128)| (k.0.as_bytes().to_vec(), k.1);
    let mut all = sent_keys(&source, None).await;
    all.sort_by_key(order);
    assert_eq!(all.len(), ACCOUNTS.len() * 3);
    let value = |(a, n): &(String, i128)| vec![Value::Text(a.clone()), Value::Int(*n)];
    // every range between two of the keys, and the open ends
    let bounds: Vec<Option<&(String, i128)>> =
        std::iter::once(None).chain(all.iter().map(Some)).collect();
    for after in &bounds {
        for up_to in &bounds {
            let range = KeyRange::between(after.map(value), up_to.map(value));
            let want: Vec<(String, i128)> = all
                .iter()
                .filter(|k| after.is_none_or(|a| order(k) > order(a)))
                .filter(|k| up_to.is_none_or(|u| order(k) <= order(u)))
                .cloned()
                .collect();
            assert_eq!(
                sent_keys(&source, Some(range)).await,
                want,
                "({after:?}, {up_to:?}]"
            );
        }
    }
    source.close().await;
}

fn key_rows() -> String {
    let rows: Vec<String> = ACCOUNTS
        .iter()
        .flat_map(|a| [-7, 2, 10].map(|n| format!("('{a}', {n})")))
        .collect();
    format!("INSERT INTO t VALUES {}", rows.join(", "))
}

#[tokio::test]
async fn key_ranges_are_pushed_down_exactly_on_postgres() {
    let Some(url) = fresh_postgres("split_pushdown").await else {
        return;
    };
    let create =
        "CREATE TABLE t (account varchar(8) NOT NULL, n bigint NOT NULL, PRIMARY KEY (account, n))";
    pg_exec(&url, &[create, &key_rows()]).await;
    key_ranges_are_pushed_down_exactly(&url).await;
}

#[tokio::test]
async fn key_ranges_are_pushed_down_exactly_on_mariadb() {
    let Some(url) = fresh_mysql("split_pushdown").await else {
        return;
    };
    // The database's case-insensitive collation orders 'a' before 'B'; bytes the other way.
    let create =
        "CREATE TABLE t (account varchar(8) NOT NULL, n bigint NOT NULL, PRIMARY KEY (account, n))";
    mysql_exec(&url, &[create, &key_rows()]).await;
    key_ranges_are_pushed_down_exactly(&url).await;
}

/// The same rows as [`FILL`], for MariaDB (no `generate_series`).
fn fill_values() -> String {
    let rows: Vec<String> = (0..64)
        .flat_map(|a: i64| {
            let account = format!("{}{a:02}", if a % 2 == 0 { "acct" } else { "ACCT" });
            (1..=100).map(move |s: i64| {
                format!(
                    "('{account}', {}, {}, 'EUR', 'entry')",
                    s * 10,
                    a * 1000 + s
                )
            })
        })
        .collect();
    format!("INSERT INTO entries VALUES {}", rows.join(", "))
}

/// The Indexed Job's way: every pod waits for the other ranges (`--wait-for-ranges`), so each
/// ends with the whole check, and findings exit 0 (`--findings-exit-code 0`) in every pod. The
/// right side is MariaDB, whose case-insensitive collation orders the accounts otherwise than
/// bytes do: its ranges are sampled and pushed down in byte order too.
#[tokio::test]
async fn shards_that_wait_for_the_other_ranges_all_end_with_the_whole_check() {
    let (Some(ledger), Some(payments), Some(store), Some(whole)) = (
        fresh_postgres("split_wait_ledger").await,
        fresh_mysql("split_wait_payments").await,
        fresh_postgres("split_wait_store").await,
        fresh_postgres("split_wait_whole").await,
    ) else {
        return;
    };
    pg_exec(&ledger, &[SCHEMA, FILL]).await;
    let fill = fill_values();
    mysql_exec(
        &payments,
        &[
            "CREATE TABLE entries (account varchar(16) NOT NULL, seq integer NOT NULL, \
             amount_minor bigint NOT NULL, currency varchar(3) NOT NULL, memo varchar(32), \
             PRIMARY KEY (account, seq))",
            &fill,
            "UPDATE entries SET memo = 'edited' WHERE seq IN (10, 500, 1000) AND account IN ('ACCT01', 'acct32', 'acct62')",
            "DELETE FROM entries WHERE account = 'ACCT33' AND seq = 20",
            "INSERT INTO entries VALUES ('acct10', 15, 1, 'EUR', 'only right')",
        ],
    )
    .await;
    let dir = temp_dir();
    let config = write(
        dir.path(),
        "recon.toml",
        &config(TestConfig::new()).to_toml(),
    );
    let setup = Setup {
        dir,
        config,
        ledger,
        payments,
    };
    let out = setup.run(&whole, "2026-11-20", "whole", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reference = state(&whole).await;
    assert_eq!(reference.len(), 11, "{reference:?}");

    let shards = ["0/4", "1/4", "2/4", "3/4"];
    let pod_args = |shard: &'static str| {
        [
            "--resume",
            "--findings-exit-code",
            "0",
            "--wait-for-ranges",
            "60",
            "--shard",
            shard,
        ]
    };
    let children: Vec<_> = shards
        .iter()
        .map(|shard| setup.spawn(&store, "2026-11-20", shard, &pod_args(shard)))
        .collect();
    for (shard, child) in shards.iter().zip(children) {
        let output = child.wait_with_output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{shard}: {}",
            stderr(&output)
        );
        let summary = setup.summary(shard);
        assert_eq!(summary["outcome"], "discrepancies", "{shard}");
        assert_eq!(summary["exit_code"], 1);
        assert_eq!(check(&summary)["status"], "discrepancies");
        assert_eq!(check(&summary)["discrepancies"], 11);
        assert_eq!(summary["discrepancies"].as_array().unwrap().len(), 11);
    }
    assert_eq!(state(&store).await, reference);
}

/// A split check that would bisect is refused when the file loads (exit 2), naming the key to
/// change; a dated check that seals may be split (it seals range by range, see
/// `sharded_seals.rs`).
#[test]
fn a_split_check_that_bisects_is_refused_and_one_that_seals_is_not() {
    let dir = temp_dir();
    let env = [
        ("S", "sqlite://s.db"),
        ("L", "sqlite://l.db"),
        ("R", "sqlite://r.db"),
    ];
    write(
        dir.path(),
        "recon.toml",
        &config(TestConfig::new())
            .set("strategy", "bisect")
            .to_toml(),
    );
    let out = recon(
        &["config", "check", "--config", "recon.toml"],
        &env,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "recon: recon.toml: integrity[0] (\"entries\").split_by_key: a check split by key is streamed; leave strategy = \"bisect\" out"
    );
    // A dated check that seals its days may be split.
    write(
        dir.path(),
        "recon.toml",
        &config(TestConfig::new())
            .set("date_column", "created_at")
            .to_toml(),
    );
    let out = recon(
        &["config", "check", "--config", "recon.toml"],
        &env,
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("\nseal = true\n"), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("\nsplit_by_key = true\n"),
        "{}",
        stdout(&out)
    );
}

/// A shard whose source is down stores no range: the check stays incomplete for every shard
/// until `recon retry` of that shard compares its range, records the whole check, and the
/// others' retries then show it. The store is a SQLite file here (shards on one machine).
#[tokio::test]
async fn a_shard_that_failed_is_retried_and_completes_the_check() {
    let (Some(ledger), Some(payments)) = (
        fresh_postgres("split_retry_ledger").await,
        fresh_postgres("split_retry_payments").await,
    ) else {
        return;
    };
    pg_exec(&ledger, &[SCHEMA, FILL]).await;
    pg_exec(
        &payments,
        &[
            SCHEMA,
            FILL,
            "UPDATE entries SET amount_minor = 0 WHERE seq = 550",
            "DELETE FROM entries WHERE account = 'acct20'",
        ],
    )
    .await;
    let dir = temp_dir();
    let config = write(
        dir.path(),
        "recon.toml",
        &config(TestConfig::new().table("job.retry").set("max_attempts", 1)).to_toml(),
    );
    let store = sqlite_url(dir.path().join("store.db"));
    let whole = sqlite_url(dir.path().join("whole.db"));
    let setup = Setup {
        dir,
        config,
        ledger,
        payments,
    };
    let date = "2026-11-20";
    let out = setup.run(&whole, date, "whole", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let reference = state(&whole).await;
    assert_eq!(
        reference.len(),
        64 + 100 - 1,
        "one per account, acct20's rows once"
    );

    for shard in ["0/4", "1/4", "3/4"] {
        let out = setup.run(&store, date, shard, &["--shard", shard]);
        assert_eq!(out.status.code(), Some(3), "{shard}: {}", stderr(&out));
    }
    // Shard 2's ledger is down: its range is not stored, the check not recorded.
    let down = [
        ("S", store.as_str()),
        ("L", "postgres://postgres@127.0.0.1:1/ledger"),
        ("R", setup.payments.as_str()),
    ];
    let out = setup
        .spawn_with(down, "run", date, "2/4", &["--shard", "2/4"])
        .wait_with_output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let failed = check(&setup.summary("2/4")).clone();
    assert_eq!(failed["status"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("connection refused"), "{error}");
    assert_eq!(
        state(&store).await,
        Vec::<String>::new(),
        "nothing recorded yet"
    );
    // A shard retried before shard 2 still sees the check incomplete.
    let retry = |shard: &str| {
        setup
            .spawn_with(setup.env(&store), "retry", date, shard, &["--shard", shard])
            .wait_with_output()
            .unwrap()
    };
    let early = retry("0/4");
    assert_eq!(early.status.code(), Some(3), "{}", stderr(&early));
    assert!(
        check(&setup.summary("0/4"))["error"]
            .as_str()
            .unwrap()
            .starts_with(
                "incomplete: key range 0 of 4 is stored, ranges 2 of the other shards are not yet"
            ),
    );
    // Shard 2's retry, its ledger back, stores the last range and records the whole check.
    let out = retry("2/4");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let whole_check = check(&setup.summary("2/4")).clone();
    assert_eq!(whole_check["status"], "discrepancies");
    assert_eq!(whole_check["discrepancies"], 163);
    assert_eq!(state(&store).await, reference);
    for shard in ["0/4", "1/4", "3/4"] {
        let out = retry(shard);
        assert_eq!(out.status.code(), Some(1), "{shard}: {}", stderr(&out));
        assert_eq!(check(&setup.summary(shard))["discrepancies"], 163);
    }
    assert_eq!(state(&store).await, reference);
}

/// A shard is never left to take its own "yesterday": two pods either side of midnight would
/// reconcile different dates. Without `--date` (or `RECON_DATE`) it is refused, for `run` and
/// `retry` alike; with `RECON_DATE` it runs that date.
#[tokio::test]
async fn a_shard_without_its_business_date_is_refused() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY)";
    let row = "INSERT INTO t VALUES (1)";
    let [l, r, s] = sqlite_sides(dir.path(), schema, row, row).await;
    write(
        dir.path(),
        "recon.toml",
        &ledger_payments_t(TestConfig::new()),
    );
    let env = [("L", l.as_str()), ("R", r.as_str()), ("S", s.as_str())];
    for command in ["run", "retry"] {
        let args = [
            command,
            "--config",
            "recon.toml",
            "--shard",
            "1/4",
            "--out",
            "out",
        ];
        let out = recon(&args, &env, dir.path());
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            "recon: shard 1/4 needs its business date: give --date or set RECON_DATE when the Job is created, so that every shard, a pod retried after midnight too, runs the same date\n"
        );
    }
    let mut dated = env.to_vec();
    dated.push(("RECON_DATE", "2026-11-20"));
    let args = [
        "run",
        "--config",
        "recon.toml",
        "--shard",
        "0/1",
        "--out",
        "out",
    ];
    let out = recon(&args, &dated, dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary(dir.path())["business_date"], "2026-11-20");
}
