//! Stripe's Reporting API as its documentation states it, served by a stub written from that
//! contract, not from recon: each report type accepts only its documented run parameters
//! (docs.stripe.com/reports/report-types/balance and …/payout-reconciliation) and refuses any
//! other with 400 `parameter_unknown`; a create's status and body are saved under its
//! Idempotency-Key and replayed to the same key with `Idempotent-Replayed: true` (a 500
//! included), a key still executing answers 409 `idempotency_key_in_use`, and a report's file
//! is written with the run's `decimal_separator`. This stub also insists on a pinned
//! `Stripe-Version` (Stripe itself falls back to the account's default version).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::fixtures::{DATE, DAY_END, DAY_START, Raw, STRIPE_KEY};
use crate::common::*;

const ITEMIZED: &[&str] = &[
    "interval_start",
    "interval_end",
    "currency",
    "reporting_category",
    "decimal_separator",
    "columns",
];
const ITEMIZED_WITH_TIMEZONE: &[&str] = &[
    "interval_start",
    "interval_end",
    "timezone",
    "currency",
    "reporting_category",
    "decimal_separator",
    "columns",
];

/// The documented report types and their run parameters.
fn documented(report_type: &str) -> Option<&'static [&'static str]> {
    match report_type {
        "balance_change_from_activity.itemized.1"
        | "balance_change_from_activity.itemized.2"
        | "payout_reconciliation.itemized.1"
        | "payout_reconciliation.itemized.2"
        | "payout_reconciliation.itemized.3" => Some(ITEMIZED),
        "balance_change_from_activity.itemized.3"
        | "payout_reconciliation.itemized.4"
        | "payout_reconciliation.itemized.5" => Some(ITEMIZED_WITH_TIMEZONE),
        _ => None,
    }
}

/// The day's balance transactions: id, source, amount and fee in minor units.
const LINES: &[(&str, &str, i64, i64)] = &[
    ("txn_1", "ch_1", 123_456, 3_610),
    ("txn_2", "ch_2", 2_400, 100),
];

/// The ledger the lines match exactly.
const LEDGER: &[&str] = &[
    "CREATE TABLE stripe_payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
    "INSERT INTO stripe_payments VALUES ('ch_1', 123456, 'USD', '2026-11-20 09:59:00'), ('ch_2', 2400, 'USD', '2026-11-20 10:59:00')",
];

/// What the stub does besides the contract: failures injected.
#[derive(Default, Clone, Copy)]
struct Faults {
    /// The first create that executes ends in a 500 (saved under its key, as Stripe saves it).
    first_create_500: bool,
    /// The first report run fails.
    first_run_fails: bool,
    /// The first create finds its key still executing (another request with it in flight).
    first_key_in_use: bool,
}

/// A response saved under an idempotency key, with the form it answered.
struct Saved {
    form: Vec<(String, String)>,
    status: &'static str,
    body: String,
}

#[derive(Default)]
struct State {
    base: String,
    faults: Faults,
    executed_creates: u32,
    keys_in_use_seen: u32,
    saved: HashMap<String, Saved>,
    /// The report runs created: their decimal separator.
    runs: Vec<char>,
    /// Each create as answered: its key and whether the answer was a replay.
    creates: Vec<(String, bool)>,
}

fn error(status: &str, kind: &str, code: Option<&str>, message: &str) -> Response {
    let code = code.map_or(String::new(), |c| format!(r#", "code": "{c}""#));
    Response::json(
        status,
        &format!(r#"{{"error": {{"type": "{kind}"{code}, "message": "{message}"}}}}"#),
    )
}

/// `application/x-www-form-urlencoded` decoded.
fn decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn form_of(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn run_json(id: usize, status: &str, result: Option<&str>, error: Option<&str>) -> String {
    let result = result.map_or("null".to_string(), |url| {
        format!(r#"{{"id": "file_{id}", "object": "file", "purpose": "finance_report_run", "url": "{url}"}}"#)
    });
    let error = error.map_or("null".to_string(), |e| format!("\"{e}\""));
    format!(
        r#"{{"id": "frr_{id}", "object": "reporting.report_run", "error": {error}, "livemode": false, "result": {result}, "status": "{status}"}}"#
    )
}

/// `minor` in major units with `separator` (quoted when it is the file's comma).
fn amount(minor: i64, separator: char) -> String {
    let text = format!("{}{separator}{:02}", minor / 100, minor % 100);
    match separator {
        ',' => format!("\"{text}\""),
        _ => text,
    }
}

impl State {
    fn answer(&mut self, r: &Request) -> Response {
        if r.headers.get("authorization").map(String::as_str)
            != Some(&format!("Bearer {STRIPE_KEY}"))
        {
            return error(
                "401 Unauthorized",
                "invalid_request_error",
                None,
                "Invalid API Key provided",
            );
        }
        if !r.headers.contains_key("stripe-version") {
            return error(
                "400 Bad Request",
                "invalid_request_error",
                None,
                "no Stripe-Version pinned",
            );
        }
        let route = r.route();
        if let Some(id) = route.strip_prefix("GET /v1/reporting/report_types/") {
            return match documented(id) {
                Some(_) => Response::json(
                    "200 OK",
                    &format!(
                        r#"{{"id": "{id}", "object": "reporting.report_type", "data_available_start": 1500000000, "data_available_end": {}}}"#,
                        DAY_END + 86_400
                    ),
                ),
                None => error(
                    "404 Not Found",
                    "invalid_request_error",
                    Some("resource_missing"),
                    "No such report type",
                ),
            };
        }
        if route == "POST /v1/reporting/report_runs" {
            return self.create(r);
        }
        if let Some(id) = route.strip_prefix("GET /v1/reporting/report_runs/frr_") {
            let n: usize = id.parse().unwrap();
            if n == 1 && self.faults.first_run_fails {
                return Response::json(
                    "200 OK",
                    &run_json(n, "failed", None, Some("An internal error occurred")),
                );
            }
            let url = format!("{}/v1/files/file_{n}/contents", self.base);
            return Response::json("200 OK", &run_json(n, "succeeded", Some(&url), None));
        }
        if let Some(rest) = route.strip_prefix("GET /v1/files/file_") {
            let n: usize = rest.trim_end_matches("/contents").parse().unwrap();
            let separator = self.runs[n - 1];
            let mut csv = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id\n".to_string();
            for (txn, source, gross, fee) in LINES {
                csv.push_str(&format!(
                    "{txn},2026-11-20 10:00:00,usd,{},{},{},charge,{source}\n",
                    amount(*gross, separator),
                    amount(*fee, separator),
                    amount(gross - fee, separator)
                ));
            }
            return Response::csv(&csv);
        }
        error(
            "404 Not Found",
            "invalid_request_error",
            None,
            "Unrecognized request URL",
        )
    }

    fn create(&mut self, r: &Request) -> Response {
        let form = form_of(&r.body);
        let key = r
            .headers
            .get("idempotency-key")
            .cloned()
            .unwrap_or_default();
        if self.faults.first_key_in_use && self.keys_in_use_seen == 0 {
            self.keys_in_use_seen += 1;
            self.creates.push((key, false));
            return error(
                "409 Conflict",
                "idempotency_error",
                Some("idempotency_key_in_use"),
                "There is currently another in-progress request using this Idempotent Key",
            );
        }
        if let Some(saved) = self.saved.get(&key) {
            if saved.form != form {
                return error(
                    "400 Bad Request",
                    "idempotency_error",
                    None,
                    "Keys for idempotent requests can only be used with the same parameters they were first used with",
                );
            }
            self.creates.push((key.clone(), true));
            return Response::json(saved.status, &saved.body).header("Idempotent-Replayed", "true");
        }
        // validation: refused before execution, so nothing is saved under the key
        let report_type = form
            .iter()
            .find(|(k, _)| k == "report_type")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let Some(allowed) = documented(report_type) else {
            return error(
                "400 Bad Request",
                "invalid_request_error",
                Some("parameter_invalid"),
                "No such report type",
            );
        };
        let mut separator = '.';
        for (name, value) in &form {
            let Some(inner) = name.strip_prefix("parameters[") else {
                if name != "report_type" {
                    return error(
                        "400 Bad Request",
                        "invalid_request_error",
                        Some("parameter_unknown"),
                        &format!("Received unknown parameter: {name}"),
                    );
                }
                continue;
            };
            let parameter = inner.split(']').next().unwrap_or_default();
            if !allowed.contains(&parameter) {
                return error(
                    "400 Bad Request",
                    "invalid_request_error",
                    Some("parameter_unknown"),
                    &format!("Received unknown parameter: {name}"),
                );
            }
            if parameter == "decimal_separator" {
                separator = match value.as_str() {
                    "." => '.',
                    "," => ',',
                    _ => {
                        return error(
                            "400 Bad Request",
                            "invalid_request_error",
                            Some("parameter_invalid"),
                            "Invalid decimal_separator",
                        );
                    }
                };
            }
        }
        for required in ["parameters[interval_start]", "parameters[interval_end]"] {
            if !form.iter().any(|(k, _)| k == required) {
                return error(
                    "400 Bad Request",
                    "invalid_request_error",
                    Some("parameter_missing"),
                    &format!("Missing required param: {required}"),
                );
            }
        }
        self.executed_creates += 1;
        let (status, body) = if self.faults.first_create_500 && self.executed_creates == 1 {
            (
                "500 Internal Server Error",
                r#"{"error": {"type": "api_error", "message": "An unknown error occurred"}}"#
                    .to_string(),
            )
        } else {
            self.runs.push(separator);
            ("200 OK", run_json(self.runs.len(), "pending", None, None))
        };
        self.saved.insert(
            key.clone(),
            Saved {
                form,
                status,
                body: body.clone(),
            },
        );
        self.creates.push((key, false));
        Response::json(status, &body)
    }
}

/// The stub, and its state to look at.
fn stripe(faults: Faults) -> (HttpServer, Arc<Mutex<State>>) {
    let state = Arc::new(Mutex::new(State {
        faults,
        ..State::default()
    }));
    let shared = state.clone();
    let server = HttpServer::serve(200, move |r| shared.lock().unwrap().answer(r));
    state.lock().unwrap().base = server.base();
    (server, state)
}

/// A scenario with one Stripe check on `server`, its `stripe_api` extra keys and format options.
async fn scenario(server: &HttpServer, api_extra: &str, format_options: &str) -> Scenario {
    let scenario = Scenario::new("STORE_URL");
    let ledger_url = sqlite_db(&scenario.dir().join("ledger.db"), LEDGER).await;
    let base = server.base();
    let mut config = TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 50)
        .set("max_attempts", 6)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("stripe", "stripe")
        .set(
            "stripe_api",
            Raw(format!(
                r#"{{ secret_key_env = "STRIPE_SECRET_KEY", api_base = "{base}", files_base = "{base}"{api_extra} }}"#
            )),
        )
        .set("ledger", ledger_mapping("stripe_payments", &[]))
        .set("match_on", "reference");
    if !format_options.is_empty() {
        config = config.set("format_options", Raw(format!("{{ {format_options} }}")));
    }
    scenario
        .env("LEDGER_URL", &ledger_url)
        .env("STRIPE_SECRET_KEY", STRIPE_KEY)
        .config(&config.to_toml())
}

/// The creates the stub received, as `(form, Idempotency-Key)`.
fn creates(server: &HttpServer) -> Vec<(Vec<(String, String)>, String)> {
    server
        .requests()
        .iter()
        .filter(|r| r.route() == "POST /v1/reporting/report_runs")
        .map(|r| (form_of(&r.body), r.headers["idempotency-key"].clone()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The key's generation suffix, and the key without it.
fn generation(key: &str) -> (&str, &str) {
    key.rsplit_once("-g").unwrap()
}

/// The generations the store recorded for the check: (generation, spent_reason).
async fn generations(scenario: &Scenario) -> Vec<(i64, Option<String>)> {
    let sql = "SELECT generation, spent_reason FROM idempotency_generations WHERE check_name = 'stripe' ORDER BY generation";
    let url = scenario.store();
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        return rows;
    }
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
    pool.close().await;
    rows
}

#[tokio::test]
async fn every_run_recon_creates_is_accepted_and_its_file_reads_with_the_configured_separator() {
    let start = DAY_START.to_string();
    let end = DAY_END.to_string();
    // A comma separator on the default report type: sent, so Stripe writes `"1234,56"`.
    let (server, state) = stripe(Faults::default());
    let comma = scenario(&server, "", r#"decimal_separator = ",""#).await;
    let (out, summary) = comma.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["checks"][0]["status"], "clean");
    let sent = creates(&server);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].0,
        pairs(&[
            ("report_type", "balance_change_from_activity.itemized.3"),
            ("parameters[interval_start]", &start),
            ("parameters[interval_end]", &end),
            ("parameters[timezone]", "Etc/UTC"),
            ("parameters[decimal_separator]", ","),
        ])
    );
    assert_eq!(state.lock().unwrap().runs, [',']);
    for r in server.requests() {
        assert_eq!(r.headers["stripe-version"], "2024-06-20", "{}", r.route());
    }

    // A report type without a timezone parameter: none is sent.
    let (server, _) = stripe(Faults::default());
    let no_zone = scenario(
        &server,
        r#", report_type = "balance_change_from_activity.itemized.2""#,
        "",
    )
    .await;
    let (out, summary) = no_zone.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["checks"][0]["status"], "clean");
    assert_eq!(
        creates(&server)[0].0,
        pairs(&[
            ("report_type", "balance_change_from_activity.itemized.2"),
            ("parameters[interval_start]", &start),
            ("parameters[interval_end]", &end),
            ("parameters[decimal_separator]", "."),
        ])
    );
}

#[tokio::test]
async fn a_replayed_500_spends_the_generation_and_the_next_key_creates_the_run() {
    replayed_500_then_next_generation(None).await;
}

#[tokio::test]
async fn a_replayed_500_spends_the_generation_on_a_postgres_store_too() {
    let Some(store) = fresh_postgres("stripe_generations").await else {
        return;
    };
    replayed_500_then_next_generation(Some(store)).await;
}

/// A first create answered 500 and replayed: generation 2 creates the run, the store (SQLite,
/// or the one at `store`) records why 1 was spent, and a rerun reuses generation 2.
async fn replayed_500_then_next_generation(store: Option<String>) {
    let (server, state) = stripe(Faults {
        first_create_500: true,
        ..Faults::default()
    });
    let scenario = scenario(&server, "", "").await;
    let scenario = match &store {
        Some(url) => scenario.store_at(url),
        None => scenario,
    };
    let (out, summary) = scenario.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["checks"][0]["status"], "clean");
    let keys: Vec<String> = creates(&server).into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let (stem, first) = generation(&keys[0]);
    assert!(stem.starts_with("recon-stripe-2026-11-20-"), "{stem}");
    assert_eq!(
        keys.iter().map(|k| generation(k)).collect::<Vec<_>>(),
        [(stem, "1"), (stem, "1"), (stem, "2")],
        "{first}"
    );
    // The 500 answered the key once, was replayed to its retry, and one run was created.
    let replays: Vec<bool> = state
        .lock()
        .unwrap()
        .creates
        .iter()
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(replays, [false, true, false]);
    assert_eq!(state.lock().unwrap().runs.len(), 1);
    let recorded = generations(&scenario).await;
    assert_eq!(
        recorded,
        [
            (
                1,
                Some(format!(
                    "creating a Stripe report run (Idempotency-Key {}): HTTP 500 Internal Server Error: An unknown error occurred",
                    keys[0]
                ))
            ),
            (2, None)
        ]
    );

    // A rerun of the day keeps generation 2: Stripe replays the run it created, none is added.
    let (out, _) = scenario.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let keys: Vec<String> = creates(&server).into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys.len(), 4);
    assert_eq!(keys[3], keys[2]);
    assert_eq!(state.lock().unwrap().runs.len(), 1);
    let replays: Vec<bool> = state
        .lock()
        .unwrap()
        .creates
        .iter()
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(replays, [false, true, false, true]);
}

#[tokio::test]
async fn a_rerun_after_a_failed_report_run_sends_the_next_generation() {
    let (server, state) = stripe(Faults {
        first_run_fails: true,
        ..Faults::default()
    });
    let scenario = scenario(&server, "", "").await;
    let (out, summary) = scenario.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        summary["checks"][0]["error"],
        "Stripe report run frr_1 failed: An internal error occurred"
    );
    let (out, summary) = scenario.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["checks"][0]["status"], "clean");
    let keys: Vec<String> = creates(&server).into_iter().map(|(_, k)| k).collect();
    let generations_sent: Vec<&str> = keys.iter().map(|k| generation(k).1).collect();
    assert_eq!(generations_sent, ["1", "2"]);
    assert_eq!(generation(&keys[0]).0, generation(&keys[1]).0);
    assert_eq!(state.lock().unwrap().runs.len(), 2);
    assert_eq!(
        generations(&scenario).await,
        [
            (
                1,
                Some("Stripe report run frr_1 failed: An internal error occurred".to_string())
            ),
            (2, None)
        ]
    );
}

#[tokio::test]
async fn a_key_still_in_use_is_retried_with_the_same_key() {
    let (server, state) = stripe(Faults {
        first_key_in_use: true,
        ..Faults::default()
    });
    let scenario = scenario(&server, "", "").await;
    let (out, summary) = scenario.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["checks"][0]["status"], "clean");
    let keys: Vec<String> = creates(&server).into_iter().map(|(_, k)| k).collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    assert!(keys[0].ends_with("-g1"), "{}", keys[0]);
    assert_eq!(state.lock().unwrap().runs.len(), 1);
    assert!(generations(&scenario).await.is_empty());
}

#[tokio::test]
async fn config_check_refuses_a_parameter_stripe_does_not_document_and_a_report_the_format_cannot_read()
 {
    let (server, _) = stripe(Faults::default());
    for (api_extra, format_options, message) in [
        (
            r#", parameters = { payout = "po_1" }"#,
            "",
            "settlement[0] (\"stripe\").stripe_api.parameters.payout: balance_change_from_activity.itemized.3 documents no run parameter \"payout\" (its parameters: interval_start, interval_end, timezone, currency, reporting_category, decimal_separator, columns)",
        ),
        (
            r#", report_type = "payout_reconciliation.itemized.5""#,
            "",
            "settlement[0] (\"stripe\").stripe_api.report_type: payout_reconciliation.itemized.5 is a payout_reconciliation report, but the format reads balance_change_from_activity reports (format_options.report_type = \"balance_change_from_activity\"): set format_options.report_type = \"payout_reconciliation\", or run one of balance_change_from_activity.itemized.1, balance_change_from_activity.itemized.2, balance_change_from_activity.itemized.3",
        ),
        (
            r#", report_type = "balance_change_from_activity.itemized.1""#,
            r#"timezone = "America/New_York""#,
            "settlement[0] (\"stripe\").format_options.timezone: balance_change_from_activity.itemized.1 has no timezone parameter (its times are UTC), so \"America/New_York\" cannot be sent: leave timezone out, or run one of balance_change_from_activity.itemized.3",
        ),
    ] {
        let scenario = scenario(&server, api_extra, format_options).await;
        let out = scenario.recon(&["config", "check", "--config", "recon.toml"]);
        assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
        assert_eq!(stderr(&out), format!("recon: recon.toml: {message}\n"));
    }
    assert!(server.requests().is_empty());
}
