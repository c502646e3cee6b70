//! Model selection by validation: what a training job serves.
//!
//! 1. **Validation slice.** Of every listener with at least `min_history` interactions, a
//!    share `valid_share` (at least one) is held out: the most recent when interaction times
//!    are given (the server's case), a seeded random draw otherwise (offline data without
//!    times).
//! 2. **Candidates.** ALS, EASE^R (on at most `ease_max_items` items, kept as a sparse
//!    table of `ease_top_k` weights per item), RP3beta and item-kNN, each over a small grid
//!    of its key hyper-parameters, are fitted on the rest and scored by validation NDCG@k
//!    (every item with training interactions ranked, the listener's training items left
//!    out). The first configuration of each family always runs; the others run in grid
//!    order while `budget_secs` lasts.
//! 3. **Blend.** The best configuration of each family are blended: a part's scores for a
//!    listener are standardized (mean 0, variance 1 over the items with training
//!    interactions) and summed with weights searched on a simplex grid (step
//!    `weight_step`). Each listener's blend is ranked over the union of every part's top
//!    `pool_depth`, which holds the blend's top k.
//! 4. **Winner.** The best blend by validation NDCG@k (a single model is a blend with one
//!    weight) is refitted on all interactions: its item tables, and always the ALS the
//!    serving vectors come from.
//!
//! [`Blended`] is the result: a [`Recommender`] offline (`needle eval` runs the whole
//! procedure per split through [`crate::ModelConfig::Auto`]) and, in the server, the
//! scorer of the candidates its vector search and item tables propose
//! ([`Blended::table_scores`], [`Blended::als_stats`]).
use std::collections::HashMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::eval::{evaluate, EvalSet};
use crate::matrix::Csr;
use crate::models::{
    Als, AlsConfig, Ease, EaseConfig, ItemKnnConfig, ItemSimilarity, ModelConfig, Recommender, Rp3betaConfig,
};
use crate::RecsError;

mod blend;
mod tune;

pub use blend::{Blended, ServedBlend};
pub use tune::validation_split;
use tune::{pools, score_weights, simplex};

/// A model family selection chooses among.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Als,
    Ease,
    Rp3beta,
    ItemKnn,
}

impl Family {
    /// How reports name it.
    pub fn label(self) -> &'static str {
        match self {
            Family::Als => "ALS",
            Family::Ease => "EASE^R",
            Family::Rp3beta => "RP3beta",
            Family::ItemKnn => "item-kNN",
        }
    }
}

/// How selection runs (`recs.select` in the server's config).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SelectConfig {
    /// Choose by validation (server: otherwise ALS alone is served, as before).
    pub enabled: bool,
    /// Share of each listener's interactions held out for validation.
    pub valid_share: f64,
    /// Listeners with fewer interactions give no validation items.
    pub min_history: usize,
    /// At most this many validation listeners (a seeded sample beyond).
    pub max_valid_listeners: usize,
    /// Seed of the random draws (validation slice without times, listener sample).
    pub seed: u64,
    /// Seconds the optional grid points may take; the first of each family always runs.
    pub budget_secs: f64,
    /// EASE^R runs on the most listened items up to this count (its dense inverse is
    /// `n x n`; 0 leaves EASE^R out).
    pub ease_max_items: usize,
    /// Weights EASE^R keeps per item (its served sparse table).
    pub ease_top_k: usize,
    /// Step of the blend weights' simplex grid.
    pub weight_step: f32,
    /// Cut-off of the validation metric (NDCG@k).
    pub k: usize,
    /// Per part, the top this many items of a listener enter the blend's ranking.
    pub pool_depth: usize,
    /// The grid tries ALS with twice the configured factors up to this many (vectors,
    /// and so serving memory and search time, grow with it).
    pub max_factors: usize,
    /// Incremental training (`POST /v1/admin/train {"incremental": true}`): ALS iterations
    /// from the previous model's vectors, instead of a selection from scratch.
    pub warm_iterations: usize,
}

impl Default for SelectConfig {
    fn default() -> Self {
        SelectConfig {
            enabled: true,
            valid_share: 0.1,
            min_history: 5,
            max_valid_listeners: 5_000,
            seed: 7,
            budget_secs: 300.0,
            ease_max_items: 8_000,
            ease_top_k: 1_000,
            weight_step: 0.1,
            k: 10,
            pool_depth: 100,
            max_factors: 256,
            warm_iterations: 5,
        }
    }
}

/// One candidate's validation result.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CandidateScore {
    pub family: Family,
    /// The configuration, e.g. `ALS f=128 λ=50 α=10 it=15 conf=binary`.
    pub label: String,
    pub ndcg: f64,
    pub recall: f64,
    pub fit_ms: u64,
}

/// One part of the chosen blend.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct BlendWeight {
    pub family: Family,
    pub label: String,
    pub weight: f32,
    /// The configuration (what incremental training refits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub config: Option<ModelConfig>,
}

/// What selection measured and chose; the training job reports it
/// (`GET /v1/admin/model`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Selection {
    /// Listeners and interactions in the validation slice.
    pub valid_listeners: usize,
    pub valid_interactions: usize,
    /// Every candidate that ran, best validation NDCG first.
    pub candidates: Vec<CandidateScore>,
    /// Grid points left out because the budget was spent.
    pub skipped: Vec<String>,
    /// The chosen blend's parts with a weight above 0 (one part: a single model won).
    pub chosen: Vec<BlendWeight>,
    /// Validation NDCG@k and Recall@k of the chosen blend.
    pub ndcg: f64,
    pub recall: f64,
    /// Why nothing was chosen (too little data): ALS alone is served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub elapsed_ms: u64,
    /// The ALS configuration whose vectors are served (the best of its family, also when
    /// its blend weight is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub als: Option<AlsConfig>,
    /// Set by incremental training: this selection was made for model version N and
    /// refitted since, warm-started from the model before, without selecting again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refitted_from: Option<u64>,
}

impl Selection {
    /// `0.6 × ALS … + 0.4 × EASE^R …`.
    pub fn summary(&self) -> String {
        if self.chosen.is_empty() {
            return self.note.clone().unwrap_or_else(|| "ALS".into());
        }
        self.chosen
            .iter()
            .map(|w| format!("{:.2} × {}", w.weight, w.label))
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// A trained part: ALS vectors or an item table.
pub enum Fitted {
    Als(Als),
    Table(ItemSimilarity),
}

impl Fitted {
    fn recommender(&self) -> &dyn Recommender {
        match self {
            Fitted::Als(a) => a,
            Fitted::Table(t) => t,
        }
    }
}

/// Trains one candidate configuration (EASE^R always as its sparse table; ALS with the
/// tag x item matrix `tags` as side information when its `tag_weight` asks).
pub fn fit(config: &ModelConfig, m: &Csr, tags: Option<&Csr>) -> Result<Fitted, RecsError> {
    Ok(match config {
        ModelConfig::Als(c) => Fitted::Als(Als::train_with_side(m, tags, c, |_| {})),
        ModelConfig::Ease(c) => Fitted::Table(Ease::train(m, c)?.sparse(c.top_k)),
        ModelConfig::ItemKnn(c) => Fitted::Table(ItemSimilarity::item_knn(m, c)),
        ModelConfig::Rp3beta(c) => Fitted::Table(ItemSimilarity::rp3beta(m, c)),
        other => {
            return Err(RecsError::InvalidInput(format!(
                "selection cannot fit `{}`",
                other.label()
            )))
        }
    })
}

/// The grid, in the order it runs: the first configuration of each family (always run),
/// then the others while the budget lasts.
pub fn grid(als: &AlsConfig, c: &SelectConfig, n_items: usize, has_tags: bool) -> Vec<(Family, ModelConfig)> {
    let ease = |lambda: f32| {
        ModelConfig::Ease(EaseConfig {
            lambda,
            min_item_support: 2,
            max_items: c.ease_max_items,
            top_k: c.ease_top_k,
            ..Default::default()
        })
    };
    let rp3 = |alpha: f32, beta: f32| {
        ModelConfig::Rp3beta(Rp3betaConfig {
            alpha,
            beta,
            k: 500,
            normalize: false,
        })
    };
    let knn = |k: usize, shrink: f32| {
        ModelConfig::ItemKnn(ItemKnnConfig {
            k,
            shrink,
            ..Default::default()
        })
    };
    let als_with = |reg: f32, alpha: f32| {
        ModelConfig::Als(AlsConfig {
            regularization: reg,
            alpha,
            ..als.clone()
        })
    };
    let als_tags = |factors: usize, tag_weight: f32| {
        ModelConfig::Als(AlsConfig {
            factors,
            tag_weight,
            ..als.clone()
        })
    };
    let wider = (als.factors * 2).min(c.max_factors.max(als.factors));
    let use_ease = c.ease_max_items > 0 && n_items > 0;
    let mut g = vec![(Family::Als, ModelConfig::Als(als.clone()))];
    if use_ease {
        g.push((Family::Ease, ease(100.0)));
    }
    g.push((Family::Rp3beta, rp3(0.75, 0.4)));
    g.push((Family::ItemKnn, knn(300, 5.0)));
    // Tags as side information: the largest gain measured on HetRec Last.fm
    // (docs/EVALUATION.md), so tried first.
    if has_tags && als.tag_weight == 0.0 {
        g.push((Family::Als, als_tags(als.factors, 1.0)));
        if wider > als.factors {
            g.push((Family::Als, als_tags(wider, 1.0)));
        }
        g.push((Family::Als, als_tags(als.factors, 2.0)));
    } else if wider > als.factors {
        g.push((Family::Als, als_tags(wider, als.tag_weight)));
    }
    if use_ease {
        g.push((Family::Ease, ease(300.0)));
        g.push((Family::Ease, ease(50.0)));
    }
    g.push((Family::Rp3beta, rp3(0.75, 0.25)));
    g.push((Family::Rp3beta, rp3(1.0, 0.4)));
    g.push((Family::ItemKnn, knn(100, 20.0)));
    g.push((Family::Als, als_with(als.regularization * 2.0, als.alpha)));
    g.push((Family::Als, als_with(als.regularization * 0.5, als.alpha)));
    g
}
/// Items with training interactions, in index order.
pub(super) fn active_items(m: &Csr) -> Vec<u32> {
    m.col_counts()
        .iter()
        .enumerate()
        .filter(|(_, &c)| c > 0)
        .map(|(i, _)| i as u32)
        .collect()
}
/// Runs selection on `m` and refits the winner on all of it. `als` is the base ALS
/// configuration (the server's `recs.als`).
pub fn select(
    m: &Csr,
    recency: Option<&Csr>,
    tags: Option<&Csr>,
    als: &AlsConfig,
    c: &SelectConfig,
) -> Result<Blended, RecsError> {
    let started = Instant::now();
    let (fit_m, valid) = validation_split(m, recency, c);
    let valid_listeners = (0..valid.nrows()).filter(|&u| valid.row_len(u) > 0).count();
    let mut sel = Selection {
        valid_listeners,
        valid_interactions: valid.nnz(),
        ..Default::default()
    };
    if valid_listeners < 10 {
        sel.note = Some(format!(
            "ALS alone: {valid_listeners} listeners with at least {} interactions, too few to validate on (10 needed)",
            c.min_history
        ));
        sel.als = Some(als.clone());
        sel.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok(Blended::new(
            Als::train_with_side(m, tags, als, |_| {}),
            Vec::new(),
            1.0,
            m,
            sel,
        ));
    }
    let active = active_items(&fit_m);
    let pop = fit_m.col_counts();
    let set = EvalSet {
        history: &fit_m,
        exclude: &fit_m,
        truth: &valid,
        known_users: true,
    };
    let mut best: HashMap<Family, (f64, ModelConfig, Fitted)> = HashMap::new();
    let mut seen_family: Vec<Family> = Vec::new();
    let has_tags = tags.is_some_and(|t| t.nnz() > 0);
    for (family, config) in grid(als, c, m.ncols(), has_tags) {
        let first = !seen_family.contains(&family);
        if !first && started.elapsed().as_secs_f64() > c.budget_secs {
            sel.skipped.push(config.label());
            continue;
        }
        seen_family.push(family);
        let t = Instant::now();
        let fitted = fit(&config, &fit_m, tags)?;
        let fit_ms = t.elapsed().as_millis() as u64;
        let r = evaluate(fitted.recommender(), &set, c.k, &pop, None);
        tracing::info!(candidate = %config.label(), ndcg = r.topk.ndcg, fit_ms, "selection candidate");
        sel.candidates.push(CandidateScore {
            family,
            label: config.label(),
            ndcg: r.topk.ndcg,
            recall: r.topk.recall,
            fit_ms,
        });
        if best.get(&family).is_none_or(|b| r.topk.ndcg > b.0) {
            best.insert(family, (r.topk.ndcg, config, fitted));
        }
    }
    sel.candidates.sort_by(|a, b| b.ndcg.total_cmp(&a.ndcg));
    let mut families: Vec<Family> = best.keys().copied().collect();
    families.sort();
    let parts: Vec<&dyn Recommender> = families.iter().map(|f| best[f].2.recommender()).collect();
    let pools = pools(&parts, &fit_m, &valid, &active, c.pool_depth.max(c.k));
    let (mut top_w, mut top) = (Vec::new(), (f64::MIN, 0.0));
    for w in simplex(families.len(), c.weight_step) {
        let r = score_weights(&pools, &w, c.k);
        if r.0 > top.0 {
            (top_w, top) = (w, r);
        }
    }
    drop(parts);
    (sel.ndcg, sel.recall) = top;
    // Refit on everything: the chosen tables, and ALS (always: the served vectors).
    let mut als_weight = 0.0;
    let mut als_config = als.clone();
    let mut tables = Vec::new();
    for (f, &w) in families.iter().zip(&top_w) {
        let config = &best[f].1;
        if *f == Family::Als {
            als_weight = w;
            if let ModelConfig::Als(a) = config {
                als_config = a.clone();
            }
        } else if w > 0.0 {
            if let Fitted::Table(t) = fit(config, m, tags)? {
                tables.push((*f, w, t));
            }
        }
        if w > 0.0 {
            sel.chosen.push(BlendWeight {
                family: *f,
                label: config.label(),
                weight: w,
                config: Some(config.clone()),
            });
        }
    }
    let full_als = Als::train_with_side(m, tags, &als_config, |_| {});
    sel.als = Some(als_config);
    sel.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(Blended::new(full_als, tables, als_weight, m, sel))
}

/// Incremental training: the blend `previous` (made for model `version`) refitted on `m`
/// without selecting again. ALS starts from the previous model's item vectors (`init(i)`
/// for item `i` of `m`, `None` for an item new since: a small random start, as in a cold
/// fit) and runs `iterations`; the item tables are refitted (they are cheap). `None` when
/// `previous` does not name its configurations (a model saved before they were kept).
pub fn refit(
    m: &Csr,
    tags: Option<&Csr>,
    previous: &Selection,
    version: u64,
    init: &dyn Fn(u32) -> Option<Vec<f32>>,
    iterations: usize,
) -> Result<Option<Blended>, RecsError> {
    let started = Instant::now();
    let Some(als) = previous.als.clone() else {
        return Ok(None);
    };
    let f = als.factors.max(1);
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(als.seed);
    let mut y0 = Vec::with_capacity(m.ncols() * f);
    for i in 0..m.ncols() as u32 {
        match init(i).filter(|v| v.len() == f) {
            Some(v) => y0.extend(v),
            None => y0.extend((0..f).map(|_| rand::Rng::random::<f32>(&mut rng) * 0.01)),
        }
    }
    let warm = AlsConfig {
        iterations: iterations.max(1),
        ..als.clone()
    };
    let full_als = Als::train_with_side_init(m, tags, &warm, Some(y0), |_| {});
    let mut als_weight = if previous.chosen.is_empty() { 1.0 } else { 0.0 };
    let mut tables = Vec::new();
    for w in &previous.chosen {
        match (&w.config, w.family) {
            (_, Family::Als) => als_weight = w.weight,
            (Some(config), family) => {
                if let Fitted::Table(t) = fit(config, m, tags)? {
                    tables.push((family, w.weight, t));
                }
            }
            (None, _) => return Ok(None),
        }
    }
    let mut sel = previous.clone();
    sel.refitted_from = Some(previous.refitted_from.unwrap_or(version));
    sel.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(Some(Blended::new(full_als, tables, als_weight, m, sel)))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::History;

    /// 300 listeners in 3 taste groups of 60 items; each plays 12 items of their group,
    /// mostly from a 10-item core that co-occurs (so the item tables have signal).
    pub(super) fn data() -> Csr {
        let mut t = Vec::new();
        for u in 0..300u32 {
            let g = u % 3;
            for k in 0..12u32 {
                let i = if k < 6 {
                    (u * 7 + k) % 10
                } else {
                    10 + (u * 13 + k * 5) % 50
                };
                t.push((u, g * 60 + i, 1.0 + k as f32));
            }
        }
        Csr::from_triplets(300, 180, &t)
    }

    fn small_als() -> AlsConfig {
        AlsConfig {
            factors: 8,
            regularization: 0.5,
            iterations: 5,
            ..Default::default()
        }
    }

    #[test]
    fn selection_reports_every_candidate_and_serves_as_it_scored() {
        let m = data();
        let c = SelectConfig {
            ease_max_items: 100,
            ..Default::default()
        };
        let b = select(&m, None, None, &small_als(), &c).unwrap();
        let s = &b.mix.selection;
        let families: std::collections::HashSet<Family> = s.candidates.iter().map(|c| c.family).collect();
        assert_eq!(families.len(), 4, "{s:?}");
        assert!(s.candidates.windows(2).all(|w| w[0].ndcg >= w[1].ndcg));
        assert!(
            s.ndcg + 1e-9 >= s.candidates[0].ndcg - 0.02,
            "the blend is scored on the same slice: {s:?}"
        );
        assert!((s.chosen.iter().map(|w| w.weight).sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(b.describe().is_some_and(|d| d.contains('×')));

        // The server's scoring (vector moments + sparse table scores) is the offline
        // scoring: same numbers for a folded-in listener.
        let mix = ServedBlend {
            tables: b.mix.tables.clone(),
            ..b.mix.clone()
        };
        let force = Blended {
            mix: ServedBlend {
                als_weight: if mix.als_weight == 0.0 { 0.5 } else { mix.als_weight },
                tables: if mix.tables.is_empty() {
                    vec![(
                        Family::ItemKnn,
                        0.5,
                        ItemSimilarity::item_knn(&m, &ItemKnnConfig::default()),
                    )]
                } else {
                    mix.tables.clone()
                },
                ..mix
            },
            als: b.als.clone(),
            active: b.active.clone(),
        };
        for u in [0usize, 1, 2, 150] {
            let h = History::from_row(&m, u);
            let mut offline = vec![0f32; m.ncols()];
            force.score(None, h, &mut offline);
            let v = force.als.fold_in(h);
            let (mean, sd) = force.mix.als_stats(&v);
            let (table, base) = force.mix.table_scores(h);
            for i in 0..m.ncols() as u32 {
                let als = (crate::dense::dot(force.als.item_vector(i as usize).unwrap(), &v) - mean) / sd;
                let served = als * force.mix.als_weight + table.get(&i).copied().unwrap_or(base);
                assert!(
                    (served - offline[i as usize]).abs() < 1e-3 * (1.0 + offline[i as usize].abs()),
                    "listener {u} item {i}: served {served} offline {}",
                    offline[i as usize]
                );
            }
        }
    }

    #[test]
    fn too_little_data_serves_als_alone_and_says_so() {
        let m = Csr::from_triplets(3, 4, &[(0, 0, 1.0), (0, 1, 1.0), (1, 1, 1.0), (2, 2, 1.0)]);
        let b = select(&m, None, None, &small_als(), &SelectConfig::default()).unwrap();
        assert!(b.mix.tables.is_empty() && b.mix.als_weight == 1.0);
        assert!(b.mix.selection.note.as_deref().is_some_and(|n| n.contains("too few")));
        assert_eq!(
            b.mix.selection.als,
            Some(small_als()),
            "an incremental job can refit it"
        );
    }
}
