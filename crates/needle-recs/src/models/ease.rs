//! EASE^R (Steck, WWW 2019): a closed-form item x item linear model,
//! `B = I − P · diag(1 / diag(P))` with `P = (XᵀX + λI)⁻¹`, `diag(B) = 0`; a listener's
//! scores are `x_u B`. The `n x n` inverse (n = items with training interactions) is
//! computed in `f32` by faer's multithreaded Cholesky; items without training interactions
//! get no column (score 0).

use faer::Mat;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Confidence, History, ItemSimilarity, Recommender};
use crate::dense::{axpy, spd_inverse, with_simd};
use crate::matrix::Csr;
use crate::RecsError;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct EaseConfig {
    pub lambda: f32,
    /// Weights in `X` (binary is Steck's setting).
    pub confidence: Confidence,
    /// Items with fewer training interactions are left out of the model (0 = keep all).
    pub min_item_support: u32,
    /// At most this many items, the most listened first (0 = no cap): the dense `n x n`
    /// inverse is the scalable limit (10,000 items: 400 MB and about a minute on 2 cores).
    pub max_items: usize,
    /// Keep only the `top_k` largest weights (by magnitude) of each item's row, as a sparse
    /// item table (0 = dense): what the server keeps and scores with.
    pub top_k: usize,
}

impl Default for EaseConfig {
    fn default() -> Self {
        Self {
            lambda: 100.0,
            confidence: Confidence::Binary,
            min_item_support: 2,
            max_items: 0,
            top_k: 0,
        }
    }
}

/// A trained EASE^R model: the dense `m x m` weights over the kept items.
#[derive(Clone, Debug)]
pub struct Ease {
    n_items: usize,
    /// model position of each item (`u32::MAX` = not in the model)
    pos: Vec<u32>,
    /// item index of each model position
    items: Vec<u32>,
    /// row-major `m x m`
    b: Vec<f32>,
    confidence: Confidence,
}

impl Ease {
    pub fn train(train: &Csr, config: &EaseConfig) -> Result<Ease, RecsError> {
        let n_items = train.ncols();
        let counts = train.col_counts();
        let min = config.min_item_support.max(1);
        let mut items: Vec<u32> = (0..n_items as u32).filter(|&i| counts[i as usize] >= min).collect();
        if config.max_items > 0 && items.len() > config.max_items {
            items.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
            items.truncate(config.max_items);
            items.sort_unstable();
        }
        let mut pos = vec![u32::MAX; n_items];
        for (p, &i) in items.iter().enumerate() {
            pos[i as usize] = p as u32;
        }
        let m = items.len();
        // G = XᵀX + λI, accumulated from each user's co-occurrences
        let mut g = Mat::<f32>::zeros(m, m);
        for u in 0..train.nrows() {
            let (cols, vals) = train.row(u);
            let row: Vec<(usize, f32)> = cols
                .iter()
                .zip(vals)
                .filter(|(&i, _)| pos[i as usize] != u32::MAX)
                .map(|(&i, &r)| (pos[i as usize] as usize, config.confidence.transform(r)))
                .collect();
            for &(a, wa) in &row {
                for &(b, wb) in &row {
                    g[(a, b)] += wa * wb;
                }
            }
        }
        for d in 0..m {
            g[(d, d)] += config.lambda;
        }
        let p = spd_inverse(g).ok_or_else(|| RecsError::Numeric("EASE: XᵀX + λI is not positive definite".into()))?;
        // B[i][j] = -P[i][j] / P[j][j], diagonal 0. P is symmetric: column j of P is row j.
        let mut b = vec![0f32; m * m];
        b.par_chunks_mut(m.max(1)).enumerate().for_each(|(i, row)| {
            for (j, v) in row.iter_mut().enumerate() {
                *v = if i == j { 0.0 } else { -p[(i, j)] / p[(j, j)] };
            }
        });
        Ok(Ease {
            n_items,
            pos,
            items,
            b,
            confidence: config.confidence,
        })
    }

    /// Number of items with a column in the model.
    pub fn model_items(&self) -> usize {
        self.items.len()
    }

    /// The model as a sparse item table keeping the `k` largest weights (by magnitude) of
    /// each row: `x_u B` with most of `B`'s mass at a fraction of its size.
    pub fn sparse(&self, k: usize) -> ItemSimilarity {
        let m = self.items.len();
        let rows: Vec<Vec<(u32, f32)>> = (0..self.n_items)
            .into_par_iter()
            .map(|i| {
                let p = self.pos[i];
                if p == u32::MAX {
                    return Vec::new();
                }
                let b = &self.b[p as usize * m..(p as usize + 1) * m];
                let mut row: Vec<(u32, f32)> = b
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v != 0.0)
                    .map(|(q, &v)| (self.items[q], v))
                    .collect();
                if k > 0 && row.len() > k {
                    row.select_nth_unstable_by(k - 1, |a, b| b.1.abs().total_cmp(&a.1.abs()));
                    row.truncate(k);
                }
                row.sort_unstable_by_key(|r| r.0);
                row
            })
            .collect();
        ItemSimilarity::from_table("ease", Csr::from_rows(self.n_items, rows), self.confidence)
    }
}

impl Recommender for Ease {
    fn name(&self) -> &str {
        "ease"
    }

    fn n_items(&self) -> usize {
        self.n_items
    }

    fn score(&self, _user: Option<u32>, history: History<'_>, out: &mut [f32]) {
        let m = self.items.len();
        let mut acc = vec![0f32; m];
        with_simd(|| {
            for (&i, &r) in history.items.iter().zip(history.weights) {
                let Some(&p) = self.pos.get(i as usize) else { continue };
                if p == u32::MAX {
                    continue;
                }
                let p = p as usize;
                axpy(self.confidence.transform(r), &self.b[p * m..(p + 1) * m], &mut acc);
            }
        });
        out.iter_mut().for_each(|v| *v = 0.0);
        for (p, &i) in self.items.iter().enumerate() {
            out[i as usize] = acc[p];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recommends_co_listened_item() {
        // items 0 and 1 always together; user 3 has only item 0
        let t = [
            (0, 0, 1.0),
            (0, 1, 1.0),
            (1, 0, 1.0),
            (1, 1, 1.0),
            (2, 2, 1.0),
            (2, 3, 1.0),
            (3, 0, 1.0),
        ];
        let m = Csr::from_triplets(4, 5, &t);
        let e = Ease::train(
            &m,
            &EaseConfig {
                lambda: 1.0,
                min_item_support: 1,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(e.model_items(), 4);
        let mut s = vec![0f32; 5];
        e.score(None, History::from_row(&m, 3), &mut s);
        assert!(s[1] > s[2] && s[1] > s[3] && s[1] > 0.0, "{s:?}");
        assert_eq!(s[4], 0.0);
        assert_eq!(s[0], 0.0, "self-similarity is zero");
    }
}
