//! What the acquisition tests share: the processors' reports and the ledger they are matched
//! against, the Stripe API's objects, the configuration (reports fetched or read locally), and
//! what a run found, in a form the fetched and the local runs compare in.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::sshd::Sshd;
use crate::common::*;

pub const DATE: &str = "2026-11-20";
pub const STRIPE_KEY: &str = "sk_test_PlantedSecret123";
pub const ADYEN_USER: &str = "report@Company.Acme";
pub const ADYEN_PASSWORD: &str = "adyen-PlantedSecret-456";
/// 2026-11-20T00:00:00Z and 2026-11-21T00:00:00Z: the business day in UTC.
pub const DAY_START: i64 = 1_795_132_800;
pub const DAY_END: i64 = 1_795_219_200;

pub const STRIPE_REPORT: &str = "\
balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
txn_2,2026-11-20 11:00:00,usd,25.00,1.03,23.97,charge,ch_2,
txn_3,2026-11-20 12:00:00,usd,7.00,0.50,6.50,charge,ch_3,
txn_4,2026-11-20 13:00:00,usd,abc,0.50,6.50,charge,ch_4,
";

pub const ADYEN_HEADER: &str = "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,Modification Merchant Reference,Batch Number";

pub fn adyen_batch(batch: u64) -> String {
    let rows = match batch {
        7 => "\
Acme,AcmeEU,8815000000000001,order-1,visa,2026-11-20 10:15:00,CET,Settled,,EUR,,100.00,1,EUR,,98.53,0.12,1.00,0.05,0.30,visacredit,,7
Acme,AcmeEU,8815000000000002,order-2,mc,2026-11-20 11:00:00,CET,Settled,,EUR,,50.00,1,EUR,,49.00,1.00,,,,mccredit,,7
",
        8 => "\
Acme,AcmeEU,8815000000000003,order-3,visa,2026-11-20 12:00:00,CET,Settled,,EUR,,20.00,1,EUR,,19.50,0.50,,,,visa,,8
",
        _ => "\
Acme,AcmeEU,8815000000000009,order-9,visa,2026-11-21 12:00:00,CET,Settled,,EUR,,30.00,1,EUR,,29.50,0.50,,,,visa,,9
",
    };
    format!("{ADYEN_HEADER}\n{rows}")
}

pub const BRAINTREE_REPORT: &str = "\
Transaction ID,Transaction Type,Transaction Status,Created Datetime,Created Timezone,Currency ISO Code,Amount Submitted For Settlement,Service Fee
bt1,sale,settled,2026-11-20 10:00:00,,USD,10.00,0.30
bt2,sale,settled,2026-11-20 11:00:00,,USD,12.00,0.30
bt3,sale,voided,2026-11-20 12:00:00,,USD,5.00,
";

pub const LEDGER: &[&str] = &[
    "CREATE TABLE stripe_payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
    "INSERT INTO stripe_payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00'), ('ch_2', 2400, 'USD', '2026-11-20 10:59:00')",
    "CREATE TABLE adyen_payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
    "INSERT INTO adyen_payments VALUES ('8815000000000001', 10000, 'EUR', '2026-11-20 09:00:00'), ('8815000000000002', 5001, 'EUR', '2026-11-20 10:00:00'), ('8815000000000003', 2000, 'EUR', '2026-11-20 11:00:00')",
    "CREATE TABLE braintree_payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
    "INSERT INTO braintree_payments VALUES ('bt1', 1000, 'USD', '2026-11-20 09:00:00'), ('bt2', 1250, 'USD', '2026-11-20 10:00:00')",
];

/// Where the Adyen download of batch `batch` is asked for.
pub fn adyen_path(batch: u64) -> String {
    format!("/reports/download/MerchantAccount/AcmeEU/settlement_detail_report_batch_{batch}.csv")
}

// ---------------------------------------------------------------------------------------------
// Stripe's Reporting API.

/// A report run object as Stripe returns it.
pub fn report_run(status: &str, result_url: Option<&str>, error: Option<&str>) -> String {
    let result = match result_url {
        Some(url) => format!(
            r#"{{"id": "file_1", "object": "file", "purpose": "finance_report_run", "size": {}, "url": "{url}"}}"#,
            STRIPE_REPORT.len()
        ),
        None => "null".to_string(),
    };
    let error = error.map_or("null".to_string(), |e| format!("\"{e}\""));
    format!(
        r#"{{"id": "frr_1", "object": "reporting.report_run", "created": {DAY_END}, "error": {error}, "livemode": false,
            "parameters": {{"interval_start": {DAY_START}, "interval_end": {DAY_END}, "timezone": "UTC"}},
            "report_type": "balance_change_from_activity.itemized.3", "result": {result}, "status": "{status}",
            "succeeded_at": null}}"#
    )
}

pub fn report_type() -> String {
    format!(
        r#"{{"id": "balance_change_from_activity.itemized.3", "object": "reporting.report_type",
            "data_available_start": 1500000000, "data_available_end": {}, "default_columns": [], "version": 3}}"#,
        DAY_END + 86_400
    )
}

pub const STRIPE_TYPE_PATH: &str =
    "/v1/reporting/report_types/balance_change_from_activity.itemized.3";

/// The `stripe_api` location of a check fetching from `server`.
pub fn stripe_api(server: &HttpServer) -> String {
    let base = server.base();
    format!(
        r#"{{ secret_key_env = "STRIPE_SECRET_KEY", api_base = "{base}", files_base = "{base}" }}"#
    )
}

/// A TOML value written as is (an inline table with numbers).
pub struct Raw(pub String);

impl TomlValue for Raw {
    fn toml(&self) -> String {
        self.0.clone()
    }
}

pub fn base_config() -> TestConfig {
    TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 2000)
        .set("max_attempts", 10)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
}

pub enum Where<'a> {
    Local(&'a Path),
    Fetched {
        http: &'a str,
        sftp_port: u16,
        sshd: &'a Sshd,
        remote: &'a Path,
    },
}

pub fn config(at: Where<'_>) -> String {
    let stripe = base_config().settlement("stripe", "stripe");
    let stripe = match &at {
        Where::Local(dir) => stripe.set("report", format!("{}/stripe-{{date}}.csv", dir.display())),
        Where::Fetched { http, .. } => stripe.set(
            "stripe_api",
            Raw(format!(
                r#"{{ secret_key_env = "STRIPE_SECRET_KEY", api_base = "{http}", files_base = "{http}" }}"#
            )),
        ),
    };
    let adyen = stripe
        .set("ledger", ledger_mapping("stripe_payments", &[]))
        .set("match_on", "reference")
        .settlement("adyen", "adyen");
    let adyen = match &at {
        Where::Local(dir) => adyen.set(
            "report",
            format!("{}/settlement_detail_report_batch_*.csv", dir.display()),
        ),
        Where::Fetched { http, .. } => adyen.set(
            "adyen_download",
            Raw(format!(
                r#"{{ base_url = "{http}", merchant_account = "AcmeEU", file = "settlement_detail_report_batch_{{batch}}.csv", first_batch = 7, report_user = "{ADYEN_USER}", password_env = "ADYEN_REPORT_PASSWORD" }}"#
            )),
        ),
    };
    let braintree = adyen
        .set("ledger", ledger_mapping("adyen_payments", &[]))
        .settlement("braintree", "braintree");
    let braintree = match &at {
        Where::Local(dir) => braintree.set(
            "report",
            format!("{}/braintree-{{date}}.csv", dir.display()),
        ),
        Where::Fetched {
            sftp_port,
            sshd,
            remote,
            ..
        } => braintree.set(
            "sftp",
            Raw(format!(
                r#"{{ host = "127.0.0.1", port = {sftp_port}, user = "{}", host_key = "{}", private_key_env = "SFTP_KEY", path = "{}/braintree-{{date}}.csv" }}"#,
                sshd.user,
                sshd.fingerprint,
                remote.display()
            )),
        ),
    };
    braintree
        .set("ledger", ledger_mapping("braintree_payments", &[]))
        .to_toml()
}

/// What a run found, with each check's report names replaced by their place (`report#1`…), so
/// the fetched and the local run compare: every finding's check, kind, key, values, detail and
/// money at stake; every check's status, rows, report digest and accounting.
pub fn findings(summary: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut checks = Vec::new();
    for check in summary["checks"].as_array().unwrap() {
        let files = check["left"]["table"].as_str().unwrap();
        let mut own = Vec::new();
        for (i, name) in files.split(", ").enumerate() {
            own.push((
                name.to_string(),
                format!("{}#report{}", check["name"], i + 1),
            ));
        }
        let mut accounting = check["accounting"].as_str().unwrap_or("").to_string();
        for (name, label) in &own {
            accounting = accounting.replace(name, label);
        }
        checks.push(format!(
            "{} {} rows={} digest={} {accounting}",
            check["name"], check["status"], check["left"]["rows"], check["left"]["digest"]
        ));
        names.extend(own);
    }
    let mut found: Vec<String> = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut text = format!(
                "{} {} {} {} {} {}",
                d["check"], d["kind"], d["key"], d["values"], d["detail"], d["at_stake"]
            );
            for (name, label) in &names {
                text = text.replace(name, label);
            }
            text
        })
        .collect();
    found.sort();
    (checks, found)
}

pub fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Every output of a run (stdout, stderr, each report file) in one text, for secret searches.
pub fn everything(dir: &Path, out: &std::process::Output) -> String {
    let mut text = format!("{}{}", stdout(out), stderr(out));
    for entry in std::fs::read_dir(dir.join("out")).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        if path.is_file() {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}
