//! The serving model: what one training run produces and requests read.
//!
//! Items are numbered in three ranges: `[0, n_trained)` were in the training matrix and have
//! ALS vectors; `[n_trained, n_vec)` are catalog items without plays whose vectors come from
//! their creators' and tags' centroids (so a new release is reachable the day it lands);
//! `[n_vec, len)` have no vector and only appear in the popularity lists (cold start).
//! Catalog metadata needed by the business rules (type, explicit, markets, creators, release
//! day) is kept per item, so filters run inside the vector search without catalog reads.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use needle_core::profile::ItemStat;
use needle_core::{Entity, EntityType};
use serde::{Deserialize, Serialize};

use super::{ServeConfig, Source};
use crate::index::{IndexBuilder, VectorIndex};
use crate::matrix::{IdMap, InteractionsBuilder};
use crate::models::{Als, History};
use crate::RecsError;

const MAGIC: &[u8; 8] = b"NEEDLEM1";
/// Entries kept per type in the popularity lists.
const POPULAR_PER_TYPE: usize = 2_000;

/// What the business rules need to know about one item.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
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
}

/// Everything serialized in a model file except the vectors.
#[derive(Serialize, Deserialize)]
struct Header {
    version: u64,
    created_ms: i64,
    config: ServeConfig,
    stats: TrainStats,
    factors: usize,
    n_trained: usize,
    n_vec: usize,
    items: Vec<String>,
    meta: Vec<ItemMeta>,
    creators: Vec<String>,
    listeners: Vec<u32>,
    popular: Vec<(EntityType, Vec<(u32, f32)>)>,
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
    /// ALS over the trained items (fold-in).
    pub als: Als,
    /// Content vectors of `[n_trained, n_vec)`, row-major.
    content: Vec<f32>,
    /// Every item with a vector.
    pub index: Box<dyn VectorIndex>,
}

impl ServingModel {
    /// Factors per vector.
    pub fn factors(&self) -> usize {
        self.als.factors()
    }

    /// The vector of item `i` (trained or content), if it has one.
    pub fn vector(&self, i: u32) -> Option<&[f32]> {
        let i = i as usize;
        let f = self.factors();
        if i < self.n_trained {
            self.als.item_vector(i)
        } else if i < self.n_vec {
            let j = i - self.n_trained;
            self.content.get(j * f..(j + 1) * f)
        } else {
            None
        }
    }

    /// Train on every listener of `source`, then read the catalog for metadata, content
    /// vectors and popularity. `progress(fraction)` is called as work advances.
    pub fn train(
        source: &dyn Source,
        config: &ServeConfig,
        version: u64,
        progress: &mut dyn FnMut(f32),
    ) -> Result<ServingModel, RecsError> {
        let mut stats = TrainStats::default();
        let t = std::time::Instant::now();
        let mut b = InteractionsBuilder::default();
        source.for_each_listener(&mut |user, p| {
            let mut any = false;
            for (item, st) in &p.items {
                if let Some(w) = interaction_weight(st) {
                    b.push(user, item, w);
                    any = true;
                }
            }
            if any {
                stats.listeners += 1;
            }
        });
        let data = b.build_sorted();
        stats.interactions = data.matrix.nnz();
        stats.snapshot_ms = t.elapsed().as_millis() as u64;
        progress(0.05);

        let t = std::time::Instant::now();
        let iterations = config.als.iterations.max(1);
        let als = Als::train_with_progress(&data.matrix, &config.als, |it| {
            progress(0.05 + 0.75 * it as f32 / iterations as f32)
        });
        stats.train_ms = t.elapsed().as_millis() as u64;
        let f = als.factors();
        let mut items = data.items;
        let n_trained = items.len();
        stats.trained_items = n_trained;
        let listeners = data.matrix.col_counts();

        // Catalog pass: metadata for trained items; creators/tags of the others.
        let t = std::time::Instant::now();
        let mut creators = IdMap::new();
        let mut meta: Vec<Option<ItemMeta>> = vec![None; n_trained];
        let mut tags_of_trained: Vec<Vec<u32>> = vec![Vec::new(); n_trained];
        let mut tag_ids = IdMap::new();
        let mut pending: Vec<(String, ItemMeta, Vec<u32>, f64)> = Vec::new();
        let mut catalog_pop: HashMap<EntityType, Vec<(String, f64)>> = HashMap::new();
        source.for_each_entity(&mut |e: &Entity| {
            let m = ItemMeta::of(e, &mut creators);
            let tags: Vec<u32> = e
                .tags
                .iter()
                .map(|t| tag_ids.get_or_insert(&t.to_lowercase()))
                .collect();
            let pop = e.popularity.unwrap_or(0.0);
            let list = catalog_pop.entry(e.entity_type()).or_default();
            list.push((e.id.clone(), pop));
            if list.len() >= 4 * POPULAR_PER_TYPE {
                keep_top(list, POPULAR_PER_TYPE);
            }
            match items.get(&e.id) {
                Some(i) => {
                    meta[i as usize] = Some(m);
                    tags_of_trained[i as usize] = tags;
                }
                None => pending.push((e.id.clone(), m, tags, pop)),
            }
        })?;
        progress(0.85);

        // Centroids of creators and tags over trained items.
        let centroid = |groups: &mut HashMap<u32, (Vec<f32>, u32)>, key: u32, v: &[f32]| {
            let (sum, n) = groups.entry(key).or_insert_with(|| (vec![0.0; f], 0));
            for (s, x) in sum.iter_mut().zip(v) {
                *s += x;
            }
            *n += 1;
        };
        let mut by_creator: HashMap<u32, (Vec<f32>, u32)> = HashMap::new();
        let mut by_tag: HashMap<u32, (Vec<f32>, u32)> = HashMap::new();
        for i in 0..n_trained {
            let Some(v) = als.item_vector(i) else { continue };
            if let Some(m) = &meta[i] {
                for &c in &m.creators {
                    centroid(&mut by_creator, c, v);
                }
            }
            for &t in &tags_of_trained[i] {
                centroid(&mut by_tag, t, v);
            }
        }
        let mean = |g: &HashMap<u32, (Vec<f32>, u32)>, keys: &[u32]| -> Option<Vec<f32>> {
            let mut out = vec![0.0; f];
            let mut n = 0;
            for k in keys {
                if let Some((sum, c)) = g.get(k) {
                    for (o, s) in out.iter_mut().zip(sum) {
                        *o += s / *c as f32;
                    }
                    n += 1;
                }
            }
            (n > 0).then(|| out.into_iter().map(|x| x / n as f32).collect())
        };
        let mut content = Vec::new();
        let mut vectorless = Vec::new();
        let mut meta: Vec<ItemMeta> = meta
            .into_iter()
            .map(|m| {
                m.unwrap_or(ItemMeta {
                    kind: None,
                    explicit: false,
                    markets: None,
                    creators: Vec::new(),
                    release_day: None,
                    language: None,
                })
            })
            .collect();
        for (id, m, tags, pop) in pending {
            // An artist/show/audiobook is its own creator; only its tags describe it.
            let own = matches!(
                m.kind,
                Some(EntityType::Artist | EntityType::Show | EntityType::Audiobook)
            );
            let cv = if own { None } else { mean(&by_creator, &m.creators) };
            let tv = mean(&by_tag, &tags);
            let v = match (cv, tv) {
                (Some(c), Some(t)) => Some(c.iter().zip(&t).map(|(a, b)| 0.7 * a + 0.3 * b).collect()),
                (Some(c), None) => Some(c),
                (None, Some(t)) => Some(t),
                (None, None) => None,
            };
            match v {
                Some(v) => {
                    items.get_or_insert(&id);
                    meta.push(m);
                    content.extend_from_slice(&v);
                }
                None => vectorless.push((id, m, pop)),
            }
        }
        let n_vec = items.len();
        stats.content_items = n_vec - n_trained;

        // Popularity per type: training listeners and the catalog's own popularity.
        let mut popular: HashMap<EntityType, Vec<(u32, f32)>> = HashMap::new();
        let max_listeners = listeners.iter().copied().max().unwrap_or(0) as f32;
        let mut scored: HashMap<EntityType, Vec<(String, f64, f64)>> = HashMap::new();
        for (i, &l) in listeners.iter().enumerate() {
            if let Some(kind) = meta[i].kind {
                scored
                    .entry(kind)
                    .or_default()
                    .push((items.id(i as u32).to_string(), l as f64, 0.0));
            }
        }
        for (kind, list) in &mut catalog_pop {
            keep_top(list, POPULAR_PER_TYPE);
            let s = scored.entry(*kind).or_default();
            let known: HashMap<&str, usize> = s.iter().enumerate().map(|(j, x)| (x.0.as_str(), j)).collect();
            let mut add = Vec::new();
            for (id, pop) in list.iter() {
                match known.get(id.as_str()) {
                    Some(&j) => add.push((j, *pop)),
                    None => add.push((usize::MAX, *pop)),
                }
            }
            let mut fresh = Vec::new();
            for ((j, pop), (id, _)) in add.into_iter().zip(list.iter()) {
                if j == usize::MAX {
                    fresh.push((id.clone(), 0.0, pop));
                } else {
                    s[j].2 = pop;
                }
            }
            s.extend(fresh);
        }
        let vectorless_ix: HashMap<String, (ItemMeta, f64)> =
            vectorless.into_iter().map(|(id, m, p)| (id, (m, p))).collect();
        for (kind, list) in scored {
            let max_pop = list.iter().map(|x| x.2).fold(0.0f64, f64::max);
            let norm = |x: f64, max: f64| {
                if max > 0.0 {
                    (x.ln_1p() / max.ln_1p()) as f32
                } else {
                    0.0
                }
            };
            let mut ranked: Vec<(String, f32)> = list
                .into_iter()
                .map(|(id, l, p)| {
                    let s = 0.6 * norm(l, max_listeners as f64) + 0.4 * norm(p, max_pop);
                    (id, s)
                })
                .collect();
            ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(POPULAR_PER_TYPE);
            let mut out = Vec::with_capacity(ranked.len());
            for (id, s) in ranked {
                let i = match items.get(&id) {
                    Some(i) => i,
                    None => {
                        let Some((m, _)) = vectorless_ix.get(&id) else { continue };
                        meta.push(m.clone());
                        items.get_or_insert(&id)
                    }
                };
                out.push((i, s));
            }
            popular.insert(kind, out);
        }
        stats.popular_items = items.len() - n_vec;
        stats.catalog_ms = t.elapsed().as_millis() as u64;
        progress(0.9);

        let model = Self::assemble(Parts {
            version,
            created_ms: now_ms(),
            config: config.clone(),
            stats,
            items,
            meta,
            creators,
            listeners,
            popular,
            n_trained,
            n_vec,
            als,
            content,
        })?;
        progress(1.0);
        Ok(model)
    }

    fn assemble(p: Parts) -> Result<ServingModel, RecsError> {
        let t = std::time::Instant::now();
        let f = p.als.factors();
        let mut b = IndexBuilder::new(f, p.config.index.clone());
        b.add_all(p.als.item_factors())?;
        for (j, v) in p.content.chunks_exact(f.max(1)).enumerate() {
            b.add((p.n_trained + j) as u32, v)?;
        }
        let index = b.build();
        let mut stats = p.stats;
        stats.index_ms = t.elapsed().as_millis() as u64;
        Ok(ServingModel {
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
            content: p.content,
            index,
        })
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

    /// Write to `dir/model-{version}.bin` (fsync'd, then renamed into place). It is served
    /// once activated ([`super::Recs::activate`] points `dir/CURRENT` at it). Returns the
    /// file written.
    pub fn save(&mut self, dir: &Path) -> Result<PathBuf, RecsError> {
        let t = std::time::Instant::now();
        std::fs::create_dir_all(dir)?;
        let name = format!("model-{:06}.bin", self.version);
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let header = Header {
            version: self.version,
            created_ms: self.created_ms,
            config: self.config.clone(),
            stats: self.stats.clone(),
            factors: self.factors(),
            n_trained: self.n_trained,
            n_vec: self.n_vec,
            items: self.items.ids().to_vec(),
            meta: self.meta.clone(),
            creators: self.creators.ids().to_vec(),
            listeners: self.listeners.clone(),
            popular: {
                let mut v: Vec<_> = self.popular.iter().map(|(k, l)| (*k, l.clone())).collect();
                v.sort_by_key(|x| x.0);
                v
            },
        };
        let json = serde_json::to_vec(&header).map_err(|e| RecsError::Parse(e.to_string()))?;
        {
            let file = std::fs::File::create(&tmp)?;
            let mut w = std::io::BufWriter::new(&file);
            w.write_all(MAGIC)?;
            w.write_all(&(json.len() as u64).to_le_bytes())?;
            w.write_all(&json)?;
            for x in self.als.item_factors().iter().chain(&self.content) {
                w.write_all(&x.to_le_bytes())?;
            }
            w.flush()?;
            drop(w);
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        self.stats.save_ms = t.elapsed().as_millis() as u64;
        prune(dir, self.version, 3);
        Ok(path)
    }

    /// Load the model `dir/CURRENT` points at; `None` when there is none yet.
    pub fn load_current(dir: &Path) -> Result<Option<ServingModel>, RecsError> {
        let name = match std::fs::read_to_string(dir.join("CURRENT")) {
            Ok(s) => s.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Self::load(&dir.join(name)).map(Some)
    }

    /// Load one model file.
    pub fn load(path: &Path) -> Result<ServingModel, RecsError> {
        let bad = |what: &str| RecsError::Parse(format!("{}: {what}", path.display()));
        let file = std::fs::File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut r = std::io::BufReader::new(file);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("not a Needle model file"));
        }
        let mut len = [0u8; 8];
        r.read_exact(&mut len)?;
        let len = u64::from_le_bytes(len);
        if len > file_len.saturating_sub(16) {
            return Err(bad("truncated header"));
        }
        let len = len as usize;
        let mut json = vec![0u8; len];
        r.read_exact(&mut json)?;
        let h: Header = serde_json::from_slice(&json).map_err(|e| bad(&e.to_string()))?;
        if h.items.len() != h.meta.len() || h.n_trained > h.n_vec || h.n_vec > h.items.len() {
            return Err(bad("inconsistent header"));
        }
        let f = h.factors.max(1);
        let need = (h.n_vec as u64).saturating_mul(f as u64).saturating_mul(4);
        if need != file_len - 16 - len as u64 {
            return Err(bad("vector block does not match the header (truncated file?)"));
        }
        let mut floats = vec![0f32; h.n_vec * f];
        let mut buf = [0u8; 4];
        for x in floats.iter_mut() {
            r.read_exact(&mut buf)?;
            *x = f32::from_le_bytes(buf);
        }
        let content = floats.split_off(h.n_trained * f);
        let mut als_config = h.config.als.clone();
        als_config.factors = f;
        let als = Als::from_item_factors(als_config, floats);
        Self::assemble(Parts {
            version: h.version,
            created_ms: h.created_ms,
            config: h.config,
            stats: h.stats,
            items: IdMap::from_ids(h.items),
            meta: h.meta,
            creators: IdMap::from_ids(h.creators),
            listeners: h.listeners,
            popular: h.popular.into_iter().collect(),
            n_trained: h.n_trained,
            n_vec: h.n_vec,
            als,
            content,
        })
    }
}

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
    content: Vec<f32>,
}

fn keep_top(list: &mut Vec<(String, f64)>, n: usize) {
    list.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    list.truncate(n);
}

/// Keep the newest `keep` model files.
pub(crate) fn prune(dir: &Path, current: u64, keep: u64) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(v) = name
            .strip_prefix("model-")
            .and_then(|s| s.strip_suffix(".bin"))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if v + keep <= current {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Point `dir/CURRENT` at the model file `name` atomically (fsync'd, then renamed).
pub fn point_current(dir: &Path, name: &str) -> Result<(), RecsError> {
    let cur_tmp = dir.join(".CURRENT.tmp");
    {
        let mut f = std::fs::File::create(&cur_tmp)?;
        f.write_all(name.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&cur_tmp, dir.join("CURRENT"))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The newest model version in `dir` (0 when none).
pub fn latest_version(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("model-")
                .and_then(|s| s.strip_suffix(".bin"))
                .and_then(|s| s.parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0)
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
