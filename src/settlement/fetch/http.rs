//! HTTP for report acquisition: one client (which CAs it trusts, which redirects it follows), how
//! a credential is sent, which answers are worth a retry (429, 5xx, a dropped connection) and
//! which are not (401, 403, other 4xx), and each request through the circuit breaker of its host
//! and port.

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

use super::cap::{CappedKept, KeepRules};
use super::keep::KeptFile;
use crate::breaker::Breakers;
use crate::error::{Error, Result};
use crate::retry::retry_after;
use crate::secret::redact_urls;

/// How a request proves who sends it. The secrets come from the environment and are never shown.
#[derive(Clone)]
pub(crate) enum Auth {
    None,
    Bearer(String),
    Basic {
        user: String,
        password: String,
    },
    /// A header such as Adyen's `X-API-Key`.
    Header {
        name: &'static str,
        value: String,
    },
}

impl Auth {
    pub(crate) fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic { user, password } => request.basic_auth(user, Some(password)),
            Auth::Header { name, value } => request.header(*name, value),
        }
    }
}

/// The most redirects one request follows.
const MAX_REDIRECTS: usize = 10;

/// A client for requests carrying `auth`: every redirect hop re-validated by [`hop_refusal`];
/// servers trusted by the built-in (Mozilla) roots, or, given `ca_file` (`tls_ca_file`), by
/// the CAs of that PEM bundle only.
pub(crate) fn client(ca_file: Option<&Path>, auth: &Auth) -> Result<reqwest::Client> {
    let sticky_credential = matches!(auth, Auth::Header { .. });
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match hop_refusal(attempt.url(), attempt.previous(), sticky_credential) {
            Some(reason) => attempt.error(reason),
            None => attempt.follow(),
        }
    });
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .connect_timeout(Duration::from_secs(30))
        .redirect(policy);
    if let Some(file) = ca_file {
        let shown = file.display();
        let pem = std::fs::read(file)
            .map_err(|e| Error::bad_input(format!("tls_ca_file {shown}: {e}")))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| Error::bad_input(format!("tls_ca_file {shown}: {e}")))?;
        if roots.is_empty() {
            return Err(Error::bad_input(format!(
                "tls_ca_file {shown} holds no PEM certificate"
            )));
        }
        builder = roots
            .into_iter()
            .fold(builder.tls_built_in_root_certs(false), |b, root| {
                b.add_root_certificate(root)
            });
    }
    builder
        .build()
        .map_err(|e| Error::internal(format!("HTTP client: {e}")))
}

/// Why a redirect to `next` (after `previous`) is not followed, if it is not: every hop is
/// https, plain http only on a chain that was plain http on loopback from its start (as a
/// configured URL may be): never a downgrade from https, never plain http off this machine;
/// reqwest drops `Authorization` when the host or port changes, but not a credential in a
/// header of its own (`sticky_credential`, Adyen's `X-API-Key`): such a request never leaves
/// its server.
pub(crate) fn hop_refusal(
    next: &reqwest::Url,
    previous: &[reqwest::Url],
    sticky_credential: bool,
) -> Option<String> {
    let on_loopback =
        |url: &reqwest::Url| url.host_str().is_some_and(crate::source::tls::is_loopback);
    let shown = redact_urls(next.as_str());
    match next.scheme() {
        "https" => {}
        "http"
            if on_loopback(next)
                && previous
                    .iter()
                    .all(|url| url.scheme() == "http" && on_loopback(url)) => {}
        scheme => {
            return Some(format!(
                "refused a redirect to {shown}: reports are fetched over https only, not {scheme}"
            ));
        }
    }
    let server = endpoint(next);
    match previous.first() {
        Some(first) if sticky_credential && endpoint(first) != server => Some(format!(
            "refused a redirect to {shown}: the request's credential would go to another server ({server})"
        )),
        _ => None,
    }
}

/// Sends `request` through the breaker of its server (`host:port`): refused at once while that
/// breaker is open; a failure to reach the server or to get its answer, a 429 or a 5xx counts
/// against it. A failure to reach the server may pass.
pub(crate) async fn send(
    breakers: &Breakers,
    request: RequestBuilder,
    shown: &str,
) -> Result<Response> {
    let (client, request) = request.build_split();
    let request = request.map_err(|e| {
        Error::bad_input(format!("{shown}: {}", redact_urls(&e.to_string()))).caused_by(e)
    })?;
    let permit = breakers.admit(&endpoint(request.url()))?;
    let sent = client.execute(request).await;
    permit.record(match &sent {
        Ok(response) => worth_a_retry(response.status()),
        Err(_) => true,
    });
    sent.map_err(|e| transport(shown, e))
}

/// A server's name in breakers and messages: `host:port`, never its path or credentials.
pub(crate) fn endpoint(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("unknown-host");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// An answer that says the server may do better later: 429 or 5xx.
fn worth_a_retry(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The wait a response's `Retry-After` asks for, if it has a readable one.
fn asked_wait(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    retry_after(value, chrono::Utc::now())
}

/// A request that got no answer, with its causes (reqwest's own message names none of them:
/// not the refused certificate, not the refused redirect).
fn transport(shown: &str, e: reqwest::Error) -> Error {
    let mut said = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !said.contains(&text) {
            said = format!("{said}: {text}");
        }
        cause = c.source();
    }
    let said = format!("{shown}: {}", redact_urls(&said));
    match e.is_redirect() {
        // A refused hop is the server's doing and does not change on a retry.
        true => Error::bad_input(said).caused_by(e),
        false => Error::unavailable(said).caused_by(e),
    }
}

/// `response` if it succeeded. 429 and 5xx may pass (the wait a `Retry-After` asks for, in
/// seconds or as an HTTP-date, goes into `hint`); 401 and 403 are the credential's fault (`advice` says which to check); another
/// status is permanent, with what `explain` reads from the body.
pub(crate) async fn successful(
    response: Response,
    shown: &str,
    hint: &Cell<Option<Duration>>,
    advice: &str,
    explain: fn(&str) -> Option<String>,
) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    if worth_a_retry(status) {
        hint.set(asked_wait(response.headers()));
        return Err(Error::unavailable(format!("{shown}: HTTP {status}")));
    }
    let body = response.text().await.unwrap_or_default();
    let said = explain(&body)
        .map(|m| format!(": {}", redact_urls(&m)))
        .unwrap_or_default();
    let advice = if matches!(status.as_u16(), 401 | 403) {
        format!(" ({advice})")
    } else {
        String::new()
    };
    Err(Error::bad_input(format!(
        "{shown}: HTTP {status}{said}{advice}"
    )))
}

/// Where `response` came from when redirects took it away from `requested`, for the download's
/// record: its final URL without query or fragment (a pre-signed link's query is a credential)
/// and with any password redacted.
pub(crate) fn redirected_to(response: &Response, requested: &str) -> Option<String> {
    let landed = response.url();
    if reqwest::Url::parse(requested).ok().as_ref() == Some(landed) {
        return None;
    }
    let mut recorded = landed.clone();
    recorded.set_query(None);
    recorded.set_fragment(None);
    Some(redact_urls(recorded.as_str()))
}

/// Streams the body of `response` into `target`, hashing it.
pub(crate) async fn save(
    mut response: Response,
    shown: &str,
    target: &Path,
    rules: KeepRules<'_>,
) -> Result<KeptFile> {
    let announced = response.content_length();
    let mut kept = CappedKept::create(target, rules, announced, shown).await?;
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(shown, e))? {
        kept.write(&chunk, shown).await?;
    }
    kept.finish().await
}

/// No explanation read from a body.
pub(crate) fn silent(_: &str) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn endpoints_are_host_and_port_without_credentials() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        assert_eq!(
            endpoint(&url(
                "https://user:secret@files.example.com/r/x.csv?token=t"
            )),
            "files.example.com:443"
        );
        assert_eq!(endpoint(&url("http://127.0.0.1:8080/x")), "127.0.0.1:8080");
    }

    #[test]
    fn every_redirect_hop_is_https_and_a_sticky_credential_stays_home() {
        let url = |u: &str| reqwest::Url::parse(u).unwrap();
        let from = [url("https://files.example.com/r.csv")];
        assert_eq!(
            hop_refusal(&url("https://cdn.example.net/r.csv"), &from, false),
            None
        );
        assert_eq!(
            hop_refusal(
                &url("http://cdn.example.net/r.csv?token=s3cret"),
                &from,
                false
            )
            .unwrap(),
            "refused a redirect to http://cdn.example.net/r.csv?token=***: reports are fetched over https only, not http"
        );
        // no downgrade, even to this machine
        assert!(hop_refusal(&url("http://127.0.0.1:9/r.csv"), &from, false).is_some());
        let local = [url("http://127.0.0.1:8080/r.csv")];
        assert_eq!(
            hop_refusal(&url("http://localhost:8080/x"), &local, false),
            None
        );
        assert_eq!(
            hop_refusal(&url("https://files.example.com:8443/r.csv"), &from, true).unwrap(),
            "refused a redirect to https://files.example.com:8443/r.csv: the request's credential would go to another server (files.example.com:8443)"
        );
        assert_eq!(
            hop_refusal(&url("https://files.example.com/other.csv"), &from, true),
            None
        );
    }

    #[test]
    fn retry_after_is_read_in_both_forms() {
        let with = |v: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
            asked_wait(&headers)
        };
        assert_eq!(with("45"), Some(Duration::from_secs(45)));
        let in_a_minute = (chrono::Utc::now() + chrono::Duration::seconds(90))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let wait = with(&in_a_minute).unwrap().as_secs();
        assert!((88..=90).contains(&wait), "{wait}");
        assert_eq!(with("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(asked_wait(&HeaderMap::new()), None);
    }
}
