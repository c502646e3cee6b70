//! Needle's service facade: the one place between the doors (HTTP, CLI) and the engines.
//!
//! [`Service`] owns the catalog engine (store + search index), the event store and
//! profiles, the listeners' tastes and the recommendation service. It validates each
//! request once, sends every state change through the write log and its single applier
//! ([`applier`]: catalog upserts and deletes, listening events, listener erasure, model
//! activation), and answers reads from the local state. It knows nothing of HTTP: errors
//! are [`Error`]s, split by who is at fault; only the server maps them to status codes.
#![warn(missing_docs)]

mod applier;
mod catalog;
pub mod cluster;
pub mod config;
mod curation;
mod error;
mod listeners;
pub mod local_state;
mod ops;
mod past_queries;
mod recs;
mod searches;
pub mod semantic;
pub mod shared;
pub mod snapshot;
#[cfg(feature = "testkit")]
#[doc(hidden)]
pub mod testkit;

pub use applier::FollowState;
pub use catalog::PendingWrite;
pub use cluster::ClusterStatus;
pub use error::{Error, Result};
pub use listeners::{Erased, Revoked};
pub use snapshot::Manifest;

use applier::{Applier, Targets};
use listeners::Tastes;
use needle_core::profile::ProfileConfig;
use needle_core::time::Clock;
use needle_recs::serve::{Recs, ServeConfig};
use needle_search::{Engine, EngineConfig, Rejection};
use needle_store::{EventStore, FileLog, SearchStats, TokenRevocations};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// What a [`Service`] is opened with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The catalog engine (its `data_dir` is the service's data directory).
    pub engine: EngineConfig,
    /// Decay and blend of taste profiles.
    pub profile: ProfileConfig,
    /// The recommendation service.
    pub recs: ServeConfig,
    /// Load the served recommendation model (in the background) at open.
    pub load_model: bool,
    /// How often applied entries are made durable in the stores and the log trimmed.
    pub checkpoint_interval: Duration,
    /// `[cluster]`: with `nats` set, the write log is the cluster's JetStream stream.
    pub cluster: config::cluster::ClusterConfig,
    /// `[search_analytics]`: the search log, the click model and the analytics' bounds.
    pub search_stats: needle_store::SearchStatsConfig,
    /// `[semantic]`: the embedding model, the types with vectors, hybrid fusion.
    pub semantic: config::semantic::SemanticConfig,
    /// An embedder to use instead of the installed model (tests: a deterministic one).
    pub embedder: Option<EmbedderOverride>,
    /// Vectors are computed for the vector file only (`needle import`): nothing is searched,
    /// so the embedding worker keeps no vectors in memory and builds the graph once, when
    /// its queue empties, instead of along the way.
    pub offline_embedding: bool,
}

/// An embedder given to [`ServiceConfig::embedder`].
#[derive(Clone)]
pub struct EmbedderOverride(pub Arc<dyn needle_embed::Embedder>);

impl std::fmt::Debug for EmbedderOverride {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EmbedderOverride({})", self.0.tag())
    }
}

impl ServiceConfig {
    /// Defaults around an engine configuration.
    pub fn new(engine: EngineConfig) -> ServiceConfig {
        ServiceConfig {
            engine,
            profile: ProfileConfig::default(),
            recs: ServeConfig::default(),
            load_model: false,
            offline_embedding: false,
            checkpoint_interval: Duration::from_secs(5),
            cluster: config::cluster::ClusterConfig::default(),
            search_stats: needle_store::SearchStatsConfig::default(),
            semantic: config::semantic::SemanticConfig::default(),
            embedder: None,
        }
    }

    fn data_dir(&self) -> &PathBuf {
        &self.engine.data_dir
    }

    /// Where trained models are shared in a cluster: `<shared_dir>/models` (or
    /// `<data_dir>/shared-models` without a shared directory: one replica only).
    pub fn shared_models_dir(&self) -> PathBuf {
        let shared = self.cluster.shared_dir.trim();
        if shared.is_empty() {
            self.data_dir().join("shared-models")
        } else {
            PathBuf::from(shared).join("models")
        }
    }

    /// Where snapshots are written and looked for: `<shared_dir>/snapshots`, or
    /// `<data_dir>/snapshots` without a shared directory.
    pub fn snapshots_dir(&self) -> PathBuf {
        let shared = self.cluster.shared_dir.trim();
        if shared.is_empty() {
            self.data_dir().join("snapshots")
        } else {
            PathBuf::from(shared).join("snapshots")
        }
    }
}

/// The service. Share it behind an `Arc`; every method blocks.
pub struct Service {
    engine: Arc<Engine>,
    events: Arc<EventStore>,
    recs: Arc<Recs>,
    tastes: Arc<Tastes>,
    /// Revoked listener tokens (applied from the log).
    revocations: Arc<TokenRevocations>,
    /// Synonyms and query rules (applied from the log).
    settings: Arc<needle_store::Settings>,
    /// Past queries suggestions complete from (none until search analytics provide them).
    queries: parking_lot::RwLock<Arc<dyn needle_search::suggest::QuerySource>>,
    applier: Arc<Applier>,
    /// Opened for a bulk load: catalog batches bypass the log (see
    /// [`Service::submit_values`]).
    bulk: bool,
    clock: Arc<dyn Clock>,
    node_id: String,
    shared_dir: cluster::remote::SharedDir,
    read_wait: Duration,
    stream: Option<String>,
    /// The state digest last computed, by sequence number.
    digest_cache: parking_lot::Mutex<Option<(u64, String)>>,
    /// The state shared with other replicas on Redis, when configured.
    shared: Option<shared::Shared>,
    /// Search statistics (analytics, the click model), applied from the log.
    searchstats: Arc<SearchStats>,
    /// Answered searches on their way to the log (`None`: not logged).
    search_log: Option<Arc<searches::SearchLog>>,
    /// Semantic search, or why it is off.
    semantic: std::result::Result<Arc<semantic::Semantic>, String>,
}

impl Service {
    /// Open the data directory: the catalog engine, the event store, the recommendation
    /// service, then the write log, replaying what it holds beyond the stores.
    pub fn open(cfg: ServiceConfig) -> Result<Service> {
        Service::open_with_clock(cfg, needle_core::time::system())
    }

    /// [`Service::open`], reading the time (taste decay, DJ session expiry) from `clock`
    /// (tests pass a [`needle_core::time::ManualClock`]).
    pub fn open_with_clock(cfg: ServiceConfig, clock: Arc<dyn Clock>) -> Result<Service> {
        Service::open_inner(cfg, clock, true)
    }

    fn open_inner(cfg: ServiceConfig, clock: Arc<dyn Clock>, may_restore: bool) -> Result<Service> {
        let dir = cfg.data_dir().clone();
        let bulk = cfg.engine.bulk;
        let node_id = cfg.cluster.node_name();
        let clustered = cfg.cluster.is_clustered();
        let shared_dir = cluster::remote::SharedDir::open(&cfg)?;
        // A replica checks its directory against the log and restores a snapshot into an
        // empty one before its stores open (cluster/boot.rs).
        let (log, stream) = if clustered {
            let log = Arc::new(cluster::jetstream::JetStreamLog::connect(&cfg.cluster, &node_id)?);
            let stream = cluster::boot::prepare(&log, &dir, &shared_dir)?;
            (Some(log), stream)
        } else {
            (None, None)
        };
        let engine = Arc::new(Engine::open(cfg.engine.clone())?);
        let events = Arc::new(EventStore::open(&dir.join("events"), cfg.profile)?);
        if let Some(stream) = &stream {
            let applied = engine.applied_seq()?.min(events.applied_seq());
            if may_restore {
                if let Some(snap) = cluster::boot::behind(stream, applied, &shared_dir, &cfg.cluster.stream)? {
                    engine.shutdown()?;
                    drop((engine, events, log));
                    cluster::boot::replace_with(&shared_dir, &dir, applied, &snap)?;
                    return Service::open_inner(cfg, clock, false);
                }
            }
            if cluster::identity::read(&dir)?.is_none() {
                cluster::identity::write(&dir, &stream.identity)?;
            }
        } else if !clustered {
            cluster::identity::adopt_local(&dir)?;
        }
        let models = dir.join("models");
        let recs = Recs::empty(&models, cfg.recs.clone()).with_clock(Arc::clone(&clock));
        let (recs, shared) = shared::open(&config::cluster::urls(&cfg.cluster.redis), recs)?;
        // Standalone: sessions and jobs on local disk, so a restart loses neither.
        let recs = match shared {
            Some(_) => recs,
            None => {
                let (state, _) = local_state::LocalState::open(&dir, clock.now_ms())?;
                let state = Arc::new(state);
                recs.with_session_store(state.clone()).with_job_board(state)
            }
        };
        let recs = Arc::new(recs);
        if cfg.load_model && needle_recs::serve::model::latest_version(&models) > 0 {
            recs.mark_loading();
            let bg = Arc::clone(&recs);
            let spawned = std::thread::Builder::new()
                .name("needle-model-load".into())
                .spawn(move || bg.load_current_in_background());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the model loader; loading in the foreground");
                recs.load_current_in_background();
            }
        }
        let tastes = Arc::new(Tastes::default());
        let revocations = Arc::new(TokenRevocations::open(&dir)?);
        let searchstats = Arc::new(SearchStats::open(&dir, cfg.search_stats.clone())?);
        if searchstats.applied_seq() == 0 {
            // A data directory from before search statistics (or without their file):
            // they start empty where the other stores are, not from a log long trimmed.
            searchstats.checkpoint(engine.applied_seq()?.min(events.applied_seq()), true)?;
        }
        let settings = Arc::new(needle_store::Settings::open(&dir)?);
        let semantic = if bulk {
            Err("the data directory is opened for a bulk load".to_string())
        } else {
            semantic_of(&cfg, &engine, &dir)
        };
        let targets = Targets {
            semantic: semantic.as_ref().ok().cloned(),
            engine: engine.clone(),
            events: events.clone(),
            recs: recs.clone(),
            tastes: tastes.clone(),
            revocations: revocations.clone(),
            searchstats: searchstats.clone(),
            settings: settings.clone(),
            node_id: node_id.clone(),
            data_dir: dir.clone(),
            shared_models: clustered.then(|| shared_dir.clone()),
            generation: AtomicU64::new(engine.generation()),
        };
        targets.put_curation();
        let applier = if let Some(log) = log {
            let (tx, rx) = crossbeam_channel::bounded(1024);
            let restart = Arc::new(tokio::sync::Notify::new());
            let applier = Arc::new(Applier::start_replicated(
                targets,
                log.clone(),
                rx,
                restart.clone(),
                cfg.checkpoint_interval,
                Duration::from_millis(cfg.cluster.write_timeout_ms),
                engine.disk_guard(),
            )?);
            let weak = Arc::downgrade(&applier);
            let start = move || weak.upgrade().map_or(1, |a| a.applied_seq() + 1);
            let bind_dir = dir.clone();
            let bind = move |id: cluster::identity::LogIdentity| {
                cluster::identity::bind(&bind_dir, &id).map_err(|e| e.to_string())
            };
            log.spawn_follower(start, bind, restart, tx)?;
            applier
        } else {
            let floor = engine.applied_seq()?.max(events.applied_seq());
            let log = FileLog::open(&dir.join("log"), floor)?;
            Arc::new(Applier::start(
                Box::new(log),
                targets,
                cfg.checkpoint_interval,
                engine.disk_guard(),
            )?)
        };
        // A trained model is served from the moment its activation entry is applied.
        let weak = Arc::downgrade(&applier);
        let share = clustered.then(|| (recs.dir().to_path_buf(), shared_dir.clone()));
        recs.set_activator(Arc::new(move |version| {
            let applier = weak
                .upgrade()
                .ok_or_else(|| needle_recs::RecsError::NotReady("the service is shut down".into()))?;
            let committed =
                applier
                    .commit(applier::Op::new(needle_store::Entry::ActivateModel {
                        version,
                        hash: match &share {
                            Some((models, shared)) => Some(shared.publish_model(models, version).map_err(|e| {
                                needle_recs::RecsError::Source(format!("sharing model {version}: {e}"))
                            })?),
                            None => None,
                        },
                    }))
                    .map_err(|e| needle_recs::RecsError::Source(format!("activating model {version}: {e}")))?;
            if !committed.applied {
                // Committed: this replica serves the model once its applier reaches the
                // entry, as every other replica does. The training succeeded.
                tracing::warn!(
                    version,
                    seq = committed.seq,
                    "the model's activation is in the write log but not applied here yet"
                );
            }
            Ok(())
        }));
        let search_log = if cfg.search_stats.log_searches && !bulk {
            Some(searches::SearchLog::start(Arc::downgrade(&applier))?)
        } else {
            None
        };
        // Past queries shown only once as many listeners typed them as the click model
        // needs before it moves a ranking (k-anonymity, `click_min_users`, default 5).
        let past_queries: Arc<dyn needle_search::suggest::QuerySource> = Arc::new(past_queries::PastQueries::new(
            searchstats.clone(),
            cfg.search_stats.click_min_users as usize,
            clock.clone(),
        ));
        Ok(Service {
            searchstats,
            search_log,
            engine,
            events,
            recs,
            tastes,
            revocations,
            settings,
            queries: parking_lot::RwLock::new(past_queries),
            applier,
            bulk,
            clock,
            node_id,
            shared_dir,
            read_wait: Duration::from_millis(cfg.cluster.read_wait_ms),
            stream: clustered.then(|| cfg.cluster.stream.clone()),
            digest_cache: parking_lot::Mutex::new(None),
            shared,
            semantic,
        })
    }

    /// Finish queued writes, make everything durable, and stop. Later writes fail with
    /// [`Error::Unavailable`].
    pub fn shutdown(&self) -> Result<()> {
        if let Some(log) = &self.search_log {
            log.stop(&Arc::downgrade(&self.applier));
        }
        self.applier.shutdown();
        if let Ok(s) = &self.semantic {
            s.stop();
        }
        self.engine.shutdown()?;
        Ok(())
    }

    /// The current time, epoch milliseconds (taste decay).
    pub(crate) fn clock_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Semantic search for this service: the configured embedder, or the installed model, or
/// why there is none (said in the log and in `semantic_unavailable` answers).
fn semantic_of(
    cfg: &ServiceConfig,
    engine: &Arc<Engine>,
    dir: &std::path::Path,
) -> std::result::Result<Arc<semantic::Semantic>, String> {
    let embedder: Arc<dyn needle_embed::Embedder> = match &cfg.embedder {
        Some(e) => Arc::clone(&e.0),
        None if !cfg.semantic.enabled => return Err("semantic search is off (semantic.enabled = false)".into()),
        None => {
            let model = cfg.semantic.model_dir(dir);
            if !needle_embed::is_installed(&model) {
                let why = format!(
                    "no embedding model in {}: run `needle model fetch` to install it (semantic and hybrid search are off until then)",
                    model.display()
                );
                tracing::info!("{why}");
                return Err(why);
            }
            match needle_embed::MiniLm::load(&model) {
                Ok(m) => Arc::new(m),
                Err(e) => {
                    let why = format!("the embedding model in {} cannot be loaded: {e}", model.display());
                    tracing::error!("{why}");
                    return Err(why);
                }
            }
        }
    };
    semantic::Semantic::start(
        Arc::clone(engine),
        dir,
        cfg.semantic.clone(),
        embedder,
        cfg.offline_embedding,
    )
    .map_err(|e| {
        let why = format!("semantic search cannot start: {e}");
        tracing::error!("{why}");
        why
    })
}

/// Validate a batch one value at a time (catalog records, events): the good ones in order,
/// and a rejection naming the index and field of each bad one. One bad value never fails
/// the batch.
pub(crate) fn validate_batch<T>(
    values: &[serde_json::Value],
    parse: impl Fn(&serde_json::Value) -> std::result::Result<T, needle_core::ValidationError>,
) -> (Vec<T>, Vec<Rejection>) {
    let mut good = Vec::with_capacity(values.len());
    let mut rejected = Vec::new();
    for (index, v) in values.iter().enumerate() {
        match parse(v) {
            Ok(t) => good.push(t),
            Err(e) => rejected.push(Rejection {
                index,
                code: e.code.to_string(),
                message: e.message,
            }),
        }
    }
    (good, rejected)
}
