//! Where processor reports come from: local files (a path or glob with `{date}`) or HTTPS URLs
//! with a token from the environment, downloaded with retries and kept beside the run's reports.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};
use crate::retry::{RetryPolicy, with_retries, with_retries_hinted};
use crate::secret::redact_urls;

/// Where one check's reports are, before the date is filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReportLocation {
    /// A path or glob; `{date}` is `YYYY-MM-DD`, `{yyyymmdd}` is `YYYYMMDD`.
    Files(String),
    /// An HTTPS URL with the same placeholders, and the environment variable holding a bearer token.
    Url {
        url: String,
        token_env: Option<String>,
    },
}

/// A report ready to parse: its name in records and quarantines, and the local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReportFile {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
}

/// `text` with the date placeholders filled in.
pub(crate) fn fill_date(text: &str, date: NaiveDate) -> String {
    text.replace("{date}", &date.format("%Y-%m-%d").to_string())
        .replace("{yyyymmdd}", &date.format("%Y%m%d").to_string())
}

/// Finds or downloads the reports of `date`, retried under `policy`, and says how many
/// attempts it took. A report that is not there yet is a transient failure (exit 3 once the
/// policy gives up: the processor may deliver it later); a refused download is permanent.
pub(crate) async fn acquire(
    location: &ReportLocation,
    date: NaiveDate,
    downloads: &Path,
    policy: RetryPolicy,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Result<Vec<ReportFile>>, u32) {
    match location {
        ReportLocation::Files(pattern) => {
            let pattern = fill_date(pattern, date);
            with_retries(policy, "report", || async { local(&pattern) }).await
        }
        ReportLocation::Url { url, token_env } => {
            let token = match token_env {
                None => None,
                Some(var) => match env(var) {
                    Some(token) => Some(token),
                    None => {
                        let message =
                            format!("environment variable {var} (the report token) is not set");
                        return (Err(Error::bad_input(message)), 1);
                    }
                },
            };
            let url = fill_date(url, date);
            let hint = Cell::new(None);
            let name = url
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or("report.csv");
            let target = downloads.join(format!("{date}-{}", sanitize(name)));
            let (result, attempts) = with_retries_hinted(policy, "report download", &hint, || {
                download(&url, token.as_deref(), &target, &hint)
            })
            .await;
            let files = result.map(|()| {
                vec![ReportFile {
                    name: redact_urls(&url),
                    path: target,
                }]
            });
            (files, attempts)
        }
    }
}

fn local(pattern: &str) -> Result<Vec<ReportFile>> {
    let paths = glob::glob(pattern)
        .map_err(|e| Error::bad_input(format!("report path {pattern:?}: {e}")))?;
    let mut files = Vec::new();
    for entry in paths {
        let path = entry.map_err(|e| {
            Error::unavailable(format!("reading {}: {}", e.path().display(), e.error()))
        })?;
        if path.is_file() {
            files.push(ReportFile {
                name: path.display().to_string(),
                path,
            });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    if files.is_empty() {
        return Err(Error::unavailable(format!(
            "no report matches {pattern} (not delivered yet?)"
        )));
    }
    Ok(files)
}

fn sanitize(name: &str) -> String {
    let clean: String = name
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        "report.csv".to_string()
    } else {
        clean
    }
}

/// One download attempt, streamed to `target` (written to a temporary name, then renamed).
async fn download(
    url: &str,
    token: Option<&str>,
    target: &Path,
    hint: &Cell<Option<Duration>>,
) -> Result<()> {
    let shown = redact_urls(url);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .connect_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| Error::internal(format!("HTTP client: {e}")))?;
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| {
        Error::unavailable(format!(
            "downloading {shown}: {}",
            redact_urls(&e.to_string())
        ))
        .caused_by(e)
    })?;
    let status = response.status();
    if status.as_u16() == 429 || status.is_server_error() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        hint.set(retry_after.map(Duration::from_secs));
        return Err(Error::unavailable(format!(
            "downloading {shown}: HTTP {status}"
        )));
    }
    if !status.is_success() {
        let advice = if matches!(status.as_u16(), 401 | 403) {
            " (check the report token)"
        } else {
            ""
        };
        return Err(Error::bad_input(format!(
            "downloading {shown}: HTTP {status}{advice}"
        )));
    }
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::internal(format!("{}: {e}", dir.display())))?;
    }
    let partial = target.with_extension("partial");
    let write_err =
        |e: std::io::Error| Error::internal(format!("writing {}: {e}", partial.display()));
    let mut file = tokio::fs::File::create(&partial).await.map_err(write_err)?;
    let mut response = response;
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        Error::unavailable(format!(
            "downloading {shown}: {}",
            redact_urls(&e.to_string())
        ))
        .caused_by(e)
    })? {
        file.write_all(&chunk).await.map_err(write_err)?;
    }
    file.flush().await.map_err(write_err)?;
    tokio::fs::rename(&partial, target)
        .await
        .map_err(write_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_names() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        assert_eq!(
            fill_date("r/{date}/s_{yyyymmdd}.csv", d),
            "r/2026-11-20/s_20261120.csv"
        );
        assert_eq!(sanitize("balance.csv?token=x"), "balance.csv");
        assert_eq!(sanitize("a b/..c"), "a_b_..c");
    }
}
