//! Query suggestions while typing: completions of entity names (popularity-weighted,
//! typo-tolerant, market-filtered, lifted toward a listener's taste) blended with past
//! queries from a [`QuerySource`]. See `docs/search.md`, "Suggestions".
//!
//! The [`Suggester`] is built from the catalog when the engine opens and kept current by
//! the engine's writer thread with every applied change (no rebuild per write).

mod rank;
mod table;
#[cfg(test)]
mod tests;

pub use rank::{budget, INNER, PERSONAL, QUALITY};
pub use table::key_of;

use crate::taste::Taste;
use needle_core::{Entity, EntityType};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use table::Table;

/// Most suggestions one request may ask for.
pub const MAX_SUGGEST_LIMIT: usize = 50;
/// Suggestions by default.
pub const DEFAULT_SUGGEST_LIMIT: usize = 8;
/// Longest `q`, bytes.
pub const MAX_SUGGEST_QUERY_BYTES: usize = 256;
/// Weight of a past query against an entity completion of the same quality: a query
/// many listeners typed and clicked ranks with the popular names, not above all of them.
pub const QUERY_WEIGHT: f32 = 0.9;

/// Past queries to complete from (filled by the service from search analytics: only
/// queries that led to clicks and that enough distinct listeners typed).
pub trait QuerySource: Send + Sync {
    /// Normalized past queries that start with `prefix` (a [`key_of`] key), each with a
    /// weight in `[0, 1]` (1 = the most suggested), at most `limit`, best first.
    fn completions(&self, prefix: &str, limit: usize) -> Vec<(String, f64)>;
}

/// A [`QuerySource`] without queries.
pub struct NoQueries;

impl QuerySource for NoQueries {
    fn completions(&self, _prefix: &str, _limit: usize) -> Vec<(String, f64)> {
        Vec::new()
    }
}

/// A suggestion request (validated by the service).
#[derive(Debug, Clone, Default)]
pub struct SuggestRequest {
    /// The typed text.
    pub q: String,
    /// Only entities sold in this market (ISO 3166-1 alpha-2, upper case).
    pub market: Option<String>,
    /// How many suggestions.
    pub limit: usize,
}

/// What a suggestion completes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    /// A past query.
    Query,
    /// A catalog entity's name.
    Entity,
}

/// One suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suggestion {
    /// The text to show (an entity's display name, or the past query).
    pub text: String,
    /// A past query or an entity.
    pub kind: SuggestionKind,
    /// The entity's id (entities only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The entity's type (entities only).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub entity_type: Option<EntityType>,
    /// Ranking score (higher first; comparable within one answer).
    pub score: f32,
}

/// The answer to a suggestion request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SuggestResponse {
    /// Best first.
    pub suggestions: Vec<Suggestion>,
}

/// Entity-name completions, kept current with the catalog.
#[derive(Default)]
pub struct Suggester {
    table: RwLock<Table>,
}

/// Builds a [`Suggester`] from many entities at once (one sort at the end).
#[derive(Default)]
pub struct SuggesterBuilder {
    table: Table,
}

impl SuggesterBuilder {
    /// Add an entity.
    pub fn add(&mut self, e: &Entity) {
        self.table.push_unsorted(e);
    }

    /// The suggester.
    pub fn finish(mut self) -> Suggester {
        self.table.sort_all();
        Suggester {
            table: RwLock::new(self.table),
        }
    }
}

impl Suggester {
    /// Build from every entity at once.
    pub fn build(entities: impl IntoIterator<Item = Entity>) -> Suggester {
        let mut b = SuggesterBuilder::default();
        for e in entities {
            b.add(&e);
        }
        b.finish()
    }

    /// Apply changes: `Some(entity)` upserts, `None` deletes the id.
    pub fn apply<'a>(&self, changes: impl IntoIterator<Item = (&'a str, Option<&'a Entity>)>) {
        let changes: Vec<(&str, Option<&Entity>)> = changes.into_iter().collect();
        // Many changes are sorted into the delta once, not one insertion at a time.
        let sorted = changes.len() <= 64;
        let mut t = self.table.write();
        for (id, e) in changes {
            match e {
                Some(e) => t.upsert(e, sorted),
                None => t.delete(id),
            }
        }
        t.finish_batch();
    }

    /// Live entities.
    pub fn len(&self) -> usize {
        self.table.read().len()
    }

    /// No entity.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.table.read().heap_bytes()
    }

    /// Suggestions for `req`: entity completions (lifted by `taste`) and `queries`'
    /// completions, blended by score, one per distinct folded text, best first.
    pub fn suggest(&self, req: &SuggestRequest, taste: Option<&Taste>, queries: &dyn QuerySource) -> SuggestResponse {
        let typed = key_of(&req.q, false);
        if typed.trim().is_empty() || req.limit == 0 {
            return SuggestResponse::default();
        }
        let affinities = taste.map(affinities).unwrap_or_default();
        let mut out: Vec<(String, Suggestion)> = Vec::new();
        {
            let t = self.table.read();
            let found = rank::lookup(
                &t,
                &rank::Lookup {
                    typed: &typed,
                    market: table::market_of(req.market.as_deref()),
                    limit: req.limit,
                    taste: &affinities,
                    per_entity: false,
                    ties_stop: false,
                },
            );
            for f in found {
                let Some(it) = t.item(f.ord) else {
                    continue;
                };
                out.push((
                    it.key().to_string(),
                    Suggestion {
                        text: it.name().to_string(),
                        kind: SuggestionKind::Entity,
                        id: Some(it.id().to_string()),
                        entity_type: Some(it.kind),
                        score: round(f.score),
                    },
                ));
            }
        }
        for (text, w) in queries.completions(&typed, req.limit) {
            let key = key_of(&text, true);
            if !key.starts_with(&typed) {
                continue;
            }
            let s = QUERY_WEIGHT * (0.5 + 0.5 * (w.clamp(0.0, 1.0) as f32));
            let sug = Suggestion {
                text,
                kind: SuggestionKind::Query,
                id: None,
                entity_type: None,
                score: round(s),
            };
            match out.iter_mut().find(|(k, _)| *k == key) {
                Some((_, cur)) if cur.score >= sug.score => {}
                Some((_, cur)) => *cur = sug,
                None => out.push((key, sug)),
            }
        }
        // Stable: among equal scores the entity order (fewer edits, more popular) holds.
        out.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
        out.truncate(req.limit);
        SuggestResponse {
            suggestions: out.into_iter().map(|(_, s)| s).collect(),
        }
    }
}

fn round(s: f32) -> f32 {
    (s * 1e4).round() / 1e4
}

/// A listener's affinities by taste feature: items (and saved or followed ones), creators
/// (`0.8 *`), tags (`0.4 *`, lifting only), as in personalization.
fn affinities(t: &Taste) -> HashMap<u64, f32> {
    let mut m: HashMap<u64, f32> = HashMap::new();
    let mut put = |k: u64, a: f32| {
        let e = m.entry(k).or_insert(a);
        if a > *e {
            *e = a;
        }
    };
    for (id, a) in &t.items {
        put(table::feature(b'i', id), a.score);
    }
    for id in &t.saved {
        put(table::feature(b'i', id), 1.0);
    }
    for id in &t.followed {
        put(table::feature(b'i', id), 0.9);
        put(table::feature(b'c', id), 0.9);
    }
    for (id, a) in &t.creators {
        put(table::feature(b'c', id), 0.8 * a.score);
    }
    for (tag, a) in &t.tags {
        if a.score > 0.0 {
            put(table::feature(b't', tag), 0.4 * a.score);
        }
    }
    m
}
