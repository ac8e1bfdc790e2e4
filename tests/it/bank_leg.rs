//! The three-way test: processor reports matched to the ledger and their payouts traced to the
//! bank, end to end with the real binary over Thu 2026-12-24 and Mon 2026-12-28 (a holiday and
//! a weekend between): Stripe payout lines to a camt.053, Adyen's `MerchantPayout` lines to an
//! MT940 by a remittance pattern; a payout late on day 1 and traced on day 2, one missing past
//! its window in day 1's partition; and the same deposits served by GoCardless instead of a camt
//! file giving the same findings.

use std::path::Path;

use serde_json::{Value, json};
use sqlx::Row;

use crate::bank_sync::{SECRET_KEY, budget, gocardless_env, gocardless_serving};
use crate::common::*;

/// The fixtures of the two days: reports, statements.
fn fixtures() -> String {
    format!(
        "{}/tests/fixtures/bank/threeway",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// The Stripe payout account's IBAN (the camt files') and the Adyen one's (the MT940 files' `:25:` after the bank code).
const STRIPE_IBAN: &str = "DE44500105175407324931";
const ADYEN_ACCOUNT: &str = "5407324932";

/// The trace rules both checks share: one business day after the payout day, Christmas a
/// holiday.
const TRACE: &str = r#"window_business_days = 1
calendar = { holidays = ["2026-12-25"] }
"#;

fn ledger(table: &str) -> String {
    format!(
        r#"{{ source = "ledger", table = "{table}", id = "id", amount = "amount_minor", currency = "currency", at = "created_at" }}"#
    )
}

/// The Stripe check, its bank leg reading `bank` (a `[settlement.bank]` body).
fn stripe_check(bank: &str) -> String {
    let at = fixtures();
    format!(
        r#"
[[settlement]]
name = "stripe_payouts"
format = "stripe"
report = "{at}/stripe-{{date}}.csv"
ledger = {ledger}
match_on = "reference"

[settlement.bank]
{bank}
[settlement.bank.trace]
{TRACE}"#,
        ledger = ledger("stripe_payouts"),
    )
}

fn camt_bank() -> String {
    format!(
        "format = \"camt\"\nstatements = \"{}/camt053-{{date}}.xml\"\naccounts = [\"{STRIPE_IBAN}\"]\n",
        fixtures()
    )
}

fn adyen_check() -> String {
    let at = fixtures();
    format!(
        r#"
[[settlement]]
name = "adyen_payouts"
format = "adyen"
report = "{at}/adyen-{{date}}.csv"
ledger = {ledger}

[settlement.bank]
format = "mt940"
statements = "{at}/mt940-{{date}}.sta"
accounts = ["{ADYEN_ACCOUNT}"]

[settlement.bank.trace]
{TRACE}remittance_patterns = {{ adyen = ["(?P<ref>TX[0-9A-Z]{{10}}XT)"] }}
amount_rules = [{{ class = "bank_fee", abs_minor = 100, base = "payout_amount" }}]
"#,
        ledger = ledger("adyen_payouts"),
    )
}

fn head() -> String {
    TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 20)
        .set("max_attempts", 2)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .to_toml()
}

const SCHEMA: [&str; 2] = [
    "CREATE TABLE stripe_payouts (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE adyen_payouts (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, created_at TIMESTAMP NOT NULL)",
];

/// The ledger books each payout as the money leaving the processor balance, as the reports do.
const LEDGER: [&str; 2] = [
    "INSERT INTO stripe_payouts VALUES
     ('po_1ThreeWayRef', -125050, 'EUR', '2026-12-24 05:00:00'),
     ('po_1ThreeWayAmt', -83000, 'EUR', '2026-12-24 05:00:01'),
     ('po_1ThreeWayLate', -45520, 'EUR', '2026-12-24 05:00:02'),
     ('po_1ThreeWayAmb', -30000, 'EUR', '2026-12-24 05:00:03'),
     ('po_1ThreeWayDay2', -50000, 'EUR', '2026-12-28 05:00:00')",
    "INSERT INTO adyen_payouts VALUES
     ('AcmeEU/50/MerchantPayout/TX5000000001XT', -64000, 'EUR', '2026-12-23 17:00:00'),
     ('AcmeEU/51/MerchantPayout/TX5100000001XT', -200000, 'EUR', '2026-12-24 08:00:00'),
     ('AcmeEU/52/MerchantPayout/TX5200000001XT', -100000, 'EUR', '2026-12-24 09:00:00'),
     ('AcmeEU/53/MerchantPayout/TX5300000001XT', -70000, 'EUR', '2026-12-28 08:00:00')",
];

async fn scenario(dir: &Path, config: &str) -> Scenario {
    let ledger = sqlite_db(
        &dir.join("ledger.db"),
        &[SCHEMA[0], SCHEMA[1], LEDGER[0], LEDGER[1]],
    )
    .await;
    Scenario::in_dir(dir, "STORE_URL")
        .env("LEDGER_URL", &ledger)
        .config(config)
}

/// One finding as a run lists it: check, kind, key, partition, status, minor units at stake.
type Finding = (String, String, Value, String, String, Option<i64>);

fn findings(list: &Value) -> Vec<Finding> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list of findings: {list}"))
        .iter()
        .map(|d| {
            (
                d["check"].as_str().unwrap().to_string(),
                d["kind"].as_str().unwrap().to_string(),
                d["key"].clone(),
                d["partition"].as_str().unwrap().to_string(),
                d["status"].as_str().unwrap().to_string(),
                d["at_stake"]["minor"].as_i64(),
            )
        })
        .collect()
}

fn finding(
    check: &str,
    kind: &str,
    key: Value,
    partition: &str,
    status: &str,
    at_stake: i64,
) -> Finding {
    (
        check.to_string(),
        kind.to_string(),
        key,
        partition.to_string(),
        status.to_string(),
        Some(at_stake),
    )
}

fn payout(processor: &str, id: &str) -> Value {
    json!({"processor": processor, "payout_id": id})
}

fn deposit(bank_ref: &str) -> Value {
    json!({"account": STRIPE_IBAN, "bank_ref": bank_ref})
}

/// The detail of the finding of `kind` keyed `key` in a summary's list.
fn detail<'a>(list: &'a Value, kind: &str, key: &Value) -> &'a str {
    let all = list.as_array().unwrap();
    let d = all.iter().find(|d| d["kind"] == kind && d["key"] == *key);
    d.unwrap_or_else(|| panic!("no {kind} {key} in {list}"))["detail"]
        .as_str()
        .unwrap()
}

/// Each check's accounting as `summary.json` writes it (one line, its parts joined by `; `).
fn accounting(s: &Value) -> Vec<(String, String)> {
    let checks = s["checks"].as_array().unwrap();
    checks
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["accounting"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The typed accounting lines of the bank leg (`of`: statements, payouts, payout_leg) the store
/// keeps for each check of run `run`, by check name.
async fn bank_lines(store: &str, run: i64) -> Vec<(String, Vec<Value>)> {
    let pool = sqlx::SqlitePool::connect(store).await.unwrap();
    let rows = sqlx::query(
        "SELECT check_name, accounting FROM check_results WHERE run_id = $1 ORDER BY check_name",
    )
    .bind(run)
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.iter()
        .map(|row| {
            let lines: Value = serde_json::from_str(row.get::<&str, _>("accounting")).unwrap();
            let bank = lines.as_array().unwrap().iter().filter(|l| {
                ["statements", "payouts", "payout_leg"].contains(&l["of"].as_str().unwrap())
            });
            (row.get("check_name"), bank.cloned().collect())
        })
        .collect()
}

/// The payout leg of one currency as the store keeps it: its sums in minor units, as strings.
fn leg(closed: bool, sums: [i64; 9]) -> Value {
    let [
        payouts,
        traced,
        in_flight,
        missing,
        deposits,
        deposits_traced,
        returned,
        unexplained,
        differences,
    ] = sums.map(|m| m.to_string());
    json!({
        "of": "payout_leg", "currency": "EUR", "closed": closed,
        "payouts_minor": payouts, "traced_minor": traced, "in_flight_minor": in_flight,
        "missing_minor": missing, "deposits_minor": deposits,
        "deposits_traced_minor": deposits_traced, "returned_minor": returned,
        "unexplained_minor": unexplained, "differences_minor": differences,
    })
}

fn statements(entries: u64, traced: u64, found: u64) -> Value {
    json!({
        "of": "statements", "entries": entries, "traced": traced, "found": found,
        "not_deposits": 0, "other_accounts": 0, "counted_once": 0, "quarantined": 0,
    })
}

fn payouts(payouts: u64, carried: u64, traced: u64, in_flight: u64, missing: u64) -> Value {
    json!({
        "of": "payouts", "payouts": payouts, "carried": carried, "traced": traced,
        "in_flight": in_flight, "missing": missing, "set_aside": 0,
    })
}

/// Day 1, Thu 2026-12-24. Stripe: po_…Ref named by the deposit's end-to-end id, po_…Amt paired
/// by amount and date, po_…Late not in the bank yet, po_…Amb with two deposits of its amount
/// (a suggestion, never a match), and a 75.00 deposit no payout explains. Adyen: batch 51 named
/// in the `:86:` text, batch 52 short by a 0.50 bank fee, batch 50 (paid out Wednesday, due
/// Thursday) not in the bank yet.
async fn day_one(scenario: &Scenario, s: &Value) {
    let at = fixtures();
    assert_eq!(s["exit_code"], 1, "{s}");
    assert_eq!(
        findings(&s["discrepancies"]),
        [
            finding(
                "stripe_payouts",
                "payout_late",
                payout("stripe", "po_1ThreeWayLate"),
                "2026-12-24",
                "open",
                45_520
            ),
            finding(
                "stripe_payouts",
                "payout_late",
                payout("stripe", "po_1ThreeWayAmb"),
                "2026-12-24",
                "open",
                30_000
            ),
            finding(
                "stripe_payouts",
                "deposit_unexplained",
                deposit("2026122400000106"),
                "2026-12-24",
                "open",
                30_000
            ),
            finding(
                "stripe_payouts",
                "deposit_unexplained",
                deposit("2026122400000104"),
                "2026-12-24",
                "open",
                30_000
            ),
            finding(
                "stripe_payouts",
                "deposit_unexplained",
                deposit("2026122400000105"),
                "2026-12-24",
                "open",
                7_500
            ),
            finding(
                "adyen_payouts",
                "payout_late",
                payout("adyen", "50"),
                "2026-12-24",
                "open",
                64_000
            ),
            finding(
                "adyen_payouts",
                "payout_amount_mismatch",
                payout("adyen", "52"),
                "2026-12-24",
                "open",
                50
            ),
        ]
    );
    // the ambiguous pair: a suggestion beside the payout and each deposit, nothing matched
    let suggestion = format!(
        "; suggested by amount and date: payouts stripe po_1ThreeWayAmb · deposits {at}/camt053-2026-12-24.xml:146, {at}/camt053-2026-12-24.xml:187"
    );
    let list = &s["discrepancies"];
    assert_eq!(
        detail(list, "payout_late", &payout("stripe", "po_1ThreeWayAmb")),
        format!(
            "payout of 300.00 EUR initiated 2026-12-24: in flight: its deposit is due by 2026-12-28{suggestion}"
        )
    );
    assert_eq!(
        detail(list, "deposit_unexplained", &deposit("2026122400000104")),
        format!(
            "credit of 300.00 EUR booked 2026-12-24 ({at}/camt053-2026-12-24.xml:187 Stmt[1]/Ntry[4]): no payout explains it{suggestion}"
        )
    );
    assert_eq!(
        detail(list, "deposit_unexplained", &deposit("2026122400000105")),
        format!(
            "credit of 75.00 EUR booked 2026-12-24 ({at}/camt053-2026-12-24.xml:228 Stmt[1]/Ntry[5]): no payout explains it"
        )
    );
    assert_eq!(
        detail(list, "payout_amount_mismatch", &payout("adyen", "52")),
        format!(
            "credit of 999.50 EUR booked 2026-12-24 ({at}/mt940-2026-12-24.sta:10) names the payout of 1000.00 EUR: the deposit is short by 0.50 EUR, classified bank_fee"
        )
    );
    // Christmas and the weekend: Wednesday's payout is due Thursday, Thursday's on Monday
    assert_eq!(
        detail(list, "payout_late", &payout("adyen", "50")),
        "payout of 640.00 EUR initiated 2026-12-23: in flight: its deposit is due by 2026-12-24"
    );
    assert_eq!(
        detail(list, "payout_late", &payout("stripe", "po_1ThreeWayLate")),
        "payout of 455.20 EUR initiated 2026-12-24: in flight: its deposit is due by 2026-12-28"
    );
    // in flight is not at stake: the deposits and the fee are
    assert_eq!(
        s["totals"]["at_stake"],
        json!([{"currency": "EUR", "minor": 67_550, "amount": "675.50 EUR"}])
    );
    assert_eq!(
        accounting(s),
        [
            (
                "stripe_payouts".to_string(),
                format!(
                    "{at}/stripe-2026-12-24.csv: 4 rows = 4 matched + 0 in discrepancies + 0 quarantined; \
                     ledger stripe_payouts: 4 rows = 4 matched + 0 in discrepancies + 0 not expected + 0 set aside; \
                     bank statements: 5 entries = 2 traced + 3 in discrepancies + 0 not deposits + 0 other accounts + 0 counted once already + 0 quarantined; \
                     payouts: 4 (0 carried from earlier days) = 2 traced + 2 in flight + 0 missing, 0 set aside; \
                     payout leg EUR open: paid out 2835.70 EUR = 2080.50 EUR traced + 755.20 EUR in flight + 0.00 EUR missing, \
                     deposits 2755.50 EUR = 2080.50 EUR traced + 0.00 EUR returned + 675.00 EUR unexplained, traced pairs differ by 0.00 EUR"
                )
            ),
            (
                "adyen_payouts".to_string(),
                format!(
                    "{at}/adyen-2026-12-24.csv: 3 rows = 3 matched + 0 in discrepancies + 0 quarantined; \
                     ledger adyen_payouts: 3 rows = 3 matched + 0 in discrepancies + 0 not expected + 0 set aside; \
                     bank statements: 2 entries = 2 traced + 0 in discrepancies + 0 not deposits + 0 other accounts + 0 counted once already + 0 quarantined; \
                     payouts: 3 (0 carried from earlier days) = 2 traced + 1 in flight + 0 missing, 0 set aside; \
                     payout leg EUR open: paid out 3640.00 EUR = 3000.00 EUR traced + 640.00 EUR in flight + 0.00 EUR missing, \
                     deposits 2999.50 EUR = 2999.50 EUR traced + 0.00 EUR returned + 0.00 EUR unexplained, traced pairs differ by 0.50 EUR"
                )
            ),
        ]
    );
    assert_eq!(
        bank_lines(scenario.store(), 1).await,
        [
            (
                "adyen_payouts".to_string(),
                vec![
                    statements(2, 2, 0),
                    payouts(3, 0, 2, 1, 0),
                    leg(
                        false,
                        [364_000, 300_000, 64_000, 0, 299_950, 299_950, 0, 0, 50]
                    ),
                ]
            ),
            (
                "stripe_payouts".to_string(),
                vec![
                    statements(5, 2, 3),
                    payouts(4, 0, 2, 2, 0),
                    leg(
                        false,
                        [283_570, 208_050, 75_520, 0, 275_550, 208_050, 0, 67_500, 0]
                    ),
                ]
            ),
        ]
    );
    assert_eq!(
        s["days"],
        json!([{"date": "2026-12-24", "closed": false, "needing_someone": 4, "in_flight": 3, "checks_failed": 0}])
    );
}

/// Day 2, Mon 2026-12-28. Stripe: po_…Late arrives (its window spans the holiday and the
/// weekend), po_…Day2 is named by its end-to-end id, po_…Amb is still in flight. Adyen: batch
/// 53 named in the `:86:` text; batch 50, past its window, is missing in Thursday's partition.
async fn day_two(scenario: &Scenario, s: &Value) {
    let at = fixtures();
    assert_eq!(s["exit_code"], 1, "{s}");
    assert_eq!(
        findings(&s["discrepancies"]),
        [
            finding(
                "stripe_payouts",
                "payout_late",
                payout("stripe", "po_1ThreeWayAmb"),
                "2026-12-24",
                "carried",
                30_000
            ),
            finding(
                "adyen_payouts",
                "payout_missing_in_bank",
                payout("adyen", "50"),
                "2026-12-24",
                "open",
                64_000
            ),
        ]
    );
    assert_eq!(
        findings(&s["resolved"]),
        [
            finding(
                "stripe_payouts",
                "payout_late",
                payout("stripe", "po_1ThreeWayLate"),
                "2026-12-24",
                "resolved",
                45_520
            ),
            finding(
                "adyen_payouts",
                "payout_late",
                payout("adyen", "50"),
                "2026-12-24",
                "resolved",
                64_000
            ),
        ]
    );
    assert_eq!(
        detail(
            &s["discrepancies"],
            "payout_missing_in_bank",
            &payout("adyen", "50")
        ),
        "payout of 640.00 EUR initiated 2026-12-23: no deposit by 2026-12-24"
    );
    assert_eq!(
        s["totals"]["at_stake"],
        json!([{"currency": "EUR", "minor": 64_000, "amount": "640.00 EUR"}])
    );
    assert_eq!(
        accounting(s),
        [
            (
                "stripe_payouts".to_string(),
                format!(
                    "{at}/stripe-2026-12-28.csv: 1 rows = 1 matched + 0 in discrepancies + 0 quarantined; \
                     ledger stripe_payouts: 1 rows = 1 matched + 0 in discrepancies + 0 not expected + 0 set aside; \
                     bank statements: 2 entries = 2 traced + 0 in discrepancies + 0 not deposits + 0 other accounts + 0 counted once already + 0 quarantined; \
                     payouts: 3 (2 carried from earlier days) = 2 traced + 1 in flight + 0 missing, 0 set aside; \
                     payout leg EUR open: paid out 1255.20 EUR = 955.20 EUR traced + 300.00 EUR in flight + 0.00 EUR missing, \
                     deposits 955.20 EUR = 955.20 EUR traced + 0.00 EUR returned + 0.00 EUR unexplained, traced pairs differ by 0.00 EUR"
                )
            ),
            (
                "adyen_payouts".to_string(),
                format!(
                    "{at}/adyen-2026-12-28.csv: 1 rows = 1 matched + 0 in discrepancies + 0 quarantined; \
                     ledger adyen_payouts: 1 rows = 1 matched + 0 in discrepancies + 0 not expected + 0 set aside; \
                     bank statements: 1 entries = 1 traced + 0 in discrepancies + 0 not deposits + 0 other accounts + 0 counted once already + 0 quarantined; \
                     payouts: 2 (1 carried from earlier days) = 1 traced + 0 in flight + 1 missing, 0 set aside; \
                     payout leg EUR open: paid out 1340.00 EUR = 700.00 EUR traced + 0.00 EUR in flight + 640.00 EUR missing, \
                     deposits 700.00 EUR = 700.00 EUR traced + 0.00 EUR returned + 0.00 EUR unexplained, traced pairs differ by 0.00 EUR"
                )
            ),
        ]
    );
    assert_eq!(
        bank_lines(scenario.store(), 2).await,
        [
            (
                "adyen_payouts".to_string(),
                vec![
                    statements(1, 1, 0),
                    payouts(2, 1, 1, 0, 1),
                    leg(false, [134_000, 70_000, 0, 64_000, 70_000, 70_000, 0, 0, 0]),
                ]
            ),
            (
                "stripe_payouts".to_string(),
                vec![
                    statements(2, 2, 0),
                    payouts(3, 2, 2, 1, 0),
                    leg(false, [125_520, 95_520, 30_000, 0, 95_520, 95_520, 0, 0, 0]),
                ]
            ),
        ]
    );
    // Thursday stays open (its deposits, the fee, the missing payout; one payout in flight);
    // Monday has nothing of its own
    assert_eq!(
        s["days"],
        json!([
            {"date": "2026-12-24", "closed": false, "needing_someone": 5, "in_flight": 1, "checks_failed": 0},
            {"date": "2026-12-28", "closed": true, "needing_someone": 0, "in_flight": 0, "checks_failed": 0},
        ])
    );
}

#[tokio::test]
async fn three_way_over_a_holiday_and_a_weekend() {
    let dir = temp_dir();
    let config = format!("{}{}{}", head(), stripe_check(&camt_bank()), adyen_check());
    let scenario = scenario(dir.path(), &config).await;
    let (_, s1) = scenario.run("2026-12-24", &[]);
    day_one(&scenario, &s1).await;
    let (_, s2) = scenario.run("2026-12-28", &[]);
    day_two(&scenario, &s2).await;
}

/// The GoCardless account of the Stripe payout account.
const GC_ACCOUNT: &str = "7e3f1c52-4b8a-4d7e-9a61-0c2f5b8d9e14";

/// Day 1's five credits of the camt file as GoCardless Bank Account Data lays transactions out.
fn gocardless_day_one() -> String {
    let credit = |id: &str, amount: &str, e2e: Option<&str>, text: &str, debtor: &str| {
        let e2e = e2e.map_or(String::new(), |e| format!(r#""endToEndId":"{e}","#));
        format!(
            r#"{{"transactionId":"{id}","bookingDate":"2026-12-24","valueDate":"2026-12-24","transactionAmount":{{"amount":"{amount}","currency":"EUR"}},"debtorName":"{debtor}",{e2e}"remittanceInformationUnstructured":"{text}","bankTransactionCode":"PMNT-RCDT-ESCT"}}"#
        )
    };
    let stripe = "Stripe Payments Europe Ltd";
    let booked = [
        credit(
            "2026122400000101",
            "1250.50",
            Some("po_1ThreeWayRef"),
            "STRIPE PAYOUT po_1ThreeWayRef",
            stripe,
        ),
        credit(
            "2026122400000102",
            "830.00",
            Some("NOTPROVIDED"),
            "STRIPE PAYMENTS EUROPE LTD",
            stripe,
        ),
        credit(
            "2026122400000106",
            "300.00",
            Some("NOTPROVIDED"),
            "STRIPE TRANSFER",
            stripe,
        ),
        credit(
            "2026122400000104",
            "300.00",
            Some("NOTPROVIDED"),
            "STRIPE TRANSFER",
            stripe,
        ),
        credit(
            "2026122400000105",
            "75.00",
            Some("RE-8812"),
            "RECHNUNG 8812",
            "Mueller KG",
        ),
    ];
    format!(
        r#"{{"transactions":{{"booked":[{}],"pending":[]}}}}"#,
        booked.join(",")
    )
}

/// A run's findings as they compare across statement sources: the payout account named one way,
/// an entry's place (file and line, or aggregator list and index) left out.
fn comparable(s: &Value) -> Vec<(Finding, String)> {
    let place = regex::Regex::new(
        r"[^\s(]+/camt053-2026-12-24\.xml:\d+( Stmt\[\d+\]/Ntry\[\d+\])?|gocardless:[^\s(]+:\d+( booked\[\d+\])?",
    )
    .unwrap();
    let list = &s["discrepancies"];
    findings(list)
        .into_iter()
        .zip(list.as_array().unwrap())
        .map(|((check, kind, mut key, partition, status, stake), d)| {
            if key["account"] == GC_ACCOUNT {
                key["account"] = json!(STRIPE_IBAN);
            }
            let detail = place.replace_all(d["detail"].as_str().unwrap(), "<place>");
            (
                (check, kind, key, partition, status, stake),
                detail.into_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn gocardless_gives_the_findings_the_camt_file_gives() {
    let from_file = temp_dir();
    let config = format!("{}{}", head(), stripe_check(&camt_bank()));
    let (_, by_file) = scenario(from_file.path(), &config)
        .await
        .run("2026-12-24", &[]);

    let server = gocardless_serving(
        GC_ACCOUNT,
        "2026-12-24",
        "2026-12-24",
        vec![budget(Response::json("200 OK", &gocardless_day_one()), 3)],
    );
    let bank = format!(
        "gocardless = {{ base_url = \"{}\", account_id = \"{GC_ACCOUNT}\", secret_id_env = \"GC_SECRET_ID\", secret_key_env = \"GC_SECRET_KEY\" }}\naccounts = [\"{GC_ACCOUNT}\"]\n",
        server.base()
    );
    let from_sync = temp_dir();
    let mut synced = scenario(
        from_sync.path(),
        &format!("{}{}", head(), stripe_check(&bank)),
    )
    .await;
    for (name, value) in gocardless_env() {
        synced = synced.env(&name, &value);
    }
    let (out, by_sync) = synced.run("2026-12-24", &[]);
    assert_eq!(by_sync["exit_code"], 1, "{by_sync} {}", stderr(&out));
    let routes: Vec<String> = server.requests().iter().map(|r| r.route()).collect();
    assert_eq!(
        routes,
        [
            "POST /api/v2/token/new/".to_string(),
            format!(
                "GET /api/v2/accounts/{GC_ACCOUNT}/transactions/?date_from=2026-12-24&date_to=2026-12-24"
            ),
        ]
    );

    // the same findings, keys, partitions, money at stake and details, places aside
    let expected = comparable(&by_file);
    assert_eq!(expected.len(), 5, "{by_file}");
    assert_eq!(comparable(&by_sync), expected);
    assert_eq!(by_sync["totals"]["at_stake"], by_file["totals"]["at_stake"]);
    // the same accounting, line for line
    assert_eq!(accounting(&by_sync), accounting(&by_file));
    assert_eq!(by_sync["days"], by_file["days"]);
    // the secrets went to the server only
    assert!(!by_sync.to_string().contains(SECRET_KEY));
}

/// The holiday is what keeps Monday inside Thursday's window: without it Thursday's payouts
/// are due Friday, so on Monday the one whose deposit came is missing and its deposit
/// unexplained, and the ambiguous one is missing too.
#[tokio::test]
async fn without_the_holiday_mondays_deposit_is_past_thursdays_window() {
    let dir = temp_dir();
    let config = format!("{}{}{}", head(), stripe_check(&camt_bank()), adyen_check())
        .replace(r#"holidays = ["2026-12-25"]"#, "holidays = []");
    let scenario = scenario(dir.path(), &config).await;
    let (_, s1) = scenario.run("2026-12-24", &[]);
    assert_eq!(
        detail(
            &s1["discrepancies"],
            "payout_late",
            &payout("stripe", "po_1ThreeWayLate")
        ),
        "payout of 455.20 EUR initiated 2026-12-24: in flight: its deposit is due by 2026-12-25"
    );
    let (_, s2) = scenario.run("2026-12-28", &[]);
    assert_eq!(
        findings(&s2["discrepancies"]),
        [
            finding(
                "stripe_payouts",
                "payout_missing_in_bank",
                payout("stripe", "po_1ThreeWayLate"),
                "2026-12-24",
                "open",
                45_520
            ),
            finding(
                "stripe_payouts",
                "payout_missing_in_bank",
                payout("stripe", "po_1ThreeWayAmb"),
                "2026-12-24",
                "open",
                30_000
            ),
            finding(
                "stripe_payouts",
                "deposit_unexplained",
                deposit("2026122800000201"),
                "2026-12-28",
                "open",
                45_520
            ),
            finding(
                "adyen_payouts",
                "payout_missing_in_bank",
                payout("adyen", "50"),
                "2026-12-24",
                "open",
                64_000
            ),
        ]
    );
}
