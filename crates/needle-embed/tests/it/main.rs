//! Integration tests of needle-embed: the hash embedder, installing, the real model.
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

mod hash;
mod install;
mod minilm;

use std::path::PathBuf;

/// The installed real model, when this machine has one: `NEEDLE_EMBED_MODEL_DIR`, else
/// `~/.cache/needle/models/all-minilm-l6-v2` (where CI's `.ci/run` installs it).
pub fn real_model_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("NEEDLE_EMBED_MODEL_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".cache/needle/models/all-minilm-l6-v2"),
    };
    dir.join("model.safetensors").is_file().then_some(dir)
}
