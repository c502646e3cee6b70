//! Model files: `model-NNNNNN.bin` (magic, header length, JSON header, then the trained
//! items' vectors as little-endian `f32`, the content vectors' scales (`f32`) and their `i8`
//! codes, then the blend's item tables), written whole and fsync'd before `CURRENT` is
//! replaced atomically to name it; the three newest versions are kept. Files of the first
//! format ([`MAGIC_F32`]: every vector as `f32`) are still read; their content vectors are
//! quantized as they are loaded.
//!
//! A model served by HNSW also has `model-NNNNNN.hnsw`, its index graph (see
//! [`crate::index::Graph`]), written (atomically) before the `.bin`, so a model file that
//! exists has its graph saved too. Loading reads the graph instead of rebuilding it (seconds
//! instead of minutes at a million items) when it is tagged with this model's version,
//! creation time, vector count and vectors' checksum and its own checksum holds; otherwise
//! (missing, stale, damaged) the graph is rebuilt, logged, and written back for next time.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use needle_core::EntityType;
use serde::{Deserialize, Serialize};

use super::{ItemMeta, Parts, ServingModel, TrainStats, Vectors};
use crate::index::IndexOrigin;
use crate::matrix::Csr;
use crate::matrix::IdMap;
use crate::models::{Als, Confidence, ItemSimilarity};
use crate::select::{Family, Selection, ServedBlend};
use crate::serve::ServeConfig;
use crate::RecsError;

/// The format written: content vectors as `i8` codes with one scale each.
const MAGIC: &[u8; 8] = b"NEEDLEM2";
/// The first format: every vector as `f32`.
const MAGIC_F32: &[u8; 8] = b"NEEDLEM1";

/// `n` little-endian `f32` read from `r` (in blocks, not one read per value).
fn read_f32s(r: &mut impl Read, n: usize) -> std::io::Result<Vec<f32>> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; 64 * 1024];
    while out.len() < n {
        let take = (n - out.len()).min(buf.len() / 4);
        r.read_exact(&mut buf[..take * 4])?;
        out.extend(
            buf[..take * 4]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    }
    Ok(out)
}

/// `n` `i8` read from `r`.
fn read_i8s(r: &mut impl Read, n: usize) -> std::io::Result<Vec<i8>> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; 64 * 1024];
    while out.len() < n {
        let take = (n - out.len()).min(buf.len());
        r.read_exact(&mut buf[..take])?;
        out.extend(buf[..take].iter().map(|&b| b as i8));
    }
    Ok(out)
}

/// Everything serialized in a model file except the vectors.
#[derive(Serialize, Deserialize)]
struct Header {
    version: u64,
    created_ms: i64,
    config: ServeConfig,
    stats: TrainStats,
    factors: usize,
    n_trained: usize,
    n_vec: usize,
    items: Vec<String>,
    meta: Vec<ItemMeta>,
    creators: Vec<String>,
    listeners: Vec<u32>,
    popular: Vec<(EntityType, Vec<(u32, f32)>)>,
    /// The selected blend; its item tables follow the vectors, in this order. Absent in
    /// files written before selection (ALS alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mix: Option<MixHeader>,
}

/// A [`ServedBlend`] without its tables' entries.
#[derive(Serialize, Deserialize)]
struct MixHeader {
    als_weight: f32,
    n_active: usize,
    als_mean: Vec<f32>,
    als_cov: Vec<f32>,
    selection: Selection,
    tables: Vec<TableHeader>,
}

/// One item table: `rows + 1` row pointers (`u64`), then `nnz` columns (`u32`), then `nnz`
/// values (`f32`), little-endian.
#[derive(Serialize, Deserialize)]
struct TableHeader {
    family: Family,
    weight: f32,
    confidence: Confidence,
    rows: usize,
    cols: usize,
    nnz: usize,
}

impl TableHeader {
    /// Bytes of its arrays; saturating, as the header is read from a file that may be
    /// damaged (the caller compares it with what the file holds).
    fn bytes(&self) -> u64 {
        (self.rows as u64)
            .saturating_add(1)
            .saturating_mul(8)
            .saturating_add((self.nnz as u64).saturating_mul(8))
    }
}

impl ServingModel {
    /// Write to `dir/model-{version}.bin` (fsync'd, then renamed into place). It is served
    /// once activated ([`crate::serve::Recs::activate`] points `dir/CURRENT` at it).
    /// Returns the file written.
    pub fn save(&mut self, dir: &Path) -> Result<PathBuf, RecsError> {
        let t = std::time::Instant::now();
        fs_err::create_dir_all(dir)?;
        let name = format!("model-{:06}.bin", self.version);
        let path = dir.join(&name);
        let tmp = dir.join(format!(".{name}.tmp"));
        let header = Header {
            version: self.version,
            created_ms: self.created_ms,
            config: self.config.clone(),
            stats: self.stats.clone(),
            factors: self.factors(),
            n_trained: self.n_trained,
            n_vec: self.n_vec,
            items: self.items.ids().map(str::to_owned).collect(),
            meta: self.meta.clone(),
            creators: self.creators.ids().map(str::to_owned).collect(),
            listeners: self.listeners.clone(),
            popular: {
                let mut v: Vec<_> = self.popular.iter().map(|(k, l)| (*k, l.clone())).collect();
                v.sort_by_key(|x| x.0);
                v
            },
            mix: self.mix.as_ref().map(|m| MixHeader {
                als_weight: m.als_weight,
                n_active: m.n_active,
                als_mean: m.als_mean.clone(),
                als_cov: m.als_cov.clone(),
                selection: m.selection.clone(),
                tables: m
                    .tables
                    .iter()
                    .map(|(family, weight, t)| TableHeader {
                        family: *family,
                        weight: *weight,
                        confidence: t.confidence(),
                        rows: t.sim.nrows(),
                        cols: t.sim.ncols(),
                        nnz: t.sim.nnz(),
                    })
                    .collect(),
            }),
        };
        let json = serde_json::to_vec(&header).map_err(|e| RecsError::Parse(e.to_string()))?;
        if let Some(h) = self.index.as_hnsw() {
            h.save_graph(&graph_path(&path), self.version, self.created_ms)?;
        }
        {
            let file = fs_err::File::create(&tmp)?;
            let mut w = std::io::BufWriter::new(&file);
            w.write_all(MAGIC)?;
            w.write_all(&(json.len() as u64).to_le_bytes())?;
            w.write_all(&json)?;
            for x in self.als.item_factors() {
                w.write_all(&x.to_le_bytes())?;
            }
            let content = |i: usize| {
                self.index.row_i8(i).ok_or_else(|| {
                    RecsError::InvalidInput(format!("item {i} of the model has no quantized vector to save"))
                })
            };
            for i in self.n_trained..self.n_vec {
                w.write_all(&content(i)?.0.to_le_bytes())?;
            }
            let mut bytes = Vec::with_capacity(self.factors());
            for i in self.n_trained..self.n_vec {
                bytes.clear();
                bytes.extend(content(i)?.1.iter().map(|&c| c as u8));
                w.write_all(&bytes)?;
            }
            for (_, _, t) in self.mix.iter().flat_map(|m| &m.tables) {
                for &p in t.sim.indptr() {
                    w.write_all(&(p as u64).to_le_bytes())?;
                }
                for c in t.sim.indices() {
                    w.write_all(&c.to_le_bytes())?;
                }
                for v in t.sim.data() {
                    w.write_all(&v.to_le_bytes())?;
                }
            }
            w.flush()?;
            drop(w);
            file.sync_all()?;
        }
        fs_err::rename(&tmp, &path)?;
        if let Ok(d) = fs_err::File::open(dir) {
            let _ = d.sync_all();
        }
        self.stats.save_ms = t.elapsed().as_millis() as u64;
        Ok(path)
    }

    /// Load the model `dir/CURRENT` points at; `None` when there is none yet.
    pub fn load_current(dir: &Path) -> Result<Option<ServingModel>, RecsError> {
        let name = match fs_err::read_to_string(dir.join("CURRENT")) {
            Ok(s) => s.trim().to_string(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Self::load(&dir.join(name)).map(Some)
    }

    /// Load one model file, with its saved index graph when that is valid (else the graph
    /// is rebuilt and saved again).
    pub fn load(path: &Path) -> Result<ServingModel, RecsError> {
        Self::load_reporting(path).map(|(m, _)| m)
    }

    /// [`ServingModel::load`], saying where the index came from.
    pub(crate) fn load_reporting(path: &Path) -> Result<(ServingModel, IndexOrigin), RecsError> {
        let graph = graph_path(path);
        let t = std::time::Instant::now();
        let (model, origin) = Self::assemble(Self::read_parts(path)?, Some(&graph))?;
        let seconds = t.elapsed().as_secs_f64();
        let (version, vectors) = (model.version, model.n_vec);
        match &origin {
            IndexOrigin::Exact => {}
            IndexOrigin::Loaded => tracing::info!(version, vectors, seconds, "vector index read from its file"),
            IndexOrigin::Built | IndexOrigin::Rebuilt(_) => {
                if let IndexOrigin::Rebuilt(reason) = &origin {
                    tracing::warn!(version, %reason, seconds, "saved vector index not used; rebuilt it");
                } else {
                    tracing::info!(version, vectors, seconds, "no saved vector index; built it");
                }
                if let Some(h) = model.index.as_hnsw() {
                    if let Err(e) = h.save_graph(&graph, model.version, model.created_ms) {
                        tracing::warn!(version, error = %e, "cannot save the rebuilt vector index");
                    }
                }
            }
        }
        Ok((model, origin))
    }

    /// Read a model file up to (not including) its vector index.
    fn read_parts(path: &Path) -> Result<Parts, RecsError> {
        let bad = |what: &str| RecsError::Parse(format!("{}: {what}", path.display()));
        let file = fs_err::File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut r = std::io::BufReader::new(file);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        let quantized = match &magic {
            MAGIC => true,
            MAGIC_F32 => false,
            _ => return Err(bad("not a Needle model file")),
        };
        let mut len = [0u8; 8];
        r.read_exact(&mut len)?;
        let len = u64::from_le_bytes(len);
        if len > file_len.saturating_sub(16) {
            return Err(bad("truncated header"));
        }
        let len = len as usize;
        let mut json = vec![0u8; len];
        r.read_exact(&mut json)?;
        let mut h: Header = serde_json::from_slice(&json).map_err(|e| bad(&e.to_string()))?;
        drop(json);
        // Grown by doubling while parsed: up to half of it would stay empty for the life
        // of the model.
        h.meta.shrink_to_fit();
        if h.items.len() != h.meta.len() || h.n_trained > h.n_vec || h.n_vec > h.items.len() {
            return Err(bad("inconsistent header"));
        }
        let f = h.factors.max(1);
        let tables: u64 = h.mix.iter().flat_map(|m| &m.tables).map(TableHeader::bytes).sum();
        let n_content = (h.n_vec - h.n_trained) as u64;
        let vectors = if quantized {
            (h.n_trained as u64)
                .saturating_mul(f as u64)
                .saturating_mul(4)
                .saturating_add(n_content.saturating_mul(f as u64 + 4))
        } else {
            (h.n_vec as u64).saturating_mul(f as u64).saturating_mul(4)
        };
        if vectors.saturating_add(tables) != file_len - 16 - len as u64 {
            return Err(bad("vector block does not match the header (truncated file?)"));
        }
        let (trained, vectors) = if quantized {
            let trained = read_f32s(&mut r, h.n_trained * f)?;
            let scales = read_f32s(&mut r, h.n_vec - h.n_trained)?;
            let codes = read_i8s(&mut r, (h.n_vec - h.n_trained) * f)?;
            (trained, Vectors::Content { codes, scales })
        } else {
            let floats = read_f32s(&mut r, h.n_vec * f)?;
            (floats[..h.n_trained * f].to_vec(), Vectors::F32(floats))
        };
        let mix = match h.mix {
            None => None,
            Some(mh) => {
                if mh.als_mean.len() != f || mh.als_cov.len() != f * f {
                    return Err(bad("blend moments do not match the factors"));
                }
                let mut tables = Vec::new();
                for t in &mh.tables {
                    let mut raw = vec![0u8; t.bytes() as usize];
                    r.read_exact(&mut raw)?;
                    let (ptr, rest) = raw.split_at((t.rows + 1) * 8);
                    let (cols, vals) = rest.split_at(t.nnz * 4);
                    let indptr = ptr
                        .chunks_exact(8)
                        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()) as usize)
                        .collect();
                    let indices = cols
                        .chunks_exact(4)
                        .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
                        .collect();
                    let data = vals
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap_or_default()))
                        .collect();
                    let sim = Csr::from_parts(t.cols, indptr, indices, data)
                        .map_err(|e| bad(&format!("item table {}: {e}", t.family.label())))?;
                    tables.push((
                        t.family,
                        t.weight,
                        ItemSimilarity::from_table(t.family.label(), sim, t.confidence),
                    ));
                }
                Some(ServedBlend {
                    als_weight: mh.als_weight,
                    tables,
                    n_active: mh.n_active,
                    als_mean: mh.als_mean,
                    als_cov: mh.als_cov,
                    selection: mh.selection,
                })
            }
        };
        let mut als_config = h.config.als.clone();
        als_config.factors = f;
        let als = Als::from_item_factors(als_config, trained);
        Ok(Parts {
            version: h.version,
            created_ms: h.created_ms,
            config: h.config,
            stats: h.stats,
            items: IdMap::from_ids(h.items),
            meta: h.meta,
            creators: IdMap::from_ids(h.creators),
            listeners: h.listeners,
            popular: h.popular.into_iter().collect(),
            n_trained: h.n_trained,
            n_vec: h.n_vec,
            als,
            vectors,
            mix,
        })
    }
}

/// The index graph file of the model file `model`: `model-NNNNNN.hnsw` beside it.
pub fn graph_path(model: &Path) -> PathBuf {
    model.with_extension("hnsw")
}

/// Point `dir/CURRENT` at the model file `name` atomically (fsync'd, then renamed).
pub fn point_current(dir: &Path, name: &str) -> Result<(), RecsError> {
    let cur_tmp = dir.join(".CURRENT.tmp");
    {
        let mut f = fs_err::File::create(&cur_tmp)?;
        f.write_all(name.as_bytes())?;
        f.sync_all()?;
    }
    fs_err::rename(&cur_tmp, dir.join("CURRENT"))?;
    if let Ok(d) = fs_err::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Keep the newest `keep` model files and their index graphs.
pub(crate) fn prune(dir: &Path, current: u64, keep: u64) {
    let Ok(rd) = fs_err::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(v) = name
            .strip_prefix("model-")
            .and_then(|s| s.strip_suffix(".bin").or_else(|| s.strip_suffix(".hnsw")))
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if v + keep <= current {
            let _ = fs_err::remove_file(e.path());
        }
    }
}

/// The newest model version in `dir` (0 when none).
pub fn latest_version(dir: &Path) -> u64 {
    let Ok(rd) = fs_err::read_dir(dir) else { return 0 };
    rd.flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_prefix("model-")
                .and_then(|s| s.strip_suffix(".bin"))
                .and_then(|s| s.parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::mem::MemorySource;
    use crate::Hit;
    use needle_core::{Entity, Event, EventType};

    /// 400 artists in 4 genres, 200 listeners playing their genre.
    fn source() -> MemorySource {
        let mut s = MemorySource::default();
        for g in 0..4 {
            for i in 0..100 {
                s.add(Entity {
                    id: format!("g{g}-i{i}"),
                    kind: Some(EntityType::Artist),
                    name: format!("artist {g}.{i}"),
                    tags: vec![format!("genre{g}")],
                    explicit: Some(i % 5 == 0),
                    ..Default::default()
                });
            }
        }
        for u in 0..200usize {
            for k in 0..10usize {
                s.apply(&Event {
                    event_id: None,
                    user_id: format!("u{u}"),
                    kind: EventType::Play,
                    item_id: format!("g{}-i{}", u % 4, (u * 7 + k * 13) % 90),
                    ts: 1_700_000_000_000,
                    ms_played: None,
                    count: 1 + k as u32,
                    context: None,
                });
            }
        }
        s
    }

    fn config() -> ServeConfig {
        let mut c = ServeConfig::default();
        c.als.factors = 8;
        c.als.regularization = 0.05;
        c.als.iterations = 4;
        c.index.exact_threshold = 50;
        c
    }

    fn trained(dir: &Path, version: u64) -> (ServingModel, PathBuf) {
        let mut m = ServingModel::train(&source(), &config(), version, &mut |_| {}).unwrap();
        assert_eq!(m.index.kind(), "hnsw");
        let path = m.save(dir).unwrap();
        (m, path)
    }

    /// Top 10 of every item's vector as a query, with and without filters on the metadata.
    fn answers(m: &ServingModel) -> Vec<Vec<Hit>> {
        (0..m.n_vec as u32)
            .filter_map(|i| m.vector(i).map(|v| (i, v.to_vec())))
            .map(|(i, q)| match i % 3 {
                0 => m.index.search(&q, 10, &|_| true),
                1 => m.index.search(&q, 10, &|j| !m.meta[j as usize].explicit),
                _ => m.index.search(&q, 10, &|j| j % 7 == 2),
            })
            .collect()
    }

    #[test]
    fn a_saved_model_loads_its_graph_and_answers_identically() {
        let dir = tempfile::tempdir().unwrap();
        let (m, path) = trained(dir.path(), 1);
        assert!(graph_path(&path).exists());
        assert_eq!(graph_path(&path).file_name().unwrap(), "model-000001.hnsw");
        let (loaded, origin) = ServingModel::load_reporting(&path).unwrap();
        assert_eq!(origin, IndexOrigin::Loaded);
        let (a, b) = (answers(&m), answers(&loaded));
        assert!(a.len() >= 400 && a.iter().all(|h| h.len() == 10));
        assert_eq!(a, b);
    }

    #[test]
    fn the_selected_blend_and_its_item_tables_are_saved_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let (m, path) = trained(dir.path(), 1);
        let mix = m.mix.as_ref().expect("selection ran");
        let sel = m.stats.selection.as_ref().expect("selection reported");
        assert!(sel.valid_listeners >= 10, "{sel:?}");
        let families: std::collections::HashSet<_> = sel.candidates.iter().map(|c| c.family).collect();
        assert_eq!(families.len(), 4, "every family ran: {sel:?}");
        let total: f32 = sel.chosen.iter().map(|w| w.weight).sum();
        assert!((total - 1.0).abs() < 1e-4, "{sel:?}");
        let loaded = ServingModel::load(&path).unwrap();
        let back = loaded.mix.as_ref().unwrap();
        assert_eq!(back.selection, mix.selection);
        assert_eq!(loaded.stats.selection.as_ref(), Some(sel));
        assert_eq!((back.als_weight, back.n_active), (mix.als_weight, mix.n_active));
        assert_eq!((&back.als_mean, &back.als_cov), (&mix.als_mean, &mix.als_cov));
        assert_eq!(back.tables.len(), mix.tables.len());
        for (a, b) in mix.tables.iter().zip(&back.tables) {
            assert_eq!((a.0, a.1, &a.2.sim), (b.0, b.1, &b.2.sim));
        }
        // A file cut inside the tables is refused, not half read.
        if mix.has_tables() {
            let bytes = fs_err::read(&path).unwrap();
            fs_err::write(&path, &bytes[..bytes.len() - 4]).unwrap();
            let e = ServingModel::load(&path)
                .err()
                .expect("a truncated file is refused")
                .to_string();
            assert!(e.contains("does not match the header"), "{e}");
        }
    }

    #[test]
    fn a_damaged_or_missing_graph_is_rebuilt_and_saved_again() {
        let dir = tempfile::tempdir().unwrap();
        let (_, path) = trained(dir.path(), 1);
        let graph = graph_path(&path);
        let good = fs_err::read(&graph).unwrap();
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        for bad in [&good[..good.len() / 2], &flipped[..], b""] {
            fs_err::write(&graph, bad).unwrap();
            let (m, origin) = ServingModel::load_reporting(&path).unwrap();
            assert!(matches!(origin, IndexOrigin::Rebuilt(_)), "{origin:?}");
            assert!(answers(&m).iter().all(|h| h.len() == 10));
            assert_eq!(ServingModel::load_reporting(&path).unwrap().1, IndexOrigin::Loaded);
        }
        // a model file from before graphs were saved
        fs_err::remove_file(&graph).unwrap();
        let (_, origin) = ServingModel::load_reporting(&path).unwrap();
        assert_eq!(origin, IndexOrigin::Built);
        assert_eq!(ServingModel::load_reporting(&path).unwrap().1, IndexOrigin::Loaded);
    }

    #[test]
    fn another_versions_graph_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let (_, one) = trained(dir.path(), 1);
        let (_, two) = trained(dir.path(), 2);
        fs_err::copy(graph_path(&one), graph_path(&two)).unwrap();
        let (m, origin) = ServingModel::load_reporting(&two).unwrap();
        assert!(
            matches!(origin, IndexOrigin::Rebuilt(ref r) if r.contains("another model")),
            "{origin:?}"
        );
        assert_eq!(m.version, 2);
    }

    #[test]
    fn prune_removes_old_models_with_their_graphs() {
        let dir = tempfile::tempdir().unwrap();
        for v in 1..=5 {
            for ext in ["bin", "hnsw"] {
                fs_err::write(dir.path().join(format!("model-{v:06}.{ext}")), b"x").unwrap();
            }
        }
        fs_err::write(dir.path().join("CURRENT"), b"model-000005.bin").unwrap();
        prune(dir.path(), 5, 3);
        let mut left: Vec<String> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        let want = [
            "CURRENT",
            "model-000003.bin",
            "model-000003.hnsw",
            "model-000004.bin",
            "model-000004.hnsw",
            "model-000005.bin",
            "model-000005.hnsw",
        ];
        assert_eq!(left, want);
        assert_eq!(latest_version(dir.path()), 5);
    }
}
