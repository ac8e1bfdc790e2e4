//! Retrying a sync: exponential backoff with full jitter, capped per delay and in total (on backon).
//!
//! Only transient failures are retried (a dropped connection, a timeout, a serialization failure,
//! a busy database: [`Error::is_transient`]); a missing table or a refused login fails at once.
//! A server's `Retry-After` replaces the backoff delay, honoured up to the total budget; an
//! attempt refused by an open circuit breaker ([`crate::breaker`]) ends the retries at once.
//! Every retry is logged with its attempt number, delay, where the delay came from and cause.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

use backon::Retryable;
use serde::Deserialize;
use tokio::time::Instant;
use tracing::warn;

use crate::breaker::{CircuitOpen, is_circuit_open};
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

    /// How long retries may go on, from the first attempt.
    fn budget(&self) -> Duration {
        Duration::from_secs(self.max_total_secs)
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
            deadline: Instant::now() + policy.budget(),
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
/// (an HTTP `Retry-After`) replaces the next backoff delay — longer than `max_delay_ms` if it
/// must, as long as it ends within `max_total_secs` of the first attempt. A server asking for
/// longer than what is left of that budget ends the retries at once: its error then says by how
/// much the server's wait overran the budget.
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
    let deadline = Instant::now() + policy.budget();
    // The next delay's origin, for the log; and a server's wait that overran the budget.
    let asked = Cell::new(false);
    let overran = Cell::new(None::<(Duration, Duration)>);
    // The last failure of the endpoint itself, said beside a breaker's refusal that ends the loop.
    let last_failure = std::cell::RefCell::new(None::<String>);
    let result = (|| {
        attempts.set(attempts.get() + 1);
        hint.set(None);
        op()
    })
    .retry(FullJitter::new(policy))
    .sleep(tokio::time::sleep)
    .when(|e: &Error| {
        if is_circuit_open(e) {
            return false;
        }
        last_failure.replace(Some(e.to_string()));
        e.is_transient()
    })
    .adjust(|_: &Error, planned: Option<Duration>| {
        let Some(wait) = hint.take() else {
            asked.set(false);
            return planned;
        };
        if attempts.get() >= policy.max_attempts {
            return None;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if wait > left {
            overran.set(Some((wait, wait - left)));
            return None;
        }
        asked.set(true);
        Some(wait)
    })
    .notify(|e: &Error, delay: Duration| {
        warn!(
            sync = what,
            attempt = attempts.get(),
            delay_ms = delay.as_millis() as u64,
            delay_from = if asked.get() { "server asked (Retry-After)" } else { "backoff" },
            cause = %e,
            "transient failure; retrying"
        )
    })
    .await;
    let result = result.map_err(|e| match (overran.get(), last_failure.take()) {
        (_, Some(last)) if is_circuit_open(&e) => {
            Error::unavailable(format!("{last}; then {e}")).caused_by(CircuitOpen)
        }
        (Some((wait, past)), _) => Error::unavailable(format!(
            "{e}; the server asked to retry in {} s, {} s past the retry budget (max_total_secs = {}, from the first attempt): not retried",
            wait.as_secs_f64().ceil() as u64,
            past.as_secs_f64().ceil() as u64,
            policy.max_total_secs
        )),
        _ => e,
    });
    (result, attempts.get())
}

/// The wait a `Retry-After` value asks for (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date
/// (IMF-fixdate such as `Wed, 21 Oct 2026 07:28:00 GMT`, or the obsolete RFC 850 and asctime
/// forms) measured from `now`; a date in the past means now. `None` for anything else.
pub(crate) fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is still "a long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| {
            ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"]
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(value, f).ok())
                .map(|t| t.and_utc())
        })?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
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

    fn slow_policy() -> RetryPolicy {
        RetryPolicy {
            initial_delay_ms: 500,
            max_delay_ms: 30_000,
            max_total_secs: 300,
            max_attempts: 8,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_servers_retry_after_is_waited_out_past_max_delay() {
        let hint = Cell::new(None);
        let started = Instant::now();
        let calls = Cell::new(0);
        let (result, attempts) = with_retries_hinted(slow_policy(), "report", &hint, || {
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                hint.set(Some(Duration::from_secs(45)));
            }
            let n = calls.get();
            async move {
                match n {
                    1 => Err(Error::unavailable("HTTP 429 Too Many Requests")),
                    _ => Ok(Instant::now()),
                }
            }
        })
        .await;
        let succeeded_at = result.unwrap();
        assert_eq!(attempts, 2);
        assert_eq!(succeeded_at - started, Duration::from_secs(45));
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_past_the_budget_ends_the_retries_at_once() {
        let policy = RetryPolicy {
            max_total_secs: 60,
            ..slow_policy()
        };
        let hint = Cell::new(None);
        let started = Instant::now();
        // 10 s into the budget, the server asks for 90 s: 40 s past what is left.
        let (result, attempts) = with_retries_hinted(policy, "report", &hint, || {
            let first = Instant::now() == started;
            hint.set(Some(Duration::from_secs(if first { 10 } else { 90 })));
            async { Err::<(), _>(Error::unavailable("HTTP 503 Service Unavailable")) }
        })
        .await;
        let e = result.unwrap_err();
        assert_eq!(attempts, 2);
        assert_eq!(Instant::now() - started, Duration::from_secs(10));
        assert_eq!(e.exit(), crate::exit::Exit::Incomplete);
        assert_eq!(
            e.to_string(),
            "HTTP 503 Service Unavailable; the server asked to retry in 90 s, 40 s past the retry budget (max_total_secs = 60, from the first attempt): not retried"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_open_circuit_breaker_ends_the_retries_at_once() {
        let breakers = crate::breaker::Breakers::new(crate::breaker::BreakerPolicy {
            min_calls: 2,
            ..Default::default()
        });
        let started = Instant::now();
        let (result, attempts) = with_retries(slow_policy(), "report", || {
            breakers.guard("api.example:443", async {
                Err::<(), _>(Error::unavailable("HTTP 503 Service Unavailable"))
            })
        })
        .await;
        // Two failures open the breaker; the third attempt is refused and ends the loop.
        assert_eq!(attempts, 3);
        let e = result.unwrap_err();
        assert!(is_circuit_open(&e));
        assert_eq!(e.exit(), crate::exit::Exit::Incomplete);
        let message = e.to_string();
        assert!(
            message.starts_with("HTTP 503 Service Unavailable; then circuit breaker open for api.example:443 (2 of its last 2 calls failed): not called again before "),
            "{message}"
        );
        assert!(Instant::now() - started <= Duration::from_millis(1_500));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-10-21T07:27:15Z")
            .unwrap()
            .to_utc();
        let secs = |v: &str| retry_after(v, now).map(|d| d.as_secs());
        assert_eq!(secs("45"), Some(45));
        assert_eq!(secs(" 120 "), Some(120));
        assert_eq!(secs("Wed, 21 Oct 2026 07:28:00 GMT"), Some(45));
        assert_eq!(secs("Wednesday, 21-Oct-26 07:28:00 GMT"), Some(45));
        assert_eq!(secs("Wed Oct 21 07:28:00 2026"), Some(45));
        // A date in the past means now.
        assert_eq!(secs("Tue, 20 Oct 2026 07:28:00 GMT"), Some(0));
        assert_eq!(secs("-5"), None);
        assert_eq!(secs("soon"), None);
        assert_eq!(secs(""), None);
    }
}
