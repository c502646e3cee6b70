//! The event store: every stored listening event (the event file) and the live profiles
//! derived from them, with dedup by (`user_id`, `event_id`).
//!
//! It is derived state of the write log: the service's applier calls [`EventStore::apply`]
//! and [`EventStore::erase`] in log order with each entry's sequence number, and
//! [`EventStore::sync`] at checkpoints. Reads (profiles) may come from any thread.

use crate::error::Result;
use crate::eventlog::FileEventLog;
use crate::profiles::{MemoryProfiles, ProfileStore};
use needle_core::profile::{Profile, ProfileConfig};
use needle_core::Event;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Outcome of one ingested batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ingested {
    /// Events newly stored.
    pub accepted: usize,
    /// Events whose `event_id` was seen before (not counted again).
    pub duplicates: usize,
}

/// The event store: the event file plus a [`ProfileStore`].
pub struct EventStore {
    inner: Mutex<Inner>,
    profiles: Arc<dyn ProfileStore>,
    config: ProfileConfig,
}

struct Inner {
    file: FileEventLog,
    /// Dedup keys of every stored event with an `event_id`.
    seen: HashSet<u64>,
    /// Stored events and the wrapping sum of their hashes: an order-free digest of the
    /// store, kept as events come and go.
    count: u64,
    digest: u64,
}

/// The hash of one stored event in [`EventStore::digest`]: every field, each string hashed
/// once (one-shot xxh3, seeded by its position), then the words hashed together. No
/// serialization and no streaming state on the ingest path.
fn event_hash(e: &Event) -> u64 {
    use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};
    let text = |t: Option<&str>, seed: u64| t.map_or(0, |t| xxh3_64_with_seed(t.as_bytes(), seed));
    let words: [u64; 8] = [
        text(e.event_id.as_deref(), 1),
        text(Some(&e.user_id), 2),
        text(Some(&e.item_id), 3),
        text(e.context.as_deref(), 4),
        u64::from(e.kind.code()),
        e.ts as u64,
        e.ms_played.unwrap_or(u64::MAX),
        u64::from(e.count),
    ];
    let mut bytes = [0u8; 64];
    for (chunk, w) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    xxh3_64(&bytes)
}

/// What the event store holds, summarized (replicas compare it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventDigest {
    /// The last write-log entry applied.
    pub applied_seq: u64,
    /// Stored events.
    pub count: u64,
    /// Wrapping sum of the stored events' hashes.
    pub digest: u64,
}

use crate::eventlog::dedup_key;

impl EventStore {
    /// Open the embedded store in `dir` (the file `dir/events.log`), replaying it into
    /// fresh in-memory profiles.
    pub fn open(dir: &Path, config: ProfileConfig) -> Result<EventStore> {
        let mut file = FileEventLog::open(dir)?;
        let profiles: Arc<dyn ProfileStore> = Arc::new(MemoryProfiles::new(config));
        let mut seen = HashSet::new();
        let mut batch = Vec::with_capacity(4096);
        let mut n = 0u64;
        let mut digest = 0u64;
        file.replay(&mut |e| {
            if let Some(id) = &e.event_id {
                // Entries are stored as the log encoded them: a repeated id was a
                // duplicate when applied, and is skipped again.
                if !seen.insert(dedup_key(&e.user_id, id)) {
                    return;
                }
            }
            digest = digest.wrapping_add(event_hash(&e));
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
        Ok(EventStore {
            inner: Mutex::new(Inner {
                file,
                seen,
                count: n,
                digest,
            }),
            profiles,
            config,
        })
    }

    /// The sequence number of the last write-log entry applied here.
    pub fn applied_seq(&self) -> u64 {
        self.inner.lock().file.applied_seq()
    }

    /// Apply log entry `seq`: store the events not seen before and fold them into
    /// profiles. An entry at or below [`EventStore::applied_seq`] is skipped. Durable at
    /// the next [`EventStore::sync`]. On failure nothing of the entry is kept. `encoded` is
    /// the entry as the write log encoded it: stored as is, saving a second encoding.
    pub fn apply(&self, seq: u64, events: Vec<Event>, encoded: Option<&[u8]>) -> Result<Ingested> {
        let mut inner = self.inner.lock();
        if seq <= inner.file.applied_seq() {
            return Ok(Ingested::default());
        }
        let mut out = Ingested::default();
        let mut fresh_keys = Vec::new();
        let mut fresh: Vec<Event> = Vec::with_capacity(events.len());
        for e in events {
            if let Some(id) = &e.event_id {
                let k = dedup_key(&e.user_id, id);
                if !inner.seen.insert(k) {
                    out.duplicates += 1;
                    continue;
                }
                fresh_keys.push(k);
            }
            out.accepted += 1;
            fresh.push(e);
        }
        let stored = match encoded {
            Some(bytes) if !fresh.is_empty() => inner.file.append_entry(seq, bytes),
            _ => inner.file.append(seq, &fresh),
        };
        if let Err(e) = stored {
            for k in fresh_keys {
                inner.seen.remove(&k);
            }
            return Err(e);
        }
        for e in &fresh {
            inner.digest = inner.digest.wrapping_add(event_hash(e));
        }
        inner.count += fresh.len() as u64;
        self.profiles.apply(&fresh);
        Ok(out)
    }

    /// Apply log entry `seq`: erase a listener's events and profile for good (durable when
    /// this returns); returns how many events were removed.
    pub fn erase(&self, seq: u64, user_id: &str) -> Result<u64> {
        let mut inner = self.inner.lock();
        if seq <= inner.file.applied_seq() {
            return Ok(0);
        }
        let mut keys = Vec::new();
        let mut removed_hash = 0u64;
        let n = inner.file.erase_user(seq, user_id, &mut |e| {
            removed_hash = removed_hash.wrapping_add(event_hash(e));
            if let Some(id) = &e.event_id {
                keys.push(dedup_key(&e.user_id, id));
            }
        })?;
        inner.digest = inner.digest.wrapping_sub(removed_hash);
        inner.count = inner.count.saturating_sub(n);
        for k in keys {
            inner.seen.remove(&k);
        }
        self.profiles.remove(user_id);
        Ok(n)
    }

    /// The store summarized at its last applied entry: equal on two stores holding the same
    /// events.
    pub fn digest(&self) -> EventDigest {
        let inner = self.inner.lock();
        EventDigest {
            applied_seq: inner.file.applied_seq(),
            count: inner.count,
            digest: inner.digest,
        }
    }

    /// Make every applied entry durable and copy the event file into `dir` (a snapshot;
    /// the caller makes sure no entry is applied meanwhile).
    pub fn copy_to(&self, dir: &Path) -> Result<()> {
        let mut inner = self.inner.lock();
        inner.file.sync()?;
        inner.file.copy_to(&dir.join("events.log"))
    }

    /// Make every applied entry durable.
    pub fn sync(&self) -> Result<()> {
        self.inner.lock().file.sync()
    }

    /// Bytes of the event file.
    pub fn size_bytes(&self) -> u64 {
        self.inner.lock().file.size_bytes()
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
}
