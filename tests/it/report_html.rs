//! `report.html` in a real headless Chromium: it loads with no blocked or failed request (it is
//! self-contained), shows the verdict and the money at stake on the first screen of 1400×900,
//! the findings largest stake first, and fits the window at 1400 and 1920 px; and what it says
//! of missing rows, amounts, kinds and acknowledgements, exactly. Each night's copy is kept by date.

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
    assert!(dom.contains("<header class=\"verdict discrepancies\" id=\"verdict\"><h1>25 discrepancies found (25 new)</h1>"), "{dom}");
    // The verdict comes before everything else on the page.
    let verdict_at = dom.find("id=\"verdict\"").unwrap();
    assert!(dom.find("<table").unwrap() > verdict_at);
    assert_eq!(dom.matches("<svg role=\"img\"").count(), 2, "two charts");
    assert!(dom.contains("<h2 id=\"findings\">Findings that need someone (25)</h2>"));
    // Settlement findings as before, less the 31895 JPY `timing` row still inside its window
    // (37856 − 31895 = 5961 JPY), plus the integrity rows with an amount: payouts 1020 missing
    // (32175.00 EUR), entries 1017 and 9001 missing (311.00 + 42.00 GBP), entry 1042 changed
    // (125.00 → 120.50 GBP: 4.50), payout 1010 whose currency changed (27717.00 USD); the bank
    // leg's unexplained deposit (250.00 EUR), missing JPY payout (2492245 JPY) and deposit short
    // by a fee (15.00 USD).
    assert!(
        dom.contains(
            "<div class=\"card\" id=\"at-stake\"><h2>Money at stake</h2>\
             <p class=\"big stake\">32467.00 EUR</p><p class=\"big stake\">357.51 GBP</p>\
             <p class=\"big stake\">2498206 JPY</p><p class=\"big stake\">28740.96 USD</p>"
        ),
        "{dom}"
    );
    assert!(dom.contains(
        "<div class=\"card\" id=\"needs-someone\"><h2>Needs someone</h2><p class=\"big\">25</p>\
         <p>25 new · 0 carried over</p><p class=\"muted\">0 acknowledged · 0 resolved since the last run</p></div>"
    ), "{dom}");
    // Each kind's findings with their total at stake and what to do about them.
    assert!(dom.contains(
        "<section class=\"kind\" id=\"kind-missing_in_ledger\"><h3><code>missing_in_ledger</code> · 1 · 42.00 EUR</h3>\
         <p class=\"todo\"><b>What to do:</b> Book the processor's line in the ledger, or find why the ledger dropped it.</p>"
    ), "{dom}");
    assert!(dom.contains(
        "<section class=\"kind\" id=\"kind-timing\"><h3><code>timing</code> · 1 · not yet at stake</h3>"
    ), "{dom}");
    // A missing row shows its values, amounts in their currency.
    assert!(dom.contains(
        "<td><code class=\"id\">id=9001</code></td><td><code>account_id=acct_0003, amount_minor=42.00 GBP, currency=GBP, \
         status=settled, external_id=ch_only_in_payments, memo=NULL, created_at=2026-11-20T12:00:00.000000Z</code></td>\
         <td class=\"n stake\">42.00 GBP</td>"
    ), "{dom}");
    assert!(dom.contains("<code>amount_minor: 125.00 GBP → 120.50 GBP</code>"));
    // Each kind found, with what it means.
    assert!(dom.contains(
        "<tr><td><code>timing</code></td><td>A settled ledger row not in a report yet, still inside its timing window: not yet at stake.</td>"
    ), "{dom}");
    assert!(
        dom.contains("<code>fee: report 0.71 USD, ledger 0.61 USD ("),
        "{dom}"
    );
    assert!(dom.contains("memo: NULL → ''"));
    assert!(dom.contains("name: Zoë Café #150 → Zoe Cafe #150"));
    assert!(!dom.contains("<script"), "no script in the report");

    for width in [1400, 1920] {
        let (scroll, client) = page_width(&browser, &out.join("report.html"), width, dir.path());
        assert!(
            scroll <= client,
            "at {width} px the page is {scroll} px wide in a {client} px window"
        );
    }
}

/// The page's `scrollWidth` and `clientWidth` in a `width` px window.
fn page_width(
    browser: &str,
    report: &std::path::Path,
    width: u32,
    dir: &std::path::Path,
) -> (u64, u64) {
    let value = measure(
        browser,
        report,
        (width, 1000),
        dir,
        "document.documentElement.scrollWidth + ' ' + document.documentElement.clientWidth",
    );
    let (scroll, client) = value.split_once(' ').unwrap();
    let client: u64 = client.parse().unwrap();
    assert!(
        client + 40 >= u64::from(width) && client <= u64::from(width),
        "{value}"
    );
    (scroll.parse().unwrap(), client)
}

/// The value of the JavaScript `expression` in the report laid out in a `width`×`height`
/// window: a copy of the report, its Content-Security-Policy taken out, gets a script that
/// writes the value into the DOM Chromium dumps.
fn measure(
    browser: &str,
    report: &std::path::Path,
    (width, height): (u32, u32),
    dir: &std::path::Path,
    expression: &str,
) -> String {
    let html = std::fs::read_to_string(report).unwrap();
    let csp_start = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .unwrap();
    let csp_end = csp_start + html[csp_start..].find('>').unwrap() + 1;
    let measured = format!(
        "{}{}",
        &html[..csp_start],
        &html[csp_end..].replace(
            "</body>",
            &format!("<script>document.body.dataset.measure = {expression};</script></body>"),
        )
    );
    let copy = dir.join(format!("measure-{width}x{height}.html"));
    std::fs::write(&copy, measured).unwrap();
    let page = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            &format!("--window-size={width},{height}"),
            &format!("--user-data-dir={}", dir.join("profile-measure").display()),
            "--dump-dom",
            &format!("file://{}", copy.display()),
        ])
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&page.stdout);
    let at = dom
        .find("data-measure=\"")
        .expect("the measuring script ran")
        + 14;
    dom[at..at + dom[at..].find('"').unwrap()].to_string()
}

/// At 1400×900 — a laptop's first screen — the verdict, the money at stake and what needs
/// someone are all visible before any scrolling; the findings follow grouped by kind, largest
/// stake first within a currency; the zero-filled grid is folded away; nothing is wider than
/// the window. A screenshot is kept beside the test's files; the night's copy is kept by date.
#[test]
fn the_demo_report_leads_with_the_verdict_and_the_money_at_stake_at_1400_by_900() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED the_demo_report_leads_with_the_verdict_and_the_money_at_stake_at_1400_by_900: no Chromium"
        );
        return;
    };
    let dir = temp_dir();
    let out = dir.path().join("demo-out");
    let demo = recon(&["demo", "--out", &path_str(&out)], &[], dir.path());
    assert_eq!(demo.status.code(), Some(0), "{}", stderr(&demo));
    let report = out.join("report.html");

    let value = measure(
        &browser,
        &report,
        (1400, 900),
        dir.path(),
        "[window.innerHeight, \
          document.getElementById('verdict').getBoundingClientRect().bottom, \
          document.getElementById('at-stake').getBoundingClientRect().bottom, \
          document.getElementById('needs-someone').getBoundingClientRect().bottom, \
          document.documentElement.scrollWidth, \
          document.getElementById('totals').closest('details').open, \
          [...document.querySelectorAll('section.kind tr[id]')].map(r => r.id).join(' ')].join('|')",
    );
    let parts: Vec<&str> = value.split('|').collect();
    let [inner, verdict, at_stake, needs, scroll, open, ids] = parts[..] else {
        panic!("{value}")
    };
    let number = |text: &str| text.parse::<f64>().unwrap();
    // Headless Chromium's viewport is the 900 px window less its frame (757 px here): a
    // bottom inside it is inside 900 px too.
    assert!(number(inner) <= 900.0 && number(inner) >= 700.0, "{value}");
    for (what, bottom) in [
        ("verdict", verdict),
        ("at stake", at_stake),
        ("needs someone", needs),
    ] {
        assert!(
            number(bottom) > 0.0 && number(bottom) < number(inner),
            "the {what} ends at {bottom} px, below the fold of {inner} px: {value}"
        );
    }
    assert!(number(scroll) <= 1400.0, "{value}");
    assert_eq!(open, "false", "the per-check grid is folded away");
    // By kind (kind order), then largest stake first within a currency (currencies in code
    // order), then those without a stake by id: payouts 1020 (32175.00 EUR) before entry 9001
    // (42.00 GBP); entry 1017 (311.00 GBP) before the unpriced row 1; changed 5 (4.50 GBP)
    // and 10 (27717.00 USD) before the changes with no amount. The bank leg's four (d-22 late,
    // d-23 short by a fee, d-24 missing, d-25 unexplained) come in the bank kinds' order, before
    // the quarantined line (d-21).
    assert_eq!(
        ids,
        "d-11 d-9 d-4 d-1 d-5 d-10 d-2 d-3 d-6 d-7 d-8 d-12 d-13 d-14 d-15 d-16 d-17 d-18 d-19 d-20 d-24 d-25 d-23 d-22 d-21"
    );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        html.contains("<details id=totals-by-check><summary>Counts by kind and check</summary>"),
        "closed without script: no open attribute"
    );
    assert!(!html.contains("break-all") && !html.contains("anywhere"));

    let screenshot = dir.path().join("report-1400x900.png");
    let shot = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1400,900",
            &format!(
                "--user-data-dir={}",
                dir.path().join("profile-shot").display()
            ),
            &format!("--screenshot={}", screenshot.display()),
            &format!("file://{}", report.display()),
        ])
        .output()
        .unwrap();
    assert!(
        shot.status.success(),
        "{}",
        String::from_utf8_lossy(&shot.stderr)
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // The IHDR chunk: width and height, big-endian.
    assert_eq!(
        (
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            u32::from_be_bytes(png[20..24].try_into().unwrap())
        ),
        (1400, 900)
    );

    // The night's copy, kept by business date: the same page, the run's user's only.
    let dated = out.join("reports/2026-11-20/report.html");
    assert_eq!(
        std::fs::read(&dated).unwrap(),
        std::fs::read(&report).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dated), 0o600);
    assert_eq!(mode(&out.join("reports/2026-11-20")), 0o700);
    assert_eq!(mode(&out.join("reports")), 0o700);
}

/// An acknowledged discrepancy shows its note and who wrote it, and its money is no longer at
/// stake; a missing row shows its values and amount in its currency.
#[tokio::test]
async fn the_report_shows_acknowledgement_notes_and_missing_rows_values() {
    let dir = temp_dir();
    let create = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, currency TEXT, memo TEXT)";
    let ledger = sqlite_db(
        &dir.path().join("ledger.db"),
        &[create, "INSERT INTO entries VALUES (1, 1999, 'KWD', 'rent'), (2, 500, 'JPY', NULL), (3, 700, 'EUR', 'x')"],
    )
    .await;
    let payments = sqlite_db(
        &dir.path().join("payments.db"),
        &[
            create,
            "INSERT INTO entries VALUES (1, 1999, 'KWD', 'rent'), (3, 650, 'EUR', 'x')",
        ],
    )
    .await;
    let config = TestConfig::new()
        .table("job")
        .set("timezone", "UTC")
        .store("STORE")
        .source("ledger", "LEDGER")
        .source("payments", "PAYMENTS")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .to_toml();
    write(dir.path(), "recon.toml", &config);
    let store = sqlite_url(dir.path().join("store.db"));
    let env = [
        ("STORE", store.as_str()),
        ("LEDGER", ledger.as_str()),
        ("PAYMENTS", payments.as_str()),
    ];
    let run = [
        "run",
        "--config",
        "recon.toml",
        "--date",
        "2026-11-20",
        "--out",
        "out",
    ];
    let first = recon(&run, &env, dir.path());
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(
        html.contains(
            "<div class=card id=at-stake><h2>Money at stake</h2><p class=\"big stake\">0.50 EUR</p>\
             <p class=\"big stake\">500 JPY</p><p class=muted>"
        ),
        "{html}"
    );
    let ack = recon(
        &[
            "discrepancies",
            "ack",
            "--reason",
            "explained",
            "2",
            "--config",
            "recon.toml",
            "--note",
            "repriced <on purpose>",
            "--actor",
            "ana",
        ],
        &env,
        dir.path(),
    );
    assert_eq!(ack.status.code(), Some(0), "{}", stderr(&ack));
    let second = recon(&run, &env, dir.path());
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    assert!(html.contains(
        "<tr id=d-1><td class=n>1</td><td>entries</td><td class=date>all</td><td>carried</td>\
         <td><code class=id>id=2</code></td><td><code>amount_minor=500 JPY, currency=JPY, memo=NULL</code></td>\
         <td class=\"n stake\">500 JPY</td></tr>"
    ), "{html}");
    assert!(
        html.contains(
            "<tr id=d-2><td class=n>2</td><td>entries</td><td class=date>all</td><td>changed</td>\
         <td>acknowledged<div class=ack>ana: repriced &lt;on purpose&gt;</div></td>\
         <td><code class=id>id=3</code></td><td><code>amount_minor: 7.00 EUR → 6.50 EUR</code></td>\
         <td class=\"n stake\">0.50 EUR</td></tr>"
        ),
        "{html}"
    );
    // Acknowledged: explained, no longer at stake.
    assert!(
        html.contains(
            "<div class=card id=at-stake><h2>Money at stake</h2><p class=\"big stake\">500 JPY</p><p class=muted>"
        ),
        "{html}"
    );
    let summary = summary(dir.path());
    assert_eq!(
        summary["discrepancies"][1]["acknowledgement"],
        serde_json::json!({"note": "repriced <on purpose>", "actor": "ana", "reason": "explained"})
    );
}

/// A check that could not be read is named on the first screen with its error, under the
/// verdict ("fix what the failed checks say") and before any finding: the page says what to fix.
#[tokio::test]
async fn a_check_that_could_not_be_read_is_named_under_the_verdict() {
    let dir = temp_dir();
    let create =
        "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, currency TEXT)";
    let ledger = sqlite_db(
        &dir.path().join("ledger.db"),
        &[create, "INSERT INTO entries VALUES (1, 100, 'EUR')"],
    )
    .await;
    let payments = sqlite_db(&dir.path().join("payments.db"), &[create]).await;
    let config = TestConfig::new()
        .table("job")
        .set("timezone", "UTC")
        .store("STORE")
        .source("ledger", "LEDGER")
        .source("payments", "PAYMENTS")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .integrity("gone", "ledger.no_such_table", "payments.entries", "id")
        .to_toml();
    write(dir.path(), "recon.toml", &config);
    let store = sqlite_url(dir.path().join("store.db"));
    let env = [
        ("STORE", store.as_str()),
        ("LEDGER", ledger.as_str()),
        ("PAYMENTS", payments.as_str()),
    ];
    let run = recon(
        &[
            "run",
            "--config",
            "recon.toml",
            "--date",
            "2026-11-20",
            "--out",
            "out",
        ],
        &env,
        dir.path(),
    );
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    let html = std::fs::read_to_string(dir.path().join("out/report.html")).unwrap();
    let verdict =
        html.find("<h1>Failed: bad configuration or input: fix what the failed checks say</h1>");
    let not_read = html.find("<p class=status-failed>Not read: gone (all): source ledger: table &quot;no_such_table&quot; \
         does not exist or is not readable (tables there: entries)</p>",
    );
    let findings = html.find("<h2 id=findings>");
    assert!(
        verdict.is_some() && verdict < not_read && not_read < findings,
        "{html}"
    );
    assert!(
        html.contains(
            "<div class=card id=at-stake><h2>Money at stake</h2><p class=\"big stake\">1.00 EUR</p>"
        ),
        "{html}"
    );
}
