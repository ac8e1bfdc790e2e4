//! Reports acquired from the processors, against real local servers: an HTTP server speaking
//! the request/response contracts of Stripe's Reporting API and Adyen's report download, and a
//! real OpenSSH sshd serving SFTP. Failures are injected (429 with `Retry-After`, 5xx, pending
//! runs, a dropped connection) and the run finds exactly what it finds in the same files read
//! locally; credentials are sent and never shown; refusals fail at once.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::*;

const DATE: &str = "2026-11-20";
const STRIPE_KEY: &str = "sk_test_PlantedSecret123";
const ADYEN_USER: &str = "report@Company.Acme";
const ADYEN_PASSWORD: &str = "adyen-PlantedSecret-456";
/// 2026-11-20T00:00:00Z and 2026-11-21T00:00:00Z: the business day in UTC.
const DAY_START: i64 = 1_795_132_800;
const DAY_END: i64 = 1_795_219_200;

const STRIPE_REPORT: &str = "\
balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
txn_2,2026-11-20 11:00:00,usd,25.00,1.03,23.97,charge,ch_2,
txn_3,2026-11-20 12:00:00,usd,7.00,0.50,6.50,charge,ch_3,
txn_4,2026-11-20 13:00:00,usd,abc,0.50,6.50,charge,ch_4,
";

const ADYEN_HEADER: &str = "Company Account,Merchant Account,Psp Reference,Merchant Reference,Payment Method,Creation Date,TimeZone,Type,Modification Reference,Gross Currency,Gross Debit (GC),Gross Credit (GC),Exchange Rate,Net Currency,Net Debit (NC),Net Credit (NC),Commission (NC),Markup (NC),Scheme Fees (NC),Interchange (NC),Payment Method Variant,Modification Merchant Reference,Batch Number";

fn adyen_batch(batch: u64) -> String {
    let rows = match batch {
        7 => "\
Acme,AcmeEU,8815000000000001,order-1,visa,2026-11-20 10:15:00,CET,Settled,,EUR,,100.00,1,EUR,,98.53,0.12,1.00,0.05,0.30,visacredit,,7
Acme,AcmeEU,8815000000000002,order-2,mc,2026-11-20 11:00:00,CET,Settled,,EUR,,50.00,1,EUR,,49.00,1.00,,,,mccredit,,7
",
        8 => "\
Acme,AcmeEU,8815000000000003,order-3,visa,2026-11-20 12:00:00,CET,Settled,,EUR,,20.00,1,EUR,,19.50,0.50,,,,visa,,8
",
        _ => "\
Acme,AcmeEU,8815000000000009,order-9,visa,2026-11-21 12:00:00,CET,Settled,,EUR,,30.00,1,EUR,,29.50,0.50,,,,visa,,9
",
    };
    format!("{ADYEN_HEADER}\n{rows}")
}

const BRAINTREE_REPORT: &str = "\
Transaction ID,Transaction Type,Transaction Status,Created Datetime,Created Timezone,Currency ISO Code,Amount Submitted For Settlement,Service Fee
bt1,sale,settled,2026-11-20 10:00:00,,USD,10.00,0.30
bt2,sale,settled,2026-11-20 11:00:00,,USD,12.00,0.30
bt3,sale,voided,2026-11-20 12:00:00,,USD,5.00,
";

const LEDGER: &[&str] = &[
    "CREATE TABLE stripe_payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
    "INSERT INTO stripe_payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00'), ('ch_2', 2400, 'USD', '2026-11-20 10:59:00')",
    "CREATE TABLE adyen_payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
    "INSERT INTO adyen_payments VALUES ('8815000000000001', 10000, 'EUR', '2026-11-20 09:00:00'), ('8815000000000002', 5001, 'EUR', '2026-11-20 10:00:00'), ('8815000000000003', 2000, 'EUR', '2026-11-20 11:00:00')",
    "CREATE TABLE braintree_payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
    "INSERT INTO braintree_payments VALUES ('bt1', 1000, 'USD', '2026-11-20 09:00:00'), ('bt2', 1250, 'USD', '2026-11-20 10:00:00')",
];

// ---------------------------------------------------------------------------------------------
// A scripted HTTP server: per `METHOD /path`, the responses to give in order; anything else,
// or a route whose script ran out, is a 404. Every request is kept, body included.

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

type Script = BTreeMap<String, VecDeque<String>>;

struct Server {
    port: u16,
    listener: Option<TcpListener>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn bind() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Server {
            port: listener.local_addr().unwrap().port(),
            listener: Some(listener),
            requests: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Serves `script` (at most 200 connections) on a thread.
    fn serve(&mut self, script: Script) {
        let listener = self.listener.take().unwrap();
        let log = self.requests.clone();
        std::thread::spawn(move || {
            let mut script = script;
            for _ in 0..200 {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                let Some(request) = read_request(&mut stream) else {
                    continue;
                };
                let route = format!("{} {}", request.method, request.path);
                let answer = script
                    .get_mut(&route)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or_else(|| response("404 Not Found", "", "not found"));
                log.lock().unwrap().push(request);
                let _ = stream.write_all(answer.as_bytes());
            }
        });
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).ok()? != 1 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn response(status: &str, headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn json(status: &str, body: &str) -> String {
    response(status, "Content-Type: application/json\r\n", body)
}

fn route(script: &mut Script, route: &str, answers: Vec<String>) {
    script.entry(route.to_string()).or_default().extend(answers);
}

/// A report run object as Stripe returns it.
fn report_run(status: &str, result_url: Option<&str>, error: Option<&str>) -> String {
    let result = match result_url {
        Some(url) => format!(
            r#"{{"id": "file_1", "object": "file", "purpose": "finance_report_run", "size": {}, "url": "{url}"}}"#,
            STRIPE_REPORT.len()
        ),
        None => "null".to_string(),
    };
    let error = error.map_or("null".to_string(), |e| format!("\"{e}\""));
    format!(
        r#"{{"id": "frr_1", "object": "reporting.report_run", "created": {DAY_END}, "error": {error}, "livemode": false,
            "parameters": {{"interval_start": {DAY_START}, "interval_end": {DAY_END}, "timezone": "UTC"}},
            "report_type": "balance_change_from_activity.itemized.3", "result": {result}, "status": "{status}",
            "succeeded_at": null}}"#
    )
}

fn report_type() -> String {
    format!(
        r#"{{"id": "balance_change_from_activity.itemized.3", "object": "reporting.report_type",
            "data_available_start": 1500000000, "data_available_end": {}, "default_columns": [], "version": 3}}"#,
        DAY_END + 86_400
    )
}

const STRIPE_TYPE_PATH: &str = "/v1/reporting/report_types/balance_change_from_activity.itemized.3";

// ---------------------------------------------------------------------------------------------
// A real OpenSSH sshd on 127.0.0.1 with its own host key and authorized_keys, and an SFTP
// subsystem; killed when dropped.

struct Sshd {
    port: u16,
    /// The host key's fingerprint, `SHA256:…`.
    fingerprint: String,
    /// The client's private key (OpenSSH format) and the user it logs in as.
    client_key: String,
    user: String,
    child: Child,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const SSHD: &str = "/usr/sbin/sshd";

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "recon-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "ssh-keygen failed");
}

fn fingerprint(public_key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(public_key)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts sshd in `dir`; `None` (the test skips) when OpenSSH is not installed, unless
/// `RECON_TEST_REQUIRE_SERVERS=1`, where that fails the test.
fn start_sshd(dir: &Path) -> Option<Sshd> {
    if !Path::new(SSHD).exists() || Command::new("ssh-keygen").arg("-?").output().is_err() {
        assert!(
            std::env::var("RECON_TEST_REQUIRE_SERVERS").as_deref() != Ok("1"),
            "OpenSSH's sshd ({SSHD}) and ssh-keygen are needed for the SFTP tests \
             (apt-get install openssh-server; .ci/run installs it)"
        );
        eprintln!("SKIPPED an SFTP test: no {SSHD} (apt-get install openssh-server)");
        return None;
    }
    let ssh = dir.join("ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    keygen(&ssh.join("host_key"));
    keygen(&ssh.join("client_key"));
    std::fs::copy(ssh.join("client_key.pub"), ssh.join("authorized_keys")).unwrap();
    // sshd's privilege separation needs its empty directory (as root; unprivileged it has none).
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile none\n\
         AuthorizedKeysFile {keys}\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
         KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\n\
         UsePAM no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
        host_key = ssh.join("host_key").display(),
        keys = ssh.join("authorized_keys").display(),
    );
    let config_path = write(&ssh, "sshd_config", &config);
    let child = Command::new(SSHD)
        .args(["-D", "-e", "-f"])
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let sshd = Sshd {
        port,
        fingerprint: fingerprint(&ssh.join("host_key.pub")),
        client_key: std::fs::read_to_string(ssh.join("client_key")).unwrap(),
        user,
        child,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(sshd)
}

/// A TCP proxy to `port` that drops its first connection (the injected failure) and forwards
/// the next ones (at most 20).
fn flaky_proxy(port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let own = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for n in 0..20 {
            let Ok((client, _)) = listener.accept() else {
                return;
            };
            if n == 0 {
                drop(client);
                continue;
            }
            let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                return;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    own
}

// ---------------------------------------------------------------------------------------------
// Configurations: one check per processor against the same ledger, the reports either fetched
// or read from local files.

/// A TOML value written as is (an inline table with numbers).
struct Raw(String);

impl TomlValue for Raw {
    fn toml(&self) -> String {
        self.0.clone()
    }
}

fn ledger(table: &str) -> [(&'static str, &str); 6] {
    [
        ("source", "ledger"),
        ("table", table),
        ("id", "id"),
        ("amount", "amount_minor"),
        ("currency", "currency"),
        ("at", "created_at"),
    ]
}

fn base_config() -> TestConfig {
    TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 2000)
        .set("max_attempts", 10)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
}

enum Where<'a> {
    Local(&'a Path),
    Fetched {
        http: &'a str,
        sftp_port: u16,
        sshd: &'a Sshd,
        remote: &'a Path,
    },
}

fn config(at: Where<'_>) -> String {
    let stripe = base_config().settlement("stripe", "stripe");
    let stripe = match &at {
        Where::Local(dir) => stripe.set("report", format!("{}/stripe-{{date}}.csv", dir.display())),
        Where::Fetched { http, .. } => stripe.set(
            "stripe_api",
            Raw(format!(
                r#"{{ secret_key_env = "STRIPE_SECRET_KEY", api_base = "{http}", files_base = "{http}" }}"#
            )),
        ),
    };
    let adyen = stripe
        .set("ledger", ledger("stripe_payments"))
        .set("match_on", "reference")
        .settlement("adyen", "adyen");
    let adyen = match &at {
        Where::Local(dir) => adyen.set(
            "report",
            format!("{}/settlement_detail_report_batch_*.csv", dir.display()),
        ),
        Where::Fetched { http, .. } => adyen.set(
            "adyen_download",
            Raw(format!(
                r#"{{ base_url = "{http}", merchant_account = "AcmeEU", file = "settlement_detail_report_batch_{{batch}}.csv", first_batch = 7, report_user = "{ADYEN_USER}", password_env = "ADYEN_REPORT_PASSWORD" }}"#
            )),
        ),
    };
    let braintree = adyen
        .set("ledger", ledger("adyen_payments"))
        .settlement("braintree", "braintree");
    let braintree = match &at {
        Where::Local(dir) => braintree.set(
            "report",
            format!("{}/braintree-{{date}}.csv", dir.display()),
        ),
        Where::Fetched {
            sftp_port,
            sshd,
            remote,
            ..
        } => braintree.set(
            "sftp",
            Raw(format!(
                r#"{{ host = "127.0.0.1", port = {sftp_port}, user = "{}", host_key = "{}", private_key_env = "SFTP_KEY", path = "{}/braintree-{{date}}.csv" }}"#,
                sshd.user,
                sshd.fingerprint,
                remote.display()
            )),
        ),
    };
    braintree
        .set("ledger", ledger("braintree_payments"))
        .to_toml()
}

/// What a run found, with each check's report names replaced by their place (`report#1`…), so
/// the fetched and the local run compare: every finding's check, kind, key, values, detail and
/// money at stake; every check's status, rows, report digest and accounting.
fn findings(summary: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let mut names: Vec<(String, String)> = Vec::new();
    let mut checks = Vec::new();
    for check in summary["checks"].as_array().unwrap() {
        let files = check["left"]["table"].as_str().unwrap();
        let mut own = Vec::new();
        for (i, name) in files.split(", ").enumerate() {
            own.push((
                name.to_string(),
                format!("{}#report{}", check["name"], i + 1),
            ));
        }
        let mut accounting = check["accounting"].as_str().unwrap_or("").to_string();
        for (name, label) in &own {
            accounting = accounting.replace(name, label);
        }
        checks.push(format!(
            "{} {} rows={} digest={} {accounting}",
            check["name"], check["status"], check["left"]["rows"], check["left"]["digest"]
        ));
        names.extend(own);
    }
    let mut found: Vec<String> = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut text = format!(
                "{} {} {} {} {} {}",
                d["check"], d["kind"], d["key"], d["values"], d["detail"], d["at_stake"]
            );
            for (name, label) in &names {
                text = text.replace(name, label);
            }
            text
        })
        .collect();
    found.sort();
    (checks, found)
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Every output of a run (stdout, stderr, each report file) in one text, for secret searches.
fn everything(dir: &Path, out: &std::process::Output) -> String {
    let mut text = format!("{}{}", stdout(out), stderr(out));
    for entry in std::fs::read_dir(dir.join("out")).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        if path.is_file() {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

#[tokio::test]
async fn stripe_api_adyen_download_and_sftp_find_what_the_same_files_read_locally_find() {
    let root = temp_dir();
    let Some(sshd) = start_sshd(root.path()) else {
        return;
    };

    // The same reports on disk, read locally.
    let local = root.path().join("local");
    let reports = local.join("reports");
    std::fs::create_dir_all(&reports).unwrap();
    write(&reports, &format!("stripe-{DATE}.csv"), STRIPE_REPORT);
    for batch in [7, 8] {
        write(
            &reports,
            &format!("settlement_detail_report_batch_{batch}.csv"),
            &adyen_batch(batch),
        );
    }
    write(&reports, &format!("braintree-{DATE}.csv"), BRAINTREE_REPORT);
    let ledger_url = sqlite_db(&local.join("ledger.db"), LEDGER).await;
    write(&local, "recon.toml", &config(Where::Local(&reports)));
    let store = format!("sqlite://{}", local.join("store.db").display());
    let (out, local_summary) = run_day(
        &local,
        DATE,
        &[("STORE_URL", &store), ("LEDGER_URL", &ledger_url)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // The processors' servers, each with failures injected.
    let mut http = Server::bind();
    let base = http.base();
    let file_url = format!("{base}/v1/files/file_1/contents");
    let mut script = Script::new();
    route(
        &mut script,
        &format!("GET {STRIPE_TYPE_PATH}"),
        vec![
            json(
                "429 Too Many Requests",
                r#"{"error": {"message": "Too many requests", "type": "rate_limit_error"}}"#,
            )
            .replace("Content-Type", "Retry-After: 1\r\nContent-Type"),
            json("200 OK", &report_type()),
        ],
    );
    route(
        &mut script,
        "POST /v1/reporting/report_runs",
        vec![json("200 OK", &report_run("pending", None, None))],
    );
    route(
        &mut script,
        "GET /v1/reporting/report_runs/frr_1",
        vec![
            json("200 OK", &report_run("pending", None, None)),
            json(
                "500 Internal Server Error",
                r#"{"error": {"message": "An unknown error occurred", "type": "api_error"}}"#,
            ),
            json("200 OK", &report_run("succeeded", Some(&file_url), None)),
        ],
    );
    route(
        &mut script,
        "GET /v1/files/file_1/contents",
        vec![
            response("503 Service Unavailable", "", "busy"),
            response("200 OK", "Content-Type: text/csv\r\n", STRIPE_REPORT),
        ],
    );
    let adyen_path = |batch: u64| {
        format!(
            "/reports/download/MerchantAccount/AcmeEU/settlement_detail_report_batch_{batch}.csv"
        )
    };
    route(
        &mut script,
        &format!("GET {}", adyen_path(7)),
        vec![
            response("500 Internal Server Error", "", "oops"),
            response("200 OK", "Content-Type: text/csv\r\n", &adyen_batch(7)),
        ],
    );
    route(
        &mut script,
        &format!("GET {}", adyen_path(8)),
        vec![response(
            "200 OK",
            "Content-Type: text/csv\r\n",
            &adyen_batch(8),
        )],
    );
    // Batch 9 is not there on the 20th, and is on the 21st.
    route(
        &mut script,
        &format!("GET {}", adyen_path(9)),
        vec![
            response("404 Not Found", "", ""),
            response("200 OK", "Content-Type: text/csv\r\n", &adyen_batch(9)),
        ],
    );
    http.serve(script);
    let remote = root.path().join("sftp-root");
    std::fs::create_dir_all(&remote).unwrap();
    write(&remote, &format!("braintree-{DATE}.csv"), BRAINTREE_REPORT);
    write(&remote, "braintree-2026-11-21.csv", BRAINTREE_REPORT);
    let sftp_port = flaky_proxy(sshd.port);

    let fetched = root.path().join("fetched");
    std::fs::create_dir_all(&fetched).unwrap();
    let ledger_url = sqlite_db(&fetched.join("ledger.db"), LEDGER).await;
    write(
        &fetched,
        "recon.toml",
        &config(Where::Fetched {
            http: &base,
            sftp_port,
            sshd: &sshd,
            remote: &remote,
        }),
    );
    let store = format!("sqlite://{}", fetched.join("store.db").display());
    let env = [
        ("STORE_URL", store.as_str()),
        ("LEDGER_URL", ledger_url.as_str()),
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("ADYEN_REPORT_PASSWORD", ADYEN_PASSWORD),
        ("SFTP_KEY", sshd.client_key.as_str()),
        ("RUST_LOG", "debug"),
    ];
    let started = Instant::now();
    let (out, summary) = run_day(&fetched, DATE, &env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not waited out"
    );

    // Exactly the findings of the local run.
    let (local_checks, local_found) = findings(&local_summary);
    let (checks, found) = findings(&summary);
    assert_eq!(checks, local_checks);
    assert_eq!(found, local_found);
    let kinds: Vec<String> = summary["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{} {} {}", d["check"], d["kind"], d["key"]))
        .collect();
    assert_eq!(
        kinds,
        [
            r#""stripe" "missing_in_ledger" {"id":"ch_3"}"#,
            r#""stripe" "amount_mismatch" {"id":"ch_2"}"#,
            &format!(r#""stripe" "quarantined_row" {{"file":"{file_url}","line":"5"}}"#),
            r#""adyen" "amount_mismatch" {"id":"8815000000000002"}"#,
            r#""braintree" "amount_mismatch" {"id":"bt2"}"#,
            &format!(
                r#""braintree" "quarantined_row" {{"file":"sftp://{}@127.0.0.1:{sftp_port}{}/braintree-{DATE}.csv","line":"4"}}"#,
                sshd.user,
                remote.display()
            ),
        ]
    );

    // Each download recorded with its source, kept file, SHA-256 and attempts.
    let downloads: Vec<serde_json::Value> = summary["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| serde_json::json!([c["name"], c["attempts"], c["downloads"]]))
        .collect();
    let kept = |name: &str| format!("out/downloads/{DATE}-{name}");
    let entry = |source: String, file: String, body: &str, attempts: u32| serde_json::json!({"source": source, "file": file, "sha256": sha256(body), "bytes": body.len(), "attempts": attempts});
    let batch = |n: u64, attempts: u32| {
        let mut e = entry(
            format!("{base}{}", adyen_path(n)),
            kept(&format!("adyen-settlement_detail_report_batch_{n}.csv")),
            &adyen_batch(n),
            attempts,
        );
        e["batch"] = n.into();
        e
    };
    let sftp_source = format!(
        "sftp://{}@127.0.0.1:{sftp_port}/{}/braintree-{DATE}.csv",
        sshd.user,
        remote.display().to_string().trim_start_matches('/')
    );
    assert_eq!(
        downloads,
        vec![
            serde_json::json!([
                "stripe",
                6,
                [entry(
                    file_url.clone(),
                    kept("stripe-balance_change_from_activity.itemized.3.csv"),
                    STRIPE_REPORT,
                    6
                )]
            ]),
            serde_json::json!(["adyen", 2, [batch(7, 2), batch(8, 1)]]),
            serde_json::json!([
                "braintree",
                2,
                [entry(
                    sftp_source.clone(),
                    kept(&format!("braintree-braintree-{DATE}.csv")),
                    BRAINTREE_REPORT,
                    2
                )]
            ]),
        ]
    );
    // … and each one a sync of its own in the store, beside the check's.
    let pool = sqlx::SqlitePool::connect(&store).await.unwrap();
    let syncs: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT check_name, unit, status, attempts FROM syncs WHERE unit LIKE 'download:%' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let sync = |check: &str, source: &str, attempts: i64| {
        (
            check.to_string(),
            format!("download:{source}"),
            "succeeded".to_string(),
            attempts,
        )
    };
    assert_eq!(
        syncs,
        [
            sync("stripe", &file_url, 6),
            sync("adyen", &format!("{base}{}", adyen_path(7)), 2),
            sync("adyen", &format!("{base}{}", adyen_path(8)), 1),
            sync("braintree", &sftp_source, 2),
        ]
    );
    assert_eq!(
        std::fs::read_to_string(fetched.join(kept("adyen-settlement_detail_report_batch_8.csv")))
            .unwrap(),
        adyen_batch(8)
    );

    // The exact requests, with the credentials each API wants.
    let requests = http.requests();
    let stripe: Vec<&Request> = requests
        .iter()
        .filter(|r| r.path.starts_with("/v1/"))
        .collect();
    let lines: Vec<String> = stripe
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        lines,
        [
            format!("GET {STRIPE_TYPE_PATH}"),
            format!("GET {STRIPE_TYPE_PATH}"),
            "POST /v1/reporting/report_runs".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
            "GET /v1/files/file_1/contents".to_string(),
            "GET /v1/files/file_1/contents".to_string(),
        ]
    );
    for r in &stripe {
        assert_eq!(r.headers["authorization"], format!("Bearer {STRIPE_KEY}"));
    }
    let create = stripe[2];
    assert_eq!(
        create.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert!(
        create.headers["idempotency-key"].starts_with("recon-stripe-2026-11-20-"),
        "{:?}",
        create.headers
    );
    let form: Vec<(String, String)> = create
        .body
        .split('&')
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap();
            let decode = |s: &str| {
                s.replace("%5B", "[")
                    .replace("%5D", "]")
                    .replace("%2F", "/")
            };
            (decode(k), decode(v))
        })
        .collect();
    assert_eq!(
        form,
        [
            ("report_type", "balance_change_from_activity.itemized.3"),
            ("parameters[interval_start]", &DAY_START.to_string()),
            ("parameters[interval_end]", &DAY_END.to_string()),
            ("parameters[timezone]", "UTC"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    let adyen: Vec<String> = requests
        .iter()
        .filter(|r| r.path.starts_with("/reports/"))
        .map(|r| {
            assert_eq!(
                r.headers["authorization"],
                // base64 of report@Company.Acme:adyen-PlantedSecret-456
                "Basic cmVwb3J0QENvbXBhbnkuQWNtZTphZHllbi1QbGFudGVkU2VjcmV0LTQ1Ng==",
                "basic auth of {ADYEN_USER}"
            );
            r.path.clone()
        })
        .collect();
    assert_eq!(
        adyen,
        [adyen_path(7), adyen_path(7), adyen_path(8), adyen_path(9)]
    );

    // No credential anywhere in what the run printed or wrote.
    let text = everything(&fetched, &out);
    assert!(
        text.contains("Stripe report run created"),
        "debug logs were on"
    );
    for secret in [STRIPE_KEY, ADYEN_PASSWORD] {
        assert!(!text.contains(secret), "{secret} was shown");
    }
    let key_line = sshd.client_key.lines().nth(1).unwrap();
    assert!(!text.contains(key_line), "the SFTP key was shown");

    // The next day starts after the batches the 20th took: batch 9, then 10 is not there.
    let before = http.requests().len();
    let (out, summary) = run_day(&fetched, "2026-11-21", &env);
    let adyen = &summary["checks"][1];
    assert_eq!(adyen["name"], "adyen", "{}", stderr(&out));
    assert_eq!(adyen["downloads"].as_array().unwrap().len(), 1);
    assert_eq!(adyen["downloads"][0]["batch"], 9);
    let later: Vec<String> = http.requests()[before..]
        .iter()
        .filter(|r| r.path.starts_with("/reports/"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(later, [adyen_path(9), adyen_path(10)]);
}

// ---------------------------------------------------------------------------------------------
// Refusals fail at once (exit 2); what may pass is retried until the policy gives up (exit 3).

/// One check fetching its report through `section = location`, with three attempts at most;
/// returns the exit code and the check's summary.
async fn one_check(
    section: &str,
    location: String,
    format: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, serde_json::Value, String) {
    let dir = temp_dir();
    let ledger_url = sqlite_db(&dir.path().join("ledger.db"), LEDGER).await;
    let table = match format {
        "stripe" => "stripe_payments",
        "adyen" => "adyen_payments",
        _ => "braintree_payments",
    };
    let toml = TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_delay_ms", 50)
        .set("max_attempts", 3)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement(format, format)
        .set(section, Raw(location))
        .set("ledger", ledger(table))
        .to_toml();
    write(dir.path(), "recon.toml", &toml);
    let store = format!("sqlite://{}", dir.path().join("store.db").display());
    let mut all = vec![
        ("STORE_URL", store.as_str()),
        ("LEDGER_URL", ledger_url.as_str()),
    ];
    all.extend_from_slice(env);
    let (out, summary) = run_day(dir.path(), DATE, &all);
    let text = everything(dir.path(), &out);
    (out.status.code(), summary["checks"][0].clone(), text)
}

fn stripe_api(server: &Server) -> String {
    let base = server.base();
    format!(
        r#"{{ secret_key_env = "STRIPE_SECRET_KEY", api_base = "{base}", files_base = "{base}" }}"#
    )
}

#[tokio::test]
async fn a_refused_stripe_key_fails_at_once_and_stays_masked_even_when_echoed() {
    let mut server = Server::bind();
    let mut script = Script::new();
    let echo = format!(
        r#"{{"error": {{"message": "Invalid API Key provided: {STRIPE_KEY}", "type": "invalid_request_error"}}}}"#
    );
    route(
        &mut script,
        &format!("GET {STRIPE_TYPE_PATH}"),
        vec![json("401 Unauthorized", &echo)],
    );
    server.serve(script);
    let (code, check, text) = one_check(
        "stripe_api",
        stripe_api(&server),
        "stripe",
        &[("STRIPE_SECRET_KEY", STRIPE_KEY)],
    )
    .await;
    assert_eq!(code, Some(2));
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        "Stripe report type balance_change_from_activity.itemized.3: HTTP 401 Unauthorized: \
         Invalid API Key provided: *** (check the Stripe key in STRIPE_SECRET_KEY)"
    );
    assert!(!text.contains(STRIPE_KEY));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_failed_stripe_report_run_is_permanent_and_a_pending_one_runs_out_the_policy() {
    let mut server = Server::bind();
    let mut script = Script::new();
    route(
        &mut script,
        &format!("GET {STRIPE_TYPE_PATH}"),
        vec![json("200 OK", &report_type())],
    );
    route(
        &mut script,
        "POST /v1/reporting/report_runs",
        vec![json(
            "200 OK",
            &report_run(
                "failed",
                None,
                Some("interval_end is past data_available_end"),
            ),
        )],
    );
    server.serve(script);
    let (code, check, _) = one_check(
        "stripe_api",
        stripe_api(&server),
        "stripe",
        &[("STRIPE_SECRET_KEY", STRIPE_KEY)],
    )
    .await;
    assert_eq!(code, Some(2));
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        "Stripe report run frr_1 failed: interval_end is past data_available_end"
    );

    let mut server = Server::bind();
    let mut script = Script::new();
    route(
        &mut script,
        &format!("GET {STRIPE_TYPE_PATH}"),
        vec![json("200 OK", &report_type())],
    );
    route(
        &mut script,
        "POST /v1/reporting/report_runs",
        vec![json("200 OK", &report_run("pending", None, None))],
    );
    route(
        &mut script,
        "GET /v1/reporting/report_runs/frr_1",
        vec![json("200 OK", &report_run("pending", None, None)); 2],
    );
    server.serve(script);
    let (code, check, _) = one_check(
        "stripe_api",
        stripe_api(&server),
        "stripe",
        &[("STRIPE_SECRET_KEY", STRIPE_KEY)],
    )
    .await;
    assert_eq!(code, Some(3));
    assert_eq!(check["attempts"], 3);
    assert_eq!(
        check["error"],
        "Stripe report run frr_1 is still pending (gave up after 3 attempt(s); `recon retry` completes it)"
    );
    // Created once, then polled: never a second run.
    let lines: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        lines,
        [
            format!("GET {STRIPE_TYPE_PATH}"),
            "POST /v1/reporting/report_runs".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
            "GET /v1/reporting/report_runs/frr_1".to_string(),
        ]
    );
}

#[tokio::test]
async fn a_refused_adyen_api_key_fails_at_once_and_a_missing_first_batch_is_not_delivered_yet() {
    let location = |server: &Server| {
        format!(
            r#"{{ base_url = "{}", company_account = "Acme", file = "settlement_detail_report_batch_{{batch}}.csv", first_batch = 3, api_key_env = "ADYEN_API_KEY" }}"#,
            server.base()
        )
    };
    let path = "/reports/download/Company/Acme/settlement_detail_report_batch_3.csv";
    let mut server = Server::bind();
    let mut script = Script::new();
    route(
        &mut script,
        &format!("GET {path}"),
        vec![response("401 Unauthorized", "", "")],
    );
    server.serve(script);
    let key = "AQE-PlantedApiKey-789";
    let (code, check, text) = one_check(
        "adyen_download",
        location(&server),
        "adyen",
        &[("ADYEN_API_KEY", key)],
    )
    .await;
    assert_eq!(code, Some(2));
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        format!(
            "downloading {}{path}: HTTP 401 Unauthorized (check the API key in ADYEN_API_KEY)",
            server.base()
        )
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].headers["x-api-key"], key);
    assert!(!requests[0].headers.contains_key("authorization"));
    assert!(!text.contains(key));

    let mut server = Server::bind();
    server.serve(Script::new());
    let (code, check, _) = one_check(
        "adyen_download",
        location(&server),
        "adyen",
        &[("ADYEN_API_KEY", key)],
    )
    .await;
    assert_eq!(code, Some(3));
    assert_eq!(check["attempts"], 3);
    assert_eq!(
        check["error"],
        format!(
            "downloading {}{path}: HTTP 404 Not Found (not delivered yet?) (gave up after 3 attempt(s); `recon retry` completes it)",
            server.base()
        )
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn an_sftp_host_key_other_than_the_pinned_one_is_refused_and_a_closed_port_retried() {
    let root = temp_dir();
    let Some(sshd) = start_sshd(root.path()) else {
        return;
    };
    write(
        root.path(),
        &format!("braintree-{DATE}.csv"),
        BRAINTREE_REPORT,
    );
    let other = root.path().join("other_key");
    keygen(&other);
    let pinned = fingerprint(&other.with_extension("pub"));
    let location = |port: u16, host_key: &str| {
        format!(
            r#"{{ host = "127.0.0.1", port = {port}, user = "{}", host_key = "{host_key}", private_key_env = "SFTP_KEY", path = "{}/braintree-{{date}}.csv" }}"#,
            sshd.user,
            root.path().display()
        )
    };
    let env = [("SFTP_KEY", sshd.client_key.as_str())];
    let shown = |port: u16| {
        format!(
            "sftp://{}@127.0.0.1:{port}/{}/braintree-{DATE}.csv",
            sshd.user,
            root.path().display().to_string().trim_start_matches('/')
        )
    };
    let (code, check, text) =
        one_check("sftp", location(sshd.port, &pinned), "braintree", &env).await;
    assert_eq!(code, Some(2));
    assert_eq!(check["attempts"], 1);
    assert_eq!(
        check["error"],
        format!(
            "{}: the server's host key is {}, not the pinned {pinned} (sftp.host_key): not connecting. \
             If the server's key really changed, pin the new fingerprint",
            shown(sshd.port),
            sshd.fingerprint
        )
    );
    let key_line = sshd.client_key.lines().nth(1).unwrap();
    assert!(!text.contains(key_line));

    // The right key: picked up, its SHA-256 recorded.
    let (code, check, _) = one_check(
        "sftp",
        location(sshd.port, &sshd.fingerprint),
        "braintree",
        &env,
    )
    .await;
    assert_eq!(code, Some(1), "{check}");
    assert_eq!(check["downloads"][0]["sha256"], sha256(BRAINTREE_REPORT));

    let closed = free_port();
    let (code, check, _) = one_check(
        "sftp",
        location(closed, &sshd.fingerprint),
        "braintree",
        &env,
    )
    .await;
    assert_eq!(code, Some(3));
    assert_eq!(check["attempts"], 3);
    assert!(
        check["error"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}: ", shown(closed))),
        "{check}"
    );
}
