//! `recon serve` in a real headless Chromium, driven through chromedriver's W3C WebDriver HTTP
//! API, behind a test proxy per person that sets `X-Forwarded-User` as an authenticating proxy
//! does: filter the backlog, open a finding, bulk-acknowledge, be refused as a viewer; the
//! backlog and a finding's history fit 1400 px, and their screenshots are kept.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

/// WebDriver's name for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn chromedriver() -> Option<String> {
    for name in ["/usr/bin/chromedriver", "chromedriver"] {
        if Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Some(name.to_string());
        }
    }
    if std::env::var("RECON_TEST_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
        panic!(
            "no chromedriver found and RECON_TEST_REQUIRE_BROWSER=1 (apt-get install chromium-driver)"
        );
    }
    None
}

/// A chromedriver child and one browser session in it, both ended when dropped.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    async fn start(driver: &str, profile: &std::path::Path) -> Browser {
        let port = free_port();
        // Its own process group, so the browser it starts ends with it even when a test fails.
        let child = Command::new(driver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && r.status().is_success()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not answer");
        let mut browser = Browser {
            driver: child,
            base,
            session: String::new(),
            http,
        };
        let created = browser
            .call(
                "POST",
                "/session",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": "/usr/bin/chromium",
                        "args": ["--headless", "--no-sandbox", "--disable-gpu",
                                 "--disable-background-networking", "--disable-component-update",
                                 "--disable-sync", "--no-first-run", "--window-size=1400,900",
                                 format!("--user-data-dir={}", profile.display())]
                    }
                }}}),
            )
            .await;
        browser.session = created["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        browser
    }

    /// One WebDriver command; its `value`.
    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self
                .http
                .post(url)
                .header("Content-Type", "application/json")
                .body(body.to_string()),
        };
        let text = request.send().await.unwrap().text().await.unwrap();
        let answer: Value = serde_json::from_str(&text).unwrap();
        assert!(
            answer["value"].get("error").is_none(),
            "{method} {path}: {answer}"
        );
        answer["value"].clone()
    }

    async fn session(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn open(&self, url: &str) {
        self.session("POST", "/url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .session(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT].as_str().unwrap().to_string()
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.session("POST", &format!("/element/{element}/click"), json!({}))
            .await;
    }

    async fn type_in(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.session(
            "POST",
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// An element's visible text, its cells and words joined by single spaces, lines kept.
    async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        let text = self
            .session("GET", &format!("/element/{element}/text"), Value::Null)
            .await;
        text.as_str()
            .unwrap()
            .lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    }

    async fn script(&self, script: &str) -> Value {
        self.session(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// The title, once the page that has it has loaded (a click's navigation may still be on
    /// its way when the click returns); the last one seen after 10 s.
    async fn title_becomes(&self, expected: &str) -> String {
        let mut title = String::new();
        for _ in 0..100 {
            title = self.title().await;
            let complete = self.script("return document.readyState").await == "complete";
            if title == expected && complete {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        title
    }

    async fn title(&self) -> String {
        self.session("GET", "/title", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The backlog's row ids, in order.
    async fn rows(&self) -> Vec<i64> {
        let ids = self
            .script(
                "return Array.from(document.querySelectorAll('#backlog tbody tr')).map(r => r.id)",
            )
            .await;
        ids.as_array()
            .unwrap()
            .iter()
            .map(|id| {
                id.as_str()
                    .unwrap()
                    .trim_start_matches("row-")
                    .parse()
                    .unwrap()
            })
            .collect()
    }

    /// The page's width as laid out, and a PNG of the window saved at `path`.
    async fn screenshot(&self, path: &std::path::Path) -> i64 {
        let png = self.session("GET", "/screenshot", Value::Null).await;
        let bytes = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            png.as_str().unwrap(),
        )
        .unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        // IHDR's width, big-endian, right after the signature and the chunk's length and type.
        let shot_width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        assert_eq!(shot_width, 1400, "the window is 1400 px wide");
        std::fs::write(path, bytes).unwrap();
        self.script("return document.documentElement.scrollWidth")
            .await
            .as_i64()
            .unwrap()
    }
}

impl Browser {
    /// Ends the session (chromedriver closes the browser) before the driver is stopped.
    async fn quit(self) {
        self.call("DELETE", &format!("/session/{}", self.session), Value::Null)
            .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and any browser process it left.
        let group = rustix::process::Pid::from_child(&self.driver);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// An authenticating proxy in miniature: every request to it is passed to `backend` as `user`
/// (any `X-Forwarded-User` the browser sent is dropped), the Host header kept.
async fn proxy_as(backend: &str, user: &'static str) -> String {
    let backend = backend.to_string();
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (client, backend) = (client.clone(), backend.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let mut forward = client.request(parts.method.clone(), format!("{backend}{path}"));
            for (name, value) in &parts.headers {
                if !["x-forwarded-user", "content-length", "connection"].contains(&name.as_str()) {
                    forward = forward.header(name, value);
                }
            }
            let answer = forward
                .header("X-Forwarded-User", user)
                .body(body)
                .send()
                .await
                .unwrap();
            let mut response = axum::response::Response::new(axum::body::Body::empty());
            *response.status_mut() = answer.status();
            for (name, value) in answer.headers() {
                if !["content-length", "transfer-encoding", "connection"].contains(&name.as_str()) {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            *response.body_mut() = axum::body::Body::from(answer.bytes().await.unwrap());
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_an_analyst_filters_opens_and_bulk_acknowledges_and_a_viewer_is_refused() {
    let Some(driver) = chromedriver() else {
        eprintln!(
            "SKIPPED in_chromium_an_analyst_filters_opens_and_bulk_acknowledges_and_a_viewer_is_refused: no chromedriver"
        );
        return;
    };
    let dir = temp_dir();
    let out = recon(&["demo", "--out", "demo-out"], &[], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let store = sqlite_url(dir.path().join("demo-out/recon-store.db"));
    let config = write(
        dir.path(),
        "serve.toml",
        "[job]\nout_dir = \"demo-out\"\n[store]\nurl_env = \"STORE\"\n\
         [serve]\nidentity = \"proxy\"\nproxy_header = \"X-Forwarded-User\"\nproxy_addresses = [\"127.0.0.1\"]\n\
         [serve.users]\nvera = \"viewer\"\nana = \"analyst\"\n",
    );
    let server = crate::serve::Server::start(dir.path(), &config, &[("STORE", &store)]);
    let as_ana = proxy_as(&server.base, "ana").await;
    let as_vera = proxy_as(&server.base, "vera").await;
    let browser = Browser::start(&driver, &dir.path().join("profile")).await;

    // Filter: kind changed, by the form.
    browser.open(&format!("{as_ana}/")).await;
    assert_eq!(browser.title().await, "Backlog · recon");
    assert_eq!(browser.text("nav .who").await, "ana · analyst");
    assert_eq!(browser.rows().await.len(), 25);
    browser.click("#f-kind option[value=changed]").await;
    browser.click("#filter").await;
    for _ in 0..100 {
        if browser.rows().await.len() == 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(browser.rows().await, [5, 10, 2, 3, 6, 7, 8]);
    assert_eq!(browser.text("#count").await, "7 of 25 findings");
    let width = browser.screenshot(&dir.path().join("backlog.png")).await;
    assert!(width <= 1400, "the backlog is {width} px wide");

    // Open a finding: both sides and its history.
    browser.click("a[href='/findings/5']").await;
    assert_eq!(
        browser.title_becomes("Finding 5 · recon").await,
        "Finding 5 · recon"
    );
    assert_eq!(
        browser.text("#sides tbody").await,
        "amount_minor 12500 12050"
    );
    let history = browser.text("#history tbody").await;
    assert!(history.starts_with("2026-11-20 1 "), "{history}");
    assert!(history.ends_with(" new seen"), "{history}");
    assert!(
        browser.text("#audit tbody").await.starts_with("8 "),
        "its opening is audit entry 8"
    );
    assert_eq!(browser.text("#ledger-row").await, "ledger_entries id=1042");
    let width = browser.screenshot(&dir.path().join("finding.png")).await;
    assert!(width <= 1400, "a finding's page is {width} px wide");

    // Bulk-acknowledge two accounts findings from the filtered backlog.
    browser
        .open(&format!("{as_ana}/?kind=changed&check=accounts"))
        .await;
    assert_eq!(browser.rows().await, [2, 3]);
    browser.click("#pick-2").await;
    browser.click("#pick-3").await;
    browser.type_in("#note", "renamed by the customer").await;
    browser.click("#acknowledge").await;
    assert_eq!(
        browser.title_becomes("Acknowledged · recon").await,
        "Acknowledged · recon"
    );
    assert_eq!(
        browser.text("#done").await,
        // The form's reason defaults to `explained`.
        "finding 2 (accounts changed id=acct_0099) acknowledged (explained) by ana\nfinding 3 (accounts changed id=acct_0150) acknowledged (explained) by ana"
    );
    browser.open(&format!("{as_ana}/findings/2")).await;
    assert_eq!(browser.text("#status").await, "acknowledged");
    assert_eq!(browser.text("#acks").await, "ana: renamed by the customer");

    // A viewer reads, and is refused acting.
    browser.open(&format!("{as_vera}/?kind=changed")).await;
    assert_eq!(browser.text("nav .who").await, "vera · viewer");
    browser.click("#pick-5").await;
    browser.type_in("#note", "fine").await;
    browser.click("#acknowledge").await;
    assert_eq!(
        browser.title_becomes("Refused · recon").await,
        "Refused · recon"
    );
    assert_eq!(
        browser.text("#message").await,
        "vera is a viewer: a viewer may read, not acknowledge or assign"
    );
    browser.open(&format!("{as_vera}/findings/5")).await;
    assert_eq!(browser.text("#status").await, "open");

    // Straight to the server, past the proxy: no one is named, so no page is shown.
    browser.open(&format!("{}/", server.base)).await;
    assert_eq!(browser.title().await, "Refused · recon");
    assert_eq!(
        browser.text("#message").await,
        "the proxy did not say who you are"
    );
    browser.quit().await;
}
