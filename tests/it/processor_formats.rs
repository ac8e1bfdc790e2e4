//! Each processor's report as the processor publishes it (header, column order, quoting, number
//! and date formats, file naming) read by a real run against a SQLite ledger: the exact
//! discrepancies, quarantined lines and accounting line.

use std::path::Path;

use crate::common::*;

/// The fixture `tests/fixtures/processors/<name>`.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/processors")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A ledger table `payments (id, amount_minor, currency, created_at)` holding `rows`.
async fn ledger(dir: &Path, rows: &[(&str, i64, &str, &str)]) -> String {
    let values: Vec<String> = rows
        .iter()
        .map(|(id, amount, currency, at)| format!("('{id}', {amount}, '{currency}', '{at}')"))
        .collect();
    sqlite_db(
        &dir.join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT PRIMARY KEY, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, created_at TIMESTAMP NOT NULL)",
            &format!("INSERT INTO payments VALUES {}", values.join(", ")),
        ],
    )
    .await
}

/// A `[[settlement]]` check named `check`; `options` is the body of its `format_options` inline
/// table (none when empty).
fn config(format: &str, report: &str, options: &str, match_on: &str) -> String {
    let config = TestConfig::new()
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("check", format)
        .set("report", report)
        .set("ledger", ledger_mapping("payments", &[]))
        .set("match_on", match_on)
        .set("timing_window_days", 3);
    let mut text = config.to_toml();
    if !options.is_empty() {
        text.push_str(&format!("format_options = {{ {options} }}\n"));
    }
    text
}

/// Runs 2026-11-20 and returns the exit code, the (kind, key) of every discrepancy sorted, the
/// accounting line and the summary.
async fn run(
    dir: &Path,
    ledger: &str,
) -> (
    Option<i32>,
    Vec<(String, String)>,
    String,
    serde_json::Value,
) {
    let store = sqlite_url(dir.join("store.db"));
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
        &[("STORE_URL", &store), ("LEDGER_URL", ledger)],
        dir,
    );
    let summary: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("out/summary.json"))
            .unwrap_or_else(|e| panic!("{e}: {}", stderr(&out))),
    )
    .unwrap();
    let mut found: Vec<(String, String)> = kinds_and_keys(&summary["discrepancies"]);
    found.sort();
    let accounting = summary["checks"][0]["accounting"]
        .as_str()
        .unwrap_or_else(|| panic!("no accounting: {summary} {}", stderr(&out)))
        .to_string();
    (out.status.code(), found, accounting, summary)
}

fn detail(summary: &serde_json::Value, kind: &str, key: &str) -> String {
    summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["kind"] == kind && d["key"] == serde_json::from_str::<serde_json::Value>(key).unwrap()
        })
        .unwrap_or_else(|| panic!("no {kind} {key} in {summary}"))["detail"]
        .as_str()
        .unwrap()
        .to_string()
}

fn found(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = rows
        .iter()
        .map(|(kind, key)| (kind.to_string(), key.to_string()))
        .collect();
    rows.sort();
    rows
}

/// An Adyen settlement batch file as Adyen names and lays it out: a payment presented in USD and
/// settled in EUR matches its USD ledger row; a refund and a chargeback match the ledger rows of
/// their own modification references; a payment captured in two parts matches its one ledger
/// row; a payment of an earlier day in this batch finds its ledger row; fee, balance transfer and
/// payout lines have ids of their own and are reported, not lost.
#[tokio::test]
async fn adyen_settlement_details_batch() {
    let dir = temp_dir();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(
        dir,
        "reports/settlement_detail_report_batch_42.csv",
        &fixture("adyen/settlement_detail_report_batch_42.csv"),
    );
    write(
        dir,
        "recon.toml",
        &config(
            "adyen",
            "reports/settlement_detail_report_batch_*.csv",
            "",
            "record_id",
        ),
    );
    let ledger = ledger(
        dir,
        &[
            ("8815000000000001", 10000, "EUR", "2026-11-20 09:00:00"),
            ("8815000000000002", 11000, "USD", "2026-11-20 09:10:00"),
            ("8815000000000003", 10000, "EUR", "2026-11-20 09:20:00"),
            ("8825000000000105", -3000, "EUR", "2026-11-20 12:00:00"),
            ("8825000000000106", -5000, "EUR", "2026-11-20 13:00:00"),
            // booked two days before the batch settled it
            ("8815000000000005", 2500, "EUR", "2026-11-18 08:00:00"),
            ("8815000000000006", 1500, "EUR", "2026-11-20 14:00:00"),
            ("8815000000000008", 900, "EUR", "2026-11-20 22:30:00"),
            // another day, named by no line: never read
            ("8815000000000009", 700, "EUR", "2026-11-10 10:00:00"),
        ],
    )
    .await;
    let (code, got, accounting, summary) = run(dir, &ledger).await;
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(
        got,
        found(&[
            ("duplicate_in_report", r#"{"id":"8815000000000006"}"#),
            ("missing_in_ledger", r#"{"id":"8825000000000109"}"#),
            (
                "missing_in_ledger",
                r#"{"id":"AcmeEU/42/Fee/Transaction Fees November 2026"}"#
            ),
            (
                "missing_in_ledger",
                r#"{"id":"AcmeEU/42/Balancetransfer/Balance transfer from batch 41"}"#
            ),
            (
                "missing_in_ledger",
                r#"{"id":"AcmeEU/42/MerchantPayout/TX4200000001XT"}"#
            ),
            // 8815000000000008 passes the Luhn check: a 16-digit id recon cannot tell from a
            // card number is shown masked, as every card number is.
            ("timing", r#"{"id":"881500******0008"}"#),
            (
                "quarantined_row",
                r#"{"file":"reports/settlement_detail_report_batch_42.csv","line":"15"}"#
            ),
        ])
    );
    assert_eq!(
        accounting,
        "reports/settlement_detail_report_batch_42.csv: 14 rows = 7 matched + 6 in discrepancies + 1 quarantined; \
         ledger payments: 8 rows = 6 matched + 2 in discrepancies + 0 not expected + 0 set aside"
    );
    // the refund of the cross-currency payment: tied to its payment, its settlement shown
    assert_eq!(
        detail(
            &summary,
            "missing_in_ledger",
            r#"{"id":"8825000000000109"}"#
        ),
        "report refund -10.00 USD modifying payment 8815000000000002 (settled as -9.00 EUR net, fee 0.00 EUR): \
         no ledger entry has id 8825000000000109 (reports/settlement_detail_report_batch_42.csv:11)"
    );
    assert!(
        detail(
            &summary,
            "quarantined_row",
            r#"{"file":"reports/settlement_detail_report_batch_42.csv","line":"15"}"#
        )
        .starts_with("unknown time zone `Mars` in `TimeZone` — row: Acme,AcmeEU,8815000000000007,"),
    );
}

/// A Braintree transaction search export as the Control Panel downloads it: month-first dates
/// with the zone in its own column, `sale`/`credit` magnitudes, statuses as words.
#[tokio::test]
async fn braintree_transaction_search_export() {
    let dir = temp_dir();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(
        dir,
        "reports/braintree-2026-11-20.csv",
        &fixture("braintree/transaction_search.csv"),
    );
    write(
        dir,
        "recon.toml",
        &config("braintree", "reports/braintree-{date}.csv", "", "record_id"),
    );
    let ledger = ledger(
        dir,
        &[
            ("bts00001", 2500, "USD", "2026-11-20 14:15:00"),
            ("btc00002", -1000, "USD", "2026-11-20 15:00:00"),
            ("bts00003", 120_000, "USD", "2026-11-20 16:30:00"),
            ("bts00004", 1400, "USD", "2026-11-20 17:00:00"),
            ("bts00007", 300, "USD", "2026-11-20 20:00:00"),
        ],
    )
    .await;
    let (code, got, accounting, summary) = run(dir, &ledger).await;
    assert_eq!(code, Some(1), "{summary}");
    let q = |line: &str| {
        (
            "quarantined_row".to_string(),
            format!(r#"{{"file":"reports/braintree-2026-11-20.csv","line":"{line}"}}"#),
        )
    };
    let mut want = found(&[
        ("amount_mismatch", r#"{"id":"bts00004"}"#),
        ("timing", r#"{"id":"bts00007"}"#),
    ]);
    want.extend([q("6"), q("7")]);
    want.sort();
    assert_eq!(got, want);
    assert_eq!(
        accounting,
        "reports/braintree-2026-11-20.csv: 6 rows = 3 matched + 1 in discrepancies + 2 quarantined; \
         ledger payments: 5 rows = 3 matched + 2 in discrepancies + 0 not expected + 0 set aside"
    );
    assert!(
        detail(&summary, "quarantined_row", &q("6").1)
            .starts_with("status `voided` in `Transaction Status` is not a settlement"),
    );
    assert!(
        detail(&summary, "quarantined_row", &q("7").1).starts_with(
            "unparseable date in `Created Datetime`: `11/31/2026 12:00:00` (expected MM/DD/YYYY HH:MM:SS)"
        ),
    );
}

/// A Stripe payout reconciliation report run with `timezone` and `decimal_separator` and a
/// `columns` selection without the `_utc` columns: its lines were booked on earlier days and
/// still find their ledger rows.
#[tokio::test]
async fn stripe_payout_reconciliation_with_run_parameters() {
    let dir = temp_dir();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(
        dir,
        "reports/stripe-2026-11-20.csv",
        &fixture("stripe/payout_reconciliation_itemized_5.csv"),
    );
    write(
        dir,
        "recon.toml",
        &config(
            "stripe",
            "reports/stripe-{date}.csv",
            r#"report_type = "payout_reconciliation", timezone = "Europe/Berlin", decimal_separator = ",""#,
            "reference",
        ),
    );
    let ledger = ledger(
        dir,
        &[
            ("ch_1", 1000, "USD", "2026-11-18 09:00:00"),
            ("ch_2", 102_500, "USD", "2026-11-18 23:30:00"),
            ("re_1", -500, "USD", "2026-11-19 14:00:00"),
            ("ch_3", 800, "USD", "2026-11-20 10:00:00"),
            ("ch_8", 700, "USD", "2026-11-19 16:00:00"),
        ],
    )
    .await;
    let (code, got, accounting, summary) = run(dir, &ledger).await;
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(
        got,
        found(&[
            ("missing_in_ledger", r#"{"id":"ch_9"}"#),
            ("timing", r#"{"id":"ch_3"}"#),
            (
                "quarantined_row",
                r#"{"file":"reports/stripe-2026-11-20.csv","line":"6"}"#
            ),
        ])
    );
    assert_eq!(
        accounting,
        "reports/stripe-2026-11-20.csv: 5 rows = 3 matched + 1 in discrepancies + 1 quarantined; \
         ledger payments: 4 rows = 3 matched + 1 in discrepancies + 0 not expected + 0 set aside"
    );
    assert!(
        detail(
            &summary,
            "quarantined_row",
            r#"{"file":"reports/stripe-2026-11-20.csv","line":"6"}"#
        )
        .starts_with("bad number in `gross`: `7.00`"),
    );
}

/// Braintree's settlement batch summary: one total per merchant account, card type and kind,
/// matched against a ledger view of the day's totals keyed the same way.
#[tokio::test]
async fn braintree_settlement_batch_summary() {
    let dir = temp_dir();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    write(
        dir,
        "reports/braintree-summary-2026-11-20.csv",
        &fixture("braintree/settlement_batch_summary.csv"),
    );
    write(
        dir,
        "recon.toml",
        &config(
            "braintree",
            "reports/braintree-summary-{date}.csv",
            r#"report_type = "settlement_batch_summary", currencies = { acme_usd = "USD", acme_jpy = "JPY" }"#,
            "record_id",
        ),
    );
    let ledger = ledger(
        dir,
        &[
            (
                "2026-11-20/acme_usd/Visa/sale",
                120_000,
                "USD",
                "2026-11-20 00:00:00",
            ),
            (
                "2026-11-20/acme_usd/Visa/credit",
                -2_500,
                "USD",
                "2026-11-20 00:00:00",
            ),
            (
                "2026-11-20/acme_usd/MasterCard/sale",
                45_000,
                "USD",
                "2026-11-20 00:00:00",
            ),
            (
                "2026-11-20/acme_jpy/JCB/sale",
                9_000,
                "JPY",
                "2026-11-20 00:00:00",
            ),
        ],
    )
    .await;
    let (code, got, accounting, summary) = run(dir, &ledger).await;
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(
        got,
        found(&[
            (
                "amount_mismatch",
                r#"{"id":"2026-11-20/acme_usd/MasterCard/sale"}"#
            ),
            (
                "quarantined_row",
                r#"{"file":"reports/braintree-summary-2026-11-20.csv","line":"6"}"#
            ),
        ])
    );
    assert_eq!(
        accounting,
        "reports/braintree-summary-2026-11-20.csv: 5 rows = 3 matched + 1 in discrepancies + 1 quarantined; \
         ledger payments: 4 rows = 3 matched + 1 in discrepancies + 0 not expected + 0 set aside"
    );
    assert!(
        detail(
            &summary,
            "quarantined_row",
            r#"{"file":"reports/braintree-summary-2026-11-20.csv","line":"6"}"#
        )
        .starts_with(
            "no currency for merchant account `acme_eur`: name it in format_options.currencies"
        ),
    );
}

/// Ledgers booked differently, told to recon by the Adyen format's options: a ledger with a row
/// per capture (under each capture's own reference, the `pspReference` of Adyen's CAPTURE
/// webhook, the report's `Modification Reference`) matches a payment captured in two parts line
/// by line; a ledger that books the monthly fee under Adyen's label matches the fee line. The
/// same files and ledger without the options: the payment and the fee line are not found.
#[tokio::test]
async fn adyen_ledgers_keyed_by_capture_reference_and_fee_label() {
    let dir = temp_dir();
    let dir = dir.path();
    std::fs::create_dir_all(dir.join("reports")).unwrap();
    let header = "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,Modification Merchant Reference,Batch Number";
    write(
        dir,
        "reports/settlement_detail_report_batch_43.csv",
        &format!(
            "{header}\n\
Acme,AcmeEU,8815000000000001,order-1,visa,2026-11-20 10:15:00,CET,Settled,8825000000000201,EUR,,60.00,1,EUR,,59.00,1.00,,,,visaclassic,,43
Acme,AcmeEU,8815000000000001,order-1,visa,2026-11-20 12:15:00,CET,Settled,8825000000000202,EUR,,40.00,1,EUR,,39.50,0.50,,,,visaclassic,,43
Acme,AcmeEU,,,,2026-11-20 23:00:00,CET,Fee,Transaction Fees November 2026,,,,,EUR,1.25,,,,,,,,43
"
        ),
    );
    let ledger = ledger(
        dir,
        &[
            ("8825000000000201", 6000, "EUR", "2026-11-20 09:15:00"),
            ("8825000000000202", 4000, "EUR", "2026-11-20 11:15:00"),
            (
                "Transaction Fees November 2026",
                -125,
                "EUR",
                "2026-11-20 22:00:00",
            ),
        ],
    )
    .await;
    let report = "reports/settlement_detail_report_batch_*.csv";
    let options = r#"capture_key = "capture_reference", fee_key = "label""#;
    write(
        dir,
        "recon.toml",
        &config("adyen", report, options, "record_id"),
    );
    let (code, got, accounting, summary) = run(dir, &ledger).await;
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(got, found(&[]));
    assert_eq!(
        accounting,
        "reports/settlement_detail_report_batch_43.csv: 3 rows = 3 matched + 0 in discrepancies + 0 quarantined; \
         ledger payments: 3 rows = 3 matched + 0 in discrepancies + 0 not expected + 0 set aside"
    );

    // The defaults (a payment booked once, the fee under its batch): nothing pairs, the ledger's
    // rows wait as `timing`.
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    std::fs::remove_file(dir.join("store.db")).unwrap();
    write(dir, "recon.toml", &config("adyen", report, "", "record_id"));
    let (code, got, _, summary) = run(dir, &ledger).await;
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(
        got,
        found(&[
            ("missing_in_ledger", r#"{"id":"8815000000000001"}"#),
            (
                "missing_in_ledger",
                r#"{"id":"AcmeEU/43/Fee/Transaction Fees November 2026"}"#
            ),
            // rows not in the batch wait for a later one
            ("timing", r#"{"id":"8825000000000201"}"#),
            ("timing", r#"{"id":"8825000000000202"}"#),
            ("timing", r#"{"id":"Transaction Fees November 2026"}"#),
        ])
    );
}
