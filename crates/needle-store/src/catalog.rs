//! The catalog of record on redb.

use crate::codec::{self, Codec, FIRST_TRAINING, LAST_TRAINING, TRAINING_SAMPLES};
use crate::error::{Error, Result};
use crate::reopen::{Failure, Handle};
use needle_core::{Entity, EntityType, Record};
use redb::{
    Database, MultimapTableDefinition, ReadTransaction, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    ReadableTableMetadata, Table, TableDefinition, TableHandle, WriteTransaction,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// id -> entity JSON, plain or compressed with a dictionary (see [`crate::codec`]).
const ENTITIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entities");
/// What `entities` becomes during [`CatalogStore::compact`] (renamed to it at the end).
const UPGRADING: TableDefinition<&str, &[u8]> = TableDefinition::new("entities.upgrading");
/// What `names` becomes during [`CatalogStore::compact`].
const NAMES_REWRITING: TableDefinition<&str, &str> = TableDefinition::new("names.rewriting");
/// dictionary id -> a zstd dictionary trained on this store's records.
const DICTS: TableDefinition<u32, &[u8]> = TableDefinition::new("dictionaries");
/// referenced id -> ids of entities that display its name.
const REFS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("refs");
/// change sequence number -> id whose indexed form must be refreshed.
const CHANGES: TableDefinition<u64, &str> = TableDefinition::new("changes");
/// id -> transcript as a zstd frame, kept apart so display reads never decode it.
const TEXTS_ZSTD: TableDefinition<&str, &[u8]> = TableDefinition::new("texts.zst");
/// id -> transcript text: how stores written before transcripts were compressed kept
/// them; moved into [`TEXTS_ZSTD`] when such a store is opened.
const OLD_TEXTS: TableDefinition<&str, &str> = TableDefinition::new("texts");
/// id -> display name, so resolving references never decodes whole entities.
const NAMES: TableDefinition<&str, &str> = TableDefinition::new("names");
/// alias id -> ids of the entities that list it in `alias_ids` (maintained with them).
const ALIASES: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("aliases");
/// counters: `seq` (the change feed), `applied_seq` (the write log), `count:<type>`,
/// `dict` (the dictionary new records are compressed with), `dict_trained_at` (how
/// many records the store held when it was trained) and `format` ([`FORMAT`]).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// The store's format: 2 since records and transcripts are compressed. A store without it
/// was written before; [`CatalogStore::open`] compresses what it holds, once.
const FORMAT: u64 = 2;

/// Default page cache of the catalog store, bytes.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// The durable catalog.
pub struct CatalogStore {
    db: Handle,
    codec: Arc<Codec>,
    /// Bulk loading: batches commit without fsync until [`CatalogStore::sync`].
    deferred: std::sync::atomic::AtomicBool,
}

/// What one committed batch changed.
#[derive(Debug, Default, Clone)]
pub struct Applied {
    /// Sequence number of the last change of the batch (0 if nothing changed).
    pub seq: u64,
    /// Ids whose searchable form changed (the batch's own ids and their dependents),
    /// each with whether it was in the catalog before the batch.
    pub changed: Vec<(String, bool)>,
}

/// The space one table of the store takes (redb's table statistics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSize {
    /// The table's name.
    pub name: &'static str,
    /// Keys and values.
    pub stored_bytes: u64,
    /// The B-tree around them.
    pub metadata_bytes: u64,
    /// Unused space of its pages.
    pub fragmented_bytes: u64,
}

/// Names of the entities an entity refers to, resolved from the store.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ResolvedNames {
    /// Artist names, in `artist_ids` order (unknown ids skipped).
    pub artists: Vec<String>,
    /// Album name.
    pub album: Option<String>,
    /// Show name.
    pub show: Option<String>,
    /// Audiobook name.
    pub audiobook: Option<String>,
}

fn decode(id: &str, bytes: &[u8]) -> Result<Entity> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt {
        id: id.to_string(),
        message: e.to_string(),
    })
}

/// The bytes of dictionary `id` in a table of dictionaries.
fn load_dict(t: &impl ReadableTable<u32, &'static [u8]>, id: u32) -> Result<Option<Vec<u8>>> {
    Ok(t.get(id)?.map(|v| v.value().to_vec()))
}

/// A loader of dictionaries from a read transaction.
fn dicts_of(tx: &ReadTransaction) -> impl Fn(u32) -> Result<Option<Vec<u8>>> + '_ {
    move |id| load_dict(&tx.open_table(DICTS)?, id)
}

/// Move the transcripts of a store written before they were compressed into
/// [`TEXTS_ZSTD`] (once; a store without them has nothing to move).
fn migrate_texts(tx: &WriteTransaction) -> Result<()> {
    if !tx.list_tables()?.any(|t| t.name() == OLD_TEXTS.name()) {
        return Ok(());
    }
    let mut moved = 0usize;
    {
        let mut old = tx.open_table(OLD_TEXTS)?;
        let mut new = tx.open_table(TEXTS_ZSTD)?;
        while let Some((k, v)) = old.pop_first()? {
            let (id, text) = (k.value().to_string(), v.value().to_string());
            drop((k, v));
            new.insert(id.as_str(), codec::compress_text(&id, &text)?.as_slice())?;
            moved += 1;
        }
    }
    tx.delete_table(OLD_TEXTS)?;
    if moved > 0 {
        tracing::info!(transcripts = moved, "transcripts of the catalog store compressed");
    }
    Ok(())
}

impl CatalogStore {
    /// Open (or create) the store in `dir/catalog.redb` with the default page cache
    /// ([`DEFAULT_CACHE_BYTES`]).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Open (or create) the store with a page cache of at most `cache_bytes` (redb's own
    /// default is 1 GiB, which a busy server fills with the display records of its hits).
    pub fn open_with_cache(dir: &Path, cache_bytes: usize) -> Result<Self> {
        fs_err::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let db = Handle::open(dir.join("catalog.redb"), cache_bytes)?;
        let tx = db.get()?.begin_write()?;
        {
            tx.open_table(ENTITIES)?;
            tx.open_table(DICTS)?;
            tx.open_multimap_table(REFS)?;
            tx.open_table(CHANGES)?;
            tx.open_table(META)?;
            tx.open_table(TEXTS_ZSTD)?;
            tx.open_table(NAMES)?;
            tx.open_multimap_table(ALIASES)?;
        }
        let upgrade = {
            let mut meta = tx.open_table(META)?;
            let first_format = meta.get("format")?.is_none();
            let empty = tx.open_table(ENTITIES)?.is_empty()?;
            if first_format && empty {
                meta.insert("format", FORMAT)?;
            }
            first_format && !empty
        };
        migrate_texts(&tx)?;
        tx.commit()?;
        let store = CatalogStore {
            db,
            codec: Arc::default(),
            deferred: std::sync::atomic::AtomicBool::new(false),
        };
        // A store of the first format (plain JSON records): compacting it compresses them.
        if upgrade {
            store.compact()?;
        }
        Ok(store)
    }

    /// Rewrite `entities` into a new table, each record compressed with a dictionary
    /// trained now on a sample of the whole store (the other dictionaries are dropped),
    /// and `names` likewise, then put them in
    /// place of the old ones and mark the store's format: one transaction, so writes wait
    /// and an interruption leaves the old tables whole. Tables filled in key order have
    /// full pages; a catalog loaded in batches leaves a third of its pages' space unused.
    fn rewrite(&self, db: &Database) -> Result<usize> {
        let tx = db.begin_write()?;
        tx.delete_table(UPGRADING)?;
        tx.delete_table(NAMES_REWRITING)?;
        let n = {
            let entities = tx.open_table(ENTITIES)?;
            let mut dicts = tx.open_table(DICTS)?;
            let mut meta = tx.open_table(META)?;
            self.train_when_due(&entities, &mut dicts, &mut meta, true)?;
            let dict = meta.get("dict")?.map(|v| v.value() as u32);
            let mut fresh = tx.open_table(UPGRADING)?;
            let load = |d| load_dict(&dicts, d);
            let mut n = 0usize;
            for row in entities.iter()? {
                let (k, v) = row?;
                let id = k.value();
                let json = self.codec.decode(id, v.value(), &load)?;
                fresh.insert(id, self.codec.encode(id, &json, dict, &load)?.as_ref())?;
                n += 1;
            }
            drop(fresh);
            // Every record now uses `dict` (or none): the others can go.
            dicts.retain(|id, _| Some(id) == dict)?;
            let names = tx.open_table(NAMES)?;
            let mut fresh = tx.open_table(NAMES_REWRITING)?;
            for row in names.iter()? {
                let (k, v) = row?;
                fresh.insert(k.value(), v.value())?;
            }
            meta.insert("format", FORMAT)?;
            n
        };
        tx.delete_table(ENTITIES)?;
        tx.rename_table(UPGRADING, ENTITIES)?;
        tx.delete_table(NAMES)?;
        tx.rename_table(NAMES_REWRITING, NAMES)?;
        tx.commit()?;
        Ok(n)
    }

    /// Bulk loading: from now on [`CatalogStore::apply`] commits without waiting for the
    /// disk, and a batch is durable only after the next [`CatalogStore::sync`] (a crash
    /// before it loses those batches, never a part of one). For loaders that acknowledge
    /// at the end, such as `needle import`; never for the HTTP API.
    pub fn defer_durability(&self, on: bool) {
        self.deferred.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// The last write-log sequence number applied (0: none).
    pub fn applied_seq(&self) -> Result<u64> {
        let tx = self.db.get()?.begin_read()?;
        let meta = tx.open_table(META)?;
        Ok(meta.get("applied_seq")?.map(|v| v.value()).unwrap_or(0))
    }

    /// Make every batch applied so far durable (an empty durable commit; nothing to do
    /// unless durability is deferred).
    pub fn sync(&self) -> Result<()> {
        if self.deferred.load(std::sync::atomic::Ordering::Relaxed) {
            let db = self.db.get()?;
            self.db
                .watch(db.begin_write().map_err(Error::from).and_then(|tx| Ok(tx.commit()?)))?;
        }
        Ok(())
    }

    /// Why the store stopped (a write failed with an I/O error, e.g. a full disk): it
    /// refuses every read and write until [`CatalogStore::reopen`]. `None` when healthy.
    pub fn failure(&self) -> Option<Failure> {
        self.db.failure()
    }

    /// Close the store and open it again after a failure. Batches applied since the last
    /// durable commit (see [`CatalogStore::sync`]) are gone: [`CatalogStore::applied_seq`]
    /// says where to replay the write log from. Bumps [`CatalogStore::generation`].
    pub fn reopen(&self) -> Result<()> {
        self.db.reopen()
    }

    /// How many times the store was reopened since it was opened.
    pub fn generation(&self) -> u64 {
        self.db.generation()
    }

    /// Apply validated records in one durable transaction (fsync before returning, unless
    /// durability is deferred: see [`CatalogStore::defer_durability`]).
    /// Later records win over earlier ones with the same id. `log_seq` is the write-log
    /// sequence number the batch comes from (0: none); it is stored in the same
    /// transaction and read back by [`CatalogStore::applied_seq`].
    pub fn apply(&self, records: &[Record], log_seq: u64) -> Result<Applied> {
        let db = self.db.get()?;
        self.db.watch(self.apply_in(&db, records, log_seq))
    }

    fn apply_in(&self, db: &Database, records: &[Record], log_seq: u64) -> Result<Applied> {
        let mut tx = db.begin_write()?;
        if self.deferred.load(std::sync::atomic::Ordering::Relaxed) {
            tx.set_durability(redb::Durability::None)
                .map_err(|e| Error::Storage(e.to_string()))?;
        }
        let mut changed: BTreeMap<String, bool> = BTreeMap::new();
        // Whether each id a record of this batch is about was in the catalog before the
        // batch (what the first record about it found).
        let mut existed_before: BTreeMap<String, bool> = BTreeMap::new();
        let mut seq;
        {
            let mut entities = tx.open_table(ENTITIES)?;
            let mut dicts = tx.open_table(DICTS)?;
            let mut refs = tx.open_multimap_table(REFS)?;
            let mut meta = tx.open_table(META)?;
            let mut texts = tx.open_table(TEXTS_ZSTD)?;
            let mut name_table = tx.open_table(NAMES)?;
            let mut aliases = tx.open_multimap_table(ALIASES)?;
            seq = meta.get("seq")?.map(|v| v.value()).unwrap_or(0);
            let dict = meta.get("dict")?.map(|v| v.value() as u32);
            let mut counts: BTreeMap<EntityType, i64> = BTreeMap::new();
            for rec in records {
                let id = rec.id();
                let old = match entities.get(id)? {
                    Some(v) => Some(decode(
                        id,
                        &self.codec.decode(id, v.value(), &|d| load_dict(&dicts, d))?,
                    )?),
                    None => None,
                };
                if let Some(old) = &old {
                    *counts.entry(old.entity_type()).or_default() -= 1;
                    for r in old.references() {
                        refs.remove(r, id)?;
                    }
                    for a in &old.alias_ids {
                        aliases.remove(a.as_str(), id)?;
                    }
                }
                let name_changed = match (rec, &old) {
                    (Record::Upsert(new), Some(old)) => new.name != old.name,
                    _ => true,
                };
                match rec {
                    Record::Upsert(e) => {
                        let mut stored = e.as_ref().clone();
                        match stored.transcript.take() {
                            Some(t) => {
                                texts.insert(id, codec::compress_text(id, &t)?.as_slice())?;
                            }
                            None => {
                                texts.remove(id)?;
                            }
                        }
                        let json = serde_json::to_vec(&stored).map_err(|e| Error::Storage(e.to_string()))?;
                        let bytes = self.codec.encode(id, &json, dict, &|d| load_dict(&dicts, d))?;
                        entities.insert(id, bytes.as_ref())?;
                        name_table.insert(id, e.name.as_str())?;
                        *counts.entry(e.entity_type()).or_default() += 1;
                        for r in e.references() {
                            refs.insert(r, id)?;
                        }
                        for a in &e.alias_ids {
                            aliases.insert(a.as_str(), id)?;
                        }
                    }
                    Record::Delete(_) => {
                        if old.is_none() {
                            continue;
                        }
                        entities.remove(id)?;
                        texts.remove(id)?;
                        name_table.remove(id)?;
                    }
                }
                let existed = *existed_before.entry(id.to_string()).or_insert(old.is_some());
                changed.insert(id.to_string(), existed);
                if name_changed {
                    for dep in refs.get(id)? {
                        let dep = dep?.value().to_string();
                        // A dependent is in the catalog now; it was before the batch unless
                        // a record of this batch created it (possibly this very one).
                        let existed = existed_before.get(&dep).copied().unwrap_or(true);
                        changed.insert(dep, existed);
                    }
                }
            }
            let mut changes = tx.open_table(CHANGES)?;
            for id in changed.keys() {
                seq += 1;
                changes.insert(seq, id.as_str())?;
            }
            meta.insert("seq", seq)?;
            if log_seq > 0 {
                meta.insert("applied_seq", log_seq)?;
            }
            for (t, delta) in counts {
                let key = format!("count:{t}");
                let cur = meta.get(key.as_str())?.map(|v| v.value()).unwrap_or(0) as i64;
                meta.insert(key.as_str(), (cur + delta).max(0) as u64)?;
            }
            self.train_when_due(&entities, &mut dicts, &mut meta, false)?;
        }
        tx.commit()?;
        Ok(Applied {
            seq: if changed.is_empty() { 0 } else { seq },
            changed: changed.into_iter().collect(),
        })
    }

    /// Train a new dictionary for the records written from now on when the store has
    /// grown enough since the last one (see [`crate::codec`]); in the writing
    /// transaction, so the dictionary and the records compressed with it commit together.
    fn train_when_due(
        &self,
        entities: &Table<'_, &'static str, &'static [u8]>,
        dicts: &mut Table<'_, u32, &'static [u8]>,
        meta: &mut Table<'_, &'static str, u64>,
        force: bool,
    ) -> Result<()> {
        let n = entities.len()?;
        let last = meta.get("dict_trained_at")?.map(|v| v.value()).unwrap_or(0);
        let due = match last {
            _ if force => n >= FIRST_TRAINING,
            0 => n >= FIRST_TRAINING,
            last => last < LAST_TRAINING && n >= last.saturating_mul(2),
        };
        if !due {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let step = (n as usize / TRAINING_SAMPLES).max(1);
        let mut samples = Vec::with_capacity(TRAINING_SAMPLES.min(n as usize));
        for (i, row) in entities.iter()?.enumerate() {
            if i % step == 0 {
                let (k, v) = row?;
                samples.push(
                    self.codec
                        .decode(k.value(), v.value(), &|d| load_dict(&*dicts, d))?
                        .into_owned(),
                );
            }
        }
        meta.insert("dict_trained_at", n)?;
        if let Some((id, bytes)) = codec::train(&samples) {
            if dicts.get(id)?.is_none() {
                dicts.insert(id, bytes.as_slice())?;
            }
            meta.insert("dict", id as u64)?;
            tracing::info!(
                records = n,
                samples = samples.len(),
                dictionary = id,
                seconds = started.elapsed().as_secs_f64(),
                "trained a compression dictionary for the catalog store's records"
            );
        }
        Ok(())
    }

    /// Make the file as small as its contents: rewrite the records (compressed with a
    /// dictionary trained on the whole store) and names into full pages, then give the
    /// freed pages back to the filesystem. For after a bulk load (`needle import` does it
    /// through the engine's `optimize`): about 10 s per million records, during which
    /// writes wait. `Ok(false)` when a read snapshot was open somewhere, so the pages
    /// could not be given back (the rewrite was done).
    pub fn compact(&self) -> Result<bool> {
        let started = std::time::Instant::now();
        let records = {
            let db = self.db.get()?;
            self.db.watch(self.rewrite(&db))?
        };
        let compacted = self.db.compact()?;
        tracing::info!(
            records,
            compacted,
            seconds = started.elapsed().as_secs_f64(),
            "catalog store rewritten"
        );
        Ok(compacted)
    }

    /// A read snapshot, for resolving many entities consistently.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let tx = self.db.get()?.begin_read();
        Ok(Snapshot {
            tx: self.db.watch(tx.map_err(Error::from))?,
            codec: Arc::clone(&self.codec),
        })
    }

    /// Fetch one entity.
    pub fn get(&self, id: &str) -> Result<Option<Entity>> {
        self.snapshot()?.get(id)
    }

    /// Fetch the entity `id` names, following alias ids: see [`Snapshot::get_canonical`].
    pub fn get_canonical(&self, id: &str) -> Result<Option<Entity>> {
        self.snapshot()?.get_canonical(id)
    }

    /// Ids changed after `seq`, in order, at most `limit` of them, with their sequence numbers.
    pub fn changes_since(&self, seq: u64, limit: usize) -> Result<Vec<(u64, String)>> {
        let tx = self.db.get()?.begin_read()?;
        let t = tx.open_table(CHANGES)?;
        let mut out = Vec::new();
        for row in t.range(seq + 1..)?.take(limit) {
            let (k, v) = row?;
            out.push((k.value(), v.value().to_string()));
        }
        Ok(out)
    }

    /// Forget changes up to and including `seq` (the index has durably absorbed them).
    pub fn trim_changes(&self, seq: u64) -> Result<()> {
        let db = self.db.get()?;
        self.db.watch((|| {
            let tx = db.begin_write()?;
            {
                let mut t = tx.open_table(CHANGES)?;
                t.retain_in(..=seq, |_, _| false)?;
            }
            tx.commit()?;
            Ok(())
        })())
    }

    /// The last change sequence number.
    pub fn last_seq(&self) -> Result<u64> {
        let tx = self.db.get()?.begin_read()?;
        let t = tx.open_table(META)?;
        Ok(t.get("seq")?.map(|v| v.value()).unwrap_or(0))
    }

    /// Number of stored entities, in all and per type.
    pub fn counts(&self) -> Result<(u64, BTreeMap<String, u64>)> {
        let tx = self.db.get()?.begin_read()?;
        let meta = tx.open_table(META)?;
        let mut by_type = BTreeMap::new();
        for t in EntityType::ALL {
            let n = meta.get(format!("count:{t}").as_str())?.map(|v| v.value()).unwrap_or(0);
            if n > 0 {
                by_type.insert(t.to_string(), n);
            }
        }
        let total = tx.open_table(ENTITIES)?.len()?;
        Ok((total, by_type))
    }

    /// Visit every stored entity (without transcripts), in id order.
    pub fn for_each_entity(&self, mut f: impl FnMut(Entity)) -> Result<()> {
        let tx = self.db.get()?.begin_read()?;
        let t = tx.open_table(ENTITIES)?;
        let load = dicts_of(&tx);
        for row in t.iter()? {
            let (k, v) = row?;
            f(decode(k.value(), &self.codec.decode(k.value(), v.value(), &load)?)?);
        }
        Ok(())
    }

    /// Where the file's space goes, table by table (largest first): what operators and
    /// benchmarks read to see what to shrink.
    pub fn table_sizes(&self) -> Result<Vec<TableSize>> {
        let tx = self.db.get()?.begin_read()?;
        let size = |name: &'static str, st: redb::TableStats| TableSize {
            name,
            stored_bytes: st.stored_bytes(),
            metadata_bytes: st.metadata_bytes(),
            fragmented_bytes: st.fragmented_bytes(),
        };
        let mut out = vec![
            size("entities", tx.open_table(ENTITIES)?.stats()?),
            size("dictionaries", tx.open_table(DICTS)?.stats()?),
            size("refs", tx.open_multimap_table(REFS)?.stats()?),
            size("changes", tx.open_table(CHANGES)?.stats()?),
            size("texts.zst", tx.open_table(TEXTS_ZSTD)?.stats()?),
            size("names", tx.open_table(NAMES)?.stats()?),
            size("aliases", tx.open_multimap_table(ALIASES)?.stats()?),
            size("meta", tx.open_table(META)?.stats()?),
        ];
        out.sort_by_key(|t| std::cmp::Reverse(t.stored_bytes + t.metadata_bytes + t.fragmented_bytes));
        Ok(out)
    }

    /// Visit every stored entity id, in key order (for full index rebuilds).
    pub fn for_each_id(&self, mut f: impl FnMut(&str)) -> Result<()> {
        let tx = self.db.get()?.begin_read()?;
        let t = tx.open_table(ENTITIES)?;
        for row in t.iter()? {
            let (k, _) = row?;
            f(k.value());
        }
        Ok(())
    }
}

/// A consistent read view of the catalog.
pub struct Snapshot {
    tx: ReadTransaction,
    codec: Arc<Codec>,
}

impl Snapshot {
    /// Fetch one entity, transcript included.
    pub fn get(&self, id: &str) -> Result<Option<Entity>> {
        let Some(mut e) = self.get_display(id)? else {
            return Ok(None);
        };
        let t = self.tx.open_table(TEXTS_ZSTD)?;
        e.transcript = match t.get(id)? {
            Some(v) => Some(codec::decompress_text(id, v.value())?),
            None => None,
        };
        Ok(Some(e))
    }

    /// The id of the entity `id` names: `id` itself when it is an entity's id (a live
    /// entity's id always wins over the same string listed as another's alias id), else
    /// the entity that lists `id` in its `alias_ids` (the smallest such id, should
    /// several), else `None`.
    pub fn canonical_id(&self, id: &str) -> Result<Option<String>> {
        if self.tx.open_table(NAMES)?.get(id)?.is_some() {
            return Ok(Some(id.to_string()));
        }
        let t = self.tx.open_multimap_table(ALIASES)?;
        let first = t.get(id)?.next().transpose()?;
        Ok(first.map(|owner| owner.value().to_string()))
    }

    /// Fetch the entity `id` names, transcript included, following alias ids
    /// ([`Snapshot::canonical_id`]); its `id` field is the canonical id.
    pub fn get_canonical(&self, id: &str) -> Result<Option<Entity>> {
        match self.canonical_id(id)? {
            Some(canonical) => self.get(&canonical),
            None => Ok(None),
        }
    }

    /// The write-log sequence number this view covers (0: none).
    pub fn applied_seq(&self) -> Result<u64> {
        let meta = self.tx.open_table(META)?;
        Ok(meta.get("applied_seq")?.map(|v| v.value()).unwrap_or(0))
    }

    /// A hash of every stored entity and transcript (their JSON and text as decoded, in
    /// key order): equal for two stores holding the same catalog (replicas compare it),
    /// however each compressed them.
    pub fn digest(&self) -> Result<u128> {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        let mut add = |k: &str, v: &[u8]| {
            h.update(&(k.len() as u64).to_le_bytes());
            h.update(k.as_bytes());
            h.update(&(v.len() as u64).to_le_bytes());
            h.update(v);
        };
        let load = dicts_of(&self.tx);
        for row in self.tx.open_table(ENTITIES)?.iter()? {
            let (k, v) = row?;
            add(k.value(), &self.codec.decode(k.value(), v.value(), &load)?);
        }
        add("\u{0}texts", &[]);
        for row in self.tx.open_table(TEXTS_ZSTD)?.iter()? {
            let (k, v) = row?;
            add(k.value(), codec::decompress_text(k.value(), v.value())?.as_bytes());
        }
        Ok(h.digest128())
    }

    /// Fetch one entity without its transcript (cheap; what search hits show).
    pub fn get_display(&self, id: &str) -> Result<Option<Entity>> {
        let t = self.tx.open_table(ENTITIES)?;
        match t.get(id)? {
            Some(v) => Ok(Some(decode(
                id,
                &self.codec.decode(id, v.value(), &dicts_of(&self.tx))?,
            )?)),
            None => Ok(None),
        }
    }

    /// Ids of the entities that reference `id` (its tracks and albums for an artist, its
    /// episodes for a show, its chapters for an audiobook), in id order.
    pub fn referrers(&self, id: &str) -> Result<Vec<String>> {
        let t = self.tx.open_multimap_table(REFS)?;
        let mut out = Vec::new();
        for v in t.get(id)? {
            out.push(v?.value().to_string());
        }
        Ok(out)
    }

    /// The name of one entity, if it exists.
    pub fn name_of(&self, id: &str) -> Result<Option<String>> {
        let t = self.tx.open_table(NAMES)?;
        Ok(t.get(id)?.map(|v| v.value().to_string()))
    }

    /// Resolve the names an entity displays.
    pub fn resolve(&self, e: &Entity) -> Result<ResolvedNames> {
        let mut out = ResolvedNames::default();
        for a in &e.artist_ids {
            if let Some(n) = self.name_of(a)? {
                out.artists.push(n);
            }
        }
        if let Some(id) = &e.album_id {
            out.album = self.name_of(id)?;
        }
        if let Some(id) = &e.show_id {
            out.show = self.name_of(id)?;
        }
        if let Some(id) = &e.audiobook_id {
            out.audiobook = self.name_of(id)?;
        }
        Ok(out)
    }
}

pub use self::Snapshot as CatalogSnapshot;

#[cfg(test)]
mod tests {
    use super::*;
    use needle_core::validate::parse_record;

    fn record(id: &str, name: &str) -> Record {
        parse_record(&serde_json::json!({"id": id, "type": "artist", "name": name})).unwrap()
    }

    /// A store written before transcripts were compressed (plain `texts`): its
    /// transcripts are moved into `texts.zst` at open, and it then reads and digests as a
    /// store written now.
    #[test]
    fn transcripts_of_an_older_store_are_compressed_at_open() {
        let text = "a long transcript of an episode, word after word. ".repeat(100);
        let episode = serde_json::json!({"id": "ep:1", "type": "episode", "name": "One", "transcript": text});
        let now = tempfile::tempdir().unwrap();
        let fresh = CatalogStore::open(now.path()).unwrap();
        fresh.apply(&[parse_record(&episode).unwrap()], 0).unwrap();

        let then = tempfile::tempdir().unwrap();
        {
            let db = redb::Database::create(then.path().join("catalog.redb")).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut e = fresh.get("ep:1").unwrap().unwrap();
                e.transcript = None;
                let json = serde_json::to_vec(&e).unwrap();
                tx.open_table(ENTITIES)
                    .unwrap()
                    .insert("ep:1", json.as_slice())
                    .unwrap();
                tx.open_table(NAMES).unwrap().insert("ep:1", "One").unwrap();
                tx.open_table(OLD_TEXTS).unwrap().insert("ep:1", text.as_str()).unwrap();
            }
            tx.commit().unwrap();
        }
        let old = CatalogStore::open(then.path()).unwrap();
        assert_eq!(
            old.get("ep:1").unwrap().unwrap().transcript.as_deref(),
            Some(text.as_str())
        );
        let digest = |s: &CatalogStore| s.snapshot().unwrap().digest().unwrap();
        assert_eq!(digest(&old), digest(&fresh));
        let sizes = old.table_sizes().unwrap();
        let texts = sizes.iter().find(|t| t.name == "texts.zst").unwrap();
        assert!(texts.stored_bytes > 0 && (texts.stored_bytes as usize) < text.len() / 4);
        drop(old);
        let db = redb::Database::create(then.path().join("catalog.redb")).unwrap();
        let tx = db.begin_read().unwrap();
        assert!(tx.open_table(OLD_TEXTS).is_err(), "the old table is gone");
    }

    /// A store of the first format (plain records, no dictionary, no `format`) is
    /// compressed at its first open: the same contents and digest, half the file.
    #[test]
    fn records_of_an_older_store_are_compressed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.redb");
        let records: Vec<Record> = (0..6_000)
            .map(|i| {
                let v = serde_json::json!({"id": format!("tr:{i:05}"), "type": "track", "name": format!("Song {i}"),
                    "artist_ids": [format!("ar:{}", i % 50)], "tags": ["rock", "pop"], "language": "en"});
                parse_record(&v).unwrap()
            })
            .collect();
        let (digest, size) = {
            let store = CatalogStore::open(dir.path()).unwrap();
            // One batch: the store trains after it, so every record stays plain JSON.
            store.apply(&records, 0).unwrap();
            let digest = store.snapshot().unwrap().digest().unwrap();
            (digest, store.table_sizes().unwrap())
        };
        let stored = |sizes: &[TableSize]| sizes.iter().find(|t| t.name == "entities").unwrap().stored_bytes;
        {
            let db = redb::Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut meta = tx.open_table(META).unwrap();
                for key in ["format", "dict", "dict_trained_at"] {
                    meta.remove(key).unwrap();
                }
                tx.open_table(DICTS).unwrap().retain(|_, _| false).unwrap();
            }
            tx.commit().unwrap();
        }
        let file_before = fs_err::metadata(&path).unwrap().len();
        let store = CatalogStore::open(dir.path()).unwrap();
        assert_eq!(store.snapshot().unwrap().digest().unwrap(), digest);
        let after = store.table_sizes().unwrap();
        assert!(
            stored(&after) * 2 < stored(&size),
            "{} -> {}",
            stored(&size),
            stored(&after)
        );
        assert!(fs_err::metadata(&path).unwrap().len() < file_before);
        assert_eq!(store.get("tr:04321").unwrap().unwrap().name, "Song 4321");
        // Once only: the next open finds the current format and rewrites nothing.
        drop(store);
        let store = CatalogStore::open(dir.path()).unwrap();
        assert_eq!(stored(&store.table_sizes().unwrap()), stored(&after));
    }

    #[test]
    fn deferred_batches_are_durable_after_sync() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = CatalogStore::open(dir.path()).unwrap();
            store.defer_durability(true);
            let a = store.apply(&[record("ar:1", "One"), record("ar:2", "Two")], 0).unwrap();
            assert_eq!(a.changed.len(), 2);
            // Applied batches are readable at once, before the sync.
            assert_eq!(store.get("ar:2").unwrap().map(|e| e.name), Some("Two".to_string()));
            store.apply(&[record("ar:1", "Uno")], 7).unwrap();
            assert_eq!(store.applied_seq().unwrap(), 7);
            store.sync().unwrap();
        }
        let store = CatalogStore::open(dir.path()).unwrap();
        assert_eq!(store.get("ar:1").unwrap().map(|e| e.name), Some("Uno".to_string()));
        assert_eq!(store.last_seq().unwrap(), 3);
        // Without deferral, sync has nothing to do and apply is durable by itself.
        store.sync().unwrap();
    }
}
