//! `report.html` in a real headless Chromium: it loads with no blocked or failed request (it is
//! self-contained) and shows the verdict first.

use std::process::Command;

use crate::common::*;

fn chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(name.to_string());
        }
    }
    if std::env::var("RECON_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!("no Chromium found and RECON_TEST_REQUIRE_BROWSER=1 (apt-get install chromium)");
    }
    None
}

#[test]
fn the_demo_report_renders_in_headless_chromium_with_its_verdict() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED the_demo_report_renders_in_headless_chromium_with_its_verdict: no Chromium"
        );
        return;
    };
    let dir = temp_dir();
    let out = dir.path().join("demo-out");
    let demo = recon(&["demo", "--out", &path_str(&out)], &[], dir.path());
    assert_eq!(demo.status.code(), Some(0), "{}", stderr(&demo));
    assert!(stdout(&demo).contains(&format!(
        "Open {} in a browser",
        out.join("report.html").display()
    )));

    let profile = dir.path().join("profile");
    let page = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            &format!("file://{}", out.join("report.html").display()),
        ])
        .output()
        .unwrap();
    assert!(
        page.status.success(),
        "{}",
        String::from_utf8_lossy(&page.stderr)
    );
    let dom = String::from_utf8_lossy(&page.stdout);
    let log = String::from_utf8_lossy(&page.stderr);
    for problem in ["Refused to", "net::ERR_", "Uncaught", "Failed to load"] {
        assert!(!log.contains(problem), "{problem}: {log}");
    }
    assert!(dom.contains("<header class=\"verdict discrepancies\" id=\"verdict\"><h1>21 discrepancies found (21 new)</h1>"), "{dom}");
    // The verdict comes before everything else on the page.
    let verdict_at = dom.find("id=\"verdict\"").unwrap();
    assert!(dom.find("<table").unwrap() > verdict_at);
    assert_eq!(dom.matches("<svg role=\"img\"").count(), 2, "two charts");
    assert!(dom.contains("<h2>Discrepancies (21)</h2>"));
    assert!(dom.contains(
        "<p><strong>At stake:</strong> 42.00 EUR · 0.01 GBP · 37856 JPY · 1008.96 USD</p>"
    ));
    assert!(
        dom.contains("<code>fee: report 0.71 USD, ledger 0.61 USD ("),
        "{dom}"
    );
    assert!(dom.contains("memo: NULL → ''"));
    assert!(dom.contains("name: Zoë Café #150 → Zoe Cafe #150"));
    assert!(!dom.contains("<script"), "no script in the report");
}
