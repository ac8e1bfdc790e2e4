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

/// A settlement check whose report and ledger carry formulas: a ledger row set aside with id
/// `=HYPERLINK(…)` (in `quarantine.csv`) and report lines whose ids begin with `@` and `-`.
fn formula_config() -> String {
    stripe_cards(TestConfig::new()).to_toml()
}

/// Before every cell was neutralised, `quarantine.csv` held `=HYPERLINK("http://x","y")` as a
/// live formula cell and `discrepancies.csv` a cell beginning with `@`.
#[tokio::test]
async fn formula_cells_are_written_as_text_in_every_csv() {
    let dir = temp_dir();
    let ledger = sqlite_db(
        &dir.path().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, \
             currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, \
             fee_minor INTEGER)",
            r#"INSERT INTO payments VALUES
               ('=HYPERLINK("http://x","y")', 500, 'ZZZ', 'settled', '2026-11-20 08:30:00', 0)"#,
        ],
    )
    .await;
    let scenario = Scenario::in_dir(dir.path(), "STORE_URL")
        .env("LEDGER_URL", &ledger)
        .config(&formula_config());
    std::fs::create_dir_all(dir.path().join("reports")).unwrap();
    write(
        dir.path(),
        "reports/stripe-2026-11-20.csv",
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id\n\
         txn_1,2026-11-20 10:00:00,usd,-12.50,0.00,-12.50,refund,@SUM(A1)\n",
    );
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let quarantine = std::fs::read_to_string(dir.path().join("out/quarantine.csv")).unwrap();
    let discrepancies = std::fs::read_to_string(dir.path().join("out/discrepancies.csv")).unwrap();
    assert_eq!(
        quarantine,
        "\"check\",\"file\",\"line\",\"ledger_id\",\"reason\",\"status\"\n\
         \"cards\",\"\",\"\",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",\
         \"ledger row set aside: currency: unknown currency code `ZZZ`\",\"open\"\n"
    );
    // Every cell quoted, so a `;`-separator locale splits none; the amount `-12.50` inside the
    // detail, and the key `id=@SUM(A1)`, stay text; `12.50 USD` is no formula.
    assert_eq!(
        discrepancies,
        "\"id\",\"check\",\"partition\",\"kind\",\"status\",\"key\",\"columns\",\"detail\",\"at_stake_minor\",\"at_stake_currency\",\"at_stake_counted\",\"first_seen_run\"\n\
         \"1\",\"cards\",\"2026-11-20\",\"missing_in_ledger\",\"open\",\"id=@SUM(A1)\",\"\",\
         \"report refund -12.50 USD: no ledger entry has id @SUM(A1) (reports/stripe-2026-11-20.csv:2)\",\"1250\",\"USD\",\"true\",\"1\"\n\
         \"2\",\"cards\",\"2026-11-20\",\"quarantined_row\",\"open\",\"ledger_id==HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",\"\",\
         \"ledger row set aside: currency: unknown currency code `ZZZ`\",\"\",\"\",\"\",\"1\"\n"
    );
}

/// A column whose name is a formula leads a cell of `discrepancies.csv` (`columns`) and a value
/// that is one leads its side's cell: each is written after a `'`; a plain number stays a number.
#[tokio::test]
async fn a_column_named_as_a_formula_is_text_in_discrepancies_csv() {
    let dir = temp_dir();
    let schema = "CREATE TABLE t (id INTEGER PRIMARY KEY, \"@SUM(A1)\" TEXT)";
    let [left, right, store] = sqlite_sides(
        dir.path(),
        schema,
        "INSERT INTO t VALUES (1, '-12.50')",
        "INSERT INTO t VALUES (1, '-1+1')",
    )
    .await;
    let config = TestConfig::new()
        .store("STORE_URL")
        .source("l", "L_URL")
        .source("r", "R_URL")
        .integrity("t", "l.t", "r.t", "id")
        .to_toml();
    let scenario = Scenario::in_dir(dir.path(), "STORE_URL")
        .store_at(&store)
        .env("L_URL", &left)
        .env("R_URL", &right)
        .config(&config);
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let discrepancies = std::fs::read_to_string(dir.path().join("out/discrepancies.csv")).unwrap();
    assert_eq!(
        discrepancies.lines().take(2).collect::<Vec<_>>(),
        [
            "\"id\",\"check\",\"partition\",\"kind\",\"status\",\"key\",\"columns\",\"detail\",\"at_stake_minor\",\"at_stake_currency\",\"at_stake_counted\",\"first_seen_run\",\"left.@SUM(A1)\",\"right.@SUM(A1)\"",
            "\"1\",\"t\",\"all\",\"changed\",\"open\",\"id=1\",\"'@SUM(A1)\",\"\",\"\",\"\",\"\",\"1\",\"-12.50\",\"'-1+1\""
        ]
    );
}

/// A Stripe report of one line, 166 bytes.
const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
";

/// A report downloaded from `server` by a check whose `max_download_bytes` is `cap`.
async fn capped_download(server: &HttpServer, cap: usize) -> Scenario {
    let scenario = Scenario::new("STORE_URL");
    let ledger = sqlite_db(
        &scenario.dir().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
        ],
    )
    .await;
    let config = TestConfig::new()
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("stripe", "stripe")
        .set(
            "report_url",
            format!("http://127.0.0.1:{}/stripe-{{date}}.csv", server.port()),
        )
        .set("ledger", ledger_mapping("payments", &[]))
        .set("match_on", "reference")
        .set("max_download_bytes", cap as i64)
        .to_toml();
    scenario.env("LEDGER_URL", &ledger).config(&config)
}

/// The files left in the scenario's downloads folder.
fn downloads(scenario: &Scenario) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(scenario.dir().join("out/downloads"))
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Before the cap, a report of any size was downloaded whole (one long enough takes the pod's
/// memory or disk); now one past `max_download_bytes` fails the sync, exit 2, naming the cap,
/// whether its length is announced or only found while reading, and nothing of it is kept.
#[tokio::test]
async fn a_download_past_max_download_bytes_fails_the_sync_and_keeps_nothing() {
    let cap = REPORT.len() - 1;
    for (response, what) in [
        (
            Response::csv(REPORT),
            format!(
                "it announces {} bytes; nothing was downloaded",
                REPORT.len()
            ),
        ),
        (
            Response::csv(REPORT).without_length(),
            "stopped there and the partial file removed".to_string(),
        ),
    ] {
        let server = HttpServer::sequence([response]);
        let scenario = capped_download(&server, cap).await;
        let (out, summary) = scenario.run("2026-11-20", &[]);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", stderr(&out));
        let error = format!(
            "downloading http://127.0.0.1:{}/stripe-2026-11-20.csv: the report is larger than \
             max_download_bytes = {cap} bytes ({what}); raise max_download_bytes in the check's \
             [[settlement]] section if a report this large is genuine",
            server.port()
        );
        assert_eq!(summary["checks"][0]["error"], error, "{summary}");
        assert_eq!(server.requests().len(), 1, "not retried: {what}");
        assert_eq!(downloads(&scenario), Vec::<String>::new(), "{what}");
    }
}

/// A report of exactly `max_download_bytes` bytes is downloaded and reconciled.
#[tokio::test]
async fn a_download_of_exactly_max_download_bytes_is_kept() {
    let server = HttpServer::sequence([Response::csv(REPORT).without_length()]);
    let scenario = capped_download(&server, REPORT.len()).await;
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["checks"][0]["status"], "clean");
    assert_eq!(
        downloads(&scenario),
        ["2026-11-20-stripe-stripe-2026-11-20.csv"]
    );
}

/// Before the cap a report line was read whole however long (a line of gigabytes took the
/// pod's memory); now one past 64 MiB is quarantined with its length and the cap, its first KiB
/// kept, and the lines after it are read as ever.
#[tokio::test]
async fn a_report_line_past_64_mib_is_quarantined_naming_the_cap() {
    let dir = temp_dir();
    let ledger = sqlite_db(
        &dir.path().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, \
             currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, \
             fee_minor INTEGER)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', 'settled', '2026-11-20 09:59:00', 59)",
        ],
    )
    .await;
    let scenario = Scenario::in_dir(dir.path(), "STORE_URL")
        .env("LEDGER_URL", &ledger)
        .config(&formula_config());
    // a line that reads as a valid one, its last field padded past the cap
    let start = "txn_2,2026-11-20 11:00:00,usd,5.00,0.00,5.00,charge,ch_";
    let long = format!("{start}{}", "2".repeat((64 << 20) + 1 - start.len()));
    std::fs::create_dir_all(dir.path().join("reports")).unwrap();
    write(
        dir.path(),
        "reports/stripe-2026-11-20.csv",
        &format!(
            "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id\n\
             {long}\n\
             txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1\n"
        ),
    );
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        summary["checks"][0]["accounting"],
        "reports/stripe-2026-11-20.csv: 2 rows = 1 matched + 0 in discrepancies + 1 quarantined; \
         ledger payments: 1 rows = 1 matched + 0 in discrepancies + 0 not expected + 0 set aside"
    );
    let quarantine = std::fs::read_to_string(dir.path().join("out/quarantine.csv")).unwrap();
    assert_eq!(
        quarantine,
        format!(
            "\"check\",\"file\",\"line\",\"ledger_id\",\"reason\",\"status\"\n\
             \"cards\",\"reports/stripe-2026-11-20.csv\",\"2\",\"\",\"line too long: 67108865 bytes, \
             more than the 67108864 (64 MiB) a report line may have; not read — row: {}\",\"open\"\n",
            &long[..1024]
        )
    );
}
