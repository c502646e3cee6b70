//! The serving model: what one training run produces and requests read.
//!
//! Items are numbered in three ranges: `[0, n_trained)` were in the training matrix and have
//! ALS vectors; `[n_trained, n_vec)` are catalog items without plays whose vectors come from
//! their creators' and tags' centroids (so a new release is reachable the day it lands);
//! `[n_vec, len)` have no vector and only appear in the popularity lists (cold start).
//! Catalog metadata needed by the business rules (type, explicit, markets, creators, release
//! day) is kept per item, so filters run inside the vector search without catalog reads.
//!
//! `train.rs` builds a model from a [`Source`](super::Source), one function per phase;
//! `file.rs` writes and reads model files and their saved vector index.

mod file;
mod train;

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use needle_core::profile::ItemStat;
use needle_core::{Entity, EntityType};
use serde::{Deserialize, Serialize};

use super::ServeConfig;
use crate::dense::dot;
use crate::index::{quantize_i8_into, IndexBuilder, IndexOrigin, VectorIndex};
use crate::matrix::IdMap;
use crate::models::{Als, History};
use crate::select::{Selection, ServedBlend};
use crate::RecsError;

pub(crate) use file::prune;
pub use file::{graph_path, latest_version, point_current};

/// What the business rules need to know about one item.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ItemMeta {
    /// Entity type; `None` for items that were played but are not in the catalog.
    #[serde(rename = "t")]
    pub kind: Option<EntityType>,
    #[serde(rename = "x", default, skip_serializing_if = "std::ops::Not::not")]
    pub explicit: bool,
    /// Upper-cased ISO codes; `None` means everywhere.
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub markets: Option<Vec<String>>,
    /// Indices into [`ServingModel::creators`]: artists of a track or album, the show of an
    /// episode, the audiobook of a chapter; an artist, show or audiobook is its own creator.
    #[serde(rename = "c", default, skip_serializing_if = "Vec::is_empty")]
    pub creators: Vec<u32>,
    /// Days since 1970-01-01 of the release date.
    #[serde(rename = "d", default, skip_serializing_if = "Option::is_none")]
    pub release_day: Option<i32>,
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl ItemMeta {
    fn of(e: &Entity, creators: &mut IdMap) -> ItemMeta {
        let kind = e.entity_type();
        let mut cs: Vec<&str> = match kind {
            EntityType::Artist | EntityType::Show | EntityType::Audiobook => vec![e.id.as_str()],
            _ => e.artist_ids.iter().map(String::as_str).collect(),
        };
        cs.extend(e.show_id.as_deref());
        cs.extend(e.audiobook_id.as_deref());
        ItemMeta {
            kind: Some(kind),
            explicit: e.explicit.unwrap_or(false),
            markets: e
                .markets
                .as_ref()
                .map(|m| m.iter().map(|c| c.to_ascii_uppercase()).collect()),
            creators: cs.into_iter().map(|c| creators.get_or_insert(c)).collect(),
            release_day: e.release_date.as_deref().and_then(release_day),
            language: e.language.clone(),
        }
    }

    /// Available in `market` (`None`: no market constraint).
    pub fn in_market(&self, market: Option<&str>) -> bool {
        match (market, &self.markets) {
            (Some(m), Some(list)) => list.iter().any(|c| c.eq_ignore_ascii_case(m)),
            _ => true,
        }
    }
}

/// Days since 1970-01-01 of `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (missing parts are 1).
pub fn release_day(date: &str) -> Option<i32> {
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next().map(str::parse).transpose().ok()?.unwrap_or(1);
    let d: i64 = parts.next().map(str::parse).transpose().ok()?.unwrap_or(1);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

/// The positive weight of a listener's history with one item, or `None` when the item does
/// not count as liked (never played, or skipped/unsaved more than played).
pub fn interaction_weight(st: &ItemStat) -> Option<f32> {
    let w = st.plays as f64
        + 0.5 * st.clicks as f64
        + if st.saved { 3.0 } else { 0.0 }
        + if st.followed { 5.0 } else { 0.0 }
        - 0.5 * st.skips as f64;
    (w > 0.0).then_some(w as f32)
}

/// Whether the listener marked the item unwanted: skipped at least twice and more often
/// than played, never saved or followed.
pub fn is_unwanted(st: &ItemStat) -> bool {
    !st.saved && !st.followed && st.skips >= 2 && st.skips > st.plays
}

/// Timings and sizes of one training run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainStats {
    pub listeners: usize,
    pub interactions: usize,
    pub trained_items: usize,
    pub content_items: usize,
    pub popular_items: usize,
    pub snapshot_ms: u64,
    pub train_ms: u64,
    pub catalog_ms: u64,
    pub index_ms: u64,
    pub save_ms: u64,
    /// Model selection: each candidate's validation NDCG@10 and what was chosen (absent
    /// when `recs.select.enabled` is off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
}

/// One trained, loaded model. Immutable; swapped whole.
pub struct ServingModel {
    pub version: u64,
    pub created_ms: i64,
    pub config: ServeConfig,
    pub stats: TrainStats,
    pub items: IdMap,
    pub meta: Vec<ItemMeta>,
    pub creators: IdMap,
    /// Training listeners per item (`n_trained` long).
    pub listeners: Vec<u32>,
    /// Best first, per type: (item, popularity in `[0, 1]`).
    pub popular: HashMap<EntityType, Vec<(u32, f32)>>,
    pub n_trained: usize,
    pub n_vec: usize,
    /// ALS over the trained items (fold-in); its item factors are the trained items' exact
    /// vectors.
    pub als: Als,
    /// Every item with a vector, row `i` for item `i`, as `i8` codes with one scale per row
    /// (a quarter of `f32`): the only copy of the content vectors of `[n_trained, n_vec)`
    /// ([`ServingModel::vector`] reads them here). The trained items' rows are codes of
    /// their ALS factors, for the graph walk; their scores are computed again from the
    /// factors ([`ServingModel::search`]).
    pub index: Box<dyn VectorIndex>,
    /// Rows with a vector, per type (see [`ServingModel::search`]).
    by_type: HashMap<EntityType, Vec<u32>>,
    /// The blend selection chose (`None`: a model trained without selection, ALS alone).
    pub mix: Option<ServedBlend>,
}

/// Below this share of the vectors, a search restricted to some types scans their rows
/// instead of walking the graph: a filter that passes so few nodes makes the graph search
/// widen its beam until it falls back to scanning every vector. Above it the graph wins:
/// on the real 1.1M catalog (tracks about a tenth of the vectors) scanning the tracks made
/// `daily_mix` 2.8 → 7.9 ms p50 and `discover` 2.4 → 4.4 ms (BENCHMARKS §6).
const SCAN_SHARE: f64 = 0.01;

impl ServingModel {
    /// Factors per vector.
    pub fn factors(&self) -> usize {
        self.als.factors()
    }

    /// The `k` items with the largest inner product with `query` among those of `types`
    /// that pass `filter`, best first. Types holding under 1% of the vectors are scanned
    /// row by row (exact, and cheaper than a graph search whose filter passes almost no
    /// node); otherwise the vector index answers.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        types: &[EntityType],
        filter: &(dyn Fn(u32) -> bool + Sync),
    ) -> Vec<crate::index::Hit> {
        let cmp = |a: &crate::index::Hit, b: &crate::index::Hit| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id));
        let rows: usize = types.iter().filter_map(|t| self.by_type.get(t)).map(Vec::len).sum();
        if rows as f64 >= SCAN_SHARE * self.n_vec as f64 || query.len() != self.factors() || k == 0 {
            let mut hits = self.index.search(query, k, filter);
            for h in &mut hits {
                if let Some(v) = self.als.item_vector(h.id as usize) {
                    h.score = dot(v, query);
                }
            }
            hits.sort_by(cmp);
            return hits;
        }
        let mut hits: Vec<crate::index::Hit> = Vec::new();
        for t in types {
            for &i in self.by_type.get(t).map(Vec::as_slice).unwrap_or(&[]) {
                if !filter(i) {
                    continue;
                }
                let Some(score) = self.score(i, query) else { continue };
                hits.push(crate::index::Hit { id: i, score });
                if hits.len() >= 4 * k + 256 {
                    hits.select_nth_unstable_by(k - 1, cmp);
                    hits.truncate(k);
                }
            }
        }
        if hits.len() > k {
            hits.select_nth_unstable_by(k - 1, cmp);
            hits.truncate(k);
        }
        hits.sort_by(cmp);
        hits
    }

    /// Whether item `i`'s vector carries listening evidence: it was trained, or it is a
    /// content vector built from a creator that was (a new track of a played artist). A
    /// content vector from tags alone says only that the item shares genres with what
    /// some listeners play, so a reason "because you play X" would not be true of it.
    pub fn collaborative(&self, i: u32) -> bool {
        if (i as usize) < self.n_trained {
            return true;
        }
        let Some(m) = self.meta.get(i as usize) else {
            return false;
        };
        let own = self.items.id(i);
        m.creators.iter().any(|&c| {
            let id = self.creators.id(c);
            id != own && self.items.get(id).is_some_and(|j| (j as usize) < self.n_trained)
        })
    }

    /// The vector of item `i`, if it has one: a trained item's ALS factors (borrowed), a
    /// content item's row dequantized from its codes.
    pub fn vector(&self, i: u32) -> Option<Cow<'_, [f32]>> {
        let i = i as usize;
        if i < self.n_trained {
            self.als.item_vector(i).map(Cow::Borrowed)
        } else if i < self.n_vec {
            self.index.row(i)
        } else {
            None
        }
    }

    /// Item `i`'s inner product with `query`, as [`ServingModel::search`] scores it: from
    /// the ALS factors for a trained item, from the codes for a content item.
    pub fn score(&self, i: u32, query: &[f32]) -> Option<f32> {
        let iu = i as usize;
        if iu < self.n_trained {
            Some(dot(self.als.item_vector(iu)?, query))
        } else if iu < self.n_vec {
            self.index.row_score(iu, query).map(|(_, s)| s)
        } else {
            None
        }
    }

    /// The model with its vector index: built, or read from the graph file `graph` (a model
    /// file's saved index) when that file is valid for these vectors. Returns how the index
    /// was obtained too.
    fn assemble(p: Parts, graph: Option<&Path>) -> Result<(ServingModel, IndexOrigin), RecsError> {
        let t = std::time::Instant::now();
        let f = p.als.factors();
        let mismatch = |rows: usize| {
            RecsError::InvalidInput(format!(
                "a model of {} vectors ({} trained) of {f} factors has {rows} rows",
                p.n_vec, p.n_trained
            ))
        };
        if p.als.item_factors().len() != p.n_trained * f || p.n_trained > p.n_vec {
            return Err(mismatch(p.als.item_factors().len() / f.max(1)));
        }
        if let Some(pos) = p.als.item_factors().iter().position(|v| !v.is_finite()) {
            return Err(RecsError::InvalidInput(format!(
                "trained vector {} has a non-finite value",
                pos / f.max(1)
            )));
        }
        let cfg = p.config.index.clone();
        let b = match p.vectors {
            // A file written before content rows were kept as codes: its graph was saved
            // for these `f32` rows, and still fits.
            Vectors::F32(rows) if rows.len() == p.n_vec * f => IndexBuilder::quantize_rows(f, cfg, rows)?,
            Vectors::F32(rows) => return Err(mismatch(rows.len() / f.max(1))),
            Vectors::Content { codes, scales } => {
                if scales.len() != p.n_vec - p.n_trained || codes.len() != scales.len() * f {
                    return Err(mismatch(p.n_trained + scales.len()));
                }
                let mut all_codes = Vec::with_capacity(p.n_vec * f);
                let mut all_scales = Vec::with_capacity(p.n_vec);
                for v in p.als.item_factors().chunks_exact(f.max(1)) {
                    all_scales.push(quantize_i8_into(v, &mut all_codes));
                }
                all_codes.extend_from_slice(&codes);
                all_scales.extend_from_slice(&scales);
                drop((codes, scales));
                IndexBuilder::from_codes(f, cfg, all_codes, all_scales)?
            }
        };
        let (index, origin) = match graph {
            Some(path) => b.build_or_load(path, p.version, p.created_ms),
            None => {
                let index = b.build();
                let origin = if index.as_hnsw().is_some() {
                    IndexOrigin::Built
                } else {
                    IndexOrigin::Exact
                };
                (index, origin)
            }
        };
        let mut stats = p.stats;
        // A loaded model keeps the build time it was trained with.
        if origin != IndexOrigin::Loaded {
            stats.index_ms = t.elapsed().as_millis() as u64;
        }
        let model = ServingModel {
            version: p.version,
            created_ms: p.created_ms,
            config: p.config,
            stats,
            items: p.items,
            meta: p.meta,
            creators: p.creators,
            listeners: p.listeners,
            popular: p.popular,
            n_trained: p.n_trained,
            n_vec: p.n_vec,
            als: p.als,
            index,
            by_type: HashMap::new(),
            mix: p.mix,
        };
        let mut by_type: HashMap<EntityType, Vec<u32>> = HashMap::new();
        for (i, m) in model.meta.iter().enumerate().take(model.n_vec) {
            if let Some(k) = m.kind {
                by_type.entry(k).or_default().push(i as u32);
            }
        }
        let model = ServingModel { by_type, ..model };
        Ok((model, origin))
    }

    /// The listener's history as model rows (liked items only) with their weights.
    pub fn history_of(&self, items: &HashMap<String, ItemStat>) -> (Vec<u32>, Vec<f32>) {
        let mut rows: Vec<(u32, f32)> = items
            .iter()
            .filter_map(|(id, st)| {
                let i = self.items.get(id)?;
                ((i as usize) < self.n_trained).then_some(())?;
                Some((i, interaction_weight(st)?))
            })
            .collect();
        rows.sort_unstable_by_key(|r| r.0);
        rows.into_iter().unzip()
    }

    /// A listener vector folded in from `(items, weights)`.
    pub fn fold_in(&self, items: &[u32], weights: &[f32]) -> Vec<f32> {
        self.als.fold_in(History::new(items, weights))
    }
}

/// The parts of a model, before its vector index is built.
struct Parts {
    version: u64,
    created_ms: i64,
    config: ServeConfig,
    stats: TrainStats,
    items: IdMap,
    meta: Vec<ItemMeta>,
    creators: IdMap,
    listeners: Vec<u32>,
    popular: HashMap<EntityType, Vec<(u32, f32)>>,
    n_trained: usize,
    n_vec: usize,
    als: Als,
    /// The vectors, moved into the vector index.
    vectors: Vectors,
    mix: Option<ServedBlend>,
}

/// The vectors of a model before its index is built.
enum Vectors {
    /// Every row of `[0, n_vec)` as `f32`, row-major: a model file written before content
    /// rows were stored as codes (the trained rows repeat the ALS factors).
    F32(Vec<f32>),
    /// The content rows `[n_trained, n_vec)` as `i8` codes (row-major) and one scale per
    /// row; the trained rows are the ALS factors.
    Content { codes: Vec<i8>, scales: Vec<f32> },
}

/// Now, epoch milliseconds.
pub fn now_ms() -> i64 {
    needle_core::time::now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_days_match_the_calendar() {
        assert_eq!(release_day("1970-01-01"), Some(0));
        assert_eq!(release_day("1970"), Some(0));
        assert_eq!(release_day("2000-03-01"), Some(11_017));
        assert_eq!(release_day("2024-02-29"), Some(19_782));
        assert_eq!(release_day("2024-13"), None);
        assert_eq!(release_day("nope"), None);
    }

    #[test]
    fn weights_count_plays_saves_and_follows_and_skips_down() {
        let st = |plays, skips, saved, followed| ItemStat {
            plays,
            skips,
            saved,
            followed,
            ..Default::default()
        };
        assert_eq!(interaction_weight(&st(0, 0, false, false)), None);
        assert_eq!(interaction_weight(&st(2, 0, false, false)), Some(2.0));
        assert_eq!(interaction_weight(&st(0, 0, false, true)), Some(5.0));
        assert_eq!(interaction_weight(&st(1, 4, false, false)), None);
        assert!(is_unwanted(&st(0, 2, false, false)));
        assert!(!is_unwanted(&st(3, 2, false, false)));
        assert!(!is_unwanted(&st(0, 5, true, false)));
    }
}
