//! The object-store side of an `s3://` shared directory: the client, its runtime, and
//! uploads and downloads that stream files (multipart uploads, ranged reads) so a
//! snapshot of gigabytes never sits in memory.

use super::{storage, S3Dir};
use crate::cluster::models;
use crate::error::{Error, Result};
use crate::snapshot::{self, Manifest};
use futures_util::TryStreamExt;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Files up to this size are one PUT; larger ones a multipart upload of parts this size.
const PART: usize = 16 << 20;
/// Parts of one file uploaded at once.
const PARTS_IN_FLIGHT: usize = 4;
/// Downloads read this much per ranged GET (each well within the client's timeout).
const RANGE: u64 = 16 << 20;

/// The S3 client of `bucket`, configured from the `AWS_*` environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ALLOW_HTTP`, …).
pub(super) fn build(bucket: &str) -> std::result::Result<Arc<dyn ObjectStore>, object_store::Error> {
    // reqwest's rustls is built without a provider: give it ring, which the NATS client
    // uses too (deprecated by rustls 0.23.48 for lacking post-quantum key exchange; the
    // alternative, aws-lc-rs, is a second crypto stack and a C build).
    static PROVIDER: OnceLock<()> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()?;
    Ok(Arc::new(store))
}

/// Run `f` on this module's runtime and wait for it: callable from any thread, including
/// one inside another runtime's context (it never enters this runtime itself).
pub(super) fn run<T: Send + 'static>(f: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    static RT: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let rt = RT
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("needle-s3")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Unavailable(format!("cannot start the S3 runtime: {e}")))?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv()
        .map_err(|_| Error::Unavailable("an S3 transfer stopped unfinished".into()))?
}

fn is_not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

/// Upload the local file `path` to `key`: one PUT, or a multipart upload read in parts.
async fn upload_file(store: &dyn ObjectStore, path: &Path, key: &Key) -> Result<()> {
    let what = || format!("uploading {} to {key}", path.display());
    let mut file = tokio::fs::File::open(path).await.map_err(|e| storage(what(), e))?;
    let len = file.metadata().await.map_err(|e| storage(what(), e))?.len();
    if len <= PART as u64 {
        let mut buf = Vec::with_capacity(len as usize);
        file.read_to_end(&mut buf).await.map_err(|e| storage(what(), e))?;
        store
            .put(key, PutPayload::from(buf))
            .await
            .map_err(|e| storage(what(), e))?;
        return Ok(());
    }
    let upload = store.put_multipart(key).await.map_err(|e| storage(what(), e))?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
    let mut buf = vec![0u8; PART];
    loop {
        let n = match file.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = w.abort().await;
                return Err(storage(what(), e));
            }
        };
        if let Err(e) = w.wait_for_capacity(PARTS_IN_FLIGHT).await {
            let _ = w.abort().await;
            return Err(storage(what(), e));
        }
        w.write(&buf[..n]);
    }
    w.finish().await.map_err(|e| storage(what(), e))?;
    Ok(())
}

/// Download `key` (`bytes` long) into the new local file `path`, in ranged reads.
async fn download_file(store: &dyn ObjectStore, key: &Key, bytes: u64, path: &Path) -> Result<()> {
    let what = || format!("downloading {key} to {}", path.display());
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| storage(what(), e))?;
    }
    let size = store.head(key).await.map_err(|e| storage(what(), e))?.size;
    if size != bytes {
        return Err(storage(
            what(),
            format!("{size} bytes where the manifest says {bytes}: the shared copy is damaged"),
        ));
    }
    let mut file = tokio::fs::File::create(path).await.map_err(|e| storage(what(), e))?;
    let mut at = 0;
    while at < size {
        let end = (at + RANGE).min(size);
        let chunk = store.get_range(key, at..end).await.map_err(|e| storage(what(), e))?;
        file.write_all(&chunk).await.map_err(|e| storage(what(), e))?;
        at = end;
    }
    file.sync_all().await.map_err(|e| storage(what(), e))?;
    Ok(())
}

impl S3Dir {
    /// Upload the local snapshot `dir`: every file of its manifest, then the manifest; its
    /// manifest (a snapshot already in the bucket is left as it is: its own manifest).
    pub(super) fn upload_snapshot(&self, dir: &Path) -> Result<Manifest> {
        let m = snapshot::read_manifest(dir)?;
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let base = self.key(&format!("snapshots/{name}"));
        let (store, dir) = (Arc::clone(&self.store), dir.to_path_buf());
        let files = m.files.clone();
        let url = self.snapshot_url(&name);
        let url2 = url.clone();
        let there = run(async move {
            let manifest = base.clone().join("manifest.json");
            match store.get(&manifest).await {
                Ok(r) => return Ok(Some(r.bytes().await.map_err(|e| storage(&url, e))?)),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(storage(&url, e)),
            }
            for f in &files {
                let key = f.path.split('/').fold(base.clone(), |k, p| k.join(p));
                upload_file(store.as_ref(), &dir.join(&f.path), &key).await?;
            }
            upload_file(store.as_ref(), &dir.join("manifest.json"), &manifest).await?;
            Ok(None)
        })?;
        match there {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| storage(&url2, e)),
            None => Ok(m),
        }
    }

    /// The snapshots whose manifest is in the bucket, newest first.
    pub(super) fn list_snapshots(&self) -> Result<Vec<(super::SnapshotRef, Manifest)>> {
        let root = self.key("snapshots");
        let store = Arc::clone(&self.store);
        let url = format!("{}/snapshots", self.url);
        let found = run(async move {
            let listed = store
                .list_with_delimiter(Some(&root))
                .await
                .map_err(|e| storage(&url, e))?;
            let mut out = Vec::new();
            for dir in listed.common_prefixes {
                let Some(name) = dir.filename().map(str::to_string) else {
                    continue;
                };
                if !name.starts_with("snapshot-") {
                    continue;
                }
                match store.get(&dir.clone().join("manifest.json")).await {
                    Ok(r) => out.push((name, r.bytes().await.map_err(|e| storage(&url, e))?)),
                    // Not whole yet (being uploaded), or an upload that failed.
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => return Err(storage(&url, e)),
                }
            }
            Ok(out)
        })?;
        let mut out = Vec::new();
        for (name, bytes) in found {
            let url = self.snapshot_url(&name);
            match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(m) if m.format == snapshot::FORMAT => out.push((super::SnapshotRef::Object { url, name }, m)),
                Ok(m) => tracing::warn!(snapshot = %url, format = m.format, "skipping a snapshot of another format"),
                Err(e) => tracing::warn!(snapshot = %url, error = %e, "skipping an unreadable snapshot"),
            }
        }
        out.sort_by(|a, b| {
            b.1.applied_seq
                .cmp(&a.1.applied_seq)
                .then(b.1.created_at_ms.cmp(&a.1.created_at_ms))
        });
        Ok(out)
    }

    /// Download snapshot `name` into the new local directory `to` (the manifest last),
    /// checking each file's size; [`snapshot::restore`] checks the hashes.
    pub(super) fn download_snapshot(&self, name: &str, to: &Path) -> Result<()> {
        let _ = fs_err::remove_dir_all(to);
        let base = self.key(&format!("snapshots/{name}"));
        let (store, to) = (Arc::clone(&self.store), to.to_path_buf());
        let url = self.snapshot_url(name);
        run(async move {
            let manifest = base.clone().join("manifest.json");
            let bytes = match store.get(&manifest).await {
                Ok(r) => r.bytes().await.map_err(|e| storage(&url, e))?,
                Err(e) if is_not_found(&e) => return Err(storage(&url, "no such snapshot (no manifest.json)")),
                Err(e) => return Err(storage(&url, e)),
            };
            let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| storage(&url, e))?;
            for f in &m.files {
                if f.path.split('/').any(|p| p.is_empty() || p == "." || p == "..") {
                    return Err(storage(&url, format!("bad path {} in the manifest", f.path)));
                }
                let key = f.path.split('/').fold(base.clone(), |k, p| k.join(p));
                download_file(store.as_ref(), &key, f.bytes, &to.join(&f.path)).await?;
            }
            tokio::fs::write(to.join("manifest.json"), &bytes)
                .await
                .map_err(|e| storage(&url, e))
        })
    }

    /// Upload model `version`'s files to `<prefix>/models/<hash>/`, the model file last;
    /// the hash.
    pub(super) fn publish_model(&self, models: &Path, version: u64) -> Result<String> {
        let bin = models.join(format!("model-{version:06}.bin"));
        let hash = models::hash_file(&bin)?;
        let base = self.key(&format!("models/{hash}"));
        let mut files = models::files_of(models, version)?;
        files.sort_by_key(|p| p.extension().is_some_and(|e| e == "bin"));
        let store = Arc::clone(&self.store);
        let url = format!("{}/models/{hash}", self.url);
        run(async move {
            let shared_bin = base.clone().join(format!("model-{version:06}.bin"));
            match store.head(&shared_bin).await {
                Ok(_) => return Ok(()),
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(storage(&url, e)),
            }
            for f in files {
                let Some(name) = f.file_name().map(|n| n.to_string_lossy().to_string()) else {
                    continue;
                };
                upload_file(store.as_ref(), &f, &base.clone().join(name)).await?;
            }
            Ok(())
        })?;
        Ok(hash)
    }

    /// Download the shared files of model `version` with `hash` into the new local
    /// directory `to` (no hash check here: the caller checks the model file).
    pub(super) fn download_model(&self, hash: &str, version: u64, to: &Path) -> Result<()> {
        let base = self.key(&format!("models/{hash}"));
        let (store, to) = (Arc::clone(&self.store), to.to_path_buf());
        let url = format!("{}/models/{hash}", self.url);
        let prefix = format!("model-{version:06}");
        run(async move {
            let objects: Vec<_> = store
                .list(Some(&base))
                .try_collect()
                .await
                .map_err(|e| storage(&url, e))?;
            let bin = format!("{prefix}.bin");
            if !objects.iter().any(|o| o.location.filename() == Some(bin.as_str())) {
                return Err(storage(
                    &url,
                    "not found: the replica that trained this model did not share it",
                ));
            }
            for o in objects {
                let Some(name) = o.location.filename().map(str::to_string) else {
                    continue;
                };
                if name.starts_with(&prefix) {
                    download_file(store.as_ref(), &o.location, o.size, &to.join(&name)).await?;
                }
            }
            Ok(())
        })
    }
}
