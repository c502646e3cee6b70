//! The ranking collector: text score plus exact-match bonuses and a popularity prior,
//! with a global top-k and per-type sections in one pass.
//!
//! `final = text + PRIOR·ln(1+pop)/ln(1+max pop of the type)`, where `text` already
//! holds the name-key bonuses (`EXACT` when the query is the name, `COMPLETE` when a run
//! of query words is) as optional query clauses.
//!
//! The prior is bounded by `PRIOR`, smaller than the gap between an exact and a partial
//! match, so popularity breaks ties and lifts famous items among equals but never lets
//! a popular non-match beat an exact match.

use needle_core::EntityType;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// Bonus when the whole query is the name (or an alias).
pub const EXACT: f32 = 1.5;
/// Bonus when a contiguous run of the query words is the whole name (`title artist`).
pub const COMPLETE: f32 = 0.6;
/// Weight of the popularity prior.
pub const PRIOR: f32 = 0.5;
/// Weight of name coverage: `min(1, query words / name words)`, for queries of two words
/// or more. Among equal matches the name the query covers best comes first ("tramp abroa":
/// "Tramp Abroad" before "A Tramp Abroad by Mark Twain"), which is what a length-normalized
/// score gives the anchors. A single word is most often the start of a longer query, so it
/// does not prefer one-word names ("su" still finds "Sunflower" before "Sucker").
pub const COVER: f32 = 0.1;

/// Number of entity types (type codes are `0..NTYPES`).
pub const NTYPES: usize = EntityType::ALL.len();

/// A scored document.
#[derive(Debug, Clone, Copy)]
pub struct Scored {
    /// Final score.
    pub score: f32,
    /// Where the document is.
    pub addr: DocAddress,
}

impl PartialEq for Scored {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Scored {}
impl PartialOrd for Scored {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Scored {
    /// Better documents compare *smaller*, so a max-heap keeps the worst on top.
    fn cmp(&self, o: &Self) -> Ordering {
        o.score
            .total_cmp(&self.score)
            .then(self.addr.segment_ord.cmp(&o.addr.segment_ord))
            .then(self.addr.doc_id.cmp(&o.addr.doc_id))
    }
}

/// A bounded best-k set.
#[derive(Debug, Clone, Default)]
struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl TopK {
    fn new(k: usize) -> Self {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }
    fn push(&mut self, s: Scored) {
        if self.k == 0 {
            return;
        }
        if self.heap.len() < self.k {
            self.heap.push(s);
        } else if let Some(worst) = self.heap.peek() {
            if s < *worst {
                self.heap.pop();
                self.heap.push(s);
            }
        }
    }
    /// True when a document scoring `score` (at best) could not enter.
    fn rejects(&self, score: f32) -> bool {
        self.heap.len() >= self.k && self.heap.peek().is_some_and(|w| w.score >= score)
    }
    fn into_sorted(self) -> Vec<Scored> {
        self.heap.into_sorted_vec()
    }
}

/// What the collector returns.
#[derive(Debug, Clone, Default)]
pub struct Ranked {
    /// Best documents overall, best first.
    pub top: Vec<Scored>,
    /// Best documents per type code, best first.
    pub by_type: Vec<Vec<Scored>>,
    /// Matching documents per type code.
    pub counts: Vec<u64>,
}

/// Per-segment ranking columns, decoded once into dense arrays (segments are immutable,
/// so they are cached by segment id for the segment's lifetime).
pub struct SegmentData {
    /// Type code per doc.
    pub kind: Vec<u8>,
    /// `ln(1 + popularity)` per doc.
    pub log_pop: Vec<f32>,
    /// Words in the name per doc (tantivy's field norm, exact below 40).
    pub name_len: Vec<u8>,
    /// The entity id column, opened once: opening a column decodes its block index,
    /// which costs more than a whole hit when done per hit.
    pub ids: Option<StrColumn>,
}

impl std::fmt::Debug for SegmentData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentData")
            .field("docs", &self.kind.len())
            .field("ids", &self.ids.is_some())
            .finish()
    }
}

impl SegmentData {
    /// Decode a segment's columns.
    pub fn load(reader: &SegmentReader) -> tantivy::Result<SegmentData> {
        let ff = reader.fast_fields();
        let (kind_col, pop_col): (Column<u64>, Column<f64>) = (ff.u64("kind")?, ff.f64("popularity")?);
        let norms = reader.get_fieldnorms_reader(reader.schema().get_field("name")?)?;
        let n = reader.max_doc();
        let mut kind = Vec::with_capacity(n as usize);
        let mut log_pop = Vec::with_capacity(n as usize);
        let mut name_len = Vec::with_capacity(n as usize);
        for doc in 0..n {
            kind.push(kind_col.first(doc).unwrap_or(0).min(NTYPES as u64 - 1) as u8);
            log_pop.push(pop_col.first(doc).unwrap_or(0.0).max(0.0).ln_1p() as f32);
            name_len.push(norms.fieldnorm(doc).min(255) as u8);
        }
        Ok(SegmentData {
            kind,
            log_pop,
            name_len,
            ids: ff.str("id")?,
        })
    }

    /// The entity id of a document of this segment.
    pub fn id(&self, doc: DocId) -> tantivy::Result<Option<String>> {
        let Some(col) = &self.ids else { return Ok(None) };
        let Some(ord) = col.term_ords(doc).next() else {
            return Ok(None);
        };
        let mut s = String::new();
        col.ord_to_str(ord, &mut s)?;
        Ok(Some(s))
    }
}

/// Collector settings.
pub struct RankCollector {
    /// Documents kept overall.
    pub window: usize,
    /// Documents kept per type.
    pub section_size: usize,
    /// `ln(1 + max popularity)` per type code.
    pub log_max_pop: [f64; NTYPES],
    /// Decoded columns per segment ordinal (see [`SegmentData`]).
    pub segments: Vec<std::sync::Arc<SegmentData>>,
    /// Words in the query (for name coverage; 0 or 1 turns coverage off).
    pub query_words: usize,
}

/// Per-segment state.
pub struct RankSegment {
    seg: SegmentOrdinal,
    data: std::sync::Arc<SegmentData>,
    inv_log_max_pop: [f32; NTYPES],
    top: TopK,
    by_type: Vec<TopK>,
    counts: Vec<u64>,
    query_words: f32,
}

impl Collector for RankCollector {
    type Fruit = Ranked;
    type Child = RankSegment;

    fn for_segment(&self, seg: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<RankSegment> {
        let data = match self.segments.get(seg as usize) {
            Some(d) => d.clone(),
            None => std::sync::Arc::new(SegmentData::load(reader)?),
        };
        Ok(RankSegment {
            seg,
            data,
            inv_log_max_pop: self.log_max_pop.map(|m| if m > 0.0 { (1.0 / m) as f32 } else { 0.0 }),
            top: TopK::new(self.window),
            by_type: (0..NTYPES).map(|_| TopK::new(self.section_size)).collect(),
            counts: vec![0; NTYPES],
            query_words: self.query_words as f32,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Ranked>) -> tantivy::Result<Ranked> {
        let mut top = TopK::new(self.window);
        let mut by_type: Vec<TopK> = (0..NTYPES).map(|_| TopK::new(self.section_size)).collect();
        let mut counts = vec![0u64; NTYPES];
        for f in fruits {
            f.top.into_iter().for_each(|s| top.push(s));
            for (t, v) in f.by_type.into_iter().enumerate() {
                v.into_iter().for_each(|s| by_type[t].push(s));
            }
            for (t, c) in f.counts.into_iter().enumerate() {
                counts[t] += c;
            }
        }
        Ok(Ranked {
            top: top.into_sorted(),
            by_type: by_type.into_iter().map(TopK::into_sorted).collect(),
            counts,
        })
    }
}

/// The final score of a document whose text scored `text`: plus the popularity prior
/// and, for queries of 2+ words, name coverage.
pub fn relevance(
    data: &SegmentData,
    doc: DocId,
    text: Score,
    inv_log_max_pop: &[f32; NTYPES],
    query_words: f32,
) -> f32 {
    let kind = data.kind.get(doc as usize).copied().unwrap_or(0) as usize;
    let lp = data.log_pop.get(doc as usize).copied().unwrap_or(0.0);
    let prior = (lp * inv_log_max_pop[kind]).min(1.0);
    let name_len = f32::from(data.name_len.get(doc as usize).copied().unwrap_or(0).max(1));
    let cover = if query_words >= 2.0 {
        (query_words / name_len).min(1.0)
    } else {
        0.0
    };
    text + PRIOR * prior + COVER * cover
}

impl SegmentCollector for RankSegment {
    type Fruit = Ranked;

    fn collect(&mut self, doc: DocId, text: Score) {
        let kind = self.data.kind.get(doc as usize).copied().unwrap_or(0) as usize;
        self.counts[kind] += 1;
        // Skip the popularity read when even the largest prior cannot get this doc in.
        let bound = text + PRIOR + COVER;
        if self.top.rejects(bound) && self.by_type[kind].rejects(bound) {
            return;
        }
        let s = Scored {
            score: relevance(&self.data, doc, text, &self.inv_log_max_pop, self.query_words),
            addr: DocAddress::new(self.seg, doc),
        };
        self.top.push(s);
        self.by_type[kind].push(s);
    }

    fn harvest(self) -> Ranked {
        Ranked {
            top: self.top.into_sorted(),
            by_type: self.by_type.into_iter().map(TopK::into_sorted).collect(),
            counts: self.counts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topk_keeps_best_in_order() {
        let mut t = TopK::new(2);
        for (i, s) in [0.5f32, 2.0, 1.0, 3.0].iter().enumerate() {
            t.push(Scored {
                score: *s,
                addr: DocAddress::new(0, i as u32),
            });
        }
        let v: Vec<f32> = t.into_sorted().iter().map(|s| s.score).collect();
        assert_eq!(v, vec![3.0, 2.0]);
    }
}
