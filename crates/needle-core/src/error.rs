//! The error type of `needle-core`.

use serde::Serialize;

/// A record (or parameter) that breaks the import contract. Always the user's fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Stable machine-readable code (`unknown_field`, `invalid_field`, ...).
    pub code: &'static str,
    /// The offending field, when there is one (`tags[2]`).
    pub field: Option<String>,
    /// Human-readable explanation that names the field.
    pub message: String,
}

impl ValidationError {
    /// Build an error.
    pub fn new(code: &'static str, field: Option<String>, message: &str) -> Self {
        ValidationError {
            code,
            field,
            message: message.to_string(),
        }
    }
}
