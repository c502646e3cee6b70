//! Needle as a cluster of replicas (docs/cluster.md): the write log is a NATS JetStream
//! stream ([`jetstream`]); each replica follows it from its own `applied_seq + 1` and
//! applies every entry in order with the same applier as standalone.

pub(crate) mod boot;
pub mod identity;
pub mod jetstream;
mod lease;
pub(crate) mod models;
pub mod remote;

use crate::applier::FollowState;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// A process-unique message id for a write given without an idempotency key: the
/// node's nuid plus a counter (JetStream deduplicates the publish's own retries on it).
pub(crate) fn unique_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let p = PREFIX.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        format!("{:x}-{:016x}", nanos, h.finish())
    });
    format!("{p}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// `GET /v1/admin/cluster`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClusterStatus {
    /// This replica.
    pub node_id: String,
    /// `standalone` or `cluster`.
    pub mode: &'static str,
    /// The last log entry applied here.
    pub applied_seq: u64,
    /// The last log entry known to exist.
    pub log_seq: u64,
    /// `log_seq - applied_seq`.
    pub lag: u64,
    /// A hash of the applied state (catalog, events, served model): equal on every replica
    /// at the same `applied_seq`.
    pub state_digest: String,
    /// The sequence number `state_digest` was taken at.
    pub digest_seq: u64,
    /// Entries applied since this process started.
    pub applied_entries: u64,
    /// Where the follower stands.
    #[schema(value_type = Object)]
    pub follower: FollowState,
    /// The log stream (cluster mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
}
