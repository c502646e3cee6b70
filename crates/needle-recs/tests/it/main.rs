//! Integration tests on small synthetic listening data (never the shared datasets).
#![allow(clippy::unwrap_used, clippy::disallowed_methods)] // test helpers fail loudly; tests may use std::fs

use needle_recs::eval::{evaluate, recbole_split, run_holdout, run_recbole, EvalSet};
use needle_recs::models::als::Solver;
use needle_recs::split::Split;
use needle_recs::{
    Als, AlsConfig, Confidence, EaseConfig, History, IndexBuilder, IndexConfig, Interactions, ItemKnnConfig,
    ModelConfig, RecsConfig, Rp3betaConfig,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `users` listeners in `clusters` taste groups over `items` artists: each plays ~24 artists,
/// 85% from their group (popular ones more often), with play counts.
fn synthetic(users: usize, items: usize, clusters: usize, seed: u64) -> Interactions {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let per = items / clusters;
    let mut t: Vec<(String, String, f32)> = Vec::new();
    for u in 0..users {
        let c = u % clusters;
        let mut chosen = std::collections::BTreeSet::new();
        let n = 16 + rng.random_range(0..16);
        while chosen.len() < n {
            let item = if rng.random::<f32>() < 0.85 {
                // skewed within the cluster
                let r: f32 = rng.random();
                c * per + ((r * r) * per as f32) as usize
            } else {
                rng.random_range(0..items)
            };
            chosen.insert(item.min(items - 1));
        }
        for i in chosen {
            let plays = 1.0 + (rng.random::<f32>() * 200.0).floor();
            t.push((format!("u{u}"), format!("a{i}"), plays));
        }
    }
    Interactions::from_triples(t.iter().map(|(u, i, w)| (u.as_str(), i.as_str(), *w)))
}

fn all_models() -> Vec<ModelConfig> {
    vec![
        ModelConfig::Als(AlsConfig {
            factors: 16,
            iterations: 10,
            regularization: 1.0,
            alpha: 10.0,
            ..Default::default()
        }),
        ModelConfig::Als(AlsConfig {
            factors: 16,
            iterations: 10,
            regularization: 1.0,
            alpha: 5.0,
            confidence: Confidence::Log { eps: 10.0 },
            ..Default::default()
        }),
        ModelConfig::Ease(EaseConfig {
            lambda: 20.0,
            ..Default::default()
        }),
        ModelConfig::ItemKnn(ItemKnnConfig {
            k: 50,
            shrink: 5.0,
            ..Default::default()
        }),
        ModelConfig::Rp3beta(Rp3betaConfig {
            alpha: 1.0,
            beta: 0.3,
            k: 50,
            normalize: false,
        }),
        ModelConfig::Popularity,
    ]
}

#[test]
fn every_model_beats_popularity_on_clustered_tastes() {
    let data = synthetic(400, 240, 6, 1);
    let split = recbole_split(&data, 0);
    let pop = run_recbole(&split, &ModelConfig::Popularity, 0, 10, None).unwrap();
    assert!(pop.test.users > 300);
    for m in all_models() {
        let r = run_recbole(&split, &m, 0, 10, None).unwrap();
        let t = r.test.topk;
        assert!(t.recall >= 0.0 && t.recall <= 1.0 && t.ndcg <= 1.0 && t.precision <= 1.0 && t.hit <= 1.0);
        assert!(r.test.coverage > 0.0 && r.test.novelty > 0.0);
        if !matches!(m, ModelConfig::Popularity) {
            assert!(
                t.ndcg > pop.test.topk.ndcg * 1.2,
                "{}: ndcg {} vs popularity {}",
                m.label(),
                t.ndcg,
                pop.test.topk.ndcg
            );
            assert!(r.test.coverage > pop.test.coverage, "{}", m.label());
        }
    }
}

#[test]
fn evaluation_never_recommends_known_items() {
    let data = synthetic(100, 80, 4, 2);
    let split = recbole_split(&data, 3);
    let model = ModelConfig::Popularity.train(&split.train).unwrap();
    let seen = split.train_and_valid();
    // truth = seen items: nothing can be found when they are excluded
    let pop = split.train.col_counts();
    let r = evaluate(
        model.as_ref(),
        &EvalSet {
            history: &split.train,
            exclude: &seen,
            truth: &seen,
            known_users: true,
        },
        10,
        &pop,
        None,
    );
    assert_eq!(r.topk.hit, 0.0);
}

#[test]
fn fold_in_reproduces_trained_user_vectors() {
    let data = synthetic(300, 150, 5, 4);
    for solver in [Solver::Cholesky, Solver::Cg] {
        let cfg = AlsConfig {
            factors: 12,
            iterations: 30,
            regularization: 1.0,
            alpha: 10.0,
            confidence: Confidence::Log { eps: 10.0 },
            solver,
            cg_steps: 3,
            ..Default::default()
        };
        let als = Als::train(&data.matrix, &cfg);
        let mut worst = 1.0f32;
        for u in 0..data.users.len() {
            let trained = als.user_vector(u).unwrap();
            let folded = als.fold_in(History::from_row(&data.matrix, u));
            let dot: f32 = trained.iter().zip(&folded).map(|(a, b)| a * b).sum();
            let na = trained.iter().map(|a| a * a).sum::<f32>().sqrt();
            let nb = folded.iter().map(|a| a * a).sum::<f32>().sqrt();
            worst = worst.min(dot / (na * nb));
            assert!((na - nb).abs() / na < 0.05, "{solver:?} user {u}: norms {na} vs {nb}");
        }
        assert!(worst > 0.995, "{solver:?}: worst cosine {worst}");
    }
}

#[test]
fn fold_in_serves_unseen_listeners() {
    let data = synthetic(400, 240, 6, 5);
    let als = ModelConfig::Als(AlsConfig {
        factors: 16,
        iterations: 10,
        regularization: 1.0,
        alpha: 10.0,
        ..Default::default()
    });
    let pop = run_holdout(&data, &ModelConfig::Popularity, 1, 0.2, 10, None).unwrap();
    let r = run_holdout(&data, &als, 1, 0.2, 10, None).unwrap();
    assert!(r.test.users >= 70);
    assert!(
        r.test.topk.ndcg > pop.test.topk.ndcg * 1.2,
        "{} vs {}",
        r.test.topk.ndcg,
        pop.test.topk.ndcg
    );
}

#[test]
fn split_file_round_trips() {
    let data = synthetic(50, 40, 2, 6);
    let split = recbole_split(&data, 9);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("split.tsv");
    split.write_tsv(&p).unwrap();
    let back = Split::read_tsv(&p).unwrap();
    assert_eq!(back.train.nnz() + back.valid.nnz() + back.test.nnz(), data.matrix.nnz());
    for (name, a, b) in [("train", &split.train, &back.train), ("test", &split.test, &back.test)] {
        let mut x: Vec<(String, String, f32)> = a
            .triplets()
            .into_iter()
            .map(|(u, i, w)| (split.users.id(u).to_owned(), split.items.id(i).to_owned(), w))
            .collect();
        let mut y: Vec<(String, String, f32)> = b
            .triplets()
            .into_iter()
            .map(|(u, i, w)| (back.users.id(u).to_owned(), back.items.id(i).to_owned(), w))
            .collect();
        x.sort_by(|p, q| p.partial_cmp(q).unwrap());
        y.sort_by(|p, q| p.partial_cmp(q).unwrap());
        assert_eq!(x, y, "{name}");
    }
}

#[test]
fn hnsw_on_als_vectors_agrees_with_exact_search() {
    let data = synthetic(600, 1500, 10, 7);
    let als = Als::train(
        &data.matrix,
        &AlsConfig {
            factors: 16,
            iterations: 8,
            regularization: 1.0,
            ..Default::default()
        },
    );
    let f = als.factors();
    let mut e = IndexBuilder::new(f, IndexConfig::default());
    e.add_all(als.item_factors()).unwrap();
    let exact = e.build();
    assert_eq!(exact.kind(), "exact");
    let mut h = IndexBuilder::new(
        f,
        IndexConfig {
            exact_threshold: 1000,
            ..Default::default()
        },
    );
    h.add_all(als.item_factors()).unwrap();
    let hnsw = h.build();
    assert_eq!(hnsw.kind(), "hnsw");
    let (mut found, mut total) = (0, 0);
    for u in 0..200 {
        let q = als.user_vector(u).unwrap();
        // filter: already-heard items out, plus an arbitrary "market" rule
        let (heard, _) = data.matrix.row(u);
        let filter = |id: u32| heard.binary_search(&id).is_err() && !id.is_multiple_of(3);
        let a = hnsw.search(q, 10, &filter);
        let b = exact.search(q, 10, &filter);
        assert_eq!(a.len(), 10);
        assert!(a.iter().all(|h| filter(h.id)));
        assert!(a.windows(2).all(|w| w[0].score >= w[1].score));
        found += a.iter().filter(|x| b.iter().any(|y| y.id == x.id)).count();
        total += b.len();
    }
    assert!(found as f64 / total as f64 > 0.9, "recall {found}/{total}");
}

#[test]
fn configs_are_serde_round_trippable() {
    let c = RecsConfig::default();
    let s = serde_json::to_string(&c).unwrap();
    assert_eq!(serde_json::from_str::<RecsConfig>(&s).unwrap(), c);
    let m: ModelConfig =
        serde_json::from_str(r#"{"model":"als","factors":32,"confidence":{"kind":"log","eps":10.0}}"#).unwrap();
    match m {
        ModelConfig::Als(a) => {
            assert_eq!(a.factors, 32);
            assert_eq!(a.confidence, Confidence::Log { eps: 10.0 });
            assert_eq!(a.iterations, AlsConfig::default().iterations);
        }
        _ => panic!("not als"),
    }
    // partial config sections fill in defaults
    let p: RecsConfig = serde_json::from_str(r#"{"ease":{"lambda":100.0}}"#).unwrap();
    assert_eq!(p.ease.lambda, 100.0);
}
mod podcasts;
mod reasons;
mod serve;
