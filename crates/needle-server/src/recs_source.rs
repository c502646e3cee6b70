//! The engine as the recommendation layer's [`Source`]: listeners from the event store,
//! entities and references from the catalog.

use needle_core::profile::{Profile, ProfileConfig};
use needle_core::Entity;
use needle_recs::serve::Source;
use needle_recs::RecsError;
use needle_search::Engine;
use std::sync::Arc;

/// Adapter from [`Engine`] to [`Source`]; cheap to clone.
#[derive(Clone)]
pub struct EngineSource(pub Arc<Engine>);

fn source_error(e: needle_search::Error) -> RecsError {
    RecsError::Source(e.to_string())
}

impl Source for EngineSource {
    fn for_each_listener(&self, f: &mut dyn FnMut(&str, &Profile)) {
        self.0.for_each_profile(f)
    }

    fn for_each_entity(&self, f: &mut dyn FnMut(&Entity)) -> Result<(), RecsError> {
        self.0.for_each_entity(|e| f(&e)).map_err(source_error)
    }

    fn profile(&self, user: &str) -> Option<Profile> {
        self.0.raw_profile(user)
    }

    fn entities(&self, ids: &[&str]) -> Result<Vec<Option<Entity>>, RecsError> {
        self.0.get_many(ids).map_err(source_error)
    }

    fn referrers(&self, id: &str) -> Result<Vec<String>, RecsError> {
        self.0.referrers(id).map_err(source_error)
    }

    fn profile_config(&self) -> ProfileConfig {
        self.0.profile_config()
    }
}
