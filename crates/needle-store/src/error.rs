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
    /// The catalog store failed a write (an I/O error, e.g. a full disk) and refuses every
    /// read and write until it is reopened, which its engine does by itself; transient.
    #[error("the catalog store is recovering from a failed write: {0}")]
    Failed(String),
}

impl Error {
    /// Did this fail because the disk (or the quota) is full?
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Io { source, .. } => crate::disk::is_full(source),
            Error::Failed(why) | Error::Storage(why) => why.contains("(os error 28)") || why.contains("(os error 122)"),
            Error::Corrupt { .. } => false,
        }
    }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// The path named by the I/O errors of the catalog store.
const CATALOG_FILE: &str = "catalog.redb";

impl From<redb::StorageError> for Error {
    fn from(e: redb::StorageError) -> Self {
        match e {
            redb::StorageError::Io(source) => Error::Io {
                path: CATALOG_FILE.into(),
                source,
            },
            redb::StorageError::PreviousIo | redb::StorageError::DatabaseClosed => {
                Error::Failed("an earlier write failed; it is being reopened".into())
            }
            e => Error::Storage(e.to_string()),
        }
    }
}

impl From<redb::Error> for Error {
    fn from(e: redb::Error) -> Self {
        match e {
            redb::Error::Io(source) => Error::Io {
                path: CATALOG_FILE.into(),
                source,
            },
            redb::Error::PreviousIo | redb::Error::DatabaseClosed => {
                Error::Failed("an earlier write failed; it is being reopened".into())
            }
            e => Error::Storage(e.to_string()),
        }
    }
}

/// redb's error types that wrap a [`redb::StorageError`]: that one is kept (an I/O error
/// stays one, so a full disk is recognised), the others become [`Error::Storage`].
macro_rules! from_redb {
    ($($t:ident),*) => {$(
        impl From<redb::$t> for Error {
            fn from(e: redb::$t) -> Self {
                match e {
                    redb::$t::Storage(s) => s.into(),
                    e => Error::Storage(e.to_string()),
                }
            }
        }
    )*};
}
from_redb!(DatabaseError, TransactionError, TableError, CommitError);
