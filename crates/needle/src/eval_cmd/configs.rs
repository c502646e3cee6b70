//! The model configurations `needle eval` reports by default, and the grids `--tune` searches.

use needle_recs::{AlsConfig, Confidence, EaseConfig, ItemKnnConfig, ModelConfig, Rp3betaConfig};

/// The configurations reported by default: the best of the validation grid search
/// (`--tune`) on seed 0, see docs/EVALUATION.md.
pub(super) fn default_config(name: &str) -> ModelConfig {
    match name {
        "als" => ModelConfig::Als(AlsConfig {
            factors: 128,
            regularization: 50.0,
            alpha: 10.0,
            iterations: 15,
            confidence: Confidence::Binary,
            ..Default::default()
        }),
        "als_log" => ModelConfig::Als(AlsConfig {
            factors: 128,
            regularization: 50.0,
            alpha: 2.0,
            iterations: 15,
            confidence: Confidence::Log { eps: 10.0 },
            ..Default::default()
        }),
        "ease" => ModelConfig::Ease(EaseConfig {
            lambda: 100.0,
            min_item_support: 2,
            ..Default::default()
        }),
        "rp3beta" => ModelConfig::Rp3beta(Rp3betaConfig {
            alpha: 0.75,
            beta: 0.4,
            k: 500,
            normalize: false,
        }),
        "item_knn" => ModelConfig::ItemKnn(ItemKnnConfig {
            k: 300,
            shrink: 5.0,
            ..Default::default()
        }),
        "popularity" => ModelConfig::Popularity,
        "auto" => ModelConfig::Auto(needle_recs::select::SelectConfig::default()),
        // `--models` accepts only the names in `KNOWN`.
        other => unreachable!("unknown model {other}"),
    }
}

/// The validation grid of one model (`--tune`).
pub(super) fn grid(name: &str) -> Vec<ModelConfig> {
    let mut g = Vec::new();
    match name {
        "als" | "als_log" => {
            let confs: Vec<Confidence> = if name == "als" {
                vec![Confidence::Binary]
            } else {
                vec![
                    Confidence::Log { eps: 1.0 },
                    Confidence::Log { eps: 10.0 },
                    Confidence::Log { eps: 100.0 },
                ]
            };
            for confidence in confs {
                for factors in [64, 128, 256] {
                    for regularization in [0.1, 1.0, 10.0, 50.0] {
                        for alpha in [1.0, 5.0, 10.0, 20.0, 40.0] {
                            g.push(ModelConfig::Als(AlsConfig {
                                factors,
                                regularization,
                                alpha,
                                iterations: 15,
                                confidence,
                                ..Default::default()
                            }));
                        }
                    }
                }
            }
        }
        "ease" => {
            for lambda in [50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0] {
                g.push(ModelConfig::Ease(EaseConfig {
                    lambda,
                    ..Default::default()
                }));
            }
        }
        "rp3beta" => {
            for alpha in [0.5, 0.75, 1.0, 1.25] {
                for beta in [0.0, 0.2, 0.4, 0.6] {
                    for k in [50, 100, 200, 500] {
                        g.push(ModelConfig::Rp3beta(Rp3betaConfig {
                            alpha,
                            beta,
                            k,
                            normalize: false,
                        }));
                    }
                }
            }
        }
        "item_knn" => {
            for k in [50, 100, 200, 500, 1000] {
                for shrink in [0.0, 10.0, 50.0, 100.0, 200.0] {
                    g.push(ModelConfig::ItemKnn(ItemKnnConfig {
                        k,
                        shrink,
                        ..Default::default()
                    }));
                }
            }
        }
        _ => g.push(default_config(name)),
    }
    g
}
