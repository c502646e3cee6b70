//! Implicit-feedback alternating least squares (Hu, Koren, Volinsky, ICDM 2008).
//!
//! Every observed `(u, i)` with raw weight `r` gets preference `p = 1` and confidence
//! `c = 1 + alpha * t(r)` (`t` from [`Confidence`]); unobserved pairs have `p = 0`, `c = 1`.
//! Each half-iteration solves, for every row, `(YᵀY + Yᵀ(Cᵤ − I)Y + λI) xᵤ = YᵀCᵤpᵤ`, with
//! `YᵀY` computed once (faer) and the per-row system either by a few conjugate-gradient
//! steps warm-started from the previous `xᵤ` (Takács et al. 2011, the solver of the Python
//! `implicit` library) or exactly by Cholesky. Rows are solved in parallel with rayon.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{History, Recommender};
use crate::dense::{axpy, cholesky_solve, dot, gram, symv, with_simd};
use crate::matrix::Csr;

/// How a raw weight `r > 0` (a play count) becomes the confidence term `t(r)` in
/// `c = 1 + alpha * t(r)`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Confidence {
    /// `t = 1`: every listened pair counts the same (the RecBole protocol's information).
    Binary,
    /// `t = ln(1 + r / eps)` (Hu et al.'s log scaling).
    Log { eps: f32 },
    /// `t = r`.
    Linear,
}

impl Confidence {
    #[inline]
    pub fn transform(&self, r: f32) -> f32 {
        match *self {
            Confidence::Binary => 1.0,
            Confidence::Log { eps } => (1.0 + r / eps).ln(),
            Confidence::Linear => r,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Confidence::Binary => "binary".into(),
            Confidence::Log { eps } => format!("log(1+r/{eps})"),
            Confidence::Linear => "linear".into(),
        }
    }
}

/// Per-row solver.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// `cg_steps` conjugate-gradient steps from the previous solution (fast, approximate).
    Cg,
    /// Exact Cholesky solve of each row's `f x f` system.
    Cholesky,
}

/// ALS hyper-parameters. Defaults are the best of the validation grid on HetRec Last.fm
/// (docs/EVALUATION.md); `regularization` scales with the data, re-tune it on a new catalog.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct AlsConfig {
    pub factors: usize,
    /// `λ` added to the diagonal of every row's system.
    pub regularization: f32,
    pub alpha: f32,
    pub iterations: usize,
    pub confidence: Confidence,
    pub solver: Solver,
    pub cg_steps: usize,
    pub seed: u64,
    /// Side information: each tag (of the items' tags) joins training as a pseudo-listener
    /// of the items carrying it, with this weight in place of a play's `t(r)` (0: off). It
    /// pulls items that share tags together, which places items with few listeners.
    pub tag_weight: f32,
}

impl Default for AlsConfig {
    fn default() -> Self {
        Self {
            factors: 128,
            regularization: 50.0,
            alpha: 10.0,
            iterations: 15,
            confidence: Confidence::Binary,
            solver: Solver::Cg,
            cg_steps: 3,
            seed: 42,
            tag_weight: 0.0,
        }
    }
}

/// A trained ALS model: user and item factors, row-major.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Als {
    pub config: AlsConfig,
    n_users: usize,
    n_items: usize,
    user_factors: Vec<f32>,
    item_factors: Vec<f32>,
    /// `YᵀY + λI` for the final item factors (row-major `f x f`), kept for fold-in.
    yty: Vec<f32>,
}

impl Als {
    /// Trains on a user x item matrix of raw weights.
    pub fn train(train: &Csr, config: &AlsConfig) -> Als {
        Self::train_with_progress(train, config, |_| {})
    }

    /// Like [`Als::train`], calling `progress(iteration)` after each full iteration.
    pub fn train_with_progress(train: &Csr, config: &AlsConfig, progress: impl FnMut(usize)) -> Als {
        Self::train_with_side(train, None, config, progress)
    }

    /// Like [`Als::train_with_progress`], with `tags` (a tag x item matrix: which items carry
    /// each tag) as pseudo-listeners weighted by `config.tag_weight` when it is above 0.
    /// The model's listeners are `train`'s rows only.
    pub fn train_with_side(train: &Csr, tags: Option<&Csr>, config: &AlsConfig, progress: impl FnMut(usize)) -> Als {
        Self::train_with_side_init(train, tags, config, None, progress)
    }

    /// Like [`Als::train_with_side`], starting from the item factors `init` (row-major,
    /// `train.ncols() x factors`; a warm start from a previous model) instead of random ones.
    pub fn train_with_side_init(
        train: &Csr,
        tags: Option<&Csr>,
        config: &AlsConfig,
        init: Option<Vec<f32>>,
        mut progress: impl FnMut(usize),
    ) -> Als {
        let f = config.factors.max(1);
        let conf = config.confidence;
        let alpha = config.alpha;
        let mut cui = train.map_values(|r| 1.0 + alpha * conf.transform(r));
        let n_listeners = train.nrows();
        if let Some(t) = tags.filter(|t| config.tag_weight > 0.0 && t.ncols() == train.ncols() && t.nnz() > 0) {
            let c = 1.0 + alpha * config.tag_weight;
            let mut rows: Vec<Vec<(u32, f32)>> = (0..cui.nrows())
                .map(|u| {
                    let (a, b) = cui.row(u);
                    a.iter().copied().zip(b.iter().copied()).collect()
                })
                .collect();
            rows.extend((0..t.nrows()).map(|r| t.row(r).0.iter().map(|&i| (i, c)).collect()));
            cui = Csr::from_rows(train.ncols(), rows);
        }
        let ciu = cui.transpose();
        let (nu, ni) = (cui.nrows(), cui.ncols());
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        // implicit's initialization: uniform [0, 0.01)
        let mut x: Vec<f32> = (0..nu * f).map(|_| rng.random::<f32>() * 0.01).collect();
        let mut y: Vec<f32> = (0..ni * f).map(|_| rng.random::<f32>() * 0.01).collect();
        if let Some(init) = init.filter(|v| v.len() == ni * f) {
            y = init;
        }
        for it in 0..config.iterations {
            let yty = regularized_gram(&y, f, config.regularization);
            solve_rows(&cui, &mut x, &y, &yty, config);
            let xtx = regularized_gram(&x, f, config.regularization);
            solve_rows(&ciu, &mut y, &x, &xtx, config);
            progress(it + 1);
        }
        let yty = regularized_gram(&y, f, config.regularization);
        x.truncate(n_listeners * f);
        Als {
            config: AlsConfig {
                factors: f,
                ..config.clone()
            },
            n_users: n_listeners,
            n_items: ni,
            user_factors: x,
            item_factors: y,
            yty,
        }
    }

    pub fn factors(&self) -> usize {
        self.config.factors
    }

    /// A model for serving only: trained item factors (row-major, `config.factors` wide)
    /// without user factors; listeners are folded in.
    pub fn from_item_factors(config: AlsConfig, item_factors: Vec<f32>) -> Als {
        let f = config.factors.max(1);
        let yty = regularized_gram(&item_factors, f, config.regularization);
        Als {
            n_users: 0,
            n_items: item_factors.len() / f,
            config: AlsConfig { factors: f, ..config },
            user_factors: Vec::new(),
            item_factors,
            yty,
        }
    }

    pub fn n_users(&self) -> usize {
        self.n_users
    }

    /// The trained vector of user row `u`.
    pub fn user_vector(&self, u: usize) -> Option<&[f32]> {
        let f = self.config.factors;
        (u < self.n_users).then(|| &self.user_factors[u * f..(u + 1) * f])
    }

    pub fn item_vector(&self, i: usize) -> Option<&[f32]> {
        let f = self.config.factors;
        (i < self.n_items).then(|| &self.item_factors[i * f..(i + 1) * f])
    }

    /// All item factors, row-major `n_items x factors` (what the vector index holds).
    pub fn item_factors(&self) -> &[f32] {
        &self.item_factors
    }

    pub fn user_factors(&self) -> &[f32] {
        &self.user_factors
    }

    /// A listener's vector computed from their current history against the trained item
    /// factors: one exact least-squares solve of `(YᵀY + Yᵀ(C − I)Y + λI) x = YᵀCp`, so new
    /// listeners and fresh plays count without retraining. Items outside the model are
    /// ignored; an empty history gives the zero vector.
    pub fn fold_in(&self, history: History<'_>) -> Vec<f32> {
        let f = self.config.factors;
        let mut a = self.yty.clone();
        let mut b = vec![0f32; f];
        for (&i, &r) in history.items.iter().zip(history.weights) {
            let Some(yi) = self.item_vector(i as usize) else {
                continue;
            };
            let c = 1.0 + self.config.alpha * self.config.confidence.transform(r);
            // The solve reads the lower triangle only.
            for p in 0..f {
                let s = (c - 1.0) * yi[p];
                for (q, y) in yi[..=p].iter().enumerate() {
                    a[p * f + q] += s * y;
                }
            }
            axpy(c, yi, &mut b);
        }
        if b.iter().all(|&v| v == 0.0) {
            return vec![0.0; f];
        }
        cholesky_solve(&a, &b).unwrap_or_else(|| vec![0.0; f])
    }

    /// `out[i] = y_i · x` for every item.
    pub fn score_vector(&self, x: &[f32], out: &mut [f32]) {
        let f = self.config.factors;
        with_simd(|| {
            for (o, yi) in out.iter_mut().zip(self.item_factors.chunks_exact(f)) {
                *o = dot(yi, x);
            }
        })
    }
}

impl Recommender for Als {
    fn name(&self) -> &str {
        "als"
    }

    fn n_items(&self) -> usize {
        self.n_items
    }

    /// Uses the trained vector of a training user; anyone else is folded in from `history`.
    fn score(&self, user: Option<u32>, history: History<'_>, out: &mut [f32]) {
        match user.and_then(|u| self.user_vector(u as usize)) {
            Some(x) => self.score_vector(x, out),
            None => {
                let x = self.fold_in(history);
                self.score_vector(&x, out)
            }
        }
    }
}

fn regularized_gram(y: &[f32], f: usize, reg: f32) -> Vec<f32> {
    let mut g = gram(y, f);
    for i in 0..f {
        g[i * f + i] += reg;
    }
    g
}

/// Solves every row of `x` against the fixed factors `y`, with confidences `c` (rows of `c`
/// index rows of `x`, columns index rows of `y`).
fn solve_rows(c: &Csr, x: &mut [f32], y: &[f32], yty: &[f32], config: &AlsConfig) {
    let f = config.factors.max(1);
    match config.solver {
        Solver::Cg => x.par_chunks_mut(f).enumerate().for_each_init(
            || vec![0f32; 3 * f],
            |buf, (u, xu)| {
                let (cols, vals) = c.row(u);
                cg_row_dispatch(xu, cols, vals, y, yty, config.cg_steps, buf);
            },
        ),
        Solver::Cholesky => x.par_chunks_mut(f).enumerate().for_each(|(u, xu)| {
            let (cols, vals) = c.row(u);
            exact_row(xu, cols, vals, y, yty);
        }),
    }
}

/// [`cg_row`] compiled for AVX2 when the CPU has it (the `#[inline(always)]` kernels are
/// inlined into a function that has the feature, so they use 256-bit registers).
#[inline]
fn cg_row_dispatch(x: &mut [f32], cols: &[u32], conf: &[f32], y: &[f32], yty: &[f32], steps: usize, buf: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(
            x: &mut [f32],
            cols: &[u32],
            conf: &[f32],
            y: &[f32],
            yty: &[f32],
            steps: usize,
            buf: &mut [f32],
        ) {
            cg_row(x, cols, conf, y, yty, steps, buf)
        }
        if crate::dense::has_fma() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            return unsafe { avx2(x, cols, conf, y, yty, steps, buf) };
        }
    }
    cg_row(x, cols, conf, y, yty, steps, buf)
}

/// Conjugate gradient on `A x = b` with `A = YᵀY + λI + Σ (c−1) y yᵀ`, `b = Σ c y`, from the
/// current `x`, never forming `A`.
#[inline(always)]
fn cg_row(x: &mut [f32], cols: &[u32], conf: &[f32], y: &[f32], yty: &[f32], steps: usize, buf: &mut [f32]) {
    let f = x.len();
    let (r, rest) = buf.split_at_mut(f);
    let (p, ap) = rest.split_at_mut(f);
    // r = b - A x
    symv(yty, x, r);
    r.iter_mut().for_each(|v| *v = -*v);
    for (&i, &c) in cols.iter().zip(conf) {
        let yi = &y[i as usize * f..(i as usize + 1) * f];
        axpy(c - (c - 1.0) * dot(yi, x), yi, r);
    }
    p.copy_from_slice(r);
    let mut rsold = dot(r, r);
    if rsold < 1e-20 {
        return;
    }
    for _ in 0..steps {
        symv(yty, p, ap);
        for (&i, &c) in cols.iter().zip(conf) {
            let yi = &y[i as usize * f..(i as usize + 1) * f];
            axpy((c - 1.0) * dot(yi, p), yi, ap);
        }
        let pap = dot(p, ap);
        if pap <= 0.0 {
            break;
        }
        let a = rsold / pap;
        axpy(a, p, x);
        axpy(-a, ap, r);
        let rsnew = dot(r, r);
        if rsnew < 1e-20 {
            break;
        }
        let beta = rsnew / rsold;
        for (pi, ri) in p.iter_mut().zip(r.iter()) {
            *pi = ri + beta * *pi;
        }
        rsold = rsnew;
    }
}

fn exact_row(x: &mut [f32], cols: &[u32], conf: &[f32], y: &[f32], yty: &[f32]) {
    let f = x.len();
    let mut a = yty.to_vec();
    let mut b = vec![0f32; f];
    for (&i, &c) in cols.iter().zip(conf) {
        let yi = &y[i as usize * f..(i as usize + 1) * f];
        for p in 0..f {
            let s = (c - 1.0) * yi[p];
            axpy(s, yi, &mut a[p * f..(p + 1) * f]);
        }
        axpy(c, yi, &mut b);
    }
    if let Some(sol) = cholesky_solve(&a, &b) {
        x.copy_from_slice(&sol);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two blocks of users with disjoint tastes.
    fn blocks() -> Csr {
        let mut t = Vec::new();
        for u in 0..40u32 {
            let base = if u < 20 { 0 } else { 10 };
            for k in 0..10u32 {
                if (u + k) % 3 != 0 {
                    t.push((u, base + k, 1.0 + (k % 4) as f32));
                }
            }
        }
        Csr::from_triplets(40, 20, &t)
    }

    #[test]
    fn tags_place_an_item_with_one_listener_among_the_items_sharing_them() {
        // Two blocks of 20 listeners; item 20 has one listener, who plays both blocks;
        // it carries block B's tag.
        let mut t = blocks().triplets();
        for i in [0u32, 1, 10, 11, 20] {
            t.push((40, i, 1.0));
        }
        let m = Csr::from_triplets(41, 21, &t);
        let mut item_tags: Vec<Vec<u32>> = (0..21).map(|i| vec![u32::from(i >= 10)]).collect();
        item_tags[20] = vec![1];
        let tags = crate::models::tag_matrix(&item_tags, 21);
        assert_eq!((tags.nrows(), tags.nnz()), (2, 21));
        let cos = |a: &[f32], b: &[f32]| dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt()).max(1e-12);
        // How much nearer item 20 is to block B's items than to block A's.
        let lean = |als: &Als| {
            let y = als.item_vector(20).unwrap().to_vec();
            let mean = |r: std::ops::Range<usize>| {
                let n = r.len() as f32;
                r.map(|i| cos(&y, als.item_vector(i).unwrap())).sum::<f32>() / n
            };
            mean(10..20) - mean(0..10)
        };
        let cfg = AlsConfig {
            factors: 8,
            iterations: 10,
            regularization: 0.1,
            alpha: 5.0,
            ..Default::default()
        };
        let plain = Als::train_with_side(&m, Some(&tags), &cfg, |_| {});
        let with = Als::train_with_side(
            &m,
            Some(&tags),
            &AlsConfig {
                tag_weight: 1.0,
                ..cfg.clone()
            },
            |_| {},
        );
        assert_eq!(
            (with.n_users(), with.user_factors().len()),
            (41, 41 * 8),
            "tags are not listeners"
        );
        assert!(
            lean(&with) > lean(&plain) + 0.1,
            "with {} plain {}",
            lean(&with),
            lean(&plain)
        );
        // Tags carried by one item relate nothing and are left out.
        assert_eq!(crate::models::tag_matrix(&[vec![0], vec![1], vec![1]], 3).nnz(), 2);
    }

    #[test]
    fn learns_block_structure() {
        let m = blocks();
        for solver in [Solver::Cg, Solver::Cholesky] {
            let cfg = AlsConfig {
                factors: 8,
                iterations: 10,
                regularization: 0.1,
                alpha: 5.0,
                solver,
                ..Default::default()
            };
            let als = Als::train(&m, &cfg);
            let mut s = vec![0f32; 20];
            als.score(Some(0), History::from_row(&m, 0), &mut s);
            let in_block: f32 = s[..10].iter().sum::<f32>() / 10.0;
            let out_block: f32 = s[10..].iter().sum::<f32>() / 10.0;
            assert!(in_block > out_block + 0.3, "{solver:?}: {in_block} vs {out_block}");
        }
    }

    #[test]
    fn cg_converges_to_exact_solution() {
        let m = blocks();
        let cfg = AlsConfig {
            factors: 6,
            iterations: 1,
            ..Default::default()
        };
        let c = m.map_values(|r| 1.0 + cfg.alpha * cfg.confidence.transform(r));
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let y: Vec<f32> = (0..20 * 6).map(|_| rng.random::<f32>()).collect();
        let yty = regularized_gram(&y, 6, cfg.regularization);
        let mut exact = vec![0f32; 6];
        let (cols, vals) = c.row(3);
        exact_row(&mut exact, cols, vals, &y, &yty);
        let mut x = vec![0f32; 6];
        let mut buf = vec![0f32; 18];
        for _ in 0..10 {
            cg_row(&mut x, cols, vals, &y, &yty, 3, &mut buf);
        }
        for (a, b) in x.iter().zip(&exact) {
            assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "{x:?} vs {exact:?}");
        }
    }

    #[test]
    fn fold_in_of_empty_history_is_zero() {
        let m = blocks();
        let als = Als::train(
            &m,
            &AlsConfig {
                factors: 4,
                iterations: 2,
                ..Default::default()
            },
        );
        assert_eq!(als.fold_in(History::new(&[], &[])), vec![0.0; 4]);
        // unknown items are ignored
        assert_eq!(als.fold_in(History::new(&[99], &[1.0])), vec![0.0; 4]);
    }
}
