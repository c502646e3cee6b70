//! The applier thread: standalone, it group-commits writes to the local log and applies
//! them; replicated, it applies the cluster log's entries as the follower delivers them.
//! Both checkpoint, answer probes and write snapshots between two entries.

use super::{Follow, Msg, Probe, Reply, Shared, Targets, MAX_LOG_BYTES};
use super::{FollowState, Op};
use crate::cluster::jetstream::Delivered;
use crate::error::{Error, Result};
use crossbeam_channel::{select, Receiver};
use needle_store::{Entry, Log};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most records and events merged into one group commit.
const MAX_GROUP_ITEMS: usize = 200_000;
/// After a failed apply in a cluster, wait this long before reading the log again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// In a cluster, entries known to be in the log (a write published here, or reported
/// pending) but none delivered for this long: the follower's consumer is presumed lost
/// (e.g. its NATS server was killed) and recreated, rather than waiting for the client
/// library's missed-heartbeat detection.
const STALL_AFTER: Duration = Duration::from_secs(3);

pub(super) struct Worker {
    /// Standalone: the local log. `None` in a cluster (entries arrive from the follower).
    log: Option<Box<dyn Log>>,
    targets: Targets,
    shared: Arc<Shared>,
    /// Replicated: asks the follower to start again after the last applied entry.
    restart: Option<Arc<tokio::sync::Notify>>,
    /// An apply failed: the stores are behind the log until a replay succeeds.
    failed: bool,
    /// ... because of the disk or a store's I/O (a full disk, a store reopened after a
    /// failed write): writes are refused with `storage_full` meanwhile.
    trouble: bool,
    /// The catalog store was reopened: replay at once, even on a full disk (what it lost
    /// is applied in memory until the next durable commit, so reads see it again).
    replay_now: bool,
    /// Replicated: when to read the log again after a failure.
    retry_at: Option<Instant>,
    /// Applied entries not yet checkpointed.
    dirty: bool,
    /// Replicated: when an entry was last delivered, or the follower last restarted.
    progress_at: Instant,
}

impl Worker {
    pub(super) fn new(
        log: Option<Box<dyn Log>>,
        targets: Targets,
        shared: Arc<Shared>,
        restart: Option<Arc<tokio::sync::Notify>>,
    ) -> Worker {
        Worker {
            log,
            targets,
            shared,
            restart,
            failed: false,
            trouble: false,
            replay_now: false,
            retry_at: None,
            dirty: false,
            progress_at: Instant::now(),
        }
    }

    fn applied(&self) -> u64 {
        self.shared.applied.load(Ordering::Acquire)
    }

    pub(super) fn run(mut self, rx: Receiver<Msg>, entries: Receiver<Follow>, interval: Duration) {
        let mut last_checkpoint = Instant::now();
        let mut entries_open = true;
        loop {
            let mut wait = if self.dirty {
                interval.saturating_sub(last_checkpoint.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            if let Some(at) = self.retry_at {
                wait = wait.min(at.saturating_duration_since(Instant::now()));
            }
            if self.awaiting_entries() {
                wait = wait.min(STALL_AFTER / 4);
            }
            // A store reopened after a failed write is noticed within a second.
            wait = wait.min(RETRY_AFTER);
            let never = crossbeam_channel::never();
            let entries_rx = if entries_open { &entries } else { &never };
            select! {
                recv(rx) -> m => match m {
                    Ok(Msg::Write(op, reply)) => {
                        let mut n = op.size();
                        let mut group = vec![(op, reply)];
                        let mut other = None;
                        while n < MAX_GROUP_ITEMS {
                            match rx.try_recv() {
                                Ok(Msg::Write(op, reply)) => {
                                    n += op.size();
                                    group.push((op, reply));
                                }
                                Ok(m) => {
                                    other = Some(m);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        self.commit_group(group);
                        if let Some(m) = other {
                            self.control(m);
                        }
                    }
                    Ok(m) => self.control(m),
                    Err(_) => {
                        if let Err(e) = self.checkpoint_with(true) {
                            tracing::error!(error = %e, "final checkpoint failed");
                        }
                        return;
                    }
                },
                recv(entries_rx) -> m => match m {
                    Ok(Follow::Entry(d)) => self.apply_delivered(d),
                    Ok(Follow::Gap { applied, first_seq }) => {
                        tracing::error!(
                            applied,
                            first_seq,
                            "the write log no longer holds the entries this replica needs: restore a newer snapshot"
                        );
                        *self.shared.state.lock() = FollowState::BehindLog { first_seq };
                    }
                    Ok(Follow::Started { from }) => {
                        tracing::debug!(from, "the follower started a consumer");
                        self.progress_at = Instant::now();
                    }
                    Ok(Follow::WrongLog(message)) => {
                        tracing::error!(%message, "not applying the write log");
                        *self.shared.state.lock() = FollowState::WrongLog { message };
                    }
                    Err(_) => entries_open = false,
                },
                default(wait) => {}
            }
            self.check_engine();
            if let Some(at) = self.retry_at {
                if Instant::now() >= at && self.log.is_some() {
                    self.retry_replay();
                } else if Instant::now() >= at && !self.has_room() {
                    self.retry_at = Some(Instant::now() + RETRY_AFTER);
                } else if Instant::now() >= at {
                    self.retry_at = None;
                    self.failed = false;
                    if let Some(r) = &self.restart {
                        tracing::info!(
                            from = self.applied() + 1,
                            "reading the write log again after a failed apply"
                        );
                        r.notify_one();
                    }
                }
            }
            self.restart_if_stalled();
            let big = self.log.as_ref().is_some_and(|l| l.size_bytes() > MAX_LOG_BYTES);
            if self.dirty && (last_checkpoint.elapsed() >= interval || big) {
                // On a nearly full disk the stores must not meet ENOSPC (redb then refuses
                // reads too): the log holds every applied entry, so the checkpoint waits.
                match self.shared.disk.get().map(needle_store::disk::DiskGuard::check) {
                    Some(Err(low)) => tracing::warn!(
                        available_mb = low.available_mb,
                        min_free_mb = low.min_free_mb,
                        "checkpoint postponed: the disk is nearly full"
                    ),
                    _ => {
                        if let Err(e) = self.checkpoint() {
                            tracing::error!(error = %e, "checkpoint failed");
                            if e.is_disk_full() {
                                self.met_full_disk();
                            }
                        }
                    }
                }
                last_checkpoint = Instant::now();
            }
        }
    }

    /// Probes and snapshots, between two entries.
    fn control(&mut self, m: Msg) {
        match m {
            Msg::Write(op, reply) => self.commit_group(vec![(op, reply)]),
            Msg::Probe(reply) => {
                let _ = reply.send(self.probe());
            }
            Msg::Snapshot(dir, reply) => {
                let _ = reply.send(self.snapshot(&dir));
            }
        }
    }

    fn probe(&self) -> Result<Probe> {
        Ok(Probe {
            applied_seq: self.applied(),
            events: self.targets.events.digest(),
            catalog: self.targets.engine.view()?,
            model_version: self.targets.recs.model().map_or(0, |m| m.version),
            revocations: (!self.targets.revocations.is_empty()).then(|| self.targets.revocations.digest()),
            settings: self.targets.settings.digest(),
        })
    }

    /// Checkpoint, then copy the state into a new snapshot in `root` (or answer the one
    /// already there for this sequence number).
    fn snapshot(&mut self, root: &Path) -> Result<crate::snapshot::Manifest> {
        if self.failed {
            return Err(Error::Unavailable(
                "an entry failed to apply; a snapshot now would not be consistent".into(),
            ));
        }
        self.checkpoint_with(true)?;
        let seq = self.applied();
        let dir = crate::snapshot::path_for(root, seq, &self.targets.node_id);
        if dir.exists() {
            return crate::snapshot::read_manifest(&dir);
        }
        let now = needle_core::time::system().now_ms();
        crate::snapshot::write(&self.targets, &dir, seq, &self.targets.node_id, now)
    }

    /// Replicated: apply one delivered entry, in order.
    fn apply_delivered(&mut self, d: Delivered) {
        self.progress_at = Instant::now();
        let applied = self.applied();
        self.shared.log_seq.fetch_max(d.seq + d.pending, Ordering::AcqRel);
        if d.seq <= applied || self.failed {
            return;
        }
        if d.seq > applied + 1 {
            tracing::warn!(
                seq = d.seq,
                applied,
                "write-log entry out of order; reading the log again"
            );
            self.fail_and_retry(format!("entry {} arrived before entry {}", d.seq, applied + 1));
            return;
        }
        let entry: Entry = match serde_json::from_slice(&d.payload) {
            Ok(e) => e,
            Err(e) => {
                let msg = format!("entry {} cannot be decoded (written by a newer Needle?): {e}", d.seq);
                tracing::error!("{msg}");
                self.shared.applied(d.seq, Err(msg.clone()));
                *self.shared.state.lock() = FollowState::Stalled { error: msg };
                self.failed = true;
                return;
            }
        };
        match self.targets.apply(d.seq, entry, None, Some(&d.payload)) {
            Ok(outcome) => {
                self.dirty = true;
                self.shared.applied(d.seq, Ok(outcome));
                if self.trouble || self.shared.failure.lock().is_some() {
                    self.caught_up();
                }
                let mut st = self.shared.state.lock();
                if *st != FollowState::Following {
                    *st = FollowState::Following;
                }
            }
            Err(e) => {
                tracing::error!(seq = d.seq, error = %e, "applying a write-log entry failed");
                self.shared.applied(d.seq, Err(e.to_string()));
                self.fail_and_retry(e.to_string());
            }
        }
    }

    /// Standalone, at start on a nearly full disk: the log's tail is applied later
    /// ([`Worker::retry_replay`], or before the next write).
    pub(super) fn postpone_replay(&mut self) {
        self.failed = true;
        self.trouble = true;
        *self.shared.failure.lock() =
            Some("the disk is nearly full: the write log's tail is applied once space is freed".into());
        self.retry_at = Some(Instant::now() + RETRY_AFTER);
    }

    /// Raise the free-space mark: a write met a full disk.
    fn met_full_disk(&self) {
        if let Some(guard) = self.shared.disk.get() {
            guard.met_full_disk();
        }
    }

    /// The disk is above the free-space mark (or cannot be asked).
    fn has_room(&self) -> bool {
        !matches!(
            self.shared.disk.get().map(needle_store::disk::DiskGuard::check),
            Some(Err(_))
        )
    }

    /// Did applying fail with `e` for the disk or a store's I/O (not for the entry)?
    fn storage_trouble(&self, e: &Error) -> bool {
        use needle_store::Error as S;
        e.is_disk_full()
            || self.targets.engine.failure().is_some()
            || self.targets.engine.generation() != self.targets.generation.load(Ordering::Acquire)
            || matches!(
                e,
                Error::Store(S::Io { .. } | S::Failed(_))
                    | Error::Search(needle_search::Error::Store(S::Io { .. } | S::Failed(_)))
            )
    }

    /// The stores fell behind the log (`why`); they catch up by themselves.
    fn fall_behind(&mut self, why: String, trouble: bool) {
        self.failed = true;
        self.trouble |= trouble;
        self.retry_at.get_or_insert_with(|| Instant::now() + RETRY_AFTER);
        *self.shared.failure.lock() = Some(why);
    }

    /// The stores caught up with the log again.
    fn caught_up(&mut self) {
        if self.failed {
            tracing::info!("the stores caught up with the write log again");
        }
        self.failed = false;
        self.trouble = false;
        self.replay_now = false;
        *self.shared.failure.lock() = None;
    }

    /// What a write is answered while the stores are behind the log (`why`).
    fn behind_error(&self, why: String) -> Error {
        if self.trouble {
            Error::StoreFailed(format!(
                "the disk of the data directory is full or a store failed a write, and the stores are catching up with the write log by themselves: {why}; the write was not stored — retry once space is freed"
            ))
        } else {
            Error::Unavailable(why)
        }
    }

    /// Has the engine reopened its catalog store after a failed write? The store went back
    /// to its last durable commit: what it lost is in the log, applied again from there.
    fn check_engine(&mut self) {
        let generation = self.targets.engine.generation();
        if generation == self.targets.generation.load(Ordering::Acquire) {
            return;
        }
        tracing::warn!(
            generation,
            "the catalog store was reopened after a failed write: applying the write log again from what it holds"
        );
        let why =
            "the catalog store was reopened after a failed write and is catching up with the write log".to_string();
        if self.log.is_some() {
            self.replay_now = true;
            self.fall_behind(why, true);
            self.retry_at = Some(Instant::now());
            return;
        }
        // Replicated: read the log again from the stores' floor.
        match self.targets.floor() {
            Ok(floor) => {
                self.targets.generation.store(generation, Ordering::Release);
                self.shared.set_applied(floor);
                self.trouble = true;
                self.fail_and_retry(why);
            }
            Err(e) => tracing::warn!(error = %e, "the catalog store cannot be read yet"),
        }
    }

    /// Standalone: apply the log's tail the stores missed, once the disk has room again;
    /// tried every [`RETRY_AFTER`] until it succeeds.
    fn retry_replay(&mut self) {
        self.retry_at = None;
        if !self.failed {
            return;
        }
        let now = std::mem::take(&mut self.replay_now);
        if now || self.has_room() {
            match self.replay() {
                Ok(()) => {
                    self.caught_up();
                    return;
                }
                Err(e) => {
                    if e.is_disk_full() {
                        self.met_full_disk();
                    }
                    tracing::warn!(error = %e, "the stores cannot catch up with the write log yet");
                }
            }
        }
        self.retry_at = Some(Instant::now() + RETRY_AFTER);
    }

    /// Replicated and following (or retrying after a failed entry): entries are known to be
    /// in the log beyond what is applied.
    fn awaiting_entries(&self) -> bool {
        self.restart.is_some()
            && !self.failed
            && self.shared.log_seq.load(Ordering::Acquire) > self.applied()
            && matches!(
                *self.shared.state.lock(),
                FollowState::Following | FollowState::Stalled { .. }
            )
    }

    /// Ask the follower to start again when entries are awaited and none came for
    /// [`STALL_AFTER`] (at most once per `STALL_AFTER`).
    fn restart_if_stalled(&mut self) {
        if !self.awaiting_entries() {
            self.progress_at = Instant::now();
            return;
        }
        if self.progress_at.elapsed() < STALL_AFTER {
            return;
        }
        self.progress_at = Instant::now();
        if let Some(r) = &self.restart {
            tracing::warn!(
                applied = self.applied(),
                log_seq = self.shared.log_seq.load(Ordering::Acquire),
                "no write-log entry delivered for {} s while entries are pending; recreating the consumer",
                STALL_AFTER.as_secs()
            );
            r.notify_one();
        }
    }

    fn fail_and_retry(&mut self, error: String) {
        self.failed = true;
        self.retry_at = Some(Instant::now() + RETRY_AFTER);
        *self.shared.failure.lock() = Some(error.clone());
        *self.shared.state.lock() = FollowState::Stalled { error };
    }

    fn commit_group(&mut self, group: Vec<(Op, Reply)>) {
        let Some(_) = self.log.as_ref() else {
            for (_, reply) in group {
                let _ = reply.send(Err(Error::Unavailable("writes go through the cluster's log".into())));
            }
            return;
        };
        self.check_engine();
        if self.failed {
            match self.replay() {
                Ok(()) => self.caught_up(),
                Err(e) => {
                    let trouble = self.storage_trouble(&e);
                    self.trouble |= trouble;
                    let msg = format!("the stores are behind the write log and cannot catch up yet: {e}");
                    for (_, reply) in group {
                        let _ = reply.send(Err(self.behind_error(msg.clone())));
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
        let appended = match self.log.as_mut() {
            Some(log) => log.append(&encoded),
            None => Err(needle_store::Error::Storage("no local log".into())),
        };
        let first = match appended {
            Ok(first) => first,
            Err(e) => {
                let full = e.is_disk_full();
                if full {
                    // Nothing was written (the append was cut back); hold every write
                    // until space returns rather than meet the full disk again.
                    self.met_full_disk();
                }
                let msg = e.to_string();
                for (_, reply) in rest {
                    let _ = reply.send(Err(if full {
                        Error::StoreFailed(format!(
                            "the disk of the data directory is full: the write log could not append this write ({msg}); the write was not stored — retry once space is freed"
                        ))
                    } else {
                        Error::Store(needle_store::Error::Storage(msg.clone()))
                    }));
                }
                return;
            }
        };
        self.dirty = true;
        for (i, ((entry, bytes), (analyses, reply))) in entries.into_iter().zip(&encoded).zip(rest).enumerate() {
            let seq = first + i as u64;
            if self.failed {
                let _ = reply.send(Err(self.behind_error(format!(
                    "entry {seq} is in the write log but an earlier entry failed to apply; it is applied when the stores recover"
                ))));
                continue;
            }
            match self.targets.apply(seq, entry, analyses, Some(bytes)) {
                Ok(outcome) => {
                    self.shared.set_applied(seq);
                    self.shared.applied_count.fetch_add(1, Ordering::Relaxed);
                    let _ = reply.send(Ok((seq, outcome)));
                }
                Err(e) => {
                    tracing::error!(seq, error = %e, "applying a write-log entry failed");
                    if e.is_disk_full() {
                        self.met_full_disk();
                    }
                    let trouble = self.storage_trouble(&e);
                    let why = format!("entry {seq} failed to apply: {e}");
                    self.fall_behind(why, trouble);
                    let _ = reply.send(Err(if trouble {
                        // The entry is durable in the log: it is applied once the stores
                        // recover, so it is neither acknowledged nor lost.
                        Error::StoreFailed(format!(
                            "the disk of the data directory is full or a store failed a write: this write reached the write log (entry {seq}) but could not be applied ({e}); it is not acknowledged, and is applied by itself once the stores recover (after space is freed)"
                        ))
                    } else {
                        e
                    }));
                }
            }
        }
    }

    /// Standalone: apply every log entry the stores do not hold yet.
    pub(super) fn replay(&mut self) -> Result<()> {
        let Some(log) = self.log.as_mut() else {
            return Ok(());
        };
        // What the catalog store holds now (it may have been reopened) is where to start.
        let generation = self.targets.engine.generation();
        self.targets.generation.store(generation, Ordering::Release);
        let floor = self.targets.floor()?;
        let started = Instant::now();
        let mut n = 0u64;
        let mut last = floor;
        let targets = &self.targets;
        let mut err = None;
        log.replay_after(floor, &mut |seq, entry| {
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
        let last = last.max(log.last_seq());
        self.shared.set_applied(last);
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

    /// Make the stores durable up to the last applied entry, then (standalone) trim the
    /// log.
    pub(super) fn checkpoint(&mut self) -> Result<()> {
        self.checkpoint_with(false)
    }

    /// [`Worker::checkpoint`], writing the search statistics even when they were written
    /// less than a minute ago (at shutdown, for snapshots).
    pub(super) fn checkpoint_with(&mut self, force: bool) -> Result<()> {
        if self.failed {
            return Ok(());
        }
        let applied = self.applied();
        // The event store records the checkpoint too, so numbering continues above it
        // after the log is trimmed empty (the catalog store may be further behind).
        if self.targets.events.applied_seq() < applied {
            self.targets.events.apply(applied, Vec::new(), None)?;
        }
        self.targets.events.sync()?;
        // So does the catalog store: entries that are not catalog writes leave its
        // applied_seq behind, and a restart (or a snapshot restored) would read the log
        // again from there, entries that retention may have dropped meanwhile.
        let generation = self.targets.generation.load(Ordering::Acquire);
        if self.targets.engine.applied_seq()? < applied {
            self.targets
                .engine
                .apply(needle_search::Batch::new(Vec::new()).in_generation(generation), applied)?;
        }
        self.targets.engine.sync()?;
        if self.targets.engine.generation() != generation {
            // Reopened after a failure meanwhile: the synced store may lack entries the log
            // must keep.
            return Err(Error::Unavailable(
                "the catalog store was reopened during the checkpoint; the log is kept".into(),
            ));
        }
        self.targets.searchstats.checkpoint(applied, force)?;
        if let Some(log) = self.log.as_mut() {
            // Search statistics are written at most once a minute: the log keeps what they
            // do not hold yet.
            log.trim(applied.min(self.targets.searchstats.durable_seq()))?;
        }
        self.dirty = false;
        Ok(())
    }
}
