//! Shared state of the handlers.

use crate::codes;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::recs_source::EngineSource;
use needle_core::time::Clock;
use needle_recs::serve::Recs;
use needle_search::Engine;
use std::sync::Arc;

/// What every handler can reach: the engine, the configuration and this router's metrics.
/// Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    engine: Arc<Engine>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    recs: Arc<Recs>,
    clock: Arc<dyn Clock>,
}

impl AppState {
    /// State for one router. `config` is used as given (call [`Config::validate`] first;
    /// [`crate::serve`] does). Each state has its own metrics registry, so many can
    /// coexist in one process.
    ///
    /// The recommendation model is loaded from `data_dir/models` on a background thread
    /// (its vector index is rebuilt, minutes for millions of items): until it is in,
    /// recommendation requests answer `503 model_not_ready`. An unreadable model file is
    /// logged and stays out until the next training.
    pub fn new(engine: Arc<Engine>, config: Config) -> AppState {
        AppState::with_clock(engine, config, needle_core::time::system())
    }

    /// [`AppState::new`], with what token expiry, rate limits and session expiry read the
    /// time from (tests pass a [`needle_core::time::ManualClock`]).
    pub fn with_clock(engine: Arc<Engine>, config: Config, clock: Arc<dyn Clock>) -> AppState {
        let dir = config.data_dir.join("models");
        let recs = Arc::new(Recs::empty(&dir, config.recs.clone()).with_clock(Arc::clone(&clock)));
        if needle_recs::serve::model::latest_version(&dir) > 0 {
            let bg = Arc::clone(&recs);
            let spawned = std::thread::Builder::new()
                .name("needle-model-load".into())
                .spawn(move || bg.load_current_in_background());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the model loader");
            }
        }
        AppState {
            engine,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            recs,
            clock,
        }
    }

    /// What this router reads the time from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The recommendation service.
    pub fn recs(&self) -> &Arc<Recs> {
        &self.recs
    }

    /// The engine as the recommendation layer's data source.
    pub fn source(&self) -> EngineSource {
        EngineSource(self.engine.clone())
    }

    /// Run `f` on the recommendation service in tokio's blocking pool.
    pub async fn recs_blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Recs, &EngineSource) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let recs = Arc::clone(&self.recs);
        let source = self.source();
        match tokio::task::spawn_blocking(move || f(&recs, &source)).await {
            Ok(result) => result,
            Err(join) if join.is_panic() => Err(ApiError::internal(codes::INTERNAL, &"recommendation call panicked")),
            Err(join) => Err(ApiError::internal(codes::INTERNAL, &join)),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This router's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Run `f` on the engine in tokio's blocking pool (every engine call blocks).
    /// A panic in `f` becomes a logged `500 internal`.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Engine) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let engine = Arc::clone(&self.engine);
        match tokio::task::spawn_blocking(move || f(&engine)).await {
            Ok(result) => result,
            Err(join) if join.is_panic() => Err(ApiError::internal(codes::INTERNAL, &"engine call panicked")),
            Err(join) => Err(ApiError::internal(codes::INTERNAL, &join)),
        }
    }
}
