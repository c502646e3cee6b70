//! Query suggestions, and the curation settings (synonyms, query rules): validated here,
//! set through the write log (so versioned, durable and replicated), read from the
//! settings store.

use crate::applier::{Op, Outcome};
use crate::error::Result;
use crate::Service;
use needle_core::curation::{parse_rules, parse_synonyms, Rule, SynonymGroup};
use needle_core::error::ValidationKind;
use needle_core::validate;
use needle_core::ValidationError;
use needle_search::suggest::{
    QuerySource, SuggestRequest, SuggestResponse, DEFAULT_SUGGEST_LIMIT, MAX_SUGGEST_LIMIT, MAX_SUGGEST_QUERY_BYTES,
};
use needle_store::{Entry, Versioned};
use std::sync::Arc;

impl Service {
    /// Suggestions for typed text `q`: entity-name completions (lifted toward the taste
    /// of `user_id` when it names a listener with history, only entities sold in `market`)
    /// and past queries of the [`QuerySource`] in use.
    pub fn suggest(
        &self,
        q: Option<&str>,
        user_id: Option<&str>,
        market: Option<&str>,
        limit: Option<usize>,
    ) -> Result<SuggestResponse> {
        let Some(q) = q else {
            return Err(ValidationError::new(
                ValidationKind::InvalidParameter,
                Some("q".into()),
                "parameter `q` is required",
            )
            .into());
        };
        validate::query_text(q, MAX_SUGGEST_QUERY_BYTES)?;
        let limit = validate::limit("limit", limit.unwrap_or(DEFAULT_SUGGEST_LIMIT), MAX_SUGGEST_LIMIT)?;
        let market = match market.filter(|m| !m.is_empty()) {
            Some(m) => Some(validate::market_param(m)?),
            None => None,
        };
        let taste = match user_id.filter(|u| !u.is_empty()) {
            Some(u) => {
                validate::param_id("user_id", u)?;
                self.taste(u)?
            }
            None => None,
        };
        let req = SuggestRequest {
            q: q.to_string(),
            market,
            limit,
        };
        let queries = self.queries.read().clone();
        Ok(self.engine.suggest(&req, taste.as_deref(), &*queries))
    }

    /// Use `source` for past-query suggestions from now on (search analytics provide it;
    /// until then no past query is suggested).
    pub fn set_query_source(&self, source: Arc<dyn QuerySource>) {
        *self.queries.write() = source;
    }

    /// Entities the suggester completes and its approximate heap bytes.
    pub fn suggest_stats(&self) -> (usize, usize) {
        self.engine.suggest_stats()
    }

    /// The synonym groups in force, with their version.
    pub fn synonyms(&self) -> Versioned<Vec<SynonymGroup>> {
        self.settings.synonyms()
    }

    /// The query rules in force, with their version.
    pub fn rules(&self) -> Versioned<Vec<Rule>> {
        self.settings.rules()
    }

    /// Validate `{"groups": [...]}` and replace the synonyms with it (a write-log entry);
    /// the new version, applied when this returns.
    pub fn set_synonyms(&self, body: &serde_json::Value) -> Result<Versioned<Vec<SynonymGroup>>> {
        let groups = parse_synonyms(body)?;
        let (seq, outcome) = self
            .applier
            .write(Op::new(Entry::SetSynonyms { groups: groups.clone() }))?;
        Ok(Versioned {
            version: version_of(outcome, || self.settings.synonyms().version),
            seq,
            value: groups,
        })
    }

    /// Validate `{"rules": [...]}` and replace the rules with it (a write-log entry); the
    /// new version, applied when this returns.
    pub fn set_rules(&self, body: &serde_json::Value) -> Result<Versioned<Vec<Rule>>> {
        let rules = parse_rules(body)?;
        let (seq, outcome) = self.applier.write(Op::new(Entry::SetRules { rules: rules.clone() }))?;
        Ok(Versioned {
            version: version_of(outcome, || self.settings.rules().version),
            seq,
            value: rules,
        })
    }
}

fn version_of(outcome: Outcome, current: impl FnOnce() -> u64) -> u64 {
    match outcome {
        Outcome::Settings(v) if v > 0 => v,
        _ => current(),
    }
}
