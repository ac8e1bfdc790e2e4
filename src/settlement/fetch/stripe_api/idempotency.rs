//! The Idempotency-Key of a report run's create and its generation: the key a generation makes,
//! the create sent under it (a 409 `idempotency_key_in_use` may pass; an error Stripe replays is
//! told apart), and the store told when a generation is spent.

use std::cell::Cell;

use reqwest::StatusCode;
use sha2::{Digest, Sha256};
use tracing::warn;

use super::answers::{ErrorBody, ReportRun, explain, parse};
use crate::breaker::Breakers;
use crate::error::{Error, Result};
use crate::secret::redact_urls;
use crate::settlement::fetch::Acquisition;
use crate::settlement::fetch::http;

/// The key of `generation`: the same check, day and parameters make the same key within it.
pub(super) fn idempotency_key(
    job: &Acquisition<'_>,
    form: &[(String, String)],
    generation: u32,
) -> String {
    let mut digest = Sha256::new();
    for (k, v) in form {
        digest.update(format!("{k}={v}\n"));
    }
    format!(
        "recon-{}-{}-{}-g{generation}",
        job.check,
        job.day.date,
        &hex::encode(digest.finalize())[..16]
    )
}

/// Spends the generation in use (`why`): the next create sends the one the store now holds.
pub(super) async fn spend(
    job: &Acquisition<'_>,
    generation: &Cell<u32>,
    why: String,
) -> Result<u32> {
    let spent = generation.get();
    let next = job
        .idempotency
        .advance(job.check, job.day.date, spent, &why)
        .await?;
    let shown = crate::mask::mask_card_numbers(&why);
    warn!(spent, next, reason = %shown, "Stripe idempotency key generation spent");
    generation.set(next);
    Ok(next)
}

/// Why a create gave no report run.
pub(super) enum Refused {
    /// An error Stripe replayed for the key: the answer to an earlier request, not to this one.
    Replayed(Error),
    Other(Error),
}

/// Creates the report run under `key`. A 409 `idempotency_key_in_use` (a
/// request with the key is still executing) may pass: the next attempt resends the key.
pub(super) async fn create(
    breakers: &Breakers,
    sent: reqwest::RequestBuilder,
    hint: &Cell<Option<std::time::Duration>>,
    advice: &str,
    key: &str,
) -> std::result::Result<ReportRun, Refused> {
    let shown = format!("creating a Stripe report run (Idempotency-Key {key})");
    let response = http::send(breakers, sent.header("Idempotency-Key", key), &shown)
        .await
        .map_err(Refused::Other)?;
    let status = response.status();
    let replayed = response
        .headers()
        .get("Idempotent-Replayed")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if status == StatusCode::CONFLICT {
        let body = response.text().await.unwrap_or_default();
        let error = serde_json::from_str::<ErrorBody>(&body)
            .ok()
            .map(|b| b.error);
        if error.as_ref().and_then(|e| e.code.as_deref()) == Some("idempotency_key_in_use") {
            return Err(Refused::Other(Error::unavailable(format!(
                "{shown}: HTTP {status}: idempotency_key_in_use (a request with this key is still executing)"
            ))));
        }
        let said = error
            .and_then(|e| e.message)
            .map(|m| format!(": {}", redact_urls(&m)))
            .unwrap_or_default();
        return Err(Refused::Other(Error::bad_input(format!(
            "{shown}: HTTP {status}{said}"
        ))));
    }
    if replayed && !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let said = explain(&body)
            .map(|m| format!(": {}", redact_urls(&m)))
            .unwrap_or_default();
        return Err(Refused::Replayed(Error::unavailable(format!(
            "{shown}: HTTP {status}{said}"
        ))));
    }
    let response = http::successful(response, &shown, hint, advice, explain)
        .await
        .map_err(Refused::Other)?;
    let body = response.text().await.unwrap_or_default();
    parse::<ReportRun>(&body, &shown).map_err(Refused::Other)
}
