//! `GET /v1/analytics/searches` and `GET /v1/analytics/items/{id}`: search analytics from
//! the rolling aggregates of the search log and click events (admin scope).

use super::query::{self, StrictQuery};
use super::ApiPath;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use needle_core::validate;
use needle_store::searchstats::{ItemReport, SearchesReport};
use serde::Deserialize;

/// Default queries per list.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 1000;

/// Query parameters of `GET /v1/analytics/searches`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchesParams {
    /// Start of the range (inclusive): RFC 3339 or epoch milliseconds. Default: 24 hours
    /// before `to`.
    #[serde(default, deserialize_with = "query::trimmed")]
    pub from: Option<String>,
    /// End of the range (exclusive): RFC 3339 or epoch milliseconds. Default: now.
    #[serde(default, deserialize_with = "query::trimmed")]
    pub to: Option<String>,
    /// Queries per list, 1 to 1000 (default 20).
    #[serde(default, deserialize_with = "query::count")]
    pub limit: Option<usize>,
}

/// Query parameters of `GET /v1/analytics/items/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ItemParams {
    /// Queries listed, 1 to 1000 (default 20).
    #[serde(default, deserialize_with = "query::count")]
    pub limit: Option<usize>,
}

fn limit(n: Option<usize>) -> Result<usize, ApiError> {
    Ok(n.map_or(Ok(DEFAULT_LIMIT), |n| validate::limit("limit", n, MAX_LIMIT))?)
}

/// A time parameter: epoch milliseconds or RFC 3339, within years 1970..3000.
fn time(param: &str, v: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    let ms = match v.parse::<i64>() {
        Ok(ms) => Some(ms),
        Err(_) => needle_core::event::parse_rfc3339(v),
    };
    match ms {
        Some(ms) if (0..=needle_core::event::MAX_TS_MS).contains(&ms) => Ok(Some(ms)),
        _ => Err(ApiError::invalid_parameter(
            param,
            format!("`{v}` is neither epoch milliseconds nor an RFC 3339 date-time within years 1970..3000"),
        )),
    }
}

impl SearchesParams {
    /// `(from, to, limit)`, checked.
    pub fn checked(&self) -> Result<(Option<i64>, Option<i64>, usize), ApiError> {
        let (from, to) = (time("from", self.from.as_deref())?, time("to", self.to.as_deref())?);
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                return Err(ApiError::invalid_parameter("from", "must be before `to`"));
            }
        }
        Ok((from, to, limit(self.limit)?))
    }
}

/// What was searched and clicked: totals, click-through rate and mean click position,
/// clicks by position, searches per hour, the top queries and the top queries that found
/// nothing.
///
/// Computed from rolling aggregates (hourly buckets, per-query daily counts, kept for
/// `search_analytics.window_days`), not by reading the log: per-query lists count whole
/// days. Searches the server answered reach them within about a second (the search log is
/// appended every 250 ms).
#[utoipa::path(
    get,
    path = "/v1/analytics/searches",
    tag = "analytics",
    params(SearchesParams),
    responses(
        (status = 200, description = "The analytics of the range", body = SearchesReport),
        (status = 400, description = "`invalid_parameter` naming `from`, `to` or `limit`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn searches(
    State(state): State<AppState>,
    StrictQuery(params): StrictQuery<SearchesParams>,
) -> Result<Json<SearchesReport>, ApiError> {
    let (from, to, limit) = params.checked()?;
    state
        .blocking(move |engine| Ok(Json(engine.search_analytics(from, to, limit)?)))
        .await
}

/// The queries that lead to an item: the queries in whose results it was clicked, with
/// clicks, distinct listeners, mean position and the click model's strength for it.
#[utoipa::path(
    get,
    path = "/v1/analytics/items/{id}",
    tag = "analytics",
    params(("id" = String, Path, description = "Entity id"), ItemParams),
    responses(
        (status = 200, description = "The queries (none when it was never clicked)", body = ItemReport),
        (status = 400, description = "`invalid_id`, `invalid_parameter`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn item(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    StrictQuery(params): StrictQuery<ItemParams>,
) -> Result<Json<ItemReport>, ApiError> {
    let limit = limit(params.limit)?;
    state
        .blocking(move |engine| Ok(Json(engine.item_analytics(&id, limit)?)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;
    use crate::routes::query::parse_query;

    fn checked(raw: &str) -> Result<(Option<i64>, Option<i64>, usize), ApiError> {
        parse_query::<SearchesParams>(raw)?.checked()
    }

    #[test]
    fn parameters_parse_and_errors_name_them() {
        assert_eq!(checked("").expect("ok"), (None, None, DEFAULT_LIMIT));
        assert_eq!(
            checked("from=1000&to=2024-05-01T12:00:00Z&limit=5").expect("ok"),
            (Some(1000), Some(1_714_564_800_000), 5)
        );
        for (raw, name) in [
            ("from=yesterday", "`from`"),
            ("to=-5", "`to`"),
            ("from=5&to=5", "`from`"),
            ("limit=0", "`limit`"),
            ("limit=1001", "`limit`"),
            ("since=1", "`since`"),
        ] {
            let e = checked(raw).unwrap_err();
            assert_eq!(e.code, Code::InvalidParameter, "{raw}");
            assert!(e.message.contains(name), "{raw}: {}", e.message);
        }
    }
}
