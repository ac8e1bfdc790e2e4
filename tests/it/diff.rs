//! `recon diff`: exact differences as JSON lines with both sides' values, the README's exit
//! codes, progress on a terminal.

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
            serde_json::json!({"kind": "changed", "key": {"id": "1"}, "columns": ["memo"],
                "values": [{"column": "memo", "left": null, "right": ""}]}),
            serde_json::json!({"kind": "changed", "key": {"id": "2"}, "columns": ["amount_minor", "created_at"],
            "values": [
                {"column": "amount_minor", "left": "200", "right": "201"},
                {"column": "created_at", "left": "2026-11-20T10:00:01.000000Z", "right": "2026-11-20T10:00:01.000001Z"},
            ]}),
            serde_json::json!({"kind": "missing_in_right", "key": {"id": "3"}}),
            serde_json::json!({"kind": "missing_in_left", "key": {"id": "5"}}),
        ]
    );
    // The exact text, key order included.
    assert!(
        stdout(&output)
            .starts_with("{\"kind\":\"changed\",\"key\":{\"id\":\"1\"},\"columns\":[\"memo\"],\"values\":[{\"column\":\"memo\",\"left\":null,\"right\":\"\"}]}\n")
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
            r#"{"kind":"changed","key":{"region":"eu","code":"é"},"columns":["n"],"values":[{"column":"n","left":"3","right":"30"}]}"#,
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

/// `--sensitive` columns are shown as an HMAC under RECON_MASK_KEY, named by its key id, in text
/// and JSON alike; without the key the diff does not run.
#[tokio::test]
async fn sensitive_columns_are_masked_under_the_key() {
    let dir = temp_dir();
    let right = BASE.replace("'x',", "'y',");
    let (l, r) = pair(dir.path(), BASE, &right).await;
    let key = "646966662d6d61736b2d6b65792d30313233343536373839616263646566303132";
    let mask = |value: &str| {
        use hmac::{KeyInit, Mac};
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(value.as_bytes());
        format!(
            "hmac-sha256:k1:{}",
            hex::encode(&mac.finalize().into_bytes()[..16])
        )
    };
    let with_id = format!("k1:{key}");
    let args = [
        "diff",
        &l,
        "t",
        &r,
        "t",
        "--key",
        "id",
        "--sensitive",
        "memo",
    ];
    let json = recon(
        &[&args[..], &["--json"]].concat(),
        &[("RECON_MASK_KEY", &with_id)],
        dir.path(),
    );
    assert_eq!(json.status.code(), Some(1), "{}", stderr(&json));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(stdout(&json).trim()).unwrap(),
        serde_json::json!({"kind": "changed", "key": {"id": "2"}, "columns": ["memo"],
            "values": [{"column": "memo", "left": mask("x"), "right": mask("y")}]})
    );
    let text = recon(&args, &[("RECON_MASK_KEY", &with_id)], dir.path());
    assert_eq!(
        stdout(&text),
        format!(
            "changed           id=2  memo: {} → {}\n",
            mask("x"),
            mask("y")
        )
    );
    let keyless = recon(&args, &[("RECON_MASK_KEY", "")], dir.path());
    assert_eq!(keyless.status.code(), Some(2));
    assert_eq!(
        stderr(&keyless),
        "recon: --sensitive needs the mask key: environment variable RECON_MASK_KEY is not set\n"
    );
}

/// The exit codes the README gives for `recon diff` are the ones it exits with: 0 nothing
/// differs, 1 differences, 2 bad input, 3 a database that could not be reached.
#[tokio::test]
async fn exit_codes_are_the_readmes() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(
            "`recon diff` exits 0 when nothing differs, 1 when something does, 2 on bad input (flags, URLs, tables, columns, `--where`), 3 when a database cannot be reached or read for a reason that may pass (rerun it) and 5 on an internal error."
        ),
        "the README's sentence on recon diff's exit codes changed"
    );
    let dir = temp_dir();
    let (l, r) = pair(dir.path(), BASE, &BASE.replace("'x',", "'y',")).await;
    let code = |args: &[&str]| recon(args, &[], dir.path()).status.code();
    assert_eq!(code(&["diff", &l, "t", &l, "t", "--key", "id"]), Some(0));
    assert_eq!(code(&["diff", &l, "t", &r, "t", "--key", "id"]), Some(1));
    assert_eq!(code(&["diff", &l, "nope", &r, "t", "--key", "id"]), Some(2));
    assert_eq!(
        code(&[
            "diff",
            "postgres://recon@127.0.0.1:1/x",
            "t",
            &r,
            "t",
            "--key",
            "id"
        ]),
        Some(3)
    );
}

/// On a terminal (a pseudo-terminal from `script`) `recon diff` shows each side's rows and
/// rate while it works; piped, stderr stays clean.
#[tokio::test]
async fn progress_shows_on_a_terminal_only() {
    let Some(url) = fresh_postgres("diff_progress").await else {
        return;
    };
    pg_exec(
        &url,
        &[
            "CREATE TABLE l (id int PRIMARY KEY, v text, at timestamptz)",
            "CREATE TABLE r (id int PRIMARY KEY, v text, at timestamptz)",
            "INSERT INTO l VALUES (1, 'a', '2026-01-01Z'), (2, 'b', '2026-01-01Z')",
            "INSERT INTO r VALUES (1, 'a', '2026-01-01Z'), (2, 'c', '2026-01-01Z')",
        ],
    )
    .await;
    // The re-check waits a second before re-reading the difference: the line is drawn meanwhile.
    let args = [
        "diff",
        &url,
        "l",
        &url,
        "r",
        "--key",
        "id",
        "--settle-column",
        "at",
        "--settle-secs",
        "1",
        "--recheck-after-secs",
        "1",
    ];
    let piped = recon(&args, &[], std::path::Path::new("."));
    assert_eq!(piped.status.code(), Some(1), "{}", stderr(&piped));
    assert_eq!(stderr(&piped), "");
    let command = std::iter::once(env!("CARGO_BIN_EXE_recon").to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let tty = std::process::Command::new("script")
        .args(["-qefc", &command, "/dev/null"])
        .env("RUST_LOG", "warn")
        .output()
        .expect("script(1) runs");
    let shown = String::from_utf8_lossy(&tty.stdout).into_owned();
    assert_eq!(tty.status.code(), Some(1), "{shown}");
    assert!(shown.contains("l: left 2 rows ("), "{shown}");
    assert!(shown.contains("/s) · right 2 rows ("), "{shown}");
    assert!(
        shown.ends_with("changed           id=2  v: b → c\r\n"),
        "{shown:?}"
    );
}
