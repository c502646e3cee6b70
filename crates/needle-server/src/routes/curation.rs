//! `GET /v1/suggest` (completions while typing) and the curation settings:
//! `GET/PUT /v1/settings/synonyms`, `GET/PUT /v1/settings/rules`. The service validates
//! every value (errors name the parameter or field); these handlers only parse.

use super::query::{self, StrictQuery};
use super::JsonBytes;
use crate::codes::Code;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;
use axum::extract::State;
use axum::Json;
use needle_core::curation::{Rule, SynonymGroup};
use needle_search::suggest::SuggestResponse;
use serde::{Deserialize, Serialize};

/// Query parameters of `GET /v1/suggest`. Unknown and repeated parameters are refused.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SuggestParams {
    /// The text typed so far (required; at most 256 bytes). Completed from the first
    /// character; the last word is a prefix unless the text ends in a space.
    #[serde(default, deserialize_with = "query::text")]
    pub q: Option<String>,
    /// Listener whose taste lifts their artists, shows and tags.
    #[serde(default, deserialize_with = "query::text")]
    pub user_id: Option<String>,
    /// ISO 3166-1 alpha-2 market: only entities available there.
    #[serde(default, deserialize_with = "query::trimmed")]
    pub market: Option<String>,
    /// Suggestions, 1 to 50 (default 8).
    #[serde(default, deserialize_with = "query::count")]
    pub limit: Option<usize>,
}

/// Suggest completions of the text typed so far.
///
/// Entity names (popularity-weighted, typo-tolerant on the text typed, a listener's
/// artists, shows and tags lifted) and past queries that led to clicks, one per distinct
/// text, best first. Written catalog entities are suggested at once.
#[utoipa::path(
    get,
    path = "/v1/suggest",
    tag = "search",
    params(SuggestParams),
    responses(
        (status = 200, description = "Suggestions, best first", body = SuggestResponse),
        (status = 400, description = "`invalid_parameter` (`q` missing, `limit`, `market`, `user_id`), `query_too_long`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    )
)]
pub async fn suggest(
    State(state): State<AppState>,
    StrictQuery(p): StrictQuery<SuggestParams>,
) -> Result<Json<SuggestResponse>, ApiError> {
    state
        .blocking(move |svc| {
            Ok(Json(svc.suggest(
                p.q.as_deref(),
                p.user_id.as_deref(),
                p.market.as_deref(),
                p.limit,
            )?))
        })
        .await
}

/// A synonym group: one-way (`from`, `to`) or multi-way (`synonyms`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SynonymGroupDoc {
    /// One-way: the term as typed.
    pub from: Option<String>,
    /// One-way: what `from` also matches (not the reverse).
    pub to: Option<Vec<String>>,
    /// Multi-way: terms that match one another (at least two).
    pub synonyms: Option<Vec<String>>,
}

/// The synonyms in force (`GET`, and the answer of `PUT /v1/settings/synonyms`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SynonymsSetting {
    /// 0 before the first `PUT`, then 1, 2, ...
    pub version: u64,
    /// Write-log sequence number of the `PUT` that set this version (0: never set).
    pub seq: u64,
    /// Every group.
    #[schema(value_type = Vec<SynonymGroupDoc>)]
    pub groups: Vec<SynonymGroup>,
}

/// Body of `PUT /v1/settings/synonyms`: the groups, replacing every group in force.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SynonymsBody {
    /// Every group (at most 10,000; each term at most 256 bytes, 32 terms a group).
    pub groups: Vec<SynonymGroupDoc>,
}

/// An item placed at a position.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PinDoc {
    /// Entity id.
    pub id: String,
    /// 1-based position, 1 to 100.
    pub position: u64,
}

/// What to do for one query (matched by its folded words).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuleDoc {
    /// The query.
    pub query: String,
    /// Items placed at positions.
    #[serde(default)]
    pub pin: Vec<PinDoc>,
    /// Items removed from the results.
    #[serde(default)]
    pub hide: Vec<String>,
}

/// The query rules in force (`GET`, and the answer of `PUT /v1/settings/rules`).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RulesSetting {
    /// 0 before the first `PUT`, then 1, 2, ...
    pub version: u64,
    /// Write-log sequence number of the `PUT` that set this version (0: never set).
    pub seq: u64,
    /// Every rule.
    #[schema(value_type = Vec<RuleDoc>)]
    pub rules: Vec<Rule>,
}

/// Body of `PUT /v1/settings/rules`: the rules, replacing every rule in force.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RulesBody {
    /// Every rule (at most 10,000; 32 pins and 32 hidden items a rule).
    pub rules: Vec<RuleDoc>,
}

fn json(body: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("the body is not valid JSON: {e}")))
}

/// The synonym groups in force.
#[utoipa::path(get, path = "/v1/settings/synonyms", tag = "settings",
    responses((status = 200, description = "The groups and their version", body = SynonymsSetting)))]
pub async fn synonyms(State(state): State<AppState>) -> Result<Json<SynonymsSetting>, ApiError> {
    state
        .blocking(|svc| {
            let v = svc.synonyms();
            Ok(Json(SynonymsSetting {
                version: v.version,
                seq: v.seq,
                groups: v.value,
            }))
        })
        .await
}

/// Replace the synonym groups.
///
/// Applied at query time to every search from the answer on (on every replica once it
/// applied the write-log entry): a query word (or run of words) equal to a group's term,
/// after folding, also matches the group's other terms (one-way: only `from` → `to`).
/// Synonyms match exact words: typo tolerance applies to the words typed, not to their
/// synonyms.
#[utoipa::path(put, path = "/v1/settings/synonyms", tag = "settings",
    request_body(content = SynonymsBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The new version", body = SynonymsSetting),
        (status = 400, description = "`invalid_json`, `unknown_field`, `missing_field`, `invalid_field` (naming the field, e.g. `groups[2].to[0]`)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: a body that is not `application/json`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    ))]
pub async fn set_synonyms(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Json<SynonymsSetting>, ApiError> {
    let value = json(&body)?;
    state
        .blocking(move |svc| {
            let v = svc.set_synonyms(&value)?;
            Ok(Json(SynonymsSetting {
                version: v.version,
                seq: v.seq,
                groups: v.value,
            }))
        })
        .await
}

/// The query rules in force.
#[utoipa::path(get, path = "/v1/settings/rules", tag = "settings",
    responses((status = 200, description = "The rules and their version", body = RulesSetting)))]
pub async fn rules(State(state): State<AppState>) -> Result<Json<RulesSetting>, ApiError> {
    state
        .blocking(|svc| {
            let v = svc.rules();
            Ok(Json(RulesSetting {
                version: v.version,
                seq: v.seq,
                rules: v.value,
            }))
        })
        .await
}

/// Replace the query rules.
///
/// For a search whose folded words equal a rule's query (relevance order): hidden items
/// are removed; pinned items are placed at their position, fetched even when they did
/// not match the query unless the search restricts `types`, `market` or `filter`.
#[utoipa::path(put, path = "/v1/settings/rules", tag = "settings",
    request_body(content = RulesBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The new version", body = RulesSetting),
        (status = 400, description = "`invalid_json`, `unknown_field`, `missing_field`, `invalid_field`, `invalid_id` (naming the field, e.g. `rules[0].pin[1].position`)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: a body that is not `application/json`", body = ErrorBody),
        (status = 503, description = "`unavailable`, `request_timeout`", body = ErrorBody),
    ))]
pub async fn set_rules(
    State(state): State<AppState>,
    JsonBytes(body): JsonBytes,
) -> Result<Json<RulesSetting>, ApiError> {
    let value = json(&body)?;
    state
        .blocking(move |svc| {
            let v = svc.set_rules(&value)?;
            Ok(Json(RulesSetting {
                version: v.version,
                seq: v.seq,
                rules: v.value,
            }))
        })
        .await
}
