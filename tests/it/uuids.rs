//! UUIDs in every spelling — PostgreSQL `uuid`, MariaDB `UUID`, `char(36)` in any case, SQLite
//! text — digest alike, order alike as keys and are compared by value by both strategies.

use crate::common::*;
use recon::canonical::{SegmentDigest, Value, row_hash};
use recon::integrity::{TablePair, compare_with};
use recon::source::Source;

/// Chosen so that MariaDB's `UUID` order (time fields swapped for versions 1–5) differs from
/// the byte order PostgreSQL and recon use: the merge-join needs one order on both sides.
const IDS: [&str; 4] = [
    "00000000-0000-1000-8000-000000000002",
    "10000000-0000-7000-8000-000000000001",
    "20000000-0000-4000-8000-0000000000ff",
    "ffffffff-0000-1000-8000-000000000001",
];
const REFS: [&str; 4] = [
    "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "0189a0b0-7c1e-7abc-9def-0123456789ab",
];

/// The rows, each value spelled by `spell`, as an INSERT.
fn insert(spell: impl Fn(&str) -> String) -> String {
    let rows: Vec<String> = IDS
        .iter()
        .zip(REFS)
        .enumerate()
        .map(|(i, (id, r))| format!("({}, {}, {i})", spell(id), spell(r)))
        .collect();
    format!("INSERT INTO u VALUES {}", rows.join(", "))
}

fn lower(u: &str) -> String {
    format!("'{u}'")
}

/// 16 bytes, as `binary(16)` keeps a UUID.
fn unhex(u: &str) -> String {
    format!("UNHEX('{}')", u.replace('-', ""))
}

fn upper(u: &str) -> String {
    format!("'{}'", u.to_uppercase())
}

/// The rows as canonical values, their digest by the reference encoding.
fn expected_digest() -> String {
    let uuid = |s: &str| Value::Uuid(uuid::Uuid::parse_str(s).unwrap());
    let mut digest = SegmentDigest::new();
    for (i, (id, r)) in IDS.iter().zip(REFS).enumerate() {
        digest.push(&row_hash(&[uuid(id), uuid(r), Value::Int(i as i128)]));
    }
    digest.finish().0
}

/// Both sides' streamed digests and the number of differences.
async fn digests(left_url: &str, right_url: &str) -> (String, String, usize) {
    let left = Source::connect_url("left", left_url).await.unwrap();
    let right = Source::connect_url("right", right_url).await.unwrap();
    let key = ["id".to_string()];
    let pair = TablePair::whole(&left, "u", &right, "u", &key);
    let comparison = compare_with(&pair, Default::default()).await.unwrap();
    assert!(comparison.schema.is_empty(), "{:?}", comparison.schema);
    assert_eq!(comparison.left.rows, 4);
    (
        comparison.left.digest.unwrap(),
        comparison.right.digest.unwrap(),
        comparison.differences.len(),
    )
}

#[tokio::test]
async fn uuids_in_every_spelling_digest_exactly_like_the_reference_encoding() {
    let (Some(pg), Some(pg_text), Some(maria), Some(maria_char), Some(maria_bin)) = (
        fresh_postgres("uuid_golden").await,
        fresh_postgres("uuid_golden_text").await,
        fresh_mysql("uuid_golden").await,
        fresh_mysql("uuid_golden_char").await,
        fresh_mysql("uuid_golden_bin").await,
    ) else {
        return;
    };
    pg_exec(
        &pg,
        &[
            "CREATE TABLE u (id uuid PRIMARY KEY, r uuid, n int)",
            &insert(lower),
        ],
    )
    .await;
    pg_exec(
        &pg_text,
        &[
            "CREATE TABLE u (id text PRIMARY KEY, r varchar(36), n int)",
            &insert(upper),
        ],
    )
    .await;
    mysql_exec(
        &maria,
        &[
            "CREATE TABLE u (id UUID PRIMARY KEY, r UUID, n int)",
            &insert(upper),
        ],
    )
    .await;
    mysql_exec(
        &maria_char,
        &[
            "CREATE TABLE u (id char(36) PRIMARY KEY, r char(36), n int)",
            &insert(upper),
        ],
    )
    .await;
    mysql_exec(
        &maria_bin,
        &[
            "CREATE TABLE u (id binary(16) PRIMARY KEY, r binary(16), n int)",
            &insert(unhex),
        ],
    )
    .await;
    let dir = temp_dir();
    let sqlite = sqlite_db(
        &dir.path().join("u.db"),
        &[
            "CREATE TABLE u (id UUID PRIMARY KEY, r UUID, n INTEGER)",
            &insert(upper),
        ],
    )
    .await;
    let expected = expected_digest();
    for other in [&pg_text, &maria, &maria_char, &maria_bin, &sqlite] {
        assert_eq!(
            digests(&pg, other).await,
            (expected.clone(), expected.clone(), 0),
            "{other}"
        );
    }
}

/// The JSON lines of `recon diff … --key id --strategy <strategy>`, which must exit 1.
fn diff_lines(left: &str, right: &str, strategy: &str) -> Vec<String> {
    let dir = temp_dir();
    let output = recon(
        &[
            "diff",
            left,
            "u",
            right,
            "u",
            "--key",
            "id",
            "--json",
            "--strategy",
            strategy,
        ],
        &[],
        dir.path(),
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{strategy}: {}",
        stderr(&output)
    );
    stdout(&output)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(str::to_string)
        .collect()
}

/// The planted change: one value's last digit, one row missing.
const CHANGED_REF: &str = "ffffffff-ffff-ffff-ffff-fffffffffffe";

fn planted(spell: fn(&str) -> String) -> [String; 2] {
    [
        format!(
            "UPDATE u SET r = {} WHERE id = {}",
            spell(CHANGED_REF),
            spell(IDS[2])
        ),
        format!("DELETE FROM u WHERE id = {}", spell(IDS[3])),
    ]
}

#[tokio::test]
async fn a_changed_uuid_is_found_by_both_strategies_whatever_the_spelling() {
    let (Some(pg), Some(pg_text), Some(maria), Some(maria_char), Some(maria_bin)) = (
        fresh_postgres("uuid_change").await,
        fresh_postgres("uuid_change_text").await,
        fresh_mysql("uuid_change").await,
        fresh_mysql("uuid_change_char").await,
        fresh_mysql("uuid_change_bin").await,
    ) else {
        return;
    };
    pg_exec(
        &pg,
        &[
            "CREATE TABLE u (id uuid PRIMARY KEY, r uuid, n int)",
            &insert(lower),
        ],
    )
    .await;
    let plant = |create: &str, spell: fn(&str) -> String| -> Vec<String> {
        vec![create.to_string(), insert(spell)]
            .into_iter()
            .chain(planted(spell))
            .collect()
    };

    pg_exec(
        &pg_text,
        &run(&plant(
            "CREATE TABLE u (id text PRIMARY KEY, r varchar(36), n int)",
            upper,
        )),
    )
    .await;
    mysql_exec(
        &maria,
        &run(&plant(
            "CREATE TABLE u (id UUID PRIMARY KEY, r UUID, n int)",
            upper,
        )),
    )
    .await;
    mysql_exec(
        &maria_char,
        &run(&plant(
            "CREATE TABLE u (id char(36) PRIMARY KEY, r char(36), n int)",
            upper,
        )),
    )
    .await;
    mysql_exec(
        &maria_bin,
        &run(&plant(
            "CREATE TABLE u (id binary(16) PRIMARY KEY, r binary(16), n int)",
            unhex,
        )),
    )
    .await;
    let expected = [
        format!(
            r#"{{"kind":"changed","key":{{"id":"{}"}},"columns":["r"],"values":[{{"column":"r","left":"{}","right":"{}"}}]}}"#,
            IDS[2], REFS[2], CHANGED_REF
        ),
        format!(
            r#"{{"kind":"missing_in_right","key":{{"id":"{}"}}}}"#,
            IDS[3]
        ),
    ];
    for other in [&pg_text, &maria, &maria_char, &maria_bin] {
        for strategy in ["stream", "bisect"] {
            assert_eq!(
                diff_lines(&pg, other, strategy),
                expected,
                "{strategy} {other}"
            );
        }
    }
    // SQLite pairs stream.
    let dir = temp_dir();
    let sql = plant(
        "CREATE TABLE u (id UUID PRIMARY KEY, r UUID, n INTEGER)",
        lower,
    );
    let sqlite = sqlite_db(&dir.path().join("u.db"), &run(&sql)).await;
    assert_eq!(diff_lines(&pg, &sqlite, "stream"), expected);
}

fn run(sql: &[String]) -> Vec<&str> {
    sql.iter().map(String::as_str).collect()
}

/// A text column read as UUIDs that holds something else stops the check, exit 2, whichever
/// the strategy: never hashed as text against the other side's UUIDs.
#[tokio::test]
async fn text_read_as_uuids_that_is_no_uuid_is_refused_by_both_strategies() {
    let (Some(pg), Some(pg_text), Some(maria_char)) = (
        fresh_postgres("uuid_refused").await,
        fresh_postgres("uuid_refused_text").await,
        fresh_mysql("uuid_refused_char").await,
    ) else {
        return;
    };
    pg_exec(
        &pg,
        &[
            "CREATE TABLE u (id uuid PRIMARY KEY, r uuid, n int)",
            &insert(lower),
        ],
    )
    .await;
    pg_exec(
        &pg_text,
        &[
            "CREATE TABLE u (id text PRIMARY KEY, r text, n int)",
            &insert(lower),
            "UPDATE u SET r = 'not-a-uuid' WHERE n = 1",
        ],
    )
    .await;
    mysql_exec(
        &maria_char,
        &[
            "CREATE TABLE u (id char(36) PRIMARY KEY, r char(36), n int)",
            &insert(lower),
            // the simple spelling orders unlike the hyphenated one
            &format!(
                "UPDATE u SET r = '{}' WHERE n = 1",
                REFS[0].replace('-', "")
            ),
        ],
    )
    .await;
    for (other, refusal) in [
        (
            &pg_text,
            r#"recon: source right, table u: invalid input syntax for type uuid: "not-a-uuid" (code 22P02)"#,
        ),
        (
            &maria_char,
            r#"recon: source right, table u: column "r" (char(36)): "a0eebc999c0b4ef8bb6d6bb9bd380a11" is not a UUID in its hyphenated form (8-4-4-4-12 hex digits)"#,
        ),
    ] {
        for strategy in ["stream", "bisect"] {
            let dir = temp_dir();
            let output = recon(
                &[
                    "diff",
                    &pg,
                    "u",
                    other,
                    "u",
                    "--key",
                    "id",
                    "--strategy",
                    strategy,
                ],
                &[],
                dir.path(),
            );
            assert_eq!(
                output.status.code(),
                Some(2),
                "{strategy}: {}",
                stderr(&output)
            );
            assert_eq!(stderr(&output).trim(), refusal, "{strategy}");
        }
    }
}

/// Where neither schema says UUID — a `char(36)` in capitals against a `binary(16)` — the
/// check's `column_types` does: compared by value by both strategies, the change found.
#[tokio::test]
async fn column_types_reads_char36_and_binary16_as_the_same_uuids() {
    let (Some(maria_char), Some(maria_bin)) = (
        fresh_mysql("uuid_hint_char").await,
        fresh_mysql("uuid_hint_bin").await,
    ) else {
        return;
    };
    mysql_exec(
        &maria_char,
        &run(&[
            "CREATE TABLE u (id char(36) PRIMARY KEY, r char(36), n int)".to_string(),
            insert(upper),
        ]),
    )
    .await;
    mysql_exec(
        &maria_bin,
        &run(&[
            "CREATE TABLE u (id binary(16) PRIMARY KEY, r binary(16), n int)".to_string(),
            insert(unhex),
            planted(unhex)[0].clone(),
        ]),
    )
    .await;
    for strategy in ["stream", "bisect"] {
        let config = TestConfig::new()
            .store("STORE_URL")
            .source("chars", "CHARS_URL")
            .source("bytes", "BYTES_URL")
            .integrity("uuids", "chars.u", "bytes.u", "id")
            .set("strategy", strategy)
            .set("column_types", vec![("id", "uuid"), ("r", "uuid")])
            .to_toml();
        let scenario = Scenario::new("STORE_URL")
            .env("CHARS_URL", &maria_char)
            .env("BYTES_URL", &maria_bin)
            .config(&config);
        let (out, summary) = scenario.run("2026-11-20", &[]);
        assert_eq!(out.status.code(), Some(1), "{strategy}: {}", stderr(&out));
        let check = &summary["checks"][0];
        assert_eq!(check["discrepancies"], 1, "{strategy}: {check}");
        let csv = std::fs::read_to_string(scenario.dir().join("out/discrepancies.csv")).unwrap();
        assert_eq!(
            csv.lines().nth(1),
            Some(
                "\"1\",\"uuids\",\"all\",\"changed\",\"open\",\"id=20000000-0000-4000-8000-0000000000ff\",\"r\",\"\",\"\",\"\",\"\",\"1\",\"ffffffff-ffff-ffff-ffff-ffffffffffff\",\"ffffffff-ffff-ffff-ffff-fffffffffffe\""
            ),
            "{strategy}"
        );
        assert_eq!(check["left"]["rows"], 4, "{strategy}: {check}");
    }
}

#[test]
fn column_types_names_only_uuid() {
    let config = TestConfig::new()
        .store("STORE_URL")
        .source("a", "A_URL")
        .integrity("uuids", "a.u", "a.v", "id")
        .set("column_types", vec![("id", "integer")])
        .to_toml();
    let scenario = Scenario::new("STORE_URL")
        .env("A_URL", "sqlite://nowhere.db")
        .config(&config);
    let out = scenario.recon(&["config", "check", "--config", "recon.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        r#"recon: recon.toml: integrity[0] ("uuids").column_types.id: "integer" is not a type a column can be declared as (only "uuid")"#
    );
}
