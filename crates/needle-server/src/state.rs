//! Shared state of the handlers.

use crate::codes;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use needle_search::Engine;
use std::sync::Arc;

/// What every handler can reach: the engine, the configuration and this router's metrics.
/// Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    engine: Arc<Engine>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
}

impl AppState {
    /// State for one router. `config` is used as given (call [`Config::validate`] first;
    /// [`crate::serve`] does). Each state has its own metrics registry, so many can
    /// coexist in one process.
    pub fn new(engine: Arc<Engine>, config: Config) -> AppState {
        AppState {
            engine,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
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
