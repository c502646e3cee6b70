//! Event ingestion: dedup, durable append with group commit, and live profiles.

use crate::error::{Error, Result};
use crate::eventlog::{EventLog, FileEventLog};
use crate::profiles::{MemoryProfiles, ProfileStore};
use crossbeam_channel::{bounded, unbounded, Receiver, Sender};
use needle_core::profile::{Profile, ProfileConfig};
use needle_core::Event;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Outcome of one ingested batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Events newly stored.
    pub accepted: usize,
    /// Events whose `event_id` was seen before (not counted again).
    pub duplicates: usize,
}

enum Msg {
    Ingest(Vec<Event>, Sender<Result<Ingested>>),
    Erase(String, Sender<Result<u64>>),
}

/// The event store: an [`EventLog`] plus a [`ProfileStore`], fed by one writer thread.
pub struct EventStore {
    tx: Mutex<Option<Sender<Msg>>>,
    profiles: Arc<dyn ProfileStore>,
    thread: Mutex<Option<JoinHandle<()>>>,
    config: ProfileConfig,
}

fn dedup_key(user: &str, event_id: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(user.as_bytes());
    h.update(&[0]);
    h.update(event_id.as_bytes());
    h.digest()
}

/// Most events merged into one group commit.
const MAX_GROUP_EVENTS: usize = 100_000;

impl EventStore {
    /// Open the embedded store in `dir` (the log at `dir/events.log`), replaying the log
    /// into fresh in-memory profiles.
    pub fn open(dir: &Path, config: ProfileConfig) -> Result<EventStore> {
        let log = FileEventLog::open(dir)?;
        let profiles: Arc<dyn ProfileStore> = Arc::new(MemoryProfiles::new(config));
        Self::with_parts(Box::new(log), profiles, config)
    }

    /// Assemble from any log and profile store implementations.
    pub fn with_parts(
        mut log: Box<dyn EventLog>,
        profiles: Arc<dyn ProfileStore>,
        config: ProfileConfig,
    ) -> Result<EventStore> {
        let mut seen = HashSet::new();
        let mut batch = Vec::with_capacity(4096);
        let mut n = 0u64;
        log.replay(&mut |e| {
            if let Some(id) = &e.event_id {
                seen.insert(dedup_key(&e.user_id, id));
            }
            batch.push(e);
            n += 1;
            if batch.len() >= 4096 {
                profiles.apply(&batch);
                batch.clear();
            }
        })?;
        profiles.apply(&batch);
        if n > 0 {
            tracing::info!(
                events = n,
                listeners = profiles.users(),
                "profiles rebuilt from the event log"
            );
        }
        let (tx, rx) = unbounded();
        let p = profiles.clone();
        let thread = std::thread::Builder::new()
            .name("needle-events".into())
            .spawn(move || run(rx, log, p, seen))
            .map_err(|e| Error::Storage(e.to_string()))?;
        Ok(EventStore {
            tx: Mutex::new(Some(tx)),
            profiles,
            thread: Mutex::new(Some(thread)),
            config,
        })
    }

    /// Store a batch of validated events durably and fold them into profiles.
    pub fn ingest(&self, events: Vec<Event>) -> Result<Ingested> {
        let (tx, rx) = bounded(1);
        self.sender()?.send(Msg::Ingest(events, tx)).map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }

    /// Erase a listener's events and profile for good; returns how many events were removed.
    pub fn erase_user(&self, user_id: &str) -> Result<u64> {
        let (tx, rx) = bounded(1);
        self.sender()?
            .send(Msg::Erase(user_id.to_string(), tx))
            .map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }

    /// A listener's profile.
    pub fn profile(&self, user_id: &str) -> Option<Profile> {
        self.profiles.get(user_id)
    }

    /// Run `f` on a listener's profile without copying it.
    pub fn with_profile<T>(&self, user_id: &str, f: &mut dyn FnMut(&Profile) -> T) -> Option<T> {
        let mut out = None;
        self.profiles.with(user_id, &mut |p| out = Some(f(p)));
        out
    }

    /// Visit every listener's profile (for training; one shard locked at a time).
    pub fn for_each_profile(&self, f: &mut dyn FnMut(&str, &Profile)) {
        self.profiles.for_each(f)
    }

    /// Listeners with a profile.
    pub fn users(&self) -> usize {
        self.profiles.users()
    }

    /// The decay settings.
    pub fn config(&self) -> ProfileConfig {
        self.config
    }

    /// Stop the writer thread (batches already queued are finished first).
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

impl Drop for EventStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn stopped() -> Error {
    Error::Storage("the event store is shut down".into())
}

fn run(rx: Receiver<Msg>, mut log: Box<dyn EventLog>, profiles: Arc<dyn ProfileStore>, mut seen: HashSet<u64>) {
    while let Ok(first) = rx.recv() {
        let mut group = Vec::new();
        let mut pending = Some(first);
        let mut n = 0;
        while let Some(msg) = pending.take() {
            match msg {
                Msg::Ingest(events, reply) => {
                    n += events.len();
                    group.push((events, reply));
                    if n < MAX_GROUP_EVENTS {
                        pending = rx.try_recv().ok();
                    }
                }
                Msg::Erase(user, reply) => {
                    commit_group(&mut group, log.as_mut(), profiles.as_ref(), &mut seen);
                    let mut keys = Vec::new();
                    let res = log.erase_user(&user, &mut |e| {
                        if let Some(id) = &e.event_id {
                            keys.push(dedup_key(&e.user_id, id));
                        }
                    });
                    for k in keys {
                        seen.remove(&k);
                    }
                    if res.is_ok() {
                        profiles.remove(&user);
                    }
                    let _ = reply.send(res);
                }
            }
        }
        commit_group(&mut group, log.as_mut(), profiles.as_ref(), &mut seen);
    }
}

fn commit_group(
    group: &mut Vec<(Vec<Event>, Sender<Result<Ingested>>)>,
    log: &mut dyn EventLog,
    profiles: &dyn ProfileStore,
    seen: &mut HashSet<u64>,
) {
    if group.is_empty() {
        return;
    }
    let mut fresh_keys = Vec::new();
    let mut outcomes = Vec::with_capacity(group.len());
    let mut all = Vec::new();
    for (events, _) in group.iter_mut() {
        let mut out = Ingested::default();
        for e in events.drain(..) {
            if let Some(id) = &e.event_id {
                let k = dedup_key(&e.user_id, id);
                if !seen.insert(k) {
                    out.duplicates += 1;
                    continue;
                }
                fresh_keys.push(k);
            }
            out.accepted += 1;
            all.push(e);
        }
        outcomes.push(out);
    }
    let res = log.append(&all);
    if res.is_ok() {
        profiles.apply(&all);
    } else {
        for k in fresh_keys {
            seen.remove(&k);
        }
    }
    for ((_, reply), out) in group.drain(..).zip(outcomes) {
        let _ = reply.send(match &res {
            Ok(()) => Ok(out),
            Err(e) => Err(Error::Storage(format!("event log append failed: {e}"))),
        });
    }
}
