//! Model files: `model-NNNNNN.bin` (magic, header length, JSON header, then the trained and
//! content vectors as little-endian `f32`), written whole and fsync'd before `CURRENT` is
//! replaced atomically to name it; the three newest versions are kept.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use needle_core::EntityType;
use serde::{Deserialize, Serialize};

use super::{ItemMeta, Parts, ServingModel, TrainStats};
use crate::matrix::IdMap;
use crate::models::Als;
use crate::serve::ServeConfig;
use crate::RecsError;

const MAGIC: &[u8; 8] = b"NEEDLEM1";

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
            items: self.items.ids().to_vec(),
            meta: self.meta.clone(),
            creators: self.creators.ids().to_vec(),
            listeners: self.listeners.clone(),
            popular: {
                let mut v: Vec<_> = self.popular.iter().map(|(k, l)| (*k, l.clone())).collect();
                v.sort_by_key(|x| x.0);
                v
            },
        };
        let json = serde_json::to_vec(&header).map_err(|e| RecsError::Parse(e.to_string()))?;
        {
            let file = fs_err::File::create(&tmp)?;
            let mut w = std::io::BufWriter::new(&file);
            w.write_all(MAGIC)?;
            w.write_all(&(json.len() as u64).to_le_bytes())?;
            w.write_all(&json)?;
            for x in self.als.item_factors().iter().chain(&self.content) {
                w.write_all(&x.to_le_bytes())?;
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

    /// Load one model file.
    pub fn load(path: &Path) -> Result<ServingModel, RecsError> {
        let bad = |what: &str| RecsError::Parse(format!("{}: {what}", path.display()));
        let file = fs_err::File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut r = std::io::BufReader::new(file);
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(bad("not a Needle model file"));
        }
        let mut len = [0u8; 8];
        r.read_exact(&mut len)?;
        let len = u64::from_le_bytes(len);
        if len > file_len.saturating_sub(16) {
            return Err(bad("truncated header"));
        }
        let len = len as usize;
        let mut json = vec![0u8; len];
        r.read_exact(&mut json)?;
        let h: Header = serde_json::from_slice(&json).map_err(|e| bad(&e.to_string()))?;
        if h.items.len() != h.meta.len() || h.n_trained > h.n_vec || h.n_vec > h.items.len() {
            return Err(bad("inconsistent header"));
        }
        let f = h.factors.max(1);
        let need = (h.n_vec as u64).saturating_mul(f as u64).saturating_mul(4);
        if need != file_len - 16 - len as u64 {
            return Err(bad("vector block does not match the header (truncated file?)"));
        }
        let mut floats = vec![0f32; h.n_vec * f];
        let mut buf = [0u8; 4];
        for x in floats.iter_mut() {
            r.read_exact(&mut buf)?;
            *x = f32::from_le_bytes(buf);
        }
        let content = floats.split_off(h.n_trained * f);
        let mut als_config = h.config.als.clone();
        als_config.factors = f;
        let als = Als::from_item_factors(als_config, floats);
        Self::assemble(Parts {
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
            content,
        })
    }
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

/// Keep the newest `keep` model files.
pub(crate) fn prune(dir: &Path, current: u64, keep: u64) {
    let Ok(rd) = fs_err::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(v) = name
            .strip_prefix("model-")
            .and_then(|s| s.strip_suffix(".bin"))
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
