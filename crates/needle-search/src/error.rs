//! The error type of `needle-search`, split by who is at fault.

/// Errors of the search engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The filter expression cannot be parsed or names an unknown field.
    #[error("invalid filter: {0}")]
    InvalidFilter(String),
    /// A record or id is invalid.
    #[error(transparent)]
    Validation(#[from] needle_core::ValidationError),
    /// The durable store failed.
    #[error(transparent)]
    Store(#[from] needle_store::Error),
    /// The inverted index failed (internal).
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    /// The engine is shutting down or its indexer stopped (internal).
    #[error("engine unavailable: {0}")]
    Unavailable(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
