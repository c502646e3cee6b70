//! `GET /v1/search`: the strict query ([`SearchParams`]) and the engine call. The engine
//! checks the values (`q` length, `limit`, `offset`, `market`, `user_id`) with
//! `needle_core::validate`; this handler only parses them.

use super::query::{self, StrictQuery};
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use needle_core::EntityType;
use needle_search::{FacetField, SearchRequest, SearchResponse, Sort};
use serde::Deserialize;

/// Longest accepted `filter` expression, bytes (the engine's bound, checked here first so
/// the answer is `invalid_parameter` naming `filter` at any length beyond it).
pub const MAX_FILTER_BYTES: usize = needle_search::filter::MAX_FILTER_BYTES;

/// Query parameters of `GET /v1/search`. Unknown and repeated parameters are refused;
/// empty values count as absent.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Query text, as typed; the last word counts as a prefix. At most 512 bytes.
    #[serde(default, deserialize_with = "query::text")]
    pub q: Option<String>,
    /// Comma-separated entity types to search (default all), e.g. `track,album`.
    #[serde(default, deserialize_with = "query::types")]
    #[param(value_type = Option<String>)]
    pub types: Option<Vec<EntityType>>,
    /// Number of hits, 1 to 100 (default 10).
    #[serde(default, deserialize_with = "query::count")]
    pub limit: Option<usize>,
    /// Hits to skip (default 0); `offset + limit` must be at most 1000.
    #[serde(default, deserialize_with = "query::count")]
    pub offset: Option<usize>,
    /// Filter expression: `field:value` clauses (fields `type`, `tag`, `language`,
    /// `explicit`, `year`, `market`; alternatives with `|`) joined by `AND` (or `,`), `OR`,
    /// `NOT` and parentheses, e.g. `(tag:rock OR tag:pop) AND NOT explicit:true AND
    /// year:1990..1999`. What the grammar does not accept is `400 invalid_filter` naming
    /// the position.
    #[serde(default, deserialize_with = "query::text")]
    pub filter: Option<String>,
    /// ISO 3166-1 alpha-2 market: only items available there.
    #[serde(default, deserialize_with = "query::trimmed")]
    pub market: Option<String>,
    /// Listener to personalize for.
    #[serde(default, deserialize_with = "query::text")]
    pub user_id: Option<String>,
    /// Order: `relevance` (the default with a query), `popularity` (the default without:
    /// browsing; most popular first), `release_date` (newest first), `name` (A→Z), each
    /// but `relevance` optionally with `:asc` or `:desc`. With a query, a field sort
    /// orders its matches by the field, ties by relevance.
    #[serde(default, deserialize_with = "query::parsed")]
    #[param(value_type = Option<String>, example = "release_date:asc")]
    pub sort: Option<Sort>,
    /// Comma-separated facets to count over every match (not only the page): `type`,
    /// `tags`, `language`, `release_year`.
    #[serde(default, deserialize_with = "query::list")]
    #[param(value_type = Option<String>, example = "type,tags")]
    pub facets: Option<Vec<FacetField>>,
    /// Values per facet, the most frequent first: 1 to 100 (default 20).
    #[serde(default, deserialize_with = "query::count")]
    pub max_facet_values: Option<usize>,
    /// `true`: every hit carries `explain`, its score as parts (text score, exact bonus,
    /// popularity prior, name coverage, personal boost, click boost).
    #[serde(default, deserialize_with = "query::flag")]
    pub explain: Option<bool>,
    /// Retrieval: `auto` (the default: the semantic arm joins queries that read as a
    /// description and answers the keyword arm leaves (almost) empty, for podcasts and
    /// audiobooks), `keyword`, `hybrid` (both arms fused) or `semantic`. Hits whose name is
    /// the query stay on top in every mode. Without an embedding model, `hybrid` and
    /// `semantic` are `400 semantic_unavailable` and `auto` is keyword search.
    #[serde(default, deserialize_with = "query::parsed")]
    #[param(value_type = Option<String>, example = "hybrid")]
    pub mode: Option<needle_search::SearchMode>,
    /// Weight of the semantic arm when it joins: 0 (keyword only) to 1 (default 0.7, tuned on our labelled queries).
    #[serde(default, deserialize_with = "query::parsed")]
    #[param(value_type = Option<f32>, example = 0.7)]
    pub semantic_ratio: Option<f32>,
}

impl SearchParams {
    /// The engine's request (the engine applies defaults and checks the values).
    pub fn into_request(self) -> Result<SearchRequest, ApiError> {
        if let Some(f) = &self.filter {
            if f.len() > MAX_FILTER_BYTES {
                return Err(ApiError::invalid_parameter(
                    "filter",
                    format!("is longer than {MAX_FILTER_BYTES} bytes"),
                ));
            }
        }
        if let Some(r) = self.semantic_ratio {
            if !(0.0..=1.0).contains(&r) {
                return Err(ApiError::invalid_parameter(
                    "semantic_ratio",
                    format!("must be a number from 0 to 1, got {r}"),
                ));
            }
        }
        Ok(SearchRequest {
            q: self.q.unwrap_or_default(),
            types: self.types.unwrap_or_default(),
            limit: self.limit,
            offset: self.offset,
            filter: self.filter,
            market: self.market,
            user_id: self.user_id,
            sort: self.sort,
            facets: self.facets.unwrap_or_default(),
            max_facet_values: self.max_facet_values,
            explain: self.explain.unwrap_or(false),
            clicks: None,
            mode: self.mode.unwrap_or_default(),
            semantic_ratio: self.semantic_ratio,
        })
    }
}

/// Search the catalog, or browse it (no `q`: every entity the filters let through,
/// ordered by `sort`), with facet counts when asked for.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    params(SearchParams),
    responses(
        (status = 200, description = "Ranked hits, the top result and per-type sections (relevance order), \
            facet counts when asked for", body = SearchResponse),
        (status = 400, description = "`invalid_parameter` (`sort`, `facets` and the other parameters), \
            `query_too_long`, `invalid_filter`, `semantic_unavailable` (`mode=hybrid|semantic` on a server \
            without an embedding model)", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`, `semantic_loading` (`mode=hybrid|semantic` \
            while the semantic index loads after a start; `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    StrictQuery(params): StrictQuery<SearchParams>,
) -> Result<Json<SearchResponse>, ApiError> {
    let req = params.into_request()?;
    state.blocking(move |engine| Ok(Json(engine.search(&req)?))).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::Code;
    use crate::routes::query::parse_query;

    fn request(raw: &str) -> Result<SearchRequest, ApiError> {
        parse_query::<SearchParams>(raw)?.into_request()
    }

    #[test]
    fn defaults() {
        let r = request("").expect("ok");
        assert_eq!((r.q.as_str(), r.limit, r.offset), ("", None, None));
        assert!(r.types.is_empty() && r.filter.is_none() && r.market.is_none() && r.user_id.is_none());
        assert!(r.sort.is_none() && r.facets.is_empty() && r.max_facet_values.is_none());
        let r = request("q=&limit=&market=%20&user_id=").expect("empty values are absent");
        assert_eq!((r.q.as_str(), r.limit, r.market, r.user_id), ("", None, None, None));
    }

    #[test]
    fn full() {
        let r = request(
            "q=hello+world&types=track,%20Album,track&limit=5&offset=20&filter=tag%3Arock&market=%20gb&user_id=u1",
        )
        .expect("ok");
        assert_eq!(r.q, "hello world");
        assert_eq!(r.types, vec![EntityType::Track, EntityType::Album]);
        assert_eq!((r.limit, r.offset), (Some(5), Some(20)));
        assert_eq!(r.filter.as_deref(), Some("tag:rock"));
        assert_eq!(r.market.as_deref(), Some("gb"));
        assert_eq!(r.user_id.as_deref(), Some("u1"));
        let r = request("sort=Release_Date:asc&facets=tags,%20type,tags&max_facet_values=5").expect("ok");
        assert_eq!(r.sort.map(|s| s.to_string()).as_deref(), Some("release_date:asc"));
        assert_eq!(r.facets, vec![FacetField::Tags, FacetField::Type]);
        assert_eq!(r.max_facet_values, Some(5));
    }

    #[test]
    fn parse_errors_name_the_parameter() {
        let cases = [
            ("limit=abc", "`limit`"),
            ("limit=-1", "`limit`"),
            ("offset=x", "`offset`"),
            ("types=track,song", "`types`"),
            ("q=a&q=b", "`q`"),
            ("limit=1&limit=1", "`limit`"),
            ("colour=red", "`colour`"),
            ("Q=a", "`Q`"),
            ("sort=colour", "`sort`"),
            ("sort=name:up", "`sort`"),
            ("facets=type,mood", "`facets`"),
            ("max_facet_values=x", "`max_facet_values`"),
        ];
        for (raw, needle) in cases {
            let e = request(raw).unwrap_err();
            assert_eq!(e.code, Code::InvalidParameter, "{raw}");
            assert!(e.message.contains(needle), "{raw}: {}", e.message);
        }
        let long = format!("filter={}", "a".repeat(MAX_FILTER_BYTES + 1));
        assert!(request(&long).unwrap_err().message.contains("`filter`"));
    }
}
