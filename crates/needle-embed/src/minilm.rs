//! all-MiniLM-L6-v2 on CPU: candle's BERT, mean pooling, L2 normalisation.

use crate::install::{installed, sha256_of};
use crate::{normalize, EmbedError, Embedder, MODEL_NAME};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tokenizers::{Tokenizer, TruncationParams};

/// Tokens per text by default; longer documents are truncated (the model was trained on
/// 128-token inputs).
pub const DEFAULT_MAX_TOKENS: usize = 128;
/// Texts per forward pass: bounds the activations' memory on a large batch.
const CHUNK: usize = 32;

/// The all-MiniLM-L6-v2 sentence embedder (384-d), f32 on the CPU.
///
/// Texts are tokenized (truncated to `max_tokens`), sorted by length and run in chunks of 32
/// padded to the chunk's longest, so padding neither changes a vector nor costs much. One
/// forward pass runs at a time: candle already spreads a pass over every core (the global
/// rayon pool; `RAYON_NUM_THREADS` caps it), so concurrent callers queue instead of
/// oversubscribing a small machine.
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    dir: PathBuf,
    dim: usize,
    max_positions: usize,
    max_tokens: usize,
    weights_tag: String,
    tag: String,
    gate: Mutex<()>,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm")
            .field("dir", &self.dir)
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

impl MiniLm {
    /// Load the model from a directory [`crate::install`] wrote (or any folder with
    /// `model.safetensors`, `config.json` and `tokenizer.json`; without install's marker the
    /// weights are hashed once here, for the tag).
    pub fn load(dir: &Path) -> Result<MiniLm, EmbedError> {
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(EmbedError::ModelMissing { dir: dir.to_path_buf() });
        }
        let sha256 = match installed(dir) {
            Some(i) => i.sha256,
            None => sha256_of(&weights)?,
        };
        let config: Config = serde_json::from_str(
            &fs_err::read_to_string(dir.join("config.json")).map_err(|e| EmbedError::damaged(dir, e))?,
        )
        .map_err(|e| EmbedError::damaged(dir, format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| EmbedError::damaged(dir, format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(None);
        let bytes = fs_err::read(&weights)?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
            .map_err(|e| EmbedError::damaged(dir, format!("model.safetensors: {e}")))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| EmbedError::damaged(dir, format!("model.safetensors: {e}")))?;
        let weights_tag = format!("{MODEL_NAME}@{}", &sha256[..8.min(sha256.len())]);
        let mut this = MiniLm {
            model,
            tokenizer,
            dir: dir.to_path_buf(),
            dim: config.hidden_size,
            max_positions: config.max_position_embeddings,
            max_tokens: 0,
            tag: String::new(),
            weights_tag,
            gate: Mutex::new(()),
        };
        this.set_max_tokens(DEFAULT_MAX_TOKENS)?;
        Ok(this)
    }

    /// Truncate texts to `n` tokens (default 128, at most the model's 512 positions, at
    /// least 2: `[CLS]` and `[SEP]`). A limit other than the default is part of the tag,
    /// since it changes the vectors of longer documents.
    pub fn with_max_tokens(mut self, n: usize) -> Self {
        // Cannot fail: the tokenizer only rejects a stride larger than the limit (stride 0).
        let _ = self.set_max_tokens(n);
        self
    }

    /// The directory the model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn set_max_tokens(&mut self, n: usize) -> Result<(), EmbedError> {
        let n = n.clamp(2, self.max_positions.max(2));
        self.tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: n,
                ..Default::default()
            }))
            .map_err(|e| EmbedError::Internal(format!("truncation: {e}")))?;
        self.max_tokens = n;
        self.tag = if n == DEFAULT_MAX_TOKENS {
            self.weights_tag.clone()
        } else {
            format!("{}/max{n}", self.weights_tag)
        };
        Ok(())
    }

    /// One forward pass over texts of token ids: padded to the longest, mean-pooled over the
    /// attention mask, normalised.
    fn forward(&self, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let internal = |e: candle_core::Error| EmbedError::Internal(e.to_string());
        let len = ids.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut flat = vec![0u32; ids.len() * len];
        let mut mask = vec![0u32; ids.len() * len];
        for (row, toks) in ids.iter().enumerate() {
            flat[row * len..row * len + toks.len()].copy_from_slice(toks);
            mask[row * len..row * len + toks.len()].fill(1);
        }
        let dev = Device::Cpu;
        let input = Tensor::from_vec(flat, (ids.len(), len), &dev).map_err(internal)?;
        let mask = Tensor::from_vec(mask, (ids.len(), len), &dev).map_err(internal)?;
        let types = input.zeros_like().map_err(internal)?;
        let out = self.model.forward(&input, &types, Some(&mask)).map_err(internal)?;
        let maskf = mask
            .to_dtype(DType::F32)
            .map_err(internal)?
            .unsqueeze(2)
            .map_err(internal)?;
        let summed = out.broadcast_mul(&maskf).map_err(internal)?.sum(1).map_err(internal)?;
        let counts = maskf.sum(1).map_err(internal)?;
        let mean = summed.broadcast_div(&counts).map_err(internal)?;
        let mut rows = mean.to_vec2::<f32>().map_err(internal)?;
        rows.iter_mut().for_each(|r| normalize(r));
        Ok(rows)
    }
}

impl Embedder for MiniLm {
    fn dim(&self) -> usize {
        self.dim
    }

    fn tag(&self) -> &str {
        &self.tag
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Internal(format!("tokenizing: {e}")))?;
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut out = vec![Vec::new(); texts.len()];
        let _one_pass_at_a_time = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        for chunk in order.chunks(CHUNK) {
            let ids: Vec<&[u32]> = chunk.iter().map(|&i| encodings[i].get_ids()).collect();
            for (&i, v) in chunk.iter().zip(self.forward(&ids)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}
