//! Operator commands that finish the job: `discrepancies list` shows what the summary shows and
//! filters, `ack` takes several ids or a filter with a reason code (all or none), `history`
//! tells a finding's life; `run --check` reruns one check, `run --from --to` catches up a range;
//! a run that compared nothing says so.

use sqlx::Connection;

use crate::common::*;

const SCHEMA: &str = "CREATE TABLE t (id INTEGER PRIMARY KEY, amount_minor INTEGER, currency TEXT)";

/// Table `t` on both sides: row 2 changed (20.00 → 25.00 EUR), row 3 only on the left.
const LEFT_T: &str = "INSERT INTO t VALUES (1, 1000, 'EUR'), (2, 2000, 'EUR'), (3, 3000, 'EUR')";
const RIGHT_T: &str = "INSERT INTO t VALUES (1, 1000, 'EUR'), (2, 2500, 'EUR')";

/// A scenario with check `t` (a whole-table check: no date column) finding two things.
async fn two_findings() -> Scenario {
    two_findings_in(None).await
}

/// [`two_findings`] with its store at `store` (a PostgreSQL database) when given.
async fn two_findings_in(store: Option<String>) -> Scenario {
    let scenario = Scenario::new("S");
    let [l, r, sqlite_store] = sqlite_sides(scenario.dir(), SCHEMA, LEFT_T, RIGHT_T).await;
    scenario
        .store_at(&store.unwrap_or(sqlite_store))
        .env("L", &l)
        .env("R", &r)
        .config(&ledger_payments_t(TestConfig::new()))
}

async fn sql(url: &str, statement: &str) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
}

fn with_config<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend(["--config", "recon.toml"]);
    all
}

/// `recon discrepancies list` with `args`: exit code, stdout, stderr.
fn list(scenario: &Scenario, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["discrepancies", "list"];
    all.extend_from_slice(args);
    let out = scenario.recon(&with_config(&all));
    (out.status.code(), stdout(&out), stderr(&out))
}

/// `recon discrepancies ack` with `args` as ana: exit code, stdout, stderr.
fn ack(scenario: &Scenario, args: &[&str]) -> (Option<i32>, String, String) {
    let mut all = vec!["discrepancies", "ack", "--actor", "ana"];
    all.extend_from_slice(args);
    let out = scenario.recon(&with_config(&all));
    (out.status.code(), stdout(&out), stderr(&out))
}

const HEADER: &str = "    ID  CHECK                PARTITION  KIND              STATUS        AGE         AT STAKE  KEY                  WHAT\n";
const ROW_1: &str = "     1  t                    all        changed           new            0d         5.00 EUR  id=2                 amount_minor: 2000 → 2500\n";
const ROW_2: &str = "     2  t                    all        missing_in_right  new            0d        30.00 EUR  id=3                 amount_minor=3000, currency=EUR\n";

#[tokio::test]
async fn list_shows_each_finding_as_the_summary_does_and_filters_it() {
    let scenario = two_findings().await;
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // The summary's own lines for them: the list says the same.
    let text = stdout(&out);
    assert!(
        text.contains("  t                    changed           id=2                   amount_minor: 2000 → 2500\n"),
        "{text}"
    );
    assert_eq!(summary["discrepancies"][0]["partition"], "all");

    assert_eq!(
        list(&scenario, &[]),
        (Some(0), format!("{HEADER}{ROW_1}{ROW_2}"), String::new())
    );
    assert_eq!(
        list(&scenario, &["--kind", "missing_in_right"]),
        (Some(0), format!("{HEADER}{ROW_2}"), String::new())
    );
    assert_eq!(
        list(&scenario, &["--status", "new", "--check", "t"]),
        (Some(0), format!("{HEADER}{ROW_1}{ROW_2}"), String::new())
    );
    let none = (
        Some(0),
        format!("{HEADER}no discrepancy matches\n"),
        String::new(),
    );
    assert_eq!(list(&scenario, &["--status", "acknowledged"]), none);
    assert_eq!(list(&scenario, &["--status", "resolved"]), none);
    assert_eq!(list(&scenario, &["--older-than", "1"]), none);

    // A whole-table check's findings are of the dates of the runs that saw them.
    assert_eq!(
        list(&scenario, &["--date", "2026-11-20"]),
        (Some(0), format!("{HEADER}{ROW_1}{ROW_2}"), String::new())
    );
    assert_eq!(list(&scenario, &["--date", "2026-11-21"]), none);
    assert_eq!(
        list(&scenario, &["--from", "2026-11-19", "--to", "2026-11-20"]),
        (Some(0), format!("{HEADER}{ROW_1}{ROW_2}"), String::new())
    );
    assert_eq!(list(&scenario, &["--from", "2026-11-21"]), none);

    // Unknown checks and kinds are errors (exit 2) naming what there is.
    assert_eq!(
        list(&scenario, &["--check", "nosuch"]),
        (
            Some(2),
            String::new(),
            "recon: no check \"nosuch\" in the configuration or the store; the checks are: t\n"
                .to_string()
        )
    );
    let (code, _, err) = list(&scenario, &["--kind", "nosuch"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("\"nosuch\" is not a discrepancy kind; the kinds are missing_in_left, missing_in_right, changed, schema_mismatch, closed_period_modified, missing_in_ledger,"),
        "{err}"
    );

    // Finding 1 first seen three days ago: older than 2 days, it alone.
    let three_days_ago = (chrono::Utc::now() - chrono::Duration::days(3))
        .format("%Y-%m-%dT%H:%M:%S%.fZ")
        .to_string();
    sql(
        scenario.store(),
        &format!("UPDATE discrepancies SET first_seen_at = '{three_days_ago}' WHERE id = 1"),
    )
    .await;
    assert_eq!(
        list(&scenario, &["--older-than", "2"]),
        (
            Some(0),
            format!("{HEADER}{}", ROW_1.replace("   0d", "   3d")),
            String::new()
        )
    );

    // --json keeps its fields and adds what the text shows.
    let (code, json, _) = list(&scenario, &["--json", "--kind", "changed"]);
    assert_eq!(code, Some(0));
    let line: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(line["id"], 1);
    assert_eq!(line["status"], "open");
    assert_eq!(line["what"], "amount_minor: 2000 → 2500");
    assert_eq!(
        line["at_stake"],
        serde_json::json!({"minor": "500", "currency": "EUR", "amount": "5.00 EUR"})
    );
    assert_eq!(line["age_days"], 3);
    assert_eq!(line["ack_reason"], serde_json::Value::Null);
}

#[tokio::test]
async fn ack_takes_several_ids_or_a_filter_all_or_none_with_a_reason_code() {
    let scenario = two_findings().await;
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // One id does not exist: nothing is acknowledged.
    assert_eq!(
        ack(&scenario, &["1", "99", "--reason", "explained", "--note", "n"]),
        (
            Some(2),
            String::new(),
            "recon: nothing acknowledged: there is no discrepancy 99; only open, carried or acknowledged discrepancies can be acknowledged (`recon discrepancies list` shows them)\n".to_string()
        )
    );
    // A reason code is required, and one of three.
    let (code, _, err) = ack(&scenario, &["1", "--note", "n"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--reason <REASON>"), "{err}");
    let (code, _, err) = ack(&scenario, &["1", "--reason", "because", "--note", "n"]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("[possible values: explained, write-off, adjustment-booked]"),
        "{err}"
    );
    // Ids and a filter together, or neither: refused.
    let (code, _, err) = ack(
        &scenario,
        &["1", "--check", "t", "--reason", "explained", "--note", "n"],
    );
    assert_eq!(
        (code, err.as_str()),
        (Some(2), "recon: give either ids or a filter, not both\n")
    );
    // A filter matching nothing acknowledges nothing, exit 2.
    assert_eq!(
        ack(
            &scenario,
            &[
                "--kind",
                "missing_in_left",
                "--reason",
                "explained",
                "--note",
                "n"
            ]
        ),
        (
            Some(2),
            String::new(),
            "recon: no discrepancy matches the filter: nothing acknowledged\n".to_string()
        )
    );
    assert_eq!(
        list(&scenario, &["--status", "acknowledged"]).1,
        format!("{HEADER}no discrepancy matches\n")
    );

    // By filter: the changed row, booked.
    assert_eq!(
        ack(
            &scenario,
            &[
                "--kind",
                "changed",
                "--reason",
                "adjustment-booked",
                "--note",
                "booked as ADJ-7"
            ]
        ),
        (
            Some(0),
            "discrepancy 1 (t changed id=2) acknowledged (adjustment-booked) by ana\n".to_string(),
            String::new()
        )
    );
    // Several ids at once (an acknowledged one gets a second note).
    assert_eq!(
        ack(&scenario, &["1", "2", "--reason", "write-off", "--note", "written off", "--until", "2099-12-31"]),
        (
            Some(0),
            "discrepancy 1 (t changed id=2) acknowledged (write-off) by ana through 2099-12-31\n\
             discrepancy 2 (t missing_in_right id=3) acknowledged (write-off) by ana through 2099-12-31\n\
             2 discrepancies acknowledged\n"
                .to_string(),
            String::new()
        )
    );
    assert_eq!(
        list(&scenario, &[]).1,
        format!(
            "{HEADER}{}        acknowledged (write-off) by ana through 2099-12-31: written off\n{}        acknowledged (write-off) by ana through 2099-12-31: written off\n",
            ROW_1.replace("new         ", "acknowledged"),
            ROW_2.replace("new         ", "acknowledged"),
        )
    );
    let (_, json, _) = list(&scenario, &["--json", "--kind", "changed"]);
    let line: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(
        line["acknowledgements"],
        serde_json::json!([
            {"note": "booked as ADJ-7", "actor": "ana", "reason": "adjustment-booked"},
            {"note": "written off", "actor": "ana", "reason": "write-off"},
        ])
    );
    assert_eq!(line["ack_reason"], "write-off");
    assert_eq!(line["ack_until"], "2099-12-31");

    // Each acknowledgement is an audit entry with its reason code; the chain verifies.
    let export = scenario.recon(&["audit", "export", "--config", "recon.toml"]);
    let reasons: Vec<(i64, String)> = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "discrepancy_acknowledged")
        .map(|e| {
            let payload: serde_json::Value = match &e["payload"] {
                serde_json::Value::String(text) => serde_json::from_str(text).unwrap(),
                other => other.clone(),
            };
            (
                payload["id"].as_i64().unwrap(),
                payload["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (1, "adjustment-booked".to_string()),
            (1, "write-off".to_string()),
            (2, "write-off".to_string())
        ]
    );
    let verify = scenario.recon(&["audit", "verify", "--config", "recon.toml"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));

    // The data fixed: both resolve; acknowledging a resolved one is refused, naming it.
    sql(
        scenario.var("R"),
        "UPDATE t SET amount_minor = 2000 WHERE id = 2",
    )
    .await;
    sql(scenario.var("R"), "INSERT INTO t VALUES (3, 3000, 'EUR')").await;
    let (out, _) = scenario.run("2026-11-21", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        ack(&scenario, &["2", "1", "--reason", "explained", "--note", "n"]),
        (
            Some(2),
            String::new(),
            "recon: nothing acknowledged: discrepancy 2, 1 is resolved; only open, carried or acknowledged discrepancies can be acknowledged (`recon discrepancies list` shows them)\n".to_string()
        )
    );
}

#[tokio::test]
async fn list_filters_ack_by_filter_and_history_on_a_postgresql_store() {
    let Some(store) = fresh_postgres("operator_commands").await else {
        return;
    };
    let by = ana_on(&store);
    let scenario = two_findings_in(Some(store)).await;
    let (out, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = (Some(0), format!("{HEADER}{ROW_1}{ROW_2}"), String::new());
    assert_eq!(list(&scenario, &["--date", "2026-11-20"]), rows);
    assert_eq!(
        list(
            &scenario,
            &["--from", "2026-11-19", "--to", "2026-11-20", "--check", "t"]
        ),
        rows
    );
    assert_eq!(
        list(&scenario, &["--date", "2026-11-21"]).1,
        format!("{HEADER}no discrepancy matches\n")
    );
    assert_eq!(
        ack(
            &scenario,
            &["1", "99", "--reason", "explained", "--note", "n"]
        )
        .0,
        Some(2)
    );
    assert_eq!(
        ack(
            &scenario,
            &[
                "--date",
                "2026-11-20",
                "--reason",
                "write-off",
                "--note",
                "gone"
            ]
        ),
        (
            Some(0),
            format!(
                "discrepancy 1 (t changed id=2) acknowledged (write-off) by {by}\n\
                 discrepancy 2 (t missing_in_right id=3) acknowledged (write-off) by {by}\n\
                 2 discrepancies acknowledged\n"
            ),
            String::new()
        )
    );
    let (out, _) = scenario.run("2026-11-21", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let history = scenario.recon(&[
        "discrepancies",
        "history",
        "2",
        "--config",
        "recon.toml",
        "--json",
    ]);
    assert_eq!(history.status.code(), Some(0), "{}", stderr(&history));
    let history: serde_json::Value = serde_json::from_str(stdout(&history).trim()).unwrap();
    let steps: Vec<(serde_json::Value, serde_json::Value, String)> = history["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["business_date"].clone(),
                s["run_id"].clone(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("2026-11-20".into(), 1.into(), "new".to_string()),
            (
                serde_json::Value::Null,
                serde_json::Value::Null,
                "acknowledged".to_string()
            ),
            ("2026-11-21".into(), 2.into(), "acknowledged".to_string()),
        ]
    );
    assert_eq!(
        history["steps"][1]["event"],
        format!("acknowledged (write-off) by {by}: gone")
    );
    let verify = scenario.recon(&["audit", "verify", "--config", "recon.toml"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stdout(&verify));
}

#[tokio::test]
async fn history_tells_a_findings_life_night_by_night() {
    let scenario = two_findings().await;
    scenario.run("2026-11-20", &[]);
    let (code, _, err) = ack(
        &scenario,
        &["1", "--reason", "explained", "--note", "known"],
    );
    assert_eq!(code, Some(0), "{err}");
    scenario.run("2026-11-21", &[]);
    // Its values change: the acknowledgement lapses.
    sql(
        scenario.var("R"),
        "UPDATE t SET amount_minor = 2600 WHERE id = 2",
    )
    .await;
    scenario.run("2026-11-22", &[]);
    sql(
        scenario.var("R"),
        "UPDATE t SET amount_minor = 2000 WHERE id = 2",
    )
    .await;
    scenario.run("2026-11-23", &[]);

    let out = scenario.recon(&["discrepancies", "history", "1", "--config", "recon.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let today = chrono::Utc::now().date_naive();
    assert_eq!(
        stdout(&out),
        format!(
            "discrepancy 1 · t · changed · all · id=2\n\
             \x20 what (as last seen): amount_minor: 2000 → 2600\n\
             \x20 at stake: 6.00 EUR\n\
             \x20 status now: resolved · was acknowledged (explained) by ana: known\n\
             DATE           RUN  STATUS        EVENT\n\
             2026-11-20       1  new           \n\
             {today}       -  acknowledged  acknowledged (explained) by ana: known\n\
             2026-11-21       2  acknowledged  \n\
             2026-11-22       3  carried       acknowledgement lapsed (changed)\n\
             2026-11-23       4  resolved      \n"
        )
    );
    let missing = scenario.recon(&["discrepancies", "history", "99", "--config", "recon.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(
        stderr(&missing),
        "recon: there is no discrepancy 99; `recon discrepancies list` shows them\n"
    );
}

/// Checks `t` and `u` (whole tables `t` and `u`), each with one row changed.
async fn two_checks() -> Scenario {
    let scenario = Scenario::new("S");
    let u = "CREATE TABLE u (id INTEGER PRIMARY KEY, amount_minor INTEGER, currency TEXT)";
    let [l, r, _] = sqlite_sides(
        scenario.dir(),
        &format!("{SCHEMA}; {u}"),
        "INSERT INTO t VALUES (1, 100, 'EUR'); INSERT INTO u VALUES (1, 100, 'EUR')",
        "INSERT INTO t VALUES (1, 101, 'EUR'); INSERT INTO u VALUES (1, 102, 'EUR')",
    )
    .await;
    let config = TestConfig::new()
        .source("ledger", "L")
        .source("payments", "R")
        .store("S")
        .integrity("t", "ledger.t", "payments.t", "id")
        .integrity("u", "ledger.u", "payments.u", "id")
        .to_toml();
    scenario.env("L", &l).env("R", &r).config(&config)
}

#[tokio::test]
async fn run_check_reruns_one_check_and_moves_only_its_findings() {
    let scenario = two_checks().await;
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(summary["totals"]["discrepancies"], 2);

    // Both fixed; only t is rerun: t's finding resolves, u's stays open.
    sql(
        scenario.var("R"),
        "UPDATE t SET amount_minor = 100; UPDATE u SET amount_minor = 100",
    )
    .await;
    let (out, summary) = scenario.run("2026-11-20", &["--check", "t"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let checks: Vec<&str> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(checks, ["t"]);
    assert_eq!(
        kinds_and_keys(&summary["resolved"]),
        [("changed".to_string(), r#"{"id":"1"}"#.to_string())]
    );
    assert_eq!(summary["resolved"][0]["check"], "t");
    assert_eq!(summary["needing_someone_elsewhere"], 1);
    assert!(
        stdout(&out).contains(
            "Outcome: clean: both sides agree; but 1 finding of other runs still needs someone (exit 0)"
        ),
        "{}",
        stdout(&out)
    );
    let statuses: Vec<(String, String)> = {
        let (_, json, _) = list(&scenario, &["--json"]);
        json.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|d| {
                (
                    d["check"].as_str().unwrap().to_string(),
                    d["status"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        statuses,
        [
            ("t".to_string(), "resolved".to_string()),
            ("u".to_string(), "open".to_string())
        ]
    );

    // An unknown check: exit 2, naming the configured ones; nothing run.
    let out = scenario.recon(&run_args(
        "2026-11-20",
        "out",
        &["--check", "t", "--check", "nosuch"],
    ));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "recon: --check nosuch: not a configured check; the checks are: t, u\n"
    );
}

/// Check `cards` of Stripe reports `reports/stripe-{date}.csv` against an empty ledger.
async fn empty_ledger_with_reports() -> Scenario {
    let scenario = Scenario::new("STORE_URL");
    let ledger = sqlite_db(
        &scenario.dir().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL,
           currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL,
           fee_minor INTEGER)",
        ],
    )
    .await;
    let config = stripe_cards(TestConfig::new()).to_toml();
    scenario.env("LEDGER_URL", &ledger).config(&config)
}

const STRIPE_HEADER: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id\n";

#[tokio::test]
async fn run_from_to_catches_up_a_range_and_stops_at_the_first_failure() {
    let scenario = empty_ledger_with_reports().await;
    std::fs::create_dir_all(scenario.dir().join("reports")).unwrap();
    for date in ["2026-11-01", "2026-11-03"] {
        write(
            scenario.dir(),
            &format!("reports/stripe-{date}.csv"),
            STRIPE_HEADER,
        );
    }
    let range = |from: &str| {
        scenario.recon(&[
            "run",
            "--config",
            "recon.toml",
            "--from",
            from,
            "--to",
            "2026-11-03",
            "--out",
            "out",
        ])
    };
    // 2026-11-02's report is missing: its run is incomplete (exit 3), the range stops there.
    let out = range("2026-11-01");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.ends_with(
            "\nCatch-up stopped at 2026-11-02 (exit 3: incomplete: a source could not be read; safe to rerun).\n\
             Done: 2026-11-01\n\
             Left: 2026-11-02, 2026-11-03\n\
             Resume with: recon run --config recon.toml --from 2026-11-02 --to 2026-11-03 --out out\n"
        ),
        "{text}"
    );
    // The first date compared nothing: it says so rather than "clean".
    assert!(
        text.contains("Outcome: nothing compared: 0 rows on either side (exit 0)\n"),
        "{text}"
    );

    write(
        scenario.dir(),
        "reports/stripe-2026-11-02.csv",
        STRIPE_HEADER,
    );
    let out = range("2026-11-02");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("\nCatch-up complete: 2 date(s) run, 2026-11-02 to 2026-11-03.\n"),
        "{}",
        stdout(&out)
    );
    let s = summary(scenario.dir());
    assert_eq!(s["business_date"], "2026-11-03");
    assert_eq!(s["nothing_compared"], true);
    assert_eq!(s["totals"]["rows_compared"], 0);
    let html = std::fs::read_to_string(scenario.dir().join("out/report.html")).unwrap();
    assert!(
        html.contains("<h1>Nothing compared: 0 rows on either side</h1>"),
        "{html}"
    );

    // Backwards, or beside --date: refused.
    let out = scenario.recon(&[
        "run",
        "--config",
        "recon.toml",
        "--from",
        "2026-11-03",
        "--to",
        "2026-11-01",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "recon: --from 2026-11-03 is after --to 2026-11-01: give the earlier date first\n"
    );
    let out = scenario.recon(&[
        "run",
        "--config",
        "recon.toml",
        "--date",
        "2026-11-03",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-02",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn a_clean_nightly_run_names_the_dates_it_missed() {
    let scenario = two_findings().await;
    let yesterday = chrono::Utc::now().date_naive() - chrono::Duration::days(1);
    let days_ago = |n: i64| (yesterday - chrono::Duration::days(n)).to_string();
    let (out, _) = scenario.run(&days_ago(3), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    sql(
        scenario.var("R"),
        "UPDATE t SET amount_minor = 2000 WHERE id = 2",
    )
    .await;
    sql(scenario.var("R"), "INSERT INTO t VALUES (3, 3000, 'EUR')").await;
    let out = scenario.recon(&["run", "--config", "recon.toml", "--out", "out"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = summary(scenario.dir());
    assert_eq!(
        s["missed_dates"],
        serde_json::json!([days_ago(2), days_ago(1)])
    );
    assert_eq!(s["nothing_compared"], false);
    assert_eq!(s["totals"]["rows_compared"], 6);
    let missed = format!(
        "Missed: no run completed {}, {} since the last completed one; catch up with `recon run --from {} --to {}`\n",
        days_ago(2),
        days_ago(1),
        days_ago(2),
        days_ago(1)
    );
    assert!(stdout(&out).contains(&missed), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("Outcome: clean: both sides agree; but 2 dates missed (exit 0)\n"),
        "{}",
        stdout(&out)
    );
}
