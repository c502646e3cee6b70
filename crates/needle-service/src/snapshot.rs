//! Snapshots: a consistent copy of a replica's derived state — catalog store, search
//! index, event file, the served model — at one `applied_seq`, with a manifest of every
//! file's size and hash. Written by the applier thread between two entries (nothing
//! changes while it copies), into `<name>.partial` then renamed, so a listed snapshot is
//! always whole. Restoring one into an empty data directory and replaying the log after
//! its `applied_seq` gives the same state as replaying the whole log.
//!
//! Layout: `<shared_dir>/snapshots/snapshot-<applied_seq, 12 digits>-<node>/`
//! with `catalog.redb`, `index/…`, `events/events.log`, `tokens.json` (revoked listener
//! tokens, when any), `settings.json` (synonyms and rules, when set), `searchstats.bin` (the
//! search statistics; `searchstats.json` in snapshots of earlier versions, read once on
//! restore), `vectors.redb` (semantic search's text vectors, when it is on: derived, but
//! an hour of embedding at catalog scale), `models/CURRENT` + the served model's files, `LOG.json` (the log the state follows: see [`crate::cluster::identity`])
//! and `manifest.json`.

use crate::applier::Targets;
use crate::cluster::identity::{self, LogIdentity};
use crate::cluster::models::hash_file;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Snapshot format version (in the manifest).
pub const FORMAT: u32 = 1;

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SnapshotFile {
    /// Path inside the snapshot.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// xxh3-128 of the content, hex.
    pub xxh3: String,
}

/// What a snapshot holds (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// Every write-log entry up to this one is in the snapshot, none after.
    pub applied_seq: u64,
    /// The replica that wrote it.
    pub node_id: String,
    /// When, epoch milliseconds.
    pub created_at_ms: i64,
    /// The write log the snapshot's state was derived from (`LOG.json`, also one of the
    /// files; absent in snapshots of data directories bound to no log yet). Restoring
    /// binds the data directory to it, and a replica restores only its own log's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogIdentity>,
    /// The files.
    pub files: Vec<SnapshotFile>,
}

impl Manifest {
    /// Total bytes.
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Store(needle_store::Error::Storage(format!(
        "snapshot {}: {e}",
        path.display()
    )))
}

fn list_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs_err::read_dir(dir).map_err(|e| io(dir, e))? {
        let p = entry.map_err(|e| io(dir, e))?.path();
        if p.is_dir() {
            list_files(root, &p, out)?;
        } else if p.file_name().is_some_and(|n| n != "manifest.json") {
            out.push(p.strip_prefix(root).map_err(|e| io(&p, e))?.to_path_buf());
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<()> {
    fs_err::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(dir, e))
}

/// Write a snapshot of `targets` at `seq` into the new directory `dir` (applier thread,
/// after a checkpoint).
pub(crate) fn write(targets: &Targets, dir: &Path, seq: u64, node_id: &str, now_ms: i64) -> Result<Manifest> {
    if dir.exists() {
        return Err(io(dir, "already exists"));
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.with_file_name(format!("{name}.partial"));
    let _ = fs_err::remove_dir_all(&tmp);
    fs_err::create_dir_all(tmp.join("events")).map_err(|e| io(&tmp, e))?;
    targets.engine.snapshot_to(&tmp)?;
    targets.events.copy_to(&tmp.join("events"))?;
    targets.revocations.copy_to(&tmp)?;
    targets.searchstats.copy_to(&tmp)?;
    targets.settings.copy_to(&tmp)?;
    // Vectors are derived, but an hour of embedding at catalog scale: a restored replica
    // with the same model checks them by text hash instead of recomputing them.
    if let Some(s) = &targets.semantic {
        s.copy_to(&tmp)?;
    }
    let log = identity::read(&targets.data_dir)?;
    if let Some(id) = &log {
        identity::write(&tmp, id)?;
    }
    let models = tmp.join("models");
    fs_err::create_dir_all(&models).map_err(|e| io(&models, e))?;
    if let Some(m) = targets.recs.model() {
        let src = targets.recs.dir();
        let prefix = format!("model-{:06}", m.version);
        for entry in fs_err::read_dir(src).map_err(|e| io(src, e))? {
            let p = entry.map_err(|e| io(src, e))?.path();
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if n.starts_with(&prefix) && !n.ends_with(".tmp") {
                fs_err::copy(&p, models.join(&n)).map_err(|e| io(&p, e))?;
            }
        }
        fs_err::write(models.join("CURRENT"), format!("{prefix}.bin")).map_err(|e| io(&models, e))?;
    }
    let mut files = Vec::new();
    list_files(&tmp, &tmp, &mut files)?;
    files.sort();
    let mut listed = Vec::with_capacity(files.len());
    for rel in files {
        let p = tmp.join(&rel);
        fs_err::File::open(&p)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&p, e))?;
        listed.push(SnapshotFile {
            path: rel.to_string_lossy().replace('\\', "/"),
            bytes: fs_err::metadata(&p).map_err(|e| io(&p, e))?.len(),
            xxh3: hash_file(&p)?,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        applied_seq: seq,
        node_id: node_id.to_string(),
        created_at_ms: now_ms,
        log,
        files: listed,
    };
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| io(&tmp, e))?;
    let mpath = tmp.join("manifest.json");
    fs_err::write(&mpath, bytes).map_err(|e| io(&mpath, e))?;
    fs_err::File::open(&mpath)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&mpath, e))?;
    for d in [tmp.join("index"), tmp.join("events"), models, tmp.clone()] {
        sync_dir(&d)?;
    }
    fs_err::rename(&tmp, dir).map_err(|e| io(dir, e))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(manifest)
}

/// Read and check a snapshot's manifest (not the file hashes: see [`restore`]).
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let p = dir.join("manifest.json");
    let bytes = fs_err::read(&p).map_err(|e| io(&p, e))?;
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| io(&p, e))?;
    if m.format != FORMAT {
        return Err(io(&p, format!("format {} is not {FORMAT}", m.format)));
    }
    Ok(m)
}

/// Every whole snapshot in `root` (`<shared_dir>/snapshots`), newest (highest
/// `applied_seq`) first.
pub fn list(root: &Path) -> Result<Vec<(PathBuf, Manifest)>> {
    let mut out = Vec::new();
    let Ok(entries) = fs_err::read_dir(root) else {
        return Ok(out);
    };
    for entry in entries {
        let p = entry.map_err(|e| io(root, e))?.path();
        let n = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if !n.starts_with("snapshot-") || n.ends_with(".partial") {
            continue;
        }
        match read_manifest(&p) {
            Ok(m) => out.push((p, m)),
            Err(e) => tracing::warn!(snapshot = %p.display(), error = %e, "skipping an unreadable snapshot"),
        }
    }
    out.sort_by(|a, b| {
        b.1.applied_seq
            .cmp(&a.1.applied_seq)
            .then(b.1.created_at_ms.cmp(&a.1.created_at_ms))
    });
    Ok(out)
}

/// Does `data_dir` hold no state yet (a new or wiped replica)?
pub fn is_empty_data_dir(data_dir: &Path) -> bool {
    !data_dir.join("catalog.redb").exists() && !data_dir.join("events").join("events.log").exists()
}

/// Copy snapshot `src` into the empty `data_dir`, checking every file's size and hash;
/// its manifest. Files land in `<data_dir>.restoring` first and are moved in at the end,
/// so a failed restore leaves the data directory empty.
pub fn restore(src: &Path, data_dir: &Path) -> Result<Manifest> {
    let m = read_manifest(src)?;
    if !is_empty_data_dir(data_dir) {
        return Err(io(
            data_dir,
            "holds state already; restore into an empty data directory (move this one aside)",
        ));
    }
    let staging = data_dir.join(".restoring");
    let _ = fs_err::remove_dir_all(&staging);
    for f in &m.files {
        if f.path.contains("..") || f.path.starts_with('/') {
            return Err(io(src, format!("bad path {} in the manifest", f.path)));
        }
        let from = src.join(&f.path);
        let to = staging.join(&f.path);
        if let Some(parent) = to.parent() {
            fs_err::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let bytes = fs_err::copy(&from, &to).map_err(|e| io(&from, e))?;
        if bytes != f.bytes || hash_file(&to)? != f.xxh3 {
            let _ = fs_err::remove_dir_all(&staging);
            return Err(io(
                &from,
                "differs from the manifest (size or hash): the snapshot is damaged",
            ));
        }
        fs_err::File::open(&to)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&to, e))?;
    }
    // Everything checked: move it in (the catalog store last, so a crash in between
    // still looks like an empty data directory and the restore is redone).
    let mut tops: Vec<PathBuf> = fs_err::read_dir(&staging)
        .map_err(|e| io(&staging, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    tops.sort_by_key(|p| p.file_name().is_some_and(|n| n == "catalog.redb"));
    for p in tops {
        let Some(name) = p.file_name() else { continue };
        let to = data_dir.join(name);
        if to.is_dir() {
            fs_err::remove_dir_all(&to).map_err(|e| io(&to, e))?;
        }
        fs_err::rename(&p, &to).map_err(|e| io(&to, e))?;
    }
    let _ = fs_err::remove_dir_all(&staging);
    sync_dir(data_dir)?;
    Ok(m)
}

/// The directory of a new snapshot at `seq` by `node` in `root`.
pub fn path_for(root: &Path, seq: u64, node: &str) -> PathBuf {
    root.join(format!("snapshot-{seq:012}-{node}"))
}
