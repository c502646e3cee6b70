//! Serving recommendations: the trained model behind an atomic swap, training jobs, the
//! streaming surfaces and DJ-style sessions.
//!
//! The crate stays free of the catalog and event stores: the caller hands a [`Source`]
//! (the server implements it over its engine), so the same code serves `needle train`
//! offline and `POST /v1/admin/train` online.

mod config;
pub mod jobs;
mod listener;
pub mod mem;
mod mix;
pub mod model;
pub mod pick;
pub mod session;
pub mod similar;
pub mod surfaces;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use needle_core::profile::{Profile, ProfileConfig};
use needle_core::{Entity, EntityType};
use parking_lot::{Mutex, RwLock};

use crate::RecsError;

pub use config::{BlendWeights, ServeConfig};
pub use jobs::{Job, JobStatus, Jobs};
pub use model::{ServingModel, TrainStats};
pub use session::{SessionInfo, Sessions};
pub use similar::SeedRequest;
pub use surfaces::{Fallback, Mix, RecItem, RecRequest, Recommendations, Surface};

/// Where training and serving read listeners and the catalog from.
pub trait Source: Send + Sync {
    /// Visit every listener's profile.
    fn for_each_listener(&self, f: &mut dyn FnMut(&str, &Profile));
    /// Visit every catalog entity (no transcripts needed).
    fn for_each_entity(&self, f: &mut dyn FnMut(&Entity)) -> Result<(), RecsError>;
    /// A copy of one listener's profile.
    fn profile(&self, user: &str) -> Option<Profile>;
    /// Several entities by id, `None` where unknown (one consistent read).
    fn entities(&self, ids: &[&str]) -> Result<Vec<Option<Entity>>, RecsError>;
    /// Entities referencing `id`: an artist's tracks and albums, a show's episodes.
    fn referrers(&self, id: &str) -> Result<Vec<String>, RecsError>;
    /// Profile decay settings.
    fn profile_config(&self) -> ProfileConfig;
}

/// (listener and request rules, ISO week, model version).
pub(crate) type DiscoverKey = (String, i64, u64);

/// The recommendation service: the current model (swapped atomically), its training jobs
/// and live sessions.
pub struct Recs {
    dir: PathBuf,
    config: ServeConfig,
    model: RwLock<Option<Arc<ServingModel>>>,
    pub(crate) sessions: Sessions,
    /// Discover lists by (listener, ISO week, model version): stable through the week.
    pub(crate) discover_cache: Mutex<HashMap<DiscoverKey, Arc<Vec<surfaces::Scored>>>>,
    jobs: Jobs,
}

impl Recs {
    /// Open the service on `dir` (the data directory's `models/`), loading the current model
    /// if there is one.
    pub fn open(dir: &Path, config: ServeConfig) -> Result<Recs, RecsError> {
        std::fs::create_dir_all(dir)?;
        let model = ServingModel::load_current(dir)?.map(Arc::new);
        if let Some(m) = &model {
            tracing::info!(
                version = m.version,
                vectors = m.n_vec,
                popular_only = m.items.len() - m.n_vec,
                "loaded recommendation model"
            );
        }
        Ok(Recs {
            dir: dir.to_path_buf(),
            sessions: Sessions::new(config.session_idle_s),
            config,
            model: RwLock::new(model),
            discover_cache: Mutex::new(HashMap::new()),
            jobs: Jobs::default(),
        })
    }

    /// A service without a model (after a failed load); training replaces it.
    pub fn empty(dir: &Path, config: ServeConfig) -> Recs {
        Recs {
            dir: dir.to_path_buf(),
            sessions: Sessions::new(config.session_idle_s),
            config,
            model: RwLock::new(None),
            discover_cache: Mutex::new(HashMap::new()),
            jobs: Jobs::default(),
        }
    }

    /// Load the model `CURRENT` names and install it, unless a newer one was installed
    /// meanwhile (a training finished first). Errors are logged.
    pub fn load_current_in_background(&self) {
        let started = std::time::Instant::now();
        match ServingModel::load_current(&self.dir) {
            Ok(Some(m)) => {
                let mut slot = self.model.write();
                if slot.as_ref().is_none_or(|cur| cur.version < m.version) {
                    tracing::info!(
                        version = m.version,
                        vectors = m.n_vec,
                        seconds = started.elapsed().as_secs_f64(),
                        "recommendation model loaded"
                    );
                    *slot = Some(Arc::new(m));
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, dir = %self.dir.display(), "cannot load the recommendation model"),
        }
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The configuration.
    pub fn config(&self) -> &ServeConfig {
        &self.config
    }

    /// The model requests read now (`None` before the first training).
    pub fn model(&self) -> Option<Arc<ServingModel>> {
        self.model.read().clone()
    }

    /// Swap in a new model; requests in flight finish on the old one.
    pub fn install(&self, model: ServingModel) {
        *self.model.write() = Some(Arc::new(model));
        self.discover_cache.lock().clear();
    }

    /// The listener a live session belongs to (for access checks).
    pub fn session_owner(&self, sid: &str) -> Option<String> {
        self.sessions.owner(sid)
    }

    /// Training jobs.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// Train a model now on this thread, save it and swap it in.
    pub fn train_now(&self, source: &dyn Source, progress: &mut dyn FnMut(f32)) -> Result<TrainStats, RecsError> {
        let version = model::latest_version(&self.dir).max(self.model().map(|m| m.version).unwrap_or(0)) + 1;
        let mut m = ServingModel::train(source, &self.config, version, progress)?;
        m.save(&self.dir)?;
        let stats = m.stats.clone();
        self.install(m);
        Ok(stats)
    }
}

/// What kinds of entities can be recommended by default.
pub const DEFAULT_TYPES: [EntityType; 6] = [
    EntityType::Artist,
    EntityType::Track,
    EntityType::Album,
    EntityType::Playlist,
    EntityType::Show,
    EntityType::Audiobook,
];
