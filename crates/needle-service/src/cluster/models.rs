//! Trained models shared by the replicas: the replica that trained a model copies its
//! files to `<shared_dir>/models/<hash>/` (content-addressed by the model file's xxh3)
//! before publishing the activation entry; a replica applying that entry without the
//! same file fetches it there, so every replica serves the same model from the same
//! point of the log. (An `s3://` shared directory: see [`super::remote`].)

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Store(needle_store::Error::Storage(format!(
        "model files {}: {e}",
        path.display()
    )))
}

/// xxh3-128 of a file, hex.
pub(crate) fn hash_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = fs_err::File::open(path).map_err(|e| io(path, e))?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:032x}", h.digest128()))
}

/// The files of model `version` in `dir` (`model-NNNNNN.bin` and its companions).
pub(crate) fn files_of(dir: &Path, version: u64) -> Result<Vec<PathBuf>> {
    let prefix = format!("model-{version:06}");
    let mut out = Vec::new();
    for entry in fs_err::read_dir(dir).map_err(|e| io(dir, e))? {
        let p = entry.map_err(|e| io(dir, e))?.path();
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if n.starts_with(&prefix) && !n.ends_with(".tmp") && p.is_file() {
            out.push(p);
        }
    }
    Ok(out)
}

fn model_file(dir: &Path, version: u64) -> PathBuf {
    dir.join(format!("model-{version:06}.bin"))
}

/// Publish model `version` of the local `models` dir to `shared` (`<shared_dir>/models`);
/// its hash.
pub(crate) fn publish(models: &Path, shared: &Path, version: u64) -> Result<String> {
    let hash = hash_file(&model_file(models, version))?;
    let dest = shared.join(&hash);
    if dest.join(format!("model-{version:06}.bin")).is_file() {
        return Ok(hash);
    }
    let tmp = shared.join(format!("{hash}.partial-{}", std::process::id()));
    let _ = fs_err::remove_dir_all(&tmp);
    fs_err::create_dir_all(&tmp).map_err(|e| io(&tmp, e))?;
    for f in files_of(models, version)? {
        let Some(name) = f.file_name() else { continue };
        let to = tmp.join(name);
        fs_err::copy(&f, &to).map_err(|e| io(&f, e))?;
        fs_err::File::open(&to)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&to, e))?;
    }
    match fs_err::rename(&tmp, &dest) {
        Ok(()) => {}
        // Another replica published the same content meanwhile.
        Err(_) if dest.is_dir() => {
            let _ = fs_err::remove_dir_all(&tmp);
        }
        Err(e) => return Err(io(&dest, e)),
    }
    Ok(hash)
}

/// Make the local file of model `version` the one with `hash`, fetching it from `shared`
/// when it is missing or differs. True when it had to be fetched.
pub(crate) fn ensure_local(models: &Path, shared: &Path, version: u64, hash: &str) -> Result<bool> {
    let local = model_file(models, version);
    if local.is_file() && hash_file(&local)? == hash {
        return Ok(false);
    }
    let src = shared.join(hash);
    if !src.is_dir() {
        return Err(io(
            &src,
            "not found: the replica that trained this model did not share it",
        ));
    }
    fs_err::create_dir_all(models).map_err(|e| io(models, e))?;
    // The model file last, so a half-fetched model is never taken for a whole one.
    let mut files = files_of(&src, version)?;
    files.sort_by_key(|p| p.extension().is_some_and(|e| e == "bin"));
    for f in files {
        let Some(name) = f.file_name() else { continue };
        let tmp = models.join(format!("{}.fetch.tmp", name.to_string_lossy()));
        fs_err::copy(&f, &tmp).map_err(|e| io(&f, e))?;
        fs_err::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&tmp, e))?;
        fs_err::rename(&tmp, models.join(name)).map_err(|e| io(models, e))?;
    }
    if hash_file(&local)? != hash {
        return Err(io(&local, "fetched, but its hash differs: the shared copy is damaged"));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_published_model_is_fetched_by_hash_and_replaces_a_different_local_one() {
        let (a, b, shared) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        fs_err::write(a.path().join("model-000003.bin"), b"trained on a").unwrap();
        fs_err::write(a.path().join("model-000003.hnsw"), b"graph").unwrap();
        let hash = publish(a.path(), shared.path(), 3).unwrap();
        assert_eq!(publish(a.path(), shared.path(), 3).unwrap(), hash, "idempotent");
        // b trained its own version 3: replaced by the activated one.
        fs_err::write(b.path().join("model-000003.bin"), b"trained on b").unwrap();
        assert!(ensure_local(b.path(), shared.path(), 3, &hash).unwrap());
        assert_eq!(
            fs_err::read(b.path().join("model-000003.bin")).unwrap(),
            b"trained on a"
        );
        assert_eq!(fs_err::read(b.path().join("model-000003.hnsw")).unwrap(), b"graph");
        assert!(
            !ensure_local(b.path(), shared.path(), 3, &hash).unwrap(),
            "already there"
        );
        assert!(ensure_local(b.path(), shared.path(), 3, "00").is_err());
    }
}
