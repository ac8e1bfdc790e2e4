//! Bad input ends with exit code 2 and one clear line that says what to fix, never a panic.

use crate::common::*;

fn assert_bad_input(output: &std::process::Output, expected_line: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("recon: ")).collect();
    assert_eq!(lines, vec![expected_line], "stderr: {err}");
}

#[test]
fn a_missing_config_file() {
    let dir = temp_dir();
    let output = recon(&["run", "--config", "nope.toml"], &[], dir.path());
    assert_bad_input(
        &output,
        "recon: cannot read configuration nope.toml: No such file or directory (os error 2) (give the file with --config)",
    );
}

const CONFIG: &str = r#"
[store]
url_env = "STORE_URL"

[sources.ledger]
url_env = "LEDGER_URL"

[sources.payments]
url_env = "PAYMENTS_URL"

[[integrity]]
name = "entries"
left = { source = "ledger", table = "entries" }
right = { source = "payments", table = "entries" }
key = ["id"]
"#;

#[test]
fn an_unknown_key_names_the_file_the_key_and_the_line() {
    let dir = temp_dir();
    write(
        dir.path(),
        "recon.toml",
        &CONFIG.replace("key = [\"id\"]", "key = [\"id\"]\ncolums = [\"a\"]"),
    );
    let output = recon(
        &["config", "check", "--config", "recon.toml"],
        &[],
        dir.path(),
    );
    assert_bad_input(
        &output,
        "recon: recon.toml:16:1: unknown field `colums`, expected one of `name`, `left`, `right`, `key`, `columns`, `date_column`, `where`, `sensitive_columns`, `accept_uncompared`, `seal`, `strategy`, `settle_secs`, `settle_column`, `recheck_after_secs`, `split_by_key`, `column_types`",
    );
}

#[tokio::test]
async fn a_table_that_does_not_exist() {
    let dir = temp_dir();
    let db = sqlite_db(
        &dir.path().join("a.db"),
        &[
            "CREATE TABLE entries (id INTEGER)",
            "CREATE TABLE payouts (id INTEGER)",
        ],
    )
    .await;
    let output = recon(
        &["diff", &db, "entrys", &db, "entries", "--key", "id"],
        &[],
        dir.path(),
    );
    assert_bad_input(
        &output,
        "recon: source left: table \"entrys\" does not exist or is not readable (tables there: entries, payouts)",
    );
}

/// PostgreSQL's 'infinity' has no instant: the read stops with the column named, instead of a
/// panic that would end the stream early and pass an unread rest for missing (or for equal).
#[tokio::test]
async fn an_infinite_timestamp_names_its_column() {
    let Some(url) = fresh_postgres("infinite_timestamp").await else {
        return;
    };
    pg_exec(
        &url,
        &[
            "CREATE TABLE entries (id bigint PRIMARY KEY, booked_at timestamptz)",
            "INSERT INTO entries VALUES (1, '2026-11-20 10:00:00+00'), (2, 'infinity'), (3, NULL)",
            "CREATE TABLE mirror AS SELECT * FROM entries WHERE booked_at <> 'infinity'",
        ],
    )
    .await;
    let dir = temp_dir();
    let output = recon(
        &["diff", &url, "entries", &url, "mirror", "--key", "id"],
        &[],
        dir.path(),
    );
    assert_bad_input(
        &output,
        "recon: source left, table entries: column \"booked_at\" (timestamp with time zone): 'infinity' is not an instant recon can compare",
    );
}

#[tokio::test]
async fn a_missing_database_file_fails_its_checks_with_exit_2() {
    let dir = temp_dir();
    let db = sqlite_db(
        &dir.path().join("ledger.db"),
        &["CREATE TABLE entries (id INTEGER)"],
    )
    .await;
    write(dir.path(), "recon.toml", CONFIG);
    let missing = sqlite_url(dir.path().join("gone.db"));
    let store = sqlite_url(dir.path().join("store.db"));
    let output = recon(
        &[
            "run",
            "--config",
            "recon.toml",
            "--date",
            "2026-11-20",
            "--out",
            "out",
        ],
        &[
            ("STORE_URL", &store),
            ("LEDGER_URL", &db),
            ("PAYMENTS_URL", &missing),
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2), "stderr: {}", stderr(&output));
    let summary = summary(dir.path());
    assert_eq!(summary["outcome"], "bad_input");
    assert_eq!(summary["checks"][0]["status"], "failed");
    assert_eq!(
        summary["checks"][0]["error"],
        format!(
            "source payments ({missing}): database file {} does not exist",
            dir.path().join("gone.db").display()
        )
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database() {
    let dir = temp_dir();
    let good = sqlite_db(&dir.path().join("a.db"), &["CREATE TABLE t (id INTEGER)"]).await;
    write(
        dir.path(),
        "junk.db",
        &"this is not a database\n".repeat(200),
    );
    let junk = sqlite_url(dir.path().join("junk.db"));
    let output = recon(
        &["diff", &good, "t", &junk, "t", "--key", "id"],
        &[],
        dir.path(),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.starts_with("recon: source right"), "{err}");
    assert!(err.contains("file is not a database"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_bad_date_and_a_hostile_table_name() {
    let dir = temp_dir();
    let output = recon(&["run", "--date", "20-11-2026"], &[], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("\"20-11-2026\" is not a date; write YYYY-MM-DD"),
        "{}",
        stderr(&output)
    );

    let output = recon(
        &[
            "diff",
            "sqlite://a.db",
            "t; DROP TABLE t",
            "sqlite://a.db",
            "t",
            "--key",
            "id",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        !dir.path().join("a.db").exists(),
        "nothing was created or opened for writing"
    );
}

#[test]
fn a_password_in_the_file_is_refused_and_never_echoed() {
    let dir = temp_dir();
    write(
        dir.path(),
        "recon.toml",
        &CONFIG.replace(
            "url_env = \"LEDGER_URL\"",
            "url = \"postgres://recon:Sup3rSecret@db/ledger\"",
        ),
    );
    let output = recon(
        &["config", "check", "--config", "recon.toml"],
        &[
            ("STORE_URL", "sqlite://s.db"),
            ("PAYMENTS_URL", "sqlite://p.db"),
        ],
        dir.path(),
    );
    assert_bad_input(
        &output,
        "recon: recon.toml: sources.ledger.url carries a password; move the URL into an environment variable and name it with url_env",
    );
    assert!(!stderr(&output).contains("Sup3rSecret"));
}
