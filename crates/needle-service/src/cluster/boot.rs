//! A replica's start, before and after its stores open (docs/cluster.md, "Starting a
//! replica"):
//! 1. connect to the log and, when it answers now, learn the stream's identity and bounds
//!    (a replica also starts while NATS is down: the follower checks the identity later);
//! 2. refuse a data directory bound to another log ([`identity`]);
//! 3. an empty data directory restores the newest snapshot of this log;
//! 4. once the stores are open: when the log no longer holds the entries after the
//!    replica's `applied_seq` (retention dropped them) and a snapshot covers the gap, the
//!    state is moved aside and that snapshot restored instead.

use crate::cluster::identity::{self, LogIdentity};
use crate::cluster::jetstream::{JetStreamLog, StreamState};
use crate::cluster::remote::{SharedDir, SnapshotRef};
use crate::error::{Error, Result};
use crate::snapshot::{self, Manifest};
use std::path::Path;

/// The entries of a data directory that hold derived state (moved aside as a whole).
/// Snapshots and shared models may live in the data directory too and stay.
const STATE: [&str; 10] = [
    "catalog.redb",
    "index",
    "events",
    "models",
    "log",
    identity::FILE,
    needle_store::revocations::FILE_NAME,
    needle_store::settings::FILE_NAME,
    needle_store::searchstats::FILE_NAME,
    // Left behind, it would be read in place of a snapshot's older JSON one.
    needle_store::searchstats::LEGACY_FILE_NAME,
];

/// Would a replica following `log` (or, unknown yet, a stream named `stream`) restore
/// a snapshot taken from `taken`? Snapshots written before directories were bound to a
/// log (no identity) are this cluster's.
fn same_log(taken: Option<&LogIdentity>, log: Option<&LogIdentity>, stream: &str) -> bool {
    match (taken, log) {
        (None, _) => true,
        (Some(t), Some(l)) => t.same_as(l),
        (Some(LogIdentity::Jetstream { stream: s, .. }), None) => s == stream,
        (Some(LogIdentity::Local), None) => false,
    }
}

/// The newest snapshot in `shared` of this log holding at least the entries up to
/// `min_applied`.
pub(crate) fn newest_snapshot(
    shared: &SharedDir,
    log: Option<&LogIdentity>,
    stream: &str,
    min_applied: u64,
) -> Result<Option<(SnapshotRef, Manifest)>> {
    Ok(shared
        .list_snapshots()?
        .into_iter()
        .find(|(_, m)| m.applied_seq >= min_applied && same_log(m.log.as_ref(), log, stream)))
}

/// Steps 1–3. Returns the stream's state when the log answered.
pub(crate) fn prepare(log: &JetStreamLog, dir: &Path, shared: &SharedDir) -> Result<Option<StreamState>> {
    let stream = match log.state() {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "the write log does not answer yet; starting without checking its identity now");
            None
        }
    };
    let id = stream.as_ref().map(|s| &s.identity);
    let empty = snapshot::is_empty_data_dir(dir);
    let found = identity::read(dir)?;
    if !empty {
        if found == Some(LogIdentity::Local) {
            return Err(Error::WrongLog(format!(
                "the data directory {} was written by standalone Needle; a replica derives its state from the \
                 cluster's log only: give it an empty data directory (it restores the newest snapshot) and load \
                 the catalog through the cluster's API",
                dir.display()
            )));
        }
        if let Some(id) = id {
            identity::check(dir, found.as_ref(), id)?;
        }
        return Ok(stream);
    }
    let _ = fs_err::remove_file(dir.join(identity::FILE));
    if let Some((snap, m)) = newest_snapshot(shared, id, log.stream_name(), 0)? {
        restore(shared, &snap, dir, &m, "empty data directory")?;
    }
    Ok(stream)
}

fn restore(shared: &SharedDir, snap: &SnapshotRef, dir: &Path, m: &Manifest, why: &str) -> Result<()> {
    let started = std::time::Instant::now();
    fs_err::create_dir_all(dir).map_err(|e| Error::Unavailable(format!("{}: {e}", dir.display())))?;
    shared.restore(snap, dir)?;
    tracing::info!(
        snapshot = %snap.display(),
        applied_seq = m.applied_seq,
        bytes = m.bytes(),
        seconds = started.elapsed().as_secs_f64(),
        "{why}: restored the newest snapshot"
    );
    Ok(())
}

/// Step 4's test: the snapshot to restore when the log dropped entries this replica
/// (at `applied`) still needs and a snapshot covers them; `None` when it is not behind.
/// Behind with no such snapshot, it starts as it is and reports `behind_log`.
pub(crate) fn behind(
    stream: &StreamState,
    applied: u64,
    shared: &SharedDir,
    name: &str,
) -> Result<Option<(SnapshotRef, Manifest)>> {
    if stream.first_seq <= applied + 1 || stream.last_seq < stream.first_seq {
        return Ok(None);
    }
    let found = newest_snapshot(shared, Some(&stream.identity), name, stream.first_seq - 1)?;
    if found.is_none() {
        tracing::error!(
            applied,
            first_seq = stream.first_seq,
            "the write log no longer holds the entries this replica needs, and no snapshot covers them: \
             take a snapshot on a replica that is caught up"
        );
    }
    Ok(found)
}

/// Step 4: move the state of `dir` (its stores closed) into `<dir>/.behind-<applied>`,
/// restore `snapshot`, then delete the old state; on a failed restore the old state is
/// put back.
pub(crate) fn replace_with(
    shared: &SharedDir,
    dir: &Path,
    applied: u64,
    snapshot: &(SnapshotRef, Manifest),
) -> Result<()> {
    let aside = dir.join(format!(".behind-{applied}"));
    let _ = fs_err::remove_dir_all(&aside);
    fs_err::create_dir_all(&aside).map_err(|e| Error::Unavailable(format!("{}: {e}", aside.display())))?;
    let moved: Vec<&str> = STATE.into_iter().filter(|n| dir.join(n).exists()).collect();
    for n in &moved {
        fs_err::rename(dir.join(n), aside.join(n))
            .map_err(|e| Error::Unavailable(format!("setting {n} aside: {e}")))?;
    }
    match restore(
        shared,
        &snapshot.0,
        dir,
        &snapshot.1,
        "behind the write log's retention",
    ) {
        Ok(()) => {
            if let Err(e) = fs_err::remove_dir_all(&aside) {
                tracing::warn!(error = %e, "cannot delete the state set aside");
            }
            Ok(())
        }
        Err(e) => {
            for n in &moved {
                let _ = fs_err::remove_dir_all(dir.join(n)).or_else(|_| fs_err::remove_file(dir.join(n)));
                let _ = fs_err::rename(aside.join(n), dir.join(n));
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream without an id; streams `n` apart were created 100·n s apart.
    fn js(n: i64) -> LogIdentity {
        LogIdentity::Jetstream {
            stream: "NEEDLE".into(),
            created_ns: n * 100_000_000_000,
            id: None,
        }
    }

    #[test]
    fn a_replica_restores_only_snapshots_of_its_own_log() {
        assert!(same_log(None, Some(&js(1)), "NEEDLE"), "taken before binding");
        assert!(same_log(Some(&js(1)), Some(&js(1)), "NEEDLE"));
        assert!(
            !same_log(Some(&js(1)), Some(&js(2)), "NEEDLE"),
            "the stream was created again"
        );
        assert!(!same_log(Some(&LogIdentity::Local), Some(&js(1)), "NEEDLE"));
        assert!(same_log(Some(&js(1)), None, "NEEDLE"), "log not answering: by name");
        assert!(!same_log(Some(&js(1)), None, "OTHER"));
        assert!(!same_log(Some(&LogIdentity::Local), None, "NEEDLE"));
    }

    fn local(root: &Path) -> SharedDir {
        SharedDir::Local {
            snapshots: root.join("snapshots"),
            models: root.join("models"),
        }
    }

    #[test]
    fn behind_only_when_retention_dropped_needed_entries() {
        let root = tempfile::tempdir().unwrap();
        let shared = local(root.path());
        let s = |first_seq, last_seq| StreamState {
            first_seq,
            last_seq,
            identity: js(1),
        };
        assert!(behind(&s(1, 100), 0, &shared, "NEEDLE").unwrap().is_none());
        assert!(behind(&s(51, 100), 50, &shared, "NEEDLE").unwrap().is_none());
        // An empty stream that once held entries: first = last + 1.
        assert!(behind(&s(101, 100), 40, &shared, "NEEDLE").unwrap().is_none());
        // Behind, but no snapshot covers the gap: starts as it is.
        assert!(behind(&s(60, 100), 50, &shared, "NEEDLE").unwrap().is_none());
    }

    #[test]
    fn a_failed_restore_puts_the_old_state_back() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("catalog.redb"), b"old").unwrap();
        fs_err::create_dir_all(dir.path().join("events")).unwrap();
        fs_err::write(dir.path().join("events/events.log"), b"old events").unwrap();
        fs_err::create_dir_all(dir.path().join("snapshots")).unwrap();
        let missing = (
            SnapshotRef::Dir(dir.path().join("snapshots/snapshot-000000000009-x")),
            Manifest {
                format: snapshot::FORMAT,
                applied_seq: 9,
                node_id: "x".into(),
                created_at_ms: 0,
                log: None,
                files: vec![],
            },
        );
        assert!(replace_with(&local(dir.path()), dir.path(), 3, &missing).is_err());
        assert_eq!(fs_err::read(dir.path().join("catalog.redb")).unwrap(), b"old");
        assert_eq!(
            fs_err::read(dir.path().join("events/events.log")).unwrap(),
            b"old events"
        );
        assert!(dir.path().join("snapshots").is_dir(), "snapshots are not state");
    }
}
