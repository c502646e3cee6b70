//! Stub (replaced by the embed branch).
use std::path::{Path, PathBuf};

/// Errors.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// Missing.
    #[error("{0}")]
    Missing(String),
}

/// One embedding model.
pub trait Embedder: Send + Sync {
    /// Dimensions.
    fn dim(&self) -> usize;
    /// Tag.
    fn tag(&self) -> &str;
    /// Embed.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Model.
pub struct MiniLm;
impl MiniLm {
    /// Load.
    pub fn load(dir: &Path) -> Result<MiniLm, EmbedError> {
        Err(EmbedError::Missing(format!("no model in {}", dir.display())))
    }
}
impl Embedder for MiniLm {
    fn dim(&self) -> usize {
        384
    }
    fn tag(&self) -> &str {
        "x"
    }
    fn embed(&self, _: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Err(EmbedError::Missing("stub".into()))
    }
}

/// Hash embedder.
pub struct HashEmbedder {
    dim: usize,
    tag: String,
}
impl HashEmbedder {
    /// New.
    pub fn new(dim: usize) -> Self {
        HashEmbedder {
            dim,
            tag: format!("hash-{dim}"),
        }
    }
}
impl Embedder for HashEmbedder {
    fn dim(&self) -> usize {
        self.dim
    }
    fn tag(&self) -> &str {
        &self.tag
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; self.dim];
                for w in needle_core::text::words(t) {
                    let h = xxhash_rust::xxh3::xxh3_64(w.as_bytes());
                    for k in 0..4 {
                        let i = ((h >> (k * 16)) as usize) % self.dim;
                        v[i] += if (h >> (k + 60)) & 1 == 1 { 1.0 } else { -1.0 };
                    }
                }
                let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                if n > 0.0 {
                    v.iter_mut().for_each(|x| *x /= n);
                } else {
                    v[0] = 1.0;
                }
                v
            })
            .collect())
    }
}

/// Name.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";
/// Dir.
pub fn model_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models").join("embed").join(MODEL_NAME)
}
/// Installed.
pub fn is_installed(dir: &Path) -> bool {
    dir.join("model.safetensors").exists()
}
