//! The listener surfaces' candidate steps: `for_you`, `discover`, `release_radar` and
//! `podcasts` (`daily_mix` is in `mix.rs`), and [`Listener`], what the model knows of the
//! listener they are for. The rules and the fallback are the pipeline's, in `surfaces.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use needle_core::profile::Profile;
use needle_core::EntityType;

use super::blend::blended_search;
use super::evidence::{collaborative_reason, explain};
use super::mentions::mentions;
use super::model::{interaction_weight, is_unwanted, release_day, ServingModel};
use super::pick::capped_search;
use super::surfaces::{Candidates, Reason, Scope, Scored, Surface};
use super::{Recs, Source};
use crate::RecsError;

/// What the model knows of one listener.
pub(crate) struct Listener {
    /// Liked trained items, sorted by row, with weights.
    pub items: Vec<u32>,
    pub weights: Vec<f32>,
    pub vector: Vec<f32>,
    /// Every item the listener touched (never recommended as new).
    pub seen: HashSet<String>,
    pub profile: Profile,
}

impl Listener {
    pub fn of(model: &ServingModel, profile: Profile) -> Listener {
        let (items, weights) = model.history_of(&profile.items);
        let vector = model.fold_in(&items, &weights);
        let seen = profile.items.keys().cloned().collect();
        Listener {
            items,
            weights,
            vector,
            seen,
            profile,
        }
    }

    pub fn has_signal(&self) -> bool {
        !self.items.is_empty() && self.vector.iter().any(|v| *v != 0.0)
    }

    /// Liked trained items, heaviest first (at most `n`).
    pub fn top_items(&self, n: usize) -> Vec<(u32, f32)> {
        let mut v: Vec<(u32, f32)> = self.items.iter().copied().zip(self.weights.iter().copied()).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }

    /// The liked item that best explains candidate `c` (largest `y_h · y_c` among the
    /// heaviest 50).
    pub fn explain(&self, model: &ServingModel, c: u32) -> Option<u32> {
        let yc = model.vector(c)?;
        self.top_items(50)
            .into_iter()
            .filter_map(|(h, _)| Some((h, model.score(h, &yc)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|x| x.0)
    }
}

/// `discover`'s accuracy-for-discovery trade: each candidate's taste score becomes
/// `(1 − w) / (taste rank + 10) + w / (popularity rank + 10)` with `w = (1 + d) / 4`, the
/// popularity rank counting from the candidate with the fewest training listeners. At
/// `d = 1` the two ranks count equally; beyond that the list is the least-played
/// candidates whatever their taste (on HetRec an NDCG@10 near 0.02). Below `w = 1/4` the
/// taste rank's head outweighs any popularity rank and the lists barely move (measured:
/// `w = d/2` left `d ≤ 0.5` within 0.0003 NDCG of `d = 0`), hence the offset. Ranks, not
/// raw scores: listener counts span four orders of magnitude, so a multiplicative
/// popularity penalty would hand every list to the least-played candidates at any `d`.
pub(crate) fn trade_for_discovery(model: &ServingModel, fused: &mut HashMap<u32, (f32, Reason)>, d: f32) {
    let listeners = |i: u32| model.listeners.get(i as usize).copied().unwrap_or(0);
    let mut by_taste: Vec<(u32, f32)> = fused.iter().map(|(&i, (s, _))| (i, *s)).collect();
    by_taste.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut by_novelty = by_taste.clone();
    // Stable: equally listened candidates keep their taste order.
    by_novelty.sort_by_key(|&(i, _)| listeners(i));
    let novelty_rank: HashMap<u32, usize> = by_novelty.iter().enumerate().map(|(r, &(i, _))| (i, r)).collect();
    let w = (1.0 + d) / 4.0;
    for (taste_rank, &(i, _)) in by_taste.iter().enumerate() {
        let n = novelty_rank[&i];
        if let Some(e) = fused.get_mut(&i) {
            e.0 = (1.0 - w) / (taste_rank as f32 + 10.0) + w / (n as f32 + 10.0);
        }
    }
}

pub(crate) fn days(now_ms: i64) -> i32 {
    now_ms.div_euclid(86_400_000) as i32
}

/// Uniform in `[0, 1)` from a key: deterministic jitter.
pub(crate) fn hash01(parts: &[&str]) -> f32 {
    let mut h = fnv1a(parts);
    h ^= h >> 33;
    (h >> 40) as f32 / (1u64 << 24) as f32
}

pub(crate) fn fnv1a(parts: &[&str]) -> u64 {
    // FNV-1a: small, stable across platforms and releases.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

impl Recs {
    /// The candidate step of a listener surface: its ranked candidates, and what the rules
    /// exclude (everything the listener touched, the daily mix's favourites excepted, and
    /// every unwanted item).
    pub(crate) fn listener_candidates(
        &self,
        source: &dyn Source,
        model: &ServingModel,
        user: &str,
        listener: Option<&Listener>,
        scope: &Scope,
    ) -> Result<Candidates, RecsError> {
        let mut exclude: HashSet<String> = listener.map(|l| l.seen.clone()).unwrap_or_default();
        let mut mixes = None;
        let list = match (listener, scope.surface) {
            (Some(l), Surface::ForYou) if l.has_signal() => self.for_you(source, model, l, &scope.types, scope)?,
            (Some(l), Surface::Discover) if l.has_signal() => self.discover(source, model, user, l, scope)?,
            (Some(l), Surface::ReleaseRadar) => new_from_creators(
                source,
                model,
                l,
                &scope.types,
                scope.now,
                self.config.release_window_days,
                false,
            )?,
            (Some(l), Surface::Podcasts) => self.podcasts(source, model, l, scope)?,
            (Some(l), Surface::DailyMix) if l.has_signal() => {
                let (c, m, favourites) = self.daily_mix(source, model, user, l, scope)?;
                // Favourites are played items: allowed here, still never the unwanted ones.
                for f in favourites {
                    exclude.remove(&f);
                }
                mixes = Some(m);
                c
            }
            _ => Vec::new(),
        };
        if let Some(l) = listener {
            for (id, st) in &l.profile.items {
                if is_unwanted(st) {
                    exclude.insert(id.clone());
                }
            }
        }
        Ok(Candidates {
            list,
            exclude,
            fill_exclude: HashSet::new(),
            mixes,
            has_history: listener.is_some_and(Listener::has_signal),
        })
    }

    /// Top inner products with the listener's folded-in vector, at most the surface's
    /// per-creator cap of each creator, each with a true reason (`evidence.rs`).
    fn for_you(
        &self,
        source: &dyn Source,
        model: &ServingModel,
        l: &Listener,
        types: &[EntityType],
        scope: &Scope,
    ) -> Result<Vec<Scored>, RecsError> {
        let rules = scope.filter(types, &l.seen);
        let cap = scope.surface.per_creator(scope.limit, &self.config);
        // Enough for the rules and the evidence to drop some and still fill the list.
        let want = scope.limit * 2 + 10;
        let admit = |i: u32| rules.admits(model, i);
        let hits = match model.mix.as_ref().filter(|m| m.has_tables()) {
            Some(mix) => blended_search(model, mix, l, types, &admit, cap, want),
            None => capped_search(model, &l.vector, types, &admit, cap, want),
        };
        let list = hits
            .into_iter()
            .map(|h| Scored {
                id: model.items.id(h.id).to_string(),
                score: h.score,
                reason: Reason::Popular(None),
                mix: None,
            })
            .collect();
        explain(source, model, l, list)
    }

    /// Collaborative candidates fused with neighbours of recent favourites (weights
    /// `recs.blend.discover_*`), jittered by a per-week seed; cached per (listener, week,
    /// model) so the list is stable for the week.
    fn discover(
        &self,
        source: &dyn Source,
        model: &ServingModel,
        user: &str,
        l: &Listener,
        scope: &Scope,
    ) -> Result<Vec<Scored>, RecsError> {
        let (types, limit) = (&scope.types, scope.limit);
        let week = (days(scope.now) as i64 + 3).div_euclid(7);
        let key = (
            format!(
                "{user}\u{0}{types:?}\u{0}{:?}\u{0}{}\u{0}{}",
                scope.market, scope.explicit, scope.discovery
            ),
            week,
            model.version,
        );
        if let Some(c) = self.discover_cache.lock().get(&key) {
            if c.len() >= limit * 3 {
                return Ok(c.as_ref().clone());
            }
        }
        let rules = scope.filter(types, &l.seen);
        let blend = &self.config.blend;
        // A wider pool when less-listened items are wanted: they sit lower in taste order.
        let k = ((limit * 3 + 20) as f32 * (1.0 + 2.0 * scope.discovery)) as usize;
        let admit = |i: u32| rules.admits(model, i);
        let mut fused: HashMap<u32, (f32, Reason)> = HashMap::new();
        let collaborative = match model.mix.as_ref().filter(|m| m.has_tables()) {
            Some(mix) => blended_search(model, mix, l, types, &admit, None, k),
            None => model.search(&l.vector, k, types, &admit),
        };
        for (rank, h) in collaborative.into_iter().enumerate() {
            fused.insert(
                h.id,
                (
                    blend.discover_collaborative / (rank as f32 + 10.0),
                    Reason::Popular(None),
                ),
            );
        }
        // Recent favourites: the newest liked items with vectors.
        let mut recent = Vec::new();
        for r in l.profile.recent.iter().rev() {
            let Some(i) = model.items.get(&r.item_id) else { continue };
            let liked = l.profile.items.get(&r.item_id).and_then(interaction_weight).is_some();
            if liked && model.vector(i).is_some() && !recent.contains(&i) {
                recent.push(i);
            }
            if recent.len() == 3 {
                break;
            }
        }
        for &f in &recent {
            let Some(q) = model.vector(f) else { continue };
            for (rank, h) in model.search(&q, limit + 10, types, &admit).into_iter().enumerate() {
                let s = blend.discover_recent / recent.len() as f32 / (rank as f32 + 10.0);
                let e = fused
                    .entry(h.id)
                    .or_insert((0.0, Reason::BecauseYouRecentlyPlayed(model.items.id(f).to_string())));
                e.0 += s;
            }
        }
        if scope.discovery > 0.0 {
            trade_for_discovery(model, &mut fused, scope.discovery);
        }
        let wk = week.to_string();
        let out: Vec<Scored> = fused
            .into_iter()
            .map(|(i, (s, reason))| {
                let id = model.items.id(i).to_string();
                let jitter = 0.75 + 0.5 * hash01(&[user, &wk, &id]);
                Scored {
                    score: s * jitter * 100.0,
                    id,
                    reason,
                    mix: None,
                }
            })
            .collect();
        // Neighbours of a recent favourite keep that reason when their vectors carry
        // listening evidence; the others get theirs from `evidence.rs`.
        let (recent_ok, rest): (Vec<Scored>, Vec<Scored>) = out.into_iter().partition(|s| {
            matches!(s.reason, Reason::BecauseYouRecentlyPlayed(_))
                && model.items.get(&s.id).is_some_and(|i| model.collaborative(i))
        });
        let mut out = explain(source, model, l, rest)?;
        for mut s in recent_ok {
            // A track of the recent favourite's own artist says so.
            if let Some(i) = model.items.get(&s.id) {
                if let r @ Reason::FromCreatorYouPlay(..) = collaborative_reason(model, l, i) {
                    s.reason = r;
                }
            }
            out.push(s);
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        let mut cache = self.discover_cache.lock();
        if cache.len() > 50_000 {
            cache.clear();
        }
        cache.insert(key, Arc::new(out.clone()));
        Ok(out)
    }

    /// New episodes of followed or played shows, newest first; then shows from the
    /// collaborative list whose vectors carry listening evidence; then shows and episodes
    /// naming an artist the listener plays (`mentions.rs`); then shows sharing a tag with
    /// their favourites.
    fn podcasts(
        &self,
        source: &dyn Source,
        model: &ServingModel,
        l: &Listener,
        scope: &Scope,
    ) -> Result<Vec<Scored>, RecsError> {
        let mut out = Vec::new();
        if scope.types.contains(&EntityType::Episode) {
            out.extend(new_from_creators(
                source,
                model,
                l,
                &[EntityType::Episode],
                scope.now,
                self.config.episode_window_days,
                true,
            )?);
        }
        let mut tagged = Vec::new();
        if scope.types.contains(&EntityType::Show) && l.has_signal() {
            let shows = self.for_you(source, model, l, &[EntityType::Show], scope)?;
            let (by_tag, collaborative): (Vec<Scored>, Vec<Scored>) = shows
                .into_iter()
                .partition(|s| matches!(s.reason, Reason::TaggedLike(..)));
            out.extend(collaborative);
            tagged = by_tag;
        }
        out.extend(mentions(source, model, l, &scope.types)?);
        out.extend(tagged);
        Ok(out)
    }
}

/// Creators (artists, shows, authors) the listener follows or loves, strongest first.
pub(crate) fn loved_creators(model: &ServingModel, l: &Listener) -> Vec<(String, f32)> {
    let mut aff: HashMap<u32, f32> = HashMap::new();
    for (id, st) in &l.profile.items {
        let Some(w) = interaction_weight(st) else { continue };
        let Some(i) = model.items.get(id) else { continue };
        for &c in &model.meta[i as usize].creators {
            *aff.entry(c).or_default() += w;
        }
    }
    let mut v: Vec<(String, f32)> = aff
        .into_iter()
        .map(|(c, w)| (model.creators.id(c).to_string(), w))
        .collect();
    v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(30);
    v
}

/// Releases of `types` within `window_days` by the listener's loved creators, read live
/// from the catalog (new items need no retraining). Newest first when `newest_first`,
/// else by creator affinity times freshness.
fn new_from_creators(
    source: &dyn Source,
    model: &ServingModel,
    l: &Listener,
    types: &[EntityType],
    now: i64,
    window_days: u32,
    newest_first: bool,
) -> Result<Vec<Scored>, RecsError> {
    let creators = loved_creators(model, l);
    let top = creators.first().map(|c| c.1).unwrap_or(1.0).max(1e-6);
    let today = days(now);
    let mut out = Vec::new();
    for (c, aff) in creators {
        let mut ids = source.referrers(&c)?;
        ids.retain(|id| !l.seen.contains(id));
        ids.truncate(2_000);
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        for e in source.entities(&refs)?.into_iter().flatten() {
            if !types.contains(&e.entity_type()) {
                continue;
            }
            let Some(day) = e.release_date.as_deref().and_then(release_day) else {
                continue;
            };
            let age = today - day;
            if age < 0 || age > window_days as i32 {
                continue;
            }
            let fresh = 1.0 - 0.5 * age as f32 / window_days.max(1) as f32;
            let score = if newest_first {
                1.0 + fresh + 0.01 * aff / top
            } else {
                aff / top * fresh
            };
            let reason = if e.entity_type() == EntityType::Episode {
                Reason::NewEpisodeOf(c.clone())
            } else {
                Reason::NewFrom(c.clone())
            };
            out.push(Scored {
                id: e.id,
                score,
                reason,
                mix: None,
            });
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    Ok(out)
}
