//! Stripe's Reporting API: a report run over the business day is created under an idempotency
//! key, polled until it has `succeeded`, and its result file downloaded, every request with the
//! secret key as a bearer token and the pinned [`STRIPE_VERSION`].
//!
//! The key carries a *generation* kept in the store: a retry within a generation resends its key
//! (Stripe answers with the run already started: never a second one), and a generation is spent —
//! the next attempt, or the next run, sends the next one — exactly when Stripe would answer its key
//! only with a result that cannot succeed: an error it replays (`Idempotent-Replayed: true`, a 500
//! saved with the key), or a report run that `failed`.

mod answers;
mod idempotency;
mod report_types;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use reqwest::{Method, RequestBuilder};
use serde::Deserialize;
use tracing::info;

use self::answers::{Finished, ReportRun, ReportType, explain, finished, parse};
use self::idempotency::{Refused, create, idempotency_key, spend};
use super::http::{self, Auth};
use super::{Acquired, Acquisition, keep::KeptFile, sanitize, secret};
use crate::error::Error;
use crate::retry::with_retries_hinted;
use crate::settlement::report::stripe::Options;

pub(crate) use report_types::RunPlan;

/// The Stripe API version every request pins (`Stripe-Version`): the report run and file objects
/// recon reads are those of this version; the report files' own layout is the report type's
/// version (`report_types`).
pub(crate) const STRIPE_VERSION: &str = "2024-06-20";

/// `stripe_api = { … }` of a `[[settlement]]` check.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StripeApi {
    /// The environment variable holding the secret (or restricted) key, `sk_live_…`/`rk_live_…`.
    pub(crate) secret_key_env: String,
    /// A version of the format's report; none: its newest (see [`report_types`]).
    #[serde(default)]
    pub(crate) report_type: Option<String>,
    /// The report's columns; empty: the report type's default set.
    #[serde(default)]
    pub(crate) columns: Vec<String>,
    /// Other run parameters, by name: `config check` says why each is not sent.
    #[serde(default, deserialize_with = "names")]
    pub(crate) parameters: Vec<String>,
    #[serde(default = "default_api_base")]
    pub(crate) api_base: String,
    /// Where result files may be downloaded from: the key is sent to no other host.
    #[serde(default = "default_files_base")]
    pub(crate) files_base: String,
    /// What the run sends, planned from the format by [`StripeApi::planned`].
    #[serde(skip)]
    pub(crate) plan: RunPlan,
}

/// The names of a table's keys (their values are never sent).
fn names<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    let table = BTreeMap::<String, serde::de::IgnoredAny>::deserialize(d)?;
    Ok(table.into_keys().collect())
}

fn default_api_base() -> String {
    "https://api.stripe.com".to_string()
}

fn default_files_base() -> String {
    "https://files.stripe.com".to_string()
}

impl StripeApi {
    /// The location with its run planned for a format with `options`; `Err` is the key to fix
    /// (`stripe_api.…` or `format_options.…`) and why.
    pub(crate) fn planned(
        &self,
        options: &Options,
    ) -> std::result::Result<StripeApi, (String, String)> {
        let plan = report_types::plan(
            self.report_type.as_deref(),
            &self.parameters,
            &self.columns,
            options,
        )?;
        Ok(StripeApi {
            plan,
            ..self.clone()
        })
    }
}

/// How far the acquisition got, kept across attempts.
#[derive(Default)]
struct Progress {
    run: Option<String>,
    file_url: Option<String>,
}

/// The form of the report run: the report type, the business day, the parameters of the plan
/// the report type takes, and the columns.
fn form(api: &StripeApi, job: &Acquisition<'_>) -> Vec<(String, String)> {
    let plan = &api.plan;
    let mut form = vec![
        ("report_type".to_string(), plan.report_type.clone()),
        (
            "parameters[interval_start]".to_string(),
            job.day.start.timestamp().to_string(),
        ),
        (
            "parameters[interval_end]".to_string(),
            job.day.end.timestamp().to_string(),
        ),
    ];
    if let Some(zone) = &plan.timezone {
        form.push(("parameters[timezone]".to_string(), zone.clone()));
    }
    if let Some(separator) = plan.decimal_separator {
        form.push((
            "parameters[decimal_separator]".to_string(),
            separator.to_string(),
        ));
    }
    for (i, column) in api.columns.iter().enumerate() {
        form.push((format!("parameters[columns][{i}]"), column.clone()));
    }
    form
}

/// A request to Stripe, authenticated and pinned to [`STRIPE_VERSION`].
pub(super) fn request(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    auth: &Auth,
) -> RequestBuilder {
    auth.apply(client.request(method, url))
        .header("Stripe-Version", STRIPE_VERSION)
}

pub(super) async fn acquire(api: &StripeApi, job: &Acquisition<'_>) -> Acquired {
    let key = match secret(job.env, &api.secret_key_env, "the Stripe secret key") {
        Ok(key) => key,
        Err(e) => return Acquired::failed(e),
    };
    let generation = match job.idempotency.current(job.check, job.day.date).await {
        Ok(generation) => Cell::new(generation),
        Err(e) => return Acquired::failed(e),
    };
    let auth = Auth::Bearer(key.clone());
    let advice = format!("check the Stripe key in {}", api.secret_key_env);
    let base = api.api_base.trim_end_matches('/');
    let report_type = &api.plan.report_type;
    let end = job.day.end.timestamp().to_string();
    let form = form(api, job);
    let target = job.kept_path(&format!("{}.csv", sanitize(report_type)));
    let progress = RefCell::new(Progress::default());
    let hint = Cell::new(None);
    let client = match http::client(job.tls_ca_file, &auth) {
        Ok(client) => client,
        Err(e) => return Acquired::failed(e),
    };
    // A GET of `url` (named `shown` in messages), through its host's breaker, that succeeded.
    let get = async |url: &str, shown: &str| {
        let sent = request(&client, Method::GET, url, &auth);
        let response = http::send(job.breakers, sent, shown).await?;
        http::successful(response, shown, &hint, &advice, explain).await
    };
    let attempt = || async {
        let known = progress.borrow().file_url.clone();
        let file_url = match known {
            Some(url) => url,
            None => {
                let created = progress.borrow().run.clone();
                let run = match created {
                    Some(id) => {
                        let shown = format!("Stripe report run {id}");
                        let url = format!("{base}/v1/reporting/report_runs/{id}");
                        let body = get(&url, &shown).await?.text().await.unwrap_or_default();
                        parse::<ReportRun>(&body, &shown)?
                    }
                    None => {
                        let shown = format!("Stripe report type {report_type}");
                        let url = format!("{base}/v1/reporting/report_types/{report_type}");
                        let body = get(&url, &shown).await?.text().await.unwrap_or_default();
                        let available = parse::<ReportType>(&body, &shown)?.data_available_end;
                        if available < job.day.end.timestamp() {
                            return Err(Error::unavailable(format!(
                                "{shown}: Stripe has data up to {available} only, the business day ends at {end} (not ready yet)"
                            )));
                        }
                        let key = idempotency_key(job, &form, generation.get());
                        let url = format!("{base}/v1/reporting/report_runs");
                        let sent = request(&client, Method::POST, &url, &auth).form(&form);
                        let run = create(job.breakers, sent, &hint, &advice, &key).await;
                        let run = match run {
                            Err(Refused::Replayed(e)) => {
                                let next = spend(job, &generation, e.to_string()).await?;
                                return Err(Error::unavailable(format!(
                                    "{e} (Stripe replays that answer for the key; the next attempt sends generation {next})"
                                )));
                            }
                            Err(Refused::Other(e)) => return Err(e),
                            Ok(run) => run,
                        };
                        info!(report_run = %run.id, %report_type, generation = generation.get(), "Stripe report run created");
                        progress.borrow_mut().run = Some(run.id.clone());
                        run
                    }
                };
                let url = match finished(run, &api.files_base) {
                    Err(Finished::Failed(e)) => {
                        spend(job, &generation, e.to_string()).await?;
                        return Err(e);
                    }
                    Err(Finished::Not(e)) => return Err(e),
                    Ok(url) => url,
                };
                progress.borrow_mut().file_url = Some(url.clone());
                url
            }
        };
        let shown = format!("downloading {file_url}");
        let response = get(&file_url, &shown).await?;
        let final_url = http::redirected_to(&response, &file_url);
        let kept: KeptFile = http::save(response, &shown, &target, job.keep_rules()).await?;
        Ok((file_url, (kept, final_url)))
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
