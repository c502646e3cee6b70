//! The cluster door: `GET /v1/admin/cluster` (where this replica stands),
//! `POST`/`GET /v1/admin/snapshots`, the `min_seq` read-your-writes wait every route
//! honours, and the `Idempotency-Key` header of writes.

use crate::codes::Code;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;
use axum::Json;
use needle_service::{ClusterStatus, Manifest};

/// Where this replica stands in the write log: `applied_seq`, `log_seq`, `lag`, and
/// `state_digest`, a hash of the applied state that is equal on every replica at the same
/// `applied_seq` (`digest_seq`).
#[utoipa::path(
    get,
    path = "/v1/admin/cluster",
    tag = "admin",
    responses(
        (status = 200, description = "This replica", body = ClusterStatus),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub async fn status(State(state): State<AppState>) -> Result<Json<ClusterStatus>, ApiError> {
    Ok(Json(state.blocking(|svc| Ok(svc.cluster_status()?)).await?))
}

/// Write a consistent snapshot of this replica (catalog store, index, events, served
/// model, `applied_seq`) into `<shared_dir>/snapshots`. Writes on this replica wait while
/// it is copied.
#[utoipa::path(
    post,
    path = "/v1/admin/snapshots",
    tag = "admin",
    responses(
        (status = 201, description = "The snapshot written", body = Manifest),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub async fn create_snapshot(State(state): State<AppState>) -> Result<(StatusCode, Json<Manifest>), ApiError> {
    let m = state.blocking(|svc| Ok(svc.snapshot()?)).await?;
    Ok((StatusCode::CREATED, Json(m)))
}

/// The snapshots in `<shared_dir>/snapshots`, newest first (manifests without files).
#[utoipa::path(
    get,
    path = "/v1/admin/snapshots",
    tag = "admin",
    responses((status = 200, description = "Snapshots", body = Object))
)]
pub async fn list_snapshots(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let list = state.blocking(|svc| Ok(svc.snapshots()?)).await?;
    let list: Vec<serde_json::Value> = list
        .into_iter()
        .map(|m| {
            serde_json::json!({
                "applied_seq": m.applied_seq,
                "node_id": m.node_id,
                "created_at_ms": m.created_at_ms,
                "files": m.files.len(),
                "bytes": m.bytes(),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "snapshots": list })))
}

/// Longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 200;

/// The `Idempotency-Key` of a write: printable ASCII, at most 200 characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            Code::InvalidParameter,
            format!("header `Idempotency-Key`: 1 to {MAX_KEY_LEN} printable ASCII characters"),
        )
    };
    let s = v.to_str().map_err(|_| bad())?;
    if s.is_empty() || s.len() > MAX_KEY_LEN || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    Ok(Some(s.to_string()))
}

/// `min_seq` (query parameter, or header `Needle-Min-Seq`): wait until this replica has
/// applied that write-log entry before running the request (read-your-writes across
/// replicas), at most `cluster.read_wait_ms`; then `503 not_caught_up`. The parameter is
/// removed before the route's own query parsing.
pub async fn min_seq(State(state): State<AppState>, mut req: Request, next: Next) -> Result<Response, ApiError> {
    let (wanted, stripped) = parse_min_seq(req.uri(), req.headers())?;
    if let Some(uri) = stripped {
        *req.uri_mut() = uri;
    }
    if let Some(seq) = wanted {
        let svc = state.service().clone();
        let mut watch = svc.applied_watch();
        let reached = tokio::time::timeout(svc.read_wait(), watch.wait_for(|applied| *applied >= seq)).await;
        if !matches!(reached, Ok(Ok(_))) && svc.applied_seq() < seq {
            return Err(svc.not_caught_up(seq).into());
        }
    }
    Ok(next.run(req).await)
}

fn bad_min_seq(got: &str) -> ApiError {
    ApiError::new(
        Code::InvalidParameter,
        format!("parameter `min_seq`: expected a write's `seq` (an integer >= 0), got `{got}`"),
    )
}

/// The `min_seq` asked for, and the URI without it (when it was in the query).
fn parse_min_seq(uri: &Uri, headers: &HeaderMap) -> Result<(Option<u64>, Option<Uri>), ApiError> {
    let mut wanted = None;
    if let Some(h) = headers.get("needle-min-seq") {
        let s = h.to_str().unwrap_or("");
        wanted = Some(s.trim().parse::<u64>().map_err(|_| bad_min_seq(s))?);
    }
    let Some(query) = uri.query() else {
        return Ok((wanted, None));
    };
    if !query.split('&').any(|p| p == "min_seq" || p.starts_with("min_seq=")) {
        return Ok((wanted, None));
    }
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("min_seq=").or((pair == "min_seq").then_some("")) {
            Some(v) => {
                if wanted.is_some() {
                    return Err(ApiError::new(
                        Code::InvalidParameter,
                        "parameter `min_seq` given more than once (or also as header Needle-Min-Seq)",
                    ));
                }
                wanted = Some(v.parse::<u64>().map_err(|_| bad_min_seq(v))?);
            }
            None => kept.push(pair),
        }
    }
    let path = uri.path();
    let rebuilt = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    let uri = rebuilt
        .parse::<Uri>()
        .map_err(|_| ApiError::new(Code::InvalidParameter, "malformed query string"))?;
    Ok((wanted, Some(uri)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_seq_is_taken_out_of_the_query() {
        let h = HeaderMap::new();
        let (w, u) = parse_min_seq(&"/v1/search?q=a&min_seq=42&limit=3".parse().unwrap(), &h).unwrap();
        assert_eq!(w, Some(42));
        assert_eq!(u.unwrap().to_string(), "/v1/search?q=a&limit=3");
        let (w, u) = parse_min_seq(&"/v1/catalog/x?min_seq=7".parse().unwrap(), &h).unwrap();
        assert_eq!((w, u.unwrap().to_string()), (Some(7), "/v1/catalog/x".to_string()));
        let (w, u) = parse_min_seq(&"/v1/search?q=min_seq".parse().unwrap(), &h).unwrap();
        assert_eq!((w, u), (None, None));
        assert!(parse_min_seq(&"/v1/search?min_seq=-1".parse().unwrap(), &h).is_err());
        assert!(parse_min_seq(&"/v1/search?min_seq=1&min_seq=2".parse().unwrap(), &h).is_err());
        let mut h = HeaderMap::new();
        h.insert("needle-min-seq", "9".parse().unwrap());
        assert_eq!(parse_min_seq(&"/v1/stats".parse().unwrap(), &h).unwrap().0, Some(9));
    }

    #[test]
    fn idempotency_keys_are_checked() {
        let mut h = HeaderMap::new();
        assert_eq!(idempotency_key(&h).unwrap(), None);
        h.insert("idempotency-key", "req-1".parse().unwrap());
        assert_eq!(idempotency_key(&h).unwrap().as_deref(), Some("req-1"));
        h.insert("idempotency-key", "a b".parse().unwrap());
        assert!(idempotency_key(&h).is_err());
    }
}
