//! `recon demo` end to end: the real binary finds exactly the planted discrepancies.

use crate::common::*;

#[test]
fn demo_reports_every_planted_discrepancy_and_nothing_else() {
    let dir = temp_dir();
    let out = dir.path().join("demo-out");
    let output = recon(&["demo", "--out", &path_str(&out)], &[], dir.path());
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(stdout(&output).contains("Demo: all 25 planted discrepancies found, nothing else."));
    assert!(
        stdout(&output)
            .contains("\nAt stake: 32467.00 EUR · 357.51 GBP · 2498206 JPY · 28740.96 USD\n"),
        "{}",
        stdout(&output)
    );

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["schema_version"], 1);
    assert_eq!(summary["business_date"], "2026-11-20");
    assert_eq!(summary["outcome"], "discrepancies");
    assert_eq!(summary["exit_code"], 1);

    let mut found: Vec<String> = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            format!(
                "{} {} {} [{}] {}",
                d["check"].as_str().unwrap(),
                d["kind"].as_str().unwrap(),
                d["key"],
                d["columns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join(","),
                d["status"].as_str().unwrap(),
            )
        })
        .collect();
    found.sort();
    // --out was absolute; the report is named relative to the working directory all the same.
    let quarantined = r#"card_payments quarantined_row {"file":"demo-out/data/reports/stripe-2026-11-20.csv","line":"234"} [] open"#.to_string();
    let mut expected = vec![
        r#"accounts changed {"id":"acct_0099"} [status] open"#,
        r#"accounts changed {"id":"acct_0150"} [name] open"#,
        r#"accounts missing_in_right {"id":"acct_0007"} [] open"#,
        r#"ledger_entries changed {"id":"1042"} [amount_minor] open"#,
        r#"ledger_entries changed {"id":"1100"} [status] open"#,
        r#"ledger_entries changed {"id":"1203"} [memo] open"#,
        r#"ledger_entries changed {"id":"1300"} [created_at] open"#,
        r#"ledger_entries missing_in_left {"id":"9001"} [] open"#,
        r#"ledger_entries missing_in_right {"id":"1017"} [] open"#,
        r#"payouts changed {"id":"00000000-0000-4000-8000-000000001010"} [amount_minor,currency] open"#,
        r#"payouts missing_in_left {"id":"00000000-0000-4000-8000-000000001020"} [] open"#,
        r#"card_payments amount_mismatch {"id":"ch_demo_0003"} [amount] open"#,
        r#"card_payments currency_mismatch {"id":"ch_demo_0007"} [currency] open"#,
        r#"card_payments duplicate_in_ledger {"id":"ch_demo_0013"} [] open"#,
        r#"card_payments duplicate_in_report {"id":"ch_demo_0011"} [] open"#,
        r#"card_payments fee_mismatch {"id":"ch_demo_0005"} [fee] open"#,
        r#"card_payments missing_in_ledger {"id":"ch_demo_stray"} [] open"#,
        r#"card_payments payout_total_mismatch {"payout_id":"po_demo_gbp","currency":"GBP"} [payout_total] open"#,
        r#"card_payments status_mismatch {"id":"ch_demo_0009"} [status] open"#,
        r#"card_payments timing {"id":"ch_demo_0015"} [] open"#,
        // the bank leg: the payouts traced to the payout accounts' camt.053 statement
        r#"card_payments payout_missing_in_bank {"processor":"stripe","payout_id":"po_demo_jpy"} [] open"#,
        r#"card_payments payout_amount_mismatch {"processor":"stripe","payout_id":"po_demo_usd"} [amount] open"#,
        r#"card_payments payout_late {"processor":"stripe","payout_id":"po_demo_eur"} [] open"#,
        r#"card_payments deposit_unexplained {"account":"DE89370400440532013000","bank_ref":"2026112000000103"} [] open"#,
    ]
    .into_iter()
    .map(str::to_string)
    .collect::<Vec<_>>();
    expected.push(quarantined);
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(
        summary["checks"][3]["accounting"],
        "demo-out/data/reports/stripe-2026-11-20.csv: 238 rows = 228 matched + 9 in discrepancies + 1 quarantined; \
             ledger card_payments: 241 rows = 224 matched + 8 in discrepancies + 9 not expected + 0 set aside; \
             bank statements: 5 entries = 3 traced + 1 in discrepancies + 1 not deposits + 0 other accounts + 0 counted once already + 0 quarantined; \
             payouts: 5 (0 carried from earlier days) = 3 traced + 1 in flight + 1 missing, 0 set aside; \
             payout leg EUR open: paid out 8835.29 EUR = 5855.83 EUR traced + 2979.46 EUR in flight + 0.00 EUR missing, \
             deposits 6105.83 EUR = 5855.83 EUR traced + 0.00 EUR returned + 250.00 EUR unexplained, traced pairs differ by 0.00 EUR; \
             payout leg GBP closed: paid out 24016.05 GBP = 24016.05 GBP traced + 0.00 GBP in flight + 0.00 GBP missing, \
             deposits 24016.05 GBP = 24016.05 GBP traced + 0.00 GBP returned + 0.00 GBP unexplained, traced pairs differ by 0.00 GBP; \
             payout leg JPY open: paid out 2492245 JPY = 0 JPY traced + 0 JPY in flight + 2492245 JPY missing, \
             deposits 0 JPY = 0 JPY traced + 0 JPY returned + 0 JPY unexplained, traced pairs differ by 0 JPY; \
             payout leg USD open: paid out 25045.46 USD = 25045.46 USD traced + 0.00 USD in flight + 0.00 USD missing, \
             deposits 25030.46 USD = 25030.46 USD traced + 0.00 USD returned + 0.00 USD unexplained, traced pairs differ by 15.00 USD"
    );
    // The bank findings say what was traced to what, and against which statement entry.
    let by_payout = |id: &str| {
        summary["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["key"]["payout_id"] == id && d["key"]["processor"] == "stripe")
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_payout("po_demo_usd")["detail"],
        "credit of 25030.46 USD booked 2026-11-20 (demo-out/data/bank/camt053-2026-11-20.xml:79 Stmt[2]/Ntry[1]) \
         names the payout of 25045.46 USD: the deposit is short by 15.00 USD, classified bank_fee"
    );
    assert_eq!(
        by_payout("po_demo_jpy")["detail"],
        "payout of 2492245 JPY initiated 2026-11-18: no deposit by 2026-11-19"
    );
    assert_eq!(
        by_payout("po_demo_eur")["detail"],
        "payout of 2979.46 EUR initiated 2026-11-20: in flight: its deposit is due by 2026-11-23"
    );

    // Both sides' values, with NULL and '' kept apart.
    let by_key = |key: &str| {
        summary["discrepancies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["key"]["id"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(
        by_key("1042")["values"],
        serde_json::json!([{"column": "amount_minor", "left": "12500", "right": "12050"}])
    );
    assert_eq!(
        by_key("1203")["values"],
        serde_json::json!([{"column": "memo", "left": null, "right": ""}])
    );
    assert_eq!(
        by_key("1300")["values"],
        serde_json::json!([{"column": "created_at", "left": "2026-11-20T07:08:34.483628Z", "right": "2026-11-20T07:08:34.483629Z"}])
    );

    // Row counts of the business day only: 1000 entries a day, one planted on each side.
    let checks = summary["checks"].as_array().unwrap();
    let entries = checks
        .iter()
        .find(|c| c["name"] == "ledger_entries")
        .unwrap();
    assert_eq!(
        (
            entries["left"]["rows"].as_u64(),
            entries["right"]["rows"].as_u64()
        ),
        (Some(1000), Some(1000))
    );
    assert_eq!(entries["partition"], "2026-11-20");

    let csv = std::fs::read_to_string(out.join("discrepancies.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        26,
        "a header and one row per discrepancy"
    );
    // One column per side and compared column, in the order the findings first name them.
    assert!(csv.starts_with(
        "\"id\",\"check\",\"partition\",\"kind\",\"status\",\"key\",\"columns\",\"detail\",\"at_stake_minor\",\"at_stake_currency\",\"at_stake_counted\",\"first_seen_run\",\
         \"left.name\",\"right.name\",\"left.currency\",\"right.currency\",\"left.status\",\"right.status\",\
         \"left.opened_on\",\"right.opened_on\",\"left.credit_limit_minor\",\"right.credit_limit_minor\",\
         \"left.account_id\",\"right.account_id\",\"left.amount_minor\",\"right.amount_minor\",\
         \"left.external_id\",\"right.external_id\",\"left.memo\",\"right.memo\",\
         \"left.created_at\",\"right.created_at\",\"left.arrival_date\",\"right.arrival_date\",\
         \"left.amount\",\"right.amount\",\"left.fee\",\"right.fee\",\"left.payout_total\",\"right.payout_total\",\
         \"left.initiated\",\"right.initiated\",\"left.expected_arrival\",\"right.expected_arrival\",\"left.references\",\"right.references\"\n"
    ), "{csv}");
    let row = |id: &str| {
        csv.lines()
            .find(|l| l.starts_with(&format!("\"{id}\",")))
            .unwrap()
            .to_string()
    };
    // NULL on the left, '' on the right; no stake.
    assert_eq!(
        row("7"),
        format!(
            "\"7\",\"ledger_entries\",\"2026-11-20\",\"changed\",\"open\",\"id=1203\",\"memo\",\"\",\"\",\"\",\"\",\"1\",{}\"NULL\",\"\",{}",
            "\"\",".repeat(16),
            ["\"\""; 16].join(",")
        )
    );
    // The stake as integer minor units and currency; a `timing` row's is not counted, as in the
    // totals (summing the counted stakes per currency gives the summary's at-stake).
    assert!(
        row("13").contains(",\"100\",\"JPY\",\"true\",\"1\","),
        "{csv}"
    );
    assert!(
        row("13").ends_with(&format!(",\"6956\",\"6856\",{}", ["\"\""; 10].join(","))),
        "{csv}"
    );
    assert!(
        row("20").contains(",\"31895\",\"JPY\",\"false\",\"1\","),
        "{csv}"
    );
    // A late payout is in flight (its stake not counted) and keeps what a later run traces it by.
    assert!(
        row("22").contains(",\"297946\",\"EUR\",\"false\",\"1\","),
        "{csv}"
    );
    assert!(
        row("22").ends_with(",\"2026-11-20\",\"NULL\",\"NULL\",\"NULL\",\"po_demo_eur\",\"NULL\""),
        "{csv}"
    );
    let mut counted: std::collections::BTreeMap<String, i128> = Default::default();
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.split("\",\"").collect();
        if cells.len() > 10 && cells[10] == "true" {
            *counted.entry(cells[9].to_string()).or_default() += cells[8].parse::<i128>().unwrap();
        }
    }
    assert_eq!(
        counted,
        [
            ("EUR", 3246700),
            ("GBP", 35751),
            ("JPY", 2498206),
            ("USD", 2874096)
        ]
        .map(|(c, m)| (c.to_string(), m))
        .into()
    );
}

#[test]
fn a_second_demo_starts_afresh_and_finds_the_same() {
    let dir = temp_dir();
    let out = dir.path().join("d");
    for _ in 0..2 {
        let output = recon(&["demo", "--out", &path_str(&out)], &[], dir.path());
        assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["run_id"], 1,
        "the demo builds a fresh store every time"
    );
    assert_eq!(summary["totals"]["new"], 25);
}
