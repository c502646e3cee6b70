//! Expected, repeated warnings — a `503` while the service starts, a `507` while the disk
//! is full, a `503` while Redis fails over — are logged at most once per second each, with
//! the number left out since the last line, so that a client retrying in a loop cannot
//! flood the log (and the disk it may be filling).

use std::sync::atomic::{AtomicU64, Ordering};

/// Shortest gap between two lines of one kind, milliseconds.
const EVERY_MS: u64 = 1_000;

/// The rate of one kind of warning.
#[derive(Debug)]
pub(crate) struct LogRate {
    /// When the last line was let through, epoch ms (0: never).
    last_ms: AtomicU64,
    /// Lines left out since.
    suppressed: AtomicU64,
}

impl LogRate {
    /// A kind never logged yet.
    pub(crate) const fn new() -> LogRate {
        LogRate {
            last_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether to log a line of this kind at `now_ms`: `Some(n)` (log it, and say `n`
    /// similar lines were left out since the last one), or `None` (left out).
    pub(crate) fn allow(&self, now_ms: u64) -> Option<u64> {
        let last = self.last_ms.load(Ordering::Acquire);
        if (last == 0 || now_ms >= last.saturating_add(EVERY_MS))
            && self
                .last_ms
                .compare_exchange(last, now_ms.max(1), Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::AcqRel));
        }
        self.suppressed.fetch_add(1, Ordering::AcqRel);
        None
    }
}

/// The wall clock, epoch milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_second_with_the_count_left_out() {
        let r = LogRate::new();
        assert_eq!(r.allow(10_000), Some(0));
        for t in 10_001..10_100 {
            assert_eq!(r.allow(t), None);
        }
        assert_eq!(r.allow(10_999), None);
        assert_eq!(r.allow(11_000), Some(100));
        assert_eq!(r.allow(11_001), None);
        assert_eq!(r.allow(50_000), Some(1));
    }
}
