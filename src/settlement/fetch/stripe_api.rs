//! Stripe's Reporting API: a report run over the business day is created (once, under an
//! idempotency key), polled until it has `succeeded`, and its result file downloaded, every
//! request with the secret key as a bearer token.

use std::cell::{Cell, RefCell};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tracing::info;

use super::http::{self, Auth};
use super::{Acquired, Acquisition, keep::KeptFile, sanitize, secret};
use crate::error::{Error, Result};
use crate::retry::with_retries_hinted;

/// `stripe_api = { … }` of a `[[settlement]]` check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StripeApi {
    /// The environment variable holding the secret (or restricted) key, `sk_live_…`/`rk_live_…`.
    pub(crate) secret_key_env: String,
    #[serde(default = "default_report_type")]
    pub(crate) report_type: String,
    /// The report's columns; empty: the report type's default set.
    #[serde(default)]
    pub(crate) columns: Vec<String>,
    #[serde(default = "default_api_base")]
    pub(crate) api_base: String,
    /// Where result files may be downloaded from: the key is sent to no other host.
    #[serde(default = "default_files_base")]
    pub(crate) files_base: String,
}

fn default_report_type() -> String {
    "balance_change_from_activity.itemized.3".to_string()
}

fn default_api_base() -> String {
    "https://api.stripe.com".to_string()
}

fn default_files_base() -> String {
    "https://files.stripe.com".to_string()
}

#[derive(Deserialize)]
struct ReportType {
    data_available_end: i64,
}

#[derive(Deserialize)]
struct ReportRun {
    id: String,
    status: String,
    error: Option<String>,
    result: Option<ResultFile>,
}

#[derive(Deserialize)]
struct ResultFile {
    url: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: Option<String>,
}

/// Stripe's own account of a refused request: `{"error": {"message": …}}`.
fn explain(body: &str) -> Option<String> {
    serde_json::from_str::<ErrorBody>(body).ok()?.error.message
}

fn parse<'a, T: Deserialize<'a>>(body: &'a str, shown: &str) -> Result<T> {
    serde_json::from_str(body)
        .map_err(|e| Error::bad_input(format!("{shown}: not a Stripe answer: {e}")))
}

/// How far the acquisition got, kept across attempts.
#[derive(Default)]
struct Progress {
    run: Option<String>,
    file_url: Option<String>,
}

pub(super) async fn acquire(api: &StripeApi, job: &Acquisition<'_>) -> Acquired {
    let key = match secret(job.env, &api.secret_key_env, "the Stripe secret key") {
        Ok(key) => key,
        Err(e) => return Acquired::failed(e),
    };
    let auth = Auth::Bearer(key.clone());
    let advice = format!("check the Stripe key in {}", api.secret_key_env);
    let base = api.api_base.trim_end_matches('/');
    let start = job.day.start.timestamp().to_string();
    let end = job.day.end.timestamp().to_string();
    let mut form = vec![
        ("report_type".to_string(), api.report_type.clone()),
        ("parameters[interval_start]".to_string(), start),
        ("parameters[interval_end]".to_string(), end.clone()),
        (
            "parameters[timezone]".to_string(),
            job.timezone.name().to_string(),
        ),
    ];
    for (i, column) in api.columns.iter().enumerate() {
        form.push((format!("parameters[columns][{i}]"), column.clone()));
    }
    // The same check, day and parameters make the same key: a retried create (or a rerun within
    // Stripe's 24 hours) gets the run already started instead of a second one.
    let mut digest = Sha256::new();
    for (k, v) in &form {
        digest.update(format!("{k}={v}\n"));
    }
    let idempotency = format!(
        "recon-{}-{}-{}",
        job.check,
        job.day.date,
        &hex::encode(digest.finalize())[..16]
    );
    let target = job.kept_path(&format!("{}.csv", sanitize(&api.report_type)));
    let progress = RefCell::new(Progress::default());
    let hint = Cell::new(None);
    let attempt = || async {
        let client = http::client()?;
        let known = progress.borrow().file_url.clone();
        let file_url = match known {
            Some(url) => url,
            None => {
                let created = progress.borrow().run.clone();
                let run = match created {
                    Some(id) => {
                        let shown = format!("Stripe report run {id}");
                        let request = client.get(format!("{base}/v1/reporting/report_runs/{id}"));
                        let response =
                            http::send(job.breakers, auth.apply(request), &shown).await?;
                        let response =
                            http::successful(response, &shown, &hint, &advice, explain).await?;
                        let body = response.text().await.unwrap_or_default();
                        parse::<ReportRun>(&body, &shown)?
                    }
                    None => {
                        let shown = format!("Stripe report type {}", api.report_type);
                        let request = client.get(format!(
                            "{base}/v1/reporting/report_types/{}",
                            api.report_type
                        ));
                        let response =
                            http::send(job.breakers, auth.apply(request), &shown).await?;
                        let response =
                            http::successful(response, &shown, &hint, &advice, explain).await?;
                        let body = response.text().await.unwrap_or_default();
                        let available = parse::<ReportType>(&body, &shown)?.data_available_end;
                        if available < job.day.end.timestamp() {
                            return Err(Error::unavailable(format!(
                                "{shown}: Stripe has data up to {} only, the business day ends at {end} (not ready yet)",
                                available
                            )));
                        }
                        let shown = "creating a Stripe report run".to_string();
                        let request = client
                            .post(format!("{base}/v1/reporting/report_runs"))
                            .header("Idempotency-Key", &idempotency)
                            .form(&form);
                        let response =
                            http::send(job.breakers, auth.apply(request), &shown).await?;
                        let response =
                            http::successful(response, &shown, &hint, &advice, explain).await?;
                        let body = response.text().await.unwrap_or_default();
                        let run = parse::<ReportRun>(&body, &shown)?;
                        info!(report_run = %run.id, report_type = %api.report_type, "Stripe report run created");
                        progress.borrow_mut().run = Some(run.id.clone());
                        run
                    }
                };
                let url = finished(run, &api.files_base)?;
                progress.borrow_mut().file_url = Some(url.clone());
                url
            }
        };
        let shown = format!("downloading {file_url}");
        let response = http::send(job.breakers, auth.apply(client.get(&file_url)), &shown).await?;
        let response = http::successful(response, &shown, &hint, &advice, explain).await?;
        let kept: KeptFile = http::save(response, &shown, &target).await?;
        Ok((file_url, kept))
    };
    let (result, attempts) =
        with_retries_hinted(job.policy, "Stripe report run", &hint, attempt).await;
    // the file is named by its URL; a run that failed has no file to name
    let (url, kept) = match result {
        Ok((url, kept)) => (url, Ok(kept)),
        Err(e) => (String::new(), Err(super::scrub(e, &key))),
    };
    super::single((kept, attempts), url, &target)
}

/// The result file's URL of a run that succeeded; a pending run may finish later, a failed
/// one will not. The key goes to `files_base` only.
fn finished(run: ReportRun, files_base: &str) -> Result<String> {
    match run.status.as_str() {
        "succeeded" => {
            let url = run.result.and_then(|r| r.url).ok_or_else(|| {
                Error::bad_input(format!(
                    "Stripe report run {} succeeded without a result file",
                    run.id
                ))
            })?;
            let base = files_base.trim_end_matches('/');
            if !url.starts_with(&format!("{base}/")) {
                return Err(Error::bad_input(format!(
                    "Stripe report run {}: its result file {url} is not under {base}/ (stripe_api.files_base); the key is not sent there",
                    run.id
                )));
            }
            Ok(url)
        }
        "failed" => Err(Error::bad_input(format!(
            "Stripe report run {} failed: {}",
            run.id,
            run.error.as_deref().unwrap_or("no reason given")
        ))),
        status => Err(Error::unavailable(format!(
            "Stripe report run {} is still {status}",
            run.id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(status: &str, url: Option<&str>) -> ReportRun {
        ReportRun {
            id: "frr_1".to_string(),
            status: status.to_string(),
            error: Some("no data".to_string()),
            result: Some(ResultFile {
                url: url.map(str::to_string),
            }),
        }
    }

    #[test]
    fn the_key_goes_to_files_base_only_and_a_failed_run_is_permanent() {
        let base = "https://files.stripe.com";
        let good = "https://files.stripe.com/v1/files/file_1/contents";
        assert_eq!(
            finished(run("succeeded", Some(good)), base).ok(),
            Some(good.to_string())
        );
        for elsewhere in [
            "https://files.stripe.com.evil.example/v1/files/file_1/contents",
            "http://files.stripe.com/v1/files/file_1/contents",
        ] {
            let e = finished(run("succeeded", Some(elsewhere)), base).unwrap_err();
            assert!(!e.is_transient());
            assert!(e.to_string().contains("the key is not sent there"), "{e}");
        }
        let e = finished(run("failed", None), base).unwrap_err();
        assert_eq!(
            (e.is_transient(), e.to_string()),
            (false, "Stripe report run frr_1 failed: no data".to_string())
        );
        let e = finished(run("pending", None), base).unwrap_err();
        assert_eq!(
            (e.is_transient(), e.to_string()),
            (true, "Stripe report run frr_1 is still pending".to_string())
        );
    }
}
