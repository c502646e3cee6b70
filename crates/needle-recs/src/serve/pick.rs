//! The rules and fallback steps of the surface pipeline (`surfaces.rs`): from ranked
//! candidates to the answer, business rules checked against the live catalog, per-creator
//! caps, no duplicates, reasons with names; the popular fill; and the same per-creator cap
//! applied while a candidate step searches vectors (`capped_search`).

use std::collections::{HashMap, HashSet};

use needle_core::{Entity, EntityType};
use serde::Serialize;

use super::model::ServingModel;
use super::Source;
use crate::RecsError;

/// Why an item is recommended; rendered as a sentence with names from the catalog.
#[derive(Clone, Debug, PartialEq)]
pub enum Reason {
    /// Collaborative signal, explained by the listener's closest liked item.
    BecauseYouPlay(String),
    /// Neighbour of a recent favourite.
    BecauseYouRecentlyPlayed(String),
    /// A new release by a creator the listener follows or loves.
    NewFrom(String),
    /// A new episode of a show the listener follows or plays.
    NewEpisodeOf(String),
    /// Close to the given item (radio, related artists, similar shows).
    SimilarTo(String),
    /// A work of a creator the listener plays (an artist's track, a show's episode),
    /// reached through the catalog's links: (creator, creator's type).
    FromCreatorYouPlay(String, EntityType),
    /// Shares a tag with an item the listener plays: (tag as written, that item).
    TaggedLike(String, String),
    /// A show or episode whose name, publisher or description names an artist the
    /// listener plays.
    Mentions(String),
    /// Continues the given seed.
    Continues(String),
    /// One of the listener's favourites.
    Favourite,
    /// What is popular (in the market when given).
    Popular(Option<String>),
}

impl Reason {
    fn referenced(&self) -> Option<&str> {
        match self {
            Reason::BecauseYouPlay(x)
            | Reason::BecauseYouRecentlyPlayed(x)
            | Reason::NewFrom(x)
            | Reason::NewEpisodeOf(x)
            | Reason::SimilarTo(x)
            | Reason::FromCreatorYouPlay(x, _)
            | Reason::TaggedLike(_, x)
            | Reason::Mentions(x)
            | Reason::Continues(x) => Some(x),
            Reason::Favourite | Reason::Popular(_) => None,
        }
    }

    fn render(&self, names: &HashMap<String, String>) -> String {
        let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
        match self {
            Reason::BecauseYouPlay(x) => format!("because you play {}", name(x)),
            Reason::BecauseYouRecentlyPlayed(x) => format!("because you recently played {}", name(x)),
            Reason::NewFrom(x) => format!("new from {}", name(x)),
            Reason::NewEpisodeOf(x) => format!("new episode of {}", name(x)),
            Reason::SimilarTo(x) => format!("similar to {}", name(x)),
            Reason::FromCreatorYouPlay(x, EntityType::Artist) => format!("by {}, whom you play", name(x)),
            Reason::FromCreatorYouPlay(x, _) => format!("from {}, which you play", name(x)),
            Reason::TaggedLike(tag, x) => format!("tagged {tag}, like {}", name(x)),
            Reason::Mentions(x) => format!("mentions {}, whom you play", name(x)),
            Reason::Continues(x) => format!("goes well after {}", name(x)),
            Reason::Favourite => "one of your favourites".into(),
            Reason::Popular(Some(m)) => format!("popular in {m}"),
            Reason::Popular(None) => "popular on this service".into(),
        }
    }
}

/// A ranked candidate before the rules.
#[derive(Clone, Debug)]
pub struct Scored {
    pub id: String,
    pub score: f32,
    pub reason: Reason,
    /// Daily mix number, when the surface has mixes.
    pub mix: Option<usize>,
}

/// One recommended item.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct RecItem {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EntityType,
    pub name: String,
    pub score: f32,
    pub reason: String,
    /// Artist names of a track or album, show name of an episode.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mix: Option<usize>,
}

/// The rules every surface applies.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    pub types: &'a [EntityType],
    pub market: Option<&'a str>,
    /// Explicit items allowed.
    pub explicit: bool,
    /// Never returned (played, unwanted, seeds, already served).
    pub exclude: &'a HashSet<String>,
    /// At most this many items per creator (artist, show, author).
    pub per_creator: Option<usize>,
}

impl Rules<'_> {
    /// Whether the model's metadata for item `i` passes (the fast check inside vector
    /// search; the live catalog is checked again in [`pick`]).
    pub fn admits(&self, model: &ServingModel, i: u32) -> bool {
        let Some(m) = model.meta.get(i as usize) else {
            return false;
        };
        let Some(kind) = m.kind else { return false };
        self.types.contains(&kind)
            && (self.explicit || !m.explicit)
            && m.in_market(self.market)
            && !self.exclude.contains(model.items.id(i))
    }

    fn admits_entity(&self, e: &Entity) -> bool {
        self.types.contains(&e.entity_type())
            && (self.explicit || !e.explicit.unwrap_or(false))
            && match (self.market, &e.markets) {
                (Some(m), Some(list)) => list.iter().any(|c| c.eq_ignore_ascii_case(m)),
                _ => true,
            }
            && !self.exclude.contains(&e.id)
    }
}

fn creators_of(e: &Entity) -> Vec<String> {
    match e.entity_type() {
        EntityType::Episode => e.show_id.iter().cloned().collect(),
        EntityType::Chapter => e.audiobook_id.iter().cloned().collect(),
        _ => e.artist_ids.clone(),
    }
}

/// Walk `candidates` in order, keep those the live catalog and `rules` admit, up to
/// `limit` (per mix when candidates carry a mix), then render reasons and credits.
pub fn pick(
    source: &dyn Source,
    candidates: Vec<Scored>,
    rules: &Rules<'_>,
    limit: usize,
) -> Result<Vec<RecItem>, RecsError> {
    let mut kept: Vec<(Scored, Entity)> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut per_creator: HashMap<String, usize> = HashMap::new();
    let mut per_mix: HashMap<Option<usize>, usize> = HashMap::new();
    let mut it = candidates.into_iter().peekable();
    while it.peek().is_some() {
        let chunk: Vec<Scored> = it.by_ref().take(64).collect();
        let ids: Vec<&str> = chunk.iter().map(|c| c.id.as_str()).collect();
        let entities = source.entities(&ids)?;
        for (c, e) in chunk.into_iter().zip(entities) {
            let Some(e) = e else { continue };
            if per_mix.get(&c.mix).copied().unwrap_or(0) >= limit || seen.contains(&e.id) || !rules.admits_entity(&e) {
                continue;
            }
            let creators = creators_of(&e);
            if let Some(cap) = rules.per_creator {
                if creators.iter().any(|a| per_creator.get(a).copied().unwrap_or(0) >= cap) {
                    continue;
                }
                for a in &creators {
                    *per_creator.entry(a.clone()).or_default() += 1;
                }
            }
            seen.insert(e.id.clone());
            *per_mix.entry(c.mix).or_default() += 1;
            kept.push((c, e));
        }
        if per_mix.values().sum::<usize>() >= limit && kept.iter().all(|(c, _)| c.mix.is_none()) {
            break;
        }
    }
    // Names: reasons' items and credits, in one read.
    let mut wanted: Vec<String> = Vec::new();
    for (c, e) in &kept {
        wanted.extend(c.reason.referenced().map(str::to_string));
        wanted.extend(creators_of(e));
    }
    wanted.sort();
    wanted.dedup();
    let refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let names: HashMap<String, String> = source
        .entities(&refs)?
        .into_iter()
        .flatten()
        .map(|e| (e.id, e.name))
        .collect();
    Ok(kept
        .into_iter()
        .map(|(c, e)| {
            let by = creators_of(&e)
                .iter()
                .filter(|a| **a != e.id)
                .filter_map(|a| names.get(a).cloned())
                .collect();
            RecItem {
                kind: e.entity_type(),
                name: e.name,
                score: (c.score * 1e4).round() / 1e4,
                reason: c.reason.render(&names),
                by,
                release_date: e.release_date,
                mix: c.mix,
                id: e.id,
            }
        })
        .collect())
}

/// Top `items` up to `limit` from `fallback` (what is popular) under the same `rules`,
/// never repeating an item already in `items` nor one in `also_exclude`.
pub fn fill(
    source: &dyn Source,
    items: &mut Vec<RecItem>,
    fallback: Vec<Scored>,
    rules: &Rules<'_>,
    also_exclude: &HashSet<String>,
    limit: usize,
) -> Result<(), RecsError> {
    if items.len() >= limit {
        return Ok(());
    }
    let mut taken = rules.exclude.clone();
    taken.extend(also_exclude.iter().cloned());
    taken.extend(items.iter().map(|i| i.id.clone()));
    let rules = Rules {
        exclude: &taken,
        ..*rules
    };
    let more = pick(source, fallback, &rules, limit - items.len())?;
    items.extend(more);
    Ok(())
}

/// Most vector hits [`capped_search`] asks for.
const MAX_CAPPED_K: usize = 4_096;

/// The best `want` items for `query` with at most `cap` per creator (as the rules count
/// them: any creator at its cap keeps an item out). Works of one creator share its vector,
/// so the nearest items are often one artist's tracks: the search asks for four times as
/// many until `want` remain after the cap, the index runs out, or [`MAX_CAPPED_K`].
pub(crate) fn capped_search(
    model: &ServingModel,
    query: &[f32],
    types: &[EntityType],
    admit: &(dyn Fn(u32) -> bool + Sync),
    cap: Option<usize>,
    want: usize,
) -> Vec<crate::index::Hit> {
    let Some(cap) = cap else {
        return model.search(query, want, types, admit);
    };
    let mut k = want * 2;
    loop {
        let hits = model.search(query, k, types, admit);
        let exhausted = hits.len() < k || k >= MAX_CAPPED_K;
        let kept = cap_per_creator(model, hits, Some(cap), want);
        if kept.len() == want || exhausted {
            return kept;
        }
        k = (k * 4).min(MAX_CAPPED_K);
    }
}

/// The first `want` of `hits` (best first) keeping at most `cap` per creator (`None`: no
/// cap): an item is skipped when any of its creators already has `cap`.
pub(crate) fn cap_per_creator(
    model: &ServingModel,
    hits: impl IntoIterator<Item = crate::index::Hit>,
    cap: Option<usize>,
    want: usize,
) -> Vec<crate::index::Hit> {
    let mut per: HashMap<u32, usize> = HashMap::new();
    let mut kept = Vec::with_capacity(want);
    for h in hits {
        if kept.len() == want {
            break;
        }
        if let Some(cap) = cap {
            let creators = model
                .meta
                .get(h.id as usize)
                .map(|m| m.creators.as_slice())
                .unwrap_or(&[]);
            if creators.iter().any(|c| per.get(c).copied().unwrap_or(0) >= cap) {
                continue;
            }
            for &c in creators {
                *per.entry(c).or_default() += 1;
            }
        }
        kept.push(h);
    }
    kept
}
