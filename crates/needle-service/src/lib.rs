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
pub mod config;
mod error;
mod listeners;
mod recs;
pub mod shared;

pub use catalog::PendingWrite;
pub use error::{Error, Result};
pub use listeners::Erased;

use applier::{Applier, Targets};
use listeners::Tastes;
use needle_core::profile::ProfileConfig;
use needle_core::time::Clock;
use needle_recs::serve::{Recs, ServeConfig};
use needle_search::{Engine, EngineConfig, Rejection};
use needle_store::{EventStore, FileLog};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What a [`Service`] is opened with.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The catalog engine (its `data_dir` is the service's data directory).
    pub engine: EngineConfig,
    /// Half-life of listening events in taste profiles, days.
    pub half_life_days: f64,
    /// The recommendation service.
    pub recs: ServeConfig,
    /// Load the served recommendation model (in the background) at open.
    pub load_model: bool,
    /// How often applied entries are made durable in the stores and the log trimmed.
    pub checkpoint_interval: Duration,
    /// Redis Cluster node URLs for the state replicas share (sessions, rate limits, job
    /// status; see [`shared`]); empty = that state stays in this process.
    pub redis: Vec<String>,
}

impl ServiceConfig {
    /// Defaults around an engine configuration.
    pub fn new(engine: EngineConfig) -> ServiceConfig {
        ServiceConfig {
            engine,
            half_life_days: 30.0,
            recs: ServeConfig::default(),
            load_model: false,
            checkpoint_interval: Duration::from_secs(5),
            redis: Vec::new(),
        }
    }

    fn data_dir(&self) -> &PathBuf {
        &self.engine.data_dir
    }
}

/// The service. Share it behind an `Arc`; every method blocks.
pub struct Service {
    engine: Arc<Engine>,
    events: Arc<EventStore>,
    recs: Arc<Recs>,
    tastes: Arc<Tastes>,
    applier: Arc<Applier>,
    /// Opened for a bulk load: catalog batches bypass the log (see
    /// [`Service::submit_values`]).
    bulk: bool,
    clock: Arc<dyn Clock>,
    /// The state shared with other replicas on Redis, when configured.
    shared: Option<shared::Shared>,
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
        let dir = cfg.data_dir().clone();
        let bulk = cfg.engine.bulk;
        let engine = Arc::new(Engine::open(cfg.engine.clone())?);
        let events = Arc::new(EventStore::open(
            &dir.join("events"),
            ProfileConfig {
                half_life_days: cfg.half_life_days,
            },
        )?);
        let models = dir.join("models");
        let recs = Recs::empty(&models, cfg.recs.clone()).with_clock(Arc::clone(&clock));
        let (recs, shared) = shared::open(&cfg.redis, recs)?;
        let recs = Arc::new(recs);
        if cfg.load_model && needle_recs::serve::model::latest_version(&models) > 0 {
            let bg = Arc::clone(&recs);
            let spawned = std::thread::Builder::new()
                .name("needle-model-load".into())
                .spawn(move || bg.load_current_in_background());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the model loader");
            }
        }
        let floor = engine.applied_seq()?.max(events.applied_seq());
        let log = FileLog::open(&dir.join("log"), floor)?;
        let tastes = Arc::new(Tastes::default());
        let applier = Applier::start(
            Box::new(log),
            Targets {
                engine: engine.clone(),
                events: events.clone(),
                recs: recs.clone(),
                tastes: tastes.clone(),
            },
            cfg.checkpoint_interval,
        )?;
        let applier = Arc::new(applier);
        // A trained model is served from the moment its activation entry is applied.
        let weak = Arc::downgrade(&applier);
        recs.set_activator(Arc::new(move |version| {
            let applier = weak
                .upgrade()
                .ok_or_else(|| needle_recs::RecsError::NotReady("the service is shut down".into()))?;
            applier
                .write(applier::Op {
                    entry: needle_store::Entry::ActivateModel { version },
                    analyses: None,
                })
                .map(|_| ())
                .map_err(|e| needle_recs::RecsError::Source(format!("activating model {version}: {e}")))
        }));
        Ok(Service {
            engine,
            events,
            recs,
            tastes,
            applier,
            bulk,
            clock,
            shared,
        })
    }

    /// Finish queued writes, make everything durable, and stop. Later writes fail with
    /// [`Error::Unavailable`].
    pub fn shutdown(&self) -> Result<()> {
        self.applier.shutdown();
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
