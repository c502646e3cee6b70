//! Shared state of the handlers.

use crate::auth::{KeyRing, ReloadError};
use crate::codes;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use needle_core::time::Clock;
use needle_recs::serve::Recs;
use needle_service::Service;
use std::sync::Arc;

/// What every handler can reach: the service, the configuration, the API keys in use and
/// this router's metrics. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    service: Arc<Service>,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    keys: Arc<KeyRing>,
}

impl AppState {
    /// State for one router. `config` is used as given (call [`Config::validate`] first;
    /// [`crate::serve`] does). Each state has its own metrics registry, so many can
    /// coexist in one process.
    pub fn new(service: Arc<Service>, config: Config) -> AppState {
        AppState::with_clock(service, config, needle_core::time::system())
    }

    /// [`AppState::new`], with what token expiry and rate limits read the time from (tests
    /// pass a [`needle_core::time::ManualClock`]; open the service with the same clock).
    pub fn with_clock(service: Arc<Service>, config: Config, clock: Arc<dyn Clock>) -> AppState {
        AppState {
            service,
            keys: Arc::new(KeyRing::new(&config.auth)),
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            clock,
        }
    }

    /// The API keys in use.
    pub fn keys(&self) -> &Arc<KeyRing> {
        &self.keys
    }

    /// Reload `auth.keys_file` now (SIGHUP): see [`KeyRing::reload`]. The outcome is
    /// logged and counted (`needle_auth_keys_reloads_total`).
    pub fn reload_keys(&self) -> Result<usize, ReloadError> {
        let outcome = self.keys.reload();
        self.report_reload(&outcome);
        outcome
    }

    /// Reload `auth.keys_file` if it changed since it was last read (the poller); `None`
    /// when it did not. Logged and counted as [`AppState::reload_keys`].
    pub fn reload_keys_if_changed(&self) -> Option<Result<usize, ReloadError>> {
        let outcome = self.keys.reload_if_changed()?;
        self.report_reload(&outcome);
        Some(outcome)
    }

    fn report_reload(&self, outcome: &Result<usize, ReloadError>) {
        let file = self
            .keys
            .keys_file()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        match outcome {
            Ok(n) => tracing::info!(file, keys = n, "API keys reloaded"),
            Err(e) => tracing::error!(file, problems = %e, "API keys not reloaded: keeping the keys in use"),
        }
        self.metrics.record_keys_reload(outcome.as_ref().ok().copied());
    }

    /// What this router reads the time from.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The recommendation service (model status, jobs, session owners: cheap reads).
    pub fn recs(&self) -> &Arc<Recs> {
        self.service.recs()
    }

    /// The service.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This router's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Run `f` on the service in tokio's blocking pool (every service call blocks).
    /// A panic in `f` becomes a logged `500 internal`.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&Service) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let service = Arc::clone(&self.service);
        match tokio::task::spawn_blocking(move || f(&service)).await {
            Ok(result) => result,
            Err(join) if join.is_panic() => Err(ApiError::internal(codes::INTERNAL, &"service call panicked")),
            Err(join) => Err(ApiError::internal(codes::INTERNAL, &join)),
        }
    }
}
