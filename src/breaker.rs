//! Circuit breakers, one per endpoint (a source, the store, an API host) and shared by a run's
//! checks: an endpoint that keeps failing is left alone for a cool-down instead of hammered.
//!
//! A breaker counts the outcome of the last `window` calls through it. Once at least
//! `min_calls` were made and `failure_rate_percent` of them failed, it opens: every call fails
//! fast, as transient (exit 3), without reaching the endpoint. After `cool_down_secs` it
//! half-opens: one trial call goes through; success closes it, failure opens it again.
//! Only a transient failure (a dropped connection, a timeout, HTTP 429 or 5xx) counts as one:
//! an endpoint that answers "no such table" or 404 is up.
//!
//! The breakers sit *inside* the retry loop (the `retry` module): each attempt passes through
//! one, so every attempt is counted, and an attempt refused by an open breaker ends the loop at
//! once (no sleeping through the budget; the rerun, after the cool-down, tries again).
//! One [`Breakers`] registry lives per run, created where the run starts and passed down.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::error::{Error, Result};

/// When a breaker opens and how long it stays open (`[job.circuit_breaker]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerPolicy {
    /// Off: every call goes through, nothing is counted.
    pub(crate) enabled: bool,
    /// The share of failed calls in the window, in percent, that opens the breaker.
    pub(crate) failure_rate_percent: u32,
    /// How many of an endpoint's most recent calls are counted.
    pub(crate) window: u32,
    /// No breaker opens before this many calls are in its window.
    pub(crate) min_calls: u32,
    /// How long an open breaker fails calls fast before it lets one trial call through.
    pub(crate) cool_down_secs: u64,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            enabled: true,
            failure_rate_percent: 50,
            window: 10,
            min_calls: 5,
            cool_down_secs: 30,
        }
    }
}

impl BreakerPolicy {
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if !(1..=100).contains(&self.failure_rate_percent) {
            return Err(format!(
                "failure_rate_percent must be from 1 to 100 (got {})",
                self.failure_rate_percent
            ));
        }
        if self.window == 0 {
            return Err("window must be at least 1".to_string());
        }
        if self.min_calls == 0 || self.min_calls > self.window {
            return Err(format!(
                "min_calls must be from 1 to window ({}) (got {})",
                self.window, self.min_calls
            ));
        }
        if self.cool_down_secs == 0 {
            return Err("cool_down_secs must be at least 1".to_string());
        }
        Ok(())
    }
}

/// The cause kept in the error of a call an open breaker refused: how the retry loop knows.
#[derive(Debug)]
pub(crate) struct CircuitOpen;

impl std::fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("circuit breaker open")
    }
}

impl std::error::Error for CircuitOpen {}

/// True when `e` is a call an open breaker refused (it never reached the endpoint).
pub(crate) fn is_circuit_open(e: &Error) -> bool {
    std::error::Error::source(e).is_some_and(|c| c.is::<CircuitOpen>())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    /// Calls fail fast until `until`.
    Open {
        until: Instant,
    },
    /// The trial call is under way; other calls fail fast.
    HalfOpen {
        until: Instant,
    },
}

/// One endpoint's breaker.
#[derive(Debug)]
struct Breaker {
    state: State,
    /// The most recent outcomes, oldest first: `true` for a failure.
    outcomes: VecDeque<bool>,
    /// How often it opened this run.
    opened: u32,
    /// When it last opened.
    last_opened_at: Option<DateTime<Utc>>,
}

/// An endpoint whose breaker opened during the run, as the summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct OpenedBreaker {
    /// The endpoint: a source's name, `store`, or an API's `host:port`.
    pub(crate) endpoint: String,
    /// How often it opened.
    pub(crate) times_opened: u32,
    /// When it last opened.
    pub(crate) last_opened_at: DateTime<Utc>,
    /// Still open (or half-open) when the run ended.
    pub(crate) open_at_end: bool,
}

/// The run's breakers, by endpoint.
#[derive(Debug)]
pub struct Breakers {
    policy: BreakerPolicy,
    endpoints: Mutex<BTreeMap<String, Breaker>>,
}

/// Leave to make one call to an endpoint; say how it went with [`Permit::record`]. A permit
/// dropped unrecorded (its call cancelled) counts nothing, and frees the trial of a half-open
/// breaker for the next call.
pub(crate) struct Permit<'a> {
    breakers: &'a Breakers,
    endpoint: String,
    trial: bool,
    recorded: bool,
}

impl Breakers {
    pub fn new(policy: BreakerPolicy) -> Breakers {
        Breakers {
            policy,
            endpoints: Mutex::new(BTreeMap::new()),
        }
    }

    /// Runs `call` through `endpoint`'s breaker: refused at once while it is open; a transient
    /// failure of `call` counts against the endpoint, anything else for it.
    pub async fn guard<T>(
        &self,
        endpoint: &str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let permit = self.admit(endpoint)?;
        let result = call.await;
        permit.record(result.as_ref().is_err_and(Error::is_transient));
        result
    }

    /// Leave to call `endpoint`, or the error of a call refused by its open breaker.
    pub(crate) fn admit(&self, endpoint: &str) -> Result<Permit<'_>> {
        let mut permit = Permit {
            breakers: self,
            endpoint: endpoint.to_string(),
            trial: false,
            recorded: false,
        };
        if !self.policy.enabled {
            permit.recorded = true;
            return Ok(permit);
        }
        let now = Instant::now();
        let mut endpoints = self.lock();
        let breaker = endpoints
            .entry(endpoint.to_string())
            .or_insert_with(|| Breaker {
                state: State::Closed,
                outcomes: VecDeque::new(),
                opened: 0,
                last_opened_at: None,
            });
        match breaker.state {
            State::Closed => Ok(permit),
            State::Open { until } if now >= until => {
                info!(
                    endpoint,
                    "circuit breaker half-open: one trial call goes through"
                );
                breaker.state = State::HalfOpen { until };
                permit.trial = true;
                Ok(permit)
            }
            State::Open { until } | State::HalfOpen { until } => {
                permit.recorded = true;
                let wait = until.saturating_duration_since(now);
                let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
                Err(Error::unavailable(format!(
                    "circuit breaker open for {endpoint} ({} of its last {} calls failed): not called again before {} (in {} s)",
                    breaker.outcomes.iter().filter(|f| **f).count(),
                    breaker.outcomes.len(),
                    at.format("%Y-%m-%dT%H:%M:%SZ"),
                    wait.as_secs_f64().ceil() as u64
                ))
                .caused_by(CircuitOpen))
            }
        }
    }

    /// The endpoints whose breaker opened this run, by name.
    pub(crate) fn opened(&self) -> Vec<OpenedBreaker> {
        self.lock()
            .iter()
            .filter_map(|(endpoint, b)| {
                Some(OpenedBreaker {
                    endpoint: endpoint.clone(),
                    times_opened: b.opened,
                    last_opened_at: b.last_opened_at?,
                    open_at_end: b.state != State::Closed,
                })
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Breaker>> {
        // A panic elsewhere while holding it leaves counts, not broken invariants.
        self.endpoints.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn settle(&self, endpoint: &str, trial: bool, failed: Option<bool>) {
        let policy = self.policy;
        let mut endpoints = self.lock();
        let Some(breaker) = endpoints.get_mut(endpoint) else {
            return;
        };
        let cool_down = Duration::from_secs(policy.cool_down_secs);
        let Some(failed) = failed else {
            // A cancelled trial: the next call may try.
            if trial && let State::HalfOpen { until } = breaker.state {
                breaker.state = State::Open { until };
            }
            return;
        };
        if trial {
            if failed {
                breaker.open(cool_down);
                warn!(
                    endpoint,
                    cool_down_secs = policy.cool_down_secs,
                    "circuit breaker open again: the trial call failed"
                );
            } else {
                breaker.state = State::Closed;
                breaker.outcomes.clear();
                info!(endpoint, "circuit breaker closed: the trial call succeeded");
            }
            return;
        }
        if breaker.state != State::Closed {
            // A call admitted before the breaker opened: the verdict is already in.
            return;
        }
        breaker.outcomes.push_back(failed);
        while breaker.outcomes.len() > policy.window as usize {
            breaker.outcomes.pop_front();
        }
        let calls = breaker.outcomes.len();
        let failures = breaker.outcomes.iter().filter(|f| **f).count();
        if calls >= policy.min_calls as usize
            && failures * 100 >= calls * policy.failure_rate_percent as usize
        {
            breaker.open(cool_down);
            warn!(
                endpoint,
                failures,
                calls,
                cool_down_secs = policy.cool_down_secs,
                "circuit breaker open: calls to the endpoint fail fast until its cool-down ends"
            );
        }
    }
}

impl Breaker {
    /// Opens the breaker for `cool_down` from now, counting the opening.
    fn open(&mut self, cool_down: Duration) {
        self.state = State::Open {
            until: Instant::now() + cool_down,
        };
        self.opened += 1;
        self.last_opened_at = Some(Utc::now());
    }
}

impl Permit<'_> {
    /// Counts the call: `failed` when it failed in a way that may pass.
    pub(crate) fn record(mut self, failed: bool) {
        self.recorded = true;
        self.breakers
            .settle(&self.endpoint, self.trial, Some(failed));
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.recorded {
            self.breakers.settle(&self.endpoint, self.trial, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            enabled: true,
            failure_rate_percent: 50,
            window: 4,
            min_calls: 4,
            cool_down_secs: 30,
        }
    }

    async fn fail(breakers: &Breakers) -> Result<()> {
        breakers
            .guard("api.example:443", async {
                Err(Error::unavailable("HTTP 503"))
            })
            .await
    }

    async fn succeed(breakers: &Breakers) -> Result<()> {
        breakers.guard("api.example:443", async { Ok(()) }).await
    }

    #[tokio::test(start_paused = true)]
    async fn opens_at_the_failure_rate_fails_fast_then_closes_after_its_cool_down() {
        let breakers = Breakers::new(policy());
        // Under min_calls, still closed; then 2 of the last 4 failed: 50 %, open.
        fail(&breakers).await.unwrap_err();
        succeed(&breakers).await.unwrap();
        succeed(&breakers).await.unwrap();
        assert_eq!(breakers.opened(), vec![]);
        fail(&breakers).await.unwrap_err();
        let opened = breakers.opened();
        assert_eq!(opened.len(), 1);
        assert_eq!(
            (
                opened[0].endpoint.as_str(),
                opened[0].times_opened,
                opened[0].open_at_end
            ),
            ("api.example:443", 1, true)
        );

        // Open: the call is not made.
        let reached = std::cell::Cell::new(false);
        let refused = breakers
            .guard("api.example:443", async {
                reached.set(true);
                Ok(())
            })
            .await
            .unwrap_err();
        assert!(!reached.get());
        assert!(is_circuit_open(&refused));
        assert_eq!(refused.exit(), crate::exit::Exit::Incomplete);
        let message = refused.to_string();
        let at = message
            .strip_prefix(
                "circuit breaker open for api.example:443 (2 of its last 4 calls failed): not called again before ",
            )
            .and_then(|rest| rest.strip_suffix(" (in 30 s)"))
            .unwrap_or_else(|| panic!("{message}"));
        let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
        assert!((at.to_utc() - Utc::now()).num_seconds().abs() <= 31, "{at}");
        // Another endpoint is not affected.
        breakers.guard("other:443", async { Ok(()) }).await.unwrap();

        // Still open one second before the cool-down ends.
        tokio::time::advance(Duration::from_secs(29)).await;
        let refused = succeed(&breakers).await.unwrap_err();
        assert!(refused.to_string().ends_with(" (in 1 s)"), "{refused}");

        // Half-open after it: a failed trial opens it again for a whole cool-down.
        tokio::time::advance(Duration::from_secs(1)).await;
        fail(&breakers).await.unwrap_err();
        assert!(is_circuit_open(&succeed(&breakers).await.unwrap_err()));
        assert_eq!(breakers.opened()[0].times_opened, 2);

        // A successful trial closes it: calls go through again, and a single failure does
        // not open it (its window starts afresh).
        tokio::time::advance(Duration::from_secs(30)).await;
        succeed(&breakers).await.unwrap();
        let closed = &breakers.opened()[0];
        assert_eq!((closed.times_opened, closed.open_at_end), (2, false));
        fail(&breakers).await.unwrap_err();
        succeed(&breakers).await.unwrap();
    }

    #[tokio::test]
    async fn permanent_failures_count_for_the_endpoint_and_a_disabled_breaker_never_opens() {
        let breakers = Breakers::new(policy());
        for _ in 0..6 {
            breakers
                .guard("db", async {
                    Err::<(), _>(Error::bad_input("no such table"))
                })
                .await
                .unwrap_err();
        }
        assert_eq!(breakers.opened(), vec![]);

        let off = Breakers::new(BreakerPolicy {
            enabled: false,
            ..policy()
        });
        for _ in 0..6 {
            fail(&off).await.unwrap_err();
        }
        assert_eq!(off.opened(), vec![]);
    }

    #[test]
    fn policy_validation_names_the_key() {
        assert_eq!(BreakerPolicy::default().validate(), Ok(()));
        let bad = |p: BreakerPolicy| p.validate().unwrap_err();
        assert_eq!(
            bad(BreakerPolicy {
                failure_rate_percent: 0,
                ..policy()
            }),
            "failure_rate_percent must be from 1 to 100 (got 0)"
        );
        assert_eq!(
            bad(BreakerPolicy {
                min_calls: 5,
                ..policy()
            }),
            "min_calls must be from 1 to window (4) (got 5)"
        );
        assert_eq!(
            bad(BreakerPolicy {
                cool_down_secs: 0,
                ..policy()
            }),
            "cool_down_secs must be at least 1"
        );
    }
}
