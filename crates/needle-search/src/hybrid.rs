//! Hybrid retrieval: when the semantic (embedding) arm joins a search, and how its hits are
//! fused with the keyword arm's.
//!
//! The engine does not embed anything: the caller (the service) runs the keyword search,
//! asks [`decide`] whether the semantic arm should join, finds the nearest vectors, turns
//! them into hits that pass the request's filters ([`crate::Engine::hits_for_ids`]) and
//! calls [`fuse`]. The rules and their reasons are in `docs/search.md` ("Hybrid search").
//!
//! Fusion is weighted reciprocal rank fusion, `(1 − r)/(k + rank_keyword) + r/(k +
//! rank_semantic)` with `r` the semantic ratio, **after** the keyword hits that match the
//! name itself: a hit whose name is the query (exactly, without its article, or corrected
//! for a typo) or whose name words are all typed, covering enough of the query, stays
//! above every fused hit, in keyword order. Known-item search keeps its answer; the
//! semantic arm fills the page below it.

use crate::plan::{edit_distance, max_typos};
use crate::types::{Explain, Hit, SearchResponse, Section};
use needle_core::EntityType;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// How a search retrieves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Keyword always; the semantic arm joins when the query reads as a description or the
    /// keyword arm finds (almost) nothing (see [`decide`]).
    #[default]
    Auto,
    /// Keyword retrieval only.
    Keyword,
    /// Keyword and semantic retrieval, fused.
    Hybrid,
    /// Semantic retrieval only (name matches are still kept on top).
    Semantic,
}

impl std::str::FromStr for SearchMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(SearchMode::Auto),
            "keyword" => Ok(SearchMode::Keyword),
            "hybrid" => Ok(SearchMode::Hybrid),
            "semantic" => Ok(SearchMode::Semantic),
            _ => Err(format!(
                "`{s}` is not a search mode: use auto, keyword, hybrid or semantic"
            )),
        }
    }
}

/// The fusion's settings (the `[semantic]` section of the configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FusionConfig {
    /// Weight of the semantic arm in hybrid mode when the request names none (0 to 1).
    pub ratio: f32,
    /// The RRF constant `k` (larger flattens the rank curve).
    pub rrf_k: f32,
    /// Semantic candidates below this cosine similarity are dropped.
    pub min_similarity: f32,
    /// Candidates taken from each arm.
    pub depth: usize,
}

impl Default for FusionConfig {
    fn default() -> Self {
        FusionConfig {
            ratio: 0.7,
            rrf_k: 20.0,
            min_similarity: 0.25,
            depth: 50,
        }
    }
}

/// Types the semantic arm can return.
pub const SPOKEN: [EntityType; 4] = [
    EntityType::Show,
    EntityType::Episode,
    EntityType::Audiobook,
    EntityType::Chapter,
];

/// Why the semantic arm joined (or not): reported in `explain` and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Asked for with `mode=hybrid` or `mode=semantic`.
    Requested,
    /// Three words or more, two of them not function words, and no hit whose name is the query.
    Descriptive,
    /// The keyword arm found fewer than three matches.
    FewKeywordHits,
}

/// Function words that do not make a query descriptive (English and the articles and
/// prepositions of the catalog's other large languages).
const FUNCTION_WORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "by", "de", "del", "der", "des", "die", "das", "du", "el", "en",
    "et", "for", "from", "how", "i", "in", "into", "is", "it", "la", "las", "le", "les", "los", "me", "my", "of", "on",
    "or", "que", "some", "that", "the", "to", "un", "una", "und", "une", "what", "why", "with", "y",
];

/// Whether the semantic arm joins this search and with which weight: `None` keeps it out.
/// `keyword` is the keyword arm's answer, computed with `explain` (its `exact_bonus` tells
/// whether a hit's name is the query).
pub fn decide(
    mode: SearchMode,
    ratio: Option<f32>,
    q: &str,
    types: &[EntityType],
    keyword: &SearchResponse,
    cfg: &FusionConfig,
) -> Option<(f32, Trigger)> {
    let spoken = types.is_empty() || types.iter().any(|t| SPOKEN.contains(t));
    let r = ratio.unwrap_or(cfg.ratio).clamp(0.0, 1.0);
    match mode {
        SearchMode::Keyword => None,
        SearchMode::Semantic => Some((1.0, Trigger::Requested)),
        SearchMode::Hybrid => (r > 0.0).then_some((r, Trigger::Requested)),
        SearchMode::Auto if !spoken || r == 0.0 => None,
        SearchMode::Auto => {
            if needle_core::text::words(q).is_empty() {
                return None;
            }
            // A hit whose names hold the query is a known item: keyword search answers it.
            let query = needle_core::text::words(q);
            let last_is_prefix = !q.ends_with(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
            let named = keyword
                .hits
                .first()
                .is_some_and(|h| is_name_match_strong(h) || names_cover_query(h, &query, last_is_prefix));
            if reads_as_description(q) && !named {
                Some((r, Trigger::Descriptive))
            } else if keyword.total < 3 && !named {
                Some((r, Trigger::FewKeywordHits))
            } else {
                None
            }
        }
    }
}

/// Three words or more, two of them not function words: what [`decide`] calls a
/// description in `auto` mode (when no hit's name is the query). Other queries join the
/// semantic arm in `auto` mode only when the keyword arm finds fewer than three matches.
pub fn reads_as_description(q: &str) -> bool {
    let words = needle_core::text::words(q);
    let content = words.iter().filter(|w| !FUNCTION_WORDS.contains(&w.as_str())).count();
    words.len() >= 3 && content >= 2
}

/// The name is the query: exactly, without its article, or as a typo correction.
fn is_name_match_strong(h: &Hit) -> bool {
    h.explain.is_some_and(|e| e.exact_bonus >= 0.9)
}

/// Whether every word of the hit's name was typed (the last query word as a prefix), and
/// the name covers at least half the query's words: a known item asked for by name.
fn name_is_typed(name: &str, query: &[String], last_is_prefix: bool) -> bool {
    let name_words = needle_core::text::words(name);
    if name_words.is_empty() || query.is_empty() {
        return false;
    }
    let typed = |w: &String| {
        query.iter().enumerate().any(|(i, q)| {
            q == w || (last_is_prefix && i + 1 == query.len() && q.chars().count() >= 2 && w.starts_with(q.as_str()))
        })
    };
    name_words.iter().all(typed) && 2 * name_words.len() >= query.len()
}

/// Keyword hits at most this deep that matched every query word stay on top when the
/// all-words pass was precise (at most [`PRECISE_MATCHES`] matches).
const PRECISE_TOP: usize = 3;
/// See [`PRECISE_TOP`].
const PRECISE_MATCHES: u64 = 50;

/// Whether a keyword hit stays above every fused hit: its name is the query, or its names
/// hold every word typed, or it is one of the first matches of a precise all-words pass.
fn protected(h: &Hit, rank: usize, all_words: Option<u64>, query: &[String], last_is_prefix: bool) -> bool {
    let precise = all_words.is_some_and(|n| n > 0 && n <= PRECISE_MATCHES && (rank as u64) <= n);
    is_name_match_strong(h)
        || name_is_typed(&h.name, query, last_is_prefix)
        || names_cover_query(h, query, last_is_prefix)
        || (precise && rank <= PRECISE_TOP)
}

/// Whether every content word of the query is in the hit's names (its name, artists,
/// album, show, audiobook, authors, publisher): the last word as a prefix, longer words
/// within the typo budget (1 edit from 4 characters, 2 from 8). "Title artist" queries,
/// prefixes and typos of a name are known items, whatever the semantic arm thinks.
fn names_cover_query(h: &Hit, query: &[String], last_is_prefix: bool) -> bool {
    let mut vocab: Vec<String> = needle_core::text::words(&h.name);
    let related = h
        .artists
        .iter()
        .chain(&h.authors)
        .chain(h.album.iter())
        .chain(h.show.iter())
        .chain(h.audiobook.iter())
        .chain(h.publisher.iter());
    for r in related {
        vocab.extend(needle_core::text::words(r));
    }
    let last = query.len().saturating_sub(1);
    let mut content = 0;
    for (i, q) in query.iter().enumerate() {
        if FUNCTION_WORDS.contains(&q.as_str()) && vocab.iter().all(|v| v != q) {
            continue;
        }
        content += 1;
        let prefix = last_is_prefix && i == last;
        let found = vocab
            .iter()
            .any(|v| v == q || (prefix && v.starts_with(q.as_str())) || within_typo_budget(q, v));
        if !found {
            return false;
        }
    }
    content > 0
}

/// `b` is `a` within the keyword search's own typo budget for `a` ([`max_typos`], counted
/// as [`edit_distance`] does: an adjacent transposition is one edit).
fn within_typo_budget(a: &str, b: &str) -> bool {
    let budget = usize::from(max_typos(a));
    budget > 0 && a.chars().count().abs_diff(b.chars().count()) <= budget && edit_distance(a, b) <= budget
}

/// A semantic candidate: its hit (passing the request's filters) and cosine similarity.
pub struct SemanticHit {
    /// The hit, with display fields.
    pub hit: Hit,
    /// Cosine similarity of the query's and the entity's vectors.
    pub similarity: f32,
}

/// Fuse the keyword answer (`keyword`, computed from offset 0 with `explain` and at least
/// `depth` hits) with the semantic candidates (nearest first). `window` is `offset +
/// limit`; the answer's `hits` skip `offset` as the keyword search does. `explain` keeps each hit's parts and
/// arm ranks in the answer.
#[allow(clippy::too_many_arguments)]
pub fn fuse(
    mut keyword: SearchResponse,
    semantic: Vec<SemanticHit>,
    q: &str,
    ratio: f32,
    cfg: &FusionConfig,
    offset: usize,
    window: usize,
    explain: bool,
) -> SearchResponse {
    let query = needle_core::text::words(q);
    let last_is_prefix = !q.ends_with(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
    // The keyword arm was asked from offset 0 (the caller's contract).
    let kw = std::mem::take(&mut keyword.hits);
    let semantic: Vec<SemanticHit> = semantic
        .into_iter()
        .filter(|s| s.similarity >= cfg.min_similarity)
        .take(cfg.depth)
        .collect();
    let sem_rank: HashMap<&str, (usize, f32)> = semantic
        .iter()
        .enumerate()
        .map(|(i, s)| (s.hit.id.as_str(), (i + 1, s.similarity)))
        .collect();
    let kw_ids: HashSet<&str> = kw.iter().map(|h| h.id.as_str()).collect();
    let rrf = |rank: usize, w: f32| w / (cfg.rrf_k + rank as f32);
    struct Fused {
        hit: Hit,
        score: f32,
        protected: bool,
        kw_rank: Option<usize>,
        sem: Option<(usize, f32)>,
    }
    let mut all: Vec<Fused> = Vec::with_capacity(kw.len() + semantic.len());
    for (i, h) in kw.iter().enumerate() {
        let sem = sem_rank.get(h.id.as_str()).copied();
        let mut score = rrf(i + 1, 1.0 - ratio);
        if let Some((r, _)) = sem {
            score += rrf(r, ratio);
        }
        let protected = protected(h, i + 1, keyword.all_words_matches, &query, last_is_prefix);
        all.push(Fused {
            hit: h.clone(),
            score: if protected { 1.0 + score } else { score },
            protected,
            kw_rank: Some(i + 1),
            sem,
        });
    }
    let mut semantic_only = [0usize; 8];
    for s in &semantic {
        if kw_ids.contains(s.hit.id.as_str()) {
            continue;
        }
        semantic_only[s.hit.kind.code() as usize] += 1;
        let sem = sem_rank.get(s.hit.id.as_str()).copied();
        all.push(Fused {
            score: sem.map_or(0.0, |(r, _)| rrf(r, ratio)),
            hit: s.hit.clone(),
            protected: false,
            kw_rank: None,
            sem,
        });
    }
    // Protected hits first in keyword order; the rest by fused score, ties by keyword rank.
    let kw_order = |f: &Fused| f.kw_rank.unwrap_or(usize::MAX);
    all.sort_by(|a, b| match (a.protected, b.protected) {
        (true, true) => kw_order(a).cmp(&kw_order(b)),
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => b.score.total_cmp(&a.score).then(kw_order(a).cmp(&kw_order(b))),
    });
    let hits: Vec<Hit> = all
        .into_iter()
        .map(|f| {
            let mut h = f.hit;
            h.score = (f.score * 1e4).round() / 1e4;
            h.explain = explain.then(|| {
                let mut e = h.explain.unwrap_or_else(Explain::semantic_only);
                e.keyword_rank = f.kw_rank.map(|r| r as u32);
                e.semantic_rank = f.sem.map(|(r, _)| r as u32);
                e.semantic_similarity = f.sem.map(|(_, s)| (s * 1e4).round() / 1e4);
                e.fused = Some(h.score);
                e
            });
            h
        })
        .collect();
    let sections = regroup(&hits, &keyword.sections, &semantic_only);
    keyword.total += semantic_only.iter().sum::<usize>();
    keyword.top_result = hits.first().cloned();
    keyword.hits = hits.into_iter().take(window).skip(offset).collect();
    keyword.sections = sections;
    keyword
}

/// Sections of the fused list: per type its best hits in fused order, the types ordered by
/// their best hit; totals are the keyword matches plus the semantic-only candidates.
fn regroup(hits: &[Hit], keyword: &[Section], semantic_only: &[usize; 8]) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for h in hits {
        match out.iter_mut().find(|s| s.kind == h.kind) {
            Some(s) if s.hits.len() < crate::search::SECTION_SIZE => s.hits.push(h.clone()),
            Some(_) => {}
            None => {
                let kw_total = keyword.iter().find(|s| s.kind == h.kind).map_or(0, |s| s.total);
                out.push(Section {
                    kind: h.kind,
                    total: kw_total + semantic_only[h.kind.code() as usize],
                    hits: vec![h.clone()],
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hit(id: &str, name: &str, kind: EntityType, exact: f32) -> Hit {
        Hit {
            id: id.into(),
            kind,
            name: name.into(),
            score: 1.0,
            artists: vec![],
            album: None,
            show: None,
            audiobook: None,
            authors: vec![],
            publisher: None,
            release_date: None,
            popularity: None,
            language: None,
            explicit: None,
            tags: vec![],
            extra: None,
            highlights: vec![],
            personalization: None,
            explain: Some(Explain {
                exact_bonus: exact,
                ..Explain::semantic_only()
            }),
        }
    }

    fn answer(hits: Vec<Hit>) -> SearchResponse {
        SearchResponse {
            search_id: None,
            total: hits.len(),
            top_result: hits.first().cloned(),
            sections: vec![Section {
                kind: EntityType::Show,
                total: hits.len(),
                hits: hits.iter().take(crate::search::SECTION_SIZE).cloned().collect(),
            }],
            hits,
            took_ms: 0.0,
            facets: None,
            all_words_matches: None,
        }
    }

    fn sem(id: &str, name: &str, sim: f32) -> SemanticHit {
        SemanticHit {
            hit: hit(id, name, EntityType::Show, 0.0),
            similarity: sim,
        }
    }

    #[test]
    fn auto_joins_for_descriptions_and_empty_answers_not_for_names() {
        let cfg = FusionConfig::default();
        let none = answer(vec![]);
        let named = answer(vec![hit("a", "Electric Cars", EntityType::Show, 1.5)]);
        let loose = answer(vec![hit("a", "Cars", EntityType::Show, 0.0); 5]);
        let d = |q: &str, a: &SearchResponse| decide(SearchMode::Auto, None, q, &[], a, &cfg).map(|x| x.1);
        assert_eq!(d("electric cars and the climate", &loose), Some(Trigger::Descriptive));
        assert_eq!(d("electric cars", &named), None, "a name is known-item search");
        assert_eq!(d("electric cars", &loose), None, "two words with matches stay keyword");
        assert_eq!(d("the of and", &loose), None, "function words do not describe");
        assert_eq!(d("xylophone", &none), Some(Trigger::FewKeywordHits));
        assert_eq!(d("", &none), None);
        let tracks = decide(
            SearchMode::Auto,
            None,
            "songs about rain at night",
            &[EntityType::Track],
            &loose,
            &cfg,
        );
        assert_eq!(tracks, None, "only spoken-word types have vectors");
        assert_eq!(decide(SearchMode::Keyword, None, "xylophone", &[], &none, &cfg), None);
        assert_eq!(
            decide(SearchMode::Hybrid, Some(0.8), "x", &[], &named, &cfg),
            Some((0.8, Trigger::Requested))
        );
        assert_eq!(decide(SearchMode::Hybrid, Some(0.0), "x", &[], &named, &cfg), None);
        assert_eq!(
            decide(SearchMode::Semantic, None, "x", &[], &named, &cfg),
            Some((1.0, Trigger::Requested))
        );
    }

    #[test]
    fn names_stay_on_top_and_the_semantic_arm_fills_below() {
        let cfg = FusionConfig::default();
        let kw = answer(vec![
            hit("exact", "Roman Empire", EntityType::Show, 1.5),
            hit("k2", "Empire Records Podcast", EntityType::Show, 0.0),
            hit("both", "Rome: a history", EntityType::Show, 0.0),
        ]);
        let s = vec![
            sem("s1", "The History of Rome", 0.8),
            sem("both", "Rome: a history", 0.7),
            sem("weak", "Knitting", 0.1),
        ];
        let out = fuse(kw, s, "roman empire", 0.5, &cfg, 0, 10, true);
        let ids: Vec<&str> = out.hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids[0], "exact", "the name match stays first");
        assert!(!ids.contains(&"weak"), "below the similarity floor");
        let pos = |id: &str| ids.iter().position(|x| *x == id).unwrap();
        assert!(pos("both") < pos("k2"), "found by both arms beats one arm: {ids:?}");
        assert!(
            pos("s1") < pos("k2"),
            "semantic rank 1 beats keyword rank 2 at ratio 0.5: {ids:?}"
        );
        assert_eq!(out.total, 4, "three keyword matches and one semantic-only");
        let both = &out.hits[pos("both")];
        let e = both.explain.unwrap();
        assert_eq!((e.keyword_rank, e.semantic_rank), (Some(3), Some(2)));
        assert_eq!(out.top_result.as_ref().unwrap().id, "exact");
        assert_eq!(out.sections.len(), 1);
        assert_eq!(out.sections[0].total, 4);
    }

    #[test]
    fn typed_names_are_protected_but_one_typed_word_of_a_description_is_not() {
        let q: Vec<String> = ["interviews", "with", "jazz", "musicians"].map(String::from).to_vec();
        assert!(!name_is_typed("Interviews", &q, false));
        assert!(name_is_typed("Jazz Musicians Interviews", &q, false));
        let q: Vec<String> = ["bohemian", "rhap"].map(String::from).to_vec();
        assert!(name_is_typed("Bohemian Rhapsody", &q, true));
        assert!(!name_is_typed("Bohemian Rhapsody", &q, false));
    }

    #[test]
    fn names_holding_every_typed_word_are_known_items() {
        let mut h = hit("t", "Hey Jude", EntityType::Track, 0.0);
        h.artists = vec!["The Beatles".into()];
        let q = |s: &str| needle_core::text::words(s);
        assert!(names_cover_query(&h, &q("hey jude beatles"), false), "title and artist");
        assert!(
            names_cover_query(&h, &q("hey jude the beat"), true),
            "the last word as a prefix"
        );
        assert!(!names_cover_query(&h, &q("hey jude the beat"), false));
        assert!(
            names_cover_query(&h, &q("hey jdue beatles"), false),
            "a transposition is one edit, as in keyword search"
        );
        assert!(
            !names_cover_query(&h, &q("hey jxyz beatles"), false),
            "beyond the budget"
        );
        assert!(
            names_cover_query(&h, &q("hey jude beatle"), false),
            "one edit from 4 letters"
        );
        assert!(
            !names_cover_query(&h, &q("songs about hey jude"), false),
            "a word the names lack"
        );
        assert!(within_typo_budget("rhapsody", "rhapsdoy"));
        assert!(within_typo_budget("jazz", "jaz"));
        assert!(!within_typo_budget("jaz", "jazz"), "three letters: exact only");
        assert!(!within_typo_budget("climate", "primate climate"));
    }

    #[test]
    fn the_first_matches_of_a_precise_keyword_pass_stay_on_top() {
        let cfg = FusionConfig::default();
        let mut kw = answer(vec![
            hit("k1", "Alpha", EntityType::Show, 0.0),
            hit("k2", "Beta", EntityType::Show, 0.0),
        ]);
        kw.all_words_matches = Some(1);
        let s = vec![sem("s1", "Gamma", 0.9), sem("k2", "Beta", 0.8)];
        let out = fuse(kw.clone(), s, "zeta eta theta", 0.5, &cfg, 0, 10, false);
        assert_eq!(out.hits[0].id, "k1", "the one all-words match stays first");
        kw.all_words_matches = Some(500);
        let s = vec![sem("s1", "Gamma", 0.9), sem("k2", "Beta", 0.8)];
        let out = fuse(kw, s, "zeta eta theta", 0.5, &cfg, 0, 10, false);
        assert_eq!(out.hits[0].id, "k2", "an imprecise pass is fused: found by both arms");
    }

    #[test]
    fn ratio_and_offset_are_honoured() {
        let cfg = FusionConfig::default();
        let kw = answer(vec![
            hit("k1", "alpha", EntityType::Show, 0.0),
            hit("k2", "beta", EntityType::Show, 0.0),
        ]);
        let s = vec![sem("s1", "gamma", 0.9)];
        let out = fuse(kw.clone(), s, "zeta eta", 0.1, &cfg, 0, 10, false);
        assert_eq!(out.hits[0].id, "k1", "a low ratio keeps the keyword order first");
        assert!(out.hits[0].explain.is_none());
        let s = vec![sem("s1", "gamma", 0.9)];
        let out = fuse(kw, s, "zeta eta", 0.9, &cfg, 1, 2, false);
        assert_eq!(out.top_result.unwrap().id, "s1");
        assert_eq!(out.hits.len(), 1, "window 2 minus offset 1");
    }
}
