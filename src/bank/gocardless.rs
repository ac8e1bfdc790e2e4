//! GoCardless Bank Account Data (formerly Nordigen, API v2) read into bank entries: an access token from the user secrets, then one account's booked and pending transactions over a date range, within the account's daily call budget.
//!
//! The contract followed is GoCardless's Bank Account Data API documentation and its help
//! centre's "Bank API Rate Limits and Rate Limit Headers":
//! - `POST {base}/api/v2/token/new/` with `{"secret_id", "secret_key"}` (from the environment,
//!   never shown) answers `{"access", …}`, sent as `Authorization: Bearer` on the next call;
//! - `GET {base}/api/v2/accounts/{id}/transactions/?date_from=YYYY-MM-DD&date_to=YYYY-MM-DD`
//!   answers `{"transactions": {"booked": […], "pending": […]}}`;
//! - a transaction's `transactionAmount` is `{"amount": "-12.34", "currency": "EUR"}`: a string,
//!   negative when money leaves the account (recon's sign as it is); `bookingDate`, `valueDate`,
//!   `transactionId` (else `internalTransactionId`) as the bank reference, `endToEndId` (unless
//!   `NOTPROVIDED`), `remittanceInformationUnstructured` or its `…Array`, and
//!   `remittanceInformationStructured` as the remittance text, `bankTransactionCode` (else
//!   `proprietaryBankTransactionCode`);
//! - banks allow as few as four calls a day per account and scope; the answers say what is left in
//!   `X-RateLimit-Account-Success-Remaining` and, in seconds, when it resets in
//!   `X-RateLimit-Account-Success-Reset` (the documentation writes them as
//!   `HTTP_X_RATELIMIT_ACCOUNT_SUCCESS_…`; both spellings are read).
//!
//! recon counts its calls per account and UTC day in the store with what the bank said is left,
//! and refuses a call that would spend the calls `reserve_calls` keeps back: a failure that is
//! not retried (exit 3, for `recon retry` once the budget resets) saying when it resets. A 429 is
//! retried after its `Retry-After` only while the budget allows another call.
//!
//! An entry's place is `gocardless:<account>/<date_from>..<date_to>` and its index in its list
//! (line, 1-based), with the list named in its pointer (`booked[0]`, `pending[1]`).

use std::cell::Cell;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use reqwest::header::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::aggregator::{SyncJob, as_statements, check_base_url, joined, quarantine};
use super::{BankEntry, Direction, EntryStatus, ParsedStatements};
use crate::error::{Error, Result};
use crate::money::{Currency, parse_major};
use crate::retry::with_retries_hinted;
use crate::settlement::fetch::http::{self, Auth};
use crate::settlement::fetch::{scrub, secret};
use crate::settlement::{Quarantined, SourceLine};
use crate::store::CallsToday;

/// The name call counts are kept under in the store.
const SOURCE: &str = "gocardless";

/// The headers saying what is left of the account's daily budget and when it resets, in the
/// spelling on the wire and in the documentation's.
const REMAINING: [&str; 2] = [
    "x-ratelimit-account-success-remaining",
    "http_x_ratelimit_account_success_remaining",
];
const RESET: [&str; 2] = [
    "x-ratelimit-account-success-reset",
    "http_x_ratelimit_account_success_reset",
];

/// `gocardless = { … }`: one account of GoCardless Bank Account Data to sync.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GoCardlessSync {
    #[serde(default = "default_base_url")]
    pub(crate) base_url: String,
    /// The account's id at GoCardless (from the requisition).
    pub(crate) account_id: String,
    pub(crate) secret_id_env: String,
    pub(crate) secret_key_env: String,
    /// Calls a day the bank allows on the account's transactions when no answer said yet.
    #[serde(default = "default_daily_calls")]
    pub(crate) daily_calls: u32,
    /// Calls of the day's budget never spent by recon (left for a person, or tomorrow's first run).
    #[serde(default = "default_reserve_calls")]
    pub(crate) reserve_calls: u32,
}

fn default_base_url() -> String {
    "https://bankaccountdata.gocardless.com".to_string()
}

fn default_daily_calls() -> u32 {
    4
}

fn default_reserve_calls() -> u32 {
    1
}

impl GoCardlessSync {
    /// What is wrong with the section, if anything.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        check_base_url("gocardless.base_url", &self.base_url)?;
        if self.account_id.trim().is_empty()
            || !self
                .account_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(format!(
                "gocardless.account_id {:?}: an account id (letters, digits, '-')",
                self.account_id
            ));
        }
        if self.reserve_calls >= self.daily_calls {
            return Err(format!(
                "gocardless.reserve_calls = {} leaves none of daily_calls = {} to spend",
                self.reserve_calls, self.daily_calls
            ));
        }
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v2/{path}", self.base_url.trim_end_matches('/'))
    }
}

#[derive(Serialize)]
struct TokenRequest<'a> {
    secret_id: &'a str,
    secret_key: &'a str,
}

#[derive(Deserialize)]
struct Token {
    access: String,
}

#[derive(Deserialize)]
struct TransactionsAnswer {
    transactions: Lists,
}

#[derive(Deserialize)]
struct Lists {
    #[serde(default)]
    booked: Vec<Box<RawValue>>,
    #[serde(default)]
    pending: Vec<Box<RawValue>>,
}

/// The fields of a transaction recon reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Transaction {
    transaction_amount: Amount,
    booking_date: Option<NaiveDate>,
    value_date: Option<NaiveDate>,
    transaction_id: Option<String>,
    internal_transaction_id: Option<String>,
    end_to_end_id: Option<String>,
    remittance_information_unstructured: Option<String>,
    #[serde(default)]
    remittance_information_unstructured_array: Vec<String>,
    remittance_information_structured: Option<String>,
    bank_transaction_code: Option<String>,
    proprietary_bank_transaction_code: Option<String>,
}

#[derive(Deserialize)]
struct Amount {
    amount: String,
    currency: String,
}

/// Syncs `account`'s transactions booked or pending from `from` to `to`: the entries (or why
/// not) and the requests' attempts.
pub(crate) async fn sync(
    account: &GoCardlessSync,
    job: &SyncJob<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> (Result<ParsedStatements>, u32) {
    let secret_id = match secret(job.env, &account.secret_id_env, "the GoCardless secret id") {
        Ok(s) => s,
        Err(e) => return (Err(e), 1),
    };
    let secret_key = match secret(
        job.env,
        &account.secret_key_env,
        "the GoCardless secret key",
    ) {
        Ok(s) => s,
        Err(e) => return (Err(e), 1),
    };
    // Refused before the token is asked: nothing is spent on a sync that cannot be made.
    if let Err(e) = within_budget(account, job).await {
        return (Err(e), 1);
    }
    let (token, token_attempts) = token(account, job, &secret_id, &secret_key).await;
    let scrubbed = |e: Error| scrub(scrub(e, &secret_id), &secret_key);
    let token = match token {
        Ok(token) => token,
        Err(e) => return (Err(scrubbed(e)), token_attempts),
    };
    let (answer, attempts) = transactions(account, job, &token, from, to).await;
    let parsed = answer.map(|text| {
        let origin = format!("gocardless:{}/{from}..{to}", account.account_id);
        parse(&account.account_id, &origin, &text)
    });
    (
        parsed
            .and_then(|p| p)
            .map_err(|e| scrub(scrubbed(e), &token)),
        token_attempts.saturating_add(attempts),
    )
}

/// `Ok` while the account's budget for today allows a call beyond the reserve; else the
/// refusal, saying when the budget resets.
async fn within_budget(account: &GoCardlessSync, job: &SyncJob<'_>) -> Result<()> {
    let now = Utc::now();
    let today = job
        .store
        .bank_calls_on(SOURCE, &account.account_id, now.date_naive())
        .await?;
    let left = calls_left(account, &today, now);
    if left > account.reserve_calls {
        return Ok(());
    }
    let resets = today
        .resets_at
        .filter(|at| *at > now)
        .unwrap_or_else(|| next_midnight(now));
    Err(Error::unavailable(format!(
        "GoCardless account {}: {left} call(s) of today's transactions budget left, {} kept in reserve: not synced until the budget resets at {} (then `recon retry`)",
        account.account_id,
        account.reserve_calls,
        resets.format("%Y-%m-%dT%H:%M:%SZ")
    )))
}

/// The calls left today: what the bank last said, unless its reset has passed since; else the
/// configured budget less the calls recon made.
fn calls_left(account: &GoCardlessSync, today: &CallsToday, now: DateTime<Utc>) -> u32 {
    let reset_passed = today.resets_at.is_some_and(|at| at <= now);
    match today.remaining {
        Some(remaining) if !reset_passed => remaining,
        _ if reset_passed => account.daily_calls,
        _ => account.daily_calls.saturating_sub(today.calls),
    }
}

fn next_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .unwrap_or(now)
}

/// An access token for the user secrets, retried under the job's policy.
async fn token(
    account: &GoCardlessSync,
    job: &SyncJob<'_>,
    secret_id: &str,
    secret_key: &str,
) -> (Result<String>, u32) {
    let url = account.url("token/new/");
    let shown = "GoCardless Bank Account Data token".to_string();
    let body = match serde_json::to_vec(&TokenRequest {
        secret_id,
        secret_key,
    }) {
        Ok(body) => body,
        Err(e) => return (Err(Error::internal(format!("{shown}: {e}"))), 1),
    };
    let hint = Cell::new(None);
    with_retries_hinted(job.policy, "gocardless token", &hint, || async {
        let client = http::client(job.tls_ca_file, &Auth::None)?;
        let request = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        let response = http::send(job.breakers, request, &shown).await?;
        let response = http::successful(
            response,
            &shown,
            &hint,
            "check the GoCardless secret id and secret key",
            explain,
        )
        .await?;
        let text = response
            .text()
            .await
            .map_err(|e| Error::unavailable(format!("{shown}: reading the answer: {e}")))?;
        serde_json::from_str::<Token>(&text)
            .map(|t| t.access)
            .map_err(|e| Error::bad_input(format!("{shown}: not a token answer: {e}")))
    })
    .await
}

/// The transactions answer's text, each attempt counted against the account's budget and
/// refused when it would spend the reserve.
async fn transactions(
    account: &GoCardlessSync,
    job: &SyncJob<'_>,
    token: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> (Result<String>, u32) {
    let url = account.url(&format!(
        "accounts/{}/transactions/?date_from={from}&date_to={to}",
        account.account_id
    ));
    let shown = format!("GoCardless transactions of account {}", account.account_id);
    let auth = Auth::Bearer(token.to_string());
    let hint = Cell::new(None);
    // A refusal ends the retries (it is not transient inside them) and is reported as one.
    let refused = Cell::new(false);
    let (result, attempts) =
        with_retries_hinted(job.policy, "gocardless transactions", &hint, || async {
            if let Err(e) = within_budget(account, job).await {
                refused.set(true);
                return Err(Error::bad_input(e.to_string()));
            }
            let client = http::client(job.tls_ca_file, &auth)?;
            let response =
                http::send(job.breakers, auth.apply(client.get(&url)), &shown).await?;
            let (remaining, resets_at) = budget_said(response.headers(), Utc::now());
            job.store
                .count_bank_call(
                    SOURCE,
                    &account.account_id,
                    Utc::now().date_naive(),
                    remaining,
                    resets_at,
                )
                .await?;
            let response = http::successful(
                response,
                &shown,
                &hint,
                "check the GoCardless secret id and secret key, and the requisition's access to the account",
                explain,
            )
            .await?;
            response
                .text()
                .await
                .map_err(|e| Error::unavailable(format!("{shown}: reading the answer: {e}")))
        })
        .await;
    let result = match result {
        Err(e) if refused.get() => Err(Error::unavailable(e.to_string())),
        other => other,
    };
    (result, attempts)
}

/// What an answer says is left of the account's daily budget, and when it resets.
fn budget_said(headers: &HeaderMap, now: DateTime<Utc>) -> (Option<u32>, Option<DateTime<Utc>>) {
    let number = |names: [&str; 2]| {
        names.iter().find_map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok())
        })
    };
    let resets_at = number(RESET).map(|secs| now + Duration::seconds(i64::from(secs)));
    (number(REMAINING), resets_at)
}

/// GoCardless's own words for a failure: `summary` and `detail`.
fn explain(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Failure {
        summary: Option<String>,
        detail: Option<String>,
    }
    let failure: Failure = serde_json::from_str(body).ok()?;
    joined([failure.summary.as_deref(), failure.detail.as_deref()])
}

/// The transactions answer `text` as entries of `account`, each read or quarantined.
pub(crate) fn parse(account: &str, origin: &str, text: &str) -> Result<ParsedStatements> {
    let answer: TransactionsAnswer = serde_json::from_str(text)
        .map_err(|e| Error::bad_input(format!("{origin}: not a transactions answer: {e}")))?;
    let path: Arc<str> = Arc::from(origin);
    let account: Arc<str> = Arc::from(account);
    let mut entries = Vec::new();
    let mut quarantined: Vec<Quarantined> = Vec::new();
    let lists = [
        ("booked", EntryStatus::Booked, &answer.transactions.booked),
        (
            "pending",
            EntryStatus::Pending,
            &answer.transactions.pending,
        ),
    ];
    for (list, status, transactions) in lists {
        for (index, raw) in transactions.iter().enumerate() {
            let source = SourceLine {
                path: path.clone(),
                line: index as u64 + 1,
            };
            let pointer = format!("{list}[{index}]");
            match entry_of(raw.get(), &account, status, source.clone(), pointer) {
                Ok(entry) => entries.push(entry),
                Err(reason) => quarantined.push(quarantine(source, reason, raw.get())),
            }
        }
    }
    Ok(as_statements("gocardless", origin, entries, quarantined))
}

/// One transaction as a bank entry, or why not.
fn entry_of(
    raw: &str,
    account: &Arc<str>,
    status: EntryStatus,
    source: SourceLine,
    pointer: String,
) -> std::result::Result<BankEntry, String> {
    let t: Transaction =
        serde_json::from_str(raw).map_err(|e| format!("not a transaction: {e}"))?;
    let currency = Currency::parse(&t.transaction_amount.currency)
        .map_err(|e| format!("transactionAmount.currency: {e}"))?;
    let text = &t.transaction_amount.amount;
    let amount_minor =
        parse_major(text, currency, '.').map_err(|e| format!("transactionAmount.amount: {e}"))?;
    let booking_date = match (status, t.booking_date, t.value_date) {
        (_, Some(date), _) => date,
        (EntryStatus::Pending, None, Some(date)) => date,
        _ => return Err("no bookingDate".to_string()),
    };
    let unstructured = match t.remittance_information_unstructured_array.is_empty() {
        true => None,
        false => Some(t.remittance_information_unstructured_array.join(" ")),
    };
    Ok(BankEntry {
        account: account.clone(),
        amount_minor,
        currency,
        direction: if amount_minor < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        reversal: false,
        status,
        booking_date,
        value_date: t.value_date,
        bank_ref: t.transaction_id.or(t.internal_transaction_id),
        customer_ref: None,
        end_to_end_id: t.end_to_end_id.filter(|id| id != "NOTPROVIDED"),
        remittance: joined([
            t.remittance_information_unstructured.as_deref(),
            unstructured.as_deref(),
            t.remittance_information_structured.as_deref(),
        ]),
        bank_tx_code: t
            .bank_transaction_code
            .or(t.proprietary_bank_transaction_code),
        source,
        pointer: Some(pointer),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(daily_calls: u32, reserve_calls: u32) -> GoCardlessSync {
        GoCardlessSync {
            base_url: default_base_url(),
            account_id: "acc".to_string(),
            secret_id_env: "ID".to_string(),
            secret_key_env: "KEY".to_string(),
            daily_calls,
            reserve_calls,
        }
    }

    #[test]
    fn the_budget_left_is_what_the_bank_said_until_it_resets() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let gc = account(4, 1);
        let counted = CallsToday {
            calls: 3,
            remaining: None,
            resets_at: None,
        };
        assert_eq!(calls_left(&gc, &counted, now), 1);
        let said = CallsToday {
            calls: 1,
            remaining: Some(0),
            resets_at: Some(now + Duration::hours(2)),
        };
        assert_eq!(calls_left(&gc, &said, now), 0);
        let passed = CallsToday {
            resets_at: Some(now - Duration::seconds(1)),
            ..said
        };
        assert_eq!(calls_left(&gc, &passed, now), 4);
        assert_eq!(next_midnight(now).to_rfc3339(), "2026-12-02T00:00:00+00:00");
    }

    #[test]
    fn budget_headers_are_read_in_both_spellings() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ratelimit-account-success-remaining",
            "2".parse().unwrap(),
        );
        headers.insert(
            "http_x_ratelimit_account_success_reset",
            "3600".parse().unwrap(),
        );
        assert_eq!(
            budget_said(&headers, now),
            (Some(2), Some(now + Duration::hours(1)))
        );
        assert_eq!(budget_said(&HeaderMap::new(), now), (None, None));
    }

    #[test]
    fn a_section_keeps_some_budget_to_spend() {
        assert_eq!(account(4, 1).validate(), Ok(()));
        assert_eq!(
            account(1, 1).validate(),
            Err("gocardless.reserve_calls = 1 leaves none of daily_calls = 1 to spend".to_string())
        );
    }
}
