//! Request limits beyond body and batch size: per-client rate limits (token buckets) and
//! bounded concurrency for expensive requests (a semaphore with a short, bounded wait).
//!
//! With a cluster (`cluster.redis`), the buckets are shared by every replica through
//! [`needle_service::shared::SharedRate`]; while Redis does not answer, each replica falls
//! back to its local buckets (logged), and returns to the shared ones by itself.
//!
//! Both are enforced by the access middleware ([`crate::auth::enforce`]), after the caller
//! is identified: the rate limit is per API key, per listener token, or per client IP
//! when Needle runs open. What counts as expensive is decided by
//! [`crate::auth::classify`].

use needle_service::shared::SharedRate;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Most buckets kept by a [`RateLimiter`]; past it, idle (full) buckets are dropped.
pub const MAX_BUCKETS: usize = 100_000;

/// `Retry-After` of a `503 overloaded`, seconds.
pub const OVERLOADED_RETRY_AFTER_S: u64 = 1;

pub use needle_service::config::limits::{ConcurrencyConfig, RateLimitConfig};

/// Who a rate-limit bucket belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// An API key, by its configured name.
    Key(Arc<str>),
    /// A listener token, by its listener (every token of a listener shares one bucket).
    Listener(String),
    /// A client IP (open mode, and failed authentication); `None` when unknown.
    Ip(Option<IpAddr>),
}

impl RateKey {
    /// The bucket's name in the shared store: `key:<name>`, `listener:<id>`, `ip:<addr>`.
    pub fn bucket_name(&self) -> String {
        match self {
            RateKey::Key(name) => format!("key:{name}"),
            RateKey::Listener(user) => format!("listener:{user}"),
            RateKey::Ip(Some(ip)) => format!("ip:{ip}"),
            RateKey::Ip(None) => "ip:unknown".into(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets by client: `burst` requests at once, refilled at `requests_per_s`.
#[derive(Debug)]
pub struct RateLimiter<K = RateKey> {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
    max_buckets: usize,
    /// Buckets shared by every replica (Redis), tried before the local ones.
    shared: Option<Arc<SharedRate>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// A limiter for `config` (off when `requests_per_s` is 0).
    pub fn new(config: &RateLimitConfig) -> Self {
        Self::with_capacity(config, MAX_BUCKETS)
    }

    /// A limiter keeping at most about `max_buckets` buckets.
    pub fn with_capacity(config: &RateLimitConfig, max_buckets: usize) -> Self {
        let rate = if config.requests_per_s.is_finite() {
            config.requests_per_s.max(0.0)
        } else {
            0.0
        };
        RateLimiter {
            rate,
            burst: f64::from(config.burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
            max_buckets: max_buckets.max(1),
            shared: None,
        }
    }

    /// Take from the buckets every replica shares (`None`: local buckets only). The local
    /// buckets stay the fallback while the shared ones cannot be reached.
    pub fn with_shared(mut self, shared: Option<Arc<SharedRate>>) -> Self {
        self.shared = shared;
        self
    }

    /// Whether requests are limited at all.
    pub fn enabled(&self) -> bool {
        self.rate > 0.0
    }

    /// Take one request from `key`'s bucket at `now`; `Err(wait)` when it is empty, with
    /// how long until the next request would be allowed.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if !self.enabled() {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= self.max_buckets && !buckets.contains_key(key) {
            self.prune(&mut buckets, now);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.last = now.max(bucket.last);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }

    /// Drop buckets that have refilled (they behave like new ones); if that frees
    /// nothing, drop them all rather than grow without bound.
    fn prune(&self, buckets: &mut HashMap<K, Bucket>, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        buckets.retain(|_, b| b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst);
        if buckets.len() >= self.max_buckets {
            tracing::warn!(
                buckets = buckets.len(),
                "rate limiter full of active clients; resetting it"
            );
            buckets.clear();
        }
    }

    /// Buckets held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl RateLimiter<RateKey> {
    /// [`RateLimiter::check`] on the shared bucket when there is one and it answers (never
    /// longer than its command timeout, then not tried for a second), else on the local one.
    pub async fn take(&self, key: &RateKey, now: Instant) -> Result<(), Duration> {
        if !self.enabled() {
            return Ok(());
        }
        if let Some(shared) = &self.shared {
            if let Some(decision) = shared.check(&key.bucket_name(), self.rate, self.burst as u32).await {
                return decision;
            }
        }
        self.check(key, now)
    }
}

/// `Retry-After` seconds for a wait: rounded up, at least 1.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// Bounded concurrency: at most `max_in_flight` holders, at most `max_waiting` waiters,
/// each waiting at most `max_wait`. Never an unbounded queue.
#[derive(Debug)]
pub struct Gate {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
    max_wait: Duration,
}

/// The gate is full: no slot came free in time, or too many requests were waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many expensive requests in flight")]
pub struct Overloaded;

/// Decrements the waiter count when the wait ends, however it ends (even cancelled).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// A gate for `config`.
    pub fn new(config: &ConcurrencyConfig) -> Gate {
        Gate {
            slots: Arc::new(Semaphore::new(config.max_in_flight.clamp(1, Semaphore::MAX_PERMITS))),
            waiting: AtomicUsize::new(0),
            max_waiting: config.max_waiting,
            max_wait: Duration::from_millis(config.max_wait_ms),
        }
    }

    /// The gate of batch writes: `max_writes_in_flight` slots, `max_waiting` waiters,
    /// each waiting at most `max_write_wait_ms`.
    pub fn for_writes(config: &ConcurrencyConfig) -> Gate {
        Gate::new(&ConcurrencyConfig {
            max_in_flight: config.max_writes_in_flight,
            max_wait_ms: config.max_write_wait_ms,
            ..config.clone()
        })
    }

    /// A slot, held until the permit is dropped; `Err(Overloaded)` when none is free and
    /// waiting is not possible or takes longer than `max_wait`.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, Overloaded> {
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(permit);
        }
        let before = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.waiting);
        if before >= self.max_waiting || self.max_wait.is_zero() {
            return Err(Overloaded);
        }
        match tokio::time::timeout(self.max_wait, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Timed out, or the semaphore was closed (never done).
            _ => Err(Overloaded),
        }
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(rate: f64, burst: u32) -> RateLimiter<&'static str> {
        RateLimiter::new(&RateLimitConfig {
            requests_per_s: rate,
            burst,
        })
    }

    #[test]
    fn off_by_default_and_when_zero() {
        assert!(!RateLimiter::<RateKey>::new(&RateLimitConfig::default()).enabled());
        let l = limiter(0.0, 1);
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(l.check(&"a", now).is_ok());
        }
        assert!(l.is_empty(), "no bucket when off");
    }

    #[test]
    fn burst_then_refill() {
        let l = limiter(2.0, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(&"a", t0).is_ok());
        }
        let wait = l.check(&"a", t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
        // Another client has its own bucket.
        assert!(l.check(&"b", t0).is_ok());
        // Half a second later one request is allowed, not two.
        let t1 = t0 + Duration::from_millis(500);
        assert!(l.check(&"a", t1).is_ok());
        assert!(l.check(&"a", t1).is_err());
        // Long idle: back to a full burst, never more.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(l.check(&"a", t2).is_ok());
        }
        assert!(l.check(&"a", t2).is_err());
    }

    #[test]
    fn slow_rates_give_long_retry_after() {
        let l = limiter(0.1, 1);
        let t0 = Instant::now();
        assert!(l.check(&"a", t0).is_ok());
        let wait = l.check(&"a", t0).unwrap_err();
        assert_eq!(retry_after_secs(wait), 10);
        assert_eq!(retry_after_secs(Duration::from_millis(10_001)), 11);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }

    #[test]
    fn a_clock_going_backwards_is_harmless() {
        let l = limiter(1.0, 1);
        let t0 = Instant::now() + Duration::from_secs(10);
        assert!(l.check(&"a", t0).is_ok());
        assert!(l.check(&"a", t0 - Duration::from_secs(5)).is_err());
    }

    #[test]
    fn buckets_are_bounded() {
        let l: RateLimiter<u32> = RateLimiter::with_capacity(
            &RateLimitConfig {
                requests_per_s: 1.0,
                burst: 2,
            },
            100,
        );
        let t0 = Instant::now();
        for ip in 0..1000 {
            assert!(l.check(&ip, t0).is_ok());
            assert!(l.len() <= 100);
        }
        // Once refilled, old buckets are dropped first.
        let later = t0 + Duration::from_secs(10);
        assert!(l.check(&5000, later).is_ok());
        assert!(l.len() <= 100);
    }

    #[test]
    fn config_validation() {
        assert!(RateLimitConfig::default().problems().is_empty());
        assert!(ConcurrencyConfig::default().problems().is_empty());
        let bad = RateLimitConfig {
            requests_per_s: f64::NAN,
            burst: 0,
        };
        let p = bad.problems();
        assert!(p[0].starts_with("rate_limit.requests_per_s:"), "{p:?}");
        assert!(p[1].starts_with("rate_limit.burst:"), "{p:?}");
        let p = RateLimitConfig {
            requests_per_s: -1.0,
            burst: 1,
        }
        .problems();
        assert_eq!(p.len(), 1, "{p:?}");
        let p = ConcurrencyConfig {
            max_in_flight: 0,
            max_running: 100_001,
            max_waiting: 2_000_000,
            max_wait_ms: 100_000,
            max_writes_in_flight: 0,
            max_write_wait_ms: 600_001,
        }
        .problems();
        assert_eq!(p.len(), 6, "{p:?}");
        assert!(p[0].starts_with("concurrency.max_in_flight:"), "{p:?}");
        assert!(p[1].starts_with("concurrency.max_running:"), "{p:?}");
        assert!(p[4].starts_with("concurrency.max_writes_in_flight:"), "{p:?}");
        assert!(p[5].starts_with("concurrency.max_write_wait_ms:"), "{p:?}");
    }

    #[test]
    fn max_running_zero_is_twice_the_cpus() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let auto = ConcurrencyConfig::default();
        assert_eq!(auto.running(), (cpus * 2).max(2));
        let set = ConcurrencyConfig {
            max_running: 3,
            ..ConcurrencyConfig::default()
        };
        assert_eq!(set.running(), 3);
    }

    #[tokio::test]
    async fn gate_refuses_when_full_and_nobody_may_wait() {
        let gate = Gate::new(&ConcurrencyConfig {
            max_in_flight: 2,
            max_waiting: 0,
            max_wait_ms: 1000,
            ..ConcurrencyConfig::default()
        });
        let a = gate.enter().await.expect("slot 1");
        let _b = gate.enter().await.expect("slot 2");
        assert_eq!(gate.enter().await.unwrap_err(), Overloaded);
        assert_eq!(gate.waiting(), 0, "the refused waiter is gone");
        drop(a);
        assert!(gate.enter().await.is_ok(), "a freed slot is reused");
    }

    // Tokio's clock is paused: it moves only when every task waits on a timer (then to the
    // next timer), so the waits below are exact and take no real time.
    #[tokio::test(start_paused = true)]
    async fn gate_waits_briefly_then_refuses() {
        let gate = Arc::new(Gate::new(&ConcurrencyConfig {
            max_in_flight: 1,
            max_waiting: 1,
            max_wait_ms: 50,
            ..ConcurrencyConfig::default()
        }));
        let held = gate.enter().await.expect("slot");
        let started = tokio::time::Instant::now();
        assert_eq!(gate.enter().await.unwrap_err(), Overloaded);
        assert_eq!(started.elapsed(), Duration::from_millis(50), "waited max_wait_ms");

        // A waiter gets the slot when it frees in time; a second waiter is refused at once.
        let g = Arc::clone(&gate);
        let waiter = tokio::spawn(async move { g.enter().await.map(drop) });
        while gate.waiting() == 0 {
            tokio::task::yield_now().await;
        }
        let started = tokio::time::Instant::now();
        assert_eq!(gate.enter().await.unwrap_err(), Overloaded);
        assert_eq!(started.elapsed(), Duration::ZERO, "refused without waiting");
        tokio::time::advance(Duration::from_millis(49)).await;
        drop(held);
        assert!(waiter.await.expect("join").is_ok(), "the slot freed within max_wait_ms");
        assert_eq!(gate.waiting(), 0);
        assert_eq!(gate.available(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_waiter_leaves_the_queue() {
        let gate = Gate::new(&ConcurrencyConfig {
            max_in_flight: 1,
            max_waiting: 1,
            max_wait_ms: 10_000,
            ..ConcurrencyConfig::default()
        });
        let _held = gate.enter().await.expect("slot");
        let r = tokio::time::timeout(Duration::from_millis(10), gate.enter()).await;
        assert!(r.is_err(), "still waiting when cancelled");
        assert_eq!(gate.waiting(), 0);
    }
}
