//! `[semantic]`: the embedding model, which entities get vectors, and hybrid fusion.

use needle_core::EntityType;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `[semantic]` (env `NEEDLE_SEMANTIC__<KEY>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SemanticConfig {
    /// Semantic search on when the model is installed (`needle model fetch`); `false`
    /// keeps it off (no vectors computed, `mode=hybrid` refused).
    pub enabled: bool,
    /// Where the model is; empty: `<data_dir>/models/embed/all-minilm-l6-v2`.
    pub model_dir: String,
    /// Types that get vectors (of `show`, `episode`, `audiobook`, `chapter`).
    pub types: Vec<EntityType>,
    /// Weight of the semantic arm when a request names none, 0 to 1.
    pub ratio: f32,
    /// Reciprocal rank fusion constant `k`.
    pub rrf_k: f32,
    /// Semantic candidates below this cosine similarity are dropped.
    pub min_similarity: f32,
    /// Candidates taken from each arm (10 to 200).
    pub depth: usize,
    /// Entities taken from the queue per batch. The model sorts a batch by length and runs
    /// it in passes of 32, so a larger batch pads less: 512 embedded the real catalog's
    /// show titles 1.5 times faster than 64 (BENCHMARKS §10).
    pub batch_size: usize,
    /// At start, check every entity against its stored vector and embed what is missing
    /// or stale. `false`: only entities written while the server runs are embedded
    /// (backfill offline with `needle import`), e.g. a replica serving while a large
    /// catalog is embedded elsewhere.
    pub backfill: bool,
    /// `/health/ready` answers `503 loading` until the stored vectors and their graph are
    /// loaded after a start (seconds; minutes if the graph must be rebuilt), so a replica
    /// joins a load balancer with hybrid search working. `false`: ready at once, `auto`
    /// searches are keyword searches and forced modes answer `503 semantic_loading` until
    /// the index is loaded.
    pub ready_waits_for_index: bool,
}

impl Default for SemanticConfig {
    fn default() -> Self {
        let f = needle_search::hybrid::FusionConfig::default();
        SemanticConfig {
            enabled: true,
            model_dir: String::new(),
            types: vec![EntityType::Show, EntityType::Episode, EntityType::Audiobook],
            ratio: f.ratio,
            rrf_k: f.rrf_k,
            min_similarity: f.min_similarity,
            depth: f.depth,
            batch_size: 512,
            backfill: true,
            ready_waits_for_index: true,
        }
    }
}

impl SemanticConfig {
    /// The model directory for data directory `data_dir`.
    pub fn model_dir(&self, data_dir: &Path) -> PathBuf {
        if self.model_dir.trim().is_empty() {
            needle_embed::model_dir(data_dir)
        } else {
            PathBuf::from(self.model_dir.trim())
        }
    }

    /// The fusion's settings.
    pub fn fusion(&self) -> needle_search::hybrid::FusionConfig {
        needle_search::hybrid::FusionConfig {
            ratio: self.ratio,
            rrf_k: self.rrf_k,
            min_similarity: self.min_similarity,
            depth: self.depth,
        }
    }

    /// Problems, one line each (`semantic.<key>: what`).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(0.0..=1.0).contains(&self.ratio) {
            out.push(format!("semantic.ratio: must be from 0 to 1, got {}", self.ratio));
        }
        if !(self.rrf_k.is_finite() && self.rrf_k >= 1.0) {
            out.push(format!("semantic.rrf_k: must be at least 1, got {}", self.rrf_k));
        }
        if !(-1.0..=1.0).contains(&self.min_similarity) {
            out.push(format!(
                "semantic.min_similarity: must be from -1 to 1, got {}",
                self.min_similarity
            ));
        }
        if !(10..=200).contains(&self.depth) {
            out.push(format!("semantic.depth: must be from 10 to 200, got {}", self.depth));
        }
        if !(1..=1024).contains(&self.batch_size) {
            out.push(format!(
                "semantic.batch_size: must be from 1 to 1024, got {}",
                self.batch_size
            ));
        }
        for t in &self.types {
            if !needle_search::hybrid::SPOKEN.contains(t) {
                out.push(format!(
                    "semantic.types: `{}` has no vectors; use show, episode, audiobook, chapter",
                    t.as_str()
                ));
            }
        }
        out
    }
}
