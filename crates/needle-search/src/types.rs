//! Request and response types of the search engine (serializable; the server returns them as is).

use needle_core::EntityType;
use serde::{Deserialize, Serialize};

/// Default number of hits.
pub const DEFAULT_LIMIT: usize = 10;
/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 100;
/// Largest `offset + limit` accepted.
pub const MAX_WINDOW: usize = 1000;
/// Longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 512;
/// Values returned per facet by default (the most frequent).
pub const DEFAULT_FACET_VALUES: usize = 20;
/// Largest `max_facet_values` accepted.
pub const MAX_FACET_VALUES: usize = 100;

pub use crate::facets::{FacetCounts, FacetField};
pub use crate::sort::{Sort, SortField};

/// One search request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchRequest {
    /// Query text, as typed (the last word counts as a prefix).
    pub q: String,
    /// Restrict to these types (empty = all).
    #[serde(default)]
    pub types: Vec<EntityType>,
    /// Number of hits (default 10, max 100).
    pub limit: Option<usize>,
    /// Hits to skip.
    pub offset: Option<usize>,
    /// Filter expression, e.g. `tag:rock AND year:1990..1999 AND explicit:false`.
    pub filter: Option<String>,
    /// Only items available in this ISO 3166-1 alpha-2 market.
    pub market: Option<String>,
    /// Listener to personalize for (accepted; used once profiles exist).
    pub user_id: Option<String>,
    /// Order of the hits: `relevance` (the default for a query), `popularity` (the
    /// default when `q` is empty: browsing), `release_date` or `name`, each optionally
    /// `:asc` or `:desc`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "release_date:desc")]
    pub sort: Option<Sort>,
    /// Facets to count over every match: `type`, `tags`, `language`, `release_year`.
    #[serde(default)]
    #[schema(value_type = Vec<String>, example = json!(["type", "tags"]))]
    pub facets: Vec<FacetField>,
    /// Values per facet, the most frequent first (default 20, max 100).
    #[serde(default)]
    pub max_facet_values: Option<usize>,
    /// Return each hit's score as its parts (`explain` on every hit).
    #[serde(default)]
    pub explain: bool,
    /// The click model's strength per item for this query (set by the service from its
    /// search statistics; never read from a request).
    #[serde(skip)]
    #[schema(ignore)]
    pub clicks: Option<std::sync::Arc<crate::learned::ClickStrengths>>,
    /// Retrieval: `auto` (the default: the semantic arm joins descriptive queries and
    /// near-empty answers), `keyword`, `hybrid` or `semantic`.
    #[serde(default)]
    pub mode: crate::hybrid::SearchMode,
    /// Weight of the semantic arm when it joins, 0 (keyword only) to 1 (default from the
    /// configuration, 0.7).
    #[serde(default)]
    pub semantic_ratio: Option<f32>,
}

/// A highlighted field of a hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Highlight {
    /// Field name (`name`, `artists`, `show`, ...).
    pub field: String,
    /// The field text with matched spans wrapped in `<em>` … `</em>`.
    pub snippet: String,
    /// Matched byte spans `[start, end)` in the field text.
    pub spans: Vec<[usize; 2]>,
}

/// One search hit: the entity's display fields plus score and highlights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Hit {
    /// Entity id.
    pub id: String,
    /// Entity type.
    #[serde(rename = "type")]
    pub kind: EntityType,
    /// Display name.
    pub name: String,
    /// Ranking score (higher is better; comparable within one response).
    pub score: f32,
    /// Names of the performing artists (tracks, albums).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub artists: Vec<String>,
    /// Album name (tracks).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub album: Option<String>,
    /// Show name (episodes).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub show: Option<String>,
    /// Audiobook name (chapters).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub audiobook: Option<String>,
    /// Authors (audiobooks).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub authors: Vec<String>,
    /// Publisher (shows).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub publisher: Option<String>,
    /// Release date as imported.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub release_date: Option<String>,
    /// Popularity as imported.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub popularity: Option<f64>,
    /// Language code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub language: Option<String>,
    /// Explicit flag.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub explicit: Option<bool>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<String>,
    /// The user's `extra` object, as imported.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub extra: Option<serde_json::Value>,
    /// Matched spans.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub highlights: Vec<Highlight>,
    /// Why this hit was lifted (or lowered) for the listener (`user_id` searches only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub personalization: Option<crate::taste::Personalization>,
    /// The score's parts (`explain=true` only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub explain: Option<Explain>,
}

/// A hit's score as its parts (`explain=true`): `score = text + exact_bonus +
/// popularity_prior + name_coverage + personal_boost + click_boost` (up to rounding).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Explain {
    /// The text match (field weights, typo and prefix costs), without the name bonus.
    pub text: f32,
    /// Bonus for the query being the whole name (1.5) or a run of it being the name (0.6),
    /// as detected on the display name, plus up to 0.55 for the characters of a script
    /// without spaces (Han, kana, Hangul, Thai, …) standing together in the name as typed.
    pub exact_bonus: f32,
    /// Popularity prior (0 to 0.5).
    pub popularity_prior: f32,
    /// Name coverage for queries of two words or more (0 to 0.1).
    pub name_coverage: f32,
    /// The listener's taste (`user_id` searches).
    pub personal_boost: f32,
    /// What clicks on this item for this query (by enough distinct listeners) add.
    pub click_boost: f32,
    /// Hybrid searches: the hit's rank in the keyword arm (absent: not found by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword_rank: Option<u32>,
    /// Hybrid searches: the hit's rank in the semantic arm (absent: not found by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_rank: Option<u32>,
    /// Hybrid searches: cosine similarity of the query's and the hit's text vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_similarity: Option<f32>,
    /// Hybrid searches: the fused score (the hit's `score`): weighted reciprocal ranks,
    /// plus 1 for a hit whose name was typed, which stays above the fused ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fused: Option<f32>,
}

impl Explain {
    /// The parts of a hit only the semantic arm found: no keyword part.
    pub fn semantic_only() -> Explain {
        Explain {
            text: 0.0,
            exact_bonus: 0.0,
            popularity_prior: 0.0,
            name_coverage: 0.0,
            personal_boost: 0.0,
            click_boost: 0.0,
            keyword_rank: None,
            semantic_rank: None,
            semantic_similarity: None,
            fused: None,
        }
    }
}

/// Hits of one type, as a search page groups them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Section {
    /// The type of every hit in the section.
    #[serde(rename = "type")]
    pub kind: EntityType,
    /// Number of matching entities of this type.
    pub total: usize,
    /// Best hits of this type.
    pub hits: Vec<Hit>,
}

/// A search answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchResponse {
    /// This answer's id: name it in click events (`POST /v1/events`, `type: click`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_id: Option<String>,
    /// One ranked list across types.
    pub hits: Vec<Hit>,
    /// Number of matching entities.
    pub total: usize,
    /// Server-side time, milliseconds.
    pub took_ms: f64,
    /// The single best entity (relevance order only: null when sorted by a field).
    pub top_result: Option<Hit>,
    /// Hits grouped by type, best type first (relevance order only: empty when sorted
    /// by a field).
    pub sections: Vec<Section>,
    /// Facet counts over every match, when asked for: per facet, value → matches, the
    /// most frequent first (at most `max_facet_values` per facet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>>,
        example = json!({"type": {"track": 120, "album": 14}, "release_year": {"2023": 10}}))]
    pub facets: Option<std::collections::BTreeMap<String, FacetCounts>>,
    /// Relevance searches: how many entities matched every selective query word (the
    /// first pass; the fallback passes add looser matches after them). Read by hybrid
    /// fusion, never serialized.
    #[serde(skip)]
    #[schema(ignore)]
    pub all_words_matches: Option<u64>,
}

/// A record rejected from a write batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rejection {
    /// Index of the record in the batch (0-based; for files, line number - 1).
    pub index: usize,
    /// Stable error code.
    pub code: String,
    /// Explanation naming the field.
    pub message: String,
}

/// Outcome of a write batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WriteReport {
    /// Records stored durably.
    pub accepted: usize,
    /// Records refused, with reasons.
    pub rejected: Vec<Rejection>,
    /// The write-log sequence number of this write (absent when nothing was written):
    /// pass it as `min_seq` to read it back from any replica.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Catalog counts.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CatalogStats {
    /// Entities stored.
    pub entities: u64,
    /// Entities per type.
    pub by_type: std::collections::BTreeMap<String, u64>,
    /// Documents visible to search.
    pub searchable: u64,
    /// Semantic search: on or off (and why), its vectors and the embedding progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic: Option<SemanticStats>,
}

/// Where semantic search stands (`GET /v1/stats`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SemanticStats {
    /// Whether semantic and hybrid search are available.
    pub enabled: bool,
    /// Why not, and what to do (`enabled: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The embedding model's tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `loading` (the stored vectors are being read at start) or `ready`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Types that get vectors.
    #[serde(default)]
    pub types: Vec<needle_core::EntityType>,
    /// Vectors searchable now.
    #[serde(default)]
    pub vectors: u64,
    /// Entities waiting to be embedded (or checked).
    #[serde(default)]
    pub pending: u64,
    /// Entities embedded since the start.
    #[serde(default)]
    pub embedded: u64,
    /// Embedding throughput since the start: entities per second of embedding work.
    #[serde(default)]
    pub embedded_per_s: f64,
    /// Memory of the searchable vectors, bytes.
    #[serde(default)]
    pub vector_bytes: u64,
    /// Whether the start-up check of every entity against its stored vector is running.
    #[serde(default)]
    pub reconciling: bool,
}

/// One of a listener's top affinities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TopAffinity {
    /// Entity id (tags: the folded tag).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Score in [-1, 1], 1 = favourite of its kind, decayed to now.
    pub score: f32,
    /// What made it ("42 plays across 7 items, followed").
    pub why: String,
}

/// A listener's taste profile as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProfileView {
    /// The listener.
    pub user_id: String,
    /// Events applied, by type.
    pub events: std::collections::BTreeMap<String, u64>,
    /// Newest event time, epoch ms.
    pub last_event_ts: i64,
    /// Half-life of the short-term decay, days.
    pub half_life_days: f64,
    /// Half-life of the long-term decay, days.
    pub long_half_life_days: f64,
    /// Share of long-term taste in each score.
    pub long_term_weight: f64,
    /// Top artists.
    pub artists: Vec<TopAffinity>,
    /// Top shows.
    pub shows: Vec<TopAffinity>,
    /// Top audiobooks.
    pub audiobooks: Vec<TopAffinity>,
    /// Top tags / genres.
    pub tags: Vec<TopAffinity>,
    /// Top items (tracks, episodes, anything played).
    pub items: Vec<TopAffinity>,
    /// Saved items.
    pub saved: Vec<String>,
    /// Followed entities.
    pub followed: Vec<String>,
}

/// Outcome of an events batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventReport {
    /// Events stored.
    pub accepted: usize,
    /// Events whose `event_id` was seen before.
    pub duplicates: usize,
    /// Events refused, with reasons.
    pub rejected: Vec<Rejection>,
    /// The write-log sequence number of this write (absent when nothing was written):
    /// pass it as `min_seq` to read it back from any replica.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
}
