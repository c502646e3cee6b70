//! Semantic search: text vectors for the spoken-word entities, kept beside the catalog in
//! `vectors.redb`, searched by [`index::VectorSet`], and the semantic arm of hybrid search.
//!
//! Vectors are derived state, like the search index: a worker thread embeds what changed
//! (told by the applier after each catalog entry) and, at start, reconciles the vector
//! file with the catalog (text hashes), so nothing is recomputed on restart and whatever
//! was missed (a bulk import, a crash between a catalog write and its vector) is caught up.
//! Design and figures: `docs/search.md` ("Semantic and hybrid search").

pub mod index;
mod similar;
pub mod text;
mod worker;

use crate::config::semantic::SemanticConfig;
use index::{Near, VectorSet};
use needle_core::EntityType;
use needle_embed::Embedder;
use needle_search::Engine;
use needle_search::SemanticStats;
use needle_store::VectorStore;
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Query vectors cached (a repeated query skips the model).
const QUERY_CACHE: usize = 4096;

/// The semantic side of the service.
pub struct Semantic {
    embedder: Arc<dyn Embedder>,
    store: VectorStore,
    set: RwLock<VectorSet>,
    engine: Arc<Engine>,
    cfg: SemanticConfig,
    graph: std::path::PathBuf,
    queue: Mutex<BTreeSet<String>>,
    wake: Condvar,
    /// Signalled when the queue empties.
    idle: Condvar,
    busy: AtomicBool,
    stop: AtomicBool,
    ready: AtomicBool,
    reconciling: AtomicBool,
    /// Vectors for the file only (see [`crate::ServiceConfig::offline_embedding`]).
    offline: bool,
    /// Offline: the vector file changed since the graph was built.
    dirty: AtomicBool,
    embedded: AtomicU64,
    embed_micros: AtomicU64,
    queries: Mutex<HashMap<String, Arc<Vec<f32>>>>,
}

impl Semantic {
    /// Open the vector file in `dir` for `embedder` and start the worker: it loads the
    /// vectors, checks every entity of `cfg.types` against them, then embeds what changes.
    /// `offline`: nothing is searched (see [`crate::ServiceConfig::offline_embedding`]).
    pub fn start(
        engine: Arc<Engine>,
        dir: &Path,
        cfg: SemanticConfig,
        embedder: Arc<dyn Embedder>,
        offline: bool,
    ) -> crate::Result<Arc<Semantic>> {
        let store = VectorStore::open(dir, embedder.tag(), embedder.dim())?;
        let s = Arc::new(Semantic {
            set: RwLock::new(VectorSet::empty(embedder.dim())),
            embedder,
            store,
            engine,
            cfg,
            graph: dir.join("vectors.hnsw"),
            queue: Mutex::new(BTreeSet::new()),
            wake: Condvar::new(),
            idle: Condvar::new(),
            busy: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            // Offline, nothing is searched and nothing loaded first: ready from the start
            // (not once the worker thread gets to run, which a caller could read before).
            ready: AtomicBool::new(offline),
            reconciling: AtomicBool::new(true),
            offline,
            dirty: AtomicBool::new(false),
            embedded: AtomicU64::new(0),
            embed_micros: AtomicU64::new(0),
            queries: Mutex::new(HashMap::new()),
        });
        let bg = Arc::clone(&s);
        std::thread::Builder::new()
            .name("needle-embed".into())
            .spawn(move || worker::run(&bg))
            .map_err(|e| crate::Error::Unavailable(format!("cannot start the embedding worker: {e}")))?;
        Ok(s)
    }

    /// The configuration.
    pub fn config(&self) -> &SemanticConfig {
        &self.cfg
    }

    /// Entities whose text may have changed (the applier's catalog entries).
    pub fn changed<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut q = self.queue.lock();
        let before = q.len();
        q.extend(ids.into_iter().map(str::to_string));
        if q.len() > before {
            self.busy.store(true, Ordering::SeqCst);
            self.wake.notify_one();
        }
    }

    /// Whether the vectors are loaded (before, the semantic arm has nothing to search).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Answer as loading (what a start does until the worker has loaded the vectors):
    /// readiness waits and forced semantic modes answer `semantic_loading` until the next
    /// [`Semantic::load`] ends.
    pub fn mark_loading(&self) {
        self.ready.store(false, Ordering::SeqCst);
    }

    /// Load the stored vectors and their graph (built and saved if missing or stale) as the
    /// searched set, and end the loading state however the load ends (an unreadable file
    /// leaves the vectors to be recomputed).
    pub fn load(&self) {
        // The old set is dropped first: the build holds the vectors two more times.
        *self.set.write() = VectorSet::empty(self.embedder.dim());
        match VectorSet::load(&self.store, &self.graph) {
            Ok(set) => *self.set.write() = set,
            Err(e) => tracing::error!(error = %e, "cannot read the stored vectors; they are recomputed"),
        }
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Block until the worker has loaded, reconciled and embedded everything queued, or
    /// `bound` passed; whether it is idle. (Tests and `needle import` wait on this.)
    pub fn wait_idle(&self, bound: Duration) -> bool {
        let deadline = Instant::now() + bound;
        let mut q = self.queue.lock();
        while self.busy.load(Ordering::SeqCst) || !q.is_empty() {
            if self.idle.wait_until(&mut q, deadline).timed_out() {
                return false;
            }
        }
        true
    }

    /// Stop the worker (it finishes the batch in hand).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _q = self.queue.lock();
        self.wake.notify_all();
    }

    /// The query's vector (cached).
    pub fn embed_query(&self, q: &str) -> crate::Result<Arc<Vec<f32>>> {
        let key = needle_core::text::fold(q.trim());
        if let Some(v) = self.queries.lock().get(&key) {
            return Ok(Arc::clone(v));
        }
        let mut out = self
            .embedder
            .embed(&[key.as_str()])
            .map_err(|e| crate::Error::Unavailable(format!("the embedding model failed: {e}")))?;
        let v = Arc::new(out.pop().unwrap_or_default());
        let mut cache = self.queries.lock();
        if cache.len() >= QUERY_CACHE {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&v));
        Ok(v)
    }

    /// Copy the vector file into a snapshot directory.
    pub fn copy_to(&self, dir: &Path) -> crate::Result<()> {
        Ok(self.store.copy_to(dir)?)
    }

    /// `id`'s stored vector.
    pub fn vector_of(&self, id: &str) -> crate::Result<Option<Vec<f32>>> {
        Ok(self.store.get(id)?.map(|v| v.vector))
    }

    /// The `k` nearest entities of `types` (empty: every type with vectors).
    pub fn nearest(&self, query: &[f32], k: usize, types: &[EntityType]) -> Vec<Near> {
        self.set.read().search(query, k, types)
    }

    /// Where semantic search stands.
    pub fn status(&self) -> SemanticStats {
        let set = self.set.read();
        let embedded = self.embedded.load(Ordering::Relaxed);
        let micros = self.embed_micros.load(Ordering::Relaxed);
        SemanticStats {
            enabled: true,
            reason: None,
            model: Some(self.embedder.tag().to_string()),
            state: Some(if self.is_ready() { "ready" } else { "loading" }.into()),
            types: self.cfg.types.clone(),
            vectors: match self.offline {
                // Offline the set stays empty until the final build: count the file.
                true => self.store.len().unwrap_or(0).max(set.len() as u64),
                false => set.len() as u64,
            },
            pending: self.queue.lock().len() as u64,
            embedded,
            embedded_per_s: if micros > 0 {
                (embedded as f64 * 1e6 / micros as f64 * 10.0).round() / 10.0
            } else {
                0.0
            },
            vector_bytes: set.vector_bytes() as u64,
            reconciling: self.reconciling.load(Ordering::Relaxed),
        }
    }
}
