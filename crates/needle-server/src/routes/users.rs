//! `GET /v1/users/{id}/profile`, `GET /v1/users/{id}/history`, `DELETE /v1/users/{id}`.

use super::ApiPath;
use crate::codes::Code;
use crate::error::{ApiError, ErrorBody};
use crate::openapi::{HistoryResponse, UserDeleted};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::Json;
use needle_core::profile::RECENT_LEN;
use needle_core::validate::check_id;
use needle_search::ProfileView;

/// Default number of affinities per kind in a profile.
pub const DEFAULT_TOP: usize = 10;
/// Largest `top`.
pub const MAX_TOP: usize = 100;
/// Default number of events in a history.
pub const DEFAULT_HISTORY: usize = 50;
/// Largest `limit` of a history (the events kept per listener).
pub const MAX_HISTORY: usize = RECENT_LEN;

/// Query parameters of `GET /v1/users/{id}/profile`.
#[derive(Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ProfileParams {
    /// Affinities listed per kind (artists, shows, audiobooks, tags, items), 1 to 100 (default 10).
    top: Option<usize>,
}

/// Query parameters of `GET /v1/users/{id}/history`.
#[derive(Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HistoryParams {
    /// Events returned, newest first, 1 to 200 (default 50).
    limit: Option<usize>,
}

/// A listener's taste profile: top affinities with scores and why.
///
/// Scores are decayed to now (see `half_life_days`) and normalised per kind to [-1, 1];
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
    RawQuery(raw): RawQuery,
) -> Result<Json<ProfileView>, ApiError> {
    check_id(&id, "user_id")?;
    let top = single_count(raw.as_deref(), "top", DEFAULT_TOP, MAX_TOP)?;
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
    RawQuery(raw): RawQuery,
) -> Result<Json<HistoryResponse>, ApiError> {
    check_id(&id, "user_id")?;
    let limit = single_count(raw.as_deref(), "limit", DEFAULT_HISTORY, MAX_HISTORY)?;
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
    check_id(&id, "user_id")?;
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

/// Parse a query string that may carry only `name` (a count in `1..=max`); unknown and
/// repeated parameters are refused, an empty value counts as absent.
pub fn single_count(raw: Option<&str>, name: &'static str, default: usize, max: usize) -> Result<usize, ApiError> {
    let mut value: Option<usize> = None;
    let mut seen = false;
    for (key, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if key != name {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("unknown parameter `{key}`; expected `{name}`"),
            ));
        }
        if std::mem::replace(&mut seen, true) {
            return Err(ApiError::invalid_parameter(name, "given more than once"));
        }
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let n: usize = v
            .parse()
            .map_err(|_| ApiError::invalid_parameter(name, format!("`{v}` is not a non-negative integer")))?;
        if !(1..=max).contains(&n) {
            return Err(ApiError::invalid_parameter(
                name,
                format!("must be between 1 and {max}, got {n}"),
            ));
        }
        value = Some(n);
    }
    Ok(value.unwrap_or(default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(single_count(None, "top", 10, 100).ok(), Some(10));
        assert_eq!(single_count(Some(""), "top", 10, 100).ok(), Some(10));
        assert_eq!(single_count(Some("top="), "top", 10, 100).ok(), Some(10));
        assert_eq!(single_count(Some("top=3"), "top", 10, 100).ok(), Some(3));
        for (raw, needle) in [
            ("top=0", "`top`"),
            ("top=101", "`top`"),
            ("top=x", "`top`"),
            ("top=-1", "`top`"),
            ("top=1&top=2", "`top`"),
            ("limit=5", "`limit`"),
        ] {
            let e = single_count(Some(raw), "top", 10, 100).unwrap_err();
            assert_eq!(e.code, Code::InvalidParameter, "{raw}");
            assert!(e.message.contains(needle), "{raw}: {}", e.message);
        }
    }
}
