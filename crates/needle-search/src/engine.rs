//! The engine facade: durable catalog + derived search index.

use crate::error::{Error, Result};
use crate::types::*;
use needle_core::Entity;
use std::path::PathBuf;
use std::time::Duration;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Data directory (catalog store and index live below it).
    pub data_dir: PathBuf,
    /// How often new writes become searchable.
    pub refresh_interval: Duration,
    /// Memory budget of the index writer, bytes.
    pub indexer_memory_bytes: usize,
}

impl EngineConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            refresh_interval: Duration::from_millis(500),
            indexer_memory_bytes: 200 << 20,
        }
    }
}

/// The search engine. Cheap to share behind an `Arc`; all methods block.
pub struct Engine {
    _cfg: EngineConfig,
}

impl Engine {
    /// Open (or create) the engine in `cfg.data_dir`, catching the index up with the store.
    pub fn open(cfg: EngineConfig) -> Result<Engine> {
        Ok(Engine { _cfg: cfg })
    }
    /// Validate and durably store a batch of raw records; bad records are rejected one by one.
    pub fn write_values(&self, _values: Vec<serde_json::Value>) -> Result<WriteReport> {
        Err(Error::Unavailable("not yet".into()))
    }
    /// Delete one entity; `Ok(false)` when it did not exist.
    pub fn delete(&self, _id: &str) -> Result<bool> {
        Err(Error::Unavailable("not yet".into()))
    }
    /// Fetch one entity as stored.
    pub fn get(&self, _id: &str) -> Result<Option<Entity>> {
        Err(Error::Unavailable("not yet".into()))
    }
    /// Run a search.
    pub fn search(&self, _req: &SearchRequest) -> Result<SearchResponse> {
        Err(Error::Unavailable("not yet".into()))
    }
    /// Catalog counts.
    pub fn stats(&self) -> Result<CatalogStats> {
        Err(Error::Unavailable("not yet".into()))
    }
    /// Make every acknowledged write searchable now.
    pub fn refresh(&self) -> Result<()> {
        Ok(())
    }
    /// Flush the index and stop background work.
    pub fn shutdown(&self) -> Result<()> {
        Ok(())
    }
}
