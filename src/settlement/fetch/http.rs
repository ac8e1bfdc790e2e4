//! HTTP for report acquisition: one client, how a credential is sent, which answers are worth a
//! retry (429, 5xx, a dropped connection) and which are not (401, 403, other 4xx).

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};

use super::keep::{Kept, KeptFile};
use crate::error::{Error, Result};
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

/// Sends `request`; a failure to reach the server or to get its answer may pass.
pub(crate) async fn send(request: RequestBuilder, shown: &str) -> Result<Response> {
    request.send().await.map_err(|e| transport(shown, e))
}

fn transport(shown: &str, e: reqwest::Error) -> Error {
    Error::unavailable(format!("{shown}: {}", redact_urls(&e.to_string()))).caused_by(e)
}

/// `response` if it succeeded. 429 and 5xx may pass (a `Retry-After` in seconds goes into
/// `hint`); 401 and 403 are the credential's fault (`advice` says which to check); another
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
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        hint.set(retry_after.map(Duration::from_secs));
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
pub(crate) async fn save(mut response: Response, shown: &str, target: &Path) -> Result<KeptFile> {
    let mut kept = Kept::create(target).await?;
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(shown, e))? {
        kept.write(&chunk).await?;
    }
    kept.finish().await
}

/// No explanation read from a body.
pub(crate) fn silent(_: &str) -> Option<String> {
    None
}
