//! The error type of `needle-store`.

/// Errors of the durable store. None of them is the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The embedded database failed (IO, corruption, full disk).
    #[error("storage error: {0}")]
    Storage(String),
    /// A stored value could not be decoded: data corruption.
    #[error("corrupt record for `{id}`: {message}")]
    Corrupt {
        /// The key of the bad record.
        id: String,
        /// What failed.
        message: String,
    },
    /// Filesystem error.
    #[error("io error at {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Storage(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
