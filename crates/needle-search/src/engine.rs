//! The engine facade: the durable catalog plus the search index derived from it.
//!
//! Writes go through one writer thread that does group commit: every batch waiting
//! when it wakes is stored in one fsync'd store transaction, then handed to the tantivy
//! writer. Only then is each caller answered. The index is committed every
//! `refresh_interval` with the store's change sequence number as commit payload; on
//! start, changes after that number are replayed, so the index never misses an
//! acknowledged write.

use crate::collect::SegmentData;
use crate::error::{Error, Result};
use crate::schema::{build_document, build_schema, Analysis, Fields};
use crate::taste::{self, Taste};
use crate::types::*;
use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use needle_core::event::parse_event;
use needle_core::profile::{ProfileConfig, RecentEvent};
use needle_core::validate::{check_id, parse_record};
use needle_core::{Entity, EntityType, EventType, Record};
use needle_store::{CatalogStore, EventStore, Ingested};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tantivy::directory::MmapDirectory;
use tantivy::index::SegmentId;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Data directory (catalog store and index live below it).
    pub data_dir: PathBuf,
    /// How often new writes become searchable.
    pub refresh_interval: Duration,
    /// Memory budget of the index writer, bytes.
    pub indexer_memory_bytes: usize,
    /// Half-life of listening events in taste profiles, days.
    pub half_life_days: f64,
    /// Bulk loading: no background segment merges until [`Engine::optimize`] merges
    /// everything once at the end (each document is merged once, not once per level), and
    /// catalog batches are made durable at each index commit rather than one by one
    /// (an acknowledged batch is durable after [`Engine::refresh`] or [`Engine::shutdown`]).
    pub bulk: bool,
    /// Indexing threads (default: the available cores, at most 4).
    pub indexer_threads: Option<usize>,
    /// Page cache of the catalog store, bytes.
    pub store_cache_bytes: usize,
}

impl EngineConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            refresh_interval: Duration::from_millis(500),
            indexer_memory_bytes: 200 << 20,
            half_life_days: 30.0,
            bulk: false,
            indexer_threads: None,
            store_cache_bytes: needle_store::DEFAULT_CACHE_BYTES,
        }
    }
}

/// A batch queued by [`Engine::submit_values`].
#[must_use = "a write is only known to be durable once waited for"]
pub struct PendingWrite {
    reply: Option<Receiver<Result<u64>>>,
    report: WriteReport,
}

impl PendingWrite {
    /// Records of the batch that passed validation.
    pub fn accepted(&self) -> usize {
        self.report.accepted
    }

    /// Take the batch's rejections (known at submission) out of the report.
    pub fn take_rejected(&mut self) -> Vec<Rejection> {
        std::mem::take(&mut self.report.rejected)
    }

    /// Wait until the batch is durable; its report (rejections were known at submission).
    pub fn wait(self) -> Result<WriteReport> {
        if let Some(rx) = self.reply {
            rx.recv().map_err(|_| closed())??;
        }
        Ok(self.report)
    }
}

/// Validated records with the analysis of each upsert (computed by the submitting thread).
struct Batch {
    records: Vec<Record>,
    analyses: Vec<Option<Analysis>>,
}

impl Batch {
    fn new(records: Vec<Record>) -> Batch {
        let analyses = records
            .iter()
            .map(|r| match r {
                Record::Upsert(e) => Some(Analysis::of(e)),
                Record::Delete(_) => None,
            })
            .collect();
        Batch { records, analyses }
    }
}

enum Msg {
    /// Replies with the sequence number of the batch's last change (0: nothing changed).
    Write(Batch, Sender<Result<u64>>),
    Refresh(Sender<Result<()>>),
    Optimize(Sender<Result<()>>),
    Shutdown(Sender<Result<()>>),
}

struct Shared {
    store: CatalogStore,
    reader: IndexReader,
    fields: Fields,
    /// `ln(1 + max popularity)` per type code, as f64 bits.
    log_max_pop: [AtomicU64; 8],
    /// Decoded ranking columns per live segment.
    segment_cache: Mutex<HashMap<SegmentId, Arc<SegmentData>>>,
}

impl Shared {
    /// Ranking columns for every segment of `searcher`, decoding new segments once and
    /// forgetting merged-away ones.
    fn segment_data(&self, searcher: &tantivy::Searcher) -> Result<Vec<Arc<SegmentData>>> {
        let mut cache = self.segment_cache.lock();
        let mut out = Vec::with_capacity(searcher.segment_readers().len());
        for r in searcher.segment_readers() {
            let id = r.segment_id();
            let d = match cache.get(&id) {
                Some(d) => d.clone(),
                None => {
                    let d = Arc::new(SegmentData::load(r)?);
                    cache.insert(id, d.clone());
                    d
                }
            };
            out.push(d);
        }
        if cache.len() > out.len() * 2 + 8 {
            let live: std::collections::HashSet<SegmentId> =
                searcher.segment_readers().iter().map(|r| r.segment_id()).collect();
            cache.retain(|id, _| live.contains(id));
        }
        Ok(out)
    }

    fn log_max_pop(&self) -> [f64; 8] {
        std::array::from_fn(|i| f64::from_bits(self.log_max_pop[i].load(Ordering::Relaxed)))
    }
    fn observe_popularity(&self, e: &Entity) {
        let v = e.popularity.unwrap_or(0.0).ln_1p();
        let slot = &self.log_max_pop[e.entity_type().code() as usize];
        let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |cur| {
            (v > f64::from_bits(cur)).then_some(v.to_bits())
        });
    }
}

/// A derived taste with the profile version and catalog sequence number it was built at.
type CachedTaste = (u64, u64, Arc<Taste>);

/// The search engine. Share it behind an `Arc`; all methods block.
pub struct Engine {
    shared: Arc<Shared>,
    events: EventStore,
    /// Derived tastes by listener: (profile version, catalog seq) they were built at.
    tastes: Mutex<HashMap<String, CachedTaste>>,
    tx: Sender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Engine {
    /// Open (or create) the engine in `cfg.data_dir`, catching the index up with the store.
    pub fn open(cfg: EngineConfig) -> Result<Engine> {
        let store = CatalogStore::open_with_cache(&cfg.data_dir, cfg.store_cache_bytes)?;
        let index_dir = cfg.data_dir.join("index");
        std::fs::create_dir_all(&index_dir)
            .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", index_dir.display())))?;
        let (schema, fields) = build_schema();
        let index = open_index(&index_dir, schema)?;
        crate::analysis::register(&index);
        let threads = cfg.indexer_threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .clamp(1, 4)
        });
        let writer: IndexWriter =
            index.writer_with_num_threads(threads, cfg.indexer_memory_bytes.max((threads * 16) << 20))?;
        if cfg.bulk {
            writer.set_merge_policy(Box::new(tantivy::indexer::NoMergePolicy));
            store.defer_durability(true);
        }
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let shared = Arc::new(Shared {
            store,
            reader,
            fields,
            log_max_pop: std::array::from_fn(|_| AtomicU64::new(0f64.to_bits())),
            segment_cache: Mutex::new(HashMap::new()),
        });
        let committed: u64 = index.load_metas()?.payload.and_then(|p| p.parse().ok()).unwrap_or(0);
        let mut w = Writer {
            shared: shared.clone(),
            writer,
            dirty: false,
            last_seq: committed,
        };
        // A new index over a catalog that has entities (the index was deleted, or was built
        // by a version with another schema): the change feed is trimmed after every index
        // commit, so rebuild from every stored entity rather than from the feed.
        let fresh = committed == 0 && index.searchable_segment_ids()?.is_empty();
        if fresh && w.shared.store.counts()?.0 > 0 {
            w.rebuild()?;
        } else {
            w.catch_up(committed)?;
        }
        w.init_popularity()?;
        let (tx, rx) = unbounded();
        let interval = cfg.refresh_interval;
        let thread = std::thread::Builder::new()
            .name("needle-writer".into())
            .spawn(move || w.run(rx, interval))
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        let events = EventStore::open(
            &cfg.data_dir.join("events"),
            ProfileConfig {
                half_life_days: cfg.half_life_days,
            },
        )?;
        Ok(Engine {
            shared,
            events,
            tastes: Mutex::new(HashMap::new()),
            tx,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Validate and durably store a batch of raw records; bad records are rejected one
    /// by one (their `index` is the position in `values`), good ones are kept.
    pub fn write_values(&self, values: Vec<serde_json::Value>) -> Result<WriteReport> {
        self.submit_values(values)?.wait()
    }

    /// Validate `values` and queue them for the writer without waiting: bulk loaders keep
    /// the next batch queued while the writer stores the last one, so it never idles.
    /// The batch is durable once [`PendingWrite::wait`] returns `Ok`.
    pub fn submit_values(&self, values: Vec<serde_json::Value>) -> Result<PendingWrite> {
        let mut records = Vec::with_capacity(values.len());
        let mut rejected = Vec::new();
        for (index, v) in values.iter().enumerate() {
            match parse_record(v) {
                Ok(r) => records.push(r),
                Err(e) => rejected.push(Rejection {
                    index,
                    code: e.code.to_string(),
                    message: e.message,
                }),
            }
        }
        let accepted = records.len();
        let reply = if records.is_empty() {
            None
        } else {
            let (tx, rx) = bounded(1);
            self.tx
                .send(Msg::Write(Batch::new(records), tx))
                .map_err(|_| closed())?;
            Some(rx)
        };
        Ok(PendingWrite {
            reply,
            report: WriteReport { accepted, rejected },
        })
    }

    /// Durably store validated records (returns once they are fsync'd) and the sequence
    /// number of their last change (0 when nothing changed).
    pub fn write_records(&self, records: Vec<Record>) -> Result<u64> {
        let (tx, rx) = bounded(1);
        self.tx
            .send(Msg::Write(Batch::new(records), tx))
            .map_err(|_| closed())?;
        rx.recv().map_err(|_| closed())?
    }

    /// Delete one entity; `Ok(false)` when it did not exist.
    pub fn delete(&self, id: &str) -> Result<bool> {
        check_id(id, "id")?;
        if self.shared.store.get(id)?.is_none() {
            return Ok(false);
        }
        self.write_records(vec![Record::Delete(id.to_string())])?;
        Ok(true)
    }

    /// Fetch one entity as stored.
    pub fn get(&self, id: &str) -> Result<Option<Entity>> {
        check_id(id, "id")?;
        Ok(self.shared.store.get(id)?)
    }

    /// Run a search (personalized when `user_id` names a listener with history).
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse> {
        let searcher = self.shared.reader.searcher();
        let snap = self.shared.store.snapshot()?;
        let segments = self.shared.segment_data(&searcher)?;
        let taste = match req.user_id.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => {
                needle_core::validate::param_id("user_id", u)?;
                self.taste(u, &snap)?
            }
            None => None,
        };
        let log_max_pop = self.shared.log_max_pop();
        crate::search::run(
            &searcher,
            &self.shared.fields,
            &snap,
            log_max_pop,
            segments,
            taste.as_deref(),
            req,
        )
    }

    /// Validate and durably store listening events; bad ones are rejected one by one.
    pub fn ingest_events(&self, values: Vec<serde_json::Value>) -> Result<EventReport> {
        let mut events = Vec::with_capacity(values.len());
        let mut rejected = Vec::new();
        for (index, v) in values.iter().enumerate() {
            match parse_event(v) {
                Ok(e) => events.push(e),
                Err(e) => rejected.push(Rejection {
                    index,
                    code: e.code.to_string(),
                    message: e.message,
                }),
            }
        }
        let got = if events.is_empty() {
            Ingested::default()
        } else {
            self.events.ingest(events)?
        };
        Ok(EventReport {
            accepted: got.accepted,
            duplicates: got.duplicates,
            rejected,
        })
    }

    /// A listener's derived taste, rebuilt when their profile or the catalog changed.
    fn taste(&self, user: &str, snap: &needle_store::CatalogSnapshot) -> Result<Option<Arc<Taste>>> {
        let catalog_seq = self.shared.store.last_seq()?;
        let Some(version) = self.events.with_profile(user, &mut |p| p.version) else {
            return Ok(None);
        };
        if let Some((v, c, t)) = self.tastes.lock().get(user) {
            if *v == version && *c == catalog_seq {
                return Ok(Some(t.clone()));
            }
        }
        let cfg = self.events.config();
        let now = now_ms();
        let derived = self
            .events
            .with_profile(user, &mut |p| taste::derive(p, &cfg, snap, now))
            .transpose()?;
        let Some(t) = derived.map(Arc::new) else {
            return Ok(None);
        };
        let mut cache = self.tastes.lock();
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(user.to_string(), (version, catalog_seq, t.clone()));
        Ok(Some(t))
    }

    /// A listener's profile: top affinities with scores and why; `None` without history.
    pub fn profile(&self, user: &str, top: usize) -> Result<Option<ProfileView>> {
        check_id(user, "user_id")?;
        let snap = self.shared.store.snapshot()?;
        let Some(t) = self.taste(user, &snap)? else {
            return Ok(None);
        };
        let Some((counts, last_ts)) = self.events.with_profile(user, &mut |p| (p.counts, p.last_ts)) else {
            return Ok(None);
        };
        let pick = |m: &HashMap<String, taste::Affinity>, keep: &dyn Fn(&str) -> bool| {
            let mut v: Vec<&taste::Affinity> = m.values().filter(|a| keep(&a.id)).collect();
            v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
            v.into_iter()
                .take(top)
                .map(|a| TopAffinity {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    score: (a.score * 1e4).round() / 1e4,
                    why: a.why(),
                })
                .collect::<Vec<_>>()
        };
        let kinds = &t.creator_kind;
        let kind_is = |k: EntityType| move |id: &str| kinds.get(id) == Some(&k);
        let mut saved: Vec<String> = t.saved.iter().cloned().collect();
        let mut followed: Vec<String> = t.followed.iter().cloned().collect();
        saved.sort();
        followed.sort();
        Ok(Some(ProfileView {
            user_id: user.to_string(),
            events: EventType::ALL
                .iter()
                .filter(|k| counts[k.code() as usize] > 0)
                .map(|k| (k.to_string(), counts[k.code() as usize]))
                .collect(),
            last_event_ts: last_ts,
            half_life_days: self.events.config().half_life_days,
            artists: pick(&t.creators, &kind_is(EntityType::Artist)),
            shows: pick(&t.creators, &kind_is(EntityType::Show)),
            audiobooks: pick(&t.creators, &kind_is(EntityType::Audiobook)),
            tags: pick(&t.tags, &|_| true),
            items: pick(&t.items, &|_| true),
            saved,
            followed,
        }))
    }

    /// A listener's most recent events, newest first; `None` without history.
    pub fn history(&self, user: &str, limit: usize) -> Result<Option<Vec<RecentEvent>>> {
        check_id(user, "user_id")?;
        Ok(self
            .events
            .with_profile(user, &mut |p| p.recent.iter().rev().take(limit).cloned().collect()))
    }

    /// Erase a listener's events and profile for good; returns how many events were removed.
    pub fn delete_user(&self, user: &str) -> Result<u64> {
        check_id(user, "user_id")?;
        let n = self.events.erase_user(user)?;
        self.tastes.lock().remove(user);
        Ok(n)
    }

    /// A copy of a listener's raw profile (what recommendations fold in).
    pub fn raw_profile(&self, user: &str) -> Option<needle_core::profile::Profile> {
        self.events.profile(user)
    }

    /// Visit every listener's raw profile (for training).
    pub fn for_each_profile(&self, f: &mut dyn FnMut(&str, &needle_core::profile::Profile)) {
        self.events.for_each_profile(f)
    }

    /// The decay settings of profiles.
    pub fn profile_config(&self) -> ProfileConfig {
        self.events.config()
    }

    /// Visit every catalog entity (without transcripts), in id order.
    pub fn for_each_entity(&self, f: impl FnMut(Entity)) -> Result<()> {
        Ok(self.shared.store.for_each_entity(f)?)
    }

    /// Several entities by id from one consistent snapshot (display form: no transcript),
    /// `None` where an id is unknown.
    pub fn get_many(&self, ids: &[&str]) -> Result<Vec<Option<Entity>>> {
        let snap = self.shared.store.snapshot()?;
        ids.iter().map(|id| Ok(snap.get_display(id)?)).collect()
    }

    /// Ids of the entities referencing `id` (an artist's tracks and albums, a show's
    /// episodes, an audiobook's chapters).
    pub fn referrers(&self, id: &str) -> Result<Vec<String>> {
        Ok(self.shared.store.snapshot()?.referrers(id)?)
    }

    /// Listeners with a profile.
    pub fn listeners(&self) -> usize {
        self.events.users()
    }

    /// Catalog counts.
    pub fn stats(&self) -> Result<CatalogStats> {
        let (entities, by_type) = self.shared.store.counts()?;
        let searchable = self.shared.reader.searcher().num_docs();
        Ok(CatalogStats {
            entities,
            by_type,
            searchable,
        })
    }

    /// Make every acknowledged write searchable now.
    pub fn refresh(&self) -> Result<()> {
        let (tx, rx) = bounded(1);
        self.tx.send(Msg::Refresh(tx)).map_err(|_| closed())?;
        rx.recv().map_err(|_| closed())?
    }

    /// Merge the index into as few segments as possible (after a bulk import): fewer
    /// segments mean fewer dictionaries to scan per query. Blocks until done.
    pub fn optimize(&self) -> Result<()> {
        let (tx, rx) = bounded(1);
        self.tx.send(Msg::Optimize(tx)).map_err(|_| closed())?;
        rx.recv().map_err(|_| closed())?
    }

    /// Commit the index and stop the writer. Later writes fail with `Unavailable`.
    pub fn shutdown(&self) -> Result<()> {
        let Some(handle) = self.thread.lock().take() else {
            return Ok(());
        };
        let (tx, rx) = bounded(1);
        let res = match self.tx.send(Msg::Shutdown(tx)) {
            Ok(()) => rx.recv().map_err(|_| closed()).and_then(|r| r),
            Err(_) => Err(closed()),
        };
        let _ = handle.join();
        self.events.shutdown();
        res
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Open the index in `index_dir`, or create it. An index whose schema is not `schema`
/// (written by an older version) is discarded: it is derived data, and [`Engine::open`]
/// rebuilds it from the catalog store.
fn open_index(index_dir: &std::path::Path, schema: tantivy::schema::Schema) -> Result<Index> {
    let open_dir = || MmapDirectory::open(index_dir).map_err(|e| Error::Unavailable(e.to_string()));
    let dir = open_dir()?;
    if Index::exists(&dir).map_err(|e| Error::Unavailable(e.to_string()))? {
        let existing = Index::open(dir)?;
        if existing.schema() == schema {
            return Ok(existing);
        }
        tracing::warn!(
            path = %index_dir.display(),
            "the search index was built with another schema (an older version); rebuilding it from the catalog"
        );
        drop(existing);
        let unavailable = |e: std::io::Error| Error::Unavailable(format!("cannot reset {}: {e}", index_dir.display()));
        std::fs::remove_dir_all(index_dir).map_err(unavailable)?;
        std::fs::create_dir_all(index_dir).map_err(unavailable)?;
        return Ok(Index::create(open_dir()?, schema, Default::default())?);
    }
    Ok(Index::create(dir, schema, Default::default())?)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn closed() -> Error {
    Error::Unavailable("the engine is shut down".into())
}

/// Owner of the tantivy writer; lives on the writer thread.
struct Writer {
    shared: Arc<Shared>,
    writer: IndexWriter,
    dirty: bool,
    last_seq: u64,
}

/// Most records merged into one group commit.
const MAX_GROUP_RECORDS: usize = 200_000;

impl Writer {
    fn run(mut self, rx: Receiver<Msg>, interval: Duration) {
        let mut last_commit = Instant::now();
        loop {
            let wait = if self.dirty {
                interval.saturating_sub(last_commit.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            let msg = match rx.recv_timeout(wait) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.commit() {
                        tracing::error!(error = %e, "index commit failed");
                    }
                    last_commit = Instant::now();
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.commit();
                    return;
                }
            };
            match msg {
                Msg::Write(batch, reply) => {
                    let mut n: usize = batch.records.len();
                    let mut group = vec![(batch, reply)];
                    let mut pending = None;
                    while n < MAX_GROUP_RECORDS {
                        match rx.try_recv() {
                            Ok(Msg::Write(b, s)) => {
                                n += b.records.len();
                                group.push((b, s));
                            }
                            Ok(other) => {
                                pending = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    self.write_group(group);
                    if let Some(m) = pending {
                        if self.control(m) {
                            return;
                        }
                        last_commit = Instant::now();
                    }
                }
                other => {
                    if self.control(other) {
                        return;
                    }
                    last_commit = Instant::now();
                }
            }
            if self.dirty && last_commit.elapsed() >= interval {
                if let Err(e) = self.commit() {
                    tracing::error!(error = %e, "index commit failed");
                }
                last_commit = Instant::now();
            }
        }
    }

    /// Handle refresh/shutdown; true when the thread must stop.
    fn control(&mut self, m: Msg) -> bool {
        match m {
            Msg::Refresh(reply) => {
                let _ = reply.send(self.commit());
                false
            }
            Msg::Shutdown(reply) => {
                let _ = reply.send(self.commit());
                true
            }
            Msg::Optimize(reply) => {
                let _ = reply.send(self.optimize());
                false
            }
            Msg::Write(..) => false,
        }
    }

    fn write_group(&mut self, group: Vec<(Batch, Sender<Result<u64>>)>) {
        let mut replies = Vec::with_capacity(group.len());
        let mut all = Batch {
            records: Vec::new(),
            analyses: Vec::new(),
        };
        for (batch, reply) in group {
            all.records.extend(batch.records);
            all.analyses.extend(batch.analyses);
            replies.push(reply);
        }
        let result = self
            .shared
            .store
            .apply(&all.records)
            .map_err(Error::from)
            .and_then(|applied| {
                // The batch's own entities are at hand: only dependents are read back.
                let mut latest: HashMap<&str, Option<(&Entity, Option<&Analysis>)>> =
                    HashMap::with_capacity(all.records.len());
                for (r, a) in all.records.iter().zip(&all.analyses) {
                    latest.insert(
                        r.id(),
                        match r {
                            Record::Upsert(e) => Some((e.as_ref(), a.as_ref())),
                            Record::Delete(_) => None,
                        },
                    );
                }
                self.index_with(&applied.changed, &latest)?;
                if applied.seq > 0 {
                    self.last_seq = applied.seq;
                }
                Ok(applied.seq)
            });
        for reply in replies {
            let _ = reply.send(match &result {
                Ok(seq) => Ok(*seq),
                Err(e) => Err(Error::Unavailable(format!("write failed: {e}"))),
            });
        }
    }

    /// Re-derive the index documents of changed ids from the store.
    fn index_changes(&mut self, changed: &[(String, bool)]) -> Result<()> {
        self.index_with(changed, &HashMap::new())
    }

    /// Re-derive index documents; entities found in `known` are not read back (nor
    /// re-analysed when their analysis came with them).
    fn index_with(
        &mut self,
        changed: &[(String, bool)],
        known: &HashMap<&str, Option<(&Entity, Option<&Analysis>)>>,
    ) -> Result<()> {
        let snap = self.shared.store.snapshot()?;
        let f = &self.shared.fields;
        for (id, existed) in changed {
            if *existed {
                self.writer.delete_term(Term::from_field_text(f.id, id));
            }
            let read;
            let (entity, analysis) = match known.get(id.as_str()) {
                Some(Some((e, a))) => (Some(*e), *a),
                Some(None) => (None, None),
                None => {
                    read = snap.get(id)?;
                    (read.as_ref(), None)
                }
            };
            if let Some(e) = entity {
                let names = snap.resolve(e)?;
                self.shared.observe_popularity(e);
                let doc = match analysis {
                    Some(a) => build_document(f, e, &names, a),
                    None => build_document(f, e, &names, &Analysis::of(e)),
                };
                self.writer.add_document(doc)?;
            }
            self.dirty = true;
        }
        Ok(())
    }

    fn optimize(&mut self) -> Result<()> {
        self.dirty = true;
        self.commit()?;
        let ids = self.writer.index().searchable_segment_ids()?;
        if ids.len() > 1 {
            // A merge racing a background merge of the same segments fails; the index is
            // still whole and correct, just less compact, so this is not an error.
            if let Err(e) = self.writer.merge(&ids).wait() {
                tracing::warn!(error = %e, "segment merge skipped");
            }
        }
        self.shared.reader.reload()?;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        // Deferred (bulk) catalog batches become durable here even when no document
        // changed; and the index must never be ahead of the durable catalog (recovery
        // replays the catalog's changes after the index's sequence number).
        self.shared.store.sync()?;
        if !self.dirty {
            return Ok(());
        }
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&self.last_seq.to_string());
        prepared.commit()?;
        self.shared.reader.reload()?;
        self.dirty = false;
        self.shared.store.trim_changes(self.last_seq)?;
        Ok(())
    }

    /// Index every entity of the store (into an empty index) and commit.
    fn rebuild(&mut self) -> Result<()> {
        let started = Instant::now();
        let mut ids: Vec<(String, bool)> = Vec::new();
        self.shared.store.for_each_id(|id| ids.push((id.to_string(), false)))?;
        tracing::info!(entities = ids.len(), "rebuilding the search index from the catalog");
        for chunk in ids.chunks(10_000) {
            self.index_changes(chunk)?;
        }
        self.last_seq = self.shared.store.last_seq()?;
        self.dirty = true;
        self.commit()?;
        tracing::info!(
            entities = ids.len(),
            seconds = started.elapsed().as_secs_f64(),
            "search index rebuilt"
        );
        Ok(())
    }

    /// Replay store changes the index has not committed yet.
    fn catch_up(&mut self, committed: u64) -> Result<()> {
        let mut from = committed;
        loop {
            let batch = self.shared.store.changes_since(from, 50_000)?;
            let Some(&(last, _)) = batch.last() else { break };
            let ids: Vec<(String, bool)> = batch.into_iter().map(|(_, id)| (id, true)).collect();
            self.index_changes(&ids)?;
            from = last;
            self.last_seq = last;
        }
        if from > committed {
            tracing::info!(replayed_to = from, from = committed, "index caught up with the catalog");
        }
        self.last_seq = self.last_seq.max(self.shared.store.last_seq()?);
        self.commit()
    }

    /// Learn the largest popularity per type from the committed index.
    fn init_popularity(&mut self) -> Result<()> {
        let searcher = self.shared.reader.searcher();
        for seg in searcher.segment_readers() {
            let ff = seg.fast_fields();
            let (kind, pop) = (ff.u64("kind")?, ff.f64("popularity")?);
            for doc in 0..seg.max_doc() {
                if let (Some(k), Some(p)) = (kind.first(doc), pop.first(doc)) {
                    let t = EntityType::from_code(k).unwrap_or(EntityType::Track);
                    let e = Entity {
                        kind: Some(t),
                        popularity: Some(p),
                        ..Default::default()
                    };
                    self.shared.observe_popularity(&e);
                }
            }
        }
        Ok(())
    }
}
