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

    /// What the model chose when training chose (a selected blend's parts); `None` for a
    /// fixed model.
    fn describe(&self) -> Option<String> {
        None
    }
}

/// A tag x item matrix from each item's tag ids (`n_items` columns; tags carried by
/// fewer than 2 items are left out: they relate nothing).
pub fn tag_matrix(item_tags: &[Vec<u32>], n_items: usize) -> Csr {
    let n_tags = item_tags.iter().flatten().map(|&t| t as usize + 1).max().unwrap_or(0);
    let mut count = vec![0u32; n_tags];
    for tags in item_tags.iter().take(n_items) {
        for &t in tags {
            count[t as usize] += 1;
        }
    }
    let mut triples = Vec::new();
    for (i, tags) in item_tags.iter().enumerate().take(n_items) {
        for &t in tags {
            if count[t as usize] >= 2 {
                triples.push((t, i as u32, 1.0));
            }
        }
    }
    Csr::from_triplets(n_tags, n_items, &triples)
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
    /// Selection by validation ([`crate::select`]): the procedure a server's training job
    /// runs, from the default ALS configuration.
    Auto(crate::select::SelectConfig),
}

impl ModelConfig {
    /// Trains the model on a user x item matrix of raw weights (e.g. play counts).
    pub fn train(&self, train: &Csr) -> Result<Box<dyn Recommender>, crate::RecsError> {
        self.train_with(train, None)
    }

    /// [`ModelConfig::train`] with side information: `item_tags` (per item, its tag ids),
    /// used by ALS with a `tag_weight` and by selection.
    pub fn train_with(
        &self,
        train: &Csr,
        item_tags: Option<&[Vec<u32>]>,
    ) -> Result<Box<dyn Recommender>, crate::RecsError> {
        let tags = item_tags.map(|t| tag_matrix(t, train.ncols()));
        Ok(match self {
            ModelConfig::Als(c) => Box::new(Als::train_with_side(train, tags.as_ref(), c, |_| {})),
            ModelConfig::Ease(c) if c.top_k > 0 => Box::new(Ease::train(train, c)?.sparse(c.top_k)),
            ModelConfig::Ease(c) => Box::new(Ease::train(train, c)?),
            ModelConfig::ItemKnn(c) => Box::new(ItemSimilarity::item_knn(train, c)),
            ModelConfig::Rp3beta(c) => Box::new(ItemSimilarity::rp3beta(train, c)),
            ModelConfig::Popularity => Box::new(Popularity::train(train)),
            ModelConfig::Blend(c) => Box::new(Blend::train(train, c)?),
            ModelConfig::Auto(c) => Box::new(crate::select::select(
                train,
                None,
                tags.as_ref(),
                &AlsConfig::default(),
                c,
            )?),
        })
    }

    pub fn label(&self) -> String {
        match self {
            ModelConfig::Als(c) => format!(
                "ALS f={} λ={} α={} it={} conf={}{}",
                c.factors,
                c.regularization,
                c.alpha,
                c.iterations,
                c.confidence.label(),
                if c.tag_weight > 0.0 {
                    format!(" tags={}", c.tag_weight)
                } else {
                    String::new()
                }
            ),
            ModelConfig::Ease(c) => {
                format!(
                    "EASE λ={} w={}{}",
                    c.lambda,
                    c.confidence.label(),
                    if c.min_item_support > 1 {
                        format!(" min_support={}", c.min_item_support)
                    } else {
                        String::new()
                    }
                ) + &if c.max_items > 0 {
                    format!(" max_items={}", c.max_items)
                } else {
                    String::new()
                } + &if c.top_k > 0 {
                    format!(" top_k={}", c.top_k)
                } else {
                    String::new()
                }
            }
            ModelConfig::ItemKnn(c) => format!("ItemKNN k={} shrink={}", c.k, c.shrink),
            ModelConfig::Rp3beta(c) => format!("RP3beta α={} β={} k={}", c.alpha, c.beta, c.k),
            ModelConfig::Popularity => "Popularity".into(),
            ModelConfig::Auto(c) => format!(
                "Auto: ALS, EASE^R, RP3beta, item-kNN and their blend, chosen on {}% validation",
                (c.valid_share * 100.0).round()
            ),
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
