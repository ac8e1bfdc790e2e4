//! Adyen's Customer Area report download: `GET <base>/reports/download/MerchantAccount/<account>/<file>`
//! (or `Company/<account>`), with a report user's basic auth or an `X-API-Key`.
//!
//! Adyen names settlement detail reports by batch (`settlement_detail_report_batch_N.csv`) and
//! offers no listing, so recon remembers in the store which batches each business day fetched:
//! a day fetches from its own first batch (a rerun) or from the one after the last batch an
//! earlier day fetched, on up to the first number not there (404) or the first batch a later
//! day owns. A batch thus belongs to the first day whose run fetched it, and no batch is
//! fetched twice or skipped.

use std::cell::Cell;

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde::Deserialize;

use super::http::{self, Auth};
use super::{Acquired, Acquisition, Download, ReportFile, fill_date, keep::KeptFile};
use crate::error::{Error, Result};
use crate::retry::with_retries_hinted;

/// Batches probed in one run at most: a bound on the loop, far above a day's batches.
const MAX_BATCHES_PER_RUN: u64 = 100;

/// `adyen_download = { … }` of a `[[settlement]]` check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdyenDownload {
    #[serde(default = "default_base_url")]
    pub(crate) base_url: String,
    pub(crate) merchant_account: Option<String>,
    pub(crate) company_account: Option<String>,
    /// The report's file name: with `{batch}` a settlement batch, else `{date}`/`{yyyymmdd}`.
    pub(crate) file: String,
    /// The batch to start from when no earlier run fetched one.
    #[serde(default = "default_first_batch")]
    pub(crate) first_batch: u64,
    /// The environment variable holding an API key (sent as `X-API-Key`)…
    pub(crate) api_key_env: Option<String>,
    /// … or the report user (`report@Company.<account>`) and the variable holding its password.
    pub(crate) report_user: Option<String>,
    pub(crate) password_env: Option<String>,
}

fn default_base_url() -> String {
    "https://ca-live.adyen.com".to_string()
}

fn default_first_batch() -> u64 {
    1
}

impl AdyenDownload {
    /// What is wrong with the section, if anything.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if self.merchant_account.is_some() == self.company_account.is_some() {
            return Err("give merchant_account or company_account, exactly one".to_string());
        }
        match (&self.api_key_env, &self.report_user, &self.password_env) {
            (Some(_), None, None) | (None, Some(_), Some(_)) => {}
            _ => {
                return Err(
                    "give api_key_env, or report_user and password_env (exactly one way to log in)"
                        .to_string(),
                );
            }
        }
        if self.file.contains('/') || self.file.trim().is_empty() {
            return Err(format!("file {:?} must be a file name", self.file));
        }
        Ok(())
    }

    fn by_batch(&self) -> bool {
        self.file.contains("{batch}")
    }

    fn url(&self, file: &str) -> String {
        let account = match (&self.merchant_account, &self.company_account) {
            (Some(merchant), _) => format!("MerchantAccount/{merchant}"),
            (None, Some(company)) => format!("Company/{company}"),
            (None, None) => String::new(),
        };
        format!(
            "{}/reports/download/{account}/{file}",
            self.base_url.trim_end_matches('/')
        )
    }
}

/// The settlement batches earlier runs of a check fetched, by business day.
#[derive(Debug, Default, Clone)]
pub(crate) struct BatchHistory {
    pub(crate) fetched: Vec<(NaiveDate, u64)>,
}

impl BatchHistory {
    /// The batches earlier runs fetched, from what each day's result downloaded.
    pub(crate) fn of(fetched: &[(crate::day::Partition, Vec<Download>)]) -> BatchHistory {
        BatchHistory {
            fetched: fetched
                .iter()
                .filter_map(|(partition, downloads)| Some((partition.date()?, downloads)))
                .flat_map(|(date, downloads)| {
                    downloads.iter().filter_map(move |d| Some((date, d.batch?)))
                })
                .collect(),
        }
    }

    /// The batch `date` starts from, and the first batch a later day owns (not to be fetched).
    fn range(&self, date: NaiveDate, first_batch: u64) -> (u64, Option<u64>) {
        let batches = |keep: fn(NaiveDate, NaiveDate) -> bool| {
            self.fetched
                .iter()
                .filter(|(d, _)| keep(*d, date))
                .map(|(_, b)| *b)
                .collect::<Vec<u64>>()
        };
        let own = batches(|d, date| d == date).into_iter().min();
        let earlier = batches(|d, date| d < date).into_iter().max();
        let later = batches(|d, date| d > date).into_iter().min();
        let start = own
            .or(earlier.map(|b| b.saturating_add(1)))
            .unwrap_or(first_batch);
        (start, later)
    }
}

pub(super) async fn acquire(adyen: &AdyenDownload, job: &Acquisition<'_>) -> Acquired {
    let (auth, advice, secret) = match credentials(adyen, job) {
        Ok(found) => found,
        Err(e) => return Acquired::failed(e),
    };
    let mut acquired = Acquired {
        files: Ok(Vec::new()),
        attempts: 1,
        downloads: Vec::new(),
    };
    let mut files = Vec::new();
    let names: Vec<(String, Option<u64>)> = if adyen.by_batch() {
        let (start, before) = job.batches.range(job.day.date, adyen.first_batch);
        (start..start.saturating_add(MAX_BATCHES_PER_RUN))
            .take_while(|b| Some(*b) != before)
            .map(|b| (adyen.file.replace("{batch}", &b.to_string()), Some(b)))
            .collect()
    } else {
        vec![(fill_date(&adyen.file, job.day.date), None)]
    };
    for (i, (name, batch)) in names.into_iter().enumerate() {
        let url = adyen.url(&name);
        let target = job.kept_path(&name);
        // The first file must be there (else it is not delivered yet); after it, the first
        // batch not there ends the day's batches.
        let required = i == 0;
        let (result, attempts) = fetch(job, &url, &auth, &advice, &target, required).await;
        acquired.attempts = acquired.attempts.max(attempts);
        match result {
            Ok(Some(kept)) => {
                files.push(ReportFile {
                    name: url.clone(),
                    path: target.clone(),
                });
                acquired.downloads.push(Download {
                    source: url,
                    file: target.display().to_string(),
                    sha256: kept.sha256,
                    bytes: kept.bytes,
                    attempts,
                    batch,
                });
            }
            Ok(None) => break,
            Err(e) => {
                acquired.files = Err(super::scrub(e, &secret));
                return acquired;
            }
        }
    }
    acquired.files = Ok(files);
    acquired
}

fn credentials(adyen: &AdyenDownload, job: &Acquisition<'_>) -> Result<(Auth, String, String)> {
    match (&adyen.api_key_env, &adyen.report_user, &adyen.password_env) {
        (Some(var), _, _) => {
            let key = super::secret(job.env, var, "the Adyen API key")?;
            let auth = Auth::Header {
                name: "X-API-Key",
                value: key.clone(),
            };
            Ok((auth, format!("check the API key in {var}"), key))
        }
        (None, Some(user), Some(var)) => {
            let password = super::secret(job.env, var, "the Adyen report user's password")?;
            let auth = Auth::Basic {
                user: user.clone(),
                password: password.clone(),
            };
            Ok((
                auth,
                format!("check the report user {user} and its password in {var}"),
                password,
            ))
        }
        _ => Err(Error::bad_input(
            "adyen_download: give api_key_env, or report_user and password_env",
        )),
    }
}

/// One file, retried: `None` when it is not there and not `required`.
async fn fetch(
    job: &Acquisition<'_>,
    url: &str,
    auth: &Auth,
    advice: &str,
    target: &std::path::Path,
    required: bool,
) -> (Result<Option<KeptFile>>, u32) {
    let shown = format!("downloading {url}");
    let hint = Cell::new(None);
    with_retries_hinted(job.policy, "Adyen report download", &hint, || async {
        let client = http::client()?;
        let response = http::send(job.breakers, auth.apply(client.get(url)), &shown).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return if required {
                Err(Error::unavailable(format!(
                    "{shown}: HTTP 404 Not Found (not delivered yet?)"
                )))
            } else {
                Ok(None)
            };
        }
        let response = http::successful(response, &shown, &hint, advice, http::silent).await?;
        http::save(response, &shown, target).await.map(Some)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_after_the_last_earlier_batch_or_at_its_own_and_stops_before_a_later_days() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        let history = BatchHistory {
            fetched: vec![(d(18), 5), (d(19), 6), (d(19), 7), (d(21), 9)],
        };
        assert_eq!(history.range(d(20), 1), (8, Some(9)));
        assert_eq!(history.range(d(19), 1), (6, Some(9)));
        assert_eq!(history.range(d(22), 1), (10, None));
        assert_eq!(BatchHistory::default().range(d(20), 42), (42, None));
    }
}
