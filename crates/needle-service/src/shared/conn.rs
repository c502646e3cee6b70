//! The one connection to Redis Cluster a service holds, on a small runtime of its own.
//!
//! The service is synchronous (handlers call it from tokio's blocking pool, the CLI from
//! plain threads), the redis crate's cluster client asynchronous: every command runs as a
//! task on this module's runtime (one worker thread, `needle-redis`), bounded by
//! [`SharedConfig::timeout`]. A blocking caller waits on a channel, so no caller ever
//! blocks a tokio worker of the server; the rate limiter awaits the task instead.
//!
//! The connection is made on first use and dropped after a failure that may have broken
//! it; the next command connects again. The cluster client itself follows slot moves and
//! failovers (it re-reads the slot map when a node refuses or redirects).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::RedisError;

use super::{SharedConfig, SharedError};

/// Retries of one command inside the cluster client (redirects, a refused node); the
/// command's [`SharedConfig::timeout`] bounds them all.
const CLIENT_RETRIES: u32 = 4;

struct Inner {
    client: ClusterClient,
    conn: Mutex<Option<ClusterConnection>>,
    timeout: Duration,
}

/// A lazily connected, self-repairing cluster connection and the runtime its commands run
/// on. Cheap to share behind an `Arc`.
pub struct RedisConn {
    inner: Arc<Inner>,
    /// `Some` until dropped (a runtime is shut down in the background, which is allowed
    /// from any context).
    rt: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl RedisConn {
    /// A client for `config.urls`; nothing is connected yet (a Redis down at start does not
    /// stop the service: the first commands fail, later ones connect).
    pub fn new(config: &SharedConfig) -> Result<RedisConn, SharedError> {
        let client = ClusterClientBuilder::new(config.urls.clone())
            .connection_timeout(config.timeout)
            .response_timeout(config.timeout)
            .retries(CLIENT_RETRIES)
            .min_retry_wait(10)
            .max_retry_wait(200)
            .build()
            .map_err(|e| SharedError::Config(e.to_string()))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("needle-redis")
            .enable_all()
            .build()
            .map_err(|e| SharedError::Config(format!("cannot start the Redis client's runtime: {e}")))?;
        Ok(RedisConn {
            handle: rt.handle().clone(),
            rt: Some(rt),
            inner: Arc::new(Inner {
                client,
                conn: Mutex::new(None),
                timeout: config.timeout,
            }),
        })
    }

    /// Run `command` on a connection, from a thread that may block (never a tokio worker).
    pub fn blocking<T, F, Fut>(&self, command: F) -> Result<T, SharedError>
    where
        F: FnOnce(ClusterConnection) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, RedisError>> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let inner = Arc::clone(&self.inner);
        self.handle.spawn(async move {
            let _ = tx.send(run(&inner, command).await);
        });
        // The task answers within its timeout; a dropped sender means the runtime stopped.
        rx.recv()
            .unwrap_or_else(|_| Err(SharedError::Unavailable("the Redis client is shut down".into())))
    }

    /// Run `command` on a connection from async code (any runtime): the command runs on
    /// this module's runtime and is awaited here.
    pub async fn run<T, F, Fut>(&self, command: F) -> Result<T, SharedError>
    where
        F: FnOnce(ClusterConnection) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, RedisError>> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        match self.handle.spawn(async move { run(&inner, command).await }).await {
            Ok(r) => r,
            Err(e) => Err(SharedError::Unavailable(format!("the Redis command task failed: {e}"))),
        }
    }
}

impl Drop for RedisConn {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// One command with the deadline, connecting first when needed; a connection that may
/// be broken is dropped so the next command starts afresh.
async fn run<T, F, Fut>(inner: &Inner, command: F) -> Result<T, SharedError>
where
    F: FnOnce(ClusterConnection) -> Fut,
    Fut: Future<Output = Result<T, RedisError>>,
{
    let attempt = async {
        let cached = inner.conn.lock().clone();
        let conn = match cached {
            Some(c) => c,
            None => {
                let c = inner.client.get_async_connection().await?;
                *inner.conn.lock() = Some(c.clone());
                c
            }
        };
        command(conn).await
    };
    match tokio::time::timeout(inner.timeout, attempt).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            if breaks_connection(&e) {
                *inner.conn.lock() = None;
            }
            Err(SharedError::Unavailable(e.to_string()))
        }
        Err(_) => {
            *inner.conn.lock() = None;
            Err(SharedError::Unavailable(format!(
                "no answer within {} ms",
                inner.timeout.as_millis()
            )))
        }
    }
}

/// Errors after which the connection is rebuilt (its slot map or sockets may be stale);
/// a script's own error is not one.
fn breaks_connection(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_cluster_error()
        || e.is_unrecoverable_error()
}
