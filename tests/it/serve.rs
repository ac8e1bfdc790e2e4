//! `recon serve`, the real binary over HTTP on a store the demo (or a sealed day's scenario)
//! filled: identity from the proxy's header only from the proxy's addresses, or from hashed
//! tokens; roles; CSRF; the filters' exact findings; the security headers; then a real headless
//! Chromium driven through chromedriver's WebDriver API behind a test proxy that names the
//! person, as an authenticating proxy does.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use sha2::{Digest, Sha256};

use crate::common::*;

/// The mask key `recon demo` uses when none is set (src/demo.rs).
const DEMO_MASK_KEY: &str = "64656d6f2d6f6e6c792d6d61736b2d6b65792d6d6164652d75702d6c696b652d74";

/// A `recon serve` child, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// `recon serve --config config` in `dir` on a free port, with `env`; waits for its line.
    pub(crate) fn start(dir: &Path, config: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = recon_command(
            &[
                "serve",
                "--config",
                &path_str(config),
                "--listen",
                "127.0.0.1:0",
            ],
            env,
            dir,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("recon serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("its first line");
        let base = line
            .trim()
            .strip_prefix("recon serve listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        Server { child, base }
    }
}

/// The demo's store and kept report under `dir/demo-out`.
fn demo(dir: &Path) -> String {
    let out = recon(&["demo", "--out", "demo-out"], &[], dir);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    sqlite_url(dir.join("demo-out/recon-store.db"))
}

/// A configuration serving the store in `STORE` to three people through a proxy at `proxies`.
fn proxy_config(dir: &Path, proxies: &str) -> PathBuf {
    write(
        dir,
        "serve.toml",
        &format!(
            "[job]\nout_dir = \"demo-out\"\n[store]\nurl_env = \"STORE\"\n\
             [serve]\nidentity = \"proxy\"\nproxy_header = \"X-Forwarded-User\"\nproxy_addresses = [{proxies}]\n\
             [serve.users]\nvera = \"viewer\"\nana = \"analyst\"\napril = \"approver\"\n"
        ),
    )
}

async fn get(url: &str, user: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(user) = user {
        request = request.header("X-Forwarded-User", user);
    }
    let response = request.send().await.expect("a response");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

async fn post(url: &str, user: &str, form: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("X-Forwarded-User", user)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("a response");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// The CSRF token of the backlog's form as `user` is served it.
async fn csrf_of(base: &str, user: &str) -> String {
    let (status, page) = get(&format!("{base}/"), Some(user)).await;
    assert_eq!(status, 200, "{page}");
    let at = page.find("name=csrf value=\"").expect("a CSRF field") + 17;
    page[at..].split('"').next().unwrap().to_string()
}

/// The finding ids of the backlog's rows, in order.
fn row_ids(page: &str) -> Vec<i64> {
    page.split("<tr id=row-")
        .skip(1)
        .map(|s| s.split('>').next().unwrap().parse().unwrap())
        .collect()
}

/// The text of the refusal page's message, unescaped.
fn message(page: &str) -> String {
    let at = page.find("id=message>").expect("a message") + 11;
    page[at..]
        .split("</p>")
        .next()
        .unwrap()
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// (status, ack actor) of each finding `ids` in the store at `url`.
async fn ack_state(url: &str, ids: &[i64]) -> Vec<(i64, String, Option<String>)> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut out = Vec::new();
    for id in ids {
        let (status, actor): (String, Option<String>) =
            sqlx::query_as("SELECT status, ack_actor FROM discrepancies WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .unwrap();
        out.push((*id, status, actor));
    }
    pool.close().await;
    out
}

#[tokio::test]
async fn the_backlog_filters_and_sorts_to_exactly_the_expected_findings() {
    let dir = temp_dir();
    let store = demo(dir.path());
    let config = proxy_config(dir.path(), "\"127.0.0.1/32\"");
    let server = Server::start(dir.path(), &config, &[("STORE", &store)]);
    let ids = async |query: &str| {
        let (status, page) = get(&format!("{}/{query}", server.base), Some("vera")).await;
        assert_eq!(status, 200, "{page}");
        row_ids(&page)
    };
    // Largest stake first within each currency (EUR, GBP, JPY, USD), then the ones with none.
    assert_eq!(
        ids("").await,
        [
            11, 22, 25, 12, 4, 9, 5, 19, 24, 20, 17, 13, 10, 18, 16, 15, 23, 14, 1, 2, 3, 6, 7, 8,
            21
        ]
    );
    assert_eq!(ids("?kind=changed").await, [5, 10, 2, 3, 6, 7, 8]);
    assert_eq!(ids("?currency=GBP&min_stake=42").await, [4, 9]);
    assert_eq!(ids("?currency=gbp&min_stake=42.01").await, [4]);
    // Each stake in its own currency's major units: 311 JPY is 311 yen.
    assert_eq!(
        ids("?min_stake=311").await,
        [11, 22, 4, 24, 20, 17, 10, 18, 16]
    );
    assert_eq!(
        ids("?check=card_payments&sort=check").await,
        [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25]
    );
    assert_eq!(
        ids("?check=accounts&kind=changed&status=open").await,
        [2, 3]
    );
    assert_eq!(ids("?status=resolved").await, Vec::<i64>::new());
    assert_eq!(
        ids("?min_age=1").await,
        Vec::<i64>::new(),
        "all found today"
    );
    assert_eq!(ids("?min_age=0&check=payouts&sort=age").await, [10, 11]);

    let (status, page) = get(&format!("{}/?min_stake=1e3", server.base), Some("vera")).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&page),
        "min_stake \"1e3\" is not an amount like 100 or 99.50"
    );
    let (status, page) = get(&format!("{}/?sort=size", server.base), Some("vera")).await;
    assert_eq!(status, 400);
    assert_eq!(
        message(&page),
        "sort \"size\" is not stake, age, date or check"
    );
}

#[tokio::test]
async fn identity_comes_from_the_proxy_header_only_from_the_proxy_addresses() {
    let dir = temp_dir();
    let store = demo(dir.path());
    let config = proxy_config(dir.path(), "\"127.0.0.1/32\"");
    let server = Server::start(dir.path(), &config, &[("STORE", &store)]);
    let (status, page) = get(&format!("{}/", server.base), Some("ana")).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<span class=who>ana · analyst</span>"),
        "{page}"
    );
    let (status, page) = get(&format!("{}/", server.base), None).await;
    assert_eq!(
        (status, message(&page).as_str()),
        (403, "the proxy did not say who you are")
    );
    let (status, page) = get(&format!("{}/", server.base), Some("mallory")).await;
    assert_eq!(
        (status, message(&page).as_str()),
        (
            403,
            "mallory has no role here (serve.users in the configuration)"
        )
    );
    // Health and readiness need no one.
    assert_eq!(
        get(&format!("{}/healthz", server.base), None).await,
        (200, "ok\n".to_string())
    );
    // The newest migration's number is the schema version a migrated store reports.
    let newest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("migrations")
        .filter_map(|e| e.ok()?.file_name().to_str()?.get(..4)?.parse::<u32>().ok())
        .max()
        .expect("a migration");
    assert_eq!(
        get(&format!("{}/readyz", server.base), None).await,
        (200, format!("ready: store schema version {newest}\n"))
    );
    drop(server);

    // The proxy is elsewhere: a request from 127.0.0.1 is refused, header or not.
    let config = proxy_config(dir.path(), "\"10.9.8.7/32\", \"fd00::/8\"");
    let server = Server::start(dir.path(), &config, &[("STORE", &store)]);
    for user in [Some("april"), None] {
        let (status, page) = get(&format!("{}/findings/1", server.base), user).await;
        assert_eq!(
            (status, message(&page).as_str()),
            (
                403,
                "this server answers only through its authenticating proxy"
            ),
            "{user:?}"
        );
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let dir = temp_dir();
    let store = demo(dir.path());
    let config = proxy_config(dir.path(), "\"127.0.0.1/32\"");
    let server = Server::start(dir.path(), &config, &[("STORE", &store)]);
    let policy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    for (path, user, status) in [
        ("/", Some("vera"), 200),
        ("/findings/5", Some("vera"), 200),
        ("/runs", Some("vera"), 200),
        ("/healthz", None, 200),
        ("/", None, 403),
        ("/findings/999", Some("vera"), 404),
    ] {
        let mut request = reqwest::Client::new().get(format!("{}{path}", server.base));
        if let Some(user) = user {
            request = request.header("X-Forwarded-User", user);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        let h = response.headers();
        let header = |name: &str| h.get(name).map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            [
                header("content-security-policy"),
                header("x-content-type-options"),
                header("referrer-policy"),
                header("cache-control"),
            ],
            [
                Some(policy.to_string()),
                Some("nosniff".to_string()),
                Some("no-referrer".to_string()),
                Some("no-store".to_string())
            ],
            "{path}"
        );
        let body = response.text().await.unwrap();
        assert!(!body.contains("<script"), "{path}: no script");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path}: nothing from outside"
        );
    }
    // The night's kept report, its inline style allowed by its hash and nothing else.
    let response = reqwest::Client::new()
        .get(format!("{}/runs/2026-11-20/report", server.base))
        .header("X-Forwarded-User", "vera")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = response.text().await.unwrap();
    let kept = std::fs::read_to_string(dir.path().join("demo-out/reports/2026-11-20/report.html"))
        .unwrap();
    assert_eq!(html, kept);
    let style = kept
        .split("<style>")
        .nth(1)
        .unwrap()
        .split("</style>")
        .next()
        .unwrap();
    let hash = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        Sha256::digest(style.as_bytes()),
    );
    assert_eq!(
        policy,
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    let (status, _) = get(
        &format!("{}/runs/2026-11-19/report", server.base),
        Some("vera"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(
        &format!("{}/runs/..%2F..%2Fetc/report", server.base),
        Some("vera"),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn actions_need_the_form_token_the_site_and_the_role() {
    let dir = temp_dir();
    let store = demo(dir.path());
    let config = proxy_config(dir.path(), "\"127.0.0.1/32\"");
    // The demo's mask key (src/demo.rs), which its findings' audit entries are keyed under.
    let env = [("STORE", store.as_str()), ("RECON_MASK_KEY", DEMO_MASK_KEY)];
    let server = Server::start(dir.path(), &config, &env);
    let ack = format!("{}/actions/acknowledge", server.base);
    let ana = csrf_of(&server.base, "ana").await;
    let vera = csrf_of(&server.base, "vera").await;

    let refused = async |user: &str, body: &str, headers: &[(&str, &str)]| {
        let (status, page) = post(&ack, user, body, headers).await;
        (status, message(&page))
    };
    let stale =
        "the form's token is missing, expired or not yours: reload the page and send it again";
    assert_eq!(
        refused("ana", &form(&[("id", "2"), ("note", "ok")]), &[]).await,
        (403, stale.to_string())
    );
    assert_eq!(
        refused(
            "ana",
            &form(&[("id", "2"), ("note", "ok"), ("csrf", &vera)]),
            &[]
        )
        .await,
        (403, stale.to_string()),
        "another person's token"
    );
    assert_eq!(
        refused(
            "ana",
            &form(&[("id", "2"), ("note", "ok"), ("csrf", "1.00")]),
            &[]
        )
        .await,
        (403, stale.to_string())
    );
    assert_eq!(
        refused(
            "ana",
            &form(&[("id", "2"), ("note", "ok"), ("csrf", &ana)]),
            &[
                ("Origin", "https://evil.example"),
                ("Sec-Fetch-Site", "cross-site")
            ]
        )
        .await,
        (
            403,
            "the form was sent from another site (Sec-Fetch-Site: cross-site)".to_string()
        )
    );
    assert_eq!(
        refused(
            "vera",
            &form(&[("id", "2"), ("note", "ok"), ("csrf", &vera)]),
            &[]
        )
        .await,
        (
            403,
            "vera is a viewer: a viewer may read, not acknowledge or assign".to_string()
        )
    );
    assert_eq!(
        refused(
            "ana",
            &form(&[("id", "2"), ("note", " "), ("csrf", &ana)]),
            &[]
        )
        .await,
        (400, "a note saying why is required".to_string())
    );
    assert_eq!(
        ack_state(&store, &[2]).await,
        [(2, "open".to_string(), None)],
        "nothing refused changed anything"
    );

    // The analyst acknowledges two at once and assigns one, each in the audit chain as ana.
    let (status, page) = post(
        &ack,
        "ana",
        &form(&[
            ("id", "2"),
            ("id", "3"),
            ("note", "renamed on purpose"),
            ("csrf", &ana),
        ]),
        &[],
    )
    .await;
    // Without a reason code nothing is acknowledged.
    assert_eq!(
        (status, message(&page).as_str()),
        (
            400,
            "choose a reason: explained, write-off or adjustment-booked"
        )
    );
    let (status, page) = post(
        &ack,
        "ana",
        &form(&[
            ("id", "2"),
            ("id", "3"),
            ("note", "renamed on purpose"),
            ("reason", "adjustment-booked"),
            ("csrf", &ana),
        ]),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<li>finding 2 (accounts changed id=acct_0099) acknowledged (adjustment-booked) by ana</li><li>finding 3 (accounts changed id=acct_0150) acknowledged (adjustment-booked) by ana</li>"), "{page}");
    assert_eq!(
        ack_state(&store, &[2, 3]).await,
        [
            (2, "acknowledged".to_string(), Some("ana".to_string())),
            (3, "acknowledged".to_string(), Some("ana".to_string()))
        ]
    );
    let (status, page) = post(
        &format!("{}/actions/assign", server.base),
        "ana",
        &form(&[
            ("id", "4"),
            ("assignee", "bo"),
            ("note", "look at 1017, card 4111111111111111"),
            ("csrf", &ana),
        ]),
        &[("Origin", &server.base), ("Sec-Fetch-Site", "same-origin")],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("<li>finding 4 assigned to bo by ana</li>"),
        "{page}"
    );
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    let audit: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT actor, action, payload FROM audit_log WHERE action IN ('discrepancy_acknowledged', 'discrepancy_assigned') ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let audit: Vec<(String, String, serde_json::Value, serde_json::Value)> = audit
        .into_iter()
        .map(|(actor, action, payload)| {
            let p: serde_json::Value = serde_json::from_str(&payload).unwrap();
            (actor, action, p["id"].clone(), p["note"].clone())
        })
        .collect();
    assert_eq!(
        audit,
        [
            (
                "ana".into(),
                "discrepancy_acknowledged".into(),
                2.into(),
                "renamed on purpose".into()
            ),
            (
                "ana".into(),
                "discrepancy_acknowledged".into(),
                3.into(),
                "renamed on purpose".into()
            ),
            (
                "ana".into(),
                "discrepancy_assigned".into(),
                4.into(),
                "look at 1017, card 411111******1111".into()
            ),
        ]
    );
    let (_, page) = get(&format!("{}/findings/4", server.base), Some("vera")).await;
    assert!(
        page.contains("<ul id=assignments><li>to bo by ana at "),
        "{page}"
    );
    let verify = recon(
        &["audit", "verify", "--config", &path_str(&config)],
        &env,
        dir.path(),
    );
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}{}",
        stdout(&verify),
        stderr(&verify)
    );
    // The card number typed into the assignment's note reached no byte of the store or any
    // other file under the test's folder.
    let mut folders = vec![dir.path().to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(16).any(|w| w == b"4111111111111111"),
                    "{} holds the card number",
                    path.display()
                );
            }
        }
    }
}

/// A sealed day changed after its seal: its findings take an approver.
#[tokio::test]
async fn a_sealed_days_finding_takes_an_approver() {
    let rows = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, created_at TIMESTAMP);
                INSERT INTO entries VALUES (1, 100, '2026-11-19 09:00:00'), (2, 200, '2026-11-19 10:00:00'),
                                           (4, 400, '2026-11-20 09:00:00');";
    let scenario = Scenario::new("STORE");
    let l = sqlite_db(&scenario.dir().join("l.db"), &[rows]).await;
    let p = sqlite_db(&scenario.dir().join("p.db"), &[rows]).await;
    let config = TestConfig::new()
        .store("STORE")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml();
    let scenario = scenario.env("L", &l).env("P", &p).config(&config);
    let (first, _) = scenario.run("2026-11-19", &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    for side in [&l, &p] {
        let pool = sqlx::SqlitePool::connect(side).await.unwrap();
        sqlx::query("UPDATE entries SET amount_minor = 201 WHERE id = 2")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let (second, _) = scenario.run("2026-11-20", &[]);
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    let store = scenario.store().to_string();
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    let sealed: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, kind FROM discrepancies ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(sealed, [(1, "closed_period_modified".to_string())]);

    let config = proxy_config(scenario.dir(), "\"127.0.0.1/32\"");
    let server = Server::start(scenario.dir(), &config, &[("STORE", &store)]);
    let ack = format!("{}/actions/acknowledge", server.base);
    let ana = csrf_of(&server.base, "ana").await;
    let (status, page) = post(
        &ack,
        "ana",
        &form(&[("id", "1"), ("note", "booked"), ("csrf", &ana)]),
        &[],
    )
    .await;
    assert_eq!(
        (status, message(&page).as_str()),
        (
            403,
            "finding 1 is closed_period_modified: a sealed day changed, which only an approver may acknowledge (ana is an analyst); nothing was acknowledged"
        )
    );
    assert_eq!(
        ack_state(&store, &[1]).await,
        [(1, "open".to_string(), None)]
    );
    let april = csrf_of(&server.base, "april").await;
    let (status, page) = post(
        &ack,
        "april",
        &form(&[
            ("id", "1"),
            ("note", "restated, approved"),
            ("reason", "explained"),
            ("csrf", &april),
        ]),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        ack_state(&store, &[1]).await,
        [(1, "acknowledged".to_string(), Some("april".to_string()))]
    );
}

#[tokio::test]
async fn a_token_identifies_its_user_and_only_its_hash_is_kept() {
    let dir = temp_dir();
    let store = demo(dir.path());
    let config = write(
        dir.path(),
        "serve.toml",
        "[job]\nout_dir = \"demo-out\"\n[store]\nurl_env = \"STORE\"\n[serve]\nidentity = \"tokens\"\n[serve.users]\nana = \"analyst\"\n",
    );
    let env = [("STORE", store.as_str())];
    let added = recon(
        &[
            "serve",
            "token",
            "add",
            "ana",
            "--role",
            "analyst",
            "--config",
            &path_str(&config),
        ],
        &env,
        dir.path(),
    );
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let printed = stdout(&added);
    let token = printed.lines().nth(1).unwrap().to_string();
    assert_eq!(
        printed.lines().next().unwrap(),
        "token for ana (analyst), shown once; recon keeps only its SHA-256:"
    );
    assert_eq!(token.len(), "recon_".len() + 64);
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    let kept: Vec<(String, String, String)> =
        sqlx::query_as("SELECT token_sha256, user_name, role FROM serve_tokens")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(
        kept,
        [(
            hex::encode(Sha256::digest(token.as_bytes())),
            "ana".to_string(),
            "analyst".to_string()
        )]
    );

    let server = Server::start(dir.path(), &config, &env);
    let with = async |auth: Option<&str>| {
        let mut request = reqwest::Client::new().get(format!("{}/runs", server.base));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        (status, body)
    };
    let (status, page) = with(Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<span class=who>ana · analyst</span>"),
        "{page}"
    );
    assert!(
        page.contains("<a href=\"/runs/2026-11-20/report\">report of 2026-11-20</a>"),
        "{page}"
    );
    let (status, page) = with(Some("Bearer recon_0000")).await;
    assert_eq!((status, message(&page).as_str()), (401, "unknown token"));
    let (status, page) = with(None).await;
    assert_eq!(
        (status, message(&page).as_str()),
        (401, "give your token as Authorization: Bearer <token>")
    );
}

/// On a PostgreSQL store, under the README's role for the page: it reads and acknowledges and
/// assigns, each recorded as the session's role with the person beside it; it cannot run.
#[tokio::test]
async fn on_postgres_the_page_acts_as_its_own_role_with_the_person_beside_it() {
    let Some(admin) = fresh_postgres("serve_role").await else {
        return;
    };
    let role = test_name("serve_role");
    pg_exec(&admin, &[&format!("DROP ROLE IF EXISTS {role}")]).await;
    let rows = "CREATE TABLE entries (id INTEGER PRIMARY KEY, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP);";
    let scenario = Scenario::new("STORE").store_at(&admin);
    let l = sqlite_db(&scenario.dir().join("l.db"), &[rows, "INSERT INTO entries VALUES (1, 100, 'EUR', '2026-11-19 09:00:00'), (2, 250, 'EUR', '2026-11-19 10:00:00')"]).await;
    let p = sqlite_db(
        &scenario.dir().join("p.db"),
        &[
            rows,
            "INSERT INTO entries VALUES (1, 100, 'EUR', '2026-11-19 09:00:00')",
        ],
    )
    .await;
    let config = TestConfig::new()
        .store("STORE")
        .source("ledger", "L")
        .source("payments", "P")
        .integrity("entries", "ledger.entries", "payments.entries", "id")
        .set("date_column", "created_at")
        .to_toml();
    let scenario = scenario.env("L", &l).env("P", &p).config(&config);
    let (run, _) = scenario.run("2026-11-19", &[]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let first_line =
        "-- the triage page's role (recon serve): as an administrator, after every recon migrate";
    let start = readme
        .find(&format!("```sql\n{first_line}\n"))
        .expect("the README's SQL for the page's role");
    let block = &readme[start + "```sql\n".len()..];
    let block = block[..block.find("```").unwrap()].replace("recon_serve", &role);
    pg_exec(&admin, &[&block]).await;
    let (scheme, rest) = admin.split_once("://").unwrap();
    let served = format!("{scheme}://{role}@{}", rest.split_once('@').unwrap().1);

    let serve_config = proxy_config(scenario.dir(), "\"127.0.0.1/32\"");
    let server = Server::start(scenario.dir(), &serve_config, &[("STORE", &served)]);
    let (status, page) = get(
        &format!("{}/?currency=EUR&min_stake=2.5", server.base),
        Some("ana"),
    )
    .await;
    assert_eq!((status, row_ids(&page)), (200, vec![1]), "{page}");
    let ana = csrf_of(&server.base, "ana").await;
    let (status, page) = post(
        &format!("{}/actions/assign", server.base),
        "ana",
        &form(&[
            ("id", "1"),
            ("assignee", "bo"),
            ("note", "find entry 2"),
            ("csrf", &ana),
        ]),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!(
            "<li>finding 1 assigned to bo by {role} (ana)</li>"
        )),
        "{page}"
    );
    let (status, page) = post(
        &format!("{}/actions/acknowledge", server.base),
        "ana",
        &form(&[
            ("id", "1"),
            ("note", "entry 2 posted late"),
            ("reason", "explained"),
            ("csrf", &ana),
        ]),
        &[],
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("acknowledged (explained) by {role} (ana)</li>")),
        "{page}"
    );
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, action FROM audit_log WHERE action IN ('discrepancy_acknowledged', 'discrepancy_assigned') ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT actor, display_name FROM assignments UNION ALL SELECT actor, display_name FROM acknowledgements")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    assert_eq!(
        audit,
        [
            (format!("{role} (ana)"), "discrepancy_assigned".to_string()),
            (
                format!("{role} (ana)"),
                "discrepancy_acknowledged".to_string()
            )
        ]
    );
    assert_eq!(
        rows,
        [
            (role.clone(), Some("ana".to_string())),
            (role.clone(), Some("ana".to_string()))
        ]
    );
    drop(server);
    // Beyond acknowledgements, assignments and the audit chain, the page's role only reads.
    let pool = sqlx::PgPool::connect(&served).await.unwrap();
    for write in [
        "DELETE FROM acknowledgements",
        "UPDATE discrepancies SET kind = 'changed'",
        "INSERT INTO serve_tokens VALUES ('x', 'mallory', 'approver', now())",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM runs",
    ] {
        let refused = sqlx::query(write).execute(&pool).await.unwrap_err();
        assert!(
            refused.to_string().contains("permission denied"),
            "{write}: {refused}"
        );
    }
    pool.close().await;
    pg_exec(
        &admin,
        &[
            &format!("DROP OWNED BY {role}"),
            &format!("DROP ROLE {role}"),
        ],
    )
    .await;
}
