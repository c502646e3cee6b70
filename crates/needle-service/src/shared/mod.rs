//! State every replica of a cluster must see but that may be lost or rebuilt, on Redis
//! Cluster (`cluster.redis`): DJ sessions, rate-limit buckets and training-job status.
//! The write log, the catalog, events and models never go here. See docs/shared-state.md.
//!
//! The engines know nothing of Redis: needle-recs asks for a
//! [`needle_recs::serve::SessionStore`] and a [`needle_recs::serve::JobBoard`], implemented
//! here ([`sessions`]); the server's rate limiter asks the service for [`SharedRate`].
//! Without Redis configured, all three stay in the process, as before.

mod conn;
mod rate;
mod sessions;

use std::sync::Arc;
use std::time::Duration;

use needle_recs::serve::Recs;

pub use conn::RedisConn;
pub use rate::{bucket_key, SharedRate};
pub use sessions::{session_key, RedisJobBoard, RedisSessions};

use crate::Service;

/// Longest one Redis command may take, connecting and retries included, before it counts
/// as failed (a primary's failover takes ~5 s; a request must not wait for it).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(1000);

/// Prefix of every key Needle writes to Redis.
pub const KEY_PREFIX: &str = "needle:";

/// How to reach Redis Cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedConfig {
    /// Node URLs (`redis://host:port`); any reachable node tells the client the others.
    pub urls: Vec<String>,
    /// Longest one command may take (see [`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
}

impl SharedConfig {
    /// `urls` with the default timeout; `None` when the list is empty (state stays local).
    pub fn from_urls(urls: Vec<String>) -> Option<SharedConfig> {
        (!urls.is_empty()).then_some(SharedConfig {
            urls,
            timeout: DEFAULT_TIMEOUT,
        })
    }
}

/// Errors of the shared state.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// The Redis URLs are not valid, or the client cannot start.
    #[error("redis configuration: {0}")]
    Config(String),
    /// Redis did not answer in time or refused (a failover, a network problem).
    #[error("redis unavailable: {0}")]
    Unavailable(String),
}

impl From<SharedError> for needle_recs::RecsError {
    fn from(e: SharedError) -> Self {
        needle_recs::RecsError::SharedUnavailable(e.to_string())
    }
}

/// The shared state of one service: one connection, and what uses it.
pub struct Shared {
    conn: Arc<RedisConn>,
    rate: Arc<SharedRate>,
}

impl Shared {
    /// Connect lazily to `config.urls` (a Redis down at start is not an error).
    pub fn new(config: &SharedConfig) -> Result<Shared, SharedError> {
        let conn = Arc::new(RedisConn::new(config)?);
        tracing::info!(nodes = %config.urls.join(","), "shared state (sessions, rate limits, job status) on Redis Cluster");
        Ok(Shared {
            rate: Arc::new(SharedRate::new(Arc::clone(&conn))),
            conn,
        })
    }

    /// `recs` keeping its sessions and publishing its jobs here.
    pub fn attach(&self, recs: Recs) -> Recs {
        recs.with_session_store(Arc::new(RedisSessions::new(Arc::clone(&self.conn))))
            .with_job_board(Arc::new(RedisJobBoard::new(Arc::clone(&self.conn))))
    }

    /// The connection (tests and tools).
    pub fn conn(&self) -> &Arc<RedisConn> {
        &self.conn
    }
}

/// Open the shared state `urls` name, if any, and attach `recs` to it (used by
/// [`Service::open`]).
pub(crate) fn open(urls: &[String], recs: Recs) -> crate::Result<(Recs, Option<Shared>)> {
    let Some(config) = SharedConfig::from_urls(urls.to_vec()) else {
        return Ok((recs, None));
    };
    let shared = Shared::new(&config).map_err(|e| crate::Error::Unavailable(e.to_string()))?;
    Ok((shared.attach(recs), Some(shared)))
}

impl Service {
    /// The rate-limit buckets every replica shares; `None` without Redis (the limiter
    /// keeps its buckets in the process).
    pub fn shared_rate(&self) -> Option<Arc<SharedRate>> {
        self.shared.as_ref().map(|s| Arc::clone(&s.rate))
    }
}
