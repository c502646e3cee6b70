//! Liveness and readiness probes.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Longest wait for `engine.stats()` in the readiness probe.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Body of the probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthStatus {
    /// `ok`, `unavailable`, `loading` (readiness) or `restart` (liveness).
    #[schema(example = "ok")]
    pub status: String,
}

impl HealthStatus {
    fn ok() -> Json<HealthStatus> {
        Json(HealthStatus { status: "ok".into() })
    }
}

/// Liveness: the process answers HTTP — `200 {"status":"ok"}` — unless a restart would
/// heal it: a cluster replica behind the write log's retention while a snapshot covers
/// the gap (a start restores it) answers `503 {"status":"restart"}`.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "ops",
    responses(
        (status = 200, description = "The process is alive", body = HealthStatus),
        (status = 503, description = "Restart me: a snapshot covers entries the log no longer holds", body = HealthStatus, example = json!({"status": "restart"})),
    )
)]
pub async fn live(State(state): State<AppState>) -> (StatusCode, Json<HealthStatus>) {
    let service = state.service().clone();
    match tokio::task::spawn_blocking(move || service.needs_restart()).await {
        Ok(Some(why)) => {
            tracing::error!(reason = %why, "liveness: restart to restore a snapshot");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(HealthStatus {
                    status: "restart".into(),
                }),
            )
        }
        _ => (StatusCode::OK, HealthStatus::ok()),
    }
}

/// Readiness: the engine answers `stats()` within two seconds, a cluster replica applies
/// its log (not one whose data directory holds another log's state), and the saved
/// recommendation model has loaded after a restart (`503 {"status":"loading"}` until then;
/// `recs.ready_waits_for_model = false` leaves the model out).
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "ops",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus, example = json!({"status": "ok"})),
        (status = 503, description = "Not ready: `unavailable`, or `loading` while the recommendation model loads", body = HealthStatus, example = json!({"status": "loading"})),
    )
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthStatus>) {
    if let Some(why) = state.service().wrong_log() {
        tracing::warn!(reason = %why, "not ready");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthStatus {
                status: "unavailable".into(),
            }),
        );
    }
    if let Some(what) = state.service().still_loading() {
        tracing::debug!(waiting_for = what, "not ready: loading");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(HealthStatus {
                status: "loading".into(),
            }),
        );
    }
    match tokio::time::timeout(READY_TIMEOUT, state.blocking(|engine| Ok(engine.stats()?))).await {
        Ok(Ok(_)) => (StatusCode::OK, HealthStatus::ok()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(HealthStatus {
                    status: "unavailable".into(),
                }),
            )
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(HealthStatus {
                    status: "unavailable".into(),
                }),
            )
        }
    }
}
