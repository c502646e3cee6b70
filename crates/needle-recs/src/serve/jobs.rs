//! Training jobs: one runs at a time on its own thread; others wait in a queue. Status,
//! progress and timings are kept in memory for `GET /v1/admin/jobs/{id}` and, when the
//! service hands a [`JobBoard`], published there so any replica of a cluster answers them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::model::now_ms;
use super::{Recs, Source, TrainStats};
use crate::RecsError;

/// The kind of an incremental training job (a full one is `train`).
pub const INCREMENTAL: &str = "train_incremental";

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
    /// The server stopped (or crashed) before the job finished; reported after the restart
    /// by a board that outlives the process (the standalone server's local state).
    Interrupted,
}

/// One training job as reported.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub job_id: String,
    pub kind: String,
    pub status: JobStatus,
    /// `0.0 ..= 1.0`.
    pub progress: f32,
    pub queued_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at_ms: Option<i64>,
    /// The model version this job produced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_version: Option<u64>,
    /// Sizes and per-phase timings, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<TrainStats>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// While queued or running on a board shared by replicas: when the replica that owns
    /// it last said it is alive (every [`HEARTBEAT_MS`]). Another replica reports a job
    /// not heard of for [`STALE_MS`] as `interrupted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<i64>,
}

/// How often a replica republishes its queued and running jobs to the board.
pub const HEARTBEAT_MS: i64 = 10_000;

/// A queued or running job of another replica not republished for this long is reported
/// `interrupted`: its replica crashed, or lost the board (it shows `running` again once
/// it publishes again).
pub const STALE_MS: i64 = 6 * HEARTBEAT_MS;

impl Job {
    /// This job as another replica reports it at `now`: a queued or running job whose owner
    /// has not republished it for [`STALE_MS`] is `interrupted`.
    fn seen_from_elsewhere(mut self, now: i64) -> Job {
        let active = matches!(self.status, JobStatus::Queued | JobStatus::Running);
        let heard = self.heartbeat_ms.or(self.started_at_ms).unwrap_or(self.queued_at_ms);
        if active && now - heard > STALE_MS {
            self.error = Some(format!(
                "the replica running this job stopped publishing it {} s ago (it crashed or lost the shared state); start a new job",
                (now - heard) / 1000
            ));
            self.status = JobStatus::Interrupted;
        }
        self
    }
}

/// Where jobs are published for every replica: state that may be lost (a lost job
/// answers `job_not_found`). Errors mean the board cannot be reached; [`Jobs`] then falls
/// back to its own memory.
pub trait JobBoard: Send + Sync {
    /// A job number no other replica was given.
    fn next_number(&self) -> Result<u64, RecsError>;
    /// Publish `job` (replacing its previous state).
    fn publish(&self, job: &Job) -> Result<(), RecsError>;
    /// A published job by id.
    fn get(&self, id: &str) -> Result<Option<Job>, RecsError>;
    /// The newest published jobs (at most 100), newest first.
    fn list(&self) -> Result<Vec<Job>, RecsError>;
}

/// Jobs of one service. Finished jobs are kept (the newest 100).
#[derive(Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
    board: Option<Arc<dyn JobBoard>>,
    /// The last call to the board failed (its failures are logged once, not per call).
    board_down: AtomicBool,
    /// A heartbeat thread runs (one at a time, however quickly jobs follow each other).
    heartbeat_on: AtomicBool,
}

#[derive(Default)]
struct Inner {
    next: u64,
    jobs: BTreeMap<u64, Job>,
    queue: VecDeque<u64>,
    running: bool,
}

impl Jobs {
    pub(crate) fn set_board(&mut self, board: Arc<dyn JobBoard>) {
        self.board = Some(board);
    }

    /// A job by id: this replica's own, else the board's (any replica's). With the board
    /// unreachable, only this replica's jobs are found. May block on the board.
    pub fn get(&self, id: &str) -> Option<Job> {
        let local = id
            .strip_prefix("train-")
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(|n| self.inner.lock().jobs.get(&n).cloned());
        if local.is_some() {
            return local;
        }
        let board = self.board.as_ref()?;
        let now = now_ms();
        self.board_result(board.get(id))
            .flatten()
            .map(|j| j.seen_from_elsewhere(now))
    }

    /// Every kept job, newest first: the board's (every replica's) when there is one and
    /// it answers, else this replica's. May block on the board.
    pub fn list(&self) -> Vec<Job> {
        if let Some(jobs) = self.board.as_ref().and_then(|b| self.board_result(b.list())) {
            let now = now_ms();
            let inner = self.inner.lock();
            // This replica's own jobs as it knows them; the others' checked for staleness.
            return jobs
                .into_iter()
                .map(|j| {
                    let own = j
                        .job_id
                        .strip_prefix("train-")
                        .and_then(|n| n.parse::<u64>().ok())
                        .and_then(|n| inner.jobs.get(&n));
                    match own {
                        Some(mine) => mine.clone(),
                        None => j.seen_from_elsewhere(now),
                    }
                })
                .collect();
        }
        self.inner.lock().jobs.values().rev().cloned().collect()
    }

    fn update(&self, n: u64, f: impl FnOnce(&mut Job)) {
        let job = self.inner.lock().jobs.get_mut(&n).map(|j| {
            f(j);
            j.clone()
        });
        if let Some(job) = job {
            self.publish(&job);
        }
    }

    fn publish(&self, job: &Job) {
        if let Some(board) = &self.board {
            let mut job = job.clone();
            if matches!(job.status, JobStatus::Queued | JobStatus::Running) {
                job.heartbeat_ms = Some(now_ms());
            }
            self.board_result(board.publish(&job));
        }
    }

    /// Republish every queued or running job of this replica (their heartbeat).
    fn heartbeat(&self) {
        let active: Vec<Job> = self
            .inner
            .lock()
            .jobs
            .values()
            .filter(|j| matches!(j.status, JobStatus::Queued | JobStatus::Running))
            .cloned()
            .collect();
        for job in &active {
            self.publish(job);
        }
    }

    /// A job number: the board's (unique across replicas), else this replica's next.
    fn next_number(&self, inner: &mut Inner) -> u64 {
        let shared = self.board.as_ref().and_then(|b| self.board_result(b.next_number()));
        // Without the board, the time in ms keeps numbers apart from the board's counter
        // and from other replicas' (both far smaller).
        let n = shared.unwrap_or_else(|| match self.board {
            Some(_) => (now_ms().max(0) as u64).max(inner.next + 1),
            None => inner.next + 1,
        });
        inner.next = inner.next.max(n);
        n
    }

    /// `Some` on success; a failure is logged when the board goes down and when it is back.
    fn board_result<T>(&self, r: Result<T, RecsError>) -> Option<T> {
        match r {
            Ok(v) => {
                if self.board_down.swap(false, Ordering::AcqRel) {
                    tracing::info!("job board reachable again");
                }
                Some(v)
            }
            Err(e) => {
                if !self.board_down.swap(true, Ordering::AcqRel) {
                    tracing::warn!(error = %e, "job board unreachable; job status stays local until it is back");
                }
                None
            }
        }
    }
}

impl Recs {
    /// Queue a training job; it starts at once unless another is running. A job already
    /// queued (not yet started) is returned instead of queueing a second identical one.
    pub fn start_training(self: &Arc<Self>, source: Arc<dyn Source>) -> Result<Job, RecsError> {
        self.start_training_kind(source, false)
    }

    /// [`Recs::start_training`]; `incremental` queues a job of kind `train_incremental`
    /// ([`Recs::train_now_with`]).
    pub fn start_training_kind(self: &Arc<Self>, source: Arc<dyn Source>, incremental: bool) -> Result<Job, RecsError> {
        let kind = if incremental { INCREMENTAL } else { "train" };
        let mut inner = self.jobs.inner.lock();
        if let Some(&n) = inner.queue.back() {
            if let Some(j) = inner.jobs.get(&n).filter(|j| j.kind == kind) {
                return Ok(j.clone());
            }
        }
        let n = self.jobs.next_number(&mut inner);
        let job = Job {
            job_id: format!("train-{n}"),
            kind: kind.into(),
            status: JobStatus::Queued,
            progress: 0.0,
            queued_at_ms: now_ms(),
            started_at_ms: None,
            finished_at_ms: None,
            model_version: None,
            stats: None,
            error: None,
            heartbeat_ms: None,
        };
        inner.jobs.insert(n, job.clone());
        while inner.jobs.len() > 100 {
            let Some((&old, j)) = inner.jobs.iter().next() else {
                break;
            };
            if matches!(j.status, JobStatus::Queued | JobStatus::Running) {
                break;
            }
            inner.jobs.remove(&old);
        }
        inner.queue.push_back(n);
        // Published under the lock: a job is on the board before any of its updates.
        self.jobs.publish(&job);
        if !inner.running {
            inner.running = true;
            drop(inner);
            let me = Arc::clone(self);
            std::thread::Builder::new()
                .name("needle-train".into())
                .spawn(move || me.run_jobs(source))?;
            if self.jobs.board.is_some() && !self.jobs.heartbeat_on.swap(true, Ordering::AcqRel) {
                // Weak: the heartbeat must not keep a stopped service (and its state
                // files) open.
                let me = Arc::downgrade(self);
                std::thread::Builder::new()
                    .name("needle-train-heartbeat".into())
                    .spawn(move || Recs::heartbeat_while_running(&me))
                    .inspect_err(|_| self.jobs.heartbeat_on.store(false, Ordering::Release))?;
            }
        }
        Ok(job)
    }

    /// Every [`HEARTBEAT_MS`] while jobs run, republish them so other replicas know this
    /// one is alive; returns once the queue is empty.
    fn heartbeat_while_running(me: &std::sync::Weak<Recs>) {
        let tick = std::time::Duration::from_millis(500);
        let mut last = std::time::Instant::now();
        loop {
            std::thread::sleep(tick);
            let Some(recs) = me.upgrade() else { return };
            {
                // Checked and cleared under the lock `start_training_kind` sets `running`
                // under: a job queued now either sees the flag cleared (and starts a new
                // heartbeat) or is seen running here.
                let inner = recs.jobs.inner.lock();
                if !inner.running {
                    recs.jobs.heartbeat_on.store(false, Ordering::Release);
                    return;
                }
            }
            if last.elapsed().as_millis() as i64 >= HEARTBEAT_MS {
                recs.jobs.heartbeat();
                last = std::time::Instant::now();
            }
        }
    }

    fn run_jobs(&self, source: Arc<dyn Source>) {
        loop {
            let n = {
                let mut inner = self.jobs.inner.lock();
                match inner.queue.pop_front() {
                    Some(n) => n,
                    None => {
                        inner.running = false;
                        return;
                    }
                }
            };
            self.jobs.update(n, |j| {
                j.status = JobStatus::Running;
                j.started_at_ms = Some(now_ms());
            });
            let incremental = self
                .jobs
                .inner
                .lock()
                .jobs
                .get(&n)
                .is_some_and(|j| j.kind == INCREMENTAL);
            tracing::info!(job = n, incremental, "training started");
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.train_now_with(source.as_ref(), incremental, &mut |p| {
                    self.jobs.update(n, |j| j.progress = p)
                })
            }));
            let version = self.model().map(|m| m.version);
            match result {
                Ok(Ok(stats)) => {
                    tracing::info!(job = n, version, train_ms = stats.train_ms, "training done");
                    self.jobs.update(n, |j| {
                        j.status = JobStatus::Done;
                        j.progress = 1.0;
                        j.model_version = version;
                        j.stats = Some(stats);
                        j.finished_at_ms = Some(now_ms());
                    })
                }
                Ok(Err(e)) => {
                    tracing::error!(job = n, error = %e, "training failed");
                    self.jobs.update(n, |j| {
                        j.status = JobStatus::Failed;
                        j.error = Some(e.to_string());
                        j.finished_at_ms = Some(now_ms());
                    })
                }
                Err(_) => {
                    tracing::error!(job = n, "training panicked");
                    self.jobs.update(n, |j| {
                        j.status = JobStatus::Failed;
                        j.error = Some("training panicked (a bug; see the server log)".into());
                        j.finished_at_ms = Some(now_ms());
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A board in memory that can be switched off, standing for another replica's view.
    #[derive(Default)]
    struct Board {
        jobs: Mutex<HashMap<String, Job>>,
        seq: Mutex<u64>,
        down: AtomicBool,
    }

    impl Board {
        fn up(&self) -> Result<(), RecsError> {
            match self.down.load(Ordering::Acquire) {
                true => Err(RecsError::SharedUnavailable("down".into())),
                false => Ok(()),
            }
        }
    }

    impl JobBoard for Board {
        fn next_number(&self) -> Result<u64, RecsError> {
            self.up()?;
            let mut seq = self.seq.lock();
            *seq += 1;
            Ok(*seq)
        }
        fn publish(&self, job: &Job) -> Result<(), RecsError> {
            self.up()?;
            self.jobs.lock().insert(job.job_id.clone(), job.clone());
            Ok(())
        }
        fn get(&self, id: &str) -> Result<Option<Job>, RecsError> {
            self.up()?;
            Ok(self.jobs.lock().get(id).cloned())
        }
        fn list(&self) -> Result<Vec<Job>, RecsError> {
            self.up()?;
            let mut v: Vec<Job> = self.jobs.lock().values().cloned().collect();
            v.sort_by_key(|j| std::cmp::Reverse(j.queued_at_ms));
            Ok(v)
        }
    }

    fn queue(jobs: &Jobs, queued_at_ms: i64) -> Job {
        let mut inner = jobs.inner.lock();
        let n = jobs.next_number(&mut inner);
        let job = Job {
            job_id: format!("train-{n}"),
            kind: "train".into(),
            status: JobStatus::Queued,
            progress: 0.0,
            queued_at_ms,
            started_at_ms: None,
            finished_at_ms: None,
            model_version: None,
            stats: None,
            error: None,
            heartbeat_ms: None,
        };
        inner.jobs.insert(n, job.clone());
        drop(inner);
        jobs.publish(&job);
        job
    }

    #[test]
    fn without_a_board_jobs_are_numbered_and_kept_locally() {
        let jobs = Jobs::default();
        assert_eq!(queue(&jobs, 1).job_id, "train-1");
        assert_eq!(queue(&jobs, 2).job_id, "train-2");
        jobs.update(2, |j| j.status = JobStatus::Done);
        assert_eq!(jobs.get("train-2").map(|j| j.status), Some(JobStatus::Done));
        assert!(jobs.get("train-3").is_none() && jobs.get("nope").is_none());
        let ids: Vec<String> = jobs.list().into_iter().map(|j| j.job_id).collect();
        assert_eq!(ids, ["train-2", "train-1"]);
    }

    #[test]
    fn with_a_board_every_change_is_published_and_other_replicas_jobs_are_found() {
        let board = Arc::new(Board::default());
        let (mut a, mut b) = (Jobs::default(), Jobs::default());
        a.set_board(board.clone());
        b.set_board(board.clone());
        let first = queue(&a, 1);
        let second = queue(&b, 2);
        assert_eq!((first.job_id.as_str(), second.job_id.as_str()), ("train-1", "train-2"));
        a.update(1, |j| j.progress = 0.5);
        assert_eq!(b.get("train-1").map(|j| j.progress), Some(0.5), "read from the board");
        let ids: Vec<String> = a.list().into_iter().map(|j| j.job_id).collect();
        assert_eq!(ids, ["train-2", "train-1"], "both replicas' jobs, newest first");
    }

    #[test]
    fn with_the_board_down_jobs_fall_back_to_local_and_recover() {
        let board = Arc::new(Board::default());
        let mut a = Jobs::default();
        a.set_board(board.clone());
        queue(&a, 1);
        board.down.store(true, Ordering::Release);
        let offline = queue(&a, 2);
        let n: u64 = offline.job_id.strip_prefix("train-").unwrap().parse().unwrap();
        assert!(
            n > 1_000_000_000_000,
            "a time-based number, apart from the board's: {n}"
        );
        assert!(a.get(&offline.job_id).is_some(), "this replica still knows its job");
        assert_eq!(a.list().len(), 2, "the local list");
        assert!(a.get("train-77").is_none());
        board.down.store(false, Ordering::Release);
        a.update(n, |j| j.status = JobStatus::Done);
        assert_eq!(
            board.get(&offline.job_id).unwrap().map(|j| j.status),
            Some(JobStatus::Done),
            "published with its next change"
        );
        assert_eq!(queue(&a, 3).job_id, "train-2", "the board's counter again");
    }

    #[test]
    fn a_job_whose_replica_stopped_publishing_is_reported_interrupted_elsewhere() {
        let board = Arc::new(Board::default());
        let (mut a, mut b) = (Jobs::default(), Jobs::default());
        a.set_board(board.clone());
        b.set_board(board.clone());
        let job = queue(&a, now_ms());
        a.update(1, |j| j.status = JobStatus::Running);
        let published = board.get(&job.job_id).unwrap().unwrap();
        assert!(published.heartbeat_ms.is_some(), "an active job carries its heartbeat");
        assert_eq!(b.get(&job.job_id).map(|j| j.status), Some(JobStatus::Running), "fresh");
        // Replica a crashed: its last publication grows old.
        let mut old = published;
        old.heartbeat_ms = Some(now_ms() - STALE_MS - 1000);
        board.publish(&old).unwrap();
        let seen = b.get(&job.job_id).unwrap();
        assert_eq!(seen.status, JobStatus::Interrupted, "{seen:?}");
        assert!(
            seen.error.as_deref().unwrap().contains("stopped publishing"),
            "{seen:?}"
        );
        assert_eq!(b.list()[0].status, JobStatus::Interrupted);
        // Its own replica still knows it runs, and its next heartbeat makes it fresh again.
        assert_eq!(a.get(&job.job_id).map(|j| j.status), Some(JobStatus::Running));
        assert_eq!(a.list()[0].status, JobStatus::Running);
        a.heartbeat();
        assert_eq!(b.get(&job.job_id).map(|j| j.status), Some(JobStatus::Running));
        // A finished job never goes stale.
        a.update(1, |j| j.status = JobStatus::Done);
        let mut done = board.get(&job.job_id).unwrap().unwrap();
        done.heartbeat_ms = Some(0);
        board.publish(&done).unwrap();
        assert_eq!(b.get(&job.job_id).map(|j| j.status), Some(JobStatus::Done));
    }
}
