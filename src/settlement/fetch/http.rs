//! HTTP for report acquisition: one client, how a credential is sent, which answers are worth a
//! retry (429, 5xx, a dropped connection) and which are not (401, 403, other 4xx), and each
//! request through the circuit breaker of its host and port.

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

pub(crate) fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::internal(format!("HTTP client: {e}")))
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

fn transport(shown: &str, e: reqwest::Error) -> Error {
    Error::unavailable(format!("{shown}: {}", redact_urls(&e.to_string()))).caused_by(e)
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
