//! Recommendation models. Every model scores all items for one listener from the listener's
//! history (`Csr` row: item indices and weights); items are the column space of the training
//! matrix.

pub mod als;
pub mod blend;
pub mod ease;
pub mod itemsim;
pub mod popularity;

use serde::{Deserialize, Serialize};

use crate::matrix::Csr;

pub use als::{Als, AlsConfig, Confidence};
pub use blend::{Blend, BlendConfig, BlendPart};
pub use ease::{Ease, EaseConfig};
pub use itemsim::{ItemKnnConfig, ItemSimilarity, Rp3betaConfig};
pub use popularity::Popularity;

/// A listener's history: sorted item indices and their weights (one CSR row).
#[derive(Clone, Copy, Debug)]
pub struct History<'a> {
    pub items: &'a [u32],
    pub weights: &'a [f32],
}

impl<'a> History<'a> {
    pub fn new(items: &'a [u32], weights: &'a [f32]) -> Self {
        debug_assert_eq!(items.len(), weights.len());
        Self { items, weights }
    }

    /// Row `user` of `m` (empty when the user is past the last row).
    pub fn from_row(m: &'a Csr, user: usize) -> Self {
        let (items, weights) = m.row(user);
        Self { items, weights }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A trained model that scores items for a listener.
pub trait Recommender: Send + Sync {
    fn name(&self) -> &str;

    /// Number of items in the model's column space (the length `score` writes).
    fn n_items(&self) -> usize;

    /// Writes a score for every item into `out` (length [`Recommender::n_items`]); higher is
    /// better. `user` is the training row when the listener was in the training data (models
    /// with per-user parameters use it); `history` is what the listener has played, which
    /// item-based models and ALS fold-in use. Callers exclude already-played items.
    fn score(&self, user: Option<u32>, history: History<'_>, out: &mut [f32]);
}

/// Which model to train, with its hyper-parameters. Serialized with a `"model"` tag, e.g.
/// `{"model": "als", "factors": 128, ...}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum ModelConfig {
    Als(AlsConfig),
    Ease(EaseConfig),
    ItemKnn(ItemKnnConfig),
    Rp3beta(Rp3betaConfig),
    Popularity,
    Blend(BlendConfig),
}

impl ModelConfig {
    /// Trains the model on a user x item matrix of raw weights (e.g. play counts).
    pub fn train(&self, train: &Csr) -> Result<Box<dyn Recommender>, crate::RecsError> {
        Ok(match self {
            ModelConfig::Als(c) => Box::new(Als::train(train, c)),
            ModelConfig::Ease(c) => Box::new(Ease::train(train, c)?),
            ModelConfig::ItemKnn(c) => Box::new(ItemSimilarity::item_knn(train, c)),
            ModelConfig::Rp3beta(c) => Box::new(ItemSimilarity::rp3beta(train, c)),
            ModelConfig::Popularity => Box::new(Popularity::train(train)),
            ModelConfig::Blend(c) => Box::new(Blend::train(train, c)?),
        })
    }

    pub fn label(&self) -> String {
        match self {
            ModelConfig::Als(c) => format!(
                "ALS f={} λ={} α={} it={} conf={}",
                c.factors,
                c.regularization,
                c.alpha,
                c.iterations,
                c.confidence.label()
            ),
            ModelConfig::Ease(c) => format!(
                "EASE λ={} w={}{}",
                c.lambda,
                c.confidence.label(),
                if c.min_item_support > 1 {
                    format!(" min_support={}", c.min_item_support)
                } else {
                    String::new()
                }
            ),
            ModelConfig::ItemKnn(c) => format!("ItemKNN k={} shrink={}", c.k, c.shrink),
            ModelConfig::Rp3beta(c) => format!("RP3beta α={} β={} k={}", c.alpha, c.beta, c.k),
            ModelConfig::Popularity => "Popularity".into(),
            ModelConfig::Blend(c) => format!(
                "Blend({})",
                c.parts
                    .iter()
                    .map(|p| format!("{}×[{}]", p.weight, p.config.label()))
                    .collect::<Vec<_>>()
                    .join(" + ")
            ),
        }
    }
}
