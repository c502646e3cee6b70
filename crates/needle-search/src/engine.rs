//! The catalog engine: the catalog store plus the search index derived from it.
//!
//! Catalog batches come from the write log, in order, through the service's applier
//! ([`Engine::apply`] with the entry's sequence number). One writer thread stores each
//! batch in one store transaction (not fsync'd by itself when the write log makes it
//! durable: see [`EngineConfig::log_durable`]), then hands documents to the tantivy
//! writer. Only then is the caller answered. The index is committed every
//! `refresh_interval` with the store's change sequence number as commit payload; on
//! start, changes after that number are replayed, so the index never misses an
//! acknowledged write.

use crate::collect::SegmentData;
use crate::error::{Error, Result};
use crate::schema::{build_document, build_schema, Analysis, Fields};
use crate::taste::{self, Taste};
use crate::types::*;
use crossbeam_channel::{bounded, unbounded, Receiver, RecvTimeoutError, Sender};
use needle_core::profile::{Profile, ProfileConfig};
use needle_core::{Entity, EntityType, Record};
use needle_store::CatalogStore;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tantivy::directory::MmapDirectory;
use tantivy::index::SegmentId;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, Term};

mod recover;
mod writer;

use writer::{CatchUp, Writer};

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Data directory (catalog store and index live below it).
    pub data_dir: PathBuf,
    /// How often new writes become searchable.
    pub refresh_interval: Duration,
    /// Memory budget of the index writer, bytes.
    pub indexer_memory_bytes: usize,
    /// The write log makes each batch durable before it is applied, so store transactions
    /// commit without fsync and become durable at [`Engine::sync`] (and before every index
    /// commit). Off only for embedders that apply batches without a log.
    pub log_durable: bool,
    /// Bulk loading: no background segment merges until [`Engine::optimize`] merges
    /// everything once at the end (each document is merged once, not once per level), and
    /// catalog batches are made durable at each index commit rather than one by one
    /// (an acknowledged batch is durable after [`Engine::refresh`] or [`Engine::shutdown`]).
    pub bulk: bool,
    /// Indexing threads (default: the available cores, at most 4).
    pub indexer_threads: Option<usize>,
    /// Page cache of the catalog store, bytes.
    pub store_cache_bytes: usize,
    /// Index commits wait while the data directory's disk has less than this available
    /// (0: never).
    pub min_free_disk_bytes: u64,
}

impl EngineConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        EngineConfig {
            data_dir: data_dir.into(),
            refresh_interval: Duration::from_millis(500),
            indexer_memory_bytes: 200 << 20,
            log_durable: true,
            bulk: false,
            indexer_threads: None,
            store_cache_bytes: needle_store::DEFAULT_CACHE_BYTES,
            min_free_disk_bytes: 0,
        }
    }
}

/// A catalog batch queued by [`Engine::submit`].
#[must_use = "a batch is only known to be applied once waited for"]
pub struct PendingWrite {
    reply: Receiver<Result<u64>>,
}

impl PendingWrite {
    /// Wait until the batch is applied; the change-feed sequence number of its last change
    /// (0 when nothing changed).
    pub fn wait(self) -> Result<u64> {
        self.reply.recv().map_err(|_| closed())?
    }
}

/// Validated records with the analysis of each upsert (computed by the submitting thread,
/// so the writer thread only stores and indexes).
pub struct Batch {
    records: Vec<Record>,
    analyses: Vec<Option<Analysis>>,
    /// Refuse the batch unless the catalog store is still in this generation (see
    /// [`Engine::generation`]).
    generation: Option<u64>,
}

impl Batch {
    /// Analyse the upserts of `records`.
    pub fn new(records: Vec<Record>) -> Batch {
        let analyses = records
            .iter()
            .map(|r| match r {
                Record::Upsert(e) => Some(Analysis::of(e)),
                Record::Delete(_) => None,
            })
            .collect();
        Batch {
            records,
            analyses,
            generation: None,
        }
    }

    /// Refuse this batch (`Unavailable`) if the catalog store was reopened since
    /// generation `generation` ([`Engine::generation`]): it lost what was not durable, so
    /// whoever applies a log must replay it before applying more.
    pub fn in_generation(mut self, generation: u64) -> Batch {
        self.generation = Some(generation);
        self
    }

    /// Records with their analyses already computed (`None` for deletes; one per record).
    pub fn with_analyses(records: Vec<Record>, mut analyses: Vec<Option<Analysis>>) -> Batch {
        if analyses.len() != records.len() {
            return Batch::new(records);
        }
        for (r, a) in records.iter().zip(analyses.iter_mut()) {
            if let (Record::Upsert(e), None) = (r, &a) {
                *a = Some(Analysis::of(e));
            }
        }
        Batch {
            records,
            analyses,
            generation: None,
        }
    }

    /// Each record's analysis (`None` for deletes), for callers that keep the records
    /// elsewhere (the write log) and rebuild the batch with [`Batch::with_analyses`].
    pub fn analyses_of(records: &[Record]) -> Vec<Option<Analysis>> {
        records
            .iter()
            .map(|r| match r {
                Record::Upsert(e) => Some(Analysis::of(e)),
                Record::Delete(_) => None,
            })
            .collect()
    }

    /// The records.
    pub fn records(&self) -> &[Record] {
        &self.records
    }
}

enum Msg {
    /// A batch and its write-log sequence number; replies with the change-feed sequence
    /// number of the batch's last change (0: nothing changed).
    Write(Batch, u64, Sender<Result<u64>>),
    Refresh(Sender<Result<()>>),
    Optimize(Sender<Result<()>>),
    Shutdown(Sender<Result<()>>),
    /// Commit, then copy the catalog store and the index into this directory.
    Snapshot(PathBuf, Sender<Result<()>>),
    /// Something failed outside the writer thread: recover now.
    Wake,
}

struct Shared {
    data_dir: PathBuf,
    store: CatalogStore,
    reader: IndexReader,
    fields: Fields,
    /// `ln(1 + max popularity)` per type code, as f64 bits.
    log_max_pop: [AtomicU64; 8],
    /// Decoded ranking columns per live segment.
    segment_cache: Mutex<HashMap<SegmentId, Arc<SegmentData>>>,
    /// Synonyms and query rules in force (replaced whole by the service's applier).
    curation: parking_lot::RwLock<Arc<crate::curate::Curation>>,
    /// Entity-name completions, updated with every applied change (not in bulk mode).
    suggest: Option<crate::suggest::Suggester>,
    /// The free-space watermark, shared with whoever else writes to the data directory.
    disk: needle_store::disk::DiskGuard,
    /// The index writer failed (e.g. tantivy killed it on a full disk) and is not yet
    /// running again.
    index_failure: Mutex<Option<needle_store::Failure>>,
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

/// The search engine. Share it behind an `Arc`; all methods block.
pub struct Engine {
    shared: Arc<Shared>,
    tx: Sender<Msg>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Engine {
    /// Open (or create) the engine in `cfg.data_dir`, catching the index up with the store.
    pub fn open(cfg: EngineConfig) -> Result<Engine> {
        let store = CatalogStore::open_with_cache(&cfg.data_dir, cfg.store_cache_bytes)?;
        let index_dir = cfg.data_dir.join("index");
        fs_err::create_dir_all(&index_dir)
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
        }
        store.defer_durability(cfg.bulk || cfg.log_durable);
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let suggest = if cfg.bulk { None } else { Some(build_suggester(&store)?) };
        let disk = needle_store::disk::DiskGuard::new(cfg.data_dir.clone(), cfg.min_free_disk_bytes);
        let shared = Arc::new(Shared {
            disk: disk.clone(),
            index_failure: Mutex::new(None),
            data_dir: cfg.data_dir.clone(),
            store,
            reader,
            fields,
            log_max_pop: std::array::from_fn(|_| AtomicU64::new(0f64.to_bits())),
            segment_cache: Mutex::new(HashMap::new()),
            curation: Default::default(),
            suggest,
        });
        let committed: u64 = index.load_metas()?.payload.and_then(|p| p.parse().ok()).unwrap_or(0);
        let mut w = Writer {
            shared: shared.clone(),
            writer,
            disk,
            threads,
            memory: cfg.indexer_memory_bytes.max((threads * 16) << 20),
            bulk: cfg.bulk,
            broken: false,
            relock: false,
            postponed: false,
            pending_catch_up: None,
            dirty: false,
            last_seq: committed,
        };
        // A new index over a catalog that has entities (the index was deleted, or was built
        // by a version with another schema): the change feed is trimmed after every index
        // commit, so rebuild from every stored entity rather than from the feed.
        let fresh = committed == 0 && index.searchable_segment_ids()?.is_empty();
        let rebuild = fresh && w.shared.store.counts()?.0 > 0;
        if let Err(low) = w.disk.check() {
            // Indexing on a full disk kills tantivy's writer: searches see the last commit
            // until space returns, then the writer thread catches up.
            tracing::warn!(
                available_mb = low.available_mb,
                min_free_mb = low.min_free_mb,
                "the disk is nearly full: the index catches up with the catalog once space is freed"
            );
            w.pending_catch_up = Some(if rebuild {
                CatchUp::Rebuild
            } else {
                CatchUp::From(committed)
            });
        } else if rebuild {
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
        Ok(Engine {
            shared,
            tx,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Apply a batch from write-log entry `log_seq` (0: no log) and wait; returns the
    /// change-feed sequence number of its last change (0 when nothing changed).
    pub fn apply(&self, batch: Batch, log_seq: u64) -> Result<u64> {
        self.submit(batch, log_seq)?.wait()
    }

    /// Queue a batch for the writer without waiting (bulk loaders keep the next batch
    /// queued while the writer stores the last one, so it never idles).
    pub fn submit(&self, batch: Batch, log_seq: u64) -> Result<PendingWrite> {
        let (tx, rx) = bounded(1);
        self.tx.send(Msg::Write(batch, log_seq, tx)).map_err(|_| closed())?;
        Ok(PendingWrite { reply: rx })
    }

    /// The last write-log sequence number the catalog store holds.
    pub fn applied_seq(&self) -> Result<u64> {
        Ok(self.shared.store.applied_seq()?)
    }

    /// Make every applied batch durable in the catalog store (a checkpoint of the log).
    pub fn sync(&self) -> Result<()> {
        let synced = self.shared.store.sync();
        if synced.is_err() && self.shared.store.failure().is_some() {
            // The writer thread reopens the store: wake it.
            let _ = self.tx.send(Msg::Wake);
        }
        Ok(synced?)
    }

    /// How many times the catalog store was reopened after a failed write. A reopen loses
    /// the batches not yet durable ([`Engine::sync`]); [`Engine::applied_seq`] then says
    /// where to replay the write log from, and [`Batch::in_generation`] keeps a batch from
    /// being applied over the gap.
    pub fn generation(&self) -> u64 {
        self.shared.store.generation()
    }

    /// What failed and is not running again yet: the catalog store (it refuses reads and
    /// writes until its writer thread reopens it) or the index writer (searches see the
    /// last commit). `None` when both work. Both recover by themselves; a full disk waits
    /// for space first.
    pub fn failure(&self) -> Option<needle_store::Failure> {
        self.shared
            .store
            .failure()
            .or_else(|| self.shared.index_failure.lock().clone())
    }

    /// The free-space watermark this engine keeps (clones share the mark a full disk
    /// raises: give it to whoever else writes to the data directory).
    pub fn disk_guard(&self) -> needle_store::disk::DiskGuard {
        self.shared.disk.clone()
    }

    /// A consistent read view of the catalog store (its digest, its applied sequence
    /// number).
    pub fn view(&self) -> Result<needle_store::CatalogSnapshot> {
        Ok(self.shared.store.snapshot()?)
    }

    /// The catalog's change-feed sequence number (changes whenever any entity does).
    pub fn catalog_seq(&self) -> Result<u64> {
        Ok(self.shared.store.last_seq()?)
    }

    /// Fetch one entity as stored.
    pub fn get(&self, id: &str) -> Result<Option<Entity>> {
        Ok(self.shared.store.get(id)?)
    }

    /// Fetch the entity `id` names as stored, following alias ids (`Entity::alias_ids`):
    /// an entity's own id wins; the answer's `id` is the canonical one.
    pub fn get_canonical(&self, id: &str) -> Result<Option<Entity>> {
        Ok(self.shared.store.get_canonical(id)?)
    }

    /// Run a search, personalized by `taste` when given.
    pub fn search(&self, req: &SearchRequest, taste: Option<&Taste>) -> Result<SearchResponse> {
        let searcher = self.shared.reader.searcher();
        let snap = self.shared.store.snapshot()?;
        let segments = self.shared.segment_data(&searcher)?;
        let log_max_pop = self.shared.log_max_pop();
        let curation = self.shared.curation.read().clone();
        crate::search::run(
            &searcher,
            &self.shared.fields,
            &snap,
            log_max_pop,
            segments,
            taste,
            &curation,
            req,
        )
    }

    /// Hits for `ids`, in that order, that pass `req`'s filters: the semantic arm's
    /// candidates made hits (see [`crate::hybrid`]).
    pub fn hits_for_ids(&self, req: &SearchRequest, ids: &[String]) -> Result<Vec<Hit>> {
        let searcher = self.shared.reader.searcher();
        let snap = self.shared.store.snapshot()?;
        let segments = self.shared.segment_data(&searcher)?;
        crate::search::hits_for_ids(&searcher, &self.shared.fields, &snap, &segments, req, ids)
    }

    /// Put synonyms and query rules in force for the searches that start from now on.
    pub fn set_curation(&self, curation: crate::curate::Curation) {
        *self.shared.curation.write() = Arc::new(curation);
    }

    /// Completions of typed text: entity names (lifted toward `taste`) and `queries`'
    /// past queries. Empty for an engine opened for a bulk load.
    pub fn suggest(
        &self,
        req: &crate::suggest::SuggestRequest,
        taste: Option<&Taste>,
        queries: &dyn crate::suggest::QuerySource,
    ) -> crate::suggest::SuggestResponse {
        match &self.shared.suggest {
            Some(s) => s.suggest(req, taste, queries),
            None => Default::default(),
        }
    }

    /// Entities the suggester completes and its approximate heap bytes.
    pub fn suggest_stats(&self) -> (usize, usize) {
        self.shared
            .suggest
            .as_ref()
            .map_or((0, 0), |s| (s.len(), s.heap_bytes()))
    }

    /// A listener's profile projected onto the catalog (creators, tags), as of `now_ms`.
    pub fn derive_taste(&self, profile: &Profile, cfg: &ProfileConfig, now_ms: i64) -> Result<Taste> {
        let snap = self.shared.store.snapshot()?;
        Ok(taste::derive(profile, cfg, &snap, now_ms)?)
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

    /// Catalog counts.
    pub fn stats(&self) -> Result<CatalogStats> {
        let (entities, by_type) = self.shared.store.counts()?;
        let searchable = self.shared.reader.searcher().num_docs();
        Ok(CatalogStats {
            entities,
            by_type,
            searchable,
            semantic: None,
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

    /// Commit the index and copy the catalog store (`catalog.redb`) and the index
    /// (`index/`) into `dest` (which must exist), consistently: nothing is written to
    /// either while they are copied. The copy's index may be behind its store (a later
    /// open catches it up from the store's change feed), never ahead.
    pub fn snapshot_to(&self, dest: &Path) -> Result<()> {
        let (tx, rx) = bounded(1);
        self.tx
            .send(Msg::Snapshot(dest.to_path_buf(), tx))
            .map_err(|_| closed())?;
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
        fs_err::remove_dir_all(index_dir).map_err(unavailable)?;
        fs_err::create_dir_all(index_dir).map_err(unavailable)?;
        return Ok(Index::create(open_dir()?, schema, Default::default())?);
    }
    Ok(Index::create(dir, schema, Default::default())?)
}

/// The suggester over every stored entity.
fn build_suggester(store: &CatalogStore) -> Result<crate::suggest::Suggester> {
    let started = Instant::now();
    let mut b = crate::suggest::SuggesterBuilder::default();
    store.for_each_entity(|e| b.add(&e))?;
    let s = b.finish();
    if !s.is_empty() {
        tracing::info!(
            entities = s.len(),
            seconds = started.elapsed().as_secs_f64(),
            "suggestions built"
        );
    }
    Ok(s)
}

fn closed() -> Error {
    Error::Unavailable("the engine is shut down".into())
}
