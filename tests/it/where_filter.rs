//! `recon diff --where`: the filter's values are bound, never pasted; text compares by bytes on
//! every engine (MariaDB's case-insensitive, PAD SPACE collations included); the differences
//! reported are exactly those of the rows the filter keeps on each side.

use crate::common::*;
use recon::canonical::Value;
use recon::source::SourceSpec;
use recon::source::filter::{Filter, RowFilter};
use recon::source::{ReadSpec, Source};

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Postgres,
    MariaDb,
    Sqlite,
}

fn schema(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => {
            "CREATE TABLE ledger (id bigint PRIMARY KEY, currency char(3), memo text,
             amount numeric(18,4), created_at timestamptz, settled boolean, rate float8)"
        }
        Engine::MariaDb => {
            "CREATE TABLE ledger (id bigint PRIMARY KEY, currency char(3), memo varchar(100)
             CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci, amount decimal(18,4),
             created_at datetime(6), settled tinyint(1), rate double)"
        }
        Engine::Sqlite => {
            "CREATE TABLE ledger (id INTEGER PRIMARY KEY, currency TEXT, memo TEXT,
             amount DECIMAL(18,4), created_at TIMESTAMP, settled BOOLEAN, rate REAL)"
        }
    }
}

/// id, currency, memo, amount, created_at (UTC), settled.
type Row = (
    i64,
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    Option<bool>,
);

const BASE: [Row; 5] = [
    (
        1,
        "EUR",
        Some("abc"),
        "10.5000",
        "2026-01-01 10:00:00",
        Some(true),
    ),
    (
        2,
        "eur",
        Some("ABC"),
        "10.4999",
        "2025-12-31 23:59:59.999999",
        Some(false),
    ),
    (3, "EUR", Some("abc "), "11", "2026-01-02 00:00:00", None),
    (4, "USD", None, "-5", "2026-01-01 00:00:00", Some(true)),
    (5, "GBP", Some("é"), "0", "2026-01-01 12:00:00", Some(false)),
];

/// The fixture's INSERT, each value written the way `engine` takes it.
fn insert(engine: Engine, rows: &[Row]) -> String {
    let text = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let values: Vec<String> = rows
        .iter()
        .map(|(id, currency, memo, amount, at, settled)| {
            let at = match engine {
                Engine::Postgres => text(&format!("{at}+00")),
                _ => text(at),
            };
            let settled = match (engine, settled) {
                (_, None) => "NULL",
                (Engine::Postgres, Some(b)) => {
                    if *b {
                        "true"
                    } else {
                        "false"
                    }
                }
                (_, Some(b)) => {
                    if *b {
                        "1"
                    } else {
                        "0"
                    }
                }
            };
            let memo = memo.map_or("NULL".to_string(), text);
            format!(
                "({id}, {}, {memo}, {amount}, {at}, {settled}, 1.5)",
                text(currency)
            )
        })
        .collect();
    format!("INSERT INTO ledger VALUES {}", values.join(", "))
}

/// A database of `engine` holding `rows`, or `None` when its server is not there.
async fn ledger(engine: Engine, test: &str, rows: &[Row], dir: &std::path::Path) -> Option<String> {
    let statements = [schema(engine).to_string(), insert(engine, rows)];
    let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
    Some(match engine {
        Engine::Postgres => {
            let url = fresh_postgres(test).await?;
            pg_exec(&url, &statements).await;
            url
        }
        Engine::MariaDb => {
            let url = fresh_mysql(test).await?;
            mysql_exec(&url, &statements).await;
            url
        }
        Engine::Sqlite => sqlite_db(&dir.join(format!("{test}.db")), &statements).await,
    })
}

/// The filter typed against the source's own columns.
async fn row_filter(source: &Source, filter: &str) -> (ReadSpec, RowFilter) {
    let columns = source.columns("ledger").await.unwrap();
    let typed = Filter::parse(filter)
        .unwrap()
        .resolve(|name| {
            let at = columns.iter().position(|c| c.name == name).unwrap();
            Ok((at, columns[at].clone(), columns[at].clone()))
        })
        .unwrap_or_else(|e| panic!("{filter}: {e}"));
    let spec = ReadSpec {
        table: "ledger".into(),
        columns: columns.into_iter().filter(|c| c.name != "rate").collect(),
        key_len: 1,
        day: None,
        filter: None,
        in_flight: None,
        key_range: None,
        unordered: false,
    };
    (spec, typed)
}

/// The ids of the rows `spec` streams, as the source sends them (before the reader filters).
async fn streamed(source: &Source, spec: ReadSpec) -> Vec<Vec<Value>> {
    let mut rx = source.stream_rows(spec);
    let mut rows = Vec::new();
    while let Some(batch) = rx.recv().await {
        rows.extend(batch.unwrap().rows().map(<[Value]>::to_vec));
    }
    rows
}

fn ids(rows: &[Vec<Value>]) -> Vec<i128> {
    rows.iter()
        .map(|r| match r[0] {
            Value::Int(id) => id,
            ref other => panic!("{other:?}"),
        })
        .collect()
}

/// Each predicate with the ids it keeps of `BASE`.
const CASES: &[(&str, &[i128])] = &[
    ("memo = 'abc'", &[1]),
    ("memo = 'ABC'", &[2]),
    ("memo = 'abc '", &[3]),
    ("memo > 'abc'", &[3, 5]),
    ("memo <> 'abc'", &[2, 3, 5]),
    ("memo IN ('abc', 'é')", &[1, 5]),
    ("memo IS NULL", &[4]),
    ("memo IS NOT NULL", &[1, 2, 3, 5]),
    ("currency = 'EUR'", &[1, 3]),
    ("currency = 'EUR '", &[]),
    ("currency != 'EUR' AND currency <= 'USD'", &[4, 5]),
    ("amount = 10.5", &[1]),
    ("amount >= 10.5 AND currency = 'EUR'", &[1, 3]),
    ("amount < 0", &[4]),
    ("id IN (1, 3, 99) AND id > -1", &[1, 3]),
    ("settled = true", &[1, 4]),
    ("settled <> true", &[2, 5]),
    (
        "created_at >= '2026-01-01T00:00:00Z' AND created_at < '2026-01-02T00:00:00Z'",
        &[1, 4, 5],
    ),
    ("created_at < '2026-01-01T01:00:00+01:00'", &[2]),
    ("created_at <= '2025-12-31 23:59:59.999999Z'", &[2]),
    ("memo = 'x''; DROP TABLE ledger; --'", &[]),
];

/// The rows of `source` the pushed-down SQL alone selects for `predicate` are exactly `want`,
/// and so are the rows the reader's own evaluation keeps of every row.
async fn assert_exact(source: &Source, predicate: &str, want: &[i128]) {
    let (spec, filter) = row_filter(source, predicate).await;
    let every_row = streamed(source, spec.clone()).await;
    let kept: Vec<_> = every_row
        .into_iter()
        .filter(|r| filter.matches(r))
        .collect();
    assert_eq!(ids(&kept), want, "reader: {predicate}");
    let pushed = ReadSpec {
        filter: Some(filter),
        in_flight: None,
        key_range: None,
        unordered: false,
        ..spec
    };
    assert_eq!(
        ids(&streamed(source, pushed).await),
        want,
        "SQL: {predicate}"
    );
}

async fn pushdown_is_exact(engine: Engine, test: &str) {
    let dir = temp_dir();
    let Some(url) = ledger(engine, test, &BASE, dir.path()).await else {
        return;
    };
    let source = Source::connect_url("src", &url).await.unwrap();
    for (predicate, want) in CASES {
        assert_exact(&source, predicate, want).await;
    }
    // The hostile literal was a value: the table is all there.
    assert_exact(&source, "id > 0", &[1, 2, 3, 4, 5]).await;
    source.close().await;
}

#[tokio::test]
async fn postgres_pushdown_selects_exactly_the_filtered_rows() {
    pushdown_is_exact(Engine::Postgres, "where_pushdown").await;
}

#[tokio::test]
async fn mariadb_pushdown_compares_text_by_bytes_despite_its_collation() {
    pushdown_is_exact(Engine::MariaDb, "where_pushdown").await;
}

#[tokio::test]
async fn mariadb_wall_clock_times_are_compared_in_the_source_zone() {
    let dir = temp_dir();
    let Some(url) = ledger(Engine::MariaDb, "where_zone", &BASE, dir.path()).await else {
        return;
    };
    let source = Source::connect(&SourceSpec {
        name: "src".into(),
        url,
        timezone: chrono_tz::Europe::Amsterdam,
        max_connections: 2,
        statement_timeout_secs: 60,
        connect_timeout_secs: 10,
        retry: Default::default(),
    })
    .await
    .unwrap();
    // DATETIME 2026-01-01 10:00:00 in Amsterdam is 09:00Z; the one 00:00:00 is 2025-12-31 23:00Z.
    assert_exact(&source, "created_at < '2026-01-01T09:30:00Z'", &[1, 2, 4]).await;
    assert_exact(&source, "created_at = '2025-12-31T23:00:00Z'", &[4]).await;
    source.close().await;
}

/// `recon diff … --where … --json`: its exit code and its JSON lines, in key order.
fn diff(
    dir: &std::path::Path,
    left: &str,
    right: &str,
    filter: &str,
) -> (Option<i32>, Vec<serde_json::Value>) {
    let output = recon(
        &[
            "diff",
            left,
            "ledger",
            right,
            "ledger",
            "--key",
            "id",
            "--columns",
            "currency,memo,amount",
            "--json",
            "--where",
            filter,
        ],
        &[],
        dir,
    );
    // Which rows differ is what these tests are about: the values are left out.
    let lines = stdout(&output)
        .lines()
        .map(|l| {
            let mut line: serde_json::Value =
                serde_json::from_str(l).expect("one JSON object per line");
            if let Some(object) = line.as_object_mut() {
                object.remove("values");
            }
            line
        })
        .collect();
    (output.status.code(), lines)
}

fn changed(id: &str, columns: &[&str]) -> serde_json::Value {
    serde_json::json!({"kind": "changed", "key": {"id": id}, "columns": columns})
}

fn missing(side: &str, id: &str) -> serde_json::Value {
    serde_json::json!({"kind": format!("missing_in_{side}"), "key": {"id": id}})
}

#[tokio::test]
async fn postgres_against_mariadb_reports_only_the_differences_inside_the_filter() {
    let dir = temp_dir();
    let mut right = BASE.to_vec();
    right[0].2 = Some("abd"); // inside: changed
    right[1].2 = Some("ABD"); // 'eur': outside
    right.remove(2); // id 3 inside: missing in right
    right[2].3 = "-6"; // USD: outside
    right.push((6, "EUR", Some("new"), "20", "2026-01-01 00:00:00", None)); // inside
    let mut left = BASE.to_vec();
    left.push((7, "EUR", Some("z"), "10.4999", "2026-01-01 00:00:00", None));
    right.push((7, "EUR", Some("z"), "10.5", "2026-01-01 00:00:00", None)); // inside on the right only
    let Some(l) = ledger(Engine::Postgres, "where_diff", &left, dir.path()).await else {
        return;
    };
    let Some(r) = ledger(Engine::MariaDb, "where_diff", &right, dir.path()).await else {
        return;
    };
    let (code, lines) = diff(dir.path(), &l, &r, "currency = 'EUR' AND amount >= 10.5");
    assert_eq!(code, Some(1));
    let want = [
        changed("1", &["memo"]),
        missing("right", "3"),
        missing("left", "6"),
        missing("left", "7"),
    ];
    assert_eq!(lines, want);
    // numeric(18,4) 10.5000 and decimal(18,4) 10.5000 both match 10.5.
    let (code, lines) = diff(dir.path(), &l, &r, "amount = 10.5");
    assert_eq!(code, Some(1));
    assert_eq!(
        lines,
        Vec::from([changed("1", &["memo"]), missing("left", "7")])
    );
}

#[tokio::test]
async fn mariadb_against_sqlite_matches_text_exactly_and_binds_hostile_literals() {
    let dir = temp_dir();
    let mut right = BASE.to_vec();
    right[0].2 = Some("abd");
    right[1].2 = Some("ABD");
    right[2].2 = Some("abc"); // the trailing space gone
    right[3].3 = "-6";
    let Some(l) = ledger(Engine::MariaDb, "where_text", &BASE, dir.path()).await else {
        return;
    };
    let r = ledger(Engine::Sqlite, "where_text", &right, dir.path())
        .await
        .unwrap_or_default();
    // Only 'abc' itself, not 'ABC' nor 'abc ', on the MariaDB side.
    let (code, lines) = diff(dir.path(), &l, &r, "memo = 'abc'");
    assert_eq!(code, Some(1));
    assert_eq!(
        lines,
        Vec::from([missing("right", "1"), missing("left", "3")])
    );

    let (code, lines) = diff(dir.path(), &l, &r, "memo = 'x''; DROP TABLE ledger; --'");
    assert_eq!((code, lines), (Some(0), Vec::new()));
    let (code, lines) = diff(dir.path(), &l, &r, "id > 0");
    assert_eq!(code, Some(1));
    assert_eq!(lines.len(), 4, "both tables still whole: {lines:?}");
}

#[tokio::test]
async fn what_is_not_a_plain_filter_is_refused_before_any_row_is_read() {
    let dir = temp_dir();
    let db = ledger(Engine::Sqlite, "where_refused", &BASE, dir.path())
        .await
        .unwrap_or_default();
    for (filter, message) in [
        (
            "nope = 1",
            "where: column \"nope\" does not exist in left.ledger (at character 1)",
        ),
        (
            "id = 1 OR id = 2",
            "where: OR is not supported; terms are joined by AND only (at character 8)",
        ),
        (
            "id = 1; DROP TABLE ledger",
            "where: semicolons are not allowed",
        ),
        (
            "rate > 1",
            "where: column \"rate\" is float (REAL) and cannot be filtered on exactly (at character 1)",
        ),
        (
            "amount = 'ten'",
            "where: column \"amount\" (DECIMAL(18,4)): 'ten' is not a decimal value",
        ),
        (
            "created_at > '2026-01-01'",
            "has no zone; write it with Z or an offset",
        ),
    ] {
        let output = recon(
            &[
                "diff",
                &db,
                "ledger",
                &db,
                "ledger",
                "--key",
                "id",
                "--accept-uncompared",
                "rate",
                "--where",
                filter,
            ],
            &[],
            dir.path(),
        );
        assert_eq!(output.status.code(), Some(2), "{filter}");
        assert!(
            stderr(&output).contains(message),
            "{filter}: {}",
            stderr(&output)
        );
    }
    // The same filters, and a clean one, on identical SQLite tables: nothing to report.
    let (code, lines) = diff(
        dir.path(),
        &db,
        &db,
        "currency = 'EUR' AND created_at >= '2026-01-01T00:00:00Z'",
    );
    assert_eq!((code, lines), (Some(0), Vec::new()));
}
