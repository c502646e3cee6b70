//! The one write path: every state change is appended to the write log, then applied in
//! log order by one thread, the applier.
//!
//! **Standalone**, a request thread validates its write and hands the applier an [`Op`]
//! (the log [`Entry`] plus what this process precomputed for it, e.g. the analysis of each
//! record). The applier group-commits: every op waiting when it wakes is appended to the
//! local log in one durable append (one fsync), then each entry is applied to the state it
//! changes (catalog store + index, event store + profiles, listener erasure, model
//! activation), each of which records the sequence number it covers. Only then is each
//! caller answered, with its entry's sequence number.
//!
//! **Replicated** (a cluster), the request thread publishes the entry to NATS JetStream
//! itself and waits for the acknowledgement (the entry's `seq`); the applier applies the
//! stream in order as the follower ([`crate::cluster`]) delivers it — entries from every
//! replica — and the writer is answered once its entry is applied here too, so a replica
//! always reads its own writes.
//!
//! Checkpoints (every `checkpoint_interval`, and when the log grows past
//! [`MAX_LOG_BYTES`]) make the derived state durable and, standalone, trim the log. On
//! start, and after a failed apply, the log is replayed after the lowest sequence number
//! the stores cover; each store skips what it already holds, so replaying twice is
//! harmless.

mod worker;

use crate::cluster::jetstream::{Follow, JetStreamLog};
use crate::error::{Error, Result};
use crate::listeners::Tastes;
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use needle_recs::serve::Recs;
use needle_search::schema::Analysis;
use needle_search::{Batch, Engine};
use needle_store::disk::DiskGuard;
use needle_store::{CatalogSnapshot, Entry, EventDigest, EventStore, Ingested, Log, SearchStats, TokenRevocations};
use parking_lot::{Condvar, Mutex};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use worker::Worker;

/// Checkpoint early when the log holds more than this.
pub const MAX_LOG_BYTES: u64 = 256 << 20;
/// Outcomes of this many recent entries are kept for the writers waiting on them.
const KEPT_OUTCOMES: usize = 100_000;

/// A validated write on its way to the log.
pub(crate) struct Op {
    pub entry: Entry,
    /// For catalog entries: each record's analysis, computed by the submitting thread.
    pub analyses: Option<Vec<Option<Analysis>>>,
    /// The caller's idempotency key: in a cluster, the log's message id, so a retried
    /// request is one entry.
    pub key: Option<String>,
}

impl Op {
    /// An op without precomputed analyses or key.
    pub fn new(entry: Entry) -> Op {
        Op {
            entry,
            analyses: None,
            key: None,
        }
    }

    fn size(&self) -> usize {
        match &self.entry {
            Entry::Catalog { records } => records.len(),
            Entry::Events { events } => events.len(),
            Entry::EraseListener { .. } | Entry::RevokeTokens { .. } | Entry::ActivateModel { .. } => 1,
            Entry::Searches { searches, clicks } => searches.len() + clicks.len(),
            Entry::SetSynonyms { .. } | Entry::SetRules { .. } => 1,
        }
    }
}

/// What applying one entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A catalog batch applied.
    Catalog,
    /// Events stored and duplicates dropped.
    Events(Ingested),
    /// Events removed by an erasure.
    Erased(u64),
    /// A model version now served.
    Activated,
    /// A listener's tokens revoked.
    Revoked,
    /// Synonyms or rules set: their new version (0: the entry was applied before).
    Settings(u64),
    /// Applied, but its outcome is no longer kept (a retried request answered late).
    Unknown,
    /// Searches and clicks counted, duplicates dropped.
    Searched(needle_store::searchstats::Applied),
}

impl Outcome {
    /// Two outcomes of one write split over several entries, combined.
    fn merge(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::Events(a), Outcome::Events(b)) => Outcome::Events(Ingested {
                accepted: a.accepted + b.accepted,
                duplicates: a.duplicates + b.duplicates,
            }),
            (Outcome::Erased(a), Outcome::Erased(b)) => Outcome::Erased(a + b),
            (Outcome::Searched(a), Outcome::Searched(b)) => Outcome::Searched(needle_store::searchstats::Applied {
                accepted: a.accepted + b.accepted,
                duplicates: a.duplicates + b.duplicates,
            }),
            (Outcome::Unknown, o) | (o, Outcome::Unknown) => o,
            (a, _) => a,
        }
    }
}

/// The state the applier writes to.
pub(crate) struct Targets {
    pub engine: Arc<Engine>,
    pub events: Arc<EventStore>,
    pub recs: Arc<Recs>,
    pub tastes: Arc<Tastes>,
    /// Revoked listener tokens (durable at each entry, so not part of [`Targets::floor`]).
    pub revocations: Arc<TokenRevocations>,
    /// Search statistics (durable at checkpoints, so part of [`Targets::floor`]).
    pub searchstats: Arc<SearchStats>,
    /// Synonyms and rules (durable at each entry, so not part of [`Targets::floor`]).
    pub settings: Arc<needle_store::Settings>,
    /// This replica's name (in snapshots).
    pub node_id: String,
    /// The data directory (its `LOG.json` goes into snapshots).
    pub data_dir: PathBuf,
    /// In a cluster: the shared directory activated models are fetched from.
    pub shared_models: Option<crate::cluster::remote::SharedDir>,
    /// The catalog store's generation the applied state was replayed in
    /// ([`Engine::generation`]): a catalog batch of another generation is refused.
    pub generation: AtomicU64,
    /// Semantic search, told which entities a catalog entry changed.
    pub semantic: Option<Arc<crate::semantic::Semantic>>,
}

impl Targets {
    /// The lowest sequence number every store covers (replay starts after it).
    pub fn floor(&self) -> Result<u64> {
        Ok(self
            .engine
            .applied_seq()?
            .min(self.events.applied_seq())
            .min(self.searchstats.applied_seq()))
    }

    /// Apply entry `seq`; `encoded` is the entry as the log holds it (the event store keeps
    /// those bytes rather than encoding the events again).
    fn apply(
        &self,
        seq: u64,
        entry: Entry,
        analyses: Option<Vec<Option<Analysis>>>,
        encoded: Option<&[u8]>,
    ) -> Result<Outcome> {
        match entry {
            Entry::Catalog { records } => {
                let ids: Vec<String> = match &self.semantic {
                    Some(_) => records.iter().map(|r| r.id().to_string()).collect(),
                    None => Vec::new(),
                };
                if seq > self.engine.applied_seq()? {
                    let batch = match analyses {
                        Some(a) => Batch::with_analyses(records, a),
                        None => Batch::new(records),
                    };
                    self.engine
                        .apply(batch.in_generation(self.generation.load(Ordering::Acquire)), seq)?;
                }
                if let Some(s) = &self.semantic {
                    s.changed(ids.iter().map(String::as_str));
                }
                Ok(Outcome::Catalog)
            }
            Entry::Events { events } => {
                if events.iter().any(|e| e.kind == needle_core::EventType::SearchClick) {
                    self.searchstats.apply_search_clicks(seq, &events);
                }
                Ok(Outcome::Events(self.events.apply(seq, events, encoded)?))
            }
            Entry::Searches { searches, clicks } => {
                Ok(Outcome::Searched(self.searchstats.apply(seq, &searches, &clicks)))
            }
            Entry::EraseListener {
                user_id,
                tokens_before_ms,
            } => {
                if let Some(before_ms) = tokens_before_ms {
                    self.revocations
                        .apply(seq, &user_id, before_ms, crate::config::auth::REVOCATION_HORIZON_MS)?;
                }
                self.searchstats.erase(seq, &user_id);
                let n = self.events.erase(seq, &user_id)?;
                self.tastes.forget(&user_id);
                Ok(Outcome::Erased(n))
            }
            Entry::RevokeTokens { user_id, before_ms } => {
                self.revocations
                    .apply(seq, &user_id, before_ms, crate::config::auth::REVOCATION_HORIZON_MS)?;
                Ok(Outcome::Revoked)
            }
            Entry::ActivateModel { version, hash } => {
                let (Some(shared), Some(hash)) = (&self.shared_models, hash) else {
                    self.recs.activate(version)?;
                    return Ok(Outcome::Activated);
                };
                // In a cluster a model that cannot be fetched or loaded must not stop the
                // log: this replica keeps its current model and says so.
                let activated = shared
                    .ensure_model(self.recs.dir(), version, &hash)
                    .and_then(|_| Ok(self.recs.activate(version)?));
                if let Err(e) = activated {
                    tracing::error!(version, hash, error = %e, "cannot serve the activated model; keeping the current one");
                }
                Ok(Outcome::Activated)
            }
            Entry::SetSynonyms { groups } => {
                let v = self.settings.set_synonyms(seq, groups)?;
                self.put_curation();
                Ok(Outcome::Settings(v.unwrap_or(0)))
            }
            Entry::SetRules { rules } => {
                let v = self.settings.set_rules(seq, rules)?;
                self.put_curation();
                Ok(Outcome::Settings(v.unwrap_or(0)))
            }
        }
    }

    /// Put the stored synonyms and rules in force in the engine.
    pub fn put_curation(&self) {
        let curation =
            needle_search::curate::Curation::new(&self.settings.synonyms().value, &self.settings.rules().value);
        self.engine.set_curation(curation);
    }
}

/// Where the follower stands (replicated mode).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum FollowState {
    /// Standalone: the log is local.
    Local,
    /// Waiting for the first entry or following the log.
    Following,
    /// The log dropped entries this replica still needs: restore a newer snapshot.
    BehindLog {
        /// The first entry the log still holds.
        first_seq: u64,
    },
    /// The data directory holds state derived from another log than the stream followed:
    /// nothing is applied (see `cluster::identity`).
    WrongLog {
        /// What the directory follows and what to do.
        message: String,
    },
    /// Applying failed; retried by itself.
    Stalled {
        /// Why.
        error: String,
    },
}

/// A write the log acknowledged (see [`Applier::commit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// Its sequence number (of its last part when it was split).
    pub seq: u64,
    /// Whether this replica applied it before the write timeout.
    pub applied: bool,
}

/// State shared by the applier thread and the threads waiting on it.
pub(crate) struct Shared {
    applied: AtomicU64,
    /// Highest sequence number known to exist in the log.
    log_seq: AtomicU64,
    outcomes: Mutex<BTreeMap<u64, std::result::Result<Outcome, String>>>,
    applied_cv: Condvar,
    watch: tokio::sync::watch::Sender<u64>,
    state: Mutex<FollowState>,
    /// Entries applied since start.
    applied_count: AtomicU64,
    /// The free-space watermark: writes are refused and checkpoints wait below it.
    disk: std::sync::OnceLock<DiskGuard>,
    /// Why the stores are behind the log after a failed apply, until they catch up (for
    /// the readiness probe).
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn new(state: FollowState) -> Shared {
        Shared {
            applied: AtomicU64::new(0),
            log_seq: AtomicU64::new(0),
            outcomes: Mutex::new(BTreeMap::new()),
            applied_cv: Condvar::new(),
            watch: tokio::sync::watch::channel(0).0,
            state: Mutex::new(state),
            applied_count: AtomicU64::new(0),
            disk: std::sync::OnceLock::new(),
            failure: Mutex::new(None),
        }
    }

    /// Entry `seq` was applied with `outcome`.
    fn applied(&self, seq: u64, outcome: std::result::Result<Outcome, String>) {
        {
            let mut map = self.outcomes.lock();
            map.insert(seq, outcome);
            while map.len() > KEPT_OUTCOMES {
                map.pop_first();
            }
            if outcome_ok(map.get(&seq)) {
                self.applied.fetch_max(seq, Ordering::AcqRel);
                self.applied_count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.log_seq.fetch_max(seq, Ordering::AcqRel);
        self.watch.send_replace(self.applied.load(Ordering::Acquire));
        self.applied_cv.notify_all();
    }

    fn set_applied(&self, seq: u64) {
        self.applied.store(seq, Ordering::Release);
        self.log_seq.fetch_max(seq, Ordering::AcqRel);
        self.watch.send_replace(seq);
        self.applied_cv.notify_all();
    }
}

fn outcome_ok(o: Option<&std::result::Result<Outcome, String>>) -> bool {
    matches!(o, Some(Ok(_)))
}

/// A consistent look at the applied state (taken between two entries).
pub(crate) struct Probe {
    pub applied_seq: u64,
    pub events: EventDigest,
    pub catalog: CatalogSnapshot,
    pub model_version: u64,
    /// Digest of the revoked tokens (`None`: none revoked).
    pub revocations: Option<u64>,
    /// Digest of the synonyms and rules (`None`: never set).
    pub settings: Option<u64>,
}

/// Messages to the applier thread.
pub(crate) enum Msg {
    /// Standalone: append and apply this op, answer with its seq.
    Write(Op, Reply),
    /// A consistent look at the state.
    Probe(Sender<Result<Probe>>),
    /// Write a consistent snapshot of the state into this (new) directory.
    Snapshot(PathBuf, Sender<Result<crate::snapshot::Manifest>>),
}

pub(crate) type Reply = Sender<Result<(u64, Outcome)>>;

/// Handle of the applier thread.
pub(crate) struct Applier {
    tx: Mutex<Option<Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    shared: Arc<Shared>,
    /// Set in a cluster: writes are published there.
    replicated: Option<Arc<JetStreamLog>>,
    write_timeout: Duration,
}

impl Applier {
    /// Standalone: replay what the local log holds beyond the stores, then start the
    /// applier thread.
    ///
    /// On a disk below `disk`'s mark the replay waits (it writes to the stores): the server
    /// starts and serves what the stores hold, and the log's tail is applied once space is
    /// back (by the first write, or the retry the applier makes every second).
    pub fn start(
        log: Box<dyn Log>,
        targets: Targets,
        checkpoint_interval: Duration,
        disk: DiskGuard,
    ) -> Result<Applier> {
        let shared = Arc::new(Shared::new(FollowState::Local));
        let low = disk.check().err();
        let _ = shared.disk.set(disk);
        let mut worker = Worker::new(Some(log), targets, shared.clone(), None);
        match low {
            None => {
                worker.replay()?;
                worker.checkpoint()?;
            }
            Some(low) => {
                tracing::warn!(
                    available_mb = low.available_mb,
                    min_free_mb = low.min_free_mb,
                    "the disk is nearly full: the write log's tail is applied once space is freed"
                );
                worker.postpone_replay();
            }
        }
        let (tx, rx) = unbounded();
        let never = crossbeam_channel::never();
        Applier::spawn(worker, tx, rx, never, checkpoint_interval, shared, None, Duration::ZERO)
    }

    /// Replicated: apply the cluster's log as `entries` delivers it, from the stores'
    /// floor on; `restart` asks the follower to start again after the last applied entry.
    pub fn start_replicated(
        targets: Targets,
        log: Arc<JetStreamLog>,
        entries: Receiver<Follow>,
        restart: Arc<tokio::sync::Notify>,
        checkpoint_interval: Duration,
        write_timeout: Duration,
        disk: DiskGuard,
    ) -> Result<Applier> {
        let shared = Arc::new(Shared::new(FollowState::Following));
        let _ = shared.disk.set(disk);
        let floor = targets.floor()?;
        shared.set_applied(floor);
        let worker = Worker::new(None, targets, shared.clone(), Some(restart));
        let (tx, rx) = unbounded();
        Applier::spawn(
            worker,
            tx,
            rx,
            entries,
            checkpoint_interval,
            shared,
            Some(log),
            write_timeout,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        worker: Worker,
        tx: Sender<Msg>,
        rx: Receiver<Msg>,
        entries: Receiver<Follow>,
        interval: Duration,
        shared: Arc<Shared>,
        replicated: Option<Arc<JetStreamLog>>,
        write_timeout: Duration,
    ) -> Result<Applier> {
        let thread = std::thread::Builder::new()
            .name("needle-applier".into())
            .spawn(move || worker.run(rx, entries, interval))
            .map_err(|e| Error::Unavailable(format!("cannot start the applier: {e}")))?;
        Ok(Applier {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            shared,
            replicated,
            write_timeout,
        })
    }

    /// `Err(StorageFull)` while the disk guard refuses writes.
    pub fn check_disk(&self) -> Result<()> {
        match self.shared.disk.get().map(DiskGuard::check) {
            Some(Err(low)) => Err(Error::StorageFull {
                available_mb: low.available_mb,
                min_free_mb: low.min_free_mb,
                after_full: low.after_full,
            }),
            _ => Ok(()),
        }
    }

    /// Append `op` to the log, apply it, and return its sequence number and outcome (in a
    /// cluster: of its last entry, when a large write was split over several).
    pub fn write(&self, op: Op) -> Result<(u64, Outcome)> {
        self.check_disk()?;
        if let Some(log) = &self.replicated {
            return self.write_replicated(log, op);
        }
        let (tx, rx) = bounded(1);
        self.sender()?.send(Msg::Write(op, tx)).map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }

    /// Append `op` to the log and wait (at most the write timeout) until it is applied here.
    /// Unlike [`Applier::write`], an entry the log acknowledged but this replica has not
    /// applied in time is not an error: it is committed and every replica applies it in
    /// order (`applied` is false then). For writes whose caller does not read their
    /// outcome, such as the activation of a trained model.
    pub fn commit(&self, op: Op) -> Result<Committed> {
        let Some(log) = &self.replicated else {
            let (seq, _) = self.write(op)?;
            return Ok(Committed { seq, applied: true });
        };
        self.check_disk()?;
        let (seqs, deadline) = self.publish(log, op)?;
        let seq = seqs.iter().copied().max().unwrap_or(0);
        let applied = self.wait_applied(seq, deadline.saturating_duration_since(Instant::now()));
        if applied {
            // An entry that failed to apply here is an error, as for `write`.
            for s in seqs {
                if let Some(Err(e)) = self.shared.outcomes.lock().get(&s) {
                    return Err(Error::Unavailable(e.clone()));
                }
            }
        }
        Ok(Committed { seq, applied })
    }

    fn write_replicated(&self, log: &JetStreamLog, op: Op) -> Result<(u64, Outcome)> {
        let (seqs, deadline) = self.publish(log, op)?;
        let mut outcome = Outcome::Unknown;
        let mut last = 0;
        for seq in seqs {
            outcome = outcome.merge(self.wait_outcome(seq, deadline)?);
            last = last.max(seq);
        }
        Ok((last, outcome))
    }

    /// Publish `op` (split into parts when large) to the replicated log: the parts'
    /// sequence numbers and the deadline of the write.
    fn publish(&self, log: &JetStreamLog, op: Op) -> Result<(Vec<u64>, Instant)> {
        if let FollowState::WrongLog { message } = self.state() {
            // The entry would be in the log but never applied here.
            return Err(Error::WrongLog(message));
        }
        let deadline = Instant::now() + self.write_timeout;
        let parts = split(op.entry, log.max_entry_bytes())?;
        let base = op.key.unwrap_or_else(crate::cluster::unique_id);
        let n = parts.len();
        let msgs = parts
            .into_iter()
            .enumerate()
            .map(|(i, (kind, bytes))| {
                let id = if n == 1 { base.clone() } else { format!("{base}.{i}") };
                (kind.to_string(), bytes, id)
            })
            .collect::<Vec<_>>();
        let seqs = log.publish(&msgs)?;
        if let Some(&last) = seqs.iter().max() {
            // The applier watches for entries known to exist but not delivered.
            self.shared.log_seq.fetch_max(last, Ordering::AcqRel);
        }
        Ok((seqs, deadline))
    }

    /// Wait until entry `seq` is applied here; its outcome.
    fn wait_outcome(&self, seq: u64, deadline: Instant) -> Result<Outcome> {
        let s = &self.shared;
        let mut map = s.outcomes.lock();
        loop {
            match map.get(&seq) {
                Some(Ok(o)) => return Ok(*o),
                Some(Err(e)) => return Err(Error::Unavailable(e.clone())),
                None if s.applied.load(Ordering::Acquire) >= seq => return Ok(Outcome::Unknown),
                None => {}
            }
            if s.applied_cv.wait_until(&mut map, deadline).timed_out() {
                return Err(Error::Unavailable(format!(
                    "entry {seq} is in the write log but this replica has not applied it yet (applied: {}); it will be — read it with min_seq={seq}",
                    s.applied.load(Ordering::Acquire)
                )));
            }
        }
    }

    /// Wait (at most `timeout`) until entry `seq` is applied here; false on timeout.
    pub fn wait_applied(&self, seq: u64, timeout: Duration) -> bool {
        let s = &self.shared;
        let deadline = Instant::now() + timeout;
        let mut map = s.outcomes.lock();
        while s.applied.load(Ordering::Acquire) < seq {
            if s.applied_cv.wait_until(&mut map, deadline).timed_out() {
                return s.applied.load(Ordering::Acquire) >= seq;
            }
        }
        true
    }

    /// Applied sequence numbers as they move (for async waiters).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shared.watch.subscribe()
    }

    /// The sequence number of the last entry applied.
    pub fn applied_seq(&self) -> u64 {
        self.shared.applied.load(Ordering::Acquire)
    }

    /// The highest sequence number known to be in the log.
    pub fn log_seq(&self) -> u64 {
        let known = self
            .replicated
            .as_ref()
            .map_or(0, |l| l.log_seq.load(Ordering::Acquire));
        known.max(self.shared.log_seq.load(Ordering::Acquire))
    }

    /// Entries applied since start.
    pub fn applied_count(&self) -> u64 {
        self.shared.applied_count.load(Ordering::Relaxed)
    }

    /// Why the stores are behind the write log (an entry failed to apply and is retried),
    /// `None` when they are not.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure.lock().clone()
    }

    /// Where the follower stands.
    pub fn state(&self) -> FollowState {
        self.shared.state.lock().clone()
    }

    /// The cluster's log (`None` standalone).
    pub fn replicated_log(&self) -> Option<&Arc<JetStreamLog>> {
        self.replicated.as_ref()
    }

    /// A consistent look at the applied state.
    pub fn probe(&self) -> Result<Probe> {
        let (tx, rx) = bounded(1);
        self.sender()?.send(Msg::Probe(tx)).map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }

    /// Write a consistent snapshot into `dir` (which must not exist); its manifest.
    pub fn snapshot(&self, dir: PathBuf) -> Result<crate::snapshot::Manifest> {
        let (tx, rx) = bounded(1);
        self.sender()?.send(Msg::Snapshot(dir, tx)).map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }

    /// Finish queued writes, checkpoint and stop. Later writes fail with `Unavailable`.
    pub fn shutdown(&self) {
        self.tx.lock().take();
        if let Some(h) = self.thread.lock().take() {
            let _ = h.join();
        }
    }

    fn sender(&self) -> Result<Sender<Msg>> {
        self.tx.lock().as_ref().cloned().ok_or_else(stopped)
    }
}

impl Drop for Applier {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub(crate) fn stopped() -> Error {
    Error::Unavailable("the service is shut down".into())
}

/// Encode an entry as one or more log messages of at most `max` bytes each (a large batch
/// is split in halves; one record or event is never split). Each with its subject kind.
fn split(entry: Entry, max: usize) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let kind = match &entry {
        Entry::Catalog { .. } => "catalog",
        Entry::Events { .. } | Entry::Searches { .. } => "events",
        Entry::EraseListener { .. } | Entry::RevokeTokens { .. } | Entry::ActivateModel { .. } => "control",
        Entry::SetSynonyms { .. } | Entry::SetRules { .. } => "control",
    };
    let bytes = entry.encode()?;
    if bytes.len() <= max {
        return Ok(vec![(kind, bytes)]);
    }
    let halves = match entry {
        Entry::Catalog { mut records } if records.len() > 1 => {
            let tail = records.split_off(records.len() / 2);
            [Entry::Catalog { records }, Entry::Catalog { records: tail }]
        }
        Entry::Events { mut events } if events.len() > 1 => {
            let tail = events.split_off(events.len() / 2);
            [Entry::Events { events }, Entry::Events { events: tail }]
        }
        Entry::Searches {
            mut searches,
            mut clicks,
        } if searches.len() + clicks.len() > 1 => {
            let (s2, c2) = (searches.split_off(searches.len() / 2), clicks.split_off(clicks.len() / 2));
            [
                Entry::Searches { searches, clicks },
                Entry::Searches {
                    searches: s2,
                    clicks: c2,
                },
            ]
        }
        _ => {
            return Err(Error::Store(needle_store::Error::Storage(format!(
                "one {kind} entry of {} bytes is larger than the log's largest message ({max} bytes; raise max_payload of the NATS servers)",
                bytes.len()
            ))))
        }
    };
    let mut out = Vec::new();
    for h in halves {
        out.extend(split(h, max)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use needle_core::Record;

    #[test]
    fn a_large_entry_is_split_in_order_and_every_part_fits() {
        let records: Vec<Record> = (0..100).map(|i| Record::Delete(format!("item-{i:04}"))).collect();
        let whole = Entry::Catalog {
            records: records.clone(),
        }
        .encode()
        .expect("encodes");
        let parts = split(
            Entry::Catalog {
                records: records.clone(),
            },
            whole.len() / 5,
        )
        .expect("splits");
        assert!(parts.len() >= 5, "{}", parts.len());
        let mut back = Vec::new();
        for (kind, bytes) in parts {
            assert_eq!(kind, "catalog");
            assert!(bytes.len() <= whole.len() / 5);
            match serde_json::from_slice::<Entry>(&bytes).expect("decodes") {
                Entry::Catalog { records } => back.extend(records),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, records);
        let one = Entry::EraseListener {
            user_id: "u".repeat(100),
            tokens_before_ms: None,
        };
        assert!(split(one, 10).is_err());
    }

    #[test]
    fn outcomes_of_split_writes_add_up() {
        let a = Outcome::Events(Ingested {
            accepted: 2,
            duplicates: 1,
        });
        let b = Outcome::Events(Ingested {
            accepted: 3,
            duplicates: 0,
        });
        assert_eq!(
            Outcome::Unknown.merge(a).merge(b),
            Outcome::Events(Ingested {
                accepted: 5,
                duplicates: 1
            })
        );
    }
}
