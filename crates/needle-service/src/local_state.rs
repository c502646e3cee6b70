//! DJ sessions and training jobs of a standalone server, kept on disk so a restart loses
//! neither (`<data_dir>/recs-state.redb`). A cluster keeps both on Redis instead
//! (`shared/sessions.rs`), where every replica reads them.
//!
//! One redb database, three tables:
//! - `sessions`: session id → its state and expiry (JSON), written (fsync'd) by every
//!   `start` and `next`, so a session continues after a restart or a `kill -9` exactly where
//!   its last answered `next` left it. Expired sessions are dropped when read, and swept
//!   every [`SWEEP_EVERY`] writes, so the table holds live sessions only.
//! - `jobs`: job number → the job as reported (JSON), the newest [`MAX_JOBS`] kept.
//! - `meta`: the last job number handed out, so numbers never repeat across restarts.
//!
//! Opening marks every job still `queued` or `running` as `interrupted`: the process that
//! ran it is gone, and the job is reported as such instead of being forgotten or shown as
//! running forever.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use needle_recs::serve::{Job, JobBoard, JobStatus, SessionState, SessionStore};
use needle_recs::RecsError;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

/// The file in a data directory.
pub const FILE_NAME: &str = "recs-state.redb";

/// Jobs kept (as many as a server keeps in memory).
pub const MAX_JOBS: usize = 100;

/// Expired sessions are swept once per this many session writes.
pub const SWEEP_EVERY: u64 = 1_000;

const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

#[derive(Serialize, Deserialize)]
struct Stored {
    state: SessionState,
    expires_ms: i64,
}

/// Sessions and jobs in `<data_dir>/recs-state.redb`.
pub struct LocalState {
    db: Database,
    writes: AtomicU64,
}

fn err(e: impl std::fmt::Display) -> RecsError {
    RecsError::Source(format!("recommendation state ({FILE_NAME}): {e}"))
}

impl LocalState {
    /// Open (or create) the database in `dir`, marking unfinished jobs interrupted at
    /// `now_ms`. Returns the state and how many jobs were marked.
    pub fn open(dir: &Path, now_ms: i64) -> Result<(LocalState, usize), RecsError> {
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        let mut marked = 0;
        {
            tx.open_table(SESSIONS).map_err(err)?;
            tx.open_table(META).map_err(err)?;
            let mut jobs = tx.open_table(JOBS).map_err(err)?;
            let mut fix = Vec::new();
            for row in jobs.iter().map_err(err)? {
                let (k, v) = row.map_err(err)?;
                let Ok(mut job) = serde_json::from_slice::<Job>(v.value()) else {
                    continue;
                };
                if matches!(job.status, JobStatus::Queued | JobStatus::Running) {
                    job.status = JobStatus::Interrupted;
                    job.finished_at_ms = Some(now_ms);
                    job.error = Some(
                        "interrupted: the server stopped before the job finished; start a new one with POST /v1/admin/train"
                            .into(),
                    );
                    fix.push((k.value(), job));
                }
            }
            for (k, job) in fix {
                let json = serde_json::to_vec(&job).map_err(err)?;
                jobs.insert(k, json.as_slice()).map_err(err)?;
                marked += 1;
            }
        }
        tx.commit().map_err(err)?;
        if marked > 0 {
            tracing::warn!(
                jobs = marked,
                "training jobs interrupted by the last stop are reported as interrupted"
            );
        }
        Ok((
            LocalState {
                db,
                writes: AtomicU64::new(0),
            },
            marked,
        ))
    }

    /// Sessions held (live or not yet swept).
    pub fn sessions(&self) -> Result<u64, RecsError> {
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(SESSIONS).map_err(err)?;
        t.len().map_err(err)
    }

    fn sweep(&self, now_ms: i64) -> Result<(), RecsError> {
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(SESSIONS).map_err(err)?;
            t.retain(|_, v| serde_json::from_slice::<Stored>(v).is_ok_and(|s| s.expires_ms > now_ms))
                .map_err(err)?;
        }
        tx.commit().map_err(err)
    }
}

impl SessionStore for LocalState {
    fn load(&self, sid: &str, now_ms: i64) -> Result<Option<SessionState>, RecsError> {
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(SESSIONS).map_err(err)?;
        let Some(v) = t.get(sid).map_err(err)? else {
            return Ok(None);
        };
        Ok(match serde_json::from_slice::<Stored>(v.value()) {
            Ok(s) if s.expires_ms > now_ms => Some(s.state),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(sid, error = %e, "undecodable session state; treated as expired");
                None
            }
        })
    }

    fn save(&self, state: &SessionState, idle_ms: i64) -> Result<(), RecsError> {
        let stored = Stored {
            expires_ms: state.last_ms.saturating_add(idle_ms),
            state: state.clone(),
        };
        let json = serde_json::to_vec(&stored).map_err(err)?;
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(SESSIONS).map_err(err)?;
            t.insert(state.info.session_id.as_str(), json.as_slice()).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        if self.writes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.sweep(state.last_ms)?;
        }
        Ok(())
    }
}

impl JobBoard for LocalState {
    fn next_number(&self) -> Result<u64, RecsError> {
        let tx = self.db.begin_write().map_err(err)?;
        let n = {
            let mut t = tx.open_table(META).map_err(err)?;
            let n = t.get("job_seq").map_err(err)?.map(|v| v.value()).unwrap_or(0) + 1;
            t.insert("job_seq", n).map_err(err)?;
            n
        };
        tx.commit().map_err(err)?;
        Ok(n)
    }

    fn publish(&self, job: &Job) -> Result<(), RecsError> {
        let Some(n) = job.job_id.strip_prefix("train-").and_then(|n| n.parse::<u64>().ok()) else {
            return Err(RecsError::InvalidInput(format!(
                "job id `{}` is not train-<n>",
                job.job_id
            )));
        };
        let json = serde_json::to_vec(job).map_err(err)?;
        let tx = self.db.begin_write().map_err(err)?;
        {
            let mut t = tx.open_table(JOBS).map_err(err)?;
            t.insert(n, json.as_slice()).map_err(err)?;
            let len = t.len().map_err(err)? as usize;
            if len > MAX_JOBS {
                let old: Vec<u64> = t
                    .iter()
                    .map_err(err)?
                    .take(len - MAX_JOBS)
                    .filter_map(|r| r.ok().map(|(k, _)| k.value()))
                    .collect();
                for k in old {
                    t.remove(k).map_err(err)?;
                }
            }
        }
        tx.commit().map_err(err)
    }

    fn get(&self, id: &str) -> Result<Option<Job>, RecsError> {
        let Some(n) = id.strip_prefix("train-").and_then(|n| n.parse::<u64>().ok()) else {
            return Ok(None);
        };
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(JOBS).map_err(err)?;
        let v = t.get(n).map_err(err)?;
        Ok(v.and_then(|v| serde_json::from_slice(v.value()).ok()))
    }

    fn list(&self) -> Result<Vec<Job>, RecsError> {
        let tx = self.db.begin_read().map_err(err)?;
        let t = tx.open_table(JOBS).map_err(err)?;
        let mut out = Vec::new();
        for row in t.iter().map_err(err)?.rev().take(MAX_JOBS) {
            let (_, v) = row.map_err(err)?;
            if let Ok(job) = serde_json::from_slice(v.value()) {
                out.push(job);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use needle_core::EntityType;
    use needle_recs::serve::SessionInfo;

    fn session(sid: &str, last_ms: i64) -> SessionState {
        let info = SessionInfo {
            session_id: sid.into(),
            user_id: "u1".into(),
            started_at_ms: last_ms,
            types: vec![EntityType::Track],
        };
        let mut s = SessionState::start(info, None, true, last_ms);
        s.served.insert("t1".into());
        s.turn = 1;
        s
    }

    fn job(n: u64, status: JobStatus) -> Job {
        Job {
            job_id: format!("train-{n}"),
            kind: "train".into(),
            status,
            progress: 0.5,
            queued_at_ms: 1,
            started_at_ms: Some(2),
            finished_at_ms: None,
            model_version: None,
            stats: None,
            error: None,
            heartbeat_ms: None,
        }
    }

    #[test]
    fn sessions_and_jobs_outlive_the_process_and_unfinished_jobs_say_so() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (st, marked) = LocalState::open(dir.path(), 0).unwrap();
            assert_eq!(marked, 0);
            st.save(&session("s-a", 1_000), 60_000).unwrap();
            assert_eq!(st.next_number().unwrap(), 1);
            assert_eq!(st.next_number().unwrap(), 2);
            st.publish(&job(1, JobStatus::Done)).unwrap();
            st.publish(&job(2, JobStatus::Running)).unwrap();
        }
        let (st, marked) = LocalState::open(dir.path(), 5_000).unwrap();
        assert_eq!(marked, 1);
        assert_eq!(st.load("s-a", 2_000).unwrap(), Some(session("s-a", 1_000)));
        assert_eq!(st.load("s-a", 61_000).unwrap(), None, "expired");
        assert_eq!(st.load("s-b", 2_000).unwrap(), None);
        assert_eq!(st.get("train-1").unwrap().unwrap().status, JobStatus::Done);
        let j = st.get("train-2").unwrap().unwrap();
        assert_eq!((j.status, j.finished_at_ms), (JobStatus::Interrupted, Some(5_000)));
        assert!(j.error.unwrap().contains("interrupted"));
        assert_eq!(st.next_number().unwrap(), 3, "numbers never repeat");
        let ids: Vec<String> = st.list().unwrap().into_iter().map(|j| j.job_id).collect();
        assert_eq!(ids, ["train-2", "train-1"], "newest first");
    }

    #[test]
    fn jobs_are_bounded_and_expired_sessions_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let (st, _) = LocalState::open(dir.path(), 0).unwrap();
        for n in 1..=(MAX_JOBS as u64 + 20) {
            st.publish(&job(n, JobStatus::Done)).unwrap();
        }
        let list = st.list().unwrap();
        assert_eq!(list.len(), MAX_JOBS);
        assert_eq!(list.last().unwrap().job_id, "train-21");
        assert!(st.get("train-20").unwrap().is_none());
        st.save(&session("old", 0), 10).unwrap();
        for i in 0..SWEEP_EVERY {
            st.save(&session(&format!("s{i}"), 1_000_000), 60_000).unwrap();
        }
        assert_eq!(st.sessions().unwrap(), SWEEP_EVERY, "the expired session was swept");
        assert!(st.load("old", 5).unwrap().is_none());
    }
}
