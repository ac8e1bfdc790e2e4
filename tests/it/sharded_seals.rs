//! A sealed check split by key (`split_by_key = true` on a dated check that seals): four
//! `recon` processes seal day 1 range by range in a PostgreSQL store, the day counting as sealed
//! only once the fourth range is in; after day 1 is edited, four shards of night 2 re-verify it
//! range by range and name every edited row exactly once, as one unsharded process does — and a
//! day sealed whole (or split) is verified the same by a split (or unsplit) night 2.

use std::process::{Output, Stdio};

use crate::common::*;
use recon::store::Store;

/// Rows of each day: 64 accounts (odd ones upper case) × 50 entries.
const ROWS: i64 = 3_200;

const SCHEMA: &str = "CREATE TABLE entries (account text NOT NULL, seq integer NOT NULL, \
     amount_minor bigint NOT NULL, currency text NOT NULL, memo text, \
     created_at timestamptz NOT NULL, PRIMARY KEY (account, seq))";

/// Day 1's rows (seq a multiple of 10) and day 2's (seq ending in 1).
const FILL: [&str; 2] = [
    "INSERT INTO entries \
     SELECT CASE WHEN a % 2 = 0 THEN 'acct' ELSE 'ACCT' END || lpad(a::text, 2, '0'), s * 10, \
            a * 1000 + s, 'EUR', 'entry', '2026-11-19 12:00:00+00' \
     FROM generate_series(0, 63) a, generate_series(1, 50) s",
    "INSERT INTO entries \
     SELECT CASE WHEN a % 2 = 0 THEN 'acct' ELSE 'ACCT' END || lpad(a::text, 2, '0'), s * 10 + 1, \
            a * 1000 + s, 'EUR', 'entry', '2026-11-20 12:00:00+00' \
     FROM generate_series(0, 63) a, generate_series(1, 50) s",
];

const DAY_1: &str = "2026-11-19";
const DAY_2: &str = "2026-11-20";

/// Day 1's keys in canonical order (text by bytes, then the integer).
fn day_1_keys() -> Vec<(String, i64)> {
    let mut keys: Vec<(String, i64)> = (0..64)
        .flat_map(|a| {
            let account = format!("{}{a:02}", if a % 2 == 0 { "acct" } else { "ACCT" });
            (1..=50).map(move |s| (account.clone(), s * 10))
        })
        .collect();
    keys.sort();
    keys
}

/// The sides and the store, and check `entries`, dated, split by key.
fn config() -> String {
    TestConfig::new()
        .store("S")
        .source("ledger", "L")
        .source("payments", "R")
        .integrity_by(
            "entries",
            "ledger.entries",
            "payments.entries",
            ["account", "seq"],
        )
        .set("date_column", "created_at")
        .set("split_by_key", true)
        .to_toml()
}

struct Setup {
    dir: tempfile::TempDir,
    ledger: String,
    payments: String,
}

impl Setup {
    /// `recon run` for `date` with store `store`, `extra` flags, started (not awaited).
    fn spawn(&self, store: &str, date: &str, extra: &[&str]) -> std::process::Child {
        let out = path_str(&self.dir.path().join(format!("out-{}", extra.join("-"))));
        let args = run_args(date, &out, extra);
        let env = [("S", store), ("L", &self.ledger), ("R", &self.payments)];
        recon_command(&args, &env, self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn run(&self, store: &str, date: &str, extra: &[&str]) -> Output {
        self.spawn(store, date, extra).wait_with_output().unwrap()
    }

    /// Four shards of `date` at once; their exit codes, sorted.
    fn four_shards(&self, store: &str, date: &str) -> Vec<Option<i32>> {
        let children: Vec<_> = ["0/4", "1/4", "2/4", "3/4"]
            .iter()
            .map(|shard| self.spawn(store, date, &["--shard", shard]))
            .collect();
        let outputs: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let mut codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
        codes.sort();
        for o in &outputs {
            assert!(
                o.status.code() != Some(4) && o.status.code() != Some(2),
                "{}",
                stderr(o)
            );
        }
        codes
    }
}

/// The store's seals of the check: (partition key, rows, split set, range index), and for each
/// the row count of its segments.
async fn seals(store: &str) -> Vec<(String, i64, bool, Option<i64>, i64)> {
    let pool = sqlx::PgPool::connect(store).await.unwrap();
    type Stored = (String, i64, Option<i64>, Option<i64>, Option<i64>);
    let rows: Vec<Stored> = sqlx::query_as(
        "SELECT s.partition_key, s.row_count, s.split_id, s.range_index,
                (SELECT SUM(g.row_count)::bigint FROM seal_segments g
                 WHERE g.check_name = s.check_name AND g.partition_key = s.partition_key)
         FROM seals s WHERE s.check_name = 'entries' ORDER BY s.partition_key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.into_iter()
        .map(|(p, rows, split, range, segments)| {
            (p, rows, split.is_some(), range, segments.unwrap_or(0))
        })
        .collect()
}

/// The day-1 split's boundaries in the store.
async fn day_1_boundaries(store: &str) -> Vec<(String, i64)> {
    let pool = sqlx::PgPool::connect(store).await.unwrap();
    let text: String = sqlx::query_scalar(
        "SELECT boundaries FROM key_splits WHERE check_name = 'entries' AND business_date = $1::date",
    )
    .bind(DAY_1)
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["boundaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b[0][1].as_str().unwrap().to_string(),
                b[1][1].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

/// The check's discrepancies in the store: kind, partition, key, what changed, status.
async fn state(store: &str) -> Vec<String> {
    let store = Store::open(store).await.unwrap();
    let mut all: Vec<String> = store
        .discrepancies("entries")
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let detail = r
                .discrepancy
                .detail
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            let what = detail.split(" since the day").next().unwrap().to_string();
            format!(
                "{} {} {} | {what} | {}",
                r.discrepancy.kind.as_str(),
                r.discrepancy.partition,
                r.discrepancy.key_display(),
                r.status.as_str()
            )
        })
        .collect();
    store.close().await;
    all.sort();
    all
}

/// The sealed days' re-verifications the audit log holds: (partition, rows named changed).
async fn seal_verifications(store: &str) -> Vec<(String, usize)> {
    let pool = sqlx::PgPool::connect(store).await.unwrap();
    let payloads: Vec<String> = sqlx::query_scalar(
        "SELECT payload FROM audit_log WHERE action = 'seal_verified' ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    payloads
        .iter()
        .map(|p| {
            let json: serde_json::Value = serde_json::from_str(p).unwrap();
            (
                json["partition"].as_str().unwrap().to_string(),
                json["changed_rows"].as_array().unwrap().len(),
            )
        })
        .collect()
}

fn audit_verifies(setup: &Setup, store: &str) {
    let out = recon(
        &["audit", "verify", "--config", "recon.toml"],
        &[("S", store), ("L", &setup.ledger), ("R", &setup.payments)],
        setup.dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[tokio::test]
async fn four_shards_seal_a_day_range_by_range_and_name_every_later_edit_once() {
    let (
        Some(ledger),
        Some(payments),
        Some(split),
        Some(whole),
        Some(whole_then_split),
        Some(split_then_whole),
    ) = (
        fresh_postgres("sealsplit_ledger").await,
        fresh_postgres("sealsplit_payments").await,
        fresh_postgres("sealsplit_store").await,
        fresh_postgres("sealsplit_whole").await,
        fresh_postgres("sealsplit_whole_split").await,
        fresh_postgres("sealsplit_split_whole").await,
    )
    else {
        return;
    };
    pg_exec(&ledger, &[SCHEMA, FILL[0], FILL[1]]).await;
    pg_exec(&payments, &[SCHEMA, FILL[0], FILL[1]]).await;
    let dir = temp_dir();
    write(dir.path(), "recon.toml", &config());
    let setup = Setup {
        dir,
        ledger,
        payments,
    };

    // Night 1, four shards one after the other: each clean range seals its own part of day 1
    // (its own segments); the day counts as sealed only once the fourth range is in.
    for (n, shard) in ["3/4", "1/4", "0/4"].iter().enumerate() {
        let out = setup.run(&split, DAY_1, &["--shard", shard]);
        assert_eq!(out.status.code(), Some(3), "{shard}: {}", stderr(&out));
        let sealed = seals(&split).await;
        assert_eq!(sealed.len(), n + 1, "{sealed:?}");
        assert!(
            sealed
                .iter()
                .all(|(p, _, s, r, _)| p != DAY_1 && *s && r.is_some()),
            "only range seals before the last range: {sealed:?}"
        );
    }
    let last = setup.run(&split, DAY_1, &["--shard", "2/4"]);
    assert_eq!(last.status.code(), Some(0), "{}", stderr(&last));
    let sealed = seals(&split).await;
    assert_eq!(sealed.len(), 5, "{sealed:?}");
    let (day, ranges): (Vec<_>, Vec<_>) = sealed.iter().partition(|s| s.0 == DAY_1);
    assert_eq!(day.len(), 1);
    assert_eq!(
        (day[0].1, day[0].2, day[0].3, day[0].4),
        (ROWS, true, None, 0)
    );
    let mut indices: Vec<i64> = ranges.iter().map(|r| r.3.unwrap()).collect();
    indices.sort();
    assert_eq!(indices, [0, 1, 2, 3]);
    for (partition, rows, _, range, segment_rows) in &ranges {
        assert!(
            partition.starts_with(&format!("{DAY_1} split ")),
            "{partition}"
        );
        assert!(
            partition.ends_with(&format!(" range {}", range.unwrap())),
            "{partition}"
        );
        assert!(*rows > 0, "{ranges:?}");
        assert_eq!(segment_rows, rows, "each range's segments hold its rows");
    }
    assert_eq!(ranges.iter().map(|r| r.1).sum::<i64>(), ROWS);

    // The same night unsplit (the reference), and once more each way for the mixed nights.
    for store in [&whole, &whole_then_split] {
        let out = setup.run(store, DAY_1, &[]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    for shard in ["0/4", "1/4", "2/4", "3/4"] {
        let out = setup.run(&split_then_whole, DAY_1, &["--shard", shard]);
        assert!(
            matches!(out.status.code(), Some(0) | Some(3)),
            "{}",
            stderr(&out)
        );
    }

    // Day 1 is edited on and around each boundary of its split.
    let cut = day_1_boundaries(&split).await;
    assert_eq!(cut.len(), 3, "{cut:?}");
    let keys = day_1_keys();
    let key = |(account, seq): &(String, i64)| format!("account={account}; seq={seq}");
    let mut left = Vec::new();
    let mut right = Vec::new();
    let mut edited = Vec::new();
    let row = |(account, seq): &(String, i64)| format!("account = '{account}' AND seq = {seq}");
    for boundary in &cut {
        let at = keys.iter().position(|k| k == boundary).unwrap();
        right.push(format!(
            "UPDATE entries SET amount_minor = amount_minor + 1 WHERE {}",
            row(&keys[at])
        ));
        edited.push((key(&keys[at]), "changed in payments.entries"));
        for side in [&mut left, &mut right] {
            side.push(format!(
                "UPDATE entries SET memo = 'edited' WHERE {}",
                row(&keys[at + 1])
            ));
        }
        edited.push((
            key(&keys[at + 1]),
            "changed in ledger.entries; changed in payments.entries",
        ));
        left.push(format!("DELETE FROM entries WHERE {}", row(&keys[at - 1])));
        edited.push((key(&keys[at - 1]), "deleted from ledger.entries"));
        let added = (keys[at].0.clone(), keys[at].1 + 5);
        right.push(format!(
            "INSERT INTO entries VALUES ('{}', {}, 1, 'EUR', 'late', '2026-11-19 23:00:00+00')",
            added.0, added.1
        ));
        edited.push((key(&added), "added in payments.entries"));
    }
    let (left, right): (Vec<&str>, Vec<&str>) = (
        left.iter().map(String::as_str).collect(),
        right.iter().map(String::as_str).collect(),
    );
    pg_exec(&setup.ledger, &left).await;
    pg_exec(&setup.payments, &right).await;
    let mut expected: Vec<String> = edited
        .iter()
        .map(|(key, what)| format!("closed_period_modified {DAY_1} {key} | {what} | open"))
        .collect();
    expected.sort();
    assert_eq!(expected.len(), 12);

    // Night 2 unsplit: the reference.
    let out = setup.run(&whole, DAY_2, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(state(&whole).await, expected);

    // Night 2, four shards at once: each re-verifies its range of day 1's split (cut as its seal
    // was); the shard storing the last range records every range's edits together.
    assert_eq!(
        setup.four_shards(&split, DAY_2),
        [Some(1), Some(3), Some(3), Some(3)]
    );
    assert_eq!(state(&split).await, expected);
    let day_2 = seals(&split).await;
    assert!(
        day_2
            .iter()
            .any(|s| s.0 == DAY_2 && s.1 == ROWS && s.2 && s.3.is_none()),
        "day 2 sealed by its split: {day_2:?}"
    );

    // A day sealed whole, re-verified by four shards (shard 0 takes it whole), and a day sealed
    // range by range, re-verified by one process (range by range): the same edits.
    assert_eq!(
        setup.four_shards(&whole_then_split, DAY_2),
        [Some(1), Some(3), Some(3), Some(3)]
    );
    assert_eq!(state(&whole_then_split).await, expected);
    let out = setup.run(&split_then_whole, DAY_2, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(state(&split_then_whole).await, expected);

    for store in [&split, &whole, &whole_then_split, &split_then_whole] {
        // Day 1 verified once in night 2, its twelve rows named in that one record.
        assert_eq!(seal_verifications(store).await, [(DAY_1.to_string(), 12)]);
        audit_verifies(&setup, store);
    }
}

/// A day one range of which is not clean is not sealed: the clean ranges' seals are discarded
/// when the last range is in (audited), and a later clean rerun of the date seals it by its
/// new split.
#[tokio::test]
async fn a_day_with_a_range_not_clean_is_not_sealed_until_a_clean_rerun() {
    let (Some(ledger), Some(payments), Some(store)) = (
        fresh_postgres("sealsplit_unclean_ledger").await,
        fresh_postgres("sealsplit_unclean_payments").await,
        fresh_postgres("sealsplit_unclean_store").await,
    ) else {
        return;
    };
    pg_exec(&ledger, &[SCHEMA, FILL[0]]).await;
    pg_exec(&payments, &[SCHEMA, FILL[0]]).await;
    // the last key, in the last range, differs
    let edit = "UPDATE entries SET memo = 'differs' WHERE account = 'acct62' AND seq = 500";
    pg_exec(&payments, &[edit]).await;
    let dir = temp_dir();
    write(dir.path(), "recon.toml", &config());
    let setup = Setup {
        dir,
        ledger,
        payments,
    };
    let first = setup.run(&store, DAY_1, &["--shard", "0/2"]);
    assert_eq!(first.status.code(), Some(3), "{}", stderr(&first));
    let sealed = seals(&store).await;
    assert_eq!(sealed.len(), 1, "range 0 sealed, provisionally: {sealed:?}");
    let last = setup.run(&store, DAY_1, &["--shard", "1/2"]);
    assert_eq!(last.status.code(), Some(1), "{}", stderr(&last));
    assert_eq!(
        seals(&store).await,
        [],
        "no seal of a day that was not clean"
    );
    let pool = sqlx::PgPool::connect(&store).await.unwrap();
    let discarded: Vec<String> = sqlx::query_scalar(
        "SELECT payload FROM audit_log WHERE action = 'key_range_seals_discarded'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(discarded.len(), 1, "{discarded:?}");
    let json: serde_json::Value = serde_json::from_str(&discarded[0]).unwrap();
    assert_eq!(
        (&json["partition"], &json["ranges_sealed"], &json["ranges"]),
        (
            &serde_json::json!(DAY_1),
            &serde_json::json!(1),
            &serde_json::json!(2)
        )
    );

    // Fixed, the date rerun by both shards is sealed by its new split.
    pg_exec(
        &setup.payments,
        &["UPDATE entries SET memo = 'entry' WHERE account = 'acct62' AND seq = 500"],
    )
    .await;
    for (shard, code) in [("1/2", 3), ("0/2", 0)] {
        let out = setup.run(&store, DAY_1, &["--shard", shard]);
        assert_eq!(out.status.code(), Some(code), "{shard}: {}", stderr(&out));
    }
    let sealed = seals(&store).await;
    assert_eq!(sealed.len(), 3, "{sealed:?}");
    assert!(
        sealed
            .iter()
            .any(|s| s.0 == DAY_1 && s.1 == ROWS && s.2 && s.3.is_none()),
        "{sealed:?}"
    );
    audit_verifies(&setup, &store);
}
