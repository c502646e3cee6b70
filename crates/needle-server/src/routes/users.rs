//! `GET /v1/users/{id}/profile`, `GET /v1/users/{id}/history`, `DELETE /v1/users/{id}`.

use super::query::{self, StrictQuery};
use super::ApiPath;
use crate::codes::Code;
use crate::error::{ApiError, ErrorBody};
use crate::openapi::{HistoryResponse, UserDeleted};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use needle_core::profile::RECENT_LEN;
use needle_core::validate;
use needle_search::ProfileView;
use serde::Deserialize;

/// Default number of affinities per kind in a profile.
pub const DEFAULT_TOP: usize = 10;
/// Largest `top`.
pub const MAX_TOP: usize = 100;
/// Default number of events in a history.
pub const DEFAULT_HISTORY: usize = 50;
/// Largest `limit` of a history (the events kept per listener).
pub const MAX_HISTORY: usize = RECENT_LEN;

/// Query parameters of `GET /v1/users/{id}/profile`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProfileParams {
    /// Affinities listed per kind (artists, shows, audiobooks, tags, items), 1 to 100 (default 10).
    #[serde(default, deserialize_with = "query::count")]
    pub top: Option<usize>,
}

impl ProfileParams {
    /// `top`, checked, or the default.
    pub fn top(&self) -> Result<usize, ApiError> {
        Ok(self
            .top
            .map_or(Ok(DEFAULT_TOP), |n| validate::limit("top", n, MAX_TOP))?)
    }
}

/// Query parameters of `GET /v1/users/{id}/history`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// Events returned, newest first, 1 to 200 (default 50).
    #[serde(default, deserialize_with = "query::count")]
    pub limit: Option<usize>,
}

impl HistoryParams {
    /// `limit`, checked, or the default.
    pub fn limit(&self) -> Result<usize, ApiError> {
        Ok(self
            .limit
            .map_or(Ok(DEFAULT_HISTORY), |n| validate::limit("limit", n, MAX_HISTORY))?)
    }
}

/// A listener's taste profile: top affinities with scores and why.
///
/// Scores blend short-term and long-term taste (`half_life_days`, `long_half_life_days`,
/// `long_term_weight`), each decayed to now and normalised per kind to [-1, 1];
/// `why` says which events made them. The profile reflects every acknowledged event
/// (it is updated before `POST /v1/events` answers).
#[utoipa::path(
    get,
    path = "/v1/users/{id}/profile",
    tag = "users",
    params(("id" = String, Path, description = "Listener id (`user_id` of the events)"), ProfileParams),
    responses(
        (status = 200, description = "The profile", body = ProfileView),
        (status = 400, description = "`invalid_id`, `invalid_parameter`", body = ErrorBody),
        (status = 404, description = "`user_not_found`: no events for this listener", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn profile(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    StrictQuery(params): StrictQuery<ProfileParams>,
) -> Result<Json<ProfileView>, ApiError> {
    // The engine checks the listener id.
    let top = params.top()?;
    state
        .blocking(move |engine| match engine.profile(&id, top)? {
            Some(p) => Ok(Json(p)),
            None => Err(user_not_found(&id)),
        })
        .await
}

/// A listener's most recent events, newest first (the last 200 are kept).
#[utoipa::path(
    get,
    path = "/v1/users/{id}/history",
    tag = "users",
    params(("id" = String, Path, description = "Listener id"), HistoryParams),
    responses(
        (status = 200, description = "Recent events", body = HistoryResponse),
        (status = 400, description = "`invalid_id`, `invalid_parameter`", body = ErrorBody),
        (status = 404, description = "`user_not_found`: no events for this listener", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    StrictQuery(params): StrictQuery<HistoryParams>,
) -> Result<Json<HistoryResponse>, ApiError> {
    // The engine checks the listener id.
    let limit = params.limit()?;
    state
        .blocking(move |engine| match engine.history(&id, limit)? {
            Some(events) => Ok(Json(HistoryResponse { user_id: id, events })),
            None => Err(user_not_found(&id)),
        })
        .await
}

/// Erase a listener for good: every stored event and the profile (right to be forgotten).
///
/// Idempotent: erasing a listener without events answers `deleted_events: 0`. The events
/// are removed from the durable log before the answer, so they do not come back on restart.
#[utoipa::path(
    delete,
    path = "/v1/users/{id}",
    tag = "users",
    params(("id" = String, Path, description = "Listener id")),
    responses(
        (status = 200, description = "Erased; `deleted_events` counts the events removed", body = UserDeleted),
        (status = 400, description = "`invalid_id`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn delete_user(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<UserDeleted>, ApiError> {
    // The engine checks the listener id.
    state
        .blocking(move |engine| {
            let deleted_events = engine.delete_user(&id)?;
            Ok(Json(UserDeleted {
                user_id: id,
                deleted_events,
            }))
        })
        .await
}

/// `404 user_not_found`.
pub fn user_not_found(id: &str) -> ApiError {
    ApiError::new(Code::UserNotFound, format!("listener `{id}` has no events"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::query::parse_query;

    #[test]
    fn counts() {
        let top = |raw: &str| parse_query::<ProfileParams>(raw).and_then(|p| p.top());
        assert_eq!(top("").ok(), Some(DEFAULT_TOP));
        assert_eq!(top("top=").ok(), Some(DEFAULT_TOP));
        assert_eq!(top("top=3").ok(), Some(3));
        for (raw, needle) in [
            ("top=0", "`top`"),
            ("top=101", "`top`"),
            ("top=x", "`top`"),
            ("top=-1", "`top`"),
            ("top=1&top=2", "`top`"),
            ("limit=5", "`limit`"),
        ] {
            let e = top(raw).unwrap_err();
            assert_eq!(e.code, Code::InvalidParameter, "{raw}");
            assert!(e.message.contains(needle), "{raw}: {}", e.message);
        }
        let limit = |raw: &str| parse_query::<HistoryParams>(raw).and_then(|p| p.limit());
        assert_eq!(limit("").ok(), Some(DEFAULT_HISTORY));
        assert_eq!(limit("limit=200").ok(), Some(200));
        assert!(limit("limit=201").is_err() && limit("top=3").is_err());
    }
}
