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
    let store =
        format!("postgres://recon@store-db/recon?sslpassword={PASSWORD}&sslmode=verify-full");
    let ledger =
        format!("mysql://reader@ledger-db/ledger?ssl-mode=VERIFY_IDENTITY&password={PASSWORD}");
    let out = recon(
        &["config", "check", "--config", "recon.toml"],
        &[
            ("STORE", &store),
            ("LEDGER", &ledger),
            ("RECON_TEMP_DIR", "/tmp"),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = stdout(&out);
    assert!(
        shown.contains("\n[store]\nurl = \"postgres://recon@store-db/recon?sslpassword=***&sslmode=verify-full\"\n"),
        "{shown}"
    );
    assert!(
        shown.contains("\n[sources.ledger]\nurl = \"mysql://reader@ledger-db/ledger?ssl-mode=VERIFY_IDENTITY&password=***\"\n"),
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
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

const SCHEMA: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, memo TEXT)";

#[tokio::test]
async fn recon_diff_reads_its_urls_from_the_variables_the_flags_name() {
    let dir = temp_dir();
    let left = sqlite_db(
        &dir.path().join("left.db"),
        &[SCHEMA, "INSERT INTO t VALUES (1, 'a'), (2, 'b')"],
    )
    .await;
    let right = sqlite_db(
        &dir.path().join("right.db"),
        &[SCHEMA, "INSERT INTO t VALUES (1, 'a'), (2, 'c')"],
    )
    .await;
    let both = recon(
        &[
            "diff",
            "--left-url-env",
            "L",
            "--right-url-env",
            "R",
            "t",
            "t",
            "--key",
            "id",
            "--json",
        ],
        &[("L", &left), ("R", &right)],
        dir.path(),
    );
    assert_eq!(both.status.code(), Some(1), "{}", stderr(&both));
    let positional = recon(
        &["diff", &left, "t", &right, "t", "--key", "id", "--json"],
        &[],
        dir.path(),
    );
    assert_eq!(positional.status.code(), Some(1), "{}", stderr(&positional));
    assert_eq!(stdout(&both), stdout(&positional));
    assert!(
        stdout(&both).contains("\"key\":{\"id\":\"2\"}"),
        "{}",
        stdout(&both)
    );
    // One side from the environment, the other on the command line.
    let mixed = recon(
        &[
            "diff",
            "--right-url-env",
            "R",
            &left,
            "t",
            "t",
            "--key",
            "id",
            "--json",
        ],
        &[("R", &right)],
        dir.path(),
    );
    assert_eq!(mixed.status.code(), Some(1), "{}", stderr(&mixed));
    assert_eq!(stdout(&mixed), stdout(&positional));
    let unset = recon(
        &[
            "diff",
            "--left-url-env",
            "NOPE",
            "t",
            &right,
            "t",
            "--key",
            "id",
        ],
        &[],
        dir.path(),
    );
    assert_eq!(unset.status.code(), Some(2));
    assert_eq!(
        stderr(&unset),
        "recon: --left-url-env: environment variable NOPE is not set\n"
    );
    let miscounted = recon(
        &[
            "diff",
            "--left-url-env",
            "L",
            &left,
            "t",
            &right,
            "t",
            "--key",
            "id",
        ],
        &[("L", &left)],
        dir.path(),
    );
    assert_eq!(miscounted.status.code(), Some(2));
    assert_eq!(
        stderr(&miscounted),
        "recon: recon diff takes LEFT_TABLE RIGHT_URL RIGHT_TABLE here (4 given): a side whose URL comes from --left-url-env or --right-url-env gives only its table\n"
    );
}

#[test]
fn recon_diff_refuses_a_password_on_its_command_line_naming_the_flags() {
    let dir = temp_dir();
    let right = sqlite_url(dir.path().join("right.db"));
    for (args, flag, side) in [
        (
            vec![
                format!("postgres://u:{PASSWORD}@127.0.0.1:1/db"),
                "t".into(),
                right.clone(),
                "t".into(),
            ],
            "--left-url-env",
            "left",
        ),
        (
            vec![
                right.clone(),
                "t".into(),
                format!("mysql://u@127.0.0.1:1/db?password={PASSWORD}"),
                "t".into(),
            ],
            "--right-url-env",
            "right",
        ),
    ] {
        let mut all: Vec<&str> = vec!["diff"];
        all.extend(args.iter().map(String::as_str));
        all.extend(["--key", "id"]);
        let out = recon(&all, &[], dir.path());
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(stdout(&out), "");
        assert_eq!(
            stderr(&out),
            format!(
                "recon: the {side} URL carries a password, which the command line shows to anyone on the machine (ps): put the URL in an environment variable and name it with {flag}\n"
            )
        );
    }
}

#[test]
fn an_unreachable_source_with_a_query_password_leaves_it_in_no_byte_written() {
    let dir = temp_dir();
    write(dir.path(), "recon.toml", CONFIG);
    let port = free_port();
    let ledger =
        format!("postgres://reader@127.0.0.1:{port}/ledger?sslmode=disable&sslpassword={PASSWORD}");
    let store = sqlite_url(dir.path().join("store.db"));
    let out = recon(
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
            ("RECON_LOG_FORMAT", "json"),
            ("RUST_LOG", "trace"),
            ("STORE", &store),
            ("LEDGER", &ledger),
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let shown =
        format!("postgres://reader@127.0.0.1:{port}/ledger?sslmode=disable&sslpassword=***");
    assert!(stderr(&out).contains(&shown), "{}", stderr(&out));
    let mut written = vec![out.stdout.clone(), out.stderr.clone()];
    let mut folders = vec![dir.path().to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                written.push(std::fs::read(&path).unwrap());
            }
        }
    }
    assert!(written.len() > 3, "the run wrote its reports and store");
    for bytes in &written {
        assert!(
            !bytes
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes()),
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}
