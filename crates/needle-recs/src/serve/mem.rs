//! An in-memory [`Source`]: a catalog and listener profiles held in maps. For tests,
//! benchmarks and embedding Needle's recommender without its stores.

use std::collections::{BTreeMap, HashMap};

use needle_core::profile::{Profile, ProfileConfig};
use needle_core::{Entity, Event};

use super::Source;
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
}
