//! `[cluster]`: replicas on a replicated write log (NATS JetStream), shared state on Redis
//! Cluster, snapshots and models on shared storage. Absent `nats` = standalone (the log is
//! the local file). See docs/cluster.md.

use serde::{Deserialize, Serialize};

/// `[cluster]` settings (env `NEEDLE_CLUSTER__<KEY>`, flags `needle serve --nats --redis
/// --node-id --shared-dir`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// NATS server URLs, comma-separated (`nats://a:4222,nats://b:4222`); empty = standalone.
    pub nats: String,
    /// Redis Cluster node URLs, comma-separated (`redis://a:6379,redis://b:6379`); empty =
    /// sessions, rate limits and job status stay in this process.
    pub redis: String,
    /// This replica's name (unique in the cluster; on Kubernetes the pod name). Empty = the
    /// host name.
    pub node_id: String,
    /// Snapshots and trained models shared by the replicas: a directory every replica
    /// mounts, or an S3-compatible bucket `s3://bucket/prefix` (credentials and endpoint
    /// from the `AWS_*` environment variables). Empty = `<data_dir>/snapshots`
    /// (standalone backups).
    pub shared_dir: String,
    /// Name of the JetStream stream holding the write log (one per Needle cluster).
    pub stream: String,
    /// Copies JetStream keeps of each log entry (1, 3 or 5; 3 survives losing one server).
    pub log_replicas: usize,
    /// Log entries older than this are dropped by JetStream, hours; a replica further
    /// behind restores a snapshot first.
    pub log_max_age_hours: u64,
    /// Largest size of the log stream, MiB; the oldest entries are dropped beyond it.
    pub log_max_mb: u64,
    /// Longest a read with `min_seq` waits for this replica to apply that entry,
    /// milliseconds; then `503 not_caught_up`.
    pub read_wait_ms: u64,
    /// Longest a write waits for JetStream's acknowledgement (and for this replica to
    /// apply it), milliseconds; then `503 unavailable` (retry with the same key).
    pub write_timeout_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nats: String::new(),
            redis: String::new(),
            node_id: String::new(),
            shared_dir: String::new(),
            stream: "NEEDLE".into(),
            log_replicas: 3,
            log_max_age_hours: 168,
            log_max_mb: 10_240,
            read_wait_ms: 5_000,
            write_timeout_ms: 10_000,
        }
    }
}

/// Split a comma-separated URL list, trimming blanks.
pub fn urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl ClusterConfig {
    /// Is the log replicated (NATS configured)?
    pub fn is_clustered(&self) -> bool {
        !urls(&self.nats).is_empty()
    }

    /// This replica's name: `node_id`, else the host name, else `needle`.
    pub fn node_name(&self) -> String {
        if !self.node_id.trim().is_empty() {
            return self.node_id.trim().to_string();
        }
        std::env::var("HOSTNAME")
            .ok()
            .or_else(|| fs_err::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "needle".into())
    }

    /// Problems with these values, each `cluster.<key>: why`.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        for u in urls(&self.nats) {
            if !(u.starts_with("nats://") || u.starts_with("tls://") || !u.contains("://")) {
                p.push(format!("cluster.nats: `{u}` is not a NATS URL (nats://host:port)"));
            }
        }
        for u in urls(&self.redis) {
            if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                p.push(format!("cluster.redis: `{u}` is not a Redis URL (redis://host:port)"));
            }
        }
        if self.node_id.len() > 128
            || !self
                .node_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            p.push(format!(
                "cluster.node_id: letters, digits, `-`, `_` and `.` only, at most 128, got `{}`",
                self.node_id
            ));
        }
        let shared = self.shared_dir.trim();
        if shared.starts_with("s3://") {
            if let Err(e) = crate::cluster::remote::parse_s3_url(shared) {
                p.push(format!("cluster.shared_dir: {e}"));
            }
        } else if shared.contains("://") {
            p.push(format!(
                "cluster.shared_dir: `{shared}`: give a directory or an s3://bucket/prefix URL"
            ));
        }
        if self.stream.is_empty()
            || self.stream.len() > 64
            || !self
                .stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            p.push(format!(
                "cluster.stream: letters, digits, `-` and `_` only, 1 to 64, got `{}`",
                self.stream
            ));
        }
        if ![1, 3, 5].contains(&self.log_replicas) {
            p.push(format!(
                "cluster.log_replicas: must be 1, 3 or 5, got {}",
                self.log_replicas
            ));
        }
        if !(1..=87_600).contains(&self.log_max_age_hours) {
            p.push(format!(
                "cluster.log_max_age_hours: must be between 1 and 87600, got {}",
                self.log_max_age_hours
            ));
        }
        if !(64..=16_777_216).contains(&self.log_max_mb) {
            p.push(format!(
                "cluster.log_max_mb: must be between 64 and 16777216, got {}",
                self.log_max_mb
            ));
        }
        if !(1..=600_000).contains(&self.read_wait_ms) {
            p.push(format!(
                "cluster.read_wait_ms: must be between 1 and 600000, got {}",
                self.read_wait_ms
            ));
        }
        if !(100..=600_000).contains(&self.write_timeout_ms) {
            p.push(format!(
                "cluster.write_timeout_ms: must be between 100 and 600000, got {}",
                self.write_timeout_ms
            ));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_standalone_and_valid() {
        let c = ClusterConfig::default();
        assert!(!c.is_clustered());
        assert!(c.problems().is_empty());
    }

    #[test]
    fn url_lists_split_and_bad_values_name_their_key() {
        assert_eq!(
            urls(" nats://a:4222, ,nats://b:4222 "),
            ["nats://a:4222", "nats://b:4222"]
        );
        let c = ClusterConfig {
            nats: "http://x".into(),
            redis: "x:6379".into(),
            node_id: "a b".into(),
            log_replicas: 2,
            ..ClusterConfig::default()
        };
        let p = c.problems();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].starts_with("cluster.nats:"));
        assert!(p[1].starts_with("cluster.redis:"));
        assert!(p[2].starts_with("cluster.node_id:"));
        assert!(p[3].starts_with("cluster.log_replicas:"));
    }

    #[test]
    fn shared_dir_is_a_path_or_an_s3_url_with_a_bucket() {
        let with = |s: &str| ClusterConfig {
            shared_dir: s.into(),
            ..ClusterConfig::default()
        };
        for ok in ["/mnt/needle", "s3://needle-backups", "s3://needle-backups/prod/eu/"] {
            assert!(with(ok).problems().is_empty(), "{ok}: {:?}", with(ok).problems());
        }
        for bad in [
            "s3://",
            "s3:///prefix",
            "s3://Bad_Bucket/x",
            "s3://bucket//x",
            "gs://bucket",
        ] {
            let p = with(bad).problems();
            assert_eq!(p.len(), 1, "{bad}: {p:?}");
            assert!(p[0].starts_with("cluster.shared_dir:"), "{p:?}");
        }
    }
}
