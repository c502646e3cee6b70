//! The API error type and its JSON shape: `{"code","message","type","link"}`.
//!
//! Every code the server can emit is a constant in [`codes`] and is documented in
//! `docs/errors.md` (a unit test checks that the two agree).

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// Base of the documentation link of every error; the code is the fragment.
pub const DOCS_BASE: &str = "https://needle.dev/docs/errors";

use crate::codes;

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

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, one of [`codes`] (or a record-validation code).
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// Error category.
    pub kind: ErrorType,
}

/// Message of every internal error: details go to the log, never to the client.
const INTERNAL_MESSAGE: &str = "internal server error; the cause was logged on the server";

impl ApiError {
    /// Build an error.
    pub fn new(status: StatusCode, code: &'static str, kind: ErrorType, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            kind,
        }
    }

    /// `400 invalid_request` with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, ErrorType::InvalidRequest, message)
    }

    /// `400 invalid_parameter` naming `param`.
    pub fn invalid_parameter(param: &str, message: impl std::fmt::Display) -> Self {
        Self::bad_request(codes::INVALID_PARAMETER, format!("parameter `{param}`: {message}"))
    }

    /// `404 entity_not_found`.
    pub fn entity_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::ENTITY_NOT_FOUND,
            ErrorType::NotFound,
            format!("no entity has id `{id}`"),
        )
    }

    /// A `500` with `code`; `cause` is logged, the client gets a generic message.
    pub fn internal(code: &'static str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(code, error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code,
            ErrorType::Internal,
            INTERNAL_MESSAGE,
        )
    }

    /// The error a response with this status and no JSON body should have (axum and tower
    /// layers answer some statuses with an empty or plain-text body).
    pub fn from_status(status: StatusCode) -> Self {
        let (code, kind, message) = match status {
            StatusCode::NOT_FOUND => (
                codes::ROUTE_NOT_FOUND,
                ErrorType::NotFound,
                "no route matches this path".to_string(),
            ),
            StatusCode::METHOD_NOT_ALLOWED => (
                codes::METHOD_NOT_ALLOWED,
                ErrorType::InvalidRequest,
                "this route does not accept this HTTP method (see the `allow` header)".to_string(),
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                codes::PAYLOAD_TOO_LARGE,
                ErrorType::InvalidRequest,
                "the request body is too large".to_string(),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                codes::UNSUPPORTED_MEDIA_TYPE,
                ErrorType::InvalidRequest,
                "unsupported content type".to_string(),
            ),
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
                return Self::timeout();
            }
            StatusCode::SERVICE_UNAVAILABLE => (
                codes::UNAVAILABLE,
                ErrorType::System,
                "the service is unavailable; retry later".to_string(),
            ),
            s if s.is_client_error() => (
                codes::BAD_REQUEST,
                ErrorType::InvalidRequest,
                format!("bad request ({})", s.canonical_reason().unwrap_or("client error")),
            ),
            _ => (codes::INTERNAL, ErrorType::Internal, INTERNAL_MESSAGE.to_string()),
        };
        Self::new(status, code, kind, message)
    }

    /// `503 request_timeout`.
    pub fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::REQUEST_TIMEOUT,
            ErrorType::System,
            "the request took longer than the server's request timeout",
        )
    }

    /// The documentation link of this error.
    pub fn link(&self) -> String {
        format!("{DOCS_BASE}#{}", self.code)
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_string(),
            message: self.message.clone(),
            kind: self.kind,
            link: self.link(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_client_error() {
            tracing::debug!(code = self.code, message = %self.message, "request rejected");
        }
        (self.status, Json(self.body())).into_response()
    }
}

impl From<needle_core::ValidationError> for ApiError {
    fn from(e: needle_core::ValidationError) -> Self {
        ApiError::bad_request(e.code, e.message)
    }
}

impl From<needle_search::Error> for ApiError {
    fn from(err: needle_search::Error) -> Self {
        use needle_search::Error as E;
        use needle_store::Error as S;
        // Exhaustive on purpose: a new engine error must get a deliberate code.
        match err {
            E::InvalidParameter { param, message } => {
                if message.contains(&format!("`{param}`")) || message.starts_with(&param) {
                    ApiError::bad_request(codes::INVALID_PARAMETER, message)
                } else {
                    ApiError::invalid_parameter(&param, message)
                }
            }
            E::InvalidFilter(message) => {
                ApiError::bad_request(codes::INVALID_FILTER, format!("invalid filter: {message}"))
            }
            E::Validation(e) => ApiError::from(e),
            E::Store(store) => match store {
                S::Storage(message) => ApiError::internal(codes::STORAGE_ERROR, &message),
                S::Corrupt { id, message } => {
                    ApiError::internal(codes::DATA_CORRUPT, &format!("corrupt record `{id}`: {message}"))
                }
                S::Io { path, source } if source.kind() == std::io::ErrorKind::StorageFull => {
                    tracing::error!(path, error = %source, "disk full");
                    ApiError::new(
                        StatusCode::INSUFFICIENT_STORAGE,
                        codes::STORAGE_FULL,
                        ErrorType::System,
                        "the server's disk is full; retry after space is freed",
                    )
                }
                S::Io { path, source } => ApiError::internal(codes::IO_ERROR, &format!("io error at {path}: {source}")),
            },
            E::Index(e) => ApiError::internal(codes::INDEX_ERROR, &e),
            E::Unavailable(why) => {
                tracing::warn!(reason = %why, "engine unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    codes::UNAVAILABLE,
                    ErrorType::System,
                    "the engine is unavailable (starting or shutting down); retry later",
                )
            }
        }
    }
}

impl From<needle_service::Error> for ApiError {
    fn from(err: needle_service::Error) -> Self {
        use needle_service::Error as E;
        // Exhaustive on purpose: each service error keeps the code its engine error has.
        match err {
            E::Invalid(e) => e.into(),
            E::Search(e) => e.into(),
            E::Recs(e) => e.into(),
            E::Store(e) => needle_search::Error::Store(e).into(),
            E::Unavailable(m) => needle_search::Error::Unavailable(m).into(),
        }
    }
}

impl From<needle_recs::RecsError> for ApiError {
    fn from(err: needle_recs::RecsError) -> Self {
        use needle_recs::RecsError as R;
        // Exhaustive on purpose: a new recommendation error must get a deliberate code.
        match err {
            R::InvalidInput(message) => ApiError::bad_request(codes::INVALID_PARAMETER, message),
            R::NotFound { what, id } => {
                let code = match what {
                    "session" => codes::SESSION_NOT_FOUND,
                    "job" => codes::JOB_NOT_FOUND,
                    _ => codes::ITEM_NOT_FOUND,
                };
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    code,
                    ErrorType::NotFound,
                    format!("no {what} has id `{id}`"),
                )
            }
            R::NotReady(message) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                codes::MODEL_NOT_READY,
                ErrorType::System,
                message,
            ),
            R::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                codes::STORAGE_FULL,
                ErrorType::System,
                "the server's disk is full; retry after space is freed",
            ),
            R::Io(e) => ApiError::internal(codes::MODEL_ERROR, &e),
            R::Parse(m) | R::Numeric(m) => ApiError::internal(codes::MODEL_ERROR, &m),
            R::Source(m) => ApiError::internal(codes::STORAGE_ERROR, &m),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(
            codes::INVALID_PARAMETER,
            format!("invalid path parameter: {}", r.body_text()),
        )
    }
}

impl From<BytesRejection> for ApiError {
    fn from(r: BytesRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::from_status(StatusCode::PAYLOAD_TOO_LARGE)
        } else {
            ApiError::bad_request(
                codes::INVALID_BODY,
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
                E::InvalidParameter {
                    param: "limit".into(),
                    message: "too big".into(),
                },
                400,
                "invalid_parameter",
                ErrorType::InvalidRequest,
            ),
            (
                E::InvalidFilter("bad".into()),
                400,
                "invalid_filter",
                ErrorType::InvalidRequest,
            ),
            (
                E::Validation(needle_core::ValidationError::new(
                    "invalid_id",
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
            assert_eq!((api.status.as_u16(), api.code, api.kind), (status, code, kind), "{api}");
            assert!(codes::ALL.contains(&api.code));
            if kind == ErrorType::Internal {
                assert_eq!(api.message, INTERNAL_MESSAGE, "internal causes must not leak");
            }
        }
        let p = ApiError::from(E::InvalidParameter {
            param: "limit".into(),
            message: "too big".into(),
        });
        assert_eq!(p.message, "parameter `limit`: too big");
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
