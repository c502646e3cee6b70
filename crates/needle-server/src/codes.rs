//! Stable error codes. Clients may match on them; they never change meaning.
//!
//! Every code is documented in `docs/errors.md`; a unit test checks that each constant
//! has an entry there.

/// The request body (or a record line of it) is not valid JSON.
pub const INVALID_JSON: &str = "invalid_json";
/// The request body is not of a supported media type.
pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
/// The request body is larger than `max_body_bytes`.
pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
/// The batch has more records than `max_batch_records`.
pub const BATCH_TOO_LARGE: &str = "batch_too_large";
/// The batch has no records.
pub const EMPTY_BATCH: &str = "empty_batch";
/// The request body could not be read.
pub const INVALID_BODY: &str = "invalid_body";
/// A query or path parameter is invalid or unknown.
pub const INVALID_PARAMETER: &str = "invalid_parameter";
/// The query text `q` is too long.
pub const QUERY_TOO_LONG: &str = "query_too_long";
/// The `filter` expression is invalid.
pub const INVALID_FILTER: &str = "invalid_filter";
/// Any other malformed request.
pub const BAD_REQUEST: &str = "bad_request";
/// The record is not a JSON object (from record validation).
pub const INVALID_RECORD: &str = "invalid_record";
/// A field has a wrong value (from record validation).
pub const INVALID_FIELD: &str = "invalid_field";
/// A required field is absent (from record validation).
pub const MISSING_FIELD: &str = "missing_field";
/// A field is not part of the import format (from record validation).
pub const UNKNOWN_FIELD: &str = "unknown_field";
/// A field does not apply to the record's type (from record validation).
pub const FIELD_NOT_ALLOWED: &str = "field_not_allowed";
/// An entity id is invalid (from record or path validation).
pub const INVALID_ID: &str = "invalid_id";
/// No route has this path.
pub const ROUTE_NOT_FOUND: &str = "route_not_found";
/// The route exists but not for this HTTP method.
pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
/// No entity has this id.
pub const ENTITY_NOT_FOUND: &str = "entity_not_found";
/// No events are stored for this listener.
pub const USER_NOT_FOUND: &str = "user_not_found";
/// The request took longer than `request_timeout_ms`.
pub const REQUEST_TIMEOUT: &str = "request_timeout";
/// The engine is starting, stopping, or its indexer stopped.
pub const UNAVAILABLE: &str = "unavailable";
/// The disk is full.
pub const STORAGE_FULL: &str = "storage_full";
/// The request needs an API key and has none.
pub const MISSING_API_KEY: &str = "missing_api_key";
/// The API key (or listener token) sent is not valid.
pub const INVALID_API_KEY: &str = "invalid_api_key";
/// The listener token has expired.
pub const TOKEN_EXPIRED: &str = "token_expired";
/// The API key (or token) lacks the scope this request needs.
pub const FORBIDDEN_SCOPE: &str = "forbidden_scope";
/// The listener token is for another listener.
pub const FORBIDDEN_LISTENER: &str = "forbidden_listener";
/// The client sent more requests than its rate limit allows.
pub const RATE_LIMITED: &str = "rate_limited";
/// Too many expensive requests are in flight.
pub const OVERLOADED: &str = "overloaded";
/// Listener tokens cannot be minted: no `auth.token_secret`.
pub const TOKENS_NOT_CONFIGURED: &str = "tokens_not_configured";
/// An unexpected server error.
pub const INTERNAL: &str = "internal";
/// The embedded catalog database failed.
pub const STORAGE_ERROR: &str = "storage_error";
/// A stored record could not be decoded.
pub const DATA_CORRUPT: &str = "data_corrupt";
/// A filesystem operation failed.
pub const IO_ERROR: &str = "io_error";
/// The search index failed.
pub const INDEX_ERROR: &str = "index_error";

/// The item named in the path is not in the catalog (recommendations).
pub const ITEM_NOT_FOUND: &str = "item_not_found";
/// The session does not exist or expired.
pub const SESSION_NOT_FOUND: &str = "session_not_found";
/// The job does not exist (or was forgotten).
pub const JOB_NOT_FOUND: &str = "job_not_found";
/// No recommendation model is trained yet.
pub const MODEL_NOT_READY: &str = "model_not_ready";
/// A model file could not be read or written, or training failed.
pub const MODEL_ERROR: &str = "model_error";

/// Every code above.
pub const ALL: &[&str] = &[
    INVALID_JSON,
    UNSUPPORTED_MEDIA_TYPE,
    PAYLOAD_TOO_LARGE,
    BATCH_TOO_LARGE,
    EMPTY_BATCH,
    INVALID_BODY,
    INVALID_PARAMETER,
    QUERY_TOO_LONG,
    INVALID_FILTER,
    BAD_REQUEST,
    INVALID_RECORD,
    INVALID_FIELD,
    MISSING_FIELD,
    UNKNOWN_FIELD,
    FIELD_NOT_ALLOWED,
    INVALID_ID,
    ROUTE_NOT_FOUND,
    METHOD_NOT_ALLOWED,
    ENTITY_NOT_FOUND,
    USER_NOT_FOUND,
    REQUEST_TIMEOUT,
    UNAVAILABLE,
    STORAGE_FULL,
    MISSING_API_KEY,
    INVALID_API_KEY,
    TOKEN_EXPIRED,
    FORBIDDEN_SCOPE,
    FORBIDDEN_LISTENER,
    RATE_LIMITED,
    OVERLOADED,
    TOKENS_NOT_CONFIGURED,
    INTERNAL,
    STORAGE_ERROR,
    DATA_CORRUPT,
    IO_ERROR,
    INDEX_ERROR,
    ITEM_NOT_FOUND,
    SESSION_NOT_FOUND,
    JOB_NOT_FOUND,
    MODEL_NOT_READY,
    MODEL_ERROR,
];

#[cfg(test)]
mod tests {
    use super::ALL;

    const DOCS: &str = include_str!("../../../docs/errors.md");

    #[test]
    fn every_code_is_documented() {
        for code in ALL {
            assert!(
                DOCS.contains(&format!("`{code}`")),
                "code `{code}` is missing from docs/errors.md"
            );
            assert!(
                DOCS.contains(&format!("id=\"{code}\"")),
                "code `{code}` has no anchor in docs/errors.md"
            );
        }
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ALL {
            assert!(seen.insert(*code), "duplicate {code}");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
        }
    }
}
