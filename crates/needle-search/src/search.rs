//! Executing a search: plan, collect, fall back, and turn documents into hits.

use crate::collect::{RankCollector, Ranked, Scored, SegmentData, COMPLETE, EXACT};
use crate::contiguous::contiguous_order;
use crate::error::{Error, Result};
use crate::facets::{FacetCollector, FacetField};
use crate::filter::{market_query, parse_filter};
use crate::highlight::highlight;
use crate::learned::{click_order_docs, learned_order, ExplainCtx};
use crate::plan::{
    build_query, corrected_keys, expand, query_words, selective_words, word_cost, Expansion, KeyBonus, Match,
    QueryWord, TYPO_KEY_FACTOR,
};
use crate::schema::Fields;
use crate::sort::{Sort, SortField};
use crate::taste::{boost, Taste};
use crate::types::*;
use needle_core::text::key_of_words;
use needle_core::validate;
use needle_core::EntityType;
use needle_store::CatalogSnapshot;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;
use tantivy::query::{Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, Searcher, Term};

/// Hits per section.
pub const SECTION_SIZE: usize = 5;
/// Most artists and most authors a hit names (and highlights). A record may list up to
/// 10,000 artist ids and 1,000 authors of 1 KiB each; every hit repeating them all would
/// let one record make each search answer hundreds of megabytes. `GET /v1/catalog/{id}`
/// still returns the whole record.
pub const MAX_HIT_NAMES: usize = 20;
/// Candidates re-ranked for a listener with a taste profile.
pub const PERSONAL_POOL: usize = 50;

/// Validated request parameters.
pub(crate) struct Params {
    pub limit: usize,
    pub offset: usize,
    pub filters: Vec<Box<dyn Query>>,
    /// Facets to count (none: no counting).
    pub facets: Vec<FacetField>,
    /// Values kept per facet.
    pub facet_values: usize,
}

impl Params {
    /// The facet collector, when facets were asked for.
    pub fn facet_collector(&self) -> Option<FacetCollector> {
        (!self.facets.is_empty()).then(|| FacetCollector {
            fields: self.facets.clone(),
        })
    }
}

fn validate(f: &Fields, req: &SearchRequest) -> Result<Params> {
    validate::query_text(&req.q, MAX_QUERY_BYTES)?;
    let limit = validate::limit("limit", req.limit.unwrap_or(DEFAULT_LIMIT), MAX_LIMIT)?;
    let offset = req.offset.unwrap_or(0);
    validate::window(offset, limit, MAX_WINDOW)?;
    let facet_values = validate::limit(
        "max_facet_values",
        req.max_facet_values.unwrap_or(DEFAULT_FACET_VALUES),
        MAX_FACET_VALUES,
    )?;
    let mut filters: Vec<Box<dyn Query>> = Vec::new();
    if !req.types.is_empty() {
        let qs: Vec<_> = req
            .types
            .iter()
            .map(|t| {
                (
                    tantivy::query::Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_u64(f.kind, t.code()),
                        IndexRecordOption::Basic,
                    )) as Box<dyn Query>,
                )
            })
            .collect();
        filters.push(Box::new(tantivy::query::BooleanQuery::new(qs)));
    }
    if let Some(m) = req.market.as_deref().filter(|m| !m.is_empty()) {
        filters.push(market_query(f, &validate::market_param(m)?));
    }
    if let Some(expr) = req.filter.as_deref().filter(|e| !e.trim().is_empty()) {
        filters.extend(parse_filter(f, expr)?);
    }
    Ok(Params {
        limit,
        offset,
        filters,
        facets: req.facets.clone(),
        facet_values,
    })
}

/// A text query's plan: each word's expansions, which words select, and the exact-name
/// keys; it builds the query of each pass.
pub(crate) struct TextPlan<'a> {
    searcher: &'a Searcher,
    f: &'a Fields,
    per_word: Vec<Vec<Expansion>>,
    selective: Vec<bool>,
    /// Words that select (all must match in the first pass).
    pub n_selective: usize,
    /// The name-key bonuses (also what `explain` reports).
    pub keys: KeyBonus,
    /// Synonym rewrites of the query, planned alike and matched as alternatives.
    alts: Vec<TextPlan<'a>>,
}

impl<'a> TextPlan<'a> {
    /// Plan `words` (not empty) against `searcher`.
    pub fn new(searcher: &'a Searcher, f: &'a Fields, words: &[QueryWord]) -> TextPlan<'a> {
        let texts: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
        let per_word = expand(searcher, f, words);
        let mut exact = vec![(key_of_words(&texts), EXACT)];
        exact.extend(
            corrected_keys(searcher, f, words, &per_word)
                .into_iter()
                .map(|k| (k, EXACT * TYPO_KEY_FACTOR)),
        );
        let keys = KeyBonus {
            exact,
            runs: (run_keys(words), COMPLETE),
        };
        let selective = selective_words(searcher, f, words);
        let n_selective = selective.iter().filter(|s| **s).count();
        TextPlan {
            searcher,
            f,
            per_word,
            selective,
            n_selective,
            keys,
            alts: Vec::new(),
        }
    }

    /// Plan each synonym rewrite beside the query: a synonym's words match exactly (no
    /// typo or prefix expansion), the other words as in the query.
    pub fn with_rewrites(mut self, rewrites: Vec<crate::curate::Rewrite>) -> TextPlan<'a> {
        for rw in rewrites {
            let mut alt = TextPlan::new(self.searcher, self.f, &rw.words);
            for (i, w) in rw.words.iter().enumerate() {
                if rw.synonym.get(i).copied().unwrap_or(false) {
                    alt.per_word[i].retain(|e| e.term == w.text);
                }
            }
            self.alts.push(alt);
        }
        self
    }

    /// The query of one pass, restricted by `filters`.
    pub fn query(&self, mode: Match, costs: &[u64], filters: &[Box<dyn Query>]) -> Box<dyn Query> {
        let own_filters = filters.iter().map(|q| q.box_clone()).collect();
        let own = build_query(
            self.f,
            &self.per_word,
            &self.selective,
            mode,
            costs,
            &self.keys,
            own_filters,
        );
        if self.alts.is_empty() {
            return own;
        }
        let mut any = vec![(tantivy::query::Occur::Should, own)];
        for alt in &self.alts {
            let alt_costs = if costs.is_empty() { Vec::new() } else { alt.costs() };
            any.push((tantivy::query::Occur::Should, alt.query(mode, &alt_costs, filters)));
        }
        Box::new(tantivy::query::BooleanQuery::new(any))
    }

    /// Each word's postings (a dictionary lookup per expansion: only for the passes that
    /// walk single words).
    pub fn costs(&self) -> Vec<u64> {
        self.per_word.iter().map(|e| word_cost(self.searcher, e)).collect()
    }
}

/// Keys of every contiguous run of query words, for "the name is in the query".
fn run_keys(words: &[QueryWord]) -> Vec<u64> {
    let texts: Vec<String> = words.iter().filter(|w| !w.cjk).map(|w| w.text.clone()).collect();
    let mut keys = Vec::new();
    for i in 0..texts.len() {
        for j in i + 1..=texts.len().min(i + 8) {
            keys.push(key_of_words(&texts[i..j]));
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Run one search against a searcher, resolving display fields from the store snapshot.
#[allow(clippy::too_many_arguments)]
pub fn run(
    searcher: &Searcher,
    f: &Fields,
    snap: &CatalogSnapshot,
    log_max_pop: [f64; 8],
    segments: Vec<Arc<SegmentData>>,
    taste: Option<&Taste>,
    curation: &crate::curate::Curation,
    req: &SearchRequest,
) -> Result<SearchResponse> {
    let started = Instant::now();
    let p = validate(f, req)?;
    let words = query_words(&req.q);
    // No words: browse (most popular first unless sorted otherwise); a field sort orders
    // a text query's matches by that field.
    let sort = match req.sort {
        Some(s) if s.field != SortField::Relevance => Some(s),
        _ if words.is_empty() => Some(Sort::BROWSE),
        _ => None,
    };
    if let Some(sort) = sort {
        let ctx = crate::browse::Context {
            searcher,
            f,
            snap,
            log_max_pop,
            segments,
        };
        return crate::browse::run(&ctx, &p, &words, sort, started);
    }
    let window = p.offset + p.limit;
    let clicks = req.clicks.as_deref();
    let runs = crate::contiguous::runs(&req.q);
    let pool = if taste.is_some() || clicks.is_some() || !runs.is_empty() {
        window.max(PERSONAL_POOL)
    } else {
        window
    };
    let collector = RankCollector {
        window: pool,
        section_size: SECTION_SIZE,
        log_max_pop,
        segments,
        query_words: words.iter().filter(|w| !w.cjk).count(),
    };
    // Facets are counted in the same passes as the ranking: those of the last pass, whose
    // matches `total` counts.
    let both = (collector, p.facet_collector());
    let plan = TextPlan::new(searcher, f, &words).with_rewrites(curation.rewrites(&words));
    let n_selective = plan.n_selective;
    let (mut ranked, mut counted) = searcher.search(&*plan.query(Match::All, &[], &p.filters), &both)?;
    let all_words_matches = total_of(&ranked);
    // Too few documents have every word: fill the page with those missing one word, and
    // only when even that finds nothing, with those having any word (a union of every
    // word's postings: the most expensive query there is, so the last resort).
    if n_selective > 1 && (total_of(&ranked) as usize) < pool {
        // Word costs matter where a pass would walk single words: all-but-one of two
        // words, and any word. They take a dictionary lookup per expansion, so only then.
        let loose_costs = if n_selective == 2 { plan.costs() } else { vec![] };
        let (loose, loose_counted) =
            searcher.search(&*plan.query(Match::AllButOne, &loose_costs, &p.filters), &both)?;
        ranked = merge_fallback(ranked, loose, pool);
        counted = loose_counted;
        if n_selective > 2 && total_of(&ranked) == 0 {
            (ranked, counted) = searcher.search(&*plan.query(Match::Any, &plan.costs(), &p.filters), &both)?;
        }
    }
    let collector = both.0;
    let total: u64 = ranked.counts.iter().sum();
    let mut cache: HashMap<DocAddress, Option<Hit>> = HashMap::new();
    let explain = req
        .explain
        .then(|| explain_ctx(&collector, &words, plan.keys.exact.clone()));
    // Clicks alone need only the ids of the pool: re-rank the documents and build the page's
    // hits only. Taste, `explain` and contiguity need the hits themselves.
    let rerank_hits = taste.is_some() || explain.is_some() || !runs.is_empty();
    if let (Some(c), false) = (clicks, rerank_hits) {
        click_order_docs(&mut ranked.top, &collector.segments, c).map_err(Error::Index)?;
        ranked.top.truncate(window);
    }
    let mut hits = to_hits(&collector.segments, snap, &ranked.top, &words, taste, &mut cache)?;
    explain_hits(&mut hits, &collector.segments, &ranked.top, explain.as_ref());
    if rerank_hits {
        contiguous_order(&mut hits, &runs);
        learned_order(&mut hits, clicks);
        hits.truncate(window);
    }
    let mut sections = Vec::new();
    for t in EntityType::ALL {
        let docs = &ranked.by_type[t.code() as usize];
        if docs.is_empty() {
            continue;
        }
        sections.push((docs[0].score, t, ranked.counts[t.code() as usize], docs.clone()));
    }
    sections.sort_by(|a, b| b.0.total_cmp(&a.0));
    let sections = sections
        .into_iter()
        .map(|(_, kind, total, docs)| {
            let mut hits = to_hits(&collector.segments, snap, &docs, &words, taste, &mut cache)?;
            explain_hits(&mut hits, &collector.segments, &docs, explain.as_ref());
            contiguous_order(&mut hits, &runs);
            learned_order(&mut hits, clicks);
            Ok(Section {
                kind,
                total: total as usize,
                hits,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut sections = sections;
    if let Some(rule) = curation.rule(&req.q) {
        let ctx = crate::curate::RuleContext {
            searcher,
            f,
            snap,
            segs: &collector.segments,
            words: &words,
            taste,
        };
        crate::curate::apply_rule(rule, &ctx, req, &mut hits, &mut sections, window)?;
    }
    let top_result = hits.first().cloned();
    let hits: Vec<Hit> = hits.into_iter().skip(p.offset).collect();
    Ok(SearchResponse {
        search_id: None,
        hits,
        total: total as usize,
        took_ms: ms(started),
        top_result,
        sections,
        facets: counted.map(|c| c.top(p.facet_values)),
        all_words_matches: Some(all_words_matches),
    })
}

/// Hits for `ids` (in that order) that pass `req`'s filters (`types`, `market`, `filter`),
/// with display fields and highlights of `req.q`: the semantic arm's candidates.
pub fn hits_for_ids(
    searcher: &Searcher,
    f: &Fields,
    snap: &CatalogSnapshot,
    segments: &[Arc<SegmentData>],
    req: &SearchRequest,
    ids: &[String],
) -> Result<Vec<Hit>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let p = validate(f, req)?;
    let terms: Vec<Term> = ids.iter().map(|id| Term::from_field_text(f.id, id)).collect();
    let mut clauses: Vec<(tantivy::query::Occur, Box<dyn Query>)> = vec![(
        tantivy::query::Occur::Must,
        Box::new(tantivy::query::TermSetQuery::new(terms)),
    )];
    clauses.extend(p.filters.into_iter().map(|q| (tantivy::query::Occur::Must, q)));
    let docs = searcher.search(
        &tantivy::query::BooleanQuery::new(clauses),
        &tantivy::collector::DocSetCollector,
    )?;
    let mut by_id: HashMap<String, DocAddress> = HashMap::with_capacity(docs.len());
    for addr in docs {
        if let Some(id) = doc_id(segments, addr)? {
            by_id.insert(id, addr);
        }
    }
    let words = query_words(&req.q);
    let mut out = Vec::with_capacity(by_id.len());
    for id in ids {
        let Some(&addr) = by_id.get(id) else { continue };
        if let Some(h) = build_hit(segments, snap, &Scored { score: 0.0, addr }, &words, None)? {
            out.push(h);
        }
    }
    Ok(out)
}

fn total_of(r: &Ranked) -> u64 {
    r.counts.iter().sum()
}

pub(crate) fn ms(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// Strict (all words) results first, then loose (any word) ones not already there.
fn merge_fallback(strict: Ranked, loose: Ranked, window: usize) -> Ranked {
    let seen: HashSet<DocAddress> = strict.top.iter().map(|s| s.addr).collect();
    let floor = strict.top.last().map(|s| s.score).unwrap_or(f32::MAX);
    let demote = |s: &Scored| Scored {
        score: s.score.min(floor) - 1e-3 - (1.0 / (1.0 + s.score)),
        addr: s.addr,
    };
    let mut top = strict.top;
    top.extend(loose.top.iter().filter(|s| !seen.contains(&s.addr)).map(demote));
    top.truncate(window);
    let mut by_type = strict.by_type;
    for (t, v) in loose.by_type.into_iter().enumerate() {
        let have: HashSet<DocAddress> = by_type[t].iter().map(|s| s.addr).collect();
        let cap = SECTION_SIZE;
        let extra: Vec<Scored> = v.iter().filter(|s| !have.contains(&s.addr)).map(demote).collect();
        by_type[t].extend(extra);
        by_type[t].truncate(cap);
    }
    Ranked {
        top,
        by_type,
        counts: loose.counts,
    }
}

/// The entity id of a hit, from its segment's cached id column.
fn doc_id(segs: &[Arc<SegmentData>], addr: DocAddress) -> Result<Option<String>> {
    match segs.get(addr.segment_ord as usize) {
        Some(d) => d.id(addr.doc_id).map_err(Error::Index),
        None => Ok(None),
    }
}

/// What `explain` needs of this query and collector.
fn explain_ctx(c: &RankCollector, words: &[QueryWord], exact: Vec<(u64, f32)>) -> ExplainCtx {
    ExplainCtx {
        inv_log_max_pop: c.log_max_pop.map(|m| if m > 0.0 { (1.0 / m) as f32 } else { 0.0 }),
        query_words: c.query_words as f32,
        exact,
        run_keys: run_keys(words),
    }
}

/// Fill each hit's `explain` from its collected score (`docs`, in the order `to_hits`
/// turned them into `hits`, which skips documents without a hit).
fn explain_hits(hits: &mut [Hit], segs: &[Arc<SegmentData>], docs: &[Scored], ctx: Option<&ExplainCtx>) {
    let Some(ctx) = ctx else { return };
    let mut docs = docs.iter();
    for h in hits.iter_mut() {
        for s in docs.by_ref() {
            let same = doc_id(segs, s.addr).ok().flatten().is_some_and(|id| id == h.id);
            if let (true, Some(data)) = (same, segs.get(s.addr.segment_ord as usize)) {
                h.explain = Some(ctx.explain(data, s.addr.doc_id, s.score, &h.name));
                break;
            }
        }
    }
}

pub(crate) fn to_hits(
    segs: &[Arc<SegmentData>],
    snap: &CatalogSnapshot,
    docs: &[Scored],
    words: &[QueryWord],
    taste: Option<&Taste>,
    cache: &mut HashMap<DocAddress, Option<Hit>>,
) -> Result<Vec<Hit>> {
    let mut out = Vec::with_capacity(docs.len());
    for s in docs {
        if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(s.addr) {
            slot.insert(build_hit(segs, snap, s, words, taste)?);
        }
        if let Some(Some(h)) = cache.get(&s.addr) {
            let mut h = h.clone();
            h.score = (s.score * 1e4).round() / 1e4;
            out.push(h);
        }
    }
    Ok(out)
}

pub(crate) fn build_hit(
    segs: &[Arc<SegmentData>],
    snap: &CatalogSnapshot,
    s: &Scored,
    words: &[QueryWord],
    taste: Option<&Taste>,
) -> Result<Option<Hit>> {
    {
        let Some(id) = doc_id(segs, s.addr)? else {
            return Ok(None);
        };
        let Some(mut e) = snap.get_display(&id)? else {
            return Ok(None);
        };
        let personalization = taste.and_then(|t| boost(t, &e));
        e.artist_ids.truncate(MAX_HIT_NAMES);
        e.authors.truncate(MAX_HIT_NAMES);
        let names = snap.resolve(&e)?;
        let mut highlights = Vec::new();
        highlights.extend(highlight("name", &e.name, words));
        for a in &names.artists {
            highlights.extend(highlight("artists", a, words));
        }
        if let Some(x) = &names.show {
            highlights.extend(highlight("show", x, words));
        }
        if let Some(x) = &names.album {
            highlights.extend(highlight("album", x, words));
        }
        for a in e.authors.iter() {
            highlights.extend(highlight("authors", a, words));
        }
        Ok(Some(Hit {
            kind: e.entity_type(),
            score: (s.score * 1e4).round() / 1e4,
            artists: names.artists,
            album: names.album,
            show: names.show,
            audiobook: names.audiobook,
            authors: e.authors,
            publisher: e.publisher,
            release_date: e.release_date,
            popularity: e.popularity,
            language: e.language,
            explicit: e.explicit,
            tags: e.tags,
            extra: e.extra,
            highlights,
            personalization,
            explain: None,
            id: e.id,
            name: e.name,
        }))
    }
}
