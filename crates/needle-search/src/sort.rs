//! Sorting by a field (`sort=popularity|release_date|name[:asc|:desc]`): the parameter,
//! and the top-k collector that orders matches by a fast field.
//!
//! Order of a sorted page: the field (documents without a release date last in either
//! direction), then relevance for a text query, then the entity id (A→Z), so ties are
//! broken the same way on every page and after every merge of segments.
//!
//! Within a segment the collector compares integers only: popularity as the bits of a
//! non-negative `f64` (monotonic), the release date as `YYYYMMDD`, names and ids by
//! their term ordinal in the segment's dictionary (which is sorted). Strings are read
//! only for each segment's best `window` documents, to merge segments.

use crate::collect::{relevance, SegmentData, NTYPES};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader};

/// What a search is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortField {
    /// Text relevance (the default for a query; for an empty query, popularity).
    Relevance,
    /// Popularity as imported.
    Popularity,
    /// Release date (`YYYY`, `YYYY-MM` or `YYYY-MM-DD`; a partial date sorts before the
    /// full dates of its year or month).
    ReleaseDate,
    /// Name, folded (case and diacritics ignored).
    Name,
}

impl SortField {
    /// The parameter's spelling.
    pub fn name(self) -> &'static str {
        match self {
            SortField::Relevance => "relevance",
            SortField::Popularity => "popularity",
            SortField::ReleaseDate => "release_date",
            SortField::Name => "name",
        }
    }
}

/// A `sort` parameter: a field and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sort {
    /// The field.
    pub field: SortField,
    /// Largest (newest, Z) first.
    pub descending: bool,
}

impl Sort {
    /// Most popular first: the order of a search without words.
    pub const BROWSE: Sort = Sort {
        field: SortField::Popularity,
        descending: true,
    };

    /// `field` in its default direction: popularity and release date descending, name
    /// ascending.
    pub fn of(field: SortField) -> Sort {
        Sort {
            field,
            descending: field != SortField::Name,
        }
    }
}

const ACCEPTED: &str = "accepted: `relevance`, `popularity`, `release_date`, `name`, each but `relevance` \
                        optionally with `:asc` or `:desc` (e.g. `release_date:asc`)";

impl FromStr for Sort {
    type Err = String;

    fn from_str(s: &str) -> Result<Sort, String> {
        let raw = s.trim();
        let lower = raw.to_ascii_lowercase();
        let (name, dir) = match lower.split_once(':') {
            Some((n, d)) => (n.trim(), Some(d.trim())),
            None => (lower.as_str(), None),
        };
        let field = match name {
            "relevance" => SortField::Relevance,
            "popularity" => SortField::Popularity,
            "release_date" => SortField::ReleaseDate,
            "name" => SortField::Name,
            _ => return Err(format!("unknown sort `{raw}`; {ACCEPTED}")),
        };
        let mut sort = Sort::of(field);
        match (field, dir) {
            (_, None) => {}
            (SortField::Relevance, Some(_)) => {
                return Err(format!("`{raw}`: relevance has one direction; {ACCEPTED}"));
            }
            (_, Some("asc")) => sort.descending = false,
            (_, Some("desc")) => sort.descending = true,
            (_, Some(d)) => return Err(format!("`{raw}`: unknown direction `{d}`; {ACCEPTED}")),
        }
        Ok(sort)
    }
}

impl fmt::Display for Sort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field {
            SortField::Relevance => f.write_str("relevance"),
            other => write!(f, "{}:{}", other.name(), if self.descending { "desc" } else { "asc" }),
        }
    }
}

impl TryFrom<String> for Sort {
    type Error = String;
    fn try_from(s: String) -> Result<Sort, String> {
        s.parse()
    }
}

impl From<Sort> for String {
    fn from(s: Sort) -> String {
        s.to_string()
    }
}

/// A release date as a sortable integer: `YYYYMMDD`, month and day 0 when absent.
pub fn date_key(date: &str) -> Option<u64> {
    let mut parts = date.split('-');
    let year: u64 = parts.next()?.parse().ok()?;
    let month: u64 = parts.next().map(str::parse).transpose().ok()?.unwrap_or(0);
    let day: u64 = parts.next().map(str::parse).transpose().ok()?.unwrap_or(0);
    (month <= 12 && day <= 31).then_some(year * 10_000 + month * 100 + day)
}

/// One sorted document, ready to merge across segments.
#[derive(Debug, Clone)]
pub struct SortedDoc {
    /// The field's key, larger first (popularity, release date; 0 when absent).
    pub key: u64,
    /// The name sort key (name sorts only).
    pub name: Option<String>,
    /// Relevance (text queries; 0 when browsing).
    pub score: f32,
    /// Entity id (the last tie-break).
    pub id: String,
    /// Where the document is.
    pub addr: DocAddress,
}

/// What the sort collector returns.
#[derive(Debug, Clone, Default)]
pub struct SortedPage {
    /// The best `window` documents, best first.
    pub top: Vec<SortedDoc>,
    /// Every matching document.
    pub total: u64,
}

/// Relevance of a text query, as the ranking collector computes it (for ties).
#[derive(Debug, Clone)]
pub struct Relevance {
    /// `ln(1 + max popularity)` per type code.
    pub log_max_pop: [f64; NTYPES],
    /// Words in the query (name coverage).
    pub query_words: usize,
}

/// Top-k by a field.
pub struct SortCollector {
    /// The order (never [`SortField::Relevance`]: that is the ranking collector's).
    pub sort: Sort,
    /// Documents kept.
    pub window: usize,
    /// Text queries: ties by relevance (the collector then needs scores).
    pub relevance: Option<Relevance>,
    /// Decoded columns per segment ordinal.
    pub segments: Vec<Arc<SegmentData>>,
}

/// In-segment entry: larger `key`, then larger `score`, then smaller `id_ord` is better.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: u64,
    score: f32,
    id_ord: u64,
    doc: DocId,
}

impl Entry {
    /// `Less` when `self` is better.
    fn rank(&self, o: &Entry) -> Ordering {
        o.key
            .cmp(&self.key)
            .then(o.score.total_cmp(&self.score))
            .then(self.id_ord.cmp(&o.id_ord))
            .then(self.doc.cmp(&o.doc))
    }
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.rank(o) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Better entries compare smaller, so a max-heap keeps the worst on top.
    fn cmp(&self, o: &Self) -> Ordering {
        self.rank(o)
    }
}

enum KeyColumn {
    Popularity(Column<f64>),
    /// `None`: no document of the segment has a release date.
    Date(Option<Column<u64>>),
    Name(Option<StrColumn>),
}

/// Per-segment state.
pub struct SortSegment {
    seg: SegmentOrdinal,
    key: KeyColumn,
    descending: bool,
    data: Arc<SegmentData>,
    inv_log_max_pop: [f32; NTYPES],
    query_words: f32,
    scored: bool,
    window: usize,
    heap: BinaryHeap<Entry>,
    total: u64,
}

impl SortSegment {
    /// The document's key, larger first; documents without a value get 0 (last either way).
    fn key(&self, doc: DocId) -> u64 {
        let present = match &self.key {
            KeyColumn::Popularity(c) => Some(c.first(doc).unwrap_or(0.0).max(0.0).to_bits()),
            KeyColumn::Date(c) => c.as_ref().and_then(|c| c.first(doc)),
            KeyColumn::Name(c) => c.as_ref().and_then(|c| c.term_ords(doc).next()),
        };
        match present {
            None => 0,
            Some(v) if self.descending => v.saturating_add(1),
            Some(v) => u64::MAX - v,
        }
    }

    fn id_ord(&self, doc: DocId) -> u64 {
        self.data
            .ids
            .as_ref()
            .and_then(|c| c.term_ords(doc).next())
            .unwrap_or(u64::MAX)
    }

    fn resolve(&self, e: &Entry) -> SortedDoc {
        let mut id = String::new();
        if let Some(c) = &self.data.ids {
            if let Some(ord) = c.term_ords(e.doc).next() {
                let _ = c.ord_to_str(ord, &mut id);
            }
        }
        let name = match &self.key {
            KeyColumn::Name(Some(c)) => c.term_ords(e.doc).next().map(|ord| {
                let mut s = String::new();
                let _ = c.ord_to_str(ord, &mut s);
                s
            }),
            _ => None,
        };
        SortedDoc {
            key: if name.is_some() { 0 } else { e.key },
            name,
            score: e.score,
            id,
            addr: DocAddress::new(self.seg, e.doc),
        }
    }
}

impl Collector for SortCollector {
    type Fruit = SortedPage;
    type Child = SortSegment;

    fn for_segment(&self, seg: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SortSegment> {
        let data = match self.segments.get(seg as usize) {
            Some(d) => d.clone(),
            None => Arc::new(SegmentData::load(reader)?),
        };
        let ff = reader.fast_fields();
        let key = match self.sort.field {
            SortField::Popularity | SortField::Relevance => KeyColumn::Popularity(ff.f64("popularity")?),
            SortField::ReleaseDate => KeyColumn::Date(ff.column_opt("release")?),
            SortField::Name => KeyColumn::Name(ff.str("name_sort")?),
        };
        let (inv_log_max_pop, query_words) = match &self.relevance {
            Some(r) => (
                r.log_max_pop.map(|m| if m > 0.0 { (1.0 / m) as f32 } else { 0.0 }),
                r.query_words as f32,
            ),
            None => ([0.0; NTYPES], 0.0),
        };
        Ok(SortSegment {
            seg,
            key,
            descending: self.sort.descending,
            data,
            inv_log_max_pop,
            query_words,
            scored: self.relevance.is_some(),
            window: self.window,
            heap: BinaryHeap::with_capacity(self.window + 1),
            total: 0,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.relevance.is_some()
    }

    fn merge_fruits(&self, fruits: Vec<SortedPage>) -> tantivy::Result<SortedPage> {
        let total = fruits.iter().map(|f| f.total).sum();
        let mut top: Vec<SortedDoc> = fruits.into_iter().flat_map(|f| f.top).collect();
        let descending = self.sort.descending;
        top.sort_by(|a, b| merge_order(a, b, descending));
        top.truncate(self.window);
        Ok(SortedPage { top, total })
    }
}

/// Order across segments (the same as [`Entry::rank`] within one, with strings for names
/// and ids).
fn merge_order(a: &SortedDoc, b: &SortedDoc, descending: bool) -> Ordering {
    let names = match (&a.name, &b.name) {
        (Some(x), Some(y)) if descending => y.cmp(x),
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    names
        .then(b.key.cmp(&a.key))
        .then(b.score.total_cmp(&a.score))
        .then_with(|| a.id.cmp(&b.id))
        .then(a.addr.segment_ord.cmp(&b.addr.segment_ord))
        .then(a.addr.doc_id.cmp(&b.addr.doc_id))
}

impl SegmentCollector for SortSegment {
    type Fruit = SortedPage;

    fn collect(&mut self, doc: DocId, text: Score) {
        self.total += 1;
        if self.window == 0 {
            return;
        }
        let key = self.key(doc);
        let full = self.heap.len() >= self.window;
        if full && self.heap.peek().is_some_and(|w| w.key > key) {
            return;
        }
        let score = if self.scored {
            relevance(&self.data, doc, text, &self.inv_log_max_pop, self.query_words)
        } else {
            0.0
        };
        let e = Entry {
            key,
            score,
            id_ord: self.id_ord(doc),
            doc,
        };
        if !full {
            self.heap.push(e);
        } else if self.heap.peek().is_some_and(|w| e < *w) {
            self.heap.pop();
            self.heap.push(e);
        }
    }

    fn harvest(mut self) -> SortedPage {
        let heap = std::mem::take(&mut self.heap);
        let top = heap.into_sorted_vec().iter().map(|e| self.resolve(e)).collect();
        SortedPage { top, total: self.total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_directions() {
        let p = |s: &str| s.parse::<Sort>();
        assert_eq!(p("popularity"), Ok(Sort::BROWSE));
        assert_eq!(p(" Release_Date "), Ok(Sort::of(SortField::ReleaseDate)));
        assert!(p("release_date").is_ok_and(|s| s.descending));
        assert!(p("release_date:asc").is_ok_and(|s| !s.descending));
        assert!(p("name").is_ok_and(|s| !s.descending));
        assert!(p("name:desc").is_ok_and(|s| s.descending));
        assert_eq!(p("relevance").map(|s| s.field), Ok(SortField::Relevance));
        for bad in ["colour", "name:up", "relevance:asc", "", "popularity:"] {
            let e = p(bad).unwrap_err();
            assert!(e.contains("popularity") && e.contains("release_date"), "{bad}: {e}");
        }
        for s in ["popularity:asc", "name:desc", "release_date:desc", "relevance"] {
            assert_eq!(p(s).map(|x| x.to_string()), Ok(s.to_string()));
        }
    }

    #[test]
    fn date_keys_order_partial_dates_first() {
        assert_eq!(date_key("1997"), Some(19_970_000));
        assert_eq!(date_key("2015-11"), Some(20_151_100));
        assert_eq!(date_key("2015-11-20"), Some(20_151_120));
        assert_eq!(date_key("x"), None);
        assert!(date_key("1997") < date_key("1997-01-01"));
    }
}
