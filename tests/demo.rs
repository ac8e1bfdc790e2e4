//! `recon demo` end to end: the real binary finds exactly the planted discrepancies.

mod common;

use common::*;

#[test]
fn demo_reports_every_planted_discrepancy_and_nothing_else() {
    let dir = temp_dir();
    let out = dir.path().join("demo-out");
    let output = recon(&["demo", "--out", &path_str(&out)], &[], dir.path());
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(stdout(&output).contains("Demo: all 11 planted discrepancies found, nothing else."));

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
    let expected = [
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
    ];
    assert_eq!(found, expected);

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
        12,
        "a header and one row per discrepancy"
    );
    assert!(csv.starts_with(
        "id,check,partition,kind,status,key,columns,left,right,detail,first_seen_run\n"
    ));
    assert!(
        csv.contains(",ledger_entries,2026-11-20,changed,open,id=1203,memo,memo=NULL,memo=,,1\n"),
        "{csv}"
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
    assert_eq!(summary["totals"]["new"], 11);
}
