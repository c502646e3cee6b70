//! The catalog store's database handle, which can be reopened after a failed write.
//!
//! redb latches an I/O error: after a write fails (a full disk, an I/O error), every read
//! and write of that handle answers `PreviousIo` until the database is closed and opened
//! again. [`Handle`] records the first such failure ([`Handle::watch`]) and lets the
//! owner reopen the file ([`Handle::reopen`]); each reopen counts a new generation.
//!
//! Why the generation matters: batches applied without fsync (the write log makes them
//! durable) are lost by a reopen, which goes back to the last durable commit. The write log
//! still holds them; whoever applies the log compares generations to know it must replay.
//! A reopen on a full disk usually works (redb's repair rewrites pages the file already
//! has), so reads come back at once; writes wait for space ([`crate::disk::DiskGuard`]).

use crate::error::{Error, Result};
use parking_lot::{MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard};
use redb::Database;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why the catalog store stopped: its first failed operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error, as text.
    pub message: String,
    /// The disk (or the quota) was full.
    pub disk_full: bool,
}

/// The redb database of the catalog store, reopened after a failure.
pub(crate) struct Handle {
    /// `None` only while a reopen is under way, or after one failed.
    db: RwLock<Option<Database>>,
    path: PathBuf,
    cache_bytes: usize,
    failed: Mutex<Option<Failure>>,
    generation: AtomicU64,
}

impl Handle {
    /// Open (or create) the database at `path` with a page cache of `cache_bytes`.
    pub fn open(path: PathBuf, cache_bytes: usize) -> Result<Handle> {
        let db = Self::open_db(&path, cache_bytes)?;
        Ok(Handle {
            db: RwLock::new(Some(db)),
            path,
            cache_bytes,
            failed: Mutex::new(None),
            generation: AtomicU64::new(0),
        })
    }

    fn open_db(path: &std::path::Path, cache_bytes: usize) -> Result<Database> {
        Ok(redb::Builder::new().set_cache_size(cache_bytes).create(path)?)
    }

    /// The database, for one operation (a reopen waits for the operations under way).
    pub fn get(&self) -> Result<MappedRwLockReadGuard<'_, Database>> {
        RwLockReadGuard::try_map(self.db.read(), Option::as_ref).map_err(|_| {
            let why = self
                .failure()
                .map_or_else(|| "it is being reopened".to_string(), |f| f.message);
            Error::Failed(why)
        })
    }

    /// Pass `r` through, recording an I/O failure (the database now refuses everything).
    pub fn watch<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            if matches!(e, Error::Io { .. } | Error::Failed(_)) {
                let mut failed = self.failed.lock();
                if failed.is_none() {
                    tracing::error!(error = %e, "the catalog store failed a write; it will be reopened");
                    *failed = Some(Failure {
                        message: e.to_string(),
                        disk_full: e.is_disk_full(),
                    });
                }
            }
        }
        r
    }

    /// The failure that stopped the database, until it is reopened.
    pub fn failure(&self) -> Option<Failure> {
        self.failed.lock().clone()
    }

    /// Close the database and open it again (redb repairs a file closed after a failed
    /// write). Batches not made durable are gone afterwards: see the module comment.
    pub fn reopen(&self) -> Result<()> {
        // Dropping releases the file lock; a live write transaction would keep it, but
        // writes hold the read lock taken here exclusively.
        drop(self.db.write().take());
        let db = Self::open_db(&self.path, self.cache_bytes)?;
        *self.db.write() = Some(db);
        *self.failed.lock() = None;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Compact the file (redb's `compact`, repeated while it moves pages), waiting for the
    /// operations under way; `Ok(false)` when a read snapshot or savepoint is still open
    /// (nothing was done).
    pub fn compact(&self) -> Result<bool> {
        let mut guard = self.db.write();
        let db = guard
            .as_mut()
            .ok_or_else(|| Error::Failed("the catalog store is being reopened".into()))?;
        // One call moves what it can; later calls can move more (redb's own advice).
        let mut rounds = 0;
        loop {
            match db.compact() {
                Ok(true) if rounds < 16 => rounds += 1,
                Ok(_) => return Ok(true),
                Err(e) if rounds > 0 => {
                    tracing::warn!(error = %e, "catalog store compaction stopped");
                    return Ok(true);
                }
                Err(e) => return Self::refused(e),
            }
        }
    }

    /// A compaction that could not start: `Ok(false)` when reads or savepoints are open.
    fn refused(e: redb::CompactionError) -> Result<bool> {
        match e {
            redb::CompactionError::TransactionInProgress
            | redb::CompactionError::EphemeralSavepointExists
            | redb::CompactionError::PersistentSavepointExists => Ok(false),
            redb::CompactionError::Storage(e) => Err(e.into()),
            e => Err(Error::Storage(e.to_string())),
        }
    }

    /// How many times the database was reopened.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
