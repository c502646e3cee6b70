//! An in-memory [`Source`]: a catalog and listener profiles held in maps. For tests,
//! benchmarks and embedding Needle's recommender without its stores.

use std::collections::{BTreeMap, HashMap, HashSet};

use needle_core::profile::{Profile, ProfileConfig};
use needle_core::text::words;
use needle_core::{Entity, EntityType, Event};

use super::{Source, TextMatches};
use crate::RecsError;

/// Catalog and profiles in memory.
#[derive(Default)]
pub struct MemorySource {
    pub entities: BTreeMap<String, Entity>,
    pub profiles: HashMap<String, Profile>,
    pub config: ProfileConfig,
    referrers: HashMap<String, Vec<String>>,
}

impl MemorySource {
    /// Add or replace an entity.
    pub fn add(&mut self, e: Entity) {
        for r in e.references() {
            self.referrers.entry(r.to_string()).or_default().push(e.id.clone());
        }
        self.entities.insert(e.id.clone(), e);
    }

    /// Fold an event into its listener's profile.
    pub fn apply(&mut self, e: &Event) {
        self.profiles
            .entry(e.user_id.clone())
            .or_default()
            .apply(e, &self.config);
    }
}

impl Source for MemorySource {
    fn for_each_listener(&self, f: &mut dyn FnMut(&str, &Profile)) {
        let mut users: Vec<&String> = self.profiles.keys().collect();
        users.sort();
        for u in users {
            f(u, &self.profiles[u]);
        }
    }

    fn for_each_entity(&self, f: &mut dyn FnMut(&Entity)) -> Result<(), RecsError> {
        self.entities.values().for_each(f);
        Ok(())
    }

    fn profile(&self, user: &str) -> Option<Profile> {
        self.profiles.get(user).cloned()
    }

    fn entities(&self, ids: &[&str]) -> Result<Vec<Option<Entity>>, RecsError> {
        Ok(ids.iter().map(|id| self.entities.get(*id).cloned()).collect())
    }

    fn referrers(&self, id: &str) -> Result<Vec<String>, RecsError> {
        Ok(self.referrers.get(id).cloned().unwrap_or_default())
    }

    fn profile_config(&self) -> ProfileConfig {
        self.config
    }

    /// Entities of `types` holding every word of `query` in their name, publisher or
    /// description (whole folded words, no typos), most popular first; when fewer than
    /// `limit` do, those missing one word of several come after them (as the catalog
    /// engine's fallback).
    fn search_text(&self, query: &str, types: &[EntityType], limit: usize) -> Result<TextMatches, RecsError> {
        let wanted = words(query);
        if wanted.is_empty() {
            return Ok(TextMatches::default());
        }
        // (words missing, entity) of every entity missing at most one word.
        let mut hits: Vec<(usize, &Entity)> = self
            .entities
            .values()
            .filter(|e| types.is_empty() || types.contains(&e.entity_type()))
            .filter_map(|e| {
                let mut have: HashSet<String> = words(&e.name).into_iter().collect();
                for t in [&e.publisher, &e.description].into_iter().flatten() {
                    have.extend(words(t));
                }
                let missing = wanted.iter().filter(|w| !have.contains(*w)).count();
                (missing == 0 || missing == 1 && wanted.len() > 1).then_some((missing, e))
            })
            .collect();
        if hits.iter().filter(|h| h.0 == 0).count() >= limit {
            hits.retain(|h| h.0 == 0);
        }
        hits.sort_by(|(ma, a), (mb, b)| {
            ma.cmp(mb)
                .then(b.popularity.unwrap_or(0.0).total_cmp(&a.popularity.unwrap_or(0.0)))
                .then(a.id.cmp(&b.id))
        });
        Ok(TextMatches {
            total: hits.len(),
            ids: hits.into_iter().take(limit).map(|(_, e)| e.id.clone()).collect(),
        })
    }
}
