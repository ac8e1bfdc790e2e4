//! Plaid's `/transactions/sync` read into bank entries: every page from the stored cursor, restarted on a mutation during pagination, with Plaid's sign turned into ours.
//!
//! The contract followed is Plaid's API reference for `/transactions/sync` and its Transactions
//! errors page:
//! - request: `POST {base}/transactions/sync` with a JSON body `client_id`, `secret`,
//!   `access_token` (all three from the environment, never shown), `cursor` (left out on the
//!   first sync of an item) and `count` (1 to 500);
//! - response: `added` and `modified` (transactions), `removed` (`{transaction_id}`),
//!   `next_cursor`, `has_more`; while `has_more` the next page is asked with `next_cursor`;
//! - a `400` with `error_code` `TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION` means the data
//!   changed while paging: the whole sync restarts from the cursor it started with;
//! - `429` (`RATE_LIMIT_EXCEEDED`) and `5xx` pass: retried under the run's policy, honouring a
//!   `Retry-After`.
//!
//! A transaction's `amount` is a JSON number in major units, **positive when money leaves the
//! account**: it is read from its own digits (never through a float) and negated, so a credit is
//! positive as everywhere in recon. `iso_currency_code` gives the currency; a transaction with
//! only an `unofficial_currency_code` (a cryptocurrency, say) is quarantined, as it is no ISO
//! 4217 currency. `date` is the booking date, `pending` makes a pending entry, and a posted
//! transaction's `pending_transaction_id` names the pending one it replaces: that one is dropped
//! from the sync's entries and listed as superseded. `transaction_id` is the bank reference,
//! `payment_meta.reference_number` (else `ppd_id`) the customer reference, `name`,
//! `merchant_name` and `original_description` the remittance text, `transaction_code` the bank
//! transaction code. An entry's place is `plaid:<item>/<page>` and its index in that page's list
//! (line, 1-based), with the list named in its pointer (`added[2]`).
//!
//! A sync returns every change since the item's cursor, not one day's entries: the morning after
//! D it also returns D+1's. [`entries_booked_on`] therefore keeps each sync's entries in the store
//! by transaction id (replacing modified ones; deleting removed ones, superseded pending ones and
//! those whose new version is quarantined) in the transaction that moves the cursor, and hands a
//! day's run the kept entries booked on its day. [`sync`] and [`commit`] remain the two halves for a caller that handles a sync itself:
//! the cursor moves only once the entries are handled, so a run that fails fetches them again.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;

use chrono::NaiveDate;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::aggregator::{SyncJob, as_statements, check_base_url, joined, quarantine};
use super::kept::{entry_of_synced, synced_of};
use super::{BankEntry, Direction, EntryStatus, ParsedStatements};
use crate::error::{Error, Result};
use crate::money::{Currency, parse_major};
use crate::retry::with_retries_hinted;
use crate::settlement::fetch::http::{self, Auth};
use crate::settlement::fetch::{scrub, secret};
use crate::settlement::{Quarantined, SourceLine};

/// The name cursors are kept under in the store.
const SOURCE: &str = "plaid";

/// Plaid's error code for data that changed while a sync was paging.
const MUTATION_DURING_PAGINATION: &str = "TRANSACTIONS_SYNC_MUTATION_DURING_PAGINATION";

/// Restarts of one sync after a mutation during pagination before it is left for a later run.
const MAX_RESTARTS: u32 = 3;

/// Pages one sync reads at most: a bound on the loop, far above an item's day of changes.
const MAX_PAGES: u32 = 10_000;

/// `plaid = { … }`: one Plaid item (a login at one institution) to sync.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlaidSync {
    #[serde(default = "default_base_url")]
    pub(crate) base_url: String,
    /// The item's name in places, records and the store: never its access token.
    pub(crate) item: String,
    pub(crate) client_id_env: String,
    pub(crate) secret_env: String,
    pub(crate) access_token_env: String,
    /// Changes asked per page (Plaid: 1 to 500).
    #[serde(default = "default_count")]
    pub(crate) count: u32,
}

fn default_base_url() -> String {
    "https://production.plaid.com".to_string()
}

fn default_count() -> u32 {
    500
}

impl PlaidSync {
    /// What is wrong with the section, if anything.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        check_base_url("plaid.base_url", &self.base_url)?;
        if !(1..=500).contains(&self.count) {
            return Err(format!(
                "plaid.count = {}: Plaid takes 1 to 500",
                self.count
            ));
        }
        if self.item.trim().is_empty() || self.item.contains(['/', ':']) {
            return Err(format!(
                "plaid.item {:?}: a name without '/' or ':'",
                self.item
            ));
        }
        Ok(())
    }
}

/// The three secrets a request carries; never printed.
struct Credentials {
    client_id: String,
    secret: String,
    access_token: String,
}

impl Credentials {
    fn from_env(sync: &PlaidSync, job: &SyncJob<'_>) -> Result<Credentials> {
        Ok(Credentials {
            client_id: secret(job.env, &sync.client_id_env, "the Plaid client id")?,
            secret: secret(job.env, &sync.secret_env, "the Plaid secret")?,
            access_token: secret(job.env, &sync.access_token_env, "the Plaid access token")?,
        })
    }

    /// `e` with none of the secrets in it: a server may echo what it was sent.
    fn scrubbed(&self, e: Error) -> Error {
        [&self.client_id, &self.secret, &self.access_token]
            .into_iter()
            .fold(e, |e, s| scrub(e, s))
    }
}

/// The request body of `/transactions/sync`.
#[derive(Serialize)]
struct SyncRequest<'a> {
    client_id: &'a str,
    secret: &'a str,
    access_token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cursor: Option<&'a str>,
    count: u32,
}

/// One page as Plaid sends it; transactions kept as their JSON text until mapped.
#[derive(Deserialize)]
struct Page {
    added: Vec<Box<RawValue>>,
    modified: Vec<Box<RawValue>>,
    removed: Vec<Removed>,
    next_cursor: String,
    has_more: bool,
}

#[derive(Deserialize)]
struct Removed {
    transaction_id: String,
}

/// The fields of a Plaid error body recon reads.
#[derive(Deserialize, Default)]
struct PlaidError {
    #[serde(default)]
    error_type: String,
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    error_message: String,
}

/// The fields of a Plaid transaction recon reads.
#[derive(Deserialize)]
struct Transaction<'a> {
    transaction_id: String,
    account_id: String,
    #[serde(borrow)]
    amount: &'a RawValue,
    iso_currency_code: Option<String>,
    unofficial_currency_code: Option<String>,
    date: NaiveDate,
    #[serde(default)]
    pending: bool,
    pending_transaction_id: Option<String>,
    name: Option<String>,
    merchant_name: Option<String>,
    original_description: Option<String>,
    payment_meta: Option<PaymentMeta>,
    transaction_code: Option<String>,
}

#[derive(Deserialize)]
struct PaymentMeta {
    reference_number: Option<String>,
    ppd_id: Option<String>,
}

/// A posted transaction and the pending one it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Superseded {
    pub(crate) pending_id: String,
    pub(crate) posted_id: String,
}

/// What one sync of an item returned: its entries, what they change, and where it ends.
#[derive(Debug)]
pub(crate) struct PlaidChanges {
    /// The entries of `added` and `modified`, and the transactions that could not be read.
    pub(crate) parsed: ParsedStatements,
    /// Transaction ids of entries in `parsed` that are a new version of one already seen.
    pub(crate) modified: Vec<String>,
    /// Transaction ids Plaid removed (a pending one that was posted, a cancelled one).
    pub(crate) removed: Vec<String>,
    /// Transaction ids of the quarantined transactions that name one: a version kept from an
    /// earlier sync is outdated by them.
    pub(crate) unreadable: Vec<String>,
    /// Posted transactions and the pending ones they replace.
    pub(crate) superseded: Vec<Superseded>,
    /// Pending transactions of this sync dropped because their posted one came in it too.
    pub(crate) pending_dropped: u64,
    /// Transactions met in `added` and `modified`.
    pub(crate) transactions_read: u64,
    /// The cursor the sync started from (`None`: the item's first sync).
    pub(crate) start_cursor: Option<String>,
    /// Where the next sync resumes, once [`commit`]ted.
    pub(crate) next_cursor: String,
    pub(crate) pages: u32,
    /// Restarts after a mutation during pagination.
    pub(crate) restarts: u32,
}

impl PlaidChanges {
    /// Whether every transaction read is an entry, quarantined, or a dropped pending one.
    pub(crate) fn accounts_for_every_transaction(&self) -> bool {
        self.parsed.accounts_for_every_entry()
            && self.transactions_read == self.parsed.entries_read + self.pending_dropped
    }
}

/// Syncs `plaid`'s item from the cursor kept in the store; returns its changes (or why not)
/// and the requests' attempts. The cursor is not moved: see [`commit`].
pub(crate) async fn sync(plaid: &PlaidSync, job: &SyncJob<'_>) -> (Result<PlaidChanges>, u32) {
    let credentials = match Credentials::from_env(plaid, job) {
        Ok(c) => c,
        Err(e) => return (Err(e), 1),
    };
    let start = match job.store.bank_sync_cursor(SOURCE, &plaid.item).await {
        Ok(start) => start,
        Err(e) => return (Err(e), 1),
    };
    let attempts = Cell::new(0u32);
    let fetched = fetch_pages(plaid, job, &credentials, start.as_deref(), &attempts).await;
    let changes = fetched.map(|(pages, restarts)| {
        let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
        let next = pages
            .last()
            .map(|p| p.next_cursor.clone())
            .unwrap_or_default();
        let mut changes = changes_of(&plaid.item, &pages);
        changes.start_cursor = start;
        changes.next_cursor = next;
        changes.pages = count;
        changes.restarts = restarts;
        changes
    });
    (
        changes.map_err(|e| credentials.scrubbed(e)),
        attempts.get().max(1),
    )
}

/// Keeps where `changes` ended as where `plaid`'s item resumes: called once its entries are handled.
pub(crate) async fn commit(
    plaid: &PlaidSync,
    job: &SyncJob<'_>,
    changes: &PlaidChanges,
) -> Result<()> {
    job.store
        .save_bank_sync_cursor(SOURCE, &plaid.item, &changes.next_cursor)
        .await
}

/// Syncs `plaid`'s item from its stored cursor, keeps the sync's changes in the store with the
/// cursor it ended at (one transaction: all or nothing), and returns the entries kept for the
/// item that are booked on `day` (posted and pending, whichever sync brought them, each at the
/// place it was read) with this sync's quarantined transactions, reported once; and the
/// requests' attempts. A failed sync or store keeps nothing and leaves the cursor.
pub(crate) async fn entries_booked_on(
    plaid: &PlaidSync,
    job: &SyncJob<'_>,
    day: NaiveDate,
) -> (Result<ParsedStatements>, u32) {
    let (changes, attempts) = sync(plaid, job).await;
    let parsed = match changes {
        Ok(changes) => keep_and_read(plaid, job, changes, day).await,
        Err(e) => Err(e),
    };
    (parsed, attempts)
}

/// Keeps `changes` and reads the entries kept for `day`: see [`entries_booked_on`].
async fn keep_and_read(
    plaid: &PlaidSync,
    job: &SyncJob<'_>,
    changes: PlaidChanges,
    day: NaiveDate,
) -> Result<ParsedStatements> {
    let PlaidChanges {
        parsed,
        removed,
        unreadable,
        superseded,
        next_cursor,
        ..
    } = changes;
    let upserts = parsed
        .statements
        .iter()
        .flat_map(|s| &s.entries)
        .map(|e| synced_of(SOURCE, &plaid.item, e))
        .collect::<Result<Vec<_>>>()?;
    // Plaid removes a pending transaction once posted; its posted one naming it is reason
    // enough, whichever sync the pending one was kept from. A version kept of a transaction
    // this sync quarantined is outdated: the quarantine reports it now.
    let gone: Vec<String> = removed
        .into_iter()
        .chain(superseded.into_iter().map(|s| s.pending_id))
        .chain(unreadable)
        .collect();
    job.store
        .keep_plaid_sync(SOURCE, &plaid.item, &upserts, &gone, &next_cursor)
        .await?;
    let entries = job
        .store
        .synced_entries_booked_on(SOURCE, &plaid.item, day)
        .await?
        .into_iter()
        .map(|kept| entry_of_synced(SOURCE, &plaid.item, kept))
        .collect::<Result<Vec<_>>>()?;
    Ok(as_statements(
        "plaid",
        &format!("plaid:{}", plaid.item),
        entries,
        parsed.quarantined,
    ))
}

/// What one request for a page got.
enum Answer {
    Page(Page),
    /// The data changed while paging: start again from the sync's first cursor.
    Restart,
}

/// Every page from `start` until `has_more` is false, restarting on a mutation during
/// pagination; with the restarts made.
async fn fetch_pages(
    plaid: &PlaidSync,
    job: &SyncJob<'_>,
    credentials: &Credentials,
    start: Option<&str>,
    attempts: &Cell<u32>,
) -> Result<(Vec<Page>, u32)> {
    let mut restarts = 0;
    'sync: loop {
        let mut pages: Vec<Page> = Vec::new();
        let mut cursor = start.map(str::to_string);
        while pages.len() < MAX_PAGES as usize {
            let (answer, tries) = page(plaid, job, credentials, cursor.as_deref()).await;
            attempts.set(attempts.get().saturating_add(tries));
            match answer? {
                Answer::Page(page) => {
                    let more = page.has_more;
                    cursor = Some(page.next_cursor.clone());
                    pages.push(page);
                    if !more {
                        return Ok((pages, restarts));
                    }
                }
                Answer::Restart if restarts < MAX_RESTARTS => {
                    restarts += 1;
                    tracing::warn!(
                        item = %plaid.item,
                        restart = restarts,
                        "Plaid transactions changed during pagination; the sync starts again from its first cursor"
                    );
                    continue 'sync;
                }
                Answer::Restart => {
                    return Err(Error::unavailable(format!(
                        "Plaid item {}: transactions changed during pagination {} times in a row; left for a later run (the cursor is unchanged)",
                        plaid.item,
                        restarts + 1
                    )));
                }
            }
        }
        return Err(Error::bad_input(format!(
            "Plaid item {}: more than {MAX_PAGES} pages in one sync (has_more never ended)",
            plaid.item
        )));
    }
}

/// One page from `cursor`, retried under the job's policy.
async fn page(
    plaid: &PlaidSync,
    job: &SyncJob<'_>,
    credentials: &Credentials,
    cursor: Option<&str>,
) -> (Result<Answer>, u32) {
    let url = format!("{}/transactions/sync", plaid.base_url.trim_end_matches('/'));
    let shown = format!("Plaid /transactions/sync of item {}", plaid.item);
    let body = SyncRequest {
        client_id: &credentials.client_id,
        secret: &credentials.secret,
        access_token: &credentials.access_token,
        cursor,
        count: plaid.count,
    };
    let body = match serde_json::to_vec(&body) {
        Ok(body) => body,
        Err(e) => return (Err(Error::internal(format!("{shown}: {e}"))), 1),
    };
    let hint = Cell::new(None);
    with_retries_hinted(job.policy, "plaid transactions sync", &hint, || async {
        let client = http::client(job.tls_ca_file, &Auth::None)?;
        let request = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone());
        let response = http::send(job.breakers, request, &shown).await?;
        if response.status() == StatusCode::BAD_REQUEST {
            let text = response.text().await.unwrap_or_default();
            let error: PlaidError = serde_json::from_str(&text).unwrap_or_default();
            if error.error_code == MUTATION_DURING_PAGINATION {
                return Ok(Answer::Restart);
            }
            return Err(Error::bad_input(format!(
                "{shown}: HTTP 400{}",
                explain(&text).map(|m| format!(": {m}")).unwrap_or_default()
            )));
        }
        let response = http::successful(
            response,
            &shown,
            &hint,
            "check the Plaid client id, secret and access token",
            explain,
        )
        .await?;
        let text = response
            .text()
            .await
            .map_err(|e| Error::unavailable(format!("{shown}: reading the answer: {e}")))?;
        serde_json::from_str(&text)
            .map(Answer::Page)
            .map_err(|e| Error::bad_input(format!("{shown}: not a /transactions/sync answer: {e}")))
    })
    .await
}

/// Plaid's own words for a failure: `error_type`, `error_code` and `error_message`.
fn explain(body: &str) -> Option<String> {
    let error: PlaidError = serde_json::from_str(body).ok()?;
    (!error.error_code.is_empty()).then(|| {
        format!(
            "{} {}: {}",
            error.error_type, error.error_code, error.error_message
        )
    })
}

/// One `/transactions/sync` answer, `text`, mapped as a sync maps its pages (the fuzz target's
/// door); `Err` when it is no such answer.
pub(crate) fn read_page(item: &str, text: &str) -> std::result::Result<PlaidChanges, String> {
    let page: Page = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(changes_of(item, &[page]))
}

/// A transaction mapped, with the pending one it replaces.
struct Mapped {
    entry: BankEntry,
    replaces: Option<String>,
    modified: bool,
}

/// The entries of `pages` in order (`added`, then `modified`, page by page), pending ones whose
/// posted transaction came in the same sync dropped.
fn changes_of(item: &str, pages: &[Page]) -> PlaidChanges {
    let mut mapped: Vec<Mapped> = Vec::new();
    let mut quarantined: Vec<Quarantined> = Vec::new();
    let mut removed = Vec::new();
    let mut unreadable = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        let path: Arc<str> = Arc::from(format!("plaid:{item}/{}", n + 1));
        for (list, transactions) in [("added", &page.added), ("modified", &page.modified)] {
            for (index, raw) in transactions.iter().enumerate() {
                let source = SourceLine {
                    path: path.clone(),
                    line: index as u64 + 1,
                };
                let pointer = format!("{list}[{index}]");
                match entry_of(raw.get(), source.clone(), pointer) {
                    Ok((entry, replaces)) => mapped.push(Mapped {
                        entry,
                        replaces,
                        modified: list == "modified",
                    }),
                    Err(reason) => {
                        unreadable.extend(transaction_id_of(raw.get()));
                        quarantined.push(quarantine(source, reason, raw.get()));
                    }
                }
            }
        }
        removed.extend(page.removed.iter().map(|r| r.transaction_id.clone()));
    }
    let transactions_read = (mapped.len() + quarantined.len()) as u64;
    let superseded: Vec<Superseded> = mapped
        .iter()
        .filter_map(|m| {
            Some(Superseded {
                pending_id: m.replaces.clone()?,
                posted_id: m.entry.bank_ref.clone()?,
            })
        })
        .collect();
    let replaced: HashSet<&str> = superseded.iter().map(|s| s.pending_id.as_str()).collect();
    let (dropped, kept): (Vec<&Mapped>, Vec<&Mapped>) = mapped.iter().partition(|m| {
        m.entry.status == EntryStatus::Pending
            && m.entry
                .bank_ref
                .as_deref()
                .is_some_and(|id| replaced.contains(id))
    });
    let modified = kept
        .iter()
        .filter(|m| m.modified)
        .filter_map(|m| m.entry.bank_ref.clone())
        .collect();
    let entries = kept.iter().map(|m| m.entry.clone()).collect();
    PlaidChanges {
        parsed: as_statements("plaid", &format!("plaid:{item}"), entries, quarantined),
        modified,
        removed,
        unreadable,
        superseded,
        pending_dropped: dropped.len() as u64,
        transactions_read,
        start_cursor: None,
        next_cursor: String::new(),
        pages: 0,
        restarts: 0,
    }
}

/// The `transaction_id` of a transaction that could not be read, when it names one.
fn transaction_id_of(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Named {
        transaction_id: String,
    }
    serde_json::from_str::<Named>(raw)
        .ok()
        .map(|n| n.transaction_id)
}

/// One Plaid transaction as a bank entry, with the pending transaction it replaces; or why not.
fn entry_of(
    raw: &str,
    source: SourceLine,
    pointer: String,
) -> std::result::Result<(BankEntry, Option<String>), String> {
    let t: Transaction<'_> =
        serde_json::from_str(raw).map_err(|e| format!("not a Plaid transaction: {e}"))?;
    let currency = match (&t.iso_currency_code, &t.unofficial_currency_code) {
        (Some(code), _) => Currency::parse(code).map_err(|e| format!("iso_currency_code: {e}"))?,
        (None, Some(unofficial)) => {
            return Err(format!(
                "unofficial_currency_code {unofficial:?} is not an ISO 4217 currency; recon keeps amounts in ISO 4217 currencies only"
            ));
        }
        (None, None) => return Err("no iso_currency_code".to_string()),
    };
    let text = t.amount.get();
    if !text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        return Err(format!("amount {text} is not a JSON number"));
    }
    let outflow = parse_major(text, currency, '.').map_err(|e| format!("amount {text}: {e}"))?;
    // Plaid: positive is money out of the account; recon: positive is money in.
    let amount_minor = outflow
        .checked_neg()
        .ok_or_else(|| format!("amount {text} is out of range"))?;
    let meta = t.payment_meta.as_ref();
    let entry = BankEntry {
        account: Arc::from(t.account_id.as_str()),
        amount_minor,
        currency,
        direction: if amount_minor < 0 {
            Direction::Debit
        } else {
            Direction::Credit
        },
        reversal: false,
        status: if t.pending {
            EntryStatus::Pending
        } else {
            EntryStatus::Booked
        },
        booking_date: t.date,
        value_date: None,
        bank_ref: Some(t.transaction_id),
        customer_ref: meta.and_then(|m| m.reference_number.clone().or_else(|| m.ppd_id.clone())),
        end_to_end_id: None,
        remittance: joined([
            t.name.as_deref(),
            t.merchant_name.as_deref(),
            t.original_description.as_deref(),
        ]),
        bank_tx_code: t.transaction_code,
        source,
        pointer: Some(pointer),
    };
    let replaces = t.pending_transaction_id.filter(|_| !t.pending);
    Ok((entry, replaces))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place() -> SourceLine {
        SourceLine {
            path: Arc::from("plaid:main/1"),
            line: 1,
        }
    }

    #[test]
    fn plaid_amounts_are_read_exactly_and_their_sign_turned() {
        let amount = |text: &str, currency: &str| {
            let raw = format!(
                r#"{{"transaction_id":"t","account_id":"a","amount":{text},"iso_currency_code":{currency},"unofficial_currency_code":null,"date":"2026-12-01","pending":false}}"#
            );
            entry_of(&raw, place(), "added[0]".to_string()).map(|(e, _)| e.amount_minor)
        };
        assert_eq!(amount("12.3", r#""USD""#), Ok(-1230));
        assert_eq!(amount("-500", r#""USD""#), Ok(50000));
        assert_eq!(amount("0.1", r#""USD""#), Ok(-10));
        assert_eq!(amount("1234", r#""JPY""#), Ok(-1234));
        assert_eq!(
            amount("12.345", r#""USD""#),
            Err("amount 12.345: `12.345` has more decimal places than USD allows (2)".to_string())
        );
        assert_eq!(
            amount("1e3", r#""USD""#),
            Err("amount 1e3: `1e3` is not a decimal number".to_string())
        );
        assert_eq!(
            amount(r#""12.30""#, r#""USD""#),
            Err("amount \"12.30\" is not a JSON number".to_string())
        );
        assert_eq!(amount("5", "null"), Err("no iso_currency_code".to_string()));
    }

    #[test]
    fn a_quarantined_transaction_is_named_by_its_id_when_it_has_one() {
        let page = r#"{"added":[{"transaction_id":"T7","amount":1}],"modified":[{"transaction_id":"T2","account_id":"a","amount":0.0001,"iso_currency_code":null,"unofficial_currency_code":"BTC","date":"2026-12-01"},{"amount":1}],"removed":[],"next_cursor":"c","has_more":false}"#;
        let changes = read_page("main", page).unwrap();
        assert_eq!(changes.parsed.quarantined.len(), 3);
        assert_eq!(changes.unreadable, ["T7", "T2"]);
    }
}
