//! Recommendation surfaces: `GET /v1/users/{id}/recommendations`,
//! `GET /v1/items/{id}/similar`, `POST /v1/recommendations/continue`, and DJ-style sessions
//! (`POST /v1/users/{id}/sessions`, `GET /v1/sessions/{sid}/next`).

use super::query::{self, StrictQuery};
use super::{ApiPath, JsonBytes};
use crate::auth::Principal;
use crate::codes::Code;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use needle_core::validate::{self, check_id};
use needle_core::EntityType;
use needle_core::ValidationError;
use needle_recs::serve::session::SessionInfo;
use needle_recs::serve::{RecRequest, Recommendations, SeedRequest, Surface};
use serde::Deserialize;

/// Default number of items.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 100;
/// Most seeds in a `continue` request.
pub const MAX_SEEDS: usize = 100;

/// Query parameters of `GET /v1/users/{id}/recommendations`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RecParams {
    /// `for_you` (default), `discover`, `release_radar`, `podcasts` or `daily_mix`.
    #[serde(default, deserialize_with = "query::parsed")]
    #[param(value_type = Option<String>)]
    pub surface: Option<Surface>,
    /// Comma-separated entity types (default: the surface's own).
    #[serde(default, deserialize_with = "query::types")]
    #[param(value_type = Option<String>)]
    pub types: Option<Vec<EntityType>>,
    /// Items, 1 to 100 (default 20; per mix for `daily_mix`).
    #[serde(default, deserialize_with = "query::count")]
    pub limit: Option<usize>,
    /// ISO 3166-1 alpha-2 market: only items available there.
    #[serde(default, deserialize_with = "query::trimmed")]
    pub market: Option<String>,
    /// `false` leaves explicit items out (default `true`).
    #[serde(default, deserialize_with = "query::flag")]
    pub explicit: Option<bool>,
    /// `discover` only, 0 to 1 (default `recs.discover_discovery`, 0): how far to trade
    /// accuracy for less-listened items. 0 ranks by taste alone; 1 weighs the taste rank
    /// and a rank from the least listened equally, over a pool three times wider.
    /// Measured in docs/recommendations.md.
    #[serde(default, deserialize_with = "query::parsed")]
    pub discovery: Option<f32>,
}

/// Query parameters of `GET /v1/items/{id}/similar`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SimilarParams {
    /// Comma-separated entity types (default: the item's own type).
    #[serde(default, deserialize_with = "query::types")]
    #[param(value_type = Option<String>)]
    pub types: Option<Vec<EntityType>>,
    /// Items, 1 to 100 (default 20).
    #[serde(default, deserialize_with = "query::count")]
    pub limit: Option<usize>,
    /// ISO 3166-1 alpha-2 market: only items available there.
    #[serde(default, deserialize_with = "query::trimmed")]
    pub market: Option<String>,
    /// `false` leaves explicit items out (default `true`).
    #[serde(default, deserialize_with = "query::flag")]
    pub explicit: Option<bool>,
}

/// Query parameters of `GET /v1/sessions/{sid}/next`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct NextParams {
    /// Items, 1 to 100 (default 20).
    #[serde(default, deserialize_with = "query::count")]
    pub limit: Option<usize>,
}

/// `limit` in 1..=[`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
fn limit(n: Option<usize>) -> Result<usize, ValidationError> {
    n.map_or(Ok(DEFAULT_LIMIT), |n| validate::limit("limit", n, MAX_LIMIT))
}

/// `market`, upper-cased, when given.
fn market(m: Option<&str>) -> Result<Option<String>, ValidationError> {
    m.map(validate::market_param).transpose()
}

/// A listener's recommendations on one surface.
///
/// `for_you`: the best items of the requested types the listener has not played.
/// `discover`: a weekly mix of never-played tracks, at most `recs.discover_per_artist` per
/// artist, stable through the week. `release_radar`: new releases from artists the listener
/// follows or loves. `podcasts`: new episodes of followed shows, then shows to try.
/// `daily_mix`: a few mixes (`mixes`), each around one cluster of the listener's taste.
/// A listener without history gets what is popular (in `market` when given). Every item
/// says why (`reason`).
#[utoipa::path(
    get,
    path = "/v1/users/{id}/recommendations",
    tag = "recommendations",
    params(("id" = String, Path, description = "Listener id"), RecParams),
    responses(
        (status = 200, description = "Recommendations", body = Recommendations),
        (status = 400, description = "`invalid_id`, `invalid_parameter`", body = ErrorBody),
        (status = 503, description = "`model_not_ready`: no model trained yet; `model_loading`: the model loads after a restart (`Retry-After`)", body = ErrorBody),
    )
)]
pub async fn recommendations(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    StrictQuery(p): StrictQuery<RecParams>,
) -> Result<Json<Recommendations>, ApiError> {
    check_id(&id, "user_id")?;
    let req = RecRequest {
        surface: p.surface.unwrap_or(Surface::ForYou),
        types: p.types,
        limit: limit(p.limit)?,
        market: market(p.market.as_deref())?,
        explicit: p.explicit.unwrap_or(true),
        now_ms: None,
        discovery: p.discovery,
    };
    state.blocking(move |svc| Ok(Json(svc.recommend(&id, &req)?))).await
}

/// Items like this one: radio from a track, related artists from an artist, similar shows
/// from a show. `types` defaults to the item's own type.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/similar",
    tag = "recommendations",
    params(("id" = String, Path, description = "Catalog id"), SimilarParams),
    responses(
        (status = 200, description = "Similar items", body = Recommendations),
        (status = 400, description = "`invalid_id`, `invalid_parameter`", body = ErrorBody),
        (status = 404, description = "`item_not_found`", body = ErrorBody),
        (status = 503, description = "`model_not_ready`, `model_loading` (`Retry-After`)", body = ErrorBody),
    )
)]
pub async fn similar(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    StrictQuery(p): StrictQuery<SimilarParams>,
) -> Result<Json<Recommendations>, ApiError> {
    check_id(&id, "id")?;
    let req = SeedRequest {
        types: p.types,
        limit: limit(p.limit)?,
        market: market(p.market.as_deref())?,
        explicit: p.explicit.unwrap_or(true),
    };
    state.blocking(move |svc| Ok(Json(svc.similar(&id, &req)?))).await
}

/// Body of `POST /v1/recommendations/continue`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinueBody {
    /// The playlist or session so far (1 to 100 catalog ids).
    pub seed_ids: Vec<String>,
    /// Entity types to return (default: the seeds' types).
    #[serde(default)]
    pub types: Option<Vec<EntityType>>,
    /// Items, 1 to 100 (default 20).
    #[serde(default)]
    pub limit: Option<usize>,
    /// ISO 3166-1 alpha-2 market.
    #[serde(default)]
    pub market: Option<String>,
    /// `false` leaves explicit items out (default `true`).
    #[serde(default)]
    pub explicit: Option<bool>,
}

fn parse_body<T: for<'de> Deserialize<'de>>(bytes: &[u8], allow_empty: bool) -> Result<Option<T>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if allow_empty {
            return Ok(None);
        }
        return Err(ApiError::new(
            Code::InvalidBody,
            "the request body is empty; expected a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("invalid JSON body: {e}")))
}

/// Continue a playlist or a session from seed items; works for anonymous listeners.
#[utoipa::path(
    post,
    path = "/v1/recommendations/continue",
    tag = "recommendations",
    request_body = ContinueBody,
    responses(
        (status = 200, description = "What goes well next", body = Recommendations),
        (status = 400, description = "`invalid_json`, `invalid_body`, `invalid_parameter`, `invalid_id`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: a body that is not `application/json`", body = ErrorBody),
        (status = 503, description = "`model_not_ready`, `model_loading` (`Retry-After`)", body = ErrorBody),
    )
)]
pub async fn continue_from(
    State(state): State<AppState>,
    JsonBytes(bytes): JsonBytes,
) -> Result<Json<Recommendations>, ApiError> {
    let body: ContinueBody =
        parse_body(&bytes, false)?.ok_or_else(|| ApiError::invalid_parameter("seed_ids", "missing"))?;
    if body.seed_ids.is_empty() || body.seed_ids.len() > MAX_SEEDS {
        return Err(ApiError::invalid_parameter(
            "seed_ids",
            format!("must hold 1 to {MAX_SEEDS} ids, got {}", body.seed_ids.len()),
        ));
    }
    for (i, s) in body.seed_ids.iter().enumerate() {
        check_id(s, &format!("seed_ids[{i}]"))?;
    }
    let req = SeedRequest {
        types: body.types.filter(|t| !t.is_empty()),
        limit: limit(body.limit)?,
        market: market(body.market.as_deref())?,
        explicit: body.explicit.unwrap_or(true),
    };
    let seeds = body.seed_ids;
    state
        .blocking(move |svc| Ok(Json(svc.continue_from(&seeds, &req)?)))
        .await
}

/// Body of `POST /v1/users/{id}/sessions` (optional).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// Entity types the session plays (default `["track"]`).
    #[serde(default)]
    pub types: Option<Vec<EntityType>>,
    /// ISO 3166-1 alpha-2 market.
    #[serde(default)]
    pub market: Option<String>,
    /// `false` leaves explicit items out (default `true`).
    #[serde(default)]
    pub explicit: Option<bool>,
}

/// Start a DJ-style session for a listener. Post plays and skips as events while it runs:
/// the next `GET /v1/sessions/{sid}/next` takes them into account at once.
#[utoipa::path(
    post,
    path = "/v1/users/{id}/sessions",
    tag = "recommendations",
    params(("id" = String, Path, description = "Listener id")),
    request_body = SessionBody,
    responses(
        (status = 201, description = "The session", body = SessionInfo),
        (status = 400, description = "`invalid_id`, `invalid_json`, `invalid_parameter`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: a body that is not `application/json`", body = ErrorBody),
        (status = 503, description = "`shared_state_unavailable` (sessions on Redis unreachable; `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn start_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    JsonBytes(bytes): JsonBytes,
) -> Result<(StatusCode, Json<SessionInfo>), ApiError> {
    check_id(&id, "user_id")?;
    let body: SessionBody = parse_body(&bytes, true)?.unwrap_or_default();
    let market = market(body.market.as_deref())?;
    let types = body.types.filter(|t| !t.is_empty());
    let explicit = body.explicit.unwrap_or(true);
    let info = state
        .blocking(move |svc| Ok(svc.recs().start_session(&id, types, market, explicit)?))
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// The next items of a session: familiar favourites alternating with discoveries, steered
/// by what was played and skipped since the session started.
#[utoipa::path(
    get,
    path = "/v1/sessions/{sid}/next",
    tag = "recommendations",
    params(("sid" = String, Path, description = "Session id"), NextParams),
    responses(
        (status = 200, description = "Next items", body = Recommendations),
        (status = 400, description = "`invalid_id`, `invalid_parameter` (`limit` outside 1..100, an unknown parameter)", body = ErrorBody),
        (status = 404, description = "`session_not_found`", body = ErrorBody),
        (status = 409, description = "`session_exhausted`: the session served `recs.session_max_items` items; start a new one", body = ErrorBody),
        (status = 503, description = "`model_not_ready`, `model_loading`, `shared_state_unavailable` (sessions on Redis unreachable; `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn session_next(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    ApiPath(sid): ApiPath<String>,
    StrictQuery(p): StrictQuery<NextParams>,
) -> Result<Json<Recommendations>, ApiError> {
    check_id(&sid, "session_id")?;
    let limit = limit(p.limit)?;
    // The auth layer cannot see whose session this is; a listener token reads only its own.
    let listener = match principal {
        Some(Extension(Principal::Listener(claims))) => Some(claims.user_id.clone()),
        _ => None,
    };
    state
        .blocking(move |svc| {
            if let Some(user) = listener {
                if svc.recs().session_owner(&sid)?.is_some_and(|owner| owner != user) {
                    return Err(crate::auth::forbidden(
                        Code::ForbiddenListener,
                        "this listener token reads only its own listener's sessions",
                    ));
                }
            }
            Ok(Json(svc.session_next(&sid, limit)?))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;
    use crate::routes::query::parse_query;

    #[test]
    fn parameters_are_checked_by_name() {
        let p: RecParams =
            parse_query("surface=discover&types=track,album&limit=5&market=se&explicit=false").expect("valid");
        assert_eq!(p.surface, Some(Surface::Discover));
        assert_eq!(p.types, Some(vec![EntityType::Track, EntityType::Album]));
        assert_eq!(
            (limit(p.limit), market(p.market.as_deref())),
            (Ok(5), Ok(Some("SE".into())))
        );
        assert_eq!(p.explicit, Some(false));
        assert_eq!((limit(None), market(None)), (Ok(DEFAULT_LIMIT), Ok(None)));
        for (raw, param) in [
            ("surface=weekly", "surface"),
            ("types=song", "types"),
            ("explicit=maybe", "explicit"),
            ("limit=x", "limit"),
            ("limit=1&limit=2", "limit"),
            ("colour=red", "colour"),
        ] {
            let e = parse_query::<RecParams>(raw).expect_err(raw);
            assert_eq!(e.code, Code::InvalidParameter, "{raw}");
            assert!(e.message.contains(&format!("`{param}`")), "{raw}: {}", e.message);
        }
        let refused = [limit(Some(0)).err(), limit(Some(101)).err(), market(Some("SWE")).err()];
        for e in refused.into_iter().map(|e| ApiError::from(e.expect("refused"))) {
            assert_eq!(e.code, Code::InvalidParameter, "{}", e.message);
        }
        assert!(parse_query::<SimilarParams>("surface=discover").is_err());
        assert!(parse_query::<NextParams>("market=se").is_err());
    }
}
