//! Quality beyond accuracy, per surface, as served: coverage, novelty, popularity bias,
//! intra-list diversity and creator repetition of what each listener surface answers to a
//! sample of listeners (`GET /v1/admin/recommendations/quality`, the page's status view).
//!
//! Offline, `needle eval` reports the same kinds of figures per model (`eval.rs`); this
//! module measures the surfaces themselves, with their rules, fallbacks and reasons, on the
//! served model and the live profiles.

use std::collections::HashSet;

use serde::Serialize;

use super::surfaces::{RecRequest, Surface};
use super::{Recs, ServingModel, Source};
use crate::dense::dot;
use crate::RecsError;

/// Share of all training (listener, item) pairs the popularity head holds: the head is the
/// most-listened items that together take this share (the "short head" of Abdollahpouri et
/// al., "Managing Popularity Bias in Recommender Systems with Personalized Re-ranking",
/// 2019).
pub const HEAD_SHARE_OF_LISTENS: f64 = 0.2;

/// What to measure.
#[derive(Clone, Debug)]
pub struct QualityRequest {
    /// Listeners to sample (those with a profile, in a fixed hash order of their ids).
    pub sample: usize,
    /// Items per answer (per mix for `daily_mix`).
    pub limit: usize,
    /// Entity types every surface is asked for (`None`: each surface's own defaults).
    pub types: Option<Vec<needle_core::EntityType>>,
    /// `discover`'s `discovery` (`None`: the configured default).
    pub discovery: Option<f32>,
    /// Evaluation time, epoch ms (now unless testing).
    pub now_ms: Option<i64>,
}

/// Beyond-accuracy figures of one surface.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct SurfaceQuality {
    /// `for_you`, `discover`, `release_radar`, `podcasts` or `daily_mix`.
    pub surface: String,
    /// Sampled listeners whose answer had at least one item.
    pub answered: usize,
    /// Mean items per non-empty answer.
    pub mean_items: f64,
    /// Distinct items recommended over all answers / the model's items of the types they
    /// were of.
    pub coverage: f64,
    /// Mean self-information `−log₂(listeners(i) / training listeners)` of the recommended
    /// items, bits (an item nobody played counts as one listener).
    pub novelty_bits: f64,
    /// Average recommendation popularity: mean training listeners per recommended item.
    pub arp: f64,
    /// Share of recommended items in the popularity head (see
    /// [`QualityReport::head_items_share`]): the popularity bias.
    pub head_share: f64,
    /// Mean over answers of the mean pairwise `1 − cosine` of the items' model vectors
    /// (`null` without two items with vectors in any answer).
    pub intra_list_diversity: Option<f64>,
    /// Mean over answers of the share of items whose first creator (artist, show, author)
    /// already appeared higher in the same answer.
    pub creator_repetition: f64,
    /// Share of recommended items that are a popularity fallback (reason `popular …`).
    pub popular_fallback: f64,
}

/// Every listener surface measured over one sample.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct QualityReport {
    pub model_version: u64,
    /// Listeners sampled.
    pub sample: usize,
    pub limit: usize,
    /// `discover`'s `discovery` as measured.
    pub discovery: f32,
    /// Share of the model's trained items in the popularity head, the most-listened items
    /// that together hold 20 % of training (listener, item) pairs: a surface whose
    /// `head_share` is far above this concentrates on the head.
    pub head_items_share: f64,
    pub surfaces: Vec<SurfaceQuality>,
}

impl Recs {
    /// Run every listener surface for a sample of listeners and measure what they answer.
    pub fn quality(&self, source: &dyn Source, req: &QualityRequest) -> Result<QualityReport, RecsError> {
        let discovery = req.discovery.unwrap_or(self.config.discover_discovery);
        if !(0.0..=1.0).contains(&discovery) {
            return Err(RecsError::InvalidInput(format!(
                "`discovery` must be between 0 and 1, got {discovery}"
            )));
        }
        let model = self.require_model()?;
        let users = sample_listeners(source, req.sample);
        let head = crate::metrics::popularity_head(&model.listeners, HEAD_SHARE_OF_LISTENS);
        let mut surfaces = Vec::new();
        for surface in Surface::ALL {
            let mut lists = Vec::with_capacity(users.len());
            for user in &users {
                let rec = RecRequest {
                    surface,
                    types: req.types.clone(),
                    limit: req.limit,
                    market: None,
                    explicit: true,
                    now_ms: req.now_ms,
                    discovery: (surface == Surface::Discover).then_some(discovery),
                };
                let answer = self.recommend(source, user, &rec)?;
                let list: Vec<(Option<u32>, bool)> = answer
                    .items
                    .iter()
                    .map(|it| (model.items.get(&it.id), it.reason.starts_with("popular")))
                    .collect();
                lists.push(list);
            }
            surfaces.push(measure(&model, &head, surface, &lists));
        }
        Ok(QualityReport {
            model_version: model.version,
            sample: users.len(),
            limit: req.limit,
            discovery,
            head_items_share: head.len() as f64 / model.n_trained.max(1) as f64,
            surfaces,
        })
    }
}

/// Up to `n` listeners with a profile, the same ones on every call: the smallest hashes of
/// their ids (a sample spread over the id space, not the first ids to arrive).
fn sample_listeners(source: &dyn Source, n: usize) -> Vec<String> {
    let mut heap: std::collections::BinaryHeap<(u64, String)> = std::collections::BinaryHeap::new();
    source.for_each_listener(&mut |user, profile| {
        if profile.items.is_empty() || n == 0 {
            return;
        }
        let h = super::listener::fnv1a(&[user]);
        if heap.len() < n {
            heap.push((h, user.to_string()));
        } else if heap.peek().is_some_and(|top| h < top.0) {
            heap.pop();
            heap.push((h, user.to_string()));
        }
    });
    let mut out: Vec<(u64, String)> = heap.into_vec();
    out.sort();
    out.into_iter().map(|(_, u)| u).collect()
}

/// The figures of one surface's answers: each a list of (model row when the model knows the
/// item, whether it is a popularity fallback).
fn measure(
    model: &ServingModel,
    head: &HashSet<u32>,
    surface: Surface,
    lists: &[Vec<(Option<u32>, bool)>],
) -> SurfaceQuality {
    let n_users = model.stats.listeners.max(1) as f64;
    let listeners = |i: u32| model.listeners.get(i as usize).copied().unwrap_or(0);
    let (mut items, mut fallback, mut novelty, mut pop, mut in_head) = (0usize, 0usize, 0f64, 0f64, 0usize);
    let (mut answered, mut ild_sum, mut ild_lists, mut rep_sum) = (0usize, 0f64, 0usize, 0f64);
    let mut distinct = HashSet::new();
    let mut types = HashSet::new();
    for list in lists.iter().filter(|l| !l.is_empty()) {
        answered += 1;
        let mut creators_seen = HashSet::new();
        let mut repeated = 0usize;
        for &(row, popular) in list {
            items += 1;
            fallback += usize::from(popular);
            let Some(i) = row else {
                // Not in the model: nobody listened to it when it was trained.
                novelty += n_users.log2();
                continue;
            };
            distinct.insert(i);
            if let Some(t) = model.meta.get(i as usize).and_then(|m| m.kind) {
                types.insert(t);
            }
            let l = listeners(i);
            novelty += -((l.max(1) as f64) / n_users).log2();
            pop += l as f64;
            in_head += usize::from(head.contains(&i));
            // Items without a creator are their own.
            let creator = model.meta.get(i as usize).and_then(|m| m.creators.first().copied());
            let key = creator.map_or((1u8, i), |c| (0u8, c));
            if !creators_seen.insert(key) {
                repeated += 1;
            }
        }
        rep_sum += repeated as f64 / list.len() as f64;
        if let Some(d) = mean_pairwise_distance(model, list) {
            ild_sum += d;
            ild_lists += 1;
        }
    }
    let per_item = |x: f64| if items == 0 { 0.0 } else { x / items as f64 };
    let of_types = model
        .meta
        .iter()
        .filter(|m| m.kind.is_some_and(|t| types.contains(&t)))
        .count();
    SurfaceQuality {
        surface: surface.as_str().to_string(),
        answered,
        mean_items: if answered == 0 {
            0.0
        } else {
            items as f64 / answered as f64
        },
        coverage: if of_types == 0 {
            0.0
        } else {
            distinct.len() as f64 / of_types as f64
        },
        novelty_bits: per_item(novelty),
        arp: per_item(pop),
        head_share: per_item(in_head as f64),
        intra_list_diversity: (ild_lists > 0).then(|| ild_sum / ild_lists as f64),
        creator_repetition: if answered == 0 { 0.0 } else { rep_sum / answered as f64 },
        popular_fallback: per_item(fallback as f64),
    }
}

/// Mean `1 − cosine` over the pairs of items of `list` that have vectors.
fn mean_pairwise_distance(model: &ServingModel, list: &[(Option<u32>, bool)]) -> Option<f64> {
    let vecs: Vec<(std::borrow::Cow<'_, [f32]>, f32)> = list
        .iter()
        .filter_map(|&(row, _)| row.and_then(|i| model.vector(i)))
        .map(|v| {
            let n = dot(&v, &v).sqrt();
            (v, n)
        })
        .filter(|&(_, n)| n > 0.0)
        .collect();
    let (mut s, mut pairs) = (0f64, 0usize);
    for a in 0..vecs.len() {
        for b in a + 1..vecs.len() {
            let cos = dot(&vecs[a].0, &vecs[b].0) / (vecs[a].1 * vecs[b].1);
            s += 1.0 - cos.clamp(-1.0, 1.0) as f64;
            pairs += 1;
        }
    }
    (pairs > 0).then(|| s / pairs as f64)
}
