//! Needle recommendations: interaction data, trained models (implicit ALS with fold-in,
//! EASE^R, item-kNN, RP3beta, popularity), vector retrieval (exact scan / HNSW behind
//! [`index::VectorIndex`]), metrics and the offline evaluation protocols.
//!
//! Everything here is synchronous and IO-free except the dataset loaders and split files;
//! the server and CLI wire it to the event store.

pub mod datasets;
pub mod dense;
pub mod eval;
pub mod index;
pub mod matrix;
pub mod metrics;
pub mod models;
pub mod serve;
pub mod split;

use serde::{Deserialize, Serialize};

pub use index::{Hit, IndexBuilder, IndexConfig, VectorIndex};
pub use matrix::{Csr, IdMap, Interactions, InteractionsBuilder};
pub use models::{
    Als, AlsConfig, Confidence, Ease, EaseConfig, History, ItemKnnConfig, ItemSimilarity, ModelConfig, Popularity,
    Recommender, Rp3betaConfig,
};

/// Errors of this crate; all are the caller's input or a numeric failure, none is a bug.
#[derive(Debug, thiserror::Error)]
pub enum RecsError {
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("parse: {0}")]
    Parse(String),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("numeric: {0}")]
    Numeric(String),
    /// A named thing (item, session, job) does not exist (the caller's fault).
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    /// No model is trained yet, or a training job is already running.
    #[error("{0}")]
    NotReady(String),
    /// The catalog or event store failed (internal).
    #[error("source: {0}")]
    Source(String),
}

/// Every hyper-parameter of the recommendation layer, for a `[recs]` config section.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RecsConfig {
    pub als: AlsConfig,
    pub ease: EaseConfig,
    pub item_knn: ItemKnnConfig,
    pub rp3beta: Rp3betaConfig,
    pub index: IndexConfig,
}
