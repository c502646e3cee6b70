//! A disjunction that is cheap to seek.
//!
//! tantivy's union scorer buffers a 4,096-document window: ideal when the union drives a
//! query and is walked doc by doc, but every seek past the window clears the whole
//! window. Inside an intersection led by a rarer word, a query word's disjunction is
//! seeked once per candidate, far each time, and those clears became the largest cost of
//! multi-word queries on a large catalog. [`LeanUnion`] keeps only its children's
//! cursors: a seek moves the children that are behind, nothing else.

use std::fmt;
use tantivy::query::{EnableScoring, Explanation, Query, Scorer, Weight};
use tantivy::{DocId, DocSet, Score, SegmentReader, TERMINATED};

/// How the scores of the children that match a document combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Combine {
    /// The best child counts (one query word's alternatives).
    Max,
    /// Every matching child adds (independent optional clauses).
    Sum,
}

/// Union of sub-queries with a seek-friendly scorer (see the module docs).
pub struct LeanUnion {
    children: Vec<Box<dyn Query>>,
    combine: Combine,
}

impl LeanUnion {
    /// A union of `children` scored by `combine`.
    pub fn new(children: Vec<Box<dyn Query>>, combine: Combine) -> Self {
        LeanUnion { children, combine }
    }
}

impl Clone for LeanUnion {
    fn clone(&self) -> Self {
        LeanUnion {
            children: self.children.iter().map(|c| c.box_clone()).collect(),
            combine: self.combine,
        }
    }
}

impl fmt::Debug for LeanUnion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeanUnion")
            .field("combine", &self.combine)
            .field("children", &self.children)
            .finish()
    }
}

impl Query for LeanUnion {
    fn weight(&self, enable_scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        let children = self
            .children
            .iter()
            .map(|c| c.weight(enable_scoring))
            .collect::<tantivy::Result<Vec<_>>>()?;
        Ok(Box::new(LeanUnionWeight {
            children,
            combine: self.combine,
        }))
    }

    fn query_terms<'a>(&'a self, visitor: &mut dyn FnMut(&'a tantivy::Term, bool)) {
        for c in &self.children {
            c.query_terms(visitor);
        }
    }
}

struct LeanUnionWeight {
    children: Vec<Box<dyn Weight>>,
    combine: Combine,
}

impl Weight for LeanUnionWeight {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let mut kids = Vec::with_capacity(self.children.len());
        for w in &self.children {
            let s = w.scorer(reader, boost)?;
            if s.doc() != TERMINATED {
                kids.push(s);
            }
        }
        Ok(Box::new(LeanUnionScorer::new(kids, self.combine)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        let mut scorer = self.scorer(reader, 1.0)?;
        if scorer.seek(doc) != doc {
            return Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} does not match"
            )));
        }
        Ok(Explanation::new("LeanUnion", scorer.score()))
    }
}

/// The scorer: the current document is the smallest of the children's.
pub struct LeanUnionScorer {
    kids: Vec<Box<dyn Scorer>>,
    combine: Combine,
    doc: DocId,
}

impl LeanUnionScorer {
    fn new(kids: Vec<Box<dyn Scorer>>, combine: Combine) -> Self {
        let mut s = LeanUnionScorer {
            kids,
            combine,
            doc: TERMINATED,
        };
        s.settle();
        s
    }

    /// Drop exhausted children and take the smallest current document.
    fn settle(&mut self) {
        self.kids.retain(|k| k.doc() != TERMINATED);
        self.doc = self.kids.iter().map(|k| k.doc()).min().unwrap_or(TERMINATED);
    }
}

impl DocSet for LeanUnionScorer {
    fn advance(&mut self) -> DocId {
        if self.doc == TERMINATED {
            return TERMINATED;
        }
        let cur = self.doc;
        for k in &mut self.kids {
            if k.doc() == cur {
                k.advance();
            }
        }
        self.settle();
        self.doc
    }

    fn seek(&mut self, target: DocId) -> DocId {
        if self.doc >= target {
            return self.doc;
        }
        for k in &mut self.kids {
            if k.doc() < target {
                k.seek(target);
            }
        }
        self.settle();
        self.doc
    }

    fn doc(&self) -> DocId {
        self.doc
    }

    fn size_hint(&self) -> u32 {
        self.kids
            .iter()
            .map(|k| k.size_hint())
            .fold(0u32, |a, b| a.saturating_add(b))
    }

    fn cost(&self) -> u64 {
        self.kids.iter().map(|k| k.cost()).sum()
    }
}

impl Scorer for LeanUnionScorer {
    fn score(&mut self) -> Score {
        let doc = self.doc;
        let mut out: Score = 0.0;
        for k in &mut self.kids {
            if k.doc() == doc {
                let s = k.score();
                out = match self.combine {
                    Combine::Max => out.max(s),
                    Combine::Sum => out + s,
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::query::{ConstScoreQuery, DisjunctionMaxQuery, TermQuery};
    use tantivy::schema::{IndexRecordOption, Schema, TEXT};
    use tantivy::{doc, Index, Term};

    fn index(docs: &[&str]) -> (Index, tantivy::schema::Field) {
        let mut b = Schema::builder();
        let f = b.add_text_field("t", TEXT);
        let index = Index::create_in_ram(b.build());
        let mut w: tantivy::IndexWriter = index.writer(15_000_000).unwrap();
        for d in docs {
            w.add_document(doc!(f => *d)).unwrap();
        }
        w.commit().unwrap();
        (index, f)
    }

    fn term(f: tantivy::schema::Field, t: &str, score: f32) -> Box<dyn Query> {
        Box::new(ConstScoreQuery::new(
            Box::new(TermQuery::new(Term::from_field_text(f, t), IndexRecordOption::Basic)),
            score,
        ))
    }

    fn matches(index: &Index, q: &dyn Query) -> Vec<(DocId, f32)> {
        let searcher = index.reader().unwrap().searcher();
        let w = q.weight(EnableScoring::enabled_from_searcher(&searcher)).unwrap();
        let mut out = Vec::new();
        w.for_each(searcher.segment_reader(0), &mut |d, s| out.push((d, s)))
            .unwrap();
        out
    }

    #[test]
    fn same_documents_and_scores_as_tantivys_disjunction_max() {
        let (index, f) = index(&["a b", "b", "c", "a c", "d", "a b c"]);
        let kids = || vec![term(f, "a", 1.0), term(f, "b", 2.0), term(f, "c", 0.5)];
        let lean = LeanUnion::new(kids(), Combine::Max);
        let dismax = DisjunctionMaxQuery::new(kids());
        assert_eq!(matches(&index, &lean), matches(&index, &dismax));
        let sum = LeanUnion::new(kids(), Combine::Sum);
        let got: Vec<f32> = matches(&index, &sum).iter().map(|x| x.1).collect();
        assert_eq!(got, vec![3.0, 2.0, 0.5, 1.5, 3.5]);
    }

    #[test]
    fn seek_lands_on_the_next_match() {
        let (index, f) = index(&["a", "x", "x", "b", "x", "a"]);
        let searcher = index.reader().unwrap().searcher();
        let q = LeanUnion::new(vec![term(f, "a", 1.0), term(f, "b", 1.0)], Combine::Max);
        let w = q.weight(EnableScoring::enabled_from_searcher(&searcher)).unwrap();
        let mut s = w.scorer(searcher.segment_reader(0), 1.0).unwrap();
        assert_eq!(s.doc(), 0);
        assert_eq!(s.seek(1), 3);
        assert_eq!(s.seek(3), 3);
        assert_eq!(s.seek(4), 5);
        assert_eq!(s.advance(), TERMINATED);
        let empty = LeanUnion::new(vec![term(f, "zzz", 1.0)], Combine::Max);
        let w = empty.weight(EnableScoring::enabled_from_searcher(&searcher)).unwrap();
        assert_eq!(w.scorer(searcher.segment_reader(0), 1.0).unwrap().doc(), TERMINATED);
    }
}
