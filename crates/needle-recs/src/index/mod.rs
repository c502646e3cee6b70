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
//! Rows are kept as `f32`, or quantized to `i8` with one scale per row
//! ([`IndexBuilder::quantized`]: a quarter of the memory; the index then answers exactly as
//! one over the dequantized rows `code · scale`).
//!
//! Filters are applied during the graph traversal (as `hnsw_rs`'s `search_filter`: rejected
//! nodes are still walked through, never returned); if fewer than `k` hits survive, the
//! search is repeated with a 4x larger candidate list, and finally as a filtered exact scan,
//! so a selective filter never starves the result.
//!
//! The graph is built by `hnsw_rs` and then kept as plain link tables ([`Graph`], searched in
//! `hnsw.rs`), which a model saves beside its vectors ([`HnswIndex::save_graph`]) and
//! [`IndexBuilder::build_or_load`] reads back instead of rebuilding.

mod graph;
mod hnsw;

use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dense::{dot, dot_i8, with_simd};
use crate::RecsError;

pub use graph::{vectors_crc, Graph, GraphTag};
pub use hnsw::HnswIndex;

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
    /// The id of the `pos`-th vector added (in [`IndexBuilder::add`] order) and its inner
    /// product with `query`, for callers that scan a known subset of rows themselves.
    fn row_score(&self, pos: usize, query: &[f32]) -> Option<(u32, f32)>;
    /// Row `pos` (in [`IndexBuilder::add`] order) as `f32`: borrowed when the rows are kept
    /// as `f32`, dequantized (`code · scale`) when they are `i8` codes; `None` past the end.
    /// A model reads its vectors here instead of keeping a second copy.
    fn row(&self, pos: usize) -> Option<Cow<'_, [f32]>>;
    /// Row `pos` as its scale and `i8` codes when the rows are kept quantized (`None` for
    /// `f32` rows or past the end): what a model file stores.
    fn row_i8(&self, pos: usize) -> Option<(f32, &[i8])>;
    /// Bytes the rows hold in memory.
    fn vector_bytes(&self) -> usize;
    /// The HNSW index behind this one, if it is one (to save its graph).
    fn as_hnsw(&self) -> Option<&HnswIndex> {
        None
    }
}

/// Where [`IndexBuilder::build_or_load`] got its index from.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexOrigin {
    /// An exact scan (nothing to build or load).
    Exact,
    /// The graph file was read.
    Loaded,
    /// Built: there was no graph file.
    Built,
    /// Built: the graph file could not be used (the reason: stale, damaged, unreadable).
    Rebuilt(String),
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

/// The vectors of an index, row-major.
enum Rows {
    F32(Vec<f32>),
    /// `dim` codes per row and one scale per row: the row is `code · scale`.
    I8 {
        codes: Vec<i8>,
        scales: Vec<f32>,
    },
}

impl Rows {
    /// Bytes held.
    fn bytes(&self) -> usize {
        match self {
            Rows::F32(d) => d.len() * 4,
            Rows::I8 { codes, scales } => codes.len() + scales.len() * 4,
        }
    }
}

/// Quantize `v` to `i8` codes with one scale (`v ≈ code · scale`, the largest magnitude
/// maps to ±127), as the vector file stores them.
pub fn quantize_i8(v: &[f32]) -> (f32, Vec<i8>) {
    let mut codes = Vec::with_capacity(v.len());
    let scale = quantize_i8_into(v, &mut codes);
    (scale, codes)
}

/// [`quantize_i8`] appending the codes to `codes` (no allocation per row when quantizing
/// many rows into one buffer); returns the scale.
pub fn quantize_i8_into(v: &[f32], codes: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    codes.extend(v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8));
    scale
}

/// Collects `(id, vector)` pairs, then builds the index that fits their number.
pub struct IndexBuilder {
    dim: usize,
    config: IndexConfig,
    ids: Vec<u32>,
    rows: Rows,
    /// The [`GraphTag::vectors_crc`] of rows given as `f32` and kept as codes
    /// ([`IndexBuilder::quantize_rows`]): computed on the `f32` given, so a graph saved for
    /// them still fits.
    crc: Option<u32>,
}

/// `rows` (row-major, `dim` floats each) checked: whole rows, every value finite.
fn check_rows(dim: usize, rows: &[f32]) -> Result<(), RecsError> {
    let d = dim.max(1);
    if !rows.len().is_multiple_of(d) {
        return Err(RecsError::InvalidInput(format!(
            "{} floats are not whole rows of {dim} dims",
            rows.len()
        )));
    }
    if let Some(p) = rows.iter().position(|v| !v.is_finite()) {
        return Err(RecsError::InvalidInput(format!(
            "vector {} has a non-finite value",
            p / d
        )));
    }
    Ok(())
}

impl IndexBuilder {
    pub fn new(dim: usize, config: IndexConfig) -> Self {
        Self {
            dim,
            config,
            ids: Vec::new(),
            rows: Rows::F32(Vec::new()),
            crc: None,
        }
    }

    /// A builder whose index keeps its rows as `i8` codes with one scale per row (a
    /// quarter of the memory of `f32`): rows given as `f32` are quantized, rows given as
    /// codes ([`IndexBuilder::add_i8`]) are kept as they are.
    pub fn quantized(dim: usize, config: IndexConfig) -> Self {
        Self {
            dim,
            config,
            ids: Vec::new(),
            rows: Rows::I8 {
                codes: Vec::new(),
                scales: Vec::new(),
            },
            crc: None,
        }
    }

    /// A builder holding `rows` (row-major, `dim` floats each) with ids `0..n` as `i8`
    /// codes ([`quantize_i8`] per row); the `f32` rows are dropped. A graph saved for the
    /// `f32` rows still fits the index built (its tag's checksum is theirs).
    pub fn quantize_rows(dim: usize, config: IndexConfig, rows: Vec<f32>) -> Result<Self, RecsError> {
        check_rows(dim, &rows)?;
        let crc = vectors_crc(&rows);
        let d = dim.max(1);
        let n = rows.len() / d;
        let mut codes = Vec::with_capacity(rows.len());
        let mut scales = Vec::with_capacity(n);
        for v in rows.chunks_exact(d) {
            scales.push(quantize_i8_into(v, &mut codes));
        }
        drop(rows);
        Ok(Self {
            dim,
            config,
            ids: (0..n as u32).collect(),
            rows: Rows::I8 { codes, scales },
            crc: Some(crc),
        })
    }

    /// A builder holding rows given as `i8` codes (row-major, `dim` each) and one scale per
    /// row (the row is `code · scale`), with ids `0..n`, taken without a copy.
    pub fn from_codes(dim: usize, config: IndexConfig, codes: Vec<i8>, scales: Vec<f32>) -> Result<Self, RecsError> {
        let d = dim.max(1);
        if codes.len() != scales.len() * d {
            return Err(RecsError::InvalidInput(format!(
                "{} codes are not {} rows of {dim} dims",
                codes.len(),
                scales.len()
            )));
        }
        if let Some(p) = scales.iter().position(|s| !s.is_finite()) {
            return Err(RecsError::InvalidInput(format!("vector {p} has a non-finite scale")));
        }
        Ok(Self {
            dim,
            config,
            ids: (0..scales.len() as u32).collect(),
            rows: Rows::I8 { codes, scales },
            crc: None,
        })
    }

    /// Add a row given as `i8` codes and its scale (the row is `code · scale`).
    pub fn add_i8(&mut self, id: u32, scale: f32, codes: &[i8]) -> Result<(), RecsError> {
        if codes.len() != self.dim {
            return Err(RecsError::InvalidInput(format!(
                "vector of {} dims, index has {}",
                codes.len(),
                self.dim
            )));
        }
        if !scale.is_finite() {
            return Err(RecsError::InvalidInput(format!("vector {id} has a non-finite scale")));
        }
        self.ids.push(id);
        match &mut self.rows {
            Rows::F32(data) => data.extend(codes.iter().map(|&c| c as f32 * scale)),
            Rows::I8 { codes: all, scales } => {
                all.extend_from_slice(codes);
                scales.push(scale);
            }
        }
        Ok(())
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
        match &mut self.rows {
            Rows::F32(data) => data.extend_from_slice(vector),
            Rows::I8 { codes, scales } => scales.push(quantize_i8_into(vector, codes)),
        }
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
            rows: self.rows,
            crc: self.crc,
        }
    }

    pub fn build_hnsw(self) -> HnswIndex {
        let config = self.config.clone();
        HnswIndex::new(self.build_exact(), &config)
    }

    /// Like [`IndexBuilder::build`], but an HNSW index takes its graph from the file at
    /// `graph` when that file was written for these vectors and model (`version`,
    /// `created_ms`) and is intact; otherwise the graph is built, and the origin says why.
    pub fn build_or_load(self, graph: &Path, version: u64, created_ms: i64) -> (Box<dyn VectorIndex>, IndexOrigin) {
        if self.ids.len() < self.config.exact_threshold {
            return (self.build(), IndexOrigin::Exact);
        }
        let config = self.config.clone();
        let exact = self.build_exact();
        let tag = hnsw::tag_of(&exact, version, created_ms);
        let origin = match Graph::read(graph, &tag) {
            Ok(g) => return (Box::new(HnswIndex::with_graph(exact, g, &config)), IndexOrigin::Loaded),
            Err(RecsError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => IndexOrigin::Built,
            Err(e) => IndexOrigin::Rebuilt(e.to_string()),
        };
        (Box::new(HnswIndex::new(exact, &config)), origin)
    }
}

/// A scan over all vectors.
pub struct ExactIndex {
    dim: usize,
    ids: Vec<u32>,
    rows: Rows,
    /// The checksum of the `f32` rows these codes were made from, when they were (see
    /// [`IndexBuilder::quantize_rows`]).
    crc: Option<u32>,
}

impl ExactIndex {
    /// The inner product of row `pos` with `query` (−∞ past the end). Call inside
    /// [`with_simd`] for the vector kernels.
    #[inline(always)]
    pub(super) fn score(&self, pos: usize, query: &[f32]) -> f32 {
        let dim = self.dim.max(1);
        match &self.rows {
            Rows::F32(data) => data
                .get(pos * dim..(pos + 1) * dim)
                .map_or(f32::NEG_INFINITY, |v| dot(v, query)),
            Rows::I8 { codes, scales } => match (codes.get(pos * dim..(pos + 1) * dim), scales.get(pos)) {
                (Some(c), Some(s)) => dot_i8(query, c) * s,
                _ => f32::NEG_INFINITY,
            },
        }
    }

    /// Row `pos` as `f32` into `out` (`dim` long).
    pub(super) fn row_into(&self, pos: usize, out: &mut [f32]) {
        let dim = self.dim.max(1);
        match &self.rows {
            Rows::F32(data) => {
                if let Some(v) = data.get(pos * dim..(pos + 1) * dim) {
                    out.copy_from_slice(v);
                }
            }
            Rows::I8 { codes, scales } => {
                if let (Some(c), Some(&s)) = (codes.get(pos * dim..(pos + 1) * dim), scales.get(pos)) {
                    for (o, &x) in out.iter_mut().zip(c) {
                        *o = x as f32 * s;
                    }
                }
            }
        }
    }

    /// CRC-32 of the rows as little-endian `f32` (dequantized), the
    /// [`GraphTag::vectors_crc`] of an index: the same for `f32` rows equal to the codes
    /// times their scales, so a graph saved before rows were kept as codes still fits.
    /// Rows quantized by [`IndexBuilder::quantize_rows`] keep the checksum of the `f32`
    /// rows they were made from.
    pub(super) fn crc(&self) -> u32 {
        if let Some(crc) = self.crc {
            return crc;
        }
        match &self.rows {
            Rows::F32(data) => vectors_crc(data),
            Rows::I8 { .. } => {
                let mut h = crc32fast::Hasher::new();
                let mut row = vec![0f32; self.dim];
                let mut buf = Vec::with_capacity(64 * 1024);
                for pos in 0..self.ids.len() {
                    self.row_into(pos, &mut row);
                    for x in &row {
                        buf.extend_from_slice(&x.to_le_bytes());
                    }
                    if buf.len() >= 60 * 1024 {
                        h.update(&buf);
                        buf.clear();
                    }
                }
                h.update(&buf);
                h.finalize()
            }
        }
    }

    fn scan(&self, query: &[f32], k: usize, filter: &(dyn Fn(u32) -> bool + Sync)) -> Vec<Hit> {
        let mut hits: Vec<Hit> = with_simd(|| {
            self.ids
                .iter()
                .enumerate()
                .filter(|(_, &id)| filter(id))
                .map(|(pos, &id)| Hit {
                    id,
                    score: self.score(pos, query),
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

    fn row_score(&self, pos: usize, query: &[f32]) -> Option<(u32, f32)> {
        let id = *self.ids.get(pos)?;
        Some((id, self.score(pos, query)))
    }

    fn row(&self, pos: usize) -> Option<Cow<'_, [f32]>> {
        let dim = self.dim.max(1);
        match &self.rows {
            Rows::F32(data) => data.get(pos * dim..(pos + 1) * dim).map(Cow::Borrowed),
            Rows::I8 { codes, scales } => {
                let (c, s) = (codes.get(pos * dim..(pos + 1) * dim)?, scales.get(pos)?);
                Some(Cow::Owned(c.iter().map(|&x| x as f32 * s).collect()))
            }
        }
    }

    fn vector_bytes(&self) -> usize {
        self.rows.bytes()
    }

    fn row_i8(&self, pos: usize) -> Option<(f32, &[i8])> {
        let dim = self.dim.max(1);
        match &self.rows {
            Rows::F32(_) => None,
            Rows::I8 { codes, scales } => Some((*scales.get(pos)?, codes.get(pos * dim..(pos + 1) * dim)?)),
        }
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

    #[test]
    fn a_quantized_index_answers_as_one_over_its_dequantized_rows_and_shares_its_graph() {
        let (n, d) = (2000, 24);
        let data = vectors(n, d);
        let cfg = IndexConfig {
            exact_threshold: 100,
            ..Default::default()
        };
        let mut q = IndexBuilder::quantized(d, cfg.clone());
        let mut deq = Vec::with_capacity(n * d);
        for (i, v) in data.chunks_exact(d).enumerate() {
            let (scale, codes) = quantize_i8(v);
            if i % 2 == 0 {
                q.add(i as u32, v).unwrap();
            } else {
                q.add_i8(i as u32, scale, &codes).unwrap();
            }
            deq.extend(codes.iter().map(|&c| c as f32 * scale));
        }
        assert!(q.add_i8(1, f32::NAN, &vec![0; d]).is_err());
        assert!(q.add_i8(1, 1.0, &[0; 3]).is_err());
        let exact_q = q.build_exact();
        let mut f = IndexBuilder::new(d, cfg.clone());
        f.add_all(&deq).unwrap();
        let exact_f = f.build_exact();
        assert_eq!(exact_q.vector_bytes(), n * d + n * 4);
        assert_eq!(exact_f.vector_bytes(), n * d * 4);
        assert_eq!(exact_q.crc(), exact_f.crc(), "a graph saved for one fits the other");
        for query in vectors(20, d).chunks_exact(d) {
            let a = exact_q.search(query, 10, &|_| true);
            let b = exact_f.search(query, 10, &|_| true);
            assert_eq!(
                a.iter().map(|h| h.id).collect::<Vec<_>>(),
                b.iter().map(|h| h.id).collect::<Vec<_>>()
            );
            for (x, y) in a.iter().zip(&b) {
                assert!((x.score - y.score).abs() < 1e-5, "{} vs {}", x.score, y.score);
            }
        }
        // The graph of the quantized rows, saved and read back for the f32 rows.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("g");
        let hnsw = HnswIndex::new(exact_q, &cfg);
        hnsw.save_graph(&path, 1, 0).unwrap();
        let mut f = IndexBuilder::new(d, cfg);
        f.add_all(&deq).unwrap();
        let (_, origin) = f.build_or_load(&path, 1, 0);
        assert_eq!(origin, IndexOrigin::Loaded);
    }

    #[test]
    fn rows_quantized_at_load_keep_the_graph_saved_for_their_f32_and_read_back_as_codes() {
        let (n, d) = (600, 16);
        let data = vectors(n, d);
        let cfg = IndexConfig {
            exact_threshold: 100,
            ..Default::default()
        };
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("g");
        let mut f = IndexBuilder::new(d, cfg.clone());
        f.add_all(&data).unwrap();
        let f32_index = f.build_hnsw();
        f32_index.save_graph(&path, 3, 9).unwrap();
        let q = IndexBuilder::quantize_rows(d, cfg.clone(), data.clone()).unwrap();
        let (idx, origin) = q.build_or_load(&path, 3, 9);
        assert_eq!(origin, IndexOrigin::Loaded, "the f32 rows' graph fits their codes");
        assert_eq!(idx.as_hnsw().map(|h| h.exact.vector_bytes()), Some(n * d + n * 4));
        for pos in [0, 17, n - 1] {
            let (scale, codes) = idx.row_i8(pos).unwrap();
            assert_eq!((scale, codes.to_vec()), quantize_i8(&data[pos * d..(pos + 1) * d]));
            let row = idx.row(pos).unwrap();
            assert!(matches!(row, Cow::Owned(_)));
            for (a, b) in row.iter().zip(&data[pos * d..]) {
                assert!((a - b).abs() <= scale / 2.0 + 1e-6, "{a} vs {b}");
            }
        }
        assert!(idx.row(n).is_none() && idx.row_i8(n).is_none());
        assert!(f32_index.row_i8(0).is_none());
        assert!(matches!(f32_index.row(0), Some(Cow::Borrowed(_))));
        // The same codes given as codes: the same answers.
        let (mut codes, mut scales) = (Vec::new(), Vec::new());
        for pos in 0..n {
            let (s, c) = idx.row_i8(pos).unwrap();
            codes.extend_from_slice(c);
            scales.push(s);
        }
        let again = IndexBuilder::from_codes(d, cfg.clone(), codes.clone(), scales.clone())
            .unwrap()
            .build_exact();
        for query in vectors(10, d).chunks_exact(d) {
            let a: Vec<u32> = idx.search(query, 5, &|_| true).iter().map(|h| h.id).collect();
            let b: Vec<u32> = again.search(query, 5, &|_| true).iter().map(|h| h.id).collect();
            assert!(a.iter().filter(|x| b.contains(x)).count() >= 4, "{a:?} vs {b:?}");
        }
        assert!(IndexBuilder::from_codes(d, cfg.clone(), codes[1..].to_vec(), scales.clone()).is_err());
        scales[2] = f32::INFINITY;
        assert!(IndexBuilder::from_codes(d, cfg.clone(), codes, scales).is_err());
        assert!(IndexBuilder::quantize_rows(d, cfg, vec![f32::NAN; d]).is_err());
    }

    fn builder(data: &[f32], d: usize) -> IndexBuilder {
        let mut b = IndexBuilder::new(
            d,
            IndexConfig {
                exact_threshold: 100,
                ..Default::default()
            },
        );
        b.add_all(data).unwrap();
        b
    }

    #[test]
    fn a_saved_graph_answers_exactly_as_the_built_one() {
        let (n, d) = (2000, 12);
        let data = vectors(n, d);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model-000007.hnsw");
        let built = builder(&data, d).build_hnsw();
        built.save_graph(&path, 7, 1234).unwrap();
        let (loaded, origin) = builder(&data, d).build_or_load(&path, 7, 1234);
        assert_eq!(origin, IndexOrigin::Loaded);
        assert_eq!(loaded.kind(), "hnsw");
        let queries = vectors(200, d);
        let filters: [&(dyn Fn(u32) -> bool + Sync); 3] = [&|_| true, &|id| id % 3 == 1, &|id| id % 100 == 7];
        for (i, q) in queries.chunks_exact(d).enumerate() {
            let f = filters[i % 3];
            let a = built.search(q, 10, f);
            assert_eq!(a.len(), 10);
            assert_eq!(a, loaded.search(q, 10, f));
        }
    }

    #[test]
    fn a_missing_stale_or_damaged_graph_is_rebuilt() {
        let (n, d) = (500, 8);
        let data = vectors(n, d);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.hnsw");
        let (_, origin) = builder(&data, d).build_or_load(&path, 1, 0);
        assert_eq!(origin, IndexOrigin::Built);
        builder(&data, d).build_hnsw().save_graph(&path, 1, 0).unwrap();
        // another model version, creation time, or vectors
        for (version, created) in [(2, 0), (1, 5)] {
            let (idx, origin) = builder(&data, d).build_or_load(&path, version, created);
            assert!(
                matches!(origin, IndexOrigin::Rebuilt(ref r) if r.contains("another model")),
                "{origin:?}"
            );
            assert_eq!(idx.search(&data[..d], 3, &|_| true).len(), 3);
        }
        let mut other = data.clone();
        other[5] += 1.0;
        let (_, origin) = builder(&other, d).build_or_load(&path, 1, 0);
        assert!(matches!(origin, IndexOrigin::Rebuilt(_)), "{origin:?}");
        let (_, origin) = builder(&data[..(n - 1) * d], d).build_or_load(&path, 1, 0);
        assert!(matches!(origin, IndexOrigin::Rebuilt(_)), "{origin:?}");
        // below the threshold nothing is read
        let (idx, origin) = builder(&data[..50 * d], d).build_or_load(&path, 1, 0);
        assert_eq!((idx.kind(), origin), ("exact", IndexOrigin::Exact));
        // damaged: truncated, a flipped bit, garbage
        let good = fs_err::read(&path).unwrap();
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x10;
        for bad in [&good[..good.len() - 3], &good[..40], &flipped[..], b"garbage"] {
            fs_err::write(&path, bad).unwrap();
            let (idx, origin) = builder(&data, d).build_or_load(&path, 1, 0);
            assert!(matches!(origin, IndexOrigin::Rebuilt(_)), "{origin:?}");
            assert_eq!(idx.search(&data[..d], 3, &|_| true).len(), 3);
        }
    }
}
