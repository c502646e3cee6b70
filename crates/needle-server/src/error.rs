//! The API error type and its JSON shape: `{"code","message","type","link"}`.
//!
//! Every code the server can emit is a [`Code`], whose row in [`crate::codes`] fixes its
//! status and type; `docs/errors.md` documents the same table (a unit test compares them).

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// Base of the documentation link of every error; the code is the fragment.
pub const DOCS_BASE: &str = "https://needle.dev/docs/errors";

use crate::codes::Code;
pub use crate::codes::ErrorType;
use crate::lograte::{now_ms, LogRate};

// Expected, repeated conditions: logged at most once per second each (see `lograte`).
static ENGINE_UNAVAILABLE: LogRate = LogRate::new();
static SERVICE_UNAVAILABLE: LogRate = LogRate::new();
static STORAGE_FULL: LogRate = LogRate::new();
static STORE_RECOVERING: LogRate = LogRate::new();
static SHARED_UNAVAILABLE: LogRate = LogRate::new();

/// The JSON body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "code": "invalid_parameter",
    "message": "parameter `limit`: `abc` is not a non-negative integer",
    "type": "invalid_request",
    "link": "https://needle.dev/docs/errors#invalid_parameter"
}))]
pub struct ErrorBody {
    /// Stable machine-readable code (see `docs/errors.md`).
    pub code: String,
    /// Human-readable explanation, naming the parameter or field at fault.
    pub message: String,
    /// Error category.
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// Documentation of the code.
    pub link: String,
}

/// An error answer of the API: a [`Code`] (whose row in the table fixes the status and
/// the type) and a message naming what is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// Stable code; its row gives the status and the type.
    pub code: Code,
    /// Human-readable explanation.
    pub message: String,
}

/// `Retry-After` of a `503 shared_state_unavailable`, seconds (a Redis failover takes ~5 s;
/// clients back off from there).
pub const SHARED_RETRY_AFTER_S: u64 = 1;
/// `Retry-After` of `503 model_loading`, seconds.
pub const MODEL_LOADING_RETRY_AFTER_S: u64 = 5;

/// Message of every internal error: details go to the log, never to the client.
const INTERNAL_MESSAGE: &str = "internal server error; the cause was logged on the server";

impl ApiError {
    /// Build an error; the status and the type come from the code's row.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// The HTTP status (the code's row).
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// Who is at fault (the `type` field).
    pub fn kind(&self) -> ErrorType {
        self.code.error_type()
    }

    /// `invalid_parameter` naming `param`.
    pub fn invalid_parameter(param: &str, message: impl std::fmt::Display) -> Self {
        Self::new(Code::InvalidParameter, format!("parameter `{param}`: {message}"))
    }

    /// `entity_not_found`.
    pub fn entity_not_found(id: &str) -> Self {
        Self::new(Code::EntityNotFound, format!("no entity has id `{id}`"))
    }

    /// An internal error with `code`; `cause` is logged, the client gets a generic message.
    pub fn internal(code: Code, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(code = code.as_str(), error = %cause, "internal error");
        Self::new(code, INTERNAL_MESSAGE)
    }

    /// The error a response with this status and no JSON body should have (axum and tower
    /// layers answer some statuses with an empty or plain-text body). The normalizing
    /// middleware keeps the status of the response it replaces (so `bad_request` goes out
    /// with the 4xx received); only the body comes from here.
    pub fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::new(Code::RouteNotFound, "no route matches this path"),
            StatusCode::METHOD_NOT_ALLOWED => Self::new(
                Code::MethodNotAllowed,
                "this route does not accept this HTTP method (see the `allow` header)",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => Self::new(Code::PayloadTooLarge, "the request body is too large"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::new(Code::UnsupportedMediaType, "unsupported content type"),
            StatusCode::URI_TOO_LONG => Self::new(Code::UriTooLong, "the request URI is too long"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
                Self::new(Code::HeadersTooLarge, "the request headers are too large")
            }
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => Self::timeout(),
            StatusCode::SERVICE_UNAVAILABLE => Self::new(Code::Unavailable, "the service is unavailable; retry later"),
            s if s.is_client_error() => Self::new(
                Code::BadRequest,
                format!("bad request ({})", s.canonical_reason().unwrap_or("client error")),
            ),
            _ => Self::new(Code::Internal, INTERNAL_MESSAGE),
        }
    }

    /// `request_timeout`.
    pub fn timeout() -> Self {
        Self::new(
            Code::RequestTimeout,
            "the request took longer than the server's request timeout",
        )
    }

    /// `storage_full`.
    fn storage_full() -> Self {
        Self::new(
            Code::StorageFull,
            "the server's disk is full; retry after space is freed",
        )
    }

    /// The documentation link of this error.
    pub fn link(&self) -> String {
        format!("{DOCS_BASE}#{}", self.code)
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.as_str().to_string(),
            message: self.message.clone(),
            kind: self.kind(),
            link: self.link(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status().as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_client_error() {
            tracing::debug!(code = self.code.as_str(), message = %self.message, "request rejected");
        }
        let mut response = (status, Json(self.body())).into_response();
        let retry_after = match self.code {
            Code::SharedStateUnavailable => Some(SHARED_RETRY_AFTER_S),
            Code::ModelLoading | Code::SemanticLoading => Some(MODEL_LOADING_RETRY_AFTER_S),
            _ => None,
        };
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(secs));
        }
        response
    }
}

impl From<needle_core::ValidationError> for ApiError {
    fn from(e: needle_core::ValidationError) -> Self {
        ApiError::new(Code::from(e.code), e.message)
    }
}

impl From<needle_search::Error> for ApiError {
    #[deny(clippy::wildcard_enum_match_arm)]
    fn from(err: needle_search::Error) -> Self {
        use needle_search::Error as E;
        use needle_store::Error as S;
        // Exhaustive on purpose: a new engine error must get a deliberate code.
        match err {
            E::InvalidFilter(message) => ApiError::new(Code::InvalidFilter, format!("invalid filter: {message}")),
            E::Validation(e) => ApiError::from(e),
            E::Store(store) => match store {
                S::Storage(message) => ApiError::internal(Code::StorageError, &message),
                S::Corrupt { id, message } => {
                    ApiError::internal(Code::DataCorrupt, &format!("corrupt record `{id}`: {message}"))
                }
                S::Io { path, source } if source.kind() == std::io::ErrorKind::StorageFull => {
                    tracing::error!(path, error = %source, "disk full");
                    ApiError::storage_full()
                }
                S::Io { path, source } => ApiError::internal(Code::IoError, &format!("io error at {path}: {source}")),
                S::Failed(why) => {
                    if let Some(suppressed) = STORE_RECOVERING.allow(now_ms()) {
                        tracing::warn!(reason = %why, suppressed, "catalog store recovering");
                    }
                    ApiError::new(
                        Code::Unavailable,
                        "the catalog store is recovering from a failed write (e.g. a full disk) and reopens by itself; retry shortly",
                    )
                }
            },
            E::Index(e) => ApiError::internal(Code::IndexError, &e),
            E::Unavailable(why) => {
                if let Some(suppressed) = ENGINE_UNAVAILABLE.allow(now_ms()) {
                    tracing::warn!(reason = %why, suppressed, "engine unavailable");
                }
                ApiError::new(
                    Code::Unavailable,
                    "the engine is unavailable (starting or shutting down); retry later",
                )
            }
        }
    }
}

impl From<needle_service::Error> for ApiError {
    #[deny(clippy::wildcard_enum_match_arm)]
    fn from(err: needle_service::Error) -> Self {
        use needle_service::Error as E;
        // Exhaustive on purpose: each service error keeps the code its engine error has.
        match err {
            E::Invalid(e) => e.into(),
            E::Search(e) => e.into(),
            E::Recs(e) => e.into(),
            E::Store(e) => needle_search::Error::Store(e).into(),
            E::Unavailable(m) => {
                if let Some(suppressed) = SERVICE_UNAVAILABLE.allow(now_ms()) {
                    tracing::warn!(reason = %m, suppressed, "service unavailable");
                }
                ApiError::new(Code::Unavailable, format!("the service is unavailable: {m}"))
            }
            E::LeaseHeld(m) => ApiError::new(Code::LeaseHeld, m),
            E::SemanticUnavailable(m) => ApiError::new(Code::SemanticUnavailable, m),
            E::SemanticLoading(m) => ApiError::new(Code::SemanticLoading, m),
            e @ E::StorageFull { .. } => {
                if let Some(suppressed) = STORAGE_FULL.allow(now_ms()) {
                    tracing::warn!(reason = %e, suppressed, "write refused: disk nearly full");
                }
                ApiError::new(Code::StorageFull, e.to_string())
            }
            E::StoreFailed(m) => {
                if let Some(suppressed) = STORAGE_FULL.allow(now_ms()) {
                    tracing::warn!(reason = %m, suppressed, "write refused: a store failed a write");
                }
                ApiError::new(Code::StorageFull, m)
            }
            E::WrongLog(m) => {
                tracing::error!(reason = %m, "data directory of another write log");
                ApiError::new(Code::Unavailable, format!("the service is unavailable: {m}"))
            }
            e @ E::NotCaughtUp { .. } => ApiError::new(Code::NotCaughtUp, e.to_string()),
            e @ E::MinSeqAhead { .. } => ApiError::new(Code::MinSeqAhead, e.to_string()),
        }
    }
}

impl From<needle_recs::RecsError> for ApiError {
    #[deny(clippy::wildcard_enum_match_arm)]
    fn from(err: needle_recs::RecsError) -> Self {
        use needle_recs::RecsError as R;
        // Exhaustive on purpose: a new recommendation error must get a deliberate code.
        match err {
            R::InvalidInput(message) => ApiError::new(Code::InvalidParameter, message),
            R::NotFound { what, id } => {
                let code = match what {
                    "session" => Code::SessionNotFound,
                    "job" => Code::JobNotFound,
                    _ => Code::ItemNotFound,
                };
                ApiError::new(code, format!("no {what} has id `{id}`"))
            }
            R::NotReady(message) => ApiError::new(Code::ModelNotReady, message),
            R::Loading(message) => ApiError::new(Code::ModelLoading, message),
            e @ R::SessionExhausted { .. } => ApiError::new(Code::SessionExhausted, e.to_string()),
            R::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => ApiError::storage_full(),
            R::Io(e) => ApiError::internal(Code::ModelError, &e),
            R::Parse(m) | R::Numeric(m) => ApiError::internal(Code::ModelError, &m),
            R::Source(m) => ApiError::internal(Code::StorageError, &m),
            R::SharedUnavailable(m) => {
                if let Some(suppressed) = SHARED_UNAVAILABLE.allow(now_ms()) {
                    tracing::warn!(error = %m, suppressed, "shared state unavailable");
                }
                ApiError::new(
                    Code::SharedStateUnavailable,
                    format!("the shared session state is unreachable right now; retry in {SHARED_RETRY_AFTER_S} s"),
                )
            }
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(
            Code::InvalidParameter,
            format!("invalid path parameter: {}", r.body_text()),
        )
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            ApiError::new(
                Code::InvalidBody,
                format!("cannot read the request body: {}", r.body_text()),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use needle_search::Error as E;
    use needle_store::Error as S;

    #[test]
    fn engine_errors_map_to_codes() {
        let io = |kind| S::Io {
            path: "/x".into(),
            source: std::io::Error::new(kind, "boom"),
        };
        let cases: Vec<(E, u16, &str, ErrorType)> = vec![
            (
                E::InvalidFilter("bad".into()),
                400,
                "invalid_filter",
                ErrorType::InvalidRequest,
            ),
            (
                E::Validation(needle_core::ValidationError::new(
                    needle_core::error::ValidationKind::InvalidId,
                    Some("id".into()),
                    "field `id` bad",
                )),
                400,
                "invalid_id",
                ErrorType::InvalidRequest,
            ),
            (
                E::Store(S::Storage("x".into())),
                500,
                "storage_error",
                ErrorType::Internal,
            ),
            (
                E::Store(S::Corrupt {
                    id: "a".into(),
                    message: "m".into(),
                }),
                500,
                "data_corrupt",
                ErrorType::Internal,
            ),
            (
                E::Store(io(std::io::ErrorKind::Other)),
                500,
                "io_error",
                ErrorType::Internal,
            ),
            (
                E::Store(io(std::io::ErrorKind::StorageFull)),
                507,
                "storage_full",
                ErrorType::System,
            ),
            (E::Unavailable("stopping".into()), 503, "unavailable", ErrorType::System),
        ];
        for (err, status, code, kind) in cases {
            let api = ApiError::from(err);
            assert_eq!(
                (api.status().as_u16(), api.code.as_str(), api.kind()),
                (status, code, kind),
                "{api}"
            );
            if kind == ErrorType::Internal {
                assert_eq!(api.message, INTERNAL_MESSAGE, "internal causes must not leak");
            }
        }
        let p = ApiError::invalid_parameter("limit", "too big");
        assert_eq!(p.message, "parameter `limit`: too big");
    }

    #[test]
    fn every_status_and_type_comes_from_the_table() {
        for &code in Code::ALL {
            let err = ApiError::new(code, "m");
            assert_eq!((err.status(), err.kind()), (code.status(), code.error_type()), "{code}");
            let body = err.body();
            assert_eq!((body.code.as_str(), body.kind), (code.as_str(), code.error_type()));
            assert_eq!(body.link, format!("{DOCS_BASE}#{code}"));
            let response = err.into_response();
            assert_eq!(response.status(), code.status(), "{code}");
        }
        // Statuses of bodiless answers map onto the table (the middleware keeps the
        // received status on the wire: `4xx as received` for `bad_request`).
        for (status, code) in [
            (404, Code::RouteNotFound),
            (405, Code::MethodNotAllowed),
            (413, Code::PayloadTooLarge),
            (415, Code::UnsupportedMediaType),
            (408, Code::RequestTimeout),
            (503, Code::Unavailable),
            (418, Code::BadRequest),
            (500, Code::Internal),
        ] {
            let status = StatusCode::from_u16(status).expect("status");
            assert_eq!(ApiError::from_status(status).code, code, "{status}");
        }
    }

    #[test]
    fn body_shape() {
        let v = serde_json::to_value(ApiError::entity_not_found("x").body()).expect("serializes");
        assert_eq!(
            v,
            serde_json::json!({"code":"entity_not_found","message":"no entity has id `x`","type":"not_found",
                "link":"https://needle.dev/docs/errors#entity_not_found"})
        );
    }
}
