//! Facet counts (`facets=type,tags,language,release_year`): how many matches of a search
//! have each value, counted over every match — not only the page — in the same pass as
//! the ranking (the collector runs beside the ranking one, as a tuple).
//!
//! Counting reads fast fields only: type codes into 8 counters, tags and languages by
//! term ordinal into one counter per dictionary entry of the segment, years into one
//! counter per year of the segment's range. Only ordinals that counted something are
//! turned into strings, once per segment.

use needle_core::EntityType;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// A facet that can be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum FacetField {
    /// Entity type (`track`, `show`, ...).
    Type,
    /// Tags, folded as the `tag:` filter takes them.
    Tags,
    /// Language code, folded.
    Language,
    /// Year of the release date.
    ReleaseYear,
}

impl FacetField {
    /// Every facet.
    pub const ALL: [FacetField; 4] = [
        FacetField::Type,
        FacetField::Tags,
        FacetField::Language,
        FacetField::ReleaseYear,
    ];

    /// The parameter's spelling (and the key in the response).
    pub fn name(self) -> &'static str {
        match self {
            FacetField::Type => "type",
            FacetField::Tags => "tags",
            FacetField::Language => "language",
            FacetField::ReleaseYear => "release_year",
        }
    }
}

impl FromStr for FacetField {
    type Err = String;
    fn from_str(s: &str) -> Result<FacetField, String> {
        let t = s.trim();
        FacetField::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| format!("unknown facet `{t}`; facets are type, tags, language, release_year"))
    }
}

impl TryFrom<String> for FacetField {
    type Error = String;
    fn try_from(s: String) -> Result<FacetField, String> {
        s.parse()
    }
}

impl From<FacetField> for String {
    fn from(f: FacetField) -> String {
        f.name().to_string()
    }
}

/// The counts of one facet: value → matches, the most frequent first (ties by value).
/// Serialized as a JSON object in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FacetCounts(pub Vec<(String, u64)>);

impl FacetCounts {
    /// The count of `value`, if it is among the returned values.
    pub fn get(&self, value: &str) -> Option<u64> {
        self.0.iter().find(|(v, _)| v == value).map(|(_, n)| *n)
    }
}

impl Serialize for FacetCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (v, n) in &self.0 {
            m.serialize_entry(v, n)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for FacetCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FacetCounts, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FacetCounts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<FacetCounts, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, u64>()? {
                    out.push((k, v));
                }
                Ok(FacetCounts(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Counts, per facet, over every document collected.
#[derive(Debug, Clone, Default)]
pub struct FacetFruit(BTreeMap<FacetField, HashMap<String, u64>>);

impl FacetFruit {
    /// The `max` most frequent values of each facet (ties by value), keyed by facet name.
    pub fn top(self, max: usize) -> BTreeMap<String, FacetCounts> {
        self.0
            .into_iter()
            .map(|(f, counts)| {
                let mut v: Vec<(String, u64)> = counts.into_iter().filter(|(_, n)| *n > 0).collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                v.truncate(max);
                (f.name().to_string(), FacetCounts(v))
            })
            .collect()
    }
}

/// Counts the asked facets of every collected document.
#[derive(Debug, Clone)]
pub struct FacetCollector {
    /// The facets (repeats are counted once).
    pub fields: Vec<FacetField>,
}

enum Counter {
    Type(Column<u64>, [u64; 8]),
    /// Tags or language: counts by term ordinal (`None`: no document of the segment has one).
    Ords(FacetField, Option<StrColumn>, Vec<u32>),
    /// Years from `min`, one counter each (`None`: no document of the segment has one).
    Years(Option<(Column<i64>, i64)>, Vec<u32>),
}

/// Per-segment counters.
pub struct FacetSegment {
    counters: Vec<Counter>,
}

/// Year ranges wider than this are counted sparsely (never with validated dates).
const MAX_DENSE_YEARS: i64 = 10_000;

impl Collector for FacetCollector {
    type Fruit = FacetFruit;
    type Child = FacetSegment;

    fn for_segment(&self, _seg: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<FacetSegment> {
        let ff = reader.fast_fields();
        let mut fields = self.fields.clone();
        fields.sort_unstable();
        fields.dedup();
        let mut counters = Vec::with_capacity(fields.len());
        for f in fields {
            counters.push(match f {
                FacetField::Type => Counter::Type(ff.u64("kind")?, [0; 8]),
                FacetField::Tags | FacetField::Language => {
                    let col = ff.str(if f == FacetField::Tags { "tag" } else { "language" })?;
                    let n = col.as_ref().map_or(0, |c| c.num_terms());
                    Counter::Ords(f, col, vec![0; n])
                }
                FacetField::ReleaseYear => {
                    let col: Option<Column<i64>> = ff.column_opt("year")?;
                    match col {
                        Some(c) if c.max_value().saturating_sub(c.min_value()) < MAX_DENSE_YEARS => {
                            let n = (c.max_value() - c.min_value() + 1) as usize;
                            let min = c.min_value();
                            Counter::Years(Some((c, min)), vec![0; n])
                        }
                        _ => Counter::Years(None, Vec::new()),
                    }
                }
            });
        }
        Ok(FacetSegment { counters })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<FacetFruit>) -> tantivy::Result<FacetFruit> {
        let mut out = FacetFruit::default();
        for fruit in fruits {
            for (f, counts) in fruit.0 {
                let slot = out.0.entry(f).or_default();
                for (v, n) in counts {
                    *slot.entry(v).or_insert(0) += n;
                }
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for FacetSegment {
    type Fruit = FacetFruit;

    fn collect(&mut self, doc: DocId, _score: Score) {
        for c in &mut self.counters {
            match c {
                Counter::Type(col, counts) => {
                    if let Some(k) = col.first(doc) {
                        counts[(k as usize).min(7)] += 1;
                    }
                }
                Counter::Ords(_, Some(col), counts) => {
                    for ord in col.term_ords(doc) {
                        if let Some(n) = counts.get_mut(ord as usize) {
                            *n += 1;
                        }
                    }
                }
                Counter::Years(Some((col, min)), counts) => {
                    if let Some(y) = col.first(doc) {
                        if let Some(n) = counts.get_mut((y - *min) as usize) {
                            *n += 1;
                        }
                    }
                }
                Counter::Ords(_, None, _) | Counter::Years(None, _) => {}
            }
        }
    }

    fn harvest(self) -> FacetFruit {
        let mut out = FacetFruit::default();
        for c in self.counters {
            match c {
                Counter::Type(_, counts) => {
                    let m = out.0.entry(FacetField::Type).or_default();
                    for (code, n) in counts.into_iter().enumerate() {
                        if let (Some(t), true) = (EntityType::from_code(code as u64), n > 0) {
                            m.insert(t.to_string(), n);
                        }
                    }
                }
                Counter::Ords(f, col, counts) => {
                    let m = out.0.entry(f).or_default();
                    let Some(col) = col else { continue };
                    let ords: Vec<u64> = (0..counts.len() as u64).filter(|&o| counts[o as usize] > 0).collect();
                    let mut values = ords.iter();
                    let _ = col.dictionary().sorted_ords_to_term_cb(&ords, |bytes| {
                        if let Some(&o) = values.next() {
                            m.insert(
                                String::from_utf8_lossy(bytes).into_owned(),
                                u64::from(counts[o as usize]),
                            );
                        }
                    });
                }
                Counter::Years(col, counts) => {
                    let m = out.0.entry(FacetField::ReleaseYear).or_default();
                    let Some((_, min)) = col else { continue };
                    for (i, n) in counts.into_iter().enumerate() {
                        if n > 0 {
                            m.insert((min + i as i64).to_string(), u64::from(n));
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("Tags".parse::<FacetField>(), Ok(FacetField::Tags));
        assert_eq!(" release_year".parse::<FacetField>(), Ok(FacetField::ReleaseYear));
        let e = "colour".parse::<FacetField>().unwrap_err();
        assert!(e.contains("`colour`") && e.contains("release_year"), "{e}");
    }

    #[test]
    fn top_values_by_count_then_value() {
        let mut m = HashMap::new();
        for (v, n) in [("b", 2), ("a", 2), ("c", 5), ("d", 1)] {
            m.insert(v.to_string(), n);
        }
        let fruit = FacetFruit(BTreeMap::from([(FacetField::Tags, m)]));
        let top = fruit.top(3);
        let tags = &top["tags"];
        assert_eq!(tags.0, vec![("c".into(), 5), ("a".into(), 2), ("b".into(), 2)]);
        assert_eq!(serde_json::to_string(tags).unwrap(), r#"{"c":5,"a":2,"b":2}"#);
        let back: FacetCounts = serde_json::from_str(r#"{"c":5,"a":2}"#).unwrap();
        assert_eq!(back.get("a"), Some(2));
    }
}
