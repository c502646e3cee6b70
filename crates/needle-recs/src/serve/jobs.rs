//! Training jobs: one runs at a time on its own thread; others wait in a queue. Status,
//! progress and timings are kept in memory for `GET /v1/admin/jobs/{id}`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

use super::model::now_ms;
use super::{Recs, Source, TrainStats};
use crate::RecsError;

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// One training job as reported.
#[derive(Clone, Debug, Serialize)]
pub struct Job {
    pub job_id: String,
    pub kind: &'static str,
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
}

/// Jobs of one service. Finished jobs are kept (the newest 100).
#[derive(Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    jobs: BTreeMap<u64, Job>,
    queue: VecDeque<u64>,
    running: bool,
}

impl Jobs {
    /// A job by id.
    pub fn get(&self, id: &str) -> Option<Job> {
        let n: u64 = id.strip_prefix("train-")?.parse().ok()?;
        self.inner.lock().jobs.get(&n).cloned()
    }

    /// Every kept job, newest first.
    pub fn list(&self) -> Vec<Job> {
        self.inner.lock().jobs.values().rev().cloned().collect()
    }

    fn update(&self, n: u64, f: impl FnOnce(&mut Job)) {
        if let Some(j) = self.inner.lock().jobs.get_mut(&n) {
            f(j);
        }
    }
}

impl Recs {
    /// Queue a training job; it starts at once unless another is running. A job already
    /// queued (not yet started) is returned instead of queueing a second identical one.
    pub fn start_training(self: &Arc<Self>, source: Arc<dyn Source>) -> Result<Job, RecsError> {
        let mut inner = self.jobs.inner.lock();
        if let Some(&n) = inner.queue.back() {
            if let Some(j) = inner.jobs.get(&n) {
                return Ok(j.clone());
            }
        }
        inner.next += 1;
        let n = inner.next;
        let job = Job {
            job_id: format!("train-{n}"),
            kind: "train",
            status: JobStatus::Queued,
            progress: 0.0,
            queued_at_ms: now_ms(),
            started_at_ms: None,
            finished_at_ms: None,
            model_version: None,
            stats: None,
            error: None,
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
        if !inner.running {
            inner.running = true;
            drop(inner);
            let me = Arc::clone(self);
            std::thread::Builder::new()
                .name("needle-train".into())
                .spawn(move || me.run_jobs(source))?;
        }
        Ok(job)
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
            tracing::info!(job = n, "training started");
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.train_now(source.as_ref(), &mut |p| self.jobs.update(n, |j| j.progress = p))
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
