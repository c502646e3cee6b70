//! Item-seeded surfaces: `similar` (radio from a track, related artists, similar shows)
//! and `continue` (a playlist or session from seed items, for anonymous listeners too).
//! Their candidate steps; rules and fallback are the pipeline's (`surfaces.rs`).

use std::collections::HashSet;

use needle_core::EntityType;

use super::model::now_ms;
use super::surfaces::{Candidates, Reason, Recommendations, Scope, Scored, Surface};
use super::{Recs, Source};
use crate::dense::dot;
use crate::RecsError;

/// Business rules of an item-seeded request.
#[derive(Clone, Debug, Default)]
pub struct SeedRequest {
    /// `None`: the seeds' own types.
    pub types: Option<Vec<EntityType>>,
    pub limit: usize,
    pub market: Option<String>,
    /// Explicit items allowed.
    pub explicit: bool,
}

impl Recs {
    /// Items like `item_id`, ranked by cosine of item vectors. An item without a vector
    /// (added after the last training) is represented by its creators' items.
    pub fn similar(&self, source: &dyn Source, item_id: &str, req: &SeedRequest) -> Result<Recommendations, RecsError> {
        let model = self.require_model()?;
        let Some(entity) = source.entities(&[item_id])?.pop().flatten() else {
            return Err(RecsError::NotFound {
                what: "item",
                id: item_id.to_string(),
            });
        };
        let scope = Scope {
            surface: Surface::Similar,
            types: req.types.clone().unwrap_or_else(|| vec![entity.entity_type()]),
            market: req.market.clone(),
            explicit: req.explicit,
            limit: req.limit.max(1),
            now: now_ms(),
            discovery: 0.0,
        };
        let limit = scope.limit;
        let query: Option<Vec<f32>> = match model.items.get(item_id).and_then(|i| model.vector(i)) {
            Some(v) => Some(v.to_vec()),
            None => {
                // Fall back on the mean vector of its creators (or the creators' items).
                let mut ids: Vec<String> = entity.references().iter().map(|s| s.to_string()).collect();
                for c in entity.references() {
                    ids.extend(source.referrers(c)?.into_iter().take(200));
                }
                mean_vector(&model, ids.iter().map(String::as_str))
            }
        };
        let mut exclude = HashSet::new();
        exclude.insert(item_id.to_string());
        let rules = scope.filter(&scope.types, &exclude);
        let mut candidates = Vec::new();
        if let Some(q) = query {
            let qn = dot(&q, &q).sqrt().max(1e-12);
            let mut hits: Vec<Scored> = model
                .search(&q, limit * 4 + 20, &scope.types, &|i| rules.admits(&model, i))
                .into_iter()
                .filter_map(|h| {
                    let v = model.vector(h.id)?;
                    let cos = h.score / (qn * dot(&v, &v).sqrt().max(1e-12));
                    Some(Scored {
                        id: model.items.id(h.id).to_string(),
                        score: cos,
                        reason: Reason::SimilarTo(item_id.to_string()),
                        mix: None,
                    })
                })
                .collect();
            hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
            candidates = hits;
        }
        let candidates = Candidates::seeded(candidates, exclude, HashSet::new());
        self.run_pipeline(source, &model, &scope, candidates)
    }

    /// What goes well after `seeds`: the seeds folded in as a listener (anonymous), the
    /// seeds themselves excluded. Unknown seeds are ignored; none known gives what is popular.
    pub fn continue_from(
        &self,
        source: &dyn Source,
        seeds: &[String],
        req: &SeedRequest,
    ) -> Result<Recommendations, RecsError> {
        let model = self.require_model()?;
        let limit = req.limit.max(1);
        let mut rows: Vec<u32> = seeds
            .iter()
            .filter_map(|s| model.items.get(s))
            .filter(|&i| (i as usize) < model.n_trained)
            .collect();
        rows.sort_unstable();
        rows.dedup();
        let weights = vec![1.0; rows.len()];
        let mut q = model.fold_in(&rows, &weights);
        if q.iter().all(|x| *x == 0.0) {
            q = mean_vector(&model, seeds.iter().map(String::as_str)).unwrap_or_default();
        }
        let types = match &req.types {
            Some(t) => t.clone(),
            None => {
                let refs: Vec<&str> = seeds.iter().map(String::as_str).collect();
                let mut t: Vec<EntityType> = source
                    .entities(&refs)?
                    .into_iter()
                    .flatten()
                    .map(|e| e.entity_type())
                    .collect();
                t.sort();
                t.dedup();
                if t.is_empty() {
                    Surface::Continue.default_types()
                } else {
                    t
                }
            }
        };
        let scope = Scope {
            surface: Surface::Continue,
            types,
            market: req.market.clone(),
            explicit: req.explicit,
            limit,
            now: now_ms(),
            discovery: 0.0,
        };
        let exclude: HashSet<String> = seeds.iter().cloned().collect();
        let rules = scope.filter(&scope.types, &exclude);
        let seed_vectors: Vec<(String, std::borrow::Cow<'_, [f32]>)> = seeds
            .iter()
            .filter_map(|s| Some((s.clone(), model.vector(model.items.get(s)?)?)))
            .collect();
        let candidates: Vec<Scored> = if q.is_empty() {
            Vec::new()
        } else {
            model
                .search(&q, limit * 3 + 20, &scope.types, &|i| rules.admits(&model, i))
                .into_iter()
                .map(|h| {
                    let v = model.vector(h.id).unwrap_or_default();
                    let best = seed_vectors
                        .iter()
                        .max_by(|a, b| dot(&a.1, &v).total_cmp(&dot(&b.1, &v)))
                        .map(|s| s.0.clone());
                    Scored {
                        id: model.items.id(h.id).to_string(),
                        score: h.score,
                        reason: best.map(Reason::Continues).unwrap_or(Reason::Popular(None)),
                        mix: None,
                    }
                })
                .collect()
        };
        let candidates = Candidates::seeded(candidates, exclude, HashSet::new());
        self.run_pipeline(source, &model, &scope, candidates)
    }
}

/// Mean of the vectors of the given items that have one.
fn mean_vector<'a>(model: &super::ServingModel, ids: impl Iterator<Item = &'a str>) -> Option<Vec<f32>> {
    let mut sum = vec![0f32; model.factors()];
    let mut n = 0;
    for id in ids {
        if let Some(v) = model.items.get(id).and_then(|i| model.vector(i)) {
            for (s, x) in sum.iter_mut().zip(v.iter()) {
                *s += x;
            }
            n += 1;
        }
    }
    (n > 0).then(|| sum.into_iter().map(|x| x / n as f32).collect())
}
