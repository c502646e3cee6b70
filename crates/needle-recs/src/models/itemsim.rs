//! Item-item neighbourhood models on a sparse top-k similarity table:
//! - item-kNN: cosine with shrinkage, `s(i,j) = Σᵤ xᵤᵢxᵤⱼ / (‖xᵢ‖‖xⱼ‖ + shrink)`;
//! - RP3beta (Paudel et al. 2017; Dacrema et al. 2019's implementation):
//!   `W(i,j) = Σᵤ (xᵤᵢ/deg(i))^α (xᵤⱼ/deg(u))^α / deg(j)^β` on binary `x`.
//!
//! Each row keeps its `k` largest entries (never `i` itself). A listener's scores are
//! `Σ_{i ∈ history} xᵤᵢ · S(i, ·)`.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Confidence, History, Recommender};
use crate::matrix::Csr;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ItemKnnConfig {
    pub k: usize,
    pub shrink: f32,
    /// Weights in `X` for the similarity and for scoring.
    pub confidence: Confidence,
}

impl Default for ItemKnnConfig {
    fn default() -> Self {
        Self {
            k: 300,
            shrink: 5.0,
            confidence: Confidence::Binary,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Rp3betaConfig {
    pub alpha: f32,
    pub beta: f32,
    pub k: usize,
    /// L1-normalize each row after the top-k cut.
    pub normalize: bool,
}

impl Default for Rp3betaConfig {
    fn default() -> Self {
        Self {
            alpha: 0.75,
            beta: 0.4,
            k: 500,
            normalize: false,
        }
    }
}

/// A sparse item x item similarity model (item-kNN or RP3beta).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ItemSimilarity {
    name: String,
    /// item x item, top-k per row
    pub sim: Csr,
    confidence: Confidence,
}

impl ItemSimilarity {
    /// A model from its table: row `i` holds what a play of item `i` adds to each item.
    pub fn from_table(name: &str, sim: Csr, confidence: Confidence) -> Self {
        Self {
            name: name.into(),
            sim,
            confidence,
        }
    }

    /// How history weights are transformed before they multiply a row.
    pub fn confidence(&self) -> Confidence {
        self.confidence
    }

    pub fn item_knn(train: &Csr, c: &ItemKnnConfig) -> Self {
        let x = train.map_values(|r| c.confidence.transform(r));
        let xt = x.transpose();
        let norms: Vec<f32> = (0..xt.nrows())
            .map(|i| xt.row(i).1.iter().map(|v| v * v).sum::<f32>().sqrt())
            .collect();
        let shrink = c.shrink;
        let sim = top_k_products(&xt, &x, c.k, |i, j, s| s / (norms[i] * norms[j] + shrink + 1e-12));
        Self {
            name: "item_knn".into(),
            sim,
            confidence: c.confidence,
        }
    }

    pub fn rp3beta(train: &Csr, c: &Rp3betaConfig) -> Self {
        let xb = train.map_values(|_| 1.0);
        let xt = xb.transpose();
        let deg_item: Vec<f32> = (0..xt.nrows()).map(|i| xt.row_len(i) as f32).collect();
        let deg_user: Vec<f32> = (0..xb.nrows()).map(|u| xb.row_len(u) as f32).collect();
        let alpha = c.alpha;
        // left: item x user, (1/deg(i))^α ; right: user x item, (1/deg(u))^α
        let mut left = xt.clone();
        scale_rows(&mut left, |i| (1.0 / deg_item[i]).powf(alpha));
        let mut right = xb.clone();
        scale_rows(&mut right, |u| (1.0 / deg_user[u]).powf(alpha));
        let beta = c.beta;
        let mut sim = top_k_products(&left, &right, c.k, |_, j, s| s / deg_item[j].max(1.0).powf(beta));
        if c.normalize {
            scale_rows_by_l1(&mut sim);
        }
        Self {
            name: "rp3beta".into(),
            sim,
            confidence: Confidence::Binary,
        }
    }

    /// The `k` most similar items to `item` with their similarity (row of the table).
    pub fn neighbours(&self, item: u32) -> Vec<(u32, f32)> {
        let (c, v) = self.sim.row(item as usize);
        let mut n: Vec<(u32, f32)> = c.iter().copied().zip(v.iter().copied()).collect();
        n.sort_by(|a, b| b.1.total_cmp(&a.1));
        n
    }
}

impl Recommender for ItemSimilarity {
    fn name(&self) -> &str {
        &self.name
    }

    fn n_items(&self) -> usize {
        self.sim.ncols()
    }

    fn score(&self, _user: Option<u32>, history: History<'_>, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        for (&i, &r) in history.items.iter().zip(history.weights) {
            let w = self.confidence.transform(r);
            let (cols, vals) = self.sim.row(i as usize);
            for (&j, &s) in cols.iter().zip(vals) {
                out[j as usize] += w * s;
            }
        }
    }
}

fn scale_rows(m: &mut Csr, f: impl Fn(usize) -> f32) {
    let rows: Vec<Vec<(u32, f32)>> = (0..m.nrows())
        .map(|r| {
            let s = f(r);
            let (c, v) = m.row(r);
            c.iter().zip(v).map(|(&c, &v)| (c, v * s)).collect()
        })
        .collect();
    *m = Csr::from_rows(m.ncols(), rows);
}

fn scale_rows_by_l1(m: &mut Csr) {
    let sums: Vec<f32> = (0..m.nrows())
        .map(|r| m.row(r).1.iter().map(|v| v.abs()).sum())
        .collect();
    scale_rows(m, |r| if sums[r] > 0.0 { 1.0 / sums[r] } else { 0.0 });
}

/// Row `i` of `left · right` (`left`: n x u, `right`: u x n), mapped through
/// `finish(i, j, value)`, keeping the `k` largest positive entries with `j != i`.
fn top_k_products(left: &Csr, right: &Csr, k: usize, finish: impl Fn(usize, usize, f32) -> f32 + Sync) -> Csr {
    let n = right.ncols();
    let rows: Vec<Vec<(u32, f32)>> = (0..left.nrows())
        .into_par_iter()
        .map_init(
            || (vec![0f32; n], Vec::<u32>::new()),
            |(acc, touched), i| {
                let (us, ws) = left.row(i);
                for (&u, &a) in us.iter().zip(ws) {
                    let (js, bs) = right.row(u as usize);
                    for (&j, &b) in js.iter().zip(bs) {
                        if acc[j as usize] == 0.0 {
                            touched.push(j);
                        }
                        acc[j as usize] += a * b;
                    }
                }
                let mut row: Vec<(u32, f32)> = Vec::with_capacity(touched.len());
                for &j in touched.iter() {
                    let v = acc[j as usize];
                    acc[j as usize] = 0.0;
                    if j as usize != i {
                        let s = finish(i, j as usize, v);
                        if s > 0.0 {
                            row.push((j, s));
                        }
                    }
                }
                touched.clear();
                if row.len() > k {
                    row.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
                    row.truncate(k);
                }
                row
            },
        )
        .collect();
    Csr::from_rows(n, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Csr {
        // items 0,1 co-listened by users 0..3; item 2 by users 3,4; user 5 has item 0
        let t = [
            (0, 0, 1.0),
            (0, 1, 1.0),
            (1, 0, 1.0),
            (1, 1, 1.0),
            (2, 0, 1.0),
            (2, 1, 1.0),
            (3, 1, 1.0),
            (3, 2, 1.0),
            (4, 2, 1.0),
            (5, 0, 1.0),
        ];
        Csr::from_triplets(6, 3, &t)
    }

    #[test]
    fn knn_cosine() {
        let m = data();
        let knn = ItemSimilarity::item_knn(
            &m,
            &ItemKnnConfig {
                k: 5,
                shrink: 0.0,
                ..Default::default()
            },
        );
        // cos(0,1) = 3 / (2 * 2) ; items 0 has 4 users, item 1 has 4 users
        let s01 = knn.sim.get(0, 1).unwrap();
        assert!((s01 - 3.0 / 4.0).abs() < 1e-6, "{s01}");
        assert_eq!(knn.sim.get(0, 0), None);
        assert_eq!(knn.sim.get(0, 2), None);
        let mut out = vec![0f32; 3];
        knn.score(None, History::from_row(&m, 5), &mut out);
        assert!(out[1] > out[2]);
        assert_eq!(knn.neighbours(1)[0].0, 0);
    }

    #[test]
    fn rp3beta_top_k_and_popularity_penalty() {
        let m = data();
        let rp = ItemSimilarity::rp3beta(
            &m,
            &Rp3betaConfig {
                alpha: 1.0,
                beta: 0.0,
                k: 1,
                normalize: false,
            },
        );
        assert_eq!(rp.sim.row_len(1), 1);
        // W(2,1) = sum over users of item 2 (3,4): (1/2)*(1/deg(u))*[u has 1] = 1/2 * 1/2
        let w21 = rp.sim.get(2, 1).unwrap();
        assert!((w21 - 0.25).abs() < 1e-6, "{w21}");
        let rp_b = ItemSimilarity::rp3beta(
            &m,
            &Rp3betaConfig {
                alpha: 1.0,
                beta: 1.0,
                k: 5,
                normalize: true,
            },
        );
        let (_, v) = rp_b.sim.row(0);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
