//! TLS that cannot fall back, against real servers the tests start: a PostgreSQL cluster and a
//! MariaDB server listening on this machine's non-loopback address with certificates from a
//! throw-away CA. A verified link connects; a wrong CA, a wrong name, a plaintext-only server
//! and a URL that does not ask for verification are each refused.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use recon::source::Source;
use recon::store::Store;

use crate::common::pki::{Pki, non_loopback_address, openssl_present};
use crate::common::*;

/// `None` (with a SKIPPED line) when `what` is missing and servers are not required.
fn needed(test: &str, what: &str, present: bool) -> Option<()> {
    if present {
        return Some(());
    }
    if std::env::var("RECON_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
        panic!("{test}: {what} is missing and RECON_TEST_REQUIRE_SERVERS=1");
    }
    eprintln!("SKIPPED {test}: {what} is missing");
    None
}

fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = glob::glob("/usr/lib/postgresql/*/bin/initdb")
        .ok()?
        .filter_map(Result::ok)
        .collect();
    found.sort();
    found.pop().and_then(|p| p.parent().map(Path::to_path_buf))
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `program` as the `postgres` user when the test runs as root (initdb and postgres refuse root).
fn as_postgres(program: &Path) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn chown_to_postgres(path: &Path) {
    if !running_as_root() {
        return;
    }
    let status = Command::new("chown")
        .args(["-R", "postgres:"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// A server process the test started, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(addr: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect((addr, port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on {addr}:{port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The message of a refused connection.
async fn refused(url: &str) -> String {
    match Source::connect_url("ledger", url).await {
        Ok(_) => panic!("{url} connected"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn postgres_connects_only_verified_and_refuses_a_wrong_ca_name_or_plaintext() {
    let test = "postgres_tls";
    let Some(bin) = postgres_bin() else {
        needed(test, "initdb (/usr/lib/postgresql/*/bin)", false);
        return;
    };
    let (Some(()), Some(addr)) = (
        needed(test, "the openssl CLI", openssl_present()),
        non_loopback_address(),
    ) else {
        needed(test, "a non-loopback IPv4 address", false);
        return;
    };
    let dir = temp_dir();
    let pki = Pki::new(&dir.path().join("pki"));
    // valid for the non-loopback address only: 127.0.0.1 is a wrong name
    let cert = pki.server("postgres", &[format!("IP:{addr}")]);
    let cluster = dir.path().join("pg");
    std::fs::create_dir_all(&cluster).unwrap();
    for file in [&cert.cert, &cert.key] {
        std::fs::copy(file, cluster.join(file.file_name().unwrap())).unwrap();
    }
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    chown_to_postgres(&cluster);
    let data = cluster.join("data");
    let initdb = as_postgres(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "--no-sync"])
        .output()
        .unwrap();
    assert!(
        initdb.status.success(),
        "{}",
        String::from_utf8_lossy(&initdb.stderr)
    );
    let port = free_port();
    let conf = format!(
        "listen_addresses = '{addr},127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = off\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
        cluster.display(),
        cluster.join("postgres.pem").display(),
        cluster.join("postgres.key").display()
    );
    let append = |file: &str, text: &str| {
        let path = data.join(file);
        let old = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, old + text).unwrap();
    };
    append("postgresql.conf", &conf);
    append("pg_hba.conf", &format!("host all all {addr}/32 trust\n"));
    chown_to_postgres(&cluster);
    let key = cluster.join("postgres.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let _server = Server(
        as_postgres(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(&addr, port);
    let ca = pki.ca.display().to_string();
    let other = pki.other_ca.display().to_string();
    let url =
        |host: &str, query: &str| format!("postgres://postgres@{host}:{port}/postgres?{query}");

    // verify-full against the test's CA connects (retried while the cluster starts)
    let good = url(&addr, &format!("sslmode=verify-full&sslrootcert={ca}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Source::connect_url("ledger", &good).await {
            Ok(source) => {
                source.close().await;
                break;
            }
            Err(e) if Instant::now() < deadline && e.to_string().contains("starting up") => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    // … and so does the store, on the same link
    Store::open(&good).await.unwrap();

    // an unknown CA, and a certificate for another name, are refused
    let wrong_ca = refused(&url(
        &addr,
        &format!("sslmode=verify-full&sslrootcert={other}"),
    ))
    .await;
    assert!(
        wrong_ca.contains("invalid peer certificate: UnknownIssuer"),
        "{wrong_ca}"
    );
    let wrong_name = refused(&url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await;
    assert!(
        wrong_name.contains("certificate not valid for name \"127.0.0.1\""),
        "{wrong_name}"
    );

    // a URL that does not ask for verification is refused before any connection is tried
    for query in [
        "",
        "sslmode=require",
        "sslmode=verify-ca&sslrootcert=/nowhere",
    ] {
        let said = refused(&url(&addr, query)).await;
        assert!(
            said.contains(&format!(
                "the server {addr} is not loopback, so its URL must ask for sslmode=verify-full"
            )),
            "{said}"
        );
        let store = Store::open(&url(&addr, query)).await.err().unwrap();
        assert!(store.to_string().contains("sslmode=verify-full"), "{store}");
    }

    // a run reads the cluster through the configuration: the CA from tls_ca_file reaches sqlx
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
    pg_exec(
        &admin,
        &[
            "CREATE TABLE entries (id INT PRIMARY KEY, memo TEXT)",
            "INSERT INTO entries VALUES (1, 'a'), (2, 'b')",
        ],
    )
    .await;
    let verified = url(&addr, "sslmode=verify-full");
    let run = |ca_file: Option<&Path>| {
        let mut config = TestConfig::new().store("STORE_URL");
        for source in ["ledger", "copy"] {
            config = config.source(source, &format!("{}_URL", source.to_uppercase()));
            if let Some(file) = ca_file {
                config = config.set("tls_ca_file", path_str(file));
            }
        }
        let config = config
            .integrity("entries", "ledger.entries", "copy.entries", "id")
            .to_toml();
        Scenario::new("STORE_URL")
            .env("LEDGER_URL", &verified)
            .env("COPY_URL", &verified)
            .config(&config)
            .run("2026-11-20", &[])
    };
    let (out, summary) = run(Some(&pki.ca));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["checks"][0]["status"], "clean", "{summary}");
    // without it the server's CA is not trusted: the check fails, nothing is read
    let (out, summary) = run(None);
    assert_ne!(out.status.code(), Some(0));
    let error = summary["checks"][0]["error"].as_str().unwrap().to_string();
    assert!(error.contains("UnknownIssuer"), "{error}");

    // the server stops offering TLS: the verified link is refused, it does not fall back
    pg_exec(
        &admin,
        &["ALTER SYSTEM SET ssl = off", "SELECT pg_reload_conf()"],
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let plaintext = loop {
        match Source::connect_url("ledger", &good).await {
            Ok(source) => {
                source.close().await;
                assert!(Instant::now() < deadline, "the server still offers TLS");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => break e.to_string(),
        }
    };
    assert!(
        plaintext.contains("server does not support TLS"),
        "{plaintext}"
    );
}

#[tokio::test]
async fn mariadb_connects_only_verified_and_refuses_a_wrong_ca_name_or_plaintext() {
    let test = "mariadb_tls";
    let present = |p: &str| Command::new(p).arg("--version").output().is_ok();
    let (Some(()), Some(()), Some(()), Some(addr)) = (
        needed(test, "mariadbd", present("mariadbd")),
        needed(test, "mariadb-install-db", present("mariadb-install-db")),
        needed(test, "the openssl CLI", openssl_present()),
        non_loopback_address(),
    ) else {
        needed(test, "a non-loopback IPv4 address", false);
        return;
    };
    let dir = temp_dir();
    let pki = Pki::new(&dir.path().join("pki"));
    let cert = pki.server("mariadb", &[format!("IP:{addr}")]);
    let data = dir.path().join("data");
    let install = Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args([
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ])
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let port = free_port();
    let start = |tls: bool| {
        let mut command = Command::new("mariadbd");
        command
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!(
                "--socket={}",
                dir.path().join("mariadb.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mariadb.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                dir.path().join("mariadb.err").display()
            ))
            .args([
                "--user=root",
                "--bind-address=0.0.0.0",
                "--skip-grant-tables",
            ])
            .args(["--innodb-buffer-pool-size=16M", "--skip-log-bin"])
            .arg(format!("--port={port}"));
        if tls {
            command
                .arg(format!("--ssl-cert={}", cert.cert.display()))
                .arg(format!("--ssl-key={}", cert.key.display()))
                .arg(format!("--ssl-ca={}", pki.ca.display()));
        }
        let server = Server(
            command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        wait_for_port(&addr, port);
        server
    };
    let ca = pki.ca.display().to_string();
    let other = pki.other_ca.display().to_string();
    let url = |host: &str, query: &str| format!("mysql://root@{host}:{port}/mysql?{query}");
    let good = url(&addr, &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"));

    let server = start(true);
    Source::connect_url("ledger", &good)
        .await
        .unwrap()
        .close()
        .await;
    let wrong_ca = refused(&url(
        &addr,
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={other}"),
    ))
    .await;
    assert!(
        wrong_ca.contains("invalid peer certificate: UnknownIssuer"),
        "{wrong_ca}"
    );
    let wrong_name = refused(&url(
        "127.0.0.1",
        &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
    ))
    .await;
    assert!(
        wrong_name.contains("certificate not valid for name \"127.0.0.1\""),
        "{wrong_name}"
    );
    for query in ["", "ssl-mode=REQUIRED", "ssl-mode=VERIFY_CA"] {
        let said = refused(&url(&addr, query)).await;
        assert!(
            said.contains(&format!("the server {addr} is not loopback, so its URL must ask for ssl-mode=VERIFY_IDENTITY")),
            "{said}"
        );
    }
    drop(server);

    // the same server without TLS: the verified link is refused, it does not fall back
    let _plain = start(false);
    let plaintext = refused(&good).await;
    assert!(
        plaintext.contains("server does not support TLS"),
        "{plaintext}"
    );
}

#[test]
fn config_check_refuses_a_remote_database_that_does_not_verify_tls() {
    let dir = temp_dir();
    let config = TestConfig::new()
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .source("payments", "PAYMENTS_URL")
        .integrity("t", "ledger.t", "payments.t", "id")
        .to_toml();
    let path = write(dir.path(), "recon.toml", &config);
    let ca = write(
        dir.path(),
        "ca.pem",
        "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
    );
    let check = |store: &str, ledger: &str, payments: &str| {
        recon(
            &["config", "check", "--config", &path_str(&path)],
            &[
                ("STORE_URL", store),
                ("LEDGER_URL", ledger),
                ("PAYMENTS_URL", payments),
            ],
            dir.path(),
        )
    };
    let store_ok = "postgres://recon@store.db.internal/recon?sslmode=verify-full";
    let ledger_ok = "postgres://reader@10.20.30.40:5432/ledger?sslmode=verify-full";
    let payments_ok = "mysql://reader@payments.internal/payments?ssl-mode=VERIFY_IDENTITY";
    let out = check(store_ok, ledger_ok, payments_ok);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let shown = path.display();
    for (store, ledger, payments, said) in [
        (
            "postgres://recon@store.db.internal/recon?sslmode=require",
            ledger_ok,
            payments_ok,
            "store: the server store.db.internal is not loopback, so its URL must ask for sslmode=verify-full (it asks for require)",
        ),
        (
            store_ok,
            "postgres://reader@10.20.30.40:5432/ledger",
            payments_ok,
            "sources.ledger: the server 10.20.30.40 is not loopback, so its URL must ask for sslmode=verify-full (it asks for prefer (the default))",
        ),
        (
            store_ok,
            ledger_ok,
            "mysql://reader@payments.internal/payments?ssl-mode=VERIFY_CA",
            "sources.payments: the server payments.internal is not loopback, so its URL must ask for ssl-mode=VERIFY_IDENTITY (it asks for VERIFY_CA)",
        ),
    ] {
        let out = check(store, ledger, payments);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(
            stderr(&out),
            format!(
                "recon: {shown}: {said}: without it the link may fall back to plaintext or accept any certificate\n"
            )
        );
    }
    // loopback needs nothing
    let out = check(
        "postgres://recon@127.0.0.1/recon",
        "postgres://reader@localhost/ledger",
        "mysql://reader@[::1]:3306/payments",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // a CA file reaches each driver's own parameter, and a missing one is said
    let mut with_ca = config.clone();
    for var in ["STORE_URL", "LEDGER_URL", "PAYMENTS_URL"] {
        let line = format!("url_env = \"{var}\"");
        with_ca = with_ca.replace(&line, &format!("{line}\ntls_ca_file = \"ca.pem\""));
    }
    assert_eq!(with_ca.matches("tls_ca_file").count(), 3, "{with_ca}");
    std::fs::write(&path, &with_ca).unwrap();
    let out = check(store_ok, ledger_ok, payments_ok);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ca_param = url_encoded(&ca.display().to_string());
    for expected in [
        format!("url = \"{store_ok}&sslrootcert={ca_param}\""),
        format!("url = \"{ledger_ok}&sslrootcert={ca_param}\""),
        format!("url = \"{payments_ok}&ssl-ca={ca_param}\""),
    ] {
        assert!(
            stdout(&out).contains(&expected),
            "{expected}\n{}",
            stdout(&out)
        );
    }
    std::fs::remove_file(&ca).unwrap();
    let out = check(store_ok, ledger_ok, payments_ok);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(&format!("store.tls_ca_file: cannot read {}", ca.display())),
        "{}",
        stderr(&out)
    );
}

/// `text` as a URL query value (`/` as `%2F`).
fn url_encoded(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const REPORT: &str = "balance_transaction_id,created_utc,currency,gross,fee,net,reporting_category,source_id,automatic_payout_id
txn_1,2026-11-20 10:00:00,usd,10.00,0.59,9.41,charge,ch_1,
";

const TOKEN: &str = "tok-TlsPlanted-456";

/// A ledger settled by [`REPORT`], and a Stripe report fetched from `url` with a bearer token;
/// the report servers trusted through `ca_file` when one is given.
async fn report_scenario(url: &str, ca_file: Option<&Path>) -> Scenario {
    let scenario = Scenario::new("STORE_URL");
    let ledger = sqlite_db(
        &scenario.dir().join("ledger.db"),
        &[
            "CREATE TABLE payments (id TEXT, amount_minor INTEGER, currency TEXT, created_at TIMESTAMP)",
            "INSERT INTO payments VALUES ('ch_1', 1000, 'USD', '2026-11-20 09:59:00')",
        ],
    )
    .await;
    let mut config = TestConfig::new()
        .table("job.retry")
        .set("initial_delay_ms", 10)
        .set("max_attempts", 1)
        .store("STORE_URL")
        .source("ledger", "LEDGER_URL")
        .settlement("stripe", "stripe")
        .set("report_url", url)
        .set("report_token_env", "STRIPE_TOKEN")
        .set("ledger", ledger_mapping("payments", &[]))
        .set("match_on", "reference");
    if let Some(file) = ca_file {
        config = config.set("tls_ca_file", path_str(file));
    }
    scenario
        .env("LEDGER_URL", &ledger)
        .env("STRIPE_TOKEN", TOKEN)
        .config(&config.to_toml())
}

/// A PKI and a certificate for this machine's loopback names, or `None` (skipped) without openssl.
fn web_pki(test: &str, dir: &Path) -> Option<(Pki, crate::common::pki::ServerCert)> {
    needed(test, "the openssl CLI", openssl_present())?;
    let pki = Pki::new(dir);
    let cert = pki.server(
        "reports",
        &["IP:127.0.0.1".to_string(), "DNS:localhost".to_string()],
    );
    Some((pki, cert))
}

#[tokio::test]
async fn a_report_server_of_an_unknown_ca_is_refused_unless_its_ca_file_is_configured() {
    let dir = temp_dir();
    let Some((pki, cert)) = web_pki("https_ca_file", dir.path()) else {
        return;
    };
    let server = HttpServer::serve_tls(&cert, 2, |_| Response::csv(REPORT));
    let url = format!("{}/reports/stripe-{{date}}.csv", server.https_base());

    let (out, summary) = report_scenario(&url, None).await.run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let check = &summary["checks"][0];
    assert_eq!(check["status"], "failed");
    let error = check["error"].as_str().unwrap();
    assert!(
        error.contains("invalid peer certificate: UnknownIssuer"),
        "{error}"
    );
    assert!(
        server.requests().is_empty(),
        "a request passed an unverified handshake"
    );

    let (out, summary) = report_scenario(&url, Some(&pki.ca))
        .await
        .run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary["checks"][0]["status"], "clean");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn every_redirect_hop_is_revalidated_and_the_final_url_is_recorded() {
    let dir = temp_dir();
    let Some((pki, cert)) = web_pki("https_redirects", dir.path()) else {
        return;
    };
    let files = HttpServer::serve_tls(&cert, 1, |_| Response::csv(REPORT));
    let landing = format!("https://localhost:{}/files/r.csv", files.port());
    let elsewhere = landing.clone();
    let front = HttpServer::serve_tls(&cert, 1, move |_| {
        Response::new("302 Found").header("Location", &format!("{elsewhere}?token=presigned"))
    });
    let url = format!("{}/reports/stripe-{{date}}.csv", front.https_base());
    let (out, summary) = report_scenario(&url, Some(&pki.ca))
        .await
        .run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let download = &summary["checks"][0]["downloads"][0];
    assert_eq!(
        download["source"],
        format!("{}/reports/stripe-2026-11-20.csv", front.https_base())
    );
    // the server the file came from, without the pre-signed query
    assert_eq!(download["final_url"], landing);
    let front_asked = &front.requests()[0];
    assert_eq!(
        front_asked.headers["authorization"],
        format!("Bearer {TOKEN}")
    );
    let files_asked = &files.requests()[0];
    assert_eq!(files_asked.path, "/files/r.csv?token=presigned");
    assert!(
        !files_asked.headers.contains_key("authorization"),
        "the token went to another host: {}",
        files_asked.head
    );

    // a hop to plain http is refused, and the check fails at once (exit 2)
    let plain = HttpServer::serve(1, |_| Response::csv(REPORT));
    let downgrade = format!("{}/files/r.csv", plain.base());
    let to_http = downgrade.clone();
    let front = HttpServer::serve_tls(&cert, 1, move |_| {
        Response::new("302 Found").header("Location", &to_http)
    });
    let url = format!("{}/reports/stripe-{{date}}.csv", front.https_base());
    let (out, summary) = report_scenario(&url, Some(&pki.ca))
        .await
        .run("2026-11-20", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let check = &summary["checks"][0];
    assert_eq!(check["status"], "failed");
    let error = check["error"].as_str().unwrap();
    assert!(
        error.ends_with(&format!(
            "refused a redirect to {downgrade}: reports are fetched over https only, not http"
        )),
        "{error}"
    );
    assert!(plain.requests().is_empty(), "the http hop was followed");
}
