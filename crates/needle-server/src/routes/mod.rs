//! Routing table, fallbacks, middleware stack and the extractors that turn axum's
//! rejections into [`ApiError`]s.

pub mod admin;
pub mod analytics;
pub mod catalog;
pub mod cluster;
pub mod curation;
pub mod events;
pub mod health;
pub mod json;
pub mod observe;
pub mod query;
pub mod recs;
pub mod search;
pub mod tokens;
pub mod ui;
pub mod users;

use crate::codes::Code;
use crate::error::ApiError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Request};
use axum::http::header::{CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{middleware, BoxError, Router};
use std::any::Any;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_http::LatencyUnit;
use tracing::Level;

/// Header carrying the request id (set when absent, echoed on the response).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest request URI answered, in bytes: longer ones get `414 uri_too_long`. Below
/// hyper's own limit ([`HYPER_MAX_URI_BYTES`]), so clients see this JSON answer.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most request-header bytes answered (each header counted as `name: value` plus CRLF):
/// more get `431 headers_too_large`. Below hyper's read buffer ([`HYPER_MAX_HEAD_BYTES`]).
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// hyper 1's fixed URI limit (HTTP/1); a longer URI gets hyper's bodiless `414`.
pub const HYPER_MAX_URI_BYTES: usize = 65_534;
/// hyper 1's default HTTP/1 read buffer (the request line and headers must fit): a larger
/// head gets hyper's bodiless `431`. `axum::serve` does not let it be changed.
pub const HYPER_MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;
const _: () = assert!(MAX_URI_BYTES < HYPER_MAX_URI_BYTES && MAX_HEADER_BYTES + MAX_URI_BYTES < HYPER_MAX_HEAD_BYTES);

/// Response extension marking an answer of the unknown-route fallback.
#[derive(Debug, Clone, Copy)]
pub struct Unmatched;

/// The full router: routes, JSON fallbacks and middleware.
pub(crate) fn build(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(ui::index))
        .route("/ui/app.js", get(ui::app_js))
        .route("/ui/style.css", get(ui::style_css))
        .route("/v1/catalog", post(catalog::write))
        .route(
            "/v1/catalog/{id}",
            get(catalog::get_entity).delete(catalog::delete_entity),
        )
        .route("/v1/stats", get(catalog::stats))
        .route("/v1/search", get(search::search))
        .route("/v1/events", post(events::ingest))
        .route("/v1/users/{id}", delete(users::delete_user))
        .route("/v1/users/{id}/profile", get(users::profile))
        .route("/v1/users/{id}/history", get(users::history))
        .route("/v1/users/{id}/recommendations", get(recs::recommendations))
        .route("/v1/users/{id}/sessions", post(recs::start_session))
        .route("/v1/users/{id}/tokens/revoke", post(tokens::revoke))
        .route("/v1/sessions/{sid}/next", get(recs::session_next))
        .route("/v1/items/{id}/similar", get(recs::similar))
        .route("/v1/recommendations/continue", post(recs::continue_from))
        .route("/v1/admin/train", post(admin::train))
        .route("/v1/admin/jobs", get(admin::jobs))
        .route("/v1/admin/jobs/{id}", get(admin::job))
        .route("/v1/admin/model", get(admin::model))
        .route("/v1/admin/recommendations/quality", get(admin::quality))
        .route("/v1/admin/tokens", post(tokens::mint))
        .route("/v1/admin/cluster", get(cluster::status))
        .route(
            "/v1/admin/snapshots",
            get(cluster::list_snapshots).post(cluster::create_snapshot),
        )
        .route("/v1/analytics/searches", get(analytics::searches))
        .route("/v1/analytics/items/{id}", get(analytics::item))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route("/metrics", get(observe::scrape))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .route("/v1/suggest", get(curation::suggest))
        .route(
            "/v1/settings/synonyms",
            get(curation::synonyms).put(curation::set_synonyms),
        )
        .route("/v1/settings/rules", get(curation::rules).put(curation::set_rules))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(route_not_found);
    with_middleware(routes, &state).with_state(state)
}

/// Wrap every route of `router` (and its fallbacks) in the middleware stack, outermost
/// first: request id, tracing, request-id propagation, metrics, error normalization,
/// panic catching, URI and header bounds ([`request_bounds`]), access control and limits
/// ([`crate::auth::enforce`]), timeout, body limit, `Content-Encoding` check and gzip
/// decompression (so `max_body_bytes` bounds the decompressed body).
pub(crate) fn with_middleware(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str)
                .unwrap_or("-");
            let request_id = req
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), route, uri = %req.uri().path(), request_id)
        })
        .on_request(())
        // A 5xx is logged where its error is made, at the level it deserves (an internal
        // error with its cause at ERROR; an expected 503/507 at WARN), not again here.
        .on_failure(())
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(LatencyUnit::Millis),
        );
    let timeout = state.config().request_timeout();
    let max_body = state.config().max_body_bytes;
    // `Router::layer` wraps what is already there: the last layer added runs first.
    router
        .layer(RequestDecompressionLayer::new())
        .layer(middleware::from_fn(content_encoding))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(crate::auth::run_in_turn))
        .layer(middleware::from_fn_with_state(state.clone(), cluster::min_seq))
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(handle_layer_error))
                .timeout(timeout),
        )
        .layer(middleware::from_fn_with_state(
            std::sync::Arc::new(
                crate::auth::Guard::with_keys(state.keys().clone(), state.config(), state.clock().clone())
                    .with_shared_rate(state.service().shared_rate())
                    .with_revocations(state.service().clone()),
            ),
            crate::auth::enforce,
        ))
        .layer(middleware::from_fn(request_bounds))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::map_response(normalize_errors))
        .layer(middleware::from_fn(close_after_refused_body))
        .layer(middleware::from_fn_with_state(state.clone(), observe::track))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(trace)
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Refuse a request whose URI is longer than [`MAX_URI_BYTES`] (`414 uri_too_long`) or
/// whose headers take more than [`MAX_HEADER_BYTES`] (`431 headers_too_large`).
pub async fn request_bounds(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let uri_bytes = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    if uri_bytes > MAX_URI_BYTES {
        return ApiError::new(
            Code::UriTooLong,
            format!("the request URI is {uri_bytes} bytes long; the limit is {MAX_URI_BYTES}"),
        )
        .into_response();
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return ApiError::new(
            Code::HeadersTooLarge,
            format!("the request headers take {header_bytes} bytes; the limit is {MAX_HEADER_BYTES}"),
        )
        .into_response();
    }
    next.run(req).await
}

/// An error answered to a request with a body ends the connection (`Connection: close`).
/// The body may not have been read (a refusal answers first: a wrong key or scope, a full
/// gate, a bad content type), and then the server closes the connection after answering;
/// a client told nothing sends its next request on it and sees it cut. A CI run of the
/// Python SDK saw exactly that: `POST /v1/events` after a refused `POST /v1/catalog` on
/// one keep-alive connection, "Server disconnected without sending a response".
pub async fn close_after_refused_body(req: Request, next: Next) -> Response {
    let has_body = req.headers().get(CONTENT_LENGTH).is_some_and(|v| v.as_bytes() != b"0")
        || req.headers().contains_key(TRANSFER_ENCODING);
    let mut response = next.run(req).await;
    let status = response.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        response
            .headers_mut()
            .insert(CONNECTION, axum::http::HeaderValue::from_static("close"));
    }
    response
}

/// Refuse a body with a `Content-Encoding` other than `gzip` or `identity` (`415
/// unsupported_encoding`); tower-http's decompression, inside, inflates `gzip`.
pub async fn content_encoding(req: Request, next: Next) -> Response {
    if let Some(encoding) = req.headers().get(CONTENT_ENCODING) {
        // The values tower-http's `RequestDecompression` accepts, byte for byte.
        if !matches!(encoding.as_bytes(), b"gzip" | b"identity") {
            return ApiError::new(
                Code::UnsupportedEncoding,
                format!(
                    "content encoding `{}` is not supported; send the body uncompressed or with \
                     `Content-Encoding: gzip`",
                    String::from_utf8_lossy(encoding.as_bytes())
                ),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Fallback for paths no route matches: `404 route_not_found`.
pub async fn route_not_found(req: Request) -> Response {
    let mut err = ApiError::from_status(StatusCode::NOT_FOUND);
    err.message = format!("no route matches `{} {}`", req.method(), req.uri().path());
    let mut response = err.into_response();
    response.extensions_mut().insert(Unmatched);
    response
}

/// Fallback for known paths with another method: `405 method_not_allowed` (axum adds the
/// `allow` header).
pub async fn method_not_allowed(req: Request) -> Response {
    let mut err = ApiError::from_status(StatusCode::METHOD_NOT_ALLOWED);
    err.message = format!(
        "`{}` is not allowed on `{}` (see the `allow` header)",
        req.method(),
        req.uri().path()
    );
    err.into_response()
}

/// Replace any error response that is not JSON (plain-text or empty bodies from axum or a
/// tower layer) with the API's error shape, keeping status and headers.
async fn normalize_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let fresh = ApiError::from_status(status).into_response();
    let (fresh_parts, body) = fresh.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    for (name, value) in fresh_parts.headers.iter() {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, body)
}

/// Errors of the tower layers (the timeout): `503 request_timeout`, or `500 internal`.
async fn handle_layer_error(err: BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::timeout()
    } else {
        ApiError::internal(Code::Internal, &err)
    }
}

/// A handler panicked: log it, answer `500 internal`.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<String> {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic payload");
    let err = ApiError::internal(Code::Internal, &format!("handler panicked: {detail}"));
    let body = serde_json::to_string(&err.body()).unwrap_or_else(|_| String::from("{\"code\":\"internal\"}"));
    let mut response = Response::new(body);
    *response.status_mut() = err.status();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, axum::http::HeaderValue::from_static("application/json"));
    response
}

/// The whole request body, with axum's rejections (too large, unreadable) as [`ApiError`].
/// Bodies whose `Content-Length` exceeds `max_body_bytes` are refused before reading.
pub struct ApiBytes(pub Bytes);

impl FromRequest<AppState> for ApiBytes {
    type Rejection = ApiError;
    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let max = state.config().max_body_bytes;
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(too_large(max));
        }
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(ApiBytes(bytes)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large(max)),
            Err(r) => Err(ApiError::from(r)),
        }
    }
}

/// The whole body of an endpoint that takes one JSON object (or nothing): [`ApiBytes`],
/// refused with `415 unsupported_media_type` when it is not empty and its `Content-Type`
/// is not JSON ([`json::check_content_type`]).
pub struct JsonBytes(pub Bytes);

impl FromRequest<AppState> for JsonBytes {
    type Rejection = ApiError;
    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("invalid").to_string());
        let ApiBytes(bytes) = ApiBytes::from_request(req, state).await?;
        json::check_content_type(content_type.as_deref(), &bytes)?;
        Ok(JsonBytes(bytes))
    }
}

fn too_large(max: usize) -> ApiError {
    ApiError::new(
        Code::PayloadTooLarge,
        format!("the request body is larger than {max} bytes (max_body_bytes)"),
    )
}

/// A single path parameter, with rejections as [`ApiError`].
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Request timeout of the middleware tests.
#[cfg(test)]
pub(crate) const TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use needle_search::EngineConfig;
    use needle_service::{Service, ServiceConfig};
    use std::sync::Arc;
    use tower::ServiceExt;

    fn state(dir: &tempfile::TempDir) -> AppState {
        let engine = Service::open(ServiceConfig::new(EngineConfig::new(dir.path()))).expect("service opens");
        let config = Config {
            request_timeout_ms: TEST_TIMEOUT.as_millis() as u64,
            ..Config::default()
        };
        AppState::new(Arc::new(engine), config)
    }

    async fn call(router: Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let req = Request::builder().uri(uri).body(Body::empty()).expect("request");
        let res = router.oneshot(req).await.expect("infallible");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.expect("body");
        (status, serde_json::from_slice(&bytes).expect("json body"))
    }

    #[tokio::test]
    async fn panics_become_json_500() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = state(&dir);
        async fn boom() -> &'static str {
            panic!("kaboom")
        }
        let router = with_middleware(Router::new().route("/boom", get(boom)), &state).with_state(state);
        let (status, body) = call(router, "/boom").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["code"], "internal");
        assert_eq!(body["type"], "internal");
        assert!(
            !body["message"].as_str().unwrap_or("").contains("kaboom"),
            "panic text must not leak"
        );
    }

    // Tokio's clock is paused (and jumps to the request timeout): no real waiting.
    #[tokio::test(start_paused = true)]
    async fn slow_requests_time_out_as_json_503() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = state(&dir);
        async fn slow() -> &'static str {
            std::future::pending::<()>().await;
            "never"
        }
        async fn teapot() -> StatusCode {
            StatusCode::IM_A_TEAPOT
        }
        let router = Router::new().route("/slow", get(slow)).route("/teapot", get(teapot));
        let router = with_middleware(router, &state).with_state(state);
        let (status, body) = call(router.clone(), "/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], "request_timeout");
        assert_eq!(body["type"], "system");
        // Bodiless error statuses from anywhere are normalized too.
        let (status, body) = call(router, "/teapot").await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
        assert_eq!(body["code"], "bad_request");
    }
}
