//! A settlement check's bank leg fed by Plaid gives exactly the findings and closure the same
//! entries give from a camt.053 file: the aggregator is only another way to the same statement.

use std::path::Path;

use serde_json::Value;

use crate::common::*;

const PLAID_ENV: [(&str, &str); 3] = [
    ("PLAID_CLIENT_ID", "client-agg"),
    ("PLAID_SECRET", "secret-agg"),
    ("PLAID_ACCESS_TOKEN", "access-agg"),
];

// Plaid's sign: positive is money out. T1 a card payment, T2 the payout po_A, T4 a wire no
// payout explains.
const T1: &str = r#"{"account_id":"acc-chk","amount":12.3,"iso_currency_code":"USD","unofficial_currency_code":null,"date":"2026-12-01","name":"UBER","merchant_name":"Uber","pending":false,"pending_transaction_id":null,"transaction_code":"purchase","transaction_id":"T1"}"#;
const T2: &str = r#"{"account_id":"acc-chk","amount":-500,"iso_currency_code":"USD","unofficial_currency_code":null,"date":"2026-12-01","name":"STRIPE PAYOUT","merchant_name":null,"pending":false,"pending_transaction_id":null,"transaction_code":null,"transaction_id":"T2"}"#;
const T4: &str = r#"{"account_id":"acc-chk","amount":-250,"iso_currency_code":"USD","unofficial_currency_code":null,"date":"2026-12-01","name":"WIRE IN","merchant_name":null,"pending":false,"pending_transaction_id":null,"transaction_code":null,"transaction_id":"T4"}"#;

/// The same three entries as the account's camt.053 of 2026-12-01.
fn camt_entry(amount: &str, sign: &str, reference: &str) -> String {
    format!(
        "<Ntry><Amt Ccy=\"USD\">{amount}</Amt><CdtDbtInd>{sign}</CdtDbtInd><Sts>BOOK</Sts>\
         <BookgDt><Dt>2026-12-01</Dt></BookgDt><AcctSvcrRef>{reference}</AcctSvcrRef></Ntry>"
    )
}

fn camt() -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt>\
         <GrpHdr><MsgId>M-20261201</MsgId><CreDtTm>2026-12-02T06:00:00</CreDtTm></GrpHdr>\
         <Stmt><Id>S-20261201</Id><ElctrncSeqNb>12</ElctrncSeqNb><CreDtTm>2026-12-02T06:00:00</CreDtTm>\
         <Acct><Id><Othr><Id>acc-chk</Id></Othr></Id><Ccy>USD</Ccy></Acct>\
         <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy=\"USD\">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-30</Dt></Dt></Bal>\
         <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"USD\">1737.70</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-01</Dt></Dt></Bal>\
         {}{}{}</Stmt></BkToCstmrStmt></Document>\n",
        camt_entry("12.30", "DBIT", "T1"),
        camt_entry("500.00", "CRDT", "T2"),
        camt_entry("250.00", "CRDT", "T4"),
    )
}

/// One Plaid item's `/transactions/sync`: the three transactions over two pages, then nothing new.
fn plaid_server() -> HttpServer {
    HttpServer::serve(10, move |request| {
        let body: Value = serde_json::from_str(&request.body).unwrap_or_default();
        if request.route() != "POST /transactions/sync" || body["secret"] != "secret-agg" {
            return Response::new("400 Bad Request");
        }
        let (added, next, more) = match body["cursor"].as_str() {
            None => (format!("{T1},{T2}"), "c1", true),
            Some("c1") => (T4.to_owned(), "c2", false),
            Some(_) => (String::new(), "c2", false),
        };
        Response::json(
            "200 OK",
            &format!(
                r#"{{"accounts":[],"added":[{added}],"modified":[],"removed":[],"next_cursor":"{next}","has_more":{more},"request_id":"r"}}"#
            ),
        )
    })
}

/// The store, ledger and report of one scenario in `dir`, and its configuration with `bank`.
async fn scenario(dir: &Path, bank: &str) -> Scenario {
    let ledger = sqlite_db(
        &dir.join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT NOT NULL, amount_minor INTEGER NOT NULL, \
             currency TEXT NOT NULL, status TEXT NOT NULL, created_at TIMESTAMP NOT NULL, \
             fee_minor INTEGER)",
            "INSERT INTO payments VALUES ('ch_1', 60000, 'USD', 'settled', '2026-12-01 10:00:00', 1770)",
        ],
    )
    .await;
    std::fs::create_dir_all(dir.join("reports")).expect("a reports folder");
    write(
        dir,
        "reports/stripe-2026-12-01.csv",
        "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id\n\
         txn_1,2026-12-01 10:00:00,usd,600.00,17.70,582.30,charge,ch_1,po_A\n\
         txn_po_A,2026-12-01 20:00:00,usd,-500.00,0,-500.00,payout,po_A,\n\
         txn_po_B,2026-12-01 20:05:00,usd,-77.00,0,-77.00,payout,po_B,\n",
    );
    let config = stripe_cards(TestConfig::new()).to_toml() + bank;
    let mut scenario = Scenario::in_dir(dir, "STORE_URL")
        .env("LEDGER_URL", &ledger)
        .config(&config);
    for (name, value) in PLAID_ENV {
        scenario = scenario.env(name, value);
    }
    scenario
}

/// (kind, key, at stake) of each finding of the bank leg, and the check's accounting lines
/// after the ledger's.
fn bank_leg(dir: &Path) -> (Vec<(String, String, String)>, Vec<String>) {
    let summary = summary(dir);
    let findings = summary["discrepancies"]
        .as_array()
        .expect("discrepancies")
        .iter()
        .filter(|d| {
            let kind = d["kind"].as_str().unwrap_or_default();
            kind.starts_with("payout_") || kind.starts_with("deposit_")
        })
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["key"].to_string(),
                d["at_stake"].to_string(),
            )
        })
        .collect();
    let accounting: Vec<String> = summary["checks"][0]["accounting"]
        .as_str()
        .expect("accounting")
        .split("; ")
        .skip(2)
        .map(str::to_owned)
        .collect();
    (findings, accounting)
}

#[tokio::test]
async fn plaid_gives_the_findings_of_the_same_entries_from_a_file() {
    let server = plaid_server();
    let from_plaid = temp_dir();
    let plaid = scenario(
        from_plaid.path(),
        &format!(
            "\n[settlement.bank]\nplaid = {{ base_url = \"{}\", item = \"main\", client_id_env = \"PLAID_CLIENT_ID\", secret_env = \"PLAID_SECRET\", access_token_env = \"PLAID_ACCESS_TOKEN\", count = 2 }}\n",
            server.base()
        ),
    )
    .await;
    let from_file = temp_dir();
    std::fs::create_dir_all(from_file.path().join("bank")).expect("a bank folder");
    write(from_file.path(), "bank/2026-12-01.xml", &camt());
    let file = scenario(
        from_file.path(),
        "\n[settlement.bank]\nformat = \"camt\"\nstatements = \"bank/{date}.xml\"\n",
    )
    .await;

    // the same file under a name without the date: no earlier day's file to follow, so the
    // statement is not taken for its own predecessor
    let from_fixed = temp_dir();
    std::fs::create_dir_all(from_fixed.path().join("bank")).expect("a bank folder");
    write(from_fixed.path(), "bank/statement.xml", &camt());
    let fixed = scenario(
        from_fixed.path(),
        "\n[settlement.bank]\nformat = \"camt\"\nstatements = \"bank/statement.xml\"\n",
    )
    .await;

    for s in [&plaid, &file, &fixed] {
        let out = s.recon(&run_args("2026-12-01", "out", &[]));
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    }
    let every_kind = |dir: &Path| -> Vec<String> {
        summary(dir)["discrepancies"]
            .as_array()
            .expect("discrepancies")
            .iter()
            .map(|d| d["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(every_kind(from_fixed.path()), every_kind(from_file.path()));
    assert_eq!(every_kind(from_plaid.path()), every_kind(from_file.path()));
    assert_eq!(bank_leg(from_fixed.path()), bank_leg(from_file.path()));
    let (plaid_found, plaid_accounting) = bank_leg(from_plaid.path());
    let (file_found, file_accounting) = bank_leg(from_file.path());
    assert_eq!(
        plaid_found,
        [
            (
                "payout_late",
                r#"{"processor":"stripe","payout_id":"po_B"}"#,
                r#"{"currency":"USD","minor":7700}"#
            ),
            (
                "deposit_unexplained",
                r#"{"account":"acc-chk","bank_ref":"T4"}"#,
                r#"{"currency":"USD","minor":25000}"#
            ),
        ]
        .map(|(k, key, stake)| (k.to_owned(), key.to_owned(), stake.to_owned()))
    );
    assert_eq!(plaid_found, file_found);
    assert_eq!(
        plaid_accounting,
        [
            "bank statements: 3 entries = 1 traced + 1 in discrepancies + 1 not deposits + 0 other accounts + 0 counted once already + 0 quarantined",
            "payouts: 2 (0 carried from earlier days) = 1 traced + 1 in flight + 0 missing, 0 set aside",
            "payout leg USD open: paid out 577.00 USD = 500.00 USD traced + 77.00 USD in flight + 0.00 USD missing, deposits 750.00 USD = 500.00 USD traced + 0.00 USD returned + 250.00 USD unexplained, traced pairs differ by 0.00 USD",
        ]
    );
    assert_eq!(plaid_accounting, file_accounting);
    // the same lines typed, for a program: the leg's sums in minor units, as strings
    let typed = summary(from_plaid.path())["checks"][0]["accounting_lines"].clone();
    assert_eq!(
        typed[4],
        serde_json::json!({
            "of": "payout_leg", "currency": "USD", "closed": false,
            "payouts_minor": "57700", "traced_minor": "50000", "in_flight_minor": "7700",
            "missing_minor": "0", "deposits_minor": "75000", "deposits_traced_minor": "50000",
            "returned_minor": "0", "unexplained_minor": "25000", "differences_minor": "0"
        })
    );
    assert_eq!(typed.as_array().map(Vec::len), Some(5));
    // both pages were asked for, from no cursor and then from the first page's
    let cursors: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| serde_json::from_str::<Value>(&r.body).unwrap_or_default()["cursor"].clone())
        .collect();
    assert_eq!(cursors, [Value::Null, Value::from("c1")]);
}
