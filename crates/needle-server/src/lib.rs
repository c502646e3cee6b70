//! Needle's HTTP API.
//!
//! [`router`] builds the axum [`Router`](axum::Router) (routes, error shapes, middleware,
//! metrics, OpenAPI); [`serve`] binds it to the configured address and runs it until
//! SIGTERM or ctrl-c, then shuts the engine down.
//!
//! Every error the server answers with — whether it comes from the engine, from request
//! parsing, or from axum itself (unknown route, wrong method, oversized body) — has the
//! same JSON shape, described in `docs/errors.md` and produced by [`ApiError`].
#![warn(missing_docs)]

pub mod auth;
pub mod body;
pub mod codes;
pub mod config;
pub mod error;
pub mod limits;
mod lograte;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod state;

pub use config::{Config, ConfigError, LogFormat, EXAMPLE_CONFIG};
pub use error::{ApiError, ErrorBody, ErrorType};
pub use state::AppState;

use needle_service::Service;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Build the complete HTTP application (routes, fallbacks and middleware) for `state`.
///
/// The router holds no global state: many routers can live in one process (tests build
/// one per test), each with its own metrics registry.
pub fn router(state: AppState) -> axum::Router {
    routes::build(state)
}

/// Why [`serve`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address from `http_addr`.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Accepting connections failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// The service failed to shut down cleanly.
    #[error("service shutdown failed: {0}")]
    Shutdown(String),
}

/// Validate `config`, bind `config.http_addr`, log the address and serve until SIGTERM or
/// ctrl-c. In-flight requests are drained, then [`Service::shutdown`] is called.
pub async fn serve(config: Config, service: Arc<Service>) -> Result<(), ServeError> {
    config.validate()?;
    let addr = config.socket_addr()?;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let train_on_start = config.recs.train_on_start;
    let state = AppState::new(service, config);
    if train_on_start && needle_recs::serve::model::latest_version(state.recs().dir()) == 0 {
        let service = state.service().clone();
        let has_data = tokio::task::spawn_blocking(move || {
            service.listeners() > 0 || service.stats().map(|s| s.entities > 0).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if has_data {
            // Blocking: in a cluster it takes the training lease from NATS first.
            let service = state.service().clone();
            let started = tokio::task::spawn_blocking(move || service.start_training())
                .await
                .unwrap_or_else(|e| Err(needle_service::Error::Unavailable(e.to_string())));
            match started {
                Ok(job) => {
                    tracing::info!(job = %job.job_id, "no recommendation model yet; training one in the background")
                }
                Err(e) => tracing::error!(error = %e, "cannot start training"),
            }
        }
    }
    serve_with_shutdown(listener, state, shutdown_signal()).await
}

/// Serve `state` on an already bound `listener` until `shutdown` completes, then drain
/// in-flight requests and shut the service down. [`serve`] is this with the OS signals;
/// tests and embedders can pass their own future (and bind port 0).
///
/// Refuses to serve without API keys on a non-loopback address unless `auth.allow_open`
/// is set, and warns when it serves open.
pub async fn serve_with_shutdown(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let local = listener.local_addr()?;
    auth::startup_check(state.config(), local).map_err(|p| ServeError::Config(ConfigError::Invalid(vec![p])))?;
    tracing::info!(addr = %local, "needle HTTP API listening on http://{local}");
    let service = state.service().clone();
    let keys_watch = tokio::spawn(watch_keys(state.clone()));
    // Client addresses feed the per-IP rate limit when Needle runs open.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown).await;
    keys_watch.abort();
    served?;
    tracing::info!("HTTP server stopped; shutting the service down");
    match tokio::task::spawn_blocking(move || service.shutdown()).await {
        Ok(Ok(())) => {
            tracing::info!("service shut down");
            Ok(())
        }
        Ok(Err(e)) => Err(ServeError::Shutdown(e.to_string())),
        Err(join) => Err(ServeError::Shutdown(format!("shutdown task failed: {join}"))),
    }
}

/// Reload `auth.keys_file` on SIGHUP (unix) and, every `auth.keys_reload_ms` (unless 0),
/// when it changed. Runs until aborted.
async fn watch_keys(state: AppState) {
    let every = state.config().auth.keys_reload_ms;
    let mut poll = (every > 0 && state.config().auth.keys_file.is_some()).then(|| {
        let mut i = tokio::time::interval(std::time::Duration::from_millis(every));
        i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        i
    });
    #[cfg(unix)]
    let mut hup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(sig) => Some(sig),
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; keys are reloaded on change only");
            None
        }
    };
    loop {
        let polled = async {
            match poll.as_mut() {
                Some(i) => i.tick().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(sig) => sig.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<Option<()>>();
        // The key files are small; reading one blocks only briefly.
        tokio::select! {
            _ = polled => {
                let state = state.clone();
                let _ = tokio::task::spawn_blocking(move || state.reload_keys_if_changed()).await;
            }
            Some(()) = hangup => {
                tracing::info!("SIGHUP received; reloading the API keys");
                let state = state.clone();
                let _ = tokio::task::spawn_blocking(move || state.reload_keys()).await;
            }
        }
    }
}

/// Resolves on ctrl-c or (on unix) SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("ctrl-c received; shutting down"),
        _ = terminate => tracing::info!("SIGTERM received; shutting down"),
    }
}
