//! Free space admission for writes: the service refuses a write (`507 storage_full`) while
//! the data directory's filesystem has less than `min_free_disk_mb` available, before
//! anything of it is written; background writers (checkpoints, index commits) wait.
//!
//! Why a watermark rather than waiting for `ENOSPC`: the stores fail badly at a real full
//! disk (redb latches the I/O error and refuses every later read and write until it is
//! reopened; tantivy kills its index writer), so a full disk must not be reached by our
//! own writes. Elasticsearch does the same with its flood-stage watermark. The headroom
//! covers one write's footprint (log frame, store pages, index segment, event file): keep
//! it above a few times `max_body_bytes` of the largest batches you send. Writes resume by
//! themselves once space is back above the mark; reads never stop.
//!
//! Something else may still fill the disk between the check and the write: a write that
//! meets `ENOSPC` raises the mark ([`DiskGuard::met_full_disk`]) to the space available
//! then plus [`RESUME_MARGIN`], so everything waits as it does below the configured mark
//! (writes refused, checkpoints and index commits postponed) until that much is free again.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// After a write met a full disk, writes resume once this much more than was available
/// then is free (so they do not fail again on the next few bytes freed).
pub const RESUME_MARGIN: u64 = 16 << 20;

/// Does this I/O error say the disk (or the quota) is full?
pub fn is_full(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

/// Does `e`, or an error it wraps, say the disk is full? (Libraries that keep only the
/// text of an I/O error, such as tantivy's killed index writer, are matched by the
/// `os error` number of `ENOSPC` or `EDQUOT`.)
pub fn chain_is_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if c.downcast_ref::<std::io::Error>().is_some_and(is_full) {
            return true;
        }
        let text = c.to_string();
        if text.contains("(os error 28)") || text.contains("(os error 122)") {
            return true;
        }
        cur = c.source();
    }
    false
}

/// The disk is below the mark: what is available and what is kept free, MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLow {
    /// MiB available now.
    pub available_mb: u64,
    /// The mark, MiB.
    pub min_free_mb: u64,
    /// The mark was raised by a write that met a full disk (above `min_free_disk_mb`).
    pub after_full: bool,
}

/// Refuses writes while the data directory's disk is nearly full. Clones share the mark
/// raised by [`DiskGuard::met_full_disk`].
#[derive(Debug, Clone)]
pub struct DiskGuard {
    dir: PathBuf,
    min_free_bytes: u64,
    /// Bytes to keep free since a write met a full disk (0: none); cleared once available.
    raised: Arc<AtomicU64>,
}

impl DiskGuard {
    /// Keep at least `min_free_bytes` available on the filesystem of `dir` (0: never
    /// refuse).
    pub fn new(dir: PathBuf, min_free_bytes: u64) -> DiskGuard {
        DiskGuard {
            dir,
            min_free_bytes,
            raised: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A write met a full disk (`ENOSPC`): from now on refuse writes and hold background
    /// writers until [`RESUME_MARGIN`] more than is available now is free.
    pub fn met_full_disk(&self) {
        let available = fs4::available_space(&self.dir).unwrap_or(0);
        let mark = available.saturating_add(RESUME_MARGIN);
        if self.raised.fetch_max(mark, Ordering::AcqRel) < mark {
            tracing::warn!(
                available_mb = available >> 20,
                resume_at_mb = mark >> 20,
                "a write met a full disk: writes wait until space is freed"
            );
        }
    }

    /// `Ok` when a write may go ahead; [`DiskLow`] with the free space and the mark
    /// otherwise. A filesystem that cannot be asked (it vanished, or the platform has
    /// no `statvfs`) lets the write go on: the stores report a real failure themselves.
    pub fn check(&self) -> Result<(), DiskLow> {
        let raised = self.raised.load(Ordering::Acquire);
        let mark = self.min_free_bytes.max(raised);
        if mark == 0 {
            return Ok(());
        }
        // One `statvfs` per write batch (about a microsecond): not cached, since a cached
        // "enough" would let a write through onto a disk filled meanwhile.
        let available = match fs4::available_space(&self.dir) {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot read the free space of the data directory");
                return Ok(());
            }
        };
        if available >= mark {
            if raised > 0
                && self
                    .raised
                    .compare_exchange(raised, 0, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            {
                tracing::info!(available_mb = available >> 20, "disk space is back: writes resume");
            }
            return Ok(());
        }
        Err(DiskLow {
            available_mb: available >> 20,
            min_free_mb: mark >> 20,
            after_full: raised > self.min_free_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_above_the_disk_refuses_and_zero_never_does() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DiskGuard::new(dir.path().into(), 0).check().is_ok());
        assert!(DiskGuard::new(dir.path().into(), 1).check().is_ok());
        let err = DiskGuard::new(dir.path().into(), u64::MAX).check().unwrap_err();
        assert_eq!(err.min_free_mb, u64::MAX >> 20);
        assert!(!err.after_full);
    }

    #[test]
    fn a_full_disk_raises_the_mark_for_every_clone_until_space_returns() {
        let dir = tempfile::tempdir().unwrap();
        let guard = DiskGuard::new(dir.path().into(), 0);
        let clone = guard.clone();
        // Simulate "the disk was full": raise the mark above anything available.
        guard.raised.store(u64::MAX, Ordering::Release);
        let low = clone.check().unwrap_err();
        assert!(low.after_full);
        // Space returns (the mark falls within what is available): cleared for all.
        guard.raised.store(1, Ordering::Release);
        assert!(clone.check().is_ok());
        assert_eq!(guard.raised.load(Ordering::Acquire), 0);
        assert!(guard.check().is_ok());
    }

    #[test]
    fn full_disk_errors_are_recognised_through_wrappers() {
        let full = std::io::Error::from_raw_os_error(28);
        assert!(is_full(&full));
        assert!(chain_is_full(&full));
        let text = std::io::Error::other(format!("worker failed: {full}"));
        assert!(chain_is_full(&text));
        assert!(!chain_is_full(&std::io::Error::from_raw_os_error(5)));
    }
}
