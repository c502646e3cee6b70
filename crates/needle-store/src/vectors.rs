//! Text-embedding vectors of catalog entities, kept beside the catalog so that a restart or
//! a reindex never recomputes them.
//!
//! A vector is derived state: it is a function of the entity's text and the embedding
//! model, so it lives outside the write log (replaying the log would recompute it). Each
//! row carries the hash of the text it was computed from; whoever embeds compares that
//! hash with the entity's current text and recomputes only what changed. The file records
//! the model's tag: opened with another model, it is emptied (every vector is stale).
//!
//! Vectors are stored quantized to `i8` with one `f32` scale per vector (`x ≈ q · scale`):
//! 388 bytes instead of 1,536 for 384 dimensions, with a cosine error below 1e-3 on unit
//! vectors (checked in the tests).

use crate::error::{Error, Result};
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::{Path, PathBuf};

/// id -> `[text hash: u64 LE][entity type code: u8][scale: f32 LE][dim × i8]`.
const VECTORS: TableDefinition<&str, &[u8]> = TableDefinition::new("vectors");
/// `tag` (the embedding model), `dim`.
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// One stored vector.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredVector {
    /// Hash of the text the vector was computed from.
    pub text_hash: u64,
    /// The entity's type code ([`needle_core::EntityType::code`]).
    pub kind: u8,
    /// The vector, dequantized.
    pub vector: Vec<f32>,
}

/// The vector file, `<data_dir>/vectors.redb`.
pub struct VectorStore {
    db: Database,
    path: PathBuf,
    dim: usize,
}

fn storage(e: impl std::fmt::Display) -> Error {
    Error::Storage(e.to_string())
}

/// Quantize `v` to `i8` with one scale: `[scale f32 LE][i8...]`.
pub fn quantize(v: &[f32]) -> Vec<u8> {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let mut out = Vec::with_capacity(4 + v.len());
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend(v.iter().map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8 as u8));
    out
}

/// The inverse of [`quantize`]; `None` when `bytes` is not `4 + dim` long.
pub fn dequantize(bytes: &[u8], dim: usize) -> Option<Vec<f32>> {
    if bytes.len() != 4 + dim {
        return None;
    }
    let scale = f32::from_le_bytes(bytes[..4].try_into().ok()?);
    Some(bytes[4..].iter().map(|b| (*b as i8) as f32 * scale).collect())
}

impl VectorStore {
    /// Open (or create) `dir/vectors.redb` for vectors of `dim` floats made by the model
    /// named `tag`. A file written by another model or dimension is emptied.
    pub fn open(dir: &Path, tag: &str, dim: usize) -> Result<VectorStore> {
        let path = dir.join("vectors.redb");
        let db = Database::create(&path).map_err(storage)?;
        let store = VectorStore { db, path, dim };
        let want = format!("{tag}/{dim}");
        let tx = store.db.begin_write().map_err(storage)?;
        {
            let mut meta = tx.open_table(META).map_err(storage)?;
            let have = meta.get("tag").map_err(storage)?.map(|v| v.value().to_string());
            if have.as_deref() != Some(want.as_str()) {
                if have.is_some() {
                    tracing::info!(was = ?have, now = %want, "embedding model changed: stored vectors dropped");
                }
                let mut t = tx.open_table(VECTORS).map_err(storage)?;
                t.retain(|_, _| false).map_err(storage)?;
                meta.insert("tag", want.as_str()).map_err(storage)?;
            }
        }
        tx.commit().map_err(storage)?;
        Ok(store)
    }

    /// Dimensions of every vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The text hash `id`'s vector was computed from.
    pub fn text_hash(&self, id: &str) -> Result<Option<u64>> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(VECTORS).map_err(storage)?;
        let got = t.get(id).map_err(storage)?;
        Ok(got.and_then(|v| {
            v.value()
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        }))
    }

    /// `id`'s vector.
    pub fn get(&self, id: &str) -> Result<Option<StoredVector>> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(VECTORS).map_err(storage)?;
        let got = t.get(id).map_err(storage)?;
        match got {
            None => Ok(None),
            Some(v) => self.decode(id, v.value()).map(Some),
        }
    }

    fn decode(&self, id: &str, bytes: &[u8]) -> Result<StoredVector> {
        let corrupt = || Error::Corrupt {
            id: id.to_string(),
            message: format!("a vector row of {} bytes, {} expected", bytes.len(), 13 + self.dim),
        };
        let hash = bytes.get(..8).ok_or_else(corrupt)?;
        let text_hash = u64::from_le_bytes(hash.try_into().map_err(|_| corrupt())?);
        let kind = *bytes.get(8).ok_or_else(corrupt)?;
        let vector = dequantize(&bytes[9..], self.dim).ok_or_else(corrupt)?;
        Ok(StoredVector {
            text_hash,
            kind,
            vector,
        })
    }

    /// Store vectors (id, [`StoredVector`]) and delete `gone`, in one durable commit.
    pub fn write(&self, put: &[(String, StoredVector)], gone: &[String]) -> Result<()> {
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut t = tx.open_table(VECTORS).map_err(storage)?;
            for (id, sv) in put {
                let v = &sv.vector;
                if v.len() != self.dim {
                    return Err(Error::Corrupt {
                        id: id.clone(),
                        message: format!("a vector of {} floats, {} expected", v.len(), self.dim),
                    });
                }
                let mut row = sv.text_hash.to_le_bytes().to_vec();
                row.push(sv.kind);
                row.extend(quantize(v));
                t.insert(id.as_str(), row.as_slice()).map_err(storage)?;
            }
            for id in gone {
                t.remove(id.as_str()).map_err(storage)?;
            }
        }
        tx.commit().map_err(storage)
    }

    /// Number of stored vectors.
    pub fn len(&self) -> Result<u64> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(VECTORS).map_err(storage)?;
        t.len().map_err(storage)
    }

    /// Whether no vector is stored.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Write a consistent copy of the file to `dir/vectors.redb` (one read transaction:
    /// the worker may keep writing meanwhile); for snapshots.
    pub fn copy_to(&self, dir: &Path) -> Result<()> {
        let dest = Database::create(dir.join("vectors.redb")).map_err(storage)?;
        let rx = self.db.begin_read().map_err(storage)?;
        let wx = dest.begin_write().map_err(storage)?;
        {
            let src_meta = rx.open_table(META).map_err(storage)?;
            let mut meta = wx.open_table(META).map_err(storage)?;
            for row in src_meta.iter().map_err(storage)? {
                let (k, v) = row.map_err(storage)?;
                meta.insert(k.value(), v.value()).map_err(storage)?;
            }
            let src = rx.open_table(VECTORS).map_err(storage)?;
            let mut t = wx.open_table(VECTORS).map_err(storage)?;
            for row in src.iter().map_err(storage)? {
                let (k, v) = row.map_err(storage)?;
                t.insert(k.value(), v.value()).map_err(storage)?;
            }
        }
        wx.commit().map_err(storage)
    }

    /// Every stored vector as stored, in id order: id, type code, scale and the `i8`
    /// codes (the vector is `code · scale`, exactly what [`VectorStore::for_each`] gives).
    pub fn for_each_quantized(&self, mut f: impl FnMut(&str, u8, f32, &[i8])) -> Result<()> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(VECTORS).map_err(storage)?;
        let mut codes: Vec<i8> = Vec::with_capacity(self.dim);
        for row in t.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            let (id, bytes) = (k.value(), v.value());
            if bytes.len() != 13 + self.dim {
                return Err(Error::Corrupt {
                    id: id.to_string(),
                    message: format!("a vector row of {} bytes, {} expected", bytes.len(), 13 + self.dim),
                });
            }
            let scale = f32::from_le_bytes([bytes[9], bytes[10], bytes[11], bytes[12]]);
            codes.clear();
            codes.extend(bytes[13..].iter().map(|&b| b as i8));
            f(id, bytes[8], scale, &codes);
        }
        Ok(())
    }

    /// Every stored vector, in id order.
    pub fn for_each(&self, mut f: impl FnMut(&str, StoredVector)) -> Result<()> {
        let tx = self.db.begin_read().map_err(storage)?;
        let t = tx.open_table(VECTORS).map_err(storage)?;
        for row in t.iter().map_err(storage)? {
            let (k, v) = row.map_err(storage)?;
            let sv = self.decode(k.value(), v.value())?;
            f(k.value(), sv);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn unit(seed: u64, dim: usize) -> Vec<f32> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        let mut v: Vec<f32> = (0..dim)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        v
    }

    #[test]
    fn quantized_vectors_keep_their_direction() {
        for seed in 0..50 {
            let v = unit(seed, 384);
            let back = dequantize(&quantize(&v), 384).unwrap();
            let cos: f32 =
                v.iter().zip(&back).map(|(a, b)| a * b).sum::<f32>() / back.iter().map(|a| a * a).sum::<f32>().sqrt();
            assert!(cos > 0.999, "cosine {cos}");
        }
        assert_eq!(dequantize(&[0u8; 5], 384), None);
        assert!(dequantize(&quantize(&[0.0; 4]), 4).unwrap().iter().all(|x| *x == 0.0));
    }

    #[test]
    fn rows_survive_a_reopen_and_a_new_model_empties_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let s = VectorStore::open(tmp.path(), "m1", 8).unwrap();
            let sv = |text_hash, v| StoredVector {
                text_hash,
                kind: 4,
                vector: v,
            };
            s.write(&[("a".into(), sv(7, unit(1, 8))), ("b".into(), sv(9, unit(2, 8)))], &[])
                .unwrap();
            s.write(&[], &["b".into()]).unwrap();
            assert!(s.write(&[("c".into(), sv(1, vec![0.0; 3]))], &[]).is_err());
        }
        let s = VectorStore::open(tmp.path(), "m1", 8).unwrap();
        assert_eq!(s.len().unwrap(), 1);
        assert_eq!(s.text_hash("a").unwrap(), Some(7));
        assert_eq!(s.text_hash("b").unwrap(), None);
        let mut seen = Vec::new();
        s.for_each(|id, v| seen.push((id.to_string(), v.text_hash, v.kind)))
            .unwrap();
        assert_eq!(seen, vec![("a".to_string(), 7, 4)]);
        let whole = s.get("a").unwrap().unwrap().vector;
        let mut raw = Vec::new();
        s.for_each_quantized(|id, kind, scale, codes| {
            raw.push((
                id.to_string(),
                kind,
                codes.iter().map(|&c| c as f32 * scale).collect::<Vec<_>>(),
            ))
        })
        .unwrap();
        assert_eq!(
            raw,
            vec![("a".to_string(), 4, whole)],
            "codes times scale are the vector, exactly"
        );
        let copy = tempfile::tempdir().unwrap();
        s.copy_to(copy.path()).unwrap();
        drop(s);
        let c = VectorStore::open(copy.path(), "m1", 8).unwrap();
        assert_eq!(
            c.text_hash("a").unwrap(),
            Some(7),
            "the copy keeps rows and the model tag"
        );
        let s = VectorStore::open(tmp.path(), "m2", 8).unwrap();
        assert!(s.is_empty().unwrap(), "another model's vectors are stale");
    }
}
