//! `recon diff` on SQLite files: exact differences as JSON lines, exit codes 0 / 1 / 2.

use crate::common::*;

const SCHEMA: &str =
    "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL,
                      memo TEXT, created_at TIMESTAMP NOT NULL, rate DECIMAL(18,4))";

async fn pair(dir: &std::path::Path, left_rows: &str, right_rows: &str) -> (String, String) {
    let left = sqlite_db(&dir.join("left.db"), &[SCHEMA, left_rows]).await;
    let right = sqlite_db(&dir.join("right.db"), &[SCHEMA, right_rows]).await;
    (left, right)
}

const BASE: &str = "INSERT INTO t VALUES
    (1, 100, 'EUR', NULL, '2026-11-20 10:00:00', '1.5'),
    (2, 200, 'EUR', 'x',  '2026-11-20 10:00:01', '2.50'),
    (3, 300, 'USD', '',   '2026-11-20T10:00:02Z', 3),
    (4, 400, 'JPY', 'é',  '2026-11-20 11:00:03+01:00', NULL)";

#[tokio::test]
async fn identical_tables_exit_zero_and_print_nothing() {
    let dir = temp_dir();
    // Same logical rows written differently: decimal scale, timestamp notation.
    let right = "INSERT INTO t VALUES
        (1, 100, 'EUR', NULL, '2026-11-20T10:00:00.000000Z', '1.50'),
        (2, 200, 'EUR', 'x',  '2026-11-20 10:00:01', 2.5),
        (3, 300, 'USD', '',   '2026-11-20 10:00:02', '3.000'),
        (4, 400, 'JPY', 'é',  '2026-11-20 10:00:03', NULL)";
    let (l, r) = pair(dir.path(), BASE, right).await;
    let output = recon(
        &["diff", &l, "t", &r, "t", "--key", "id", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(stdout(&output), "");
}

#[tokio::test]
async fn differing_tables_print_exactly_the_differing_keys() {
    let dir = temp_dir();
    let right = "INSERT INTO t VALUES
        (1, 100, 'EUR', '',   '2026-11-20 10:00:00', '1.5'),
        (2, 201, 'EUR', 'x',  '2026-11-20 10:00:01.000001', '2.5'),
        (4, 400, 'JPY', 'é',  '2026-11-20 10:00:03', NULL),
        (5, 500, 'GBP', NULL, '2026-11-20 10:00:04', NULL)";
    let (l, r) = pair(dir.path(), BASE, right).await;
    let output = recon(
        &["diff", &l, "t", &r, "t", "--key", "id", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(
        lines,
        vec![
            serde_json::json!({"kind": "changed", "key": {"id": "1"}, "columns": ["memo"]}),
            serde_json::json!({"kind": "changed", "key": {"id": "2"}, "columns": ["amount_minor", "created_at"]}),
            serde_json::json!({"kind": "missing_in_right", "key": {"id": "3"}}),
            serde_json::json!({"kind": "missing_in_left", "key": {"id": "5"}}),
        ]
    );
    // The exact text, key order included.
    assert!(
        stdout(&output)
            .starts_with("{\"kind\":\"changed\",\"key\":{\"id\":\"1\"},\"columns\":[\"memo\"]}\n")
    );
}

#[tokio::test]
async fn stats_and_column_selection() {
    let dir = temp_dir();
    let right = "INSERT INTO t VALUES
        (1, 100, 'EUR', 'changed memo', '2026-11-20 10:00:00', '1.5'),
        (2, 999, 'EUR', 'x', '2026-11-20 10:00:01', '2.5'),
        (3, 300, 'USD', '', '2026-11-20 10:00:02', '3'),
        (4, 400, 'JPY', 'é', '2026-11-20 10:00:03', NULL)";
    let (l, r) = pair(dir.path(), BASE, right).await;
    // Only amount and currency compared: the memo change is not looked at.
    let output = recon(
        &[
            "diff",
            &l,
            "t",
            &r,
            "t",
            "--key",
            "id",
            "--columns",
            "amount_minor,currency",
            "--stats",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "changed           id=2  amount_minor: 200 → 999\n\
         rows: left 4, right 4 · differences: 1 (0 missing in left, 0 missing in right, 1 changed)\n"
    );
}

#[tokio::test]
async fn composite_and_text_keys_merge_in_byte_order() {
    let dir = temp_dir();
    let schema = "CREATE TABLE k (region TEXT NOT NULL, code TEXT NOT NULL, n INTEGER, PRIMARY KEY (region, code))";
    let left = sqlite_db(
        &dir.path().join("l.db"),
        &[
            schema,
            "INSERT INTO k VALUES ('eu','a',1),('eu','B',2),('eu','é',3),('us','a',4),('US','z',5)",
        ],
    )
    .await;
    let right = sqlite_db(
        &dir.path().join("r.db"),
        &[schema, "INSERT INTO k VALUES ('eu','a',1),('eu','B',2),('eu','é',30),('us','b',4),('US','z',5)"],
    )
    .await;
    let output = recon(
        &[
            "diff", &left, "k", &right, "k", "--key", "region", "--key", "code", "--json",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1), "stderr: {}", stderr(&output));
    assert_eq!(
        stdout(&output),
        concat!(
            r#"{"kind":"changed","key":{"region":"eu","code":"é"},"columns":["n"]}"#,
            "\n",
            r#"{"kind":"missing_in_right","key":{"region":"us","code":"a"}}"#,
            "\n",
            r#"{"kind":"missing_in_left","key":{"region":"us","code":"b"}}"#,
            "\n"
        )
    );
}

#[tokio::test]
async fn columns_on_one_side_only_are_noted_not_compared() {
    let dir = temp_dir();
    let left = sqlite_db(
        &dir.path().join("l.db"),
        &[
            "CREATE TABLE t (id INTEGER, a TEXT, extra TEXT)",
            "INSERT INTO t VALUES (1,'x','y')",
        ],
    )
    .await;
    let right = sqlite_db(
        &dir.path().join("r.db"),
        &[
            "CREATE TABLE t (id INTEGER, a TEXT)",
            "INSERT INTO t VALUES (1,'x')",
        ],
    )
    .await;
    let output = recon(
        &["diff", &left, "t", &right, "t", "--key", "id", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("note: column \"extra\" not compared: only in left.t"),
        "{}",
        stderr(&output)
    );
}
