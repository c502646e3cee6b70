//! The error table: one row per [`Code`] fixes its wire string, its HTTP status and its
//! [`ErrorType`]. Clients may match on the strings; they never change meaning.
//!
//! Every code is documented in `docs/errors.md`; a unit test compares that page's table
//! with this one row by row, in both directions.

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Who is at fault, as the `type` field of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    /// The request is wrong; fix it before retrying.
    InvalidRequest,
    /// The thing asked for does not exist.
    NotFound,
    /// A bug or a damaged data directory; retrying will not help.
    Internal,
    /// The server cannot answer right now (overload, shutdown, full disk); retry later.
    System,
}

macro_rules! table {
    ($( $(#[doc = $doc:literal])* $variant:ident => ($code:literal, $status:ident, $kind:ident), )*) => {
        /// A stable error code of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The row of this code: wire string, HTTP status, error type.
            const fn row(self) -> (&'static str, StatusCode, ErrorType) {
                match self {
                    $( Code::$variant => ($code, StatusCode::$status, ErrorType::$kind), )*
                }
            }
        }
    };
}

table! {
    /// The request body (or a record line of it) is not valid JSON.
    InvalidJson => ("invalid_json", BAD_REQUEST, InvalidRequest),
    /// The batch has no records.
    EmptyBatch => ("empty_batch", BAD_REQUEST, InvalidRequest),
    /// The request body could not be read.
    InvalidBody => ("invalid_body", BAD_REQUEST, InvalidRequest),
    /// A query or path parameter is malformed, out of range, repeated or unknown.
    InvalidParameter => ("invalid_parameter", BAD_REQUEST, InvalidRequest),
    /// The query text `q` is too long.
    QueryTooLong => ("query_too_long", BAD_REQUEST, InvalidRequest),
    /// The `filter` expression is invalid.
    InvalidFilter => ("invalid_filter", BAD_REQUEST, InvalidRequest),
    /// Any other malformed request (the safety net; it keeps the 4xx status received,
    /// see [`crate::ApiError::from_status`]).
    BadRequest => ("bad_request", BAD_REQUEST, InvalidRequest),
    /// An id is invalid (from record or path validation).
    InvalidId => ("invalid_id", BAD_REQUEST, InvalidRequest),
    /// The record is not a JSON object (from record validation).
    InvalidRecord => ("invalid_record", BAD_REQUEST, InvalidRequest),
    /// A field has a wrong value (from record validation).
    InvalidField => ("invalid_field", BAD_REQUEST, InvalidRequest),
    /// A required field is absent (from record validation).
    MissingField => ("missing_field", BAD_REQUEST, InvalidRequest),
    /// A field is not part of the format (from record validation).
    UnknownField => ("unknown_field", BAD_REQUEST, InvalidRequest),
    /// A field does not apply to the record's type (from record validation).
    FieldNotAllowed => ("field_not_allowed", BAD_REQUEST, InvalidRequest),
    /// No route has this path.
    RouteNotFound => ("route_not_found", NOT_FOUND, NotFound),
    /// No entity has this id.
    EntityNotFound => ("entity_not_found", NOT_FOUND, NotFound),
    /// No events are stored for this listener.
    UserNotFound => ("user_not_found", NOT_FOUND, NotFound),
    /// The route exists but not for this HTTP method.
    MethodNotAllowed => ("method_not_allowed", METHOD_NOT_ALLOWED, InvalidRequest),
    /// The request body is larger than `max_body_bytes`.
    PayloadTooLarge => ("payload_too_large", PAYLOAD_TOO_LARGE, InvalidRequest),
    /// The batch has more records than `max_batch_records`.
    BatchTooLarge => ("batch_too_large", PAYLOAD_TOO_LARGE, InvalidRequest),
    /// The request body is not of a supported media type.
    UnsupportedMediaType => ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, InvalidRequest),
    /// The request body has a `Content-Encoding` other than `gzip` (or `identity`).
    UnsupportedEncoding => ("unsupported_encoding", UNSUPPORTED_MEDIA_TYPE, InvalidRequest),
    /// The request URI is longer than the server accepts.
    UriTooLong => ("uri_too_long", URI_TOO_LONG, InvalidRequest),
    /// The request headers are larger than the server accepts.
    HeadersTooLarge => ("headers_too_large", REQUEST_HEADER_FIELDS_TOO_LARGE, InvalidRequest),
    /// The request needs an API key and has none.
    MissingApiKey => ("missing_api_key", UNAUTHORIZED, InvalidRequest),
    /// The API key (or listener token) sent is not valid.
    InvalidApiKey => ("invalid_api_key", UNAUTHORIZED, InvalidRequest),
    /// The listener token has expired.
    TokenExpired => ("token_expired", UNAUTHORIZED, InvalidRequest),
    /// The listener token was revoked (its listener's tokens, or the listener erased).
    TokenRevoked => ("token_revoked", UNAUTHORIZED, InvalidRequest),
    /// The API key (or token) lacks the scope this request needs.
    ForbiddenScope => ("forbidden_scope", FORBIDDEN, InvalidRequest),
    /// The listener token is for another listener.
    ForbiddenListener => ("forbidden_listener", FORBIDDEN, InvalidRequest),
    /// The client sent more requests than its rate limit allows.
    RateLimited => ("rate_limited", TOO_MANY_REQUESTS, System),
    /// An unexpected server error.
    Internal => ("internal", INTERNAL_SERVER_ERROR, Internal),
    /// The embedded catalog database failed.
    StorageError => ("storage_error", INTERNAL_SERVER_ERROR, Internal),
    /// A stored record could not be decoded.
    DataCorrupt => ("data_corrupt", INTERNAL_SERVER_ERROR, Internal),
    /// A filesystem operation failed.
    IoError => ("io_error", INTERNAL_SERVER_ERROR, Internal),
    /// The search index failed.
    IndexError => ("index_error", INTERNAL_SERVER_ERROR, Internal),
    /// Listener tokens cannot be minted: no `auth.token_secret`.
    TokensNotConfigured => ("tokens_not_configured", NOT_IMPLEMENTED, InvalidRequest),
    /// The item named in the path is not in the catalog (recommendations).
    ItemNotFound => ("item_not_found", NOT_FOUND, NotFound),
    /// The session does not exist or expired.
    SessionNotFound => ("session_not_found", NOT_FOUND, NotFound),
    /// The session has served `recs.session_max_items` items: start a new one.
    SessionExhausted => ("session_exhausted", CONFLICT, InvalidRequest),
    /// The job does not exist (or was forgotten).
    JobNotFound => ("job_not_found", NOT_FOUND, NotFound),
    /// No recommendation model is trained yet.
    ModelNotReady => ("model_not_ready", SERVICE_UNAVAILABLE, System),
    /// The trained model is loading after a restart: retry after `Retry-After` seconds.
    ModelLoading => ("model_loading", SERVICE_UNAVAILABLE, System),
    /// A model file could not be read or written, or training failed.
    ModelError => ("model_error", INTERNAL_SERVER_ERROR, Internal),
    /// `mode=hybrid` or `mode=semantic` asked of a server without semantic search (no
    /// embedding model installed: `needle model fetch`, or `semantic.enabled = false`): the
    /// request asks for what this server does not offer; `mode=auto` or `keyword` works.
    SemanticUnavailable => ("semantic_unavailable", BAD_REQUEST, InvalidRequest),
    /// `mode=hybrid` or `mode=semantic` while the semantic index loads after a start:
    /// retry after `Retry-After` seconds (or ask with `mode=auto`).
    SemanticLoading => ("semantic_loading", SERVICE_UNAVAILABLE, System),
    /// The engine is starting, stopping, or its indexer stopped.
    Unavailable => ("unavailable", SERVICE_UNAVAILABLE, System),
    /// The request took longer than `request_timeout_ms`.
    RequestTimeout => ("request_timeout", SERVICE_UNAVAILABLE, System),
    /// Too many expensive requests are in flight.
    Overloaded => ("overloaded", SERVICE_UNAVAILABLE, System),
    /// The state replicas share (DJ sessions, on Redis) cannot be reached right now.
    SharedStateUnavailable => ("shared_state_unavailable", SERVICE_UNAVAILABLE, System),
    /// The disk is full.
    StorageFull => ("storage_full", INSUFFICIENT_STORAGE, System),
    /// A read's `min_seq` was not applied on this replica within `cluster.read_wait_ms`.
    NotCaughtUp => ("not_caught_up", SERVICE_UNAVAILABLE, System),
    /// Another replica holds the lease this needs (training: one replica at a time).
    LeaseHeld => ("lease_held", CONFLICT, System),
    /// A read's `min_seq` is beyond the last entry of the write log.
    MinSeqAhead => ("min_seq_ahead", CONFLICT, InvalidRequest),
}

/// `Code::Internal`, under the name older call sites use (`ApiError::internal(codes::INTERNAL, ..)`).
pub const INTERNAL: Code = Code::Internal;

impl Code {
    /// The wire string (`invalid_parameter`).
    pub const fn as_str(self) -> &'static str {
        self.row().0
    }

    /// The HTTP status.
    pub const fn status(self) -> StatusCode {
        self.row().1
    }

    /// Who is at fault.
    pub const fn error_type(self) -> ErrorType {
        self.row().2
    }
}

impl From<needle_core::error::ValidationKind> for Code {
    #[deny(clippy::wildcard_enum_match_arm)]
    fn from(kind: needle_core::error::ValidationKind) -> Self {
        use needle_core::error::ValidationKind as K;
        // Exhaustive on purpose: a new validation kind must get a row of its own.
        match kind {
            K::InvalidRecord => Code::InvalidRecord,
            K::InvalidField => Code::InvalidField,
            K::MissingField => Code::MissingField,
            K::UnknownField => Code::UnknownField,
            K::FieldNotAllowed => Code::FieldNotAllowed,
            K::InvalidId => Code::InvalidId,
            K::InvalidParameter => Code::InvalidParameter,
            K::QueryTooLong => Code::QueryTooLong,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::Code;
    use super::ErrorType;
    use std::collections::BTreeMap;

    const DOCS: &str = include_str!("../../../docs/errors.md");

    /// The rows of the "Codes" table of `docs/errors.md`: code → (status cell, type).
    fn documented() -> BTreeMap<String, (String, String)> {
        let section = DOCS
            .split("\n## Codes\n")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("docs/errors.md has a `## Codes` section");
        let mut rows = BTreeMap::new();
        for line in section.lines().filter(|l| l.starts_with("| <a id=")) {
            let cells: Vec<&str> = line.split(" | ").collect();
            let code = cells[0]
                .rsplit('`')
                .nth(1)
                .unwrap_or_else(|| panic!("no code in {line}"))
                .to_string();
            let anchor = format!("<a id=\"{code}\"></a>");
            assert!(cells[0].contains(&anchor), "row of `{code}` lacks its anchor");
            let status = cells[1].trim().to_string();
            let kind = cells[2].trim().trim_matches('`').to_string();
            assert!(
                rows.insert(code.clone(), (status, kind)).is_none(),
                "`{code}` is documented twice"
            );
        }
        rows
    }

    fn type_name(t: ErrorType) -> String {
        serde_json::to_value(t)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// `400`, `400 / per record`, `4xx as received`: does the cell allow `status`?
    fn status_matches(cell: &str, status: u16) -> bool {
        let first = cell.split_whitespace().next().unwrap_or("");
        match first.strip_suffix("xx") {
            Some(class) => class == (status / 100).to_string(),
            None => first == status.to_string(),
        }
    }

    #[test]
    fn docs_table_matches_code_table_row_by_row() {
        let docs = documented();
        for code in Code::ALL {
            let (status, kind) = docs
                .get(code.as_str())
                .unwrap_or_else(|| panic!("`{code}` is missing from the table of docs/errors.md"));
            assert!(
                status_matches(status, code.status().as_u16()),
                "`{code}`: docs say status `{status}`, the table {}",
                code.status().as_u16()
            );
            assert_eq!(*kind, type_name(code.error_type()), "`{code}`: type");
        }
        for documented in docs.keys() {
            assert!(
                Code::ALL.iter().any(|c| c.as_str() == documented),
                "docs/errors.md documents `{documented}`, which the table does not have"
            );
        }
        assert_eq!(docs.len(), Code::ALL.len());
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for code in Code::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate {s}");
            assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{s}");
        }
    }

    #[test]
    fn every_validation_kind_keeps_its_wire_name() {
        for kind in needle_core::error::ValidationKind::ALL {
            let code = Code::from(kind);
            assert_eq!(code.as_str(), kind.as_str());
            assert_eq!(code.status().as_u16(), 400);
        }
    }
}
