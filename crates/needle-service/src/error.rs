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
    /// The service is starting or shutting down, or its applier stopped.
    #[error("service unavailable: {0}")]
    Unavailable(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
