//! Cross-source entity resolution of artists: the Billboard artist "Beyonce"
//! (`bb:artist:beyonce`), the Last.fm artist "Beyoncé" (`lfm:artist:295`) and the credited
//! form "Beyonce Knowles" become one entity.
//!
//! The rules, in order (`docs/entity-resolution.md` has the measured error rates):
//!
//! 1. **Keys.** A name's key is its folded words ([`needle_core::text::words`]: case,
//!    diacritics and Unicode width folded, `&` and `+` read as "and", apostrophes dropped,
//!    other punctuation a word break, "feat" dropped) run together, so "Jay Z", "JAY-Z"
//!    and "Jay-Z" share one, as do "Ke$ha" and "Kesha". The *strict* key keeps a leading
//!    "The"; the *loose* key drops it. Names without a key ("!!!") never merge.
//! 2. **Exact names across sources.** Entities of different sources with the same strict
//!    key are one entity; then, among those still apart, the same with the loose key.
//! 3. **A name two artists of one source share needs evidence.** When one source has
//!    several entities with the key, the most popular stands for the key only if its
//!    popularity is at least [`DOMINANCE`] times that of each other one (Last.fm lists
//!    misspelt duplicates of popular artists, "Rihannà" with a few plays beside
//!    "Rihanna"), or if each other one shares a tag with it (one artist listed twice:
//!    "Yael Naïm" and "Yael Naim", both "female vocalists", "folk"); the others stay
//!    apart. Otherwise nothing with that key is merged: two real artists may share the
//!    name ("Traff!c", alternative rock, and "Traffic", 60s psychedelic), and nothing
//!    says which one the other source means.
//! 4. **Known alias forms** ([`ALIAS_FORMS`], a short hand-checked list: "Beyonce
//!    Knowles" is "Beyonce") join the entity that holds the name they stand for, when
//!    exactly one does.
//! 5. **One Last.fm id per entity.** An entity never absorbs a second Last.fm artist:
//!    listening events reference Last.fm ids, and each keeps its own entity.
//!
//! The surviving id is the Last.fm one when there is one (events keep working), else the
//! most popular member's. The survivor keeps its own fields; the others' names go to
//! `aliases`, their ids to `alias_ids`, their tags after its own, their `extra` keys
//! where it has none. Every reference to an absorbed id (track `artist_ids`) is rewritten
//! to the survivor.

use super::sink::Entity;
use needle_core::text::words;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Id prefixes of the sources that produce artists, the preferred survivor first.
const SOURCES: &[&str] = &["lfm:", "bb:"];

/// How many times more popular than every same-key entity of its source an entity must
/// be to stand for the key (rule 3).
pub(crate) const DOMINANCE: f64 = 10.0;

/// Known alias forms: a name as credited, and the name of the artist it is.
pub(crate) const ALIAS_FORMS: &[(&str, &str)] = &[
    ("Beyonce Knowles", "Beyonce"),
    ("Puff Daddy", "Diddy"),
    ("P. Diddy", "Diddy"),
    ("Snoop Doggy Dogg", "Snoop Dogg"),
];

/// Which rule made a merge or met a collision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Rule {
    /// Rule 2, strict key.
    Exact,
    /// Rule 2, loose key (a leading "The" ignored).
    WithoutThe,
    /// Rule 4.
    AliasForm,
}

/// One entity as the resolution saw it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub id: String,
    pub name: String,
    pub popularity: f64,
    /// The rule that put it in its merge (for the first members, the one that made it).
    pub rule: Rule,
}

/// Entities resolved to one; `members[0]` is the survivor.
#[derive(Debug, Clone)]
pub(crate) struct Merge {
    pub key: String,
    pub members: Vec<Member>,
}

impl Merge {
    /// The rule that joined the last member to come: [`Rule::AliasForm`] when any did.
    pub(crate) fn rule(&self) -> Rule {
        self.members.iter().map(|m| m.rule).max().unwrap_or(Rule::Exact)
    }
}

/// A key that several sources have but one of them has more than once, without a
/// dominant entity (rule 3): nothing merged. Members carry the rule (key) that met it.
#[derive(Debug, Clone)]
pub(crate) struct Collision {
    pub key: String,
    pub members: Vec<Member>,
}

/// What [`resolve_artists`] did.
#[derive(Debug, Default)]
pub(crate) struct Resolution {
    pub merges: Vec<Merge>,
    pub collisions: Vec<Collision>,
    /// Artist entities before and after.
    pub artists_before: usize,
    pub artists_after: usize,
}

/// The strict key of a name (rule 1).
pub(crate) fn strict_key(name: &str) -> String {
    words(name).concat()
}

/// The loose key of a name: the strict key without a leading "the".
pub(crate) fn loose_key(name: &str) -> String {
    let w = words(name);
    match w.split_first() {
        Some((first, rest)) if first == "the" && !rest.is_empty() => rest.concat(),
        _ => w.concat(),
    }
}

/// The source index of an id (its place in [`SOURCES`]).
fn source_of(id: &str) -> Option<usize> {
    SOURCES.iter().position(|p| id.starts_with(p))
}

struct Node {
    at: usize,
    id: String,
    name: String,
    source: usize,
    popularity: f64,
    strict: String,
    loose: String,
    /// Tags, lower-cased (Last.fm's; Billboard has none).
    tags: HashSet<String>,
}

/// Resolve the artists among `entities` (the held output of the artist-producing
/// converters) and rewrite references; returns the entities to write, artists first,
/// each group in the order they came.
pub(crate) fn resolve_artists(entities: Vec<Entity>) -> (Vec<Entity>, Resolution) {
    let nodes: Vec<Node> = entities
        .iter()
        .enumerate()
        .filter(|(_, e)| e.kind == "artist")
        .filter_map(|(at, e)| {
            Some(Node {
                at,
                id: e.id.clone(),
                name: e.name.clone(),
                source: source_of(&e.id)?,
                popularity: e.popularity.unwrap_or(0.0),
                strict: strict_key(&e.name),
                loose: loose_key(&e.name),
                tags: e.tags.iter().map(|t| t.to_lowercase()).collect(),
            })
        })
        .collect();
    let member = |(i, rule): (usize, Rule)| Member {
        id: nodes[i].id.clone(),
        name: nodes[i].name.clone(),
        popularity: nodes[i].popularity,
        rule,
    };
    let mut res = Resolution {
        artists_before: entities.iter().filter(|e| e.kind == "artist").count(),
        ..Resolution::default()
    };
    // group[node] = index into `groups`.
    let mut group: Vec<Option<usize>> = vec![None; nodes.len()];
    let mut groups: Vec<(String, Vec<(usize, Rule)>)> = Vec::new();
    let forms: HashMap<String, String> = ALIAS_FORMS
        .iter()
        .map(|(form, name)| (strict_key(form), strict_key(name)))
        .collect();
    for rule in [Rule::Exact, Rule::WithoutThe] {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            let key = if rule == Rule::Exact { &n.strict } else { &n.loose };
            if group[i].is_none() && !key.is_empty() && !forms.contains_key(&n.strict) {
                by_key.entry(key).or_default().push(i);
            }
        }
        for (key, list) in by_key {
            // The loose tier only decides what a leading "The" changes.
            if rule == Rule::WithoutThe && list.iter().all(|&i| nodes[i].loose == nodes[i].strict) {
                continue;
            }
            let mut per_source: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for &i in &list {
                per_source.entry(nodes[i].source).or_default().push(i);
            }
            if per_source.len() < 2 {
                continue;
            }
            let picks: Option<Vec<usize>> = per_source.values().map(|same| dominant(&nodes, same)).collect();
            match picks {
                Some(picks) => {
                    for &i in &picks {
                        group[i] = Some(groups.len());
                    }
                    groups.push((key.to_string(), picks.into_iter().map(|i| (i, rule)).collect()));
                }
                None => res.collisions.push(Collision {
                    key: key.to_string(),
                    members: list.iter().map(|&i| member((i, rule))).collect(),
                }),
            }
        }
    }
    // Rule 4: alias forms join the one entity holding the name they stand for.
    for (i, n) in nodes.iter().enumerate() {
        let Some(target) = forms.get(&n.strict) else { continue };
        let holders: Vec<usize> = (0..nodes.len())
            .filter(|&j| nodes[j].strict == *target && !forms.contains_key(&nodes[j].strict))
            .collect();
        // One holder, or several already merged into one entity.
        let targets: HashSet<Option<usize>> = holders.iter().map(|&j| group[j]).collect();
        let g = match (targets.into_iter().collect::<Vec<_>>().as_slice(), holders.as_slice()) {
            ([Some(g)], _) => *g,
            ([None], [j]) => {
                groups.push((target.clone(), vec![(*j, Rule::AliasForm)]));
                group[*j] = Some(groups.len() - 1);
                groups.len() - 1
            }
            _ => continue,
        };
        // Rule 5: never a second Last.fm id.
        if n.source == 0 && groups[g].1.iter().any(|&(j, _)| nodes[j].source == 0) {
            continue;
        }
        groups[g].1.push((i, Rule::AliasForm));
        group[i] = Some(g);
    }
    let mut entities: Vec<Option<Entity>> = entities.into_iter().map(Some).collect();
    let mut renames: HashMap<String, String> = HashMap::new();
    for (key, mut members) in groups {
        if members.len() < 2 {
            continue;
        }
        members.sort_by(|&(a, _), &(b, _)| {
            let (a, b) = (&nodes[a], &nodes[b]);
            a.source.cmp(&b.source).then(b.popularity.total_cmp(&a.popularity))
        });
        res.merges.push(Merge {
            key,
            members: members.iter().map(|&m| member(m)).collect(),
        });
        let survivor_at = nodes[members[0].0].at;
        let mut survivor = entities[survivor_at].take().unwrap_or_default();
        for &(i, _) in &members[1..] {
            if let Some(other) = entities[nodes[i].at].take() {
                renames.insert(other.id.clone(), survivor.id.clone());
                absorb(&mut survivor, other);
            }
        }
        entities[survivor_at] = Some(survivor);
    }
    let mut artists = Vec::new();
    let mut rest = Vec::new();
    for mut e in entities.into_iter().flatten() {
        rewrite(&mut e.artist_ids, &renames);
        if e.kind == "artist" {
            artists.push(e);
        } else {
            rest.push(e);
        }
    }
    res.artists_after = artists.len();
    artists.extend(rest);
    (artists, res)
}

/// Rule 3: the one entity of `same` (one source, one key) that stands for the key.
fn dominant(nodes: &[Node], same: &[usize]) -> Option<usize> {
    if let [one] = same {
        return Some(*one);
    }
    let best = *same
        .iter()
        .max_by(|&&a, &&b| nodes[a].popularity.total_cmp(&nodes[b].popularity))?;
    let top = nodes[best].popularity;
    let others = || same.iter().filter(|&&i| i != best);
    let dominant = others().all(|&i| top > 0.0 && top >= DOMINANCE * nodes[i].popularity);
    let listed_twice = others().all(|&i| !nodes[i].tags.is_disjoint(&nodes[best].tags));
    (dominant || listed_twice).then_some(best)
}

/// Fold `other` into `survivor`: names to aliases, id to alias ids, tags after, `extra`
/// keys it lacks, optional fields it lacks.
fn absorb(survivor: &mut Entity, other: Entity) {
    survivor.aliases.push(other.name);
    survivor.aliases.extend(other.aliases);
    survivor.alias_ids.push(other.id);
    survivor.alias_ids.extend(other.alias_ids);
    survivor.tags.extend(other.tags);
    for (k, v) in other.extra {
        survivor.extra.entry(k).or_insert(v);
    }
    survivor.popularity = survivor.popularity.or(other.popularity);
    survivor.description = survivor.description.take().or(other.description);
    survivor.language = survivor.language.take().or(other.language);
    survivor.release_date = survivor.release_date.take().or(other.release_date);
}

/// Rename ids and drop the duplicates a rename makes, keeping the first place.
fn rewrite(ids: &mut Vec<String>, renames: &HashMap<String, String>) {
    if ids.is_empty() || renames.is_empty() {
        return;
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids.drain(..) {
        let id = renames.get(&id).cloned().unwrap_or(id);
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    *ids = out;
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;
