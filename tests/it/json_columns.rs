//! JSON columns compare by value: PostgreSQL `json` and `jsonb`, MariaDB's `JSON` (a LONGTEXT
//! with a `json_valid` check) and SQLite text declared `JSON` digest alike for equal documents
//! written differently (key order, whitespace, `1.0` and `1`, escapes), and a change inside a
//! document is found by streaming and by bisection. A column recon cannot compare is never
//! passed over in silence: the check refuses to run (exit 2) unless it accepts the column as
//! not compared, and then says so in its result.

use crate::common::*;
use recon::canonical::{SegmentDigest, Value, row_hash};
use recon::integrity::{CompareOptions, Comparison, Segmenting, Strategy, TablePair, compare_with};
use recon::source::pushdown::{KeyRange, Snapshot};
use recon::source::{ReadSpec, Source};

const PG_SCHEMA: &str = "CREATE TABLE docs (id bigint PRIMARY KEY, doc json, docb jsonb)";
const MARIADB_SCHEMA: &str = "CREATE TABLE docs (id bigint PRIMARY KEY, doc JSON, docb JSON)";
const SQLITE_SCHEMA: &str = "CREATE TABLE docs (id INTEGER PRIMARY KEY, doc JSON, docb JSON)";

/// The documents in canonical form: keys sorted by their UTF-8 bytes, no whitespace, numbers by
/// value, strings escaped as RFC 8785 says.
const CANONICAL: [Option<&str>; 8] = [
    Some(r#"{"a":[1,2.5,{"x":null,"y":true}],"b":1}"#),
    Some(r#""café 😀""#),
    Some("100"),
    None,
    Some(r#"{"big":12345678901234567890.123456789,"n":0,"s":"line\nbreak \"q\" \\ /"}"#),
    Some(r#"{"e":{},"f":[]}"#),
    Some(r#"{"K":"E","k":"é","ä":1}"#),
    Some(r#"[0.001,-1.5,true,false,null,""]"#),
];

/// The same documents as each engine's users might write them (PostgreSQL takes them as SQL
/// text as is; MariaDB's literals need their backslashes doubled).
const PG_DOCS: [&str; 8] = [
    r#"'{"b": 1.0, "a": [1, 2.50, {"y": true, "x": null}]}'"#,
    r#"'"caf\u00e9 \ud83d\ude00"'"#,
    "'1e2'",
    "NULL",
    r#"'{ "s": "line\nbreak \"q\" \\ \/", "n": -0.0, "big": 12345678901234567890.1234567890 }'"#,
    "'{\"f\":[ ],\n \"e\":{ }}'",
    r#"'{"ä":1,"k":"é","K":"E"}'"#,
    r#"'[1e-3, -15E-1, true, false, null, ""]'"#,
];
const MARIADB_DOCS: [&str; 8] = [
    r#"'{"a":[1.0,25e-1,{"x":null,"y":true}],"b":1.00}'"#,
    r#"'"café 😀"'"#,
    "'100.0'",
    "NULL",
    r#"'{"n":0,"big":12345678901234567890.123456789000,"s":"line\\nbreak \\"q\\" \\\\ /"}'"#,
    r#"'{"e":{},"f":[]}'"#,
    r#"'{"K":"E","ä":1,"k":"\\u00e9"}'"#,
    r#"'[0.0010,-1.50,true,false,null,""]'"#,
];
const SQLITE_DOCS: [&str; 8] = [
    r#"' {"b":1,"a":[1,2.5,{"x":null,"y":true}]} '"#,
    r#"'"café \ud83d\ude00"'"#,
    "'1E+2'",
    "NULL",
    r#"'{"big":1.2345678901234567890123456789e19,"n":-0,"s":"line\u000abreak \u0022q\u0022 \u005c \/"}'"#,
    r#"'{"e":{},"f":[]}'"#,
    r#"'{"k":"é","ä":1,"K":"E"}'"#,
    r#"'[1E-3,-1.5,true,false,null,""]'"#,
];

/// `INSERT INTO docs` of the documents, each in both columns.
fn insert(docs: &[&str; 8]) -> String {
    let rows: Vec<String> = docs
        .iter()
        .enumerate()
        .map(|(i, doc)| format!("({}, {doc}, {doc})", i + 1))
        .collect();
    format!("INSERT INTO docs VALUES {}", rows.join(", "))
}

/// The partition digest of the canonical documents by the reference encoding.
fn expected_digest() -> String {
    let mut digest = SegmentDigest::new();
    for (i, doc) in CANONICAL.iter().enumerate() {
        let value = || doc.map_or(Value::Null, |d| Value::Json(d.to_string()));
        digest.push(&row_hash(&[Value::Int(i as i128 + 1), value(), value()]));
    }
    digest.finish().0
}

async fn postgres_docs(test: &str, changes: &[&str]) -> Option<String> {
    let url = fresh_postgres(test).await?;
    let insert = insert(&PG_DOCS);
    pg_exec(&url, &[&[PG_SCHEMA, &insert], changes].concat()).await;
    Some(url)
}

async fn mariadb_docs(test: &str, changes: &[&str]) -> Option<String> {
    let url = fresh_mysql(test).await?;
    let insert = insert(&MARIADB_DOCS);
    mysql_exec(&url, &[&[MARIADB_SCHEMA, &insert], changes].concat()).await;
    Some(url)
}

async fn sqlite_docs(dir: &std::path::Path, changes: &[&str]) -> String {
    let insert = insert(&SQLITE_DOCS);
    sqlite_db(
        &dir.join("docs.db"),
        &[&[SQLITE_SCHEMA, &insert], changes].concat(),
    )
    .await
}

async fn compare(
    left: &str,
    right: &str,
    strategy: Strategy,
    segmenting: Segmenting,
) -> Comparison {
    let (left, right) = (
        Source::connect_url("left", left).await.unwrap(),
        Source::connect_url("right", right).await.unwrap(),
    );
    let key = ["id".to_string()];
    let pair = TablePair::whole(&left, "docs", &right, "docs", &key);
    let options = CompareOptions {
        strategy,
        segmenting,
        ..Default::default()
    };
    let comparison = compare_with(&pair, options).await.unwrap();
    left.close().await;
    right.close().await;
    comparison
}

/// Every difference as `kind id [columns]`.
fn described(c: &Comparison) -> Vec<String> {
    c.differences
        .iter()
        .map(|d| {
            let columns: Vec<&str> = d.changed.iter().map(|c| c.column.as_str()).collect();
            format!(
                "{} {} [{}]",
                d.kind.as_str(),
                d.key[0].canonical_text().unwrap(),
                columns.join(",")
            )
        })
        .collect()
}

/// Both sides streamed against the SQLite copy: both digest to the reference, nothing differs.
async fn assert_golden_against_sqlite(server: &str, dir: &std::path::Path) {
    let sqlite = sqlite_docs(dir, &[]).await;
    let c = compare(server, &sqlite, Strategy::Stream, Segmenting::default()).await;
    assert!(c.schema.is_empty() && c.not_compared.is_empty());
    assert_eq!(described(&c), Vec::<String>::new());
    assert_eq!(c.left.rows, 8);
    let expected = expected_digest();
    assert_eq!(
        c.left.digest.as_deref(),
        Some(expected.as_str()),
        "{server}"
    );
    assert_eq!(c.right.digest.as_deref(), Some(expected.as_str()), "SQLite");
}

#[tokio::test]
async fn postgres_json_and_jsonb_digest_exactly_like_the_reference_encoding() {
    let Some(pg) = postgres_docs("json_golden", &[]).await else {
        return;
    };
    let dir = temp_dir();
    assert_golden_against_sqlite(&pg, dir.path()).await;
}

#[tokio::test]
async fn mariadb_json_digests_exactly_like_the_reference_encoding() {
    let Some(my) = mariadb_docs("json_golden", &[]).await else {
        return;
    };
    // MariaDB's JSON is a LONGTEXT with a json_valid check: read as JSON, its documents
    // digest like the canonical ones (as text they would not).
    let dir = temp_dir();
    assert_golden_against_sqlite(&my, dir.path()).await;
}

/// A reader with SELECT alone (as the README advises) still finds MariaDB's JSON columns: the
/// same documents spaced otherwise in a second MariaDB table compare equal, which as text they
/// would not. (information_schema.CHECK_CONSTRAINTS shows such a reader nothing.)
#[tokio::test]
async fn a_select_only_mariadb_reader_reads_json_columns_as_json() {
    let spaced = MARIADB_DOCS.map(|d| d.replace(':', ": ").replace(',', " , "));
    let Some(my) = mariadb_docs(
        "json_reader",
        &[
            "CREATE TABLE docs2 (id bigint PRIMARY KEY, doc JSON, docb JSON)",
            &insert(&spaced.each_ref().map(String::as_str)).replacen("docs", "docs2", 1),
        ],
    )
    .await
    else {
        return;
    };
    let reader = test_name("json_reader");
    let database = test_name("json_reader");
    mysql_exec(
        &my,
        &[
            &format!("DROP USER IF EXISTS '{reader}'@'%'"),
            &format!("CREATE USER '{reader}'@'%'"),
            &format!("GRANT SELECT ON {database}.docs TO '{reader}'@'%'"),
            &format!("GRANT SELECT ON {database}.docs2 TO '{reader}'@'%'"),
        ],
    )
    .await;
    let url = my.replacen("mysql://root@", &format!("mysql://{reader}@"), 1);
    let source = Source::connect_url("reader", &url).await.unwrap();
    let key = ["id".to_string()];
    let pair = TablePair::whole(&source, "docs", &source, "docs2", &key);
    let c = compare_with(&pair, CompareOptions::default())
        .await
        .unwrap();
    source.close().await;
    assert_eq!(described(&c), Vec::<String>::new());
    assert_eq!(c.left.digest.as_deref(), Some(expected_digest().as_str()));
    assert_eq!(c.left.digest, c.right.digest);
    mysql_exec(&my, &[&format!("DROP USER IF EXISTS '{reader}'@'%'")]).await;
}

/// Recon's own JSON-aware segment digest (SQL hashes the other columns, recon the documents)
/// is the same on PostgreSQL and MariaDB for equal documents, and differs for one changed.
#[tokio::test]
async fn pushed_down_digests_of_json_tables_agree_across_engines() {
    let (Some(pg), Some(my), Some(changed)) = (
        postgres_docs("json_pushdown", &[]).await,
        mariadb_docs("json_pushdown", &[]).await,
        mariadb_docs(
            "json_pushdown_changed",
            &[r#"UPDATE docs SET docb = '{"e":{},"f":[null]}' WHERE id = 6"#],
        )
        .await,
    ) else {
        return;
    };
    let mut digests = Vec::new();
    for url in [&pg, &my, &changed] {
        let source = Source::connect_url("side", url).await.unwrap();
        let spec = ReadSpec {
            table: "docs".into(),
            columns: source.columns("docs").await.unwrap(),
            key_len: 1,
            day: None,
            filter: None,
            in_flight: None,
            key_range: None,
            unordered: false,
        };
        let mut snapshot = Snapshot::open(&source).await.unwrap();
        let all = KeyRange::default();
        let (rows, digest) = snapshot.digest(&source, &spec, 3, &all).await.unwrap();
        let hashes = snapshot.key_hashes(&source, &spec, 3, &all).await.unwrap();
        assert_eq!((rows, hashes.len()), (8, 8));
        drop(snapshot);
        source.close().await;
        digests.push(digest);
    }
    assert_eq!(digests[0], digests[1], "equal documents, equal digests");
    assert_ne!(
        digests[1], digests[2],
        "a changed document changes the digest"
    );
}

/// What the right side's copy changes inside its documents: a number in row 1's `doc`, a nested
/// empty object in row 6's `docb`, a key in row 7's `doc`.
const PG_CHANGES: [&str; 3] = [
    r#"UPDATE docs SET doc = '{"b": 1.01, "a": [1, 2.50, {"y": true, "x": null}]}' WHERE id = 1"#,
    r#"UPDATE docs SET docb = '{"e": {"z": null}, "f": []}' WHERE id = 6"#,
    r#"UPDATE docs SET doc = '{"ä":1,"k":"é","K ":"E"}' WHERE id = 7"#,
];
const EXPECTED: [&str; 3] = ["changed 1 [doc]", "changed 6 [docb]", "changed 7 [doc]"];

/// Small first-level segments: a JSON table's bisection narrows segment after segment.
fn small_segments() -> Segmenting {
    Segmenting {
        segment_rows: 3,
        leaf_rows: 2,
        fanout: 2,
        ..Segmenting::default()
    }
}

#[tokio::test]
async fn a_change_inside_a_document_is_found_between_postgres_and_mariadb() {
    let (Some(pg), Some(my)) = (
        postgres_docs("json_change_pg_my", &[]).await,
        mariadb_docs("json_change_pg_my", &PG_CHANGES).await,
    ) else {
        return;
    };
    for strategy in [Strategy::Stream, Strategy::Bisect] {
        for segmenting in [Segmenting::default(), small_segments()] {
            let c = compare(&pg, &my, strategy, segmenting).await;
            assert_eq!(described(&c), EXPECTED, "{strategy:?}");
            assert_eq!((c.left.rows, c.right.rows), (8, 8));
        }
    }
    // As `recon diff` prints it: both documents in canonical form.
    let dir = temp_dir();
    for strategy in ["stream", "bisect"] {
        let output = recon(
            &[
                "diff",
                &pg,
                "docs",
                &my,
                "docs",
                "--key",
                "id",
                "--json",
                "--strategy",
                strategy,
            ],
            &[],
            dir.path(),
        );
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let first: serde_json::Value =
            serde_json::from_str(stdout(&output).lines().next().unwrap()).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"kind": "changed", "key": {"id": "1"}, "columns": ["doc"],
                "values": [{"column": "doc",
                    "left": r#"{"a":[1,2.5,{"x":null,"y":true}],"b":1}"#,
                    "right": r#"{"a":[1,2.5,{"x":null,"y":true}],"b":1.01}"#}]}),
            "{strategy}"
        );
    }
}

#[tokio::test]
async fn a_change_inside_a_document_is_found_between_two_postgres_databases() {
    let (Some(left), Some(right)) = (
        postgres_docs("json_change_pg_left", &[]).await,
        postgres_docs("json_change_pg_right", &PG_CHANGES).await,
    ) else {
        return;
    };
    for strategy in [Strategy::Stream, Strategy::Bisect] {
        for segmenting in [Segmenting::default(), small_segments()] {
            let c = compare(&left, &right, strategy, segmenting).await;
            assert_eq!(described(&c), EXPECTED, "{strategy:?}");
        }
    }
}

#[tokio::test]
async fn a_change_inside_a_document_is_found_between_postgres_and_sqlite() {
    let Some(pg) = postgres_docs("json_change_pg_sqlite", &[]).await else {
        return;
    };
    let dir = temp_dir();
    let sqlite = sqlite_docs(dir.path(), &PG_CHANGES).await;
    let c = compare(&pg, &sqlite, Strategy::Stream, Segmenting::default()).await;
    assert_eq!(described(&c), EXPECTED);
}

/// A document kept in a plain text column compares by value with the same document in a JSON
/// one: the column is read as JSON on both sides.
#[tokio::test]
async fn a_text_column_holding_documents_compares_as_json_with_a_json_column() {
    let dir = temp_dir();
    let json = sqlite_docs(dir.path(), &[]).await;
    let text = sqlite_db(
        &dir.path().join("text.db"),
        &[
            "CREATE TABLE docs (id INTEGER PRIMARY KEY, doc TEXT, docb TEXT)",
            &insert(&SQLITE_DOCS.map(|d| if d == "'1E+2'" { "'100.00'" } else { d })),
        ],
    )
    .await;
    let c = compare(&json, &text, Strategy::Stream, Segmenting::default()).await;
    assert_eq!(described(&c), Vec::<String>::new());
    assert_eq!(c.right.digest.as_deref(), Some(expected_digest().as_str()));
}

/// Text that is no JSON document in a JSON column stops the comparison with the column named
/// and where the text goes wrong (exit 2); a JSON key is refused.
#[tokio::test]
async fn invalid_json_is_an_error_naming_the_column_and_json_keys_are_refused() {
    let dir = temp_dir();
    let good = sqlite_docs(dir.path(), &[]).await;
    let bad = sqlite_db(
        &dir.path().join("bad.db"),
        &[
            SQLITE_SCHEMA,
            &insert(&SQLITE_DOCS),
            r#"UPDATE docs SET doc = '{"a": 1,}' WHERE id = 3"#,
        ],
    )
    .await;
    let output = recon(
        &["diff", &good, "docs", &bad, "docs", "--key", "id"],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            r#"column "doc" (JSON): not valid JSON at byte 8: expected an object key (a string)"#
        ),
        "{}",
        stderr(&output)
    );
    let output = recon(
        &["diff", &good, "docs", &good, "docs", "--key", "doc"],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(r#"key column "doc" is JSON"#),
        "{}",
        stderr(&output)
    );
}

/// Two SQLite sides whose only difference is in a floating-point column: recon cannot compare
/// it, so it does not come out clean without saying so.
async fn float_sides(dir: &std::path::Path) -> [String; 3] {
    sqlite_sides(
        dir,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, memo TEXT, rate REAL)",
        "INSERT INTO t VALUES (1, 'a', 1.5), (2, 'b', 2.5)",
        "INSERT INTO t VALUES (1, 'a', 1.5), (2, 'b', 2.75)",
    )
    .await
}

#[tokio::test]
async fn diff_refuses_a_column_it_cannot_compare_unless_accepted() {
    let dir = temp_dir();
    let [left, right, _] = float_sides(dir.path()).await;
    let args = ["diff", &left, "t", &right, "t", "--key", "id"];
    let refused = recon(&args, &[], dir.path());
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert_eq!(stdout(&refused), "");
    let message = stderr(&refused);
    assert!(
        message.contains(r#"recon cannot compare column(s) "rate" (floating point (floats are never exact): REAL)"#)
            && message.contains(r#"accept_uncompared = ["rate"]"#)
            && message.contains("--accept-uncompared rate"),
        "{message}"
    );
    assert!(!message.contains("not compared: not compared"), "{message}");
    let accepted = recon(
        &[
            &args[..],
            &["--accept-uncompared", "rate", "--stats", "--json"],
        ]
        .concat(),
        &[],
        dir.path(),
    );
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    let err = stderr(&accepted);
    assert!(
        err.contains(r#"note: column "rate" not compared (--accept-uncompared): floating point (floats are never exact): REAL"#),
        "{err}"
    );
    assert!(!err.contains("not compared: not compared"), "{err}");
    let stats: serde_json::Value = err
        .lines()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap();
    assert_eq!(
        stats["not_compared"],
        serde_json::json!([{"column": "rate", "reason": "floating point (floats are never exact): REAL"}])
    );
    // Naming the columns to compare leaves it out as before.
    let listed = recon(
        &[&args[..], &["--columns", "memo"]].concat(),
        &[],
        dir.path(),
    );
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
}

#[tokio::test]
async fn a_check_with_a_column_it_cannot_compare_fails_unless_accepted_and_then_says_so() {
    let dir = temp_dir();
    let [l, r, s] = float_sides(dir.path()).await;
    let env = [("L", l.as_str()), ("R", r.as_str()), ("S", s.as_str())];
    write(
        dir.path(),
        "recon.toml",
        &ledger_payments_t(TestConfig::new()),
    );
    let args = run_args("2026-11-20", "out", &[]);
    let refused = recon(&args, &env, dir.path());
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let check = &summary(dir.path())["checks"][0];
    assert_eq!(check["status"], "failed");
    let error = check["error"].as_str().unwrap();
    assert!(
        error.contains(r#""rate" (floating point (floats are never exact): REAL)"#)
            && error.contains(r#"accept_uncompared = ["rate"]"#),
        "{error}"
    );

    let config = ledger_payments_t(TestConfig::new());
    write(
        dir.path(),
        "recon.toml",
        &format!("{config}accept_uncompared = [\"rate\"]\n"),
    );
    let accepted = recon(&args, &env, dir.path());
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    let check = &summary(dir.path())["checks"][0];
    assert_eq!(check["status"], "clean");
    assert_eq!(
        check["not_compared"],
        serde_json::json!([{"column": "rate", "reason": "floating point (floats are never exact): REAL"}])
    );
    let line =
        "not compared (accept_uncompared): rate (floating point (floats are never exact): REAL)";
    assert!(
        stdout(&accepted).contains(&format!("~ {line}")),
        "{}",
        stdout(&accepted)
    );
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(
        html.contains("not compared (accept_uncompared): rate"),
        "{html}"
    );
    let config_check = recon(
        &["config", "check", "--config", "recon.toml"],
        &env,
        dir.path(),
    );
    assert!(
        stdout(&config_check).contains("accept_uncompared = [\"rate\"]"),
        "{}",
        stdout(&config_check)
    );
}
