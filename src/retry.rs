//! Retrying a sync: exponential backoff with full jitter, capped per delay and in total (on backon).
//!
//! Only transient failures are retried (a dropped connection, a timeout, a serialization failure,
//! a busy database: [`Error::is_transient`]); a missing table or a refused login fails at once.
//! Every retry is logged with its attempt number, delay and cause.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use backon::Retryable;
use serde::Deserialize;
use tracing::warn;

use crate::error::{Error, Result};

/// How long and how often a sync is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// The first delay's upper bound; each retry doubles it.
    pub(crate) initial_delay_ms: u64,
    /// No single delay is longer than this.
    pub(crate) max_delay_ms: u64,
    /// No retry starts once this much time has passed since the first attempt.
    pub(crate) max_total_secs: u64,
    /// Attempts in all, the first one included.
    pub(crate) max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_delay_ms: 500,
            max_delay_ms: 30_000,
            max_total_secs: 300,
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The policy no looser than either: for a check that reads two sources.
    pub(crate) fn tighter(self, other: RetryPolicy) -> RetryPolicy {
        RetryPolicy {
            initial_delay_ms: self.initial_delay_ms.min(other.initial_delay_ms),
            max_delay_ms: self.max_delay_ms.min(other.max_delay_ms),
            max_total_secs: self.max_total_secs.min(other.max_total_secs),
            max_attempts: self.max_attempts.min(other.max_attempts),
        }
    }

    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        if self.max_attempts == 0 {
            return Err("max_attempts must be at least 1".to_string());
        }
        if self.initial_delay_ms > self.max_delay_ms {
            return Err("initial_delay_ms must not exceed max_delay_ms".to_string());
        }
        Ok(())
    }
}

/// The delays between attempts: "full jitter" — each a uniform random pick in
/// `[0, min(max_delay, initial × 2^n)]` — ending when the attempts or the total time run out.
pub(crate) struct FullJitter {
    policy: RetryPolicy,
    retries: u32,
    deadline: Instant,
    rng: fastrand::Rng,
}

impl FullJitter {
    pub(crate) fn new(policy: RetryPolicy) -> Self {
        FullJitter {
            policy,
            retries: 0,
            deadline: Instant::now() + Duration::from_secs(policy.max_total_secs),
            rng: fastrand::Rng::new(),
        }
    }
}

impl Iterator for FullJitter {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retries + 1 >= self.policy.max_attempts {
            return None;
        }
        let ceiling = self
            .policy
            .initial_delay_ms
            .saturating_mul(1u64 << self.retries.min(32))
            .min(self.policy.max_delay_ms);
        let delay = Duration::from_millis(self.rng.u64(0..=ceiling));
        if Instant::now() + delay >= self.deadline {
            return None;
        }
        self.retries += 1;
        Some(delay)
    }
}

/// Runs `op` until it succeeds, fails for good, or the policy runs out; returns its last
/// result and how many attempts were made.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    what: &str,
    op: F,
) -> (Result<T>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    with_retries_hinted(policy, what, &Cell::new(None), op).await
}

/// [`with_retries`] for a server that says when to come back: a delay `op` puts in `hint`
/// (an HTTP `Retry-After`) replaces the next backoff delay, capped at `max_delay_ms`.
pub(crate) async fn with_retries_hinted<T, F, Fut>(
    policy: RetryPolicy,
    what: &str,
    hint: &Cell<Option<Duration>>,
    mut op: F,
) -> (Result<T>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let attempts = Cell::new(0u32);
    let cap = Duration::from_millis(policy.max_delay_ms);
    let result = (|| {
        attempts.set(attempts.get() + 1);
        op()
    })
    .retry(FullJitter::new(policy))
    .sleep(tokio::time::sleep)
    .when(Error::is_transient)
    .adjust(|_: &Error, planned: Option<Duration>| {
        planned.map(|d| hint.take().map_or(d, |asked| asked.min(cap)))
    })
    .notify(|e: &Error, delay: Duration| {
        warn!(
            sync = what,
            attempt = attempts.get(),
            delay_ms = delay.as_millis() as u64,
            cause = %e,
            "transient failure; retrying"
        )
    })
    .await;
    (result, attempts.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_doubling_ceiling_and_the_attempt_limit() {
        let policy = RetryPolicy {
            initial_delay_ms: 100,
            max_delay_ms: 350,
            max_total_secs: 3600,
            max_attempts: 6,
        };
        for _ in 0..50 {
            let delays: Vec<u64> = FullJitter::new(policy)
                .map(|d| d.as_millis() as u64)
                .collect();
            assert_eq!(delays.len(), 5, "six attempts: five delays");
            for (n, d) in delays.iter().enumerate() {
                let ceiling = (100u64 << n).min(350);
                assert!(*d <= ceiling, "delay {n} = {d} > {ceiling}");
            }
        }
    }

    #[test]
    fn no_retry_starts_past_the_total_time() {
        let policy = RetryPolicy {
            initial_delay_ms: 10_000,
            max_delay_ms: 10_000,
            max_total_secs: 0,
            max_attempts: 9,
        };
        assert_eq!(FullJitter::new(policy).count(), 0);
    }

    #[tokio::test]
    async fn transient_failures_are_retried_and_permanent_ones_are_not() {
        let policy = RetryPolicy {
            initial_delay_ms: 1,
            max_delay_ms: 2,
            max_total_secs: 60,
            max_attempts: 5,
        };
        let calls = Cell::new(0);
        let (result, attempts) = with_retries(policy, "flaky", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(Error::unavailable("connection reset"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!((result.ok(), attempts), (Some(3), 3));

        let (result, attempts) = with_retries(policy, "broken", || async {
            Err::<(), _>(Error::bad_input("no such table"))
        })
        .await;
        assert_eq!(
            (result.err().map(|e| e.to_string()), attempts),
            (Some("no such table".to_string()), 1)
        );

        let (result, attempts) = with_retries(policy, "down", || async {
            Err::<(), _>(Error::unavailable("refused"))
        })
        .await;
        assert_eq!((result.is_err(), attempts), (true, 5));
    }
}
