//! Training jobs and model information: `POST /v1/admin/train`, `GET /v1/admin/jobs`,
//! `GET /v1/admin/jobs/{id}`, `GET /v1/admin/model`, `GET /v1/admin/recommendations/quality`.

use super::{ApiPath, JsonBytes};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use needle_recs::select::Selection;
use needle_recs::serve::quality::{QualityReport, QualityRequest};
use needle_recs::serve::{Job, TrainStats};
use needle_recs::RecsError;
use serde::Serialize;

/// The answer of `POST /v1/admin/train`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrainAccepted {
    /// Poll `GET /v1/admin/jobs/{job_id}`.
    pub job_id: String,
    /// `queued` or `running`.
    #[schema(value_type = String)]
    pub status: needle_recs::serve::JobStatus,
}

/// Body of `POST /v1/admin/train` (optional).
#[derive(Debug, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrainBody {
    /// Refit the served model's chosen blend warm-started from its vectors
    /// (`recs.select.warm_iterations`), without a new model selection: seconds instead of
    /// the full job. Default `false`; without a served model, a full training.
    #[serde(default)]
    pub incremental: bool,
}

/// Train a new recommendation model from every listener's events and the catalog, in the
/// background. The new model is swapped in atomically when done; requests in flight finish
/// on the old one. One job runs at a time; a second request while one of the same kind is
/// queued returns that job. The body is optional: `{"incremental": true}` refits what the
/// served model chose, warm-started, instead of selecting again.
#[utoipa::path(
    post,
    path = "/v1/admin/train",
    tag = "admin",
    request_body(content = TrainBody, description = "Optional", content_type = "application/json"),
    responses(
        (status = 202, description = "Training queued", body = TrainAccepted),
        (status = 400, description = "`invalid_json`: a body that is not the object above", body = ErrorBody),
        (status = 409, description = "`lease_held`: another cluster replica is training", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: a body that is not `application/json`", body = ErrorBody),
    )
)]
pub async fn train(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<(StatusCode, Json<TrainAccepted>), ApiError> {
    let body: TrainBody = if body.iter().all(u8::is_ascii_whitespace) {
        TrainBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(crate::codes::Code::InvalidJson, format!("invalid JSON body: {e}")))?
    };
    let job = state
        .blocking(move |svc| Ok(svc.start_training_with(body.incremental)?))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(TrainAccepted {
            job_id: job.job_id,
            status: job.status,
        }),
    ))
}

/// One job: `kind` (`train` or `train_incremental`), `status` (`queued`, `running`, `done`,
/// `failed`, `interrupted`), `progress` (0 to 1), times,
/// the model version it produced and per-phase timings.
#[utoipa::path(
    get,
    path = "/v1/admin/jobs/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "Job id (`train-N`)")),
    responses(
        (status = 200, description = "The job", body = Object),
        (status = 400, description = "`invalid_parameter`: the id is not UTF-8 once percent-decoded", body = ErrorBody),
        (status = 404, description = "`job_not_found`", body = ErrorBody),
    )
)]
pub async fn job(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<Job>, ApiError> {
    // In the blocking pool: with a cluster the status may come from Redis.
    state
        .blocking(move |svc| {
            svc.recs()
                .jobs()
                .get(&id)
                .map(Json)
                .ok_or_else(|| RecsError::NotFound { what: "job", id }.into())
        })
        .await
}

/// Every kept job (the newest 100), newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/jobs",
    tag = "admin",
    responses((status = 200, description = "Jobs", body = Object))
)]
pub async fn jobs(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .blocking(|svc| Ok(Json(serde_json::json!({ "jobs": svc.recs().jobs().list() }))))
        .await
}

/// The model serving now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ModelInfo {
    /// Version (files `models/model-NNNNNN.bin`); `null` before the first training.
    pub model_version: Option<u64>,
    /// When it was trained, epoch ms.
    pub created_at_ms: Option<i64>,
    /// Items with an ALS vector (they had listeners at training time).
    pub trained_items: usize,
    /// Items without listeners whose vector comes from their creators and tags.
    pub content_items: usize,
    /// Items without a vector, in the popularity lists only.
    pub popular_only_items: usize,
    /// `exact` or `hnsw`.
    pub index: Option<&'static str>,
    /// Factors per vector.
    pub factors: Option<usize>,
    /// Sizes and timings of the training run.
    #[schema(value_type = Object)]
    pub stats: Option<TrainStats>,
    /// Model selection: each candidate's validation NDCG@10, and the blend that was
    /// chosen and is served (`null` for a model trained without selection).
    pub selection: Option<Selection>,
}

/// The model serving now.
#[utoipa::path(
    get,
    path = "/v1/admin/model",
    tag = "admin",
    responses((status = 200, description = "Model information", body = ModelInfo))
)]
pub async fn model(State(state): State<AppState>) -> Json<ModelInfo> {
    let m = state.recs().model();
    Json(match m {
        None => ModelInfo {
            model_version: None,
            created_at_ms: None,
            trained_items: 0,
            content_items: 0,
            popular_only_items: 0,
            index: None,
            factors: None,
            stats: None,
            selection: None,
        },
        Some(m) => ModelInfo {
            model_version: Some(m.version),
            created_at_ms: Some(m.created_ms),
            trained_items: m.n_trained,
            content_items: m.n_vec - m.n_trained,
            popular_only_items: m.items.len() - m.n_vec,
            index: Some(m.index.kind()),
            factors: Some(m.factors()),
            stats: Some(m.stats.clone()),
            selection: m.stats.selection.clone(),
        },
    })
}

/// Query parameters of `GET /v1/admin/recommendations/quality`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QualityParams {
    /// Listeners to sample, 1 to 2000 (default 200): those with history, the same ones on
    /// every call.
    #[serde(default, deserialize_with = "super::query::count")]
    pub sample: Option<usize>,
    /// Items per answer, 1 to 100 (default 20).
    #[serde(default, deserialize_with = "super::query::count")]
    pub limit: Option<usize>,
    /// Comma-separated entity types every surface is asked for (default: each surface's
    /// own).
    #[serde(default, deserialize_with = "super::query::types")]
    #[param(value_type = Option<String>)]
    pub types: Option<Vec<needle_core::EntityType>>,
    /// `discover`'s `discovery`, 0 to 1 (default `recs.discover_discovery`).
    #[serde(default, deserialize_with = "super::query::parsed")]
    pub discovery: Option<f32>,
}

/// Quality beyond accuracy of every listener surface as served: each surface runs for a
/// sample of listeners and its answers are measured — coverage, novelty, average
/// recommendation popularity and the share from the popularity head (popularity bias),
/// intra-list diversity of the model vectors, creator repetition, popularity fallbacks.
/// Costs one recommendation per sampled listener and surface.
#[utoipa::path(
    get,
    path = "/v1/admin/recommendations/quality",
    tag = "admin",
    params(QualityParams),
    responses(
        (status = 200, description = "Per-surface figures", body = QualityReport),
        (status = 400, description = "`invalid_parameter`", body = ErrorBody),
        (status = 503, description = "`model_not_ready`, `model_loading` (`Retry-After`)", body = ErrorBody),
    )
)]
pub async fn quality(
    State(state): State<AppState>,
    super::query::StrictQuery(p): super::query::StrictQuery<QualityParams>,
) -> Result<Json<QualityReport>, ApiError> {
    let req = QualityRequest {
        sample: p
            .sample
            .map_or(Ok(200), |n| needle_core::validate::limit("sample", n, 2000))?,
        limit: p
            .limit
            .map_or(Ok(20), |n| needle_core::validate::limit("limit", n, 100))?,
        types: p.types,
        discovery: p.discovery,
        now_ms: None,
    };
    state
        .blocking(move |svc| Ok(Json(svc.recommendation_quality(&req)?)))
        .await
}
