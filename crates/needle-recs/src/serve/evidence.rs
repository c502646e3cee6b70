//! True reasons. A candidate from the vector search is explained by what the listener did:
//! a creator of it they play ("by Depeche Mode, whom you play"), the liked item closest to
//! it when its vector carries listening evidence ("because you play a-ha"), or a tag it
//! shares with what they play ("tagged new wave, like Duran Duran"). A candidate whose
//! vector comes from tags alone and shares no tag with the listener's favourites has no
//! true reason, so it is dropped: the popular fill that may replace it says that it is
//! popular.

use std::collections::HashMap;

use needle_core::EntityType;

use super::listener::Listener;
use super::model::ServingModel;
use super::pick::{Reason, Scored};
use super::Source;
use crate::RecsError;

/// Liked items whose tags are read for evidence.
const TAGGED_FAVOURITES: usize = 50;

/// The reason of a candidate whose vector carries listening evidence (see
/// [`ServingModel::collaborative`]): a creator of it the listener likes, else the liked
/// item closest to it.
pub(crate) fn collaborative_reason(model: &ServingModel, l: &Listener, i: u32) -> Reason {
    if let Some(m) = model.meta.get(i as usize) {
        let own = model.items.id(i);
        for &c in &m.creators {
            let id = model.creators.id(c);
            if id == own {
                continue;
            }
            let Some(row) = model.items.get(id) else { continue };
            if l.items.binary_search(&row).is_ok() {
                let kind = model.meta[row as usize].kind.unwrap_or(EntityType::Artist);
                return Reason::FromCreatorYouPlay(id.to_string(), kind);
            }
        }
    }
    match l.explain(model, i) {
        Some(x) => Reason::BecauseYouPlay(model.items.id(x).to_string()),
        None => Reason::Popular(None),
    }
}

/// The tags of a listener's favourites: folded tag → (summed weight, tag as written, the
/// heaviest favourite carrying it).
pub(crate) struct TagEvidence {
    tags: HashMap<String, (f32, String, String)>,
}

impl TagEvidence {
    /// Read the tags of the listener's heaviest liked items.
    pub fn of(source: &dyn Source, model: &ServingModel, l: &Listener) -> Result<TagEvidence, RecsError> {
        let top = l.top_items(TAGGED_FAVOURITES);
        let ids: Vec<&str> = top.iter().map(|(i, _)| model.items.id(*i)).collect();
        let mut tags: HashMap<String, (f32, String, String)> = HashMap::new();
        for ((_, w), e) in top.iter().zip(source.entities(&ids)?) {
            let Some(e) = e else { continue };
            for t in &e.tags {
                let key = t.trim().to_lowercase();
                if key.is_empty() {
                    continue;
                }
                // `top` is heaviest first: the first favourite seen keeps the tag's name.
                let entry = tags
                    .entry(key)
                    .or_insert_with(|| (0.0, t.trim().to_string(), e.id.clone()));
                entry.0 += w;
            }
        }
        Ok(TagEvidence { tags })
    }

    /// Give every candidate a true reason (see the module doc): collaborative ones through
    /// [`collaborative_reason`], tag-only ones through their strongest shared tag (ties
    /// broken by popularity), dropping those with none. Order: by score, best first.
    pub fn explain(
        &self,
        source: &dyn Source,
        model: &ServingModel,
        l: &Listener,
        list: Vec<Scored>,
    ) -> Result<Vec<Scored>, RecsError> {
        let mut out = Vec::with_capacity(list.len());
        let mut tag_only = Vec::new();
        for mut s in list {
            match model.items.get(&s.id) {
                Some(i) if model.collaborative(i) => {
                    s.reason = collaborative_reason(model, l, i);
                    out.push(s);
                }
                Some(_) => tag_only.push(s),
                None => {}
            }
        }
        if !tag_only.is_empty() && !self.tags.is_empty() {
            let ids: Vec<&str> = tag_only.iter().map(|s| s.id.as_str()).collect();
            let entities = source.entities(&ids)?;
            let top = self.tags.values().map(|t| t.0).fold(0.0f32, f32::max).max(1e-6);
            for (mut s, e) in tag_only.into_iter().zip(entities) {
                let Some(e) = e else { continue };
                let best = e
                    .tags
                    .iter()
                    .filter_map(|t| self.tags.get(&t.trim().to_lowercase()))
                    .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(&a.1)));
                let Some((w, tag, item)) = best else { continue };
                // Shows built from tags alone often share one vector: break the tie by how
                // much the listener plays the shared tag, then by popularity.
                let pop = e.popularity.unwrap_or(0.0).max(0.0).ln_1p() as f32;
                s.score += 1e-3 * w / top + 1e-5 * pop;
                s.reason = Reason::TaggedLike(tag.clone(), item.clone());
                out.push(s);
            }
        }
        out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        Ok(out)
    }
}
