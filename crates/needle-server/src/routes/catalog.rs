//! `POST /v1/catalog`, `GET`/`DELETE /v1/catalog/{id}`, `GET /v1/stats`.

use super::{ApiBytes, ApiPath};
use crate::body::ingest_batch;
use crate::error::{ApiError, ErrorBody};
use crate::openapi::{CatalogRecord, DeleteResponse, EntityDoc};
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use needle_core::Entity;
use needle_search::{CatalogStats, WriteReport};

/// Add, replace or delete catalog records in one durable batch.
///
/// The body is a JSON array of records, or NDJSON (one record per line) when the content
/// type is `application/x-ndjson` or the body does not start with `[`. Records are
/// validated one by one: bad ones are listed in `rejected` (by 0-based index; for NDJSON,
/// line number - 1) and do not affect the others.
#[utoipa::path(
    post,
    path = "/v1/catalog",
    tag = "catalog",
    request_body(
        description = "Records to upsert (`{id, type, name, ...}`) or delete (`{id, deleted: true}`).",
        content(
            (Vec<CatalogRecord> = "application/json"),
            (CatalogRecord = "application/x-ndjson"),
        )
    ),
    responses(
        (status = 200, description = "Accepted records are durable; rejected ones are listed with reasons.", body = WriteReport),
        (status = 400, description = "`empty_batch`, `invalid_json` (JSON array body)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`, `batch_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn write(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<WriteReport>, ApiError> {
    let key = super::cluster::idempotency_key(&headers)?;
    let report: WriteReport = ingest_batch(&state, &headers, body, move |svc, values| {
        Ok(svc.write_values_keyed(values, key)?)
    })
    .await?;
    Ok(Json(report))
}

/// Fetch one entity as stored, by its id or by one of its `alias_ids` (the answer's
/// `id` is the canonical id).
#[utoipa::path(
    get,
    path = "/v1/catalog/{id}",
    tag = "catalog",
    params(("id" = String, Path, description = "Entity id, or an alias id of an entity")),
    responses(
        (status = 200, description = "The entity; its `id` is the canonical id, whichever id was asked for", body = EntityDoc),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 404, description = "`entity_not_found`", body = ErrorBody),
    )
)]
pub async fn get_entity(State(state): State<AppState>, ApiPath(id): ApiPath<String>) -> Result<Json<Entity>, ApiError> {
    // The engine checks the id.
    state
        .blocking(move |engine| match engine.get(&id)? {
            Some(entity) => Ok(Json(entity)),
            None => Err(ApiError::entity_not_found(&id)),
        })
        .await
}

/// Delete one entity.
#[utoipa::path(
    delete,
    path = "/v1/catalog/{id}",
    tag = "catalog",
    params(("id" = String, Path, description = "Entity id")),
    responses(
        (status = 200, description = "Deleted", body = DeleteResponse),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 404, description = "`entity_not_found`", body = ErrorBody),
    )
)]
pub async fn delete_entity(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<DeleteResponse>, ApiError> {
    // The engine checks the id.
    state
        .blocking(move |engine| {
            if engine.delete(&id)? {
                Ok(Json(DeleteResponse { deleted: true, id }))
            } else {
                Err(ApiError::entity_not_found(&id))
            }
        })
        .await
}

/// Catalog counts.
#[utoipa::path(
    get,
    path = "/v1/stats",
    tag = "catalog",
    responses(
        (status = 200, description = "Counts", body = CatalogStats),
        (status = 503, description = "`unavailable`", body = ErrorBody),
    )
)]
pub async fn stats(State(state): State<AppState>) -> Result<Json<CatalogStats>, ApiError> {
    state.blocking(|engine| Ok(Json(engine.stats()?))).await
}
