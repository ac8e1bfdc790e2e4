//! Stripe's answers as recon reads them: the report type's data availability, a report run
//! (what its status means for the acquisition), a refusal's message and code.

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Deserialize)]
pub(super) struct ReportType {
    pub(super) data_available_end: i64,
}

#[derive(Deserialize)]
pub(super) struct ReportRun {
    pub(super) id: String,
    status: String,
    error: Option<String>,
    result: Option<ResultFile>,
}

#[derive(Deserialize)]
struct ResultFile {
    url: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ErrorBody {
    pub(super) error: ErrorDetail,
}

#[derive(Deserialize)]
pub(super) struct ErrorDetail {
    pub(super) message: Option<String>,
    pub(super) code: Option<String>,
}

/// Stripe's own account of a refused request: `{"error": {"message": …}}`.
pub(super) fn explain(body: &str) -> Option<String> {
    serde_json::from_str::<ErrorBody>(body).ok()?.error.message
}

pub(super) fn parse<'a, T: Deserialize<'a>>(body: &'a str, shown: &str) -> Result<T> {
    serde_json::from_str(body)
        .map_err(|e| Error::bad_input(format!("{shown}: not a Stripe answer: {e}")))
}

/// Why a report run gave no file (yet).
pub(super) enum Finished {
    /// The run failed: its key will only ever answer with it.
    Failed(Error),
    Not(Error),
}

/// The result file's URL of a run that succeeded; a pending run may finish later, a failed
/// one will not. The key goes to `files_base` only.
pub(super) fn finished(run: ReportRun, files_base: &str) -> std::result::Result<String, Finished> {
    match run.status.as_str() {
        "succeeded" => {
            let url = run.result.and_then(|r| r.url).ok_or_else(|| {
                Finished::Not(Error::bad_input(format!(
                    "Stripe report run {} succeeded without a result file",
                    run.id
                )))
            })?;
            let base = files_base.trim_end_matches('/');
            if !url.starts_with(&format!("{base}/")) {
                return Err(Finished::Not(Error::bad_input(format!(
                    "Stripe report run {}: its result file {url} is not under {base}/ (stripe_api.files_base); the key is not sent there",
                    run.id
                ))));
            }
            Ok(url)
        }
        "failed" => Err(Finished::Failed(Error::bad_input(format!(
            "Stripe report run {} failed: {}",
            run.id,
            run.error.as_deref().unwrap_or("no reason given")
        )))),
        status => Err(Finished::Not(Error::unavailable(format!(
            "Stripe report run {} is still {status}",
            run.id
        )))),
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

    fn error(result: std::result::Result<String, Finished>) -> (bool, Error) {
        match result {
            Err(Finished::Failed(e)) => (true, e),
            Err(Finished::Not(e)) => (false, e),
            Ok(url) => panic!("{url}"),
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
            let (failed, e) = error(finished(run("succeeded", Some(elsewhere)), base));
            assert!(!failed && !e.is_transient());
            assert!(e.to_string().contains("the key is not sent there"), "{e}");
        }
        let (failed, e) = error(finished(run("failed", None), base));
        assert_eq!(
            (failed, e.is_transient(), e.to_string()),
            (
                true,
                false,
                "Stripe report run frr_1 failed: no data".to_string()
            )
        );
        let (failed, e) = error(finished(run("pending", None), base));
        assert_eq!(
            (failed, e.is_transient(), e.to_string()),
            (
                false,
                true,
                "Stripe report run frr_1 is still pending".to_string()
            )
        );
    }
}
