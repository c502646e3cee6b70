//! Reading the time, through one injectable clock.
//!
//! Whatever expires, refills or decays (listener tokens, rate-limit buckets, DJ sessions)
//! reads the time from a [`Clock`] it was given: [`SystemClock`] in production, a
//! [`ManualClock`] that a test advances by hand, so no test has to sleep for time to pass.
//! Async waits (the bounded wait for a concurrency slot, request timeouts) use tokio's
//! timer, which tests control the same way with `tokio::time::pause` / `advance`.
//!
//! Reading the clock is the only thing here that touches the outside world.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Wall-clock time, milliseconds since the Unix epoch (expiry stamps, ages, decay).
    fn now_ms(&self) -> i64;
    /// A monotonic reading, for intervals (rate-limit refills).
    fn instant(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// The real clock, shared (the production default wherever a clock is injectable).
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Milliseconds since the Unix epoch, now, from the system clock (0 before 1970,
/// saturating far in the future). For code with no clock to consult.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A clock that stands still until told to move: [`ManualClock::advance`] moves both its
/// wall-clock and its monotonic readings forward by the same amount. Shared between
/// threads (`Arc<ManualClock>` coerces to `Arc<dyn Clock>`).
#[derive(Debug)]
pub struct ManualClock {
    start_ms: i64,
    start: Instant,
    /// Nanoseconds advanced since creation.
    offset_ns: AtomicU64,
}

impl ManualClock {
    /// A clock reading `start_ms` (epoch milliseconds) until advanced.
    pub fn new(start_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            start_ms,
            start: Instant::now(),
            offset_ns: AtomicU64::new(0),
        })
    }

    /// A clock reading the system's time now, then standing still (for tests whose data
    /// carries real timestamps).
    pub fn at_system_time() -> Arc<ManualClock> {
        ManualClock::new(now_ms())
    }

    /// Move the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // Saturating: a clock never wraps around to the past.
        let _ = self
            .offset_ns
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| Some(cur.saturating_add(ns)));
    }

    /// Move the clock forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: u64) {
        self.advance(Duration::from_millis(ms));
    }

    /// How far the clock has been advanced since it was created.
    pub fn advanced(&self) -> Duration {
        Duration::from_nanos(self.offset_ns.load(Ordering::Acquire))
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        let ms = i64::try_from(self.advanced().as_millis()).unwrap_or(i64::MAX);
        self.start_ms.saturating_add(ms)
    }

    fn instant(&self) -> Instant {
        self.start + self.advanced()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(1_000);
        let (ms, t0) = (clock.now_ms(), clock.instant());
        assert_eq!(ms, 1_000);
        assert_eq!(clock.instant(), t0, "stands still");
        clock.advance(Duration::from_micros(1_500));
        clock.advance_ms(10);
        assert_eq!(clock.now_ms(), 1_011);
        assert_eq!(clock.instant() - t0, Duration::from_micros(11_500));
        let shared: Arc<dyn Clock> = clock.clone();
        clock.advance_ms(1);
        assert_eq!(shared.now_ms(), 1_012, "every holder sees the same time");
    }

    #[test]
    fn the_system_clock_reads_the_system_time() {
        // After 2020 (the system clock may be stepped back, so no ordering is asserted).
        assert!(now_ms() > 1_600_000_000_000);
        assert!(SystemClock.now_ms() > 1_600_000_000_000);
        let t = system().instant();
        assert!(SystemClock.instant() >= t);
    }
}
