//! One stub HTTP server for every test that needs one: it listens on 127.0.0.1, plain or over
//! TLS, answers each connection's one request from a responder (a script of routes, a sequence,
//! or any closure), keeps every request it received, and serves a bounded number of connections.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A port on 127.0.0.1 nothing listens on: bound by the OS, then let go.
pub fn free_port() -> u16 {
    bind().local_addr().unwrap().port()
}

/// A request as the server received it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
    /// The head as sent: request line and headers, up to and with the blank line.
    pub head: String,
}

impl Request {
    /// The request line, e.g. `GET /reports/a.csv HTTP/1.1`.
    pub fn line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }

    /// `METHOD /path`, as a [`Script`] routes it.
    pub fn route(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A response to send: status line, headers, body (its length and `Connection: close` are
/// added).
#[derive(Debug, Clone)]
pub struct Response {
    status: String,
    headers: String,
    body: String,
    /// Whether `Content-Length` is sent; without it the body ends when the connection closes.
    announce_length: bool,
}

impl Response {
    /// `status` is the code and reason, e.g. `503 Service Unavailable`.
    pub fn new(status: &str) -> Self {
        Self {
            status: status.to_string(),
            headers: String::new(),
            body: String::new(),
            announce_length: true,
        }
    }

    /// The same without `Content-Length`: the client learns the size only by reading it all.
    pub fn without_length(mut self) -> Self {
        self.announce_length = false;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push_str(&format!("{name}: {value}\r\n"));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_string();
        self
    }

    /// `status` with a JSON body.
    pub fn json(status: &str, body: &str) -> Self {
        Self::new(status)
            .header("Content-Type", "application/json")
            .body(body)
    }

    /// `200 OK` with a CSV body.
    pub fn csv(body: &str) -> Self {
        Self::new("200 OK")
            .header("Content-Type", "text/csv")
            .body(body)
    }

    fn to_bytes(&self) -> Vec<u8> {
        let length = match self.announce_length {
            true => format!("Content-Length: {}\r\n", self.body.len()),
            false => String::new(),
        };
        format!(
            "HTTP/1.1 {}\r\n{}{length}Connection: close\r\n\r\n{}",
            self.status, self.headers, self.body
        )
        .into_bytes()
    }
}

/// Per route (`METHOD /path`), the responses to give in order; a request for any other route, or
/// for one whose responses ran out, is answered 404.
#[derive(Default)]
pub struct Script {
    routes: BTreeMap<String, VecDeque<Response>>,
}

impl Script {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `answers` to those of `route`, e.g. `GET /v1/files/f/contents`.
    pub fn route(mut self, route: &str, answers: impl IntoIterator<Item = Response>) -> Self {
        self.routes
            .entry(route.to_string())
            .or_default()
            .extend(answers);
        self
    }

    fn answer(&mut self, request: &Request) -> Response {
        self.routes
            .get_mut(&request.route())
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| Response::new("404 Not Found").body("not found"))
    }
}

/// The server: serves on a thread until it has answered its connections or is dropped.
pub struct HttpServer {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl HttpServer {
    /// Answers at most `connections` connections, one request each, with `responder`. A request
    /// is kept before it is answered: once a client has its answer, [`Self::requests`] holds it.
    pub fn serve(
        connections: usize,
        responder: impl FnMut(&Request) -> Response + Send + 'static,
    ) -> Self {
        Self::start(bind(), connections, None, responder)
    }

    /// [`Self::serve`] over TLS with the certificate and key (PEM) of `cert`.
    pub fn serve_tls(
        cert: &super::pki::ServerCert,
        connections: usize,
        responder: impl FnMut(&Request) -> Response + Send + 'static,
    ) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain = CertificateDer::pem_file_iter(&cert.cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&cert.key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        Self::start(bind(), connections, Some(Arc::new(config)), responder)
    }

    fn start(
        listener: TcpListener,
        connections: usize,
        tls: Option<Arc<rustls::ServerConfig>>,
        mut responder: impl FnMut(&Request) -> Response + Send + 'static,
    ) -> Self {
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for _ in 0..connections {
                let Ok((mut stream, _)) = listener.accept() else {
                    return;
                };
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .is_err()
                {
                    continue;
                }
                match &tls {
                    None => answer(&mut stream, &mut responder, &log),
                    Some(config) => {
                        let Ok(session) = rustls::ServerConnection::new(config.clone()) else {
                            continue;
                        };
                        let mut stream = rustls::StreamOwned::new(session, stream);
                        answer(&mut stream, &mut responder, &log);
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    }
                }
            }
        });
        Self {
            port,
            requests,
            stop,
        }
    }

    /// Answers `script` (at most 200 connections).
    pub fn scripted(script: Script) -> Self {
        Self::scripted_at(|_| script)
    }

    /// Answers the script `write` makes from the server's base URL (for answers that link
    /// back to the server), at most 200 connections.
    pub fn scripted_at(write: impl FnOnce(&str) -> Script) -> Self {
        let listener = bind();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut script = write(&base);
        Self::start(listener, 200, None, move |request| script.answer(request))
    }

    /// Answers `responses` in turn, whatever is asked, then stops listening.
    pub fn sequence(responses: impl IntoIterator<Item = Response>) -> Self {
        let responses: Vec<Response> = responses.into_iter().collect();
        let count = responses.len();
        let mut responses = responses.into_iter();
        Self::serve(count, move |_| responses.next().unwrap())
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `https://127.0.0.1:<port>`, for a server started with [`Self::serve_tls`].
    pub fn https_base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HttpServer {
    /// Stops the thread: it wakes from `accept` on one last connection and returns.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// Reads one request from `stream`, keeps it and answers it (nothing when none could be read: a
/// client that refused the TLS handshake, or hung up).
fn answer(
    stream: &mut (impl Read + Write),
    responder: &mut impl FnMut(&Request) -> Response,
    log: &Mutex<Vec<Request>>,
) {
    let Some(request) = read_request(stream) else {
        return;
    };
    let answer = responder(&request);
    log.lock().unwrap().push(request);
    let _ = stream.write_all(&answer.to_bytes());
}

fn read_request(stream: &mut impl Read) -> Option<Request> {
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
        head,
    })
}
