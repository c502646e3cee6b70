//! Needle's durable storage.
//!
//! [`CatalogStore`] is the catalog of record: every acknowledged write is in it, fsync'd,
//! before the caller hears "accepted". Search indexes are derived from it and can always be
//! rebuilt or caught up from its change feed (see [`CatalogStore::changes_since`]).
//! The embedded implementation uses `redb` (a copy-on-write B-tree with checksummed
//! commits), so a `kill -9` at any moment leaves the last committed state intact.
//!
//! [`Log`] is the write log every state change goes through first ([`FileLog`] standalone);
//! the catalog store and the [`EventStore`] are derived from it and record the last
//! sequence number they cover.
#![warn(missing_docs)]

mod catalog;
mod codec;
pub mod disk;
mod error;
pub mod eventlog;
pub mod events;
pub(crate) mod files;
pub mod frames;
pub mod log;
pub mod profiles;
mod reopen;
pub mod revocations;
pub mod searchstats;
pub mod settings;
pub mod vectors;

pub use catalog::{Applied, CatalogSnapshot, CatalogStore, ResolvedNames, TableSize, DEFAULT_CACHE_BYTES};
pub use error::{Error, Result};
pub use eventlog::FileEventLog;
pub use events::{EventDigest, EventStore, Ingested};
pub use log::{Entry, FileLog, Log};
pub use profiles::{MemoryProfiles, ProfileStore};
pub use reopen::Failure;
pub use revocations::TokenRevocations;
pub use searchstats::{SearchStats, SearchStatsConfig};
pub use settings::{Settings, Versioned};
pub use vectors::{StoredVector, VectorStore};
