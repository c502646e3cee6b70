//! `GET /v1/search`: query-string parsing (strict, with errors naming the parameter) and
//! the engine call.

use crate::codes::Code;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::Json;
use needle_core::EntityType;
use needle_search::{SearchRequest, SearchResponse, DEFAULT_LIMIT, MAX_LIMIT, MAX_QUERY_BYTES, MAX_WINDOW};

/// Longest accepted `filter` expression, bytes.
pub const MAX_FILTER_BYTES: usize = 4096;

/// Query parameters of `GET /v1/search` (documentation; parsing is [`parse_query`]).
#[derive(Debug, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchParams {
    /// Query text, as typed; the last word counts as a prefix. At most 512 bytes.
    q: Option<String>,
    /// Comma-separated entity types to search (default all), e.g. `track,album`.
    types: Option<String>,
    /// Number of hits, 1 to 100 (default 10).
    limit: Option<usize>,
    /// Hits to skip (default 0); `offset + limit` must be at most 1000.
    offset: Option<usize>,
    /// Filter expression, e.g. `tag:rock AND year:1990..1999 AND explicit:false`.
    filter: Option<String>,
    /// ISO 3166-1 alpha-2 market: only items available there.
    market: Option<String>,
    /// Listener to personalize for.
    user_id: Option<String>,
}

/// The parameter names accepted.
pub const PARAMS: &[&str] = &["q", "types", "limit", "offset", "filter", "market", "user_id"];

/// Search the catalog.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Ranked hits, the top result and per-type sections", body = SearchResponse),
        (status = 400, description = "`invalid_parameter`, `query_too_long`, `invalid_filter`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn search(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Result<Json<SearchResponse>, ApiError> {
    let req = parse_query(raw.as_deref().unwrap_or(""))?;
    state.blocking(move |engine| Ok(Json(engine.search(&req)?))).await
}

/// Parse and check the query string of a search. Unknown and repeated parameters are
/// refused; empty values count as absent.
pub fn parse_query(raw: &str) -> Result<SearchRequest, ApiError> {
    let mut seen: Vec<&'static str> = Vec::new();
    let mut values: [Option<String>; 7] = Default::default();
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        let Some(pos) = PARAMS.iter().position(|p| *p == key) else {
            return Err(ApiError::new(
                Code::InvalidParameter,
                format!("unknown parameter `{key}`; expected one of {}", PARAMS.join(", ")),
            ));
        };
        let name = PARAMS[pos];
        if seen.contains(&name) {
            return Err(ApiError::invalid_parameter(name, "given more than once"));
        }
        seen.push(name);
        if !value.trim().is_empty() {
            values[pos] = Some(value.into_owned());
        }
    }
    let [q, types, limit, offset, filter, market, user_id] = values;

    let q = q.unwrap_or_default();
    if q.len() > MAX_QUERY_BYTES {
        return Err(ApiError::new(
            Code::QueryTooLong,
            format!(
                "parameter `q` is {} bytes long; the limit is {MAX_QUERY_BYTES}",
                q.len()
            ),
        ));
    }
    let types = match types {
        None => Vec::new(),
        Some(list) => parse_types(&list)?,
    };
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(v) => {
            let n = parse_count("limit", &v)?;
            if !(1..=MAX_LIMIT).contains(&n) {
                return Err(ApiError::invalid_parameter(
                    "limit",
                    format!("must be between 1 and {MAX_LIMIT}, got {n}"),
                ));
            }
            n
        }
    };
    let offset = match offset {
        None => 0,
        Some(v) => parse_count("offset", &v)?,
    };
    if offset.checked_add(limit).is_none_or(|end| end > MAX_WINDOW) {
        return Err(ApiError::invalid_parameter(
            "offset",
            format!("offset + limit must be at most {MAX_WINDOW} (got offset {offset}, limit {limit})"),
        ));
    }
    if let Some(f) = &filter {
        if f.len() > MAX_FILTER_BYTES {
            return Err(ApiError::invalid_parameter(
                "filter",
                format!("is longer than {MAX_FILTER_BYTES} bytes"),
            ));
        }
    }
    let market = match market {
        None => None,
        Some(m) => {
            let m = m.trim();
            if m.len() != 2 || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(ApiError::invalid_parameter(
                    "market",
                    format!("`{m}` is not an ISO 3166-1 alpha-2 country code (e.g. `US`)"),
                ));
            }
            Some(m.to_ascii_uppercase())
        }
    };
    if let Some(id) = &user_id {
        needle_core::validate::check_id(id, "user_id").map_err(|e| ApiError::new(Code::InvalidParameter, e.message))?;
    }
    Ok(SearchRequest {
        q,
        types,
        limit: Some(limit),
        offset: Some(offset),
        filter,
        market,
        user_id,
    })
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

fn parse_count(name: &str, value: &str) -> Result<usize, ApiError> {
    value
        .trim()
        .parse::<usize>()
        .map_err(|_| ApiError::invalid_parameter(name, format!("`{value}` is not a non-negative integer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(raw: &str) -> (String, String) {
        let e = parse_query(raw).unwrap_err();
        (e.code.to_string(), e.message)
    }

    #[test]
    fn defaults() {
        let r = parse_query("").expect("ok");
        assert_eq!((r.q.as_str(), r.limit, r.offset), ("", Some(10), Some(0)));
        assert!(r.types.is_empty() && r.filter.is_none() && r.market.is_none());
    }

    #[test]
    fn full() {
        let r = parse_query(
            "q=hello+world&types=track,%20Album,track&limit=5&offset=20&filter=tag%3Arock&market=gb&user_id=u1",
        )
        .expect("ok");
        assert_eq!(r.q, "hello world");
        assert_eq!(r.types, vec![EntityType::Track, EntityType::Album]);
        assert_eq!((r.limit, r.offset), (Some(5), Some(20)));
        assert_eq!(r.filter.as_deref(), Some("tag:rock"));
        assert_eq!(r.market.as_deref(), Some("GB"));
        assert_eq!(r.user_id.as_deref(), Some("u1"));
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases = [
            ("limit=abc", "invalid_parameter", "`limit`"),
            ("limit=0", "invalid_parameter", "`limit`"),
            ("limit=101", "invalid_parameter", "`limit`"),
            ("limit=-1", "invalid_parameter", "`limit`"),
            ("offset=x", "invalid_parameter", "`offset`"),
            ("offset=995", "invalid_parameter", "`offset`"),
            ("offset=18446744073709551615", "invalid_parameter", "`offset`"),
            ("types=track,song", "invalid_parameter", "`types`"),
            ("market=USA", "invalid_parameter", "`market`"),
            ("q=a&q=b", "invalid_parameter", "`q`"),
            ("colour=red", "invalid_parameter", "`colour`"),
            ("user_id=a%01b", "invalid_parameter", "`user_id`"),
        ];
        for (raw, code, needle) in cases {
            let (c, m) = err(raw);
            assert_eq!(c, code, "{raw}");
            assert!(m.contains(needle), "{raw}: {m}");
        }
        let long = format!("q={}", "a".repeat(MAX_QUERY_BYTES + 1));
        assert_eq!(err(&long).0, "query_too_long");
        assert!(parse_query(&format!("q={}", "a".repeat(MAX_QUERY_BYTES))).is_ok());
        assert!(parse_query("offset=990&limit=10").is_ok());
    }
}
