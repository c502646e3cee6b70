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
    /// `ok`, `degraded` (readiness: reads are served, writes are not), `unavailable`,
    /// `loading` (readiness) or `restart` (liveness).
    #[schema(example = "ok")]
    pub status: String,
    /// Why the status is not `ok`, when known (e.g. the disk is full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl HealthStatus {
    fn ok() -> Json<HealthStatus> {
        Self::of("ok", None)
    }

    fn of(status: &str, reason: Option<String>) -> Json<HealthStatus> {
        Json(HealthStatus {
            status: status.into(),
            reason,
        })
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
            (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::of("restart", Some(why)))
        }
        _ => (StatusCode::OK, HealthStatus::ok()),
    }
}

/// Readiness: the engine answers `stats()` within two seconds, a cluster replica applies
/// its log (not one whose data directory holds another log's state), and the saved
/// recommendation model has loaded after a restart (`503 {"status":"loading"}` until then;
/// `recs.ready_waits_for_model = false` leaves the model out). Ready means reads are
/// served: while writes are refused (a full disk, a store recovering from a failed write
/// by itself) it answers `200 {"status":"degraded","reason":...}`, and `503` with the
/// reason while the catalog store cannot be read (it is being reopened).
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "ops",
    responses(
        (status = 200, description = "Ready to serve reads: `ok`, or `degraded` (writes refused, with the reason)", body = HealthStatus, example = json!({"status": "ok"})),
        (status = 503, description = "Not ready: `unavailable`, or `loading` while the recommendation model loads", body = HealthStatus, example = json!({"status": "loading"})),
    )
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthStatus>) {
    if let Some(why) = state.service().wrong_log() {
        tracing::warn!(reason = %why, "not ready");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            HealthStatus::of("unavailable", Some(why)),
        );
    }
    if let Some(what) = state.service().still_loading() {
        tracing::debug!(waiting_for = what, "not ready: loading");
        return (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::of("loading", None));
    }
    match tokio::time::timeout(READY_TIMEOUT, state.blocking(|engine| Ok(engine.stats()?))).await {
        Ok(Ok(_)) => {
            let service = state.service().clone();
            match tokio::task::spawn_blocking(move || service.degraded()).await {
                Ok(Some(why)) => (StatusCode::OK, HealthStatus::of("degraded", Some(why))),
                _ => (StatusCode::OK, HealthStatus::ok()),
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            let why = state.service().degraded().unwrap_or_else(|| e.to_string());
            (
                StatusCode::SERVICE_UNAVAILABLE,
                HealthStatus::of("unavailable", Some(why)),
            )
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                HealthStatus::of("unavailable", Some("the engine did not answer within 2 s".into())),
            )
        }
    }
}
