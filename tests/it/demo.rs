//! `recon demo` end to end: the real binary finds exactly the planted discrepancies.

use crate::common::*;

#[test]
fn demo_reports_every_planted_discrepancy_and_nothing_else() {
    let dir = temp_dir();
    let out = dir.path().join("demo-out");
    let output = recon(&["demo", "--out", &path_str(&out)], &[], dir.path());
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(stdout(&output).contains("Demo: all 21 planted discrepancies found, nothing else."));
    assert!(
        stdout(&output)
            .contains("\nAt stake: 32217.00 EUR · 357.51 GBP · 5961 JPY · 28725.96 USD\n"),
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
    ]
    .into_iter()
    .map(str::to_string)
    .collect::<Vec<_>>();
    expected.push(quarantined);
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(
        summary["checks"][3]["accounting"],
        "demo-out/data/reports/stripe-2026-11-20.csv: 237 rows = 227 matched + 9 in discrepancies + 1 quarantined; \
             ledger card_payments: 241 rows = 224 matched + 8 in discrepancies + 9 not expected + 0 set aside"
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
        22,
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
         \"left.amount\",\"right.amount\",\"left.fee\",\"right.fee\",\"left.payout_total\",\"right.payout_total\"\n"
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
            ["\"\""; 10].join(",")
        )
    );
    // The stake as integer minor units and currency; a `timing` row's is not counted, as in the
    // totals (summing the counted stakes per currency gives the summary's at-stake).
    assert!(
        row("13").contains(",\"100\",\"JPY\",\"true\",\"1\","),
        "{csv}"
    );
    assert!(
        row("13").ends_with(",\"6956\",\"6856\",\"\",\"\",\"\",\"\""),
        "{csv}"
    );
    assert!(
        row("20").contains(",\"31895\",\"JPY\",\"false\",\"1\","),
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
            ("EUR", 3221700),
            ("GBP", 35751),
            ("JPY", 5961),
            ("USD", 2872596)
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
    assert_eq!(summary["totals"]["new"], 21);
}
