//! The writer thread: it owns tantivy's `IndexWriter`, groups the batches it is handed,
//! commits every `refresh_interval` (or when asked), and keeps the index behind the
//! durable catalog store (recovery in `recover.rs`).

use super::*;

/// Owner of the tantivy writer; lives on the writer thread.
pub(super) struct Writer {
    pub(super) shared: Arc<Shared>,
    pub(super) writer: IndexWriter,
    /// Commits wait while the disk is nearly full.
    pub(super) disk: needle_store::disk::DiskGuard,
    /// Indexing threads and memory budget, to start the writer again after a failure.
    pub(super) threads: usize,
    pub(super) memory: usize,
    pub(super) bulk: bool,
    /// A write or commit failed: the index writer starts again from its last commit (and
    /// the store is reopened if it failed too) before the next write.
    pub(super) broken: bool,
    /// A rollback failed and gave up the index lock: the next recovery opens a new writer.
    pub(super) relock: bool,
    /// A commit is being held back by the disk guard (logged once).
    pub(super) postponed: bool,
    /// Opened on a nearly full disk: what the index must do once space is back.
    pub(super) pending_catch_up: Option<CatchUp>,
    pub(super) dirty: bool,
    pub(super) last_seq: u64,
}

/// How an index opened on a nearly full disk catches up once space is back.
#[derive(Debug, Clone, Copy)]
pub(super) enum CatchUp {
    /// Index the catalog changes after this committed sequence number.
    From(u64),
    /// The index was empty: index every entity.
    Rebuild,
}

/// Most records merged into one group commit.
const MAX_GROUP_RECORDS: usize = 200_000;

/// How the error of a commit held back by the free-space mark starts (nothing failed).
pub(super) const POSTPONED: &str = "index commit postponed";

impl Writer {
    pub(super) fn run(mut self, rx: Receiver<Msg>, interval: Duration) {
        let mut last_commit = Instant::now();
        loop {
            self.recover();
            self.resume_catch_up();
            let wait = if self.dirty || self.pending_catch_up.is_some() || self.failing() {
                interval.saturating_sub(last_commit.elapsed())
            } else {
                Duration::from_secs(3600)
            };
            let msg = match rx.recv_timeout(wait) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = self.commit() {
                        if !self.postponed && !self.failing() {
                            tracing::error!(error = %e, "index commit failed");
                        }
                        self.after_failure(&e);
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
                Msg::Write(batch, seq, reply) => {
                    let mut n: usize = batch.records.len();
                    let mut group = vec![(batch, seq, reply)];
                    let mut pending = None;
                    while n < MAX_GROUP_RECORDS {
                        match rx.try_recv() {
                            Ok(Msg::Write(b, q, s)) => {
                                n += b.records.len();
                                group.push((b, q, s));
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
                    if !self.postponed && !self.failing() {
                        tracing::error!(error = %e, "index commit failed");
                    }
                    self.after_failure(&e);
                }
                last_commit = Instant::now();
            }
        }
    }

    /// Handle refresh/shutdown; true when the thread must stop.
    pub(super) fn control(&mut self, m: Msg) -> bool {
        match m {
            Msg::Refresh(reply) => {
                let committed = self.commit();
                if let Err(e) = &committed {
                    self.after_failure(e);
                }
                let _ = reply.send(committed);
                false
            }
            Msg::Shutdown(reply) => {
                // On a nearly full disk the last changes stay in the catalog store's feed
                // (and the write log): the next start commits them.
                let _ = reply.send(self.commit_unless_postponed());
                true
            }
            Msg::Optimize(reply) => {
                let _ = reply.send(self.optimize());
                false
            }
            Msg::Snapshot(dest, reply) => {
                let _ = reply.send(self.commit().and_then(|()| self.copy_to(&dest)));
                false
            }
            Msg::Write(..) | Msg::Wake => false,
        }
    }

    pub(super) fn write_group(&mut self, group: Vec<(Batch, u64, Sender<Result<u64>>)>) {
        let mut replies = Vec::with_capacity(group.len());
        let mut all = Batch {
            records: Vec::new(),
            analyses: Vec::new(),
            generation: None,
        };
        let mut log_seq = 0;
        let generation = self.shared.store.generation();
        for (batch, seq, reply) in group {
            let refused = batch.generation.is_some_and(|g| g != generation)
                || self.shared.store.failure().is_some()
                || (self.bulk && self.broken);
            if refused {
                let _ = reply.send(Err(self.refusal(generation)));
                continue;
            }
            log_seq = log_seq.max(seq);
            all.records.extend(batch.records);
            all.analyses.extend(batch.analyses);
            replies.push(reply);
        }
        if replies.is_empty() {
            return;
        }
        let result = self
            .shared
            .store
            .apply(&all.records, log_seq)
            .map_err(Error::from)
            .and_then(|applied| {
                if applied.seq > 0 {
                    self.last_seq = applied.seq;
                }
                if self.broken || self.pending_catch_up.is_some() {
                    // The index writer starts again from its last commit (or waits for
                    // room to catch up) and indexes the store's changes after it, these
                    // included; indexing them now on a full disk would kill it again.
                    return Ok(applied.seq);
                }
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
                if let Err(e) = self.index_with(&applied.changed, &latest) {
                    self.after_failure(&e);
                    if self.bulk {
                        return Err(e);
                    }
                    // The batch is in the store, whose change feed the index catches up
                    // from once its writer starts again: the write itself succeeded.
                }
                Ok(applied.seq)
            });
        if let Err(e) = &result {
            self.after_failure(e);
        }
        for reply in replies {
            let _ = reply.send(match &result {
                Ok(seq) => Ok(*seq),
                Err(e) => Err(Error::Unavailable(format!("write failed: {e}"))),
            });
        }
    }

    /// Re-derive the index documents of changed ids from the store.
    pub(super) fn index_changes(&mut self, changed: &[(String, bool)]) -> Result<()> {
        self.index_with(changed, &HashMap::new())
    }

    /// Re-derive index documents; entities found in `known` are not read back (nor
    /// re-analysed when their analysis came with them).
    pub(super) fn index_with(
        &mut self,
        changed: &[(String, bool)],
        known: &HashMap<&str, Option<(&Entity, Option<&Analysis>)>>,
    ) -> Result<()> {
        let snap = self.shared.store.snapshot()?;
        let f = &self.shared.fields;
        let mut suggest: Vec<(&str, Option<Entity>)> = Vec::new();
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
            if self.shared.suggest.is_some() {
                suggest.push((id, entity.cloned()));
            }
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
        if let Some(s) = &self.shared.suggest {
            s.apply(suggest.iter().map(|(id, e)| (*id, e.as_ref())));
        }
        Ok(())
    }

    pub(super) fn optimize(&mut self) -> Result<()> {
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
        // The catalog store too: a bulk load leaves a third of its file as freed pages.
        let started = std::time::Instant::now();
        match self.shared.store.compact() {
            Ok(true) => tracing::info!(seconds = started.elapsed().as_secs_f64(), "catalog store compacted"),
            Ok(false) => tracing::info!("catalog store not compacted: a read of it is under way"),
            Err(e) => tracing::warn!(error = %e, "catalog store compaction failed"),
        }
        Ok(())
    }

    pub(super) fn commit(&mut self) -> Result<()> {
        if let Err(low) = self.disk.check() {
            // Writing segments on a full disk kills tantivy's writer and fails redb: the
            // changes stay in the (durable) catalog store's feed and are committed once
            // space is back; searches meanwhile see the last commit.
            if !self.postponed {
                tracing::warn!(
                    available_mb = low.available_mb,
                    min_free_mb = low.min_free_mb,
                    "index commits postponed until disk space is freed"
                );
                self.postponed = true;
            }
            return Err(Error::Unavailable(format!(
                "{POSTPONED}: the disk is nearly full ({} MiB available, {} MiB kept free)",
                low.available_mb, low.min_free_mb
            )));
        }
        self.postponed = false;
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
        self.postponed = false;
        self.shared.store.trim_changes(self.last_seq)?;
        Ok(())
    }

    /// Copy the store file and the index files into `dest` (on the writer thread, so no
    /// write or commit runs meanwhile). Background merges may still finish and replace
    /// `meta.json`: the index is copied again until a whole pass saw one `meta.json`.
    pub(super) fn copy_to(&mut self, dest: &Path) -> Result<()> {
        let io = |what: &str, e: std::io::Error| Error::Unavailable(format!("snapshot: {what}: {e}"));
        let dir = self.shared.data_dir.clone();
        fs_err::copy(dir.join("catalog.redb"), dest.join("catalog.redb")).map_err(|e| io("catalog store", e))?;
        let src = dir.join("index");
        let out = dest.join("index");
        for attempt in 1..=10 {
            let _ = fs_err::remove_dir_all(&out);
            fs_err::create_dir_all(&out).map_err(|e| io("index directory", e))?;
            let meta = fs_err::read(src.join("meta.json")).map_err(|e| io("index meta", e))?;
            let mut whole = true;
            for entry in fs_err::read_dir(&src).map_err(|e| io("index directory", e))? {
                let entry = entry.map_err(|e| io("index directory", e))?;
                let name = entry.file_name();
                let n = name.to_string_lossy();
                if n == "meta.json" || n.ends_with(".lock") || !entry.path().is_file() {
                    continue;
                }
                match fs_err::copy(entry.path(), out.join(&name)) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => whole = false,
                    Err(e) => return Err(io("index file", e)),
                }
            }
            let after = fs_err::read(src.join("meta.json")).map_err(|e| io("index meta", e))?;
            if whole && after == meta {
                fs_err::write(out.join("meta.json"), &meta).map_err(|e| io("index meta", e))?;
                return Ok(());
            }
            tracing::debug!(attempt, "index changed while copied (a merge ended); copying again");
        }
        Err(Error::Unavailable(
            "snapshot: the index kept changing while copied".into(),
        ))
    }

    /// Index every entity of the store (into an empty index) and commit.
    pub(super) fn rebuild(&mut self) -> Result<()> {
        let started = Instant::now();
        let mut ids: Vec<(String, bool)> = Vec::new();
        self.shared.store.for_each_id(|id| ids.push((id.to_string(), false)))?;
        tracing::info!(entities = ids.len(), "rebuilding the search index from the catalog");
        for chunk in ids.chunks(10_000) {
            self.index_changes(chunk)?;
        }
        self.last_seq = self.shared.store.last_seq()?;
        self.dirty = true;
        self.commit_unless_postponed()?;
        tracing::info!(
            entities = ids.len(),
            seconds = started.elapsed().as_secs_f64(),
            "search index rebuilt"
        );
        Ok(())
    }

    /// Replay store changes the index has not committed yet.
    pub(super) fn catch_up(&mut self, committed: u64) -> Result<()> {
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
        // Opening on a nearly full disk: searches see the last commit until space returns
        // and the writer thread commits.
        self.commit_unless_postponed()
    }

    /// Index the catalog changes an open on a nearly full disk left out, once there is
    /// room (re-deriving a document twice is harmless, so writes meanwhile are fine).
    pub(super) fn resume_catch_up(&mut self) {
        let Some(pending) = self.pending_catch_up else { return };
        if self.failing() || self.disk.check().is_err() {
            return;
        }
        let last = self.last_seq;
        let done = match pending {
            CatchUp::From(committed) => self.catch_up(committed),
            CatchUp::Rebuild => self.rebuild(),
        };
        match done {
            Ok(()) => {
                self.pending_catch_up = None;
                self.last_seq = self.last_seq.max(last);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the index cannot catch up with the catalog yet");
                self.after_failure(&e);
            }
        }
    }

    /// [`Writer::commit`], where a commit held back by a nearly full disk is not an error
    /// (it is retried every `refresh_interval`).
    pub(super) fn commit_unless_postponed(&mut self) -> Result<()> {
        match self.commit() {
            Err(_) if self.postponed => Ok(()),
            r => r,
        }
    }

    /// Learn the largest popularity per type from the committed index.
    pub(super) fn init_popularity(&mut self) -> Result<()> {
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
