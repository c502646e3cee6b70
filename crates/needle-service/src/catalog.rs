//! The catalog: validated writes through the log, reads and search from the engine.

use crate::applier::Op;
use crate::error::Result;
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
        let mut resp = self.engine.search(learned.as_ref().unwrap_or(req), taste.as_deref())?;
        self.log_search(req, &mut resp);
        Ok(resp)
    }

    /// Catalog counts.
    pub fn stats(&self) -> Result<CatalogStats> {
        Ok(self.engine.stats()?)
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
