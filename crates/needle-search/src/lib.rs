//! Needle search: analysis, the tantivy index, query planning and ranking, and the
//! [`Engine`] facade that keeps the index in step with the durable catalog.
#![warn(missing_docs)]

pub mod analysis;
mod browse;
pub mod collect;
pub mod contiguous;
pub mod curate;
mod engine;
mod error;
pub mod facets;
pub mod filter;
pub mod filter_expr;
pub mod highlight;
pub mod hybrid;
pub mod learned;
pub mod plan;
pub mod schema;
mod search;
pub mod sort;
pub mod suggest;
pub mod taste;
pub mod types;
pub mod union;

pub use engine::{Batch, Engine, EngineConfig, PendingWrite};
pub use error::{Error, Result};
pub use hybrid::{SearchMode, SemanticHit};
pub use search::{MAX_HIT_NAMES, SECTION_SIZE};
pub use types::*;
