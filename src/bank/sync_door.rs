//! The door the integration tests open into the aggregator syncs (bank entries are crate-private): a sync run as recon runs it, from its TOML section, its outcome written out one line per entry. recon itself never calls it.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::aggregator::SyncJob;
use super::gocardless::{self, GoCardlessSync};
use super::plaid::{self, PlaidSync};
use super::{BankEntry, Direction, EntryStatus, ParsedStatements};
use crate::breaker::{BreakerPolicy, Breakers};
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::store::Store;

/// What a sync returned, written out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Synced {
    /// One line per entry: see [`line`].
    pub entries: Vec<String>,
    /// `<place> <reason> | <kept text>` per quarantined transaction.
    pub quarantined: Vec<String>,
    /// Plaid: transaction ids removed, modified, and `posted <- pending` links.
    pub removed: Vec<String>,
    pub modified: Vec<String>,
    pub superseded: Vec<String>,
    /// Plaid: where the sync started and ended, and how it paged.
    pub start_cursor: Option<String>,
    pub next_cursor: String,
    pub pages: u32,
    pub restarts: u32,
    /// Whether every transaction read is an entry, quarantined or a superseded pending one.
    pub accounted: bool,
}

/// A sync's outcome and the requests' attempts.
pub struct Outcome {
    pub result: Result<Synced>,
    pub attempts: u32,
}

/// Runs the Plaid sync of the `plaid = { … }` section `section` (its fields as TOML) against
/// `store` with credentials from `env`; with `commit`, keeps its cursor once it succeeded.
pub async fn plaid(
    section: &str,
    store: &Store,
    env: &HashMap<String, String>,
    commit: bool,
) -> Outcome {
    let sync: PlaidSync = match section_of(section, PlaidSync::validate) {
        Ok(sync) => sync,
        Err(e) => return failed(e),
    };
    let breakers = Breakers::new(BreakerPolicy::default());
    let lookup = |name: &str| env.get(name).cloned();
    let job = job(store, &lookup, &breakers);
    let (changes, attempts) = plaid::sync(&sync, &job).await;
    let result = match changes {
        Ok(changes) => match commit {
            true => plaid::commit(&sync, &job, &changes).await.map(|()| changes),
            false => Ok(changes),
        },
        Err(e) => Err(e),
    };
    Outcome {
        result: result.map(|c| Synced {
            accounted: c.accounts_for_every_transaction(),
            removed: c.removed,
            modified: c.modified,
            superseded: c
                .superseded
                .iter()
                .map(|s| format!("{} <- {}", s.posted_id, s.pending_id))
                .collect(),
            start_cursor: c.start_cursor,
            next_cursor: c.next_cursor,
            pages: c.pages,
            restarts: c.restarts,
            ..written(&c.parsed)
        }),
        attempts,
    }
}

/// Runs the Plaid sync of `section` as a run for business date `day` reads it: the sync's
/// changes kept in `store` with its cursor, then the entries kept booked on `day` and the
/// sync's quarantined transactions.
pub async fn plaid_day(
    section: &str,
    store: &Store,
    env: &HashMap<String, String>,
    day: NaiveDate,
) -> Outcome {
    let sync: PlaidSync = match section_of(section, PlaidSync::validate) {
        Ok(sync) => sync,
        Err(e) => return failed(e),
    };
    let breakers = Breakers::new(BreakerPolicy::default());
    let lookup = |name: &str| env.get(name).cloned();
    let job = job(store, &lookup, &breakers);
    let (parsed, attempts) = plaid::entries_booked_on(&sync, &job, day).await;
    Outcome {
        result: parsed.map(|p| written(&p)),
        attempts,
    }
}

/// Runs the GoCardless sync of the `gocardless = { … }` section `section` for `from`..`to`.
pub async fn gocardless(
    section: &str,
    store: &Store,
    env: &HashMap<String, String>,
    from: NaiveDate,
    to: NaiveDate,
) -> Outcome {
    let sync: GoCardlessSync = match section_of(section, GoCardlessSync::validate) {
        Ok(sync) => sync,
        Err(e) => return failed(e),
    };
    let breakers = Breakers::new(BreakerPolicy::default());
    let lookup = |name: &str| env.get(name).cloned();
    let job = job(store, &lookup, &breakers);
    let (parsed, attempts) = gocardless::sync(&sync, &job, from, to).await;
    Outcome {
        result: parsed.map(|p| written(&p)),
        attempts,
    }
}

fn job<'a>(
    store: &'a Store,
    env: &'a dyn Fn(&str) -> Option<String>,
    breakers: &'a Breakers,
) -> SyncJob<'a> {
    SyncJob {
        store,
        policy: RetryPolicy::default(),
        env,
        breakers,
        tls_ca_file: None,
    }
}

fn section_of<T: serde::de::DeserializeOwned>(
    section: &str,
    validate: fn(&T) -> std::result::Result<(), String>,
) -> Result<T> {
    let sync: T = toml::from_str(section).map_err(|e| Error::bad_input(e.to_string()))?;
    validate(&sync).map_err(Error::bad_input)?;
    Ok(sync)
}

fn failed(e: Error) -> Outcome {
    Outcome {
        result: Err(e),
        attempts: 1,
    }
}

/// The entries and quarantined transactions of `parsed`, written out.
fn written(parsed: &ParsedStatements) -> Synced {
    Synced {
        entries: parsed
            .statements
            .iter()
            .flat_map(|s| s.entries.iter().map(line))
            .collect(),
        quarantined: parsed
            .quarantined
            .iter()
            .map(|q| format!("{} {} | {}", q.source, q.reason, q.raw))
            .collect(),
        accounted: parsed.accounts_for_every_entry(),
        ..Synced::default()
    }
}

/// `<account> <booked|pending> <booking date> value=<date> <credit|debit> <minor> <currency>
/// ref=… cref=… e2e=… code=… text=… at <place> <pointer>`, `-` for what is not given.
fn line(e: &BankEntry) -> String {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_string());
    format!(
        "{} {} {} value={} {} {} {} ref={} cref={} e2e={} code={} text={} at {} {}",
        e.account,
        match e.status {
            EntryStatus::Booked => "booked",
            EntryStatus::Pending => "pending",
        },
        e.booking_date,
        e.value_date.map_or("-".to_string(), |d| d.to_string()),
        match e.direction {
            Direction::Credit => "credit",
            Direction::Debit => "debit",
        },
        e.amount_minor,
        e.currency.code(),
        or_dash(&e.bank_ref),
        or_dash(&e.customer_ref),
        or_dash(&e.end_to_end_id),
        or_dash(&e.bank_tx_code),
        or_dash(&e.remittance),
        e.source,
        or_dash(&e.pointer),
    )
}
