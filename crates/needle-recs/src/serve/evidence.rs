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
struct TagEvidence {
    tags: HashMap<String, (f32, String, String)>,
}

impl TagEvidence {
    /// Read the tags of the listener's heaviest liked items (one catalog read).
    fn of(source: &dyn Source, model: &ServingModel, l: &Listener) -> Result<TagEvidence, RecsError> {
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

    /// Tag-only candidates with their strongest shared tag as reason; those sharing none
    /// are dropped.
    fn explain_tag_only(&self, source: &dyn Source, tag_only: Vec<Scored>) -> Result<Vec<Scored>, RecsError> {
        if self.tags.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = tag_only.iter().map(|s| s.id.as_str()).collect();
        let entities = source.entities(&ids)?;
        let top = self.tags.values().map(|t| t.0).fold(0.0f32, f32::max).max(1e-6);
        let mut out = Vec::with_capacity(tag_only.len());
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
        Ok(out)
    }
}

/// Give every candidate a true reason (see the module doc): collaborative ones through
/// [`collaborative_reason`], tag-only ones through their strongest tag shared with the
/// listener's favourites (ties broken by popularity), dropping those with none. The
/// favourites' tags are read only when a tag-only candidate exists. Order: by score, best
/// first.
pub(crate) fn explain(
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
    if !tag_only.is_empty() {
        let evidence = TagEvidence::of(source, model, l)?;
        out.extend(evidence.explain_tag_only(source, tag_only)?);
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use needle_core::profile::{Profile, ProfileConfig};
    use needle_core::{Entity, Event, EventType};

    use super::*;
    use crate::serve::mem::MemorySource;
    use crate::serve::ServeConfig;

    /// A source counting its catalog reads.
    struct Counting {
        inner: MemorySource,
        reads: AtomicUsize,
    }

    impl Source for Counting {
        fn for_each_listener(&self, f: &mut dyn FnMut(&str, &Profile)) {
            self.inner.for_each_listener(f)
        }
        fn for_each_entity(&self, f: &mut dyn FnMut(&Entity)) -> Result<(), RecsError> {
            self.inner.for_each_entity(f)
        }
        fn profile(&self, user: &str) -> Option<Profile> {
            self.inner.profile(user)
        }
        fn entities(&self, ids: &[&str]) -> Result<Vec<Option<Entity>>, RecsError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.entities(ids)
        }
        fn referrers(&self, id: &str) -> Result<Vec<String>, RecsError> {
            self.inner.referrers(id)
        }
        fn profile_config(&self) -> ProfileConfig {
            self.inner.profile_config()
        }
    }

    fn entity(id: &str, kind: EntityType, tag: &str) -> Entity {
        Entity {
            id: id.into(),
            kind: Some(kind),
            name: id.to_uppercase(),
            tags: vec![tag.into()],
            ..Default::default()
        }
    }

    #[test]
    fn favourites_tags_are_read_only_for_a_tag_only_candidate() {
        let mut inner = MemorySource::default();
        for a in 0..6 {
            inner.add(entity(&format!("a{a}"), EntityType::Artist, "synth"));
        }
        inner.add(entity("show", EntityType::Show, "Synth"));
        for u in 0..12 {
            for k in 0..3 {
                inner.apply(&Event {
                    event_id: None,
                    user_id: format!("u{u}"),
                    kind: EventType::Play,
                    item_id: format!("a{}", (u + k) % 6),
                    ts: 1_700_000_000_000,
                    ms_played: None,
                    count: 2,
                    context: None,
                });
            }
        }
        let mut config = ServeConfig::default();
        config.als.factors = 4;
        let model = ServingModel::train(&inner, &config, 1, &mut |_| {}).unwrap();
        let l = Listener::of(&model, inner.profiles["u0"].clone());
        let src = Counting {
            inner,
            reads: AtomicUsize::new(0),
        };
        let scored = |id: &str| Scored {
            id: id.into(),
            score: 1.0,
            reason: Reason::Popular(None),
            mix: None,
        };
        let show = model.items.get("show").unwrap();
        assert!(!model.collaborative(show), "a vector from tags alone");
        let out = explain(&src, &model, &l, vec![scored("a3")]).unwrap();
        assert_eq!(src.reads.load(Ordering::SeqCst), 0, "no tag-only candidate, no read");
        assert!(matches!(
            out[0].reason,
            Reason::FromCreatorYouPlay(..) | Reason::BecauseYouPlay(_)
        ));
        let out = explain(&src, &model, &l, vec![scored("a3"), scored("show")]).unwrap();
        assert_eq!(
            src.reads.load(Ordering::SeqCst),
            2,
            "the favourites, then the candidate"
        );
        let show = out.iter().find(|s| s.id == "show").unwrap();
        assert!(
            matches!(&show.reason, Reason::TaggedLike(tag, _) if tag == "synth"),
            "{:?}",
            show.reason
        );
    }
}
