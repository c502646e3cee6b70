//! Which write log a data directory follows, so a replica never applies one log on top
//! of state derived from another.
//!
//! `<data_dir>/LOG.json` names the log: the local file (standalone) or one JetStream
//! stream, by name and the id Needle writes into the stream's description when it creates
//! it (a stream deleted and created again under the same name is another log: its sequence
//! numbers mean other entries). It is written the first time a directory is opened and by
//! a restore (from the snapshot's manifest), and checked at every start:
//! - a replica refuses a directory bound to another stream, or to the local log;
//! - standalone Needle takes over a directory that followed a stream (running a copy of a
//!   replica alone is a fork, and says so), after which no cluster accepts it again.
//!
//! Why an id and not the stream's creation time alone: NATS 2.9 reports the time each
//! server created its own copy of the stream, so the time changes with the stream's
//! leader (tens of milliseconds apart, or more for a server that was down at creation).
//! Streams without an id (made before ids, or by hand) are told apart by creation time
//! within [`LEGACY_CREATED_SKEW`].

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How far apart two servers may report a stream's creation time and still mean the same
/// stream, for streams without an id.
pub const LEGACY_CREATED_SKEW: Duration = Duration::from_secs(60);

/// The file naming the log of a data directory.
pub const FILE: &str = "LOG.json";

/// A write log's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "log", rename_all = "snake_case")]
pub enum LogIdentity {
    /// Standalone: the local fsync'd file.
    Local,
    /// A NATS JetStream stream.
    Jetstream {
        /// The stream's name (`cluster.stream`).
        stream: String,
        /// When the stream was created, epoch nanoseconds, as the server asked reported
        /// it (informative: servers differ).
        created_ns: i64,
        /// The id in the stream's description (see [`crate::cluster::jetstream`]); absent
        /// for streams made without one, and in files written before ids.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
}

impl LogIdentity {
    /// Do `self` and `other` name the same log? Streams: the same name and id; when either
    /// lacks an id, creation times within [`LEGACY_CREATED_SKEW`].
    pub fn same_as(&self, other: &LogIdentity) -> bool {
        match (self, other) {
            (LogIdentity::Local, LogIdentity::Local) => true,
            (
                LogIdentity::Jetstream {
                    stream: a,
                    created_ns: ca,
                    id: ia,
                },
                LogIdentity::Jetstream {
                    stream: b,
                    created_ns: cb,
                    id: ib,
                },
            ) => {
                a == b
                    && match (ia, ib) {
                        (Some(x), Some(y)) => x == y,
                        _ => ca.abs_diff(*cb) <= LEGACY_CREATED_SKEW.as_nanos() as u64,
                    }
            }
            _ => false,
        }
    }

    /// Does `self` lack the id `newer` has (a binding to upgrade)?
    fn lacks_id_of(&self, newer: &LogIdentity) -> bool {
        matches!(
            (self, newer),
            (
                LogIdentity::Jetstream { id: None, .. },
                LogIdentity::Jetstream { id: Some(_), .. }
            )
        )
    }
}

impl std::fmt::Display for LogIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogIdentity::Local => write!(f, "the local (standalone) write log"),
            LogIdentity::Jetstream {
                stream,
                created_ns,
                id: Some(id),
            } => write!(f, "JetStream stream `{stream}` (id {id}, created at {created_ns} ns)"),
            LogIdentity::Jetstream {
                stream,
                created_ns,
                id: None,
            } => write!(f, "JetStream stream `{stream}` created at {created_ns} ns"),
        }
    }
}

fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Store(needle_store::Error::Storage(format!("{}: {e}", path.display())))
}

/// The log `data_dir` follows, if it was ever opened by this version.
pub fn read(data_dir: &Path) -> Result<Option<LogIdentity>> {
    let p = path(data_dir);
    match fs_err::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            io(
                &p,
                format!("unreadable ({e}); it names the write log this directory follows"),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(&p, e)),
    }
}

/// Bind `data_dir` to `id` (durably: written aside, synced, renamed).
pub fn write(data_dir: &Path, id: &LogIdentity) -> Result<()> {
    let p = path(data_dir);
    let tmp = data_dir.join(format!("{FILE}.tmp"));
    let bytes = serde_json::to_vec_pretty(id).map_err(|e| io(&p, e))?;
    fs_err::write(&tmp, bytes).map_err(|e| io(&tmp, e))?;
    fs_err::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(&tmp, e))?;
    fs_err::rename(&tmp, &p).map_err(|e| io(&p, e))?;
    fs_err::File::open(data_dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io(data_dir, e))
}

/// May a replica following `log` use `data_dir`, bound to `found`? Unbound directories
/// (new, or written before the binding existed) may.
pub fn check(data_dir: &Path, found: Option<&LogIdentity>, log: &LogIdentity) -> Result<()> {
    match found {
        None => Ok(()),
        Some(found) if found.same_as(log) => Ok(()),
        Some(found) => Err(Error::WrongLog(format!(
            "the data directory {} holds state derived from {found}, not from {log}, which this replica follows \
             (see {}); move it aside or empty it: an empty directory starts from the newest snapshot of this log \
             (or replays it from the start)",
            data_dir.display(),
            path(data_dir).display()
        ))),
    }
}

/// A replica following `log` starts applying: bind an unbound `data_dir` to it, check a
/// bound one (see [`check`]), and add the id of `log` to a binding written without one.
pub fn bind(data_dir: &Path, log: &LogIdentity) -> Result<()> {
    match read(data_dir)? {
        None => write(data_dir, log),
        Some(found) => {
            check(data_dir, Some(&found), log)?;
            if found.lacks_id_of(log) {
                write(data_dir, log)?;
            }
            Ok(())
        }
    }
}

/// Standalone start: bind an unbound directory to the local log; take over one that
/// followed a stream (a fork, logged).
pub fn adopt_local(data_dir: &Path) -> Result<()> {
    match read(data_dir)? {
        Some(LogIdentity::Local) => Ok(()),
        Some(other) => {
            tracing::warn!(
                data_dir = %data_dir.display(),
                was = %other,
                "running a replica's data directory standalone: it forks from that log and no cluster will accept it again"
            );
            write(data_dir, &LogIdentity::Local)
        }
        None => write(data_dir, &LogIdentity::Local),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream without an id, created `created_ns` after the epoch.
    fn stream(created_ns: i64) -> LogIdentity {
        LogIdentity::Jetstream {
            stream: "NEEDLE".into(),
            created_ns,
            id: None,
        }
    }

    fn with_id(created_ns: i64, id: &str) -> LogIdentity {
        LogIdentity::Jetstream {
            stream: "NEEDLE".into(),
            created_ns,
            id: Some(id.into()),
        }
    }

    const SECOND: i64 = 1_000_000_000;

    #[test]
    fn a_stream_with_an_id_is_the_same_log_whichever_server_reports_its_creation_time() {
        // NATS 2.9: each server reports when it created its copy of the stream.
        assert!(with_id(SECOND, "a").same_as(&with_id(SECOND + 33_000_000, "a")));
        assert!(with_id(SECOND, "a").same_as(&with_id(900 * SECOND, "a")));
        assert!(!with_id(SECOND, "a").same_as(&with_id(SECOND, "b")), "created again");
        let other_name = LogIdentity::Jetstream {
            stream: "OTHER".into(),
            created_ns: SECOND,
            id: Some("a".into()),
        };
        assert!(!with_id(SECOND, "a").same_as(&other_name));
        assert!(!with_id(SECOND, "a").same_as(&LogIdentity::Local));
        // Without an id on either side, creation times close enough.
        assert!(stream(SECOND).same_as(&stream(SECOND + 33_000_000)));
        assert!(stream(SECOND).same_as(&with_id(SECOND + 2 * SECOND, "a")));
        assert!(!stream(SECOND).same_as(&stream(SECOND + 61 * SECOND)));
    }

    #[test]
    fn binding_writes_once_refuses_another_log_and_adds_the_id_to_an_old_binding() {
        let d = tempfile::tempdir().unwrap();
        bind(d.path(), &stream(SECOND)).unwrap();
        assert_eq!(read(d.path()).unwrap(), Some(stream(SECOND)));
        // The stream's leader moved: another creation time, and now an id.
        bind(d.path(), &with_id(SECOND + 40_000_000, "a")).unwrap();
        assert_eq!(read(d.path()).unwrap(), Some(with_id(SECOND + 40_000_000, "a")));
        bind(d.path(), &with_id(SECOND, "a")).unwrap();
        let e = bind(d.path(), &with_id(SECOND, "b")).unwrap_err().to_string();
        assert!(e.contains("id a") && e.contains("id b"), "{e}");
        assert_eq!(read(d.path()).unwrap(), Some(with_id(SECOND + 40_000_000, "a")));
    }

    #[test]
    fn a_directory_is_bound_once_and_refused_to_another_log() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(read(d.path()).unwrap(), None);
        check(d.path(), None, &stream(1)).unwrap();
        write(d.path(), &stream(1)).unwrap();
        let found = read(d.path()).unwrap();
        assert_eq!(found, Some(stream(1)));
        check(d.path(), found.as_ref(), &stream(1)).unwrap();
        let later = 2 * LEGACY_CREATED_SKEW.as_nanos() as i64;
        let e = check(d.path(), found.as_ref(), &stream(later)).unwrap_err().to_string();
        assert!(
            e.contains("created at 1 ns") && e.contains(&format!("created at {later} ns")),
            "{e}"
        );
        let e = check(d.path(), Some(&LogIdentity::Local), &stream(1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("local (standalone)"), "{e}");
    }

    #[test]
    fn standalone_takes_over_a_replica_directory_and_clusters_then_refuse_it() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), &stream(7)).unwrap();
        adopt_local(d.path()).unwrap();
        let found = read(d.path()).unwrap();
        assert_eq!(found, Some(LogIdentity::Local));
        assert!(check(d.path(), found.as_ref(), &stream(7)).is_err());
    }

    #[test]
    fn the_file_is_plain_json() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), &stream(42)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&fs_err::read(d.path().join(FILE)).unwrap()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"log": "jetstream", "stream": "NEEDLE", "created_ns": 42})
        );
        fs_err::write(d.path().join(FILE), b"{").unwrap();
        assert!(read(d.path()).unwrap_err().to_string().contains("unreadable"));
    }
}
