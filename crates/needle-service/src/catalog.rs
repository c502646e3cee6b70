//! The catalog: validated writes through the log, reads and search from the engine.

use crate::applier::Op;
use crate::error::{Error, Result};
use crate::{validate_batch, Service};
use needle_core::validate::{check_id, parse_record};
use needle_core::{Entity, Record};
use needle_search::sort::SortField;
use needle_search::{Batch, CatalogStats, Rejection, SearchRequest, SearchResponse, WriteReport};
use needle_store::Entry;

/// A validated catalog batch on its way (see [`Service::submit_values`]).
#[must_use = "a write is only known to be durable once waited for"]
pub struct PendingWrite {
    pending: Option<needle_search::PendingWrite>,
    report: WriteReport,
    seq: u64,
}

impl PendingWrite {
    /// Records of the batch that passed validation.
    pub fn accepted(&self) -> usize {
        self.report.accepted
    }

    /// Take the batch's rejections (known at submission) out of the report.
    pub fn take_rejected(&mut self) -> Vec<Rejection> {
        std::mem::take(&mut self.report.rejected)
    }

    /// Wait until the batch is applied; its report and write-log sequence number (0 for
    /// a bulk load, which bypasses the log, or when nothing was accepted).
    pub fn wait(self) -> Result<(WriteReport, u64)> {
        if let Some(p) = self.pending {
            p.wait()?;
        }
        Ok((self.report, self.seq))
    }
}

impl Service {
    /// Validate and durably store a batch of raw records; bad records are rejected one
    /// by one (their `index` is the position in `values`), good ones are kept.
    pub fn write_values(&self, values: Vec<serde_json::Value>) -> Result<WriteReport> {
        self.write_values_keyed(values, None)
    }

    /// [`Service::write_values`] with the caller's idempotency key: in a cluster, a
    /// request retried with the same key (within the log's duplicate window, 2 minutes)
    /// is one entry.
    pub fn write_values_keyed(&self, values: Vec<serde_json::Value>, key: Option<String>) -> Result<WriteReport> {
        let (mut report, seq) = self.submit_keyed(values, key)?.wait()?;
        report.seq = seq;
        Ok(report)
    }

    /// Validate `values` and write them. Through the log (durable and applied when this
    /// returns) unless the service was opened for a bulk load: then the batch goes
    /// straight to the catalog engine, queued behind the one it is storing, and is
    /// durable only after [`Service::shutdown`] (the loader acknowledges at the end).
    pub fn submit_values(&self, values: Vec<serde_json::Value>) -> Result<PendingWrite> {
        self.submit_keyed(values, None)
    }

    fn submit_keyed(&self, values: Vec<serde_json::Value>, key: Option<String>) -> Result<PendingWrite> {
        let (records, rejected) = validate_batch(&values, parse_record);
        drop(values);
        let report = WriteReport {
            accepted: records.len(),
            rejected,
            seq: 0,
        };
        if records.is_empty() {
            return Ok(PendingWrite {
                pending: None,
                report,
                seq: 0,
            });
        }
        if self.bulk {
            let pending = self.engine.submit(Batch::new(records), 0)?;
            return Ok(PendingWrite {
                pending: Some(pending),
                report,
                seq: 0,
            });
        }
        let analyses = Batch::analyses_of(&records);
        let (seq, _) = self.applier.write(Op {
            entry: Entry::Catalog { records },
            analyses: Some(analyses),
            key,
        })?;
        Ok(PendingWrite {
            pending: None,
            report,
            seq,
        })
    }

    /// Durably store records validated elsewhere; the entry's sequence number.
    pub fn write_records(&self, records: Vec<Record>) -> Result<u64> {
        let analyses = Batch::analyses_of(&records);
        let (seq, _) = self.applier.write(Op {
            entry: Entry::Catalog { records },
            analyses: Some(analyses),
            key: None,
        })?;
        Ok(seq)
    }

    /// Delete one entity; `Ok(false)` when it did not exist.
    pub fn delete(&self, id: &str) -> Result<bool> {
        check_id(id, "id")?;
        if self.engine.get(id)?.is_none() {
            return Ok(false);
        }
        self.write_records(vec![Record::Delete(id.to_string())])?;
        Ok(true)
    }

    /// Fetch one entity as stored, by its id or by one of its alias ids (an entity's own
    /// id wins over another's alias id); the entity's `id` field is the canonical id.
    /// Deleting goes by the canonical id only.
    pub fn get(&self, id: &str) -> Result<Option<Entity>> {
        check_id(id, "id")?;
        Ok(self.engine.get_canonical(id)?)
    }

    /// Run a search, personalized when `user_id` names a listener with history and the
    /// hits are in relevance order (browsing and `sort=` by a field are not personalized,
    /// so the taste is not derived for them).
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResponse> {
        let taste = match req.user_id.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => {
                needle_core::validate::param_id("user_id", u)?;
                if by_relevance(req) {
                    self.taste(u)?
                } else {
                    None
                }
            }
            None => None,
        };
        let learned = self.with_clicks(req);
        let base = learned.as_ref().unwrap_or(req);
        let mut resp = match self.semantic_arm(req)? {
            Some(sem) => self.hybrid_search(base, taste.as_deref(), sem)?,
            None => self.engine.search(base, taste.as_deref())?,
        };
        self.log_search(req, &mut resp);
        Ok(resp)
    }

    /// The semantic side when this search may use it: `None` for keyword mode, a sorted
    /// search, no words, or a page beyond the fused depth; an error when the request
    /// forces a semantic mode the service does not have.
    fn semantic_arm(&self, req: &SearchRequest) -> Result<Option<&crate::semantic::Semantic>> {
        use needle_search::SearchMode;
        let forced = matches!(req.mode, SearchMode::Hybrid | SearchMode::Semantic);
        let sem = match (&self.semantic, forced) {
            (_, false) if req.mode == SearchMode::Keyword => return Ok(None),
            (Ok(s), _) => s,
            (Err(why), true) => return Err(Error::SemanticUnavailable(why.clone())),
            (Err(_), false) => return Ok(None),
        };
        let window = req.offset.unwrap_or(0) + req.limit.unwrap_or(needle_search::DEFAULT_LIMIT);
        let usable = by_relevance(req) && window <= needle_search::MAX_LIMIT;
        if usable && !sem.is_ready() {
            // `auto` is keyword search meanwhile; a forced mode is not silently downgraded.
            return match forced {
                true => Err(Error::SemanticLoading(
                    "the semantic index is loading after a start; retry in a few seconds (or ask with mode=auto)"
                        .into(),
                )),
                false => Ok(None),
            };
        }
        Ok(usable.then_some(sem.as_ref()))
    }

    /// A search whose semantic arm may join: the keyword arm from offset 0, deep enough to
    /// fuse and with `explain` (the fusion reads the name bonus); then [`needle_search::hybrid`]
    /// decides, and fuses the nearest vectors' hits when the arm joins.
    fn hybrid_search(
        &self,
        req: &SearchRequest,
        taste: Option<&needle_search::taste::Taste>,
        sem: &crate::semantic::Semantic,
    ) -> Result<SearchResponse> {
        let started = std::time::Instant::now();
        let fusion = sem.config().fusion();
        let offset = req.offset.unwrap_or(0);
        let window = offset + req.limit.unwrap_or(needle_search::DEFAULT_LIMIT);
        // `auto` mode and a query that does not read as a description: the semantic arm
        // joins only if the keyword arm finds almost nothing, so run that search as usual.
        if req.mode == needle_search::SearchMode::Auto && !needle_search::hybrid::reads_as_description(&req.q) {
            let plain = self.engine.search(req, taste)?;
            if plain.total >= 3 {
                return Ok(plain);
            }
        }
        let mut kreq = req.clone();
        kreq.offset = Some(0);
        kreq.limit = Some(window.max(fusion.depth).min(needle_search::MAX_LIMIT));
        kreq.explain = true;
        let keyword = self.engine.search(&kreq, taste)?;
        let decided =
            needle_search::hybrid::decide(req.mode, req.semantic_ratio, &req.q, &req.types, &keyword, &fusion);
        let Some((ratio, trigger)) = decided else {
            return Ok(keyword_page(keyword, req, offset, window));
        };
        let qv = sem.embed_query(&req.q)?;
        let types: Vec<needle_core::EntityType> = if req.types.is_empty() {
            sem.config().types.clone()
        } else {
            req.types.clone()
        };
        let near = sem.nearest(&qv, fusion.depth, &types);
        let ids: Vec<String> = near.iter().map(|n| n.id.clone()).collect();
        let similarity: std::collections::HashMap<&str, f32> =
            near.iter().map(|n| (n.id.as_str(), n.similarity)).collect();
        let semantic: Vec<needle_search::SemanticHit> = self
            .engine
            .hits_for_ids(req, &ids)?
            .into_iter()
            .map(|hit| needle_search::SemanticHit {
                similarity: similarity.get(hit.id.as_str()).copied().unwrap_or(0.0),
                hit,
            })
            .collect();
        tracing::debug!(?trigger, ratio, candidates = semantic.len(), "semantic arm joined");
        let mut resp =
            needle_search::hybrid::fuse(keyword, semantic, &req.q, ratio, &fusion, offset, window, req.explain);
        resp.took_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
        Ok(resp)
    }

    /// The semantic side, when semantic search is on.
    pub fn semantic(&self) -> Option<&std::sync::Arc<crate::semantic::Semantic>> {
        self.semantic.as_ref().ok()
    }

    /// Where semantic search stands, or why it is off.
    pub fn semantic_status(&self) -> std::result::Result<needle_search::SemanticStats, String> {
        match &self.semantic {
            Ok(s) => Ok(s.status()),
            Err(why) => Err(why.clone()),
        }
    }

    /// Wait until the embedding worker has caught up (or `bound` passed): whether it has.
    /// True at once without semantic search.
    pub fn wait_semantic_idle(&self, bound: std::time::Duration) -> bool {
        match &self.semantic {
            Ok(s) => s.wait_idle(bound),
            Err(_) => true,
        }
    }

    /// Catalog counts.
    pub fn stats(&self) -> Result<CatalogStats> {
        let mut stats = self.engine.stats()?;
        stats.semantic = Some(match &self.semantic {
            Ok(s) => s.status(),
            Err(why) => needle_search::SemanticStats {
                reason: Some(why.clone()),
                ..Default::default()
            },
        });
        Ok(stats)
    }

    /// Make every acknowledged write searchable now.
    pub fn refresh(&self) -> Result<()> {
        Ok(self.engine.refresh()?)
    }

    /// Merge the index into as few segments as possible (after a bulk load).
    pub fn optimize(&self) -> Result<()> {
        Ok(self.engine.optimize()?)
    }

    /// The write-log sequence number of the last applied entry.
    pub fn applied_seq(&self) -> u64 {
        self.applier.applied_seq()
    }
}

/// The page `req` asked for out of a deeper keyword answer (from offset 0, with
/// `explain`): what the keyword search alone would have answered.
fn keyword_page(mut resp: SearchResponse, req: &SearchRequest, offset: usize, window: usize) -> SearchResponse {
    resp.hits.truncate(window);
    resp.hits.drain(..offset.min(resp.hits.len()));
    if !req.explain {
        for h in resp
            .hits
            .iter_mut()
            .chain(resp.top_result.iter_mut())
            .chain(resp.sections.iter_mut().flat_map(|s| s.hits.iter_mut()))
        {
            h.explain = None;
        }
    }
    resp
}

/// Whether a search ranks by relevance (the only order a taste changes): it has query
/// words and no `sort=` by a field (`needle_search`'s `search::run` makes the same choice).
fn by_relevance(req: &SearchRequest) -> bool {
    req.sort.is_none_or(|s| s.field == SortField::Relevance) && !needle_search::plan::query_words(&req.q).is_empty()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{Service, ServiceConfig};
    use needle_search::sort::Sort;
    use needle_search::EngineConfig;
    use serde_json::json;

    #[test]
    fn only_relevance_ordered_searches_derive_the_listeners_taste() {
        let dir = tempfile::tempdir().unwrap();
        let s = Service::open(ServiceConfig::new(EngineConfig::new(dir.path()))).unwrap();
        s.write_values(vec![json!({"id": "ar:1", "type": "artist", "name": "Heart"})])
            .unwrap();
        s.ingest_events(vec![
            json!({"user_id": "u", "type": "play", "item_id": "ar:1", "ts": "2026-11-20T12:00:00Z"}),
        ])
        .unwrap();
        s.refresh().unwrap();
        let cached = || s.tastes.holds("u");
        let req = |q: &str, sort: Option<Sort>| SearchRequest {
            q: q.into(),
            user_id: Some("u".into()),
            sort,
            ..Default::default()
        };
        s.search(&req("", None)).unwrap();
        s.search(&req("  ", None)).unwrap();
        s.search(&req("heart", Some(Sort::of(SortField::Name)))).unwrap();
        assert!(!cached(), "browsing and sort= by a field are not personalized");
        s.search(&req("heart", Some(Sort::of(SortField::Relevance)))).unwrap();
        assert!(cached(), "a relevance search is");
    }
}
