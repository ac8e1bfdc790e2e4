//! A bank statement export, as the bank writes it (Windows-1252, a preamble, Soll/Haben columns,
//! a closing-balance footer), reconciled by a real run through the annotated mapping in
//! config/formats/bank-statement.toml: the exact discrepancy set and every line accounted for.

use crate::common::*;

const EXAMPLE: &str = include_str!("../../config/formats/bank-statement.toml");
const STATEMENT: &[u8] = include_bytes!("../fixtures/bank/statement-2026-12-01.csv");

/// The example mapping as a `[formats.bank_statement]` section of recon.toml.
fn mapping() -> String {
    let mut text = String::from("\n[formats.bank_statement]\n");
    for line in EXAMPLE.lines() {
        match line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            Some(table) => text.push_str(&format!("[formats.bank_statement.{table}]\n")),
            None => text.push_str(&format!("{line}\n")),
        }
    }
    text
}

#[tokio::test]
async fn a_bank_export_with_preamble_and_footer_in_windows_1252() {
    let dir = temp_dir();
    let ledger = sqlite_db(
        &dir.path().join("ledger.db"),
        &[
            "CREATE TABLE bank_expected (id TEXT, amount_minor INTEGER, currency TEXT, booked_at TIMESTAMP)",
            // the Stripe payout as expected; Adyen's batch 50 cents off; the rent as booked;
            // the supplier's payment (its bank line is unreadable); one the bank never showed
            "INSERT INTO bank_expected VALUES
               ('po_1QxA2026', 1234567, 'EUR', '2026-12-01 08:00:00'),
               ('ADYEN-B57', 200050, 'EUR', '2026-12-01 08:00:00'),
               ('MIETE-2026-12', -150000, 'EUR', '2026-12-01 06:00:00'),
               ('RE-77', -9950, 'EUR', '2026-12-01 06:00:00'),
               ('RE-300', 4200, 'EUR', '2026-12-01 10:00:00')",
        ],
    )
    .await;
    std::fs::create_dir_all(dir.path().join("bank")).unwrap();
    std::fs::write(dir.path().join("bank/statement-2026-12-01.csv"), STATEMENT).unwrap();
    let config = TestConfig::new()
        .table("job")
        .set("timezone", "Europe/Berlin")
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("bank", "bank_statement")
        .set("report", "bank/statement-{date}.csv")
        .set(
            "ledger",
            [
                ("source", "ledger"),
                ("table", "bank_expected"),
                ("id", "id"),
                ("amount", "amount_minor"),
                ("currency", "currency"),
                ("at", "booked_at"),
            ],
        )
        .set("match_on", "record_id")
        .to_toml()
        + &mapping();

    let (out, summary) = Scenario::in_dir(dir.path(), "STORE_URL")
        .env("LEDGER_URL", &ledger)
        .config(&config)
        .run("2026-12-01", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let found: Vec<(String, String)> = kinds_and_keys(&summary["discrepancies"]);
    let key = |id: &str| format!(r#"{{"id":"{id}"}}"#);
    // the two ledger rows the statement does not show may still be booked tomorrow: timing
    assert_eq!(
        found,
        [
            ("missing_in_ledger".to_string(), key("RE-118")),
            ("amount_mismatch".to_string(), key("ADYEN-B57")),
            ("timing".to_string(), key("RE-300")),
            ("timing".to_string(), key("RE-77")),
            (
                "quarantined_row".to_string(),
                r#"{"file":"bank/statement-2026-12-01.csv","line":"11"}"#.to_string()
            ),
        ]
    );
    let check = &summary["checks"][0];
    assert_eq!(
        check["accounting"],
        "bank/statement-2026-12-01.csv: 5 rows = 2 matched + 2 in discrepancies + 1 quarantined; \
         ledger bank_expected: 5 rows = 2 matched + 3 in discrepancies + 0 not expected + 0 set aside"
    );
    assert_eq!(check["left"]["rows"], 5);
}
