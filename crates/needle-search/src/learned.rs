//! Learned signals on top of the text ranking: the listener's taste (`taste.rs`) and the
//! click model (per query, from many listeners' clicks; computed by the service's search
//! statistics and passed in [`crate::SearchRequest::clicks`]), and `explain=true`, which
//! shows each hit's score as its parts.
//!
//! Both learned signals are bounded together: `personal + click` is capped at
//! [`LEARNED_CAP`], and `LEARNED_CAP + PRIOR + COVER < EXACT` (checked at compile time),
//! so no amount of clicks or taste carries a non-exact match past an exact one. They only
//! reorder the candidates the text query found (the pool re-ranked for a listener); they
//! never add an item.

use crate::collect::{Scored, SegmentData, COMPLETE, COVER, EXACT, NTYPES, PRIOR};
use crate::plan::ALT_KEY_FACTOR;
use crate::taste::PERSONAL_WEIGHT;
use crate::types::{Explain, Hit};
use std::collections::HashMap;
use std::sync::Arc;
use tantivy::DocId;

/// Largest click boost: `CLICK_WEIGHT · strength`, strength in [0, 1).
pub const CLICK_WEIGHT: f32 = 0.7;
/// Largest sum of the learned boosts (personal + click).
pub const LEARNED_CAP: f32 = PERSONAL_WEIGHT;

// A non-exact match with every soft signal at its largest stays below an exact match.
const _: () = assert!(LEARNED_CAP + PRIOR + COVER < EXACT);
const _: () = assert!(CLICK_WEIGHT <= LEARNED_CAP);
// Among equal text matches, enough clicks lift an item past any popularity difference.
const _: () = assert!(CLICK_WEIGHT > PRIOR);

/// The click model's strength per item id for one query, each in [0, 1).
pub type ClickStrengths = HashMap<String, f32>;

/// What `explain` needs of the query and the collector.
pub(crate) struct ExplainCtx {
    pub inv_log_max_pop: [f32; NTYPES],
    pub query_words: f32,
    /// Keys the whole query may be (as typed, and typo-corrected), with their bonuses.
    pub exact: Vec<(u64, f32)>,
    /// Keys of every run of query words (sorted).
    pub run_keys: Vec<u64>,
}

impl ExplainCtx {
    /// The parts of a collected score (`score`) of document `doc` named `name`: the
    /// popularity prior and name coverage as the collector added them, the exact or
    /// complete-name bonus as detected on the display name, and the text score as the
    /// rest.
    pub fn explain(&self, data: &SegmentData, doc: DocId, score: f32, name: &str) -> Explain {
        let kind = data.kind.get(doc as usize).copied().unwrap_or(0) as usize;
        let lp = data.log_pop.get(doc as usize).copied().unwrap_or(0.0);
        let prior = PRIOR * (lp * self.inv_log_max_pop[kind]).min(1.0);
        let name_len = f32::from(data.name_len.get(doc as usize).copied().unwrap_or(0).max(1));
        let cover = if self.query_words >= 2.0 {
            COVER * (self.query_words / name_len).min(1.0)
        } else {
            0.0
        };
        // As the key query scores it: the name is the query (or a typo correction of it),
        // or is it without its leading article (`The Mask` for `mask`, × ALT_KEY_FACTOR),
        // or a run of the query words is the name.
        let keys = needle_core::text::name_keys(name);
        let whole = self
            .exact
            .iter()
            .map(|&(k, bonus)| {
                if keys[0] == k {
                    bonus
                } else if keys[1..].contains(&k) {
                    bonus * ALT_KEY_FACTOR
                } else {
                    0.0
                }
            })
            .fold(0.0f32, f32::max);
        let exact = if whole > 0.0 {
            whole
        } else if self.run_keys.binary_search(&keys[0]).is_ok() {
            COMPLETE
        } else {
            0.0
        };
        let round = |x: f32| (x * 1e4).round() / 1e4;
        Explain {
            text: round(score - prior - cover - exact),
            exact_bonus: exact,
            popularity_prior: round(prior),
            name_coverage: round(cover),
            personal_boost: 0.0,
            click_boost: 0.0,
            ..Explain::semantic_only()
        }
    }
}

/// The learned boosts of one hit: (personal, click), their sum capped at [`LEARNED_CAP`].
pub fn learned_boosts(personal: f32, click_strength: f32) -> (f32, f32) {
    let personal = personal.clamp(-PERSONAL_WEIGHT, PERSONAL_WEIGHT);
    let click = CLICK_WEIGHT * click_strength.clamp(0.0, 1.0);
    let total = (personal + click).min(LEARNED_CAP);
    (personal, total - personal)
}

/// The click boost on collected documents, before any hit is built: when clicks are the
/// only signal that re-ranks, the pool's ids (from the id column) are all it needs, and
/// only the page's hits are built afterwards. Re-sorts (stable) when anything moved.
pub(crate) fn click_order_docs(
    docs: &mut [Scored],
    segs: &[Arc<SegmentData>],
    clicks: &ClickStrengths,
) -> tantivy::Result<()> {
    let mut any = false;
    for d in docs.iter_mut() {
        let Some(data) = segs.get(d.addr.segment_ord as usize) else {
            continue;
        };
        let Some(strength) = data.id(d.addr.doc_id)?.and_then(|id| clicks.get(&id).copied()) else {
            continue;
        };
        let (_, c) = learned_boosts(0.0, strength);
        if c > 0.0 {
            d.score += c;
            any = true;
        }
    }
    if any {
        docs.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
    Ok(())
}

/// Add the learned boosts to the hits' scores and re-sort (stable: ties keep text order).
pub(crate) fn learned_order(hits: &mut [Hit], clicks: Option<&ClickStrengths>) {
    let mut any = false;
    for h in hits.iter_mut() {
        let personal = h.personalization.as_ref().map_or(0.0, |p| p.boost);
        let strength = clicks.and_then(|c| c.get(&h.id)).copied().unwrap_or(0.0);
        if personal == 0.0 && strength == 0.0 {
            continue;
        }
        let (p, c) = learned_boosts(personal, strength);
        h.score = ((h.score + p + c) * 1e4).round() / 1e4;
        if let Some(x) = &mut h.explain {
            x.personal_boost = (p * 1e4).round() / 1e4;
            x.click_boost = (c * 1e4).round() / 1e4;
        }
        any = true;
    }
    if any {
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the taste and the clicks, a hit without the exact bonus stays below a
        /// hit with it and the same text score.
        #[test]
        fn learned_boosts_never_beat_an_exact_match(
            personal in -2.0f32..2.0, strength in 0.0f32..1.0, prior in 0.0f32..=1.0, cover in 0.0f32..=1.0
        ) {
            let (p, c) = learned_boosts(personal, strength);
            prop_assert!((0.0..=CLICK_WEIGHT + 1e-6).contains(&c));
            prop_assert!(p + c <= LEARNED_CAP + 1e-6);
            // The exact match at its worst without a learned signal: no prior, no coverage.
            prop_assert!(PRIOR * prior + COVER * cover + p + c < EXACT);
        }
    }
}
