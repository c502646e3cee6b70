//! Recommendations: the service is the recommendation layer's [`Source`] (listeners from
//! the event store, entities and references from the catalog), privately; callers see
//! only the service's methods.

use crate::error::{Error, Result};
use crate::Service;
use needle_core::profile::{Profile, ProfileConfig};
use needle_core::validate::check_id;
use needle_core::{Entity, EntityType};
use needle_recs::serve::quality::{QualityReport, QualityRequest};
use needle_recs::serve::{Job, JobStatus, RecRequest, Recommendations, SeedRequest, Source, TextMatches, TrainStats};
use needle_recs::RecsError;
use needle_search::{Engine, SearchRequest};
use needle_store::EventStore;
use std::sync::Arc;

/// The lease one replica holds while it trains.
const TRAIN_LEASE: &str = "train";

/// The catalog and the event store as the recommendation layer's data source.
#[derive(Clone)]
pub(crate) struct ServiceSource {
    pub engine: Arc<Engine>,
    pub events: Arc<EventStore>,
}

fn source_error(e: needle_search::Error) -> RecsError {
    RecsError::Source(e.to_string())
}

impl Source for ServiceSource {
    fn for_each_listener(&self, f: &mut dyn FnMut(&str, &Profile)) {
        self.events.for_each_profile(f)
    }

    fn for_each_entity(&self, f: &mut dyn FnMut(&Entity)) -> std::result::Result<(), RecsError> {
        self.engine.for_each_entity(|e| f(&e)).map_err(source_error)
    }

    fn profile(&self, user: &str) -> Option<Profile> {
        self.events.profile(user)
    }

    fn entities(&self, ids: &[&str]) -> std::result::Result<Vec<Option<Entity>>, RecsError> {
        self.engine.get_many(ids).map_err(source_error)
    }

    fn referrers(&self, id: &str) -> std::result::Result<Vec<String>, RecsError> {
        self.engine.referrers(id).map_err(source_error)
    }

    fn profile_config(&self) -> ProfileConfig {
        self.events.config()
    }

    /// The catalog's search, unpersonalized, for whole words: the query ends in a space,
    /// so its last word is not completed as a prefix.
    fn search_text(
        &self,
        query: &str,
        types: &[EntityType],
        limit: usize,
    ) -> std::result::Result<TextMatches, RecsError> {
        let req = SearchRequest {
            q: format!("{query} "),
            types: types.to_vec(),
            limit: Some(limit.clamp(1, 100)),
            ..Default::default()
        };
        match self.engine.search(&req, None) {
            Ok(found) => Ok(TextMatches {
                ids: found.hits.into_iter().map(|h| h.id).collect(),
                total: found.total,
            }),
            // A name that cannot be a query (longer than a query may be) finds nothing.
            Err(needle_search::Error::Validation(_)) => Ok(TextMatches::default()),
            Err(e) => Err(source_error(e)),
        }
    }
}

impl Service {
    fn source(&self) -> ServiceSource {
        ServiceSource {
            engine: self.engine.clone(),
            events: self.events.clone(),
        }
    }

    /// Recommendations of a surface for a listener.
    pub fn recommend(&self, user: &str, req: &RecRequest) -> Result<Recommendations> {
        check_id(user, "user_id")?;
        Ok(self.recs.recommend(&self.source(), user, req)?)
    }

    /// Beyond-accuracy figures of every listener surface over a sample of listeners.
    pub fn recommendation_quality(&self, req: &QualityRequest) -> Result<QualityReport> {
        Ok(self.recs.quality(&self.source(), req)?)
    }

    /// Items like `item_id`: by content for a spoken-word item few listeners played
    /// (semantic search on), else from the collaborative model.
    pub fn similar(&self, item_id: &str, req: &SeedRequest) -> Result<Recommendations> {
        check_id(item_id, "id")?;
        if let Some(by_content) = self.similar_by_content(item_id, req)? {
            return Ok(by_content);
        }
        Ok(self.recs.similar(&self.source(), item_id, req)?)
    }

    /// What goes well after `seeds`.
    pub fn continue_from(&self, seeds: &[String], req: &SeedRequest) -> Result<Recommendations> {
        Ok(self.recs.continue_from(&self.source(), seeds, req)?)
    }

    /// The next items of a DJ session.
    pub fn session_next(&self, sid: &str, limit: usize) -> Result<Recommendations> {
        Ok(self.recs.session_next(&self.source(), sid, limit)?)
    }

    /// Queue a training job (one runs at a time; in a cluster, on one replica at a time:
    /// the `train` lease, released when the job ends).
    pub fn start_training(&self) -> Result<Job> {
        self.start_training_with(false)
    }

    /// [`Service::start_training`]; `incremental` refits the served model's choice,
    /// warm-started from its vectors, instead of selecting again.
    pub fn start_training_with(&self, incremental: bool) -> Result<Job> {
        // A model file on a nearly full disk would fail late, or fill it.
        self.applier.check_disk()?;
        let Some(log) = self.applier.replicated_log() else {
            return Ok(self.recs.start_training_kind(Arc::new(self.source()), incremental)?);
        };
        match log.try_lease(TRAIN_LEASE, &self.node_id)? {
            None => {}
            // This replica holds it: its queue answers (the running or queued job).
            Some(holder) if holder == self.node_id => {
                return Ok(self.recs.start_training_kind(Arc::new(self.source()), incremental)?);
            }
            Some(holder) => {
                return Err(Error::LeaseHeld(format!(
                    "replica `{holder}` is training a model; one replica trains at a time (see its GET /v1/admin/jobs)"
                )))
            }
        }
        let job = match self.recs.start_training_kind(Arc::new(self.source()), incremental) {
            Ok(job) => job,
            Err(e) => {
                let _ = log.release(TRAIN_LEASE);
                return Err(e.into());
            }
        };
        let (log, recs, id) = (log.clone(), self.recs.clone(), job.job_id.clone());
        let watcher = std::thread::Builder::new()
            .name("needle-train-lease".into())
            .spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let done = recs
                    .jobs()
                    .get(&id)
                    .is_none_or(|j| matches!(j.status, JobStatus::Done | JobStatus::Failed | JobStatus::Interrupted));
                if done {
                    if let Err(e) = log.release(TRAIN_LEASE) {
                        tracing::warn!(error = %e, "cannot release the training lease (it expires by itself)");
                    }
                    return;
                }
            });
        if let Err(e) = watcher {
            tracing::warn!(error = %e, "cannot watch the training job; its lease expires by itself");
        }
        Ok(job)
    }

    /// Train a model on this thread and serve it.
    pub fn train_now(&self, progress: &mut dyn FnMut(f32)) -> Result<TrainStats> {
        Ok(self.recs.train_now(&self.source(), progress)?)
    }

    /// [`Service::train_now`], incrementally when asked (see
    /// [`needle_recs::serve::Recs::train_now_with`]).
    pub fn train_now_with(&self, incremental: bool, progress: &mut dyn FnMut(f32)) -> Result<TrainStats> {
        Ok(self.recs.train_now_with(&self.source(), incremental, progress)?)
    }

    /// The recommendation service (model status, jobs, session owners).
    pub fn recs(&self) -> &Arc<needle_recs::serve::Recs> {
        &self.recs
    }
}
