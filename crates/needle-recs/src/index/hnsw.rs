//! [`HnswIndex`]: the graph built by `hnsw_rs` over the augmented unit vectors, then kept as
//! a plain [`Graph`] and searched here (so a graph read from a file answers exactly as the
//! one just built).
//!
//! The search is `hnsw_rs`'s: a greedy descent from the entry node through the upper layers,
//! then a best-first search of layer 0 with a candidate list of `ef`, the filter applied to
//! the results only (rejected nodes are still walked through). One difference: each upper
//! layer is descended until no neighbour is closer (`hnsw_rs` looks at one neighbourhood
//! per layer), a start on layer 0 at least as close. Since the query's extra
//! coordinate is 0, `1 − y'·q'` orders nodes as `−y·q`: the walk compares exact inner
//! products on the raw vectors, which are also the returned scores.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::path::Path;

use hnsw_rs::prelude::{Distance, Hnsw};
use rustc_hash::FxHashSet;

use super::graph::{Graph, GraphTag, Layer};
use super::{top_hits, ExactIndex, Hit, IndexConfig, VectorIndex};
use crate::dense::{dot, with_simd};
use crate::RecsError;

/// `1 − a·b` on unit vectors (clamped at 0 against rounding).
#[derive(Clone, Copy, Default)]
struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - with_simd(|| dot(a, b))).max(0.0)
    }
}

/// HNSW over the vectors, with the raw vectors kept for scoring and the fallback scan.
pub struct HnswIndex {
    pub(super) exact: ExactIndex,
    graph: Graph,
    ef_search: usize,
}

impl HnswIndex {
    /// Build the graph with `hnsw_rs` (minutes at a million vectors).
    pub(super) fn new(exact: ExactIndex, config: &IndexConfig) -> Self {
        let graph = build_graph(&exact, config);
        Self::with_graph(exact, graph, config)
    }

    /// An index over `exact`'s vectors with a graph built for them earlier.
    pub(super) fn with_graph(exact: ExactIndex, graph: Graph, config: &IndexConfig) -> Self {
        Self {
            exact,
            graph,
            ef_search: config.ef_search.max(1),
        }
    }

    /// Write the graph to `path` (atomically), tagged with the model it belongs to.
    pub fn save_graph(&self, path: &Path, version: u64, created_ms: i64) -> Result<(), RecsError> {
        self.graph.write(path, &self.tag(version, created_ms))
    }

    pub(super) fn tag(&self, version: u64, created_ms: i64) -> GraphTag {
        tag_of(&self.exact, version, created_ms)
    }

    /// Search with an explicit candidate-list size (for recall measurements).
    pub fn search_ef(&self, query: &[f32], k: usize, ef: usize, filter: &(dyn Fn(u32) -> bool + Sync)) -> Vec<Hit> {
        let dim = self.exact.dim;
        if query.len() != dim || k == 0 || self.exact.ids.is_empty() {
            return Vec::new();
        }
        let qn = dot(query, query).sqrt();
        if qn == 0.0 || !qn.is_finite() {
            return self.exact.scan(query, k, filter);
        }
        let ids = &self.exact.ids;
        let n = ids.len();
        let mut ef = ef.max(k);
        loop {
            let mut hits = with_simd(|| self.walk(query, k, ef, filter));
            if hits.len() >= k || ef >= n {
                top_hits(&mut hits, k);
                return hits;
            }
            if ef * 4 >= n / 4 {
                // the filter passes too few items for the graph: scan
                return self.exact.scan(query, k, filter);
            }
            ef *= 4;
        }
    }

    /// The graph search: at most `min(k, ef)` hits passing `filter`, best first.
    #[inline(always)]
    fn walk(&self, query: &[f32], k: usize, ef: usize, filter: &(dyn Fn(u32) -> bool + Sync)) -> Vec<Hit> {
        let (exact, ids) = (&self.exact, &self.exact.ids);
        let score = |p: u32| exact.score(p as usize, query);
        let pass = |p: u32| ids.get(p as usize).is_some_and(|&id| filter(id));
        let hit = |s: Scored| Hit {
            id: ids.get(s.node as usize).copied().unwrap_or(u32::MAX),
            score: s.score,
        };
        let Some((bottom, upper)) = self.graph.layers.split_first() else {
            return Vec::new();
        };
        let mut cur = Scored::new(score(self.graph.entry), self.graph.entry);
        for layer in upper.iter().rev() {
            loop {
                let best = layer
                    .neighbours(cur.node)
                    .iter()
                    .map(|&nb| Scored::new(score(nb), nb))
                    .fold(cur, Scored::max);
                if best.node == cur.node {
                    break;
                }
                cur = best;
            }
        }
        // A set per search (not a stamp per node and thread): its size follows the walk, not
        // the index, however many threads search.
        let mut visited = FxHashSet::with_capacity_and_hasher(ef * 16, Default::default());
        visited.insert(cur.node);
        let mut candidates = BinaryHeap::from([cur]);
        let mut results: BinaryHeap<Reverse<Scored>> = BinaryHeap::with_capacity(ef + 1);
        if pass(cur.node) {
            results.push(Reverse(cur));
        }
        // As in `hnsw_rs` with a filter, the candidates are drained (no early stop once the
        // best candidate is worse than the worst result); only better nodes join them.
        while let Some(c) = candidates.pop() {
            for &nb in bottom.neighbours(c.node) {
                if !visited.insert(nb) {
                    continue;
                }
                let s = Scored::new(score(nb), nb);
                let worst = results.peek().map(|r| r.0);
                if results.len() < ef || worst.is_none_or(|w| s > w) {
                    candidates.push(s);
                    if pass(nb) {
                        results.push(Reverse(s));
                        if results.len() > ef {
                            results.pop();
                        }
                    }
                }
            }
        }
        let mut hits: Vec<Hit> = results.into_sorted_vec().into_iter().map(|r| hit(r.0)).collect();
        hits.truncate(k.min(ef));
        hits
    }
}

impl VectorIndex for HnswIndex {
    fn dim(&self) -> usize {
        self.exact.dim
    }

    fn len(&self) -> usize {
        self.exact.ids.len()
    }

    fn kind(&self) -> &'static str {
        "hnsw"
    }

    fn search(&self, query: &[f32], k: usize, filter: &(dyn Fn(u32) -> bool + Sync)) -> Vec<Hit> {
        self.search_ef(query, k, self.ef_search, filter)
    }

    fn row_score(&self, pos: usize, query: &[f32]) -> Option<(u32, f32)> {
        self.exact.row_score(pos, query)
    }

    fn row(&self, pos: usize) -> Option<std::borrow::Cow<'_, [f32]>> {
        self.exact.row(pos)
    }

    fn row_i8(&self, pos: usize) -> Option<(f32, &[i8])> {
        self.exact.row_i8(pos)
    }

    fn vector_bytes(&self) -> usize {
        self.exact.vector_bytes()
    }

    fn as_hnsw(&self) -> Option<&HnswIndex> {
        Some(self)
    }
}

/// The tag a graph over `exact`'s vectors carries for model (`version`, `created_ms`).
pub(super) fn tag_of(exact: &ExactIndex, version: u64, created_ms: i64) -> GraphTag {
    GraphTag {
        version,
        created_ms,
        count: exact.ids.len() as u64,
        dim: exact.dim as u32,
        vectors_crc: exact.crc(),
    }
}

/// Rows augmented and handed to `hnsw_rs` at a time (it copies each point, so only this
/// many augmented rows exist besides its copies).
const INSERT_CHUNK: usize = 16 * 1024;

/// Build with `hnsw_rs` over the augmented unit vectors, then copy its links out.
fn build_graph(exact: &ExactIndex, config: &IndexConfig) -> Graph {
    let dim = exact.dim;
    let n = exact.ids.len();
    let mut row = vec![0f32; dim];
    let max_norm = (0..n)
        .map(|p| {
            exact.row_into(p, &mut row);
            dot(&row, &row).sqrt()
        })
        .fold(0f32, f32::max)
        .max(1e-12);
    let m = config.m.clamp(4, 255);
    let hnsw = Hnsw::<f32, UnitDot>::new(m, n.max(1), 16, config.ef_construction.max(m), UnitDot);
    let mut aug = vec![0f32; INSERT_CHUNK.min(n) * (dim + 1)];
    for start in (0..n).step_by(INSERT_CHUNK) {
        let end = (start + INSERT_CHUNK).min(n);
        for (p, a) in (start..end).zip(aug.chunks_exact_mut(dim + 1)) {
            exact.row_into(p, &mut row);
            let sq = dot(&row, &row);
            for (x, y) in a[..dim].iter_mut().zip(&row) {
                *x = y / max_norm;
            }
            a[dim] = ((max_norm * max_norm - sq).max(0.0)).sqrt() / max_norm;
        }
        let rows: Vec<(&[f32], usize)> = aug
            .chunks_exact(dim + 1)
            .take(end - start)
            .enumerate()
            .map(|(i, v)| (v, start + i))
            .collect();
        hnsw.parallel_insert_slice(&rows);
    }
    drop(aug);
    extract(&hnsw, n)
}

/// The links of every node per layer, as positions.
fn extract(hnsw: &Hnsw<'_, f32, UnitDot>, n: usize) -> Graph {
    let points = hnsw.get_point_indexation();
    let top = points.get_max_level_observed() as usize;
    if n == 0 {
        return Graph::default();
    }
    let mut lists: Vec<Vec<(u32, Vec<u32>)>> = vec![Vec::new(); top + 1];
    for p in points {
        let node = p.get_origin_id() as u32;
        let level = (p.get_point_id().0 as usize).min(top);
        for (l, nbs) in p.get_neighborhood_id().into_iter().take(level + 1).enumerate() {
            lists[l].push((node, nbs.iter().map(|nb| nb.d_id as u32).collect()));
        }
    }
    let entry = points
        .get_layer_iterator(top)
        .next()
        .map_or(0, |p| p.get_origin_id() as u32);
    let layers = lists
        .into_iter()
        .enumerate()
        .map(|(l, mut nodes)| {
            nodes.sort_unstable_by_key(|x| x.0);
            Layer::from_lists(l == 0, nodes)
        })
        .collect();
    Graph { entry, layers }
}

/// A node with its inner product with the query; ordered by score, then by smaller position.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scored {
    score: f32,
    node: u32,
}

impl Scored {
    fn new(score: f32, node: u32) -> Self {
        Self { score, node }
    }
}

impl Eq for Scored {}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score.total_cmp(&other.score).then(other.node.cmp(&self.node))
    }
}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
