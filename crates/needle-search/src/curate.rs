//! Curation at query time: synonym rewrites of the query words (planned as alternatives
//! of the original query) and query rules applied to the ranked hits (hidden items
//! removed, pinned items placed). See `docs/search.md`, "Curation".

use crate::collect::{Scored, SegmentData};
use crate::error::Result;
use crate::plan::QueryWord;
use crate::schema::Fields;
use crate::taste::Taste;
use crate::types::{Hit, SearchRequest, Section};
use needle_core::curation::{normalize_query, Rule, SynonymGroup};
use needle_store::CatalogSnapshot;
use std::collections::HashMap;
use std::sync::Arc;
use tantivy::schema::IndexRecordOption;
use tantivy::{DocAddress, DocSet, Searcher, Term, TERMINATED};

/// Most synonym rewrites of one query planned beside it.
pub const MAX_REWRITES: usize = 4;

/// The synonyms and rules in force, compiled for lookups.
#[derive(Debug, Default)]
pub struct Curation {
    /// Folded source words → folded alternatives.
    synonyms: HashMap<Vec<String>, Vec<Vec<String>>>,
    longest_source: usize,
    /// Normalized query → its rules, merged.
    rules: HashMap<String, Rule>,
}

/// A query rewritten with one synonym: its words, and which of them came from the synonym
/// (matched exactly: no typo or prefix expansion).
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    /// The words.
    pub words: Vec<QueryWord>,
    /// Per word: it is a synonym's word.
    pub synonym: Vec<bool>,
}

impl Curation {
    /// Compile `groups` and `rules`.
    pub fn new(groups: &[SynonymGroup], rules: &[Rule]) -> Curation {
        let mut c = Curation::default();
        for g in groups {
            for (from, to) in g.pairs() {
                if from.is_empty() || to.is_empty() {
                    continue;
                }
                c.longest_source = c.longest_source.max(from.len());
                let alts = c.synonyms.entry(from).or_default();
                if !alts.contains(&to) {
                    alts.push(to);
                }
            }
        }
        for r in rules {
            let merged = c.rules.entry(normalize_query(&r.query)).or_insert_with(|| Rule {
                query: r.query.clone(),
                pin: Vec::new(),
                hide: Vec::new(),
            });
            merged.pin.extend(r.pin.iter().cloned());
            merged.hide.extend(r.hide.iter().cloned());
        }
        c
    }

    /// The query rewritten with each synonym whose source words appear in it (exact
    /// folded words), one substitution per rewrite, at most [`MAX_REWRITES`].
    pub fn rewrites(&self, words: &[QueryWord]) -> Vec<Rewrite> {
        let mut out = Vec::new();
        if self.synonyms.is_empty() || words.iter().any(|w| w.cjk) {
            return out;
        }
        let texts: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
        for i in 0..words.len() {
            for len in (1..=self.longest_source.min(words.len() - i)).rev() {
                let Some(alts) = self.synonyms.get(&texts[i..i + len]) else {
                    continue;
                };
                for alt in alts {
                    if out.len() == MAX_REWRITES {
                        return out;
                    }
                    let mut w: Vec<QueryWord> = words[..i].to_vec();
                    let mut synonym = vec![false; i];
                    for t in alt {
                        w.push(QueryWord {
                            text: t.clone(),
                            cjk: false,
                            prefix: false,
                            first: w.is_empty(),
                        });
                        synonym.push(true);
                    }
                    w.extend(words[i + len..].iter().cloned());
                    synonym.extend(std::iter::repeat_n(false, words.len() - i - len));
                    out.push(Rewrite { words: w, synonym });
                }
            }
        }
        out
    }

    /// The rule for query text `q`, if any.
    pub fn rule(&self, q: &str) -> Option<&Rule> {
        if self.rules.is_empty() {
            return None;
        }
        self.rules.get(&normalize_query(q))
    }

    /// No synonyms and no rules.
    pub fn is_empty(&self) -> bool {
        self.synonyms.is_empty() && self.rules.is_empty()
    }
}

/// What applying a rule needs besides the hits.
pub(crate) struct RuleContext<'a> {
    pub searcher: &'a Searcher,
    pub f: &'a Fields,
    pub snap: &'a CatalogSnapshot,
    pub segs: &'a [Arc<SegmentData>],
    pub words: &'a [QueryWord],
    pub taste: Option<&'a Taste>,
}

/// Apply `rule` to ranked `hits` (the whole window, before the page offset) and the
/// sections: hidden items go; pinned items move to their position (1-based) — fetched
/// even when they did not match, unless the request restricts types, market or filter —
/// and the window keeps its length `window`.
pub(crate) fn apply_rule(
    rule: &Rule,
    ctx: &RuleContext<'_>,
    req: &SearchRequest,
    hits: &mut Vec<Hit>,
    sections: &mut [Section],
    window: usize,
) -> Result<()> {
    let hidden = |h: &Hit| rule.hide.contains(&h.id);
    hits.retain(|h| !hidden(h));
    for s in sections.iter_mut() {
        s.hits.retain(|h| !hidden(h));
    }
    let restricted = !req.types.is_empty()
        || req.market.as_deref().is_some_and(|m| !m.is_empty())
        || req.filter.as_deref().is_some_and(|f| !f.trim().is_empty());
    let mut pins: Vec<_> = rule.pin.iter().filter(|p| !rule.hide.contains(&p.id)).collect();
    pins.sort_by_key(|p| p.position);
    for p in pins {
        let at = p.position - 1;
        if at >= window {
            continue;
        }
        let hit = match hits.iter().position(|h| h.id == p.id) {
            Some(i) => Some(hits.remove(i)),
            None if restricted => None,
            None => fetch(ctx, &p.id)?,
        };
        if let Some(mut h) = hit {
            // Shown where pinned: its score is that of the place it takes.
            if let Some(s) = hits.get(at).or(hits.last()).map(|x| x.score) {
                h.score = h.score.max(s);
            }
            hits.insert(at.min(hits.len()), h);
        }
    }
    hits.truncate(window);
    Ok(())
}

/// The hit of entity `id`, matched or not.
fn fetch(ctx: &RuleContext<'_>, id: &str) -> Result<Option<Hit>> {
    let term = Term::from_field_text(ctx.f.id, id);
    for (ord, seg) in ctx.searcher.segment_readers().iter().enumerate() {
        let inv = seg.inverted_index(ctx.f.id)?;
        let Some(mut postings) = inv
            .read_postings(&term, IndexRecordOption::Basic)
            .map_err(tantivy::TantivyError::from)?
        else {
            continue;
        };
        let mut doc = postings.doc();
        while doc != TERMINATED {
            if !seg.is_deleted(doc) {
                let addr = DocAddress::new(ord as u32, doc);
                return crate::search::build_hit(
                    ctx.segs,
                    ctx.snap,
                    &Scored { score: 0.0, addr },
                    ctx.words,
                    ctx.taste,
                );
            }
            doc = postings.advance();
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::query_words;

    #[test]
    fn one_way_synonyms_do_not_reverse_and_multi_word_sources_match() {
        let c = Curation::new(
            &[
                SynonymGroup::OneWay {
                    from: "LP".into(),
                    to: vec!["long play".into()],
                },
                SynonymGroup::MultiWay {
                    synonyms: vec!["dj".into(), "disc jockey".into()],
                },
            ],
            &[],
        );
        let texts = |r: &Rewrite| r.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
        let r = c.rewrites(&query_words("best lp"));
        assert_eq!(r.iter().map(texts).collect::<Vec<_>>(), ["best long play"]);
        assert_eq!(r[0].synonym, [false, true, true]);
        assert!(c.rewrites(&query_words("long play")).is_empty());
        let r = c.rewrites(&query_words("disc jockey mix"));
        assert_eq!(r.iter().map(texts).collect::<Vec<_>>(), ["dj mix"]);
        assert!(r[0].words[0].first && !r[0].words[0].prefix);
        assert_eq!(
            c.rewrites(&query_words("dj")).iter().map(texts).collect::<Vec<_>>(),
            ["disc jockey"]
        );
        // Exact folded words only: a typo of the source is not rewritten.
        assert!(c.rewrites(&query_words("djj")).is_empty());
    }
}
