//! Taste: a listener's profile projected onto the catalog (artists, shows, audiobooks,
//! tags), and the personalization boost it gives a search hit.
//!
//! The model (documented in `docs/personalization.md`):
//! `affinity(hit) = max(item, 0.8·creator, 0.4·tag, 1 if saved, 0.9 if followed)` over
//! affinities normalised to [-1, 1] per kind, or the most negative one when nothing is
//! positive (skipped items sink); `boost = PERSONAL_WEIGHT · affinity`.

use needle_core::profile::{Profile, ProfileConfig};
use needle_core::text::words;
use needle_core::{Entity, EntityType};
use needle_store::CatalogSnapshot;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// Largest personalization boost. Below the exact-name bonus (1.5) minus the largest
/// popularity prior (0.5), with a margin: a personalized non-exact match never overtakes
/// an exact one, while among equal matches a listener's favourite beats a more popular
/// item (the prior spans at most 0.5).
pub const PERSONAL_WEIGHT: f32 = 0.8;

/// A listener's affinity to one catalog entity, with what made it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Affinity {
    /// Entity (or tag) id.
    pub id: String,
    /// Display name (tags: the tag).
    pub name: String,
    /// Score in [-1, 1] (1 = the listener's favourite of this kind).
    pub score: f32,
    /// Raw decayed weight.
    pub weight: f64,
    /// Plays that contributed.
    pub plays: u64,
    /// Skips that contributed.
    pub skips: u64,
    /// Distinct items that contributed.
    pub items: u64,
    /// Followed by the listener.
    pub followed: bool,
    /// Saved by the listener.
    pub saved: bool,
}

impl Affinity {
    /// A short human explanation.
    pub fn why(&self) -> String {
        let mut parts = Vec::new();
        if self.plays > 0 {
            let items = self.items.max(1);
            parts.push(format!(
                "{} play{} across {} item{}",
                self.plays,
                if self.plays == 1 { "" } else { "s" },
                items,
                if items == 1 { "" } else { "s" }
            ));
        }
        if self.skips > 0 {
            parts.push(format!("{} skips", self.skips));
        }
        if self.followed {
            parts.push("followed".into());
        }
        if self.saved {
            parts.push("saved".into());
        }
        if parts.is_empty() {
            parts.push("saves, follows or clicks".into());
        }
        parts.join(", ")
    }
}

/// The derived taste of one listener at one moment.
#[derive(Debug, Clone, Default)]
pub struct Taste {
    /// Per item id.
    pub items: HashMap<String, Affinity>,
    /// Per artist, show or audiobook id.
    pub creators: HashMap<String, Affinity>,
    /// Creator type, for grouping in profiles.
    pub creator_kind: HashMap<String, EntityType>,
    /// Per folded tag.
    pub tags: HashMap<String, Affinity>,
    /// Saved item ids.
    pub saved: HashSet<String>,
    /// Followed ids.
    pub followed: HashSet<String>,
}

fn add(map: &mut HashMap<String, Affinity>, id: &str, name: &str, w: f64, plays: u64, skips: u64) {
    let a = map.entry(id.to_string()).or_insert_with(|| Affinity {
        id: id.to_string(),
        name: name.to_string(),
        ..Default::default()
    });
    a.weight += w;
    a.plays += plays;
    a.skips += skips;
    a.items += 1;
    if a.name.is_empty() {
        a.name = name.to_string();
    }
}

fn normalise(map: &mut HashMap<String, Affinity>) {
    let max = map.values().map(|a| a.weight.abs()).fold(0.0f64, f64::max);
    if max > 0.0 {
        for a in map.values_mut() {
            a.score = (a.weight / max) as f32;
        }
    }
}

/// Project a profile onto the catalog as of `now` (epoch ms).
pub fn derive(p: &Profile, cfg: &ProfileConfig, snap: &CatalogSnapshot, now: i64) -> needle_store::Result<Taste> {
    let mut t = Taste::default();
    for (id, st) in &p.items {
        let w = cfg.value_at(st.stored, now);
        if st.saved {
            t.saved.insert(id.clone());
        }
        if st.followed {
            t.followed.insert(id.clone());
        }
        let e: Option<Entity> = snap.get_display(id)?;
        let name = e.as_ref().map(|e| e.name.clone()).unwrap_or_default();
        add(&mut t.items, id, &name, w, st.plays, st.skips);
        if let Some(a) = t.items.get_mut(id) {
            a.saved = st.saved;
            a.followed = st.followed;
        }
        let Some(e) = e else { continue };
        let mut creators: Vec<(String, EntityType)> = match e.entity_type() {
            EntityType::Artist | EntityType::Show | EntityType::Audiobook => vec![(e.id.clone(), e.entity_type())],
            _ => e.artist_ids.iter().map(|a| (a.clone(), EntityType::Artist)).collect(),
        };
        creators.extend(e.show_id.iter().map(|s| (s.clone(), EntityType::Show)));
        creators.extend(e.audiobook_id.iter().map(|s| (s.clone(), EntityType::Audiobook)));
        for (c, kind) in creators {
            let cname = if c == e.id {
                e.name.clone()
            } else {
                snap.name_of(&c)?.unwrap_or_default()
            };
            add(&mut t.creators, &c, &cname, w, st.plays, st.skips);
            t.creator_kind.insert(c.clone(), kind);
            if st.followed && c == e.id {
                if let Some(a) = t.creators.get_mut(&c) {
                    a.followed = true;
                }
            }
        }
        for tag in &e.tags {
            let key = words(tag).join(" ");
            add(&mut t.tags, &key, tag, w, st.plays, st.skips);
        }
    }
    normalise(&mut t.items);
    normalise(&mut t.creators);
    normalise(&mut t.tags);
    Ok(t)
}

/// A personalization lift of one hit, with its reasons.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Personalization {
    /// Score added (negative for things the listener skips).
    pub boost: f32,
    /// Why, in words ("you play Adele").
    pub reasons: Vec<String>,
}

/// The boost a listener's taste gives an entity, or `None` when it does not touch it.
pub fn boost(t: &Taste, e: &Entity) -> Option<Personalization> {
    let mut cands: Vec<(f32, String)> = Vec::new();
    if let Some(a) = t.items.get(&e.id) {
        cands.push((a.score, format!("you play {}", e.name)));
    }
    if t.saved.contains(&e.id) {
        cands.push((1.0, "you saved this".into()));
    }
    if t.followed.contains(&e.id) {
        cands.push((0.9, "you follow this".into()));
    }
    let mut creators: Vec<&str> = e.artist_ids.iter().map(String::as_str).collect();
    creators.extend(e.show_id.as_deref());
    creators.extend(e.audiobook_id.as_deref());
    for c in creators {
        if let Some(a) = t.creators.get(c) {
            cands.push((0.8 * a.score, format!("you play {}", a.name)));
        }
        if t.followed.contains(c) {
            let name = t
                .creators
                .get(c)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| c.to_string());
            cands.push((0.9, format!("you follow {name}")));
        }
    }
    for tag in &e.tags {
        if let Some(a) = t.tags.get(&words(tag).join(" ")) {
            cands.push((0.4 * a.score, format!("you like {}", a.name)));
        }
    }
    if cands.is_empty() {
        return None;
    }
    cands.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = cands[0].0;
    let (aff, reasons) = if best > 0.0 {
        (
            best,
            cands
                .iter()
                .filter(|c| c.0 > 0.0)
                .take(3)
                .map(|c| c.1.clone())
                .collect(),
        )
    } else {
        let worst = cands.iter().map(|c| c.0).fold(0.0f32, f32::min);
        (worst, vec!["you skip this".to_string()])
    };
    if aff.abs() < 1e-6 {
        return None;
    }
    Some(Personalization {
        boost: (PERSONAL_WEIGHT * aff.clamp(-1.0, 1.0) * 1e4).round() / 1e4,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::{COVER, EXACT, PRIOR};

    #[test]
    fn a_boost_can_never_carry_a_non_exact_match_past_an_exact_one() {
        // The worst case: the exact match has no prior and no boost, the other has both.
        const { assert!(PERSONAL_WEIGHT + PRIOR + COVER < EXACT) };
        // Among equal text matches, a favourite beats any popularity difference.
        const { assert!(PERSONAL_WEIGHT > PRIOR) };
    }

    #[test]
    fn boost_prefers_positive_reasons_and_sinks_skips() {
        let mut t = Taste::default();
        t.creators.insert(
            "a".into(),
            Affinity {
                id: "a".into(),
                name: "Adele".into(),
                score: 1.0,
                ..Default::default()
            },
        );
        t.items.insert(
            "x".into(),
            Affinity {
                id: "x".into(),
                score: -0.5,
                ..Default::default()
            },
        );
        let e = Entity {
            id: "t".into(),
            name: "Hello".into(),
            artist_ids: vec!["a".into()],
            ..Default::default()
        };
        let b = boost(&t, &e).unwrap();
        assert!((b.boost - 0.8 * PERSONAL_WEIGHT).abs() < 1e-4);
        assert_eq!(b.reasons, vec!["you play Adele"]);
        let skipped = Entity {
            id: "x".into(),
            name: "X".into(),
            ..Default::default()
        };
        assert!(boost(&t, &skipped).unwrap().boost < 0.0);
        assert!(boost(
            &t,
            &Entity {
                id: "other".into(),
                ..Default::default()
            }
        )
        .is_none());
    }
}
