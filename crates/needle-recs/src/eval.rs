//! Offline evaluation: the RecBole protocol (per-user random 8:1:1 split, full ranking),
//! a listener-holdout protocol (fold-in of unseen listeners), tuning on the validation
//! part, and Markdown reports.

use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::matrix::{Csr, Interactions};
use crate::metrics::{
    arp, coverage, head_share, intra_list_diversity, novelty, popularity_head, top_k, topk_metrics, TopK,
};
use crate::models::{History, ModelConfig, Recommender};

use crate::split::{ratio_split, user_holdout_split, Split};
use crate::RecsError;

/// Averages over the evaluated users (those with at least one held-out item).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EvalResult {
    pub users: usize,
    pub k: usize,
    pub topk: TopK,
    /// Distinct recommended items / items with training interactions.
    pub coverage: f64,
    /// Mean self-information of recommended items, bits.
    pub novelty: f64,
    /// Mean intra-list tag (Jaccard) distance, when item features were given.
    pub diversity: Option<f64>,
    /// Average recommendation popularity: mean training listeners per recommended item.
    #[serde(default)]
    pub arp: f64,
    /// Share of recommended items in the popularity head (the most-listened items holding
    /// 20 % of training interactions; [`crate::metrics::popularity_head`]).
    #[serde(default)]
    pub head_share: f64,
    pub seconds: f64,
    /// Per evaluated user: (user row, NDCG@k, Recall@k), for paired comparisons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_user: Vec<(u32, f64, f64)>,
}

/// What a model sees and what it is judged on.
pub struct EvalSet<'a> {
    /// Model input per user row (the listener's known history).
    pub history: &'a Csr,
    /// Items never ranked for the user (already known to them).
    pub exclude: &'a Csr,
    /// Held-out items to find.
    pub truth: &'a Csr,
    /// Pass user rows to the model (trained users); `false` makes per-user models fold in
    /// from `history`.
    pub known_users: bool,
}

/// Ranks, for every user with held-out items, all items that have training interactions
/// (`item_pop > 0`) minus the user's excluded ones, and averages the metrics at `k`.
pub fn evaluate(
    model: &dyn Recommender,
    set: &EvalSet<'_>,
    k: usize,
    item_pop: &[u32],
    features: Option<&[Vec<u32>]>,
) -> EvalResult {
    let start = Instant::now();
    let n_items = model.n_items();
    let users: Vec<usize> = (0..set.truth.nrows()).filter(|&u| set.truth.row_len(u) > 0).collect();
    let lists: Vec<(TopK, Vec<u32>)> = users
        .par_iter()
        .map_init(
            || vec![0f32; n_items],
            |scores, &u| {
                let user = set.known_users.then_some(u as u32);
                model.score(user, History::from_row(set.history, u), scores);
                let (ex, _) = set.exclude.row(u);
                let list = top_k(scores, k, |i| {
                    item_pop.get(i).copied().unwrap_or(0) == 0 || ex.binary_search(&(i as u32)).is_ok()
                });
                let (truth, _) = set.truth.row(u);
                (topk_metrics(&list, truth, k), list)
            },
        )
        .collect();
    let mut sum = TopK::default();
    for (m, _) in &lists {
        sum.add(m);
    }
    if !lists.is_empty() {
        sum.scale(1.0 / lists.len() as f64);
    }
    let per_user = users
        .iter()
        .zip(&lists)
        .map(|(&u, (m, _))| (u as u32, m.ndcg, m.recall))
        .collect();
    let recs: Vec<Vec<u32>> = lists.into_iter().map(|(_, l)| l).collect();
    let catalog = item_pop.iter().filter(|&&c| c > 0).count();
    let n_train_users = set.history.nrows();
    EvalResult {
        users: users.len(),
        k,
        topk: sum,
        coverage: coverage(&recs, catalog),
        novelty: novelty(&recs, item_pop, n_train_users),
        diversity: features.and_then(|f| intra_list_diversity(&recs, f)),
        arp: arp(&recs, item_pop),
        head_share: head_share(
            &recs,
            &popularity_head(item_pop, crate::serve::quality::HEAD_SHARE_OF_LISTENS),
        ),
        seconds: start.elapsed().as_secs_f64(),
        per_user,
    }
}

/// One model trained and evaluated on one split.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SeedRun {
    pub seed: u64,
    pub train_seconds: f64,
    /// What a selecting model chose on this split ([`Recommender::describe`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    pub valid: EvalResult,
    pub test: EvalResult,
}

/// The RecBole protocol on one split: train on `train`; validation ranks all items but the
/// user's train items against `valid`; test ranks all items but train ∪ valid against
/// `test` (RecBole's `FullSortEvalDataLoader` history for each phase).
pub fn run_recbole(
    split: &Split,
    config: &ModelConfig,
    seed: u64,
    k: usize,
    features: Option<&[Vec<u32>]>,
) -> Result<SeedRun, RecsError> {
    let t = Instant::now();
    let model = config.train_with(&split.train, features)?;
    let train_seconds = t.elapsed().as_secs_f64();
    let pop = split.train.col_counts();
    let valid = evaluate(
        model.as_ref(),
        &EvalSet {
            history: &split.train,
            exclude: &split.train,
            truth: &split.valid,
            known_users: true,
        },
        k,
        &pop,
        features,
    );
    let seen = split.train_and_valid();
    let test = evaluate(
        model.as_ref(),
        &EvalSet {
            history: &split.train,
            exclude: &seen,
            truth: &split.test,
            known_users: true,
        },
        k,
        &pop,
        features,
    );
    Ok(SeedRun {
        seed,
        train_seconds,
        chosen: model.describe(),
        valid,
        test,
    })
}

/// The listener-holdout protocol: `holdout` of the listeners are unseen in training; at
/// serving time half of each one's history is known (`valid`), the rest is to be found
/// (`test`). Per-user models fold these listeners in from the known half.
pub fn run_holdout(
    data: &Interactions,
    config: &ModelConfig,
    seed: u64,
    holdout: f64,
    k: usize,
    features: Option<&[Vec<u32>]>,
) -> Result<SeedRun, RecsError> {
    let split = user_holdout_split(data, holdout, seed);
    let t = Instant::now();
    let model = config.train_with(&split.train, features)?;
    let train_seconds = t.elapsed().as_secs_f64();
    let pop = split.train.col_counts();
    let test = evaluate(
        model.as_ref(),
        &EvalSet {
            history: &split.valid,
            exclude: &split.valid,
            truth: &split.test,
            known_users: false,
        },
        k,
        &pop,
        features,
    );
    Ok(SeedRun {
        seed,
        train_seconds,
        chosen: model.describe(),
        valid: EvalResult::default(),
        test,
    })
}

/// Trains each candidate on `split.train` and scores it on the validation part, best NDCG
/// first.
pub fn tune(
    split: &Split,
    candidates: &[ModelConfig],
    k: usize,
    features: Option<&[Vec<u32>]>,
) -> Result<Vec<(ModelConfig, SeedRun)>, RecsError> {
    let mut out = Vec::new();
    for c in candidates {
        let t = Instant::now();
        let model = c.train_with(&split.train, features)?;
        let train_seconds = t.elapsed().as_secs_f64();
        let pop = split.train.col_counts();
        let valid = evaluate(
            model.as_ref(),
            &EvalSet {
                history: &split.train,
                exclude: &split.train,
                truth: &split.valid,
                known_users: true,
            },
            k,
            &pop,
            None,
        );
        out.push((
            c.clone(),
            SeedRun {
                seed: 0,
                train_seconds,
                chosen: model.describe(),
                valid,
                test: EvalResult::default(),
            },
        ));
    }
    out.sort_by(|a, b| b.1.valid.topk.ndcg.total_cmp(&a.1.valid.topk.ndcg));
    Ok(out)
}

/// The RecBole split for `seed` (8:1:1 per user).
pub fn recbole_split(data: &Interactions, seed: u64) -> Split {
    ratio_split(data, [0.8, 0.1, 0.1], seed)
}

/// Which test metric a comparison reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Ndcg,
    Recall,
}

/// The paired difference `a − b` of a test metric over the same users of the same splits:
/// per seed, the mean over users of the per-user difference and its standard error
/// (sample sd / √users); over seeds, the mean of the seeds' means with standard error
/// `√(Σ SE_s²) / seeds` (seeds taken as independent estimates). `None` when the runs do
/// not pair up (different seeds or users).
pub fn paired_difference(a: &[SeedRun], b: &[SeedRun], metric: Metric) -> Option<(f64, f64)> {
    if a.is_empty() || a.len() != b.len() {
        return None;
    }
    let mut means = Vec::new();
    let mut se2 = 0f64;
    for (ra, rb) in a.iter().zip(b) {
        let (pa, pb) = (&ra.test.per_user, &rb.test.per_user);
        if ra.seed != rb.seed || pa.len() != pb.len() || pa.is_empty() {
            return None;
        }
        let mut d = Vec::with_capacity(pa.len());
        for (x, y) in pa.iter().zip(pb) {
            if x.0 != y.0 {
                return None;
            }
            d.push(match metric {
                Metric::Ndcg => x.1 - y.1,
                Metric::Recall => x.2 - y.2,
            });
        }
        let (m, sd) = mean_std(&d);
        means.push(m);
        se2 += sd * sd / d.len() as f64;
    }
    let s = means.len() as f64;
    Some((means.iter().sum::<f64>() / s, se2.sqrt() / s))
}

/// The standard error of a model's mean test metric (per seed: sd over users / √users;
/// combined over seeds as in [`paired_difference`]).
pub fn standard_error(runs: &[SeedRun], metric: Metric) -> f64 {
    let mut se2 = 0f64;
    for r in runs {
        let v: Vec<f64> = r
            .test
            .per_user
            .iter()
            .map(|x| if metric == Metric::Ndcg { x.1 } else { x.2 })
            .collect();
        if v.len() > 1 {
            let (_, sd) = mean_std(&v);
            se2 += sd * sd / v.len() as f64;
        }
    }
    se2.sqrt() / runs.len().max(1) as f64
}

/// Mean and sample standard deviation.
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let m = v.iter().sum::<f64>() / v.len() as f64;
    if v.len() < 2 {
        return (m, 0.0);
    }
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64;
    (m, var.sqrt())
}

fn pm(v: &[f64], digits: usize) -> String {
    let (m, s) = mean_std(v);
    if v.len() < 2 {
        format!("{m:.digits$}")
    } else {
        format!("{m:.digits$} ± {s:.digits$}")
    }
}

/// Published RecBole-GNN results on this split (`results/social/lastfm.md`):
/// `(name, Recall@10, NDCG@10, Hit@10, Precision@10)`.
pub const PUBLISHED_LASTFM: [(&str, f64, f64, f64, f64); 2] = [
    ("BPR (RecBole-GNN, published)", 0.1761, 0.1674, 0.5573, 0.0858),
    ("LightGCN (RecBole-GNN, published)", 0.2064, 0.1972, 0.6322, 0.1009),
];

/// A Markdown table of test results, one row per model (mean ± std over its seeds), with
/// the published rows first.
pub fn markdown_table(rows: &[(String, Vec<SeedRun>)], k: usize, published: &[(&str, f64, f64, f64, f64)]) -> String {
    let mut s = format!(
        "| model | Recall@{k} | NDCG@{k} | Hit@{k} | Precision@{k} | coverage | novelty (bits) | tag ILD | ARP | head share | train s | seeds |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for (name, r, n, h, p) in published {
        s += &format!("| {name} | {r:.4} | {n:.4} | {h:.4} | {p:.4} | | | | | | | |\n");
    }
    for (label, runs) in rows {
        let g = |f: &dyn Fn(&SeedRun) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
        let div: Vec<f64> = runs.iter().filter_map(|r| r.test.diversity).collect();
        s += &format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            pm(&g(&|r| r.test.topk.recall), 4),
            pm(&g(&|r| r.test.topk.ndcg), 4),
            pm(&g(&|r| r.test.topk.hit), 4),
            pm(&g(&|r| r.test.topk.precision), 4),
            pm(&g(&|r| r.test.coverage), 3),
            pm(&g(&|r| r.test.novelty), 2),
            if div.is_empty() { String::new() } else { pm(&div, 3) },
            pm(&g(&|r| r.test.arp), 1),
            pm(&g(&|r| r.test.head_share), 3),
            pm(&g(&|r| r.train_seconds), 2),
            runs.len()
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
        assert!((m - 2.0).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        assert_eq!(mean_std(&[5.0]), (5.0, 0.0));
    }
}
