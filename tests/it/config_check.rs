//! `recon config check` names every missing variable at once and prints the configuration
//! resolved: every section and key, defaults filled in, passwords masked.

use sha2::{Digest, Sha256};

use crate::common::*;

const EXAMPLE: &str = "config/recon.example.toml";

fn check(env: &[(&str, &str)]) -> std::process::Output {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut env = env.to_vec();
    for var in [
        "RECON_STORE_URL",
        "RECON_LEDGER_URL",
        "RECON_PAYMENTS_URL",
        "RECON_MASK_KEY",
    ] {
        if !env.iter().any(|(k, _)| *k == var) {
            env.push((var, ""));
        }
    }
    // The temp folder the example leaves to the environment (as the manifests set it).
    env.push(("RECON_TEMP_DIR", "/tmp"));
    recon(&["config", "check", "--config", EXAMPLE], &env, repo)
}

#[test]
fn every_missing_variable_is_named_at_once() {
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "recon: config/recon.example.toml: not set in the environment: RECON_STORE_URL (store.url_env), RECON_LEDGER_URL (sources.ledger.url_env), RECON_PAYMENTS_URL (sources.payments.url_env), RECON_MASK_KEY (job.mask_key_env, the key of sensitive_columns)\n"
    );
}

#[test]
fn the_example_resolves_to_every_section_and_key() {
    let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let out = check(&[
        ("RECON_MASK_KEY", key),
        (
            "RECON_STORE_URL",
            "postgres://recon_store:StorePw@store-db:5432/recon?sslmode=verify-full",
        ),
        (
            "RECON_LEDGER_URL",
            "postgres://recon_reader:LedgerPw@ledger-db:5432/ledger?sslmode=verify-full",
        ),
        (
            "RECON_PAYMENTS_URL",
            "mysql://recon_reader:PayPw@payments-db:3306/payments?ssl-mode=VERIFY_IDENTITY",
        ),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)).unwrap();
    let digest = hex::encode(Sha256::digest(&text));
    assert_eq!(
        stdout(&out),
        format!(
            r#"# config/recon.example.toml (sha256 {digest})
[job]
timezone = "Europe/Amsterdam"
out_dir = "/var/lib/recon/out"
seal_lookback_days = 7
seal_retention_days = 90
history_retention_days = 400
download_retention_days = 30
max_discrepancies = 100000
mask_key_env = "RECON_MASK_KEY"
data_key_env = "RECON_DATA_KEY"
temp_dir = "/tmp"

[job.retry]
initial_delay_ms = 500
max_delay_ms = 30000
max_total_secs = 300
max_attempts = 8

[job.circuit_breaker]
enabled = true
failure_rate_percent = 50
window = 10
min_calls = 5
cool_down_secs = 30

[store]
url = "postgres://recon_store:***@store-db:5432/recon?sslmode=verify-full"
connect_timeout_secs = 30

[store.retry]
initial_delay_ms = 500
max_delay_ms = 30000
max_total_secs = 300
max_attempts = 8

[sources.ledger]
url = "postgres://recon_reader:***@ledger-db:5432/ledger?sslmode=verify-full"
timezone = "UTC"
max_connections = 2
statement_timeout_secs = 600
connect_timeout_secs = 10

[sources.ledger.retry]
initial_delay_ms = 500
max_delay_ms = 30000
max_total_secs = 300
max_attempts = 8

[sources.payments]
url = "mysql://recon_reader:***@payments-db:3306/payments?ssl-mode=VERIFY_IDENTITY"
timezone = "UTC"
max_connections = 2
statement_timeout_secs = 600
connect_timeout_secs = 10

[sources.payments.retry]
initial_delay_ms = 500
max_delay_ms = 30000
max_total_secs = 300
max_attempts = 8

[[integrity]]
name = "ledger_entries"
left = {{ source = "ledger", table = "ledger_entries" }}
right = {{ source = "payments", table = "ledger_entries" }}
key = ["id"]
columns = ["account_id", "amount_minor", "currency", "status", "external_id", "memo", "created_at"]
date_column = "created_at"
sensitive_columns = []
accept_uncompared = []
seal = true
strategy = "stream"
settle_secs = 300
settle_column = "created_at"
recheck_after_secs = 5
split_by_key = false

[[integrity]]
name = "accounts"
left = {{ source = "ledger", table = "accounts" }}
right = {{ source = "payments", table = "accounts" }}
key = ["id"]
# columns: every column both tables share
# date_column: none, the whole table is compared every run
sensitive_columns = ["iban"]
accept_uncompared = []
seal = false
strategy = "stream"
settle_secs = 0
split_by_key = false

[[settlement]]
name = "stripe"
format = "stripe"
report = "/var/lib/recon/reports/stripe/balance-{{date}}.csv"
ledger = {{ source = "ledger", table = "card_payments", id = "processor_ref", amount = "amount_minor", currency = "currency", at = "created_at", status = "status", fee = "fee_minor", payout = "payout_id", amount_unit = "minor" }}
match_on = "reference"
amount_tolerance_minor = 0
date_window_days = 0
settled_statuses = ["settled"]
timing_window_days = 3
[settlement.bank]
statements = "/var/lib/recon/bank/camt053-{{date}}.xml"
format = "camt"
batch_bookings = "split"
accounts = ["DE89370400440532013000"]
# trace: window_business_days = 2, max_subset_items = 4, weekend Sat, Sun; 2 holiday(s), remittance patterns for [], 1 amount rule(s)

[[settlement]]
name = "acme_pay"
format = "acme"
report = "/var/lib/recon/reports/acme/settlement_{{yyyymmdd}}.csv"
ledger = {{ source = "ledger", table = "acme_payments", id = "id", amount = "amount", currency = "currency", at = "booked_at", amount_unit = "major" }}
match_on = "record_id"
amount_tolerance_minor = 0
date_window_days = 0
settled_statuses = []
timing_window_days = 3

[formats.acme]
datetime_format = "%d.%m.%Y %H:%M:%S"
decimal_separator = ","
default_kind = "charge"
delimiter = ";"
time_zone = "Europe/Berlin"

[formats.acme.amounts]
credit_values = ["C"]
debit_values = ["D"]
indicator_column = "D/C"
style = "debit_credit"

[formats.acme.columns]
created_at = "Booked"
currency = "Currency"
fee = "Fee"
gross = "Amount"
kind = "Type"
payout_id = "Batch"
record_id = "Transaction"

[formats.acme.kinds]
CHARGEBACK = "dispute"
REFUND = "refund"
SALE = "charge"

[audit.trusted_keys]
# audit entries will be UNSIGNED: RECON_AUDIT_SIGNING_KEY is not set, so the store's own credentials can rewrite the chain undetected
# data at rest is not encrypted (set RECON_DATA_KEY)
# configuration is valid
"#
        )
    );
}
