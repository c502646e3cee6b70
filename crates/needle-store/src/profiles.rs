//! Profile stores: where live taste profiles are kept.

use needle_core::profile::{Profile, ProfileConfig};
use needle_core::Event;
use parking_lot::RwLock;
use std::collections::HashMap;

/// Where profiles live. The embedded [`MemoryProfiles`] is the default (rebuilt from the
/// event log on start); a shared store (Redis Cluster) can implement the same trait.
pub trait ProfileStore: Send + Sync {
    /// Fold events into their listeners' profiles.
    fn apply(&self, events: &[Event]);
    /// A copy of one profile.
    fn get(&self, user_id: &str) -> Option<Profile>;
    /// Run `f` on one profile in place.
    fn with(&self, user_id: &str, f: &mut dyn FnMut(&Profile));
    /// Forget one listener; true if they existed.
    fn remove(&self, user_id: &str) -> bool;
    /// Number of listeners.
    fn users(&self) -> usize;
    /// Visit every listener's profile (for training); the order is unspecified.
    fn for_each(&self, f: &mut dyn FnMut(&str, &Profile));
}

const SHARDS: usize = 64;

/// Profiles in memory, sharded by listener to keep ingestion and reads apart.
pub struct MemoryProfiles {
    config: ProfileConfig,
    shards: Vec<RwLock<HashMap<String, Profile>>>,
}

impl MemoryProfiles {
    /// Empty store.
    pub fn new(config: ProfileConfig) -> Self {
        MemoryProfiles {
            config,
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, user: &str) -> &RwLock<HashMap<String, Profile>> {
        let h = xxhash_rust::xxh3::xxh3_64(user.as_bytes());
        &self.shards[(h as usize) % SHARDS]
    }
}

impl ProfileStore for MemoryProfiles {
    fn apply(&self, events: &[Event]) {
        for e in events {
            let mut shard = self.shard(&e.user_id).write();
            match shard.get_mut(&e.user_id) {
                Some(p) => p.apply(e, &self.config),
                None => {
                    let mut p = Profile::default();
                    p.apply(e, &self.config);
                    shard.insert(e.user_id.clone(), p);
                }
            }
        }
    }

    fn get(&self, user_id: &str) -> Option<Profile> {
        self.shard(user_id).read().get(user_id).cloned()
    }

    fn with(&self, user_id: &str, f: &mut dyn FnMut(&Profile)) {
        if let Some(p) = self.shard(user_id).read().get(user_id) {
            f(p);
        }
    }

    fn remove(&self, user_id: &str) -> bool {
        self.shard(user_id).write().remove(user_id).is_some()
    }

    fn users(&self) -> usize {
        self.shards.iter().map(|s| s.read().len()).sum()
    }

    fn for_each(&self, f: &mut dyn FnMut(&str, &Profile)) {
        // One shard locked at a time: ingestion into the other shards goes on.
        for shard in &self.shards {
            for (user, p) in shard.read().iter() {
                f(user, p);
            }
        }
    }
}
