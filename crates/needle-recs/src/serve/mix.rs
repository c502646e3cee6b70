//! `daily_mix`: the listener's liked items clustered (k-means on unit item vectors), one mix
//! per cluster, each alternating favourites from the cluster with discoveries near its
//! centre (and nearer to it than to any other mix's).
//!
//! A listener whose history is at another level than the mix (artists played, tracks
//! wanted: Last.fm histories) gets mixes through the catalog's links: the creators they
//! play are clustered, and each contributes its most popular works ("by Depeche Mode, whom
//! you play") where a favourite would stand.

use std::collections::HashSet;

use needle_core::EntityType;

use super::listener::{fnv1a, Listener};
use super::model::ServingModel;
use super::surfaces::{Mix, Reason, Scope, Scored};
use super::{Recs, Source};
use crate::dense::{dot, unit};
use crate::RecsError;

/// A daily mix's candidates (tagged with their mix), the mixes, and the favourites used
/// (played items the rules must not exclude).
pub(crate) type DailyMix = (Vec<Scored>, Vec<Mix>, Vec<String>);

/// Fewer liked items than this at the mix's level: cluster the creators played too.
const LIFT_BELOW: usize = 5;
/// Works one creator contributes to a mix in place of a favourite.
const WORKS_PER_CREATOR: usize = 2;

/// The types of the works a creator of type `kind` makes.
fn works_of(kind: EntityType) -> &'static [EntityType] {
    match kind {
        EntityType::Artist => &[EntityType::Track, EntityType::Album],
        EntityType::Show => &[EntityType::Episode],
        EntityType::Audiobook => &[EntityType::Chapter],
        _ => &[],
    }
}

/// k-means on unit vectors (cosine), k-means++ seeded from `seed`; returns the cluster of
/// every point.
pub(crate) fn kmeans(points: &[Vec<f32>], k: usize, seed: u64, iterations: usize) -> Vec<usize> {
    let n = points.len();
    if n == 0 || k <= 1 {
        return vec![0; n];
    }
    let k = k.min(n);
    let mut state = seed | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut centres: Vec<Vec<f32>> = vec![points[(next() * n as f64) as usize % n].clone()];
    while centres.len() < k {
        let d: Vec<f64> = points
            .iter()
            .map(|p| {
                centres
                    .iter()
                    .map(|c| (1.0 - dot(p, c)).max(0.0) as f64)
                    .fold(f64::MAX, f64::min)
            })
            .collect();
        let total: f64 = d.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut r = next() * total;
        let mut pick = n - 1;
        for (i, x) in d.iter().enumerate() {
            if r < *x {
                pick = i;
                break;
            }
            r -= x;
        }
        centres.push(points[pick].clone());
    }
    let mut assign = vec![0usize; n];
    for _ in 0..iterations {
        let mut changed = false;
        for (i, p) in points.iter().enumerate() {
            let best = (0..centres.len())
                .max_by(|&a, &b| dot(p, &centres[a]).total_cmp(&dot(p, &centres[b])))
                .unwrap_or(0);
            if best != assign[i] {
                assign[i] = best;
                changed = true;
            }
        }
        for (c, centre) in centres.iter_mut().enumerate() {
            let mut sum = vec![0f32; centre.len()];
            for (p, _) in points.iter().zip(&assign).filter(|(_, &a)| a == c) {
                for (s, x) in sum.iter_mut().zip(p) {
                    *s += x;
                }
            }
            if sum.iter().any(|x| *x != 0.0) {
                *centre = unit(&sum);
            }
        }
        if !changed {
            break;
        }
    }
    assign
}

impl Recs {
    /// The candidate step of `daily_mix`: candidates tagged with their mix, the mixes, and
    /// the favourites used (played items the rules must not exclude).
    pub(crate) fn daily_mix(
        &self,
        source: &dyn Source,
        model: &ServingModel,
        user: &str,
        l: &Listener,
        scope: &Scope,
    ) -> Result<DailyMix, RecsError> {
        let (types, limit) = (&scope.types, scope.limit);
        let kind = |i: u32| model.meta[i as usize].kind;
        let wanted = |i: u32| kind(i).is_some_and(|k| types.contains(&k));
        let liked = l.top_items(60);
        let mut top: Vec<(u32, f32)> = liked.iter().copied().filter(|(i, _)| wanted(*i)).collect();
        if top.len() < LIFT_BELOW {
            top.extend(liked.iter().copied().filter(|(i, _)| {
                !wanted(*i) && kind(*i).is_some_and(|k| works_of(k).iter().any(|w| types.contains(w)))
            }));
        }
        let k = self.config.daily_mixes.min(top.len().div_ceil(5)).max(1);
        let points: Vec<Vec<f32>> = top
            .iter()
            .map(|(i, _)| unit(&model.vector(*i).unwrap_or_default()))
            .collect();
        let assign = kmeans(&points, k, fnv1a(&[user, "daily_mix"]), 20);
        let rules = scope.filter(types, &l.seen);
        let mut clusters: Vec<(f32, Vec<(u32, f32)>)> = vec![(0.0, Vec::new()); k];
        for ((i, w), &c) in top.iter().zip(&assign) {
            clusters[c].0 += w;
            clusters[c].1.push((*i, *w));
        }
        clusters.retain(|c| !c.1.is_empty());
        clusters.sort_by(|a, b| b.0.total_cmp(&a.0));
        let centres: Vec<Vec<f32>> = clusters
            .iter()
            .map(|(_, members)| {
                let mut centre = vec![0f32; model.factors()];
                for (i, w) in members {
                    if let Some(v) = model.vector(*i) {
                        for (c, x) in centre.iter_mut().zip(v.iter()) {
                            *c += w * x;
                        }
                    }
                }
                unit(&centre)
            })
            .collect();
        // A discovery joins a mix only if that mix's centre is the nearest: near one taste
        // can still be nearer another, and a mix must not drift into it.
        let nearest = |i: u32| -> Option<usize> {
            let v = unit(&model.vector(i)?);
            (0..centres.len()).max_by(|&a, &b| dot(&v, &centres[a]).total_cmp(&dot(&v, &centres[b])))
        };
        let mut used: HashSet<u32> = HashSet::new();
        let (mut out, mut mixes, mut favourites) = (Vec::new(), Vec::new(), Vec::new());
        for (m, (_, members)) in clusters.iter().enumerate() {
            // Discoveries are explained by the mix's anchor: only those whose vectors carry
            // listening evidence make that reason true.
            let discoveries: Vec<u32> = model
                .search(&centres[m], 2 * limit + 10, types, &|i| {
                    !used.contains(&i) && rules.admits(model, i) && model.collaborative(i)
                })
                .into_iter()
                .map(|h| h.id)
                .filter(|&i| nearest(i) == Some(m))
                .take(limit)
                .collect();
            let mut favs: Vec<(String, Reason)> = Vec::new();
            for &(i, _) in members {
                if used.contains(&i) {
                    continue;
                }
                used.insert(i);
                if wanted(i) {
                    favourites.push(model.items.id(i).to_string());
                    favs.push((model.items.id(i).to_string(), Reason::Favourite));
                } else if favs.len() < limit {
                    for w in best_works(source, model, l, &rules, i)? {
                        favs.push((
                            w,
                            Reason::FromCreatorYouPlay(
                                model.items.id(i).to_string(),
                                kind(i).unwrap_or(EntityType::Artist),
                            ),
                        ));
                    }
                }
            }
            let (mut f, mut d) = (favs.into_iter(), discoveries.iter());
            let mut rank = 0;
            loop {
                let (a, b) = (f.next(), d.next());
                if a.is_none() && b.is_none() {
                    break;
                }
                if let Some((id, reason)) = a {
                    out.push(Scored {
                        id,
                        score: 1.0 / (rank as f32 + 1.0),
                        reason,
                        mix: Some(m + 1),
                    });
                    rank += 1;
                }
                if let Some(&i) = b {
                    used.insert(i);
                    out.push(Scored {
                        id: model.items.id(i).to_string(),
                        score: 1.0 / (rank as f32 + 1.0),
                        reason: discovery_reason(model, l, members, i),
                        mix: Some(m + 1),
                    });
                    rank += 1;
                }
            }
            mixes.push(Mix {
                mix: m + 1,
                name: format!("Daily Mix {}", m + 1),
                seed_ids: members
                    .iter()
                    .take(3)
                    .map(|x| model.items.id(x.0).to_string())
                    .collect(),
            });
        }
        Ok((out, mixes, favourites))
    }
}

/// Why discovery `i` is in a mix: a creator of it the listener plays, else the mix member
/// closest to it (the mix's favourites are what the listener plays).
fn discovery_reason(model: &ServingModel, l: &Listener, members: &[(u32, f32)], i: u32) -> Reason {
    if let r @ Reason::FromCreatorYouPlay(..) = super::evidence::collaborative_reason(model, l, i) {
        return r;
    }
    let v = model.vector(i).unwrap_or_default();
    let closest = members
        .iter()
        .filter_map(|&(m, _)| Some((m, model.score(m, &v)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(members[0].0, |x| x.0);
    Reason::BecauseYouPlay(model.items.id(closest).to_string())
}

/// The most popular works of creator row `c` of the mix's types the listener has not
/// touched and the rules admit, read live from the catalog's links.
fn best_works(
    source: &dyn Source,
    model: &ServingModel,
    l: &Listener,
    rules: &super::pick::Rules,
    c: u32,
) -> Result<Vec<String>, RecsError> {
    let mut ids = source.referrers(model.items.id(c))?;
    ids.retain(|id| !l.seen.contains(id));
    ids.truncate(500);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut works: Vec<(f64, String)> = source
        .entities(&refs)?
        .into_iter()
        .flatten()
        .filter(|e| model.items.get(&e.id).is_some_and(|i| rules.admits(model, i)))
        .map(|e| (e.popularity.unwrap_or(0.0), e.id))
        .collect();
    works.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    Ok(works.into_iter().take(WORKS_PER_CREATOR).map(|w| w.1).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_separates_two_directions() {
        let pts: Vec<Vec<f32>> = (0..10)
            .map(|i| {
                if i % 2 == 0 {
                    unit(&[1.0, 0.05 * i as f32])
                } else {
                    unit(&[0.05 * i as f32, 1.0])
                }
            })
            .collect();
        let a = kmeans(&pts, 2, 7, 10);
        for i in 0..10 {
            assert_eq!(a[i] == a[0], i % 2 == 0, "{a:?}");
        }
    }
}
