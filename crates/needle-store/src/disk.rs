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

use std::path::PathBuf;

/// The disk is below the mark: what is available and what is kept free, MiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskLow {
    /// MiB available now.
    pub available_mb: u64,
    /// The mark, MiB.
    pub min_free_mb: u64,
}

/// Refuses writes while the data directory's disk is nearly full.
#[derive(Debug)]
pub struct DiskGuard {
    dir: PathBuf,
    min_free_bytes: u64,
}

impl DiskGuard {
    /// Keep at least `min_free_bytes` available on the filesystem of `dir` (0: never
    /// refuse).
    pub fn new(dir: PathBuf, min_free_bytes: u64) -> DiskGuard {
        DiskGuard { dir, min_free_bytes }
    }

    /// `Ok` when a write may go ahead; [`DiskLow`] with the free space and the mark
    /// otherwise. A filesystem that cannot be asked (it vanished, or the platform has
    /// no `statvfs`) lets the write go on: the stores report a real failure themselves.
    pub fn check(&self) -> Result<(), DiskLow> {
        if self.min_free_bytes == 0 {
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
        if available >= self.min_free_bytes {
            return Ok(());
        }
        Err(DiskLow {
            available_mb: available >> 20,
            min_free_mb: self.min_free_bytes >> 20,
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
    }
}
