//! Where snapshots and shared models live (`cluster.shared_dir`): a directory (a path every
//! replica mounts, or the data directory's defaults), or an S3-compatible bucket given as
//! `s3://bucket/prefix` (credentials and endpoint from the usual `AWS_*` variables).
//!
//! The bucket holds the same layout as the directory: `<prefix>/snapshots/snapshot-…/…`
//! and `<prefix>/models/<xxh3>/…`. Object stores have no rename, so what a rename makes
//! whole on a file system is made whole by the order of the uploads: a snapshot's
//! `manifest.json` is uploaded after every file it lists (a snapshot without one is not
//! listed), a model's `.bin` after its companions. A snapshot is written locally first
//! (by the applier, as for a directory), uploaded, then deleted; a restore downloads it
//! into the data directory and checks it with [`snapshot::restore`] (sizes and hashes).
//! The S3 client is async: it runs on a small runtime of this module's own, and the
//! blocking calls here wait for it from any thread (an applier, a request's blocking
//! task, the CLI).

use crate::cluster::models;
use crate::error::{Error, Result};
use crate::snapshot::{self, Manifest};
use object_store::path::Path as Key;
use object_store::ObjectStore;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod s3;

/// `cluster.shared_dir`: where snapshots are written and models shared.
#[derive(Clone)]
pub enum SharedDir {
    /// Directories: `<shared_dir>/snapshots` and `<shared_dir>/models`, or without a
    /// shared directory `<data_dir>/snapshots` and `<data_dir>/shared-models`.
    Local {
        /// Snapshots directory.
        snapshots: PathBuf,
        /// Shared models directory.
        models: PathBuf,
    },
    /// An S3-compatible bucket (`s3://bucket/prefix`).
    S3(S3Dir),
}

/// A bucket and prefix, with the local directory downloads and uploads are staged in.
#[derive(Clone)]
pub struct S3Dir {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: Key,
    staging: PathBuf,
    /// One snapshot upload at a time (two at the same `applied_seq` share a local copy).
    uploading: Arc<parking_lot::Mutex<()>>,
}

/// One snapshot of a [`SharedDir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRef {
    /// A snapshot directory.
    Dir(PathBuf),
    /// A snapshot in a bucket: its `s3://` URL and its name (`snapshot-<seq>-<node>`).
    Object {
        /// `s3://bucket/prefix/snapshots/<name>`.
        url: String,
        /// `snapshot-<seq>-<node>`.
        name: String,
    },
}

impl SnapshotRef {
    /// Where it is, for messages.
    pub fn display(&self) -> String {
        match self {
            SnapshotRef::Dir(p) => p.display().to_string(),
            SnapshotRef::Object { url, .. } => url.clone(),
        }
    }
}

impl fmt::Debug for SharedDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SharedDir::Local { snapshots, models } => f
                .debug_struct("Local")
                .field("snapshots", snapshots)
                .field("models", models)
                .finish(),
            SharedDir::S3(s) => f.debug_tuple("S3").field(&s.url).finish(),
        }
    }
}

/// Where snapshots are (for messages): a directory, or `s3://bucket/prefix/snapshots`.
impl fmt::Display for SharedDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SharedDir::Local { snapshots, .. } => write!(f, "{}", snapshots.display()),
            SharedDir::S3(s) => write!(f, "{}/snapshots", s.url),
        }
    }
}

/// Is `shared_dir` a bucket URL rather than a path?
pub fn is_s3_url(shared_dir: &str) -> bool {
    shared_dir.trim().starts_with("s3://")
}

/// The bucket and prefix of `s3://bucket/prefix`, or why it is not one.
pub fn parse_s3_url(url: &str) -> std::result::Result<(String, String), String> {
    let rest = url
        .trim()
        .strip_prefix("s3://")
        .ok_or_else(|| format!("`{url}` is not an s3:// URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.'));
    if !valid {
        return Err(format!(
            "`{url}` has no valid bucket name (s3://bucket/prefix; a bucket is 3 to 63 lowercase letters, digits, `-` and `.`)"
        ));
    }
    let prefix = prefix.trim_end_matches('/');
    if !prefix.is_empty() && prefix.split('/').any(|p| p.is_empty() || p == "." || p == "..") {
        return Err(format!("`{url}`: the prefix has an empty, `.` or `..` part"));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

pub(crate) fn storage(what: impl fmt::Display, e: impl fmt::Display) -> Error {
    Error::Store(needle_store::Error::Storage(format!("{what}: {e}")))
}

impl SharedDir {
    /// The shared directory of `cfg` (`cluster.shared_dir`; a bucket's client reads its
    /// credentials and endpoint from the `AWS_*` environment variables).
    pub fn open(cfg: &crate::ServiceConfig) -> Result<SharedDir> {
        let shared = cfg.cluster.shared_dir.trim();
        if is_s3_url(shared) {
            return SharedDir::s3(shared, &cfg.engine.data_dir);
        }
        Ok(SharedDir::Local {
            snapshots: cfg.snapshots_dir(),
            models: cfg.shared_models_dir(),
        })
    }

    /// The bucket `url` (`s3://bucket/prefix`), staging in `data_dir`.
    pub fn s3(url: &str, data_dir: &Path) -> Result<SharedDir> {
        let (bucket, prefix) = parse_s3_url(url).map_err(|e| storage("cluster.shared_dir", e))?;
        let store = s3::build(&bucket).map_err(|e| storage(url, e))?;
        Ok(SharedDir::with_store(url, store, &prefix, data_dir))
    }

    /// A bucket reached through `store` (tests give an in-memory one).
    pub(crate) fn with_store(url: &str, store: Arc<dyn ObjectStore>, prefix: &str, data_dir: &Path) -> SharedDir {
        SharedDir::S3(S3Dir {
            url: url.trim().trim_end_matches('/').to_string(),
            store,
            prefix: Key::from(prefix),
            staging: data_dir.join(".shared-staging"),
            uploading: Arc::default(),
        })
    }

    /// Where the applier writes a new snapshot: the snapshots directory itself, or (for a
    /// bucket) a staging directory it is uploaded from.
    pub fn snapshot_root(&self) -> PathBuf {
        match self {
            SharedDir::Local { snapshots, .. } => snapshots.clone(),
            SharedDir::S3(s) => s.staging.join("snapshots"),
        }
    }

    /// Make the snapshot the applier wrote into [`SharedDir::snapshot_root`] available to
    /// every replica (a bucket: upload it, the manifest last, then delete the local copy).
    pub fn publish_snapshot(&self, m: &Manifest) -> Result<Manifest> {
        match self {
            SharedDir::Local { .. } => Ok(m.clone()),
            SharedDir::S3(s) => {
                let dir = snapshot::path_for(&self.snapshot_root(), m.applied_seq, &m.node_id);
                let _one = s.uploading.lock();
                let uploaded = s.upload_snapshot(&dir);
                let _ = fs_err::remove_dir_all(&dir);
                uploaded
            }
        }
    }

    /// Every whole snapshot, newest (highest `applied_seq`) first.
    pub fn list_snapshots(&self) -> Result<Vec<(SnapshotRef, Manifest)>> {
        match self {
            SharedDir::Local { snapshots, .. } => Ok(snapshot::list(snapshots)?
                .into_iter()
                .map(|(p, m)| (SnapshotRef::Dir(p), m))
                .collect()),
            SharedDir::S3(s) => s.list_snapshots(),
        }
    }

    /// A snapshot named by the user (`needle restore --from`): a directory, or this
    /// bucket's snapshot by name or `s3://` URL.
    pub fn snapshot_ref(&self, from: &str) -> Result<SnapshotRef> {
        match self {
            SharedDir::S3(s) if is_s3_url(from) || !Path::new(from).exists() => {
                let name = from.trim().trim_end_matches('/').rsplit('/').next().unwrap_or_default();
                if !name.starts_with("snapshot-") {
                    return Err(storage(from, "not a snapshot (snapshot-<seq>-<node>)"));
                }
                let url = s.snapshot_url(name);
                if is_s3_url(from) && from.trim().trim_end_matches('/') != url {
                    return Err(storage(from, format!("not a snapshot of {} (expected {url})", s.url)));
                }
                Ok(SnapshotRef::Object {
                    url,
                    name: name.to_string(),
                })
            }
            _ => Ok(SnapshotRef::Dir(PathBuf::from(from))),
        }
    }

    /// Restore `snap` into the empty `data_dir` (created if missing), checking every
    /// file's size and hash; its manifest. From a bucket the files are downloaded into
    /// the data directory's staging area first and deleted after.
    pub fn restore(&self, snap: &SnapshotRef, data_dir: &Path) -> Result<Manifest> {
        fs_err::create_dir_all(data_dir).map_err(|e| Error::Unavailable(format!("{}: {e}", data_dir.display())))?;
        match (self, snap) {
            (_, SnapshotRef::Dir(p)) => snapshot::restore(p, data_dir),
            (SharedDir::S3(s), SnapshotRef::Object { name, .. }) => {
                if !snapshot::is_empty_data_dir(data_dir) {
                    return Err(storage(
                        data_dir.display(),
                        "holds state already; restore into an empty data directory (move this one aside)",
                    ));
                }
                let tmp = data_dir.join(".shared-staging").join(format!("restore-{name}"));
                let restored = s
                    .download_snapshot(name, &tmp)
                    .and_then(|()| snapshot::restore(&tmp, data_dir));
                let _ = fs_err::remove_dir_all(&tmp);
                restored
            }
            (SharedDir::Local { .. }, SnapshotRef::Object { url, .. }) => Err(storage(
                url,
                "this snapshot is in a bucket, but cluster.shared_dir is a directory",
            )),
        }
    }

    /// Share model `version` of the local `models` directory (content-addressed by its
    /// model file's xxh3); that hash.
    pub fn publish_model(&self, models: &Path, version: u64) -> Result<String> {
        match self {
            SharedDir::Local { models: shared, .. } => models::publish(models, shared, version),
            SharedDir::S3(s) => s.publish_model(models, version),
        }
    }

    /// Make the local file of model `version` the one with `hash`, fetching it when it is
    /// missing or differs; true when it had to be fetched.
    pub fn ensure_model(&self, models: &Path, version: u64, hash: &str) -> Result<bool> {
        match self {
            SharedDir::Local { models: shared, .. } => models::ensure_local(models, shared, version, hash),
            SharedDir::S3(s) => s.ensure_model(models, version, hash),
        }
    }
}

impl S3Dir {
    fn key(&self, rel: &str) -> Key {
        rel.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone(), |k, p| k.join(p))
    }

    fn snapshot_url(&self, name: &str) -> String {
        format!("{}/snapshots/{name}", self.url)
    }

    /// A model's shared files: `<prefix>/models/<hash>/…`, downloaded into the local
    /// staging copy of that directory, then taken from there as from a shared directory.
    fn ensure_model(&self, models: &Path, version: u64, hash: &str) -> Result<bool> {
        let local = models.join(format!("model-{version:06}.bin"));
        if local.is_file() && models::hash_file(&local)? == hash {
            return Ok(false);
        }
        let root = self.staging.join("models");
        let dir = root.join(hash);
        let _ = fs_err::remove_dir_all(&dir);
        let fetched = self
            .download_model(hash, version, &dir)
            .and_then(|()| models::ensure_local(models, &root, version, hash));
        let _ = fs_err::remove_dir_all(&dir);
        fetched
    }
}

#[cfg(test)]
mod tests {
    use super::s3::run;
    use super::*;
    use crate::snapshot::SnapshotFile;
    use object_store::{ObjectStoreExt, PutPayload};

    #[test]
    fn s3_urls_name_a_bucket_and_a_clean_prefix() {
        assert_eq!(parse_s3_url("s3://needle").unwrap(), ("needle".into(), String::new()));
        assert_eq!(
            parse_s3_url(" s3://needle-b.1/prod/eu/ ").unwrap(),
            ("needle-b.1".into(), "prod/eu".into())
        );
        for bad in [
            "s3://",
            "s3://ab",
            "s3://UPPER/x",
            "s3://b_b/x",
            "s3://bucket//x",
            "s3://bkt/../x",
            "/mnt/x",
        ] {
            assert!(parse_s3_url(bad).is_err(), "{bad}");
        }
    }

    /// A snapshot written by hand into `root` (as the applier would), its manifest.
    fn fake_snapshot(root: &Path, seq: u64) -> Manifest {
        let dir = snapshot::path_for(root, seq, "n");
        fs_err::create_dir_all(dir.join("events")).unwrap();
        let mut files = Vec::new();
        for (path, body) in [
            ("catalog.redb", b"catalog".as_slice()),
            ("events/events.log", b"events"),
        ] {
            fs_err::write(dir.join(path), body).unwrap();
            files.push(SnapshotFile {
                path: path.into(),
                bytes: body.len() as u64,
                xxh3: models::hash_file(&dir.join(path)).unwrap(),
            });
        }
        let m = Manifest {
            format: snapshot::FORMAT,
            applied_seq: seq,
            node_id: "n".into(),
            created_at_ms: seq as i64,
            log: None,
            files,
        };
        fs_err::write(dir.join("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
        m
    }

    #[test]
    fn snapshots_upload_manifest_last_list_newest_first_and_restore() {
        let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let shared = SharedDir::with_store("s3://bkt/p", Arc::clone(&store), "p", a.path());
        assert!(shared.list_snapshots().unwrap().is_empty());
        let m1 = fake_snapshot(&shared.snapshot_root(), 1);
        assert_eq!(shared.publish_snapshot(&m1).unwrap(), m1);
        let m2 = fake_snapshot(&shared.snapshot_root(), 2);
        assert_eq!(shared.publish_snapshot(&m2).unwrap(), m2);
        assert!(
            !snapshot::path_for(&shared.snapshot_root(), 2, "n").exists(),
            "uploaded, then deleted"
        );
        let listed = shared.list_snapshots().unwrap();
        assert_eq!(
            listed.iter().map(|(_, m)| m.applied_seq).collect::<Vec<_>>(),
            [2, 1],
            "newest first"
        );
        let target = b.path().join("data");
        assert_eq!(shared.restore(&listed[0].0, &target).unwrap(), m2);
        assert_eq!(fs_err::read(target.join("events/events.log")).unwrap(), b"events");
        assert!(!target.join(".shared-staging/restore-snapshot-000000000002-n").exists());
        // A manifest that is not one is skipped, not fatal.
        let bad = Key::from("p/snapshots/snapshot-000000000003-n/manifest.json");
        run({
            let store = Arc::clone(&store);
            async move {
                store
                    .put(&bad, PutPayload::from_static(b"{"))
                    .await
                    .map_err(|e| storage("put", e))?;
                Ok(())
            }
        })
        .unwrap();
        assert_eq!(shared.list_snapshots().unwrap().len(), 2);
    }
}
