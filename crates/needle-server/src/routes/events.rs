//! `POST /v1/events`: listening events in durable batches.

use super::ApiBytes;
use crate::body::ingest_batch;
use crate::error::{ApiError, ErrorBody};
use crate::openapi::EventDoc;
use crate::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use needle_search::EventReport;

/// Record listening events (plays, skips, saves, follows, search clicks) and search
/// events (`click` on a result of a `search_id`, `search` logged by a client; `user_id`
/// optional for these two; schema `SearchEvent`).
///
/// The body is a JSON array of events, or NDJSON (one event per line) when the content
/// type is `application/x-ndjson` or the body does not start with `[`, exactly as for
/// `POST /v1/catalog`. Events are validated one by one: bad ones are listed in `rejected`
/// (by 0-based index; for NDJSON, line number - 1) and do not affect the others. The
/// answer comes once the accepted events are on disk; an `event_id` already seen for the
/// same listener is counted in `duplicates` and not applied twice.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "events",
    request_body(
        description = "Events `{event_id?, user_id, type, item_id, ts, ms_played?, count?, context?}`.",
        content(
            (Vec<EventDoc> = "application/json"),
            (EventDoc = "application/x-ndjson"),
        )
    ),
    responses(
        (status = 200, description = "Accepted events are durable; duplicates were already stored; rejected ones are listed with reasons.", body = EventReport),
        (status = 400, description = "`empty_batch`, `invalid_json` (JSON array body)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`, `batch_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<EventReport>, ApiError> {
    let key = super::cluster::idempotency_key(&headers)?;
    let report: EventReport = ingest_batch(&state, &headers, body, move |svc, values| {
        Ok(svc.ingest_events_keyed(values, key)?)
    })
    .await?;
    state
        .metrics()
        .record_events(report.accepted, report.duplicates, report.rejected.len());
    Ok(Json(report))
}
