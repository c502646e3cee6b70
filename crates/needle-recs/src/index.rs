//! Vector retrieval by inner product behind Needle's own [`VectorIndex`] trait:
//! [`ExactIndex`] (a scan) below `exact_threshold` vectors, [`HnswIndex`] (the `hnsw_rs`
//! crate) above it.
//!
//! HNSW needs a metric, and maximum inner product is not one; vectors are mapped to the
//! unit sphere in one more dimension (Bachrach et al. 2014):
//! `y' = [y, sqrt(M² − ‖y‖²)] / M` (M = largest norm), `q' = [q / ‖q‖, 0]`, so
//! `y'·q' = y·q / (M‖q‖)` ranks items exactly as `y·q`, and `1 − y'·q'` is searched.
//! Returned hits are re-scored with the exact inner product.
//!
//! Filters are applied during the graph traversal (`hnsw_rs`'s `search_filter`: rejected
//! nodes are still walked through, never returned); if fewer than `k` hits survive, the
//! search is repeated with a 4x larger candidate list, and finally as a filtered exact scan,
//! so a selective filter never starves the result.

use hnsw_rs::prelude::{Distance, Hnsw};
use serde::{Deserialize, Serialize};

use crate::dense::{dot, with_simd};
use crate::RecsError;

/// One search result: the caller's id and the inner product with the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub id: u32,
    pub score: f32,
}

/// Top-k inner-product search over a fixed set of vectors.
pub trait VectorIndex: Send + Sync {
    fn dim(&self) -> usize;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// `"exact"` or `"hnsw"`.
    fn kind(&self) -> &'static str;
    /// The `k` vectors with the largest inner product with `query` among those whose id
    /// passes `filter`, best first. Fewer than `k` only if fewer pass the filter.
    fn search(&self, query: &[f32], k: usize, filter: &(dyn Fn(u32) -> bool + Sync)) -> Vec<Hit>;
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct IndexConfig {
    /// Below this many vectors the index is an exact scan.
    pub exact_threshold: usize,
    /// HNSW links per node.
    pub m: usize,
    pub ef_construction: usize,
    /// Candidate list size at query time (at least `k`).
    pub ef_search: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            exact_threshold: 20_000,
            m: 24,
            ef_construction: 200,
            ef_search: 128,
        }
    }
}

/// Collects `(id, vector)` pairs, then builds the index that fits their number.
pub struct IndexBuilder {
    dim: usize,
    config: IndexConfig,
    ids: Vec<u32>,
    data: Vec<f32>,
}

impl IndexBuilder {
    pub fn new(dim: usize, config: IndexConfig) -> Self {
        Self {
            dim,
            config,
            ids: Vec::new(),
            data: Vec::new(),
        }
    }

    pub fn add(&mut self, id: u32, vector: &[f32]) -> Result<(), RecsError> {
        if vector.len() != self.dim {
            return Err(RecsError::InvalidInput(format!(
                "vector of {} dims, index has {}",
                vector.len(),
                self.dim
            )));
        }
        if vector.iter().any(|v| !v.is_finite()) {
            return Err(RecsError::InvalidInput(format!("vector {id} has a non-finite value")));
        }
        self.ids.push(id);
        self.data.extend_from_slice(vector);
        Ok(())
    }

    /// Adds rows of a row-major matrix with ids `0..n`.
    pub fn add_all(&mut self, rows: &[f32]) -> Result<(), RecsError> {
        for (i, v) in rows.chunks_exact(self.dim.max(1)).enumerate() {
            self.add(i as u32, v)?;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// [`ExactIndex`] below `exact_threshold` vectors, [`HnswIndex`] from there on.
    pub fn build(self) -> Box<dyn VectorIndex> {
        if self.ids.len() < self.config.exact_threshold {
            Box::new(self.build_exact())
        } else {
            Box::new(self.build_hnsw())
        }
    }

    pub fn build_exact(self) -> ExactIndex {
        ExactIndex {
            dim: self.dim,
            ids: self.ids,
            data: self.data,
        }
    }

    pub fn build_hnsw(self) -> HnswIndex {
        HnswIndex::new(self.dim, self.ids, self.data, &self.config)
    }
}

/// A scan over all vectors.
pub struct ExactIndex {
    dim: usize,
    ids: Vec<u32>,
    data: Vec<f32>,
}

impl ExactIndex {
    fn scan(&self, query: &[f32], k: usize, filter: &(dyn Fn(u32) -> bool + Sync)) -> Vec<Hit> {
        let mut hits: Vec<Hit> = with_simd(|| {
            self.data
                .chunks_exact(self.dim.max(1))
                .zip(&self.ids)
                .filter(|(_, &id)| filter(id))
                .map(|(v, &id)| Hit {
                    id,
                    score: dot(v, query),
                })
                .collect()
        });
        top_hits(&mut hits, k);
        hits
    }
}

impl VectorIndex for ExactIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn kind(&self) -> &'static str {
        "exact"
    }

    fn search(&self, query: &[f32], k: usize, filter: &(dyn Fn(u32) -> bool + Sync)) -> Vec<Hit> {
        if query.len() != self.dim || k == 0 {
            return Vec::new();
        }
        self.scan(query, k, filter)
    }
}

/// `1 − a·b` on unit vectors (clamped at 0 against rounding).
#[derive(Clone, Copy, Default)]
struct UnitDot;

impl Distance<f32> for UnitDot {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - with_simd(|| dot(a, b))).max(0.0)
    }
}

/// HNSW over the augmented unit vectors, with the raw vectors kept for exact re-scoring and
/// the fallback scan.
pub struct HnswIndex {
    exact: ExactIndex,
    hnsw: Hnsw<'static, f32, UnitDot>,
    ef_search: usize,
}

impl HnswIndex {
    fn new(dim: usize, ids: Vec<u32>, data: Vec<f32>, config: &IndexConfig) -> Self {
        let n = ids.len();
        let max_norm = data
            .chunks_exact(dim.max(1))
            .map(|v| dot(v, v).sqrt())
            .fold(0f32, f32::max)
            .max(1e-12);
        let mut aug = vec![0f32; n * (dim + 1)];
        for (v, a) in data.chunks_exact(dim.max(1)).zip(aug.chunks_exact_mut(dim + 1)) {
            let sq = dot(v, v);
            for (x, y) in a[..dim].iter_mut().zip(v) {
                *x = y / max_norm;
            }
            a[dim] = ((max_norm * max_norm - sq).max(0.0)).sqrt() / max_norm;
        }
        let m = config.m.clamp(4, 255);
        let hnsw = Hnsw::<f32, UnitDot>::new(m, n.max(1), 16, config.ef_construction.max(m), UnitDot);
        let rows: Vec<(&[f32], usize)> = aug.chunks_exact(dim + 1).enumerate().map(|(p, v)| (v, p)).collect();
        hnsw.parallel_insert_slice(&rows);
        let mut hnsw = hnsw;
        hnsw.set_searching_mode(true);
        Self {
            exact: ExactIndex { dim, ids, data },
            hnsw,
            ef_search: config.ef_search.max(1),
        }
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
        let mut q = Vec::with_capacity(dim + 1);
        q.extend(query.iter().map(|v| v / qn));
        q.push(0.0);
        let ids = &self.exact.ids;
        let pass = |p: &usize| filter(ids[*p]);
        let n = ids.len();
        let mut ef = ef.max(k);
        loop {
            let found = self.hnsw.search_filter(&q, k, ef, Some(&pass));
            if found.len() >= k || ef >= n {
                let mut hits: Vec<Hit> = found
                    .iter()
                    .map(|nb| {
                        let p = nb.d_id;
                        let v = &self.exact.data[p * dim..(p + 1) * dim];
                        Hit {
                            id: ids[p],
                            score: with_simd(|| dot(v, query)),
                        }
                    })
                    .collect();
                top_hits(&mut hits, k);
                if hits.len() >= k || ef >= n {
                    return hits;
                }
            }
            if ef * 4 >= n / 4 {
                // the filter passes too few items for the graph: scan
                return self.exact.scan(query, k, filter);
            }
            ef *= 4;
        }
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
}

/// Keeps the `k` best hits, sorted by score (ties by id).
fn top_hits(hits: &mut Vec<Hit>, k: usize) {
    let cmp = |a: &Hit, b: &Hit| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id));
    if hits.len() > k && k > 0 {
        hits.select_nth_unstable_by(k - 1, cmp);
        hits.truncate(k);
    }
    hits.truncate(k);
    hits.sort_by(cmp);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn vectors(n: usize, d: usize) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        (0..n * d).map(|_| rng.random::<f32>() - 0.5).collect()
    }

    #[test]
    fn exact_top_k_with_filter() {
        let mut b = IndexBuilder::new(2, IndexConfig::default());
        for (id, v) in [(10, [1.0, 0.0]), (11, [0.0, 1.0]), (12, [2.0, 0.0]), (13, [-1.0, 0.0])] {
            b.add(id, &v).unwrap();
        }
        assert!(b.add(1, &[1.0]).is_err());
        let idx = b.build();
        assert_eq!(idx.kind(), "exact");
        let hits = idx.search(&[1.0, 0.1], 2, &|_| true);
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![12, 10]);
        let hits = idx.search(&[1.0, 0.1], 2, &|id| id != 12);
        assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![10, 11]);
        assert_eq!(idx.search(&[1.0, 0.1], 10, &|_| true).len(), 4);
    }

    #[test]
    fn hnsw_matches_exact_and_is_not_starved_by_filters() {
        let (n, d) = (3000, 16);
        let data = vectors(n, d);
        let cfg = IndexConfig {
            exact_threshold: 100,
            ..Default::default()
        };
        let mut b = IndexBuilder::new(d, cfg.clone());
        b.add_all(&data).unwrap();
        let idx = b.build();
        assert_eq!(idx.kind(), "hnsw");
        let mut e = IndexBuilder::new(d, cfg);
        e.add_all(&data).unwrap();
        let exact = e.build_exact();
        let queries = vectors(50, d);
        let mut found = 0;
        for q in queries.chunks_exact(d) {
            let a: Vec<u32> = idx.search(q, 10, &|_| true).iter().map(|h| h.id).collect();
            let b: Vec<u32> = exact.search(q, 10, &|_| true).iter().map(|h| h.id).collect();
            found += a.iter().filter(|x| b.contains(x)).count();
        }
        assert!(found as f32 / 500.0 > 0.9, "recall {found}/500");
        // a filter passing 1% of the items still fills k
        for q in queries.chunks_exact(d).take(5) {
            let hits = idx.search(q, 10, &|id| id % 100 == 7);
            assert_eq!(hits.len(), 10);
            assert!(hits.iter().all(|h| h.id % 100 == 7));
            let want: Vec<u32> = exact.search(q, 10, &|id| id % 100 == 7).iter().map(|h| h.id).collect();
            let got: Vec<u32> = hits.iter().map(|h| h.id).collect();
            assert!(got.iter().filter(|x| want.contains(x)).count() >= 8);
        }
        // a filter passing only 3 items returns exactly those
        assert_eq!(idx.search(&queries[..d], 10, &|id| id < 3).len(), 3);
    }
}
