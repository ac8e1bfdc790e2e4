//! A password in a database URL's query (`?password=`, `?sslpassword=`) is refused in the file
//! and redacted everywhere a URL is shown: `config check`, the store's error message, trace logs.

use crate::common::*;

const PASSWORD: &str = "PlantedQueryPw";

const CONFIG: &str = "
[job]
timezone = \"UTC\"
[job.retry]
initial_delay_ms = 1
max_delay_ms = 2
max_attempts = 2
[store]
url_env = \"STORE\"
[sources.ledger]
url_env = \"LEDGER\"
[[integrity]]
name = \"entries\"
left = { source = \"ledger\", table = \"entries\" }
right = { source = \"ledger\", table = \"entries_copy\" }
key = [\"id\"]
";

#[test]
fn a_query_password_written_in_the_file_is_refused_naming_the_parameter() {
    let dir = temp_dir();
    let literal = CONFIG.replace(
        "url_env = \"LEDGER\"",
        &format!("url = \"postgres://reader@db/ledger?sslmode=require&password={PASSWORD}\""),
    );
    write(dir.path(), "recon.toml", &literal);
    let store = sqlite_url(dir.path().join("store.db"));
    let out = recon(
        &["config", "check", "--config", "recon.toml"],
        &[("STORE", &store)],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "recon: recon.toml: sources.ledger.url carries a password in its query parameter \"password\"; move the URL into an environment variable and name it with url_env\n"
    );
}

#[test]
fn a_query_password_from_the_environment_is_shown_redacted_by_config_check() {
    let dir = temp_dir();
    write(dir.path(), "recon.toml", CONFIG);
    let store = format!("postgres://recon@store-db/recon?sslpassword={PASSWORD}&sslmode=verify-full");
    let ledger = format!("mysql://reader@ledger-db/ledger?ssl-mode=REQUIRED&password={PASSWORD}");
    let out = recon(
        &["config", "check", "--config", "recon.toml"],
        &[("STORE", &store), ("LEDGER", &ledger), ("RECON_TEMP_DIR", "/tmp")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("\n[store]\nurl = \"postgres://recon@store-db/recon?sslpassword=***&sslmode=verify-full\"\n"),
        "{shown}"
    );
    assert!(
        shown.contains("\n[sources.ledger]\nurl = \"mysql://reader@ledger-db/ledger?ssl-mode=REQUIRED&password=***\"\n"),
        "{shown}"
    );
    assert!(!shown.contains(PASSWORD) && !stderr(&out).contains(PASSWORD));
}

#[test]
fn an_unreachable_store_with_a_query_password_is_named_redacted_in_trace_logs() {
    let dir = temp_dir();
    write(dir.path(), "recon.toml", CONFIG);
    let port = free_port();
    let store =
        format!("postgres://postgres@127.0.0.1:{port}/recon?password={PASSWORD}&sslmode=disable");
    let ledger = sqlite_url(dir.path().join("none.db"));
    let out = recon(
        &["run", "--config", "recon.toml", "--date", "2026-11-20"],
        &[
            ("RECON_LOG_FORMAT", "json"),
            ("RUST_LOG", "trace"),
            ("STORE", &store),
            ("LEDGER", &ledger),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let refused = format!(
        "cannot open the store postgres://postgres@127.0.0.1:{port}/recon?password=***&sslmode=disable: connection refused (2 attempts)"
    );
    assert!(stderr(&out).contains(&refused), "{}", stderr(&out));
    for bytes in [&out.stdout, &out.stderr] {
        assert!(
            !bytes.windows(PASSWORD.len()).any(|w| w == PASSWORD.as_bytes()),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}
