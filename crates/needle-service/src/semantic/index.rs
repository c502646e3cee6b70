//! The vectors searched: a base index (exact below 20k vectors, HNSW above, its graph
//! saved beside the vector file) plus the vectors written since it was built, scanned
//! exactly, minus the base vectors they replaced or that were deleted. The worker rebuilds
//! the base when the delta grows past [`REBUILD_AT`].

use needle_core::EntityType;
use needle_recs::dense::{dot, with_simd};
use needle_recs::{IndexBuilder, IndexConfig, VectorIndex};
use needle_store::VectorStore;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Vectors written since the base was built beyond which the base is rebuilt (once the
/// worker has nothing queued, or sooner; see [`VectorSet::needs_rebuild`]).
pub const REBUILD_AT: usize = 20_000;

/// While entities are queued (a backfill), the base is rebuilt only once the delta is this
/// many times the base: the builds of a backfill of n vectors then add up to about 1.5 n
/// insertions, where a rebuild every [`REBUILD_AT`] would cost n² / 40,000 (a quadratic
/// 19 million insertions for the 872k spoken-word entities of the real catalog).
pub const GROWTH: usize = 4;

/// Below this share of the base, a search restricted to some types scans those types'
/// rows instead of walking the graph. A filtered walk returns only passing nodes but
/// walks through all of them, so its cost grows as the share falls: on the real catalog
/// (872k vectors, audiobooks 1.1%, episodes 0.24%) a walk for episodes visited most of the
/// graph (seconds), where the scan of their 2k rows takes well under a millisecond
/// (BENCHMARKS §10).
pub const SCAN_SHARE: f64 = 0.05;

/// The graph of sentence vectors: fewer links and a shorter construction list than the
/// recommendation index's (384 dimensions make each distance three times dearer than its
/// 128 factors; scaled from that index's measured 1.1M build, m 24 / ef 200 would take
/// about 50 min for the catalog's 872k vectors, not run), with the same
/// candidate list at query time. Its recall against the exact scan is measured in
/// BENCHMARKS.md §10.
pub fn index_config() -> IndexConfig {
    IndexConfig {
        m: 16,
        ef_construction: 100,
        ..IndexConfig::default()
    }
}

/// One nearest vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Near {
    /// Entity id.
    pub id: String,
    /// Cosine similarity (vectors are unit length).
    pub similarity: f32,
}

/// The searchable vectors.
pub struct VectorSet {
    dim: usize,
    base: Option<Box<dyn VectorIndex>>,
    /// Base position -> (entity id, type code).
    base_ids: Vec<(String, u8)>,
    /// Type code -> its base positions.
    by_type: HashMap<u8, Vec<u32>>,
    base_of: HashMap<String, u32>,
    /// Base positions replaced or deleted since.
    dead: HashSet<u32>,
    /// Vectors written since the base was built.
    delta: HashMap<String, (u8, Vec<f32>)>,
    /// Types under this share of the base are scanned ([`SCAN_SHARE`]).
    scan_share: f64,
}

impl VectorSet {
    /// No vectors.
    pub fn empty(dim: usize) -> VectorSet {
        VectorSet {
            dim,
            base: None,
            base_ids: Vec::new(),
            by_type: HashMap::new(),
            base_of: HashMap::new(),
            dead: HashSet::new(),
            delta: HashMap::new(),
            scan_share: SCAN_SHARE,
        }
    }

    /// Set the share below which a type is scanned instead of walked (0: always the
    /// graph), to measure one against the other (`examples/semantic_recall`).
    pub fn set_scan_share(&mut self, share: f64) {
        self.scan_share = share;
    }

    /// Every vector of `store` as the base: the HNSW graph is read from `graph` when it was
    /// saved for exactly these vectors, else built and saved there.
    pub fn load(store: &VectorStore, graph: &Path) -> needle_store::Result<VectorSet> {
        let dim = store.dim();
        let started = std::time::Instant::now();
        // The codes as stored: a quarter of the memory of f32 rows, the same scores.
        let mut builder = IndexBuilder::quantized(dim, index_config());
        let mut base_ids = Vec::new();
        let mut bad = 0usize;
        store.for_each_quantized(|id, kind, scale, codes| {
            if builder.add_i8(base_ids.len() as u32, scale, codes).is_ok() {
                base_ids.push((id.to_string(), kind));
            } else {
                bad += 1;
            }
        })?;
        if bad > 0 {
            tracing::warn!(bad, "vectors with non-finite values skipped");
        }
        let n = base_ids.len();
        let (base, origin) = builder.build_or_load(graph, n as u64, 0);
        if let (Some(h), needle_recs::index::IndexOrigin::Built | needle_recs::index::IndexOrigin::Rebuilt(_)) =
            (base.as_hnsw(), &origin)
        {
            if let Err(e) = h.save_graph(graph, n as u64, 0) {
                tracing::warn!(error = %e, "cannot save the semantic index graph; it is rebuilt at the next start");
            }
        }
        tracing::info!(
            vectors = n,
            origin = ?origin,
            kind = base.kind(),
            seconds = started.elapsed().as_secs_f64(),
            "semantic index ready"
        );
        let base_of = base_ids
            .iter()
            .enumerate()
            .map(|(i, (id, _))| (id.clone(), i as u32))
            .collect();
        let mut by_type: HashMap<u8, Vec<u32>> = HashMap::new();
        for (i, (_, c)) in base_ids.iter().enumerate() {
            by_type.entry(*c).or_default().push(i as u32);
        }
        Ok(VectorSet {
            dim,
            base: Some(base),
            base_ids,
            by_type,
            base_of,
            dead: HashSet::new(),
            delta: HashMap::new(),
            scan_share: SCAN_SHARE,
        })
    }

    /// Vectors searchable.
    pub fn len(&self) -> usize {
        self.base_ids.len() - self.dead.len() + self.delta.len()
    }

    /// Whether nothing is searchable.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vectors written since the base was built.
    pub fn delta_len(&self) -> usize {
        self.delta.len() + self.dead.len()
    }

    /// Should the base be rebuilt from the store, given whether entities are still queued?
    /// Past [`REBUILD_AT`] changes when nothing is queued; during a backfill only once the
    /// delta outgrows [`GROWTH`] times the base.
    pub fn needs_rebuild(&self, queued: bool) -> bool {
        let delta = self.delta_len();
        delta > REBUILD_AT && (!queued || delta > GROWTH * self.base_ids.len())
    }

    /// Put `id`'s new vector.
    pub fn upsert(&mut self, id: &str, kind: u8, v: Vec<f32>) {
        if let Some(&i) = self.base_of.get(id) {
            self.dead.insert(i);
        }
        self.delta.insert(id.to_string(), (kind, v));
    }

    /// Forget `id`.
    pub fn remove(&mut self, id: &str) {
        if let Some(&i) = self.base_of.get(id) {
            self.dead.insert(i);
        }
        self.delta.remove(id);
    }

    /// Approximate heap bytes of the vectors: the base's `i8` codes and scales, the
    /// delta's `f32` rows.
    pub fn vector_bytes(&self) -> usize {
        self.base_ids.len() * (self.dim + std::mem::size_of::<f32>())
            + self.delta.len() * self.dim * std::mem::size_of::<f32>()
    }

    /// The `k` nearest vectors of entities of `types` (empty: any), best first. Types
    /// holding under [`SCAN_SHARE`] of the base are scanned row by row (exact); otherwise
    /// the graph answers, filtered only when some type of the base is left out.
    pub fn search(&self, query: &[f32], k: usize, types: &[EntityType]) -> Vec<Near> {
        if query.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let codes: Vec<u8> = types.iter().map(|t| t.code() as u8).collect();
        let type_ok = |c: u8| codes.is_empty() || codes.contains(&c);
        let mut out: Vec<Near> = Vec::with_capacity(2 * k);
        if let Some(base) = &self.base {
            let every_type = self.by_type.keys().all(|&c| type_ok(c));
            let rows: usize = codes.iter().filter_map(|c| self.by_type.get(c)).map(Vec::len).sum();
            if !every_type && (rows as f64) < self.scan_share * self.base_ids.len() as f64 {
                self.scan_rows(base.as_ref(), query, k, &codes, &mut out);
            } else {
                let live = |i: u32| !self.dead.contains(&i);
                let of_type = |i: u32| live(i) && self.base_ids.get(i as usize).is_some_and(|(_, c)| type_ok(*c));
                let filter: &(dyn Fn(u32) -> bool + Sync) = if every_type { &live } else { &of_type };
                for h in base.search(query, k, filter) {
                    if let Some((id, _)) = self.base_ids.get(h.id as usize) {
                        out.push(Near {
                            id: id.clone(),
                            similarity: h.score,
                        });
                    }
                }
            }
        }
        for (id, (c, v)) in &self.delta {
            if type_ok(*c) {
                out.push(Near {
                    id: id.clone(),
                    similarity: dot(query, v),
                });
            }
        }
        out.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.id.cmp(&b.id)));
        out.truncate(k);
        out
    }

    /// The `k` best live base rows of the types `codes`, by an exact scan, into `out`.
    fn scan_rows(&self, base: &dyn VectorIndex, query: &[f32], k: usize, codes: &[u8], out: &mut Vec<Near>) {
        let cmp = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        let mut best: Vec<(f32, u32)> = Vec::new();
        with_simd(|| {
            for &pos in codes.iter().filter_map(|c| self.by_type.get(c)).flatten() {
                if self.dead.contains(&pos) {
                    continue;
                }
                if let Some((_, score)) = base.row_score(pos as usize, query) {
                    best.push((score, pos));
                }
                if best.len() >= 4 * k + 256 {
                    best.select_nth_unstable_by(k - 1, cmp);
                    best.truncate(k);
                }
            }
        });
        if best.len() > k {
            best.select_nth_unstable_by(k - 1, cmp);
            best.truncate(k);
        }
        out.extend(best.into_iter().filter_map(|(similarity, pos)| {
            let (id, _) = self.base_ids.get(pos as usize)?;
            Some(Near {
                id: id.clone(),
                similarity,
            })
        }));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v(x: f32, y: f32) -> Vec<f32> {
        let n = (x * x + y * y).sqrt();
        vec![x / n, y / n]
    }

    #[test]
    fn the_delta_replaces_and_removes_base_vectors() {
        let tmp = tempfile::tempdir().unwrap();
        let store = VectorStore::open(tmp.path(), "t", 2).unwrap();
        let sv = |kind, vector| needle_store::StoredVector {
            text_hash: 1,
            kind,
            vector,
        };
        let show = EntityType::Show.code() as u8;
        let book = EntityType::Audiobook.code() as u8;
        store
            .write(
                &[
                    ("a".into(), sv(show, v(1.0, 0.0))),
                    ("b".into(), sv(show, v(0.0, 1.0))),
                    ("c".into(), sv(book, v(1.0, 0.1))),
                ],
                &[],
            )
            .unwrap();
        let mut set = VectorSet::load(&store, &tmp.path().join("g")).unwrap();
        let ids = |n: Vec<Near>| n.into_iter().map(|n| n.id).collect::<Vec<_>>();
        assert_eq!(ids(set.search(&v(1.0, 0.0), 2, &[])), ["a", "c"]);
        assert_eq!(ids(set.search(&v(1.0, 0.0), 2, &[EntityType::Show])), ["a", "b"]);
        set.upsert("a", show, v(0.0, 1.0));
        set.remove("c");
        assert_eq!(ids(set.search(&v(1.0, 0.0), 3, &[])), ["a", "b"]);
        assert_eq!(set.len(), 2);
        assert!(set.search(&[1.0], 3, &[]).is_empty(), "wrong dimension");
    }

    #[test]
    fn a_rare_type_is_scanned_exactly_and_answers_as_the_filtered_search() {
        let tmp = tempfile::tempdir().unwrap();
        let store = VectorStore::open(tmp.path(), "t", 2).unwrap();
        let show = EntityType::Show.code() as u8;
        let episode = EntityType::Episode.code() as u8;
        // 400 vectors around the circle; every 50th is an episode (2%, under SCAN_SHARE).
        let rows: Vec<(String, needle_store::StoredVector)> = (0..400)
            .map(|i| {
                let a = i as f32 * 0.0157;
                let kind = if i % 50 == 7 { episode } else { show };
                (
                    format!("e{i:03}"),
                    needle_store::StoredVector {
                        text_hash: 1,
                        kind,
                        vector: v(a.cos(), a.sin()),
                    },
                )
            })
            .collect();
        store.write(&rows, &[]).unwrap();
        let mut set = VectorSet::load(&store, &tmp.path().join("g")).unwrap();
        let episodes: usize = set.by_type.get(&episode).map_or(0, Vec::len);
        assert_eq!(episodes, 8);
        assert!(
            (episodes as f64) < SCAN_SHARE * 400.0,
            "the test must take the scan path"
        );
        let q = v(1.0, 0.3);
        let exact = |set: &VectorSet| {
            let mut all: Vec<(f32, String)> = rows
                .iter()
                .filter(|(id, r)| r.kind == episode && set.base_of.get(id).is_some_and(|i| !set.dead.contains(i)))
                .map(|(id, r)| (dot(&q, &r.vector), id.clone()))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
            all.into_iter().take(3).map(|(_, id)| id).collect::<Vec<_>>()
        };
        let got = |set: &VectorSet| {
            set.search(&q, 3, &[EntityType::Episode])
                .into_iter()
                .map(|n| n.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(got(&set), exact(&set));
        let first = got(&set)[0].clone();
        set.remove(&first);
        assert_eq!(got(&set), exact(&set), "a deleted row is not scanned");
        assert!(!got(&set).contains(&first));
        let shows = set.search(&q, 5, &[EntityType::Show]);
        assert_eq!(shows.len(), 5);
        assert!(shows.iter().all(|n| set
            .base_of
            .get(&n.id)
            .is_some_and(|&i| set.base_ids[i as usize].1 == show)));
    }

    #[test]
    fn a_backfill_rebuilds_geometrically_and_once_more_when_idle() {
        let mut set = VectorSet::empty(2);
        set.base_ids = (0..100_000).map(|i| (format!("b{i}"), 0)).collect();
        for i in 0..REBUILD_AT {
            set.delta.insert(format!("d{i}"), (0, v(1.0, 0.0)));
        }
        assert!(!set.needs_rebuild(false), "not past the mark yet");
        set.delta.insert("one more".into(), (0, v(1.0, 0.0)));
        assert!(set.needs_rebuild(false), "idle: past the mark");
        assert!(
            !set.needs_rebuild(true),
            "a backfill waits for the delta to outgrow the base"
        );
        for i in 0..GROWTH * 100_000 {
            set.delta.insert(format!("e{i}"), (0, v(1.0, 0.0)));
        }
        assert!(set.needs_rebuild(true), "outgrown: rebuilt even while busy");
        let mut small = VectorSet::empty(2);
        for i in 0..=REBUILD_AT {
            small.delta.insert(format!("d{i}"), (0, v(1.0, 0.0)));
        }
        assert!(small.needs_rebuild(true), "an empty base is built past the mark");
    }
}
