//! Calls to another service or an external system, made safe to depend on (architecture.md
//! section 7): a deadline on every attempt and on the whole call, retries only for calls marked
//! idempotent and only on retryable failures (`unavailable`, `timeout`), jittered exponential
//! backoff, a retry budget so retries never multiply an outage, and a circuit breaker per
//! downstream that fails fast while it is down.
//!
//! ```ignore
//! let provider = Downstream::new("payment_provider", config.provider_calls.clone());
//! let intent = provider.call(Idempotency::Safe, || async { client.create(&params).await }).await?;
//! ```
//!
//! The breaker is `closed` (calls flow; outcomes are counted over a sliding window), `open`
//! (calls are refused at once with `unavailable`, none reaches the downstream) for
//! `open_ms`, then `half_open`: up to `half_open_probes` calls go through as probes; that many
//! successes close it, one failure opens it again. It opens after
//! `consecutive_failures` failures in a row, or when at least `minimum_calls` calls in the
//! window failed at `failure_rate` or more. Only the downstream's own failures count
//! (`unavailable`, `timeout`, `internal`); an answer such as `not_found` or
//! `validation_failed` is the downstream working.
//!
//! The retry budget allows, over `retry_budget_window_seconds`, at most
//! `retry_budget_percent` % of the calls made as retries, plus `retry_budget_min_per_second`
//! per second of the window so a quiet client can still retry.
//!
//! Metrics (label `downstream`): `innkeeper_downstream_breaker_state` (0 closed, 1 open,
//! 2 half-open), `innkeeper_downstream_calls_total{outcome}` (`success`, `failure`,
//! `rejected`), `innkeeper_downstream_retries_total`, `innkeeper_downstream_timeouts_total`,
//! `innkeeper_downstream_rejected_total` (fast fails of an open breaker) and
//! `innkeeper_downstream_retry_budget_exhausted_total`.
//!
//! The breaker's and the budget's windows read a [`Ticks`] clock: [`SystemTicks`] in
//! service, [`ManualTicks`] in tests, which move it by hand.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher as _, Hasher as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use innkeeper_kernel::{Error, ErrorCode, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A monotonic clock for the breaker and the retry budget.
pub trait Ticks: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;
}

/// The system's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTicks;

impl Ticks for SystemTicks {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock tests move by hand: it stands still until [`ManualTicks::advance`].
#[derive(Debug, Clone)]
pub struct ManualTicks {
    origin: Instant,
    offset_nanos: Arc<std::sync::atomic::AtomicU64>,
}

impl ManualTicks {
    /// A clock standing at the moment it was made.
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            offset_nanos: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        }
    }

    /// Moves it forward.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_nanos
            .fetch_add(nanos, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Default for ManualTicks {
    fn default() -> Self {
        Self::new()
    }
}

impl Ticks for ManualTicks {
    fn now(&self) -> Instant {
        self.origin
            + Duration::from_nanos(self.offset_nanos.load(std::sync::atomic::Ordering::SeqCst))
    }
}

/// Whether a call may be repeated without a second effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes carrying an idempotency key: retried on retryable failures.
    Safe,
    /// Anything else: tried once.
    Unsafe,
}

/// How calls to one downstream are made. Every field has a default, so a configuration
/// section may name only what it changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Deadline of one attempt.
    pub attempt_timeout_ms: u64,
    /// Deadline of the whole call, retries and backoff included.
    pub deadline_ms: u64,
    /// Attempts of an idempotent call (1 = no retries).
    pub max_attempts: u32,
    /// The first retry waits about this long (half of it random), each next one twice as long.
    pub backoff_base_ms: u64,
    /// The longest wait between attempts.
    pub backoff_max_ms: u64,
    /// Retries allowed as a share of calls over the budget window, in percent.
    pub retry_budget_percent: u32,
    /// Retries allowed per second of the window whatever the traffic.
    pub retry_budget_min_per_second: u32,
    /// The retry budget's window.
    pub retry_budget_window_seconds: u64,
    /// The circuit breaker.
    pub breaker: BreakerConfig,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            attempt_timeout_ms: 2_000,
            deadline_ms: 5_000,
            max_attempts: 3,
            backoff_base_ms: 50,
            backoff_max_ms: 1_000,
            retry_budget_percent: 20,
            retry_budget_min_per_second: 5,
            retry_budget_window_seconds: 10,
            breaker: BreakerConfig::default(),
        }
    }
}

/// When a downstream's circuit breaker opens and how it recovers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Opens after this many failures in a row.
    pub consecutive_failures: u32,
    /// Opens when this share of the calls in the window failed (0.0 to 1.0)...
    pub failure_rate: f64,
    /// ...and the window holds at least this many calls.
    pub minimum_calls: u32,
    /// The window over which the failure rate is measured.
    pub window_seconds: u64,
    /// How long it stays open before letting probes through.
    pub open_ms: u64,
    /// Probes let through half-open; that many successes close the breaker.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_rate: 0.5,
            minimum_calls: 20,
            window_seconds: 30,
            open_ms: 5_000,
            half_open_probes: 1,
        }
    }
}

impl ResilienceConfig {
    /// The defaults for calls that must finish within `timeout`: every attempt and the whole
    /// call, retries included, inside that time.
    pub fn within(timeout: std::time::Duration) -> Self {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        Self {
            attempt_timeout_ms: ms,
            deadline_ms: ms,
            ..Self::default()
        }
    }

    /// The deadline of one attempt (a gRPC client sends it as the request's timeout).
    pub fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.attempt_timeout_ms)
    }

    /// The problems of this configuration, each naming its key under `prefix` (such as
    /// `payment.provider_calls`).
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, key: &str, message: &str| {
            if !ok {
                problems.push(format!("{prefix}.{key}: {message}"));
            }
        };
        check(
            self.attempt_timeout_ms > 0,
            "attempt_timeout_ms",
            "must be positive",
        );
        check(
            self.deadline_ms >= self.attempt_timeout_ms,
            "deadline_ms",
            "must be at least attempt_timeout_ms",
        );
        check(self.max_attempts >= 1, "max_attempts", "must be at least 1");
        check(
            self.backoff_max_ms >= self.backoff_base_ms,
            "backoff_max_ms",
            "must be at least backoff_base_ms",
        );
        check(
            self.retry_budget_percent <= 100,
            "retry_budget_percent",
            "must be between 0 and 100",
        );
        check(
            self.retry_budget_window_seconds > 0,
            "retry_budget_window_seconds",
            "must be positive",
        );
        let b = &self.breaker;
        check(
            b.consecutive_failures >= 1,
            "breaker.consecutive_failures",
            "must be at least 1",
        );
        check(
            b.failure_rate > 0.0 && b.failure_rate <= 1.0,
            "breaker.failure_rate",
            "must be above 0.0 and at most 1.0",
        );
        check(
            b.window_seconds > 0,
            "breaker.window_seconds",
            "must be positive",
        );
        check(b.open_ms > 0, "breaker.open_ms", "must be positive");
        check(
            b.half_open_probes >= 1,
            "breaker.half_open_probes",
            "must be at least 1",
        );
        problems
    }
}

/// Where a breaker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are refused at once.
    Open,
    /// A few probes test the downstream.
    HalfOpen,
}

impl BreakerState {
    /// The gauge value: 0 closed, 1 open, 2 half-open.
    pub fn gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

/// Whether an error is the downstream failing (counted by the breaker).
fn is_failure(err: &Error) -> bool {
    matches!(
        err.code,
        ErrorCode::Unavailable | ErrorCode::Timeout | ErrorCode::Internal
    )
}

/// Whether an idempotent call may be tried again after `err`.
fn is_retryable(err: &Error) -> bool {
    matches!(err.code, ErrorCode::Unavailable | ErrorCode::Timeout)
}

/// Counts per time slot over a sliding window: ten slots per window.
#[derive(Debug)]
struct Window {
    slot: Duration,
    /// `(slot index, calls, failures)`, oldest first.
    slots: std::collections::VecDeque<(u64, u64, u64)>,
    origin: Instant,
}

impl Window {
    const SLOTS: u32 = 10;

    fn new(length: Duration, origin: Instant) -> Self {
        Self {
            slot: (length / Self::SLOTS).max(Duration::from_millis(1)),
            slots: std::collections::VecDeque::new(),
            origin,
        }
    }

    fn index(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(elapsed / self.slot.as_nanos().max(1)).unwrap_or(u64::MAX)
    }

    fn prune(&mut self, now: Instant) {
        let current = self.index(now);
        while let Some(&(index, _, _)) = self.slots.front() {
            if current.saturating_sub(index) >= u64::from(Self::SLOTS) {
                self.slots.pop_front();
            } else {
                break;
            }
        }
    }

    fn add(&mut self, now: Instant, calls: u64, failures: u64) {
        self.prune(now);
        let current = self.index(now);
        match self.slots.back_mut() {
            Some((index, c, f)) if *index == current => {
                *c += calls;
                *f += failures;
            }
            _ => self.slots.push_back((current, calls, failures)),
        }
    }

    fn totals(&mut self, now: Instant) -> (u64, u64) {
        self.prune(now);
        self.slots
            .iter()
            .fold((0, 0), |(c, f), (_, sc, sf)| (c + sc, f + sf))
    }

    fn clear(&mut self) {
        self.slots.clear();
    }
}

#[derive(Debug)]
enum Phase {
    Closed { consecutive: u32 },
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Debug)]
struct Breaker {
    phase: Phase,
    window: Window,
}

/// A permit to call: whether it is a half-open probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Permit {
    Normal,
    Probe,
}

#[derive(Debug)]
struct Budget {
    /// Calls (first attempts) and retries per slot; `failures` holds retries here.
    window: Window,
}

/// A downstream's metrics, registered once (a call does not look its series up again).
struct Meters {
    success: metrics::Counter,
    failure: metrics::Counter,
    rejected_calls: metrics::Counter,
    rejected: metrics::Counter,
    timeouts: metrics::Counter,
    retries: metrics::Counter,
    budget_exhausted: metrics::Counter,
    state: metrics::Gauge,
}

impl Meters {
    fn new(name: &str) -> Self {
        let calls = |outcome: &'static str| metrics::counter!("innkeeper_downstream_calls_total", "downstream" => name.to_owned(), "outcome" => outcome);
        Self {
            success: calls("success"),
            failure: calls("failure"),
            rejected_calls: calls("rejected"),
            rejected: metrics::counter!("innkeeper_downstream_rejected_total", "downstream" => name.to_owned()),
            timeouts: metrics::counter!("innkeeper_downstream_timeouts_total", "downstream" => name.to_owned()),
            retries: metrics::counter!("innkeeper_downstream_retries_total", "downstream" => name.to_owned()),
            budget_exhausted: metrics::counter!("innkeeper_downstream_retry_budget_exhausted_total", "downstream" => name.to_owned()),
            state: metrics::gauge!("innkeeper_downstream_breaker_state", "downstream" => name.to_owned()),
        }
    }
}

impl std::fmt::Debug for Meters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Meters")
    }
}

#[derive(Debug)]
struct Inner {
    name: String,
    meters: Meters,
    config: ResilienceConfig,
    breaker: Mutex<Breaker>,
    budget: Mutex<Budget>,
    jitter: RandomState,
    ticks: Arc<dyn Ticks>,
    draws: std::sync::atomic::AtomicU64,
}

/// One downstream (a service, an external API) with its breaker and retry budget. Cheap to
/// clone; clones share the breaker.
#[derive(Debug, Clone)]
pub struct Downstream(Arc<Inner>);

impl Downstream {
    /// A downstream named `name` (the metrics label), calls made as `config` says.
    pub fn new(name: &str, config: ResilienceConfig) -> Self {
        Self::with_ticks(name, config, Arc::new(SystemTicks))
    }

    /// [`Downstream::new`] whose breaker and budget windows read `ticks`.
    pub fn with_ticks(name: &str, config: ResilienceConfig, ticks: Arc<dyn Ticks>) -> Self {
        let now = ticks.now();
        let breaker_window = Duration::from_secs(config.breaker.window_seconds.max(1));
        let budget_window = Duration::from_secs(config.retry_budget_window_seconds.max(1));
        let downstream = Self(Arc::new(Inner {
            name: name.to_owned(),
            meters: Meters::new(name),
            breaker: Mutex::new(Breaker {
                phase: Phase::Closed { consecutive: 0 },
                window: Window::new(breaker_window, now),
            }),
            budget: Mutex::new(Budget {
                window: Window::new(budget_window, now),
            }),
            config,
            jitter: RandomState::new(),
            ticks,
            draws: std::sync::atomic::AtomicU64::new(0),
        }));
        downstream.publish_state(BreakerState::Closed);
        downstream
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// How calls are made.
    pub fn config(&self) -> &ResilienceConfig {
        &self.0.config
    }

    /// The breaker's state now (an open breaker whose time is up reads half-open).
    pub fn state(&self) -> BreakerState {
        let breaker = self.breaker();
        match breaker.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if self.0.ticks.now() < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Makes the call `attempt` (called once per attempt) under the deadline, breaker and, for
    /// [`Idempotency::Safe`] calls, retries. The error is the last attempt's; `unavailable` at
    /// once while the breaker is open; `timeout` when the deadline passes.
    pub async fn call<T, F, Fut>(&self, idempotency: Idempotency, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let config = &self.0.config;
        let started = self.0.ticks.now();
        let deadline = started + Duration::from_millis(config.deadline_ms);
        let max_attempts = match idempotency {
            Idempotency::Safe => config.max_attempts.max(1),
            Idempotency::Unsafe => 1,
        };
        self.budget().window.add(started, 1, 0);
        let mut tried = 0u32;
        loop {
            tried += 1;
            let result = self.attempt_once(&mut attempt, deadline).await;
            let err = match result {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            if tried >= max_attempts || !is_retryable(&err) || err_is_rejection(&err) {
                return Err(err);
            }
            let delay = self.backoff(tried);
            if self.0.ticks.now() + delay >= deadline {
                return Err(err);
            }
            if !self.take_retry() {
                self.0.meters.budget_exhausted.increment(1);
                tracing::debug!(downstream = %self.0.name, "retry budget exhausted; not retrying");
                return Err(err);
            }
            self.0.meters.retries.increment(1);
            tracing::debug!(downstream = %self.0.name, attempt = tried, error = %err, ?delay, "retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt_once<T, F, Fut>(&self, attempt: &mut F, deadline: Instant) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let Some(permit) = self.admit() else {
            self.0.meters.rejected.increment(1);
            self.0.meters.rejected_calls.increment(1);
            return Err(rejection(&self.0.name));
        };
        let now = self.0.ticks.now();
        let limit = Duration::from_millis(self.0.config.attempt_timeout_ms)
            .min(deadline.saturating_duration_since(now));
        let result = match tokio::time::timeout(limit, attempt()).await {
            Ok(result) => result,
            Err(_) => {
                self.0.meters.timeouts.increment(1);
                Err(Error::new(
                    ErrorCode::Timeout,
                    format!(
                        "{} did not answer within {} ms",
                        self.0.name,
                        limit.as_millis()
                    ),
                ))
            }
        };
        let failed = result.as_ref().err().is_some_and(is_failure);
        if failed {
            self.0.meters.failure.increment(1);
        } else {
            self.0.meters.success.increment(1);
        }
        self.record(permit, failed);
        result
    }

    /// Lets a call through, or not (open, or half-open with every probe taken).
    fn admit(&self) -> Option<Permit> {
        let now = self.0.ticks.now();
        let mut breaker = self.breaker();
        let (permit, changed) = match &mut breaker.phase {
            Phase::Closed { .. } => (Some(Permit::Normal), None),
            Phase::Open { until } if now < *until => (None, None),
            Phase::Open { .. } => {
                breaker.phase = Phase::HalfOpen {
                    in_flight: 1,
                    successes: 0,
                };
                (Some(Permit::Probe), Some(BreakerState::HalfOpen))
            }
            Phase::HalfOpen {
                in_flight,
                successes,
            } => {
                if *in_flight + *successes < self.0.config.breaker.half_open_probes {
                    *in_flight += 1;
                    (Some(Permit::Probe), None)
                } else {
                    (None, None)
                }
            }
        };
        drop(breaker);
        if let Some(state) = changed {
            self.transition(state);
        }
        permit
    }

    /// Counts an attempt's outcome; opens or closes the breaker.
    fn record(&self, permit: Permit, failed: bool) {
        let config = &self.0.config.breaker;
        let now = self.0.ticks.now();
        let mut breaker = self.breaker();
        let open = Phase::Open {
            until: now + Duration::from_millis(config.open_ms),
        };
        let mut changed = None;
        match (&mut breaker.phase, permit) {
            (
                Phase::HalfOpen {
                    in_flight,
                    successes,
                },
                Permit::Probe,
            ) => {
                *in_flight = in_flight.saturating_sub(1);
                if failed {
                    breaker.phase = open;
                    changed = Some(BreakerState::Open);
                } else {
                    *successes += 1;
                    if *successes >= config.half_open_probes {
                        breaker.phase = Phase::Closed { consecutive: 0 };
                        breaker.window.clear();
                        changed = Some(BreakerState::Closed);
                    }
                }
            }
            (Phase::Closed { consecutive }, _) => {
                *consecutive = if failed { *consecutive + 1 } else { 0 };
                let consecutive = *consecutive;
                breaker.window.add(now, 1, u64::from(failed));
                let (calls, failures) = breaker.window.totals(now);
                let rate_exceeded = calls >= u64::from(config.minimum_calls.max(1))
                    && (failures as f64) >= config.failure_rate * (calls as f64);
                if failed && (consecutive >= config.consecutive_failures || rate_exceeded) {
                    breaker.phase = open;
                    breaker.window.clear();
                    changed = Some(BreakerState::Open);
                }
            }
            // A normal call that finished after the breaker opened (or a probe after it
            // closed): the state was decided by others.
            _ => {}
        }
        drop(breaker);
        if let Some(state) = changed {
            self.transition(state);
        }
    }

    fn transition(&self, state: BreakerState) {
        match state {
            BreakerState::Open => {
                tracing::warn!(downstream = %self.0.name, "circuit breaker opened: failing fast")
            }
            BreakerState::HalfOpen => {
                tracing::info!(downstream = %self.0.name, "circuit breaker half-open: probing")
            }
            BreakerState::Closed => {
                tracing::info!(downstream = %self.0.name, "circuit breaker closed")
            }
        }
        self.publish_state(state);
    }

    fn publish_state(&self, state: BreakerState) {
        self.0.meters.state.set(state.gauge());
    }

    /// Takes one retry from the budget, if it has one.
    fn take_retry(&self) -> bool {
        let config = &self.0.config;
        let now = self.0.ticks.now();
        let mut budget = self.budget();
        let (calls, retries) = budget.window.totals(now);
        let allowed = (calls as f64) * f64::from(config.retry_budget_percent) / 100.0
            + (config.retry_budget_min_per_second as f64)
                * (config.retry_budget_window_seconds as f64);
        if (retries + 1) as f64 > allowed {
            return false;
        }
        budget.window.add(now, 0, 1);
        true
    }

    /// The wait before retry `n` (1-based): `base * 2^(n-1)` capped at the maximum, of which
    /// the second half is random.
    fn backoff(&self, n: u32) -> Duration {
        let config = &self.0.config;
        let exp = config
            .backoff_base_ms
            .saturating_mul(1u64 << (n.saturating_sub(1)).min(20));
        let full = exp.min(config.backoff_max_ms);
        let mut hasher = self.0.jitter.build_hasher();
        hasher.write_u64(
            self.0
                .draws
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        );
        hasher.write_u32(n);
        let unit = (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64;
        Duration::from_millis(full / 2) + Duration::from_secs_f64((full as f64 / 2000.0) * unit)
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.0.breaker.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn budget(&self) -> std::sync::MutexGuard<'_, Budget> {
        self.0.budget.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The message of a fast failure, so callers (and retries) can tell it apart.
const REJECTED: &str = "is unavailable (circuit breaker open); retry later";

fn rejection(name: &str) -> Error {
    Error::unavailable(format!("{name} {REJECTED}"))
}

/// Whether `err` is this layer's own fast failure (never retried: the breaker is open).
fn err_is_rejection(err: &Error) -> bool {
    err.code == ErrorCode::Unavailable && err.message.ends_with(REJECTED)
}

/// Whether an error is a fast failure of an open breaker (no call reached the downstream).
pub fn is_rejected(err: &Error) -> bool {
    err_is_rejection(err)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn config() -> ResilienceConfig {
        ResilienceConfig {
            attempt_timeout_ms: 100,
            deadline_ms: 1_000,
            max_attempts: 3,
            backoff_base_ms: 10,
            backoff_max_ms: 40,
            retry_budget_percent: 20,
            retry_budget_min_per_second: 1,
            retry_budget_window_seconds: 10,
            breaker: BreakerConfig {
                consecutive_failures: 3,
                failure_rate: 0.5,
                minimum_calls: 10,
                window_seconds: 10,
                open_ms: 5_000,
                half_open_probes: 1,
            },
        }
    }

    fn manual(config: ResilienceConfig) -> (Downstream, ManualTicks) {
        let ticks = ManualTicks::new();
        (
            Downstream::with_ticks("test", config, Arc::new(ticks.clone())),
            ticks,
        )
    }

    /// A downstream that answers with `outcome` and counts the calls that reached it.
    async fn call(
        downstream: &Downstream,
        idempotency: Idempotency,
        reached: &AtomicU32,
        outcome: Result<(), ErrorCode>,
    ) -> Result<()> {
        downstream
            .call(idempotency, || async {
                reached.fetch_add(1, Ordering::SeqCst);
                outcome.map_err(|code| Error::new(code, "downstream says no"))
            })
            .await
    }

    fn unavailable() -> Result<(), ErrorCode> {
        Err(ErrorCode::Unavailable)
    }

    #[tokio::test]
    async fn consecutive_failures_open_it_and_then_nothing_reaches_the_downstream() {
        let (downstream, _ticks) = manual(config());
        let reached = AtomicU32::new(0);
        for _ in 0..3 {
            let err = call(&downstream, Idempotency::Unsafe, &reached, unavailable())
                .await
                .expect_err("fails");
            assert!(!is_rejected(&err));
        }
        assert_eq!(downstream.state(), BreakerState::Open);
        assert_eq!(reached.load(Ordering::SeqCst), 3);
        let started = std::time::Instant::now();
        for _ in 0..50 {
            let err = call(&downstream, Idempotency::Safe, &reached, Ok(()))
                .await
                .expect_err("fails fast");
            assert_eq!(err.code, ErrorCode::Unavailable);
            assert!(is_rejected(&err), "{err}");
        }
        assert_eq!(reached.load(Ordering::SeqCst), 3, "no call got through");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "fast: no waiting, no backoff"
        );
    }

    #[tokio::test]
    async fn it_half_opens_after_the_open_time_and_a_successful_probe_closes_it() {
        let (downstream, ticks) = manual(config());
        let reached = AtomicU32::new(0);
        for _ in 0..3 {
            let _ = call(&downstream, Idempotency::Unsafe, &reached, unavailable()).await;
        }
        ticks.advance(Duration::from_millis(4_999));
        assert_eq!(downstream.state(), BreakerState::Open);
        ticks.advance(Duration::from_millis(1));
        assert_eq!(downstream.state(), BreakerState::HalfOpen);
        call(&downstream, Idempotency::Unsafe, &reached, Ok(()))
            .await
            .expect("the probe goes through");
        assert_eq!(downstream.state(), BreakerState::Closed);
        call(&downstream, Idempotency::Unsafe, &reached, Ok(()))
            .await
            .expect("closed again");
        assert_eq!(reached.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn a_failed_probe_opens_it_again_for_another_open_time() {
        let (downstream, ticks) = manual(config());
        let reached = AtomicU32::new(0);
        for _ in 0..3 {
            let _ = call(&downstream, Idempotency::Unsafe, &reached, unavailable()).await;
        }
        ticks.advance(Duration::from_millis(5_000));
        let _ = call(&downstream, Idempotency::Unsafe, &reached, unavailable()).await;
        assert_eq!(downstream.state(), BreakerState::Open);
        assert_eq!(reached.load(Ordering::SeqCst), 4);
        ticks.advance(Duration::from_millis(4_000));
        let err = call(&downstream, Idempotency::Unsafe, &reached, Ok(()))
            .await
            .expect_err("still open");
        assert!(is_rejected(&err));
        assert_eq!(reached.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn half_open_lets_only_the_probes_through() {
        let (downstream, ticks) = manual(config());
        let reached = Arc::new(AtomicU32::new(0));
        for _ in 0..3 {
            let _ = call(&downstream, Idempotency::Unsafe, &reached, unavailable()).await;
        }
        ticks.advance(Duration::from_millis(5_000));
        let gate = Arc::new(tokio::sync::Notify::new());
        let probe = {
            let (downstream, reached, gate) = (downstream.clone(), reached.clone(), gate.clone());
            tokio::spawn(async move {
                downstream
                    .call(Idempotency::Unsafe, || async {
                        reached.fetch_add(1, Ordering::SeqCst);
                        gate.notified().await;
                        Ok(())
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        assert_eq!(reached.load(Ordering::SeqCst), 4, "the probe is in flight");
        let err = call(&downstream, Idempotency::Unsafe, &reached, Ok(()))
            .await
            .expect_err("a second call while the probe runs");
        assert!(is_rejected(&err));
        gate.notify_one();
        probe.await.expect("joins").expect("probe succeeds");
        assert_eq!(downstream.state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn the_failure_rate_over_the_window_opens_it() {
        let (downstream, _ticks) = manual(config());
        let reached = AtomicU32::new(0);
        // Alternating: never three failures in a row.
        for i in 0..9 {
            let outcome = if i % 2 == 0 { unavailable() } else { Ok(()) };
            let _ = call(&downstream, Idempotency::Unsafe, &reached, outcome).await;
        }
        assert_eq!(
            downstream.state(),
            BreakerState::Closed,
            "9 calls < minimum"
        );
        let _ = call(&downstream, Idempotency::Unsafe, &reached, Ok(())).await;
        assert_eq!(
            downstream.state(),
            BreakerState::Closed,
            "a success opens nothing"
        );
        let _ = call(&downstream, Idempotency::Unsafe, &reached, unavailable()).await;
        assert_eq!(downstream.state(), BreakerState::Open, "6 of 11 failed");
    }

    #[tokio::test]
    async fn failures_that_left_the_window_no_longer_count() {
        let (downstream, ticks) = manual(config());
        let reached = AtomicU32::new(0);
        for i in 0..9 {
            let outcome = if i % 2 == 0 { unavailable() } else { Ok(()) };
            let _ = call(&downstream, Idempotency::Unsafe, &reached, outcome).await;
        }
        ticks.advance(Duration::from_secs(11));
        let _ = call(&downstream, Idempotency::Unsafe, &reached, Ok(())).await;
        let _ = call(&downstream, Idempotency::Unsafe, &reached, unavailable()).await;
        assert_eq!(downstream.state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn answers_of_a_working_downstream_never_open_it() {
        let (downstream, _ticks) = manual(config());
        let reached = AtomicU32::new(0);
        for code in [
            ErrorCode::NotFound,
            ErrorCode::ValidationFailed,
            ErrorCode::InvalidState,
            ErrorCode::Conflict,
        ] {
            for _ in 0..5 {
                let _ = call(&downstream, Idempotency::Safe, &reached, Err(code)).await;
            }
        }
        assert_eq!(downstream.state(), BreakerState::Closed);
        assert_eq!(reached.load(Ordering::SeqCst), 20, "and none was retried");
    }

    #[tokio::test]
    async fn only_idempotent_calls_are_retried_and_only_on_retryable_errors() {
        let mut cfg = config();
        cfg.breaker.consecutive_failures = 100;
        cfg.breaker.minimum_calls = 1000;
        let (downstream, _ticks) = manual(cfg);
        let reached = AtomicU32::new(0);
        let _ = call(&downstream, Idempotency::Unsafe, &reached, unavailable()).await;
        assert_eq!(reached.swap(0, Ordering::SeqCst), 1, "unsafe: once");
        let _ = call(&downstream, Idempotency::Safe, &reached, unavailable()).await;
        assert_eq!(reached.swap(0, Ordering::SeqCst), 3, "safe: max_attempts");
        let _ = call(
            &downstream,
            Idempotency::Safe,
            &reached,
            Err(ErrorCode::Internal),
        )
        .await;
        assert_eq!(
            reached.swap(0, Ordering::SeqCst),
            1,
            "internal is not retryable"
        );
        // Succeeds on the second attempt.
        let result = downstream
            .call(Idempotency::Safe, || async {
                if reached.fetch_add(1, Ordering::SeqCst) == 0 {
                    Err(Error::new(ErrorCode::Timeout, "slow"))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(result.expect("second attempt"), 7);
    }

    #[tokio::test]
    async fn backoff_grows_with_jitter_within_bounds() {
        let (downstream, _ticks) = manual(config());
        for n in 1..=5u32 {
            let full = (10u64 << (n - 1)).min(40);
            for _ in 0..20 {
                let delay = downstream.backoff(n);
                assert!(delay >= Duration::from_millis(full / 2), "{n}: {delay:?}");
                assert!(delay <= Duration::from_millis(full), "{n}: {delay:?}");
            }
        }
    }

    #[tokio::test]
    async fn an_attempt_past_its_deadline_is_a_timeout() {
        let mut cfg = config();
        cfg.max_attempts = 1;
        let (downstream, _ticks) = manual(cfg);
        let started = Instant::now();
        let err = downstream
            .call(Idempotency::Safe, || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            })
            .await
            .expect_err("times out");
        assert_eq!(err.code, ErrorCode::Timeout);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(100) && took < Duration::from_millis(900),
            "{took:?}"
        );
    }

    #[tokio::test]
    async fn the_whole_call_keeps_its_deadline_across_retries() {
        let mut cfg = config();
        cfg.max_attempts = 100;
        cfg.deadline_ms = 350;
        cfg.breaker.consecutive_failures = 1000;
        cfg.breaker.minimum_calls = 1000;
        cfg.retry_budget_min_per_second = 100;
        let downstream = Downstream::new("test", cfg);
        let started = Instant::now();
        let err = downstream
            .call(Idempotency::Safe, || async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            })
            .await
            .expect_err("times out");
        assert_eq!(err.code, ErrorCode::Timeout);
        assert!(
            started.elapsed() < Duration::from_millis(700),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn the_budget_stops_a_retry_storm() {
        let mut cfg = config();
        cfg.breaker.consecutive_failures = 100_000;
        cfg.breaker.minimum_calls = 100_000;
        cfg.retry_budget_min_per_second = 1;
        let (downstream, _ticks) = manual(cfg);
        let reached = AtomicU32::new(0);
        for _ in 0..100 {
            let _ = call(&downstream, Idempotency::Safe, &reached, unavailable()).await;
        }
        let attempts = reached.load(Ordering::SeqCst);
        // Without a budget: 300. With it: 100 calls + at most 20 % of them + 1/s over 10 s.
        assert!(attempts <= 100 + 20 + 10, "{attempts} attempts");
        assert!(attempts > 100, "some retries are allowed: {attempts}");
    }

    #[test]
    fn the_defaults_are_valid_and_problems_name_their_keys() {
        assert!(ResilienceConfig::default().problems("x").is_empty());
        let cfg = ResilienceConfig {
            max_attempts: 0,
            breaker: BreakerConfig {
                failure_rate: 1.5,
                ..BreakerConfig::default()
            },
            ..ResilienceConfig::default()
        };
        let problems = cfg.problems("payment.provider_calls");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("payment.provider_calls.max_attempts"))
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("payment.provider_calls.breaker.failure_rate"))
        );
        let parsed: ResilienceConfig = serde_json::from_value(
            serde_json::json!({"max_attempts": 5, "breaker": {"open_ms": 10}}),
        )
        .expect("partial sections take defaults");
        assert_eq!(parsed.max_attempts, 5);
        assert_eq!(parsed.breaker.open_ms, 10);
        assert_eq!(parsed.breaker.half_open_probes, 1);
    }
}
