//! Query planning: from typed text to per-word term expansions and a tantivy query.
//!
//! Every query word becomes a disjunction (max, not sum) over its expansions: the exact
//! word in every text field, typo variants in the known-item fields, and, for the last
//! word, prefix completions. Each expansion carries a constant score
//! `field weight x match quality`, so a word counts once, for its best match.

use crate::analysis::{prefix_term, MAX_PREFIX_CHARS};
use crate::schema::{Fields, Weighted};
use crate::union::{Combine, LeanUnion};
use levenshtein_automata::{Distance, LevenshteinAutomatonBuilder, DFA, SINK_STATE};
use needle_core::text::{tokenize_query, TokenKind};
use std::collections::HashMap;
use std::sync::OnceLock;
use tantivy::query::{BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, EmptyQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Searcher, Term};

/// Quality of an exact word match.
pub const Q_EXACT: f32 = 1.0;
/// Quality of a prefix completion of the last word.
pub const Q_PREFIX: f32 = 0.8;
/// Quality of a one-typo match.
pub const Q_TYPO1: f32 = 0.6;
/// Quality of a two-typo match.
pub const Q_TYPO2: f32 = 0.45;
/// Quality of a prefix completion with one typo.
pub const Q_FUZZY_PREFIX: f32 = 0.5;
/// Document frequency (in names) from which a word gets no typo variants.
const COMMON_WORD_DF: u64 = 500;
/// Most typo variants kept per word and field.
const MAX_TYPO_TERMS: usize = 16;

/// One word of a query.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryWord {
    /// Folded text.
    pub text: String,
    /// A CJK n-gram (never typo- or prefix-expanded).
    pub cjk: bool,
    /// The last word while the listener is still typing: matched as a prefix too.
    pub prefix: bool,
    /// The first word of the query.
    pub first: bool,
}

/// Split a query into words. The last word is a prefix unless the query ends in a space
/// or punctuation (the listener finished the word).
pub fn query_words(q: &str) -> Vec<QueryWord> {
    let tokens = tokenize_query(q);
    let ends_open = tokens.last().is_some_and(|t| t.end == q.len());
    let n = tokens.len();
    tokens
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let cjk = matches!(t.kind, TokenKind::CjkBigram | TokenKind::CjkUnigram);
            QueryWord {
                prefix: !cjk && i + 1 == n && ends_open,
                first: i == 0,
                cjk,
                text: t.text,
            }
        })
        .collect()
}

/// Typos allowed for a word: none under 4 characters, one from 4, two from 8.
pub fn max_typos(word: &str) -> u8 {
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

fn builder(d: u8) -> &'static LevenshteinAutomatonBuilder {
    static B1: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    static B2: OnceLock<LevenshteinAutomatonBuilder> = OnceLock::new();
    if d <= 1 {
        B1.get_or_init(|| LevenshteinAutomatonBuilder::new(1, true))
    } else {
        B2.get_or_init(|| LevenshteinAutomatonBuilder::new(2, true))
    }
}

/// A Levenshtein DFA as an FST automaton.
struct Dfa(DFA);

impl tantivy_fst::Automaton for Dfa {
    type State = u32;
    fn start(&self) -> u32 {
        self.0.initial_state()
    }
    fn is_match(&self, s: &u32) -> bool {
        matches!(self.0.distance(*s), Distance::Exact(_))
    }
    fn can_match(&self, s: &u32) -> bool {
        *s != SINK_STATE
    }
    fn accept(&self, s: &u32, b: u8) -> u32 {
        self.0.transition(*s, b)
    }
}

/// Optimal-string-alignment distance (adjacent transpositions count as one edit).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// One candidate term for a word, with its constant score.
#[derive(Debug, Clone, PartialEq)]
pub struct Expansion {
    /// Field searched.
    pub field: Field,
    /// Term text.
    pub term: String,
    /// `field weight x quality`.
    pub score: f32,
}

/// Terms within `d` typos of `word` in `field`, across all segments, best first.
/// The first letter must match: it bounds the dictionary scan to one letter's subtree.
fn typo_terms(searcher: &Searcher, field: Field, word: &str, d: u8) -> Vec<(String, u8, u32)> {
    let mut found: HashMap<String, (u8, u32)> = HashMap::new();
    let first = word.chars().next().map(|c| c.to_string()).unwrap_or_default();
    let mut upper = first.clone().into_bytes();
    if let Some(last) = upper.last_mut() {
        *last = last.saturating_add(1);
    }
    for seg in searcher.segment_readers() {
        let Ok(inv) = seg.inverted_index(field) else { continue };
        let dict = inv.terms();
        let mut run = |dfa: DFA, max_d: u8| {
            let b = dict.search(Dfa(dfa)).ge(first.as_bytes()).lt(&upper);
            let Ok(mut stream) = b.into_stream() else { return };
            let mut seen = 0;
            while stream.advance() && seen < 2000 {
                seen += 1;
                let Ok(t) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                if t == word {
                    continue;
                }
                let dist = edit_distance(word, t) as u8;
                if dist == 0 || dist > max_d {
                    continue;
                }
                let df = stream.value().doc_freq;
                let e = found.entry(t.to_string()).or_insert((dist, 0));
                e.0 = e.0.min(dist);
                e.1 += df;
            }
        };
        run(builder(d).build_dfa(word), d);
    }
    let mut v: Vec<(String, u8, u32)> = found.into_iter().map(|(t, (d, df))| (t, d, df)).collect();
    v.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    v.truncate(MAX_TYPO_TERMS);
    v
}

/// A lone query word this frequent in names is not looked up in long-text fields: the
/// names it matches already fill any page (a description match weighs 0.3 against a
/// name's 0.8+), and scanning every description that says "the" would cost more than
/// everything else together.
const NAME_DF_SKIP_LONG_TEXT: u64 = 2000;

/// Expand every query word into scored terms.
pub fn expand(searcher: &Searcher, f: &Fields, words: &[QueryWord]) -> Vec<Vec<Expansion>> {
    let mut out: Vec<Vec<Expansion>> = words.iter().map(|w| expand_word(searcher, f, w)).collect();
    if let [w] = words {
        let df = searcher.doc_freq(&Term::from_field_text(f.name, &w.text)).unwrap_or(0);
        if df >= NAME_DF_SKIP_LONG_TEXT {
            out[0].retain(|e| e.field != f.description && e.field != f.transcript);
        }
    }
    out
}

fn push(out: &mut Vec<Expansion>, wf: Weighted, term: &str, q: f32) {
    out.push(Expansion {
        field: wf.field,
        term: term.to_string(),
        score: wf.weight * q,
    });
}

fn expand_word(searcher: &Searcher, f: &Fields, w: &QueryWord) -> Vec<Expansion> {
    let mut out = Vec::new();
    for wf in f.word_fields() {
        push(&mut out, wf, &w.text, Q_EXACT);
    }
    if w.cjk {
        return out;
    }
    let mut typos = max_typos(&w.text);
    // A word that is itself common in names was most likely typed as meant: its typo
    // variants would only add noise (and large posting lists) to the query.
    if typos > 0
        && searcher
            .doc_freq(&Term::from_field_text(f.lexicon, &w.text))
            .unwrap_or(0)
            >= COMMON_WORD_DF
    {
        typos = 0;
    }
    // A last word that still completes some name word is being typed, not misspelled:
    // its completions outrank its typo corrections ("anniel" → "Anniela" before "Annie").
    let typing = w.prefix
        && searcher
            .doc_freq(&Term::from_field_text(f.name_pre, prefix_term(&w.text)))
            .unwrap_or(0)
            > 0;
    let typo_factor = if typing { 0.5 } else { 1.0 };
    if typos > 0 {
        for (term, d, _) in typo_terms(searcher, f.lexicon, &w.text, typos) {
            for wf in f.typo_fields() {
                push(
                    &mut out,
                    wf,
                    &term,
                    typo_factor * if d == 1 { Q_TYPO1 } else { Q_TYPO2 },
                );
            }
        }
    }
    if w.prefix {
        let p = prefix_term(&w.text);
        // One or two typed characters match nearly everything: only names count then,
        // which keeps the first keystrokes fast and their hits meaningful.
        let typed = w.text.chars().count();
        // A single character only completes the first word of a name.
        // The first word of a query completes only names then (a lone `a` would match
        // half the catalog otherwise); a later word completes any word of a name or of a
        // related name ("kyau v" finds "Kyau vs. Albert").
        let pf = f.prefix_fields();
        let chosen: Vec<Weighted> = match (typed, w.first) {
            (3.., _) => pf.to_vec(),
            (_, false) => vec![pf[0], pf[2]],
            (2, true) => vec![pf[0]],
            _ => vec![],
        };
        for wf in chosen {
            push(&mut out, wf, p, Q_PREFIX);
        }
        if w.first {
            push(
                &mut out,
                Weighted {
                    field: f.name_start,
                    weight: 1.1,
                },
                p,
                Q_PREFIX,
            );
        }
        if typos > 0 && !typing && w.text.chars().count() <= MAX_PREFIX_CHARS {
            let name_pre = f.prefix_fields()[0];
            for (term, _, _) in typo_terms(searcher, name_pre.field, p, 1) {
                push(&mut out, name_pre, &term, Q_FUZZY_PREFIX);
            }
        }
    }
    out
}

/// Bonus factor of a name matched only without its leading article.
pub const ALT_KEY_FACTOR: f32 = 0.6;
/// Bonus factor of a name matched exactly after typo correction.
pub const TYPO_KEY_FACTOR: f32 = 0.7;

/// Keys of the query with each word replaced by one of its best typo corrections:
/// "smmokey" is exactly the artist "Smokey" once corrected. A last word still being typed
/// (it begins some name word: "anniel" of "Anniela") is not corrected. At most 32 combinations.
pub fn corrected_keys(searcher: &Searcher, f: &Fields, words: &[QueryWord], per_word: &[Vec<Expansion>]) -> Vec<u64> {
    let name = f.name;
    // Corrections tried per word (the word itself included): a lone word can afford many
    // key lookups, and its best correction by dictionary frequency is often not the meant
    // one ("dezree": "degree" is more frequent than "desree", the artist Des'ree).
    let per_word_cands = match words.len() {
        1 => 9,
        2 => 5,
        _ => 3,
    };
    let mut combos: Vec<Vec<String>> = vec![vec![]];
    let mut any = false;
    for (w, exps) in words.iter().zip(per_word) {
        let mut cands = vec![w.text.clone()];
        let typing = w.prefix
            && searcher
                .doc_freq(&Term::from_field_text(f.name_pre, prefix_term(&w.text)))
                .unwrap_or(0)
                > 0;
        for e in exps
            .iter()
            .filter(|e| !typing && e.field == name && e.score < Q_EXACT && e.score != Q_PREFIX && e.term != w.text)
        {
            if cands.len() >= per_word_cands {
                break;
            }
            if !cands.contains(&e.term) {
                cands.push(e.term.clone());
                any = true;
            }
        }
        combos = combos
            .into_iter()
            .flat_map(|c| {
                cands.iter().map(move |t| {
                    let mut c = c.clone();
                    c.push(t.clone());
                    c
                })
            })
            .take(32)
            .collect();
    }
    if !any {
        return vec![];
    }
    let exact: Vec<String> = words.iter().map(|w| w.text.clone()).collect();
    combos
        .into_iter()
        .filter(|c| *c != exact)
        .map(|c| needle_core::text::key_of_words(&c))
        .collect()
}

/// One word's disjunction: its best-scoring expansion counts. `lean` when the word will
/// be seeked inside an intersection rather than walked (see [`crate::union`]).
fn word_query(exps: &[Expansion], lean: bool) -> Box<dyn Query> {
    let disjuncts: Vec<Box<dyn Query>> = exps
        .iter()
        .map(|e| {
            let tq = TermQuery::new(Term::from_field_text(e.field, &e.term), IndexRecordOption::Basic);
            Box::new(ConstScoreQuery::new(Box::new(tq), e.score)) as Box<dyn Query>
        })
        .collect();
    if lean {
        Box::new(LeanUnion::new(disjuncts, Combine::Max))
    } else {
        Box::new(DisjunctionMaxQuery::new(disjuncts))
    }
}

/// Name-key bonuses: `exact` when the whole query is a name, `complete` when a run of
/// query words is one. Optional clauses: they add to the score, never select.
pub struct KeyBonus {
    /// Keys the whole query may be (as typed, and with typo corrections), with bonuses.
    pub exact: Vec<(u64, f32)>,
    /// Keys of contiguous runs of query words, and their bonus.
    pub runs: (Vec<u64>, f32),
}

fn key_query(f: &Fields, k: &KeyBonus) -> Box<dyn Query> {
    let term = |key: u64, score: f32| -> Box<dyn Query> {
        let tq = TermQuery::new(Term::from_field_u64(f.keys, key), IndexRecordOption::Basic);
        Box::new(ConstScoreQuery::new(Box::new(tq), score))
    };
    let alt = |key: u64, score: f32| -> Box<dyn Query> {
        let tq = TermQuery::new(Term::from_field_u64(f.alt_keys, key), IndexRecordOption::Basic);
        Box::new(ConstScoreQuery::new(Box::new(tq), score))
    };
    let mut d: Vec<Box<dyn Query>> = Vec::new();
    for (key, score) in &k.exact {
        d.push(term(*key, *score));
        // A name matched only without its article ("beatles" for "The Beatles") ranks just
        // below the name that is exactly the query ("Model" above "The Model").
        d.push(alt(*key, score * ALT_KEY_FACTOR));
    }
    d.extend(
        k.runs
            .0
            .iter()
            .filter(|r| !k.exact.iter().any(|e| e.0 == **r))
            .map(|r| term(*r, k.runs.1)),
    );
    Box::new(LeanUnion::new(d, Combine::Max))
}

/// Documents a word may match as typed (summed over the word fields), from which the
/// word stops selecting documents when the query has a rarer word: it only adds to the
/// score of the documents the rarer words select (see [`selective_words`]).
pub const COMMON_WORD_MATCHES: u64 = 20_000;

/// Which words select documents. A word that, as typed, matches more than
/// `max(COMMON_WORD_MATCHES, docs / 50)` documents ("the", "podcast", "of") would make
/// the engine walk hundreds of thousands of postings to intersect or union them, while
/// the query's rarer words already pin the candidates down: such a word is made optional
/// (it still scores where it matches). Typo and prefix variants do not make a word
/// common ("worls" is rare even though its variant "world" is not). When every word is
/// common, all select.
pub fn selective_words(searcher: &Searcher, f: &Fields, words: &[QueryWord]) -> Vec<bool> {
    selective_words_within(searcher, f, words, COMMON_WORD_MATCHES.max(searcher.num_docs() / 50))
}

/// [`selective_words`] with an explicit limit of matches.
pub fn selective_words_within(searcher: &Searcher, f: &Fields, words: &[QueryWord], limit: u64) -> Vec<bool> {
    let sel: Vec<bool> = words
        .iter()
        .map(|w| {
            let mut df = 0u64;
            for wf in f.word_fields() {
                df += searcher
                    .doc_freq(&Term::from_field_text(wf.field, &w.text))
                    .unwrap_or(0);
                if df > limit {
                    return false;
                }
            }
            true
        })
        .collect();
    if sel.iter().any(|s| *s) {
        sel
    } else {
        vec![true; words.len()]
    }
}

/// Postings a word's expansions hold (summed document frequencies): what walking the
/// word would cost. Used to keep fallback passes from walking a word that matches a large
/// part of the catalog ("e" while typing, a typo of "podcast").
pub fn word_cost(searcher: &Searcher, exps: &[Expansion]) -> u64 {
    exps.iter()
        .map(|e| searcher.doc_freq(&Term::from_field_text(e.field, &e.term)).unwrap_or(0))
        .sum()
}

/// Postings from which a fallback pass will not walk a word (or a group of words led by
/// it): with this many candidates, a word alone says little about what was meant.
pub const MAX_FALLBACK_COST: u64 = 50_000;

/// How many of the selective words a document must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Every selective word.
    All,
    /// All but at most one (one misspelled or absent word anywhere in the query).
    /// Alternatives whose rarest word costs more than [`MAX_FALLBACK_COST`] are left out;
    /// the costs are per query word (see [`word_cost`]).
    AllButOne,
    /// At least one, leaving out words that cost more than [`MAX_FALLBACK_COST`].
    Any,
}

/// The full query: the selective words as `mode` requires, the common words optional,
/// the name-key bonuses, and the filters.
pub fn build_query(
    f: &Fields,
    per_word: &[Vec<Expansion>],
    selective: &[bool],
    mode: Match,
    costs: &[u64],
    keys: &KeyBonus,
    filters: Vec<Box<dyn Query>>,
) -> Box<dyn Query> {
    let is_selective = |i: usize| selective.get(i).copied().unwrap_or(true);
    let n_required = (0..per_word.len()).filter(|i| is_selective(*i)).count();
    // Walked (one word, or any word) or seeked (every word of an intersection).
    let lean = mode != Match::Any && n_required > 1;
    let mut required: Vec<Box<dyn Query>> = Vec::new();
    // Optional clauses, summed into one lean union so that each required candidate
    // costs one seek per clause (several `Should` clauses would become a buffered union).
    let mut optional: Vec<Box<dyn Query>> = Vec::new();
    for (i, e) in per_word.iter().enumerate() {
        if is_selective(i) {
            required.push(word_query(e, lean));
        } else {
            optional.push(word_query(e, true));
        }
    }
    optional.push(key_query(f, keys));
    let any_of = |qs: Vec<Box<dyn Query>>| -> Box<dyn Query> {
        Box::new(BooleanQuery::new(qs.into_iter().map(|q| (Occur::Should, q)).collect()))
    };
    // Cost of each required word, in `required` order (unknown costs count as cheap).
    let costs: Vec<u64> = (0..per_word.len())
        .filter(|i| is_selective(*i))
        .map(|i| costs.get(i).copied().unwrap_or(0))
        .collect();
    let mut text: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    match mode {
        Match::All => text.extend(required.into_iter().map(|q| (Occur::Must, q))),
        // Each alternative is an intersection led by its rarest word, so this stays cheap
        // where a plain union of the words would walk every posting of every word.
        Match::AllButOne if required.len() > 2 => {
            let alternatives: Vec<Box<dyn Query>> = (0..required.len())
                .filter(|skip| {
                    let lead = (0..required.len()).filter(|i| i != skip).map(|i| costs[i]).min();
                    lead.unwrap_or(0) <= MAX_FALLBACK_COST
                })
                .map(|skip| {
                    let all: Vec<(Occur, Box<dyn Query>)> = required
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != skip)
                        .map(|(_, q)| (Occur::Must, q.box_clone()))
                        .collect();
                    Box::new(BooleanQuery::new(all)) as Box<dyn Query>
                })
                .collect();
            if alternatives.is_empty() {
                return Box::new(EmptyQuery);
            }
            text.push((Occur::Must, any_of(alternatives)));
        }
        Match::AllButOne | Match::Any => {
            let cheap: Vec<Box<dyn Query>> = required
                .into_iter()
                .zip(&costs)
                .filter(|(_, c)| **c <= MAX_FALLBACK_COST)
                .map(|(q, _)| q)
                .collect();
            if cheap.is_empty() {
                return Box::new(EmptyQuery);
            }
            text.push((Occur::Must, any_of(cheap)));
        }
    }
    text.push((Occur::Should, Box::new(LeanUnion::new(optional, Combine::Sum))));
    for fq in filters {
        text.push((Occur::Must, Box::new(ConstScoreQuery::new(fq, 0.0))));
    }
    Box::new(BooleanQuery::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_word_is_prefix_while_typing() {
        let w = query_words("hello ad");
        assert!(!w[0].prefix && w[1].prefix);
        let w = query_words("hello ");
        assert!(!w[0].prefix);
        let w = query_words("東京");
        assert!(w[0].cjk && !w[0].prefix);
    }

    #[test]
    fn typo_budget_by_length() {
        assert_eq!(max_typos("abc"), 0);
        assert_eq!(max_typos("adele"), 1);
        assert_eq!(max_typos("beyoncee"), 2);
    }

    fn searcher_with_names(names: &[&str]) -> (Searcher, Fields) {
        let (schema, f) = crate::schema::build_schema();
        let index = tantivy::Index::create_in_ram(schema);
        crate::analysis::register(&index);
        let mut w: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
        for n in names {
            let mut d = tantivy::TantivyDocument::default();
            d.add_text(f.name, n);
            w.add_document(d).unwrap();
        }
        w.commit().unwrap();
        (index.reader().unwrap().searcher(), f)
    }

    #[test]
    fn common_words_stop_selecting_unless_all_are_common() {
        let (searcher, f) = searcher_with_names(&["The Doors", "The Who", "The Band", "Doors of the Sea"]);
        // "the" is in 4 names, "doors" in 2: with a limit of 3, only "doors" selects.
        let sel = selective_words_within(&searcher, &f, &query_words("the doors "), 3);
        assert_eq!(sel, vec![false, true]);
        // A query of common words only keeps them all required.
        let sel = selective_words_within(&searcher, &f, &query_words("the the "), 3);
        assert_eq!(sel, vec![true, true]);
        // Under the default limit a small catalog has no common word.
        assert_eq!(
            selective_words(&searcher, &f, &query_words("the doors ")),
            vec![true, true]
        );
    }

    #[test]
    fn osa_distance() {
        assert_eq!(edit_distance("beyonce", "beyonse"), 1);
        assert_eq!(edit_distance("shakira", "shakria"), 1);
        assert_eq!(edit_distance("metallica", "metalica"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
