//! `[rate_limit]` and `[concurrency]`: the limits the server's access middleware enforces.

use serde::{Deserialize, Serialize};

/// `[rate_limit]`: a token bucket per API key, per listener token, or per client IP when
/// Needle runs without keys. Health, metrics, the OpenAPI document and the page are never
/// limited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second allowed to each client; `0` turns rate limiting off.
    pub requests_per_s: f64,
    /// Requests a client may make at once after being idle (the bucket's size).
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_s: 0.0,
            burst: 100,
        }
    }
}

impl RateLimitConfig {
    /// Problems with these values, each `rate_limit.<key>: why`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(self.requests_per_s.is_finite() && (0.0..=1_000_000.0).contains(&self.requests_per_s)) {
            problems.push(format!(
                "rate_limit.requests_per_s: must be between 0 (off) and 1000000, got {}",
                self.requests_per_s
            ));
        }
        if !(1..=1_000_000).contains(&self.burst) {
            problems.push(format!(
                "rate_limit.burst: must be between 1 and 1000000, got {}",
                self.burst
            ));
        }
        problems
    }
}

/// `[concurrency]`: how many expensive requests (search, recommendations, similar items,
/// sessions, training) run at once, and how many may wait, for how long, for a slot; the
/// same for batch writes, whose bodies are what a client can make the server hold most of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConcurrencyConfig {
    /// Expensive requests admitted at once (running, or queued for one of the
    /// `max_running` workers).
    pub max_in_flight: usize,
    /// Expensive requests computing at once; the other admitted ones wait their turn in
    /// order. `0`: twice the CPUs the process may use. More than the cores adds no
    /// throughput, only threads, each keeping its allocator's freed pages, and a longer
    /// tail (BENCHMARKS §9.4).
    pub max_running: usize,
    /// Expensive requests waiting for a slot at once; more are answered `503 overloaded`.
    pub max_waiting: usize,
    /// Longest wait for a slot, milliseconds; then `503 overloaded`.
    pub max_wait_ms: u64,
    /// Batch writes (`POST /v1/catalog`, `POST /v1/events`) running at once: each holds
    /// its body (up to `max_body_bytes`) and its parsed records in memory; a write waiting
    /// for a slot has not read its body yet.
    pub max_writes_in_flight: usize,
    /// Longest wait of a batch write for a slot, milliseconds (at most `max_waiting` wait);
    /// then `503 overloaded`.
    pub max_write_wait_ms: u64,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        ConcurrencyConfig {
            max_in_flight: 32,
            max_running: 0,
            max_waiting: 128,
            max_wait_ms: 100,
            max_writes_in_flight: 8,
            max_write_wait_ms: 10_000,
        }
    }
}

impl ConcurrencyConfig {
    /// Expensive requests computing at once: `max_running`, or twice the CPUs the process
    /// may use when it is 0.
    pub fn running(&self) -> usize {
        if self.max_running > 0 {
            return self.max_running;
        }
        std::thread::available_parallelism().map_or(2, |n| n.get() * 2).max(2)
    }

    /// Problems with these values, each `concurrency.<key>: why`.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if !(1..=100_000).contains(&self.max_in_flight) {
            problems.push(format!(
                "concurrency.max_in_flight: must be between 1 and 100000, got {}",
                self.max_in_flight
            ));
        }
        if self.max_running > 100_000 {
            problems.push(format!(
                "concurrency.max_running: must be at most 100000 (0: twice the CPUs), got {}",
                self.max_running
            ));
        }
        if self.max_waiting > 1_000_000 {
            problems.push(format!(
                "concurrency.max_waiting: must be at most 1000000, got {}",
                self.max_waiting
            ));
        }
        if self.max_wait_ms > 60_000 {
            problems.push(format!(
                "concurrency.max_wait_ms: must be at most 60000, got {}",
                self.max_wait_ms
            ));
        }
        if !(1..=100_000).contains(&self.max_writes_in_flight) {
            problems.push(format!(
                "concurrency.max_writes_in_flight: must be between 1 and 100000, got {}",
                self.max_writes_in_flight
            ));
        }
        if self.max_write_wait_ms > 600_000 {
            problems.push(format!(
                "concurrency.max_write_wait_ms: must be at most 600000, got {}",
                self.max_write_wait_ms
            ));
        }
        problems
    }
}
