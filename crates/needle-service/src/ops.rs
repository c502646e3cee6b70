//! Operations on a replica: where it stands in the write log (`GET /v1/admin/cluster`),
//! read-your-writes waits (`min_seq`), snapshots and restores.

use crate::applier::FollowState;
use crate::cluster::ClusterStatus;
use crate::error::{Error, Result};
use crate::snapshot::{self, Manifest};
use crate::Service;
use std::path::Path;
use std::time::Duration;

impl Service {
    /// This replica's name.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Is the write log the cluster's (JetStream) rather than a local file?
    pub fn is_clustered(&self) -> bool {
        self.stream.is_some()
    }

    /// The last applied entry, the last known entry of the log, and the entries applied
    /// since start (cheap: for metrics).
    pub fn log_position(&self) -> (u64, u64, u64) {
        let applied = self.applier.applied_seq();
        (
            applied,
            self.applier.log_seq().max(applied),
            self.applier.applied_count(),
        )
    }

    /// Where this replica stands: applied and known log positions, lag, and a digest of
    /// the applied state (computed from a consistent view taken between two entries;
    /// reading the catalog for it costs about a second per million entities, off the
    /// applier thread; cached while nothing is applied).
    pub fn cluster_status(&self) -> Result<ClusterStatus> {
        let (digest_seq, state_digest) = self.state_digest()?;
        let applied_seq = self.applier.applied_seq();
        let log_seq = self.applier.log_seq().max(applied_seq);
        Ok(ClusterStatus {
            node_id: self.node_id.clone(),
            mode: if self.is_clustered() { "cluster" } else { "standalone" },
            applied_seq,
            log_seq,
            lag: log_seq - applied_seq,
            state_digest,
            digest_seq,
            applied_entries: self.applier.applied_count(),
            follower: self.applier.state(),
            stream: self.stream.clone(),
        })
    }

    /// Why this replica should be started again, if it should: the write log dropped
    /// entries it still needs and a snapshot in `<shared_dir>/snapshots` now covers them
    /// (a start restores it). The liveness probe fails with this, so Kubernetes restarts
    /// the pod.
    pub fn needs_restart(&self) -> Option<String> {
        let FollowState::BehindLog { first_seq } = self.applier.state() else {
            return None;
        };
        let stream = self.stream.as_deref()?;
        match crate::cluster::boot::newest_snapshot(&self.shared_dir, None, stream, first_seq.saturating_sub(1)) {
            Ok(Some((path, m))) => Some(format!(
                "the write log starts at entry {first_seq}, after this replica's applied_seq {}; snapshot {} (applied_seq {}) covers the gap and is restored at start",
                self.applier.applied_seq(),
                path.display(),
                m.applied_seq
            )),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list snapshots");
                None
            }
        }
    }

    /// What readiness still waits for besides the engine: the saved recommendation model
    /// loading after a restart (unless `recs.ready_waits_for_model` is off), and the
    /// semantic index loading (unless `semantic.ready_waits_for_index` is off).
    pub fn still_loading(&self) -> Option<&'static str> {
        if self.recs.config().ready_waits_for_model && self.recs.is_loading() {
            return Some("recommendation model");
        }
        match &self.semantic {
            Ok(s) if s.config().ready_waits_for_index && !s.is_ready() => Some("semantic index"),
            _ => None,
        }
    }

    /// Why this replica serves reads but not writes right now, or `None`: a store
    /// recovering from a failed write (a full disk), the stores behind the write log after
    /// a failed apply, or the disk below the free-space mark. Each clears by itself (once
    /// space is freed); the readiness probe reports it as `degraded`.
    pub fn degraded(&self) -> Option<String> {
        if let Some(f) = self.engine.failure() {
            return Some(format!(
                "the catalog engine is recovering from a failed write: {}",
                f.message
            ));
        }
        if let Some(why) = self.applier.failure() {
            return Some(why);
        }
        self.applier.check_disk().err().map(|e| e.to_string())
    }

    /// Does this replica refuse to apply the log (its data directory holds another log's
    /// state)? The message says what to do; the readiness probe fails with it.
    pub fn wrong_log(&self) -> Option<String> {
        match self.applier.state() {
            FollowState::WrongLog { message } => Some(message),
            _ => None,
        }
    }

    /// The applied state's digest and the sequence number it was taken at.
    pub fn state_digest(&self) -> Result<(u64, String)> {
        let applied = self.applier.applied_seq();
        if let Some((seq, d)) = self.digest_cache.lock().clone() {
            if seq == applied {
                return Ok((seq, d));
            }
        }
        let probe = self.applier.probe()?;
        let catalog = probe.catalog.digest()?;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&catalog.to_le_bytes());
        h.update(&probe.events.count.to_le_bytes());
        h.update(&probe.events.digest.to_le_bytes());
        h.update(&probe.model_version.to_le_bytes());
        // Only when some token is revoked, so states without any keep their digests.
        if let Some(r) = probe.revocations {
            h.update(&r.to_le_bytes());
        }
        // Likewise only once synonyms or rules were set.
        if let Some(s) = probe.settings {
            h.update(&s.to_le_bytes());
        }
        let digest = format!("{:032x}", h.digest128());
        *self.digest_cache.lock() = Some((probe.applied_seq, digest.clone()));
        Ok((probe.applied_seq, digest))
    }

    /// Wait (at most `cluster.read_wait_ms`) until this replica has applied `min_seq`:
    /// read-your-writes across replicas.
    pub fn wait_for_seq(&self, min_seq: u64) -> Result<()> {
        if self.applier.wait_applied(min_seq, self.read_wait) {
            return Ok(());
        }
        Err(self.not_caught_up(min_seq))
    }

    /// The error for a `min_seq` not applied in time.
    pub fn not_caught_up(&self, min_seq: u64) -> Error {
        let applied = self.applier.applied_seq();
        let log_seq = self.applier.log_seq().max(applied);
        if min_seq > log_seq && !matches!(self.applier.state(), FollowState::BehindLog { .. }) {
            Error::MinSeqAhead { min_seq, log_seq }
        } else {
            Error::NotCaughtUp {
                node: self.node_id.clone(),
                min_seq,
                applied,
            }
        }
    }

    /// Applied sequence numbers as they move (an async waiter's view of
    /// [`Service::wait_for_seq`]).
    pub fn applied_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applier.subscribe()
    }

    /// How long a `min_seq` read waits.
    pub fn read_wait(&self) -> Duration {
        self.read_wait
    }

    /// Write a consistent snapshot of this replica into the snapshots directory
    /// (`<shared_dir>/snapshots`; a bucket: written locally, then uploaded); its manifest.
    /// Writes on this replica wait while the files are copied (not while uploaded).
    pub fn snapshot(&self) -> Result<Manifest> {
        let root = self.shared_dir.snapshot_root();
        fs_err::create_dir_all(&root).map_err(|e| Error::Unavailable(format!("{}: {e}", root.display())))?;
        let m = self.applier.snapshot(root)?;
        self.shared_dir.publish_snapshot(&m)
    }

    /// The snapshots available, newest first.
    pub fn snapshots(&self) -> Result<Vec<Manifest>> {
        Ok(self.shared_dir.list_snapshots()?.into_iter().map(|(_, m)| m).collect())
    }

    /// Restore snapshot `src` into the empty `data_dir` (before opening a service on it).
    pub fn restore(src: &Path, data_dir: &Path) -> Result<Manifest> {
        fs_err::create_dir_all(data_dir).map_err(|e| Error::Unavailable(format!("{}: {e}", data_dir.display())))?;
        snapshot::restore(src, data_dir)
    }
}
