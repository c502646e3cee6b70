//! The validation slice, each listener's candidate pool, and the blend weights' search.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::SelectConfig;
use crate::matrix::Csr;
use crate::metrics::topk_metrics;
use crate::models::{History, Recommender};

/// Splits `m` into (fit, validation): see the module documentation. `recency` has `m`'s
/// pattern, values = when the listener last had the item (any increasing unit).
pub fn validation_split(m: &Csr, recency: Option<&Csr>, c: &SelectConfig) -> (Csr, Csr) {
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let mut eligible: Vec<usize> = (0..m.nrows())
        .filter(|&u| m.row_len(u) >= c.min_history.max(2))
        .collect();
    eligible.shuffle(&mut rng);
    eligible.truncate(c.max_valid_listeners.max(1));
    let mut chosen = vec![false; m.nrows()];
    for &u in &eligible {
        chosen[u] = true;
    }
    let (mut fit, mut valid) = (Vec::new(), Vec::new());
    for (u, &held_out) in chosen.iter().enumerate() {
        let (cols, vals) = m.row(u);
        let mut order: Vec<usize> = (0..cols.len()).collect();
        if held_out {
            match recency {
                Some(r) => {
                    let (rc, rv) = r.row(u);
                    let when = |j: usize| rc.binary_search(&cols[j]).map(|p| rv[p]).unwrap_or(f32::MIN);
                    // Oldest first; ties in a seeded order.
                    order.shuffle(&mut rng);
                    order.sort_by(|&a, &b| when(a).total_cmp(&when(b)));
                }
                None => order.shuffle(&mut rng),
            }
        }
        let held = if held_out {
            ((cols.len() as f64 * c.valid_share).floor() as usize).clamp(1, cols.len() - 1)
        } else {
            0
        };
        let cut = cols.len() - held;
        for (n, &j) in order.iter().enumerate() {
            let t = (u as u32, cols[j], vals[j]);
            if n < cut {
                fit.push(t);
            } else {
                valid.push(t);
            }
        }
    }
    (
        Csr::from_triplets(m.nrows(), m.ncols(), &fit),
        Csr::from_triplets(m.nrows(), m.ncols(), &valid),
    )
}

/// Mean and standard deviation of `scores` over `active` items.
pub(super) fn stats(scores: &[f32], active: &[u32]) -> (f32, f32) {
    let n = active.len().max(1) as f64;
    let (mut s, mut s2) = (0f64, 0f64);
    for &i in active {
        let v = scores[i as usize] as f64;
        s += v;
        s2 += v * v;
    }
    let mean = s / n;
    let var = (s2 / n - mean * mean).max(0.0);
    (mean as f32, var.sqrt() as f32)
}

/// One validation listener's pool: candidate items and each part's standardized score.
pub(super) struct Pool {
    items: Vec<u32>,
    /// `items.len() × parts`, row-major.
    z: Vec<f32>,
    truth: Vec<u32>,
}

pub(super) fn pools(parts: &[&dyn Recommender], fit: &Csr, valid: &Csr, active: &[u32], depth: usize) -> Vec<Pool> {
    let n = fit.ncols();
    let mut is_active = vec![false; n];
    for &i in active {
        is_active[i as usize] = true;
    }
    let users: Vec<usize> = (0..valid.nrows()).filter(|&u| valid.row_len(u) > 0).collect();
    users
        .par_iter()
        .map_init(
            || vec![0f32; n],
            |buf, &u| {
                let (seen, _) = fit.row(u);
                let history = History::from_row(fit, u);
                let mut zs: Vec<Vec<f32>> = Vec::with_capacity(parts.len());
                let mut set: HashMap<u32, ()> = HashMap::new();
                for p in parts {
                    p.score(Some(u as u32), history, buf);
                    let (mean, sd) = stats(buf, active);
                    let sd = if sd > 0.0 && sd.is_finite() { sd } else { 1.0 };
                    let z: Vec<f32> = buf.iter().map(|v| (v - mean) / sd).collect();
                    let top =
                        crate::metrics::top_k(&z, depth, |i| !is_active[i] || seen.binary_search(&(i as u32)).is_ok());
                    set.extend(top.into_iter().map(|i| (i, ())));
                    zs.push(z);
                }
                let mut items: Vec<u32> = set.into_keys().collect();
                items.sort_unstable();
                let mut z = Vec::with_capacity(items.len() * parts.len());
                for &i in &items {
                    z.extend(zs.iter().map(|zp| zp[i as usize]));
                }
                Pool {
                    items,
                    z,
                    truth: valid.row(u).0.to_vec(),
                }
            },
        )
        .collect()
}

/// Every weight vector of `parts` entries, multiples of `step` summing to 1.
pub(super) fn simplex(parts: usize, step: f32) -> Vec<Vec<f32>> {
    let units = (1.0 / step.clamp(0.01, 1.0)).round() as usize;
    let mut out = Vec::new();
    let mut cur = vec![0usize; parts];
    fn rec(i: usize, left: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if i + 1 == cur.len() {
            cur[i] = left;
            out.push(cur.clone());
            return;
        }
        for v in 0..=left {
            cur[i] = v;
            rec(i + 1, left - v, cur, out);
        }
    }
    let mut raw = Vec::new();
    if parts > 0 {
        rec(0, units, &mut cur, &mut raw);
    }
    for r in raw {
        out.push(r.iter().map(|&v| v as f32 / units as f32).collect());
    }
    out
}

/// Mean NDCG@k and Recall@k of the blend with `w` over the pools.
pub(super) fn score_weights(pools: &[Pool], w: &[f32], k: usize) -> (f64, f64) {
    let p = w.len();
    let (n, r) = pools
        .par_iter()
        .map(|pool| {
            let mut s: Vec<(f32, u32)> = pool
                .items
                .iter()
                .enumerate()
                .map(|(j, &i)| {
                    let z = &pool.z[j * p..(j + 1) * p];
                    (z.iter().zip(w).map(|(a, b)| a * b).sum::<f32>(), i)
                })
                .collect();
            let k = k.min(s.len());
            if k == 0 {
                return (0.0, 0.0);
            }
            s.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            s.truncate(k);
            s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let list: Vec<u32> = s.into_iter().map(|x| x.1).collect();
            let m = topk_metrics(&list, &pool.truth, k);
            (m.ndcg, m.recall)
        })
        .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let d = pools.len().max(1) as f64;
    (n / d, r / d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplex_points_sum_to_one() {
        let s = simplex(3, 0.5);
        assert_eq!(s.len(), 6);
        assert!(s.iter().all(|w| (w.iter().sum::<f32>() - 1.0).abs() < 1e-6));
        assert_eq!(simplex(4, 0.1).len(), 286);
        assert_eq!(simplex(1, 0.1), vec![vec![1.0]]);
    }

    #[test]
    fn the_validation_slice_is_each_listeners_most_recent_share() {
        let m = super::super::tests::data();
        // Recency: item index order (the highest indices are the most recent).
        let rec = m.map_values(|_| 0.0);
        let rows: Vec<Vec<(u32, f32)>> = (0..m.nrows())
            .map(|u| rec.row(u).0.iter().map(|&i| (i, i as f32)).collect())
            .collect();
        let rec = Csr::from_rows(m.ncols(), rows);
        let c = SelectConfig {
            valid_share: 0.25,
            max_valid_listeners: 100,
            ..Default::default()
        };
        let (fit, valid) = validation_split(&m, Some(&rec), &c);
        assert_eq!(fit.nnz() + valid.nnz(), m.nnz());
        let held: Vec<usize> = (0..m.nrows()).filter(|&u| valid.row_len(u) > 0).collect();
        assert_eq!(held.len(), 100, "at most max_valid_listeners listeners");
        for &u in &held {
            let n = m.row_len(u);
            assert_eq!(valid.row_len(u), (n as f64 * 0.25).floor() as usize);
            let newest_fit = fit.row(u).0.iter().max().unwrap();
            assert!(valid.row(u).0.iter().all(|i| i > newest_fit), "listener {u}");
        }
        // Without times, a seeded draw: the same seed gives the same slice.
        let (a, _) = validation_split(&m, None, &c);
        let (b, _) = validation_split(&m, None, &c);
        assert_eq!(a, b);
    }
}
