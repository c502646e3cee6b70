//! "More like this" from content: the nearest text vectors of a show, episode or audiobook
//! that few listeners played (the collaborative model knows too little of it).

use crate::error::Result;
use crate::Service;
use needle_core::Entity;
use needle_recs::serve::{RecItem, Recommendations, SeedRequest};

/// Below this many training listeners, an item's collaborative vector is not trusted for
/// `similar`: its text says more.
pub const MIN_LISTENERS: u32 = 5;

impl Service {
    /// Items like `item_id` by content, when semantic search has its vector and the trained
    /// model has none (or one from fewer than [`MIN_LISTENERS`] listeners); `None` leaves
    /// the answer to the collaborative model.
    pub(crate) fn similar_by_content(&self, item_id: &str, req: &SeedRequest) -> Result<Option<Recommendations>> {
        let Ok(sem) = &self.semantic else { return Ok(None) };
        let Some(entity) = self.engine.get_canonical(item_id)? else {
            return Ok(None);
        };
        if !sem.config().types.contains(&entity.entity_type()) {
            return Ok(None);
        }
        let model = self.recs.model();
        let few_plays = match &model {
            None => true,
            Some(m) => m.items.get(&entity.id).is_none_or(|i| {
                (i as usize) >= m.n_trained || m.listeners.get(i as usize).is_none_or(|n| *n < MIN_LISTENERS)
            }),
        };
        if !few_plays {
            return Ok(None);
        }
        let Some(v) = sem.vector_of(&entity.id)? else {
            return Ok(None);
        };
        let types = req.types.clone().unwrap_or_else(|| vec![entity.entity_type()]);
        let limit = req.limit.max(1);
        let near = sem.nearest(&v, limit * 3 + 10, &types);
        let ids: Vec<&str> = near
            .iter()
            .map(|n| n.id.as_str())
            .filter(|id| *id != entity.id)
            .collect();
        let found = self.engine.get_many(&ids)?;
        let snap = self.engine.view()?;
        let market = req.market.as_deref().map(str::to_ascii_uppercase);
        let mut items = Vec::with_capacity(limit);
        for (n, e) in near.iter().filter(|n| n.id != entity.id).zip(found) {
            let Some(e) = e else { continue };
            let in_market = match (&market, &e.markets) {
                (Some(m), Some(ms)) => ms.iter().any(|x| x.eq_ignore_ascii_case(m)),
                _ => true,
            };
            if !in_market || (!req.explicit && e.explicit == Some(true)) {
                continue;
            }
            items.push(RecItem {
                by: by_line(&e, &snap),
                id: e.id.clone(),
                kind: e.entity_type(),
                score: (n.similarity * 1e4).round() / 1e4,
                reason: format!("about the same as {}", entity.name),
                release_date: e.release_date.clone(),
                name: e.name,
                mix: None,
            });
            if items.len() == limit {
                break;
            }
        }
        Ok(Some(Recommendations {
            items,
            surface: "similar".into(),
            model_version: model.map_or(0, |m| m.version),
            mixes: None,
        }))
    }
}

/// The show of an episode, the authors of an audiobook, the publisher of a show.
fn by_line(e: &Entity, snap: &needle_store::CatalogSnapshot) -> Vec<String> {
    if let Some(show) = e.show_id.as_deref().and_then(|id| snap.name_of(id).ok().flatten()) {
        return vec![show];
    }
    if !e.authors.is_empty() {
        return e.authors.clone();
    }
    e.publisher.clone().into_iter().collect()
}
