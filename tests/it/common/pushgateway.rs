//! A real Prometheus Pushgateway (Debian's prometheus-pushgateway) for a test: started on a
//! free port, read back through its own /metrics, stopped when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

const BINARY: &str = "/usr/bin/prometheus-pushgateway";

pub struct Pushgateway {
    child: Child,
    port: u16,
}

impl Pushgateway {
    /// A Pushgateway of its own for `test`; `None` (the test skipped) when the binary is not
    /// installed, unless RECON_TEST_REQUIRE_SERVERS=1 makes that a failure.
    pub fn start(test: &str) -> Option<Pushgateway> {
        if !std::path::Path::new(BINARY).exists() {
            if super::servers_required() {
                panic!(
                    "{test}: {BINARY} is missing and RECON_TEST_REQUIRE_SERVERS=1 (apt-get install prometheus-pushgateway)"
                );
            }
            eprintln!("SKIPPED {test}: {BINARY} is not installed");
            return None;
        }
        let port = free_port();
        let child = Command::new(BINARY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{test}: {BINARY} does not start: {e}"));
        let gateway = Pushgateway { child, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while gateway.get("/-/ready").is_none() {
            assert!(
                Instant::now() < deadline,
                "{test}: the Pushgateway never got ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(gateway)
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The body of a GET of `path` (HTTP/1.0: the body ends with the connection), when it
    /// answered 200.
    fn get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        let (head, body) = response.split_once("\r\n\r\n")?;
        head.lines()
            .next()
            .is_some_and(|status| status.contains(" 200 "))
            .then(|| body.to_string())
    }

    /// The samples of `family` the Pushgateway serves (its own /metrics, as Prometheus scrapes
    /// it), sorted, each `name{labels} value`.
    pub fn samples(&self, family: &str) -> Vec<String> {
        let text = self
            .get("/metrics")
            .expect("the Pushgateway serves /metrics");
        let mut samples: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| {
                l.strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .map(str::to_string)
            .collect();
        samples.sort();
        samples
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
