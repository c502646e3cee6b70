//! Serving recommendations: the trained model behind an atomic swap, training jobs, the
//! streaming surfaces and DJ-style sessions.
//!
//! The crate stays free of the catalog and event stores: the caller hands a [`Source`]
//! (the server implements it over its engine), so the same code serves `needle train`
//! offline and `POST /v1/admin/train` online.

mod blend;
mod config;
mod evidence;
pub mod jobs;
mod listener;
pub mod mem;
mod mentions;
mod mix;
pub mod model;
pub mod pick;
pub mod quality;
pub mod session;
pub mod similar;
pub mod store;
pub mod surfaces;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use needle_core::profile::{Profile, ProfileConfig};
use needle_core::{Entity, EntityType};
use parking_lot::{Mutex, RwLock};

use crate::RecsError;

pub use config::{BlendWeights, ServeConfig};
pub use jobs::{Job, JobBoard, JobStatus, Jobs};
pub use model::{ServingModel, TrainStats};
pub use session::{SessionInfo, Sessions};
pub use similar::SeedRequest;
pub use store::{MemSessions, SessionState, SessionStore};
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
    /// Entities of `types` whose texts match the words of `query`, as the catalog's search
    /// finds them (best first, at most `limit`), and how many matched in all. A text match
    /// only: callers check what they need of it. The default finds nothing (a source
    /// without a text index).
    fn search_text(&self, query: &str, types: &[EntityType], limit: usize) -> Result<TextMatches, RecsError> {
        let _ = (query, types, limit);
        Ok(TextMatches::default())
    }
}

/// What [`Source::search_text`] found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TextMatches {
    /// Ids of the best matches, best first.
    pub ids: Vec<String>,
    /// Entities matched in all (may exceed `ids`).
    pub total: usize,
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
    /// Makes a saved model the served one (the service routes this through its write log);
    /// `None`: [`Recs::activate`] directly.
    activator: RwLock<Option<Activator>>,
    /// A trained model waiting for its activation (saves reloading its file).
    pending: Mutex<Option<Arc<ServingModel>>>,
    /// The model `CURRENT` names is being loaded (requests get `Loading`, not `NotReady`).
    loading: AtomicBool,
}

/// What activates a saved model version (see [`Recs::set_activator`]).
pub type Activator = Arc<dyn Fn(u64) -> Result<(), RecsError> + Send + Sync>;

impl Recs {
    /// Open the service on `dir` (the data directory's `models/`), loading the current model
    /// if there is one.
    pub fn open(dir: &Path, config: ServeConfig) -> Result<Recs, RecsError> {
        fs_err::create_dir_all(dir)?;
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
            sessions: Sessions::new(config.session_idle_s, config.session_max_items),
            config,
            model: RwLock::new(model),
            discover_cache: Mutex::new(HashMap::new()),
            jobs: Jobs::default(),
            activator: RwLock::new(None),
            pending: Mutex::new(None),
            loading: AtomicBool::new(false),
        })
    }

    /// A service without a model (after a failed load); training replaces it.
    pub fn empty(dir: &Path, config: ServeConfig) -> Recs {
        Recs {
            dir: dir.to_path_buf(),
            sessions: Sessions::new(config.session_idle_s, config.session_max_items),
            config,
            model: RwLock::new(None),
            discover_cache: Mutex::new(HashMap::new()),
            jobs: Jobs::default(),
            activator: RwLock::new(None),
            pending: Mutex::new(None),
            loading: AtomicBool::new(false),
        }
    }

    /// Read the time for sessions (start, idle expiry) from `clock` instead of the system
    /// clock (tests pass a [`needle_core::time::ManualClock`]).
    pub fn with_clock(mut self, clock: Arc<dyn needle_core::time::Clock>) -> Recs {
        self.sessions.clock = clock;
        self
    }

    /// Keep DJ sessions in `store` instead of this process's memory (a store every
    /// replica of a cluster shares).
    pub fn with_session_store(mut self, store: Arc<dyn SessionStore>) -> Recs {
        self.sessions.set_store(store);
        self
    }

    /// Publish training jobs to `board` too, so any replica answers their status.
    pub fn with_job_board(mut self, board: Arc<dyn JobBoard>) -> Recs {
        self.jobs.set_board(board);
        self
    }

    /// Say that the model `CURRENT` names is about to be loaded: until
    /// [`Recs::load_current_in_background`] ends, requests that need a model get
    /// [`RecsError::Loading`] and [`Recs::is_loading`] is true (readiness waits for it).
    pub fn mark_loading(&self) {
        self.loading.store(true, Ordering::SeqCst);
    }

    /// Whether the served model is still being loaded.
    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::SeqCst)
    }

    /// Load the model `CURRENT` names and install it, unless a newer one was installed
    /// meanwhile (a training finished first). Errors are logged. Ends the loading state
    /// [`Recs::mark_loading`] began, however the load ends.
    pub fn load_current_in_background(&self) {
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        let _done = Done(&self.loading);
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
        // Reading the file and building the index peak far above what the model keeps.
        needle_core::mem::release_free_memory();
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

    /// The served model, or why there is none: [`RecsError::Loading`] while the saved one
    /// loads, [`RecsError::NotReady`] when none was ever trained.
    pub fn require_model(&self) -> Result<Arc<ServingModel>, RecsError> {
        if let Some(m) = self.model() {
            return Ok(m);
        }
        if self.is_loading() {
            return Err(RecsError::Loading(
                "the recommendation model is loading after a restart; retry in a few seconds".into(),
            ));
        }
        Err(RecsError::NotReady(
            "no recommendation model yet; train one (`needle train` or POST /v1/admin/train)".into(),
        ))
    }

    /// Swap in a new model; requests in flight finish on the old one.
    pub fn install(&self, model: ServingModel) {
        let old = self.model.write().replace(Arc::new(model));
        self.discover_cache.lock().clear();
        // Training's buffers are gone and the old model goes with the last request on it.
        drop(old);
        needle_core::mem::release_free_memory();
    }

    /// Route activations of trained models through `f` (the service appends a write-log
    /// entry whose application calls [`Recs::activate`]).
    pub fn set_activator(&self, f: Activator) {
        *self.activator.write() = Some(f);
    }

    /// Serve model `version` (applying a write-log entry): point `CURRENT` at its file and
    /// swap it in (the model just trained, or the file loaded). Applying the same entry
    /// twice is harmless.
    pub fn activate(&self, version: u64) -> Result<(), RecsError> {
        let name = format!("model-{version:06}.bin");
        let pending = {
            let mut slot = self.pending.lock();
            match slot.as_ref() {
                Some(m) if m.version == version => slot.take(),
                _ => None,
            }
        };
        let m = match pending {
            Some(m) => m,
            None if self.model().is_some_and(|m| m.version == version) => {
                model::point_current(&self.dir, &name)?;
                return Ok(());
            }
            None => Arc::new(ServingModel::load(&self.dir.join(&name))?),
        };
        model::point_current(&self.dir, &name)?;
        *self.model.write() = Some(m);
        self.discover_cache.lock().clear();
        model::prune(&self.dir, version, 3);
        Ok(())
    }

    /// The listener a live session belongs to (for access checks); `None` when the session
    /// does not exist or expired.
    pub fn session_owner(&self, sid: &str) -> Result<Option<String>, RecsError> {
        self.sessions.owner(sid)
    }

    /// Training jobs.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// Train a model now on this thread, save it and swap it in.
    pub fn train_now(&self, source: &dyn Source, progress: &mut dyn FnMut(f32)) -> Result<TrainStats, RecsError> {
        self.train_now_with(source, false, progress)
    }

    /// [`Recs::train_now`]; `incremental` refits the served model's choice warm-started
    /// from its vectors instead of selecting again (a full training when nothing is served).
    pub fn train_now_with(
        &self,
        source: &dyn Source,
        incremental: bool,
        progress: &mut dyn FnMut(f32),
    ) -> Result<TrainStats, RecsError> {
        let version = model::latest_version(&self.dir).max(self.model().map(|m| m.version).unwrap_or(0)) + 1;
        let previous = if incremental { self.model() } else { None };
        let mut m = ServingModel::train_from(source, &self.config, version, progress, previous.as_deref())?;
        m.save(&self.dir)?;
        let stats = m.stats.clone();
        *self.pending.lock() = Some(Arc::new(m));
        let activator = self.activator.read().clone();
        match activator {
            Some(f) => f(version)?,
            None => self.activate(version)?,
        }
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
