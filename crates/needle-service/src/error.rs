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
    #[error("the disk of the data directory is nearly full: {available_mb} MiB available, below the {min_free_mb} MiB kept free (min_free_disk_mb); the write was not stored — retry once space is freed")]
    StorageFull {
        /// MiB available now.
        available_mb: u64,
        /// The mark, MiB.
        min_free_mb: u64,
    },
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

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
