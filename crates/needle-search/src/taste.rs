//! Taste: a listener's profile projected onto the catalog (artists, shows, audiobooks,
//! tags), and the personalization boost it gives a search hit.
//!
//! The model (documented in `docs/personalization.md`):
//! `affinity(hit) = max(item, 0.8·creator, 0.4·tag, 1 if saved, 0.9 if followed)` over
//! affinities in [-1, 1] per kind, or the most negative item or creator affinity when nothing
//! is positive (skipped items and artists sink; tags only ever lift);
//! `boost = PERSONAL_WEIGHT · affinity`. An affinity blends the short-term and long-term
//! weights, each normalised per kind: `(1 − λ)·short/max|short| + λ·long/max|long|`.

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
    /// Raw decayed weight, short term.
    pub weight: f64,
    /// Raw decayed weight, long term.
    pub long_weight: f64,
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
    /// The contributing entity with the largest weight (tags: the artist or show that
    /// makes the listener like the tag), for reasons.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub via: String,
    #[serde(skip)]
    via_weight: f64,
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

/// One item's contribution to an affinity.
struct Contribution<'a> {
    /// Short-term and long-term decayed weights.
    w: (f64, f64),
    plays: u64,
    skips: u64,
    /// The name of the entity the contribution comes through.
    via: &'a str,
}

fn add(map: &mut HashMap<String, Affinity>, id: &str, name: &str, c: &Contribution) {
    let a = map.entry(id.to_string()).or_insert_with(|| Affinity {
        id: id.to_string(),
        name: name.to_string(),
        ..Default::default()
    });
    a.weight += c.w.0;
    a.long_weight += c.w.1;
    a.plays += c.plays;
    a.skips += c.skips;
    a.items += 1;
    if a.name.is_empty() {
        a.name = name.to_string();
    }
    let strength = c.w.0.max(c.w.1);
    if !c.via.is_empty() && (a.via.is_empty() || strength > a.via_weight) {
        a.via = c.via.to_string();
        a.via_weight = strength;
    }
}

fn normalise(map: &mut HashMap<String, Affinity>, long_term_weight: f64) {
    let lambda = long_term_weight.clamp(0.0, 1.0);
    let max = map.values().map(|a| a.weight.abs()).fold(0.0f64, f64::max);
    let max_long = map.values().map(|a| a.long_weight.abs()).fold(0.0f64, f64::max);
    let part = |w: f64, max: f64| if max > 0.0 { w / max } else { 0.0 };
    // A listener whose short-term weights are all gone (no recent activity) is their
    // long-term taste in full, and the other way round.
    let lambda = match (max > 0.0, max_long > 0.0) {
        (true, true) => lambda,
        (false, true) => 1.0,
        _ => 0.0,
    };
    for a in map.values_mut() {
        a.score = ((1.0 - lambda) * part(a.weight, max) + lambda * part(a.long_weight, max_long)) as f32;
    }
}

/// Project a profile onto the catalog as of `now` (epoch ms).
pub fn derive(p: &Profile, cfg: &ProfileConfig, snap: &CatalogSnapshot, now: i64) -> needle_store::Result<Taste> {
    let mut t = Taste::default();
    for (id, st) in &p.items {
        let w = (cfg.value_at(st.stored, now), cfg.long_value_at(st.stored_long, now));
        if st.saved {
            t.saved.insert(id.clone());
        }
        if st.followed {
            t.followed.insert(id.clone());
        }
        let e: Option<Entity> = snap.get_display(id)?;
        let name = e.as_ref().map(|e| e.name.clone()).unwrap_or_default();
        let item = Contribution {
            w,
            plays: st.plays,
            skips: st.skips,
            via: &name,
        };
        add(&mut t.items, id, &name, &item);
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
            add(&mut t.creators, &c, &cname, &Contribution { via: &cname, ..item });
            t.creator_kind.insert(c.clone(), kind);
            if st.followed && c == e.id {
                if let Some(a) = t.creators.get_mut(&c) {
                    a.followed = true;
                }
            }
        }
        // A tag is liked through the entity's creator when it has one ("synthpop, like
        // Depeche Mode"), else through the entity itself.
        let via = match e.entity_type() {
            EntityType::Artist | EntityType::Show | EntityType::Audiobook => e.name.clone(),
            _ => e
                .artist_ids
                .iter()
                .chain(e.show_id.iter())
                .chain(e.audiobook_id.iter())
                .find_map(|c| t.creators.get(c).map(|a| a.name.clone()))
                .unwrap_or_else(|| e.name.clone()),
        };
        for tag in &e.tags {
            let key = words(tag).join(" ");
            add(&mut t.tags, &key, tag, &Contribution { via: &via, ..item });
        }
    }
    normalise(&mut t.items, cfg.long_term_weight);
    normalise(&mut t.creators, cfg.long_term_weight);
    normalise(&mut t.tags, cfg.long_term_weight);
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

/// The reason an item or creator affinity gives, naming the evidence.
fn affinity_reason(a: &Affinity, name: &str, is_item: bool) -> String {
    if a.score < 0.0 {
        return if is_item {
            "you skipped this".to_string()
        } else {
            format!("you skip {name}")
        };
    }
    if a.plays > 0 {
        format!("you play {name}")
    } else if is_item {
        "you opened this from search".to_string()
    } else {
        format!("you saved music by {name}")
    }
}

/// The boost a listener's taste gives an entity, or `None` when it does not touch it.
///
/// Every reason names evidence from the listener's own events: an item or creator they
/// play, save, follow or skip, or a tag they play through a named artist or show. Tags only
/// ever lift: sharing a genre with something skipped is too weak to sink a hit.
pub fn boost(t: &Taste, e: &Entity) -> Option<Personalization> {
    let mut cands: Vec<(f32, String)> = Vec::new();
    if let Some(a) = t.items.get(&e.id) {
        if a.score > 0.0 && (a.plays > 0 || !(a.saved || a.followed)) || a.score < 0.0 && a.skips > 0 {
            cands.push((a.score, affinity_reason(a, &e.name, true)));
        }
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
            if a.score > 0.0 || a.skips > 0 {
                cands.push((0.8 * a.score, affinity_reason(a, &a.name, false)));
            }
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
            if a.score > 0.0 {
                let why = if a.via.is_empty() || a.via == e.name {
                    format!("tagged {}, which you play", a.name)
                } else {
                    format!("tagged {}, like {}", a.name, a.via)
                };
                cands.push((0.4 * a.score, why));
            }
        }
    }
    if cands.is_empty() {
        return None;
    }
    cands.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = cands[0].0;
    let (aff, reasons) = if best > 0.0 {
        let mut reasons: Vec<String> = Vec::new();
        for c in cands.iter().filter(|c| c.0 > 0.0) {
            if !reasons.contains(&c.1) {
                reasons.push(c.1.clone());
            }
            if reasons.len() == 3 {
                break;
            }
        }
        (best, reasons)
    } else {
        let worst = cands.iter().min_by(|a, b| a.0.total_cmp(&b.0))?;
        (worst.0, vec![worst.1.clone()])
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
                plays: 12,
                ..Default::default()
            },
        );
        t.items.insert(
            "x".into(),
            Affinity {
                id: "x".into(),
                score: -0.5,
                skips: 2,
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
        let sunk = boost(&t, &skipped).unwrap();
        assert!(sunk.boost < 0.0);
        assert_eq!(sunk.reasons, vec!["you skipped this"]);
        assert!(boost(
            &t,
            &Entity {
                id: "other".into(),
                ..Default::default()
            }
        )
        .is_none());
    }

    fn tagged(id: &str, name: &str, tags: &[&str]) -> Entity {
        Entity {
            id: id.into(),
            name: name.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn tags_lift_with_a_named_reason_and_never_sink() {
        let mut t = Taste::default();
        let mut liked = Affinity {
            id: "synthpop".into(),
            name: "synthpop".into(),
            score: 0.5,
            plays: 40,
            ..Default::default()
        };
        liked.via = "Depeche Mode".into();
        t.tags.insert("synthpop".into(), liked);
        t.tags.insert(
            "pop".into(),
            Affinity {
                id: "pop".into(),
                name: "pop".into(),
                score: -1.0,
                skips: 2,
                ..Default::default()
            },
        );
        // Sharing a skipped genre alone does not sink a hit, nor call it skipped.
        assert!(boost(&t, &tagged("b", "Beyoncé", &["pop"])).is_none());
        let b = boost(&t, &tagged("a", "a-ha", &["synthpop", "pop"])).unwrap();
        assert!(b.boost > 0.0);
        assert_eq!(b.reasons, vec!["tagged synthpop, like Depeche Mode"]);
    }

    #[test]
    fn old_history_survives_a_new_session() {
        // Affinities as `derive` builds them: 2,000 plays of an old favourite long ago
        // (nothing left short term), three plays of something new today.
        let mut m = HashMap::new();
        let c = |w| Contribution {
            w,
            plays: 1,
            skips: 0,
            via: "",
        };
        add(&mut m, "old", "Duran Duran", &c((0.0, 39.0)));
        add(&mut m, "new", "New", &c((3.0, 3.0)));
        normalise(&mut m, 0.5);
        let (old, new) = (m["old"].score, m["new"].score);
        assert!(old >= 0.5 && new > 0.5 && new < 0.6, "old {old}, new {new}");
        // Short term only (the behaviour before long-term taste): history is erased.
        normalise(&mut m, 0.0);
        assert_eq!(m["old"].score, 0.0);
        // A listener with no recent activity is their long-term taste in full.
        let mut dormant = HashMap::new();
        add(&mut dormant, "old", "Duran Duran", &c((0.0, 39.0)));
        normalise(&mut dormant, 0.5);
        assert_eq!(dormant["old"].score, 1.0);
    }
}
