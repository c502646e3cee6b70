//! Searches ordered by a field: browsing (a request without query words: every entity the
//! filters let through, most popular first unless `sort` says otherwise) and text queries
//! with a field `sort`.
//!
//! A sorted text query matches as a relevance search does, except that the fallback
//! passes replace the strict one rather than fill the page below it: the set is every
//! document with all selective words; when there is none, every document missing at most
//! one; when there is still none, every document with any word. Hits are ordered by the
//! field, ties by relevance, then by id. Sorted answers have no `top_result` nor
//! `sections` (they rank by relevance) and are not personalized.

use crate::collect::{Scored, SegmentData};
use crate::error::Result;
use crate::plan::{Match, QueryWord};
use crate::schema::Fields;
use crate::search::{ms, to_hits, Params, TextPlan};
use crate::sort::{Relevance, Sort, SortCollector, SortedPage};
use crate::types::SearchResponse;
use needle_store::CatalogSnapshot;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query};
use tantivy::Searcher;

/// What a search reads.
pub(crate) struct Context<'a> {
    pub searcher: &'a Searcher,
    pub f: &'a Fields,
    pub snap: &'a CatalogSnapshot,
    pub log_max_pop: [f64; 8],
    pub segments: Vec<Arc<SegmentData>>,
}

/// Every document the filters let through (all of them without filters).
fn browse_query(filters: &[Box<dyn Query>]) -> Box<dyn Query> {
    match filters {
        [] => Box::new(AllQuery),
        [one] => one.box_clone(),
        many => Box::new(BooleanQuery::new(
            many.iter().map(|q| (Occur::Must, q.box_clone())).collect(),
        )),
    }
}

/// Run a sorted search (`sort` is never [`crate::SortField::Relevance`]).
pub(crate) fn run(
    ctx: &Context<'_>,
    p: &Params,
    words: &[QueryWord],
    sort: Sort,
    started: Instant,
) -> Result<SearchResponse> {
    let searcher = ctx.searcher;
    let collector = SortCollector {
        sort,
        window: p.offset + p.limit,
        relevance: (!words.is_empty()).then(|| Relevance {
            log_max_pop: ctx.log_max_pop,
            query_words: words.iter().filter(|w| !w.cjk).count(),
        }),
        segments: ctx.segments.clone(),
    };
    let both = (collector, p.facet_collector());
    let (page, counted): (SortedPage, _) = if words.is_empty() {
        searcher.search(&*browse_query(&p.filters), &both)?
    } else {
        let plan = TextPlan::new(searcher, ctx.f, words);
        let mut found = searcher.search(&*plan.query(Match::All, &[], &p.filters), &both)?;
        if plan.n_selective > 1 && found.0.total == 0 {
            let costs = if plan.n_selective == 2 { plan.costs() } else { vec![] };
            found = searcher.search(&*plan.query(Match::AllButOne, &costs, &p.filters), &both)?;
            if plan.n_selective > 2 && found.0.total == 0 {
                found = searcher.search(&*plan.query(Match::Any, &plan.costs(), &p.filters), &both)?;
            }
        }
        found
    };
    let docs: Vec<Scored> = page
        .top
        .iter()
        .skip(p.offset)
        .map(|d| Scored {
            score: d.score,
            addr: d.addr,
        })
        .collect();
    let hits = to_hits(&ctx.segments, ctx.snap, &docs, words, None, &mut HashMap::new())?;
    Ok(SearchResponse {
        all_words_matches: None,
        search_id: None,
        hits,
        total: page.total as usize,
        took_ms: ms(started),
        top_result: None,
        sections: vec![],
        facets: counted.map(|c| c.top(p.facet_values)),
    })
}
