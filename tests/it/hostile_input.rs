//! Input made to attack recon: column names that try to break out of their quotes, cells that
//! a spreadsheet would run as formulas, downloads larger than recon will keep.

use crate::common::*;

/// A column whose name closes its quote, reads another table and opens a quote again.
const INJECTING_COLUMN: &str = r#""||(SELECT group_concat(secret) FROM s)||""#;

/// Before identifiers were quoted with embedded quotes doubled, SQLite read the column as
/// `"" || (SELECT group_concat(secret) FROM s) || ""`, and `recon diff` printed table `s`.
#[tokio::test]
async fn a_sqlite_column_named_to_inject_sql_is_compared_by_its_real_name() {
    let dir = temp_dir();
    // SQL writes the name with each `"` doubled inside its quotes.
    let column_sql = format!("\"{}\"", INJECTING_COLUMN.replace('"', "\"\""));
    let schema = format!(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, {column_sql} TEXT); CREATE TABLE s (secret TEXT); \
         INSERT INTO t VALUES (1, 'a'), (2, 'b')"
    );
    let left = sqlite_db(
        &dir.path().join("l.db"),
        &[
            &schema,
            "INSERT INTO s VALUES ('LEFT-SECRET-7731')",
            &format!("UPDATE t SET {column_sql} = 'z' WHERE id = 2"),
        ],
    )
    .await;
    let right = sqlite_db(
        &dir.path().join("r.db"),
        &[&schema, "INSERT INTO s VALUES ('RIGHT-SECRET-9924')"],
    )
    .await;
    let out = recon(
        &["diff", &left, "t", &right, "t", "--key", "id", "--json"],
        &[],
        dir.path(),
    );
    for secret in ["LEFT-SECRET-7731", "RIGHT-SECRET-9924"] {
        assert!(!stdout(&out).contains(secret), "{}", stdout(&out));
        assert!(!stderr(&out).contains(secret), "{}", stderr(&out));
    }
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        r#"{"kind":"changed","key":{"id":"2"},"columns":["\"||(SELECT group_concat(secret) FROM s)||\""],"values":[{"column":"\"||(SELECT group_concat(secret) FROM s)||\"","left":"z","right":"b"}]}"#
    );
}

/// A column name holding both engines' quote characters is one identifier on each: PostgreSQL
/// doubles the `"`, MySQL/MariaDB the `` ` ``.
#[tokio::test]
async fn a_column_name_with_both_quote_characters_is_read_on_postgres_and_mysql() {
    let (Some(pg), Some(my)) = (
        fresh_postgres("hostile_quotes").await,
        fresh_mysql("hostile_quotes").await,
    ) else {
        return;
    };
    pg_exec(
        &pg,
        &[
            r#"CREATE TABLE t (id integer PRIMARY KEY, "x""y`z" text)"#,
            r#"INSERT INTO t VALUES (1, 'a'), (2, 'b')"#,
        ],
    )
    .await;
    mysql_exec(
        &my,
        &[
            r#"CREATE TABLE t (id int PRIMARY KEY, `x"y``z` varchar(10))"#,
            r#"INSERT INTO t VALUES (1, 'a'), (2, 'c')"#,
        ],
    )
    .await;
    let dir = temp_dir();
    let out = recon(
        &["diff", &pg, "t", &my, "t", "--key", "id", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        r#"{"kind":"changed","key":{"id":"2"},"columns":["x\"y`z"],"values":[{"column":"x\"y`z","left":"b","right":"c"}]}"#
    );
}

/// A name recon could not show on one line (a line break in it) is refused, named, exit 2.
#[tokio::test]
async fn a_discovered_column_name_with_a_line_break_is_refused_by_name() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, \"a\nb\" TEXT)";
    let left = sqlite_db(&dir.path().join("l.db"), &[schema]).await;
    let right = sqlite_db(&dir.path().join("r.db"), &[schema]).await;
    let out = recon(
        &["diff", &left, "t", &right, "t", "--key", "id"],
        &[],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim(),
        "recon: source left, table t: column \"a\\nb\" is not supported: its name is empty, longer than 256 bytes or holds a control character; rename it or read the table through a view"
    );
}
