//! The candidate step of `for_you` and of `discover`'s collaborative list when model
//! selection chose a blend with item tables ([`crate::select`]): the vector search
//! proposes candidates, the item tables propose theirs (what co-occurs with the
//! listener's history), and every candidate is scored as the blend scores it offline:
//! each part standardized over the trained items (ALS through the vectors' mean and
//! covariance, a table from its sparse scores), weighted and summed.

use std::collections::HashMap;

use needle_core::EntityType;

use super::listener::Listener;
use super::model::ServingModel;
use super::pick::{cap_per_creator, capped_search};
use crate::index::Hit;
use crate::models::History;
use crate::select::ServedBlend;

/// The item tables read at most this many of the listener's heaviest items (the cost of a
/// request grows with it; the offline protocols' histories are shorter).
pub(crate) const TABLE_HISTORY: usize = 500;

/// Table candidates considered per wanted item.
const TABLE_FANOUT: usize = 4;

/// The best `want` items by the blend, at most `cap` per creator.
pub(crate) fn blended_search(
    model: &ServingModel,
    mix: &ServedBlend,
    l: &Listener,
    types: &[EntityType],
    admit: &(dyn Fn(u32) -> bool + Sync),
    cap: Option<usize>,
    want: usize,
) -> Vec<Hit> {
    let proposals = capped_search(model, &l.vector, types, admit, cap, want);
    let mut heaviest = l.top_items(TABLE_HISTORY);
    heaviest.sort_unstable_by_key(|x| x.0);
    let (items, weights): (Vec<u32>, Vec<f32>) = heaviest.into_iter().unzip();
    let (table, base) = mix.table_scores(History::new(&items, &weights));
    let (mean, sd) = mix.als_stats(&l.vector);
    let als = |i: u32| {
        if mix.als_weight == 0.0 {
            return 0.0;
        }
        model
            .score(i, &l.vector)
            .map(|s| (s - mean) / sd * mix.als_weight)
            .unwrap_or(0.0)
    };
    let mut scored: HashMap<u32, f32> = HashMap::new();
    for h in &proposals {
        scored.insert(h.id, als(h.id) + table.get(&h.id).copied().unwrap_or(base));
    }
    let mut from_tables: Vec<(u32, f32)> = table.into_iter().filter(|(i, _)| admit(*i)).collect();
    let n = (want * TABLE_FANOUT).min(from_tables.len());
    if n > 0 && from_tables.len() > n {
        from_tables.select_nth_unstable_by(n - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        from_tables.truncate(n);
    }
    for (i, t) in from_tables {
        scored.entry(i).or_insert_with(|| als(i) + t);
    }
    let mut all: Vec<Hit> = scored.into_iter().map(|(id, score)| Hit { id, score }).collect();
    all.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    cap_per_creator(model, all, cap, want)
}
