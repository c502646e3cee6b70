//! Recommendation surfaces: `GET /v1/users/{id}/recommendations`,
//! `GET /v1/items/{id}/similar`, `POST /v1/recommendations/continue`, and DJ-style sessions
//! (`POST /v1/users/{id}/sessions`, `GET /v1/sessions/{sid}/next`).

use super::{ApiBytes, ApiPath};
use crate::auth::Principal;
use crate::codes::Code;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use needle_core::validate::check_id;
use needle_core::EntityType;
use needle_recs::serve::session::SessionInfo;
use needle_recs::serve::{RecRequest, Recommendations, SeedRequest, Surface};
use serde::Deserialize;

/// Default number of items.
pub const DEFAULT_LIMIT: usize = 20;
/// Largest `limit`.
pub const MAX_LIMIT: usize = 100;
/// Most seeds in a `continue` request.
pub const MAX_SEEDS: usize = 100;

/// Query parameters of the recommendation endpoints.
#[derive(Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RecParams {
    /// `for_you` (default), `discover`, `release_radar`, `podcasts` or `daily_mix`
    /// (`/v1/users/{id}/recommendations` only).
    surface: Option<String>,
    /// Comma-separated entity types (default: the surface's own).
    types: Option<String>,
    /// Items, 1 to 100 (default 20; per mix for `daily_mix`).
    limit: Option<usize>,
    /// ISO 3166-1 alpha-2 market: only items available there.
    market: Option<String>,
    /// `false` leaves explicit items out (default `true`).
    explicit: Option<bool>,
}

/// Parsed common parameters.
struct Common {
    surface: Option<Surface>,
    types: Option<Vec<EntityType>>,
    limit: usize,
    market: Option<String>,
    explicit: bool,
}

fn parse_params(raw: Option<&str>, allowed: &[&'static str]) -> Result<Common, ApiError> {
    let mut out = Common {
        surface: None,
        types: None,
        limit: DEFAULT_LIMIT,
        market: None,
        explicit: true,
    };
    let mut seen: Vec<String> = Vec::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        let Some(&name) = allowed.iter().find(|p| **p == key) else {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("unknown parameter `{key}`; expected one of {}", allowed.join(", ")),
            ));
        };
        if seen.iter().any(|s| s == name) {
            return Err(ApiError::invalid_parameter(name, "given more than once"));
        }
        seen.push(name.to_string());
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match name {
            "surface" => {
                out.surface = Some(
                    value
                        .parse()
                        .map_err(|m: String| ApiError::invalid_parameter("surface", m))?,
                )
            }
            "types" => out.types = Some(parse_types(value)?),
            "limit" => out.limit = parse_limit(value)?,
            "market" => out.market = Some(parse_market(value)?),
            "explicit" => {
                out.explicit = match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => {
                        return Err(ApiError::invalid_parameter(
                            "explicit",
                            format!("`{other}` is not `true` or `false`"),
                        ))
                    }
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn parse_types(list: &str) -> Result<Vec<EntityType>, ApiError> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let t: EntityType = part
            .to_ascii_lowercase()
            .parse()
            .map_err(|m: String| ApiError::invalid_parameter("types", m))?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out)
}

fn parse_limit(v: &str) -> Result<usize, ApiError> {
    let n: usize = v
        .parse()
        .map_err(|_| ApiError::invalid_parameter("limit", format!("`{v}` is not a non-negative integer")))?;
    if !(1..=MAX_LIMIT).contains(&n) {
        return Err(ApiError::invalid_parameter(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}, got {n}"),
        ));
    }
    Ok(n)
}

fn parse_market(m: &str) -> Result<String, ApiError> {
    if m.len() != 2 || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::invalid_parameter(
            "market",
            format!("`{m}` is not an ISO 3166-1 alpha-2 country code (e.g. `US`)"),
        ));
    }
    Ok(m.to_ascii_uppercase())
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
        (status = 503, description = "`model_not_ready`: no model trained yet", body = ErrorBody),
    )
)]
pub async fn recommendations(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Recommendations>, ApiError> {
    check_id(&id, "user_id")?;
    let p = parse_params(raw.as_deref(), &["surface", "types", "limit", "market", "explicit"])?;
    let req = RecRequest {
        surface: p.surface.unwrap_or(Surface::ForYou),
        types: p.types,
        limit: p.limit,
        market: p.market,
        explicit: p.explicit,
        now_ms: None,
    };
    state
        .recs_blocking(move |recs, source| Ok(Json(recs.recommend(source, &id, &req)?)))
        .await
}

/// Items like this one: radio from a track, related artists from an artist, similar shows
/// from a show. `types` defaults to the item's own type.
#[utoipa::path(
    get,
    path = "/v1/items/{id}/similar",
    tag = "recommendations",
    params(("id" = String, Path, description = "Catalog id"), RecParams),
    responses(
        (status = 200, description = "Similar items", body = Recommendations),
        (status = 400, description = "`invalid_id`, `invalid_parameter`", body = ErrorBody),
        (status = 404, description = "`item_not_found`", body = ErrorBody),
        (status = 503, description = "`model_not_ready`", body = ErrorBody),
    )
)]
pub async fn similar(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Recommendations>, ApiError> {
    check_id(&id, "id")?;
    let p = parse_params(raw.as_deref(), &["types", "limit", "market", "explicit"])?;
    let req = SeedRequest {
        types: p.types,
        limit: p.limit,
        market: p.market,
        explicit: p.explicit,
    };
    state
        .recs_blocking(move |recs, source| Ok(Json(recs.similar(source, &id, &req)?)))
        .await
}

/// Body of `POST /v1recommendations/continue`.
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
        (status = 400, description = "`invalid_json`, `invalid_parameter`", body = ErrorBody),
        (status = 503, description = "`model_not_ready`", body = ErrorBody),
    )
)]
pub async fn continue_from(
    State(state): State<AppState>,
    ApiBytes(bytes): ApiBytes,
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
    let limit = match body.limit {
        None => DEFAULT_LIMIT,
        Some(n) => parse_limit(&n.to_string())?,
    };
    let req = SeedRequest {
        types: body.types.filter(|t| !t.is_empty()),
        limit,
        market: body.market.as_deref().map(parse_market).transpose()?,
        explicit: body.explicit.unwrap_or(true),
    };
    let seeds = body.seed_ids;
    state
        .recs_blocking(move |recs, source| Ok(Json(recs.continue_from(source, &seeds, &req)?)))
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
    )
)]
pub async fn start_session(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    ApiBytes(bytes): ApiBytes,
) -> Result<(StatusCode, Json<SessionInfo>), ApiError> {
    check_id(&id, "user_id")?;
    let body: SessionBody = parse_body(&bytes, true)?.unwrap_or_default();
    let market = body.market.as_deref().map(parse_market).transpose()?;
    let types = body.types.filter(|t| !t.is_empty());
    let info = state
        .recs()
        .start_session(&id, types, market, body.explicit.unwrap_or(true));
    Ok((StatusCode::CREATED, Json(info)))
}

/// The next items of a session: familiar favourites alternating with discoveries, steered
/// by what was played and skipped since the session started.
#[utoipa::path(
    get,
    path = "/v1/sessions/{sid}/next",
    tag = "recommendations",
    params(("sid" = String, Path, description = "Session id"), ("limit" = Option<usize>, Query, description = "Items, 1 to 100 (default 20)")),
    responses(
        (status = 200, description = "Next items", body = Recommendations),
        (status = 404, description = "`session_not_found`", body = ErrorBody),
        (status = 503, description = "`model_not_ready`", body = ErrorBody),
    )
)]
pub async fn session_next(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    ApiPath(sid): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Recommendations>, ApiError> {
    check_id(&sid, "session_id")?;
    let p = parse_params(raw.as_deref(), &["limit"])?;
    // The auth layer cannot see whose session this is; a listener token reads only its own.
    if let Some(Extension(Principal::Listener(claims))) = &principal {
        if state
            .recs()
            .session_owner(&sid)
            .is_some_and(|owner| owner != claims.user_id)
        {
            return Err(crate::auth::forbidden(
                Code::ForbiddenListener,
                "this listener token reads only its own listener's sessions",
            ));
        }
    }
    state
        .recs_blocking(move |recs, source| Ok(Json(recs.session_next(source, &sid, p.limit)?)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_by_name() {
        let all = ["surface", "types", "limit", "market", "explicit"];
        let p = parse_params(
            Some("surface=discover&types=track,album&limit=5&market=se&explicit=false"),
            &all,
        )
        .expect("valid");
        assert_eq!(p.surface, Some(Surface::Discover));
        assert_eq!(p.types, Some(vec![EntityType::Track, EntityType::Album]));
        assert_eq!((p.limit, p.market.as_deref(), p.explicit), (5, Some("SE"), false));
        for (raw, param) in [
            ("surface=weekly", "surface"),
            ("types=song", "types"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("market=SWE", "market"),
            ("explicit=maybe", "explicit"),
            ("limit=1&limit=2", "limit"),
            ("colour=red", "colour"),
        ] {
            let e = parse_params(Some(raw), &all).err().expect(raw);
            assert!(e.message.contains(&format!("`{param}`")), "{raw}: {}", e.message);
        }
    }
}
