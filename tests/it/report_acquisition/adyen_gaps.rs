//! Adyen's report download across days, against a server written from Adyen's documented
//! contract (`GET /reports/download/MerchantAccount/<account>/<file>`, the report user's basic
//! auth, 404 for a file not generated): a skipped batch number, a batch delivered late into the
//! gap, and reports named by date.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::fixtures::*;
use crate::common::*;

/// base64 of `report@Company.Acme:adyen-PlantedSecret-456`.
const BASIC: &str = "Basic cmVwb3J0QENvbXBhbnkuQWNtZTphZHllbi1QbGFudGVkU2VjcmV0LTQ1Ng==";
const PREFIX: &str = "/reports/download/MerchantAccount/AcmeEU/";

/// Adyen's Customer Area for merchant account `AcmeEU`: the files generated so far.
struct CustomerArea {
    server: HttpServer,
    files: Arc<Mutex<BTreeMap<String, String>>>,
}

impl CustomerArea {
    fn new() -> CustomerArea {
        let files = Arc::new(Mutex::new(BTreeMap::<String, String>::new()));
        let generated = files.clone();
        let server = HttpServer::serve(1000, move |request| {
            if request.headers.get("authorization").map(String::as_str) != Some(BASIC) {
                return Response::new("401 Unauthorized");
            }
            let file = match request.method.as_str() {
                "GET" => request.path.strip_prefix(PREFIX),
                _ => None,
            };
            match file.and_then(|f| generated.lock().unwrap().get(f).cloned()) {
                Some(body) => Response::csv(&body),
                None => Response::new("404 Not Found").body("File not found"),
            }
        });
        CustomerArea { server, files }
    }

    /// Adyen generates `file`.
    fn generate(&self, file: &str, body: &str) {
        self.files
            .lock()
            .unwrap()
            .insert(file.to_string(), body.to_string());
    }

    /// The files asked for since request `from`.
    fn asked(&self, from: usize) -> Vec<String> {
        self.server.requests()[from..]
            .iter()
            .map(|r| r.path.strip_prefix(PREFIX).unwrap_or(&r.path).to_string())
            .collect()
    }
}

/// A settlement details report with one settled payment `psp` of 30.00 EUR on `date`.
fn report(batch: u64, psp: &str, date: &str) -> String {
    format!(
        "{ADYEN_HEADER}\nAcme,AcmeEU,{psp},order-{psp},visa,{date} 12:00:00,CET,Settled,,EUR,,30.00,1,EUR,,29.50,0.50,,,,visa,,{batch}\n"
    )
}

fn batch_file(batch: u64) -> String {
    format!("settlement_detail_report_batch_{batch}.csv")
}

/// One Adyen check downloading `file` from `area`, three attempts at most, against a ledger
/// with a 30.00 EUR payment each of `payments` (id, booked at).
async fn scenario(area: &CustomerArea, file: &str, payments: &[(&str, &str)]) -> Scenario {
    let scenario = Scenario::new("STORE_URL");
    let rows: Vec<String> = payments
        .iter()
        .map(|(id, at)| format!("('{id}', 3000, 'EUR', '{at}')"))
        .collect();
    let ledger_url = sqlite_db(
        &scenario.dir().join("ledger.db"),
        &[
            "CREATE TABLE adyen_payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            &format!("INSERT INTO adyen_payments VALUES {}", rows.join(", ")),
        ],
    )
    .await;
    let location = format!(
        r#"{{ base_url = "{}", merchant_account = "AcmeEU", file = "{file}", first_batch = 7, report_user = "{ADYEN_USER}", password_env = "ADYEN_REPORT_PASSWORD" }}"#,
        area.server.base()
    );
    let toml = TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 50)
        .set("max_attempts", 3)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("adyen", "adyen")
        .set("adyen_download", Raw(location))
        .set("ledger", ledger_mapping("adyen_payments", &[]))
        .to_toml();
    scenario
        .env("LEDGER_URL", &ledger_url)
        .env("ADYEN_REPORT_PASSWORD", ADYEN_PASSWORD)
        .config(&toml)
}

/// Each download's batch and the batch numbers skipped just below it.
fn batches(summary: &serde_json::Value) -> Vec<(u64, Vec<u64>)> {
    summary["checks"][0]["downloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let skipped = d["skipped_batches"]
                .as_array()
                .map(|s| s.iter().map(|b| b.as_u64().unwrap()).collect())
                .unwrap_or_default();
            (d["batch"].as_u64().unwrap(), skipped)
        })
        .collect()
}

fn names(batches: &[u64]) -> Vec<String> {
    batches.iter().map(|b| batch_file(*b)).collect()
}

/// Adyen skips batch 8: the 21st fetches batch 9 past the gap (a warning naming 8, recorded with
/// batch 9), the run clean; batch 8 delivered late is fetched by the 22nd, which probes the gap
/// again; a rerun of the 21st fetches the same batch as before.
#[tokio::test]
async fn a_skipped_batch_number_stalls_no_later_day_and_a_late_batch_in_the_gap_is_fetched() {
    let area = CustomerArea::new();
    let scenario = scenario(
        &area,
        "settlement_detail_report_batch_{batch}.csv",
        &[
            ("8815000000000007", "2026-11-20 11:00:00"),
            ("8815000000000009", "2026-11-21 11:00:00"),
            ("8815000000000018", "2026-11-22 11:00:00"),
            ("8815000000000010", "2026-11-22 11:05:00"),
        ],
    )
    .await;

    area.generate(&batch_file(7), &report(7, "8815000000000007", "2026-11-20"));
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(batches(&summary), [(7, vec![])]);
    // batch 7, then 8 and the five numbers past it: none there
    assert_eq!(area.asked(0), names(&[7, 8, 9, 10, 11, 12, 13]));

    // Adyen's next batch is 9: 8 is skipped
    area.generate(&batch_file(9), &report(9, "8815000000000009", "2026-11-21"));
    let before = area.server.requests().len();
    let (out, summary) = scenario.run("2026-11-21", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["discrepancies"], serde_json::json!([]));
    assert_eq!(batches(&summary), [(9, vec![8])]);
    assert_eq!(area.asked(before), names(&[8, 9, 10, 11, 12, 13, 14, 15]));
    assert!(
        stderr(&out).contains(
            "Adyen settlement batch numbers [8] are not there while batch 9 is: a gap in the numbering"
        ),
        "{}",
        stderr(&out)
    );

    // batch 8 comes late, with batch 10: the 22nd probes the gap first
    area.generate(&batch_file(8), &report(8, "8815000000000018", "2026-11-22"));
    area.generate(
        &batch_file(10),
        &report(10, "8815000000000010", "2026-11-22"),
    );
    let before = area.server.requests().len();
    let (out, summary) = scenario.run("2026-11-22", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["discrepancies"], serde_json::json!([]));
    assert_eq!(batches(&summary), [(8, vec![]), (10, vec![])]);
    assert_eq!(area.asked(before), names(&[8, 10, 11, 12, 13, 14, 15, 16]));

    // a rerun of the 21st fetches batch 9 again, and nothing another day owns (8 is no gap now)
    let before = area.server.requests().len();
    let (out, summary) = scenario.run("2026-11-21", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(batches(&summary), [(9, vec![])]);
    assert_eq!(area.asked(before), names(&[9]));
}

/// A daily report named with Adyen's date (`_YYYY_MM_DD`): each day asks for its own file and
/// no batch; the 21st's file is not there (exit 3, that day alone), the 22nd is clean, and the
/// 21st's rerun once Adyen generated it is clean too.
#[tokio::test]
async fn a_report_named_by_date_is_one_file_a_day_and_a_missing_one_stalls_only_its_day() {
    let area = CustomerArea::new();
    let scenario = scenario(
        &area,
        "settlement_detail_report_{yyyy_mm_dd}.csv",
        &[
            ("8815000000000020", "2026-11-20 11:00:00"),
            ("8815000000000021", "2026-11-21 11:00:00"),
            ("8815000000000022", "2026-11-22 11:00:00"),
        ],
    )
    .await;
    let daily = |day: &str| format!("settlement_detail_report_{}.csv", day.replace('-', "_"));
    area.generate(
        &daily("2026-11-20"),
        &report(7, "8815000000000020", "2026-11-20"),
    );
    area.generate(
        &daily("2026-11-22"),
        &report(9, "8815000000000022", "2026-11-22"),
    );

    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        summary["checks"][0]["downloads"][0]["source"],
        format!(
            "{}{PREFIX}settlement_detail_report_2026_11_20.csv",
            area.server.base()
        )
    );
    assert_eq!(area.asked(0), [daily("2026-11-20")]);

    let before = area.server.requests().len();
    let (out, summary) = scenario.run("2026-11-21", &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        summary["checks"][0]["error"],
        format!(
            "downloading {}{PREFIX}settlement_detail_report_2026_11_21.csv: HTTP 404 Not Found (not delivered yet?) (gave up after 3 attempt(s); `recon retry` completes it)",
            area.server.base()
        )
    );
    assert_eq!(area.asked(before), vec![daily("2026-11-21"); 3]);

    let before = area.server.requests().len();
    let (out, _) = scenario.run("2026-11-22", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(area.asked(before), [daily("2026-11-22")]);

    area.generate(
        &daily("2026-11-21"),
        &report(8, "8815000000000021", "2026-11-21"),
    );
    let before = area.server.requests().len();
    let (out, _) = scenario.run("2026-11-21", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(area.asked(before), [daily("2026-11-21")]);
}

/// Settlement detail reports named by batch and date, as Adyen adds a date on request
/// (`settlement_detail_report_batch_<N>_<YYYY_MM_DD>.csv`): each day's batches under its date.
#[tokio::test]
async fn batch_reports_with_a_date_in_their_name_are_fetched_day_after_day() {
    let area = CustomerArea::new();
    let scenario = scenario(
        &area,
        "settlement_detail_report_batch_{batch}_{yyyy_mm_dd}.csv",
        &[
            ("8815000000000007", "2026-11-20 11:00:00"),
            ("8815000000000008", "2026-11-21 11:00:00"),
        ],
    )
    .await;
    let named = |batch: u64, day: &str| {
        format!(
            "settlement_detail_report_batch_{batch}_{}.csv",
            day.replace('-', "_")
        )
    };
    area.generate(
        &named(7, "2026-11-20"),
        &report(7, "8815000000000007", "2026-11-20"),
    );
    area.generate(
        &named(8, "2026-11-21"),
        &report(8, "8815000000000008", "2026-11-21"),
    );
    let (out, summary) = scenario.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(batches(&summary), [(7, vec![])]);
    assert_eq!(
        area.asked(0),
        [7, 8, 9, 10, 11, 12, 13].map(|b| named(b, "2026-11-20"))
    );
    let before = area.server.requests().len();
    let (out, summary) = scenario.run("2026-11-21", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(batches(&summary), [(8, vec![])]);
    assert_eq!(
        area.asked(before),
        [8, 9, 10, 11, 12, 13, 14].map(|b| named(b, "2026-11-21"))
    );
}
