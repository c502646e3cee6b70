//! The writer thread after a failed write: a full disk (or another I/O error) met by the
//! catalog store or the index writer.
//!
//! redb latches the error (every read and write of the store fails until it is reopened)
//! and tantivy kills its index writer. Both are derived state of the write log, so the
//! writer thread starts them again instead of staying failed: it reopens the store at once
//! (reads come back; batches not durable yet are gone, which [`Engine::generation`] tells
//! the log's applier so that it replays them), rolls the index writer back to its last
//! commit, and indexes the store's changes after that commit once the disk has room. A
//! full disk also raises the free-space mark ([`DiskGuard::met_full_disk`]), so commits and
//! writes wait for space instead of failing again.
//!
//! [`Engine::generation`]: super::Engine::generation
//! [`DiskGuard::met_full_disk`]: needle_store::disk::DiskGuard::met_full_disk

use super::{CatchUp, Writer};
use crate::error::{Error, Result};

impl Error {
    /// Did this fail because the disk (or the quota) is full?
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Store(e) => e.is_disk_full(),
            Error::Index(e) => needle_store::disk::chain_is_full(e),
            Error::Unavailable(why) => why.contains("(os error 28)") || why.contains("(os error 122)"),
            Error::InvalidFilter(_) | Error::Validation(_) => false,
        }
    }
}

impl Writer {
    /// A write or commit failed with `e`: start again before the next write.
    pub(super) fn after_failure(&mut self, e: &Error) {
        if matches!(e, Error::Unavailable(m) if m.starts_with(super::writer::POSTPONED)) {
            // Held back by the free-space mark: nothing was written, nothing failed.
            return;
        }
        let store = self.shared.store.failure();
        if e.is_disk_full() || store.as_ref().is_some_and(|f| f.disk_full) {
            self.disk.met_full_disk();
        }
        if !self.broken {
            tracing::error!(error = %e, "the catalog engine failed a write; it recovers from the write log");
        }
        self.broken = true;
        *self.shared.index_failure.lock() = Some(needle_store::Failure {
            message: e.to_string(),
            disk_full: e.is_disk_full() || store.is_some_and(|f| f.disk_full),
        });
    }

    /// A write or commit failed and the engine has not started again yet.
    pub(super) fn failing(&self) -> bool {
        self.broken || self.shared.store.failure().is_some()
    }

    /// Why a batch is refused while the store is failed, or after it was reopened. (A
    /// failed index writer refuses nothing, the index catching up from the store, but in
    /// a bulk load, which has no log to recover from.)
    pub(super) fn refusal(&self, generation: u64) -> Error {
        match self.shared.store.failure() {
            Some(f) => Error::Store(needle_store::Error::Failed(f.message)),
            None if self.broken => Error::Unavailable("the index writer failed during a bulk load".into()),
            None => Error::Unavailable(format!(
                "the catalog store was reopened after a failed write (generation {generation}): the write log must be replayed first"
            )),
        }
    }

    /// Reopen the store if it failed and start the index writer again from its last
    /// commit; called before every write and every `refresh_interval` while failing.
    pub(super) fn recover(&mut self) {
        if !self.failing() || self.bulk {
            // A bulk load acknowledges batches that are not durable yet and has no log to
            // replay them from: it fails instead (the import reports the error).
            return;
        }
        if let Some(f) = self.shared.store.failure() {
            if f.disk_full {
                self.disk.met_full_disk();
            }
            // On a full disk this usually works too (redb's repair rewrites pages the file
            // already has), so reads come back before space does.
            if let Err(e) = self.shared.store.reopen() {
                if e.is_disk_full() {
                    self.disk.met_full_disk();
                }
                tracing::warn!(error = %e, "the catalog store cannot be reopened yet");
                return;
            }
            tracing::info!("the catalog store was reopened after a failed write");
        }
        match self.restart_writer() {
            Ok(committed) => {
                tracing::info!(
                    from = committed,
                    "the index writer started again from its last commit; it catches up with the catalog once the disk has room"
                );
                self.broken = false;
                *self.shared.index_failure.lock() = None;
            }
            Err(e) => tracing::warn!(error = %e, "the index writer cannot start again yet"),
        }
    }

    /// Drop the writer's uncommitted documents (they may describe batches a reopened store
    /// lost) and a killed writer's state; the store's changes after the last commit are
    /// indexed again ([`CatchUp::From`]). Returns that commit's change sequence number.
    fn restart_writer(&mut self) -> Result<u64> {
        if self.relock {
            let writer = self.writer.index().writer_with_num_threads(self.threads, self.memory)?;
            self.writer = writer;
            self.relock = false;
        } else if let Err(e) = self.writer.rollback() {
            // The failed rollback gave the index lock up with its new writer: open one.
            self.relock = true;
            return Err(e.into());
        }
        if self.bulk {
            self.writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
        }
        let committed: u64 = self
            .writer
            .index()
            .load_metas()?
            .payload
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        self.dirty = false;
        self.last_seq = committed;
        self.pending_catch_up = Some(match self.pending_catch_up {
            Some(CatchUp::Rebuild) => CatchUp::Rebuild,
            _ => CatchUp::From(committed),
        });
        Ok(committed)
    }
}
