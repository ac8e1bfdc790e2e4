//! What the aggregator syncs (Plaid, GoCardless Bank Account Data) share: the run's retry policy, breakers, TLS rules and store, the https-only base URL, and their entries grouped into statements as a parsed bank file's are.

use std::path::Path;
use std::sync::Arc;

use super::{BankEntry, ParsedStatements, Statement, StatementKind};
use crate::breaker::Breakers;
use crate::retry::RetryPolicy;
use crate::secret::EnvLookup;
use crate::settlement::report::kept_text::KeptText;
use crate::settlement::{Quarantined, SourceLine};
use crate::store::Store;

/// What a sync needs besides its own section: where credentials are looked up, how requests
/// are retried and guarded, and the store its cursor and call counts are kept in.
pub(crate) struct SyncJob<'a> {
    pub(crate) store: &'a Store,
    pub(crate) policy: RetryPolicy,
    pub(crate) env: EnvLookup<'a>,
    pub(crate) breakers: &'a Breakers,
    /// The CA bundle servers are checked against (`tls_ca_file`), else the built-in roots.
    pub(crate) tls_ca_file: Option<&'a Path>,
}

/// Refuses a base URL that is not https, or plain http off this machine (a test server or a
/// local proxy may be plain http on loopback).
pub(crate) fn check_base_url(key: &str, url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{key} {url:?}: {e}"))?;
    let on_loopback = parsed
        .host_str()
        .is_some_and(crate::source::tls::is_loopback);
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if on_loopback => Ok(()),
        _ => Err(format!(
            "{key}: an aggregator is reached over https:// only (plain http only on this machine: 127.0.0.1, localhost)"
        )),
    }
}

/// One transaction an aggregator sent that could not become a bank entry.
pub(crate) fn quarantine(source: SourceLine, reason: String, raw: &str) -> Quarantined {
    Quarantined {
        source,
        reason,
        raw: KeptText::of(raw.as_bytes()).into(),
    }
}

/// `entries` as statements without balances (an aggregator states none), one per account and
/// currency in the order first met, with the quarantined transactions; `read` is every
/// transaction met (kept or quarantined).
pub(crate) fn as_statements(
    format: &'static str,
    origin: &str,
    entries: Vec<BankEntry>,
    quarantined: Vec<Quarantined>,
) -> ParsedStatements {
    let mut statements: Vec<Statement> = Vec::new();
    let read = (entries.len() + quarantined.len()) as u64;
    for entry in entries {
        let at = statements
            .iter()
            .position(|s| s.account == entry.account && s.currency == entry.currency);
        match at {
            Some(at) => statements[at].entries.push(entry),
            None => statements.push(Statement {
                format,
                kind: StatementKind::Notification,
                account: entry.account.clone(),
                currency: entry.currency,
                statement_id: None,
                sequence: None,
                page: None,
                opening: None,
                closing: None,
                source: SourceLine {
                    path: Arc::from(origin),
                    line: 0,
                },
                entries: vec![entry],
            }),
        }
    }
    ParsedStatements {
        statements,
        quarantined,
        entries_read: read,
        problems: Vec::new(),
    }
}

/// Non-empty texts, each once, joined by ` / ` (the remittance of an entry given in parts).
pub(crate) fn joined<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    for part in parts.into_iter().flatten() {
        let part = part.trim();
        if !part.is_empty() && !kept.contains(&part) {
            kept.push(part);
        }
    }
    (!kept.is_empty()).then(|| kept.join(" / "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_https_or_loopback() {
        assert_eq!(
            check_base_url("base_url", "https://production.plaid.com"),
            Ok(())
        );
        assert_eq!(check_base_url("base_url", "http://127.0.0.1:8080"), Ok(()));
        assert_eq!(
            check_base_url("base_url", "http://plaid.example.com"),
            Err("base_url: an aggregator is reached over https:// only (plain http only on this machine: 127.0.0.1, localhost)".to_string())
        );
    }

    #[test]
    fn remittance_parts_are_kept_once_in_order() {
        assert_eq!(
            joined([
                Some("Uber 063015"),
                None,
                Some(" "),
                Some("Uber"),
                Some("Uber")
            ]),
            Some("Uber 063015 / Uber".to_string())
        );
        assert_eq!(joined([None, Some("")]), None);
    }
}
