//! The one write path: every state change is appended to the write log, then applied in
//! log order by one thread, the applier.
//!
//! A request thread validates its write and hands the applier an [`Op`] (the log
//! [`Entry`] plus what this process precomputed for it, e.g. the analysis of each record).
//! The applier group-commits: every op waiting when it wakes is appended to the log in one
//! durable append (one fsync standalone), then each entry is applied to the state it
//! changes (catalog store + index, event store + profiles, listener erasure, model
//! activation), each of which records the sequence number it covers. Only then is each
//! caller answered, with its entry's sequence number.
//!
//! Checkpoints (every `checkpoint_interval`, and when the log grows past
//! [`MAX_LOG_BYTES`]) make the derived state durable and trim the log. On start, and after
//! a failed apply, the log is replayed after the lowest sequence number the stores cover;
//! each store skips what it already holds, so replaying twice is harmless.

use crate::error::{Error, Result};
use crate::listeners::Tastes;
use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use needle_recs::serve::Recs;
use needle_search::schema::Analysis;
use needle_search::{Batch, Engine};
use needle_store::{Entry, EventStore, Ingested, Log};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Checkpoint early when the log holds more than this.
pub const MAX_LOG_BYTES: u64 = 256 << 20;
/// Most records and events merged into one group commit.
const MAX_GROUP_ITEMS: usize = 200_000;

/// A validated write on its way to the log.
pub(crate) struct Op {
    pub entry: Entry,
    /// For catalog entries: each record's analysis, computed by the submitting thread.
    pub analyses: Option<Vec<Option<Analysis>>>,
}

impl Op {
    fn size(&self) -> usize {
        match &self.entry {
            Entry::Catalog { records } => records.len(),
            Entry::Events { events } => events.len(),
            Entry::EraseListener { .. } | Entry::ActivateModel { .. } => 1,
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
}

/// The state the applier writes to.
pub(crate) struct Targets {
    pub engine: Arc<Engine>,
    pub events: Arc<EventStore>,
    pub recs: Arc<Recs>,
    pub tastes: Arc<Tastes>,
}

impl Targets {
    /// The lowest sequence number every store covers (replay starts after it).
    fn floor(&self) -> Result<u64> {
        Ok(self.engine.applied_seq()?.min(self.events.applied_seq()))
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
                if seq > self.engine.applied_seq()? {
                    let batch = match analyses {
                        Some(a) => Batch::with_analyses(records, a),
                        None => Batch::new(records),
                    };
                    self.engine.apply(batch, seq)?;
                }
                Ok(Outcome::Catalog)
            }
            Entry::Events { events } => Ok(Outcome::Events(self.events.apply(seq, events, encoded)?)),
            Entry::EraseListener { user_id } => {
                let n = self.events.erase(seq, &user_id)?;
                self.tastes.forget(&user_id);
                Ok(Outcome::Erased(n))
            }
            Entry::ActivateModel { version } => {
                self.recs.activate(version)?;
                Ok(Outcome::Activated)
            }
        }
    }
}

type Reply = Sender<Result<(u64, Outcome)>>;

/// A write and where its answer goes.
struct Msg(Op, Reply);

/// Handle of the applier thread.
pub(crate) struct Applier {
    tx: Mutex<Option<Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    applied: Arc<AtomicU64>,
}

impl Applier {
    /// Replay what the log holds beyond the stores, then start the applier thread.
    pub fn start(log: Box<dyn Log>, targets: Targets, checkpoint_interval: Duration) -> Result<Applier> {
        let applied = Arc::new(AtomicU64::new(0));
        let mut worker = Worker {
            log,
            targets,
            applied: applied.clone(),
            failed: false,
            dirty: false,
        };
        worker.replay()?;
        worker.checkpoint()?;
        let (tx, rx) = unbounded();
        let thread = std::thread::Builder::new()
            .name("needle-applier".into())
            .spawn(move || worker.run(rx, checkpoint_interval))
            .map_err(|e| Error::Unavailable(format!("cannot start the applier: {e}")))?;
        Ok(Applier {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            applied,
        })
    }

    /// Append `op` to the log, apply it, and return its sequence number and outcome.
    pub fn write(&self, op: Op) -> Result<(u64, Outcome)> {
        let (tx, rx) = bounded(1);
        self.sender()?.send(Msg(op, tx)).map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }

    /// The sequence number of the last entry applied.
    pub fn applied_seq(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
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

fn stopped() -> Error {
    Error::Unavailable("the service is shut down".into())
}

struct Worker {
    log: Box<dyn Log>,
    targets: Targets,
    applied: Arc<AtomicU64>,
    /// An apply failed: the stores are behind the log until a replay succeeds.
    failed: bool,
    /// Applied entries not yet checkpointed.
    dirty: bool,
}

impl Worker {
    fn run(mut self, rx: Receiver<Msg>, interval: Duration) {
        let mut last_checkpoint = Instant::now();
        loop {
            let wait = if self.dirty {
                interval.saturating_sub(last_checkpoint.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            match rx.recv_timeout(wait) {
                Ok(Msg(op, reply)) => {
                    let mut n = op.size();
                    let mut group = vec![(op, reply)];
                    while n < MAX_GROUP_ITEMS {
                        let Ok(Msg(op, reply)) = rx.try_recv() else { break };
                        n += op.size();
                        group.push((op, reply));
                    }
                    self.commit_group(group);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    if let Err(e) = self.checkpoint() {
                        tracing::error!(error = %e, "final checkpoint failed");
                    }
                    return;
                }
            }
            let due = last_checkpoint.elapsed() >= interval || self.log.size_bytes() > MAX_LOG_BYTES;
            if self.dirty && due {
                if let Err(e) = self.checkpoint() {
                    tracing::error!(error = %e, "checkpoint failed");
                }
                last_checkpoint = Instant::now();
            }
        }
    }

    fn commit_group(&mut self, group: Vec<(Op, Reply)>) {
        if self.failed {
            match self.replay() {
                Ok(()) => {
                    tracing::info!("the stores caught up with the write log again");
                    self.failed = false;
                }
                Err(e) => {
                    let msg = format!("the stores are behind the write log and cannot catch up: {e}");
                    for (_, reply) in group {
                        let _ = reply.send(Err(Error::Unavailable(msg.clone())));
                    }
                    return;
                }
            }
        }
        let mut entries = Vec::with_capacity(group.len());
        let mut encoded = Vec::with_capacity(group.len());
        let mut rest = Vec::with_capacity(group.len());
        for (op, reply) in group {
            match op.entry.encode() {
                Ok(bytes) => {
                    encoded.push(bytes);
                    entries.push(op.entry);
                    rest.push((op.analyses, reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            }
        }
        let first = match self.log.append(&encoded) {
            Ok(first) => first,
            Err(e) => {
                let msg = e.to_string();
                for (_, reply) in rest {
                    let _ = reply.send(Err(Error::Store(needle_store::Error::Storage(msg.clone()))));
                }
                return;
            }
        };
        self.dirty = true;
        for (i, ((entry, bytes), (analyses, reply))) in entries.into_iter().zip(&encoded).zip(rest).enumerate() {
            let seq = first + i as u64;
            if self.failed {
                let _ = reply.send(Err(Error::Unavailable(format!(
                    "entry {seq} is in the write log but an earlier entry failed to apply; it is applied when the stores recover"
                ))));
                continue;
            }
            match self.targets.apply(seq, entry, analyses, Some(bytes)) {
                Ok(outcome) => {
                    self.applied.store(seq, Ordering::Release);
                    let _ = reply.send(Ok((seq, outcome)));
                }
                Err(e) => {
                    tracing::error!(seq, error = %e, "applying a write-log entry failed");
                    self.failed = true;
                    let _ = reply.send(Err(e));
                }
            }
        }
    }

    /// Apply every log entry the stores do not hold yet.
    fn replay(&mut self) -> Result<()> {
        let floor = self.targets.floor()?;
        let started = Instant::now();
        let mut n = 0u64;
        let mut last = floor;
        let targets = &self.targets;
        let mut err = None;
        self.log.replay_after(floor, &mut |seq, entry| {
            if err.is_none() {
                match targets.apply(seq, entry, None, None) {
                    Ok(_) => {
                        n += 1;
                        last = seq;
                    }
                    Err(e) => err = Some(e),
                }
            }
            Ok(())
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        let last = last.max(self.log.last_seq());
        self.applied.store(last, Ordering::Release);
        if n > 0 {
            self.dirty = true;
            tracing::info!(
                entries = n,
                from = floor,
                to = last,
                seconds = started.elapsed().as_secs_f64(),
                "write log replayed"
            );
        }
        Ok(())
    }

    /// Make the stores durable up to the last applied entry, then trim the log.
    fn checkpoint(&mut self) -> Result<()> {
        if self.failed {
            return Ok(());
        }
        let applied = self.applied.load(Ordering::Acquire);
        // The event store records the checkpoint too, so numbering continues above it
        // after the log is trimmed empty (the catalog store may be further behind).
        if self.targets.events.applied_seq() < applied {
            self.targets.events.apply(applied, Vec::new(), None)?;
        }
        self.targets.events.sync()?;
        self.targets.engine.sync()?;
        self.log.trim(applied)?;
        self.dirty = false;
        Ok(())
    }
}
