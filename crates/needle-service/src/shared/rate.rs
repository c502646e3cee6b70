//! Rate-limit buckets every replica shares: one key per bucket, updated by one atomic
//! script (GCRA, the "generic cell rate algorithm": the bucket is the time at which it will
//! be full again, so it is a single number).
//!
//! The script reads Redis's own clock (`TIME`), so replicas with skewed clocks agree. It
//! admits `burst` requests at once, then one per `1 / rate` seconds, exactly like the
//! server's local token bucket. When Redis does not answer, [`SharedRate::check`] says so
//! (`None`) and the server falls back to its local bucket; after a failure Redis is left
//! alone for [`PAUSE_AFTER_FAILURE`], so an outage does not add a timeout to every request.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{RedisConn, KEY_PREFIX};

/// How long the limiter stays local after Redis failed, before trying it again.
pub const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// KEYS[1]: the bucket; ARGV[1]: µs between requests; ARGV[2]: burst. Returns -1 when the
/// request is admitted, else the µs to wait. The key's value is the "theoretical arrival
/// time" (µs); it expires once the bucket is full again (same as never used).
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - tolerance
if allow_at > now then
  return allow_at - now
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return -1
";

/// Shared token buckets (see the module documentation).
pub struct SharedRate {
    conn: Arc<RedisConn>,
    /// Until when (ms since `epoch`) Redis is not asked, after a failure.
    paused_until_ms: AtomicI64,
    epoch: std::time::Instant,
    /// Whether the last attempt failed (a failure is logged once, as is the recovery).
    down: AtomicBool,
}

impl std::fmt::Debug for SharedRate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedRate")
            .field("down", &self.down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The key of the bucket named `name`.
pub fn bucket_key(name: &str) -> String {
    format!("{KEY_PREFIX}rate:{{{name}}}")
}

impl SharedRate {
    /// Buckets on `conn`.
    pub fn new(conn: Arc<RedisConn>) -> SharedRate {
        SharedRate {
            conn,
            paused_until_ms: AtomicI64::new(0),
            epoch: std::time::Instant::now(),
            down: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    /// Take one request from bucket `name` (`burst` at once, refilled at `rate` per second):
    /// `Some(Ok(()))` admitted, `Some(Err(wait))` refused with how long to wait, `None`
    /// when Redis cannot answer now (use the local bucket).
    pub async fn check(&self, name: &str, rate: f64, burst: u32) -> Option<Result<(), Duration>> {
        if !(rate.is_finite() && rate > 0.0) {
            return Some(Ok(()));
        }
        if self.now_ms() < self.paused_until_ms.load(Ordering::Acquire) {
            return None;
        }
        let interval_us = (1e6 / rate).round().max(1.0) as i64;
        let key = bucket_key(name);
        let burst = burst.max(1);
        let result = self
            .conn
            .run(move |mut c| async move {
                redis::cmd("EVAL")
                    .arg(GCRA)
                    .arg(1)
                    .arg(key)
                    .arg(interval_us)
                    .arg(burst)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await;
        match result {
            Ok(wait_us) => {
                if self.down.swap(false, Ordering::AcqRel) {
                    tracing::info!("shared rate limits: Redis reachable again");
                }
                Some(if wait_us < 0 {
                    Ok(())
                } else {
                    Err(Duration::from_micros(wait_us.max(1) as u64))
                })
            }
            Err(e) => {
                let until = self.now_ms() + PAUSE_AFTER_FAILURE.as_millis() as i64;
                self.paused_until_ms.store(until, Ordering::Release);
                if !self.down.swap(true, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "shared rate limits: Redis unavailable; limiting with this replica's local buckets until it is back");
                }
                None
            }
        }
    }
}
