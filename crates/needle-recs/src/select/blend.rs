//! The chosen blend: [`Blended`] scores offline (full ranking), [`ServedBlend`] is what a
//! served model keeps beside its vectors and scores candidates with.

use std::collections::HashMap;

use super::{active_items, tune::stats, Family, Selection};
use crate::matrix::Csr;
use crate::models::{Als, History, ItemSimilarity, Recommender};

/// How a blend scores, without the ALS vectors themselves: what a served model keeps
/// beside its vectors (and saves in its file).
#[derive(Clone, Debug)]
pub struct ServedBlend {
    /// Weight of the ALS part (0: its vectors only propose candidates).
    pub als_weight: f32,
    pub tables: Vec<(Family, f32, ItemSimilarity)>,
    /// Items with training interactions (what standardization averages over).
    pub n_active: usize,
    /// Mean of the active items' ALS vectors and their covariance (`f x f`, row-major), so
    /// a listener vector's mean and variance over the items cost one `f x f` product.
    pub als_mean: Vec<f32>,
    pub als_cov: Vec<f32>,
    pub selection: Selection,
}

impl ServedBlend {
    /// Whether item tables take part (otherwise ALS alone ranks).
    pub fn has_tables(&self) -> bool {
        !self.tables.is_empty()
    }

    /// Mean and standard deviation (1 when degenerate) of `vector · y_i` over the active
    /// items.
    pub fn als_stats(&self, vector: &[f32]) -> (f32, f32) {
        let f = self.als_mean.len();
        if vector.len() != f || f == 0 {
            return (0.0, 1.0);
        }
        let mean = crate::dense::dot(vector, &self.als_mean);
        let mut var = 0f64;
        for (a, row) in vector.iter().zip(self.als_cov.chunks_exact(f)) {
            var += *a as f64 * crate::dense::dot(row, vector) as f64;
        }
        let sd = var.max(0.0).sqrt() as f32;
        (mean, if sd > 0.0 && sd.is_finite() { sd } else { 1.0 })
    }

    /// The tables' weighted, standardized scores for `history`: every item some table
    /// scores, with its blended table score; every other item scores the returned `base`.
    pub fn table_scores(&self, history: History<'_>) -> (HashMap<u32, f32>, f32) {
        let n = self.n_active.max(1) as f64;
        let mut out: HashMap<u32, f32> = HashMap::new();
        let mut base = 0f32;
        for (_, w, t) in &self.tables {
            let mut acc: HashMap<u32, f32> = HashMap::new();
            let conf = t.confidence();
            for (&i, &r) in history.items.iter().zip(history.weights) {
                if (i as usize) >= t.sim.nrows() {
                    continue;
                }
                let (cols, vals) = t.sim.row(i as usize);
                let x = conf.transform(r);
                for (&j, &s) in cols.iter().zip(vals) {
                    *acc.entry(j).or_insert(0.0) += x * s;
                }
            }
            let (s, s2) = acc
                .values()
                .fold((0f64, 0f64), |a, &v| (a.0 + v as f64, a.1 + (v as f64) * (v as f64)));
            let mean = s / n;
            let sd = (s2 / n - mean * mean).max(0.0).sqrt() as f32;
            let sd = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
            let scale = *w / sd;
            let shift = mean as f32 * scale;
            base -= shift;
            for (j, v) in acc {
                // Items this table scores get its part now; `base` adds every table's shift
                // below, so an item another table scores is not shifted twice.
                *out.entry(j).or_insert(0.0) += v * scale;
            }
        }
        for v in out.values_mut() {
            *v += base;
        }
        (out, base)
    }
}

/// The selected blend: ALS (whose vectors the server searches) and item tables, each
/// standardized per listener over the items with training interactions.
pub struct Blended {
    pub als: Als,
    pub mix: ServedBlend,
    /// Items with training interactions, in index order.
    pub(super) active: Vec<u32>,
}

impl Blended {
    /// A blend of `als` (weight `als_weight`) and `tables`, trained on `m`.
    pub fn new(
        als: Als,
        tables: Vec<(Family, f32, ItemSimilarity)>,
        als_weight: f32,
        m: &Csr,
        selection: Selection,
    ) -> Blended {
        let active = active_items(m);
        let (als_mean, als_cov) = vector_moments(&als, &active);
        Blended {
            mix: ServedBlend {
                als_weight,
                tables,
                n_active: active.len(),
                als_mean,
                als_cov,
                selection,
            },
            als,
            active,
        }
    }
}

/// Mean vector and covariance matrix (row-major `f x f`) of `als`'s item vectors over `items`.
fn vector_moments(als: &Als, items: &[u32]) -> (Vec<f32>, Vec<f32>) {
    let f = als.factors();
    let n = items.len().max(1) as f64;
    let mut mean = vec![0f64; f];
    let mut second = vec![0f64; f * f];
    for &i in items {
        let Some(v) = als.item_vector(i as usize) else { continue };
        for (a, &x) in v.iter().enumerate() {
            mean[a] += x as f64;
            let row = &mut second[a * f..(a + 1) * f];
            for (b, &y) in v.iter().enumerate() {
                row[b] += x as f64 * y as f64;
            }
        }
    }
    for m in &mut mean {
        *m /= n;
    }
    let mut cov = vec![0f32; f * f];
    for a in 0..f {
        for b in 0..f {
            cov[a * f + b] = (second[a * f + b] / n - mean[a] * mean[b]) as f32;
        }
    }
    (mean.into_iter().map(|m| m as f32).collect(), cov)
}

impl Recommender for Blended {
    fn name(&self) -> &str {
        "auto"
    }

    fn n_items(&self) -> usize {
        self.als.n_items()
    }

    fn score(&self, user: Option<u32>, history: History<'_>, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let mut buf = vec![0f32; out.len()];
        if self.mix.als_weight > 0.0 {
            self.als.score(user, history, &mut buf);
            let (mean, sd) = stats(&buf, &self.active);
            let sd = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
            let scale = self.mix.als_weight / sd;
            for (o, v) in out.iter_mut().zip(&buf) {
                *o += (v - mean) * scale;
            }
        }
        for (_, w, t) in &self.mix.tables {
            t.score(user, history, &mut buf);
            let (mean, sd) = stats(&buf, &self.active);
            let sd = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
            let scale = w / sd;
            for (o, v) in out.iter_mut().zip(&buf) {
                *o += (v - mean) * scale;
            }
        }
    }

    fn describe(&self) -> Option<String> {
        Some(self.mix.selection.summary())
    }
}
