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
    /// `ok` or `unavailable`.
    #[schema(example = "ok")]
    pub status: String,
}

impl HealthStatus {
    fn ok() -> Json<HealthStatus> {
        Json(HealthStatus { status: "ok".into() })
    }
}

/// Liveness: the process answers HTTP. Always `200 {"status":"ok"}`.
#[utoipa::path(
    get,
    path = "/health/live",
    tag = "ops",
    responses((status = 200, description = "The process is alive", body = HealthStatus))
)]
pub async fn live() -> Json<HealthStatus> {
    HealthStatus::ok()
}

/// Readiness: the engine answers `stats()` within two seconds.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "ops",
    responses(
        (status = 200, description = "Ready to serve", body = HealthStatus, example = json!({"status": "ok"})),
        (status = 503, description = "Not ready", body = HealthStatus, example = json!({"status": "unavailable"})),
    )
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<HealthStatus>) {
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
