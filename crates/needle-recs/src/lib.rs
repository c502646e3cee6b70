//! Needle recommendations, in two parts:
//!
//! - **Offline core**: interaction data ([`matrix`]), models ([`models`]: implicit ALS with
//!   fold-in, EASE^R, item-kNN, RP3beta, popularity, weighted blends), vector retrieval
//!   ([`index::VectorIndex`]: exact scan below a threshold, HNSW above), dense kernels
//!   ([`dense`]), metrics, the RecBole split ([`split`]) and the evaluation runner behind
//!   `needle eval` ([`eval`]), with loaders for the HetRec Last.fm files ([`datasets`]).
//! - **Serving** ([`serve`]): training the served ALS model from listener profiles and the
//!   catalog, model files, the model behind an atomic swap, training jobs, the listener and
//!   item surfaces and DJ sessions.
//!
//! IO and threads: the crate never opens the catalog or event stores itself; it reads them
//! through the [`serve::Source`] trait (`needle-server` implements it over its engine). It
//! does touch the file system: [`datasets`] and [`split`] read (and `split` writes) dataset
//! and split files, and [`serve`] creates the model directory, writes model files (fsync'd,
//! `CURRENT` replaced atomically), reads them back and deletes old versions. Training and
//! scoring run on the rayon pool (ALS rows, EASE^R, item similarities, evaluation), and
//! [`serve::Jobs`] trains on a thread of its own. There is no async code and no network.

pub mod datasets;
pub mod dense;
pub mod eval;
pub mod index;
pub mod matrix;
pub mod metrics;
pub mod models;
pub mod select;
pub mod serve;
pub mod split;

use serde::{Deserialize, Serialize};

pub use index::{Hit, IndexBuilder, IndexConfig, VectorIndex};
pub use matrix::{Csr, IdMap, Interactions, InteractionsBuilder};
pub use models::{
    Als, AlsConfig, Confidence, Ease, EaseConfig, History, ItemKnnConfig, ItemSimilarity, ModelConfig, Popularity,
    Recommender, Rp3betaConfig,
};

/// Errors of this crate. The caller's fault: `InvalidInput`, `NotFound`, and `Parse` of a
/// dataset or split file; `NotReady` is a state (no model yet); `Io`, `Source`, `Numeric` and
/// `Parse` of a model file are internal failures (disk, stores, a singular matrix, a damaged
/// file).
#[derive(Debug, thiserror::Error)]
pub enum RecsError {
    /// Reading or writing a file (datasets, splits, model files).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A dataset, split or model file is not what it should be.
    #[error("parse: {0}")]
    Parse(String),
    /// Bad input: a vector of the wrong size or not finite, an empty or nested blend, a
    /// surface that is not a listener surface passed to `Recs::recommend`.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A numeric failure (a matrix that cannot be inverted).
    #[error("numeric: {0}")]
    Numeric(String),
    /// A named thing (item, session, job) does not exist (the caller's fault).
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    /// No model is trained (or loaded) yet.
    #[error("{0}")]
    NotReady(String),
    /// A trained model exists and is being loaded: retry shortly.
    #[error("{0}")]
    Loading(String),
    /// The catalog or event store failed (internal).
    #[error("source: {0}")]
    Source(String),
    /// The state replicas share (sessions) cannot be reached right now (a transient
    /// failure, not the caller's fault): retry shortly.
    #[error("shared state unavailable: {0}")]
    SharedUnavailable(String),
    /// A DJ session has served as many items as a session may (`recs.session_max_items`):
    /// the caller starts a new one.
    #[error("session `{id}` has served its {max} items (recs.session_max_items); start a new session")]
    SessionExhausted { id: String, max: usize },
}

/// The hyper-parameters of the offline models and the index as one serializable bundle
/// (every field defaults). This is not the server's `[recs]` section, which is
/// [`serve::ServeConfig`] (the served ALS model, the index, surface rules, blend weights).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RecsConfig {
    pub als: AlsConfig,
    pub ease: EaseConfig,
    pub item_knn: ItemKnnConfig,
    pub rp3beta: Rp3betaConfig,
    pub index: IndexConfig,
}
