//! The error type of `needle-service`, split by who is at fault.

/// Errors of the service facade.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is invalid (the caller's fault): the message names the field.
    #[error(transparent)]
    Invalid(#[from] needle_core::ValidationError),
    /// From the catalog engine (its own variants say who is at fault).
    #[error(transparent)]
    Search(#[from] needle_search::Error),
    /// From the recommendation engine (its own variants say who is at fault).
    #[error(transparent)]
    Recs(#[from] needle_recs::RecsError),
    /// The write log or the event store failed (not the caller's fault).
    #[error(transparent)]
    Store(#[from] needle_store::Error),
    /// The data directory's disk has less free space than `min_free_disk_mb` (nobody's
    /// fault in the request: the operator's to free space); nothing was written.
    #[error("{}", storage_full(*available_mb, *min_free_mb, *after_full))]
    StorageFull {
        /// MiB available now.
        available_mb: u64,
        /// The mark, MiB.
        min_free_mb: u64,
        /// The mark was raised because a write met a full disk (`ENOSPC`).
        after_full: bool,
    },
    /// A write met a full disk (or another I/O error) in the write log or a store, or the
    /// stores are still recovering from one (by themselves, from the write log); the
    /// message says whether the write may still be applied. Nobody's fault in the request.
    #[error("{0}")]
    StoreFailed(String),
    /// `mode=hybrid` or `mode=semantic` asked of a service without semantic search (no
    /// model installed, or turned off): the message says why and what to do.
    #[error("{0}")]
    SemanticUnavailable(String),
    /// `mode=hybrid` or `mode=semantic` asked while the semantic index loads after a start
    /// (seconds; retry).
    #[error("{0}")]
    SemanticLoading(String),
    /// The service is starting or shutting down, or its applier stopped.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// The data directory holds state derived from another write log than the one this
    /// process follows (the operator's: see `cluster::identity`).
    #[error("{0}")]
    WrongLog(String),
    /// Another replica holds the lease this needs (one replica trains at a time).
    #[error("{0}")]
    LeaseHeld(String),
    /// A read's `min_seq` was not applied on this replica within the bound (it is behind;
    /// retry, or read from another replica).
    #[error("this replica ({node}) has applied the write log up to {applied}, not yet min_seq {min_seq}; retry shortly or read from another replica")]
    NotCaughtUp {
        /// This replica.
        node: String,
        /// The sequence number asked for.
        min_seq: u64,
        /// The last applied here.
        applied: u64,
    },
    /// A read's `min_seq` is beyond every entry the log holds (not a `seq` this cluster
    /// answered).
    #[error("min_seq {min_seq} is beyond the last entry of the write log ({log_seq}); pass the seq a write answered")]
    MinSeqAhead {
        /// The sequence number asked for.
        min_seq: u64,
        /// The last entry known.
        log_seq: u64,
    },
}

fn storage_full(available_mb: u64, min_free_mb: u64, after_full: bool) -> String {
    if after_full {
        format!("the disk of the data directory is full: a write failed for lack of space; {available_mb} MiB available, writes resume once {min_free_mb} MiB are; the write was not stored — retry once space is freed")
    } else {
        format!("the disk of the data directory is nearly full: {available_mb} MiB available, below the {min_free_mb} MiB kept free (min_free_disk_mb); the write was not stored — retry once space is freed")
    }
}

impl Error {
    /// Did this fail because the data directory's disk is full (or below the mark)?
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Store(e) => e.is_disk_full(),
            Error::Search(e) => e.is_disk_full(),
            Error::Recs(needle_recs::RecsError::Io(e)) => needle_store::disk::is_full(e),
            Error::StorageFull { .. } => true,
            _ => false,
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
