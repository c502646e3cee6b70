//! The embedding worker: load, reconcile, then embed what the applier reports.

use super::index::VectorSet;
use super::text::{doc_text, text_hash};
use super::Semantic;
use needle_store::StoredVector;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often progress is logged while there is work.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub(super) fn run(s: &Semantic) {
    // Offline, nothing is searched (ready from the start): the graph is built once the
    // queue empties.
    if !s.offline {
        s.load();
    }
    if !s.cfg.backfill {
        tracing::info!("semantic.backfill = false: entities are embedded when written, none at start");
    } else if let Err(e) = reconcile(s) {
        tracing::error!(error = %e, "cannot check the catalog against the stored vectors");
    }
    s.reconciling.store(false, Ordering::SeqCst);
    let mut last_log = Instant::now();
    loop {
        if s.offline && s.queue.lock().is_empty() && s.dirty.swap(false, Ordering::SeqCst) {
            s.load();
        }
        let batch: Vec<String> = {
            let mut q = s.queue.lock();
            while q.is_empty() && !s.stop.load(Ordering::SeqCst) {
                s.busy.store(false, Ordering::SeqCst);
                s.idle.notify_all();
                s.wake.wait(&mut q);
            }
            if s.stop.load(Ordering::SeqCst) {
                s.busy.store(false, Ordering::SeqCst);
                s.idle.notify_all();
                return;
            }
            s.busy.store(true, Ordering::SeqCst);
            let take: Vec<String> = q.iter().take(s.cfg.batch_size).cloned().collect();
            for id in &take {
                q.remove(id);
            }
            take
        };
        if let Err(e) = embed_batch(s, &batch) {
            tracing::error!(error = %e, n = batch.len(), "embedding a batch failed; it is retried at the next start");
        }
        let queued = !s.queue.lock().is_empty();
        if !s.offline && s.set.read().needs_rebuild(queued) {
            match VectorSet::load(&s.store, &s.graph) {
                Ok(set) => *s.set.write() = set,
                Err(e) => tracing::error!(error = %e, "cannot rebuild the semantic index"),
            }
        }
        if last_log.elapsed() >= PROGRESS_EVERY {
            last_log = Instant::now();
            let st = s.status();
            tracing::info!(
                embedded = st.embedded,
                pending = st.pending,
                per_s = st.embedded_per_s,
                vectors = st.vectors,
                "embedding"
            );
        }
    }
}

/// Queue every entity of the configured types whose stored vector is missing or was made
/// from another text; delete the vectors of entities gone (or of types no longer embedded).
fn reconcile(s: &Semantic) -> crate::Result<()> {
    let started = Instant::now();
    let mut stored: HashMap<String, u64> = HashMap::new();
    s.store.for_each(|id, v| {
        stored.insert(id.to_string(), v.text_hash);
    })?;
    let snap = s.engine.view()?;
    let mut stale = Vec::new();
    let mut checked = 0u64;
    s.engine.for_each_entity(|e| {
        if !s.cfg.types.contains(&e.entity_type()) {
            return;
        }
        checked += 1;
        // Transcripts are not in the scan's form of the entity: read the episode whole.
        let e = match e.entity_type() {
            needle_core::EntityType::Episode => snap.get(&e.id).ok().flatten().unwrap_or(e),
            _ => e,
        };
        let h = text_hash(&doc_text(&e, &snap));
        if stored.remove(&e.id) != Some(h) {
            stale.push(e.id);
        }
    })?;
    let gone: Vec<String> = stored.into_keys().collect();
    if !gone.is_empty() {
        s.store.write(&[], &gone)?;
        s.dirty.store(true, Ordering::SeqCst);
        let mut set = s.set.write();
        for id in &gone {
            set.remove(id);
        }
    }
    tracing::info!(
        checked,
        stale = stale.len(),
        gone = gone.len(),
        seconds = started.elapsed().as_secs_f64(),
        "semantic vectors checked against the catalog"
    );
    s.changed(stale.iter().map(String::as_str));
    Ok(())
}

/// Embed the entities of `ids` whose text changed; forget those gone.
fn embed_batch(s: &Semantic, ids: &[String]) -> crate::Result<()> {
    let snap = s.engine.view()?;
    let mut gone = Vec::new();
    let mut todo: Vec<(String, u8, String, u64)> = Vec::new();
    for id in ids {
        match snap.get(id)? {
            Some(e) if s.cfg.types.contains(&e.entity_type()) => {
                let text = doc_text(&e, &snap);
                let h = text_hash(&text);
                if s.store.text_hash(id)? != Some(h) {
                    let kind = e.entity_type().code() as u8;
                    todo.push((e.id, kind, text, h));
                }
            }
            _ => {
                if s.store.text_hash(id)?.is_some() {
                    gone.push(id.clone());
                }
            }
        }
    }
    let started = Instant::now();
    let texts: Vec<&str> = todo.iter().map(|t| t.2.as_str()).collect();
    let vectors = if texts.is_empty() {
        Vec::new()
    } else {
        s.embedder
            .embed(&texts)
            .map_err(|e| crate::Error::Unavailable(format!("the embedding model failed: {e}")))?
    };
    s.embed_micros
        .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    let put: Vec<(String, StoredVector)> = todo
        .into_iter()
        .zip(vectors)
        .map(|((id, kind, _, text_hash), vector)| {
            (
                id,
                StoredVector {
                    text_hash,
                    kind,
                    vector,
                },
            )
        })
        .collect();
    if put.is_empty() && gone.is_empty() {
        return Ok(());
    }
    s.store.write(&put, &gone)?;
    s.embedded.fetch_add(put.len() as u64, Ordering::Relaxed);
    s.dirty.store(true, Ordering::SeqCst);
    if s.offline {
        return Ok(());
    }
    let mut set = s.set.write();
    for (id, v) in put {
        set.upsert(&id, v.kind, v.vector);
    }
    for id in &gone {
        set.remove(id);
    }
    Ok(())
}
