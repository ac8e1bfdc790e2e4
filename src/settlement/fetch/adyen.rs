//! Adyen's Customer Area report download: `GET <base>/reports/download/MerchantAccount/<account>/<file>`
//! (or `Company/<account>`), with a report user's basic auth or an `X-API-Key`.
//!
//! A report named by date (`{date}`, `{yyyymmdd}`, or Adyen's own `{yyyy_mm_dd}`) is one file a
//! day, fetched by its name: no batch is probed, and a day without its file is not delivered yet
//! for that day alone. Adyen names settlement detail reports by batch
//! (`settlement_detail_report_batch_N.csv`, with a date added on request) and offers no listing,
//! so recon remembers in the store which batches each business day fetched (its downloads): a
//! day fetches from its own first batch (a rerun) or from the one after the last batch an
//! earlier day fetched, upward, skipping batches other days own and stopping before the first
//! batch a later day owns above its start. Adyen's numbering may skip a number, so a number not
//! there (404) ends the day only when the `probe_ahead` numbers after it are not there either; a
//! number skipped below a batch that is there is a gap: warned about, recorded with that batch
//! (`skipped_batches`), never an error. A gap is probed again by every later day whose start is
//! within `probe_ahead` numbers above it, so a batch Adyen delivers late is fetched by the first
//! such run. A batch belongs to the first day whose run fetched it: none is fetched twice.

use std::cell::Cell;
use std::collections::BTreeSet;

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde::Deserialize;
use tracing::{info, warn};

use super::http::{self, Auth};
use super::{Acquired, Acquisition, Download, ReportFile, fill_date};
use crate::error::{Error, Result};
use crate::retry::with_retries_hinted;

/// Batches probed in one run at most: a bound on the loop, far above a day's batches.
const MAX_BATCHES_PER_RUN: u64 = 100;

/// The most `probe_ahead` may be: each number is a request in every run.
const MAX_PROBE_AHEAD: u64 = 50;

/// The placeholders a `file` may hold.
const PLACEHOLDERS: [&str; 4] = ["{batch}", "{date}", "{yyyymmdd}", "{yyyy_mm_dd}"];

/// `adyen_download = { … }` of a `[[settlement]]` check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdyenDownload {
    #[serde(default = "default_base_url")]
    pub(crate) base_url: String,
    pub(crate) merchant_account: Option<String>,
    pub(crate) company_account: Option<String>,
    /// The report's file name: with `{batch}` a settlement batch, else one file a day named by
    /// `{date}` (`YYYY-MM-DD`), `{yyyymmdd}` or `{yyyy_mm_dd}` (`YYYY_MM_DD`, as Adyen writes it).
    pub(crate) file: String,
    /// The batch to start from when no earlier run fetched one.
    #[serde(default = "default_first_batch")]
    pub(crate) first_batch: u64,
    /// Numbers probed past one that is not there before the day's batches are taken to end.
    #[serde(default = "default_probe_ahead")]
    pub(crate) probe_ahead: u64,
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

fn default_probe_ahead() -> u64 {
    5
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
        let mut rest = self.file.clone();
        for known in PLACEHOLDERS {
            rest = rest.replace(known, "");
        }
        if let Some(at) = rest.find('{') {
            let unknown: String = rest[at..].chars().take_while(|c| *c != '}').collect();
            return Err(format!(
                "file {:?}: unknown placeholder {unknown}}} (use {})",
                self.file,
                PLACEHOLDERS.join(", ")
            ));
        }
        if !PLACEHOLDERS.iter().any(|p| self.file.contains(p)) {
            return Err(format!(
                "file {:?} names no batch and no day: give {{batch}} (settlement detail reports) or a date ({{date}}, {{yyyymmdd}}, {{yyyy_mm_dd}})",
                self.file
            ));
        }
        if self.probe_ahead > MAX_PROBE_AHEAD {
            return Err(format!(
                "probe_ahead = {}: at most {MAX_PROBE_AHEAD} (each number is a request in every run)",
                self.probe_ahead
            ));
        }
        Ok(())
    }

    fn by_batch(&self) -> bool {
        self.file.contains("{batch}")
    }

    /// The file name of `batch` (when by batch) on `date`.
    fn name(&self, date: NaiveDate, batch: Option<u64>) -> String {
        let named = match batch {
            Some(batch) => self.file.replace("{batch}", &batch.to_string()),
            None => self.file.clone(),
        };
        let adyen_date = date.format("%Y_%m_%d").to_string();
        fill_date(&named.replace("{yyyy_mm_dd}", &adyen_date), date)
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

    /// What `date` fetches: see [`Plan`].
    fn plan(&self, date: NaiveDate, first_batch: u64, probe_ahead: u64) -> Plan {
        let own: BTreeSet<u64> = self
            .fetched
            .iter()
            .filter(|(d, _)| *d == date)
            .map(|(_, b)| *b)
            .collect();
        let others: BTreeSet<u64> = self
            .fetched
            .iter()
            .filter(|(d, _)| *d != date)
            .map(|(_, b)| *b)
            .collect();
        let earlier = self
            .fetched
            .iter()
            .filter(|(d, _)| *d < date)
            .map(|(_, b)| *b)
            .max();
        let start = own
            .first()
            .copied()
            .or(earlier.map(|b| b.saturating_add(1)))
            .unwrap_or(first_batch);
        let end = self
            .fetched
            .iter()
            .filter(|(d, b)| *d > date && *b >= start)
            .map(|(_, b)| *b)
            .min();
        let gaps = (start.saturating_sub(probe_ahead).max(first_batch)..start)
            .filter(|b| !others.contains(b))
            .collect();
        Plan {
            gaps,
            start,
            end,
            others,
        }
    }
}

/// The batches a day fetches: first the gaps earlier days left within `probe_ahead` below its
/// start, then from `start` upward (skipping `others`) to before `end`, until `probe_ahead`
/// numbers past one not there are not there either.
#[derive(Debug, PartialEq, Eq)]
struct Plan {
    gaps: Vec<u64>,
    start: u64,
    /// The first batch a later day owns above `start`: not fetched, nor anything after it.
    end: Option<u64>,
    /// The batches other days own: never fetched again.
    others: BTreeSet<u64>,
}

pub(super) async fn acquire(adyen: &AdyenDownload, job: &Acquisition<'_>) -> Acquired {
    let (auth, advice, secret) = match credentials(adyen, job) {
        Ok(found) => found,
        Err(e) => return Acquired::failed(e),
    };
    let mut fetching = Fetching {
        adyen,
        job,
        auth: &auth,
        advice: &advice,
        acquired: Acquired {
            files: Ok(Vec::new()),
            attempts: 1,
            downloads: Vec::new(),
        },
        files: Vec::new(),
    };
    let done = match adyen.by_batch() {
        true => fetching.batches().await,
        false => fetching
            .one(adyen.name(job.day.date, None), None, true)
            .await
            .map(|_| ()),
    };
    let mut acquired = fetching.acquired;
    acquired.files = match done {
        Ok(()) => Ok(fetching.files),
        Err(e) => Err(super::scrub(e, &secret)),
    };
    acquired
}

/// One day's downloads under way: what was fetched so far.
struct Fetching<'a> {
    adyen: &'a AdyenDownload,
    job: &'a Acquisition<'a>,
    auth: &'a Auth,
    advice: &'a str,
    acquired: Acquired,
    files: Vec<ReportFile>,
}

impl Fetching<'_> {
    /// The day's settlement batches (see the module doc).
    async fn batches(&mut self) -> Result<()> {
        let (adyen, date) = (self.adyen, self.job.day.date);
        let plan = self
            .job
            .batches
            .plan(date, adyen.first_batch, adyen.probe_ahead);
        for gap in &plan.gaps {
            if self.batch(*gap, false, Vec::new()).await? {
                info!(
                    batch = gap,
                    "Adyen settlement batch {gap}, a gap an earlier day left, is there now: fetched with this day"
                );
            }
        }
        // a start a later day owns leaves this day nothing to fetch
        if self.walk(&plan, plan.start).await? || plan.end.is_some_and(|end| plan.start >= end) {
            return Ok(());
        }
        // None of the day's batches is there: its first is not delivered yet (waited for under
        // the retry policy, then exit 3); if it comes, the day goes on from it.
        self.batch(plan.start, true, Vec::new()).await?;
        self.walk(&plan, plan.start.saturating_add(1)).await?;
        Ok(())
    }

    /// The batches from `from` upward (see [`Plan`]): whether one was there.
    async fn walk(&mut self, plan: &Plan, from: u64) -> Result<bool> {
        let mut missing: Vec<u64> = Vec::new();
        let mut found = false;
        for batch in from..from.saturating_add(MAX_BATCHES_PER_RUN) {
            if plan.end.is_some_and(|end| batch >= end) {
                break;
            }
            if plan.others.contains(&batch) {
                missing.clear();
                continue;
            }
            if self.batch(batch, false, missing.clone()).await? {
                if !missing.is_empty() {
                    warn!(
                        batch,
                        missing = ?missing,
                        "Adyen settlement batch numbers {missing:?} are not there while batch {batch} is: a gap in the numbering (later days probe them again while within probe_ahead)"
                    );
                }
                missing.clear();
                found = true;
                continue;
            }
            missing.push(batch);
            if missing.len() as u64 > self.adyen.probe_ahead {
                break;
            }
        }
        Ok(found)
    }

    /// Batch `batch`: whether it was there (fetched and kept).
    async fn batch(&mut self, batch: u64, required: bool, skipped: Vec<u64>) -> Result<bool> {
        let name = self.adyen.name(self.job.day.date, Some(batch));
        self.one(name, Some((batch, skipped)), required).await
    }

    /// The file `name`: whether it was there; not there is an error when `required`.
    async fn one(
        &mut self,
        name: String,
        batch: Option<(u64, Vec<u64>)>,
        required: bool,
    ) -> Result<bool> {
        let url = self.adyen.url(&name);
        let target = self.job.kept_path(&name);
        let (result, attempts) =
            fetch(self.job, &url, self.auth, self.advice, &target, required).await;
        self.acquired.attempts = self.acquired.attempts.max(attempts);
        let Some((kept, final_url)) = result? else {
            return Ok(false);
        };
        self.files.push(ReportFile {
            name: url.clone(),
            path: target.clone(),
        });
        let (batch, skipped_batches) = match batch {
            Some((batch, skipped)) => (Some(batch), skipped),
            None => (None, Vec::new()),
        };
        self.acquired.downloads.push(Download {
            source: url,
            file: target.display().to_string(),
            sha256: kept.sha256,
            bytes: kept.bytes,
            attempts,
            batch,
            skipped_batches,
            final_url,
        });
        Ok(true)
    }
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
) -> (Result<Option<super::Landed>>, u32) {
    let shown = format!("downloading {url}");
    let hint = Cell::new(None);
    with_retries_hinted(job.policy, "Adyen report download", &hint, || async {
        let client = http::client(job.tls_ca_file, auth)?;
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
        let final_url = http::redirected_to(&response, url);
        let kept = http::save(response, &shown, target, job.keep_rules()).await?;
        Ok(Some((kept, final_url)))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn plan(gaps: &[u64], start: u64, end: Option<u64>, others: &[u64]) -> Plan {
        Plan {
            gaps: gaps.to_vec(),
            start,
            end,
            others: others.iter().copied().collect(),
        }
    }

    #[test]
    fn a_day_starts_after_the_last_earlier_batch_or_at_its_own_and_stops_before_a_later_days() {
        let history = BatchHistory {
            fetched: vec![(d(18), 5), (d(19), 6), (d(19), 7), (d(21), 9)],
        };
        assert_eq!(
            history.plan(d(20), 1, 0),
            plan(&[], 8, Some(9), &[5, 6, 7, 9])
        );
        assert_eq!(history.plan(d(19), 1, 0), plan(&[], 6, Some(9), &[5, 9]));
        assert_eq!(
            history.plan(d(22), 1, 0),
            plan(&[], 10, None, &[5, 6, 7, 9])
        );
        assert_eq!(
            BatchHistory::default().plan(d(20), 42, 5),
            plan(&[], 42, None, &[])
        );
    }

    #[test]
    fn gaps_earlier_days_left_are_probed_again_while_within_probe_ahead() {
        // the 19th took 6 and 9 (7 and 8 were not there); the 20th took 10; 4 is before
        // the first batch
        let history = BatchHistory {
            fetched: vec![(d(19), 6), (d(19), 9), (d(20), 10)],
        };
        assert_eq!(
            history.plan(d(21), 4, 5),
            plan(&[7, 8], 11, None, &[6, 9, 10])
        );
        assert_eq!(history.plan(d(21), 4, 2), plan(&[], 11, None, &[6, 9, 10]));
        assert_eq!(history.plan(d(21), 4, 3), plan(&[8], 11, None, &[6, 9, 10]));
        // a later day that took a gap: a rerun of the 20th fetches its own and stops at none
        // of it, the gap owned by the 22nd
        let history = BatchHistory {
            fetched: vec![(d(19), 6), (d(20), 8), (d(21), 9), (d(22), 7), (d(22), 10)],
        };
        assert_eq!(
            history.plan(d(20), 6, 5),
            plan(&[], 8, Some(9), &[6, 7, 9, 10])
        );
        assert_eq!(history.plan(d(22), 6, 5), plan(&[], 7, None, &[6, 8, 9]));
    }

    #[test]
    fn file_names_and_their_placeholders() {
        let adyen = |file: &str, probe_ahead: u64| AdyenDownload {
            base_url: default_base_url(),
            merchant_account: Some("AcmeEU".to_string()),
            company_account: None,
            file: file.to_string(),
            first_batch: 1,
            probe_ahead,
            api_key_env: Some("K".to_string()),
            report_user: None,
            password_env: None,
        };
        let named = adyen("settlement_detail_report_batch_{batch}_{yyyy_mm_dd}.csv", 5);
        assert_eq!(named.validate(), Ok(()));
        assert_eq!(
            named.name(d(20), Some(8)),
            "settlement_detail_report_batch_8_2026_11_20.csv"
        );
        let daily = adyen("settlement_detail_report_{date}_{yyyymmdd}.csv", 5);
        assert_eq!(
            daily.name(d(20), None),
            "settlement_detail_report_2026-11-20_20261120.csv"
        );
        assert_eq!(
            adyen("report_{yyyy-mm-dd}.csv", 5).validate(),
            Err("file \"report_{yyyy-mm-dd}.csv\": unknown placeholder {yyyy-mm-dd} (use {batch}, {date}, {yyyymmdd}, {yyyy_mm_dd})".to_string())
        );
        assert_eq!(
            adyen("settlement_detail_report.csv", 5).validate(),
            Err("file \"settlement_detail_report.csv\" names no batch and no day: give {batch} (settlement detail reports) or a date ({date}, {yyyymmdd}, {yyyy_mm_dd})".to_string())
        );
        assert_eq!(
            adyen("b_{batch}.csv", 51).validate(),
            Err("probe_ahead = 51: at most 50 (each number is a request in every run)".to_string())
        );
    }
}
