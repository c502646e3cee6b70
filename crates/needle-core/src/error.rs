//! The error type of `needle-core`.

use serde::Serialize;
use std::fmt;

/// Why a record, an event or a request parameter was refused. Each kind is one stable,
/// machine-readable code ([`ValidationKind::as_str`]); the HTTP server maps every kind to
/// its status by an exhaustive match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationKind {
    /// The record (event) is not a JSON object.
    InvalidRecord,
    /// A field has a wrong type or value.
    InvalidField,
    /// A required field is absent.
    MissingField,
    /// A field is not part of the format.
    UnknownField,
    /// A field exists, but not for the record's type.
    FieldNotAllowed,
    /// An id (field or path) is empty, too long or has control characters.
    InvalidId,
    /// A request parameter is malformed or out of range.
    InvalidParameter,
    /// The search text `q` is too long.
    QueryTooLong,
}

impl ValidationKind {
    /// Every kind.
    pub const ALL: [ValidationKind; 8] = [
        ValidationKind::InvalidRecord,
        ValidationKind::InvalidField,
        ValidationKind::MissingField,
        ValidationKind::UnknownField,
        ValidationKind::FieldNotAllowed,
        ValidationKind::InvalidId,
        ValidationKind::InvalidParameter,
        ValidationKind::QueryTooLong,
    ];

    /// The wire code (`invalid_field`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationKind::InvalidRecord => "invalid_record",
            ValidationKind::InvalidField => "invalid_field",
            ValidationKind::MissingField => "missing_field",
            ValidationKind::UnknownField => "unknown_field",
            ValidationKind::FieldNotAllowed => "field_not_allowed",
            ValidationKind::InvalidId => "invalid_id",
            ValidationKind::InvalidParameter => "invalid_parameter",
            ValidationKind::QueryTooLong => "query_too_long",
        }
    }
}

impl fmt::Display for ValidationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record (or parameter) that breaks the import contract. Always the user's fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Stable machine-readable code (`unknown_field`, `invalid_field`, ...).
    pub code: ValidationKind,
    /// The offending field or parameter, when there is one (`tags[2]`, `limit`).
    pub field: Option<String>,
    /// Human-readable explanation that names the field.
    pub message: String,
}

impl ValidationError {
    /// Build an error.
    pub fn new(code: ValidationKind, field: Option<String>, message: &str) -> Self {
        ValidationError {
            code,
            field,
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ValidationKind;

    #[test]
    fn wire_names_agree_with_serde() {
        for kind in ValidationKind::ALL {
            assert_eq!(
                serde_json::to_value(kind).expect("serializes"),
                serde_json::Value::String(kind.as_str().to_string())
            );
        }
    }
}
