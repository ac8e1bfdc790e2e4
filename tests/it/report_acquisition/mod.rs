//! Reports acquired from the processors, against real local servers: an HTTP server speaking
//! the request/response contracts of Stripe's Reporting API and Adyen's report download, and a
//! real OpenSSH sshd serving SFTP. Failures are injected (429 with `Retry-After`, 5xx, pending
//! runs, a dropped connection) and the run finds exactly what it finds in the same files read
//! locally; credentials are sent and never shown; refusals fail at once.

mod adyen_gaps;
mod fixtures;
mod sshd;
mod stripe_contract;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::*;
use fixtures::*;
use sshd::{Sshd, fingerprint, flaky_proxy, keygen, start_sshd};

// ---------------------------------------------------------------------------------------------
// The same reports fetched from the processors, failures injected, and read from local files.

/// The same reports on disk under `root/local`, read locally: what that run found.
async fn local_run(root: &Path) -> serde_json::Value {
    let local = root.join("local");
    let reports = local.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    write(&reports, &format!("stripe-{DATE}.csv"), STRIPE_REPORT);
    for batch in [7, 8] {
        write(
            &reports,
            &format!("settlement_detail_report_batch_{batch}.csv"),
            &adyen_batch(batch),
        );
    }
    write(&reports, &format!("braintree-{DATE}.csv"), BRAINTREE_REPORT);
    let ledger_url = sqlite_db(&local.join("ledger.db"), LEDGER).await;
    let (out, summary) = Scenario::in_dir(&local, "STORE_URL")
        .env("LEDGER_URL", &ledger_url)
        .config(&config(Where::Local(&reports)))
        .run(DATE, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    summary
}

/// The processors' HTTP server, each with failures injected: Stripe rate-limits (429 with
/// `Retry-After: 1`), keeps its report run pending, fails with 500 and 503; Adyen fails batch 7
/// once; batch 9 is not there on the 20th, and is on the 21st.
fn processors() -> HttpServer {
    HttpServer::scripted_at(|base| {
        let file_url = format!("{base}/v1/files/file_1/contents");
        Script::new()
            .route(
                &format!("GET {STRIPE_TYPE_PATH}"),
                [
                    Response::new("429 Too Many Requests")
                        .header("Retry-After", "1")
                        .header("Content-Type", "application/json")
                        .body(
                            r#"{"error": {"message": "Too many requests", "type": "rate_limit_error"}}"#,
                        ),
                    Response::json("200 OK", &report_type()),
                ],
            )
            .route(
                "POST /v1/reporting/report_runs",
                [Response::json("200 OK", &report_run("pending", None, None))],
            )
            .route(
                "GET /v1/reporting/report_runs/frr_1",
                [
                    Response::json("200 OK", &report_run("pending", None, None)),
                    Response::json(
                        "500 Internal Server Error",
                        r#"{"error": {"message": "An unknown error occurred", "type": "api_error"}}"#,
                    ),
                    Response::json(
                        "200 OK",
                        &report_run("succeeded", Some(&file_url), None),
                    ),
                ],
            )
            .route(
                "GET /v1/files/file_1/contents",
                [
                    Response::new("503 Service Unavailable").body("busy"),
                    Response::csv(STRIPE_REPORT),
                ],
            )
            .route(
                &format!("GET {}", adyen_path(7)),
                [
                    Response::new("500 Internal Server Error").body("oops"),
                    Response::csv(&adyen_batch(7)),
                ],
            )
            .route(
                &format!("GET {}", adyen_path(8)),
                [Response::csv(&adyen_batch(8))],
            )
            .route(
                &format!("GET {}", adyen_path(9)),
                [Response::new("404 Not Found"), Response::csv(&adyen_batch(9))],
            )
    })
}

/// The run that fetches the reports (in `root/fetched`): from `http`, and over SFTP from `sshd`
/// through a proxy that drops its first connection.
struct Fetched {
    scenario: Scenario,
    /// The HTTP server's base URL, and the Stripe report file's URL on it.
    base: String,
    file_url: String,
    sftp_port: u16,
    /// The SFTP folder, and the braintree report's source as the run names it.
    remote: PathBuf,
    sftp_source: String,
}

async fn fetched(root: &Path, http: &HttpServer, sshd: &Sshd) -> Fetched {
    let remote = root.join("sftp-root");
    std::fs::create_dir_all(&remote).unwrap();
    write(&remote, &format!("braintree-{DATE}.csv"), BRAINTREE_REPORT);
    write(&remote, "braintree-2026-11-21.csv", BRAINTREE_REPORT);
    let sftp_port = flaky_proxy(sshd.port);
    let dir = root.join("fetched");
    std::fs::create_dir_all(&dir).unwrap();
    let ledger_url = sqlite_db(&dir.join("ledger.db"), LEDGER).await;
    let base = http.base();
    let config = config(Where::Fetched {
        http: &base,
        sftp_port,
        sshd,
        remote: &remote,
    });
    let scenario = Scenario::in_dir(&dir, "STORE_URL")
        .env("LEDGER_URL", &ledger_url)
        .env("STRIPE_SECRET_KEY", STRIPE_KEY)
        .env("ADYEN_REPORT_PASSWORD", ADYEN_PASSWORD)
        .env("SFTP_KEY", &sshd.client_key)
        .env("RUST_LOG", "debug")
        .config(&config);
    let sftp_source = format!(
        "sftp://{}@127.0.0.1:{sftp_port}/{}/braintree-{DATE}.csv",
        sshd.user,
        remote.display().to_string().trim_start_matches('/')
    );
    Fetched {
        scenario,
        file_url: format!("{base}/v1/files/file_1/contents"),
        base,
        sftp_port,
        remote,
        sftp_source,
    }
}

/// Where the run keeps a download of `name`.
fn kept(name: &str) -> String {
    format!("out/downloads/{DATE}-{name}")
}

impl Fetched {
    /// Each finding's check, kind and key.
    fn assert_kinds(&self, summary: &serde_json::Value, sshd: &Sshd) {
        let (file_url, sftp_port) = (&self.file_url, self.sftp_port);
        let kinds: Vec<String> = summary["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| format!("{} {} {}", d["check"], d["kind"], d["key"]))
            .collect();
        assert_eq!(
            kinds,
            [
                r#""stripe" "missing_in_ledger" {"id":"ch_3"}"#,
                r#""stripe" "amount_mismatch" {"id":"ch_2"}"#,
                &format!(r#""stripe" "quarantined_row" {{"file":"{file_url}","line":"5"}}"#),
                r#""adyen" "amount_mismatch" {"id":"8815000000000002"}"#,
                r#""braintree" "amount_mismatch" {"id":"bt2"}"#,
                &format!(
                    r#""braintree" "quarantined_row" {{"file":"sftp://{}@127.0.0.1:{sftp_port}{}/braintree-{DATE}.csv","line":"4"}}"#,
                    sshd.user,
                    self.remote.display()
                ),
            ]
        );
    }

    /// Each download recorded with its source, kept file, SHA-256 and attempts.
    fn assert_downloads(&self, summary: &serde_json::Value) {
        let downloads: Vec<serde_json::Value> = summary["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| serde_json::json!([c["name"], c["attempts"], c["downloads"]]))
            .collect();
        let entry = |source: String, file: String, body: &str, attempts: u32| serde_json::json!({"source": source, "file": file, "sha256": sha256(body), "bytes": body.len(), "attempts": attempts});
        let batch = |n: u64, attempts: u32| {
            let mut e = entry(
                format!("{}{}", self.base, adyen_path(n)),
                kept(&format!("adyen-settlement_detail_report_batch_{n}.csv")),
                &adyen_batch(n),
                attempts,
            );
            e["batch"] = n.into();
            e
        };
        assert_eq!(
            downloads,
            vec![
                serde_json::json!([
                    "stripe",
                    6,
                    [entry(
                        self.file_url.clone(),
                        kept("stripe-balance_change_from_activity.itemized.3.csv"),
                        STRIPE_REPORT,
                        6
                    )]
                ]),
                serde_json::json!(["adyen", 2, [batch(7, 2), batch(8, 1)]]),
                serde_json::json!([
                    "braintree",
                    2,
                    [entry(
                        self.sftp_source.clone(),
                        kept(&format!("braintree-braintree-{DATE}.csv")),
                        BRAINTREE_REPORT,
                        2
                    )]
                ]),
            ]
        );
    }

    /// Each download a sync of its own in the store, beside the check's.
    async fn assert_download_syncs(&self) {
        let pool = sqlx::SqlitePool::connect(self.scenario.store())
            .await
            .unwrap();
        let syncs: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT check_name, unit, status, attempts FROM syncs WHERE unit LIKE 'download:%' ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        pool.close().await;
        let sync = |check: &str, source: &str, attempts: i64| {
            (
                check.to_string(),
                format!("download:{source}"),
                "succeeded".to_string(),
                attempts,
            )
        };
        let base = &self.base;
        assert_eq!(
            syncs,
            [
                sync("stripe", &self.file_url, 6),
                sync("adyen", &format!("{base}{}", adyen_path(7)), 2),
                sync("adyen", &format!("{base}{}", adyen_path(8)), 1),
                sync("braintree", &self.sftp_source, 2),
            ]
        );
    }
}

/// The exact requests to Stripe, with its key, and the report run created once.
fn assert_stripe_requests(requests: &[Request]) {
    let stripe: Vec<&Request> = requests
        .iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .collect();
    let lines: Vec<String> = stripe
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        lines,
        [
            format!("GET {STRIPE_TYPE_PATH}"),
            format!("GET {STRIPE_TYPE_PATH}"),
            "POST /v1/reporting/report_runs".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
            "GET /v1/files/file_1/contents".to_string(),
            "GET /v1/files/file_1/contents".to_string(),
        ]
    );
    for r in &stripe {
        assert_eq!(r.headers["authorization"], format!("Bearer {STRIPE_KEY}"));
    }
    let create = stripe[2];
    assert_eq!(
        create.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(
        create.headers["idempotency-key"].starts_with("recon-stripe-2026-11-20-"),
        "{:?}",
        create.headers
    );
    let form: Vec<(String, String)> = create
        .body
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let decode = |s: &str| {
                s.replace("%5B", "[")
                    .replace("%5D", "]")
                    .replace("%2F", "/")
            };
            (decode(k), decode(v))
        })
        .collect();
    assert_eq!(
        form,
        [
            ("report_type", "balance_change_from_activity.itemized.3"),
            ("parameters[interval_start]", &DAY_START.to_string()),
            ("parameters[interval_end]", &DAY_END.to_string()),
            ("parameters[timezone]", "Etc/UTC"),
            ("parameters[decimal_separator]", "."),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
}

/// The paths of the requests to Adyen, each checked for its basic auth.
fn adyen_requests(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.path.starts_with("/reports/"))
        .map(|r| {
            assert_eq!(
                r.headers["authorization"],
                // base64 of report@Company.Acme:adyen-PlantedSecret-456
                "Basic cmVwb3J0QENvbXBhbnkuQWNtZTphZHllbi1QbGFudGVkU2VjcmV0LTQ1Ng==",
                "basic auth of {ADYEN_USER}"
            );
            r.path.clone()
        })
        .collect()
}

#[tokio::test]
async fn stripe_api_adyen_download_and_sftp_find_what_the_same_files_read_locally_find() {
    let root = temp_dir();
    let Some(sshd) = start_sshd(root.path()) else {
        return;
    };
    let local_summary = local_run(root.path()).await;
    let http = processors();
    let fetched = fetched(root.path(), &http, &sshd).await;
    let started = Instant::now();
    let (out, summary) = fetched.scenario.run(DATE, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not waited out"
    );

    // Exactly the findings of the local run.
    let (local_checks, local_found) = findings(&local_summary);
    let (checks, found) = findings(&summary);
    assert_eq!(checks, local_checks);
    assert_eq!(found, local_found);
    fetched.assert_kinds(&summary, &sshd);

    fetched.assert_downloads(&summary);
    fetched.assert_download_syncs().await;
    let dir = fetched.scenario.dir();
    assert_eq!(
        std::fs::read_to_string(dir.join(kept("adyen-settlement_detail_report_batch_8.csv")))
            .unwrap(),
        adyen_batch(8)
    );

    // The exact requests, with the credentials each API wants.
    let requests = http.requests();
    assert_stripe_requests(&requests);
    assert_eq!(
        adyen_requests(&requests),
        [7, 7, 8, 9, 10, 11, 12, 13, 14].map(adyen_path),
        "batch 7 retried, 8, then 9 not there and the five numbers past it (probe_ahead) neither"
    );

    // No credential anywhere in what the run printed or wrote.
    let text = everything(dir, &out);
    assert!(
        text.contains("Stripe report run created"),
        "debug logs were on"
    );
    for secret in [STRIPE_KEY, ADYEN_PASSWORD] {
        assert!(!text.contains(secret), "{secret} was shown");
    }
    let key_line = sshd.client_key.lines().nth(1).unwrap();
    assert!(!text.contains(key_line), "the SFTP key was shown");

    // The next day starts after the batches the 20th took: batch 9, then 10 is not there nor
    // the five numbers past it.
    let before = http.requests().len();
    let (out, summary) = fetched.scenario.run("2026-11-21", &[]);
    let adyen = &summary["checks"][1];
    assert_eq!(adyen["name"], "adyen", "{}", stderr(&out));
    assert_eq!(adyen["downloads"].as_array().unwrap().len(), 1);
    assert_eq!(adyen["downloads"][0]["batch"], 9);
    let later: Vec<String> = http.requests()[before..]
        .iter()
        .filter(|r| r.path.starts_with("/reports/"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(later, [9, 10, 11, 12, 13, 14, 15].map(adyen_path));
}

// ---------------------------------------------------------------------------------------------
// Refusals fail at once (exit 2); what may pass is retried until the policy gives up (exit 3).

/// One check fetching its report through `section = location`, with three attempts at most;
/// returns the exit code, the check's summary and everything the run printed or wrote.
async fn one_check(
    section: &str,
    location: String,
    format: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, serde_json::Value, String) {
    one_check_capped(section, location, format, env, None).await
}

/// [`one_check`], with the check's `max_download_bytes` set to `cap` when given.
async fn one_check_capped(
    section: &str,
    location: String,
    format: &str,
    env: &[(&str, &str)],
    cap: Option<i64>,
) -> (Option<i32>, serde_json::Value, String) {
    let scenario = Scenario::new("STORE_URL");
    let ledger_url = sqlite_db(&scenario.dir().join("ledger.db"), LEDGER).await;
    let table = match format {
        "stripe" => "stripe_payments",
        "adyen" => "adyen_payments",
        _ => "braintree_payments",
    };
    let toml = TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 50)
        .set("max_attempts", 3)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement(format, format)
        .set(section, Raw(location))
        .set("ledger", ledger_mapping(table, &[]));
    let toml = match cap {
        Some(cap) => toml.set("max_download_bytes", cap),
        None => toml,
    }
    .to_toml();
    let scenario = env
        .iter()
        .fold(scenario.env("LEDGER_URL", &ledger_url), |s, (k, v)| {
            s.env(k, v)
        })
        .config(&toml);
    let (out, summary) = scenario.run(DATE, &[]);
    let text = everything(scenario.dir(), &out);
    (out.status.code(), summary["checks"][0].clone(), text)
}

/// One Stripe check fetching its report through the Stripe API at `server`.
async fn stripe_check(server: &HttpServer) -> (Option<i32>, serde_json::Value, String) {
    let env = [("STRIPE_SECRET_KEY", STRIPE_KEY)];
    one_check("stripe_api", stripe_api(server), "stripe", &env).await
}

/// Stripe answers its report type with `type_answer` and creating a run with `created`, and
/// polling that run with `polled`.
fn stripe(type_answer: Response, created: Vec<Response>, polled: Vec<Response>) -> HttpServer {
    HttpServer::scripted(
        Script::new()
            .route(&format!("GET {STRIPE_TYPE_PATH}"), [type_answer])
            .route("POST /v1/reporting/report_runs", created)
            .route("GET /v1/reporting/report_runs/frr_1", polled),
    )
}

#[tokio::test]
async fn a_refused_stripe_key_fails_at_once_and_stays_masked_even_when_echoed() {
    let echo = format!(
        r#"{{"error": {{"message": "Invalid API Key provided: {STRIPE_KEY}", "type": "invalid_request_error"}}}}"#
    );
    let server = stripe(Response::json("401 Unauthorized", &echo), vec![], vec![]);
    let (code, check, text) = stripe_check(&server).await;
    assert_eq!(code, Some(2));
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        "Stripe report type balance_change_from_activity.itemized.3: HTTP 401 Unauthorized: \
         Invalid API Key provided: *** (check the Stripe key in STRIPE_SECRET_KEY)"
    );
    assert!(!text.contains(STRIPE_KEY));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_failed_stripe_report_run_is_permanent_and_a_pending_one_runs_out_the_policy() {
    let report_type = || Response::json("200 OK", &report_type());
    let failed = report_run(
        "failed",
        None,
        Some("interval_end is past data_available_end"),
    );
    let server = stripe(
        report_type(),
        vec![Response::json("200 OK", &failed)],
        vec![],
    );
    let (code, check, _) = stripe_check(&server).await;
    assert_eq!(code, Some(2));
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        "Stripe report run frr_1 failed: interval_end is past data_available_end"
    );

    let pending = Response::json("200 OK", &report_run("pending", None, None));
    let server = stripe(report_type(), vec![pending.clone()], vec![pending; 2]);
    let (code, check, _) = stripe_check(&server).await;
    assert_eq!(code, Some(3));
    assert_eq!(check["attempts"], 3);
    assert_eq!(
        check["error"],
        "Stripe report run frr_1 is still pending (gave up after 3 attempt(s); `recon retry` completes it)"
    );
    // Created once, then polled: never a second run.
    let lines: Vec<String> = server.requests().iter().map(Request::route).collect();
    assert_eq!(
        lines,
        [
            format!("GET {STRIPE_TYPE_PATH}"),
            "POST /v1/reporting/report_runs".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
        ]
    );
}

#[tokio::test]
async fn a_refused_adyen_api_key_fails_at_once_and_a_missing_first_batch_is_not_delivered_yet() {
    let key = "AQE-PlantedApiKey-789";
    // One Adyen check fetching from `server` with the API key.
    let adyen_check = async |server: &HttpServer| {
        let location = format!(
            r#"{{ base_url = "{}", company_account = "Acme", file = "settlement_detail_report_batch_{{batch}}.csv", first_batch = 3, api_key_env = "ADYEN_API_KEY" }}"#,
            server.base()
        );
        one_check(
            "adyen_download",
            location,
            "adyen",
            &[("ADYEN_API_KEY", key)],
        )
        .await
    };
    let path = "/reports/download/Company/Acme/settlement_detail_report_batch_3.csv";
    let server = HttpServer::scripted(
        Script::new().route(&format!("GET {path}"), [Response::new("401 Unauthorized")]),
    );
    let (code, check, text) = adyen_check(&server).await;
    assert_eq!(code, Some(2));
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        format!(
            "downloading {}{path}: HTTP 401 Unauthorized (check the API key in ADYEN_API_KEY)",
            server.base()
        )
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers["x-api-key"], key);
    assert!(!requests[0].headers.contains_key("authorization"));
    assert!(!text.contains(key));

    let server = HttpServer::scripted(Script::new());
    let (code, check, _) = adyen_check(&server).await;
    assert_eq!(code, Some(3));
    assert_eq!(check["attempts"], 3);
    assert_eq!(
        check["error"],
        format!(
            "downloading {}{path}: HTTP 404 Not Found (not delivered yet?) (gave up after 3 attempt(s); `recon retry` completes it)",
            server.base()
        )
    );
    // batch 3 and the five numbers past it probed once each; then batch 3 waited for
    let batch =
        |n: u64| format!("/reports/download/Company/Acme/settlement_detail_report_batch_{n}.csv");
    let asked: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(asked, [3, 4, 5, 6, 7, 8, 3, 3, 3].map(batch));
}

#[tokio::test]
async fn an_sftp_host_key_other_than_the_pinned_one_is_refused_and_a_closed_port_retried() {
    let root = temp_dir();
    let Some(sshd) = start_sshd(root.path()) else {
        return;
    };
    write(
        root.path(),
        &format!("braintree-{DATE}.csv"),
        BRAINTREE_REPORT,
    );
    let other = root.path().join("other_key");
    keygen(&other);
    let pinned = fingerprint(&other.with_extension("pub"));
    let location = |port: u16, host_key: &str| {
        format!(
            r#"{{ host = "127.0.0.1", port = {port}, user = "{}", host_key = "{host_key}", private_key_env = "SFTP_KEY", path = "{}/braintree-{{date}}.csv" }}"#,
            sshd.user,
            root.path().display()
        )
    };
    let env = [("SFTP_KEY", sshd.client_key.as_str())];
    let shown = |port: u16| {
        format!(
            "sftp://{}@127.0.0.1:{port}/{}/braintree-{DATE}.csv",
            sshd.user,
            root.path().display().to_string().trim_start_matches('/')
        )
    };
    let (code, check, text) =
        one_check("sftp", location(sshd.port, &pinned), "braintree", &env).await;
    assert_eq!(code, Some(2));
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        format!(
            "{}: the server's host key is {}, not the pinned {pinned} (sftp.host_key): not connecting. \
             If the server's key really changed, pin the new fingerprint",
            shown(sshd.port),
            sshd.fingerprint
        )
    );
    let key_line = sshd.client_key.lines().nth(1).unwrap();
    assert!(!text.contains(key_line));

    // The right key: picked up, its SHA-256 recorded.
    let (code, check, _) = one_check(
        "sftp",
        location(sshd.port, &sshd.fingerprint),
        "braintree",
        &env,
    )
    .await;
    assert_eq!(code, Some(1), "{check}");
    assert_eq!(check["downloads"][0]["sha256"], sha256(BRAINTREE_REPORT));

    let closed = free_port();
    let (code, check, _) = one_check(
        "sftp",
        location(closed, &sshd.fingerprint),
        "braintree",
        &env,
    )
    .await;
    assert_eq!(code, Some(3));
    assert_eq!(check["attempts"], 3);
    assert!(
        check["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}: ", shown(closed))),
        "{check}"
    );
}

/// An SFTP report past the check's `max_download_bytes` fails at once (exit 2), naming the cap,
/// and nothing of it is kept under `downloads/`.
#[tokio::test]
async fn an_sftp_report_past_max_download_bytes_is_refused() {
    let root = temp_dir();
    let Some(sshd) = start_sshd(root.path()) else {
        return;
    };
    write(
        root.path(),
        &format!("braintree-{DATE}.csv"),
        BRAINTREE_REPORT,
    );
    let location = format!(
        r#"{{ host = "127.0.0.1", port = {}, user = "{}", host_key = "{}", private_key_env = "SFTP_KEY", path = "{}/braintree-{{date}}.csv" }}"#,
        sshd.port,
        sshd.user,
        sshd.fingerprint,
        root.path().display()
    );
    let env = [("SFTP_KEY", sshd.client_key.as_str())];
    let cap = BRAINTREE_REPORT.len() - 1;
    let (code, check, _) =
        one_check_capped("sftp", location, "braintree", &env, Some(cap as i64)).await;
    assert_eq!(code, Some(2), "{check}");
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        format!(
            "sftp://{}@127.0.0.1:{}/{}/braintree-{DATE}.csv: the report is larger than \
             max_download_bytes = {cap} bytes (it announces {} bytes; nothing was downloaded); \
             raise max_download_bytes in the check's [[settlement]] section if a report this \
             large is genuine",
            sshd.user,
            sshd.port,
            root.path().display().to_string().trim_start_matches('/'),
            BRAINTREE_REPORT.len()
        )
    );
    assert_eq!(
        check["downloads"],
        serde_json::Value::Null,
        "nothing downloaded: {check}"
    );
}
